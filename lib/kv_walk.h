/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kv_walk.h -- how the keyed store reads its own metadata without trusting
 * it: bounds-checked entry headers, checked table geometry, and the checks
 * every chain walk makes (kv.h, TRUST). Private to the keyed store's files
 * (kv*.c) and kv_valid.c.
 */
#ifndef DAXO_KV_WALK_H
#define DAXO_KV_WALK_H 1

#include <string.h>

#include "kv.h"
#include "pool.h"

/*
 * KV_RACY marks the functions that read pool memory without holding the
 * stripe lock (seqlock readers): their loads race with writers by design and
 * are validated afterwards, so ThreadSanitizer must not instrument them. In
 * TSan builds they also avoid memcpy/memcmp, which TSan intercepts.
 */
#ifdef DAXO_TSAN /* internal.h */
#define KV_TSAN	  1
#define KV_RACY	  DAXO_RACY
#define KV_INLINE __attribute__((unused))
#else
#define KV_RACY
/* the get path in one function: no callback through a pointer, and the
 * copy's arguments stay in registers */
#define KV_INLINE inline __attribute__((always_inline))
#endif

/* one racy load of a word: never torn, never re-read by the compiler */
#define RD(x) (*(const volatile __typeof__(x) *)&(x))

/* ---- bounds checks: every oid read from the pool passes one ---------- */

/* kv_oid_ok -- @len bytes at @oid are 8-aligned and inside the heap */
static inline bool kv_oid_ok(const daxo_pool *p, uint64_t oid, uint64_t len)
{
	return oid >= p->hdr.heap_off && (oid & 7) == 0 &&
	       pool_in_range(p, oid, len);
}

/*
 * a validated snapshot of an entry header; after a walk failed, oid is the
 * offset of what was wrong there and bad says what
 */
struct kv_ent {
	const struct kv_entry *e;
	const uint8_t *key, *val;
	uint64_t oid, next, hash, vlen;
	uint64_t vsum; /* with value checksums */
	uint32_t klen;
	const char *bad;
};

/* kv_ent_bad -- a walk met damage at @off: -EUCLEAN, saying what in @en */
static inline int kv_ent_bad(struct kv_ent *en, uint64_t off, const char *what)
{
	en->oid = off;
	en->bad = what;
	return -EUCLEAN;
}

/* kv_ent_read's findings */
#define KV_ENT_OK      0
#define KV_ENT_OUTSIDE 1 /* @oid is not inside the heap: the link is bad */
#define KV_ENT_DAMAGED 2 /* the header at @oid is not one */

/*
 * kv_ent_read -- read and check the entry header at @oid (bounds, lengths,
 * and in format 1.3 its check word): KV_ENT_OK and *@out, or what failed
 */
KV_RACY static KV_INLINE int kv_ent_read(const daxo_pool *p, uint64_t oid,
					 struct kv_ent *out)
{
	const struct kv_entry *e;
	struct kv_fmt f = p->kv->fmt;

	if (!kv_oid_ok(p, oid, sizeof(*e)))
		return KV_ENT_OUTSIDE;
	e = pool_ptr(p, oid);
	/* key and value go on past the header's line: load both at once */
	__builtin_prefetch((const char *)e + CACHELINE);
	out->e = e;
	out->oid = oid;
	out->next = RD(e->next);
	out->hash = RD(e->hash);
	out->klen = RD(e->klen);
	out->vlen = RD(e->vlen);
	if (out->klen == 0 || out->klen > DAXO_KEY_MAX)
		return KV_ENT_DAMAGED;
#ifndef DAXO_PLANT_KV_TRUSTING /* fuzz test: headers taken on trust */
	if (f.links &&
	    RD(e->flags) != kv_hcheck(out->hash, out->klen, out->vlen))
		return KV_ENT_DAMAGED;
#endif
	/* the entry, key and value lie inside the pool (overflow-safe) */
	uint64_t room = p->size - oid, voff = kv_voff(f, out->klen);
	if (voff > room || out->vlen > room - voff)
		return KV_ENT_DAMAGED;
	out->key = (const uint8_t *)e + kv_koff(f);
	out->val = (const uint8_t *)e + voff;
	if (f.csum)
		out->vsum = RD(*(const uint64_t *)((const uint8_t *)e +
						   KV_VSUM_OFF));
	return KV_ENT_OK;
}

/* the table geometry: stable under any stripe lock or a validated tseq */
struct kv_view {
	struct kv_anchor *a;
	uint64_t *bk, *old_bk;
	uint64_t n, old_n;
};

