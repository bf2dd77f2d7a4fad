/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * heap.h -- the persistent allocator.
 *
 * ON-MEDIA FORMAT
 *
 * The heap region (pool header fields heap_off, heap_size) is a table of
 * chunk entries followed by the chunks:
 *
 *   heap_off                  chunk table: nchunks_max x u64, padded to a
 *                             multiple of the chunk size
 *   heap_off + table_size     chunk 0, chunk 1, ... each chunk_size bytes
 *
 * with nchunks_max = heap_size / chunk_size, table_size =
 * align_up(nchunks_max * 8, chunk_size), nchunks = (heap_size -
 * table_size) / chunk_size. Two formats share this shape (struct
 * heap_geom says which a pool has):
 *
 *   heap 1 (pools without POOL_INCOMPAT_HEAP2): chunks of 256 KiB, 43 size
 *   classes, plain run bitmaps, entries without a check: a zero entry is a
 *   FREE chunk.
 *   heap 2 (POOL_INCOMPAT_HEAP2, format 1.3): chunks of 4 KiB, 96 size
 *   classes up to 32 KiB (larger objects take whole chunks, so they waste
 *   less than 4 KiB), run bitmaps kept with their complements, and every
 *   entry carries a 16-bit check bound to its chunk index, so that no
 *   single damaged word -- zeroed, flipped, copied from another entry --
 *   is read as valid: the zero word is invalid, and a FREE entry is the
 *   FREE kind with its check.
 *
 * An entry (u64) of chunk i is
 *   bits 0..1   kind: 0 FREE, 1 LARGE (head of one object), 2 RUN (head of a
 *               run of small objects), 3 TYPE (heap 2: the type number of
 *               the LARGE object whose head is chunk i - 1)
 *   heap 1:
 *   bits 2..31  span: chunks covered by this head (>= 1; 0 for FREE)
 *   bits 32..63 LARGE: the object's type number; RUN: the size-class index
 *   heap 2:
 *   bits 2..37  span (>= 2 for LARGE: its TYPE entry lies inside it);
 *               TYPE: bits 2..33 the type number
 *   bits 38..47 RUN: the size-class index; else 0
 *   bits 48..63 check: heap_chk(bits 0..47, i), never 0
 * A head covers [i, i + span); entries of the covered chunks are not read
 * (but for a LARGE head's TYPE entry at i + 1) and are never written while
 * covered, so they stay FREE (they were free when the head took them).
 * Reading from chunk 0 and jumping by span visits every object and every
 * free chunk once; every chunk outside a span has an accurate entry of its
 * own. A heap 1 table of zeros is an empty heap; a heap 2 table is written
 * FREE entry by entry when the pool is made.
 *
 * A LARGE object starts at its chunk's first byte (so it is chunk aligned)
 * and its usable size is span x chunk_size. Its type number is in its head
 * (heap 1) or in its TYPE entry (heap 2).
 *
 * A RUN of class c spans run_span(c) chunks and holds nslots objects of
 * class_size(c) bytes:
 *   run start        allocation bitmap: one bit per slot, in u64 words;
 *                    heap 2: each word followed by its complement (16
 *                    bytes per 64 slots)
 *   then             type numbers: one u32 per slot
 *   then (64-aligned) the slots
 * A slot is allocated iff its bit is set. Every class is a multiple of 64,
 * so every object is 64-byte aligned. Bits past nslots are never set (and
 * their complements always are). nslots is the largest n with
 * align_up(bitmap + 4n, 64) + n x class_size <= span x chunk_size.
 *
 * CRASH CONSISTENCY
 *
 * Bitmap bits and types change only through redo records (redo.h): an
 * allocation is OR(bitmap word, bit) + SET32(type), and heap 2 adds
 * AND(complement, ~bit); a free is AND(bitmap word, ~bit), heap 2 adds
 * OR(complement, bit); a large allocation is SET64(head entry), heap 2
 * adds SET64(TYPE entry), and its free sets them FREE. OR and AND commute
 * for different bits, so threads allocating from one run need no common
 * lock on media, and replay in commit order gives the same words; a record
 * is replayed whole, so a word and its complement (a head and its TYPE)
 * never disagree after recovery.
 *
 * NEW RUNS are made outside transactions, in two steps, because a run's head
 * may be written only when no record older than it can be replayed any more
 * (a record that freed those chunks, or wrote into an object that lay
 * there, must never be replayed over the new bitmap) -- and that is the
 * transaction layer's to give. heap_reserve initialises the bitmap (with
 * its complements) and types of a run it takes (flushed, no fence),
 * reserves its first slot and returns HEAP_RUN_NEW; the caller fences with
 * every earlier record final (tx_sync) and calls heap_run_publish, which
 * writes the head with one 8-byte store and fences before the run is given
 * to anyone. A crash in between leaves a free chunk.
 *
 * A run whose last object is freed goes back to the free chunks (retired):
 * its head is set FREE with one 8-byte store and fenced before its chunks
 * can be handed out again. No older record must be final first: the records
 * that wrote the head are older than the run (its creation made them final),
 * and the records that wrote its bitmap write only inside its chunks, where
 * a replay lands on free space -- or, once the chunks are reused, on memory
 * made final before it is trusted (a new run's creation syncs first, an
 * object written in place obeys rule 2 of tx.h). A crash before the store
 * is durable leaves an empty run.
 *
 * VALIDATION (heap 2). Nothing in the heap is trusted unchecked: at open
 * every entry the walk reads (heads, free chunks, TYPE entries) must carry
 * its check and a well-formed span and class, and a run's bitmap, when it
 * is first read (run_load), must be word for word the complement of its
 * complement with no bit past nslots: else -EUCLEAN naming the offset, and
 * the pool refuses writes (persist_fail). So a damaged word is never read
 * as free space. Heap 1 pools keep their format and its weaker checks.
 *
 * Volatile state (free extents, per-run reservation bitmaps, arenas) is
 * rebuilt at open by reading the chunk table (run bitmaps are read on first
 * use): time proportional to metadata, not data. Free extents are kept
 * coalesced, indexed by their first and last chunk, and in size bins, and
 * taken best fit (the smallest that holds the request). An emptied run is
 * retired at once unless it is the only run of its class with room in its
 * arena; those, and runs not read since open, are retired when a search
 * for free chunks fails, before it gives up.
 */
