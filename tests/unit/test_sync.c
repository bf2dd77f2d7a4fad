/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_sync.c -- the application's flushes and fences (lib/sync.c):
 * daxo_pool_persist, daxo_pool_flush and daxo_pool_drain flush exactly the
 * ranges inside the pool and refuse the others before anything is flushed
 * (a stray range neither faults nor puts the pool into its failed state),
 * read-only pools refuse them, the failed state shows in
 * daxo_pool_status() and in every write, and the void calls of DESIGN.md
 * behave the same without the result; a persist of bytes no record may
 * replay over is one fence.
 *
 * White box: it puts a pool into the failed state with persist_fail(), as a
 * failed write-back or detected corruption does. Run twice: on emulated
 * pmem (CLWB), and with argument "msync" on the msync backend (the meson
 * entry sets PMEM_IS_PMEM_FORCE=0, so a pool on tmpfs is not pmem).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "daxo.h"
#include "persist.h"

#include "test_common.h"

#define SIZE DAXO_MIN_POOL_SIZE

struct fix {
	const char *path;
	daxo_pool *p;
	char *scratch; /* 4 KiB of the pool no object uses */
};

static int setup(void **st)
{
	struct fix *f = calloc(1, sizeof(*f));
	daxo_oid o;

	f->path = test_pool_path("sync");
	assert_int_equal(daxo_create(f->path, "sync", SIZE, 0600, &f->p), 0);
	assert_int_equal(daxo_alloc(f->p, 4096, 1, &o), 0);
	f->scratch = daxo_direct(f->p, o);
	*st = f;
	return 0;
}

static int teardown(void **st)
{
	struct fix *f = *st;

	daxo_close(f->p);
	unlink(f->path);
	free(f);
	return 0;
}

static struct daxo_stats stats(daxo_pool *p)
{
	struct daxo_stats s;

	assert_int_equal(daxo_stats(p, &s), 0);
	return s;
}

/* the pool's flushes and fences since @a */
static void expect(daxo_pool *p, const struct daxo_stats *a, uint64_t fences,
		   uint64_t lines)
{
	struct daxo_stats b = stats(p);

	assert_int_equal(b.fences - a->fences, fences);
	assert_int_equal(b.flushes - a->flushes, lines);
}

/* ranges inside the pool are flushed; any other is refused whole */
static void test_ranges_outside_the_pool_flush_nothing(void **st)
{
	struct fix *f = *st;
	struct daxo_info in;
	struct daxo_stats a;
	char local[64];

	assert_int_equal(daxo_pool_info(f->p, &in), 0);
	char *base = in.base, *end = base + in.size;
	struct {
		const void *addr;
		size_t len;
	} bad[] = {
		{base - 1, 2},		{base - 64, 64},
		{end, 1},		{end - 1, 2},
		{end - 64, 65},		{local, sizeof(local)},
		{NULL, 64},		{(void *)8, 1},
		{f->scratch, SIZE},	{f->scratch, SIZE_MAX},
		{(void *)UINTPTR_MAX, 1},
	};

	memset(f->scratch, 1, 128);
	/* the allocation's commit made final first: one fence from here on */
	assert_int_equal(daxo_pool_drain(f->p), 0);
	a = stats(f->p);
	assert_int_equal(daxo_pool_persist(f->p, f->scratch, 128), 0);
	expect(f->p, &a, 1, 2);
	a = stats(f->p);
	assert_int_equal(daxo_pool_flush(f->p, f->scratch, 64), 0);
	assert_int_equal(daxo_pool_drain(f->p), 0);
	expect(f->p, &a, 1, 1);
	/* the pool's first and last bytes are inside */
	a = stats(f->p);
	assert_int_equal(daxo_pool_flush(f->p, end - 1, 1), 0);
	assert_int_equal(daxo_pool_flush(f->p, base, 1), 0);
	expect(f->p, &a, 0, 2);

	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		a = stats(f->p);
		assert_int_equal(daxo_pool_persist(f->p, bad[i].addr, bad[i].len),
				 -EINVAL);
		assert_non_null(strstr(daxo_errormsg(), "not inside"));
		assert_int_equal(daxo_pool_flush(f->p, bad[i].addr, bad[i].len),
				 -EINVAL);
		daxo_persist(f->p, bad[i].addr, bad[i].len);
		daxo_flush(f->p, bad[i].addr, bad[i].len);
		expect(f->p, &a, 0, 0);
		assert_int_equal(daxo_pool_status(f->p), 0);
	}
	/* nothing to flush is no error, wherever it points */
	assert_int_equal(daxo_pool_persist(f->p, NULL, 0), 0);
	assert_int_equal(daxo_pool_flush(f->p, local, 0), 0);
	/* and the pool is as usable as before */
	daxo_oid o;
	assert_int_equal(daxo_alloc(f->p, 64, 2, &o), 0);
	assert_int_equal(daxo_put(f->p, "k", 1, "v", 1), 0);
}

