/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_common.h -- helpers shared by the cmocka tests: unique pool paths on
 * /dev/shm (emulated pmem) and cleanup.
 */
#ifndef DAXO_TEST_COMMON_H
#define DAXO_TEST_COMMON_H 1

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline const char *test_pool_path(const char *tag)
{
	static char buf[4][256];
	static int n;
	char *b = buf[n++ % 4];
	const char *dir = getenv("DAXO_TEST_DIR");

	snprintf(b, 256, "%s/daxo-test-%s-%d.pool", dir ? dir : "/dev/shm", tag,
		 (int)getpid());
	unlink(b);
	return b;
}

static inline void test_env(void)
{
	/* emulated pmem: real CLWB/SFENCE on an ordinary file */
	if (!getenv("PMEM_IS_PMEM_FORCE"))
		setenv("PMEM_IS_PMEM_FORCE", "1", 1);
	setenv("DAXO_NOTIFY", "0", 0);
}

#endif
