/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ex_common.h -- what PMDK's tree_map examples (ctree_map.c) take from
 * PMDK's src/examples/ex_common.h, which Debian's libpmemobj-dev does not
 * ship: daxo-treemap compiles the examples from
 * /usr/share/doc/libpmemobj-dev/examples with this directory on the include
 * path. Written for daxo, not copied.
 */
#ifndef DAXO_BENCH_EX_COMMON_H
#define DAXO_BENCH_EX_COMMON_H 1

#include <stdint.h>

/* find_last_set_64 -- index of the most significant set bit (@val != 0) */
static inline int find_last_set_64(uint64_t val)
{
	return 63 - __builtin_clzll(val);
}

#endif
