/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * opt.c -- option parsing, generated --help and error reports for the
 * subcommands of the `daxo` tool (see opt.h).
 *
 * The table of a subcommand becomes getopt_long's short-option string and
 * long-option array, so every command accepts what GNU getopt accepts; the
 * values are parsed here by type, with one message per type that says
 * what a good value looks like.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daxo.h"
#include "opt.h"
#include "util.h"

#define OPT_MAX	  32	/* options per command, --help included */
#define LONG_ONLY 0x100 /* getopt value of a long-only option: + index */

static int nopts(const struct opt *o)
{
	int n = 0;

	while (o && o[n].type != OPT_T_END)
		n++;
	return n;
}

/* the left column of an option's help line: "-s, --size SIZE" */
static int opt_left(const struct opt *o, char *buf, size_t len)
{
	char s[8] = "    ";

	if (o->short_name)
		snprintf(s, sizeof(s), "-%c, ", o->short_name);
	return snprintf(buf, len, "%s--%s%s%s", s, o->long_name,
			o->argh ? " " : "", o->argh ? o->argh : "");
}

void cmd_help(const struct cmd *c, FILE *f)
{
	static const struct opt help = OPT_BOOL('h', "help", NULL, "this text");
	int n = nopts(c->opts), width = 0;
	char left[128];

	fprintf(f, "usage: daxo %s%s%s\n", c->name, c->synopsis ? " " : "",
		c->synopsis ? c->synopsis : "");
	if (c->about)
		fprintf(f, "\n%s", c->about);
	for (int i = 0; i <= n; i++) {
		int w =
		    opt_left(i < n ? &c->opts[i] : &help, left, sizeof(left));
		if (w > width)
			width = w;
	}
	fputc('\n', f);
	for (int i = 0; i <= n; i++) {
		const struct opt *o = i < n ? &c->opts[i] : &help;
		const char *h = o->help;

		opt_left(o, left, sizeof(left));
		fprintf(f, "  %-*s  ", width, left);
		for (; *h; h++) {
			fputc(*h, f);
			if (*h == '\n' && h[1])
				fprintf(f, "  %-*s  ", width, "");
		}
		fputc('\n', f);
	}
	if (c->help_tail)
		c->help_tail(f);
	if (c->exits) {
		fputs("\nExit status: ", f);
		for (const char *e = c->exits; *e; e++) {
			fputc(*e, f);
			if (*e == '\n' && e[1])
				fputs("             ", f);
		}
		fputc('\n', f);
	}
}

int cmd_usage_error(const struct cmd *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "daxo %s: ", c->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n\n", stderr);
	cmd_help(c, stderr);
	return EXIT_USAGE;
}

/* opt_value -- parse @arg for @o into its variable; 0 or EXIT_USAGE */
static int opt_value(const struct cmd *c, const struct opt *o, const char *arg)
{
	unsigned long long u = 0;
	double d;
	char *end;
	int r;

	switch (o->type) {
	case OPT_T_BOOL:
		*(bool *)o->value = true;
		break;
	case OPT_T_STRING:
		*(const char **)o->value = arg;
		break;
	case OPT_T_SIZE:
		r = util_parse_size(arg, o->value);
		if (r) {
			fprintf(stderr, "daxo %s: bad size '%s' for --%s: %s\n",
				c->name, arg, o->long_name,
				r == -ERANGE
				    ? "too large"
				    : "a number of bytes, optionally with "
				      "a suffix K, M, G or T (powers of 1024)");
			return EXIT_USAGE;
		}
		break;
	case OPT_T_MODE:
		if (util_parse_mode(arg, o->value)) {
			fprintf(stderr,
				"daxo %s: bad mode '%s' for --%s (octal, at "
				"most 7777)\n",
				c->name, arg, o->long_name);
			return EXIT_USAGE;
		}
		break;
	case OPT_T_UINT:
	case OPT_T_DOUBLE:
		errno = 0;
		if (o->type == OPT_T_UINT) {
			u = strtoull(arg, &end, 0);
			d = (double)u;
		} else {
			d = strtod(arg, &end);
		}
		if (errno || end == arg || *end || arg[0] == '-' ||
		    !(d >= o->min) || !(d <= o->max)) {
			fprintf(stderr,
				"daxo %s: bad number '%s' for --%s (%.15g to "
				"%.15g)\n",
				c->name, arg, o->long_name, o->min, o->max);
			return EXIT_USAGE;
		}
		if (o->type == OPT_T_UINT)
			*(uint64_t *)o->value = u;
		else
			*(double *)o->value = d;
		break;
	case OPT_T_END:
		break;
	}
	if (o->seen)
		*o->seen = true;
	return 0;
}

