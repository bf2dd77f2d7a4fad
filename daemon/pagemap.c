/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pagemap.c -- how much of a pool is mapped into a process right now.
 *
 * /proc/PID/pagemap has one 64-bit entry per virtual page; bit 63 says the
 * page is present in the page table. (smaps' Rss is useless for DAX: 0 for
 * PTE-mapped fsdax pages.) Reading it costs 8 bytes per 4 KiB page -- 2 MiB
 * per GiB of pool -- so it runs once per scan interval and on each stat
 * query, in chunks, and stops at PAGEMAP_MAX_BYTES of pool (larger pools
 * report the mapped bytes of their first PAGEMAP_MAX_BYTES and say so in
 * the log once).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "daxod.h"

#define PAGEMAP_CHUNK 4096u /* entries per read */
#define PAGEMAP_MAX_BYTES (256ull << 30)

int pagemap_mapped(pid_t pid, uint64_t base, uint64_t size, uint64_t *out)
{
	static uint64_t ent[PAGEMAP_CHUNK];
	long pg = sysconf(_SC_PAGESIZE);
	uint64_t first, npages, done = 0, present = 0;
	char path[64];
	int fd;

	*out = 0;
	if (size > PAGEMAP_MAX_BYTES)
		size = PAGEMAP_MAX_BYTES;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
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
	close(fd);
	*out = present * (uint64_t)pg;
	return done ? 0 : -EIO;
}
