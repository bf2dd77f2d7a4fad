/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_check.c -- libFuzzer target: daxo_check and daxo_open on damaged
 * pools must never crash, hang or leak, whatever the bytes.
 *
 * A valid 8 MiB base pool is made once (root object, small and large
 * objects, committed transactions, keyed-store puts and a delete -- records
 * with SUM and NOTE entries --, the watermark set to 0 so that recovery
 * replays every valid record, and one transaction killed after
 * daxo_tx_add_range so that recovery rolls it back). Each input is a list
 * of patches applied to a copy of it:
 *
 *   byte 0          flags: bit 0 also run a repair; bit 1 truncate the file
 *   then patches    [region u8][offset u16 or u24][len u8][len bytes]
 *
 * where region picks the header, its copy, the pool meta, a lane, the chunk
 * table, the start of a chunk (run bitmaps) or anywhere, so that small
 * inputs reach the metadata. The pool file lives in test_dir() and is mapped;
 * after each input the pages that differ from the base are restored.
 *
 * Oracles besides "no crash": if daxo_check calls a pool consistent,
 * daxo_open must not call it corrupted; if a repair succeeds, the pool
 * opens and checks consistent.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "heap.h"
#include "pool.h"
#include "tx.h"

#include "../unit/test_common.h"

#define SIZE (8ull << 20)

static char path[128];
static uint8_t *base, *map;
static struct heap_geom g;

static void die(const char *what)
{
	fprintf(stderr, "fuzz_check: %s: %s\n", what, daxo_errormsg());
	exit(1);
}

/* make_base -- the pool every input damages */
static void make_base(void)
{
	daxo_pool *p;
	daxo_oid root = 0, *r;
	daxo_tx *tx;
	uint64_t v = 7;
	pid_t pid;
	int st;

	unlink(path);
	if (daxo_create(path, "fuzz", SIZE, 0600, &p) ||
	    daxo_root(p, 512, &root))
		die("create");
	r = daxo_direct(p, root);
	if (daxo_alloc(p, 300 << 10, 3, &r[0]) ||
	    daxo_alloc(p, 100, 4, &r[1]) || daxo_alloc(p, 4000, 4, &r[2]) ||
	    daxo_tx_begin(p, &tx) || daxo_tx_write(tx, &r[3], &v, 8) ||
	    daxo_tx_commit(tx))
		die("populate");
	/* new entries under SUMs, a replace of another length (a NOTE of the
	 * old entry), one of the same length (a COPY), a delete */
	static const char val[300];
	if (daxo_put(p, "alpha", 5, val, 100) ||
	    daxo_put(p, "beta", 4, val, 40) ||
	    daxo_put(p, "alpha", 5, val, 280) ||
	    daxo_put(p, "beta", 4, val, 40) || daxo_del(p, "alpha", 5) ||
	    daxo_put(p, "gamma", 5, val, 7))
		die("keyed store");
	/* a transaction that never ends: its undo log is left behind */
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		if (daxo_tx_begin(p, &tx) == 0 &&
		    daxo_tx_add_range(tx, &r[4], 64) == 0)
			memset(&r[4], 0xee, 64);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	daxo_close(p);
}

/* unapply -- the watermark to 0: recovery replays every valid record */
static void unapply(uint8_t *b)
{
	struct pool_meta *m = (struct pool_meta *)(b + POOL_META_OFF);

	m->w_seq = 0;
}

/* remove_base -- at exit: the base pool is this process's alone */
static void remove_base(void)
{
	unlink(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int fd;

	setenv("PMEM_IS_PMEM_FORCE", "1", 0);
	test_path(path, sizeof(path), "daxo-fuzz-check-%d", (int)getpid());
	atexit(remove_base);
	make_base();
	base = malloc(SIZE);
	fd = open(path, O_RDWR);
	if (!base || fd < 0 || pread(fd, base, SIZE, 0) != (ssize_t)SIZE)
		die("read base");
	map = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		die("mmap");
	unapply(base);
	unapply(map);
	heap_geom_of((struct pool_hdr *)base, &g);
	return 0;
}

/* region_off -- where a patch lands */
static uint64_t region_off(uint8_t region, uint32_t off)
{
	switch (region % 8) {
	case 0:
		return off % POOL_HDR_SIZE;
	case 1:
		return POOL_HDR_COPY_OFF + off % POOL_HDR_SIZE;
	case 2:
		return POOL_META_OFF + off % 64;
	case 3: /* lane 0 and 1: slots and undo */
		return POOL_LANES_OFF + off % (2 * TX_LANE_SIZE(TX_NSLOTS_MAX));
	case 4:
		return g.heap_off + off % (8 * g.nchunks);
	case 5: /* the first bytes of a chunk: bitmaps and types */
		return g.chunks_off + (off >> 12) % g.nchunks * g.chunk_size +
		       (off & 0xfff) % g.chunk_size;
	case 6: /* anywhere in the lanes */
		return POOL_LANES_OFF +
		       (uint64_t)off * 8 % (TX_NLANES * TX_LANE_SIZE(TX_NSLOTS_MAX));
	default:
		return ((uint64_t)off * 64) % SIZE;
	}
}

static void restore(void)
{
	for (uint64_t o = 0; o < SIZE; o += 4096)
		if (memcmp(map + o, base + o, 4096))
			memcpy(map + o, base + o, 4096);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t flags = size ? data[0] : 0;
	size_t i = 1;
	daxo_pool *p;
	int c, o;

	while (i + 4 <= size) {
		uint8_t region = data[i];
		uint32_t off = data[i + 1] | (uint32_t)data[i + 2] << 8;
		size_t len;

		if (region & 0x80) {
			off |= (uint32_t)data[i + 3] << 16;
			i++;
		}
		if (i + 4 > size)
			break;
		len = data[i + 3];
		i += 4;
		len = len < size - i ? len : size - i;
		uint64_t at = region_off(region, off);
		if (len > SIZE - at)
			len = (size_t)(SIZE - at);
		memcpy(map + at, data + i, len);
		i += len;
	}
	if (flags & 2) {
		/* a truncated pool */
		if (truncate(path, (off_t)(SIZE / 2)) == 0) {
			(void)daxo_check(path, 0, NULL, NULL);
			if (daxo_open(path, NULL, 0, &p) == 0)
				abort(); /* must be refused */
			if (truncate(path, (off_t)SIZE) != 0)
				abort();
		}
		restore();
		return 0;
	}
	c = daxo_check(path, 0, NULL, NULL);
	o = daxo_open(path, NULL, 0, &p);
	if (o == 0) {
		/* walk the heap it accepted */
		unsigned n = 0;
		for (daxo_oid x = daxo_first(p, DAXO_TYPE_ANY); x && n < 100000;
		     x = daxo_next(p, x, DAXO_TYPE_ANY))
			n++;
		daxo_close(p);
	} else if (c == 0 && o == -EUCLEAN) {
		fprintf(stderr, "check said consistent, open said: %s\n",
			daxo_errormsg());
		abort();
	}
	if (flags & 1 && daxo_check(path, DAXO_CHECK_REPAIR, NULL, NULL) == 0) {
		/* what repair calls consistent opens, and checks clean */
		o = daxo_open(path, NULL, 0, &p);
		if (o == -EUCLEAN) {
			fprintf(stderr, "repaired, but open said: %s\n",
				daxo_errormsg());
			abort();
		}
		if (o == 0)
			daxo_close(p);
		if (daxo_check(path, 0, NULL, NULL) != 0)
			abort();
	}
	restore();
	return 0;
}
