/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * report.c -- what daxod knows, as JSON (for `daxo stat`) and as Prometheus
 * text (for the metrics port).
 *
 * A snapshot first drains every perf ring and tracepoint ring and rereads
 * each pool's pagemap, so that it reflects faults taken up to the moment of
 * the query. Field names are the contract of DESIGN.md section 5:
 *   {"daemon": {...}, "devices": [...], "pools": [{"pid", "path", "size",
 *    "pmem", "dax", "map_sync", "faults": {"minor", "major", "pmd", "pte",
 *    "sampled"}, "mapped_bytes", "heat": [...]}]}
 * plus, per pool, "id" (the Prometheus series' pool label), "mode" (perf,
 * tracepoint or procstat), "rates" over the sliding window, and the
 * process's own /proc/PID/stat totals, and "heap": {"bytes", "free_bytes",
 * "largest_alloc"} (heapstat.c), null when they cannot be read. Paths and
 * process names are given
 * as text_safe() makes them (valid, printable UTF-8).
 *
 * The Prometheus text is served to any local user (metrics.c), unlike the
 * socket's "stat", which only root and the daemon's uid may ask for: by
 * default a pool's series carry only its id, no pid and no path; with
 * metrics_paths = true they carry pid and path as well.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daxod.h"

double daemon_start_mono;
double daemon_start_real;

static json_object *u64(uint64_t v)
{
	return json_object_new_int64(v > INT64_MAX ? INT64_MAX : (int64_t)v);
}

static json_object *daemon_json(void)
{
	json_object *o = json_object_new_object();
	uint64_t unattr = 0, lost = 0;

	for (struct dproc *pr = reg.procs; pr; pr = pr->next) {
		unattr += pr->unattributed;
		lost += pr->lost;
	}
	json_object_object_add(o, "version",
			       json_object_new_string(DAXOD_VERSION));
	json_object_object_add(o, "protocol",
			       json_object_new_int(PROTO_VERSION));
	json_object_object_add(o, "pid", json_object_new_int(getpid()));
	json_object_object_add(o, "uid", json_object_new_int((int)geteuid()));
	json_object_object_add(
	    o, "uptime_s",
	    json_object_new_double(now_mono() - daemon_start_mono));
	json_object_object_add(o, "started",
			       json_object_new_double(daemon_start_real));
	json_object_object_add(o, "socket",
			       json_object_new_string(cfg.socket_path));
	json_object_object_add(o, "perf",
			       json_object_new_boolean(cfg.use_perf));
	json_object_object_add(o, "perf_event_paranoid",
			       json_object_new_int(perf_paranoid()));
	json_object_object_add(o, "tracepoints",
			       json_object_new_boolean(tp_active));
	json_object_object_add(o, "tracepoint_events", u64(tp_events()));
	json_object_object_add(o, "scan_interval_ms",
			       json_object_new_int((int)cfg.scan_interval_ms));
	json_object_object_add(o, "sample_period",
			       json_object_new_int((int)cfg.sample_period));
	json_object_object_add(o, "window_s",
			       json_object_new_int((int)cfg.window_s));
	json_object_object_add(o, "processes",
			       json_object_new_int((int)reg.nprocs));
	json_object_object_add(o, "pools",
			       json_object_new_int((int)reg.npools));
	json_object_object_add(o, "scans", u64(reg.scans));
	json_object_object_add(o, "unattributed_samples", u64(unattr));
	json_object_object_add(o, "lost_samples", u64(lost));
	json_object_object_add(o, "devices",
			       json_object_new_string(devices_summary()));
	{
		json_object *s = json_object_new_object();
		json_object_object_add(
		    s, "clients", json_object_new_int((int)srv_stats.clients));
		json_object_object_add(s, "accepted", u64(srv_stats.accepted));
		json_object_object_add(s, "requests", u64(srv_stats.requests));
		json_object_object_add(s, "rejected", u64(srv_stats.rejected));
		json_object_object_add(s, "dropped_malformed",
				       u64(srv_stats.dropped_malformed));
		json_object_object_add(s, "dropped_oversize",
				       u64(srv_stats.dropped_oversize));
		json_object_object_add(s, "dropped_timeout",
				       u64(srv_stats.dropped_timeout));
		json_object_object_add(s, "dropped_limit",
				       u64(srv_stats.dropped_limit));
		json_object_object_add(s, "rate_limited",
				       u64(srv_stats.rate_limited));
		json_object_object_add(o, "server", s);
	}
	json_object_object_add(o, "uids", uid_json());
	return o;
}

