/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * del.c -- `daxo del POOL KEY`: remove KEY from the pool's keyed store,
 * atomically. --hex takes KEY as hex digits.
 */
#include <errno.h>
#include <stdio.h>

#include "daxo.h"
#include "builtin.h"
#include "kvutil.h"

static bool hex;

static const struct opt del_opts[] = {
    OPT_BOOL('x', "hex", &hex, "KEY is given as hex digits"),
    OPT_END(),
};

static int del_run(int argc, char **argv)
{
	struct kvu_buf key = {0};
	daxo_pool *p;
	int r, ret = 1;

	(void)argc;
	if (kvu_key_arg("del", argv[1], hex, &key))
		return EXIT_USAGE;
	p = kvu_open("del", argv[0], false);
	if (p) {
		r = daxo_del(p, key.p, key.len);
		if (r == -ENOENT)
			kvu_no_key("del", &key);
		else if (r)
			tool_err("del", argv[0], r);
		else
			ret = 0;
		if (daxo_close(p) && !r)
			ret = 1;
	}
	kvu_buf_free(&key);
	return ret;
}

const struct cmd cmd_del = {
    .name = "del",
    .summary = "remove a key",
    .synopsis = "POOL KEY [--hex]",
    .about = "Remove KEY and its value from the pool's keyed store.\n",
    .args = "POOL KEY",
    .min_args = 2,
    .max_args = 2,
    .opts = del_opts,
    .exits = "0 ok, 1 failed (e.g. no such key), 2 usage error.",
    .run = del_run,
};
