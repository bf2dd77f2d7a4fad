/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * check_heap.c -- the checker's walk of the heap: the chunk table, each
 * run's bitmap and slots, large objects and the chunks they cover, each
 * object's type, and media errors under live objects; it records which
 * chunk owns which (struct chk.owner), so that the pool meta and the keyed
 * store's walk (kv_check.c, through struct check_view) can ask whether an
 * offset lies inside one live object (check_object_at,
 * check_view_is_live). It runs after check_log.c has replayed on the
 * mapping what recovery would: the heap is checked as recovery leaves it.
 *
 * An independent reading of heap.h's formats: it never calls the
 * allocator, so that a bug there is not repeated here.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "heap.h"
#include "kv.h"
#include "pool.h"
#include "checkint.h"

/* ---- heap ---- */

/* chunk_off -- pool offset of chunk @i */
static uint64_t chunk_off(const struct chk *c, uint64_t i)
{
	return heap_chunk_off(&c->g, i);
}

/* ent_off -- pool offset of chunk @i's table entry */
static uint64_t ent_off(const struct chk *c, uint64_t i)
{
	return heap_chdr_off(&c->g, i);
}

/* ent -- decode chunk @i's entry; false if invalid for the format */
static bool ent(const struct chk *c, uint64_t i, struct chdr *d)
{
	return heap_chdr_decode(&c->g, i, check_rd64(c, ent_off(c, i)), d);
}

/* chunk_zero -- is chunk @i all zero bytes? */
static bool chunk_zero(const struct chk *c, uint64_t i)
{
	const uint64_t *w = (const uint64_t *)(c->base + chunk_off(c, i));

	for (uint64_t j = 0; j < c->g.chunk_size / 8; j++)
		if (w[j])
			return false;
	return true;
}

/* bm -- bitmap word @w of the run at chunk @i (its complement at +8) */
static uint64_t bm_off(const struct chk *c, uint64_t i,
		       const struct run_geom *rg, uint32_t w)
{
	return chunk_off(c, i) + heap_bm_off(rg, w);
}

/*
 * run_bits -- allocated slots of the run at chunk @i; with @pairs_ok,
 * whether every heap 2 word is the complement of its complement
 */
static uint64_t run_bits(const struct chk *c, uint64_t i,
			 const struct run_geom *rg, bool *pairs_ok)
{
	uint64_t n = 0;

	if (pairs_ok)
		*pairs_ok = true;
	for (uint32_t w = 0; w < rg->bitmap_words; w++) {
		uint64_t v = check_rd64(c, bm_off(c, i, rg, w));
		if (c->g.v2 && pairs_ok &&
		    (v ^ check_rd64(c, bm_off(c, i, rg, w) + 8)) != ~0ull)
			*pairs_ok = false;
		n += (uint64_t)__builtin_popcountll(v);
	}
	return n;
}

/* run_geom_ok -- does class @cls give a run geometry that fits its span? */
static bool run_geom_ok(const struct chk *c, uint32_t cls, struct run_geom *rg)
{
	uint64_t bytes;

	if (cls >= c->g.nclasses)
		return false;
	heap_run_geom(&c->g, cls, rg);
	bytes = (uint64_t)rg->span * c->g.chunk_size;
	return rg->nslots > 0 && rg->bitmap_words * 64ull >= rg->nslots &&
	       rg->slots_off + (uint64_t)rg->nslots * rg->size <= bytes &&
	       rg->types_off + 4ull * rg->nslots <= rg->slots_off;
}

/*
 * check_type -- the type numbers with a meaning: the root's type belongs to
 * the root object alone; the wildcard type cannot be a type at all
 */
static void check_type(struct chk *c, uint64_t oid, uint32_t type)
{
	const struct pool_meta *m = (const void *)(c->base + c->hdr.meta_off);

	if (type == DAXO_TYPE_ROOT && oid != m->root_oid)
		check_rpt(c, DAXO_CHECK_INFO | NOTE, oid,
		    "object %llu has the root object's type but is not the "
		    "root (a leaked root allocation?)",
		    (unsigned long long)oid);
	else if (type != DAXO_TYPE_ROOT && oid == m->root_oid)
		check_rpt(c, DAXO_CHECK_INFO | NOTE, oid,
		    "the root object has type %u, not the root type", type);
	else if (type == DAXO_TYPE_ANY)
		check_rpt(c, DAXO_CHECK_INFO | NOTE, oid,
		    "object %llu has type 0x%x, the wildcard of daxo_first",
		    (unsigned long long)oid, type);
}

/*
 * check_pairs -- heap 2: each bitmap word must be the complement of the
 * word after it. Where they disagree, which one was damaged cannot be
 * told; the repair keeps a slot allocated if either says so (a slot may
 * leak, a live object is never given away) and says how many slots that
 * keeps.
 */
