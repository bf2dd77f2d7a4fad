/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * builtin.h -- the subcommands of the `daxo` tool (ndctl's builtin.h).
 *
 * Each subcommand lives in tools/<name>.c as one table entry, const struct
 * cmd cmd_<name> (opt.h: its options, arguments, help and exit codes), and
 * the function that does its work. Exit codes (documented in daxo(1)):
 *   0 success, 1 failure (or: inconsistent but repairable, for check),
 *   2 usage error (or: not repairable, for check/repair), 3 not a daxo pool
 *   or unreadable (check/info).
 */
#ifndef DAXO_TOOLS_BUILTIN_H
#define DAXO_TOOLS_BUILTIN_H 1

#include "opt.h"

/* the table entries, in the order `daxo --help` lists them (daxo.c) */
extern const struct cmd cmd_create, cmd_info, cmd_check, cmd_repair,
    cmd_crashsim, cmd_stat, cmd_top, cmd_put, cmd_get, cmd_del, cmd_ls,
    cmd_dump, cmd_load, cmd_defrag, cmd_bench;

/* stat.c: one snapshot from daxod (shared with top.c); with @fdp, reuses
 * and keeps the connection. NULL after printing why. */
struct json_object;
struct json_object *daxo__stat_fetch(const char *sock, int *fdp);

#endif
