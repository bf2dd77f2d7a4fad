/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_heap.c -- the allocator through its public contract (daxo.h):
 * atomic alloc and free published into a pool word, usable sizes and the
 * size classes daxo_heap_info lists, alignment, type numbers, iteration,
 * objects that never overlap and keep their bytes, freed space reused,
 * full pools, bad oids and double frees refused with nothing changed,
 * read-only pools, threads; and the heap over a pool's lifetime: freed
 * space comes back for any size (emptied runs are given back to the free
 * chunks, which coalesce), also after a reopen, and daxo_heap_info says
 * what is free. Figures are bytes, deterministic: no timing.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <sys/statvfs.h>

#include "daxo.h"

#include "test_common.h"

/* ---- the allocator's contract, on a fresh pool per test ---- */

#define FIX_SIZE (64ull << 20)

struct root {
	daxo_oid obj;
};

struct fixture {
	const char *path;
	daxo_pool *p;
	struct root *r;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->path = test_pool_path("heap");
	f->p = test_pool_root(f->path, "heap", true, FIX_SIZE,
			      sizeof(struct root), (void **)&f->r);
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
	f->p = test_pool_root(f->path, "heap", false, 0, 0, (void **)&f->r);
}

static unsigned count_type(daxo_pool *p, uint32_t type)
{
	unsigned n = 0;

	for (daxo_oid o = daxo_first(p, type); o; o = daxo_next(p, o, type))
		n++;
	return n;
}

static void test_alloc_sizes_alignment_and_types(void **state)
{
	struct fixture *f = *state;
	static const uint64_t sizes[] = {1,    8,     63,     64,      65,
					 100,  1000,  4096,   20000,   65536,
					 65537, 300000, 5u << 20};
	daxo_oid o[ARRAY_LEN(sizes)];

	for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
		assert_int_equal(daxo_alloc(f->p, sizes[i], 100 + (uint32_t)i,
					    &o[i]),
				 0);
		assert_true(o[i] != 0);
		assert_true(daxo_usable_size(f->p, o[i]) >= sizes[i]);
		assert_int_equal(daxo_oid_type(f->p, o[i]), 100 + i);
		if (sizes[i] >= 64)
			assert_int_equal((uintptr_t)daxo_direct(f->p, o[i]) % 64,
					 0);
		/* the whole usable size is writable */
		memset(daxo_direct(f->p, o[i]), 0x5a, sizes[i]);
	}
	for (size_t i = 0; i < ARRAY_LEN(sizes); i++)
		assert_int_equal(count_type(f->p, 100 + (uint32_t)i), 1);
	reopen(f);
	for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
		assert_int_equal(daxo_oid_type(f->p, o[i]), 100 + i);
		assert_int_equal(((unsigned char *)daxo_direct(f->p, o[i]))[0],
				 0x5a);
		assert_int_equal(daxo_free(f->p, &o[i]), 0);
		assert_int_equal(o[i], 0);
	}
	for (size_t i = 0; i < ARRAY_LEN(sizes); i++)
		assert_int_equal(count_type(f->p, 100 + (uint32_t)i), 0);
}

static void test_alloc_publishes_into_pool_word(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(daxo_alloc(f->p, 128, 7, &f->r->obj), 0);
	daxo_oid o = f->r->obj;
	assert_true(o != 0);
	reopen(f);
	assert_int_equal(f->r->obj, o);
	assert_int_equal(daxo_usable_size(f->p, o), 128);
	assert_int_equal(daxo_free(f->p, &f->r->obj), 0);
	assert_int_equal(f->r->obj, 0);
	reopen(f);
	assert_int_equal(f->r->obj, 0);
	assert_int_equal(count_type(f->p, 7), 0);
}

static void test_bad_frees_change_nothing(void **state)
{
	struct fixture *f = *state;
	daxo_oid o, bad, keep;

	assert_int_equal(daxo_alloc(f->p, 256, 9, &o), 0);
	keep = o;
	bad = o + 64; /* inner address */
	assert_int_equal(daxo_free(f->p, &bad), -EINVAL);
	assert_true(strstr(daxo_errormsg(), "offset") != NULL);
	bad = 8; /* the header */
	assert_int_equal(daxo_free(f->p, &bad), -EINVAL);
	bad = FIX_SIZE + 4096; /* outside */
	assert_int_equal(daxo_free(f->p, &bad), -EINVAL);
	bad = 0;
	assert_int_equal(daxo_free(f->p, &bad), -EINVAL);
	assert_int_equal(daxo_free(f->p, &o), 0);
	o = keep;
	assert_int_equal(daxo_free(f->p, &o), -EINVAL); /* double free */
	assert_int_equal(o, keep);
	/* a never-allocated slot in a live run */
	daxo_oid a, b;
	assert_int_equal(daxo_alloc(f->p, 256, 9, &a), 0);
	assert_int_equal(daxo_alloc(f->p, 256, 9, &b), 0);
	bad = b + 256 * 5;
	assert_int_equal(daxo_free(f->p, &bad), -EINVAL);
	/* a large object: inner chunk and double free */
	daxo_oid big;
	assert_int_equal(daxo_alloc(f->p, 1 << 20, 9, &big), 0);
	bad = big + (256 << 10);
	assert_int_equal(daxo_free(f->p, &bad), -EINVAL);
	bad = big + 4096; /* heap 2: the chunk of its type entry */
	assert_int_equal(daxo_free(f->p, &bad), -EINVAL);
	keep = big;
	assert_int_equal(daxo_free(f->p, &big), 0);
	big = keep;
	assert_int_equal(daxo_free(f->p, &big), -EINVAL);
	assert_int_equal(count_type(f->p, 9), 2);
	/* a destination word outside the heap and the root area */
	daxo_oid *hdrword = (daxo_oid *)daxo_direct(f->p, 4096 - 8);
	assert_int_equal(daxo_alloc(f->p, 64, 1, hdrword), -EINVAL);
	assert_int_equal(daxo_alloc(f->p, 0, 1, &a), -EINVAL);
}

