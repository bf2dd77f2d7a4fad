/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_pool.c -- unit tests of the pool API: create, open, close, direct,
 * oid_of, persist/flush/drain and their counters, pool_info, errormsg,
 * strerror and version, and every bad input of the foundation issue (wrong
 * layout, truncated, all-zero and corrupted files, newer formats, unknown
 * incompatible features, directories, missing files, existing files, sizes
 * below the minimum, long layout names, second openers in this process and
 * in another).
 *
 * The tests are black-box: they damage pool files through the byte offsets
 * documented in doc/FORMAT.md (and lib/pool.h), recomputing the header
 * checksum (xxh64 of bytes 0..4087, seed 0, stored at 4088) where a test
 * needs a header that is valid except for one field. Every failure must
 * return its exact negative errno and leave a daxo_errormsg() that names the
 * file. Pools live in test_dir() under names unique to this process and are
 * removed by each test's teardown.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <xxhash.h>

#include "daxo.h"
#include "test_common.h"

#define MiB (1ull << 20)

/* header field offsets (doc/FORMAT.md) */
#define H_MAGIC	       0
#define H_MAJOR	       8
#define H_MINOR	       12
#define H_INCOMPAT     16
#define H_RO_COMPAT    24
#define H_COMPAT       32
#define H_UUID	       40
#define H_LAYOUT       56
#define H_SIZE	       120
#define H_HDR_COPY_OFF 128
#define H_META_OFF     136
#define H_META_SIZE    144
#define H_LANES_OFF    152
#define H_NLANES       160
#define H_LANE_SIZE    164
#define H_HEAP_OFF     168
#define H_HEAP_SIZE    176
#define H_CHUNK_SIZE   184
#define H_CTIME	       192
#define H_RESERVED     200
#define H_CSUM	       4088
#define HDR_SIZE       4096
#define HDR_COPY       4096

/*
 * pmem_map_file, interposed (libdaxo's calls come here first): when
 * swap_from is set, its first call renames swap_from over swap_to before
 * it maps -- a pool file replaced between daxo_open's (or daxo_create's)
 * open() of it and its mapping -- and with swap_fail, fails.
 */
void *pmem_map_file(const char *path, size_t len, int flags, mode_t mode,
		    size_t *mapped_lenp, int *is_pmemp);
static const char *swap_from, *swap_to;
static bool swap_fail; /* and then fail, as with no memory */

void *pmem_map_file(const char *path, size_t len, int flags, mode_t mode,
		    size_t *mapped_lenp, int *is_pmemp)
{
	void *(*real)(const char *, size_t, int, mode_t, size_t *, int *);

	if (swap_from) {
		assert_int_equal(rename(swap_from, swap_to), 0);
		swap_from = NULL;
		if (swap_fail) {
			swap_fail = false;
			errno = ENOMEM;
			return NULL;
		}
	}
	*(void **)&real = dlsym(RTLD_NEXT, "pmem_map_file");
	assert_non_null(real);
	return real(path, len, flags, mode, mapped_lenp, is_pmemp);
}

struct state {
	char path[128];
	char dir[192];
	daxo_pool *p;
};

static unsigned seq;

static int setup(void **st)
{
	struct state *s = calloc(1, sizeof(*s));

	if (!s)
		return -1;
	test_path(s->path, sizeof(s->path), "daxo-test_pool-%d-%u.pool",
		  (int)getpid(), seq++);
	unlink(s->path);
	*st = s;
	return 0;
}

static int teardown(void **st)
{
	struct state *s = *st;

	char other[160];

	daxo_close(s->p);
	unlink(s->path);
	/* the second pool some tests make beside it (PATH.y), left there when
	 * one fails */
	snprintf(other, sizeof(other), "%s.y", s->path);
	unlink(other);
	if (s->dir[0])
		rmdir(s->dir);
	free(s);
	return 0;
}

/* check_err -- @ret is @want, and the message is set and names @path */
#define check_err(ret, want, path) check_err_((ret), (want), (path), __LINE__)
static void check_err_(int ret, int want, const char *path, int line)
{
	const char *msg = daxo_errormsg();

	if (ret != want)
		print_error("line %d: got %d (%s), want %d (%s); message: %s\n",
			    line, ret, daxo_strerror(ret), want,
			    daxo_strerror(want), msg);
	assert_int_equal(ret, want);
	assert_non_null(msg);
	assert_true(strlen(msg) > 0);
	/* an early return, not "path &&" in the test: inlined where @path is
	 * NULL, the latter made GCC's sanitized -O2 build warn of a NULL %s
	 * (-Wformat-overflow) in a call it cannot reach */
	if (!path)
		return;
	if (!strstr(msg, path)) {
		print_error("line %d: message does not name %s: %s\n", line,
			    path, msg);
		fail();
	}
}

/* check_offset -- the last message names the header offset @off */
static void check_offset(uint64_t off)
{
	char want[32];

	snprintf(want, sizeof(want), "offset %llu", (unsigned long long)off);
	if (!strstr(daxo_errormsg(), want))
		print_error("message lacks '%s': %s\n", want, daxo_errormsg());
	assert_non_null(strstr(daxo_errormsg(), want));
}

static void make_pool(struct state *s, const char *layout, uint64_t size)
{
	daxo_pool *p = NULL;

	int ret = daxo_create(s->path, layout, size, 0644, &p);
	if (ret)
		print_error("daxo_create: %s\n", daxo_errormsg());
	assert_int_equal(ret, 0);
	assert_int_equal(daxo_close(p), 0);
}

