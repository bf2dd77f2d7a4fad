/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * persist.c -- flushes, fences and their counters (see persist.h).
 *
 * This file and the test-only crash-simulator backend are the only places in
 * libdaxo that issue a flush or a fence. They use libpmem's public functions,
 * which pick CLWB, CLFLUSHOPT or CLFLUSH and non-temporal copies at run time.
 */
#include <libpmem.h>
#include <pthread.h>
#include <string.h>

#include "persist.h"

static __thread struct daxo_stats tls_stats;
static _Atomic unsigned next_shard;
static __thread unsigned my_shard = UINT32_MAX;

static unsigned shard_of_thread(void)
{
	if (unlikely(my_shard == UINT32_MAX))
		my_shard = atomic_fetch_add_explicit(&next_shard, 1,
						     memory_order_relaxed) %
			   STAT_SHARDS;
	return my_shard;
}

void persist_count(struct persist *ps, enum stat_idx i, uint64_t n)
{
	uint64_t *t = &tls_stats.fences;

	atomic_fetch_add_explicit(&ps->shards[shard_of_thread()].v[i], n,
				  memory_order_relaxed);
	/* struct daxo_stats lists its fields in enum stat_idx order */
	t[i] += n;
}

void persist__count_flush(struct persist *ps, const void *addr, size_t len)
{
	persist_count(ps, ST_FLUSHES, persist_lines(addr, len));
}

void persist__count_fence(struct persist *ps)
{
	persist_count(ps, ST_FENCES, 1);
}

void persist_stats_sum(struct persist *ps, struct daxo_stats *out)
{
	uint64_t *o = &out->fences;

	memset(out, 0, sizeof(*out));
	for (unsigned s = 0; s < STAT_SHARDS; s++)
		for (unsigned i = 0; i < ST_NR; i++)
			o[i] += atomic_load_explicit(&ps->shards[s].v[i],
						     memory_order_relaxed);
}

static_assert(offsetof(struct daxo_stats, flushes) ==
		      ST_FLUSHES * sizeof(uint64_t),
	      "daxo_stats order");
static_assert(offsetof(struct daxo_stats, recoveries) ==
		      ST_RECOVERIES * sizeof(uint64_t),
	      "daxo_stats order");

DAXO_EXPORT int daxo_stats_thread(struct daxo_stats *out)
{
	if (!out)
		return daxo__err(-EINVAL, "daxo_stats_thread: out is NULL");
	*out = tls_stats;
	return 0;
}

/* ---- pmem backend: CPU cache flushes and SFENCE through libpmem ---- */

static void pmem_b_flush(struct persist *ps, const void *addr, size_t len)
{
	pmem_flush(addr, len);
	persist__count_flush(ps, addr, len);
}

static void pmem_b_drain(struct persist *ps, const char *site)
{
	pmem_drain();
	persist__count_fence(ps);
}

static void pmem_b_memcpy(struct persist *ps, void *dst, const void *src,
			  size_t len)
{
	/* non-temporal for large copies, flushed stores otherwise */
	pmem_memcpy_nodrain(dst, src, len);
	persist__count_flush(ps, dst, len);
}

static void pmem_b_memset(struct persist *ps, void *dst, int c, size_t len)
{
	pmem_memset_nodrain(dst, c, len);
	persist__count_flush(ps, dst, len);
}

const struct persist_ops persist_ops_pmem = {
	.name = "pmem",
	.flush = pmem_b_flush,
	.drain = pmem_b_drain,
	.memcpy_nodrain = pmem_b_memcpy,
	.memset_nodrain = pmem_b_memset,
};

/* ---- msync backend: any file; msync is synchronous, so drain is free ---- */

static void msync_b_flush(struct persist *ps, const void *addr, size_t len)
{
	if (len == 0)
		return;
	/*
	 * pmem_msync rounds to pages itself. A failure here means the kernel
	 * could not write back: the data may be lost, so the pool fails.
	 */
	if (pmem_msync(addr, len) != 0)
		persist_fail(ps);
	persist__count_flush(ps, addr, len);
}

static void msync_b_drain(struct persist *ps, const char *site)
{
	persist__count_fence(ps);
}

static void msync_b_memcpy(struct persist *ps, void *dst, const void *src,
			   size_t len)
{
	memcpy(dst, src, len);
	msync_b_flush(ps, dst, len);
}

static void msync_b_memset(struct persist *ps, void *dst, int c, size_t len)
{
	memset(dst, c, len);
	msync_b_flush(ps, dst, len);
}

