/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * del.c -- `daxo del POOL KEY`: remove KEY from the pool's keyed store,
 * atomically. --hex takes KEY as hex digits. Exit codes (daxo(1)): 0
 * removed, 1 failure (no such key, pool busy), 2 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "daxo.h"
#include "builtin.h"
#include "kvutil.h"

static void del_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: daxo del POOL KEY [--hex]\n"
	    "\n"
	    "Remove KEY and its value from the pool's keyed store.\n"
	    "\n"
	    "  -x, --hex    KEY is given as hex digits\n"
	    "  -h, --help   this text\n"
	    "\n"
	    "Exit status: 0 ok, 1 failed (e.g. no such key), 2 usage error.\n");
}

int cmd_del(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"hex", no_argument, NULL, 'x'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct kvu_buf key = {0};
	bool hex = false;
	daxo_pool *p;
	int c, r, ret = 1;

	while ((c = getopt_long(argc, argv, "xh", opts, NULL)) != -1) {
		switch (c) {
		case 'x':
			hex = true;
			break;
		case 'h':
			del_usage(stdout);
			return 0;
		default:
			del_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 2) {
		del_usage(stderr);
		return EXIT_USAGE;
	}
	if (kvu_key_arg("del", argv[optind + 1], hex, &key))
		return EXIT_USAGE;
	p = kvu_open("del", argv[optind], false);
	if (p) {
		r = daxo_del(p, key.p, key.len);
		if (r == -ENOENT) {
			fprintf(stderr, "daxo del: ");
			kvu_print_escaped(stderr, key.p, key.len);
			fprintf(stderr, ": no such key\n");
		} else if (r) {
			kvu_err("del", argv[optind], r);
		} else {
			ret = 0;
		}
		if (daxo_close(p) && !r)
			ret = 1;
	}
	kvu_buf_free(&key);
	return ret;
}
