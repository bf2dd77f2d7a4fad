/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * treemap.h -- daxo-treemap: PMDK's map examples built from Debian's
 * libpmemobj-dev against the system libpmemobj and, unchanged, against
 * daxo's compatibility layer (modules of treemap_pmemobj.c), and the ports
 * of three of them to daxo's native API (bench/tree_map/, examples/), run
 * side by side. A struct tm_impl is one map on one library; the driver
 * (treemap_main.c) calls it as PMDK's data_store example calls a map:
 * insert_new (a value object allocated and inserted in one transaction),
 * get (and a read of the value), remove_free.
 */
#ifndef DAXO_BENCH_TREEMAP_H
#define DAXO_BENCH_TREEMAP_H 1

#include <stdint.h>

#include "bench.h"

/* tm_impl.open flag: every page of the new pool mapped at creation (the
 * library's own prefault switch), so that the ops do not take the file
 * system's first-touch page faults */
#define TM_PREFAULT 0x1u

struct tm_impl {
	const char *map; /* "btree", "rbtree", ... */
	const char *lib; /* "daxo", "daxo-pmemobj", "pmemobj" */
	/* a pool of @size bytes in @dir, its pages mapped before the first op
	 * if @flags has TM_PREFAULT; 0 or -errno, message in err */
	int (*open)(void **h, const char *dir, uint64_t size, unsigned flags,
		    char *err, size_t errlen);
	void (*close)(void *h);
	/* a new empty map in the pool's root */
	int (*create)(void *h);
	int (*destroy)(void *h);
	/* insert a new 8-byte value object holding @key, under @key */
	int (*insert)(void *h, uint64_t key);
	/* the value object's contents under @key: 0, or -ENOENT */
	int (*get)(void *h, uint64_t key, uint64_t *val);
	/* remove @key and free its value */
	int (*remove)(void *h, uint64_t key);
	/* every (key, value object's contents) in the map's order */
	int (*foreach)(void *h,
		       int (*cb)(uint64_t key, uint64_t val, void *arg),
		       void *arg);
	int (*is_empty)(void *h);
	const char *(*errmsg)(void);
	void (*counts)(struct bench_counts *out);
	const char *count_source;
	int counts_libpmem;
};

/* the native ports (treemap_daxo.c) */
extern const struct tm_impl tm_daxo_rbtree, tm_daxo_ctree, tm_daxo_btree;
/* what a module of treemap_pmemobj.c exports: its maps, a null map last */
extern const struct tm_impl tm_lib_impls[];

#endif
