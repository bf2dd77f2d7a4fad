/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * stat.c -- `daxo stat [--socket PATH] [--json]`: one snapshot from daxod.
 *
 * Asks the daemon for {"op":"stat"} and prints its daemon state, the
 * persistent-memory devices and every watched pool with its page faults
 * (how they were measured: "perf", "tracepoint" or "procstat"), the rates
 * over the daemon's sliding window, the bytes mapped right now and the
 * heat map. --json prints the daemon's reply as is (pretty-printed) for
 * programs.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "builtin.h"
#include "client.h"

#define STAT_TIMEOUT_MS 5000

/*
 * is_array_or_absent -- @k is missing or an array (not null): what the
 * printers index with json_object_array_*(), which abort on any other type
 */
static bool is_array_or_absent(json_object *o, const char *k)
{
	json_object *v;

	return !json_object_object_get_ex(o, k, &v) ||
	       json_object_is_type(v, json_type_array);
}

/*
 * reply_shape_ok -- the reply is an object whose "devices" and "pools" are
 * arrays and whose pools' "heat" are arrays (when there): a broken or
 * hostile daemon gets "unreadable reply", not an abort in json-c
 */
static bool reply_shape_ok(json_object *o)
{
	json_object *pools;

	if (!json_object_is_type(o, json_type_object) ||
	    !is_array_or_absent(o, "devices") ||
	    !is_array_or_absent(o, "pools"))
		return false;
	if (!json_object_object_get_ex(o, "pools", &pools))
		return true;
	for (size_t i = 0; i < json_object_array_length(pools); i++) {
		json_object *p = json_object_array_get_idx(pools, i);
		if (p && json_object_is_type(p, json_type_object) &&
		    !is_array_or_absent(p, "heat"))
			return false;
	}
	return true;
}

json_object *daxo__stat_fetch(const char *sock, int *fdp)
{
	const char *path = daxod_socket_path(sock);
	json_object *o, *ok, *err;
	char *reply = NULL;
	int fd = fdp ? *fdp : -1, r;
	bool reused = fd >= 0;

again:
	if (fd < 0) {
		fd = daxod_connect(path, STAT_TIMEOUT_MS);
		if (fd < 0) {
			fprintf(stderr, "daxo: cannot reach daxod at %s: %s\n",
				path, strerror(-fd));
			return NULL;
		}
	}
	r = daxod_call(fd, "{\"v\":1,\"op\":\"stat\"}", &reply,
		       STAT_TIMEOUT_MS);
	if (r && reused) {
		/* the daemon closes connections idle too long: once more,
		 * on a new one */
		close(fd);
		fd = -1;
		reused = false;
		goto again;
	}
	if (r) {
		fprintf(stderr, "daxo: daxod at %s: %s\n", path, strerror(-r));
		close(fd);
		if (fdp)
			*fdp = -1;
		return NULL;
	}
	if (fdp)
		*fdp = fd;
	else
		close(fd);
	o = json_tokener_parse(reply);
	free(reply);
	if (!o || !json_object_object_get_ex(o, "ok", &ok) ||
	    !reply_shape_ok(o)) {
		fprintf(stderr, "daxo: daxod sent an unreadable reply\n");
		json_object_put(o);
		return NULL;
	}
	if (!json_object_get_boolean(ok)) {
		fprintf(stderr, "daxo: daxod: %s\n",
			json_object_object_get_ex(o, "error", &err)
			    ? json_object_get_string(err)
			    : "request refused");
		json_object_put(o);
		if (fdp && *fdp >= 0) {
			close(*fdp);
			*fdp = -1;
		}
		return NULL;
	}
	return o;
}

static long long geti(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v)
						   : 0;
}

static const char *gets_(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) && v
		   ? json_object_get_string(v)
		   : "-";
}

static const char *human(unsigned long long b, char *buf, size_t len)
{
	const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	double v = (double)b;
	int i = 0;

	while (v >= 1024 && i < 5) {
		v /= 1024;
		i++;
	}
	snprintf(buf, len, i ? "%.1f %s" : "%.0f %s", v, u[i]);
	return buf;
}

