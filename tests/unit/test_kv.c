/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_kv.c -- unit tests of the keyed object store (lib/kv.c) through the
 * public API: limits, empty values, binary keys, replace, delete, resize,
 * a full pool, persistence across reopen, fences per operation, callbacks,
 * a model-based random sequence against an in-memory map, and threads.
 *
 * Pools live in test_dir() (/dev/shm unless DAXO_TEST_DIR says otherwise;
 * the suite runs with PMEM_IS_PMEM_FORCE=1).
 * DAXO_TEST_SEED=N repeats a random run; the seed is printed on failure.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "daxo.h"
#include "test_common.h"

#define POOL_SIZE (64ull << 20)

struct fx {
	char path[128];
	daxo_pool *p;
};

static unsigned long long seed;

static int fx_setup(void **state)
{
	static unsigned n;
	struct fx *f = calloc(1, sizeof(*f));

	test_path(f->path, sizeof(f->path), "daxo-kv-test-%d-%u.pool",
		  (int)getpid(), n++);
	unlink(f->path);
	if (daxo_create(f->path, "kvtest", POOL_SIZE, 0600, &f->p)) {
		fprintf(stderr, "create %s: %s\n", f->path, daxo_errormsg());
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	daxo_close(f->p);
	unlink(f->path);
	free(f);
	return 0;
}

static void fx_reopen(struct fx *f)
{
	assert_int_equal(daxo_close(f->p), 0);
	f->p = NULL;
	if (daxo_open(f->path, "kvtest", 0, &f->p))
		fail_msg("reopen: %s", daxo_errormsg());
}

/* put a NUL-terminated key/value */
static int sput(daxo_pool *p, const char *k, const char *v)
{
	return daxo_put(p, k, strlen(k), v, strlen(v));
}

/* assert that @k holds exactly @v (len vlen) */
static void expect_val(daxo_pool *p, const void *k, size_t klen, const void *v,
		       size_t vlen)
{
	size_t cap = vlen ? vlen : 1, got = 12345;
	char *buf = malloc(cap);
	int r = daxo_get(p, k, klen, buf, cap, &got);

	if (r)
		fail_msg("get (klen %zu): %d %s", klen, r, daxo_errormsg());
	assert_int_equal(got, vlen);
	if (vlen)
		assert_memory_equal(buf, v, vlen);
	free(buf);
}

static void expect_missing(daxo_pool *p, const void *k, size_t klen)
{
	char buf[8];
	size_t got;

	assert_int_equal(daxo_get(p, k, klen, buf, sizeof(buf), &got), -ENOENT);
}

static uint64_t nobjects(daxo_pool *p)
{
	uint64_t n = 0;

	for (daxo_oid o = daxo_first(p, DAXO_TYPE_ANY); o;
	     o = daxo_next(p, o, DAXO_TYPE_ANY))
		n++;
	return n;
}

static void test_empty_store_get_enoent(void **state)
{
	struct fx *f = *state;
	int calls = 0;

	expect_missing(f->p, "a", 1);
	assert_int_equal(daxo_del(f->p, "a", 1), -ENOENT);
	assert_int_equal(
	    daxo_foreach(f->p,
			 (int (*)(const void *, size_t, const void *, size_t,
				  void *))(void *)abort,
			 &calls),
	    0);
}

static void test_put_get_roundtrip(void **state)
{
	struct fx *f = *state;

	assert_int_equal(sput(f->p, "hello", "world"), 0);
	assert_int_equal(sput(f->p, "foo", "bar"), 0);
	expect_val(f->p, "hello", 5, "world", 5);
	expect_val(f->p, "foo", 3, "bar", 3);
	expect_missing(f->p, "hell", 4);
	expect_missing(f->p, "hello!", 6);
}

static void test_limits_einval(void **state)
{
	struct fx *f = *state;
	size_t got;
	char buf[4];
	char *big = calloc(1, DAXO_KEY_MAX + 1);

	assert_int_equal(daxo_put(f->p, "k", 0, "v", 1), -EINVAL);
	assert_int_equal(daxo_put(f->p, NULL, 1, "v", 1), -EINVAL);
	assert_int_equal(daxo_put(f->p, "k", 1, NULL, 1), -EINVAL);
	assert_int_equal(daxo_put(f->p, big, DAXO_KEY_MAX + 1, "v", 1),
			 -EINVAL);
	assert_non_null(strstr(daxo_errormsg(), "key length"));
	assert_int_equal(daxo_get(f->p, big, DAXO_KEY_MAX + 1, buf, 4, &got),
			 -EINVAL);
	assert_int_equal(daxo_get(f->p, "k", 0, buf, 4, &got), -EINVAL);
	assert_int_equal(daxo_get(f->p, "k", 1, NULL, 4, &got), -EINVAL);
	assert_int_equal(daxo_del(f->p, big, DAXO_KEY_MAX + 1), -EINVAL);
	assert_int_equal(daxo_del(f->p, "k", 0), -EINVAL);
	assert_int_equal(daxo_foreach(f->p, NULL, NULL), -EINVAL);
	/* the longest key works, and differs from its one-shorter prefix */
	memset(big, 'x', DAXO_KEY_MAX);
	assert_int_equal(daxo_put(f->p, big, DAXO_KEY_MAX, "max", 3), 0);
	expect_val(f->p, big, DAXO_KEY_MAX, "max", 3);
	expect_missing(f->p, big, DAXO_KEY_MAX - 1);
	/* a value larger than the pool: -ENOSPC, nothing changed */
	assert_int_equal(daxo_put(f->p, "k", 1, big, (size_t)POOL_SIZE + 1),
			 -ENOSPC);
	expect_missing(f->p, "k", 1);
	free(big);
}

static void test_empty_value_ok(void **state)
{
	struct fx *f = *state;
	size_t got = 99;

	assert_int_equal(daxo_put(f->p, "e", 1, NULL, 0), 0);
	assert_int_equal(daxo_get(f->p, "e", 1, NULL, 0, &got), 0);
	assert_int_equal(got, 0);
	assert_int_equal(daxo_put(f->p, "e", 1, "x", 1), 0);
	expect_val(f->p, "e", 1, "x", 1);
	assert_int_equal(daxo_put(f->p, "e", 1, "", 0), 0);
	expect_val(f->p, "e", 1, "", 0);
}

static void test_binary_keys_distinct(void **state)
{
	struct fx *f = *state;
	const unsigned char k1[] = {0, 0, 0};
	const unsigned char k2[] = {0, 0};
	const unsigned char k3[] = {0, 0, 1};
	const unsigned char k4[] = {0xff, 0xfe, 0, 0x80};
	const unsigned char v4[] = {0, 1, 2, 0, 0xff};

	assert_int_equal(daxo_put(f->p, k1, 3, "one", 3), 0);
	assert_int_equal(daxo_put(f->p, k2, 2, "two", 3), 0);
	assert_int_equal(daxo_put(f->p, k3, 3, "three", 5), 0);
	assert_int_equal(daxo_put(f->p, k4, 4, v4, sizeof(v4)), 0);
	expect_val(f->p, k1, 3, "one", 3);
	expect_val(f->p, k2, 2, "two", 3);
	expect_val(f->p, k3, 3, "three", 5);
	expect_val(f->p, k4, 4, v4, sizeof(v4));
	expect_missing(f->p, k1, 1);
}

static void test_replace_frees_old(void **state)
{
	struct fx *f = *state;
	char v[3000];
	uint64_t n0;

	assert_int_equal(sput(f->p, "k", "first"), 0);
	n0 = nobjects(f->p);
	for (int i = 0; i < 200; i++) {
		size_t len = (size_t)(i * 13 % 3000);
		memset(v, 'a' + i % 26, len);
		assert_int_equal(daxo_put(f->p, "k", 1, v, len), 0);
		expect_val(f->p, "k", 1, v, len);
	}
	/* every replaced entry was freed in its transaction */
	assert_int_equal(nobjects(f->p), n0);
}

static int view_ptr_cb(const void *val, size_t vlen, void *arg)
{
	*(const void **)arg = val;
	return 0;
}

/* where the value of @k lies in the pool */
static const void *value_at(daxo_pool *p, const char *k)
{
	const void *at = NULL;

	assert_int_equal(daxo_get_view(p, k, strlen(k), view_ptr_cb, &at), 0);
	return at;
}

/*
 * A value of the same length (up to 1536 bytes) replaces the old one in
 * place: same bytes of the pool, no allocation, no free, 1 fence; any
 * other replace makes a new entry and frees the old one.
 */
static void test_replace_same_length_in_place(void **state)
{
	struct fx *f = *state;
	static char v[1536], w[1537];
	struct daxo_stats a, b;

	memset(v, 'v', sizeof(v));
	memset(w, 'w', sizeof(w));
	for (size_t len = 1; len <= sizeof(v); len = len * 3 + 1) {
		assert_int_equal(daxo_put(f->p, "k", 1, v, len), 0);
		const void *at = value_at(f->p, "k");
		v[0] = (char)('a' + len % 26);
		assert_int_equal(daxo_thread_stats(&a), 0);
		assert_int_equal(daxo_put(f->p, "k", 1, v, len), 0);
		assert_int_equal(daxo_thread_stats(&b), 0);
		assert_ptr_equal(value_at(f->p, "k"), at);
		assert_int_equal(b.allocs - a.allocs, 0);
		assert_int_equal(b.frees - a.frees, 0);
		assert_int_equal(b.fences - a.fences, 1);
		expect_val(f->p, "k", 1, v, len);
	}
	/* another length: a new entry */
	const void *at = value_at(f->p, "k");
	assert_int_equal(daxo_thread_stats(&a), 0);
	assert_int_equal(daxo_put(f->p, "k", 1, v, 100), 0);
	assert_int_equal(daxo_thread_stats(&b), 0);
	assert_ptr_not_equal(value_at(f->p, "k"), at);
	assert_int_equal(b.allocs - a.allocs, 1);
	assert_int_equal(b.frees - a.frees, 1);
	/* longer than the record takes: a new entry, written in place */
	assert_int_equal(daxo_put(f->p, "k", 1, w, sizeof(w)), 0);
	at = value_at(f->p, "k");
	w[0] = 'x';
	assert_int_equal(daxo_put(f->p, "k", 1, w, sizeof(w)), 0);
	assert_ptr_not_equal(value_at(f->p, "k"), at);
	expect_val(f->p, "k", 1, w, sizeof(w));
	/* an empty value over an empty value: nothing to write */
	assert_int_equal(daxo_put(f->p, "e", 1, "", 0), 0);
	assert_int_equal(daxo_thread_stats(&a), 0);
	assert_int_equal(daxo_put(f->p, "e", 1, "", 0), 0);
	assert_int_equal(daxo_thread_stats(&b), 0);
	assert_int_equal(b.fences - a.fences, 0);
	expect_val(f->p, "e", 1, "", 0);
	/* the values made in place are the ones a reopen finds */
	v[0] = 'R';
	assert_int_equal(daxo_put(f->p, "k", 1, v, 100), 0);
	assert_int_equal(daxo_put(f->p, "k", 1, v, 100), 0);
	fx_reopen(f);
	expect_val(f->p, "k", 1, v, 100);
	expect_val(f->p, "e", 1, "", 0);
}

static void test_delete_removes(void **state)
{
	struct fx *f = *state;
	uint64_t n0 = 0;

	assert_int_equal(sput(f->p, "a", "1"), 0);
	n0 = nobjects(f->p);
	assert_int_equal(sput(f->p, "b", "2"), 0);
	assert_int_equal(sput(f->p, "c", "3"), 0);
	assert_int_equal(daxo_del(f->p, "b", 1), 0);
	expect_missing(f->p, "b", 1);
	assert_int_equal(daxo_del(f->p, "b", 1), -ENOENT);
	expect_val(f->p, "a", 1, "1", 1);
	expect_val(f->p, "c", 1, "3", 1);
	assert_int_equal(daxo_del(f->p, "c", 1), 0);
	assert_int_equal(nobjects(f->p), n0);
	assert_int_equal(sput(f->p, "b", "again"), 0);
	expect_val(f->p, "b", 1, "again", 5);
}

/* values of many chunks: put, replace, read back, delete */
static void test_large_values_roundtrip(void **state)
{
	struct fx *f = *state;
	size_t big = 5u << 20;
	unsigned char *v = malloc(big);
	uint64_t n0;

	for (size_t i = 0; i < big; i++)
		v[i] = (unsigned char)(i * 2654435761u >> 13);
	assert_int_equal(sput(f->p, "small", "x"), 0);
	n0 = nobjects(f->p);
	assert_int_equal(daxo_put(f->p, "big", 3, v, big), 0);
	expect_val(f->p, "big", 3, v, big);
	assert_int_equal(daxo_put(f->p, "big", 3, v + 1, big - 12345), 0);
	expect_val(f->p, "big", 3, v + 1, big - 12345);
	assert_int_equal(daxo_put(f->p, "big", 3, v, 70000), 0);
	expect_val(f->p, "big", 3, v, 70000);
	fx_reopen(f);
	expect_val(f->p, "big", 3, v, 70000);
	assert_int_equal(daxo_del(f->p, "big", 3), 0);
	assert_int_equal(nobjects(f->p), n0);
	free(v);
}

/*
 * Entries written in place (above TX_FILL_INLINE) gather their header, key
 * and the start of the value into whole cache lines first: every split of
 * key and value around those boundaries must read back intact, also after
 * a reopen (the bytes were flushed, not just stored).
 */
static void test_inplace_entry_boundaries(void **state)
{
	struct fx *f = *state;
	static const size_t klens[] = {1, 15, 16, 31, 32, 33, 95, 96, 97,
				       159, 160, 161, 191, 192, 255, 4000,
				       65536};
	static const size_t vlens[] = {1600, 1601, 2047, 4096, 4097, 70001};
	unsigned char *k = malloc(65536), *v = malloc(70001);

	for (size_t i = 0; i < 65536; i++)
		k[i] = (unsigned char)(i * 131 + 7);
	for (size_t i = 0; i < 70001; i++)
		v[i] = (unsigned char)(i * 2654435761u >> 11);
	for (size_t a = 0; a < (sizeof(klens) / sizeof(klens[0])); a++)
		for (size_t b = 0; b < (sizeof(vlens) / sizeof(vlens[0])); b++) {
			k[0] = (unsigned char)(a * 16 + b);
			v[0] = (unsigned char)(a + b);
			assert_int_equal(
			    daxo_put(f->p, k, klens[a], v, vlens[b]), 0);
			expect_val(f->p, k, klens[a], v, vlens[b]);
		}
	fx_reopen(f);
	for (size_t a = 0; a < (sizeof(klens) / sizeof(klens[0])); a++)
		for (size_t b = 0; b < (sizeof(vlens) / sizeof(vlens[0])); b++) {
			k[0] = (unsigned char)(a * 16 + b);
			v[0] = (unsigned char)(a + b);
			expect_val(f->p, k, klens[a], v, vlens[b]);
		}
	free(k);
	free(v);
}

static void test_get_small_buffer_enobufs(void **state)
{
	struct fx *f = *state;
	char buf[4];
	size_t got = 0;

	assert_int_equal(sput(f->p, "k", "0123456789"), 0);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(daxo_get(f->p, "k", 1, buf, sizeof(buf), &got),
			 -ENOBUFS);
	assert_int_equal(got, 10);
	assert_memory_equal(buf, "0123", 4);
	got = 0;
	assert_int_equal(daxo_get(f->p, "k", 1, NULL, 0, &got), -ENOBUFS);
	assert_int_equal(got, 10);
}

static void keyname(char *k, size_t cap, unsigned i)
{
	snprintf(k, cap, "key-%u", i);
}

static size_t valfor(char *v, unsigned i, unsigned ver)
{
	return (size_t)sprintf(v, "value-%u-%u-%0*u", i, ver, (int)(i % 50), 0);
}

/*
 * daxo_get_many: every request gets what daxo_get says for it -- found,
 * missing, a buffer too small, no buffer, a bad key, a key twice -- over
 * more than one group of lookups, while a resize migrates (so lookups go
 * to both tables)
 */
static void test_get_many_matches_get(void **state)
{
	struct fx *f = *state;
	enum { N = 41 };
	static struct daxo_get_req q[N];
	static char keys[N][32], bufs[N][128];
	char ref[128], v[128];
	size_t got;
	int ok = 0;

	for (unsigned i = 0; i < 300; i++) { /* 257 keys start a resize */
		keyname(v, sizeof(v), i);
		size_t vl = valfor(ref, i, 3);
		assert_int_equal(daxo_put(f->p, v, strlen(v), ref, vl), 0);
	}
	for (unsigned i = 0; i < N; i++) {
		unsigned kind = i % 6;

		keyname(keys[i], sizeof(keys[i]), kind == 1 ? 1000 + i : i * 7);
		q[i] = (struct daxo_get_req){.key = keys[i],
					     .klen = strlen(keys[i]),
					     .buf = bufs[i],
					     .cap = sizeof(bufs[i]),
					     .vlen = 99999,
					     .rc = 12345};
		if (kind == 2)
			q[i].cap = 3;
		if (kind == 3)
			q[i].buf = NULL, q[i].cap = 0;
		if (kind == 4)
			q[i].klen = i % 2 ? 0 : DAXO_KEY_MAX + 1;
		if (kind == 5)
			q[i].key = keys[i - 5], q[i].klen = strlen(keys[i - 5]);
	}
	int r = daxo_get_many(f->p, q, N);
	/* the first request that failed is request 1 (a missing key) */
	assert_non_null(strstr(daxo_errormsg(), "request 1:"));
	for (unsigned i = 0; i < N; i++) {
		int want = daxo_get(f->p, q[i].key, q[i].klen,
				    q[i].buf ? ref : NULL, q[i].cap, &got);
		if (q[i].rc != want)
			fail_msg("request %u: rc %d, daxo_get %d", i, q[i].rc,
				 want);
		if (want == 0 || want == -ENOBUFS) {
			assert_int_equal(q[i].vlen, got);
			if (q[i].buf)
				assert_memory_equal(q[i].buf, ref,
						    got < q[i].cap ? got
								   : q[i].cap);
		}
		ok += want == 0;
	}
	assert_int_equal(r, ok);
	assert_true(ok > 0 && ok < N);
}

/* bad calls touch no request; a pool with no store answers -ENOENT */
static void test_get_many_args(void **state)
{
	struct fx *f = *state;
	struct daxo_get_req q[3];
	char buf[8];

	assert_int_equal(daxo_get_many(NULL, q, 1), -EINVAL);
	assert_int_equal(daxo_get_many(f->p, NULL, 1), -EINVAL);
	assert_int_equal(daxo_get_many(f->p, NULL, 0), 0);
	for (int i = 0; i < 3; i++)
		q[i] = (struct daxo_get_req){"k", 1, buf, sizeof(buf), 0, 7};
	q[2].key = NULL;
	assert_int_equal(daxo_get_many(f->p, q, 3), 0);
	assert_int_equal(q[0].rc, -ENOENT);
	assert_int_equal(q[1].rc, -ENOENT);
	assert_int_equal(q[2].rc, -EINVAL);
	assert_int_equal(sput(f->p, "k", "vvv"), 0);
	assert_int_equal(daxo_get_many(f->p, q, 2), 2);
	assert_int_equal(q[1].vlen, 3);
	assert_memory_equal(buf, "vvv", 3);
}

/* grows the table several times (256 buckets -> 65536) and checks all */
static void test_resize_keeps_all(void **state)
{
	struct fx *f = *state;
	const unsigned n = 20000;
	char k[32], v[128];

	for (unsigned i = 0; i < n; i++) {
		keyname(k, sizeof(k), i);
		size_t vl = valfor(v, i, 0);
		if (daxo_put(f->p, k, strlen(k), v, vl))
			fail_msg("put %u: %s", i, daxo_errormsg());
		if (i % 997 == 0) /* spot checks while resizes are running */
			for (unsigned j = 0; j <= i; j += 101) {
				keyname(k, sizeof(k), j);
				vl = valfor(v, j, 0);
				expect_val(f->p, k, strlen(k), v, vl);
			}
	}
	for (unsigned i = 0; i < n; i++) {
		keyname(k, sizeof(k), i);
		expect_val(f->p, k, strlen(k), v, valfor(v, i, 0));
	}
	for (unsigned i = 0; i < n; i += 2) {
		keyname(k, sizeof(k), i);
		assert_int_equal(daxo_del(f->p, k, strlen(k)), 0);
	}
	fx_reopen(f);
	for (unsigned i = 0; i < n; i++) {
		keyname(k, sizeof(k), i);
		if (i % 2)
			expect_val(f->p, k, strlen(k), v, valfor(v, i, 0));
		else
			expect_missing(f->p, k, strlen(k));
	}
	/* no leak: entries + anchor + table (resizes all finished or not) */
	assert_in_range(nobjects(f->p), n / 2 + 2, n / 2 + 3);
}

/* close in the middle of a migration, reopen, go on */
static void test_resize_interrupted_by_reopen(void **state)
{
	struct fx *f = *state;
	char k[32], v[128];
	unsigned n = 0;

	for (; n < 300; n++) { /* 257 keys start the first resize */
		keyname(k, sizeof(k), n);
		assert_int_equal(
		    daxo_put(f->p, k, strlen(k), v, valfor(v, n, 1)), 0);
	}
	fx_reopen(f);
	for (unsigned i = 0; i < n; i++) {
		keyname(k, sizeof(k), i);
		expect_val(f->p, k, strlen(k), v, valfor(v, i, 1));
	}
	for (; n < 3000; n++) {
		keyname(k, sizeof(k), n);
		assert_int_equal(
		    daxo_put(f->p, k, strlen(k), v, valfor(v, n, 1)), 0);
		if (n % 500 == 0)
			fx_reopen(f);
	}
	for (unsigned i = 0; i < n; i++) {
		keyname(k, sizeof(k), i);
		expect_val(f->p, k, strlen(k), v, valfor(v, i, 1));
	}
}

/*
 * A resize's end frees the old table; gets must stop looking at it (the
 * geometry racy walks read, struct kv, changes with the anchor). Reuse its
 * memory for objects full of garbage, then read every key.
 */
static void test_resize_end_old_table_reused(void **state)
{
	struct fx *f = *state;
	char k[32], v[128];
	const unsigned n = 300; /* 256 -> 512 -> 1024 buckets */
	daxo_oid junk[64];
	unsigned rounds = 0;

	for (unsigned i = 0; i < n; i++) {
		keyname(k, sizeof(k), i);
		assert_int_equal(
		    daxo_put(f->p, k, strlen(k), v, valfor(v, i, 2)), 0);
	}
	/* replace values until the migration is over: one table left */
	while (nobjects(f->p) != n + 2) {
		unsigned i = rounds++ % n;
		keyname(k, sizeof(k), i);
		assert_int_equal(
		    daxo_put(f->p, k, strlen(k), v, valfor(v, i, 2)), 0);
		assert_true(rounds < 100 * n);
	}
	/* tables of 512 and 256 buckets were freed: take their places */
	for (unsigned j = 0; j < 64; j++) {
		uint64_t sz = j % 2 ? 64 + 8 * 512 : 64 + 8 * 256;
		junk[j] = 0;
		assert_int_equal(daxo_alloc(f->p, sz, 7, &junk[j]), 0);
		void *d = daxo_direct(f->p, junk[j]);
		memset(d, 0x5a, sz);
		daxo_persist(f->p, d, sz);
	}
	for (unsigned i = 0; i < n; i++) {
		keyname(k, sizeof(k), i);
		expect_val(f->p, k, strlen(k), v, valfor(v, i, 2));
	}
	for (unsigned j = 0; j < 64; j++)
		assert_int_equal(daxo_free(f->p, &junk[j]), 0);
}

/* fill a small pool: -ENOSPC, and the store still holds what it held */
static void test_full_pool_enospc_intact(void **state)
{
	char path[128];
	daxo_pool *p;
	char *v = malloc(100000);
	char k[32];
	unsigned n = 0;
	int r;

	(void)state;
	test_path(path, sizeof(path), "daxo-kv-test-full-%d.pool",
		  (int)getpid());
	unlink(path);
	assert_int_equal(daxo_create(path, NULL, DAXO_MIN_POOL_SIZE, 0600, &p),
			 0);
	for (;;) {
		keyname(k, sizeof(k), n);
		memset(v, (int)n, 100000);
		r = daxo_put(p, k, strlen(k), v, 60000 + n % 1000);
		if (r)
			break;
		n++;
		assert_true(n < 1000);
	}
	assert_int_equal(r, -ENOSPC);
	assert_true(n > 10);
	/* a replace that does not fit fails too, and keeps the old value */
	keyname(k, sizeof(k), 0);
	assert_int_equal(daxo_put(p, k, strlen(k), v, 4u << 20), -ENOSPC);
	for (unsigned i = 0; i < n; i++) {
		keyname(k, sizeof(k), i);
		memset(v, (int)i, 100000);
		expect_val(p, k, strlen(k), v, 60000 + i % 1000);
	}
	/* deleting makes room again */
	keyname(k, sizeof(k), 1);
	assert_int_equal(daxo_del(p, k, strlen(k)), 0);
	keyname(k, sizeof(k), 2);
	assert_int_equal(daxo_del(p, k, strlen(k)), 0);
	assert_int_equal(daxo_put(p, "new", 3, v, 60000), 0);
	expect_val(p, "new", 3, v, 60000);
	assert_int_equal(daxo_close(p), 0);
	unlink(path);
	free(v);
}

/* type numbers of the store's objects (doc/kv-format.md) */
#define KV_TYPE_ANCHOR 0xffffff01u
#define KV_TYPE_TABLE  0xffffff02u
#define KV_TYPE_ENTRY  0xffffff03u

static int count_cb(const void *k, size_t kl, const void *v, size_t vl,
		    void *arg)
{
	(void)k, (void)kl, (void)v, (void)vl;
	(*(unsigned *)arg)++;
	return 0;
}

/* a damaged store is refused with -EUCLEAN, never a crash or a hang */
static void test_corrupt_store_euclean(void **state)
{
	struct fx *f = *state;
	char k[16], buf[64];
	size_t got;
	unsigned n = 0;
	daxo_oid t, e, a;
	uint64_t *w;

	for (unsigned i = 0; i < 100; i++) {
		snprintf(k, sizeof(k), "c%u", i);
		assert_int_equal(sput(f->p, k, "v"), 0);
	}
	/* an entry that points to itself: a cycle */
	e = daxo_first(f->p, KV_TYPE_ENTRY);
	assert_true(e != 0);
	w = daxo_direct(f->p, e);
	uint64_t saved = w[0];
	w[0] = e;
	assert_int_equal(daxo_foreach(f->p, count_cb, &n), -EUCLEAN);
	assert_non_null(strstr(daxo_errormsg(), "chain"));
	w[0] = saved;
	/* bucket heads pointing outside the pool, or unaligned */
	t = daxo_first(f->p, KV_TYPE_TABLE);
	assert_true(t != 0);
	w = daxo_direct(f->p, t);
	for (unsigned b = 0; b < w[1]; b++)
		w[8 + b] = b % 2 ? ~0ull - 7 : 12345;
	for (unsigned i = 0; i < 100; i++) {
		snprintf(k, sizeof(k), "c%u", i);
		assert_int_equal(
		    daxo_get(f->p, k, strlen(k), buf, sizeof(buf), &got),
		    -EUCLEAN);
	}
	{
		struct daxo_get_req q[10];

		for (unsigned i = 0; i < 10; i++)
			q[i] = (struct daxo_get_req){"c7", 2, buf, sizeof(buf),
						     0, 0};
		assert_int_equal(daxo_get_many(f->p, q, 10), 0);
		for (unsigned i = 0; i < 10; i++)
			assert_int_equal(q[i].rc, -EUCLEAN);
		assert_non_null(strstr(daxo_errormsg(), "offset"));
	}
	assert_int_equal(sput(f->p, "c1", "w"), -EUCLEAN);
	assert_int_equal(daxo_del(f->p, "c1", 2), -EUCLEAN);
	assert_int_equal(daxo_foreach(f->p, count_cb, &n), -EUCLEAN);
	/* a damaged anchor: the pool still opens, the store refuses */
	a = daxo_first(f->p, KV_TYPE_ANCHOR);
	assert_true(a != 0);
	*(uint64_t *)daxo_direct(f->p, a) ^= 1;
	fx_reopen(f);
	assert_int_equal(daxo_get(f->p, "c1", 2, buf, sizeof(buf), &got),
			 -EUCLEAN);
	assert_non_null(strstr(daxo_errormsg(), "anchor"));
	assert_int_equal(sput(f->p, "c1", "w"), -EUCLEAN);
	assert_int_equal(daxo_foreach(f->p, count_cb, &n), -EUCLEAN);
}

static void test_persists_across_reopen(void **state)
{
	struct fx *f = *state;

	assert_int_equal(sput(f->p, "durable", "yes"), 0);
	assert_int_equal(sput(f->p, "gone", "soon"), 0);
	assert_int_equal(daxo_del(f->p, "gone", 4), 0);
	fx_reopen(f);
	expect_val(f->p, "durable", 7, "yes", 3);
	expect_missing(f->p, "gone", 4);
}

static void test_readonly_gets_work_puts_erofs(void **state)
{
	struct fx *f = *state;

	assert_int_equal(sput(f->p, "k", "v"), 0);
	assert_int_equal(daxo_close(f->p), 0);
	assert_int_equal(daxo_open(f->path, NULL, DAXO_RDONLY, &f->p), 0);
	expect_val(f->p, "k", 1, "v", 1);
	assert_int_equal(sput(f->p, "k", "w"), -EROFS);
	assert_int_equal(daxo_del(f->p, "k", 1), -EROFS);
	expect_val(f->p, "k", 1, "v", 1);
}

/* the fence budget: put and del at most 2, get none (DESIGN.md section 2) */
static void test_fences_put_del_2_get_0(void **state)
{
	struct fx *f = *state;
	struct daxo_stats a, b;
	char buf[64];
	size_t got;

	assert_int_equal(sput(f->p, "warm", "up"), 0); /* creates the store */
	for (int i = 0; i < 50; i++) {
		char k[16];
		snprintf(k, sizeof(k), "f%d", i);
		assert_int_equal(daxo_stats(f->p, &a), 0);
		assert_int_equal(sput(f->p, k, "new"), 0);
		assert_int_equal(daxo_stats(f->p, &b), 0);
		assert_in_range(b.fences - a.fences, 1, 2);
		a = b;
		assert_int_equal(sput(f->p, k, "replaced"), 0);
		assert_int_equal(daxo_stats(f->p, &b), 0);
		assert_in_range(b.fences - a.fences, 1, 2);
		a = b;
		for (int j = 0; j < 10; j++) {
			struct daxo_get_req q[2] = {
			    {k, strlen(k), buf, sizeof(buf), 0, 0},
			    {"nope", 4, buf, sizeof(buf), 0, 0}};

			assert_int_equal(daxo_get(f->p, k, strlen(k), buf,
						  sizeof(buf), &got),
					 0);
			expect_missing(f->p, "nope", 4);
			assert_int_equal(daxo_get_many(f->p, q, 2), 1);
		}
		assert_int_equal(daxo_stats(f->p, &b), 0);
		assert_int_equal(b.fences, a.fences);
		if (i % 2) {
			assert_int_equal(daxo_del(f->p, k, strlen(k)), 0);
			assert_int_equal(daxo_stats(f->p, &b), 0);
			assert_in_range(b.fences - a.fences, 1, 2);
		}
	}
}

/*
 * the exact cost in steady state (no resize, runs exist): a replace whose
 * entry fits the record 1 fence, a larger entry (written in place) 2. The
 * 12 keys' entries fit one run of each class (a run that empties while
 * another of its class has room is given back, with a fence of its own)
 */
static void test_fences_put_exact(void **state)
{
	struct fx *f = *state;
	static char big[4096];
	struct daxo_stats a, b;
	char k[16];

	memset(big, 'b', sizeof(big));
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < 12; i++) {
			snprintf(k, sizeof(k), "x%d", i);
			assert_int_equal(daxo_put(f->p, k, strlen(k), big,
						  round == 2 ? sizeof(big) : 100),
					 0);
		}
	/* warmed: both classes have runs, the table is sized */
	for (int round = 0; round < 2; round++) {
		size_t vlen = round ? sizeof(big) : 100;
		assert_int_equal(daxo_stats(f->p, &a), 0);
		for (int n = 0; n < 5; n++)
			for (int i = 0; i < 12; i++) {
				snprintf(k, sizeof(k), "x%d", i);
				assert_int_equal(
				    daxo_put(f->p, k, strlen(k), big, vlen), 0);
			}
		assert_int_equal(daxo_stats(f->p, &b), 0);
		assert_int_equal(b.fences - a.fences, 60 * (round ? 2 : 1));
	}
}

