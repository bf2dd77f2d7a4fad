/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * heap.c -- the persistent allocator: size-class runs with bitmaps for small
 * objects, whole chunks for large ones, per-thread arenas (see heap.h for the
 * on-media format and its crash-consistency argument).
 *
 * Media changes of allocations and frees are not made here: heap_act_ops()
 * turns a reserved allocation or a validated free into redo operations that
 * the transaction code commits. This file only prepares and publishes new
 * runs (outside transactions, heap.h: NEW RUNS) and keeps the volatile
 * state: which slots and chunks are reserved, free extents, which runs each
 * arena allocates from.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "heapint.h"
#include "pool.h"
#include "redo.h"
#include "share.h"

/* threads living on each arena (process-wide: the index is every pool's) */
static _Atomic unsigned arena_users[NARENAS];
static __thread unsigned my_arena = UINT32_MAX;
static pthread_key_t arena_key;
static pthread_once_t arena_once = PTHREAD_ONCE_INIT;

bool heap_ent(const struct heap *h, uint64_t idx, struct chdr *c)
{
	return heap_chdr_decode(&h->g, idx,
				__atomic_load_n(&h->chdr[idx], __ATOMIC_ACQUIRE),
				c);
}

uint32_t large_type(const struct heap *h, uint64_t idx, const struct chdr *c)
{
	struct chdr t;

	if (!h->g.v2)
		return c->arg;
	/* checked at open; only a LARGE allocation being applied right now
	 * shows its head before its TYPE entry */
	if (idx + 1 < h->g.nchunks && heap_ent(h, idx + 1, &t) &&
	    t.kind == CHUNK_TYPE)
		return t.arg;
	return DAXO_TYPE_ANY;
}

/* ---- runs ---- */

/*
 * run_new -- the volatile state of an empty run of @cls at chunk @idx (heap
 * lock held, or at boot). Retired runs' structs are reused, never freed
 * while the pool is open: a caller passing a stale oid may still read one.
 * Not while a daxo_heap_info reads runs (h->readers): then a new one.
 * *@made (if given): true if the struct was made anew, not reused.
 */
/*
 * heap_lock, arena_lock -- take the heap's or an arena's mutex; a write of
 * its line as the line-sharing count sees it (share.h: the count build
 * marks them, so that threads sharing an arena or the heap lock are seen)
 */
static inline void heap_lock(struct heap *h)
{
	share_w(&h->lock);
	pthread_mutex_lock(&h->lock);
}

static inline void arena_lock(struct arena *a)
{
	share_w(&a->lock);
	pthread_mutex_lock(&a->lock);
}

static struct run *run_new(struct heap *h, uint64_t idx, unsigned cls,
			   bool *made)
{
	const struct run_geom *rg = &h->rg[cls];
	struct run *r, **pp;

	r = NULL;
	if (made)
		*made = false;
	if (!atomic_load(&h->readers)) {
		for (pp = &h->spare;
		     *pp && (*pp)->capwords < rg->bitmap_words;
		     pp = &(*pp)->next)
			;
		r = *pp;
	}
	if (r) {
		*pp = r->next;
		memset((void *)r->vbits, 0, r->capwords * sizeof(uint64_t));
		memset((void *)r->pfree, 0, r->capwords * sizeof(uint64_t));
	} else {
		r = calloc(1, sizeof(*r));
		if (!r)
			return NULL;
		r->vbits = calloc(rg->bitmap_words, sizeof(uint64_t));
		r->pfree = calloc(rg->bitmap_words, sizeof(uint64_t));
		if (!r->vbits || !r->pfree) {
			free((void *)r->vbits);
			free((void *)r->pfree);
			free(r);
			return NULL;
		}
		r->capwords = rg->bitmap_words;
		r->all = h->all;
		h->all = r;
		if (made)
			*made = true;
	}
	r->chunk = idx;
	r->cls = (uint16_t)cls;
	r->span = rg->span;
	r->nslots = rg->nslots;
	r->nwords = rg->bitmap_words;
	r->dead = false;
	r->draining = false;
	r->listed = false;
	r->next = r->prev = NULL;
	r->hint = 0;
	/* slots past nslots in the last word are never free */
	r->vbits[r->nwords - 1] = heap_bm_tail(rg, r->nwords - 1);
	r->nfree = r->nslots;
	r->loaded = 1;
	return r;
}

static void run_attach(struct heap *h, struct run *r)
{
	uint32_t span = r->span;

	for (uint32_t i = 0; i < span; i++)
		atomic_store_explicit(&h->unit[r->chunk + i], (uintptr_t)r,
				      memory_order_release);
}

/*
 * run_load -- read a run's bitmap from media into its volatile state, once.
 * Runs found at open are loaded on first use, so that opening a pool reads
 * the chunk table only (each run's bitmap is a page fault of its own).
 * Every path that changes a run's bits on media loads it first: allocation
 * (run_reserve) and heap_prepare_free. A bit past the last slot, or (heap
 * 2) a word that is not the complement of its complement, is damage: the
 * run is never allocated from and the pool refuses writes. Returns 0 or
 * -EUCLEAN.
 */