static void read_at(const char *path, uint64_t off, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

/* file_image -- a copy of the whole file at @path (free it); its size in
 * *@len */
static unsigned char *file_image(const char *path, size_t *len)
{
	struct stat sb;
	unsigned char *b;

	assert_int_equal(stat(path, &sb), 0);
	*len = (size_t)sb.st_size;
	b = malloc(*len);
	assert_non_null(b);
	read_at(path, 0, b, *len);
	return b;
}

/* assert_file_is -- the file at @path holds @len bytes, those of @image
 * (file_image's, freed here) */
static void assert_file_is(const char *path, unsigned char *image, size_t len)
{
	size_t n;
	unsigned char *now = file_image(path, &n);

	assert_int_equal(n, len);
	assert_memory_equal(now, image, len);
	free(now);
	free(image);
}

static void write_at(const char *path, uint64_t off, const void *buf,
		     size_t len)
{
	int fd = open(path, O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

/* reseal -- recompute the primary header's checksum */
static void reseal(const char *path)
{
	unsigned char h[HDR_SIZE];
	uint64_t c;

	read_at(path, 0, h, sizeof(h));
	c = XXH64(h, H_CSUM, 0);
	memcpy(h + H_CSUM, &c, 8);
	write_at(path, 0, h, sizeof(h));
}

/* patch -- overwrite @len bytes of the primary header, optionally resealed */
static void patch(const char *path, uint64_t off, const void *val, size_t len,
		  bool seal)
{
	write_at(path, off, val, len);
	if (seal)
		reseal(path);
}

static void patch_u32(const char *path, uint64_t off, uint32_t v, bool seal)
{
	patch(path, off, &v, 4, seal);
}

static void patch_u64(const char *path, uint64_t off, uint64_t v, bool seal)
{
	patch(path, off, &v, 8, seal);
}

static uint64_t get_u64(const char *path, uint64_t off)
{
	uint64_t v;

	read_at(path, off, &v, 8);
	return v;
}

static uint32_t get_u32(const char *path, uint64_t off)
{
	uint32_t v;

	read_at(path, off, &v, 4);
	return v;
}

static int open_rw(struct state *s, const char *layout)
{
	return daxo_open(s->path, layout, 0, &s->p);
}

/* ---- the good paths ---- */

static void test_version_matches_header(void **st)
{
	assert_int_equal(daxo_version(), DAXO_VERSION_MAJOR * 10000 +
					     DAXO_VERSION_MINOR * 100 +
					     DAXO_VERSION_PATCH);
}

static void test_create_then_open_roundtrip(void **st)
{
	struct state *s = *st;
	struct daxo_info in;

	assert_int_equal(
	    daxo_create(s->path, "roundtrip", DAXO_MIN_POOL_SIZE, 0644, &s->p),
	    0);
	assert_non_null(s->p);
	assert_int_equal(daxo_pool_info(s->p, &in), 0);
	assert_string_equal(in.layout, "roundtrip");
	assert_int_equal(daxo_close(s->p), 0);
	s->p = NULL;

	assert_int_equal(open_rw(s, "roundtrip"), 0);
	assert_int_equal(daxo_close(s->p), 0);
	s->p = NULL;
	/* NULL accepts any layout */
	assert_int_equal(open_rw(s, NULL), 0);
	assert_int_equal(daxo_pool_info(s->p, &in), 0);
	assert_string_equal(in.layout, "roundtrip");
}

static void test_create_null_layout_is_empty(void **st)
{
	struct state *s = *st;
	struct daxo_info in;

	make_pool(s, NULL, DAXO_MIN_POOL_SIZE);
	assert_int_equal(open_rw(s, ""), 0);
	assert_int_equal(daxo_pool_info(s->p, &in), 0);
	assert_string_equal(in.layout, "");
}

static void test_create_rounds_size_up_to_2mib(void **st)
{
	struct state *s = *st;
	struct daxo_info in;
	struct stat sb;

	assert_int_equal(daxo_create(s->path, "r", 9 * MiB + 1, 0644, &s->p),
			 0);
	assert_int_equal(daxo_pool_info(s->p, &in), 0);
	assert_int_equal(in.size, 10 * MiB);
	assert_int_equal(stat(s->path, &sb), 0);
	assert_int_equal((uint64_t)sb.st_size, 10 * MiB);
}

static void test_create_applies_mode(void **st)
{
	struct state *s = *st;
	struct stat sb;

	assert_int_equal(
	    daxo_create(s->path, "m", DAXO_MIN_POOL_SIZE, 0600, &s->p), 0);
	assert_int_equal(stat(s->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
}

static void test_info_fields_are_filled(void **st)
{
	struct state *s = *st;
	struct daxo_info in;
	uint8_t zero[16] = {0};
	const char *force = getenv("PMEM_IS_PMEM_FORCE");
	int64_t before = (int64_t)time(NULL);

	assert_int_equal(daxo_create(s->path, "info", 16 * MiB, 0644, &s->p),
			 0);
	int64_t after = (int64_t)time(NULL);
	assert_int_equal(daxo_pool_info(s->p, &in), 0);
	assert_string_equal(in.path, s->path);
	assert_string_equal(in.layout, "info");
	assert_memory_not_equal(in.uuid, zero, 16);
	assert_int_equal(in.major, 1);
	/* format 1.5: lanes of 16 redo slots, line-aligned values, checked
	 * keyed-store links, heap 2, records with SUM entries (FORMAT.md) */
	assert_int_equal(in.minor, 5);
	assert_int_equal(in.incompat, 0x6b);
	assert_int_equal(in.ro_compat, 0);
	assert_int_equal(in.compat, 0);
	assert_int_equal(in.size, 16 * MiB);
	assert_true(in.ctime >= before && in.ctime <= after);
	/* the test environment sets PMEM_IS_PMEM_FORCE=1; on real DAX a
	 * MAP_SYNC mapping is pmem without it */
	assert_int_equal(in.is_pmem,
			 (force && strcmp(force, "1") == 0) || in.map_sync);
	assert_int_equal(in.is_devdax, 0);
	assert_int_equal(in.readonly, 0);
	assert_int_equal(in.recovery_pending, 0);
	assert_int_equal(in.recovered, 0);
	assert_non_null(in.base);
	assert_ptr_equal((char *)in.base + 4096, daxo_direct(s->p, 4096));
	/* reserved words read as zero */
	for (size_t i = 0; i < ARRAY_LEN(in.reserved); i++)
		assert_int_equal(in.reserved[i], 0);

	/* the same values are on the media, where FORMAT.md says, and the
	 * layout that struct daxo_info leaves out is as FORMAT.md gives it */
	assert_int_equal(get_u64(s->path, H_SIZE), in.size);
	assert_int_equal((int64_t)get_u64(s->path, H_CTIME), in.ctime);
	uint64_t lanes_off = get_u64(s->path, H_LANES_OFF);
	uint32_t nlanes = get_u32(s->path, H_NLANES);
	uint32_t lane_size = get_u32(s->path, H_LANE_SIZE);
	uint64_t heap_off = get_u64(s->path, H_HEAP_OFF);
	assert_int_equal(lanes_off, 65536);
	assert_int_equal(nlanes, 64);
	assert_int_equal(lane_size, 16 * 2048 + 8192);
	assert_true(heap_off >= lanes_off + (uint64_t)nlanes * lane_size);
	assert_int_equal(heap_off + get_u64(s->path, H_HEAP_SIZE), in.size);

	/* the path is the handle's, valid until daxo_close */
	struct daxo_info again;
	assert_int_equal(daxo_pool_info(s->p, &again), 0);
	assert_ptr_equal(again.path, in.path);

	assert_int_equal(daxo_pool_info(NULL, &in), -EINVAL);
	assert_int_equal(daxo_pool_info(s->p, NULL), -EINVAL);
}

static void test_header_copy_and_checksum_on_media(void **st)
{
	struct state *s = *st;
	unsigned char h[HDR_SIZE], c[HDR_SIZE];
	uint64_t sum;

	make_pool(s, "hdr", DAXO_MIN_POOL_SIZE);
	read_at(s->path, 0, h, sizeof(h));
	read_at(s->path, HDR_COPY, c, sizeof(c));
	assert_memory_equal(h, "DAXOPOOL", 8);
	assert_memory_equal(h, c, HDR_SIZE);
	memcpy(&sum, h + H_CSUM, 8);
	assert_int_equal(sum, XXH64(h, H_CSUM, 0));
	assert_string_equal((char *)h + H_LAYOUT, "hdr");
	for (unsigned i = H_RESERVED; i < H_CSUM; i++)
		assert_int_equal(h[i], 0);
	assert_int_equal(get_u64(s->path, H_HDR_COPY_OFF), HDR_COPY);
}

static void test_uuid_differs_between_pools(void **st)
{
	struct state *s = *st;
	char other[160];
	uint8_t u1[16], u2[16];

	snprintf(other, sizeof(other), "%s.2", s->path);
	unlink(other);
	make_pool(s, "u", DAXO_MIN_POOL_SIZE);
	daxo_pool *p2;
	assert_int_equal(daxo_create(other, "u", DAXO_MIN_POOL_SIZE, 0644, &p2),
			 0);
	daxo_close(p2);
	read_at(s->path, H_UUID, u1, 16);
	read_at(other, H_UUID, u2, 16);
	unlink(other);
	assert_memory_not_equal(u1, u2, 16);
}

/* a program's rand() sequence is its own: creating a pool leaves it be */
static void test_create_leaves_rand_state_alone(void **st)
{
	struct state *s = *st;

	srand(7);
	int want = rand();
	srand(7);
	make_pool(s, "r", DAXO_MIN_POOL_SIZE);
	assert_int_equal(rand(), want);
	uint8_t u[16];
	read_at(s->path, H_UUID, u, 16);
	assert_int_equal(u[6] >> 4, 4);      /* a version 4 UUID */
	assert_int_equal(u[8] & 0xc0, 0x80); /* RFC 4122 variant */
}

static void test_reopen_after_close_succeeds(void **st)
{
	struct state *s = *st;

	make_pool(s, "again", DAXO_MIN_POOL_SIZE);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(open_rw(s, "again"), 0);
		assert_int_equal(daxo_close(s->p), 0);
		s->p = NULL;
	}
}

static void test_open_rdonly_shares_and_excludes_writers(void **st)
{
	struct state *s = *st;
	daxo_pool *r1, *r2, *w;
	struct daxo_info in;
	unsigned char before[2 * HDR_SIZE], after[2 * HDR_SIZE];

	make_pool(s, "ro", DAXO_MIN_POOL_SIZE);
	read_at(s->path, 0, before, sizeof(before));
	assert_int_equal(daxo_open(s->path, "ro", DAXO_RDONLY, &r1), 0);
	assert_int_equal(daxo_pool_info(r1, &in), 0);
	assert_int_equal(in.readonly, 1);
	/* readers share */
	assert_int_equal(daxo_open(s->path, "ro", DAXO_RDONLY, &r2), 0);
	/* a writer is refused while readers hold it */
	check_err(daxo_open(s->path, "ro", 0, &w), -EBUSY, s->path);
	assert_int_equal(daxo_close(r2), 0);
	assert_int_equal(daxo_close(r1), 0);
	read_at(s->path, 0, after, sizeof(after));
	assert_memory_equal(before, after, sizeof(before));

	/* and a reader while a writer holds it */
	assert_int_equal(open_rw(s, "ro"), 0);
	check_err(daxo_open(s->path, "ro", DAXO_RDONLY, &r1), -EBUSY, s->path);
}

static void test_open_prefault_flag_accepted(void **st)
{
	struct state *s = *st;

	make_pool(s, "pf", DAXO_MIN_POOL_SIZE);
	assert_int_equal(daxo_open(s->path, "pf", DAXO_PREFAULT, &s->p), 0);
}

static void test_direct_and_oid_of(void **st)
{
	struct state *s = *st;
	struct daxo_info in;
	char *base;

	assert_int_equal(
	    daxo_create(s->path, "d", DAXO_MIN_POOL_SIZE, 0644, &s->p), 0);
	assert_int_equal(daxo_pool_info(s->p, &in), 0);
	base = in.base;
	assert_null(daxo_direct(s->p, DAXO_OID_NULL));
	assert_ptr_equal(daxo_direct(s->p, 4096), base + 4096);
	assert_ptr_equal(daxo_direct(s->p, in.size - 1), base + in.size - 1);
	assert_null(daxo_direct(s->p, in.size));
	assert_null(daxo_direct(s->p, UINT64_MAX));
	assert_null(daxo_direct(NULL, 4096));

	assert_int_equal(daxo_oid_of(s->p, base + 12345), 12345);
	assert_int_equal(daxo_oid_of(s->p, base + in.size - 1), in.size - 1);
	assert_int_equal(daxo_oid_of(s->p, base + in.size), 0);
	assert_int_equal(daxo_oid_of(s->p, base - 1), 0);
	assert_int_equal(daxo_oid_of(s->p, &in), 0);
	assert_int_equal(daxo_oid_of(NULL, base), 0);
	/* they are inverses */
	uint64_t heap_off = get_u64(s->path, H_HEAP_OFF);
	assert_int_equal(daxo_oid_of(s->p, daxo_direct(s->p, heap_off)),
			 heap_off);
}

/*
 * daxo_direct is inline (daxo.h): the handle's head, the call kept for
 * programs built before, and the fallback to the call when the head has
 * another version agree on every edge
 */
static void test_direct_inline_head_and_call_agree(void **st)
{
	struct state *s = *st;
	struct daxo_info in;

	assert_int_equal(
	    daxo_create(s->path, "d", DAXO_MIN_POOL_SIZE, 0644, &s->p), 0);
	assert_int_equal(daxo_pool_info(s->p, &in), 0);
	struct daxo_pool_head *h = (struct daxo_pool_head *)(void *)s->p;
	assert_int_equal(h->version, DAXO_POOL_HEAD_V1);
	assert_ptr_equal(h->base, in.base);
	assert_int_equal(h->size, in.size);
	const daxo_oid oids[] = {0, 1, 8, 4096, in.size - 1, in.size,
				 in.size + 1, UINT64_MAX, UINT64_MAX - 7};
	for (unsigned v = 0; v < 2; v++) {
		/* the second round: a head of an unknown version */
		h->version = v ? 0 : DAXO_POOL_HEAD_V1;
		for (size_t i = 0; i < sizeof(oids) / sizeof(oids[0]); i++) {
			daxo_oid o = oids[i];
			void *want = o && o < in.size ? (char *)in.base + o
						      : NULL;
			assert_ptr_equal(daxo_direct(s->p, o), want);
			assert_ptr_equal((daxo_direct)(s->p, o), want);
			assert_ptr_equal(daxo_direct_slow(s->p, o), want);
		}
	}
	h->version = DAXO_POOL_HEAD_V1;
	assert_null(daxo_direct(NULL, 4096));
	assert_null(daxo_direct_slow(NULL, 4096));
}

static void stats_delta(daxo_pool *p, const struct daxo_stats *a,
			uint64_t fences, uint64_t flushes)
{
	struct daxo_stats b;

	assert_int_equal(daxo_stats(p, &b), 0);
	assert_int_equal(b.fences - a->fences, fences);
	assert_int_equal(b.flushes - a->flushes, flushes);
}

static void test_persist_flush_drain_are_counted(void **st)
{
	struct state *s = *st;
	struct daxo_stats a, ta, tb;
	struct daxo_info in;
	char *heap;

	assert_int_equal(
	    daxo_create(s->path, "c", DAXO_MIN_POOL_SIZE, 0644, &s->p), 0);
	assert_int_equal(daxo_pool_info(s->p, &in), 0);
	/* a 64-byte-aligned scratch area in the heap (nothing allocated yet) */
	uint64_t off = get_u64(s->path, H_HEAP_OFF) +
		       get_u64(s->path, H_HEAP_SIZE) / 2;
	heap = daxo_direct(s->p, off);
	assert_int_equal((uintptr_t)heap % 64, 0);

	assert_int_equal(daxo_stats(s->p, &a), 0);
	assert_int_equal(daxo_thread_stats(&ta), 0);
	heap[0] = 1;
	daxo_persist(s->p, heap, 1);
	stats_delta(s->p, &a, 1, 1);

	assert_int_equal(daxo_stats(s->p, &a), 0);
	memset(heap, 2, 65);
	daxo_persist(s->p, heap, 65); /* two lines */
	stats_delta(s->p, &a, 1, 2);

	assert_int_equal(daxo_stats(s->p, &a), 0);
	daxo_persist(s->p, heap + 63, 2); /* straddles a line boundary */
	stats_delta(s->p, &a, 1, 2);

	assert_int_equal(daxo_stats(s->p, &a), 0);
	memset(heap, 3, 4096);
	daxo_flush(s->p, heap, 4096); /* 64 lines, no fence */
	stats_delta(s->p, &a, 0, 64);
	daxo_drain(s->p);
	stats_delta(s->p, &a, 1, 64);

	/* the thread's counters saw the same */
	assert_int_equal(daxo_thread_stats(&tb), 0);
	assert_int_equal(tb.fences - ta.fences, 4);
	assert_int_equal(tb.flushes - ta.flushes, 1 + 2 + 2 + 64);

	/* persisted data is in the file after close */
	assert_int_equal(daxo_close(s->p), 0);
	s->p = NULL;
	unsigned char buf[4096], want[4096];
	memset(want, 3, sizeof(want));
	read_at(s->path, off, buf, sizeof(buf));
	assert_memory_equal(buf, want, sizeof(buf));
}

static void test_stats_reject_null(void **st)
{
	struct state *s = *st;
	struct daxo_stats x;

	make_pool(s, "n", DAXO_MIN_POOL_SIZE);
	assert_int_equal(open_rw(s, "n"), 0);
	check_err(daxo_stats(s->p, NULL), -EINVAL, NULL);
	check_err(daxo_stats(NULL, &x), -EINVAL, NULL);
	check_err(daxo_thread_stats(NULL), -EINVAL, NULL);
	/* a fresh handle's counters start at 0 */
	assert_int_equal(daxo_stats(s->p, &x), 0);
	assert_int_equal(x.fences, 0);
	assert_int_equal(x.flushes, 0);
}

static void *thread_errormsg(void *arg)
{
	const char **out = arg;

	*out = strdup(daxo_errormsg());
	return NULL;
}

static void test_errormsg_is_thread_local(void **st)
{
	struct state *s = *st;
	pthread_t t;
	const char *theirs = NULL;
	daxo_pool *p;

	check_err(daxo_open(s->path, NULL, 0, &p), -ENOENT, s->path);
	assert_int_equal(pthread_create(&t, NULL, thread_errormsg, &theirs), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_non_null(theirs);
	assert_string_equal(theirs, "");
	free((void *)theirs);
	/* ours is untouched */
	assert_non_null(strstr(daxo_errormsg(), s->path));
}

static void test_strerror_names_codes(void **st)
{
	static const int codes[] = {
	    -ENOENT,  -EINVAL, -ENOSPC,	 -EBUSY,	   -EEXIST,
	    -ENOMEM,  -EIO,    -EUCLEAN, -EPROTONOSUPPORT, -EROFS,
	    -ENOBUFS, -EISDIR, -EACCES};

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		const char *m = daxo_strerror(codes[i]);
		assert_non_null(m);
		assert_true(strlen(m) > 0);
		assert_string_not_equal(m, "unknown error");
	}
	assert_string_equal(daxo_strerror(0), "success");
	assert_non_null(strstr(daxo_strerror(-EUCLEAN), "corrupt"));
	assert_string_not_equal(daxo_strerror(-EUCLEAN),
				daxo_strerror(-EPROTONOSUPPORT));
	assert_non_null(daxo_strerror(5));
	assert_non_null(daxo_strerror(-100000));
	assert_non_null(daxo_strerror(INT32_MIN));
}

static void test_root_is_recorded_in_pool_meta(void **st)
{
	struct state *s = *st;
	daxo_oid oid, again;
	unsigned char *r, zero[100] = {0};

	assert_int_equal(
	    daxo_create(s->path, "root", DAXO_MIN_POOL_SIZE, 0644, &s->p), 0);
	check_err(daxo_root(s->p, 0, &oid), -ENOENT, s->path);
	assert_int_equal(daxo_root(s->p, 100, &oid), 0);
	assert_true(oid != DAXO_OID_NULL);
	r = daxo_direct(s->p, oid);
	assert_non_null(r);
	assert_memory_equal(r, zero, sizeof(zero));
	assert_int_equal(daxo_root(s->p, 100, &again), 0);
	assert_int_equal(again, oid);
	memcpy(r, "durable", 8);
	daxo_persist(s->p, r, 8);
	assert_int_equal(daxo_close(s->p), 0);
	s->p = NULL;

	/* the pool meta (offset 8192) holds root oid and size */
	assert_int_equal(get_u64(s->path, 8192), oid);
	assert_int_equal(get_u64(s->path, 8192 + 8), 100);

	assert_int_equal(daxo_open(s->path, "root", DAXO_RDONLY, &s->p), 0);
	assert_int_equal(daxo_root(s->p, 0, &again), 0);
	assert_int_equal(again, oid);
	assert_string_equal((char *)daxo_direct(s->p, again), "durable");
	daxo_close(s->p);
	s->p = NULL;

	/* a root oid that names no object is corruption, not a crash */
	patch_u64(s->path, 8192, oid + 8, false);
	assert_int_equal(open_rw(s, "root"), 0);
	check_err(daxo_root(s->p, 0, &again), -EUCLEAN, s->path);
}

/* run_crash_in_tx -- leave @path with an uncommitted transaction */
static void run_crash_in_tx(const char *path, const char *layout)
{
	const char *helper = getenv("CRASH_IN_TX");
	int status;
	pid_t pid;

	if (!helper) {
		print_message("CRASH_IN_TX is not set (run through meson "
			      "test)\n");
		skip();
	}
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl(helper, helper, path, layout, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFSIGNALED(status))
		print_error("crash_in_tx exited %d instead of dying\n",
			    WEXITSTATUS(status));
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
}

static uint64_t root_word(daxo_pool *p)
{
	daxo_oid oid;
	uint64_t v;

	assert_int_equal(daxo_root(p, 0, &oid), 0);
	memcpy(&v, daxo_direct(p, oid), 8);
	return v;
}

static void test_open_recovers_interrupted_transaction(void **st)
{
	struct state *s = *st;
	struct daxo_info in;
	struct daxo_stats stats;
	unsigned char *before;
	size_t len;

	make_pool(s, "rec", DAXO_MIN_POOL_SIZE);
	run_crash_in_tx(s->path, "rec");
	before = file_image(s->path, &len);

	/* read-only: recovery runs on a private view, the file stays */
	assert_int_equal(daxo_open(s->path, "rec", DAXO_RDONLY, &s->p), 0);
	assert_int_equal(daxo_pool_info(s->p, &in), 0);
	assert_int_equal(in.recovery_pending, 1);
	assert_true(in.recovered >= 1);
	assert_int_equal(root_word(s->p), 0x1111111111111111ull);
	assert_int_equal(daxo_close(s->p), 0);
	s->p = NULL;
	assert_file_is(s->path, before, len);

	/* read-write: rolled back on the media, counted in the stats */
	assert_int_equal(open_rw(s, "rec"), 0);
	assert_int_equal(daxo_pool_info(s->p, &in), 0);
	assert_int_equal(in.recovery_pending, 1);
	assert_true(in.recovered >= 1);
	assert_int_equal(daxo_stats(s->p, &stats), 0);
	assert_int_equal(stats.recoveries, in.recovered);
	assert_int_equal(root_word(s->p), 0x1111111111111111ull);
	assert_int_equal(daxo_close(s->p), 0);
	s->p = NULL;

	/* and once only */
	assert_int_equal(open_rw(s, "rec"), 0);
	assert_int_equal(daxo_pool_info(s->p, &in), 0);
	assert_int_equal(in.recovery_pending, 0);
	assert_int_equal(in.recovered, 0);
	assert_int_equal(root_word(s->p), 0x1111111111111111ull);
}

static void test_close_null_is_ok(void **st)
{
	assert_int_equal(daxo_close(NULL), 0);
}

/* ---- bad input ---- */

static void test_open_wrong_layout_einval(void **st)
{
	struct state *s = *st;

	make_pool(s, "right", DAXO_MIN_POOL_SIZE);
	check_err(open_rw(s, "wrong"), -EINVAL, s->path);
	assert_null(s->p);
	check_err(open_rw(s, ""), -EINVAL, s->path);
	/* a prefix is not the layout */
	check_err(open_rw(s, "righ"), -EINVAL, s->path);
	assert_int_equal(open_rw(s, "right"), 0);
}

static void test_layout_name_too_long_einval(void **st)
{
	struct state *s = *st;
	char longest[DAXO_LAYOUT_MAX + 1], too_long[DAXO_LAYOUT_MAX + 2];

	memset(longest, 'l', DAXO_LAYOUT_MAX);
	longest[DAXO_LAYOUT_MAX] = '\0';
	memset(too_long, 'x', DAXO_LAYOUT_MAX + 1);
	too_long[DAXO_LAYOUT_MAX + 1] = '\0';

	check_err(
	    daxo_create(s->path, too_long, DAXO_MIN_POOL_SIZE, 0644, &s->p),
	    -EINVAL, s->path);
	assert_int_equal(access(s->path, F_OK), -1); /* nothing left behind */

	make_pool(s, longest, DAXO_MIN_POOL_SIZE);
	check_err(open_rw(s, too_long), -EINVAL, NULL);
	assert_int_equal(open_rw(s, longest), 0);
}

static void test_open_truncated_euclean(void **st)
{
	struct state *s = *st;

	make_pool(s, "t", 16 * MiB);
	assert_int_equal(truncate(s->path, 8 * MiB), 0);
	check_err(open_rw(s, "t"), -EUCLEAN, s->path);
	check_offset(H_SIZE);
	/* shorter than the two headers */
	assert_int_equal(truncate(s->path, 6000), 0);
	check_err(open_rw(s, "t"), -EUCLEAN, s->path);
	/* and an empty file */
	assert_int_equal(truncate(s->path, 0), 0);
	check_err(open_rw(s, "t"), -EUCLEAN, s->path);
	check_err(daxo_open(s->path, "t", DAXO_RDONLY, &s->p), -EUCLEAN,
		  s->path);
	assert_null(s->p);
}

static void test_open_all_zero_file_euclean(void **st)
{
	struct state *s = *st;
	int fd = open(s->path, O_CREAT | O_EXCL | O_WRONLY, 0644);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)DAXO_MIN_POOL_SIZE), 0);
	close(fd);
	check_err(open_rw(s, NULL), -EUCLEAN, s->path);
	check_offset(H_MAGIC);
	check_err(daxo_open(s->path, NULL, DAXO_RDONLY, &s->p), -EUCLEAN,
		  s->path);
}

static void test_open_bad_magic_euclean(void **st)
{
	struct state *s = *st;

	make_pool(s, "m", DAXO_MIN_POOL_SIZE);
	patch(s->path, H_MAGIC, "DAXOPOOX", 8, false);
	check_err(open_rw(s, "m"), -EUCLEAN, s->path);
	check_offset(H_MAGIC);
	/* even with a checksum that matches */
	reseal(s->path);
	check_err(open_rw(s, "m"), -EUCLEAN, s->path);
}

static void test_open_bad_version_euclean(void **st)
{
	struct state *s = *st;

	make_pool(s, "v", DAXO_MIN_POOL_SIZE);
	/* damaged in place: the checksum no longer matches */
	patch_u32(s->path, H_MAJOR, 0, false);
	check_err(open_rw(s, "v"), -EUCLEAN, s->path);
	/* major 0 with a valid checksum: not a version that exists */
	reseal(s->path);
	check_err(open_rw(s, "v"), -EUCLEAN, s->path);
	check_offset(H_MAJOR);
	/* a damaged minor is caught by the checksum */
	patch_u32(s->path, H_MAJOR, 1, true);
	assert_int_equal(open_rw(s, "v"), 0);
	daxo_close(s->p);
	s->p = NULL;
	patch_u32(s->path, H_MINOR, 0x100, false);
	check_err(open_rw(s, "v"), -EUCLEAN, s->path);
	check_offset(H_CSUM);
}

static void test_open_bad_size_euclean(void **st)
{
	struct state *s = *st;
	uint64_t size;

	make_pool(s, "s", 10 * MiB);
	size = get_u64(s->path, H_SIZE);
	assert_int_equal(size, 10 * MiB);
	/* damaged: checksum mismatch */
	patch_u64(s->path, H_SIZE, size ^ 0x1000, false);
	check_err(open_rw(s, "s"), -EUCLEAN, s->path);
	/* consistent header that disagrees with the file */
	patch_u64(s->path, H_SIZE, size + 2 * MiB, true);
	check_err(open_rw(s, "s"), -EUCLEAN, s->path);
	check_offset(H_SIZE);
	/* a smaller size: the regions it implies are not the header's */
	patch_u64(s->path, H_SIZE, size - 2 * MiB, true);
	check_err(open_rw(s, "s"), -EUCLEAN, s->path);
	check_offset(176); /* heap size */
	/* a file grown behind the pool's back: the header knows the size */
	patch_u64(s->path, H_SIZE, size, true);
	assert_int_equal(truncate(s->path, (off_t)(size + 2 * MiB)), 0);
	assert_int_equal(open_rw(s, "s"), 0);
	struct daxo_info info;
	assert_int_equal(daxo_pool_info(s->p, &info), 0);
	assert_int_equal(info.size, size);
	assert_int_equal(daxo_close(s->p), 0);
	s->p = NULL;
}

static void test_open_bad_region_offsets_euclean(void **st)
{
	struct state *s = *st;
	static const struct {
		unsigned off, width;
		uint64_t delta;
	} f[] = {
	    {H_HDR_COPY_OFF, 8, 4096}, {H_META_OFF, 8, 64},
	    {H_META_SIZE, 8, 4096},    {H_LANES_OFF, 8, 4096},
	    {H_NLANES, 4, 1},	       {H_LANE_SIZE, 4, 64},
	    {H_HEAP_OFF, 8, 2 * MiB},  {H_HEAP_SIZE, 8, 2 * MiB},
	    {H_CHUNK_SIZE, 8, 4096},
	};
	unsigned char good[HDR_SIZE];

	make_pool(s, "o", 16 * MiB);
	read_at(s->path, 0, good, sizeof(good));
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		/* one field moved, checksum valid */
		if (f[i].width == 8)
			patch_u64(s->path, f[i].off,
				  get_u64(s->path, f[i].off) + f[i].delta,
				  true);
		else
			patch_u32(s->path, f[i].off,
				  get_u32(s->path, f[i].off) +
				      (uint32_t)f[i].delta,
				  true);
		check_err(open_rw(s, "o"), -EUCLEAN, s->path);
		check_offset(f[i].off);
		/* a region pointing past the end */
		if (f[i].width == 8) {
			patch_u64(s->path, f[i].off, UINT64_MAX - 4095, true);
			check_err(open_rw(s, "o"), -EUCLEAN, s->path);
		}
		/* damaged without a new checksum */
		write_at(s->path, 0, good, sizeof(good));
		patch_u32(s->path, f[i].off, 0xdeadbeef, false);
		check_err(open_rw(s, "o"), -EUCLEAN, s->path);
		write_at(s->path, 0, good, sizeof(good));
	}
	assert_int_equal(open_rw(s, "o"), 0);
}