struct collect {
	unsigned n;
	size_t bytes;
	int stop_at;
	daxo_pool *p;
	int nested;
};

static int collect_cb(const void *k, size_t kl, const void *v, size_t vl,
		      void *arg)
{
	struct collect *c = arg;
	char buf[8];
	size_t got;

	c->n++;
	c->bytes += kl + vl;
	if (c->p) {
		/* writes from a callback are refused, reads work */
		c->nested = daxo_put(c->p, "x", 1, "y", 1);
		if (daxo_get(c->p, k, kl, buf, sizeof(buf), &got) != 0 &&
		    got <= sizeof(buf))
			c->nested = -1000;
	}
	if (c->stop_at && (int)c->n == c->stop_at)
		return 42;
	return 0;
}

static void test_foreach_visits_each_once(void **state)
{
	struct fx *f = *state;
	struct collect c = {0};
	char k[32], v[64];

	for (unsigned i = 0; i < 1000; i++) {
		keyname(k, sizeof(k), i);
		snprintf(v, sizeof(v), "%u", i);
		assert_int_equal(sput(f->p, k, v), 0);
	}
	assert_int_equal(daxo_foreach(f->p, collect_cb, &c), 0);
	assert_int_equal(c.n, 1000);
	memset(&c, 0, sizeof(c));
	c.stop_at = 10;
	assert_int_equal(daxo_foreach(f->p, collect_cb, &c), 42);
	assert_int_equal(c.n, 10);
	memset(&c, 0, sizeof(c));
	c.p = f->p;
	c.stop_at = 3;
	assert_int_equal(daxo_foreach(f->p, collect_cb, &c), 42);
	assert_int_equal(c.nested, -EDEADLK);
	expect_missing(f->p, "x", 1);
}

