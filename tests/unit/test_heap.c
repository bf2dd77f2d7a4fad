/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_heap.c -- the heap over a pool's lifetime: freed space comes back for
 * any size (emptied runs are given back to the free chunks, which
 * coalesce), also after a reopen, and daxo_heap_info says what is free.
 * Figures are bytes, deterministic: no timing.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "daxo.h"

#include "test_common.h"

#define SIZE (32ull << 20)
#define MIB (1ull << 20)

struct objs {
	daxo_oid *o;
	size_t n, cap;
};

/* fill -- objects of @size until -ENOSPC; how many */
static size_t fill(daxo_pool *p, uint64_t size, struct objs *v)
{
	size_t before = v->n;
	daxo_oid o;
	int ret;

	for (;;) {
		ret = daxo_alloc(p, size, 1, &o);
		if (ret == -ENOSPC)
			break;
		assert_int_equal(ret, 0);
		if (v->n == v->cap) {
			v->cap = v->cap ? 2 * v->cap : 1024;
			v->o = realloc(v->o, v->cap * sizeof(*v->o));
			assert_non_null(v->o);
		}
		v->o[v->n++] = o;
	}
	return v->n - before;
}

static void free_all(daxo_pool *p, struct objs *v)
{
	for (size_t i = 0; i < v->n; i++)
		assert_int_equal(daxo_free(p, &v->o[i]), 0);
	v->n = 0;
}

static struct daxo_heap_info hi;

/*
 * A pool filled with 64-byte objects and emptied holds 1 MiB objects in
 * 95% of its heap again, at once and after a reopen (where the emptied
 * runs, kept as runs of their class, are read back and given up on demand)
 */
static void test_free_all_gives_space_back_for_any_size(void **st)
{
	const char *path = test_pool_path("heap-life");
	struct objs v = {0};
	daxo_pool *p;

	(void)st;
	assert_int_equal(daxo_create(path, "heap", SIZE, 0600, &p), 0);
	assert_int_equal(daxo_heap_info(p, &hi), 0);
	uint64_t heap = hi.heap_bytes;
	assert_true(heap > SIZE * 9 / 10 && heap < SIZE);
	assert_int_equal(hi.free_bytes, heap);
	assert_int_equal(hi.largest_alloc, heap);

	size_t n64 = fill(p, 64, &v);
	assert_true(n64 * 64 > SIZE * 85 / 100);
	assert_int_equal(daxo_heap_info(p, &hi), 0);
	assert_true(hi.free_bytes < heap / 100);
	free_all(p, &v);

	/* everything is free again, and one object can have nearly all */
	assert_int_equal(daxo_heap_info(p, &hi), 0);
	assert_int_equal(hi.free_bytes, heap);
	assert_int_equal(hi.free_chunk_bytes, heap);
	assert_true(hi.largest_alloc >= heap * 95 / 100);
	assert_true(hi.retired_runs > 0);
	size_t n1m = fill(p, MIB, &v);
	assert_true(n1m * MIB >= heap * 95 / 100);
	free_all(p, &v);

	/* the same after a reopen, with 64 B objects freed before it */
	assert_true(fill(p, 64, &v) == n64);
	free_all(p, &v);
	assert_int_equal(daxo_close(p), 0);
	assert_int_equal(daxo_open(path, "heap", 0, &p), 0);
	assert_int_equal(daxo_heap_info(p, &hi), 0);
	assert_int_equal(hi.free_bytes, heap);
	assert_true(hi.largest_alloc >= heap * 95 / 100);
	assert_true(fill(p, MIB, &v) == n1m);
	free_all(p, &v);
	assert_int_equal(daxo_close(p), 0);
	free(v.o);
	unlink(path);
}