/* nth_word -- the @i-th word of @s ("POOL KEY") into @buf, or "argument" */
static const char *nth_word(const char *s, int i, char *buf, size_t len)
{
	while (s && *s) {
		size_t w = strcspn(s, " ");
		if (i-- == 0) {
			snprintf(buf, len, "%.*s", (int)w, s);
			return buf;
		}
		s += w + strspn(s + w, " ");
	}
	return "an argument";
}

int cmd_main(const struct cmd *c, int argc, char **argv)
{
	struct option lo[OPT_MAX + 1];
	char so[3 * OPT_MAX + 2], *sp = so, word[64];
	int n = nopts(c->opts), ch, npos;

	if (c->raw)
		return c->run(argc, argv);
	if (n >= OPT_MAX)
		return cmd_usage_error(c, "too many options in its table");
	*sp++ = 'h';
	for (int i = 0; i < n; i++) {
		const struct opt *o = &c->opts[i];
		int arg =
		    o->type == OPT_T_BOOL ? no_argument : required_argument;
		lo[i] = (struct option){o->long_name, arg, NULL,
					o->short_name ? o->short_name
						      : LONG_ONLY + i};
		if (o->short_name) {
			*sp++ = (char)o->short_name;
			if (arg == required_argument)
				*sp++ = ':';
		}
	}
	*sp = '\0';
	lo[n] = (struct option){"help", no_argument, NULL, 'h'};
	memset(&lo[n + 1], 0, sizeof(lo[n + 1]));

	optind = 1;
	while ((ch = getopt_long(argc, argv, so, lo, NULL)) != -1) {
		const struct opt *o = NULL;
		int r;

		if (ch == 'h') {
			cmd_help(c, stdout);
			return 0;
		}
		if (ch >= LONG_ONLY && ch < LONG_ONLY + n)
			o = &c->opts[ch - LONG_ONLY];
		for (int i = 0; !o && i < n; i++)
			if (c->opts[i].short_name == ch)
				o = &c->opts[i];
		if (!o) { /* getopt said why */
			fputc('\n', stderr);
			cmd_help(c, stderr);
			return EXIT_USAGE;
		}
		r = opt_value(c, o, optarg);
		if (r)
			return r;
	}
	npos = argc - optind;
	if (npos < c->min_args)
		return cmd_usage_error(
		    c, "%s is missing",
		    nth_word(c->args, npos, word, sizeof(word)));
	if (npos > c->max_args) {
		if (c->max_args == 0)
			return cmd_usage_error(c, "unexpected argument '%s'",
					       argv[optind]);
		if (c->max_args == 1)
			return cmd_usage_error(
			    c, "only one %s may be given",
			    nth_word(c->args, 0, word, sizeof(word)));
		return cmd_usage_error(c, "too many arguments");
	}
	return c->run(npos, argv + optind);
}

const char *tool_msg(int err)
{
	const char *msg = daxo_errormsg();

	return msg && *msg ? msg : daxo_strerror(err);
}

void tool_err(const char *cmd, const char *what, int err)
{
	const char *msg = daxo_errormsg();

	if (msg && *msg)
		fprintf(stderr, "daxo %s: %s\n", cmd, msg);
	else if (what)
		fprintf(stderr, "daxo %s: %s: %s\n", cmd, what,
			daxo_strerror(err));
	else
		fprintf(stderr, "daxo %s: %s\n", cmd, daxo_strerror(err));
}

void tool_errno(const char *cmd, const char *what, int err)
{
	fprintf(stderr, "daxo %s: %s: %s\n", cmd, what, strerror(err));
}
