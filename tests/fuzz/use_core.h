/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * use_core.h -- open-then-use mutation fuzzing: damage the metadata of a
 * filled, closed pool, open it, and use it -- read, write, iterate, close,
 * reopen, read again -- holding every answer against a model of what was
 * put. Shared by the libFuzzer target (fuzz_use.c) and the seeded driver
 * that runs without clang (mutate_use.c).
 *
 * The base pool (made once) holds user objects of several sizes, each
 * filled with a pattern, and a keyed store whose keys were put, replaced
 * (in place and not) and deleted, with a resize under way. A case applies
 * a list of mutations to a copy of it; each mutation picks a structure --
 * header, pool meta, lanes, chunk table, run metadata, the store's anchor,
 * its tables, entry headers, keys, and in a pool with value checksums the
 * values -- an instance of it, a place in it, and
 * what to do there (flip a bit, set a byte, zero or set a word, put the oid
 * of another object or of a freed entry there, copy another instance over
 * it, add a small number).
 *
 * Failures (any one fails the case):
 *   wrong   a get or view returning bytes that were never put for the key,
 *           or a value for a key never put; daxo_foreach calling back for
 *           a key twice, for a key never put, with such a value, or
 *           without end;
 *   reuse   a user object's bytes changed, or an allocation overlapping an
 *           object that is live;
 * and, counted by the driver: a crash (any signal, an ASan report) or a
 * hang. Counted but not failures: every call's refusal by code, "lost"
 * answers (-ENOENT for a key that is there) and "stale" ones (a value put
 * earlier than the last, or the value of a deleted key).
 */
#ifndef DAXO_USE_CORE_H
#define DAXO_USE_CORE_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* where a mutation lands */
enum uc_target {
	UC_T_HDR,    /* the pool header (or its copy) */
	UC_T_META,   /* the pool meta's words */
	UC_T_LANE,   /* redo slots and undo areas of the lanes used */
	UC_T_CHUNK,  /* chunk-table entries */
	UC_T_RUN,    /* run metadata: bitmaps and type numbers */
	UC_T_ANCHOR, /* the keyed store's anchor */
	UC_T_TABLE,  /* its tables: header and bucket heads */
	UC_T_ENTRY,  /* entry headers */
	UC_T_KEY,    /* key bytes */
	UC_T_VALUE,  /* value bytes (pools with value checksums only) */
	UC_T_NTARGETS
};

/* what a mutation does */
enum uc_kind {
	UC_K_FLIP, /* flip one bit */
	UC_K_BYTE, /* set one byte */
	UC_K_ZERO, /* zero an aligned word */
	UC_K_WORD, /* set an aligned word */
	UC_K_OID,  /* an aligned word := an oid of the pool's objects (live
		      or freed), give or take a little */
	UC_K_COPY, /* copy 8..64 bytes from another instance of the target */
	UC_K_ADD,  /* add a small signed number to an aligned word */
	UC_K_NKINDS
};

struct uc_mut {
	uint8_t target, kind;
	uint32_t pick; /* which instance */
	uint32_t off;  /* where in it */
	uint64_t val;  /* the bits, byte, word, oid choice or number */
};

#define UC_NCODES 16

/* what a case saw */
struct uc_result {
	int open_rc;		     /* first open: 0 or the error */
	uint64_t calls;		     /* library calls made */
	uint64_t refused[UC_NCODES]; /* calls refused, by uc_code_name */
	uint64_t lost, stale;	     /* counted, not failures */
	uint64_t wrong, reuse;
	char what[512]; /* the first failure, described */
};

/* uc_target_name -- the name of target @t ("header", "meta", ...) */
const char *uc_target_name(unsigned t);
/*
 * uc_targets_only -- mutations land only on the targets whose bits are set
 * in @mask (a mutation's target picks among them); 0 means all
 */
void uc_targets_only(unsigned mask);
/*
 * uc_targets_parse -- the mask of a comma-separated list of target names:
 * with @skip, every target but those; -1 for an unknown name
 */
int uc_targets_parse(const char *list, bool skip);

/*
 * uc_init -- make the base pool at @path (on emulated pmem), with value
 * checksums if @checksums (then the values are a target too); 0 or -1
 */
int uc_init(const char *path, bool checksums);
/* uc_fini -- remove it */
void uc_fini(void);

/*
 * uc_run -- restore the base, apply @n mutations, open and use the pool,
 * filling @r. Call from one thread; the pool file is left damaged (the
 * next uc_run restores it).
 */
void uc_run(const struct uc_mut *m, size_t n, struct uc_result *r);

/* uc_code_slot -- the slot of uc_result.refused for error @rc (< 0) */
unsigned uc_code_slot(int rc);
/* uc_code_name -- the name of refusal slot @i of uc_result.refused */
const char *uc_code_name(unsigned i);

#endif
