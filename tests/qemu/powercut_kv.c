/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * powercut_kv.c -- the keyed store under power cuts (QEMU harness, run.sh
 * powercut --workload kv). Same command line as powercut_writer:
 *
 *   powercut_kv create PATH   create the pool, put until killed
 *   powercut_kv write PATH    open the pool, go on putting until killed
 *   powercut_kv verify PATH   open (recovery), check every invariant
 *
 * Put number i (1, 2, 3, ...) writes key "key-NNN" with NNN = i % NKEYS and
 * a value of 16..2064 bytes holding i, its length and a checksum; puts are
 * sequential, each durable when daxo_put returns. So after a cut, with M the
 * largest i found: every key must hold the newest put of it that is <= M
 * (none lost, none torn, nothing from the future), and M is at least the
 * count the writer printed as acknowledged ("QEMU-PC committed N", checked
 * by run.sh). daxo_foreach must see exactly the keys found.

 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daxo.h"

#define NKEYS	  500
#define POOL_SIZE (64ull << 20)
#define LAYOUT	  "powercut-kv"
#define VAL_MAX	  2064

struct val {
	uint64_t i;
	uint64_t len; /* the whole value's length */
	uint64_t check;
	uint8_t fill[];
};

static uint64_t val_check(const struct val *v)
{
	uint64_t h = 0xcbf29ce484222325ull;
	size_t n = v->len - sizeof(*v);

	h = (h ^ v->i) * 0x100000001b3ull;
	h = (h ^ v->len) * 0x100000001b3ull;
	for (size_t k = 0; k < n; k++)
		h = (h ^ v->fill[k]) * 0x100000001b3ull;
	return h;
}

static size_t make_val(uint64_t i, unsigned char *buf)
{
	struct val *v = (struct val *)buf;
	size_t len = sizeof(*v) + (size_t)((i * 2654435761u) % 2041);

	v->i = i;
	v->len = len;
	for (size_t k = 0; k < len - sizeof(*v); k++)
		v->fill[k] = (uint8_t)(i * 31 + k);
	v->check = val_check(v);
	return len;
}

static int key_of(uint64_t i, char *key)
{
	return snprintf(key, 16, "key-%03u", (unsigned)(i % NKEYS));
}

static int fail(const char *what, int ret)
{
	printf("FAIL: %s: %d (%s) %s\n", what, ret, daxo_strerror(ret),
	       daxo_errormsg());
	return 1;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int count_cb(const void *key, size_t klen, const void *val, size_t vlen,
		    void *arg)
{
	(void)key;
	(void)klen;
	(void)val;
	(void)vlen;
	(*(uint64_t *)arg)++;
	return 0;
}

/* verify -- the newest put of every key, none lost, none torn */
static int verify(daxo_pool *p)
{
	static uint64_t have[NKEYS];
	unsigned char buf[VAL_MAX];
	uint64_t m = 0, present = 0;
	int bad = 0;

	for (uint64_t k = 0; k < NKEYS; k++) {
		char key[16];
		size_t vlen = 0;
		int klen = key_of(k, key);
		int ret =
		    daxo_get(p, key, (size_t)klen, buf, sizeof(buf), &vlen);
		const struct val *v = (const struct val *)buf;

		have[k] = 0;
		if (ret == -ENOENT)
			continue;
		if (ret)
			return fail("daxo_get", ret);
		present++;
		if (vlen < sizeof(*v) || vlen != v->len ||
		    v->check != val_check(v) || v->i % NKEYS != k) {
			printf("FAIL: %s: torn or wrong value (%zu bytes, i "
			       "%llu)\n",
			       key, vlen, (unsigned long long)v->i);
			bad = 1;
			continue;
		}
		have[k] = v->i;
		if (v->i > m)
			m = v->i;
	}
	for (uint64_t k = 0; k < NKEYS && !bad; k++) {
		/* the newest i <= m with i % NKEYS == k, or 0 if none */
		uint64_t off = (m % NKEYS + NKEYS - k) % NKEYS;
		uint64_t want = m >= off ? m - off : 0;
		if (have[k] != want) {
			printf(
			    "FAIL: key-%03u holds put %llu, want %llu (newest "
			    "put is %llu): a put was lost or reordered\n",
			    (unsigned)k, (unsigned long long)have[k],
			    (unsigned long long)want, (unsigned long long)m);
			bad = 1;
		}
	}
	uint64_t seen = 0;
	int ret = daxo_foreach(p, count_cb, &seen);
	if (ret)
		return fail("daxo_foreach", ret);
	if (seen != present) {
		printf("FAIL: daxo_foreach sees %llu keys, daxo_get finds "
		       "%llu\n",
		       (unsigned long long)seen, (unsigned long long)present);
		bad = 1;
	}
	struct daxo_info info;
	daxo_pool_info(p, &info);
	printf("QEMU-PC verified transfers=%llu keys=%llu recovered=%llu "
	       "pmem=%d dax=%d map_sync=%d%s\n",
	       (unsigned long long)m, (unsigned long long)present,
	       (unsigned long long)info.recovered, info.is_pmem, info.is_dax,
	       info.map_sync, bad ? " BAD" : "");
	return bad;
}

static int writer(const char *path, int create)
{
	unsigned char buf[VAL_MAX];
	daxo_pool *p;
	struct stat st;
	int ret;

	if (create) {
		uint64_t size = POOL_SIZE;
		if (stat(path, &st) == 0 && S_ISCHR(st.st_mode))
			size = 0;
		ret = daxo_create(path, LAYOUT, size, 0600, &p);
	} else {
		ret = daxo_open(path, LAYOUT, 0, &p);
	}
	if (ret)
		return fail(create ? "daxo_create" : "daxo_open", ret);

	/* go on after the newest put that survived */
	uint64_t i = 0;
	for (uint64_t k = 0; k < NKEYS; k++) {
		char key[16];
		size_t vlen;
		int klen = key_of(k, key);
		if (daxo_get(p, key, (size_t)klen, buf, sizeof(buf), &vlen) ==
			0 &&
		    ((struct val *)buf)->i > i)
			i = ((struct val *)buf)->i;
	}
	printf("QEMU-PC writer running from put %llu\n", (unsigned long long)i);
	fflush(stdout);
	uint64_t last_print = 0;
	for (;;) {
		char key[16];
		i++;
		int klen = key_of(i, key);
		size_t vlen = make_val(i, buf);
		ret = daxo_put(p, key, (size_t)klen, buf, vlen);
		if (ret)
			return fail("daxo_put", ret);
		if (i % 16 == 0 && now_ms() - last_print >= 50) {
			printf("QEMU-PC committed %llu\n",
			       (unsigned long long)i);
			fflush(stdout);
			last_print = now_ms();
		}
	}
}

int main(int argc, char **argv)
{
	daxo_pool *p;
	int ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 3) {
		fprintf(stderr,
			"usage: powercut_kv create|write|verify PATH\n");
		return 2;
	}
	if (!strcmp(argv[1], "create"))
		return writer(argv[2], 1);
	if (!strcmp(argv[1], "write"))
		return writer(argv[2], 0);
	if (strcmp(argv[1], "verify") != 0) {
		fprintf(stderr, "powercut_kv: unknown mode %s\n", argv[1]);
		return 2;
	}
	ret = daxo_open(argv[2], LAYOUT, 0, &p);
	if (ret)
		return fail("daxo_open (recovery)", ret);
	ret = verify(p);
	int c = daxo_close(p);
	if (c)
		return fail("daxo_close", c);
	return ret ? 1 : 0;
}
