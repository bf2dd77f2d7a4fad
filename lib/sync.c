/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sync.c -- the application's own flushes and fences: daxo_pool_flush,
 * daxo_pool_drain, daxo_pool_persist (which say what went wrong), the
 * DESIGN.md calls daxo_flush, daxo_drain, daxo_persist (which cannot), and
 * daxo_pool_status.
 *
 * A fence here is tx_sync (tx.h): besides ordering the caller's flushes it
 * makes every transaction committed so far final, so that recovery never
 * replays a record over bytes the application persisted after it. A range
 * outside the pool is refused before anything is flushed: a CLWB of an
 * unmapped address would fault, and an msync of one would fail and put a
 * healthy pool into its failed state.
 *
 * daxo_persist of a range no record above the durable W may have written
 * (tx_range_final: the touch table) needs no tx_sync: one drain, as a
 * one-word commit (tx.h, rule 2). Its fence also completes the thread's
 * earlier daxo_flush calls, so a flush of a range that fails the check
 * leaves the thread owing a tx_sync on that pool (owed), paid by its next
 * persist or drain there.
 */
#include "persist.h"
#include "pool.h"
#include "tx.h"

/* the pool this thread owes a tx_sync (a flush of a range that may be
 * replayed over), or OWED_MANY for more than one: never paid off */
#define OWED_MANY ((const daxo_pool *)1)
static __thread const daxo_pool *owed;

/* synced -- tx_sync(@p) ran: the thread's debt on @p is paid */
static inline void synced(const daxo_pool *p)
{
	if (owed == p)
		owed = NULL;
}

/* range_ok -- 0 if [addr, addr+len) lies inside @p's mapping, else -EINVAL */
static int range_ok(daxo_pool *p, const void *addr, size_t len,
		    const char *what)
{
	uintptr_t a = (uintptr_t)addr, b = (uintptr_t)p->base;

	if (a >= b && a - b <= p->size && len <= p->size - (a - b))
		return 0;
	return daxo__err(-EINVAL,
			 "%s: %s: [%p, +%zu) is not inside the pool's mapping "
			 "[%p, +%llu); nothing was flushed",
			 p->path, what, addr, len, (void *)p->base,
			 (unsigned long long)p->size);
}

/* usable -- 0, or -EINVAL for no pool, -EROFS for a read-only one */
static int usable(daxo_pool *p, const char *what)
{
	if (!p)
		return daxo__err(-EINVAL, "%s: NULL pool", what);
	if (p->rdonly)
		return daxo__err(-EROFS,
				 "%s: %s: pool is open read-only (a private "
				 "view: nothing is made durable)",
				 p->path, what);
	if (unlikely(pool_inherited(p)))
		return pool_own(p, what); /* -EBADFD: a child of fork() */
	return 0;
}

/*
 * pool_flush, pool_drain, pool_persist -- the work of both families: the
 * exported functions call these, not each other, so that daxo_persist is
 * no call through the PLT away from its flush
 */
static int pool_flush(daxo_pool *p, const void *addr, size_t len,
		      const char *what)
{
	int ret = usable(p, what);

	if (ret || len == 0 || (ret = range_ok(p, addr, len, what)))
		return ret;
	persist_flush(&p->ps, addr, len);
#ifndef DAXO_PLANT_FLUSH_UNOWED /* crash-sim test: flushes owe nothing */
	if (owed != p && owed != OWED_MANY &&
	    !tx_range_final(p, pool_off(p, addr), len))
		owed = owed ? OWED_MANY : p;
#endif
	return pool_healthy(p, what);
}

static int pool_drain(daxo_pool *p, const char *what)
{
	int ret = usable(p, what);

	if (ret)
		return ret;
	tx_sync(p);
	synced(p);
	return pool_healthy(p, what);
}

static int pool_persist(daxo_pool *p, const void *addr, size_t len,
			const char *what)
{
	int ret = usable(p, what);

	if (ret || len == 0 || (ret = range_ok(p, addr, len, what)))
		return ret;
	persist_flush(&p->ps, addr, len);
	if (!owed && tx_range_final(p, pool_off(p, addr), len)) {
		persist_drain(&p->ps);
	} else {
		tx_sync(p);
		synced(p);
	}
	return pool_healthy(p, what);
}

DAXO_EXPORT int daxo_pool_flush(daxo_pool *p, const void *addr, size_t len)
{
	return pool_flush(p, addr, len, "daxo_pool_flush");
}

DAXO_EXPORT int daxo_pool_drain(daxo_pool *p)
{
	return pool_drain(p, "daxo_pool_drain");
}

DAXO_EXPORT int daxo_pool_persist(daxo_pool *p, const void *addr, size_t len)
{
	return pool_persist(p, addr, len, "daxo_pool_persist");
}

DAXO_EXPORT void daxo_flush(daxo_pool *p, const void *addr, size_t len)
{
	(void)pool_flush(p, addr, len, "daxo_flush");
}

DAXO_EXPORT void daxo_drain(daxo_pool *p)
{
	(void)pool_drain(p, "daxo_drain");
}

DAXO_EXPORT void daxo_persist(daxo_pool *p, const void *addr, size_t len)
{
	(void)pool_persist(p, addr, len, "daxo_persist");
}

DAXO_EXPORT int daxo_pool_status(daxo_pool *p)
{
	if (!p)
		return daxo__err(-EINVAL, "daxo_pool_status: NULL pool");
	return pool_healthy(p, "daxo_pool_status");
}
