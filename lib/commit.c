/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * commit.c -- the commit (tx_commit_kv; daxo_tx_commit in nest.c): changes
 * made in place made durable first, the record written and fenced (the
 * commit point), then applied; and the one-word commit that needs no
 * record (tx.h: COMMIT).
 */
#include <string.h>

#include "heap.h"
#include "pool.h"
#include "txint.h"

/*
 * one_word -- the whole transaction is one aligned 8-byte daxo_tx_write:
 * an aligned 8-byte store is failure-atomic by itself (DESIGN.md section
 * 2), so it needs no record -- unless a record that recovery could replay
 * writes the same word (commit_one_word)
 */
static bool one_word(const struct daxo_tx *tx)
{
	return tx->nacts == 0 && tx->nuents == 0 && tx->rlen == 3 &&
	       (tx->rbuf[0] >> 56) == REDO_COPY && tx->rbuf[1] == 8 &&
	       (tx->rbuf[0] & REDO_OFF_MASK) % 8 == 0;
}

/*
 * commit_one_word -- store, flush, one fence, no log. When a record above
 * the durable W writes the same word (up to seq @need), W must pass it
 * first, or replay would undo the store: help the records up to @need
 * (a fence, only if any was pending) and publish a W that covers them in
 * the pool meta, flushed with the word (the same fence). Then the
 * following one-word commits of the word need no help: the path does not
 * decay into records. Returns false, having done nothing, when a commit
 * in flight holds W below @need: the caller writes a record.
 */
static bool commit_one_word(struct daxo_tx *tx, uint64_t need)
{
	daxo_pool *p = tx->p;
	struct lanes *l = p->lanes;
	uint64_t *dst = pool_ptr(p, tx->rbuf[0] & REDO_OFF_MASK);
	uint64_t w = 0;

	if (need) {
		struct helped hp;
		tx_help_collect_below(p, &hp, need + 1);
		if (hp.n) {
			/* their changes durable before a W covers them */
			persist_drain(&p->ps);
			tx_help_release(p, &hp);
		}
		w = tx_compute_w(l, tx_cap_now(l));
		if (w < need)
			return false;
#ifndef DAXO_PLANT_ONE_WORD_NO_W /* crash-sim test: W not published */
		w = tx_w_publish(p, w);
#endif
	}
	__atomic_store_n(dst, tx->rbuf[2], __ATOMIC_RELEASE);
	persist_flush(&p->ps, dst, 8);
	/* the word (and the W that lets it stand) durable */
	persist_drain(&p->ps);
	if (need) {
		tx->lane->w_known = MAX(tx->lane->w_known, w);
		tx_w_durable_raise(l, w);
	}
	persist_count(&p->ps, ST_COMMITS, 1);
	tx_end(tx);
	return true;
}

/*
 * one_word_final -- may a one-word commit store its word in place as far as
 * the caller's locks know? A guarded word (GUARDED WRITES) was last written
 * by a record at or below @after, which the touch table does not know of:
 * only when @after is at or below the durable W is it final.
 */
static bool one_word_final(struct daxo_tx *tx, uint64_t after)
{
#ifndef DAXO_PLANT_GUARD_ONE_WORD /* crash-sim test: the clock not asked */
	return !tx->guard || after <= tx_w_durable(tx->p->lanes, tx->lane);
#else
	(void)after;
	return true;
#endif
}

/* has_new -- did the transaction make objects with daxo_tx_alloc? */
static bool has_new(const struct daxo_tx *tx)
{
	for (size_t i = 0; i < tx->nacts; i++)
		if (tx->acts[i].txnew && !tx->acts[i].filled)
			return true;
	return false;
}

/* undo_words -- words of COPY entries holding the covered ranges */
static size_t undo_words(const struct daxo_tx *tx)
{
	size_t words = 0;

	for (size_t i = 0; i < tx->nranges; i++)
		words += 2 + (size_t)((tx->ranges[i].end - tx->ranges[i].off +
				       7) / 8);
	return words;
}

/*
 * undo_copies -- the covered ranges' new bytes as COPY entries at the
 * front of the record (tx.h: COMMIT): replay writes them first, so that
 * redo entries of the same transaction over the same bytes, applied after
 * the caller's stores, win again. They are already in place: the commit
 * applies the record after them (tx->nskip).
 */