int run_load(struct heap *h, struct run *r)
{
	daxo_pool *p = h->p;
	int ret = 0;

	if (atomic_load_explicit(&r->loaded, memory_order_acquire) > 0)
		return 0;
	heap_lock(h);
	if (r->loaded < 0) {
		ret = daxo__err(-EUCLEAN,
				"%s: offset %llu: the bitmap of this run is "
				"damaged",
				p->path,
				(unsigned long long)chunk_off(h, r->chunk));
	} else if (r->loaded == 0) {
		const struct run_geom *rg = &h->rg[r->cls];
		const char *base = pool_ptr(p, chunk_off(h, r->chunk));
		uint32_t used = 0;
		for (uint32_t w = 0; w < r->nwords; w++) {
			const uint64_t *at =
			    (const uint64_t *)(base + heap_bm_off(rg, w));
			uint64_t v = __atomic_load_n(at, __ATOMIC_ACQUIRE);
			uint64_t invalid = heap_bm_tail(rg, w);
			const char *bad = NULL;
			if (v & invalid)
				bad = "has bits set past the run's slots";
			else if (h->g.v2 &&
				 (v ^ __atomic_load_n(at + 1, __ATOMIC_ACQUIRE)) !=
				     ~0ull)
				bad = "is not the complement of the word after "
				      "it";
			if (bad) {
				/* never allocate from this run */
				persist_fail(&p->ps);
				atomic_store(&r->loaded, -1);
				ret = daxo__err(
				    -EUCLEAN,
				    "%s: offset %llu: run bitmap word %s "
				    "(run of %u-byte slots at chunk %llu; "
				    "damaged heap metadata)",
				    p->path,
				    (unsigned long long)pool_off(p, at), bad,
				    rg->size, (unsigned long long)r->chunk);
				goto out;
			}
			r->vbits[w] = v | invalid;
			used += (uint32_t)__builtin_popcountll(v);
		}
		r->nfree = r->nslots - used;
		atomic_store_explicit(&r->loaded, 1, memory_order_release);
	}
out:
	pthread_mutex_unlock(&h->lock);
	return ret;
}

/*
 * run_prepare -- a new empty run of @cls, not yet on media as a run (heap
 * lock held): its chunks taken and its bitmap and types zeroed and
 * flushed, no fence. heap_run_publish writes its head; until then no one
 * else sees it (heap.h: NEW RUNS). NULL with *@err -ENOSPC (no room) or
 * -ENOMEM. The volatile run is made before the chunks are taken, so that
 * a failed malloc leaves the extents as they were.
 */
static struct run *run_prepare(struct heap *h, unsigned cls, int *err)
{
	const struct run_geom *rg = &h->rg[cls];
	uint32_t span = rg->span;
	bool made;
	struct run *r;

	if (h->free_chunks < span) { /* a full pool: nothing to make */
		*err = -ENOSPC;
		return NULL;
	}
	r = run_new(h, UINT64_MAX, cls, &made);
	if (!r) {
		*err = -ENOMEM;
		return NULL;
	}
	uint64_t idx = ext_take(h, span);
	if (idx == UINT64_MAX) {
		if (made) {
			/* never published, first on h->all: freed, so that
			 * failing allocations during a daxo_heap_info do not
			 * pile up structs */
			h->all = r->all;
			free((void *)r->vbits);
			free((void *)r->pfree);
			free(r);
		} else {
			r->dead = true; /* a spare again */
			r->next = h->spare;
			h->spare = r;
		}
		*err = -ENOSPC;
		return NULL;
	}
	r->chunk = idx;
	char *base = pool_ptr(h->p, chunk_off(h, idx));
	if (h->g.v2) {
		/*
		 * every slot free: words 0, complements all ones; types 0.
		 * Atomic stores: daxo_next may be reading the chunk's words
		 * as the run that was here before (heap_iter.c)
		 */
		for (uint32_t w = 0; w < rg->bitmap_words; w++) {
			uint64_t *at = (uint64_t *)(base + heap_bm_off(rg, w));
			__atomic_store_n(&at[0], 0, __ATOMIC_RELAXED);
			__atomic_store_n(&at[1], ~0ull, __ATOMIC_RELAXED);
		}
		uint32_t *types = (uint32_t *)(base + rg->types_off);
		for (uint32_t s = 0;
		     s < (rg->slots_off - rg->types_off) / sizeof(*types); s++)
			__atomic_store_n(&types[s], 0, __ATOMIC_RELAXED);
		persist_flush(&h->p->ps, base, rg->slots_off);
	} else {
		persist_memset(&h->p->ps, base, 0, rg->slots_off);
	}
	return r;
}

static void arena_leave(void *arg)
{
	atomic_fetch_sub(&arena_users[(uintptr_t)arg - 1], 1);
}

static void arena_key_init(void)
{
	/* on failure threads still get arenas; their counts never drop */
	(void)pthread_key_create(&arena_key, arena_leave);
}

/*
 * arena_of_thread -- the thread's arena: at its first allocation, the one
 * with the fewest live threads (a thread's exit gives its place back), so
 * that threads share an arena -- and its lock -- only when there are more
 * of them than arenas. The place is taken with a compare-and-swap from
 * the count the choice was made on: threads that start together (a pool
 * of workers) would otherwise all see the same least used arena and take
 * it together.
 */
static unsigned arena_of_thread(void)
{
	if (likely(my_arena != UINT32_MAX))
		return my_arena;
	pthread_once(&arena_once, arena_key_init);
	unsigned best;
	for (;;) {
		unsigned min = UINT32_MAX;
		best = 0;
		for (unsigned i = 0; i < NARENAS; i++) {
			unsigned u = atomic_load_explicit(&arena_users[i],
							  memory_order_relaxed);
			if (u < min) {
				min = u;
				best = i;
			}
		}
		if (atomic_compare_exchange_strong(&arena_users[best], &min,
						   min + 1))
			break;
	}
	my_arena = best;
	(void)pthread_setspecific(arena_key, (void *)(uintptr_t)(best + 1));
	return best;
}

