/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_soak.c -- the heap over a long life, with crashes: a child process
 * runs mixed allocations, frees, puts and deletes whose sizes drift over
 * time (the window of object and value sizes slides up and down through
 * 32 B .. 512 KiB), and is killed with SIGKILL at a random moment, again
 * and again. After each kill the parent opens the pool (recovery runs),
 * checks every object and every key against what the child had
 * acknowledged (the one operation in flight may be either way), counts the
 * live objects against the slots that name them (nothing leaked), closes
 * it and runs daxo_check, which must find nothing. At the end it prints
 * the fragmentation figures: live share, free bytes, the largest object
 * one allocation gets, runs, and -- after everything is freed -- the share
 * of the pool that 64 KiB and 1 MiB objects fill again.
 *
 * The child records each operation in a shared anonymous mapping before it
 * starts (intent) and after it returns (ack); the parent reads it once the
 * child is dead.
 *
 * Bounded for the suite: DAXO_SOAK_SECONDS (default 24) of rounds of 0.2 to
 * 1.2 s of work each. The report's long run: DAXO_SOAK_SECONDS=1800
 * DAXO_SOAK_MIB=1024. DAXO_TEST_SEED=N repeats a run; the seed is printed.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "daxo.h"

#include "../unit/test_common.h"

#define NSLOTS	      2048 /* heap objects named by the root */
#define NKEYS	      2048
#define TYPE_SOAK     21u
#define KV_TYPE_ENTRY 0xffffff03u /* doc/kv-format.md */
#define MIN(a, b)     ((a) < (b) ? (a) : (b))

/* what the child acknowledged, in memory shared with the parent */
struct shared {
	uint64_t ops;		    /* operations acknowledged, all rounds */
	uint64_t slot_seed[NSLOTS]; /* 0: empty */
	uint64_t slot_size[NSLOTS];
	uint64_t key_ver[NKEYS]; /* 0: absent */
	uint32_t key_len[NKEYS];
	/* the operation in flight: kind 0 none, 1 slot, 2 key */
	int fl_kind;
	uint32_t fl_idx;
	uint64_t fl_seed, fl_size; /* slot: new seed (0: free); key: ver */
	uint32_t fl_len;
	/* counts, for the report */
	uint64_t n_alloc, n_free, n_put, n_del, n_enospc;
};

struct root {
	daxo_oid slot[NSLOTS];
};

struct objhdr {
	uint64_t seed;
	uint64_t size;
	uint32_t slot;
	uint32_t pad;
};

static struct shared *sh;
static char path[256];
static unsigned long long seed;
static uint64_t pool_size;

