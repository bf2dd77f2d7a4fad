/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pmemobj_kv.c -- a persistent chained hash table on libpmemobj 1.12, written
 * the way PMDK's own examples (hashmap_tx) and documentation write one: every
 * change inside TX_BEGIN/TX_END, new objects from pmemobj_tx_alloc, the one
 * persistent pointer that changes snapshotted with pmemobj_tx_add_range_direct,
 * the replaced entry released with pmemobj_tx_free, and a PMEMrwlock per
 * bucket so that puts on different buckets run in parallel and gets share.
 *
 * Layout: a table object holds the bucket count and the oid of a bucket
 * array; a bucket is a list head and its lock; an entry holds its next link,
 * the key's hash, the key and the value in one object. The bucket count is
 * fixed at creation (no resize): the benchmark sizes it for its key sets.
 *
 * vol_kv.c is the same table in malloc memory.
 */
#include <errno.h>
#include <string.h>
#include <stdlib.h>

#include <libpmemobj.h>
#include <xxhash.h>

#include "pmemobj_kv.h"

#define PKV_TYPE_TABLE 100
#define PKV_TYPE_BUCKETS 101
#define PKV_TYPE_ENTRY 102

struct pkv_entry {
	PMEMoid next;
	uint64_t hash;
	uint32_t klen, vlen;
	unsigned char data[]; /* key, then value */
};

struct pkv_bucket {
	PMEMoid head;
	PMEMrwlock lock;
};

struct pkv_table {
	uint64_t nbuckets;
	PMEMoid buckets;
};

struct pkv {
	PMEMobjpool *pop;
	struct pkv_bucket *b;
	uint64_t mask;
};

int pkv_open(PMEMobjpool *pop, PMEMoid *rootp, uint64_t nbuckets,
	     struct pkv **out)
{
	struct pkv *kv;
	volatile int rc = 0;

	if (nbuckets == 0 || (nbuckets & (nbuckets - 1)))
		return -EINVAL;
	if (OID_IS_NULL(*rootp)) {
		TX_BEGIN(pop) {
			pmemobj_tx_add_range_direct(rootp, sizeof(*rootp));
			PMEMoid t = pmemobj_tx_zalloc(sizeof(struct pkv_table),
						      PKV_TYPE_TABLE);
			struct pkv_table *tab = pmemobj_direct(t);

			tab->nbuckets = nbuckets;
			tab->buckets = pmemobj_tx_zalloc(
				nbuckets * sizeof(struct pkv_bucket),
				PKV_TYPE_BUCKETS);
			*rootp = t;
		} TX_ONABORT {
			rc = errno ? -errno : -EIO;
		} TX_END
		if (rc)
			return rc;
	}
	struct pkv_table *tab = pmemobj_direct(*rootp);

	kv = calloc(1, sizeof(*kv));
	if (!kv)
		return -ENOMEM;
	kv->pop = pop;
	kv->b = pmemobj_direct(tab->buckets);
	kv->mask = tab->nbuckets - 1;
	*out = kv;
	return 0;
}

void pkv_close(struct pkv *kv)
{
	free(kv);
}

/* values up to this long replace a value of the same length in place (as
 * daxo_put does up to TX_FILL_INLINE) */
#define PKV_INPLACE_MAX 1536

int pkv_put(struct pkv *kv, const void *key, size_t klen, const void *val,
	    size_t vlen)
{
	uint64_t h = XXH3_64bits(key, klen);
	struct pkv_bucket *b = &kv->b[h & kv->mask];
	PMEMoid *link = &b->head;
	PMEMoid cur;
	volatile int rc = 0;

	if (pmemobj_rwlock_wrlock(kv->pop, &b->lock))
		return -EDEADLK;
	cur = b->head;
	while (!OID_IS_NULL(cur)) {
		struct pkv_entry *e = pmemobj_direct(cur);

		if (e->hash == h && e->klen == klen &&
		    memcmp(e->data, key, klen) == 0)
			break;
		link = &e->next;
		cur = e->next;
	}
	if (OID_IS_NULL(cur))
		link = &b->head; /* a new key goes first */
	if (!OID_IS_NULL(cur) && vlen <= PKV_INPLACE_MAX &&
	    ((struct pkv_entry *)pmemobj_direct(cur))->vlen == vlen) {
		/* as daxo_put: a value of the same length is replaced in
		 * place, its old bytes snapshotted in the undo log */
		TX_BEGIN(kv->pop) {
			struct pkv_entry *e = pmemobj_direct(cur);

			pmemobj_tx_add_range_direct(e->data + klen, vlen);
			memcpy(e->data + klen, val, vlen);
		} TX_ONABORT {
			rc = errno ? -errno : -EIO;
		} TX_END
		pmemobj_rwlock_unlock(kv->pop, &b->lock);
		return rc;
	}
	TX_BEGIN(kv->pop) {
		PMEMoid n = pmemobj_tx_alloc(sizeof(struct pkv_entry) + klen +
						     vlen,
					     PKV_TYPE_ENTRY);
		struct pkv_entry *ne = pmemobj_direct(n);

		/* a new object needs no snapshot: it is flushed at commit */
		ne->next = OID_IS_NULL(cur)
				   ? b->head
				   : ((struct pkv_entry *)pmemobj_direct(cur))
					     ->next;
		ne->hash = h;
		ne->klen = (uint32_t)klen;
		ne->vlen = (uint32_t)vlen;
		memcpy(ne->data, key, klen);
		memcpy(ne->data + klen, val, vlen);
		pmemobj_tx_add_range_direct(link, sizeof(*link));
		*link = n;
		if (!OID_IS_NULL(cur))
			pmemobj_tx_free(cur);
	} TX_ONABORT {
		rc = errno ? -errno : -EIO;
	} TX_END
	pmemobj_rwlock_unlock(kv->pop, &b->lock);
	return rc;
}

int pkv_get(struct pkv *kv, const void *key, size_t klen, void *buf,
	    size_t cap, size_t *vlen)
{
	uint64_t h = XXH3_64bits(key, klen);
	struct pkv_bucket *b = &kv->b[h & kv->mask];
	int rc = -ENOENT;

	if (pmemobj_rwlock_rdlock(kv->pop, &b->lock))
		return -EDEADLK;
	for (PMEMoid cur = b->head; !OID_IS_NULL(cur);) {
		struct pkv_entry *e = pmemobj_direct(cur);

		if (e->hash == h && e->klen == klen &&
		    memcmp(e->data, key, klen) == 0) {
			size_t n = e->vlen < cap ? e->vlen : cap;

			memcpy(buf, e->data + klen, n);
			*vlen = e->vlen;
			rc = e->vlen <= cap ? 0 : -ENOBUFS;
			break;
		}
		cur = e->next;
	}
	pmemobj_rwlock_unlock(kv->pop, &b->lock);
	return rc;
}