static void check_pairs(struct chk *c, uint64_t i, uint32_t cls,
			const struct run_geom *rg)
{
	for (uint32_t w = 0; w < rg->bitmap_words; w++) {
		uint64_t at = bm_off(c, i, rg, w);
		uint64_t v = check_rd64(c, at), nc = ~check_rd64(c, at + 8);
		uint64_t keep = (v | nc) & ~heap_bm_tail(rg, w);
		uint64_t pair[2] = {keep, ~keep};

		if (v == nc)
			continue;
		check_rpt(c, DAXO_CHECK_REPAIRABLE, at,
		    "run at chunk %llu (class %u): bitmap word %u 0x%llx is "
		    "not the complement of 0x%llx after it (damaged); %d "
		    "slots either side calls allocated",
		    (unsigned long long)i, cls, w, (unsigned long long)v,
		    (unsigned long long)~nc,
		    __builtin_popcountll((v ^ nc) & keep));
		check_fix(c, at, pair, sizeof(pair),
		    "bitmap word and complement rewritten, keeping every slot "
		    "either called allocated");
	}
}

/* check_run -- a well-formed run head at chunk @i: its bitmap */
static void check_run(struct chk *c, uint64_t i, uint32_t cls)
{
	struct run_geom rg;
	uint64_t at = chunk_off(c, i), n;

	run_geom_ok(c, cls, &rg);
	if (c->g.v2)
		check_pairs(c, i, cls, &rg);
	/* bits beyond nslots: no slot there, the allocator must not see them */
	for (uint32_t w = rg.nslots / 64; w < rg.bitmap_words; w++) {
		uint64_t wo = bm_off(c, i, &rg, w);
		uint64_t v = check_rd64(c, wo), tail = heap_bm_tail(&rg, w);

		if (v & tail) {
			check_rpt(c, DAXO_CHECK_REPAIRABLE, wo,
			    "run at chunk %llu (class %u, %u slots): bitmap "
			    "bits set beyond the last slot (word %u = 0x%llx)",
			    (unsigned long long)i, cls, rg.nslots, w,
			    (unsigned long long)v);
			check_fix64(c, wo, v & ~tail,
			      "cleared bitmap bits beyond the last slot");
			if (c->g.v2)
				check_fix64(c, wo + 8, ~(v & ~tail),
				      "set their complement bits");
		}
	}
	n = run_bits(c, i, &rg, NULL);
	for (uint32_t k = 0; k < rg.nslots; k++) {
		uint32_t t;

		if (!((check_rd64(c, bm_off(c, i, &rg, k / 64)) >> (k % 64)) &
		      1))
			continue;
		memcpy(&t, c->base + at + rg.types_off + 4ull * k, 4);
		check_type(c, at + rg.slots_off + (uint64_t)k * rg.size, t);
		check_media_object(c, at + rg.slots_off + (uint64_t)k * rg.size,
			     rg.size, t);
		check_rpt(c, DAXO_CHECK_INFO,
		    at + rg.slots_off + (uint64_t)k * rg.size,
		    "object: %u bytes, type %u", rg.size, t);
	}
	c->nobjs += n;
	c->used_bytes += n * rg.size;
	check_rpt(c, DAXO_CHECK_INFO, at,
	    "run at chunk %llu: class %u (%u bytes), %llu of %u slots used",
	    (unsigned long long)i, cls, rg.size, (unsigned long long)n,
	    rg.nslots);
}

/*
 * check_covered -- entries of chunks covered by a head must stay FREE (but
 * a heap 2 LARGE head's TYPE entry, checked by the caller)
 */
static void check_covered(struct chk *c, uint64_t head, uint64_t from,
			  uint64_t span)
{
	for (uint64_t j = from; j < head + span; j++) {
		uint64_t off = ent_off(c, j), h = check_rd64(c, off);
		uint64_t want = heap_free_ent(&c->g, j);

		if (h == want)
			continue;
		check_rpt(c, DAXO_CHECK_REPAIRABLE, off,
		    "chunk %llu is covered by the object at chunk %llu but "
		    "its entry is 0x%llx, not FREE (overlap or damage)",
		    (unsigned long long)j, (unsigned long long)head,
		    (unsigned long long)h);
		check_fix64(c, off, want, "covered chunk entry reset to FREE");
	}
}

/*
 * bad_head -- a chunk entry that cannot be right where the walk found it.
 * It can be turned back to FREE only if that provably loses no live
 * object: a run of a known class with an empty (and, heap 2, consistent)
 * bitmap -- read from the entry's fields even if its check failed -- or a
 * chunk that is all zeros and that neither the root nor the keyed store's
 * anchor points into.
 */
