/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * action.c -- the action API (reserve, set_value, defer_free, publish,
 * cancel) for the libpmemobj compatibility layer.
 *
 * libdaxo's public API has no transient reservation, so a reservation
 * here is a real allocation that is remembered as not yet published: it
 * is made with daxo_alloc straight into a slot of a reservation table
 * (an object of daxo type CT_RESV), so that after a crash the object
 * exists exactly when its slot names it. Publishing clears the slot in
 * the same daxo transaction (one redo record) as the values set and the
 * deferred frees; cancelling frees the object and clears the slot with
 * daxo_free. At open, every slot still set is a reservation the program
 * never published: it is freed. Walks (pmemobj_first/next) do not show
 * reserved objects. The cost against a transient reservation is one fence
 * per reservation.
 *
 * A table is 4 KiB: a header word, then slots. It is trusted only with
 * its header = RESV_MAGIC ^ its offset, written after its slots were
 * zeroed and made durable (two fences, once per 511 reservations in
 * flight); a table found without it at open was cut short by a crash and
 * is freed.
 */
#include <stdlib.h>
#include <string.h>
#include "pmemobj_int.h"

#define RESV_MAGIC 0x5652534543584144ull /* "DAXCESRV" */
#define RESV_BLOCK 4096u
#define RESV_SLOTS (RESV_BLOCK / 8 - 1)

/* what an action is (pobj_action.data[0]) */
enum { ACT_RESERVE = 1, ACT_FREE = 2 };

/*
 * a reservation not over: its object and its number, which tells it from
 * a later one of the same object in the same slot (an action that is over
 * must not cancel that one)
 */
struct active {
	uint64_t off, serial;
};

struct cx_resv {
	uint64_t **free; /* free slots: room for every slot of every table */
	size_t nfree, capfree;
	size_t nslots; /* slots of all the tables */
	/*
	 * the reservations not over: a hash table by object (linear
	 * probing, off 0 is an empty cell; at most half full), so that
	 * walks, publishes and cancels find one at once
	 */
	struct active *active;
	size_t nactive, capactive;
	uint64_t serial; /* the last reservation's number */
	/*
	 * reservations being made: allocated (daxo_alloc) but maybe not in
	 * the table yet; a walk waits for them (settled) so that it never
	 * shows one
	 */
	size_t pending;
	pthread_cond_t settled;
};

/*
 * the reservations published by the thread's open transaction
 * (pmemobj_tx_publish): triples of (slot, object, reservation number);
 * the array
 * goes with the thread (slots_key)
 */
static __thread uint64_t **tx_slots;
static __thread size_t tx_nslots, tx_capslots;
static pthread_key_t slots_key;
static pthread_once_t slots_once = PTHREAD_ONCE_INIT;

static void slots_free(void *arg)
{
	free(arg);
}

static void slots_key_init(void)
{
	pthread_key_create(&slots_key, slots_free);
}

static int grow(void *arr, size_t *cap, size_t need, size_t elsz)
{
	void **a = arr;

	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap * 2 : 64;
	while (n < need)
		n *= 2;
	void *p = realloc(*a, n * elsz);
	if (!p)
		return ENOMEM;
	*a = p;
	*cap = n;
	return 0;
}

/* add_block -- a new zeroed, trusted table; its slots join the free list */
static int add_block(PMEMobjpool *pop)
{
	struct cx_resv *r = pop->resv;
	daxo_oid off = 0;
	int ret;

	/* every slot may be free at once: when all are published */
	if (grow(&r->free, &r->capfree, r->nslots + RESV_SLOTS,
		 sizeof(*r->free)))
		return cx_err(ENOMEM, "pmemobj_reserve: out of memory");
	ret = daxo_alloc(pop->dp, RESV_BLOCK, CT_RESV, &off);
	if (ret)
		return cx_err(cx_alloc_errno(ret), "pmemobj_reserve: %s",
			      daxo_errormsg());
	uint64_t *b = (uint64_t *)(pop->base + off);
	/* the slots durable as zero before the header vouches for them */
	memset(b + 1, 0, RESV_SLOTS * 8);
	daxo_persist(pop->dp, b + 1, RESV_SLOTS * 8);
	b[0] = RESV_MAGIC ^ off;
	daxo_persist(pop->dp, b, 8);
	for (unsigned i = RESV_SLOTS; i > 0; i--)
		r->free[r->nfree++] = &b[i];
	r->nslots += RESV_SLOTS;
	return 0;
}

