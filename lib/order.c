/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * order.c -- commit ordering and the durability watermark: the seq a
 * commit takes, helping pending records, computing and publishing W, and
 * tx_sync (tx.h: THE WATERMARK W, CLOCKED COMMITS).
 */
#include <sched.h>

#include "pool.h"
#include "txint.h"

/*
 * tx_help_collect -- prepare every pending record to be durable at the
 * caller's next fence: flush what it changed (commits store their changes
 * without flushing them; see daxo_tx_commit)
 */
void tx_help_collect_below(daxo_pool *p, struct helped *hp, uint64_t below)
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
		tx_flush_targets(p, i, w, false);
#endif
		hp->lane[hp->n] = i;
		hp->word[hp->n++] = w;
	}
}

void tx_help_collect(daxo_pool *p, struct helped *hp)
{
	tx_help_collect_below(p, hp, UINT64_MAX);
}

/* tx_help_release -- after the fence: those records are durable now */
void tx_help_release(daxo_pool *p, const struct helped *hp)
{
	for (unsigned k = 0; k < hp->n; k++) {
		uint64_t e = hp->word[k];
		atomic_compare_exchange_strong(&p->lanes->lane[hp->lane[k]].pending,
					       &e, 0);
	}
}

/*
 * tx_compute_w -- the highest seq up to which every record is known durable:
 * below every pending record and every commit in flight, and at most
 * @cap, a seq the caller took or read from lanes.seq before it came here
 * (every commit with a lower seq set its inflight before the caller's read
 * of seq, so the scan sees it). Each lane's inflight is read before its
 * pending: a commit stores pending before it clears inflight, so a lane
 * cannot slip between the two reads.
 */
uint64_t tx_compute_w(struct lanes *l, uint64_t cap)
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
 * tx_w_publish -- raise the pool's watermark to at least @w and flush it;
 * returns the value the caller's next fence makes durable
 */
uint64_t tx_w_publish(daxo_pool *p, uint64_t w)
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
 * tx_seq_raise -- make the commit counter at least @v: a clocked commit's seq
 * (tx_commit_kv) may run ahead of it, and no W may pass a seq the counter
 * has not reached (tx_compute_w's cap)
 */
void tx_seq_raise(struct lanes *l, uint64_t v)
{
	uint64_t cur = atomic_load(&l->seq);

	while (cur < v && !atomic_compare_exchange_weak(&l->seq, &cur, v))
		;
}

/*
 * tx_counted_seq -- a seq from the shared counter, raised above @after (and
 * the counter with it) when a clocked commit ran ahead of the counter
 */
uint64_t tx_counted_seq(struct lanes *l, uint64_t after)
{
	uint64_t seq = atomic_fetch_add(&l->seq, 1) + 1;

	if (seq <= after) {
		seq = after + 1;
		tx_seq_raise(l, seq);
	}
	return seq;
}

void tx_w_durable_raise(struct lanes *l, uint64_t v)
{
	uint64_t cur = atomic_load(&l->w_durable);

	while (cur < v && !atomic_compare_exchange_weak(&l->w_durable, &cur, v))
		;
}

/*
 * tx_ensure_w -- make the durable watermark reach @x: help every pending
 * record, fence, publish the watermark, fence; again while a commit in
 * flight holds it back (commits in flight never wait for anyone)
 */
void tx_ensure_w(daxo_pool *p, uint64_t x)
{
	struct lanes *l = p->lanes;
	struct helped hp;

	/* @x may be a clocked commit's seq, ahead of the counter */
	tx_seq_raise(l, x);
	for (;;) {
		tx_help_collect(p, &hp);
		/* the helped records' changes durable before w covers them */
		persist_drain(&p->ps);
		tx_help_release(p, &hp);
		uint64_t v = tx_w_publish(p, tx_compute_w(l, atomic_load(&l->seq)));
		/* the watermark durable */
		persist_drain(&p->ps);
		tx_w_durable_raise(l, v);
		if (v >= x)
			return;
		/*
		 * A commit in flight holds W back: it ends within about a
		 * microsecond unless its thread lost the CPU. Spin that long
		 * before yielding (a syscall costs more than the wait).
		 */
		bool held = true;
		for (unsigned i = 0; i < 512 && held; i++) {
			held = tx_compute_w(l, atomic_load(&l->seq)) < x;
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
	tx_ensure_w(p, atomic_load(&l->seq));
}

/*
 * tx_slot_free -- may the slot of generation @gen be overwritten? Its record
 * (generation gen - slots) must be at or below the durable watermark,
 * or recovery could miss it while replaying older records (tx.h).
 */
void tx_slot_free(struct daxo_tx *tx)
{
	struct lanes *l = tx->p->lanes;
	uint64_t x = gen_seq(tx->p, tx->lane, tx->gen);

	if (x > tx->lane->w_known &&
	    x > atomic_load_explicit(&l->w_durable, memory_order_acquire))
		tx_ensure_w(tx->p, x);
}

/*
 * tx_take_seq -- the seq of the record about to be written, its lower bound
 * published in the lane's inflight first (see tx.h): from the shared
 * counter, or (@clocked) from what this thread can see without writing
 * the counter's line -- and above @after either way
 */
uint64_t tx_take_seq(struct lanes *l, struct lane *ln, uint64_t after,
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
	 * tx_flush_targets), and the lane's newest may be a clocked one above
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
		return tx_counted_seq(l, after);
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
