/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_check.c -- daxo_check and repair on pools damaged in known ways.
 *
 * A small pool (root object in a run, a large object, a small object, a
 * few committed transactions) is made once; each case restores it, damages
 * known bytes, and asserts the verdict (0 consistent, 1 repairable, 2 not
 * repairable, negative: not a pool), a message naming the damage, and for
 * repairable damage that DAXO_CHECK_REPAIR makes the pool consistent again
 * and openable, while DAXO_CHECK_DRY_RUN changes no byte of the file.
 *
 * argv[1], if given, is the `daxo` tool: then its exit codes are checked too.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>
#include <cmocka.h>

#include "heap.h"
#include "kv.h"
#include "pool.h"
#include "tx.h"

#include "../unit/test_common.h"

#define POOL_SIZE (8ull << 20)

static char path[256];
static uint8_t *pristine;
static const char *tool;
static char msgs[16384];
static uint64_t root_oid, large_oid, small_oid;
static struct heap_geom geom;

static void collect(int sev, uint64_t off, const char *msg, void *arg)
{
	size_t n = strlen(msgs);

	snprintf(msgs + n, sizeof(msgs) - n, "[%d@%llu] %s\n", sev,
		 (unsigned long long)off, msg);
}

static int chk(unsigned flags)
{
	msgs[0] = '\0';
	return daxo_check(path, flags, collect, NULL);
}

static void expect_msg(const char *s)
{
	if (!strstr(msgs, s)) {
		print_error("expected \"%s\" in:\n%s", s, msgs);
		fail();
	}
}

static void put(uint64_t off, const void *b, size_t n)
{
	int fd = open(path, O_RDWR);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, b, n, (off_t)off), (ssize_t)n);
	close(fd);
}

static void get(uint64_t off, void *b, size_t n)
{
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, b, n, (off_t)off), (ssize_t)n);
	close(fd);
}

static void put64(uint64_t off, uint64_t v)
{
	put(off, &v, 8);
}

static uint64_t get64(uint64_t off)
{
	uint64_t v;

	get(off, &v, 8);
	return v;
}

static uint64_t file_hash(void)
{
	uint8_t *b = malloc(POOL_SIZE);
	uint64_t h;

	assert_non_null(b);
	get(0, b, POOL_SIZE);
	h = XXH64(b, POOL_SIZE, 0);
	free(b);
	return h;
}

static void restore(void)
{
	put(0, pristine, POOL_SIZE);
}

/* reseal -- recompute the checksum of the header at @at */
static void reseal(uint64_t at)
{
	struct pool_hdr h;

	get(at, &h, sizeof(h));
	h.csum = XXH64(&h, offsetof(struct pool_hdr, csum), 0);
	put(at, &h, sizeof(h));
}

/* opens -- can the pool be opened (recovery included)? */
static int opens(void)
{
	daxo_pool *p;
	int r = daxo_open(path, NULL, 0, &p);

	if (r == 0)
		daxo_close(p);
	return r;
}

/* repaired -- dry run changes nothing; repair makes it consistent */
static void expect_repair(void)
{
	uint64_t h = file_hash();

	assert_int_equal(chk(DAXO_CHECK_REPAIR | DAXO_CHECK_DRY_RUN), 1);
	expect_msg("would repair");
	assert_int_equal(file_hash(), h);
	assert_int_equal(chk(DAXO_CHECK_REPAIR), 0);
	assert_int_equal(chk(0), 0);
	assert_int_equal(opens(), 0);
}

/* ent_at -- pool offset of chunk @i's entry */
static uint64_t ent_at(uint64_t i)
{
	return heap_chdr_off(&geom, i);
}

/* head_of -- the chunk index of the head covering pool offset @off */
static uint64_t head_of(uint64_t off)
{
	uint64_t want = (off - geom.chunks_off) / geom.chunk_size;

	for (uint64_t i = 0; i < geom.nchunks;) {
		struct chdr d;
		assert_true(heap_chdr_decode(&geom, i, get64(ent_at(i)), &d));
		uint64_t span = d.kind == CHUNK_FREE ? 1 : d.span;
		if (want >= i && want < i + span)
			return i;
		i += span;
	}
	fail_msg("no head for %llu", (unsigned long long)off);
	return 0;
}

