/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * put.c -- `daxo put POOL KEY [VALUE|-]`: insert or replace a key of the
 * pool's keyed store. Without VALUE, or with "-", the value is read from
 * stdin (binary-safe). --hex takes KEY and VALUE as hex digits, for binary
 * keys from the shell.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "daxo.h"
#include "builtin.h"
#include "kvutil.h"

static bool hex;

static const struct opt put_opts[] = {
    OPT_BOOL('x', "hex", &hex, "KEY and VALUE are given as hex digits"),
    OPT_END(),
};

static int put_run(int argc, char **argv)
{
	struct kvu_buf key = {0}, val = {0};
	daxo_pool *p;
	int r, ret = 1;

	if (kvu_key_arg("put", argv[1], hex, &key)) {
		ret = EXIT_USAGE;
		goto out;
	}
	if (argc == 3 && strcmp(argv[2], "-") &&
	    (hex ? kvu_hex_decode(argv[2], &val)
		 : kvu_buf_add(&val, argv[2], strlen(argv[2])))) {
		fprintf(stderr, "daxo put: bad hex value\n");
		ret = EXIT_USAGE;
		goto out;
	}
	if (argc == 2 || !strcmp(argv[2], "-")) {
		/* no more than the pool file holds; read before the pool is
		 * opened, so that `daxo get P a | daxo put P b -` works */
		struct stat st;
		uint64_t max = DAXO_MAX_POOL_SIZE;

		if (stat(argv[0], &st) == 0 && S_ISREG(st.st_mode))
			max = (uint64_t)st.st_size;
		r = kvu_read_all(stdin, &val, max);
		if (r == -EFBIG)
			fprintf(stderr,
				"daxo put: the value on standard input is "
				"larger than %s (%llu bytes): nothing stored\n",
				argv[0], (unsigned long long)max);
		else if (r)
			tool_errno("put", "reading standard input", -r);
		if (r)
			goto out;
	}
	p = kvu_open("put", argv[0], false);
	if (!p)
		goto out;
	r = daxo_put(p, key.p, key.len, val.p, val.len);
	if (r)
		tool_err("put", argv[0], r);
	else
		ret = 0;
	if (daxo_close(p) && !r) {
		tool_err("put", argv[0], -EIO);
		ret = 1;
	}
out:
	kvu_buf_free(&key);
	kvu_buf_free(&val);
	return ret;
}

const struct cmd cmd_put = {
    .name = "put",
    .summary = "store a value under a key",
    .synopsis = "POOL KEY [VALUE|-] [--hex]",
    .about = "Store VALUE under KEY in the pool's keyed store, replacing any\n"
	     "value it had; atomically: after a crash the key holds the old\n"
	     "or the new value. Without VALUE or with '-', the value is read\n"
	     "from standard input, byte for byte.\n",
    .args = "POOL KEY VALUE",
    .min_args = 2,
    .max_args = 3,
    .opts = put_opts,
    .exits = "0 ok, 1 failed, 2 usage error.",
    .run = put_run,
};
