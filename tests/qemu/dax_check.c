/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dax_check.c -- run inside the QEMU guest: does a pool on real (emulated)
 * DAX really get what daxo promises there?
 *
 *   dax_check fsdax DIR        a pool file on an ext4 -o dax mount
 *   dax_check devdax DEV       a pool on a device-DAX node (/dev/dax0.0)
 *   dax_check create-only PATH create a 16 MiB pool and close it
 *   dax_check devdax-exists DEV  the pool "devdax" left is still there
 *   dax_check wipe DEV         zero the first 2 MiB of a device-DAX node
 *   dax_check hold PATH READY  create a pool, write every page, reopen it,
 *                              write every page again, create the file
 *                              READY, then sleep until killed
 *
 * Checked for fsdax: pmem_is_pmem true without PMEM_IS_PMEM_FORCE, statx
 * reports STATX_ATTR_DAX, the mapping carries VmFlags "sf" (MAP_SYNC) in
 * /proc/self/smaps, is 2 MiB aligned, and daxo_pool_info agrees with all of
 * that; data written and persisted through the mapping is there after a
 * close and reopen. For devdax: daxo_create with size 0 takes the whole
 * device, daxo_pool_info reports is_devdax/is_pmem, the data survives a
 * reopen, and creating over an existing pool is refused.
 *
 * Each failed check prints "FAIL: ..."; the exit code is 0 if all passed,
 * 1 otherwise, 77 (with "SKIP: reason") if the check cannot run.
 */
#include <errno.h>
#include <fcntl.h>
#include <libpmem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "daxo.h"

#ifndef STATX_ATTR_DAX
#define STATX_ATTR_DAX 0x00200000
#endif

#define MiB	  (1ull << 20)
#define ROOT_SIZE (4 * MiB)

static int failures;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (cond) {                                                    \
			printf("ok:   %s (", #cond);                           \
			printf(__VA_ARGS__);                                   \
			printf(")\n");                                         \
		} else {                                                       \
			printf("FAIL: %s: ", #cond);                           \
			printf(__VA_ARGS__);                                   \
			printf("\n");                                          \
			failures++;                                            \
		}                                                              \
	} while (0)

/* smaps_vmflags -- the VmFlags line of the mapping that contains @addr */
static int smaps_vmflags(const void *addr, char *out, size_t cap)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	unsigned long lo, hi;
	int in = 0, found = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *dash = strchr(line, '-'), *sp = strchr(line, ' ');
		if (dash && sp && dash < sp &&
		    sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
			in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
			continue;
		}
		if (in && strncmp(line, "VmFlags:", 8) == 0) {
			snprintf(out, cap, "%s", line + 8);
			out[strcspn(out, "\n")] = '\0';
			found = 0;
			break;
		}
	}
	fclose(f);
	return found;
}

static int has_flag(const char *flags, const char *flag)
{
	char buf[600];

	snprintf(buf, sizeof(buf), " %s ", flags);
	char want[8];
	snprintf(want, sizeof(want), " %s ", flag);
	return strstr(buf, want) != NULL;
}

static int statx_dax(const char *path, int *dax)
{
	struct statx stx;

	if (statx(AT_FDCWD, path, 0, STATX_BASIC_STATS, &stx) != 0)
		return -errno;
	if (!(stx.stx_attributes_mask & STATX_ATTR_DAX))
		return -EOPNOTSUPP;
	*dax = (stx.stx_attributes & STATX_ATTR_DAX) != 0;
	return 0;
}

static void fill(unsigned char *buf, size_t len, uint64_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;

	for (size_t i = 0; i < len; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(buf + i, &x, 8);
	}
}

/* write_root -- fill the root object with a pattern and persist it */
static int write_root(daxo_pool *p, uint64_t seed)
{
	daxo_oid oid;
	int ret = daxo_root(p, ROOT_SIZE, &oid);

	CHECK(ret == 0, "daxo_root: %d %s", ret, daxo_errormsg());
	if (ret)
		return ret;
	unsigned char *r = daxo_direct(p, oid);
	CHECK(r != NULL, "daxo_direct(root) is NULL");
	if (!r)
		return -EINVAL;
	fill(r, ROOT_SIZE, seed);
	daxo_persist(p, r, ROOT_SIZE);

	struct daxo_stats st;
	CHECK(daxo_stats(p, &st) == 0 && st.fences > 0 && st.flushes > 0,
	      "daxo_persist counted no fences/flushes");
	return 0;
}

