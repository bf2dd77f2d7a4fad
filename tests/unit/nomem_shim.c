/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nomem_shim.c -- allocation-failure injection for test_nomem: a shared
 * library (test-only, never installed) that defines malloc, calloc,
 * realloc, aligned_alloc, posix_memalign, memalign, valloc and pvalloc,
 * counts every call, and makes the one chosen by nomem_arm() -- or, in
 * "persist" mode, it and every later one -- fail with ENOMEM.
 *
 * The program links it (DT_NEEDED before libc), so its definitions
 * interpose for the whole process: the program, libdaxo, libpmem, and
 * glibc's own allocating functions (strdup, fopen, asprintf ...), which
 * glibc calls through the replaceable malloc by design ("Replacing malloc"
 * in its manual). The real allocations are glibc's __libc_* entry points,
 * so no dlsym() bootstrap is needed and free() stays glibc's. Sanitizer
 * builds do not build it: their runtimes own the allocator
 * (tests/meson.build).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>

#include "nomem_shim.h"

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t sz);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);
extern void *__libc_valloc(size_t n);
extern void *__libc_pvalloc(size_t n);

static _Atomic long calls;	/* allocation calls since the last arm */
static _Atomic long fail_at = -1; /* the call that fails, or -1 */
static _Atomic int persist;	/* and every call after it */
static _Atomic long failed;	/* calls failed since the last arm */

void nomem_arm(long n, int persistent)
{
	atomic_store(&fail_at, -1);
	atomic_store(&calls, 0);
	atomic_store(&failed, 0);
	atomic_store(&persist, persistent);
	atomic_store(&fail_at, n);
}

void nomem_disarm(void)
{
	atomic_store(&fail_at, -1);
}

long nomem_calls(void)
{
	return atomic_load(&calls);
}

long nomem_failed(void)
{
	return atomic_load(&failed);
}

/* should_fail -- count one allocation call; true if it is to fail */
static int should_fail(void)
{
	long k = atomic_fetch_add(&calls, 1);
	long f = atomic_load(&fail_at);

	if (f < 0 || k < f || (k > f && !atomic_load(&persist)))
		return 0;
	atomic_fetch_add(&failed, 1);
	errno = ENOMEM;
	return 1;
}

void *malloc(size_t n)
{
	return should_fail() ? NULL : __libc_malloc(n);
}

void *calloc(size_t n, size_t sz)
{
	return should_fail() ? NULL : __libc_calloc(n, sz);
}

void *realloc(void *p, size_t n)
{
	/* realloc(p, 0) frees (glibc): not an allocation that can fail */
	if (p && n == 0)
		return __libc_realloc(p, 0);
	return should_fail() ? NULL : __libc_realloc(p, n);
}

void *memalign(size_t align, size_t n)
{
	return should_fail() ? NULL : __libc_memalign(align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
	if (align == 0 || (align & (align - 1))) {
		errno = EINVAL;
		return NULL;
	}
	return should_fail() ? NULL : __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	void *p;

	if (align < sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	if (should_fail())
		return ENOMEM;
	p = __libc_memalign(align, n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

void *valloc(size_t n)
{
	return should_fail() ? NULL : __libc_valloc(n);
}

void *pvalloc(size_t n)
{
	return should_fail() ? NULL : __libc_pvalloc(n);
}