int cx_resv_boot(PMEMobjpool *pop)
{
	struct cx_resv *r = calloc(1, sizeof(*r));
	daxo_pool *dp = pop->dp;

	if (!r)
		return cx_err(ENOMEM, "%s: out of memory", pop->path);
	pthread_cond_init(&r->settled, NULL);
	pop->resv = r;
	for (daxo_oid off = daxo_first(dp, CT_RESV); off;) {
		daxo_oid next = daxo_next(dp, off, CT_RESV);
		uint64_t *b = (uint64_t *)(pop->base + off);
		if (b[0] != (RESV_MAGIC ^ off)) {
			/* a table a crash cut short: nothing in it counts */
			daxo_free(dp, &off);
			off = next;
			continue;
		}
		if (grow(&r->free, &r->capfree, r->nslots + RESV_SLOTS,
			 sizeof(*r->free))) {
			cx_resv_cleanup(pop);
			return cx_err(ENOMEM, "%s: out of memory", pop->path);
		}
		for (unsigned i = RESV_SLOTS; i > 0; i--) {
			/* a reservation never published: release it */
			if (b[i] && daxo_free(dp, &b[i]) != 0) {
				b[i] = 0; /* not an object: forget it */
				daxo_persist(dp, &b[i], 8);
			}
			r->free[r->nfree++] = &b[i];
		}
		r->nslots += RESV_SLOTS;
		off = next;
	}
	return 0;
}

void cx_resv_cleanup(PMEMobjpool *pop)
{
	struct cx_resv *r = pop->resv;

	if (!r)
		return;
	free(r->free);
	free(r->active);
	pthread_cond_destroy(&r->settled);
	free(r);
	pop->resv = NULL;
}

/* ---- the table of active reservations (under pop->lock) ---- */

static size_t act_home(uint64_t off, size_t cap)
{
	uint64_t x = off >> 4;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return (size_t)x & (cap - 1);
}

/* act_find -- the cell of @off, or SIZE_MAX */
static size_t act_find(const struct cx_resv *r, uint64_t off)
{
	if (!r->capactive)
		return SIZE_MAX;
	for (size_t i = act_home(off, r->capactive);;
	     i = (i + 1) & (r->capactive - 1)) {
		if (r->active[i].off == off)
			return i;
		if (!r->active[i].off)
			return SIZE_MAX;
	}
}

static void put_cell(struct active *t, size_t cap, uint64_t off,
		     uint64_t serial)
{
	size_t i = act_home(off, cap);

	while (t[i].off)
		i = (i + 1) & (cap - 1);
	t[i].off = off;
	t[i].serial = serial;
}

static void act_put(struct cx_resv *r, uint64_t off, uint64_t serial)
{
	put_cell(r->active, r->capactive, off, serial);
	/* atomic: walks read it without the lock (cx_resv_active) */
	__atomic_store_n(&r->nactive, r->nactive + 1, __ATOMIC_RELAXED);
}

/*
 * act_room -- room for one more beside those active and those being
 * made (pending: each goes into the table when its allocation is done);
 * 0 or ENOMEM
 */
static int act_room(struct cx_resv *r)
{
	if (2 * (r->nactive + r->pending + 1) <= r->capactive)
		return 0;
	size_t cap = r->capactive ? 2 * r->capactive : 64;
	struct active *t = calloc(cap, sizeof(*t));

	if (!t)
		return ENOMEM;
	for (size_t i = 0; i < r->capactive; i++)
		if (r->active[i].off)
			put_cell(t, cap, r->active[i].off, r->active[i].serial);
	free(r->active);
	r->active = t;
	r->capactive = cap;
	return 0;
}

/* act_del -- empty cell @i, moving back the entries of its cluster */
static void act_del(struct cx_resv *r, size_t i)
{
	size_t mask = r->capactive - 1, j = i;

	for (;;) {
		r->active[i].off = 0;
		for (;;) {
			j = (j + 1) & mask;
			if (!r->active[j].off)
				goto done;
			size_t k = act_home(r->active[j].off, r->capactive);
			/* j stays if its home lies cyclically in (i, j] */
			if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
				continue;
			break;
		}
		r->active[i] = r->active[j];
		i = j;
	}
done:
	__atomic_store_n(&r->nactive, r->nactive - 1, __ATOMIC_RELAXED);
}

