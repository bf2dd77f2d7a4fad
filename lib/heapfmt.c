/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * heapfmt.c -- the heap's on-media geometry: where the chunk table and the
 * chunks lie, the size classes and the layout of a run, for both heap
 * formats (heap.h). The allocator (heap.c and the files of heapint.h) and the
 * checker (check_heap.c) read the heap through these and nothing else.
 *
 * The tables below are part of the format: a pool made with them must be
 * read with them. A change is a new format (doc/FORMAT.md).
 */
#include "heap.h"
#include "pool.h"

/* the tables are laid out to be read */
/* clang-format off */
/* heap 1: 43 classes, runs of 16 slots (4 above 16 KiB) or one chunk */
static const uint32_t v1_sizes[HEAP1_NCLASSES] = {
	64,    128,   192,   256,   320,   384,    448,   512,   640,
	768,   896,   1024,  1280,  1536,  1792,   2048,  2560,  3072,
	3584,  4096,  5120,  6144,  7168,  8192,   10240, 12288, 14336,
	16384, 20480, 24576, 28672, 32768, 40960,  49152, 57344, 65536,
	81920, 98304, 114688, 131072, 163840, 196608, 229376,
};

/*
 * heap 2: 96 classes -- every multiple of 64 up to 2 KiB, then 16 a
 * doubling up to 32 KiB (at most 1/16 = 6.25% of a slot wasted above
 * 2 KiB). Each class's run span (4 KiB chunks) is the smallest from 16 to
 * 80 that holds at least 8 slots and wastes at most 0.5% more of the run
 * than the best span in that range: the 1088-byte entry of a 16-byte key
 * and a 1 KiB value fills 60 slots of a 16-chunk run with 0.4% left over.
 */
static const uint32_t v2_sizes[HEAP2_NCLASSES] = {
	64,    128,   192,   256,   320,   384,   448,   512,   576,   640,
	704,   768,   832,   896,   960,   1024,  1088,  1152,  1216,  1280,
	1344,  1408,  1472,  1536,  1600,  1664,  1728,  1792,  1856,  1920,
	1984,  2048,  2176,  2304,  2432,  2560,  2688,  2816,  2944,  3072,
	3200,  3328,  3456,  3584,  3712,  3840,  3968,  4096,  4352,  4608,
	4864,  5120,  5376,  5632,  5888,  6144,  6400,  6656,  6912,  7168,
	7424,  7680,  7936,  8192,  8704,  9216,  9728,  10240, 10752, 11264,
	11776, 12288, 12800, 13312, 13824, 14336, 14848, 15360, 15872, 16384,
	17408, 18432, 19456, 20480, 21504, 22528, 23552, 24576, 25600, 26624,
	27648, 28672, 29696, 30720, 31744, 32768,
};
static const uint8_t v2_spans[HEAP2_NCLASSES] = {
	16, 16, 16, 16, 16, 16, 18, 19, 17, 17, 17, 17, 16, 17, 17, 28,
	16, 17, 17, 16, 27, 18, 17, 17, 20, 18, 17, 18, 20, 16, 17, 45,
	16, 22, 25, 22, 25, 20, 18, 31, 18, 22, 22, 22, 20, 16, 33, 58,
	16, 26, 25, 34, 25, 29, 26, 47, 22, 31, 22, 37, 20, 32, 33, 57,
	32, 34, 31, 48, 29, 36, 26, 58, 44, 36, 44, 46, 40, 34, 35, 57,
	47, 50, 43, 56, 58, 50, 52, 61, 63, 59, 61, 57, 73, 68, 70, 65,
};
/* clang-format on */
static_assert(HEAP2_NCLASSES <= 1024, "class index fits a heap 2 RUN entry");
static_assert(HEAP_NCLASSES_MAX <= DAXO_HEAP_CLASSES_MAX,
	      "daxo_heap_info has room for every class");

void heap_geom(uint64_t heap_off, uint64_t heap_size, bool v2,
	       struct heap_geom *g)
{
	uint64_t cs = v2 ? HEAP2_CHUNK_SIZE : HEAP_CHUNK_SIZE;
	uint64_t nmax = heap_size / cs;

	g->heap_off = heap_off;
	g->chunk_size = cs;
	g->ent_size = 8;
	g->table_size = ALIGN_UP(nmax * 8, cs);
	g->chunks_off = heap_off + g->table_size;
	g->nchunks =
	    heap_size > g->table_size ? (heap_size - g->table_size) / cs : 0;
	g->v2 = v2;
	g->max_small = v2 ? HEAP2_MAX_SMALL : HEAP1_MAX_SMALL;
	g->nclasses = v2 ? HEAP2_NCLASSES : HEAP1_NCLASSES;
}

void heap_geom_of(const struct pool_hdr *h, struct heap_geom *g)
{
	heap_geom(h->heap_off, h->heap_size,
		  (h->incompat & POOL_INCOMPAT_HEAP2) != 0, g);
}

uint32_t heap_class_size(const struct heap_geom *g, unsigned c)
{
	return g->v2 ? v2_sizes[c] : v1_sizes[c];
}

uint32_t heap_run_span(const struct heap_geom *g, unsigned c)
{
	if (g->v2)
		return v2_spans[c];
	/* at least 16 slots a run, 4 for classes above 16 KiB */
	uint64_t want = (uint64_t)v1_sizes[c] * (v1_sizes[c] <= 16384 ? 16 : 4);

	return (uint32_t)((MAX(want, (uint64_t)HEAP_CHUNK_SIZE) +
			   HEAP_CHUNK_SIZE - 1) /
			  HEAP_CHUNK_SIZE);
}

unsigned heap_class_for(const struct heap_geom *g, uint64_t size)
{
	const uint32_t *t = g->v2 ? v2_sizes : v1_sizes;
	unsigned lo = 0, hi = g->nclasses - 1;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		if (t[mid] >= size)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

uint64_t heap_large_span(const struct heap_geom *g, uint64_t size)
{
	uint64_t n = (size + g->chunk_size - 1) / g->chunk_size;

	/* heap 2: the TYPE entry lies in the object's second chunk */
	return MAX(n, g->v2 ? 2ull : 1ull);
}

void heap_run_geom(const struct heap_geom *g, unsigned c, struct run_geom *rg)
{
	uint32_t span = heap_run_span(g, c);
	uint64_t rsize = (uint64_t)span * g->chunk_size;
	uint32_t size = heap_class_size(g, c);
	uint32_t stride = g->v2 ? 16 : 8;
	uint32_t n = (uint32_t)(rsize / size);

	for (;; n--) {
		uint32_t words = (n + 63) / 64;
		uint64_t types = (uint64_t)words * stride;
		uint64_t slots = ALIGN_UP(types + 4ull * n, 64ull);
		if (slots + (uint64_t)n * size <= rsize) {
			rg->nslots = n;
			rg->bitmap_words = words;
			rg->word_stride = stride;
			rg->types_off = (uint32_t)types;
			rg->slots_off = (uint32_t)slots;
			rg->size = size;
			rg->span = span;
			return;
		}
	}
}
