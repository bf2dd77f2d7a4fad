/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pool.c -- create, open and close pools: header, locking, mapping, and the
 * recovery driver (the logs themselves are lane.c's and recover.c's).
 *
 * See pool.h for the on-media layout and the order of the checks at open.
 */
#include <fcntl.h>
#include <libpmem.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "badblocks.h"
#include "heap.h"
#include "kv.h"
#include "notify.h"
#include "pool.h"
#include "tx.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif
#ifndef STATX_ATTR_DAX
#define STATX_ATTR_DAX 0x00200000
#endif

struct persist *persist_of(daxo_pool *p)
{
	return &p->ps;
}

unsigned pool_create_minor = POOL_FMT_MINOR;
uint64_t pool_create_flags;

/*
 * Fork generations. A child of fork(2) shares the pool's mapping with its
 * parent but has a copy of the handle's volatile state as it was at the
 * fork: the free space, the lanes bound to threads, the keyed store's
 * stripe locks and the thread's open transactions. Writing through it, the
 * two processes would allocate the same memory and write the same lane's
 * log; rolling back the parent's transaction (daxo_close) or marking the
 * pool closed would undo or hide what the parent is doing. So a child
 * starts a new generation, and a handle made in another one refuses its
 * calls (pool_healthy, kv reads, daxo_pool_flush & co.) and is only freed
 * by daxo_close. The generation is a read-mostly word: loading it on every
 * call writes no shared line.
 */
_Atomic uint64_t pool_fork_generation;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void fork_child(void)
{
	atomic_fetch_add_explicit(&pool_fork_generation, 1,
				  memory_order_relaxed);
}

static void fork_watch(void)
{
	/* without the handler (ENOMEM) children are not told apart */
	(void)pthread_atfork(NULL, NULL, fork_child);
}

int pool_own(daxo_pool *p, const char *what)
{
	if (unlikely(pool_inherited(p)))
		return daxo__err(-EBADFD,
				 "%s: %s: the pool handle was opened by the "
				 "parent process; a child of fork() must open "
				 "the pool itself",
				 p->path, what);
	return 0;
}

int pool_healthy(daxo_pool *p, const char *what)
{
	int ret = pool_own(p, what);

	if (ret)
		return ret;
	if (atomic_load_explicit(&p->ps.failed, memory_order_relaxed))
		return daxo__err(-EIO,
				 "%s: %s: pool is in the failed state after a "
				 "persistence failure or detected corruption",
				 p->path, what);
	return 0;
}

int pool_writable(daxo_pool *p, const char *what)
{
	if (p->rdonly)
		return daxo__err(-EROFS, "%s: %s: pool is open read-only",
				 p->path, what);
	return pool_healthy(p, what);
}

void pool_hdr_seal(struct pool_hdr *h)
{
	h->csum = daxo__csum(h, offsetof(struct pool_hdr, csum), 0);
}

void pool_layout(struct pool_hdr *h, uint64_t size)
{
	h->size = size;
	h->hdr_copy_off = POOL_HDR_COPY_OFF;
	h->meta_off = POOL_META_OFF;
	h->meta_size = POOL_META_SIZE;
	h->lanes_off = POOL_LANES_OFF;
	h->nlanes = TX_NLANES;
	h->lane_size = TX_LANE_SIZE(pool_lane_slots(h));
	h->chunk_size = (h->incompat & POOL_INCOMPAT_HEAP2) ? HEAP2_CHUNK_SIZE
							    : HEAP_CHUNK_SIZE;
	h->heap_off = ALIGN_UP(h->lanes_off + (uint64_t)h->nlanes * h->lane_size,
			       (uint64_t)HEAP_CHUNK_SIZE);
	h->heap_size = size - h->heap_off;
}

