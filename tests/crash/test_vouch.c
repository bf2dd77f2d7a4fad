/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_vouch.c -- rule 2 of lib/tx.h with another commit in flight.
 *
 * A redo record R1 writes a range and stays pending; then an undo-logged
 * transaction U changes the same range in place and commits. U's commit
 * helps R1 (flushes it) but the W its record carries cannot cover R1 while
 * another lane has a commit in flight whose lower bound is older than R1 --
 * a thread that took its seq long ago and lost the CPU, or whose bound is
 * the pending record just helped. A SIGKILL right after U then left R1 to
 * be replayed over U's change (seen under QEMU: money not conserved, a
 * list length one too high). The writer here fakes that commit in flight
 * (lanes.lane[63].inflight = 1), kills itself after U, and the parent
 * checks after recovery that the range holds U's bytes: for an 8-byte
 * range (U's record carries its bytes, as every undo range that fits the
 * record does: no help needed) and a 2 KiB one (changed in place: U waits
 * for the commit in flight to end -- a thread clears the fake one after
 * 20 ms -- and publishes W). The third case is an object filled in place
 * by tx_fill (a keyed-store entry too large for the record) in memory R1
 * wrote before it was freed: the commit must wait for W as for the 2 KiB
 * range. Built also against the library with DAXO_PLANT_VOUCH_SHORT (an
 * in-place commit that keeps a W short of what it helped): there the
 * check must fail for the two in-place cases.
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
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "daxo.h"
#include "pool.h"
#include "tx.h"
#include "txint.h"

#include "../unit/test_common.h"

#define BIG 2048 /* more than TX_VOUCH_COPY_MAX: the ensure_w path */

struct root {
	uint64_t x;
	uint64_t pad[7];
	unsigned char big[BIG];
};

static _Atomic uint64_t *fake;

static void *clear_later(void *arg)
{
	(void)arg;
	usleep(20000);
	atomic_store(fake, 0);
	return NULL;
}

/*
 * fake_inflight -- a commit in flight in lane 63 since seq 1, which holds
 * W back; ended 20 ms later by a thread if @end (else never)
 */
static void fake_inflight(daxo_pool *p, bool end)
{
	struct lanes *l = p->lanes;
	pthread_t th;

	atomic_store(&l->hw, TX_NLANES);
	atomic_fetch_or(&l->used, 1ull << (TX_NLANES - 1)); /* scanned */
	fake = &l->lane[TX_NLANES - 1].inflight;
	atomic_store(fake, 1);
	if (end && pthread_create(&th, NULL, clear_later, NULL))
		_exit(5);
}

#define OBJ 4096 /* the filled object: more than TX_FILL_INLINE */

/*
 * the writer of the third case: an object O, R1 writing its first bytes, a
 * fake commit in flight, O freed, a new object in O's memory filled in
 * place, SIGKILL
 */
static void filler(const char *path)
{
	static unsigned char two[OBJ];
	daxo_pool *p;
	daxo_oid ro, o, o2;
	daxo_tx *tx;
	unsigned char one[16];

	memset(one, 1, sizeof(one));
	memset(two, 2, sizeof(two));
	if (daxo_open(path, "vouch", 0, &p) ||
	    daxo_root(p, sizeof(struct root), &ro) ||
	    daxo_alloc(p, OBJ, 7, &o))
		_exit(3);
	struct root *r = daxo_direct(p, ro);
	/* R1, pending: O's first 16 bytes; the parent finds O in pad[0] */
	if (daxo_tx_begin(p, &tx) || daxo_tx_write(tx, &r->pad[0], &o, 8) ||
	    daxo_tx_write(tx, daxo_direct(p, o), one, sizeof(one)) ||
	    daxo_tx_commit(tx))
		_exit(4);
	fake_inflight(p, true);
	o2 = o;
	if (daxo_free(p, &o2))
		_exit(6);
	struct tx_piece pc = {two, OBJ};
	if (daxo_tx_begin(p, &tx) || tx_alloc_raw(tx, OBJ, 7, &o2))
		_exit(7);
	if (o2 != o) /* the allocator gave other memory: nothing to test */
		_exit(9);
	if (tx_fill(tx, o2, &pc, 1) || daxo_tx_commit(tx))
		_exit(8);
	kill(getpid(), SIGKILL);
	_exit(10);
}

/* the writer: R1, a fake commit in flight, U, SIGKILL */
static void writer(const char *path, size_t len)
{
	daxo_pool *p;
	daxo_oid ro;
	daxo_tx *tx;
	unsigned char one[BIG], two[BIG];

	memset(one, 1, sizeof(one));
	memset(two, 2, sizeof(two));
	if (daxo_open(path, "vouch", 0, &p) ||
	    daxo_root(p, sizeof(struct root), &ro))
		_exit(3);
	struct root *r = daxo_direct(p, ro);
	void *target = len == 8 ? (void *)&r->x : (void *)r->big;

	/*
	 * R1: a redo write, applied and left pending in this lane (16 bytes
	 * for the 8-byte range: one word alone would commit without a record)
	 */
	if (daxo_tx_begin(p, &tx) ||
	    daxo_tx_write(tx, target, one, len == 8 ? 16 : len) ||
	    daxo_tx_commit(tx))
		_exit(4);
	/* a commit in flight in another lane since before R1 */
	fake_inflight(p, len > 8);
	/* U: the same range changed in place, undo-logged */
	if (daxo_tx_begin(p, &tx) || daxo_tx_add_range(tx, target, len))
		_exit(6);
	memcpy(target, two, len);
	if (daxo_tx_commit(tx))
		_exit(7);
	kill(getpid(), SIGKILL);
	_exit(8);
}

static void run(size_t len)
{
	const char *path = test_pool_path(len == 8	 ? "vouch8"
					  : len == BIG ? "vouch1k"
							 : "vouchfill");
	daxo_pool *p;
	daxo_oid ro;
	unsigned char want[BIG];
	int st;

	unlink(path);
	assert_int_equal(daxo_create(path, "vouch", 16ull << 20, 0600, &p), 0);
	assert_int_equal(daxo_root(p, sizeof(struct root), &ro), 0);
	assert_int_equal(daxo_close(p), 0);

	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (len == OBJ)
			filler(path);
		writer(path, len);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFSIGNALED(st))
		fprintf(stderr, "writer exited %d\n", WEXITSTATUS(st));
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);

	assert_int_equal(daxo_open(path, "vouch", 0, &p), 0);
	assert_int_equal(daxo_root(p, 0, &ro), 0);
	struct root *r = daxo_direct(p, ro);
	const void *got = len == 8	? (void *)&r->x
			  : len == BIG ? (void *)r->big
				       : daxo_direct(p, r->pad[0]);
	len = len == OBJ ? 16 : len; /* R1's bytes */
	memset(want, 2, sizeof(want));
	int same = memcmp(got, want, len) == 0;
	assert_int_equal(daxo_close(p), 0);
	unlink(path);
#ifdef PLANTED
	/* in place with a short W: R1 replayed over U */
	assert_true(same == (len == 8));
#else
	assert_true(same);
#endif
}

static void test_small_range_rides_in_the_record(void **state)
{
	(void)state;
	run(8);
}

static void test_large_range_waits_for_w(void **state)
{
	(void)state;
	run(BIG);
}

static void test_filled_object_waits_for_w(void **state)
{
	(void)state;
	run(OBJ);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_small_range_rides_in_the_record),
	    cmocka_unit_test(test_large_range_waits_for_w),
	    cmocka_unit_test(test_filled_object_waits_for_w),
	};

	test_env();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
