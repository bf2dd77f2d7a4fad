/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_format.c -- the six pool formats this library reads and writes.
 *
 * Format 1.5 pools (what daxo_create makes) have records that may name a
 * keyed-store entry written in place by a checksum (POOL_INCOMPAT_SUMS);
 * 1.4 pools do not. Both have lanes of 16 redo slots
 * (40 KiB, POOL_INCOMPAT_SLOTS16), keyed-store values that start on a
 * 64-byte boundary of their entry (POOL_INCOMPAT_KV_VALIGN), checked
 * keyed-store links and entry headers (POOL_INCOMPAT_KV_LINKS) and heap 2
 * (4 KiB chunks with checked entries, bitmaps with complements:
 * POOL_INCOMPAT_HEAP2); 1.3 pools have heap 1 (256 KiB chunks); 1.2 pools
 * no keyed-store checks either; 1.1 pools have the slots but values right
 * after the key; 1.0 pools have 4 slots (16 KiB) and no flag. Each must
 * open, take allocations of every kind in its own heap format,
 * transactions and
 * keyed-store writes that wrap their slots many times, survive a SIGKILL in
 * the middle of that, recover, and check clean -- and keep its own format.
 * A header whose lane size does not match its flag is refused. Built
 * against the internal library so that it can make older pools
 * (pool_create_minor).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "daxo.h"
#include "pool.h"
#include "tx.h"

#include "test_common.h"

#define SIZE (16ull << 20)
#define NKEYS 64
#define COUNTERS 8

struct root {
	uint64_t counter[COUNTERS];
};

static void fmt_key(char *k, unsigned i)
{
	snprintf(k, 16, "key-%04u", i);
}

/* round @r writes value "r:i" to every key i and r to every counter */
static int one_round(daxo_pool *p, struct root *rt, unsigned r)
{
	char k[16], v[64];
	int ret;

	for (unsigned i = 0; i < NKEYS; i++) {
		fmt_key(k, i);
		int n = snprintf(v, sizeof(v), "%u:%u", r, i);
		ret = daxo_put(p, k, strlen(k), v, (size_t)n);
		if (ret)
			return ret;
	}
	for (unsigned c = 0; c < COUNTERS; c++) {
		daxo_tx *tx;
		uint64_t val = r;

		ret = daxo_tx_begin(p, &tx);
		if (ret)
			return ret;
		/* redo and undo transactions in turn */
		if (c % 2)
			ret = daxo_tx_write(tx, &rt->counter[c], &val, 8);
		else if (!(ret = daxo_tx_add_range(tx, &rt->counter[c], 8)))
			rt->counter[c] = val;
		if (ret) {
			daxo_tx_abort(tx);
			return ret;
		}
		ret = daxo_tx_commit(tx);
		if (ret)
			return ret;
	}
	return 0;
}

static struct root *root_of(daxo_pool *p)
{
	daxo_oid o;

	assert_int_equal(daxo_root(p, sizeof(struct root), &o), 0);
	return daxo_direct(p, o);
}

/*
 * verify -- every key holds the value of one round, all of them the same
 * round or, after a crash, the keys up to some point one round ahead;
 * the counters likewise. Returns the lowest round seen.
 */
static unsigned verify(daxo_pool *p, unsigned max_round)
{
	struct root *rt = root_of(p);
	char k[16], v[64], want[64];
	unsigned lo = UINT32_MAX, hi = 0;

	for (unsigned i = 0; i < NKEYS; i++) {
		size_t len;
		unsigned r, j;

		fmt_key(k, i);
		assert_int_equal(daxo_get(p, k, strlen(k), v, sizeof(v) - 1,
					  &len),
				 0);
		v[len] = '\0';
		assert_int_equal(sscanf(v, "%u:%u", &r, &j), 2);
		snprintf(want, sizeof(want), "%u:%u", r, i);
		assert_string_equal(v, want);
		assert_true(r <= max_round);
		/* a round writes the keys in order: rounds never go up */
		assert_true(i == 0 || r <= hi);
		if (i == 0)
			hi = r;
		lo = r < lo ? r : lo;
	}
	assert_true(hi - lo <= 1);
	for (unsigned c = 0; c < COUNTERS; c++)
		assert_true(rt->counter[c] == lo || rt->counter[c] == hi ||
			    rt->counter[c] + 1 == lo);
	return lo;
}

