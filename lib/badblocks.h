/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * badblocks.h -- media errors under a pool file.
 *
 * Persistent memory can lose cache lines to media errors. The kernel keeps
 * the sectors it knows to be bad (found by the platform's address range
 * scrub, or by a machine check on a load) in the block device's badblocks
 * list, /sys/block/pmemN/badblocks: "SECTOR COUNT" lines in 512-byte
 * sectors from the start of the disk. A load from such a line is a machine
 * check, which Linux turns into a SIGBUS; read() of it returns EIO. So a
 * pool is never mapped over a known bad block for use: daxo_open refuses a
 * pool that overlaps one (-EIO, naming the range), daxo_check reads such
 * ranges as zeros and reports them with the objects and keys they held,
 * and daxo_check's repair clears them.
 *
 * Finding the ranges of a file: the st_dev of the file names the block
 * device (/sys/dev/block/MAJ:MIN; a partition's list is its disk's, less
 * the partition's start), and FIEMAP maps the file's extents to device
 * offsets. Clearing a range: the file system is asked to free the blocks
 * (FALLOC_FL_PUNCH_HOLE) and give the file fresh ones (fallocate), which it
 * zeroes through the pmem driver -- the write that clears the poison and
 * drops the sectors from the list (PMDK's pmempool did the same for files).
 * Device-DAX nodes have no file system to ask: they are not searched here.
 *
 * Test seam: the environment variable DAXO_SYSFS_ROOT, when set, replaces
 * "/sys" in these lookups, so that a test can give a device a badblocks
 * list (tests/unit/test_badblocks.sh). It is read by nothing else.
 *
 * The same lookups give the DIMMs' unsafe-shutdown counts (below).
 *
 * Backends, chosen by meson: badblocks_linux.c (sysfs and FIEMAP) and
 * badblocks_none.c (no media-error reporting: every lookup finds none).
 */
#ifndef DAXO_BADBLOCKS_H
#define DAXO_BADBLOCKS_H 1

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

/* a range of the file, in bytes */
struct bb_range {
	uint64_t off, len;
};

/* what badblocks_find found */
struct bb_list {
	struct bb_range *r; /* sorted, merged; malloc'd */
	size_t n;
	char dev[64]; /* the block device, "MAJ:MIN" */
};

/*
 * badblocks_find -- the ranges of [0, @len) of the regular file @fd that
 * lie on known bad blocks. 0 with @out->n == 0 when there are none (or the
 * file's device keeps no list), 0 with the ranges, or a negative errno with
 * the message set (-EIO: the device has bad blocks but the file's extents
 * cannot be read; -ENOMEM). @path is for messages.
 */
int badblocks_find(int fd, uint64_t len, const char *path,
		   struct bb_list *out) DAXO_HIDDEN;

void badblocks_free(struct bb_list *l) DAXO_HIDDEN;

/*
 * badblocks_clear -- give [off, off+len) of the file fresh, zeroed blocks
 * (widened to whole file-system blocks) and make that durable. 0 or a
 * negative errno with the message set.
 */
int badblocks_clear(int fd, uint64_t off, uint64_t len,
		    const char *path) DAXO_HIDDEN;

/*
 * badblocks_shutdowns -- the unsafe-shutdown counts of the DIMMs under the
 * file's device (a pmem block device or a device-DAX node), summed into
 * *@usc, and a hash of their ids into *@ids (a pool copied to other DIMMs
 * has other counts). The kernel shows them as nmemN/nfit/dirty_shutdown
 * and nmemN/nfit/id for the DIMMs of the region's mappingK files. Returns
 * 0, or -ENOENT when the platform reports no such count for this file.
 * The count rises when a DIMM lost power without flushing its buffers
 * (ADR failed): writes just before it may be lost though they were
 * "durable" (PMDK's shutdown state, SDS).
 */
int badblocks_shutdowns(int fd, uint64_t *usc, uint64_t *ids) DAXO_HIDDEN;

#endif