int pool_hdr_validate(const struct pool_hdr *h, uint64_t fsize,
		      const char *path, uint64_t at)
{
	if (memcmp(h->magic, POOL_MAGIC, 8) != 0)
		return daxo__err(-EUCLEAN,
				 "%s: offset %llu: not a daxo pool (bad magic)",
				 path, (unsigned long long)at);
	if (h->major > POOL_FMT_MAJOR)
		return daxo__err(-EPROTONOSUPPORT,
				 "%s: offset %llu: pool format %u.%u is newer "
				 "than this library's %u.%u",
				 path, (unsigned long long)(at + 8), h->major,
				 h->minor, POOL_FMT_MAJOR, POOL_FMT_MINOR);
	if (h->csum != daxo__csum(h, offsetof(struct pool_hdr, csum), 0))
		return daxo__err(-EUCLEAN,
				 "%s: offset %llu: header checksum mismatch "
				 "(header damaged; 'daxo repair' can restore it "
				 "from its copy)",
				 path, (unsigned long long)(at + 4088));
	if (h->major != POOL_FMT_MAJOR)
		return daxo__err(-EUCLEAN,
				 "%s: offset %llu: invalid format version %u.%u",
				 path, (unsigned long long)(at + 8), h->major,
				 h->minor);
	if (h->incompat & ~POOL_INCOMPAT_KNOWN)
		return daxo__err(-EPROTONOSUPPORT,
				 "%s: offset %llu: unknown incompatible "
				 "features 0x%llx",
				 path, (unsigned long long)(at + 16),
				 (unsigned long long)(h->incompat &
						      ~POOL_INCOMPAT_KNOWN));
	/* a longer file is a pool with a tail that is not part of it (a
	 * copy tool's padding, truncate -s +N): its header knows the size */
	if (h->size > fsize)
		return daxo__err(-EUCLEAN,
				 "%s: offset %llu: header says the pool is %llu "
				 "bytes but the file has %llu (truncated?)",
				 path, (unsigned long long)(at + 120),
				 (unsigned long long)h->size,
				 (unsigned long long)fsize);
	if (h->size < DAXO_MIN_POOL_SIZE || h->size > DAXO_MAX_POOL_SIZE)
		return daxo__err(-EUCLEAN, "%s: offset %llu: bad pool size %llu",
				 path, (unsigned long long)(at + 120),
				 (unsigned long long)h->size);
	if (memchr(h->layout, '\0', sizeof(h->layout)) == NULL)
		return daxo__err(-EUCLEAN,
				 "%s: offset %llu: layout name not terminated",
				 path, (unsigned long long)(at + 56));

	/* this version lays regions out one way only: demand exactly that */
	struct pool_hdr want;
	memset(&want, 0, sizeof(want));
	want.incompat = h->incompat;
	pool_layout(&want, h->size);
	static const struct {
		size_t off;
		size_t len;
		const char *name;
	} f[] = {
		{offsetof(struct pool_hdr, hdr_copy_off), 8, "header copy offset"},
		{offsetof(struct pool_hdr, meta_off), 8, "meta offset"},
		{offsetof(struct pool_hdr, meta_size), 8, "meta size"},
		{offsetof(struct pool_hdr, lanes_off), 8, "lanes offset"},
		{offsetof(struct pool_hdr, nlanes), 4, "lane count"},
		{offsetof(struct pool_hdr, lane_size), 4, "lane size"},
		{offsetof(struct pool_hdr, heap_off), 8, "heap offset"},
		{offsetof(struct pool_hdr, heap_size), 8, "heap size"},
		{offsetof(struct pool_hdr, chunk_size), 8, "chunk size"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(f); i++) {
		if (memcmp((const char *)h + f[i].off,
			   (const char *)&want + f[i].off, f[i].len) != 0)
			return daxo__err(-EUCLEAN,
					 "%s: offset %llu: bad %s in header",
					 path,
					 (unsigned long long)(at + f[i].off),
					 f[i].name);
	}
	return 0;
}

/*
 * flock_scan -- is there a flock() on (dev, ino) in /proc/locks (only an
 * exclusive one, if @excl)? Returns 1 and its holder's pid in *pid (0 if
 * /proc/locks shows none: another pid namespace), 0 if there is none, or
 * -errno if /proc/locks cannot be read.
 */
static int flock_scan(dev_t dev, ino_t ino, bool excl, pid_t *pid)
{
	FILE *f = fopen("/proc/locks", "re");
	char line[256];
	int found = 0;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char type[16], mode[16];
		int id;
		unsigned maj, min;
		unsigned long long i;
		char *s = strchr(line, ':');

		if (!s)
			continue;
		/* "N: FLOCK  ADVISORY  WRITE PID MAJ:MIN:INODE START END";
		 * a waiter's line ("N: -> FLOCK ...") is not a holder */
		if (sscanf(s + 1, " %15s %*s %15s %d %x:%x:%llu", type, mode,
			   &id, &maj, &min, &i) != 6)
			continue;
		if (strcmp(type, "FLOCK") != 0 ||
		    (excl && strcmp(mode, "WRITE") != 0))
			continue;
		if (maj == major(dev) && min == minor(dev) && i == ino) {
			*pid = id > 0 ? id : 0;
			found = 1;
			break;
		}
	}
	fclose(f);
	return found;
}

/* lock_holder -- the pid holding a flock() on (dev, ino), or 0 */
static pid_t lock_holder(dev_t dev, ino_t ino)
{
	pid_t pid = 0;

	return flock_scan(dev, ino, false, &pid) == 1 ? pid : 0;
}

int pool_writer(const char *path, pid_t *pid)
{
	struct stat st;
	int fd, r;

	*pid = 0;
	/* O_NONBLOCK: a FIFO would wait for a writer */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0)
		r = -errno;
	else if (S_ISDIR(st.st_mode))
		r = -EISDIR;
	else if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode))
		r = -EINVAL;
	else
		/* /proc/locks tells without touching the lock: a flock()
		 * probe could make a writer's daxo_open fail that instant */
		r = flock_scan(st.st_dev, st.st_ino, true, pid);
	if (r < 0 && r != -EISDIR && r != -EINVAL) {
		/* no procfs: probe, and let go at once */
		if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
			flock(fd, LOCK_UN);
			r = 0;
		} else {
			r = errno == EWOULDBLOCK ? 1 : -errno;
		}
	}
	close(fd);
	return r;
}

DAXO_EXPORT int daxo_pool_writer(const char *path, pid_t *pid)
{
	pid_t who;
	int r;

	daxo__err_clear();
	if (pid)
		*pid = 0;
	if (!path)
		return daxo__err(-EINVAL, "daxo_pool_writer: path is NULL");
	if (!*path)
		return daxo__err(-ENOENT, "daxo_pool_writer: the path is empty");
	r = pool_writer(path, &who);
	if (r == -EINVAL)
		return daxo__err(r, "%s: not a regular file or device-DAX node",
				 path);
	if (r < 0)
		return daxo__err(r, "%s: %s", path, strerror(-r));
	if (pid)
		*pid = who;
	return r;
}

static int take_lock(const char *path, int fd, bool shared)
{
	struct stat st;

	if (flock(fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB) == 0)
		return 0;
	if (errno != EWOULDBLOCK)
		return daxo__err(-errno, "%s: cannot lock: %s", path,
				 strerror(errno));
	if (fstat(fd, &st) == 0) {
		pid_t pid = lock_holder(st.st_dev, st.st_ino);
		if (pid > 0)
			return daxo__err(-EBUSY,
					 "%s: pool is in use by process %d%s",
					 path, (int)pid,
					 pid == getpid() ? " (this process)"
							 : "");
	}
	return daxo__err(-EBUSY, "%s: pool is in use by another handle", path);
}

static void pool_free(daxo_pool *p)
{
	if (!p)
		return;
	kv_cleanup(p);
	heap_cleanup(p);
	lanes_cleanup(p);
	if (p->base) {
		if (p->private_map)
			munmap(p->base, p->mapped_len);
		else
			pmem_unmap(p->base, p->mapped_len);
	}
	if (p->lock_fd >= 0)
		close(p->lock_fd);
	persist_fini(&p->ps);
	pthread_mutex_destroy(&p->root_lock);
	free(p->path);
	free(p);
}

static daxo_pool *pool_alloc(const char *path)
{
	daxo_pool *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->lock_fd = -1;
	pthread_once(&fork_once, fork_watch);
	p->forkgen = pool_fork_gen();
	p->path = strdup(path);
	pthread_mutex_init(&p->root_lock, NULL);
	if (!p->path) {
		free(p);
		return NULL;
	}
	return p;
}