/*
 * A put, delete or compaction from a thread with a transaction open on the
 * pool is refused and changes nothing; the transaction stays the caller's:
 * its abort still rolls back its own write (a put used to commit it)
 */
static void test_write_in_open_tx_ebusy(void **state)
{
	struct fx *f = *state;
	daxo_oid o;
	daxo_tx *tx;
	uint64_t v = 42, *obj;

	assert_int_equal(sput(f->p, "k", "old"), 0);
	assert_int_equal(daxo_alloc(f->p, 64, 1, &o), 0);
	obj = daxo_direct(f->p, o);
	*obj = 7;
	daxo_persist(f->p, obj, 8);
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_write(tx, obj, &v, sizeof(v)), 0);
	assert_int_equal(sput(f->p, "k", "new"), -EBUSY);
	assert_non_null(strstr(daxo_errormsg(), "transaction open"));
	assert_int_equal(sput(f->p, "k2", "x"), -EBUSY);
	assert_int_equal(daxo_del(f->p, "k", 1), -EBUSY);
	assert_int_equal(daxo_kv_compact(f->p, NULL), -EBUSY);
	assert_ptr_equal(daxo_tx_current(f->p), tx);
	expect_val(f->p, "k", 1, "old", 3);
	daxo_tx_abort(tx);
	assert_null(daxo_tx_current(f->p));
	assert_int_equal(*obj, 7);
	expect_val(f->p, "k", 1, "old", 3);
	expect_missing(f->p, "k2", 2);
	/* and after the transaction, the same calls work */
	assert_int_equal(sput(f->p, "k", "new"), 0);
	expect_val(f->p, "k", 1, "new", 3);
	assert_int_equal(daxo_del(f->p, "k", 1), 0);
}

