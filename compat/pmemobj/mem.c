/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mem.c -- pmemobj_persist and friends: daxo_persist / daxo_flush /
 * daxo_drain underneath, which also make every transaction committed
 * before them final where needed (so that recovery never replays an older
 * record over bytes written and persisted here: lib/sync.c).
 *
 * Constructors of atomic allocations persist what they write, as
 * libpmemobj asks them to; here the new object belongs to the transaction
 * that publishes it, which makes it durable with the same fence. So while
 * a constructor runs, flushing (a part of) its object is no operation.
 */
#include <string.h>
#include "pmemobj_int.h"

/* the object a constructor of this thread is building, if any */
static __thread const char *build_lo, *build_hi;

/* building -- is [addr, addr+len) inside the object being constructed? */
static inline bool building(const void *addr, size_t len)
{
	const char *a = addr;

	return build_lo && a >= build_lo && len <= (size_t)(build_hi - a);
}

int cx_construct(PMEMobjpool *pop, pmemobj_constr constr, uint64_t off,
		 size_t size, void *arg)
{
	const char *lo = build_lo, *hi = build_hi;
	int ret;

	build_lo = pop->base + off;
	build_hi = build_lo + size;
	ret = constr(pop, pop->base + off, arg);
	/* constructors nest: one may allocate with another */
	build_lo = lo;
	build_hi = hi;
	return ret;
}

CX_EXPORT void pmemobj_persist(PMEMobjpool *pop, const void *addr, size_t len)
{
	if (!building(addr, len))
		daxo_persist(pop->dp, addr, len);
}

CX_EXPORT void pmemobj_flush(PMEMobjpool *pop, const void *addr, size_t len)
{
	if (!building(addr, len))
		daxo_flush(pop->dp, addr, len);
}

CX_EXPORT void pmemobj_drain(PMEMobjpool *pop)
{
	daxo_drain(pop->dp);
}

CX_EXPORT int pmemobj_xpersist(PMEMobjpool *pop, const void *addr, size_t len,
			       unsigned flags)
{
	if (flags & ~PMEMOBJ_F_RELAXED)
		return cx_err(EINVAL, "pmemobj_xpersist: unknown flags 0x%x",
			      flags & ~PMEMOBJ_F_RELAXED);
	if (!building(addr, len))
		daxo_persist(pop->dp, addr, len);
	return 0;
}

CX_EXPORT int pmemobj_xflush(PMEMobjpool *pop, const void *addr, size_t len,
			     unsigned flags)
{
	if (flags & ~PMEMOBJ_F_RELAXED)
		return cx_err(EINVAL, "pmemobj_xflush: unknown flags 0x%x",
			      flags & ~PMEMOBJ_F_RELAXED);
	if (!building(addr, len))
		daxo_flush(pop->dp, addr, len);
	return 0;
}

/* finish -- what @flags ask after @len bytes at @dest were stored */
static void finish(PMEMobjpool *pop, void *dest, size_t len, unsigned flags)
{
	if ((flags & PMEMOBJ_F_MEM_NOFLUSH) || building(dest, len))
		return;
	if (flags & PMEMOBJ_F_MEM_NODRAIN)
		daxo_flush(pop->dp, dest, len);
	else
		daxo_persist(pop->dp, dest, len);
}

CX_EXPORT void *pmemobj_memcpy(PMEMobjpool *pop, void *dest, const void *src,
			       size_t len, unsigned flags)
{
	memcpy(dest, src, len);
	finish(pop, dest, len, flags);
	return dest;
}

CX_EXPORT void *pmemobj_memmove(PMEMobjpool *pop, void *dest,
				const void *src, size_t len, unsigned flags)
{
	memmove(dest, src, len);
	finish(pop, dest, len, flags);
	return dest;
}

CX_EXPORT void *pmemobj_memset(PMEMobjpool *pop, void *dest, int c, size_t len,
			       unsigned flags)
{
	memset(dest, c, len);
	finish(pop, dest, len, flags);
	return dest;
}

CX_EXPORT void *pmemobj_memcpy_persist(PMEMobjpool *pop, void *dest,
				       const void *src, size_t len)
{
	return pmemobj_memcpy(pop, dest, src, len, 0);
}

CX_EXPORT void *pmemobj_memset_persist(PMEMobjpool *pop, void *dest, int c,
				       size_t len)
{
	return pmemobj_memset(pop, dest, c, len, 0);
}
