/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pmem_count.c -- count fences and flushed cache lines at libpmem's entry
 * points, for every library in the process.
 *
 * libpmemobj 1.12 makes data durable through libpmem's exported functions
 * (pmem_persist, pmem_flush, pmem_drain, pmem_memcpy/memmove/memset with
 * flags, pmem_msync, pmem_deep_flush: see `nm -D --undefined-only
 * libpmemobj.so.1`), and so does libdaxo's persist.c. daxo-bench defines
 * functions of the same names and exports them (the executable is linked with
 * --export-dynamic), so the dynamic linker binds both libraries' calls to
 * these wrappers first; each wrapper counts, then calls the real function,
 * found with dlsym(RTLD_NEXT).
 *
 * What counts as a fence: a pmem_drain; a pmem_persist or pmem_msync; a
 * pmem_mem*() call without PMEM_F_MEM_NODRAIN or PMEM_F_MEM_NOFLUSH; a
 * pmem_mem*_persist. What counts as flushed lines: the cache lines that a
 * pmem_flush, pmem_persist, pmem_msync, pmem_deep_flush or pmem_mem*() call
 * (without PMEM_F_MEM_NOFLUSH) covers -- the same rule as libdaxo's own
 * counters. libpmem calls its own exported functions through its PLT too
 * (pmem_persist calls pmem_flush and pmem_drain), so a per-thread depth keeps
 * those inner calls from being counted twice.
 *
 * Counters are per thread and plain (no atomics): the bench reads them on the
 * thread that ran the work.
 */
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>

#include <libpmem.h>

#include "bench.h"

static __thread uint64_t tls_fences, tls_lines;
static __thread int tls_depth;

static uint64_t lines_of(const void *addr, size_t len)
{
	uintptr_t a = (uintptr_t)addr;

	if (len == 0)
		return 0;
	return (a + len - 1) / 64 - a / 64 + 1;
}

/* the real libpmem function behind a wrapper, looked up once */
#define REAL(name)                                                             \
	static __typeof__(name) *real_##name;                                  \
	if (__builtin_expect(real_##name == NULL, 0)) {                        \
		real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name);     \
	}

static void count(uint64_t fences, uint64_t lines)
{
	if (tls_depth == 0) {
		tls_fences += fences;
		tls_lines += lines;
	}
}

static void count_mem(void *dst, size_t len, unsigned flags)
{
	if (flags & PMEM_F_MEM_NOFLUSH)
		return;
	count(flags & PMEM_F_MEM_NODRAIN ? 0 : 1, lines_of(dst, len));
}

void pmem_drain(void)
{
	REAL(pmem_drain);
	tls_depth++;
	real_pmem_drain();
	tls_depth--;
	count(1, 0);
}

void pmem_flush(const void *addr, size_t len)
{
	REAL(pmem_flush);
	tls_depth++;
	real_pmem_flush(addr, len);
	tls_depth--;
	count(0, lines_of(addr, len));
}

void pmem_persist(const void *addr, size_t len)
{
	REAL(pmem_persist);
	tls_depth++;
	real_pmem_persist(addr, len);
	tls_depth--;
	count(1, lines_of(addr, len));
}

int pmem_msync(const void *addr, size_t len)
{
	REAL(pmem_msync);
	tls_depth++;
	int ret = real_pmem_msync(addr, len);
	tls_depth--;
	count(1, lines_of(addr, len));
	return ret;
}

void pmem_deep_flush(const void *addr, size_t len)
{
	REAL(pmem_deep_flush);
	tls_depth++;
	real_pmem_deep_flush(addr, len);
	tls_depth--;
	count(0, lines_of(addr, len));
}

#define MEM_FLAGS(name, stype)                                                 \
	void *name(void *dst, stype src, size_t len, unsigned flags)           \
	{                                                                      \
		REAL(name);                                                    \
		tls_depth++;                                                   \
		void *r = real_##name(dst, src, len, flags);                   \
		tls_depth--;                                                   \
		count_mem(dst, len, flags);                                    \
		return r;                                                      \
	}
MEM_FLAGS(pmem_memcpy, const void *)
MEM_FLAGS(pmem_memmove, const void *)
MEM_FLAGS(pmem_memset, int)

#define MEM_FIXED(name, stype, flags)                                          \
	void *name(void *dst, stype src, size_t len)                           \
	{                                                                      \
		REAL(name);                                                    \
		tls_depth++;                                                   \
		void *r = real_##name(dst, src, len);                          \
		tls_depth--;                                                   \
		count_mem(dst, len, flags);                                    \
		return r;                                                      \
	}
MEM_FIXED(pmem_memcpy_nodrain, const void *, PMEM_F_MEM_NODRAIN)
MEM_FIXED(pmem_memmove_nodrain, const void *, PMEM_F_MEM_NODRAIN)
MEM_FIXED(pmem_memset_nodrain, int, PMEM_F_MEM_NODRAIN)
MEM_FIXED(pmem_memcpy_persist, const void *, 0)
MEM_FIXED(pmem_memmove_persist, const void *, 0)
MEM_FIXED(pmem_memset_persist, int, 0)

void pmem_count_get(struct bench_counts *out)
{
	out->fences = tls_fences;
	out->lines = tls_lines;
}

/*
 * pmem_count_active -- whether the libraries' libpmem calls reach these
 * wrappers: the global lookup of pmem_drain must find this file's definition
 * (it would not if the executable did not export it).
 */
int pmem_count_active(void)
{
	void *sym = dlsym(RTLD_DEFAULT, "pmem_drain");

	return sym == (void *)pmem_drain;
}
