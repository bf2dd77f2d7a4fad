/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * defrag.c -- daxo_heap_defrag: objects the application names, with every place
 * that holds their oids, moved so that sparse runs empty (and go back to
 * the free chunks) and large objects pack towards the start of the heap;
 * each batch of moves one transaction, so after a crash every object and
 * every place is either all old or all new.
 *
 * The plan: an object in a run is moved when its run is one of the
 * sparsest of its size class, the class's objects would fit in fewer runs,
 * and every live object of the run is named (else the run would not
 * empty). Those runs are drained (heap_drain: nothing is allocated from
 * them), so the new copies land in the other runs of the class. A large
 * object is moved when a best-fit allocation of its size would now land at
 * a lower address.
 *
 * daxo_kv_compact plans the same for the keyed store's entries, whose
 * only references the store itself holds, and moves each as a put of its
 * own key and value into a new entry (kv_relocate).
 *
 * A move is tx_alloc_raw + tx_fill of the old contents -- with the places
 * that lie inside the object itself already holding the new oids -- then
 * daxo_tx_free of the old object and daxo_tx_write of every place in the
 * pool; places in volatile memory are written after the commit. A place
 * inside an object moved by an earlier batch is written at its new
 * address.
 */
#include <stdlib.h>
#include <string.h>

#include "heap.h"
#include "kv.h"
#include "pool.h"
#include "tx.h"

/* moves per transaction: bounds the record and the extension blocks */
#define DEFRAG_BATCH 32u
/* types from here up are the library's own objects (kv.h) or the root's */

/* one object named by the caller */
struct dobj {
	uint64_t oid;
	uint64_t noid; /* its new oid once moved, else 0 */
	struct heap_usage u;
	bool move;
	bool pinned;	       /* never moved: the root, the library's own */
	size_t first, nplaces; /* its places in the sorted place array */
};

/* one place holding an oid */
struct dplace {
	daxo_oid *where;
	uint64_t oid; /* the oid it holds */
	uint64_t off; /* its pool offset, or UINT64_MAX if volatile */
	size_t obj;   /* the object it names */
};

struct defrag {
	daxo_pool *p;
	struct dobj *o;
	size_t no;
	struct dplace *pl;
	size_t npl;
	uint64_t *drained; /* run head chunks drained */
	size_t ndrained;
};

static int by_oid(const void *a, const void *b)
{
	const struct dplace *x = a, *y = b;

	return x->oid < y->oid ? -1 : x->oid > y->oid;
}

