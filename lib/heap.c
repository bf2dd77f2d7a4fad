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

#include "heap.h"
#include "pool.h"
#include "redo.h"

#define NARENAS 8u

static const uint32_t class_sizes[] = {
	64,    128,   192,   256,   320,   384,   448,   512,   640,
	768,   896,   1024,  1280,  1536,  1792,  2048,  2560,  3072,
	3584,  4096,  5120,  6144,  7168,  8192,  10240, 12288, 14336,
	16384, 20480, 24576, 28672, 32768, 40960, 49152, 57344, 65536,
	81920, 98304, 114688, 131072, 163840, 196608, 229376,
};
#define NCLASSES ARRAY_SIZE(class_sizes)
static_assert(NCLASSES <= 256, "class index fits the chunk header");

/* volatile kind of every chunk */
enum vkind { VK_FREE = 0, VK_LARGE_HEAD, VK_LARGE_BODY, VK_RUN, VK_SCRATCH };

struct run {
	uint32_t chunk; /* head chunk */
	uint16_t cls;
	_Atomic uint16_t arena; /* owner: its lock guards cur/partial/dead */
	uint32_t nslots;
	uint32_t nwords;
	uint32_t span;
	uint32_t capwords;       /* vbits and pfree have room for this many */
	_Atomic uint32_t nfree;
	_Atomic uint64_t *vbits; /* reserved or allocated */
	_Atomic uint64_t *pfree; /* being freed by an open transaction */
	_Atomic int loaded;      /* vbits read from media (lazily, run_load) */
	_Atomic uint32_t hint;   /* first word worth scanning */
	_Atomic bool listed;     /* on the arena's partial list (written
				    under the arena lock) */
	bool dead;               /* retired: on no list, owner lock */
	struct run *next, *prev; /* partial list, or the spare list */
	struct run *all;         /* every run struct of the heap */
};

struct arena {
	_Alignas(64) pthread_mutex_t lock;
	struct run *cur[NCLASSES];
	struct run *partial[NCLASSES];
};

struct extent {
	uint64_t start;
	uint64_t len;
};

struct heap {
	daxo_pool *p;
	struct heap_geom g;
	uint64_t *chdr;           /* the media chunk table */
	struct run **runs;        /* every chunk of a run -> its run */
	uint8_t *vkind;           /* enum vkind, heap lock */
	_Atomic uint8_t *lfree;   /* large head being freed */
	pthread_mutex_t lock;     /* extents, vkind, run creation */
	struct extent *ext;       /* free extents, sorted by start */
	size_t next, capext;
	struct run *all;          /* every run struct (heap lock) */
	struct run *spare;        /* retired ones, for reuse (heap lock) */
	_Atomic uint64_t retired; /* runs given back to the free chunks */
	struct arena arenas[NARENAS];
	struct run_geom rg[NCLASSES];
};

/* threads living on each arena (process-wide: the index is every pool's) */
static _Atomic unsigned arena_users[NARENAS];
static __thread unsigned my_arena = UINT32_MAX;
static pthread_key_t arena_key;
static pthread_once_t arena_once = PTHREAD_ONCE_INIT;

void heap_geom(uint64_t heap_off, uint64_t heap_size, struct heap_geom *g)
{
	uint64_t nmax = heap_size / HEAP_CHUNK_SIZE;

	g->heap_off = heap_off;
	g->table_size = ALIGN_UP(nmax * 8, (uint64_t)HEAP_CHUNK_SIZE);
	g->chunks_off = heap_off + g->table_size;
	g->nchunks = heap_size > g->table_size
			     ? (heap_size - g->table_size) / HEAP_CHUNK_SIZE
			     : 0;
	g->chunk_size = HEAP_CHUNK_SIZE;
	g->ent_size = 8;
}

void heap_geom_of(const struct pool_hdr *h, struct heap_geom *g)
{
	heap_geom(h->heap_off, h->heap_size, g);
}

unsigned heap_nclasses(void)
{
	return NCLASSES;
}

uint32_t heap_class_size(unsigned c)
{
	return class_sizes[c];
}