static void print_human(json_object *o)
{
	json_object *d, *devs, *pools;
	char b1[32], b2[32];

	if (json_object_object_get_ex(o, "daemon", &d))
		printf("daxod %s, pid %lld, up %.0f s, %lld process(es), "
		       "%lld pool(s); fs_dax tracepoints %s; "
		       "perf_event_paranoid %lld\n",
		       gets_(d, "version"), geti(d, "pid"),
		       json_object_get_double(
			   json_object_object_get(d, "uptime_s")),
		       geti(d, "processes"), geti(d, "pools"),
		       json_object_get_boolean(
			   json_object_object_get(d, "tracepoints"))
			   ? "on"
			   : "off",
		       geti(d, "perf_event_paranoid"));
	if (json_object_object_get_ex(o, "devices", &devs)) {
		size_t n = json_object_array_length(devs);
		if (n == 0)
			printf("devices: no persistent memory devices\n");
		for (size_t i = 0; i < n; i++) {
			json_object *x = json_object_array_get_idx(devs, i);
			printf("device %-9s %-12s", gets_(x, "type"),
			       gets_(x, "dev"));
			if (json_object_object_get(x, "mode"))
				printf(" mode %s", gets_(x, "mode"));
			if (json_object_object_get(x, "size"))
				printf(
				    " size %s",
				    human((unsigned long long)geti(x, "size"),
					  b1, sizeof(b1)));
			if (json_object_object_get(x, "align"))
				printf(
				    " align %s",
				    human((unsigned long long)geti(x, "align"),
					  b1, sizeof(b1)));
			if (json_object_object_get(x, "health"))
				printf(" health %s", gets_(x, "health"));
			if (json_object_object_get(x, "badblocks"))
				printf(" badblocks %lld", geti(x, "badblocks"));
			printf("\n");
		}
	}
	if (!json_object_object_get_ex(o, "pools", &pools))
		return;
	if (json_object_array_length(pools) == 0)
		printf("no pools mapped\n");
	for (size_t i = 0; i < json_object_array_length(pools); i++) {
		json_object *p = json_object_array_get_idx(pools, i);
		json_object *f = json_object_object_get(p, "faults");
		json_object *r = json_object_object_get(p, "rates");
		json_object *pm = json_object_object_get(p, "pmem");

		printf(
		    "\npool %s\n  pid %lld (%s), %s at 0x%llx, %s%s%s%s%s\n",
		    gets_(p, "path"), geti(p, "pid"), gets_(p, "comm"),
		    human((unsigned long long)geti(p, "size"), b1, sizeof(b1)),
		    (unsigned long long)geti(p, "base"),
		    pm ? (json_object_get_boolean(pm) ? "pmem" : "not pmem")
		       : "pmem unknown",
		    json_object_get_boolean(json_object_object_get(p, "dax"))
			? ", dax"
			: "",
		    json_object_get_boolean(
			json_object_object_get(p, "map_sync"))
			? ", MAP_SYNC"
			: "",
		    json_object_get_boolean(
			json_object_object_get(p, "registered"))
			? ", registered"
			: ", discovered",
		    json_object_get_boolean(json_object_object_get(p, "devdax"))
			? ", devdax"
			: "");
		printf(
		    "  faults (%s, per %s): minor %lld, major %lld, pmd %lld, "
		    "pte %lld, sampled %lld\n",
		    gets_(p, "mode"), gets_(f, "scope"), geti(f, "minor"),
		    geti(f, "major"), geti(f, "pmd"), geti(f, "pte"),
		    geti(f, "sampled"));
		printf("  rate over %llds: %.1f minor/s, %.1f major/s\n",
		       geti(r, "window_s"),
		       json_object_get_double(
			   json_object_object_get(r, "minor_per_s")),
		       json_object_get_double(
			   json_object_object_get(r, "major_per_s")));
		printf(
		    "  mapped now: %s of %s\n",
		    human((unsigned long long)geti(p, "mapped_bytes"), b1,
			  sizeof(b1)),
		    human((unsigned long long)geti(p, "size"), b2, sizeof(b2)));
		{
			json_object *hp = json_object_object_get(p, "heap");
			if (hp && json_object_is_type(hp, json_type_object))
				printf("  heap: %s free, largest allocation "
				       "%s\n",
				       human((unsigned long long)geti(
						 hp, "free_bytes"),
					     b1, sizeof(b1)),
				       human((unsigned long long)geti(
						 hp, "largest_alloc"),
					     b2, sizeof(b2)));
			else
				printf("  heap: not readable\n");
		}
		{
			json_object *h = json_object_object_get(p, "heat");
			size_t n = h ? json_object_array_length(h) : 0;
			long long mx = 0, nz = 0;
			for (size_t k = 0; k < n; k++) {
				long long v = json_object_get_int64(
				    json_object_array_get_idx(h, k));
				if (v > mx)
					mx = v;
				nz += v > 0;
			}
			printf("  heat: %lld of %zu extents of %s faulted, "
			       "hottest "
			       "%lld faults\n",
			       nz, n,
			       human((unsigned long long)geti(p, "heat_extent"),
				     b1, sizeof(b1)),
			       mx);
		}
	}
}

static const char *sock;
static bool json;

static const struct opt stat_opts[] = {
    OPT_STRING('s', "socket", &sock, "PATH",
	       "daxod's socket (default $DAXO_SOCKET or\n"
	       "/run/daxo/daxod.sock)"),
    OPT_BOOL('j', "json", &json, "print the JSON snapshot"),
    OPT_END(),
};

static int stat_run(int argc, char **argv)
{
	json_object *o;

	(void)argc;
	(void)argv;
	o = daxo__stat_fetch(sock, NULL);
	if (!o)
		return 1;
	if (json)
		printf("%s\n", json_object_to_json_string_ext(
				   o, JSON_C_TO_STRING_PRETTY |
					  JSON_C_TO_STRING_SPACED |
					  JSON_C_TO_STRING_NOSLASHESCAPE));
	else
		print_human(o);
	json_object_put(o);
	return 0;
}

const struct cmd cmd_stat = {
    .name = "stat",
    .summary = "what daxod sees: pools, page faults, devices",
    .synopsis = "[--socket PATH] [--json]",
    .about = "Print what daxod knows: devices, mapped pools, page faults.\n",
    .opts = stat_opts,
    .exits = "0 ok, 1 daxod cannot be reached or refuses, 2 usage error.",
    .run = stat_run,
};
