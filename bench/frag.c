/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * frag.c -- daxo-frag: how much of a pool the heap can use over the pool's
 * lifetime, for libdaxo and libpmemobj in one run. Deterministic: no
 * timing, a seeded generator, one thread; every figure is bytes.
 *
 * Scenarios, each on a fresh pool of --pool-size MiB (default 256):
 *
 *   fill-64       allocate 64-byte objects until the first -ENOSPC:
 *                 density = 64 x objects / pool size. Then free them all
 *                 and measure what is usable again (below).
 *   churn         sizes log-uniform in [32 B, 256 KiB]; allocate up to
 *                 --live percent (60) of the pool in requested bytes, then
 *                 --ops (1,000,000) operations keeping it there (allocate
 *                 while below, else free a random live object), then
 *                 allocate until 100 allocations in a row fail. Reports the
 *                 live share at the first -ENOSPC (during the churn or the
 *                 fill) and after the fill; then frees everything and
 *                 measures what is usable again.
 *   kv-N          16-byte keys with N-byte values (100, 1024, 4096) put until
 *                 the first -ENOSPC: pool bytes per record against the raw
 *                 key + value (daxo_put; libpmemobj: bench/pmemobj_kv.c).
 *
 * "Usable again" after a free-all: for each size of 64 B, 4 KiB, 64 KiB
 * and 1 MiB, objects of that size allocated until -ENOSPC, as a share of
 * the pool (freed again before the next size), and the largest single
 * object (bisection to 64 KiB). The "min" column is the smallest share.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <daxo.h>
#include <libpmemobj.h>

#include "pmemobj_kv.h"

#define MIB (1024ull * 1024)

/* a library under test: the calls the scenarios need */
struct lib {
	const char *name;
	int (*create)(struct lib *l, const char *path, uint64_t size);
	void (*close)(struct lib *l);
	/* 0, -ENOSPC, or another -errno */
	int (*alloc)(struct lib *l, uint64_t size, uint64_t *oid);
	void (*free)(struct lib *l, uint64_t oid);
	int (*put)(struct lib *l, const void *k, size_t kl, const void *v,
		   size_t vl);
	void *h;
	struct pkv *kv;
	uint64_t size;
};

/* ---- daxo ---- */

static int dx_create(struct lib *l, const char *path, uint64_t size)
{
	daxo_pool *p;
	int rc = daxo_create(path, "daxo-frag", size, 0600, &p);

	if (rc) {
		fprintf(stderr, "daxo_create: %s\n", daxo_errormsg());
		return rc;
	}
	l->h = p;
	return 0;
}

static void dx_close(struct lib *l)
{
	daxo_close(l->h);
}

static int dx_alloc(struct lib *l, uint64_t size, uint64_t *oid)
{
	daxo_oid o = 0;
	int rc = daxo_alloc(l->h, size, 1, &o);

	*oid = o;
	return rc;
}

static void dx_free(struct lib *l, uint64_t oid)
{
	daxo_oid o = oid;

	if (daxo_free(l->h, &o) != 0) {
		fprintf(stderr, "daxo_free: %s\n", daxo_errormsg());
		exit(1);
	}
}

static int dx_put(struct lib *l, const void *k, size_t kl, const void *v,
		  size_t vl)
{
	return daxo_put(l->h, k, kl, v, vl);
}

/* ---- libpmemobj ---- */

struct po_root {
	PMEMoid kv;
};

static int po_create(struct lib *l, const char *path, uint64_t size)
{
	PMEMobjpool *pop = pmemobj_create(path, "daxo-frag", size, 0600);

	if (!pop) {
		fprintf(stderr, "pmemobj_create: %s\n", pmemobj_errormsg());
		return -EIO;
	}
	l->h = pop;
	return 0;
}

static void po_close(struct lib *l)
{
	if (l->kv)
		pkv_close(l->kv);
	l->kv = NULL;
	pmemobj_close(l->h);
}

/*
 * Objects are kept by their offset; pmemobj's oids need the pool uuid,
 * which is the same for every object of the pool.
 */
static uint64_t po_uuid;

static int po_alloc(struct lib *l, uint64_t size, uint64_t *oid)
{
	PMEMoid o = OID_NULL;

	if (pmemobj_alloc(l->h, &o, size, 1, NULL, NULL) != 0)
		return errno == ENOMEM ? -ENOSPC : -(errno ? errno : EIO);
	po_uuid = o.pool_uuid_lo;
	*oid = o.off;
	return 0;
}

