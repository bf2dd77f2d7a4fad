/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_abi.c -- programs built against an older libdaxo keep working with
 * this one (same soname, lib/libdaxo.sym): a call bound to
 * daxo_pool_info@DAXO_0.1, as every program built against daxo 0.1-0.3
 * has, fills the 0.1 struct daxo_info (a 4096-byte path and the layout's
 * offsets), and the functions renamed in 0.4 answer under their old names.
 *
 * The old struct is spelled out here as daxo.h 0.3 had it; the call is
 * bound to the old version with .symver, as the linker bound it then.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "daxo.h"

#include "test_common.h"

/* struct daxo_info of daxo 0.1 to 0.3 */
struct daxo_info_0_1 {
	char path[4096];
	char layout[DAXO_LAYOUT_MAX + 1];
	uint8_t uuid[16];
	uint32_t major, minor;
	uint64_t incompat, compat, ro_compat;
	uint64_t size;
	uint64_t heap_offset, heap_size, chunk_size;
	uint64_t lanes_offset;
	uint32_t nlanes, lane_size;
	int64_t ctime;
	int is_pmem, is_devdax, is_dax, map_sync, readonly, recovery_pending;
	uint64_t recovered;
	void *base;
};

int pool_info_0_1(daxo_pool *p, struct daxo_info_0_1 *out);
__asm__(".symver pool_info_0_1, daxo_pool_info@DAXO_0.1");

static uint64_t hdr_u64(const struct daxo_info *in, size_t off)
{
	uint64_t v;

	memcpy(&v, (const char *)in->base + off, sizeof(v));
	return v;
}

static void test_old_pool_info_fills_the_old_struct(void **st)
{
	const char *path = test_pool_path("abi");
	struct daxo_info_0_1 *old = malloc(sizeof(*old));
	struct daxo_info in;
	daxo_pool *p;

	(void)st;
	assert_non_null(old);
	memset(old, 0xa5, sizeof(*old));
	assert_int_equal(daxo_create(path, "abi", 16 << 20, 0600, &p), 0);
	assert_int_equal(daxo_pool_info(p, &in), 0);
	assert_int_equal(pool_info_0_1(p, old), 0);
	assert_string_equal(old->path, path);
	assert_string_equal(old->layout, "abi");
	assert_memory_equal(old->uuid, in.uuid, 16);
	assert_int_equal(old->major, in.major);
	assert_int_equal(old->minor, in.minor);
	assert_int_equal(old->incompat, in.incompat);
	assert_int_equal(old->size, 16 << 20);
	assert_int_equal(old->ctime, in.ctime);
	/* the layout, where doc/FORMAT.md puts it in the header */
	assert_int_equal(old->lanes_offset, hdr_u64(&in, 152));
	assert_int_equal(old->heap_offset, hdr_u64(&in, 168));
	assert_int_equal(old->heap_size, hdr_u64(&in, 176));
	assert_int_equal(old->chunk_size, hdr_u64(&in, 184));
	assert_int_equal(old->nlanes, (uint32_t)hdr_u64(&in, 160));
	assert_int_equal(old->lane_size, (uint32_t)(hdr_u64(&in, 160) >> 32));
	assert_int_equal(old->is_pmem, in.is_pmem);
	assert_int_equal(old->readonly, 0);
	assert_ptr_equal(old->base, in.base);
	assert_int_equal(pool_info_0_1(NULL, old), -EINVAL);
	assert_int_equal(daxo_close(p), 0);
	unlink(path);
	free(old);
}

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

static void test_old_names_still_answer(void **st)
{
	const char *path = test_pool_path("abi-names");
	struct daxo_stats a, b;
	daxo_pool *p;
	daxo_oid o;

	(void)st;
	assert_int_equal(daxo_create(path, "abi", 8 << 20, 0600, &p), 0);
	assert_int_equal(daxo_alloc(p, 100, 77, &o), 0);
	assert_int_equal(daxo_type_of(p, o), 77);
	assert_int_equal(daxo_type_of(p, o + 8), UINT32_MAX);
	assert_int_equal(daxo_stats_thread(&a), 0);
	assert_int_equal(daxo_thread_stats(&b), 0);
	assert_int_equal(a.fences, b.fences);
	assert_int_equal(daxo_stats_thread(NULL), -EINVAL);
	assert_int_equal(daxo_close(p), 0);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_old_pool_info_fills_the_old_struct),
		cmocka_unit_test(test_old_names_still_answer),
	};

	test_env();
	return cmocka_run_group_tests_name("abi", tests, NULL, NULL);
}
