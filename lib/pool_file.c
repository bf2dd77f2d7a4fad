/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pool_file.c -- the pool file under a handle: opening and classifying it
 * (a regular file or a device-DAX node, whether it is on DAX), its flock()
 * and who holds it (daxo_pool_writer), its mapping (shared through libpmem,
 * or private and copy-on-write for a read-only open), the holes of a sparse
 * file (allocated before the first store, or covered in a private mapping)
 * and the media errors under it.
 *
 * Kept apart from pool.c: these are the file system's and the kernel's
 * side of a pool -- procfs, statx, SEEK_HOLE, badblocks -- which pool.c's
 * open and create call as steps; nothing here reads the pool's contents.
 */
#include <fcntl.h>
#include <libpmem.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "badblocks.h"
#include "pool.h"

#include "poolint.h"

#ifndef STATX_ATTR_DAX
#define STATX_ATTR_DAX 0x00200000
#endif

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

int pool_take_lock(const char *path, int fd, bool shared)
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

/* pool_file_is_dax -- statx's STATX_ATTR_DAX for the pool file */
bool pool_file_is_dax(int fd)
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

/* pool_same_file -- is @path (still) the file open as @fd? */
bool pool_same_file(int fd, const char *path)
{
	struct stat fst, st;

	return fstat(fd, &fst) == 0 && stat(path, &st) == 0 &&
	       fst.st_dev == st.st_dev && fst.st_ino == st.st_ino;
}

int pool_map(daxo_pool *p, uint64_t size)
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
	if (!by_fd && !pool_same_file(p->lock_fd, p->path))
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

/*
 * pool_open_file -- open @path (or, @held >= 0, share the open file @held:
 * pool_open_held), classify it and find its size
 */
int pool_open_file(daxo_pool *p, int oflags, int held, uint64_t *fsize)
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
	p->is_dax = pool_file_is_dax(p->lock_fd);
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
 * pool_check_media -- refuse a pool file that lies on known bad blocks: a load
 * from one is a machine check (badblocks.h). daxo_check's repair clears
 * them.
 */
int pool_check_media(daxo_pool *p, uint64_t fsize)
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
 * pool_fill_holes -- allocate every hole of a pool file before the first store.
 * A sparse copy (cp --sparse=always, rsync -S, tar -S) has holes where the
 * pool had zeros; a store through the mapping into a hole must allocate a
 * block, and when the file system is full that fault is a SIGBUS. Finding
 * the holes here (SEEK_HOLE) and allocating them turns that into -ENOSPC at
 * open. A file system without SEEK_HOLE reports none (Linux's default
 * treats the whole file as data), and posix_fallocate() of a range that is
 * already allocated changes nothing.
 */
int pool_fill_holes(daxo_pool *p)
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
