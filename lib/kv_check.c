/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kv_check.c -- the keyed store's part of daxo_check: kv_check_image()
 * (declared in check.h) walks the store in a read-only image of a closed
 * pool and reports what is wrong, never trusting a byte: every oid must
 * name bytes inside one live object, every chain is bounded, and nothing is
 * written. What it verifies (doc/kv-format.md):
 *
 *   anchor: a live object of the anchor's size, magic, the seed against
 *           its check word (when it has one);
 *   tables: live objects of 64 + 8 x nbuckets bytes, magic, nbuckets a
 *           power of two in range and as the anchor says, the old table
 *           half the new one;
 *   values: with value checksums, each value against its checksum;
 *   chains: every entry a live object holding its header, key and value,
 *           key length in range, the stored hash equal to the key's hash,
 *           the entry in the bucket its hash names, no cycle;
 *   resize: while migrating, the new buckets of an unmigrated old bucket
 *           are empty; a leftover next_table is reported (informational);
 *   counts: anchor.count[s] equals the keys found in stripe s.
 *
 * Everything wrong is DAXO_CHECK_FATAL (no repair is offered for the
 * store), except the informational findings.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "check.h"
#include "kv.h"

struct kvc {
	const struct check_view *v;
	const struct kv_anchor *a;
	struct kv_fmt fmt;
	uint64_t anchor;
	uint64_t seed;
	uint64_t nkeys;
	uint64_t count[KV_STRIPES];
	uint64_t max_chain; /* no chain can be longer: size / smallest entry */
	unsigned bad;
};

static const void *at(const struct kvc *c, uint64_t off)
{
	return c->v->base + off;
}

/* kvc_table -- check the table at @oid of @n buckets; its heads or NULL */
static const uint64_t *kvc_table(struct kvc *c, uint64_t oid, uint64_t n,
				 uint64_t field, const char *what)
{
	const struct kv_table *t;

	if (!n || (n & (n - 1)) || n < KV_MIN_BUCKETS || n > KV_MAX_BUCKETS) {
		c->v->report(c->v, DAXO_CHECK_FATAL, field + 8,
			     "keyed store: %s has %llu buckets (not a power "
			     "of two from %u to 2^40)",
			     what, (unsigned long long)n, KV_MIN_BUCKETS);
		return NULL;
	}
	if (!c->v->is_live(c->v, oid, sizeof(*t) + n * 8)) {
		c->v->report(c->v, DAXO_CHECK_FATAL, field,
			     "keyed store: %s %llu is not a live object of "
			     "%llu bytes",
			     what, (unsigned long long)oid,
			     (unsigned long long)(sizeof(*t) + n * 8));
		return NULL;
	}
	t = at(c, oid);
	if (t->magic != KV_TABLE_MAGIC || t->nbuckets != n) {
		c->v->report(c->v, DAXO_CHECK_FATAL, oid,
			     "keyed store: %s: bad magic or bucket count "
			     "(%llu, anchor says %llu)",
			     what, (unsigned long long)t->nbuckets,
			     (unsigned long long)n);
		return NULL;
	}
	return (const uint64_t *)at(c, oid + sizeof(*t));
}

/*
 * kvc_media -- an entry whose key or value meets a media error: the key
 * (if it can be read) and what was lost
 */
static void kvc_media(struct kvc *c, uint64_t oid, const struct kv_entry *e)
{
	uint64_t voff = kv_voff(c->fmt, e->klen);
	char key[100];
	size_t k = 0;

	if (!c->v->bad || !c->v->bad(c->v, oid, voff + e->vlen))
		return;
	if (c->v->bad(c->v, oid + kv_koff(c->fmt), e->klen)) {
		c->v->report(c->v, DAXO_CHECK_FATAL, oid,
			     "keyed store: the key of the entry at offset "
			     "%llu lies on a media error: the key and its "
			     "value are lost",
			     (unsigned long long)oid);
		return;
	}
	for (uint32_t i = 0; i < e->klen && k + 5 < sizeof(key); i++) {
		unsigned char ch = ((const uint8_t *)e + kv_koff(c->fmt))[i];
		k += (size_t)snprintf(key + k, sizeof(key) - k,
				      ch >= 0x20 && ch < 0x7f && ch != '\\'
					  ? "%c"
					  : "\\x%02x",
				      ch);
	}
	c->v->report(c->v, DAXO_CHECK_REPAIRABLE, oid + voff,
		     "keyed store: the value of key \"%s%s\" (%llu bytes at "
		     "offset %llu) lies on a media error: it is lost (zeros "
		     "after repair)",
		     key, k + 5 >= sizeof(key) ? "..." : "",
		     (unsigned long long)e->vlen,
		     (unsigned long long)(oid + voff));
}

