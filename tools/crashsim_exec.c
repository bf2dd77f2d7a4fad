/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * crashsim_exec.c -- `daxo crashsim`: run the daxo-crashsim program.
 *
 * The crash simulator needs libdaxo's internals (a persistence backend is
 * swapped in), so it is a separate program linked against the test library
 * (tools/crashsim.c). This looks for it: $DAXO_CRASHSIM, then next to this
 * executable (build tree), then DAXO_LIBEXECDIR, then $PATH.
 */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daxo.h"
#include "builtin.h"

#ifndef DAXO_LIBEXECDIR
#define DAXO_LIBEXECDIR "/usr/local/libexec/daxo"
#endif

static int crashsim_run(int argc, char **argv)
{
	char self[PATH_MAX], path[PATH_MAX + 32];
	const char *env = getenv("DAXO_CRASHSIM");
	ssize_t n;

	argv[0] = "daxo-crashsim";
	if (env && *env)
		execv(env, argv);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		snprintf(path, sizeof(path), "%s/daxo-crashsim", dirname(self));
		execv(path, argv);
	}
	execv(DAXO_LIBEXECDIR "/daxo-crashsim", argv);
	execvp("daxo-crashsim", argv);
	fprintf(stderr,
		"daxo crashsim: cannot find the daxo-crashsim program (built "
		"when meson option crashsim is on); set DAXO_CRASHSIM\n");
	(void)argc;
	return 3;
}

const struct cmd cmd_crashsim = {
    .name = "crashsim",
    .summary = "crash-test workloads under the simulator",
    .raw = true, /* daxo-crashsim parses its own options */
    .run = crashsim_run,
};