/* file_is_dax -- statx's STATX_ATTR_DAX for the pool file */
static bool file_is_dax(int fd)
{
	struct statx stx;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx) != 0)
		return false;
	return (stx.stx_attributes_mask & STATX_ATTR_DAX) &&
	       (stx.stx_attributes & STATX_ATTR_DAX);
}

/* smaps_map_sync -- does the mapping at @base carry VmFlags "sf" (MAP_SYNC)? */
static bool smaps_map_sync(const void *base)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	bool in = false, sync = false;
	unsigned long lo, hi;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = (uintptr_t)base >= lo && (uintptr_t)base < hi;
			continue;
		}
		if (in && strncmp(line, "VmFlags:", 8) == 0) {
			sync = strstr(line, " sf") != NULL;
			break;
		}
	}
	fclose(f);
	return sync;
}

int pool_devdax_size(const char *path, dev_t rdev, uint64_t *size)
{
	char spath[128];
	unsigned long long sz;
	FILE *f;
	int n;

	snprintf(spath, sizeof(spath), "/sys/dev/char/%u:%u/size",
		 major(rdev), minor(rdev));
	f = fopen(spath, "re");
	if (!f)
		return daxo__err(-EINVAL,
				 "%s: a character device that is not device-DAX "
				 "(no %s)",
				 path, spath);
	n = fscanf(f, "%llu", &sz);
	fclose(f);
	if (n != 1)
		return daxo__err(-EIO, "%s: cannot read %s", path, spath);
	*size = sz;
	return 0;
}

/* same_file -- is @path (still) the file open as @fd? */
static bool same_file(int fd, const char *path)
{
	struct stat fst, st;

	return fstat(fd, &fst) == 0 && stat(path, &st) == 0 &&
	       fst.st_dev == st.st_dev && fst.st_ino == st.st_ino;
}

static int map_pool(daxo_pool *p, uint64_t size)
{
	if (p->private_map) {
		/* read-only: copy-on-write so recovery can run in memory */
		void *a = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE,
			       p->lock_fd, 0);
		if (a == MAP_FAILED)
			return daxo__err(-errno, "%s: mmap: %s", p->path,
					 strerror(errno));
		p->base = a;
		p->mapped_len = size;
		p->is_pmem = false;
		persist_init(&p->ps, &persist_ops_none, p->base, size);
		return 0;
	}
	int is_pmem = 0;
	size_t mlen = 0;
	char fdpath[32];
	/*
	 * pmem_map_file opens a path of its own. Given p->path, it would map
	 * whatever file is there now: one renamed over the pool since
	 * lock_fd was opened (and locked, and its header read) -- unlocked,
	 * maybe another writer's. /proc/self/fd/N is lock_fd's file itself.
	 * Without procfs, the path, and a check below that it is still
	 * lock_fd's file.
	 */
	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", p->lock_fd);
	bool by_fd = access(fdpath, F_OK) == 0;
	void *a = pmem_map_file(by_fd ? fdpath : p->path, 0, 0, 0, &mlen,
				&is_pmem);
	if (!a)
		return daxo__err(errno ? -errno : -EIO,
				 "%s: cannot map: %s", p->path,
				 pmem_errormsg());
	p->base = a;
	p->mapped_len = mlen;
	if (!by_fd && !same_file(p->lock_fd, p->path))
		return daxo__err(-EBUSY,
				 "%s: the file was replaced (renamed over or "
				 "removed) while it was being opened",
				 p->path);
	if (mlen < size)
		return daxo__err(-EUCLEAN, "%s: mapped %zu bytes, pool is %llu",
				 p->path, mlen, (unsigned long long)size);
	p->is_pmem = is_pmem != 0;
	/* MAP_SYNC exists only on DAX: skip reading smaps elsewhere */
	p->map_sync = p->is_devdax || (p->is_dax && smaps_map_sync(a));
	persist_init(&p->ps, p->is_pmem ? &persist_ops_pmem : &persist_ops_msync,
		     p->base, size);
	return 0;
}

/* prefault -- fault in every page now, so that later accesses take none */
static void prefault(daxo_pool *p)
{
	int adv = p->rdonly ? MADV_POPULATE_READ : MADV_POPULATE_WRITE;

	if (madvise(p->base, p->size, adv) == 0)
		return;
	/* older kernels: touch a byte of every page */
	long pg = sysconf(_SC_PAGESIZE);
	for (uint64_t off = 0; off < p->size; off += (uint64_t)pg)
		(void)*(volatile char *)(p->base + off);
}

static bool want_prefault(unsigned flags)
{
	const char *e = getenv("DAXO_PREFAULT");

	return (flags & DAXO_PREFAULT) || (e && strcmp(e, "1") == 0);
}

/*
 * open_file -- open @path (or, @held >= 0, share the open file @held:
 * pool_open_held), classify it and find its size
 */
static int open_file(daxo_pool *p, int oflags, int held, uint64_t *fsize)
{
	struct stat st;

	/*
	 * O_NONBLOCK: a FIFO opened for reading would wait for a writer (a
	 * `daxo info FIFO` that never returns); it is refused below as not a
	 * regular file. A regular file or a device-DAX node ignores it.
	 */
	if (held >= 0)
		p->lock_fd = fcntl(held, F_DUPFD_CLOEXEC, 0);
	else
		p->lock_fd = open(p->path,
				  oflags | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0);
	if (p->lock_fd < 0) {
		int e = errno;
		if (e == EISDIR)
			return daxo__err(-EISDIR, "%s: is a directory", p->path);
		return daxo__err(-e, "%s: %s", p->path, strerror(e));
	}
	if (fstat(p->lock_fd, &st) != 0)
		return daxo__err(-errno, "%s: stat: %s", p->path,
				 strerror(errno));
	if (S_ISDIR(st.st_mode))
		return daxo__err(-EISDIR, "%s: is a directory", p->path);
	if (S_ISCHR(st.st_mode)) {
		p->is_devdax = true;
		p->is_dax = true;
		return pool_devdax_size(p->path, st.st_rdev, fsize);
	}
	if (!S_ISREG(st.st_mode))
		return daxo__err(-EINVAL,
				 "%s: not a regular file or device-DAX node",
				 p->path);
	*fsize = (uint64_t)st.st_size;
	p->is_dax = file_is_dax(p->lock_fd);
	return 0;
}

