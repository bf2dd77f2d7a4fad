/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kv_valid.c -- the keyed store's checks of its own metadata before it
 * trusts it (kv.h, TRUST): the anchor, its hash seed, the tables and the
 * key counts at open; keys against their hashes and duplicate keys in a
 * chain during walks; a spare table before a resize frees it.
 */
#include <stdlib.h>
#include <xxhash.h>
#define XXH_DISPATCH_DISABLE_REPLACE
#include <xxh_x86dispatch.h>

#include "heap.h"
#include "kv_walk.h"
#include "tx.h"

KV_RACY uint64_t kv_key_hash(const struct kv_ent *en, uint64_t seed)
{
	return XXH3_64bits_withSeed(en->key, en->klen, seed);
}

KV_RACY uint64_t kv_vsum(const void *v, uint64_t len, uint64_t h)
{
	/* the same function, with the loop for the CPU's widest vectors
	 * (AVX2, AVX-512) chosen at run time: values are long */
	return XXH3_64bits_withSeed_dispatch(v, (size_t)len, h);
}

KV_RACY int kv_val_ok(const daxo_pool *p, struct kv_ent *en, const void *copy)
{
	if (!p->kv->fmt.csum ||
	    kv_vsum(copy ? copy : en->val, en->vlen, en->hash) == en->vsum)
		return 0;
	return kv_ent_bad(en, pool_off(p, en->val),
			  "value damaged (it does not match its checksum)");
}

uint64_t kv_seed_check(const struct kv_anchor *a)
{
	/* never 0: 0 means "no check word" (anchors of older libraries) */
	return XXH64(a, offsetof(struct kv_anchor, table), 0) | 1;
}

struct kv_key {
	uint64_t hash, oid;
};

static int kv_key_cmp(const void *x, const void *y)
{
	const struct kv_key *a = x, *b = y;

	return a->hash < b->hash ? -1 : a->hash > b->hash;
}

/* kv_same_key -- the entries @x and @y (both checked) hold the same key */
static bool kv_same_key(const daxo_pool *p, uint64_t x, uint64_t y)
{
	const struct kv_entry *a = pool_ptr(p, x), *b = pool_ptr(p, y);
	uint64_t ko = kv_koff(p->kv->fmt);

	return a->hash == b->hash && a->klen == b->klen &&
	       memcmp((const uint8_t *)a + ko, (const uint8_t *)b + ko,
		      a->klen) == 0;
}

int kv_chain_dup(const daxo_pool *p, const uint64_t *v, size_t n,
		 struct kv_ent *bad)
{
	struct kv_key *k;

	if (n <= 32) {
		for (size_t i = 1; i < n; i++)
			for (size_t j = 0; j < i; j++)
				if (kv_same_key(p, v[i], v[j]))
					return kv_ent_bad(bad, v[i],
							  "a key stored twice "
							  "in one chain");
		return 0;
	}
	/* a long chain (a table that could not grow): sort by hash */
	k = malloc(n * sizeof(*k));
	if (!k)
		return 0; /* unchecked, not wrong: the walk goes on */
	for (size_t i = 0; i < n; i++)
		k[i] = (struct kv_key){
		    ((const struct kv_entry *)pool_ptr(p, v[i]))->hash, v[i]};
	qsort(k, n, sizeof(*k), kv_key_cmp);
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j-- > 0 && k[j].hash == k[i].hash;)
			if (kv_same_key(p, k[i].oid, k[j].oid)) {
				uint64_t at = k[i].oid;
				free(k);
				return kv_ent_bad(bad, at,
						  "a key stored twice in one "
						  "chain");
			}
	free(k);
	return 0;
}

/* kv_table_obj -- @oid is a live table object big enough for @n buckets */
static bool kv_table_obj(daxo_pool *p, uint64_t oid, uint64_t n)
{
	uint64_t usable;
	uint32_t type;

	return heap_object(p, oid, &usable, &type) == 0 &&
	       type == KV_TYPE_TABLE &&
	       usable >= sizeof(struct kv_table) + n * 8;
}

bool kv_spare_ok(daxo_pool *p, const struct kv_view *v, uint64_t t)
{
	uint64_t usable;
	uint32_t type;

	return t != pool_off(p, v->bk) - sizeof(struct kv_table) &&
	       (!v->old_bk ||
		t != pool_off(p, v->old_bk) - sizeof(struct kv_table)) &&
	       heap_object(p, t, &usable, &type) == 0 && type == KV_TYPE_TABLE;
}

