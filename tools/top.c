/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * top.c -- `daxo top`: a live view of the pools daxod watches.
 *
 * Polls the daemon (one connection, reused) every --interval seconds and
 * redraws with plain ANSI escapes (no curses): one line per pool with its
 * process, fault mode, fault rates over the daemon's window, totals,
 * mapped fraction and a heat strip (one character per group of extents,
 * " .:-=+*#%@" from cold to hot). 'q' or Ctrl-C quits; when stdout is not
 * a terminal, or with --iterations N, it prints N plain frames and exits.
 */
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <json-c/json.h>

#include "builtin.h"

#define HEAT_WIDTH 24

static volatile sig_atomic_t stop;
static struct termios saved_tio;
static bool tio_saved;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void restore_tty(void)
{
	if (tio_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
	tio_saved = false;
}

static long long geti(json_object *o, const char *k)
{
	json_object *v;

	return o && json_object_object_get_ex(o, k, &v)
		   ? json_object_get_int64(v)
		   : 0;
}

static double getd(json_object *o, const char *k)
{
	json_object *v;

	return o && json_object_object_get_ex(o, k, &v)
		   ? json_object_get_double(v)
		   : 0;
}

static const char *gets_(json_object *o, const char *k)
{
	json_object *v;

	return o && json_object_object_get_ex(o, k, &v) && v
		   ? json_object_get_string(v)
		   : "-";
}

static void heat_strip(json_object *h, char *out)
{
	static const char ramp[] = " .:-=+*#%@";
	size_t n = h ? json_object_array_length(h) : 0;
	long long mx = 1;

	for (size_t i = 0; i < n; i++) {
		long long v =
		    json_object_get_int64(json_object_array_get_idx(h, i));
		if (v > mx)
			mx = v;
	}
	for (int c = 0; c < HEAT_WIDTH; c++) {
		size_t a = n * (size_t)c / HEAT_WIDTH;
		size_t b = n * (size_t)(c + 1) / HEAT_WIDTH;
		long long sum = 0;
		if (b <= a)
			b = a + 1;
		for (size_t i = a; i < b && i < n; i++)
			sum += json_object_get_int64(
			    json_object_array_get_idx(h, i));
		out[c] =
		    n == 0 ? ' '
		    : sum == 0
			? ' '
			: ramp[1 + (sum * 8) / ((long long)(b - a) * mx) % 9];
	}
	out[HEAT_WIDTH] = '\0';
}

static void render(json_object *o, bool tty)
{
	json_object *d = json_object_object_get(o, "daemon");
	json_object *pools = json_object_object_get(o, "pools");
	size_t n = pools ? json_object_array_length(pools) : 0;

	if (tty)
		fputs("\033[H\033[2J", stdout);
	printf("daxo top -- daxod %s, up %.0fs, %lld pools, devices: %s, "
	       "tracepoints %s\n\n",
	       gets_(d, "version"), getd(d, "uptime_s"), geti(d, "pools"),
	       gets_(d, "devices"),
	       json_object_get_boolean(json_object_object_get(d, "tracepoints"))
		   ? "on"
		   : "off");
	printf("%s%7s %-12s %-10s %9s %9s %9s %9s %6s %-*s %s%s\n",
	       tty ? "\033[7m" : "", "PID", "COMM", "MODE", "MINOR/s",
	       "MAJOR/s", "MINOR", "MAJOR", "MAP%", HEAT_WIDTH, "HEAT", "PATH",
	       tty ? "\033[0m" : "");
	for (size_t i = 0; i < n; i++) {
		json_object *p = json_object_array_get_idx(pools, i);
		json_object *f = json_object_object_get(p, "faults");
		json_object *r = json_object_object_get(p, "rates");
		long long size = geti(p, "size");
		char heat[HEAT_WIDTH + 1];

		heat_strip(json_object_object_get(p, "heat"), heat);
		printf("%7lld %-12.12s %-10s %9.1f %9.1f %9lld %9lld %5.1f%% "
		       "%s%-*s%s %s\n",
		       geti(p, "pid"), gets_(p, "comm"), gets_(p, "mode"),
		       getd(r, "minor_per_s"), getd(r, "major_per_s"),
		       geti(f, "minor"), geti(f, "major"),
		       size ? 100.0 * (double)geti(p, "mapped_bytes") /
				  (double)size
			    : 0.0,
		       tty ? "\033[33m" : "", HEAT_WIDTH, heat,
		       tty ? "\033[0m" : "", gets_(p, "path"));
	}
	if (n == 0)
		printf("(no pools mapped)\n");
	fflush(stdout);
}

static const char *sock;
static double interval = 1.0;
static uint64_t iters; /* 0: until 'q' */

static const struct opt top_opts[] = {
    OPT_STRING('s', "socket", &sock, "PATH", "daxod's socket"),
    OPT_DOUBLE('d', "interval", &interval, "S",
	       "seconds between refreshes (default 1)", 0.1, 3600),
    OPT_UINT('n', "iterations", &iters, "N", "stop after N refreshes", 1,
	     1e9),
    OPT_END(),
};

static void top_keys(FILE *f)
{
	fprintf(f, "\nKeys: q quits.\n");
}

static int top_run(int argc, char **argv)
{
	bool tty = isatty(STDOUT_FILENO);
	int fd = -1, ret = 0;

	(void)argc;
	(void)argv;
	if (!tty && iters == 0)
		iters = 1;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (tty && isatty(STDIN_FILENO) &&
	    tcgetattr(STDIN_FILENO, &saved_tio) == 0) {
		struct termios t = saved_tio;
		t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		tio_saved = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
	}
	while (!stop) {
		json_object *o = daxo__stat_fetch(sock, &fd);
		struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};

		if (!o) {
			ret = 1;
			break;
		}
		render(o, tty);
		json_object_put(o);
		if (iters > 0 && --iters == 0)
			break;
		if (poll(&p, tio_saved ? 1 : 0, (int)(interval * 1000)) > 0) {
			char ch;
			if (read(STDIN_FILENO, &ch, 1) == 1 &&
			    (ch == 'q' || ch == 'Q'))
				break;
		}
	}
	restore_tty();
	if (fd >= 0)
		close(fd);
	return ret;
}

const struct cmd cmd_top = {
    .name = "top",
    .summary = "live view of pools and their page faults",
    .synopsis = "[--socket PATH] [--interval S] [--iterations N]",
    .about = "Live view of the pools daxod watches and their page faults.\n",
    .opts = top_opts,
    .help_tail = top_keys,
    .exits = "0 ok, 1 daxod cannot be reached, 2 usage error.",
    .run = top_run,
};