/*
 * The keyed store's objects (types DAXO_TYPE_LIB and up) are listed by
 * DAXO_TYPE_ANY, but a program that frees everything it iterates cannot
 * free them: daxo_free, daxo_realloc and daxo_tx_free refuse, and so do
 * allocations of those types. The store keeps working, daxo_check agrees.
 */
static void test_library_objects_refused(void **state)
{
	struct fx *f = *state;
	unsigned lib = 0, user = 0;
	daxo_oid o, x;
	daxo_tx *tx;

	assert_int_equal(sput(f->p, "k", "v"), 0);
	assert_int_equal(daxo_alloc(f->p, 64, 5, &o), 0);
	for (daxo_oid it = daxo_first(f->p, DAXO_TYPE_ANY); it;) {
		daxo_oid next = daxo_next(f->p, it, DAXO_TYPE_ANY);
		uint32_t t = daxo_oid_type(f->p, it);
		x = it;
		if (t >= DAXO_TYPE_LIB) {
			assert_int_equal(daxo_free(f->p, &x), -EINVAL);
			assert_non_null(strstr(daxo_errormsg(), "keyed store"));
			assert_int_equal(daxo_realloc(f->p, &x, 4096, 5, 0),
					 -EINVAL);
			assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
			assert_int_equal(daxo_tx_free(tx, it), -EINVAL);
			daxo_tx_abort(tx);
			lib++;
		} else {
			assert_int_equal(daxo_free(f->p, &x), 0);
			user++;
		}
		it = next;
	}
	assert_int_equal(user, 1);
	assert_true(lib >= 3); /* anchor, table, entry */
	assert_int_equal(daxo_alloc(f->p, 64, 0xFFFFFF03u, &o), -EINVAL);
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_alloc(tx, 64, DAXO_TYPE_LIB, &o), -EINVAL);
	daxo_tx_abort(tx);
	expect_val(f->p, "k", 1, "v", 1);
	assert_int_equal(sput(f->p, "k2", "w"), 0);
	expect_val(f->p, "k2", 2, "w", 1);
	fx_reopen(f);
	assert_int_equal(daxo_check(f->path, 0, NULL, NULL), 0);
	expect_val(f->p, "k", 1, "v", 1);
}

