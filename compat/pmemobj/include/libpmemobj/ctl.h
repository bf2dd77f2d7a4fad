/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libpmemobj/ctl.h -- the control interface, for daxo's libpmemobj
 * compatibility layer.
 *
 * daxo answers these names (others: -1, errno ENOTSUP):
 *   heap.alloc_class.new.desc          set: register an allocation class
 *   heap.alloc_class.<id>.desc         get/set: a class by its id
 *   stats.enabled                      get/set: accepted (daxo_stats counts)
 *   prefault.at_open, prefault.at_create  get/set: DAXO_PREFAULT at open
 * A class gives objects of exactly unit_size bytes when its header is
 * POBJ_HEADER_NONE (their type number is then 0, as in libpmemobj);
 * otherwise it only sets the size asked of daxo's own classes.
 */
#ifndef DAXO_COMPAT_PMEMOBJ_CTL_H
#define DAXO_COMPAT_PMEMOBJ_CTL_H 1

#include <stddef.h>
#include <sys/types.h>
#include <libpmemobj/base.h>

#ifdef __cplusplus
extern "C" {
#endif

enum pobj_header_type {
	POBJ_HEADER_LEGACY,  /* libpmemobj's 64-byte header */
	POBJ_HEADER_COMPACT, /* its 16-byte header */
	POBJ_HEADER_NONE,    /* no header: type number 0, one unit each */
	MAX_POBJ_HEADER_TYPES
};

struct pobj_alloc_class_desc {
	size_t unit_size;
	size_t alignment;
	unsigned units_per_block;
	enum pobj_header_type header_type;
	unsigned class_id; /* out for "new", in for "<id>" */
};

enum pobj_stats_enabled {
	POBJ_STATS_ENABLED_TRANSIENT,
	POBJ_STATS_ENABLED_BOTH,
	POBJ_STATS_ENABLED_PERSISTENT,
	POBJ_STATS_DISABLED,
};

enum pobj_arenas_assignment_type {
	POBJ_ARENAS_ASSIGNMENT_THREAD_KEY,
	POBJ_ARENAS_ASSIGNMENT_GLOBAL,
};

/* 0, or -1 and errno; @pop may be NULL for the global names */
int pmemobj_ctl_get(PMEMobjpool *pop, const char *name, void *arg);
int pmemobj_ctl_set(PMEMobjpool *pop, const char *name, void *arg);
int pmemobj_ctl_exec(PMEMobjpool *pop, const char *name, void *arg);

#ifdef __cplusplus
}
#endif
#endif /* DAXO_COMPAT_PMEMOBJ_CTL_H */
