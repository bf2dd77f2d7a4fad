/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * daxo.h -- the public interface of libdaxo, a persistent-memory object store.
 *
 * OVERVIEW
 *
 * A pool is a file on a DAX file system, a device-DAX character device
 * (/dev/daxX.Y), or -- for development -- any file, mapped straight into the
 * address space. Programs allocate objects in it (daxo_alloc), change them
 * with crash-consistent transactions (daxo_tx_*), keep byte-string keys and
 * values in it (daxo_put/daxo_get), and find them again after a restart or a
 * power cut: daxo_open runs recovery before it returns.
 *
 * Objects are named by daxo_oid, a 64-bit offset from the start of the pool
 * (0 is the null oid), never by pointer: a pool mapped at another address
 * works unchanged. daxo_direct() turns an oid into a pointer that is valid
 * until the pool is closed.
 *
 * ERRORS
 *
 * Every function that can fail returns 0 (or a non-negative count) on success
 * and a negative errno value on failure: -ENOENT, -EINVAL, -ENOSPC, -EBUSY,
 * -EEXIST, -ENOMEM, -EIO, -EUCLEAN (corruption), -EPROTONOSUPPORT (a format
 * this library does not know) and others. Each function's comment lists
 * every code it can return, under "Errors:" (or "Returns"); a function that
 * calls back (daxo_foreach, daxo_get_view) also returns its callback's
 * non-zero value as it is. tests/contract checks that the codes each
 * function returns in the test suites are the ones listed. After a failure
 * daxo_errormsg() returns a message for the calling thread that names the
 * file, the offset and what was wrong. Nothing in the library prints, exits or
 * aborts on bad input. After a fatal persistence failure or detected
 * corruption, the pool handle enters a sticky failed state: every later write
 * returns -EIO and reads stay possible; daxo_pool_status() tells.
 *
 * THREADS
 *
 * A daxo_pool handle is thread-safe: any number of threads may use one pool.
 * A daxo_tx belongs to the thread that began it and must be committed or
 * aborted by that thread: the daxo_tx_* calls on it from another thread
 * return -EPERM (daxo_tx_abort does nothing) and leave it as it was. A
 * thread that exits with a transaction open has it rolled back at its exit,
 * inner blocks and all, as by daxo_tx_abort (abort callbacks run).
 * Transactions give atomicity and durability, not isolation: two threads that change the same bytes must serialize those
 * changes themselves (a mutex held from before daxo_tx_add_range/
 * daxo_tx_write until after daxo_tx_commit). The allocator and the keyed
 * store (daxo_put/get/del/foreach) do their own locking.
 *
 * DURABILITY
 *
 * A call that returns success is durable: on real or emulated persistent
 * memory the data was flushed from the CPU caches (CLWB/CLFLUSHOPT) and
 * fenced (SFENCE); on other files msync() returned. A crash at any moment
 * leaves every transaction either fully applied or not at all.
 *
 * ENVIRONMENT
 *
 * PMEM_IS_PMEM_FORCE=1 (read by libpmem) treats any file as persistent
 * memory. DAXO_PREFAULT=1 acts as DAXO_PREFAULT on every open. DAXO_SOCKET
 * names daxod's socket (default /run/daxo/daxod.sock) and DAXO_NOTIFY=0
 * stops daxo_open/daxo_create from registering pools with it (daxo_open).
 *
 * CAVEATS
 *
 * - fork(): a child must not use a pool handle its parent opened (its copy
 *   of the handle's volatile state is the parent's of the moment of the
 *   fork). Its calls through it that would write the pool or read the
 *   keyed store return -EBADFD; daxo_close frees the child's copy without
 *   touching the pool. A DAXO_RDONLY handle is a private view, the child's
 *   own after the fork: it may read it. The advisory lock belongs to the
 *   parent's open file description. The locks kept in the pool
 *   (daxo_mutex_lock and friends) refuse a child -EBADFD too: their
 *   pthread objects are the parent process's, and a child's lock or
 *   unlock there would wake none of the parent's waiters.
 * - Non-DAX files (tmpfs, ext4 without -o dax): durability costs an msync()
 *   per flush and is only as good as the file system's writeback.
 *   PMEM_IS_PMEM_FORCE=1 makes libpmem treat any mapping as persistent memory
 *   (flushes become CLWB/SFENCE): right for /dev/shm testing, wrong for a real
 *   disk.
 * - Remote or network file systems are not supported: locking and mapping
 *   semantics there do not give the guarantees above.
 * - "Durable" means surviving a process crash and, on a platform with ADR
 *   (the persistence domain includes the memory controller), a power cut.
 * - Truncating a pool file (or punching holes in it) while a process has it
 *   open kills that process with SIGBUS at its next access to the pages
 *   that went away: a mapping cannot report an error any other way. Never
 *   shrink a pool file that is in use. A file that grew (truncate -s +N, a
 *   copy tool's padding) is harmless: the pool is the size its header says.
 * - Sparse pool files (cp --sparse=always, rsync -S, tar -S) would take
 *   their blocks at the first store into a hole, and die of SIGBUS on a
 *   full file system: daxo_create allocates the whole file, and a
 *   read-write daxo_open allocates the holes it finds first (-ENOSPC if it
 *   cannot).
 * - Read access to a pool file is trust: whoever can read it reads every
 *   object and value, and a read-only open takes a shared lock that keeps
 *   read-write opens out (-EBUSY) for as long as it is held. Give read
 *   access only to those who may see the data and hold up its owner;
 *   `daxo create` makes pool files 0600 unless --mode says otherwise.
 */
#ifndef DAXO_H
#define DAXO_H 1

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "daxo_version.h" /* DAXO_VERSION_MAJOR, _MINOR, _PATCH */

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define DAXO_EXPORT __attribute__((visibility("default")))
#define DAXO_DEPRECATED(use) __attribute__((deprecated("use " use)))
#else
#define DAXO_EXPORT
#define DAXO_DEPRECATED(use)
#endif

/** A pool handle. Thread-safe. */
typedef struct daxo_pool daxo_pool;
/** One thread's transaction. */
typedef struct daxo_tx daxo_tx;
/** An object's offset in its pool; 0 is the null oid. */
typedef uint64_t daxo_oid;

#define DAXO_OID_NULL ((daxo_oid)0)

/** Longest layout name, without its terminating NUL. */
#define DAXO_LAYOUT_MAX 63
/** Smallest pool, in bytes (8 MiB). */
#define DAXO_MIN_POOL_SIZE (8ull << 20)
/** Largest pool, in bytes (64 TiB). */
#define DAXO_MAX_POOL_SIZE (64ull << 40)
/** Largest key of the keyed store, in bytes (64 KiB). */
#define DAXO_KEY_MAX (64u << 10)

/* daxo_open flags */
/** Open read-only: the file is not changed; recovery, if the pool needs it,
 * runs on a private copy-on-write view so that reads see consistent data. */
#define DAXO_RDONLY 0x1u
/** Touch every page of the pool at open so that later accesses take no
 * first-touch page faults (also: environment DAXO_PREFAULT=1). */
#define DAXO_PREFAULT 0x2u

/**
 * daxo_version -- the version of the library the program runs with, as
 * MAJOR*10000 + MINOR*100 + PATCH; DAXO_VERSION_* (daxo_version.h) give the
 * version of the header it was built with. Cannot fail. Thread-safe.
 */
DAXO_EXPORT int daxo_version(void);

/**
 * daxo_create -- create a pool and open it read-write.
 * @path:   in: a file that must not exist yet, or a device-DAX node
 *          (/dev/daxX.Y), which is overwritten unless it already holds a
 *          daxo pool.
 * @layout: in: the application's layout name (at most DAXO_LAYOUT_MAX bytes;
 *          NULL means ""), checked by every later daxo_open.
 * @size:   in: pool size in bytes, rounded up to a multiple of 2 MiB; at
 *          least DAXO_MIN_POOL_SIZE and at most DAXO_MAX_POOL_SIZE. 0 for a
 *          device-DAX node means the whole device.
 * @mode:   in: permission bits for a new file (as for open(2)); see
 *          CAVEATS on what read access allows.
 * @out:    out: the new handle; release it with daxo_close().
 * Every block of a new file is allocated (posix_fallocate), so that no
 * later store can fault for want of space. Like daxo_open, it registers the
 * pool with daxod (see there). On failure no file is left behind.
 * Errors: -EINVAL (NULL @path or @out, size out of range, layout too long),
 *   -ENOENT (empty path, or its directory is missing), -EEXIST (the file
 *   exists, or the device holds a pool), -EISDIR, -EACCES or -EPERM (permission), -ENOTDIR, -ENAMETOOLONG, -ELOOP
 *   (the path), -EMFILE or -ENFILE (no file descriptor left),
 *   -EROFS (a read-only file system), -ENOSPC or -EDQUOT (no room for
 *   @size bytes), -EFBIG (larger than the file system or the process's
 *   RLIMIT_FSIZE allows: no file is made), -ENODEV (a
 *   file that cannot be mapped), -EBUSY (the device is in use), -ENOMEM,
 *   -EIO.
 * Thread-safe.
 */
DAXO_EXPORT int daxo_create(const char *path, const char *layout,
			    uint64_t size, unsigned mode, daxo_pool **out);

/** daxo_pool_create flag: every keyed-store value carries a checksum */
#define DAXO_CREATE_CHECKSUMS 0x1u

/** Options of daxo_pool_create; zero-initialize, then set what you need. */
struct daxo_create_opts {
	uint64_t flags;	      /**< DAXO_CREATE_*, or 0 */
	uint64_t reserved[7]; /**< zero */
};

/**
 * daxo_pool_create -- daxo_create with options chosen for the pool's life.
 * @opts: in: NULL (as daxo_create), or options; flags:
 *        DAXO_CREATE_CHECKSUMS -- every value of the keyed store carries a
 *        checksum (xxh3, in its entry), written by daxo_put and verified by
 *        daxo_get, daxo_get_view, daxo_foreach and daxo_check: a damaged
 *        value gives -EUCLEAN (with its offset in daxo_errormsg) instead of
 *        wrong bytes. Off by default: it costs a pass over the value on
 *        every put and read (bench/README), and 8 bytes an entry. Such a
 *        pool has incompatible feature bit 2 (doc/FORMAT.md): libraries
 *        before daxo 0.5 refuse it.
 * The other parameters are daxo_create's.
 * Errors: those of daxo_create -- -EINVAL (also: an unknown flag, a
 *   reserved word that is not zero), -ENOENT, -EEXIST, -EISDIR, -EACCES,
 *   -EPERM, -ENOTDIR, -ENAMETOOLONG, -ELOOP, -EMFILE, -ENFILE, -EROFS,
 *   -ENOSPC, -EDQUOT, -EFBIG, -ENODEV, -EBUSY, -ENOMEM, -EIO.
 * Thread-safe.
 */
DAXO_EXPORT int daxo_pool_create(const char *path, const char *layout,
				 uint64_t size, unsigned mode,
				 const struct daxo_create_opts *opts,
				 daxo_pool **out);

/**
 * daxo_open -- open an existing pool and run recovery.
 * @path:   in: the pool file or device-DAX node.
 * @layout: in: the layout name the pool was created with; NULL accepts any.
 * @flags:  in: 0, or DAXO_RDONLY and/or DAXO_PREFAULT.
 * @out:    out: the handle; release it with daxo_close().
 * Read-write opens take an exclusive advisory lock on the file; read-only
 * opens a shared one. A read-write open of a sparse file allocates its
 * holes before anything is stored. A file longer than the pool its header
 * describes opens as that pool; daxo_check reports the tail and its repair
 * truncates it.
 * A pool that lies on known media errors (the badblocks list of its pmem
 * block device) is refused with -EIO naming the first range, read-only or
 * not: a load from a bad block is a machine check. daxo_check reports the
 * ranges and what they held; its repair gives them fresh blocks.
 * Registration with daxod: an open (and a create) sends one message to the
 * daemon's Unix socket, $DAXO_SOCKET or /run/daxo/daxod.sock, naming the
 * process, the path, the mapping and whether it is pmem, DAX and MAP_SYNC,
 * and daxo_close sends its end. The socket is non-blocking and nothing
 * waits for an answer: no daemon costs one failed connect(), a stuck one at
 * most 50 ms per call in all, and registration never fails the call or
 * changes errno. DAXO_NOTIFY=0 in the environment turns it off.
 * Errors: -EINVAL (NULL @path or @out, unknown flags, wrong or too long a
 *   layout name, not a regular file or device-DAX node), -ENOENT (no such
 *   file, or an empty path), -EISDIR, -EACCES or -EPERM (permission), -ENOTDIR, -ENAMETOOLONG, -ELOOP
 *   (the path), -EMFILE or -ENFILE (no file descriptor left), -EROFS (a
 *   read-write open on a read-only file system: use DAXO_RDONLY), -ENOSPC
 *   (a read-write open of a sparse file whose holes its file system cannot
 *   hold; the message gives the first hole's offset), -EBUSY (another
 *   handle, in this process or another, holds the pool; the message names
 *   the holder's pid when it can be found), -EUCLEAN (not a daxo pool,
 *   truncated, or corrupted: the message gives the offset),
 *   -EPROTONOSUPPORT (a newer major format version or an unknown
 *   incompatible feature), -ENODEV (a file that cannot be mapped), -ENOMEM,
 *   -EIO (known media errors, or the pool could not be read).
 * Thread-safe.
 */
DAXO_EXPORT int daxo_open(const char *path, const char *layout, unsigned flags,
			  daxo_pool **out);

/**
 * daxo_close -- unmap a pool, release its lock and end its registration
 * with daxod. NULL is accepted. Not to be called while another thread
 * still uses the pool or has a transaction open on it; a transaction the
 * calling thread has open on it is rolled back first (as daxo_tx_abort,
 * inner blocks and all). The handle is gone afterwards whatever it returns.
 * Errors: -EIO (the pool was in the failed state: what was stored since the
 *   failure may not be durable), -ECANCELED (the calling thread's open
 *   transaction on @p was rolled back).
 */
DAXO_EXPORT int daxo_close(daxo_pool *p);

/**
 * daxo_errormsg -- the calling thread's message for its last failed call.
 * The string is owned by the library and valid until the thread's next call
 * into it. Meaningful only after a failure.
 */
DAXO_EXPORT const char *daxo_errormsg(void);

/**
 * daxo_strerror -- a static description of a (negative) daxo error code.
 * Thread-safe.
 */
DAXO_EXPORT const char *daxo_strerror(int err);

/**
 * daxo_direct -- a pointer to the object at @oid, or NULL for the null oid
 * or an oid outside the pool (and for a NULL @p). Valid until daxo_close().
 * Thread-safe; no fences, no locks. Inline (daxo_direct_inline below): a
 * base plus an offset after one range check, so that walking a structure
 * through oids costs what walking it through pointers costs. Define
 * DAXO_NO_INLINE before including daxo.h for the call instead.
 */
DAXO_EXPORT void *daxo_direct(daxo_pool *p, daxo_oid oid);

/**
 * The first bytes of every daxo_pool handle: what daxo_direct_inline reads.
 * Part of the ABI: a handle starts with this struct for as long as
 * @version is DAXO_POOL_HEAD_V1; a library that lays it out otherwise puts
 * another value there, and code inlined from this header then calls
 * daxo_direct_slow. Written once when the pool is opened or created; not
 * for programs to read or write themselves.
 */
struct daxo_pool_head {
	uint32_t version;  /**< DAXO_POOL_HEAD_V1 */
	uint32_t reserved; /**< zero */
	char *base;        /**< where the pool is mapped */
	uint64_t size;     /**< pool bytes: oids are below it */
};
#define DAXO_POOL_HEAD_V1 0x64786831u

/**
 * daxo_direct_slow -- daxo_direct as a call: what daxo_direct_inline falls
 * back to when the handle's head has another version. Code that inlines
 * daxo_direct refers to it, so that it cannot be run against a library
 * older than its header (0.5: the version node DAXO_0.5 is missing there).
 */
DAXO_EXPORT void *daxo_direct_slow(daxo_pool *p, daxo_oid oid);

/** daxo_direct_inline -- daxo_direct, inline. */
static inline void *daxo_direct_inline(daxo_pool *p, daxo_oid oid)
{
	const struct daxo_pool_head *h =
	    (const struct daxo_pool_head *)(const void *)p;

	if (h && h->version == DAXO_POOL_HEAD_V1)
		/* oid in [1, size): one unsigned comparison */
		return oid - 1 < h->size - 1 ? h->base + oid : (void *)0;
	return daxo_direct_slow(p, oid);
}

#ifndef DAXO_NO_INLINE
#define daxo_direct(p, oid) daxo_direct_inline((p), (oid))
#endif

/**
 * daxo_oid_of -- the oid of an address inside the pool's mapping, or 0 if
 * @addr is outside it. Thread-safe.
 */
DAXO_EXPORT daxo_oid daxo_oid_of(daxo_pool *p, const void *addr);

/**
 * daxo_root -- the pool's root object, allocated and zeroed by the first call.
 * @size: in: the size wanted; 0 only looks it up.
 * @out:  out: its oid.
 * A root smaller than @size grows: a new object with the old contents and
 * the rest zeroed replaces it, crash-atomically (the new object, the free
 * of the old one and the pool's root in one record), so its oid changes:
 * pointers into the old root are stale afterwards. Thread-safe: threads
 * asking at once get the same root.
 * Errors: -ENOENT (@size is 0 and there is no root yet), -EINVAL (NULL @p or
 *   @out), -ENOSPC (no room for the root, or for a grown one: the root is
 *   left as it was), -EROFS (a read-only pool that would need a change),
 *   -EIO (failed state), -EUCLEAN (the heap is damaged, or the pool
 *   meta's root oid: it names no live root object, or is zero while a
 *   root exists), -ENOMEM, -EBUSY (growing would move a root that the
 *   thread's open transaction on @p logged or wrote: the transaction's
 *   end would write into the old one; nothing changed).
 * -EBADFD: a child of fork() called through its parent's handle (CAVEATS).
 */
DAXO_EXPORT int daxo_root(daxo_pool *p, uint64_t size, daxo_oid *out);

/**
 * A constructor: initializes the new object at @ptr (@size bytes asked).
 * It need not persist what it writes: the object is made durable with the
 * record that publishes it. Non-zero cancels the allocation. It may read
 * the pool and call daxo_alloc and friends; it must not begin a
 * transaction on the pool (that would join the caller's, if any).
 */
typedef int (*daxo_ctor)(daxo_pool *p, void *ptr, uint64_t size, void *arg);

/**
 * daxo_root_construct -- daxo_root, with @ctor run on the new object
 * when the root is created or grows (on a grown root, after the old
 * contents were copied and the rest zeroed), before it is published.
 * Errors: as daxo_root's -ENOENT, -EINVAL, -ENOSPC, -EROFS, -EIO, -EUCLEAN,
 *   -ENOMEM, -EBUSY; and -ECANCELED (@ctor returned non-zero: nothing
 *   changed).
 * -EBADFD: a child of fork() called through its parent's handle (CAVEATS).
 */
DAXO_EXPORT int daxo_root_construct(daxo_pool *p, uint64_t size,
				    daxo_ctor ctor, void *arg, daxo_oid *out);

/**
 * daxo_root_size -- the largest size asked of daxo_root so far (at most
 * the root's usable size), or 0 if there is no root. Thread-safe.
 */
DAXO_EXPORT uint64_t daxo_root_size(daxo_pool *p);

/**
 * daxo_pool_persist -- make [addr, addr+len) durable: flush its cache lines,
 * then fence. Also makes every transaction committed before the call final,
 * so that recovery never replays one over the bytes persisted here: that
 * costs a second fence when transactions committed since the last such
 * point.
 * @addr, @len: in: a range that lies wholly inside the pool's mapping; a
 *        range that does not is not flushed at all (-EINVAL). @len 0 does
 *        nothing and returns 0.
 * Returns 0, or -EINVAL (@p NULL, range outside the pool), -EROFS (a
 * read-only pool: its mapping is a private view that nothing makes
 * durable), -EIO (the pool is in the failed state: this or an earlier
 * write-back failed, so what was stored may not be durable). Thread-safe.
 * -EBADFD: a child of fork() called through its parent's handle (CAVEATS).
 */
DAXO_EXPORT int daxo_pool_persist(daxo_pool *p, const void *addr, size_t len);

/**
 * daxo_pool_flush -- start writing back [addr, addr+len); durable only after
 * a following daxo_pool_drain() (or daxo_drain) by the same thread. Ranges
 * as for daxo_pool_persist. Thread-safe.
 * Errors: -EINVAL (@p NULL, range outside the pool: nothing flushed),
 *   -EROFS (read-only pool), -EIO (failed state).
 * -EBADFD: a child of fork() called through its parent's handle (CAVEATS).
 */
DAXO_EXPORT int daxo_pool_flush(daxo_pool *p, const void *addr, size_t len);

/**
 * daxo_pool_drain -- wait for the calling thread's earlier flushes (a
 * fence); like daxo_pool_persist, it also makes earlier transactions final.
 * Returns 0, or -EINVAL (@p NULL), -EROFS, -EIO as daxo_pool_persist.
 * Thread-safe.
 * -EBADFD: a child of fork() called through its parent's handle (CAVEATS).
 */
DAXO_EXPORT int daxo_pool_drain(daxo_pool *p);

/**
 * daxo_persist, daxo_flush, daxo_drain -- daxo_pool_persist,
 * daxo_pool_flush and daxo_pool_drain without the result: a range outside
 * the pool is not flushed, a NULL @p is ignored, and a failure shows only
 * in daxo_pool_status() (and as -EIO from later writes). Thread-safe.
 */
DAXO_EXPORT void daxo_persist(daxo_pool *p, const void *addr, size_t len);
DAXO_EXPORT void daxo_flush(daxo_pool *p, const void *addr, size_t len);
DAXO_EXPORT void daxo_drain(daxo_pool *p);

/**
 * daxo_pool_status -- is the pool usable for writing? Returns 0, or -EIO if
 * it is in the sticky failed state (a write-back failed or corruption was
 * found: every write is refused from then on, reads still work), -EINVAL
 * for a NULL @p. A read-only pool is not failed: it returns 0. Thread-safe;
 * costs one load.
 * -EBADFD: a child of fork() called through its parent's handle (CAVEATS).
 */
DAXO_EXPORT int daxo_pool_status(daxo_pool *p);

/**
 * daxo_alloc -- allocate an object and publish it into @dst atomically.
 * @size: in: bytes wanted (> 0). Objects of 64 bytes or more are 64-byte
 *        aligned. Contents of the new object are unspecified (not zeroed).
 * @type: in: a type number, for iteration with daxo_first/daxo_next; any
 *        but DAXO_TYPE_ANY.
 * @dst:  in/out: a daxo_oid that lives inside the pool (or, for convenience,
 *        in volatile memory, where it is simply assigned). After a crash
 *        either the object is allocated and *@dst names it, or neither.
 * Thread-safe. Costs 1 fence (2 or 3 more, once per run of 16 or more
 * objects, when a new run is made).
 * Errors: -EINVAL (NULL @p or @dst, size 0, type DAXO_TYPE_ANY or
 *   DAXO_TYPE_LIB and up (the root's and the keyed store's), @dst inside the pool
 *   but not in its heap or root), -ENOSPC (no room: the pool is
 *   left as it was), -EROFS, -EIO (failed state), -EUCLEAN (heap metadata
 *   found damaged; the pool enters the failed state), -ENOMEM.
 * -EBADFD: a child of fork() called through its parent's handle (CAVEATS).
 */
DAXO_EXPORT int daxo_alloc(daxo_pool *p, uint64_t size, uint32_t type,
			   daxo_oid *dst);

/* allocation flags */
/** the new object (or what realloc adds) reads zero */
#define DAXO_ALLOC_ZERO 0x1u

/**
 * daxo_alloc_ctor -- daxo_alloc that initializes the object before it is
 * published: zeroed with DAXO_ALLOC_ZERO in @flags, then @ctor (if not
 * NULL) runs on it. After a crash either the object exists, initialized,
 * and *@dst names it, or neither: the contents are made durable by the
 * same commit that publishes them (1 fence while the object fits a redo
 * record, about 1.5 KiB; 2 above). Not part of a transaction the thread
 * may have open: it is durable when it returns, whatever that one does.
 * Thread-safe.
 * Errors: -EINVAL (NULL @p or @dst, size 0, type DAXO_TYPE_ANY, unknown
 *   flags, @dst inside the pool but not in its heap or root), -ECANCELED
 *   (@ctor returned non-zero: nothing allocated, *@dst untouched), -ENOSPC
 *   (no room: the pool is left as it was), -EROFS, -EIO (failed state),
 *   -EUCLEAN (heap metadata found damaged), -ENOMEM.
 * -EBADFD: a child of fork() called through its parent's handle (CAVEATS).
 */
DAXO_EXPORT int daxo_alloc_ctor(daxo_pool *p, uint64_t size, uint32_t type,
				unsigned flags, daxo_ctor ctor, void *arg,
				daxo_oid *dst);

/**
 * daxo_realloc -- resize the object *@dst to @size bytes of @type,
 * atomically: a new object with the old contents (up to the smaller size;
 * with DAXO_ALLOC_ZERO the rest reads zero), the free of the old one and
 * the new oid in *@dst, in one record. *@dst == 0 allocates; @size 0
 * frees (as daxo_free). An object that fits already and keeps its type
 * stays where it is (not with DAXO_ALLOC_ZERO). Thread-safe.
 * Errors: -EINVAL (NULL @p or @dst, *@dst not a live object, the root
 *   object (daxo_root grows it) or the keyed store's, unknown flags, size 0 with *@dst 0, type
 *   DAXO_TYPE_ANY or DAXO_TYPE_LIB and up, @dst inside the pool
 *   but not in its heap or root; nothing changes), -ENOSPC (no room:
 *   nothing changed), -EBUSY (*@dst is part of the thread's open
 *   transaction on @p, as for daxo_free; nothing changes), -EROFS, -EIO
 *   (failed state), -EUCLEAN (heap metadata found damaged), -ENOMEM.
 * -EBADFD: a child of fork() called through its parent's handle (CAVEATS).
 */
DAXO_EXPORT int daxo_realloc(daxo_pool *p, daxo_oid *dst, uint64_t size,
			     uint32_t type, unsigned flags);

/**
 * daxo_free -- free the object *@dst and set *@dst to 0, atomically.
 * Thread-safe. Costs 1 fence.
 * Errors: -EINVAL (NULL @p or @dst, or *@dst is not a live object: freed
 *   already, an inner address, outside the pool; or it is the root object,
 *   which only daxo_root frees, or one of the keyed store's, which
 *   daxo_del frees; nothing changes), -EBUSY
 *   (the object is part of the thread's open transaction on @p -- logged,
 *   written, allocated or freed in it: free it with daxo_tx_free; nothing
 *   changes), -EROFS, -EIO (failed state), -EUCLEAN (heap metadata found
 *   damaged), -ENOMEM.
 * -EBADFD: a child of fork() called through its parent's handle (CAVEATS).
 */
DAXO_EXPORT int daxo_free(daxo_pool *p, daxo_oid *dst);

/**
 * daxo_usable_size -- bytes usable at @oid (at least what was asked), or 0
 * if @oid is not a live object. An object the calling thread's open
 * transaction allocated counts (before its commit its usable bytes are
 * those the commit makes durable: the size asked, to the cache line).
 * Thread-safe.
 */
DAXO_EXPORT uint64_t daxo_usable_size(daxo_pool *p, daxo_oid oid);

/**
 * daxo_oid_type -- the type number of the live object @oid, or UINT32_MAX
 * (DAXO_TYPE_ANY, which no object has) if @oid is not a live object. An
 * object the calling thread's open transaction allocated counts.
 * Thread-safe.
 */
DAXO_EXPORT uint32_t daxo_oid_type(daxo_pool *p, daxo_oid oid);

/** daxo_type_of -- the old name of daxo_oid_type. */
DAXO_EXPORT DAXO_DEPRECATED("daxo_oid_type") uint32_t
daxo_type_of(daxo_pool *p, daxo_oid oid);

/** Type number that matches every type in daxo_first/daxo_next. */
#define DAXO_TYPE_ANY UINT32_MAX
/** Type number of the root object (daxo_root). */
#define DAXO_TYPE_ROOT 0xFFFFFFFEu
/**
 * Type numbers from DAXO_TYPE_LIB up are the library's own: the root and
 * the keyed store's anchor, tables and entries. DAXO_TYPE_ANY iterates
 * them too; allocating one of these types, and freeing, moving or
 * transactionally freeing an object of one, is refused with -EINVAL.
 */
#define DAXO_TYPE_LIB 0xFFFFFF00u

/**
 * daxo_first, daxo_next -- iterate the live objects of @type (or
 * DAXO_TYPE_ANY) in address order; 0 ends. Objects allocated or freed during
 * the iteration may or may not be seen. Thread-safe.
 */
DAXO_EXPORT daxo_oid daxo_first(daxo_pool *p, uint32_t type);
DAXO_EXPORT daxo_oid daxo_next(daxo_pool *p, daxo_oid oid, uint32_t type);

/**
 * daxo_tx_begin -- begin a transaction on the calling thread, or a block
 * of the one it has open on @p.
 * @tx: out: the transaction; the block ends with daxo_tx_commit or
 *      daxo_tx_abort.
 * Transactions nest: if the thread has a transaction open on @p, the call
 * joins it (*@tx is that transaction, and the block is an inner one). An
 * inner daxo_tx_commit only closes its block; the outermost one commits
 * everything. An abort in any block aborts the whole transaction. So a
 * helper that changes the pool can begin and commit its own block whether
 * or not its caller is in a transaction already.
 * Returns 0, -EINVAL (NULL @p or @tx), -EROFS, -EIO (pool failed),
 * -ENOMEM, -EOVERFLOW (2^32 blocks deep). A transaction that changes nothing costs no fence; a joined
 * block costs no more than a function call.
 * -EBADFD: a child of fork() called through its parent's handle (CAVEATS).
 */
DAXO_EXPORT int daxo_tx_begin(daxo_pool *p, daxo_tx **tx);

/** daxo_tx_begin_flags: a transaction of its own, never joined */
#define DAXO_TX_DETACHED 0x1u

/**
 * daxo_tx_begin_flags -- daxo_tx_begin with @flags: 0, or
 * DAXO_TX_DETACHED for a transaction apart from the one the thread may
 * have open on @p: it commits or aborts on its own, durable when it
 * commits even if the other later aborts, and no daxo_tx_begin joins it.
 * The two must not change the same bytes. Returns as daxo_tx_begin: 0,
 * -EINVAL (NULL @p or @tx, an unknown flag), -EROFS, -EIO, -ENOMEM,
 * -EOVERFLOW.
 * -EBADFD: a child of fork() called through its parent's handle (CAVEATS).
 */
DAXO_EXPORT int daxo_tx_begin_flags(daxo_pool *p, unsigned flags,
				    daxo_tx **tx);

/**
 * daxo_tx_current -- the transaction the calling thread has open on @p
 * (DAXO_TX_DETACHED ones aside), or NULL. Thread-safe: each thread sees
 * its own.
 */
DAXO_EXPORT daxo_tx *daxo_tx_current(daxo_pool *p);

/**
 * daxo_tx_add_range -- snapshot [addr, addr+len) into the undo log; the
 * caller then changes that memory in place. After a crash before commit, or
 * at daxo_tx_abort, the range is rolled back. Only the bytes the transaction
 * does not cover yet are logged: a range it already covers (added before,
 * whole or in adjacent or overlapping pieces, or inside an object of
 * daxo_tx_alloc) costs nothing. One fence per call that logs anything.
 * Errors: -EINVAL (NULL @tx, len 0, or a range not inside the pool's heap
 *   or root), -ENOSPC (no room for the log), -ENOMEM, -EIO, or, once a call
 *   of the transaction failed, that first error again (-EINVAL, -ENOSPC,
 *   -ENOMEM, -EUCLEAN) or -ECANCELED (an inner block aborted it): the
 *   transaction can then only be aborted.
 *   Also -EPERM (called from a thread other than the one that began @tx;
 *   nothing changes, and the transaction is not failed).
 * -EBADFD: a child of fork() called through its parent's handle (CAVEATS).
 */
DAXO_EXPORT int daxo_tx_add_range(daxo_tx *tx, void *addr, size_t len);

/** A range of memory: @len bytes at @addr. */
struct daxo_range {
	void *addr;
	size_t len;
};

/**
 * daxo_tx_add_ranges -- daxo_tx_add_range of the @n ranges of @ranges
 * (which may overlap), under one fence: snapshot the fields a change will
 * touch with one call, not one fence each. Every range is checked before
 * anything is logged.
 * Errors: those of daxo_tx_add_range -- -EINVAL (NULL @tx, or @ranges NULL
 *   with @n > 0, a range of length 0 or not inside the pool's heap or
 *   root), -ENOSPC, -ENOMEM, -EIO, or an earlier failed call's error
 *   (-EINVAL, -ENOSPC, -ENOMEM, -EUCLEAN) or -ECANCELED.
 *   Also -EPERM (called from a thread other than the one that began @tx;
 *   nothing changes, and the transaction is not failed).
 * -EBADFD: a child of fork() called through its parent's handle (CAVEATS).
 */
DAXO_EXPORT int daxo_tx_add_ranges(daxo_tx *tx, const struct daxo_range *ranges,
				   size_t n);

/**
 * daxo_tx_write -- stage len bytes from @src to be copied to @dst at commit
 * (redo). @dst is not changed before commit; reads of @dst in the same
 * transaction see the old bytes.
 * Errors: -EINVAL (NULL @tx or @src, len 0 or a range not inside the pool's
 *   heap or root), -ENOSPC (no room for the log), -ENOMEM, or, once a call of the transaction failed, that first error
 * again (-EINVAL, -ENOSPC, -ENOMEM, -EUCLEAN) or -ECANCELED (an inner
 * block aborted it): the transaction can then only be aborted.
 *   Also -EPERM (called from a thread other than the one that began @tx;
 *   nothing changes, and the transaction is not failed).
 * -EBADFD: a child of fork() called through its parent's handle (CAVEATS).
 */
DAXO_EXPORT int daxo_tx_write(daxo_tx *tx, void *dst, const void *src,
			      size_t len);

/**
 * daxo_tx_alloc -- allocate an object that belongs to the transaction: the
 * caller fills it in directly (no add_range needed), it becomes durable at
 * commit and disappears on abort. Contents are zeroed. @out receives its oid
 * (volatile).
 * Errors: -EINVAL (NULL argument, size 0, type DAXO_TYPE_ANY or
 *   DAXO_TYPE_LIB and up), -ENOSPC,
 *   -ENOMEM, -EUCLEAN (heap metadata found damaged), or, once a call of the transaction failed, that first error
 * again (-EINVAL, -ENOSPC, -ENOMEM, -EUCLEAN) or -ECANCELED (an inner
 * block aborted it): the transaction can then only be aborted.
 *   Also -EPERM (called from a thread other than the one that began @tx;
 *   nothing changes, and the transaction is not failed).
 * -EBADFD: a child of fork() called through its parent's handle (CAVEATS).
 */
DAXO_EXPORT int daxo_tx_alloc(daxo_tx *tx, uint64_t size, uint32_t type,
			      daxo_oid *out);

/**
 * daxo_tx_xalloc -- daxo_tx_alloc with @flags: without DAXO_ALLOC_ZERO the
 * contents are not zeroed (the caller fills the object; whatever it writes
 * is durable at commit), which saves a pass over a large object.
 * Errors: -EINVAL (NULL argument, size 0, type DAXO_TYPE_ANY or
 *   DAXO_TYPE_LIB and up, unknown flags), -ENOSPC, -ENOMEM, -EUCLEAN (heap
 *   metadata found damaged), or,
 *   once a call of the transaction failed, that first error again
 *   (-EINVAL, -ENOSPC, -ENOMEM, -EUCLEAN) or -ECANCELED (an inner block
 *   aborted it): the transaction can then only be aborted.
 *   Also -EPERM (called from a thread other than the one that began @tx;
 *   nothing changes, and the transaction is not failed).
 * -EBADFD: a child of fork() called through its parent's handle (CAVEATS).
 */
DAXO_EXPORT int daxo_tx_xalloc(daxo_tx *tx, uint64_t size, uint32_t type,
			       unsigned flags, daxo_oid *out);

/**
 * daxo_tx_realloc -- in the transaction: @out receives an object of @size
 * bytes of @type holding @oid's contents (up to the smaller size; with
 * DAXO_ALLOC_ZERO the rest reads zero), and @oid is freed at commit. @oid
 * 0 allocates; @size 0 frees (*@out = 0). An object that fits already and
 * keeps its type is returned as it is (not with DAXO_ALLOC_ZERO). On abort
 * nothing happened. An object the transaction allocated may be given.
 * Errors: -EINVAL (NULL @tx or @out, @oid not a live object or the root
 *   object or the keyed store's, size 0 with @oid 0, type DAXO_TYPE_ANY or
 *   DAXO_TYPE_LIB and up,
 *   unknown flags), -ENOSPC, -ENOMEM, -EUCLEAN
 *   (heap metadata found damaged), or, once a call of the transaction
 *   failed, that first error again (-EINVAL, -ENOSPC, -ENOMEM, -EUCLEAN)
 *   or -ECANCELED (an inner block aborted it): the transaction can then
 *   only be aborted.
 *   Also -EPERM (called from a thread other than the one that began @tx;
 *   nothing changes, and the transaction is not failed).
 * -EBADFD: a child of fork() called through its parent's handle (CAVEATS).
 */
DAXO_EXPORT int daxo_tx_realloc(daxo_tx *tx, daxo_oid oid, uint64_t size,
				uint32_t type, unsigned flags, daxo_oid *out);

/**
 * daxo_tx_free -- free @oid when the transaction commits; the null oid is
 * no operation (as free(NULL)).
 * Errors: -EINVAL (NULL @tx, or @oid is not a live object, is already
 *   freed in this transaction, or is the root object or the keyed
 *   store's), -ENOMEM, -EUCLEAN, or, once a call of the transaction failed, that first error
 * again (-EINVAL, -ENOSPC, -ENOMEM, -EUCLEAN) or -ECANCELED (an inner
 * block aborted it): the transaction can then only be aborted.
 *   Also -EPERM (called from a thread other than the one that began @tx;
 *   nothing changes, and the transaction is not failed).
 * -EBADFD: a child of fork() called through its parent's handle (CAVEATS).
 */
DAXO_EXPORT int daxo_tx_free(daxo_tx *tx, daxo_oid oid);

/**
 * daxo_tx_commit -- make the transaction durable; when it returns 0 every
 * change is durable (recovery completes it after a crash). A transaction
 * using only daxo_tx_write, daxo_tx_free and daxo_tx_alloc costs 1 fence
 * while its log fits a lane's 2 KiB slot (new objects are logged), else 2;
 * with k daxo_tx_add_range calls k + 2. On failure the
 * transaction is aborted and its error returned. @tx is freed either way.
 * In an inner block (daxo_tx_begin) it only closes the block: it returns
 * 0, or the error of an earlier failed call (the outermost commit will
 * then abort), and @tx stays valid for the outer blocks.
 * Errors: -EINVAL (NULL @tx), -ENOSPC or -ENOMEM (no room for the record,
 *   its log extension or the new objects: the transaction is rolled back),
 *   or the first error of an earlier failed call of the transaction
 *   (-EINVAL, -ENOSPC, -ENOMEM, -EUCLEAN) or -ECANCELED (an inner block
 *   aborted it), after rolling it back.
 *   Also -EPERM (called from a thread other than the one that began @tx;
 *   nothing changes, and the transaction is not failed).
 * -EBADFD: a child of fork() called through its parent's handle (CAVEATS).
 */
DAXO_EXPORT int daxo_tx_commit(daxo_tx *tx);

/**
 * daxo_tx_abort -- roll the transaction back: every added range restored,
 * every allocation released, staged writes and frees dropped. @tx is freed.
 * NULL is accepted. In an inner block it aborts the whole transaction
 * without freeing @tx, which the outer blocks still hold: every later
 * call on it fails with -ECANCELED, and the outermost daxo_tx_commit rolls
 * back and returns -ECANCELED (or its daxo_tx_abort rolls back).
 */
DAXO_EXPORT void daxo_tx_abort(daxo_tx *tx);

/* stages of daxo_tx_on */
#define DAXO_TX_ON_COMMIT 0x1u /**< the transaction committed */
#define DAXO_TX_ON_ABORT 0x2u  /**< it aborted (or its commit failed) */

/** A stage callback: @stage is DAXO_TX_ON_COMMIT or DAXO_TX_ON_ABORT. */
typedef void (*daxo_tx_cb)(daxo_pool *p, unsigned stage, void *arg);

/**
 * daxo_tx_on -- call @cb(p, stage, @arg) when the transaction ends in one of
 * @stages (DAXO_TX_ON_COMMIT and/or DAXO_TX_ON_ABORT): after the outermost
 * commit made it durable, or after it was rolled back. Callbacks run on the
 * committing thread, in the order they were registered, once the
 * transaction has ended: a callback may begin another. Typical use: keep
 * volatile state (a cache, an index) in step with what committed. May be
 * called from any block. Returns 0, -EINVAL, or -ENOMEM (the transaction
 * must then be aborted). A transaction without callbacks pays nothing.
 *   Also -EPERM (called from a thread other than the one that began @tx;
 *   nothing changes, and the transaction is not failed).
 * -EBADFD: a child of fork() called through its parent's handle (CAVEATS).
 */
DAXO_EXPORT int daxo_tx_on(daxo_tx *tx, unsigned stages, daxo_tx_cb cb,
			   void *arg);

/*
 * Locks kept in the pool. A daxo_mutex, daxo_rwlock or daxo_cond is 64
 * bytes inside a pool object, next to the data it guards; zeroed memory is
 * a free lock, and nothing needs to initialize one. A lock is valid again
 * after every open of the pool -- after a crash too -- without the program
 * resetting it: each lock keeps the generation of the open that last set
 * it up, each open has a generation of its own (64 random bits), and the
 * first use in an open sets the lock up again. So a lock held when the
 * process died is free at the next open. The lock's state is volatile:
 * it is never flushed, and taking or releasing one costs no fence. The
 * pointers must lie in @p's mapping; a lock serves the threads of the
 * process that has the pool open. Thread-safe (that is their point).
 */

/** A mutex kept in a pool object (64 bytes, zeroed = free). */
typedef union daxo_mutex {
	uint64_t _gen;
	unsigned char _opaque[64];
} daxo_mutex;

/** A readers-writer lock kept in a pool object (64 bytes, zeroed = free). */
typedef union daxo_rwlock {
	uint64_t _gen;
	unsigned char _opaque[64];
} daxo_rwlock;

/** A condition variable kept in a pool object (64 bytes, zeroed = new). */
typedef union daxo_cond {
	uint64_t _gen;
	unsigned char _opaque[64];
} daxo_cond;

/**
 * daxo_mutex_lock, daxo_mutex_trylock, daxo_mutex_timedlock,
 * daxo_mutex_unlock -- as pthread_mutex_lock and friends (an error-checking
 * mutex: relocking or unlocking a mutex the thread does not hold is an
 * error, not a hang). @abstime is CLOCK_REALTIME.
 * Errors: -EINVAL (NULL @p, @m or @abstime, or @m not in the pool),
 *   -EBUSY (trylock: held), -ETIMEDOUT (timedlock), -EDEADLK (the thread
 *   holds it already), -EPERM (unlock: the thread does not hold it).
 *   -EBADFD (a child of fork() called through its parent's handle, CAVEATS).
 */
DAXO_EXPORT int daxo_mutex_lock(daxo_pool *p, daxo_mutex *m);
DAXO_EXPORT int daxo_mutex_trylock(daxo_pool *p, daxo_mutex *m);
DAXO_EXPORT int daxo_mutex_timedlock(daxo_pool *p, daxo_mutex *m,
				     const struct timespec *abstime);
DAXO_EXPORT int daxo_mutex_unlock(daxo_pool *p, daxo_mutex *m);

/**
 * daxo_rwlock_rdlock, daxo_rwlock_wrlock, daxo_rwlock_tryrdlock,
 * daxo_rwlock_trywrlock, daxo_rwlock_timedrdlock, daxo_rwlock_timedwrlock,
 * daxo_rwlock_unlock -- as pthread_rwlock_rdlock and friends, checked: a
 * thread's unlock of a lock it does not hold is -EPERM (pthreads leave it
 * undefined), and a write lock asked by a thread that holds the lock for
 * reading is -EDEADLK (not a hang). To tell these, each thread records
 * the readers-writer locks it holds, in memory of its own (no line shared
 * with other threads is written): any number of distinct locks, each any
 * number of times for reading. The record grows (malloc) when a thread
 * takes more distinct locks at once than ever before, and is freed when
 * the thread exits.
 * Errors: -EINVAL (NULL @p, @l or @abstime, or @l not in the pool),
 *   -EBUSY (try: held), -ETIMEDOUT (timed), -EDEADLK (the thread holds it
 *   already: for writing, or for reading when it asks to write), -EAGAIN
 *   (too many readers of the lock, or no pthread key left in the process
 *   for the thread's record), -ENOMEM (a lock this thread does not
 *   hold yet, and no memory to record one more: the lock is not taken,
 *   the thread's other holds are unchanged), -EPERM (unlock of a lock the
 *   thread does not hold).
 *   -EBADFD (a child of fork() called through its parent's handle, CAVEATS).
 */
DAXO_EXPORT int daxo_rwlock_rdlock(daxo_pool *p, daxo_rwlock *l);
DAXO_EXPORT int daxo_rwlock_wrlock(daxo_pool *p, daxo_rwlock *l);
DAXO_EXPORT int daxo_rwlock_tryrdlock(daxo_pool *p, daxo_rwlock *l);
DAXO_EXPORT int daxo_rwlock_trywrlock(daxo_pool *p, daxo_rwlock *l);
DAXO_EXPORT int daxo_rwlock_timedrdlock(daxo_pool *p, daxo_rwlock *l,
					const struct timespec *abstime);
DAXO_EXPORT int daxo_rwlock_timedwrlock(daxo_pool *p, daxo_rwlock *l,
					const struct timespec *abstime);
DAXO_EXPORT int daxo_rwlock_unlock(daxo_pool *p, daxo_rwlock *l);

/**
 * daxo_cond_wait, daxo_cond_timedwait, daxo_cond_signal,
 * daxo_cond_broadcast -- as pthread_cond_wait and friends, with a
 * daxo_mutex the caller holds. @abstime is CLOCK_REALTIME.
 * Errors: -EINVAL (NULL @p, @c, @m or @abstime, or one not in the pool),
 *   -ETIMEDOUT (timedwait), -EPERM (the thread does not hold @m).
 *   -EBADFD (a child of fork() called through its parent's handle, CAVEATS).
 */
DAXO_EXPORT int daxo_cond_wait(daxo_pool *p, daxo_cond *c, daxo_mutex *m);
DAXO_EXPORT int daxo_cond_timedwait(daxo_pool *p, daxo_cond *c, daxo_mutex *m,
				    const struct timespec *abstime);
DAXO_EXPORT int daxo_cond_signal(daxo_pool *p, daxo_cond *c);
DAXO_EXPORT int daxo_cond_broadcast(daxo_pool *p, daxo_cond *c);

/**
 * daxo_put -- insert or replace @key with @val in the pool's keyed store.
 * @klen: 1..DAXO_KEY_MAX. @vlen: 0 up to the free space.
 * Crash-atomic: afterwards the key holds either the old or the new value.
 * In a pool made with DAXO_CREATE_CHECKSUMS the value's checksum is written
 * with it. Thread-safe. Costs 1 fence, 2 when key and value pass 1.5 KiB.
 * Errors: -EINVAL (NULL @p or @key, @klen 0 or over DAXO_KEY_MAX, NULL @val
 *   with @vlen > 0), -ENOSPC (no room for the value or the index), -EDEADLK
 *   (called from a daxo_foreach or daxo_get_view callback on @p), -EUCLEAN
 *   (the keyed store's metadata on the key's way is damaged: the message
 *   gives the offset; nothing was changed), -EROFS,
 *   -EIO (failed state), -ENOMEM, -EBUSY (the thread has a transaction
 *   open on @p: a put is a transaction of its own, never a block of
 *   another; nothing was changed).
 * -EBADFD: a child of fork() called through its parent's handle (CAVEATS).
 */
DAXO_EXPORT int daxo_put(daxo_pool *p, const void *key, size_t klen,
			 const void *val, size_t vlen);

/**
 * daxo_get -- copy the value of @key into @buf (at most @cap bytes).
 * @vlen: out: the value's full length, also when it did not fit.
 * Returns 0 if the whole value was copied. Thread-safe; takes no global lock
 * and never fences.
 * Errors: -ENOBUFS (it did not fit: the first @cap bytes were copied and
 *   *@vlen says how many are needed), -ENOENT (no such key), -EINVAL (NULL
 *   @p, @key or @vlen, NULL @buf with @cap > 0, @klen 0 or over
 *   DAXO_KEY_MAX), -EUCLEAN (the keyed store is damaged on the key's way,
 *   or in a pool made with DAXO_CREATE_CHECKSUMS the value does not match
 *   its checksum: the message gives the offset; what @buf holds then is
 *   not the value).
 * -EBADFD: a child of fork() called through its parent's handle (CAVEATS).
 */
DAXO_EXPORT int daxo_get(daxo_pool *p, const void *key, size_t klen, void *buf,
			 size_t cap, size_t *vlen);

/** One lookup of daxo_get_many. */
struct daxo_get_req {
	const void *key; /**< in: the key */
	size_t klen;	 /**< in: its length, 1..DAXO_KEY_MAX */
	void *buf;	 /**< in: where the value is copied */
	size_t cap;	 /**< in: bytes @buf holds (0 with a NULL @buf) */
	size_t vlen;	 /**< out: the value's full length (rc 0 or -ENOBUFS) */
	int rc;		 /**< out: what daxo_get would have returned */
};

/**
 * daxo_get_many -- daxo_get of @n keys in one call, their memory accesses
 * overlapped.
 * @reqs: in/out: the lookups. Each request's @rc gets what daxo_get would
 *        have returned for it: 0 (the whole value copied into @buf, its
 *        length in @vlen), -ENOBUFS (the first @cap bytes copied; @vlen
 *        says how many are needed), -ENOENT, -EINVAL (key NULL or of a bad
 *        length, or @buf NULL with @cap > 0), -EUCLEAN (the store is
 *        damaged where the lookup went, or the value fails its checksum).
 * @n:    in: how many; 0 is allowed.
 * Lookups run in groups of up to 8: the call hashes every key of a group
 * and asks for its bucket, then reads the buckets and asks for the entries
 * and values they name, then walks and copies -- so the cache misses of a
 * group overlap instead of following each other, as they do in a loop of
 * daxo_get calls. Each lookup is atomic on its own, as daxo_get's; the
 * batch is not a snapshot: a put or delete that runs meanwhile may be seen
 * by some lookups and not by others. Requests may name the same key; their
 * buffers must not overlap each other or the requests.
 * Returns how many requests have @rc 0 (0..@n), or -EINVAL for a NULL
 * pool, a NULL @reqs with @n > 0, or @n > INT_MAX (then no request is
 * touched). When a request failed, daxo_errormsg() describes the first one
 * that did. Thread-safe; takes no global lock and never fences.
 * -EBADFD: a child of fork() called through its parent's handle (CAVEATS).
 */
DAXO_EXPORT int daxo_get_many(daxo_pool *p, struct daxo_get_req *reqs,
			      size_t n);

/**
 * daxo_del -- remove @key. Crash-atomic, thread-safe. Costs 1 fence.
 * Errors: -ENOENT (no such key), -EINVAL (NULL @p or @key, @klen 0 or over
 *   DAXO_KEY_MAX), -EDEADLK (called from a daxo_foreach or daxo_get_view
 *   callback on @p), -EUCLEAN (the keyed store is damaged), -EROFS, -EIO
 *   (failed state), -ENOSPC (no room for the log), -ENOMEM, -EBUSY (the
 *   thread has a transaction open on @p).
 * -EBADFD: a child of fork() called through its parent's handle (CAVEATS).
 */
DAXO_EXPORT int daxo_del(daxo_pool *p, const void *key, size_t klen);

/**
 * daxo_foreach -- call @cb for every key in the store, in no particular
 * order. The pointers are valid only during the callback. A non-zero return
 * from @cb stops the walk and is returned as it is. Keys put or deleted
 * during the walk may or may not be seen. Returns 0 when every key was
 * visited (also when there is no store yet). Every chain of keys is checked
 * before its keys are handed out, and in a pool made with
 * DAXO_CREATE_CHECKSUMS every value before its callback: damage stops the
 * walk with -EUCLEAN (no key is ever handed out twice). Thread-safe; the
 * callback must not put or delete (-EDEADLK).
 * Errors (of its own, besides @cb's values): -EINVAL (NULL @p or @cb),
 *   -EDEADLK (called from another callback on @p), -EUCLEAN (the keyed
 *   store is damaged), -ENOMEM.
 * -EBADFD: a child of fork() called through its parent's handle (CAVEATS).
 */
DAXO_EXPORT int daxo_foreach(daxo_pool *p,
			     int (*cb)(const void *key, size_t klen,
				       const void *val, size_t vlen, void *arg),
			     void *arg);

/**
 * daxo_get_view -- zero-copy read: call @cb with a pointer to the value of
 * @key inside the pool.
 * @cb:  in: called once, with the value (@vlen bytes; not NUL-terminated)
 *       and @arg. The pointer is valid only until @cb returns: afterwards the
 *       value may be replaced and its memory reused. While @cb runs, puts and
 *       deletes of keys in the same lock stripe (1/256 of the keys, by hash)
 *       wait, so keep it short. @cb may call daxo_get but must not call
 *       daxo_put, daxo_del, daxo_foreach or daxo_get_view on the same pool
 *       (those return -EDEADLK).
 * Returns @cb's return value. Thread-safe; never fences.
 * Errors (of its own): -ENOENT (no such key; @cb not called), -EINVAL (NULL
 *   @p, @key or @cb, @klen 0 or over DAXO_KEY_MAX), -EDEADLK (called from
 *   another callback on @p), -EUCLEAN (the store is damaged, or with
 *   DAXO_CREATE_CHECKSUMS the value does not match its checksum; @cb not
 *   called).
 * -EBADFD: a child of fork() called through its parent's handle (CAVEATS).
 */
DAXO_EXPORT int daxo_get_view(daxo_pool *p, const void *key, size_t klen,
			      int (*cb)(const void *val, size_t vlen,
					void *arg),
			      void *arg);

/** Counters of a pool (daxo_stats) or of the calling thread (daxo_thread_stats). */
struct daxo_stats {
	uint64_t fences;       /**< drains (SFENCE, or msync rounds) */
	uint64_t flushes;      /**< cache lines flushed */
	uint64_t logged_bytes; /**< bytes written to undo and redo logs */
	uint64_t tx_commits;   /**< transactions (and atomic operations) committed */
	uint64_t tx_aborts;    /**< transactions aborted */
	uint64_t allocs;       /**< objects allocated */
	uint64_t frees;        /**< objects freed */
	uint64_t recoveries;   /**< logs replayed or rolled back at open */
	uint64_t reserved[8];
};

/**
 * daxo_stats -- the pool's counters since it was opened, summed over its
 * threads. Thread-safe (a snapshot while other threads count on).
 * Errors: -EINVAL (NULL @p or @out).
 */
DAXO_EXPORT int daxo_stats(daxo_pool *p, struct daxo_stats *out);

/**
 * daxo_thread_stats -- the calling thread's counters, over all pools, since
 * the thread started. Returns 0 or -EINVAL (@out NULL). Thread-safe.
 */
DAXO_EXPORT int daxo_thread_stats(struct daxo_stats *out);

/**
 * daxo_stats_thread -- the old name of daxo_thread_stats.
 * Errors: -EINVAL (@out NULL).
 */
DAXO_EXPORT DAXO_DEPRECATED("daxo_thread_stats") int
daxo_stats_thread(struct daxo_stats *out);

/**
 * What daxo_pool_info reports. Fields are added only in place of reserved
 * words (which read as zero), so the struct keeps its size and a program
 * built against an older daxo.h keeps working. The on-media layout (where
 * the lanes and the heap are) is in doc/FORMAT.md, not here; daxo_heap_info
 * describes the heap.
 */
struct daxo_info {
	const char *path;        /**< the path the pool was opened or created
				      with; owned by the handle, valid until
				      daxo_close() */
	void *base;              /**< mapping address (daxo_direct(p, 0)'s
				      base) */
	uint64_t size;           /**< pool size in bytes */
	char layout[DAXO_LAYOUT_MAX + 1]; /**< NUL-terminated */
	uint8_t uuid[16];        /**< in the byte order of its text form */
	uint32_t major, minor;   /**< on-media format version */
	uint64_t incompat, compat, ro_compat; /**< feature flags */
	int64_t ctime;           /**< creation time, seconds since the epoch */
	uint64_t recovered;      /**< logs replayed or rolled back at open */
	uint8_t is_pmem;         /**< flushes are CPU cache flushes */
	uint8_t is_devdax;       /**< the pool is a device-DAX node */
	uint8_t is_dax;          /**< the file is on a DAX mapping (statx) */
	uint8_t map_sync;        /**< mapped with MAP_SYNC */
	uint8_t readonly;        /**< opened with DAXO_RDONLY */
	uint8_t recovery_pending; /**< logs needed replay or rollback at open */
	uint8_t unsafe_shutdown; /**< the DIMMs under the pool lost power
				      unsafely while it was last open: writes
				      just before may be lost (CAVEATS) */
	uint8_t reserved8[1];
	uint64_t reserved[16];   /**< zero */
};

/**
 * daxo_pool_info -- describe an open pool.
 * @out: out: filled in whole (reserved words zeroed).
 * Returns 0 or -EINVAL (@p or @out NULL). Thread-safe; changes nothing.
 * Programs built against daxo 0.1-0.3, whose struct daxo_info had a
 * 4096-byte path and the layout's offsets, keep calling the old version of
 * this symbol (DAXO_0.1) and get the old struct.
 */
DAXO_EXPORT int daxo_pool_info(daxo_pool *p, struct daxo_info *out);

/** Runs of one size class, in struct daxo_heap_info. */
struct daxo_heap_class {
	uint64_t size;      /**< bytes of a slot */
	uint64_t runs;      /**< runs of this class */
	uint64_t slots;     /**< slots in them */
	uint64_t used;      /**< slots allocated (or reserved right now) */
	uint64_t idle_runs; /**< runs holding no object (given back on demand) */
};

#define DAXO_HEAP_CLASSES_MAX 256

/** What daxo_heap_info reports: space in the heap, in bytes. */
struct daxo_heap_info {
	uint64_t chunk_size;       /**< the heap's unit of whole-chunk space */
	uint64_t heap_bytes;       /**< bytes of all chunks */
	uint64_t free_bytes;       /**< free chunks plus free run slots */
	uint64_t free_chunk_bytes; /**< chunks free or held by idle runs */
	uint64_t largest_alloc;    /**< largest object one allocation gets now */
	uint64_t large_objects;    /**< objects of whole chunks */
	uint64_t large_bytes;      /**< their chunks' bytes */
	uint64_t runs;             /**< runs of small objects */
	uint64_t run_bytes;        /**< their chunks' bytes */
	uint64_t retired_runs;     /**< emptied runs given back since open */
	uint32_t nclasses;         /**< entries of cls[] used */
	uint32_t reserved;
	struct daxo_heap_class cls[DAXO_HEAP_CLASSES_MAX]; /**< by class */
};

/**
 * daxo_heap_info -- how the heap's space is used: free bytes, the largest
 * object an allocation can get (whole free chunks, with the idle runs that
 * an allocation would give back first, or a free slot of the largest class
 * that has one), and the runs of each size class with their occupancy.
 * Reads the bitmaps of runs not used since open. A snapshot: other threads
 * may change the heap while it is taken. Thread-safe.
 * Errors: -EINVAL (NULL @p or @out), -ENOMEM.
 */
DAXO_EXPORT int daxo_heap_info(daxo_pool *p, struct daxo_heap_info *out);

/**
 * daxo_heap_stat -- daxo_heap_info of the pool file at @path, read without
 * opening the pool: no lock, no recovery, the file read (or a device-DAX
 * node mapped) read-only. Works on a pool another process holds open --
 * daxod reports pools' free space this way -- but its writes may tear the
 * snapshot, so the figures are then approximate; damaged or torn entries
 * count as neither free nor used. No field is trusted: a hostile file gives
 * wrong figures at worst, never a crash or a hang. retired_runs is 0.
 * Costs one read of the chunk table (8 bytes a chunk) and of each run's
 * bitmap. @out: out. Thread-safe.
 * Errors: -EINVAL (NULL @path or @out; not a regular file or device-DAX
 *   node, or a character device that is not device-DAX), the errors of
 *   open(2) and mmap(2) (-ENOENT, -EACCES, -EPERM, -ENOTDIR, -ENAMETOOLONG,
 *   -ELOOP, -EMFILE, -ENFILE, -ENODEV, -ENXIO), -EIO (sysfs unreadable),
 *   -EUCLEAN (not a daxo pool, or its header damaged), -EPROTONOSUPPORT (a
 *   newer format), -ENOMEM.
 */
DAXO_EXPORT int daxo_heap_stat(const char *path, struct daxo_heap_info *out);

/** What daxo_heap_defrag (or daxo_kv_compact) did. */
struct daxo_defrag_result {
	uint64_t total;       /**< distinct objects looked at */
	uint64_t relocated;   /**< objects moved */
	uint64_t bytes_moved; /**< their usable bytes */
	uint64_t runs_freed;  /**< runs emptied and given back meanwhile */
};

/**
 * daxo_heap_defrag -- move objects so that free space comes back together:
 * objects of sparse runs into the other runs of their size class (the
 * emptied runs go back to the free chunks), large objects to lower free
 * chunks. The caller names the objects through the places that hold their
 * oids (as pmemobj_defrag): @oidv[0..@n) point to daxo_oid words, in the
 * pool (an aligned word of a live object) or in volatile memory; a place
 * holding 0 is skipped, and one object may be named by several places. An
 * object is moved only if every place that holds its oid is given (else a
 * place not given would keep the old oid: give them all), and only if
 * every live object of its run is named (a run that cannot empty is left
 * alone); the root object and the keyed store's objects are never moved.
 * Crash-atomic: each batch of moves is one
 * transaction, so after a crash every object and every place in the pool
 * is either all old or all new; places in volatile memory are written after
 * their batch commits. A place inside a moved object is written at the
 * object's new address.
 *
 * @res: out (may be NULL): what was done, also when it fails part way.
 * Thread-safe, but no other thread may use the named objects or write their
 * places during the call.
 * Errors: -EINVAL (NULL @p, NULL @oidv with @n > 0, a NULL place, an oid
 *   that is not a live object, a place in the pool that is not an aligned
 *   word of a live object: nothing is moved), -ENOSPC (no room for a copy:
 *   the batches before stay done), -EUCLEAN (damaged heap metadata met),
 *   -EBUSY (the thread has a transaction open on @p: each batch must commit
 *   on its own), -EROFS, -EIO (failed state), -ENOMEM.
 * -EBADFD: a child of fork() called through its parent's handle (CAVEATS).
 */
DAXO_EXPORT int daxo_heap_defrag(daxo_pool *p, daxo_oid *const *oidv,
				 size_t n, struct daxo_defrag_result *res);

/**
 * daxo_kv_compact -- daxo_heap_defrag for the keyed store, whose references
 * the library holds itself: entries in the sparsest runs of their size class
 * are moved into the class's other runs (each a put of the key with its
 * own value into a new entry, crash-atomic as any put), so that those runs
 * empty and go back to the free chunks. Gets and puts of other threads may
 * run meanwhile (a key put or deleted by another thread is left alone).
 * `daxo defrag POOL` runs it. @res: out (may be NULL). Thread-safe.
 * Errors: -EINVAL (NULL @p), and those of daxo_put: -ENOSPC, -EDEADLK
 *   (called from a daxo_foreach or daxo_get_view callback on @p), -EUCLEAN,
 *   -EROFS, -EIO, -ENOMEM, -EBUSY (the thread has a transaction open on @p).
 * -EBADFD: a child of fork() called through its parent's handle (CAVEATS).
 */
DAXO_EXPORT int daxo_kv_compact(daxo_pool *p, struct daxo_defrag_result *res);

/* daxo_check flags */
#define DAXO_CHECK_VERBOSE 0x1u  /**< report every object checked */
#define DAXO_CHECK_REPAIR 0x2u   /**< repair what can be repaired safely */
#define DAXO_CHECK_DRY_RUN 0x4u  /**< with REPAIR: say what would change */

/** Severity of a daxo_check finding, passed to the report callback. */
enum daxo_check_severity {
	DAXO_CHECK_INFO = 0,       /**< what was checked; nothing wrong */
	DAXO_CHECK_REPAIRABLE = 1, /**< wrong, and DAXO_CHECK_REPAIR fixes it */
	DAXO_CHECK_FATAL = 2,      /**< wrong, and not safely repairable */
	DAXO_CHECK_REPAIRED = 3,   /**< was wrong, and has been repaired */
};

/**
 * Report callback of daxo_check: @severity is an enum daxo_check_severity
 * value (an int, so that callbacks written for daxo 0.3 still match), @off
 * the pool offset concerned, @msg a line of text valid during the call.
 */
typedef void (*daxo_check_cb)(int severity, uint64_t off, const char *msg,
			      void *arg);

/**
 * daxo_pool_writer -- whether a process has the pool at @path open
 * read-write: holds its exclusive lock (daxo_open without
 * DAXO_RDONLY, daxo_pool_create, a repair), this process included.
 * @pid: out (may be NULL): that process's id, 0 if it cannot be told (it
 *       is in another pid namespace); 0 when the function returns 0.
 * Returns 1 if one does, 0 if none does (a pool open read-only elsewhere
 * does not count: its image does not change), or -errno. Reads
 * /proc/locks and never touches the lock itself, so it cannot make a
 * concurrent daxo_open fail (without procfs it tries the lock shared for
 * an instant). The answer may be stale as soon as it is returned: it is
 * a warning for tools such as `daxo check`, not a lock. Thread-safe.
 * Errors: -EINVAL (NULL @path, not a regular file or device-DAX node),
 *   -ENOENT, -EISDIR, -EACCES, -ENOTDIR, -ENAMETOOLONG, -ELOOP, -EMFILE,
 *   -ENFILE.
 */
DAXO_EXPORT int daxo_pool_writer(const char *path, pid_t *pid);

/**
 * daxo_check -- check (and with DAXO_CHECK_REPAIR, repair) a closed pool.
 * @flags: in: DAXO_CHECK_VERBOSE, DAXO_CHECK_REPAIR, DAXO_CHECK_DRY_RUN.
 * @cb:    in: called for each finding with its enum daxo_check_severity, the
 *         pool offset and a message; may be NULL.
 * Returns 0 if consistent (or, with REPAIR, made consistent), 1 if
 * inconsistent but repairable, 2 if inconsistent and not repairable. A
 * check reads the file as it is and takes no lock: run it on a pool no
 * process has open read-write, or it sees a moment in the middle of
 * writes. When a process has the pool open read-write at the start or at
 * the end of a check (daxo_pool_writer), the check says so first, as an
 * info finding always reported ("the pool is open read-write by process
 * N..."), and its verdict is that of an image that may have been
 * changing: a caller should not trust it (`daxo check` exits 4). The
 * file is read through a private mapping: if another process truncates it
 * during the check, a load past its new end is a SIGBUS, which the library
 * leaves to the program (it installs no signal handler; `daxo check`
 * catches it); a size that changed by the end is -EAGAIN. A repair
 * takes the pool's lock exclusively (-EBUSY while any process has the
 * pool open) before it reads the pool and holds it until it returns:
 * nobody opens the pool between the check and its fixes. Thread-safe.
 * Errors: -EINVAL (NULL @path, unknown flags, not a regular file or
 *   device-DAX node), -ENOENT, -EISDIR, -EACCES or -EPERM (permission), -ENOTDIR, -ENAMETOOLONG, -ELOOP
 *   (the path), -EMFILE or -ENFILE (no file descriptor left), -EROFS
 *   (a repair on a read-only file system), -EBUSY (a repair of a pool that
 *   is open), -EUCLEAN (not a daxo pool: no header or header copy can be
 *   trusted), -EPROTONOSUPPORT (a format this library does not know),
 *   -EAGAIN (the file changed size while it was read, or a repair found
 *   another file at @path than the one it checked -- renamed over it
 *   meanwhile -- and wrote nothing more: check it again),
 *   -ENODEV, -ENOMEM, -EIO.
 */
DAXO_EXPORT int daxo_check(const char *path, unsigned flags, daxo_check_cb cb,
			   void *arg);

/*
 * Typed oids (optional, C): an oid that carries the type it names, for the
 * compiler only. DAXO_OID_TYPE(name, T, typenum) declares the union type
 * @name: 8 bytes, the daxo_oid in .oid (store it in pool objects as a
 * daxo_oid is stored; {0} is the null one), plus the pointer type T * and
 * the type number, which exist only at compile time. Then:
 *
 *	DAXO_OID_TYPE(node_oid, struct node, 1);
 *	struct node { uint64_t key; node_oid next; };
 *	node_oid head = {0};
 *	DAXO_TX_ALLOC_T(tx, &head, DAXO_ALLOC_ZERO);	size and type from head
 *	struct node *n = DAXO_PTR(p, head);		a struct node *
 *	n->next = head;					same type: fine
 *	leaf_oid l = head;		error: another type
 *	struct leaf *x = DAXO_PTR(p, head);	incompatible pointer types
 *
 * The type number is the one the object is allocated with (daxo_first and
 * daxo_next walk by it); DAXO_OID_TYPENUM gives it back.
 */
#define DAXO_OID_TYPE(name, T, typenum)                                        \
	typedef union name {                                                   \
		daxo_oid oid;                                                  \
		T *_daxo_t;                                                    \
		char (*_daxo_n)[(typenum) + 1];                                \
	} name

/** the type number of typed oid @o (a constant) */
#define DAXO_OID_TYPENUM(o) ((uint32_t)(sizeof(*(o)._daxo_n) - 1))
/** a T * to the object @o names (NULL for the null oid) */
#define DAXO_PTR(p, o) ((__typeof__((o)._daxo_t))daxo_direct((p), (o).oid))
#define DAXO_OID_IS_NULL(o) ((o).oid == DAXO_OID_NULL)
/** set typed oid @o from @ptr, which must be a pointer to @o's type */
#define DAXO_OID_SET(p, o, ptr)                                                \
	((o).oid = daxo_oid_of((p), 1 ? (ptr) : (o)._daxo_t))

/* allocate one T for the typed oid *@dstp: its size and type number */
#define DAXO_ALLOC_T(p, dstp, flags, ctor, arg)                                \
	daxo_alloc_ctor((p), sizeof(*(dstp)->_daxo_t),                         \
			DAXO_OID_TYPENUM(*(dstp)), (flags), (ctor), (arg),     \
			&(dstp)->oid)
#define DAXO_TX_ALLOC_T(tx, dstp, flags)                                       \
	daxo_tx_xalloc((tx), sizeof(*(dstp)->_daxo_t),                         \
		       DAXO_OID_TYPENUM(*(dstp)), (flags), &(dstp)->oid)
#define DAXO_FREE_T(p, dstp) daxo_free((p), &(dstp)->oid)
#define DAXO_TX_FREE_T(tx, o) daxo_tx_free((tx), (o).oid)

#ifdef __cplusplus
}
#endif
#endif /* DAXO_H */
