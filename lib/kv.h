/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kv.h -- the keyed object store (daxo_put/get/del/foreach): its on-media
 * format, its volatile state, and the protocol that keeps it crash-atomic
 * and safe for lock-free readers.
 *
 * ON-MEDIA FORMAT (little-endian; every object a heap object)
 *
 *   pool meta kv_root  -> anchor (type KV_TYPE_ANCHOR), created by the first
 *                         put and never freed
 *   anchor.table       -> table (type KV_TYPE_TABLE): 64-byte header, then
 *                         nbuckets u64 bucket heads (power of two, >=
 *                         KV_STRIPES)
 *   anchor.old_table   -> the previous table while a resize is migrating
 *                         buckets out of it, else 0
 *   anchor.next_table  -> a table allocated for the next resize but not
 *                         yet switched to (only between the two steps of a
 *                         resize start, or after a crash there), else 0
 *   bucket head        -> entry (type KV_TYPE_ENTRY) -> entry.next -> ...
 *                         (a chain; 0 ends it; KV_MOVED in an old-table
 *                         bucket means "migrated to the new table")
 *
 *   LINKS (format 1.3, POOL_INCOMPAT_KV_LINKS). A link word -- the pool
 *   meta's kv_root, a bucket head, an entry's next -- holds its target
 *   (an oid, 0 or KV_MOVED)
 *   in bits 0..47 and in bits 48..63 kv_tag(target, offset of the word),
 *   a 16-bit check that is never 0: a zeroed word, a word pointed at
 *   another object or copied to another place fails it (all but 1 in
 *   65535 such). An entry's flags word holds kv_hcheck() of its hash, key
 *   length and value length. Older pools: links are bare oids, flags 0.
 *
 *   VALUE CHECKSUMS (POOL_INCOMPAT_KV_CSUM, chosen at creation: 1.3 pools
 *   made with DAXO_CREATE_CHECKSUMS). The entry header is 40 bytes: after
 *   the 32 above, vsum = XXH3_64(value, seed = the entry's hash); the key
 *   starts at 40 (kv_koff), the value at the next 64-byte boundary. vsum
 *   is written with the value -- by tx_fill with the entry, or with an
 *   in-place value in the same redo record -- and checked by every read
 *   that hands the value out (get, view, foreach) and by daxo check.
 *
 *   An entry's header and key never change after the transaction that
 *   creates it; its next field changes with the chain, and its value bytes
 *   when a put replaces them with a value of the same length (up to
 *   TX_FILL_INLINE bytes) -- in place, through the redo record. Any other
 *   replaced value is a new entry. Key k with hash h = XXH3_64(k,
 *   anchor.seed) lives in stripe h % KV_STRIPES and in bucket
 *   h % nbuckets; while old_table is set and old bucket h % old_nbuckets
 *   is not KV_MOVED, it lives there instead.
 *   anchor.count[s] is the number of keys of stripe s.
 *
 * CRASH CONSISTENCY
 *
 *   Every change is one redo-only transaction: the new entry by
 *   tx_alloc_raw + tx_fill (tx.h: written once -- up to TX_FILL_INLINE
 *   bytes in place and named in the record by a SUM entry (format 1.5,
 *   tx.h: SUMMED FILLS) or, when that memory may still be written by a
 *   record above the durable W (and in older pools), into the record as
 *   one COPY entry; above TX_FILL_INLINE bytes in place with non-temporal
 *   stores), 8-byte pointer words (bucket heads, next fields,
 *   counters, anchor fields) by daxo_tx_write, the replaced or deleted
 *   entry by daxo_tx_free; or, for a value of the same length, the new
 *   bytes by daxo_tx_write into the old entry (no allocation, no free, no
 *   chain word written, so nothing in the bucket's cache line, which other
 *   keys share, changes). So after a crash the whole change is there or
 *   none of it, and no object leaks: 1 fence per put of an entry up to
 *   TX_FILL_INLINE bytes and per del, 2 for a larger entry (tx.h).
 *   Migration steps of a resize ride in the
 *   put's or del's own transaction, so a resize adds no fence either; the
 *   start of a resize (daxo_alloc of the new table into anchor.next_table,
 *   zero and persist it, then one transaction switching the anchor words)
 *   and its end (free the old table + anchor words) are operations of
 *   their own, paid by the write that triggers them.
 *
 * CONCURRENCY
 *
 *   Writers (put, del) lock the volatile mutex of their key's stripe. Since
 *   nbuckets >= KV_STRIPES and both are powers of two, a bucket -- in the old
 *   and in the new table -- belongs to exactly one stripe, and migrating an
 *   old bucket b moves its entries to new buckets b and b + old_nbuckets,
 *   which are in the same stripe. So one stripe lock covers everything a
 *   put touches. Starting and ending a resize take every stripe lock.
 *
 *   Readers (get) take no lock: a per-stripe sequence count (odd while a
 *   writer of the stripe commits) and a table sequence count (odd while a
 *   resize starts or ends) are read before and after the walk; if either
 *   changed, the copy is thrown away and the walk retried. Memory a reader
 *   may be looking at is freed only by a transaction that a writer of the
 *   same stripe (or a resize) commits while its count is odd, so a walk
 *   that validates never used reused memory. A walk that does not validate
 *   may have read garbage: every oid and length it reads is bounds-checked
 *   against the pool before it is followed, and chains are cut at a bounded
 *   length, so it cannot fault or loop. After KV_READ_RETRIES failed walks
 *   the reader takes the stripe lock (a per-stripe, never a global lock).
 *   No reader ever fences.
 *
 *   The optimistic walk reads memory that writers change: a seqlock is a
 *   deliberate data race in the C11 sense. Those functions are excluded
 *   from ThreadSanitizer instrumentation (KV_RACY) and, in TSan builds,
 *   copy through volatile loads so that no intercepted memcpy sees them;
 *   every other access is synchronized and checked by TSan.
 *
 * TRUST (kv_walk.h, kv_valid.c)
 *
 *   Nothing read from the pool routes a lookup or frees space before it is
 *   checked; what fails a check gives -EUCLEAN naming its offset, at open
 *   or at the call that meets it, never a wrong answer:
 *   - at open (kv_anchor_check): the anchor is a live anchor object with
 *     its magic; its seed matches seed_check, xxh64 of the magic and the
 *     seed (anchors made before the check word, seed_check 0, are checked
 *     against the hashes of the first stored keys instead, then given the
 *     word at the first read-write open); the tables are live table
 *     objects of their size with their magic and bucket count, the old
 *     one half the new; next_table is 0 or a table object of its own; no
 *     key count exceeds what the heap can hold. A damaged anchor leaves the
 *     pool usable and the store refusing with -EUCLEAN.
 *   - every chain walk (kv_walk_step): each entry lies inside the heap,
 *     its key and value inside the pool, and its hash names the bucket it
 *     is in; Brent's cycle check ends a looping chain. A lookup that meets
 *     an entry with its key's hash and length but other key bytes checks
 *     the entry's bytes against its hash (damage, not a collision, unless
 *     they match). A write's walk and daxo_foreach also refuse a key stored
 *     twice in a chain, and daxo_foreach checks the whole chain -- every
 *     key against its hash -- before its first callback.
 *   - a resize frees the spare table only if it is a table object other
 *     than the two the anchor names.
 *
 * VOLATILE STATE (struct kv, rebuilt at open)
 *
 *   stripe locks and counts, the total key count (sum of anchor.count),
 *   while a resize is migrating the unmigrated buckets per stripe (a scan
 *   of the old table at open), and the tables' geometry the anchor names
 *   (checked when the anchor was read; the racy walks use this copy).
 */
