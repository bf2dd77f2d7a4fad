/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_main.c -- daxo-bench: the same work on libdaxo and on libpmemobj
 * 1.12, each on its own pool, in one run, printed as one table.
 *
 * For every workload and thread count the runner prepares each library
 * (objects, preloaded keys), runs a warm-up, then three timed runs, and
 * reports the run with the median throughput: ops/s over all threads, ns/op
 * (the mean time one thread spends on one op), fences/op and flushed cache
 * lines/op, and the ratio of daxo's throughput to the other library's. Each
 * thread works on its own objects and keys. Rows run for a fixed time
 * (--time) or a fixed number of ops per thread (--ops).
 *
 * Exit status: 0 when every row ran (rows the library reports as errors are
 * printed as "error: ..." and do not change the status), 1 when a pool
 * could not be made, 2 on a usage error.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpmem.h>

#include "bench.h"

#define MAX_LIBS 3
#define REPS	 3

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* the key of thread @tid, index @idx, for workload @w: exactly 16 bytes */
void bench_key(char key[16], const struct bench_workload *w, int tid,
	       uint64_t idx)
{
	char tmp[32];
	char cls = w->vsize <= 64 ? 's' : w->vsize <= 1024 ? 'm' : 'l';

	snprintf(tmp, sizeof(tmp), "%c%02d%013" PRIu64, cls, tid % 100,
		 (uint64_t)(idx % 10000000000000ull));
	memcpy(key, tmp, 16);
}

void *bench_buf(size_t len)
{
	return aligned_alloc(64, (len + 63) & ~(size_t)63);
}

int bench_vclass(const struct bench_workload *w)
{
	return w->vsize <= 64 ? 0 : w->vsize <= 1024 ? 1 : 2;
}

static unsigned char bench_loaded[3][BENCH_MAX_THREADS];

void bench_note_loaded(const struct bench_workload *w, int tid)
{
	bench_loaded[bench_vclass(w)][tid] = 1;
}

int bench_was_loaded(int cls, int tid)
{
	return bench_loaded[cls][tid];
}

/* op number @i -> key index: an odd multiplier permutes a power of two */
uint64_t bench_key_index(const struct bench_workload *w, uint64_t i)
{
	return (i * 2654435761ull) & (w->nkeys - 1);
}

void bench_fill(void *buf, size_t len, uint64_t seed)
{
	unsigned char *b = buf;

	for (size_t k = 0; k < len; k++)
		b[k] = (unsigned char)(seed + k * 131);
}

/* pool files to remove if the run is interrupted */
static char *pool_paths[8];

static void on_signal(int sig)
{
	for (size_t k = 0; k < sizeof(pool_paths) / sizeof(pool_paths[0]); k++)
		if (pool_paths[k])
			unlink(pool_paths[k]);
	signal(sig, SIG_DFL);
	raise(sig);
}

char *bench_pool_path(const char *dir, const char *lib, const char *what)
{
	char *s = NULL;

	if (asprintf(&s, "%s/daxo-bench-%d-%s-%s.pool", dir, (int)getpid(), lib,
		     what) < 0)
		return NULL;
	for (size_t k = 0; k < sizeof(pool_paths) / sizeof(pool_paths[0]); k++)
		if (!pool_paths[k]) {
			pool_paths[k] = strdup(s);
			break;
		}
	return s;
}

/* ---- configuration ---- */

struct cfg {
	const char *dir;
	int threads[8];
	int nthreads_list;
	uint64_t ops; /* per thread per run; 0 = timed */
	double secs;  /* per timed run */
	bool quick, json;
	const char *only;
	const char *libs; /* comma-separated library names, or NULL: all */
	uint64_t pool_size;
	uint64_t open_objs;
	uint64_t open_size;
	bool open_bench;
};

