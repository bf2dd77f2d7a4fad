/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * redo.h -- the redo record's on-media format, private to the transaction
 * code (redo.c writes and reads it) and to what must know its operations:
 * heap_act.c (the operations an allocation or a free is made of),
 * check_log.c.
 *
 * REDO RECORD (one per committing transaction)
 *
 *   struct redo_hdr (64 bytes) then the entry stream; a stream longer than
 *   the slot continues in extension blocks (chunks taken from the heap
 *   volatile-only), chained by hdr.next and ext.next. hcsum covers the
 *   header (bytes 8..63), scsum the stream. A record is "header-valid" if
 *   magic, lane and hcsum hold, "valid" if the stream checksum holds too.
 *
 *   Entries, 8-byte aligned: word0 = op << 56 | pool offset, word1 = value;
 *     SET64 off val | SET32 off val | OR64 off mask | AND64 off mask |
 *     COPY off len, then len bytes padded to 8 |
 *     SUM off len sum  (pools with POOL_INCOMPAT_SUMS, format 1.5) |
 *     NOTE off len     (idem)
 *   Recovery accepts a record only if every entry targets the pool meta or
 *   the heap and lies inside the stream.
 *
 *   SUM: the len bytes at off were written in place, before the record,
 *   and flushed with it under the commit's one fence; sum is
 *   XXH3_64bits(bytes, len) ^ off * 0x9e3779b97f4a7c15. Replay writes nothing for it.
 *   NOTE: the record frees memory [off, off+len) that a SUM of an earlier
 *   record may cover; it writes nothing either. Both "meet" their range
 *   (redo_stream_meets), so both order later writers after them. Why a
 *   SUM that no longer matches means a torn commit, and when: tx.h, SUMMED
 *   FILLS.
 *
 * Where records live (lane slots) and when they are replayed is in tx.h.
 */
#ifndef DAXO_REDO_H
#define DAXO_REDO_H 1

#include "internal.h"

enum redo_op {
	REDO_SET64 = 1,
	REDO_SET32 = 2,
	REDO_OR64 = 3,
	REDO_AND64 = 4,
	REDO_COPY = 5,
	REDO_SUM = 6,
	REDO_NOTE = 7,
};

#define REDO_OFF_MASK ((1ull << 56) - 1)

/* redo_sum -- the checksum a SUM entry at @off holds of its @len bytes */
uint64_t redo_sum(const void *src, uint64_t len, uint64_t off) DAXO_HIDDEN;

/* redo_writes -- does replaying entry op @op store anything? */
static inline bool redo_writes(uint64_t op)
{
	return op != REDO_SUM && op != REDO_NOTE;
}

/* redo_entry_words -- words of the entry at @w (0: malformed) */
static inline size_t redo_entry_words(const uint64_t *w, size_t left)
{
	if (left < 2)
		return 0;
	switch (w[0] >> 56) {
	case REDO_SET64:
	case REDO_SET32:
	case REDO_OR64:
	case REDO_AND64:
	case REDO_NOTE:
		return 2;
	case REDO_SUM:
		return left < 3 ? 0 : 3;
	case REDO_COPY:
		if (w[1] > (left - 2) * 8)
			return 0;
		return 2 + (size_t)((w[1] + 7) / 8);
	default:
		return 0;
	}
}

/*
 * redo_entry_len -- bytes the (well-formed) entry at @w writes (SUM: wrote
 * in place before the record; NOTE: the range it frees)
 */
static inline uint64_t redo_entry_len(const uint64_t *w)
{
	switch (w[0] >> 56) {
	case REDO_COPY:
	case REDO_SUM:
	case REDO_NOTE:
		return w[1];
	case REDO_SET32:
		return 4;
	default:
		return 8;
	}
}

/*
 * redo_stream_meets -- might the entries w[0..n) write a byte of
 * [off, end)? SUM entries count (their bytes were written for the
 * record), NOTE entries only with @notes. A malformed entry answers yes
 * (nothing after it is known).
 */
static inline bool redo_stream_meets(const uint64_t *w, size_t n,
				     uint64_t off, uint64_t end, bool notes)
{
	for (size_t i = 0; i < n;) {
		size_t k = redo_entry_words(&w[i], n - i);
		if (!k)
			return true;
		uint64_t o = w[i] & REDO_OFF_MASK;
		if (o < end && off < o + redo_entry_len(&w[i]) &&
		    (notes || (w[i] >> 56) != REDO_NOTE))
			return true;
		i += k;
	}
	return false;
}

/*
 * redo_sum_broken -- the first SUM entry of the (well-formed) stream
 * w[0..n) whose bytes, at @base + off, no longer match it: true and its
 * range in *@off, *@len; false if every one matches
 */
static inline bool redo_sum_broken(const uint64_t *w, size_t n,
				   const uint8_t *base, uint64_t *off,
				   uint64_t *len)
{
	for (size_t i = 0; i < n;) {
		size_t k = redo_entry_words(&w[i], n - i);
		if (!k)
			return false;
		if ((w[i] >> 56) == REDO_SUM) {
			uint64_t o = w[i] & REDO_OFF_MASK;
			if (redo_sum(base + o, w[i + 1], o) != w[i + 2]) {
				*off = o;
				*len = w[i + 1];
				return true;
			}
		}
		i += k;
	}
	return false;
}

struct redo_hdr {
	uint64_t hcsum;    /* 0: xxh64 of bytes 8..63 */
	uint64_t seq;      /* 8: commit order, >= 1 (tx.h: CLOCKED COMMITS) */
	uint64_t gen;      /* 16: lane generation, >= 1 */
	uint64_t nbytes;   /* 24: stream length */
	uint64_t next;     /* 32: first extension block, or 0 */
	uint64_t scsum;    /* 40: xxh64 of the stream */
	uint64_t w;        /* 48: watermark known when it was written */
	uint64_t magic;    /* 56: REDO_MAGIC | lane << 48 */
};
static_assert(sizeof(struct redo_hdr) == 64, "redo header");
static_assert(offsetof(struct redo_hdr, seq) == 8, "hcsum covers 8..63");

#define REDO_MAGIC 0x4f4445524441ull /* "ADREDO" in the low 48 bits */

/* an extension block (of a redo record or an undo log): a run of chunks
 * taken for one log */
struct log_ext {
	uint64_t next; /* next block, or 0 */
	uint64_t cap;  /* data bytes in this block */
	uint64_t pad[6];
};
static_assert(sizeof(struct log_ext) == 64, "log ext header");

#endif