/*
 * kv_geo_set -- publish the checked view @v for racy walks (see struct kv).
 * One writer at a time (the init lock, or every stripe lock with resizing
 * set, or the single-threaded open); readers of a half-written view retry.
 */
static inline __attribute__((unused)) void kv_geo_set(struct kv *kv,
						      const struct kv_view *v)
{
	uint64_t s = atomic_load_explicit(&kv->geo_seq, memory_order_relaxed);

	atomic_store_explicit(&kv->geo_seq, s + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&kv->geo_bk, v->bk, memory_order_relaxed);
	atomic_store_explicit(&kv->geo_n, v->n, memory_order_relaxed);
	atomic_store_explicit(&kv->geo_old_bk, v->old_bk,
			      memory_order_relaxed);
	atomic_store_explicit(&kv->geo_old_n, v->old_n, memory_order_relaxed);
	atomic_store_explicit(&kv->geo_seq, s + 2, memory_order_release);
}

/*
 * kv_geo_get -- the published view, the four words of one kv_geo_set
 * (geo_seq even and unchanged around the loads). It is stable between two
 * equal even loads of tseq, or under any stripe lock. Not v->a: racy walks
 * do not need it. (A walk that sees a resize's new words sees its odd
 * tseq afterwards, as for the words on media.)
 */
static inline __attribute__((unused)) void kv_geo_get(struct kv *kv,
						      struct kv_view *v)
{
	v->a = NULL;
	for (;;) {
		uint64_t s = atomic_load_explicit(&kv->geo_seq,
						  memory_order_acquire);

		v->bk = atomic_load_explicit(&kv->geo_bk, memory_order_relaxed);
		v->n = atomic_load_explicit(&kv->geo_n, memory_order_relaxed);
		v->old_bk = atomic_load_explicit(&kv->geo_old_bk,
						 memory_order_relaxed);
		v->old_n = atomic_load_explicit(&kv->geo_old_n,
						memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		if (!(s & 1) &&
		    atomic_load_explicit(&kv->geo_seq, memory_order_relaxed) ==
			s)
			return;
		cpu_relax();
	}
}

static inline bool pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

/* kv_table_ok -- @oid holds a table of @n buckets (n already checked) */
KV_RACY static __attribute__((unused)) bool
kv_table_ok(const daxo_pool *p, uint64_t oid, uint64_t n)
{
	const struct kv_table *t;

	if (!pow2(n) || n < KV_MIN_BUCKETS || n > KV_MAX_BUCKETS ||
	    !kv_oid_ok(p, oid, sizeof(*t) + n * 8))
		return false;
	t = pool_ptr(p, oid);
	return RD(t->magic) == KV_TABLE_MAGIC && RD(t->nbuckets) == n;
}

/* kv_view_read -- the tables named by the anchor, checked */
KV_RACY static __attribute__((unused)) bool
kv_view_read(const daxo_pool *p, uint64_t anchor, struct kv_view *v)
{
	struct kv_anchor *a = pool_ptr(p, anchor);
	uint64_t t = RD(a->table), ot = RD(a->old_table);

	v->a = a;
	v->n = RD(a->nbuckets);
	v->old_n = RD(a->old_nbuckets);
	if (!kv_table_ok(p, t, v->n))
		return false;
	v->bk = ((struct kv_table *)pool_ptr(p, t))->bucket;
	v->old_bk = NULL;
	if (ot) {
		if (v->old_n * 2 != v->n || !kv_table_ok(p, ot, v->old_n))
			return false;
		v->old_bk = ((struct kv_table *)pool_ptr(p, ot))->bucket;
	} else if (v->old_n) {
		return false;
	}
	return true;
}

/*
 * ---- chain walks ----
 *
 * Every walk of a chain checks each link word (kv_unlink), each entry
 * header (kv_ent_read: bounds, lengths, its check word), that the entry
 * belongs in the chain (its hash names the bucket: hash & mask is the
 * bucket's index, for the mask of the table the bucket is in), and that the
 * chain has no cycle (Brent's method: the walk remembers the entry it
 * reached after 16 steps, then after 32 more, 64 more ..., and stops when
 * it meets the remembered one again, so a cycle is found within 16 + twice
 * its length plus the path to it). A walk that fails says which word or
 * entry was wrong.
 */
struct kv_walk {
	uint64_t h, mask;  /* any hash of the bucket; its table's n - 1 */
	uint64_t link;	   /* offset of the word that names the next entry */
	uint64_t word;	   /* that word, as read */
	uint64_t mark;	   /* Brent's remembered entry (0: none yet) */
	uint32_t lam, pow; /* steps since the mark; the next power of 2 */
	struct kv_fmt fmt;
};

/* longest chain a walk follows before it calls the store corrupted */
#define KV_CHAIN_MAX (1u << 20)

/* kv_walk_init -- a walk of the chain whose head is *@slot */
KV_RACY static KV_INLINE void kv_walk_init(struct kv_walk *w,
					   const daxo_pool *p,
					   const uint64_t *slot, uint64_t h,
					   uint64_t mask)
{
	w->h = h;
	w->mask = mask;
	w->link = pool_off(p, slot);
	w->word = RD(*slot);
	w->mark = 0;
	w->lam = 0;
	/* a first mark after 16 steps: short chains never reach it */
	w->pow = 16;
	w->fmt = p->kv->fmt;
}

/*
 * kv_walk_next -- the next entry of the chain, checked: 1 and *@en, 0 at
 * the end of the chain, or -EUCLEAN with en->oid and en->bad saying what
 * is wrong where
 */
KV_RACY static KV_INLINE int kv_walk_next(const daxo_pool *p, struct kv_walk *w,
					  struct kv_ent *en)
{
	uint64_t oid;
	int r;

