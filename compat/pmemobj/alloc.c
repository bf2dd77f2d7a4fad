/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * alloc.c -- atomic allocation, type numbers and walks for the
 * libpmemobj compatibility layer.
 *
 * An atomic allocation is one detached daxo transaction (DAXO_TX_DETACHED:
 * apart from any transaction the thread has open, as libpmemobj's atomic
 * calls are): daxo_tx_xalloc (the new object exists only if it commits),
 * the constructor run on it, and the new handle written into *oidp with
 * daxo_tx_write when oidp lies in the pool -- both words of the PMEMoid in
 * the same redo record as the heap change, which also carries the new
 * object's contents: one fence. While the constructor runs, a
 * pmemobj_persist of the new object is no operation (cx_building): the
 * commit makes it durable anyway. A constructor that refuses aborts the
 * transaction: nothing is left behind. A free is daxo_free on the handle's
 * offset word (atomic with the heap change); the UUID word is cleared
 * after it with a plain store, which a crash may lose: the handle is null
 * either way (off is 0).
 */
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include "pmemobj_int.h"

int cx_alloc_type(PMEMobjpool *pop, uint64_t type_num, uint64_t flags,
		  size_t *size, uint32_t *dtype)
{
	unsigned id = (unsigned)((flags & POBJ_XALLOC_CLASS_MASK) >> 48);

	if (type_num >= CT_USER_LIMIT)
		return cx_err(EINVAL,
			      "type number %llu: daxo keeps type numbers from "
			      "%u up for itself",
			      (unsigned long long)type_num, CT_USER_LIMIT);
	*dtype = (uint32_t)type_num;
	if (!id)
		return 0;
	if (id > CT_CLASS_MAX || !pop->classes[id].unit)
		return cx_err(EINVAL, "allocation class %u is not registered",
			      id);
	const struct cx_class *c = &pop->classes[id];
	if (c->header == POBJ_HEADER_NONE) {
		if (*size > c->unit)
			return cx_err(EINVAL,
				      "allocation class %u has no header: one "
				      "unit (%llu bytes) at most, %zu asked",
				      id, (unsigned long long)c->unit, *size);
		*size = c->unit;
		*dtype = CT_CLASS_BASE + id;
	} else {
		*size = (*size + c->unit - 1) / c->unit * c->unit;
	}
	return 0;
}

uint64_t cx_user_type(uint32_t t)
{
	if (t >= CT_CLASS_BASE && t <= CT_CLASS_BASE + CT_CLASS_MAX)
		return 0; /* no header, no type number */
	if (t == DAXO_TYPE_ROOT)
		return POBJ_ROOT_TYPE_NUM;
	if (t == UINT32_MAX)
		return UINT64_MAX; /* not a live object */
	return t;
}

bool cx_hidden(PMEMobjpool *pop, uint64_t off, uint32_t t)
{
	return t == DAXO_TYPE_ROOT || t == CT_RESV || t == UINT32_MAX ||
	       cx_resv_active(pop, off);
}

/* alloc_common -- see the top of the file */
static int alloc_common(const char *fn, PMEMobjpool *pop, PMEMoid *oidp,
			size_t size, uint64_t type_num, uint64_t flags,
			pmemobj_constr constr, void *arg)
{
	daxo_tx *tx;
	daxo_oid off;
	uint32_t dtype = 0;
	int ret;

	if (!pop)
		return cx_err(EINVAL, "%s: NULL pool", fn);
	if (size == 0)
		return cx_err(EINVAL, "%s: size 0", fn);
	if (size > PMEMOBJ_MAX_ALLOC_SIZE)
		return cx_err(ENOMEM, "%s: %zu bytes is too large", fn, size);
	if (flags & ~(POBJ_XALLOC_VALID_FLAGS | POBJ_XALLOC_ARENA_MASK))
		return cx_err(EINVAL, "%s: unknown flags 0x%llx", fn,
			      (unsigned long long)flags);
	if (cx_alloc_type(pop, type_num, flags, &size, &dtype))
		return -1;
	ret = daxo_tx_begin_flags(pop->dp, DAXO_TX_DETACHED, &tx);
	if (ret)
		return cx_daxo(ret, fn);
	ret = daxo_tx_xalloc(tx, size, dtype,
			     flags & POBJ_XALLOC_ZERO ? DAXO_ALLOC_ZERO : 0, &off);
	if (ret) {
		daxo_tx_abort(tx);
		cx_err(cx_alloc_errno(ret), "%s: %s", fn, daxo_errormsg());
		return -1;
	}
	if (constr && cx_construct(pop, constr, off, size, arg) != 0) {
		daxo_tx_abort(tx);
		return cx_err(ECANCELED, "%s: the constructor refused", fn);
	}
	PMEMoid n = cx_oid(pop, off);
	bool durable = oidp && cx_in_pool(pop, oidp, sizeof(*oidp));
	if (durable) {
		ret = daxo_tx_write(tx, oidp, &n, sizeof(n));
		if (ret) {
			daxo_tx_abort(tx);
			return cx_daxo(ret, fn);
		}
	}
	ret = daxo_tx_commit(tx);
	if (ret) {
		cx_err(cx_alloc_errno(ret), "%s: %s", fn, daxo_errormsg());
		return -1;
	}
	if (oidp && !durable)
		*oidp = n;
	return 0;
}

