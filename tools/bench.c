/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench.c -- `daxo bench [OPTIONS]`: run daxo-bench, the side-by-side
 * benchmark of libdaxo and libpmemobj (bench/), with the same options.
 *
 * The benchmark is its own program because it links libpmemobj and
 * interposes libpmem's entry points to count fences; the tool stays free of
 * both. It is looked for in $DAXO_BENCH, next to this executable (an
 * installed bindir), in ../bench/ from it (a build tree), then on $PATH.
 * Exit status: daxo-bench's own, or 1 if it cannot be run.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builtin.h"

static void try_exec(const char *path, char **argv)
{
	if (access(path, X_OK) == 0)
		execv(path, argv);
}

static int bench_run(int argc, char **argv)
{
	char self[PATH_MAX], path[PATH_MAX + 32];
	const char *env = getenv("DAXO_BENCH");
	ssize_t n;

	(void)argc;
	argv[0] = "daxo-bench";
	if (env && *env)
		try_exec(env, argv);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		char *slash;

		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			snprintf(path, sizeof(path), "%s/daxo-bench", self);
			try_exec(path, argv);
			snprintf(path, sizeof(path), "%s/../bench/daxo-bench",
				 self);
			try_exec(path, argv);
		}
	}
	execvp("daxo-bench", argv);
	fprintf(stderr,
		"daxo bench: cannot run daxo-bench (%s); build with "
		"-Dbench=enabled or set DAXO_BENCH\n",
		strerror(errno));
	return 1;
}

const struct cmd cmd_bench = {
    .name = "bench",
    .summary = "benchmark daxo against libpmemobj",
    .raw = true, /* daxo-bench parses its own options */
    .run = bench_run,
};
