/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * txint.h -- what the transaction files share: the volatile lane state,
 * the transaction object and the functions each file gives the others
 * (lane.c, redo.c, order.c, tx.c, commit.c, alloc.c, recover.c). Private
 * to them; see tx.h for the protocol and redo.h for the record format.
 */
#ifndef DAXO_TXINT_H
#define DAXO_TXINT_H 1

#include <pthread.h>
#include <stdatomic.h>

#include "heap.h"
#include "pool.h"
#include "share.h"
#include "tx.h"

/*
 * LANES AND THREADS
 *
 *   A thread keeps the lane it first takes on a pool for as long as it lives
 *   (it is "bound": lane.busy stays 1, and the thread finds the lane in a
 *   thread-local cache), so that beginning a transaction writes no line
 *   another thread writes: no compare-and-swap on a shared word. At most
 *   TX_NBIND lanes are bound; the others, and a bound thread's second
 *   transaction on the pool (an atomic allocation inside its transaction),
 *   take a free lane for one transaction with a compare-and-swap, and a
 *   thread waits when every lane is taken. A thread that exits, or a pool
 *   that closes, gives the lanes back (the registry of open lanes in lane.c
 *   tells a dying thread whether the pool is still there).
 *
 * ORDER
 *
 *   A record's seq orders it for replay: recovery applies the records above
 *   W in seq order. Replay must apply a record after every record it
 *   depends on -- one that wrote a byte this one writes too, earlier in
 *   time (the same word of a run bitmap, the same field of an object, an
 *   object's memory written again after it was freed and allocated anew).
 *   Records with no byte in common may be replayed in any order (their
 *   stores commute, as do OR and AND of different bits of one word). So a
 *   commit takes
 *
 *     seq = max(floor, lane's newest + 1, touched + 1, after + 1)
 *
 *   (tx_take_seq) where touched is the newest seq the touch table holds for
 *   the record's targets (below), after the keyed store's stripe clock, and
 *   floor a pool-wide lower bound that only W scans raise (below). No word
 *   is written for the order of one commit but the commit's own lane's and
 *   the touch table's entries for the bytes it writes: threads that write
 *   disjoint memory share no line.
 *
 *   Why it is enough: a commit R1 raises the entries of every granule it
 *   writes to its seq (compare-and-swap, never lower) before it writes its
 *   record, so before it applies a store or lets go of anything. A later
 *   commit R2 that writes one of those bytes does so after R1 let go of it
 *   (the caller's lock, the heap handing freed memory out again, the stripe
 *   lock), so it reads an entry at least seq(R1) and takes seq(R2) >
 *   seq(R1). Within a lane the newest + 1 orders everything. Two records
 *   may share a seq only if neither wrote a granule the other wrote before
 *   (or they raced, unsynchronized, on the same bytes: the program's own
 *   data race); recovery sorts equal seqs by lane.
 *
 *   Changes made outside records -- a one-word commit, undo ranges and
 *   filled objects left in place, run heads -- raise no entry: replay never
 *   writes them, so nothing needs ordering after them, and rule 2 of tx.h
 *   (every record that wrote those bytes before is at or below the durable
 *   W first) keeps older records from being replayed over them. A later
 *   record that writes the same bytes may take a lower seq than the
 *   commit that changed them in place; replaying it still writes the
 *   newest bytes.
 *
 * THE TOUCH TABLE
 *
 *   lanes.touch[], volatile: the entry of a 64-byte granule (a cache line
 *   of the pool; off >> TX_TOUCH_SHIFT, hashed to one of TX_TOUCH_N
 *   entries: tx_touch_entry) holds the highest seq of a record
 *   that wrote into a granule mapping to it. An entry may only overstate
 *   (granules share entries): that orders more than needed, which is
 *   safe. Marks are made as soon as the seq is known, before the record
 *   is written (the locked instructions then come before the commit's
 *   CLWBs, which they would wait for). The same table answers the
 *   one-word commit, tx_fill in place and daxo_persist (tx.h, rule 2;
 *   tx_range_final): might a record
 *   above the durable W have written these bytes? No if every entry is at
 *   most W; a "maybe" is checked against the records themselves
 *   (tx_records_scan, which reads every lane's slots above W). Granules
 *   are hashed one by one, so that the table's lines are shared between
 *   threads about as often as the data's own lines: threads that write
 *   disjoint cache lines write the same line of the table only when two
 *   of their granules hash to it (8 entries a line, 8192 lines).
 *
 * GUARDED WRITES (the keyed store: tx_guard, tx_mark_at_commit)
 *
 *   A table line holds entries of whichever threads' data hash to it: with
 *   thousands of keys a thread, most raises find their line last written
 *   by another thread. The keyed store needs none of them for the words it
 *   writes under its stripe locks -- bucket heads, next links, per-stripe
 *   counts, values and value checksums of live entries: every such word
 *   belongs to one stripe (nbuckets >= KV_STRIPES, the stripe is h %
 *   KV_STRIPES), so every record that wrote it holds that stripe, and the
 *   stripe clock (tx_commit_kv's @after: the newest seq of the stripes
 *   held) orders them as the table would. A transaction marked with
 *   tx_guard therefore neither reads nor raises the entries of the targets
 *   it staged itself (daxo_tx_write, tx_fill, before its commit), except
 *   that it reads those inside objects it allocated: an entry's first
 *   contents order after whoever wrote that memory before it was freed,
 *   through the table as ever. It does not raise them: while the entry
 *   lives, only its stripe's records write it (the clock orders them), and
 *   the record that frees it marks it with a seq above every one of them
 *   (below) before anyone else can have the memory. The heap's words (act
 *   ops, emitted at commit) are read and raised as ever.
 *
 *   What the table no longer knows, it is told when the memory leaves the
 *   stripe: the transaction that frees an entry or a table marks the range
 *   guarded writes may have reached (tx_mark_at_commit) with its own seq,
 *   before its record is written, so before the heap can hand the memory
 *   out. That seq is above every guarded record that wrote there: an
 *   entry is freed by a record of its own stripe (above the stripe clock),
 *   the old table after a resize by a commit above every stripe's clock
 *   (kv_finish, all stripes held). The memory's next user -- a record
 *   (its targets' entries), a fill in place, daxo_persist, a one-word
 *   commit -- finds the entry above those records and, while any of them
 *   is above the durable W, asks the records themselves (tx_records_scan),
 *   as for any other memory.
 *
 *   Nothing but the keyed store's own transactions writes live entries
 *   and tables (their memory is the library's; a user's writes there are
 *   outside the contract). The one other reader of the table for such
 *   words is the one-word commit of a guarded transaction (an 8-byte value
 *   replaced in place): the table cannot answer it, the stripe clock can
 *   -- the store needs no record when @after is at or below the durable
 *   W (every record that wrote the word is final), else it writes one.
 *
 * THE WATERMARK W (one fence per redo commit)
 *
 *   A commit writes its record, fences once (F1: the commit point), then
 *   applies the entries -- stores only, no flush, no fence. Until someone
 *   flushes what it changed (tx_flush_targets, from the record itself) and
 *   fences, the record is "pending" (struct lane.pending): the lane's next
 *   commit does that before its own F1, and so does anyone who needs W past
 *   it. Leaving the flushes to the next fence means no CLWB is in flight
 *   when the next transaction takes its locks (a locked instruction waits
 *   for earlier CLWBs like a fence). Recovery replays every valid record
 *   whose seq is above the watermark W, in seq order; W = max(pool meta
 *   w_seq, hdr.w of every header-valid record). W only ever claims what is
 *   true: every record with seq <= W had its changes durable when W was
 *   written.
 *
 *   tx_compute_w takes the lowest pending record and the lowest commit in
 *   flight (lane.inflight, a lower bound of its seq) minus one, capped by
 *   cap. The cap must be below the seq of every commit the scan does not
 *   see: the scanner first raises lanes.floor above every lane's newest seq
 *   (raise_floor, a compare-and-swap: a full barrier before the scan's
 *   loads) and takes cap = new floor - 1; a commit publishes its inflight
 *   with a locked exchange before it reads the floor, so a commit the scan
 *   misses read the floor after the raise and takes a seq above cap
 *   (Dekker's argument: each side's store precedes its load, and one of
 *   them sees the other). The floor also keeps new seqs above every W
 *   computed before. Each commit puts a true W into its own header; the
 *   pool meta's w_seq is written only by tx_sync, the one-word commit (tx.h:
 *   ONE WORD) and recovery, so commits share no durable cache line. A
 *   header's W outlives its slot: the lane's next n - 1 records, written
 *   after it was durable, carry at least as much.
 *
 *   A lane needs W only to reuse a slot (rule 1 of tx.h), n - 1 commits
 *   later. It seeks a W that covers the record tx_w_ahead slots ahead (n/2)
 *   in its own W (lane.w_known), then in lanes.w_durable; when neither
 *   does, a commit scans the lanes' pending/inflight lines (reads) and
 *   carries what it found in its record, and raises lanes.w_durable to it
 *   after F1. It scans only if the floor is still what it read for its seq
 *   -- no other lane scanned meanwhile: raising the floor from that value
 *   is the lease (tx_scan_lease) -- or if its very next slot is not
 *   covered. So the lanes share the scans: about one scan, one write of
 *   the floor's line and one of w_durable (the same line) per few
 *   commit-times of the whole pool, not per lane. A scan's W covers
 *   every lane up to about its latest record, so the next is due when a
 *   lane's record n - 1 - tx_w_ahead commits later reaches the seek:
 *   about one scan per n - 1 - tx_w_ahead commit-times, costing one
 *   write of the floor's line and, for each lane it read, the owner's
 *   re-take of the line at its next commit -- per commit about 1 / (n - 1
 *   - tx_w_ahead) shared writes, whatever the number of threads. The
 *   seek distance trades that rate against the commits a lane may still
 *   make while another holds the lease or a commit in flight holds W back
 *   (tx_w_ahead - 1 of them before it scans without the lease). A lane
 *   whose thread went idle keeps its last record pending; whoever needs W
 *   past it helps it (flushes its targets with its own F1 and clears it
 *   after: a write of the idle lane's line, once per idle period). A
 *   transaction with no undo entries whose next slot is held by another
 *   thread's commit in flight moves to a free lane (tx_lane_unblock);
 *   otherwise only a slot needed at once costs tx_ensure_w's two extra
 *   fences.
 */

