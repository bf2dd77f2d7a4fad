/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_sigkill.c -- real process crashes: a writer process runs bank
 * transfers (undo and redo style), pushes and pops a linked list with
 * transactional alloc/free, and does atomic alloc/free into root slots; the
 * parent SIGKILLs it at a random moment, reopens the pool (recovery runs) and
 * checks the invariants: money is conserved, the list is intact and its
 * length matches the count kept beside it, and iteration finds exactly the
 * live objects -- no leaked and no ghost objects. A second thread mixes
 * transactional writes with daxo_persist'd direct stores and idles now and
 * then (see mixer()). Several rounds; the seed is
 * printed so a failure can be replayed (DAXO_SEED=...).
 */
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daxo.h"
#include "../unit/test_common.h"

#define NACC 16
#define NSLOT 32
#define START 1000
#define NODE_TYPE 11
#define SLOT_TYPE 12

struct root {
	uint64_t acc[NACC];
	uint64_t transfers;
	daxo_oid head;
	uint64_t list_len;
	daxo_oid slot[NSLOT];
	uint64_t mixed;      /* the mixer thread's counter */
	uint64_t mixed_pad[7];
	uint64_t acc2[NACC]; /* the second bank, moved by the mixer too */
};

/* shared with the parent: the mixer's last acknowledged (durable) value */
static volatile uint64_t *acked;

struct mixarg {
	daxo_pool *p;
	struct root *r;
	unsigned seed;
};

/*
 * mixer -- a second thread with its own lane: it alternates committed
 * transactional writes of a counter with direct stores made durable with
 * daxo_persist, moves money in a second bank, and pauses now and then so
 * that its lane sits idle with its last record pending. After a crash the
 * counter must be at least the last value acknowledged: a transaction
 * replayed over a persisted store would take it back.
 */
static void *mixer(void *arg)
{
	struct mixarg *m = arg;
	struct root *r = m->r;
	daxo_tx *tx;

	for (uint64_t it = 0;; it++) {
		uint64_t v = r->mixed + 1;
		if (it % 3 == 1) {
			/* one word: committed without a record when it can be */
			if (daxo_tx_begin(m->p, &tx))
				_exit(7);
			daxo_tx_write(tx, &r->mixed, &v, 8);
			if (daxo_tx_commit(tx))
				_exit(8);
		} else if (it % 3 == 0) {
			if (daxo_tx_begin(m->p, &tx))
				_exit(7);
			daxo_tx_write(tx, &r->mixed, &v, 8);
			unsigned i = (unsigned)rand_r(&m->seed) % NACC,
				 j = (unsigned)rand_r(&m->seed) % NACC;
			uint64_t amt = r->acc2[i] / 2;
			uint64_t ni = r->acc2[i] - amt, nj = r->acc2[j] + amt;
			if (i == j)
				ni = nj = r->acc2[i];
			daxo_tx_write(tx, &r->acc2[i], &ni, 8);
			daxo_tx_write(tx, &r->acc2[j], &nj, 8);
			if (daxo_tx_commit(tx))
				_exit(8);
		} else {
			r->mixed = v;
			daxo_persist(m->p, &r->mixed, 8);
		}
		*acked = v;
		if (rand_r(&m->seed) % 64 == 0)
			usleep(1000 + (unsigned)rand_r(&m->seed) % 3000);
	}
	return NULL;
}

struct node {
	daxo_oid next;
	uint64_t value;
	uint64_t check;
	char payload[40];
};

static uint64_t node_check(uint64_t v)
{
	return v * 0x9e3779b97f4a7c15ull ^ 0xdeadbeef;
}

static int fail(const char *what, unsigned long long a, unsigned long long b)
{
	fprintf(stderr, "FAIL: %s (%llu vs %llu)\n", what, a, b);
	return 1;
}