const struct persist_ops persist_ops_msync = {
	.name = "msync",
	.flush = msync_b_flush,
	.drain = msync_b_drain,
	.memcpy_nodrain = msync_b_memcpy,
	.memset_nodrain = msync_b_memset,
};

/* ---- none: a private (copy-on-write) read-only view; nothing is durable ---- */

static void none_flush(struct persist *ps, const void *addr, size_t len)
{
}

static void none_drain(struct persist *ps, const char *site)
{
}

static void none_memcpy(struct persist *ps, void *dst, const void *src,
			size_t len)
{
	memcpy(dst, src, len);
}

static void none_memset(struct persist *ps, void *dst, int c, size_t len)
{
	memset(dst, c, len);
}

const struct persist_ops persist_ops_none = {
	.name = "none",
	.flush = none_flush,
	.drain = none_drain,
	.memcpy_nodrain = none_memcpy,
	.memset_nodrain = none_memset,
};

void persist_fail(struct persist *ps)
{
	atomic_store(&ps->failed, 1);
}

void persist_init(struct persist *ps, const struct persist_ops *ops,
		  char *base, uint64_t size)
{
	memset(ps, 0, sizeof(*ps));
	ps->ops = ops;
	ps->base = base;
	ps->size = size;
}

void persist_set_backend(daxo_pool *p, const struct persist_ops *ops, void *ctx)
{
	struct persist *ps = persist_of(p);

	ps->ops = ops;
	ps->backend_ctx = ctx;
}

/* ---- deferred flushes ---- */

#define DEFER_ADDR_MASK ((1ull << 48) - 1)

void persist_defer(struct persist *ps, unsigned slot, const void *addr)
{
	uint64_t old = atomic_load_explicit(&ps->defer_addr[slot],
					    memory_order_relaxed);
	/* a tag in the top bits makes every registration distinct (no ABA) */
	uint64_t v = ((old >> 48) + 1) << 48 | ((uintptr_t)addr & DEFER_ADDR_MASK);

	atomic_store_explicit(&ps->defer_addr[slot], v, memory_order_release);
	atomic_fetch_or_explicit(&ps->defer_mask, 1ull << slot,
				 memory_order_release);
}

void persist__drain(struct persist *ps, const char *site)
{
	uint64_t mask = atomic_load_explicit(&ps->defer_mask,
					     memory_order_acquire);
	uint64_t seen[PERSIST_DEFER_SLOTS];

	if (likely(mask == 0)) {
		ps->ops->drain(ps, site);
		return;
	}
	for (uint64_t m = mask; m; m &= m - 1) {
		unsigned s = (unsigned)__builtin_ctzll(m);
		seen[s] = atomic_load_explicit(&ps->defer_addr[s],
					       memory_order_acquire);
		if (seen[s] & DEFER_ADDR_MASK)
			ps->ops->flush(ps,
				       (const void *)(uintptr_t)(seen[s] &
								 DEFER_ADDR_MASK),
				       8);
	}
	ps->ops->drain(ps, site);
	/* forget what this fence made durable, unless it was replaced since */
	for (uint64_t m = mask; m; m &= m - 1) {
		unsigned s = (unsigned)__builtin_ctzll(m);
		uint64_t expect = seen[s];

		atomic_fetch_and_explicit(&ps->defer_mask, ~(1ull << s),
					  memory_order_acq_rel);
		if (!atomic_compare_exchange_strong(&ps->defer_addr[s], &expect,
						    expect & ~DEFER_ADDR_MASK))
			atomic_fetch_or_explicit(&ps->defer_mask, 1ull << s,
						 memory_order_acq_rel);
	}
}

/* ---- the public entry points ---- */

DAXO_EXPORT void daxo_persist(daxo_pool *p, const void *addr, size_t len)
{
	struct persist *ps = persist_of(p);

	persist_flush(ps, addr, len);
	persist_drain(ps);
}

DAXO_EXPORT void daxo_flush(daxo_pool *p, const void *addr, size_t len)
{
	persist_flush(persist_of(p), addr, len);
}

DAXO_EXPORT void daxo_drain(daxo_pool *p)
{
	persist_drain(persist_of(p));
}

DAXO_EXPORT int daxo_stats(daxo_pool *p, struct daxo_stats *out)
{
	if (!p || !out)
		return daxo__err(-EINVAL, "daxo_stats: NULL argument");
	persist_stats_sum(persist_of(p), out);
	return 0;
}
