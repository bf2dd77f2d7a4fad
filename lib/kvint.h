/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kvint.h -- what the files of the keyed store give each other. Private to
 * kv.c, kv_op.c, kv_table.c and kv_read.c.
 *
 * The store is one design (kv.h) in four files: kv.c holds its state at
 * open and the public writes (daxo_put, daxo_del); kv_op.c a write's
 * transaction under its stripe locks (the chain it builds, the guarded
 * free of an entry, the commit); kv_table.c the table and its resize (the
 * first table, growth, the migration steps that ride in writes); kv_read.c
 * the lock-free read side (daxo_get, daxo_get_many, daxo_get_view) and
 * daxo_foreach. The lookup that both a get and an in-place put make
 * (kv_find) is here, inline, as are the small helpers every file calls on
 * its fast path: a call across files would cost them what inlining saves.
 */
#ifndef DAXO_KVINT_H
#define DAXO_KVINT_H 1

#include <stdatomic.h>
#include <string.h>
#include <sys/types.h>
#include <xxhash.h>

#include "kv.h"
#include "pool.h"
#include "tx.h"

#include "kv_walk.h"

/* thread-local: the pool whose callback this thread is running, if any */
extern _Thread_local daxo_pool *kv_in_callback DAXO_HIDDEN;

/* ---- kv_lock_t (kv.h; kv.c) ---------------------------------------------- */

static inline bool kv_trylock(kv_lock_t *l)
{
	uint32_t c = 0;

	return atomic_compare_exchange_strong_explicit(
	    &l->v, &c, 1, memory_order_acquire, memory_order_relaxed);
}

void kv_lock(kv_lock_t *l) DAXO_HIDDEN;
void kv_unlock(kv_lock_t *l) DAXO_HIDDEN;

/* ---- the lookup (kv_read.c, and kv.c's in-place put) --------------------- */

/*
 * kv_head -- the word holding the chain head of hash @h, and in *@mask the
 * bucket mask of its table
 */
KV_RACY static KV_INLINE uint64_t *kv_head(const daxo_pool *p,
					   struct kv_fmt fmt,
					   const struct kv_view *v, uint64_t h,
					   uint64_t *mask)
{
	if (v->old_bk) {
		uint64_t *ob = &v->old_bk[h & (v->old_n - 1)];
		if (!kv_moved(fmt, RD(*ob), pool_off(p, ob))) {
			*mask = v->old_n - 1;
			return ob;
		}
	}
	*mask = v->n - 1;
	return &v->bk[h & (v->n - 1)];
}

#ifndef KV_TSAN
/* ld8 -- 8 bytes from any address (one unaligned load) */
static inline uint64_t ld8(const uint8_t *b)
{
	uint64_t v;

	__builtin_memcpy(&v, b, 8);
	return v;
}
#endif

/*
 * kv_bytes_eq -- compare racy pool bytes with the caller's key. Keys of 8
 * to 32 bytes (the common ones) compare as two or four 8-byte words, the
 * last ones overlapping the first: inline, where a call to memcmp costs
 * more than the compare.
 */
KV_RACY static KV_INLINE bool kv_bytes_eq(const uint8_t *pm, const uint8_t *k,
					  size_t len)
{
#ifdef KV_TSAN
	for (size_t i = 0; i < len; i++)
		if (((const volatile uint8_t *)pm)[i] != k[i])
			return false;
	return true;
#else
	if (len >= 8 && len <= 16)
		return ((ld8(pm) ^ ld8(k)) |
			(ld8(pm + len - 8) ^ ld8(k + len - 8))) == 0;
	if (len > 16 && len <= 32)
		return ((ld8(pm) ^ ld8(k)) | (ld8(pm + 8) ^ ld8(k + 8)) |
			(ld8(pm + len - 16) ^ ld8(k + len - 16)) |
			(ld8(pm + len - 8) ^ ld8(k + len - 8))) == 0;
	return memcmp(pm, k, len) == 0;
#endif
}

/* most of a value kv_prefetch_value asks for: beyond it the copy's own
 * stream keeps the hardware prefetcher ahead */
#define KV_PREFETCH_MAX 2048u

