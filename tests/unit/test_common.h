/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_common.h -- helpers shared by the C tests: where pools go, unique
 * pool paths, the environment.
 *
 * Every test takes its pool directory from test_dir(): $DAXO_TEST_DIR if
 * set, else /dev/shm (a tmpfs: emulated pmem with PMEM_IS_PMEM_FORCE=1).
 * The QEMU harness points DAXO_TEST_DIR at its DAX mount; the shell tests
 * do the same with ${DAXO_TEST_DIR:-/dev/shm}. Names carry the pid: other
 * runs of the suites share the machine.
 */
#ifndef DAXO_TEST_COMMON_H
#define DAXO_TEST_COMMON_H 1

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* test_dir -- the directory tests put their pools in */
static inline const char *test_dir(void)
{
	const char *dir = getenv("DAXO_TEST_DIR");

	return dir && *dir ? dir : "/dev/shm";
}

/*
 * test_path -- @buf = test_dir() "/" and @fmt formatted; a path that does
 * not fit in @len ends the test program (exit 1) rather than truncating
 */
static inline __attribute__((format(printf, 3, 4))) char *
test_path(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(buf, len, "%s/", test_dir()), m;

	if (n < 0 || (size_t)n >= len)
		goto toolong;
	va_start(ap, fmt);
	m = vsnprintf(buf + n, len - (size_t)n, fmt, ap);
	va_end(ap);
	if (m >= 0 && (size_t)m < len - (size_t)n)
		return buf;
toolong:
	fprintf(stderr, "test_path: a pool path under %s does not fit in %zu "
			"bytes (DAXO_TEST_DIR too long?)\n",
		test_dir(), len);
	exit(1);
}

static inline const char *test_pool_path(const char *tag)
{
	static char buf[4][256];
	static int n;
	char *b = buf[n++ % 4];

	test_path(b, 256, "daxo-test-%s-%d.pool", tag, (int)getpid());
	unlink(b);
	return b;
}

/*
 * test_utf8_valid -- @n bytes at @s are UTF-8 as RFC 3629 defines it: no
 * overlong forms, no surrogates, nothing above U+10FFFF. Written apart from
 * daemon/proto.c's decoder on purpose: the daemon tests judge that code
 * with it. (glibc's iconv would not do: it takes F4 90 80 80, > U+10FFFF.)
 */
static inline int test_utf8_valid(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; i < n;) {
		unsigned c = u[i], len, lo = 0x80, hi = 0xbf;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			len = 2;
		else if (c >= 0xe0 && c <= 0xef)
			len = 3;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 4;
		else
			return 0;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
		else if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
		if (i + len > n || u[i + 1] < lo || u[i + 1] > hi)
			return 0;
		for (unsigned k = 2; k < len; k++)
			if (u[i + k] < 0x80 || u[i + k] > 0xbf)
				return 0;
		i += len;
	}
	return 1;
}

static inline void test_env(void)
{
	/* emulated pmem: real CLWB/SFENCE on an ordinary file */
	if (!getenv("PMEM_IS_PMEM_FORCE"))
		setenv("PMEM_IS_PMEM_FORCE", "1", 1);
	setenv("DAXO_NOTIFY", "0", 0);
}

#ifdef DAXO_H
/*
 * test_pool_root -- create (@create) or open the pool at @path with layout
 * @layout and a root of @root_size bytes (made zeroed if new): the handle,
 * and the root's address in *@root; aborts the test on failure
 */
static inline daxo_pool *test_pool_root(const char *path, const char *layout,
					bool create, uint64_t size,
					uint64_t root_size, void **root)
{
	daxo_pool *p;
	daxo_oid ro;
	int ret = create ? daxo_create(path, layout, size, 0600, &p)
			 : daxo_open(path, layout, 0, &p);

	if (ret || daxo_root(p, root_size, &ro)) {
		fprintf(stderr, "test_pool_root: %s: %s\n", path,
			daxo_errormsg());
		abort();
	}
	*root = daxo_direct(p, ro);
	return p;
}
#endif

#endif
