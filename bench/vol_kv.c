/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vol_kv.c -- pmemobj_kv.c's chained hash table in malloc memory: the same
 * hash (XXH3), the same bucket count, a reader-writer lock per bucket, key
 * and value in one block. Nothing is flushed or fenced. daxo-bench compares
 * daxo_get with vkv_get ("gets within 10% of volatile").
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "vol_kv.h"

struct vkv_entry {
	struct vkv_entry *next;
	uint64_t hash;
	uint32_t klen, vlen;
	unsigned char data[]; /* key, then value */
};

struct vkv_bucket {
	struct vkv_entry *head;
	pthread_rwlock_t lock;
};

struct vkv {
	struct vkv_bucket *b;
	uint64_t mask;
};

int vkv_open(uint64_t nbuckets, struct vkv **out)
{
	struct vkv *kv;

	if (nbuckets == 0 || (nbuckets & (nbuckets - 1)))
		return -EINVAL;
	kv = calloc(1, sizeof(*kv));
	if (!kv)
		return -ENOMEM;
	kv->b = calloc(nbuckets, sizeof(*kv->b));
	if (!kv->b) {
		free(kv);
		return -ENOMEM;
	}
	for (uint64_t k = 0; k < nbuckets; k++)
		pthread_rwlock_init(&kv->b[k].lock, NULL);
	kv->mask = nbuckets - 1;
	*out = kv;
	return 0;
}

void vkv_close(struct vkv *kv)
{
	if (!kv)
		return;
	for (uint64_t k = 0; k <= kv->mask; k++) {
		struct vkv_entry *e = kv->b[k].head;

		while (e) {
			struct vkv_entry *n = e->next;

			free(e);
			e = n;
		}
		pthread_rwlock_destroy(&kv->b[k].lock);
	}
	free(kv->b);
	free(kv);
}

int vkv_put(struct vkv *kv, const void *key, size_t klen, const void *val,
	    size_t vlen)
{
	uint64_t h = XXH3_64bits(key, klen);
	struct vkv_bucket *b = &kv->b[h & kv->mask];
	struct vkv_entry **link = &b->head, *cur;
	struct vkv_entry *ne = malloc(sizeof(*ne) + klen + vlen);

	if (!ne)
		return -ENOMEM;
	ne->hash = h;
	ne->klen = (uint32_t)klen;
	ne->vlen = (uint32_t)vlen;
	memcpy(ne->data, key, klen);
	memcpy(ne->data + klen, val, vlen);
	pthread_rwlock_wrlock(&b->lock);
	for (cur = b->head; cur; link = &cur->next, cur = cur->next)
		if (cur->hash == h && cur->klen == klen &&
		    memcmp(cur->data, key, klen) == 0)
			break;
	if (!cur)
		link = &b->head; /* a new key goes first */
	ne->next = cur ? cur->next : b->head;
	*link = ne;
	pthread_rwlock_unlock(&b->lock);
	free(cur);
	return 0;
}

int vkv_get(struct vkv *kv, const void *key, size_t klen, void *buf, size_t cap,
	    size_t *vlen)
{
	uint64_t h = XXH3_64bits(key, klen);
	struct vkv_bucket *b = &kv->b[h & kv->mask];
	int rc = -ENOENT;

	pthread_rwlock_rdlock(&b->lock);
	for (struct vkv_entry *e = b->head; e; e = e->next) {
		if (e->hash == h && e->klen == klen &&
		    memcmp(e->data, key, klen) == 0) {
			size_t n = e->vlen < cap ? e->vlen : cap;

			memcpy(buf, e->data + klen, n);
			*vlen = e->vlen;
			rc = e->vlen <= cap ? 0 : -ENOBUFS;
			break;
		}
	}
	pthread_rwlock_unlock(&b->lock);
	return rc;
}