/* key0_round -- the newest round begun: key 0 is written first */
static unsigned key0_round(daxo_pool *p)
{
	char v[64];
	size_t len;
	unsigned r = 0;

	if (daxo_get(p, "key-0000", 8, v, sizeof(v) - 1, &len) == 0) {
		v[len] = '\0';
		if (sscanf(v, "%u:", &r) != 1)
			r = 0;
	}
	return r;
}

static void check_clean(const char *path)
{
	assert_int_equal(daxo_check(path, 0, NULL, NULL), 0);
}

static void expect_format(daxo_pool *p, unsigned minor, uint64_t incompat,
			  uint32_t lane_size)
{
	struct daxo_info in;
	const struct pool_hdr *h;
	struct daxo_heap_info hi;

	assert_int_equal(daxo_pool_info(p, &in), 0);
	assert_int_equal(in.major, 1);
	assert_int_equal(in.minor, minor);
	assert_int_equal(in.incompat, incompat);
	h = in.base; /* the header, as the library validated it at open */
	assert_int_equal(h->lane_size, lane_size);
	assert_int_equal(h->nlanes, TX_NLANES);
	/* the heap starts at the same place in every format */
	assert_int_equal(h->heap_off,
			 ALIGN_UP(65536 + TX_NLANES * (uint64_t)lane_size,
				  256 << 10));
	assert_int_equal(h->chunk_size, minor >= 4 ? 4096 : 256 << 10);
	assert_int_equal(daxo_heap_info(p, &hi), 0);
	assert_int_equal(hi.chunk_size, h->chunk_size);
	assert_int_equal(hi.nclasses, minor >= 4 ? 96 : 43);
}

/* a pool of @slots slots: 40 rounds (each lane's slots wrap many times) */
/* where daxo_get_view finds a value, from the pool's base */
static int value_at(const void *val, size_t vlen, void *arg)
{
	(void)vlen;
	*(const void **)arg = val;
	return 0;
}

/* a 1 KiB value under a key of @klen bytes: its offset within its line */
static uintptr_t value_misalign(daxo_pool *p, size_t klen)
{
	char k[40], v[1024];
	const void *at = NULL;

	memset(k, 'k', sizeof(k));
	memset(v, 'v', sizeof(v));
	assert_int_equal(daxo_put(p, k, klen, v, sizeof(v)), 0);
	assert_int_equal(daxo_get_view(p, k, klen, value_at, &at), 0);
	assert_non_null(at);
	assert_memory_equal(at, v, sizeof(v));
	assert_int_equal(daxo_del(p, k, klen), 0);
	return (uintptr_t)at % 64;
}

/*
 * heap_round -- in the closed pool at @path, objects of 48 B to 384 KiB
 * (runs of several classes, large objects) allocated in the pool's own
 * heap format and found by type; half freed, the pool reopened, the rest
 * freed: the heap has as much free space as before, and checks clean
 */
static void heap_round(const char *path)
{
	struct daxo_heap_info a, b;
	daxo_oid o[56];
	daxo_pool *p;
	unsigned n = 0;

	assert_int_equal(daxo_open(path, "fmt", 0, &p), 0);
	assert_int_equal(daxo_heap_info(p, &a), 0);
	for (unsigned i = 0; i < 56; i++) {
		uint64_t sz = 48ull << (i % 14);
		assert_int_equal(daxo_alloc(p, sz, 7, &o[i]), 0);
		assert_true(daxo_usable_size(p, o[i]) >= sz);
		assert_int_equal(daxo_oid_type(p, o[i]), 7);
		memset(daxo_direct(p, o[i]), (int)i, sz);
	}
	for (daxo_oid x = daxo_first(p, 7); x; x = daxo_next(p, x, 7))
		n++;
	assert_int_equal(n, 56);
	for (unsigned i = 0; i < 56; i += 2)
		assert_int_equal(daxo_free(p, &o[i]), 0);
	assert_int_equal(daxo_close(p), 0);
	assert_int_equal(daxo_open(path, "fmt", 0, &p), 0);
	for (unsigned i = 1; i < 56; i += 2) {
		const unsigned char *v = daxo_direct(p, o[i]);
		assert_int_equal(v[0], i);
		assert_int_equal(v[(48ull << (i % 14)) - 1], i);
		assert_int_equal(daxo_free(p, &o[i]), 0);
	}
	assert_int_equal(daxo_heap_info(p, &b), 0);
	assert_int_equal(b.free_bytes, a.free_bytes);
	assert_int_equal(daxo_first(p, 7), 0);
	assert_int_equal(daxo_close(p), 0);
	check_clean(path);
}