/* daxo_heap_info counts runs, slots and large objects as allocated */
static void test_heap_info_counts_what_is_allocated(void **st)
{
	const char *path = test_pool_path("heap-info");
	daxo_pool *p;
	daxo_oid small[10], big;
	uint64_t slot = 0;

	(void)st;
	assert_int_equal(daxo_create(path, "heap", SIZE, 0600, &p), 0);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(daxo_alloc(p, 100, 1, &small[i]), 0);
		slot = daxo_usable_size(p, small[i]);
	}
	assert_int_equal(daxo_alloc(p, 3 * MIB, 2, &big), 0);
	assert_int_equal(daxo_heap_info(p, &hi), 0);
	assert_int_equal(hi.large_objects, 1);
	assert_true(hi.large_bytes >= 3 * MIB);
	assert_int_equal(hi.runs, 1);
	uint32_t found = 0;
	for (uint32_t c = 0; c < hi.nclasses; c++) {
		if (!hi.cls[c].runs)
			continue;
		found++;
		assert_int_equal(hi.cls[c].size, slot);
		assert_int_equal(hi.cls[c].used, 10);
		assert_int_equal(hi.cls[c].idle_runs, 0);
		assert_int_equal(hi.free_bytes,
				 hi.heap_bytes - hi.large_bytes - hi.run_bytes +
					 (hi.cls[c].slots - 10) * slot);
	}
	assert_int_equal(found, 1);
	assert_true(hi.largest_alloc <= hi.heap_bytes - hi.large_bytes -
						 hi.run_bytes);
	assert_int_equal(daxo_heap_info(NULL, &hi), -EINVAL);
	assert_int_equal(daxo_heap_info(p, NULL), -EINVAL);
	assert_int_equal(daxo_close(p), 0);
	unlink(path);
}

/*
 * Two threads fill runs, free each other's objects (so runs empty in an
 * arena other than the freeing thread's) and take large objects from the
 * chunks the retired runs gave back; at the end everything is free again
 */
#define TN 3000
static daxo_pool *tp;
static daxo_oid tobj[2][TN];
static pthread_barrier_t tbar;

static void *churner(void *arg)
{
	unsigned me = (unsigned)(uintptr_t)arg;

	for (int round = 0; round < 6; round++) {
		for (unsigned i = 0; i < TN; i++)
			if (daxo_alloc(tp, 2048 + 512 * ((i + me) % 3), 1,
				       &tobj[me][i]) != 0)
				return (void *)1;
		pthread_barrier_wait(&tbar);
		for (unsigned i = 0; i < TN; i++)
			if (daxo_free(tp, &tobj[1 - me][i]) != 0)
				return (void *)2;
		pthread_barrier_wait(&tbar);
		daxo_oid big;
		if (daxo_alloc(tp, 1 << 20, 2, &big) != 0 ||
		    daxo_free(tp, &big) != 0)
			return (void *)3;
	}
	return NULL;
}

static void test_threads_empty_runs_of_each_other(void **st)
{
	const char *path = test_pool_path("heap-threads");
	pthread_t t[2];
	void *r0, *r1;

	(void)st;
	assert_int_equal(daxo_create(path, "heap", SIZE, 0600, &tp), 0);
	assert_int_equal(pthread_barrier_init(&tbar, NULL, 2), 0);
	for (uintptr_t i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, churner,
						(void *)i),
				 0);
	pthread_join(t[0], &r0);
	pthread_join(t[1], &r1);
	assert_null(r0);
	assert_null(r1);
	pthread_barrier_destroy(&tbar);
	assert_int_equal(daxo_heap_info(tp, &hi), 0);
	assert_int_equal(hi.free_bytes, hi.heap_bytes);
	assert_true(hi.retired_runs > 0);
	assert_int_equal(daxo_close(tp), 0);
	assert_int_equal(daxo_check(path, 0, NULL, NULL), 0);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_free_all_gives_space_back_for_any_size),
		cmocka_unit_test(test_heap_info_counts_what_is_allocated),
		cmocka_unit_test(test_threads_empty_runs_of_each_other),
	};

	test_env();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
