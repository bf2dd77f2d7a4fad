/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ex_common.h -- what PMDK's example programs expect from the PMDK source
 * tree's own ex_common.h, which Debian does not ship: written for daxo's
 * compat test suite (tests/compat), the same for both builds of each
 * example (on daxo's layer and on the system's libpmemobj).
 */
#ifndef DAXO_TEST_EX_COMMON_H
#define DAXO_TEST_EX_COMMON_H 1

#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

/* permissions of the pools the examples create */
#define CREATE_MODE_RW (S_IWUSR | S_IRUSR)

#ifndef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#endif
#ifndef MAX
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#endif

/* file_exists -- 0 if @path exists (as access(2) returns) */
static inline int file_exists(const char *path)
{
	return access(path, F_OK);
}

/* find_last_set_64 -- the index of the highest bit set in @v (v != 0) */
static inline unsigned char find_last_set_64(uint64_t v)
{
	return (unsigned char)(63 - __builtin_clzll(v));
}

#endif
