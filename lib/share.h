/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * share.h -- counting the cache lines threads share (test builds).
 *
 * The scaling budget (DESIGN.md section 2, doc/SCALING.md) is counted like
 * fences: how many times per operation a thread writes a cache line that
 * another thread touched since its own last access (a transfer of the line
 * for writing: another core's copy is invalidated), and how many times it
 * reads a line another thread wrote since it last read it (a transfer for
 * reading). The accesses counted are those to the library's own state that
 * more than one thread may touch -- the lanes (struct lanes, struct lane),
 * the record slots other threads read, the pool meta's watermark, the
 * touch table -- each marked at its access with share_r()/share_w(). In a
 * build with -DDAXO_COUNT_SHARED (lib/meson.build: libdaxo_count, for
 * tests/unit/test_scaling.c) they record, per line, the last writer and
 * the threads that read it since; everywhere else they are nothing. Data
 * the application itself shares between threads is not counted: that
 * sharing is the program's.
 */
#ifndef DAXO_SHARE_H
#define DAXO_SHARE_H 1

#include "internal.h"

/* what the calling thread caused since share_reset */
struct share_counts {
	uint64_t writes; /* lines written that another thread had touched */
	uint64_t reads;	 /* lines read that another thread had written */
};

/*
 * share_get -- the calling thread's counts; share_reset zeroes them (in
 * the counting build only)
 */
void share_get(struct share_counts *out) DAXO_HIDDEN;
void share_reset(void) DAXO_HIDDEN;
/* share_dump -- every line counted on, and every call site that made a
 * counted access with its counts, to stderr (debugging a count) */
void share_dump(void) DAXO_HIDDEN;

#ifdef DAXO_COUNT_SHARED
void share_note(const volatile void *addr, bool write) DAXO_HIDDEN;
#define share_r(a) share_note((a), false)
#define share_w(a) share_note((a), true)
/*
 * Every C11 atomic operation of the files that include this header after
 * <stdatomic.h> is counted too, marked or not: no shared access escapes
 * the count by a missing mark.
 */
#include <stdatomic.h>
/*
 * the operations themselves: GCC's __atomic builtins take _Atomic objects,
 * clang's take plain ones only (its C11 builtins take _Atomic ones)
 */
#ifdef __clang__
#define SHARE_LOAD(P, MO)     __c11_atomic_load((P), (MO))
#define SHARE_STORE(P, V, MO) __c11_atomic_store((P), (V), (MO))
#define SHARE_XCHG(P, V, MO)  __c11_atomic_exchange((P), (V), (MO))
#define SHARE_ADD(P, V)	      __c11_atomic_fetch_add((P), (V), __ATOMIC_SEQ_CST)
#define SHARE_SUB(P, V)	      __c11_atomic_fetch_sub((P), (V), __ATOMIC_SEQ_CST)
#define SHARE_CAS(P, E, V, WEAK, S, F)                                         \
	((WEAK)                                                                \
	     ? __c11_atomic_compare_exchange_weak((P), (E), (V), (S), (F))     \
	     : __c11_atomic_compare_exchange_strong((P), (E), (V), (S), (F)))
#else
#define SHARE_LOAD(P, MO)     __atomic_load_n((P), (MO))
#define SHARE_STORE(P, V, MO) __atomic_store_n((P), (V), (MO))
#define SHARE_XCHG(P, V, MO)  __atomic_exchange_n((P), (V), (MO))
#define SHARE_ADD(P, V)	      __atomic_fetch_add((P), (V), __ATOMIC_SEQ_CST)
#define SHARE_SUB(P, V)	      __atomic_fetch_sub((P), (V), __ATOMIC_SEQ_CST)
#define SHARE_CAS(P, E, V, WEAK, S, F)                                         \
	__atomic_compare_exchange_n((P), (E), (V), (WEAK), (S), (F))
#endif
#undef atomic_load_explicit
#define atomic_load_explicit(P, MO)                                            \
	__extension__({                                                        \
		share_r(P);                                                    \
		SHARE_LOAD((P), (MO));                                         \
	})
#undef atomic_load
#define atomic_load(P) atomic_load_explicit((P), __ATOMIC_SEQ_CST)
#undef atomic_store_explicit
#define atomic_store_explicit(P, V, MO)                                        \
	__extension__({                                                        \
		share_w(P);                                                    \
		SHARE_STORE((P), (V), (MO));                                   \
	})
#undef atomic_store
#define atomic_store(P, V) atomic_store_explicit((P), (V), __ATOMIC_SEQ_CST)
#undef atomic_exchange_explicit
#define atomic_exchange_explicit(P, V, MO)                                     \
	__extension__({                                                        \
		share_w(P);                                                    \
		SHARE_XCHG((P), (V), (MO));                                    \
	})
#undef atomic_fetch_add
#define atomic_fetch_add(P, V)                                                 \
	__extension__({                                                        \
		share_w(P);                                                    \
		SHARE_ADD((P), (V));                                           \
	})
#undef atomic_fetch_sub
#define atomic_fetch_sub(P, V)                                                 \
	__extension__({                                                        \
		share_w(P);                                                    \
		SHARE_SUB((P), (V));                                           \
	})
#undef atomic_compare_exchange_strong
#define atomic_compare_exchange_strong(P, E, V)                                \
	__extension__({                                                        \
		share_w(P);                                                    \
		SHARE_CAS((P), (E), (V), 0, __ATOMIC_SEQ_CST,                  \
			  __ATOMIC_SEQ_CST);                                   \
	})
#undef atomic_compare_exchange_weak
#define atomic_compare_exchange_weak(P, E, V)                                  \
	__extension__({                                                        \
		share_w(P);                                                    \
		SHARE_CAS((P), (E), (V), 1, __ATOMIC_SEQ_CST,                  \
			  __ATOMIC_SEQ_CST);                                   \
	})
#undef atomic_compare_exchange_weak_explicit
#define atomic_compare_exchange_weak_explicit(P, E, V, S, F)                   \
	__extension__({                                                        \
		share_w(P);                                                    \
		SHARE_CAS((P), (E), (V), 1, (S), (F));                         \
	})
#else
#define share_r(a) ((void)(a))
#define share_w(a) ((void)(a))
#endif

#endif