/* obj_of -- the object whose old bytes hold pool offset @off, or NULL */
static struct dobj *obj_of(struct defrag *d, uint64_t off)
{
	size_t lo = 0, hi = d->no;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (d->o[mid].oid <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	struct dobj *x = &d->o[lo - 1];
	return off - x->oid < x->u.usable ? x : NULL;
}

/*
 * collect -- the distinct objects and their places, checked: every oid a
 * live object, every place in the pool 8-byte aligned inside a live object
 */
static int collect(struct defrag *d, daxo_oid *const *oidv, size_t n)
{
	daxo_pool *p = d->p;

	d->pl = calloc(n ? n : 1, sizeof(*d->pl));
	d->o = calloc(n ? n : 1, sizeof(*d->o));
	if (!d->pl || !d->o)
		return daxo__err(-ENOMEM, "%s: daxo_heap_defrag: out of memory",
				 p->path);
	for (size_t i = 0; i < n; i++) {
		daxo_oid *w = oidv[i];
		if (!w)
			return daxo__err(
			    -EINVAL, "%s: daxo_heap_defrag: place %zu is NULL",
			    p->path, i);
		uint64_t off = UINT64_MAX, holder;
		const char *a = (const char *)w;
		if (a >= p->base && a < p->base + p->size) {
			off = pool_off(p, a);
			if (off % 8 || heap_containing(p, off, 8, &holder) != 0)
				return daxo__err(
				    -EINVAL,
				    "%s: offset %llu: daxo_heap_defrag: "
				    "place %zu is in the pool but "
				    "not an aligned word of a live "
				    "object",
				    p->path, (unsigned long long)off, i);
		}
		if (!*w)
			continue;
		struct dplace *x = &d->pl[d->npl++];
		x->where = w;
		x->oid = *w;
		x->off = off;
	}
	qsort(d->pl, d->npl, sizeof(*d->pl), by_oid);
	for (size_t i = 0; i < d->npl; i++) {
		if (i == 0 || d->pl[i].oid != d->pl[i - 1].oid) {
			struct dobj *o = &d->o[d->no++];
			o->oid = d->pl[i].oid;
			o->first = i;
			if (heap_usage(p, o->oid, &o->u) != 0)
				return daxo__err(
				    -EINVAL,
				    "%s: offset %llu: daxo_heap_defrag: "
				    "not a live object",
				    p->path, (unsigned long long)o->oid);
			/* daxo_root finds the root through the pool meta, the
			 * keyed store its objects through its own links */
			o->pinned = o->oid == p->meta->root_oid ||
				    o->u.type >= DAXO_TYPE_LIB;
		}
		d->pl[i].obj = d->no - 1;
		d->o[d->no - 1].nplaces++;
	}
	return 0;
}

static int by_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct runinfo {
	uint64_t chunk;
	uint32_t cls, used, named;
};

static int by_class_used(const void *a, const void *b)
{
	const struct runinfo *x = a, *y = b;

	if (x->cls != y->cls)
		return x->cls < y->cls ? -1 : 1;
	return x->used < y->used ? -1 : x->used > y->used;
}

/*
 * plan_runs -- drain the sparsest runs of each class whose every live
 * object is named, as many as the class has runs to spare: its live
 * objects fit in fewer runs than it has
 */
static int plan_runs(struct defrag *d)
{
	/* each call's own (10 KiB: on the heap, not the stack) */
	struct daxo_heap_info *hip = malloc(sizeof(*hip));
	struct runinfo *ri = calloc(d->no ? d->no : 1, sizeof(*ri));
	size_t nr = 0;
	int ret;

	if (!ri || !hip) {
		free(ri);
		free(hip);
		return daxo__err(-ENOMEM, "%s: daxo_heap_defrag: out of memory",
				 d->p->path);
	}
	ret = daxo_heap_info(d->p, hip);
	if (ret) {
		free(ri);
		free(hip);
		return ret;
	}
	/* the named objects' runs (objects are in address order: a run's
	 * are next to each other) */
	for (size_t i = 0; i < d->no; i++) {
		const struct heap_usage *u = &d->o[i].u;
		size_t k = nr - 1;
		if (u->large)
			continue;
		if (!nr || ri[k].chunk != u->chunk) {
			k = nr;
			ri[nr++] =
			    (struct runinfo){u->chunk, u->cls, u->used, 0};
		}
		/* a pinned object keeps its run from emptying */
		if (!d->o[i].pinned)
			ri[k].named++;
	}
	qsort(ri, nr, sizeof(*ri), by_class_used);
	d->drained = calloc(nr ? nr : 1, sizeof(*d->drained));
	if (!d->drained) {
		free(ri);
		free(hip);
		return daxo__err(-ENOMEM, "%s: daxo_heap_defrag: out of memory",
				 d->p->path);
	}
	for (size_t k = 0; k < nr;) {
		const struct daxo_heap_class *c = &hip->cls[ri[k].cls];
		uint64_t per = c->runs ? c->slots / c->runs : 0;
		uint64_t need = per ? (c->used + per - 1) / per : c->runs;
		uint64_t spare = c->runs > need ? c->runs - need : 0;
		uint32_t cls = ri[k].cls;
		for (; k < nr && ri[k].cls == cls; k++) {
			if (!spare || ri[k].named < ri[k].used ||
			    ri[k].used >= per)
				continue;
			heap_drain(d->p, ri[k].chunk, true);
			d->drained[d->ndrained++] = ri[k].chunk;
			spare--;
		}
	}
	qsort(d->drained, d->ndrained, sizeof(*d->drained), by_u64);
	for (size_t i = 0; i < d->no; i++)
		d->o[i].move =
		    !d->o[i].u.large && !d->o[i].pinned &&
		    bsearch(&d->o[i].u.chunk, d->drained, d->ndrained,
			    sizeof(*d->drained), by_u64) != NULL;
	free(ri);
	free(hip);
	return 0;
}

/*
 * fill_of -- the new contents of @o as pieces: its old bytes, with the
 * places that lie inside it holding the new oids of the objects they name
 * (moved in this batch or before). @pc has room for 2 x @inside + 1
 * pieces, @vals and @offs for @inside words.
 */
static unsigned fill_of(struct defrag *d, const struct dobj *o,
			struct tx_piece *pc, uint64_t *vals, uint64_t *offs)
{
	const char *src = pool_ptr(d->p, o->oid);
	uint64_t at = 0;
	size_t k = 0;
	unsigned n = 0;