static void test_null_pool_is_einval(void **st)
{
	char x = 0;

	(void)st;
	assert_int_equal(daxo_pool_persist(NULL, &x, 1), -EINVAL);
	assert_int_equal(daxo_pool_flush(NULL, &x, 1), -EINVAL);
	assert_int_equal(daxo_pool_drain(NULL), -EINVAL);
	assert_int_equal(daxo_pool_status(NULL), -EINVAL);
	/* the void calls ignore it */
	daxo_persist(NULL, &x, 1);
	daxo_flush(NULL, &x, 1);
	daxo_drain(NULL);
}

/* a read-only pool is a private view: nothing in it can be made durable */
static void test_read_only_pool_refuses_flushes(void **st)
{
	struct fix *f = *st;
	struct daxo_info in;

	assert_int_equal(daxo_close(f->p), 0);
	assert_int_equal(daxo_open(f->path, "sync", DAXO_RDONLY, &f->p), 0);
	assert_int_equal(daxo_pool_info(f->p, &in), 0);
	char *heap = (char *)in.base + in.size / 2;
	assert_int_equal(daxo_pool_persist(f->p, heap, 64), -EROFS);
	assert_int_equal(daxo_pool_flush(f->p, heap, 64), -EROFS);
	assert_int_equal(daxo_pool_drain(f->p), -EROFS);
	daxo_persist(f->p, heap, 64);
	assert_int_equal(daxo_pool_status(f->p), 0);
}

/*
 * In the failed state (a write-back failed, corruption was found) every
 * write says so, the flushes and fences too, reads go on, and close reports
 * it once more
 */
static void test_failed_state_shows_everywhere(void **st)
{
	struct fix *f = *st;
	char buf[8];
	size_t vlen;
	daxo_oid o;
	daxo_tx *tx;

	assert_int_equal(daxo_put(f->p, "key", 3, "value", 5), 0);
	assert_int_equal(daxo_pool_status(f->p), 0);
	persist_fail(persist_of(f->p));
	assert_int_equal(daxo_pool_status(f->p), -EIO);
	assert_non_null(strstr(daxo_errormsg(), "failed state"));
	assert_int_equal(daxo_pool_persist(f->p, f->scratch, 8), -EIO);
	assert_int_equal(daxo_pool_flush(f->p, f->scratch, 8), -EIO);
	assert_int_equal(daxo_pool_drain(f->p), -EIO);
	assert_int_equal(daxo_alloc(f->p, 64, 1, &o), -EIO);
	assert_int_equal(daxo_put(f->p, "k", 1, "v", 1), -EIO);
	assert_int_equal(daxo_del(f->p, "key", 3), -EIO);
	assert_int_equal(daxo_tx_begin(f->p, &tx), -EIO);
	assert_int_equal(daxo_get(f->p, "key", 3, buf, sizeof(buf), &vlen), 0);
	assert_memory_equal(buf, "value", 5);
	assert_int_equal(daxo_close(f->p), -EIO);
	f->p = NULL;
	/* the failure was of this handle, not of the pool on media */
	assert_int_equal(daxo_open(f->path, "sync", 0, &f->p), 0);
	assert_int_equal(daxo_pool_status(f->p), 0);
}