static int undo_copies(struct daxo_tx *tx)
{
	size_t words = undo_words(tx);

	if (tx_grow(&tx->rbuf, &tx->rcap, tx->rlen + words, sizeof(uint64_t)))
		return daxo__err(-ENOMEM, "%s: out of memory for the redo log",
				 tx->p->path);
#ifndef DAXO_PLANT_UNDO_COPY_LAST /* crash-sim test: copies after the redo */
	memmove(tx->rbuf + words, tx->rbuf, tx->rlen * sizeof(uint64_t));
	uint64_t *w = tx->rbuf;
#else
	uint64_t *w = tx->rbuf + tx->rlen;
#endif
	for (size_t i = 0; i < tx->nranges; i++) {
		uint64_t off = tx->ranges[i].off;
		uint64_t len = tx->ranges[i].end - off;
		w[0] = (uint64_t)REDO_COPY << 56 | off;
		w[1] = len;
		w[2 + (len + 7) / 8 - 1] = 0; /* padding */
		memcpy(&w[2], pool_ptr(tx->p, off), len);
		w += 2 + (len + 7) / 8;
	}
	tx->rlen += words;
#ifndef DAXO_PLANT_UNDO_COPY_LAST
	tx->nskip = words;
#else
	tx->ntail = words;
#endif
	return 0;
}

#ifndef DAXO_PLANT_VOUCH_SHORT
/* ranges changed in place up to this many bytes are copied into the record
 * when W cannot cover the records before them (see tx_commit_kv) */
#define TX_VOUCH_COPY_MAX TX_FILL_INLINE

/*
 * vouch_short -- the W of an in-place commit falls short of @need: make
 * replay safe for the ranges it changed in place. Small ranges go into the
 * record as COPY entries; otherwise tx_ensure_w makes W >= need durable and
 * *@w says so. 0 or -errno.
 */
static int vouch_short(struct daxo_tx *tx, uint64_t need, uint64_t *w)
{
	uint64_t bytes = 0;
	bool new_in_place = false;

	for (size_t i = 0; i < tx->nranges; i++)
		bytes += tx->ranges[i].end - tx->ranges[i].off;
	/*
	 * new objects changed in place: those of daxo_tx_alloc written where
	 * they are (has_new) and those tx_fill wrote itself (FILL_FLUSHED)
	 */
	for (size_t i = 0; i < tx->nacts; i++)
		if (tx->acts[i].txnew && tx->acts[i].filled != FILL_STAGED)
			new_in_place = true;
	if (new_in_place || bytes > TX_VOUCH_COPY_MAX) {
		tx_ensure_w(tx->p, need);
		*w = MAX(*w, need);
		return 0;
	}
	return undo_copies(tx);
}
#endif

/* the touch table's entries of a record's targets, gathered once */
#define TOUCH_SET_N 32
struct touch_set {
	unsigned n;
	bool more; /* more than TOUCH_SET_N: marked from the stream */
	_Atomic uint64_t *e[TOUCH_SET_N];
};

/*
 * guarded -- is the target [off, off+len) at stream word @at one the
 * caller's locks order (txint.h: GUARDED WRITES)? Staged before the commit
 * (@at below @glen) and not inside an object of this transaction.
 */
static bool guarded(const struct daxo_tx *tx, size_t at, size_t glen,
		    uint64_t off)
{
	return at < glen && !tx_in_new_object(tx, off, 1);
}

/*
 * raised -- does the commit raise the touch entries of the target at
 * stream word @at? Not for a guarded transaction's own staged targets:
 * those outside its new objects the stripe clock orders, and those inside
 * (a new entry's bytes) are read -- to order after the memory's last
 * writers -- but not raised: while the entry lives only the stripe's
 * records write it, and the record that frees it marks it first
 * (txint.h: GUARDED WRITES).
 */
static bool raised(const struct daxo_tx *tx, size_t at, size_t glen)
{
	return !(tx->guard && at < glen);
}

/*
 * touched -- the newest seq of a record that wrote a target of this one
 * (the touch table: txint.h, ORDER); the entries to raise go into @ts. The
 * first @glen words of the stream are a guarded transaction's own.
 */
