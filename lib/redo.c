/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * redo.c -- the redo record: building its entry stream (tx_emit*), writing
 * it into its slot and extension blocks, reading it back (checks, targets)
 * and applying it. The format is in redo.h; when a
 * record may be written and when it is replayed is in tx.h and txint.h.
 */
#include <stdlib.h>
#include <string.h>
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
#include "txint.h"

static inline struct redo_hdr *lane_slot(daxo_pool *p, uint32_t idx,
					 uint64_t gen)
{
	return lane_slot_at(p, idx, (unsigned)(gen & p->slot_mask));
}

/* ---- redo entries ---- */

uint64_t redo_sum(const void *src, uint64_t len, uint64_t off)
{
	/*
	 * XXH3 without a seed: a seed above 240 bytes derives a secret each
	 * call (a tenth of a 1 KiB put). The offset is mixed in after, so
	 * that the same bytes elsewhere give another sum.
	 */
	return XXH3_64bits(src, (size_t)len) ^ (off * 0x9e3779b97f4a7c15ull);
}

int tx_emit(void *ctx, unsigned op, uint64_t off, uint64_t val)
{
	struct daxo_tx *tx = ctx;

	if (tx_grow(&tx->rbuf, &tx->rcap, tx->rlen + 2, sizeof(uint64_t)))
		return daxo__err(-ENOMEM, "%s: out of memory for the redo log",
				 tx->p->path);
	tx->rbuf[tx->rlen++] = (uint64_t)op << 56 | off;
	tx->rbuf[tx->rlen++] = val;
	return 0;
}

/* tx_emit_copyv -- one COPY entry of @len bytes gathered from @n pieces */
int tx_emit_copyv(struct daxo_tx *tx, uint64_t off,
		      const struct tx_piece *pc, unsigned n, size_t len)
{
	size_t words = 2 + (len + 7) / 8;

	if (tx_grow(&tx->rbuf, &tx->rcap, tx->rlen + words, sizeof(uint64_t)))
		return daxo__err(-ENOMEM, "%s: out of memory for the redo log",
				 tx->p->path);
	tx->rbuf[tx->rlen] = (uint64_t)REDO_COPY << 56 | off;
	tx->rbuf[tx->rlen + 1] = len;
	tx->rbuf[tx->rlen + words - 1] = 0; /* padding */
	tx_pieces_copy(&tx->rbuf[tx->rlen + 2], pc, n);
	tx->rlen += words;
	return 0;
}

int tx_emit_sum(struct daxo_tx *tx, uint64_t off, uint64_t len)
{
	if (tx_grow(&tx->rbuf, &tx->rcap, tx->rlen + 3, sizeof(uint64_t)))
		return daxo__err(-ENOMEM, "%s: out of memory for the redo log",
				 tx->p->path);
	tx->rbuf[tx->rlen] = (uint64_t)REDO_SUM << 56 | off;
	tx->rbuf[tx->rlen + 1] = len;
	tx->rbuf[tx->rlen + 2] = redo_sum(pool_ptr(tx->p, off), len, off);
	tx->rlen += 3;
	return 0;
}

int tx_note_free(daxo_tx *tx, uint64_t off, uint64_t len)
{
	int r = tx_emit(tx, REDO_NOTE, off, len);

	return r ? tx_fail(tx, r) : 0;
}

int tx_emit_copy(struct daxo_tx *tx, uint64_t off, const void *src,
		     size_t len)
{
	struct tx_piece pc = {src, len};

	return tx_emit_copyv(tx, off, &pc, 1, len);
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
		bool any_len = op == REDO_COPY || !redo_writes(op);
		if ((!any_len && off % len != 0) ||
		    (!redo_writes(op) && !len) ||
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
 * racy_copy -- copy @n bytes (a multiple of 8) of a slot another lane's
 * owner may be rewriting: word by word, volatile so that no memcpy call
 * (which ThreadSanitizer checks) stands in for it. What was copied is then
 * checked and used as one snapshot, never re-read from the slot.
 */
/* a slot's snapshot: header in words 0..7, the stream from SNAP_BODY */
#define SNAP_BODY (sizeof(struct redo_hdr) / 8)

static DAXO_RACY void racy_copy(void *dst, const void *src, size_t n)
{
	const volatile uint64_t *s = src;
	uint64_t *d = dst;

	for (size_t i = 0; i < n / 8; i++)
		d[i] = s[i];
}

/*
 * apply -- carry out a (trusted) entry stream; with @flush, flush each
 * entry too (else the caller sees to it: tx_flush_targets)
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
			/* SUM, NOTE: nothing to write */
			len = 0;
			break;
		}
		if (flush && len)
			persist_flush(ps, dst, len);
		i += k;
	}
}

/* ---- reading records back ---- */

/*
 * tx_flush_targets -- flush every range that record @seq of @lane changed.
 * Another lane's slot is read while its owner may be writing the next
 * record: a snapshot of it is taken (racy_copy), its header checked before
 * its entries are trusted; the caller's own lane (@own_gen) holds still.
 */
