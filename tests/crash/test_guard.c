/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_guard.c -- the keyed store's guarded writes (lib/txint.h: GUARDED
 * WRITES) after a SIGKILL.
 *
 * Records of the keyed store leave the words they write under a stripe
 * lock out of the touch table; the stripe clock orders them instead. Each
 * case below kills a writer right after the step that relies on what the
 * table is told instead, and checks after recovery (which replays every
 * record above the watermark W, in seq order) that no older record was
 * replayed over newer bytes:
 *
 *  free:     a value replaced in place by a record R1 (above W), the key
 *            deleted, its entry's memory allocated again as a plain object,
 *            written and made durable with daxo_persist. Unless the delete
 *            marked the entry in the table, daxo_persist takes the range
 *            for final and recovery replays R1 into the object.
 *  one-word: a key made with an 8-byte value (its record above W), then the
 *            value replaced: the one-word commit (no record) may store in
 *            place only if the stripe clock is at or below the durable W,
 *            else recovery replays the older record over it.
 *  new:      a thread that keeps an old lane (its newest seq low) puts a
 *            new key whose entry lands in memory that another lane's
 *            record R_old wrote before the memory was freed: the entry's
 *            record must take a seq above R_old through the table (the
 *            stripe clock knows nothing of it), else replay writes R_old's
 *            bytes over the entry. (Here the heap's bitmap word, which the
 *            free and the entry's allocation both write, orders the two
 *            records as well: a build that skipped the table for the new
 *            entry's bytes passes this case, so it has no planted twin.)
 *
 *  sum:      (lib/tx.h: SUMMED FILLS) a key put (R0: entry E0), put again
 *            with a value of another length (R1: a new entry X written in
 *            place under a SUM, E0 freed -- R1 is the newest record to
 *            write E0's bitmap bit), deleted (X freed), X's memory
 *            allocated as a plain object and written without a persist:
 *            at recovery R1's SUM no longer matches X. Unless the delete
 *            named X in a NOTE, recovery takes R1 for torn and drops it,
 *            replays R0 over E0's bit and leaks E0 (counted by type).
 *
 * The cases run on pools of format 1.4, where every entry's first record
 * carries a COPY of it, as the guarded writes were built for (on 1.5 a
 * small entry is named by a SUM instead, and the one-word case would no
 * longer see an older record replayed over its store); the sum case on
 * 1.5. Built also against the library with DAXO_PLANT_GUARD_FREE_UNMARKED,
 * DAXO_PLANT_GUARD_ONE_WORD and DAXO_PLANT_SUM_FREE_UNNOTED (PLANT_CASE
 * names the case): there that case's check must fail and the others pass.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "daxo.h"
#include "pool.h"
#include "kv.h"

#include "../unit/test_common.h"

enum { CASE_FREE = 1, CASE_ONE_WORD, CASE_NEW, CASE_SUM };

#define VLEN 64	  /* a value replaced in place (below TX_FILL_INLINE) */
#define ENTRY 128 /* its entry: header, 8-byte key padded to a line, value */
#define SUM_ENTRY 264 /* the sum case's X: a 200-byte value */

struct root {
	daxo_oid obj; /* free: the object in the entry's memory */
	daxo_oid o;   /* new: the memory R_old wrote */
	uint64_t pad[6];
};

static void put(daxo_pool *p, const char *k, int fill, size_t vlen, int code)
{
	unsigned char v[256];

	memset(v, fill, sizeof(v));
	if (daxo_put(p, k, strlen(k), v, vlen))
		_exit(code);
}

static int where_cb(const void *val, size_t vlen, void *arg)
{
	(void)vlen;
	*(const void **)arg = val;
	return 0;
}

/* free: R1 in place, del, the entry's memory as an object, SIGKILL */
static void free_writer(daxo_pool *p, struct root *r)
{
	const void *val = NULL;
	daxo_oid o;

	put(p, "key-free", 1, VLEN, 10);
	daxo_drain(p); /* W past the entry's first record */
	put(p, "key-free", 2, VLEN, 11); /* R1: in place, above W */
	if (daxo_get_view(p, "key-free", 8, where_cb, &val) || !val)
		_exit(12);
	uint64_t voff = (uint64_t)((const char *)val - (const char *)p->base);
	if (daxo_del(p, "key-free", 8))
		_exit(13);
	if (daxo_alloc(p, ENTRY, 9, &o))
		_exit(14);
	if (voff < o || voff >= o + ENTRY)
		_exit(15); /* other memory: nothing would be tested */
	unsigned char *obj = daxo_direct(p, o);
	memset(obj, 3, ENTRY);
	daxo_persist(p, obj, ENTRY);
	r->obj = o;
	daxo_persist(p, &r->obj, sizeof(r->obj));
	kill(getpid(), SIGKILL);
}

/* one-word: a key with an 8-byte value, replaced at once, SIGKILL */
static void one_word_writer(daxo_pool *p)
{
	put(p, "key-word", 1, 8, 20);
	put(p, "key-word", 2, 8, 21);
	kill(getpid(), SIGKILL);
}

/* sum: R0, R1 (a SUM of X, E0 freed), del, X rewritten unpersisted */
static void sum_writer(daxo_pool *p)
{
	const void *val = NULL;

	/*
	 * E0 and X of different size classes, so that X's class hands out X;
	 * a run of X's class made first (a new run makes every earlier
	 * record final)
	 */
	put(p, "key-run", 3, 200, 46);
	daxo_drain(p);
	put(p, "key-sum", 1, 48, 40);  /* R0: E0 */
	put(p, "key-sum", 2, 200, 41); /* R1: X, E0 freed */
	if (daxo_get_view(p, "key-sum", 7, where_cb, &val) || !val)
		_exit(42);
	uint64_t voff = (uint64_t)((const char *)val - (const char *)p->base);
	if (daxo_del(p, "key-sum", 7))
		_exit(43);
	/* the same thread's arena: X's slot comes back among the first */
	for (int n = 0; n < 4; n++) {
		daxo_oid o;
		if (daxo_alloc(p, SUM_ENTRY, 9, &o))
			_exit(44);
		if (voff >= o && voff < o + SUM_ENTRY) {
			memset(daxo_direct(p, o), 5, SUM_ENTRY);
			kill(getpid(), SIGKILL);
		}
	}
	_exit(45); /* X not handed out: nothing would be tested */
}

struct newer {
	daxo_pool *p;
	struct root *r;
	pthread_barrier_t *b;
};

/* new, the thread with the old lane: O first, the key last */
static void *new_thread(void *arg)
{
	struct newer *n = arg;
	daxo_oid o;

	if (daxo_alloc(n->p, ENTRY, 9, &o))
		_exit(30);
	n->r->o = o;
	daxo_persist(n->p, &n->r->o, sizeof(o));
	pthread_barrier_wait(n->b); /* the main thread writes O, frees it */
	pthread_barrier_wait(n->b);
	const void *val = NULL;
	put(n->p, "key-new", 4, VLEN, 31);
	if (daxo_get_view(n->p, "key-new", 7, where_cb, &val) || !val)
		_exit(32);
	uint64_t voff =
	    (uint64_t)((const char *)val - (const char *)n->p->base);
	if (voff < o || voff >= o + ENTRY)
		_exit(33); /* other memory: nothing would be tested */
	kill(getpid(), SIGKILL);
	return NULL;
}

static void new_writer(daxo_pool *p, struct root *r)
{
	pthread_barrier_t b;
	pthread_t th;
	struct newer n = {p, r, &b};
	unsigned char ones[ENTRY];
	daxo_tx *tx;

	memset(ones, 0x11, sizeof(ones));
	pthread_barrier_init(&b, NULL, 2);
	if (pthread_create(&th, NULL, new_thread, &n))
		_exit(34);
	pthread_barrier_wait(&b);
	/* R_old: O's every byte, by this thread's lane */
	daxo_oid o = r->o;
	if (daxo_tx_begin(p, &tx) ||
	    daxo_tx_write(tx, daxo_direct(p, o), ones, sizeof(ones)) ||
	    daxo_tx_commit(tx) || daxo_free(p, &o))
		_exit(35);
	pthread_barrier_wait(&b);
	pthread_join(th, NULL);
	_exit(36);
}

static void writer(const char *path, int c)
{
	daxo_pool *p;
	daxo_oid ro;

	if (daxo_open(path, "guard", 0, &p) ||
	    daxo_root(p, sizeof(struct root), &ro))
		_exit(3);
	struct root *r = daxo_direct(p, ro);
	if (c == CASE_FREE)
		free_writer(p, r);
	else if (c == CASE_ONE_WORD)
		one_word_writer(p);
	else if (c == CASE_SUM)
		sum_writer(p);
	else
		new_writer(p, r);
	_exit(4);
}

/* check -- after recovery: does the case's data hold its newest bytes? */
static bool check(daxo_pool *p, int c)
{
	unsigned char got[ENTRY], want[ENTRY];
	size_t vlen = 0;
	daxo_oid ro;

	if (daxo_root(p, 0, &ro))
		return false;
	struct root *r = daxo_direct(p, ro);
	if (c == CASE_FREE) {
		memset(want, 3, sizeof(want));
		if (r->obj && !memcmp(daxo_direct(p, r->obj), want, ENTRY))
			return true;
		fprintf(stderr, "# the object does not hold its bytes\n");
		return false;
	}
	if (c == CASE_SUM) {
		/* the keys' entries, counted by type: "seed", "key-run" */
		unsigned n = 0;
		for (daxo_oid o = daxo_first(p, DAXO_TYPE_ANY); o;
		     o = daxo_next(p, o, DAXO_TYPE_ANY))
			n += daxo_oid_type(p, o) == KV_TYPE_ENTRY;
		if (n == 2 && daxo_get(p, "key-sum", 7, got, sizeof(got),
				       &vlen) == -ENOENT)
			return true;
		fprintf(stderr, "# %u entries for 2 keys: one leaked\n", n);
		return false;
	}
	const char *k = c == CASE_ONE_WORD ? "key-word" : "key-new";
	int e = daxo_get(p, k, strlen(k), got, sizeof(got), &vlen);
	if (e) {
		fprintf(stderr, "# %s: daxo_get = %d (%s)\n", k, e,
			daxo_errormsg());
		return false;
	}
	memset(want, c == CASE_ONE_WORD ? 2 : 4, sizeof(want));
	if (vlen == (c == CASE_ONE_WORD ? 8u : VLEN) && !memcmp(got, want, vlen))
		return true;
	fprintf(stderr, "# %s: %zu bytes, first 0x%02x: an older value\n", k,
		vlen, vlen ? got[0] : 0);
	return false;
}

static void run(int c)
{
	char tag[32];
	daxo_pool *p;
	daxo_oid ro;
	int st;

	snprintf(tag, sizeof(tag), "guard%d", c);
	const char *path = test_pool_path(tag);
	unlink(path);
	pool_create_minor = c == CASE_SUM ? POOL_FMT_MINOR : 4;
	assert_int_equal(daxo_create(path, "guard", 16ull << 20, 0600, &p), 0);
	pool_create_minor = POOL_FMT_MINOR;
	assert_int_equal(daxo_root(p, sizeof(struct root), &ro), 0);
	/* the store exists: the cases' puts make no anchor or table */
	assert_int_equal(daxo_put(p, "seed", 4, "x", 1), 0);
	assert_int_equal(daxo_close(p), 0);

	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		writer(path, c);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFSIGNALED(st))
		fprintf(stderr, "# writer exited %d\n", WEXITSTATUS(st));
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);

	assert_int_equal(daxo_open(path, "guard", 0, &p), 0);
	bool ok = check(p, c);
	assert_int_equal(daxo_close(p), 0);
	unlink(path);
#ifdef PLANT_CASE
	assert_true(ok == (c != PLANT_CASE));
#else
	assert_true(ok);
#endif
}

static void test_freed_entry_marked(void **state)
{
	(void)state;
	run(CASE_FREE);
}

static void test_one_word_asks_the_clock(void **state)
{
	(void)state;
	run(CASE_ONE_WORD);
}

static void test_new_entry_orders_after_old_writes(void **state)
{
	(void)state;
	run(CASE_NEW);
}

static void test_sum_met_by_the_free(void **state)
{
	(void)state;
	run(CASE_SUM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_freed_entry_marked),
	    cmocka_unit_test(test_one_word_asks_the_clock),
	    cmocka_unit_test(test_new_entry_orders_after_old_writes),
	    cmocka_unit_test(test_sum_met_by_the_free),
	};

	test_env();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