static void test_full_pool_enospc_intact(void **state)
{
	const char *path = test_pool_path("full");
	daxo_pool *p;
	daxo_oid ro, o;
	unsigned n = 0, small = 0;

	(void)state;
	assert_int_equal(daxo_create(path, "full", 8 << 20, 0600, &p), 0);
	assert_int_equal(daxo_root(p, 64, &ro), 0);
	while (daxo_alloc(p, 256 << 10, 1, &o) == 0)
		n++;
	assert_true(n > 0);
	assert_int_equal(daxo_alloc(p, 256 << 10, 1, &o), -ENOSPC);
	assert_true(strlen(daxo_errormsg()) > 0);
	while (daxo_alloc(p, 64, 2, &o) == 0)
		small++;
	assert_int_equal(daxo_alloc(p, 64, 2, &o), -ENOSPC);
	/* a transaction that runs out of space aborts cleanly */
	daxo_tx *tx;
	uint64_t *root = daxo_direct(p, ro);
	assert_int_equal(daxo_tx_begin(p, &tx), 0);
	assert_int_equal(daxo_tx_add_range(tx, root, 8), 0);
	*root = 42;
	assert_int_equal(daxo_tx_alloc(tx, 1 << 20, 3, &o), -ENOSPC);
	assert_int_equal(daxo_tx_commit(tx), -ENOSPC);
	assert_int_equal(*root, 0);
	assert_int_equal(daxo_close(p), 0);
	assert_int_equal(daxo_open(path, "full", 0, &p), 0);
	assert_int_equal(count_type(p, 1), n);
	assert_int_equal(count_type(p, 2), small);
	assert_int_equal(count_type(p, 3), 0);
	/* freeing makes room again */
	o = daxo_first(p, 1);
	assert_int_equal(daxo_free(p, &o), 0);
	assert_int_equal(daxo_alloc(p, 100 << 10, 4, &o), 0);
	daxo_close(p);
	unlink(path);
}

/* free space in runs found at open is usable by one thread (not stranded) */
static void test_reopen_reuses_free_slots(void **state)
{
	const char *path = test_pool_path("strand");
	daxo_pool *p;
	daxo_oid o;
	unsigned n = 0, again = 0;

	(void)state;
	assert_int_equal(daxo_create(path, "s", 8 << 20, 0600, &p), 0);
	while (daxo_alloc(p, 200, 1, &o) == 0)
		n++;
	/* free every other object: the runs are half full */
	unsigned k = 0;
	for (daxo_oid x = daxo_first(p, 1); x;) {
		daxo_oid next = daxo_next(p, x, 1);
		if (k++ % 2 == 0)
			assert_int_equal(daxo_free(p, &x), 0);
		x = next;
	}
	assert_int_equal(daxo_close(p), 0);
	assert_int_equal(daxo_open(path, "s", 0, &p), 0);
	while (daxo_alloc(p, 200, 1, &o) == 0)
		again++;
	assert_int_equal(again, (n + 1) / 2);
	assert_int_equal(count_type(p, 1), n);
	daxo_close(p);
	unlink(path);
}

static void test_large_object_no_cap(void **state)
{
	char path[256];
	daxo_pool *p;
	daxo_oid o;

	(void)state;
	/*
	 * on a disk file system, where fallocate only reserves extents (on
	 * tmpfs it would take 20 GiB of memory)
	 */
	snprintf(path, sizeof(path), "/var/tmp/daxo-test-big-%d.pool",
		 (int)getpid());
	unlink(path);
	struct statvfs sv;
	if (statvfs("/var/tmp", &sv) == 0 &&
	    (uint64_t)sv.f_bavail * sv.f_frsize < (21ull << 30)) {
		print_message("skip: /var/tmp has less than 21 GiB free\n");
		skip();
	}
	assert_int_equal(daxo_create(path, "big", 20ull << 30, 0600, &p), 0);
	assert_int_equal(daxo_alloc(p, 17ull << 30, 1, &o), 0);
	assert_true(daxo_usable_size(p, o) >= (17ull << 30));
	char *b = daxo_direct(p, o);
	b[(17ull << 30) - 1] = 1;
	assert_int_equal(daxo_free(p, &o), 0);
	daxo_close(p);
	unlink(path);
}

static void test_iteration_by_type(void **state)
{
	struct fixture *f = *state;
	daxo_oid o;

	for (int i = 0; i < 300; i++)
		assert_int_equal(daxo_alloc(f->p, 64 + (i % 3) * 1000,
					    (uint32_t)(20 + i % 3), &o),
				 0);
	assert_int_equal(count_type(f->p, 20), 100);
	assert_int_equal(count_type(f->p, 21), 100);
	assert_int_equal(count_type(f->p, 22), 100);
	unsigned any = count_type(f->p, DAXO_TYPE_ANY);
	assert_true(any >= 301); /* plus the root */
	/* strictly increasing offsets */
	daxo_oid prev = 0;
	for (o = daxo_first(f->p, DAXO_TYPE_ANY); o;
	     o = daxo_next(f->p, o, DAXO_TYPE_ANY)) {
		assert_true(o > prev);
		prev = o;
	}
}