static void verify_root(daxo_pool *p, uint64_t seed)
{
	daxo_oid oid;
	int ret = daxo_root(p, 0, &oid);

	CHECK(ret == 0, "daxo_root lookup after reopen: %d %s", ret,
	      daxo_errormsg());
	if (ret)
		return;
	unsigned char *want = malloc(ROOT_SIZE);
	const void *r = daxo_direct(p, oid);
	if (!want || !r) {
		CHECK(0, "no memory or no root");
		free(want);
		return;
	}
	fill(want, ROOT_SIZE, seed);
	CHECK(memcmp(r, want, ROOT_SIZE) == 0,
	      "root object differs after close and reopen");
	free(want);
}

/* check_mapping -- the facts about the mapping, from daxo and from the OS */
static void check_mapping(daxo_pool *p, const char *path, int devdax)
{
	struct daxo_info info;
	char flags[512] = "";

	CHECK(daxo_pool_info(p, &info) == 0, "daxo_pool_info failed");
	printf("info: size=%llu base=%p is_pmem=%d is_dax=%d map_sync=%d "
	       "is_devdax=%d\n",
	       (unsigned long long)info.size, info.base, info.is_pmem,
	       info.is_dax, info.map_sync, info.is_devdax);
	CHECK(info.is_pmem == 1, "daxo_info.is_pmem is %d", info.is_pmem);
	CHECK(info.is_dax == 1, "daxo_info.is_dax is %d", info.is_dax);
	CHECK(info.is_devdax == devdax, "daxo_info.is_devdax is %d",
	      info.is_devdax);
	CHECK(info.map_sync == 1, "daxo_info.map_sync is %d", info.map_sync);
	CHECK(pmem_is_pmem(info.base, info.size) == 1,
	      "libpmem's pmem_is_pmem is false for the pool mapping");
	CHECK((uintptr_t)info.base % (2 * MiB) == 0,
	      "mapping at %p is not 2 MiB aligned", info.base);

	int r = smaps_vmflags(info.base, flags, sizeof(flags));
	CHECK(r == 0, "no smaps entry for %p", info.base);
	printf("smaps VmFlags:%s\n", flags);
	if (!devdax) {
		int dax = -1;
		r = statx_dax(path, &dax);
		CHECK(r == 0 && dax == 1, "statx STATX_ATTR_DAX: ret %d dax %d",
		      r, dax);
		CHECK(has_flag(flags, "sf"),
		      "VmFlags of the pool mapping lack \"sf\" (MAP_SYNC)");
	} else {
		/* device DAX is synchronous by construction; libpmem maps it
		 * MAP_SHARED, so "sf" may or may not be there */
		CHECK(has_flag(flags, "sh"), "devdax mapping is not shared");
	}
}

static int fsdax(const char *dir)
{
	char path[4096];
	daxo_pool *p = NULL;
	struct daxo_info a, b;
	int ret;

	snprintf(path, sizeof(path), "%s/dax_check.pool", dir);
	unlink(path);
	ret = daxo_create(path, "qemu-fsdax", 32 * MiB, 0600, &p);
	CHECK(ret == 0, "daxo_create %s: %d %s", path, ret, daxo_errormsg());
	if (ret)
		return 1;
	check_mapping(p, path, 0);
	daxo_pool_info(p, &a);
	CHECK(a.size == 32 * MiB, "size %llu", (unsigned long long)a.size);
	write_root(p, 42);

	daxo_pool *q = NULL;
	ret = daxo_open(path, "qemu-fsdax", 0, &q);
	CHECK(ret == -EBUSY, "second open: %d (want -EBUSY)", ret);
	if (ret == 0)
		daxo_close(q);
	CHECK(daxo_close(p) == 0, "daxo_close: %s", daxo_errormsg());

	ret = daxo_open(path, "qemu-fsdax", 0, &p);
	CHECK(ret == 0, "reopen: %d %s", ret, daxo_errormsg());
	if (ret)
		return 1;
	check_mapping(p, path, 0);
	daxo_pool_info(p, &b);
	CHECK(memcmp(a.uuid, b.uuid, 16) == 0, "uuid changed across reopen");
	verify_root(p, 42);
	daxo_close(p);
	unlink(path);
	return failures ? 1 : 0;
}

