/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * persist_sim.c -- the crash-simulator persistence backend (test builds).
 *
 * Compiled only into libdaxo_crashsim (meson option 'crashsim'), never into
 * the installed library. It replaces the pmem/msync backend of one open pool
 * (persist_set_backend) and models what is durable; see sim.h for the
 * model and sim_build_image for how a crash image is made.
 *
 * Stores themselves cannot be intercepted, so the model learns of them only
 * through flushes (a snapshot of the line) and by comparing live memory with
 * the durable image when a crash image is built. That is enough for the ADR
 * model: a store that was never flushed may or may not persist, which is
 * exactly "compare with live memory and choose".
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim.h"
#include "persist.h"
#include "pool.h"

struct sim_line {
	uint64_t line; /* line index in the pool */
	uint64_t time; /* when the snapshot was taken (sim clock) */
	uint8_t data[CACHELINE];
};

/*
 * A fence orders only its own thread's flushes (SFENCE after CLWB), so each
 * thread has its own set of flushed, unfenced lines; a fence makes only the
 * fencing thread's lines durable. Threads beyond SIM_MAX_THREADS share the
 * last set (less adversarial, never wrong the other way).
 *
 * Stores to one line are ordered: once a fence has made a snapshot of a
 * line durable, an older snapshot of it (another thread's, still pending)
 * can no longer be what persists. Snapshots carry the time they were taken
 * and the durable image the time of each line's contents.
 */
#define SIM_MAX_THREADS 16

struct sim_thr {
	int32_t *slot_of_line; /* index into pend, or -1; NULL until used */
	struct sim_line *pend; /* flushed, not yet fenced */
	uint32_t npend, cap;
};

struct sim {
	daxo_pool *pool;
	struct persist *ps;
	const struct persist_ops *saved_ops;
	void *saved_ctx;
	char *base;
	uint64_t size;
	uint64_t nlines;
	uint64_t id;	  /* tells threads' cached indexes of sims apart */
	uint8_t *durable; /* the durable image */
	uint64_t *dtime;  /* per line: time of its durable contents */
	uint64_t clock;
	struct sim_thr thr[SIM_MAX_THREADS];
	unsigned nthr;
	uint64_t *pmark; /* sim_prepare: lines pending in any thread */
	uint64_t fences;
	uint64_t draws; /* sim_b_random: bytes drawn so far */
	uint64_t *diff; /* lines that may differ (sim_prepare) */
	uint64_t ndiff, capdiff;
	sim_fence_fn fn;
	void *fn_arg;
	pthread_mutex_t lock;
};

static _Atomic uint64_t sim_ids;
static __thread uint64_t tls_sim_id;
static __thread unsigned tls_thr;

/* thr_of -- the calling thread's set (s->lock held); NULL if out of memory */
static struct sim_thr *thr_of(struct sim *s)
{
	struct sim_thr *t;

	if (tls_sim_id != s->id) {
		tls_thr =
		    s->nthr < SIM_MAX_THREADS ? s->nthr++ : SIM_MAX_THREADS - 1;
		tls_sim_id = s->id;
	}
	t = &s->thr[tls_thr];
	if (!t->slot_of_line) {
		t->slot_of_line = malloc(s->nlines * sizeof(int32_t));
		if (!t->slot_of_line)
			return NULL;
		memset(t->slot_of_line, 0xff, s->nlines * sizeof(int32_t));
	}
	return t;
}

/* sim_flush_lines -- snapshot every line of [addr, addr+len) in the pool */
static void sim_flush_lines(struct sim *s, const void *addr, size_t len)
{
	uintptr_t a = (uintptr_t)addr, b = (uintptr_t)s->base;
	struct sim_thr *t;

	if (len == 0 || a + len <= b || a >= b + s->size)
		return; /* volatile memory: nothing to model */
	uint64_t lo = (a < b ? 0 : a - b) / CACHELINE;
	uint64_t hi = (MIN(a + len, b + s->size) - b - 1) / CACHELINE;

	pthread_mutex_lock(&s->lock);
	t = thr_of(s);
	for (uint64_t l = lo; l <= hi; l++) {
		int32_t i = t ? t->slot_of_line[l] : -1;

		if (!t) {
			/* cannot model it: make it durable */
			memcpy(s->durable + l * CACHELINE,
			       s->base + l * CACHELINE, CACHELINE);
			continue;
		}
		if (i < 0) {
			if (t->npend == t->cap) {
				uint32_t nc = t->cap ? t->cap * 2 : 256;
				struct sim_line *n =
				    realloc(t->pend, nc * sizeof(*n));
				if (!n) {
					memcpy(s->durable + l * CACHELINE,
					       s->base + l * CACHELINE,
					       CACHELINE);
					continue;
				}
				t->pend = n;
				t->cap = nc;
			}
			i = (int32_t)t->npend++;
			t->slot_of_line[l] = i;
			t->pend[i].line = l;
		}
		memcpy(t->pend[i].data, s->base + l * CACHELINE, CACHELINE);
		t->pend[i].time = ++s->clock;
	}
	pthread_mutex_unlock(&s->lock);
}

