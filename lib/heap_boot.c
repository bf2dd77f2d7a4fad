/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * heap_boot.c -- the heap of a new pool (heap_format) and of a pool being
 * opened: heap_boot builds the volatile state from the chunk table -- free
 * chunks become extents (heap_ext.c), runs are registered with the arenas
 * to be read on first use (heap.c: heap_boot_run), and every entry is
 * checked as it is read, so that a damaged table fails the open instead of
 * misleading the allocator -- and heap_cleanup frees it at close.
 *
 * Kept apart from heap.c: this runs once per open, on one thread, before
 * anything else uses the heap; heap.c is what threads share afterwards.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "heapint.h"
#include "pool.h"

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
			ret = heap_boot_run(h, i, c.arg, &rr);
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
