/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * daxo_crashsim.h -- crash-test an application's use of libdaxo.
 *
 * OVERVIEW
 *
 * The crash simulator runs a workload against a pool whose flushes and
 * fences go through a model of the persistence domain (ADR, as in
 * daxo.h/DESIGN.md: a store that was flushed and then fenced is durable; any
 * other store may or may not be, independently per 8-byte word; a fence
 * orders only the flushes of the thread that issues it). It
 *
 *   1. creates a pool at @path and calls the workload's setup() (not
 *      crash-tested; e.g. allocate the root object),
 *   2. runs run() once to count its fences (N),
 *   3. runs run() again from the same initial pool and, at every fence k in
 *      1..N (or a seeded sample of them) and once more after run() returns
 *      (point N+1), builds several crash images of that moment (seeded), and
 *      for each: daxo_check() must not find it unrepairable, daxo_open()
 *      (which runs recovery) must succeed, the workload's check() must
 *      accept the recovered pool, and daxo_check() after daxo_close() must
 *      find it consistent.
 *
 * Each failure is reported with the crash point (fence number), the image
 * index, the seed and the source location of the fence ("file:line"), so
 * that `--seed S --point K` reproduces it.
 *
 * check() runs in a child process forked at the crash point: it sees the
 * workload's volatile state (@arg) exactly as it was when the "crash"
 * happened, so it can assert durability ("every operation that returned is
 * there") and atomicity ("the one in flight is all or nothing").
 *
 * Only available in the simulator's library (libdaxo_crashsim, built with
 * meson option crashsim and installed, with this header and the pkg-config
 * module daxo-crashsim, when option install_crashsim is on), which
 * contains libdaxo itself: link it instead of libdaxo.
 *
 * CAVEATS
 *
 * - run() must be deterministic: both passes must issue the same fences in
 *   the same order (a mismatch is reported). Threads are allowed if they
 *   take turns (see the "threads" workload): at a crash point the other
 *   threads must not be inside libdaxo, because the checks run in a child
 *   process forked from the fencing thread.
 * - The pool lives in memory twice (durable image and mapping); keep pools
 *   small (8 MiB is the default) and on /dev/shm.
 * - Uses fork(): threads other than the workload's (taking turns) must not
 *   be inside libdaxo while it runs.
 */
#ifndef DAXO_CRASHSIM_H
#define DAXO_CRASHSIM_H 1

#include "daxo.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A workload: three callbacks and their common argument. */
struct daxo_crashsim_workload {
	const char *name;
	/** optional: prepare the new pool (not crash-tested); 0 or -errno */
	int (*setup)(daxo_pool *p, void *arg);
	/** the crash-tested part; 0 or -errno */
	int (*run)(daxo_pool *p, void *arg);
	/**
	 * the invariant on a recovered crash image: 0 if it holds, else
	 * non-zero with a message in @msg (@len bytes).
	 */
	int (*check)(daxo_pool *p, void *arg, char *msg, size_t len);
	void *arg;
};

/** One failing crash image. */
struct daxo_crashsim_failure {
	uint64_t point; /**< fence number (1-based); fences + 1 = after run() */
	unsigned image; /**< image index at that point */
	uint64_t seed;	/**< the run's seed */
	char site[96];	/**< "file:line" of the fence, or "end of run" */
	char stage[16]; /**< "check-before", "open", "invariant", "check-after",
			     "signal" */
	char msg[512];
};

/* daxo_crashsim_opts.flags */
/** skip daxo_check() on the images (workloads that scribble on raw pool
 * memory outside objects) */
#define DAXO_CRASHSIM_NO_POOL_CHECK 0x1u
/** keep each failing crash image as PATH.fail-POINT-IMAGE */
#define DAXO_CRASHSIM_KEEP_FAILED 0x2u
/** stop at the first failure */
#define DAXO_CRASHSIM_STOP_FIRST 0x4u

/** Options; zero-initialize, then set what you need. */
struct daxo_crashsim_opts {
	uint64_t seed;	    /**< 0 means 1 */
	uint64_t pool_size; /**< 0 means 16 MiB */
	uint64_t sample;    /**< test at most this many crash points (0: all) */
	uint64_t point;	    /**< test only this crash point (0: as above) */
	unsigned images;    /**< crash images per point (0 means 4) */
	unsigned flags;	    /**< DAXO_CRASHSIM_* */
	unsigned timeout;   /**< seconds per image before it counts as a hang
				 (0 means 60) */
	/** optional: called once per failure, as it is found */
	void (*on_failure)(const struct daxo_crashsim_failure *f, void *cbarg);
	/** optional: called after each crash point */
	void (*on_progress)(uint64_t done, uint64_t total, void *cbarg);
	void *cbarg;
};

#define DAXO_CRASHSIM_MAX_FAILURES 16

/** What a run found. */
struct daxo_crashsim_report {
	uint64_t fences;    /**< fences issued by run() */
	uint64_t points;    /**< crash points tested */
	uint64_t images;    /**< crash images checked */
	uint64_t failures;  /**< failing images (all of them) */
	unsigned nrecorded; /**< entries of fail[] filled */
	struct daxo_crashsim_failure fail[DAXO_CRASHSIM_MAX_FAILURES];
};

/**
 * daxo_crashsim_run -- crash-test a workload (see the overview).
 * @path: in: a file that must not exist (a pool is created there; PATH.img
 *        is used for crash images); both are removed at the end.
 * @w:    in: the workload; run and check are required.
 * @opts: in: options, or NULL for the defaults.
 * @rep:  out: the counts and the first failures.
 * Returns 0 if every image passed, 1 if any failed, or a negative errno if
 * the run itself could not be done (see daxo_errormsg()).
 * Errors: -EINVAL (a NULL argument, or no run or check callback), the
 *   errors of daxo_create (the pool at @path could not be created: -EEXIST,
 *   -ENOENT, -EACCES, -ENOSPC, ...), the value setup() or run() returned
 *   when it failed, -EPROTO (the two passes issued different fences: run()
 *   is not deterministic), -EAGAIN (fork failed), -ENOMEM, -EIO.
 * Not thread-safe (forks).
 */
DAXO_EXPORT int daxo_crashsim_run(const char *path,
				  const struct daxo_crashsim_workload *w,
				  const struct daxo_crashsim_opts *opts,
				  struct daxo_crashsim_report *rep);

#ifdef __cplusplus
}
#endif
#endif /* DAXO_CRASHSIM_H */
