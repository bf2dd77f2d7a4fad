/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * daxo.c -- the `daxo` command-line tool: dispatch to one subcommand.
 */
#include <stdio.h>
#include <string.h>

#include "daxo.h"
#include "builtin.h"
#include "sigbus.h"

static const struct cmd *const commands[] = {
    &cmd_create, &cmd_info, &cmd_check, &cmd_repair, &cmd_crashsim,
    &cmd_stat,	 &cmd_top,  &cmd_put,	&cmd_get,    &cmd_del,
    &cmd_ls,	 &cmd_dump, &cmd_load,	&cmd_defrag, &cmd_bench,
};

#define NCMD (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: daxo [--version] [--help] COMMAND [ARGS]\n\n"
		   "commands:\n");
	for (size_t i = 0; i < NCMD; i++)
		fprintf(f, "  %-10s %s\n", commands[i]->name,
			commands[i]->summary);
	fprintf(f, "\n'daxo COMMAND --help' describes each command.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		int v = daxo_version();
		printf("daxo %d.%d.%d\n", v / 10000, v / 100 % 100, v % 100);
		return 0;
	}
	for (size_t i = 0; i < NCMD; i++)
		if (!strcmp(argv[1], commands[i]->name)) {
			sigbus_install(commands[i]->name);
			return cmd_main(commands[i], argc - 1, argv + 1);
		}
	fprintf(stderr, "daxo: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