CX_EXPORT int pmemobj_alloc(PMEMobjpool *pop, PMEMoid *oidp, size_t size,
			    uint64_t type_num, pmemobj_constr constructor,
			    void *arg)
{
	return alloc_common("pmemobj_alloc", pop, oidp, size, type_num, 0,
			    constructor, arg);
}

CX_EXPORT int pmemobj_xalloc(PMEMobjpool *pop, PMEMoid *oidp, size_t size,
			     uint64_t type_num, uint64_t flags,
			     pmemobj_constr constructor, void *arg)
{
	return alloc_common("pmemobj_xalloc", pop, oidp, size, type_num, flags,
			    constructor, arg);
}

CX_EXPORT int pmemobj_zalloc(PMEMobjpool *pop, PMEMoid *oidp, size_t size,
			     uint64_t type_num)
{
	/* daxo_tx_alloc's objects are zeroed */
	return alloc_common("pmemobj_zalloc", pop, oidp, size, type_num,
			    POBJ_XALLOC_ZERO, NULL, NULL);
}

struct dup_arg {
	const void *src;
	size_t len;
};

static int dup_constr(PMEMobjpool *pop, void *ptr, void *arg)
{
	const struct dup_arg *d = arg;

	(void)pop;
	memcpy(ptr, d->src, d->len);
	return 0;
}

CX_EXPORT int pmemobj_strdup(PMEMobjpool *pop, PMEMoid *oidp, const char *s,
			     uint64_t type_num)
{
	if (!s)
		return cx_err(EINVAL, "pmemobj_strdup: NULL string");
	struct dup_arg d = {s, strlen(s) + 1};
	return alloc_common("pmemobj_strdup", pop, oidp, d.len, type_num, 0,
			    dup_constr, &d);
}

CX_EXPORT int pmemobj_wcsdup(PMEMobjpool *pop, PMEMoid *oidp,
			     const wchar_t *s, uint64_t type_num)
{
	if (!s)
		return cx_err(EINVAL, "pmemobj_wcsdup: NULL string");
	struct dup_arg d = {s, (wcslen(s) + 1) * sizeof(wchar_t)};
	return alloc_common("pmemobj_wcsdup", pop, oidp, d.len, type_num, 0,
			    dup_constr, &d);
}

CX_EXPORT void pmemobj_free(PMEMoid *oidp)
{
	PMEMobjpool *pop;
	int ret;

	if (!oidp || OID_IS_NULL(*oidp))
		return;
	pop = cx_pool_of_uuid(oidp->pool_uuid_lo);
	if (!pop) {
		cx_err(EINVAL, "pmemobj_free: the handle's pool is not open");
		return;
	}
	/*
	 * a reservation's slot names it until it is published (also one
	 * published in a transaction not yet committed, whose abort frees
	 * it): freed here, the next open or that abort would free whatever
	 * then lives at that offset
	 */
	if (cx_resv_active(pop, oidp->off)) {
		cx_err(EINVAL, "pmemobj_free: the object is a reservation not "
			       "published: cancel it (pmemobj_cancel)");
		return;
	}
	ret = daxo_free(pop->dp, &oidp->off);
	if (ret) {
		cx_daxo(ret, "pmemobj_free");
		return;
	}
	oidp->pool_uuid_lo = 0;
}

