/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_run.c -- the row runner of daxo-bench and daxo-ycsb.
 *
 * For one workload at one thread count the runner prepares each library
 * (objects, preloaded keys), runs a warm-up of a quarter run, then `reps`
 * timed runs, the libraries' runs interleaved (daxo, pmemobj, ..., daxo,
 * ...) so that a change in the machine's load hits them alike, and keeps
 * the run with the median throughput: ops/s over all threads, ns/op (the
 * mean time one thread spends on one op), CPU ns/op, fences/op and flushed
 * cache lines/op, fsync-family calls/op, and daxo's throughput over every
 * other library's. Worker thread t runs on the process's (t mod CPUs)-th
 * CPU unless pinning is off; the threads of a timed run stop at one
 * deadline.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void *bench_buf(size_t len)
{
	return aligned_alloc(64, (len + 63) & ~(size_t)63);
}

/* CPU time of the calling thread: what it costs, whatever the load */
uint64_t bench_cpu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* DAXO_BENCH_TRACE=1: mark the measured loops for fence_trace.c */
static bool bench_trace;

/*
 * Worker thread t runs on the (t mod n)-th of the n CPUs the process may
 * use (unless pinning is off: wherever the scheduler puts it), so every
 * library's row runs on the same CPUs: on a VM whose vCPUs are not equally
 * fast at a given moment, unpinned rows of one workload landed on
 * different ones and their ratio moved by 2x.
 */
static bool bench_pin = true;
static cpu_set_t bench_cpus;
static int bench_ncpus;
double bench_load_start;

void bench_run_defaults(struct bench_run_cfg *c)
{
	static const int t[] = {1, 2, 4, 8};

	memcpy(c->threads, t, sizeof(t));
	c->nthreads = 4;
	c->secs = 0.5;
	c->reps = 3;
	c->pin = true;
}

/* parse_threads -- a comma-separated list of thread counts */
static int parse_threads(struct bench_run_cfg *c, const char *s)
{
	char *end;
	int n = 0;

	while (*s) {
		long v = strtol(s, &end, 10);

		if (end == s || v < 1 || v > BENCH_MAX_THREADS || n == 8)
			return -1;
		c->threads[n++] = (int)v;
		s = end;
		if (*s == ',')
			s++;
		else if (*s)
			return -1;
	}
	if (!n)
		return -1;
	c->nthreads = n;
	c->threads_set = true;
	return 0;
}

int bench_run_option(struct bench_run_cfg *c, const char *prog, const char *a,
		     const char *v)
{
	if (!strcmp(a, "--json"))
		return c->json = true, 1;
	if (!strcmp(a, "--markdown"))
		return c->markdown = true, 1;
	if (!strcmp(a, "--no-pin"))
		return c->pin = false, 1;
	if (strcmp(a, "--threads") && strcmp(a, "--time") &&
	    strcmp(a, "--ops") && strcmp(a, "--libs") && strcmp(a, "--stores"))
		return 0;
	if (!v) {
		fprintf(stderr, "%s: %s needs a value\n", prog, a);
		return -1;
	}
	if (!strcmp(a, "--threads")) {
		if (parse_threads(c, v) == 0)
			return 2;
	} else if (!strcmp(a, "--time")) {
		c->secs = atof(v);
		c->secs_set = true;
		if (c->secs > 0)
			return 2;
	} else if (!strcmp(a, "--ops")) {
		c->ops = strtoull(v, NULL, 0);
		if (c->ops)
			return 2;
	} else {
		c->only_libs = v;
		return 2;
	}
	fprintf(stderr, "%s: bad %s '%s'\n", prog, a, v);
	return -1;
}

void bench_run_usage(FILE *f, const char *libs_opt, const char *libnames)
{
	fprintf(
	    f,
	    "  --threads LIST    thread counts (default 1,2,4,8; max %d;\n"
	    "                    more threads than CPUs are shown, not "
	    "judged)\n"
	    "  --time SEC        length of a timed run (default 0.5)\n"
	    "  --ops N           ops per thread per run instead of timed "
	    "runs\n"
	    "  %-17s only these of %s\n"
	    "  --no-pin          do not pin worker thread t to the t-th CPU\n"
	    "  --json            machine-readable output\n"
	    "  --markdown        the table as a Markdown table\n",
	    BENCH_MAX_THREADS, libs_opt, libnames);
}