static struct bench_workload workloads[] = {
    {"tx-1field-undo", W_TX_UNDO, 0, 0},
    {"tx-1field-redo", W_TX_REDO, 0, 0},
    {"alloc+free-64B", W_ALLOC_FREE, 0, 0},
    {"tx-alloc-link", W_TX_ALLOC_LINK, 0, 0},
    {"tx-1KiB-undo", W_TX_1K_UNDO, 0, 0},
    {"tx-1KiB-redo", W_TX_1K_REDO, 0, 0},
    {"put-64B", W_PUT, 64, 65536},
    {"put-1KiB", W_PUT, 1024, 16384},
    {"put-64KiB", W_PUT, 65536, 512},
    {"get-64B", W_GET, 64, 65536},
    {"get-1KiB", W_GET, 1024, 16384},
    {"get-64KiB", W_GET, 65536, 512},
};
#define NWORK (sizeof(workloads) / sizeof(workloads[0]))

const struct bench_workload *bench_class_workload(int cls)
{
	for (size_t k = 0; k < NWORK; k++)
		if (workloads[k].kind == W_PUT &&
		    bench_vclass(&workloads[k]) == cls)
			return &workloads[k];
	return NULL;
}

static const struct bench_lib *const libs[MAX_LIBS] = {
    &bench_lib_daxo,
    &bench_lib_pmemobj,
    &bench_lib_volatile,
};

/* ---- one timed run of one row ---- */

struct run;