static void test_open_bad_checksum_euclean(void **st)
{
	struct state *s = *st;
	uint64_t c;
	unsigned char b;

	make_pool(s, "c", DAXO_MIN_POOL_SIZE);
	c = get_u64(s->path, H_CSUM);
	patch_u64(s->path, H_CSUM, c ^ 1, false);
	check_err(open_rw(s, "c"), -EUCLEAN, s->path);
	check_offset(H_CSUM);
	patch_u64(s->path, H_CSUM, c, false);
	assert_int_equal(open_rw(s, "c"), 0);
	daxo_close(s->p);
	s->p = NULL;
	/* one bit anywhere in the covered bytes: the reserved area, the uuid */
	read_at(s->path, 3000, &b, 1);
	b ^= 0x40;
	patch(s->path, 3000, &b, 1, false);
	check_err(open_rw(s, "c"), -EUCLEAN, s->path);
	b ^= 0x40;
	patch(s->path, 3000, &b, 1, false);
	read_at(s->path, H_UUID + 3, &b, 1);
	b ^= 0x01;
	patch(s->path, H_UUID + 3, &b, 1, false);
	check_err(open_rw(s, "c"), -EUCLEAN, s->path);
	/* a damaged primary is not silently replaced by the copy */
	check_err(daxo_open(s->path, "c", DAXO_RDONLY, &s->p), -EUCLEAN,
		  s->path);
}

