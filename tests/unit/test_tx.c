/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_tx.c -- transactions: commit/abort of every kind of change, log
 * extension, the root, recovery of a clean close, and the fence budget
 * pinned from daxo_stats(). The allocator's own tests are in test_heap.c.
 */
#include <pthread.h>
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
	assert_int_equal(daxo_oid_type(f->p, ro), DAXO_TYPE_ROOT);
	/* more than it has: it grows into a new object (test_alloc_ex.c) */
	assert_int_equal(daxo_root(f->p, 1 << 20, &again), 0);
	assert_int_not_equal(again, ro);
	ro = again;
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

struct peek {
	daxo_pool *p;
	daxo_oid o;
	uint32_t type;
	uint64_t usable;
};

static void *peeker(void *arg)
{
	struct peek *k = arg;

	k->type = daxo_oid_type(k->p, k->o);
	k->usable = daxo_usable_size(k->p, k->o);
	return NULL;
}

/*
 * an object the thread's open transaction allocated has its type and
 * size for that thread (libpmemobj's pmemobj_type_num and
 * pmemobj_alloc_usable_size answer for it inside the transaction); for
 * other threads it is not there before the commit, and not after an abort
 * or a free in the same transaction
 */
static void test_tx_new_object_type_and_size(void **state)
{
	struct fixture *f = *state;
	struct peek k = {.p = f->p};
	pthread_t th;
	daxo_tx *tx;
	daxo_oid o, o2, o3;

	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_alloc(tx, 500, 31, &o), 0);
	assert_int_equal(daxo_oid_type(f->p, o), 31);
	assert_true(daxo_usable_size(f->p, o) >= 500);
	/* reallocated in the transaction: the new one is there, not the old */
	assert_int_equal(daxo_tx_realloc(tx, o, 5000, 32, 0, &o2), 0);
	assert_int_equal(daxo_oid_type(f->p, o2), 32);
	assert_true(daxo_usable_size(f->p, o2) >= 5000);
	assert_int_equal(daxo_oid_type(f->p, o), UINT32_MAX);
	assert_int_equal(daxo_usable_size(f->p, o), 0);
	k.o = o2;
	assert_int_equal(pthread_create(&th, NULL, peeker, &k), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(k.type, UINT32_MAX);
	assert_int_equal(k.usable, 0);
	assert_int_equal(daxo_tx_alloc(tx, 64, 33, &o3), 0);
	assert_int_equal(daxo_tx_free(tx, o3), 0);
	assert_int_equal(daxo_oid_type(f->p, o3), UINT32_MAX);
	assert_int_equal(daxo_tx_commit(tx), 0);
	assert_int_equal(daxo_oid_type(f->p, o2), 32);
	assert_true(daxo_usable_size(f->p, o2) >= 5000);

	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_alloc(tx, 64, 34, &o), 0);
	assert_int_equal(daxo_oid_type(f->p, o), 34);
	daxo_tx_abort(tx);
	assert_int_equal(daxo_oid_type(f->p, o), UINT32_MAX);
	assert_int_equal(daxo_usable_size(f->p, o), 0);
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

	/* k add_range calls: k + 1 (the snapshots, then the commit) */
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
		assert_int_equal(fences(f->p) - before, k + 1);
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

static struct daxo_stats stats_of(daxo_pool *p)
{
	struct daxo_stats s;

	assert_int_equal(daxo_stats(p, &s), 0);
	return s;
}

/*
 * undo at its floor: a range the transaction covers costs nothing and
 * logs nothing, partial overlaps log only their new bytes, several ranges
 * share one fence, and the commit adds one fence
 */
