/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tx.c -- transactions: the transaction object, the daxo_tx_* calls before
 * the commit (undo ranges, redo writes, allocations and frees, tx_fill),
 * abort and rollback. The commit is in commit.c, the record in redo.c,
 * commit ordering in order.c, lanes in lane.c, recovery in recover.c.
 *
 * tx.h describes the on-media format, the commit protocol and why it is
 * correct under the crash model; every fence below names its step there.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY
/*
 * xxhash compiled in from its header (libxxhash-dev): every commit hashes
 * a 56-byte record header and its stream, and the inlined XXH64 is
 * specialized for those calls (3% of a 64 B put's instructions). The same
 * function and values: nothing on media changes.
 */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "heap.h"
#include "pool.h"
#include "txint.h"

static __thread struct daxo_tx *tls_open;  /* this thread's open txs */
static const char tx_forked; /* owner of a parent's transaction, in a child */
static __thread struct daxo_tx *tls_spare; /* this thread's reusable tx */
static __thread bool tls_spare_busy;
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

int tx_grow_slow(void *arrp, size_t *cap, size_t need, size_t elsz)
{
	void **arr = arrp;

	size_t n = *cap ? *cap : 8;
	while (n < need)
		n *= 2;
	void *a = realloc(*arr, n * elsz);
	if (!a)
		return -ENOMEM;
	*arr = a;
	*cap = n;
	return 0;
}

/* ---- transaction objects ---- */

static void cache_destroy(void *arg)
{
	struct daxo_tx *tx = arg;

	free(tx->rbuf);
	free(tx->acts);
	free(tx->ranges);
	free(tx->pend);
	free(tx->tmp);
	free(tx->pieces);
	free(tx->uents);
	free(tx->scr);
	free(tx->cbs);
	free(tx);
}

void tx_thread_end(void)
{
	struct daxo_tx *t;

	while ((t = tls_open) != NULL) {
		t->depth = 0; /* inner blocks and all */
		daxo_tx_abort(t);
		if (tls_open == t) /* not ended (cannot happen): not again */
			tls_open = t->tls_next;
	}
}

/* the thread exits: its open transactions roll back, then its spare goes */
static void cache_key_destroy(void *arg)
{
	tx_thread_end();
	cache_destroy(arg);
	tls_spare = NULL;
	tls_spare_busy = false;
}

/*
 * In a child of fork(), the forking thread's open transactions are the
 * parent's: marked so, tx_foreign refuses them (-EBADFD) at no cost to the
 * owner's check
 */
static void tx_fork_child(void)
{
	for (struct daxo_tx *t = tls_open; t; t = t->tls_next)
		t->owner = &tx_forked;
}

static void cache_key_init(void)
{
	pthread_key_create(&cache_key, cache_key_destroy);
	(void)pthread_atfork(NULL, NULL, tx_fork_child);
}

/*
 * tx_new -- a transaction object: the thread's spare when it is free (it
 * keeps its buffers, so steady-state transactions allocate nothing)
 */
static struct daxo_tx *tx_new(void)
{
	if (tls_spare && !tls_spare_busy) {
		tls_spare_busy = true;
		return tls_spare;
	}
	if (!tls_spare) {
		pthread_once(&cache_once, cache_key_init);
		tls_spare = calloc(1, sizeof(*tls_spare));
		if (!tls_spare)
			return NULL;
		pthread_setspecific(cache_key, tls_spare);
		tls_spare_busy = true;
		return tls_spare;
	}
	return calloc(1, sizeof(struct daxo_tx));
}

/* tx_end -- release the lane and the scratch space; keep the buffers */
void tx_end(struct daxo_tx *tx)
{
	daxo_pool *p = tx->p;

	for (size_t i = 0; i < tx->nscr; i++)
		heap_scratch_put(p, tx->scr[i].off, tx->scr[i].n);
	tx_lane_put(p, tx->lane, tx->bound);
	if (!tx->internal) {
		struct daxo_tx **pp = &tls_open;
		while (*pp && *pp != tx)
			pp = &(*pp)->tls_next;
		if (*pp)
			*pp = tx->tls_next;
	}
	tx->rlen = tx->nacts = tx->nranges = tx->npend = tx->nuents = 0;
	tx->nscr = tx->nskip = tx->ntail = 0;
	tx->rec_ext = false;
	/* depth and ncbs are 0 here: nest.c ends only the outermost block,
	 * and takes the callbacks out before it does */
	if (tx == tls_spare)
		tls_spare_busy = false;
	else
		cache_destroy(tx);
}

