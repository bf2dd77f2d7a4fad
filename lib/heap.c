/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * heap.c -- the allocator's runs and arenas: size-class runs with bitmaps
 * for small objects, whole chunks for large ones, per-thread arenas (see
 * heap.h for the on-media format and its crash-consistency argument), and
 * the reservation that takes a slot or chunks for an allocation.
 *
 * Media changes of allocations and frees are not made here: heap_act.c
 * turns a reserved allocation or a validated free into redo operations that
 * the transaction code commits. This file only prepares and publishes new
 * runs (outside transactions, heap.h: NEW RUNS) and keeps the volatile
 * state: which slots and chunks are reserved, which runs each arena
 * allocates from, when an empty run goes back to the free extents
 * (heap_ext.c). The reservation fast path (heap_reserve, reserve_small and
 * the run and arena helpers it inlines) is in this one file.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "heapint.h"
#include "pool.h"
#include "share.h"

/* threads living on each arena (process-wide: the index is every pool's) */
static _Atomic unsigned arena_users[NARENAS];
static __thread unsigned my_arena = UINT32_MAX;
static pthread_key_t arena_key;
static pthread_once_t arena_once = PTHREAD_ONCE_INIT;

/* ---- runs ---- */

/*
 * run_new -- the volatile state of an empty run of @cls at chunk @idx (heap
 * lock held, or at boot). Retired runs' structs are reused, never freed
 * while the pool is open: a caller passing a stale oid may still read one.
 * Not while a daxo_heap_info reads runs (h->readers): then a new one.
 * *@made (if given): true if the struct was made anew, not reused.
 */
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
void run_release(struct heap *h, struct run *r, uint32_t slot)
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

/* heap_boot_run -- register a run found at open; its bitmap is read on use */
int heap_boot_run(struct heap *h, uint64_t idx, unsigned cls, unsigned *rr)
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