struct worker {
	pthread_t th;
	struct run *run;
	int tid;
	uint64_t ops, t0, t1, cpu_ns; /* t0, t1: CLOCK_MONOTONIC ns */
	struct bench_counts c, pc; /* library's counters, libpmem's */
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

struct result {
	double ops_s, ns_op, cpu_ns_op, fences_op, lines_op, pfences_op,
	    plines_op;
	int rc;
	char err[256];
};

/* CPU time of the calling thread: what it costs, whatever the load */
static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* DAXO_BENCH_TRACE=1: mark the measured loops for fence_trace.c */
static bool bench_trace;

static bool pin_nth(const cpu_set_t *allowed, int n);
/*
 * Worker thread t runs on the (t mod n)-th of the n CPUs the process may
 * use (--no-pin: wherever the scheduler puts it), so every library's row
 * runs on the same CPUs: on a VM whose vCPUs are not equally fast at a
 * given moment, unpinned rows of one workload landed on different ones
 * and their ratio moved by 2x.
 */
static bool bench_pin = true;
static cpu_set_t bench_cpus;
static int bench_ncpus;

static void *worker_main(void *arg)
{
	struct worker *wk = arg;
	struct run *run = wk->run;
	int (*op)(void *, uint64_t) = run->row->op;
	void *tctx = run->row->tctx[wk->tid];
	uint64_t base = run->next_i[wk->tid];
	struct bench_counts c0, c1, p0, p1;
	uint64_t i = 0;

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
	uint64_t cpu0 = thread_cpu_ns();
	uint64_t t0 = bench_now_ns(), deadline = 0;

	if (!run->ops) {
		uint64_t mine = t0 + run->dur_ns;

		/* the first thread sets it; a failed exchange loads it */
		if (atomic_compare_exchange_strong(&run->deadline, &deadline,
						   mine))
			deadline = mine;
	}

	for (;;) {
		if (run->ops && i == run->ops)
			break;
		int rc = op(tctx, base + i);

		if (rc) {
			wk->rc = rc;
			snprintf(wk->err, sizeof(wk->err), "%s",
				 run->lib->errmsg());
			break;
		}
		i++;
		if (!run->ops && (i & 15) == 0 && bench_now_ns() >= deadline)
			break;
	}
	wk->t0 = t0;
	wk->t1 = bench_now_ns();
	wk->cpu_ns = thread_cpu_ns() - cpu0;
	run->lib->counts(&c1);
	pmem_count_get(&p1);
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
		     struct result *res)
{
	struct run run = {.lib = lib,
			  .row = row,
			  .ops = ops,
			  .dur_ns = dur_ns,
			  .next_i = next_i};
	uint64_t tops = 0, tns, tcpu = 0, first = UINT64_MAX, last = 0;
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
			fprintf(stderr, "daxo-bench: pthread_create failed\n");
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
}

static int cmp_res(const void *a, const void *b)
{
	const struct result *x = a, *y = b;

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
	struct result r;
	double ratio;	  /* daxo / this library, 0 if none */
	double cpu_ratio; /* the same by CPU time per op */
	double handoff;	  /* core-to-core handoff before the row, ns (0: 1 thread) */
};

static struct row_out *rows;
static double load_start;
static double fc_line = -1, fc_empty = -1; /* fence_cost() results */
static double loadavg(void);
static size_t nrows, caprows;

static void add_row(const struct row_out *r)
{
	if (nrows == caprows) {
		caprows = caprows ? caprows * 2 : 64;
		rows = realloc(rows, caprows * sizeof(*rows));
		if (!rows) {
			fprintf(stderr, "daxo-bench: out of memory\n");
			exit(1);
		}
	}
	rows[nrows++] = *r;
}

static void fmt_count(char *buf, size_t len, const struct bench_lib *lib,
		      double v)
{
	if (lib == &bench_lib_pmemobj && !pmem_count_active())
		snprintf(buf, len, "n/a");
	else
		snprintf(buf, len, "%.2f", v);
}

/* --markdown: the table as a Markdown table (for README) */
static bool markdown;

static void print_row_text(const struct row_out *o)
{
	char f[32], l[32], ratio[32] = "";

	if (markdown) {
		if (o->r.rc) {
			printf("| %s | %d | %s | error: %s | | | | | |\n",
			       o->w->name, o->threads, o->lib->name, o->r.err);
			return;
		}
		fmt_count(f, sizeof(f), o->lib, o->r.fences_op);
		fmt_count(l, sizeof(l), o->lib, o->r.lines_op);
		if (o->ratio > 0)
			snprintf(ratio, sizeof(ratio), "%.2fx / %.2fx",
				 o->ratio, o->cpu_ratio);
		printf("| %s | %d | %s | %.0f | %.1f | %.1f | %s | %s | %s |\n",
		       o->w->name, o->threads, o->lib->name, o->r.ops_s,
		       o->r.ns_op, o->r.cpu_ns_op, f, l, ratio);
		return;
	}
	if (o->r.rc) {
		printf("%-15s %3d  %-9s error: %s\n", o->w->name, o->threads,
		       o->lib->name, o->r.err);
		fflush(stdout);
		return;
	}
	fmt_count(f, sizeof(f), o->lib, o->r.fences_op);
	fmt_count(l, sizeof(l), o->lib, o->r.lines_op);
	if (o->ratio > 0)
		snprintf(ratio, sizeof(ratio), "%.2fx %.2fx", o->ratio,
			 o->cpu_ratio);
	printf("%-15s %3d  %-9s %11.0f %9.1f %9.1f %9s %9s %14s\n", o->w->name,
	       o->threads, o->lib->name, o->r.ops_s, o->r.ns_op, o->r.cpu_ns_op,
	       f, l, ratio);
	fflush(stdout);
}

static void json_str(const char *s)
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

struct open_res {
	const char *lib;
	double ms;
	int rc;
	char err[256];
};

static void print_json(const struct cfg *c, const struct open_res *o, int nopen)
{
	printf("{\"config\": {\"pool_dir\": ");
	json_str(c->dir);
	printf(", \"ops\": %" PRIu64 ", \"time_s\": %.3f, \"quick\": %s, "
	       "\"repeats\": %d, \"pmem_counting\": %s, "
	       "\"loadavg_start\": %.2f, \"loadavg_end\": %.2f, "
	       "\"cpus\": %ld, \"fence_with_line_cpu_ns\": %.1f, "
	       "\"fence_alone_cpu_ns\": %.1f},\n",
	       c->ops, c->secs, c->quick ? "true" : "false", REPS,
	       pmem_count_active() ? "true" : "false", load_start, loadavg(),
	       sysconf(_SC_NPROCESSORS_ONLN), fc_line, fc_empty);
	printf(" \"rows\": [\n");
	for (size_t k = 0; k < nrows; k++) {
		const struct row_out *r = &rows[k];

		printf("  {\"workload\": ");
		json_str(r->w->name);
		printf(", \"threads\": %d, \"library\": ", r->threads);
		json_str(r->lib->name);
		if (r->r.rc) {
			printf(", \"error\": ");
			json_str(r->r.err);
		} else {
			printf(", \"ops_per_s\": %.1f, \"ns_per_op\": %.2f, "
			       "\"cpu_ns_per_op\": %.2f, "
			       "\"fences_per_op\": %.4f, "
			       "\"lines_per_op\": %.4f, "
			       "\"libpmem_fences_per_op\": %.4f, "
			       "\"libpmem_lines_per_op\": %.4f",
			       r->r.ops_s, r->r.ns_op, r->r.cpu_ns_op,
			       r->r.fences_op, r->r.lines_op, r->r.pfences_op,
			       r->r.plines_op);
			if (r->handoff > 0)
				printf(", \"handoff_ns\": %.1f", r->handoff);
			if (bench_ncpus > 0 && r->threads > bench_ncpus)
				printf(", \"oversubscribed\": true");
			printf(", \"count_source\": ");
			json_str(r->lib->count_source);
			if (r->ratio > 0)
				printf(", \"daxo_ratio\": %.4f, "
				       "\"daxo_cpu_ratio\": %.4f",
				       r->ratio, r->cpu_ratio);
		}
		printf("}%s\n", k + 1 < nrows ? "," : "");
	}
	printf(" ],\n \"open\": [");
	for (int k = 0; k < nopen; k++) {
		printf("%s{\"library\": ", k ? ", " : "");
		json_str(o[k].lib);
		printf(", \"pool_size\": %" PRIu64 ", \"objects\": %" PRIu64,
		       c->open_size, c->open_objs);
		if (o[k].rc) {
			printf(", \"error\": ");
			json_str(o[k].err);
		} else {
			printf(", \"open_ms\": %.3f", o[k].ms);
		}
		printf("}");
	}
	printf("]}\n");
}

/* the 1-minute load average: the machine may be shared */
static double loadavg(void)
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

static void print_footnotes(const struct cfg *c)
{
	double hmin, hmed, hmax;

	if (handoff_summary(&hmin, &hmed, &hmax))
		printf("\ncore-to-core cache-line handoff (one way), measured "
		       "before each multi-thread row:\n  min %.0f, median %.0f, "
		       "max %.0f ns -- multi-thread rows move with it\n",
		       hmin, hmed, hmax);
	printf("\nload average (1 min) %.2f at start, %.2f at end; %ld CPUs "
	       "online.\n",
	       load_start, loadavg(), sysconf(_SC_NPROCESSORS_ONLN));
	for (int k = 0; k < c->nthreads_list; k++)
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
	       "median of %d runs of %s after a warm-up, the libraries' "
	       "runs interleaved;\neach thread uses its own objects/keys%s.\n",
	       REPS, c->ops ? "a fixed op count" : "a fixed time",
	       bench_pin ? "; worker thread t runs on the process's "
			   "(t mod CPUs)-th CPU"
			 : "");
	printf("fences/op, lines/op: daxo from daxo_stats_thread(); pmemobj "
	       "counted at libpmem's\n"
	       "  entry points (pmem_drain/persist/flush/mem*, which "
	       "libpmemobj 1.12 calls)%s;\n"
	       "  lines = cache lines handed to libpmem to make durable "
	       "(flushed, or written\n"
	       "  non-temporally). bench/fence-trace checks both against the "
	       "executed SFENCEs.\n",
	       pmem_count_active() ? "" : " -- NOT ACTIVE in this build: n/a");
	printf("daxo/x: daxo's throughput divided by this row's (same "
	       "workload and threads), by wall\n"
	       "  clock (ops/s) and by CPU time (this row's cpu-ns/op over "
	       "daxo's).\n"
	       "alloc+free-64B: one op = one atomic alloc and one free "
	       "(daxo_alloc/free; pmemobj_alloc/free).\n"
	       "tx-1field-redo: libpmemobj has no redo-only transaction "
	       "call; its row uses\n"
	       "  pmemobj_set_value + pmemobj_publish (the redo-logged "
	       "action API), the closest equivalent.\n"
	       "tx-1KiB-redo: pmemobj row uses TX_MEMCPY (undo snapshot + "
	       "memcpy): actions set 8-byte values only.\n"
	       "tx-alloc-link: TX_ADD of the root link + pmemobj_tx_zalloc "
	       "+ pmemobj_tx_free vs\n"
	       "  daxo_tx_alloc + daxo_tx_free + daxo_tx_write of the link.\n"
	       "put/get: 16 B keys, each put replaces an existing key's "
	       "value with one of the same length;\n"
	       "  pmemobj and volatile rows use the same chained hash table "
	       "(fixed bucket count, a\n"
	       "  reader-writer lock per bucket, key and value in one "
	       "object) -- bench/pmemobj_kv.c, bench/vol_kv.c.\n"
	       "  Both daxo and pmemobj overwrite a value of up to 1536 B "
	       "in place (daxo: through its redo\n"
	       "  record; pmemobj: TX_BEGIN + pmemobj_tx_add_range of the "
	       "value + memcpy) and put a larger\n"
	       "  one in a new entry (pmemobj: pmemobj_tx_alloc + "
	       "pmemobj_tx_add_range of the link + pmemobj_tx_free).\n");
}