static void test_open_unterminated_layout_euclean(void **st)
{
	struct state *s = *st;
	char l[64];

	make_pool(s, "u", DAXO_MIN_POOL_SIZE);
	memset(l, 'a', sizeof(l));
	patch(s->path, H_LAYOUT, l, sizeof(l), true);
	check_err(open_rw(s, NULL), -EUCLEAN, s->path);
	check_offset(H_LAYOUT);
}

static void test_open_newer_major_eprotonosupport(void **st)
{
	struct state *s = *st;

	make_pool(s, "n", DAXO_MIN_POOL_SIZE);
	patch_u32(s->path, H_MAJOR, 2, true);
	check_err(open_rw(s, "n"), -EPROTONOSUPPORT, s->path);
	check_offset(H_MAJOR);
	check_err(daxo_open(s->path, "n", DAXO_RDONLY, &s->p), -EPROTONOSUPPORT,
		  s->path);
	/* a newer format may checksum differently: refused the same way */
	patch_u64(s->path, H_CSUM, 0, false);
	check_err(open_rw(s, "n"), -EPROTONOSUPPORT, s->path);
}

static void test_open_newer_minor_opens(void **st)
{
	struct state *s = *st;
	struct daxo_info in;

	make_pool(s, "n", DAXO_MIN_POOL_SIZE);
	patch_u32(s->path, H_MINOR, 7, true);
	assert_int_equal(open_rw(s, "n"), 0);
	assert_int_equal(daxo_pool_info(s->p, &in), 0);
	assert_int_equal(in.major, 1);
	assert_int_equal(in.minor, 7);
}