static uint64_t touched(struct daxo_tx *tx, size_t glen, struct touch_set *ts)
{
	struct lanes *l = tx->p->lanes;
	const uint64_t *w = tx->rbuf;
	size_t n = tx->rlen;
	uint64_t m = 0;

	_Atomic uint64_t *last = NULL;

	ts->n = 0;
	ts->more = false;
	/* the stream is the commit's own, well-formed (tx_emit) */
	for (size_t i = 0; i < n;) {
		uint64_t off = w[i] & REDO_OFF_MASK;
		uint64_t len = redo_entry_len(&w[i]);
		size_t at = i;
		i += redo_entry_words(&w[i], n - i);
		if (!len)
			continue;
		if (guarded(tx, at, glen, off))
			continue;
		bool raise = raised(tx, at, glen);
		uint64_t g = off >> TX_TOUCH_SHIFT;
		uint64_t end = (off + len - 1) >> TX_TOUCH_SHIFT;
		if (unlikely(end - g >= TX_TOUCH_N)) {
			ts->more |= raise;
			m = MAX(m, tx_touch_max(l, off, len));
			continue;
		}
		for (; g <= end; g++) {
			_Atomic uint64_t *e = tx_touch_entry(l, g);
			/* entries in a row on one granule (a bitmap word and
			 * its neighbour): read and kept once */
			if (e == last)
				continue;
			last = e;
			m = MAX(m, atomic_load_explicit(e, memory_order_acquire));
			if (!raise)
				continue;
			if (ts->n < TOUCH_SET_N)
				ts->e[ts->n++] = e;
			else
				ts->more = true;
		}
	}
	return m;
}

/*
 * touch_targets -- the record's targets into the touch table (those of
 * touched()), and the ranges of tx_mark_at_commit
 */
static void touch_targets(struct daxo_tx *tx, uint64_t seq, size_t glen,
			  const struct touch_set *ts)
{
	const uint64_t *w = tx->rbuf;
	size_t n = tx->rlen;

#ifndef DAXO_PLANT_GUARD_FREE_UNMARKED /* crash-sim test: frees unmarked */
	for (unsigned i = 0; i < tx->nmarks; i++)
		tx_touch_mark(tx->p->lanes, tx->marks[i].off,
			      tx->marks[i].end - tx->marks[i].off, seq);
#endif
	if (!ts->more) {
		for (unsigned i = 0; i < ts->n; i++)
			tx_touch_raise(ts->e[i], seq);
		return;
	}
	for (size_t i = 0; i < n;) {
		size_t k = redo_entry_words(&w[i], n - i);
		if (!k)
			break;
		/* (a guarded target is never raised) */
		if (raised(tx, i, glen))
			tx_touch_mark(tx->p->lanes, w[i] & REDO_OFF_MASK,
				      redo_entry_len(&w[i]), seq);
		i += k;
	}
}

/*
 * in_place_touched -- the newest seq of a record that wrote memory this
 * transaction changes in place (@ranges: its undo ranges too)
 */
static uint64_t in_place_touched(struct daxo_tx *tx, bool ranges)
{
	struct lanes *l = tx->p->lanes;
	uint64_t m = 0;

	for (size_t i = 0; ranges && i < tx->nranges; i++)
		m = MAX(m, tx_touch_max(l, tx->ranges[i].off,
					tx->ranges[i].end - tx->ranges[i].off));
	for (size_t i = 0; i < tx->nacts; i++) {
		const struct heap_act *a = &tx->acts[i];
		if (a->txnew && a->filled != FILL_STAGED)
			m = MAX(m, tx_touch_max(l, a->oid, a->size));
	}
	return m;
}

