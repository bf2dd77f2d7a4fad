/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kv_op.c -- one write of the keyed store (a put or a delete) as a
 * transaction: kv_op_begin takes the key's stripe lock and begins a
 * redo-only transaction; the chain of the key's bucket is read with every
 * check of kv.h's TRUST and rebuilt as it will be after the write
 * (struct kv_chain), and only the words that differ are staged
 * (kv_chain_emit); a replaced or deleted entry is freed on the guarded write
 * path (lib/txint.h: GUARDED WRITES, tx.h: SUMMED FILLS); kv_op_commit
 * commits with the held stripes' sequence counts odd, so that lock-free
 * readers who overlap it retry, and makes the record's seq the stripes'
 * clock.
 *
 * Kept apart from kv.c: kv.c decides what a put or delete changes (a value
 * in place, a new entry, a removal); this file stages the changes to the
 * bucket's chain and commits them under the stripe protocol of kv.h. The
 * migration steps of a resize that ride in a write are kv_table.c's
 * (kv_migrate, kv_help).
 */
#include <stdlib.h>
#include <string.h>

#include "heap.h"
#include "kv.h"
#include "tx.h"
#include "pool.h"

#include "kv_walk.h"
#include "kvint.h"

/* ---- the chain a write builds (kvint.h: struct kv_chain) ----------------- */

int kv_chain_push(struct kv_chain *c, uint64_t oid)
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

/*
 * kv_chain_read -- the chain starting at *@slot (under the stripe lock),
 * every link and entry checked (kv_walk_next, no key twice) with @h and
 * @mask for its bucket
 */
int kv_chain_read(struct kv_op *op, struct kv_chain *c, uint64_t h,
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

/*
 * kv_chain_emit -- stage the words that turn the chain on media into @c:
 * the head and every next field that differs (reads see the old values,
 * since staged writes land only at commit). The new entry is ours: its
 * next field is written directly.
 */
int kv_chain_emit(struct kv_op *op, struct kv_chain *c)
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

/* kv_op_begin -- lock the stripe of @h, read tables, begin the transaction */
int kv_op_begin(struct kv_op *op, daxo_pool *p, uint64_t h)
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
int kv_free_entry(struct kv_op *op, uint64_t oid)
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
int kv_op_commit(struct kv_op *op)
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
int kv_op_chain(struct kv_op *op, uint64_t h, struct kv_chain *c)
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
int kv_chain_find(struct kv_op *op, const struct kv_chain *c, uint64_t h,
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
int kv_count_add(struct kv_op *op, int64_t d)
{
	uint64_t *w = &op->v.a->count[op->held[0]];
	uint64_t val = *w + (uint64_t)d;
	int r = daxo_tx_write(op->tx, w, &val, sizeof(val));

	if (!r)
		op->dkeys += d;
	return r;
}
