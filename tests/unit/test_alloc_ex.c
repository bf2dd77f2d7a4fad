/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_alloc_ex.c -- allocation with flags and constructors
 * (daxo_alloc_ctor, daxo_tx_xalloc), realloc (daxo_realloc,
 * daxo_tx_realloc) and roots that grow (daxo_root, daxo_root_construct,
 * daxo_root_size), in lib/alloc.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "daxo.h"
#include "test_common.h"

#define T_OBJ 5u

struct root {
	daxo_oid slot[4];
	uint64_t word[8];
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
	f->path = test_pool_path("allocx");
	f->p = test_pool_root(f->path, "ax", true, 32 << 20, sizeof(struct root),
			      (void **)&f->r);
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

static void reopen(struct fixture *f)
{
	assert_int_equal(daxo_close(f->p), 0);
	f->p = test_pool_root(f->path, "ax", false, 0, 0, (void **)&f->r);
}

static uint64_t fences(void)
{
	struct daxo_stats s;

	assert_int_equal(daxo_thread_stats(&s), 0);
	return s.fences;
}

static unsigned count(daxo_pool *p, uint32_t type)
{
	unsigned n = 0;

	for (daxo_oid o = daxo_first(p, type); o; o = daxo_next(p, o, type))
		n++;
	return n;
}

/* fill_ctor -- a pattern from *arg over the object, checked later */
static int fill_ctor(daxo_pool *p, void *ptr, uint64_t size, void *arg)
{
	(void)p;
	memset(ptr, *(int *)arg, size);
	return 0;
}

static int refuse_ctor(daxo_pool *p, void *ptr, uint64_t size, void *arg)
{
	(void)p;
	(void)ptr;
	(void)size;
	(void)arg;
	return 1;
}

static bool all(const void *ptr, int c, size_t n)
{
	const unsigned char *b = ptr;

	for (size_t i = 0; i < n; i++)
		if (b[i] != (unsigned char)c)
			return false;
	return true;
}

static void test_ctor_object_is_published_initialized(void **state)
{
	struct fixture *f = *state;
	int c = 0x5a;

	assert_int_equal(daxo_alloc_ctor(f->p, 300, T_OBJ, 0, fill_ctor, &c,
					 &f->r->slot[0]),
			 0);
	assert_true(all(daxo_direct(f->p, f->r->slot[0]), 0x5a, 300));
	/* zeroed, no constructor */
	assert_int_equal(daxo_alloc_ctor(f->p, 500, T_OBJ, DAXO_ALLOC_ZERO,
					 NULL, NULL, &f->r->slot[1]),
			 0);
	assert_true(all(daxo_direct(f->p, f->r->slot[1]), 0, 500));
	reopen(f);
	assert_true(all(daxo_direct(f->p, f->r->slot[0]), 0x5a, 300));
	assert_int_equal(count(f->p, T_OBJ), 2);
}

static void test_ctor_refusing_leaves_nothing(void **state)
{
	struct fixture *f = *state;

	f->r->slot[2] = 12345; /* untouched on failure */
	assert_int_equal(daxo_alloc_ctor(f->p, 64, T_OBJ, 0, refuse_ctor, NULL,
					 &f->r->slot[2]),
			 -ECANCELED);
	assert_int_equal(f->r->slot[2], 12345);
	assert_int_equal(count(f->p, T_OBJ), 0);
	f->r->slot[2] = 0;
	assert_int_equal(daxo_alloc_ctor(f->p, 64, T_OBJ, 8, NULL, NULL,
					 &f->r->slot[2]),
			 -EINVAL);
}

/* the contents ride in the record: one fence for a small object */
static void test_ctor_costs_one_fence(void **state)
{
	struct fixture *f = *state;
	int c = 1;
	daxo_oid o;

	/* a run for this size first (a new run costs fences of its own) */
	assert_int_equal(daxo_alloc_ctor(f->p, 1024, T_OBJ, 0, fill_ctor, &c,
					 &o),
			 0);
	uint64_t f0 = fences();
	assert_int_equal(daxo_alloc_ctor(f->p, 1024, T_OBJ, 0, fill_ctor, &c,
					 &f->r->slot[0]),
			 0);
	assert_int_equal(fences() - f0, 1);
	/* larger: written in place, durable before the record (2 fences) */
	assert_int_equal(daxo_alloc_ctor(f->p, 8192, T_OBJ, 0, fill_ctor, &c,
					 &o),
			 0);
	f0 = fences();
	assert_int_equal(daxo_alloc_ctor(f->p, 8192, T_OBJ, DAXO_ALLOC_ZERO,
					 fill_ctor, &c, &f->r->slot[1]),
			 0);
	assert_int_equal(fences() - f0, 2);
	assert_true(all(daxo_direct(f->p, f->r->slot[1]), 1, 8192));
}

static int nested_ctor(daxo_pool *p, void *ptr, uint64_t size, void *arg)
{
	daxo_oid *child = ptr;
	(void)size;
	(void)arg;
	/* an atomic allocation from inside a constructor */
	return daxo_alloc_ctor(p, 64, T_OBJ, DAXO_ALLOC_ZERO, NULL, NULL,
			       child);
}

static void test_ctor_beside_a_transaction(void **state)
{
	struct fixture *f = *state;
	daxo_tx *tx;

	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_alloc_ctor(f->p, 128, T_OBJ, DAXO_ALLOC_ZERO,
					 nested_ctor, NULL, &f->r->slot[3]),
			 0);
	daxo_tx_abort(tx); /* not part of it */
	assert_int_not_equal(f->r->slot[3], 0);
	daxo_oid *child = daxo_direct(f->p, f->r->slot[3]);
	assert_int_equal(daxo_oid_type(f->p, *child), T_OBJ);
	assert_int_equal(count(f->p, T_OBJ), 2);
}