int tx_commit_kv(daxo_tx *tx, uint64_t after, uint64_t *seq_out)
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
	/* the words a guarded transaction staged itself (GUARDED WRITES) */
	size_t glen = tx->guard ? tx->rlen : 0;
	if (tx->err) {
		ret = tx->err;
		tx_abort_internal(tx);
		return daxo__err(ret, "%s: transaction aborted: an earlier call "
				      "failed (%s)",
				 p->path, daxo_strerror(ret));
	}
	/*
	 * Changes made in place (undo ranges, objects of daxo_tx_alloc) are
	 * not in the record unless the record copies them: then replay
	 * rebuilds them in commit order like any redo change (1 fence). A
	 * record that would outgrow its slot leaves them in place instead:
	 * they must be durable before it, and every older record must be
	 * durable too, so that none is replayed over them (2 fences).
	 */
	in_place = false;
	for (size_t i = 0; i < tx->nacts; i++)
		if (tx->acts[i].filled == FILL_FLUSHED)
			in_place = true;
	if (tx->nuents && tx_ranges_settle(tx)) {
		ret = daxo__err(-ENOMEM, "%s: out of memory", p->path);
		goto fail;
	}
	if (!in_place && (tx->nuents || has_new(tx))) {
		uint64_t bytes = (tx->rlen + undo_words(tx)) * 8 +
				 tx->nacts * 32;
		for (size_t i = 0; i < tx->nacts; i++)
			if (tx->acts[i].txnew && !tx->acts[i].filled)
				bytes += 16 + tx_new_object_len(&tx->acts[i]);
		if (bytes <= TX_SLOT_SIZE - sizeof(struct redo_hdr)) {
			for (size_t i = 0; i < tx->nacts; i++) {
				const struct heap_act *a = &tx->acts[i];
				if (!a->txnew || a->filled)
					continue;
				ret = tx_emit_copy(tx, a->oid, pool_ptr(p, a->oid),
						tx_new_object_len(a));
				if (ret)
					goto fail;
			}
#ifndef DAXO_PLANT_UNDO_UNCOPIED /* crash-sim test: the ranges left out */
			if (tx->nuents && (ret = undo_copies(tx)) != 0)
				goto fail;
#endif
		} else {
			in_place = true;
		}
	}
	/* undo ranges the record does not copy are changed in place */
	bool ranges_in_place = in_place && tx->nuents;
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
		vouch = ranges_in_place;
		for (size_t i = 0; i < tx->nacts && !vouch; i++) {
			const struct heap_act *a = &tx->acts[i];
			if (a->txnew && a->filled != FILL_STAGED)
#ifdef DAXO_PLANT_NO_TOUCH_CHECK /* crash-sim test: never help */
				vouch = !a->filled;
#else
				vouch = !a->filled ||
					tx_record_touches(p, ln, a->oid,
							  a->size) != 0;
#endif
		}
		hp.n = 0;
		/*
		 * Every record that changed these ranges before us wrote its
		 * seq into the touch table first: @need is the newest of them.
		 */
		uint64_t need = vouch ? in_place_touched(tx, ranges_in_place) : 0;
		/*
		 * None of them above the durable W: they are final already,
		 * nothing to help, no W to compute (no shared line written)
		 */
		if (vouch && need <= tx_w_durable(l, ln))
			vouch = false;
		if (vouch)
			tx_help_collect(p, &hp);
		for (size_t i = 0; ranges_in_place && i < tx->nranges; i++)
			persist_flush(ps, pool_ptr(p, tx->ranges[i].off),
				      tx->ranges[i].end - tx->ranges[i].off);
		for (size_t i = 0; i < tx->nacts; i++)
			if (tx->acts[i].txnew && !tx->acts[i].filled)
				persist_flush(ps, pool_ptr(p, tx->acts[i].oid),
					      tx_new_object_len(&tx->acts[i]));
		/* in-place changes and older records durable before the record */
#ifndef DAXO_PLANT_FENCE_AFTER_MARK /* crash-sim test: F1 covers both */
		persist_drain(ps);
#endif
		tx_help_release(p, &hp);
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
		 * (tx_ensure_w: two more fences). Our commit is not in flight
		 * yet: no one waits for us.
		 */
		if (vouch) {
			vouch_w = tx_compute_w(l, tx_cap_now(l));
#ifndef DAXO_PLANT_VOUCH_SHORT /* crash-sim test: a W short of need kept */
			if (vouch_w < need) {
				ret = vouch_short(tx, need, &vouch_w);
				if (ret)
					goto fail;
			}
#else
			(void)need;
#endif
		}
	}
	for (size_t i = 0; i < tx->nacts; i++) {
		ret = heap_act_ops(p, &tx->acts[i], tx_emit, tx);
		if (ret)
			goto fail;
	}
	if (!in_place && tx->rlen == 0) {
		/* nothing changed: no fence */
		tx_end(tx);
		return 0;
	}
	if (!in_place && one_word(tx) && one_word_final(tx, after) &&
	    commit_one_word(tx, tx->guard ? 0
					  : tx_record_touches(
						p, ln, tx->rbuf[0] & REDO_OFF_MASK,
						8)))
		return 0;
	if (!tx->gen) {
		tx_lane_unblock(tx);
		ln = tx->lane;
	}
	bool new_gen = !tx->gen;
	if (new_gen)
		tx->gen = ++ln->gen;
	tx_slot_free(tx);
	/*
	 * The locked instructions come before any flush: a locked instruction
	 * waits for earlier CLWBs to complete, like a fence would.
	 */
	uint64_t floor_seen;
	struct touch_set ts;
	uint64_t seq =
	    tx_take_seq(l, ln, after, touched(tx, glen, &ts), &floor_seen);
	/*
	 * The touch table now, before the record: a mark may only
	 * overstate, and a locked instruction after this commit's CLWBs
	 * would wait for them
	 */
	touch_targets(tx, seq, glen, &ts);
	/*
	 * A new watermark only when the durable one will not cover a record
	 * the lane's next commits overwrite, or when this record must vouch
	 * for records made durable just now (in place). It goes into this
	 * record's header only: recovery takes the highest W of the meta and
	 * of every header, and the lane's next n - 1 records carry at least
	 * this W before the slot is reused. W is sought a few slots ahead
	 * (tx_w_ahead), so that one scan -- by whichever lane holds the scan
	 * lease -- serves every lane through lanes.w_durable, and a lane scans
	 * itself only when its very next slot is not covered.
	 */
	uint64_t w = MAX(ln->w_known, vouch_w);
	uint64_t next_x = gen_seq(p, ln, tx->gen + 1);
	uint64_t ahead_x = gen_seq(p, ln, tx->gen + tx_w_ahead(p));
	struct helped hp;
	bool scanned = false;
	hp.n = 0;
	if (w < ahead_x) {
		share_r(&l->w_durable);
		w = MAX(w, atomic_load_explicit(&l->w_durable,
						memory_order_acquire));
	}
	uint64_t cap = 0;
	if (w < ahead_x && w >= next_x)
		cap = tx_scan_lease(l, floor_seen);
	else if (w < next_x)
		cap = tx_cap_now(l);
	if (cap) {
		w = MAX(w, tx_compute_w(l, cap));
		scanned = true;
		/*
		 * If another lane's pending record (its thread idle, or
		 * waiting for a lock) holds W below what this lane will need,
		 * flush its changes with F1 and clear it afterwards: the next
		 * scan's W passes it, and no extra fences are needed
		 * (tx_ensure_w's two).
		 */
		if (!vouch && w < ahead_x)
			tx_help_collect_below(p, &hp, ahead_x + 1);
	}
	/*
	 * objects written in place for SUM entries go with F1 too, flushed
	 * after the locked instructions above (which would wait for them)
	 */
