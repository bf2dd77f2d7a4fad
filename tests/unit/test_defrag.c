/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_defrag.c -- daxo_heap_defrag: objects named through the places holding
 * their oids move out of sparse runs (which go back to the free chunks)
 * and large objects into lower free chunks; every place, in the pool or in
 * volatile memory, follows its object; contents, types and links survive a
 * reopen and daxo_check; bad arguments change nothing. daxo_kv_compact:
 * the keyed store's entries likewise, every key kept.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <cmocka.h>

#include "daxo.h"

#include "test_common.h"

#define SIZE  (64ull << 20)
#define N     6000 /* small objects */
#define KEEP  7	   /* one in KEEP stays */
#define OSIZE 200  /* bytes of a small object (class 256) */

/* a small object: its number, a link to the next kept one, its bytes */
struct node {
	uint64_t id;
	daxo_oid next;
	uint8_t fill[OSIZE - 16];
};

/* the root: an oid per object */
struct root {
	daxo_oid obj[N];
	daxo_oid big[4];
};

static daxo_pool *p;
static const char *path;
static struct root *rt;

static void node_fill(struct node *n, uint64_t id)
{
	n->id = id;
	memset(n->fill, (int)(id * 7 + 1), sizeof(n->fill));
}

static void node_check(daxo_pool *q, daxo_oid o, uint64_t id)
{
	const struct node *n = daxo_direct(q, o);

	assert_non_null(n);
	assert_int_equal(n->id, id);
	assert_int_equal(daxo_oid_type(q, o), 3);
	for (size_t i = 0; i < sizeof(n->fill); i++)
		if (n->fill[i] != (uint8_t)(id * 7 + 1))
			fail_msg("object %llu: byte %zu changed",
				 (unsigned long long)id, i);
}

static int setup(void **state)
{
	daxo_oid r;

	(void)state;
	path = test_pool_path("defrag");
	assert_int_equal(daxo_create(path, "defrag", SIZE, 0600, &p), 0);
	assert_int_equal(daxo_root(p, sizeof(struct root), &r), 0);
	rt = daxo_direct(p, r);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (p)
		daxo_close(p);
	p = NULL;
	unlink(path);
	return 0;
}

/* runs of the 256-byte class, from daxo_heap_info */
static uint64_t runs_of_256(daxo_pool *q)
{
	static struct daxo_heap_info hi;

	assert_int_equal(daxo_heap_info(q, &hi), 0);
	for (unsigned c = 0; c < hi.nclasses; c++)
		if (hi.cls[c].size == 256)
			return hi.cls[c].runs;
	return 0;
}

/*
 * N objects, one in KEEP kept, each kept one linked to the next kept one
 * (a place inside an object); the root names them all; a volatile array
 * names every other kept one too
 */
static void test_sparse_runs_empty_and_links_follow(void **state)
{
	static daxo_oid vol[N];
	static daxo_oid *places[3 * N];
	struct daxo_defrag_result res;
	size_t np = 0;
	uint64_t prev = UINT64_MAX;

	(void)state;
	for (uint64_t i = 0; i < N; i++) {
		assert_int_equal(daxo_alloc(p, OSIZE, 3, &rt->obj[i]), 0);
		struct node *n = daxo_direct(p, rt->obj[i]);
		node_fill(n, i);
		daxo_persist(p, n, sizeof(*n));
	}
	for (uint64_t i = 0; i < N; i++)
		if (i % KEEP)
			assert_int_equal(daxo_free(p, &rt->obj[i]), 0);
	for (uint64_t i = 0; i < N; i += KEEP) {
		if (prev != UINT64_MAX) {
			struct node *n = daxo_direct(p, rt->obj[prev]);
			n->next = rt->obj[i];
			daxo_persist(p, &n->next, 8);
		}
		prev = i;
		if (i % (2 * KEEP) == 0)
			vol[i] = rt->obj[i];
	}
	uint64_t runs0 = runs_of_256(p);
	for (uint64_t i = 0; i < N; i += KEEP) {
		places[np++] = &rt->obj[i];
		struct node *n = daxo_direct(p, rt->obj[i]);
		if (n->next)
			places[np++] = &n->next;
		if (vol[i])
			places[np++] = &vol[i];
	}
	assert_int_equal(daxo_heap_defrag(p, places, np, &res), 0);
	uint64_t runs1 = runs_of_256(p);
	print_message("defrag: %llu objects, %llu moved (%llu bytes), %llu "
		      "runs freed; runs of 256 B %llu -> %llu\n",
		      (unsigned long long)res.total,
		      (unsigned long long)res.relocated,
		      (unsigned long long)res.bytes_moved,
		      (unsigned long long)res.runs_freed,
		      (unsigned long long)runs0, (unsigned long long)runs1);
	assert_int_equal(res.total, (N + KEEP - 1) / KEEP);
	assert_true(res.relocated > res.total / 2);
	assert_true(res.runs_freed > 0);
	/* the kept objects fit in a seventh of the runs, give or take one */
	assert_true(runs1 <= runs0 / KEEP + 2);
	/* every place names its object, with its bytes */
	prev = UINT64_MAX;
	for (uint64_t i = 0; i < N; i += KEEP) {
		node_check(p, rt->obj[i], i);
		if (vol[i])
			assert_int_equal(vol[i], rt->obj[i]);
		if (prev != UINT64_MAX) {
			const struct node *n = daxo_direct(p, rt->obj[prev]);
			assert_int_equal(n->next, rt->obj[i]);
		}
		prev = i;
	}
	/* and after a reopen, checked */
	assert_int_equal(daxo_close(p), 0);
	p = NULL;
	assert_int_equal(daxo_check(path, 0, NULL, NULL), 0);
	assert_int_equal(daxo_open(path, "defrag", 0, &p), 0);
	daxo_oid r;
	assert_int_equal(daxo_root(p, sizeof(struct root), &r), 0);
	rt = daxo_direct(p, r);
	unsigned n = 0;
	for (uint64_t i = 0; i < N; i += KEEP, n++)
		node_check(p, rt->obj[i], i);
	unsigned live = 0;
	for (daxo_oid o = daxo_first(p, 3); o; o = daxo_next(p, o, 3))
		live++;
	assert_int_equal(live, n); /* nothing leaked, nothing lost */
}

