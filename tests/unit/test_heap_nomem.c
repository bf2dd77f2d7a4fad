/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_heap_nomem.c -- chunks given back while malloc fails are usable
 * at once, not lost until the next open.
 *
 * The heap indexes free chunks in extents, each a malloc'd struct; a free
 * that borders no extent needs a new one. When malloc failed there, the
 * chunks (already FREE on media) were kept out of use until the pool was
 * opened again. Here a pool is filled with large objects, every other one
 * is freed while every allocation fails (the failure injector,
 * nomem_shim.c), and the same objects must be allocatable again at once:
 * with malloc still failing, and after; daxo_heap_info counts them free,
 * and the pool is consistent. However many such ranges there are: the
 * heap keeps each one's struct in the range's own first chunk, moved out
 * before that chunk is handed out, and the objects still live keep every
 * byte.
 *
 * Skipped (77) where a sanitizer runtime owns malloc.
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

#include "daxo.h"
#include "test_common.h"
#ifndef NOMEM_SKIP
#include "nomem_shim.h"
#endif

#define POOL_SIZE (16ull << 20)
#define OBJ	  (40ull << 10) /* whole chunks: a large object */
#define NMAX	  512

static const char *path;
static daxo_pool *p;
#ifndef NOMEM_SKIP
static daxo_oid o[NMAX];
static int nobj;

/* fill -- allocate OBJ-sized objects until the heap is full, each filled
 * with its own byte */
static void fill(void)
{
	int r;

	nobj = 0;
	while ((r = daxo_alloc(p, OBJ, 1, &o[nobj])) == 0) {
		memset(daxo_direct(p, o[nobj]), nobj & 0xff, OBJ);
		assert_true(++nobj < NMAX);
	}
	assert_int_equal(r, -ENOSPC);
	assert_true(nobj > 80);
}

/* intact -- every object of fill() not freed still holds its bytes */
static void intact(void)
{
	for (int i = 0; i < nobj; i++) {
		const unsigned char *b;
		if (!o[i])
			continue;
		b = daxo_direct(p, o[i]);
		for (uint64_t k = 0; k < OBJ; k++)
			if (b[k] != (i & 0xff))
				fail_msg("object %d byte %llu: %u", i,
					 (unsigned long long)k, b[k]);
	}
}

static uint64_t free_chunk_bytes(void)
{
	struct daxo_heap_info hi;

	assert_int_equal(daxo_heap_info(p, &hi), 0);
	return hi.free_chunk_bytes;
}

#endif

static int setup(void **state)
{
	(void)state;
	test_env();
	path = test_pool_path("heap_nomem");
	unlink(path);
	if (daxo_create(path, "heap_nomem", POOL_SIZE, 0600, &p))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (p)
		daxo_close(p);
	unlink(path);
	return 0;
}

#ifndef NOMEM_SKIP
static void check_closed(void)
{
	assert_int_equal(daxo_close(p), 0);
	p = NULL;
	assert_int_equal(daxo_check(path, 0, NULL, NULL), 0);
	assert_int_equal(daxo_open(path, "heap_nomem", 0, &p), 0);
}

/*
 * free_every_other -- free objects @first, @first + 2, ... (@n of them)
 * with every allocation failing; returns how many frees succeeded, and
 * asserts some allocation was refused meanwhile (the injector works and
 * the heap asked for memory)
 */
static int free_every_other(int first, int n)
{
	int freed = 0;

	nomem_arm(0, 1);
	for (int i = first; i < nobj && freed < n; i += 2) {
		int r = daxo_free(p, &o[i]);

		assert_true(r == 0 || r == -ENOMEM);
		freed += r == 0;
	}
	assert_true(nomem_failed() > 0);
	return freed;
}
#endif

#ifndef NOMEM_SKIP
/* alloc_all -- objects of OBJ bytes into @x until one fails (*@last) */
static int alloc_all(daxo_oid *x, int *last)
{
	int got = 0, r;

	while (got < NMAX && (r = daxo_alloc(p, OBJ, 2, &x[got])) == 0)
		got++;
	if (last)
		*last = r;
	return got;
}