#ifndef DAXO_PLANT_SUM_UNFLUSHED /* crash-sim test: bytes left in cache */
	for (size_t i = 0; i < tx->nacts; i++)
		if (tx->acts[i].filled == FILL_SUMMED)
			persist_flush(ps, pool_ptr(p, tx->acts[i].oid),
				      tx->acts[i].size);
#endif
	/* the previous record's changes, stored but not flushed, go with F1 */
	uint64_t prev = atomic_load_explicit(&ln->pending, memory_order_acquire);
	if (prev)
		tx_flush_targets(p, ln->idx, prev, tx->gen - 1);
	ret = tx_write_record(tx, seq, w);
	if (ret) {
		share_w(&ln->inflight);
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
	tx_help_release(p, &hp);
	ln->w_known = w;
	/* what a scan found, for every lane (one shared write a scan) */
	if ((scanned || vouch) &&
	    w > atomic_load_explicit(&l->w_durable, memory_order_relaxed))
		tx_w_durable_raise(l, w);
	lane_note_record(p, ln, tx->gen, seq);
	if (seq_out)
		*seq_out = seq;
	if (tx->rlen) {
		if (tx->rec_ext) {
			/*
			 * F2, for records with extension blocks only: those
			 * blocks go back to the heap now, so the record must
			 * never be needed again
			 */
			tx_apply(p, tx->rbuf + tx->nskip,
				 tx->rlen - tx->nskip - tx->ntail, true);
			for (size_t i = 0;
			     tx->nskip + tx->ntail && i < tx->nranges; i++)
				persist_flush(ps, pool_ptr(p, tx->ranges[i].off),
					      tx->ranges[i].end -
						  tx->ranges[i].off);
			persist_drain(ps);
			share_w(&ln->pending);
			atomic_store_explicit(&ln->pending, 0,
					      memory_order_release);
		} else {
			/*
			 * Stored, not flushed: whoever fences next for this
			 * record flushes its targets (this lane's next commit,
			 * or a helper), so no CLWB is outstanding when the
			 * next transaction takes its locks.
			 */
			tx_apply(p, tx->rbuf + tx->nskip,
				 tx->rlen - tx->nskip - tx->ntail, false);
			share_w(&ln->pending);
			atomic_store_explicit(&ln->pending, seq,
					      memory_order_release);
		}
	} else {
		/* the previous record was made durable by F1 */
		share_w(&ln->pending);
		atomic_store_explicit(&ln->pending, 0, memory_order_release);
	}
	share_w(&ln->inflight);
	atomic_store_explicit(&ln->inflight, 0, memory_order_release);

	uint64_t allocs = 0, frees = 0;
	for (size_t i = 0; i < tx->nacts; i++) {
		heap_act_done(p, &tx->acts[i]);
		if (tx->acts[i].is_free)
			frees++;
		else
			allocs++;
	}
	persist_count_commit(ps, tx->logged, allocs, frees);
	tx_end(tx);
	return 0;
fail:
	/* nothing of the record was written: abort is still possible */
	tx_fail(tx, ret);
	tx_abort_internal(tx);
	return ret;
}
