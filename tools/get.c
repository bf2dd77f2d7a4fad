/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * get.c -- `daxo get POOL KEY`: write the value of KEY, raw, to stdout.
 * The pool is opened read-only (shared lock, nothing changed). --hex takes
 * KEY as hex digits.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daxo.h"
#include "builtin.h"
#include "kvutil.h"

static bool hex;

static const struct opt get_opts[] = {
    OPT_BOOL('x', "hex", &hex, "KEY is given as hex digits"),
    OPT_END(),
};

static int get_run(int argc, char **argv)
{
	struct kvu_buf key = {0};
	daxo_pool *p;
	char *buf = NULL;
	size_t cap = 0, vlen = 0;
	int r, ret = 1;

	(void)argc;
	if (kvu_key_arg("get", argv[1], hex, &key))
		return EXIT_USAGE;
	p = kvu_open("get", argv[0], true);
	if (!p)
		goto out;
	r = kvu_get(p, key.p, key.len, &buf, &cap, &vlen);
	if (r == -ENOENT)
		kvu_no_key("get", &key);
	else if (r)
		tool_err("get", argv[0], r);
	else if (fwrite(buf, 1, vlen, stdout) != vlen || fflush(stdout))
		tool_errno("get", "writing stdout", errno);
	else
		ret = 0;
	daxo_close(p);
out:
	free(buf);
	kvu_buf_free(&key);
	return ret;
}

const struct cmd cmd_get = {
    .name = "get",
    .summary = "print the value of a key",
    .synopsis = "POOL KEY [--hex]",
    .about = "Write the value stored under KEY to standard output, byte for\n"
	     "byte (no newline is added). The pool is opened read-only.\n",
    .args = "POOL KEY",
    .min_args = 2,
    .max_args = 2,
    .opts = get_opts,
    .exits = "0 ok, 1 failed (e.g. no such key), 2 usage error.",
    .run = get_run,
};
