/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_lanes.c -- lanes bound to threads (lib/lane.c, lib/txint.h: LANES
 * AND THREADS), white box: a thread keeps its lane between transactions,
 * gives it back when it exits, more threads than lanes all commit, and a
 * binding to a pool that was closed is never used on the pool opened next
 * (every test of those ends by checking that no lane is left taken); and
 * the order between a W scan and a commit taking its seq (the floor).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "daxo.h"
#include "txint.h"

#include "test_common.h"

/* taken -- lanes of @p taken (bound to a thread, or in a transaction) */
static unsigned taken(daxo_pool *p)
{
	unsigned n = 0;

	for (unsigned i = 0; i < TX_NLANES; i++)
		n += atomic_load(&p->lanes->lane[i].busy) != 0;
	return n;
}

static daxo_pool *make(const char *tag)
{
	const char *path = test_pool_path(tag);
	daxo_pool *p;

	unlink(path);
	assert_int_equal(daxo_create(path, "lanes", 32ull << 20, 0600, &p), 0);
	return p;
}

static void drop(daxo_pool *p, const char *tag)
{
	assert_int_equal(daxo_close(p), 0);
	unlink(test_pool_path(tag));
}

/* one_tx -- a redo transaction on @p's root, words 2 @i; its lane */
static struct lane *one_tx(daxo_pool *p, uint64_t i)
{
	daxo_oid root;
	daxo_tx *tx;

	if (daxo_root(p, 4096, &root))
		return NULL;
	uint64_t *w = daxo_direct(p, root);
	uint64_t v[2] = {i, ~i};
	if (daxo_tx_begin(p, &tx))
		return NULL;
	struct lane *ln = tx->lane;
	if (daxo_tx_write(tx, &w[(i % 256) * 2], v, sizeof(v)) ||
	    daxo_tx_commit(tx))
		return NULL;
	return ln;
}

struct job {
	daxo_pool *p;
	pthread_barrier_t *bar; /* all threads alive at once, or NULL */
	unsigned n;		/* transactions */
	unsigned t;		/* which words of the root are its own */
	int bad;
	bool hold; /* alive until a third barrier */
};

static void *worker(void *arg)
{
	struct job *j = arg;
	struct lane *first = NULL;

	if (j->bar)
		pthread_barrier_wait(j->bar);
	for (unsigned i = 0; i < j->n; i++) {
		struct lane *ln = one_tx(j->p, j->t);
		if (!ln)
			j->bad++;
		else if (!first)
			first = ln;
		/* alone, a thread keeps its lane (with others, a commit may
		 * move off a lane whose next slot another thread holds) */
		else if (!j->bar && ln != first)
			j->bad++;
	}
	if (!j->bar && first && first - j->p->lanes->lane >= TX_NBIND)
		j->bad++; /* alone, it was given a lane of its own */
	if (j->bar)
		pthread_barrier_wait(j->bar);
	if (j->hold)
		pthread_barrier_wait(j->bar);
	return NULL;
}

/* threads that come and go give their lanes back */
static void test_exiting_threads_give_lanes_back(void **state)
{
	daxo_pool *p = make("lanes-exit");

	(void)state;
	for (unsigned t = 0; t < 3 * TX_NLANES; t++) {
		struct job j = {p, NULL, 3, 0, 0, false};
		pthread_t th;
		assert_int_equal(pthread_create(&th, NULL, worker, &j), 0);
		assert_int_equal(pthread_join(th, NULL), 0);
		assert_int_equal(j.bad, 0);
		assert_int_equal(taken(p), 0);
	}
	drop(p, "lanes-exit");
}

/*
 * more threads alive at once than lanes: the first TX_NBIND keep one, the
 * others share the rest a transaction at a time (and wait for one)
 */
static void test_more_threads_than_lanes(void **state)
{
	enum { N = TX_NLANES + 8 };
	daxo_pool *p = make("lanes-many");
	pthread_barrier_t bar;
	struct job j[N];
	pthread_t th[N];

	(void)state;
	pthread_barrier_init(&bar, NULL, N + 1);
	for (unsigned t = 0; t < N; t++) {
		j[t] = (struct job){p, &bar, 20, t, 0, true};
		assert_int_equal(pthread_create(&th[t], NULL, worker, &j[t]),
				 0);
	}
	pthread_barrier_wait(&bar); /* all started */
	pthread_barrier_wait(&bar); /* all done, none exited */
	unsigned n = taken(p);
	pthread_barrier_wait(&bar); /* let them go */
	assert_true(n <= TX_NBIND && n >= TX_NBIND / 2);
	for (unsigned t = 0; t < N; t++) {
		assert_int_equal(pthread_join(th[t], NULL), 0);
		assert_int_equal(j[t].bad, 0);
	}
	pthread_barrier_destroy(&bar);
	assert_int_equal(taken(p), 0);
	drop(p, "lanes-many");
}

