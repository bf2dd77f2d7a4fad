/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tx.c -- transactions: lanes, undo logs, redo records, commit, abort,
 * recovery; and the operations built on them (atomic alloc/free, the root).
 *
 * tx.h describes the on-media format, the commit protocol and why it is
 * correct under the crash model; every fence below names its step there.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <time.h>
#define XXH_STATIC_LINKING_ONLY
/*
 * xxhash compiled in from its header (libxxhash-dev): every commit hashes
 * a 56-byte record header and its stream, and the inlined XXH64 is
 * specialized for those calls (3% of a 64 B put's instructions). The same
 * function and values: nothing on media changes.
 */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "heap.h"
#include "pool.h"
#include "tx.h"
#include "txint.h"

struct range {
	uint64_t off;
	uint64_t len;
};

struct scratch {
	uint64_t off;
	uint32_t n;
};

struct daxo_tx {
	daxo_pool *p;
	struct lane *lane;
	struct daxo_tx *tls_next;
	uint64_t gen; /* lane generation, once anything durable is written */
	int err;      /* a call failed: only abort is allowed */
	bool internal;
	uint64_t *rbuf; /* staged redo entries */
	size_t rlen, rcap;
	struct heap_act *acts;
	size_t nacts, capacts;
	struct range *ranges; /* undo ranges, flushed at commit */
	size_t nranges, capranges;
	uint64_t *uents; /* pool offsets of this transaction's undo entries */
	size_t nuents, capuents;
	uint64_t upos, uend; /* where the next undo entry goes */
	struct scratch *scr;
	size_t nscr, capscr;
	uint64_t logged;
};

static __thread struct daxo_tx *tls_open;  /* this thread's open txs */
static __thread struct daxo_tx *tls_spare; /* this thread's reusable tx */
static __thread bool tls_spare_busy;
static __thread unsigned lane_hint = UINT32_MAX;
static _Atomic unsigned lane_counter;
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;


static inline struct redo_hdr *lane_slot(daxo_pool *p, uint32_t idx,
					 uint64_t gen)
{
	return lane_slot_at(p, idx, (unsigned)(gen & p->slot_mask));
}


/* grow -- make room for @need elements in a growable array */
int tx_grow(void *arrp, size_t *cap, size_t need, size_t elsz)
{
	void **arr = arrp;

	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : 8;
	while (n < need)
		n *= 2;
	void *a = realloc(*arr, n * elsz);
	if (!a)
		return -ENOMEM;
	*arr = a;
	*cap = n;
	return 0;
}

/* commits raise lanes.w_durable when it lags this far behind their W */
#define TX_W_LAG 16u

/* ---- lanes ---- */

/* lane_try -- take lane @i if it is free */
static bool lane_try(struct lanes *l, unsigned i)
{
	int zero = 0;

	if (atomic_load_explicit(&l->lane[i].busy, memory_order_relaxed) ||
	    !atomic_compare_exchange_strong(&l->lane[i].busy, &zero, 1))
		return false;
	/* the watermark scans only lanes ever used */
	unsigned hw = atomic_load(&l->hw);
	while (hw <= i && !atomic_compare_exchange_weak(&l->hw, &hw, i + 1))
		;
	return true;
}

static struct lane *lane_get(struct lanes *l)
{
	if (unlikely(lane_hint == UINT32_MAX))
		lane_hint = atomic_fetch_add(&lane_counter, 1) % TX_NLANES;
	for (;;) {
		for (unsigned n = 0; n < TX_NLANES; n++) {
			unsigned i = (lane_hint + n) % TX_NLANES;
			if (lane_try(l, i)) {
				lane_hint = i;
				return &l->lane[i];
			}
		}
		/* every lane busy: wait for one (timed, so no lost wakeup) */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_mutex_lock(&l->lock);
		atomic_fetch_add(&l->waiters, 1);
		pthread_cond_timedwait(&l->cond, &l->lock, &ts);
		atomic_fetch_sub(&l->waiters, 1);
		pthread_mutex_unlock(&l->lock);
	}
}

static void lane_put(struct lanes *l, struct lane *ln)
{
	atomic_store_explicit(&ln->busy, 0, memory_order_release);
	if (atomic_load(&l->waiters)) {
		pthread_mutex_lock(&l->lock);
		pthread_cond_signal(&l->cond);
		pthread_mutex_unlock(&l->lock);
	}
}

/* ---- redo entries ---- */

static int emit(void *ctx, unsigned op, uint64_t off, uint64_t val)
{
	struct daxo_tx *tx = ctx;

	if (tx_grow(&tx->rbuf, &tx->rcap, tx->rlen + 2, sizeof(uint64_t)))
		return daxo__err(-ENOMEM, "%s: out of memory for the redo log",
				 tx->p->path);
	tx->rbuf[tx->rlen++] = (uint64_t)op << 56 | off;
	tx->rbuf[tx->rlen++] = val;
	return 0;
}

/* emit_copyv -- one COPY entry of @len bytes gathered from @n pieces */
static int emit_copyv(struct daxo_tx *tx, uint64_t off,
		      const struct tx_piece *pc, unsigned n, size_t len)
{
	size_t words = 2 + (len + 7) / 8;

	if (tx_grow(&tx->rbuf, &tx->rcap, tx->rlen + words, sizeof(uint64_t)))
		return daxo__err(-ENOMEM, "%s: out of memory for the redo log",
				 tx->p->path);
	tx->rbuf[tx->rlen] = (uint64_t)REDO_COPY << 56 | off;
	tx->rbuf[tx->rlen + 1] = len;
	tx->rbuf[tx->rlen + words - 1] = 0; /* padding */
	char *d = (char *)&tx->rbuf[tx->rlen + 2];
	for (unsigned k = 0; k < n; k++) {
		memcpy(d, pc[k].src, pc[k].len);
		d += pc[k].len;
	}
	tx->rlen += words;
	return 0;
}

static int emit_copy(struct daxo_tx *tx, uint64_t off, const void *src,
		     size_t len)
{
	struct tx_piece pc = {src, len};

	return emit_copyv(tx, off, &pc, 1, len);
}

/* stream_ok -- every entry well-formed and aimed at the meta or the heap */
bool tx_stream_ok(daxo_pool *p, const uint64_t *w, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t k = redo_entry_words(&w[i], n - i);
		if (!k)
			return false;
		uint64_t op = w[i] >> 56, off = w[i] & REDO_OFF_MASK;
		uint64_t len = redo_entry_len(&w[i]);
		if ((op != REDO_COPY && off % len != 0) ||
		    !heap_target_ok(p, off, len))
			return false;
		i += k;
	}
	return true;
}

bool tx_hdr_valid(const struct redo_hdr *h, uint32_t lane)
{
	return h->magic == (REDO_MAGIC | (uint64_t)lane << 48) && h->gen &&
	       h->hcsum == XXH64(&h->seq, sizeof(*h) - 8, 0);
}

/*
 * apply -- carry out a (trusted) entry stream; with @flush, flush each
 * entry too (else the caller sees to it: flush_targets)
 */
void tx_apply(daxo_pool *p, const uint64_t *w, size_t n, bool flush)
{
	struct persist *ps = &p->ps;

	for (size_t i = 0; i < n;) {
		size_t k = redo_entry_words(&w[i], n - i);
		uint64_t op = w[i] >> 56;
		char *dst = pool_ptr(p, w[i] & REDO_OFF_MASK);
		size_t len = 8;

		switch (op) {
		case REDO_SET64:
			__atomic_store_n((uint64_t *)dst, w[i + 1],
					 __ATOMIC_RELEASE);
			break;
		case REDO_SET32:
			__atomic_store_n((uint32_t *)dst, (uint32_t)w[i + 1],
					 __ATOMIC_RELEASE);
			len = 4;
			break;
		case REDO_OR64:
			/* other lanes may change other bits of this word */
			__atomic_fetch_or((uint64_t *)dst, w[i + 1],
					  __ATOMIC_ACQ_REL);
			break;
		case REDO_AND64:
			__atomic_fetch_and((uint64_t *)dst, w[i + 1],
					   __ATOMIC_ACQ_REL);
			break;
		case REDO_COPY:
			len = w[i + 1];
			if (flush) {
				persist_memcpy(ps, dst, &w[i + 2], len);
				len = 0;
			} else {
				memcpy(dst, &w[i + 2], len);
			}
			break;
		default:
			len = 0;
			break;
		}
		if (flush && len)
			persist_flush(ps, dst, len);
		i += k;
	}
}