static void test_tx_add_range_covered_costs_nothing(void **state)
{
	struct fixture *f = *state;
	struct daxo_stats s0, s1, t0;
	daxo_tx *tx;

	/* the reference: [0, 192) of arr added in one call */
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	t0 = stats_of(f->p);
	assert_int_equal(daxo_tx_add_range(tx, &f->r->arr[0], 192), 0);
	assert_int_equal(daxo_tx_commit(tx), 0);
	s1 = stats_of(f->p);
	uint64_t ref = s1.logged_bytes - t0.logged_bytes;

	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	t0 = stats_of(f->p);
	assert_int_equal(daxo_tx_add_range(tx, &f->r->arr[0], 64), 0);
	s1 = stats_of(f->p);
	assert_int_equal(s1.fences - t0.fences, 1);
	/* the same range, a part of it, and the same range again: free */
	s0 = s1;
	assert_int_equal(daxo_tx_add_range(tx, &f->r->arr[0], 64), 0);
	assert_int_equal(daxo_tx_add_range(tx, &f->r->arr[3], 8), 0);
	assert_int_equal(daxo_tx_add_range(tx, (char *)f->r->arr + 1, 62), 0);
	s1 = stats_of(f->p);
	assert_int_equal(s1.fences, s0.fences);
	assert_int_equal(s1.flushes, s0.flushes);
	/* adjacent pieces cover a range that spans them */
	assert_int_equal(daxo_tx_add_range(tx, &f->r->arr[8], 64), 0);
	s0 = stats_of(f->p);
	assert_int_equal(daxo_tx_add_range(tx, &f->r->arr[0], 128), 0);
	s1 = stats_of(f->p);
	assert_int_equal(s1.fences, s0.fences);
	assert_int_equal(s1.flushes, s0.flushes);
	/* an overlap: one fence, and only its 64 new bytes are logged */
	s0 = s1;
	assert_int_equal(daxo_tx_add_range(tx, &f->r->arr[12], 96), 0);
	s1 = stats_of(f->p);
	assert_int_equal(s1.fences - s0.fences, 1);
	assert_int_equal(daxo_tx_commit(tx), 0);
	s1 = stats_of(f->p);
	/* three undo entries where the reference has one: two more headers;
	 * the same record (one COPY of the merged 192 bytes) */
	assert_int_equal(s1.logged_bytes - t0.logged_bytes, ref + 2 * 32);

	/* several ranges, one call, one fence; the commit one more */
	struct daxo_range rs[3] = {{&f->r->arr[30], 8},
				   {&f->r->arr[40], 16},
				   {&f->r->arr[50], 8}};
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	s0 = stats_of(f->p);
	assert_int_equal(daxo_tx_add_ranges(tx, rs, 3), 0);
	s1 = stats_of(f->p);
	assert_int_equal(s1.fences - s0.fences, 1);
	f->r->arr[30] = 1030;
	f->r->arr[40] = 1040;
	f->r->arr[41] = 1041;
	f->r->arr[50] = 1050;
	s0 = s1;
	assert_int_equal(daxo_tx_commit(tx), 0);
	s1 = stats_of(f->p);
	assert_int_equal(s1.fences - s0.fences, 1);
	reopen(f);
	for (unsigned i = 30; i < 31; i++)
		assert_int_equal(f->r->arr[i], 1000 + i);
	for (unsigned i = 40; i < 42; i++)
		assert_int_equal(f->r->arr[i], 1000 + i);
	assert_int_equal(f->r->arr[50], 1050);
}

/* ranges added in overlapping pieces, then abort: every byte comes back */
static void test_tx_add_range_pieces_roll_back(void **state)
{
	struct fixture *f = *state;
	daxo_tx *tx;

	for (unsigned i = 0; i < 64; i++)
		f->r->arr[i] = i;
	daxo_persist(f->p, f->r->arr, sizeof(f->r->arr));
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_add_range(tx, &f->r->arr[10], 80), 0);
	for (unsigned i = 10; i < 20; i++)
		f->r->arr[i] = 0;
	assert_int_equal(daxo_tx_add_range(tx, &f->r->arr[5], 200), 0);
	for (unsigned i = 5; i < 30; i++)
		f->r->arr[i] = 7;
	struct daxo_range rs[2] = {{&f->r->arr[0], 24}, {&f->r->arr[2], 400}};
	assert_int_equal(daxo_tx_add_ranges(tx, rs, 2), 0);
	for (unsigned i = 0; i < 52; i++)
		f->r->arr[i] = 9;
	daxo_tx_abort(tx);
	for (unsigned i = 0; i < 64; i++)
		assert_int_equal(f->r->arr[i], i);
	/* a bad range anywhere in the list: nothing logged, tx must abort */
	struct daxo_range bad[2] = {{&f->r->arr[0], 8}, {NULL, 8}};
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_add_ranges(tx, bad, 2), -EINVAL);
	assert_int_equal(daxo_tx_commit(tx), -EINVAL);
}