/* table_buckets -- the largest keyed-store table's bucket count, from its
 * object's size (type 0xFFFFFF02, a 64-byte header and 8 bytes a bucket) */
static uint64_t table_buckets(daxo_pool *p)
{
	uint64_t best = 0;

	for (daxo_oid o = daxo_first(p, 0xFFFFFF02u); o;
	     o = daxo_next(p, o, 0xFFFFFF02u)) {
		uint64_t n = (daxo_usable_size(p, o) - 64) / 8, b = 1;
		while (b * 2 <= n)
			b *= 2;
		if (b > best)
			best = b;
	}
	return best;
}

/*
 * The table doubles when the keys pass half its buckets -- decided from
 * the writer's own stripe and, past its share, the sum of the stripes'
 * counts (no counter every insert writes): not before, and not much after
 */
static void test_resize_at_half_load(void **state)
{
	struct fx *f = *state;
	char k[32];

	for (unsigned i = 0; i < 20000; i++) {
		keyname(k, sizeof(k), i);
		assert_int_equal(sput(f->p, k, "v"), 0);
		if (i + 1 == 15000)
			assert_int_equal(table_buckets(f->p), 32768);
	}
	assert_int_equal(table_buckets(f->p), 65536);
	for (unsigned i = 0; i < 20000; i += 997) {
		keyname(k, sizeof(k), i);
		expect_val(f->p, k, strlen(k), "v", 1);
	}
}