/* sizes -- the size classes daxo_heap_info lists; how many */
static unsigned sizes_of_classes(daxo_pool *p, uint64_t *cls, uint64_t *chunk)
{
	static struct daxo_heap_info info;

	assert_int_equal(daxo_heap_info(p, &info), 0);
	assert_true(info.nclasses > 0 &&
		    info.nclasses <= DAXO_HEAP_CLASSES_MAX);
	for (unsigned c = 0; c < info.nclasses; c++)
		cls[c] = info.cls[c].size;
	*chunk = info.chunk_size;
	return info.nclasses;
}

/*
 * An allocation takes the smallest size class that holds it: its usable
 * size is that class's size; above the largest class it takes whole chunks.
 * Classes are multiples of 64 bytes (objects of 64 or more are
 * line-aligned) and close enough that a small object wastes less than a
 * quarter of its size or 64 bytes, whichever is more.
 */
static void test_alloc_takes_the_smallest_class_that_fits(void **state)
{
	struct fixture *f = *state;
	uint64_t cls[DAXO_HEAP_CLASSES_MAX], chunk, size, usable;
	unsigned n = sizes_of_classes(f->p, cls, &chunk), c = 0;
	daxo_oid o;

	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(cls[i] % 64, 0);
		assert_true(i == 0 || cls[i] > cls[i - 1]);
	}
	/* every size up to 4 KiB, then a stride that is prime to 64 */
	for (size = 1; size <= cls[n - 1]; size += size < 4096 ? 1 : 61) {
		while (cls[c] < size)
			c++;
		assert_int_equal(daxo_alloc(f->p, size, 1, &o), 0);
		usable = daxo_usable_size(f->p, o);
		if (usable != cls[c])
			fail_msg("%llu bytes: usable %llu, class %llu",
				 (unsigned long long)size,
				 (unsigned long long)usable,
				 (unsigned long long)cls[c]);
		assert_true(usable - size < (size / 4 > 64 ? size / 4 : 64));
		assert_int_equal(daxo_free(f->p, &o), 0);
	}
	/* each class's own size, and one byte more */
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(daxo_alloc(f->p, cls[i], 1, &o), 0);
		assert_int_equal(daxo_usable_size(f->p, o), cls[i]);
		assert_int_equal(daxo_free(f->p, &o), 0);
		if (i + 1 < n) {
			assert_int_equal(daxo_alloc(f->p, cls[i] + 1, 1, &o), 0);
			assert_int_equal(daxo_usable_size(f->p, o), cls[i + 1]);
			assert_int_equal(daxo_free(f->p, &o), 0);
		}
	}
	/* above the classes: whole chunks, chunk-aligned */
	uint64_t big = chunk > cls[n - 1] ? chunk : cls[n - 1] + 1;
	const uint64_t large[] = {cls[n - 1] + 1, big, big + 1,
				  3 * big - 1, 3 * big};
	for (size_t i = 0; i < ARRAY_LEN(large); i++) {
		assert_int_equal(daxo_alloc(f->p, large[i], 2, &o), 0);
		assert_int_equal(daxo_usable_size(f->p, o),
				 (large[i] + chunk - 1) / chunk * chunk);
		assert_int_equal((uintptr_t)daxo_direct(f->p, o) % 64, 0);
		assert_int_equal(daxo_free(f->p, &o), 0);
	}
}

struct obj {
	daxo_oid oid;
	uint64_t usable;
	uint32_t type;
	uint8_t fill;
	bool live;
};

static int by_oid(const void *a, const void *b)
{
	const struct obj *x = a, *y = b;

	return x->oid < y->oid ? -1 : x->oid > y->oid;
}

/* splitmix64: sizes that are the same on every run */
static uint64_t rnd(uint64_t *st)
{
	uint64_t z = (*st += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* rnd_size -- mostly small objects, some of many KiB, a few of whole chunks */
static uint64_t rnd_size(uint64_t *st)
{
	uint64_t r = rnd(st), k = r % 100;

	r >>= 8;
	if (k < 90)
		return 1 + r % 4096;
	if (k < 98)
		return 4096 + r % (220u << 10);
	return (224u << 10) + r % (400u << 10);
}

/*
 * check_disjoint -- the live objects of @v (sorted here) lie inside the
 * pool, never overlap, and hold every byte their owner wrote
 */
static void check_disjoint(daxo_pool *p, struct obj *v, size_t n)
{
	size_t k = 0;

	qsort(v, n, sizeof(*v), by_oid);
	for (size_t i = 0; i < n; i++) {
		if (!v[i].live)
			continue;
		const uint8_t *b = daxo_direct(p, v[i].oid);
		assert_non_null(b);
		assert_non_null(daxo_direct(p, v[i].oid + v[i].usable - 1));
		assert_int_equal(daxo_usable_size(p, v[i].oid), v[i].usable);
		assert_int_equal(daxo_oid_type(p, v[i].oid), v[i].type);
		for (uint64_t j = 0; j < v[i].usable; j++)
			if (b[j] != v[i].fill)
				fail_msg("object %llu byte %llu: %u, not %u",
					 (unsigned long long)v[i].oid,
					 (unsigned long long)j, b[j], v[i].fill);
		if (k < i && v[k].live)
			assert_true(v[k].oid + v[k].usable <= v[i].oid);
		k = i;
	}
}

/*
 * Objects of sizes from 1 byte to 600 KiB, some freed as others are made:
 * none overlaps another, each holds what was written into its whole usable
 * size, also after a reopen
 */
#define NOBJ 1500
static void test_objects_never_overlap_and_keep_their_bytes(void **state)
{
	struct fixture *f = *state;
	struct obj *v = calloc(NOBJ, sizeof(*v));
	uint64_t st = 42;

	assert_non_null(v);
	for (size_t i = 0; i < NOBJ; i++) {
		uint64_t size = rnd_size(&st);
		assert_int_equal(daxo_alloc(f->p, size, 300 + (uint32_t)(i % 5),
					    &v[i].oid),
				 0);
		v[i].usable = daxo_usable_size(f->p, v[i].oid);
		assert_true(v[i].usable >= size);
		v[i].type = 300 + (uint32_t)(i % 5);
		v[i].fill = (uint8_t)(i * 37 + 1);
		v[i].live = true;
		memset(daxo_direct(f->p, v[i].oid), v[i].fill, v[i].usable);
		/* free an older one now and then: its space is reused */
		if (i % 3 == 2) {
			size_t j = (size_t)(rnd(&st) % i);
			if (v[j].live) {
				assert_int_equal(daxo_free(f->p, &v[j].oid), 0);
				v[j].live = false;
			}
		}
	}
	check_disjoint(f->p, v, NOBJ);
	reopen(f);
	check_disjoint(f->p, v, NOBJ);
	free(v);
}

/*
 * Freed slots are allocated again: the same objects made again take no new
 * run and leave the heap as full as before; a freed large object's chunks
 * hold the next one
 */
static void test_freed_slots_are_reused(void **state)
{
	struct fixture *f = *state;
	struct daxo_heap_info a, b;
	daxo_oid o[100], big;

	for (int i = 0; i < 100; i++)
		assert_int_equal(daxo_alloc(f->p, 1000, 1, &o[i]), 0);
	assert_int_equal(daxo_alloc(f->p, 1 << 20, 1, &big), 0);
	assert_int_equal(daxo_heap_info(f->p, &a), 0);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 100; i++)
			assert_int_equal(daxo_free(f->p, &o[i]), 0);
		assert_int_equal(daxo_free(f->p, &big), 0);
		for (int i = 0; i < 100; i++)
			assert_int_equal(daxo_alloc(f->p, 1000, 1, &o[i]), 0);
		assert_int_equal(daxo_alloc(f->p, 1 << 20, 1, &big), 0);
		assert_int_equal(daxo_heap_info(f->p, &b), 0);
		assert_int_equal(b.free_bytes, a.free_bytes);
		assert_int_equal(b.runs, a.runs);
		assert_int_equal(b.large_objects, a.large_objects);
		assert_int_equal(b.large_bytes, a.large_bytes);
	}
	assert_int_equal(count_type(f->p, 1), 101);
}

