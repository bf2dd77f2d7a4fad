/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * check_report.h -- printing daxo_check findings as text or JSON, shared by
 * `daxo check` and `daxo repair` (tools/check.c).
 */
#ifndef DAXO_TOOLS_CHECK_REPORT_H
#define DAXO_TOOLS_CHECK_REPORT_H 1

#include <stdbool.h>
#include <stdio.h>

struct check_out {
	const char *path;
	bool json;
	unsigned n; /* findings printed so far */
	FILE *f;
	/* `daxo check`: a process had the pool open read-write (its pid, or
	 * 0 if it cannot be told): the verdict is of a changing image */
	bool in_use;
	int writer_pid;
	/* the file shrank while it was read (a SIGBUS, sigbus.h): nothing
	 * was decided, check again (exit 4) */
	bool changed;
	/* `daxo repair`: why a repairable pool was not repaired, or NULL */
	const char *error;
};

/* check_out_cb -- a daxo_check_cb printing to o->f */
void check_out_cb(int sev, uint64_t off, const char *msg, void *arg);
/* check_out_begin/end -- JSON framing; end prints the verdict */
void check_out_begin(struct check_out *o);
void check_out_end(struct check_out *o, int r, const char *what);
/*
 * check_out_check -- daxo_check(@flags) reporting through @o, noting
 * whether a process has the pool open read-write before and after (the
 * image read may change); a failure's message is kept in @err
 */
int check_out_check(struct check_out *o, unsigned flags, char *err,
		    size_t errlen);
/*
 * check_out_exit -- the exit code of result @r as check_out_end reports it
 * (4 when a process had the pool open read-write, or the file shrank while
 * it was read)
 */
int check_out_exit(const struct check_out *o, int r);
/* json_str -- print @s as a JSON string */
void json_str(FILE *f, const char *s);

#endif