#ifndef DAXO_HEAP_H
#define DAXO_HEAP_H 1

#include "internal.h"

/* heap 1's chunk; also the granule of log extension space (tx.c) and the
 * alignment of heap_off in every format */
#define HEAP_CHUNK_SIZE (256u << 10)
#define HEAP2_CHUNK_SIZE 4096u
#define HEAP1_MAX_SMALL (224u << 10) /* larger requests take whole chunks */
#define HEAP2_MAX_SMALL (32u << 10)
#define HEAP1_NCLASSES 43u
#define HEAP2_NCLASSES 96u
#define HEAP_NCLASSES_MAX HEAP2_NCLASSES

enum chunk_kind {
	CHUNK_FREE = 0,
	CHUNK_LARGE = 1,
	CHUNK_RUN = 2,
	CHUNK_TYPE = 3 /* heap 2 */
};

/* heap 1 entries */
static inline uint64_t chdr_make(enum chunk_kind k, uint32_t span,
				 uint32_t arg)
{
	return (uint64_t)k | ((uint64_t)span << 2) | ((uint64_t)arg << 32);
}
static inline enum chunk_kind chdr_kind(uint64_t h)
{
	return (enum chunk_kind)(h & 3);
}
static inline uint32_t chdr_span(uint64_t h)
{
	return (uint32_t)((h >> 2) & 0x3fffffff);
}
static inline uint32_t chdr_arg(uint64_t h)
{
	return (uint32_t)(h >> 32);
}

/* heap 2 entries */
#define HEAP2_SPAN_MAX ((1ull << 36) - 1)
#define HEAP2_LOW48 ((1ull << 48) - 1)

/*
 * heap_chk -- the check of a heap 2 entry whose low 48 bits are @low at
 * chunk @idx: 16 bits of a multiply-xorshift mix of both, 0 taken as 1 (so
 * the zero word never checks)
 */
