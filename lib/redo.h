/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * redo.h -- the redo record's on-media format, private to the transaction
 * code (redo.c writes and reads it) and to what must know its operations:
 * heap.c (the operations an allocation or a free is made of), check.c.
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
 *     COPY off len, then len bytes padded to 8
 *   Recovery accepts a record only if every entry targets the pool meta or
 *   the heap and lies inside the stream.
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
};

#define REDO_OFF_MASK ((1ull << 56) - 1)

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
		return 2;
	case REDO_COPY:
		if (w[1] > (left - 2) * 8)
			return 0;
		return 2 + (size_t)((w[1] + 7) / 8);
	default:
		return 0;
	}
}

/* redo_entry_len -- bytes the (well-formed) entry at @w writes */
static inline uint64_t redo_entry_len(const uint64_t *w)
{
	switch (w[0] >> 56) {
	case REDO_COPY:
		return w[1];
	case REDO_SET32:
		return 4;
	default:
		return 8;
	}
}

/*
 * redo_stream_meets -- might the entries w[0..n) write a byte of
 * [off, end)? A malformed entry answers yes (nothing after it is known).
 */
static inline bool redo_stream_meets(const uint64_t *w, size_t n,
				     uint64_t off, uint64_t end)
{
	for (size_t i = 0; i < n;) {
		size_t k = redo_entry_words(&w[i], n - i);
		if (!k)
			return true;
		uint64_t o = w[i] & REDO_OFF_MASK;
		if (o < end && off < o + redo_entry_len(&w[i]))
			return true;
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
