/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_main.c -- daxo-bench: the same work on libdaxo and on libpmemobj
 * 1.12, each on its own pool, in one run, printed as one table.
 *
 * For every workload and thread count bench_run.c prepares each library
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
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpmem.h>

#include "bench.h"

/* the key of thread @tid, index @idx, for workload @w: exactly 16 bytes */
void bench_key(char key[16], const struct bench_workload *w, int tid,
	       uint64_t idx)
{
	char tmp[32];
	char cls = w->vary ? 'v' : w->vsize <= 64 ? 's' : w->vsize <= 1024 ? 'm' : 'l';

	snprintf(tmp, sizeof(tmp), "%c%02d%013" PRIu64, cls, tid % 100,
		 (uint64_t)(idx % 10000000000000ull));
	memcpy(key, tmp, 16);
}

int bench_vclass(const struct bench_workload *w)
{
	if (w->vary)
		return 3;
	return w->vsize <= 64 ? 0 : w->vsize <= 1024 ? 1 : 2;
}

size_t bench_put_vlen(const struct bench_workload *w, uint64_t i)
{
	/* key k is put once a round of nkeys ops (bench_key_index): the
	 * preload wrote vsize, round 0 writes vsize - 64, round 1 vsize... */
	if (!w->vary)
		return w->vsize;
	return w->vsize - 64 * (((i / w->nkeys) & 1) ^ 1);
}

static unsigned char bench_loaded[BENCH_NCLASS][BENCH_MAX_THREADS];

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

struct cfg {
	struct bench_run_cfg run;
	const char *dir;
	bool quick;
	const char *only;
	uint64_t pool_size;
	uint64_t open_objs;
	uint64_t open_size;
	bool open_bench;
};