/* ---- the durability watermark (see tx.h) ---- */

/* flush_targets -- flush every range that record @seq of @lane changed */
static void flush_targets(daxo_pool *p, uint32_t lane, uint64_t seq)
{
	const struct lane *ln = &p->lanes->lane[lane];

	for (unsigned s = 0; s <= p->slot_mask; s++) {
		/* the slot is known by its seq: read one header, not all */
		if (atomic_load_explicit(&ln->slot_seq[s], memory_order_relaxed) !=
		    seq)
			continue;
		const struct redo_hdr *h = lane_slot_at(p, lane, s);
		if (h->seq != seq || !tx_hdr_valid(h, lane) || h->next ||
		    h->nbytes > TX_SLOT_SIZE - sizeof(*h))
			continue;
		const uint64_t *w = (const uint64_t *)(h + 1);
		size_t n = h->nbytes / 8;
		for (size_t i = 0; i < n;) {
			size_t k = redo_entry_words(&w[i], n - i);
			if (!k)
				break;
			uint64_t off = w[i] & REDO_OFF_MASK;
			uint64_t len = redo_entry_len(&w[i]);
			if (pool_in_range(p, off, len))
				persist_flush(&p->ps, pool_ptr(p, off), len);
			i += k;
		}
		return;
	}
}

struct helped {
	unsigned n;
	uint32_t lane[TX_NLANES];
	uint64_t word[TX_NLANES];
};

/*
 * help_collect -- prepare every pending record to be durable at the
 * caller's next fence: flush what it changed (commits store their changes
 * without flushing them; see daxo_tx_commit)
 */
static void help_collect_below(daxo_pool *p, struct helped *hp, uint64_t below)
{
	struct lanes *l = p->lanes;

	unsigned hw = atomic_load_explicit(&l->hw, memory_order_acquire);

	hp->n = 0;
	for (uint32_t i = 0; i < hw; i++) {
		uint64_t w = atomic_load_explicit(&l->lane[i].pending,
						  memory_order_acquire);
		if (!w || w >= below)
			continue;
#ifndef DAXO_PLANT_NO_HELP /* crash-sim test: pending records not helped */
		flush_targets(p, i, w);
#endif
		hp->lane[hp->n] = i;
		hp->word[hp->n++] = w;
	}
}

static void help_collect(daxo_pool *p, struct helped *hp)
{
	help_collect_below(p, hp, UINT64_MAX);
}

/* help_release -- after the fence: those records are durable now */
static void help_release(daxo_pool *p, const struct helped *hp)
{
	for (unsigned k = 0; k < hp->n; k++) {
		uint64_t e = hp->word[k];
		atomic_compare_exchange_strong(&p->lanes->lane[hp->lane[k]].pending,
					       &e, 0);
	}
}

/*
 * compute_w -- the highest seq up to which every record is known durable:
 * below every pending record and every commit in flight, and at most
 * @cap, a seq the caller took or read from lanes.seq before it came here
 * (every commit with a lower seq set its inflight before the caller's read
 * of seq, so the scan sees it). Each lane's inflight is read before its
 * pending: a commit stores pending before it clears inflight, so a lane
 * cannot slip between the two reads.
 */
static uint64_t compute_w(struct lanes *l, uint64_t cap)
{
	uint64_t m = UINT64_MAX;
	unsigned hw = atomic_load_explicit(&l->hw, memory_order_acquire);

	for (uint32_t i = 0; i < hw; i++) {
		/* seq_cst: ordered after the caller's read of the counter,
		 * as a clocked commit's store of it is before its read */
		uint64_t f = atomic_load_explicit(&l->lane[i].inflight,
						  memory_order_seq_cst);
		uint64_t v = atomic_load_explicit(&l->lane[i].pending,
						  memory_order_acquire);
		if (v && v < m)
			m = v;
		if (f && f < m)
			m = f;
	}
	return m == UINT64_MAX ? cap : MIN(cap, m - 1);
}

/*
 * w_publish -- raise the pool's watermark to at least @w and flush it;
 * returns the value the caller's next fence makes durable
 */
static uint64_t w_publish(daxo_pool *p, uint64_t w)
{
	uint64_t *mw = &p->meta->w_seq;
	uint64_t cur = __atomic_load_n(mw, __ATOMIC_ACQUIRE);

	while (cur < w && !__atomic_compare_exchange_n(mw, &cur, w, false,
						       __ATOMIC_ACQ_REL,
						       __ATOMIC_ACQUIRE))
		;
	if (cur < w)
		cur = w;
	if (cur > atomic_load_explicit(&p->lanes->w_durable,
				       memory_order_relaxed))
		persist_flush(&p->ps, mw, 8);
	return cur;
}

/*
 * seq_raise -- make the commit counter at least @v: a clocked commit's seq
 * (tx_commit_kv) may run ahead of it, and no W may pass a seq the counter
 * has not reached (compute_w's cap)
 */
static void seq_raise(struct lanes *l, uint64_t v)
{
	uint64_t cur = atomic_load(&l->seq);

	while (cur < v && !atomic_compare_exchange_weak(&l->seq, &cur, v))
		;
}

/*
 * counted_seq -- a seq from the shared counter, raised above @after (and
 * the counter with it) when a clocked commit ran ahead of the counter
 */
static uint64_t counted_seq(struct lanes *l, uint64_t after)
{
	uint64_t seq = atomic_fetch_add(&l->seq, 1) + 1;

	if (seq <= after) {
		seq = after + 1;
		seq_raise(l, seq);
	}
	return seq;
}

static void w_durable_raise(struct lanes *l, uint64_t v)
{
	uint64_t cur = atomic_load(&l->w_durable);

	while (cur < v && !atomic_compare_exchange_weak(&l->w_durable, &cur, v))
		;
}

/*
 * ensure_w -- make the durable watermark reach @x: help every pending
 * record, fence, publish the watermark, fence; again while a commit in
 * flight holds it back (commits in flight never wait for anyone)
 */
static void ensure_w(daxo_pool *p, uint64_t x)
{
	struct lanes *l = p->lanes;
	struct helped hp;

	/* @x may be a clocked commit's seq, ahead of the counter */
	seq_raise(l, x);
	for (;;) {
		help_collect(p, &hp);
		/* the helped records' changes durable before w covers them */
		persist_drain(&p->ps);
		help_release(p, &hp);
		uint64_t v = w_publish(p, compute_w(l, atomic_load(&l->seq)));
		/* the watermark durable */
		persist_drain(&p->ps);
		w_durable_raise(l, v);
		if (v >= x)
			return;
		/*
		 * A commit in flight holds W back: it ends within about a
		 * microsecond unless its thread lost the CPU. Spin that long
		 * before yielding (a syscall costs more than the wait).
		 */
		bool held = true;
		for (unsigned i = 0; i < 512 && held; i++) {
			held = compute_w(l, atomic_load(&l->seq)) < x;
			if (held)
				cpu_relax();
		}
		if (held)
			sched_yield();
	}
}

