/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * badblocks_linux.c -- media errors under a pool file, from the block
 * device's badblocks list in sysfs and the file's extents (FIEMAP). See
 * badblocks.h for what is looked up and why.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <xxhash.h>

#include "badblocks.h"

#define SECTOR 512ull
#define BB_MAX 4096   /* entries read from one list (the kernel keeps 512) */
#define FIEMAP_BATCH 64

/*
 * sys_path -- /sys/dev/block/MAJ:MIN/LEAF, under $DAXO_SYSFS_ROOT instead
 * of /sys when that is set (the test seam of badblocks.h)
 */
static void sys_path(char *buf, size_t len, dev_t dev, const char *leaf)
{
	const char *root = getenv("DAXO_SYSFS_ROOT");

	snprintf(buf, len, "%s/dev/block/%u:%u/%s",
		 root && *root ? root : "/sys", major(dev), minor(dev), leaf);
}

/* sys_dev -- the sysfs directory of the device under the file @fd */
static bool sys_dev(int fd, char *buf, size_t len)
{
	const char *root = getenv("DAXO_SYSFS_ROOT");
	struct stat st;
	char part[600];
	bool chr;

	if (fstat(fd, &st) != 0)
		return false;
	chr = S_ISCHR(st.st_mode);
	if (!chr && !S_ISREG(st.st_mode))
		return false;
	snprintf(buf, len, "%s/dev/%s/%u:%u", root && *root ? root : "/sys",
		 chr ? "char" : "block",
		 major(chr ? st.st_rdev : st.st_dev),
		 minor(chr ? st.st_rdev : st.st_dev));
	/* a partition's disk is its parent */
	snprintf(part, sizeof(part), "%s/partition", buf);
	if (!chr && access(part, F_OK) == 0) {
		size_t n = strlen(buf);
		snprintf(buf + n, len - n, "/..");
	}
	return true;
}

/*
 * out_of_resources -- did an open fail for want of a descriptor or memory
 * (not because the file is missing or unreadable)? Then whether the device
 * lists bad blocks is unknown, which is not the same as "none"
 */
static bool out_of_resources(int e)
{
	return e == EMFILE || e == ENFILE || e == ENOMEM;
}

/*
 * read_u64 -- one number from a sysfs file; false if it is not there (or
 * not a number), -errno in *@err if it could not be opened for want of
 * resources
 */
static bool read_u64(const char *path, uint64_t *v, int *err)
{
	FILE *f = fopen(path, "re");
	unsigned long long x;
	bool ok;

	if (!f) {
		if (out_of_resources(errno))
			*err = -errno;
		return false;
	}
	ok = fscanf(f, "%llu", &x) == 1;
	fclose(f);
	*v = x;
	return ok;
}