/*
 * next_hole -- the first hole of @fd at or after @off and before @end, as
 * [*hole, *data); false if there is none (or the file system cannot say:
 * Linux's default SEEK_HOLE treats the whole file as data)
 */
static bool next_hole(int fd, off_t off, off_t end, off_t *hole, off_t *data)
{
	*hole = lseek(fd, off, SEEK_HOLE);
	if (*hole < 0 || *hole >= end)
		return false;
	*data = lseek(fd, *hole, SEEK_DATA);
	if (*data < 0 || *data > end)
		*data = end; /* ENXIO: a hole up to the end */
	return true;
}

/*
 * no_holes -- true when @fd surely has no hole before @end without asking
 * SEEK_HOLE. On tmpfs SEEK_HOLE walks the page cache entry by entry (about
 * 40 ms for a 1 GiB pool, most of an open), while st_blocks counts exactly
 * the pages the file holds (swapped out ones too): as many blocks as bytes
 * means no hole. Elsewhere st_blocks may count extent blocks or speculative
 * preallocation as well, so only SEEK_HOLE can say; DAX file systems (ext4,
 * xfs) answer it from the extent tree, quickly.
 */
static bool no_holes(int fd, uint64_t end)
{
	struct statfs sfs;
	struct stat st;

	return fstatfs(fd, &sfs) == 0 && sfs.f_type == TMPFS_MAGIC &&
	       fstat(fd, &st) == 0 && st.st_blocks >= 0 &&
	       (uint64_t)st.st_blocks * 512 >= end;
}

int pool_cover(char *base, uint64_t off, uint64_t len, const char *path)
{
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t a = ALIGN_DOWN(off, pg), b = ALIGN_UP(off + len, pg);

	if (b > a && mmap(base + a, b - a, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
			  0) == MAP_FAILED)
		return daxo__err(-errno, "%s: offset %llu: cannot map: %s",
				 path, (unsigned long long)a, strerror(errno));
	return 0;
}

int pool_cover_holes(int fd, char *base, uint64_t len, const char *path)
{
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
	off_t off = 0, hole, data;

	if (no_holes(fd, len))
		return 0;
	while (next_hole(fd, off, (off_t)len, &hole, &data)) {
		/* whole pages only: a page partly data stays the file's */
		uint64_t a = ALIGN_UP((uint64_t)hole, pg);
		uint64_t b = (uint64_t)data == len ? ALIGN_UP(len, pg)
						   : ALIGN_DOWN((uint64_t)data, pg);
		if (b > a && pool_cover(base, a, b - a, path))
			return -errno;
		off = data;
	}
	return 0;
}

/*
 * check_media -- refuse a pool file that lies on known bad blocks: a load
 * from one is a machine check (badblocks.h). daxo_check's repair clears
 * them.
 */
static int check_media(daxo_pool *p, uint64_t fsize)
{
	struct bb_list bb;
	int ret;

	if (p->is_devdax)
		return 0;
	ret = badblocks_find(p->lock_fd, fsize, p->path, &bb);
	if (ret || bb.n == 0)
		return ret;
	ret = daxo__err(-EIO,
			"%s: offset %llu: %llu bytes (to offset %llu) lie on "
			"media errors, bad blocks of device %s%s; 'daxo "
			"repair' clears them, losing what they held",
			p->path, (unsigned long long)bb.r[0].off,
			(unsigned long long)bb.r[0].len,
			(unsigned long long)(bb.r[0].off + bb.r[0].len),
			bb.dev, bb.n > 1 ? ", and more ranges after it" : "");
	badblocks_free(&bb);
	return ret;
}

/*
 * fill_holes -- allocate every hole of a pool file before the first store.
 * A sparse copy (cp --sparse=always, rsync -S, tar -S) has holes where the
 * pool had zeros; a store through the mapping into a hole must allocate a
 * block, and when the file system is full that fault is a SIGBUS. Finding
 * the holes here (SEEK_HOLE) and allocating them turns that into -ENOSPC at
 * open. A file system without SEEK_HOLE reports none (Linux's default
 * treats the whole file as data), and posix_fallocate() of a range that is
 * already allocated changes nothing.
 */
static int fill_holes(daxo_pool *p)
{
	off_t off = 0, hole, data;

	if (no_holes(p->lock_fd, p->hdr.size))
		return 0;
	while (next_hole(p->lock_fd, off, (off_t)p->hdr.size, &hole, &data)) {
		int r = posix_fallocate(p->lock_fd, hole, data - hole);
		if (r)
			return daxo__err(
			    -r,
			    "%s: offset %llu: the pool file is sparse (a hole "
			    "of %llu bytes) and its blocks cannot be allocated: "
			    "%s; free space on its file system (opening it "
			    "read-only works)",
			    p->path, (unsigned long long)hole,
			    (unsigned long long)(data - hole), strerror(r));
		off = data;
	}
	return 0;
}

/*
 * read_hdr -- the header, without touching the mapping of a regular file:
 * until fill_holes has run, a load from a hole may be a SIGBUS
 */
static int read_hdr(daxo_pool *p)
{
	if (p->is_devdax || p->private_map) {
		memcpy(&p->hdr, p->base, sizeof(p->hdr));
		return 0;
	}
	if (pread(p->lock_fd, &p->hdr, sizeof(p->hdr), 0) == sizeof(p->hdr))
		return 0;
	return daxo__err(-EIO, "%s: offset 0: cannot read the header: %s",
			 p->path, strerror(errno));
}

#define SDS_SEED 0x5d5u

static uint64_t sds_seal(const uint64_t w[3])
{
	return daxo__csum(w, 3 * sizeof(uint64_t), SDS_SEED);
}