/* run_reserve -- claim a free slot of @r (arena lock held); -1 if full */
static int64_t run_reserve(struct run *r)
{
	uint32_t hint = atomic_load_explicit(&r->hint, memory_order_relaxed);

	for (uint32_t n = 0; n < r->nwords; n++) {
		uint32_t w = (hint + n) % r->nwords;
		uint64_t v = atomic_load_explicit(&r->vbits[w],
						  memory_order_relaxed);
		while (~v) {
			uint64_t bit = ~v & (v + 1); /* lowest zero bit */
			if (atomic_compare_exchange_weak(&r->vbits[w], &v,
							 v | bit)) {
				atomic_fetch_sub(&r->nfree, 1);
				atomic_store_explicit(&r->hint, w,
						      memory_order_relaxed);
				return (int64_t)w * 64 + __builtin_ctzll(bit);
			}
		}
	}
	return -1;
}

/* ---- the arenas' run lists (owner arena lock) ---- */

/*
 * set_partial -- the head of @a's list of @cls: an atomic store, because
 * steal() looks at other arenas' heads without their locks
 */
static inline void set_partial(struct arena *a, unsigned cls, struct run *r)
{
	__atomic_store_n(&a->partial[cls], r, __ATOMIC_RELAXED);
}

/* list_push -- put @r on its owner's partial list */
static void list_push(struct arena *a, struct run *r)
{
	struct run *hd = a->partial[r->cls];

	r->prev = NULL;
	r->next = hd;
	if (hd)
		hd->prev = r;
	set_partial(a, r->cls, r);
	r->listed = true;
}

static void list_unlink(struct arena *a, struct run *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		set_partial(a, r->cls, r->next);
	if (r->next)
		r->next->prev = r->prev;
	r->next = r->prev = NULL;
	r->listed = false;
}

/*
 * pop_partial -- a run of @cls with room from arena @b's list, or NULL;
 * runs being drained are dropped from the list on the way
 */
static struct run *pop_partial(struct arena *b, unsigned cls)
{
	struct run *r;

	while ((r = b->partial[cls]) != NULL) {
		list_unlink(b, r);
		if (!r->draining)
			break;
	}
	return r;
}

/* owner_lock -- lock the arena that owns @r (steal may move it) */
static struct arena *owner_lock(struct heap *h, struct run *r)
{
	for (;;) {
		unsigned ai = atomic_load(&r->arena);
		struct arena *a = &h->arenas[ai];
		arena_lock(a);
		if (atomic_load(&r->arena) == ai)
			return a;
		pthread_mutex_unlock(&a->lock);
	}
}

/* run_idle -- nothing allocated, reserved or being freed in @r */
bool run_idle(const struct run *r)
{
	if (atomic_load(&r->loaded) != 1 ||
	    atomic_load(&r->nfree) != r->nslots)
		return false;
	for (uint32_t w = 0; w < r->nwords; w++)
		if (atomic_load(&r->pfree[w]))
			return false;
	return true;
}

/*
 * run_retire -- give an idle run's chunks back to the free extents (the
 * run is on no list and marked dead; heap lock not held). One 8-byte store
 * and a fence: the head FREE is durable before the chunks can be handed
 * out again. No older record needs to be final first: records that wrote
 * this head are older than the run (its creation made them final), and
 * records that wrote its bitmap (allocations, frees) only write inside the
 * chunks, where a replay lands on free space -- or, once the chunks are
 * reused, on memory that is itself made final before it is trusted (a new
 * run's creation, an object's in-place write, heap.h).
 */
static void run_retire(struct heap *h, struct run *r)
{
	struct persist *ps = &h->p->ps;

	heap_lock(h);
	__atomic_store_n(&h->chdr[r->chunk], heap_free_ent(&h->g, r->chunk),
			 __ATOMIC_RELEASE);
	persist_flush(ps, &h->chdr[r->chunk], 8);
	persist_drain(ps);
	for (uint32_t i = 0; i < r->span; i++)
		atomic_store_explicit(&h->unit[r->chunk + i], 0,
				      memory_order_release);
	/* needs no memory (heap_ext.c): the pool is open for writing */
	(void)ext_insert(h, r->chunk, r->span);
	r->next = h->spare;
	h->spare = r;
	pthread_mutex_unlock(&h->lock);
	atomic_fetch_add(&h->retired, 1);
}

/*
 * run_emptied -- @r's last object was freed. Retire it unless it is the
 * only run of its class in its arena with room (an alloc/free cycle at the
 * edge would otherwise make and retire a run every time); heap_reclaim
 * takes such runs when space runs out.
 */
static void run_emptied(struct heap *h, struct run *r)
{
	struct arena *a = owner_lock(h, r);
	unsigned cls = r->cls;
	struct run *cur = a->cur[cls];
	/* a run being drained is given back: that is what draining is for */
	bool other = (cur && cur != r && atomic_load(&cur->nfree) > 0) ||
		     (a->partial[cls] && (a->partial[cls] != r || r->next)) ||
		     r->draining;

	if (r->dead || !run_idle(r) || !other) {
		if (!r->dead && !r->listed && !r->draining && cur != r)
			list_push(a, r);
		pthread_mutex_unlock(&a->lock);
		return;
	}
	if (cur == r)
		a->cur[cls] = NULL;
	if (r->listed)
		list_unlink(a, r);
	r->dead = true;
	pthread_mutex_unlock(&a->lock);
	run_retire(h, r);
}

/*
 * heap_reclaim -- retire every idle run (loading the bitmaps of runs not
 * read since open): what a failed search for free chunks does before it
 * gives up. Takes each arena's lock in turn; the caller holds none.
 * Returns the number of runs retired.
 */
