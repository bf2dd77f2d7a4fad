/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * heap.h -- the persistent allocator.
 *
 * ON-MEDIA FORMAT
 *
 * The heap region (pool header fields heap_off, heap_size) is an array of
 * chunk headers followed by the chunks:
 *
 *   heap_off                  chunk header table: nchunks x u64, zero-padded
 *                             to a multiple of HEAP_CHUNK_SIZE
 *   heap_off + table_size     chunk 0, chunk 1, ... each HEAP_CHUNK_SIZE
 *
 * with nchunks_max = heap_size / CHUNK, table_size = align_up(nchunks_max*8,
 * CHUNK), nchunks = (heap_size - table_size) / CHUNK.
 *
 * A chunk header (u64) is
 *   bits 0..1   kind: 0 FREE, 1 LARGE (head of one object), 2 RUN (head of a
 *               run of small objects)
 *   bits 2..31  span: chunks covered by this head (>= 1; 0 for FREE)
 *   bits 32..63 LARGE: the object's type number; RUN: the size-class index
 * A head covers [i, i + span); headers of the covered chunks are not read
 * and are never written while covered, so they stay FREE (they were free
 * when the head took them). Reading from chunk 0 and jumping by span visits
 * every object and every free chunk once; every chunk outside a span has an
 * accurate header of its own. A zeroed table is an empty heap.
 *
 * A LARGE object starts at its chunk's first byte (so it is 256 KiB aligned)
 * and its usable size is span x CHUNK.
 *
 * A RUN of class c spans run_span(c) chunks and holds nslots objects of
 * class_size(c) bytes:
 *   run start        allocation bitmap: one bit per slot, in u64 words
 *   then             type numbers: one u32 per slot
 *   then (64-aligned) the slots
 * A slot is allocated iff its bit is set. Slots of 64 bytes or more are 64-byte
 * aligned (every class is a multiple of 64).
 *
 * CRASH CONSISTENCY
 *
 * Bitmap bits and types change only through redo records (redo.h): an
 * allocation is OR(bitmap word, bit) + SET32(type); a free is AND(bitmap
 * word, ~bit); a large allocation SET64(chunk header) and its free
 * SET64(FREE). OR and AND commute for different bits, so threads allocating
 * from one run need no common lock on media, and replay in commit order
 * gives the same word.
 *
 * NEW RUNS are made outside transactions, in two steps, because a run's head
 * may be written only when no record older than it can be replayed any more
 * (a record that freed those chunks, or wrote into an object that lay
 * there, must never be replayed over the new bitmap) -- and that is the
 * transaction layer's to give. heap_reserve zeroes the bitmap and types of
 * a run it takes (flushed, no fence), reserves its first slot and returns
 * HEAP_RUN_NEW; the caller fences with every earlier record final
 * (tx_sync) and calls heap_run_publish, which writes the head with one
 * 8-byte store and fences before the run is given to anyone. A crash in
 * between leaves a free chunk.
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
 * Volatile state (free extents, per-run reservation bitmaps, arenas) is
 * rebuilt at open by reading the chunk table and the run bitmaps: time
 * proportional to metadata, not data. Free extents are kept coalesced and
 * taken best fit (the smallest that holds the request, the lowest of
 * equals). An emptied run is retired at once unless it is the only run of
 * its class with room in its arena; those, and runs not read since open,
 * are retired when a search for free chunks fails, before it gives up.
 */
#ifndef DAXO_HEAP_H
#define DAXO_HEAP_H 1

#include "internal.h"

#define HEAP_CHUNK_SIZE (256u << 10)
#define HEAP_MAX_SMALL (224u << 10) /* larger requests take whole chunks */

enum chunk_kind { CHUNK_FREE = 0, CHUNK_LARGE = 1, CHUNK_RUN = 2 };

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

/* geometry of a heap, computed from the header alone */
struct heap_geom {
	uint64_t heap_off;   /* pool offset of the chunk table */
	uint64_t table_size;
	uint64_t chunks_off; /* pool offset of chunk 0 */
	uint64_t nchunks;
	uint64_t chunk_size;
	uint64_t ent_size;   /* bytes of a chunk-table entry */
};
void heap_geom(uint64_t heap_off, uint64_t heap_size,
	       struct heap_geom *g) DAXO_HIDDEN;
struct pool_hdr;
/* heap_geom_of -- the geometry of the heap of the pool with header @h */
void heap_geom_of(const struct pool_hdr *h, struct heap_geom *g) DAXO_HIDDEN;

/* heap_chdr_off -- pool offset of chunk @i's table entry */
static inline uint64_t heap_chdr_off(const struct heap_geom *g, uint64_t i)
{
	return g->heap_off + i * g->ent_size;
}

/* size classes */
unsigned heap_nclasses(void) DAXO_HIDDEN;
uint32_t heap_class_size(unsigned c) DAXO_HIDDEN;
uint32_t heap_run_span(unsigned c) DAXO_HIDDEN;
/* slots in a run of class c, and the offsets inside the run */
struct run_geom {
	uint32_t nslots;
	uint32_t bitmap_words;
	uint32_t types_off; /* from run start */
	uint32_t slots_off; /* from run start, 64-aligned */
	uint32_t size;      /* class size */
};
void heap_run_geom(unsigned c, struct run_geom *rg) DAXO_HIDDEN;

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
	uint8_t filled;  /* tx_fill: FILL_STAGED or FILL_FLUSHED, else 0 */
	uint16_t cls;
	uint32_t chunk;  /* head chunk index */
	uint32_t slot;   /* slot index in the run */
	uint32_t span;   /* large: chunks */
	struct run *newrun; /* HEAP_RUN_NEW: the run to publish, else NULL */
};

#define FILL_STAGED  1 /* contents are a COPY entry of the record */
#define FILL_FLUSHED 2 /* contents written in place and flushed */

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

/* heap_target_ok -- may a redo record write [off, off+len)? (recovery) */
bool heap_target_ok(daxo_pool *p, uint64_t off, uint64_t len) DAXO_HIDDEN;

#endif
