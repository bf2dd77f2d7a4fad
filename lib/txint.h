/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * txint.h -- what tx.c shares with recover.c: the volatile lane state and
 * the record helpers. Private to the two; see tx.h for the protocol.
 */
#ifndef DAXO_TXINT_H
#define DAXO_TXINT_H 1

#include <pthread.h>
#include <stdatomic.h>

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

/* tx_grow -- make room for @need elements in a growable array */
int tx_grow(void *arrp, size_t *cap, size_t need, size_t elsz) DAXO_HIDDEN;
/* tx_stream_ok -- every entry well-formed and aimed at the meta or the heap */
bool tx_stream_ok(daxo_pool *p, const uint64_t *w, size_t n) DAXO_HIDDEN;
/* tx_apply -- carry out an entry stream (with @flush, flush each entry) */
void tx_apply(daxo_pool *p, const uint64_t *w, size_t n, bool flush) DAXO_HIDDEN;
/* tx_hdr_valid -- magic, lane and header checksum hold */
bool tx_hdr_valid(const struct redo_hdr *h, uint32_t lane) DAXO_HIDDEN;
/* tx_write_done -- an empty record: generation @gen ended */
void tx_write_done(daxo_pool *p, uint32_t lane, uint64_t gen, uint64_t seq,
		   uint64_t w) DAXO_HIDDEN;
/* tx_recover -- replay committed records, roll back the rest (recover.c) */
int tx_recover(daxo_pool *p) DAXO_HIDDEN;

#endif