static int range_cmp(const void *a, const void *b)
{
	const struct bb_range *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

/* merge -- sort @r and join ranges that touch; the new count */
static size_t merge(struct bb_range *r, size_t n)
{
	size_t k = 0;

	if (n == 0)
		return 0;
	qsort(r, n, sizeof(*r), range_cmp);
	for (size_t i = 1; i < n; i++) {
		if (r[i].off <= r[k].off + r[k].len) {
			uint64_t end = r[i].off + r[i].len;
			if (end > r[k].off + r[k].len)
				r[k].len = end - r[k].off;
		} else {
			r[++k] = r[i];
		}
	}
	return k + 1;
}

/*
 * device_list -- the bad byte ranges of the block device @dev, relative to
 * it (a partition's start taken off); *@n = 0 if it keeps no list.
 * -ENOMEM, -EMFILE or -ENFILE if the list could not be read for want of
 * memory or descriptors.
 */
static int device_list(dev_t dev, struct bb_range **out, size_t *n)
{
	char path[512];
	uint64_t start = 0;
	struct bb_range *r = NULL;
	unsigned long long s, c;
	size_t cap = 0;
	FILE *f;

	*out = NULL;
	*n = 0;
	sys_path(path, sizeof(path), dev, "partition");
	if (access(path, F_OK) == 0) {
		int err = 0;

		sys_path(path, sizeof(path), dev, "start");
		if (!read_u64(path, &start, &err))
			return err;
		sys_path(path, sizeof(path), dev, "../badblocks");
	} else {
		sys_path(path, sizeof(path), dev, "badblocks");
	}
	f = fopen(path, "re");
	if (!f) /* not a pmem device (or no list): nothing known */
		return out_of_resources(errno) ? -errno : 0;
	while (*n < BB_MAX && fscanf(f, "%llu %llu", &s, &c) == 2) {
		/* the disk's sectors; those before the partition are not ours */
		if (c == 0 || s + c <= start)
			continue;
		if (s < start) {
			c -= start - s;
			s = start;
		}
		if (*n == cap) {
			size_t nc = cap ? 2 * cap : 16;
			struct bb_range *nr = realloc(r, nc * sizeof(*r));
			if (!nr) {
				fclose(f);
				free(r);
				return -ENOMEM;
			}
			r = nr;
			cap = nc;
		}
		r[*n].off = (s - start) * SECTOR;
		r[*n].len = c * SECTOR;
		(*n)++;
	}
	fclose(f);
	*out = r;
	return 0;
}

/* add -- append @off+@len to @l */
static int add(struct bb_list *l, size_t *cap, uint64_t off, uint64_t len)
{
	if (l->n == *cap) {
		size_t nc = *cap ? 2 * *cap : 8;
		struct bb_range *nr = realloc(l->r, nc * sizeof(*nr));
		if (!nr)
			return -ENOMEM;
		l->r = nr;
		*cap = nc;
	}
	l->r[l->n].off = off;
	l->r[l->n].len = len;
	l->n++;
	return 0;
}

/*
 * file_ranges -- intersect the file's extents in [0, @len) with the
 * device's bad ranges @bad (sorted by nothing: few, so a plain scan)
 */
static int file_ranges(int fd, uint64_t len, const struct bb_range *bad,
		       size_t nbad, const char *path, struct bb_list *l)
{
	size_t sz = sizeof(struct fiemap) +
		    FIEMAP_BATCH * sizeof(struct fiemap_extent);
	struct fiemap *fm = malloc(sz);
	uint64_t pos = 0;
	size_t cap = 0;
	int ret = 0;

	if (!fm)
		return daxo__err(-ENOMEM, "%s: out of memory", path);
	while (pos < len) {
		bool last = false;

		memset(fm, 0, sz);
		fm->fm_start = pos;
		fm->fm_length = len - pos;
		fm->fm_flags = FIEMAP_FLAG_SYNC;
		fm->fm_extent_count = FIEMAP_BATCH;
		if (ioctl(fd, FS_IOC_FIEMAP, fm) != 0) {
			ret = daxo__err(-EIO,
					"%s: its device has bad blocks, and where "
					"the file lies on it cannot be read "
					"(FIEMAP: %s)",
					path, strerror(errno));
			break;
		}
		if (fm->fm_mapped_extents == 0)
			break;
		for (unsigned i = 0; i < fm->fm_mapped_extents; i++) {
			const struct fiemap_extent *e = &fm->fm_extents[i];

			last = e->fe_flags & FIEMAP_EXTENT_LAST;
			pos = e->fe_logical + e->fe_length;
			if (e->fe_flags & (FIEMAP_EXTENT_UNKNOWN |
					   FIEMAP_EXTENT_NOT_ALIGNED |
					   FIEMAP_EXTENT_ENCODED))
				continue; /* not plain blocks of the device */
			for (size_t b = 0; b < nbad && !ret; b++) {
				uint64_t lo = bad[b].off, hi = lo + bad[b].len;
				uint64_t plo = e->fe_physical;
				uint64_t phi = plo + e->fe_length;
				if (hi <= plo || lo >= phi)
					continue;
				lo = lo > plo ? lo : plo;
				hi = hi < phi ? hi : phi;
				lo = e->fe_logical + (lo - plo);
				hi = e->fe_logical + (hi - plo);
				if (lo >= len)
					continue;
				if (hi > len)
					hi = len;
				if (add(l, &cap, lo, hi - lo))
					ret = daxo__err(-ENOMEM,
							"%s: out of memory",
							path);
			}
		}
		if (last || ret)
			break;
	}
	free(fm);
	return ret;
}

int badblocks_find(int fd, uint64_t len, const char *path,
		   struct bb_list *out)
{
	struct bb_range *bad;
	struct stat st;
	size_t nbad;
	int ret;

	memset(out, 0, sizeof(*out));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		return 0;
	ret = device_list(st.st_dev, &bad, &nbad);
	if (ret)
		return daxo__err(ret,
				 "%s: cannot read the device's list of bad "
				 "blocks: %s",
				 path, strerror(-ret));
	if (nbad == 0)
		return 0;
	snprintf(out->dev, sizeof(out->dev), "%u:%u", major(st.st_dev),
		 minor(st.st_dev));
	ret = file_ranges(fd, len, bad, nbad, path, out);
	free(bad);
	if (ret) {
		badblocks_free(out);
		return ret;
	}
	out->n = merge(out->r, out->n);
	return 0;
}

void badblocks_free(struct bb_list *l)
{
	free(l->r);
	l->r = NULL;
	l->n = 0;
}

int badblocks_clear(int fd, uint64_t off, uint64_t len, const char *path)
{
	struct stat st;
	uint64_t bs, lo, hi;

	if (fstat(fd, &st) != 0)
		return daxo__err(-errno, "%s: stat: %s", path, strerror(errno));
	bs = st.st_blksize > 0 ? (uint64_t)st.st_blksize : 4096;
	lo = off / bs * bs;
	hi = (off + len + bs - 1) / bs * bs;
	if (hi > (uint64_t)st.st_size)
		hi = (uint64_t)st.st_size;
	/* free the bad blocks, then take fresh ones: zeroed by the fs */
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)lo, (off_t)(hi - lo)) != 0 ||
	    fallocate(fd, 0, (off_t)lo, (off_t)(hi - lo)) != 0 ||
	    fsync(fd) != 0)
		return daxo__err(-errno,
				 "%s: offset %llu: cannot give %llu bytes fresh "
				 "blocks: %s",
				 path, (unsigned long long)lo,
				 (unsigned long long)(hi - lo), strerror(errno));
	return 0;
}