static void test_realloc_atomic(void **state)
{
	struct fixture *f = *state;
	daxo_oid *s = &f->r->slot[0];
	int c = 7;

	/* 0: allocates */
	assert_int_equal(daxo_realloc(f->p, s, 100, T_OBJ, 0), 0);
	memset(daxo_direct(f->p, *s), 7, 100);
	daxo_persist(f->p, daxo_direct(f->p, *s), 100);
	daxo_oid first = *s;
	/* fits and keeps its type: stays */
	assert_int_equal(daxo_realloc(f->p, s, 90, T_OBJ, 0), 0);
	assert_int_equal(*s, first);
	/* grows: moved, contents kept, the rest zero */
	assert_int_equal(daxo_realloc(f->p, s, 100000, T_OBJ, DAXO_ALLOC_ZERO),
			 0);
	assert_int_not_equal(*s, first);
	assert_true(all(daxo_direct(f->p, *s), 7, 100));
	assert_true(all((char *)daxo_direct(f->p, *s) + 128, 0, 100000 - 128));
	assert_int_equal(daxo_usable_size(f->p, first), 0); /* freed */
	assert_int_equal(count(f->p, T_OBJ), 1);
	/* another type: moved */
	assert_int_equal(daxo_realloc(f->p, s, 50, T_OBJ + 1, 0), 0);
	assert_int_equal(daxo_oid_type(f->p, *s), T_OBJ + 1);
	assert_true(all(daxo_direct(f->p, *s), 7, 50));
	/* a volatile destination */
	daxo_oid v = 0;
	assert_int_equal(daxo_alloc_ctor(f->p, 64, T_OBJ, 0, fill_ctor, &c, &v),
			 0);
	assert_int_equal(daxo_realloc(f->p, &v, 4096, T_OBJ, 0), 0);
	assert_true(all(daxo_direct(f->p, v), 7, 64));
	/* size 0 frees */
	assert_int_equal(daxo_realloc(f->p, &v, 0, T_OBJ, 0), 0);
	assert_int_equal(v, 0);
	/* not an object: nothing changes */
	daxo_oid bad = *s + 8;
	assert_int_equal(daxo_realloc(f->p, &bad, 64, T_OBJ, 0), -EINVAL);
	assert_int_equal(daxo_realloc(f->p, s, 64, T_OBJ, 2), -EINVAL);
	reopen(f);
	assert_true(all(daxo_direct(f->p, f->r->slot[0]), 7, 50));
}

static void test_realloc_in_transaction(void **state)
{
	struct fixture *f = *state;
	daxo_tx *tx;
	daxo_oid o, n, m;
	int c = 3;

	assert_int_equal(daxo_alloc_ctor(f->p, 200, T_OBJ, 0, fill_ctor, &c,
					 &f->r->slot[0]),
			 0);
	o = f->r->slot[0];
	/* aborted: the old one stays, the new one goes */
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_realloc(tx, o, 5000, T_OBJ, 0, &n), 0);
	assert_true(all(daxo_direct(f->p, n), 3, 200));
	daxo_tx_abort(tx);
	assert_int_equal(count(f->p, T_OBJ), 1);
	assert_true(all(daxo_direct(f->p, o), 3, 200));
	/* committed: grown, then grown again within the transaction */
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_realloc(tx, o, 5000, T_OBJ, DAXO_ALLOC_ZERO,
					 &n),
			 0);
	assert_int_equal(daxo_tx_realloc(tx, n, 9000, T_OBJ, 0, &m), 0);
	assert_int_equal(daxo_tx_write(tx, &f->r->slot[0], &m, 8), 0);
	assert_int_equal(daxo_tx_commit(tx), 0);
	assert_int_equal(count(f->p, T_OBJ), 1);
	assert_true(all(daxo_direct(f->p, m), 3, 200));
	assert_true(all((char *)daxo_direct(f->p, m) + 256, 0, 4000));
	/* 0 allocates, size 0 frees */
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_realloc(tx, 0, 64, T_OBJ, DAXO_ALLOC_ZERO,
					 &n),
			 0);
	assert_int_equal(daxo_tx_realloc(tx, m, 0, T_OBJ, 0, &o), 0);
	assert_int_equal(o, 0);
	assert_int_equal(daxo_tx_write(tx, &f->r->slot[0], &n, 8), 0);
	assert_int_equal(daxo_tx_commit(tx), 0);
	assert_int_equal(count(f->p, T_OBJ), 1);
	/* xalloc's flags */
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_xalloc(tx, 64, T_OBJ, 4, &n), -EINVAL);
	assert_int_equal(daxo_tx_commit(tx), -EINVAL);
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_xalloc(tx, 640, T_OBJ, DAXO_ALLOC_ZERO, &n), 0);
	assert_true(all(daxo_direct(f->p, n), 0, 640));
	assert_int_equal(daxo_tx_xalloc(tx, 640, T_OBJ, 0, &n), 0);
	memset(daxo_direct(f->p, n), 9, 640);
	assert_int_equal(daxo_tx_commit(tx), 0);
	assert_true(all(daxo_direct(f->p, n), 9, 640));
}

