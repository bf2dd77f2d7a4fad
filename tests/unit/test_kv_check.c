/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_kv_check.c -- daxo_check on pools with a keyed store (lib/kv_check.c):
 * a healthy store (also in the middle of a resize) is consistent, and each
 * kind of damage -- a wild bucket head, a cycle, a wrong hash, an entry in
 * the wrong bucket, a wrong count, a damaged anchor or table -- is reported
 * as fatal at the right offset, without a crash or a hang.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "daxo.h"
#include "kv.h" /* the format, to forge well-formed words */
#include "test_common.h"

struct fx {
	char path[128];
};

struct seen {
	int fatal;
	uint64_t fatal_off;
	char fatal_msg[256];
	int kv_info;
};

static void report(int sev, uint64_t off, const char *msg, void *arg)
{
	struct seen *s = arg;

	if (sev == DAXO_CHECK_FATAL && !s->fatal++) {
		s->fatal_off = off;
		snprintf(s->fatal_msg, sizeof(s->fatal_msg), "%s", msg);
	}
	if (sev == DAXO_CHECK_INFO && strstr(msg, "keyed store: ") &&
	    strstr(msg, " keys, "))
		s->kv_info++;
}

static int setup(void **state)
{
	static unsigned n;
	struct fx *f = calloc(1, sizeof(*f));
	daxo_pool *p;
	char k[32];

	test_path(f->path, sizeof(f->path), "daxo-kv-check-%d-%u.pool",
		  (int)getpid(), n++);
	unlink(f->path);
	if (daxo_create(f->path, NULL, 16ull << 20, 0600, &p))
		return -1;
	/* 300 keys: the table has grown once and may still be migrating */
	for (unsigned i = 0; i < 300; i++) {
		snprintf(k, sizeof(k), "key%u", i);
		if (daxo_put(p, k, strlen(k), k, strlen(k)))
			return -1;
	}
	daxo_close(p);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	unlink(f->path);
	free(f);
	return 0;
}

/* open, let @fn damage the store through direct pointers, close */
static void damage(struct fx *f, void (*fn)(daxo_pool *p))
{
	daxo_pool *p;

	assert_int_equal(daxo_open(f->path, NULL, 0, &p), 0);
	fn(p);
	assert_int_equal(daxo_close(p), 0);
}

/* first_entry -- the first entry object of the store, and its size */
static daxo_oid first_entry(struct fx *f, uint64_t *size)
{
	daxo_pool *p;
	daxo_oid e;

	assert_int_equal(daxo_open(f->path, NULL, 0, &p), 0);
	e = daxo_first(p, KV_TYPE_ENTRY);
	if (size)
		*size = daxo_usable_size(p, e);
	assert_int_equal(daxo_close(p), 0);
	return e;
}

static int check(struct fx *f, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	/* verbose: the store's summary is an INFO report at its offset */
	return daxo_check(f->path, DAXO_CHECK_VERBOSE, report, s);
}

/* the newest (current) table: the one with the most buckets */
static uint64_t *cur_table(daxo_pool *p, uint64_t *n)
{
	uint64_t *best = NULL;

	for (daxo_oid o = daxo_first(p, KV_TYPE_TABLE); o;
	     o = daxo_next(p, o, KV_TYPE_TABLE)) {
		uint64_t *t = daxo_direct(p, o);
		if (!best || t[1] > best[1])
			best = t;
	}
	assert_non_null(best);
	*n = best[1];
	return best;
}

static void test_healthy_store_consistent(void **state)
{
	struct fx *f = *state;
	struct seen s;

	assert_int_equal(check(f, &s), 0);
	assert_int_equal(s.fatal, 0);
	assert_int_equal(s.kv_info, 1);
}

static struct kv_fmt fmt(daxo_pool *p)
{
	struct daxo_info in;

	assert_int_equal(daxo_pool_info(p, &in), 0);
	return kv_fmt_of(in.incompat);
}

/* the offset of the word at @w */
static uint64_t where(daxo_pool *p, const void *w)
{
	return daxo_oid_of(p, w);
}

/* head -- a non-empty bucket's head word */
static uint64_t *head(daxo_pool *p)
{
	uint64_t n, *t = cur_table(p, &n);

	for (uint64_t b = 0; b < n; b++)
		if ((t[8 + b] & KV_LINK_MASK) > KV_MOVED)
			return &t[8 + b];
	fail_msg("no non-empty bucket");
	return NULL;
}

/* a well-formed link (its check right) to where no entry is */
static void wild_head(daxo_pool *p)
{
	uint64_t *w = head(p);

	*w = kv_link(fmt(p), 0x777777777770ull, where(p, w));
}

static void test_wild_bucket_head_fatal(void **state)
{
	struct fx *f = *state;
	struct seen s;

	damage(f, wild_head);
	assert_int_equal(check(f, &s), 2);
	assert_non_null(strstr(s.fatal_msg, "not a live entry"));
}

/* a link word whose check does not match its target */
static void garbled_head(daxo_pool *p)
{
	*head(p) ^= 0x40;
}

static void test_damaged_link_fatal(void **state)
{
	struct fx *f = *state;
	struct seen s;

	damage(f, garbled_head);
	assert_int_equal(check(f, &s), 2);
	assert_non_null(strstr(s.fatal_msg, "damaged link"));
}

