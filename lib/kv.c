/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kv.c -- the keyed object store: a chained hash table in the pool, changed
 * only through redo-only transactions of the public API (so it inherits
 * their crash atomicity and their one-fence commit: kv.h counts the fences
 * of each operation), read by lock-free
 * readers that validate against per-stripe sequence counts, and grown by an
 * incremental resize whose migration steps ride in ordinary writes.
 *
 * kv.h describes the on-media format and the protocol; this file follows it.
 *
 * Thread-safety: daxo_put, daxo_del, daxo_get, daxo_get_view and
 * daxo_foreach may be called from any number of threads at once. Writers of
 * keys in different stripes (KV_STRIPES of them, by hash) run in parallel;
 * readers never block writers and take no lock unless a stripe keeps
 * changing under them. Callbacks (daxo_foreach, daxo_get_view) run under a
 * stripe lock and must not put or delete (refused with -EDEADLK). A put or
 * delete from a thread that has its own transaction open on the pool gets
 * -EBUSY (kv_write_check): it would be a block of that transaction.
 */
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "heap.h"
#include "kv.h"
#include "tx.h"
#include "pool.h"

#include "kv_walk.h"

/* thread-local: the pool whose callback this thread is running, if any */
static _Thread_local daxo_pool *kv_in_callback;

/* ---- kv_lock_t (kv.h) ---------------------------------------------------- */

static void kv_futex(_Atomic uint32_t *w, int op, uint32_t val)
{
	syscall(SYS_futex, w, op | FUTEX_PRIVATE_FLAG, val, NULL, NULL, 0);
}

static inline bool kv_trylock(kv_lock_t *l)
{
	uint32_t c = 0;

	return atomic_compare_exchange_strong_explicit(
	    &l->v, &c, 1, memory_order_acquire, memory_order_relaxed);
}

static void kv_lock(kv_lock_t *l)
{
	uint32_t c;

	/*
	 * Try at once: a load first would fetch a line another core wrote
	 * in shared state only for the exchange to fetch it again.
	 */
	if (kv_trylock(l))
		return;
	/* commits hold a stripe for about a microsecond: spin a little */
	for (unsigned i = 0; i < 100; i++) {
		if (atomic_load_explicit(&l->v, memory_order_relaxed) == 0 &&
		    kv_trylock(l))
			return;
		cpu_relax();
	}
	c = 0;
	if (atomic_compare_exchange_strong_explicit(
		&l->v, &c, 1, memory_order_acquire, memory_order_relaxed))
		return;
	if (c != 2)
		c = atomic_exchange_explicit(&l->v, 2, memory_order_acquire);
	while (c != 0) {
		kv_futex(&l->v, FUTEX_WAIT, 2);
		c = atomic_exchange_explicit(&l->v, 2, memory_order_acquire);
	}
}

static void kv_unlock(kv_lock_t *l)
{
	if (atomic_fetch_sub_explicit(&l->v, 1, memory_order_release) != 1) {
		atomic_store_explicit(&l->v, 0, memory_order_release);
		kv_futex(&l->v, FUTEX_WAKE, 1);
	}
}

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

/* ---- volatile state --------------------------------------------------- */

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

static int kv_corrupt(daxo_pool *p, uint64_t off, const char *what)
{
	return daxo__err(-EUCLEAN, "%s: offset %llu: keyed store: %s", p->path,
			 (unsigned long long)off, what);
}

/* kv_scan_old -- count the unmigrated buckets of the old table (open) */
static void kv_scan_old(daxo_pool *p, const struct kv_view *v)
{
	struct kv *kv = p->kv;
	uint64_t total = 0;

	for (unsigned s = 0; s < KV_STRIPES; s++) {
		uint64_t left = 0;
		for (uint64_t b = s; b < v->old_n; b += KV_STRIPES)
			left += !kv_moved(kv->fmt, v->old_bk[b],
					  pool_off(p, &v->old_bk[b]));
		kv->stripes[s].mig_pos = 0;
		atomic_store(&kv->stripes[s].mig_left, left);
		total += left;
	}
	atomic_store(&kv->mig_left, total);
}

void kv_format(daxo_pool *p)
{
	/* p->meta is set at boot, after the format */
	struct pool_meta *m = pool_ptr(p, p->hdr.meta_off);
	uint64_t *w = &m->kv_root;
	uint64_t none = kv_link(kv_fmt_of(p->hdr.incompat), 0, pool_off(p, w));

	/* durable with the other regions, before the header names them */
	persist_memcpy(&p->ps, w, &none, sizeof(none));
}

int kv_boot(daxo_pool *p)
{
	struct kv *kv;
	uint64_t root, root_at = pool_off(p, &p->meta->kv_root);
	struct kv_view v;

	kv = aligned_alloc(64, sizeof(*kv));
	if (!kv)
		return daxo__err(-ENOMEM, "%s: keyed store: out of memory",
				 p->path);
	memset(kv, 0, sizeof(*kv));
	kv->fmt = kv_fmt_of(p->hdr.incompat);
	p->kv = kv;
	if (!kv_unlink(kv->fmt, p->meta->kv_root, root_at, &root)) {
		kv->bad = -EUCLEAN;
		kv->bad_off = root_at;
		kv->bad_what = "the pool meta's word for the keyed store is "
			       "damaged (its check does not match)";
		return 0;
	}
	if (!root)
		return 0;

	/*
	 * A damaged anchor does not make the pool unopenable: the rest of it
	 * stays usable and the keyed store's calls return -EUCLEAN.
	 */
	struct kv_ent bad;
	if (kv_anchor_check(p, root, &v, &bad)) {
		kv->bad = -EUCLEAN;
		kv->bad_off = bad.oid;
		kv->bad_what = bad.bad;
		return 0;
	}
	for (unsigned s = 0; s < KV_STRIPES; s++)
		atomic_store_explicit(&kv->stripes[s].nkeys,
				      (int64_t)v.a->count[s],
				      memory_order_relaxed);
	if (v.old_bk)
		kv_scan_old(p, &v);
	kv_geo_set(kv, &v);
	kv->seed = v.a->seed;
	kv->anchor = root;
	atomic_store_explicit(&kv->ready, true, memory_order_release);
	kv_seed_seal(p, root);
	return 0;
}