struct lane {
	/*
	 * Cache lines by who reads them: the first is the owner's (written
	 * on every transaction, read by nobody else); the second holds what
	 * W scans and helpers read of other lanes, written by the owner when
	 * it commits a record; the last two, the seq of each slot's record,
	 * are read by others only when they help this lane.
	 */
	_Alignas(64) uint32_t idx;
	uint64_t gen; /* last generation used (lane owner only) */
	_Atomic int busy; /* taken: bound to a thread, or for one tx */
	/*
	 * lane owner only: the W of this lane's newest durable record, a
	 * durable watermark like lanes.w_durable, which commits raise only
	 * now and then (a shared line written by every commit would travel
	 * between the cores)
	 */
	uint64_t w_known;
	/*
	 * seq of this lane's newest record whose changes are stored but
	 * maybe not flushed (0: none), and a lower bound of the seq being
	 * committed right now (0: none). Helpers may clear pending once they
	 * flushed its targets and fenced.
	 */
	_Alignas(64) _Atomic uint64_t pending;
	_Atomic uint64_t inflight;
	/* seq of the lane's newest record (the largest of slot_seq) */
	_Atomic uint64_t top_seq;
	/* seq of each slot's record (the pool's first slot_mask + 1 used) */
	_Alignas(64) _Atomic uint64_t slot_seq[TX_NSLOTS_MAX];
};
static_assert(sizeof(struct lane) == 256, "lane: four cache lines");
static_assert(offsetof(struct lane, pending) == 64 &&
		  offsetof(struct lane, slot_seq) == 128,
	      "the owner's line, the scanned line, the slots' seqs");

