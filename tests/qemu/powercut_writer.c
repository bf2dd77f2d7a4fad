/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * powercut_writer.c -- the workload of the QEMU power-cut test, and its
 * verifier. run.sh kills QEMU (the whole machine) while the writer runs, boots
 * again on the same NVDIMM backing file, and runs the verifier, whose
 * daxo_open runs recovery.
 *
 *   powercut_writer create PATH   create the pool, transfer until killed
 *   powercut_writer write PATH    open the pool, transfer until killed
 *   powercut_writer verify PATH   open (recovery), check every invariant
 *   powercut_writer tamper HOW PATH   plant a fault verify must find
 *
 * Each transaction moves money between two of NACC accounts in the root
 * object (daxo_tx_add_range: undo), allocates a record of the transfer
 * (daxo_tx_alloc) and appends it to a list, frees the oldest record once
 * more than KEEP are live (daxo_tx_free), and updates the root's counters
 * with daxo_tx_write (redo). Every 8th transaction is aborted after making
 * all its changes. Invariants after any crash:
 *   - the balances sum to NACC * INITIAL and none is negative;
 *   - the list holds records with consecutive sequence numbers ending at the
 *     root's transfer count, each record intact (its checksum), the last one
 *     is the root's tail, their number is the root's live count, which is
 *     min(transfers, KEEP);
 *   - iterating the record type finds exactly the list's records (no leaked
 *     and no ghost objects), and no object of another type but the root;
 *   - transfers is at least the count the writer printed as committed before
 *     the cut ("QEMU-PC committed N", checked by run.sh): durability.
 * The verifier prints "QEMU-PC verified transfers=N ..." and exits 0, or
 * prints what is wrong and exits 1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daxo.h"

#define NACC	  64
#define INITIAL	  1000
#define KEEP	  200
#define PC_MAGIC  0x7475637265776f70ull /* "powercut" */
#define TYPE_REC  7
#define POOL_SIZE (64ull << 20)
#define LAYOUT	  "powercut"

struct pc_root {
	uint64_t magic;
	uint64_t transfers; /* committed transfers */
	uint64_t live;	    /* records in the list */
	daxo_oid head;	    /* oldest record */
	daxo_oid tail;	    /* newest record */
	int64_t balance[NACC];
};

struct pc_rec {
	uint64_t seq;
	uint32_t from, to;
	int64_t amount;
	daxo_oid next;
	uint64_t fill_len; /* bytes of fill[] that follow */
	uint64_t check;	   /* over seq, from, to, amount, fill */
	uint8_t fill[];
};

static uint64_t rng = 88172645463325252ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint64_t rec_check(const struct pc_rec *r)
{
	uint64_t h = 0xcbf29ce484222325ull;
	const uint8_t *b;

#define MIX(x)                                                                 \
	do {                                                                   \
		h ^= (uint64_t)(x);                                            \
		h *= 0x100000001b3ull;                                         \
	} while (0)
	MIX(r->seq);
	MIX(r->from);
	MIX(r->to);
	MIX((uint64_t)r->amount);
	MIX(r->fill_len);
	b = r->fill;
	for (uint64_t i = 0; i < r->fill_len; i++)
		MIX(b[i]);
#undef MIX
	return h;
}

static int fail(const char *what, int ret)
{
	printf("FAIL: %s: %d (%s) %s\n", what, ret, daxo_strerror(ret),
	       daxo_errormsg());
	return 1;
}