/*
 * free_and_reopen -- free x[0..n), check the pool closed, reopen: every
 * one of the @freed objects' room is there again
 */
static void free_and_reopen(daxo_oid *x, int n, int freed)
{
	daxo_oid y[NMAX];

	for (int i = 0; i < n; i++)
		assert_int_equal(daxo_free(p, &x[i]), 0);
	check_closed();
	assert_int_equal(alloc_all(y, NULL), freed);
}
#endif

/* what was freed with malloc failing is allocated again at once */
static void test_freed_space_usable_without_malloc(void **state)
{
#ifdef NOMEM_SKIP
	(void)state;
	skip();
#else
	uint64_t before;
	int freed, got, r;
	daxo_oid x[NMAX];

	(void)state;
	fill();
	before = free_chunk_bytes();
	freed = free_every_other(1, 20);
	nomem_disarm();
	assert_int_equal(freed, 20);
	/* isolated ranges, each bordering no free chunk: all counted free */
	assert_true(free_chunk_bytes() >= before + freed * OBJ);
	/* with malloc failing still: the space is there */
	nomem_arm(0, 1);
	got = alloc_all(x, &r);
	nomem_disarm();
	assert_int_equal(r, -ENOSPC);
	assert_int_equal(got, freed);
	/* and after a reopen, once again the same */
	free_and_reopen(x, got, freed);
#endif
}

/*
 * Freed while malloc fails, allocated from after it works again; ranges
 * that touch (the neighbours of the orphans freed later) merge into one:
 * an object of three times the size fits where three were freed.
 */
static void test_freed_space_merges_when_malloc_is_back(void **state)
{
#ifdef NOMEM_SKIP
	(void)state;
	skip();
#else
	daxo_oid big;
	int freed;

	(void)state;
	fill();
	freed = free_every_other(1, 10);
	nomem_disarm();
	assert_int_equal(freed, 10);
	assert_int_equal(daxo_alloc(p, 3 * OBJ, 3, &big), -ENOSPC);
	/* o[2] lies between the freed o[1] and o[3] */
	assert_int_equal(daxo_free(p, &o[2]), 0);
	assert_int_equal(daxo_alloc(p, 3 * OBJ, 3, &big), 0);
	assert_int_equal(daxo_free(p, &big), 0);
	/* again with malloc failing: the merge needs no new struct */
	nomem_arm(0, 1);
	assert_int_equal(daxo_free(p, &o[4]), 0);
	assert_int_equal(daxo_alloc(p, 3 * OBJ + 2 * OBJ, 3, &big), 0);
	nomem_disarm();
	assert_int_equal(daxo_free(p, &big), 0);
	check_closed();
#endif
}

/*
 * Many isolated frees with malloc failing -- far more than a fixed table
 * could hold: every one is allocatable again at once, with malloc failing
 * still, and the objects left keep their bytes (no struct was kept in a
 * chunk that was not free).
 */
static void test_many_freed_ranges_without_malloc(void **state)
{
#ifdef NOMEM_SKIP
	(void)state;
	skip();
#else
	uint64_t before;
	int freed, got, r;
	daxo_oid x[NMAX];

	(void)state;
	fill();
	assert_true(nobj >= 200);
	before = free_chunk_bytes();
	freed = free_every_other(1, NMAX);
	nomem_disarm();
	assert_true(freed >= 100);
	assert_true(free_chunk_bytes() >= before + freed * OBJ);
	intact();
	nomem_arm(0, 1);
	got = alloc_all(x, &r);
	nomem_disarm();
	assert_int_equal(r, -ENOSPC);
	assert_int_equal(got, freed);
	for (int i = 0; i < got; i++)
		memset(daxo_direct(p, x[i]), 0x5a, OBJ);
	intact();
	/* freed again, with malloc failing: all of it once more */
	nomem_arm(0, 1);
	for (int i = 0; i < got; i++)
		assert_int_equal(daxo_free(p, &x[i]), 0);
	got = alloc_all(x, &r);
	nomem_disarm();
	assert_int_equal(r, -ENOSPC);
	assert_int_equal(got, freed);
	intact();
	free_and_reopen(x, got, freed);
#endif
}

