/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libpmemobj/lists_atomic_base.h -- crash-atomic doubly linked lists, for
 * daxo's libpmemobj compatibility layer.
 *
 * A list is circular: the head names the first element, each element's
 * entry (at @pe_offset in the object: a next and a prev handle) names its
 * neighbours, and the first element's prev is the last. Each call is one
 * daxo transaction (the links it changes, and the allocation or free)
 * and holds the head's lock while it runs.
 */
#ifndef DAXO_COMPAT_PMEMOBJ_LISTS_ATOMIC_BASE_H
#define DAXO_COMPAT_PMEMOBJ_LISTS_ATOMIC_BASE_H 1

#include <libpmemobj/base.h>

#ifdef __cplusplus
extern "C" {
#endif

/* put @oid before (@before 1) or after (0) @dest; OID_NULL: head or tail */
int pmemobj_list_insert(PMEMobjpool *pop, size_t pe_offset, void *head,
			PMEMoid dest, int before, PMEMoid oid);
/* allocate, construct and insert in one step: the new handle or OID_NULL */
PMEMoid pmemobj_list_insert_new(PMEMobjpool *pop, size_t pe_offset,
				void *head, PMEMoid dest, int before,
				size_t size, uint64_t type_num,
				pmemobj_constr constructor, void *arg);
/* unlink @oid, and free it if @free */
int pmemobj_list_remove(PMEMobjpool *pop, size_t pe_offset, void *head,
			PMEMoid oid, int free);
/* unlink from one list and link into another, atomically */
int pmemobj_list_move(PMEMobjpool *pop, size_t pe_old_offset, void *head_old,
		      size_t pe_new_offset, void *head_new, PMEMoid dest,
		      int before, PMEMoid oid);

#ifdef __cplusplus
}
#endif
#endif /* DAXO_COMPAT_PMEMOBJ_LISTS_ATOMIC_BASE_H */