/* many ranges in no order (a hash map's resize): merged, all rolled back */
static void test_tx_add_range_many_unordered(void **state)
{
	struct fixture *f = *state;
	daxo_oid o;
	daxo_tx *tx;
	const unsigned n = 20000;

	assert_int_equal(daxo_alloc(f->p, n * 16, 1, &o), 0);
	uint64_t *a = daxo_direct(f->p, o);
	for (unsigned i = 0; i < 2 * n; i++)
		a[i] = i;
	daxo_persist(f->p, a, n * 16);
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	for (unsigned k = 0; k < n; k++) {
		unsigned i = (unsigned)((k * 7919ull) % n);
		assert_int_equal(daxo_tx_add_range(tx, &a[2 * i], 8), 0);
		a[2 * i] = 0;
	}
	/* all of it now: only the odd words are new */
	struct daxo_stats s0 = stats_of(f->p);
	assert_int_equal(daxo_tx_add_range(tx, a, n * 16), 0);
	struct daxo_stats s1 = stats_of(f->p);
	assert_true(s1.logged_bytes - s0.logged_bytes < n * 8 * 5);
	for (unsigned i = 0; i < 2 * n; i++)
		a[i] = 5;
	daxo_tx_abort(tx);
	for (unsigned i = 0; i < 2 * n; i++)
		assert_int_equal(a[i], i);
	assert_int_equal(daxo_free(f->p, &o), 0);
}

/*
 * a one-word write whose word a record wrote before: once that record is
 * durable, the word goes back to one line and one fence a commit, without
 * a daxo_drain (it used to stay on the record path: 3 lines, for as long
 * as the program ran)
 */
