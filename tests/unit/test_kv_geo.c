/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_kv_geo.c -- the keyed store's published table geometry (lib/kv_walk.h
 * kv_geo_set/kv_geo_get), white box: a reader racing a resize's publishing
 * must get the four words of one view. A lock-free get indexes a table by
 * the hash masked with its size: an old_bk paired with another view's
 * old_n (0 once a resize has ended) would send it far outside the pool.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "kv_walk.h"

#include "test_common.h"

/*
 * Views as a resize publishes them: grow (a table of twice the buckets,
 * the old one migrating) then end (the old one gone), again and again.
 * Each table's address encodes its size (bk = n * 64), so that a reader
 * can tell a view whose words come from two publications.
 */
static uint64_t *table_of(uint64_t n)
{
	return (uint64_t *)(uintptr_t)(n * 64);
}

static void view_at(unsigned i, struct kv_view *v)
{
	uint64_t n = 1ull << (1 + (i / 2) % 40);

	memset(v, 0, sizeof(*v));
	v->bk = table_of(n);
	v->n = n;
	if (i % 2 == 0 && n > 2) { /* migrating from the half-size table */
		v->old_bk = table_of(n / 2);
		v->old_n = n / 2;
	}
}

struct race {
	struct kv kv;
	_Atomic int done;
	_Atomic unsigned long reads;
	unsigned long torn;
	struct kv_view bad;
};

static void *reader(void *arg)
{
	struct race *r = arg;

	while (!atomic_load_explicit(&r->done, memory_order_acquire)) {
		struct kv_view v;

		kv_geo_get(&r->kv, &v);
		atomic_fetch_add_explicit(&r->reads, 1, memory_order_relaxed);
		if (v.bk != table_of(v.n) ||
		    (v.old_bk ? v.old_bk != table_of(v.old_n) ||
				    v.old_n != v.n / 2
			      : v.old_n != 0)) {
			if (!r->torn++)
				r->bad = v;
		}
	}
	return NULL;
}

static void test_reader_sees_whole_views(void **state)
{
	(void)state;
	static struct race r;
	struct kv_view v;
	pthread_t th;
	/*
	 * Publish for 0.3 s and at least a million times while the reader
	 * reads a million views (more time under TSan). Against the former
	 * unsynchronized loads, 4-6% of the views were torn with the two
	 * threads on two idle CPUs (0.1% with a third thread sharing them).
	 */
	const unsigned long min_pub = 1000000, min_reads = 1000000;
	struct timespec t0, t;
	unsigned i;

	memset(&r, 0, sizeof(r));
	view_at(1, &v);
	kv_geo_set(&r.kv, &v);
	assert_int_equal(pthread_create(&th, NULL, reader, &r), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 2;; i++) {
		view_at(i, &v);
		kv_geo_set(&r.kv, &v);
		if (i < min_pub || i % 4096 ||
		    atomic_load_explicit(&r.reads, memory_order_relaxed) <
			min_reads)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000000000L + t.tv_nsec -
			t0.tv_nsec >= 300000000L)
			break;
	}
	atomic_store_explicit(&r.done, 1, memory_order_release);
	pthread_join(th, NULL);
	unsigned long reads = atomic_load(&r.reads);
	print_message("%u publications, %lu reads, %lu torn\n", i, reads,
		      r.torn);
	if (r.torn)
		fail_msg("%lu of %lu views torn, first: bk %p n %llu old_bk "
			 "%p old_n %llu",
			 r.torn, reads, (void *)r.bad.bk,
			 (unsigned long long)r.bad.n, (void *)r.bad.old_bk,
			 (unsigned long long)r.bad.old_n);
	/* and the last view is what a reader now gets */
	struct kv_view last, want;
	kv_geo_get(&r.kv, &last);
	view_at(i, &want);
	assert_ptr_equal(last.bk, want.bk);
	assert_int_equal(last.n, want.n);
	assert_ptr_equal(last.old_bk, want.old_bk);
	assert_int_equal(last.old_n, want.old_n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reader_sees_whole_views),
	};

	test_env();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
