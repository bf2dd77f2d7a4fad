/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pagemap.c -- how much of a pool is mapped into a process right now.
 *
 * /proc/PID/pagemap says, per virtual page, whether it is present in the
 * page table. (smaps' Rss is useless for DAX: 0 for PTE-mapped fsdax
 * pages.) Where the kernel has the PAGEMAP_SCAN ioctl (6.7+) daxod asks
 * it for the present ranges of the pool -- a few regions instead of 8
 * bytes per page; elsewhere it reads the 64-bit entries (bit 63: present)
 * in chunks, 2 MiB of pagemap per GiB of pool, and stops at
 * PAGEMAP_MAX_BYTES of pool. Runs once per scan interval and on each stat
 * query. The config key pagemap_scan = false forces the read path.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <syslog.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "daxod.h"

#define PAGEMAP_CHUNK	  4096u /* entries per read */
#define PAGEMAP_MAX_BYTES (256ull << 30)
#define SCAN_REGIONS	  256u

#ifndef PAGEMAP_SCAN /* <linux/fs.h> before 6.7 */
#define PAGEMAP_SCAN	_IOWR('f', 16, struct pm_scan_arg)
#define PAGE_IS_PRESENT (1 << 3)
struct page_region {
	uint64_t start, end, categories;
};
struct pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages,
	    category_inverted, category_mask, category_anyof_mask, return_mask;
};
#endif

static bool no_scan_ioctl, said;

/* scan_ioctl -- present bytes in [base, base+size) by PAGEMAP_SCAN */
static int scan_ioctl(int fd, uint64_t base, uint64_t size, uint64_t *out)
{
	static struct page_region vec[SCAN_REGIONS];
	uint64_t start = base, end = base + size, present = 0;

	while (start < end) {
		struct pm_scan_arg a = {
		    .size = sizeof(a),
		    .start = start,
		    .end = end,
		    .vec = (uint64_t)(uintptr_t)vec,
		    .vec_len = SCAN_REGIONS,
		    .category_mask = PAGE_IS_PRESENT,
		    .return_mask = PAGE_IS_PRESENT,
		};
		long n = ioctl(fd, PAGEMAP_SCAN, &a);

		if (n < 0)
			return -errno;
		for (long i = 0; i < n; i++)
			present += vec[i].end - vec[i].start;
		if (a.walk_end <= start)
			break;
		start = a.walk_end;
	}
	*out = present;
	return 0;
}

static int read_entries(int fd, uint64_t base, uint64_t size, uint64_t *out)
{
	static uint64_t ent[PAGEMAP_CHUNK];
	long pg = sysconf(_SC_PAGESIZE);
	uint64_t first, npages, done = 0, present = 0;

	if (size > PAGEMAP_MAX_BYTES)
		size = PAGEMAP_MAX_BYTES;
	first = base / (uint64_t)pg;
	npages = (size + (uint64_t)pg - 1) / (uint64_t)pg;
	while (done < npages) {
		uint64_t want = npages - done;
		ssize_t n;

		if (want > PAGEMAP_CHUNK)
			want = PAGEMAP_CHUNK;
		n = pread(fd, ent, want * 8, (off_t)((first + done) * 8));
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n / 8; i++)
			present += ent[i] >> 63;
		done += (uint64_t)n / 8;
	}
	*out = present * (uint64_t)pg;
	return done ? 0 : -EIO;
}

int pagemap_mapped(pid_t pid, uint64_t base, uint64_t size, uint64_t *out)
{
	char path[64];
	int fd, r = -ENOTTY;

	*out = 0;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (cfg.pagemap_scan && !no_scan_ioctl) {
		r = scan_ioctl(fd, base, size, out);
		if (r == -ENOTTY || r == -EINVAL) {
			no_scan_ioctl = true; /* older kernel */
			log_msg(LOG_DEBUG, "pagemap: no PAGEMAP_SCAN, reading "
					   "entries");
		} else if (!r && !said) {
			said = true;
			log_msg(LOG_DEBUG, "pagemap: using PAGEMAP_SCAN");
		}
	}
	if (r)
		r = read_entries(fd, base, size, out);
	close(fd);
	return r;
}