static inline uint64_t heap_chk(uint64_t low, uint64_t idx)
{
	uint64_t m = (low ^ 0x48454150324348ull) + idx * 0x9e3779b97f4a7c15ull;

	m = (m ^ (m >> 29)) * 0xbf58476d1ce4e5b9ull;
	m = (m ^ (m >> 32)) * 0x94d049bb133111ebull;
	m = (m >> 48) & 0xffff;
	return m ? m : 1;
}

static inline uint64_t chdr2_make(enum chunk_kind k, uint64_t span,
				  uint32_t arg, uint64_t idx)
{
	uint64_t low = (uint64_t)k | (span << 2);

	if (k == CHUNK_RUN)
		low |= (uint64_t)arg << 38;
	else if (k == CHUNK_TYPE)
		low = (uint64_t)k | ((uint64_t)arg << 2);
	return low | heap_chk(low, idx) << 48;
}

/* a decoded entry */
struct chdr {
	enum chunk_kind kind;
	uint64_t span;  /* heads; 0 for FREE and TYPE */
	uint32_t arg;   /* LARGE (heap 1) or TYPE: type; RUN: class */
};

/* geometry of a heap, computed from the header alone */
struct heap_geom {
	uint64_t heap_off;   /* pool offset of the chunk table */
	uint64_t table_size;
	uint64_t chunks_off; /* pool offset of chunk 0 */
	uint64_t nchunks;
	uint64_t chunk_size;
	uint64_t ent_size;   /* bytes of a chunk-table entry */
	uint32_t max_small;  /* larger objects take whole chunks */
	uint32_t nclasses;
	bool v2;             /* heap 2 (POOL_INCOMPAT_HEAP2) */
};
struct pool_hdr;
/* heap_geom_of -- the geometry of the heap of the pool with header @h */
void heap_geom_of(const struct pool_hdr *h, struct heap_geom *g) DAXO_HIDDEN;
/* heap_geom -- the same from the fields; @v2 for heap 2 */
void heap_geom(uint64_t heap_off, uint64_t heap_size, bool v2,
	       struct heap_geom *g) DAXO_HIDDEN;

/* heap_chdr_off -- pool offset of chunk @i's table entry */
static inline uint64_t heap_chdr_off(const struct heap_geom *g, uint64_t i)
{
	return g->heap_off + i * g->ent_size;
}

/* heap_chunk_off -- pool offset of chunk @i */
static inline uint64_t heap_chunk_off(const struct heap_geom *g, uint64_t i)
{
	return g->chunks_off + i * g->chunk_size;
}

/* heap_free_ent -- the entry of free chunk @i */
static inline uint64_t heap_free_ent(const struct heap_geom *g, uint64_t i)
{
	return g->v2 ? chdr2_make(CHUNK_FREE, 0, 0, i) : 0;
}

/* heap_head_ent -- a LARGE or RUN head at chunk @i */
static inline uint64_t heap_head_ent(const struct heap_geom *g, uint64_t i,
				     enum chunk_kind k, uint64_t span,
				     uint32_t arg)
{
	return g->v2 ? chdr2_make(k, span, arg, i)
		     : chdr_make(k, (uint32_t)span, arg);
}

/*
 * heap_chdr_decode -- decode @w, the entry of chunk @i, into @c. False if
 * it cannot be an entry of this format at all: heap 1: kind 3, a FREE
 * entry with other bits set; heap 2: a wrong check, or bits set outside the
 * fields of its kind. Spans and classes are the caller's to check against
 * the heap.
 */
