/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pool.h -- the pool: its on-media header and its volatile handle.
 *
 * ON-MEDIA LAYOUT (all little-endian, offsets from the start of the pool)
 *
 *   0        header, 4 KiB, written once by daxo_create and never in place
 *   4096     copy of the header (same bytes), for daxo repair
 *   8192     pool meta, 4 KiB: root oid and size, keyed-store anchor. Changed
 *            only through redo records (redo.h), one aligned 8-byte word at a
 *            time, so it needs no checksum of its own: every word is either
 *            its old or its new value after a crash.
 *   65536    lanes: nlanes x lane_size bytes of transaction logs (tx.h)
 *   heap_off the heap, to the end of the pool (heap.h)
 *
 * The header carries an xxh64 checksum over its first 4088 bytes in its last
 * 8 bytes. daxo_create writes every region, fences, and only then writes the
 * two header copies and fences again: a crash during creation leaves a file
 * that daxo_open refuses as "not a daxo pool", never a half-made pool that
 * looks valid.
 *
 * Open checks, in order: the file is large enough for two headers; magic;
 * major version not newer than ours (checked before the checksum, because a
 * newer format may checksum differently); checksum; unknown incompatible
 * feature flags; pool size equals the file (or device) size; every region
 * lies inside the pool, aligned and in order; layout name. Each failure has
 * its own message naming the file and the offset of the bad field.
 */
#ifndef DAXO_POOL_H
#define DAXO_POOL_H 1

#include <pthread.h>
#include <sys/types.h>

#include "internal.h"
#include "persist.h"

#define POOL_MAGIC "DAXOPOOL"
#define POOL_FMT_MAJOR 1u
#define POOL_FMT_MINOR 5u
/*
 * incompat: lanes of 16 redo slots (40 KiB) instead of 4 (16 KiB), format
 * 1.1; daxo_create sets it. A reader that does not know it would find the
 * slots and the undo area at the wrong offsets.
 */
#define POOL_INCOMPAT_SLOTS16 (1ull << 0)
/*
 * incompat: a keyed-store value starts at the first 64-byte boundary of its
 * entry after the key (kv.h), format 1.2; daxo_create sets it. A reader
 * that does not know it would take the padding for the value.
 */
#define POOL_INCOMPAT_KV_VALIGN (1ull << 1)
/*
 * incompat: every keyed-store value carries a checksum (xxh3) in its
 * entry's header, whose key then starts at 40 (kv.h), format 1.3; set by
 * daxo_pool_create with DAXO_CREATE_CHECKSUMS. A reader that does not know
 * it would take the checksum for the key.
 */
#define POOL_INCOMPAT_KV_CSUM (1ull << 2)
/*
 * incompat: the keyed store's link words (bucket heads, entries' next)
 * carry a 16-bit check of their target and their own offset in bits
 * 48..63, and entry headers a check of their fields (kv.h), format 1.3;
 * daxo_create sets it. A reader that does not know it would take the
 * checks for part of the oids.
 */
#define POOL_INCOMPAT_KV_LINKS (1ull << 5)
/*
 * incompat: heap 2 (heap.h): 4 KiB chunks, 96 size classes, run bitmaps
 * with complements, chunk entries with checks, format 1.4; daxo_create
 * sets it. A reader that does not know it would take the chunk table for
 * 256 KiB chunks without checks.
 */
#define POOL_INCOMPAT_HEAP2 (1ull << 3)
/*
 * incompat: redo records may hold SUM and NOTE entries (redo.h): a
 * keyed-store entry written in place before its record, which carries a
 * checksum of it (tx.h: SUMMED FILLS), format 1.5; daxo_create sets it. A
 * reader that does not know it would take such a committed record for a
 * malformed one and skip it.
 */
#define POOL_INCOMPAT_SUMS (1ull << 6)
/* feature flags known to this version */
#define POOL_INCOMPAT_KNOWN                                                    \
	(POOL_INCOMPAT_SLOTS16 | POOL_INCOMPAT_KV_VALIGN |                     \
	 POOL_INCOMPAT_KV_CSUM | POOL_INCOMPAT_KV_LINKS |                      \
	 POOL_INCOMPAT_HEAP2 | POOL_INCOMPAT_SUMS)
#define POOL_RO_COMPAT_KNOWN 0ull

#define POOL_HDR_SIZE 4096u
#define POOL_HDR_COPY_OFF 4096u
#define POOL_META_OFF 8192u
#define POOL_META_SIZE 4096u
#define POOL_LANES_OFF 65536u
#define POOL_ALIGN (2u << 20) /* pool sizes are multiples of 2 MiB */