static unsigned heap_reclaim(struct heap *h)
{
	unsigned n = 0;

	for (unsigned ai = 0; ai < NARENAS; ai++) {
		struct arena *a = &h->arenas[ai];
		struct run *idle = NULL;
		arena_lock(a);
		for (unsigned c = 0; c < h->g.nclasses; c++) {
			struct run *r = a->cur[c];
			if (r && (run_load(h, r) == 0 && run_idle(r))) {
				a->cur[c] = NULL;
				r->dead = true;
				r->next = idle;
				idle = r;
			}
			for (r = a->partial[c]; r;) {
				struct run *nx = r->next;
				if (run_load(h, r) == 0 && run_idle(r)) {
					list_unlink(a, r);
					r->dead = true;
					r->next = idle;
					idle = r;
				}
				r = nx;
			}
		}
		pthread_mutex_unlock(&a->lock);
		while (idle) {
			struct run *r = idle;
			idle = r->next;
			run_retire(h, r);
			n++;
		}
	}
	return n;
}

/* run_release -- a slot became free again: clear it, relist the run */
static void run_release(struct heap *h, struct run *r, uint32_t slot)
{
	atomic_fetch_and(&r->vbits[slot / 64], ~(1ull << (slot % 64)));
	if (atomic_fetch_add(&r->nfree, 1) + 1 == r->nslots) {
		run_emptied(h, r);
		return;
	}
	/*
	 * Already listed: nothing to do, and no lock -- frees from many
	 * threads into one arena's runs (say, objects one thread loaded) do
	 * not queue on its lock. A pop racing with this check takes the run
	 * after our bit is clear (both sides are sequentially consistent).
	 */
	if (atomic_load(&r->listed))
		return;
	struct arena *a = owner_lock(h, r);
	if (!r->listed && !r->dead && !r->draining && a->cur[r->cls] != r)
		list_push(a, r);
	pthread_mutex_unlock(&a->lock);
}

/*
 * steal -- a run with room from another arena (runs found at open are dealt
 * out to all arenas; a thread must not strand them). trylock only: two
 * arenas stealing from each other must not deadlock. The run moves to the
 * stealing arena (both locks held), whose lock guards it from then on.
 * Only arenas whose list of @cls is not empty are locked (the head read
 * without the lock: a miss costs a new run, never a wrong one), so that
 * a thread that fills runs does not take every other arena's lock line
 * for each new run it makes.
 */
static struct run *steal(struct heap *h, unsigned ai, unsigned cls)
{
	for (unsigned k = 1; k < NARENAS; k++) {
		struct arena *b = &h->arenas[(ai + k) % NARENAS];
		if (!__atomic_load_n(&b->partial[cls], __ATOMIC_RELAXED))
			continue;
		share_w(&b->lock);
		if (pthread_mutex_trylock(&b->lock) != 0)
			continue;
		struct run *r = pop_partial(b, cls);
		if (r)
			atomic_store(&r->arena, (uint16_t)ai);
		pthread_mutex_unlock(&b->lock);
		if (r)
			return r;
	}
	return NULL;
}

static int reserve_small(struct heap *h, uint64_t size, uint32_t type,
			 struct heap_act *act)
{
	unsigned cls = heap_class_for(&h->g, size);
	unsigned ai = arena_of_thread();
	struct arena *a = &h->arenas[ai];
	struct run *r;
	int64_t slot = -1;
	bool reclaimed = false;
	int err = 0;

	arena_lock(a);
	r = a->cur[cls];
	while (!r || r->draining || run_load(h, r) != 0 ||
	       (slot = run_reserve(r)) < 0) {
		r = pop_partial(a, cls);
		if (!r)
			r = steal(h, ai, cls);
		if (!r) {
			pthread_mutex_unlock(&a->lock);
			heap_lock(h);
			r = run_prepare(h, cls, &err);
			pthread_mutex_unlock(&h->lock);
			if (!r && err == -ENOMEM)
				return daxo__err(-ENOMEM,
						 "%s: heap: out of memory for "
						 "a new run",
						 h->p->path);
			if (!r && !reclaimed) {
				/* idle runs of other classes may free room */
				reclaimed = true;
				bool any = heap_reclaim(h) > 0;
				arena_lock(a);
				if (any) {
					r = a->cur[cls];
					continue;
				}
				pthread_mutex_unlock(&a->lock);
			}
			if (!r)
				return daxo__err(-ENOSPC,
						 "%s: heap: no room for a %llu-byte "
						 "object",
						 h->p->path,
						 (unsigned long long)size);
			/* only this thread sees the run until it is published */
			atomic_store(&r->arena, (uint16_t)ai);
			slot = run_reserve(r);
			act->newrun = r;
			break;
		}
		a->cur[cls] = r;
	}
	if (!act->newrun)
		pthread_mutex_unlock(&a->lock);

	act->large = 0;
	act->cls = (uint16_t)cls;
	act->chunk = r->chunk;
	act->slot = (uint32_t)slot;
	act->oid = chunk_off(h, r->chunk) + h->rg[cls].slots_off +
		   (uint64_t)slot * h->rg[cls].size;
	(void)type;
	return act->newrun ? HEAP_RUN_NEW : 0;
}

void heap_run_publish(daxo_pool *p, struct heap_act *act)
{
	struct heap *h = p->heap;
	struct run *r = act->newrun;
	struct persist *ps = &p->ps;

	/* the bitmap and types are durable (the caller's tx_sync) */
	__atomic_store_n(&h->chdr[r->chunk],
			 heap_head_ent(&h->g, r->chunk, CHUNK_RUN, r->span,
				       r->cls),
			 __ATOMIC_RELEASE);
	persist_flush(ps, &h->chdr[r->chunk], 8);
	/*
	 * the head durable before any slot of the run is handed out: a
	 * committed allocation in a run whose head was lost would be a lost
	 * object, and the committing thread may be another than this one
	 */
	persist_drain(ps);
	heap_lock(h);
	run_attach(h, r);
	pthread_mutex_unlock(&h->lock);
	struct arena *a = owner_lock(h, r);
	struct run *cur = a->cur[r->cls];
	if (!cur || atomic_load(&cur->nfree) == 0)
		a->cur[r->cls] = r;
	else
		list_push(a, r);
	pthread_mutex_unlock(&a->lock);
	act->newrun = NULL;
}