json_object *report_pool(const struct dpool *pl)
{
	const struct dproc *pr = pl->proc;
	json_object *o = json_object_new_object();
	json_object *f = json_object_new_object();
	json_object *r = json_object_new_object();
	json_object *h = json_object_new_array();
	json_object *p = json_object_new_object();
	double rmin, rmaj;
	bool procstat = pr->mode == MODE_PROCSTAT;

	json_object_object_add(o, "id", u64(pl->id));
	json_object_object_add(o, "pid", json_object_new_int(pr->pid));
	json_object_object_add(o, "comm", json_text(pr->comm, sizeof(pr->comm)));
	json_object_object_add(o, "uid", json_object_new_int((int)pr->uid));
	json_object_object_add(o, "path", json_text(pl->path, TEXT_MAX));
	json_object_object_add(o, "base", u64(pl->base));
	json_object_object_add(o, "size", u64(pl->size));
	json_object_object_add(
	    o, "pmem", pl->pmem < 0 ? NULL : json_object_new_boolean(pl->pmem));
	json_object_object_add(o, "dax", json_object_new_boolean(pl->dax));
	json_object_object_add(o, "map_sync",
			       json_object_new_boolean(pl->map_sync));
	json_object_object_add(o, "devdax",
			       json_object_new_boolean(pl->devdax));
	json_object_object_add(o, "registered",
			       json_object_new_boolean(pl->registered));
	json_object_object_add(o, "in_maps",
			       json_object_new_boolean(pl->in_maps));
	json_object_object_add(
	    o, "mode",
	    json_object_new_string(pr->mode == MODE_TRACEPOINT && !pl->dax
				       ? mode_name(MODE_PERF)
				       : mode_name(pr->mode)));
	json_object_object_add(o, "tracked_s",
			       json_object_new_double(now_mono() - pl->t_seen));

	if (procstat) {
		/* the process's totals: nothing finer is permitted */
		json_object_object_add(f, "minor",
				       u64(pr->minflt - pr->minflt0));
		json_object_object_add(f, "major",
				       u64(pr->majflt - pr->majflt0));
		json_object_object_add(f, "scope",
				       json_object_new_string("process"));
		window_rate(&pr->win, now_mono(), pr->minflt - pr->minflt0,
			    pr->majflt - pr->majflt0, &rmin, &rmaj);
	} else {
		json_object_object_add(f, "minor", u64(pl->fc.minor));
		json_object_object_add(f, "major", u64(pl->fc.major));
		json_object_object_add(f, "scope",
				       json_object_new_string("pool"));
		window_rate(&pl->win, now_mono(), pl->fc.minor, pl->fc.major,
			    &rmin, &rmaj);
	}
	json_object_object_add(f, "pmd", u64(pl->fc.pmd));
	json_object_object_add(f, "pte", u64(pl->fc.pte));
	json_object_object_add(f, "pmd_fallback", u64(pl->fc.pmd_fallback));
	json_object_object_add(f, "dax_errors", u64(pl->fc.dax_errors));
	json_object_object_add(f, "sampled", u64(pl->fc.sampled));
	json_object_object_add(o, "faults", f);

	json_object_object_add(r, "window_s",
			       json_object_new_int((int)cfg.window_s));
	json_object_object_add(r, "minor_per_s", json_object_new_double(rmin));
	json_object_object_add(r, "major_per_s", json_object_new_double(rmaj));
	json_object_object_add(o, "rates", r);

	json_object_object_add(o, "mapped_bytes", u64(pl->mapped_bytes));
	if (pl->heap_ok) {
		json_object *hp = json_object_new_object();
		json_object_object_add(hp, "bytes", u64(pl->heap_bytes));
		json_object_object_add(hp, "free_bytes", u64(pl->heap_free));
		json_object_object_add(hp, "largest_alloc",
				       u64(pl->heap_largest));
		json_object_object_add(o, "heap", hp);
	} else {
		json_object_object_add(o, "heap", NULL);
	}
	json_object_object_add(o, "heat_extent", u64(pl->heat_extent));
	for (uint32_t i = 0; i < pl->nheat; i++)
		json_object_array_add(h, json_object_new_int64(pl->heat[i]));
	json_object_object_add(o, "heat", h);

	json_object_object_add(p, "minflt", u64(pr->minflt));
	json_object_object_add(p, "majflt", u64(pr->majflt));
	json_object_object_add(p, "unattributed", u64(pr->unattributed));
	json_object_object_add(p, "lost", u64(pr->lost));
	json_object_object_add(p, "threads_watched",
			       json_object_new_int((int)perf_nthreads(pr)));
	json_object_object_add(o, "process", p);
	return o;
}

