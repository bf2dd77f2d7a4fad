/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * check.c -- the offline consistency checker and repair: daxo_check().
 *
 * A check reads a closed pool through a private read-only mapping and takes
 * no lock (a pool open elsewhere may be seen mid-change: a process that
 * has it open read-write at the start or the end is reported first, from
 * /proc/locks, so that nobody trusts that verdict). It verifies, in
 * order: the header and its copy; every lane's redo slots and undo log; the
 * heap's chunk table and run bitmaps; the pool meta (root object, keyed
 * store anchor). Whatever the bytes, it never crashes and never loops
 * unboundedly: every offset read is range-checked against the file first
 * and every walk is bounded by the size of what it walks.
 *
 * Repair (DAXO_CHECK_REPAIR) opens the file read-write under the pool's
 * exclusive lock (-EBUSY if the pool is open) and fixes only what can be
 * derived safely: a damaged header from its valid copy (and the reverse),
 * stray bitmap bits beyond a run's slots, stale headers of covered chunks,
 * malformed chunk heads that provably hold no live object. Pending log
 * recovery is run by opening the pool. Then the pool is checked again from
 * scratch, and that verdict is returned. DAXO_CHECK_DRY_RUN makes the same
 * decisions on a copy-on-write view and changes nothing.
 *
 * This file holds the reporting and the record of repairs every part of
 * the check uses, and the driver: one pass, the repair, the re-check. The
 * parts of a pass are check_hdr.c (the image, the header, media errors,
 * the pool meta), check_log.c (the lanes) and check_heap.c (the heap);
 * checkint.h is what they share.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "badblocks.h"
#include "check.h"
#include "heap.h"
#include "kv.h"
#include "pool.h"
#include "tx.h"
#include "checkint.h"

void check_rpt(struct chk *c, int sev, uint64_t off, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	bool note = sev & NOTE;

	sev &= ~NOTE;
	if (sev == DAXO_CHECK_REPAIRABLE)
		c->worst = MAX(c->worst, 1);
	else if (sev == DAXO_CHECK_FATAL)
		c->worst = 2;
	if (c->quiet || !c->cb)
		return;
	if (sev == DAXO_CHECK_INFO && !(c->flags & DAXO_CHECK_VERBOSE) &&
	    off != UINT64_MAX && !note)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->cb(sev, off == UINT64_MAX ? 0 : off, msg, c->arg);
}

static void view_report(const struct check_view *v, int sev, uint64_t off,
			const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void view_report(const struct check_view *v, int sev, uint64_t off,
			const char *fmt, ...)
{
	struct chk *c = v->priv;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	check_rpt(c, sev, off, "%s", msg);
}

/* check_in_file -- [off, off+len) lies inside the file (overflow-safe) */
bool check_in_file(const struct chk *c, uint64_t off, uint64_t len)
{
	return off <= c->size && len <= c->size - off;
}

uint64_t check_rd64(const struct chk *c, uint64_t off)
{
	uint64_t v;

	memcpy(&v, c->base + off, 8);
	return v;
}

/*
 * check_fix -- apply one repair: write @len bytes at @off of the mapping. The
 * caller has reported the finding; this reports the change.
 */
void check_fix(struct chk *c, uint64_t off, const void *src, size_t len,
	       const char *what)
{
	struct fixrec *f;

	if (!c->fix)
		return;
	if (c->nfix == c->capfix) {
		size_t n = c->capfix ? 2 * c->capfix : 16;
		f = realloc(c->fixv, n * sizeof(*f));
		if (!f) {
			check_rpt(c, DAXO_CHECK_FATAL, off,
			    "out of memory recording a repair");
			return;
		}
		c->fixv = f;
		c->capfix = n;
	}
	f = &c->fixv[c->nfix];
	f->data = malloc(len);
	if (!f->data) {
		check_rpt(c, DAXO_CHECK_FATAL, off,
		    "out of memory recording a repair");
		return;
	}
	memcpy(f->data, src, len);
	f->off = off;
	f->len = (uint32_t)len;
	f->hdr = off < POOL_META_OFF;
	c->nfix++;
	/* later checks see the repaired bytes */
	memmove(c->base + off, src, len);
	c->fixes++;
	check_rpt(c, c->dry ? DAXO_CHECK_INFO | NOTE : DAXO_CHECK_REPAIRED, off,
	    "%s%s", c->dry ? "would repair: " : "", what);
}

void check_fix64(struct chk *c, uint64_t off, uint64_t val, const char *what)
{
	check_fix(c, off, &val, 8, what);
}

/* ---- driver ---- */

/*
 * size_kept -- 0 when the file still has the size it had when it was
 * mapped. One that another process truncated while it was read was checked
 * partly as zeros (pool_cover_holes covers what is past the new end) or
 * would have faulted: nothing can be concluded (-EAGAIN: check it again).
 */
static int size_kept(const struct chk *c)
{
	struct stat st;

	if (c->devdax || c->fd < 0 || fstat(c->fd, &st) != 0 ||
	    (uint64_t)st.st_size == c->maplen)
		return 0;
	return daxo__err(-EAGAIN,
			 "%s: the file changed size while it was read (%llu "
			 "bytes, then %llu): nothing can be concluded; check "
			 "it again",
			 c->path, (unsigned long long)c->maplen,
			 (unsigned long long)st.st_size);
}

/* one_pass -- map, check (and fix) everything; returns 0..2 or -errno */
static int one_pass(struct chk *c)
{
	int r;

	r = check_map_file(c);
	if (r)
		goto out;
	r = check_header(c);
	if (!r)
		check_media(c);
	if (r || c->worst == 2)
		goto out;
	c->view = (struct check_view){.base = c->base,
				      .size = c->size,
				      .is_live = check_view_is_live,
				      .bad = check_view_bad,
				      .report = view_report,
				      .priv = c,
				      .incompat = c->hdr.incompat};
	/* logs first: the heap is checked as recovery will leave it */
	r = check_lanes(c);
	if (r)
		goto out;
	r = check_heap(c);
	if (r)
		goto out;
	check_meta(c);
out:
	if (c->base && size_kept(c))
		r = -EAGAIN;
	check_unmap_file(c);
	return r ? r : c->worst;
}

/* run_recovery -- open and close the pool: daxo_open replays the logs */
static int run_recovery(struct chk *c)
{
	daxo_pool *p;
	/* through the lock daxo_check holds: nobody opens the pool between
	 * the repairs before recovery and those after it */
	int r = pool_open_held(c->path, c->lock_fd, &p);

	if (r)
		return r;
	r = daxo_close(p);
	if (r == 0)
		check_rpt(c, DAXO_CHECK_REPAIRED, POOL_LANES_OFF,
		    "log recovery ran (pool opened and closed)");
	return r;
}

/* check_lock_pool -- the pool's exclusive lock, as daxo_open takes it */
int check_lock_pool(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return daxo__err(-errno, "%s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		close(fd);
		return daxo__err(e == EWOULDBLOCK ? -EBUSY : -e,
				 "%s: pool is open by a process: close it "
				 "before repairing",
				 path);
	}
	return fd;
}

/*
 * check_same_file -- 0 if @fd is the file the pass checked, else -EAGAIN:
 * a file renamed over the path since would get repairs computed from
 * another pool's bytes
 */
static int check_same_file(const struct chk *c, int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino)
		return 0;
	return daxo__err(-EAGAIN,
			 "%s: the file was replaced (renamed over or removed) "
			 "since it was checked: nothing more was repaired; "
			 "check it again",
			 c->path);
}