/*
 * realloc_common -- move *oidp to an object of @size, atomically: a
 * detached transaction whose daxo_tx_realloc gives the new object (or
 * keeps the old one where it fits) and whose record also carries *oidp
 */
static int realloc_common(const char *fn, PMEMobjpool *pop, PMEMoid *oidp,
			  size_t size, uint64_t type_num, bool zero)
{
	daxo_tx *tx;
	daxo_oid n;
	uint32_t dtype = 0;
	int ret;

	if (!pop || !oidp)
		return cx_err(EINVAL, "%s: NULL argument", fn);
	if (OID_IS_NULL(*oidp))
		return alloc_common(fn, pop, oidp, size, type_num,
				    zero ? POBJ_XALLOC_ZERO : 0, NULL, NULL);
	if (oidp->pool_uuid_lo != pop->uuid_lo)
		return cx_err(EINVAL, "%s: the object is not in this pool", fn);
	if (cx_resv_active(pop, oidp->off))
		return cx_err(EINVAL, "%s: the object is a reservation not "
				      "published",
			      fn);
	if (size == 0) {
		pmemobj_free(oidp);
		return OID_IS_NULL(*oidp) ? 0 : -1;
	}
	if (cx_alloc_type(pop, type_num, 0, &size, &dtype))
		return -1;
	ret = daxo_tx_begin_flags(pop->dp, DAXO_TX_DETACHED, &tx);
	if (ret)
		return cx_daxo(ret, fn);
	ret = daxo_tx_realloc(tx, oidp->off, size, dtype,
			      zero ? DAXO_ALLOC_ZERO : 0, &n);
	PMEMoid no = cx_oid(pop, n);
	bool durable = cx_in_pool(pop, oidp, sizeof(*oidp));
	if (!ret && durable && n != oidp->off)
		ret = daxo_tx_write(tx, oidp, &no, sizeof(no));
	if (ret) {
		daxo_tx_abort(tx);
		cx_err(cx_alloc_errno(ret), "%s: %s", fn, daxo_errormsg());
		return -1;
	}
	ret = daxo_tx_commit(tx);
	if (ret) {
		cx_err(cx_alloc_errno(ret), "%s: %s", fn, daxo_errormsg());
		return -1;
	}
	if (!durable)
		*oidp = no;
	return 0;
}

CX_EXPORT int pmemobj_realloc(PMEMobjpool *pop, PMEMoid *oidp, size_t size,
			      uint64_t type_num)
{
	return realloc_common("pmemobj_realloc", pop, oidp, size, type_num,
			      false);
}

CX_EXPORT int pmemobj_zrealloc(PMEMobjpool *pop, PMEMoid *oidp, size_t size,
			       uint64_t type_num)
{
	return realloc_common("pmemobj_zrealloc", pop, oidp, size, type_num,
			      true);
}

CX_EXPORT size_t pmemobj_alloc_usable_size(PMEMoid oid)
{
	PMEMobjpool *pop;

	if (OID_IS_NULL(oid) || !(pop = cx_pool_of_uuid(oid.pool_uuid_lo)))
		return 0;
	uint32_t t = daxo_oid_type(pop->dp, oid.off);
	if (t > CT_CLASS_BASE && t <= CT_CLASS_BASE + CT_CLASS_MAX &&
	    pop->classes[t - CT_CLASS_BASE].unit)
		return pop->classes[t - CT_CLASS_BASE].unit;
	return daxo_usable_size(pop->dp, oid.off);
}

CX_EXPORT uint64_t pmemobj_type_num(PMEMoid oid)
{
	PMEMobjpool *pop;

	if (OID_IS_NULL(oid) || !(pop = cx_pool_of_uuid(oid.pool_uuid_lo)))
		return UINT64_MAX;
	return cx_user_type(daxo_oid_type(pop->dp, oid.off));
}

/*
 * pmemobj_defrag -- daxo_heap_defrag: each PMEMoid named is a place whose
 * off word daxo rewrites when it moves the object (the pool UUID stays).
 * daxo moves an object only if every place holding its oid is named and
 * every live object of its run is too; it never moves the root.
 */