#ifndef NOMEM_SKIP
/*
 * A range freed with malloc failing, then cut: its struct lives in its
 * first chunk, which the first allocation takes -- the struct moves to
 * the rest (malloc failing) or to a malloc'd one, and what is allocated
 * there can be written whole. Then the ranges merge with their neighbours
 * freed later, with and without malloc.
 */
static void cut_and_merge(bool malloc_at_cut)
{
	daxo_oid x[5], big;
	daxo_oid s1, s2, s5, s7, s9;

	fill();
	s1 = o[1], s2 = o[2], s5 = o[5], s7 = o[7], s9 = o[9];
	nomem_arm(0, 1);
	/* o[9], o[7] first: they take any spare struct the heap had */
	assert_int_equal(daxo_free(p, &o[9]), 0);
	assert_int_equal(daxo_free(p, &o[7]), 0);
	/* o[1] and o[2] touch: one range of two objects */
	assert_int_equal(daxo_free(p, &o[1]), 0);
	assert_int_equal(daxo_free(p, &o[2]), 0);
	assert_int_equal(daxo_free(p, &o[5]), 0);
	assert_true(nomem_failed() > 0);
	if (malloc_at_cut)
		nomem_disarm();
	/* best fit: the single rooms first, then the pair, cut twice */
	for (int i = 0; i < 5; i++) {
		assert_int_equal(daxo_alloc(p, OBJ, 2, &x[i]), 0);
		memset(daxo_direct(p, x[i]), 0xa0 + i, OBJ);
	}
	assert_int_equal(daxo_alloc(p, OBJ, 2, &big), -ENOSPC);
	nomem_disarm();
	for (int i = 0; i < 3; i++)
		assert_true(x[i] == s5 || x[i] == s7 || x[i] == s9);
	assert_true(x[0] != x[1] && x[1] != x[2] && x[0] != x[2]);
	assert_true(x[3] == s1);
	assert_true(x[4] == s2);
	intact();
	for (int i = 0; i < 5; i++) {
		const unsigned char *b = daxo_direct(p, x[i]);
		assert_int_equal(b[0], 0xa0 + i);
		assert_int_equal(b[OBJ - 1], 0xa0 + i);
	}
	/* all freed with malloc failing; o[3] joins s1 and s2's room */
	nomem_arm(0, 1);
	for (int i = 0; i < 5; i++)
		assert_int_equal(daxo_free(p, &x[i]), 0);
	assert_int_equal(daxo_free(p, &o[3]), 0);
	assert_int_equal(daxo_alloc(p, 3 * OBJ, 3, &big), 0);
	assert_true(big == s1);
	memset(daxo_direct(p, big), 0xd4, 3 * OBJ);
	nomem_disarm();
	intact();
	assert_int_equal(daxo_free(p, &big), 0);
	check_closed();
	for (int i = 0; i < nobj; i++)
		if (o[i])
			assert_int_equal(daxo_oid_type(p, o[i]), 1);
	intact();
}
#endif

static void test_range_kept_in_its_chunk_is_cut(void **state)
{
#ifdef NOMEM_SKIP
	(void)state;
	skip();
#else
	(void)state;
	cut_and_merge(false);
#endif
}

static void test_range_kept_in_its_chunk_is_cut_with_malloc_back(void **state)
{
#ifdef NOMEM_SKIP
	(void)state;
	skip();
#else
	(void)state;
	cut_and_merge(true);
#endif
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_freed_space_usable_without_malloc),
	    T(test_freed_space_merges_when_malloc_is_back),
	    T(test_many_freed_ranges_without_malloc),
	    T(test_range_kept_in_its_chunk_is_cut),
	    T(test_range_kept_in_its_chunk_is_cut_with_malloc_back),
	};
#ifdef NOMEM_SKIP
	printf("SKIP: %s\n", NOMEM_SKIP);
	return 77;
#endif
	return cmocka_run_group_tests(tests, NULL, NULL);
}
