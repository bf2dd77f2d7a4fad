/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pool.c -- create, open and close pools: the handle (its allocation, the
 * fork generation it was made in, the checks every call makes of it), the
 * order of the steps of an open and of a create, the format of a new pool,
 * the modules' boot, and daxo_close.
 *
 * The steps themselves are the other pool files': pool_file.c opens, locks
 * and maps the file; pool_hdr.c reads and validates the header and keeps the
 * pool meta's shutdown state; pool_info.c answers daxo_pool_info and the
 * handle's address calls. This file is what ties them together, in the
 * order pool.h gives for the checks at open; the logs are lane.c's and
 * recover.c's.
 */
#include <fcntl.h>
#include <libpmem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "heap.h"
#include "kv.h"
#include "notify.h"
#include "pool.h"
#include "tx.h"

#include "poolint.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
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
	pool_sds_open(p);
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

	ret = pool_open_file(p, p->rdonly ? O_RDONLY : O_RDWR, held, &fsize);
	if (ret)
		goto fail;
	ret = pool_take_lock(path, p->lock_fd, p->rdonly);
	if (ret)
		goto fail;
	ret = pool_check_media(p, fsize);
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
	ret = pool_map(p, fsize);
	if (ret)
		goto fail;
	if (p->private_map) {
		ret = pool_cover_holes(p->lock_fd, p->base, fsize, path);
		if (ret)
			goto fail;
	}
	ret = pool_read_hdr(p);
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
		ret = pool_fill_holes(p);
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
		ret = pool_open_file(p, O_RDWR, -1, &fsize);
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
		ret = pool_take_lock(path, p->lock_fd, false);
		if (ret)
			goto fail;
		ret = posix_fallocate(p->lock_fd, 0, (off_t)size);
		if (ret) {
			ret = daxo__err(-ret, "%s: cannot allocate %llu bytes: %s",
					path, (unsigned long long)size,
					strerror(ret));
			goto fail;
		}
		p->is_dax = pool_file_is_dax(p->lock_fd);
	}
	if (!created) {
		ret = pool_take_lock(path, p->lock_fd, false);
		if (ret)
			goto fail;
	}
	if (devdax) {
		/* refuse to destroy a pool that is already there */
		struct pool_hdr h;
		ret = pool_map(p, fsize);
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
		ret = pool_map(p, size);
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
	if (created && pool_same_file(p->lock_fd, path))
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
		pool_sds_write(p, 0); /* a clean close */
	lock_forget(p);
	pool_free(p);
	return ret;
}