/*
 * kv_prefetch_value -- ask for the header of the entry the link word @link
 * names and for the first @vbytes of its value (at least a line, at most
 * KV_PREFETCH_MAX), were it the entry of a key of @klen bytes (kv_voff): a
 * racy peek, harmless when @link is stale or another key's. A get names the
 * bytes it will copy as soon as it has read the bucket word: its copy takes its
 * addresses from the header's key length, so without this the value is a third
 * miss after the bucket's and the header's (a volatile table's copy, whose
 * source the CPU knows as soon as it has the entry's address, overlaps the
 * header's miss). It is issued for the chain's head right after the bucket word
 * is read, not entry by entry before each header's load: there it would come
 * too late to overlap anything.
 */
KV_RACY static KV_INLINE void
kv_prefetch_value(const daxo_pool *p, uint64_t link, size_t klen, size_t vbytes)
{
	/* a peek: the link's check is not needed to prefetch */
	uint64_t oid = link & KV_LINK_MASK, voff = kv_voff(p->kv->fmt, klen);

	vbytes = vbytes < 64		    ? 64
		 : vbytes > KV_PREFETCH_MAX ? KV_PREFETCH_MAX
					    : vbytes;
	if (oid == KV_MOVED || !kv_oid_ok(p, oid, voff + vbytes))
		return;
	const char *e = pool_ptr(p, oid);
	__builtin_prefetch(e);
	for (uint64_t o = voff & ~(uint64_t)63; o < voff + vbytes; o += 64)
		__builtin_prefetch(e + o);
}

/*
 * a racy walk rechecks the stripe count when Brent's mark moves after more
 * than this many steps (240, 496, 1008 ...), so that a walk through garbage
 * ends soon (the cycle check ends any loop anyway)
 */
#define KV_CHAIN_RECHECK 128u

/*
 * kv_find -- walk the chain of @h for @key. 1 and *@out if found, 0 if not,
 * -EUCLEAN if the chain is malformed (out->oid and out->bad say where and
 * what), -EAGAIN if @seq (racy walks) moved. An entry whose hash and key
 * length are the key's but whose key bytes are not is damaged unless its
 * bytes hash to its hash (a real collision): else the key would seem
 * absent, and a put would store it twice.
 */
KV_RACY static KV_INLINE int kv_find(const daxo_pool *p,
				     const struct kv_view *v, uint64_t h,
				     const void *key, uint32_t klen,
				     _Atomic uint64_t *seq, uint64_t seq0,
				     size_t vbytes, struct kv_ent *out)
{
	struct kv_walk w;
	uint64_t mask;
	const uint64_t *slot = kv_head(p, p->kv->fmt, v, h, &mask);
	int r;

	kv_walk_init(&w, p, slot, h, mask);
	if (vbytes)
		kv_prefetch_value(p, w.word, klen, vbytes);
	while ((r = kv_walk_next(p, &w, out)) > 0) {
		if (out->hash == h && out->klen == klen) {
			if (kv_bytes_eq(out->key, key, klen))
				return 1;
			if (kv_key_hash(out, p->kv->seed) != h)
				return kv_ent_bad(
				    out,
				    pool_off(p, out->key),
				    "key bytes do not hash to "
				    "the entry's hash");
		}
		if (unlikely(w.lam == 0 && w.pow > KV_CHAIN_RECHECK) && seq &&
		    atomic_load_explicit(seq, memory_order_acquire) != seq0)
			return -EAGAIN;
	}
	return r;
}

static inline struct kv_stripe *kv_stripe_of(struct kv *kv, uint64_t h)
{
	return &kv->stripes[h & (KV_STRIPES - 1)];
}

static inline uint64_t kv_hash(const struct kv *kv, const void *key,
			       size_t klen)
{
	return XXH3_64bits_withSeed(key, klen, kv->seed);
}

/* kv_ready -- the anchor exists (acquire: seed and anchor oid are set) */
static inline bool kv_ready(const struct kv *kv)
{
	return atomic_load_explicit(&kv->ready, memory_order_acquire);
}

static inline int kv_corrupt(daxo_pool *p, uint64_t off, const char *what)
{
	return daxo__err(-EUCLEAN, "%s: offset %llu: keyed store: %s", p->path,
			 (unsigned long long)off, what);
}

