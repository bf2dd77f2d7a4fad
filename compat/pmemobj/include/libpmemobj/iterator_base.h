/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libpmemobj/iterator_base.h -- walking a pool's objects, for daxo's
 * libpmemobj compatibility layer. Objects come in address order; the
 * root, the layer's own objects and unpublished reservations are not
 * shown. Objects allocated or freed during a walk may or may not be seen.
 */
#ifndef DAXO_COMPAT_PMEMOBJ_ITERATOR_BASE_H
#define DAXO_COMPAT_PMEMOBJ_ITERATOR_BASE_H 1

#include <libpmemobj/base.h>

#ifdef __cplusplus
extern "C" {
#endif

PMEMoid pmemobj_first(PMEMobjpool *pop);
PMEMoid pmemobj_next(PMEMoid oid);

/* the first object of @type_num; the next object of @oid's type number */
PMEMoid daxo_pmemobj_first_type(PMEMobjpool *pop, uint64_t type_num);
PMEMoid daxo_pmemobj_next_type(PMEMoid oid);

#ifdef __cplusplus
}
#endif
#endif /* DAXO_COMPAT_PMEMOBJ_ITERATOR_BASE_H */