/* take_chunks -- @n free chunks, reclaiming idle runs if need be */
static uint64_t take_chunks(struct heap *h, uint64_t n)
{
	uint64_t idx;

	for (int pass = 0;; pass++) {
		heap_lock(h);
		idx = ext_take(h, n);
		pthread_mutex_unlock(&h->lock);
		if (idx != UINT64_MAX || pass > 0 || heap_reclaim(h) == 0)
			return idx;
	}
}

static int reserve_large(struct heap *h, uint64_t size, struct heap_act *act)
{
	uint64_t n = heap_large_span(&h->g, size);
	uint64_t idx;

	if (n > (h->g.v2 ? HEAP2_SPAN_MAX : 0x3fffffffull) ||
	    n > h->g.nchunks)
		return daxo__err(-ENOSPC, "%s: heap: %llu bytes is too large",
				 h->p->path, (unsigned long long)size);
	idx = take_chunks(h, n);
	if (idx == UINT64_MAX)
		return daxo__err(-ENOSPC,
				 "%s: heap: no %llu contiguous free chunks for a "
				 "%llu-byte object",
				 h->p->path, (unsigned long long)n,
				 (unsigned long long)size);
	act->large = 1;
	act->chunk = idx;
	act->span = n;
	act->oid = chunk_off(h, idx);
	return 0;
}

int heap_reserve(daxo_pool *p, uint64_t size, uint32_t type,
		 struct heap_act *a)
{
	struct heap *h = p->heap;
	int ret;

	if (size == 0)
		return daxo__err(-EINVAL, "%s: cannot allocate 0 bytes", p->path);
	/* daxo_oid_type answers DAXO_TYPE_ANY for "no object" */
	if (type == DAXO_TYPE_ANY)
		return daxo__err(-EINVAL,
				 "%s: type %u (DAXO_TYPE_ANY) is reserved",
				 p->path, type);
	if (size > p->size)
		return daxo__err(-ENOSPC,
				 "%s: %llu bytes is more than the pool holds",
				 p->path, (unsigned long long)size);
	memset(a, 0, sizeof(*a));
	a->size = size;
	a->type = type;
	ret = size <= h->g.max_small ? reserve_small(h, size, type, a)
				     : reserve_large(h, size, a);
	/* no run has room and no new run fits: whole chunks still may */
	if (ret == -ENOSPC && size <= h->g.max_small)
		ret = reserve_large(h, size, a);
	return ret;
}

static void large_release(struct heap *h, uint64_t idx, uint64_t span)
{
	heap_lock(h);
	/* needs no memory (heap_ext.c): the pool is open for writing */
	(void)ext_insert(h, idx, span);
	pthread_mutex_unlock(&h->lock);
}

/* run_slot -- the slot of run @r starting at @oid; false if none does */
static bool run_slot(const struct heap *h, const struct run *r, uint64_t oid,
		     uint32_t *slot)
{
	const struct run_geom *rg = &h->rg[r->cls];
	uint64_t rel = oid - chunk_off(h, r->chunk);

	if (rel < rg->slots_off || (rel - rg->slots_off) % rg->size != 0 ||
	    (rel - rg->slots_off) / rg->size >= rg->nslots)
		return false;
	*slot = (uint32_t)((rel - rg->slots_off) / rg->size);
	return true;
}

/*
 * locate -- find the live object at @oid. Fills @a (large, chunk, slot,
 * cls, span, type). -EINVAL with a message if there is none.
 */
static int locate(struct heap *h, uint64_t oid, struct heap_act *a)
{
	daxo_pool *p = h->p;
	uint64_t end = chunk_off(h, h->g.nchunks);

	memset(a, 0, sizeof(*a));
	a->oid = oid;
	if (oid < h->g.chunks_off || oid >= end)
		return daxo__err(-EINVAL,
				 "%s: offset %llu is not inside the heap",
				 p->path, (unsigned long long)oid);
	uint64_t idx = (oid - h->g.chunks_off) / h->g.chunk_size;
	uint64_t inner = (oid - h->g.chunks_off) % h->g.chunk_size;
	struct run *r = run_at(h, idx);
	struct chdr c;

	if (!r && inner == 0 && heap_ent(h, idx, &c) &&
	    c.kind == CHUNK_LARGE) {
		a->large = 1;
		a->chunk = idx;
		a->span = c.span;
		a->type = large_type(h, idx, &c);
		return 0;
	}
	if (!r)
		return daxo__err(-EINVAL,
				 "%s: offset %llu is not a live object",
				 p->path, (unsigned long long)oid);
	const struct run_geom *rg = &h->rg[r->cls];
	uint64_t rstart = chunk_off(h, r->chunk);
	uint32_t slot;
	if (!run_slot(h, r, oid, &slot))
		return daxo__err(-EINVAL,
				 "%s: offset %llu is inside a run but not at an "
				 "object's start",
				 p->path, (unsigned long long)oid);
	const uint64_t *bm = pool_ptr(p, rstart + heap_bm_off(rg, slot / 64));
	if (!(__atomic_load_n(bm, __ATOMIC_ACQUIRE) & (1ull << (slot % 64))))
		return daxo__err(-EINVAL,
				 "%s: offset %llu is not a live object (free)",
				 p->path, (unsigned long long)oid);
	const uint32_t *types = pool_ptr(p, rstart + rg->types_off);
	a->chunk = r->chunk;
	a->cls = r->cls;
	a->slot = slot;
	a->type = __atomic_load_n(&types[slot], __ATOMIC_RELAXED);
	return 0;
}

