/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * err.c -- error messages and codes.
 *
 * daxo_errormsg() is thread-local, as pmem2_errormsg: a failing call writes
 * its message with daxo__err() and returns the code; a successful call leaves
 * the previous message alone, so the message is meaningful only right after a
 * failure.
 */
#if defined(__x86_64__)
#include <cpuid.h>
#endif
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "internal.h"

#define ERRMSG_MAX 1024

bool daxo__prefetchw;

/* CPUID 0x80000001 ECX bit 8: PREFETCHW (internal.h, prefetch_w) */
__attribute__((constructor)) static void daxo__cpu_init(void)
{
#if defined(__x86_64__)
	unsigned a, b, c, d;

	if (__get_cpuid(0x80000001u, &a, &b, &c, &d))
		daxo__prefetchw = (c >> 8) & 1;
#endif
}

static __thread char errmsg[ERRMSG_MAX];

int daxo__err(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
	va_end(ap);
	return err;
}

void daxo__err_clear(void)
{
	errmsg[0] = '\0';
}

DAXO_EXPORT const char *daxo_errormsg(void)
{
	return errmsg;
}

DAXO_EXPORT const char *daxo_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case -EUCLEAN:
		return "pool is corrupted or not a daxo pool";
	case -EPROTONOSUPPORT:
		return "unsupported pool format version or feature";
	case -EBUSY:
		return "pool is in use";
	case -ENOSPC:
		return "no space left in the pool";
	case -EINVAL:
		return "invalid argument";
	case -ENOENT:
		return "not found";
	case -EEXIST:
		return "already exists";
	case -ENOBUFS:
		return "buffer too small";
	case -EROFS:
		return "pool is read-only";
	case -EIO:
		return "input/output error (pool in failed state)";
	default:
		if (err < 0 && err > -4096)
			return strerror(-err);
		return "unknown error";
	}
}

DAXO_EXPORT int daxo_version(void)
{
	return DAXO_VERSION_MAJOR * 10000 + DAXO_VERSION_MINOR * 100 +
	       DAXO_VERSION_PATCH;
}

uint64_t daxo__csum(const void *buf, size_t len, uint64_t seed)
{
	return XXH64(buf, len, seed);
}