/*
 * fence_cost -- what a fence costs on this machine, as context for the
 * table: CPU ns of (one 8-byte store, pmem_flush of its line, pmem_drain)
 * and of a pmem_drain with nothing flushed, on a small file in @dir.
 */
static int fence_cost(const char *dir, uint64_t n, double *line_ns,
		      double *empty_ns)
{
	char *path = bench_pool_path(dir, "libpmem", "fence");
	size_t len;
	int is_pmem;
	char *p;

	if (!path)
		return -ENOMEM;
	p = pmem_map_file(path, 1 << 20, PMEM_FILE_CREATE | PMEM_FILE_EXCL,
			  0600, &len, &is_pmem);
	unlink(path);
	free(path);
	if (!p)
		return -errno;
	memset(p, 0, len);
	uint64_t t0 = thread_cpu_ns();

	for (uint64_t i = 0; i < n; i++) {
		*(volatile uint64_t *)(p + 4096) = i;
		pmem_flush(p + 4096, 8);
		pmem_drain();
	}
	uint64_t t1 = thread_cpu_ns();

	for (uint64_t i = 0; i < n; i++)
		pmem_drain();
	*line_ns = (double)(t1 - t0) / (double)n;
	*empty_ns = (double)(thread_cpu_ns() - t1) / (double)n;
	pmem_unmap(p, len);
	return is_pmem ? 0 : -ENOTSUP;
}

