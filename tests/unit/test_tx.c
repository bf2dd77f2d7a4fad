/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_tx.c -- transactions: commit/abort of every kind of change, log
 * extension, the root, recovery of a clean close, and the fence budget
 * pinned from daxo_stats(). The allocator's own tests are in test_heap.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "daxo.h"
#include "test_common.h"

#define POOL_SIZE (64ull << 20)

struct root {
	uint64_t a, b;
	daxo_oid obj;
	daxo_oid list;
	uint64_t arr[64];
};

struct fixture {
	const char *path;
	daxo_pool *p;
	struct root *r;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	daxo_oid ro;

	test_env();
	f->path = test_pool_path("tx");
	assert_int_equal(daxo_create(f->path, "tx", POOL_SIZE, 0600, &f->p), 0);
	assert_int_equal(daxo_root(f->p, sizeof(struct root), &ro), 0);
	f->r = daxo_direct(f->p, ro);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	daxo_close(f->p);
	unlink(f->path);
	free(f);
	return 0;
}

static void reopen(struct fixture *f)
{
	daxo_oid ro;

	assert_int_equal(daxo_close(f->p), 0);
	assert_int_equal(daxo_open(f->path, "tx", 0, &f->p), 0);
	assert_int_equal(daxo_root(f->p, 0, &ro), 0);
	f->r = daxo_direct(f->p, ro);
}

static uint64_t fences(daxo_pool *p)
{
	struct daxo_stats s;

	assert_int_equal(daxo_stats(p, &s), 0);
	return s.fences;
}

static unsigned count_type(daxo_pool *p, uint32_t type)
{
	unsigned n = 0;

	for (daxo_oid o = daxo_first(p, type); o; o = daxo_next(p, o, type))
		n++;
	return n;
}

static void test_root_created_once_and_zeroed(void **state)
{
	struct fixture *f = *state;
	daxo_oid ro, again;

	assert_int_equal(daxo_root(f->p, 0, &ro), 0);
	for (size_t i = 0; i < sizeof(struct root); i++)
		assert_int_equal(((char *)f->r)[i], 0);
	assert_int_equal(daxo_root(f->p, 16, &again), 0);
	assert_int_equal(again, ro);
	assert_int_equal(daxo_root(f->p, 1 << 20, &again), -EINVAL);
	assert_true(strlen(daxo_errormsg()) > 0);
	assert_int_equal(daxo_oid_type(f->p, ro), DAXO_TYPE_ROOT);
	reopen(f);
	assert_int_equal(daxo_root(f->p, 0, &again), 0);
	assert_int_equal(again, ro);
}

static void test_root_missing_is_enoent(void **state)
{
	const char *path = test_pool_path("noroot");
	daxo_pool *p;
	daxo_oid ro;

	(void)state;
	assert_int_equal(daxo_create(path, "x", 8 << 20, 0600, &p), 0);
	assert_int_equal(daxo_root(p, 0, &ro), -ENOENT);
	daxo_close(p);
	assert_int_equal(daxo_open(path, "x", DAXO_RDONLY, &p), 0);
	assert_int_equal(daxo_root(p, 64, &ro), -EROFS);
	daxo_close(p);
	unlink(path);
}

static void test_tx_undo_commit_and_abort(void **state)
{
	struct fixture *f = *state;
	daxo_tx *tx;

	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_add_range(tx, &f->r->a, 16), 0);
	f->r->a = 1;
	f->r->b = 2;
	assert_int_equal(daxo_tx_commit(tx), 0);
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_add_range(tx, &f->r->a, 8), 0);
	assert_int_equal(daxo_tx_add_range(tx, f->r->arr, sizeof(f->r->arr)),
			 0);
	f->r->a = 100;
	memset(f->r->arr, 0xff, sizeof(f->r->arr));
	daxo_tx_abort(tx);
	assert_int_equal(f->r->a, 1);
	assert_int_equal(f->r->b, 2);
	assert_int_equal(f->r->arr[5], 0);
	reopen(f);
	assert_int_equal(f->r->a, 1);
	assert_int_equal(f->r->b, 2);
}