/* a pool of format 1.@minor: 40 rounds (each lane's slots wrap many times) */
static void run_format(unsigned minor)
{
	static const char *const names[] = {"fmt10", "fmt11", "fmt12",
					    "fmt13", "fmt14", "fmt15"};
	const char *path = test_pool_path(names[minor]);
	unsigned slots = minor >= 1 ? 16 : 4;
	uint64_t incompat = (minor >= 1 ? POOL_INCOMPAT_SLOTS16 : 0) |
			    (minor >= 2 ? POOL_INCOMPAT_KV_VALIGN : 0) |
			    (minor >= 3 ? POOL_INCOMPAT_KV_LINKS : 0) |
			    (minor >= 4 ? POOL_INCOMPAT_HEAP2 : 0) |
			    (minor >= 5 ? POOL_INCOMPAT_SUMS : 0);
	uint32_t lane_size = TX_LANE_SIZE(slots);
	daxo_pool *p;

	pool_create_minor = minor;
	assert_int_equal(daxo_create(path, "fmt", SIZE, 0600, &p), 0);
	pool_create_minor = POOL_FMT_MINOR;
	expect_format(p, minor, incompat, lane_size);
	/* values follow the key (48 = 32-byte header + 16-byte key), or the
	 * next line boundary */
	assert_int_equal(value_misalign(p, 16), minor >= 2 ? 0 : 48);
	assert_int_equal(value_misalign(p, 32), 0);
	assert_int_equal(value_misalign(p, 33), minor >= 2 ? 0 : 1);
	struct root *rt = root_of(p);
	for (unsigned r = 1; r <= 40; r++)
		assert_int_equal(one_round(p, rt, r), 0);
	assert_int_equal(verify(p, 40), 40);
	assert_int_equal(daxo_close(p), 0);
	check_clean(path);
	heap_round(path);

	/* reopened by a library that creates 1.5 pools: the format stays */
	assert_int_equal(daxo_open(path, "fmt", 0, &p), 0);
	expect_format(p, minor, incompat, lane_size);
	assert_int_equal(verify(p, 40), 40);
	rt = root_of(p);
	assert_int_equal(one_round(p, rt, 41), 0);
	assert_int_equal(daxo_close(p), 0);

	/* a writer killed in the middle of a round, three times over */
	unsigned last = 41;
	for (unsigned k = 0; k < 3; k++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			daxo_pool *q;
			daxo_oid o;
			if (daxo_open(path, "fmt", 0, &q) ||
			    daxo_root(q, sizeof(struct root), &o))
				_exit(3);
			for (unsigned r = key0_round(q) + 1;; r++)
				if (one_round(q, daxo_direct(q, o), r))
					_exit(5);
		}
		usleep(20000 + 15000 * k);
		kill(pid, SIGKILL);
		int st;
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFSIGNALED(st));
		assert_int_equal(daxo_open(path, "fmt", 0, &p), 0);
		expect_format(p, minor, incompat, lane_size);
		/* the child wrote some rounds: none of them lost or torn */
		unsigned lo = verify(p, UINT32_MAX);
		assert_true(lo >= last);
		last = lo;
		assert_int_equal(daxo_close(p), 0);
		check_clean(path);
	}
	unlink(path);
}

static void test_format_1_5_is_the_default(void **state)
{
	run_format(5);
}

static void test_format_1_4_pools_still_work(void **state)
{
	run_format(4);
}

/*
 * the cost of a new keyed-store entry (a value replaced by one of another
 * length): *logged and *lines per put, after a warm-up, in a pool of
 * format 1.@minor
 */
