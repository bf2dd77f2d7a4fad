/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * opt.h -- the one option and error helper of the `daxo` tool, after
 * ndctl's parse_options: a subcommand is a table entry (struct cmd: its
 * name, synopsis, description, options, positional arguments and exit
 * codes) plus the function that does its work. The helper parses the
 * options into the variables the table points to, counts the positional
 * arguments, answers --help from the table and reports usage errors with
 * exit code 2, so that no subcommand repeats any of that.
 *
 *	static bool json;
 *	static const struct opt info_opts[] = {
 *		OPT_BOOL('j', "json", &json, "print one JSON object"),
 *		OPT_END(),
 *	};
 *	static int info_run(int argc, char **argv); // argv: POOL only
 *	const struct cmd cmd_info = {
 *		.name = "info", .summary = "describe a pool",
 *		.synopsis = "POOL [--json]", .args = "POOL",
 *		.min_args = 1, .max_args = 1, .opts = info_opts,
 *		.about = "...", .exits = "0 ok, 1 failed, ...",
 *		.run = info_run,
 *	};
 *
 * Options keep GNU getopt_long's behaviour: they may come before, between
 * or after the positional arguments, "--opt=value" and unambiguous
 * abbreviations of long names work, and "--" ends them.
 */
#ifndef DAXO_TOOLS_OPT_H
#define DAXO_TOOLS_OPT_H 1

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* exit codes shared by the subcommands (daxo(1)) */
#define EXIT_USAGE    2
#define EXIT_NOT_POOL 3 /* check, repair, info: not a daxo pool, unreadable */
#define EXIT_IN_USE 4 /* check: the pool is open read-write elsewhere */

enum opt_type {
	OPT_T_END,
	OPT_T_BOOL,   /* bool *: set true */
	OPT_T_STRING, /* const char **: the argument */
	OPT_T_SIZE,   /* uint64_t *: util_parse_size */
	OPT_T_MODE,   /* unsigned *: util_parse_mode (octal) */
	OPT_T_UINT,   /* uint64_t *: decimal or 0x, within [min, max] */
	OPT_T_DOUBLE, /* double *: within [min, max] */
};

struct opt {
	enum opt_type type;
	int short_name;	       /* 0: long name only */
	const char *long_name; /* without the dashes */
	void *value;	       /* where the parsed value goes (see type) */
	bool *seen;	       /* if not NULL: set true when given */
	const char *argh;      /* the argument's name in --help ("SIZE") */
	const char *help;      /* its line in --help; '\n' continues it */
	double min, max;       /* OPT_T_UINT and OPT_T_DOUBLE bounds */
};

#define OPT_BOOL(s, l, v, h)                                                   \
	{                                                                      \
		OPT_T_BOOL, (s), (l), (v), NULL, NULL, (h), 0, 0               \
	}
#define OPT_STRING(s, l, v, a, h)                                              \
	{                                                                      \
		OPT_T_STRING, (s), (l), (v), NULL, (a), (h), 0, 0              \
	}
#define OPT_SIZE(s, l, v, seen, a, h)                                          \
	{                                                                      \
		OPT_T_SIZE, (s), (l), (v), (seen), (a), (h), 0, 0              \
	}
#define OPT_MODE(s, l, v, a, h)                                                \
	{                                                                      \
		OPT_T_MODE, (s), (l), (v), NULL, (a), (h), 0, 0                \
	}
#define OPT_UINT(s, l, v, a, h, lo, hi)                                        \
	{                                                                      \
		OPT_T_UINT, (s), (l), (v), NULL, (a), (h), (lo), (hi)          \
	}
#define OPT_DOUBLE(s, l, v, a, h, lo, hi)                                      \
	{                                                                      \
		OPT_T_DOUBLE, (s), (l), (v), NULL, (a), (h), (lo), (hi)        \
	}
#define OPT_END()                                                              \
	{                                                                      \
		OPT_T_END, 0, NULL, NULL, NULL, NULL, NULL, 0, 0               \
	}

struct cmd {
	const char *name;     /* "create" */
	const char *summary;  /* one line for `daxo --help` */
	const char *synopsis; /* after "usage: daxo NAME " */
	const char *about;    /* the description paragraph(s) */
	const char *exits;    /* "0 ok, 1 failed, 2 usage error." */
	const char *args; /* names of the positional arguments, "POOL KEY" */
	int min_args, max_args;
	const struct opt *opts; /* OPT_END-terminated; may be NULL */
	/*
	 * The work, with the positional arguments only (argv[0] is the first
	 * of them). A raw command (bench, crashsim) parses nothing here: it
	 * gets the whole argument vector, argv[0] being its name.
	 */
	int (*run)(int argc, char **argv);
	bool raw;
	void (*help_tail)(FILE *f); /* more help after the options */
};

/*
 * cmd_main -- parse @argv (argv[0] is the subcommand's name) against
 * @c->opts, then run @c. --help prints the generated help to stdout and
 * returns 0; an unknown option, a bad value or a wrong number of positional
 * arguments prints why and the help to stderr and returns EXIT_USAGE.
 */
int cmd_main(const struct cmd *c, int argc, char **argv);

/* cmd_help -- the generated help text of @c */
void cmd_help(const struct cmd *c, FILE *f);

/*
 * cmd_usage_error -- "daxo NAME: WHY" and the help, on stderr; returns
 * EXIT_USAGE, for checks of arguments the table cannot express.
 */
int cmd_usage_error(const struct cmd *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * tool_err -- report a failed library call of subcommand @cmd: the
 * library's daxo_errormsg() when it left one (it names the file and the
 * offset already), else "WHAT: daxo_strerror(@err)" (@what may be NULL).
 */
void tool_err(const char *cmd, const char *what, int err);

/* tool_msg -- daxo_errormsg() if the library left one, else daxo_strerror */
const char *tool_msg(int err);

/* tool_errno -- "daxo CMD: WHAT: strerror(@err)" for a system call's error */
void tool_errno(const char *cmd, const char *what, int err);

#endif