static void test_one_word_after_a_record_returns_to_one_line(void **state)
{
	struct fixture *f = *state;
	struct daxo_stats s0, s1;
	uint64_t v[2] = {1, 2};
	daxo_tx *tx;

	for (unsigned round = 0; round < 3; round++) {
		/* a record writes the word (and its neighbour) */
		assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
		assert_int_equal(daxo_tx_write(tx, &f->r->a, v, 16), 0);
		assert_int_equal(daxo_tx_commit(tx), 0);
		for (unsigned i = 0; i < 6; i++) {
			uint64_t x = 100 * round + i;
			s0 = stats_of(f->p);
			assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
			assert_int_equal(daxo_tx_write(tx, &f->r->a, &x, 8), 0);
			assert_int_equal(daxo_tx_commit(tx), 0);
			s1 = stats_of(f->p);
			if (i == 0) {
				/* the record is made durable (a fence) and
				 * W published with the word (a second line) */
				assert_true(s1.fences - s0.fences <= 2);
				assert_true(s1.flushes - s0.flushes <= 4);
			} else {
				assert_int_equal(s1.fences - s0.fences, 1);
				assert_int_equal(s1.flushes - s0.flushes, 1);
			}
			assert_int_equal(f->r->a, x);
		}
	}
	reopen(f);
	assert_int_equal(f->r->a, 205);
	assert_int_equal(f->r->b, 2);
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

/*
 * An object the thread's open transaction logged, wrote, allocated or
 * freed cannot be freed (or moved by daxo_realloc) outside it: its commit
 * or abort would write into memory the heap may hand out again. Refused
 * with -EBUSY, nothing changes; objects the transaction does not touch
 * are freed as ever, and daxo_tx_free takes the logged one.
 */
static void test_free_of_object_in_open_tx_ebusy(void **state)
{
	struct fixture *f = *state;
	daxo_oid o[5], keep, n;
	daxo_tx *tx;
	uint64_t v = 6;

	for (int i = 0; i < 5; i++) {
		assert_int_equal(daxo_alloc(f->p, 64, 3, &o[i]), 0);
		*(uint64_t *)daxo_direct(f->p, o[i]) = 5;
		daxo_persist(f->p, daxo_direct(f->p, o[i]), 8);
	}
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	/* o[0] logged, o[1] written, o[2] freed in the transaction */
	assert_int_equal(daxo_tx_add_range(tx, daxo_direct(f->p, o[0]), 8), 0);
	*(uint64_t *)daxo_direct(f->p, o[0]) = 6;
	assert_int_equal(
	    daxo_tx_write(tx, (char *)daxo_direct(f->p, o[1]) + 8, &v, 8), 0);
	assert_int_equal(daxo_tx_free(tx, o[2]), 0);
	assert_int_equal(daxo_tx_alloc(tx, 64, 3, &n), 0);
	for (int i = 0; i < 3; i++) {
		keep = o[i];
		assert_int_equal(daxo_free(f->p, &keep), -EBUSY);
		assert_int_equal(keep, o[i]);
		assert_non_null(strstr(daxo_errormsg(), "open transaction"));
		assert_int_equal(daxo_realloc(f->p, &keep, 4096, 3, 0), -EBUSY);
		assert_int_equal(keep, o[i]);
	}
	keep = n;
	assert_int_equal(daxo_free(f->p, &keep), -EBUSY);
	/* untouched by the transaction: freed at once */
	keep = o[3];
	assert_int_equal(daxo_free(f->p, &keep), 0);
	assert_int_equal(keep, 0);
	assert_int_equal(daxo_tx_free(tx, o[0]), 0);
	daxo_tx_abort(tx);
	/* the abort rolled back into live objects */
	assert_int_equal(*(uint64_t *)daxo_direct(f->p, o[0]), 5);
	assert_int_equal(daxo_usable_size(f->p, o[0]) >= 64, 1);
	assert_int_equal(daxo_usable_size(f->p, o[2]) >= 64, 1);
	/* outside a transaction they are ordinary objects again */
	for (int i = 0; i < 3; i++)
		assert_int_equal(daxo_free(f->p, &o[i]), 0);
	assert_int_equal(daxo_free(f->p, &o[4]), 0);
}

/*
 * daxo_close of a pool on which the calling thread has a transaction open
 * (here two blocks deep) rolls it back and says so; the thread has no
 * transaction afterwards, on the reopened pool or on any handle made later
 */
static void test_close_rolls_back_open_tx(void **state)
{
	struct fixture *f = *state;
	daxo_tx *tx, *inner;
	daxo_oid ro;

	f->r->a = 5;
	daxo_persist(f->p, &f->r->a, 8);
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_begin(f->p, &inner), 0);
	assert_int_equal(daxo_tx_add_range(inner, &f->r->a, 8), 0);
	f->r->a = 6;
	assert_int_equal(daxo_close(f->p), -ECANCELED);
	assert_non_null(strstr(daxo_errormsg(), "rolled back"));
	for (int i = 0; i < 2; i++) {
		assert_int_equal(daxo_open(f->path, "tx", 0, &f->p), 0);
		assert_null(daxo_tx_current(f->p));
		assert_int_equal(daxo_root(f->p, 0, &ro), 0);
		f->r = daxo_direct(f->p, ro);
		assert_int_equal(f->r->a, 5);
		if (i == 0)
			assert_int_equal(daxo_close(f->p), 0);
	}
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_commit(tx), 0);
}

/*
 * The root object is daxo_root's: no free, move or transactional free of
 * it, and no allocation of its type (a second object of that type could
 * be taken for the root). Each refused with -EINVAL; the root stays.
 */
