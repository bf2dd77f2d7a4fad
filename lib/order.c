/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * order.c -- commit ordering and the durability watermark: the seq a
 * commit takes (the floor, its lane, the touch table), helping pending
 * records, computing and publishing W, and tx_sync (txint.h: ORDER, THE
 * WATERMARK W, THE TOUCH TABLE).
 */
#include <sched.h>
#include <time.h>

#include "pool.h"
#include "txint.h"

/*
 * tx_help_collect_below -- prepare every pending record with a seq below
 * @below to be durable at the caller's next fence: flush what it changed
 * (commits store their changes without flushing them; see tx_commit_kv)
 */
void tx_help_collect_below(daxo_pool *p, struct helped *hp, uint64_t below)
{
	struct lanes *l = p->lanes;

	hp->n = 0;
	for (uint64_t m = tx_lanes_used(l); m; m &= m - 1) {
		uint32_t i = (uint32_t)__builtin_ctzll(m);
		share_r(&l->lane[i].pending);
		uint64_t w = atomic_load_explicit(&l->lane[i].pending,
						  memory_order_acquire);
		if (!w || w >= below)
			continue;
#ifndef DAXO_PLANT_NO_HELP /* crash-sim test: pending records not helped */
		tx_flush_targets(p, i, w, TX_FLUSH_OTHER);
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
		_Atomic uint64_t *pw = &p->lanes->lane[hp->lane[k]].pending;
		share_w(pw);
		atomic_compare_exchange_strong(pw, &e, 0);
	}
}

/*
 * max_top -- the newest seq of any lane (read before the floor is raised:
 * every record committed before is at most this)
 */
static uint64_t max_top(struct lanes *l)
{
	uint64_t m = 0;

	for (uint64_t mu = tx_lanes_used(l); mu; mu &= mu - 1) {
		uint32_t i = (uint32_t)__builtin_ctzll(mu);
		share_r(&l->lane[i].top_seq);
		m = MAX(m, atomic_load_explicit(&l->lane[i].top_seq,
						memory_order_acquire));
	}
	return m;
}

/*
 * raise_floor -- lanes.floor from @seen to above every seq taken so far;
 * returns the W cap that gives (the new floor - 1), or 0 if the floor is
 * no longer @seen (another thread raised it: with @force, the caller raises
 * it again). The compare-and-swap is a full barrier: the scan's loads
 * that follow see every commit that read the floor before it.
 */
static uint64_t raise_floor(struct lanes *l, uint64_t seen, bool force)
{
	uint64_t top = max_top(l);

	for (;;) {
		uint64_t f = MAX(seen, top) + 1;
		share_w(&l->floor);
		if (atomic_compare_exchange_strong(&l->floor, &seen, f))
			return f - 1;
		if (!force)
			return 0;
	}
}

uint64_t tx_cap_now(struct lanes *l)
{
	share_r(&l->floor);
	return raise_floor(l, atomic_load(&l->floor), true);
}

/*
 * tx_compute_w -- the highest seq up to which every record is known durable:
 * below every pending record and every commit in flight, and at most @cap,
 * what raising the floor gave the caller (tx_cap_now, tx_scan_lease): a
 * commit the scan does not see read the floor after the raise, so its seq
 * is above @cap. Each lane's inflight is read before its pending: a commit
 * stores pending before it clears inflight, so a lane cannot slip between
 * the two reads.
 */
