/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mem.c -- pmemobj_persist and friends: daxo_persist / daxo_flush /
 * daxo_drain underneath, which also make every transaction committed
 * before them final (so that recovery never replays an older record over
 * bytes written and persisted here).
 */
#include <string.h>
#include "pmemobj_int.h"

CX_EXPORT void pmemobj_persist(PMEMobjpool *pop, const void *addr, size_t len)
{
	daxo_persist(pop->dp, addr, len);
}

CX_EXPORT void pmemobj_flush(PMEMobjpool *pop, const void *addr, size_t len)
{
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
	daxo_persist(pop->dp, addr, len);
	return 0;
}

CX_EXPORT int pmemobj_xflush(PMEMobjpool *pop, const void *addr, size_t len,
			     unsigned flags)
{
	if (flags & ~PMEMOBJ_F_RELAXED)
		return cx_err(EINVAL, "pmemobj_xflush: unknown flags 0x%x",
			      flags & ~PMEMOBJ_F_RELAXED);
	daxo_flush(pop->dp, addr, len);
	return 0;
}

/* finish -- what @flags ask after @len bytes at @dest were stored */
static void finish(PMEMobjpool *pop, void *dest, size_t len, unsigned flags)
{
	if (flags & PMEMOBJ_F_MEM_NOFLUSH)
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