static void po_free(struct lib *l, uint64_t oid)
{
	PMEMoid o = {po_uuid, oid};

	(void)l;
	pmemobj_free(&o);
}

static int po_put(struct lib *l, const void *k, size_t kl, const void *v,
		  size_t vl)
{
	if (!l->kv) {
		PMEMoid r = pmemobj_root(l->h, sizeof(struct po_root));
		struct po_root *root = pmemobj_direct(r);
		/* a bucket a record at load 1 for the smallest values */
		uint64_t nb = 1;
		while (nb < l->size / 256)
			nb <<= 1;
		int rc = pkv_open(l->h, &root->kv, nb, &l->kv);
		if (rc)
			return rc;
	}
	int rc = pkv_put(l->kv, k, kl, v, vl);
	return rc == -ENOMEM ? -ENOSPC : rc;
}

static struct lib libs[] = {
	{"daxo", dx_create, dx_close, dx_alloc, dx_free, dx_put, NULL, NULL, 0},
	{"pmemobj", po_create, po_close, po_alloc, po_free, po_put, NULL, NULL,
	 0},
};

/* ---- the scenarios ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* log-uniform in [32, 262144] */
static uint64_t churn_size(void)
{
	double u = (double)(rnd() >> 11) / 9007199254740992.0;

	return (uint64_t)llround(32.0 * exp2(u * 13.0));
}

struct objs {
	uint64_t *oid, *size;
	size_t n, cap;
	uint64_t live;
};

static void objs_add(struct objs *o, uint64_t oid, uint64_t size)
{
	if (o->n == o->cap) {
		o->cap = o->cap ? o->cap * 2 : 1024;
		o->oid = realloc(o->oid, o->cap * sizeof(*o->oid));
		o->size = realloc(o->size, o->cap * sizeof(*o->size));
		if (!o->oid || !o->size) {
			perror("realloc");
			exit(1);
		}
	}
	o->oid[o->n] = oid;
	o->size[o->n++] = size;
	o->live += size;
}

static void objs_free_at(struct lib *l, struct objs *o, size_t i)
{
	l->free(l, o->oid[i]);
	o->live -= o->size[i];
	o->oid[i] = o->oid[--o->n];
	o->size[i] = o->size[o->n];
}

static void objs_free_all(struct lib *l, struct objs *o)
{
	/* in allocation order */
	for (size_t i = 0; i < o->n; i++)
		l->free(l, o->oid[i]);
	o->n = 0;
	o->live = 0;
}

static int fail_hard(struct lib *l, int rc, const char *what)
{
	fprintf(stderr, "%s: %s: unexpected error %d (%s)\n", l->name, what,
		rc, l->h == NULL ? "" : strerror(-rc));
	exit(1);
}

/* fill_with -- objects of @size until -ENOSPC; bytes allocated */
static uint64_t fill_with(struct lib *l, struct objs *o, uint64_t size)
{
	uint64_t oid, before = o->live;
	int rc;

	while ((rc = l->alloc(l, size, &oid)) == 0)
		objs_add(o, oid, size);
	if (rc != -ENOSPC)
		fail_hard(l, rc, "fill");
	return o->live - before;
}

struct usable {
	double share[4]; /* 64 B, 4 KiB, 64 KiB, 1 MiB */
	double min;
	double largest;
};

static const uint64_t usable_sizes[4] = {64, 4096, 65536, MIB};

/* usable_again -- what an empty heap (after a free-all) can hold */
static void usable_again(struct lib *l, struct usable *u)
{
	struct objs o = {0};

	u->min = 1.0;
	for (int i = 0; i < 4; i++) {
		uint64_t b = fill_with(l, &o, usable_sizes[i]);
		u->share[i] = (double)b / (double)l->size;
		if (u->share[i] < u->min)
			u->min = u->share[i];
		objs_free_all(l, &o);
	}
	/* the largest single object, to 64 KiB */
	uint64_t lo = 0, hi = l->size;
	while (hi - lo > 65536) {
		uint64_t mid = lo + (hi - lo) / 2, oid;
		int rc = l->alloc(l, mid, &oid);
		if (rc == 0) {
			l->free(l, oid);
			lo = mid;
		} else if (rc == -ENOSPC || rc == -EINVAL) {
			hi = mid;
		} else {
			fail_hard(l, rc, "largest");
		}
	}
	u->largest = (double)lo / (double)l->size;
	free(o.oid);
	free(o.size);
}

