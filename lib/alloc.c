/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * alloc.c -- atomic allocation and free (daxo_alloc, daxo_free: one
 * record that changes the heap and publishes the oid), allocation with a
 * constructor, realloc (atomic and in a transaction), and the root object,
 * which grows by the same kind of record.
 *
 * A constructed object is an object of the (internal) transaction, as
 * daxo_tx_alloc's are: the commit makes its contents durable before, or
 * with, the record that allocates and publishes it (tx.h: COMMIT), so the
 * constructor need not flush anything and a crash never publishes an
 * object whose constructor had not finished.
 */
#include <pthread.h>
#include <string.h>

#include "heap.h"
#include "pool.h"
#include "txint.h"

int tx_reserve(daxo_pool *p, uint64_t size, uint32_t type, struct heap_act *a)
{
	int ret = heap_reserve(p, size, type, a);

	if (ret == HEAP_RUN_NEW) {
		/*
		 * the new run's zeroed bitmap durable, and every earlier
		 * record final, before its head is written (heap.h: NEW RUNS)
		 */
#ifndef DAXO_PLANT_RUN_NO_SYNC
		tx_sync(p);
#else
		/* planted bug: fenced, but older records may still be replayed */
		persist_drain(&p->ps);
#endif
		heap_run_publish(p, a);
		ret = 0;
	}
	return ret;
}

/* dst_off -- the pool offset of @dst, or 0 if it is volatile memory */
static int dst_off(daxo_pool *p, const daxo_oid *dst, uint64_t *off)
{
	const char *a = (const char *)dst;

	*off = 0;
	if (a < p->base || a >= p->base + p->size)
		return 0;
	*off = (uint64_t)(a - p->base);
	if (*off % 8 || !heap_target_ok(p, *off, 8))
		return daxo__err(-EINVAL,
				 "%s: destination oid at offset %llu is not an "
				 "aligned word in the heap or root area",
				 p->path, (unsigned long long)*off);
	return 0;
}

/*
 * an allocation: size, type, flags and the constructor if any; for a
 * realloc, the object it replaces (its contents moved, it freed)
 */
struct alloc_req {
	uint64_t size;
	uint32_t type;
	unsigned flags;
	daxo_ctor ctor;
	void *arg;
	daxo_oid old;
	uint64_t old_usable;
};

/*
 * new_object -- reserve @r's object as a new object of @tx and initialize
 * it (zeroed with DAXO_ALLOC_ZERO, then the constructor); its oid in
 * *@oid. 0, or -errno with nothing left reserved.
 */
static inline int new_object(struct daxo_tx *tx, const struct alloc_req *r,
			     daxo_oid *oid)
{
	daxo_pool *p = tx->p;
	struct heap_act a;
	int ret = tx_reserve(p, r->size, r->type, &a);

	if (ret)
		return ret;
	/*
	 * contents written here are part of the commit (made durable before
	 * or with the record); daxo_alloc's object is left as it is
	 */
	a.txnew = (r->flags & DAXO_ALLOC_ZERO) || r->ctor || r->old;
	ret = tx_add_act(tx, &a);
	if (ret) {
		heap_act_cancel(p, &a);
		return ret;
	}
	/* (a realloc's ZERO is for the bytes added only: moved() does it) */
	if ((r->flags & DAXO_ALLOC_ZERO) && !r->old)
		memset(pool_ptr(p, a.oid), 0, tx_new_object_len(&a));
#ifndef DAXO_PLANT_CTOR_AFTER_PUBLISH
	if (r->ctor && r->ctor(p, pool_ptr(p, a.oid), r->size, r->arg) != 0)
		return daxo__err(-ECANCELED, "%s: the constructor refused",
				 p->path);
#endif
	*oid = a.oid;
	return 0;
}

/*
 * moved -- fill the new object @n (@size bytes, of @tx) from @old (@usable
 * bytes): the common part copied, the rest zeroed with DAXO_ALLOC_ZERO
 */
static void moved(daxo_pool *p, daxo_oid n, daxo_oid old, uint64_t usable,
		  uint64_t size, unsigned flags)
{
	uint64_t keep = MIN(usable, size);

	memcpy(pool_ptr(p, n), pool_ptr(p, old), keep);
	if ((flags & DAXO_ALLOC_ZERO) && size > keep)
		memset((char *)pool_ptr(p, n) + keep, 0, size - keep);
}

/*
 * held_by_open_tx -- -EBUSY if @victim, about to be freed outside the
 * thread's open transaction on @p, is part of that transaction: its commit
 * or abort would write into memory the heap may have handed out again.
 * @advice ends the message: what the caller should do instead.
 */
