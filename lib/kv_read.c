/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kv_read.c -- the keyed store's read side: daxo_get, daxo_get_many,
 * daxo_get_view and daxo_foreach. A lookup takes no lock: it reads the
 * stripe's and the table's sequence counts, walks the chain with every
 * check of kv.h's TRUST, and keeps what it read only if neither count
 * moved (kv.h: CONCURRENCY); after KV_READ_RETRIES attempts a writer spoiled,
 * or for a callback that wants the value to stay still, it holds the
 * stripe's lock. daxo_foreach walks stripe by stripe under each lock.
 *
 * Kept apart from the write side (kv.c, kv_op.c) because it writes
 * nothing: its only shared state is the seqlock protocol and the lookup
 * (kv_find, kvint.h) that an in-place put makes as well.
 */
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "heap.h"
#include "kv.h"
#include "tx.h"
#include "pool.h"

#include "kv_walk.h"
#include "kvint.h"

/* ---- the read side ------------------------------------------------------- */

/* kv_bytes_copy -- copy racy pool bytes to the caller's buffer */
KV_RACY static void kv_bytes_copy(uint8_t *dst, const uint8_t *pm, size_t len)
{
#ifdef KV_TSAN
	for (size_t i = 0; i < len; i++)
		dst[i] = ((const volatile uint8_t *)pm)[i];
#else
	memcpy(dst, pm, len);
#endif
}

/* a reader of a found entry: 0 or an error (-EUCLEAN: sets en->bad) */
typedef int (*kv_read_fn)(struct kv_ent *en, void *arg);

/*
 * kv_read_once -- one attempt of kv_read. Damage (-EUCLEAN) is described
 * in daxo_errormsg() at once; the caller returns it only if the attempt
 * validates, and a message left by an attempt that did not is never read.
 */
KV_RACY static KV_INLINE int kv_read_once(daxo_pool *p, uint64_t h,
					  const void *key, uint32_t klen,
					  _Atomic uint64_t *seq, uint64_t seq0,
					  size_t vbytes, kv_read_fn fn,
					  void *arg)
{
	struct kv_view v;
	struct kv_ent en;
	int r;

	kv_geo_get(p->kv, &v);
	r = kv_find(p, &v, h, key, klen, seq, seq0, vbytes, &en);
	if (r > 0)
		r = fn(&en, arg);
	else if (r == 0)
		return -ENOENT;
	if (unlikely(r == -EUCLEAN))
		return kv_corrupt(p, en.oid, en.bad);
	return r;
}

/*
 * kv_read_h -- look @key, of hash @h, up and hand its entry to @fn, under
 * the seqlock protocol of kv.h; fn is called once per attempt, and only the
 * result of a validated attempt (or of the locked attempt) is returned.
 * @vbytes: how much of the value to ask for ahead (kv_prefetch_value).
 * After KV_READ_RETRIES attempts that a writer invalidated (or at once,
 * @locked_only: a callback wants stability) the attempt holds the stripe's
 * lock -- but not from inside a callback, which holds another stripe: a
 * resize waiting for that one may hold ours (lock order); it keeps trying.
 */
static KV_INLINE int kv_read_h(daxo_pool *p, uint64_t h, const void *key,
			       size_t klen, size_t vbytes, kv_read_fn fn,
			       void *arg, bool locked_only)
{
	struct kv *kv = p->kv;
	struct kv_stripe *st = kv_stripe_of(kv, h);
	unsigned tries = 0, spins = 0;
	bool lock = locked_only;
	int r;

	for (;;) {
		uint64_t t0 = 0, s0 = 0;

		if (unlikely(lock)) {
			kv_lock(&st->lock);
		} else {
			t0 = atomic_load_explicit(&kv->tseq,
						  memory_order_acquire);
			s0 = atomic_load_explicit(&st->seq,
						  memory_order_acquire);
			if (unlikely((t0 | s0) & 1)) {
				/* a writer commits (about a microsecond) */
				if (++spins % 128 == 0 ||
				    tries >= KV_READ_RETRIES)
					sched_yield();
				else
					cpu_relax();
				continue;
			}
		}
		r = kv_read_once(p, h, key, (uint32_t)klen,
				 lock ? NULL : &st->seq, s0, vbytes, fn, arg);
		if (unlikely(lock)) {
			kv_unlock(&st->lock);
			return r;
		}
		atomic_thread_fence(memory_order_acquire);
		if (likely(atomic_load_explicit(&kv->tseq,
						memory_order_relaxed) == t0 &&
			   atomic_load_explicit(&st->seq,
						memory_order_relaxed) == s0))
			return r;
		if (++tries >= KV_READ_RETRIES && kv_in_callback != p)
			lock = true;
	}
}