uint64_t tx_compute_w(struct lanes *l, uint64_t cap)
{
	uint64_t m = UINT64_MAX;

	for (uint64_t mu = tx_lanes_used(l); mu; mu &= mu - 1) {
		uint32_t i = (uint32_t)__builtin_ctzll(mu);
		share_r(&l->lane[i].inflight);
		uint64_t f = atomic_load_explicit(&l->lane[i].inflight,
						  memory_order_acquire);
		uint64_t v = atomic_load_explicit(&l->lane[i].pending,
						  memory_order_acquire);
#ifndef DAXO_PLANT_W_IGNORES_PENDING /* crash-sim test: W passes pending */
		if (v && v < m)
			m = v;
#else
		(void)v;
#endif
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

	share_r(mw);
	uint64_t cur = __atomic_load_n(mw, __ATOMIC_ACQUIRE);

	while (cur < w) {
		share_w(mw);
		if (__atomic_compare_exchange_n(mw, &cur, w, false,
						__ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			break;
	}
	if (cur < w)
		cur = w;
	if (cur > atomic_load_explicit(&p->lanes->w_durable,
				       memory_order_relaxed))
		persist_flush(&p->ps, mw, 8);
	return cur;
}

void tx_w_durable_raise(struct lanes *l, uint64_t v)
{
	share_r(&l->w_durable);
	uint64_t cur = atomic_load(&l->w_durable);

	while (cur < v) {
		share_w(&l->w_durable);
		if (atomic_compare_exchange_weak(&l->w_durable, &cur, v))
			break;
	}
}

uint64_t tx_w_durable(const struct lanes *l, const struct lane *ln)
{
	share_r(&l->w_durable);
	return MAX(ln->w_known, atomic_load_explicit(&l->w_durable,
						     memory_order_acquire));
}

uint64_t tx_scan_lease(struct lanes *l, uint64_t seen)
{
	share_r(&l->floor);
	if (atomic_load_explicit(&l->floor, memory_order_relaxed) != seen)
		return 0;
	return raise_floor(l, seen, false);
}

/*
 * tx_ensure_w -- make the durable watermark reach @x: help every pending
 * record, fence, publish the watermark, fence; again while a commit in
 * flight holds it back (commits in flight never wait for anyone)
 */
/* mono_ns -- CLOCK_MONOTONIC in nanoseconds */
static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#define HELD_SPIN_NS   4000u  /* a few commits' time */
#define HELD_YIELDS    3u     /* rounds that yield before sleeping */
#define HELD_SLEEP_NS  50000u /* between looks once the holder is off CPU */

/*
 * held_wait -- W (capped by @cap) is held below @x by a commit in flight:
 * wait for it (round @round of tx_ensure_w), until W may reach @x now or
 * for a yield or a sleep; the caller computes and publishes W again
 */
static void held_wait(struct lanes *l, uint64_t cap, uint64_t x,
		      unsigned round)
{
	uint64_t t0 = mono_ns();

	do {
		for (unsigned i = 0; i < 16; i++) {
			if (tx_compute_w(l, cap) >= x)
				return;
			cpu_relax();
		}
	} while (mono_ns() - t0 < HELD_SPIN_NS);
	if (round < HELD_YIELDS) {
		sched_yield();
	} else {
		struct timespec ts = {0, HELD_SLEEP_NS};
		nanosleep(&ts, NULL);
	}
}

void tx_ensure_w(daxo_pool *p, uint64_t x)
{
	struct lanes *l = p->lanes;
	struct helped hp;
	unsigned rounds = 0;

	for (;;) {
		tx_help_collect(p, &hp);
		/* the helped records' changes durable before w covers them */
		persist_drain(&p->ps);
		tx_help_release(p, &hp);
		uint64_t cap = tx_cap_now(l);
		uint64_t v = tx_w_publish(p, tx_compute_w(l, cap));
		/* the watermark durable */
		persist_drain(&p->ps);
		tx_w_durable_raise(l, v);
		if (v >= x)
			return;
		/*
		 * A commit in flight holds W back: it ends within about a
		 * microsecond unless its thread lost the CPU. Spin that long
		 * (a syscall costs more than the wait), then yield; after a
		 * few yields the thread is off its CPU for longer than a
		 * commit, and spinning on would burn a CPU it may need:
		 * sleep between looks instead.
		 */
		held_wait(l, cap, x, rounds++);
	}
}

/*
 * tx_sync -- every record committed so far final: a W past all of them
 * published and fenced. Nothing to publish (no lane has a record above the
 * durable W) is one fence for the caller's flushes.
 */
void tx_sync(daxo_pool *p)
{
	struct lanes *l = p->lanes;

	if (l) {
		uint64_t wd = atomic_load(&l->w_durable), top = 0;
		for (uint64_t m = tx_lanes_used(l); m; m &= m - 1)
			top = MAX(top, atomic_load(&l->lane[__builtin_ctzll(m)]
							.top_seq));
		if (top > wd) {
			tx_ensure_w(p, top);
			return;
		}
	}
	persist_drain(&p->ps);
}

bool tx_range_final(daxo_pool *p, uint64_t off, uint64_t len)
{
	struct lanes *l = p->lanes;

	if (!l || !len)
		return true;
#ifndef DAXO_PLANT_PERSIST_UNCHECKED /* crash-sim test: never tx_sync */
	/* a range over the whole table: tx_sync is cheaper than reading it */
	if (((off + len - 1) >> TX_TOUCH_SHIFT) - (off >> TX_TOUCH_SHIFT) >=
	    TX_TOUCH_N)
		return false;
	/* the table's "no" is final; a "maybe" is left to tx_sync */
	return tx_touch_max(l, off, len) <=
	       atomic_load_explicit(&l->w_durable, memory_order_acquire);
#else
	(void)off;
	return true;
#endif
}

/*
 * tx_slot_free -- may the slot of the transaction's generation be
 * overwritten? Its record (n generations before) must be at or below the
 * durable watermark, or recovery could miss it while replaying older
 * records (tx.h).
 */
void tx_slot_free(struct daxo_tx *tx)
{
	struct lanes *l = tx->p->lanes;
	uint64_t x = gen_seq(tx->p, tx->lane, tx->gen);

	if (x > tx->lane->w_known && x > tx_w_durable(l, tx->lane))
		tx_ensure_w(tx->p, x);
}

uint64_t tx_take_seq(struct lanes *l, struct lane *ln, uint64_t after,
		     uint64_t touched, uint64_t *floor_seen)
{
	share_r(&ln->top_seq);
	uint64_t top = atomic_load_explicit(&ln->top_seq, memory_order_relaxed);

	/*
	 * The lower bound first, with a locked instruction: it is visible
	 * before the floor is read (a scan that misses it raised the floor
	 * before this read), and cheap here -- no CLWB of this thread is in
	 * flight yet. The seq is at least top + 1.
	 */
	share_r(&l->floor);
	uint64_t lb = MAX(top + 1, atomic_load_explicit(&l->floor,
						       memory_order_relaxed));
	share_w(&ln->inflight);
	atomic_exchange_explicit(&ln->inflight, lb, memory_order_seq_cst);
	share_r(&l->floor);
	uint64_t f = atomic_load_explicit(&l->floor, memory_order_seq_cst);
	*floor_seen = f;
#ifdef DAXO_PLANT_SEQ_LANE_LOCAL /* crash-sim test: no order across lanes */
	touched = 0;
	after = 0;
	f = 0;
#endif
	/*
	 * Above every record this one depends on: the records that wrote its
	 * targets before (@touched, from the touch table), those of the
	 * caller's own locks (@after: the keyed store's stripe clock), the
	 * lane's own (top), and above every W a scan computed before it
	 * (the floor).
	 */
	return MAX(MAX(f, top + 1), MAX(after, touched) + 1);
}

/* ---- the touch table ---- */

void tx_touch_mark(struct lanes *l, uint64_t off, uint64_t len, uint64_t seq)
{
	if (!len)
		return;
	uint64_t g = off >> TX_TOUCH_SHIFT;
	uint64_t end = (off + len - 1) >> TX_TOUCH_SHIFT;

	if (end - g >= TX_TOUCH_N) { /* the whole table */
		for (uint32_t i = 0; i < TX_TOUCH_N; i++)
			tx_touch_raise(&l->touch[i], seq);
		return;
	}
	for (; g <= end; g++)
		tx_touch_raise(tx_touch_entry(l, g), seq);
}

void tx_guard(daxo_tx *tx)
{
	tx->guard = true;
}

void tx_mark_at_commit(daxo_tx *tx, uint64_t off, uint64_t len)
{
	if (!len)
		return;
	if (tx->nmarks < TX_MARKS_N) {
		tx->marks[tx->nmarks++] = (struct span){off, off + len};
		return;
	}
	/* out of room: the last range grows to cover both (overstates) */
	struct span *m = &tx->marks[TX_MARKS_N - 1];
	m->off = MIN(m->off, off);
	m->end = MAX(m->end, off + len);
}

uint64_t tx_touch_max(struct lanes *l, uint64_t off, uint64_t len)
{
	if (!len)
		return 0;
	uint64_t g = off >> TX_TOUCH_SHIFT;
	uint64_t end = (off + len - 1) >> TX_TOUCH_SHIFT;
	uint64_t m = 0;

	if (end - g >= TX_TOUCH_N) { /* the whole table */
		for (uint32_t i = 0; i < TX_TOUCH_N; i++)
			m = MAX(m, atomic_load_explicit(&l->touch[i],
							memory_order_acquire));
		return m;
	}
	for (; g <= end; g++) {
		_Atomic uint64_t *e = tx_touch_entry(l, g);
		share_r(e);
		m = MAX(m, atomic_load_explicit(e, memory_order_acquire));
	}
	return m;
}

uint64_t tx_record_touches(daxo_pool *p, const struct lane *own, uint64_t off,
			   uint64_t len)
{
	uint64_t wd = tx_w_durable(p->lanes, own);

	/* the table's "no" is final; its "maybe" is checked record by record */
	if (tx_touch_max(p->lanes, off, len) <= wd)
		return 0;
	return tx_records_scan(p, wd, off, len);
}