void heap_prefetch_free(daxo_pool *p, uint64_t oid)
{
	struct heap *h = p->heap;
	uint32_t slot;

	if (oid < h->g.chunks_off || oid >= chunk_off(h, h->g.nchunks))
		return;
	struct run *r = run_at(h, (oid - h->g.chunks_off) / h->g.chunk_size);
	if (!r || !run_slot(h, r, oid, &slot))
		return;
	const struct run_geom *rg = &h->rg[r->cls];
	const char *base = pool_ptr(p, chunk_off(h, r->chunk));
	prefetch_w(base + heap_bm_off(rg, slot / 64)); /* AND64 at apply */
	__builtin_prefetch(base + rg->types_off + 4 * slot);
	prefetch_w(&r->pfree[slot / 64]);
}

int heap_prepare_free(daxo_pool *p, uint64_t oid, struct heap_act *a)
{
	struct heap *h = p->heap;
	int ret = locate(h, oid, a);

	if (ret)
		return ret;
	a->is_free = 1;
	if (a->large) {
		if (atomic_exchange(&h->lfree[a->chunk], 1))
			return daxo__err(-EINVAL,
					 "%s: offset %llu is already being freed",
					 p->path, (unsigned long long)oid);
		return 0;
	}
	struct run *r = run_at(h, a->chunk);
	uint64_t bit = 1ull << (a->slot % 64);
	ret = run_load(h, r);
	if (ret)
		return ret;
	if (atomic_fetch_or(&r->pfree[a->slot / 64], bit) & bit)
		return daxo__err(-EINVAL, "%s: offset %llu is already being freed",
				 p->path, (unsigned long long)oid);
	return 0;
}

int heap_act_ops(daxo_pool *p, const struct heap_act *a, heap_emit_fn emit,
		 void *ctx)
{
	struct heap *h = p->heap;
	const struct heap_geom *g = &h->g;
	int ret;

	if (a->large) {
		uint64_t i = a->chunk;
		if (!g->v2)
			return emit(ctx, REDO_SET64, chdr_off(h, i),
				    a->is_free ? 0
					       : chdr_make(CHUNK_LARGE,
							   (uint32_t)a->span,
							   a->type));
		/* heap 2: the head and its TYPE entry, in one record */
		ret = emit(ctx, REDO_SET64, chdr_off(h, i),
			   a->is_free ? heap_free_ent(g, i)
				      : chdr2_make(CHUNK_LARGE, a->span, 0, i));
		if (ret)
			return ret;
		return emit(ctx, REDO_SET64, chdr_off(h, i + 1),
			    a->is_free ? heap_free_ent(g, i + 1)
				       : chdr2_make(CHUNK_TYPE, 0, a->type,
						    i + 1));
	}
	const struct run_geom *rg = &h->rg[a->cls];
	uint64_t rstart = chunk_off(h, a->chunk);
	uint64_t word = rstart + heap_bm_off(rg, a->slot / 64);
	uint64_t bit = 1ull << (a->slot % 64);
	if (a->is_free) {
		ret = emit(ctx, REDO_AND64, word, ~bit);
		/* heap 2: the complement follows the word */
		if (ret || !g->v2)
			return ret;
		return emit(ctx, REDO_OR64, word + 8, bit);
	}
	ret = emit(ctx, REDO_OR64, word, bit);
#ifndef DAXO_PLANT_COMPL_UNLOGGED
	if (!ret && g->v2)
		ret = emit(ctx, REDO_AND64, word + 8, ~bit);
#endif
	if (ret)
		return ret;
	return emit(ctx, REDO_SET32, rstart + rg->types_off + 4ull * a->slot,
		    a->type);
}

void heap_act_done(daxo_pool *p, const struct heap_act *a)
{
	struct heap *h = p->heap;

#ifdef DAXO_PLANT_COMPL_UNLOGGED
	/* planted bug: the complement stored after the commit, not logged */
	if (!a->is_free && !a->large && h->g.v2) {
		uint64_t *c = pool_ptr(p, chunk_off(h, a->chunk) +
					      heap_bm_off(&h->rg[a->cls],
							  a->slot / 64) +
					      8);
		__atomic_fetch_and(c, ~(1ull << (a->slot % 64)),
				   __ATOMIC_RELAXED);
		persist_flush(&p->ps, c, 8);
	}
#endif
	if (!a->is_free)
		return;
	if (a->large) {
		atomic_store(&h->lfree[a->chunk], 0);
		large_release(h, a->chunk, a->span);
		return;
	}
	struct run *r = run_at(h, a->chunk);
	atomic_fetch_and(&r->pfree[a->slot / 64], ~(1ull << (a->slot % 64)));
	run_release(h, r, a->slot);
}

void heap_act_cancel(daxo_pool *p, const struct heap_act *a)
{
	struct heap *h = p->heap;

	if (a->is_free) {
		if (a->large)
			atomic_store(&h->lfree[a->chunk], 0);
		else
			atomic_fetch_and(&run_at(h, a->chunk)->pfree[a->slot / 64],
					 ~(1ull << (a->slot % 64)));
		return;
	}
	if (a->large)
		large_release(h, a->chunk, a->span);
	else
		run_release(h, run_at(h, a->chunk), a->slot);
}

/*
 * Log extension space is counted in HEAP_CHUNK_SIZE granules whatever the
 * heap's chunk (tx.c sizes its blocks that way): @n granules are n x
 * HEAP_CHUNK_SIZE / chunk_size chunks.
 */