static KV_INLINE int kv_read(daxo_pool *p, const void *key, size_t klen,
			     size_t vbytes, kv_read_fn fn, void *arg,
			     bool locked_only)
{
	return kv_read_h(p, kv_hash(p->kv, key, klen), key, klen, vbytes, fn,
			 arg, locked_only);
}

struct kv_copy {
	void *buf;
	size_t cap;
	uint64_t vlen;
	const daxo_pool *p;
};

KV_RACY static int kv_copy_fn(struct kv_ent *en, void *arg)
{
	struct kv_copy *c = arg;
	size_t n = en->vlen < c->cap ? (size_t)en->vlen : c->cap;

	if (n)
		kv_bytes_copy(c->buf, en->val, n);
	c->vlen = en->vlen;
	/* the copy checked (what the caller gets), or all of the value */
	if (unlikely(c->p->kv->fmt.csum) &&
	    kv_val_ok(c->p, en, n == en->vlen ? c->buf : NULL))
		return -EUCLEAN;
	return n == en->vlen ? 0 : -ENOBUFS;
}

/* kv_get_fast's answer when it cannot give one: take the general path */
#define KV_SLOW 1
/* longest chain kv_get_fast walks (a longer one: the general path) */
#define KV_FAST_STEPS 16u

/*
 * kv_get_fast -- daxo_get's common case in one optimistic pass: no writer
 * of the key's stripe or resize in the way, a chain of at most
 * KV_FAST_STEPS entries, nothing damaged. It reads the stripe's and the
 * table's counts, the cached geometry (struct kv) and the bucket word (in
 * the old table while a resize has not migrated it: kv_head); with
 * @prefetch it then asks for the chain head's header and the first @cap
 * bytes of its value at once (kv_prefetch_value); it walks the chain with
 * every check of kv.h's TRUST (kv_walk_next), compares the key inline,
 * copies the value, and validates both counts. 0 or -ENOBUFS (*@vlen
 * set), or -ENOENT, after a validated pass; KV_SLOW for anything else -- a
 * count odd or moved, a long chain, damage, a key of the right hash and
 * length with other bytes -- where the caller takes kv_read_h, which
 * retries, locks, and names damage.
 */
KV_RACY static KV_INLINE int kv_get_fast(daxo_pool *p, uint64_t h,
					 const void *key, uint32_t klen,
					 void *buf, size_t cap, uint64_t *vlen,
					 bool prefetch)
{
	struct kv *kv = p->kv;
	struct kv_stripe *st = kv_stripe_of(kv, h);
	uint64_t t0 = atomic_load_explicit(&kv->tseq, memory_order_acquire);
	uint64_t s0 = atomic_load_explicit(&st->seq, memory_order_acquire);
	struct kv_view v;
	struct kv_walk w;
	struct kv_ent en;
	uint64_t mask;
	unsigned steps = 0;
	int r, res = -ENOENT;

	if (unlikely((t0 | s0) & 1))
		return KV_SLOW;
	kv_geo_get(kv, &v);
	const uint64_t *slot = kv_head(p, kv->fmt, &v, h, &mask);
	kv_walk_init(&w, p, slot, h, mask);
	if (prefetch)
		kv_prefetch_value(p, w.word, klen, cap);
	while ((r = kv_walk_next(p, &w, &en)) > 0) {
		if (en.hash == h && en.klen == klen) {
			if (unlikely(!kv_bytes_eq(en.key, key, klen)))
				return KV_SLOW;
			size_t n = en.vlen < cap ? (size_t)en.vlen : cap;
			if (n)
				kv_bytes_copy(buf, en.val, n);
			*vlen = en.vlen;
			/* a value that fails its checksum: the general path
			 * names it, if the damage is not a writer's */
			if (unlikely(kv->fmt.csum) &&
			    kv_val_ok(p, &en, n == en.vlen ? buf : NULL))
				return KV_SLOW;
			res = n == en.vlen ? 0 : -ENOBUFS;
			break;
		}
		if (unlikely(++steps == KV_FAST_STEPS))
			return KV_SLOW;
	}
	if (unlikely(r < 0))
		return KV_SLOW;
	atomic_thread_fence(memory_order_acquire);
	if (unlikely(
		atomic_load_explicit(&kv->tseq, memory_order_relaxed) != t0 ||
		atomic_load_explicit(&st->seq, memory_order_relaxed) != s0))
		return KV_SLOW;
	return res;
}