static void test_open_unknown_incompat_feature_eprotonosupport(void **st)
{
	struct state *s = *st;

	make_pool(s, "f", DAXO_MIN_POOL_SIZE);
	patch_u64(s->path, H_INCOMPAT, 1ull << 37, true);
	check_err(open_rw(s, "f"), -EPROTONOSUPPORT, s->path);
	check_offset(H_INCOMPAT);
	check_err(daxo_open(s->path, "f", DAXO_RDONLY, &s->p), -EPROTONOSUPPORT,
		  s->path);
}

static void test_open_unknown_ro_compat_feature_read_only(void **st)
{
	struct state *s = *st;

	make_pool(s, "f", DAXO_MIN_POOL_SIZE);
	patch_u64(s->path, H_RO_COMPAT, 1ull << 9, true);
	check_err(open_rw(s, "f"), -EPROTONOSUPPORT, s->path);
	check_offset(H_RO_COMPAT);
	assert_int_equal(daxo_open(s->path, "f", DAXO_RDONLY, &s->p), 0);
}

static void test_open_unknown_compat_feature_opens(void **st)
{
	struct state *s = *st;
	struct daxo_info in;

	make_pool(s, "f", DAXO_MIN_POOL_SIZE);
	patch_u64(s->path, H_COMPAT, 1ull << 5, true);
	assert_int_equal(open_rw(s, "f"), 0);
	assert_int_equal(daxo_pool_info(s->p, &in), 0);
	assert_int_equal(in.compat, 1ull << 5);
}