/* ---- the table ---- */

static int parse_threads(struct cfg *c, const char *s)
{
	char *end;

	c->nthreads_list = 0;
	while (*s) {
		long v = strtol(s, &end, 10);

		if (end == s || v < 1 || v > BENCH_MAX_THREADS ||
		    c->nthreads_list == 8)
			return -1;
		c->threads[c->nthreads_list++] = (int)v;
		s = end;
		if (*s == ',')
			s++;
		else if (*s)
			return -1;
	}
	return c->nthreads_list ? 0 : -1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: daxo-bench [options]\n"
		"  --pool-dir DIR    where the pools go (default /dev/shm)\n"
		"  --threads LIST    thread counts, e.g. 1,2 (default 1,2,4,8; "
		"max %d;\n"
		"                    more threads than CPUs are shown, not "
		"judged)\n"
		"  --ops N           ops per thread per run (default: timed)\n"
		"  --time SEC        length of a timed run (default 0.5)\n"
		"  --quick           short runs and small key sets (CI smoke)\n"
		"  --only SUBSTR     only workloads whose name contains "
		"SUBSTR\n"
		"  --libs LIST       only these of daxo,pmemobj,volatile\n"
		"  --pool-size MIB   size of each library's pool (default "
		"128 per thread, at least 512)\n"
		"  --open-objects N  objects in the open-time pool (default "
		"100000)\n"
		"  --no-open         skip the open-time benchmark\n"
		"  --no-pin          do not pin worker thread t to the t-th CPU\n"
		"  --json            machine-readable output\n"
		"  --markdown        the table as a Markdown table\n"
		"PMEM_IS_PMEM_FORCE=1 is set unless the environment sets it.\n",
		BENCH_MAX_THREADS);
}

