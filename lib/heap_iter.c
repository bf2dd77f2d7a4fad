/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * heap_iter.c -- reading the heap as a whole: iteration over live objects
 * (daxo_first, daxo_next), object lookups by oid (daxo_usable_size,
 * daxo_oid_type) and daxo_heap_info. Readers only: they take the heap lock
 * at most to copy the free extents.
 */
#include <stdlib.h>
#include <string.h>

#include "heapint.h"
#include "pool.h"
#include "txint.h"

/* ---- iteration ---- */

/*
 * run_next -- the first live object of @type with oid > @after in the run
 * whose head is chunk @idx, entry @c, or 0. Called with the heap lock held:
 * run_retire writes the head FREE under it, so the entry read again here is
 * the run's as long as the lock is held, and its chunks cannot be handed out
 * meanwhile -- to a large object whose owner fills them with plain stores,
 * or to a free extent whose node lives in them (heap_ext.c). The bitmap and
 * type words are read atomically: commits set and clear their bits without
 * the heap lock.
 */
static daxo_oid run_next(struct heap *h, uint64_t idx, const struct chdr *c,
			 uint64_t after, uint32_t type)
{
	const struct run_geom *rg = &h->rg[c->arg];
	uint64_t start = chunk_off(h, idx);
	const char *base = pool_ptr(h->p, start);
	const uint32_t *types = pool_ptr(h->p, start + rg->types_off);
	uint32_t s = 0;

	/* the first slot past @after */
	if (after >= start + rg->slots_off) {
		uint64_t past = (after - start - rg->slots_off) / rg->size + 1;
		s = (uint32_t)MIN(past, (uint64_t)rg->nslots);
	}
	while (s < rg->nslots) {
		const uint64_t *bm =
		    (const uint64_t *)(base + heap_bm_off(rg, s / 64));
		uint64_t w = __atomic_load_n(bm, __ATOMIC_ACQUIRE) &
			     (~0ull << (s % 64));
		uint32_t end = MIN((s / 64 + 1) * 64, rg->nslots);

		for (; w; w &= w - 1) {
			uint32_t t = s / 64 * 64 + (uint32_t)__builtin_ctzll(w);
			if (t >= end)
				break;
			uint32_t ty = type == DAXO_TYPE_ANY
					  ? type
					  : __atomic_load_n(types + t,
							    __ATOMIC_RELAXED);
			if (ty != type)
				continue;
			return start + rg->slots_off + (uint64_t)t * rg->size;
		}
		s = end;
	}
	return 0;
}

/*
 * next_from -- the first live object of @type with oid > @after, starting
 * the walk at head chunk @idx. Entries are read without the heap lock; a
 * run's words only with it (run_next), taken for each run the walk enters.
 * Iteration is no hot path: allocations and frees take the heap lock only
 * for chunks (new runs, large objects, retired runs), never per slot.
 */