#ifndef DAXO_KV_H
#define DAXO_KV_H 1

#include <pthread.h>
#include <stdatomic.h>

#include "internal.h"
#include "pool.h"

#define KV_STRIPES	256u /* power of two */
#define KV_MIN_BUCKETS	KV_STRIPES
#define KV_MAX_BUCKETS	(1ull << 40)
#define KV_MOVED	1ull /* old-table bucket already migrated */
#define KV_MIGRATE_STEP 4u   /* extra buckets migrated per write */
#define KV_READ_RETRIES 64u

/* the library's types (DAXO_TYPE_LIB and up): no user allocates or frees them */
#define KV_TYPE_ANCHOR 0xffffff01u
#define KV_TYPE_TABLE  0xffffff02u
#define KV_TYPE_ENTRY  0xffffff03u

#define KV_ANCHOR_MAGIC 0x0156534b4f584144ull /* "DAXOKVS\1" */
#define KV_TABLE_MAGIC	0x0142544b4f584144ull /* "DAXOKTB\1" */

struct kv_anchor {
	uint64_t magic;		    /* 0: KV_ANCHOR_MAGIC */
	uint64_t seed;		    /* 8: hash seed, random at creation */
	uint64_t table;		    /* 16: current table */
	uint64_t nbuckets;	    /* 24: its bucket count */
	uint64_t old_table;	    /* 32: table being migrated from, or 0 */
	uint64_t old_nbuckets;	    /* 40: its bucket count, or 0 */
	uint64_t next_table;	    /* 48: table being prepared, or 0 */
	uint64_t seed_check;	    /* 56: kv_seed_check(), or 0 (older) */
	uint64_t count[KV_STRIPES]; /* 64: keys per stripe */
};
static_assert(sizeof(struct kv_anchor) == 64 + 8 * KV_STRIPES, "kv anchor");
static_assert(offsetof(struct kv_anchor, count) == 64, "kv anchor count");