bool pool_sds_unsafe(const struct pool_meta *m, uint64_t usc, uint64_t ids)
{
	uint64_t w[3] = {m->sds_usc, m->sds_ids, m->sds_open};

	return m->sds_check == sds_seal(w) && m->sds_open == 1 &&
	       m->sds_ids == ids && m->sds_usc != usc;
}

void pool_sds_words(uint64_t w[4], uint64_t usc, uint64_t ids, uint64_t open)
{
	w[0] = usc;
	w[1] = ids;
	w[2] = open;
	w[3] = sds_seal(w);
}

/* sds_write -- the shutdown state with sds_open = @open, durably */
static void sds_write(daxo_pool *p, uint64_t open)
{
	uint64_t w[4];

	pool_sds_words(w, p->sds_usc, p->sds_ids, open);
	persist_memcpy(&p->ps, &p->meta->sds_usc, w, sizeof(w));
	/* before the pool is used (open) or let go (close): an unsafe
	 * shutdown in between must find sds_open = 1 */
	persist_drain(&p->ps);
}

/*
 * sds_open -- at an open: compare the DIMMs' unsafe-shutdown count with
 * the one recorded at the last open that did not close cleanly
 * (p->unsafe_shutdown, daxo_info's); a read-write open then records the
 * count now, open
 */
static void sds_open(daxo_pool *p)
{
	if (badblocks_shutdowns(p->lock_fd, &p->sds_usc, &p->sds_ids))
		return;
	p->unsafe_shutdown =
	    pool_sds_unsafe(p->meta, p->sds_usc, p->sds_ids);
	if (p->rdonly)
		return; /* seen, not recorded: the file is not changed */
	sds_write(p, 1);
	p->sds_recorded = true;
}

/* random_bytes -- @n bytes from getrandom(2); false if there are none */
static bool random_bytes(void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = getrandom((char *)buf + got, n - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return true;
}

/*
 * new_uuid -- a random (version 4) UUID from getrandom(2). libuuid's
 * uuid_generate is not used: it reseeds and draws from the C library's
 * random() state, which would change the sequence an application gets
 * from rand() after creating a pool.
 */
static void new_uuid(uint8_t u[16])
{
	if (!random_bytes(u, 16)) {
		uuid_generate(u); /* no getrandom: the old way */
		return;
	}
	u[6] = (uint8_t)((u[6] & 0x0f) | 0x40); /* version 4 */
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80); /* RFC 4122 variant */
}

/*
 * lock_gen -- the generation of this open for the locks kept in the pool
 * (lock.c): 64 random bits, even and not 0, so that the word a lock keeps
 * from an earlier open matches it with probability 2^-63
 */
static uint64_t lock_gen(void)
{
	uint64_t g = 0;
	struct timespec ts;

	if (!random_bytes(&g, sizeof(g))) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		g = ((uint64_t)ts.tv_nsec << 32 ^ (uint64_t)ts.tv_sec ^
		     (uint64_t)getpid() << 16) * 0x9E3779B97F4A7C15ull;
	}
	g &= ~1ull;
	return g ? g : 2;
}

static int boot(daxo_pool *p, unsigned flags)
{
	int ret;

	/* daxo_direct's inline path, from here on (recovery uses it) */
	p->head.base = p->base;
	p->head.size = p->size;
	p->head.version = DAXO_POOL_HEAD_V1;
	p->meta = pool_ptr(p, p->hdr.meta_off);
	p->lock_gen = lock_gen();
	ret = lanes_boot(p);
	if (ret)
		return ret;
	ret = heap_boot(p);
	if (ret)
		return ret;
	ret = kv_boot(p);
	if (ret)
		return ret;
	if (want_prefault(flags))
		prefault(p);
	sds_open(p);
	notify_pool_open(p);
	return 0;
}

/*
 * meta_trusted -- before recovery: the pool meta's keyed-store word, a
 * checked link in every pool with POOL_INCOMPAT_KV_LINKS (kv_format writes
 * one at create, and 8-byte stores keep it whole through a crash), passes
 * its check. One that does not says the page is damaged -- a hole or a
 * zeroed block reads as zeros -- and with it w_seq, which tells recovery
 * which logged records are applied already: replayed on a w_seq of 0,
 * records applied long ago would be applied again over newer data (an
 * allocation's zeroing over the object's later contents).
 */
static int meta_trusted(daxo_pool *p)
{
	const struct pool_meta *m = pool_ptr(p, p->hdr.meta_off);
	uint64_t at = p->hdr.meta_off + offsetof(struct pool_meta, kv_root);
	uint64_t target;

	if (!(p->hdr.incompat & POOL_INCOMPAT_KV_LINKS) ||
	    kv_unlink(kv_fmt_of(p->hdr.incompat), m->kv_root, at, &target))
		return 0;
	return daxo__err(-EUCLEAN,
			 "%s: offset %llu: the pool meta is damaged (its "
			 "keyed-store word fails its check): the log "
			 "watermark beside it cannot be trusted, so recovery "
			 "cannot run; see 'daxo check'",
			 p->path, (unsigned long long)at);
}

static int open_pool(const char *path, const char *layout, unsigned flags,
		     int held, daxo_pool **out);

DAXO_EXPORT int daxo_open(const char *path, const char *layout, unsigned flags,
			  daxo_pool **out)
{
	return open_pool(path, layout, flags, -1, out);
}

int pool_open_held(const char *path, int fd, daxo_pool **out)
{
	return open_pool(path, NULL, 0, fd, out);
}