static uint64_t rng(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/*
 * drift_size -- a size for operation @op: log-uniform over a window of
 * four doublings whose bottom slides between 32 B and 32 KiB and back
 * every 400,000 operations, with one in 50 anywhere up to 512 KiB
 */
static uint64_t drift_size(uint64_t op, uint64_t *r)
{
	double phase = (double)(op % 400000) / 400000.0;
	double lo = 5.0 + 10.0 * (phase < 0.5 ? 2 * phase : 2 - 2 * phase);
	double u = (double)(rng(r) >> 11) / 9007199254740992.0;
	double lg = rng(r) % 50 == 0 ? 5.0 + 14.0 * u : lo + 4.0 * u;

	return (uint64_t)exp2(lg) + 1;
}

static void fill(uint8_t *b, uint64_t len, uint64_t s)
{
	for (uint64_t i = 0; i < len; i += 8) {
		uint64_t v = s ^ (i * 0x9e3779b97f4a7c15ull);
		memcpy(b + i, &v, len - i < 8 ? len - i : 8);
	}
}

static bool same(const uint8_t *b, uint64_t len, uint64_t s)
{
	for (uint64_t i = 0; i < len; i += 8) {
		uint64_t v = s ^ (i * 0x9e3779b97f4a7c15ull);
		if (memcmp(b + i, &v, len - i < 8 ? len - i : 8))
			return false;
	}
	return true;
}

static size_t key_of(uint32_t k, char *buf)
{
	return (size_t)snprintf(buf, 24, "soak-%05u", k);
}

/* ---- the child ---- */

/* slot_op -- allocate into an empty slot (one transaction) or free it */
static int slot_op(daxo_pool *p, struct root *rt, uint32_t i, uint64_t *r)
{
	if (rt->slot[i]) {
		sh->fl_idx = i;
		sh->fl_seed = 0;
		sh->fl_kind = 1;
		int ret = daxo_free(p, &rt->slot[i]);
		if (ret)
			return ret;
		sh->slot_seed[i] = 0;
		sh->n_free++;
		return 0;
	}
	uint64_t size = drift_size(sh->ops, r) + sizeof(struct objhdr);
	uint64_t s = rng(r) | 1;
	daxo_tx *tx;
	daxo_oid o;
	sh->fl_idx = i;
	sh->fl_seed = s;
	sh->fl_size = size;
	sh->fl_kind = 1;
	int ret = daxo_tx_begin(p, &tx);
	if (ret)
		return ret;
	ret = daxo_tx_alloc(tx, size, TYPE_SOAK, &o);
	if (!ret) {
		uint8_t *b = daxo_direct(p, o);
		struct objhdr h = {s, size, i, 0};
		memcpy(b, &h, sizeof(h));
		fill(b + sizeof(h), size - sizeof(h), s);
		ret = daxo_tx_write(tx, &rt->slot[i], &o, sizeof(o));
	}
	if (ret) {
		daxo_tx_abort(tx);
		return ret;
	}
	ret = daxo_tx_commit(tx);
	if (ret)
		return ret;
	sh->slot_size[i] = size;
	sh->slot_seed[i] = s;
	sh->n_alloc++;
	return 0;
}

static int key_op(daxo_pool *p, uint32_t k, uint64_t *r, uint8_t *buf)
{
	char key[24];
	size_t kl = key_of(k, key);
	int ret;

	if (sh->key_ver[k] && rng(r) % 4 == 0) {
		sh->fl_idx = k;
		sh->fl_seed = 0;
		sh->fl_kind = 2;
		ret = daxo_del(p, key, kl);
		if (ret)
			return ret;
		sh->key_ver[k] = 0;
		sh->n_del++;
		return 0;
	}
	uint64_t v = rng(r) | 1;
	uint32_t len = (uint32_t)MIN(drift_size(sh->ops, r), 256u << 10);
	sh->fl_idx = k;
	sh->fl_seed = v;
	sh->fl_len = len;
	sh->fl_kind = 2;
	fill(buf, len, v);
	ret = daxo_put(p, key, kl, buf, len);
	if (ret)
		return ret;
	sh->key_len[k] = len;
	sh->key_ver[k] = v;
	sh->n_put++;
	return 0;
}

static void child(uint64_t cs)
{
	daxo_pool *p;
	daxo_oid ro;
	uint64_t r = cs;
	uint8_t *buf = malloc(512 << 10);

	if (!buf || daxo_open(path, "soak", 0, &p) ||
	    daxo_root(p, sizeof(struct root), &ro))
		_exit(3);
	struct root *rt = daxo_direct(p, ro);
	for (;;) {
		uint64_t x = rng(&r);
		uint32_t i = (uint32_t)(x % NSLOTS);
		int ret;
		sh->fl_kind = 0;
		if ((x >> 32) % 2)
			ret = slot_op(p, rt, i, &r);
		else
			ret = key_op(p, (uint32_t)((x >> 40) % NKEYS), &r, buf);
		if (ret == -ENOSPC) {
			/* full: the op did nothing; free something instead */
			sh->n_enospc++;
			sh->fl_kind = 0;
			for (uint32_t j = 0; j < NSLOTS; j++) {
				uint32_t k = (i + j) % NSLOTS;
				if (rt->slot[k]) {
					ret = slot_op(p, rt, k, &r);
					break;
				}
			}
			if (ret == -ENOSPC) {
				char key[24];
				for (uint32_t k = 0; k < NKEYS; k++)
					if (sh->key_ver[k]) {
						sh->fl_idx = k;
						sh->fl_seed = 0;
						sh->fl_kind = 2;
						if (daxo_del(p, key,
							     key_of(k, key)))
							_exit(5);
						sh->key_ver[k] = 0;
						break;
					}
				ret = 0;
			}
		}
		if (ret) {
			fprintf(stderr, "soak child: %s\n", daxo_errormsg());
			_exit(4);
		}
		sh->fl_kind = 0;
		sh->ops++;
	}
}

/* ---- the parent ---- */

static void verify(void)
{
	daxo_pool *p;
	daxo_oid ro;
	uint8_t *buf = malloc(512 << 10);
	uint64_t named = 0, live = 0, keys = 0, entries = 0;

	assert_non_null(buf);
	if (daxo_open(path, "soak", 0, &p))
		fail_msg("seed %llu: reopen: %s", seed, daxo_errormsg());
	assert_int_equal(daxo_root(p, sizeof(struct root), &ro), 0);
	struct root *rt = daxo_direct(p, ro);
	for (uint32_t i = 0; i < NSLOTS; i++) {
		bool fl = sh->fl_kind == 1 && sh->fl_idx == i;
		uint64_t s = sh->slot_seed[i], size = sh->slot_size[i];
		if (fl && (rt->slot[i] != 0) != (s != 0)) {
			/* the op in flight happened */
			s = sh->fl_seed;
			size = sh->fl_size;
		}
		if (!s) {
			if (rt->slot[i])
				fail_msg("seed %llu: slot %u names %llu but "
					 "was freed",
					 seed, i,
					 (unsigned long long)rt->slot[i]);
			continue;
		}
		named++;
		const uint8_t *b = daxo_direct(p, rt->slot[i]);
		struct objhdr h;
		if (!rt->slot[i] || !b)
			fail_msg("seed %llu: slot %u lost its object", seed, i);
		memcpy(&h, b, sizeof(h));
		if (h.seed != s || h.size != size || h.slot != i ||
		    daxo_oid_type(p, rt->slot[i]) != TYPE_SOAK ||
		    !same(b + sizeof(h), size - sizeof(h), s))
			fail_msg("seed %llu: slot %u: object %llu torn or "
				 "wrong",
				 seed, i, (unsigned long long)rt->slot[i]);
	}
	for (daxo_oid o = daxo_first(p, TYPE_SOAK); o;
	     o = daxo_next(p, o, TYPE_SOAK))
		live++;
	if (live != named)
		fail_msg("seed %llu: %llu objects live, %llu named (%s)", seed,
			 (unsigned long long)live, (unsigned long long)named,
			 live > named ? "leaked" : "lost");
	for (uint32_t k = 0; k < NKEYS; k++) {
		char key[24];
		size_t n = 0, kl = key_of(k, key);
		int ret = daxo_get(p, key, kl, buf, 512 << 10, &n);
		uint64_t v = sh->key_ver[k];
		uint32_t len = sh->key_len[k];
		bool fl = sh->fl_kind == 2 && sh->fl_idx == k;
		bool ok = v ? ret == 0 && n == len && same(buf, n, v)
			    : ret == -ENOENT;
		if (!ok && fl) {
			v = sh->fl_seed;
			len = sh->fl_len;
			ok = v ? ret == 0 && n == len && same(buf, n, v)
			       : ret == -ENOENT;
			if (ok) {
				sh->key_ver[k] = v;
				sh->key_len[k] = len;
			}
		}
		if (!ok)
			fail_msg("seed %llu: key %u: get %d, %zu bytes; "
				 "acknowledged %s",
				 seed, k, ret, n, v ? "a value" : "absent");
		keys += ret == 0;
	}
	for (daxo_oid o = daxo_first(p, KV_TYPE_ENTRY); o;
	     o = daxo_next(p, o, KV_TYPE_ENTRY))
		entries++;
	if (entries != keys)
		fail_msg("seed %llu: %llu entries for %llu keys", seed,
			 (unsigned long long)entries, (unsigned long long)keys);
	/* the observed state is the model of the next round */
	for (uint32_t i = 0; i < NSLOTS; i++) {
		if (!rt->slot[i])
			sh->slot_seed[i] = 0;
		else if (sh->fl_kind == 1 && sh->fl_idx == i && sh->fl_seed) {
			sh->slot_seed[i] = sh->fl_seed;
			sh->slot_size[i] = sh->fl_size;
		}
	}
	sh->fl_kind = 0;
	assert_int_equal(daxo_close(p), 0);
	free(buf);
	int v = daxo_check(path, 0, NULL, NULL);
	if (v != 0)
		fail_msg("seed %llu: daxo check after recovery: %d", seed, v);
}

/* usable -- objects of @size allocated until -ENOSPC: share of the pool */
static double usable(daxo_pool *p, uint64_t size)
{
	size_t cap = 1024, n = 0;
	daxo_oid *v = malloc(cap * sizeof(*v));

	assert_non_null(v);
	for (;;) {
		if (n == cap) {
			cap *= 2;
			v = realloc(v, cap * sizeof(*v));
			assert_non_null(v);
		}
		if (daxo_alloc(p, size, 1, &v[n]))
			break;
		n++;
	}
	for (size_t i = 0; i < n; i++)
		assert_int_equal(daxo_free(p, &v[i]), 0);
	free(v);
	return (double)(n * size) / (double)pool_size;
}

static void report(void)
{
	static struct daxo_heap_info hi;
	daxo_pool *p;
	daxo_oid ro;
	uint64_t live = 0;

	assert_int_equal(daxo_open(path, "soak", 0, &p), 0);
	assert_int_equal(daxo_root(p, sizeof(struct root), &ro), 0);
	struct root *rt = daxo_direct(p, ro);
	for (uint32_t i = 0; i < NSLOTS; i++)
		live += rt->slot[i] ? sh->slot_size[i] : 0;
	for (uint32_t k = 0; k < NKEYS; k++)
		live += sh->key_ver[k] ? sh->key_len[k] + 16 : 0;
	assert_int_equal(daxo_heap_info(p, &hi), 0);
	uint64_t idle = 0;
	for (unsigned c = 0; c < hi.nclasses; c++)
		idle += hi.cls[c].idle_runs;
	printf("soak: %" PRIu64 " ops (%" PRIu64 " allocs, %" PRIu64
	       " frees, %" PRIu64 " puts, %" PRIu64 " dels, %" PRIu64
	       " -ENOSPC) in a %" PRIu64 " MiB pool\n",
	       sh->ops, sh->n_alloc, sh->n_free, sh->n_put, sh->n_del,
	       sh->n_enospc, pool_size >> 20);
	printf("soak: live %.1f%% of the pool (requested bytes), free %.1f%%, "
	       "largest allocation %.1f%%, %" PRIu64 " runs (%" PRIu64
	       " idle)\n",
	       100.0 * (double)live / (double)pool_size,
	       100.0 * (double)hi.free_bytes / (double)pool_size,
	       100.0 * (double)hi.largest_alloc / (double)pool_size, hi.runs,
	       idle);
	/* everything freed: what the heap holds again */
	for (uint32_t i = 0; i < NSLOTS; i++)
		if (rt->slot[i])
			assert_int_equal(daxo_free(p, &rt->slot[i]), 0);
	for (uint32_t k = 0; k < NKEYS; k++) {
		char key[24];
		if (sh->key_ver[k])
			assert_int_equal(daxo_del(p, key, key_of(k, key)), 0);
	}
	printf("soak: after freeing everything: 64 KiB objects fill %.1f%%, "
	       "1 MiB objects %.1f%% of the pool\n",
	       100.0 * usable(p, 64 << 10), 100.0 * usable(p, 1 << 20));
	assert_int_equal(daxo_close(p), 0);
	assert_int_equal(daxo_check(path, 0, NULL, NULL), 0);
}

static void test_soak(void **state)
{
	const char *e = getenv("DAXO_SOAK_SECONDS");
	double secs = e ? atof(e) : 24;
	struct timespec t0, t;
	daxo_pool *p;
	daxo_oid ro;
	uint64_t r, rounds = 0;

	(void)state;
	e = getenv("DAXO_TEST_SEED");
	seed = e ? strtoull(e, NULL, 0) : (unsigned long long)time(NULL);
	r = seed;
	print_message("soak: seed %llu (DAXO_TEST_SEED=%llu repeats it)\n",
		      seed, seed);
	e = getenv("DAXO_SOAK_MIB");
	pool_size = (e ? strtoull(e, NULL, 0) : 64) << 20;
	snprintf(path, sizeof(path), "%s", test_pool_path("soak"));
	assert_int_equal(daxo_create(path, "soak", pool_size, 0600, &p), 0);
	assert_int_equal(daxo_root(p, sizeof(struct root), &ro), 0);
	assert_int_equal(daxo_close(p), 0);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(sh != MAP_FAILED);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((double)(t.tv_sec - t0.tv_sec) +
			(double)(t.tv_nsec - t0.tv_nsec) / 1e9 >=
		    secs)
			break;
		uint64_t cs = rng(&r);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			child(cs);
		usleep((useconds_t)(200000 + rng(&r) % 1000000));
		kill(pid, SIGKILL);
		int st;
		assert_int_equal(waitpid(pid, &st, 0), pid);
		if (!WIFSIGNALED(st))
			fail_msg("seed %llu: the child exited with %d", seed,
				 WEXITSTATUS(st));
		verify();
		rounds++;
	}
	print_message("soak: %llu kills, every one recovered and checked\n",
		      (unsigned long long)rounds);
	report();
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_soak),
	};

	test_env();
	return cmocka_run_group_tests_name("soak", tests, NULL, NULL);
}
