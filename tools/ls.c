/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ls.c -- `daxo ls POOL [--prefix P] [--json]`: list the keys of the pool's
 * keyed store, sorted bytewise. Text output is one key per line with
 * non-printable bytes as \xNN and the value size; --json prints an array of
 * {"key" or "key_base64", "size"} objects. The pool is opened read-only.
 */
#include <stdio.h>
#include <string.h>

#include "daxo.h"
#include "builtin.h"
#include "kvutil.h"

static const char *ptext;
static bool hex, json;

static const struct opt ls_opts[] = {
    OPT_STRING('p', "prefix", &ptext, "P", "only keys that start with P"),
    OPT_BOOL('x', "hex", &hex, "P is given as hex digits"),
    OPT_BOOL('j', "json", &json,
	     "print a JSON array of {\"key\", \"size\"}\n"
	     "(\"key_base64\" for keys that are not UTF-8)"),
    OPT_END(),
};

static int ls_run(int argc, char **argv)
{
	struct kvu_buf prefix = {0};
	struct kvu_item *items = NULL;
	size_t n = 0;
	daxo_pool *p;
	int r, ret = 1;

	(void)argc;
	if (ptext && (hex ? kvu_hex_decode(ptext, &prefix)
			  : kvu_buf_add(&prefix, ptext, strlen(ptext)))) {
		fprintf(stderr, "daxo ls: bad prefix '%s'\n", ptext);
		kvu_buf_free(&prefix);
		return EXIT_USAGE;
	}
	p = kvu_open("ls", argv[0], true);
	if (!p)
		goto out;
	r = kvu_collect(p, prefix.p, prefix.len, false, &items, &n);
	if (r) {
		tool_err("ls", argv[0], r);
		goto close;
	}
	if (json) {
		struct json_object *arr = json_object_new_array();
		for (size_t i = 0; i < n; i++) {
			struct json_object *o = json_object_new_object();
			kvu_json_add_bytes(o, "key", items[i].key,
					   items[i].klen);
			json_object_object_add(
			    o, "size", json_object_new_uint64(items[i].vlen));
			json_object_array_add(arr, o);
		}
		puts(json_object_to_json_string_ext(
		    arr,
		    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(arr);
	} else {
		for (size_t i = 0; i < n; i++) {
			kvu_print_escaped(stdout, items[i].key, items[i].klen);
			printf("\t%zu\n", items[i].vlen);
		}
	}
	ret = fflush(stdout) ? 1 : 0;
	kvu_items_free(items, n);
close:
	daxo_close(p);
out:
	kvu_buf_free(&prefix);
	return ret;
}

const struct cmd cmd_ls = {
    .name = "ls",
    .summary = "list keys",
    .synopsis = "POOL [--prefix P] [--json] [--hex]",
    .about = "List the keys of the pool's keyed store in bytewise order, one\n"
	     "per line with the size of its value (bytes that are not\n"
	     "printable ASCII are shown as \\xNN, a backslash as \\\\).\n",
    .args = "POOL",
    .min_args = 1,
    .max_args = 1,
    .opts = ls_opts,
    .exits = "0 ok, 1 failed, 2 usage error.",
    .run = ls_run,
};
