/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kvstore.c -- a small persistent key-value store on the command line,
 * built on libdaxo's keyed store (daxo_put/daxo_get/daxo_del/daxo_foreach).
 *
 *   kvstore POOL put KEY VALUE    store (or replace) a value
 *   kvstore POOL get KEY          print it
 *   kvstore POOL del KEY          remove it
 *   kvstore POOL list             print every KEY=VALUE
 *
 * The pool is created (64 MiB, layout "kvstore") on first use. Every put and
 * del is atomic and durable when the command returns: kill the program or
 * pull the plug at any moment and the key holds its old or its new value.
 * Try it on emulated pmem:
 *
 *   PMEM_IS_PMEM_FORCE=1 ./kvstore /dev/shm/kv.pool put greeting hello
 *   PMEM_IS_PMEM_FORCE=1 ./kvstore /dev/shm/kv.pool get greeting
 *
 * Build against the installed library:
 *   cc kvstore.c $(pkg-config --cflags --libs daxo) -o kvstore
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <daxo.h>

#define LAYOUT	  "kvstore"
#define POOL_SIZE (64ull << 20)

static int usage(void)
{
	fprintf(stderr, "usage: kvstore POOL put KEY VALUE\n"
			"       kvstore POOL get KEY\n"
			"       kvstore POOL del KEY\n"
			"       kvstore POOL list\n");
	return 2;
}

static int print_one(const void *key, size_t klen, const void *val, size_t vlen,
		     void *arg)
{
	(void)arg;
	printf("%.*s=%.*s\n", (int)klen, (const char *)key, (int)vlen,
	       (const char *)val);
	return 0;
}

int main(int argc, char **argv)
{
	daxo_pool *p;
	const char *cmd;
	int r;

	if (argc < 3)
		return usage();
	cmd = argv[2];
	r = daxo_open(argv[1], LAYOUT, 0, &p);
	if (r == -ENOENT)
		r = daxo_create(argv[1], LAYOUT, POOL_SIZE, 0644, &p);
	if (r) {
		fprintf(stderr, "kvstore: %s: %s\n", argv[1], daxo_errormsg());
		return 1;
	}

	if (!strcmp(cmd, "put") && argc == 5) {
		r = daxo_put(p, argv[3], strlen(argv[3]), argv[4],
			     strlen(argv[4]));
	} else if (!strcmp(cmd, "get") && argc == 4) {
		size_t vlen = 0, cap = 256;
		char *buf = NULL;
		do { /* grow until the value fits */
			char *nb = realloc(buf, cap);
			if (!nb) {
				r = -ENOMEM;
				break;
			}
			buf = nb;
			r = daxo_get(p, argv[3], strlen(argv[3]), buf, cap,
				     &vlen);
			cap = vlen;
		} while (r == -ENOBUFS);
		if (!r)
			printf("%.*s\n", (int)vlen, buf);
		free(buf);
	} else if (!strcmp(cmd, "del") && argc == 4) {
		r = daxo_del(p, argv[3], strlen(argv[3]));
	} else if (!strcmp(cmd, "list") && argc == 3) {
		r = daxo_foreach(p, print_one, NULL);
	} else {
		daxo_close(p);
		return usage();
	}

	if (r)
		fprintf(stderr, "kvstore: %s: %s\n", cmd,
			r == -ENOENT ? "no such key" : daxo_errormsg());
	if (daxo_close(p) && !r) {
		fprintf(stderr, "kvstore: close: %s\n", daxo_errormsg());
		r = -EIO;
	}
	return r ? 1 : 0;
}