static void test_open_directory_eisdir(void **st)
{
	struct state *s = *st;

	snprintf(s->dir, sizeof(s->dir), "%s.d", s->path);
	assert_int_equal(mkdir(s->dir, 0755), 0);
	check_err(daxo_open(s->dir, NULL, 0, &s->p), -EISDIR, s->dir);
	check_err(daxo_open(s->dir, NULL, DAXO_RDONLY, &s->p), -EISDIR, s->dir);
	assert_null(s->p);
}

static void test_open_not_a_file_einval(void **st)
{
	struct state *s = *st;

	/* a character device that is not device DAX */
	check_err(daxo_open("/dev/null", NULL, 0, &s->p), -EINVAL, "/dev/null");
	assert_null(s->p);
}

static void test_open_missing_file_enoent(void **st)
{
	struct state *s = *st;

	check_err(open_rw(s, NULL), -ENOENT, s->path);
	check_err(daxo_open(s->path, NULL, DAXO_RDONLY, &s->p), -ENOENT,
		  s->path);
	assert_null(s->p);
}

static void test_create_in_missing_directory_enoent(void **st)
{
	struct state *s = *st;
	char p[200];

	snprintf(p, sizeof(p), "%s.nodir/pool", s->path);
	check_err(daxo_create(p, NULL, DAXO_MIN_POOL_SIZE, 0644, &s->p),
		  -ENOENT, p);
}