void tx_sync(daxo_pool *p)
{
	struct lanes *l = p->lanes;

	if (!l || atomic_load(&l->w_durable) >= atomic_load(&l->seq)) {
		persist_drain(&p->ps);
		return;
	}
	ensure_w(p, atomic_load(&l->seq));
}

DAXO_EXPORT void daxo_persist(daxo_pool *p, const void *addr, size_t len)
{
	persist_flush(&p->ps, addr, len);
	tx_sync(p);
}

DAXO_EXPORT void daxo_drain(daxo_pool *p)
{
	tx_sync(p);
}

/* ---- writing records ---- */

static int scratch_add(struct daxo_tx *tx, uint64_t off, uint32_t n)
{
	if (tx_grow(&tx->scr, &tx->capscr, tx->nscr + 1, sizeof(*tx->scr)))
		return -ENOMEM;
	tx->scr[tx->nscr].off = off;
	tx->scr[tx->nscr].n = n;
	tx->nscr++;
	return 0;
}

/*
 * scratch_take -- extension space for at least @bytes of log (plus its
 * header): as few blocks as the free extents allow, each up to 64 chunks
 */
static int scratch_take(struct daxo_tx *tx, uint64_t bytes, uint64_t *off,
			uint32_t *n)
{
	uint64_t want = (bytes + sizeof(struct log_ext) + HEAP_CHUNK_SIZE - 1) /
			HEAP_CHUNK_SIZE;
	uint32_t c = (uint32_t)MIN(want, 64ull);
	int ret;

	for (;;) {
		ret = heap_scratch_get(tx->p, c, off);
		if (ret == 0)
			break;
		if (c == 1)
			return ret;
		c /= 2;
	}
	if (scratch_add(tx, *off, c)) {
		heap_scratch_put(tx->p, *off, c);
		return daxo__err(-ENOMEM, "%s: out of memory", tx->p->path);
	}
	*n = c;
	return 0;
}

/*
 * write_record -- the redo record of generation @gen into its slot. All
 * extension space is taken before anything is written, so a failure leaves
 * the media untouched.
 */
static int write_record(struct daxo_tx *tx, uint64_t seq, uint64_t w)
{
	daxo_pool *p = tx->p;
	struct persist *ps = &p->ps;
	struct redo_hdr h;
	const char *src = (const char *)tx->rbuf;
	uint64_t nbytes = tx->rlen * 8;
	uint64_t first = MIN(nbytes, (uint64_t)(TX_SLOT_SIZE - sizeof(h)));
	size_t scr0 = tx->nscr;
	int ret;

	/* take the extension blocks */
	for (uint64_t rest = nbytes - first; rest > 0;) {
		uint64_t off;
		uint32_t n;
		ret = scratch_take(tx, rest, &off, &n);
		if (ret)
			return ret;
		uint64_t cap = (uint64_t)n * HEAP_CHUNK_SIZE - sizeof(struct log_ext);
		rest -= MIN(rest, cap);
	}
	memset(&h, 0, sizeof(h));
	h.seq = seq;
	h.gen = tx->gen;
	h.nbytes = nbytes;
	h.next = tx->nscr > scr0 ? tx->scr[scr0].off : 0;
	h.scsum = XXH64(src, nbytes, 0);
	h.w = w;
	h.magic = REDO_MAGIC | (uint64_t)tx->lane->idx << 48;
	h.hcsum = XXH64(&h.seq, sizeof(h) - 8, 0);

	char *slot = (char *)lane_slot(p, tx->lane->idx, tx->gen);
#ifdef DAXO_PLANT_NO_COMMIT_FLUSH /* crash-sim test: header never flushed */
	memcpy(slot, &h, sizeof(h));
#else
	persist_memcpy(ps, slot, &h, sizeof(h));
#endif
	persist_memcpy(ps, slot + sizeof(h), src, first);
	uint64_t done = first;
	for (size_t i = scr0; i < tx->nscr; i++) {
		struct log_ext e;
		char *blk = pool_ptr(p, tx->scr[i].off);
		uint64_t cap = (uint64_t)tx->scr[i].n * HEAP_CHUNK_SIZE -
			       sizeof(e);
		uint64_t len = MIN(cap, nbytes - done);
		memset(&e, 0, sizeof(e));
		e.next = i + 1 < tx->nscr ? tx->scr[i + 1].off : 0;
		e.cap = cap;
		persist_memcpy(ps, blk, &e, sizeof(e));
		persist_memcpy(ps, blk + sizeof(e), src + done, len);
		done += len;
	}
	tx->logged += sizeof(h) + nbytes;
	return 0;
}

/* write_done -- an empty record: generation @gen ended (abort, recovery) */
void tx_write_done(daxo_pool *p, uint32_t lane, uint64_t gen, uint64_t seq,
		       uint64_t w)
{
	struct redo_hdr h;

	memset(&h, 0, sizeof(h));
	h.w = w;
	h.seq = seq;
	h.gen = gen;
	h.scsum = XXH64("", 0, 0);
	h.magic = REDO_MAGIC | (uint64_t)lane << 48;
	h.hcsum = XXH64(&h.seq, sizeof(h) - 8, 0);
	persist_memcpy(&p->ps, lane_slot(p, lane, gen), &h, sizeof(h));
}

/* ---- transaction objects ---- */

static void cache_destroy(void *arg)
{
	struct daxo_tx *tx = arg;

	free(tx->rbuf);
	free(tx->acts);
	free(tx->ranges);
	free(tx->uents);
	free(tx->scr);
	free(tx);
}

static void cache_key_init(void)
{
	pthread_key_create(&cache_key, cache_destroy);
}

/*
 * tx_new -- a transaction object: the thread's spare when it is free (it
 * keeps its buffers, so steady-state transactions allocate nothing)
 */
static struct daxo_tx *tx_new(void)
{
	if (tls_spare && !tls_spare_busy) {
		tls_spare_busy = true;
		return tls_spare;
	}
	if (!tls_spare) {
		pthread_once(&cache_once, cache_key_init);
		tls_spare = calloc(1, sizeof(*tls_spare));
		if (!tls_spare)
			return NULL;
		pthread_setspecific(cache_key, tls_spare);
		tls_spare_busy = true;
		return tls_spare;
	}
	return calloc(1, sizeof(struct daxo_tx));
}

/* tx_end -- release the lane and the scratch space; keep the buffers */
static void tx_end(struct daxo_tx *tx)
{
	daxo_pool *p = tx->p;

	for (size_t i = 0; i < tx->nscr; i++)
		heap_scratch_put(p, tx->scr[i].off, tx->scr[i].n);
	lane_put(p->lanes, tx->lane);
	if (!tx->internal) {
		struct daxo_tx **pp = &tls_open;
		while (*pp && *pp != tx)
			pp = &(*pp)->tls_next;
		if (*pp)
			*pp = tx->tls_next;
	}
	tx->rlen = tx->nacts = tx->nranges = tx->nuents = tx->nscr = 0;
	if (tx == tls_spare)
		tls_spare_busy = false;
	else
		cache_destroy(tx);
}

static int tx_start(daxo_pool *p, bool internal, struct daxo_tx **out)
{
	struct daxo_tx *tx;
	int ret = pool_writable(p, "transaction");

	if (ret)
		return ret;
	if (!internal)
		for (struct daxo_tx *t = tls_open; t; t = t->tls_next)
			if (t->p == p)
				return daxo__err(-EBUSY,
						 "%s: this thread already has a "
						 "transaction open on the pool",
						 p->path);
	tx = tx_new();
	if (!tx)
		return daxo__err(-ENOMEM, "%s: out of memory", p->path);
	tx->p = p;
	tx->gen = 0;
	tx->err = 0;
	tx->internal = internal;
	tx->logged = 0;
	tx->lane = lane_get(p->lanes);
	if (!internal) {
		tx->tls_next = tls_open;
		tls_open = tx;
	}
	*out = tx;
	return 0;
}