void kv_cleanup(daxo_pool *p)
{
	struct kv *kv = p->kv;

	if (!kv)
		return;
	free(kv);
	p->kv = NULL;
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

/* kv_table_empty -- every bucket of @t (its count set) an empty chain */
static void kv_table_empty(daxo_pool *p, struct kv_table *t)
{
	struct kv_fmt f = p->kv->fmt;

	if (!f.links)
		return; /* a zeroed table */
	for (uint64_t b = 0; b < t->nbuckets; b++)
		t->bucket[b] = kv_link(f, 0, pool_off(p, &t->bucket[b]));
}

/* kv_create -- make the anchor and the first table, in one transaction */
static int kv_create(daxo_pool *p)
{
	struct kv *kv = p->kv;
	struct kv_anchor *a;
	struct kv_table *t;
	daxo_oid aoid, toid;
	daxo_tx *tx;
	uint64_t seed;
	int ret;

	kv_lock(&kv->init_lock);
	if (kv_ready(kv)) {
		ret = 0;
		goto out;
	}
	if (!persist_random(persist_of(p), &seed, sizeof(seed)))
		seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull ^
		       (uint64_t)getpid() ^ (uint64_t)(uintptr_t)&seed;
	ret = daxo_tx_begin(p, &tx);
	if (ret)
		goto out;
	ret = tx_alloc_lib(tx, sizeof(*a), KV_TYPE_ANCHOR, &aoid);
	if (!ret)
		ret = tx_alloc_lib(tx, sizeof(*t) + KV_MIN_BUCKETS * 8,
				   KV_TYPE_TABLE, &toid);
	if (ret) {
		daxo_tx_abort(tx);
		goto out;
	}
	/* both objects belong to the transaction: filled directly, zeroed */
	a = daxo_direct(p, aoid);
	t = daxo_direct(p, toid);
	t->magic = KV_TABLE_MAGIC;
	t->nbuckets = KV_MIN_BUCKETS;
	kv_table_empty(p, t);
	a->magic = KV_ANCHOR_MAGIC;
	a->seed = seed;
	a->seed_check = kv_seed_check(a);
	a->table = toid;
	a->nbuckets = KV_MIN_BUCKETS;
	uint64_t w = kv_link(kv->fmt, aoid, pool_off(p, &p->meta->kv_root));
	ret = daxo_tx_write(tx, &p->meta->kv_root, &w, sizeof(w));
	if (ret) {
		daxo_tx_abort(tx);
		goto out;
	}
	ret = daxo_tx_commit(tx);
	if (ret)
		goto out;
	kv->seed = seed;
	kv->anchor = aoid;
	kv_geo_set(kv, &(struct kv_view){.bk = t->bucket, .n = KV_MIN_BUCKETS});
	atomic_store_explicit(&kv->ready, true, memory_order_release);
out:
	kv_unlock(&kv->init_lock);
	return ret;
}

/* ---- the read side ------------------------------------------------------ */

/*
 * kv_prefetch -- start loading what a put or del of @h will touch, before
 * it takes the stripe lock: the stripe's line in exclusive state, the
 * bucket word at once, then the chain's first entry and the first line of
 * its value (kv_prefetch_value), which load while the writer takes the
 * lock and begins its transaction -- each a miss it would otherwise wait
 * for one after the other. An unlocked peek: the locked walk reads
 * everything again.
 */
KV_RACY static void kv_prefetch(const daxo_pool *p, uint64_t h, size_t klen)
{
	struct kv_view v;

	__builtin_prefetch(&p->kv->stripes[h & (KV_STRIPES - 1)], 1);
	kv_geo_get(p->kv, &v);
	kv_prefetch_value(p, RD(v.bk[h & (v.n - 1)]), klen, 64);
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

static int kv_check_key(const void *key, size_t klen, const char *fn)
{
	if (klen == 0 || klen > DAXO_KEY_MAX)
		return daxo__err(-EINVAL, "%s: key length %zu outside 1..%u",
				 fn, klen, DAXO_KEY_MAX);
	if (!key)
		return daxo__err(-EINVAL, "%s: NULL key", fn);
	return 0;
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

/* ---- the write side ----------------------------------------------------- */

/* a chain as it will be after the transaction */
struct kv_chain {
	uint64_t *slot; /* its head word */
	size_t n, cap;
	uint64_t *v; /* entry oids in order */
	uint64_t inl[16];
};

static void kv_chain_init(struct kv_chain *c, uint64_t *slot)
{
	c->slot = slot;
	c->n = 0;
	c->cap = ARRAY_SIZE(c->inl);
	c->v = c->inl;
}

static void kv_chain_fini(struct kv_chain *c)
{
	if (c->v != c->inl)
		free(c->v);
}

static int kv_chain_push(struct kv_chain *c, uint64_t oid)
{
	if (c->n == c->cap) {
		size_t ncap = c->cap * 2;
		uint64_t *nv = malloc(ncap * sizeof(*nv));
		if (!nv)
			return daxo__err(-ENOMEM, "keyed store: out of memory");
		memcpy(nv, c->v, c->n * sizeof(*nv));
		if (c->v != c->inl)
			free(c->v);
		c->v = nv;
		c->cap = ncap;
	}
	c->v[c->n++] = oid;
	return 0;
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

/*
 * kv_chain_read -- the chain starting at *@slot (under the stripe lock),
 * every link and entry checked (kv_walk_next, no key twice) with @h and
 * @mask for its bucket
 */
static int kv_chain_read(struct kv_op *op, struct kv_chain *c, uint64_t h,
			 uint64_t mask)
{
	struct kv_walk w;
	struct kv_ent en;
	int r;

	kv_walk_init(&w, op->p, c->slot, h, mask);
	while ((r = kv_walk_next(op->p, &w, &en)) > 0) {
		r = kv_chain_push(c, en.oid);
		if (r)
			return r;
	}
	if (r)
		return kv_corrupt(op->p, en.oid, en.bad);
	if (kv_chain_dup(op->p, c->v, c->n, &en))
		return kv_corrupt(op->p, en.oid, en.bad);
	return 0;
}

static inline struct kv_entry *kv_entry_at(struct kv_op *op, uint64_t oid)
{
	return pool_ptr(op->p, oid);
}

/*
 * kv_chain_emit -- stage the words that turn the chain on media into @c:
 * the head and every next field that differs (reads see the old values,
 * since staged writes land only at commit). The new entry is ours: its
 * next field is written directly.
 */
static int kv_chain_emit(struct kv_op *op, struct kv_chain *c)
{
	struct kv_fmt f = op->kv->fmt;
	uint64_t want =
	    kv_link(f, c->n ? c->v[0] : 0, pool_off(op->p, c->slot));
	int r;

	if (*c->slot != want) {
		r = daxo_tx_write(op->tx, c->slot, &want, sizeof(want));
		if (r)
			return r;
	}
	for (size_t i = 0; i < c->n; i++) {
		struct kv_entry *e = kv_entry_at(op, c->v[i]);
		want = kv_link(f, i + 1 < c->n ? c->v[i + 1] : 0, c->v[i]);
		if (c->v[i] == op->new_oid)
			continue; /* tx_fill wrote its next field */
		if (e->next != want) {
			r = daxo_tx_write(op->tx, &e->next, &want,
					  sizeof(want));
			if (r)
				return r;
		}
	}
	return 0;
}

static bool kv_op_migrated(const struct kv_op *op, uint64_t ob)
{
	for (unsigned i = 0; i < op->nmig; i++)
		if (op->mig[i] == ob)
			return true;
	return false;
}

/*
 * kv_migrate -- move old bucket @ob to new buckets ob and ob + old_n in this
 * transaction. If @keep is given, the chain of new bucket @keep_b is left
 * unstaged in *@keep for the caller to change and emit.
 */
static int kv_migrate(struct kv_op *op, uint64_t ob, struct kv_chain *keep,
		      uint64_t keep_b)
{
	struct kv_view *v = &op->v;
	struct kv_chain old, lo, hi;
	struct kv_fmt f = op->kv->fmt;
	uint64_t moved, t_lo, t_hi;
	int r;

	if (op->nmig == KV_OP_MIG)
		return 0;
	kv_chain_init(&old, &v->old_bk[ob]);
	kv_chain_init(&lo, &v->bk[ob]);
	kv_chain_init(&hi, &v->bk[ob + v->old_n]);
	moved = kv_link(f, KV_MOVED, pool_off(op->p, old.slot));
	if (!kv_unlink(f, *lo.slot, pool_off(op->p, lo.slot), &t_lo) ||
	    !kv_unlink(f, *hi.slot, pool_off(op->p, hi.slot), &t_hi) || t_lo ||
	    t_hi) {
		r = kv_corrupt(op->p,
			       pool_off(op->p, *lo.slot ? lo.slot : hi.slot),
			       "resize target bucket not empty");
		goto out;
	}
	r = kv_chain_read(op, &old, ob, v->old_n - 1);
	for (size_t i = 0; !r && i < old.n; i++) {
		uint64_t h = kv_entry_at(op, old.v[i])->hash;
		r = kv_chain_push(h & v->old_n ? &hi : &lo, old.v[i]);
	}
	if (r)
		goto out;
	r = daxo_tx_write(op->tx, old.slot, &moved, sizeof(moved));
	if (r)
		goto out;
	op->mig[op->nmig++] = ob;
	if (keep && keep_b == ob) {
		*keep = lo;
		kv_chain_init(&lo, lo.slot);
		if (keep->v == lo.inl) /* lo's inline storage moved */
			keep->v = keep->inl;
	} else {
		r = kv_chain_emit(op, &lo);
		if (r)
			goto out;
	}
	if (keep && keep_b == ob + v->old_n) {
		*keep = hi;
		kv_chain_init(&hi, hi.slot);
		if (keep->v == hi.inl)
			keep->v = keep->inl;
	} else {
		r = kv_chain_emit(op, &hi);
	}
out:
	kv_chain_fini(&old);
	kv_chain_fini(&lo);
	kv_chain_fini(&hi);
	return r;
}

/* kv_migrate_some -- migrate up to @k more old buckets of held stripe @i */
static int kv_migrate_some(struct kv_op *op, unsigned i, unsigned k)
{
	struct kv_stripe *st = &op->kv->stripes[op->held[i]];
	uint64_t per = op->v.old_n / KV_STRIPES;
	uint64_t pos = st->mig_pos;
	int r;

	while (k && pos < per && op->nmig < KV_OP_MIG) {
		uint64_t ob = op->held[i] + pos * KV_STRIPES;
		if (!kv_moved(op->kv->fmt, op->v.old_bk[ob],
			      pool_off(op->p, &op->v.old_bk[ob])) &&
		    !kv_op_migrated(op, ob)) {
			r = kv_migrate(op, ob, NULL, 0);
			if (r)
				return r;
			k--;
		}
		pos++;
	}
	op->pos[i] = pos;
	return 0;
}

/*
 * kv_help -- our stripe has nothing left to migrate but others do: take one
 * that is free (trylock: never wait while holding a stripe) and migrate a
 * few of its buckets in this same transaction.
 */
static int kv_help(struct kv_op *op)
{
	struct kv *kv = op->kv;
	unsigned start =
	    atomic_fetch_add_explicit(&kv->help_hint, 1, memory_order_relaxed);

	for (unsigned j = 0; j < KV_STRIPES; j++) {
		unsigned t = (start + j) & (KV_STRIPES - 1);
		struct kv_stripe *st = &kv->stripes[t];
		if (t == op->held[0] ||
		    !atomic_load_explicit(&st->mig_left, memory_order_relaxed))
			continue;
		if (!kv_trylock(&st->lock))
			continue;
		op->held[op->nheld] = t;
		op->pos[op->nheld] = st->mig_pos;
		op->nheld++;
		return kv_migrate_some(op, op->nheld - 1, KV_MIGRATE_STEP);
	}
	return 0;
}

/* kv_op_begin -- lock the stripe of @h, read tables, begin the transaction */
static int kv_op_begin(struct kv_op *op, daxo_pool *p, uint64_t h)
{
	memset(op, 0, sizeof(*op));
	op->p = p;
	op->kv = p->kv;
	op->held[0] = (unsigned)(h & (KV_STRIPES - 1));
	op->nheld = 1;
	kv_lock(&op->kv->stripes[op->held[0]].lock);
	op->pos[0] = op->kv->stripes[op->held[0]].mig_pos;
	if (!kv_view_read(p, op->kv->anchor, &op->v)) {
		kv_unlock(&op->kv->stripes[op->held[0]].lock);
		return kv_corrupt(p, op->kv->anchor, "bad table");
	}
	int r = daxo_tx_begin(p, &op->tx);
	if (r)
		kv_unlock(&op->kv->stripes[op->held[0]].lock);
	else
		tx_guard(op->tx); /* the stripe clock orders what it writes */
	return r;
}

/*
 * kv_free_entry -- free entry @oid in the op's transaction, and have the
 * commit mark what the stripe's records may have written in it (lib/txint.h:
 * GUARDED WRITES): the header and key, and a value short enough to be
 * replaced in place
 */
static int kv_free_entry(struct kv_op *op, uint64_t oid)
{
	const struct kv_entry *e = kv_entry_at(op, oid);
	uint64_t voff = kv_voff(op->kv->fmt, e->klen);
	uint64_t len = voff;

	if (e->vlen <= TX_FILL_INLINE)
		len += e->vlen;
	tx_mark_at_commit(op->tx, oid, len);
	/*
	 * an entry its creator may have written in place under a SUM entry:
	 * the free says so in its record (tx.h: SUMMED FILLS)
	 */
	if ((op->p->hdr.incompat & POOL_INCOMPAT_SUMS) &&
	    voff + e->vlen <= TX_FILL_INLINE) {
#ifndef DAXO_PLANT_SUM_FREE_UNNOTED /* crash-sim test: no NOTE */
		int r = tx_note_free(op->tx, oid, voff + e->vlen);
		if (r)
			return r;
#endif
	}
	return tx_free_lib(op->tx, oid);
}

static void kv_op_unlock(struct kv_op *op)
{
	for (unsigned i = op->nheld; i-- > 0;)
		kv_unlock(&op->kv->stripes[op->held[i]].lock);
}

static void kv_op_abort(struct kv_op *op)
{
	daxo_tx_abort(op->tx);
	kv_op_unlock(op);
}

/*
 * kv_seq_bump -- advance the held stripes' counts, as the seqlock writer
 * (Boehm, "Can seqlocks get along with programming language memory
 * models?"): only a stripe's lock holder writes its count, so plain stores
 * do -- odd, then a release fence before the commit's stores; even,
 * released. No locked instruction: each would wait for the stores before
 * it.
 */
static void kv_seq_bump(struct kv_op *op, memory_order mo)
{
	for (unsigned i = 0; i < op->nheld; i++) {
		_Atomic uint64_t *sq = &op->kv->stripes[op->held[i]].seq;
		atomic_store_explicit(
		    sq, atomic_load_explicit(sq, memory_order_relaxed) + 1, mo);
	}
}

/*
 * kv_op_commit -- commit with the held stripes' counts odd, so that a
 * reader who overlaps the commit (and with it, the release of the freed
 * entry to the heap) retries; then account the migrated buckets. The
 * record's seq is above the held stripes' clocks and becomes their clock
 * (txint.h: ORDER).
 */
static int kv_op_commit(struct kv_op *op)
{
	struct kv *kv = op->kv;
	uint64_t after = 0, seq;
	int r;

	if (op->v.old_bk && !op->nmig &&
	    atomic_load_explicit(&kv->mig_left, memory_order_relaxed) &&
	    !atomic_load_explicit(&kv->stripes[op->held[0]].mig_left,
				  memory_order_relaxed)) {
		r = kv_help(op);
		if (r) {
			kv_op_abort(op);
			return r;
		}
	}
	for (unsigned i = 0; i < op->nheld; i++)
		after = MAX(after, kv->stripes[op->held[i]].clk);
	kv_seq_bump(op, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	r = tx_commit_kv(op->tx, after, &seq);
	kv_seq_bump(op, memory_order_release);
	if (!r) {
		for (unsigned i = 0; i < op->nheld; i++) {
			kv->stripes[op->held[i]].mig_pos = op->pos[i];
			if (seq)
				kv->stripes[op->held[i]].clk = seq;
		}
		if (op->dkeys) {
			_Atomic int64_t *nk = &kv->stripes[op->held[0]].nkeys;
			atomic_store_explicit(
			    nk,
			    atomic_load_explicit(nk, memory_order_relaxed) +
				op->dkeys,
			    memory_order_relaxed);
		}
		for (unsigned i = 0; i < op->nmig; i++) {
			unsigned s = (unsigned)(op->mig[i] & (KV_STRIPES - 1));
			atomic_fetch_sub(&kv->stripes[s].mig_left, 1);
			atomic_fetch_sub(&kv->mig_left, 1);
		}
	}
	kv_op_unlock(op);
	return r;
}

/*
 * kv_op_chain -- the chain of @h's bucket in the new table, migrating its
 * old bucket first if that is still pending, plus a few more of the stripe.
 */
static int kv_op_chain(struct kv_op *op, uint64_t h, struct kv_chain *c)
{
	struct kv_view *v = &op->v;
	uint64_t nb = h & (v->n - 1);
	int r;

	kv_chain_init(c, &v->bk[nb]);
	if (v->old_bk) {
		uint64_t ob = h & (v->old_n - 1);
		if (!kv_moved(op->kv->fmt, v->old_bk[ob],
			      pool_off(op->p, &v->old_bk[ob]))) {
			r = kv_migrate(op, ob, c, nb);
			if (r)
				return r;
			return kv_migrate_some(op, 0, KV_MIGRATE_STEP - 1);
		}
		r = kv_migrate_some(op, 0, KV_MIGRATE_STEP);
		if (r)
			return r;
	}
	return kv_chain_read(op, c, h, v->n - 1);
}

/*
 * kv_chain_find -- *@at := the index of @key in @c, or -1: 0, or -EUCLEAN
 * for an entry with the key's hash and length whose bytes are damaged
 * (kv_find)
 */
static int kv_chain_find(struct kv_op *op, const struct kv_chain *c, uint64_t h,
			 const void *key, size_t klen, ssize_t *at)
{
	struct kv_ent en;

	*at = -1;
	for (size_t i = 0; i < c->n; i++) {
		const struct kv_entry *e = kv_entry_at(op, c->v[i]);
		if (e->hash != h || e->klen != klen)
			continue;
		if (memcmp((const uint8_t *)e + kv_koff(op->kv->fmt), key,
			   klen) == 0) {
			*at = (ssize_t)i;
			return 0;
		}
		if (kv_ent_read(op->p, c->v[i], &en) != KV_ENT_OK ||
		    kv_key_hash(&en, op->kv->seed) != h)
			return kv_corrupt(
			    op->p, c->v[i] + kv_koff(op->kv->fmt),
			    "key bytes do not hash to the entry's "
			    "hash");
	}
	return 0;
}

/*
 * kv_count_add -- stage anchor.count[stripe] += d (the stripe's volatile
 * count follows at commit: kv_op_commit)
 */
static int kv_count_add(struct kv_op *op, int64_t d)
{
	uint64_t *w = &op->v.a->count[op->held[0]];
	uint64_t val = *w + (uint64_t)d;
	int r = daxo_tx_write(op->tx, w, &val, sizeof(val));

	if (!r)
		op->dkeys += d;
	return r;
}

/* kv_count_all -- the store's keys: the stripes' counts, read unlocked */
static int64_t kv_count_all(struct kv *kv)
{
	int64_t n = 0;

	for (unsigned s = 0; s < KV_STRIPES; s++)
		n += atomic_load_explicit(&kv->stripes[s].nkeys,
					  memory_order_relaxed);
	return n;
}

/*
 * kv_overloaded -- @count keys in @n buckets call for a doubled table: more
 * than n / 2 of them. A get that finds its key visits 1 + load / 2 entries
 * on average, each a cache miss of its own after the bucket's: at most
 * 1.25 here, against 1.5 at load 1. A table costs 16 to 32 bytes a key.
 */
static inline bool kv_overloaded(int64_t count, uint64_t n)
{
	return count > (int64_t)(n / 2);
}

/*
 * kv_grow -- start a resize: a doubled table, the old one to migrate from.
 *
 * The new table is allocated atomically into anchor.next_table, zeroed and
 * persisted while writers and readers go on; only the switch of the
 * anchor's words -- a small transaction -- runs with every stripe locked
 * and the table count odd, so the pause does not grow with the table. A
 * crash before the switch leaves next_table set: the next grow frees it.
 */
static void kv_grow(daxo_pool *p)
{
	struct kv *kv = p->kv;
	struct kv_view v;
	struct kv_table *t;
	daxo_tx *tx;
	daxo_oid toid;
	int expected = 0;
	int64_t count;
	uint64_t size, w[5];

	if (!atomic_compare_exchange_strong(&kv->resizing, &expected, 1))
		return;
	count = kv_count_all(kv);
	/* the anchor's table words change only under kv->resizing */
	if (!kv_view_read(p, kv->anchor, &v) || v.old_bk ||
	    !kv_overloaded(count, v.n) || v.n >= KV_MAX_BUCKETS ||
	    (atomic_load(&kv->resize_failed_at) &&
	     (uint64_t)count < 2 * atomic_load(&kv->resize_failed_at)))
		goto out;
	/* a crash left a spare table: free it, unless it is not one */
	if (v.a->next_table && (!kv_spare_ok(p, &v, v.a->next_table) ||
				free_lib(p, &v.a->next_table)))
		goto out;
	size = sizeof(*t) + 2 * v.n * 8;
	if (alloc_lib(p, size, KV_TYPE_TABLE, &v.a->next_table)) {
		/* no room to grow: keep going with longer chains */
		atomic_store(&kv->resize_failed_at, (uint64_t)count);
		goto out;
	}
	toid = v.a->next_table;
	t = daxo_direct(p, toid);
	/* durable before the anchor can name it (one fence, no lock held) */
	memset(t, 0, size);
	t->magic = KV_TABLE_MAGIC;
	t->nbuckets = 2 * v.n;
	kv_table_empty(p, t);
	daxo_persist(p, t, size);
	w[0] = toid;			       /* table */
	w[1] = 2 * v.n;			       /* nbuckets */
	w[2] = pool_off(p, v.bk) - sizeof(*t); /* old_table */
	w[3] = v.n;			       /* old_nbuckets */
	w[4] = 0;			       /* next_table */
	if (daxo_tx_begin(p, &tx))
		goto out;
	if (daxo_tx_write(tx, &v.a->table, w, sizeof(w))) {
		daxo_tx_abort(tx);
		goto out;
	}
	for (unsigned s = 0; s < KV_STRIPES; s++)
		kv_lock(&kv->stripes[s].lock);
	atomic_fetch_add_explicit(&kv->tseq, 1, memory_order_acq_rel);
	if (daxo_tx_commit(tx) == 0) {
		for (unsigned s = 0; s < KV_STRIPES; s++) {
			kv->stripes[s].mig_pos = 0;
			atomic_store(&kv->stripes[s].mig_left,
				     v.n / KV_STRIPES);
		}
		atomic_store(&kv->mig_left, v.n);
		kv_geo_set(kv, &(struct kv_view){.bk = t->bucket,
						 .n = 2 * v.n,
						 .old_bk = v.bk,
						 .old_n = v.n});
	}
	atomic_fetch_add_explicit(&kv->tseq, 1, memory_order_release);
	for (unsigned s = KV_STRIPES; s-- > 0;)
		kv_unlock(&kv->stripes[s].lock);
out:
	atomic_store(&kv->resizing, 0);
}

/* kv_finish -- every old bucket is migrated: free the old table */
static void kv_finish(daxo_pool *p)
{
	struct kv *kv = p->kv;
	struct kv_view v;
	daxo_tx *tx;
	int expected = 0;
	uint64_t zero[2] = {0, 0};

	if (!atomic_compare_exchange_strong(&kv->resizing, &expected, 1))
		return;
	if (daxo_tx_begin(p, &tx))
		goto out;
	for (unsigned s = 0; s < KV_STRIPES; s++)
		kv_lock(&kv->stripes[s].lock);
	bool ok = kv_view_read(p, kv->anchor, &v) && v.old_bk &&
		  !atomic_load(&kv->mig_left);
	uint64_t after = 0;
	if (ok) {
		uint64_t t = pool_off(p, v.old_bk) - sizeof(struct kv_table);
		/*
		 * Every stripe's records wrote its buckets (lib/txint.h:
		 * GUARDED WRITES): the table is marked with a seq above all
		 * the stripes' clocks
		 */
		for (unsigned s = 0; s < KV_STRIPES; s++)
			after = MAX(after, kv->stripes[s].clk);
		tx_mark_at_commit(tx, t, sizeof(struct kv_table) + v.old_n * 8);
		ok = !tx_free_lib(tx, t) &&
		     !daxo_tx_write(tx, &v.a->old_table, zero, sizeof(zero));
	}
	if (!ok) {
		daxo_tx_abort(tx);
	} else {
		atomic_fetch_add_explicit(&kv->tseq, 1, memory_order_acq_rel);
		if (tx_commit_kv(tx, after, NULL) == 0)
			kv_geo_set(kv, &(struct kv_view){.bk = v.bk, .n = v.n});
		atomic_fetch_add_explicit(&kv->tseq, 1, memory_order_release);
	}
	for (unsigned s = KV_STRIPES; s-- > 0;)
		kv_unlock(&kv->stripes[s].lock);
out:
	atomic_store(&kv->resizing, 0);
}

/* kv_after_write -- start or end a resize if it is due (no lock held) */
static void kv_after_write(daxo_pool *p, unsigned stripe)
{
	struct kv *kv = p->kv;

	if (atomic_load_explicit(&kv->resizing, memory_order_relaxed))
		return;
	/* unlocked peeks; both functions re-check under kv->resizing */
	if (atomic_load_explicit(&kv->geo_old_bk, memory_order_relaxed)) {
		if (!atomic_load_explicit(&kv->mig_left, memory_order_relaxed))
			kv_finish(p);
		return;
	}
	/*
	 * The writer's own stripe first (its line is the writer's already):
	 * only when it holds clearly more than its share of the table's
	 * bound (n / 2 keys over KV_STRIPES stripes, plus 2 and an eighth:
	 * beyond what hashing scatters a stripe by, so a store below the
	 * bound seldom sums) are all the stripes summed -- no counter that
	 * every insert and delete would write, and no sum while a grow that
	 * found no room stands
	 */
	uint64_t n = atomic_load_explicit(&kv->geo_n, memory_order_relaxed);
	uint64_t share = n / (2 * KV_STRIPES);
	int64_t mine = atomic_load_explicit(&kv->stripes[stripe].nkeys,
					    memory_order_relaxed);
	uint64_t failed = atomic_load_explicit(&kv->resize_failed_at,
					       memory_order_relaxed);
	if (mine <= (int64_t)(share + 2 + share / 8) ||
	    (failed && (uint64_t)mine * KV_STRIPES < 2 * failed))
		return;
	if (kv_overloaded(kv_count_all(kv), n))
		kv_grow(p);
}

static int kv_write_check(daxo_pool *p, const void *key, size_t klen,
			  const char *fn)
{
	int r;

	if (!p)
		return daxo__err(-EINVAL, "%s: NULL pool", fn);
	r = kv_check_key(key, klen, fn);
	if (r)
		return r;
	if (kv_in_callback == p)
		return daxo__err(-EDEADLK,
				 "%s: called from a daxo_foreach or "
				 "daxo_get_view callback",
				 fn);
	r = pool_writable(p, fn);
	if (r)
		return r;
	/*
	 * A keyed-store write is a transaction of its own, under stripe
	 * locks it gives back at its commit: it cannot be a block of the
	 * thread's open transaction (that commit would be the outer one's)
	 */
	if (daxo_tx_current(p))
		return daxo__err(-EBUSY,
				 "%s: %s: the thread has a transaction open on "
				 "the pool",
				 p->path, fn);
	if (p->kv->bad)
		return kv_usable(p);
	return 0;
}

/* kv_vsum_write -- stage the checksum of @val, the new value of @en */
static int kv_vsum_write(struct kv_op *op, const struct kv_ent *en,
			 const void *val)
{
	uint64_t vs = kv_vsum(val, en->vlen, en->hash);

#ifdef DAXO_PLANT_VSUM_UNLOGGED /* crash-sim test: checksum outside */
	memcpy((uint8_t *)en->e + KV_VSUM_OFF, &vs, sizeof(vs));
	return 0;
#endif
	return daxo_tx_write(op->tx, (uint8_t *)en->e + KV_VSUM_OFF, &vs,
			     sizeof(vs));
}

/*
 * kv_put -- daxo_put; with @move, the relocation of entry @move instead
 * (kv_relocate): its key's entry must still be @move, and the new entry
 * takes its value (@val, @vlen ignored). Returns 0, 1 (@move relocated),
 * or an error.
 */
static int kv_put(daxo_pool *p, const void *key, size_t klen, const void *val,
		  size_t vlen, uint64_t move)
{
	struct kv_op op;
	struct kv_chain c;
	daxo_oid eoid;
	ssize_t i;
	uint64_t h;
	int r;

	r = kv_write_check(p, key, klen, "daxo_put");
	if (r)
		return r;
	if (!val && vlen)
		return daxo__err(-EINVAL, "daxo_put: NULL value of %zu bytes",
				 vlen);
	if (vlen > p->size)
		return daxo__err(-ENOSPC,
				 "%s: daxo_put: value of %zu bytes is larger "
				 "than the pool",
				 p->path, vlen);
	if (!kv_ready(p->kv)) {
		r = kv_create(p);
		if (r)
			return r;
	}
	h = kv_hash(p->kv, key, klen);
	kv_prefetch(p, h, klen);
	kv_chain_init(&c, NULL);
	r = kv_op_begin(&op, p, h);
	if (r)
		return r;
	if (!op.v.old_bk && vlen <= TX_FILL_INLINE && !move) {
		/*
		 * A value of the same length replaces the old one in place: its
		 * bytes go into the record (1 fence) and land at commit, with
		 * the stripe's count odd, so racy readers retry and view
		 * callbacks (which hold the stripe) never see them change. No
		 * allocation, no free, no chain word written: nothing shared
		 * with the other keys of the bucket's cache line. The walk
		 * stops at the key, as a get's does: the entries after it
		 * (half a miss a put at full load) are read only when the
		 * chain changes. A malformed chain is left to the full walk
		 * below, which names what is wrong.
		 */
		struct kv_ent en;
		if (kv_find(p, &op.v, h, key, (uint32_t)klen, NULL, 0, 0,
			    &en) == 1 &&
		    en.vlen == vlen) {
			/*
			 * the value's lines, exclusive, while the record is
			 * built and made durable: else the stores that apply
			 * it miss, and the unlock's locked instruction waits
			 * for them
			 */
			for (size_t o = 0; o < vlen; o += 64)
				__builtin_prefetch((const char *)en.val + o, 1);
#ifdef DAXO_PLANT_INPLACE_UNLOGGED /* crash-sim test: no record */
			memcpy((uint8_t *)en.val, val, vlen);
			r = 0;
#else
			r = vlen ? daxo_tx_write(op.tx, (uint8_t *)en.val, val,
						 vlen)
				 : 0;
#endif
			/* the checksum in the same record: both or neither */
			if (!r && p->kv->fmt.csum)
				r = kv_vsum_write(&op, &en, val);
			if (r) {
				kv_op_abort(&op);
				return r;
			}
			return kv_op_commit(&op);
		}
	}
	r = kv_op_chain(&op, h, &c);
	if (r)
		goto fail;
	r = kv_chain_find(&op, &c, h, key, klen, &i);
	if (r)
		goto fail;
	if (move) {
		/* under the stripe lock: the key's entry, and its value */
		struct kv_ent en;
		if (i < 0 || c.v[i] != move ||
		    kv_ent_read(p, move, &en) != KV_ENT_OK) {
			kv_chain_fini(&c);
			kv_op_abort(&op);
			return 0;
		}
		val = en.val;
		vlen = en.vlen;
	}
	uint64_t voff = kv_voff(p->kv->fmt, klen);
	r = tx_alloc_raw(op.tx, voff + vlen, KV_TYPE_ENTRY, &eoid);
	if (r)
		goto fail;
	op.new_oid = eoid;
	uint64_t old = 0;
	size_t pos = 0;
	if (i >= 0) {
		/* replace: same position, the old entry goes in this tx */
		old = c.v[i];
		heap_prefetch_free(p, old);
		c.v[i] = eoid;
		pos = (size_t)i;
	} else {
		r = kv_count_add(&op, 1);
		if (!r) {
			r = kv_chain_push(&c, 0);
			memmove(c.v + 1, c.v, (c.n - 1) * sizeof(*c.v));
			c.v[0] = eoid;
		}
		if (r)
			goto fail;
	}
	/* the whole entry at once: next, header, key, value */
	struct kv_fmt f = p->kv->fmt;
	struct kv_entry hd = {
	    .next = kv_link(f, pos + 1 < c.n ? c.v[pos + 1] : 0, eoid),
	    .hash = h,
	    .klen = (uint32_t)klen,
	    .flags = f.links ? kv_hcheck(h, (uint32_t)klen, vlen) : 0,
	    .vlen = vlen,
	};
	static const uint8_t pad[64];
	uint64_t vs;
	struct tx_piece pc[5];
	unsigned np = 0;
	pc[np++] = (struct tx_piece){&hd, sizeof(hd)};
	if (f.csum) {
		vs = kv_vsum(val, vlen, h);
		pc[np++] = (struct tx_piece){&vs, sizeof(vs)};
	}
	pc[np++] = (struct tx_piece){key, klen};
	pc[np++] = (struct tx_piece){pad, voff - kv_koff(f) - klen};
	if (vlen)
		pc[np++] = (struct tx_piece){val, vlen};
	/*
	 * The free first: its locked update of the heap's volatile bitmap
	 * would otherwise wait for a large entry's non-temporal stores to
	 * drain (a locked instruction orders them like a fence).
	 */
	if (old)
		r = kv_free_entry(&op, old);
	if (!r)
		r = tx_fill(op.tx, eoid, pc, np);
	if (!r)
		r = kv_chain_emit(&op, &c);
	if (r)
		goto fail;
	kv_chain_fini(&c);
	r = kv_op_commit(&op);
	if (r)
		return r;
	kv_after_write(p, (unsigned)(h & (KV_STRIPES - 1)));
	return move ? 1 : 0;
fail:
	kv_chain_fini(&c);
	kv_op_abort(&op);
	return r;
}

DAXO_EXPORT int daxo_put(daxo_pool *p, const void *key, size_t klen,
			 const void *val, size_t vlen)
{
	daxo__err_clear();
	return kv_put(p, key, klen, val, vlen, 0);
}

int kv_relocate(daxo_pool *p, uint64_t oid)
{
	struct kv_ent en;
	uint8_t *key;
	int r;

	if (!p->kv || !kv_ready(p->kv))
		return 0;
	/* the key, copied: the entry may change until the put locks */
	if (kv_ent_read(p, oid, &en) != KV_ENT_OK || en.klen == 0 ||
	    en.klen > DAXO_KEY_MAX)
		return 0;
	key = malloc(en.klen);
	if (!key)
		return daxo__err(-ENOMEM, "%s: out of memory", p->path);
	memcpy(key, en.key, en.klen);
	r = kv_put(p, key, en.klen, NULL, 0, oid);
	free(key);
	return r;
}

DAXO_EXPORT int daxo_del(daxo_pool *p, const void *key, size_t klen)
{
	struct kv_op op;
	struct kv_chain c;
	ssize_t i;
	uint64_t h;
	int r;

	daxo__err_clear();
	r = kv_write_check(p, key, klen, "daxo_del");
	if (r)
		return r;
	if (!kv_ready(p->kv))
		return daxo__err(-ENOENT, "%s: daxo_del: no such key", p->path);
	h = kv_hash(p->kv, key, klen);
	kv_prefetch(p, h, klen);
	r = kv_op_begin(&op, p, h);
	if (r)
		return r;
	r = kv_op_chain(&op, h, &c);
	if (r)
		goto fail;
	r = kv_chain_find(&op, &c, h, key, klen, &i);
	if (r)
		goto fail;
	if (i < 0) {
		r = daxo__err(-ENOENT, "%s: daxo_del: no such key", p->path);
		goto fail;
	}
	r = kv_free_entry(&op, c.v[i]);
	if (!r)
		r = kv_count_add(&op, -1);
	if (r)
		goto fail;
	memmove(c.v + i, c.v + i + 1, (c.n - (size_t)i - 1) * sizeof(*c.v));
	c.n--;
	r = kv_chain_emit(&op, &c);
	if (r)
		goto fail;
	kv_chain_fini(&c);
	r = kv_op_commit(&op);
	if (r)
		return r;
	kv_after_write(p, (unsigned)(h & (KV_STRIPES - 1)));
	return 0;
fail:
	kv_chain_fini(&c);
	kv_op_abort(&op);
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
		struct kv_view v;
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
