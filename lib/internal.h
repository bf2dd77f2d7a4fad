/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * internal.h -- declarations shared by the modules of libdaxo.
 *
 * Nothing here is API. Modules depend downwards only:
 * kv -> tx -> heap -> pool -> persist -> libpmem.
 */
#ifndef DAXO_INTERNAL_H
#define DAXO_INTERNAL_H 1

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "daxo.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the on-media format is little-endian; big-endian hosts need byte swapping"
#endif

#define DAXO_HIDDEN __attribute__((visibility("hidden")))

#define CACHELINE 64u
#define ALIGN_UP(x, a) (((x) + ((a)-1)) & ~((__typeof__(x))(a)-1))
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a)-1))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define STR_(x) #x
#define STR(x) STR_(x)
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* err.c: the thread-local error message */

/*
 * daxo__err -- record a message for daxo_errormsg() and return @err
 * (a negative errno). Formats like printf.
 */
int daxo__err(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3))) DAXO_HIDDEN;
/* daxo__err_clear -- forget the last message (start of a public call). */
void daxo__err_clear(void) DAXO_HIDDEN;

/* checksum over on-media structures (xxh64) */
uint64_t daxo__csum(const void *buf, size_t len, uint64_t seed) DAXO_HIDDEN;

/*
 * DAXO_RACY marks a function that reads pool memory another thread may be
 * writing with plain stores, by design: it checks what it read (a header
 * checksum, a sequence) before trusting it, and a torn read only costs a
 * retry or a needless flush. ThreadSanitizer leaves such a function
 * uninstrumented (and not inlined, which would lose the attribute); on
 * pmem the writers' stores go through libpmem, which it does not see
 * either, but the msync backend's are plain memcpy.
 */
#if defined(__SANITIZE_THREAD__)
#define DAXO_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define DAXO_TSAN 1
#endif
#endif
#ifdef DAXO_TSAN
#define DAXO_RACY __attribute__((noinline, no_sanitize("thread")))
#else
#define DAXO_RACY
#endif

/* cpu_relax -- a pause in a spin loop */
static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/*
 * prefetch_w -- start fetching the line at @p for writing (PREFETCHW: the
 * line arrives owned, so a store or a locked instruction on it does not
 * then wait for another core to give it up). GCC turns
 * __builtin_prefetch(p, 1) into a plain PREFETCHT0 unless the whole
 * library is built for PRFCHW, and Intel cores before Broadwell may not
 * have the instruction: so it is used only when CPUID says so
 * (daxo__prefetchw, set when the library loads).
 */
extern bool daxo__prefetchw DAXO_HIDDEN;

static inline void prefetch_w(const void *p)
{
#if defined(__x86_64__)
	if (likely(daxo__prefetchw)) {
		__asm__ volatile("prefetchw %0" : : "m"(*(const char *)p));
		return;
	}
#endif
	__builtin_prefetch(p, 1);
}

#endif
