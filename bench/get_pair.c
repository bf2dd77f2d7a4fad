/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * get_pair.c -- daxo_get against the volatile table in one process, for
 * A/B comparisons of libdaxo builds on a noisy machine.
 *
 *   get-pair VSIZE NKEYS ROUNDS OPS LIBDAXO.so [LIBDAXO.so ...]
 *
 * dlopens each libdaxo build given, fills a pool of each (in $DAXO_TEST_DIR,
 * default /dev/shm) and bench/vol_kv.c's table with the same NKEYS 16-byte
 * keys of VSIZE bytes, then runs ROUNDS rounds; a round times OPS gets on
 * each build's pool and on the volatile table, one after the other, in
 * daxo-bench's key order, and checks the last value each copied.
 * Prints, per build, the 10th percentile, median and 90th percentile over
 * the rounds of (daxo ns/op) / (volatile ns/op): below 1 is daxo faster.
 * Whole runs of daxo-bench moved a build's ratio by 0.3 on the project's
 * VM; rounds a fraction of a second apart in one process share the
 * machine's state, so builds can be told apart (bench/README.md). The
 * thread is pinned to the first CPU it may run on. NKEYS must be a power
 * of two; pick OPS so that a round lasts 0.1 s or more (warm caches).
 *
 * Several libdaxo builds in one process need room for their initial-exec
 * TLS: the tool re-executes itself with glibc.rtld.optional_static_tls.
 */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daxo.h"
#include "vol_kv.h"

#define MAX_BUILDS 8
#define MAX_ROUNDS 1000
#define TUNABLE	   "glibc.rtld.optional_static_tls=65536"