/*
 * check_locked_fd -- a descriptor of the file the pass checked, locked: a
 * new descriptor of the open file daxo_check locked before the pass (it
 * shares the flock, held until daxo_check returns) and found to be the
 * file the pass read
 */
int check_locked_fd(struct chk *c)
{
	int fd = fcntl(c->lock_fd, F_DUPFD_CLOEXEC, 0);

	if (fd < 0)
		return daxo__err(-errno, "%s: %s", c->path, strerror(errno));
	return fd;
}

/* write_fixes -- write the recorded repairs (headers or the rest) */
static int write_fixes(struct chk *c, int fd, bool hdr)
{
	bool any = false;

	for (size_t i = 0; i < c->nfix; i++) {
		struct fixrec *f = &c->fixv[i];

		if (f->hdr != hdr)
			continue;
		if (pwrite(fd, f->data, f->len, (off_t)f->off) !=
		    (ssize_t)f->len)
			return daxo__err(-EIO, "%s: offset %llu: write: %s",
					 c->path, (unsigned long long)f->off,
					 strerror(errno));
		any = true;
	}
	if (any && fsync(fd) != 0)
		return daxo__err(-EIO, "%s: fsync: %s", c->path,
				 strerror(errno));
	return 0;
}

static void free_fixes(struct chk *c)
{
	for (size_t i = 0; i < c->nfix; i++)
		free(c->fixv[i].data);
	free(c->fixv);
}

/*
 * repair -- after a pass that found nothing fatal: header repairs first (so
 * that the pool can be opened), then log recovery through daxo_open, then
 * the rest, which the pass computed on the view after a simulated replay.
 */
static int repair(struct chk *c)
{
	int fd = check_locked_fd(c), r;

	if (fd < 0)
		return fd;
	r = write_fixes(c, fd, true);
	if (r)
		goto out;
	if (c->trim_to &&
	    (ftruncate(fd, (off_t)c->trim_to) != 0 || fsync(fd) != 0)) {
		r = daxo__err(-errno, "%s: truncate to %llu bytes: %s",
			      c->path, (unsigned long long)c->trim_to,
			      strerror(errno));
		goto out;
	}
	if (c->recovery_pending) {
		close(fd);
		r = run_recovery(c);
		if (r) {
			/* maybe the heap repairs are what recovery needs */
			fd = check_locked_fd(c);
			if (fd < 0)
				return fd;
			r = write_fixes(c, fd, false);
			close(fd);
			if (r)
				return r;
			r = run_recovery(c);
			if (r) {
				check_rpt(c, DAXO_CHECK_FATAL, 0,
				    "log recovery failed: %s", daxo_errormsg());
				return 2;
			}
			return 0;
		}
		fd = check_locked_fd(c);
		if (fd < 0)
			return fd;
	}
	r = write_fixes(c, fd, false);
out:
	close(fd);
	return r;
}