/* open_pool -- daxo_open; @held: pool_open_held's file, or -1 */
static int open_pool(const char *path, const char *layout, unsigned flags,
		     int held, daxo_pool **out)
{
	daxo_pool *p;
	uint64_t fsize = 0;
	int ret;

	daxo__err_clear();
	if (!path || !out)
		return daxo__err(-EINVAL, "daxo_open: NULL argument");
	if (!*path)
		return daxo__err(-ENOENT, "daxo_open: the path is empty");
	if (flags & ~(DAXO_RDONLY | DAXO_PREFAULT))
		return daxo__err(-EINVAL, "daxo_open: unknown flags 0x%x", flags);
	if (layout && strlen(layout) > DAXO_LAYOUT_MAX)
		return daxo__err(-EINVAL, "daxo_open: layout name longer than %d",
				 DAXO_LAYOUT_MAX);
	*out = NULL;
	p = pool_alloc(path);
	if (!p)
		return daxo__err(-ENOMEM, "daxo_open: out of memory");
	p->rdonly = (flags & DAXO_RDONLY) != 0;

	ret = open_file(p, p->rdonly ? O_RDONLY : O_RDWR, held, &fsize);
	if (ret)
		goto fail;
	ret = take_lock(path, p->lock_fd, p->rdonly);
	if (ret)
		goto fail;
	ret = check_media(p, fsize);
	if (ret)
		goto fail;
	if (fsize < POOL_HDR_COPY_OFF + POOL_HDR_SIZE) {
		ret = daxo__err(-EUCLEAN,
				"%s: offset 0: file is %llu bytes, too small to "
				"be a daxo pool",
				path, (unsigned long long)fsize);
		goto fail;
	}
	/* device DAX cannot be mapped privately: read-only stays shared */
	p->private_map = p->rdonly && !p->is_devdax;
	if (p->rdonly && p->is_devdax) {
		ret = daxo__err(-EINVAL,
				"%s: read-only opens of device DAX are not "
				"supported; open read-write",
				path);
		goto fail;
	}
	ret = map_pool(p, fsize);
	if (ret)
		goto fail;
	if (p->private_map) {
		ret = pool_cover_holes(p->lock_fd, p->base, fsize, path);
		if (ret)
			goto fail;
	}
	ret = read_hdr(p);
	if (ret)
		goto fail;
	ret = pool_hdr_validate(&p->hdr, fsize, path, 0);
	if (ret)
		goto fail;
	if (!p->rdonly && (p->hdr.ro_compat & ~POOL_RO_COMPAT_KNOWN)) {
		ret = daxo__err(-EPROTONOSUPPORT,
				"%s: offset 24: pool uses features 0x%llx this "
				"library can only read; open it read-only",
				path,
				(unsigned long long)(p->hdr.ro_compat &
						     ~POOL_RO_COMPAT_KNOWN));
		goto fail;
	}
	if (layout && strcmp(layout, p->hdr.layout) != 0) {
		ret = daxo__err(-EINVAL,
				"%s: offset 56: layout is \"%s\", not \"%s\"",
				path, p->hdr.layout, layout);
		goto fail;
	}
	p->size = p->hdr.size;
	p->slot_mask = pool_lane_slots(&p->hdr) - 1;
	/* before recovery's first store: no SIGBUS from a hole later */
	if (!p->rdonly && !p->is_devdax) {
		ret = fill_holes(p);
		if (ret)
			goto fail;
	}
	ret = meta_trusted(p);
	if (ret)
		goto fail;
	ret = boot(p, flags);
	if (ret)
		goto fail;
	*out = p;
	return 0;
fail:
	pool_free(p);
	return ret;
}

/* format -- write every region of a new pool, the header last */
static int format(daxo_pool *p, const char *layout, uint64_t flags)
{
	struct pool_hdr *h = &p->hdr;
	struct persist *ps = &p->ps;

	memset(h, 0, sizeof(*h));
	memcpy(h->magic, POOL_MAGIC, 8);
	h->major = POOL_FMT_MAJOR;
	/* older formats, for tests: 1.4 has no SUMS, 1.3 no HEAP2
	 * either, 1.2 no KV_LINKS either, 1.1 no KV_VALIGN either, 1.0 no flag */
	h->minor = MIN(pool_create_minor, POOL_FMT_MINOR);
	new_uuid(h->uuid);
	snprintf(h->layout, sizeof(h->layout), "%s", layout ? layout : "");
	if (h->minor >= 1)
		h->incompat |= POOL_INCOMPAT_SLOTS16;
	if (h->minor >= 2)
		h->incompat |= POOL_INCOMPAT_KV_VALIGN;
	if (h->minor >= 3)
		h->incompat |= POOL_INCOMPAT_KV_LINKS;
	if (h->minor >= 4)
		h->incompat |= POOL_INCOMPAT_HEAP2;
	if (h->minor >= 5)
		h->incompat |= POOL_INCOMPAT_SUMS;
	/* (only 1.3 pools: create_opts_check refuses it for older ones) */
	if (flags & DAXO_CREATE_CHECKSUMS)
		h->incompat |= POOL_INCOMPAT_KV_CSUM;
	pool_layout(h, p->size);
	p->slot_mask = pool_lane_slots(h) - 1;
	h->ctime = (int64_t)time(NULL);
	pool_hdr_seal(h);

	/* on a reused device anything may be there: clear the magic first */
	persist_memset(ps, p->base, 0, 2 * POOL_HDR_SIZE);
	persist_memset(ps, p->base + POOL_META_OFF, 0, POOL_META_SIZE);
	lanes_format(p);
	heap_format(p);
	kv_format(p);
	/* every region durable before a valid header can name them */
	persist_drain(ps);
	persist_memcpy(ps, p->base + POOL_HDR_COPY_OFF, h, sizeof(*h));
	persist_memcpy(ps, p->base, h, sizeof(*h));
	/* the pool exists once both header copies are durable */
	persist_drain(ps);
	return 0;
}

static int check_create_args(const char *path, const char *layout,
			     uint64_t size, bool devdax)
{
	if (layout && strlen(layout) > DAXO_LAYOUT_MAX)
		return daxo__err(-EINVAL,
				 "%s: layout name is %zu bytes, at most %d allowed",
				 path, strlen(layout), DAXO_LAYOUT_MAX);
	if (devdax && size == 0)
		return 0;
	if (size < DAXO_MIN_POOL_SIZE)
		return daxo__err(-EINVAL,
				 "%s: pool size %llu is below the minimum of "
				 "%llu bytes (8 MiB)",
				 path, (unsigned long long)size,
				 (unsigned long long)DAXO_MIN_POOL_SIZE);
	if (size > DAXO_MAX_POOL_SIZE)
		return daxo__err(-EINVAL,
				 "%s: pool size %llu is above the maximum of "
				 "%llu bytes",
				 path, (unsigned long long)size,
				 (unsigned long long)DAXO_MAX_POOL_SIZE);
	return 0;
}