/* tx_fail -- remember the first failure: only abort is allowed after it */
static int tx_fail(struct daxo_tx *tx, int err)
{
	if (!tx->err)
		tx->err = err;
	return err;
}

/* in_new_object -- the tx_alloc'd object of @tx containing [off, off+len) */
static const struct heap_act *in_new_object(struct daxo_tx *tx, uint64_t off,
					    uint64_t len)
{
	for (size_t i = 0; i < tx->nacts; i++) {
		const struct heap_act *a = &tx->acts[i];
		if (a->txnew && off >= a->oid && len <= a->size &&
		    off - a->oid <= a->size - len)
			return a;
	}
	return NULL;
}

static uint64_t new_object_len(const struct heap_act *a)
{
	return ALIGN_UP(a->size, (uint64_t)CACHELINE);
}

static void slot_free(struct daxo_tx *tx);

/* rollback -- restore the undo entries of @tx, newest first, and end it */
static void rollback(struct daxo_tx *tx)
{
	daxo_pool *p = tx->p;
	struct persist *ps = &p->ps;

	for (size_t i = tx->nuents; i-- > 0;) {
		const struct undo_ent *e = pool_ptr(p, tx->uents[i]);
		persist_memcpy(ps, pool_ptr(p, e->off), e + 1, e->len);
	}
	slot_free(tx);
	/* restored data durable before the done record voids the undo log */
	persist_drain(ps);
	uint64_t seq = counted_seq(p->lanes,
				   atomic_load_explicit(&tx->lane->top_seq,
							memory_order_relaxed));
	tx_write_done(p, tx->lane->idx, tx->gen, seq, 0);
	lane_note_record(p, tx->lane, tx->gen, seq);
	/* the done record durable before the lane can be reused */
	persist_drain(ps);
}

static void tx_abort_internal(struct daxo_tx *tx)
{
	daxo_pool *p = tx->p;

	if (tx->nuents)
		rollback(tx);
	for (size_t i = 0; i < tx->nacts; i++)
		heap_act_cancel(p, &tx->acts[i]);
	persist_count(&p->ps, ST_ABORTS, 1);
	persist_count(&p->ps, ST_LOGGED, tx->logged);
	tx_end(tx);
}

/* ---- the public transaction API ---- */

DAXO_EXPORT int daxo_tx_begin(daxo_pool *p, daxo_tx **tx)
{
	if (!p || !tx)
		return daxo__err(-EINVAL, "daxo_tx_begin: NULL argument");
	return tx_start(p, false, tx);
}

/* target_check -- may a transaction change [addr, addr+len)? */
static int target_check(struct daxo_tx *tx, const void *addr, size_t len,
			const char *what, uint64_t *off)
{
	daxo_pool *p = tx->p;
	const char *a = addr;

	if (tx->err)
		return daxo__err(tx->err,
				 "%s: %s: an earlier call failed; the "
				 "transaction must be aborted",
				 p->path, what);
	if (len == 0)
		return tx_fail(tx, daxo__err(-EINVAL,
					     "%s: %s: length 0 (a range is at "
					     "least one byte)",
					     p->path, what));
	if (a < p->base || a >= p->base + p->size ||
	    !heap_target_ok(p, (uint64_t)(a - p->base), len))
		return tx_fail(tx, daxo__err(-EINVAL,
					     "%s: %s: range %p+%zu is not inside "
					     "the pool's heap or root area",
					     p->path, what, addr, len));
	*off = (uint64_t)(a - p->base);
	return 0;
}

DAXO_EXPORT int daxo_tx_add_range(daxo_tx *tx, void *addr, size_t len)
{
	daxo_pool *p;
	struct persist *ps;
	uint64_t off;
	int ret;

	if (!tx)
		return daxo__err(-EINVAL, "daxo_tx_add_range: NULL transaction");
	p = tx->p;
	ps = &p->ps;
	ret = target_check(tx, addr, len, "daxo_tx_add_range", &off);
	if (ret)
		return ret;
	/* a new object of this transaction needs no snapshot */
	if (in_new_object(tx, off, len))
		return 0;
	if (tx_grow(&tx->ranges, &tx->capranges, tx->nranges + 1,
		 sizeof(*tx->ranges)) ||
	    tx_grow(&tx->uents, &tx->capuents, tx->nuents + 2,
		 sizeof(*tx->uents)))
		return tx_fail(tx, daxo__err(-ENOMEM, "%s: out of memory",
					     p->path));
	if (!tx->gen) {
		char *u = lane_undo(p, tx->lane->idx);
		tx->gen = ++tx->lane->gen;
		tx->upos = pool_off(p, u) + UNDO_HDR_SIZE;
		/* room for a jump entry stays free at the end */
		tx->uend = pool_off(p, u) + TX_UNDO_SIZE - sizeof(struct undo_ent);
	}
	uint64_t need = sizeof(struct undo_ent) + ALIGN_UP((uint64_t)len, 8ull);
	struct undo_ent e;
	if (tx->upos + need > tx->uend) {
		uint64_t blk;
		uint32_t n;
		ret = scratch_take(tx, need + sizeof(e), &blk, &n);
		if (ret)
			return tx_fail(tx, ret);
		struct log_ext x;
		memset(&x, 0, sizeof(x));
		x.cap = (uint64_t)n * HEAP_CHUNK_SIZE - sizeof(x);
		persist_memcpy(ps, pool_ptr(p, blk), &x, sizeof(x));
		e.gen = tx->gen;
		e.off = blk + sizeof(x);
		e.len = UNDO_JUMP;
		e.csum = XXH64(&e.gen, 24, 0);
		persist_memcpy(ps, pool_ptr(p, tx->upos), &e, sizeof(e));
		tx->upos = blk + sizeof(x);
		tx->uend = blk + (uint64_t)n * HEAP_CHUNK_SIZE - sizeof(e);
		if (tx->upos + need > tx->uend)
			return tx_fail(tx, daxo__err(-ENOSPC,
						     "%s: undo log block too "
						     "small for %zu bytes",
						     p->path, len));
	}
	e.gen = tx->gen;
	e.off = off;
	e.len = len;
	XXH64_state_t st;
	XXH64_reset(&st, 0);
	XXH64_update(&st, &e.gen, 24);
	XXH64_update(&st, addr, len);
	e.csum = XXH64_digest(&st);
	char *dst = pool_ptr(p, tx->upos);
	persist_memcpy(ps, dst + sizeof(e), addr, len);
	persist_memcpy(ps, dst, &e, sizeof(e));
	/* the snapshot is durable before the caller changes the range */
#ifndef DAXO_PLANT_NO_UNDO_FENCE /* crash-sim test: no fence here */
	persist_drain(ps);
#endif
	tx->uents[tx->nuents++] = tx->upos;
	tx->ranges[tx->nranges].off = off;
	tx->ranges[tx->nranges].len = len;
	tx->nranges++;
	tx->upos += need;
	tx->logged += need;
	return 0;
}

DAXO_EXPORT int daxo_tx_write(daxo_tx *tx, void *dst, const void *src,
			      size_t len)
{
	uint64_t off;
	int ret;

	if (!tx)
		return daxo__err(-EINVAL, "daxo_tx_write: NULL transaction");
	ret = target_check(tx, dst, len, "daxo_tx_write", &off);
	if (ret)
		return ret;
	if (!src)
		return tx_fail(tx, daxo__err(-EINVAL, "daxo_tx_write: NULL src"));
	/* a new object of this transaction is written in place */
	if (in_new_object(tx, off, len)) {
		memmove(dst, src, len);
		return 0;
	}
	ret = emit_copy(tx, off, src, len);
	return ret ? tx_fail(tx, ret) : 0;
}

