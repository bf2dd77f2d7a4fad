/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mkpool.c -- create an empty pool with a layout name, as
 * "pmempool create obj --layout=NAME FILE" does: PMDK's queue example
 * expects its pool to exist. Built against each libpmemobj the examples
 * are built against (daxo's layer and the system's).
 *
 * usage: mkpool FILE LAYOUT [SIZE]
 */
#include <stdio.h>
#include <stdlib.h>
#include <libpmemobj.h>

int main(int argc, char *argv[])
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s FILE LAYOUT [SIZE]\n", argv[0]);
		return 2;
	}
	size_t size = argc > 3 ? strtoull(argv[3], NULL, 0) : PMEMOBJ_MIN_POOL;
	PMEMobjpool *pop = pmemobj_create(argv[1], argv[2], size, 0600);
	if (!pop) {
		fprintf(stderr, "mkpool: %s: %s\n", argv[1], pmemobj_errormsg());
		return 1;
	}
	pmemobj_close(pop);
	return 0;
}
