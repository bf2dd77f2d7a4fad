/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * daxo.c -- the `daxo` command-line tool: dispatch to one subcommand.
 */
#include <stdio.h>
#include <string.h>

#include "daxo.h"
#include "builtin.h"

static const struct cmd_struct commands[] = {
	{"create", cmd_create, "create a pool"},
	{"info", cmd_info, "describe a pool"},
	{"check", cmd_check, "check a pool's consistency"},
	{"repair", cmd_repair, "repair a pool"},
	{"crashsim", cmd_crashsim, "crash-test workloads under the simulator"},
	{"stat", cmd_stat, "what daxod sees: pools, page faults, devices"},
	{"top", cmd_top, "live view of pools and their page faults"},
	{"put", cmd_put, "store a value under a key"},
	{"get", cmd_get, "print the value of a key"},
	{"del", cmd_del, "remove a key"},
	{"ls", cmd_ls, "list keys"},
	{"dump", cmd_dump, "export the keyed store as JSON"},
	{"load", cmd_load, "import a JSON dump into the keyed store"},
	{"bench", cmd_bench, "benchmark daxo against libpmemobj"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: daxo [--version] [--help] COMMAND [ARGS]\n\n"
		   "commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name,
			commands[i].summary);
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
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "daxo: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
