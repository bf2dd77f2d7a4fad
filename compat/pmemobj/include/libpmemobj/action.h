/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libpmemobj/action.h -- typed reservations, for daxo's libpmemobj
 * compatibility layer.
 */
#ifndef DAXO_COMPAT_PMEMOBJ_ACTION_H
#define DAXO_COMPAT_PMEMOBJ_ACTION_H 1

#include <libpmemobj/action_base.h>
#include <libpmemobj/types.h>

#define POBJ_RESERVE_NEW(pop, t, act)                                          \
	_DAXOC_AS_TOID(TOID(t), pmemobj_reserve((pop), (act), sizeof(t),       \
						TOID_TYPE_NUM(t)))
#define POBJ_RESERVE_ALLOC(pop, t, size, act)                                  \
	_DAXOC_AS_TOID(TOID(t), pmemobj_reserve((pop), (act), (size),          \
						TOID_TYPE_NUM(t)))
#define POBJ_XRESERVE_NEW(pop, t, act, flags)                                  \
	_DAXOC_AS_TOID(TOID(t), pmemobj_xreserve((pop), (act), sizeof(t),      \
						 TOID_TYPE_NUM(t), (flags)))
#define POBJ_XRESERVE_ALLOC(pop, t, size, act, flags)                          \
	_DAXOC_AS_TOID(TOID(t), pmemobj_xreserve((pop), (act), (size),         \
						 TOID_TYPE_NUM(t), (flags)))

#endif /* DAXO_COMPAT_PMEMOBJ_ACTION_H */