struct result {
	double density64;	/* fill-64 */
	struct usable after64;	/* after fill-64 and free-all */
	double first_enospc;	/* churn: live share at the first -ENOSPC */
	double filled;		/* churn: live share after the fill */
	uint64_t enospc_churn;	/* -ENOSPC during the churn itself */
	struct usable afterch;	/* after the churn and free-all */
	double kv_bytes[3];	/* pool bytes per record */
	uint64_t kv_records[3];
};

static const size_t kv_vsizes[3] = {100, 1024, 4096};

static int run_lib(struct lib *l, const char *dir, uint64_t size,
		   uint64_t ops, double live_target, uint64_t seed,
		   struct result *r)
{
	char path[4096];
	struct objs o = {0};
	uint64_t oid;
	int rc;

	snprintf(path, sizeof(path), "%s/daxo-frag-%d-%s.pool", dir,
		 (int)getpid(), l->name);
	l->size = size;

	/* fill-64 */
	unlink(path);
	if ((rc = l->create(l, path, size)) != 0)
		return rc;
	r->density64 = (double)fill_with(l, &o, 64) / (double)size;
	objs_free_all(l, &o);
	usable_again(l, &r->after64);
	l->close(l);
	unlink(path);

	/* churn */
	if ((rc = l->create(l, path, size)) != 0)
		return rc;
	rng_state = seed;
	uint64_t target = (uint64_t)(live_target * (double)size);
	r->first_enospc = -1;
	r->enospc_churn = 0;
	/* up to the target, then ops operations keeping it there */
	for (uint64_t i = 0; i < ops;) {
		bool first = o.live < target && i == 0;
		if (!first)
			i++;
		if (o.live < target || o.n == 0) {
			uint64_t s = churn_size();
			rc = l->alloc(l, s, &oid);
			if (rc == 0) {
				objs_add(&o, oid, s);
				continue;
			}
			if (rc != -ENOSPC)
				fail_hard(l, rc, "churn alloc");
			if (r->first_enospc < 0)
				r->first_enospc = (double)o.live / (double)size;
			r->enospc_churn++;
			if (o.n == 0 || first)
				break;
			/* no room: free one instead, as a program would */
		}
		objs_free_at(l, &o, rnd() % o.n);
	}
	for (unsigned fails = 0; fails < 100;) {
		uint64_t s = churn_size();
		rc = l->alloc(l, s, &oid);
		if (rc == 0) {
			objs_add(&o, oid, s);
			fails = 0;
			continue;
		}
		if (rc != -ENOSPC)
			fail_hard(l, rc, "fill alloc");
		if (r->first_enospc < 0)
			r->first_enospc = (double)o.live / (double)size;
		fails++;
	}
	r->filled = (double)o.live / (double)size;
	objs_free_all(l, &o);
	usable_again(l, &r->afterch);
	l->close(l);
	unlink(path);

	/* kv-N */
	for (int v = 0; v < 3; v++) {
		char key[16], *val = calloc(1, kv_vsizes[v]);
		if ((rc = l->create(l, path, size)) != 0)
			return rc;
		uint64_t n = 0;
		for (;; n++) {
			memset(key, 0, sizeof(key));
			snprintf(key, sizeof(key), "k%014llu", (unsigned long long)n);
			memcpy(val, &n, sizeof(n));
			rc = l->put(l, key, sizeof(key), val, kv_vsizes[v]);
			if (rc == -ENOSPC)
				break;
			if (rc)
				fail_hard(l, rc, "put");
		}
		r->kv_records[v] = n;
		r->kv_bytes[v] = n ? (double)size / (double)n : 0;
		l->close(l);
		unlink(path);
		free(val);
	}
	free(o.oid);
	free(o.size);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: daxo-frag [options]\n"
		"  --pool-dir DIR    where the pools go (default\n"
		"                    $DAXO_TEST_DIR, else /dev/shm)\n"
		"  --pool-size MIB   pool size (default 256)\n"
		"  --ops N           churn operations (default 1000000)\n"
		"  --live PCT        live share during the churn (default 60)\n"
		"  --seed N          generator seed (default 1)\n"
		"  --libs a,b        daxo,pmemobj (default both)\n"
		"  --quick           32 MiB pools, 20000 ops (a smoke run)\n"
		"  --json            one JSON object per library\n");
}

static void pct(char *b, size_t n, double v)
{
	if (v < 0)
		snprintf(b, n, "none");
	else
		snprintf(b, n, "%.1f%%", v * 100);
}

