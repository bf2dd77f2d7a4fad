/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_threads.c -- one pool, many threads: each runs its own transactions
 * (undo and redo) on its own counters, allocates and frees objects of its
 * own type, and moves money between shared accounts under a mutex. Then the
 * totals are checked, in memory and after a reopen. Run under TSan by
 * scripts/test.sh.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "daxo.h"
#include "test_common.h"

#define NTHREADS 4
#define ITERS 3000
#define NACC 8

struct root {
	uint64_t counter[NTHREADS][8]; /* a cache line each */
	uint64_t acc[NACC];
	daxo_oid slots[NTHREADS][16];
};

struct targ {
	daxo_pool *p;
	struct root *r;
	int id;
	int err;
};

static pthread_mutex_t bank = PTHREAD_MUTEX_INITIALIZER;

static void *worker(void *arg)
{
	struct targ *t = arg;
	daxo_pool *p = t->p;
	struct root *r = t->r;
	unsigned seed = (unsigned)t->id * 7919u + 1;
	daxo_tx *tx;

	for (int i = 0; i < ITERS && !t->err; i++) {
		int op = rand_r(&seed) % 4;
		if (op == 0) {
			if (daxo_tx_begin(p, &tx)) {
				t->err = 1;
				break;
			}
			daxo_tx_add_range(tx, &r->counter[t->id][0], 8);
			r->counter[t->id][0]++;
			t->err |= daxo_tx_commit(tx) != 0;
		} else if (op == 1) {
			uint64_t v = r->counter[t->id][0] + 1;
			if (daxo_tx_begin(p, &tx)) {
				t->err = 1;
				break;
			}
			daxo_tx_write(tx, &r->counter[t->id][0], &v, 8);
			t->err |= daxo_tx_commit(tx) != 0;
		} else if (op == 2) {
			int k = rand_r(&seed) % 16;
			daxo_oid *s = &r->slots[t->id][k];
			int ret = *s ? daxo_free(p, s)
				     : daxo_alloc(p, 16 + (uint64_t)(rand_r(&seed) % 5000),
						  (uint32_t)(100 + t->id), s);
			t->err |= ret != 0;
			/* one more counted change, so the total is known */
			uint64_t v = r->counter[t->id][0] + 1;
			if (daxo_tx_begin(p, &tx)) {
				t->err = 1;
				break;
			}
			daxo_tx_write(tx, &r->counter[t->id][0], &v, 8);
			t->err |= daxo_tx_commit(tx) != 0;
		} else {
			unsigned a = (unsigned)rand_r(&seed) % NACC,
				 b = (unsigned)rand_r(&seed) % NACC;
			pthread_mutex_lock(&bank);
			if (daxo_tx_begin(p, &tx) == 0) {
				uint64_t amt = r->acc[a] / 2;
				uint64_t na = r->acc[a] - amt, nb = r->acc[b] + amt;
				if (a == b)
					na = nb = r->acc[a];
				daxo_tx_write(tx, &r->acc[a], &na, 8);
				daxo_tx_write(tx, &r->acc[b], &nb, 8);
				t->err |= daxo_tx_commit(tx) != 0;
			} else {
				t->err = 1;
			}
			uint64_t v = r->counter[t->id][0] + 1;
			pthread_mutex_unlock(&bank);
			if (daxo_tx_begin(p, &tx)) {
				t->err = 1;
				break;
			}
			daxo_tx_write(tx, &r->counter[t->id][0], &v, 8);
			t->err |= daxo_tx_commit(tx) != 0;
		}
	}
	return NULL;
}

static void check(daxo_pool *p, struct root *r)
{
	uint64_t sum = 0;

	for (int i = 0; i < NACC; i++)
		sum += r->acc[i];
	assert_int_equal(sum, NACC * 1000);
	for (int t = 0; t < NTHREADS; t++) {
		assert_int_equal(r->counter[t][0], ITERS);
		unsigned used = 0, live = 0;
		for (int k = 0; k < 16; k++)
			if (r->slots[t][k]) {
				used++;
				assert_int_equal(daxo_oid_type(p, r->slots[t][k]),
						 100 + t);
			}
		for (daxo_oid o = daxo_first(p, (uint32_t)(100 + t)); o;
		     o = daxo_next(p, o, (uint32_t)(100 + t)))
			live++;
		assert_int_equal(live, used);
	}
}

static void test_threads_own_tx_and_shared_bank(void **state)
{
	const char *path = test_pool_path("threads");
	daxo_pool *p;
	daxo_oid ro;
	pthread_t th[NTHREADS];
	struct targ ta[NTHREADS];

	(void)state;
	assert_int_equal(daxo_create(path, "threads", 64 << 20, 0600, &p), 0);
	assert_int_equal(daxo_root(p, sizeof(struct root), &ro), 0);
	struct root *r = daxo_direct(p, ro);
	for (int i = 0; i < NACC; i++)
		r->acc[i] = 1000;
	daxo_persist(p, r->acc, sizeof(r->acc));
	for (int i = 0; i < NTHREADS; i++) {
		ta[i] = (struct targ){p, r, i, 0};
		assert_int_equal(pthread_create(&th[i], NULL, worker, &ta[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(ta[i].err, 0);
	}
	check(p, r);
	assert_int_equal(daxo_close(p), 0);
	assert_int_equal(daxo_open(path, "threads", 0, &p), 0);
	assert_int_equal(daxo_root(p, 0, &ro), 0);
	check(p, daxo_direct(p, ro));
	daxo_close(p);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threads_own_tx_and_shared_bank),
	};

	test_env();
	return cmocka_run_group_tests_name("threads", tests, NULL, NULL);
}