static inline bool heap_chdr_decode(const struct heap_geom *g, uint64_t i,
				    uint64_t w, struct chdr *c)
{
	if (!g->v2) {
		c->kind = chdr_kind(w);
		c->span = chdr_span(w);
		c->arg = chdr_arg(w);
		if (c->kind == CHUNK_FREE)
			return w == 0;
		return c->kind != CHUNK_TYPE;
	}
	uint64_t low = w & HEAP2_LOW48;

	c->kind = (enum chunk_kind)(low & 3);
	c->span = 0;
	c->arg = 0;
	if ((w >> 48) != heap_chk(low, i))
		return false;
	switch (c->kind) {
	case CHUNK_FREE:
		return low == 0;
	case CHUNK_TYPE:
		c->arg = (uint32_t)(low >> 2);
		return (low >> 34) == 0;
	case CHUNK_LARGE:
		c->span = (low >> 2) & HEAP2_SPAN_MAX;
		return (low >> 38) == 0;
	default:
		c->span = (low >> 2) & HEAP2_SPAN_MAX;
		c->arg = (uint32_t)(low >> 38);
		return true;
	}
}

/* size classes of the heap of @g */
uint32_t heap_class_size(const struct heap_geom *g, unsigned c) DAXO_HIDDEN;
uint32_t heap_run_span(const struct heap_geom *g, unsigned c) DAXO_HIDDEN;
/* heap_class_for -- the smallest class holding @size (<= max_small) */
unsigned heap_class_for(const struct heap_geom *g, uint64_t size) DAXO_HIDDEN;
/* heap_large_span -- the chunks a LARGE object of @size bytes takes */
uint64_t heap_large_span(const struct heap_geom *g, uint64_t size) DAXO_HIDDEN;
/* slots in a run of class c, and the offsets inside the run */
struct run_geom {
	uint32_t nslots;
	uint32_t bitmap_words; /* bitmap words (each with its complement in
				  heap 2) */
	uint32_t word_stride;  /* bytes from one bitmap word to the next: 8,
				  16 with complements */
	uint32_t types_off;    /* from run start */
	uint32_t slots_off;    /* from run start, 64-aligned */
	uint32_t size;         /* class size */
	uint32_t span;         /* chunks */
};
void heap_run_geom(const struct heap_geom *g, unsigned c,
		   struct run_geom *rg) DAXO_HIDDEN;

/* heap_bm_off -- offset in a run of bitmap word @w (its complement is 8
 * bytes further in heap 2) */
static inline uint64_t heap_bm_off(const struct run_geom *rg, uint32_t w)
{
	return (uint64_t)w * rg->word_stride;
}

/* heap_bm_tail -- bits of bitmap word @w that name no slot */
static inline uint64_t heap_bm_tail(const struct run_geom *rg, uint32_t w)
{
	uint64_t first = (uint64_t)w * 64;

	if (rg->nslots >= first + 64)
		return 0;
	if (rg->nslots <= first)
		return ~0ull;
	return ~0ull << (rg->nslots - first);
}

/* format and boot */
void heap_format(daxo_pool *p) DAXO_HIDDEN;
int heap_boot(daxo_pool *p) DAXO_HIDDEN;
void heap_cleanup(daxo_pool *p) DAXO_HIDDEN;

struct run;

/*
 * A heap action: one allocation reserved (volatile) or one free validated,
 * waiting for the transaction that will make it durable.
 */
struct heap_act {
	uint64_t oid;
	uint64_t size;   /* bytes asked for (alloc), for flushing */
	uint32_t type;
	uint8_t is_free;
	uint8_t large;
	uint8_t txnew;   /* made by daxo_tx_alloc: contents part of the commit */
	uint8_t filled;  /* tx_fill: FILL_STAGED, _FLUSHED or _SUMMED, else 0 */
	uint16_t cls;
	uint64_t chunk;  /* head chunk index */
	uint32_t slot;   /* slot index in the run */
	uint64_t span;   /* large: chunks */
	struct run *newrun; /* HEAP_RUN_NEW: the run to publish, else NULL */
};

#define FILL_STAGED  1 /* contents are a COPY entry of the record */
#define FILL_FLUSHED 2 /* contents written in place and flushed */
#define FILL_SUMMED  3 /* in place, flushed by the commit: a SUM entry */

/* emit one redo operation (tx_emit, redo.c, provides it) */
typedef int (*heap_emit_fn)(void *ctx, unsigned op, uint64_t off,
			    uint64_t val);