/* a zero-length range is refused for what it is, not as "outside" */
static void test_tx_add_range_len0_einval(void **state)
{
	struct fixture *f = *state;
	daxo_tx *tx;

	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_add_range(tx, &f->r->a, 0), -EINVAL);
	assert_non_null(strstr(daxo_errormsg(), "length 0"));
	assert_null(strstr(daxo_errormsg(), "not inside"));
	daxo_tx_abort(tx);
}

static void test_tx_redo_applies_at_commit_only(void **state)
{
	struct fixture *f = *state;
	daxo_tx *tx;
	uint64_t v = 77;

	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_write(tx, &f->r->a, &v, 8), 0);
	assert_int_equal(f->r->a, 0); /* staged */
	assert_int_equal(daxo_tx_commit(tx), 0);
	assert_int_equal(f->r->a, 77);
	v = 88;
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_write(tx, &f->r->a, &v, 8), 0);
	daxo_tx_abort(tx);
	assert_int_equal(f->r->a, 77);
	reopen(f);
	assert_int_equal(f->r->a, 77);
}

static void test_tx_alloc_free_commit_abort(void **state)
{
	struct fixture *f = *state;
	daxo_tx *tx;
	daxo_oid o, o2;

	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_alloc(tx, 500, 31, &o), 0);
	for (int i = 0; i < 500; i++)
		assert_int_equal(((char *)daxo_direct(f->p, o))[i], 0);
	memset(daxo_direct(f->p, o), 7, 500);
	assert_int_equal(daxo_tx_write(tx, &f->r->list, &o, 8), 0);
	assert_int_equal(daxo_tx_commit(tx), 0);
	assert_int_equal(f->r->list, o);
	assert_int_equal(count_type(f->p, 31), 1);

	/* abort: the allocation disappears, the free does not happen */
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_alloc(tx, 64, 31, &o2), 0);
	assert_int_equal(daxo_tx_free(tx, o), 0);
	assert_int_equal(daxo_tx_free(tx, o), -EINVAL); /* twice */
	daxo_tx_abort(tx);
	assert_int_equal(count_type(f->p, 31), 1);
	assert_int_equal(daxo_oid_type(f->p, o), 31);

	/* free then allocate in one transaction */
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_free(tx, o), 0);
	assert_int_equal(daxo_tx_alloc(tx, 64, 32, &o2), 0);
	assert_int_equal(daxo_tx_write(tx, &f->r->list, &o2, 8), 0);
	/* writes into a new object take effect in place */
	uint64_t v = 99;
	assert_int_equal(daxo_tx_write(tx, daxo_direct(f->p, o2), &v, 8), 0);
	assert_int_equal(daxo_tx_commit(tx), 0);
	assert_int_equal(count_type(f->p, 31), 0);
	assert_int_equal(count_type(f->p, 32), 1);
	reopen(f);
	assert_int_equal(f->r->list, o2);
	assert_int_equal(*(uint64_t *)daxo_direct(f->p, o2), 99);
	assert_int_equal(((char *)daxo_direct(f->p, o))[0], 7); /* old bytes */
	assert_int_equal(daxo_oid_type(f->p, o), UINT32_MAX);

	/* freeing what the transaction allocated cancels it */
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_alloc(tx, 64, 33, &o), 0);
	assert_int_equal(daxo_tx_free(tx, o), 0);
	assert_int_equal(daxo_tx_commit(tx), 0);
	assert_int_equal(count_type(f->p, 33), 0);
}

static void test_tx_failed_call_forces_abort(void **state)
{
	struct fixture *f = *state;
	daxo_tx *tx;
	uint64_t v = 5;

	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_add_range(tx, &f->r->a, 8), 0);
	f->r->a = 1234;
	assert_int_equal(daxo_tx_write(tx, &f->r->b, &v, 8), 0);
	/* outside the pool */
	assert_int_equal(daxo_tx_add_range(tx, &v, 8), -EINVAL);
	assert_int_equal(daxo_tx_write(tx, &f->r->b, &v, 8), -EINVAL);
	assert_int_equal(daxo_tx_commit(tx), -EINVAL);
	assert_int_equal(f->r->a, 0);
	assert_int_equal(f->r->b, 0);
}

