/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tx.h -- lanes, redo records, undo logs, transactions and recovery.
 *
 * LANES
 *
 * The lanes region holds TX_NLANES lanes of TX_LANE_SIZE bytes. A
 * transaction holds one lane from daxo_tx_begin to the end of commit or
 * abort; a lane is used by one transaction at a time. Each lane has
 *
 *   +0      redo slot 0   (TX_SLOT_SIZE)
 *   +4096   redo slot 1
 *   +8192   undo area     (TX_UNDO_SIZE)
 *
 * Transactions in a lane are numbered by a generation g (u64, from 1) that
 * grows by one for every transaction that writes anything durable.
 * Transaction g writes its redo record into slot g % 2, so the record of g-1
 * stays intact while g's is being written.
 *
 * REDO RECORD (one per committing transaction)
 *
 *   struct redo_hdr (64 bytes) then the entry stream; a stream longer than
 *   the slot continues in extension blocks (chunks taken from the heap
 *   volatile-only), chained by hdr.next and ext.next. hcsum covers the
 *   header (bytes 16..63, scsum included), scsum the stream. hdr.applied is
 *   outside both. A record is "header-valid" if magic, lane and hcsum hold,
 *   "valid" if the stream checksum holds as well.
 *
 *   Entries, 8-byte aligned: word0 = op << 56 | pool offset, word1 = value;
 *     SET64 off val | SET32 off val | OR64 off mask | AND64 off mask |
 *     COPY off len, then len bytes padded to 8 |
 *     CHECK off len, then an xxh64 of [off, off+len)
 *   Recovery accepts a record only if every entry targets the pool meta or
 *   the heap and lies inside the stream.
 *
 *   CHECK covers the contents of objects made by daxo_tx_alloc in a
 *   transaction without undo entries: their contents are flushed in the
 *   same fence as the record instead of a fence of their own, so a valid
 *   record is replayed only if those contents reached the media too. If they
 *   did not, the fence never completed and nothing of the record was
 *   applied; if they were changed after commit, the record was applied and
 *   durable (second fence) before the commit returned: either way skipping
 *   it is right.

 * UNDO LOG
 *
 *   The undo area starts with a 64-byte header; entries follow:
 *   struct undo_ent {csum, gen, off, len} then len bytes padded to 8.
 *   csum (xxh64) covers gen, off, len and the data. A JUMP entry (len =
 *   UNDO_JUMP, off = the next block) continues the log in an extension
 *   block. Reading stops at the first entry whose gen differs from the first
 *   entry's or whose checksum fails.
 *
 * COMMIT PROTOCOL (fences marked F)
 *
 *   add_range:  write undo entry, flush                 F (one per call)
 *   commit:     if undo ranges: flush the ranges and     F   (data before
 *               the objects of tx_alloc                  the record)
 *               write redo record (seq, gen, entries);   F1  commit point
 *               without undo ranges, tx_alloc objects
 *               are flushed here, under CHECK entries
 *               if entries: apply them, flush            F2  applied
 *                           hdr.applied = seq, flush deferred to the next
 *                           fence anywhere (persist_defer)
 *   So: redo-only (tx_write/alloc/free, atomic alloc/free) 2 fences;
 *   undo-only k + 2; both k + 3. Nothing changed: no fence. A transaction
 *   that is a single aligned 8-byte daxo_tx_write needs no log at all (the
 *   store is failure-atomic): store, flush, 1 fence.
 *
 * RECOVERY (at open, before the heap is read)
 *
 *   1. For every lane read both slots.
 *   2. Replay every valid record whose applied != seq and whose CHECK
 *      entries hold, in global seq order (seq is taken while the writer
 *      holds whatever its entries depend on, so seq order is the order the
 *      changes were made). Fence; write the applied marks; fence.
 *   3. The undo entries of generation u (the log's first entry) are void if
 *      a header-valid record of a later generation exists (u ended before
 *      it began) or a valid record of generation u (u committed, or aborted
 *      and said so). Otherwise restore them in reverse order; fence; write
 *      a "done" record (no entries, generation u) into slot u % 2; fence.
 *
 * WHY A STALE RECORD IS NEVER REPLAYED OVER NEWER DATA
 *
 *   A record R stays valid after it is applied. If a later transaction T
 *   (any lane) changed what R wrote and T's own record then vanished
 *   (overwritten two generations later), replaying R would undo T. This
 *   cannot happen: R's applied mark is registered with persist_defer before
 *   R's commit returns, and every fence issued afterwards -- T's first one
 *   included -- flushes it first. So by the time anything of T can be
 *   durable, R is marked applied.
 *
 *   Undo entries of g can be judged: slot g%2 is overwritten only by g+2,
 *   which starts after g+1 ended with a durable record (commit or abort),
 *   so while g's record may be gone, a header of g+1 or later is there.
 *   A header alone never voids g's own entries: g's header may be durable
 *   while its stream is torn (not committed).
 */
#ifndef DAXO_TX_H
#define DAXO_TX_H 1

#include "internal.h"

#define TX_NLANES 64u
#define TX_LANE_SIZE (16u << 10)
#define TX_SLOT_SIZE 4096u
#define TX_UNDO_OFF 8192u
#define TX_UNDO_SIZE (TX_LANE_SIZE - TX_UNDO_OFF)

enum redo_op {
	REDO_SET64 = 1,
	REDO_SET32 = 2,
	REDO_OR64 = 3,
	REDO_AND64 = 4,
	REDO_COPY = 5,
	REDO_CHECK = 6, /* off len hash: replay only if [off, off+len) hashes so */
};

#define REDO_OFF_MASK ((1ull << 56) - 1)

struct redo_hdr {
	uint64_t applied;  /* 0: seq once applied; outside both checksums */
	uint64_t hcsum;    /* 8: xxh64 of bytes 16..63 */
	uint64_t seq;      /* 16: global commit order, >= 1 */
	uint64_t gen;      /* 24: lane generation, >= 1 */
	uint64_t nbytes;   /* 32: stream length */
	uint64_t next;     /* 40: first extension block, or 0 */
	uint64_t scsum;    /* 48: xxh64 of the stream */
	uint64_t magic;    /* 56: REDO_MAGIC | lane << 48 */
};
static_assert(sizeof(struct redo_hdr) == 64, "redo header");

#define REDO_MAGIC 0x4f4445524441ull /* "ADREDO" in the low 48 bits */

/* an extension block: a run of chunks taken for one log */
struct log_ext {
	uint64_t next; /* next block, or 0 */
	uint64_t cap;  /* data bytes in this block */
	uint64_t pad[6];
};
static_assert(sizeof(struct log_ext) == 64, "log ext header");

struct undo_ent {
	uint64_t csum; /* xxh64 of gen, off, len and the data */
	uint64_t gen;
	uint64_t off;
	uint64_t len; /* UNDO_JUMP: off is the next block */
};
static_assert(sizeof(struct undo_ent) == 32, "undo entry");
#define UNDO_JUMP UINT64_MAX
#define UNDO_HDR_SIZE 64u

void lanes_format(daxo_pool *p) DAXO_HIDDEN;
/* lanes_boot -- recover every lane, then set up volatile lane state */
int lanes_boot(daxo_pool *p) DAXO_HIDDEN;
void lanes_cleanup(daxo_pool *p) DAXO_HIDDEN;

/* daxo_root lives in tx.c: its first call is a transaction */

#endif
