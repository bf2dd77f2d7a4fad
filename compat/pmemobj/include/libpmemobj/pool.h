/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libpmemobj/pool.h -- pools, and the typed root (POBJ_ROOT), for daxo's
 * libpmemobj compatibility layer.
 */
#ifndef DAXO_COMPAT_PMEMOBJ_POOL_H
#define DAXO_COMPAT_PMEMOBJ_POOL_H 1

#include <libpmemobj/pool_base.h>
#include <libpmemobj/types.h>

/** The root as a TOID(t), at least sizeof(t) bytes. */
#define POBJ_ROOT(pop, t)                                                      \
	_DAXOC_AS_TOID(TOID(t), pmemobj_root((pop), sizeof(t)))

#endif /* DAXO_COMPAT_PMEMOBJ_POOL_H */
