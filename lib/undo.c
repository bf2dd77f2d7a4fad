/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * undo.c -- undo ranges: daxo_tx_add_range(s) snapshot what the transaction
 * does not cover yet into the lane's undo log (tx.h: UNDO LOG) under one
 * fence per call, the set of covered bytes, and rollback. How the covered
 * ranges are made durable at commit is commit.c's (tx.h: COMMIT).
 */
#include <stdlib.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "heap.h"
#include "pool.h"
#include "txint.h"

/*
 * The covered set. A transaction may add many ranges (a hash map's resize
 * adds one per entry, in no particular order), so insertion must not cost
 * a move of the whole set: ranges holds sorted, disjoint, non-adjacent
 * spans; new spans go to pend (unsorted, disjoint from everything) and are
 * merged in when pend outgrows about the square root of the set -- n
 * ranges cost O(n sqrt n) in all.
 */

static int span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

/* first_ending_after -- index of the first span of ranges with end > @off */
static size_t first_ending_after(const struct daxo_tx *tx, uint64_t off)
{
	size_t lo = 0, hi = tx->nranges;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (tx->ranges[mid].end <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int tx_ranges_settle(struct daxo_tx *tx)
{
	size_t n = tx->nranges + tx->npend, i = 0, j = 0, k = 0;
	struct span *out;

	if (!tx->npend)
		return 0;
	if (!tx->nranges && tx->npend == 1) {
		/* the common transaction: one piece */
		if (tx_grow(&tx->ranges, &tx->capranges, 1, sizeof(*tx->ranges)))
			return -ENOMEM;
		tx->ranges[0] = tx->pend[0];
		tx->nranges = 1;
		tx->npend = 0;
		return 0;
	}
	if (tx_grow(&tx->tmp, &tx->captmp, n, sizeof(*tx->tmp)))
		return -ENOMEM;
	out = tx->tmp;
	qsort(tx->pend, tx->npend, sizeof(*tx->pend), span_cmp);
	while (i < tx->nranges || j < tx->npend) {
		struct span s;
		if (j == tx->npend ||
		    (i < tx->nranges && tx->ranges[i].off < tx->pend[j].off))
			s = tx->ranges[i++];
		else
			s = tx->pend[j++];
		/* adjacent spans join: fewer entries in the record */
		if (k && out[k - 1].end >= s.off)
			out[k - 1].end = MAX(out[k - 1].end, s.end);
		else
			out[k++] = s;
	}
	tx->tmp = tx->ranges;
	tx->ranges = out;
	size_t cap = tx->captmp;
	tx->captmp = tx->capranges;
	tx->capranges = cap;
	tx->nranges = k;
	tx->npend = 0;
	return 0;
}

/*
 * uncovered -- the parts of [off, end) the transaction does not cover yet,
 * into tx->pieces (sorted); returns their number or -ENOMEM
 */
static ssize_t uncovered(struct daxo_tx *tx, uint64_t off, uint64_t end)
{
	size_t nc = 0, np = 0;

	if (!tx->nranges && !tx->npend) {
		/* nothing covered yet: the whole range */
		if (tx_grow(&tx->pieces, &tx->cappieces, 1, sizeof(*tx->pieces)))
			return -ENOMEM;
		tx->pieces[0].off = off;
		tx->pieces[0].end = end;
		return 1;
	}
	size_t i = first_ending_after(tx, off);

	/* the covering spans that meet [off, end), sorted, in tx->tmp */
	for (size_t k = i; k < tx->nranges && tx->ranges[k].off < end; k++) {
		if (tx_grow(&tx->tmp, &tx->captmp, nc + 1, sizeof(*tx->tmp)))
			return -ENOMEM;
		tx->tmp[nc++] = tx->ranges[k];
	}
	size_t from_pend = nc;
	for (size_t k = 0; k < tx->npend; k++) {
		if (tx->pend[k].off >= end || tx->pend[k].end <= off)
			continue;
		if (tx_grow(&tx->tmp, &tx->captmp, nc + 1, sizeof(*tx->tmp)))
			return -ENOMEM;
		tx->tmp[nc++] = tx->pend[k];
	}
#ifdef DAXO_PLANT_PARTIAL_COVERED /* crash-sim test: overlap taken for cover */
	if (nc)
		return 0;
#endif
	if (nc > from_pend && from_pend)
		qsort(tx->tmp, nc, sizeof(*tx->tmp), span_cmp);
	else if (nc > from_pend + 1)
		qsort(tx->tmp + from_pend, nc - from_pend, sizeof(*tx->tmp),
		      span_cmp);
	uint64_t pos = off;
	for (size_t k = 0; k <= nc; k++) {
		uint64_t stop = k < nc ? MIN(tx->tmp[k].off, end) : end;
		if (stop > pos) {
			if (tx_grow(&tx->pieces, &tx->cappieces, np + 1,
				    sizeof(*tx->pieces)))
				return -ENOMEM;
			tx->pieces[np].off = pos;
			tx->pieces[np].end = stop;
			np++;
		}
		if (k < nc)
			pos = MAX(pos, tx->tmp[k].end);
	}
	return (ssize_t)np;
}

/* cover -- add the snapshotted pieces to the covered set */
static int cover(struct daxo_tx *tx, size_t np)
{
	size_t limit = 32;

	while (limit * limit < tx->nranges)
		limit *= 2;
	if (tx->npend + np > limit) {
		int ret = tx_ranges_settle(tx);
		if (ret)
			return ret;
	}
	if (tx_grow(&tx->pend, &tx->cappend, tx->npend + np,
		    sizeof(*tx->pend)))
		return -ENOMEM;
	memcpy(&tx->pend[tx->npend], tx->pieces, np * sizeof(*tx->pieces));
	tx->npend += np;
	return 0;
}

/*
 * undo_entry -- snapshot [off, off+len) into the undo log (flushed, not
 * fenced: the caller fences once for all the entries of its call)
 */
static int undo_entry(struct daxo_tx *tx, uint64_t off, uint64_t len)
{
	daxo_pool *p = tx->p;
	struct persist *ps = &p->ps;
	const char *addr = pool_ptr(p, off);
	int ret;

	if (tx_grow(&tx->uents, &tx->capuents, tx->nuents + 1,
		    sizeof(*tx->uents)))
		return daxo__err(-ENOMEM, "%s: out of memory", p->path);
	if (!tx->gen) {
		char *u = lane_undo(p, tx->lane->idx);
		tx->gen = ++tx->lane->gen;
		tx->upos = pool_off(p, u) + UNDO_HDR_SIZE;
		/* room for a jump entry stays free at the end */
		tx->uend = pool_off(p, u) + TX_UNDO_SIZE - sizeof(struct undo_ent);
	}
	uint64_t need = sizeof(struct undo_ent) + ALIGN_UP(len, 8ull);
	struct undo_ent e;
	if (tx->upos + need > tx->uend) {
		uint64_t blk;
		uint32_t n;
		ret = tx_scratch_take(tx, need + sizeof(e), &blk, &n);
		if (ret)
			return ret;
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
			return daxo__err(-ENOSPC,
					 "%s: undo log block too small for "
					 "%llu bytes",
					 p->path, (unsigned long long)len);
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
	tx->uents[tx->nuents++] = tx->upos;
	tx->upos += need;
	tx->logged += need;
	return 0;
}

/*
 * add_one -- snapshot what [off, off+len) adds to the covered set; *@logged
 * says whether anything was written. Ranges inside objects the transaction
 * allocated need no snapshot (their old contents are nobody's).
 */
static int add_one(struct daxo_tx *tx, uint64_t off, uint64_t len,
		   bool *logged)
{
	if (tx_in_new_object(tx, off, len))
		return 0;
	ssize_t np = uncovered(tx, off, off + len);
	if (np < 0)
		return daxo__err(-ENOMEM, "%s: out of memory", tx->p->path);
	for (ssize_t k = 0; k < np; k++) {
		int ret = undo_entry(tx, tx->pieces[k].off,
				     tx->pieces[k].end - tx->pieces[k].off);
		if (ret)
			return ret;
		*logged = true;
	}
	if (np && cover(tx, (size_t)np))
		return daxo__err(-ENOMEM, "%s: out of memory", tx->p->path);
	return 0;
}

/*
 * add_ranges -- daxo_tx_add_range(s): check every range, snapshot the parts
 * not covered yet, one fence for all of them
 */
static int add_ranges(struct daxo_tx *tx, const struct daxo_range *r,
		      size_t n, const char *what)
{
	bool logged = false;
	uint64_t off;
	int ret;

	if (tx->err)
		return daxo__err(tx->err,
				 "%s: %s: an earlier call failed; the "
				 "transaction must be aborted",
				 tx->p->path, what);
	for (size_t i = 0; i < n; i++) {
		ret = tx_target_check(tx, r[i].addr, r[i].len, what, &off);
		if (ret)
			return ret;
	}
	for (size_t i = 0; i < n; i++) {
		off = pool_off(tx->p, r[i].addr);
		ret = add_one(tx, off, r[i].len, &logged);
		if (ret)
			return tx_fail(tx, ret);
	}
	/* the snapshots are durable before the caller changes the ranges */
#ifndef DAXO_PLANT_NO_UNDO_FENCE /* crash-sim test: no fence here */
	if (logged)
		persist_drain(&tx->p->ps);
#endif
	return 0;
}

DAXO_EXPORT int daxo_tx_add_range(daxo_tx *tx, void *addr, size_t len)
{
	struct daxo_range r = {addr, len};

	if (!tx)
		return daxo__err(-EINVAL, "daxo_tx_add_range: NULL transaction");
	int ret = tx_foreign(tx, "daxo_tx_add_range");
	return ret ? ret : add_ranges(tx, &r, 1, "daxo_tx_add_range");
}

DAXO_EXPORT int daxo_tx_add_ranges(daxo_tx *tx, const struct daxo_range *r,
				   size_t n)
{
	if (!tx)
		return daxo__err(-EINVAL,
				 "daxo_tx_add_ranges: NULL transaction");
	int ret = tx_foreign(tx, "daxo_tx_add_ranges");
	if (ret)
		return ret;
	if (!r && n)
		return tx_fail(tx, daxo__err(-EINVAL,
					     "daxo_tx_add_ranges: NULL ranges"));
	return add_ranges(tx, r, n, "daxo_tx_add_ranges");
}

void tx_rollback(struct daxo_tx *tx)
{
	daxo_pool *p = tx->p;
	struct persist *ps = &p->ps;

	for (size_t i = tx->nuents; i-- > 0;) {
		const struct undo_ent *e = pool_ptr(p, tx->uents[i]);
		persist_memcpy(ps, pool_ptr(p, e->off), e + 1, e->len);
	}
	tx_slot_free(tx);
	/* restored data durable before the done record voids the undo log */
	persist_drain(ps);
	/* no entries: nothing depends on its order but its lane's */
	uint64_t seq = MAX(atomic_load(&p->lanes->floor),
			   atomic_load_explicit(&tx->lane->top_seq,
						memory_order_relaxed) +
			       1);
	tx_write_done(p, tx->lane->idx, tx->gen, seq, 0);
	lane_note_record(p, tx->lane, tx->gen, seq);
	/* the done record durable before the lane can be reused */
	persist_drain(ps);
}