static int add_act(struct daxo_tx *tx, const struct heap_act *a)
{
	if (tx_grow(&tx->acts, &tx->capacts, tx->nacts + 1, sizeof(*tx->acts)))
		return daxo__err(-ENOMEM, "%s: out of memory", tx->p->path);
	tx->acts[tx->nacts++] = *a;
	return 0;
}

static int tx_alloc_common(daxo_tx *tx, uint64_t size, uint32_t type,
			   daxo_oid *out, bool zero)
{
	struct heap_act a;
	int ret;

	if (!tx || !out)
		return daxo__err(-EINVAL, "daxo_tx_alloc: NULL argument");
	if (tx->err)
		return daxo__err(tx->err, "%s: daxo_tx_alloc: an earlier call "
					  "failed; abort the transaction",
				 tx->p->path);
	ret = heap_reserve(tx->p, size, type, &a);
	if (ret)
		return tx_fail(tx, ret);
	a.txnew = 1;
	ret = add_act(tx, &a);
	if (ret) {
		heap_act_cancel(tx->p, &a);
		return tx_fail(tx, ret);
	}
	if (zero)
		memset(pool_ptr(tx->p, a.oid), 0, new_object_len(&a));
	*out = a.oid;
	return 0;
}

DAXO_EXPORT int daxo_tx_alloc(daxo_tx *tx, uint64_t size, uint32_t type,
			      daxo_oid *out)
{
	return tx_alloc_common(tx, size, type, out, true);
}

int tx_alloc_raw(daxo_tx *tx, uint64_t size, uint32_t type, daxo_oid *out)
{
	return tx_alloc_common(tx, size, type, out, false);
}

/* fill_copy -- one run of a new object's bytes, flushed (no fence) */
static void fill_copy(daxo_pool *p, char *d, const void *src, size_t len)
{
#ifdef DAXO_PLANT_FILL_NO_FLUSH /* crash-sim test: contents never flushed */
	(void)p;
	memcpy(d, src, len);
#else
	persist_memcpy(&p->ps, d, src, len);
#endif
}

/*
 * fill_in_place -- write @n pieces, @total bytes in all, to @d (a new
 * object: cache-line aligned) and flush them, no fence. The small pieces
 * at the front (an entry's header and key, say) are gathered with the
 * start of the next piece into whole cache lines first, so that every line
 * is written once and the long tail goes out in non-temporal stores to
 * aligned lines (piece by piece, a line shared by three pieces was written
 * and flushed three times).
 */
static void fill_in_place(daxo_pool *p, char *d, const struct tx_piece *pc,
			  unsigned n, size_t total)
{
	_Alignas(64) char head[4 * CACHELINE];
	size_t hl = 0;
	unsigned k = 0;
	size_t skip = 0; /* bytes of piece k already in head */

	/* gather while the pieces are small, up to a line boundary */
	while (k < n && hl + pc[k].len <= sizeof(head) - CACHELINE) {
		memcpy(head + hl, pc[k].src, pc[k].len);
		hl += pc[k].len;
		k++;
	}
	if (hl && hl < total) {
		size_t want = MIN(ALIGN_UP(hl, (size_t)CACHELINE), total);
		while (hl < want && k < n) {
			size_t c = MIN(want - hl, pc[k].len - skip);
			memcpy(head + hl, (const char *)pc[k].src + skip, c);
			hl += c;
			skip += c;
			if (skip == pc[k].len) {
				k++;
				skip = 0;
			}
		}
	}
	if (hl)
		fill_copy(p, d, head, hl);
	d += hl;
	for (; k < n; k++, skip = 0) {
		fill_copy(p, d, (const char *)pc[k].src + skip,
			  pc[k].len - skip);
		d += pc[k].len - skip;
	}
}

int tx_fill(daxo_tx *tx, daxo_oid oid, const struct tx_piece *pc, unsigned n)
{
	daxo_pool *p = tx->p;
	struct heap_act *a = NULL;
	uint64_t len = 0;

	if (tx->err)
		return tx->err;
	for (size_t i = 0; i < tx->nacts; i++)
		if (tx->acts[i].txnew && tx->acts[i].oid == oid &&
		    !tx->acts[i].filled)
			a = &tx->acts[i];
	for (unsigned k = 0; k < n; k++)
		len += pc[k].len;
	if (!a || len > a->size)
		return tx_fail(tx, daxo__err(-EINVAL,
					     "%s: tx_fill: not a new object of "
					     "the transaction, or too long",
					     p->path));
	uint64_t after = (tx->rlen + 2 + (len + 7) / 8) * 8 +
			 (tx->nacts + 2) * 32;
	if (len <= TX_FILL_INLINE &&
	    after <= TX_SLOT_SIZE - sizeof(struct redo_hdr)) {
		int ret = emit_copyv(tx, oid, pc, n, (size_t)len);
		if (ret)
			return tx_fail(tx, ret);
		a->filled = FILL_STAGED;
		/*
		 * the object is written when the record is applied, right
		 * after the commit's fence: fetch its lines for writing now,
		 * so that the locked bitmap update then does not wait for
		 * their misses
		 */
		const char *o = pool_ptr(p, oid);
		for (uint64_t k = 0; k < len; k += CACHELINE)
			prefetch_w(o + k);
		return 0;
	}
	fill_in_place(p, pool_ptr(p, oid), pc, n, (size_t)len);
	a->filled = FILL_FLUSHED;
	return 0;
}

DAXO_EXPORT int daxo_tx_free(daxo_tx *tx, daxo_oid oid)
{
	struct heap_act a;
	int ret;

	if (!tx)
		return daxo__err(-EINVAL, "daxo_tx_free: NULL transaction");
	if (tx->err)
		return daxo__err(tx->err, "%s: daxo_tx_free: an earlier call "
					  "failed; abort the transaction",
				 tx->p->path);
	/* freeing what this transaction allocated cancels the allocation */
	for (size_t i = 0; i < tx->nacts; i++) {
		if (tx->acts[i].oid == oid && !tx->acts[i].is_free) {
			heap_act_cancel(tx->p, &tx->acts[i]);
			tx->acts[i] = tx->acts[--tx->nacts];
			return 0;
		}
	}
	ret = heap_prepare_free(tx->p, oid, &a);
	if (ret)
		return tx_fail(tx, ret);
	ret = add_act(tx, &a);
	if (ret) {
		heap_act_cancel(tx->p, &a);
		return tx_fail(tx, ret);
	}
	return 0;
}

DAXO_EXPORT void daxo_tx_abort(daxo_tx *tx)
{
	if (tx)
		tx_abort_internal(tx);
}

/*
 * slot_free -- may the slot of generation @gen be overwritten? Its record
 * (generation gen - slots) must be at or below the durable watermark,
 * or recovery could miss it while replaying older records (tx.h).
 */
static void slot_free(struct daxo_tx *tx)
{
	struct lanes *l = tx->p->lanes;
	uint64_t x = gen_seq(tx->p, tx->lane, tx->gen);

	if (x > tx->lane->w_known &&
	    x > atomic_load_explicit(&l->w_durable, memory_order_acquire))
		ensure_w(tx->p, x);
}

/*
 * lane_unblock -- a transaction without undo entries (its generation not
 * yet taken) whose lane's next slot still holds a record the durable W
 * does not cover -- typically because another thread's commit in flight
 * holds W back -- moves to a free lane whose next slot is free instead of
 * waiting in ensure_w. Lanes are many; the abandoned lane's last record
 * stays pending and is helped like an idle thread's.
 */
