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
 *
 * This file holds the store's stripe lock, its state at open (kv_boot) and
 * the public writes: daxo_put (in place, or a new entry), daxo_del and the
 * relocation defragmentation asks for (kv_relocate). A write's transaction
 * is kv_op.c's, the table and its resize kv_table.c's, the read side
 * kv_read.c's; kvint.h is what they share.
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
#include "kvint.h"

/* thread-local: the pool whose callback this thread is running, if any */
_Thread_local daxo_pool *kv_in_callback;

/* ---- kv_lock_t (kv.h) ---------------------------------------------------- */

static void kv_futex(_Atomic uint32_t *w, int op, uint32_t val)
{
	syscall(SYS_futex, w, op | FUTEX_PRIVATE_FLAG, val, NULL, NULL, 0);
}

void kv_lock(kv_lock_t *l)
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

void kv_unlock(kv_lock_t *l)
{
	if (atomic_fetch_sub_explicit(&l->v, 1, memory_order_release) != 1) {
		atomic_store_explicit(&l->v, 0, memory_order_release);
		kv_futex(&l->v, FUTEX_WAKE, 1);
	}
}

/* ---- volatile state --------------------------------------------------- */

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

/* ---- the public writes -------------------------------------------------- */

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