static void test_root_not_freed_or_typed(void **state)
{
	struct fixture *f = *state;
	daxo_oid ro, x, o = 0;
	daxo_tx *tx;

	assert_int_equal(daxo_root(f->p, 0, &ro), 0);
	x = ro;
	assert_int_equal(daxo_free(f->p, &x), -EINVAL);
	assert_non_null(strstr(daxo_errormsg(), "root object"));
	assert_int_equal(x, ro);
	assert_int_equal(daxo_realloc(f->p, &x, 4096, 1, 0), -EINVAL);
	assert_int_equal(daxo_realloc(f->p, &x, 8192, DAXO_TYPE_ROOT, 0),
			 -EINVAL);
	assert_int_equal(x, ro);
	assert_int_equal(daxo_alloc(f->p, 64, DAXO_TYPE_ROOT, &o), -EINVAL);
	assert_int_equal(o, 0);
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_free(tx, ro), -EINVAL);
	assert_int_equal(daxo_tx_commit(tx), -EINVAL); /* rolled back */
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_realloc(tx, ro, 4096, 1, 0, &o), -EINVAL);
	daxo_tx_abort(tx);
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_alloc(tx, 64, DAXO_TYPE_ROOT, &o), -EINVAL);
	daxo_tx_abort(tx);
	/* the root is intact, the only object of its type, and grows */
	assert_int_equal(daxo_root(f->p, 0, &x), 0);
	assert_int_equal(x, ro);
	assert_int_equal(daxo_first(f->p, DAXO_TYPE_ROOT), ro);
	assert_int_equal(daxo_next(f->p, ro, DAXO_TYPE_ROOT), 0);
	assert_int_equal(daxo_root(f->p, 8192, &x), 0);
	assert_true(daxo_root_size(f->p) >= 8192);
}

/*
 * Growing the root moves it: refused while the thread's open transaction
 * holds bytes of the old one (its abort would write them into freed
 * memory), allowed when the transaction does not touch it
 */
static void test_root_grow_in_open_tx(void **state)
{
	struct fixture *f = *state;
	daxo_oid ro, x;
	daxo_tx *tx;

	assert_int_equal(daxo_root(f->p, 0, &ro), 0);
	f->r->a = 5;
	daxo_persist(f->p, &f->r->a, 8);
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_add_range(tx, &f->r->a, 8), 0);
	f->r->a = 6;
	assert_int_equal(daxo_root(f->p, 1 << 16, &x), -EBUSY);
	assert_non_null(strstr(daxo_errormsg(), "open transaction"));
	assert_int_equal(daxo_root(f->p, 0, &x), 0); /* no growth: fine */
	assert_int_equal(x, ro);
	daxo_tx_abort(tx);
	assert_int_equal(f->r->a, 5);
	/* a transaction that holds other memory does not stop it */
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_commit(tx), 0);
	assert_int_equal(daxo_root(f->p, 1 << 16, &x), 0);
	assert_true(x != ro);
	assert_int_equal(((struct root *)daxo_direct(f->p, x))->a, 5);
	f->r = daxo_direct(f->p, x);
}

struct foreign {
	daxo_tx *tx;
	struct root *r;
	int write, add, alloc, free, on, commit, commit_null;
};

static void on_cb(daxo_pool *p, unsigned stage, void *arg)
{
	(void)p;
	(void)stage;
	(void)arg;
}

/* another thread's calls on the transaction: every one refused */
static void *foreigner(void *arg)
{
	struct foreign *fo = arg;
	uint64_t v = 9;
	daxo_oid o;

	fo->write = daxo_tx_write(fo->tx, &fo->r->b, &v, 8);
	fo->add = daxo_tx_add_range(fo->tx, &fo->r->b, 8);
	fo->alloc = daxo_tx_alloc(fo->tx, 64, 1, &o);
	fo->free = daxo_tx_free(fo->tx, fo->r->obj);
	fo->on = daxo_tx_on(fo->tx, DAXO_TX_ON_COMMIT, on_cb, NULL);
	daxo_tx_abort(fo->tx); /* refused too: nothing happens */
	fo->commit = daxo_tx_commit(fo->tx);
	fo->commit_null = daxo_tx_commit(NULL);
	return NULL;
}

/*
 * A transaction belongs to the thread that began it: another thread's
 * writes, ranges, allocations, frees, callbacks, commit and abort are
 * refused with -EPERM and change nothing; the owner then commits as if
 * nothing had happened
 */
