/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libpmemobj/action_base.h -- reserve now, publish later, for daxo's
 * libpmemobj compatibility layer.
 *
 * pmemobj_reserve() sets an object aside; the program fills it (and
 * persists what it wrote) while nobody else can see it. Collected
 * actions -- reservations, deferred frees, 8-byte value stores -- then
 * take effect together and crash-atomically in pmemobj_publish() (or in
 * the current transaction, pmemobj_tx_publish()), or are dropped by
 * pmemobj_cancel(). A reservation not published when the process dies is
 * gone at the next open.
 */
#ifndef DAXO_COMPAT_PMEMOBJ_ACTION_BASE_H
#define DAXO_COMPAT_PMEMOBJ_ACTION_BASE_H 1

#include <libpmemobj/base.h>

#ifdef __cplusplus
extern "C" {
#endif

enum pobj_action_type {
	POBJ_ACTION_TYPE_HEAP, /* a reservation or a deferred free */
	POBJ_ACTION_TYPE_MEM,  /* a value to store */
	POBJ_MAX_ACTION_TYPE
};

struct pobj_action_heap {
	uint64_t offset;      /* the object's offset in its pool */
	uint64_t usable_size; /* of a reservation */
};

/*
 * One action, kept in volatile memory (never in a pool). Beyond type and
 * heap, the contents are the layer's own.
 */
struct pobj_action {
	enum pobj_action_type type;
	uint32_t data[3];
	union {
		struct pobj_action_heap heap;
		uint64_t data2[14];
	};
};

#define POBJ_ACTION_XRESERVE_VALID_FLAGS                                       \
	(POBJ_XALLOC_CLASS_MASK | POBJ_XALLOC_ARENA_MASK | POBJ_XALLOC_ZERO)

/* reserve an object: its handle, or OID_NULL and errno */
PMEMoid pmemobj_reserve(PMEMobjpool *pop, struct pobj_action *act,
			size_t size, uint64_t type_num);
PMEMoid pmemobj_xreserve(PMEMobjpool *pop, struct pobj_action *act,
			 size_t size, uint64_t type_num, uint64_t flags);
/* store @value at @ptr (8 bytes in the pool) when published */
void pmemobj_set_value(PMEMobjpool *pop, struct pobj_action *act,
		       uint64_t *ptr, uint64_t value);
/* free @oid when published */
void pmemobj_defer_free(PMEMobjpool *pop, PMEMoid oid,
			struct pobj_action *act);
/* all of @actv, crash-atomically: 0, or -1 and errno */
int pmemobj_publish(PMEMobjpool *pop, struct pobj_action *actv,
		    size_t actvcnt);
/* all of @actv as part of the current transaction */
int pmemobj_tx_publish(struct pobj_action *actv, size_t actvcnt);
int pmemobj_tx_xpublish(struct pobj_action *actv, size_t actvcnt,
			uint64_t flags);
/* drop the actions: reservations are released */
void pmemobj_cancel(PMEMobjpool *pop, struct pobj_action *actv,
		    size_t actvcnt);

#ifdef __cplusplus
}
#endif
#endif /* DAXO_COMPAT_PMEMOBJ_ACTION_BASE_H */