/* write16 -- a transaction writing 16 bytes at @dst: a redo record */
static void write16(daxo_pool *p, void *dst, uint64_t v)
{
	uint64_t w[2] = {v, v};
	daxo_tx *tx;

	assert_int_equal(daxo_tx_begin(p, &tx), 0);
	assert_int_equal(daxo_tx_write(tx, dst, w, sizeof(w)), 0);
	assert_int_equal(daxo_tx_commit(tx), 0);
}

/*
 * A persist of bytes no record above the durable watermark wrote is one
 * fence (tx.h, rule 2); bytes such a record wrote -- persisted, or flushed
 * before the persist of others -- first make it final (more fences)
 */
static void test_persist_untouched_is_one_fence(void **st)
{
	struct fix *f = *st;
	uint64_t *touched = (uint64_t *)f->scratch;
	uint64_t *other = (uint64_t *)(f->scratch + 2048);
	struct daxo_stats a;

	write16(f->p, touched, 1);
	a = stats(f->p);
	*other = 2;
	daxo_persist(f->p, other, 8);
	expect(f->p, &a, 1, 1);

	a = stats(f->p);
	touched[0] = 3;
	daxo_persist(f->p, touched, 8);
	assert_true(stats(f->p).fences - a.fences > 1);

	write16(f->p, touched, 4);
	touched[0] = 5;
	daxo_flush(f->p, touched, 8);
	a = stats(f->p);
	daxo_persist(f->p, other, 8);
	assert_true(stats(f->p).fences - a.fences > 1);
	/* the debt is paid: one fence again */
	a = stats(f->p);
	daxo_persist(f->p, other, 8);
	expect(f->p, &a, 1, 1);
}

/*
 * On the msync backend a stray range used to reach msync(2), fail, and put
 * a healthy pool into its failed state; now it is refused first
 */
static void test_msync_stray_range_leaves_pool_healthy(void **st)
{
	struct fix *f = *st;
	struct daxo_info in;

	assert_int_equal(daxo_pool_info(f->p, &in), 0);
	if (in.is_pmem) {
		print_message("skip: %s is persistent memory here, not msync\n",
			      f->path);
		skip();
	}
	daxo_persist(f->p, (void *)4096, 64);
	daxo_flush(f->p, (void *)4096, 64);
	assert_int_equal(daxo_pool_persist(f->p, (void *)4096, 64), -EINVAL);
	assert_int_equal(daxo_pool_status(f->p), 0);
	memset(f->scratch, 7, 64);
	assert_int_equal(daxo_pool_persist(f->p, f->scratch, 64), 0);
	assert_int_equal(daxo_put(f->p, "k", 1, "v", 1), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_ranges_outside_the_pool_flush_nothing, setup,
			teardown),
		cmocka_unit_test(test_null_pool_is_einval),
		cmocka_unit_test_setup_teardown(
			test_read_only_pool_refuses_flushes, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_failed_state_shows_everywhere, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_persist_untouched_is_one_fence, setup, teardown),
	};
	const struct CMUnitTest msync_tests[] = {
		cmocka_unit_test_setup_teardown(
			test_msync_stray_range_leaves_pool_healthy, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_ranges_outside_the_pool_flush_nothing, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_failed_state_shows_everywhere, setup, teardown),
	};

	test_env();
	if (argc > 1 && strcmp(argv[1], "msync") == 0)
		return cmocka_run_group_tests_name("sync-msync", msync_tests,
						   NULL, NULL);
	return cmocka_run_group_tests_name("sync", tests, NULL, NULL);
}
