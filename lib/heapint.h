/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * heapint.h -- the allocator's volatile state, shared by its files:
 * heap.c (runs, arenas, reservations), heap_act.c (objects by oid, the
 * actions that allocate and free them), heap_boot.c (format, open,
 * cleanup), heap_ext.c (the free extents), heap_iter.c (iteration and
 * daxo_heap_info). Not for other modules: they use heap.h. The locks and
 * large_release are inline here, as they were in heap.c, for the fast
 * paths of more than one file.
 */
#ifndef DAXO_HEAPINT_H
#define DAXO_HEAPINT_H 1

#include <pthread.h>
#include <stdatomic.h>

#include "heap.h"
#include "share.h"

/*
 * Arenas: a thread allocates from its own arena's runs, under its lock, so
 * that threads share no run (no bitmap word, counter or lock line) until
 * there are more of them than arenas -- one for each thread that can keep
 * a lane of its own (TX_NBIND, txint.h), and a few more. 1.6 KiB each.
 */
#define NARENAS	  64u
#define EXT_NBINS 528u /* ext_bin(): 64 exact, then 8 a doubling */

struct run {
	uint64_t chunk; /* head chunk */
	uint16_t cls;
	_Atomic uint16_t arena; /* owner: its lock guards cur/partial/dead */
	uint32_t nslots;
	uint32_t nwords;
	uint32_t span;
	uint32_t capwords; /* vbits and pfree have room for this many */
	_Atomic uint32_t nfree;
	_Atomic uint64_t *vbits; /* reserved or allocated */
	_Atomic uint64_t *pfree; /* being freed by an open transaction */
	_Atomic int loaded;	 /* vbits read from media (lazily, run_load):
				    0 not yet, 1 yes, -1 found damaged */
	_Atomic uint32_t hint;	 /* first word worth scanning */
	_Atomic bool listed;	 /* on the arena's partial list (written
				    under the arena lock) */
	_Atomic bool dead;	 /* retired: on no list (written under the
				    owner lock, read without it) */
	bool draining;		 /* being emptied by defrag: never allocated
				    from, on no list (owner lock) */
	struct run *next, *prev; /* partial list, or the spare list */
	struct run *all;	 /* every run struct of the heap */
};

struct arena {
	_Alignas(64) pthread_mutex_t lock;
	struct run *cur[HEAP_NCLASSES_MAX];
	struct run *partial[HEAP_NCLASSES_MAX];
};

/*
 * a free extent: chunks [start, start + len) (heap lock). Malloc'd, or --
 * when malloc failed -- kept in the pool, in the first bytes of chunk
 * @home, one of the extent's own free chunks (heap_ext.c)
 */
struct fext {
	uint64_t start;
	uint64_t len;
	struct fext *next, *prev; /* in its size bin; next: spare list */
	uint64_t home; /* the chunk it lives in; UINT64_MAX: malloc'd */
	uint32_t bin;
};

struct heap {
	daxo_pool *p;
	struct heap_geom g;
	uint64_t *chdr; /* the media chunk table */
	/*
	 * per chunk: the run it belongs to, or -- tagged with bit 0 -- the
	 * free extent it starts or ends, or 0. Written under the heap lock
	 * (run chunks also at open), read without it (run_at).
	 */
	_Atomic uintptr_t *unit;
	_Atomic uint8_t *lfree; /* large head being freed */
	pthread_mutex_t lock;	/* extents, unit[], run creation */
	struct fext *bins[EXT_NBINS];
	uint64_t binmap[(EXT_NBINS + 63) / 64]; /* non-empty bins */
	struct fext *fspare;			/* unused fext structs */
	uint64_t free_chunks;			/* in the extents */
	uint64_t nfext;				/* extents */
	struct run *all;	  /* every run struct (heap lock) */
	struct run *spare;	  /* retired ones, for reuse (heap lock) */
	/*
	 * daxo_heap_info calls reading run structs without the heap lock:
	 * while there are any, run_new makes new structs instead of reusing
	 * retired ones, so that a reader holding a run found before it was
	 * retired never sees it rewritten for another chunk
	 */
	_Atomic unsigned readers;
	_Atomic uint64_t retired; /* runs given back to the free chunks */
	struct arena arenas[NARENAS];
	struct run_geom rg[HEAP_NCLASSES_MAX];
};

/* run_at -- the run chunk @idx belongs to, or NULL */
static inline struct run *run_at(const struct heap *h, uint64_t idx)
{
	uintptr_t v = atomic_load_explicit(&h->unit[idx], memory_order_acquire);

	return (v & 1) ? NULL : (struct run *)v;
}

static inline uint64_t chunk_off(const struct heap *h, uint64_t idx)
{
	return heap_chunk_off(&h->g, idx);
}

static inline uint64_t chdr_off(const struct heap *h, uint64_t idx)
{
	return heap_chdr_off(&h->g, idx);
}

/* heap_ext.c (heap lock held) */
/* ext_insert -- chunks [start, start + len) are free: merge, index. Needs
 * no memory (a pool open for writing); -ENOMEM only on a read-only one */
int ext_insert(struct heap *h, uint64_t start, uint64_t len) DAXO_HIDDEN;
/* ext_take -- best fit of @n chunks, cut from an extent's start;
 * UINT64_MAX if none */
uint64_t ext_take(struct heap *h, uint64_t n) DAXO_HIDDEN;
/* ext_peek -- where ext_take(@n) would cut, without taking; UINT64_MAX */
uint64_t ext_peek(struct heap *h, uint64_t n) DAXO_HIDDEN;
/* ext_each -- call @fn for every free extent; stops at a non-zero return */
int ext_each(struct heap *h, int (*fn)(void *arg, uint64_t start, uint64_t len),
	     void *arg) DAXO_HIDDEN;
/* ext_largest -- chunks of the largest free extent */
uint64_t ext_largest(struct heap *h) DAXO_HIDDEN;
void ext_cleanup(struct heap *h) DAXO_HIDDEN;

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

/* large_release -- chunks [@idx, @idx + @span) back to the free extents */
static inline void large_release(struct heap *h, uint64_t idx, uint64_t span)
{
	heap_lock(h);
	/* needs no memory (heap_ext.c): the pool is open for writing */
	(void)ext_insert(h, idx, span);
	pthread_mutex_unlock(&h->lock);
}

/* heap.c, for the other heap files */
int run_load(struct heap *h, struct run *r) DAXO_HIDDEN;
bool run_idle(const struct run *r) DAXO_HIDDEN;
/* run_release -- a slot became free again: clear it, relist the run */
void run_release(struct heap *h, struct run *r, uint32_t slot) DAXO_HIDDEN;
/* heap_boot_run -- register a run found at open; its bitmap is read on use */
int heap_boot_run(struct heap *h, uint64_t idx, unsigned cls,
		  unsigned *rr) DAXO_HIDDEN;

/* heap_act.c, for the other heap files */
/* heap_ent -- decode chunk @idx's entry as the heap reads it now */
bool heap_ent(const struct heap *h, uint64_t idx, struct chdr *c) DAXO_HIDDEN;
/* large_type -- the type number of the LARGE object at head @idx */
uint32_t large_type(const struct heap *h, uint64_t idx,
		    const struct chdr *c) DAXO_HIDDEN;

#endif