/* kv_usable -- the store may be read: 0, -ENOENT (no store yet), -EUCLEAN */
static inline int kv_usable(daxo_pool *p)
{
	struct kv *kv = p->kv;

	if (unlikely(pool_inherited(p)))
		return pool_own(p, "keyed store"); /* -EBADFD */
	if (unlikely(kv->bad))
		return daxo__err(-EUCLEAN,
				 "%s: offset %llu: keyed store: %s; the store "
				 "cannot be used",
				 p->path, (unsigned long long)kv->bad_off,
				 kv->bad_what);
	return kv_ready(kv) ? 0 : -ENOENT;
}

static inline int kv_check_key(const void *key, size_t klen, const char *fn)
{
	if (klen == 0 || klen > DAXO_KEY_MAX)
		return daxo__err(-EINVAL, "%s: key length %zu outside 1..%u",
				 fn, klen, DAXO_KEY_MAX);
	if (!key)
		return daxo__err(-EINVAL, "%s: NULL key", fn);
	return 0;
}

/* a chain as it will be after the transaction */
struct kv_chain {
	uint64_t *slot; /* its head word */
	size_t n, cap;
	uint64_t *v; /* entry oids in order */
	uint64_t inl[16];
};

static inline void kv_chain_init(struct kv_chain *c, uint64_t *slot)
{
	c->slot = slot;
	c->n = 0;
	c->cap = ARRAY_SIZE(c->inl);
	c->v = c->inl;
}

static inline void kv_chain_fini(struct kv_chain *c)
{
	if (c->v != c->inl)
		free(c->v);
}

#define KV_OP_MIG     24
#define KV_OP_STRIPES 2

/* one put or del: its transaction and what it did */
struct kv_op {
	daxo_pool *p;
	struct kv *kv;
	daxo_tx *tx;
	struct kv_view v;
	uint64_t new_oid; /* the entry this transaction allocated */
	unsigned nheld;
	unsigned held[KV_OP_STRIPES];
	uint64_t pos[KV_OP_STRIPES]; /* new mig_pos of each held stripe */
	unsigned nmig;
	uint64_t mig[KV_OP_MIG]; /* old buckets migrated by this tx */
	int64_t dkeys; /* keys the transaction adds to stripe held[0] */
};

static inline struct kv_entry *kv_entry_at(struct kv_op *op, uint64_t oid)
{
	return pool_ptr(op->p, oid);
}

static inline void kv_op_unlock(struct kv_op *op)
{
	for (unsigned i = op->nheld; i-- > 0;)
		kv_unlock(&op->kv->stripes[op->held[i]].lock);
}

static inline void kv_op_abort(struct kv_op *op)
{
	daxo_tx_abort(op->tx);
	kv_op_unlock(op);
}

/* ---- a write's transaction (kv_op.c) ------------------------------------ */

int kv_chain_push(struct kv_chain *c, uint64_t oid) DAXO_HIDDEN;
int kv_chain_read(struct kv_op *op, struct kv_chain *c, uint64_t h,
		  uint64_t mask) DAXO_HIDDEN;
int kv_chain_emit(struct kv_op *op, struct kv_chain *c) DAXO_HIDDEN;
int kv_op_begin(struct kv_op *op, daxo_pool *p, uint64_t h) DAXO_HIDDEN;
int kv_free_entry(struct kv_op *op, uint64_t oid) DAXO_HIDDEN;
int kv_op_commit(struct kv_op *op) DAXO_HIDDEN;
int kv_op_chain(struct kv_op *op, uint64_t h, struct kv_chain *c) DAXO_HIDDEN;
int kv_chain_find(struct kv_op *op, const struct kv_chain *c, uint64_t h,
		  const void *key, size_t klen, ssize_t *at) DAXO_HIDDEN;
int kv_count_add(struct kv_op *op, int64_t d) DAXO_HIDDEN;

/* ---- the table and its resize (kv_table.c) ------------------------------- */

int kv_create(daxo_pool *p) DAXO_HIDDEN;
int kv_migrate(struct kv_op *op, uint64_t ob, struct kv_chain *keep,
	       uint64_t keep_b) DAXO_HIDDEN;
int kv_migrate_some(struct kv_op *op, unsigned i, unsigned k) DAXO_HIDDEN;
int kv_help(struct kv_op *op) DAXO_HIDDEN;
void kv_after_write(daxo_pool *p, unsigned stripe) DAXO_HIDDEN;

#endif