/* SPDX-License-Identifier: BSD-3-Clause */
/* pmemobj_cxx.cc -- daxo's <libpmemobj.h> in C++ (see use_macros.h) */
#include <cstdio>
#include "use_macros.h"

int main(int argc, char **argv)
{
	/* compiled is the test; run, it only shows the code links */
	if (argc > 1)
		return use_macros(pmemobj_open(argv[1], NULL));
	printf("pmemobj header: C++ build OK\n");
	return 0;
}