static void lane_unblock(struct daxo_tx *tx)
{
	struct lanes *l = tx->p->lanes;
	struct lane *ln = tx->lane;
	uint64_t x = gen_seq(tx->p, ln, ln->gen + 1);

	if (x <= ln->w_known)
		return;
	uint64_t known = MAX(ln->w_known, atomic_load_explicit(
					      &l->w_durable, memory_order_acquire));
	if (x <= known)
		return;
	/*
	 * Move only when a commit in flight holds W back; pending records
	 * are helped by ensure_w (once per idle lane). Moving away from
	 * those would leave one more pending record behind each time.
	 */
	unsigned hw = atomic_load_explicit(&l->hw, memory_order_acquire);
	bool held = false;
	for (uint32_t i = 0; i < hw && !held; i++) {
		uint64_t f = atomic_load_explicit(&l->lane[i].inflight,
						  memory_order_acquire);
		held = f && f <= x;
	}
	if (!held)
		return;
	for (unsigned n = 1; n < TX_NLANES; n++) {
		unsigned i = (ln->idx + n) % TX_NLANES;
		struct lane *c = &l->lane[i];
		if (!lane_try(l, i))
			continue;
		if (gen_seq(tx->p, c, c->gen + 1) <= known) {
			c->w_known = MAX(c->w_known, known);
			lane_put(l, ln);
			tx->lane = c;
			lane_hint = i;
			return;
		}
		lane_put(l, c);
	}
}

/*
 * record_touches -- might a record above the durable watermark change
 * [off, off+len)? Such a record could be replayed over a store made
 * outside any record. Records being written are read as they are: a torn
 * one can only say "maybe" (false positives are safe).
 */
static bool record_touches(daxo_pool *p, const struct lane *own, uint64_t off,
			   uint64_t len)
{
	struct lanes *l = p->lanes;
	uint64_t wd = MAX(own->w_known, atomic_load_explicit(
					   &l->w_durable, memory_order_acquire));
	unsigned hw = atomic_load_explicit(&l->hw, memory_order_acquire);

	for (uint32_t i = 0; i < hw; i++) {
		if (atomic_load_explicit(&l->lane[i].top_seq,
					 memory_order_acquire) <= wd)
			continue;
		for (unsigned s = 0; s <= p->slot_mask; s++) {
			uint64_t sq = atomic_load_explicit(&l->lane[i].slot_seq[s],
							   memory_order_acquire);
			if (sq <= wd)
				continue;
			const struct redo_hdr *h = lane_slot_at(p, i, s);
			uint64_t nb = h->nbytes;
			if (h->next || nb > TX_SLOT_SIZE - sizeof(*h) || nb % 8)
				return true;
			const uint64_t *w = (const uint64_t *)(h + 1);
			size_t n = nb / 8;
			for (size_t k = 0; k < n;) {
				size_t e = redo_entry_words(&w[k], n - k);
				if (!e)
					return true;
				uint64_t o = w[k] & REDO_OFF_MASK;
				uint64_t ln = redo_entry_len(&w[k]);
				if (o < off + len && off < o + ln)
					return true;
				k += e;
			}
		}
	}
	return false;
}

/*
 * single_word -- the whole transaction is one aligned 8-byte daxo_tx_write:
 * an aligned 8-byte store is failure-atomic by itself (DESIGN.md section
 * 2), so it needs no record -- unless a record that recovery could replay
 * writes the same word.
 */
static bool single_word(struct daxo_tx *tx)
{
	return tx->nacts == 0 && tx->nuents == 0 && tx->rlen == 3 &&
	       (tx->rbuf[0] >> 56) == REDO_COPY && tx->rbuf[1] == 8 &&
	       (tx->rbuf[0] & REDO_OFF_MASK) % 8 == 0 &&
	       !record_touches(tx->p, tx->lane, tx->rbuf[0] & REDO_OFF_MASK, 8);
}

/* commit_single_word -- store, flush, one fence, no log */
static void commit_single_word(struct daxo_tx *tx)
{
	daxo_pool *p = tx->p;
	uint64_t *dst = pool_ptr(p, tx->rbuf[0] & REDO_OFF_MASK);

	__atomic_store_n(dst, tx->rbuf[2], __ATOMIC_RELEASE);
	persist_flush(&p->ps, dst, 8);
	persist_drain(&p->ps);
	persist_count(&p->ps, ST_COMMITS, 1);
	tx_end(tx);
}

/* has_new -- did the transaction make objects with daxo_tx_alloc? */
static bool has_new(const struct daxo_tx *tx)
{
	for (size_t i = 0; i < tx->nacts; i++)
		if (tx->acts[i].txnew && !tx->acts[i].filled)
			return true;
	return false;
}

#ifndef DAXO_PLANT_VOUCH_SHORT
/* ranges changed in place up to this many bytes are copied into the record
 * when W cannot cover the records before them (see tx_commit_kv) */
#define TX_VOUCH_COPY_MAX TX_FILL_INLINE

/*
 * vouch_short -- the W of an in-place commit falls short of @need: make
 * replay safe for the ranges it changed in place. Small ranges go into the
 * record as COPY entries; otherwise ensure_w makes W >= need durable and
 * *@w says so. 0 or -errno.
 */
static int vouch_short(struct daxo_tx *tx, uint64_t need, uint64_t *w)
{
	uint64_t bytes = 0;
	bool new_in_place = false;

	for (size_t i = 0; i < tx->nranges; i++)
		bytes += tx->ranges[i].len;
	/*
	 * new objects changed in place: those of daxo_tx_alloc written where
	 * they are (has_new) and those tx_fill wrote itself (FILL_FLUSHED)
	 */
	for (size_t i = 0; i < tx->nacts; i++)
		if (tx->acts[i].txnew && tx->acts[i].filled != FILL_STAGED)
			new_in_place = true;
	if (new_in_place || bytes > TX_VOUCH_COPY_MAX) {
		ensure_w(tx->p, need);
		*w = MAX(*w, need);
		return 0;
	}
	for (size_t i = 0; i < tx->nranges; i++) {
		int ret = emit_copy(tx, tx->ranges[i].off,
				   pool_ptr(tx->p, tx->ranges[i].off),
				   tx->ranges[i].len);
		if (ret)
			return ret;
	}
	return 0;
}
#endif

/*
 * take_seq -- the seq of the record about to be written, its lower bound
 * published in the lane's inflight first (see tx.h): from the shared
 * counter, or (@clocked) from what this thread can see without writing
 * the counter's line -- and above @after either way
 */
static uint64_t take_seq(struct lanes *l, struct lane *ln, uint64_t after,
			 bool clocked)
{
	/*
	 * Any lower bound of the seq will do. The lane's pending record,
	 * when it has one, is one and holds W back anyway; else read the
	 * counter (one more trip for its cache line).
	 */
	uint64_t lb = atomic_load_explicit(&ln->pending, memory_order_relaxed);
	uint64_t seq;

	if (!lb)
		lb = atomic_load(&l->seq);
	/*
	 * a lane's seqs grow (its records are known by their seq: pending,
	 * flush_targets), and the lane's newest may be a clocked one above
	 * the counter
	 */
#ifdef DAXO_PLANT_CLOCK_IGNORED /* crash-sim test: no stripe clock */
	after = 0;
#endif
	after = MAX(after, atomic_load_explicit(&ln->top_seq,
						memory_order_relaxed));
	if (!clocked) {
		atomic_store_explicit(&ln->inflight, lb + 1,
				      memory_order_release); /* before the RMW */
		return counted_seq(l, after);
	}
	/*
	 * A scan that missed this inflight read the counter before the
	 * store below, so the counter read after it is at least that scan's
	 * cap: a seq above it is above every W the scan can compute.
	 */
	atomic_store_explicit(&ln->inflight, lb + 1, memory_order_seq_cst);
	seq = atomic_load(&l->seq);
	return MAX(MAX(lb, seq), after) + 1;
}

DAXO_EXPORT int daxo_tx_commit(daxo_tx *tx)
{
	return tx_commit_kv(tx, 0, false, NULL);
}