/*
 * kvc_chain -- walk the chain starting at the word at @slot_off, whose
 * entries must satisfy hash & (n - 1) == b.
 */
static void kvc_chain(struct kvc *c, uint64_t slot_off, uint64_t n, uint64_t b)
{
	uint64_t oid, prev = slot_off;
	uint64_t steps = 0;

	for (;;) {
		const struct kv_entry *e;
		uint64_t h;

		if (!kv_unlink(c->fmt, *(const uint64_t *)at(c, prev), prev,
			       &oid)) {
			c->v->report(c->v, DAXO_CHECK_FATAL, prev,
				     "keyed store: damaged link in the chain "
				     "of bucket %llu (its check does not "
				     "match)",
				     (unsigned long long)b);
			c->bad++;
			return;
		}
		if (!oid)
			return;
		if (++steps > c->max_chain) {
			c->v->report(c->v, DAXO_CHECK_FATAL, slot_off,
				     "keyed store: the chain of bucket %llu "
				     "does not end (a cycle)",
				     (unsigned long long)b);
			c->bad++;
			return;
		}
		if ((oid & 7) ||
		    !c->v->is_live(c->v, oid, sizeof(struct kv_entry))) {
			c->v->report(c->v, DAXO_CHECK_FATAL, prev,
				     "keyed store: %llu (bucket %llu) is not a "
				     "live entry",
				     (unsigned long long)oid,
				     (unsigned long long)b);
			c->bad++;
			return;
		}
		e = at(c, oid);
		if (c->v->bad && c->v->bad(c->v, oid, sizeof(*e))) {
			c->v->report(c->v, DAXO_CHECK_FATAL, oid,
				     "keyed store: the entry at offset %llu "
				     "(bucket %llu) lies on a media error: its "
				     "key and value, and the keys after it in "
				     "the bucket, are lost",
				     (unsigned long long)oid,
				     (unsigned long long)b);
			c->bad++;
			return;
		}
		if (e->klen == 0 || e->klen > DAXO_KEY_MAX ||
		    e->vlen > c->v->size ||
		    !c->v->is_live(c->v, oid,
				   kv_voff(c->fmt, e->klen) + e->vlen)) {
			c->v->report(c->v, DAXO_CHECK_FATAL, oid,
				     "keyed store: entry with key length %u "
				     "and value length %llu does not fit its "
				     "object",
				     e->klen, (unsigned long long)e->vlen);
			c->bad++;
			return;
		}
		if (c->fmt.links &&
		    e->flags != kv_hcheck(e->hash, e->klen, e->vlen)) {
			c->v->report(c->v, DAXO_CHECK_FATAL, oid + 20,
				     "keyed store: entry header damaged (its "
				     "check word does not match)");
			c->bad++;
			return;
		}
		kvc_media(c, oid, e);
		const uint8_t *key = (const uint8_t *)e + kv_koff(c->fmt);
		h = XXH3_64bits_withSeed(key, e->klen, c->seed);
		if (c->fmt.csum) {
			uint64_t vo = kv_voff(c->fmt, e->klen), vs;
			memcpy(&vs, (const uint8_t *)e + KV_VSUM_OFF, 8);
			if (XXH3_64bits_withSeed((const uint8_t *)e + vo,
						 (size_t)e->vlen,
						 e->hash) != vs) {
				c->v->report(c->v, DAXO_CHECK_FATAL, oid + vo,
					     "keyed store: the value of %llu "
					     "bytes at offset %llu does not "
					     "match its checksum",
					     (unsigned long long)e->vlen,
					     (unsigned long long)(oid + vo));
				c->bad++;
			}
		}
		if (h != e->hash)
			c->v->report(c->v, DAXO_CHECK_FATAL, oid + 8,
				     "keyed store: entry hash 0x%llx is not "
				     "its key's (0x%llx)",
				     (unsigned long long)e->hash,
				     (unsigned long long)h);
		else if ((h & (n - 1)) != b)
			c->v->report(c->v, DAXO_CHECK_FATAL, oid,
				     "keyed store: entry in bucket %llu "
				     "belongs in bucket %llu",
				     (unsigned long long)b,
				     (unsigned long long)(h & (n - 1)));
		c->bad += h != e->hash || (h & (n - 1)) != b;
		c->count[h & (KV_STRIPES - 1)]++;
		c->nkeys++;
		prev = oid; /* its next word */
	}
}