void tx_forget_open(const daxo_pool *p)
{
	for (struct daxo_tx **pp = &tls_open; *pp;) {
		struct daxo_tx *t = *pp;
		if (t->p != p) {
			pp = &t->tls_next;
			continue;
		}
		*pp = t->tls_next;
		if (t == tls_spare)
			tls_spare_busy = false;
		else
			cache_destroy(t);
	}
}

struct daxo_tx *tx_open_on(const daxo_pool *p)
{
	struct daxo_tx *t;

	for (t = tls_open; t && t->p != p; t = t->tls_next)
		;
	return t;
}

int tx_start(daxo_pool *p, bool internal, struct daxo_tx **out)
{
	struct daxo_tx *tx;
	int ret = pool_writable(p, "transaction");

	if (ret)
		return ret;
	if (!internal)
		for (struct daxo_tx *t = tls_open; t; t = t->tls_next)
			if (t->p == p) {
				/* the thread's open transaction: a block of it
				 * (nest.c) */
				if (t->depth == UINT32_MAX)
					return daxo__err(-EOVERFLOW,
							 "%s: transaction "
							 "blocks nested too "
							 "deep",
							 p->path);
				t->depth++;
				*out = t;
				return 0;
			}
	tx = tx_new();
	if (!tx)
		return daxo__err(-ENOMEM, "%s: out of memory", p->path);
	tx->p = p;
	tx->gen = 0;
	tx->err = 0;
	tx->internal = internal;
	tx->logged = 0;
	tx->owner = &tls_open;
	tx->guard = false;
	tx->nmarks = 0;
	tx->lane = tx_lane_get(p, &tx->bound);
	if (!internal) {
		tx->tls_next = tls_open;
		tls_open = tx;
	}
	*out = tx;
	return 0;
}

int tx_user_oid(daxo_pool *p, daxo_oid victim, uint32_t type, const char *fn)
{
	if (pool_is_root(p, victim))
		return daxo__err(-EINVAL,
				 "%s: %s: offset %llu is the root object, "
				 "which only daxo_root frees or moves",
				 p->path, fn, (unsigned long long)victim);
	if (type >= DAXO_TYPE_LIB && type != DAXO_TYPE_ANY)
		return daxo__err(-EINVAL,
				 "%s: %s: type %#x is the library's (the root "
				 "and the keyed store's objects: DAXO_TYPE_LIB "
				 "and up)",
				 p->path, fn, type);
	return 0;
}

int tx_lib_free(daxo_pool *p, struct heap_act *a, const char *fn)
{
	if (a->type < DAXO_TYPE_LIB)
		return 0;
	heap_act_cancel(p, a);
	return daxo__err(-EINVAL,
			 "%s: %s: offset %llu is the library's (type %#x, the "
			 "keyed store's): daxo_del and daxo_kv_compact free "
			 "and move its objects",
			 p->path, fn, (unsigned long long)a->oid, a->type);
}

int tx_foreign(const struct daxo_tx *tx, const char *fn)
{
	if (likely(tx->owner == (const void *)&tls_open))
		return 0;
	if (tx->owner == (const void *)&tx_forked)
		return pool_own(tx->p, fn); /* -EBADFD */
	return daxo__err(-EPERM,
			 "%s: %s: the transaction belongs to the thread that "
			 "began it",
			 tx->p->path, fn);
}

static bool spans_meet(const struct span *v, size_t n, uint64_t off,
		       uint64_t end)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].off < end && off < v[i].end)
			return true;
	return false;
}

bool tx_holds(const struct daxo_tx *tx, uint64_t off, uint64_t len)
{
	uint64_t end = off + len;

	if (spans_meet(tx->ranges, tx->nranges, off, end) ||
	    spans_meet(tx->pend, tx->npend, off, end))
		return true;
	for (size_t i = 0; i < tx->nacts; i++) {
		const struct heap_act *a = &tx->acts[i];
		if (a->oid < end && off < a->oid + MAX(a->size, 1))
			return true;
	}
	return redo_stream_meets(tx->rbuf, tx->rlen, off, end, false);
}

