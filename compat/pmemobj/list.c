/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * list.c -- the atomic lists (pmemobj_list_*, POBJ_LIST_*) of the
 * libpmemobj compatibility layer.
 *
 * A list head is {first handle, PMEMmutex}; an element's entry, at
 * pe_offset in the object, is {next, prev}; the list is circular. Each
 * call takes the heads' locks (in address order) and is one detached daxo
 * transaction whose links are daxo_tx_write calls: a redo record with
 * every handle changed (and the allocation or the free), one fence.
 * Staged writes are invisible until commit, so the new links are worked
 * out first in a small overlay -- a move reads the list as the removal
 * left it -- and written out at the end.
 */
#include <string.h>
#include "pmemobj_int.h"

struct entry {
	PMEMoid next, prev;
};

struct head {
	PMEMoid first;
	PMEMmutex lock;
};

#define OVERLAY_MAX 12

/* the handles a call changes, with their new values */
struct overlay {
	PMEMobjpool *pop;
	size_t n;
	PMEMoid *addr[OVERLAY_MAX];
	PMEMoid val[OVERLAY_MAX];
};

static PMEMoid get(const struct overlay *o, PMEMoid *addr)
{
	for (size_t i = 0; i < o->n; i++)
		if (o->addr[i] == addr)
			return o->val[i];
	return *addr;
}

static void set(struct overlay *o, PMEMoid *addr, uint64_t off)
{
	PMEMoid v = cx_oid(o->pop, off);
	size_t i;

	for (i = 0; i < o->n && o->addr[i] != addr; i++)
		;
	/* a call changes at most 8 handles: the overlay never fills */
	if (i == o->n)
		o->n++;
	o->addr[i] = addr;
	o->val[i] = v;
}

static struct entry *ent(PMEMobjpool *pop, uint64_t off, size_t pe_off)
{
	return (struct entry *)(pop->base + off + pe_off);
}

/* unlink -- take @e out of the list at @h (entries at @pe) */
static void unlink_el(struct overlay *o, struct head *h, size_t pe,
		      uint64_t e)
{
	PMEMobjpool *pop = o->pop;
	struct entry *x = ent(pop, e, pe);
	uint64_t next = get(o, &x->next).off;
	uint64_t prev = get(o, &x->prev).off;

	if (next == e) {
		set(o, &h->first, 0); /* the only element */
		return;
	}
	set(o, &ent(pop, prev, pe)->next, next);
	set(o, &ent(pop, next, pe)->prev, prev);
	if (get(o, &h->first).off == e)
		set(o, &h->first, next);
}

/* link -- put @e into the list at @h, before/after @dest (0: head/tail) */
static void link_el(struct overlay *o, struct head *h, size_t pe,
		    uint64_t dest, int before, uint64_t e)
{
	PMEMobjpool *pop = o->pop;
	struct entry *x = ent(pop, e, pe);
	uint64_t first = get(o, &h->first).off;
	uint64_t next, prev;

	if (!first) {
		set(o, &x->next, e);
		set(o, &x->prev, e);
		set(o, &h->first, e);
		return;
	}
	if (!dest) {
		/* at the head or the tail: between the last and the first */
		next = first;
		prev = get(o, &ent(pop, first, pe)->prev).off;
		if (before)
			set(o, &h->first, e);
	} else if (before) {
		next = dest;
		prev = get(o, &ent(pop, dest, pe)->prev).off;
		if (dest == first)
			set(o, &h->first, e);
	} else {
		prev = dest;
		next = get(o, &ent(pop, dest, pe)->next).off;
	}
	set(o, &x->next, next);
	set(o, &x->prev, prev);
	set(o, &ent(pop, prev, pe)->next, e);
	set(o, &ent(pop, next, pe)->prev, e);
}

/* element_ok -- is @oid an object of @pop with room for an entry at @pe? */
static int element_ok(PMEMobjpool *pop, PMEMoid oid, size_t pe,
		      const char *fn)
{
	if (OID_IS_NULL(oid) || oid.pool_uuid_lo != pop->uuid_lo)
		return cx_err(EINVAL, "%s: the element is null or in another "
				      "pool",
			      fn);
	uint64_t u = daxo_usable_size(pop->dp, oid.off);
	if (u < sizeof(struct entry) || pe > u - sizeof(struct entry))
		return cx_err(EINVAL,
			      "%s: offset %llu is not an object with a list "
			      "entry at %zu",
			      fn, (unsigned long long)oid.off, pe);
	return 0;
}

static int head_ok(PMEMobjpool *pop, void *head, const char *fn)
{
	if (!head || !cx_in_pool(pop, head, sizeof(struct head)))
		return cx_err(EINVAL, "%s: the list head is not in the pool",
			      fn);
	return 0;
}

static void lock2(PMEMobjpool *pop, struct head *a, struct head *b)
{
	if (b && b != a && b < a) {
		struct head *t = a;
		a = b;
		b = t;
	}
	pmemobj_mutex_lock(pop, &a->lock);
	if (b && b != a)
		pmemobj_mutex_lock(pop, &b->lock);
}

static void unlock2(PMEMobjpool *pop, struct head *a, struct head *b)
{
	if (b && b != a)
		pmemobj_mutex_unlock(pop, &b->lock);
	pmemobj_mutex_unlock(pop, &a->lock);
}

/* commit -- write the overlay in @tx and commit it; 0 or -1 and errno */
static int commit(struct overlay *o, daxo_tx *tx, const char *fn)
{
	int ret = 0;

	for (size_t i = 0; i < o->n && !ret; i++)
		ret = daxo_tx_write(tx, o->addr[i], &o->val[i],
				    sizeof(PMEMoid));
	if (ret) {
		daxo_tx_abort(tx);
		return cx_daxo(ret, fn);
	}
	ret = daxo_tx_commit(tx);
	return ret ? cx_daxo(ret, fn) : 0;
}