/*
 * Offsets that are not live objects -- null, inside the header, inside an
 * object, freed, past the end, the largest values -- have no usable size,
 * no type, and past the pool no address; the objects around them are
 * unchanged
 */
static void test_bad_oids_have_no_size_type_or_address(void **state)
{
	struct fixture *f = *state;
	daxo_oid o, gone, big;

	assert_int_equal(daxo_alloc(f->p, 256, 5, &o), 0);
	assert_int_equal(daxo_alloc(f->p, 256, 5, &gone), 0);
	assert_int_equal(daxo_alloc(f->p, 1 << 20, 6, &big), 0);
	const daxo_oid freed = gone;
	assert_int_equal(daxo_free(f->p, &gone), 0);
	const daxo_oid bad[] = {
		0,	   1,		 8,	     64,
		4096,	   o + 1,	 o + 64,     o + 255,
		freed,	   big + 64,	 big + (256 << 10),
		FIX_SIZE - 64,		 FIX_SIZE,   FIX_SIZE + 4096,
		UINT64_MAX - 63,	 UINT64_MAX,
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		if (daxo_usable_size(f->p, bad[i]) != 0 ||
		    daxo_oid_type(f->p, bad[i]) != UINT32_MAX)
			fail_msg("offset %llu taken for an object",
				 (unsigned long long)bad[i]);
		if (bad[i] >= FIX_SIZE || bad[i] == 0)
			assert_null(daxo_direct(f->p, bad[i]));
	}
	assert_int_equal(daxo_usable_size(f->p, o), 256);
	assert_int_equal(daxo_oid_type(f->p, o), 5);
	assert_int_equal(daxo_oid_type(f->p, big), 6);
	assert_int_equal(daxo_usable_size(NULL, o), 0);
	assert_int_equal(daxo_oid_type(NULL, o), UINT32_MAX);
	assert_int_equal(daxo_first(NULL, DAXO_TYPE_ANY), 0);
	assert_int_equal(daxo_next(NULL, o, DAXO_TYPE_ANY), 0);
}

/*
 * Sizes no pool holds are -ENOSPC, size 0 and the type number that
 * daxo_oid_type uses for "no object" are -EINVAL, a NULL destination is
 * -EINVAL; none of them changes the heap
 */
static void test_alloc_refuses_bad_sizes_and_types(void **state)
{
	struct fixture *f = *state;
	struct daxo_heap_info a, b;
	const uint64_t huge[] = {FIX_SIZE, FIX_SIZE + 1, DAXO_MAX_POOL_SIZE + 1,
				 UINT64_MAX - 4095, UINT64_MAX};
	daxo_oid o = 0;
	daxo_tx *tx;

	assert_int_equal(daxo_heap_info(f->p, &a), 0);
	for (size_t i = 0; i < ARRAY_LEN(huge); i++) {
		assert_int_equal(daxo_alloc(f->p, huge[i], 1, &o), -ENOSPC);
		assert_true(strlen(daxo_errormsg()) > 0);
		assert_int_equal(o, 0);
	}
	assert_int_equal(daxo_alloc(f->p, 0, 1, &o), -EINVAL);
	assert_int_equal(daxo_alloc(f->p, 64, DAXO_TYPE_ANY, &o), -EINVAL);
	assert_int_equal(o, 0);
	assert_int_equal(daxo_alloc(f->p, 64, 1, NULL), -EINVAL);
	assert_int_equal(daxo_alloc(NULL, 64, 1, &o), -EINVAL);
	assert_int_equal(daxo_free(f->p, NULL), -EINVAL);
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_alloc(tx, 64, DAXO_TYPE_ANY, &o), -EINVAL);
	daxo_tx_abort(tx);
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_alloc(tx, UINT64_MAX, 1, &o), -ENOSPC);
	daxo_tx_abort(tx);
	assert_int_equal(daxo_heap_info(f->p, &b), 0);
	assert_int_equal(b.free_bytes, a.free_bytes);
	assert_int_equal(count_type(f->p, DAXO_TYPE_ANY), 1); /* the root */
	/* and the heap still works */
	assert_int_equal(daxo_alloc(f->p, 64, 1, &o), 0);
	assert_int_equal(daxo_free(f->p, &o), 0);
}