/*
 * check_fsize_limit -- -EFBIG if a file of @size bytes is over the
 * process's RLIMIT_FSIZE (ulimit -f): posix_fallocate past it raises
 * SIGXFSZ, whose default action kills the process -- and leaves a file of
 * 0 bytes behind -- instead of failing
 */
static int check_fsize_limit(const char *path, uint64_t size)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_FSIZE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
	    size <= (uint64_t)rl.rlim_cur)
		return 0;
	return daxo__err(-EFBIG,
			 "%s: pool size %llu is above the process's file size "
			 "limit (RLIMIT_FSIZE, ulimit -f) of %llu bytes",
			 path, (unsigned long long)size,
			 (unsigned long long)rl.rlim_cur);
}

/* create_opts_check -- the DAXO_CREATE_* flags of @opts, or -EINVAL */
static int create_opts_check(const struct daxo_create_opts *opts,
			     uint64_t *flags)
{
	*flags = (opts ? opts->flags : 0) | pool_create_flags;
	if (opts) {
		for (size_t i = 0; i < ARRAY_SIZE(opts->reserved); i++)
			if (opts->reserved[i])
				return daxo__err(-EINVAL,
						 "daxo_pool_create: reserved "
						 "option word %zu is not zero",
						 i);
	}
	if (*flags & ~(uint64_t)DAXO_CREATE_CHECKSUMS)
		return daxo__err(-EINVAL,
				 "daxo_pool_create: unknown flags 0x%llx",
				 (unsigned long long)(*flags &
						      ~(uint64_t)
							  DAXO_CREATE_CHECKSUMS));
	if ((*flags & DAXO_CREATE_CHECKSUMS) && pool_create_minor < 3)
		return daxo__err(-EINVAL,
				 "daxo_pool_create: value checksums need "
				 "format 1.3");
	return 0;
}

/* pool_create -- daxo_create and daxo_pool_create (one entry each) */
static int pool_create(const char *path, const char *layout, uint64_t size,
		       unsigned mode, const struct daxo_create_opts *opts,
		       daxo_pool **out)
{
	daxo_pool *p;
	struct stat st;
	bool devdax, created = false;
	uint64_t fsize = 0, flags;
	int ret;

	daxo__err_clear();
	if (!path || !out)
		return daxo__err(-EINVAL, "daxo_create: NULL argument");
	ret = create_opts_check(opts, &flags);
	if (ret)
		return ret;
	if (!*path)
		return daxo__err(-ENOENT, "daxo_create: the path is empty");
	*out = NULL;
	devdax = stat(path, &st) == 0 && S_ISCHR(st.st_mode);
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return daxo__err(-EISDIR, "%s: is a directory", path);
	ret = check_create_args(path, layout, size, devdax);
	if (ret)
		return ret;
	p = pool_alloc(path);
	if (!p)
		return daxo__err(-ENOMEM, "daxo_create: out of memory");

	if (devdax) {
		ret = open_file(p, O_RDWR, -1, &fsize);
		if (ret)
			goto fail;
		if (size != 0 && size != fsize) {
			ret = daxo__err(-EINVAL,
					"%s: device is %llu bytes; size must be "
					"0 or that",
					path, (unsigned long long)fsize);
			goto fail;
		}
		size = ALIGN_DOWN(fsize, (uint64_t)POOL_ALIGN);
		ret = check_create_args(path, layout, size, false);
		if (ret)
			goto fail;
	} else {
		size = ALIGN_UP(size, (uint64_t)POOL_ALIGN);
		ret = check_fsize_limit(path, size);
		if (ret)
			goto fail;
		p->lock_fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
				  mode & 07777);
		if (p->lock_fd < 0) {
			int e = errno;
			ret = e == EEXIST
				      ? daxo__err(-EEXIST,
						  "%s: file exists; daxo_create "
						  "never overwrites a file",
						  path)
				      : daxo__err(-e, "%s: %s", path,
						  strerror(e));
			goto fail;
		}
		created = true;
		/*
		 * Locked before it is sized and formatted: an open (or a
		 * check) meanwhile finds the pool busy, being made by this
		 * process -- not a file of zeros, which it might lock first
		 * and make this create fail.
		 */
		ret = take_lock(path, p->lock_fd, false);
		if (ret)
			goto fail;
		ret = posix_fallocate(p->lock_fd, 0, (off_t)size);
		if (ret) {
			ret = daxo__err(-ret, "%s: cannot allocate %llu bytes: %s",
					path, (unsigned long long)size,
					strerror(ret));
			goto fail;
		}
		p->is_dax = file_is_dax(p->lock_fd);
	}
	if (!created) {
		ret = take_lock(path, p->lock_fd, false);
		if (ret)
			goto fail;
	}
	if (devdax) {
		/* refuse to destroy a pool that is already there */
		struct pool_hdr h;
		ret = map_pool(p, fsize);
		if (ret)
			goto fail;
		memcpy(&h, p->base, sizeof(h));
		if (memcmp(h.magic, POOL_MAGIC, 8) == 0) {
			ret = daxo__err(-EEXIST,
					"%s: device already holds a daxo pool",
					path);
			goto fail;
		}
	} else {
		ret = map_pool(p, size);
		if (ret)
			goto fail;
	}
	p->size = size;
	ret = format(p, layout, flags);
	if (ret)
		goto fail;
	ret = boot(p, 0);
	if (ret)
		goto fail;
	*out = p;
	return 0;
fail:
	/* the file this call made, not one renamed over the path since */
	if (created && same_file(p->lock_fd, path))
		unlink(path);
	pool_free(p);
	return ret;
}

DAXO_EXPORT int daxo_create(const char *path, const char *layout,
			    uint64_t size, unsigned mode, daxo_pool **out)
{
	return pool_create(path, layout, size, mode, NULL, out);
}

DAXO_EXPORT int daxo_pool_create(const char *path, const char *layout,
				 uint64_t size, unsigned mode,
				 const struct daxo_create_opts *opts,
				 daxo_pool **out)
{
	return pool_create(path, layout, size, mode, opts, out);
}

