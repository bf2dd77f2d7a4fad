/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * config.c -- daxod's configuration: defaults, the ini file, overrides.
 *
 * Precedence: built-in defaults < the configuration file (/etc/daxo/daxod.conf
 * or --config) < the environment (DAXO_SOCKET) < the command line. The file
 * is an ini file with one [daxod] section (keys as in config_set below); an
 * unknown key or a bad value is an error naming the line, so that a typo is
 * not silently ignored.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <ini.h>

#include "daxod.h"

struct config cfg;

void config_defaults(struct config *c)
{
	const char *s = getenv("DAXO_SOCKET");

	memset(c, 0, sizeof(*c));
	snprintf(c->socket_path, sizeof(c->socket_path), "%s",
		 s && *s ? s : DAXOD_DEFAULT_SOCKET);
	c->socket_mode = 0666;
	snprintf(c->log_target, sizeof(c->log_target), "stderr");
	c->log_level = LOG_INFO;
	c->scan_interval_ms = 1000;
	c->tick_ms = 250;
	c->window_s = 10;
	c->sample_period = 1;
	c->ring_pages = 64;
	c->device_interval_s = 60;
	c->client_timeout_ms = 2000;
	c->idle_timeout_ms = 10000;
	c->max_clients = 64;
	c->reserved_clients = 8;
	c->max_clients_per_uid = 8;
	c->max_procs_per_uid = 256;
	c->uid_request_rate = 2;
	c->uid_request_burst = 64;
	c->uid_event_rate = 1;
	c->uid_event_burst = 64;
	c->metrics_max_connections = 32;
	c->metrics_reserved_connections = 4;
	c->metrics_max_connections_per_uid = 4;
	c->metrics_timeout_s = 5;
	c->metrics_paths = false;
	c->use_perf = true;
	c->use_tracepoints = true;
	c->scan_proc = true;
	c->pagemap_scan = true;
}

