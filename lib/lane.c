/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lane.c -- lane management: lanes bound to threads, lanes lent for one
 * transaction, and the lanes' boot and teardown (tx.h: LANES; txint.h:
 * LANES AND THREADS).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pool.h"
#include "txint.h"

static __thread unsigned lane_hint = UINT32_MAX;
static _Atomic unsigned lane_counter;

/*
 * The thread's bound lanes, one per pool it uses (a few pools at a time;
 * an older binding is given back to make room), and the registry of open
 * lanes, which tells a thread that exits whether a pool it was bound to is
 * still open (LANES AND THREADS, txint.h).
 */
#define BIND_CACHE 4

struct bind {
	uint64_t id; /* lanes.id, 0: empty */
	struct lanes *l;
	struct lane *ln;
	bool inuse; /* a transaction of this thread holds it */
};

static __thread struct bind binds[BIND_CACHE];
static __thread unsigned bind_next;
static __thread bool bind_armed;
static pthread_key_t bind_key;
static pthread_once_t bind_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lanes *reg_head;
static uint64_t reg_next_id = 1;

/* lane_try -- take lane @i if it is free */
static bool lane_try(struct lanes *l, unsigned i)
{
	int zero = 0;

	share_r(&l->lane[i].busy);
	if (atomic_load_explicit(&l->lane[i].busy, memory_order_relaxed))
		return false;
	share_w(&l->lane[i].busy);
	if (!atomic_compare_exchange_strong(&l->lane[i].busy, &zero, 1))
		return false;
	/* the watermark scans only lanes ever used (before the lane's first
	 * commit publishes anything: ORDER's argument holds for it) */
	uint64_t bit = 1ull << i;
	if (!(tx_lanes_used(l) & bit)) {
		share_w(&l->used);
		atomic_fetch_or(&l->used, bit);
	}
	share_r(&l->hw);
	unsigned hw = atomic_load(&l->hw);
	while (hw <= i) {
		share_w(&l->hw);
		if (atomic_compare_exchange_weak(&l->hw, &hw, i + 1))
			break;
	}
	return true;
}

static void lane_release(struct lanes *l, struct lane *ln)
{
	share_w(&ln->busy);
	atomic_store_explicit(&ln->busy, 0, memory_order_release);
	if (atomic_load(&l->waiters)) {
		pthread_mutex_lock(&l->lock);
		pthread_cond_signal(&l->cond);
		pthread_mutex_unlock(&l->lock);
	}
}

/* unbind -- give a bound lane back, if its pool is still open */
static void unbind(struct bind *b)
{
	pthread_mutex_lock(&reg_lock);
	for (struct lanes *l = reg_head; l; l = l->next)
		if (l == b->l && l->id == b->id) {
			lane_release(l, b->ln);
			break;
		}
	pthread_mutex_unlock(&reg_lock);
	memset(b, 0, sizeof(*b));
}

/*
 * thread_exit -- the thread's open transactions roll back (they use their
 * lanes), then its bound lanes go back to their pools
 */
static void thread_exit(void *arg)
{
	(void)arg;
	tx_thread_end();
	for (unsigned i = 0; i < BIND_CACHE; i++)
		if (binds[i].id)
			unbind(&binds[i]);
}

/* fork(2) while another thread holds reg_lock would leave the child's
 * copy locked for good: the child's daxo_close takes it */
static void reg_lock_take(void)
{
	pthread_mutex_lock(&reg_lock);
}

static void reg_lock_give(void)
{
	pthread_mutex_unlock(&reg_lock);
}

static void bind_key_init(void)
{
	/* without the key, lanes of threads that exit stay taken until the
	 * pool closes: no damage */
	(void)pthread_key_create(&bind_key, thread_exit);
	(void)pthread_atfork(reg_lock_take, reg_lock_give, reg_lock_give);
}

/* bind -- keep a free lane of @l for this thread, or NULL */
static struct bind *bind(struct lanes *l)
{
	struct bind *b = NULL;

	for (unsigned k = 0; k < BIND_CACHE && !b; k++) {
		struct bind *c = &binds[(bind_next + k) % BIND_CACHE];
		if (!c->inuse)
			b = c;
	}
	if (!b)
		return NULL;
	bind_next++;
	if (!bind_armed) {
		pthread_once(&bind_once, bind_key_init);
		bind_armed = pthread_setspecific(bind_key, binds) == 0;
	}
	for (unsigned i = 0; i < TX_NBIND; i++) {
		if (!lane_try(l, i))
			continue;
		if (b->id)
			unbind(b);
		b->id = l->id;
		b->l = l;
		b->ln = &l->lane[i];
		b->inuse = false;
		return b;
	}
	return NULL;
}

struct lane *tx_lane_get(daxo_pool *p, bool *bound)
{
	struct lanes *l = p->lanes;
	struct bind *b = NULL;