	for (size_t i = 0; i < d->npl; i++) {
		const struct dplace *x = &d->pl[i];
		if (x->off == UINT64_MAX || x->off < o->oid ||
		    x->off - o->oid >= o->u.usable || !d->o[x->obj].noid)
			continue;
		offs[k] = x->off - o->oid;
		vals[k++] = d->o[x->obj].noid;
	}
	/* in address order (few: insertion sort) */
	for (size_t i = 1; i < k; i++)
		for (size_t j = i; j > 0 && offs[j - 1] > offs[j]; j--) {
			uint64_t t = offs[j - 1];
			offs[j - 1] = offs[j];
			offs[j] = t;
			t = vals[j - 1];
			vals[j - 1] = vals[j];
			vals[j] = t;
		}
	for (size_t i = 0; i < k; i++) {
		if (i > 0 && offs[i] == offs[i - 1])
			continue; /* the same place named twice */
		if (offs[i] > at)
			pc[n++] = (struct tx_piece){src + at, offs[i] - at};
		pc[n++] = (struct tx_piece){&vals[i], 8};
		at = offs[i] + 8;
	}
	if (at < o->u.usable)
		pc[n++] = (struct tx_piece){src + at, o->u.usable - at};
	return n;
}

/*
 * batch -- move objects [from, to) of the plan (those with move set) in one
 * transaction; *@moved counts them. The new oids are set only once the
 * transaction commits.
 */
static int batch(struct defrag *d, size_t *idx, size_t nidx, uint64_t *moved,
		 uint64_t *bytes)
{
	daxo_pool *p = d->p;
	daxo_tx *tx;
	uint64_t noid[DEFRAG_BATCH];
	int ret = daxo_tx_begin(p, &tx);

	if (ret)
		return ret;
	/* first the new objects: a place inside one names another of this
	 * batch by its new oid */
	for (size_t k = 0; k < nidx; k++) {
		struct dobj *o = &d->o[idx[k]];
		ret = tx_alloc_raw(tx, o->u.usable, o->u.type, &noid[k]);
		if (ret)
			goto fail;
		o->noid = noid[k];
	}
	for (size_t k = 0; k < nidx; k++) {
		struct dobj *o = &d->o[idx[k]];
		size_t inside = 0;
		for (size_t i = 0; i < d->npl; i++)
			if (d->pl[i].off != UINT64_MAX &&
			    d->pl[i].off >= o->oid &&
			    d->pl[i].off - o->oid < o->u.usable)
				inside++;
		struct tx_piece *pc = malloc((2 * inside + 1) * sizeof(*pc));
		uint64_t *vals = malloc((2 * inside + 1) * sizeof(*vals));
		if (!pc || !vals) {
			free(pc);
			free(vals);
			ret = daxo__err(-ENOMEM,
					"%s: daxo_heap_defrag: out of memory",
					p->path);
			goto fail;
		}
		unsigned n = fill_of(d, o, pc, vals, vals + inside);
		ret = daxo_tx_free(tx, o->oid);
		if (!ret)
			ret = tx_fill(tx, o->noid, pc, n);
		free(pc);
		free(vals);
		if (ret)
			goto fail;
	}
	/* the places in the pool outside the objects of this batch */
	for (size_t k = 0; k < nidx; k++) {
		struct dobj *o = &d->o[idx[k]];
		for (size_t i = o->first; i < o->first + o->nplaces; i++) {
			struct dplace *x = &d->pl[i];
			if (x->off == UINT64_MAX)
				continue;
			struct dobj *h = obj_of(d, x->off);
			uint64_t at = x->off;
			if (h && h->noid) {
				bool this_batch = false;
				for (size_t j = 0; j < nidx; j++)
					this_batch |=
					    idx[j] == (size_t)(h - d->o);
				if (this_batch)
					continue; /* written by fill_of */
				at = h->noid + (x->off - h->oid);
			}
#ifndef DAXO_PLANT_DEFRAG_PLACES_LATE
			ret = daxo_tx_write(tx, pool_ptr(p, at), &o->noid, 8);
			if (ret)
				goto fail;
#else
			/* planted bug: the place written after the commit */
			x->off = at;
#endif
		}
	}
	ret = daxo_tx_commit(tx);
	if (ret)
		goto undo;
#ifdef DAXO_PLANT_DEFRAG_PLACES_LATE
	for (size_t k = 0; k < nidx; k++) {
		struct dobj *o = &d->o[idx[k]];
		for (size_t i = o->first; i < o->first + o->nplaces; i++) {
			struct dplace *x = &d->pl[i];
			struct dobj *h;
			if (x->off == UINT64_MAX ||
			    ((h = obj_of(d, x->off)) && h->noid))
				continue;
			uint64_t *w = pool_ptr(p, x->off);
			*w = o->noid;
			persist_flush(&p->ps, w, 8);
		}
	}
#endif
	for (size_t k = 0; k < nidx; k++) {
		struct dobj *o = &d->o[idx[k]];
		for (size_t i = o->first; i < o->first + o->nplaces; i++)
			if (d->pl[i].off == UINT64_MAX)
				*d->pl[i].where = o->noid;
		(*moved)++;
		*bytes += o->u.usable;
	}
	return 0;
fail:
	daxo_tx_abort(tx);
undo:
	for (size_t k = 0; k < nidx; k++)
		d->o[idx[k]].noid = 0;
	return ret;
}

static void defrag_free(struct defrag *d)
{
	for (size_t k = 0; k < d->ndrained; k++)
		heap_drain(d->p, d->drained[k], false);
	free(d->drained);
	free(d->o);
	free(d->pl);
}

DAXO_EXPORT int daxo_heap_defrag(daxo_pool *p, daxo_oid *const *oidv, size_t n,
				 struct daxo_defrag_result *res)
{
	struct defrag d = {.p = p};
	struct daxo_defrag_result r = {0};
	size_t idx[DEFRAG_BATCH], nidx = 0;
	uint64_t retired0;
	int ret;

