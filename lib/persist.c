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
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "persist.h"

static __thread struct daxo_stats tls_stats;
static _Atomic uint64_t next_pool_id = 1;

#define TLS_BLOCKS 4
static __thread struct {
	uint64_t id;
	struct stat_block *b;
} tls_blk[TLS_BLOCKS];
static __thread unsigned tls_blk_next;

/* block_of -- the calling thread's counters for @ps (made on first use) */
static __thread struct stat_block *tls_last_b;
static __thread uint64_t tls_last_id;

/* block_find -- block_of's slow path, out of line: the common case (the
 * thread's last pool) stays a leaf with no registers to save, and every
 * flush and fence counts through it (6-7 calls a put) */
static __attribute__((noinline)) struct stat_block *
block_find(struct persist *ps)
{
	for (unsigned i = 0; i < TLS_BLOCKS; i++)
		if (tls_blk[i].id == ps->id) {
			tls_last_id = ps->id;
			tls_last_b = tls_blk[i].b;
			return tls_blk[i].b;
		}
	struct stat_block *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	pthread_mutex_lock(&ps->blk_lock);
	b->next = ps->blocks;
	ps->blocks = b;
	pthread_mutex_unlock(&ps->blk_lock);
	unsigned i = tls_blk_next++ % TLS_BLOCKS;
	tls_blk[i].id = ps->id;
	tls_blk[i].b = b;
	tls_last_id = ps->id;
	tls_last_b = b;
	return b;
}

static inline struct stat_block *block_of(struct persist *ps)
{
	if (likely(tls_last_id == ps->id))
		return tls_last_b;
	return block_find(ps);
}

void persist_count(struct persist *ps, enum stat_idx i, uint64_t n)
{
	struct stat_block *b = block_of(ps);
	uint64_t *t = &tls_stats.fences;

	/* single writer: a relaxed load and store, never a locked op */
	if (b)
		__atomic_store_n(
		    &b->v[i], __atomic_load_n(&b->v[i], __ATOMIC_RELAXED) + n,
		    __ATOMIC_RELAXED);
	/* struct daxo_stats lists its fields in enum stat_idx order */
	t[i] += n;
}

void persist_count_commit(struct persist *ps, uint64_t logged, uint64_t allocs,
			  uint64_t frees)
{
	struct stat_block *b = block_of(ps);
	uint64_t *t = &tls_stats.fences;

	if (b) {
		uint64_t *v = b->v;
		__atomic_store_n(&v[ST_COMMITS],
				 __atomic_load_n(&v[ST_COMMITS],
						 __ATOMIC_RELAXED) + 1,
				 __ATOMIC_RELAXED);
		__atomic_store_n(&v[ST_LOGGED],
				 __atomic_load_n(&v[ST_LOGGED],
						 __ATOMIC_RELAXED) + logged,
				 __ATOMIC_RELAXED);
		__atomic_store_n(&v[ST_ALLOCS],
				 __atomic_load_n(&v[ST_ALLOCS],
						 __ATOMIC_RELAXED) + allocs,
				 __ATOMIC_RELAXED);
		__atomic_store_n(&v[ST_FREES],
				 __atomic_load_n(&v[ST_FREES],
						 __ATOMIC_RELAXED) + frees,
				 __ATOMIC_RELAXED);
	}
	t[ST_COMMITS]++;
	t[ST_LOGGED] += logged;
	t[ST_ALLOCS] += allocs;
	t[ST_FREES] += frees;
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
	pthread_mutex_lock(&ps->blk_lock);
	for (struct stat_block *b = ps->blocks; b; b = b->next)
		for (unsigned i = 0; i < ST_NR; i++)
			o[i] += __atomic_load_n(&b->v[i], __ATOMIC_RELAXED);
	pthread_mutex_unlock(&ps->blk_lock);
}

static_assert(offsetof(struct daxo_stats, flushes) ==
		  ST_FLUSHES * sizeof(uint64_t),
	      "daxo_stats order");
static_assert(offsetof(struct daxo_stats, recoveries) ==
		  ST_RECOVERIES * sizeof(uint64_t),
	      "daxo_stats order");

DAXO_EXPORT int daxo_thread_stats(struct daxo_stats *out)
{
	if (!out)
		return daxo__err(-EINVAL, "daxo_thread_stats: out is NULL");
	*out = tls_stats;
	return 0;
}

/* the name before 0.4, kept for the programs and sources that use it */
DAXO_EXPORT int daxo_stats_thread(struct daxo_stats *out)
{
	return daxo_thread_stats(out);
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

/* ---- none: a private (copy-on-write) read-only view; nothing is durable ----
 */

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

void persist_init(struct persist *ps, const struct persist_ops *ops, char *base,
		  uint64_t size)
{
	memset(ps, 0, sizeof(*ps));
	ps->ops = ops;
	ps->base = base;
	ps->size = size;
	ps->id = atomic_fetch_add(&next_pool_id, 1);
	pthread_mutex_init(&ps->blk_lock, NULL);
}

void persist_fini(struct persist *ps)
{
	struct stat_block *b = ps->blocks;

	while (b) {
		struct stat_block *n = b->next;
		free(b);
		b = n;
	}
	ps->blocks = NULL;
	if (ps->id)
		pthread_mutex_destroy(&ps->blk_lock);
}

bool persist_random(struct persist *ps, void *buf, size_t n)
{
	if (ps->ops->random)
		return ps->ops->random(ps, buf, n);
	return getrandom(buf, n, GRND_NONBLOCK) == (ssize_t)n;
}

void persist_set_backend(daxo_pool *p, const struct persist_ops *ops, void *ctx)
{
	struct persist *ps = persist_of(p);

	ps->ops = ops;
	ps->backend_ctx = ctx;
}

/* ---- the public entry points ---- */

DAXO_EXPORT int daxo_stats(daxo_pool *p, struct daxo_stats *out)
{
	if (!p || !out)
		return daxo__err(-EINVAL, "daxo_stats: NULL argument");
	persist_stats_sum(persist_of(p), out);
	return 0;
}