struct pool_hdr {
	char magic[8];             /* 0: "DAXOPOOL" */
	uint32_t major;            /* 8 */
	uint32_t minor;            /* 12 */
	uint64_t incompat;         /* 16: features an older reader must refuse */
	uint64_t ro_compat;        /* 24: features it may only read */
	uint64_t compat;           /* 32: features it may ignore */
	uint8_t uuid[16];          /* 40 */
	char layout[64];           /* 56: NUL-terminated, NUL-padded */
	uint64_t size;             /* 120: pool size in bytes */
	uint64_t hdr_copy_off;     /* 128 */
	uint64_t meta_off;         /* 136 */
	uint64_t meta_size;        /* 144 */
	uint64_t lanes_off;        /* 152 */
	uint32_t nlanes;           /* 160 */
	uint32_t lane_size;        /* 164 */
	uint64_t heap_off;         /* 168 */
	uint64_t heap_size;        /* 176 */
	uint64_t chunk_size;       /* 184 */
	int64_t ctime;             /* 192: seconds since the epoch */
	uint8_t reserved[3888];    /* 200: zero */
	uint64_t csum;             /* 4088: xxh64 of bytes 0..4087, seed 0 */
};

static_assert(sizeof(struct pool_hdr) == POOL_HDR_SIZE, "header size");
static_assert(offsetof(struct pool_hdr, layout) == 56, "layout offset");
static_assert(offsetof(struct pool_hdr, size) == 120, "size offset");
static_assert(offsetof(struct pool_hdr, ctime) == 192, "ctime offset");
static_assert(offsetof(struct pool_hdr, csum) == 4088, "csum offset");

/* pool_lane_slots -- redo slots per lane of the pool of header @h (tx.h) */
static inline unsigned pool_lane_slots(const struct pool_hdr *h)
{
	return (h->incompat & POOL_INCOMPAT_SLOTS16) ? 16u : 4u;
}

struct pool_meta {
	uint64_t root_oid;         /* 0: 0 until daxo_root allocates it */
	uint64_t root_size;        /* 8: size asked for at first daxo_root */
	uint64_t kv_root;          /* 16: oid of the keyed store's anchor */
	uint64_t w_seq;            /* 24: redo records with seq <= w_seq are
				    * durably applied: never replayed (tx.h) */
	/*
	 * The shutdown state (badblocks_shutdowns in badblocks.h): at each
	 * read-write open, the DIMMs' summed unsafe-shutdown count and a
	 * hash of their ids, with sds_open = 1 until the clean close;
	 * sds_check seals the four words, so a torn update reads as no
	 * record. Zero where the platform reports no count.
	 */
	uint64_t sds_usc;          /* 32 */
	uint64_t sds_ids;          /* 40 */
	uint64_t sds_open;         /* 48 */
	uint64_t sds_check;        /* 56 */
	uint64_t reserved[504];    /* 64: zero */
};

static_assert(sizeof(struct pool_meta) == POOL_META_SIZE, "meta size");

struct heap;
struct lanes;
struct kv;

struct daxo_pool {
	/* first: daxo.h's inline daxo_direct reads it (its ABI) */
	struct daxo_pool_head head;
	struct persist ps;
	char *path;
	int lock_fd;
	uint64_t forkgen; /* pool_fork_gen() when the handle was made */
	char *base;
	uint64_t size;
	size_t mapped_len;
	bool rdonly;
	bool is_pmem;
	bool is_devdax;
	bool is_dax;
	bool map_sync;
	bool private_map;          /* read-only copy-on-write view */
	struct pool_hdr hdr;       /* validated copy */
	uint32_t slot_mask;        /* redo slots per lane - 1 (a power of 2) */
	struct pool_meta *meta;    /* in the pool */
	struct heap *heap;
	struct lanes *lanes;
	struct kv *kv;
	int recovery_pending;
	uint64_t recovered;
	/* shutdown state: recorded at this open (cleared at its close), and
	 * whether the DIMMs' count rose while the pool was last open */
	bool sds_recorded;
	bool unsafe_shutdown;
	uint64_t sds_usc, sds_ids;
	pthread_mutex_t root_lock;
	uint64_t lock_gen; /* this open's generation of the pool's locks */
};

static_assert(offsetof(struct daxo_pool, head) == 0,
	      "the handle starts with daxo.h's struct daxo_pool_head");
static_assert(sizeof(struct daxo_pool_head) == 24 &&
		  offsetof(struct daxo_pool_head, base) == 8 &&
		  offsetof(struct daxo_pool_head, size) == 16,
	      "struct daxo_pool_head is ABI (DAXO_POOL_HEAD_V1)");

/* pool_in_range -- [off, off+len) lies inside the pool (overflow-safe) */
static inline bool pool_in_range(const daxo_pool *p, uint64_t off,
				 uint64_t len)
{
	return off <= p->size && len <= p->size - off;
}

/* pool_is_root -- @oid is the pool's root object (only daxo_root frees or
 * moves it) */
static inline bool pool_is_root(const daxo_pool *p, uint64_t oid)
{
	return oid && oid == __atomic_load_n(&p->meta->root_oid,
					     __ATOMIC_ACQUIRE);
}