static int held_by_open_tx(daxo_pool *p, daxo_oid victim, const char *what,
			   const char *advice)
{
	const struct daxo_tx *tx;
	uint64_t usable;
	uint32_t type;

	if (!victim || !(tx = tx_open_on(p)))
		return 0;
	/* not live (yet): the transaction's own allocation, or not an object */
	if (heap_object(p, victim, &usable, &type) != 0)
		usable = 1;
	if (!tx_holds(tx, victim, usable))
		return 0;
	return daxo__err(-EBUSY,
			 "%s: %s: the object at offset %llu is part of the "
			 "thread's open transaction (logged, written, "
			 "allocated or freed in it): %s",
			 p->path, what, (unsigned long long)victim, advice);
}

/*
 * atomic_op -- one allocation (@r: a new object, and for a realloc the old
 * one's contents moved into it and the old one freed), or (@r NULL) the
 * free of *@dst; published into *@dst in the same record
 */
static int atomic_op(daxo_pool *p, daxo_oid *dst, const struct alloc_req *r,
		     const char *what, bool user)
{
	struct daxo_tx *tx;
	struct heap_act a;
	uint64_t off, val = 0;
	int ret;

	if (!p || !dst)
		return daxo__err(-EINVAL, "%s: NULL argument", what);
	if (unlikely(pool_inherited(p)))
		return pool_own(p, what); /* -EBADFD: a child of fork() */
	ret = dst_off(p, dst, &off);
	if (ret)
		return ret;
	if (user) {
		ret = tx_user_oid(p, r ? r->old : *dst,
				  r ? r->type : DAXO_TYPE_ANY, what);
		if (!ret)
			ret = held_by_open_tx(p, r ? r->old : *dst, what,
					      "free it with daxo_tx_free");
		if (ret)
			return ret;
	}
	ret = tx_start(p, true, &tx);
	if (ret)
		return ret;
	if (r)
		ret = new_object(tx, r, &val);
	if (r && r->old && !ret) {
#ifndef DAXO_PLANT_REALLOC_COPY_LATE
		moved(p, val, r->old, r->old_usable, r->size, r->flags);
#endif
	}
	if (!r || (r->old && !ret)) {
		ret = heap_prepare_free(p, r ? r->old : *dst, &a);
		if (!ret && user)
			ret = tx_lib_free(p, &a, what);
		if (!ret && (ret = tx_add_act(tx, &a)) != 0)
			heap_act_cancel(p, &a);
	}
	if (ret)
		goto fail;
	if (off && (ret = tx_emit(tx, REDO_SET64, off, val)) != 0)
		goto fail;
	ret = daxo_tx_commit(tx);
#ifdef DAXO_PLANT_CTOR_AFTER_PUBLISH /* crash-sim test: published unbuilt */
	if (ret == 0 && r && r->ctor) {
		r->ctor(p, pool_ptr(p, val), r->size, r->arg);
		daxo_persist(p, pool_ptr(p, val), r->size);
	}
#endif
#ifdef DAXO_PLANT_REALLOC_COPY_LATE /* crash-sim test: copied after publishing */
	if (ret == 0 && r && r->old) {
		moved(p, val, r->old, r->old_usable, r->size, r->flags);
		daxo_persist(p, pool_ptr(p, val), r->size);
	}
#endif
	if (ret == 0 && !off)
		*dst = val;
	return ret;
fail:
	tx_abort_internal(tx);
	return ret;
}

DAXO_EXPORT int daxo_alloc(daxo_pool *p, uint64_t size, uint32_t type,
			   daxo_oid *dst)
{
	struct alloc_req r = {size, type, 0, NULL, NULL, 0, 0};

	return atomic_op(p, dst, &r, "daxo_alloc", true);
}

DAXO_EXPORT int daxo_alloc_ctor(daxo_pool *p, uint64_t size, uint32_t type,
				unsigned flags, daxo_ctor ctor, void *arg,
				daxo_oid *dst)
{
	struct alloc_req r = {size, type, flags, ctor, arg, 0, 0};

	if (flags & ~DAXO_ALLOC_ZERO)
		return daxo__err(-EINVAL, "daxo_alloc_ctor: unknown flags 0x%x",
				 flags & ~DAXO_ALLOC_ZERO);
	return atomic_op(p, dst, &r, "daxo_alloc_ctor", true);
}

DAXO_EXPORT int daxo_free(daxo_pool *p, daxo_oid *dst)
{
	return atomic_op(p, dst, NULL, "daxo_free", true);
}

int alloc_lib(daxo_pool *p, uint64_t size, uint32_t type, daxo_oid *dst)
{
	struct alloc_req r = {size, type, 0, NULL, NULL, 0, 0};

	return atomic_op(p, dst, &r, "daxo_alloc", false);
}