static void test_create_over_existing_file_eexist(void **st)
{
	struct state *s = *st;
	char buf[6] = {0};

	int fd = open(s->path, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hello", 5), 5);
	close(fd);
	check_err(daxo_create(s->path, "e", DAXO_MIN_POOL_SIZE, 0644, &s->p),
		  -EEXIST, s->path);
	assert_null(s->p);
	read_at(s->path, 0, buf, 5);
	assert_string_equal(buf, "hello"); /* untouched */

	/* over an existing pool too */
	unlink(s->path);
	make_pool(s, "e", DAXO_MIN_POOL_SIZE);
	check_err(daxo_create(s->path, "e", DAXO_MIN_POOL_SIZE, 0644, &s->p),
		  -EEXIST, s->path);
	assert_int_equal(open_rw(s, "e"), 0);
}

static void test_create_over_directory_fails(void **st)
{
	struct state *s = *st;
	int ret;

	snprintf(s->dir, sizeof(s->dir), "%s.d", s->path);
	assert_int_equal(mkdir(s->dir, 0755), 0);
	ret = daxo_create(s->dir, NULL, DAXO_MIN_POOL_SIZE, 0644, &s->p);
	/* O_CREAT|O_EXCL on a directory fails with EEXIST; both say why */
	assert_true(ret == -EEXIST || ret == -EISDIR);
	check_err(ret, ret, s->dir);
	struct stat sb;
	assert_int_equal(stat(s->dir, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
}

static void test_create_size_out_of_range_einval(void **st)
{
	struct state *s = *st;

	check_err(
	    daxo_create(s->path, "s", DAXO_MIN_POOL_SIZE - 1, 0644, &s->p),
	    -EINVAL, s->path);
	assert_int_equal(access(s->path, F_OK), -1); /* no file left */
	check_err(daxo_create(s->path, "s", 4 * MiB, 0644, &s->p), -EINVAL,
		  s->path);
	check_err(daxo_create(s->path, "s", 0, 0644, &s->p), -EINVAL, s->path);
	check_err(
	    daxo_create(s->path, "s", DAXO_MAX_POOL_SIZE + 1, 0644, &s->p),
	    -EINVAL, s->path);
	check_err(daxo_create(s->path, "s", UINT64_MAX, 0644, &s->p), -EINVAL,
		  s->path);
	assert_int_equal(access(s->path, F_OK), -1);
	assert_null(s->p);
	/* exactly the minimum works */
	assert_int_equal(
	    daxo_create(s->path, "s", DAXO_MIN_POOL_SIZE, 0644, &s->p), 0);
}

static void test_null_arguments_einval(void **st)
{
	struct state *s = *st;
	daxo_pool *p;

	check_err(daxo_create(NULL, "x", DAXO_MIN_POOL_SIZE, 0644, &p), -EINVAL,
		  NULL);
	check_err(daxo_create(s->path, "x", DAXO_MIN_POOL_SIZE, 0644, NULL),
		  -EINVAL, NULL);
	assert_int_equal(access(s->path, F_OK), -1);
	check_err(daxo_open(NULL, "x", 0, &p), -EINVAL, NULL);
	make_pool(s, "x", DAXO_MIN_POOL_SIZE);
	check_err(daxo_open(s->path, "x", 0, NULL), -EINVAL, NULL);
	check_err(daxo_open(s->path, "x", 0x80, &s->p), -EINVAL, NULL);
	assert_null(s->p);
}

static void test_second_opener_same_process_ebusy(void **st)
{
	struct state *s = *st;
	daxo_pool *p2 = NULL;
	char pid[32];

	make_pool(s, "b", DAXO_MIN_POOL_SIZE);
	assert_int_equal(open_rw(s, "b"), 0);
	check_err(daxo_open(s->path, "b", 0, &p2), -EBUSY, s->path);
	assert_null(p2);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	if (!strstr(daxo_errormsg(), pid))
		print_error("message does not name pid %s: %s\n", pid,
			    daxo_errormsg());
	assert_non_null(strstr(daxo_errormsg(), pid));
	/* the first handle still works, and the lock goes with it */
	assert_int_equal(daxo_close(s->p), 0);
	s->p = NULL;
	assert_int_equal(daxo_open(s->path, "b", 0, &p2), 0);
	daxo_close(p2);
}

/*
 * child_try_open -- in a child: open @path read-write, expect -EBUSY and a
 * message naming @holder. Exit codes say what went wrong.
 */
static void child_try_open(const char *path, pid_t holder)
{
	daxo_pool *p = NULL;
	char pid[32];
	int ret = daxo_open(path, "b", 0, &p);

	snprintf(pid, sizeof(pid), "%d", (int)holder);
	fprintf(stderr, "child: daxo_open = %d: %s\n", ret, daxo_errormsg());
	if (ret != -EBUSY)
		_exit(10);
	if (!strstr(daxo_errormsg(), path))
		_exit(11);
	if (!strstr(daxo_errormsg(), pid))
		_exit(12);
	_exit(0);
}

static void test_second_opener_other_process_ebusy(void **st)
{
	struct state *s = *st;
	int status, go[2], done[2];
	pid_t child;
	char c = 0;

	make_pool(s, "b", DAXO_MIN_POOL_SIZE);

	/* parent holds, a forked child tries */
	assert_int_equal(open_rw(s, "b"), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0)
		child_try_open(s->path, getppid());
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(daxo_close(s->p), 0);
	s->p = NULL;

	/* a child holds, the parent tries */
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(done), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		daxo_pool *p;
		if (daxo_open(s->path, "b", 0, &p) != 0)
			_exit(20);
		if (write(go[1], "r", 1) != 1)
			_exit(21);
		if (read(done[0], &c, 1) != 1)
			_exit(22);
		daxo_close(p);
		_exit(0);
	}
	close(go[1]);
	close(done[0]);
	assert_int_equal(read(go[0], &c, 1), 1);
	int ret = daxo_open(s->path, "b", 0, &s->p);
	char pid[32];
	snprintf(pid, sizeof(pid), "%d", (int)child);
	char msg[1024];
	snprintf(msg, sizeof(msg), "%s", daxo_errormsg());
	assert_int_equal(write(done[1], "d", 1), 1);
	close(done[1]);
	close(go[0]);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	check_err(ret, -EBUSY, s->path);
	if (!strstr(msg, pid))
		print_error("message does not name pid %s: %s\n", pid, msg);
	assert_non_null(strstr(msg, pid));

	/* the child is gone: the pool opens again */
	assert_int_equal(open_rw(s, "b"), 0);
}

/*
 * fork_child_calls -- in a child of fork() holding its parent's handle @p
 * and the parent's open transaction @tx: every call that would write the
 * pool or read the keyed store is refused with -EBADFD, and daxo_close
 * frees the child's copy only. Exits with the number of the first check
 * that failed (0: all held).
 */
static void fork_child_calls(daxo_pool *p, daxo_tx *tx, daxo_oid obj)
{
	daxo_tx *t2 = NULL;
	daxo_oid o = 0;
	char buf[16];
	size_t vlen;
	uint64_t v = 99;

	if (daxo_put(p, "k", 1, "child", 5) != -EBADFD)
		_exit(1);
	if (!strstr(daxo_errormsg(), "fork"))
		_exit(2);
	if (daxo_get(p, "k", 1, buf, sizeof(buf), &vlen) != -EBADFD)
		_exit(3);
	if (daxo_del(p, "k", 1) != -EBADFD)
		_exit(4);
	if (daxo_alloc(p, 64, 1, &o) != -EBADFD || o != 0)
		_exit(5);
	if (daxo_free(p, &obj) != -EBADFD)
		_exit(6);
	if (daxo_tx_begin(p, &t2) != -EBADFD)
		_exit(7);
	/* the parent's transaction, open in this thread at the fork */
	if (daxo_tx_write(tx, daxo_direct(p, obj), &v, sizeof(v)) != -EBADFD)
		_exit(8);
	if (daxo_tx_commit(tx) != -EBADFD)
		_exit(9);
	daxo_tx_abort(tx); /* nothing: not the child's */
	if (daxo_pool_persist(p, daxo_direct(p, obj), 8) != -EBADFD)
		_exit(10);
	if (daxo_pool_drain(p) != -EBADFD)
		_exit(11);
	if (daxo_close(p) != 0)
		_exit(12);
	_exit(0);
}

static void test_child_of_fork_is_refused(void **st)
{
	struct state *s = *st;
	daxo_oid obj;
	daxo_tx *tx;
	uint64_t v = 7, *w;
	char buf[16];
	size_t vlen;
	int status;
	pid_t child;

	make_pool(s, "f", DAXO_MIN_POOL_SIZE);
	assert_int_equal(open_rw(s, "f"), 0);
	assert_int_equal(daxo_put(s->p, "k", 1, "parent", 6), 0);
	assert_int_equal(daxo_alloc(s->p, 64, 1, &obj), 0);
	w = daxo_direct(s->p, obj);
	*w = 1;
	daxo_persist(s->p, w, 8);
	/* a transaction open across the fork, a range logged */
	assert_int_equal(daxo_tx_begin(s->p, &tx), 0);
	assert_int_equal(daxo_tx_add_range(tx, w, 8), 0);
	*w = 5;

	child = fork();
	assert_true(child >= 0);
	if (child == 0)
		fork_child_calls(s->p, tx, obj);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	/* the parent's transaction and store are as they were */
	assert_int_equal(*w, 5);
	assert_int_equal(daxo_tx_write(tx, w, &v, sizeof(v)), 0);
	assert_int_equal(daxo_tx_commit(tx), 0);
	assert_int_equal(daxo_close(s->p), 0);
	s->p = NULL;
	assert_int_equal(open_rw(s, "f"), 0);
	w = daxo_direct(s->p, obj);
	assert_int_equal(*w, 7);
	assert_int_equal(daxo_get(s->p, "k", 1, buf, sizeof(buf), &vlen), 0);
	assert_int_equal(vlen, 6);
	assert_memory_equal(buf, "parent", 6);
	assert_int_equal(daxo_close(s->p), 0);
	s->p = NULL;

	/* a read-only handle's view is the child's own copy: it may read */
	assert_int_equal(daxo_open(s->path, "f", DAXO_RDONLY, &s->p), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		if (daxo_get(s->p, "k", 1, buf, sizeof(buf), &vlen) != 0 ||
		    vlen != 6)
			_exit(1);
		_exit(daxo_close(s->p) == 0 ? 0 : 2);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* kv_value -- the value of @key in @p, as a string ("" if none) */
static const char *kv_value(daxo_pool *p, const char *key)
{
	static char buf[32];
	size_t n = 0;

	if (daxo_get(p, key, strlen(key), buf, sizeof(buf) - 1, &n) != 0)
		n = 0;
	buf[n] = '\0';
	return buf;
}

/*
 * A pool file renamed over while daxo_open opens it: the handle maps the
 * file it opened, locked and read the header of -- never the newcomer,
 * which another handle holds.
 */
static void test_open_maps_the_file_it_locked(void **st)
{
	struct state *s = *st;
	char other[160];
	daxo_pool *py = NULL, *p2 = NULL;
	int ret;

	snprintf(other, sizeof(other), "%s.y", s->path);
	unlink(other);
	make_pool(s, "b", DAXO_MIN_POOL_SIZE);
	assert_int_equal(open_rw(s, "b"), 0);
	assert_int_equal(daxo_put(s->p, "who", 3, "X", 1), 0);
	assert_int_equal(daxo_close(s->p), 0);
	s->p = NULL;
	assert_int_equal(daxo_create(other, "b", DAXO_MIN_POOL_SIZE, 0600, &py),
			 0);
	assert_int_equal(daxo_put(py, "who", 3, "Y", 1), 0);

	swap_from = other;
	swap_to = s->path;
	ret = open_rw(s, "b");
	assert_null(swap_from); /* the swap happened */
	if (ret == 0) {
		/* the file it locked: X, now unlinked, not Y */
		assert_string_equal(kv_value(s->p, "who"), "X");
		assert_int_equal(daxo_put(s->p, "who", 3, "Z", 1), 0);
	} else {
		check_err(ret, -EBUSY, s->path);
	}
	/* Y is py's alone, and as py left it */
	assert_string_equal(kv_value(py, "who"), "Y");
	check_err(daxo_open(s->path, "b", 0, &p2), -EBUSY, s->path);
	assert_int_equal(daxo_close(py), 0);
	assert_int_equal(daxo_open(s->path, "b", 0, &p2), 0);
	assert_string_equal(kv_value(p2, "who"), "Y");
	assert_int_equal(daxo_close(p2), 0);
}

/*
 * A daxo_create that fails removes the file it made -- not a pool renamed
 * over the path meanwhile.
 */
static void test_failed_create_leaves_others_file(void **st)
{
	struct state *s = *st;
	char other[160];
	daxo_pool *py = NULL;

	snprintf(other, sizeof(other), "%s.y", s->path);
	unlink(other);
	assert_int_equal(daxo_create(other, "b", DAXO_MIN_POOL_SIZE, 0600, &py),
			 0);
	assert_int_equal(daxo_put(py, "who", 3, "Y", 1), 0);
	assert_int_equal(daxo_close(py), 0);

	swap_from = other;
	swap_to = s->path;
	swap_fail = true;
	check_err(daxo_create(s->path, "b", DAXO_MIN_POOL_SIZE, 0600, &s->p),
		  -ENOMEM, s->path);
	assert_null(swap_from);
	assert_null(s->p);
	/* the pool renamed there is still there, whole */
	assert_int_equal(open_rw(s, "b"), 0);
	assert_string_equal(kv_value(s->p, "who"), "Y");
}

/* swap_on_recovery -- daxo_check's callback: once repair's log recovery
 * has run, rename swap_from over swap_to */
static void swap_on_recovery(int sev, uint64_t off, const char *msg,
			     void *arg)
{
	(void)sev;
	(void)off;
	(void)arg;
	if (swap_from && strstr(msg, "log recovery ran")) {
		assert_int_equal(rename(swap_from, swap_to), 0);
		swap_from = NULL;
	}
}

/*
 * A repair writes its fixes into the file it checked: a pool renamed over
 * the path meanwhile (here: between the repair's log recovery and its heap
 * fixes) is left as it was.
 */
static void test_repair_writes_only_the_file_it_checked(void **st)
{
	struct state *s = *st;
	char other[160];
	daxo_pool *py = NULL;
	daxo_oid root, *dst;
	const uint64_t zero = 0;
	uint64_t ent, xent;
	unsigned char *ybefore;
	size_t len;
	int ret;

	/* X: a log to recover, and a damaged entry of a free chunk (16) */
	make_pool(s, "rec", DAXO_MIN_POOL_SIZE);
	run_crash_in_tx(s->path, "rec");
	ent = get_u64(s->path, H_HEAP_OFF) + 8 * 16;
	xent = get_u64(s->path, ent);
	write_at(s->path, ent, &zero, 8);
	assert_int_equal(daxo_check(s->path, 0, NULL, NULL), 1);

	/* Y: an object whose head is that chunk, an entry unlike X's */
	snprintf(other, sizeof(other), "%s.y", s->path);
	unlink(other);
	assert_int_equal(daxo_create(other, "rec", DAXO_MIN_POOL_SIZE, 0600, &py),
			 0);
	assert_int_equal(daxo_root(py, 64, &root), 0);
	dst = daxo_direct(py, root);
	assert_int_equal(daxo_alloc(py, 4608ull << 10, 1, dst), 0);
	assert_int_equal(daxo_close(py), 0);
	assert_int_equal(daxo_check(other, 0, NULL, NULL), 0);
	assert_true(get_u64(other, ent) != xent);
	ybefore = file_image(other, &len);

	swap_from = other;
	swap_to = s->path;
	ret = daxo_check(s->path, DAXO_CHECK_REPAIR, swap_on_recovery, NULL);
	assert_null(swap_from); /* the swap happened */
	check_err(ret, -EAGAIN, s->path);
	assert_file_is(s->path, ybefore, len);
	assert_int_equal(daxo_check(s->path, 0, NULL, NULL), 0);
}

/* open_during_repair -- daxo_check's callback: open the pool being
 * repaired (its path in *arg) read-write at every report; count the opens
 * that succeed, and write through them what a program would */
static unsigned opened_during_repair;

static void open_during_repair(int sev, uint64_t off, const char *msg,
			       void *arg)
{
	daxo_pool *p;
	daxo_oid root;

	(void)sev;
	(void)off;
	(void)msg;
	if (daxo_open(arg, NULL, 0, &p) != 0)
		return;
	opened_during_repair++;
	if (daxo_root(p, 64, &root) == 0)
		(void)daxo_alloc(p, 4608ull << 10, 1, daxo_direct(p, root));
	daxo_close(p);
}

/*
 * A repair holds the pool's lock from before its pass to its end: no
 * program opens the pool between the pass and the fixes computed from it
 * (here: at each report, the one after the repair's log recovery too,
 * where the lock used to be let go and taken again).
 */
static void test_repair_holds_the_lock_throughout(void **st)
{
	struct state *s = *st;
	const uint64_t zero = 0;
	uint64_t ent;

	/* a log to recover, and a damaged entry of a free chunk (16) */
	make_pool(s, "rec", DAXO_MIN_POOL_SIZE);
	run_crash_in_tx(s->path, "rec");
	ent = get_u64(s->path, H_HEAP_OFF) + 8 * 16;
	write_at(s->path, ent, &zero, 8);
	assert_int_equal(daxo_check(s->path, 0, NULL, NULL), 1);

	opened_during_repair = 0;
	assert_int_equal(daxo_check(s->path, DAXO_CHECK_REPAIR,
				    open_during_repair, (void *)s->path),
			 0);
	assert_int_equal(opened_during_repair, 0);
	assert_int_equal(daxo_check(s->path, 0, NULL, NULL), 0);
	/* and the lock is given back */
	assert_int_equal(open_rw(s, "rec"), 0);
	assert_int_equal(daxo_close(s->p), 0);
	s->p = NULL;
}

/*
 * An open that gets its file but no descriptor more: the device's list of
 * bad blocks cannot be read (on /dev/shm there is none, but EMFILE does
 * not say so), and an open that went on would never look for them.
 * -EMFILE, saying what could not be read. (A read-only open maps the
 * descriptor it has: it needs no other.)
 */
static void test_open_without_a_descriptor_for_badblocks(void **st)
{
	struct state *s = *st;
	struct rlimit old, rl;
	int fds[256], n = 0, top = 0, r;

	make_pool(s, "bb", DAXO_MIN_POOL_SIZE);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	/* the highest descriptor open now */
	for (int fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) != -1)
			top = fd;
	rl = old;
	rl.rlim_cur = (rlim_t)top + 64 < old.rlim_max ? (rlim_t)top + 64
						      : old.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	/* every descriptor taken, then one given back: the open's own */
	while (n < (int)ARRAY_LEN(fds) &&
	       (fds[n] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
		n++;
	assert_true(n > 0 && n < (int)ARRAY_LEN(fds));
	close(fds[--n]);
	r = daxo_open(s->path, NULL, DAXO_RDONLY, &s->p);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	if (r == 0) {
		daxo_close(s->p);
		s->p = NULL;
	}
	check_err(r, -EMFILE, s->path);
	assert_non_null(strstr(daxo_errormsg(), "bad blocks"));
}

/*
 * A zeroed pool meta page (a hole punched in it, a block of zeros): its
 * log watermark reads 0, and recovery on it would apply every logged
 * record again -- the root's allocation zeroing it over its later
 * contents. The open is refused, read-only or not, and changes nothing.
 */
static void test_open_zeroed_meta_euclean(void **st)
{
	struct state *s = *st;
	daxo_oid root;
	daxo_tx *tx;
	uint64_t *w, v;
	static unsigned char zeros[4096];
	unsigned char *before;
	size_t len;

	make_pool(s, "m", DAXO_MIN_POOL_SIZE);
	assert_int_equal(open_rw(s, "m"), 0);
	assert_int_equal(daxo_root(s->p, 64, &root), 0);
	w = daxo_direct(s->p, root);
	for (v = 1; v <= 3; v++) {
		assert_int_equal(daxo_tx_begin(s->p, &tx), 0);
		assert_int_equal(daxo_tx_write(tx, w, &v, sizeof(v)), 0);
		assert_int_equal(daxo_tx_commit(tx), 0);
	}
	assert_int_equal(daxo_close(s->p), 0);
	s->p = NULL;
	write_at(s->path, get_u64(s->path, H_META_OFF), zeros, sizeof(zeros));
	before = file_image(s->path, &len);

	check_err(open_rw(s, "m"), -EUCLEAN, s->path);
	check_offset(8192 + 16);
	assert_null(s->p);
	check_err(daxo_open(s->path, "m", DAXO_RDONLY, &s->p), -EUCLEAN,
		  s->path);
	assert_null(s->p);
	assert_file_is(s->path, before, len);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_version_matches_header),
	    T(test_create_then_open_roundtrip),
	    T(test_create_null_layout_is_empty),
	    T(test_create_rounds_size_up_to_2mib),
	    T(test_create_applies_mode),
	    T(test_info_fields_are_filled),
	    T(test_header_copy_and_checksum_on_media),
	    T(test_uuid_differs_between_pools),
	    T(test_create_leaves_rand_state_alone),
	    T(test_reopen_after_close_succeeds),
	    T(test_open_rdonly_shares_and_excludes_writers),
	    T(test_open_prefault_flag_accepted),
	    T(test_direct_and_oid_of),
	    T(test_direct_inline_head_and_call_agree),
	    T(test_persist_flush_drain_are_counted),
	    T(test_stats_reject_null),
	    T(test_errormsg_is_thread_local),
	    T(test_strerror_names_codes),
	    T(test_root_is_recorded_in_pool_meta),
	    T(test_open_recovers_interrupted_transaction),
	    T(test_close_null_is_ok),
	    T(test_open_wrong_layout_einval),
	    T(test_layout_name_too_long_einval),
	    T(test_open_truncated_euclean),
	    T(test_open_all_zero_file_euclean),
	    T(test_open_bad_magic_euclean),
	    T(test_open_bad_version_euclean),
	    T(test_open_bad_size_euclean),
	    T(test_open_bad_region_offsets_euclean),
	    T(test_open_bad_checksum_euclean),
	    T(test_open_unterminated_layout_euclean),
	    T(test_open_newer_major_eprotonosupport),
	    T(test_open_newer_minor_opens),
	    T(test_open_unknown_incompat_feature_eprotonosupport),
	    T(test_open_unknown_ro_compat_feature_read_only),
	    T(test_open_unknown_compat_feature_opens),
	    T(test_open_directory_eisdir),
	    T(test_open_not_a_file_einval),
	    T(test_open_missing_file_enoent),
	    T(test_create_in_missing_directory_enoent),
	    T(test_create_over_existing_file_eexist),
	    T(test_create_over_directory_fails),
	    T(test_create_size_out_of_range_einval),
	    T(test_null_arguments_einval),
	    T(test_second_opener_same_process_ebusy),
	    T(test_second_opener_other_process_ebusy),
	    T(test_child_of_fork_is_refused),
	    T(test_open_maps_the_file_it_locked),
	    T(test_failed_create_leaves_others_file),
	    T(test_repair_writes_only_the_file_it_checked),
	    T(test_repair_holds_the_lock_throughout),
	    T(test_open_zeroed_meta_euclean),
	    T(test_open_without_a_descriptor_for_badblocks),
	};

	return cmocka_run_group_tests_name("pool", tests, NULL, NULL);
}