CX_EXPORT int pmemobj_defrag(PMEMobjpool *pop, PMEMoid **oidv, size_t oidcnt,
			     struct pobj_defrag_result *result)
{
	struct daxo_defrag_result r;
	daxo_oid **places;
	int ret;

	memset(&r, 0, sizeof(r));
	if (result)
		result->total = result->relocated = 0;
	if (!pop || (!oidv && oidcnt))
		return cx_err(EINVAL, "pmemobj_defrag: NULL pool or array");
	if (oidcnt > SIZE_MAX / sizeof(*places))
		return cx_err(ENOMEM, "pmemobj_defrag: %zu places", oidcnt);
	places = malloc((oidcnt ? oidcnt : 1) * sizeof(*places));
	if (!places)
		return cx_err(ENOMEM, "pmemobj_defrag: out of memory");
	for (size_t i = 0; i < oidcnt; i++) {
		if (!oidv[i] || (!OID_IS_NULL(*oidv[i]) &&
				 oidv[i]->pool_uuid_lo != pop->uuid_lo)) {
			free(places);
			return cx_err(EINVAL,
				      "pmemobj_defrag: oidv[%zu] is NULL or "
				      "names an object of another pool",
				      i);
		}
		places[i] = &oidv[i]->off;
	}
	ret = daxo_heap_defrag(pop->dp, places, oidcnt, &r);
	free(places);
	if (result) {
		result->total = (size_t)r.total;
		result->relocated = (size_t)r.relocated;
	}
	return ret ? cx_daxo(ret, "pmemobj_defrag") : 0;
}

/* ---- walks ---- */

/* visible -- @off, or the next object after it that a walk shows */
static uint64_t visible(PMEMobjpool *pop, uint64_t off)
{
	while (off && cx_hidden(pop, off, daxo_oid_type(pop->dp, off)))
		off = daxo_next(pop->dp, off, DAXO_TYPE_ANY);
	return off;
}

CX_EXPORT PMEMoid pmemobj_first(PMEMobjpool *pop)
{
	if (!pop)
		return OID_NULL;
	return cx_oid(pop, visible(pop, daxo_first(pop->dp, DAXO_TYPE_ANY)));
}

CX_EXPORT PMEMoid pmemobj_next(PMEMoid oid)
{
	PMEMobjpool *pop;

	if (OID_IS_NULL(oid) || !(pop = cx_pool_of_uuid(oid.pool_uuid_lo)))
		return OID_NULL;
	return cx_oid(pop,
		      visible(pop, daxo_next(pop->dp, oid.off, DAXO_TYPE_ANY)));
}

/*
 * typed -- @off or the next object of @t after it. Type 0 gathers the
 * headerless class objects too, so it walks every object; other types
 * let daxo filter.
 */
static uint64_t typed(PMEMobjpool *pop, uint64_t off, uint64_t t)
{
	while (off) {
		uint32_t dt = daxo_oid_type(pop->dp, off);
		if (!cx_hidden(pop, off, dt) && cx_user_type(dt) == t)
			return off;
		off = daxo_next(pop->dp, off,
				t ? (uint32_t)t : DAXO_TYPE_ANY);
	}
	return 0;
}

CX_EXPORT PMEMoid daxo_pmemobj_first_type(PMEMobjpool *pop, uint64_t type_num)
{
	if (!pop || type_num >= CT_USER_LIMIT)
		return OID_NULL;
	uint32_t f = type_num ? (uint32_t)type_num : DAXO_TYPE_ANY;
	return cx_oid(pop, typed(pop, daxo_first(pop->dp, f), type_num));
}

CX_EXPORT PMEMoid daxo_pmemobj_next_type(PMEMoid oid)
{
	PMEMobjpool *pop;

	if (OID_IS_NULL(oid) || !(pop = cx_pool_of_uuid(oid.pool_uuid_lo)))
		return OID_NULL;
	uint64_t t = cx_user_type(daxo_oid_type(pop->dp, oid.off));
	if (t >= CT_USER_LIMIT)
		return OID_NULL;
	uint32_t f = t ? (uint32_t)t : DAXO_TYPE_ANY;
	return cx_oid(pop, typed(pop, daxo_next(pop->dp, oid.off, f), t));
}