void tx_flush_targets(daxo_pool *p, uint32_t lane, uint64_t seq,
		      uint64_t own_gen)
{
	const struct lane *ln = &p->lanes->lane[lane];
	bool own = own_gen != TX_FLUSH_OTHER;
	unsigned from = own ? (unsigned)(own_gen & p->slot_mask) : 0;
	uint64_t snap[TX_SLOT_SIZE / 8];

	for (unsigned t = 0; t <= p->slot_mask; t++) {
		unsigned s = (from + t) & p->slot_mask;
		/* the slot is known by its seq: read one header, not all */
		share_r(&ln->slot_seq[s]);
		if (atomic_load_explicit(&ln->slot_seq[s], memory_order_relaxed) !=
		    seq)
			continue;
		const struct redo_hdr *slot = lane_slot_at(p, lane, s), *h = slot;
		share_r(slot);
		/* another lane's: a snapshot of the header, checked, then of
		 * the stream it describes (torn if the owner rewrites the slot
		 * meanwhile: then its record is durable, and flushing lines it
		 * did not write costs nothing) */
		if (!own) {
			racy_copy(snap, slot, sizeof(*h));
			h = (const struct redo_hdr *)snap;
		}
		if (h->seq != seq || h->next ||
		    h->nbytes > TX_SLOT_SIZE - sizeof(*h) ||
		    (!own && (h->nbytes % 8 || !tx_hdr_valid(h, lane))))
			continue;
		if (!own)
			racy_copy(snap + SNAP_BODY, slot + 1, h->nbytes);
		const uint64_t *w = (const uint64_t *)(h + 1);
		size_t n = h->nbytes / 8;
		/* the record was applied: entries in a row on one line (a
		 * run's bitmap word and its complement) flush it once */
		uint64_t last = UINT64_MAX;
		for (size_t i = 0; i < n;) {
			size_t k = redo_entry_words(&w[i], n - i);
			if (!k)
				break;
			uint64_t off = w[i] & REDO_OFF_MASK;
			/* a SUM's bytes were flushed before the record */
			uint64_t len = redo_writes(w[i] >> 56)
					   ? redo_entry_len(&w[i])
					   : 0;
			uint64_t l = off / CACHELINE;
			bool one = len && (off + len - 1) / CACHELINE == l;
			if (len && pool_in_range(p, off, len) &&
			    !(one && l == last))
				persist_flush(&p->ps, pool_ptr(p, off), len);
			last = one ? l : UINT64_MAX;
			i += k;
		}
		return;
	}
}

/*
 * tx_records_scan -- the highest seq above @wd of a record that may change
 * [off, off+len), 0 if there is none: every lane's slots, read as they
 * are (a record being written can only say "maybe": false positives are
 * safe). The exact answer behind the touch table's "maybe".
 */
uint64_t tx_records_scan(daxo_pool *p, uint64_t wd, uint64_t off, uint64_t len)
{
	struct lanes *l = p->lanes;
	unsigned hw = atomic_load_explicit(&l->hw, memory_order_acquire);
	uint64_t top = 0;
	uint64_t snap[TX_SLOT_SIZE / 8];

	for (uint32_t i = 0; i < hw; i++) {
		share_r(&l->lane[i].top_seq);
		if (atomic_load_explicit(&l->lane[i].top_seq,
					 memory_order_acquire) <= wd)
			continue;
		for (unsigned s = 0; s <= p->slot_mask; s++) {
			share_r(&l->lane[i].slot_seq[s]);
			uint64_t sq = atomic_load_explicit(&l->lane[i].slot_seq[s],
							   memory_order_acquire);
			if (sq <= wd || sq <= top)
				continue;
			const struct redo_hdr *slot = lane_slot_at(p, i, s);
			const struct redo_hdr *h = (const struct redo_hdr *)snap;
			share_r(slot);
			/* a snapshot: the owner may be rewriting the slot */
			racy_copy(snap, slot, sizeof(*h));
			uint64_t nb = h->nbytes;
			bool hit = h->next || nb > TX_SLOT_SIZE - sizeof(*h) ||
				   nb % 8;
			if (!hit)
				racy_copy(snap + SNAP_BODY, slot + 1, nb);
			if (!hit)
				hit = redo_stream_meets(
				    (const uint64_t *)(h + 1), nb / 8, off,
				    off + len, false);
			if (hit)
				top = sq;
		}
	}
	return top;
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
 * tx_scratch_take -- extension space for at least @bytes of log (plus its
 * header): as few blocks as the free extents allow, each up to 64 chunks
 */
int tx_scratch_take(struct daxo_tx *tx, uint64_t bytes, uint64_t *off,
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
 * tx_write_record -- the redo record of generation @gen into its slot. All
 * extension space is taken before anything is written, so a failure leaves
 * the media untouched.
 */
int tx_write_record(struct daxo_tx *tx, uint64_t seq, uint64_t w)
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
		ret = tx_scratch_take(tx, rest, &off, &n);
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
	tx->rec_ext = h.next != 0;
	h.scsum = XXH64(src, nbytes, 0);
	h.w = w;
	h.magic = REDO_MAGIC | (uint64_t)tx->lane->idx << 48;
	h.hcsum = XXH64(&h.seq, sizeof(h) - 8, 0);

	char *slot = (char *)lane_slot(p, tx->lane->idx, tx->gen);
	share_w(slot);
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