/* writer -- runs until killed */
static void writer(const char *path, unsigned seed)
{
	daxo_pool *p;
	daxo_oid ro;
	daxo_tx *tx;

	if (daxo_open(path, "sigkill", 0, &p) || daxo_root(p, 0, &ro))
		_exit(3);
	struct root *r = daxo_direct(p, ro);
	srand(seed);
	static struct mixarg m;
	pthread_t th;
	m = (struct mixarg){p, r, seed ^ 0x5555};
	if (pthread_create(&th, NULL, mixer, &m))
		_exit(9);
	for (uint64_t it = 0;; it++) {
		int op = rand() % 5;
		unsigned i = (unsigned)rand() % NACC, j = (unsigned)rand() % NACC;
		if (daxo_tx_begin(p, &tx))
			_exit(4);
		if (op == 0) { /* undo-style transfer */
			uint64_t amt = r->acc[i] ? (uint64_t)rand() % r->acc[i] : 0;
			daxo_tx_add_range(tx, &r->acc[i], 8);
			daxo_tx_add_range(tx, &r->acc[j], 8);
			daxo_tx_add_range(tx, &r->transfers, 8);
			r->acc[i] -= amt;
			r->acc[j] += amt;
			r->transfers++;
		} else if (op == 1) { /* redo-style transfer */
			uint64_t amt = r->acc[i] ? (uint64_t)rand() % r->acc[i] : 0;
			uint64_t ni = r->acc[i] - amt, nj = r->acc[j] + amt;
			uint64_t nt = r->transfers + 1;
			if (i == j)
				nj = ni = r->acc[i];
			daxo_tx_write(tx, &r->acc[i], &ni, 8);
			daxo_tx_write(tx, &r->acc[j], &nj, 8);
			daxo_tx_write(tx, &r->transfers, &nt, 8);
		} else if (op == 2 || (op == 3 && !r->head)) { /* push */
			daxo_oid n;
			if (daxo_tx_alloc(tx, sizeof(struct node), NODE_TYPE, &n) ==
			    0) {
				struct node *nd = daxo_direct(p, n);
				nd->next = r->head;
				nd->value = it;
				nd->check = node_check(it);
				memset(nd->payload, (int)it, sizeof(nd->payload));
				uint64_t len = r->list_len + 1;
				daxo_tx_write(tx, &r->head, &n, 8);
				daxo_tx_write(tx, &r->list_len, &len, 8);
			}
		} else if (op == 3) { /* pop */
			struct node *nd = daxo_direct(p, r->head);
			daxo_oid next = nd->next;
			uint64_t len = r->list_len - 1;
			daxo_tx_free(tx, r->head);
			daxo_tx_add_range(tx, &r->list_len, 8);
			r->list_len = len;
			daxo_tx_write(tx, &r->head, &next, 8);
		}
		int ret = daxo_tx_commit(tx);
		if (ret && ret != -ENOSPC) {
			fprintf(stderr, "writer: op %d: commit: %s\n", op,
				daxo_errormsg());
			_exit(5);
		}
		if (op == 4) { /* atomic alloc or free into a root slot */
			unsigned k = (unsigned)rand() % NSLOT;
			ret = r->slot[k]
					  ? daxo_free(p, &r->slot[k])
					  : daxo_alloc(p, 64 + (uint64_t)rand() % 3000,
						       SLOT_TYPE, &r->slot[k]);
			if (ret && ret != -ENOSPC) {
				fprintf(stderr, "writer: atomic: %s\n",
					daxo_errormsg());
				_exit(6);
			}
		}
	}
}