/* verify -- every invariant of the pool; 0 if all hold */
static int verify(daxo_pool *p)
{
	daxo_oid roid;
	int ret = daxo_root(p, 0, &roid);
	struct pc_root *r = NULL;
	int bad = 0;

	if (ret == -ENOENT) {
		/* the cut came before the root's first allocation */
		if (daxo_first(p, DAXO_TYPE_ANY) != 0) {
			printf("FAIL: no root, but there are objects\n");
			return 1;
		}
		printf("QEMU-PC verified transfers=0 live=0 (no root yet)\n");
		return 0;
	}
	if (ret)
		return fail("daxo_root", ret);
	r = daxo_direct(p, roid);
	if (r->magic == 0) {
		/* root allocated, initial transaction not committed */
		static const struct pc_root zero;
		if (memcmp(r, &zero, sizeof(zero)) != 0) {
			printf("FAIL: root without magic is not all zero\n");
			return 1;
		}
		if (daxo_first(p, TYPE_REC) != 0) {
			printf("FAIL: records but no initialized root\n");
			return 1;
		}
		printf("QEMU-PC verified transfers=0 live=0 (root not "
		       "initialized)\n");
		return 0;
	}
	if (r->magic != PC_MAGIC) {
		printf("FAIL: root magic 0x%llx\n",
		       (unsigned long long)r->magic);
		return 1;
	}

	int64_t sum = 0;
	for (int i = 0; i < NACC; i++) {
		sum += r->balance[i];
		if (r->balance[i] < 0) {
			printf("FAIL: account %d has balance %lld\n", i,
			       (long long)r->balance[i]);
			bad = 1;
		}
	}
	if (sum != (int64_t)NACC * INITIAL) {
		printf("FAIL: money not conserved: sum %lld, want %lld\n",
		       (long long)sum, (long long)NACC * INITIAL);
		bad = 1;
	}

	uint64_t want_live = r->transfers < KEEP ? r->transfers : KEEP;
	if (r->live != want_live) {
		printf("FAIL: live %llu, want %llu for %llu transfers\n",
		       (unsigned long long)r->live,
		       (unsigned long long)want_live,
		       (unsigned long long)r->transfers);
		bad = 1;
	}

	/* walk the list */
	daxo_oid *seen = calloc(KEEP + 2, sizeof(*seen));
	uint64_t n = 0, seq = r->transfers - r->live + 1;
	daxo_oid o = r->head, last = 0;
	if (!seen)
		return fail("calloc", -ENOMEM);
	while (o != 0) {
		struct pc_rec *rec = daxo_direct(p, o);
		if (!rec || n > KEEP) {
			printf(
			    "FAIL: list broken at record %llu (oid 0x%llx)\n",
			    (unsigned long long)n, (unsigned long long)o);
			bad = 1;
			break;
		}
		if (daxo_oid_type(p, o) != TYPE_REC) {
			printf("FAIL: list record 0x%llx has type %u\n",
			       (unsigned long long)o, daxo_oid_type(p, o));
			bad = 1;
			break;
		}
		if (rec->fill_len > 512 ||
		    daxo_usable_size(p, o) < sizeof(*rec) + rec->fill_len ||
		    rec->check != rec_check(rec)) {
			printf("FAIL: record 0x%llx (seq %llu) damaged\n",
			       (unsigned long long)o,
			       (unsigned long long)rec->seq);
			bad = 1;
			break;
		}
		if (rec->seq != seq) {
			printf("FAIL: record %llu has seq %llu, want %llu\n",
			       (unsigned long long)n,
			       (unsigned long long)rec->seq,
			       (unsigned long long)seq);
			bad = 1;
		}
		seen[n++] = o;
		seq++;
		last = o;
		o = rec->next;
	}
	if (!bad && (n != r->live || last != r->tail)) {
		printf("FAIL: list has %llu records (root says %llu), ends at "
		       "0x%llx (tail 0x%llx)\n",
		       (unsigned long long)n, (unsigned long long)r->live,
		       (unsigned long long)last, (unsigned long long)r->tail);
		bad = 1;
	}

	/* iteration: exactly the list's records, and the root */
	uint64_t it = 0;
	for (o = daxo_first(p, DAXO_TYPE_ANY); o;
	     o = daxo_next(p, o, DAXO_TYPE_ANY)) {
		if (o == roid)
			continue;
		uint64_t k;
		for (k = 0; k < n; k++)
			if (seen[k] == o)
				break;
		if (k == n) {
			printf("FAIL: object 0x%llx (type %u) is not in the "
			       "list: leaked or ghost\n",
			       (unsigned long long)o, daxo_oid_type(p, o));
			bad = 1;
		}
		if (++it > KEEP + 10)
			break;
	}
	if (it != n) {
		printf("FAIL: iteration finds %llu objects, the list %llu\n",
		       (unsigned long long)it, (unsigned long long)n);
		bad = 1;
	}
	free(seen);

	struct daxo_info info;
	daxo_pool_info(p, &info);
	printf("QEMU-PC verified transfers=%llu live=%llu recovered=%llu "
	       "pmem=%d dax=%d map_sync=%d%s\n",
	       (unsigned long long)r->transfers, (unsigned long long)r->live,
	       (unsigned long long)info.recovered, info.is_pmem, info.is_dax,
	       info.map_sync, bad ? " BAD" : "");
	return bad;
}

