/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctl.c -- pmemobj_ctl_get/set/exec for the libpmemobj compatibility
 * layer: allocation classes (which PMDK's slab example builds on), the
 * prefault switches, stats.enabled and the heap statistics it names
 * (read from daxo_heap_info: exact whether enabled or not), and two names
 * whose documented meaning holds here as it is: tx.debug.skip_expensive_
 * checks (libpmemobj's release builds ignore it; the layer has no such
 * checks) and heap.size.granularity, which is 0 -- a daxo pool never
 * grows -- and may be set to 0 only. Every other name is refused with
 * ENOTSUP, so that a program learns that a tuning it asked for is not
 * there rather than believing it took effect.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pmemobj_int.h"

int cx_prefault_open, cx_prefault_create;
static int stats_enabled = POBJ_STATS_ENABLED_TRANSIENT;

/* class_set -- register @d as class @id (0: the lowest free id) */
static int class_set(PMEMobjpool *pop, unsigned id,
		     struct pobj_alloc_class_desc *d, const char *name)
{
	if (d->unit_size == 0 || d->unit_size > PMEMOBJ_MAX_ALLOC_SIZE ||
	    d->header_type >= MAX_POBJ_HEADER_TYPES)
		return cx_err(EINVAL, "%s: bad unit size or header type",
			      name);
	if (d->alignment &&
	    ((d->alignment & (d->alignment - 1)) ||
	     d->unit_size % d->alignment))
		return cx_err(EINVAL, "%s: the alignment must be a power of "
				      "two that divides the unit size",
			      name);
	if (d->alignment > 64)
		return cx_err(ENOTSUP, "%s: daxo aligns objects to at most 64 "
				       "bytes",
			      name);
	pthread_mutex_lock(&pop->lock);
	if (id == 0) {
		for (id = 1; id <= CT_CLASS_MAX && pop->classes[id].unit; id++)
			;
		if (id > CT_CLASS_MAX) {
			pthread_mutex_unlock(&pop->lock);
			return cx_err(ENOSPC, "%s: every class id is taken",
				      name);
		}
	} else if (pop->classes[id].unit) {
		pthread_mutex_unlock(&pop->lock);
		return cx_err(EEXIST, "%s: class %u exists", name, id);
	}
	pop->classes[id].units_per_block = d->units_per_block;
	pop->classes[id].alignment = (unsigned)d->alignment;
	pop->classes[id].header = d->header_type;
	__atomic_store_n(&pop->classes[id].unit, d->unit_size,
			 __ATOMIC_RELEASE);
	pthread_mutex_unlock(&pop->lock);
	d->class_id = id;
	return 0;
}

/* int_arg -- get or set an int-valued switch */
static int int_arg(int *v, void *arg, bool set)
{
	if (!arg)
		return cx_err(EINVAL, "ctl: NULL argument");
	if (set)
		*v = *(int *)arg;
	else
		*(int *)arg = *v;
	return 0;
}

/*
 * heap_stat -- stats.heap.@what: bytes allocated (curr_allocated), of
 * them in runs (run_allocated), or of the runs (run_active)
 */
static int heap_stat(PMEMobjpool *pop, const char *name, const char *what,
		     uint64_t *out)
{
	struct daxo_heap_info *hi;
	uint64_t run_alloc = 0;
	int ret;

	if (!pop || !out)
		return cx_err(EINVAL, "%s: needs a pool and a uint64_t", name);
	if (strcmp(what, "curr_allocated") != 0 &&
	    strcmp(what, "run_allocated") != 0 &&
	    strcmp(what, "run_active") != 0)
		return cx_err(ENOTSUP, "pmemobj_ctl: \"%s\" is not supported "
				       "by daxo's libpmemobj layer",
			      name);
	hi = malloc(sizeof(*hi)); /* 10 KiB: the size classes */
	if (!hi)
		return cx_err(ENOMEM, "%s: out of memory", name);
	ret = daxo_heap_info(pop->dp, hi);
	if (ret) {
		free(hi);
		return cx_daxo(ret, name);
	}
	for (uint32_t i = 0; i < hi->nclasses; i++)
		run_alloc += hi->cls[i].used * hi->cls[i].size;
	if (strcmp(what, "run_active") == 0)
		*out = hi->run_bytes;
	else if (strcmp(what, "run_allocated") == 0)
		*out = run_alloc;
	else
		*out = run_alloc + hi->large_bytes;
	free(hi);
	return 0;
}

static int ctl(PMEMobjpool *pop, const char *name, void *arg, int op)
{
	enum { GET, SET, EXEC };
	unsigned id;
	int n = 0;

	if (!name)
		return cx_err(EINVAL, "pmemobj_ctl: NULL name");
	if (op != EXEC && strcmp(name, "prefault.at_open") == 0)
		return int_arg(&cx_prefault_open, arg, op == SET);
	if (op != EXEC && strcmp(name, "prefault.at_create") == 0)
		return int_arg(&cx_prefault_create, arg, op == SET);
	if (op != EXEC && strcmp(name, "stats.enabled") == 0)
		return int_arg(&stats_enabled, arg, op == SET);
	if (op == GET && strncmp(name, "stats.heap.", 11) == 0)
		return heap_stat(pop, name, name + 11, arg);
	if (op != EXEC && strcmp(name, "tx.debug.skip_expensive_checks") == 0) {
		if (!pop)
			return cx_err(EINVAL, "%s: needs a pool", name);
		return int_arg(&pop->skip_checks, arg, op == SET);
	}
	if (op != EXEC && strcmp(name, "heap.size.granularity") == 0) {
		if (!pop || !arg)
			return cx_err(EINVAL, "%s: needs a pool and a uint64_t",
				      name);
		if (op == GET) {
			*(uint64_t *)arg = 0; /* the pool does not grow */
			return 0;
		}
		if (*(uint64_t *)arg != 0)
			return cx_err(ENOTSUP, "%s: a daxo pool does not grow: "
					       "0 is the only granularity",
				      name);
		return 0;
	}
	if (strncmp(name, "heap.alloc_class.", 17) == 0 && op != EXEC) {
		struct pobj_alloc_class_desc *d = arg;
		if (!pop || !d)
			return cx_err(EINVAL, "%s: needs a pool and a "
					      "descriptor",
				      name);
		if (strcmp(name + 17, "new.desc") == 0 && op == SET)
			return class_set(pop, 0, d, name);
		if (sscanf(name + 17, "%u.desc%n", &id, &n) == 1 &&
		    name[17 + n] == '\0' && id >= 1 && id <= CT_CLASS_MAX) {
			if (op == SET)
				return class_set(pop, id, d, name);
			const struct cx_class *c = &pop->classes[id];
			if (!c->unit)
				return cx_err(ENOENT, "%s: no such class", name);
			d->unit_size = c->unit;
			d->alignment = c->alignment;
			d->units_per_block = c->units_per_block;
			d->header_type = c->header;
			d->class_id = id;
			return 0;
		}
	}
	return cx_err(ENOTSUP, "pmemobj_ctl: \"%s\" is not supported by "
			       "daxo's libpmemobj layer",
		      name);
}

CX_EXPORT int pmemobj_ctl_get(PMEMobjpool *pop, const char *name, void *arg)
{
	return ctl(pop, name, arg, 0);
}

CX_EXPORT int pmemobj_ctl_set(PMEMobjpool *pop, const char *name, void *arg)
{
	return ctl(pop, name, arg, 1);
}

CX_EXPORT int pmemobj_ctl_exec(PMEMobjpool *pop, const char *name, void *arg)
{
	return ctl(pop, name, arg, 2);
}