/*
 * Iteration returns exactly the live objects of a type, in address order,
 * after frees in the middle of runs and of the chunk area; daxo_next taken
 * before each free walks a list that is being freed; offsets past the pool
 * end an iteration
 */
static void test_iteration_sees_exactly_the_live_objects(void **state)
{
	struct fixture *f = *state;
	struct obj v[600];
	uint64_t st = 7;
	size_t n40 = 0, k;
	daxo_oid o;

	for (size_t i = 0; i < ARRAY_LEN(v); i++) {
		v[i].type = 40 + (uint32_t)(i % 2);
		assert_int_equal(daxo_alloc(f->p, rnd_size(&st), v[i].type,
					    &v[i].oid),
				 0);
		v[i].live = true;
	}
	for (size_t i = 0; i < ARRAY_LEN(v); i += 3) {
		assert_int_equal(daxo_free(f->p, &v[i].oid), 0);
		v[i].live = false;
	}
	for (size_t i = 0; i < ARRAY_LEN(v); i++)
		if (!v[i].live)
			v[i].oid = UINT64_MAX; /* sorts last */
	qsort(v, ARRAY_LEN(v), sizeof(v[0]), by_oid);
	k = 0;
	for (o = daxo_first(f->p, 40); o; o = daxo_next(f->p, o, 40)) {
		while (k < ARRAY_LEN(v) && (!v[k].live || v[k].type != 40))
			k++;
		assert_true(k < ARRAY_LEN(v));
		assert_int_equal(o, v[k].oid);
		k++;
		n40++;
	}
	while (k < ARRAY_LEN(v) && (!v[k].live || v[k].type != 40))
		k++;
	assert_int_equal(k, ARRAY_LEN(v)); /* none missed */
	assert_int_equal(n40, 200);
	assert_int_equal(count_type(f->p, 41), 200);
	assert_int_equal(count_type(f->p, DAXO_TYPE_ANY), 401);
	assert_int_equal(count_type(f->p, DAXO_TYPE_ROOT), 1);
	assert_int_equal(daxo_first(f->p, 12345), 0);
	assert_int_equal(daxo_next(f->p, FIX_SIZE, DAXO_TYPE_ANY), 0);
	assert_int_equal(daxo_next(f->p, UINT64_MAX, DAXO_TYPE_ANY), 0);
	/* free while walking: take the next one first */
	for (o = daxo_first(f->p, 40); o;) {
		daxo_oid next = daxo_next(f->p, o, 40);
		assert_int_equal(daxo_free(f->p, &o), 0);
		o = next;
	}
	assert_int_equal(count_type(f->p, 40), 0);
	assert_int_equal(count_type(f->p, 41), 200);
}

/* a read-only pool allocates and frees nothing, and still reads (its
 * daxo_pool_info and daxo_heap_info too) */
static void test_read_only_pool_refuses_alloc_and_free(void **state)
{
	struct fixture *f = *state;
	daxo_oid o = 0, ro;
	daxo_tx *tx;

	struct daxo_heap_info rw, rdo, st;
	struct daxo_info pi;

	assert_int_equal(daxo_alloc(f->p, 500, 8, &f->r->obj), 0);
	const daxo_oid obj = f->r->obj;
	assert_int_equal(daxo_heap_info(f->p, &rw), 0);
	assert_int_equal(daxo_close(f->p), 0);
	assert_int_equal(daxo_open(f->path, "heap", DAXO_RDONLY, &f->p), 0);
	/* the read-only handle describes the pool as the writer left it */
	assert_int_equal(daxo_pool_info(f->p, &pi), 0);
	assert_int_equal(pi.readonly, 1);
	assert_int_equal(daxo_heap_info(f->p, &rdo), 0);
	assert_int_equal(daxo_heap_stat(f->path, &st), 0);
	assert_int_equal(rdo.heap_bytes, rw.heap_bytes);
	assert_int_equal(rdo.free_bytes, rw.free_bytes);
	assert_int_equal(rdo.large_objects, rw.large_objects);
	assert_int_equal(rdo.runs, rw.runs);
	assert_int_equal(st.free_bytes, rw.free_bytes);
	assert_int_equal(daxo_root(f->p, 0, &ro), 0);
	f->r = daxo_direct(f->p, ro);
	assert_int_equal(daxo_alloc(f->p, 64, 8, &o), -EROFS);
	assert_int_equal(o, 0);
	assert_int_equal(daxo_free(f->p, &f->r->obj), -EROFS);
	assert_int_equal(f->r->obj, obj);
	assert_int_equal(daxo_tx_begin(f->p, &tx), -EROFS);
	assert_int_equal(daxo_usable_size(f->p, obj), 512);
	assert_int_equal(daxo_oid_type(f->p, obj), 8);
	assert_int_equal(daxo_first(f->p, 8), obj);
	reopen(f);
	assert_int_equal(count_type(f->p, 8), 1);
}

/*
 * Two threads allocate objects of mixed sizes and free some of their own
 * while the other allocates: no object is handed out twice or overlaps
 * another, and every one keeps its owner's bytes
 */