bool cx_resv_active(PMEMobjpool *pop, uint64_t off)
{
	struct cx_resv *r = pop->resv;
	bool found;

	/*
	 * pending first: a reservation goes into the table before pending
	 * drops, so seeing pending 0 after it was made means nactive counts it
	 */
	if (!r || (!__atomic_load_n(&r->pending, __ATOMIC_ACQUIRE) &&
		   !__atomic_load_n(&r->nactive, __ATOMIC_ACQUIRE)))
		return false;
	pthread_mutex_lock(&pop->lock);
	/* @off may be one being reserved: wait until it is in the table */
	while (r->pending)
		pthread_cond_wait(&r->settled, &pop->lock);
	found = act_find(r, off) != SIZE_MAX;
	pthread_mutex_unlock(&pop->lock);
	return found;
}

/*
 * settle -- under pop->lock: reservation @serial of @off is over, @slot
 * is free
 */
static void settle(struct cx_resv *r, uint64_t *slot, uint64_t off,
		   uint64_t serial)
{
	size_t i = act_find(r, off);

	if (i != SIZE_MAX && r->active[i].serial == serial)
		act_del(r, i);
	/* room was made for every slot when its table was added */
	r->free[r->nfree++] = slot;
}

CX_EXPORT PMEMoid pmemobj_xreserve(PMEMobjpool *pop, struct pobj_action *act,
				   size_t size, uint64_t type_num,
				   uint64_t flags)
{
	uint32_t dtype = 0;
	uint64_t *slot;
	int ret;

	if (!pop || !act || size == 0 || size > PMEMOBJ_MAX_ALLOC_SIZE ||
	    (flags & ~POBJ_ACTION_XRESERVE_VALID_FLAGS)) {
		cx_err(EINVAL, "pmemobj_reserve: bad argument (size %zu, flags "
			       "0x%llx)",
		       size, (unsigned long long)flags);
		return OID_NULL;
	}
	if (cx_alloc_type(pop, type_num, flags, &size, &dtype))
		return OID_NULL;
	struct cx_resv *r = pop->resv;
	pthread_mutex_lock(&pop->lock);
	if (!r->nfree && add_block(pop) != 0) {
		pthread_mutex_unlock(&pop->lock);
		return OID_NULL;
	}
	if (act_room(r)) {
		pthread_mutex_unlock(&pop->lock);
		cx_err(ENOMEM, "pmemobj_reserve: out of memory");
		return OID_NULL;
	}
	slot = r->free[--r->nfree];
	/* before the object exists: a walk that meets it waits (above) */
	__atomic_store_n(&r->pending, r->pending + 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&pop->lock);

	/* allocated and named by the slot, atomically */
	ret = daxo_alloc(pop->dp, size, dtype, slot);
	pthread_mutex_lock(&pop->lock);
	uint64_t serial = 0;
	if (!ret) {
		serial = ++r->serial;
		act_put(r, *slot, serial); /* before pending drops */
	}
	__atomic_store_n(&r->pending, r->pending - 1, __ATOMIC_RELEASE);
	if (!r->pending)
		pthread_cond_broadcast(&r->settled);
	if (ret) {
		r->free[r->nfree++] = slot;
		pthread_mutex_unlock(&pop->lock);
		cx_err(cx_alloc_errno(ret), "pmemobj_reserve: %s",
		       daxo_errormsg());
		return OID_NULL;
	}
	pthread_mutex_unlock(&pop->lock);

	uint64_t off = *slot;
	if (flags & POBJ_XALLOC_ZERO) {
		memset(pop->base + off, 0, size);
		daxo_persist(pop->dp, pop->base + off, size);
	}
	memset(act, 0, sizeof(*act));
	act->type = POBJ_ACTION_TYPE_HEAP;
	act->data[0] = ACT_RESERVE;
	act->heap.offset = off;
	act->heap.usable_size = daxo_usable_size(pop->dp, off);
	act->data2[2] = (uint64_t)(uintptr_t)slot;
	act->data2[3] = serial;
	return cx_oid(pop, off);
}

CX_EXPORT PMEMoid pmemobj_reserve(PMEMobjpool *pop, struct pobj_action *act,
				  size_t size, uint64_t type_num)
{
	return pmemobj_xreserve(pop, act, size, type_num, 0);
}

CX_EXPORT void pmemobj_set_value(PMEMobjpool *pop, struct pobj_action *act,
				 uint64_t *ptr, uint64_t value)
{
	(void)pop;
	memset(act, 0, sizeof(*act));
	act->type = POBJ_ACTION_TYPE_MEM;
	act->data2[0] = (uint64_t)(uintptr_t)ptr;
	act->data2[1] = value;
}