DAXO_EXPORT int daxo_get(daxo_pool *p, const void *key, size_t klen, void *buf,
			 size_t cap, size_t *vlen)
{
	struct kv_copy c = {buf, cap, 0, p};
	uint64_t h;
	int r;

	daxo__err_clear();
	if (!p)
		return daxo__err(-EINVAL, "daxo_get: NULL pool");
	r = kv_check_key(key, klen, "daxo_get");
	if (r)
		return r;
	if (!buf && cap)
		return daxo__err(-EINVAL, "daxo_get: NULL buffer of %zu bytes",
				 cap);
	r = kv_usable(p);
	if (r == -ENOENT)
		return daxo__err(-ENOENT, "%s: daxo_get: no such key", p->path);
	if (r)
		return r;
	h = kv_hash(p->kv, key, klen);
	r = kv_get_fast(p, h, key, (uint32_t)klen, buf, cap, &c.vlen, true);
	if (unlikely(r == KV_SLOW))
		r = kv_read_h(p, h, key, klen, cap, kv_copy_fn, &c, false);
	if (r == -ENOENT)
		return daxo__err(-ENOENT, "%s: daxo_get: no such key", p->path);
	if (r == 0 || r == -ENOBUFS) {
		if (vlen)
			*vlen = (size_t)c.vlen;
		if (r)
			return daxo__err(r,
					 "daxo_get: value of %llu bytes "
					 "does not fit in %zu",
					 (unsigned long long)c.vlen, cap);
	}
	return r;
}

/* lookups of daxo_get_many whose cache misses overlap */
#define KV_GET_GROUP 8u

/* kv_req_check -- the arguments of one request, as daxo_get checks them */
static int kv_req_check(const struct daxo_get_req *q)
{
	if (q->klen == 0 || q->klen > DAXO_KEY_MAX || !q->key)
		return -EINVAL;
	if (!q->buf && q->cap)
		return -EINVAL;
	return 0;
}

/* kv_peek_word -- the word at @w, if it lies in the heap, else 0 */
KV_RACY static KV_INLINE uint64_t kv_peek_word(const daxo_pool *p,
					       const uint64_t *w)
{
	uint64_t off = pool_off(p, w);

	return off >= p->hdr.heap_off && pool_in_range(p, off, sizeof(*w))
		   ? RD(*w)
		   : 0;
}

/*
 * kv_prefetch_chain -- read the bucket word of @h in the geometry @v (the
 * old table's while a resize has not migrated it, as kv_head) and ask for
 * the entry it names and the value's first @vbytes (kv_prefetch_value): a
 * racy peek. @v may mix a resize's old and new words, so each word's
 * address is checked to lie in the heap before it is read.
 */
KV_RACY static KV_INLINE void kv_prefetch_chain(const daxo_pool *p,
						const struct kv_view *v,
						uint64_t h, size_t klen,
						size_t vbytes)
{
	uint64_t w = 0;

	if (v->old_bk) {
		const uint64_t *ob = &v->old_bk[h & (v->old_n - 1)];

		w = kv_peek_word(p, ob);
		if (kv_moved(p->kv->fmt, w, pool_off(p, ob)))
			w = 0;
	}
	if (!w)
		w = kv_peek_word(p, &v->bk[h & (v->n - 1)]);
	kv_prefetch_value(p, w, klen, vbytes);
}