static daxo_oid next_from(struct heap *h, uint64_t idx, uint64_t after,
			  uint32_t type)
{
	while (idx < h->g.nchunks) {
		struct chdr c;
		uint64_t start = chunk_off(h, idx);

		if (!heap_ent(h, idx, &c) || c.span == 0) {
			idx++;
			continue;
		}
		if (c.kind == CHUNK_LARGE) {
			if (start > after && (type == DAXO_TYPE_ANY ||
					      large_type(h, idx, &c) == type))
				return start;
			idx += c.span;
			continue;
		}
		if (c.kind != CHUNK_RUN || c.arg >= h->g.nclasses) {
			idx++;
			continue;
		}
		daxo_oid o = 0;
		bool same;
		struct chdr now;
		pthread_mutex_lock(&h->lock);
		/* retired since the read above: its entry is read again */
		same = heap_ent(h, idx, &now) && now.kind == c.kind &&
		       now.arg == c.arg && now.span == c.span;
		if (same)
			o = run_next(h, idx, &c, after, type);
		pthread_mutex_unlock(&h->lock);
		if (o)
			return o;
		if (same)
			idx += c.span;
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
	uint64_t idx = (oid - h->g.chunks_off) / h->g.chunk_size;
	if (idx >= h->g.nchunks)
		return 0;
	/*
	 * restart at the head covering @idx when it is a run (heap lock: a
	 * retired run's struct may be reused for another chunk meanwhile)
	 */
	pthread_mutex_lock(&h->lock);
	struct run *r = run_at(h, idx);
	if (r)
		idx = r->chunk;
	pthread_mutex_unlock(&h->lock);
	return next_from(h, idx, oid, type);
}

/*
 * object -- @oid's usable bytes and type: a live object, or one the calling
 * thread's open transaction allocated (not in the bitmaps before its
 * commit; its usable bytes are those the commit makes durable)
 */
static bool object(daxo_pool *p, daxo_oid oid, uint64_t *u, uint32_t *t)
{
	const struct daxo_tx *tx;

	if (!p || !p->heap)
		return false;
	if (heap_object(p, oid, u, t) == 0)
		return true;
	tx = tx_open_on(p);
	return tx && tx_new_object(tx, oid, u, t);
}

DAXO_EXPORT uint64_t daxo_usable_size(daxo_pool *p, daxo_oid oid)
{
	uint64_t u;
	uint32_t t;

	return object(p, oid, &u, &t) ? u : 0;
}

DAXO_EXPORT uint32_t daxo_oid_type(daxo_pool *p, daxo_oid oid)
{
	uint64_t u;
	uint32_t t;

	return object(p, oid, &u, &t) ? t : UINT32_MAX;
}

/* the name before 0.4, kept for the programs and sources that use it */
DAXO_EXPORT uint32_t daxo_type_of(daxo_pool *p, daxo_oid oid)
{
	return daxo_oid_type(p, oid);
}

/* ---- daxo_heap_info ---- */

struct extent {
	uint64_t start;
	uint64_t len;
};

static int ext_cmp(const void *a, const void *b)
{
	const struct extent *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

struct ext_copy {
	struct extent *ex;
	size_t n, cap;
};

static int ext_copy_one(void *arg, uint64_t start, uint64_t len)
{
	struct ext_copy *c = arg;

	if (c->n == c->cap)
		return -ENOMEM;
	c->ex[c->n].start = start;
	c->ex[c->n++].len = len;
	return 0;
}

DAXO_EXPORT int daxo_heap_info(daxo_pool *p, struct daxo_heap_info *out)
{
	struct heap *h;
	struct ext_copy ec = {0};
	uint64_t largest_slot = 0, cs;

	if (!p || !out || !p->heap)
		return daxo__err(-EINVAL, "daxo_heap_info: NULL argument");
	h = p->heap;
	cs = h->g.chunk_size;
	memset(out, 0, sizeof(*out));
	out->chunk_size = cs;
	out->heap_bytes = h->g.nchunks * cs;
	out->nclasses = h->g.nclasses;
	for (unsigned c = 0; c < h->g.nclasses; c++)
		out->cls[c].size = h->rg[c].size;
	out->retired_runs = atomic_load(&h->retired);

	/* free extents, copied; idle runs are added to them below */
	pthread_mutex_lock(&h->lock);
	ec.cap = h->nfext + 64;
	ec.ex = malloc(ec.cap * sizeof(*ec.ex));
	if (ec.ex)
		(void)ext_each(h, ext_copy_one, &ec);
	pthread_mutex_unlock(&h->lock);
	if (!ec.ex)
		return daxo__err(-ENOMEM, "%s: out of memory", p->path);
	for (size_t i = 0; i < ec.n; i++)
		out->free_chunk_bytes += ec.ex[i].len * cs;

	/* runs read without the heap lock: none is rewritten meanwhile */
	atomic_fetch_add(&h->readers, 1);
	for (uint64_t i = 0; i < h->g.nchunks;) {
		struct run *r = run_at(h, i);
		struct chdr c;
		if (!r && heap_ent(h, i, &c) && c.kind == CHUNK_LARGE &&
		    c.span) {
			out->large_objects++;
			out->large_bytes += c.span * cs;
			i += c.span;
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
		uint32_t size = h->rg[r->cls].size;
		uint32_t nfree = atomic_load(&r->nfree);
		k->runs++;
		k->slots += r->nslots;
		k->used += r->nslots - nfree;
		out->runs++;
		out->run_bytes += r->span * cs;
		if (nfree && size > largest_slot)
			largest_slot = size;
		if (!run_idle(r)) {
			out->free_bytes += (uint64_t)nfree * size;
			continue;
		}
		k->idle_runs++;
		out->free_chunk_bytes += r->span * cs;
		if (ec.n == ec.cap) {
			struct extent *e =
			    realloc(ec.ex, 2 * ec.cap * sizeof(*ec.ex));
			if (!e)
				continue;
			ec.ex = e;
			ec.cap *= 2;
		}
		ec.ex[ec.n].start = r->chunk;
		ec.ex[ec.n++].len = r->span;
	}
	atomic_fetch_sub(&h->readers, 1);
	/* idle runs' chunks are free to a large allocation: merge, measure */
	qsort(ec.ex, ec.n, sizeof(*ec.ex), ext_cmp);
	uint64_t best = 0;
	for (size_t i = 0; i < ec.n;) {
		uint64_t len = ec.ex[i].len,
			 end = ec.ex[i].start + ec.ex[i].len;
		size_t j = i + 1;
		while (j < ec.n && ec.ex[j].start == end) {
			len += ec.ex[j].len;
			end += ec.ex[j].len;
			j++;
		}
		best = MAX(best, len);
		i = j;
	}
	free(ec.ex);
	/*
	 * The extents were copied before the runs were read, while other
	 * threads allocate and free: a run made meanwhile from chunks the
	 * copy holds counts twice. The figures are a snapshot of a moving
	 * heap, but never more free space than the heap has.
	 */
	out->free_chunk_bytes = MIN(out->free_chunk_bytes, out->heap_bytes);
	best = MIN(best, h->g.nchunks);
	out->free_bytes += out->free_chunk_bytes;
	out->free_bytes = MIN(out->free_bytes, out->heap_bytes);
	/* heap 2: a LARGE object of one chunk cannot be (its TYPE entry) */
	if (h->g.v2 && best < 2)
		best = 0;
	out->largest_alloc = MAX(best * cs, largest_slot);
	return 0;
}
