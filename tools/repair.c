/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * repair.c -- `daxo repair POOL [--dry-run] [--backup FILE] [--no-backup]`.
 *
 * First a dry run decides whether anything needs changing. If so, the pool
 * is copied to a backup file (POOL.bak unless --backup or --no-backup; an
 * existing file is never overwritten), with a progress bar on a terminal,
 * and then daxo_check(DAXO_CHECK_REPAIR) recovers the logs, restores a
 * damaged header from its copy and fixes the allocator metadata it can
 * derive safely, reporting every change. What cannot be repaired safely is
 * refused and left untouched.
 *
 * Before the backup, the pool is opened for writing and its lock tried:
 * a pool that cannot be written (permissions, a read-only file system) or
 * that is open somewhere is not repaired, and no backup is written for it.
 *
 * Exit codes: 0 consistent (repaired or already), 1 repairable but not
 * repaired (--dry-run, or the backup or the repair failed, or the pool is
 * open or cannot be written), 2 not repairable (or usage), 3 not a daxo
 * pool or unreadable, 4 (--dry-run) the pool is open read-write by another
 * process: the verdict is of a changing image.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daxo.h"
#include "builtin.h"
#include "check_report.h"

#define PROGRESS_MIN (64ull << 20) /* show a bar from this size on */

static void bar(uint64_t done, uint64_t total)
{
	unsigned w = 40, fill = (unsigned)(done * w / (total ? total : 1));

	fprintf(stderr, "\rbackup [");
	for (unsigned i = 0; i < w; i++)
		fputc(i < fill ? '#' : ' ', stderr);
	fprintf(stderr, "] %3u%%",
		(unsigned)(done * 100 / (total ? total : 1)));
	if (done == total)
		fputc('\n', stderr);
	fflush(stderr);
}

/*
 * writable -- can the repair write @path and take its lock? NULL, or why
 * not (in @buf). The repair itself checks again, under the lock.
 */
static const char *writable(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	pid_t pid;

	if (fd < 0) {
		snprintf(buf, len, "%s: cannot be written: %s", path,
			 strerror(errno));
		return buf;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;

		close(fd);
		if (e != EWOULDBLOCK)
			snprintf(buf, len, "%s: cannot lock: %s", path,
				 strerror(e));
		else if (daxo_pool_writer(path, &pid) == 1 && pid > 0)
			snprintf(buf, len,
				 "%s: pool is open read-write by process %d: "
				 "close it before repairing",
				 path, (int)pid);
		else
			snprintf(buf, len,
				 "%s: pool is open by a process: close it "
				 "before repairing",
				 path);
		return buf;
	}
	close(fd);
	return NULL;
}

/*
 * backup -- copy @src to the new file @dst, durably. The copy is made
 * under a temporary name beside @dst (DST.partial.XXXXXX) and linked to
 * @dst only once it is whole and synced: a repair killed meanwhile leaves
 * no @dst that looks like a backup and would keep the next repair from
 * writing one.
 */
static int backup(const char *src, const char *dst, bool quiet)
{
	static char buf[1 << 20];
	int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, ret = -1;
	char tmp[4300];
	struct stat st, dst_st;
	uint64_t done = 0, unreadable = 0;
	bool show;
	/* a backup over the file size limit (ulimit -f): write() says EFBIG
	 * and the partial copy goes, instead of SIGXFSZ killing the tool
	 * and leaving it behind */
	struct sigaction ign = {.sa_handler = SIG_IGN}, old;

	sigaction(SIGXFSZ, &ign, &old);
	if (in < 0 || fstat(in, &st) != 0) {
		fprintf(stderr, "daxo repair: %s: %s\n", src, strerror(errno));
		goto out;
	}
	/* an existing @dst: refused before the copy, as link() would after */
	if (lstat(dst, &dst_st) == 0)
		errno = EEXIST;
	if (errno != ENOENT) {
		fprintf(stderr, "daxo repair: backup %s: %s%s\n", dst,
			strerror(errno),
			errno == EEXIST ? " (use --backup FILE or --no-backup)"
					: "");
		goto out;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.partial.XXXXXX", dst) >=
	    sizeof(tmp)) {
		fprintf(stderr, "daxo repair: backup %s: %s\n", dst,
			strerror(ENAMETOOLONG));
		goto out;
	}
	out = mkostemp(tmp, O_CLOEXEC); /* mode 0600 */
	if (out < 0) {
		fprintf(stderr, "daxo repair: backup %s: %s\n", tmp,
			strerror(errno));
		goto out;
	}
	show = !quiet && isatty(STDERR_FILENO) &&
	       (uint64_t)st.st_size >= PROGRESS_MIN;
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EIO &&
		    lseek(in, 512, SEEK_CUR) != (off_t)-1) {
			/* a media error: its sector is lost, and repair will
			 * zero it; the backup holds zeros there too */
			memset(buf, 0, 512);
			n = 512;
			unreadable += 512;
		} else if (n < 0) {
			fprintf(stderr, "daxo repair: read %s: %s\n", src,
				strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		for (ssize_t w = 0; w < n;) {
			ssize_t k = write(out, buf + w, (size_t)(n - w));
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0) {
				fprintf(stderr, "daxo repair: write %s: %s\n",
					dst, strerror(errno));
				goto out;
			}
			w += k;
		}
		done += (uint64_t)n;
		if (show &&
		    (done % (64u << 20) == 0 || done == (uint64_t)st.st_size))
			bar(done, (uint64_t)st.st_size);
	}
	if (done != (uint64_t)st.st_size) {
		/* another process truncated or extended the file meanwhile:
		 * the copy is of no moment of it */
		fprintf(stderr,
			"daxo repair: %s: the file changed size while it was "
			"copied (%llu bytes, then %llu): no backup; not "
			"repaired\n",
			src, (unsigned long long)st.st_size,
			(unsigned long long)done);
		goto out;
	}
	if (unreadable)
		fprintf(stderr,
			"daxo repair: %s: %llu bytes could not be read (media "
			"errors): the backup holds zeros there\n",
			src, (unsigned long long)unreadable);
	if (fsync(out) != 0) {
		fprintf(stderr, "daxo repair: fsync %s: %s\n", tmp,
			strerror(errno));
		goto out;
	}
	/* link, not rename: an existing @dst is never replaced */
	if (link(tmp, dst) != 0) {
		fprintf(stderr, "daxo repair: backup %s: %s%s\n", dst,
			strerror(errno),
			errno == EEXIST ? " (use --backup FILE or --no-backup)"
					: "");
		goto out;
	}
	ret = 0;
