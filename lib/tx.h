/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tx.h -- lanes, redo records, undo logs, transactions and recovery.
 *
 * LANES
 *
 * The lanes region holds TX_NLANES lanes of TX_LANE_SIZE(n) bytes, n redo
 * slots each: 16 in pools of format 1.1 (POOL_INCOMPAT_SLOTS16), 4 in pools
 * of format 1.0; daxo_pool.slot_mask is n - 1. A transaction holds one lane
 * from daxo_tx_begin to the end of commit or abort; a lane is used by one
 * transaction at a time, and a thread keeps its lane between transactions
 * (txint.h: LANES AND THREADS). Each lane has
 *
 *   +0          redo slots 0..n-1 (n x TX_SLOT_SIZE)
 *   +n x 2048   undo area         (TX_UNDO_SIZE)
 *
 * Transactions in a lane are numbered by a generation g (u64, from 1) that
 * grows by one for every transaction that writes anything durable.
 * Transaction g writes its redo record into slot g % n, so the records of
 * the n - 1 generations before it stay intact while it is being written.
 * The more slots, the longer a lane commits before the durable watermark
 * must pass the record its next slot holds (txint.h: THE WATERMARK W).
 *
 * REDO RECORD: the format is in redo.h. Transaction g of a lane writes its
 *   record into slot g % n.
 *
 * UNDO LOG
 *
 *   The undo area starts with a 64-byte header; entries follow:
 *   struct undo_ent {csum, gen, off, len} then len bytes padded to 8.
 *   csum (xxh64) covers gen, off, len and the data. A JUMP entry (len =
 *   UNDO_JUMP, off = the next block) continues the log in an extension
 *   block. Reading stops at the first entry whose gen differs from the first
 *   entry's or whose checksum fails. A transaction logs only bytes it does
 *   not cover yet (undo.c keeps the covered set), so its entries are
 *   disjoint and each holds the bytes as they were before the transaction.
 *   One fence per daxo_tx_add_range(s) call that logged anything: the
 *   snapshot is durable before the caller changes the range.
 *
 * ORDER, THE WATERMARK W (one fence per redo commit)
 *
 *   Records are replayed in the order of their seq, a clock reading (txint.h:
 *   ORDER), and only those above the watermark W, below which every record
 *   is known to have its changes durable (txint.h: THE WATERMARK W).
 *   Recovery takes W = max(pool meta w_seq, hdr.w of every header-valid
 *   record). Two rules keep replay from ever undoing newer data:
 *   1. A slot is overwritten only when the durable W covers the record in
 *      it (tx_slot_free). So every record above W is still on media, and
 *      replaying all of them in seq order rebuilds the newest state of
 *      everything they touched.
 *   2. Changes made outside a record -- undo ranges the record does not
 *      copy, objects of daxo_tx_alloc filled in place, daxo_persist, run
 *      heads, one-word commits -- are made only after every older record
 *      that wrote the same bytes is final: the commit (or tx_sync) first
 *      flushes what every pending record changed (a thread may flush lines
 *      another thread wrote: "helping") and fences, so the W in its record,
 *      or the W it publishes and fences, covers them. A record replayed
 *      over an in-place change would otherwise undo it. W cannot pass a
 *      commit in flight in another lane whose lower bound is older (its
 *      seq taken long ago, or its bound the pending record just helped):
 *      then the record also carries the new bytes of the ranges changed in
 *      place (COPY entries, replayed after the older records), or for more
 *      than 1536 bytes or objects filled in place the commit waits for W
 *      and publishes it (tx_ensure_w, two fences). Objects of tx_fill,
 *      freshly allocated and written in place, one-word commits and
 *      daxo_persist of a range need no help when no record above the
 *      durable W wrote their bytes (the touch table, txint.h): no replay
 *      can land on them. (A persist also fences what its thread flushed
 *      before with daxo_flush: it needs no help only when those ranges
 *      passed the same check, lib/sync.c.) A filled
 *      object's commit still fences it before the record (2 fences) but
 *      flushes nothing of other threads'.
 *
 * COMMIT (fences marked F)
 *
 *   add_range(s): write undo entries, flush             F (one per call)
 *   commit:     if changes stay in place (below):
 *               help pending records, flush them         F   in place first
 *               write record (seq, gen, w, entries),
 *               flush the targets of the lane's
 *               previous record                          F1  commit point
 *               apply entries (stores only)              --  (next fence)
 *               records with extension blocks only:      F2  (blocks freed)
 *   The record copies what the transaction changed in place while it fits
 *   its slot (1984 bytes of entries): the bytes of the covered undo ranges
 *   (COPY entries at the front of the stream, so that redo entries of the
 *   same transaction over the same bytes are replayed after them, as they
 *   were applied after the caller's stores; the commit does not apply them
 *   again) and objects of daxo_tx_alloc. Replay then rebuilds them in
 *   commit order like any redo change: they need no help and no fence of
 *   their own, and their lines are flushed with the record's other targets
 *   (pending). A larger transaction leaves them in place (the first F).
 *   So: tx_write/tx_free/small tx_alloc transactions and atomic alloc/free 1
 *   fence; k add_range calls k + 1 (k + 2 past 1984 bytes); large tx_alloc
 *   2. Nothing changed: no fence.
 *
 *   ONE WORD. A transaction that is one aligned 8-byte daxo_tx_write needs
 *   no record at all (the store is failure-atomic): store, flush, 1 fence,
 *   1 line -- unless a record above the durable W writes the same word
 *   (tx_record_touches), which replay would put back over the store. Then
 *   the commit helps the records up to the newest such one (a fence, if
 *   any was pending: its changes must be durable before a W covers it),
 *   computes W and, when W reaches it, publishes W in the pool meta,
 *   flushed with the word before the one fence: 2 lines, and the word's
 *   next one-word commits find no record above W (1 line again). When a
 *   commit in flight holds W below it, the transaction writes a record.
 *
 * SUMMED FILLS (format 1.5, POOL_INCOMPAT_SUMS)
 *
 *   A keyed-store entry of up to TX_FILL_INLINE bytes is written once: in
 *   place, with plain stores, when the transaction fills it (tx_fill), and
 *   named in the record by a SUM entry -- its range and a checksum of its
 *   bytes -- instead of a COPY of them. The commit flushes the entry with
 *   the record (after its locked instructions) and one fence, F1, makes
 *   both durable: 1 fence, and the bytes cross the cache and the media
 *   once instead of twice. Only when no record above the durable W may
 *   have written that memory (rule 2: replay would land on the new bytes;
 *   else the COPY path), only for the whole of a new object of a guarded
 *   transaction with no undo entries (the keyed store's: nothing else
 *   writes its objects), and never twice in one transaction (tx_fill is
 *   final).
 *
 *   Recovery must tell a record whose fence never completed -- its
 *   entry's lines partly durable, the record's perhaps all -- from one
 *   that committed. The rule: a valid record above W with a SUM entry
 *   whose bytes no longer match, and no other valid record above W whose
 *   stream meets those bytes (a NOTE counts), is dropped: not replayed,
 *   as if torn. Why it is right:
 *   - If F1 completed, the bytes were durable and matched. After F1 they
 *     change only through a record: the keyed store writes a live entry
 *     only through its records (the same-length value, the next link),
 *     and a record that frees an entry names it in a NOTE entry
 *     (tx_note_free), so that whatever happens to the memory after the
 *     free comes after a record that meets it. That record is valid (its
 *     effects follow its own fence) and, its seq being above this one's
 *     (the stripe clock, the touch table), it is above W and on media
 *     (rule 1). So a committed record's mismatch always has another
 *     record meeting the bytes, and is replayed as ever.
 *   - If F1 did not complete, the commit never returned and nothing it
 *     did was applied or published: the entry's memory was the
 *     transaction's reservation alone, so no other record can meet it
 *     exactly (SUM, NOTE and write ranges are exact), and dropping the
 *     record loses only an operation that was never acknowledged. A torn
 *     record whose bytes happen to match is replayed: it is complete.
 *   What rule 2 asks of changes made outside records holds for SUM
 *   entries as for COPY entries: a SUM entry meets its range
 *   (tx_records_scan), and the record that frees the entry marks its
 *   granules in the touch table above every record of its stripe
 *   (txint.h: GUARDED WRITES), so nothing writes that memory in place
 *   while the record is above the durable W. NOTE entries write nothing
 *   and need not be final before the memory is reused (tx_records_scan
 *   passes them over).
 *
 * RECOVERY (at open, before the heap is read)
 *
 *   1. W from the pool meta and every header-valid record.
 *   2. Replay every valid record with seq > W in seq order, but for those
 *      dropped as torn by their SUM entries (SUMMED FILLS).
 *   3. The undo entries of generation u (the log's first entry) are void if
 *      a header-valid record of a later generation exists (u ended before
 *      it began) or a valid record of generation u (u committed, or aborted
 *      and said so). Otherwise restore them in reverse order.
 *   4. Fence; write a "done" record (no entries) for every rolled-back
 *      generation; set the meta W to the highest seq; fence.
 *
 *   Slot g%n is overwritten only by g+n, which starts after g+1..g+n-1 ended
 *   with durable records, so while g's record may be gone, a header of a
 *   later generation is there. A header alone never voids g's own entries:
 *   g's header may be durable while its stream is torn (not committed).
 */
#ifndef DAXO_TX_H
#define DAXO_TX_H 1

#include <string.h>

#include "internal.h"
#include "redo.h"

#define TX_NLANES 64u
#define TX_NSLOTS_MAX 16u
#define TX_SLOT_SIZE 2048u
#define TX_UNDO_SIZE 8192u
/* a lane of @n redo slots: the slots, then the undo area */
#define TX_LANE_SIZE(n) ((n) * TX_SLOT_SIZE + TX_UNDO_SIZE)

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

/*
 * tx_abort_open -- roll back the calling thread's open transaction on @p,
 * inner blocks and all (its abort callbacks run); true if there was one
 */
bool tx_abort_open(daxo_pool *p) DAXO_HIDDEN;

/*
 * tx_forget_open -- take the calling thread's open transactions on @p out
 * of its list and free them, touching neither the pool nor its lanes (a
 * child of fork(2) closing its parent's handle)
 */
void tx_forget_open(const daxo_pool *p) DAXO_HIDDEN;

/*
 * tx_thread_end -- the calling thread is exiting: roll back each
 * transaction it still has open, inner blocks and all, as daxo_tx_abort
 * (before its lanes go back to their pools: lane.c). Its in-place stores
 * would otherwise stay in the pool, uncommitted, and its lane, handed to
 * another thread, would lose the log that could undo them.
 */
void tx_thread_end(void) DAXO_HIDDEN;

/*
 * tx_sync -- a fence after which every transaction committed so far is
 * final: no record of theirs will be replayed at recovery (helps pending
 * records and publishes the watermark: 2 fences, 3 when records were
 * pending; 1 when no lane has a record above the durable W). Used before
 * stores made outside transactions.
 */
void tx_sync(daxo_pool *p) DAXO_HIDDEN;

/*
 * tx_range_final -- no record above the durable W may have written
 * [off, off+len) (the touch table, txint.h: a "no" is certain): stores
 * made there outside transactions need only their own flush and fence,
 * not tx_sync (rule 2). false means maybe.
 */
bool tx_range_final(daxo_pool *p, uint64_t off, uint64_t len) DAXO_HIDDEN;

/*
 * tx_alloc_raw -- daxo_tx_alloc for callers that will give the whole
 * object with one tx_fill: nothing is written now (no zeroing).
 */
int tx_alloc_raw(daxo_tx *tx, uint64_t size, uint32_t type,
		 daxo_oid *out) DAXO_HIDDEN;

/*
 * tx_alloc_lib, tx_free_lib, alloc_lib, free_lib -- daxo_tx_alloc,
 * daxo_tx_free, daxo_alloc and daxo_free for the library's own objects
 * (types DAXO_TYPE_LIB and up: the keyed store's), which the public calls
 * refuse
 */
int tx_alloc_lib(daxo_tx *tx, uint64_t size, uint32_t type,
		 daxo_oid *out) DAXO_HIDDEN;
int tx_free_lib(daxo_tx *tx, daxo_oid oid) DAXO_HIDDEN;
int alloc_lib(daxo_pool *p, uint64_t size, uint32_t type,
	      daxo_oid *dst) DAXO_HIDDEN;
int free_lib(daxo_pool *p, daxo_oid *dst) DAXO_HIDDEN;

/* a piece of an object's contents, for tx_fill */
struct tx_piece {
	const void *src;
	size_t len;
};

/* tx_pieces_copy -- @n pieces laid end to end at @dst */
static inline void tx_pieces_copy(void *dst, const struct tx_piece *pc,
				  unsigned n)
{
	char *d = dst;

	for (unsigned k = 0; k < n; k++) {
		memcpy(d, pc[k].src, pc[k].len);
		d += pc[k].len;
	}
}

/*
 * tx_fill -- the contents of @oid, an object of tx_alloc_raw, from @n
 * pieces laid end to end (at most the size asked for; the rest of the
 * object is left as it was). Final: the object must not be changed again
 * in the transaction. A small object goes into the record as one COPY
 * entry built straight from the pieces (its memory is written when the
 * record is applied: 1 fence). A larger one (more than TX_FILL_INLINE
 * bytes, or no room left in the slot) is written in place with
 * persist_memcpy -- non-temporal stores for all but short pieces -- and
 * is already flushed when the commit fences (the in-place commit: 2
 * fences), so its bytes cross the cache once instead of being zeroed,
 * copied and flushed.
 */
int tx_fill(daxo_tx *tx, daxo_oid oid, const struct tx_piece *pc,
	    unsigned n) DAXO_HIDDEN;
#define TX_FILL_INLINE 1536u

/*
 * tx_guard -- the caller's locks order every write it stages in @tx with
 * daxo_tx_write (tx_commit_kv's @after is their newest seq): those targets
 * stay out of the touch table, except inside objects @tx allocates
 * (txint.h: GUARDED WRITES). Memory such writes reached is marked with
 * tx_mark_at_commit by the transaction that gives it back.
 */
void tx_guard(daxo_tx *tx) DAXO_HIDDEN;

/*
 * tx_mark_at_commit -- the commit marks [off, off+len) in the touch table
 * with its seq before its record is written: memory guarded writes may
 * have changed, freed by this transaction
 */
void tx_mark_at_commit(daxo_tx *tx, uint64_t off, uint64_t len) DAXO_HIDDEN;

/*
 * tx_note_free -- a NOTE entry: @tx frees [off, off+len), which a SUM entry
 * of an earlier record may cover (SUMMED FILLS)
 */
int tx_note_free(daxo_tx *tx, uint64_t off, uint64_t len) DAXO_HIDDEN;

/*
 * tx_commit_kv -- daxo_tx_commit for the keyed store: the record's seq is
 * above @after (the newest seq of the stripes the caller holds; txint.h:
 * ORDER); *@seq_out is the record's seq, or 0 when none was written.
 */
int tx_commit_kv(daxo_tx *tx, uint64_t after, uint64_t *seq_out) DAXO_HIDDEN;

/* daxo_root lives in alloc.c: its first call is a transaction */

#endif