#define DN 1500
static daxo_pool *dp;
static struct obj dobj[2][DN];

static void *disjoint_worker(void *arg)
{
	unsigned me = (unsigned)(uintptr_t)arg;
	uint64_t st = 1000 + me;

	for (unsigned i = 0; i < DN; i++) {
		struct obj *x = &dobj[me][i];
		x->type = 50 + me;
		if (daxo_alloc(dp, rnd_size(&st) / 2 + 1, x->type, &x->oid))
			return (void *)1;
		x->usable = daxo_usable_size(dp, x->oid);
		x->fill = (uint8_t)(me * 128 + i % 127 + 1);
		x->live = true;
		memset(daxo_direct(dp, x->oid), x->fill, x->usable);
		if (i % 4 == 3) {
			struct obj *y = &dobj[me][i - 2];
			if (daxo_free(dp, &y->oid))
				return (void *)2;
			y->live = false;
		}
	}
	return NULL;
}

static void test_threads_get_disjoint_objects(void **st)
{
	const char *path = test_pool_path("heap-disjoint");
	pthread_t t[2];
	void *r[2];

	(void)st;
	assert_int_equal(daxo_create(path, "heap", FIX_SIZE, 0600, &dp), 0);
	for (uintptr_t i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, disjoint_worker,
						(void *)i),
				 0);
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], &r[i]);
		assert_null(r[i]);
	}
	check_disjoint(dp, &dobj[0][0], 2 * DN);
	assert_int_equal(daxo_close(dp), 0);
	assert_int_equal(daxo_check(path, 0, NULL, NULL), 0);
	unlink(path);
}

/* ---- the heap over a pool's lifetime ---- */

#define SIZE (32ull << 20)
#define MIB (1ull << 20)

struct objs {
	daxo_oid *o;
	size_t n, cap;
};

/* fill -- objects of @size until -ENOSPC; how many */
static size_t fill(daxo_pool *p, uint64_t size, struct objs *v)
{
	size_t before = v->n;
	daxo_oid o;
	int ret;

	for (;;) {
		ret = daxo_alloc(p, size, 1, &o);
		if (ret == -ENOSPC)
			break;
		assert_int_equal(ret, 0);
		if (v->n == v->cap) {
			v->cap = v->cap ? 2 * v->cap : 1024;
			v->o = realloc(v->o, v->cap * sizeof(*v->o));
			assert_non_null(v->o);
		}
		v->o[v->n++] = o;
	}
	return v->n - before;
}

static void free_all(daxo_pool *p, struct objs *v)
{
	for (size_t i = 0; i < v->n; i++)
		assert_int_equal(daxo_free(p, &v->o[i]), 0);
	v->n = 0;
}

static struct daxo_heap_info hi;

/*
 * A pool filled with 64-byte objects and emptied holds 1 MiB objects in
 * 95% of its heap again, at once and after a reopen (where the emptied
 * runs, kept as runs of their class, are read back and given up on demand)
 */
static void test_free_all_gives_space_back_for_any_size(void **st)
{
	const char *path = test_pool_path("heap-life");
	struct objs v = {0};
	daxo_pool *p;

	(void)st;
	assert_int_equal(daxo_create(path, "heap", SIZE, 0600, &p), 0);
	assert_int_equal(daxo_heap_info(p, &hi), 0);
	uint64_t heap = hi.heap_bytes;
	assert_true(heap > SIZE * 9 / 10 && heap < SIZE);
	assert_int_equal(hi.free_bytes, heap);
	assert_int_equal(hi.largest_alloc, heap);

	size_t n64 = fill(p, 64, &v);
	assert_true(n64 * 64 > SIZE * 85 / 100);
	assert_int_equal(daxo_heap_info(p, &hi), 0);
	assert_true(hi.free_bytes < heap / 100);
	free_all(p, &v);

	/* everything is free again, and one object can have nearly all */
	assert_int_equal(daxo_heap_info(p, &hi), 0);
	assert_int_equal(hi.free_bytes, heap);
	assert_int_equal(hi.free_chunk_bytes, heap);
	assert_true(hi.largest_alloc >= heap * 95 / 100);
	assert_true(hi.retired_runs > 0);
	size_t n1m = fill(p, MIB, &v);
	assert_true(n1m * MIB >= heap * 95 / 100);
	free_all(p, &v);

	/* the same after a reopen, with 64 B objects freed before it */
	assert_true(fill(p, 64, &v) == n64);
	free_all(p, &v);
	assert_int_equal(daxo_close(p), 0);
	assert_int_equal(daxo_open(path, "heap", 0, &p), 0);
	assert_int_equal(daxo_heap_info(p, &hi), 0);
	assert_int_equal(hi.free_bytes, heap);
	assert_true(hi.largest_alloc >= heap * 95 / 100);
	assert_true(fill(p, MIB, &v) == n1m);
	free_all(p, &v);
	assert_int_equal(daxo_close(p), 0);
	free(v.o);
	unlink(path);
}