	daxo__err_clear();
	if (res)
		memset(res, 0, sizeof(*res));
	if (!p || (!oidv && n))
		return daxo__err(-EINVAL, "daxo_heap_defrag: NULL argument");
	ret = pool_writable(p, "daxo_heap_defrag");
	if (ret)
		return ret;
	/* each batch must commit on its own: volatile places follow it */
	if (daxo_tx_current(p))
		return daxo__err(-EBUSY,
				 "%s: daxo_heap_defrag: the thread has a "
				 "transaction open on the pool",
				 p->path);
	retired0 = heap_retired(p);
	ret = collect(&d, oidv, n);
	if (!ret)
		ret = plan_runs(&d);
	r.total = d.no;
	/* runs first (their chunks come back), then large objects from the
	 * top of the heap down */
	for (size_t i = 0; !ret && i < d.no; i++) {
		if (!d.o[i].move)
			continue;
		idx[nidx++] = i;
		if (nidx == DEFRAG_BATCH) {
			ret =
			    batch(&d, idx, nidx, &r.relocated, &r.bytes_moved);
			nidx = 0;
		}
	}
	if (!ret && nidx)
		ret = batch(&d, idx, nidx, &r.relocated, &r.bytes_moved);
	nidx = 0;
	for (size_t i = d.no; !ret && i-- > 0;) {
		struct dobj *o = &d.o[i];
		if (!o->u.large || o->pinned ||
		    !heap_fit_below(p, o->u.span, o->u.chunk))
			continue;
		/* one at a time: each move changes where the next fits */
		idx[0] = i;
		ret = batch(&d, idx, 1, &r.relocated, &r.bytes_moved);
	}
	defrag_free(&d);
	r.runs_freed = heap_retired(p) - retired0;
	if (res)
		*res = r;
	return ret;
}

/* collect_entries -- every entry of the keyed store, as objects to plan */
static int collect_entries(struct defrag *d)
{
	daxo_pool *p = d->p;
	size_t cap = 0;

	for (daxo_oid o = daxo_first(p, KV_TYPE_ENTRY); o;
	     o = daxo_next(p, o, KV_TYPE_ENTRY)) {
		if (d->no == cap) {
			size_t n = cap ? 2 * cap : 1024;
			struct dobj *x = realloc(d->o, n * sizeof(*x));
			if (!x)
				return daxo__err(-ENOMEM,
						 "%s: daxo_kv_compact: out of "
						 "memory",
						 p->path);
			d->o = x;
			cap = n;
		}
		struct dobj *x = &d->o[d->no];
		memset(x, 0, sizeof(*x));
		x->oid = o;
		if (heap_usage(p, o, &x->u) == 0)
			d->no++;
	}
	return 0;
}

DAXO_EXPORT int daxo_kv_compact(daxo_pool *p, struct daxo_defrag_result *res)
{
	struct defrag d = {.p = p};
	struct daxo_defrag_result r = {0};
	uint64_t retired0;
	int ret;

	daxo__err_clear();
	if (res)
		memset(res, 0, sizeof(*res));
	if (!p)
		return daxo__err(-EINVAL, "daxo_kv_compact: NULL argument");
	ret = pool_writable(p, "daxo_kv_compact");
	if (ret)
		return ret;
	/* each move is a put: a transaction of its own (daxo_put) */
	if (daxo_tx_current(p))
		return daxo__err(-EBUSY,
				 "%s: daxo_kv_compact: the thread has a "
				 "transaction open on the pool",
				 p->path);
	retired0 = heap_retired(p);
	ret = collect_entries(&d);
	if (!ret)
		ret = plan_runs(&d);
	r.total = d.no;
	for (size_t i = 0; !ret && i < d.no; i++) {
		if (!d.o[i].move)
			continue;
		ret = kv_relocate(p, d.o[i].oid);
		if (ret == 1) {
			r.relocated++;
			r.bytes_moved += d.o[i].u.usable;
			ret = 0;
		}
	}
	defrag_free(&d);
	r.runs_freed = heap_retired(p) - retired0;
	if (res)
		*res = r;
	return ret;
}
