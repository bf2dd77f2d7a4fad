/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sim.h -- internal interface of the crash simulator (test builds only).
 *
 * The simulator is a persistence backend (sim/persist_sim.c) that is
 * installed on an open pool with persist_set_backend(). It keeps a model of
 * the persistence domain under the crash model of DESIGN.md section 2:
 *
 *   durable   a copy of the pool taken when the simulator was attached; it
 *             holds what would survive a crash now.
 *   pending   per thread, the cache lines it flushed since its last fence,
 *             each with the contents it had when flushed (the latest flush
 *             wins) and the time it was taken.
 *   live      the mapping itself: every store the program made.
 *
 * At a fence the fencing thread's pending lines are copied into the durable
 * image (SFENCE orders only the issuing thread's CLWBs; other threads'
 * flushes stay pending), unless the durable contents of a line are newer. A
 * crash image is the durable image plus, for each 8-byte word that differs from
 * it in a pending line or in live memory, a seeded random choice between the
 * durable value and a newer one (sim_build_image). That is the adversarial
 * superset of the ADR model: it ignores "stores to one line persist in
 * program order" except in the SIM_IMG_LINES mode, which picks one known
 * state (durable, flushed, live) per cache line.
 *
 * The driver (sim/crashsim.c, public API in include/daxo_crashsim.h) calls
 * a hook at every fence, builds crash images there and checks them. The
 * tool daxo-crashsim (tools/crashsim.c) and the tests in tests/crash run
 * the built-in workloads of tests/crash/workloads. Not thread-safe across
 * pools; one simulator per process is the intended use.
 */
#ifndef DAXO_SIM_H
#define DAXO_SIM_H 1

#include "internal.h"
#include "daxo_crashsim.h"

struct sim;

/* called at every fence, before the fence takes effect; @k counts from 1 */
typedef void (*sim_fence_fn)(struct sim *s, uint64_t k, const char *site,
			     void *arg);

/*
 * sim_attach -- install the simulator on @p; the pool's current contents
 * become the durable image. Returns NULL on allocation failure.
 */
struct sim *sim_attach(daxo_pool *p, sim_fence_fn fn, void *arg) DAXO_HIDDEN;
/* sim_detach -- put the pool's own backend back and free the model */
void sim_detach(struct sim *s) DAXO_HIDDEN;
uint64_t sim_fences(const struct sim *s) DAXO_HIDDEN;
uint64_t sim_size(const struct sim *s) DAXO_HIDDEN;

enum sim_img_mode {
	SIM_IMG_WORDS,	 /* per word: durable or newer, with probability */
	SIM_IMG_DURABLE, /* only what is durable (nothing unfenced survives) */
	SIM_IMG_LINES,	 /* per line: one of its known states */
	SIM_IMG_ALL,	 /* every store survived (live memory) */
};

/*
 * sim_prepare -- at a crash point, before sim_write_image: list the lines a
 * crash image may take from other than the durable image. 0 or -ENOMEM.
 */
int sim_prepare(struct sim *s) DAXO_HIDDEN;
uint64_t sim_ndiff(const struct sim *s) DAXO_HIDDEN;

/*
 * sim_build_image -- make @dst (sim_size() bytes, holding any earlier image
 * or anything else) a crash image of the prepared moment: only pages that
 * differ from the durable image are copied. @p_new is the probability (0..1)
 * that a differing word takes a newer value in SIM_IMG_WORDS mode.
 * Deterministic in (@seed, state).
 */
void sim_build_image(const struct sim *s, void *dst, enum sim_img_mode mode,
		     double p_new, uint64_t seed) DAXO_HIDDEN;

/* a small seeded PRNG (splitmix64) shared by the driver and the model */
static inline uint64_t sim_rand(uint64_t *st)
{
	uint64_t z = (*st += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

#endif
