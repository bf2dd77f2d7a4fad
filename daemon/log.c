/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * log.c -- daxod's diagnostics and its JSON-lines event log.
 *
 * Diagnostics go to stderr (the default, what systemd's journal collects),
 * syslog, or a file, chosen at run time. Events -- a pool registered or
 * discovered, a process gone, a client dropped, devices found -- are also
 * written, one JSON object per line, to the event log when one is
 * configured (like `ndctl monitor`): {"ts": seconds, "event": NAME, ...}.
 *
 * Whatever came from outside the daemon -- a path, a process name, bytes a
 * client sent -- goes through text_safe() first: printable, valid UTF-8,
 * bounded, so that it cannot break a JSON line or forge a log line. Events
 * a user caused are written within that uid's budget (uidlim.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "daxod.h"

static FILE *log_file;
static bool use_syslog;
static int max_level = LOG_INFO;
static FILE *ev_file;

int log_open(const char *target, int level)
{
	max_level = level;
	if (!strcmp(target, "stderr")) {
		log_file = stderr;
	} else if (!strcmp(target, "syslog")) {
		openlog("daxod", LOG_PID | LOG_NDELAY, LOG_DAEMON);
		use_syslog = true;
	} else if (!strncmp(target, "file:", 5)) {
		log_file = fopen(target + 5, "ae");
		if (!log_file) {
			int e = errno;
			log_file = stderr;
			log_msg(LOG_ERR, "cannot open log %s: %s", target + 5,
				strerror(e));
			return -e;
		}
		setvbuf(log_file, NULL, _IOLBF, 0);
	} else {
		log_file = stderr;
		log_msg(LOG_ERR, "unknown log target \"%s\"", target);
		return -EINVAL;
	}
	return 0;
}

void log_msg(int level, const char *fmt, ...)
{
	static const char *const names[] = {"emerg", "alert",	"crit",
					    "err",   "warning", "notice",
					    "info",  "debug"};
	va_list ap;

	if (level > max_level || !fmt)
		return;
	va_start(ap, fmt);
	if (use_syslog) {
		vsyslog(level, fmt, ap);
	} else {
		FILE *f = log_file ? log_file : stderr;
		fprintf(f, "daxod: %s: ", names[level & 7]);
		vfprintf(f, fmt, ap);
		fputc('\n', f);
	}
	va_end(ap);
}

int event_log_open(const char *path)
{
	if (!path || !*path)
		return 0;
	if (!strcmp(path, "-")) {
		ev_file = stdout;
	} else {
		ev_file = fopen(path, "ae");
		if (!ev_file) {
			int e = errno;
			log_msg(LOG_ERR, "cannot open event log %s: %s", path,
				strerror(e));
			return -e;
		}
	}
	setvbuf(ev_file, NULL, _IOLBF, 0);
	return 0;
}

/* logs_reopen -- after a rotation (SIGHUP): reopen the event log and a
 * file log target by name; keep the old stream if that fails */
void logs_reopen(const char *event_log, const char *target)
{
	if (ev_file && ev_file != stdout && event_log && *event_log) {
		FILE *f = fopen(event_log, "ae");
		if (f) {
			fclose(ev_file);
			ev_file = f;
			setvbuf(ev_file, NULL, _IOLBF, 0);
		}
	}
	if (log_file && log_file != stderr && !strncmp(target, "file:", 5)) {
		FILE *f = fopen(target + 5, "ae");
		if (f) {
			fclose(log_file);
			log_file = f;
			setvbuf(log_file, NULL, _IOLBF, 0);
		}
	}
}

void event_emit(const char *name, json_object *obj)
{
	json_object *o;

	if (!ev_file) {
		json_object_put(obj);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "ts", json_object_new_double(now_real()));
	json_object_object_add(o, "event", json_object_new_string(name));
	if (obj) {
		json_object_object_foreach(obj, k, v)
		    json_object_object_add(o, k, json_object_get(v));
		json_object_put(obj);
	}
	fprintf(
	    ev_file, "%s\n",
	    json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

void event_emit_uid(uid_t uid, const char *name, json_object *obj)
{
	if (!ev_file || !uid_take_event(uid)) {
		json_object_put(obj);
		return;
	}
	event_emit(name, obj);
}

const char *text_safe(int slot, const char *s, size_t max)
{
	/* room for max bytes as \xNN escapes, and the "..." */
	static char buf[4][4 * TEXT_MAX + 8];
	char *b = buf[(unsigned)slot % 4];

	if (!s)
		return "";
	if (max > TEXT_MAX)
		max = TEXT_MAX;
	proto_text(s, strlen(s), max, b, sizeof(buf[0]));
	return b;
}

json_object *json_text(const char *s, size_t max)
{
	return json_object_new_string(text_safe(3, s, max));
}

void log_close(void)
{
	if (ev_file && ev_file != stdout)
		fclose(ev_file);
	ev_file = NULL;
	if (log_file && log_file != stderr)
		fclose(log_file);
	log_file = NULL;
	if (use_syslog)
		closelog();
}
