/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * heap_act.c -- the heap's objects by oid and the actions made of them: an
 * oid located as a live object (locate), a free validated and marked
 * (heap_prepare_free), the redo operations that apply a reservation or a
 * free (heap_act_ops) and what follows its commit or abort (heap_act_done,
 * heap_act_cancel), and the lookups that name an object (heap_object,
 * heap_usage, heap_containing, heap_target_ok).
 *
 * Kept apart from heap.c: heap.c keeps the volatile state of runs and
 * arenas and makes reservations; this file reads the chunk table and the
 * run bitmaps on media to say what an oid is, and makes no durable change
 * itself -- the transaction code commits the operations heap_act_ops
 * emits. Slots and chunks given back go to heap.c (run_release) and to
 * the free extents (large_release, heapint.h).
 */
#include <stdatomic.h>
#include <string.h>

#include "heapint.h"
#include "pool.h"
#include "redo.h"

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

bool heap_target_ok(daxo_pool *p, uint64_t off, uint64_t len)
{
	const struct pool_hdr *hd = &p->hdr;

	if (off >= hd->meta_off && len <= hd->meta_size &&
	    off - hd->meta_off <= hd->meta_size - len)
		return true;
	return off >= hd->heap_off && len <= hd->heap_size &&
	       off - hd->heap_off <= hd->heap_size - len;
}
