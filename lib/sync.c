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
 */
#include "persist.h"
#include "pool.h"
#include "tx.h"

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
	return pool_healthy(p, what);
}

static int pool_drain(daxo_pool *p, const char *what)
{
	int ret = usable(p, what);

	if (ret)
		return ret;
	tx_sync(p);
	return pool_healthy(p, what);
}

static int pool_persist(daxo_pool *p, const void *addr, size_t len,
			const char *what)
{
	int ret = usable(p, what);

	if (ret || len == 0 || (ret = range_ok(p, addr, len, what)))
		return ret;
	persist_flush(&p->ps, addr, len);
	tx_sync(p);
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