int heap_scratch_get(daxo_pool *p, uint32_t n, uint64_t *off)
{
	struct heap *h = p->heap;
	uint64_t idx =
	    take_chunks(h, (uint64_t)n * (HEAP_CHUNK_SIZE / h->g.chunk_size));

	if (idx == UINT64_MAX)
		return daxo__err(-ENOSPC,
				 "%s: no %u KiB of free chunks to extend a log",
				 p->path, n * (HEAP_CHUNK_SIZE >> 10));
	*off = chunk_off(h, idx);
	return 0;
}

void heap_scratch_put(daxo_pool *p, uint64_t off, uint32_t n)
{
	struct heap *h = p->heap;

	large_release(h, (off - h->g.chunks_off) / h->g.chunk_size,
		      (uint64_t)n * (HEAP_CHUNK_SIZE / h->g.chunk_size));
}

int heap_object(daxo_pool *p, uint64_t oid, uint64_t *usable, uint32_t *type)
{
	struct heap *h = p->heap;
	struct heap_act a;
	int ret = locate(h, oid, &a);

	if (ret)
		return ret;
	if (usable)
		*usable = a.large ? (uint64_t)a.span * h->g.chunk_size
				  : h->rg[a.cls].size;
	if (type)
		*type = a.type;
	return 0;
}

int heap_usage(daxo_pool *p, uint64_t oid, struct heap_usage *u)
{
	struct heap *h = p->heap;
	struct heap_act a;
	int ret = locate(h, oid, &a);

	if (ret)
		return ret;
	memset(u, 0, sizeof(*u));
	u->type = a.type;
	u->chunk = a.chunk;
	if (a.large) {
		u->large = true;
		u->span = a.span;
		u->usable = (uint64_t)a.span * h->g.chunk_size;
		return 0;
	}
	struct run *r = run_at(h, a.chunk);
	ret = run_load(h, r);
	if (ret)
		return ret;
	u->cls = a.cls;
	u->span = r->span;
	u->usable = h->rg[a.cls].size;
	u->nslots = r->nslots;
	u->used = r->nslots - atomic_load(&r->nfree);
	return 0;
}

int heap_containing(daxo_pool *p, uint64_t off, uint64_t len, uint64_t *oid)
{
	struct heap *h = p->heap;
	const struct heap_geom *g = &h->g;
	uint64_t end = chunk_off(h, g->nchunks), o = 0, usable = 0;
	struct heap_act a;

	if (off < g->chunks_off || off >= end || len > end - off)
		return -EINVAL;
	uint64_t idx = (off - g->chunks_off) / g->chunk_size;
	struct run *r = run_at(h, idx);
	if (r) {
		const struct run_geom *rg = &h->rg[r->cls];
		uint64_t rel = off - chunk_off(h, r->chunk);
		if (rel < rg->slots_off ||
		    (rel - rg->slots_off) / rg->size >= rg->nslots)
			return -EINVAL;
		o = chunk_off(h, r->chunk) + rg->slots_off +
		    (rel - rg->slots_off) / rg->size * rg->size;
		usable = rg->size;
	} else {
		/* the LARGE head covering @idx: the walk back passes only
		 * covered (FREE) entries and its TYPE entry */
		for (uint64_t i = idx + 1; i-- > 0;) {
			struct chdr c;
			if (!heap_ent(h, i, &c))
				return -EINVAL;
			if (c.kind == CHUNK_FREE || c.kind == CHUNK_TYPE)
				continue;
			if (c.kind != CHUNK_LARGE || i + c.span <= idx)
				return -EINVAL;
			o = chunk_off(h, i);
			usable = c.span * g->chunk_size;
			break;
		}
	}
	if (!usable || len > usable - (off - o) || locate(h, o, &a) != 0) {
		daxo__err_clear();
		return -EINVAL;
	}
	*oid = o;
	return 0;
}

void heap_drain(daxo_pool *p, uint64_t chunk, bool on)
{
	struct heap *h = p->heap;
	struct run *r = run_at(h, chunk);

	if (!r)
		return;
	struct arena *a = owner_lock(h, r);
	if (!r->dead && r->draining != on) {
		r->draining = on;
		if (on && a->cur[r->cls] == r)
			a->cur[r->cls] = NULL;
		if (on && r->listed)
			list_unlink(a, r);
		if (!on && atomic_load(&r->nfree) > 0 && a->cur[r->cls] != r)
			list_push(a, r);
	}
	pthread_mutex_unlock(&a->lock);
}

bool heap_fit_below(daxo_pool *p, uint64_t span, uint64_t idx)
{
	struct heap *h = p->heap;

	heap_lock(h);
	uint64_t at = ext_peek(h, span);
	pthread_mutex_unlock(&h->lock);
	return at < idx;
}

uint64_t heap_retired(daxo_pool *p)
{
	return atomic_load(&p->heap->retired);
}

bool heap_target_ok(daxo_pool *p, uint64_t off, uint64_t len)
{
	const struct pool_hdr *hd = &p->hdr;

	if (off >= hd->meta_off && len <= hd->meta_size &&
	    off - hd->meta_off <= hd->meta_size - len)
		return true;
	return off >= hd->heap_off && len <= hd->heap_size &&
	       off - hd->heap_off <= hd->heap_size - len;
}

/* ---- format, boot, cleanup ---- */