/* begin -- a detached transaction: a list call is not part of any
 * transaction the thread has open, as in libpmemobj */
static int begin(PMEMobjpool *pop, daxo_tx **tx, const char *fn)
{
	int ret = daxo_tx_begin_flags(pop->dp, DAXO_TX_DETACHED, tx);

	return ret ? cx_daxo(ret, fn) : 0;
}

CX_EXPORT int pmemobj_list_insert(PMEMobjpool *pop, size_t pe_offset,
				  void *head, PMEMoid dest, int before,
				  PMEMoid oid)
{
	static const char fn[] = "pmemobj_list_insert";
	struct overlay o = {.pop = pop};
	daxo_tx *tx;
	int ret;

	if (!pop)
		return cx_err(EINVAL, "%s: NULL pool", fn);
	if (head_ok(pop, head, fn) || element_ok(pop, oid, pe_offset, fn) ||
	    (!OID_IS_NULL(dest) && element_ok(pop, dest, pe_offset, fn)))
		return -1;
	lock2(pop, head, NULL);
	ret = begin(pop, &tx, fn);
	if (ret == 0) {
		link_el(&o, head, pe_offset, dest.off, before, oid.off);
		ret = commit(&o, tx, fn);
	}
	unlock2(pop, head, NULL);
	return ret;
}

CX_EXPORT PMEMoid pmemobj_list_insert_new(PMEMobjpool *pop, size_t pe_offset,
					  void *head, PMEMoid dest, int before,
					  size_t size, uint64_t type_num,
					  pmemobj_constr constructor, void *arg)
{
	static const char fn[] = "pmemobj_list_insert_new";
	struct overlay o = {.pop = pop};
	daxo_tx *tx;
	daxo_oid off = 0;
	uint32_t dtype = 0;
	int ret;

	if (!pop || size < pe_offset + sizeof(struct entry)) {
		cx_err(EINVAL, "%s: NULL pool, or %zu bytes leave no room for "
			       "the entry at %zu",
		       fn, size, pe_offset);
		return OID_NULL;
	}
	if (head_ok(pop, head, fn) ||
	    (!OID_IS_NULL(dest) && element_ok(pop, dest, pe_offset, fn)) ||
	    cx_alloc_type(pop, type_num, 0, &size, &dtype))
		return OID_NULL;
	lock2(pop, head, NULL);
	ret = begin(pop, &tx, fn);
	if (ret == 0) {
		ret = daxo_tx_alloc(tx, size, dtype, &off);
		if (ret) {
			daxo_tx_abort(tx);
			ret = cx_err(cx_alloc_errno(ret), "%s: %s", fn,
				     daxo_errormsg());
		} else if (constructor && cx_construct(pop, constructor, off, size,
						       arg) != 0) {
			daxo_tx_abort(tx);
			ret = cx_err(ECANCELED, "%s: the constructor refused",
				     fn);
		} else {
			link_el(&o, head, pe_offset, dest.off, before, off);
			ret = commit(&o, tx, fn);
		}
	}
	unlock2(pop, head, NULL);
	return ret ? OID_NULL : cx_oid(pop, off);
}

CX_EXPORT int pmemobj_list_remove(PMEMobjpool *pop, size_t pe_offset,
				  void *head, PMEMoid oid, int free)
{
	static const char fn[] = "pmemobj_list_remove";
	struct overlay o = {.pop = pop};
	daxo_tx *tx;
	int ret;

	if (!pop)
		return cx_err(EINVAL, "%s: NULL pool", fn);
	if (head_ok(pop, head, fn) || element_ok(pop, oid, pe_offset, fn))
		return -1;
	/* a reservation's slot names it until it is published (alloc.c) */
	if (free && cx_resv_active(pop, oid.off))
		return cx_err(EINVAL, "%s: the element is a reservation not "
				      "published: cancel it",
			      fn);
	lock2(pop, head, NULL);
	ret = begin(pop, &tx, fn);
	if (ret == 0) {
		unlink_el(&o, head, pe_offset, oid.off);
		if (free && (ret = daxo_tx_free(tx, oid.off)) != 0) {
			daxo_tx_abort(tx);
			ret = cx_daxo(ret, fn);
		} else {
			ret = commit(&o, tx, fn);
		}
	}
	unlock2(pop, head, NULL);
	return ret;
}

CX_EXPORT int pmemobj_list_move(PMEMobjpool *pop, size_t pe_old_offset,
				void *head_old, size_t pe_new_offset,
				void *head_new, PMEMoid dest, int before,
				PMEMoid oid)
{
	static const char fn[] = "pmemobj_list_move";
	struct overlay o = {.pop = pop};
	daxo_tx *tx;
	int ret;

	if (!pop)
		return cx_err(EINVAL, "%s: NULL pool", fn);
	if (head_ok(pop, head_old, fn) || head_ok(pop, head_new, fn) ||
	    element_ok(pop, oid, pe_old_offset, fn) ||
	    element_ok(pop, oid, pe_new_offset, fn) ||
	    (!OID_IS_NULL(dest) && element_ok(pop, dest, pe_new_offset, fn)))
		return -1;
	if (OID_EQUALS(dest, oid))
		return cx_err(EINVAL, "%s: an element cannot move next to "
				      "itself",
			      fn);
	lock2(pop, head_old, head_new);
	ret = begin(pop, &tx, fn);
	if (ret == 0) {
		unlink_el(&o, head_old, pe_old_offset, oid.off);
		link_el(&o, head_new, pe_new_offset, dest.off, before,
			oid.off);
		ret = commit(&o, tx, fn);
	}
	unlock2(pop, head_old, head_new);
	return ret;
}
