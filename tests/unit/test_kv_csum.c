/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_kv_csum.c -- value checksums, chosen at creation
 * (daxo_pool_create with DAXO_CREATE_CHECKSUMS, doc/kv-format.md): values
 * of every size round-trip, also across a reopen and after in-place
 * replacement (still one fence a put); a damaged value byte, a damaged
 * checksum, or two values swapped between keys give -EUCLEAN from
 * daxo_get (whole and short buffers), daxo_get_many (that request only),
 * daxo_get_view (no callback) and daxo_foreach (the key not handed out), and
 * daxo_check calls the pool damaged -- where a pool without checksums hands out
 * the damaged bytes. The options are checked; older pools are untouched
 * (test_format).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "daxo.h"
#include "test_fx.h"

/* doc/FORMAT.md, doc/kv-format.md */
#define INCOMPAT_KV_CSUM (1ull << 2)
#define VSUM_OFF	 32

#define fx test_fx

static int setup(void **state)
{
	struct fx *f = test_fx_new("csum");
	struct daxo_create_opts o = {.flags = DAXO_CREATE_CHECKSUMS};

	if (!f ||
	    daxo_pool_create(f->path, "csum", 32ull << 20, 0600, &o, &f->p)) {
		fprintf(stderr, "create: %s\n", daxo_errormsg());
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static void reopen(struct fx *f)
{
	assert_int_equal(daxo_close(f->p), 0);
	assert_int_equal(daxo_open(f->path, "csum", 0, &f->p), 0);
}

static void fill_val(uint8_t *v, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		v[i] = (uint8_t)(i * 31 + seed * 7 + (i >> 8));
}

static void expect_val(daxo_pool *p, const char *k, const uint8_t *v,
		       size_t len)
{
	uint8_t *buf = malloc(len + 1);
	size_t got = 0;
	int r = daxo_get(p, k, strlen(k), buf, len + 1, &got);

	if (r)
		fail_msg("get %s: %d %s", k, r, daxo_errormsg());
	assert_int_equal(got, len);
	if (len)
		assert_memory_equal(buf, v, len);
	free(buf);
}

/* values of every size, keys short and long, reopened, checked clean */
static void test_roundtrip_sizes(void **state)
{
	struct fx *f = *state;
	static const size_t sizes[] = {0,    1,	   24,	 63,   64,   65,
				       1500, 1536, 1537, 5000, 70000};
	static const size_t klens[] = {1, 24, 25, 100};
	struct daxo_info in;
	uint8_t *v = malloc(70000);
	char k[128];

	assert_int_equal(daxo_pool_info(f->p, &in), 0);
	assert_true(in.incompat & INCOMPAT_KV_CSUM);
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < ARRAY_LEN(sizes); i++)
			for (size_t j = 0; j < ARRAY_LEN(klens); j++) {
				memset(k, 'a' + (int)i, klens[j]);
				k[klens[j]] = 0;
				k[0] = (char)('A' + i * ARRAY_LEN(klens) + j);
				fill_val(v, sizes[i], (unsigned)(i * 4 + j));
				if (round == 0)
					assert_int_equal(daxo_put(f->p, k,
								  strlen(k), v,
								  sizes[i]),
							 0);
				expect_val(f->p, k, v, sizes[i]);
			}
		reopen(f);
	}
	free(v);
	assert_int_equal(daxo_close(f->p), 0);
	f->p = NULL;
	assert_int_equal(daxo_check(f->path, 0, NULL, NULL), 0);
}

/* a value replaced by one of the same length, in place: its checksum goes
 * with it in the same record -- one fence a put, as without checksums */
static void test_inplace_replace_one_fence(void **state)
{
	struct fx *f = *state;
	struct daxo_stats a, b;
	uint8_t v[64];

	fill_val(v, sizeof(v), 0);
	assert_int_equal(daxo_put(f->p, "k", 1, v, sizeof(v)), 0);
	for (unsigned i = 1; i <= 100; i++) {
		fill_val(v, sizeof(v), i);
		assert_int_equal(daxo_stats(f->p, &a), 0);
		assert_int_equal(daxo_put(f->p, "k", 1, v, sizeof(v)), 0);
		assert_int_equal(daxo_stats(f->p, &b), 0);
		assert_int_equal(b.fences - a.fences, 1);
		expect_val(f->p, "k", v, sizeof(v));
	}
	reopen(f);
	expect_val(f->p, "k", v, sizeof(v));
}