out:
	if (in >= 0)
		close(in);
	if (out >= 0) {
		close(out);
		unlink(tmp);
	}
	sigaction(SIGXFSZ, &old, NULL);
	return ret;
}

static const char *bk;
static bool dry, nobk, json, verbose;

static const struct opt repair_opts[] = {
    OPT_BOOL('n', "dry-run", &dry, "say what would change; change nothing"),
    OPT_STRING('b', "backup", &bk, "F",
	       "write the backup to F (must not "
	       "exist)"),
    OPT_BOOL(0, "no-backup", &nobk, "do not write a backup"),
    OPT_BOOL('j', "json", &json, "machine-readable output"),
    OPT_BOOL('v', "verbose", &verbose, "report every structure checked"),
    OPT_END(),
};

static int repair_run(int argc, char **argv)
{
	struct check_out o = {.f = stdout, .json = json, .path = argv[0]};
	unsigned flags = DAXO_CHECK_REPAIR | (verbose ? DAXO_CHECK_VERBOSE : 0);
	char defbk[4200], why[4400];
	int r;

	(void)argc;
	if (bk && nobk)
		return cmd_usage_error(&cmd_repair, "--backup and --no-backup "
						    "exclude each other");
	check_out_begin(&o);
	/* the dry run decides whether anything is to be done at all; with
	 * --dry-run it is the whole run, reported as daxo check's */
	if (dry)
		r = check_out_check(&o, flags | DAXO_CHECK_DRY_RUN, why,
				    sizeof(why));
	else
		r = daxo_check(o.path, flags | DAXO_CHECK_DRY_RUN, NULL, &o);
	if (!dry && r != 1 && r != 0)
		/* say why: run it again with the report */
		r = daxo_check(o.path, flags | DAXO_CHECK_DRY_RUN, check_out_cb,
			       &o);
	if (dry || r != 1) {
		check_out_end(&o, r, "consistent: nothing to repair");
		/* as printed: a dry run of a pool open read-write elsewhere
		 * read a changing image (4), like daxo check */
		return check_out_exit(&o, r);
	}
	o.error = writable(o.path, why, sizeof(why));
	if (o.error) {
		check_out_end(&o, 1, NULL);
		return 1;
	}
	if (!nobk) {
		if (!bk) {
			snprintf(defbk, sizeof(defbk), "%s.bak", o.path);
			bk = defbk;
		}
		if (backup(o.path, bk, o.json)) {
			o.error = "the backup could not be written (see above)";
			check_out_end(&o, 1, NULL);
			return 1;
		}
		if (!o.json)
			printf("%s: backup written to %s\n", o.path, bk);
	}
	r = daxo_check(o.path, flags, check_out_cb, &o);
	if (r < 0) {
		/* the dry run read it as a pool: this is a repair that failed
		 * (busy, not writable, an I/O error), not a pool unread */
		snprintf(why, sizeof(why), "%s", daxo_errormsg());
		o.error = why;
		r = 1;
	}
	check_out_end(&o, r, "repaired: consistent");
	return r;
}

const struct cmd cmd_repair = {
    .name = "repair",
    .summary = "repair a pool",
    .synopsis = "POOL [--dry-run] [--backup FILE | --no-backup] [--json] "
		"[-v]",
    .about = "Recovers the logs, restores a damaged header from its copy\n"
	     "and fixes allocator metadata where it can be derived safely.\n"
	     "A backup (default POOL.bak) is written first.\n",
    .args = "POOL",
    .min_args = 1,
    .max_args = 1,
    .opts = repair_opts,
    .exits = "0 consistent, 1 not repaired (dry run, open elsewhere, not\n"
	     "writable, no backup), 2 not repairable (or usage), 3 not a\n"
	     "daxo pool or unreadable, 4 (--dry-run) open read-write by\n"
	     "another process: the verdict is of a changing image.",
    .run = repair_run,
};
