/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * persist.h -- the flush/fence layer: the only code that makes stores durable.
 *
 * Every flush and every fence of libdaxo goes through the functions below,
 * which call a backend chosen at open:
 *
 *   pmem    libpmem's pmem_flush/pmem_drain/pmem_memcpy_nodrain: CLWB or
 *           CLFLUSHOPT per cache line, SFENCE per drain. Used when
 *           pmem_is_pmem() is true (DAX with MAP_SYNC, device DAX, or
 *           PMEM_IS_PMEM_FORCE=1).
 *   msync   pmem_msync per flushed range (page granular); drain is a no-op
 *           because msync is synchronous. Used for every other file.
 *   none    no-ops, for read-only pools mapped copy-on-write.
 *   (test)  a crash simulator installed with persist_set_backend(), which
 *           keeps its own model of what is durable (tests/crash).
 *
 * The crash model every caller reasons under (DESIGN.md section 2): after a
 * crash, a store that was flushed and then fenced is durable; any other store
 * may or may not be, independently per 8-byte word; stores to one cache line
 * persist in program order; only aligned 8-byte stores are failure-atomic.
 *
 * Counters: fences, flushed cache lines and logged bytes are counted per pool
 * (one block per thread, plain stores) and per thread.
 * A fence is counted at every drain call, whatever the backend.
 */
#ifndef DAXO_PERSIST_H
#define DAXO_PERSIST_H 1

#include <pthread.h>
#include <stdatomic.h>
#include "internal.h"

struct persist;

/* a persistence backend; all functions must be thread-safe */
struct persist_ops {
	const char *name;
	void (*flush)(struct persist *ps, const void *addr, size_t len);
	/* @site: "file:line" of the caller, for crash reports */
	void (*drain)(struct persist *ps, const char *site);
	/* copy (or fill) and flush, without a fence */
	void (*memcpy_nodrain)(struct persist *ps, void *dst, const void *src,
			       size_t len);
	void (*memset_nodrain)(struct persist *ps, void *dst, int c,
			       size_t len);
	/*
	 * optional: @n random bytes for a choice the library stores in the
	 * pool (the keyed store's hash seed); true if filled. The crash
	 * simulator makes them repeat from one pass to the next, whose
	 * fences must be the same. Without it: getrandom(2).
	 */
	bool (*random)(struct persist *ps, void *buf, size_t n);
};

enum stat_idx {
	ST_FENCES,
	ST_FLUSHES,
	ST_LOGGED,
	ST_COMMITS,
	ST_ABORTS,
	ST_ALLOCS,
	ST_FREES,
	ST_RECOVERIES,
	ST_NR
};


/*
 * One block of counters per (pool, thread), written only by its thread with
 * plain stores: a locked read-modify-write after a CLWB would order it like
 * a fence and make every flush synchronous.
 */
struct stat_block {
	uint64_t v[ST_NR];
	struct stat_block *next;
};

struct persist {
	const struct persist_ops *ops;
	void *backend_ctx; /* owned by the backend */
	char *base;        /* the mapping this layer serves */
	uint64_t size;
	/* sticky: a flush failed or corruption was found; writes refused */
	_Atomic int failed;
	uint64_t id; /* unique per open pool: keys the per-thread blocks */
	pthread_mutex_t blk_lock;
	struct stat_block *blocks;
};

/* the built-in backends */
extern const struct persist_ops persist_ops_pmem DAXO_HIDDEN;
extern const struct persist_ops persist_ops_msync DAXO_HIDDEN;
extern const struct persist_ops persist_ops_none DAXO_HIDDEN;

void persist_init(struct persist *ps, const struct persist_ops *ops,
		  char *base, uint64_t size) DAXO_HIDDEN;
/* persist_fini -- free the counter blocks */
void persist_fini(struct persist *ps) DAXO_HIDDEN;

/*
 * persist_set_backend -- swap the backend of an open pool (test builds: the
 * crash simulator). Not thread-safe; call before any other thread uses @p.
 */
void persist_set_backend(daxo_pool *p, const struct persist_ops *ops,
			 void *ctx) DAXO_HIDDEN;
struct persist *persist_of(daxo_pool *p) DAXO_HIDDEN;

/*
 * persist_random -- @n random bytes for a choice stored in the pool, from
 * the backend (see persist_ops.random) or getrandom(2) without blocking;
 * false if there are none
 */
bool persist_random(struct persist *ps, void *buf, size_t n) DAXO_HIDDEN;

/* persist_fail -- put the pool into its sticky failed state */
void persist_fail(struct persist *ps) DAXO_HIDDEN;

void persist_count(struct persist *ps, enum stat_idx i, uint64_t n) DAXO_HIDDEN;
/* persist_count_commit -- a commit's counts in one call (tx_commit_kv) */
void persist_count_commit(struct persist *ps, uint64_t logged, uint64_t allocs,
			  uint64_t frees) DAXO_HIDDEN;
void persist_stats_sum(struct persist *ps, struct daxo_stats *out) DAXO_HIDDEN;

static inline void persist_flush(struct persist *ps, const void *addr,
				 size_t len)
{
	ps->ops->flush(ps, addr, len);
}

/* persist_drain -- a fence; the call site is passed on for crash reports */
#define persist_drain(ps) ((ps)->ops->drain((ps), __FILE__ ":" STR(__LINE__)))


static inline void persist_memcpy(struct persist *ps, void *dst,
				  const void *src, size_t len)
{
	ps->ops->memcpy_nodrain(ps, dst, src, len);
}

static inline void persist_memset(struct persist *ps, void *dst, int c,
				  size_t len)
{
	ps->ops->memset_nodrain(ps, dst, c, len);
}

/* cache lines covered by [addr, addr+len) */
static inline uint64_t persist_lines(const void *addr, size_t len)
{
	uintptr_t a = (uintptr_t)addr;

	if (len == 0)
		return 0;
	return ((a + len - 1) / CACHELINE) - (a / CACHELINE) + 1;
}

/* counting helpers for backends */
void persist__count_flush(struct persist *ps, const void *addr,
			  size_t len) DAXO_HIDDEN;
void persist__count_fence(struct persist *ps) DAXO_HIDDEN;

#endif