/* the pool bytes of @k's value, found through a view (key of <= 24
 * bytes: the entry starts 64 bytes before it) */
static int view_ptr_cb(const void *val, size_t vlen, void *arg)
{
	(void)vlen;
	*(const void **)arg = val;
	return 0;
}

static uint8_t *value_of(daxo_pool *p, const char *k)
{
	const void *v = NULL;

	assert_int_equal(daxo_get_view(p, k, strlen(k), view_ptr_cb, &v), 0);
	assert_non_null(v);
	return (uint8_t *)v;
}

static int count_cb(const void *k, size_t kl, const void *v, size_t vl,
		    void *arg)
{
	(void)v, (void)vl;
	if (kl == 3 && memcmp(k, "bad", 3) == 0)
		fail_msg("the damaged key was handed out");
	(*(unsigned *)arg)++;
	return 0;
}

static int never_cb(const void *val, size_t vlen, void *arg)
{
	(void)val, (void)vlen, (void)arg;
	fail_msg("a view of a damaged value was handed out");
	return 0;
}

/* every read path refuses the key "bad"; the others are fine; the
 * checker calls the pool damaged */
static void expect_refused(struct fx *f)
{
	uint8_t buf[200];
	size_t got;
	unsigned n = 0;

	assert_int_equal(daxo_get(f->p, "bad", 3, buf, sizeof(buf), &got),
			 -EUCLEAN);
	assert_non_null(strstr(daxo_errormsg(), "checksum"));
	assert_non_null(strstr(daxo_errormsg(), "offset"));
	/* a buffer too small: the value in the pool is checked */
	assert_int_equal(daxo_get(f->p, "bad", 3, buf, 10, &got), -EUCLEAN);
	assert_int_equal(daxo_get_view(f->p, "bad", 3, never_cb, NULL),
			 -EUCLEAN);
	assert_int_equal(daxo_foreach(f->p, count_cb, &n), -EUCLEAN);
	assert_int_equal(daxo_get(f->p, "good", 4, buf, sizeof(buf), &got), 0);
	/* a batch: the damaged key's request alone fails */
	uint8_t b2[200];
	struct daxo_get_req q[2] = {{"bad", 3, buf, sizeof(buf), 0, 0},
				    {"good", 4, b2, sizeof(b2), 0, 0}};
	assert_int_equal(daxo_get_many(f->p, q, 2), 1);
	assert_int_equal(q[0].rc, -EUCLEAN);
	assert_int_equal(q[1].rc, 0);
	assert_int_equal(daxo_close(f->p), 0);
	f->p = NULL;
	assert_int_equal(daxo_check(f->path, 0, NULL, NULL), 2);
}

static void two_keys(struct fx *f)
{
	uint8_t v[100];

	fill_val(v, sizeof(v), 1);
	assert_int_equal(daxo_put(f->p, "bad", 3, v, sizeof(v)), 0);
	fill_val(v, sizeof(v), 2);
	assert_int_equal(daxo_put(f->p, "good", 4, v, sizeof(v)), 0);
}

static void test_damaged_value_byte_euclean(void **state)
{
	struct fx *f = *state;

	two_keys(f);
	value_of(f->p, "bad")[57] ^= 0x20;
	reopen(f);
	expect_refused(f);
}

static void test_damaged_checksum_euclean(void **state)
{
	struct fx *f = *state;

	two_keys(f);
	(value_of(f->p, "bad") - 64 + VSUM_OFF)[3] ^= 0x01;
	expect_refused(f);
}

/* two values of the same length swapped, checksums and all: each is
 * bound to its own key */
static void test_swapped_values_euclean(void **state)
{
	struct fx *f = *state;
	uint8_t t[100 + 64], *a, *b;

	two_keys(f);
	a = value_of(f->p, "bad") - 64;
	b = value_of(f->p, "good") - 64;
	memcpy(t, a + VSUM_OFF, 8);
	memcpy(a + VSUM_OFF, b + VSUM_OFF, 8);
	memcpy(b + VSUM_OFF, t, 8);
	memcpy(t, a + 64, 100);
	memcpy(a + 64, b + 64, 100);
	memcpy(b + 64, t, 100);
	uint8_t buf[200];
	size_t got;
	assert_int_equal(daxo_get(f->p, "bad", 3, buf, sizeof(buf), &got),
			 -EUCLEAN);
	assert_int_equal(daxo_get(f->p, "good", 4, buf, sizeof(buf), &got),
			 -EUCLEAN);
}

