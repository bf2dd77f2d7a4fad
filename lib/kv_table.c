/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kv_table.c -- the keyed store's table and its resize: the first table
 * and the anchor (made by the first put, kv_create), the start of a resize
 * when the store holds more keys than half its buckets (kv_grow: a doubled
 * table, made durable outside every lock, switched to in a short
 * transaction under all stripes), the migration of old buckets into the
 * new table a few at a time inside ordinary writes (kv_migrate,
 * kv_migrate_some, kv_help), and the end of a resize (kv_finish: the old
 * table freed). kv.h: CRASH CONSISTENCY and CONCURRENCY describe the
 * protocol.
 *
 * Kept apart because the table's life is its own concern: a write calls in
 * here for the store's first table (kv_create), while a resize is under
 * way (the migration steps), and after its commit, with no lock held
 * (kv_after_write).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "heap.h"
#include "kv.h"
#include "tx.h"
#include "pool.h"

#include "kv_walk.h"
#include "kvint.h"

/* ---- the first table ----------------------------------------------------- */

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
int kv_create(daxo_pool *p)
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

/* ---- migration: the steps of a resize that ride in writes --------------- */

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
int kv_migrate(struct kv_op *op, uint64_t ob, struct kv_chain *keep,
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
int kv_migrate_some(struct kv_op *op, unsigned i, unsigned k)
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
int kv_help(struct kv_op *op)
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

/* ---- starting and ending a resize --------------------------------------- */

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
void kv_after_write(daxo_pool *p, unsigned stripe)
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