	if (unlikely(!kv_unlink(w->fmt, w->word, w->link, &oid)))
		return kv_ent_bad(en, w->link,
				  "damaged link in a chain (its check does "
				  "not match)");
	if (!oid)
		return 0;
	if (unlikely(oid == w->mark))
		return kv_ent_bad(en, w->link, "the chain has a cycle");
	r = kv_ent_read(p, oid, en);
	if (unlikely(r))
		return r == KV_ENT_OUTSIDE
			   ? kv_ent_bad(en, w->link,
					"a chain links outside the heap")
			   : kv_ent_bad(en, oid,
					"damaged entry header in a chain");
	if (unlikely((en->hash ^ w->h) & w->mask))
		return kv_ent_bad(en, oid, "entry in the wrong chain");
	w->link = oid; /* its next word, at offset 0 */
	w->word = en->next;
	if (unlikely(++w->lam == w->pow)) {
		if (w->pow > KV_CHAIN_MAX)
			return kv_ent_bad(en, w->link, "chain too long");
		w->mark = oid;
		w->pow <<= 1;
		w->lam = 0;
	}
	return 1;
}

/* ---- kv_valid.c ---- */

/* kv_key_hash -- the hash of the key of the entry @en, with @seed */
KV_RACY uint64_t kv_key_hash(const struct kv_ent *en,
			     uint64_t seed) DAXO_HIDDEN;
/* kv_vsum -- the checksum of the value @v (@len bytes) of key hash @h */
KV_RACY uint64_t kv_vsum(const void *v, uint64_t len, uint64_t h) DAXO_HIDDEN;
/*
 * kv_val_ok -- with value checksums, does the value of @en (the bytes at
 * en->val, or the first en->vlen at @copy if not NULL) match its
 * checksum? 0, or -EUCLEAN with @en's bad set; 0 without checksums
 */
KV_RACY int kv_val_ok(const daxo_pool *p, struct kv_ent *en,
		      const void *copy) DAXO_HIDDEN;
/*
 * kv_chain_dup -- does a key occur twice among the @n checked entries @v
 * of one chain? -EUCLEAN (with @bad set) or 0
 */
int kv_chain_dup(const daxo_pool *p, const uint64_t *v, size_t n,
		 struct kv_ent *bad) DAXO_HIDDEN;
/*
 * kv_anchor_check -- check the anchor at @root and what it names (at open):
 * a live anchor object, its magic, its seed (against its check word, or
 * for anchors without one, against the stored keys), its tables (live
 * table objects of their size), its spare table, its key counts. 0 and *@v,
 * or -EUCLEAN with @bad set.
 */
int kv_anchor_check(daxo_pool *p, uint64_t root, struct kv_view *v,
		    struct kv_ent *bad) DAXO_HIDDEN;
/* kv_seed_seal -- give an anchor of an older library its check word */
void kv_seed_seal(daxo_pool *p, uint64_t root) DAXO_HIDDEN;
/*
 * kv_spare_ok -- may @t, the anchor's next_table, be freed: a live table
 * object that is neither of the tables @v names?
 */
bool kv_spare_ok(daxo_pool *p, const struct kv_view *v, uint64_t t) DAXO_HIDDEN;

#endif
