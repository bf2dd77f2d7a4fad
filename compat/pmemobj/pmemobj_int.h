/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pmemobj_int.h -- what the files of libdaxo-pmemobj share.
 *
 * The layer uses libdaxo's public API only (daxo.h). A PMEMobjpool is a
 * volatile record around a daxo_pool; a PMEMoid is {the low 64 bits of
 * the daxo pool's UUID, the daxo_oid}. Objects keep their libpmemobj type
 * number as their daxo type, which leaves these daxo types to the layer:
 *
 *   CT_CLASS_BASE + id   objects of allocation class id with no header
 *                        (exact unit size; libpmemobj reports type 0)
 *   CT_RESV              the reservation tables (action.c)
 *   DAXO_TYPE_ROOT       the root
 *
 * so type numbers at or above CT_USER_LIMIT are refused. The walks of
 * pmemobj_first/next show neither the layer's objects nor the root nor
 * reservations not yet published.
 */
#ifndef DAXO_PMEMOBJ_INT_H
#define DAXO_PMEMOBJ_INT_H 1

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <daxo.h>
#include "libpmemobj.h"

#define CX_EXPORT __attribute__((visibility("default")))

#define CT_USER_LIMIT 0xFFF00000u
#define CT_CLASS_BASE 0xFFF00000u
#define CT_CLASS_MAX 254u
#define CT_RESV 0xFFFE0000u

/* an allocation class registered through pmemobj_ctl_set */
struct cx_class {
	uint64_t unit;   /* 0: not registered */
	unsigned units_per_block;
	unsigned alignment;
	enum pobj_header_type header;
};

struct cx_resv; /* action.c */

struct pmemobjpool {
	daxo_pool *dp;
	char *base;
	uint64_t size;
	uint64_t uuid_lo;
	uint64_t runid; /* this open's generation, even, not 0 (sync.c) */
	void *user_data;
	int skip_checks; /* ctl tx.debug.skip_expensive_checks: no effect */
	pthread_mutex_t lock; /* classes and reservations */
	/*
	 * pmemobj_volatile's constructors, which may call the layer (walk,
	 * reserve...) and pmemobj_volatile again: apart from lock, recursive
	 */
	pthread_mutex_t vlt_lock;
	struct cx_class classes[CT_CLASS_MAX + 1];
	struct cx_resv *resv;
	struct pmemobjpool *next; /* the list of open pools */
	char path[];
};

/* ---- err.c: the thread's message and errno ---- */

/* cx_err -- set errno to @errnum and the message; returns -1 */
int cx_err(int errnum, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* cx_daxo -- a failed daxo call (@ret < 0): its message, errno -@ret */
int cx_daxo(int ret, const char *what);
/* the errno for a daxo error in an allocation (no room is ENOMEM) */
static inline int cx_alloc_errno(int ret)
{
	return ret == -ENOSPC ? ENOMEM : -ret;
}

/* ---- pool.c ---- */

PMEMobjpool *cx_pool_of_uuid(uint64_t uuid_lo);

static inline bool cx_in_pool(const PMEMobjpool *pop, const void *p,
			      size_t len)
{
	const char *c = p;
	return c >= pop->base && len <= pop->size &&
	       (uint64_t)(c - pop->base) <= pop->size - len;
}

static inline PMEMoid cx_oid(const PMEMobjpool *pop, uint64_t off)
{
	PMEMoid o = {off ? pop->uuid_lo : 0, off};
	return o;
}

/* ---- alloc.c: types and classes ---- */

/*
 * cx_alloc_type -- the daxo type and size for an allocation of @size
 * bytes of @type_num with the class in @flags. 0, or -1 and errno.
 */
int cx_alloc_type(PMEMobjpool *pop, uint64_t type_num, uint64_t flags,
		  size_t *size, uint32_t *dtype);
/* cx_user_type -- the libpmemobj type number of daxo type @t */
uint64_t cx_user_type(uint32_t t);
/* cx_hidden -- is the object @off of daxo type @t left out of walks? */
bool cx_hidden(PMEMobjpool *pop, uint64_t off, uint32_t t);

/* ---- mem.c ---- */

/*
 * cx_construct -- run @constr on the new object @off (@size bytes) of a
 * transaction that will publish it: persists of the object inside are no
 * operations (the commit makes it durable). Its return value.
 */
int cx_construct(PMEMobjpool *pop, pmemobj_constr constr, uint64_t off,
		 size_t size, void *arg);

/* ---- tx.c ---- */

/* cx_tx_open -- the daxo transaction the thread has open on @pop, or NULL */
daxo_tx *cx_tx_open(const PMEMobjpool *pop);

/* ---- action.c ---- */

int cx_resv_boot(PMEMobjpool *pop);
void cx_resv_cleanup(PMEMobjpool *pop);
bool cx_resv_active(PMEMobjpool *pop, uint64_t off);
/*
 * cx_resv_unpublished -- is @off a reservation that is neither published
 * nor in the thread's open transaction (not the program's to free)?
 */
bool cx_resv_unpublished(PMEMobjpool *pop, uint64_t off);
/* the daxo side of pmemobj_tx_publish, and its end */
int cx_resv_tx_publish(PMEMobjpool *pop, daxo_tx *tx,
		       struct pobj_action *actv, size_t n);
void cx_resv_tx_end(PMEMobjpool *pop, bool committed);

/* ---- sync.c ---- */

/* cx_runid -- a generation for a new open: even, not 0, not reused */
uint64_t cx_runid(void);

#endif