int free_lib(daxo_pool *p, daxo_oid *dst)
{
	return atomic_op(p, dst, NULL, "daxo_free", false);
}

DAXO_EXPORT int daxo_realloc(daxo_pool *p, daxo_oid *dst, uint64_t size,
			     uint32_t type, unsigned flags)
{
	uint64_t usable;
	uint32_t otype;
	daxo_oid old;

	if (!p || !dst)
		return daxo__err(-EINVAL, "daxo_realloc: NULL argument");
	if (flags & ~DAXO_ALLOC_ZERO)
		return daxo__err(-EINVAL, "daxo_realloc: unknown flags 0x%x",
				 flags & ~DAXO_ALLOC_ZERO);
	old = __atomic_load_n(dst, __ATOMIC_ACQUIRE);
	if (!old)
		return daxo_alloc_ctor(p, size, type, flags, NULL, NULL, dst);
	if (!size)
		return daxo_free(p, dst);
	int ret = tx_user_oid(p, old, type, "daxo_realloc");
	if (ret)
		return ret;
	if (heap_object(p, old, &usable, &otype) != 0)
		return daxo__err(-EINVAL, "%s: daxo_realloc: offset %llu is "
					  "not a live object",
				 p->path, (unsigned long long)old);
	if (size <= usable && otype == type && !(flags & DAXO_ALLOC_ZERO))
		return 0;
	struct alloc_req r = {size, type, flags, NULL, NULL, old, usable};

	return atomic_op(p, dst, &r, "daxo_realloc", true);
}

bool tx_new_object(const struct daxo_tx *tx, daxo_oid oid, uint64_t *usable,
		   uint32_t *type)
{
	for (size_t i = 0; i < tx->nacts; i++) {
		const struct heap_act *a = &tx->acts[i];
		if (a->txnew && !a->is_free && a->oid == oid) {
			*usable = tx_new_object_len(a);
			*type = a->type;
			return true;
		}
	}
	return false;
}

DAXO_EXPORT int daxo_tx_realloc(daxo_tx *tx, daxo_oid oid, uint64_t size,
				uint32_t type, unsigned flags, daxo_oid *out)
{
	uint64_t usable;
	uint32_t otype;
	daxo_oid n;
	int ret;

	if (!tx || !out)
		return daxo__err(-EINVAL, "daxo_tx_realloc: NULL argument");
	ret = tx_foreign(tx, "daxo_tx_realloc");
	if (ret)
		return ret;
	if (!tx->err && (ret = tx_user_oid(tx->p, oid, type, "daxo_tx_realloc")))
		return tx_fail(tx, ret);
	if (!oid)
		return daxo_tx_xalloc(tx, size, type, flags, out);
	if (!size) {
		ret = daxo_tx_free(tx, oid);
		if (!ret)
			*out = 0;
		return ret;
	}
	if (tx->err)
		return daxo__err(tx->err, "%s: daxo_tx_realloc: an earlier "
					  "call failed; abort the transaction",
				 tx->p->path);
	if (heap_object(tx->p, oid, &usable, &otype) != 0 &&
	    !tx_new_object(tx, oid, &usable, &otype))
		return tx_fail(tx, daxo__err(-EINVAL,
					     "%s: daxo_tx_realloc: offset %llu "
					     "is not a live object",
					     tx->p->path,
					     (unsigned long long)oid));
	if (size <= usable && otype == type && !(flags & DAXO_ALLOC_ZERO)) {
		*out = oid;
		return 0;
	}
	/* the new object is the transaction's: filled in place */
	ret = daxo_tx_xalloc(tx, size, type, flags & ~DAXO_ALLOC_ZERO, &n);
	if (ret)
		return ret;
	moved(tx->p, n, oid, usable, size, flags);
	ret = daxo_tx_free(tx, oid);
	if (ret)
		return ret;
	*out = n;
	return 0;
}

/*
 * root_new -- in @tx: a new root of @size (the old one's contents, if
 * @old, the rest zeroed, then @ctor), the old one freed, the pool's root
 * and size pointing to it; *@oid the new root
 */
static int root_new(struct daxo_tx *tx, daxo_oid old, uint64_t usable,
		    uint64_t size, daxo_ctor ctor, void *arg, daxo_oid *oid)
{
	daxo_pool *p = tx->p;
	struct alloc_req r = {size, DAXO_TYPE_ROOT, DAXO_ALLOC_ZERO, NULL,
			      NULL, 0, 0};
	struct heap_act a;
	int ret = new_object(tx, &r, oid);

	if (ret)
		return ret;
#ifndef DAXO_PLANT_ROOT_COPY_LATE
	if (old)
		moved(p, *oid, old, usable, size, 0);
#endif
	if (ctor && ctor(p, pool_ptr(p, *oid), size, arg) != 0)
		return daxo__err(-ECANCELED, "%s: the root's constructor "
					     "refused",
				 p->path);
	if (old) {
		ret = heap_prepare_free(p, old, &a);
		if (!ret && (ret = tx_add_act(tx, &a)) != 0)
			heap_act_cancel(p, &a);
		if (ret)
			return ret;
	}
	uint64_t v[2] = {*oid, size};
	return daxo_tx_write(tx, &p->meta->root_oid, v, sizeof(v));
}