static int parse_uint(const char *v, unsigned lo, unsigned hi, unsigned *out,
		      int base)
{
	char *end;
	unsigned long x;

	errno = 0;
	x = strtoul(v, &end, base);
	if (errno || end == v || *end || x < lo || x > hi)
		return -EINVAL;
	*out = (unsigned)x;
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "1") || !strcasecmp(v, "true") ||
	    !strcasecmp(v, "yes") || !strcasecmp(v, "on"))
		*out = true;
	else if (!strcmp(v, "0") || !strcasecmp(v, "false") ||
		 !strcasecmp(v, "no") || !strcasecmp(v, "off"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

static int copy_str(char *dst, size_t cap, const char *v)
{
	if (strlen(v) >= cap)
		return -ENAMETOOLONG;
	strcpy(dst, v);
	return 0;
}

static int parse_level(const char *v, int *out)
{
	static const struct {
		const char *n;
		int l;
	} lv[] = {{"err", LOG_ERR},
		  {"warning", LOG_WARNING},
		  {"notice", LOG_NOTICE},
		  {"info", LOG_INFO},
		  {"debug", LOG_DEBUG}};

	for (size_t i = 0; i < ARRAY_SIZE(lv); i++)
		if (!strcmp(v, lv[i].n)) {
			*out = lv[i].l;
			return 0;
		}
	return -EINVAL;
}

/* config_set -- one key = value; 0, -ENOENT (unknown key) or -EINVAL */
int config_set(struct config *c, const char *k, const char *v)
{
	if (!strcmp(k, "socket"))
		return copy_str(c->socket_path, sizeof(c->socket_path), v);
	if (!strcmp(k, "socket_mode"))
		return parse_uint(v, 0, 0777, &c->socket_mode, 8);
	if (!strcmp(k, "metrics"))
		return copy_str(c->metrics, sizeof(c->metrics), v);
	if (!strcmp(k, "event_log"))
		return copy_str(c->event_log, sizeof(c->event_log), v);
	if (!strcmp(k, "log"))
		return copy_str(c->log_target, sizeof(c->log_target), v);
	if (!strcmp(k, "log_level"))
		return parse_level(v, &c->log_level);
	if (!strcmp(k, "scan_interval_ms"))
		return parse_uint(v, 50, 3600000, &c->scan_interval_ms, 10);
	if (!strcmp(k, "tick_ms"))
		return parse_uint(v, 10, 10000, &c->tick_ms, 10);
	if (!strcmp(k, "window_s"))
		return parse_uint(v, 1, 3600, &c->window_s, 10);
	if (!strcmp(k, "sample_period"))
		return parse_uint(v, 1, 1000000, &c->sample_period, 10);
	if (!strcmp(k, "ring_pages")) {
		int r = parse_uint(v, 1, 4096, &c->ring_pages, 10);
		if (!r && (c->ring_pages & (c->ring_pages - 1)))
			return -EINVAL; /* perf wants a power of two */
		return r;
	}
	if (!strcmp(k, "device_interval_s"))
		return parse_uint(v, 1, 86400, &c->device_interval_s, 10);
	if (!strcmp(k, "client_timeout_ms"))
		return parse_uint(v, 10, 600000, &c->client_timeout_ms, 10);
	if (!strcmp(k, "idle_timeout_ms"))
		return parse_uint(v, 10, 3600000, &c->idle_timeout_ms, 10);
	if (!strcmp(k, "max_clients"))
		return parse_uint(v, 1, 10000, &c->max_clients, 10);
	if (!strcmp(k, "reserved_clients"))
		return parse_uint(v, 0, 10000, &c->reserved_clients, 10);
	if (!strcmp(k, "max_clients_per_uid"))
		return parse_uint(v, 1, 10000, &c->max_clients_per_uid, 10);
	if (!strcmp(k, "max_procs_per_uid"))
		return parse_uint(v, 1, MAX_PROCS, &c->max_procs_per_uid, 10);
	if (!strcmp(k, "uid_request_rate"))
		return parse_uint(v, 0, 1000000, &c->uid_request_rate, 10);
	if (!strcmp(k, "uid_request_burst"))
		return parse_uint(v, 1, 1000000, &c->uid_request_burst, 10);
	if (!strcmp(k, "uid_event_rate"))
		return parse_uint(v, 0, 1000000, &c->uid_event_rate, 10);
	if (!strcmp(k, "uid_event_burst"))
		return parse_uint(v, 1, 1000000, &c->uid_event_burst, 10);
	if (!strcmp(k, "metrics_max_connections"))
		return parse_uint(v, 1, 10000, &c->metrics_max_connections,
				  10);
	if (!strcmp(k, "metrics_reserved_connections"))
		return parse_uint(v, 0, 10000, &c->metrics_reserved_connections,
				  10);
	if (!strcmp(k, "metrics_max_connections_per_uid"))
		return parse_uint(v, 1, 10000,
				  &c->metrics_max_connections_per_uid, 10);
	if (!strcmp(k, "metrics_timeout_s"))
		return parse_uint(v, 1, 3600, &c->metrics_timeout_s, 10);
	if (!strcmp(k, "metrics_paths"))
		return parse_bool(v, &c->metrics_paths);
	if (!strcmp(k, "perf"))
		return parse_bool(v, &c->use_perf);
	if (!strcmp(k, "tracepoints"))
		return parse_bool(v, &c->use_tracepoints);
	if (!strcmp(k, "scan_paths"))
		return copy_str(c->scan_paths, sizeof(c->scan_paths), v);
	if (!strcmp(k, "pagemap_scan"))
		return parse_bool(v, &c->pagemap_scan);
	if (!strcmp(k, "scan_proc"))
		return parse_bool(v, &c->scan_proc);
	return -ENOENT;
}

int config_check(const struct config *c)
{
	if (c->reserved_clients >= c->max_clients) {
		fprintf(stderr,
			"daxod: reserved_clients (%u) must be below "
			"max_clients (%u)\n",
			c->reserved_clients, c->max_clients);
		return -EINVAL;
	}
	if (c->metrics_reserved_connections >= c->metrics_max_connections) {
		fprintf(stderr,
			"daxod: metrics_reserved_connections (%u) must be "
			"below metrics_max_connections (%u)\n",
			c->metrics_reserved_connections,
			c->metrics_max_connections);
		return -EINVAL;
	}
	return 0;
}

struct ini_ctx {
	struct config *c;
	const char *path;
	int err;
	FILE *f;
	int line;     /* lines read so far */
	int too_long; /* the first line longer than inih's buffer, or 0 */
	int max;      /* inih's buffer, in bytes */
};

/*
 * read_line -- inih's reader: fgets, but a line that does not fit in
 * inih's buffer (@num bytes, INI_MAX_LINE in the library's build) is not
 * handed over in pieces, which inih would parse as separate lines (the
 * tail of a long comment becoming a setting, a long value cut short). The
 * rest of an over-long comment line is skipped; any other over-long line
 * ends the parse, and config_load reports it.
 */
static char *read_line(char *str, int num, void *stream)
{
	struct ini_ctx *x = stream;
	size_t n, lead;
	int ch;

	if (!fgets(str, num, x->f))
		return NULL;
	x->line++;
	x->max = num;
	n = strlen(str);
	if (n > 0 && str[n - 1] == '\n')
		return str;
	/* no newline: the end of the file, or a line that goes on */
	ch = fgetc(x->f);
	if (ch == EOF || ch == '\n')
		return str;
	lead = strspn(str, " \t");
	if (str[lead] == ';' || str[lead] == '#') {
		while ((ch = fgetc(x->f)) != EOF && ch != '\n')
			;
		return str;
	}
	x->too_long = x->line;
	return NULL;
}

static int ini_cb(void *user, const char *section, const char *name,
		  const char *value)
{
	struct ini_ctx *x = user;
	int r;

	if (strcmp(section, "daxod") != 0) {
		fprintf(stderr, "daxod: %s: unknown section [%s]\n", x->path,
			section);
		x->err = -EINVAL;
		return 0;
	}
	r = config_set(x->c, name, value);
	if (r) {
		fprintf(stderr, "daxod: %s: %s \"%s\" = \"%s\"\n", x->path,
			r == -ENOENT ? "unknown key" : "bad value", name,
			value);
		x->err = -EINVAL;
		return 0;
	}
	return 1;
}

int config_load(struct config *c, const char *path, bool must_exist)
{
	struct ini_ctx x = {c, path, 0, NULL, 0, 0, 0};
	FILE *f = fopen(path, "re");
	int line;

	if (!f) {
		int e = errno;

		if (e == ENOENT && !must_exist)
			return 1; /* the optional default file is absent */
		fprintf(stderr, "daxod: %s: %s\n", path, strerror(e));
		return -e;
	}
	x.f = f;
	line = ini_parse_stream(read_line, &x, ini_cb, &x);
	fclose(f);
	if (x.too_long) {
		fprintf(stderr,
			"daxod: %s:%d: line longer than %d bytes (the longest "
			"a setting's line may be)\n",
			path, x.too_long, x.max - 1);
		return -EINVAL;
	}
	if (line > 0) {
		fprintf(stderr, "daxod: %s:%d: invalid line\n", path, line);
		return -EINVAL;
	}
	return x.err;
}
