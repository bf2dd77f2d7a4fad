/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * heap_ext.c -- the heap's free extents (volatile, heap lock): runs of free
 * chunks, coalesced with their neighbours as they are freed, found by size
 * for a best fit.
 *
 * An extent is a struct fext; the chunk table's volatile shadow (h->unit)
 * names it at the extent's first and last chunk, tagged with bit 0, so a
 * chunk range given back finds the extents just before and just after it in
 * constant time. Extents are also kept in size bins (ext_bin: one bin per
 * length up to 64 chunks, then 8 bins per doubling) with a bitmap of the
 * non-empty ones: ext_take looks in the request's bin for the smallest
 * extent that holds it, then takes the smallest of the next non-empty bin,
 * all of whose extents are larger. Best fit keeps large extents whole for
 * large requests; the cost is a bin scan, bounded by EXT_SCAN.
 *
 * Chunks given back must become usable even when no struct can be had: a
 * free or a retired run has changed the media already and cannot fail. A
 * range that borders an extent takes that extent's struct (left or right);
 * one that borders none and finds no struct (malloc failed) keeps its
 * struct in its own first chunk (fext_home): the chunks are free, their
 * bytes are nobody's, and they are mapped for writing (a read-only pool
 * frees nothing; at open it reports -ENOMEM instead). Such a struct is an
 * extent like any other, with one rule: it is moved out before its chunk is
 * handed out (ext_take), into a malloc'd struct if one can be had, else
 * into the rest of the extent, and dropped, never put on the spare list,
 * when its extent is taken whole or merged away. Its stores need no flush
 * or fence: after a crash the bytes of free chunks mean nothing (the heap
 * is rebuilt from the chunk table at open; daxo_check reads no free
 * chunk), and every reader of the struct holds the heap lock -- daxo_next
 * too reads a run's words only under it (heap_iter.c), so a run's old words
 * are not read as these stores are made.
 */
#include <stdlib.h>
#include <string.h>

#include "heapint.h"
#include "pool.h"

/* extents looked at in one bin before the best so far is taken */
#define EXT_SCAN 64u

static unsigned ext_bin(uint64_t len)
{
	if (len <= 64)
		return (unsigned)len - 1;
	unsigned k = 63u - (unsigned)__builtin_clzll(len); /* >= 6 */
	return 64u + (k - 6u) * 8u + (unsigned)((len >> (k - 3u)) & 7u);
}

static_assert(EXT_NBINS == 64u + (63u - 6u) * 8u + 8u,
	      "bins of 64-bit lengths");

static void tag(struct heap *h, uint64_t idx, struct fext *e)
{
	atomic_store_explicit(&h->unit[idx], e ? (uintptr_t)e | 1 : 0,
			      memory_order_release);
}

static struct fext *tagged(const struct heap *h, uint64_t idx)
{
	uintptr_t v = atomic_load_explicit(&h->unit[idx], memory_order_relaxed);

	return (v & 1) ? (struct fext *)(v & ~(uintptr_t)1) : NULL;
}

static void bin_add(struct heap *h, struct fext *e)
{
	unsigned b = ext_bin(e->len);

	e->bin = b;
	e->prev = NULL;
	e->next = h->bins[b];
	if (e->next)
		e->next->prev = e;
	h->bins[b] = e;
	h->binmap[b / 64] |= 1ull << (b % 64);
}

static void bin_del(struct heap *h, struct fext *e)
{
	unsigned b = e->bin;

	if (e->prev)
		e->prev->next = e->next;
	else
		h->bins[b] = e->next;
	if (e->next)
		e->next->prev = e->prev;
	if (!h->bins[b])
		h->binmap[b / 64] &= ~(1ull << (b % 64));
}

static struct fext *fext_get(struct heap *h)
{
	struct fext *e = h->fspare;

	if (e) {
		h->fspare = e->next;
		return e;
	}
	e = malloc(sizeof(*e));
	if (e)
		e->home = UINT64_MAX;
	return e;
}

/*
 * fext_home -- a struct in the first bytes of free chunk @idx, for when
 * malloc fails; NULL on a read-only pool (its mapping is the file's, or a
 * private copy not to be dirtied for this)
 */
static struct fext *fext_home(struct heap *h, uint64_t idx)
{
	struct fext *e;

	static_assert(sizeof(struct fext) <= HEAP2_CHUNK_SIZE,
		      "fits in a chunk");
	if (h->p->rdonly)
		return NULL;
	e = pool_ptr(h->p, chunk_off(h, idx));
	e->home = idx;
	return e;
}

/* fext_put -- @e is no longer an extent: a spare, or (in a chunk) gone */
static void fext_put(struct heap *h, struct fext *e)
{
	if (e->home != UINT64_MAX)
		return;
	e->next = h->fspare;
	h->fspare = e;
}

/*
 * fext_move -- @e (on no bin, not yet tagged anew) copied into @to, which
 * is a spare struct or one in a free chunk of @e's extent; @e dropped
 */
static struct fext *fext_move(struct heap *h, struct fext *e, struct fext *to)
{
	to->start = e->start;
	to->len = e->len;
	fext_put(h, e);
	return to;
}

/*
 * ext_place -- index chunks [start, start + len) as an extent, merged with
 * the extents beside them: a new struct only if there is none, kept in
 * the range's first chunk if none can be had. 0, or -ENOMEM with nothing
 * changed (a read-only pool only).
 */