DAXO_EXPORT int daxo_close(daxo_pool *p)
{
	int ret = 0;

	if (!p)
		return 0;
	if (pool_inherited(p)) {
		/* a child of fork(): the parent's records, locks and shutdown
		 * state are the parent's; only the child's copy goes */
		tx_forget_open(p);
		pool_free(p);
		return 0;
	}
	/*
	 * The calling thread's open transaction would outlive the handle in
	 * its thread's list, where a handle later made at the same address
	 * would find it as its own: rolled back now.
	 */
	if (tx_abort_open(p))
		ret = daxo__err(-ECANCELED,
				"%s: daxo_close: the thread's open transaction "
				"on the pool was rolled back",
				p->path);
	notify_pool_close(p);
	if (atomic_load(&p->ps.failed) && !p->rdonly)
		ret = daxo__err(-EIO, "%s: pool closed in the failed state",
				p->path);
	else if (p->sds_recorded)
		sds_write(p, 0); /* a clean close */
	lock_forget(p);
	pool_free(p);
	return ret;
}

/* the call, for programs built before daxo_direct was inline */
#undef daxo_direct
DAXO_EXPORT void *daxo_direct(daxo_pool *p, daxo_oid oid)
{
	if (!p || oid == 0 || oid >= p->size)
		return NULL;
	return p->base + oid;
}

DAXO_EXPORT void *daxo_direct_slow(daxo_pool *p, daxo_oid oid)
{
	return daxo_direct(p, oid);
}

DAXO_EXPORT daxo_oid daxo_oid_of(daxo_pool *p, const void *addr)
{
	const char *a = addr;

	if (!p || a < p->base || a >= p->base + p->size)
		return 0;
	return (daxo_oid)(a - p->base);
}

/*
 * daxo_pool_info has two versions (lib/libdaxo.sym): this one, the default
 * (DAXO_0.4), and daxo__pool_info_v01 below for programs built before 0.4
 */
int daxo__pool_info_v04(daxo_pool *p, struct daxo_info *out);
__asm__(".symver daxo__pool_info_v04, daxo_pool_info@@DAXO_0.4");

DAXO_EXPORT int daxo__pool_info_v04(daxo_pool *p, struct daxo_info *out)
{
	if (!p || !out)
		return daxo__err(-EINVAL, "daxo_pool_info: NULL argument");
	memset(out, 0, sizeof(*out));
	out->path = p->path;
	out->base = p->base;
	out->size = p->size;
	memcpy(out->layout, p->hdr.layout, sizeof(out->layout));
	memcpy(out->uuid, p->hdr.uuid, sizeof(out->uuid));
	out->major = p->hdr.major;
	out->minor = p->hdr.minor;
	out->incompat = p->hdr.incompat;
	out->compat = p->hdr.compat;
	out->ro_compat = p->hdr.ro_compat;
	out->ctime = p->hdr.ctime;
	out->recovered = p->recovered;
	out->is_pmem = p->is_pmem;
	out->is_devdax = p->is_devdax;
	out->is_dax = p->is_dax;
	out->map_sync = p->map_sync;
	out->readonly = p->rdonly;
	out->recovery_pending = p->recovery_pending != 0;
	out->unsafe_shutdown = p->unsafe_shutdown;
	return 0;
}

static_assert(sizeof(struct daxo_info) == 288, "struct daxo_info is ABI");
static_assert(offsetof(struct daxo_info, reserved) == 160,
	      "struct daxo_info is ABI");

/*
 * struct daxo_info as daxo 0.1-0.3 defined it, for programs built against
 * those headers: they call daxo_pool_info@DAXO_0.1, which fills this.
 */
struct daxo_info_v01 {
	char path[4096];
	char layout[DAXO_LAYOUT_MAX + 1];
	uint8_t uuid[16];
	uint32_t major, minor;
	uint64_t incompat, compat, ro_compat;
	uint64_t size;
	uint64_t heap_offset, heap_size, chunk_size;
	uint64_t lanes_offset;
	uint32_t nlanes, lane_size;
	int64_t ctime;
	int is_pmem, is_devdax, is_dax, map_sync, readonly, recovery_pending;
	uint64_t recovered;
	void *base;
};

static_assert(sizeof(struct daxo_info_v01) == 4304, "0.1 struct daxo_info");
static_assert(offsetof(struct daxo_info_v01, base) == 4296,
	      "0.1 struct daxo_info");

int daxo__pool_info_v01(daxo_pool *p, struct daxo_info_v01 *out);
__asm__(".symver daxo__pool_info_v01, daxo_pool_info@DAXO_0.1");

DAXO_EXPORT int daxo__pool_info_v01(daxo_pool *p, struct daxo_info_v01 *out)
{
	struct daxo_info in;
	int ret;

	if (!out)
		return daxo__err(-EINVAL, "daxo_pool_info: NULL argument");
	ret = daxo__pool_info_v04(p, &in);
	if (ret)
		return ret;
	memset(out, 0, sizeof(*out));
	snprintf(out->path, sizeof(out->path), "%s", in.path);
	memcpy(out->layout, in.layout, sizeof(out->layout));
	memcpy(out->uuid, in.uuid, sizeof(out->uuid));
	out->major = in.major;
	out->minor = in.minor;
	out->incompat = in.incompat;
	out->compat = in.compat;
	out->ro_compat = in.ro_compat;
	out->size = in.size;
	out->ctime = in.ctime;
	out->recovered = in.recovered;
	out->base = in.base;
	out->is_pmem = in.is_pmem;
	out->is_devdax = in.is_devdax;
	out->is_dax = in.is_dax;
	out->map_sync = in.map_sync;
	out->readonly = in.readonly;
	out->recovery_pending = in.recovery_pending;
	/* what 0.4 left out of the struct: the layout, from the header */
	out->heap_offset = p->hdr.heap_off;
	out->heap_size = p->hdr.heap_size;
	out->chunk_size = p->hdr.chunk_size;
	out->lanes_offset = p->hdr.lanes_off;
	out->nlanes = p->hdr.nlanes;
	out->lane_size = p->hdr.lane_size;
	return 0;
}
