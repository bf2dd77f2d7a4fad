/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * workloads.c -- the built-in workloads of `daxo crashsim` and of
 * the crash test suite (test builds only).
 *
 * Each workload keeps, in volatile memory, what has been committed so far
 * (done) and what is in flight. Its check runs in a process forked at the
 * crash point, so it sees that state as it was at the crash and can demand
 * both atomicity (the operation in flight is all or nothing) and durability
 * (every operation that returned is there).
 *
 *   undo     transactions with daxo_tx_add_range (some aborted): ranges
 *            added again whole or in overlapping pieces (only the new
 *            bytes are logged), several under one call
 *            (daxo_tx_add_ranges), redo writes over bytes of an undo range,
 *            now and then a 3 KiB range (too large for the record: changed
 *            in place) and a daxo_drain (the watermark past every record,
 *            so that no replay covers what the undo log must restore)
 *   redo     transactions with daxo_tx_write; between them one-word
 *            writes (no record) of a word that some records also write,
 *            and stores of another such word made durable by daxo_persist
 *   alloc    daxo_alloc/daxo_free publishing into the root (small, large)
 *   txalloc  transactions freeing one object and allocating another, whose
 *            contents are written in the transaction
 *   mixed    transactions (undo or redo) with an atomic alloc/free inside,
 *            which runs on a second lane
 *   threads  the mixed operations from two threads taking turns (each
 *            thread's lane keeps a pending record while the other works)
 *
 *   fill     transactions replacing large objects filled by tx_fill (in
 *            place), each also writing a field of the object the next one
 *            frees: the allocator hands that memory out again while the
 *            record that wrote into it may still be replayed
 *   kv       daxo_put/daxo_del on 16 keys with values of 0..600 bytes
 *            (every fifth 2000..3000: written in place); the
 *            check reads every key back and counts them with daxo_foreach
 *   kvthreads kv's operations from two threads taking turns (two lanes)
 *   kvclock  two threads taking turns put a key, overwrite its value in
 *            place five times (clocked commits), delete it and put another
 *            key; kv's check
 *   kvsum    three threads taking turns: a put whose new entry is named
 *            by a SUM replacing another entry, its del, objects written in
 *            place and persisted between (kvsum_op); kv's check
 *   (kv's check also counts the entry objects: one a key, none leaked)
 *   runs     runs filled, emptied (given back to the free chunks) and their
 *            chunks reused by runs of another size class and by large
 *            objects; alloc's check
 *
 * and those of native.c (nested blocks, constructors, realloc, roots) and
 * defrag.c (daxo_heap_defrag, daxo_kv_compact).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "defrag_wl.h"
#include "internal.h"
#include "kv.h"
#include "native.h"
#include "tx.h"
#include "workloads.h"

#define NCOUNT 16 /* counters: two cache lines */
#define NSLOT  24
#define NBIG   384 /* words of a range too large for a record (3 KiB) */

#define TYPE_ALLOC   7u
#define TYPE_TXALLOC 8u
#define TYPE_RUNS    9u

struct wl_root {
	uint64_t count[NCOUNT];
	uint64_t aux[8];      /* a second range for undo transactions */
	daxo_oid slot[NSLOT]; /* published objects */
	uint64_t size[NSLOT]; /* their requested sizes (txalloc) */
	uint64_t big[NBIG];   /* an undo range changed in place */
	uint64_t word[2];     /* redo: word[0] also written alone */
};

struct wl {
	unsigned ops;
	daxo_oid root;
	uint64_t done;	     /* operations committed (returned) */
	int inflight;	     /* an operation is between begin and return */
	int cur;	     /* slot of the operation in flight */
	daxo_oid exp[NSLOT]; /* slot values after the last commit */
	uint64_t expsz[NSLOT];
	uint64_t word[2];    /* redo: word[] after the last commit */
	uint64_t word_new[2]; /* and what the operation in flight writes */
};

static struct wl_root *root_of(daxo_pool *p, struct wl *s)
{
	return daxo_direct(p, s->root);
}

static int wl_setup(daxo_pool *p, void *arg)
{
	struct wl *s = arg;

	return daxo_root(p, sizeof(struct wl_root), &s->root);
}

/* tx_end_or_abort -- commit @tx, or abort it if a call failed (@ret) */
static int tx_end_or_abort(daxo_tx *tx, int ret)
{
	if (ret) {
		daxo_tx_abort(tx);
		return ret;
	}
	return daxo_tx_commit(tx);
}

/* counters_check -- all equal, and done or done+1 if one was in flight */
static int counters_check(daxo_pool *p, struct wl *s, char *msg, size_t len)
{
	struct wl_root *r = root_of(p, s);
	uint64_t v;

	if (!r) {
		snprintf(msg, len, "root object missing");
		return 1;
	}
	v = r->count[0];
	for (unsigned j = 1; j < NCOUNT; j++)
		if (r->count[j] != v) {
			snprintf(msg, len,
				 "torn transaction: counter[0] = %llu but "
				 "counter[%u] = %llu (done %llu)",
				 (unsigned long long)v, j,
				 (unsigned long long)r->count[j],
				 (unsigned long long)s->done);
			return 1;
		}
	for (unsigned j = 0; j < 8; j++)
		if (r->aux[j] != r->aux[0]) {
			snprintf(msg, len,
				 "torn transaction: aux words differ");
			return 1;
		}
	for (unsigned j = 0; j < NBIG; j++)
		if (r->big[j] != r->big[0]) {
			snprintf(msg, len,
				 "torn transaction: big[%u] = %llu but big[0] "
				 "= %llu",
				 j, (unsigned long long)r->big[j],
				 (unsigned long long)r->big[0]);
			return 1;
		}
	return wl_count_check(msg, len, v, s->done, s->inflight);
}

int wl_count_check(char *msg, size_t len, uint64_t v, uint64_t done,
		   int inflight)
{
	if (v != done && !(inflight && v == done + 1)) {
		snprintf(msg, len,
			 "counters = %llu but %llu transactions committed%s "
			 "(%s)",
			 (unsigned long long)v, (unsigned long long)done,
			 inflight ? " and one in flight" : "",
			 v < done ? "a committed transaction was lost"
				  : "a transaction appeared from nowhere");
		return 1;
	}
	return 0;
}

/* ---- undo ---- */

/*
 * undo_add -- the counters' undo ranges of operation @i, in one of several
 * shapes that cover the same bytes: whole, in overlapping halves, one
 * call for two ranges, the same range twice
 */
static int undo_add(daxo_tx *tx, struct wl_root *r, unsigned i)
{
	struct daxo_range two[2] = {{&r->count[0], 10 * 8},
				    {&r->count[6], (NCOUNT - 6) * 8}};
	int ret;

	switch (i % 4) {
	case 0:
		return daxo_tx_add_range(tx, r->count, sizeof(r->count));
	case 1:
		ret = daxo_tx_add_range(tx, &r->count[0], 10 * 8);
		if (!ret)
			ret = daxo_tx_add_range(tx, &r->count[4],
						(NCOUNT - 4) * 8);
		return ret;
	case 2:
		return daxo_tx_add_ranges(tx, two, 2);
	default:
		ret = daxo_tx_add_range(tx, r->count, sizeof(r->count));
		if (!ret)
			ret = daxo_tx_add_range(tx, &r->count[3], 8);
		return ret;
	}
}

static int undo_run(daxo_pool *p, void *arg)
{
	struct wl *s = arg;
	struct wl_root *r = root_of(p, s);
	daxo_tx *tx;
	int ret;

	for (unsigned i = 0; i < s->ops; i++) {
		bool abort = i % 7 == 3, aux = i % 3 == 0, big = i % 5 == 2;

		if (i % 4 == 1)
			daxo_drain(p);
		ret = daxo_tx_begin(p, &tx);
		if (ret)
			return ret;
		s->inflight = !abort;
		ret = undo_add(tx, r, i);
		if (!ret && aux)
			ret = daxo_tx_add_range(tx, r->aux, sizeof(r->aux));
		if (!ret && big)
			ret = daxo_tx_add_range(tx, r->big, sizeof(r->big));
		if (ret) {
			daxo_tx_abort(tx);
			return ret;
		}
		uint64_t v = r->count[0] + 1;
		for (unsigned j = 0; j < NCOUNT; j++)
			r->count[j] = v;
		/* a redo write over bytes of the undo range: it wins */
		if (i % 2) {
			r->count[5] = 0;
			ret = daxo_tx_write(tx, &r->count[5], &v, 8);
			if (ret) {
				daxo_tx_abort(tx);
				return ret;
			}
		}
		if (aux)
			for (unsigned j = 0; j < 8; j++)
				r->aux[j] = v * 3;
		if (big)
			for (unsigned j = 0; j < NBIG; j++)
				r->big[j] = v;
		if (abort) {
			daxo_tx_abort(tx);
			continue;
		}
		ret = daxo_tx_commit(tx);
		if (ret)
			return ret;
		s->done++;
		s->inflight = 0;
	}
	return 0;
}

static int undo_check(daxo_pool *p, void *arg, char *msg, size_t len)
{
	return counters_check(p, arg, msg, len);
}

/* ---- redo ---- */

/*
 * redo_word -- operation @i's change of root word[]: every third one a
 * record of both words, the others word[0] alone (the one-word commit,
 * after a record that wrote the word)
 */
static int redo_word(daxo_pool *p, struct wl *s, unsigned i)
{
	struct wl_root *r = root_of(p, s);
	uint64_t v[2] = {1000 + i, 2000 + i};
	unsigned n = i % 3 == 0 ? 2 : 1;
	daxo_tx *tx;
	int ret;

	s->word_new[0] = v[0];
	s->word_new[1] = n == 2 ? v[1] : s->word[1];
	ret = daxo_tx_begin(p, &tx);
	if (ret)
		return ret;
	s->inflight = 1;
	ret = tx_end_or_abort(tx, daxo_tx_write(tx, r->word, v, n * 8));
	if (ret)
		return ret;
	memcpy(s->word, s->word_new, sizeof(s->word));
	s->inflight = 0;
	return 0;
}

static int redo_check(daxo_pool *p, void *arg, char *msg, size_t len)
{
	struct wl *s = arg;
	struct wl_root *r = root_of(p, s);

	if (counters_check(p, s, msg, len))
		return 1;
	bool old = !memcmp(r->word, s->word, sizeof(s->word));
	bool new = s->inflight && !memcmp(r->word, s->word_new,
					  sizeof(s->word));
	if (!old && !new) {
		snprintf(msg, len,
			 "word = {%llu, %llu}, expected {%llu, %llu}%s",
			 (unsigned long long)r->word[0],
			 (unsigned long long)r->word[1],
			 (unsigned long long)s->word[0],
			 (unsigned long long)s->word[1],
			 s->inflight ? " or the write in flight" : "");
		return 1;
	}
	return 0;
}

/*
 * redo_persist -- word[1], which records write too, stored in place and
 * made durable with daxo_persist, or flushed with daxo_flush and fenced by
 * the daxo_persist of a word no record writes: no record may be replayed
 * over it
 */
static void redo_persist(daxo_pool *p, struct wl *s, unsigned i)
{
	struct wl_root *r = root_of(p, s);

	s->word_new[0] = s->word[0];
	s->word_new[1] = 3000 + i;
	s->inflight = 1;
	__atomic_store_n(&r->word[1], s->word_new[1], __ATOMIC_RELAXED);
	if (i % 8 == 1) {
		daxo_persist(p, &r->word[1], 8);
	} else {
		daxo_flush(p, &r->word[1], 8);
		r->size[NSLOT / 2] = i; /* unused by redo */
		daxo_persist(p, &r->size[NSLOT / 2], 8);
	}
	memcpy(s->word, s->word_new, sizeof(s->word));
	s->inflight = 0;
}

static int redo_run(daxo_pool *p, void *arg)
{
	struct wl *s = arg;
	struct wl_root *r = root_of(p, s);
	uint64_t v[NCOUNT], a[8];
	daxo_tx *tx;
	int ret;

	for (unsigned i = 0; i < s->ops; i++) {
		ret = daxo_tx_begin(p, &tx);
		if (ret)
			return ret;
		s->inflight = 1;
		for (unsigned j = 0; j < NCOUNT; j++)
			v[j] = s->done + 1;
		for (unsigned j = 0; j < 8; j++)
			a[j] = (s->done + 1) * 5;
		/* the counters in two pieces, to have several entries */
		ret = daxo_tx_write(tx, r->count, v, sizeof(v) / 2);
		if (!ret)
			ret = daxo_tx_write(tx, &r->count[NCOUNT / 2],
					    &v[NCOUNT / 2], sizeof(v) / 2);
		if (!ret && i % 2)
			ret = daxo_tx_write(tx, r->aux, a, sizeof(a));
		ret = tx_end_or_abort(tx, ret);
		if (ret)
			return ret;
		s->done++;
		s->inflight = 0;
		ret = redo_word(p, s, i);
		if (ret)
			return ret;
		if (i % 4 == 1)
			redo_persist(p, s, i);
	}
	return 0;
}

/* ---- alloc: atomic allocation and free ---- */

static uint64_t alloc_size(unsigned i)
{
	if (i % 13 == 5)
		return 300u << 10; /* a large object: two chunks */
	return 8 + (i * 377u) % 1000;
}

static int alloc_run(daxo_pool *p, void *arg)
{
	struct wl *s = arg;
	struct wl_root *r = root_of(p, s);
	int ret;

	for (unsigned i = 0; i < s->ops; i++) {
		unsigned j = (i * 7) % NSLOT;

		s->cur = (int)j;
		s->inflight = 1;
		if (r->slot[j])
			ret = daxo_free(p, &r->slot[j]);
		else
			ret = daxo_alloc(p, alloc_size(i), TYPE_ALLOC,
					 &r->slot[j]);
		if (ret)
			return ret;
		s->exp[j] = r->slot[j];
		s->done++;
		s->inflight = 0;
	}
	return 0;
}

/* slots_check -- published objects live, nothing leaked, nothing lost */
static int slots_check(daxo_pool *p, struct wl *s, uint32_t type, char *msg,
		       size_t len)
{
	struct wl_root *r = root_of(p, s);
	unsigned live = 0, objs = 0;

	if (!r) {
		snprintf(msg, len, "root object missing");
		return 1;
	}
	for (unsigned j = 0; j < NSLOT; j++) {
		daxo_oid o = r->slot[j];
		bool may_differ = s->inflight && s->cur == (int)j;

		if (o != s->exp[j] &&
		    !(may_differ && (o == 0 || s->exp[j] == 0))) {
			snprintf(msg, len,
				 "slot %u = %llu, expected %llu (op %llu%s)", j,
				 (unsigned long long)o,
				 (unsigned long long)s->exp[j],
				 (unsigned long long)s->done,
				 may_differ ? ", in flight" : "");
			return 1;
		}
		if (!o)
			continue;
		live++;
		if (daxo_oid_type(p, o) != type) {
			snprintf(msg, len,
				 "slot %u: %llu is not a live object of type "
				 "%u",
				 j, (unsigned long long)o, type);
			return 1;
		}
	}
	for (daxo_oid o = daxo_first(p, type); o && objs <= NSLOT + 1;
	     o = daxo_next(p, o, type))
		objs++;
	if (objs != live) {
		snprintf(msg, len,
			 "%u objects of type %u exist but %u are published "
			 "(%s)",
			 objs, type, live, objs > live ? "leak" : "lost");
		return 1;
	}
	return 0;
}

static int alloc_check(daxo_pool *p, void *arg, char *msg, size_t len)
{
	return slots_check(p, arg, TYPE_ALLOC, msg, len);
}

/* ---- runs: runs emptied and their chunks reused ---- */

/*
 * Rounds of NSLOT allocations of one size (two runs or more of its class),
 * NSLOT frees (the runs empty: all but one go back to the free chunks),
 * then a large object allocated and freed; the size alternates between two
 * classes, so a run's chunks are reused by a run of another class and by
 * large objects, while records that wrote the old run's bitmap may still
 * be above the watermark.
 */
static uint64_t runs_size(unsigned round)
{
	return round % 2 ? 9000 : 20000;
}

static int runs_run(daxo_pool *p, void *arg)
{
	struct wl *s = arg;
	struct wl_root *r = root_of(p, s);
	unsigned i = 0, round = 0;
	int ret = 0;

	while (i < s->ops) {
		/* step k of a round: allocs, frees, the large object */
		for (unsigned k = 0; k < 2 * NSLOT + 2 && i < s->ops; k++, i++) {
			unsigned j = k < 2 * NSLOT ? k % NSLOT : 0;
			s->cur = (int)j;
			s->inflight = 1;
			if (r->slot[j])
				ret = daxo_free(p, &r->slot[j]);
			else
				ret = daxo_alloc(p,
						 k < NSLOT ? runs_size(round)
							   : 240u << 10,
						 TYPE_RUNS, &r->slot[j]);
			if (ret)
				return ret;
			s->exp[j] = r->slot[j];
			s->done++;
			s->inflight = 0;
		}
		round++;
	}
	return 0;
}

static int runs_check(daxo_pool *p, void *arg, char *msg, size_t len)
{
	return slots_check(p, arg, TYPE_RUNS, msg, len);
}

/* ---- txalloc: free one object and allocate another in a transaction ---- */

static int txalloc_run(daxo_pool *p, void *arg)
{
	struct wl *s = arg;
	struct wl_root *r = root_of(p, s);
	daxo_tx *tx;
	int ret;

	for (unsigned i = 0; i < s->ops; i++) {
		unsigned j = (i * 5) % NSLOT;
		uint64_t sz = alloc_size(i + 1);
		daxo_oid n = 0, v[2];

		ret = daxo_tx_begin(p, &tx);
		if (ret)
			return ret;
		s->cur = (int)j;
		s->inflight = 1;
		if (r->slot[j])
			ret = daxo_tx_free(tx, r->slot[j]);
		if (!ret && i % 4 != 3) {
			ret = daxo_tx_alloc(tx, sz, TYPE_TXALLOC, &n);
			if (!ret)
				memset(daxo_direct(p, n), (int)(i & 0xff) | 1,
				       sz);
		}
		v[0] = n;
		v[1] = n ? sz : 0;
		if (!ret)
			ret = daxo_tx_write(tx, &r->slot[j], &v[0], 8);
		if (!ret)
			ret = daxo_tx_write(tx, &r->size[j], &v[1], 8);
		ret = tx_end_or_abort(tx, ret);
		if (ret)
			return ret;
		s->exp[j] = n;
		s->expsz[j] = v[1];
		s->done++;
		s->inflight = 0;
	}
	return 0;
}

static int txalloc_check(daxo_pool *p, void *arg, char *msg, size_t len)
{
	struct wl *s = arg;
	struct wl_root *r = root_of(p, s);

	if (!r) {
		snprintf(msg, len, "root object missing");
		return 1;
	}
	/* in flight: the slot holds the old object or a new one */
	if (s->inflight && r->slot[s->cur] != s->exp[s->cur]) {
		s->exp[s->cur] = r->slot[s->cur];
		s->expsz[s->cur] = r->size[s->cur];
		if (s->exp[s->cur] == 0 && s->expsz[s->cur] != 0) {
			snprintf(msg, len, "slot %d: size without object",
				 s->cur);
			return 1;
		}
	}
	if (slots_check(p, s, TYPE_TXALLOC, msg, len))
		return 1;
	for (unsigned j = 0; j < NSLOT; j++) {
		const uint8_t *b = daxo_direct(p, r->slot[j]);
		uint64_t sz = r->size[j];

		if (!r->slot[j])
			continue;
		if (sz == 0 || sz > daxo_usable_size(p, r->slot[j])) {
			snprintf(msg, len, "slot %u: size %llu does not fit", j,
				 (unsigned long long)sz);
			return 1;
		}
		for (uint64_t k = 1; k < sz; k++)
			if (b[k] != b[0] || !b[0]) {
				snprintf(msg, len,
					 "slot %u: contents of the object made "
					 "in the transaction are torn at byte "
					 "%llu",
					 j, (unsigned long long)k);
				return 1;
			}
	}
	return 0;
}

/* ---- fill: objects of tx_fill written in place over reused memory ---- */

#define NFILL	  4
#define FILL_SZ	  3000 /* > TX_FILL_INLINE: written in place */
#define TYPE_FILL 9u

struct fill_obj {
	uint64_t tag;  /* creation op, or a later op's daxo_tx_write */
	uint64_t born; /* creation op */
};

static uint8_t fill_byte(uint64_t born)
{
	return (uint8_t)((born * 7) | 1);
}

static int fill_run(daxo_pool *p, void *arg)
{
	struct wl *s = arg;
	struct wl_root *r = root_of(p, s);
	static uint8_t body[FILL_SZ];
	daxo_tx *tx;
	int ret;

	for (unsigned i = 0; i < s->ops; i++) {
		unsigned j = i % NFILL, k = (i + 1) % NFILL;
		struct fill_obj h = {i + 1, i + 1};
		uint64_t tag = i + 1;
		daxo_oid n = 0;

		memset(body, fill_byte(i + 1), sizeof(body));
		ret = daxo_tx_begin(p, &tx);
		if (ret)
			return ret;
		s->cur = (int)j;
		s->inflight = 1;
		/* a record writes into the object the next op frees */
		if (r->slot[k]) {
			struct fill_obj *o = daxo_direct(p, r->slot[k]);
			ret = daxo_tx_write(tx, &o->tag, &tag, 8);
		}
		if (!ret && r->slot[j])
			ret = daxo_tx_free(tx, r->slot[j]);
		if (!ret)
			ret = tx_alloc_raw(tx, FILL_SZ, TYPE_FILL, &n);
		if (!ret) {
			struct tx_piece pc[2] = {
			    {&h, sizeof(h)}, {body, FILL_SZ - sizeof(h)}};
			ret = tx_fill(tx, n, pc, 2);
		}
		if (!ret)
			ret = daxo_tx_write(tx, &r->slot[j], &n, 8);
		ret = tx_end_or_abort(tx, ret);
		if (ret)
			return ret;
		s->exp[j] = n;
		s->done++;
		s->inflight = 0;
	}
	return 0;
}

static int fill_check(daxo_pool *p, void *arg, char *msg, size_t len)
{
	struct wl *s = arg;
	struct wl_root *r = root_of(p, s);

	if (!r) {
		snprintf(msg, len, "root object missing");
		return 1;
	}
	if (s->inflight && r->slot[s->cur] != s->exp[s->cur])
		s->exp[s->cur] = r->slot[s->cur];
	if (slots_check(p, s, TYPE_FILL, msg, len))
		return 1;
	for (unsigned j = 0; j < NFILL; j++) {
		const struct fill_obj *o = daxo_direct(p, r->slot[j]);
		const uint8_t *b = (const uint8_t *)(o + 1);

		if (!o)
			continue;
		if (o->tag < o->born) {
			snprintf(msg, len,
				 "slot %u: object made by op %llu has the tag "
				 "%llu of an older op (a record replayed over "
				 "it)",
				 j, (unsigned long long)o->born,
				 (unsigned long long)o->tag);
			return 1;
		}
		for (size_t k = 0; k < FILL_SZ - sizeof(*o); k++)
			if (b[k] != fill_byte(o->born)) {
				snprintf(msg, len,
					 "slot %u: contents torn at byte %zu",
					 j, k + sizeof(*o));
				return 1;
			}
	}
	return 0;
}

/* ---- mixed: two lanes from one thread; threads: two threads in turn ---- */

/*
 * mixed_op -- a transaction on the counters (undo or redo) with an atomic
 * allocation or free inside it, which takes another lane: records of two
 * lanes interleave, and the transaction's commit must make the other
 * lane's pending record final first (tx.h, the watermark)
 */
static int mixed_op(daxo_pool *p, struct wl *s, unsigned i)
{
	struct wl_root *r = root_of(p, s);
	unsigned j = (i * 7) % NSLOT;
	uint64_t v[NCOUNT];
	daxo_tx *tx;
	int ret;

	ret = daxo_tx_begin(p, &tx);
	if (ret)
		return ret;
	s->inflight = 1;
	if (i % 3 == 0) {
		ret = daxo_tx_add_range(tx, r->count, sizeof(r->count));
		for (unsigned k = 0; !ret && k < NCOUNT; k++)
			r->count[k]++;
		/* now and then a range too large for the record: in place */
		if (!ret && i % 2 == 0)
			ret = daxo_tx_add_range(tx, r->big, sizeof(r->big));
		for (unsigned k = 0; !ret && i % 2 == 0 && k < NBIG; k++)
			r->big[k] = r->count[0];
	} else {
		for (unsigned k = 0; k < NCOUNT; k++)
			v[k] = r->count[k] + 1;
		ret = daxo_tx_write(tx, r->count, v, sizeof(v));
	}
	s->cur = (int)j;
	if (!ret)
		ret = r->slot[j] ? daxo_free(p, &r->slot[j])
				 : daxo_alloc(p, alloc_size(i), TYPE_ALLOC,
					      &r->slot[j]);
	if (ret) {
		daxo_tx_abort(tx);
		return ret;
	}
	s->exp[j] = r->slot[j];
	s->cur = -1;
	ret = daxo_tx_commit(tx);
	if (ret)
		return ret;
	s->done++;
	s->inflight = 0;
	return 0;
}

static int mixed_run(daxo_pool *p, void *arg)
{
	struct wl *s = arg;
	int ret;

	for (unsigned i = 0; i < s->ops; i++) {
		ret = mixed_op(p, s, i);
		if (ret)
			return ret;
	}
	return 0;
}

static int mixed_check(daxo_pool *p, void *arg, char *msg, size_t len)
{
	return counters_check(p, arg, msg, len) ||
	       slots_check(p, arg, TYPE_ALLOC, msg, len);
}

/*
 * Two threads take turns (operation i on thread i % 2), so the order of
 * fences is the same in every run, and each thread's lane is left with a
 * pending record while the other works. At a crash point the waiting
 * thread holds no lock of the library.
 */
struct turns {
	pthread_mutex_t m;
	pthread_cond_t cv;
	unsigned next;
	int err;
	daxo_pool *p;
	struct wl *s;
	int (*op)(daxo_pool *p, struct wl *s, unsigned i);
	unsigned (*who)(unsigned i); /* the thread of operation i */
};

#define TURNS_MAX 4 /* threads of turns_run_n */

struct thr_arg {
	struct turns *t;
	unsigned id;
};

static void *turn_thread(void *arg)
{
	struct thr_arg *a = arg;
	struct turns *t = a->t;

	for (unsigned i = 0; i < t->s->ops; i++) {
		int r;

		if (t->who(i) != a->id)
			continue;
		pthread_mutex_lock(&t->m);
		while (t->next != i && !t->err)
			pthread_cond_wait(&t->cv, &t->m);
		r = t->err;
		pthread_mutex_unlock(&t->m);
		if (r)
			break;
		r = t->op(t->p, t->s, i);
		pthread_mutex_lock(&t->m);
		if (r)
			t->err = r;
		t->next = i + 1;
		pthread_cond_broadcast(&t->cv);
		pthread_mutex_unlock(&t->m);
	}
	/* alive (its lane and heap arena held) until every thread is done */
	pthread_mutex_lock(&t->m);
	while (t->next < t->s->ops && !t->err)
		pthread_cond_wait(&t->cv, &t->m);
	pthread_mutex_unlock(&t->m);
	return NULL;
}

static unsigned who_alternate(unsigned i)
{
	return i % 2;
}

/*
 * turns_run_n -- operations 0..ops-1 of @op, each on thread @who(i) of
 * @nthreads
 */
static int turns_run_n(daxo_pool *p, struct wl *s,
		       int (*op)(daxo_pool *, struct wl *, unsigned),
		       unsigned (*who)(unsigned), unsigned nthreads)
{
	struct turns t = {PTHREAD_MUTEX_INITIALIZER,
			  PTHREAD_COND_INITIALIZER,
			  0,
			  0,
			  p,
			  s,
			  op,
			  who};
	struct thr_arg a[TURNS_MAX];
	pthread_t th[TURNS_MAX];
	unsigned n = 0;

	for (; n < nthreads; n++) {
		a[n] = (struct thr_arg){&t, n};
		if (pthread_create(&th[n], NULL, turn_thread, &a[n]) != 0)
			break;
	}
	if (n < nthreads) {
		pthread_mutex_lock(&t.m);
		t.err = -EAGAIN;
		pthread_cond_broadcast(&t.cv);
		pthread_mutex_unlock(&t.m);
	}
	while (n-- > 0)
		pthread_join(th[n], NULL);
	return t.err;
}

/* turns_run -- two threads */
static int turns_run(daxo_pool *p, struct wl *s,
		     int (*op)(daxo_pool *, struct wl *, unsigned),
		     unsigned (*who)(unsigned))
{
	return turns_run_n(p, s, op, who, 2);
}

static int threads_run(daxo_pool *p, void *arg)
{
	return turns_run(p, arg, mixed_op, who_alternate);
}

/* ---- kv: the keyed store ---- */

#define NKEYS	16
#define KV_VMAX 3000

struct kvwl {
	struct wl base; /* first: make() fills it */
	int exp[NKEYS]; /* op that wrote the key's value, -1: absent */
	int key;	/* key in flight, -1: none */
	int newop;	/* its new value's op, -1: being deleted */
	bool clock;	/* "kvclock": every value 64 bytes */
	bool sum;	/* "kvsum": values of 48 and 56 bytes by turns */
};

static size_t kv_val(const struct kvwl *s, unsigned op, uint8_t *buf)
{
	/*
	 * Empty values too; every fifth one large (written in place). A key
	 * gets ops i, i + 16, ... (kv_run): in two rounds of 16 out of three
	 * its length is fixed by the key, so most of those puts replace a
	 * value of the same length -- in place, through the record.
	 */
	size_t len = s->clock	     ? 64
		     : s->sum	     ? (op % 4 == 0 ? 48 : 56)
		     : op % 5 == 4   ? 2000 + (op * 37u) % 1000
		     : (op / 16) % 3 ? 40 + (op % 16) * 8
				     : (op * 37u) % 600;

	memset(buf, (int)(op % 251) + 1, len);
	if (len >= 4)
		memcpy(buf, &op, 4);
	return len;
}

static size_t kv_key(unsigned k, char *buf)
{
	return (size_t)snprintf(buf, 32, "key-%u-%.*s", k, (int)(k % 7),
				"xxxxxxx");
}

/* kv_do -- operation @i on key @k: a del or a put of op i's value */
static int kv_do(daxo_pool *p, struct kvwl *s, unsigned i, unsigned k,
		 bool del)
{
	uint8_t v[KV_VMAX];
	char key[32];
	size_t kl = kv_key(k, key);
	int ret;

	s->key = (int)k;
	s->newop = del ? -1 : (int)i;
	if (del)
		ret = daxo_del(p, key, kl);
	else
		ret = daxo_put(p, key, kl, v, kv_val(s, i, v));
	if (ret)
		return ret;
	s->exp[k] = s->newop;
	s->key = -1;
	s->base.done++;
	return 0;
}

/* kv_op -- operation @i of the kv workload: put or del of key i*5 % 16 */
static int kv_op(daxo_pool *p, struct wl *base, unsigned i)
{
	struct kvwl *s = (struct kvwl *)base;
	unsigned k = (i * 5) % NKEYS;

	return kv_do(p, s, i, k, i % 4 == 3 && s->exp[k] >= 0);
}

static int kv_run(daxo_pool *p, void *arg)
{
	struct kvwl *s = arg;

	for (unsigned i = 0; i < s->base.ops; i++) {
		int ret = kv_op(p, &s->base, i);
		if (ret)
			return ret;
	}
	return 0;
}

/* kvthreads -- kv's operations, two threads taking turns */
static int kvthreads_run(daxo_pool *p, void *arg)
{
	return turns_run(p, arg, kv_op, who_alternate);
}

/*
 * kvclock -- rounds of eight operations, all values 64 bytes, the two
 * threads taking turns: put A, five puts of A in place -- clocked commits
 * (tx.h) from both lanes, whose seqs run ahead of the shared counter and
 * must still grow from one put to the next --, del A, put B (in memory A's
 * entry may have given back). A record replayed out of order leaves A or
 * B holding an older value.
 */
static int kvclock_op(daxo_pool *p, struct wl *base, unsigned i)
{
	struct kvwl *s = (struct kvwl *)base;
	unsigned r = i / 8, step = i % 8;
	unsigned k = (2 * r + (step == 7)) % NKEYS;

	return kv_do(p, s, i, k, step == 6 && s->exp[k] >= 0);
}

static int kvclock_run(daxo_pool *p, void *arg)
{
	return turns_run(p, arg, kvclock_op, who_alternate);
}

/*
 * kvsum -- keyed-store entries written in place under a SUM entry of their
 * record (lib/tx.h: SUMMED FILLS), three threads taking turns in rounds of
 * four operations on key A:
 *   0 (thread 0) put A with a value of another length: a new entry X
 *                under a SUM, the old entry E freed; thread 0 then waits,
 *                its record pending (its stores not flushed)
 *   1 (thread 1) del A: X freed, named by a NOTE in the record
 *   2 (thread 2) four objects of an entry's size allocated, written, then
 *                made durable with daxo_persist (a sync that helps thread
 *                0's pending record)
 *   3 (thread 1) put A again: the entry E the next round's put replaces
 * At every fence the image may hold any part of the entries' lines and of
 * the pending stores: a torn put must be dropped whole, a committed one
 * replayed although a later record changed its entry, and no entry may be
 * left allocated without its key (kv_check counts them). Each thread
 * allocates from its own heap arena, so X's memory does not go to thread
 * 2 here; tests/crash/test_guard.c's sum case has a plain object take it.
 */
static unsigned who_sum(unsigned i)
{
	return i % 4 == 0 ? 0 : i % 4 == 2 ? 2 : 1;
}

static int kvsum_op(daxo_pool *p, struct wl *base, unsigned i)
{
	struct kvwl *s = (struct kvwl *)base;
	const unsigned k = 0; /* key A */

	if (i % 4 == 1)
		return s->exp[k] >= 0 ? kv_do(p, s, i, k, true) : 0;
	if (i % 4 != 2)
		return kv_do(p, s, i, k, false);
	for (int n = 0; n < 4; n++) {
		daxo_oid o;
		/* an entry's size: a 64-byte header and key, a 48-byte value */
		int r = daxo_alloc(p, 112, 7, &o);
		if (r)
			return r;
		void *d = daxo_direct(p, o);
		memset(d, 0x5a + n, 112);
		daxo_persist(p, d, 112);
	}
	return 0;
}

static int kvsum_run(daxo_pool *p, void *arg)
{
	return turns_run_n(p, arg, kvsum_op, who_sum, 3);
}

/* kv_holds -- does @key hold the value of @op (-1: absent)? */
static bool kv_holds(const struct kvwl *s, daxo_pool *p, const char *key,
		     size_t kl, int op, char *msg, size_t len)
{
	uint8_t got[KV_VMAX], want[KV_VMAX];
	size_t vlen = 0, wl;
	int r = daxo_get(p, key, kl, got, sizeof(got), &vlen);

	if (op < 0) {
		if (r == -ENOENT)
			return true;
		snprintf(msg, len, "%s: daxo_get = %d (%s), should be absent",
			 key, r, r ? daxo_strerror(r) : "found");
		return false;
	}
	if (r) {
		snprintf(msg, len, "%s: daxo_get = %d (%s), should hold op %d",
			 key, r, daxo_strerror(r), op);
		return false;
	}
	wl = kv_val(s, (unsigned)op, want);
	if (vlen != wl || memcmp(got, want, wl) != 0) {
		snprintf(msg, len, "%s: %zu bytes, not op %d's %zu bytes", key,
			 vlen, op, wl);
		return false;
	}
	return true;
}

static int kv_count(const void *key, size_t klen, const void *val, size_t vlen,
		    void *arg)
{
	(*(unsigned *)arg)++;
	return 0;
}

static int kv_check(daxo_pool *p, void *arg, char *msg, size_t len)
{
	struct kvwl *s = arg;
	unsigned present = 0, seen = 0;
	char key[32];
	int r;

	for (unsigned k = 0; k < NKEYS; k++) {
		size_t kl = kv_key(k, key);
		char m2[256];

		if ((int)k == s->key) {
			/* in flight: the old value or the new one */
			if (kv_holds(s, p, key, kl, s->exp[k], msg, len))
				present += s->exp[k] >= 0;
			else if (kv_holds(s, p, key, kl, s->newop, m2, sizeof(m2)))
				present += s->newop >= 0;
			else
				return 1; /* neither: @msg says why */
			continue;
		}
		if (!kv_holds(s, p, key, kl, s->exp[k], msg, len))
			return 1;
		present += s->exp[k] >= 0;
	}
	r = daxo_foreach(p, kv_count, &seen);
	if (r < 0 && r != -ENOENT) {
		snprintf(msg, len, "daxo_foreach = %d", r);
		return 1;
	}
	if (seen != present) {
		snprintf(msg, len, "%u keys in the store, %u expected", seen,
			 present);
		return 1;
	}
	/* one entry object a key: no entry leaked, none lost */
	unsigned entries = 0;
	for (daxo_oid o = daxo_first(p, DAXO_TYPE_ANY); o;
	     o = daxo_next(p, o, DAXO_TYPE_ANY))
		entries += daxo_oid_type(p, o) == KV_TYPE_ENTRY;
	if (entries != seen) {
		snprintf(msg, len, "%u entry objects for %u keys", entries,
			 seen);
		return 1;
	}
	return 0;
}

static int make_kv_common(unsigned ops, struct daxo_crashsim_workload *w,
			  void **state, const char *name,
			  int (*run)(daxo_pool *, void *))
{
	struct kvwl *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->base.ops = ops;
	s->base.cur = -1;
	s->key = -1;
	for (unsigned k = 0; k < NKEYS; k++)
		s->exp[k] = -1;
	memset(w, 0, sizeof(*w));
	s->clock = run == kvclock_run;
	s->sum = run == kvsum_run;
	w->name = name;
	w->setup = wl_setup;
	w->run = run;
	w->check = kv_check;
	w->arg = s;
	*state = s;
	return 0;
}

static int make_kv(unsigned ops, struct daxo_crashsim_workload *w, void **state)
{
	return make_kv_common(ops, w, state, "kv", kv_run);
}

static int make_kvclock(unsigned ops, struct daxo_crashsim_workload *w,
			void **state)
{
	return make_kv_common(ops, w, state, "kvclock", kvclock_run);
}

static int make_kvthreads(unsigned ops, struct daxo_crashsim_workload *w,
			  void **state)
{
	return make_kv_common(ops, w, state, "kvthreads", kvthreads_run);
}

static int make_kvsum(unsigned ops, struct daxo_crashsim_workload *w,
		      void **state)
{
	return make_kv_common(ops, w, state, "kvsum", kvsum_run);
}

/* ---- the table ---- */

static int make(unsigned ops, struct daxo_crashsim_workload *w, void **state,
		const char *name, int (*run)(daxo_pool *, void *),
		int (*check)(daxo_pool *, void *, char *, size_t))
{
	struct wl *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->ops = ops;
	s->cur = -1;
	memset(w, 0, sizeof(*w));
	w->name = name;
	w->setup = wl_setup;
	w->run = run;
	w->check = check;
	w->arg = s;
	*state = s;
	return 0;
}

static int make_undo(unsigned ops, struct daxo_crashsim_workload *w,
		     void **state)
{
	return make(ops, w, state, "undo", undo_run, undo_check);
}

static int make_redo(unsigned ops, struct daxo_crashsim_workload *w,
		     void **state)
{
	return make(ops, w, state, "redo", redo_run, redo_check);
}

static int make_alloc(unsigned ops, struct daxo_crashsim_workload *w,
		      void **state)
{
	return make(ops, w, state, "alloc", alloc_run, alloc_check);
}

static int make_runs(unsigned ops, struct daxo_crashsim_workload *w,
		     void **state)
{
	return make(ops, w, state, "runs", runs_run, runs_check);
}

static int make_txalloc(unsigned ops, struct daxo_crashsim_workload *w,
			void **state)
{
	return make(ops, w, state, "txalloc", txalloc_run, txalloc_check);
}

static int make_fill(unsigned ops, struct daxo_crashsim_workload *w,
		     void **state)
{
	return make(ops, w, state, "fill", fill_run, fill_check);
}

static int make_mixed(unsigned ops, struct daxo_crashsim_workload *w,
		      void **state)
{
	return make(ops, w, state, "mixed", mixed_run, mixed_check);
}

static int make_threads(unsigned ops, struct daxo_crashsim_workload *w,
			void **state)
{
	return make(ops, w, state, "threads", threads_run, mixed_check);
}

static const struct crashsim_builtin builtins[] = {
    {"undo", "transactions with daxo_tx_add_range (some aborted)", make_undo},
    {"redo", "transactions with daxo_tx_write", make_redo},
    {"alloc", "daxo_alloc/daxo_free published into the root", make_alloc},
    {"txalloc", "transactions freeing one object and allocating another",
     make_txalloc},
    {"runs", "runs emptied and their chunks reused by other runs and objects",
     make_runs},
    {"fill", "large objects filled in place over memory a record wrote",
     make_fill},
    {"mixed", "transactions with an atomic alloc/free inside (two lanes)",
     make_mixed},
    {"threads", "the mixed operations from two threads taking turns",
     make_threads},
    {"kv", "daxo_put/daxo_del of 16 keys, values of 0..3000 bytes", make_kv},
    {"kvthreads", "kv's operations from two threads taking turns",
     make_kvthreads},
    {"kvclock",
     "two threads taking turns: in-place puts of a key, its del, another put",
     make_kvclock},
    {"kvsum",
     "entries under SUM entries: put, del, their memory reused in place",
     make_kvsum},
    {"nest", "transactions with helpers' blocks joined, some aborting it all",
     crashsim_make_nest},
    {"ctor", "objects allocated with a constructor, published into slots",
     crashsim_make_ctor},
    {"realloc", "objects grown by daxo_realloc and daxo_tx_realloc",
     crashsim_make_realloc},
    {"rootgrow", "a root growing by steps while its words change",
     crashsim_make_rootgrow},
    {"btree", "examples/btree_map.c's inserts and removals in transactions",
     crashsim_make_btree},
    {"defrag", "daxo_heap_defrag of sparse runs and large objects, links kept",
     crashsim_make_defrag},
    {"kvcompact", "daxo_kv_compact between puts and deletes of 96 keys",
     crashsim_make_kvcompact},
    {NULL, NULL, NULL},
};

const struct crashsim_builtin *crashsim_builtins(size_t *n)
{
	*n = ARRAY_SIZE(builtins) - 1;
	return builtins;
}

const struct crashsim_builtin *crashsim_builtin_find(const char *name)
{
	for (size_t i = 0; builtins[i].name; i++)
		if (!strcmp(builtins[i].name, name))
			return &builtins[i];
	return NULL;
}