struct kv_table {
	uint64_t magic;	      /* 0: KV_TABLE_MAGIC */
	uint64_t nbuckets;    /* 8 */
	uint64_t reserved[6]; /* 16: zero */
	uint64_t bucket[];    /* 64: chain heads */
};
static_assert(sizeof(struct kv_table) == 64, "kv table header");

struct kv_entry {
	uint64_t next;	/* 0: next entry of the chain (a link), or 0 */
	uint64_t hash;	/* 8: XXH3_64 of the key with anchor.seed */
	uint32_t klen;	/* 16: 1..DAXO_KEY_MAX */
	uint32_t flags; /* 20: kv_hcheck() (format 1.3), else zero */
	uint64_t vlen;	/* 24 */
	uint8_t data[]; /* 32: key bytes (with value checksums: vsum, then
			   the key at 40), then value bytes */
};
static_assert(sizeof(struct kv_entry) == 32, "kv entry header");

/* what a pool's format says about the store's words and entries */
struct kv_fmt {
	bool valign; /* POOL_INCOMPAT_KV_VALIGN: values line-aligned */
	bool links;  /* POOL_INCOMPAT_KV_LINKS: checked links and headers */
	bool csum;   /* POOL_INCOMPAT_KV_CSUM: value checksums (vsum) */
};

static inline struct kv_fmt kv_fmt_of(uint64_t incompat)
{
	return (struct kv_fmt){
	    .valign = (incompat & POOL_INCOMPAT_KV_VALIGN) != 0,
	    .links = (incompat & POOL_INCOMPAT_KV_LINKS) != 0,
	    .csum = (incompat & POOL_INCOMPAT_KV_CSUM) != 0,
	};
}

/* with value checksums: the value's checksum, after the 32-byte header */
#define KV_VSUM_OFF 32u

/* kv_koff -- where an entry's key starts: after its header (and vsum) */
static inline uint64_t kv_koff(struct kv_fmt f)
{
	return f.csum ? KV_VSUM_OFF + 8 : sizeof(struct kv_entry);
}

/*
 * kv_voff -- where the value of an entry with a key of @klen bytes starts,
 * from the entry. Format 1.2 pools and later (POOL_INCOMPAT_KV_VALIGN): at
 * the first 64-byte boundary after the key, the padding zero -- entries are
 * line-aligned heap objects, so values are too: a copy into a line-aligned
 * buffer takes the fast path, and a 64-byte value is one line to flush.
 * Older pools: right after the key.
 */
static inline uint64_t kv_voff(struct kv_fmt f, uint64_t klen)
{
	uint64_t o = kv_koff(f) + klen;

	return f.valign ? ALIGN_UP(o, (uint64_t)64) : o;
}

#define KV_LINK_SHIFT 48
#define KV_LINK_MASK  ((1ull << KV_LINK_SHIFT) - 1)

/*
 * kv_tag -- the check of a link word naming @target, stored at pool offset
 * @where: the top 16 bits of one multiply of both (the offset's low half
 * moved up, where the target's bits are few), never 0. A change of a
 * single bit of the target changes it always; other changes, but 1 in
 * 65535.
 */
static inline uint64_t kv_tag(uint64_t target, uint64_t where)
{
	uint64_t x =
	    (target ^ (where << 32 | where >> 32)) * 0x9e3779b97f4a7c15ull >>
	    KV_LINK_SHIFT;

	return x | (x == 0);
}

/* kv_link -- the link word naming @target, to be stored at @where */
static inline uint64_t kv_link(struct kv_fmt f, uint64_t target, uint64_t where)
{
	return f.links ? target | kv_tag(target, where) << KV_LINK_SHIFT
		       : target;
}

/*
 * kv_unlink -- *@target := what the link word @w stored at @where names;
 * false if its check fails (older pools: if bits 48..63 are not 0)
 */
static inline bool kv_unlink(struct kv_fmt f, uint64_t w, uint64_t where,
			     uint64_t *target)
{
	*target = w & KV_LINK_MASK;
#ifdef DAXO_PLANT_KV_TRUSTING /* fuzz test: links taken on trust */
	return true;
#endif
	return w >> KV_LINK_SHIFT == (f.links ? kv_tag(*target, where) : 0);
}