/* a large object moves down into a hole below it */
static void test_large_object_moves_down(void **state)
{
	struct daxo_defrag_result res;
	daxo_oid *pl[1];

	(void)state;
	assert_int_equal(daxo_alloc(p, 300 << 10, 4, &rt->big[0]), 0);
	assert_int_equal(daxo_alloc(p, 1 << 20, 4, &rt->big[1]), 0);
	assert_int_equal(daxo_alloc(p, 300 << 10, 4, &rt->big[2]), 0);
	memset(daxo_direct(p, rt->big[2]), 0x77, 300 << 10);
	daxo_persist(p, daxo_direct(p, rt->big[2]), 300 << 10);
	daxo_oid before = rt->big[2];
	assert_true(before > rt->big[0]);
	assert_int_equal(daxo_free(p, &rt->big[0]), 0);
	pl[0] = &rt->big[2];
	assert_int_equal(daxo_heap_defrag(p, pl, 1, &res), 0);
	assert_int_equal(res.total, 1);
	assert_int_equal(res.relocated, 1);
	assert_true(rt->big[2] < before);
	const uint8_t *b = daxo_direct(p, rt->big[2]);
	for (size_t i = 0; i < (300 << 10); i += 4093)
		assert_int_equal(b[i], 0x77);
	assert_int_equal(daxo_oid_type(p, rt->big[2]), 4);
	assert_int_equal(daxo_usable_size(p, before), 0); /* freed */
	/* nothing lower to go to: stays */
	assert_int_equal(daxo_heap_defrag(p, pl, 1, &res), 0);
	assert_int_equal(res.relocated, 0);
}

/*
 * a run with an object nobody named does not empty: its named objects stay;
 * the root object never moves
 */
static void test_unnamed_objects_and_root_stay(void **state)
{
	struct daxo_defrag_result res;
	daxo_oid a[64], *pl[65];
	daxo_oid r;

	(void)state;
	for (int i = 0; i < 64; i++)
		assert_int_equal(daxo_alloc(p, 1000, 5, &a[i]), 0);
	for (int i = 1; i < 63; i++)
		assert_int_equal(daxo_free(p, &a[i]), 0);
	daxo_oid keep0 = a[0];
	pl[0] = &a[0]; /* a[63] in the same run, not named */
	assert_int_equal(daxo_heap_defrag(p, pl, 1, &res), 0);
	assert_int_equal(res.relocated, 0);
	assert_int_equal(a[0], keep0);
	assert_int_equal(daxo_root(p, sizeof(struct root), &r), 0);
	daxo_oid rv = r;
	pl[0] = &rv;
	assert_int_equal(daxo_heap_defrag(p, pl, 1, &res), 0);
	assert_int_equal(res.relocated, 0);
	assert_int_equal(rv, r);
}

