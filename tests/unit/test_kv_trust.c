/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_kv_trust.c -- damaged keyed-store metadata that daxo_open accepts is
 * never trusted into a wrong answer: each case damages one structure of a
 * filled, closed pool (the anchor's hash seed, an entry's next link, a
 * bucket head, an entry header, a key, the anchor's spare table, a link
 * pointed back at a deleted entry; and the pool meta's root oid), opens it
 * and uses it. Every get must answer
 * the value last put or -EUCLEAN (never "no such key" for a key that is there,
 * never other bytes); a put must not make a second copy of a key; daxo_foreach
 * must end (no key twice, no more callbacks than keys) and a -EUCLEAN names the
 * offset; a resize must never free live space. doc/kv-format.md is the
 * layout these tests damage.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
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

/* doc/kv-format.md and doc/FORMAT.md */
#define KV_TYPE_ANCHOR 0xffffff01u
#define KV_TYPE_TABLE  0xffffff02u
#define KV_TYPE_ENTRY  0xffffff03u
/* an oid in a bucket head or next word: the low 48 bits */
#define LINK_OID(w) ((w) & ((1ull << 48) - 1))

#define NKEYS 200u

#define fx test_fx

static int setup(void **state)
{
	*state = test_fx_new("trust");
	return *state ? 0 : -1;
}

static void key_of(unsigned i, char *k, size_t cap)
{
	snprintf(k, cap, "key-%u", i);
}

/* the value last put for key i, in round @round */
static size_t val_of(unsigned i, unsigned round, char *v, size_t cap)
{
	return (size_t)snprintf(v, cap, "value-%u-%u-%0*u", i, round,
				(int)(i % 40), 0);
}

/* fill -- a pool of NKEYS keys (the table has grown), left open */
static void fill(struct fx *f)
{
	char k[32], v[128];

	if (daxo_create(f->path, "trust", 32ull << 20, 0600, &f->p))
		fail_msg("create: %s", daxo_errormsg());
	for (unsigned i = 0; i < NKEYS; i++) {
		key_of(i, k, sizeof(k));
		size_t vl = val_of(i, 0, v, sizeof(v));
		assert_int_equal(daxo_put(f->p, k, strlen(k), v, vl), 0);
	}
}

/* reopen -- close and open again: 0 or -EUCLEAN (then f->p is NULL) */
static int reopen(struct fx *f)
{
	assert_int_equal(daxo_close(f->p), 0);
	f->p = NULL;
	int r = daxo_open(f->path, "trust", 0, &f->p);
	if (r) {
		assert_int_equal(r, -EUCLEAN);
		assert_non_null(strstr(daxo_errormsg(), "offset"));
		f->p = NULL;
	}
	return r;
}

static uint64_t *anchor(daxo_pool *p)
{
	daxo_oid a = daxo_first(p, KV_TYPE_ANCHOR);

	assert_true(a != 0);
	return daxo_direct(p, a);
}

/* buckets -- the current table's bucket heads and their count */
static uint64_t *buckets(daxo_pool *p, uint64_t *n)
{
	uint64_t *a = anchor(p);
	uint64_t *t = daxo_direct(p, LINK_OID(a[2]));

	*n = LINK_OID(t[1]);
	return t + 8;
}

/* entry_at -- the @k-th entry (0-based) of the first chain with more than
 * @k entries, and the word that links to it */
static uint64_t *entry_at(daxo_pool *p, unsigned k, uint64_t **link)
{
	uint64_t n, *bk = buckets(p, &n);

	for (uint64_t b = 0; b < n; b++) {
		uint64_t *w = &bk[b], oid = LINK_OID(*w);
		unsigned i = 0;
		while (oid) {
			uint64_t *e = daxo_direct(p, oid);
			if (i == k) {
				if (link)
					*link = w;
				return e;
			}
			w = &e[0];
			oid = LINK_OID(*w);
			i++;
		}
	}
	fail_msg("no chain with %u entries", k + 1);
	return NULL;
}

struct walk {
	unsigned calls;
	unsigned char seen[NKEYS];
	unsigned dups;
};

static int walk_cb(const void *k, size_t kl, const void *v, size_t vl,
		   void *arg)
{
	struct walk *w = arg;
	char kb[32], want[128];
	unsigned i;

	(void)v;
	if (++w->calls > 4 * NKEYS)
		return -ELOOP; /* the walk does not end: fail below */
	snprintf(kb, sizeof(kb), "%.*s", (int)(kl < 31 ? kl : 31),
		 (const char *)k);
	if (sscanf(kb, "key-%u", &i) == 1 && i < NKEYS) {
		w->dups += w->seen[i]++ != 0;
		/* a value handed out must be one that was put */
		size_t wl0 = val_of(i, 0, want, sizeof(want));
		if (!(vl == wl0 && memcmp(v, want, vl) == 0)) {
			size_t wl1 = val_of(i, 1, want, sizeof(want));
			if (!(vl == wl1 && memcmp(v, want, vl) == 0))
				return -EBADMSG;
		}
	}
	return 0;
}

/*
 * use -- what the library answers after the damage: every get the value
 * put or -EUCLEAN; puts of every key (0 or -EUCLEAN); a walk that ends
 * with no key twice. Returns how many calls said -EUCLEAN.
 */
static unsigned use(struct fx *f)
{
	char k[32], v[128], buf[128];
	unsigned eu = 0;
	size_t got;
	int r;

	if (!f->p)
		return 1;
	for (unsigned i = 0; i < NKEYS; i++) {
		key_of(i, k, sizeof(k));
		size_t vl = val_of(i, 0, v, sizeof(v));
		r = daxo_get(f->p, k, strlen(k), buf, sizeof(buf), &got);
		if (r == -EUCLEAN) {
			assert_non_null(strstr(daxo_errormsg(), "offset"));
			eu++;
			continue;
		}
		if (r)
			fail_msg("get %s: %d (%s)", k, r, daxo_errormsg());
		assert_int_equal(got, vl);
		assert_memory_equal(buf, v, vl);
	}
	struct walk w = {0};
	r = daxo_foreach(f->p, walk_cb, &w);
	if (r != 0 && r != -EUCLEAN)
		fail_msg("foreach: %d after %u calls (%s)", r, w.calls,
			 daxo_errormsg());
	assert_int_equal(w.dups, 0);
	eu += r != 0;
	/* every key put again: never a second copy */
	for (unsigned i = 0; i < NKEYS; i++) {
		key_of(i, k, sizeof(k));
		size_t vl = val_of(i, 1, v, sizeof(v));
		r = daxo_put(f->p, k, strlen(k), v, vl);
		if (r != 0 && r != -EUCLEAN && r != -EIO && r != -EROFS)
			fail_msg("put %s: %d (%s)", k, r, daxo_errormsg());
		eu += r != 0;
	}
	memset(&w, 0, sizeof(w));
	r = daxo_foreach(f->p, walk_cb, &w);
	if (r != 0 && r != -EUCLEAN)
		fail_msg("foreach: %d after %u calls (%s)", r, w.calls,
			 daxo_errormsg());
	assert_int_equal(w.dups, 0);
	return eu;
}

/*
 * seed_flips -- for every @step-th byte of the hash seed: fill a pool, flip
 * @bit of that byte (with @unchecked, in an anchor without a check word, as
 * older libraries made them), reopen, and expect -EUCLEAN, never "no such
 * key"
 */
static void seed_flips(struct fx *f, unsigned step, uint8_t bit, bool unchecked)
{
	for (unsigned byte = 0; byte < 8; byte += step) {
		fill(f);
		uint64_t *a = anchor(f->p);
		if (unchecked)
			a[7] = 0;
		((uint8_t *)a)[8 + byte] ^= bit;
		reopen(f);
		assert_true(use(f) > 0);
		if (f->p)
			assert_int_equal(daxo_close(f->p), 0);
		f->p = NULL;
		unlink(f->path);
	}
}

static void test_seed_flip_euclean(void **state)
{
	seed_flips(*state, 1, 0x10, false);
}

/* without a check word the seed is checked against the stored keys */
static void test_seed_flip_unchecked_anchor_euclean(void **state)
{
	seed_flips(*state, 3, 0x01, true);
}

/* such an anchor gets its check word at its first read-write open */
static void test_unchecked_anchor_sealed(void **state)
{
	struct fx *f = *state;
	uint64_t *a;

	fill(f);
	a = anchor(f->p);
	uint64_t check = a[7];
	assert_true(check != 0);
	a[7] = 0;
	assert_int_equal(daxo_close(f->p), 0);
	assert_int_equal(daxo_open(f->path, "trust", DAXO_RDONLY, &f->p), 0);
	assert_int_equal(anchor(f->p)[7], 0);
	assert_int_equal(use(f), 0 + NKEYS); /* read-only: puts say -EROFS */
	assert_int_equal(daxo_close(f->p), 0);
	assert_int_equal(daxo_open(f->path, "trust", 0, &f->p), 0);
	assert_int_equal(anchor(f->p)[7], check);
	assert_int_equal(use(f), 0);
}

/* an entry whose next points to itself: the walk ends, no key twice */
static void test_self_next_bounded(void **state)
{
	struct fx *f = *state;
	uint64_t *e;

	fill(f);
	e = entry_at(f->p, 0, NULL);
	e[0] = (uint64_t)daxo_oid_of(f->p, e) | (e[0] & ~LINK_OID(~0ull));
	reopen(f);
	assert_true(use(f) > 0);
}

/* a two-entry cycle further down a chain */
static void test_cycle_two_bounded(void **state)
{
	struct fx *f = *state;
	uint64_t *e1, *link;

	fill(f);
	e1 = entry_at(f->p, 1, &link);
	e1[0] = LINK_OID(*link) | (e1[0] & ~LINK_OID(~0ull));
	reopen(f);
	assert_true(use(f) > 0);
}

/* the last entry of one chain linked to the head of another: no key is
 * listed twice, and the chain it joined is not trusted */
static void test_next_into_other_chain(void **state)
{
	struct fx *f = *state;
	uint64_t n, *bk, *last = NULL, other = 0;

	fill(f);
	bk = buckets(f->p, &n);
	for (uint64_t b = 0; b < n && (!last || !other); b++) {
		uint64_t oid = LINK_OID(bk[b]);
		if (!oid)
			continue;
		if (!last) {
			uint64_t *e = daxo_direct(f->p, oid);
			while (LINK_OID(e[0]))
				e = daxo_direct(f->p, LINK_OID(e[0]));
			last = e;
		} else {
			other = oid;
		}
	}
	assert_non_null(last);
	assert_true(other != 0);
	last[0] = other | (last[0] & ~LINK_OID(~0ull));
	reopen(f);
	assert_true(use(f) > 0);
}

/* a byte of a key changed: its get says -EUCLEAN, not "no such key", and a
 * put of the key does not add a second copy */
static void test_key_byte_euclean(void **state)
{
	struct fx *f = *state;
	uint64_t *e;

	fill(f);
	e = entry_at(f->p, 0, NULL);
	/* the N of its "key-N", after the header */
	uint8_t *kb = memmem(e, 64, "key-", 4);
	assert_non_null(kb);
	kb[4] ^= 0x01;
	reopen(f);
	assert_true(use(f) > 0);
}

/* a bucket head zeroed: its keys answer -EUCLEAN, not "no such key" */
static void test_bucket_head_zeroed_euclean(void **state)
{
	struct fx *f = *state;
	uint64_t *link;

	fill(f);
	entry_at(f->p, 0, &link);
	*link = 0;
	reopen(f);
	assert_true(use(f) > 0);
}

/* a header field changed (the value's length, the hash's high bits, the
 * key's length): never other bytes, never "no such key" */
static void test_entry_header_field_euclean(void **state)
{
	struct fx *f = *state;

	for (unsigned field = 0; field < 3; field++) {
		fill(f);
		uint64_t *e = entry_at(f->p, 0, NULL);
		if (field == 0)
			e[3] += 8; /* vlen */
		else if (field == 1)
			e[1] ^= 1ull << 60; /* hash: still this bucket */
		else
			e[2] -= 1; /* klen */
		reopen(f);
		assert_true(use(f) > 0);
		if (f->p)
			assert_int_equal(daxo_close(f->p), 0);
		f->p = NULL;
		unlink(f->path);
	}
}

/*
 * a link pointed back at a deleted entry whose bytes are still there: the
 * key must not come back (its old value is not an answer)
 */
static void test_link_to_freed_entry_euclean(void **state)
{
	struct fx *f = *state;
	uint64_t *link, *e;
	char k[32], buf[128];
	size_t got;

	fill(f);
	e = entry_at(f->p, 0, &link);
	uint64_t oid = LINK_OID(*link);
	char *key = memmem(e, 64, "key-", 4);
	assert_non_null(key);
	snprintf(k, sizeof(k), "%.*s", (int)(e[2] & 0xffffffff), key);
	assert_int_equal(daxo_del(f->p, k, strlen(k)), 0);
	/* the head now names what followed; name the deleted entry again,
	 * keeping the word's high bits (where a check lives) */
	*link = oid | (*link & ~LINK_OID(~0ull));
	reopen(f);
	if (f->p) {
		int r = daxo_get(f->p, k, strlen(k), buf, sizeof(buf), &got);
		assert_int_equal(r, -EUCLEAN);
	}
}

/*
 * the pool meta's root oid damaged -- pointed at another live object, or
 * zeroed with and without its root size -- is not taken for the root, nor
 * for "no root yet" (where daxo_root would make a new, empty one)
 */
static void test_root_oid_damaged_euclean(void **state)
{
	struct fx *f = *state;
	daxo_oid root, other;

	for (unsigned how = 0; how < 3; how++) {
		assert_int_equal(
		    daxo_create(f->path, "trust", 16ull << 20, 0600, &f->p), 0);
		assert_int_equal(daxo_root(f->p, 64, &root), 0);
		assert_int_equal(daxo_alloc(f->p, 64, 5, &other), 0);
		assert_int_equal(daxo_close(f->p), 0);
		/* the meta words as doc/FORMAT.md places them */
		FILE *fp = fopen(f->path, "r+b");
		uint64_t w[2] = {how == 0 ? other : 0, 64};
		assert_non_null(fp);
		assert_int_equal(fseek(fp, 8192, SEEK_SET), 0);
		assert_int_equal(fwrite(w, 8, how == 2 ? 2 : 1, fp),
				 how == 2 ? 2 : 1);
		if (how == 2) {
			w[1] = 0;
			assert_int_equal(fseek(fp, 8192 + 8, SEEK_SET), 0);
			assert_int_equal(fwrite(&w[1], 8, 1, fp), 1);
		}
		assert_int_equal(fclose(fp), 0);
		assert_int_equal(daxo_open(f->path, "trust", 0, &f->p), 0);
		daxo_oid got = 0;
		assert_int_equal(daxo_root(f->p, 0, &got), -EUCLEAN);
		assert_int_equal(daxo_root(f->p, 64, &got), -EUCLEAN);
		assert_non_null(strstr(daxo_errormsg(), "offset"));
		assert_int_equal(daxo_close(f->p), 0);
		f->p = NULL;
		unlink(f->path);
	}
}

/* next_table naming the live table: a resize must not free it */
static void test_next_table_live_not_freed(void **state)
{
	struct fx *f = *state;
	uint64_t *a;
	char k[32], v[128];

	fill(f);
	a = anchor(f->p);
	a[6] = LINK_OID(a[2]);
	reopen(f);
	/* enough new keys for a resize or two */
	for (unsigned i = NKEYS; f->p && i < 8 * NKEYS; i++) {
		key_of(i, k, sizeof(k));
		size_t vl = val_of(i, 0, v, sizeof(v));
		int r = daxo_put(f->p, k, strlen(k), v, vl);
		if (r == -EUCLEAN || r == -EIO)
			break;
		assert_int_equal(r, 0);
	}
	use(f);
	if (f->p) {
		assert_int_equal(daxo_close(f->p), 0);
		f->p = NULL;
	}
	/* the heap was never made to free live space */
	int c = daxo_check(f->path, 0, NULL, NULL);
	assert_true(c == 0 || c == 2);
	assert_int_equal(daxo_open(f->path, "trust", 0, &f->p), 0);
	char buf[128];
	size_t got;
	for (unsigned i = 0; i < NKEYS; i++) {
		key_of(i, k, sizeof(k));
		int r = daxo_get(f->p, k, strlen(k), buf, sizeof(buf), &got);
		assert_true(r == 0 || r == -EUCLEAN);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, test_fx_teardown)
	    T(test_seed_flip_euclean),
	    T(test_seed_flip_unchecked_anchor_euclean),
	    T(test_unchecked_anchor_sealed),
	    T(test_self_next_bounded),
	    T(test_cycle_two_bounded),
	    T(test_next_into_other_chain),
	    T(test_key_byte_euclean),
	    T(test_next_table_live_not_freed),
	    T(test_root_oid_damaged_euclean),
	    T(test_bucket_head_zeroed_euclean),
	    T(test_entry_header_field_euclean),
	    T(test_link_to_freed_entry_euclean),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