/* kv_moved -- does the old-table bucket word @w at @where say MOVED? */
static inline bool kv_moved(struct kv_fmt f, uint64_t w, uint64_t where)
{
	return w == kv_link(f, KV_MOVED, where);
}

/*
 * kv_hcheck -- the check word of an entry header's fields, never 0: the
 * top half of one multiply of the hash and the two lengths (the value's
 * below 2^46, the key's below 2^17: packed without overlap)
 */
static inline uint32_t kv_hcheck(uint64_t hash, uint32_t klen, uint64_t vlen)
{
	uint64_t l = vlen << 17 | klen;

	return (uint32_t)(((hash ^ (l << 32 | l >> 32)) *
			   0xc2b2ae3d27d4eb4full) >>
			  32) |
	       1;
}
/*
 * kv_lock -- a small futex mutex (Drepper, "Futexes are tricky", mutex 2,
 * with a short spin first). Not pthread_mutex_t: starting or ending a
 * resize holds all KV_STRIPES of them at once, which pthread's sanitizer
 * bookkeeping (TSan tracks at most 64 held mutexes per thread) cannot
 * follow; acquire/release atomics give TSan the same happens-before edges.
 * 0 free, 1 locked, 2 locked with waiters.
 */
typedef struct {
	_Atomic uint32_t v;
} kv_lock_t;

struct kv_stripe {
	_Alignas(64) kv_lock_t lock;
	_Atomic uint64_t seq;	   /* odd while a writer commits */
	uint64_t mig_pos;	   /* under lock: next old bucket to scan,
				      counted in this stripe's buckets */
	_Atomic uint64_t mig_left; /* unmigrated old buckets of the stripe */
	/* under lock: seq of the newest record that changed the stripe's
	 * entries or chains (txint.h: ORDER) */
	uint64_t clk;
	/* keys of the stripe: written under lock after each commit, read
	 * unlocked to decide a resize (no counter all writers share) */
	_Atomic int64_t nkeys;
};

struct kv {
	_Alignas(64) _Atomic uint64_t tseq; /* odd while a resize commits */
	_Alignas(64) _Atomic uint64_t mig_left; /* unmigrated old buckets */
	_Atomic int resizing;		    /* a thread starts/ends a resize */
	_Atomic unsigned help_hint;	    /* where helpers look for work */
	_Atomic uint64_t resize_failed_at;  /* count when a grow hit -ENOSPC */
	kv_lock_t init_lock;		    /* creation of the anchor */
	_Atomic bool ready;		    /* the anchor exists: */
	uint64_t anchor;		    /*   its oid (set before ready) */
	uint64_t seed;			    /*   its hash seed */
	struct kv_fmt fmt;		    /* the pool's format (kv_voff) */
	int bad;			    /* -EUCLEAN: anchor unusable */
	uint64_t bad_off;		    /*   where, and what is wrong */
	const char *bad_what;
	/*
	 * The tables as the anchor names them, checked when it was read
	 * (kv_geo_set): changed only at open, at creation and by a resize
	 * while tseq is odd and every stripe is locked, so a racy walk
	 * reads them between its tseq loads instead of checking the anchor
	 * and the table headers again; unlocked peeks (kv_after_write) read
	 * them too: a resize is migrating while geo_old_bk is set.
	 * geo_seq is their seqlock (odd while kv_geo_set writes): the four
	 * words are read as one view, never a new old_bk with a stale
	 * old_n or a table with another table's size.
	 */
	_Alignas(64) _Atomic uint64_t geo_seq;
	_Atomic(uint64_t *) geo_bk;
	_Atomic(uint64_t *) geo_old_bk;
	_Atomic uint64_t geo_n, geo_old_n;
	struct kv_stripe stripes[KV_STRIPES];
};

/* kv_seed_check -- the check word of the anchor's magic and seed */
uint64_t kv_seed_check(const struct kv_anchor *a) DAXO_HIDDEN;

/*
 * kv_format -- the store's word in the pool meta of a new pool (kv_root:
 * in format 1.3, a link naming no anchor yet; else 0)
 */
void kv_format(daxo_pool *p) DAXO_HIDDEN;

/*
 * kv_relocate -- put the entry at @oid again, as a new entry (allocated
 * where the heap gives it: defrag drains the run it leaves), crash-atomic
 * as any put; nothing if its key is gone or names another entry by then.
 * Returns 1 (moved), 0, or an error of daxo_put.
 */
int kv_relocate(daxo_pool *p, uint64_t oid) DAXO_HIDDEN;

/* kv_boot -- attach the store's volatile state at open */
int kv_boot(daxo_pool *p) DAXO_HIDDEN;
void kv_cleanup(daxo_pool *p) DAXO_HIDDEN;

#endif
