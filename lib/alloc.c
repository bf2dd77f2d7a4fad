/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * alloc.c -- atomic allocation and free (daxo_alloc, daxo_free: one
 * record that changes the heap and publishes the oid) and the root object.
 */
#include <pthread.h>

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
 * atomic_op -- one allocation of @size bytes of @type, or (@is_free) the
 * free of *@dst, published into *@dst in the same record
 */
static int atomic_op(daxo_pool *p, daxo_oid *dst, bool is_free, uint64_t size,
		     uint32_t type, const char *what)
{
	struct daxo_tx *tx;
	struct heap_act a;
	uint64_t off, val;
	int ret;

	if (!p || !dst)
		return daxo__err(-EINVAL, "%s: NULL argument", what);
	ret = dst_off(p, dst, &off);
	if (ret)
		return ret;
	ret = tx_start(p, true, &tx);
	if (ret)
		return ret;
	ret = is_free ? heap_prepare_free(p, *dst, &a)
		      : tx_reserve(p, size, type, &a);
	if (ret)
		goto fail;
	val = is_free ? 0 : a.oid;
	ret = tx_add_act(tx, &a);
	if (ret) {
		heap_act_cancel(p, &a);
		goto fail;
	}
	if (off && (ret = tx_emit(tx, REDO_SET64, off, val)) != 0)
		goto fail;
	ret = daxo_tx_commit(tx);
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
	return atomic_op(p, dst, false, size, type, "daxo_alloc");
}

DAXO_EXPORT int daxo_free(daxo_pool *p, daxo_oid *dst)
{
	return atomic_op(p, dst, true, 0, 0, "daxo_free");
}

DAXO_EXPORT int daxo_root(daxo_pool *p, uint64_t size, daxo_oid *out)
{
	struct daxo_tx *tx;
	daxo_oid oid;
	uint64_t usable;
	int ret;

	if (!p || !out)
		return daxo__err(-EINVAL, "daxo_root: NULL argument");
	pthread_mutex_lock(&p->root_lock);
	oid = __atomic_load_n(&p->meta->root_oid, __ATOMIC_ACQUIRE);
	if (oid) {
		if (heap_object(p, oid, &usable, NULL) != 0) {
			ret = daxo__err(-EUCLEAN,
					"%s: offset %llu: root oid %llu is not a "
					"live object",
					p->path,
					(unsigned long long)p->hdr.meta_off,
					(unsigned long long)oid);
		} else if (size > usable) {
			ret = daxo__err(-EINVAL,
					"%s: the root is %llu bytes; roots do not "
					"grow (asked for %llu)",
					p->path, (unsigned long long)usable,
					(unsigned long long)size);
		} else {
			*out = oid;
			ret = 0;
		}
		goto out;
	}
	if (size == 0) {
		ret = daxo__err(-ENOENT, "%s: the pool has no root object yet",
				p->path);
		goto out;
	}
	ret = tx_start(p, true, &tx);
	if (ret)
		goto out;
	ret = daxo_tx_alloc(tx, size, DAXO_TYPE_ROOT, &oid);
	if (!ret) {
		uint64_t v[2] = {oid, size};
		ret = daxo_tx_write(tx, &p->meta->root_oid, v, sizeof(v));
	}
	if (ret) {
		tx->err = 0;
		tx_abort_internal(tx);
		goto out;
	}
	ret = daxo_tx_commit(tx);
	if (!ret)
		*out = oid;
out:
	pthread_mutex_unlock(&p->root_lock);
	return ret;
}