void heap_format(daxo_pool *p)
{
	struct heap_geom g;

	heap_geom_of(&p->hdr, &g);
	if (!g.v2) {
		/* a zeroed table is an empty heap: every chunk FREE */
		persist_memset(&p->ps, pool_ptr(p, g.heap_off), 0,
			       ALIGN_UP(g.nchunks * 8, (uint64_t)CACHELINE));
		return;
	}
	/* heap 2: every chunk FREE, each entry with its check */
	uint64_t *t = pool_ptr(p, g.heap_off);
	for (uint64_t i = 0; i < g.nchunks; i++)
		t[i] = heap_free_ent(&g, i);
	memset(t + g.nchunks, 0, g.table_size - g.nchunks * 8);
	persist_flush(&p->ps, t, g.table_size);
}

/* boot_run -- register a run found at open; its bitmap is read on use */
static int boot_run(struct heap *h, uint64_t idx, unsigned cls, unsigned *rr)
{
	daxo_pool *p = h->p;
	struct run *r = run_new(h, idx, cls, NULL);

	if (!r)
		return daxo__err(-ENOMEM, "%s: heap: out of memory", p->path);
	r->loaded = 0;
	run_attach(h, r);
	/* listed as if it had room; run_load finds out on first use */
	atomic_store(&r->arena, (uint16_t)(*rr % NARENAS));
	list_push(&h->arenas[*rr % NARENAS], r);
	(*rr)++;
	return 0;
}

/*
 * bad_ent -- why the entry of chunk @i, decoded (@ok) into @c, cannot be
 * where the walk found it, or NULL
 */
static const char *bad_ent(const struct heap *h, uint64_t i, bool ok,
			   const struct chdr *c)
{
	const struct heap_geom *g = &h->g;

	if (!ok)
		return !g->v2 ? (chdr_kind(h->chdr[i]) == CHUNK_FREE
				     ? "free chunk with stray bits"
				     : "unknown chunk kind")
			      : "check or fields do not hold (damaged)";
	if (c->kind == CHUNK_TYPE)
		return "a type entry where a head or a free chunk belongs";
	if (c->kind != CHUNK_FREE && (c->span == 0 || c->span > g->nchunks - i))
		return "span runs past the heap";
	if (c->kind == CHUNK_RUN &&
	    (c->arg >= g->nclasses || c->span != heap_run_span(g, c->arg)))
		return "bad size class or span of a run";
	if (c->kind == CHUNK_LARGE && g->v2 && c->span < 2)
		return "large object of one chunk (no room for its type)";
	return NULL;
}

static int boot_scan(struct heap *h)
{
	daxo_pool *p = h->p;
	unsigned rr = 0;
	uint64_t i = 0, n = h->g.nchunks;
	int ret;

	while (i < n) {
		struct chdr c, t;
		uint64_t at = i;
		const char *bad = bad_ent(h, i, heap_ent(h, i, &c), &c);

		if (!bad && c.kind == CHUNK_LARGE && h->g.v2 &&
		    (!heap_ent(h, i + 1, &t) || t.kind != CHUNK_TYPE)) {
			bad = "a large object's type entry is missing or "
			      "damaged";
			at = i + 1;
		}
		if (bad)
			return daxo__err(-EUCLEAN,
					 "%s: offset %llu: heap chunk %llu "
					 "entry 0x%016llx: %s",
					 p->path,
					 (unsigned long long)chdr_off(h, at),
					 (unsigned long long)at,
					 (unsigned long long)h->chdr[at], bad);
		switch (c.kind) {
		case CHUNK_FREE: {
			/* free chunks in a row: one extent (the bulk of the
			 * table: compared, not decoded) */
			uint64_t j = i + 1;
			while (j < n && h->chdr[j] == heap_free_ent(&h->g, j))
				j++;
			if (ext_insert(h, i, j - i))
				return daxo__err(-ENOMEM, "%s: heap: out of memory",
						 p->path);
			i = j;
			break;
		}
		case CHUNK_LARGE:
			i += c.span;
			break;
		default:
			ret = boot_run(h, i, c.arg, &rr);
			if (ret)
				return ret;
			i += c.span;
		}
	}
	return 0;
}

int heap_boot(daxo_pool *p)
{
	/* aligned: each arena's lock has a cache line of its own */
	struct heap *h = aligned_alloc(64, ALIGN_UP(sizeof(*h), (size_t)64));
	int ret;

	if (!h)
		return daxo__err(-ENOMEM, "%s: heap: out of memory", p->path);
	memset(h, 0, sizeof(*h));
	p->heap = h;
	h->p = p;
	heap_geom_of(&p->hdr, &h->g);
	h->chdr = pool_ptr(p, h->g.heap_off);
	pthread_mutex_init(&h->lock, NULL);
	for (unsigned i = 0; i < NARENAS; i++)
		pthread_mutex_init(&h->arenas[i].lock, NULL);
	for (unsigned c = 0; c < h->g.nclasses; c++)
		heap_run_geom(&h->g, c, &h->rg[c]);
	h->unit = calloc(h->g.nchunks + 1, sizeof(*h->unit));
	h->lfree = calloc(h->g.nchunks + 1, 1);
	if (!h->unit || !h->lfree)
		return daxo__err(-ENOMEM, "%s: heap: out of memory", p->path);
	ret = boot_scan(h);
	return ret;
}

void heap_cleanup(daxo_pool *p)
{
	struct heap *h = p->heap;

	if (!h)
		return;
	for (struct run *r = h->all, *nx; r; r = nx) {
		nx = r->all;
		free((void *)r->vbits);
		free((void *)r->pfree);
		free(r);
	}
	ext_cleanup(h);
	for (unsigned i = 0; i < NARENAS; i++)
		pthread_mutex_destroy(&h->arenas[i].lock);
	pthread_mutex_destroy(&h->lock);
	free((void *)h->unit);
	free((void *)h->lfree);
	free(h);
	p->heap = NULL;
}
