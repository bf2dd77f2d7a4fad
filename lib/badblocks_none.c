/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * badblocks_none.c -- the backend for systems that report no media errors
 * to user space (see badblocks.h): no file has known bad blocks, and there
 * is nothing to clear.
 */
#include <errno.h>
#include <string.h>

#include "badblocks.h"

int badblocks_find(int fd, uint64_t len, const char *path,
		   struct bb_list *out)
{
	(void)fd;
	(void)len;
	(void)path;
	memset(out, 0, sizeof(*out));
	return 0;
}

void badblocks_free(struct bb_list *l)
{
	l->n = 0;
}

int badblocks_clear(int fd, uint64_t off, uint64_t len, const char *path)
{
	(void)fd;
	(void)off;
	(void)len;
	return daxo__err(-ENOTSUP, "%s: media errors cannot be cleared here",
			 path);
}

int badblocks_shutdowns(int fd, uint64_t *usc, uint64_t *ids)
{
	(void)fd;
	(void)usc;
	(void)ids;
	return -ENOENT;
}