/* bad arguments: -EINVAL and nothing moved */
static void test_bad_arguments_change_nothing(void **state)
{
	struct daxo_defrag_result res;
	daxo_oid a, b, bad, *pl[2];

	(void)state;
	assert_int_equal(daxo_alloc(p, 100, 6, &a), 0);
	assert_int_equal(daxo_alloc(p, 100, 6, &b), 0);
	assert_int_equal(daxo_heap_defrag(NULL, pl, 0, &res), -EINVAL);
	assert_int_equal(daxo_heap_defrag(p, NULL, 1, &res), -EINVAL);
	pl[0] = &a;
	pl[1] = NULL;
	assert_int_equal(daxo_heap_defrag(p, pl, 2, &res), -EINVAL);
	bad = b + 8; /* not an object's start */
	pl[1] = &bad;
	assert_int_equal(daxo_heap_defrag(p, pl, 2, &res), -EINVAL);
	assert_int_equal(res.relocated, 0);
	/* a place in the pool outside every object: the pool's first page */
	daxo_oid *hdr = daxo_direct(p, 8192 + 4000);
	pl[1] = hdr;
	assert_int_equal(daxo_heap_defrag(p, pl, 2, &res), -EINVAL);
	assert_non_null(strstr(daxo_errormsg(), "not an aligned word"));
	/* not inside the thread's transaction */
	daxo_tx *tx;
	pl[1] = &b;
	assert_int_equal(daxo_tx_begin(p, &tx), 0);
	assert_int_equal(daxo_heap_defrag(p, pl, 2, &res), -EBUSY);
	daxo_tx_abort(tx);
	/* nothing, and only zeros: fine */
	assert_int_equal(daxo_heap_defrag(p, pl, 0, &res), 0);
	daxo_oid z = 0;
	pl[0] = &z;
	assert_int_equal(daxo_heap_defrag(p, pl, 1, &res), 0);
	assert_int_equal(res.total, 0);
}

/* runs of the size class @size */
static uint64_t runs_of(daxo_pool *q, uint64_t size)
{
	static struct daxo_heap_info hi;

	assert_int_equal(daxo_heap_info(q, &hi), 0);
	for (unsigned c = 0; c < hi.nclasses; c++)
		if (hi.cls[c].size == size)
			return hi.cls[c].runs;
	return 0;
}

#define NKV   400
#define KVLEN 3450 /* entries of 3530 B: class 3584, 25 a run */

static size_t kv_value(unsigned i, uint8_t *v)
{
	for (size_t j = 0; j < KVLEN; j++)
		v[j] = (uint8_t)(i * 13 + j);
	return KVLEN;
}

/*
 * daxo_kv_compact: 400 keys, three in four deleted, 16 runs a quarter full:
 * the rest move into as few runs as hold them, every key reads back
 */
static void test_kv_compact_empties_sparse_runs(void **state)
{
	static uint8_t v[KVLEN], got[KVLEN];
	struct daxo_defrag_result res;
	char k[16];
	size_t n;

	(void)state;
	for (unsigned i = 0; i < NKV; i++) {
		snprintf(k, sizeof(k), "key-%u", i);
		assert_int_equal(daxo_put(p, k, strlen(k), v, kv_value(i, v)),
				 0);
	}
	for (unsigned i = 0; i < NKV; i++)
		if (i % 4) {
			snprintf(k, sizeof(k), "key-%u", i);
			assert_int_equal(daxo_del(p, k, strlen(k)), 0);
		}
	uint64_t runs0 = runs_of(p, 3584);
	assert_int_equal(daxo_kv_compact(p, &res), 0);
	uint64_t runs1 = runs_of(p, 3584);
	print_message("kv compact: %llu entries, %llu moved, %llu runs freed; "
		      "runs of 3584 B %llu -> %llu\n",
		      (unsigned long long)res.total,
		      (unsigned long long)res.relocated,
		      (unsigned long long)res.runs_freed,
		      (unsigned long long)runs0, (unsigned long long)runs1);
	assert_true(runs0 >= NKV / 25);
	assert_true(runs1 <= NKV / 4 / 25 + 1);
	assert_true(res.relocated > 0 && res.runs_freed > 0);
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < NKV; i++) {
			snprintf(k, sizeof(k), "key-%u", i);
			int r = daxo_get(p, k, strlen(k), got, sizeof(got), &n);
			if (i % 4) {
				assert_int_equal(r, -ENOENT);
				continue;
			}
			assert_int_equal(r, 0);
			assert_int_equal(n, kv_value(i, v));
			assert_memory_equal(got, v, n);
		}
		assert_int_equal(daxo_close(p), 0);
		p = NULL;
		assert_int_equal(daxo_check(path, 0, NULL, NULL), 0);
		assert_int_equal(daxo_open(path, "defrag", 0, &p), 0);
	}
	/* nothing left to move */
	assert_int_equal(daxo_kv_compact(p, &res), 0);
	assert_int_equal(res.relocated, 0);
}

/*
 * Threads at once: two defragmenting objects of their own (each of its own
 * size class, so that its runs hold only its objects and drain), one
 * making and emptying runs of other classes, one reading daxo_heap_info.
 * In the tsan suite: the planning state of each defrag call is its own, and
 * daxo_heap_info never reads a run struct being reused for another run.
 */