int bench_max_threads(const struct bench_run_cfg *c)
{
	int most = 1;

	for (int k = 0; k < c->nthreads; k++)
		if (c->threads[k] > most)
			most = c->threads[k];
	return most;
}

void bench_run_init(const struct bench_run_cfg *c)
{
	bench_pin = c->pin;
	if (sched_getaffinity(0, sizeof(bench_cpus), &bench_cpus) == 0)
		bench_ncpus = CPU_COUNT(&bench_cpus);
	bench_trace = getenv("DAXO_BENCH_TRACE") != NULL;
	bench_load_start = bench_loadavg();
}

int bench_cpu_count(void)
{
	return bench_ncpus;
}

/* pin the calling thread to the @n-th CPU it may run on; false if none */
static bool pin_nth(const cpu_set_t *allowed, int n)
{
	cpu_set_t one;

	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, allowed) && n-- == 0) {
			CPU_ZERO(&one);
			CPU_SET(c, &one);
			return pthread_setaffinity_np(pthread_self(),
						      sizeof(one), &one) == 0;
		}
	return false;
}

/* ---- files to remove if the run is interrupted ---- */

#define MAX_PATHS 32
static char *bench_paths[MAX_PATHS];

/*
 * remove_path -- unlink a pool file, or empty and remove a store's
 * directory (LMDB's and RocksDB's are flat). Only async-signal-safe calls:
 * the signal handler runs it too.
 */