static void test_tx_nested_begin_joins(void **state)
{
	struct fixture *f = *state;
	daxo_tx *tx, *tx2;

	/* nesting itself: tests/unit/test_nest.c */
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_begin(f->p, &tx2), 0);
	assert_ptr_equal(tx2, tx);
	/* atomic operations still work inside a transaction */
	daxo_oid o;
	assert_int_equal(daxo_alloc(f->p, 64, 1, &o), 0);
	assert_int_equal(daxo_free(f->p, &o), 0);
	assert_int_equal(daxo_tx_commit(tx2), 0);
	assert_int_equal(daxo_tx_commit(tx), 0);
	assert_int_equal(daxo_tx_begin(f->p, &tx2), 0);
	daxo_tx_abort(tx2);
}

static void test_tx_log_extends_for_10mb(void **state)
{
	struct fixture *f = *state;
	size_t len = 10u << 20;
	char *src = malloc(len);
	daxo_oid big;
	daxo_tx *tx;

	assert_non_null(src);
	assert_int_equal(daxo_alloc(f->p, len, 5, &big), 0);
	char *dst = daxo_direct(f->p, big);
	memset(dst, 1, len);
	for (size_t i = 0; i < len; i++)
		src[i] = (char)(i * 7);
	/* redo */
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_write(tx, dst, src, len), 0);
	assert_int_equal(daxo_tx_commit(tx), 0);
	assert_memory_equal(dst, src, len);
	/* undo, aborted: every byte restored */
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_add_range(tx, dst, len / 2), 0);
	assert_int_equal(daxo_tx_add_range(tx, dst + len / 2, len / 2), 0);
	memset(dst, 3, len);
	daxo_tx_abort(tx);
	assert_memory_equal(dst, src, len);
	/* many small ranges overflow the lane's undo area */
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	for (int i = 0; i < 2000; i++) {
		assert_int_equal(daxo_tx_add_range(tx, dst + i * 64, 16), 0);
		memset(dst + i * 64, 9, 16);
	}
	daxo_tx_abort(tx);
	assert_memory_equal(dst, src, len);
	free(src);
	reopen(f);
	assert_int_equal(daxo_free(f->p, &big), 0);
}