/* tx_fail -- remember the first failure: only abort is allowed after it */
int tx_fail(struct daxo_tx *tx, int err)
{
	if (!tx->err)
		tx->err = err;
	return err;
}

const struct heap_act *tx_in_new_object(const struct daxo_tx *tx,
					    uint64_t off, uint64_t len)
{
	for (size_t i = 0; i < tx->nacts; i++) {
		const struct heap_act *a = &tx->acts[i];
		if (a->txnew && off >= a->oid && len <= a->size &&
		    off - a->oid <= a->size - len)
			return a;
	}
	return NULL;
}

void tx_abort_internal(struct daxo_tx *tx)
{
	daxo_pool *p = tx->p;

	if (tx->nuents)
		tx_rollback(tx);
	for (size_t i = 0; i < tx->nacts; i++)
		heap_act_cancel(p, &tx->acts[i]);
	persist_count(&p->ps, ST_ABORTS, 1);
	persist_count(&p->ps, ST_LOGGED, tx->logged);
	tx_end(tx);
}

/* ---- the public transaction API (begin, commit, abort: nest.c) ---- */

int tx_target_check(struct daxo_tx *tx, const void *addr, size_t len,
			const char *what, uint64_t *off)
{
	daxo_pool *p = tx->p;
	const char *a = addr;

	if (tx->err)
		return daxo__err(tx->err,
				 "%s: %s: an earlier call failed; the "
				 "transaction must be aborted",
				 p->path, what);
	if (len == 0)
		return tx_fail(tx, daxo__err(-EINVAL,
					     "%s: %s: length 0 (a range is at "
					     "least one byte)",
					     p->path, what));
	if (a < p->base || a >= p->base + p->size ||
	    !heap_target_ok(p, (uint64_t)(a - p->base), len))
		return tx_fail(tx, daxo__err(-EINVAL,
					     "%s: %s: range %p+%zu is not inside "
					     "the pool's heap or root area",
					     p->path, what, addr, len));
	*off = (uint64_t)(a - p->base);
	return 0;
}

DAXO_EXPORT int daxo_tx_write(daxo_tx *tx, void *dst, const void *src,
			      size_t len)
{
	uint64_t off;
	int ret;

	if (!tx)
		return daxo__err(-EINVAL, "daxo_tx_write: NULL transaction");
	ret = tx_foreign(tx, "daxo_tx_write");
	if (ret)
		return ret;
	ret = tx_target_check(tx, dst, len, "daxo_tx_write", &off);
	if (ret)
		return ret;
	if (!src)
		return tx_fail(tx, daxo__err(-EINVAL, "daxo_tx_write: NULL src"));
	/* a new object of this transaction is written in place */
	if (tx_in_new_object(tx, off, len)) {
		memmove(dst, src, len);
		return 0;
	}
	ret = tx_emit_copy(tx, off, src, len);
	return ret ? tx_fail(tx, ret) : 0;
}

int tx_add_act(struct daxo_tx *tx, const struct heap_act *a)
{
	if (tx_grow(&tx->acts, &tx->capacts, tx->nacts + 1, sizeof(*tx->acts)))
		return daxo__err(-ENOMEM, "%s: out of memory", tx->p->path);
	tx->acts[tx->nacts++] = *a;
	return 0;
}

static int tx_alloc_common(daxo_tx *tx, uint64_t size, uint32_t type,
			   daxo_oid *out, bool zero, bool user)
{
	struct heap_act a;
	int ret;

	if (!tx || !out)
		return daxo__err(-EINVAL, "daxo_tx_alloc: NULL argument");
	ret = tx_foreign(tx, "daxo_tx_alloc");
	if (ret)
		return ret;
	if (user && !tx->err &&
	    (ret = tx_user_oid(tx->p, 0, type, "daxo_tx_alloc")))
		return tx_fail(tx, ret);
	if (tx->err)
		return daxo__err(tx->err, "%s: daxo_tx_alloc: an earlier call "
					  "failed; abort the transaction",
				 tx->p->path);
	ret = tx_reserve(tx->p, size, type, &a);
	if (ret)
		return tx_fail(tx, ret);
	a.txnew = 1;
	ret = tx_add_act(tx, &a);
	if (ret) {
		heap_act_cancel(tx->p, &a);
		return tx_fail(tx, ret);
	}
	if (zero)
		memset(pool_ptr(tx->p, a.oid), 0, tx_new_object_len(&a));
	*out = a.oid;
	return 0;
}

