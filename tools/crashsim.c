/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * crashsim.c -- `daxo crashsim`: crash-test the built-in workloads.
 *
 * This is the program daxo-crashsim. It links the crash-simulator test
 * library (libdaxo_crashsim: libdaxo plus the simulator of sim/), which the
 * installed libdaxo deliberately does not contain, and the built-in
 * workloads of the crash tests (tests/crash/workloads); `daxo crashsim`
 * execs it (tools/crashsim_exec.c). It is installed only when meson option
 * install_crashsim is on. It reaches the library only through
 * daxo_crashsim.h and the workload table of workloads.h.
 *
 * Exit codes: 0 every crash image passed, 1 some failed, 2 usage, 3 the run
 * itself failed (pool could not be created, workload error).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "opt.h"
#include "workloads.h"
#include "opt.h"

#define EXIT_ERROR 3

static const char *only, *pool_opt;
static uint64_t ops = 100, seed = 1, sample, images, point;
static bool keep, stop_first, quiet;

static const struct opt crashsim_opts[] = {
    OPT_STRING('w', "workload", &only, "NAME",
	       "one of the workloads below (default: all)"),
    OPT_UINT('n', "ops", &ops, "N", "operations per workload (default 100)", 1,
	     1000000),
    OPT_UINT('s', "seed", &seed, "S", "seed (default 1)", 0, 1.8e19),
    OPT_UINT('k', "sample", &sample, "K", "test at most K crash points", 0,
	     1.8e19),
    OPT_UINT('m', "images", &images, "M", "crash images per point (default 4)",
	     1, 1000),
    OPT_UINT('p', "point", &point, "K", "test only crash point K", 0, 1.8e19),
    OPT_STRING(0, "pool", &pool_opt, "PATH",
	       "scratch pool (default /dev/shm/daxo-crashsim-PID)"),
    OPT_BOOL(0, "keep", &keep, "keep failing images as PATH.fail-POINT-IMAGE"),
    OPT_BOOL(0, "stop", &stop_first, "stop at the first failure"),
    OPT_BOOL('q', "quiet", &quiet, "no progress bar"),
    OPT_END(),
};

static void workloads(FILE *f)
{
	size_t n;
	const struct crashsim_builtin *b = crashsim_builtins(&n);

	fprintf(f, "\nworkloads:\n");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "  %-10s %s\n", b[i].name, b[i].summary);
}

static int crashsim_run(int argc, char **argv);

static const struct cmd crashsim_cmd = {
    .name = "crashsim",
    .synopsis = "[--workload NAME] [--ops N] [--seed S]\n"
		"                     [--sample K] [--images M] [--point K]\n"
		"                     [--pool PATH] [--keep] [--stop] [-q]",
    .about = "Runs a workload under the crash simulator: at every fence (or a\n"
	     "seeded sample of K fences) it builds M crash images, recovers\n"
	     "each (daxo_open), and checks it (daxo_check and the workload's\n"
	     "invariant). Failures name the fence, its source line and the\n"
	     "seed; --seed S --point K reproduces one.\n",
    .opts = crashsim_opts,
    .help_tail = workloads,
    .exits = "0 all passed, 1 failures found, 2 usage, 3 error.",
    .run = crashsim_run,
};

static void on_failure(const struct daxo_crashsim_failure *f, void *arg)
{
	const char *wl = arg;

	fprintf(stdout,
		"%sFAIL %s: crash point %llu image %u (seed %llu) at %s: %s: "
		"%s\n",
		isatty(STDERR_FILENO) ? "\r" : "", wl,
		(unsigned long long)f->point, f->image,
		(unsigned long long)f->seed, f->site, f->stage, f->msg);
	fflush(stdout);
}

static void on_progress(uint64_t done, uint64_t total, void *arg)
{
	const char *wl = arg;
	unsigned w = 40, fill;

	if (total == 0 || (done % 16 && done != total))
		return;
	fill = (unsigned)(done * w / total);
	fprintf(stderr, "\r%-8s [", wl);
	for (unsigned i = 0; i < w; i++)
		fputc(i < fill ? '#' : ' ', stderr);
	fprintf(stderr, "] %llu/%llu", (unsigned long long)done,
		(unsigned long long)total);
	if (done == total)
		fprintf(stderr, "\r%*s\r", w + 40, "");
	fflush(stderr);
}

static int crashsim_run(int argc, char **argv)
{
	struct daxo_crashsim_opts o;
	char pool[4096] = "";
	int worst = 0;
	size_t n;
	const struct crashsim_builtin *b = crashsim_builtins(&n);

	(void)argc;
	(void)argv;
	if (only && !crashsim_builtin_find(only))
		return cmd_usage_error(&crashsim_cmd, "no workload '%s'", only);
	memset(&o, 0, sizeof(o));
	o.seed = seed ? seed : 1;
	o.sample = sample;
	o.images = (unsigned)images;
	o.point = point;
	if (keep)
		o.flags |= DAXO_CRASHSIM_KEEP_FAILED;
	if (stop_first)
		o.flags |= DAXO_CRASHSIM_STOP_FIRST;
	if (pool_opt)
		snprintf(pool, sizeof(pool), "%s", pool_opt);
	if (!pool[0])
		snprintf(pool, sizeof(pool), "/dev/shm/daxo-crashsim-%d",
			 (int)getpid());
	if (!quiet && isatty(STDERR_FILENO))
		o.on_progress = on_progress;
	o.on_failure = on_failure;

	for (size_t i = 0; i < n; i++) {
		struct daxo_crashsim_workload w;
		struct daxo_crashsim_report rep;
		void *state = NULL;
		int r;

		if (only && strcmp(only, b[i].name))
			continue;
		if (b[i].make((unsigned)ops, &w, &state)) {
			fprintf(stderr, "daxo crashsim: out of memory\n");
			return EXIT_ERROR;
		}
		o.cbarg = (void *)b[i].name;
		r = daxo_crashsim_run(pool, &w, &o, &rep);
		free(state);
		if (r < 0) {
			fprintf(stderr, "daxo crashsim: %s: %s\n", b[i].name,
				daxo_errormsg());
			return EXIT_ERROR;
		}
		printf("%-8s %llu ops, %llu fences, %llu crash points, %llu "
		       "images: %s",
		       b[i].name, (unsigned long long)ops,
		       (unsigned long long)rep.fences,
		       (unsigned long long)rep.points,
		       (unsigned long long)rep.images,
		       rep.failures ? "FAILED" : "ok");
		if (rep.failures)
			printf(" (%llu failing images; reproduce one with: "
			       "daxo crashsim --workload %s --ops %llu --seed "
			       "%llu --point %llu)",
			       (unsigned long long)rep.failures, b[i].name,
			       (unsigned long long)ops,
			       (unsigned long long)o.seed,
			       (unsigned long long)rep.fail[0].point);
		printf("\n");
		fflush(stdout);
		if (r > 0)
			worst = 1;
	}
	return worst;
}

int main(int argc, char **argv)
{
	return cmd_main(&crashsim_cmd, argc, argv);
}