/*
 * warn_writer -- a check takes no lock: if a process has the pool open
 * read-write when the check starts (@after: or had not then but has when
 * it ends), say so, for the image read may have been changing under it.
 * Once is enough.
 */
static void warn_writer(struct chk *c, bool after)
{
	pid_t pid;
	char who[48];

	if (c->writer_seen || pool_writer(c->path, &pid) != 1)
		return;
	c->writer_seen = true;
	if (pid > 0)
		snprintf(who, sizeof(who), "process %d%s", (int)pid,
			 pid == getpid() ? " (this process)" : "");
	else
		snprintf(who, sizeof(who), "a process of another pid namespace");
	check_rpt(c, DAXO_CHECK_INFO, SUMMARY,
	    after ? "the pool is open read-write by %s, which opened it "
		    "during this check: the image checked may have been "
		    "changing and the findings may be wrong; check again "
		    "once it is closed"
		  : "the pool is open read-write by %s: the image checked "
		    "may be changing and the findings may be wrong; check "
		    "again once it is closed",
	    who);
}

DAXO_EXPORT int daxo_check(const char *path, unsigned flags, daxo_check_cb cb,
			   void *arg)
{
	struct chk c, v;
	int r, lfd = -1;

	daxo__err_clear();
	if (!path)
		return daxo__err(-EINVAL, "daxo_check: path is NULL");
	if (!*path)
		return daxo__err(-ENOENT, "daxo_check: the path is empty");
	if (flags &
	    ~(DAXO_CHECK_VERBOSE | DAXO_CHECK_REPAIR | DAXO_CHECK_DRY_RUN))
		return daxo__err(-EINVAL, "daxo_check: unknown flags 0x%x",
				 flags);
	memset(&c, 0, sizeof(c));
	c.path = path;
	c.flags = flags;
	c.cb = cb;
	c.arg = arg;
	c.fd = -1;
	c.lock_fd = -1;
	c.fix = (flags & DAXO_CHECK_REPAIR) != 0;
	c.dry = c.fix && (flags & DAXO_CHECK_DRY_RUN);
	if (c.fix && !c.dry) {
		/* nobody may change the pool while we look and repair: the
		 * lock is held until this call returns */
		lfd = check_lock_pool(path);
		if (lfd < 0)
			return lfd;
		c.lock_fd = lfd;
	} else {
		warn_writer(&c, false);
	}
	r = one_pass(&c);
	/* the pass opened the path again: the file locked, or r is moot */
	if (lfd >= 0 && r >= 0 && check_same_file(&c, lfd))
		r = -EAGAIN;
	if (lfd < 0 && r >= 0)
		warn_writer(&c, true);
	if (r < 0 || !c.fix)
		goto out;
	/* what lies on a media error is lost whatever else is wrong: clear
	 * it first (the pass above saw zeros there, as the pool will hold) */
	if (c.bb.n && !c.dry) {
		int m = check_clear_media(&c);
		if (m) {
			r = m < 0 ? m : 2;
			goto out;
		}
		if (r != 2 && !c.nfix && !c.recovery_pending && !c.trim_to) {
			r = 0;
			goto out;
		}
	}
	if (r == 2) {
		check_rpt(&c, DAXO_CHECK_FATAL, SUMMARY,
		    "not repairable safely: nothing was changed");
		goto out;
	}
	if (c.dry) {
		if (c.recovery_pending)
			check_rpt(&c, DAXO_CHECK_INFO | NOTE, c.hdr.lanes_off,
			    "would repair: run log recovery (replay committed "
			    "records, roll back unfinished transactions)");
		r = (c.nfix || c.recovery_pending || c.trim_to || c.bb.n) ? 1
									    : r;
		goto out;
	}
	if (r == 0 && !c.nfix && !c.recovery_pending && !c.trim_to)
		goto out;
	r = repair(&c);
	if (r)
		goto out;
	/* the verdict is that of a fresh check of what is on media now */
	memset(&v, 0, sizeof(v));
	v.path = path;
	v.fd = -1;
	v.quiet = true;
	r = one_pass(&v);
	if (r >= 0 && check_same_file(&v, lfd))
		r = -EAGAIN;
	else if (r == 1 && v.recovery_pending)
		check_rpt(&c, DAXO_CHECK_FATAL, SUMMARY,
		    "log recovery did not complete");
	else if (r != 0)
		check_rpt(&c, DAXO_CHECK_FATAL, SUMMARY,
		    "still inconsistent after repair: run 'daxo check'");
	free_fixes(&v);
	badblocks_free(&v.bb);
out:
	if (lfd >= 0)
		close(lfd);
	free_fixes(&c);
	badblocks_free(&c.bb);
	return r;
}
