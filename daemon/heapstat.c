/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * heapstat.c -- a pool's heap figures: free bytes and the largest object
 * one allocation gets now, for `daxo stat` and the metrics.
 *
 * A pool is held open, and locked, by the process that uses it, so daxod
 * cannot open it; nor does the library push figures (that would cost the
 * application work on its allocation path, and discovered pools never
 * register). daxod reads them itself with libdaxo's daxo_heap_stat, which
 * reads the chunk table and run bitmaps from the file with pread, taking
 * no lock, trusting no byte (a pool being written gives approximate
 * figures; a hostile file, wrong ones at worst). It reads the very file
 * the process maps: /proc/PID/map_files/BASE-END (root may open those);
 * an unprivileged daxod reads the pool's path with its own permissions. A
 * reading is reused for a scan interval; pools above HEAPSTAT_MAX bytes are not
 * read (the table is 8 bytes per 4 KiB chunk: 256 MiB at 128 GiB, too long for
 * the loop).
 */
#include <errno.h>
#include <stdio.h>
#include <syslog.h>
#include <unistd.h>

#include "daxo.h"
#include "daxod.h"

#define HEAPSTAT_MAX (128ull << 30)

void heapstat_refresh(struct dpool *pl)
{
	static struct daxo_heap_info hi;
	char mf[96];
	double t = now_mono();
	int r;

	if (pl->heap_at > 0 &&
	    (t - pl->heap_at) * 1000.0 < cfg.scan_interval_ms)
		return;
	pl->heap_at = t;
	if (pl->size > HEAPSTAT_MAX) {
		pl->heap_ok = false;
		return;
	}
	snprintf(mf, sizeof(mf), "/proc/%d/map_files/%llx-%llx",
		 (int)pl->proc->pid, (unsigned long long)pl->base,
		 (unsigned long long)(pl->base + pl->size));
	r = daxo_heap_stat(mf, &hi);
	/*
	 * Without the privilege to open map_files, the path, read with
	 * daxod's own permissions. Never as root: a path names what the
	 * process said, not what it maps.
	 */
	if ((r == -EACCES || r == -EPERM) && geteuid() != 0)
		r = daxo_heap_stat(pl->path, &hi);
	if (r) {
		if (pl->heap_ok)
			log_msg(LOG_DEBUG, "pool %llu: heap figures: %s",
				(unsigned long long)pl->id, daxo_errormsg());
		pl->heap_ok = false;
		return;
	}
	pl->heap_ok = true;
	pl->heap_bytes = hi.heap_bytes;
	pl->heap_free = hi.free_bytes;
	pl->heap_largest = hi.largest_alloc;
}