/* how many entries kv_seed_sample compares with their keys */
#define KV_SEED_SAMPLE 8u

/*
 * kv_seed_sample -- does @seed hash the stored keys to their stored hashes?
 * Compares up to KV_SEED_SAMPLE entries found from the first bucket on: 1
 * if one matches (a damaged entry does not condemn the seed), 0 if there is
 * no entry to compare, -1 if none matches (then *@at is one of them).
 */
static int kv_seed_sample(const daxo_pool *p, const struct kv_view *v,
			  uint64_t seed, uint64_t *at)
{
	const uint64_t *tab[2] = {v->bk, v->old_bk};
	uint64_t n[2] = {v->n, v->old_n};
	unsigned seen = 0;

	for (unsigned t = 0; t < 2 && tab[t]; t++)
		for (uint64_t b = 0; b < n[t] && seen < KV_SEED_SAMPLE; b++) {
			struct kv_ent en;
			uint64_t oid;
			if (!kv_unlink(p->kv->fmt, tab[t][b],
				       pool_off(p, &tab[t][b]), &oid) ||
			    oid <= KV_MOVED || kv_ent_read(p, oid, &en))
				continue;
			if (kv_key_hash(&en, seed) == en.hash)
				return 1;
			*at = oid;
			seen++;
		}
	return seen ? -1 : 0;
}

int kv_anchor_check(daxo_pool *p, uint64_t root, struct kv_view *v,
		    struct kv_ent *bad)
{
	const struct kv_anchor *a;
	uint64_t usable, total = 0, max;
	uint32_t type;

	if (!kv_oid_ok(p, root, sizeof(*a)) ||
	    heap_object(p, root, &usable, &type) != 0 ||
	    type != KV_TYPE_ANCHOR || usable < sizeof(*a))
		return kv_ent_bad(
		    bad, p->hdr.meta_off + offsetof(struct pool_meta, kv_root),
		    "the keyed store's root is not a live anchor");
	a = pool_ptr(p, root);
	if (a->magic != KV_ANCHOR_MAGIC)
		return kv_ent_bad(bad, root, "bad anchor magic");
	if (a->seed_check && a->seed_check != kv_seed_check(a))
		return kv_ent_bad(
		    bad, root + offsetof(struct kv_anchor, seed),
		    "the hash seed does not match its check word");
	if (!kv_view_read(p, root, v) ||
	    !kv_table_obj(p, pool_off(p, v->bk) - sizeof(struct kv_table),
			  v->n))
		return kv_ent_bad(bad, root + offsetof(struct kv_anchor, table),
				  "the anchor does not name a valid table");
	if (v->old_bk &&
	    !kv_table_obj(p, pool_off(p, v->old_bk) - sizeof(struct kv_table),
			  v->old_n))
		return kv_ent_bad(bad,
				  root + offsetof(struct kv_anchor, old_table),
				  "the anchor does not name a valid old table");
	if (a->next_table && !kv_spare_ok(p, v, a->next_table))
		return kv_ent_bad(bad,
				  root + offsetof(struct kv_anchor, next_table),
				  "the anchor's spare table is not a table of "
				  "its own");
	/* no entry is smaller than its 32-byte header */
	max = p->hdr.heap_size / sizeof(struct kv_entry);
	for (unsigned s = 0; s < KV_STRIPES; s++) {
		if (a->count[s] > max - total)
			return kv_ent_bad(
			    bad, root + offsetof(struct kv_anchor, count[s]),
			    "key count larger than the heap can "
			    "hold");
		total += a->count[s];
	}
	if (!a->seed_check) {
		uint64_t at = 0;
		if (kv_seed_sample(p, v, a->seed, &at) < 0)
			return kv_ent_bad(
			    bad, root + offsetof(struct kv_anchor, seed),
			    "the hash seed does not hash the "
			    "stored keys to their hashes");
	}
	return 0;
}

void kv_seed_seal(daxo_pool *p, uint64_t root)
{
	struct kv_anchor *a = pool_ptr(p, root);
	uint64_t c = kv_seed_check(a);
	daxo_tx *tx;

	/*
	 * Best effort: an anchor without its check word is checked by
	 * sampling at every open until it has one.
	 */
	if (p->rdonly || a->seed_check || daxo_tx_begin(p, &tx))
		return;
	if (daxo_tx_write(tx, &a->seed_check, &c, sizeof(c)))
		daxo_tx_abort(tx);
	else
		(void)daxo_tx_commit(tx);
}