	for (unsigned k = 0; k < BIND_CACHE; k++)
		if (binds[k].id == l->id && binds[k].l == l) {
			b = &binds[k];
			break;
		}
	if (!b)
		b = bind(l);
	if (b && !b->inuse) {
		b->inuse = true;
		*bound = true;
		return b->ln;
	}
	*bound = false;
	if (unlikely(lane_hint == UINT32_MAX))
		lane_hint = atomic_fetch_add(&lane_counter, 1) % TX_NLANES;
	for (;;) {
		/* the lanes no thread keeps first */
		for (unsigned n = 0; n < TX_NLANES; n++) {
			unsigned i = (TX_NBIND + lane_hint + n) % TX_NLANES;
			if (lane_try(l, i)) {
				lane_hint = (i + TX_NLANES - TX_NBIND) % TX_NLANES;
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

void tx_lane_put(daxo_pool *p, struct lane *ln, bool bound)
{
	if (bound) {
		for (unsigned k = 0; k < BIND_CACHE; k++)
			if (binds[k].ln == ln && binds[k].l == p->lanes &&
			    binds[k].id == p->lanes->id) {
				binds[k].inuse = false;
				return;
			}
	}
	lane_release(p->lanes, ln);
}

/*
 * tx_lane_unblock -- a transaction without undo entries (its generation not
 * yet taken) whose lane's next slot still holds a record the durable W
 * does not cover, because another thread's commit in flight holds W back
 * (its thread lost the CPU in mid-commit, say), moves to a free lane whose
 * next slot is covered instead of waiting in tx_ensure_w. Lanes are many;
 * the lane left keeps its last record pending and is helped like an idle
 * thread's, and stays the thread's.
 */
void tx_lane_unblock(struct daxo_tx *tx)
{
	struct lanes *l = tx->p->lanes;
	struct lane *ln = tx->lane;
	uint64_t x = gen_seq(tx->p, ln, ln->gen + 1);

	if (x <= ln->w_known)
		return;
	share_r(&l->w_durable);
	uint64_t known = MAX(ln->w_known, atomic_load_explicit(
					      &l->w_durable, memory_order_acquire));
	if (x <= known)
		return;
	/*
	 * Move only when a commit in flight holds W back; pending records
	 * are helped by tx_ensure_w (once per idle lane). Moving away from
	 * those would leave one more pending record behind each time.
	 */
	bool held = false;
	for (uint64_t m = tx_lanes_used(l); m && !held; m &= m - 1) {
		uint32_t i = (uint32_t)__builtin_ctzll(m);
		share_r(&l->lane[i].inflight);
		uint64_t f = atomic_load_explicit(&l->lane[i].inflight,
						  memory_order_acquire);
		held = f && f <= x;
	}
	if (!held)
		return;
	for (unsigned n = 0; n < TX_NLANES; n++) {
		unsigned i = (TX_NBIND + ln->idx + n) % TX_NLANES;
		struct lane *c = &l->lane[i];
		if (c == ln || !lane_try(l, i))
			continue;
		if (gen_seq(tx->p, c, c->gen + 1) <= known) {
			c->w_known = MAX(c->w_known, known);
			tx_lane_put(tx->p, ln, tx->bound);
			tx->lane = c;
			tx->bound = false;
			return;
		}
		lane_release(l, c);
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
	l->touch = aligned_alloc(64, TX_TOUCH_N * sizeof(*l->touch));
	if (!l->touch) {
		free(l);
		return daxo__err(-ENOMEM, "%s: out of memory", p->path);
	}
	memset(l->touch, 0, TX_TOUCH_N * sizeof(*l->touch));
	p->lanes = l;
	for (uint32_t i = 0; i < TX_NLANES; i++)
		l->lane[i].idx = i;
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->cond, NULL);
	pthread_mutex_lock(&reg_lock);
	l->id = reg_next_id++;
	l->next = reg_head;
	reg_head = l;
	pthread_mutex_unlock(&reg_lock);
	return tx_recover(p);
}

void lanes_cleanup(daxo_pool *p)
{
	struct lanes *l = p->lanes;

	if (!l)
		return;
	/* every record final: a clean close needs no recovery (not in a
	 * child of fork: the parent's handle, the parent's records) */
	if (!p->rdonly && !atomic_load(&p->ps.failed) && !pool_inherited(p))
		tx_sync(p);
	/* threads that exit from now on find the pool gone */
	pthread_mutex_lock(&reg_lock);
	for (struct lanes **pp = &reg_head; *pp; pp = &(*pp)->next)
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	pthread_mutex_unlock(&reg_lock);
	/* this thread's bindings to it are void */
	for (unsigned k = 0; k < BIND_CACHE; k++)
		if (binds[k].l == l)
			memset(&binds[k], 0, sizeof(binds[k]));
	free(l->touch);
	pthread_mutex_destroy(&l->lock);
	pthread_cond_destroy(&l->cond);
	free(l);
	p->lanes = NULL;
}