static int devdax(const char *dev)
{
	struct stat st;
	daxo_pool *p = NULL, *q = NULL;
	struct daxo_info a, b;
	unsigned long long devsize = 0;
	char spath[128];
	int ret;

	if (stat(dev, &st) != 0 || !S_ISCHR(st.st_mode)) {
		printf("SKIP: %s is not a character device\n", dev);
		return 77;
	}
	snprintf(spath, sizeof(spath), "/sys/dev/char/%u:%u/size",
		 major(st.st_rdev), minor(st.st_rdev));
	FILE *f = fopen(spath, "re");
	if (f) {
		if (fscanf(f, "%llu", &devsize) != 1)
			devsize = 0;
		fclose(f);
	}
	printf("device %s: %llu bytes (%s)\n", dev, devsize, spath);

	ret = daxo_create(dev, "qemu-devdax", 0, 0600, &p);
	CHECK(ret == 0, "daxo_create %s size 0: %d %s", dev, ret,
	      daxo_errormsg());
	if (ret)
		return 1;
	check_mapping(p, dev, 1);
	daxo_pool_info(p, &a);
	CHECK(a.size == (devsize & ~(2 * MiB - 1)),
	      "pool size %llu, device %llu", (unsigned long long)a.size,
	      devsize);
	write_root(p, 7);

	ret = daxo_create(dev, "qemu-devdax", 0, 0600, &q);
	CHECK(ret == -EBUSY || ret == -EEXIST,
	      "create while open: %d (want -EBUSY or -EEXIST) %s", ret,
	      daxo_errormsg());
	if (ret == 0)
		daxo_close(q);
	CHECK(daxo_close(p) == 0, "daxo_close: %s", daxo_errormsg());

	ret = daxo_create(dev, "qemu-devdax", 0, 0600, &q);
	CHECK(ret == -EEXIST, "create over an existing pool: %d (want -EEXIST)",
	      ret);
	if (ret == 0)
		daxo_close(q);
	ret = daxo_create(dev, "qemu-devdax", 16 * MiB, 0600, &q);
	CHECK(ret == -EINVAL,
	      "create with a size that is not the device's: "
	      "%d (want -EINVAL)",
	      ret);
	if (ret == 0)
		daxo_close(q);
	ret = daxo_open(dev, "qemu-devdax", DAXO_RDONLY, &q);
	CHECK(ret == -EINVAL || ret == 0,
	      "read-only open of devdax: %d (want -EINVAL, or 0 if supported)",
	      ret);
	if (ret == 0)
		daxo_close(q);

	ret = daxo_open(dev, "qemu-devdax", 0, &p);
	CHECK(ret == 0, "reopen: %d %s", ret, daxo_errormsg());
	if (ret)
		return 1;
	check_mapping(p, dev, 1);
	daxo_pool_info(p, &b);
	CHECK(memcmp(a.uuid, b.uuid, 16) == 0, "uuid changed across reopen");
	CHECK(b.size == a.size, "size changed across reopen");
	verify_root(p, 7);
	daxo_close(p);
	return failures ? 1 : 0;
}

static int create_only(const char *path)
{
	daxo_pool *p;
	int ret = daxo_create(path, "qemu-info", 16 * MiB, 0600, &p);

	if (ret) {
		printf("FAIL: daxo_create %s: %s\n", path, daxo_errormsg());
		return 1;
	}
	return daxo_close(p) ? 1 : 0;
}

/* touch -- write one byte in every 4 KiB page past the first 2 MiB */
static void touch(const struct daxo_info *info)
{
	/* a write fault on every page, the pool's bytes left as they are
	 * (any layout: lanes and heap metadata lie past 2 MiB in 1.1) */
	for (uint64_t off = 2 * MiB; off < info->size; off += 4096) {
		volatile char *c = (volatile char *)info->base + off;
		*c = *c;
	}
}

