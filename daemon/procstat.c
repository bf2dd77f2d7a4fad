/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * procstat.c -- whole-process fault totals from /proc/PID/stat.
 *
 * Anyone may read fields 10 (minflt) and 12 (majflt) of any process, so this
 * is what daxod falls back to when perf_event_open is not permitted. It
 * cannot tell one pool from another (or from the heap, the stack and the
 * libraries): pools of a process in this mode report the process's totals
 * since daxod first saw it, and say "mode": "procstat".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daxod.h"

int procstat_read(pid_t pid, uint64_t *minflt, uint64_t *majflt,
		  unsigned long long *starttime, char *comm, size_t commlen)
{
	char path[64], buf[1024], *p, *end;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	/* comm is in parentheses and may itself contain ") " */
	p = strchr(buf, '(');
	end = strrchr(buf, ')');
	if (!p || !end || end < p)
		return -EIO;
	if (comm && commlen) {
		size_t l = (size_t)(end - p - 1);
		if (l >= commlen)
			l = commlen - 1;
		memcpy(comm, p + 1, l);
		comm[l] = '\0';
	}
	/* field 3 (state) follows ") " */
	p = end + 2;
	for (field = 3; *p && field <= 22; field++) {
		unsigned long long v = strtoull(p, &end, 10);
		if (field == 10 && minflt)
			*minflt = v;
		else if (field == 12 && majflt)
			*majflt = v;
		else if (field == 22 && starttime)
			*starttime = v;
		p = strchr(p, ' ');
		if (!p)
			break;
		p++;
	}
	return field > 22 ? 0 : -EIO;
}
