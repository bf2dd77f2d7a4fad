/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * probe.c -- check_contract.py's proof that the recorder sees what it
 * must: run under it, this program makes daxo_open fail with -ENOENT (to
 * be logged) and daxo_foreach pass on a callback's -EL2HLT (not to be:
 * it is the callback's value, not daxo_foreach's error).
 *
 * usage: probe POOL-PATH
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "daxo.h"

static int stop(const void *key, size_t klen, const void *val, size_t vlen,
		void *arg)
{
	return -EL2HLT;
}

int main(int argc, char **argv)
{
	daxo_pool *p;
	int r;

	if (argc != 2)
		return 2;
	unlink(argv[1]);
	if (daxo_open(argv[1], NULL, 0, &p) != -ENOENT)
		return 1;
	if (daxo_create(argv[1], "probe", DAXO_MIN_POOL_SIZE, 0600, &p))
		return 1;
	r = daxo_put(p, "k", 1, "v", 1);
	if (!r)
		r = daxo_foreach(p, stop, NULL) == -EL2HLT ? 0 : 1;
	daxo_close(p);
	unlink(argv[1]);
	return r;
}