CX_EXPORT void pmemobj_defer_free(PMEMobjpool *pop, PMEMoid oid,
				  struct pobj_action *act)
{
	(void)pop;
	memset(act, 0, sizeof(*act));
	act->type = POBJ_ACTION_TYPE_HEAP;
	act->data[0] = ACT_FREE;
	act->heap.offset = oid.off;
}

static uint64_t *act_slot(const struct pobj_action *a)
{
	return (uint64_t *)(uintptr_t)a->data2[2];
}

/* act_serial -- the number of the reservation @a made */
static uint64_t act_serial(const struct pobj_action *a)
{
	return a->data2[3];
}

/* resv_live -- is reservation @serial of the object @off not over? */
static bool resv_live(PMEMobjpool *pop, uint64_t off, uint64_t serial)
{
	struct cx_resv *r = pop->resv;

	pthread_mutex_lock(&pop->lock);
	size_t i = act_find(r, off);
	bool found = i != SIZE_MAX && r->active[i].serial == serial;
	pthread_mutex_unlock(&pop->lock);
	return found;
}

/*
 * valid -- is @a an action to publish: a value to set in the pool, a free
 * of an object, or a reservation that is not over (not cancelled, not
 * published, not undone by the abort of a transaction that published it)
 * and whose slot still names its object?
 */
static bool valid(PMEMobjpool *pop, const struct pobj_action *a)
{
	if (a->type == POBJ_ACTION_TYPE_MEM)
		return cx_in_pool(pop, (void *)(uintptr_t)a->data2[0], 8);
	if (a->type != POBJ_ACTION_TYPE_HEAP)
		return false;
	if (a->data[0] == ACT_FREE)
		return a->heap.offset != 0 &&
		       daxo_oid_type(pop->dp, a->heap.offset) != UINT32_MAX;
	if (a->data[0] != ACT_RESERVE)
		return false;
	uint64_t *slot = act_slot(a);
	return slot && cx_in_pool(pop, slot, 8) && a->heap.offset != 0 &&
	       *slot == a->heap.offset &&
	       resv_live(pop, a->heap.offset, act_serial(a));
}

/*
 * stage -- the daxo side of @actv in @tx, all checked first, so that a
 * bad action stages nothing; *@done: how many were staged (all but on a
 * daxo error)
 */
static int stage(PMEMobjpool *pop, daxo_tx *tx, struct pobj_action *actv,
		 size_t n, const char *fn, size_t *done)
{
	static const uint64_t zero;
	int ret = 0;

	*done = 0;
	for (size_t i = 0; i < n; i++) {
		if (!valid(pop, &actv[i])) {
			cx_err(EINVAL, "%s: action %zu is not one to publish "
				       "(cancelled, published, or not made by "
				       "pmemobj_reserve, pmemobj_set_value or "
				       "pmemobj_defer_free)",
			       fn, i);
			return EINVAL;
		}
	}
	for (size_t i = 0; i < n && !ret; i++) {
		struct pobj_action *a = &actv[i];
		if (a->type == POBJ_ACTION_TYPE_MEM) {
			uint64_t *p = (uint64_t *)(uintptr_t)a->data2[0];
			ret = daxo_tx_write(tx, p, &a->data2[1], 8);
		} else if (a->data[0] == ACT_RESERVE) {
			ret = daxo_tx_write(tx, act_slot(a), &zero, 8);
		} else {
			ret = daxo_tx_free(tx, a->heap.offset);
		}
		if (!ret)
			*done = i + 1;
	}
	if (ret) {
		cx_daxo(ret, fn);
		return -ret;
	}
	return 0;
}

/* finish -- the reservations in @actv are published: their slots free */
static void finish(PMEMobjpool *pop, struct pobj_action *actv, size_t n)
{
	pthread_mutex_lock(&pop->lock);
	for (size_t i = 0; i < n; i++)
		if (actv[i].type == POBJ_ACTION_TYPE_HEAP &&
		    actv[i].data[0] == ACT_RESERVE)
			settle(pop->resv, act_slot(&actv[i]),
			       actv[i].heap.offset, act_serial(&actv[i]));
	pthread_mutex_unlock(&pop->lock);
}

