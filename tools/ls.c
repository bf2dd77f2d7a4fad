/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ls.c -- `daxo ls POOL [--prefix P] [--json]`: list the keys of the pool's
 * keyed store, sorted bytewise. Text output is one key per line with
 * non-printable bytes as \xNN and the value size; --json prints an array of
 * {"key" or "key_base64", "size"} objects. The pool is opened read-only.
 * Exit codes (daxo(1)): 0 ok, 1 failure, 2 usage error.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "daxo.h"
#include "builtin.h"
#include "kvutil.h"

static void ls_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: daxo ls POOL [--prefix P] [--json] [--hex]\n"
	    "\n"
	    "List the keys of the pool's keyed store in bytewise order, one\n"
	    "per line with the size of its value (bytes that are not\n"
	    "printable ASCII are shown as \\xNN, a backslash as \\\\).\n"
	    "\n"
	    "  -p, --prefix P  only keys that start with P\n"
	    "  -x, --hex       P is given as hex digits\n"
	    "  -j, --json      print a JSON array of {\"key\", \"size\"}\n"
	    "                  (\"key_base64\" for keys that are not UTF-8)\n"
	    "  -h, --help      this text\n"
	    "\n"
	    "Exit status: 0 ok, 1 failed, 2 usage error.\n");
}

int cmd_ls(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"prefix", required_argument, NULL, 'p'},
	    {"hex", no_argument, NULL, 'x'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct kvu_buf prefix = {0};
	const char *ptext = NULL;
	bool hex = false, json = false;
	struct kvu_item *items = NULL;
	size_t n = 0;
	daxo_pool *p;
	int c, r, ret = 1;

	while ((c = getopt_long(argc, argv, "p:xjh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			ptext = optarg;
			break;
		case 'x':
			hex = true;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			ls_usage(stdout);
			return 0;
		default:
			ls_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		ls_usage(stderr);
		return EXIT_USAGE;
	}
	if (ptext && (hex ? kvu_hex_decode(ptext, &prefix)
			  : kvu_buf_add(&prefix, ptext, strlen(ptext)))) {
		fprintf(stderr, "daxo ls: bad prefix '%s'\n", ptext);
		return EXIT_USAGE;
	}
	p = kvu_open("ls", argv[optind], true);
	if (!p)
		goto out;
	r = kvu_collect(p, prefix.p, prefix.len, false, &items, &n);
	if (r) {
		kvu_err("ls", argv[optind], r);
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