struct build {
	const char *so;
	int (*create)(const char *, const char *, uint64_t, unsigned,
		      daxo_pool **);
	int (*put)(daxo_pool *, const void *, size_t, const void *, size_t);
	int (*get)(daxo_pool *, const void *, size_t, void *, size_t,
		   size_t *);
	int (*close)(daxo_pool *);
	const char *(*errormsg)(void);
	daxo_pool *p;
	char path[512];
	double ratio[MAX_ROUNDS];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void *sym(void *h, const char *so, const char *name)
{
	void *f = dlsym(h, name);

	if (!f) {
		fprintf(stderr, "get-pair: %s: no %s\n", so, name);
		exit(1);
	}
	return f;
}

static void load_build(struct build *b, uint64_t nkeys, const char *keys,
		       const void *val, size_t vsize)
{
	void *h = dlopen(b->so, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		fprintf(stderr, "get-pair: %s\n", dlerror());
		exit(1);
	}
	b->create = sym(h, b->so, "daxo_create");
	b->put = sym(h, b->so, "daxo_put");
	b->get = sym(h, b->so, "daxo_get");
	b->close = sym(h, b->so, "daxo_close");
	b->errormsg = sym(h, b->so, "daxo_errormsg");
	if (b->create(b->path, "get-pair", 512ull << 20, 0600, &b->p)) {
		fprintf(stderr, "get-pair: %s\n", b->errormsg());
		exit(1);
	}
	for (uint64_t k = 0; k < nkeys; k++)
		if (b->put(b->p, keys + 16 * k, 16, val, vsize)) {
			fprintf(stderr, "get-pair: put: %s\n", b->errormsg());
			b->close(b->p);
			unlink(b->path);
			exit(1);
		}
}

int main(int argc, char **argv)
{
	struct build builds[MAX_BUILDS];
	struct vkv *kv;
	cpu_set_t cpus;
	const char *tun = getenv("GLIBC_TUNABLES");

	if (!tun || !strstr(tun, "optional_static_tls")) {
		setenv("GLIBC_TUNABLES", TUNABLE, 1);
		execv("/proc/self/exe", argv);
		perror("get-pair: execv");
		return 1;
	}
	if (argc < 6) {
		fprintf(stderr, "usage: get-pair VSIZE NKEYS ROUNDS OPS "
				"LIBDAXO.so [LIBDAXO.so ...]\n");
		return 2;
	}
	size_t vsize = strtoull(argv[1], NULL, 0);
	uint64_t nkeys = strtoull(argv[2], NULL, 0);
	int rounds = atoi(argv[3]);
	uint64_t ops = strtoull(argv[4], NULL, 0);
	int nb = argc - 5;

	if (!nkeys || (nkeys & (nkeys - 1)) || rounds < 1 ||
	    rounds > MAX_ROUNDS || !ops || nb > MAX_BUILDS) {
		fprintf(stderr, "get-pair: NKEYS a power of two, ROUNDS "
				"1..1000, OPS > 0, at most 8 builds\n");
		return 2;
	}
	setenv("PMEM_IS_PMEM_FORCE", "1", 0);
	if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0)
		for (int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &cpus)) {
				CPU_ZERO(&cpus);
				CPU_SET(c, &cpus);
				sched_setaffinity(0, sizeof(cpus), &cpus);
				break;
			}

	char *keys = malloc(16 * nkeys), *val = malloc(vsize + 1);
	char *dst = aligned_alloc(64, (vsize + 63) & ~(size_t)63);
	if (!keys || !val || !dst || vkv_open(1u << 18, &kv)) {
		fprintf(stderr, "get-pair: out of memory\n");
		return 1;
	}
	memset(val, 7, vsize);
	for (uint64_t k = 0; k < nkeys; k++) {
		char t[32];
		snprintf(t, sizeof(t), "m%02d%013" PRIu64, 0, k);
		memcpy(keys + 16 * k, t, 16);
		if (vkv_put(kv, keys + 16 * k, 16, val, vsize)) {
			fprintf(stderr, "get-pair: out of memory\n");
			return 1;
		}
	}
	for (int j = 0; j < nb; j++) {
		const char *dir = getenv("DAXO_TEST_DIR");

		builds[j].so = argv[5 + j];
		snprintf(builds[j].path, sizeof(builds[j].path),
			 "%s/get-pair-%d-%d.pool", dir && *dir ? dir : "/dev/shm",
			 (int)getpid(), j);
		load_build(&builds[j], nkeys, keys, val, vsize);
	}

	/* round -1 warms the caches and is not counted */
	for (int r = -1; r < rounds; r++) {
		double ns[MAX_BUILDS + 1];
		size_t vlen;

		for (int j = 0; j <= nb; j++) {
			uint64_t t0 = now_ns();

			for (uint64_t i = 0; i < ops; i++) {
				const char *k = keys + 16 * ((i * 2654435761ull) &
							     (nkeys - 1));
				int rc = j < nb ? builds[j].get(builds[j].p, k,
								16, dst, vsize,
								&vlen)
						: vkv_get(kv, k, 16, dst, vsize,
							  &vlen);
				if (rc || vlen != vsize) {
					fprintf(stderr, "get-pair: get: %d\n",
						rc);
					return 1;
				}
			}
			ns[j] = (double)(now_ns() - t0) / (double)ops;
			if (memcmp(dst, val, vsize)) {
				fprintf(stderr, "get-pair: wrong value\n");
				return 1;
			}
		}
		for (int j = 0; r >= 0 && j < nb; j++)
			builds[j].ratio[r] = ns[j] / ns[nb];
	}
	for (int j = 0; j < nb; j++) {
		double *x = builds[j].ratio;

		qsort(x, (size_t)rounds, sizeof(x[0]), cmp_double);
		printf("%s: daxo/volatile ns: p10 %.2f median %.2f p90 %.2f "
		       "(%d rounds)\n",
		       builds[j].so, x[rounds / 10], x[rounds / 2],
		       x[rounds * 9 / 10], rounds);
		builds[j].close(builds[j].p);
		unlink(builds[j].path);
	}
	vkv_close(kv);
	free(keys);
	free(val);
	free(dst);
	return 0;
}