/* daxo_heap_info counts runs, slots and large objects as allocated */
static void test_heap_info_counts_what_is_allocated(void **st)
{
	const char *path = test_pool_path("heap-info");
	daxo_pool *p;
	daxo_oid small[10], big;
	uint64_t slot = 0;

	(void)st;
	assert_int_equal(daxo_create(path, "heap", SIZE, 0600, &p), 0);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(daxo_alloc(p, 100, 1, &small[i]), 0);
		slot = daxo_usable_size(p, small[i]);
	}
	assert_int_equal(daxo_alloc(p, 3 * MIB, 2, &big), 0);
	assert_int_equal(daxo_heap_info(p, &hi), 0);
	assert_int_equal(hi.large_objects, 1);
	assert_true(hi.large_bytes >= 3 * MIB);
	assert_int_equal(hi.runs, 1);
	uint32_t found = 0;
	for (uint32_t c = 0; c < hi.nclasses; c++) {
		if (!hi.cls[c].runs)
			continue;
		found++;
		assert_int_equal(hi.cls[c].size, slot);
		assert_int_equal(hi.cls[c].used, 10);
		assert_int_equal(hi.cls[c].idle_runs, 0);
		assert_int_equal(hi.free_bytes,
				 hi.heap_bytes - hi.large_bytes - hi.run_bytes +
					 (hi.cls[c].slots - 10) * slot);
	}
	assert_int_equal(found, 1);
	assert_true(hi.largest_alloc <= hi.heap_bytes - hi.large_bytes -
						 hi.run_bytes);
	assert_int_equal(daxo_heap_info(NULL, &hi), -EINVAL);
	assert_int_equal(daxo_heap_info(p, NULL), -EINVAL);
	assert_int_equal(daxo_close(p), 0);
	unlink(path);
}

/*
 * daxo_heap_stat reads the same figures from the file, without opening the
 * pool: while it is open here (a quiescent heap), and after it is closed
 */
static void test_heap_stat_reads_what_heap_info_says(void **st)
{
	const char *path = test_pool_path("heap-stat");
	static struct daxo_heap_info a, b;
	daxo_pool *p;
	daxo_oid o[400];
	uint64_t r = 5;

	(void)st;
	assert_int_equal(daxo_create(path, "heap", SIZE, 0600, &p), 0);
	for (int i = 0; i < 400; i++) {
		r = r * 6364136223846793005ull + 1442695040888963407ull;
		uint64_t size = (r >> 33) % 7 == 0 ? 40000 + (r >> 40) % 300000
						   : 16 + (r >> 40) % 5000;
		assert_int_equal(daxo_alloc(p, size, 1, &o[i]), 0);
	}
	for (int i = 0; i < 400; i += 3)
		assert_int_equal(daxo_free(p, &o[i]), 0);
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 0)
			assert_int_equal(daxo_heap_info(p, &a), 0);
		assert_int_equal(daxo_heap_stat(path, &b), 0);
		assert_int_equal(b.chunk_size, a.chunk_size);
		assert_int_equal(b.heap_bytes, a.heap_bytes);
		assert_int_equal(b.free_bytes, a.free_bytes);
		assert_int_equal(b.free_chunk_bytes, a.free_chunk_bytes);
		assert_int_equal(b.largest_alloc, a.largest_alloc);
		assert_int_equal(b.large_objects, a.large_objects);
		assert_int_equal(b.large_bytes, a.large_bytes);
		assert_int_equal(b.runs, a.runs);
		assert_int_equal(b.run_bytes, a.run_bytes);
		assert_int_equal(b.nclasses, a.nclasses);
		for (uint32_t c = 0; c < a.nclasses; c++) {
			assert_int_equal(b.cls[c].runs, a.cls[c].runs);
			assert_int_equal(b.cls[c].used, a.cls[c].used);
			assert_int_equal(b.cls[c].idle_runs,
					 a.cls[c].idle_runs);
		}
		if (pass == 0)
			assert_int_equal(daxo_close(p), 0);
	}
	assert_int_equal(daxo_heap_stat(NULL, &b), -EINVAL);
	assert_int_equal(daxo_heap_stat(path, NULL), -EINVAL);
	assert_int_equal(daxo_heap_stat("/", &b), -EINVAL);
	assert_int_equal(daxo_heap_stat("/nonexistent/x.pool", &b), -ENOENT);
	unlink(path);
}

/*
 * Two threads fill runs, free each other's objects (so runs empty in an
 * arena other than the freeing thread's) and take large objects from the
 * chunks the retired runs gave back; at the end everything is free again
 */
#define TN 3000
static daxo_pool *tp;
static daxo_oid tobj[2][TN];
static pthread_barrier_t tbar;

static void *churner(void *arg)
{
	unsigned me = (unsigned)(uintptr_t)arg;

	for (int round = 0; round < 6; round++) {
		for (unsigned i = 0; i < TN; i++)
			if (daxo_alloc(tp, 2048 + 512 * ((i + me) % 3), 1,
				       &tobj[me][i]) != 0)
				return (void *)1;
		pthread_barrier_wait(&tbar);
		for (unsigned i = 0; i < TN; i++)
			if (daxo_free(tp, &tobj[1 - me][i]) != 0)
				return (void *)2;
		pthread_barrier_wait(&tbar);
		daxo_oid big;
		if (daxo_alloc(tp, 1 << 20, 2, &big) != 0 ||
		    daxo_free(tp, &big) != 0)
			return (void *)3;
	}
	return NULL;
}

static void test_threads_empty_runs_of_each_other(void **st)
{
	const char *path = test_pool_path("heap-threads");
	pthread_t t[2];
	void *r0, *r1;

	(void)st;
	assert_int_equal(daxo_create(path, "heap", SIZE, 0600, &tp), 0);
	assert_int_equal(pthread_barrier_init(&tbar, NULL, 2), 0);
	for (uintptr_t i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, churner,
						(void *)i),
				 0);
	pthread_join(t[0], &r0);
	pthread_join(t[1], &r1);
	assert_null(r0);
	assert_null(r1);
	pthread_barrier_destroy(&tbar);
	assert_int_equal(daxo_heap_info(tp, &hi), 0);
	assert_int_equal(hi.free_bytes, hi.heap_bytes);
	assert_true(hi.retired_runs > 0);
	assert_int_equal(daxo_close(tp), 0);
	assert_int_equal(daxo_check(path, 0, NULL, NULL), 0);
	unlink(path);
}

