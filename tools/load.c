/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * load.c -- `daxo load POOL`: read the JSON that `daxo dump POOL --json`
 * writes from stdin and put every entry into the pool's keyed store
 * (inserting or replacing; keys not in the input are kept unless --clear).
 * The whole input is parsed and checked before the pool is changed. Each
 * entry is its own atomic put: an interrupted load leaves a prefix of the
 * entries loaded.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daxo.h"
#include "builtin.h"
#include "kvutil.h"

static bool clear;

static const struct opt load_opts[] = {
    OPT_BOOL('c', "clear", &clear,
	     "first delete every key that is in the store"),
    OPT_END(),
};

static int del_all(daxo_pool *p)
{
	struct kvu_item *items;
	size_t n;
	int r = kvu_collect(p, NULL, 0, false, &items, &n);

	for (size_t i = 0; !r && i < n; i++)
		r = daxo_del(p, items[i].key, items[i].klen);
	if (!r)
		kvu_items_free(items, n);
	return r;
}

static int load_run(int argc, char **argv)
{
	struct kvu_buf in = {0};
	struct json_object *doc = NULL, *v, *arr;
	struct json_tokener *tok;
	enum json_tokener_error jerr;
	daxo_pool *p = NULL;
	size_t n, done = 0;
	int r, ret = 1;

	(void)argc;
	if (kvu_read_all(stdin, &in)) {
		fprintf(stderr, "daxo load: cannot read standard input\n");
		goto out;
	}
	tok = json_tokener_new();
	doc = json_tokener_parse_ex(tok, (const char *)in.p, (int)in.len);
	jerr = json_tokener_get_error(tok);
	json_tokener_free(tok);
	if (!doc || jerr != json_tokener_success) {
		fprintf(stderr, "daxo load: input is not JSON: %s\n",
			json_tokener_error_desc(jerr));
		goto out;
	}
	if (!json_object_object_get_ex(doc, "format", &v) ||
	    strcmp(json_object_get_string(v), "daxo-kv-dump") != 0 ||
	    !json_object_object_get_ex(doc, "version", &v) ||
	    json_object_get_int(v) != 1 ||
	    !json_object_object_get_ex(doc, "entries", &arr) ||
	    !json_object_is_type(arr, json_type_array)) {
		fprintf(stderr, "daxo load: not a daxo-kv-dump version 1 "
				"document\n");
		goto out;
	}
	n = json_object_array_length(arr);
	/* check every entry before changing anything */
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);
		struct kvu_buf k = {0}, val = {0};
		int rk = json_object_is_type(o, json_type_object)
			     ? kvu_json_get_bytes(o, "key", &k)
			     : -EINVAL;
		int rv = rk ? 0 : kvu_json_get_bytes(o, "value", &val);
		bool bad = rk || rv || k.len == 0 || k.len > DAXO_KEY_MAX;
		kvu_buf_free(&k);
		kvu_buf_free(&val);
		if (bad) {
			fprintf(stderr,
				"daxo load: entry %zu: missing or bad "
				"key or value\n",
				i);
			goto out;
		}
	}
	p = kvu_open("load", argv[0], false);
	if (!p)
		goto out;
	if (clear && (r = del_all(p))) {
		tool_err("load", argv[0], r);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);
		struct kvu_buf k = {0}, val = {0};
		kvu_json_get_bytes(o, "key", &k);
		kvu_json_get_bytes(o, "value", &val);
		r = daxo_put(p, k.p, k.len, val.p, val.len);
		kvu_buf_free(&k);
		kvu_buf_free(&val);
		if (r) {
			fprintf(stderr, "daxo load: entry %zu: ", i);
			tool_err("load", argv[0], r);
			fprintf(stderr,
				"daxo load: %zu of %zu entries loaded\n", done,
				n);
			goto out;
		}
		done++;
	}
	ret = 0;
out:
	if (p && daxo_close(p))
		ret = 1;
	json_object_put(doc);
	kvu_buf_free(&in);
	return ret;
}

const struct cmd cmd_load = {
    .name = "load",
    .summary = "import a JSON dump into the keyed store",
    .synopsis = "POOL [--clear] < DUMP.json",
    .about =
	"Read a document written by 'daxo dump POOL --json' from standard\n"
	"input and store each of its entries in the pool's keyed store,\n"
	"replacing values of keys that exist. The input is checked in\n"
	"full before anything is written; each entry is stored\n"
	"atomically.\n",
    .args = "POOL",
    .min_args = 1,
    .max_args = 1,
    .opts = load_opts,
    .exits = "0 ok, 1 failed, 2 usage error.",
    .run = load_run,
};