static int ext_place(struct heap *h, uint64_t start, uint64_t len)
{
	struct fext *l = start > 0 ? tagged(h, start - 1) : NULL;
	uint64_t end = start + len;
	struct fext *r = end < h->g.nchunks ? tagged(h, end) : NULL;
	struct fext *e;

	if (l) {
		bin_del(h, l);
		if (l->len > 1)
			tag(h, start - 1, NULL); /* now inside the extent */
		e = l;
		e->len += len;
		h->nfext--;
	} else if (r) {
		/* the right one's struct grows to the left */
		bin_del(h, r);
		if (r->len > 1)
			tag(h, r->start, NULL);
		e = r;
		e->start = start;
		e->len += len;
		r = NULL;
		h->nfext--;
	} else {
		e = fext_get(h);
		if (!e)
			e = fext_home(h, start);
		if (!e) /* nothing changed yet */
			return -ENOMEM;
		e->start = start;
		e->len = len;
	}
	if (r) {
		bin_del(h, r);
		if (r->len > 1)
			tag(h, r->start, NULL);
		e->len += r->len;
		fext_put(h, r);
		h->nfext--;
	}
	/* a struct in the chunks gives way to a spare one (it may be r's) */
	if (unlikely(e->home != UINT64_MAX) && h->fspare)
		e = fext_move(h, e, fext_get(h));
	tag(h, e->start, e);
	tag(h, e->start + e->len - 1, e);
	bin_add(h, e);
	h->nfext++;
	return 0;
}

int ext_insert(struct heap *h, uint64_t start, uint64_t len)
{
	int ret;

	if (len == 0)
		return 0;
	ret = ext_place(h, start, len);
	if (ret == 0)
		h->free_chunks += len;
	return ret;
}

/* best -- the smallest extent of bin @b holding @n chunks, or NULL */
static struct fext *best_in(struct heap *h, unsigned b, uint64_t n)
{
	struct fext *best = NULL;
	unsigned seen = 0;

	for (struct fext *e = h->bins[b]; e && seen < EXT_SCAN;
	     e = e->next, seen++) {
		if (e->len < n || (best && e->len >= best->len))
			continue;
		best = e;
		if (e->len == n)
			break;
	}
	return best;
}

/* next_bin -- the first non-empty bin above @b, or EXT_NBINS */
static unsigned next_bin(const struct heap *h, unsigned b)
{
	unsigned i = b + 1;

	while (i < EXT_NBINS) {
		uint64_t m = h->binmap[i / 64] & (~0ull << (i % 64));
		if (m)
			return i / 64 * 64 + (unsigned)__builtin_ctzll(m);
		i = (i / 64 + 1) * 64;
	}
	return EXT_NBINS;
}

/* ext_find -- the extent ext_take cuts @n chunks from, or NULL */
static struct fext *ext_find(struct heap *h, uint64_t n)
{
	unsigned b = ext_bin(n);
	struct fext *e = best_in(h, b, n);

	if (!e) {
		b = next_bin(h, b);
		if (b == EXT_NBINS)
			return NULL;
		e = best_in(h, b, n);
	}
	return e;
}

uint64_t ext_peek(struct heap *h, uint64_t n)
{
	struct fext *e = ext_find(h, n);

	return e ? e->start : UINT64_MAX;
}

uint64_t ext_take(struct heap *h, uint64_t n)
{
	struct fext *e = ext_find(h, n);

	if (!e)
		return UINT64_MAX;
	uint64_t s = e->start;
	bin_del(h, e);
	h->free_chunks -= n;
	if (e->len == n) {
		tag(h, s, NULL);
		tag(h, s + n - 1, NULL);
		fext_put(h, e);
		h->nfext--;
		return s;
	}
	/* the rest keeps the struct and its tag at the last chunk */
	tag(h, s, NULL);
	e->start += n;
	e->len -= n;
	if (unlikely(e->home != UINT64_MAX) && e->home < e->start) {
		/* its chunk is handed out: into a struct, or the rest */
		struct fext *to = fext_get(h);
		e = fext_move(h, e, to ? to : fext_home(h, e->start));
		tag(h, e->start + e->len - 1, e);
	}
	tag(h, e->start, e);
	bin_add(h, e);
	return s;
}

int ext_each(struct heap *h, int (*fn)(void *arg, uint64_t start, uint64_t len),
	     void *arg)
{
	for (unsigned b = 0; b < EXT_NBINS; b++)
		for (struct fext *e = h->bins[b]; e; e = e->next) {
			int ret = fn(arg, e->start, e->len);
			if (ret)
				return ret;
		}
	return 0;
}

uint64_t ext_largest(struct heap *h)
{
	uint64_t best = 0;

	for (unsigned b = EXT_NBINS; b-- > 0;) {
		if (!(h->binmap[b / 64] & (1ull << (b % 64))))
			continue;
		for (struct fext *e = h->bins[b]; e; e = e->next)
			best = MAX(best, e->len);
		break;
	}
	return best;
}

void ext_cleanup(struct heap *h)
{
	for (unsigned b = 0; b < EXT_NBINS; b++)
		for (struct fext *e = h->bins[b], *nx; e; e = nx) {
			nx = e->next;
			if (e->home == UINT64_MAX)
				free(e);
		}
	for (struct fext *e = h->fspare, *nx; e; e = nx) {
		nx = e->next;
		free(e);
	}
	memset(h->bins, 0, sizeof(h->bins));
	h->fspare = NULL;
}