static int view_cb(const void *val, size_t vlen, void *arg)
{
	memcpy(arg, val, vlen);
	((char *)arg)[vlen] = 0;
	return (int)vlen;
}

static void test_get_view_zero_copy(void **state)
{
	struct fx *f = *state;
	char out[32];

	assert_int_equal(sput(f->p, "view", "zero-copy"), 0);
	assert_int_equal(daxo_get_view(f->p, "view", 4, view_cb, out), 9);
	assert_string_equal(out, "zero-copy");
	assert_int_equal(daxo_get_view(f->p, "nope", 4, view_cb, out), -ENOENT);
	assert_int_equal(daxo_get_view(f->p, "view", 0, view_cb, out), -EINVAL);
}

/* ---- model-based: a long random sequence against an in-memory map ---- */

#define MODEL_KEYS 1500

struct model_ent {
	bool present;
	size_t len;
	unsigned char *val;
};

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

/* model keys: binary, 1..41 bytes, distinct, derived from the index */
static size_t model_key(unsigned i, unsigned char *k)
{
	size_t len;

	if (i < 256) { /* one-byte keys, NUL included */
		k[0] = (unsigned char)i;
		return 1;
	}
	len = 2 + (i * 7919u) % 40;
	k[0] = (unsigned char)i;
	k[1] = (unsigned char)(i >> 8);
	for (size_t j = 2; j < len; j++)
		k[j] = (unsigned char)(i * j + j * 31);
	return len;
}

static void model_verify(daxo_pool *p, struct model_ent *m)
{
	unsigned char k[64];
	unsigned char *buf = malloc(70000);
	struct collect c = {0};
	unsigned present = 0;

	for (unsigned i = 0; i < MODEL_KEYS; i++) {
		size_t kl = model_key(i, k), got = 0;
		int r = daxo_get(p, k, kl, buf, 70000, &got);
		if (m[i].present) {
			present++;
			if (r || got != m[i].len ||
			    memcmp(buf, m[i].val, got) != 0)
				fail_msg("seed %llu: key %u: get %d len %zu, "
					 "model len %zu",
					 seed, i, r, got, m[i].len);
		} else if (r != -ENOENT) {
			fail_msg("seed %llu: key %u deleted but get says %d",
				 seed, i, r);
		}
	}
	assert_int_equal(daxo_foreach(p, collect_cb, &c), 0);
	if (c.n != present)
		fail_msg("seed %llu: foreach saw %u keys, model has %u", seed,
			 c.n, present);
	free(buf);
}

