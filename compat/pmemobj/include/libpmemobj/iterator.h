/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libpmemobj/iterator.h -- typed walks, for daxo's libpmemobj
 * compatibility layer.
 */
#ifndef DAXO_COMPAT_PMEMOBJ_ITERATOR_H
#define DAXO_COMPAT_PMEMOBJ_ITERATOR_H 1

#include <libpmemobj/iterator_base.h>
#include <libpmemobj/types.h>

#ifdef __cplusplus
extern "C" {
#endif

static inline PMEMoid POBJ_FIRST_TYPE_NUM(PMEMobjpool *pop, uint64_t type_num)
{
	return daxo_pmemobj_first_type(pop, type_num);
}

static inline PMEMoid POBJ_NEXT_TYPE_NUM(PMEMoid o)
{
	return daxo_pmemobj_next_type(o);
}

#define POBJ_FIRST(pop, t)                                                     \
	_DAXOC_AS_TOID(TOID(t), POBJ_FIRST_TYPE_NUM((pop), TOID_TYPE_NUM(t)))
#define POBJ_NEXT(o) _DAXOC_AS_TOID(__typeof__(o), POBJ_NEXT_TYPE_NUM((o).oid))

/* every object: @varoid is a PMEMoid */
#define POBJ_FOREACH(pop, varoid)                                              \
	for ((varoid) = pmemobj_first(pop); (varoid).off != 0;                 \
	     (varoid) = pmemobj_next(varoid))
/* the same, and the body may free @varoid (@nvaroid is the next one) */
#define POBJ_FOREACH_SAFE(pop, varoid, nvaroid)                                \
	for ((varoid) = pmemobj_first(pop);                                    \
	     (varoid).off != 0 && ((nvaroid) = pmemobj_next(varoid), 1);       \
	     (varoid) = (nvaroid))
/* every object of @var's type: @var is a TOID */
#define POBJ_FOREACH_TYPE(pop, var)                                            \
	for ((var).oid = POBJ_FIRST_TYPE_NUM((pop), TOID_TYPE_NUM_OF(var));    \
	     !TOID_IS_NULL(var); (var).oid = POBJ_NEXT_TYPE_NUM((var).oid))
#define POBJ_FOREACH_SAFE_TYPE(pop, var, nvar)                                 \
	for ((var).oid = POBJ_FIRST_TYPE_NUM((pop), TOID_TYPE_NUM_OF(var));    \
	     !TOID_IS_NULL(var) &&                                             \
	     ((nvar).oid = POBJ_NEXT_TYPE_NUM((var).oid), 1);                  \
	     (var) = (nvar))

#ifdef __cplusplus
}
#endif
#endif /* DAXO_COMPAT_PMEMOBJ_ITERATOR_H */
