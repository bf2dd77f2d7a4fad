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
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "workloads.h"

#define EXIT_USAGE 2
#define EXIT_ERROR 3

static void usage(FILE *f)
{
	size_t n;
	const struct crashsim_builtin *b = crashsim_builtins(&n);

	fprintf(
	    f,
	    "usage: daxo crashsim [--workload NAME] [--ops N] [--seed S]\n"
	    "                     [--sample K] [--images M] [--point K]\n"
	    "                     [--pool PATH] [--keep] [--stop] [-q]\n\n"
	    "Runs a workload under the crash simulator: at every fence (or a\n"
	    "seeded sample of K fences) it builds M crash images, recovers\n"
	    "each (daxo_open), and checks it (daxo_check and the workload's\n"
	    "invariant). Failures name the fence, its source line and the\n"
	    "seed; --seed S --point K reproduces one.\n\n"
	    "  -w, --workload NAME  one of the workloads below (default: all)\n"
	    "  -n, --ops N          operations per workload (default 100)\n"
	    "  -s, --seed S         seed (default 1)\n"
	    "  -k, --sample K       test at most K crash points\n"
	    "  -m, --images M       crash images per point (default 4)\n"
	    "  -p, --point K        test only crash point K\n"
	    "      --pool PATH      scratch pool (default "
	    "/dev/shm/daxo-crashsim-PID)\n"
	    "      --keep           keep failing images as "
	    "PATH.fail-POINT-IMAGE\n"
	    "      --stop           stop at the first failure\n"
	    "  -q, --quiet          no progress bar\n\n"
	    "workloads:\n");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "  %-10s %s\n", b[i].name, b[i].summary);
	fprintf(f,
		"\nexit: 0 all passed, 1 failures found, 2 usage, 3 error\n");
}

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

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || end == s || *end || s[0] == '-' ? -1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"workload", required_argument, NULL, 'w'},
	    {"ops", required_argument, NULL, 'n'},
	    {"seed", required_argument, NULL, 's'},
	    {"sample", required_argument, NULL, 'k'},
	    {"images", required_argument, NULL, 'm'},
	    {"point", required_argument, NULL, 'p'},
	    {"pool", required_argument, NULL, 'P'},
	    {"keep", no_argument, NULL, 'K'},
	    {"stop", no_argument, NULL, 'S'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct daxo_crashsim_opts o;
	const char *only = NULL;
	char pool[4096] = "";
	uint64_t ops = 100, v;
	bool quiet = false;
	int c, worst = 0;
	size_t n;
	const struct crashsim_builtin *b = crashsim_builtins(&n);

	memset(&o, 0, sizeof(o));
	o.seed = 1;
	while ((c = getopt_long(argc, argv, "w:n:s:k:m:p:qh", lo, NULL)) !=
	       -1) {
		switch (c) {
		case 'w':
			only = optarg;
			if (!crashsim_builtin_find(only)) {
				fprintf(stderr,
					"daxo crashsim: no workload "
					"'%s'\n\n",
					only);
				usage(stderr);
				return EXIT_USAGE;
			}
			break;
		case 'P':
			snprintf(pool, sizeof(pool), "%s", optarg);
			break;
		case 'K':
			o.flags |= DAXO_CRASHSIM_KEEP_FAILED;
			break;
		case 'S':
			o.flags |= DAXO_CRASHSIM_STOP_FIRST;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'n':
		case 's':
		case 'k':
		case 'm':
		case 'p':
			if (parse_u64(optarg, &v) ||
			    (c == 'n' && (v == 0 || v > 1000000)) ||
			    (c == 'm' && (v == 0 || v > 1000))) {
				fprintf(stderr,
					"daxo crashsim: bad number '%s' for "
					"-%c\n",
					optarg, c);
				return EXIT_USAGE;
			}
			if (c == 'n')
				ops = v;
			else if (c == 's')
				o.seed = v ? v : 1;
			else if (c == 'k')
				o.sample = v;
			else if (c == 'm')
				o.images = (unsigned)v;
			else
				o.point = v;
			break;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
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
