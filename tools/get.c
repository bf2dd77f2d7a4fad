/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * get.c -- `daxo get POOL KEY`: write the value of KEY, raw, to stdout.
 * The pool is opened read-only (shared lock, nothing changed). --hex takes
 * KEY as hex digits. Exit codes (daxo(1)): 0 ok, 1 failure (no such key,
 * pool unreadable), 2 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daxo.h"
#include "builtin.h"
#include "kvutil.h"

static void get_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: daxo get POOL KEY [--hex]\n"
	    "\n"
	    "Write the value stored under KEY to standard output, byte for\n"
	    "byte (no newline is added). The pool is opened read-only.\n"
	    "\n"
	    "  -x, --hex    KEY is given as hex digits\n"
	    "  -h, --help   this text\n"
	    "\n"
	    "Exit status: 0 ok, 1 failed (e.g. no such key), 2 usage error.\n");
}

int cmd_get(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"hex", no_argument, NULL, 'x'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct kvu_buf key = {0};
	bool hex = false;
	daxo_pool *p;
	char *buf = NULL;
	size_t cap = 4096, vlen = 0;
	int c, r, ret = 1;

	while ((c = getopt_long(argc, argv, "xh", opts, NULL)) != -1) {
		switch (c) {
		case 'x':
			hex = true;
			break;
		case 'h':
			get_usage(stdout);
			return 0;
		default:
			get_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 2) {
		get_usage(stderr);
		return EXIT_USAGE;
	}
	if (kvu_key_arg("get", argv[optind + 1], hex, &key))
		return EXIT_USAGE;
	p = kvu_open("get", argv[optind], true);
	if (!p)
		goto out;
	for (;;) { /* grow the buffer until the whole value fits */
		char *nb = realloc(buf, cap);
		if (!nb) {
			r = -ENOMEM;
			break;
		}
		buf = nb;
		r = daxo_get(p, key.p, key.len, buf, cap, &vlen);
		if (r != -ENOBUFS)
			break;
		cap = vlen;
	}
	if (r == -ENOENT) {
		fprintf(stderr, "daxo get: ");
		kvu_print_escaped(stderr, key.p, key.len);
		fprintf(stderr, ": no such key\n");
	} else if (r) {
		kvu_err("get", argv[optind], r);
	} else if (fwrite(buf, 1, vlen, stdout) != vlen || fflush(stdout)) {
		fprintf(stderr, "daxo get: writing stdout: %s\n",
			strerror(errno));
	} else {
		ret = 0;
	}
	daxo_close(p);
out:
	free(buf);
	kvu_buf_free(&key);
	return ret;
}