int badblocks_shutdowns(int fd, uint64_t *usc, uint64_t *ids)
{
	char dev[512], path[700], line[128], id[128];
	XXH64_state_t *h;
	unsigned k;
	int ret = -ENOENT, err = 0;

	if (!sys_dev(fd, dev, sizeof(dev)))
		return -ENOENT;
	h = XXH64_createState();
	if (!h)
		return -ENOMEM;
	XXH64_reset(h, 0);
	*usc = 0;
	/* device/.. is the region (of a namespace's block device or of a
	 * device-DAX instance); its mappingK files name the DIMMs */
	for (k = 0; k < 64; k++) {
		uint64_t c;
		size_t nl;
		FILE *f;

		snprintf(path, sizeof(path), "%s/device/../mapping%u", dev, k);
		f = fopen(path, "re");
		if (!f)
			break;
		nl = fgets(line, sizeof(line), f) ? strcspn(line, ",\n") : 0;
		fclose(f);
		line[nl] = '\0';
		if (!nl || strchr(line, '/'))
			goto out;
		snprintf(path, sizeof(path),
			 "%s/device/../../%s/nfit/dirty_shutdown", dev, line);
		if (!read_u64(path, &c, &err))
			goto out; /* this platform does not count (or, err:
				   * it could not be read; as good as not) */
		*usc += c;
		snprintf(path, sizeof(path), "%s/device/../../%s/nfit/id", dev,
			 line);
		f = fopen(path, "re");
		if (f && fgets(id, sizeof(id), f))
			XXH64_update(h, id, strlen(id));
		if (f)
			fclose(f);
	}
	if (k > 0) {
		*ids = XXH64_digest(h);
		ret = 0;
	}
out:
	XXH64_freeState(h);
	return ret;
}