static void bad_head(struct chk *c, uint64_t i, uint64_t h, const char *why)
{
	uint64_t off = ent_off(c, i);
	const struct pool_meta *m = (const void *)(c->base + c->hdr.meta_off);
	uint64_t lo = chunk_off(c, i), hi = lo + c->g.chunk_size;
	struct run_geom rg;
	bool safe = false, pairs_ok;
	uint32_t cls = c->g.v2 ? (uint32_t)((h & HEAP2_LOW48) >> 38)
			       : chdr_arg(h);
	uint64_t span = c->g.v2 ? (h >> 2) & HEAP2_SPAN_MAX : chdr_span(h);

	if (chdr_kind(h) == CHUNK_RUN && run_geom_ok(c, cls, &rg) &&
	    span == rg.span && i + rg.span <= c->g.nchunks &&
	    run_bits(c, i, &rg, &pairs_ok) == 0 && pairs_ok)
		safe = true;
	else if (chunk_zero(c, i) && !(m->root_oid >= lo && m->root_oid < hi) &&
		 !((m->kv_root & KV_LINK_MASK) >= lo &&
		   (m->kv_root & KV_LINK_MASK) < hi))
		safe = true;
	if (!safe) {
		check_rpt(c, DAXO_CHECK_FATAL, off,
		    "chunk %llu: invalid entry 0x%llx (%s); what it held "
		    "cannot be told",
		    (unsigned long long)i, (unsigned long long)h, why);
		return;
	}
	check_rpt(c, DAXO_CHECK_REPAIRABLE, off,
	    "chunk %llu: invalid entry 0x%llx (%s); it holds no live object",
	    (unsigned long long)i, (unsigned long long)h, why);
	check_fix64(c, off, heap_free_ent(&c->g, i), "invalid chunk entry reset to FREE");
}

static void own(struct chk *c, uint64_t i, uint64_t span)
{
	for (uint64_t j = i; j < i + span; j++)
		c->owner[j] = i + 1;
}

/*
 * check_large -- a LARGE head at chunk @i: its type (heap 2: the TYPE
 * entry after it); returns the type
 */
static uint32_t check_large(struct chk *c, uint64_t i, const struct chdr *d)
{
	struct chdr t;

	if (!c->g.v2)
		return d->arg;
	if (ent(c, i + 1, &t) && t.kind == CHUNK_TYPE)
		return t.arg;
	check_rpt(c, DAXO_CHECK_REPAIRABLE, ent_off(c, i + 1),
	    "large object at chunk %llu: its type entry 0x%llx is damaged; "
	    "the object is kept with type 0",
	    (unsigned long long)i, (unsigned long long)check_rd64(c, ent_off(c, i + 1)));
	check_fix64(c, ent_off(c, i + 1), chdr2_make(CHUNK_TYPE, 0, 0, i + 1),
	      "type entry rewritten with type 0");
	return 0;
}