/*
 * hold -- a pool whose every page has been written, kept mapped. The first
 * pass writes into freshly allocated (unwritten) extents, where the kernel
 * falls back from PMD to PTE faults; after a close and reopen the second
 * pass faults on written extents, which can be mapped 2 MiB at a time.
 */
static int hold(const char *path, const char *ready)
{
	daxo_pool *p;
	struct daxo_info info;
	int ret = daxo_create(path, "qemu-hold", 64 * MiB, 0600, &p);

	if (ret) {
		printf("FAIL: daxo_create %s: %s\n", path, daxo_errormsg());
		return 1;
	}
	daxo_pool_info(p, &info);
	touch(&info);
	daxo_close(p);
	ret = daxo_open(path, "qemu-hold", 0, &p);
	if (ret) {
		printf("FAIL: daxo_open %s: %s\n", path, daxo_errormsg());
		return 1;
	}
	daxo_pool_info(p, &info);
	/* a monitor learns of the pool by registration or its next scan of
	 * /proc: give it that time before the faults it should see */
	sleep(3);
	touch(&info);
	printf("hold: %s touched twice, base %p\n", path, info.base);
	fflush(stdout);
	int fd = open(ready, O_CREAT | O_WRONLY, 0644);
	if (fd >= 0)
		close(fd);
	sleep(300);
	daxo_close(p);
	return 0;
}

/*
 * devdax_exists -- the pool an earlier `dax_check devdax` left on the device
 * (seed 7) is still there after the namespace was reconfigured: create is
 * refused, open works and the data is intact.
 */
static int devdax_exists(const char *dev)
{
	daxo_pool *p = NULL;
	int ret = daxo_create(dev, "qemu-devdax", 0, 0600, &p);

	CHECK(ret == -EEXIST, "create over an existing pool: %d (want -EEXIST)",
	      ret);
	if (ret == 0)
		daxo_close(p);
	ret = daxo_open(dev, "qemu-devdax", 0, &p);
	CHECK(ret == 0, "open of the existing pool: %d %s", ret,
	      daxo_errormsg());
	if (ret)
		return 1;
	check_mapping(p, dev, 1);
	verify_root(p, 7);
	daxo_close(p);
	return failures ? 1 : 0;
}

/*
 * wipe -- zero the first 2 MiB of a device-DAX node (where a pool's headers
 * are). Reconfiguring a namespace keeps its data, and daxo_create rightly
 * refuses a device that holds a pool.
 */
static int wipe(const char *dev)
{
	size_t len = 0;
	int is_pmem = 0;
	void *a = pmem_map_file(dev, 0, 0, 0, &len, &is_pmem);

	if (!a) {
		printf("FAIL: pmem_map_file %s: %s\n", dev, pmem_errormsg());
		return 1;
	}
	pmem_memset_persist(a, 0, len < 2 * MiB ? len : 2 * MiB);
	pmem_unmap(a, len);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr,
			"usage: dax_check fsdax DIR | devdax DEV | "
			"create-only PATH | hold PATH READY | wipe DEV\n");
		return 2;
	}
	if (getenv("PMEM_IS_PMEM_FORCE")) {
		printf("FAIL: PMEM_IS_PMEM_FORCE is set; this check is about "
		       "real DAX\n");
		return 1;
	}
	if (!strcmp(argv[1], "fsdax"))
		return fsdax(argv[2]);
	if (!strcmp(argv[1], "devdax"))
		return devdax(argv[2]);
	if (!strcmp(argv[1], "devdax-exists"))
		return devdax_exists(argv[2]);
	if (!strcmp(argv[1], "wipe"))
		return wipe(argv[2]);
	if (!strcmp(argv[1], "create-only"))
		return create_only(argv[2]);
	if (!strcmp(argv[1], "hold") && argc > 3)
		return hold(argv[2], argv[3]);
	fprintf(stderr, "dax_check: unknown mode %s\n", argv[1]);
	return 2;
}