static void test_model_random_sequence(void **state)
{
	struct fx *f = *state;

	/*
	 * A bigger pool than the others: values up to 70 KB in every size
	 * class, and values over 64 KiB take a whole 256 KiB heap chunk.
	 */
	assert_int_equal(daxo_close(f->p), 0);
	unlink(f->path);
	f->p = NULL;
	if (daxo_create(f->path, "kvtest", 128ull << 20, 0600, &f->p))
		fail_msg("create: %s", daxo_errormsg());
	struct model_ent *m = calloc(MODEL_KEYS, sizeof(*m));
	unsigned char k[64];
	unsigned char *v = malloc(70000);
	const unsigned nops = 30000;

	rng_state = seed | 1;
	for (unsigned op = 0; op < nops; op++) {
		unsigned i = (unsigned)(rnd() % MODEL_KEYS);
		size_t kl = model_key(i, k);
		unsigned what = (unsigned)(rnd() % 100);
		int r;

		if (what < 60) {
			size_t len =
			    rnd() % 8 == 0 ? rnd() % 70000 : rnd() % 200;
			for (size_t j = 0; j < len; j++)
				v[j] = (unsigned char)rnd();
			r = daxo_put(f->p, k, kl, v, len);
			if (r)
				fail_msg("seed %llu op %u: put: %d %s", seed,
					 op, r, daxo_errormsg());
			free(m[i].val);
			m[i].val = malloc(len ? len : 1);
			memcpy(m[i].val, v, len);
			m[i].len = len;
			m[i].present = true;
		} else if (what < 85) {
			r = daxo_del(f->p, k, kl);
			if (r != (m[i].present ? 0 : -ENOENT))
				fail_msg("seed %llu op %u: del key %u: %d",
					 seed, op, i, r);
			m[i].present = false;
		} else if (what < 99) {
			size_t got = 0;
			r = daxo_get(f->p, k, kl, v, 70000, &got);
			if (m[i].present ? (r || got != m[i].len ||
					    memcmp(v, m[i].val, got))
					 : r != -ENOENT)
				fail_msg("seed %llu op %u: get key %u: %d",
					 seed, op, i, r);
		} else {
			fx_reopen(f); /* 1% of the operations */
		}
		if (op % 5000 == 4999)
			model_verify(f->p, m);
	}
	model_verify(f->p, m);
	fx_reopen(f);
	model_verify(f->p, m);
	for (unsigned i = 0; i < MODEL_KEYS; i++)
		free(m[i].val);
	free(m);
	free(v);
}

/* ---- threads: writers and lock-free readers on shared keys ---- */

#define THR_WRITERS 3
#define THR_READERS 2
#define THR_KEYS    4000
#define THR_OPS	    6000

struct thr {
	daxo_pool *p;
	unsigned id;
	int errors;
	char msg[200];
};

/*
 * A value is self-describing: "<key>:<ver>:" then filler of a length and
 * byte derived from (key, ver), so a reader can tell a torn or mixed value
 * from a real one.
 */
static size_t thr_val(char *v, unsigned key, unsigned ver)
{
	int n = sprintf(v, "%u:%u:", key, ver);
	/* odd versions have a length fixed by the key: replaced in place,
	 * under readers that must never see the bytes half changed */
	size_t len = ver % 2 ? 16 + (key * 31) % 300
			     : (size_t)n + (key * 31 + ver * 7) % 300;

	memset(v + n, 'a' + (int)((key + ver) % 26), len - (size_t)n);
	return len;
}

static bool thr_val_ok(const char *v, size_t len)
{
	unsigned key, ver;
	char ref[400];

	if (len >= sizeof(ref) || sscanf(v, "%u:%u:", &key, &ver) != 2)
		return false;
	return thr_val(ref, key, ver) == len && memcmp(ref, v, len) == 0;
}

static void *thr_writer(void *arg)
{
	struct thr *t = arg;
	char k[32], v[400];
	uint64_t st = 0x9e3779b97f4a7c15ull * (t->id + 1) ^ seed;

	for (unsigned op = 0; op < THR_OPS; op++) {
		st ^= st << 13;
		st ^= st >> 7;
		st ^= st << 17;
		/* writers share the key space, each with its own versions */
		unsigned key = (unsigned)(st % THR_KEYS);
		snprintf(k, sizeof(k), "t%u", key);
		int r;
		if (st % 10 < 7) {
			size_t vl = thr_val(v, key, op * THR_WRITERS + t->id);
			r = daxo_put(t->p, k, strlen(k), v, vl);
		} else {
			r = daxo_del(t->p, k, strlen(k));
			if (r == -ENOENT)
				r = 0;
		}
		if (r && !t->errors++)
			snprintf(t->msg, sizeof(t->msg), "writer %u: %d %s",
				 t->id, r, daxo_errormsg());
	}
	return NULL;
}

static void *thr_reader(void *arg)
{
	struct thr *t = arg;
	char k[32], v[400];
	uint64_t st = 12345 + t->id;

	for (unsigned op = 0; op < THR_OPS * 3; op++) {
		st = st * 6364136223846793005ull + 1442695040888963407ull;
		unsigned key = (unsigned)((st >> 33) % THR_KEYS);
		size_t got = 0;
		snprintf(k, sizeof(k), "t%u", key);
		int r = daxo_get(t->p, k, strlen(k), v, sizeof(v), &got);
		if (r == -ENOENT)
			continue;
		if (r || !thr_val_ok(v, got) || (unsigned)atoi(v) != key) {
			if (!t->errors++)
				snprintf(t->msg, sizeof(t->msg),
					 "reader: key %u: %d len %zu", key, r,
					 got);
		}
	}
	return NULL;
}

static int thr_count_cb(const void *k, size_t kl, const void *v, size_t vl,
			void *arg)
{
	(void)k;
	(void)kl;
	if (!thr_val_ok(v, vl))
		(*(int *)arg)++;
	return 0;
}

static int thr_view_cb(const void *v, size_t vl, void *arg)
{
	return thr_val_ok(v, vl) ? 0 : (*(int *)arg = 1);
}

/* walks and zero-copy reads while the writers run (and resize) */
static void *thr_scanner(void *arg)
{
	struct thr *t = arg;
	char k[32];

	for (unsigned round = 0; round < 20; round++) {
		int bad = 0, r;
		r = daxo_foreach(t->p, thr_count_cb, &bad);
		if ((r || bad) && !t->errors++)
			snprintf(t->msg, sizeof(t->msg),
				 "foreach: %d, %d bad values", r, bad);
		for (unsigned key = round; key < THR_KEYS; key += 97) {
			snprintf(k, sizeof(k), "t%u", key);
			r = daxo_get_view(t->p, k, strlen(k), thr_view_cb,
					  &bad);
			if ((r == 1 || bad || (r && r != -ENOENT)) &&
			    !t->errors++)
				snprintf(t->msg, sizeof(t->msg),
					 "get_view t%u: %d", key, r);
		}
	}
	return NULL;
}

/*
 * One writer flips one key between two values of the same length (so
 * every put rewrites the value in place) while readers copy it: a reader
 * must see one value or the other, never bytes of both.
 */
struct flip {
	daxo_pool *p;
	_Atomic int done;
	_Atomic unsigned long torn, reads;
};

#define FLIP_LEN 1024

static void *flip_reader(void *arg)
{
	struct flip *f = arg;
	char v[FLIP_LEN];

	while (!atomic_load(&f->done)) {
		size_t got = 0;
		if (daxo_get(f->p, "flip", 4, v, sizeof(v), &got) != 0 ||
		    got != FLIP_LEN) {
			atomic_fetch_add(&f->torn, 1);
			continue;
		}
		for (size_t i = 1; i < FLIP_LEN; i++)
			if (v[i] != v[0]) {
				atomic_fetch_add(&f->torn, 1);
				break;
			}
		atomic_fetch_add(&f->reads, 1);
	}
	return NULL;
}