int main(int argc, char **argv)
{
	const char *dir = getenv("DAXO_TEST_DIR"), *only = "daxo,pmemobj";
	uint64_t size = 256 * MIB, ops = 1000000, seed = 1;
	double live = 0.60;
	bool json = false;

	if (!dir || !*dir)
		dir = "/dev/shm";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--pool-dir") && v) {
			dir = v, i++;
		} else if (!strcmp(a, "--pool-size") && v) {
			size = strtoull(v, NULL, 0) * MIB, i++;
		} else if (!strcmp(a, "--ops") && v) {
			ops = strtoull(v, NULL, 0), i++;
		} else if (!strcmp(a, "--live") && v) {
			live = strtod(v, NULL) / 100, i++;
		} else if (!strcmp(a, "--seed") && v) {
			seed = strtoull(v, NULL, 0), i++;
		} else if (!strcmp(a, "--libs") && v) {
			only = v, i++;
		} else if (!strcmp(a, "--quick")) {
			size = 32 * MIB, ops = 20000;
		} else if (!strcmp(a, "--json")) {
			json = true;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!getenv("PMEM_IS_PMEM_FORCE"))
		setenv("PMEM_IS_PMEM_FORCE", "1", 1);
	if (!json)
		printf("| library | 64 B density | after free-all: 64 B / 4 KiB / "
		       "64 KiB / 1 MiB / largest | churn: live at first "
		       "-ENOSPC | after fill | after free-all: min / largest "
		       "| kv 100 B / 1 KiB / 4 KiB: pool bytes per record "
		       "(x raw) |\n|---|---:|---|---:|---:|---|---|\n");
	int ret = 0;
	for (size_t k = 0; k < sizeof(libs) / sizeof(libs[0]); k++) {
		struct lib *l = &libs[k];
		struct result r;
		char a[5][16];
		if (!strstr(only, l->name))
			continue;
		memset(&r, 0, sizeof(r));
		int rc = run_lib(l, dir, size, ops, live, seed, &r);
		if (rc) {
			fprintf(stderr, "%s: error %d\n", l->name, rc);
			ret = 1;
			continue;
		}
		if (json) {
			printf("{\"library\": \"%s\", \"pool_size\": %llu, "
			       "\"ops\": %llu, \"seed\": %llu, "
			       "\"density64\": %.4f, \"after64\": [%.4f, %.4f, "
			       "%.4f, %.4f], \"after64_largest\": %.4f, "
			       "\"churn_first_enospc\": %.4f, "
			       "\"churn_enospc_during\": %llu, "
			       "\"churn_filled\": %.4f, \"afterch\": [%.4f, "
			       "%.4f, %.4f, %.4f], \"afterch_largest\": %.4f, "
			       "\"kv_records\": [%llu, %llu, %llu], "
			       "\"kv_bytes_per_record\": [%.1f, %.1f, %.1f]}\n",
			       l->name, (unsigned long long)size,
			       (unsigned long long)ops,
			       (unsigned long long)seed, r.density64,
			       r.after64.share[0], r.after64.share[1],
			       r.after64.share[2], r.after64.share[3],
			       r.after64.largest, r.first_enospc,
			       (unsigned long long)r.enospc_churn, r.filled,
			       r.afterch.share[0], r.afterch.share[1],
			       r.afterch.share[2], r.afterch.share[3],
			       r.afterch.largest,
			       (unsigned long long)r.kv_records[0],
			       (unsigned long long)r.kv_records[1],
			       (unsigned long long)r.kv_records[2],
			       r.kv_bytes[0], r.kv_bytes[1], r.kv_bytes[2]);
			continue;
		}
		pct(a[0], 16, r.density64);
		printf("| %s | %s | ", l->name, a[0]);
		for (int i = 0; i < 4; i++) {
			pct(a[0], 16, r.after64.share[i]);
			printf("%s / ", a[0]);
		}
		pct(a[0], 16, r.after64.largest);
		pct(a[1], 16, r.first_enospc);
		pct(a[2], 16, r.filled);
		pct(a[3], 16, r.afterch.min);
		pct(a[4], 16, r.afterch.largest);
		printf("%s | %s | %s | %s / %s | ", a[0], a[1], a[2], a[3],
		       a[4]);
		for (int v = 0; v < 3; v++)
			printf("%.0f (%.2fx)%s", r.kv_bytes[v],
			       r.kv_bytes[v] / (double)(16 + kv_vsizes[v]),
			       v < 2 ? " / " : " |\n");
	}
	return ret;
}