CX_EXPORT int pmemobj_publish(PMEMobjpool *pop, struct pobj_action *actv,
			      size_t actvcnt)
{
	daxo_tx *tx;
	int ret;

	if (!pop || (!actv && actvcnt))
		return cx_err(EINVAL, "pmemobj_publish: NULL argument");
	/* not part of a transaction the thread may have open */
	ret = daxo_tx_begin_flags(pop->dp, DAXO_TX_DETACHED, &tx);
	if (ret)
		return cx_daxo(ret, "pmemobj_publish");
	size_t done;
	ret = stage(pop, tx, actv, actvcnt, "pmemobj_publish", &done);
	if (ret) {
		daxo_tx_abort(tx);
		errno = ret;
		return -1;
	}
	ret = daxo_tx_commit(tx);
	if (ret)
		return cx_daxo(ret, "pmemobj_publish");
	finish(pop, actv, actvcnt);
	return 0;
}

CX_EXPORT void pmemobj_cancel(PMEMobjpool *pop, struct pobj_action *actv,
			      size_t actvcnt)
{
	if (!pop)
		return;
	for (size_t i = 0; i < actvcnt; i++) {
		struct pobj_action *a = &actv[i];
		if (a->type != POBJ_ACTION_TYPE_HEAP || a->data[0] != ACT_RESERVE)
			continue;
		uint64_t *slot = act_slot(a);
		/*
		 * a reservation published (or its transaction aborted) is over:
		 * its slot may name another reservation's object by now
		 */
		if (!valid(pop, a))
			continue;
		if (daxo_free(pop->dp, slot) != 0) {
			cx_daxo(-EINVAL, "pmemobj_cancel");
			continue;
		}
		pthread_mutex_lock(&pop->lock);
		settle(pop->resv, slot, a->heap.offset, act_serial(a));
		pthread_mutex_unlock(&pop->lock);
		a->data[0] = 0;
	}
}

int cx_resv_tx_publish(PMEMobjpool *pop, daxo_tx *tx,
		       struct pobj_action *actv, size_t n)
{
	uint64_t **was = tx_slots;

	if (grow(&tx_slots, &tx_capslots, tx_nslots + 3 * n,
		 sizeof(*tx_slots))) {
		cx_err(ENOMEM, "pmemobj_tx_publish: out of memory");
		return ENOMEM;
	}
	if (tx_slots != was) {
		/* freed when the thread exits */
		pthread_once(&slots_once, slots_key_init);
		pthread_setspecific(slots_key, tx_slots);
	}
	size_t done;
	int ret = stage(pop, tx, actv, n, "pmemobj_tx_publish", &done);
	/*
	 * remember each reservation staged: (slot, object, number). On a
	 * daxo error
	 * part of @actv is in the transaction already (if it goes on:
	 * POBJ_XPUBLISH_NO_ABORT): its end settles those.
	 */
	for (size_t i = 0; i < done; i++) {
		if (actv[i].type == POBJ_ACTION_TYPE_HEAP &&
		    actv[i].data[0] == ACT_RESERVE) {
			tx_slots[tx_nslots++] = act_slot(&actv[i]);
			tx_slots[tx_nslots++] =
				(uint64_t *)(uintptr_t)actv[i].heap.offset;
			tx_slots[tx_nslots++] =
				(uint64_t *)(uintptr_t)act_serial(&actv[i]);
		}
	}
	return ret;
}

bool cx_resv_unpublished(PMEMobjpool *pop, uint64_t off)
{
	if (!cx_resv_active(pop, off))
		return false;
	/* published in the thread's open transaction: the object is its */
	for (size_t i = 0; i < tx_nslots; i += 3)
		if (cx_in_pool(pop, tx_slots[i], 8) && *tx_slots[i] == off)
			return false;
	return true;
}

void cx_resv_tx_end(PMEMobjpool *pop, bool committed)
{
	for (size_t i = 0; i < tx_nslots; i += 3) {
		uint64_t *slot = tx_slots[i];
		uint64_t off = (uint64_t)(uintptr_t)tx_slots[i + 1];
		uint64_t serial = (uint64_t)(uintptr_t)tx_slots[i + 2];
		/* aborted: the slot still names the object, which goes */
		if (!committed && daxo_free(pop->dp, slot) != 0)
			continue;
		pthread_mutex_lock(&pop->lock);
		settle(pop->resv, slot, off, serial);
		pthread_mutex_unlock(&pop->lock);
	}
	tx_nslots = 0;
}