/* lanes threads may keep; the rest serve one transaction at a time */
#define TX_NBIND (TX_NLANES - 8)

#define TX_TOUCH_SHIFT 6
#define TX_TOUCH_BITS 16
#define TX_TOUCH_N (1u << TX_TOUCH_BITS)
/* ranges tx_mark_at_commit keeps; more mark the whole table */
#define TX_MARKS_N 4

/*
 * Lines by who writes them: w_durable when W is raised (seldom), hw when a
 * lane is taken for the first time, the wait queue when every lane is
 * taken; ts_off and touch are set at boot.
 */
struct lanes {
	struct lane lane[TX_NLANES];
	/* read by every commit, written by a scan: one line */
	_Alignas(64) _Atomic uint64_t floor;     /* no new seq below (ORDER) */
	_Atomic uint64_t w_durable; /* meta w_seq known durable */
	_Alignas(64) _Atomic unsigned hw; /* lanes ever handed out: [0, hw) */
	/*
	 * the same, a bit a lane: what the W scans read (lent lanes lie
	 * above the bound ones: a prefix would make two threads' scans read
	 * 58 lanes once one of them borrowed a lane)
	 */
	_Atomic uint64_t used;
	_Alignas(64) uint64_t reserved_;
	_Atomic uint64_t *touch;          /* THE TOUCH TABLE */
	uint64_t id;                      /* unique per open (lane.c) */
	struct lanes *next;               /* the registry of open lanes */
	_Alignas(64) _Atomic int waiters;
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

/* tx_lanes_used -- the lanes ever handed out, a bit each (lanes.used) */
static inline uint64_t tx_lanes_used(struct lanes *l)
{
	share_r(&l->used);
	return atomic_load_explicit(&l->used, memory_order_acquire);
}

static inline char *lane_base(const daxo_pool *p, uint32_t idx)
{
	return p->base + p->hdr.lanes_off + (uint64_t)idx * p->hdr.lane_size;
}

/* lane_slot_at -- redo slot @s of lane @idx */
static inline struct redo_hdr *lane_slot_at(const daxo_pool *p, uint32_t idx,
					    unsigned s)
{
	return (struct redo_hdr *)(lane_base(p, idx) +
				   (uint64_t)s * TX_SLOT_SIZE);
}

/* gen_seq -- the seq of the record in the slot of generation @gen */
static inline uint64_t gen_seq(const daxo_pool *p, const struct lane *ln,
			       uint64_t gen)
{
	return atomic_load_explicit(&ln->slot_seq[gen & p->slot_mask],
				    memory_order_relaxed);
}

/*
 * lane_note_record -- record @seq is in the slot of generation @gen (after
 * the fence that made it durable): slot_seq, then top_seq
 */
static inline void lane_note_record(const daxo_pool *p, struct lane *ln,
				    uint64_t gen, uint64_t seq)
{
	share_w(&ln->slot_seq[gen & p->slot_mask]);
	atomic_store_explicit(&ln->slot_seq[gen & p->slot_mask], seq,
			      memory_order_release);
	share_w(&ln->top_seq);
	atomic_store_explicit(&ln->top_seq, seq, memory_order_release);
}

/* lane_undo -- the undo area of lane @idx, after its slots */
static inline char *lane_undo(const daxo_pool *p, uint32_t idx)
{
	return lane_base(p, idx) + (uint64_t)(p->slot_mask + 1) * TX_SLOT_SIZE;
}

/*
 * tx_w_ahead -- how many slots ahead a lane seeks W (W): n/2, so that 16
 * slots make a scan due every 7 commit-times: 1/7 shared writes a
 * commit. Seeking nearer (n/4: every 11, 0.09 a commit) leaves the
 * durable W further behind the newest records, and memory a record wrote
 * a few commits ago is then not final when it is reused: a summed fill
 * (tx.h) falls back to a COPY (the keyed store's new entries, 8 keys
 * cycled: 360 -> 698 logged bytes a put, test_format).
 */
static inline unsigned tx_w_ahead(const daxo_pool *p)
{
	return MAX(2u, (p->slot_mask + 1) / 2);
}

/* a span of pool offsets [off, end) */
struct span {
	uint64_t off;
	uint64_t end;
};

struct scratch {
	uint64_t off;
	uint32_t n;
};

struct daxo_tx {
	daxo_pool *p;
	struct lane *lane;
	struct daxo_tx *tls_next;
	uint64_t gen; /* lane generation, once anything durable is written */
	int err;      /* a call failed: only abort is allowed */
	bool internal;
	bool bound;   /* the lane is the thread's own (lane.c) */
	uint64_t *rbuf; /* staged redo entries */
	size_t rlen, rcap;
	/* words at the front (and, in a planted-bug build, the back) of rbuf
	 * whose bytes are in place already: not applied at commit */
	size_t nskip, ntail;
	bool rec_ext;   /* the record took extension blocks */
	struct heap_act *acts;
	size_t nacts, capacts;
	/* bytes covered by undo entries (undo.c): ranges sorted, disjoint
	 * and not adjacent; pend newer spans, unsorted, disjoint from all */
	struct span *ranges;
	size_t nranges, capranges;
	struct span *pend;
	size_t npend, cappend;
	struct span *tmp, *pieces; /* scratch of undo.c */
	size_t captmp, cappieces;
	uint64_t *uents; /* pool offsets of this transaction's undo entries */
	size_t nuents, capuents;
	uint64_t upos, uend; /* where the next undo entry goes */
	struct scratch *scr;
	size_t nscr, capscr;
	uint64_t logged;
	unsigned depth;     /* inner blocks open (nest.c) */
	struct tx_cb *cbs;  /* stage callbacks (nest.c) */
	size_t ncbs, capcbs;
	const void *owner;  /* the thread that began it (tx_foreign) */
	bool guard;	    /* tx_guard: GUARDED WRITES */
	unsigned nmarks;    /* tx_mark_at_commit's ranges, TX_MARKS_N at most */
	struct span marks[TX_MARKS_N];
};

/* tx_new_object_len -- bytes of a new object that its commit makes durable */
static inline uint64_t tx_new_object_len(const struct heap_act *a)
{
	return ALIGN_UP(a->size, (uint64_t)CACHELINE);
}

/* records helped by a commit: their targets flushed before its fence */
struct helped {
	unsigned n;
	uint32_t lane[TX_NLANES];
	uint64_t word[TX_NLANES];
};

/* ---- lane.c ---- */

/*
 * tx_lane_get -- a lane for a new transaction: the thread's bound one if it
 * is not in use (@*bound set), else a free one for this transaction (waits
 * if none is)
 */
struct lane *tx_lane_get(daxo_pool *p, bool *bound) DAXO_HIDDEN;
/* tx_lane_put -- the transaction on @ln ended */
void tx_lane_put(daxo_pool *p, struct lane *ln, bool bound) DAXO_HIDDEN;
/* tx_lane_unblock -- move @tx to a lane whose next slot is free (lane.c) */
void tx_lane_unblock(struct daxo_tx *tx) DAXO_HIDDEN;

/* ---- redo.c ---- */

/* tx_emit -- append one redo operation (a heap_emit_fn; @ctx is the tx) */
int tx_emit(void *ctx, unsigned op, uint64_t off, uint64_t val) DAXO_HIDDEN;
/* tx_emit_copyv -- one COPY entry of @len bytes gathered from @n pieces */
int tx_emit_copyv(struct daxo_tx *tx, uint64_t off, const struct tx_piece *pc,
		  unsigned n, size_t len) DAXO_HIDDEN;
/*
 * tx_emit_sum -- a SUM entry for the @len bytes at @off, written in place
 * already (tx.h: SUMMED FILLS)
 */
int tx_emit_sum(struct daxo_tx *tx, uint64_t off, uint64_t len) DAXO_HIDDEN;
int tx_emit_copy(struct daxo_tx *tx, uint64_t off, const void *src,
		 size_t len) DAXO_HIDDEN;
/* tx_stream_ok -- every entry well-formed and aimed at the meta or the heap */
bool tx_stream_ok(daxo_pool *p, const uint64_t *w, size_t n) DAXO_HIDDEN;
/* tx_apply -- carry out an entry stream (with @flush, flush each entry) */
void tx_apply(daxo_pool *p, const uint64_t *w, size_t n, bool flush) DAXO_HIDDEN;
/* tx_hdr_valid -- magic, lane and header checksum hold */
bool tx_hdr_valid(const struct redo_hdr *h, uint32_t lane) DAXO_HIDDEN;
/* tx_flush_targets -- flush every range that record @seq of @lane changed;
 * @own_gen: for the caller's own lane, the generation the record most
 * likely has (its slot is looked at first), else TX_FLUSH_OTHER */
#define TX_FLUSH_OTHER UINT64_MAX
void tx_flush_targets(daxo_pool *p, uint32_t lane, uint64_t seq,
		      uint64_t own_gen) DAXO_HIDDEN;
/* tx_records_scan -- the highest seq above @wd of a record that may write
 * [off, off+len), or 0 (reads every lane's records) */
uint64_t tx_records_scan(daxo_pool *p, uint64_t wd, uint64_t off,
			 uint64_t len) DAXO_HIDDEN;
/* tx_scratch_take -- extension blocks for at least @bytes of log */
int tx_scratch_take(struct daxo_tx *tx, uint64_t bytes, uint64_t *off,
		    uint32_t *n) DAXO_HIDDEN;
/* tx_write_record -- the redo record of @tx's generation into its slot */
int tx_write_record(struct daxo_tx *tx, uint64_t seq, uint64_t w) DAXO_HIDDEN;
/* tx_write_done -- an empty record: generation @gen ended */
void tx_write_done(daxo_pool *p, uint32_t lane, uint64_t gen, uint64_t seq,
		   uint64_t w) DAXO_HIDDEN;

/* ---- order.c ---- */

void tx_help_collect_below(daxo_pool *p, struct helped *hp,
			   uint64_t below) DAXO_HIDDEN;
void tx_help_collect(daxo_pool *p, struct helped *hp) DAXO_HIDDEN;
void tx_help_release(daxo_pool *p, const struct helped *hp) DAXO_HIDDEN;
/*
 * tx_cap_now -- raise the floor above every seq taken so far and return the
 * W cap that gives: a shared write, for the slow paths (ORDER, W)
 */
uint64_t tx_cap_now(struct lanes *l) DAXO_HIDDEN;
uint64_t tx_compute_w(struct lanes *l, uint64_t cap) DAXO_HIDDEN;
/* tx_w_publish -- raise the meta W to @w and flush it (no fence) */
uint64_t tx_w_publish(daxo_pool *p, uint64_t w) DAXO_HIDDEN;
void tx_w_durable_raise(struct lanes *l, uint64_t v) DAXO_HIDDEN;
/* tx_w_durable -- the durable W as far as lane @ln knows without a scan */
uint64_t tx_w_durable(const struct lanes *l,
		      const struct lane *ln) DAXO_HIDDEN;
void tx_ensure_w(daxo_pool *p, uint64_t x) DAXO_HIDDEN;
/*
 * tx_scan_lease -- the floor is still @seen (no scan since the caller's
 * commit read it): raise it and return the W cap for the caller's scan;
 * else 0, and the caller leaves the scan to whoever raised it (W)
 */
uint64_t tx_scan_lease(struct lanes *l, uint64_t seen) DAXO_HIDDEN;
void tx_slot_free(struct daxo_tx *tx) DAXO_HIDDEN;
/*
 * tx_take_seq -- the seq of the record about to be written, its lower bound
 * in the lane's inflight first: above the floor, the lane's newest,
 * @touched (the touch table's newest for its targets) and @after;
 * *@floor_seen is the floor it read
 */
uint64_t tx_take_seq(struct lanes *l, struct lane *ln, uint64_t after,
		     uint64_t touched, uint64_t *floor_seen) DAXO_HIDDEN;
/*
 * tx_touch_entry -- the entry of granule @g: granules hashed one by one, so
 * that neighbouring granules -- memory of different threads a few lines
 * apart -- fall on different lines of the table (TOUCH TABLE)
 */
static inline _Atomic uint64_t *tx_touch_entry(struct lanes *l, uint64_t g)
{
	return &l->touch[(g * 0x9e3779b97f4a7c15ull) >> (64 - TX_TOUCH_BITS)];
}
/* tx_touch_raise -- entry @e to at least @seq (inline: every commit raises
 * an entry per granule it writes) */
static inline void tx_touch_raise(_Atomic uint64_t *e, uint64_t seq)
{
#ifndef DAXO_PLANT_TOUCH_UNMARKED /* crash-sim test: the table never learns */
	share_r(e);
	uint64_t cur = atomic_load_explicit(e, memory_order_relaxed);
	while (cur < seq) {
		share_w(e);
		if (atomic_compare_exchange_weak_explicit(e, &cur, seq,
							  memory_order_release,
							  memory_order_relaxed))
			break;
	}
#else
	(void)e;
	(void)seq;
#endif
}
/* tx_touch_mark -- a record of @seq writes [off, off+len) (TOUCH TABLE) */
void tx_touch_mark(struct lanes *l, uint64_t off, uint64_t len,
		   uint64_t seq) DAXO_HIDDEN;
/* tx_touch_max -- the highest seq the table holds for [off, off+len) */
uint64_t tx_touch_max(struct lanes *l, uint64_t off, uint64_t len) DAXO_HIDDEN;
/* tx_record_touches -- the highest seq of a record above the durable W that
 * may have written [off, off+len), or 0 */
uint64_t tx_record_touches(daxo_pool *p, const struct lane *own, uint64_t off,
			   uint64_t len) DAXO_HIDDEN;

/* ---- tx.c ---- */

/* tx_grow -- make room for @need elements in a growable array */
int tx_grow_slow(void *arrp, size_t *cap, size_t need, size_t elsz) DAXO_HIDDEN;
static inline int tx_grow(void *arrp, size_t *cap, size_t need, size_t elsz)
{
	return likely(need <= *cap) ? 0 : tx_grow_slow(arrp, cap, need, elsz);
}
/*
 * tx_start -- a transaction on @p with a lane (@internal: not the user's,
 * nor joined); a user's begin joins the thread's open transaction on @p
 */
int tx_start(daxo_pool *p, bool internal, struct daxo_tx **out) DAXO_HIDDEN;
/* tx_end -- release the lane and the scratch space; keep the buffers */
void tx_end(struct daxo_tx *tx) DAXO_HIDDEN;
/* tx_fail -- remember the first failure: only abort is allowed after it */
int tx_fail(struct daxo_tx *tx, int err) DAXO_HIDDEN;
/*
 * tx_user_oid -- -EINVAL for a caller's free or move of the root object, or
 * an allocation of a type of the library's (@type, DAXO_TYPE_LIB and up;
 * DAXO_TYPE_ANY: no type to check): daxo_root alone makes, grows and keeps
 * the root, the keyed store its own objects
 */
int tx_user_oid(daxo_pool *p, daxo_oid victim, uint32_t type,
		const char *fn) DAXO_HIDDEN;
/*
 * tx_lib_free -- -EINVAL, the free @a cancelled, if a caller's free found
 * an object of the library's (its type, which heap_prepare_free read)
 */
int tx_lib_free(daxo_pool *p, struct heap_act *a, const char *fn) DAXO_HIDDEN;
/*
 * tx_foreign -- 0 if the calling thread began @tx; else -EPERM with a
 * message naming @fn (a transaction belongs to its thread: daxo.h), or
 * -EBADFD in a child of fork() (the parent's transaction, open at the
 * fork). The caller changes nothing on either: the owner may be using @tx.
 */
int tx_foreign(const struct daxo_tx *tx, const char *fn) DAXO_HIDDEN;
/* tx_open_on -- the calling thread's open (not detached) transaction on @p */
struct daxo_tx *tx_open_on(const daxo_pool *p) DAXO_HIDDEN;
/*
 * tx_holds -- does @tx have a stake in [off, off+len): bytes it logged
 * (add_range) or staged (a write), or an object it allocates or frees?
 */
bool tx_holds(const struct daxo_tx *tx, uint64_t off, uint64_t len) DAXO_HIDDEN;
void tx_abort_internal(struct daxo_tx *tx) DAXO_HIDDEN;
int tx_add_act(struct daxo_tx *tx, const struct heap_act *a) DAXO_HIDDEN;

/* tx_target_check -- may @tx change [addr, addr+len)? *@off: its offset */
int tx_target_check(struct daxo_tx *tx, const void *addr, size_t len,
		    const char *what, uint64_t *off) DAXO_HIDDEN;
/*
 * tx_new_object -- is @oid an object @tx allocated (and did not free)?
 * Then its size (as asked, to the cache line) and type: it is not in the
 * heap's bitmaps until the commit
 */
bool tx_new_object(const struct daxo_tx *tx, daxo_oid oid, uint64_t *usable,
		   uint32_t *type) DAXO_HIDDEN;
/* tx_in_new_object -- the object of daxo_tx_alloc holding [off, off+len) */
const struct heap_act *tx_in_new_object(const struct daxo_tx *tx,
					    uint64_t off, uint64_t len) DAXO_HIDDEN;

/* ---- undo.c ---- */

/* tx_ranges_settle -- tx->ranges holds every covered span (sorted, merged) */
int tx_ranges_settle(struct daxo_tx *tx) DAXO_HIDDEN;
/* tx_rollback -- restore the undo entries of @tx, newest first */
void tx_rollback(struct daxo_tx *tx) DAXO_HIDDEN;

/* ---- alloc.c ---- */

/* tx_reserve -- heap_reserve, publishing a new run when the heap makes one */
int tx_reserve(daxo_pool *p, uint64_t size, uint32_t type,
	       struct heap_act *a) DAXO_HIDDEN;

/* ---- recover.c ---- */

/* tx_recover -- replay committed records, roll back the rest */
int tx_recover(daxo_pool *p) DAXO_HIDDEN;

#endif
