/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * persist_sim.c -- the crash-simulator persistence backend (test builds).
 *
 * Compiled only into libdaxo_crashsim (meson option 'crashsim'), never into
 * the installed library. It replaces the pmem/msync backend of one open pool
 * (persist_set_backend) and models what is durable; see crashsim.h for the
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

#include "crashsim.h"
#include "persist.h"
#include "pool.h"

struct sim_line {
	uint64_t line; /* line index in the pool */
	uint8_t data[CACHELINE];
};

struct sim {
	daxo_pool *pool;
	struct persist *ps;
	const struct persist_ops *saved_ops;
	void *saved_ctx;
	char *base;
	uint64_t size;
	uint64_t nlines;
	uint8_t *durable;      /* the durable image */
	int32_t *slot_of_line; /* index into pend, or -1 */
	struct sim_line *pend; /* flushed, not yet fenced */
	uint32_t npend, cap;
	uint64_t fences;
	uint64_t *diff; /* lines that may differ (sim_prepare) */
	uint64_t ndiff, capdiff;
	sim_fence_fn fn;
	void *fn_arg;
	pthread_mutex_t lock;
};

/* sim_flush_lines -- snapshot every line of [addr, addr+len) in the pool */
static void sim_flush_lines(struct sim *s, const void *addr, size_t len)
{
	uintptr_t a = (uintptr_t)addr, b = (uintptr_t)s->base;

	if (len == 0 || a + len <= b || a >= b + s->size)
		return; /* volatile memory: nothing to model */
	uint64_t lo = (a < b ? 0 : a - b) / CACHELINE;
	uint64_t hi = (MIN(a + len, b + s->size) - b - 1) / CACHELINE;

	pthread_mutex_lock(&s->lock);
	for (uint64_t l = lo; l <= hi; l++) {
		int32_t i = s->slot_of_line[l];

		if (i < 0) {
			if (s->npend == s->cap) {
				uint32_t nc = s->cap ? s->cap * 2 : 256;
				struct sim_line *n =
				    realloc(s->pend, nc * sizeof(*n));
				if (!n) {
					/* cannot model it: make it durable */
					memcpy(s->durable + l * CACHELINE,
					       s->base + l * CACHELINE,
					       CACHELINE);
					continue;
				}
				s->pend = n;
				s->cap = nc;
			}
			i = (int32_t)s->npend++;
			s->slot_of_line[l] = i;
			s->pend[i].line = l;
		}
		memcpy(s->pend[i].data, s->base + l * CACHELINE, CACHELINE);
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
	for (uint32_t i = 0; i < s->npend; i++) {
		memcpy(s->durable + s->pend[i].line * CACHELINE,
		       s->pend[i].data, CACHELINE);
		s->slot_of_line[s->pend[i].line] = -1;
	}
	s->npend = 0;
	pthread_mutex_unlock(&s->lock);
}

static void sim_b_memcpy(struct persist *ps, void *dst, const void *src,
			 size_t len)
{
	memcpy(dst, src, len);
	sim_b_flush(ps, dst, len);
}

static void sim_b_memset(struct persist *ps, void *dst, int c, size_t len)
{
	memset(dst, c, len);
	sim_b_flush(ps, dst, len);
}

static const struct persist_ops persist_ops_sim = {
    .name = "crashsim",
    .flush = sim_b_flush,
    .drain = sim_b_drain,
    .memcpy_nodrain = sim_b_memcpy,
    .memset_nodrain = sim_b_memset,
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
	s->durable = malloc(s->size);
	s->slot_of_line = malloc(s->nlines * sizeof(int32_t));
	if (!s->durable || !s->slot_of_line) {
		free(s->durable);
		free(s->slot_of_line);
		free(s);
		return NULL;
	}
	memcpy(s->durable, s->base, s->size);
	memset(s->slot_of_line, 0xff, s->nlines * sizeof(int32_t));
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
	free(s->pend);
	free(s->diff);
	free(s->slot_of_line);
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
	const uint64_t lpp = 4096 / CACHELINE;

	s->ndiff = 0;
	for (uint64_t l = 0; l < s->nlines; l++) {
		/* whole equal pages first: most of the pool is untouched */
		if (l % lpp == 0 && l + lpp <= s->nlines &&
		    memcmp(s->base + l * CACHELINE, s->durable + l * CACHELINE,
			   4096) == 0) {
			bool pend = false;
			for (uint64_t k = l; k < l + lpp; k++)
				pend |= s->slot_of_line[k] >= 0;
			if (!pend) {
				l += lpp - 1;
				continue;
			}
		}
		if (s->slot_of_line[l] < 0 &&
		    memcmp(s->base + l * CACHELINE, s->durable + l * CACHELINE,
			   CACHELINE) == 0)
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
 * For a word of a pending (flushed, unfenced) line the candidates are the
 * durable value, the flushed snapshot and the live value; for any other word
 * the durable and the live value. Fenced data is never lost.
 */
static void choose_line(const struct sim *s, uint64_t l, uint64_t *out,
			enum sim_img_mode mode, double p_new, uint64_t *st)
{
	const uint64_t wpl = CACHELINE / 8;
	const uint64_t *lv = (const uint64_t *)(s->base + l * CACHELINE);
	const uint64_t *ld = (const uint64_t *)(s->durable + l * CACHELINE);
	int32_t pi = s->slot_of_line[l];
	const uint64_t *lp =
	    pi >= 0 ? (const uint64_t *)s->pend[pi].data : NULL;

	memcpy(out, ld, CACHELINE);
	switch (mode) {
	case SIM_IMG_DURABLE:
		return;
	case SIM_IMG_ALL:
		memcpy(out, lv, CACHELINE);
		return;
	case SIM_IMG_LINES: {
		/* one known state of the whole line */
		unsigned c = (unsigned)(sim_rand(st) % (lp ? 3 : 2));
		memcpy(out, c == 0 ? ld : c == 1 ? lv : lp, CACHELINE);
		return;
	}
	case SIM_IMG_WORDS:
		break;
	}
	for (uint64_t w = 0; w < wpl; w++) {
		uint64_t o = ld[w], v = lv[w];
		uint64_t f = lp ? lp[w] : o;

		if (o == v && f == o)
			continue;
		if (rand01(st) >= p_new)
			continue; /* keeps the durable value */
		if (f != o && v != f)
			/* flushed and stored again since: either */
			out[w] = (sim_rand(st) & 1) ? f : v;
		else
			out[w] = f != o ? f : v;
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
