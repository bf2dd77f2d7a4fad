/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * create.c -- `daxo create POOL --size SIZE [--layout NAME] [--mode OCTAL]`.
 *
 * Creates a pool with daxo_create() and closes it again. The size takes
 * K/M/G/T suffixes (powers of 1024) and is rounded up to 2 MiB by the
 * library; for a device-DAX node (/dev/daxX.Y) it may be omitted to use the
 * whole device. Exit codes (daxo(1)): 0 created, 1 the library refused or
 * failed (the message says why), 2 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "daxo.h"
#include "builtin.h"
#include "util.h"

static const char create_help[] =
    "usage: daxo create POOL --size SIZE [--layout NAME] [--mode OCTAL]\n"
    "                        [--quiet]\n"
    "\n"
    "Create a daxo pool. POOL is a new file (it must not exist) or a\n"
    "device-DAX node such as /dev/dax0.0.\n"
    "\n"
    "  -s, --size SIZE    pool size in bytes; K, M, G, T are powers of\n"
    "                     1024; rounded up to 2 MiB; at least 8M. May be\n"
    "                     omitted for a device-DAX node (whole device).\n"
    "  -l, --layout NAME  layout name every open must give (at most\n"
    "                     " STR(
	DAXO_LAYOUT_MAX) " bytes; default: empty)\n"
			 "  -m, --mode OCTAL   permissions of a new file "
			 "(default 0644, minus\n"
			 "                     the umask)\n"
			 "  -q, --quiet        print nothing on success\n"
			 "  -h, --help         this text\n"
			 "\n"
			 "Exit status: 0 created, 1 failed, 2 usage error.\n";

int cmd_create(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"size", required_argument, NULL, 's'},
	    {"layout", required_argument, NULL, 'l'},
	    {"mode", required_argument, NULL, 'm'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *layout = NULL, *path;
	uint64_t size = 0;
	bool have_size = false, quiet = false;
	unsigned mode = 0644;
	struct stat st;
	daxo_pool *p;
	int c, ret;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:l:m:qh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			ret = util_parse_size(optarg, &size);
			if (ret) {
				fprintf(stderr,
					"daxo create: bad size '%s'%s\n",
					optarg,
					ret == -ERANGE ? " (too large)" : "");
				return EXIT_USAGE;
			}
			have_size = true;
			break;
		case 'l':
			layout = optarg;
			break;
		case 'm':
			if (util_parse_mode(optarg, &mode)) {
				fprintf(stderr,
					"daxo create: bad mode '%s' (octal, "
					"at most 7777)\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			fputs(create_help, stdout);
			return 0;
		default:
			fputs(create_help, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "daxo create: %s\n\n",
			optind >= argc ? "POOL is missing"
				       : "only one POOL may be given");
		fputs(create_help, stderr);
		return EXIT_USAGE;
	}
	path = argv[optind];
	if (layout && strlen(layout) > DAXO_LAYOUT_MAX) {
		fprintf(stderr,
			"daxo create: layout name is %zu bytes, at most %d "
			"allowed\n",
			strlen(layout), DAXO_LAYOUT_MAX);
		return EXIT_USAGE;
	}
	if (!have_size && !(stat(path, &st) == 0 && S_ISCHR(st.st_mode))) {
		fprintf(stderr,
			"daxo create: --size is required unless POOL is a "
			"device-DAX node\n\n");
		fputs(create_help, stderr);
		return EXIT_USAGE;
	}

	ret = daxo_create(path, layout, size, mode, &p);
	if (ret) {
		util_err("create", NULL, ret);
		return 1;
	}
	if (!quiet) {
		struct daxo_info info;
		char sz[32];

		if (daxo_pool_info(p, &info) == 0)
			printf("created %s: %s (%llu bytes), layout \"%s\"\n",
			       path, util_fmt_size(info.size, sz, sizeof(sz)),
			       (unsigned long long)info.size, info.layout);
	}
	ret = daxo_close(p);
	if (ret) {
		util_err("create", "close", ret);
		return 1;
	}
	return 0;
}
