/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * check_hdr.c -- the pool image a check reads, and what lies before the
 * lanes: mapping the file or device copy-on-write (media errors read as
 * zeros, holes covered), the ranges on media errors and their repair, the
 * header and its copy (the first thing checked: every later offset comes
 * from it), and the pool meta (the root object, the keyed store's anchor,
 * the shutdown state), checked last, once the heap says what is live.
 *
 * Kept apart from the driver (check.c) and the walks (check_log.c,
 * check_heap.c) because these are the pool's fixed regions: what the
 * walks stand on.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "badblocks.h"
#include "check.h"
#include "heap.h"
#include "kv.h"
#include "pool.h"
#include "checkint.h"

/* ---- mapping ---- */

/*
 * map_devdax -- device DAX cannot be mapped copy-on-write: read it through
 * a shared read-only mapping into private anonymous memory, which replay
 * and repairs may then change freely
 */
static int map_devdax(struct chk *c, dev_t rdev)
{
	char spath[128];
	unsigned long long sz = 0;
	FILE *f;

	if (c->flags & DAXO_CHECK_REPAIR && !(c->flags & DAXO_CHECK_DRY_RUN))
		return daxo__err(-EINVAL,
				 "%s: repair of device DAX is not supported; "
				 "check it, or copy it to a file",
				 c->path);
	snprintf(spath, sizeof(spath), "/sys/dev/char/%u:%u/size", major(rdev),
		 minor(rdev));
	f = fopen(spath, "re");
	if (!f || fscanf(f, "%llu", &sz) != 1) {
		if (f)
			fclose(f);
		return daxo__err(-EINVAL,
				 "%s: a character device that is not device-DAX",
				 c->path);
	}
	fclose(f);
	c->size = c->maplen = sz;
	c->devdax = true;
	if (c->size < POOL_HDR_COPY_OFF + POOL_HDR_SIZE)
		return daxo__err(-EUCLEAN, "%s: device too small to be a pool",
				 c->path);
	void *dev = mmap(NULL, c->size, PROT_READ, MAP_SHARED, c->fd, 0);
	if (dev == MAP_FAILED)
		return daxo__err(-errno, "%s: mmap: %s", c->path,
				 strerror(errno));
	void *a = mmap(NULL, c->size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (a == MAP_FAILED) {
		int e = errno;
		munmap(dev, c->size);
		return daxo__err(-e, "%s: out of memory for a copy", c->path);
	}
	memcpy(a, dev, c->size);
	munmap(dev, c->size);
	c->base = a;
	return 0;
}

/* too_small -- the file cannot hold a header and its copy (said why) */
static bool too_small(const struct chk *c)
{
	if (c->size >= POOL_HDR_COPY_OFF + POOL_HDR_SIZE)
		return false;
	daxo__err(-EUCLEAN,
		  "%s: offset 0: file is %llu bytes, too small to be a daxo "
		  "pool",
		  c->path, (unsigned long long)c->size);
	return true;
}

int check_map_file(struct chk *c)
{
	struct stat st;
	void *a;
	int r;

	/* O_NONBLOCK: a FIFO would wait for a writer (refused below) */
	c->fd = open(c->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (c->fd < 0)
		return daxo__err(-errno, "%s: %s", c->path, strerror(errno));
	if (fstat(c->fd, &st) != 0)
		return daxo__err(-errno, "%s: stat: %s", c->path,
				 strerror(errno));
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	if (S_ISDIR(st.st_mode))
		return daxo__err(-EISDIR, "%s: is a directory", c->path);
	if (S_ISCHR(st.st_mode))
		return map_devdax(c, st.st_rdev);
	if (!S_ISREG(st.st_mode))
		return daxo__err(-EINVAL,
				 "%s: not a regular file or device-DAX node",
				 c->path);
	c->size = c->maplen = (uint64_t)st.st_size;
	if (too_small(c))
		return -EUCLEAN;
	/* copy-on-write: replay and repairs change only this view */
	a = mmap(NULL, c->size, PROT_READ | PROT_WRITE, MAP_PRIVATE, c->fd, 0);
	if (a == MAP_FAILED)
		return daxo__err(-errno, "%s: mmap: %s", c->path,
				 strerror(errno));
	c->base = a;
	/* a sparse file on a full file system: no SIGBUS reading a hole */
	r = pool_cover_holes(c->fd, a, c->size, c->path);
	if (r)
		return r;
	/* nor a machine check reading a media error: zeros instead */
	badblocks_free(&c->bb);
	r = badblocks_find(c->fd, c->size, c->path, &c->bb);
	for (size_t i = 0; !r && i < c->bb.n; i++)
		r = pool_cover((char *)a, c->bb.r[i].off, c->bb.r[i].len,
			       c->path);
	return r;
}

void check_unmap_file(struct chk *c)
{
	if (c->base)
		munmap(c->base, c->maplen);
	if (c->fd >= 0)
		close(c->fd);
	free(c->owner);
	c->base = NULL;
	c->owner = NULL;
	c->fd = -1;
}

/* ---- media errors (badblocks.h) ---- */

/* on_bad -- the first range on a media error that [off, off+len) meets */
static const struct bb_range *on_bad(const struct chk *c, uint64_t off,
				     uint64_t len)
{
	for (size_t i = 0; i < c->bb.n; i++)
		if (off < c->bb.r[i].off + c->bb.r[i].len &&
		    c->bb.r[i].off < off + len)
			return &c->bb.r[i];
	return NULL;
}

bool check_view_bad(const struct check_view *v, uint64_t off, uint64_t len)
{
	return on_bad(v->priv, off, len) != NULL;
}

/* region_name -- what of the pool's layout lies at @off */
static const char *region_name(const struct chk *c, uint64_t off)
{
	if (off < POOL_META_OFF)
		return "the header or its copy";
	if (off < POOL_LANES_OFF)
		return "the pool's meta data";
	if (!c->hdr.heap_off || off < c->hdr.heap_off)
		return "the lanes (transaction logs)";
	return "the heap";
}

/* check_media -- every range of the pool on a media error is lost data */
void check_media(struct chk *c)
{
	for (size_t i = 0; i < c->bb.n; i++) {
		const struct bb_range *r = &c->bb.r[i];

		check_rpt(c, DAXO_CHECK_REPAIRABLE, r->off,
		    "media error: %llu bytes (offsets %llu to %llu, in %s) "
		    "lie on bad blocks of device %s; what they held is lost "
		    "(read as zeros here); repair gives them fresh blocks",
		    (unsigned long long)r->len, (unsigned long long)r->off,
		    (unsigned long long)(r->off + r->len),
		    region_name(c, r->off), c->bb.dev);
	}
}

/* check_media_object -- report an object whose bytes meet a media error */
void check_media_object(struct chk *c, uint64_t oid, uint64_t size,
			uint32_t type)
{
	const struct bb_range *r = on_bad(c, oid, size);

	if (r)
		check_rpt(c, DAXO_CHECK_INFO | NOTE, oid,
		    "object at offset %llu (%llu bytes, type %u) meets the "
		    "media error at offset %llu: its contents there are lost",
		    (unsigned long long)oid, (unsigned long long)size, type,
		    (unsigned long long)r->off);
}

/*
 * check_clear_media -- give every range on a media error fresh, zeroed blocks,
 * then look again: repair fails if the device still lists them
 */
int check_clear_media(struct chk *c)
{
	struct bb_list again;
	int fd = check_locked_fd(c), r = 0;

	if (fd < 0)
		return fd;
	for (size_t i = 0; i < c->bb.n && !r; i++) {
		r = badblocks_clear(fd, c->bb.r[i].off, c->bb.r[i].len,
				    c->path);
		if (!r)
			check_rpt(c, DAXO_CHECK_REPAIRED, c->bb.r[i].off,
			    "media error cleared: offsets %llu to %llu have "
			    "fresh blocks (zeros)",
			    (unsigned long long)c->bb.r[i].off,
			    (unsigned long long)(c->bb.r[i].off +
						 c->bb.r[i].len));
	}
	if (!r && !(r = badblocks_find(fd, c->size, c->path, &again))) {
		if (again.n) {
			check_rpt(c, DAXO_CHECK_FATAL, again.r[0].off,
			    "offsets %llu to %llu are still on bad blocks of "
			    "device %s after clearing",
			    (unsigned long long)again.r[0].off,
			    (unsigned long long)(again.r[0].off +
						 again.r[0].len),
			    again.dev);
			r = 2;
		}
		badblocks_free(&again);
	}
	close(fd);
	return r;
}

/*
 * check_sds -- was the pool open when its DIMMs lost power unsafely (their
 * unsafe-shutdown count rose since)? Repair records the new count.
 */
static void check_sds(struct chk *c, const struct pool_meta *m, uint64_t mo)
{
	uint64_t usc, ids, w[4];

	if (badblocks_shutdowns(c->fd, &usc, &ids) ||
	    !pool_sds_unsafe(m, usc, ids))
		return;
	check_rpt(c, DAXO_CHECK_REPAIRABLE,
		  mo + offsetof(struct pool_meta, sds_usc),
	    "unsafe shutdown: the DIMMs' unsafe-shutdown count rose from %llu "
	    "to %llu while the pool was open: writes just before it may be "
	    "lost or torn though they were durable (ADR failed); check what "
	    "the application wrote last",
	    (unsigned long long)m->sds_usc, (unsigned long long)usc);
	pool_sds_words(w, usc, ids, 0);
	check_fix(c, mo + offsetof(struct pool_meta, sds_usc), w, sizeof(w),
	    "shutdown state: the new count recorded");
}

/* ---- header ---- */

static bool magic_ok(const struct pool_hdr *h)
{
	return memcmp(h->magic, POOL_MAGIC, 8) == 0;
}

/* unprefix -- a library message without its leading "PATH: " */
static const char *unprefix(const struct chk *c, const char *m)
{
	size_t n = strlen(c->path);

	if (!strncmp(m, c->path, n) && !strncmp(m + n, ": ", 2))
		return m + n + 2;
	return m;
}

int check_header(struct chk *c)
{
	struct pool_hdr h0, h1;
	char m0[512] = "", m1[512] = "";
	int r0, r1;

	if (too_small(c))
		return -EUCLEAN;
	memcpy(&h0, c->base, sizeof(h0));
	memcpy(&h1, c->base + POOL_HDR_COPY_OFF, sizeof(h1));
	r0 = pool_hdr_validate(&h0, c->size, c->path, 0);
	if (r0)
		snprintf(m0, sizeof(m0), "%s", unprefix(c, daxo_errormsg()));
	r1 = pool_hdr_validate(&h1, c->size, c->path, POOL_HDR_COPY_OFF);
	if (r1)
		snprintf(m1, sizeof(m1), "%s", unprefix(c, daxo_errormsg()));

	if (r0 && r1) {
		if (!magic_ok(&h0) && !magic_ok(&h1))
			return daxo__err(-EUCLEAN,
					 "%s: offset 0: not a daxo pool (bad "
					 "magic in the header and its copy)",
					 c->path);
		if (r0 == -EPROTONOSUPPORT || r1 == -EPROTONOSUPPORT)
			return daxo__err(-EPROTONOSUPPORT, "%s: %s", c->path,
					 r0 == -EPROTONOSUPPORT ? m0 : m1);
		check_rpt(c, DAXO_CHECK_FATAL, 0,
		    "header and its copy are both damaged: %s; %s", m0, m1);
		return 0;
	}
	if (r0) {
		check_rpt(c, DAXO_CHECK_REPAIRABLE, 0,
		    "primary header damaged (%s); its copy at offset %u is "
		    "valid",
		    m0, POOL_HDR_COPY_OFF);
		check_fix(c, 0, &h1, sizeof(h1),
		    "primary header restored from the copy at offset 4096");
		c->hdr = h1;
	} else {
		if (r1)
			check_rpt(c, DAXO_CHECK_REPAIRABLE, POOL_HDR_COPY_OFF,
			    "header copy damaged (%s)", m1);
		else if (memcmp(&h0, &h1, sizeof(h0)) != 0)
			check_rpt(c, DAXO_CHECK_REPAIRABLE, POOL_HDR_COPY_OFF,
			    "header copy differs from the primary header");
		if (r1 || memcmp(&h0, &h1, sizeof(h0)) != 0)
			check_fix(c, POOL_HDR_COPY_OFF, &h0, sizeof(h0),
			    "header copy rewritten from the primary header");
		c->hdr = h0;
	}
	if (c->hdr.size < c->size) {
		/* what lies past the pool is no part of it: check the pool,
		 * and on repair cut the file back to the size it was made */
		if (!c->devdax) {
			check_rpt(c, DAXO_CHECK_REPAIRABLE, c->hdr.size,
			    "the file is %llu bytes longer than the pool "
			    "(%llu bytes): the tail is not part of the pool",
			    (unsigned long long)(c->size - c->hdr.size),
			    (unsigned long long)c->hdr.size);
			if (c->fix) {
				c->trim_to = c->hdr.size;
				c->fixes++;
				check_rpt(c,
				    c->dry ? DAXO_CHECK_INFO | NOTE
					   : DAXO_CHECK_REPAIRED,
				    c->hdr.size,
				    "%sfile truncated to the pool's %llu bytes",
				    c->dry ? "would repair: " : "",
				    (unsigned long long)c->hdr.size);
			}
		}
		c->size = c->hdr.size;
	}
	if (c->hdr.minor > POOL_FMT_MINOR)
		check_rpt(c, DAXO_CHECK_INFO, 12,
		    "pool format %u.%u is newer than this checker's %u.%u: "
		    "structures it does not know are not checked",
		    c->hdr.major, c->hdr.minor, POOL_FMT_MAJOR, POOL_FMT_MINOR);
	if (c->hdr.ro_compat & ~POOL_RO_COMPAT_KNOWN)
		check_rpt(c, DAXO_CHECK_INFO, 24,
		    "unknown read-only-compatible features 0x%llx",
		    (unsigned long long)(c->hdr.ro_compat &
					 ~POOL_RO_COMPAT_KNOWN));
	check_rpt(c, DAXO_CHECK_INFO, 0,
	    "header: format %u.%u, layout \"%s\", %llu bytes, %u lanes, heap "
	    "at %llu",
	    c->hdr.major, c->hdr.minor, c->hdr.layout,
	    (unsigned long long)c->hdr.size, c->hdr.nlanes,
	    (unsigned long long)c->hdr.heap_off);
	return 0;
}

/* ---- pool meta: root and keyed store ---- */

void check_meta(struct chk *c)
{
	uint64_t mo = c->hdr.meta_off;
	const struct pool_meta *m = (const void *)(c->base + mo);
	uint64_t usable;
	unsigned nz = 0;

	if (c->worst == 2 && !c->owner)
		return;
	if (m->root_oid) {
		usable = check_object_at(c, m->root_oid);
		if (!usable)
			check_rpt(c, DAXO_CHECK_FATAL, mo,
			    "root object %llu is not a live object",
			    (unsigned long long)m->root_oid);
		else if (usable < m->root_size)
			check_rpt(c, DAXO_CHECK_FATAL, mo + 8,
			    "root object %llu has %llu usable bytes, less "
			    "than its size %llu",
			    (unsigned long long)m->root_oid,
			    (unsigned long long)usable,
			    (unsigned long long)m->root_size);
		else
			check_rpt(c, DAXO_CHECK_INFO, m->root_oid,
			    "root object: %llu bytes",
			    (unsigned long long)m->root_size);
	} else if (m->root_size) {
		check_rpt(c, DAXO_CHECK_REPAIRABLE, mo + 8,
		    "no root object but a root size of %llu",
		    (unsigned long long)m->root_size);
		check_fix64(c, mo + 8, 0, "root size cleared");
	}
	uint64_t kv_root;
	if (!kv_unlink(kv_fmt_of(c->hdr.incompat), m->kv_root, mo + 16,
		       &kv_root))
		check_rpt(c, DAXO_CHECK_FATAL, mo + 16,
		    "keyed store root word damaged (its check does not "
		    "match)");
	else if (kv_root && !check_object_at(c, kv_root))
		check_rpt(c, DAXO_CHECK_FATAL, mo + 16,
		    "keyed store anchor %llu is not a live object",
		    (unsigned long long)kv_root);
	else if (kv_root)
		kv_check_image(&c->view, kv_root);
	check_sds(c, m, mo);
	for (size_t i = 0; i < ARRAY_SIZE(m->reserved); i++)
		nz += m->reserved[i] != 0;
	if (nz)
		check_rpt(c, DAXO_CHECK_INFO, mo + 24,
		    "pool meta: %u reserved words are not zero", nz);
}