/* refresh -- bring counters up to this instant */
static void refresh(void)
{
	perf_drain_all();
	if (tp_active)
		tp_drain();
	for (struct dproc *pr = reg.procs; pr; pr = pr->next) {
		uint64_t mi, ma, m;
		if (procstat_read(pr->pid, &mi, &ma, NULL, NULL, 0) == 0) {
			pr->minflt = mi;
			pr->majflt = ma;
		}
		for (struct dpool *pl = pr->pools; pl; pl = pl->next) {
			if (pagemap_mapped(pr->pid, pl->base, pl->size, &m) ==
			    0)
				pl->mapped_bytes = m;
			heapstat_refresh(pl);
		}
	}
}

json_object *report_stat(void)
{
	json_object *o = json_object_new_object();
	json_object *pools = json_object_new_array();

	refresh();
	json_object_object_add(o, "daemon", daemon_json());
	json_object_object_add(o, "devices", devices_json());
	for (struct dproc *pr = reg.procs; pr; pr = pr->next)
		for (struct dpool *pl = pr->pools; pl; pl = pl->next)
			json_object_array_add(pools, report_pool(pl));
	json_object_object_add(o, "pools", pools);
	return o;
}

/* prometheus label values: text_safe, then \ and " escaped */
static void label(FILE *f, const char *s)
{
	for (s = text_safe(2, s, TEXT_MAX); *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		fputc(*s, f);
	}
}

/* pool_labels -- the labels naming a pool's series: pool="ID", and with
 * metrics_paths pid and path too */
static void pool_labels(FILE *f, const struct dpool *pl)
{
	fprintf(f, "pool=\"%llu\"", (unsigned long long)pl->id);
	if (cfg.metrics_paths) {
		fprintf(f, ",pid=\"%d\",path=\"", (int)pl->proc->pid);
		label(f, pl->path);
		fputc('"', f);
	}
}

