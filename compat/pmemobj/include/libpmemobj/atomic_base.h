/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libpmemobj/atomic_base.h -- atomic (non-transactional) allocation, for
 * daxo's libpmemobj compatibility layer.
 *
 * Each call is crash-atomic on its own: after a crash either the new
 * object exists, is initialized and *oidp names it (when oidp lies in
 * the pool), or none of it happened. Used inside a transaction, the call
 * is durable when it returns and is not rolled back by an abort.
 */
#ifndef DAXO_COMPAT_PMEMOBJ_ATOMIC_BASE_H
#define DAXO_COMPAT_PMEMOBJ_ATOMIC_BASE_H 1

#include <wchar.h>
#include <libpmemobj/base.h>

#ifdef __cplusplus
extern "C" {
#endif

#define POBJ_XALLOC_VALID_FLAGS (POBJ_XALLOC_ZERO | POBJ_XALLOC_CLASS_MASK)

/*
 * Allocate @size bytes of type @type_num, run @constructor (if any) on
 * them, and publish the handle into *@oidp (which may be NULL). 0, or -1
 * and errno (ECANCELED when the constructor refused).
 */
int pmemobj_alloc(PMEMobjpool *pop, PMEMoid *oidp, size_t size,
		  uint64_t type_num, pmemobj_constr constructor, void *arg);
int pmemobj_xalloc(PMEMobjpool *pop, PMEMoid *oidp, size_t size,
		   uint64_t type_num, uint64_t flags,
		   pmemobj_constr constructor, void *arg);
int pmemobj_zalloc(PMEMobjpool *pop, PMEMoid *oidp, size_t size,
		   uint64_t type_num);
/* resize *@oidp (may move it); z: the added bytes are zeroed */
int pmemobj_realloc(PMEMobjpool *pop, PMEMoid *oidp, size_t size,
		    uint64_t type_num);
int pmemobj_zrealloc(PMEMobjpool *pop, PMEMoid *oidp, size_t size,
		     uint64_t type_num);
/* a copy of a string in a new object */
int pmemobj_strdup(PMEMobjpool *pop, PMEMoid *oidp, const char *s,
		   uint64_t type_num);
int pmemobj_wcsdup(PMEMobjpool *pop, PMEMoid *oidp, const wchar_t *s,
		   uint64_t type_num);
/* free *@oidp and set it to OID_NULL; OID_NULL is no operation */
void pmemobj_free(PMEMoid *oidp);

struct pobj_defrag_result {
	size_t total;     /* objects looked at */
	size_t relocated; /* objects moved */
};

/**
 * Move the objects whose handles @oidv[0..@oidcnt) point to, so that free
 * space comes back together, and update the handles: daxo_heap_defrag. An
 * object moves only if every handle holding it is named, and every live
 * object of its run; the root never moves. 0, or -1 and errno (EINVAL,
 * ENOMEM, EBUSY inside a transaction, ...); @result (may be NULL): the
 * objects looked at and those moved.
 */
int pmemobj_defrag(PMEMobjpool *pop, PMEMoid **oidv, size_t oidcnt,
		   struct pobj_defrag_result *result);

#ifdef __cplusplus
}
#endif
#endif /* DAXO_COMPAT_PMEMOBJ_ATOMIC_BASE_H */