/*
 * A thread bound to a pool that is closed while it lives: its next
 * transaction, on a pool opened after (whose lanes may sit at the same
 * address), takes a lane of the new pool, and its exit leaves the new
 * pool's lanes alone but for the one it bound there.
 */
struct stale {
	daxo_pool *p;
	pthread_barrier_t *bar;
	int bad;
};

static void *stale_worker(void *arg)
{
	struct stale *s = arg;

	if (!one_tx(s->p, 1)) /* bound to the first pool */
		s->bad++;
	pthread_barrier_wait(s->bar); /* main closes it, opens another */
	pthread_barrier_wait(s->bar);
	struct lane *ln = one_tx(s->p, 2); /* s->p is the new pool now */
	if (!ln || ln < s->p->lanes->lane ||
	    ln >= s->p->lanes->lane + TX_NLANES)
		s->bad++;
	pthread_barrier_wait(s->bar); /* main checks the new pool's lanes */
	pthread_barrier_wait(s->bar);
	return NULL;
}

static void test_binding_to_a_closed_pool(void **state)
{
	pthread_barrier_t bar;
	struct stale s;
	pthread_t th;

	(void)state;
	pthread_barrier_init(&bar, NULL, 2);
	s.p = make("lanes-old");
	s.bar = &bar;
	s.bad = 0;
	assert_int_equal(pthread_create(&th, NULL, stale_worker, &s), 0);
	pthread_barrier_wait(&bar);
	drop(s.p, "lanes-old");
	s.p = make("lanes-new");
	assert_int_equal(taken(s.p), 0);
	/* the main thread's own binding to the new pool */
	assert_non_null(one_tx(s.p, 3));
	assert_int_equal(taken(s.p), 1);
	pthread_barrier_wait(&bar);
	pthread_barrier_wait(&bar);
	assert_int_equal(taken(s.p), 2); /* the worker bound anew */
	pthread_barrier_wait(&bar);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(s.bad, 0);
	assert_int_equal(taken(s.p), 1); /* the main thread's stays */
	pthread_barrier_destroy(&bar);
	drop(s.p, "lanes-new");
}

/*
 * The floor (txint.h: THE WATERMARK W): a W scan and a commit that takes
 * its seq, in either order. A commit that takes its seq after a scan
 * raised the floor is above the scan's cap; a scan after a commit
 * published its lower bound keeps W below that commit's seq. Threads run
 * the two sides concurrently (Dekker's pattern: each stores, then loads);
 * here each order is taken in turn.
 */
static void test_scan_and_seq_order(void **state)
{
	daxo_pool *p = make("lanes-floor");
	struct lanes *l = p->lanes;
	daxo_tx *tx;
	uint64_t floor_seen;

	(void)state;
	/*
	 * The newest records in another lane (a thread that stays alive, so
	 * that this thread's lane is another): this lane's own order does
	 * not lift its seq above the scan's cap, only the floor does
	 */
	pthread_barrier_t bar;
	pthread_t th;
	struct job j = {p, &bar, 40, 1, 0, true};
	pthread_barrier_init(&bar, NULL, 2);
	assert_int_equal(pthread_create(&th, NULL, worker, &j), 0);
	pthread_barrier_wait(&bar); /* started */
	pthread_barrier_wait(&bar); /* done, alive */
	tx_sync(p); /* no record pending: only commits in flight hold W */
	assert_int_equal(daxo_tx_begin(p, &tx), 0);
	struct lane *ln = tx->lane;
	assert_true(atomic_load(&ln->top_seq) < tx_cap_now(l));
	for (unsigned round = 0; round < 3; round++) {
		/* the scan first: the commit's seq is above its cap */
		uint64_t cap = tx_cap_now(l);
		uint64_t seq = tx_take_seq(l, ln, 0, 0, &floor_seen);
		assert_true(seq > cap);
		assert_true(tx_compute_w(l, tx_cap_now(l)) < seq);
		atomic_store(&ln->inflight, 0);
		/* the commit first: the scan's W stays below its seq */
		seq = tx_take_seq(l, ln, 0, 0, &floor_seen);
		assert_true(tx_compute_w(l, tx_cap_now(l)) < seq);
		atomic_store(&ln->inflight, 0);
		/* a record's targets order the next commit that writes them */
		tx_touch_mark(l, 4096, 64, seq + 100);
		assert_true(tx_take_seq(l, ln, 0, tx_touch_max(l, 4100, 8),
					&floor_seen) > seq + 100);
		atomic_store(&ln->inflight, 0);
	}
	daxo_tx_abort(tx);
	pthread_barrier_wait(&bar);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(j.bad, 0);
	pthread_barrier_destroy(&bar);
	drop(p, "lanes-floor");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exiting_threads_give_lanes_back),
	    cmocka_unit_test(test_more_threads_than_lanes),
	    cmocka_unit_test(test_binding_to_a_closed_pool),
	    cmocka_unit_test(test_scan_and_seq_order),
	};

	test_env();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