static int setup(void **state)
{
	daxo_pool *p;
	daxo_oid *r;
	daxo_tx *tx;
	uint64_t v = 42;

	test_path(path, sizeof(path), "daxo-check-test-%d", (int)getpid());
	unlink(path);
	assert_int_equal(daxo_create(path, "check", POOL_SIZE, 0600, &p), 0);
	assert_int_equal(daxo_root(p, 256, &root_oid), 0);
	r = daxo_direct(p, root_oid);
	assert_int_equal(daxo_alloc(p, 300 << 10, 5, &r[0]), 0);
	assert_int_equal(daxo_alloc(p, 100, 6, &r[1]), 0);
	large_oid = r[0];
	small_oid = r[1];
	assert_int_equal(daxo_tx_begin(p, &tx), 0);
	assert_int_equal(daxo_tx_write(tx, &r[2], &v, 8), 0);
	assert_int_equal(daxo_tx_commit(tx), 0);
	assert_int_equal(daxo_close(p), 0);
	pristine = malloc(POOL_SIZE);
	assert_non_null(pristine);
	get(0, pristine, POOL_SIZE);
	heap_geom_of((struct pool_hdr *)pristine, &geom);
	assert_true(geom.v2);
	return 0;
}

static int teardown(void **state)
{
	char bak[300];

	snprintf(bak, sizeof(bak), "%s.bak", path);
	unlink(bak);
	unlink(path);
	free(pristine);
	return 0;
}

static int before(void **state)
{
	restore();
	return 0;
}

static void test_pristine_pool_is_consistent(void **state)
{
	assert_int_equal(chk(0), 0);
	assert_int_equal(chk(DAXO_CHECK_VERBOSE), 0);
	expect_msg("root object");
	expect_msg("large object");
	assert_int_equal(chk(DAXO_CHECK_REPAIR), 0);
	assert_int_equal(file_hash(), XXH64(pristine, POOL_SIZE, 0));
}

