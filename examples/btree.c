/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * btree.c -- a map of 64-bit keys in a pool, kept in the B-tree of
 * btree_map.c (PMDK's btree_map, ported to daxo's native API). Each key's
 * value is an 8-byte object holding the key times 3.
 *
 *   $ btree /dev/shm/b.pool insert 5 3 9
 *   $ btree /dev/shm/b.pool get 3 4
 *   3: 9
 *   4: not found
 *   $ btree /dev/shm/b.pool remove 3
 *   $ btree /dev/shm/b.pool print
 *   5 15
 *   9 27
 *
 * Commands: insert KEY..., get KEY..., remove KEY..., print, check (the
 * tree's shape and every value), fill N SEED (N keys made from SEED, each
 * printed once its transaction committed), verify FILE (every key listed
 * in FILE is there, with its value). The pool is created (64 MiB, layout
 * "btree") if it does not exist.
 *
 * Build against an installed libdaxo:
 *   cc -o btree btree.c btree_map.c $(pkg-config --cflags --libs daxo)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <daxo.h>

#include "btree_map.h"

#define LAYOUT	   "btree"
#define VALUE_TYPE 1

struct btree_root {
	daxo_oid map;
};

static daxo_pool *pool;
static struct btree_root *root;

static int fail(const char *what, int err)
{
	fprintf(stderr, "btree: %s: %s\n", what,
		*daxo_errormsg() ? daxo_errormsg() : daxo_strerror(err));
	return 1;
}

static int parse_key(const char *s, uint64_t *key)
{
	char *end;

	errno = 0;
	*key = strtoull(s, &end, 0);
	if (errno || end == s || *end) {
		fprintf(stderr, "btree: %s: not a key\n", s);
		return -1;
	}
	return 0;
}

/* the value object's constructor: it belongs to the transaction */
static void value_ctor(daxo_pool *p, void *ptr, void *arg)
{
	(void)p;
	*(uint64_t *)ptr = *(uint64_t *)arg * 3;
}

static int value_ok(uint64_t key)
{
	daxo_oid v = btree_map_daxo_get(pool, root->map, key);
	const uint64_t *val = daxo_direct(pool, v);

	return val && *val == key * 3;
}

static int insert(uint64_t key)
{
	return btree_map_daxo_insert_new(pool, root->map, key, sizeof(key),
					 VALUE_TYPE, value_ctor, &key);
}

/* fmix64 -- MurmurHash3's finalizer, a bijection: distinct keys */
static uint64_t fmix64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ull;
	k ^= k >> 33;
	return k;
}

static int print_cb(uint64_t key, daxo_oid value, void *arg)
{
	const uint64_t *v = daxo_direct(pool, value);

	(void)arg;
	printf("%" PRIu64 " %" PRIu64 "\n", key, v ? *v : 0);
	return 0;
}

static int check_cb(uint64_t key, daxo_oid value, void *arg)
{
	const uint64_t *v = daxo_direct(pool, value);

	if (!v || *v != key * 3) {
		fprintf(stderr, "btree: key %" PRIu64 " has a wrong value\n",
			key);
		++*(int *)arg;
	}
	return 0;
}

static int cmd_check(void)
{
	const char *why = NULL;
	uint64_t n;
	int bad = 0;
	int ret = btree_map_daxo_check(pool, root->map, &n, &why);

	if (ret) {
		fprintf(stderr, "btree: the tree is damaged: %s\n", why);
		return 1;
	}
	btree_map_daxo_foreach(pool, root->map, check_cb, &bad);
	if (bad)
		return 1;
	printf("%" PRIu64 " keys, tree sound\n", n);
	return 0;
}

static int cmd_fill(const char *n_arg, const char *seed_arg)
{
	uint64_t n, seed;

	if (parse_key(n_arg, &n) || parse_key(seed_arg, &seed))
		return 2;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t key = fmix64((seed << 32) + i + 1);
		int ret = insert(key);

		if (ret)
			return fail("insert", ret);
		printf("%" PRIu64 "\n", key);
		fflush(stdout);
	}
	return 0;
}

static int cmd_verify(const char *file)
{
	FILE *f = fopen(file, "r");
	uint64_t key, n = 0;
	char line[64];

	if (!f) {
		perror(file);
		return 1;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (parse_key(line, &key))
			break;
		if (!value_ok(key)) {
			fprintf(stderr, "btree: key %" PRIu64 " lost\n", key);
			fclose(f);
			return 1;
		}
		n++;
	}
	fclose(f);
	printf("%" PRIu64 " keys verified\n", n);
	return 0;
}

/* the keys of a command: insert, get, remove */
static int cmd_keys(const char *cmd, int n, char **keys)
{
	for (int k = 0; k < n; k++) {
		uint64_t key;
		int ret;

		if (parse_key(keys[k], &key))
			return 2;
		if (!strcmp(cmd, "get")) {
			daxo_oid v = btree_map_daxo_get(pool, root->map, key);
			const uint64_t *val = daxo_direct(pool, v);

			if (val)
				printf("%" PRIu64 ": %" PRIu64 "\n", key, *val);
			else
				printf("%" PRIu64 ": not found\n", key);
			continue;
		}
		if (!strcmp(cmd, "insert"))
			ret = insert(key);
		else
			ret = btree_map_daxo_remove_free(pool, root->map, key);
		if (ret == -EEXIST)
			printf("%" PRIu64 ": exists\n", key);
		else if (ret == -ENOENT)
			printf("%" PRIu64 ": not found\n", key);
		else if (ret)
			return fail(cmd, ret);
	}
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: btree POOL insert|get|remove KEY...\n"
			"       btree POOL print|check\n"
			"       btree POOL fill N SEED\n"
			"       btree POOL verify FILE\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 2 ? argv[2] : "";
	daxo_oid r;
	int ret;

	if (argc < 3)
		return usage();
	ret = daxo_open(argv[1], LAYOUT, 0, &pool);
	if (ret == -ENOENT)
		ret = daxo_create(argv[1], LAYOUT, 64 << 20, 0644, &pool);
	if (ret)
		return fail("open", ret);
	ret = daxo_root(pool, sizeof(*root), &r);
	if (ret)
		return fail("root", ret);
	root = daxo_direct(pool, r);
	if (!root->map) {
		ret = btree_map_daxo_create(pool, &root->map);
		if (ret)
			return fail("create", ret);
	}

	if (!strcmp(cmd, "insert") || !strcmp(cmd, "get") ||
	    !strcmp(cmd, "remove"))
		ret = cmd_keys(cmd, argc - 3, argv + 3);
	else if (!strcmp(cmd, "print") && argc == 3)
		ret = btree_map_daxo_foreach(pool, root->map, print_cb, NULL);
	else if (!strcmp(cmd, "check") && argc == 3)
		ret = cmd_check();
	else if (!strcmp(cmd, "fill") && argc == 5)
		ret = cmd_fill(argv[3], argv[4]);
	else if (!strcmp(cmd, "verify") && argc == 4)
		ret = cmd_verify(argv[3]);
	else
		ret = usage();
	daxo_close(pool);
	return ret;
}