/* root_common -- daxo_root and daxo_root_construct, under root_lock */
static int root_common(daxo_pool *p, uint64_t size, daxo_ctor ctor, void *arg,
		       daxo_oid *out)
{
	struct daxo_tx *tx;
	daxo_oid oid, old;
	uint64_t usable = 0;
	int ret;

	old = __atomic_load_n(&p->meta->root_oid, __ATOMIC_ACQUIRE);
	if (old) {
		uint32_t type;
		/* a damaged word may name another live object: the type
		 * tells the root from it */
		if (heap_object(p, old, &usable, &type) != 0 ||
		    type != DAXO_TYPE_ROOT)
			return daxo__err(-EUCLEAN,
					 "%s: offset %llu: root oid %llu is "
					 "not a live root object",
					 p->path,
					 (unsigned long long)p->hdr.meta_off,
					 (unsigned long long)old);
		if (size <= usable) {
			/* remember the largest size asked: one failure-atomic
			 * word, made durable before the call returns */
			if (size > p->meta->root_size && !p->rdonly) {
				p->meta->root_size = size;
				daxo_persist(p, &p->meta->root_size, 8);
			}
			*out = old;
			return 0;
		}
	} else if (p->meta->root_size ||
		   (old = daxo_first(p, DAXO_TYPE_ROOT)) != 0) {
		/*
		 * No root oid, but a root size (the two are written together)
		 * or a live root object: the oid was damaged, and a new root
		 * would hide the old one. (The heap is searched only while the
		 * pool has no root.)
		 */
		return daxo__err(-EUCLEAN,
				 "%s: offset %llu: no root oid, yet root size "
				 "%llu and root object %llu (0: none)",
				 p->path, (unsigned long long)p->hdr.meta_off,
				 (unsigned long long)p->meta->root_size,
				 (unsigned long long)old);
	} else if (size == 0) {
		return daxo__err(-ENOENT, "%s: the pool has no root object yet",
				 p->path);
	}
	/* growing moves the root and frees the old one (as daxo_realloc) */
	if (old && (ret = held_by_open_tx(
			p, old, "daxo_root",
			"end the transaction before growing the root")) != 0)
		return ret;
	ret = tx_start(p, true, &tx);
	if (ret)
		return ret;
	ret = root_new(tx, old, usable, size, ctor, arg, &oid);
	if (ret) {
		tx->err = 0;
		tx_abort_internal(tx);
		return ret;
	}
	ret = daxo_tx_commit(tx);
#ifdef DAXO_PLANT_ROOT_COPY_LATE /* crash-sim test: copied after publishing */
	if (ret == 0 && old) {
		memcpy(pool_ptr(p, oid), pool_ptr(p, old), MIN(usable, size));
		daxo_persist(p, pool_ptr(p, oid), size);
	}
#endif
	if (!ret)
		*out = oid;
	return ret;
}

DAXO_EXPORT int daxo_root_construct(daxo_pool *p, uint64_t size,
				    daxo_ctor ctor, void *arg, daxo_oid *out)
{
	int ret;

	if (!p || !out)
		return daxo__err(-EINVAL, "daxo_root: NULL argument");
	pthread_mutex_lock(&p->root_lock);
	ret = root_common(p, size, ctor, arg, out);
	pthread_mutex_unlock(&p->root_lock);
	return ret;
}

DAXO_EXPORT int daxo_root(daxo_pool *p, uint64_t size, daxo_oid *out)
{
	return daxo_root_construct(p, size, NULL, NULL, out);
}

DAXO_EXPORT uint64_t daxo_root_size(daxo_pool *p)
{
	uint64_t usable;

	if (!p)
		return 0;
	pthread_mutex_lock(&p->root_lock);
	daxo_oid oid = __atomic_load_n(&p->meta->root_oid, __ATOMIC_ACQUIRE);
	uint64_t size = p->meta->root_size;
	uint32_t type;
	if (!oid || heap_object(p, oid, &usable, &type) != 0 ||
	    type != DAXO_TYPE_ROOT)
		size = 0;
	else if (size > usable || size == 0)
		size = usable; /* pools made before root_size was kept */
	pthread_mutex_unlock(&p->root_lock);
	return size;
}