int check_heap(struct chk *c)
{
	uint64_t nlarge = 0, nruns = 0;
	const struct heap_geom *g = &c->g;

	heap_geom_of(&c->hdr, &c->g);
	if (!check_in_file(c, g->heap_off, g->table_size) || g->nchunks == 0 ||
	    !check_in_file(c, g->chunks_off, g->nchunks * g->chunk_size)) {
		check_rpt(c, DAXO_CHECK_FATAL, c->hdr.heap_off,
		    "heap geometry does not fit the pool");
		return 0;
	}
	c->owner = calloc(g->nchunks, sizeof(*c->owner));
	if (!c->owner)
		return daxo__err(-ENOMEM, "daxo_check: out of memory");

	for (uint64_t i = 0; i < g->nchunks;) {
		uint64_t off = ent_off(c, i), h = check_rd64(c, off);
		struct chdr d;
		struct run_geom rg;
		uint32_t type;
		bool ok = ent(c, i, &d);

		if (!ok) {
			if (!g->v2 && chdr_kind(h) == CHUNK_FREE) {
				check_rpt(c, DAXO_CHECK_REPAIRABLE, off,
				    "chunk %llu: FREE header with stray bits "
				    "0x%llx",
				    (unsigned long long)i,
				    (unsigned long long)h);
				check_fix64(c, off, 0,
					    "free chunk header cleared");
			} else {
				bad_head(c, i, h,
					 g->v2 ? "its check or fields do not "
						 "hold"
					       : "unknown kind 3");
			}
			c->free_chunks++;
			i++;
			continue;
		}
		switch (d.kind) {
		case CHUNK_FREE:
			c->free_chunks++;
			i++;
			continue;
		case CHUNK_LARGE:
			if (d.span == 0 || d.span > g->nchunks - i ||
			    (g->v2 && d.span < 2)) {
				bad_head(c, i, h, "span outside the heap");
				c->free_chunks++;
				i++;
				continue;
			}
			nlarge++;
			c->nobjs++;
			c->used_bytes += d.span * g->chunk_size;
			type = check_large(c, i, &d);
			check_rpt(c, DAXO_CHECK_INFO, chunk_off(c, i),
			    "large object at chunk %llu: %llu chunks, type %u",
			    (unsigned long long)i, (unsigned long long)d.span,
			    type);
			check_type(c, chunk_off(c, i), type);
			check_media_object(c, chunk_off(c, i),
					   d.span * g->chunk_size, type);
			check_covered(c, i, i + (g->v2 ? 2 : 1), d.span);
			break;
		case CHUNK_RUN:
			if (!run_geom_ok(c, d.arg, &rg)) {
				bad_head(c, i, h, "unknown size class");
				c->free_chunks++;
				i++;
				continue;
			}
			if (d.span != rg.span || d.span > g->nchunks - i) {
				bad_head(c, i, h,
					 d.span != rg.span
					     ? "span does not match its class"
					     : "span outside the heap");
				c->free_chunks++;
				i++;
				continue;
			}
			nruns++;
			check_run(c, i, d.arg);
			check_covered(c, i, i + 1, d.span);
			break;
		default:
			bad_head(c, i, h,
				 "a type entry where a head or a free chunk "
				 "belongs");
			c->free_chunks++;
			i++;
			continue;
		}
		own(c, i, d.span);
		i += d.span;
	}
	check_rpt(c, DAXO_CHECK_INFO | NOTE, c->hdr.heap_off,
	    "heap: %llu chunks of %llu KiB: %llu large objects, %llu runs, "
	    "%llu free chunks; %llu objects, %llu bytes in use",
	    (unsigned long long)g->nchunks,
	    (unsigned long long)(g->chunk_size >> 10),
	    (unsigned long long)nlarge, (unsigned long long)nruns,
	    (unsigned long long)c->free_chunks, (unsigned long long)c->nobjs,
	    (unsigned long long)c->used_bytes);
	return 0;
}

/*
 * check_object_at -- if @oid is the start of a live object, its usable size;
 * else 0. Uses the heap as checked (owner map), never trusts @oid.
 */
uint64_t check_object_at(const struct chk *c, uint64_t oid)
{
	uint64_t i, head, rel;
	struct run_geom rg;
	struct chdr d;

	if (!c->owner || oid < c->g.chunks_off ||
	    oid >= c->g.chunks_off + c->g.nchunks * c->g.chunk_size)
		return 0;
	i = (oid - c->g.chunks_off) / c->g.chunk_size;
	if (!c->owner[i])
		return 0;
	head = c->owner[i] - 1;
	if (!ent(c, head, &d))
		return 0;
	if (d.kind == CHUNK_LARGE)
		return oid == chunk_off(c, head) ? d.span * c->g.chunk_size : 0;
	if (d.kind != CHUNK_RUN || !run_geom_ok(c, d.arg, &rg))
		return 0;
	rel = oid - chunk_off(c, head);
	if (rel < rg.slots_off || (rel - rg.slots_off) % rg.size)
		return 0;
	rel = (rel - rg.slots_off) / rg.size;
	if (rel >= rg.nslots)
		return 0;
	if (!((check_rd64(c, bm_off(c, head, &rg, (uint32_t)(rel / 64))) >>
	       (rel % 64)) &
	      1))
		return 0;
	return rg.size;
}

/* check_view_is_live -- [off, off+len) inside one live object */
bool check_view_is_live(const struct check_view *v, uint64_t off, uint64_t len)
{
	const struct chk *c = v->priv;
	uint64_t i, head, start, usable, rel;
	struct run_geom rg;
	struct chdr d;

	if (!c->owner || off < c->g.chunks_off ||
	    off >= c->g.chunks_off + c->g.nchunks * c->g.chunk_size)
		return false;
	i = (off - c->g.chunks_off) / c->g.chunk_size;
	if (!c->owner[i])
		return false;
	head = c->owner[i] - 1;
	start = chunk_off(c, head);
	if (!ent(c, head, &d))
		return false;
	if (d.kind == CHUNK_RUN) {
		if (!run_geom_ok(c, d.arg, &rg))
			return false;
		rel = off - start;
		if (rel < rg.slots_off)
			return false;
		start +=
		    rg.slots_off + (rel - rg.slots_off) / rg.size * rg.size;
	}
	usable = check_object_at(c, start);
	return usable && len <= usable - (off - start);
}