static int verify(const char *path, uint64_t *transfers)
{
	daxo_pool *p;
	daxo_oid ro;
	int bad = 0;

	if (daxo_open(path, "sigkill", 0, &p)) {
		fprintf(stderr, "FAIL: reopen: %s\n", daxo_errormsg());
		return 1;
	}
	if (daxo_root(p, 0, &ro)) {
		fprintf(stderr, "FAIL: root: %s\n", daxo_errormsg());
		daxo_close(p);
		return 1;
	}
	struct root *r = daxo_direct(p, ro);
	uint64_t sum = 0;
	for (int i = 0; i < NACC; i++)
		sum += r->acc[i];
	if (sum != (uint64_t)NACC * START)
		bad |= fail("money not conserved", sum, (uint64_t)NACC * START);
	uint64_t n = 0;
	for (daxo_oid o = r->head; o && n <= r->list_len + 1; n++) {
		if (daxo_oid_type(p, o) != NODE_TYPE) {
			bad |= fail("list node is not a live node", o, n);
			break;
		}
		struct node *nd = daxo_direct(p, o);
		if (nd->check != node_check(nd->value)) {
			bad |= fail("list node contents torn", o, nd->value);
			break;
		}
		o = nd->next;
	}
	if (n != r->list_len)
		bad |= fail("list length", n, r->list_len);
	uint64_t live = 0;
	for (daxo_oid o = daxo_first(p, NODE_TYPE); o;
	     o = daxo_next(p, o, NODE_TYPE))
		live++;
	if (live != r->list_len)
		bad |= fail("leaked or ghost list nodes", live, r->list_len);
	uint64_t slots = 0, slive = 0;
	for (int k = 0; k < NSLOT; k++) {
		if (!r->slot[k])
			continue;
		slots++;
		if (daxo_oid_type(p, r->slot[k]) != SLOT_TYPE)
			bad |= fail("slot points at a dead object", r->slot[k],
				    (uint64_t)k);
	}
	for (daxo_oid o = daxo_first(p, SLOT_TYPE); o;
	     o = daxo_next(p, o, SLOT_TYPE))
		slive++;
	if (slots != slive)
		bad |= fail("leaked or ghost atomic objects", slive, slots);
	uint64_t sum2 = 0;
	for (int i = 0; i < NACC; i++)
		sum2 += r->acc2[i];
	if (sum2 != (uint64_t)NACC * START)
		bad |= fail("second bank: money not conserved", sum2,
			    (uint64_t)NACC * START);
	if (r->mixed < *acked)
		bad |= fail("acknowledged counter went back", r->mixed, *acked);
	*transfers = r->transfers;
	daxo_close(p);
	return bad;
}

int main(void)
{
	const char *path;
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	int rounds = getenv("DAXO_ROUNDS") ? atoi(getenv("DAXO_ROUNDS")) : 25;
	daxo_pool *p;
	daxo_oid ro;
	uint64_t transfers = 0;

	test_env();
	if (getenv("DAXO_SEED"))
		seed = (unsigned)strtoul(getenv("DAXO_SEED"), NULL, 0);
	printf("seed %u (replay with DAXO_SEED=%u), %d rounds\n", seed, seed,
	       rounds);
	srand(seed);
	acked = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		     -1, 0);
	if (acked == MAP_FAILED)
		return 1;
	path = test_pool_path("sigkill");
	if (daxo_create(path, "sigkill", 32 << 20, 0600, &p) ||
	    daxo_root(p, sizeof(struct root), &ro)) {
		fprintf(stderr, "create: %s\n", daxo_errormsg());
		return 1;
	}
	struct root *r = daxo_direct(p, ro);
	for (int i = 0; i < NACC; i++)
		r->acc[i] = r->acc2[i] = START;
	daxo_persist(p, r, sizeof(*r));
	daxo_close(p);

	for (int round = 0; round < rounds; round++) {
		unsigned child_seed = (unsigned)rand();
		pid_t pid = fork();
		if (pid == 0)
			writer(path, child_seed);
		/* 2..60 ms: long enough to be mid-stream, short enough to vary */
		usleep(2000 + (unsigned)rand() % 58000);
		kill(pid, SIGKILL);
		int st;
		waitpid(pid, &st, 0);
		if (!WIFSIGNALED(st)) {
			fprintf(stderr, "FAIL: writer exited with %d\n",
				WEXITSTATUS(st));
			return 1;
		}
		uint64_t before = transfers;
		if (verify(path, &transfers)) {
			fprintf(stderr, "round %d failed; seed %u\n", round, seed);
			return 1;
		}
		printf("round %d: ok, %llu transfers so far (+%llu)\n", round,
		       (unsigned long long)transfers,
		       (unsigned long long)(transfers - before));
	}
	unlink(path);
	if (transfers == 0) {
		fprintf(stderr, "FAIL: the writer never committed anything\n");
		return 1;
	}
	printf("%d passed, 0 failed\n", rounds);
	return 0;
}