int kv_check_image(const struct check_view *v, uint64_t kv_root)
{
	struct kvc *c = calloc(1, sizeof(*c));
	const struct kv_anchor *a;
	const uint64_t *bk, *obk = NULL;
	uint64_t n, on;

	if (!c)
		return -ENOMEM;
	c->v = v;
	c->fmt = kv_fmt_of(v->incompat);
	c->anchor = kv_root;
	c->max_chain = v->size / (sizeof(struct kv_entry) + 1) + 1;
	if (!v->is_live(v, kv_root, sizeof(*a))) {
		v->report(v, DAXO_CHECK_FATAL, kv_root,
			  "keyed store: anchor is smaller than %zu bytes",
			  sizeof(*a));
		goto out;
	}
	a = c->a = at(c, kv_root);
	if (a->magic != KV_ANCHOR_MAGIC) {
		v->report(v, DAXO_CHECK_FATAL, kv_root,
			  "keyed store: bad anchor magic 0x%llx",
			  (unsigned long long)a->magic);
		goto out;
	}
	if (a->seed_check && a->seed_check != kv_seed_check(a)) {
		v->report(v, DAXO_CHECK_FATAL, kv_root + 8,
			  "keyed store: the hash seed does not match its "
			  "check word");
		goto out;
	}
	c->seed = a->seed;
	n = a->nbuckets;
	on = a->old_nbuckets;
	bk = kvc_table(c, a->table, n, kv_root + 16, "table");
	if (!bk)
		goto out;
	if (a->old_table) {
		if (on * 2 != n) {
			v->report(v, DAXO_CHECK_FATAL, kv_root + 40,
				  "keyed store: old table has %llu buckets, "
				  "not half of %llu",
				  (unsigned long long)on,
				  (unsigned long long)n);
			goto out;
		}
		obk = kvc_table(c, a->old_table, on, kv_root + 32, "old table");
		if (!obk)
			goto out;
	} else if (on) {
		v->report(v, DAXO_CHECK_FATAL, kv_root + 40,
			  "keyed store: old bucket count without an old table");
		goto out;
	}
	if (a->next_table)
		v->report(v, DAXO_CHECK_INFO, kv_root + 48,
			  "keyed store: table %llu of an interrupted resize "
			  "start is kept until the next resize frees it",
			  (unsigned long long)a->next_table);

	uint64_t bk_off = a->table + sizeof(struct kv_table);
	for (uint64_t b = 0; obk && b < on; b++) {
		uint64_t ob_off = a->old_table + sizeof(struct kv_table);
		uint64_t lo, hi;
		if (kv_moved(c->fmt, obk[b], ob_off + 8 * b))
			continue;
		if (!kv_unlink(c->fmt, bk[b], bk_off + 8 * b, &lo) ||
		    !kv_unlink(c->fmt, bk[b + on], bk_off + 8 * (b + on),
			       &hi) ||
		    lo || hi) {
			v->report(v, DAXO_CHECK_FATAL, bk_off + 8 * b,
				  "keyed store: old bucket %llu is not "
				  "migrated yet its new buckets are not empty",
				  (unsigned long long)b);
			c->bad++;
		}
		kvc_chain(c, ob_off + 8 * b, on, b);
	}
	for (uint64_t b = 0; b < n; b++)
		kvc_chain(c, bk_off + 8 * b, n, b);
	for (unsigned s = 0; s < KV_STRIPES; s++)
		if (a->count[s] != c->count[s]) {
			v->report(v, DAXO_CHECK_FATAL, kv_root + 64 + 8ull * s,
				  "keyed store: stripe %u counts %llu keys, "
				  "%llu found",
				  s, (unsigned long long)a->count[s],
				  (unsigned long long)c->count[s]);
			c->bad++;
		}
	if (!c->bad)
		v->report(v, DAXO_CHECK_INFO, kv_root,
			  "keyed store: %llu keys, %llu buckets%s",
			  (unsigned long long)c->nkeys, (unsigned long long)n,
			  obk ? " (resize in progress)" : "");
out:
	free(c);
	return 0;
}