static void remove_path(const char *path)
{
	char buf[4096];
	int fd;
	long n;

	if (unlink(path) == 0 || errno != EISDIR)
		return;
	fd = open(path, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return;
	while ((n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		for (long o = 0; o < n;) {
			struct {
				uint64_t ino;
				int64_t off;
				unsigned short reclen;
				unsigned char type;
				char name[];
			} *d = (void *)(buf + o);

			if (strcmp(d->name, ".") && strcmp(d->name, ".."))
				unlinkat(fd, d->name, 0);
			o += d->reclen;
		}
	}
	close(fd);
	rmdir(path);
}

static void on_signal(int sig)
{
	for (size_t k = 0; k < MAX_PATHS; k++)
		if (bench_paths[k])
			remove_path(bench_paths[k]);
	signal(sig, SIG_DFL);
	raise(sig);
}

void bench_install_signals(void)
{
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGPIPE, on_signal); /* e.g. `daxo-bench | head` */
}

char *bench_pool_path(const char *dir, const char *lib, const char *what)
{
	char *s = NULL;

	if (asprintf(&s, "%s/daxo-bench-%d-%s-%s.pool", dir, (int)getpid(), lib,
		     what) < 0)
		return NULL;
	for (size_t k = 0; k < MAX_PATHS; k++)
		if (!bench_paths[k]) {
			bench_paths[k] = strdup(s);
			break;
		}
	return s;
}

void bench_remove_path(const char *path)
{
	remove_path(path);
	for (size_t k = 0; k < MAX_PATHS; k++)
		if (bench_paths[k] && !strcmp(bench_paths[k], path)) {
			free(bench_paths[k]);
			bench_paths[k] = NULL;
		}
}

/* ---- one timed run of one row ---- */

struct run;

struct worker {
	pthread_t th;
	struct run *run;
	int tid;
	uint64_t ops, t0, t1, cpu_ns; /* t0, t1: CLOCK_MONOTONIC ns */
	struct bench_counts c, pc;    /* library's counters, libpmem's */
	uint64_t syncs;
	int rc;
	char err[256];
};

struct run {
	const struct bench_lib *lib;
	struct bench_row *row;
	uint64_t ops;	  /* fixed ops per thread, or 0 */
	uint64_t dur_ns;  /* else: run this long */
	uint64_t *next_i; /* per thread: op numbers continue across runs */
	/* when every thread stops (timed runs): set by the first thread
	 * past the barrier, so that a thread the scheduler starts late (more
	 * threads than CPUs) stops with the others instead of running alone */
	_Atomic uint64_t deadline;
	pthread_barrier_t bar;
	struct worker w[BENCH_MAX_THREADS];
};

static void *worker_main(void *arg)
{
	struct worker *wk = arg;
	struct run *run = wk->run;
	int (*op)(void *, uint64_t) = run->row->op;
	void *tctx = run->row->tctx[wk->tid];
	uint64_t base = run->next_i[wk->tid];
	struct bench_counts c0, c1, p0, p1;
	uint64_t i = 0, s0;

	if (bench_pin && bench_ncpus > 0)
		pin_nth(&bench_cpus, wk->tid % bench_ncpus);
	pthread_barrier_wait(&run->bar);
	if (bench_trace) {
		/* fence_trace.c single-steps this thread between the two */
		pthread_setname_np(pthread_self(), "bench-trace");
		raise(SIGSTOP);
	}
	run->lib->counts(&c0);
	pmem_count_get(&p0);
	s0 = sync_count_get();
	uint64_t cpu0 = bench_cpu_now_ns();
	uint64_t t0 = bench_now_ns(), deadline = 0;

	if (!run->ops) {
		uint64_t mine = t0 + run->dur_ns;

		/* the first thread sets it; a failed exchange loads it */
		if (atomic_compare_exchange_strong(&run->deadline, &deadline,
						   mine))
			deadline = mine;
	}
	for (uint64_t calls = 1;; calls++) {
		if (run->ops && i >= run->ops)
			break;
		int rc = op(tctx, base + i);

		if (rc < 0) {
			wk->rc = rc;
			snprintf(wk->err, sizeof(wk->err), "%s",
				 run->lib->errmsg());
			break;
		}
		i += rc > 0 ? (uint64_t)rc : 1;
		if (!run->ops && (calls & 15) == 0 &&
		    bench_now_ns() >= deadline)
			break;
	}
	wk->t0 = t0;
	wk->t1 = bench_now_ns();
	wk->cpu_ns = bench_cpu_now_ns() - cpu0;
	run->lib->counts(&c1);
	pmem_count_get(&p1);
	wk->syncs = sync_count_get() - s0;
	if (bench_trace)
		raise(SIGUSR2);
	wk->ops = i;
	wk->c.fences = c1.fences - c0.fences;
	wk->c.lines = c1.lines - c0.lines;
	wk->pc.fences = p1.fences - p0.fences;
	wk->pc.lines = p1.lines - p0.lines;
	run->next_i[wk->tid] = base + i;
	return NULL;
}

static void run_once(const struct bench_lib *lib, struct bench_row *row,
		     uint64_t ops, uint64_t dur_ns, uint64_t *next_i,
		     struct bench_result *res)
{
	struct run run = {.lib = lib,
			  .row = row,
			  .ops = ops,
			  .dur_ns = dur_ns,
			  .next_i = next_i};
	uint64_t tops = 0, tns, tcpu = 0, first = UINT64_MAX, last = 0;
	uint64_t syncs = 0;
	struct bench_counts c = {0, 0}, pc = {0, 0};
	int n = row->nthreads;

	memset(res, 0, sizeof(*res));
	pthread_barrier_init(&run.bar, NULL, (unsigned)n);
	for (int t = 0; t < n; t++) {
		run.w[t].run = &run;
		run.w[t].tid = t;
		if (pthread_create(&run.w[t].th, NULL, worker_main,
				   &run.w[t])) {
			/* cannot happen with a handful of threads; say so */
			fprintf(stderr, "bench: pthread_create failed\n");
			exit(1);
		}
	}
	for (int t = 0; t < n; t++) {
		pthread_join(run.w[t].th, NULL);
		if (run.w[t].rc && !res->rc) {
			res->rc = run.w[t].rc;
			snprintf(res->err, sizeof(res->err), "%s",
				 run.w[t].err);
		}
		tops += run.w[t].ops;
		tcpu += run.w[t].cpu_ns;
		if (run.w[t].t0 < first)
			first = run.w[t].t0;
		if (run.w[t].t1 > last)
			last = run.w[t].t1;
		c.fences += run.w[t].c.fences;
		c.lines += run.w[t].c.lines;
		pc.fences += run.w[t].pc.fences;
		pc.lines += run.w[t].pc.lines;
		syncs += run.w[t].syncs;
	}
	pthread_barrier_destroy(&run.bar);
	/* the wall time from the first thread's start to the last one's end:
	 * with more threads than CPUs, threads do not all run at once */
	tns = last > first ? last - first : 0;
	if (tops == 0 || tns == 0)
		return;
	res->ops_s = (double)tops * 1e9 / (double)tns;
	res->ns_op = (double)n * 1e9 / res->ops_s;
	res->cpu_ns_op = (double)tcpu / (double)tops;
	res->fences_op = (double)c.fences / (double)tops;
	res->lines_op = (double)c.lines / (double)tops;
	res->pfences_op = (double)pc.fences / (double)tops;
	res->plines_op = (double)pc.lines / (double)tops;
	res->syncs_op = (double)syncs / (double)tops;
}

static int cmp_res(const void *a, const void *b)
{
	const struct bench_result *x = a, *y = b;

	return (x->ops_s > y->ops_s) - (x->ops_s < y->ops_s);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* ---- output ---- */

struct row_out {
	const struct bench_workload *w;
	int threads;
	const struct bench_lib *lib;
	struct bench_result r;
	double ratio;	  /* daxo / this library, 0 if none */
	double cpu_ratio; /* the same by CPU time per op */
	double
	    handoff; /* core-to-core handoff before the row, ns (0: 1 thread) */
};

static struct row_out *rows;
static size_t nrows, caprows;

static void add_row(const struct row_out *r)
{
	if (nrows == caprows) {
		caprows = caprows ? caprows * 2 : 64;
		rows = realloc(rows, caprows * sizeof(*rows));
		if (!rows) {
			fprintf(stderr, "bench: out of memory\n");
			exit(1);
		}
	}
	rows[nrows++] = *r;
}

static void fmt_count(char *buf, size_t len, const struct bench_lib *lib,
		      double v)
{
	if (!lib->count_source)
		snprintf(buf, len, "-");
	else if (lib->counts_libpmem && !pmem_count_active())
		snprintf(buf, len, "n/a");
	else
		snprintf(buf, len, "%.2f", v);
}

void bench_print_header(const struct bench_run_cfg *c)
{
	if (c->markdown)
		printf("| workload | threads | library | ops/s | ns/op | "
		       "cpu-ns/op | fences/op | lines/op |%s daxo/x (wall "
		       "/ cpu) |\n"
		       "|---|---:|---|---:|---:|---:|---:|---:|%s---:|\n",
		       c->syncs ? " syncs/op |" : "", c->syncs ? "---:|" : "");
	else
		printf("%-15s %3s  %-9s %11s %9s %9s %9s %9s%s %14s\n",
		       "workload", "thr", "library", "ops/s", "ns/op",
		       "cpu-ns/op", "fences/op", "lines/op",
		       c->syncs ? "  syncs/op" : "", "daxo/x wall cpu");
	fflush(stdout);
}

static void print_row_text(const struct bench_run_cfg *c,
			   const struct row_out *o)
{
	char f[32], l[32], s[32] = "", ratio[32] = "";

	if (o->r.rc) {
		if (c->markdown)
			printf("| %s | %d | %s | error: %s | | | | |%s |\n",
			       o->w->name, o->threads, o->lib->name, o->r.err,
			       c->syncs ? " |" : "");
		else
			printf("%-15s %3d  %-9s error: %s\n", o->w->name,
			       o->threads, o->lib->name, o->r.err);
		fflush(stdout);
		return;
	}
	fmt_count(f, sizeof(f), o->lib, o->r.fences_op);
	fmt_count(l, sizeof(l), o->lib, o->r.lines_op);
	if (c->markdown) {
		if (c->syncs)
			snprintf(s, sizeof(s), " %.2f |", o->r.syncs_op);
		if (o->ratio > 0)
			snprintf(ratio, sizeof(ratio), "%.2fx / %.2fx",
				 o->ratio, o->cpu_ratio);
		printf("| %s | %d | %s | %.0f | %.1f | %.1f | %s | %s |%s %s "
		       "|\n",
		       o->w->name, o->threads, o->lib->name, o->r.ops_s,
		       o->r.ns_op, o->r.cpu_ns_op, f, l, s, ratio);
		return;
	}
	if (c->syncs)
		snprintf(s, sizeof(s), " %9.2f", o->r.syncs_op);
	if (o->ratio > 0)
		snprintf(ratio, sizeof(ratio), "%.2fx %.2fx", o->ratio,
			 o->cpu_ratio);
	printf("%-15s %3d  %-9s %11.0f %9.1f %9.1f %9s %9s%s %14s\n",
	       o->w->name, o->threads, o->lib->name, o->r.ops_s, o->r.ns_op,
	       o->r.cpu_ns_op, f, l, s, ratio);
	fflush(stdout);
}

void bench_json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

void bench_print_rows_json(void)
{
	printf(" \"rows\": [\n");
	for (size_t k = 0; k < nrows; k++) {
		const struct row_out *r = &rows[k];

		printf("  {\"workload\": ");
		bench_json_str(r->w->name);
		printf(", \"threads\": %d, \"library\": ", r->threads);
		bench_json_str(r->lib->name);
		if (r->r.rc) {
			printf(", \"error\": ");
			bench_json_str(r->r.err);
		} else {
			printf(", \"ops_per_s\": %.1f, \"ns_per_op\": %.2f, "
			       "\"cpu_ns_per_op\": %.2f, "
			       "\"fences_per_op\": %.4f, "
			       "\"lines_per_op\": %.4f, "
			       "\"libpmem_fences_per_op\": %.4f, "
			       "\"libpmem_lines_per_op\": %.4f, "
			       "\"syncs_per_op\": %.4f",
			       r->r.ops_s, r->r.ns_op, r->r.cpu_ns_op,
			       r->r.fences_op, r->r.lines_op, r->r.pfences_op,
			       r->r.plines_op, r->r.syncs_op);
			if (r->handoff > 0)
				printf(", \"handoff_ns\": %.1f", r->handoff);
			if (bench_ncpus > 0 && r->threads > bench_ncpus)
				printf(", \"oversubscribed\": true");
			printf(", \"count_source\": ");
			if (r->lib->count_source)
				bench_json_str(r->lib->count_source);
			else
				printf("null");
			if (r->ratio > 0)
				printf(", \"daxo_ratio\": %.4f, "
				       "\"daxo_cpu_ratio\": %.4f",
				       r->ratio, r->cpu_ratio);
		}
		printf("}%s\n", k + 1 < nrows ? "," : "");
	}
	printf(" ]");
}

/* the 1-minute load average: the machine may be shared */
double bench_loadavg(void)
{
	double l = -1;
	FILE *f = fopen("/proc/loadavg", "r");

	if (f) {
		if (fscanf(f, "%lf", &l) != 1)
			l = -1;
		fclose(f);
	}
	return l;
}

/* handoff_summary -- min, median, max of the multi-thread rows' probes */
static bool handoff_summary(double *mn, double *md, double *mx)
{
	double v[256];
	size_t n = 0;

	for (size_t k = 0; k < nrows && n < 256; k++)
		if (rows[k].handoff > 0 &&
		    (k == 0 || rows[k].handoff != rows[k - 1].handoff))
			v[n++] = rows[k].handoff;
	if (!n)
		return false;
	qsort(v, n, sizeof(v[0]), cmp_double);
	*mn = v[0];
	*md = v[n / 2];
	*mx = v[n - 1];
	return true;
}

void bench_print_run_notes(const struct bench_run_cfg *c)
{
	double hmin, hmed, hmax;

	if (handoff_summary(&hmin, &hmed, &hmax))
		printf(
		    "\ncore-to-core cache-line handoff (one way), measured "
		    "before each multi-thread row:\n  min %.0f, median %.0f, "
		    "max %.0f ns -- multi-thread rows move with it\n",
		    hmin, hmed, hmax);
	printf("\nload average (1 min) %.2f at start, %.2f at end; %ld CPUs "
	       "online.\n",
	       bench_load_start, bench_loadavg(),
	       sysconf(_SC_NPROCESSORS_ONLN));
	for (int k = 0; k < c->nthreads; k++)
		if (bench_ncpus > 0 && c->threads[k] > bench_ncpus) {
			printf("rows with more threads than the process's %d "
			       "CPUs are oversubscribed: threads\n"
			       "  take turns, ns/op includes the wait; shown, "
			       "not judged.\n",
			       bench_ncpus);
			break;
		}
	printf("ops/s: all threads together; ns/op: mean time one thread "
	       "spends on one op;\n"
	       "cpu-ns/op: CPU time of the threads per op (less sensitive to "
	       "a shared, loaded machine);\n"
	       "median of %d %s, the libraries' "
	       "runs interleaved%s.\n",
	       c->reps,
	       c->rounds ? "rounds"
	       : c->ops	 ? "runs of a fixed op count after a warm-up"
			 : "runs of a fixed time after a warm-up",
	       bench_pin ? ";\nworker thread t runs on the process's "
			   "(t mod CPUs)-th CPU"
			 : "");
	printf("fences/op, lines/op: daxo from daxo_thread_stats(); pmemobj "
	       "counted at libpmem's\n"
	       "  entry points (pmem_drain/persist/flush/mem*, which "
	       "libpmemobj 1.12 calls)%s;\n"
	       "  lines = cache lines handed to libpmem to make durable "
	       "(flushed, or written\n"
	       "  non-temporally). bench/fence-trace checks both against the "
	       "executed SFENCEs.\n",
	       pmem_count_active() ? "" : " -- NOT ACTIVE in this build: n/a");
	if (c->syncs)
		printf("syncs/op: fsync, fdatasync, msync(MS_SYNC), "
		       "sync_file_range(WAIT_AFTER) and syncfs calls\n"
		       "  on the calling threads per op (bench/sync_count.c; "
		       "a library's background threads\n"
		       "  are not counted).\n");
	printf("daxo/x: daxo's throughput divided by this row's (same "
	       "workload and threads), by wall\n"
	       "  clock (ops/s) and by CPU time (this row's cpu-ns/op over "
	       "daxo's).\n");
}

bool bench_lib_wanted(const struct bench_run_cfg *c, const char *name)
{
	size_t n = strlen(name);

	if (!c->only_libs)
		return true;
	for (const char *s = c->only_libs; (s = strstr(s, name)); s += n)
		if ((s == c->only_libs || s[-1] == ',') &&
		    (s[n] == ',' || s[n] == '\0'))
			return true;
	return false;
}

/*
 * handoff_ns -- how long one cache line takes to travel from one core to
 * another right now: two threads hand a counter back and forth, and the
 * one-way time is the total over the number of hand-overs (the least of
 * five probes). On the project's shared VMs this moves between about 60
 * and 235 ns over a day (where the host puts the two vCPUs), and every
 * 2-thread row moves with it: a put touches a few lines the other thread
 * wrote. Printed with each multi-thread row so that runs can be compared.
 */
#define HANDOFF_ROUNDS 10000
static _Alignas(64) _Atomic uint64_t handoff_word;
static _Alignas(64) _Atomic int handoff_ready;

/* handoff_turns -- take every other turn from @first: wait for it, pass */
static void handoff_turns(uint64_t first)
{
	for (uint64_t i = first; i < 2 * HANDOFF_ROUNDS; i += 2) {
		while (atomic_load_explicit(&handoff_word,
					    memory_order_acquire) != i)
			;
		atomic_store_explicit(&handoff_word, i + 1,
				      memory_order_release);
	}
}

static void *handoff_peer(void *arg)
{
	(void)arg;
	pin_nth(&bench_cpus, 1);
	atomic_store(&handoff_ready, 1);
	handoff_turns(1);
	return NULL;
}

static double handoff_once(void)
{
	pthread_t t;
	uint64_t t0;

	atomic_store(&handoff_word, 0);
	atomic_store(&handoff_ready, 0);
	if (pthread_create(&t, NULL, handoff_peer, NULL))
		return 0;
	/* time the hand-overs only: the peer's start may take a while */
	while (!atomic_load(&handoff_ready))
		;
	t0 = bench_now_ns();
	handoff_turns(0);
	while (atomic_load_explicit(&handoff_word, memory_order_acquire) !=
	       2 * HANDOFF_ROUNDS)
		;
	double ns = (double)(bench_now_ns() - t0) / (2.0 * HANDOFF_ROUNDS);
	pthread_join(t, NULL);
	return ns;
}

/*
 * the least of a few short probes, the two threads pinned to two CPUs (the
 * scheduler may otherwise put both on one, and a preempted thread
 * inflates a probe); the caller's affinity is restored after
 */
static double handoff_ns(void)
{
	double best = 0;

	/* the CPUs the process may use, read at start (bench_cpus) */
	if (bench_ncpus < 2)
		return 0;
	pin_nth(&bench_cpus, 0);
	for (int k = 0; k < 5; k++) {
		double v = handoff_once();
		if (v > 0 && (best == 0 || v < best))
			best = v;
	}
	sched_setaffinity(0, sizeof(bench_cpus), &bench_cpus);
	return best;
}

#define MAX_LIBS 8
#define MAX_REPS 15

void bench_run_rows(const struct bench_run_cfg *c, void *lib_h[],
		    const struct bench_workload *w, int nthreads)
{
	struct row_out out[MAX_LIBS];
	struct bench_row row[MAX_LIBS];
	uint64_t next_i[MAX_LIBS][BENCH_MAX_THREADS];
	struct bench_result res[MAX_LIBS][MAX_REPS], med[MAX_LIBS];
	const struct bench_lib *libv[MAX_LIBS];
	int lib_of[MAX_LIBS];
	bool live[MAX_LIBS];
	int nout = 0, reps = c->reps < 1	  ? 1
			     : c->reps > MAX_REPS ? MAX_REPS
						  : c->reps;
	uint64_t dur = (uint64_t)(c->secs * 1e9);
	double handoff = nthreads > 1 ? handoff_ns() : 0;

	memset(next_i, 0, sizeof(next_i));
	for (int L = 0; L < c->nlibs && L < MAX_LIBS; L++) {
		const struct bench_lib *lib = c->libs[L];
		struct row_out *o = &out[nout];

		if (!lib->supports(w) || !bench_lib_wanted(c, lib->name))
			continue;
		memset(o, 0, sizeof(*o));
		memset(&row[nout], 0, sizeof(row[nout]));
		row[nout].w = w;
		row[nout].nthreads = nthreads;
		o->w = w;
		o->threads = nthreads;
		o->lib = lib;
		lib_of[nout] = L;
		live[nout] = false;
		nout++;
		if (!lib_h[L]) {
			o->r.rc = -ENODEV;
			snprintf(o->r.err, sizeof(o->r.err),
				 "library's pool could not be opened");
			continue;
		}
		o->r.rc = lib->prepare(lib_h[L], &row[nout - 1], o->r.err,
				       sizeof(o->r.err));
		live[nout - 1] = o->r.rc == 0;
	}
	/* a warm-up of a quarter of a run, then the runs */
	for (int k = -1; k < reps; k++) {
		for (int j = 0; j < nout; j++) {
			struct bench_result warm,
			    *rp = k < 0 ? &warm : &res[j][k];
			uint64_t ops = c->ops;

			if (!live[j])
				continue;
			if (k < 0)
				ops = ops ? (ops + 3) / 4 : 0;
			run_once(out[j].lib, &row[j], ops,
				 k < 0 ? dur / 4 : dur, next_i[j], rp);
			if (rp->rc) {
				out[j].r = *rp;
				live[j] = false;
				out[j].lib->finish(lib_h[lib_of[j]], &row[j]);
			}
		}
	}
	for (int j = 0; j < nout; j++) {
		if (!live[j]) {
			med[j] = out[j].r;
			continue;
		}
		out[j].lib->finish(lib_h[lib_of[j]], &row[j]);
		bench_median(res[j], reps, &med[j]);
	}
	for (int j = 0; j < nout; j++)
		libv[j] = out[j].lib;
	bench_report_rows(c, w, nthreads, libv, med, nout, handoff);
}

void bench_median(struct bench_result *res, int n, struct bench_result *out)
{
	double cpu[MAX_REPS];

	if (n > MAX_REPS)
		n = MAX_REPS;
	for (int k = 0; k < n; k++)
		cpu[k] = res[k].cpu_ns_op;
	qsort(cpu, (size_t)n, sizeof(cpu[0]), cmp_double);
	qsort(res, (size_t)n, sizeof(res[0]), cmp_res);
	*out = res[n / 2];
	out->cpu_ns_op = cpu[n / 2];
}

void bench_report_rows(const struct bench_run_cfg *c,
		       const struct bench_workload *w, int nthreads,
		       const struct bench_lib *const *libv,
		       const struct bench_result *res, int n, double handoff)
{
	double daxo_ops = 0, daxo_cpu = 0;
	struct row_out out;

	for (int j = 0; j < n; j++)
		if (!res[j].rc && !strcmp(libv[j]->name, "daxo")) {
			daxo_ops = res[j].ops_s;
			daxo_cpu = res[j].cpu_ns_op;
		}
	for (int k = 0; k < n; k++) {
		memset(&out, 0, sizeof(out));
		out.w = w;
		out.threads = nthreads;
		out.lib = libv[k];
		out.r = res[k];
		if (strcmp(libv[k]->name, "daxo") && daxo_ops > 0 &&
		    daxo_cpu > 0 && !res[k].rc && res[k].ops_s > 0) {
			out.ratio = daxo_ops / res[k].ops_s;
			out.cpu_ratio = res[k].cpu_ns_op / daxo_cpu;
		}
		out.handoff = handoff;
		add_row(&out);
		if (!c->json)
			print_row_text(c, &out);
	}
	if (!c->json && !c->markdown && handoff > 0)
		printf("%-15s %3s  (a cache line took %.0f ns from core to "
		       "core before this row)\n",
		       "", "", handoff);
}
