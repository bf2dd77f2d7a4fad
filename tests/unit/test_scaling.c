/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_scaling.c -- the cache lines threads share per operation, counted
 * like fences (lib/share.h, doc/SCALING.md).
 *
 * Two threads (16 in one case) run the same operation on their own objects
 * (or keys) in lock step -- a barrier before every operation, so that each
 * commit runs while the others commit too -- against libdaxo_count, whose
 * transaction modules, heap and keyed store count every access to state
 * more than one thread may touch (the lanes, the record slots others
 * read, the pool meta's W, the floor, the touch table, the heap's and the
 * store's atomics, the heap's mutexes). A write counts when another
 * thread touched the line since this thread last did (a transfer for
 * writing), a read when another thread wrote it since this thread last
 * read it. The commit path writes
 * no shared line: what remains is the scan for W that one commit in
 * several makes for all lanes (the floor, w_durable, and the lines of the
 * lanes it read), and what the keyed store's own layout shares (below).
 * Data the threads share themselves is not counted: here they share none.
 * On the commit path before lanes were bound and the shared counter went
 * (one CAS at begin, one fetch_add a commit) redo, undo and alloc cost
 * about one shared write an operation, and these tests fail.
 *
 * Prints writes and reads per operation; `meson test --verbose scaling`.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "daxo.h"
#include "share.h"

#include "test_common.h"

#define WARM 200  /* operations before counting: lanes bound, slots used */
#define OPS  2000 /* counted operations per thread */
#define MAX_THREADS 16

/*
 * Keys a thread's puts and gets cycle through, operations before counting
 * and counted: 64, WARM and OPS, or from DAXO_SCALING_KEYS and
 * DAXO_SCALING_OPS to measure larger working sets (doc/SCALING.md: with
 * thousands of keys a thread, the touch table's lines are shared; the
 * bounds below are for the default).
 */
static unsigned nkeys = 64, warm = WARM, ops = OPS;

struct thr {
	daxo_pool *p;
	int t;
	int (*op)(struct thr *c, unsigned i);
	daxo_oid obj;	/* the thread's object */
	daxo_oid link;	/* a published oid (alloc, txalloc) */
	daxo_oid *slot; /* where daxo_alloc publishes (in obj) */
	struct share_counts got;
	int err;
};

static pthread_barrier_t bar;

static int op_word(struct thr *c, unsigned i)
{
	uint64_t *w = daxo_direct(c->p, c->obj);
	uint64_t v = i;
	daxo_tx *tx;
	int r = daxo_tx_begin(c->p, &tx);

	if (!r)
		r = daxo_tx_write(tx, &w[0], &v, 8);
	return r ? r : daxo_tx_commit(tx);
}

static int op_redo(struct thr *c, unsigned i)
{
	uint64_t *w = daxo_direct(c->p, c->obj);
	uint64_t v[2] = {i, i + 1};
	daxo_tx *tx;
	int r = daxo_tx_begin(c->p, &tx);

	if (!r)
		r = daxo_tx_write(tx, &w[8], v, 16);
	return r ? r : daxo_tx_commit(tx);
}

/* undo_range -- a transaction that logs @len bytes at word @at and sets them */
static int undo_range(struct thr *c, unsigned i, unsigned at, size_t len)
{
	uint64_t *w = daxo_direct(c->p, c->obj);
	daxo_tx *tx;
	int r = daxo_tx_begin(c->p, &tx);

	if (!r)
		r = daxo_tx_add_range(tx, &w[at], len);
	if (r)
		return r;
	memset(&w[at], (int)i, len);
	return daxo_tx_commit(tx);
}

static int op_undo(struct thr *c, unsigned i)
{
	return undo_range(c, i, 16, 8);
}

static int op_undo_kib(struct thr *c, unsigned i)
{
	return undo_range(c, i, 64, 1024);
}

/* 3 KiB: more than a record holds, so the range is made durable in place */
static int op_undo_big(struct thr *c, unsigned i)
{
	return undo_range(c, i, 64, 3072);
}

static int op_alloc(struct thr *c, unsigned i)
{
	int r = daxo_alloc(c->p, 64, 1, c->slot);

	(void)i;
	return r ? r : daxo_free(c->p, c->slot);
}

static int op_txalloc(struct thr *c, unsigned i)
{
	daxo_oid n;
	daxo_tx *tx;
	int r = daxo_tx_begin(c->p, &tx);

	(void)i;
	if (!r)
		r = daxo_tx_alloc(tx, 64, 2, &n);
	if (!r && c->link)
		r = daxo_tx_free(tx, c->link);
	if (!r)
		r = daxo_tx_write(tx, c->slot, &n, 8);
	if (r) {
		daxo_tx_abort(tx);
		return r;
	}
	r = daxo_tx_commit(tx);
	if (!r)
		c->link = n;
	return r;
}