static inline void *pool_ptr(const daxo_pool *p, uint64_t off)
{
	return p->base + off;
}

static inline uint64_t pool_off(const daxo_pool *p, const void *addr)
{
	return (uint64_t)((const char *)addr - p->base);
}

/*
 * pool_fork_gen -- the process's fork generation: a new one in each child
 * of fork(2). A handle keeps the generation it was made in; a child's
 * calls through its parent's handle are refused (pool_healthy, -EBADFD).
 */
extern _Atomic uint64_t pool_fork_generation DAXO_HIDDEN;

static inline uint64_t pool_fork_gen(void)
{
	return atomic_load_explicit(&pool_fork_generation,
				    memory_order_relaxed);
}

/*
 * pool_inherited -- a shared mapping made in another process (a parent,
 * before fork)? A read-only handle's private view became the child's own
 * copy at the fork: the child may read it.
 */
static inline bool pool_inherited(const daxo_pool *p)
{
	return p->forkgen != pool_fork_gen() && !p->private_map;
}

/*
 * lock_forget -- the calling thread's record of the readers-writer locks it
 * holds in @p (lock.c) forgets them: the pool closes, and a lock held now
 * is free at the next open
 */
void lock_forget(daxo_pool *p) DAXO_HIDDEN;

/* pool_writable -- 0, or -EROFS/-EIO/-EBADFD with a message */
int pool_writable(daxo_pool *p, const char *what) DAXO_HIDDEN;
/* pool_own -- 0, or -EBADFD with a message in a child (pool_inherited) */
int pool_own(daxo_pool *p, const char *what) DAXO_HIDDEN;

/*
 * pool_healthy -- 0, or -EIO with a message in the sticky failed state, or
 * -EBADFD in a child process of the one that made the handle
 */
int pool_healthy(daxo_pool *p, const char *what) DAXO_HIDDEN;

/*
 * pool_writer -- daxo_pool_writer without touching daxo_errormsg: 1 (and
 * the holder's pid, or 0, in *pid) if a process holds the pool's exclusive
 * lock, 0 if none does, or -errno.
 */
int pool_writer(const char *path, pid_t *pid) DAXO_HIDDEN;
/*
 * pool_open_held -- daxo_open(@path, NULL, 0) of the file open as @fd,
 * which holds the pool's exclusive lock (an flock of this open file, as
 * daxo_check's repair takes it): the handle shares that open file, so the
 * lock is its own and is still held, by @fd, after daxo_close.
 */
int pool_open_held(const char *path, int fd, daxo_pool **out) DAXO_HIDDEN;

/*
 * pool_cover_holes -- in @base, a private (copy-on-write) mapping of the
 * first @len bytes of @fd, put anonymous zero pages over the file's holes:
 * a fault on a hole may need a block (tmpfs allocates a page even to read
 * one) and is a SIGBUS when the file system is full. 0 or -errno.
 */
int pool_cover_holes(int fd, char *base, uint64_t len,
		     const char *path) DAXO_HIDDEN;
/*
 * pool_sds_unsafe -- does the shutdown state in @m say the pool was open
 * when the DIMMs' unsafe-shutdown count rose to @usc (same DIMMs: @ids)?
 */
bool pool_sds_unsafe(const struct pool_meta *m, uint64_t usc,
		     uint64_t ids) DAXO_HIDDEN;

/* pool_sds_words -- the four sealed words of a shutdown state */
void pool_sds_words(uint64_t w[4], uint64_t usc, uint64_t ids,
		    uint64_t open) DAXO_HIDDEN;

/* pool_cover -- the same for the pages of [off, off+len) (media errors) */
int pool_cover(char *base, uint64_t off, uint64_t len,
	       const char *path) DAXO_HIDDEN;

/* pool_devdax_size -- the size of the device-DAX node @rdev, from sysfs */
int pool_devdax_size(const char *path, dev_t rdev, uint64_t *size) DAXO_HIDDEN;

/* pool_hdr_validate -- check a header image against a file of @fsize bytes */
int pool_hdr_validate(const struct pool_hdr *h, uint64_t fsize,
		      const char *path, uint64_t at) DAXO_HIDDEN;
void pool_hdr_seal(struct pool_hdr *h) DAXO_HIDDEN;

/*
 * regions of a pool of @size bytes, as daxo_create lays them out for the
 * features already in h->incompat
 */
void pool_layout(struct pool_hdr *h, uint64_t size) DAXO_HIDDEN;

/*
 * the format minor daxo_create makes: POOL_FMT_MINOR; tests of the older
 * formats set 0 or 1 (not thread-safe)
 */
extern unsigned pool_create_minor DAXO_HIDDEN;
/*
 * DAXO_CREATE_* flags daxo_create adds to those it is given: tests run
 * their workloads on pools with value checksums this way (not
 * thread-safe)
 */
extern uint64_t pool_create_flags DAXO_HIDDEN;

#endif