/* each header field, damaged in the primary header only */
static void test_header_field_damage_is_repaired_from_copy(void **state)
{
	static const struct {
		uint64_t off;
		bool reseal;
		const char *msg;
	} f[] = {
	    {0, false, "bad magic"},
	    {8, false, "newer"},	      /* major */
	    {12, false, "checksum mismatch"}, /* minor */
	    {16, true, "unknown incompatible"},
	    {40, false, "checksum mismatch"}, /* uuid */
	    {56, false, "checksum mismatch"}, /* layout */
	    {120, true, "truncated"},	      /* size */
	    {128, true, "header copy offset"},
	    {136, true, "meta offset"},
	    {152, true, "lanes offset"},
	    {160, true, "lane count"},
	    {164, true, "lane size"},
	    {168, true, "heap offset"},
	    {176, true, "heap size"},
	    {184, true, "chunk size"},
	    {192, false, "checksum mismatch"}, /* ctime */
	    {4088, false, "checksum mismatch"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(f); i++) {
		restore();
		put64(f[i].off, get64(f[i].off) ^ 0x1000);
		if (f[i].reseal)
			reseal(0);
		assert_int_equal(chk(0), 1);
		expect_msg("primary header damaged");
		expect_msg(f[i].msg);
		assert_int_not_equal(opens(), 0);
		expect_repair();
		assert_int_equal(file_hash(), XXH64(pristine, POOL_SIZE, 0));
	}
}

static void test_header_copy_damage_is_repaired(void **state)
{
	put64(POOL_HDR_COPY_OFF + 168, 12345);
	assert_int_equal(chk(0), 1);
	expect_msg("header copy damaged");
	expect_repair();
	assert_int_equal(file_hash(), XXH64(pristine, POOL_SIZE, 0));
}

static void test_both_headers_damaged_is_not_repairable(void **state)
{
	uint64_t h;

	put64(120, 1);
	put64(POOL_HDR_COPY_OFF + 4088, 7);
	h = file_hash();
	assert_int_equal(chk(0), 2);
	expect_msg("both damaged");
	assert_int_equal(chk(DAXO_CHECK_REPAIR), 2);
	expect_msg("nothing was changed");
	assert_int_equal(file_hash(), h);
}

static void test_not_a_pool_is_refused(void **state)
{
	uint8_t z[8192];

	memset(z, 0, sizeof(z));
	put(0, z, sizeof(z));
	assert_int_equal(chk(0), -EUCLEAN);
	assert_non_null(strstr(daxo_errormsg(), "not a daxo pool"));
	assert_int_equal(daxo_check("/nonexistent/daxo", 0, NULL, NULL),
			 -ENOENT);
	assert_int_equal(daxo_check(test_dir(), 0, NULL, NULL), -EISDIR);
	assert_int_equal(daxo_check(path, 0x80, NULL, NULL), -EINVAL);
}

static void test_truncated_pool_is_not_repairable(void **state)
{
	assert_int_equal(truncate(path, POOL_SIZE / 2), 0);
	assert_int_equal(chk(0), 2);
	expect_msg("truncated");
	assert_int_equal(truncate(path, POOL_SIZE), 0);
}

static void test_newer_major_version_is_refused(void **state)
{
	put64(8, ((uint64_t)0 << 32) | 7); /* major 7, minor 0 */
	reseal(0);
	put64(POOL_HDR_COPY_OFF + 8, 7);
	reseal(POOL_HDR_COPY_OFF);
	assert_int_equal(chk(0), -EPROTONOSUPPORT);
}

/* the record with entries and the highest seq; its slot offset */
static uint64_t find_record(struct redo_hdr *out)
{
	struct pool_hdr *ph = (struct pool_hdr *)pristine;
	uint64_t best = 0;
	struct redo_hdr h;

	out->seq = 0;
	for (uint32_t l = 0; l < ph->nlanes; l++)
		for (unsigned s = 0; s < pool_lane_slots(ph); s++) {
			uint64_t at = ph->lanes_off +
				      (uint64_t)l * ph->lane_size +
				      s * TX_SLOT_SIZE;
			get(at, &h, sizeof(h));
			if ((h.magic & 0xffffffffffffull) == REDO_MAGIC &&
			    h.nbytes > 0 && h.seq > out->seq) {
				*out = h;
				best = at;
			}
		}
	if (!best)
		fail_msg("no redo record in the pool");
	return best;
}

static void test_unapplied_record_is_replayed_by_repair(void **state)
{
	struct redo_hdr h;
	uint64_t at = find_record(&h);

	(void)at;
	/* the watermark below it, as after a crash before it was applied */
	assert_true(h.w < h.seq);
	put64(POOL_META_OFF + 24, h.seq - 1);
	assert_int_equal(chk(0), 1);
	expect_msg("recovery will replay it");
	expect_repair();
	assert_true(get64(POOL_META_OFF + 24) >= h.seq);
}

static void test_damaged_log_checksum_is_reported(void **state)
{
	struct redo_hdr h;
	uint64_t at = find_record(&h);

	/* stream damaged: the record is no longer valid; it was applied */
	put64(at + sizeof(h), get64(at + sizeof(h)) ^ 1);
	assert_int_equal(chk(0), 0);
	expect_msg("stream checksum mismatch");
	/* header damaged */
	restore();
	put64(at + 8, h.seq + 100);
	assert_int_equal(chk(0), 0);
	expect_msg("no valid record header");
}

static void test_valid_record_with_bad_target_is_fatal(void **state)
{
	struct redo_hdr h;
	uint64_t at = find_record(&h), w[2];

	/* aim the first entry at the header, and make the checksums agree */
	get(at + sizeof(h), w, sizeof(w));
	w[0] = (w[0] & ~REDO_OFF_MASK) | 64;
	put(at + sizeof(h), w, sizeof(w));
	uint8_t *s = malloc(h.nbytes);
	get(at + sizeof(h), s, h.nbytes);
	h.scsum = XXH64(s, h.nbytes, 0);
	free(s);
	h.hcsum = XXH64(&h.seq, sizeof(h) - 8, 0);
	put(at, &h, sizeof(h));
	assert_int_equal(chk(0), 2);
	expect_msg("aimed outside the meta and the heap");
}

/* put_undo -- an undo entry (or a jump, len UNDO_JUMP) at @at */
static void put_undo(uint64_t at, uint64_t gen, uint64_t off, uint64_t len,
		     const void *data)
{
	struct undo_ent e = {0, gen, off, len};
	XXH64_state_t st;

	XXH64_reset(&st, 0);
	XXH64_update(&st, &e.gen, 24);
	if (len != UNDO_JUMP)
		XXH64_update(&st, data, len);
	e.csum = XXH64_digest(&st);
	put(at, &e, sizeof(e));
	if (len != UNDO_JUMP)
		put(at + sizeof(e), data, len);
}

static void test_unfinished_undo_log_with_jump_cycle(void **state)
{
	struct pool_hdr *ph = (struct pool_hdr *)pristine;
	uint64_t area = ph->lanes_off + 5ull * ph->lane_size +
			pool_lane_slots(ph) * TX_SLOT_SIZE;
	uint64_t blk = heap_chunk_off(&geom, geom.nchunks) - HEAP_CHUNK_SIZE;
	struct log_ext x = {0, 4096, {0}};
	uint64_t old = 0x5eed;

	/* lane 5: one entry, then a jump to a block that jumps to itself */
	put_undo(area + UNDO_HDR_SIZE, 1, root_oid + 128, 8, &old);
	put_undo(area + UNDO_HDR_SIZE + 40, 1, blk + 64, UNDO_JUMP, NULL);
	put(blk, &x, sizeof(x));
	put_undo(blk + 64, 1, blk + 64, UNDO_JUMP, NULL);
	put64(root_oid + 128, 0xdead);
	assert_int_equal(chk(0), 1);
	expect_msg("undo log of generation 1 (1 entries)");
	expect_repair();
	/* rolled back */
	assert_int_equal(get64(root_oid + 128), 0x5eed);
}

static void test_bitmap_bit_beyond_nslots_is_cleared(void **state)
{
	uint64_t i = head_of(root_oid);
	struct run_geom rg;
	struct chdr d;
	uint64_t w;

	assert_true(heap_chdr_decode(&geom, i, get64(ent_at(i)), &d));
	heap_run_geom(&geom, d.arg, &rg);
	assert_true(rg.nslots % 64 != 0 || rg.bitmap_words > rg.nslots / 64);
	w = heap_chunk_off(&geom, i) + heap_bm_off(&rg, rg.bitmap_words - 1);
	/* the word and its complement agree: only the tail is wrong */
	put64(w, get64(w) | (1ull << 63));
	put64(w + 8, get64(w + 8) & ~(1ull << 63));
	assert_int_equal(chk(0), 1);
	expect_msg("bits set beyond the last slot");
	expect_repair();
	assert_int_equal(file_hash(), XXH64(pristine, POOL_SIZE, 0));
}

static void test_covered_chunk_header_is_reset(void **state)
{
	uint64_t i = head_of(large_oid);
	struct chdr d;

	assert_true(heap_chdr_decode(&geom, i, get64(ent_at(i)), &d));
	assert_int_equal(d.span, (300 << 10) / geom.chunk_size);
	/* a well-formed head inside the object (past its type entry) */
	put64(ent_at(i + 2), heap_head_ent(&geom, i + 2, CHUNK_LARGE, 2, 0));
	assert_int_equal(chk(0), 1);
	expect_msg("overlap");
	expect_repair();
	assert_int_equal(file_hash(), XXH64(pristine, POOL_SIZE, 0));
}

static void test_free_header_with_stray_bits_is_cleared(void **state)
{
	uint64_t last = geom.nchunks - 1;

	assert_int_equal(get64(ent_at(last)), heap_free_ent(&geom, last));
	put64(ent_at(last), heap_free_ent(&geom, last) ^ 0xabc0);
	assert_int_equal(chk(0), 1);
	expect_msg("its check or fields do not hold");
	expect_msg("holds no live object");
	expect_repair();
}

static void test_bad_chunk_kind_on_empty_chunk_is_repairable(void **state)
{
	uint64_t last = geom.nchunks - 1;

	put64(ent_at(last), chdr2_make(CHUNK_TYPE, 0, 7, last));
	assert_int_equal(chk(0), 1);
	expect_msg("a type entry where a head or a free chunk belongs");
	expect_msg("holds no live object");
	expect_repair();
}

static void test_bad_chunk_kind_on_object_is_not_repairable(void **state)
{
	uint64_t i = head_of(large_oid), h = get64(ent_at(i));

	put64(large_oid, 0x1234); /* the object holds data */
	put64(ent_at(i), h | 3);
	assert_int_equal(chk(0), 2);
	expect_msg("cannot be told");
	assert_int_equal(chk(DAXO_CHECK_REPAIR), 2);
}

static void test_large_span_outside_heap_is_not_repairable(void **state)
{
	uint64_t i = head_of(large_oid);

	put64(large_oid, 0x1234);
	put64(ent_at(i),
	      heap_head_ent(&geom, i, CHUNK_LARGE, geom.nchunks + 5, 0));
	assert_int_equal(chk(0), 2);
	expect_msg("span outside the heap");
}

static void test_root_in_run_marked_free_is_fatal(void **state)
{
	uint64_t i = head_of(root_oid);

	put64(ent_at(i), heap_free_ent(&geom, i));
	assert_int_equal(chk(0), 2);
	expect_msg("root object");
	expect_msg("is not a live object");
}

static void test_root_size_without_root_is_repaired(void **state)
{
	put64(POOL_META_OFF, 0);
	assert_int_equal(chk(0), 1);
	expect_msg("no root object but a root size");
	expect_repair();
}

static void test_root_pointing_nowhere_is_fatal(void **state)
{
	put64(POOL_META_OFF, root_oid + 8);
	assert_int_equal(chk(0), 2);
	expect_msg("is not a live object");
	put64(POOL_META_OFF, POOL_SIZE * 4);
	assert_int_equal(chk(0), 2);
	restore();
	/* the keyed store's root: a well-formed link (format 1.3) to a place
	 * that is no object, then a word whose check does not match */
	put64(POOL_META_OFF + 16,
	      kv_link(kv_fmt_of(((struct pool_hdr *)pristine)->incompat),
		      small_oid + 1, POOL_META_OFF + 16));
	assert_int_equal(chk(0), 2);
	expect_msg("keyed store anchor");
	put64(POOL_META_OFF + 16, small_oid);
	assert_int_equal(chk(0), 2);
	expect_msg("keyed store root word damaged");
}

static void test_object_types_are_checked(void **state)
{
	/* the root's allocation is now an orphan; small_oid is no root type */
	put64(POOL_META_OFF, small_oid);
	put64(POOL_META_OFF + 8, 64);
	assert_int_equal(chk(0), 0);
	expect_msg("has the root object's type but is not the root");
	expect_msg("the root object has type 6");
}

static void test_repair_of_open_pool_is_refused(void **state)
{
	daxo_pool *p;

	put64(POOL_HDR_COPY_OFF + 168, 1);
	assert_int_equal(daxo_open(path, NULL, 0, &p), 0);
	/* checking takes no lock; repairing needs the pool closed */
	assert_int_equal(chk(0), 1);
	assert_int_equal(chk(DAXO_CHECK_REPAIR), -EBUSY);
	daxo_close(p);
	assert_int_equal(chk(DAXO_CHECK_REPAIR), 0);
}

/* run the tool: its exit code */
static int run_tool(const char *a1, const char *a2, const char *a3)
{
	char cmd[1024];
	int st;

	snprintf(cmd, sizeof(cmd), "'%s' %s %s '%s' %s >/dev/null 2>&1", tool,
		 a1, a2, path, a3);
	st = system(cmd);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/*
 * A check takes no lock; of a pool open read-write it says so first, with
 * the process, and `daxo check` exits 4: the verdict is of a changing
 * image. A pool open read-only is no such case.
 */
static void test_check_of_open_pool_warns(void **state)
{
	char want[128], dir[300];
	daxo_pool *p;
	pid_t pid = 42;

	(void)state;
	snprintf(want, sizeof(want),
		 "[0@0] the pool is open read-write by process %d (this "
		 "process)",
		 (int)getpid());
	assert_int_equal(daxo_pool_writer(path, &pid), 0);
	assert_int_equal(pid, 0);
	assert_int_equal(chk(0), 0);
	assert_null(strstr(msgs, "open read-write"));

	assert_int_equal(daxo_open(path, NULL, DAXO_RDONLY, &p), 0);
	assert_int_equal(daxo_pool_writer(path, &pid), 0);
	assert_int_equal(chk(0), 0);
	assert_null(strstr(msgs, "open read-write"));
	if (tool)
		assert_int_equal(run_tool("check", "", ""), 0);
	daxo_close(p);

	assert_int_equal(daxo_open(path, NULL, 0, &p), 0);
	assert_int_equal(daxo_pool_writer(path, &pid), 1);
	assert_int_equal(pid, getpid());
	assert_int_equal(daxo_pool_writer(path, NULL), 1);
	/* the verdict is still the image's; the warning comes first */
	assert_int_equal(chk(0), 0);
	assert_int_equal(strncmp(msgs, want, strlen(want)), 0);
	assert_int_equal(chk(DAXO_CHECK_VERBOSE), 0);
	assert_int_equal(strncmp(msgs, want, strlen(want)), 0);
	/* a dry run takes no lock either */
	assert_int_equal(chk(DAXO_CHECK_REPAIR | DAXO_CHECK_DRY_RUN), 0);
	expect_msg("open read-write by process");
	if (tool) {
		assert_int_equal(run_tool("check", "", ""), 4);
		assert_int_equal(run_tool("check", "--json", ""), 4);
	}
	daxo_close(p);
	assert_int_equal(daxo_pool_writer(path, &pid), 0);
	assert_int_equal(chk(0), 0);
	assert_null(strstr(msgs, "open read-write"));
	if (tool)
		assert_int_equal(run_tool("check", "", ""), 0);

	assert_int_equal(daxo_pool_writer(NULL, &pid), -EINVAL);
	assert_int_equal(daxo_pool_writer("", &pid), -ENOENT);
	assert_int_equal(daxo_pool_writer("/nonexistent/daxo", &pid), -ENOENT);
	assert_int_equal(daxo_pool_writer(test_dir(), &pid), -EISDIR);
	assert_int_equal(daxo_pool_writer("/dev/null", &pid), 0);
	snprintf(dir, sizeof(dir), "%s.fifo", path);
	assert_int_equal(mkfifo(dir, 0600), 0);
	assert_int_equal(daxo_pool_writer(dir, &pid), -EINVAL);
	assert_non_null(strstr(daxo_errormsg(), "not a regular file"));
	unlink(dir);
}

static void test_tool_exit_codes(void **state)
{
	char bak[300];
	uint64_t h;

	if (!tool)
		skip();
	snprintf(bak, sizeof(bak), "%s.bak", path);
	unlink(bak);
	assert_int_equal(run_tool("check", "", ""), 0);
	assert_int_equal(run_tool("check", "--json", ""), 0);
	put64(POOL_HDR_COPY_OFF + 168, 1);
	assert_int_equal(run_tool("check", "", ""), 1);
	h = file_hash();
	assert_int_equal(run_tool("repair", "--dry-run", ""), 1);
	assert_int_equal(file_hash(), h);
	assert_int_equal(run_tool("repair", "", ""), 0);
	/* the backup holds the damaged pool */
	assert_int_equal(access(bak, F_OK), 0);
	assert_int_equal(run_tool("check", "", ""), 0);
	unlink(bak);
	put64(120, 1);
	put64(POOL_HDR_COPY_OFF + 4088, 7);
	assert_int_equal(run_tool("check", "-v", ""), 2);
	assert_int_equal(run_tool("repair", "--no-backup", ""), 2);
	restore();
	put64(0, 0);
	put64(POOL_HDR_COPY_OFF, 0);
	assert_int_equal(run_tool("check", "", ""), 3);
	assert_int_equal(run_tool("check", "--bogus", ""), 2);
}

int main(int argc, char **argv)
{
#define T(f) cmocka_unit_test_setup(f, before)
	const struct CMUnitTest tests[] = {
	    T(test_pristine_pool_is_consistent),
	    T(test_header_field_damage_is_repaired_from_copy),
	    T(test_header_copy_damage_is_repaired),
	    T(test_both_headers_damaged_is_not_repairable),
	    T(test_not_a_pool_is_refused),
	    T(test_truncated_pool_is_not_repairable),
	    T(test_newer_major_version_is_refused),
	    T(test_unapplied_record_is_replayed_by_repair),
	    T(test_damaged_log_checksum_is_reported),
	    T(test_valid_record_with_bad_target_is_fatal),
	    T(test_unfinished_undo_log_with_jump_cycle),
	    T(test_bitmap_bit_beyond_nslots_is_cleared),
	    T(test_covered_chunk_header_is_reset),
	    T(test_free_header_with_stray_bits_is_cleared),
	    T(test_bad_chunk_kind_on_empty_chunk_is_repairable),
	    T(test_bad_chunk_kind_on_object_is_not_repairable),
	    T(test_large_span_outside_heap_is_not_repairable),
	    T(test_root_in_run_marked_free_is_fatal),
	    T(test_root_size_without_root_is_repaired),
	    T(test_root_pointing_nowhere_is_fatal),
	    T(test_object_types_are_checked),
	    T(test_repair_of_open_pool_is_refused),
	    T(test_check_of_open_pool_warns),
	    T(test_tool_exit_codes),
	};

	if (argc > 1)
		tool = argv[1];
	setenv("PMEM_IS_PMEM_FORCE", "1", 0);
	return cmocka_run_group_tests_name("check", tests, setup, teardown);
}