static int op_put(struct thr *c, unsigned i)
{
	char key[16], val[64];

	snprintf(key, sizeof(key), "t%d-k%u", c->t, i % nkeys);
	memset(val, 'a' + (int)(i % 26), sizeof(val));
	return daxo_put(c->p, key, strlen(key), val, sizeof(val));
}

/* a new key, then its del: an entry allocated and freed, a chain changed */
static int op_putdel(struct thr *c, unsigned i)
{
	char key[24], val[64];

	snprintf(key, sizeof(key), "t%d-new%u", c->t, i);
	memset(val, 'a' + (int)(i % 26), sizeof(val));
	int r = daxo_put(c->p, key, strlen(key), val, sizeof(val));
	return r ? r : daxo_del(c->p, key, strlen(key));
}

static int op_get(struct thr *c, unsigned i)
{
	char key[16], val[64];
	size_t len = sizeof(val);

	snprintf(key, sizeof(key), "t%d-k%u", c->t, i % nkeys);
	if (i < warm) /* the keys exist before counting begins */
		return op_put(c, i);
	return daxo_get(c->p, key, strlen(key), val, sizeof(val), &len);
}

static void *worker(void *arg)
{
	struct thr *c = arg;

	/* the threads' first allocations at once, as a pool of workers
	 * starting together makes them: each must get an arena of its own */
	pthread_barrier_wait(&bar);
	int r = daxo_alloc(c->p, 4096, 1, &c->obj);

	if (!r)
		c->slot = (daxo_oid *)daxo_direct(c->p, c->obj) + 200;
	for (unsigned i = 0; i < warm + ops; i++) {
		if (i == warm)
			share_reset();
		pthread_barrier_wait(&bar);
		if (!r)
			r = c->op(c, i);
	}
	share_get(&c->got);
	c->err = r;
	return NULL;
}

/* an operation and its bounds: shared-line writes and reads per operation */
struct scase {
	const char *name;
	int (*op)(struct thr *c, unsigned i);
	double max_writes, max_reads;
	unsigned keys;	  /* keys a thread, if not nkeys */
	unsigned threads; /* threads, if not 2 */
};

/*
 * The bounds: no commit path writes a shared line but for the W scan (one
 * commit in several, for every lane; its reads too), plus what the keyed
 * store's layout shares:
 * - put-64B: the store locks a stripe per key (256 of them, by hash): a
 *   put writes its stripe's line, which a key of the other thread maps to
 *   with probability 1/256 a key -- here 64 keys a thread, so about a
 *   fifth of the puts find their stripe last written by the other thread.
 * - put-64B-4k: the same with 4,096 keys a thread, where both threads use
 *   every stripe: about half the puts find their stripe's line last
 *   written by the other thread (0.5 + the scan's 0.14). The words a put
 *   writes under its stripe lock stay out of the touch table (txint.h:
 *   GUARDED WRITES): through the table, whose lines then hold entries of
 *   both threads' data, this case wrote 0.9-1.0 shared lines a put.
 * - put+del: a new key and its del take the key's stripe line (about
 *   every other op: new keys land on random stripes), and the scans and
 *   slot reuse of two commits: about 0.83 lines an operation here; 1.8-2.1
 *   when each record also wrote the touch table's entries of the lines it
 *   wrote, 0.9 while a volatile total of keys took every insert and
 *   delete.
 * - alloc+free: two commits an operation, so twice a commit's share of the
 *   scans (1/7 a commit: txint.h, THE WATERMARK W): 0.31-0.47 here,
 *   nothing from the heap, each thread allocating from its own arena's
 *   runs (bound 0.9 before: it allowed a whole shared line a commit).
 *   The workers' first allocations are made at once: two threads that
 *   picked the same arena together shared it, 3.6-3.9 an op.
 * - alloc+free-16t: the same with 16 threads, more than the 8 arenas the
 *   heap had: two threads to an arena wrote the same run's bitmap words,
 *   counters and touch-table entries, 3.6-4.7 shared lines an operation.
 *   With an arena a thread (up to 64) only the scans remain, 0.34-0.54 on
 *   this 2-CPU machine (16 threads preempted in mid-commit hold W back;
 *   the scan's reads grow with the lanes it reads).
 * (doc/SCALING.md)
 */
