/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pmemobj_kv.h -- a persistent chained hash table on libpmemobj, written the
 * idiomatic PMDK way, as the reference for daxo's keyed store in daxo-bench.
 */
#ifndef DAXO_BENCH_PMEMOBJ_KV_H
#define DAXO_BENCH_PMEMOBJ_KV_H 1

#include <stddef.h>
#include <stdint.h>

#include <libpmemobj.h>

struct pkv;

/*
 * pkv_open -- the table whose root oid lives at *@rootp, creating it with
 * @nbuckets buckets (a power of two) if *@rootp is null. 0 or -errno.
 */
int pkv_open(PMEMobjpool *pop, PMEMoid *rootp, uint64_t nbuckets,
	     struct pkv **out);
void pkv_close(struct pkv *kv);

/* pkv_put -- insert or replace, in one transaction. 0 or -errno. */
int pkv_put(struct pkv *kv, const void *key, size_t klen, const void *val,
	    size_t vlen);

/*
 * pkv_get -- copy the value (at most @cap bytes) into @buf; *@vlen gets its
 * length. 0, -ENOENT, or -ENOBUFS when it did not fit.
 */
int pkv_get(struct pkv *kv, const void *key, size_t klen, void *buf, size_t cap,
	    size_t *vlen);

#endif
