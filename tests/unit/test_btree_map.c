/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_btree_map.c -- examples/btree_map.c, the B-tree ported from PMDK's
 * btree_map to the native API: random inserts and removals against a
 * model with the tree's shape checked as it goes, nested use inside a
 * caller's transaction (abort, an error of an inner block, a missing key
 * that must not abort), persistence across a reopen, and its cost in
 * fences.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "btree_map.h"
#include "daxo.h"
#include "test_common.h"

#define VALUE_TYPE 3
#define UNIVERSE   4096 /* keys 0..4095: inserts and removals collide */

struct root {
	daxo_oid map;
};

struct fixture {
	const char *path;
	daxo_pool *p;
	struct root *r;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	test_env();
	f->path = test_pool_path("btree");
	f->p = test_pool_root(f->path, "btree", true, 64 << 20,
			      sizeof(struct root), (void **)&f->r);
	assert_int_equal(btree_map_daxo_create(f->p, &f->r->map), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	daxo_close(f->p);
	unlink(f->path);
	free(f);
	return 0;
}

static unsigned count(daxo_pool *p, uint32_t type)
{
	unsigned n = 0;

	for (daxo_oid o = daxo_first(p, type); o; o = daxo_next(p, o, type))
		n++;
	return n;
}

static uint64_t fences(void)
{
	struct daxo_stats s;

	assert_int_equal(daxo_thread_stats(&s), 0);
	return s.fences;
}

static void value_ctor(daxo_pool *p, void *ptr, void *arg)
{
	(void)p;
	*(uint64_t *)ptr = ~*(uint64_t *)arg;
}

static int put(struct fixture *f, uint64_t key)
{
	return btree_map_daxo_insert_new(f->p, f->r->map, key, 8, VALUE_TYPE,
					 value_ctor, &key);
}

/* has -- @key is in the map with its value */
static int has(struct fixture *f, uint64_t key)
{
	const uint64_t *v =
	    daxo_direct(f->p, btree_map_daxo_get(f->p, f->r->map, key));

	if (!v)
		return 0;
	assert_int_equal(*v, ~key);
	return 1;
}

/* sound -- the tree's shape is right and it holds @n keys */
static void sound(struct fixture *f, uint64_t n)
{
	const char *why = NULL;
	uint64_t got = ~0ull;
	int ret = btree_map_daxo_check(f->p, f->r->map, &got, &why);

	if (ret)
		fail_msg("btree_map_daxo_check: %d: %s", ret, why);
	assert_int_equal(got, n);
	assert_int_equal(count(f->p, VALUE_TYPE), n);
}

struct walk {
	const uint8_t *in;
	uint64_t next; /* every key below it was seen or is absent */
};

static int walk_cb(uint64_t key, daxo_oid value, void *arg)
{
	struct walk *w = arg;

	(void)value;
	for (; w->next < key; w->next++)
		assert_false(w->in[w->next]);
	assert_true(w->in[key]);
	w->next = key + 1;
	return 0;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* random inserts and removals of keys 0..UNIVERSE-1 against a model */
static void test_random(void **state)
{
	struct fixture *f = *state;
	uint8_t in[UNIVERSE] = {0};
	uint64_t n = 0, s = 88172645463325252ull;

	for (int op = 0; op < 40000; op++) {
		uint64_t key = rnd(&s) % UNIVERSE;
		/* mostly inserts first, then mostly removals */
		int ins = (int)(rnd(&s) % 100) < (op < 20000 ? 70 : 30);

		if (ins) {
			int ret = put(f, key);

			assert_int_equal(ret, in[key] ? -EEXIST : 0);
			n += !in[key];
			in[key] = 1;
		} else {
			int ret =
			    btree_map_daxo_remove_free(f->p, f->r->map, key);

			assert_int_equal(ret, in[key] ? 0 : -ENOENT);
			n -= in[key];
			in[key] = 0;
		}
		assert_int_equal(has(f, key), in[key]);
		if (op % 997 == 0)
			sound(f, n);
	}
	sound(f, n);
	struct walk w = {in, 0};

	assert_int_equal(btree_map_daxo_foreach(f->p, f->r->map, walk_cb, &w),
			 0);
	for (; w.next < UNIVERSE; w.next++)
		assert_false(in[w.next]);
	for (uint64_t k = 0; k < UNIVERSE; k++) {
		assert_int_equal(btree_map_daxo_lookup(f->p, f->r->map, k),
				 in[k]);
		if (in[k])
			assert_int_equal(
			    btree_map_daxo_remove_free(f->p, f->r->map, k), 0);
	}
	sound(f, 0);
	assert_true(btree_map_daxo_is_empty(f->p, f->r->map));
	/* an emptied tree takes keys again */
	assert_int_equal(put(f, 7), 0);
	sound(f, 1);
	assert_int_equal(btree_map_daxo_destroy(f->p, &f->r->map), 0);
	assert_int_equal(f->r->map, 0);
	assert_int_equal(count(f->p, BTREE_MAP_DAXO_NODE_TYPE), 0);
	assert_int_equal(count(f->p, BTREE_MAP_DAXO_TYPE), 0);
}

/* keys in ascending and descending runs: the splits and merges at the
 * edges of the tree */
static void test_sequential(void **state)
{
	struct fixture *f = *state;
	const uint64_t n = 3000;

	for (uint64_t k = 1; k <= n; k++)
		assert_int_equal(put(f, k), 0);
	sound(f, n);
	for (uint64_t k = 2 * n; k > n; k--)
		assert_int_equal(put(f, k), 0);
	sound(f, 2 * n);
	for (uint64_t k = 1; k <= 2 * n; k += 2)
		assert_int_equal(btree_map_daxo_remove_free(f->p, f->r->map, k),
				 0);
	sound(f, n);
	for (uint64_t k = 2 * n; k >= 2; k -= 2)
		assert_int_equal(btree_map_daxo_remove_free(f->p, f->r->map, k),
				 0);
	sound(f, 0);
}

/* the map's calls inside a transaction of the caller: they join it */
static void test_nested(void **state)
{
	struct fixture *f = *state;
	daxo_tx *tx;

	for (uint64_t k = 100; k < 200; k++)
		assert_int_equal(put(f, k), 0);

	/* aborted: nothing of the calls stays, no value object either */
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	for (uint64_t k = 0; k < 50; k++)
		assert_int_equal(put(f, k), 0);
	for (uint64_t k = 100; k < 150; k++)
		assert_int_equal(btree_map_daxo_remove_free(f->p, f->r->map, k),
				 0);
	assert_ptr_equal(daxo_tx_current(f->p), tx);
	daxo_tx_abort(tx);
	assert_null(daxo_tx_current(f->p));
	sound(f, 100);
	assert_false(has(f, 0));
	assert_true(has(f, 100));

	/* committed: all of it */
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	for (uint64_t k = 0; k < 50; k++)
		assert_int_equal(put(f, k), 0);
	assert_int_equal(btree_map_daxo_remove_free(f->p, f->r->map, 150), 0);
	/* a missing key is an answer, not a failure: the caller goes on */
	assert_int_equal(btree_map_daxo_remove_free(f->p, f->r->map, 1000),
			 -ENOENT);
	assert_int_equal(btree_map_daxo_remove(f->p, f->r->map, 1000, NULL),
			 -ENOENT);
	assert_int_equal(daxo_tx_commit(tx), 0);
	sound(f, 149);
	assert_true(has(f, 0));
	assert_false(has(f, 150));

	/* a key inserted twice fails the insert_new, whose block aborts the
	 * caller's transaction: its earlier inserts go too */
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(put(f, 60), 0);
	assert_int_equal(put(f, 100), -EEXIST);
	assert_int_equal(put(f, 61), -ECANCELED);
	assert_int_equal(daxo_tx_commit(tx), -ECANCELED);
	sound(f, 149);
	assert_false(has(f, 60));

	/* alone, an insert of a key there is -EEXIST and changes nothing */
	assert_int_equal(btree_map_daxo_insert(f->p, f->r->map, 100, 0),
			 -EEXIST);
	sound(f, 149);
	assert_null(daxo_tx_current(f->p));
}

/* what committed is there after a reopen */
static void test_reopen(void **state)
{
	struct fixture *f = *state;

	for (uint64_t k = 0; k < 2000; k++)
		assert_int_equal(put(f, k * 7919), 0);
	assert_int_equal(daxo_close(f->p), 0);
	f->p = test_pool_root(f->path, "btree", false, 0, 0, (void **)&f->r);
	sound(f, 2000);
	for (uint64_t k = 0; k < 2000; k++)
		assert_true(has(f, k * 7919));
	assert_false(has(f, 1));
}

/*
 * an insert_new costs a fence for the tree's undo log plus the commit:
 * fewer than 4 per insert on average (libpmemobj's original: about 10),
 * a lookup none
 */
static void test_fences(void **state)
{
	struct fixture *f = *state;
	const uint64_t n = 5000;
	uint64_t s = 7, f0 = fences();

	for (uint64_t k = 0; k < n; k++)
		assert_int_equal(put(f, rnd(&s)), 0);
	uint64_t ins = fences() - f0;

	s = 7;
	f0 = fences();
	for (uint64_t k = 0; k < n; k++)
		assert_true(has(f, rnd(&s)));
	assert_int_equal(fences() - f0, 0);
	s = 7;
	f0 = fences();
	for (uint64_t k = 0; k < n; k++)
		assert_int_equal(
		    btree_map_daxo_remove_free(f->p, f->r->map, rnd(&s)), 0);
	uint64_t rem = fences() - f0;

	print_message("fences per insert_new %.2f, per remove_free %.2f\n",
		      (double)ins / n, (double)rem / n);
	assert_true(ins < 4 * n);
	assert_true(rem < 4 * n);
}

/*
 * a key there already that is the median of a full node on the way: the
 * node is split first, then the key found -- the split must stand linked
 * into the tree (-EEXIST commits its block), no key lost
 */
static void test_exists_at_split(void **state)
{
	struct fixture *f = *state;

	/* one full root, keys 1..7: its median is 4 */
	for (uint64_t k = 1; k <= 7; k++)
		assert_int_equal(put(f, k), 0);
	sound(f, 7);
	assert_int_equal(btree_map_daxo_insert(f->p, f->r->map, 4, 0),
			 -EEXIST);
	sound(f, 7);
	for (uint64_t k = 1; k <= 7; k++)
		assert_true(has(f, k));
	/* the same one level down: fill a leaf, insert its median again */
	for (uint64_t k = 10; k <= 40; k++)
		assert_int_equal(put(f, k), 0);
	for (uint64_t k = 1; k <= 40; k++) {
		int in = k <= 7 || k >= 10;

		assert_int_equal(put(f, k), in ? -EEXIST : 0);
		sound(f, in ? 38 : 39);
		if (!in)
			assert_int_equal(
			    btree_map_daxo_remove_free(f->p, f->r->map, k), 0);
	}
	sound(f, 38);
}

/* what is not a map is refused */
static void test_bad_map(void **state)
{
	struct fixture *f = *state;
	daxo_oid v;
	const char *why;

	assert_int_equal(btree_map_daxo_insert(f->p, 0, 1, 0), -EINVAL);
	assert_int_equal(btree_map_daxo_remove(f->p, 0, 1, NULL), -EINVAL);
	assert_int_equal(btree_map_daxo_get(f->p, 0, 1), 0);
	assert_int_equal(daxo_alloc(f->p, 64, VALUE_TYPE, &v), 0);
	assert_int_equal(btree_map_daxo_check(f->p, v, NULL, &why), -EINVAL);
	assert_non_null(why);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_random, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sequential, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nested, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fences, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_exists_at_split, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_bad_map, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
