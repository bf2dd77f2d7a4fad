/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vol_kv.h -- the chained hash table of pmemobj_kv.c in volatile (malloc)
 * memory: the yardstick for "gets within 10% of volatile" in daxo-bench.
 */
#ifndef DAXO_BENCH_VOL_KV_H
#define DAXO_BENCH_VOL_KV_H 1

#include <stddef.h>
#include <stdint.h>

struct vkv;

/* vkv_open -- an empty table of @nbuckets buckets (a power of two) */
int vkv_open(uint64_t nbuckets, struct vkv **out);
void vkv_close(struct vkv *kv);
/* vkv_put -- insert or replace. 0 or -ENOMEM. */
int vkv_put(struct vkv *kv, const void *key, size_t klen, const void *val,
	    size_t vlen);
/* vkv_get -- as pkv_get: 0, -ENOENT or -ENOBUFS; *vlen the full length */
int vkv_get(struct vkv *kv, const void *key, size_t klen, void *buf, size_t cap,
	    size_t *vlen);

#endif
