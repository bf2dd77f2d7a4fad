/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * put.c -- `daxo put POOL KEY [VALUE|-]`: insert or replace a key of the
 * pool's keyed store. Without VALUE, or with "-", the value is read from
 * stdin (binary-safe). --hex takes KEY and VALUE as hex digits, for binary
 * keys from the shell. Exit codes (daxo(1)): 0 stored, 1 failure (pool busy,
 * no space, ...), 2 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "daxo.h"
#include "builtin.h"
#include "kvutil.h"

static void put_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: daxo put POOL KEY [VALUE|-] [--hex]\n"
	    "\n"
	    "Store VALUE under KEY in the pool's keyed store, replacing any\n"
	    "value it had; atomically: after a crash the key holds the old\n"
	    "or the new value. Without VALUE or with '-', the value is read\n"
	    "from standard input, byte for byte.\n"
	    "\n"
	    "  -x, --hex    KEY and VALUE are given as hex digits\n"
	    "  -h, --help   this text\n"
	    "\n"
	    "Exit status: 0 ok, 1 failed, 2 usage error.\n");
}

int cmd_put(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"hex", no_argument, NULL, 'x'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct kvu_buf key = {0}, val = {0};
	bool hex = false;
	daxo_pool *p;
	int c, r, ret = 1;

	while ((c = getopt_long(argc, argv, "xh", opts, NULL)) != -1) {
		switch (c) {
		case 'x':
			hex = true;
			break;
		case 'h':
			put_usage(stdout);
			return 0;
		default:
			put_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind < 2 || argc - optind > 3) {
		put_usage(stderr);
		return EXIT_USAGE;
	}
	if (kvu_key_arg("put", argv[optind + 1], hex, &key)) {
		ret = EXIT_USAGE;
		goto out;
	}
	if (argc - optind == 2 || !strcmp(argv[optind + 2], "-")) {
		r = kvu_read_all(stdin, &val);
		if (r) {
			fprintf(stderr, "daxo put: reading stdin: %s\n",
				strerror(-r));
			goto out;
		}
	} else if (hex ? kvu_hex_decode(argv[optind + 2], &val)
		       : kvu_buf_add(&val, argv[optind + 2],
				     strlen(argv[optind + 2]))) {
		fprintf(stderr, "daxo put: bad hex value\n");
		ret = EXIT_USAGE;
		goto out;
	}
	p = kvu_open("put", argv[optind], false);
	if (!p)
		goto out;
	r = daxo_put(p, key.p, key.len, val.p, val.len);
	if (r)
		kvu_err("put", argv[optind], r);
	else
		ret = 0;
	if (daxo_close(p) && !r) {
		kvu_err("put", argv[optind], -EIO);
		ret = 1;
	}
out:
	kvu_buf_free(&key);
	kvu_buf_free(&val);
	return ret;
}