/* without checksums (the default) the same damage goes unseen */
static void test_default_pool_has_none(void **state)
{
	const char *path = test_pool_path("csum-off");
	struct daxo_info in;
	daxo_pool *p;
	uint8_t v[100], buf[200];
	size_t got;

	(void)state;
	assert_int_equal(
	    daxo_pool_create(path, NULL, 16ull << 20, 0600, NULL, &p), 0);
	assert_int_equal(daxo_pool_info(p, &in), 0);
	assert_false(in.incompat & INCOMPAT_KV_CSUM);
	fill_val(v, sizeof(v), 1);
	assert_int_equal(daxo_put(p, "bad", 3, v, sizeof(v)), 0);
	value_of(p, "bad")[57] ^= 0x20;
	assert_int_equal(daxo_get(p, "bad", 3, buf, sizeof(buf), &got), 0);
	assert_int_equal(buf[57], v[57] ^ 0x20);
	assert_int_equal(daxo_close(p), 0);
	unlink(path);
}

static void test_options_checked(void **state)
{
	const char *path = test_pool_path("csum-opts");
	struct daxo_create_opts o = {.flags = 0x100};
	daxo_pool *p = NULL;

	(void)state;
	assert_int_equal(
	    daxo_pool_create(path, NULL, 16ull << 20, 0600, &o, &p), -EINVAL);
	assert_non_null(strstr(daxo_errormsg(), "flags"));
	o.flags = DAXO_CREATE_CHECKSUMS;
	o.reserved[3] = 1;
	assert_int_equal(
	    daxo_pool_create(path, NULL, 16ull << 20, 0600, &o, &p), -EINVAL);
	assert_int_equal(access(path, F_OK), -1);
}

/*
 * threads: a writer replaces values in place (value and checksum change
 * under lock-free readers) while a reader gets them: a reader that sees a
 * half-written value retries, so it never gets -EUCLEAN nor mixed bytes
 */
struct race {
	daxo_pool *p;
	atomic_bool stop;
	atomic_uint bad;
};

static void *race_writer(void *arg)
{
	struct race *r = arg;
	uint8_t v[256];

	for (unsigned i = 0; i < 4000; i++) {
		char k[2] = {(char)('a' + i % 4), 0};
		memset(v, (int)(i & 0xff), sizeof(v));
		if (daxo_put(r->p, k, 1, v, (i % 3 + 1) * 64))
			atomic_fetch_add(&r->bad, 1);
	}
	atomic_store(&r->stop, true);
	return NULL;
}

static void *race_reader(void *arg)
{
	struct race *r = arg;
	uint8_t buf[256];
	size_t got;

	while (!atomic_load(&r->stop))
		for (char c = 'a'; c <= 'd'; c++) {
			if (daxo_get(r->p, &c, 1, buf, sizeof(buf), &got)) {
				atomic_fetch_add(&r->bad, 1);
				continue;
			}
			for (size_t j = 1; j < got; j++)
				if (buf[j] != buf[0]) {
					atomic_fetch_add(&r->bad, 1);
					break;
				}
		}
	return NULL;
}

static void test_threads_inplace_never_euclean(void **state)
{
	struct fx *f = *state;
	struct race r = {.p = f->p};
	pthread_t w, g;
	uint8_t v[64] = {0};

	for (char c = 'a'; c <= 'd'; c++)
		assert_int_equal(daxo_put(f->p, &c, 1, v, sizeof(v)), 0);
	assert_int_equal(pthread_create(&g, NULL, race_reader, &r), 0);
	assert_int_equal(pthread_create(&w, NULL, race_writer, &r), 0);
	pthread_join(w, NULL);
	pthread_join(g, NULL);
	assert_int_equal(atomic_load(&r.bad), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, test_fx_teardown)
	    T(test_roundtrip_sizes),
	    T(test_inplace_replace_one_fence),
	    T(test_damaged_value_byte_euclean),
	    T(test_damaged_checksum_euclean),
	    T(test_swapped_values_euclean),
	    T(test_threads_inplace_never_euclean),
	    cmocka_unit_test(test_default_pool_has_none),
	    cmocka_unit_test(test_options_checked),
#undef T
	};

	const char *filter = getenv("DAXO_TEST_FILTER");

	if (filter)
		cmocka_set_test_filter(filter);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