static void test_tx_foreign_thread_eperm(void **state)
{
	struct fixture *f = *state;
	struct foreign fo = {0};
	pthread_t th;
	uint64_t v = 7;

	assert_int_equal(daxo_alloc(f->p, 64, 1, &f->r->obj), 0);
	assert_int_equal(daxo_tx_begin(f->p, &fo.tx), 0);
	assert_int_equal(daxo_tx_write(fo.tx, &f->r->a, &v, 8), 0);
	fo.r = f->r;
	assert_int_equal(pthread_create(&th, NULL, foreigner, &fo), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(fo.write, -EPERM);
	assert_int_equal(fo.add, -EPERM);
	assert_int_equal(fo.alloc, -EPERM);
	assert_int_equal(fo.free, -EPERM);
	assert_int_equal(fo.on, -EPERM);
	assert_int_equal(fo.commit, -EPERM);
	assert_int_equal(fo.commit_null, -EINVAL);
	assert_ptr_equal(daxo_tx_current(f->p), fo.tx);
	assert_int_equal(daxo_tx_commit(fo.tx), 0);
	assert_int_equal(f->r->a, 7);
	assert_int_equal(f->r->b, 0);
	assert_true(daxo_usable_size(f->p, f->r->obj) >= 64);
}

/* a thread that leaves with its transaction open, inner block and all */
static void *leaver(void *arg)
{
	struct fixture *f = arg;
	daxo_tx *tx, *inner;
	uint64_t v = 555;

	if (daxo_tx_begin(f->p, &tx) || daxo_tx_add_range(tx, &f->r->a, 8))
		return (void *)1;
	f->r->a = 555; /* in place, logged */
	if (daxo_tx_begin(f->p, &inner) || inner != tx ||
	    daxo_tx_write(tx, &f->r->b, &v, 8))
		return (void *)2;
	return NULL;
}

/* some other thread's ordinary transactions, on the lanes given back */
static void *worker(void *arg)
{
	struct fixture *f = arg;
	daxo_tx *tx;

	for (int i = 0; i < 8; i++) {
		if (daxo_tx_begin(f->p, &tx) ||
		    daxo_tx_add_range(tx, &f->r->arr[1], 8))
			return (void *)1;
		f->r->arr[1]++;
		if (daxo_tx_commit(tx))
			return (void *)2;
	}
	return NULL;
}

static void test_thread_exit_rolls_back_open_tx(void **state)
{
	struct fixture *f = *state;
	pthread_t th;
	void *ret;

	f->r->a = 1;
	f->r->b = 2;
	daxo_persist(f->p, f->r, 16);
	assert_int_equal(pthread_create(&th, NULL, leaver, f), 0);
	assert_int_equal(pthread_join(th, &ret), 0);
	assert_null(ret);
	/* rolled back at the thread's exit: logged store undone, staged
	 * write dropped */
	assert_int_equal(f->r->a, 1);
	assert_int_equal(f->r->b, 2);
	/* its lane went back free of its log: more threads than lanes */
	for (int i = 0; i < 80; i++) {
		assert_int_equal(pthread_create(&th, NULL, worker, f), 0);
		assert_int_equal(pthread_join(th, &ret), 0);
		assert_null(ret);
	}
	assert_int_equal(f->r->arr[1], 640);
	reopen(f);
	assert_int_equal(f->r->a, 1);
	assert_int_equal(f->r->b, 2);
	assert_int_equal(f->r->arr[1], 640);
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
		cmocka_unit_test_setup_teardown(test_tx_new_object_type_and_size,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_failed_call_forces_abort,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_free_of_object_in_open_tx_ebusy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_rolls_back_open_tx,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_foreign_thread_eperm,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_thread_exit_rolls_back_open_tx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_root_not_freed_or_typed,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_root_grow_in_open_tx,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_nested_begin_joins, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tx_log_extends_for_10mb,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_tx_add_range_covered_costs_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_tx_add_range_pieces_roll_back, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_tx_add_range_many_unordered, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_one_word_after_a_record_returns_to_one_line, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fence_budget, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_clean_close_needs_no_recovery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_count, setup,
						teardown),
	};

	return cmocka_run_group_tests_name("tx", tests, NULL, NULL);
}