DAXO_EXPORT int daxo_get_many(daxo_pool *p, struct daxo_get_req *reqs, size_t n)
{
	uint64_t h[KV_GET_GROUP];
	struct kv_view v;
	char first[512];
	int ok = 0, first_rc = 0, store;

	daxo__err_clear();
	if (!p || (!reqs && n) || n > INT_MAX)
		return daxo__err(-EINVAL, "daxo_get_many: %s",
				 !p	       ? "NULL pool"
				 : n > INT_MAX ? "more than INT_MAX requests"
					       : "NULL requests");
	store = kv_usable(p);
	for (size_t g = 0; g < n; g += KV_GET_GROUP) {
		size_t m = n - g < KV_GET_GROUP ? n - g : KV_GET_GROUP;
		struct daxo_get_req *q = reqs + g;

		/*
		 * Every key's hash and bucket, then the chains' heads: racy
		 * peeks at the geometry, for prefetches only (the walks
		 * below read it again under the seqlock)
		 */
		kv_geo_get(p->kv, &v);
		for (size_t i = 0; i < m; i++) {
			q[i].rc = kv_req_check(&q[i]);
			if (!q[i].rc)
				q[i].rc = store;
			if (q[i].rc)
				continue;
			h[i] = kv_hash(p->kv, q[i].key, q[i].klen);
			if (v.old_bk)
				__builtin_prefetch(
				    &v.old_bk[h[i] & (v.old_n - 1)]);
			__builtin_prefetch(&v.bk[h[i] & (v.n - 1)]);
		}
		for (size_t i = 0; i < m; i++)
			if (!q[i].rc)
				kv_prefetch_chain(p, &v, h[i], q[i].klen,
						  q[i].cap);
		for (size_t i = 0; i < m; i++) {
			struct kv_copy c = {q[i].buf, q[i].cap, 0, p};
			int r = q[i].rc;

			if (!r) {
				r = kv_get_fast(p, h[i], q[i].key,
						(uint32_t)q[i].klen, q[i].buf,
						q[i].cap, &c.vlen, false);
				if (unlikely(r == KV_SLOW))
					r = kv_read_h(p, h[i], q[i].key,
						      q[i].klen, 0, kv_copy_fn,
						      &c, false);
				if (r == 0 || r == -ENOBUFS)
					q[i].vlen = (size_t)c.vlen;
			}
			q[i].rc = r;
			if (!r) {
				ok++;
			} else if (!first_rc) {
				first_rc = r;
				/* a damaged store said where; keep it */
				if (r == -EUCLEAN)
					snprintf(first, sizeof(first), "%s",
						 daxo_errormsg());
				else
					snprintf(first, sizeof(first),
						 "%s: daxo_get_many: request "
						 "%zu: %s",
						 p->path, g + i,
						 r == -ENOENT ? "no such key"
						 : r == -ENOBUFS
						     ? "value does not fit"
						     : "bad key or buffer");
			}
		}
	}
	if (first_rc)
		daxo__err(first_rc, "%s", first);
	return ok;
}

struct kv_view_cb {
	int (*cb)(const void *val, size_t vlen, void *arg);
	void *arg;
	const daxo_pool *p;
};

static int kv_view_fn(struct kv_ent *en, void *arg)
{
	struct kv_view_cb *c = arg;

	/* under the stripe lock: the bytes checked are the bytes handed out */
	if (kv_val_ok(c->p, en, NULL))
		return -EUCLEAN;
	return c->cb(en->val, (size_t)en->vlen, c->arg);
}

DAXO_EXPORT int
daxo_get_view(daxo_pool *p, const void *key, size_t klen,
	      int (*cb)(const void *val, size_t vlen, void *arg), void *arg)
{
	struct kv_view_cb c = {cb, arg, p};
	daxo_pool *prev;
	int r;

	daxo__err_clear();
	if (!p || !cb)
		return daxo__err(-EINVAL, "daxo_get_view: NULL argument");
	r = kv_check_key(key, klen, "daxo_get_view");
	if (r)
		return r;
	if (kv_in_callback == p)
		return daxo__err(-EDEADLK,
				 "daxo_get_view: called from a "
				 "daxo_foreach or daxo_get_view callback");
	r = kv_usable(p);
	if (r == -ENOENT)
		return daxo__err(-ENOENT, "%s: daxo_get_view: no such key",
				 p->path);
	if (r)
		return r;
	prev = kv_in_callback;
	kv_in_callback = p;
	r = kv_read(p, key, klen, 64, kv_view_fn, &c, true);
	kv_in_callback = prev;
	if (r == -ENOENT)
		return daxo__err(-ENOENT, "%s: daxo_get_view: no such key",
				 p->path);
	return r;
}