static void test_fence_budget(void **state)
{
	struct fixture *f = *state;
	daxo_tx *tx;
	uint64_t before, v = 1;
	daxo_oid o, o2;

	/* warm up: size classes get their runs (2 fences, once per run) */
	assert_int_equal(daxo_alloc(f->p, 64, 1, &o), 0);
	assert_int_equal(daxo_free(f->p, &o), 0);

	before = fences(f->p);
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_write(tx, &f->r->a, &v, 8), 0);
	assert_int_equal(daxo_tx_commit(tx), 0);
	/* one aligned word needs no log: a single fence */
	assert_int_equal(fences(f->p) - before, 1);
	assert_int_equal(f->r->a, 1);

	before = fences(f->p);
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_write(tx, &f->r->a, &v, 8), 0);
	assert_int_equal(daxo_tx_write(tx, &f->r->b, &v, 8), 0);
	assert_int_equal(daxo_tx_commit(tx), 0);
	assert_true(fences(f->p) - before <= 2);

	before = fences(f->p);
	assert_int_equal(daxo_alloc(f->p, 64, 1, &f->r->obj), 0);
	assert_true(fences(f->p) - before <= 2);
	before = fences(f->p);
	assert_int_equal(daxo_free(f->p, &f->r->obj), 0);
	assert_true(fences(f->p) - before <= 2);

	/* transactional free of one object and alloc of another */
	assert_int_equal(daxo_alloc(f->p, 64, 1, &f->r->obj), 0);
	before = fences(f->p);
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_free(tx, f->r->obj), 0);
	assert_int_equal(daxo_tx_alloc(tx, 64, 1, &o2), 0);
	assert_int_equal(daxo_tx_write(tx, &f->r->obj, &o2, 8), 0);
	assert_int_equal(daxo_tx_commit(tx), 0);
	assert_int_equal(fences(f->p) - before, 1);

	/* a new object too large for the record: flushed and fenced first */
	assert_int_equal(daxo_alloc(f->p, 4096, 1, &o), 0); /* warm the class */
	assert_int_equal(daxo_free(f->p, &o), 0);
	before = fences(f->p);
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_alloc(tx, 4000, 1, &o2), 0);
	assert_int_equal(daxo_tx_commit(tx), 0);
	assert_int_equal(fences(f->p) - before, 2);

	/* atomic allocation and free: one fence each */
	before = fences(f->p);
	assert_int_equal(daxo_alloc(f->p, 64, 1, &f->r->obj), 0);
	assert_int_equal(daxo_free(f->p, &f->r->obj), 0);
	assert_int_equal(fences(f->p) - before, 2);

	/* k add_range calls: at most k + 2 */
	for (unsigned k = 1; k <= 4; k++) {
		before = fences(f->p);
		assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
		for (unsigned i = 0; i < k; i++) {
			assert_int_equal(daxo_tx_add_range(tx, &f->r->arr[i * 8],
							   8),
					 0);
			f->r->arr[i * 8]++;
		}
		assert_int_equal(daxo_tx_commit(tx), 0);
		assert_true(fences(f->p) - before <= k + 2);
	}

	/* reads and empty transactions never fence */
	before = fences(f->p);
	(void)daxo_direct(f->p, f->r->obj);
	(void)daxo_usable_size(f->p, f->r->obj);
	(void)count_type(f->p, DAXO_TYPE_ANY);
	assert_int_equal(daxo_root(f->p, 0, &o), 0);
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_commit(tx), 0);
	assert_int_equal(fences(f->p) - before, 0);
}

static void test_clean_close_needs_no_recovery(void **state)
{
	struct fixture *f = *state;
	struct daxo_info info;
	daxo_tx *tx;
	uint64_t v = 3;

	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_write(tx, &f->r->a, &v, 8), 0);
	assert_int_equal(daxo_tx_commit(tx), 0);
	reopen(f);
	assert_int_equal(daxo_pool_info(f->p, &info), 0);
	assert_int_equal(info.recovery_pending, 0);
	assert_int_equal(info.recovered, 0);
	assert_int_equal(f->r->a, 3);
}

static void test_stats_count(void **state)
{
	struct fixture *f = *state;
	struct daxo_stats s0, s1, t;
	daxo_oid o;

	assert_int_equal(daxo_stats(f->p, &s0), 0);
	assert_int_equal(daxo_alloc(f->p, 64, 1, &o), 0);
	assert_int_equal(daxo_free(f->p, &o), 0);
	assert_int_equal(daxo_stats(f->p, &s1), 0);
	assert_int_equal(s1.allocs - s0.allocs, 1);
	assert_int_equal(s1.frees - s0.frees, 1);
	assert_int_equal(s1.tx_commits - s0.tx_commits, 2);
	assert_true(s1.flushes > s0.flushes);
	assert_true(s1.logged_bytes > s0.logged_bytes);
	assert_int_equal(daxo_thread_stats(&t), 0);
	assert_true(t.fences >= s1.fences - s0.fences);
	assert_int_equal(daxo_stats(NULL, &s0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_root_created_once_and_zeroed,
						setup, teardown),
		cmocka_unit_test(test_root_missing_is_enoent),
		cmocka_unit_test_setup_teardown(test_tx_undo_commit_and_abort,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_add_range_len0_einval,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_tx_redo_applies_at_commit_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_alloc_free_commit_abort,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_failed_call_forces_abort,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_nested_begin_joins, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tx_log_extends_for_10mb,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_fence_budget, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_clean_close_needs_no_recovery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_count, setup,
						teardown),
	};

	return cmocka_run_group_tests_name("tx", tests, NULL, NULL);
}