static int parse_args(struct cfg *c, int argc, char **argv)
{
	c->dir = "/dev/shm";
	c->threads[0] = 1;
	c->threads[1] = 2;
	c->threads[2] = 4;
	c->threads[3] = 8;
	c->nthreads_list = 4;
	c->secs = 0.5;
	c->pool_size = 512ull << 20;
	c->open_objs = 100000;
	c->open_size = 1ull << 30;
	c->open_bench = true;
	bool secs_set = false, objs_set = false, size_set = false;

	for (int k = 1; k < argc; k++) {
		const char *a = argv[k];
		const char *v = k + 1 < argc ? argv[k + 1] : NULL;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(a, "--quick")) {
			c->quick = true;
		} else if (!strcmp(a, "--json")) {
			c->json = true;
		} else if (!strcmp(a, "--markdown")) {
			markdown = true;
		} else if (!strcmp(a, "--no-pin")) {
			bench_pin = false;
		} else if (!strcmp(a, "--no-open")) {
			c->open_bench = false;
		} else if (!v) {
			fprintf(stderr,
				"daxo-bench: %s: missing value or "
				"unknown option\n",
				a);
			return -1;
		} else if (!strcmp(a, "--pool-dir")) {
			c->dir = v, k++;
		} else if (!strcmp(a, "--threads")) {
			if (parse_threads(c, v)) {
				fprintf(stderr,
					"daxo-bench: bad --threads "
					"'%s'\n",
					v);
				return -1;
			}
			k++;
		} else if (!strcmp(a, "--ops")) {
			c->ops = strtoull(v, NULL, 0), k++;
			if (!c->ops)
				return -1;
		} else if (!strcmp(a, "--time")) {
			c->secs = atof(v), k++, secs_set = true;
			if (c->secs <= 0)
				return -1;
		} else if (!strcmp(a, "--only")) {
			c->only = v, k++;
		} else if (!strcmp(a, "--libs")) {
			c->libs = v, k++;
		} else if (!strcmp(a, "--pool-size")) {
			c->pool_size = strtoull(v, NULL, 0) << 20, k++;
			size_set = true;
			if (c->pool_size < (64ull << 20))
				return -1;
		} else if (!strcmp(a, "--open-objects")) {
			c->open_objs = strtoull(v, NULL, 0), k++;
			objs_set = true;
		} else {
			fprintf(stderr, "daxo-bench: unknown option %s\n", a);
			return -1;
		}
	}
	if (!size_set) {
		/* the put/get rows keep about 60 MiB of keys and values per
		 * thread in each pool */
		int most = 1;

		for (int k = 0; k < c->nthreads_list; k++)
			if (c->threads[k] > most)
				most = c->threads[k];
		if ((uint64_t)most * (128ull << 20) > c->pool_size)
			c->pool_size = (uint64_t)most * (128ull << 20);
	}
	if (c->quick) {
		if (!secs_set)
			c->secs = 0.02;
		if (!size_set)
			c->pool_size = 128ull << 20;
		if (!objs_set)
			c->open_objs = 10000;
		/* small key sets: preloading must stay quick too */
		for (size_t k = 0; k < NWORK; k++)
			if (workloads[k].nkeys)
				workloads[k].nkeys /= 16;
	}
	return 0;
}