DAXO_EXPORT int daxo_tx_alloc(daxo_tx *tx, uint64_t size, uint32_t type,
			      daxo_oid *out)
{
	return tx_alloc_common(tx, size, type, out, true, true);
}

int tx_alloc_lib(daxo_tx *tx, uint64_t size, uint32_t type, daxo_oid *out)
{
	return tx_alloc_common(tx, size, type, out, true, false);
}

DAXO_EXPORT int daxo_tx_xalloc(daxo_tx *tx, uint64_t size, uint32_t type,
			       unsigned flags, daxo_oid *out)
{
	if (flags & ~DAXO_ALLOC_ZERO) {
		if (!tx)
			return daxo__err(-EINVAL, "daxo_tx_xalloc: NULL "
						  "transaction");
		return tx_fail(tx, daxo__err(-EINVAL, "daxo_tx_xalloc: unknown "
						      "flags 0x%x",
					     flags & ~DAXO_ALLOC_ZERO));
	}
	return tx_alloc_common(tx, size, type, out, flags & DAXO_ALLOC_ZERO,
			       true);
}

int tx_alloc_raw(daxo_tx *tx, uint64_t size, uint32_t type, daxo_oid *out)
{
	return tx_alloc_common(tx, size, type, out, false, false);
}

/* fill_copy -- one run of a new object's bytes, flushed (no fence) */
static void fill_copy(daxo_pool *p, char *d, const void *src, size_t len)
{
#ifdef DAXO_PLANT_FILL_NO_FLUSH /* crash-sim test: contents never flushed */
	(void)p;
	memcpy(d, src, len);
#else
	persist_memcpy(&p->ps, d, src, len);
#endif
}

/*
 * fill_in_place -- write @n pieces, @total bytes in all, to @d (a new
 * object: cache-line aligned) and flush them, no fence. The small pieces
 * at the front (an entry's header and key, say) are gathered with the
 * start of the next piece into whole cache lines first, so that every line
 * is written once and the long tail goes out in non-temporal stores to
 * aligned lines (piece by piece, a line shared by three pieces was written
 * and flushed three times).
 */
static void fill_in_place(daxo_pool *p, char *d, const struct tx_piece *pc,
			  unsigned n, size_t total)
{
	_Alignas(64) char head[4 * CACHELINE];
	size_t hl = 0;
	unsigned k = 0;
	size_t skip = 0; /* bytes of piece k already in head */

	/* gather while the pieces are small, up to a line boundary */
	while (k < n && hl + pc[k].len <= sizeof(head) - CACHELINE) {
		memcpy(head + hl, pc[k].src, pc[k].len);
		hl += pc[k].len;
		k++;
	}
	if (hl && hl < total) {
		size_t want = MIN(ALIGN_UP(hl, (size_t)CACHELINE), total);
		while (hl < want && k < n) {
			size_t c = MIN(want - hl, pc[k].len - skip);
			memcpy(head + hl, (const char *)pc[k].src + skip, c);
			hl += c;
			skip += c;
			if (skip == pc[k].len) {
				k++;
				skip = 0;
			}
		}
	}
	if (hl)
		fill_copy(p, d, head, hl);
	d += hl;
	for (; k < n; k++, skip = 0) {
		fill_copy(p, d, (const char *)pc[k].src + skip,
			  pc[k].len - skip);
		d += pc[k].len - skip;
	}
}

/*
 * fill_summed -- may the @len bytes of new object @a be written in place
 * now and named by a SUM entry (tx.h: SUMMED FILLS)? Only in pools of
 * format 1.5, for the keyed store's guarded transactions (nothing else
 * writes their objects but records), for the whole object, and only if no
 * record above the durable W may have written its memory (rule 2: replay
 * would land on the new bytes). The touch table's "maybe" is not checked
 * against the records (a scan reads every lane's slots): memory freed
 * moments ago takes the COPY path.
 */