uint32_t heap_run_span(unsigned c)
{
	/* at least 16 slots a run, 4 for classes above 16 KiB */
	uint64_t want = (uint64_t)class_sizes[c] *
			(class_sizes[c] <= 16384 ? 16 : 4);

	return (uint32_t)((MAX(want, (uint64_t)HEAP_CHUNK_SIZE) +
			   HEAP_CHUNK_SIZE - 1) /
			  HEAP_CHUNK_SIZE);
}

void heap_run_geom(unsigned c, struct run_geom *rg)
{
	uint64_t rsize = (uint64_t)heap_run_span(c) * HEAP_CHUNK_SIZE;
	uint32_t size = class_sizes[c];
	uint32_t n = (uint32_t)(rsize / size);

	for (;; n--) {
		uint32_t words = (n + 63) / 64;
		uint64_t types = (uint64_t)words * 8;
		uint64_t slots = ALIGN_UP(types + 4ull * n, 64ull);
		if (slots + (uint64_t)n * size <= rsize) {
			rg->nslots = n;
			rg->bitmap_words = words;
			rg->types_off = (uint32_t)types;
			rg->slots_off = (uint32_t)slots;
			rg->size = size;
			return;
		}
	}
}

static unsigned class_for(uint64_t size)
{
	unsigned lo = 0, hi = NCLASSES - 1;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		if (class_sizes[mid] >= size)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static inline uint64_t chunk_off(const struct heap *h, uint64_t idx)
{
	return h->g.chunks_off + idx * HEAP_CHUNK_SIZE;
}

static inline uint64_t chdr_off(const struct heap *h, uint64_t idx)
{
	return h->g.heap_off + idx * 8;
}

/* ---- free extents (heap lock) ---- */

static int ext_insert(struct heap *h, uint64_t start, uint64_t len)
{
	size_t i = 0;

	while (i < h->next && h->ext[i].start < start)
		i++;
	/* merge with the previous and/or the next extent */
	bool prev = i > 0 && h->ext[i - 1].start + h->ext[i - 1].len == start;
	bool next = i < h->next && start + len == h->ext[i].start;
	if (prev && next) {
		h->ext[i - 1].len += len + h->ext[i].len;
		memmove(&h->ext[i], &h->ext[i + 1],
			(h->next - i - 1) * sizeof(h->ext[0]));
		h->next--;
		return 0;
	}
	if (prev) {
		h->ext[i - 1].len += len;
		return 0;
	}
	if (next) {
		h->ext[i].start = start;
		h->ext[i].len += len;
		return 0;
	}
	if (h->next == h->capext) {
		size_t cap = h->capext ? h->capext * 2 : 64;
		struct extent *e = realloc(h->ext, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		h->ext = e;
		h->capext = cap;
	}
	memmove(&h->ext[i + 1], &h->ext[i], (h->next - i) * sizeof(h->ext[0]));
	h->ext[i].start = start;
	h->ext[i].len = len;
	h->next++;
	return 0;
}

/*
 * ext_take -- best fit of @n chunks: the smallest extent that holds them,
 * the lowest of equals, cut from its start (keeps large extents whole and
 * packs what is taken towards the start of the heap); UINT64_MAX if none
 */
static uint64_t ext_take(struct heap *h, uint64_t n)
{
	size_t best = SIZE_MAX;

	for (size_t i = 0; i < h->next; i++) {
		if (h->ext[i].len < n ||
		    (best != SIZE_MAX && h->ext[i].len >= h->ext[best].len))
			continue;
		best = i;
		if (h->ext[i].len == n)
			break;
	}
	if (best == SIZE_MAX)
		return UINT64_MAX;
	uint64_t s = h->ext[best].start;
	h->ext[best].start += n;
	h->ext[best].len -= n;
	if (h->ext[best].len == 0) {
		memmove(&h->ext[best], &h->ext[best + 1],
			(h->next - best - 1) * sizeof(h->ext[0]));
		h->next--;
	}
	return s;
}

/* ---- runs ---- */

/*
 * run_new -- the volatile state of an empty run of @cls at chunk @idx (heap
 * lock held, or at boot). Retired runs' structs are reused, never freed
 * while the pool is open: a caller passing a stale oid may still read one.
 */
static struct run *run_new(struct heap *h, uint64_t idx, unsigned cls)
{
	const struct run_geom *rg = &h->rg[cls];
	struct run *r, **pp;

	for (pp = &h->spare; *pp && (*pp)->capwords < rg->bitmap_words;
	     pp = &(*pp)->next)
		;
	r = *pp;
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
	}
	r->chunk = (uint32_t)idx;
	r->cls = (uint16_t)cls;
	r->span = heap_run_span(cls);
	r->nslots = rg->nslots;
	r->nwords = rg->bitmap_words;
	r->dead = false;
	r->listed = false;
	r->next = r->prev = NULL;
	r->hint = 0;
	/* slots past nslots in the last word are never free */
	uint32_t tail = r->nslots % 64;
	if (tail)
		r->vbits[r->nwords - 1] = ~0ull << tail;
	r->nfree = r->nslots;
	r->loaded = 1;
	return r;
}

static void run_attach(struct heap *h, struct run *r)
{
	uint32_t span = r->span;

	for (uint32_t i = 0; i < span; i++) {
		h->runs[r->chunk + i] = r;
		h->vkind[r->chunk + i] = VK_RUN;
	}
}

/*
 * run_load -- read a run's bitmap from media into its volatile state, once.
 * Runs found at open are loaded on first use, so that opening a pool reads
 * the chunk table only (each run's bitmap is a page fault of its own).
 * Every path that changes a run's bits on media loads it first: allocation
 * (run_reserve) and heap_prepare_free. Returns 0 or -EUCLEAN.
 */
static int run_load(struct heap *h, struct run *r)
{
	daxo_pool *p = h->p;
	int ret = 0;

	if (atomic_load_explicit(&r->loaded, memory_order_acquire) > 0)
		return 0;
	pthread_mutex_lock(&h->lock);
	if (r->loaded < 0) {
		ret = -EUCLEAN;
	} else if (r->loaded == 0) {
		const uint64_t *bm = pool_ptr(p, chunk_off(h, r->chunk));
		uint32_t used = 0;
		for (uint32_t w = 0; w < r->nwords; w++) {
			uint64_t v = __atomic_load_n(&bm[w], __ATOMIC_ACQUIRE);
			uint64_t invalid = r->vbits[w]; /* bits past nslots */
			if (v & invalid) {
				/* corruption: never allocate from this run */
				persist_fail(&p->ps);
				atomic_store(&r->loaded, -1);
				ret = daxo__err(-EUCLEAN,
						"%s: offset %llu: run bitmap has "
						"bits set past its %u slots",
						p->path,
						(unsigned long long)(chunk_off(h, r->chunk) +
								     w * 8ull),
						r->nslots);
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
 * else sees it (heap.h: NEW RUNS).
 */
static struct run *run_prepare(struct heap *h, unsigned cls)
{
	uint32_t span = heap_run_span(cls);
	uint64_t idx = ext_take(h, span);

	if (idx == UINT64_MAX)
		return NULL;
	struct run *r = run_new(h, idx, cls);
	if (!r) {
		ext_insert(h, idx, span);
		return NULL;
	}
	persist_memset(&h->p->ps, pool_ptr(h->p, chunk_off(h, idx)), 0,
		       h->rg[cls].slots_off);
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
 * of them than arenas
 */
static unsigned arena_of_thread(void)
{
	if (likely(my_arena != UINT32_MAX))
		return my_arena;
	pthread_once(&arena_once, arena_key_init);
	unsigned best = 0, min = UINT32_MAX;
	for (unsigned i = 0; i < NARENAS; i++) {
		unsigned u = atomic_load_explicit(&arena_users[i],
						  memory_order_relaxed);
		if (u < min) {
			min = u;
			best = i;
		}
	}
	atomic_fetch_add(&arena_users[best], 1);
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

/* list_push -- put @r on its owner's partial list */
static void list_push(struct arena *a, struct run *r)
{
	struct run *hd = a->partial[r->cls];

	r->prev = NULL;
	r->next = hd;
	if (hd)
		hd->prev = r;
	a->partial[r->cls] = r;
	r->listed = true;
}

static void list_unlink(struct arena *a, struct run *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		a->partial[r->cls] = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->next = r->prev = NULL;
	r->listed = false;
}

/* pop_partial -- a run of @cls with room from arena @b's list, or NULL */
static struct run *pop_partial(struct arena *b, unsigned cls)
{
	struct run *r = b->partial[cls];

	if (r)
		list_unlink(b, r);
	return r;
}

/* owner_lock -- lock the arena that owns @r (steal may move it) */
static struct arena *owner_lock(struct heap *h, struct run *r)
{
	for (;;) {
		unsigned ai = atomic_load(&r->arena);
		struct arena *a = &h->arenas[ai];
		pthread_mutex_lock(&a->lock);
		if (atomic_load(&r->arena) == ai)
			return a;
		pthread_mutex_unlock(&a->lock);
	}
}

/* run_idle -- nothing allocated, reserved or being freed in @r */
static bool run_idle(const struct run *r)
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

	pthread_mutex_lock(&h->lock);
	__atomic_store_n(&h->chdr[r->chunk], 0, __ATOMIC_RELEASE);
	persist_flush(ps, &h->chdr[r->chunk], 8);
	persist_drain(ps);
	for (uint32_t i = 0; i < r->span; i++) {
		h->runs[r->chunk + i] = NULL;
		h->vkind[r->chunk + i] = VK_FREE;
	}
	/* on ENOMEM the chunks stay unusable until the next open: no damage */
	ext_insert(h, r->chunk, r->span);
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
	bool other = (cur && cur != r && atomic_load(&cur->nfree) > 0) ||
		     (a->partial[cls] && (a->partial[cls] != r || r->next));

	if (r->dead || !run_idle(r) || !other) {
		if (!r->dead && !r->listed && cur != r)
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
		pthread_mutex_lock(&a->lock);
		for (unsigned c = 0; c < NCLASSES; c++) {
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
	if (!r->listed && !r->dead && a->cur[r->cls] != r)
		list_push(a, r);
	pthread_mutex_unlock(&a->lock);
}

/*
 * steal -- a run with room from another arena (runs found at open are dealt
 * out to all arenas; a thread must not strand them). trylock only: two
 * arenas stealing from each other must not deadlock. The run moves to the
 * stealing arena (both locks held), whose lock guards it from then on.
 */
static struct run *steal(struct heap *h, unsigned ai, unsigned cls)
{
	for (unsigned k = 1; k < NARENAS; k++) {
		struct arena *b = &h->arenas[(ai + k) % NARENAS];
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
	unsigned cls = class_for(size);
	unsigned ai = arena_of_thread();
	struct arena *a = &h->arenas[ai];
	struct run *r;
	int64_t slot = -1;
	bool reclaimed = false;

	pthread_mutex_lock(&a->lock);
	r = a->cur[cls];
	while (!r || run_load(h, r) != 0 || (slot = run_reserve(r)) < 0) {
		r = pop_partial(a, cls);
		if (!r)
			r = steal(h, ai, cls);
		if (!r) {
			pthread_mutex_unlock(&a->lock);
			pthread_mutex_lock(&h->lock);
			r = run_prepare(h, cls);
			pthread_mutex_unlock(&h->lock);
			if (!r && !reclaimed) {
				/* idle runs of other classes may free room */
				reclaimed = true;
				bool any = heap_reclaim(h) > 0;
				pthread_mutex_lock(&a->lock);
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

	/* the zeroed bitmap and types are durable (the caller's tx_sync) */
	__atomic_store_n(&h->chdr[r->chunk],
			 chdr_make(CHUNK_RUN, r->span, r->cls),
			 __ATOMIC_RELEASE);
	persist_flush(ps, &h->chdr[r->chunk], 8);
	/*
	 * the head durable before any slot of the run is handed out: a
	 * committed allocation in a run whose head was lost would be a lost
	 * object, and the committing thread may be another than this one
	 */
	persist_drain(ps);
	pthread_mutex_lock(&h->lock);
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

/* take_chunks -- @n free chunks marked @vk, reclaiming idle runs if need be */
static uint64_t take_chunks(struct heap *h, uint64_t n, uint8_t vk)
{
	uint64_t idx;

	for (int pass = 0;; pass++) {
		pthread_mutex_lock(&h->lock);
		idx = ext_take(h, n);
		if (idx != UINT64_MAX) {
			h->vkind[idx] = vk;
			for (uint64_t i = 1; i < n; i++)
				h->vkind[idx + i] =
				    vk == VK_LARGE_HEAD ? VK_LARGE_BODY : vk;
		}
		pthread_mutex_unlock(&h->lock);
		if (idx != UINT64_MAX || pass > 0 || heap_reclaim(h) == 0)
			return idx;
	}
}

static int reserve_large(struct heap *h, uint64_t size, struct heap_act *act)
{
	uint64_t n = (size + HEAP_CHUNK_SIZE - 1) / HEAP_CHUNK_SIZE;
	uint64_t idx;

	if (n > 0x3fffffff)
		return daxo__err(-ENOSPC, "%s: heap: %llu bytes is too large",
				 h->p->path, (unsigned long long)size);
	idx = take_chunks(h, n, VK_LARGE_HEAD);
	if (idx == UINT64_MAX)
		return daxo__err(-ENOSPC,
				 "%s: heap: no %llu contiguous free chunks for a "
				 "%llu-byte object",
				 h->p->path, (unsigned long long)n,
				 (unsigned long long)size);
	act->large = 1;
	act->chunk = (uint32_t)idx;
	act->span = (uint32_t)n;
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
	/* daxo_type_of answers DAXO_TYPE_ANY for "no object" */
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
	ret = size <= HEAP_MAX_SMALL ? reserve_small(h, size, type, a)
				     : reserve_large(h, size, a);
	/* no run has room and no new run fits: whole chunks still may */
	if (ret == -ENOSPC && size <= HEAP_MAX_SMALL)
		ret = reserve_large(h, size, a);
	return ret;
}

static void large_release(struct heap *h, uint32_t idx, uint32_t span)
{
	pthread_mutex_lock(&h->lock);
	for (uint32_t i = 0; i < span; i++)
		h->vkind[idx + i] = VK_FREE;
	/* on ENOMEM the chunks stay unusable until the next open: no damage */
	ext_insert(h, idx, span);
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
	uint64_t idx = (oid - h->g.chunks_off) / HEAP_CHUNK_SIZE;
	uint64_t inner = (oid - h->g.chunks_off) % HEAP_CHUNK_SIZE;
	uint64_t hd = __atomic_load_n(&h->chdr[idx], __ATOMIC_ACQUIRE);
	struct run *r = h->runs[idx];

	if (inner == 0 && chdr_kind(hd) == CHUNK_LARGE && !r) {
		a->large = 1;
		a->chunk = (uint32_t)idx;
		a->span = chdr_span(hd);
		a->type = chdr_arg(hd);
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
	const uint64_t *bm = pool_ptr(p, rstart);
	if (!(__atomic_load_n(&bm[slot / 64], __ATOMIC_ACQUIRE) &
	      (1ull << (slot % 64))))
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
	struct run *r = h->runs[(oid - h->g.chunks_off) / HEAP_CHUNK_SIZE];
	if (!r || !run_slot(h, r, oid, &slot))
		return;
	const struct run_geom *rg = &h->rg[r->cls];
	const char *base = pool_ptr(p, chunk_off(h, r->chunk));
	prefetch_w(base + slot / 64 * 8); /* AND64 at apply */
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
	struct run *r = h->runs[a->chunk];
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
	int ret;

	if (a->large)
		return emit(ctx, REDO_SET64, chdr_off(h, a->chunk),
			    a->is_free ? 0
				       : chdr_make(CHUNK_LARGE, a->span,
						   a->type));
	uint64_t rstart = chunk_off(h, a->chunk);
	uint64_t word = rstart + (a->slot / 64) * 8;
	uint64_t bit = 1ull << (a->slot % 64);
	if (a->is_free)
		return emit(ctx, REDO_AND64, word, ~bit);
	ret = emit(ctx, REDO_OR64, word, bit);
	if (ret)
		return ret;
	return emit(ctx, REDO_SET32,
		    rstart + h->rg[a->cls].types_off + 4ull * a->slot, a->type);
}

void heap_act_done(daxo_pool *p, const struct heap_act *a)
{
	struct heap *h = p->heap;

	if (!a->is_free)
		return;
	if (a->large) {
		atomic_store(&h->lfree[a->chunk], 0);
		large_release(h, a->chunk, a->span);
		return;
	}
	struct run *r = h->runs[a->chunk];
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
			atomic_fetch_and(&h->runs[a->chunk]->pfree[a->slot / 64],
					 ~(1ull << (a->slot % 64)));
		return;
	}
	if (a->large)
		large_release(h, a->chunk, a->span);
	else
		run_release(h, h->runs[a->chunk], a->slot);
}

int heap_scratch_get(daxo_pool *p, uint32_t nchunks, uint64_t *off)
{
	struct heap *h = p->heap;
	uint64_t idx = take_chunks(h, nchunks, VK_SCRATCH);

	if (idx == UINT64_MAX)
		return daxo__err(-ENOSPC,
				 "%s: no %u free chunks to extend a log",
				 p->path, nchunks);
	*off = chunk_off(h, idx);
	return 0;
}

void heap_scratch_put(daxo_pool *p, uint64_t off, uint32_t nchunks)
{
	struct heap *h = p->heap;

	large_release(h, (uint32_t)((off - h->g.chunks_off) / HEAP_CHUNK_SIZE),
		      nchunks);
}

int heap_object(daxo_pool *p, uint64_t oid, uint64_t *usable, uint32_t *type)
{
	struct heap *h = p->heap;
	struct heap_act a;
	int ret = locate(h, oid, &a);

	if (ret)
		return ret;
	if (usable)
		*usable = a.large ? (uint64_t)a.span * HEAP_CHUNK_SIZE
				  : h->rg[a.cls].size;
	if (type)
		*type = a.type;
	return 0;
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

/* ---- iteration ---- */

/*
 * next_in -- the first live object of @type with oid > @after, starting the
 * walk at head chunk @idx
 */
static daxo_oid next_from(struct heap *h, uint64_t idx, uint64_t after,
			  uint32_t type)
{
	daxo_pool *p = h->p;

	while (idx < h->g.nchunks) {
		uint64_t hd = __atomic_load_n(&h->chdr[idx], __ATOMIC_ACQUIRE);
		uint32_t span = chdr_span(hd);
		uint64_t start = chunk_off(h, idx);

		switch (chdr_kind(hd)) {
		case CHUNK_LARGE:
			if (start > after &&
			    (type == DAXO_TYPE_ANY || chdr_arg(hd) == type))
				return start;
			idx += span ? span : 1;
			break;
		case CHUNK_RUN: {
			unsigned cls = chdr_arg(hd);
			if (cls >= NCLASSES) {
				idx++;
				break;
			}
			const struct run_geom *rg = &h->rg[cls];
			const uint64_t *bm = pool_ptr(p, start);
			const uint32_t *types = pool_ptr(p, start + rg->types_off);
			for (uint32_t s = 0; s < rg->nslots; s++) {
				uint64_t o = start + rg->slots_off +
					     (uint64_t)s * rg->size;
				if (o <= after)
					continue;
				if (!(__atomic_load_n(&bm[s / 64],
						      __ATOMIC_ACQUIRE) &
				      (1ull << (s % 64))))
					continue;
				if (type == DAXO_TYPE_ANY ||
				    __atomic_load_n(&types[s],
						    __ATOMIC_RELAXED) == type)
					return o;
			}
			idx += span ? span : 1;
			break;
		}
		default:
			idx++;
		}
	}
	return 0;
}

DAXO_EXPORT daxo_oid daxo_first(daxo_pool *p, uint32_t type)
{
	if (!p || !p->heap)
		return 0;
	return next_from(p->heap, 0, 0, type);
}

DAXO_EXPORT daxo_oid daxo_next(daxo_pool *p, daxo_oid oid, uint32_t type)
{
	struct heap *h;

	if (!p || !p->heap)
		return 0;
	h = p->heap;
	if (oid < h->g.chunks_off)
		return next_from(h, 0, oid, type);
	uint64_t idx = (oid - h->g.chunks_off) / HEAP_CHUNK_SIZE;
	if (idx >= h->g.nchunks)
		return 0;
	/* restart at the head covering @idx when it is a run */
	if (h->runs[idx])
		idx = h->runs[idx]->chunk;
	return next_from(h, idx, oid, type);
}

DAXO_EXPORT uint64_t daxo_usable_size(daxo_pool *p, daxo_oid oid)
{
	uint64_t u;

	if (!p || !p->heap || heap_object(p, oid, &u, NULL) != 0)
		return 0;
	return u;
}

DAXO_EXPORT uint32_t daxo_oid_type(daxo_pool *p, daxo_oid oid)
{
	uint32_t t;

	if (!p || !p->heap || heap_object(p, oid, NULL, &t) != 0)
		return UINT32_MAX;
	return t;
}

/* the name before 0.4, kept for the programs and sources that use it */
DAXO_EXPORT uint32_t daxo_type_of(daxo_pool *p, daxo_oid oid)
{
	return daxo_oid_type(p, oid);
}

/* ---- daxo_heap_info ---- */

static int ext_cmp(const void *a, const void *b)
{
	const struct extent *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

DAXO_EXPORT int daxo_heap_info(daxo_pool *p, struct daxo_heap_info *out)
{
	struct heap *h;
	struct extent *ex = NULL;
	size_t n = 0, cap = 0;
	uint64_t largest_slot = 0;

	if (!p || !out || !p->heap)
		return daxo__err(-EINVAL, "daxo_heap_info: NULL argument");
	h = p->heap;
	memset(out, 0, sizeof(*out));
	out->chunk_size = HEAP_CHUNK_SIZE;
	out->heap_bytes = h->g.nchunks * HEAP_CHUNK_SIZE;
	out->nclasses = NCLASSES;
	for (unsigned c = 0; c < NCLASSES; c++)
		out->cls[c].size = class_sizes[c];
	out->retired_runs = atomic_load(&h->retired);

	/* free extents, copied; idle runs are added to them below */
	pthread_mutex_lock(&h->lock);
	cap = h->next + 64;
	ex = malloc(cap * sizeof(*ex));
	if (ex) {
		memcpy(ex, h->ext, h->next * sizeof(*ex));
		n = h->next;
	}
	pthread_mutex_unlock(&h->lock);
	if (!ex)
		return daxo__err(-ENOMEM, "%s: out of memory", p->path);
	for (size_t i = 0; i < n; i++)
		out->free_chunk_bytes += ex[i].len * HEAP_CHUNK_SIZE;

	for (uint64_t i = 0; i < h->g.nchunks;) {
		uint64_t hd = __atomic_load_n(&h->chdr[i], __ATOMIC_ACQUIRE);
		struct run *r = h->runs[i];
		if (chdr_kind(hd) == CHUNK_LARGE && !r) {
			out->large_objects++;
			out->large_bytes += chdr_span(hd) * HEAP_CHUNK_SIZE;
			i += chdr_span(hd);
			continue;
		}
		if (!r || r->chunk != i || r->dead) {
			i++;
			continue;
		}
		i += r->span;
		if (run_load(h, r) != 0)
			continue;
		struct daxo_heap_class *k = &out->cls[r->cls];
		uint32_t nfree = atomic_load(&r->nfree);
		k->runs++;
		k->slots += r->nslots;
		k->used += r->nslots - nfree;
		out->runs++;
		out->run_bytes += r->span * HEAP_CHUNK_SIZE;
		if (nfree && class_sizes[r->cls] > largest_slot)
			largest_slot = class_sizes[r->cls];
		if (!run_idle(r)) {
			out->free_bytes += (uint64_t)nfree * class_sizes[r->cls];
			continue;
		}
		k->idle_runs++;
		out->free_chunk_bytes += r->span * HEAP_CHUNK_SIZE;
		if (n == cap) {
			struct extent *e = realloc(ex, 2 * cap * sizeof(*ex));
			if (!e)
				continue;
			ex = e;
			cap *= 2;
		}
		ex[n].start = r->chunk;
		ex[n++].len = r->span;
	}
	/* idle runs' chunks are free to a large allocation: merge, measure */
	qsort(ex, n, sizeof(*ex), ext_cmp);
	uint64_t best = 0;
	for (size_t i = 0; i < n;) {
		uint64_t len = ex[i].len, end = ex[i].start + ex[i].len;
		size_t j = i + 1;
		while (j < n && ex[j].start == end) {
			len += ex[j].len;
			end += ex[j].len;
			j++;
		}
		best = MAX(best, len);
		i = j;
	}
	free(ex);
	out->free_bytes += out->free_chunk_bytes;
	out->largest_alloc = MAX(best * HEAP_CHUNK_SIZE, largest_slot);
	return 0;
}

/* ---- format, boot, cleanup ---- */

void heap_format(daxo_pool *p)
{
	struct heap_geom g;

	heap_geom(p->hdr.heap_off, p->hdr.heap_size, &g);
	/* a zeroed table is an empty heap: every chunk FREE */
	persist_memset(&p->ps, pool_ptr(p, g.heap_off), 0,
		       ALIGN_UP(g.nchunks * 8, (uint64_t)CACHELINE));
}

/* boot_run -- register a run found at open; its bitmap is read on use */
static int boot_run(struct heap *h, uint64_t idx, uint64_t hd, unsigned *rr)
{
	daxo_pool *p = h->p;
	unsigned cls = chdr_arg(hd);
	struct run *r = run_new(h, idx, cls);

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

static int boot_scan(struct heap *h)
{
	daxo_pool *p = h->p;
	unsigned rr = 0;
	uint64_t i = 0;
	int ret;

	while (i < h->g.nchunks) {
		uint64_t hd = h->chdr[i];
		uint32_t span = chdr_span(hd);
		enum chunk_kind k = chdr_kind(hd);
		const char *bad = NULL;

		if (k == CHUNK_FREE && hd != 0)
			bad = "free chunk with stray bits";
		else if (k != CHUNK_FREE &&
			 (span == 0 || span > h->g.nchunks - i))
			bad = "span runs past the heap";
		else if (k == CHUNK_RUN && (chdr_arg(hd) >= NCLASSES ||
					    span != heap_run_span(chdr_arg(hd))))
			bad = "bad size class or span of a run";
		else if (k == 3)
			bad = "unknown chunk kind";
		if (bad)
			return daxo__err(-EUCLEAN,
					 "%s: offset %llu: heap chunk %llu "
					 "header 0x%016llx: %s",
					 p->path,
					 (unsigned long long)chdr_off(h, i),
					 (unsigned long long)i,
					 (unsigned long long)hd, bad);
		switch (k) {
		case CHUNK_FREE:
			if (ext_insert(h, i, 1))
				return daxo__err(-ENOMEM, "%s: heap: out of memory",
						 p->path);
			i++;
			break;
		case CHUNK_LARGE:
			h->vkind[i] = VK_LARGE_HEAD;
			for (uint32_t j = 1; j < span; j++)
				h->vkind[i + j] = VK_LARGE_BODY;
			i += span;
			break;
		default:
			ret = boot_run(h, i, hd, &rr);
			if (ret)
				return ret;
			i += span;
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
	heap_geom(p->hdr.heap_off, p->hdr.heap_size, &h->g);
	h->chdr = pool_ptr(p, h->g.heap_off);
	pthread_mutex_init(&h->lock, NULL);
	for (unsigned i = 0; i < NARENAS; i++)
		pthread_mutex_init(&h->arenas[i].lock, NULL);
	for (unsigned c = 0; c < NCLASSES; c++)
		heap_run_geom(c, &h->rg[c]);
	h->runs = calloc(h->g.nchunks + 1, sizeof(*h->runs));
	h->vkind = calloc(h->g.nchunks + 1, 1);
	h->lfree = calloc(h->g.nchunks + 1, 1);
	if (!h->runs || !h->vkind || !h->lfree)
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
	for (unsigned i = 0; i < NARENAS; i++)
		pthread_mutex_destroy(&h->arenas[i].lock);
	pthread_mutex_destroy(&h->lock);
	free(h->runs);
	free(h->vkind);
	free((void *)h->lfree);
	free(h->ext);
	free(h);
	p->heap = NULL;
}