static const struct scase cases[] = {
    {"one-word", op_word, 0.01, 0.01, 0, 0},
    {"redo", op_redo, 0.35, 0.35, 0, 0},
    {"undo", op_undo, 0.35, 0.35, 0, 0},
    {"undo-1KiB", op_undo_kib, 0.35, 0.35, 0, 0},
    {"undo-3KiB", op_undo_big, 0.35, 0.35, 0, 0},
    {"alloc+free", op_alloc, 0.5, 0.5, 0, 0},
    {"alloc+free-16t", op_alloc, 0.8, 1.6, 0, 16},
    {"tx-alloc", op_txalloc, 0.35, 0.35, 0, 0},
    {"put-64B", op_put, 0.7, 0.35, 0, 0},
    {"put-64B-4k", op_put, 0.8, 0.35, 4096, 0},
    {"put+del", op_putdel, 1.1, 0.6, 0, 0},
    {"get-64B", op_get, 0.0, 0.35, 0, 0}, /* a get writes nothing at all */
};

/*
 * one_run -- the threads through one case's operation in lock step, once;
 * the shared-line writes and reads per op in *@w and *@r
 */
static void one_run(const struct scase *sc, double *w, double *r)
{
	const char *path = test_pool_path("scaling");
	unsigned nt = sc->threads ? sc->threads : 2;
	struct thr c[MAX_THREADS];
	pthread_t th[MAX_THREADS];
	daxo_pool *p;

	unsigned keys0 = nkeys, warm0 = warm;
	if (sc->keys) {
		nkeys = sc->keys;
		warm = nkeys + WARM; /* every key put before counting */
	}
	unlink(path);
	assert_int_equal(daxo_create(path, "scaling", 64ull << 20, 0600, &p),
			 0);
	pthread_barrier_init(&bar, NULL, nt);
	for (unsigned t = 0; t < nt; t++) {
		memset(&c[t], 0, sizeof(c[t]));
		c[t].p = p;
		c[t].t = (int)t;
		c[t].op = sc->op;
		assert_int_equal(pthread_create(&th[t], NULL, worker, &c[t]),
				 0);
	}
	for (unsigned t = 0; t < nt; t++)
		assert_int_equal(pthread_join(th[t], NULL), 0);
	pthread_barrier_destroy(&bar);
	nkeys = keys0;
	warm = warm0;
	assert_int_equal(daxo_close(p), 0);
	unlink(path);
	uint64_t sw = 0, sr = 0;
	for (unsigned t = 0; t < nt; t++) {
		assert_int_equal(c[t].err, 0);
		sw += c[t].got.writes;
		sr += c[t].got.reads;
	}
	*w = (double)sw / ((double)nt * ops);
	*r = (double)sr / ((double)nt * ops);
	printf("# %-10s shared-line writes/op %.3f, reads/op %.3f "
	       "(%u threads, %u ops each)\n",
	       sc->name, *w, *r, nt, ops);
	if (getenv("SHARE_DUMP"))
		share_dump();
}

/*
 * test_case -- one case, judged on the best of up to three runs. The
 * counts are exact when both threads run; a thread preempted in the
 * middle of a commit (a loaded machine, the suite's other tests) makes
 * the other one wait for W or help its record, which writes lines the
 * design does not write on the common path. A run within the bounds
 * passes; the old commit path (about one shared write per commit) fails
 * every run.
 */
static void test_case(void **state)
{
	const struct scase *sc = *state;
	double w = 0, r = 0;

	/*
	 * Under TSan every thread runs several times slower and unevenly, so
	 * more commits find the other lane's record in their way (help, W):
	 * redo measured 0.30-0.36 against its 0.35; under QEMU's TCG
	 * (DAXO_TEST_EMULATED, tests/qemu/guest.sh) the threads' timing is
	 * the emulator's. The figures are shown; the bounds are judged in the
	 * native builds.
	 */
#ifdef __SANITIZE_THREAD__
	one_run(sc, &w, &r);
	return;
#endif
	if (getenv("DAXO_TEST_EMULATED")) {
		one_run(sc, &w, &r);
		return;
	}
	for (int attempt = 0; attempt < 3; attempt++) {
		one_run(sc, &w, &r);
		if (w <= sc->max_writes && r <= sc->max_reads)
			return;
	}
	fail_msg("%s: %.3f shared-line writes/op (bound %.2f), %.3f reads/op "
		 "(bound %.2f) in each of three runs",
		 sc->name, w, sc->max_writes, r, sc->max_reads);
}

int main(void)
{
	struct CMUnitTest tests[sizeof(cases) / sizeof(cases[0])];
	const char *k = getenv("DAXO_SCALING_KEYS");
	const char *o = getenv("DAXO_SCALING_OPS");

	if (k && atoi(k) > 0) {
		nkeys = (unsigned)atoi(k);
		warm = nkeys + WARM; /* every key put before counting */
	}
	if (o && atoi(o) > 0)
		ops = (unsigned)atoi(o);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		tests[i] = (struct CMUnitTest){
		    .name = cases[i].name,
		    .test_func = test_case,
		    .initial_state = (void *)&cases[i],
		};
	test_env();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
