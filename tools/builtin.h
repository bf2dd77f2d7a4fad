/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * builtin.h -- the subcommands of the `daxo` tool (ndctl's builtin.h).
 *
 * Each subcommand lives in tools/<name>.c as cmd_<name>(argc, argv), where
 * argv[0] is the subcommand's name. Exit codes (documented in daxo(1)):
 *   0 success, 1 failure (or: inconsistent but repairable, for check),
 *   2 usage error (or: not repairable, for check/repair), 3 not a daxo pool
 *   or unreadable (check/info).
 */
#ifndef DAXO_TOOLS_BUILTIN_H
#define DAXO_TOOLS_BUILTIN_H 1

#define EXIT_USAGE 2

struct cmd_struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

int cmd_create(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_repair(int argc, char **argv);
int cmd_crashsim(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_bench(int argc, char **argv);

/* stat.c: one snapshot from daxod (shared with top.c); with @fdp, reuses
 * and keeps the connection. NULL after printing why. */
struct json_object;
struct json_object *daxo__stat_fetch(const char *sock, int *fdp);

/* the keyed store (tools/put.c get.c del.c ls.c dump.c load.c) */
int cmd_put(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_del(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_load(int argc, char **argv);

#endif
