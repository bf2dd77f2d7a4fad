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
 *   volatile-only), chained by hdr.next and ext.next.
 *   The checksum (xxh64) covers hdr bytes 16..63 and the whole stream, so a
 *   record is valid only if every byte of it reached the media; hdr.applied
 *   (the first word) is outside it.
 *
 *   Entries, 8-byte aligned: word0 = op << 56 | pool offset, word1 = value;
 *     SET64 off val | SET32 off val | OR64 off mask | AND64 off mask |
 *     COPY off len, then len bytes padded to 8
 *   Recovery accepts a record only if every entry targets the pool meta or
 *   the heap and lies inside the stream.
 *
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
 *   commit:     if undo ranges: flush the ranges'        F   (data before
 *               commit mark)
 *               write redo record (seq, gen, entries)    F1  commit point
 *               if entries: apply them, flush            F2  applied
 *                           hdr.applied = seq, flush deferred to the next
 *                           fence anywhere (persist_defer)
 *   So: redo-only (tx_write/alloc/free, atomic alloc/free) 2 fences;
 *   undo-only k + 2; both k + 3. Nothing changed: no fence.
 *
 * RECOVERY (at open, before the heap is read)
 *
 *   1. For every lane read both slots; keep valid records. A lane's
 *      "committed generation" is the highest gen among its valid records.
 *   2. Replay every valid record whose applied != seq, in global seq order
 *      (seq is taken while the writer holds whatever its entries depend on,
 *      so seq order is the order the changes were made). Fence; write the
 *      applied marks; fence.
 *   3. For every lane whose undo log's first entry has gen > committed
 *      generation, restore its entries in reverse order; fence; write a
 *      "done" record (no entries, that gen) into slot gen % 2; fence.
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
 *   Undo entries of g are void once a record of gen >= g is valid: slot g%2
 *   is overwritten only by g+2, which starts after g+1 ended with a durable
 *   record (commit or abort).
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
};

#define REDO_OFF_MASK ((1ull << 56) - 1)

struct redo_hdr {
	uint64_t applied; /* 0: seq once applied; outside the checksum */
	uint64_t csum;    /* 8: xxh64 of bytes 16..63 and the stream */
	uint64_t seq;     /* 16: global commit order, >= 1 */
	uint64_t gen;     /* 24: lane generation */
	uint64_t nbytes;  /* 32: stream length */
	uint64_t next;    /* 40: first extension block, or 0 */
	uint64_t lane;    /* 48: lane index */
	uint64_t magic;   /* 56: REDO_MAGIC */
};
static_assert(sizeof(struct redo_hdr) == 64, "redo header");

#define REDO_MAGIC 0x4f444552584144ull /* "DAXREDO" */

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

/* apply one redo entry stream (used by commit and recovery) */

#endif