static int mark_ctor(daxo_pool *p, void *ptr, uint64_t size, void *arg)
{
	(void)p;
	(void)size;
	++*(int *)arg;
	((struct root *)ptr)->word[7] = 77;
	return 0;
}

static void test_root_grows(void **state)
{
	struct fixture *f = *state;
	daxo_oid ro, ro2;

	assert_int_equal(daxo_root(f->p, 0, &ro), 0);
	assert_int_equal(daxo_root_size(f->p), sizeof(struct root));
	f->r->word[0] = 42;
	daxo_persist(f->p, &f->r->word[0], 8);
	/* asking no more than there is: same root, size remembered */
	assert_int_equal(daxo_root(f->p, sizeof(struct root) + 8, &ro2), 0);
	assert_int_equal(ro2, ro);
	assert_int_equal(daxo_root_size(f->p), sizeof(struct root) + 8);
	/* more: a new root with the old contents, the rest zero */
	assert_int_equal(daxo_root(f->p, 100000, &ro2), 0);
	assert_int_not_equal(ro2, ro);
	struct root *r = daxo_direct(f->p, ro2);
	assert_int_equal(r->word[0], 42);
	assert_true(all((char *)r + sizeof(struct root), 0,
			100000 - sizeof(struct root) - 64));
	assert_int_equal(daxo_usable_size(f->p, ro), 0); /* the old is free */
	assert_int_equal(daxo_root_size(f->p), 100000);
	assert_int_equal(count(f->p, DAXO_TYPE_ROOT), 1);
	reopen(f);
	assert_int_equal(f->r->word[0], 42);
	assert_int_equal(daxo_root_size(f->p), 100000);
	/* the constructor runs on growth only */
	int calls = 0;
	assert_int_equal(daxo_root_construct(f->p, 1000, mark_ctor, &calls,
					     &ro),
			 0);
	assert_int_equal(calls, 0);
	assert_int_equal(daxo_root_construct(f->p, 300000, mark_ctor, &calls,
					     &ro),
			 0);
	assert_int_equal(calls, 1);
	r = daxo_direct(f->p, ro);
	assert_int_equal(r->word[7], 77);
	assert_int_equal(r->word[0], 42);
	/* a constructor that refuses leaves the root as it was */
	assert_int_equal(daxo_root_construct(f->p, 600000, refuse_ctor, NULL,
					     &ro2),
			 -ECANCELED);
	assert_int_equal(daxo_root(f->p, 0, &ro2), 0);
	assert_int_equal(ro2, ro);
	assert_int_equal(count(f->p, DAXO_TYPE_ROOT), 1);
}

static void test_root_construct_on_a_new_pool(void **state)
{
	struct fixture *f = *state;
	const char *path = test_pool_path("allocx-new");
	daxo_pool *p;
	daxo_oid ro;
	int calls = 0;

	(void)f;
	assert_int_equal(daxo_create(path, NULL, 16 << 20, 0600, &p), 0);
	assert_int_equal(daxo_root_size(p), 0);
	assert_int_equal(daxo_root_construct(p, 64, refuse_ctor, NULL, &ro),
			 -ECANCELED);
	assert_int_equal(daxo_root(p, 0, &ro), -ENOENT);
	assert_int_equal(daxo_root_construct(p, 64, mark_ctor, &calls, &ro),
			 0);
	assert_int_equal(calls, 1);
	assert_int_equal(((struct root *)daxo_direct(p, ro))->word[7], 77);
	daxo_close(p);
	assert_int_equal(daxo_open(path, NULL, DAXO_RDONLY, &p), 0);
	assert_int_equal(daxo_root(p, 1 << 20, &ro), -EROFS);
	assert_int_equal(daxo_root(p, 64, &ro), 0);
	daxo_close(p);
	unlink(path);
}

#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_ctor_object_is_published_initialized),
		T(test_ctor_refusing_leaves_nothing),
		T(test_ctor_costs_one_fence),
		T(test_ctor_beside_a_transaction),
		T(test_realloc_atomic),
		T(test_realloc_in_transaction),
		T(test_root_grows),
		T(test_root_construct_on_a_new_pool),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