static void new_entry_cost(unsigned minor, double *logged, double *lines)
{
	static char v[1100];
	const char *path = test_pool_path(minor >= 5 ? "sum15" : "sum14");
	struct daxo_stats a, b;
	char k[16];
	daxo_pool *p;
	const unsigned n = 200;

	memset(v, 'v', sizeof(v));
	pool_create_minor = minor;
	assert_int_equal(daxo_create(path, "fmt", SIZE, 0600, &p), 0);
	pool_create_minor = POOL_FMT_MINOR;
	for (unsigned r = 0; r < 2 * n; r++) {
		if (r == n)
			assert_int_equal(daxo_thread_stats(&a), 0);
		fmt_key(k, r % 8);
		v[0] = (char)r;
		/* 1000 and 1064 bytes by turns: a new entry every put */
		assert_int_equal(daxo_put(p, k, strlen(k), v,
					  (r / 8) % 2 ? 1064 : 1000),
				 0);
	}
	assert_int_equal(daxo_thread_stats(&b), 0);
	/* one fence a put (a new run or a resize would add one) */
	assert_int_equal(b.fences - a.fences, n);
	*logged = (double)(b.logged_bytes - a.logged_bytes) / n;
	*lines = (double)(b.flushes - a.flushes) / n;
	assert_int_equal(daxo_close(p), 0);
	check_clean(path);
	unlink(path);
}

/*
 * A new entry of up to 1536 bytes is written once in a 1.5 pool: in place,
 * named in the record by a SUM entry (lib/tx.h: SUMMED FILLS); in a 1.4
 * pool the record carries a COPY of it, which the apply writes again.
 */
static void test_new_entries_are_written_once(void **state)
{
	double log15, lines15, log14, lines14;

	new_entry_cost(5, &log15, &lines15);
	new_entry_cost(4, &log14, &lines14);
	printf("# a new 1 KiB entry: %.1f logged bytes, %.1f lines (1.5); "
	       "%.1f, %.1f (1.4)\n",
	       log15, lines15, log14, lines14);
	assert_true(log15 < 512);
	assert_true(log14 > 1000);
	/* the entry's 17-18 lines once, not twice */
	assert_true(lines15 + 12 < lines14);
}

static void test_format_1_3_pools_still_work(void **state)
{
	run_format(3);
}

static void test_format_1_2_pools_still_work(void **state)
{
	run_format(2);
}

static void test_format_1_1_pools_still_work(void **state)
{
	run_format(1);
}

static void test_format_1_0_pools_still_work(void **state)
{
	run_format(0);
}

/* write header @h (resealed) to @f and expect daxo_open to refuse it */
static void expect_refused(FILE *f, const char *path, struct pool_hdr *h)
{
	daxo_pool *p = NULL;

	pool_hdr_seal(h);
	assert_int_equal(fseek(f, 0, SEEK_SET), 0);
	assert_int_equal(fwrite(h, sizeof(*h), 1, f), 1);
	assert_int_equal(fflush(f), 0);
	assert_int_equal(daxo_open(path, "fmt", 0, &p), -EUCLEAN);
	assert_non_null(strstr(daxo_errormsg(), "bad lane size"));
}

/* the flag says where the slots and the undo area are: the lane size in
 * the header must agree with it */
static void test_lane_size_must_match_the_flag(void **state)
{
	const char *path = test_pool_path("fmtbad");
	struct pool_hdr h;
	daxo_pool *p;
	FILE *f;

	assert_int_equal(daxo_create(path, "fmt", SIZE, 0600, &p), 0);
	assert_int_equal(daxo_close(p), 0);
	f = fopen(path, "r+b");
	assert_non_null(f);
	assert_int_equal(fread(&h, sizeof(h), 1, f), 1);
	/* a 1.4 layout claimed as 1.0: slots and undo at other offsets */
	h.incompat = 0;
	expect_refused(f, path, &h);
	/* and a 1.0 lane size under the flag */
	h.incompat = POOL_INCOMPAT_SLOTS16;
	h.lane_size = TX_LANE_SIZE(4);
	expect_refused(f, path, &h);
	assert_int_equal(fclose(f), 0);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_format_1_5_is_the_default),
	    cmocka_unit_test(test_format_1_4_pools_still_work),
	    cmocka_unit_test(test_new_entries_are_written_once),
	    cmocka_unit_test(test_format_1_3_pools_still_work),
	    cmocka_unit_test(test_format_1_2_pools_still_work),
	    cmocka_unit_test(test_format_1_1_pools_still_work),
	    cmocka_unit_test(test_format_1_0_pools_still_work),
	    cmocka_unit_test(test_lane_size_must_match_the_flag),
	};

	test_env();
	return cmocka_run_group_tests_name("format", tests, NULL, NULL);
}