int tx_commit_kv(daxo_tx *tx, uint64_t after, bool clocked,
		 uint64_t *seq_out)
{
	daxo_pool *p;
	struct persist *ps;
	struct lanes *l;
	struct lane *ln;
	bool in_place;
	int ret;

	if (!tx)
		return daxo__err(-EINVAL, "daxo_tx_commit: NULL transaction");
	if (seq_out)
		*seq_out = 0;
	p = tx->p;
	ps = &p->ps;
	l = p->lanes;
	ln = tx->lane;
	if (tx->err) {
		ret = tx->err;
		tx_abort_internal(tx);
		return daxo__err(ret, "%s: transaction aborted: an earlier call "
				      "failed (%s)",
				 p->path, daxo_strerror(ret));
	}
	/*
	 * Changes made in place (undo ranges, objects of daxo_tx_alloc) are
	 * not in the record: they must be durable before it, and every older
	 * record must be durable too, so that none is replayed over them.
	 */
	in_place = tx->nuents > 0;
	for (size_t i = 0; i < tx->nacts; i++)
		if (tx->acts[i].filled == FILL_FLUSHED)
			in_place = true;
	if (!in_place && has_new(tx)) {
		/*
		 * small new objects go into the record itself (1 fence); when
		 * the record would outgrow its slot they are flushed in place
		 * and fenced before it instead (2 fences)
		 */
		uint64_t bytes = tx->rlen * 8 + tx->nacts * 32;
		for (size_t i = 0; i < tx->nacts; i++)
			if (tx->acts[i].txnew && !tx->acts[i].filled)
				bytes += 16 + new_object_len(&tx->acts[i]);
		if (bytes <= TX_SLOT_SIZE - sizeof(struct redo_hdr)) {
			for (size_t i = 0; i < tx->nacts; i++) {
				const struct heap_act *a = &tx->acts[i];
				if (!a->txnew || a->filled)
					continue;
				ret = emit_copy(tx, a->oid, pool_ptr(p, a->oid),
						new_object_len(a));
				if (ret)
					goto fail;
			}
		} else {
			in_place = true;
		}
	}
	bool vouch = false; /* this record's W must cover records just helped */
	uint64_t vouch_w = 0; /* a true W that covers them */
	if (in_place) {
		struct helped hp;
		/*
		 * Help (rule 2 of tx.h) unless the only changes in place are
		 * objects of tx_fill that no record above the durable W
		 * touches: then no replay can land on them, and the fence
		 * below just orders them before the record.
		 */
		vouch = tx->nuents > 0;
		for (size_t i = 0; i < tx->nacts && !vouch; i++) {
			const struct heap_act *a = &tx->acts[i];
			if (a->txnew && a->filled != FILL_STAGED)
#ifdef DAXO_PLANT_NO_TOUCH_CHECK /* crash-sim test: never help */
				vouch = !a->filled;
#else
				vouch = !a->filled ||
					record_touches(p, ln, a->oid, a->size);
#endif
		}
		hp.n = 0;
		/*
		 * Every record that changed these ranges before us was
		 * committed before this transaction changed them, so its seq
		 * is at most what the counter says now: @need.
		 */
		uint64_t need = vouch ? atomic_load(&l->seq) : 0;
		if (vouch)
			help_collect(p, &hp);
		for (size_t i = 0; i < tx->nranges; i++)
			persist_flush(ps, pool_ptr(p, tx->ranges[i].off),
				      tx->ranges[i].len);
		for (size_t i = 0; i < tx->nacts; i++)
			if (tx->acts[i].txnew && !tx->acts[i].filled)
				persist_flush(ps, pool_ptr(p, tx->acts[i].oid),
					      new_object_len(&tx->acts[i]));
		/* in-place changes and older records durable before the record */
#ifndef DAXO_PLANT_FENCE_AFTER_MARK /* crash-sim test: F1 covers both */
		persist_drain(ps);
#endif
		help_release(p, &hp);
		/*
		 * The helped records are durable now, but W covers them only
		 * if no commit in flight holds it lower: one whose seq is
		 * older (its changes not even stored yet), or whose lower
		 * bound is the pending record just helped -- common with
		 * several threads. Then recovery may replay an older record
		 * over these ranges, so the record carries their new bytes
		 * too (COPY entries, replayed after it: no fence, no wait);
		 * when they are large, or objects were filled in place, wait
		 * for W >= need and publish it in the pool meta instead
		 * (ensure_w: two more fences). Our commit is not in flight
		 * yet: no one waits for us.
		 */
		if (vouch) {
			vouch_w = compute_w(l, need);
#ifndef DAXO_PLANT_VOUCH_SHORT /* crash test: the old, short W */
			if (vouch_w < need) {
				ret = vouch_short(tx, need, &vouch_w);
				if (ret)
					goto fail;
			}
#endif
		}
	}
	for (size_t i = 0; i < tx->nacts; i++) {
		ret = heap_act_ops(p, &tx->acts[i], emit, tx);
		if (ret)
			goto fail;
	}
	if (!in_place && tx->rlen == 0) {
		/* nothing changed: no fence */
		tx_end(tx);
		return 0;
	}
	if (!in_place && single_word(tx)) {
		commit_single_word(tx);
		return 0;
	}
	if (!tx->gen) {
		lane_unblock(tx);
		ln = tx->lane;
	}
	bool new_gen = !tx->gen;
	if (new_gen)
		tx->gen = ++ln->gen;
	slot_free(tx);
	/*
	 * The locked instructions come before any flush: a locked instruction
	 * waits for earlier CLWBs to complete, like a fence would.
	 */
	uint64_t seq = take_seq(l, ln, after, clocked && !in_place);
	/*
	 * A new watermark only when the durable one will not cover the
	 * record the lane's next commit overwrites, or when this record must
	 * vouch for records made durable just now (in place). It goes into
	 * this record's header only: recovery takes the highest W of the
	 * meta and of every header, and the lane's next n - 1 records carry
	 * at least this W before the slot is reused. The pool meta's word is
	 * written by tx_sync alone, so commits share no durable line.
	 */
	uint64_t w = ln->w_known;
	uint64_t next_x = gen_seq(p, ln, tx->gen + 1);
	struct helped hp;
	hp.n = 0;
	/* an in-place commit computed W before it took its seq (vouch_w) */
	w = MAX(w, vouch_w);
	/*
	 * The shared w_durable only when the lane's own W falls short: a line
	 * every commit read would miss after each raise by another thread.
	 */
	if (w < next_x)
		w = MAX(w, atomic_load_explicit(&l->w_durable,
						memory_order_acquire));
	bool computed = vouch || w < next_x;
	if (w < next_x) {
		/* a cap of seq - 1 needs the counter at seq (compute_w) */
		seq_raise(l, seq);
		w = MAX(w, compute_w(l, seq - 1));
		/*
		 * The commit after next overwrites the slot of seq need2. If
		 * another lane's pending record (its thread idle, or waiting
		 * for a lock) holds W below that, flush its changes with F1
		 * and clear it afterwards: the next commit's W passes it, and
		 * no extra fences are needed (ensure_w's two).
		 */
		uint64_t need2 = gen_seq(p, ln, tx->gen + 2);
		if (!vouch && w < need2)
			help_collect_below(p, &hp, need2);
	}
	/* the previous record's changes, stored but not flushed, go with F1 */
	uint64_t prev = atomic_load_explicit(&ln->pending, memory_order_acquire);
	if (prev)
		flush_targets(p, ln->idx, prev);
	ret = write_record(tx, seq, w);
	if (ret) {
		atomic_store_explicit(&ln->inflight, 0, memory_order_release);
		/* nothing written: the generation was never used */
		if (new_gen) {
			ln->gen--;
			tx->gen = 0;
		}
		goto fail;
	}
	/* F1: the record is durable -- the commit point */
	persist_drain(ps);
	help_release(p, &hp);
	ln->w_known = w;
	/* the shared copy only when it lags far behind (see struct lane) */
	if (computed &&
	    w >= atomic_load_explicit(&l->w_durable, memory_order_relaxed) +
			 TX_W_LAG)
		w_durable_raise(l, w);
	lane_note_record(p, ln, tx->gen, seq);
	if (seq_out)
		*seq_out = seq;
	if (tx->rlen) {
		if (tx->nscr) {
			/*
			 * F2, for records with extension blocks only: those
			 * blocks go back to the heap now, so the record must
			 * never be needed again
			 */
			tx_apply(p, tx->rbuf, tx->rlen, true);
			persist_drain(ps);
			atomic_store_explicit(&ln->pending, 0,
					      memory_order_release);
		} else {
			/*
			 * Stored, not flushed: whoever fences next for this
			 * record flushes its targets (this lane's next commit,
			 * or a helper), so no CLWB is outstanding when the
			 * next transaction takes its locks.
			 */
			tx_apply(p, tx->rbuf, tx->rlen, false);
			atomic_store_explicit(&ln->pending, seq,
					      memory_order_release);
		}
	} else {
		/* the previous record was made durable by F1 */
		atomic_store_explicit(&ln->pending, 0, memory_order_release);
	}
	atomic_store_explicit(&ln->inflight, 0, memory_order_release);

	uint64_t allocs = 0, frees = 0;
	for (size_t i = 0; i < tx->nacts; i++) {
		heap_act_done(p, &tx->acts[i]);
		if (tx->acts[i].is_free)
			frees++;
		else
			allocs++;
	}
	persist_count(ps, ST_COMMITS, 1);
	persist_count(ps, ST_LOGGED, tx->logged);
	if (allocs)
		persist_count(ps, ST_ALLOCS, allocs);
	if (frees)
		persist_count(ps, ST_FREES, frees);
	tx_end(tx);
	return 0;
fail:
	/* nothing of the record was written: abort is still possible */
	tx_fail(tx, ret);
	tx_abort_internal(tx);
	return ret;
}

