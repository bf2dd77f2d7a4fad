/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lane.c -- lane management: handing lanes to transactions, moving a
 * transaction off a blocked lane, and the lanes' boot and teardown
 * (tx.h: LANES).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pool.h"
#include "txint.h"

static __thread unsigned lane_hint = UINT32_MAX;
static _Atomic unsigned lane_counter;

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

struct lane *tx_lane_get(struct lanes *l)
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

void tx_lane_put(struct lanes *l, struct lane *ln)
{
	atomic_store_explicit(&ln->busy, 0, memory_order_release);
	if (atomic_load(&l->waiters)) {
		pthread_mutex_lock(&l->lock);
		pthread_cond_signal(&l->cond);
		pthread_mutex_unlock(&l->lock);
	}
}

/*
 * tx_lane_unblock -- a transaction without undo entries (its generation not
 * yet taken) whose lane's next slot still holds a record the durable W
 * does not cover -- typically because another thread's commit in flight
 * holds W back -- moves to a free lane whose next slot is free instead of
 * waiting in tx_ensure_w. Lanes are many; the abandoned lane's last record
 * stays pending and is helped like an idle thread's.
 */
void tx_lane_unblock(struct daxo_tx *tx)
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
	 * are helped by tx_ensure_w (once per idle lane). Moving away from
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
			tx_lane_put(l, ln);
			tx->lane = c;
			lane_hint = i;
			return;
		}
		tx_lane_put(l, c);
	}
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
