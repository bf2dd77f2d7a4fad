/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench.h -- shared declarations of daxo-bench, the side-by-side benchmark of
 * libdaxo and PMDK's libpmemobj.
 *
 * The program is split by library: bench_daxo.c runs every workload on a daxo
 * pool, bench_pmemobj.c (with pmemobj_kv.c, a chained hash table written the
 * idiomatic PMDK way) on a libpmemobj pool, vol_kv.c is the same hash table in
 * plain malloc memory, pmem_count.c counts fences and flushed cache lines at
 * libpmem's entry points, and bench_main.c runs the table: options, threads,
 * timing, medians and output.
 *
 * A library plugs in as a struct bench_lib. For one row the runner calls
 * prepare() once (objects, preloaded keys), then runs op() on every thread,
 * then finish(). Each thread's op() works only on that thread's own objects
 * or keys, so threads never share data.
 */
#ifndef DAXO_BENCH_H
#define DAXO_BENCH_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* most threads a row may use (root objects have one line per thread) */
#define BENCH_MAX_THREADS 16

/* the workloads, in table order */
enum bench_kind {
	W_TX_UNDO,	 /* one 8-byte field, undo log (add_range + store) */
	W_TX_REDO,	 /* one 8-byte field, redo (daxo_tx_write) */
	W_ALLOC_FREE,	 /* atomic alloc of 64 B then free */
	W_TX_ALLOC_LINK, /* tx: alloc 64 B, free the previous, link from root */
	W_TX_1K_UNDO,	 /* 1 KiB overwrite, undo log (add_range + memcpy) */
	W_TX_1K_REDO,	 /* 1 KiB overwrite, redo (daxo_tx_write) */
	W_PUT,		 /* keyed store: replace a 16 B key's value */
	W_GET,		 /* keyed store: read a 16 B key's value */
	W_KIND_NR,
};

struct bench_workload {
	const char *name;
	enum bench_kind kind;
	size_t vsize;	/* value size for W_PUT/W_GET */
	uint64_t nkeys; /* keys per thread for W_PUT/W_GET */
	const void *spec; /* a program's own description (daxo-ycsb) */
	/*
	 * W_PUT: every put changes the key's value length (vsize - 64 and
	 * vsize in turn), so that each one writes a new entry; such a row
	 * has a key set of its own (value class 3)
	 */
	bool vary;
};

/* value classes of W_PUT/W_GET rows: bench_vclass */
#define BENCH_NCLASS 4
/* bench_put_vlen -- the value length of put @i of row @w */
size_t bench_put_vlen(const struct bench_workload *w, uint64_t i);

/* fences and flushed cache lines, from whichever counter a library has */
struct bench_counts {
	uint64_t fences;
	uint64_t lines;
};

/* one row being run: what the runner hands a library */
struct bench_row {
	const struct bench_workload *w;
	int nthreads;
	/* filled by prepare(): per-thread state passed to op() */
	void *tctx[BENCH_MAX_THREADS];
	/* op number @i: 0 (one op done), n > 0 (ops i..i+n-1 done), or
	 * -errno */
	int (*op)(void *tctx, uint64_t i);
	void *priv;
};

struct bench_lib {
	const char *name;
	/* open the library's pool (or table); 0 or -errno, message in err */
	int (*open)(void **lib, const char *dir, uint64_t size, char *err,
		    size_t errlen);
	void (*close)(void *lib);
	/* whether the library runs this workload at all */
	int (*supports)(const struct bench_workload *w);
	/* set up one row; 0 or -errno with a message in err */
	int (*prepare)(void *lib, struct bench_row *r, char *err,
		       size_t errlen);
	void (*finish)(void *lib, struct bench_row *r);
	/* the calling thread's counters (monotonic) */
	void (*counts)(struct bench_counts *out);
	/* the calling thread's message after op() failed */
	const char *(*errmsg)(void);
	/* where fences/op of this library come from (for the footnotes);
	 * NULL: it has none (shown as "-") */
	const char *count_source;
	/* its counts come from pmem_count.c (n/a when that is not bound) */
	int counts_libpmem;
};

extern const struct bench_lib bench_lib_daxo;
extern const struct bench_lib bench_lib_pmemobj;
extern const struct bench_lib bench_lib_volatile;

/* daxo_count.c: the calling thread's daxo fences and flushed lines */
void bench_daxo_counts(struct bench_counts *out);

/* sync_count.c: the calling thread's fsync-family calls so far */
uint64_t sync_count_get(void);

/* pmem_count.c: the calling thread's libpmem fences and flushed lines */
void pmem_count_get(struct bench_counts *out);
/* whether libpmem calls are being counted (the interposer is bound) */
int pmem_count_active(void);

/* helpers shared by the libraries (bench_main.c) */
void bench_key(char key[16], const struct bench_workload *w, int tid,
	       uint64_t idx);
uint64_t bench_key_index(const struct bench_workload *w, uint64_t i);
void bench_fill(void *buf, size_t len, uint64_t seed);
/*
 * a value buffer, 64-byte aligned: every library copies values into the
 * same kind of buffer (a 64 KiB memcpy here takes 30-60% longer when source
 * and destination differ in alignment within a cache line, and malloc's
 * alignment within a line depends on what was allocated before)
 */