/*
 * Iteration while the runs it walks are emptied, given back, and their
 * chunks become large objects that their owners fill with plain stores:
 * two threads allocate and free small objects (their runs empty and
 * retire) and then large ones, which they fill through daxo_direct; a
 * third walks the heap with daxo_first and daxo_next meanwhile. The walk
 * must never read a run's bitmap or type words once those chunks can be
 * handed out (in the tsan suite: no data race with the fills), and what it
 * returns comes in increasing order; at the end it finds exactly the
 * objects left.
 */
#define IW_SMALL  700
#define IW_LARGE  6
#define IW_ROUNDS 6
static daxo_pool *iwp;
static _Atomic int iw_stop;

static void *iw_worker(void *arg)
{
	unsigned me = (unsigned)(uintptr_t)arg;
	daxo_oid s[IW_SMALL], l[IW_LARGE];

	for (int round = 0; round < IW_ROUNDS; round++) {
		for (unsigned i = 0; i < IW_SMALL; i++)
			if (daxo_alloc(iwp, 1024 + 1024 * ((i + me) % 3), 5,
				       &s[i]) != 0)
				return (void *)1;
		for (unsigned i = 0; i < IW_SMALL; i++)
			if (daxo_free(iwp, &s[i]) != 0)
				return (void *)2;
		for (unsigned i = 0; i < IW_LARGE; i++) {
			if (daxo_alloc(iwp, 256 << 10, 6, &l[i]) != 0)
				return (void *)3;
			memset(daxo_direct(iwp, l[i]), 0xa5 ^ (int)i,
			       256 << 10);
		}
		for (unsigned i = 0; i < IW_LARGE; i++) {
			const unsigned char *b = daxo_direct(iwp, l[i]);
			unsigned want = 0xa5 ^ i;
			if (b[0] != want || b[(256 << 10) - 1] != want)
				return (void *)4;
			if (daxo_free(iwp, &l[i]) != 0)
				return (void *)5;
		}
	}
	return NULL;
}

static void *iw_walker(void *arg)
{
	daxo_oid kept = (daxo_oid)(uintptr_t)arg;
	unsigned long walks = 0;

	while (!atomic_load(&iw_stop) || walks < 2) {
		daxo_oid last = 0;
		bool saw_kept = false;
		for (daxo_oid o = daxo_first(iwp, DAXO_TYPE_ANY); o;
		     o = daxo_next(iwp, o, DAXO_TYPE_ANY)) {
			if (o <= last)
				return (void *)1;
			saw_kept |= o == kept;
			last = o;
		}
		/* an object live throughout is never skipped */
		if (!saw_kept)
			return (void *)2;
		last = 0;
		for (daxo_oid o = daxo_first(iwp, 5); o;
		     o = daxo_next(iwp, o, 5)) {
			if (o <= last)
				return (void *)3;
			last = o;
		}
		walks++;
	}
	return NULL;
}

static void test_iteration_while_runs_become_large_objects(void **st)
{
	const char *path = test_pool_path("heap-iterwalk");
	pthread_t t[2], w;
	daxo_oid kept;
	void *r[3];

	(void)st;
	unlink(path);
	assert_int_equal(daxo_create(path, "heap", SIZE, 0600, &iwp), 0);
	/* in a run of a class the workers do not use: it never empties */
	assert_int_equal(daxo_alloc(iwp, 64, 7, &kept), 0);
	atomic_store(&iw_stop, 0);
	assert_int_equal(pthread_create(&w, NULL, iw_walker,
					(void *)(uintptr_t)kept),
			 0);
	for (uintptr_t i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, iw_worker,
						(void *)i),
				 0);
	pthread_join(t[0], &r[0]);
	pthread_join(t[1], &r[1]);
	atomic_store(&iw_stop, 1);
	pthread_join(w, &r[2]);
	assert_null(r[0]);
	assert_null(r[1]);
	assert_null(r[2]);
	/* everything the workers made is gone: only the kept object is left */
	assert_int_equal(daxo_first(iwp, DAXO_TYPE_ANY), kept);
	assert_int_equal(daxo_next(iwp, kept, DAXO_TYPE_ANY), 0);
	assert_int_equal(daxo_heap_info(iwp, &hi), 0);
	assert_true(hi.retired_runs > 0);
	assert_int_equal(daxo_close(iwp), 0);
	assert_int_equal(daxo_check(path, 0, NULL, NULL), 0);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_alloc_sizes_alignment_and_types, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_alloc_takes_the_smallest_class_that_fits, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_alloc_publishes_into_pool_word, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_objects_never_overlap_and_keep_their_bytes, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_freed_slots_are_reused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_frees_change_nothing,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_bad_oids_have_no_size_type_or_address, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_alloc_refuses_bad_sizes_and_types, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iteration_by_type, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_iteration_sees_exactly_the_live_objects, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_read_only_pool_refuses_alloc_and_free, setup,
			teardown),
		cmocka_unit_test(test_full_pool_enospc_intact),
		cmocka_unit_test(test_reopen_reuses_free_slots),
		cmocka_unit_test(test_large_object_no_cap),
		cmocka_unit_test(test_threads_get_disjoint_objects),
		cmocka_unit_test(test_free_all_gives_space_back_for_any_size),
		cmocka_unit_test(test_heap_info_counts_what_is_allocated),
		cmocka_unit_test(test_heap_stat_reads_what_heap_info_says),
		cmocka_unit_test(test_threads_empty_runs_of_each_other),
		cmocka_unit_test(
			test_iteration_while_runs_become_large_objects),
	};

	test_env();
	return cmocka_run_group_tests_name("heap", tests, NULL, NULL);
}
