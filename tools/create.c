/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * create.c -- `daxo create POOL --size SIZE [--layout NAME] [--mode OCTAL]
 * [--checksums]`.
 *
 * Creates a pool with daxo_pool_create() (--checksums: value checksums,
 * DAXO_CREATE_CHECKSUMS) and closes it again. The size takes
 * K/M/G/T suffixes (powers of 1024) and is rounded up to 2 MiB by the
 * library; for a device-DAX node (/dev/daxX.Y) it may be omitted to use the
 * whole device.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "daxo.h"
#include "builtin.h"
#include "util.h"

static const char *layout;
static uint64_t size;
static bool have_size, quiet, checksums;
static unsigned mode = 0600; /* a pool is its owner's: daxo(1) */

static const struct opt create_opts[] = {
    OPT_SIZE('s', "size", &size, &have_size, "SIZE",
	     "pool size in bytes; K, M, G, T are powers of\n"
	     "1024; rounded up to 2 MiB; at least 8M. May be\n"
	     "omitted for a device-DAX node (whole device)."),
    OPT_STRING('l', "layout", &layout, "NAME",
	       "layout name every open must give (at most\n" STR(
		   DAXO_LAYOUT_MAX) " bytes; default: empty)"),
    OPT_MODE('m', "mode", &mode, "OCTAL",
	     "permissions of a new file (default 0600, minus\n"
	     "the umask); see daxo(1) on what read access\n"
	     "gives others"),
    OPT_BOOL('c', "checksums", &checksums,
	     "every keyed-store value carries a checksum,\n"
	     "verified by every read and by 'daxo check'\n"
	     "(a damaged value is an error, not wrong bytes;\n"
	     "costs a pass over each value put or read)"),
    OPT_BOOL('q', "quiet", &quiet, "print nothing on success"),
    OPT_END(),
};

static int create_run(int argc, char **argv)
{
	const char *path = argv[0];
	struct stat st;
	daxo_pool *p;
	int ret;

	(void)argc;
	if (layout && strlen(layout) > DAXO_LAYOUT_MAX) {
		fprintf(stderr,
			"daxo create: layout name is %zu bytes, at most %d "
			"allowed\n",
			strlen(layout), DAXO_LAYOUT_MAX);
		return EXIT_USAGE;
	}
	if (!have_size && !(stat(path, &st) == 0 && S_ISCHR(st.st_mode)))
		return cmd_usage_error(&cmd_create,
				       "--size is required unless POOL is a "
				       "device-DAX node");

	struct daxo_create_opts o = {
	    .flags = checksums ? DAXO_CREATE_CHECKSUMS : 0};
	ret = daxo_pool_create(path, layout, size, mode, &o, &p);
	if (ret) {
		tool_err("create", path, ret);
		return 1;
	}
	if (!quiet) {
		struct daxo_info info;
		char sz[32];

		if (daxo_pool_info(p, &info) == 0)
			printf("created %s: %s (%llu bytes), layout "
			       "\"%s\"%s\n",
			       path, util_fmt_size(info.size, sz, sizeof(sz)),
			       (unsigned long long)info.size, info.layout,
			       checksums ? ", value checksums" : "");
	}
	ret = daxo_close(p);
	if (ret) {
		tool_err("create", path, ret);
		return 1;
	}
	return 0;
}

const struct cmd cmd_create = {
    .name = "create",
    .summary = "create a pool",
    .synopsis = "POOL --size SIZE [--layout NAME] [--mode OCTAL]\n"
		"                        [--checksums] [--quiet]",
    .about = "Create a daxo pool. POOL is a new file (it must not exist) or "
	     "a\ndevice-DAX node such as /dev/dax0.0.\n",
    .args = "POOL",
    .min_args = 1,
    .max_args = 1,
    .opts = create_opts,
    .exits = "0 created, 1 failed, 2 usage error.",
    .run = create_run,
};