static void test_threads_inplace_never_torn(void **state)
{
	struct fx *fx = *state;
	struct flip f = {.p = fx->p};
	static char a[FLIP_LEN], b[FLIP_LEN];
	pthread_t r[2];

	memset(a, 'A', sizeof(a));
	memset(b, 'B', sizeof(b));
	assert_int_equal(daxo_put(fx->p, "flip", 4, a, sizeof(a)), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&r[i], NULL, flip_reader, &f),
				 0);
	for (int i = 0; i < 20000; i++)
		assert_int_equal(
		    daxo_put(fx->p, "flip", 4, i % 2 ? a : b, FLIP_LEN), 0);
	atomic_store(&f.done, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(r[i], NULL);
	assert_true(atomic_load(&f.reads) > 0);
	assert_int_equal(atomic_load(&f.torn), 0);
}

/*
 * daxo_get_many under writers: keys replaced in place (same length), keys
 * replaced by new entries (other lengths: the chain changes), keys deleted
 * and put back, and a resize; readers look them up in batches and must see
 * whole values of the right key, or -ENOENT for a deleted one.
 */
struct many {
	daxo_pool *p;
	_Atomic int done;
	_Atomic unsigned long bad, found, batches;
};

#define MANY_KEYS 600

static void *many_reader(void *arg)
{
	struct many *m = arg;
	struct daxo_get_req q[13];
	static _Thread_local char k[13][16], v[13][400];
	uint64_t st = (uintptr_t)&q ^ seed;

	while (!atomic_load(&m->done)) {
		for (int i = 0; i < 13; i++) {
			st = st * 6364136223846793005ull + 1;
			snprintf(k[i], sizeof(k[i]), "t%u",
				 (unsigned)((st >> 33) % MANY_KEYS));
			q[i] = (struct daxo_get_req){k[i], strlen(k[i]), v[i],
						     sizeof(v[i]), 0, 0};
		}
		int r = daxo_get_many(m->p, q, 13), found = 0;
		for (int i = 0; i < 13; i++) {
			if (q[i].rc == -ENOENT)
				continue;
			if (q[i].rc || !thr_val_ok(v[i], q[i].vlen) ||
			    (unsigned)atoi(v[i]) != (unsigned)atoi(k[i] + 1))
				atomic_fetch_add(&m->bad, 1);
			else
				found++;
		}
		if (r != found)
			atomic_fetch_add(&m->bad, 1);
		atomic_fetch_add(&m->found, (unsigned long)found);
		atomic_fetch_add(&m->batches, 1);
	}
	return NULL;
}

static void test_threads_get_many_consistent(void **state)
{
	struct fx *fx = *state;
	struct many m = {.p = fx->p};
	pthread_t r[2];
	char k[16], v[400];

	for (unsigned key = 0; key < MANY_KEYS / 2; key++) {
		snprintf(k, sizeof(k), "t%u", key);
		assert_int_equal(
		    daxo_put(fx->p, k, strlen(k), v, thr_val(v, key, 1)), 0);
	}
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&r[i], NULL, many_reader, &m),
				 0);
	/* 6000 writes at least, and on until the readers ran 200 batches
	 * (on a loaded machine they may start late) */
	for (unsigned op = 0;
	     op < 6000 || (atomic_load(&m.batches) < 200 && op < 2000000);
	     op++) {
		unsigned key = (op * 7919) % MANY_KEYS;
		int rc;

		snprintf(k, sizeof(k), "t%u", key);
		if (op % 5 == 4) {
			rc = daxo_del(fx->p, k, strlen(k));
			assert_true(rc == 0 || rc == -ENOENT);
		} else {
			/* odd versions: the key's fixed length (in place) */
			unsigned ver = op % 3 ? 2 * op + 1 : 2 * op;
			assert_int_equal(daxo_put(fx->p, k, strlen(k), v,
						  thr_val(v, key, ver)),
					 0);
		}
	}
	atomic_store(&m.done, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(r[i], NULL);
	assert_true(atomic_load(&m.found) > 0);
	assert_int_equal(atomic_load(&m.bad), 0);
}

static void test_threads_concurrent_put_get_del(void **state)
{
	struct fx *f = *state;
	enum { N = THR_WRITERS + THR_READERS + 1 };
	pthread_t th[N];
	struct thr t[N];
	struct daxo_stats st;
	int bad = 0;

	for (unsigned i = 0; i < N; i++) {
		t[i] = (struct thr){.p = f->p, .id = i};
		assert_int_equal(pthread_create(&th[i], NULL,
						i < THR_WRITERS ? thr_writer
						: i < N - 1	? thr_reader
								: thr_scanner,
						&t[i]),
				 0);
	}
	for (unsigned i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		if (t[i].errors)
			fail_msg("seed %llu: %d errors, first: %s", seed,
				 t[i].errors, t[i].msg);
	}
	assert_int_equal(daxo_stats(f->p, &st), 0);
	/* the writers did commit (puts, and the deletes that found a key) */
	assert_true(st.tx_commits >= THR_WRITERS * THR_OPS / 2);
	assert_int_equal(daxo_foreach(f->p, thr_count_cb, &bad), 0);
	assert_int_equal(bad, 0);
	fx_reopen(f);
	assert_int_equal(daxo_foreach(f->p, thr_count_cb, &bad), 0);
	assert_int_equal(bad, 0);
}

int main(void)
{
	const char *s = getenv("DAXO_TEST_SEED");
	const char *filter = getenv("DAXO_TEST_FILTER");
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	    T(test_empty_store_get_enoent),
	    T(test_put_get_roundtrip),
	    T(test_limits_einval),
	    T(test_empty_value_ok),
	    T(test_binary_keys_distinct),
	    T(test_replace_frees_old),
	    T(test_replace_same_length_in_place),
	    T(test_threads_inplace_never_torn),
	    T(test_delete_removes),
	    T(test_get_small_buffer_enobufs),
	    T(test_get_many_matches_get),
	    T(test_get_many_args),
	    T(test_large_values_roundtrip),
	    T(test_inplace_entry_boundaries),
	    T(test_resize_keeps_all),
	    T(test_resize_interrupted_by_reopen),
	    T(test_resize_end_old_table_reused),
	    cmocka_unit_test(test_full_pool_enospc_intact),
	    T(test_corrupt_store_euclean),
	    T(test_persists_across_reopen),
	    T(test_readonly_gets_work_puts_erofs),
	    T(test_fences_put_del_2_get_0),
	    T(test_fences_put_exact),
	    T(test_foreach_visits_each_once),
	    T(test_get_view_zero_copy),
	    T(test_write_in_open_tx_ebusy),
	    T(test_library_objects_refused),
	    T(test_resize_at_half_load),
	    T(test_model_random_sequence),
	    T(test_threads_concurrent_put_get_del),
	    T(test_threads_get_many_consistent),
#undef T
	};

	seed = s ? strtoull(s, NULL, 0) : (unsigned long long)time(NULL);
	printf("# test_kv: seed %llu (DAXO_TEST_SEED to repeat)\n", seed);
	if (filter)
		cmocka_set_test_filter(filter);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