static struct sim *sim_of(struct persist *ps)
{
	return ps->backend_ctx;
}

static void sim_b_flush(struct persist *ps, const void *addr, size_t len)
{
	sim_flush_lines(sim_of(ps), addr, len);
	persist__count_flush(ps, addr, len);
}

static void sim_b_drain(struct persist *ps, const char *site)
{
	struct sim *s = sim_of(ps);
	uint64_t k;

	persist__count_fence(ps);
	pthread_mutex_lock(&s->lock);
	k = ++s->fences;
	pthread_mutex_unlock(&s->lock);
	/* the crash point: everything before this fence, nothing of it */
	if (s->fn)
		s->fn(s, k, site, s->fn_arg);
	pthread_mutex_lock(&s->lock);
	if (tls_sim_id == s->id) {
		/* this thread's flushed lines, and only those, are durable */
		struct sim_thr *t = &s->thr[tls_thr];
		for (uint32_t i = 0; i < t->npend; i++) {
			uint64_t l = t->pend[i].line;
			if (t->pend[i].time > s->dtime[l]) {
				memcpy(s->durable + l * CACHELINE,
				       t->pend[i].data, CACHELINE);
				s->dtime[l] = t->pend[i].time;
			}
			t->slot_of_line[l] = -1;
		}
		t->npend = 0;
	}
	pthread_mutex_unlock(&s->lock);
}

static void sim_b_memcpy(struct persist *ps, void *dst, const void *src,
			 size_t len)
{
	if (len) /* an empty copy may come with a NULL source */
		memcpy(dst, src, len);
	sim_b_flush(ps, dst, len);
}

static void sim_b_memset(struct persist *ps, void *dst, int c, size_t len)
{
	if (len)
		memset(dst, c, len);
	sim_b_flush(ps, dst, len);
}

/*
 * sim_b_random -- the library's random choices stored in the pool (the
 * keyed store's hash seed), the same in both passes of a run: a
 * splitmix64 stream keyed by the pool's UUID (made once per run, before
 * the passes) and the number of bytes drawn
 */
static bool sim_b_random(struct persist *ps, void *buf, size_t n)
{
	struct sim *s = ps->backend_ctx;
	uint64_t key;

	memcpy(&key, s->pool->hdr.uuid, sizeof(key));
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < n; i += 8) {
		uint64_t z = key + ++s->draws * 0x9e3779b97f4a7c15ull;
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		z ^= z >> 31;
		memcpy((char *)buf + i, &z, n - i < 8 ? n - i : 8);
	}
	pthread_mutex_unlock(&s->lock);
	return true;
}

static const struct persist_ops persist_ops_sim = {
    .name = "crashsim",
    .flush = sim_b_flush,
    .drain = sim_b_drain,
    .memcpy_nodrain = sim_b_memcpy,
    .memset_nodrain = sim_b_memset,
    .random = sim_b_random,
};

struct sim *sim_attach(daxo_pool *p, sim_fence_fn fn, void *arg)
{
	struct sim *s = calloc(1, sizeof(*s));
	struct persist *ps = persist_of(p);

	if (!s)
		return NULL;
	s->pool = p;
	s->ps = ps;
	s->base = p->base;
	s->size = p->size;
	s->nlines = p->size / CACHELINE;
	s->id = atomic_fetch_add(&sim_ids, 1) + 1;
	s->durable = malloc(s->size);
	s->pmark = calloc(s->nlines / 64 + 1, sizeof(uint64_t));
	s->dtime = calloc(s->nlines, sizeof(uint64_t));
	if (!s->durable || !s->pmark || !s->dtime) {
		free(s->durable);
		free(s->pmark);
		free(s->dtime);
		free(s);
		return NULL;
	}
	memcpy(s->durable, s->base, s->size);
	pthread_mutex_init(&s->lock, NULL);
	s->fn = fn;
	s->fn_arg = arg;
	s->saved_ops = ps->ops;
	s->saved_ctx = ps->backend_ctx;
	persist_set_backend(p, &persist_ops_sim, s);
	return s;
}

void sim_detach(struct sim *s)
{
	if (!s)
		return;
	persist_set_backend(s->pool, s->saved_ops, s->saved_ctx);
	pthread_mutex_destroy(&s->lock);
	for (unsigned i = 0; i < SIM_MAX_THREADS; i++) {
		free(s->thr[i].pend);
		free(s->thr[i].slot_of_line);
	}
	free(s->pmark);
	free(s->dtime);
	free(s->diff);
	free(s->durable);
	free(s);
}

uint64_t sim_fences(const struct sim *s)
{
	return s->fences;
}

uint64_t sim_size(const struct sim *s)
{
	return s->size;
}

/*
 * sim_prepare -- find the lines where a crash image may differ from the
 * durable image: pending (flushed, unfenced) lines and lines whose live
 * contents differ. Done once per crash point; every image of the point
 * reuses the list.
 */