/* init_root -- the root and its accounts, once */
static int init_root(daxo_pool *p, struct pc_root **out)
{
	daxo_oid roid;
	daxo_tx *tx;
	int ret = daxo_root(p, sizeof(struct pc_root), &roid);

	if (ret)
		return fail("daxo_root", ret);
	struct pc_root *r = daxo_direct(p, roid);
	*out = r;
	if (r->magic == PC_MAGIC)
		return 0;
	ret = daxo_tx_begin(p, &tx);
	if (ret)
		return fail("daxo_tx_begin", ret);
	ret = daxo_tx_add_range(tx, r, sizeof(*r));
	if (ret) {
		daxo_tx_abort(tx);
		return fail("daxo_tx_add_range(root)", ret);
	}
	memset(r, 0, sizeof(*r));
	for (int i = 0; i < NACC; i++)
		r->balance[i] = INITIAL;
	r->magic = PC_MAGIC;
	ret = daxo_tx_commit(tx);
	if (ret)
		return fail("daxo_tx_commit(init)", ret);
	return 0;
}

/* transfer -- one transaction; commit it unless @abort */
static int transfer(daxo_pool *p, struct pc_root *r, int abort)
{
	daxo_tx *tx;
	daxo_oid noid;
	uint32_t from = (uint32_t)(next_rand() % NACC);
	uint32_t to = (uint32_t)((from + 1 + next_rand() % (NACC - 1)) % NACC);
	int64_t amount =
	    (int64_t)(next_rand() % (uint64_t)(r->balance[from] + 1));
	uint64_t fill_len = next_rand() % 480;
	int ret;

	ret = daxo_tx_begin(p, &tx);
	if (ret)
		return fail("daxo_tx_begin", ret);
	ret = daxo_tx_add_range(tx, &r->balance[from], sizeof(int64_t));
	if (ret)
		goto out;
	r->balance[from] -= amount;
	ret = daxo_tx_add_range(tx, &r->balance[to], sizeof(int64_t));
	if (ret)
		goto out;
	r->balance[to] += amount;

	ret = daxo_tx_alloc(tx, sizeof(struct pc_rec) + fill_len, TYPE_REC,
			    &noid);
	if (ret)
		goto out;
	struct pc_rec *rec = daxo_direct(p, noid);
	rec->seq = r->transfers + 1;
	rec->from = from;
	rec->to = to;
	rec->amount = amount;
	rec->next = 0;
	rec->fill_len = fill_len;
	for (uint64_t i = 0; i < fill_len; i++)
		rec->fill[i] = (uint8_t)(rec->seq + i);
	rec->check = rec_check(rec);

	/* link it after the tail (undo on the old tail's next field) */
	daxo_oid head = r->head, tail = noid;
	uint64_t live = r->live + 1, transfers = r->transfers + 1;
	if (r->tail) {
		struct pc_rec *t = daxo_direct(p, r->tail);
		ret = daxo_tx_add_range(tx, &t->next, sizeof(t->next));
		if (ret)
			goto out;
		t->next = noid;
	} else {
		head = noid;
	}
	if (live > KEEP) {
		struct pc_rec *h = daxo_direct(p, head);
		daxo_oid old = head;
		head = h->next;
		ret = daxo_tx_free(tx, old);
		if (ret)
			goto out;
		live--;
	}
	/* the root's counters by redo: applied at commit */
	if ((ret = daxo_tx_write(tx, &r->head, &head, sizeof(head))) ||
	    (ret = daxo_tx_write(tx, &r->tail, &tail, sizeof(tail))) ||
	    (ret = daxo_tx_write(tx, &r->live, &live, sizeof(live))) ||
	    (ret = daxo_tx_write(tx, &r->transfers, &transfers,
				 sizeof(transfers))))
		goto out;
	if (abort) {
		daxo_tx_abort(tx);
		return 0;
	}
	ret = daxo_tx_commit(tx);
	if (ret)
		return fail("daxo_tx_commit", ret);
	return 0;
out:
	daxo_tx_abort(tx);
	return fail("transaction step", ret);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * writer -- transfer until killed. @create: make the pool first (a file of
 * POOL_SIZE, or the whole device for a device-DAX node); otherwise it must
 * open, so that a pool damaged by a cut is never silently made anew.
 */
static int writer(const char *path, int create)
{
	daxo_pool *p;
	struct pc_root *r = NULL;
	struct stat st;
	int ret;

	if (create) {
		uint64_t size = POOL_SIZE;
		if (stat(path, &st) == 0 && S_ISCHR(st.st_mode))
			size = 0;
		ret = daxo_create(path, LAYOUT, size, 0600, &p);
	} else {
		ret = daxo_open(path, LAYOUT, 0, &p);
	}
	if (ret)
		return fail(create ? "daxo_create" : "daxo_open", ret);
	if (init_root(p, &r))
		return 1;
	/* a different sequence of transfers in every round */
	rng ^= (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid() ^
	       r->transfers;
	printf("QEMU-PC writer running from transfer %llu\n",
	       (unsigned long long)r->transfers);
	fflush(stdout);
	uint64_t last_print = 0;
	for (uint64_t i = 1;; i++) {
		int abort = i % 8 == 0;
		if (transfer(p, r, abort))
			return 1;
		if (abort) {
			/* an abort must leave no trace in the invariants */
			continue;
		}
		/* at most ~20 lines a second: the emulated serial line is
		 * slow, and the writer should spend its time in transactions */
		if (r->transfers % 16 == 0 && now_ms() - last_print >= 50) {
			printf("QEMU-PC committed %llu\n",
			       (unsigned long long)r->transfers);
			fflush(stdout);
			last_print = now_ms();
		}
	}
}

/*
 * tamper -- plant one fault that verify must find (verifier_selftest.sh):
 * "money" adds to one balance, "leak" allocates an unlinked record,
 * "record" changes a record's sequence number without its checksum.
 */
static int tamper(const char *how, const char *path)
{
	daxo_pool *p;
	daxo_oid roid, tmp = 0;
	struct pc_root *r;
	int ret = daxo_open(path, LAYOUT, 0, &p);

	if (ret)
		return fail("daxo_open", ret);
	ret = daxo_root(p, 0, &roid);
	if (ret)
		return fail("daxo_root", ret);
	r = daxo_direct(p, roid);
	if (!strcmp(how, "money")) {
		r->balance[NACC - 1] += 1;
		daxo_persist(p, &r->balance[NACC - 1], sizeof(int64_t));
	} else if (!strcmp(how, "leak")) {
		ret = daxo_alloc(p, sizeof(struct pc_rec), TYPE_REC, &tmp);
		if (ret)
			return fail("daxo_alloc", ret);
	} else if (!strcmp(how, "record") && r->head) {
		struct pc_rec *rec = daxo_direct(p, r->head);
		rec->seq += 1;
		daxo_persist(p, &rec->seq, sizeof(rec->seq));
	} else {
		fprintf(stderr, "powercut_writer: cannot tamper '%s'\n", how);
		daxo_close(p);
		return 2;
	}
	return daxo_close(p) ? 1 : 0;
}

int main(int argc, char **argv)
{
	daxo_pool *p;
	int ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && !strcmp(argv[1], "tamper"))
		return tamper(argv[2], argv[3]);
	if (argc != 3) {
		fprintf(stderr,
			"usage: powercut_writer create|write|verify "
			"PATH\n"
			"       powercut_writer tamper money|leak|record "
			"PATH\n");
		return 2;
	}
	if (!strcmp(argv[1], "create"))
		return writer(argv[2], 1);
	if (!strcmp(argv[1], "write"))
		return writer(argv[2], 0);
	if (strcmp(argv[1], "verify") != 0) {
		fprintf(stderr, "powercut_writer: unknown mode %s\n", argv[1]);
		return 2;
	}
	if (access(argv[2], F_OK) != 0) {
		/* the first writer creates the pool before its first commit,
		 * and the host cuts only after one: a missing pool is a bug */
		printf("FAIL: %s does not exist\n", argv[2]);
		return 1;
	}
	ret = daxo_open(argv[2], LAYOUT, 0, &p);
	if (ret)
		return fail("daxo_open (recovery)", ret);
	ret = verify(p);
	int c = daxo_close(p);
	if (c)
		return fail("daxo_close", c);
	/* and once more: recovery must be idempotent and leave a clean pool */
	if (ret == 0) {
		ret = daxo_open(argv[2], LAYOUT, 0, &p);
		if (ret)
			return fail("second daxo_open", ret);
		ret = verify(p);
		daxo_close(p);
	}
	return ret ? 1 : 0;
}