/*
 * kv_walk_chain -- call @cb for each entry from *@slot, the head of bucket
 * @b of a table of @mask + 1 buckets (stripe locked). The whole chain is
 * checked first -- each entry where it belongs, its key hashing to its hash,
 * no cycle, no key twice -- so that damage ends the walk before a callback
 * sees a key twice or a key that is not one.
 */
static int
kv_walk_chain(daxo_pool *p, uint64_t *slot, uint64_t b, uint64_t mask,
	      int (*cb)(const void *, size_t, const void *, size_t, void *),
	      void *arg)
{
	struct kv_chain c;
	struct kv_walk w;
	struct kv_ent en;
	int r = 0;

	kv_chain_init(&c, slot);
	kv_walk_init(&w, p, slot, b, mask);
	while ((r = kv_walk_next(p, &w, &en)) > 0) {
		if (kv_key_hash(&en, p->kv->seed) != en.hash) {
			r = kv_corrupt(p,
				       pool_off(p, en.key),
				       "key bytes do not hash to the entry's "
				       "hash");
			goto out;
		}
		r = kv_chain_push(&c, en.oid);
		if (r)
			goto out;
	}
	if (r || kv_chain_dup(p, c.v, c.n, &en)) {
		r = kv_corrupt(p, en.oid, en.bad);
		goto out;
	}
	for (size_t i = 0; !r && i < c.n; i++) {
		kv_ent_read(p, c.v[i], &en);
		if (kv_val_ok(p, &en, NULL))
			r = kv_corrupt(p, en.oid, en.bad);
		else
			r = cb(en.key, en.klen, en.val, (size_t)en.vlen, arg);
	}
out:
	kv_chain_fini(&c);
	return r;
}

DAXO_EXPORT int daxo_foreach(daxo_pool *p,
			     int (*cb)(const void *key, size_t klen,
				       const void *val, size_t vlen, void *arg),
			     void *arg)
{
	struct kv *kv;
	daxo_pool *prev;
	int r = 0;

	daxo__err_clear();
	if (!p || !cb)
		return daxo__err(-EINVAL, "daxo_foreach: NULL argument");
	kv = p->kv;
	if (kv_in_callback == p)
		return daxo__err(-EDEADLK,
				 "daxo_foreach: called from a "
				 "daxo_foreach or daxo_get_view callback");
	r = kv_usable(p);
	if (r)
		return r == -ENOENT ? 0 : r;
	prev = kv_in_callback;
	kv_in_callback = p;
	/*
	 * Stripe by stripe, under its lock: a key belongs to one stripe for
	 * good, and no resize can start or end while we hold one, so every
	 * key present throughout the walk is seen exactly once.
	 */
	for (unsigned s = 0; s < KV_STRIPES && !r; s++) {
		/* zeroed: kv_view_read, inlined here, may fail before it
		 * sets v, and GCC cannot tell that r is then not 0 */
		struct kv_view v = {0};
		kv_lock(&kv->stripes[s].lock);
		if (!kv_view_read(p, kv->anchor, &v))
			r = kv_corrupt(p, kv->anchor, "bad table");
		for (uint64_t b = s; !r && v.old_bk && b < v.old_n;
		     b += KV_STRIPES)
			if (!kv_moved(kv->fmt, v.old_bk[b],
				      pool_off(p, &v.old_bk[b])))
				r = kv_walk_chain(p, &v.old_bk[b], b,
						  v.old_n - 1, cb, arg);
		for (uint64_t b = s; !r && b < v.n; b += KV_STRIPES)
			r = kv_walk_chain(p, &v.bk[b], b, v.n - 1, cb, arg);
		kv_unlock(&kv->stripes[s].lock);
	}
	kv_in_callback = prev;
	return r;
}