static bool lib_wanted(const struct cfg *c, const char *name)
{
	size_t n = strlen(name);

	if (!c->libs)
		return true;
	for (const char *s = c->libs; (s = strstr(s, name)); s += n)
		if ((s == c->libs || s[-1] == ',') &&
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

/*
 * run_row_set -- one workload at one thread count on every library. The
 * libraries' runs are interleaved (daxo, pmemobj, volatile, daxo, ...) so
 * that a change in the machine's load hits them alike.
 */
static void run_row_set(const struct cfg *c, void *lib_h[MAX_LIBS],
			const struct bench_workload *w, int nthreads)
{
	struct row_out out[MAX_LIBS];
	struct bench_row row[MAX_LIBS];
	uint64_t next_i[MAX_LIBS][BENCH_MAX_THREADS];
	struct result res[MAX_LIBS][REPS];
	int lib_of[MAX_LIBS];
	bool live[MAX_LIBS];
	int nout = 0;
	double daxo_ops = 0, daxo_cpu = 0;
	uint64_t dur = (uint64_t)(c->secs * 1e9);
	double handoff = nthreads > 1 ? handoff_ns() : 0;

	memset(next_i, 0, sizeof(next_i));
	for (int L = 0; L < MAX_LIBS; L++) {
		const struct bench_lib *lib = libs[L];
		struct row_out *o = &out[nout];

		if (!lib->supports(w) || !lib_wanted(c, lib->name))
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
	/* a warm-up of a quarter of a run, then REPS rounds */
	for (int k = -1; k < REPS; k++) {
		for (int j = 0; j < nout; j++) {
			struct result warm, *rp = k < 0 ? &warm : &res[j][k];
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
		if (!live[j])
			continue;
		out[j].lib->finish(lib_h[lib_of[j]], &row[j]);
		double cpu[REPS];

		for (int k = 0; k < REPS; k++)
			cpu[k] = res[j][k].cpu_ns_op;
		qsort(cpu, REPS, sizeof(cpu[0]), cmp_double);
		qsort(res[j], REPS, sizeof(res[j][0]), cmp_res);
		out[j].r = res[j][REPS / 2];
		out[j].r.cpu_ns_op = cpu[REPS / 2];
		if (out[j].lib == &bench_lib_daxo) {
			daxo_ops = out[j].r.ops_s;
			daxo_cpu = out[j].r.cpu_ns_op;
		}
	}
	for (int k = 0; k < nout; k++) {
		if (out[k].lib != &bench_lib_daxo && daxo_ops > 0 &&
		    daxo_cpu > 0 && !out[k].r.rc && out[k].r.ops_s > 0) {
			out[k].ratio = daxo_ops / out[k].r.ops_s;
			out[k].cpu_ratio = out[k].r.cpu_ns_op / daxo_cpu;
		}
		out[k].handoff = handoff;
		add_row(&out[k]);
		if (!c->json)
			print_row_text(&out[k]);
	}
	if (!c->json && !markdown && handoff > 0)
		printf("%-15s %3s  (a cache line took %.0f ns from core to "
		       "core before this row)\n", "", "", handoff);
}

int main(int argc, char **argv)
{
	struct cfg c = {0};
	void *lib_h[MAX_LIBS] = {NULL};
	struct open_res ores[2];
	int nopen = 0, status = 0;

	/* before the first libpmem call: libpmem reads it once, lazily */
	setenv("PMEM_IS_PMEM_FORCE", "1", 0);
	if (parse_args(&c, argc, argv)) {
		usage(stderr);
		return 2;
	}
	if (sched_getaffinity(0, sizeof(bench_cpus), &bench_cpus) == 0)
		bench_ncpus = CPU_COUNT(&bench_cpus);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGPIPE, on_signal); /* e.g. `daxo-bench | head` */
	bench_trace = getenv("DAXO_BENCH_TRACE") != NULL;
	load_start = loadavg();
	for (int L = 0; L < MAX_LIBS; L++) {
		char err[256] = "";

		if (!lib_wanted(&c, libs[L]->name))
			continue;
		int rc = libs[L]->open(&lib_h[L], c.dir, c.pool_size, err,
				       sizeof(err));

		if (rc) {
			fprintf(stderr, "daxo-bench: %s: %s\n", libs[L]->name,
				err);
			lib_h[L] = NULL;
			status = 1;
		}
	}
	int fc_rc =
	    fence_cost(c.dir, c.quick ? 20000 : 500000, &fc_line, &fc_empty);

	if (!c.json) {
		if (fc_rc == 0)
			printf("one flushed line + fence via libpmem: %.1f ns "
			       "CPU; a fence alone: %.1f ns\n",
			       fc_line, fc_empty);
		else
			printf("fence cost: %s\n",
			       fc_rc == -ENOTSUP
				   ? "not pmem (PMEM_IS_PMEM_FORCE=0?)"
				   : strerror(-fc_rc));
		printf("daxo-bench: pools in %s, PMEM_IS_PMEM_FORCE=%s, "
		       "%s per run, threads",
		       c.dir, getenv("PMEM_IS_PMEM_FORCE"),
		       c.ops ? "fixed ops" : "fixed time");
		for (int k = 0; k < c.nthreads_list; k++)
			printf("%s%d", k ? "," : " ", c.threads[k]);
		if (markdown)
			printf(
			    "\n\n| workload | threads | library | ops/s | "
			    "ns/op | cpu-ns/op | fences/op | lines/op | "
			    "daxo/x (wall / cpu) |\n"
			    "|---|---:|---|---:|---:|---:|---:|---:|---:|\n");
		else
			printf("\n\n%-15s %3s  %-9s %11s %9s %9s %9s %9s "
			       "%14s\n",
			       "workload", "thr", "library", "ops/s", "ns/op",
			       "cpu-ns/op", "fences/op", "lines/op",
			       "daxo/x wall cpu");
		fflush(stdout);
	}
	for (size_t k = 0; k < NWORK; k++) {
		if (c.only && !strstr(workloads[k].name, c.only))
			continue;
		for (int t = 0; t < c.nthreads_list; t++)
			run_row_set(&c, lib_h, &workloads[k], c.threads[t]);
	}
	for (int L = 0; L < MAX_LIBS; L++)
		if (lib_h[L])
			libs[L]->close(lib_h[L]);

	if (c.open_bench) {
		int reps = 3;

		ores[0].lib = "daxo";
		ores[0].rc = bench_daxo_open_time(
		    c.dir, c.open_size, c.open_objs, reps, &ores[0].ms,
		    ores[0].err, sizeof(ores[0].err));
		ores[1].lib = "pmemobj";
		ores[1].rc = bench_pmemobj_open_time(
		    c.dir, c.open_size, c.open_objs, reps, &ores[1].ms,
		    ores[1].err, sizeof(ores[1].err));
		nopen = 2;
		if (!c.json) {
			printf("\nopen a %" PRIu64 " MiB pool holding %" PRIu64
			       " objects of 64 B (median of %d opens):\n",
			       c.open_size >> 20, c.open_objs, reps);
			for (int k = 0; k < nopen; k++) {
				if (ores[k].rc)
					printf("  %-9s error: %s\n",
					       ores[k].lib, ores[k].err);
				else
					printf("  %-9s %9.3f ms\n", ores[k].lib,
					       ores[k].ms);
			}
		}
	}
	if (c.json)
		print_json(&c, ores, nopen);
	else
		print_footnotes(&c);
	free(rows);
	return status;
}