void *bench_buf(size_t len);
/* value class of a put/get workload: 0 (64 B), 1 (1 KiB), 2 (64 KiB),
 * 3 (a vary row) */
int bench_vclass(const struct bench_workload *w);
/*
 * The key sets of (value class, thread) that a persistent library has
 * loaded into its pool so far. The volatile table loads every one of them
 * too, so each get row's tables hold the same keys (daxo's and pmemobj's
 * pools keep the put rows' keys; a table holding fewer is faster).
 */
void bench_note_loaded(const struct bench_workload *w, int tid);
int bench_was_loaded(int cls, int tid);
/* a put/get workload of value class @cls (its key count and value size) */
const struct bench_workload *bench_class_workload(int cls);
/*
 * bench_pool_path -- DIR/daxo-bench-PID-LIB-WHAT.pool, remembered so that
 * an interrupted run removes it (a file, or a flat directory of files);
 * bench_remove_path removes it and forgets it
 */
char *bench_pool_path(const char *dir, const char *lib, const char *what);
void bench_remove_path(const char *path);
/* remove the remembered paths on SIGINT, SIGTERM, SIGHUP, SIGPIPE */
void bench_install_signals(void);

/* open-time benchmark entry points (bench_daxo.c, bench_pmemobj.c) */
int bench_daxo_open_time(const char *dir, uint64_t size, uint64_t nobj,
			 int reps, double *ms, char *err, size_t errlen);
int bench_pmemobj_open_time(const char *dir, uint64_t size, uint64_t nobj,
			    int reps, double *ms, char *err, size_t errlen);

/* nanoseconds from CLOCK_MONOTONIC */
uint64_t bench_now_ns(void);
/* the calling thread's CPU time in nanoseconds */
uint64_t bench_cpu_now_ns(void);

/*
 * bench_run.c -- the runner daxo-bench and daxo-ycsb share: one workload at
 * one thread count on every library, the libraries' runs interleaved (a
 * warm-up, then `reps` runs; the median is kept), rows printed as text,
 * Markdown or kept for JSON, and daxo's throughput over every other
 * library's.
 */
struct bench_run_cfg {
	const struct bench_lib *const *libs; /* in run order */
	int nlibs;
	const char *only_libs; /* comma-separated names, or NULL: all */
	int threads[8];	       /* the thread counts of each workload */
	int nthreads;
	uint64_t ops; /* per thread per run; 0 = timed */
	double secs;  /* per timed run */
	int reps;
	bool json, markdown, pin;
	bool syncs; /* show the syncs/op column (libraries that fsync) */
	bool rounds; /* the notes: rounds of a program's own, no warm-up */
	bool secs_set, threads_set; /* given on the command line */
};

/* threads 1,2,4,8, runs of 0.5 s, 3 of them, pinned */
void bench_run_defaults(struct bench_run_cfg *c);
/*
 * bench_run_option -- parse an option both programs take (--threads,
 * --time, --ops, --libs LIST or --stores LIST, --json, --markdown,
 * --no-pin) at @a with its value @v (NULL if none follows): 1 if it took
 * the option alone, 2 with its value, 0 if @a is not one of them, -1 if
 * the value is bad (said on stderr, prefixed with @prog)
 */
int bench_run_option(struct bench_run_cfg *c, const char *prog, const char *a,
		     const char *v);
/* the --help lines of those options */
void bench_run_usage(FILE *f, const char *libs_opt, const char *libnames);
int bench_max_threads(const struct bench_run_cfg *c);
/* read the CPUs the process may use and DAXO_BENCH_TRACE; once, at start */
void bench_run_init(const struct bench_run_cfg *c);
bool bench_lib_wanted(const struct bench_run_cfg *c, const char *name);
/* run one workload at @nthreads on every wanted library with a handle */
void bench_run_rows(const struct bench_run_cfg *c, void *lib_h[],
		    const struct bench_workload *w, int nthreads);
/* one row's numbers: per op, over all threads of the run */
struct bench_result {
	double ops_s, ns_op, cpu_ns_op, fences_op, lines_op, pfences_op,
	    plines_op, syncs_op;
	int rc; /* 0, or the error the row ended with */
	char err[256];
};
/* bench_median -- the result with the median ops/s of @n (at most 15;
 * sorted in place), with the median CPU time per op */
void bench_median(struct bench_result *res, int n, struct bench_result *out);
/* bench_report_rows -- record and print one workload's rows, one per
 * library, with daxo's throughput over each other library's (for programs
 * that run their own loops: daxo-treemap) */
void bench_report_rows(const struct bench_run_cfg *c,
		       const struct bench_workload *w, int nthreads,
		       const struct bench_lib *const *libv,
		       const struct bench_result *res, int n, double handoff);
/* the table's header line(s) (text or Markdown) */
void bench_print_header(const struct bench_run_cfg *c);
/* ` "rows": [...]` of the JSON output: every row run so far */
void bench_print_rows_json(void);
/* the footnotes both programs print: handoff, load, oversubscription,
 * what the columns mean */
void bench_print_run_notes(const struct bench_run_cfg *c);
void bench_json_str(const char *s);
double bench_loadavg(void);
extern double bench_load_start;
/* CPUs the process may use (0 if unknown) */
int bench_cpu_count(void);

#endif
