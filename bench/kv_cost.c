/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kv_cost.c -- the deterministic cost of a keyed-store put and get: fences
 * and flushed lines per op (daxo_thread_stats), and, run under callgrind,
 * instructions per op. Compares pools without and with value checksums
 * (DAXO_CREATE_CHECKSUMS) on the daxo-bench put/get rows' shape: 16-byte
 * keys, each put replacing a value of the same length.
 *
 *   daxo-kv-cost VSIZE NKEYS OPS [checksums]
 *
 * fills NKEYS keys with VSIZE-byte values, then runs OPS puts over them
 * (in measure_puts) and OPS gets (in measure_gets), and prints fences and
 * lines per op. Instructions per op:
 *
 *   valgrind --tool=callgrind --toggle-collect=measure_gets \
 *     daxo-kv-cost 64 65536 200000 [checksums]
 *
 * divides the collected count by OPS (likewise measure_puts).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daxo.h"

/* key_of -- 16 bytes: "key" and 13 decimal digits of @i (no snprintf:
 * its instructions would swamp a get's) */
static void key_of(uint64_t i, char k[16])
{
	memcpy(k, "key", 3);
	for (int d = 15; d >= 3; d--, i /= 10)
		k[d] = (char)('0' + i % 10);
}

/* the key an op touches: a fixed stride through the keys */
static uint64_t pick(uint64_t op, uint64_t nkeys)
{
	return op * 7919 % nkeys;
}

__attribute__((noinline)) static int measure_puts(daxo_pool *p, uint64_t ops,
						  uint64_t nkeys, uint8_t *v,
						  size_t vsize)
{
	char k[16];

	for (uint64_t i = 0; i < ops; i++) {
		key_of(pick(i, nkeys), k);
		v[0] = (uint8_t)i;
		if (daxo_put(p, k, 16, v, vsize))
			return -1;
	}
	return 0;
}

__attribute__((noinline)) static int measure_gets(daxo_pool *p, uint64_t ops,
						  uint64_t nkeys, uint8_t *buf,
						  size_t vsize)
{
	char k[16];
	size_t got;

	for (uint64_t i = 0; i < ops; i++) {
		key_of(pick(i, nkeys), k);
		if (daxo_get(p, k, 16, buf, vsize, &got) || got != vsize)
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr,
			"usage: daxo-kv-cost VSIZE NKEYS OPS [checksums]\n");
		return 2;
	}
	size_t vsize = strtoull(argv[1], NULL, 0);
	uint64_t nkeys = strtoull(argv[2], NULL, 0);
	uint64_t ops = strtoull(argv[3], NULL, 0);
	struct daxo_create_opts o = {
	    .flags = argc > 4 && !strcmp(argv[4], "checksums")
			 ? DAXO_CREATE_CHECKSUMS
			 : 0};
	const char *dir = getenv("DAXO_TEST_DIR");
	struct daxo_stats a, b, c;
	char path[256], k[16];
	uint8_t *v = calloc(1, vsize + 1), *buf = malloc(vsize + 1);
	daxo_pool *p;
	int r = 1;

	setenv("PMEM_IS_PMEM_FORCE", "1", 0);
	snprintf(path, sizeof(path), "%s/daxo-kv-cost-%d",
		 dir && *dir ? dir : "/dev/shm", (int)getpid());
	unlink(path);
	uint64_t size =
	    (nkeys * (vsize + 256) * 2 + (64ull << 20)) & ~((2ull << 20) - 1);
	if (!v || !buf ||
	    daxo_pool_create(path, "kv-cost", size, 0600, &o, &p)) {
		fprintf(stderr, "daxo-kv-cost: %s\n", daxo_errormsg());
		return 1;
	}
	for (uint64_t i = 0; i < nkeys; i++) {
		key_of(i, k);
		if (daxo_put(p, k, 16, v, vsize))
			goto out;
	}
	daxo_thread_stats(&a);
	if (measure_puts(p, ops, nkeys, v, vsize))
		goto out;
	daxo_thread_stats(&b);
	if (measure_gets(p, ops, nkeys, buf, vsize))
		goto out;
	daxo_thread_stats(&c);
	printf("value %zu B, %llu keys, %s: put %.2f fences %.2f lines, get "
	       "%.2f fences %.2f lines per op\n",
	       vsize, (unsigned long long)nkeys,
	       o.flags ? "checksums" : "no checksums",
	       (double)(b.fences - a.fences) / (double)ops,
	       (double)(b.flushes - a.flushes) / (double)ops,
	       (double)(c.fences - b.fences) / (double)ops,
	       (double)(c.flushes - b.flushes) / (double)ops);
	r = 0;
out:
	if (r)
		fprintf(stderr, "daxo-kv-cost: %s\n", daxo_errormsg());
	daxo_close(p);
	unlink(path);
	free(v);
	free(buf);
	return r;
}