/* ---- atomic allocation and the root ---- */

/* dst_off -- the pool offset of @dst, or 0 if it is volatile memory */
static int dst_off(daxo_pool *p, const daxo_oid *dst, uint64_t *off)
{
	const char *a = (const char *)dst;

	*off = 0;
	if (a < p->base || a >= p->base + p->size)
		return 0;
	*off = (uint64_t)(a - p->base);
	if (*off % 8 || !heap_target_ok(p, *off, 8))
		return daxo__err(-EINVAL,
				 "%s: destination oid at offset %llu is not an "
				 "aligned word in the heap or root area",
				 p->path, (unsigned long long)*off);
	return 0;
}

/*
 * atomic_op -- one allocation or free, published into *@dst in the same
 * record: @a is a reserved allocation or a validated free (owned by this
 * call from here on)
 */
static int atomic_op(daxo_pool *p, struct daxo_tx *tx, struct heap_act *a,
		     uint64_t off, daxo_oid *dst)
{
	uint64_t val = a->is_free ? 0 : a->oid;
	int ret = add_act(tx, a);

	if (ret) {
		heap_act_cancel(p, a);
		goto fail;
	}
	if (off && (ret = emit(tx, REDO_SET64, off, val)) != 0)
		goto fail;
	ret = daxo_tx_commit(tx);
	if (ret == 0 && !off)
		*dst = val;
	return ret;
fail:
	tx_abort_internal(tx);
	return ret;
}

DAXO_EXPORT int daxo_alloc(daxo_pool *p, uint64_t size, uint32_t type,
			   daxo_oid *dst)
{
	struct daxo_tx *tx;
	struct heap_act a;
	uint64_t off;
	int ret;

	if (!p || !dst)
		return daxo__err(-EINVAL, "daxo_alloc: NULL argument");
	ret = dst_off(p, dst, &off);
	if (ret)
		return ret;
	ret = tx_start(p, true, &tx);
	if (ret)
		return ret;
	ret = heap_reserve(p, size, type, &a);
	if (ret) {
		tx_abort_internal(tx);
		return ret;
	}
	return atomic_op(p, tx, &a, off, dst);
}

DAXO_EXPORT int daxo_free(daxo_pool *p, daxo_oid *dst)
{
	struct daxo_tx *tx;
	struct heap_act a;
	uint64_t off;
	int ret;

	if (!p || !dst)
		return daxo__err(-EINVAL, "daxo_free: NULL argument");
	ret = dst_off(p, dst, &off);
	if (ret)
		return ret;
	ret = tx_start(p, true, &tx);
	if (ret)
		return ret;
	ret = heap_prepare_free(p, *dst, &a);
	if (ret) {
		tx_abort_internal(tx);
		return ret;
	}
	return atomic_op(p, tx, &a, off, dst);
}

DAXO_EXPORT int daxo_root(daxo_pool *p, uint64_t size, daxo_oid *out)
{
	struct daxo_tx *tx;
	daxo_oid oid;
	uint64_t usable;
	int ret;

	if (!p || !out)
		return daxo__err(-EINVAL, "daxo_root: NULL argument");
	pthread_mutex_lock(&p->root_lock);
	oid = __atomic_load_n(&p->meta->root_oid, __ATOMIC_ACQUIRE);
	if (oid) {
		if (heap_object(p, oid, &usable, NULL) != 0) {
			ret = daxo__err(-EUCLEAN,
					"%s: offset %llu: root oid %llu is not a "
					"live object",
					p->path,
					(unsigned long long)p->hdr.meta_off,
					(unsigned long long)oid);
		} else if (size > usable) {
			ret = daxo__err(-EINVAL,
					"%s: the root is %llu bytes; roots do not "
					"grow (asked for %llu)",
					p->path, (unsigned long long)usable,
					(unsigned long long)size);
		} else {
			*out = oid;
			ret = 0;
		}
		goto out;
	}
	if (size == 0) {
		ret = daxo__err(-ENOENT, "%s: the pool has no root object yet",
				p->path);
		goto out;
	}
	ret = tx_start(p, true, &tx);
	if (ret)
		goto out;
	ret = daxo_tx_alloc(tx, size, DAXO_TYPE_ROOT, &oid);
	if (!ret) {
		uint64_t v[2] = {oid, size};
		ret = daxo_tx_write(tx, &p->meta->root_oid, v, sizeof(v));
	}
	if (ret) {
		tx->err = 0;
		tx_abort_internal(tx);
		goto out;
	}
	ret = daxo_tx_commit(tx);
	if (!ret)
		*out = oid;
out:
	pthread_mutex_unlock(&p->root_lock);
	return ret;
}

void lanes_format(daxo_pool *p)
{
	persist_memset(&p->ps, pool_ptr(p, p->hdr.lanes_off), 0,
		       (uint64_t)p->hdr.nlanes * p->hdr.lane_size);
}

int lanes_boot(daxo_pool *p)
{
	/* aligned: lanes and the shared words have cache lines of their own */
	struct lanes *l = aligned_alloc(64, ALIGN_UP(sizeof(*l), (size_t)64));

	if (!l)
		return daxo__err(-ENOMEM, "%s: out of memory", p->path);
	memset(l, 0, sizeof(*l));
	p->lanes = l;
	for (uint32_t i = 0; i < TX_NLANES; i++)
		l->lane[i].idx = i;
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->cond, NULL);
	return tx_recover(p);
}

void lanes_cleanup(daxo_pool *p)
{
	struct lanes *l = p->lanes;

	if (!l)
		return;
	/* every record final: a clean close needs no recovery */
	if (!p->rdonly && !atomic_load(&p->ps.failed))
		tx_sync(p);
	pthread_mutex_destroy(&l->lock);
	pthread_cond_destroy(&l->cond);
	free(l);
	p->lanes = NULL;
}