static struct bench_workload workloads[] = {
    {"tx-1field-undo", W_TX_UNDO, 0, 0, NULL, false},
    {"tx-1field-redo", W_TX_REDO, 0, 0, NULL, false},
    {"alloc+free-64B", W_ALLOC_FREE, 0, 0, NULL, false},
    {"tx-alloc-link", W_TX_ALLOC_LINK, 0, 0, NULL, false},
    {"tx-1KiB-undo", W_TX_1K_UNDO, 0, 0, NULL, false},
    {"tx-1KiB-redo", W_TX_1K_REDO, 0, 0, NULL, false},
    {"put-64B", W_PUT, 64, 65536, NULL, false},
    {"put-1KiB", W_PUT, 1024, 16384, NULL, false},
    {"put-64KiB", W_PUT, 65536, 512, NULL, false},
    {"put-1KiB-new", W_PUT, 1024, 16384, NULL, true},
    {"get-64B", W_GET, 64, 65536, NULL, false},
    {"get-1KiB", W_GET, 1024, 16384, NULL, false},
    {"get-64KiB", W_GET, 65536, 512, NULL, false},
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

#define NLIBS 3
static const struct bench_lib *const libs[NLIBS] = {
    &bench_lib_daxo,
    &bench_lib_pmemobj,
    &bench_lib_volatile,
};

static double fc_line = -1, fc_empty = -1; /* fence_cost() results */

struct open_res {
	const char *lib;
	double ms;
	int rc;
	char err[256];
};

static void print_json(const struct cfg *c, const struct open_res *o, int nopen)
{
	printf("{\"config\": {\"pool_dir\": ");
	bench_json_str(c->dir);
	printf(", \"ops\": %" PRIu64 ", \"time_s\": %.3f, \"quick\": %s, "
	       "\"repeats\": %d, \"pmem_counting\": %s, "
	       "\"loadavg_start\": %.2f, \"loadavg_end\": %.2f, "
	       "\"cpus\": %ld, \"fence_with_line_cpu_ns\": %.1f, "
	       "\"fence_alone_cpu_ns\": %.1f},\n",
	       c->run.ops, c->run.secs, c->quick ? "true" : "false",
	       c->run.reps, pmem_count_active() ? "true" : "false",
	       bench_load_start, bench_loadavg(),
	       sysconf(_SC_NPROCESSORS_ONLN), fc_line, fc_empty);
	bench_print_rows_json();
	printf(",\n \"open\": [");
	for (int k = 0; k < nopen; k++) {
		printf("%s{\"library\": ", k ? ", " : "");
		bench_json_str(o[k].lib);
		printf(", \"pool_size\": %" PRIu64 ", \"objects\": %" PRIu64,
		       c->open_size, c->open_objs);
		if (o[k].rc) {
			printf(", \"error\": ");
			bench_json_str(o[k].err);
		} else {
			printf(", \"open_ms\": %.3f", o[k].ms);
		}
		printf("}");
	}
	printf("]}\n");
}

static void print_footnotes(const struct cfg *c)
{
	bench_print_run_notes(&c->run);
	printf("each thread uses its own objects/keys.\n"
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
	       "  put-1KiB-new: with one 64 B shorter or longer, by turns "
	       "(a new entry every put, both libraries);\n"
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
	uint64_t t0 = bench_cpu_now_ns();

	for (uint64_t i = 0; i < n; i++) {
		*(volatile uint64_t *)(p + 4096) = i;
		pmem_flush(p + 4096, 8);
		pmem_drain();
	}
	uint64_t t1 = bench_cpu_now_ns();

	for (uint64_t i = 0; i < n; i++)
		pmem_drain();
	*line_ns = (double)(t1 - t0) / (double)n;
	*empty_ns = (double)(bench_cpu_now_ns() - t1) / (double)n;
	pmem_unmap(p, len);
	return is_pmem ? 0 : -ENOTSUP;
}

/* ---- the table ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: daxo-bench [options]\n"
		"  --pool-dir DIR    where the pools go (default\n"
		"                    $DAXO_TEST_DIR, else /dev/shm)\n"
		"  --quick           short runs and small key sets (CI smoke)\n"
		"  --only SUBSTR     only workloads whose name contains "
		"SUBSTR\n"
		"  --pool-size MIB   size of each library's pool (default "
		"128 per thread, at least 512)\n"
		"  --open-objects N  objects in the open-time pool (default "
		"100000)\n"
		"  --no-open         skip the open-time benchmark\n");
	bench_run_usage(f, "--libs LIST", "daxo,pmemobj,volatile");
	fprintf(f, "PMEM_IS_PMEM_FORCE=1 is set unless the environment sets "
		   "it.\n"
		   "DAXO_BENCH_CHECKSUMS=1: daxo's pools keep value checksums "
		   "(DAXO_CREATE_CHECKSUMS).\n");
}

static int parse_args(struct cfg *c, int argc, char **argv)
{
	bool objs_set = false, size_set = false;

	bench_run_defaults(&c->run);
	c->dir = getenv("DAXO_TEST_DIR");
	if (!c->dir || !*c->dir)
		c->dir = "/dev/shm";
	c->pool_size = 512ull << 20;
	c->open_objs = 100000;
	c->open_size = 1ull << 30;
	c->open_bench = true;
	for (int k = 1; k < argc; k++) {
		const char *a = argv[k];
		const char *v = k + 1 < argc ? argv[k + 1] : NULL;
		int n = bench_run_option(&c->run, "daxo-bench", a, v);

		if (n < 0)
			return -1;
		if (n > 0) {
			k += n - 1;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(a, "--quick")) {
			c->quick = true;
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
		} else if (!strcmp(a, "--only")) {
			c->only = v, k++;
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
	/* the put/get rows keep about 60 MiB of keys and values per thread
	 * in each pool */
	if (!size_set &&
	    (uint64_t)bench_max_threads(&c->run) * (128ull << 20) >
		c->pool_size)
		c->pool_size =
		    (uint64_t)bench_max_threads(&c->run) * (128ull << 20);
	if (c->quick) {
		if (!c->run.secs_set)
			c->run.secs = 0.02;
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

int main(int argc, char **argv)
{
	struct cfg c = {0};
	void *lib_h[NLIBS] = {NULL};
	struct open_res ores[2];
	int nopen = 0, status = 0;

	/* before the first libpmem call: libpmem reads it once, lazily */
	setenv("PMEM_IS_PMEM_FORCE", "1", 0);
	if (parse_args(&c, argc, argv)) {
		usage(stderr);
		return 2;
	}
	c.run.libs = libs;
	c.run.nlibs = NLIBS;
	bench_run_init(&c.run);
	bench_install_signals();
	for (int L = 0; L < NLIBS; L++) {
		char err[256] = "";

		if (!bench_lib_wanted(&c.run, libs[L]->name))
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

	if (!c.run.json) {
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
		       c.run.ops ? "fixed ops" : "fixed time");
		for (int k = 0; k < c.run.nthreads; k++)
			printf("%s%d", k ? "," : " ", c.run.threads[k]);
		printf("\n\n");
		bench_print_header(&c.run);
	}
	for (size_t k = 0; k < NWORK; k++) {
		if (c.only && !strstr(workloads[k].name, c.only))
			continue;
		for (int t = 0; t < c.run.nthreads; t++)
			bench_run_rows(&c.run, lib_h, &workloads[k],
				       c.run.threads[t]);
	}
	for (int L = 0; L < NLIBS; L++)
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
		if (!c.run.json) {
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
	if (c.run.json)
		print_json(&c, ores, nopen);
	else
		print_footnotes(&c);
	return status;
}
