/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_heap_damage.c -- damaged heap metadata is refused (-EUCLEAN, with
 * the offset) at open or at the call that meets it, and is never trusted
 * into handing out live space: after the damage, more puts, then every
 * key written before reads back whole or fails -EUCLEAN -- never "no such
 * key", never other bytes.
 *
 * Damage: one zeroed word of the chunk table (a run's head, a large
 * object's head or its type entry, a free chunk) or of a run's bitmap (a
 * word or its complement); then a seeded sweep of single-word mutations
 * (zeroed, one bit flipped, random, another entry's word) over every
 * table entry the heap reads and every run's first bitmap words. Built
 * against the internal library: it walks the chunk table to find what to
 * damage.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "daxo.h"
#include "heap.h"
#include "heapint.h"
#include "pool.h"

#include "test_common.h"

#define SIZE  (32ull << 20)
#define NKEYS 1500
#define NBIG  6
#define BIG   (300u << 10)
#define MORE  1500
#define SWEEP 120 /* mutations in the sweep */

static void key_of(char *k, unsigned i)
{
	snprintf(k, 16, "key-%06u", i);
}

/* the value of key i: 100 bytes, or BIG bytes for the first NBIG keys */
static size_t val_of(unsigned i, char *v)
{
	size_t n = i < NBIG ? BIG : 100;

	for (size_t j = 0; j < n; j++)
		v[j] = (char)(i * 31 + j);
	return n;
}

static char *vbuf, *gbuf;

/* a pool holding NKEYS keys, closed */
static void make_pool(const char *path)
{
	daxo_pool *p;
	char k[16];

	assert_int_equal(daxo_create(path, "heap", SIZE, 0600, &p), 0);
	for (unsigned i = 0; i < NKEYS; i++) {
		key_of(k, i);
		size_t n = val_of(i, vbuf);
		assert_int_equal(daxo_put(p, k, strlen(k), vbuf, n), 0);
	}
	assert_int_equal(daxo_close(p), 0);
}

struct image {
	int fd;
	char *base;
	size_t len;
};

static void img_open(struct image *im, const char *path)
{
	struct stat st;

	im->fd = open(path, O_RDWR);
	assert_true(im->fd >= 0);
	assert_int_equal(fstat(im->fd, &st), 0);
	im->len = (size_t)st.st_size;
	im->base =
	    mmap(NULL, im->len, PROT_READ | PROT_WRITE, MAP_SHARED, im->fd, 0);
	assert_true(im->base != MAP_FAILED);
}

static void img_close(struct image *im)
{
	munmap(im->base, im->len);
	close(im->fd);
}

static void copy_file(const char *from, const char *to)
{
	struct image a;
	int fd;

	img_open(&a, from);
	unlink(to);
	fd = open(to, O_RDWR | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, a.base, a.len), (ssize_t)a.len);
	close(fd);
	img_close(&a);
}

enum what { W_RUN, W_LARGE, W_TYPE, W_FREE, W_BITMAP, W_COMPL };

static const char *const what_name[] = {
    "run head",		"large object head", "large object's type entry",
    "free chunk entry", "run bitmap word",   "run bitmap complement",
};

struct target {
	uint64_t off;
	enum what what;
};

/*
 * targets -- every word of the pool's heap metadata that the heap reads:
 * the entries the walk visits (heads, free chunks, type entries) and the
 * first bitmap word and complement of each run; at most @max
 */
static size_t targets(const char *path, struct target *t, size_t max)
{
	struct image im;
	struct heap_geom g;
	size_t n = 0;

	img_open(&im, path);
	heap_geom_of((const struct pool_hdr *)im.base, &g);
	assert_true(g.v2);
	for (uint64_t i = 0; i < g.nchunks && n + 4 <= max;) {
		uint64_t off = heap_chdr_off(&g, i);
		struct chdr d;
		assert_true(heap_chdr_decode(
		    &g, i, *(const uint64_t *)(im.base + off), &d));
		switch (d.kind) {
		case CHUNK_FREE:
			/* one free entry of each free stretch */
			if (i == 0 || t[n - 1].what != W_FREE)
				t[n++] = (struct target){off, W_FREE};
			i++;
			continue;
		case CHUNK_LARGE:
			t[n++] = (struct target){off, W_LARGE};
			t[n++] =
			    (struct target){heap_chdr_off(&g, i + 1), W_TYPE};
			break;
		default:
			t[n++] = (struct target){off, W_RUN};
			t[n++] =
			    (struct target){heap_chunk_off(&g, i), W_BITMAP};
			t[n++] =
			    (struct target){heap_chunk_off(&g, i) + 8, W_COMPL};
		}
		i += d.span;
	}
	img_close(&im);
	return n;
}

/* poke -- set the aligned word at @off of the pool file */
static void poke(const char *path, uint64_t off, uint64_t v)
{
	struct image im;

	img_open(&im, path);
	memcpy(im.base + off, &v, 8);
	img_close(&im);
}

static uint64_t peek(const char *path, uint64_t off)
{
	struct image im;
	uint64_t v;

	img_open(&im, path);
	memcpy(&v, im.base + off, 8);
	img_close(&im);
	return v;
}

struct tally {
	unsigned at_open, at_use, harmless;
};

/*
 * use_damaged -- open a damaged pool and use it: the open may refuse it
 * (-EUCLEAN, naming an offset); if it opens, MORE new keys are put (each
 * may fail with -EUCLEAN, -ENOSPC, or -EIO once the pool has gone into
 * its failed state), and then every original key must read back whole or
 * fail with -EUCLEAN: never "no such key" and never other bytes, which is
 * what reusing live space would give.
 */
static void use_damaged(const char *path, const char *what, struct tally *t)
{
	static struct daxo_heap_info hi;
	daxo_pool *p;
	char k[16];
	int ret;
	unsigned lost = 0, wrong = 0, refused = 0;

	/* read without opening (daxod's way): figures or an error, no more */
	ret = daxo_heap_stat(path, &hi);
	assert_true(ret == 0 || ret == -EUCLEAN);
	assert_true(hi.free_bytes <= hi.heap_bytes);
	ret = daxo_open(path, "heap", 0, &p);

	if (ret) {
		assert_int_equal(ret, -EUCLEAN);
		assert_non_null(strstr(daxo_errormsg(), "offset"));
		t->at_open++;
		return;
	}
	for (unsigned i = NKEYS; i < NKEYS + MORE; i++) {
		key_of(k, i);
		size_t n = val_of(i, vbuf);
		ret = daxo_put(p, k, strlen(k), vbuf, n);
		if (ret == -EUCLEAN || ret == -ENOSPC || ret == -EIO)
			refused++;
		else
			assert_int_equal(ret, 0);
	}
	for (unsigned i = 0; i < NKEYS; i++) {
		size_t vlen = 0, n;
		key_of(k, i);
		n = val_of(i, vbuf);
		ret = daxo_get(p, k, strlen(k), gbuf, BIG, &vlen);
		if (ret == -EUCLEAN)
			continue;
		if (ret == -ENOENT)
			lost++;
		else if (ret != 0 || vlen != n || memcmp(gbuf, vbuf, n) != 0)
			wrong++;
	}
	if (lost || wrong)
		print_error("%s: %u keys lost, %u wrong after %u more puts "
			    "(%u refused)\n",
			    what, lost, wrong, MORE, refused);
	assert_int_equal(lost, 0);
	assert_int_equal(wrong, 0);
	if (refused)
		t->at_use++;
	else
		t->harmless++;
	daxo_close(p);
}

static char pristine[256], damaged[256];

static int setup(void **st)
{
	(void)st;
	snprintf(pristine, sizeof(pristine), "%s",
		 test_pool_path("hd-pristine"));
	snprintf(damaged, sizeof(damaged), "%s", test_pool_path("hd-damaged"));
	make_pool(pristine);
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	unlink(pristine);
	unlink(damaged);
	return 0;
}

/* zero_each -- zero each target of the kinds in @mask in turn */
static void zero_each(unsigned mask, unsigned want_min)
{
	struct target t[64];
	struct tally ty = {0};
	size_t n = targets(pristine, t, 64);
	unsigned tried = 0;
	char what[128];

	for (size_t i = 0; i < n; i++) {
		/* a word that is 0 already (the complement of a full word,
		 * a free word) is no damage */
		if (!(mask & (1u << t[i].what)) ||
		    peek(pristine, t[i].off) == 0)
			continue;
		copy_file(pristine, damaged);
		poke(damaged, t[i].off, 0);
		snprintf(what, sizeof(what), "%s at %llu zeroed",
			 what_name[t[i].what], (unsigned long long)t[i].off);
		unsigned before = ty.harmless;
		use_damaged(damaged, what, &ty);
		tried++;
		/*
		 * A zeroed table word is found at open. A run's bitmap is
		 * read when the run is first allocated from or freed into,
		 * so damage in a run the puts did not need goes unmet -- but
		 * never unseen: daxo check finds it.
		 */
		if (ty.harmless != before) {
			assert_true(t[i].what == W_BITMAP ||
				    t[i].what == W_COMPL);
			assert_int_not_equal(daxo_check(damaged, 0, NULL, NULL),
					     0);
		}
	}
	assert_true(tried >= want_min);
}

/* one zeroed word of the chunk table: a run's head, a large object's */
static void test_zeroed_chunk_head_is_refused(void **st)
{
	(void)st;
	zero_each(1u << W_RUN | 1u << W_LARGE, 4);
}

/* a large object's type entry, a free chunk's entry */
static void test_zeroed_type_or_free_entry_is_refused(void **st)
{
	(void)st;
	zero_each(1u << W_TYPE | 1u << W_FREE, 2);
}

/* one zeroed word of a run's allocation bitmap, or of its complement */
static void test_zeroed_run_bitmap_is_refused(void **st)
{
	(void)st;
	zero_each(1u << W_BITMAP | 1u << W_COMPL, 4);
}

/*
 * test_mutation_sweep_never_reuses_live_space -- SWEEP single-word
 * mutations (seeded): zeroed, one bit flipped, a random word, or another
 * target's word copied over; every one refused or harmless, never a lost
 * or wrong key
 */
static void test_mutation_sweep_never_reuses_live_space(void **st)
{
	struct target t[64];
	struct tally ty = {0};
	size_t n = targets(pristine, t, 64);
	uint64_t rng = 0x5eed;
	char what[160];

	(void)st;
	for (unsigned k = 0; k < SWEEP; k++) {
		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		const struct target *x = &t[(rng >> 33) % n];
		uint64_t old = peek(pristine, x->off), v;
		unsigned how = (unsigned)(rng >> 20) % 4;
		switch (how) {
		case 0:
			v = 0;
			break;
		case 1:
			v = old ^ (1ull << ((rng >> 40) % 64));
			break;
		case 2:
			v = rng ^ (rng << 17);
			break;
		default:
			v = peek(pristine, t[(rng >> 45) % n].off);
		}
		if (v == old)
			continue;
		copy_file(pristine, damaged);
		poke(damaged, x->off, v);
		snprintf(what, sizeof(what),
			 "%s at %llu: 0x%016llx -> 0x%016llx (mutation %u)",
			 what_name[x->what], (unsigned long long)x->off,
			 (unsigned long long)old, (unsigned long long)v, k);
		unsigned before = ty.harmless;
		use_damaged(damaged, what, &ty);
		/* unmet damage (a run the puts did not need) is still seen */
		if (ty.harmless != before)
			assert_int_not_equal(daxo_check(damaged, 0, NULL, NULL),
					     0);
	}
	print_message("sweep: %u refused at open, %u at use, %u harmless\n",
		      ty.at_open, ty.at_use, ty.harmless);
	assert_true(ty.at_open > SWEEP / 2);
}

static size_t run_structs(daxo_pool *p)
{
	size_t n = 0;

	for (struct run *r = p->heap->all; r; r = r->all)
		n++;
	return n;
}

/*
 * Not damage, but the heap's volatile side: allocations that fail with
 * -ENOSPC while a daxo_heap_info is reading runs (which stops the reuse of
 * retired run structs) make no run structs that pile up
 */
static void test_failed_allocs_during_heap_info_make_no_structs(void **st)
{
	const char *path = test_pool_path("hd-readers");
	daxo_pool *p;
	daxo_oid o;
	size_t before;
	int r;

	(void)st;
	assert_int_equal(daxo_create(path, "hd", DAXO_MIN_POOL_SIZE, 0600, &p),
			 0);
	while ((r = daxo_alloc(p, 200, 1, &o)) == 0)
		;
	assert_int_equal(r, -ENOSPC);
	before = run_structs(p);
	atomic_fetch_add(&p->heap->readers, 1); /* a heap info under way */
	for (int i = 0; i < 1000; i++)
		assert_int_equal(daxo_alloc(p, 3000, 1, &o), -ENOSPC);
	atomic_fetch_sub(&p->heap->readers, 1);
	assert_int_equal(run_structs(p), before);
	assert_int_equal(daxo_close(p), 0);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_zeroed_chunk_head_is_refused),
	    cmocka_unit_test(test_zeroed_type_or_free_entry_is_refused),
	    cmocka_unit_test(test_zeroed_run_bitmap_is_refused),
	    cmocka_unit_test(test_mutation_sweep_never_reuses_live_space),
	    cmocka_unit_test(
		test_failed_allocs_during_heap_info_make_no_structs),
	};

	test_env();
	vbuf = malloc(BIG);
	gbuf = malloc(BIG);
	return cmocka_run_group_tests_name("heap-damage", tests, setup,
					   teardown);
}