char *report_prometheus(size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (!f)
		return NULL;
	refresh();
	fprintf(f, "# HELP daxod_up daxod is running.\n# TYPE daxod_up gauge\n"
		   "daxod_up 1\n");
	fprintf(f,
		"# HELP daxod_pools Pools being watched.\n"
		"# TYPE daxod_pools gauge\ndaxod_pools %u\n",
		reg.npools);
	fprintf(f,
		"# HELP daxod_processes Processes being watched.\n"
		"# TYPE daxod_processes gauge\ndaxod_processes %u\n",
		reg.nprocs);
	fprintf(f,
		"# HELP daxod_devices Persistent-memory devices found.\n"
		"# TYPE daxod_devices gauge\ndaxod_devices %u\n",
		devices_count());
	fprintf(f,
		"# HELP daxod_clients_dropped_total Socket clients dropped.\n"
		"# TYPE daxod_clients_dropped_total counter\n"
		"daxod_clients_dropped_total %llu\n",
		(unsigned long long)(srv_stats.dropped_malformed +
				     srv_stats.dropped_oversize +
				     srv_stats.dropped_timeout +
				     srv_stats.dropped_limit));
	fprintf(f,
		"# HELP daxod_clients_refused_total Socket connections over a "
		"limit.\n"
		"# TYPE daxod_clients_refused_total counter\n"
		"daxod_clients_refused_total %llu\n",
		(unsigned long long)srv_stats.dropped_limit);
	fprintf(f,
		"# HELP daxod_requests_rate_limited_total Register/unregister "
		"requests refused by a uid's rate limit.\n"
		"# TYPE daxod_requests_rate_limited_total counter\n"
		"daxod_requests_rate_limited_total %llu\n",
		(unsigned long long)srv_stats.rate_limited);
	fprintf(f, "# HELP daxod_pool_faults_total Page faults in a pool "
		   "(kind: minor, major, pmd, pte, pmd_fallback, dax_errors).\n"
		   "# TYPE daxod_pool_faults_total counter\n");
	for (struct dproc *pr = reg.procs; pr; pr = pr->next)
		for (struct dpool *pl = pr->pools; pl; pl = pl->next) {
			const char *k[] = {"minor",	   "major",
					   "pmd",	   "pte",
					   "pmd_fallback", "dax_errors"};
			uint64_t v[] = {pl->fc.minor,	     pl->fc.major,
					pl->fc.pmd,	     pl->fc.pte,
					pl->fc.pmd_fallback, pl->fc.dax_errors};
			if (pr->mode == MODE_PROCSTAT) {
				v[0] = pr->minflt - pr->minflt0;
				v[1] = pr->majflt - pr->majflt0;
			}
			for (size_t i = 0; i < ARRAY_SIZE(k); i++) {
				fputs("daxod_pool_faults_total{", f);
				pool_labels(f, pl);
				fprintf(f, ",mode=\"%s\",kind=\"%s\"} %llu\n",
					mode_name(pr->mode), k[i],
					(unsigned long long)v[i]);
			}
		}
	fprintf(f, "# HELP daxod_pool_mapped_bytes Bytes of the pool mapped "
		   "in the process's page tables.\n"
		   "# TYPE daxod_pool_mapped_bytes gauge\n");
	for (struct dproc *pr = reg.procs; pr; pr = pr->next)
		for (struct dpool *pl = pr->pools; pl; pl = pl->next) {
			fputs("daxod_pool_mapped_bytes{", f);
			pool_labels(f, pl);
			fprintf(f, "} %llu\n",
				(unsigned long long)pl->mapped_bytes);
		}
	fprintf(f, "# HELP daxod_pool_heap_free_bytes Free bytes in the "
		   "pool's heap: free chunks and free slots of runs.\n"
		   "# TYPE daxod_pool_heap_free_bytes gauge\n");
	for (struct dproc *pr = reg.procs; pr; pr = pr->next)
		for (struct dpool *pl = pr->pools; pl; pl = pl->next) {
			if (!pl->heap_ok)
				continue;
			fputs("daxod_pool_heap_free_bytes{", f);
			pool_labels(f, pl);
			fprintf(f, "} %llu\n", (unsigned long long)pl->heap_free);
		}
	fprintf(f, "# HELP daxod_pool_heap_largest_alloc_bytes The largest "
		   "object one allocation in the pool gets now.\n"
		   "# TYPE daxod_pool_heap_largest_alloc_bytes gauge\n");
	for (struct dproc *pr = reg.procs; pr; pr = pr->next)
		for (struct dpool *pl = pr->pools; pl; pl = pl->next) {
			if (!pl->heap_ok)
				continue;
			fputs("daxod_pool_heap_largest_alloc_bytes{", f);
			pool_labels(f, pl);
			fprintf(f, "} %llu\n",
				(unsigned long long)pl->heap_largest);
		}
	fprintf(f, "# HELP daxod_pool_size_bytes Size of the pool.\n"
		   "# TYPE daxod_pool_size_bytes gauge\n");
	for (struct dproc *pr = reg.procs; pr; pr = pr->next)
		for (struct dpool *pl = pr->pools; pl; pl = pl->next) {
			fputs("daxod_pool_size_bytes{", f);
			pool_labels(f, pl);
			fprintf(f, "} %llu\n", (unsigned long long)pl->size);
		}
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}