int sim_prepare(struct sim *s)
{
	const uint64_t lpp = 4096 / CACHELINE; /* = 64: one pmark word */

	memset(s->pmark, 0, (s->nlines / 64 + 1) * sizeof(uint64_t));
	for (unsigned t = 0; t < SIM_MAX_THREADS; t++)
		for (uint32_t i = 0; i < s->thr[t].npend; i++) {
			uint64_t l = s->thr[t].pend[i].line;
			s->pmark[l / 64] |= 1ull << (l % 64);
		}
	s->ndiff = 0;
	for (uint64_t l = 0; l < s->nlines; l++) {
		bool pend = (s->pmark[l / 64] >> (l % 64)) & 1;

		/* whole equal pages first: most of the pool is untouched */
		if (l % lpp == 0 && l + lpp <= s->nlines && !s->pmark[l / 64] &&
		    memcmp(s->base + l * CACHELINE, s->durable + l * CACHELINE,
			   4096) == 0) {
			l += lpp - 1;
			continue;
		}
		if (!pend && memcmp(s->base + l * CACHELINE,
				    s->durable + l * CACHELINE, CACHELINE) == 0)
			continue;
		if (s->ndiff == s->capdiff) {
			uint64_t n = s->capdiff ? 2 * s->capdiff : 1024;
			uint64_t *d = realloc(s->diff, n * sizeof(*d));
			if (!d)
				return -ENOMEM;
			s->diff = d;
			s->capdiff = n;
		}
		s->diff[s->ndiff++] = l;
	}
	return 0;
}

uint64_t sim_ndiff(const struct sim *s)
{
	return s->ndiff;
}

/* a uniform double in [0, 1) */
static double rand01(uint64_t *st)
{
	return (double)(sim_rand(st) >> 11) * (1.0 / 9007199254740992.0);
}

/*
 * choose_line -- one cache line of a crash image: the durable contents plus
 * a seeded choice per differing word.
 *
 * The candidates for a word are its durable value, its live value and the
 * snapshot of every thread that flushed the line and has not fenced since,
 * if newer than the durable contents.
 * With probability 1 - @p_new the durable value stays; otherwise one of the
 * other values, uniformly. Fenced data is never lost.
 */
static void choose_line(const struct sim *s, uint64_t l, uint64_t *out,
			enum sim_img_mode mode, double p_new, uint64_t *st)
{
	const uint64_t wpl = CACHELINE / 8;
	const uint64_t *st_[SIM_MAX_THREADS + 2];
	unsigned n = 0;

	st_[n++] = (const uint64_t *)(s->durable + l * CACHELINE);
	st_[n++] = (const uint64_t *)(s->base + l * CACHELINE);
	for (unsigned t = 0; t < SIM_MAX_THREADS; t++) {
		const struct sim_thr *th = &s->thr[t];
		const struct sim_line *sl;

		if (!th->slot_of_line || th->slot_of_line[l] < 0)
			continue;
		sl = &th->pend[th->slot_of_line[l]];
		/* older than what is durable: superseded */
		if (sl->time > s->dtime[l])
			st_[n++] = (const uint64_t *)sl->data;
	}
	memcpy(out, st_[0], CACHELINE);
	switch (mode) {
	case SIM_IMG_DURABLE:
		return;
	case SIM_IMG_ALL:
		memcpy(out, st_[1], CACHELINE);
		return;
	case SIM_IMG_LINES:
		/* one known state of the whole line */
		memcpy(out, st_[sim_rand(st) % n], CACHELINE);
		return;
	case SIM_IMG_WORDS:
		break;
	}
	for (uint64_t w = 0; w < wpl; w++) {
		uint64_t o = st_[0][w], c[SIM_MAX_THREADS + 1];
		unsigned nc = 0;

		for (unsigned k = 1; k < n; k++) {
			bool dup = st_[k][w] == o;
			for (unsigned j = 0; j < nc && !dup; j++)
				dup = c[j] == st_[k][w];
			if (!dup)
				c[nc++] = st_[k][w];
		}
		if (nc == 0 || rand01(st) >= p_new)
			continue; /* keeps the durable value */
		out[w] = c[sim_rand(st) % nc];
	}
}

void sim_build_image(const struct sim *s, void *dst, enum sim_img_mode mode,
		     double p_new, uint64_t seed)
{
	uint64_t st = seed;
	uint8_t *d = dst;

	/* @dst holds an older image: copy only the pages that differ */
	for (uint64_t off = 0; off < s->size; off += 4096) {
		uint64_t n = MIN((uint64_t)4096, s->size - off);
		if (memcmp(d + off, s->durable + off, n) != 0)
			memcpy(d + off, s->durable + off, n);
	}
	for (uint64_t i = 0; i < s->ndiff; i++)
		choose_line(s, s->diff[i],
			    (uint64_t *)(d + s->diff[i] * CACHELINE), mode,
			    p_new, &st);
}
