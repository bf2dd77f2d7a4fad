/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sync_count.c -- count the calls that ask the kernel to make file data
 * durable (fsync, fdatasync, msync, sync_file_range, syncfs), per thread,
 * for every library in the process.
 *
 * The stores that write through files (LMDB, RocksDB) make an update
 * durable with one of these calls; counting them per operation shows that
 * every update of a benchmark row was made durable before it returned, as
 * daxo's and libpmemobj's fences per operation do for them. The executable
 * defines functions of these names and exports them (--export-dynamic), so
 * the libraries' calls bind here first; each wrapper counts, then calls the
 * C library's function, found with dlsym(RTLD_NEXT).
 *
 * Counters are per thread and plain: the runner reads them on the thread
 * that ran the work, so a library's background threads (RocksDB's flushes
 * and compactions) are not counted -- only syncs on the caller's path.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"

static __thread uint64_t tls_syncs;

#define REAL(name)                                                             \
	static __typeof__(name) *real_##name;                                  \
	if (__builtin_expect(real_##name == NULL, 0))                          \
		real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name);

int fsync(int fd)
{
	REAL(fsync);
	tls_syncs++;
	return real_fsync(fd);
}

int fdatasync(int fd)
{
	REAL(fdatasync);
	tls_syncs++;
	return real_fdatasync(fd);
}

int msync(void *addr, size_t len, int flags)
{
	REAL(msync);
	if (flags & MS_SYNC)
		tls_syncs++;
	return real_msync(addr, len, flags);
}

int sync_file_range(int fd, off_t off, off_t n, unsigned int flags)
{
	REAL(sync_file_range);
	if (flags & SYNC_FILE_RANGE_WAIT_AFTER)
		tls_syncs++;
	return real_sync_file_range(fd, off, n, flags);
}

int syncfs(int fd)
{
	REAL(syncfs);
	tls_syncs++;
	return real_syncfs(fd);
}

uint64_t sync_count_get(void)
{
	return tls_syncs;
}
