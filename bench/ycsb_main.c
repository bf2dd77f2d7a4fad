/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ycsb_main.c -- daxo-ycsb: YCSB's core workloads A, B, C and F over daxo's
 * keyed store, a libpmemobj hash table written the idiomatic PMDK way
 * (bench/pmemobj_kv.c), LMDB and RocksDB, side by side in one run, every
 * update durable when it returns.
 *
 * As in YCSB (Cooper et al., SoCC'10, and its core workload files):
 *   A  50% reads, 50% updates          (update heavy)
 *   B  95% reads,  5% updates          (read mostly)
 *   C 100% reads                       (read only)
 *   F  50% reads, 50% read-modify-write
 * Keys are "user" and 20 digits of the FNV-1a hash of the record number (24
 * bytes); each record is one value of --values bytes (100 and 1024 by
 * default) -- one field where YCSB's default has ten of 100 bytes. An update
 * replaces the whole value with one of the same length; a read-modify-write
 * reads it, changes it and puts it back. Requests pick records from a
 * zipfian distribution (theta 0.99, YCSB's default) over record ranks, the
 * ranks scattered over the key space by FNV-1a (YCSB's "scrambled
 * zipfian"), with Gray et al.'s generator ("Quickly generating
 * billion-record synthetic databases", SIGMOD'94), as YCSB's
 * ZipfianGenerator.
 *
 * Each worker thread replays its own trace of requests, generated before
 * the timed runs (a different seed per thread), so that the timed loop is
 * the stores' work and not the generator's (pow() per request). Every
 * thread draws from the whole key space: threads share records, as YCSB's
 * do. Every value read is checked (length, and the record number it
 * carries), so a store that returned the wrong record fails the row.
 *
 * For each value size the stores are created empty, loaded with every
 * record (one durable put each, one thread; reported, then settled with
 * the store's `loaded` step), and then each workload runs at each thread
 * count through bench_run.c: a warm-up and three timed runs per store,
 * interleaved, the median kept.
 *
 * Exit status: 0 when every row ran (row errors are printed and do not
 * change it), 1 when a store could not be made or loaded, 2 on a usage
 * error.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ycsb.h"

#define KLEN 24

/* request kinds in a trace entry's low two bits; the record number above */
enum { OP_READ, OP_UPDATE, OP_RMW };

struct mix {
	char name;
	double read, update; /* the rest is read-modify-write */
	const char *what;
};

static const struct mix mixes[] = {
    {'A', 0.50, 0.50, "50% reads, 50% updates"},
    {'B', 0.95, 0.05, "95% reads, 5% updates"},
    {'C', 1.00, 0.00, "100% reads"},
    {'F', 0.50, 0.00, "50% reads, 50% read-modify-write"},
};
#define NMIX (sizeof(mixes) / sizeof(mixes[0]))

/* what a row's workload carries to the stores (bench_workload.spec) */
struct ycsb_spec {
	const struct mix *mix;
	size_t vsize;
	unsigned batch; /* most consecutive reads per store call */
	uint32_t *trace[BENCH_MAX_THREADS];
	uint64_t mask; /* trace length - 1 */
};

struct cfg {
	struct bench_run_cfg run;
	const char *dir;
	int max_threads;
	size_t values[4];
	int nvalues;
	uint64_t records;
	uint64_t trace_ops; /* per thread, a power of two */
	unsigned batch;	    /* --batch */
	double theta;
	const char *workloads;
	bool quick;
};

/* ---- keys, values, the zipfian generator ---- */

static char *keys; /* records x KLEN bytes */

/* fnv64 -- YCSB's fnvhash64: FNV-1a over the 8 bytes of @v, made positive */
static uint64_t fnv64(uint64_t v)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (int i = 0; i < 8; i++) {
		h ^= v & 0xff;
		v >>= 8;
		h *= 0x100000001b3ull;
	}
	return (uint64_t)llabs((long long)h);
}

static int make_keys(uint64_t n)
{
	char tmp[32];

	keys = malloc(n * KLEN);
	if (!keys)
		return -ENOMEM;
	for (uint64_t k = 0; k < n; k++) {
		snprintf(tmp, sizeof(tmp), "user%020" PRIu64, fnv64(k));
		memcpy(keys + k * KLEN, tmp, KLEN);
	}
	return 0;
}

/*
 * A value: its version (changed by every update) in bytes 0-7, its record
 * number in bytes 8-15 (checked by every read), then a fill.
 */
static void make_value(unsigned char *v, size_t len, uint64_t rec,
		       uint64_t version)
{
	memcpy(v, &version, 8);
	memcpy(v + 8, &rec, 8);
	for (size_t k = 16; k < len; k++)
		v[k] = (unsigned char)(rec * 31 + k);
}

/* splitmix64: each trace's own random stream */
static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double rnd01(uint64_t *s)
{
	return (double)(rnd(s) >> 11) * (1.0 / 9007199254740992.0);
}

struct zipf {
	uint64_t n;
	double theta, alpha, zetan, eta, half_pow_theta;
};

static void zipf_init(struct zipf *z, uint64_t n, double theta)
{
	double zeta2 = 1.0 + pow(0.5, theta);

	z->n = n;
	z->theta = theta;
	z->zetan = 0;
	for (uint64_t i = 1; i <= n; i++)
		z->zetan += 1.0 / pow((double)i, theta);
	z->alpha = 1.0 / (1.0 - theta);
	z->eta = (1.0 - pow(2.0 / (double)n, 1.0 - theta)) /
		 (1.0 - zeta2 / z->zetan);
	z->half_pow_theta = pow(0.5, theta);
}

/* zipf_next -- a record rank, 0 the most popular (Gray et al.) */
static uint64_t zipf_next(const struct zipf *z, uint64_t *s)
{
	double u = rnd01(s), uz = u * z->zetan;
	uint64_t r;

	if (uz < 1.0)
		return 0;
	if (uz < 1.0 + z->half_pow_theta)
		return 1;
	r = (uint64_t)((double)z->n * pow(z->eta * u - z->eta + 1.0, z->alpha));
	return r < z->n ? r : z->n - 1;
}

/* make_traces -- every thread's requests for workload @m */
static int make_traces(struct ycsb_spec *sp, const struct cfg *c,
		       const struct zipf *z)
{
	for (int t = 0; t < c->max_threads; t++) {
		uint64_t seed = 0x5eed0000ull + (uint64_t)sp->mix->name * 1000 +
				(uint64_t)t * 7 + sp->vsize;
		uint32_t *tr = sp->trace[t];

		if (!tr) {
			tr = malloc(c->trace_ops * sizeof(*tr));
			if (!tr)
				return -ENOMEM;
			sp->trace[t] = tr;
		}
		for (uint64_t i = 0; i < c->trace_ops; i++) {
			double u = rnd01(&seed);
			uint64_t rec = fnv64(zipf_next(z, &seed)) % c->records;
			int op = u < sp->mix->read ? OP_READ
				 : u < sp->mix->read + sp->mix->update
				     ? OP_UPDATE
				     : OP_RMW;

			tr[i] = (uint32_t)(rec << 2 | (uint64_t)op);
		}
	}
	sp->mask = c->trace_ops - 1;
	return 0;
}

/* ---- the stores as bench_run.c libraries ---- */

struct handle {
	const struct ycsb_store *s;
	void *st;
};

struct yt {
	const struct ycsb_store *s;
	void *tctx;
	const uint32_t *trace;
	uint64_t mask;
	size_t vsize;
	unsigned char *rbuf, *wbuf;
	unsigned batch;		  /* most reads per call (--batch) */
	struct daxo_get_req *req; /* batch of them */
	unsigned char *bbuf;	  /* their buffers, bstride apart */
	size_t bstride;
};

static __thread char y_err[320];

static const char *y_errmsg(void)
{
	return y_err;
}

static int y_fail(const struct yt *t, int rc, const char *what, uint64_t rec)
{
	snprintf(y_err, sizeof(y_err), "%s of record %" PRIu64 ": %s (%d)",
		 what, rec, rc == -ENOENT ? "no such key" : t->s->errmsg(), rc);
	return rc ? rc : -EIO;
}

/* y_check -- a value read for record @rec: its length and record number */
static int y_check(const struct yt *t, uint64_t rec, const unsigned char *v,
		   size_t vlen)
{
	uint64_t got;

	memcpy(&got, v + 8, 8);
	if (vlen == t->vsize && got == rec)
		return 0;
	snprintf(y_err, sizeof(y_err),
		 "read of record %" PRIu64 ": %zu bytes of record %" PRIu64
		 ", expected %zu bytes",
		 rec, vlen, got, t->vsize);
	return -EIO;
}

/* y_read -- read record @rec into t->rbuf and check it */
static int y_read(struct yt *t, uint64_t rec)
{
	size_t vlen = 0;
	int rc = t->s->read(t->tctx, keys + rec * KLEN, KLEN, t->rbuf, t->vsize,
			    &vlen);

	if (rc)
		return y_fail(t, rc, "read", rec);
	return y_check(t, rec, t->rbuf, vlen);
}

/*
 * y_reads -- the reads that start at op @i, up to t->batch of them (the
 * trace's next requests, as long as they are reads), in one read_many
 * call (or a loop of reads for a store without one). Returns how many.
 */
static int y_reads(struct yt *t, uint64_t i)
{
	unsigned n = 0;

	while (n < t->batch && (t->trace[(i + n) & t->mask] & 3) == OP_READ) {
		uint64_t rec = t->trace[(i + n) & t->mask] >> 2;

		t->req[n] = (struct daxo_get_req){
		    .key = keys + rec * KLEN,
		    .klen = KLEN,
		    .buf = t->bbuf + n * t->bstride,
		    .cap = t->vsize,
		};
		n++;
	}
	if (t->s->read_many) {
		int rc = t->s->read_many(t->tctx, t->req, n);

		if (rc)
			return y_fail(t, rc, "batch read", 0);
	} else {
		for (unsigned k = 0; k < n; k++)
			t->req[k].rc = t->s->read(t->tctx, t->req[k].key, KLEN,
						  t->req[k].buf, t->vsize,
						  &t->req[k].vlen);
	}
	for (unsigned k = 0; k < n; k++) {
		uint64_t rec = t->trace[(i + k) & t->mask] >> 2;
		int rc = t->req[k].rc;

		if (rc)
			return y_fail(t, rc, "read", rec);
		rc = y_check(t, rec, t->req[k].buf, t->req[k].vlen);
		if (rc)
			return rc;
	}
	return (int)n;
}

static int y_op(void *arg, uint64_t i)
{
	struct yt *t = arg;
	uint32_t e = t->trace[i & t->mask];
	uint64_t rec = e >> 2, ver;
	int rc;

	if (t->batch > 1 && (e & 3) == OP_READ)
		return y_reads(t, i);
	switch (e & 3) {
	case OP_READ:
		return y_read(t, rec);
	case OP_UPDATE:
		memcpy(t->wbuf, &i, 8);
		memcpy(t->wbuf + 8, &rec, 8);
		rc = t->s->put(t->tctx, keys + rec * KLEN, KLEN, t->wbuf,
			       t->vsize);
		return rc ? y_fail(t, rc, "update", rec) : 0;
	default:
		rc = y_read(t, rec);
		if (rc)
			return rc;
		memcpy(&ver, t->rbuf, 8);
		ver++;
		memcpy(t->rbuf, &ver, 8);
		rc = t->s->put(t->tctx, keys + rec * KLEN, KLEN, t->rbuf,
			       t->vsize);
		return rc ? y_fail(t, rc, "read-modify-write", rec) : 0;
	}
}

static int y_supports(const struct bench_workload *w)
{
	return 1;
}

static void y_finish(void *lib, struct bench_row *r)
{
	struct handle *h = lib;

	for (int k = 0; k < r->nthreads; k++) {
		struct yt *t = r->tctx[k];

		if (!t)
			continue;
		if (t->tctx)
			h->s->thread_fini(h->st, t->tctx);
		free(t->rbuf);
		free(t->wbuf);
		free(t->req);
		free(t->bbuf);
		free(t);
		r->tctx[k] = NULL;
	}
}

static int y_prepare(void *lib, struct bench_row *r, char *err, size_t errlen)
{
	struct handle *h = lib;
	const struct ycsb_spec *sp = r->w->spec;

	for (int k = 0; k < r->nthreads; k++) {
		struct yt *t = calloc(1, sizeof(*t));
		int rc;

		if (!t)
			goto nomem;
		r->tctx[k] = t;
		t->s = h->s;
		t->trace = sp->trace[k];
		t->mask = sp->mask;
		t->vsize = sp->vsize;
		t->rbuf = bench_buf(sp->vsize);
		t->wbuf = bench_buf(sp->vsize);
		t->batch = sp->batch;
		/* each read of a batch into its own line-aligned buffer, as
		 * a single read's */
		t->bstride = (sp->vsize + 63) & ~(size_t)63;
		t->req = calloc(sp->batch, sizeof(*t->req));
		t->bbuf = bench_buf(t->bstride * sp->batch);
		if (!t->rbuf || !t->wbuf || !t->req || !t->bbuf)
			goto nomem;
		make_value(t->wbuf, sp->vsize, 0, 0);
		rc = h->s->thread_init(h->st, &t->tctx, err, errlen);
		if (rc) {
			t->tctx = NULL;
			y_finish(lib, r);
			return rc;
		}
	}
	r->op = y_op;
	return 0;
nomem:
	y_finish(lib, r);
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}

void ycsb_no_counts(struct bench_counts *out)
{
	out->fences = out->lines = 0;
}

/* ---- the load ---- */

struct load_res {
	const char *store;
	size_t vsize;
	double s, fences_op, syncs_op;
	int rc;
	char err[320];
};

static struct load_res loads[32];
static int nloads;

/* load -- put every record once, on this thread, timed; then settle */
static int load(struct handle *h, const struct cfg *c, size_t vsize)
{
	struct load_res *lr = &loads[nloads < 31 ? nloads++ : 31];
	unsigned char *v = bench_buf(vsize);
	struct bench_counts c0, c1;
	void *tctx = NULL;
	uint64_t s0, t0;
	int rc;

	memset(lr, 0, sizeof(*lr));
	lr->store = h->s->name;
	lr->vsize = vsize;
	if (!v)
		return lr->rc = -ENOMEM;
	rc = h->s->thread_init(h->st, &tctx, lr->err, sizeof(lr->err));
	if (rc) {
		free(v);
		return lr->rc = rc;
	}
	h->s->counts(&c0);
	s0 = sync_count_get();
	t0 = bench_now_ns();
	for (uint64_t k = 0; k < c->records; k++) {
		make_value(v, vsize, k, 0);
		rc = h->s->put(tctx, keys + k * KLEN, KLEN, v, vsize);
		if (rc) {
			snprintf(lr->err, sizeof(lr->err),
				 "put of record %" PRIu64 ": %s", k,
				 h->s->errmsg());
			break;
		}
	}
	lr->s = (double)(bench_now_ns() - t0) / 1e9;
	h->s->counts(&c1);
	lr->fences_op = (double)(c1.fences - c0.fences) / (double)c->records;
	lr->syncs_op = (double)(sync_count_get() - s0) / (double)c->records;
	h->s->thread_fini(h->st, tctx);
	free(v);
	if (!rc && h->s->loaded)
		rc = h->s->loaded(h->st, lr->err, sizeof(lr->err));
	return lr->rc = rc;
}

/* ---- options ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: daxo-ycsb [options]\n"
		"  --pool-dir DIR    where the stores go (default\n"
		"                    $DAXO_TEST_DIR, else /dev/shm)\n"
		"  --workloads LIST  letters of A,B,C,F (default ABCF)\n"
		"  --values LIST     value sizes in bytes (default 100,1024)\n"
		"  --records N       records loaded (default 200000)\n"
		"  --zipf THETA      zipfian constant (default 0.99)\n"
		"  --trace-ops N     requests in each thread's trace (a power "
		"of two;\n"
		"                    default 1048576, replayed in a loop)\n"
		"  --batch N         consecutive reads of a trace go to the "
		"store N at a time\n"
		"                    (daxo_get_many, LMDB: one read "
		"transaction, RocksDB: MultiGet;\n"
		"                    pmemobj: a loop); rows named "
		"W-SIZE-bN (default 1: one by one)\n"
		"  --quick           tiny run for the smoke test\n");
	bench_run_usage(f, "--stores LIST", "daxo,pmemobj,lmdb,rocksdb");
	fprintf(f,
		"stores in this build: daxo, pmemobj%s%s\n"
		"PMEM_IS_PMEM_FORCE=1 is set unless the environment sets it.\n",
		&ycsb_lmdb ? ", lmdb" : "", &ycsb_rocksdb ? ", rocksdb" : "");
}

/* parse_values -- a comma-separated list of value sizes */
static int parse_values(struct cfg *c, const char *s)
{
	char *end;

	c->nvalues = 0;
	while (*s) {
		unsigned long v = strtoul(s, &end, 10);

		if (end == s || v < 16 || v > (1ul << 20) || c->nvalues == 4)
			return -1;
		c->values[c->nvalues++] = v;
		s = end;
		if (*s == ',')
			s++;
		else if (*s)
			return -1;
	}
	return c->nvalues ? 0 : -1;
}

static int parse_args(struct cfg *c, int argc, char **argv)
{
	bool recs_set = false, trace_set = false;

	bench_run_defaults(&c->run);
	c->run.syncs = true;
	c->dir = getenv("DAXO_TEST_DIR");
	if (!c->dir || !*c->dir)
		c->dir = "/dev/shm";
	c->values[0] = 100, c->values[1] = 1024;
	c->nvalues = 2;
	c->records = 200000;
	c->trace_ops = 1u << 20;
	c->batch = 1;
	c->theta = 0.99;
	c->workloads = "ABCF";
	for (int k = 1; k < argc; k++) {
		const char *a = argv[k];
		const char *val = k + 1 < argc ? argv[k + 1] : NULL;
		int n = bench_run_option(&c->run, "daxo-ycsb", a, val);

		if (n < 0)
			return -1;
		if (n > 0) {
			k += n - 1;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(a, "--quick")) {
			c->quick = true;
		} else if (!val) {
			fprintf(stderr,
				"daxo-ycsb: %s: missing value or "
				"unknown option\n",
				a);
			return -1;
		} else if (k++, !strcmp(a, "--pool-dir")) {
			c->dir = val;
		} else if (!strcmp(a, "--workloads")) {
			c->workloads = val;
		} else if (!strcmp(a, "--values")) {
			if (parse_values(c, val))
				return -1;
		} else if (!strcmp(a, "--records")) {
			c->records = strtoull(val, NULL, 0), recs_set = true;
			if (c->records < 16 || c->records > (1ull << 30))
				return -1;
		} else if (!strcmp(a, "--batch")) {
			c->batch = (unsigned)strtoul(val, NULL, 0);
			if (c->batch < 1 || c->batch > 64)
				return -1;
		} else if (!strcmp(a, "--zipf")) {
			c->theta = atof(val);
			if (c->theta <= 0 || c->theta >= 1)
				return -1;
		} else if (!strcmp(a, "--trace-ops")) {
			c->trace_ops = strtoull(val, NULL, 0), trace_set = true;
			if (c->trace_ops < 16 || c->trace_ops > (1u << 26) ||
			    (c->trace_ops & (c->trace_ops - 1)))
				return -1;
		} else {
			fprintf(stderr, "daxo-ycsb: unknown option %s\n", a);
			return -1;
		}
	}
	if (!*c->workloads)
		return -1;
	for (const char *w = c->workloads; *w; w++)
		if (!strchr("ABCF", *w))
			return -1;
	if (c->quick) {
		if (!recs_set)
			c->records = 2000;
		if (!c->run.secs_set)
			c->run.secs = 0.02;
		if (!trace_set)
			c->trace_ops = 1u << 12;
		if (!c->run.threads_set)
			c->run.nthreads = 2;
	}
	c->max_threads = bench_max_threads(&c->run);
	return 0;
}

/* ---- output ---- */

static void print_loads_text(size_t vsize)
{
	for (int k = 0; k < nloads; k++) {
		const struct load_res *l = &loads[k];

		if (l->vsize != vsize)
			continue;
		if (l->rc)
			printf("  load %-9s error: %s\n", l->store, l->err);
		else
			printf("  load %-9s %8.3f s, fences/put %.2f, "
			       "syncs/put %.2f\n",
			       l->store, l->s, l->fences_op, l->syncs_op);
	}
}

static void print_json(const struct cfg *c)
{
	printf("{\"config\": {\"program\": \"daxo-ycsb\", \"pool_dir\": ");
	bench_json_str(c->dir);
	printf(", \"records\": %" PRIu64 ", \"key_bytes\": %d, "
	       "\"zipf_theta\": %.3f, \"batch\": %u, \"trace_ops\": %" PRIu64
	       ", \"ops\": %" PRIu64 ", \"time_s\": %.3f, \"quick\": %s, "
	       "\"repeats\": %d, \"loadavg_start\": %.2f, "
	       "\"loadavg_end\": %.2f, \"cpus\": %ld},\n",
	       c->records, KLEN, c->theta, c->batch, c->trace_ops, c->run.ops,
	       c->run.secs, c->quick ? "true" : "false", c->run.reps,
	       bench_load_start, bench_loadavg(),
	       sysconf(_SC_NPROCESSORS_ONLN));
	bench_print_rows_json();
	printf(",\n \"load\": [");
	for (int k = 0; k < nloads; k++) {
		const struct load_res *l = &loads[k];

		printf("%s{\"library\": ", k ? ", " : "");
		bench_json_str(l->store);
		printf(", \"value_bytes\": %zu", l->vsize);
		if (l->rc) {
			printf(", \"error\": ");
			bench_json_str(l->err);
		} else {
			printf(", \"seconds\": %.4f, \"fences_per_put\": %.4f, "
			       "\"syncs_per_put\": %.4f",
			       l->s, l->fences_op, l->syncs_op);
		}
		printf("}");
	}
	printf("]}\n");
}

static void print_notes(const struct cfg *c)
{
	bench_print_run_notes(&c->run);
	printf("workloads (YCSB core): A 50%% reads / 50%% updates, B 95%% / "
	       "5%%, C reads only,\n"
	       "  F 50%% reads / 50%% read-modify-write; %" PRIu64
	       " records, 24-byte keys, one value of the\n"
	       "  row's size per record; zipfian (theta %.2f) over scrambled "
	       "record ranks; threads share\n"
	       "  the records; every read checked. One op = one request "
	       "(a read-modify-write is one op).\n"
	       "every update is durable when it returns: daxo_put; "
	       "pmemobj: a transaction per put\n"
	       "  (bench/pmemobj_kv.c); lmdb: a write transaction per put, "
	       "no MDB_NOSYNC (fdatasync +\n"
	       "  an O_DSYNC meta-page write per commit); rocksdb: "
	       "WriteOptions.sync (the write-ahead log\n"
	       "  synced before the put returns). fences/op and lines/op "
	       "are '-' for stores that do not\n"
	       "  flush CPU caches; syncs/op for those that call fsync.\n",
	       c->records, c->theta);
	if (c->batch > 1)
		printf("-bN rows: consecutive reads of a trace go to the store "
		       "%u at a time: daxo_get_many,\n"
		       "  LMDB one read transaction, RocksDB "
		       "rocksdb_batched_multi_get_cf, pmemobj a loop of "
		       "gets;\n"
		       "  one op is still one request.\n",
		       c->batch);
}

/* ---- main ---- */

static const struct ycsb_store *stores[4];
static struct bench_lib blibs[4];

int main(int argc, char **argv)
{
	struct cfg c = {0};
	struct zipf z;
	const struct bench_lib *libv[4];
	int nst = 0, status = 0;

	/* before the first libpmem call: libpmem reads it once, lazily */
	setenv("PMEM_IS_PMEM_FORCE", "1", 0);
	if (parse_args(&c, argc, argv)) {
		usage(stderr);
		return 2;
	}
	stores[nst++] = &ycsb_daxo;
	stores[nst++] = &ycsb_pmemobj;
	if (&ycsb_lmdb)
		stores[nst++] = &ycsb_lmdb;
	if (&ycsb_rocksdb)
		stores[nst++] = &ycsb_rocksdb;
	for (int k = 0; k < nst; k++) {
		blibs[k] = (struct bench_lib){
		    .name = stores[k]->name,
		    .supports = y_supports,
		    .prepare = y_prepare,
		    .finish = y_finish,
		    .counts = stores[k]->counts,
		    .errmsg = y_errmsg,
		    .count_source = stores[k]->count_source,
		    .counts_libpmem = stores[k]->counts_libpmem,
		};
		libv[k] = &blibs[k];
	}
	c.run.libs = libv;
	c.run.nlibs = nst;
	bench_run_init(&c.run);
	bench_install_signals();
	if (make_keys(c.records)) {
		fprintf(stderr, "daxo-ycsb: out of memory\n");
		return 1;
	}
	zipf_init(&z, c.records, c.theta);
	if (!c.run.json) {
		printf(
		    "daxo-ycsb: stores in %s, PMEM_IS_PMEM_FORCE=%s, %" PRIu64
		    " records, zipfian %.2f, threads",
		    c.dir, getenv("PMEM_IS_PMEM_FORCE"), c.records, c.theta);
		for (int k = 0; k < c.run.nthreads; k++)
			printf("%s%d", k ? "," : " ", c.run.threads[k]);
		printf("\n");
	}
	for (int vi = 0; vi < c.nvalues; vi++) {
		size_t vsize = c.values[vi];
		struct ycsb_params pr = {c.records, KLEN, vsize, c.max_threads};
		struct handle hs[4] = {{0}};
		void *lib_h[4] = {NULL};

		for (int k = 0; k < nst; k++) {
			char err[320] = "";
			int rc;

			if (!bench_lib_wanted(&c.run, stores[k]->name))
				continue;
			hs[k].s = stores[k];
			rc = stores[k]->open(&hs[k].st, c.dir, &pr, err,
					     sizeof(err));
			if (rc) {
				fprintf(stderr, "daxo-ycsb: %s: %s\n",
					stores[k]->name, err);
				status = 1;
				continue;
			}
			if (load(&hs[k], &c, vsize)) {
				fprintf(stderr, "daxo-ycsb: %s: load: %s\n",
					stores[k]->name, loads[nloads - 1].err);
				stores[k]->close(hs[k].st);
				status = 1;
				continue;
			}
			lib_h[k] = &hs[k];
		}
		if (!c.run.json) {
			printf("\n%zu-byte values: loaded %" PRIu64
			       " records, one durable put each, one thread:\n",
			       vsize, c.records);
			print_loads_text(vsize);
			printf("\n");
			bench_print_header(&c.run);
		}
		for (const char *wl = c.workloads; *wl; wl++) {
			struct ycsb_spec sp = {0};
			/* rows keep pointing at it until the output's end */
			struct bench_workload *w = calloc(1, sizeof(*w));
			char name[32];

			if (!w) {
				fprintf(stderr, "daxo-ycsb: out of memory\n");
				return 1;
			}

			for (size_t m = 0; m < NMIX; m++)
				if (mixes[m].name == *wl)
					sp.mix = &mixes[m];
			sp.vsize = vsize;
			sp.batch = c.batch;
			if (make_traces(&sp, &c, &z)) {
				fprintf(stderr, "daxo-ycsb: out of memory\n");
				return 1;
			}
			if (vsize % 1024 == 0)
				snprintf(name, sizeof(name), "%c-%zuKiB", *wl,
					 vsize / 1024);
			else
				snprintf(name, sizeof(name), "%c-%zuB", *wl,
					 vsize);
			if (c.batch > 1)
				snprintf(name + strlen(name),
					 sizeof(name) - strlen(name), "-b%u",
					 c.batch);
			w->name = strdup(name);
			w->vsize = vsize;
			w->nkeys = c.records;
			w->spec = &sp;
			if (!w->name) {
				fprintf(stderr, "daxo-ycsb: out of memory\n");
				return 1;
			}
			for (int t = 0; t < c.run.nthreads; t++)
				bench_run_rows(&c.run, lib_h, w,
					       c.run.threads[t]);
			w->spec = NULL;
			for (int t = 0; t < BENCH_MAX_THREADS; t++)
				free(sp.trace[t]);
		}
		for (int k = 0; k < nst; k++)
			if (lib_h[k])
				stores[k]->close(hs[k].st);
	}
	if (c.run.json)
		print_json(&c);
	else
		print_notes(&c);
	free(keys);
	return status;
}