/*
 * heap_reserve -- reserve room for an object of @size (volatile only).
 * Returns 0, HEAP_RUN_NEW (reserved in a new run that the caller must
 * publish before anything else: NEW RUNS above), or -ENOSPC/-EINVAL/-ENOMEM
 * with a message.
 */
int heap_reserve(daxo_pool *p, uint64_t size, uint32_t type,
		 struct heap_act *a) DAXO_HIDDEN;
#define HEAP_RUN_NEW 1
/*
 * heap_run_publish -- write the head of @a's new run and fence, then hand
 * the run to the arena; the caller has made every earlier record final
 * (tx_sync). @a is an ordinary reservation afterwards.
 */
void heap_run_publish(daxo_pool *p, struct heap_act *a) DAXO_HIDDEN;
/* heap_prepare_free -- check @oid is live and not being freed; mark it */
int heap_prepare_free(daxo_pool *p, uint64_t oid,
		      struct heap_act *a) DAXO_HIDDEN;
/*
 * heap_prefetch_free -- start loading what heap_prepare_free of @oid will
 * read (its bitmap word and type): call it early, do other work, then free
 */
void heap_prefetch_free(daxo_pool *p, uint64_t oid) DAXO_HIDDEN;
/* heap_act_ops -- the redo operations that make @a durable */
int heap_act_ops(daxo_pool *p, const struct heap_act *a, heap_emit_fn emit,
		 void *ctx) DAXO_HIDDEN;
/* heap_act_done -- after the record is applied: release freed space */
void heap_act_done(daxo_pool *p, const struct heap_act *a) DAXO_HIDDEN;
/* heap_act_cancel -- the transaction aborted: undo the reservation/mark */
void heap_act_cancel(daxo_pool *p, const struct heap_act *a) DAXO_HIDDEN;

/*
 * scratch chunks for log extensions: reserved volatile-only, never marked
 * on media (a crash frees them, and recovery reads them before anything can
 * reuse them)
 */
int heap_scratch_get(daxo_pool *p, uint32_t nchunks, uint64_t *off) DAXO_HIDDEN;
void heap_scratch_put(daxo_pool *p, uint64_t off, uint32_t nchunks) DAXO_HIDDEN;

/* heap_object -- describe a live object: 0, or -EINVAL if @oid is not one */
int heap_object(daxo_pool *p, uint64_t oid, uint64_t *usable,
		uint32_t *type) DAXO_HIDDEN;

/* where a live object lives, for defrag (heap_usage) */
struct heap_usage {
	bool large;
	uint32_t type;
	uint64_t usable;   /* bytes */
	uint64_t chunk;    /* head chunk of its run, or its own */
	uint64_t span;     /* chunks of the run or of the object */
	uint32_t cls;      /* run: size class */
	uint32_t used;     /* run: slots allocated (or reserved now) */
	uint32_t nslots;   /* run: slots */
};
/* heap_usage -- describe the live object @oid; -EINVAL if it is none */
int heap_usage(daxo_pool *p, uint64_t oid, struct heap_usage *u) DAXO_HIDDEN;
/*
 * heap_containing -- the live object holding [off, off+len): its oid;
 * -EINVAL if no live object holds all of it
 */
int heap_containing(daxo_pool *p, uint64_t off, uint64_t len,
		    uint64_t *oid) DAXO_HIDDEN;
/*
 * heap_drain -- stop (@on) or resume allocating from the run at head chunk
 * @chunk: a drained run is on no list, and given back to the free chunks
 * when its last object is freed
 */
void heap_drain(daxo_pool *p, uint64_t chunk, bool on) DAXO_HIDDEN;
/* heap_fit_below -- would @span whole chunks be taken below chunk @idx? */
bool heap_fit_below(daxo_pool *p, uint64_t span, uint64_t idx) DAXO_HIDDEN;
/* heap_retired -- runs given back to the free chunks since open */
uint64_t heap_retired(daxo_pool *p) DAXO_HIDDEN;

/* heap_target_ok -- may a redo record write [off, off+len)? (recovery) */
bool heap_target_ok(daxo_pool *p, uint64_t off, uint64_t len) DAXO_HIDDEN;

#endif