/* a value length one more than the header's check word says */
static void long_value(daxo_pool *p)
{
	daxo_oid e = daxo_first(p, KV_TYPE_ENTRY);

	((struct kv_entry *)daxo_direct(p, e))->vlen++;
}

static void test_damaged_entry_header_fatal(void **state)
{
	struct fx *f = *state;
	struct seen s;
	daxo_oid e = first_entry(f, NULL);

	damage(f, long_value);
	assert_int_equal(check(f, &s), 2);
	assert_non_null(strstr(s.fatal_msg, "check word"));
	assert_int_equal(s.fatal_off, e + 20);
}

static void cycle(daxo_pool *p)
{
	daxo_oid e = daxo_first(p, KV_TYPE_ENTRY);
	uint64_t *w = daxo_direct(p, e);

	w[0] = kv_link(fmt(p), e, e); /* next = itself */
}

static void test_cycle_fatal_no_hang(void **state)
{
	struct fx *f = *state;
	struct seen s;

	damage(f, cycle);
	assert_int_equal(check(f, &s), 2);
	assert_non_null(strstr(s.fatal_msg, "cycle"));
}

static void wrong_hash(daxo_pool *p)
{
	daxo_oid e = daxo_first(p, KV_TYPE_ENTRY);
	struct kv_entry *en = daxo_direct(p, e);

	en->hash ^= 0x100000000ull;
	/* the header's check word agrees: the hash itself must be caught */
	if (fmt(p).links)
		en->flags = kv_hcheck(en->hash, en->klen, en->vlen);
}

static void test_wrong_hash_fatal(void **state)
{
	struct fx *f = *state;
	struct seen s;
	daxo_oid e = first_entry(f, NULL);

	damage(f, wrong_hash);
	assert_int_equal(check(f, &s), 2);
	assert_non_null(strstr(s.fatal_msg, "hash"));
	assert_int_equal(s.fatal_off, e + 8);
}

static void wrong_count(daxo_pool *p)
{
	daxo_oid a = daxo_first(p, KV_TYPE_ANCHOR);
	uint64_t *w = daxo_direct(p, a);

	w[8 + 5] += 1; /* count[5] */
}

static void test_wrong_count_fatal(void **state)
{
	struct fx *f = *state;
	struct seen s;
	daxo_pool *p;
	daxo_oid a;

	assert_int_equal(daxo_open(f->path, NULL, 0, &p), 0);
	a = daxo_first(p, KV_TYPE_ANCHOR);
	daxo_close(p);
	damage(f, wrong_count);
	assert_int_equal(check(f, &s), 2);
	assert_non_null(strstr(s.fatal_msg, "stripe 5"));
	assert_int_equal(s.fatal_off, a + 64 + 5 * 8);
}

static void bad_anchor(daxo_pool *p)
{
	daxo_oid a = daxo_first(p, KV_TYPE_ANCHOR);

	*(uint64_t *)daxo_direct(p, a) = 0;
}

static void test_bad_anchor_fatal(void **state)
{
	struct fx *f = *state;
	struct seen s;

	damage(f, bad_anchor);
	assert_int_equal(check(f, &s), 2);
	assert_non_null(strstr(s.fatal_msg, "anchor magic"));
}

static void bad_table(daxo_pool *p)
{
	uint64_t n, *t = cur_table(p, &n);

	t[1] = n * 2; /* bucket count disagrees with the anchor */
}

static void test_bad_table_fatal(void **state)
{
	struct fx *f = *state;
	struct seen s;

	damage(f, bad_table);
	assert_int_equal(check(f, &s), 2);
	assert_non_null(strstr(s.fatal_msg, "table"));
}

/*
 * An entry's key length raised from 4-6 to 40: header, key and value (at
 * most 78 bytes) would still fit its 128-byte object, but in a format 1.2 pool
 * the value starts at the next 64-byte boundary after the key, 128, so it does
 * not: the check must size entries as the format lays them out.
 */
static void long_key(daxo_pool *p)
{
	daxo_oid e = daxo_first(p, KV_TYPE_ENTRY);
	uint32_t *klen = (uint32_t *)((char *)daxo_direct(p, e) + 16);

	assert_true(*klen >= 4 && *klen <= 6); /* "key0" .. "key299" */
	*klen = 40;
}

static void test_value_past_object_fatal(void **state)
{
	struct fx *f = *state;
	struct seen s;
	uint64_t size;
	daxo_oid e = first_entry(f, &size);

	assert_int_equal(size, 128);
	damage(f, long_key);
	assert_int_equal(check(f, &s), 2);
	assert_non_null(strstr(s.fatal_msg, "does not fit its object"));
	assert_int_equal(s.fatal_off, e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	    T(test_healthy_store_consistent),
	    T(test_wild_bucket_head_fatal),
	    T(test_cycle_fatal_no_hang),
	    T(test_wrong_hash_fatal),
	    T(test_wrong_count_fatal),
	    T(test_bad_anchor_fatal),
	    T(test_bad_table_fatal),
	    T(test_value_past_object_fatal),
	    T(test_damaged_link_fatal),
	    T(test_damaged_entry_header_fatal),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
