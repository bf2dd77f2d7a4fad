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
#include "tx.h"

struct lane {
	/*
	 * Cache lines by who reads them: the first is written by the lane's
	 * owner on every transaction (busy, gen) and read by nobody else in
	 * steady state; the second holds what every commit's compute_w and
	 * help_collect read of other lanes, written by the owner when it
	 * commits a record; the last two, the seq of each slot's record, are
	 * read by others only for record_touches and lane_unblock. Sharing
	 * one line made every one-word commit of one thread miss on the line
	 * the other thread had just written.
	 */
	_Alignas(64) uint32_t idx;
	uint64_t gen; /* last generation used (lane owner only) */
	_Atomic int busy;
	/*
	 * lane owner only: the W of this lane's newest durable record, a
	 * durable watermark like lanes.w_durable, which commits raise only
	 * now and then (a shared line written by every commit would travel
	 * between the cores)
	 */
	uint64_t w_known;
	/*
	 * The durability watermark (tx.h): seq of this lane's newest record
	 * whose changes are stored but maybe not flushed (0: none), and a lower
	 * bound of the seq being committed right now (0: none). Helpers may
	 * clear pending once they flushed its targets and fenced.
	 */
	_Alignas(64) _Atomic uint64_t pending;
	_Atomic uint64_t inflight;
	/*
	 * seq of the lane's newest record (the largest of slot_seq), stored
	 * right after its slot_seq: record_touches skips a lane whose newest
	 * record is below the watermark without reading its slot_seq lines
	 */
	_Atomic uint64_t top_seq;
	/* seq of each slot's record (the pool's first slot_mask + 1 used) */
	_Alignas(64) _Atomic uint64_t slot_seq[TX_NSLOTS_MAX];
};
static_assert(sizeof(struct lane) == 256, "lane: four cache lines");

/*
 * seq is taken by every commit; w_durable and hw are read by every commit
 * and written seldom; the lane wait queue is touched only when all lanes
 * are busy: three cache lines, so that a commit taking its seq does not
 * take the line the others read.
 */
struct lanes {
	struct lane lane[TX_NLANES];
	/* the commit counter: at least every counted commit's seq (clocked
	 * ones may run ahead of it, tx.h) */
	_Alignas(64) _Atomic uint64_t seq;
	_Alignas(64) _Atomic uint64_t w_durable; /* meta w_seq known durable */
	/* read by every lane_try: not on a line commits write */
	_Alignas(64) _Atomic unsigned hw; /* lanes ever handed out: [0, hw) */
	_Alignas(64) _Atomic int waiters;
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

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
 * the fence that made it durable): slot_seq, then top_seq (record_touches
 * reads top_seq first)
 */
static inline void lane_note_record(const daxo_pool *p, struct lane *ln,
				    uint64_t gen, uint64_t seq)
{
	atomic_store_explicit(&ln->slot_seq[gen & p->slot_mask], seq,
			      memory_order_release);
	atomic_store_explicit(&ln->top_seq, seq, memory_order_release);
}

/* lane_undo -- the undo area of lane @idx, after its slots */
static inline char *lane_undo(const daxo_pool *p, uint32_t idx)
{
	return lane_base(p, idx) + (uint64_t)(p->slot_mask + 1) * TX_SLOT_SIZE;
}

/* commits raise lanes.w_durable when it lags this far behind their W */
#define TX_W_LAG 16u

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

/* tx_lane_get -- a free lane for a new transaction (waits if none is) */
struct lane *tx_lane_get(struct lanes *l) DAXO_HIDDEN;
void tx_lane_put(struct lanes *l, struct lane *ln) DAXO_HIDDEN;
/* tx_lane_unblock -- move @tx to a lane whose next slot is free (lane.c) */
void tx_lane_unblock(struct daxo_tx *tx) DAXO_HIDDEN;

/* ---- redo.c ---- */

/* tx_emit -- append one redo operation (a heap_emit_fn; @ctx is the tx) */
int tx_emit(void *ctx, unsigned op, uint64_t off, uint64_t val) DAXO_HIDDEN;
/* tx_emit_copyv -- one COPY entry of @len bytes gathered from @n pieces */
int tx_emit_copyv(struct daxo_tx *tx, uint64_t off, const struct tx_piece *pc,
		  unsigned n, size_t len) DAXO_HIDDEN;
int tx_emit_copy(struct daxo_tx *tx, uint64_t off, const void *src,
		 size_t len) DAXO_HIDDEN;
/* tx_stream_ok -- every entry well-formed and aimed at the meta or the heap */
bool tx_stream_ok(daxo_pool *p, const uint64_t *w, size_t n) DAXO_HIDDEN;
/* tx_apply -- carry out an entry stream (with @flush, flush each entry) */
void tx_apply(daxo_pool *p, const uint64_t *w, size_t n, bool flush) DAXO_HIDDEN;
/* tx_hdr_valid -- magic, lane and header checksum hold */
bool tx_hdr_valid(const struct redo_hdr *h, uint32_t lane) DAXO_HIDDEN;
/* tx_flush_targets -- flush every range that record @seq of @lane changed
 * (@own: the caller's lane) */
void tx_flush_targets(daxo_pool *p, uint32_t lane, uint64_t seq,
		      bool own) DAXO_HIDDEN;
/* tx_record_touches -- highest seq of a record above the durable W that
 * may change the range, or 0 */
uint64_t tx_record_touches(daxo_pool *p, const struct lane *own, uint64_t off,
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
uint64_t tx_compute_w(struct lanes *l, uint64_t cap) DAXO_HIDDEN;
/* tx_w_publish -- raise the meta W to @w and flush it (no fence) */
uint64_t tx_w_publish(daxo_pool *p, uint64_t w) DAXO_HIDDEN;
void tx_seq_raise(struct lanes *l, uint64_t v) DAXO_HIDDEN;
uint64_t tx_counted_seq(struct lanes *l, uint64_t after) DAXO_HIDDEN;
void tx_w_durable_raise(struct lanes *l, uint64_t v) DAXO_HIDDEN;
void tx_ensure_w(daxo_pool *p, uint64_t x) DAXO_HIDDEN;
void tx_slot_free(struct daxo_tx *tx) DAXO_HIDDEN;
uint64_t tx_take_seq(struct lanes *l, struct lane *ln, uint64_t after,
		     bool clocked) DAXO_HIDDEN;

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
/* tx_open_on -- the calling thread's open (not detached) transaction on @p */
struct daxo_tx *tx_open_on(const daxo_pool *p) DAXO_HIDDEN;
void tx_abort_internal(struct daxo_tx *tx) DAXO_HIDDEN;
int tx_add_act(struct daxo_tx *tx, const struct heap_act *a) DAXO_HIDDEN;

/* tx_target_check -- may @tx change [addr, addr+len)? *@off: its offset */
int tx_target_check(struct daxo_tx *tx, const void *addr, size_t len,
		    const char *what, uint64_t *off) DAXO_HIDDEN;
/* tx_in_new_object -- the object of daxo_tx_alloc holding [off, off+len) */
const struct heap_act *tx_in_new_object(struct daxo_tx *tx, uint64_t off,
					uint64_t len) DAXO_HIDDEN;

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
