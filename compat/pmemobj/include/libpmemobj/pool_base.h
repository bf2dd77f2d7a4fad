/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libpmemobj/pool_base.h -- pools and the root object, for daxo's
 * libpmemobj compatibility layer.
 *
 * Pools are daxo pools: pmemobj_create makes one (daxo_create), and
 * pmemobj_open opens one, running daxo's recovery. A PMDK pool file is not
 * a daxo pool and is refused (errno EUCLEAN); doc/MIGRATING.md tells how
 * to move data over.
 */
#ifndef DAXO_COMPAT_PMEMOBJ_POOL_BASE_H
#define DAXO_COMPAT_PMEMOBJ_POOL_BASE_H 1

#include <stddef.h>
#include <sys/types.h>
#include <libpmemobj/base.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Smallest pool (8 MiB, daxo's minimum too). */
#define PMEMOBJ_MIN_POOL ((size_t)8 << 20)
/** Smallest part of a pool set (pool sets are not supported by daxo). */
#define PMEMOBJ_MIN_PART ((size_t)2 << 20)

/** Open the pool at @path, checking @layout (NULL: any); NULL on error. */
PMEMobjpool *pmemobj_open(const char *path, const char *layout);
/**
 * Create a pool of @poolsize bytes (rounded up to 2 MiB) at @path with
 * permissions @mode. @poolsize 0 takes an existing, still empty file and
 * its size. NULL and errno on error.
 */
PMEMobjpool *pmemobj_create(const char *path, const char *layout,
			    size_t poolsize, mode_t mode);
/** 1 if the closed pool at @path is consistent, 0 if not, -1 on error. */
int pmemobj_check(const char *path, const char *layout);
/** Close the pool (recovery is not needed at the next open). */
void pmemobj_close(PMEMobjpool *pop);

/**
 * The root object, allocated zeroed at the first call; a larger @size
 * grows it (contents kept, the rest zeroed). OID_NULL and errno on error.
 */
PMEMoid pmemobj_root(PMEMobjpool *pop, size_t size);
/** pmemobj_root, with @constructor run on a new or grown root. */
PMEMoid pmemobj_root_construct(PMEMobjpool *pop, size_t size,
			       pmemobj_constr constructor, void *arg);
/** The root's size (0 if there is none). */
size_t pmemobj_root_size(PMEMobjpool *pop);

/** A volatile pointer kept with the handle, for the application. */
void pmemobj_set_user_data(PMEMobjpool *pop, void *data);
void *pmemobj_get_user_data(PMEMobjpool *pop);

#ifdef __cplusplus
}
#endif
#endif /* DAXO_COMPAT_PMEMOBJ_POOL_BASE_H */