#define CD_OBJS	  1400
#define CD_ROUNDS 4

struct cd_arg {
	uint32_t size; /* object size: its own class */
	uint64_t moved;
	int err;
};

static _Atomic int cd_stop;

static void *cd_defragger(void *arg)
{
	struct cd_arg *a = arg;
	daxo_oid *o = calloc(CD_OBJS, sizeof(*o));
	daxo_oid **pl = calloc(CD_OBJS, sizeof(*pl));
	uint64_t *id = calloc(CD_OBJS, sizeof(*id));
	uint64_t next = 1;

	if (!o || !pl || !id) {
		a->err = -ENOMEM;
		goto out;
	}
	for (int round = 0; round < CD_ROUNDS && !a->err; round++) {
		size_t n = 0;
		for (size_t i = 0; i < CD_OBJS; i++) {
			if (o[i])
				continue;
			if (daxo_alloc(p, a->size, 9, &o[i])) {
				a->err = -ENOSPC;
				break;
			}
			id[i] = next++;
			uint64_t *w = daxo_direct(p, o[i]);
			for (uint32_t k = 0; k < a->size / 8; k++)
				w[k] = id[i] + k;
			daxo_persist(p, w, a->size);
		}
		/* keep one in eight: sparse runs */
		for (size_t i = 0; i < CD_OBJS; i++)
			if (o[i] && (id[i] % 8) != 0 && daxo_free(p, &o[i]))
				a->err = -EIO;
		for (size_t i = 0; i < CD_OBJS; i++)
			if (o[i])
				pl[n++] = &o[i];
		struct daxo_defrag_result res = {0};
		if (daxo_heap_defrag(p, pl, n, &res))
			a->err = -EINVAL;
		a->moved += res.relocated;
		for (size_t i = 0; i < CD_OBJS; i++) {
			const uint64_t *w = o[i] ? daxo_direct(p, o[i]) : NULL;
			for (uint32_t k = 0; w && k < a->size / 8; k++)
				if (w[k] != id[i] + k)
					a->err = -EUCLEAN;
		}
	}
out:
	free(o);
	free(pl);
	free(id);
	return NULL;
}

static void *cd_churner(void *arg)
{
	daxo_oid o[64] = {0};
	unsigned s = 1;

	(void)arg;
	while (!atomic_load(&cd_stop))
		for (int i = 0; i < 64; i++) {
			if (o[i])
				daxo_free(p, &o[i]);
			s = s * 1103515245 + 12345;
			/* classes other than the defraggers' (200, 300) */
			(void)daxo_alloc(p, 448 + (s >> 16) % 4 * 512, 8, &o[i]);
		}
	for (int i = 0; i < 64; i++)
		if (o[i])
			daxo_free(p, &o[i]);
	return NULL;
}

static void *cd_reader(void *arg)
{
	struct daxo_heap_info *hi = malloc(sizeof(*hi));
	int *bad = arg;

	while (hi && !atomic_load(&cd_stop)) {
		if (daxo_heap_info(p, hi)) {
			*bad = 1;
			break;
		}
		for (unsigned c = 0; c < hi->nclasses; c++)
			if (hi->cls[c].used > hi->cls[c].slots)
				*bad = 2;
		if (hi->free_bytes > hi->heap_bytes)
			*bad = 3;
	}
	free(hi);
	return NULL;
}

static void test_concurrent_defrags_and_heap_info(void **state)
{
	struct cd_arg a[2] = {{.size = 200}, {.size = 304}};
	pthread_t d[2], c, r;
	int bad = 0;

	(void)state;
	atomic_store(&cd_stop, 0);
	assert_int_equal(pthread_create(&c, NULL, cd_churner, NULL), 0);
	assert_int_equal(pthread_create(&r, NULL, cd_reader, &bad), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&d[i], NULL, cd_defragger, &a[i]),
				 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(d[i], NULL), 0);
	atomic_store(&cd_stop, 1);
	assert_int_equal(pthread_join(c, NULL), 0);
	assert_int_equal(pthread_join(r, NULL), 0);
	assert_int_equal(a[0].err, 0);
	assert_int_equal(a[1].err, 0);
	assert_int_equal(bad, 0);
	/* each drained runs of its own class */
	assert_true(a[0].moved > 0);
	assert_true(a[1].moved > 0);
	assert_int_equal(daxo_close(p), 0);
	p = NULL;
	assert_int_equal(daxo_check(path, 0, NULL, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_sparse_runs_empty_and_links_follow, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_large_object_moves_down, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_unnamed_objects_and_root_stay,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_arguments_change_nothing,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_kv_compact_empties_sparse_runs,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_concurrent_defrags_and_heap_info, setup, teardown),
	};

	test_env();
	return cmocka_run_group_tests_name("defrag", tests, NULL, NULL);
}