static bool fill_summed(struct daxo_tx *tx, const struct heap_act *a,
			uint64_t len)
{
	return (tx->p->hdr.incompat & POOL_INCOMPAT_SUMS) && tx->guard &&
	       !tx->nuents && len && len == a->size &&
	       len <= TX_FILL_INLINE &&
	       tx_touch_max(tx->p->lanes, a->oid, len) <=
		   tx_w_durable(tx->p->lanes, tx->lane);
}

int tx_fill(daxo_tx *tx, daxo_oid oid, const struct tx_piece *pc, unsigned n)
{
	daxo_pool *p = tx->p;
	struct heap_act *a = NULL;
	uint64_t len = 0;

	if (tx->err)
		return tx->err;
	for (size_t i = 0; i < tx->nacts; i++)
		if (tx->acts[i].txnew && tx->acts[i].oid == oid &&
		    !tx->acts[i].filled)
			a = &tx->acts[i];
	for (unsigned k = 0; k < n; k++)
		len += pc[k].len;
	if (!a || len > a->size)
		return tx_fail(tx, daxo__err(-EINVAL,
					     "%s: tx_fill: not a new object of "
					     "the transaction, or too long",
					     p->path));
	if (fill_summed(tx, a, len)) {
		tx_pieces_copy(pool_ptr(p, oid), pc, n);
		int ret = tx_emit_sum(tx, oid, len);
		if (ret)
			return tx_fail(tx, ret);
		a->filled = FILL_SUMMED;
		return 0;
	}
	uint64_t after = (tx->rlen + 2 + (len + 7) / 8) * 8 +
			 (tx->nacts + 2) * 32;
	if (len <= TX_FILL_INLINE &&
	    after <= TX_SLOT_SIZE - sizeof(struct redo_hdr)) {
		int ret = tx_emit_copyv(tx, oid, pc, n, (size_t)len);
		if (ret)
			return tx_fail(tx, ret);
		a->filled = FILL_STAGED;
		/*
		 * the object is written when the record is applied, right
		 * after the commit's fence: fetch its lines for writing now,
		 * so that the locked bitmap update then does not wait for
		 * their misses
		 */
		const char *o = pool_ptr(p, oid);
		for (uint64_t k = 0; k < len; k += CACHELINE)
			prefetch_w(o + k);
		return 0;
	}
	fill_in_place(p, pool_ptr(p, oid), pc, n, (size_t)len);
	a->filled = FILL_FLUSHED;
	return 0;
}

static int tx_free_common(daxo_tx *tx, daxo_oid oid, bool user)
{
	struct heap_act a;
	int ret;

	if (!tx)
		return daxo__err(-EINVAL, "daxo_tx_free: NULL transaction");
	ret = tx_foreign(tx, "daxo_tx_free");
	if (ret)
		return ret;
	if (oid == DAXO_OID_NULL)
		return 0; /* as free(NULL) */
	if (tx->err)
		return daxo__err(tx->err, "%s: daxo_tx_free: an earlier call "
					  "failed; abort the transaction",
				 tx->p->path);
	if (user &&
	    (ret = tx_user_oid(tx->p, oid, DAXO_TYPE_ANY, "daxo_tx_free")))
		return tx_fail(tx, ret);
	/* freeing what this transaction allocated cancels the allocation */
	for (size_t i = 0; i < tx->nacts; i++) {
		if (tx->acts[i].oid == oid && !tx->acts[i].is_free) {
			heap_act_cancel(tx->p, &tx->acts[i]);
			tx->acts[i] = tx->acts[--tx->nacts];
			return 0;
		}
	}
	ret = heap_prepare_free(tx->p, oid, &a);
	if (!ret && user)
		ret = tx_lib_free(tx->p, &a, "daxo_tx_free");
	if (ret)
		return tx_fail(tx, ret);
	ret = tx_add_act(tx, &a);
	if (ret) {
		heap_act_cancel(tx->p, &a);
		return tx_fail(tx, ret);
	}
	return 0;
}

DAXO_EXPORT int daxo_tx_free(daxo_tx *tx, daxo_oid oid)
{
	return tx_free_common(tx, oid, true);
}

int tx_free_lib(daxo_tx *tx, daxo_oid oid)
{
	return tx_free_common(tx, oid, false);
}

