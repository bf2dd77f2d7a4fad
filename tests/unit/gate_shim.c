/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * gate_shim.c -- test-only LD_PRELOAD library: holds a process at its
 * first posix_fallocate, so that a test can look at a pool while another
 * process is creating it (daxo_create sizes the new file with it); or
 * just after its first mapping of a large file, or before its first large
 * read, so that a test can change a file under a process using it.
 *
 * With $DAXO_TEST_GATE set to a directory, the first posix_fallocate (or
 * posix_fallocate64) creates DIR/entered and waits until DIR/go exists
 * (at most 30 s), then does the real call. With $DAXO_TEST_GATE_MMAP, the
 * first mmap (or mmap64) of a file descriptor for 1 MiB or more does the
 * real call, then waits the same way; with $DAXO_TEST_GATE_READ, the first
 * read of 1 MiB or more waits before the real call. Without them, calls
 * pass through.
 */
/* both names defined here: neither may be redirected to the other */
#undef _FILE_OFFSET_BITS
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

int posix_fallocate64(int fd, off_t off, off_t len);

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off);

static void wait_at(const char *var, int *done)
{
	const char *dir = getenv(var);
	char in[4096], go[4096];
	struct timespec ms = {0, 10 * 1000 * 1000};
	int fd;

	if (!dir || *done)
		return;
	*done = 1;
	snprintf(in, sizeof(in), "%s/entered", dir);
	snprintf(go, sizeof(go), "%s/go", dir);
	fd = open(in, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
	for (int i = 0; i < 3000 && access(go, F_OK) != 0; i++)
		nanosleep(&ms, NULL);
}

static void gate(void)
{
	static int done;

	wait_at("DAXO_TEST_GATE", &done);
}

static void gate_mapped(int fd, size_t len)
{
	static int done;

	if (fd >= 0 && len >= (1u << 20))
		wait_at("DAXO_TEST_GATE_MMAP", &done);
}

static int real(const char *name, int fd, off_t off, off_t len)
{
	int (*fn)(int, off_t, off_t) =
	    (int (*)(int, off_t, off_t))dlsym(RTLD_NEXT, name);

	return fn ? fn(fd, off, len) : ENOSYS;
}

int posix_fallocate(int fd, off_t off, off_t len)
{
	gate();
	return real("posix_fallocate", fd, off, len);
}

int posix_fallocate64(int fd, off_t off, off_t len)
{
	gate();
	return real("posix_fallocate64", fd, off, len);
}

typedef void *(*mmap_fn)(void *, size_t, int, int, int, off_t);

static void *real_mmap(const char *name, void *addr, size_t len, int prot,
		       int flags, int fd, off_t off)
{
	mmap_fn fn = (mmap_fn)dlsym(RTLD_NEXT, name);

	if (!fn) {
		errno = ENOSYS;
		return MAP_FAILED;
	}
	return fn(addr, len, prot, flags, fd, off);
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *a = real_mmap("mmap", addr, len, prot, flags, fd, off);

	if (a != MAP_FAILED)
		gate_mapped(fd, len);
	return a;
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *a = real_mmap("mmap64", addr, len, prot, flags, fd, off);

	if (a != MAP_FAILED)
		gate_mapped(fd, len);
	return a;
}

ssize_t read(int fd, void *buf, size_t len)
{
	static int done;
	typedef ssize_t (*read_fn)(int, void *, size_t);
	read_fn fn = (read_fn)dlsym(RTLD_NEXT, "read");

	if (len >= (1u << 20))
		wait_at("DAXO_TEST_GATE_READ", &done);
	if (!fn) {
		errno = ENOSYS;
		return -1;
	}
	return fn(fd, buf, len);
}
