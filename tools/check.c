/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * check.c -- `daxo check POOL [--json] [-v]`: a full offline check.
 *
 * Reads the pool without locking it or changing it (daxo_check) and prints
 * every finding with its offset; the verdict is the exit code (daxo(1)),
 * unless a process had the pool open read-write when the check started or
 * ended: then what was read may have been changing (or not yet be a pool:
 * one being created), and the exit code (4) says the verdict is not to be
 * trusted.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daxo.h"
#include "builtin.h"
#include "check_report.h"
#include "sigbus.h"

static const char *sev_name(int sev)
{
	switch (sev) {
	case DAXO_CHECK_INFO:
		return "info";
	case DAXO_CHECK_REPAIRABLE:
		return "repairable";
	case DAXO_CHECK_FATAL:
		return "fatal";
	case DAXO_CHECK_REPAIRED:
		return "repaired";
	default:
		return "?";
	}
}

void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", f);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

void check_out_cb(int sev, uint64_t off, const char *msg, void *arg)
{
	struct check_out *o = arg;

	if (o->json) {
		fprintf(o->f,
			"%s\n    {\"severity\": \"%s\", \"offset\": %llu, "
			"\"message\": ",
			o->n ? "," : "", sev_name(sev),
			(unsigned long long)off);
		json_str(o->f, msg);
		fputc('}', o->f);
	} else {
		fprintf(o->f, "%s: offset %llu: %s: %s\n", o->path,
			(unsigned long long)off, sev_name(sev), msg);
	}
	o->n++;
}

void check_out_begin(struct check_out *o)
{
	if (o->json) {
		fprintf(o->f, "{\n  \"path\": ");
		json_str(o->f, o->path);
		fprintf(o->f, ",\n  \"findings\": [");
	}
}

int check_out_exit(const struct check_out *o, int r)
{
	if (o->in_use || o->changed)
		return EXIT_IN_USE;
	return r < 0 ? EXIT_NOT_POOL : r;
}

/* print_error -- @msg, after the path unless it begins with it already
 * (or the path is empty) */
static void print_error(const struct check_out *o, const char *msg)
{
	size_t n = strlen(o->path);

	if (!n || (strncmp(msg, o->path, n) == 0 && msg[n] == ':'))
		fprintf(o->f, "%s\n", msg);
	else
		fprintf(o->f, "%s: %s\n", o->path, msg);
}

void check_out_end(struct check_out *o, int r, const char *what)
{
	static const char *const status[] = {"consistent", "repairable",
					     "not repairable", "not a pool"};
	int e = check_out_exit(o, r);

	if (o->json) {
		fprintf(o->f, "%s],\n  \"status\": \"%s\",\n  \"exit\": %d",
			o->n ? "\n  " : "",
			o->changed ? "changed" : status[r < 0 ? EXIT_NOT_POOL : r],
			e);
		if (r < 0 || o->error) {
			fprintf(o->f, ",\n  \"error\": ");
			json_str(o->f, o->error ? o->error : daxo_errormsg());
		}
		if (o->in_use)
			fprintf(o->f,
				",\n  \"in_use\": true,\n  \"writer_pid\": %d",
				o->writer_pid);
		if (o->changed)
			fprintf(o->f, ",\n  \"changed\": true");
		fprintf(o->f, "\n}\n");
		return;
	}
	if (r < 0 && o->error)
		print_error(o, o->error);
	else if (r < 0)
		print_error(o, daxo_errormsg()[0] ? daxo_errormsg()
						  : daxo_strerror(r));
	else if (r == 0)
		fprintf(o->f, "%s: %s\n", o->path, what ? what : "consistent");
	else if (r == 1 && o->error) {
		print_error(o, o->error);
		fprintf(o->f, "%s: inconsistent but repairable; not repaired\n",
			o->path);
	} else if (r == 1)
		fprintf(o->f,
			"%s: inconsistent but repairable (run 'daxo "
			"repair')\n",
			o->path);
	else
		fprintf(o->f, "%s: inconsistent and not repairable\n", o->path);
	if (!o->in_use)
		return;
	if (o->writer_pid > 0)
		fprintf(o->f, "%s: warning: open read-write by process %d", o->path,
			o->writer_pid);
	else
		fprintf(o->f, "%s: warning: open read-write by another process",
			o->path);
	fprintf(o->f, ": the image checked may have been changing, so this "
		      "verdict is not to be trusted; check again once the "
		      "pool is closed\n");
}

/* note_writer -- does a process have the pool open read-write? */
static void note_writer(struct check_out *o)
{
	pid_t pid;

	if (!o->in_use && daxo_pool_writer(o->path, &pid) == 1) {
		o->in_use = true;
		o->writer_pid = (int)pid;
	}
}

static bool json, verbose;

static const struct opt check_opts[] = {
    OPT_BOOL('j', "json", &json, "machine-readable output"),
    OPT_BOOL('v', "verbose", &verbose, "report every structure checked"),
    OPT_END(),
};

int check_out_check(struct check_out *o, unsigned flags, char *err,
		    size_t errlen)
{
	sigjmp_buf env;
	int r;

	note_writer(o);
	/*
	 * daxo_check reads the file through a private mapping: a load past
	 * the end of a file another process truncated meanwhile, or from a
	 * media error not on the bad-block list, is a SIGBUS. Then nothing
	 * was decided: for a truncation, the image changed under the check
	 * (exit 4, as for a writer); a media error leaves it unreadable (3).
	 */
	if (sigsetjmp(env, 1)) {
		if (!sigbus_why(o->path, err, errlen))
			o->changed = true;
		o->error = err;
		note_writer(o);
		return -EIO;
	}
	sigbus_enter(&env);
	r = daxo_check(o->path, flags, check_out_cb, o);
	sigbus_leave();
	if (r == -EAGAIN) /* the file changed size while it was read */
		o->changed = true;
	if (r < 0) { /* daxo_pool_writer clears the message */
		snprintf(err, errlen, "%s", daxo_errormsg());
		o->error = err;
	}
	note_writer(o);
	return r;
}

static int check_run(int argc, char **argv)
{
	struct check_out o = {.f = stdout, .json = json, .path = argv[0]};
	char err[4400];
	int r;

	(void)argc;
	check_out_begin(&o);
	r = check_out_check(&o, verbose ? DAXO_CHECK_VERBOSE : 0, err,
			    sizeof(err));
	check_out_end(&o, r, NULL);
	return check_out_exit(&o, r);
}

const struct cmd cmd_check = {
    .name = "check",
    .summary = "check a pool's consistency",
    .synopsis = "POOL [--json] [-v]",
    .about = "Checks a closed pool offline: the header and its copy, every\n"
	     "log, the heap's metadata, the root object and the keyed\n"
	     "store. Changes nothing and takes no lock: if a process has the\n"
	     "pool open read-write, the image read may be changing, and check\n"
	     "says so (exit 4).\n",
    .args = "POOL",
    .min_args = 1,
    .max_args = 1,
    .opts = check_opts,
    .exits = "0 consistent, 1 repairable, 2 not repairable (or usage),\n"
	     "3 not a daxo pool or unreadable, 4 the pool is open read-write\n"
	     "by another process: what was read may have been changing, and\n"
	     "the verdict printed is not to be trusted.",
    .run = check_run,
};
