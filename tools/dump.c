/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dump.c -- `daxo dump POOL --json`: export the whole keyed store as one
 * JSON document that `daxo load` reads back:
 *
 *   {"format": "daxo-kv-dump", "version": 1, "count": N,
 *    "entries": [{"key": "...", "value": "..."}, ...]}
 *
 * sorted bytewise by key; a key or value that is not valid UTF-8 is written
 * as "key_base64" / "value_base64" instead (kvutil.h). The pool is opened
 * read-only.
 */
#include <stdio.h>

#include "daxo.h"
#include "builtin.h"
#include "kvutil.h"

static bool json;

static const struct opt dump_opts[] = {
    OPT_BOOL('j', "json", &json, "the output format (the only one; required)"),
    OPT_END(),
};

static int dump_run(int argc, char **argv)
{
	struct kvu_item *items = NULL;
	struct json_object *doc, *arr;
	size_t n = 0;
	daxo_pool *p;
	int r, ret = 1;

	(void)argc;
	if (!json)
		return cmd_usage_error(&cmd_dump, "--json is required");
	p = kvu_open("dump", argv[0], true);
	if (!p)
		return 1;
	r = kvu_collect(p, NULL, 0, true, &items, &n);
	if (r) {
		tool_err("dump", argv[0], r);
		goto close;
	}
	doc = json_object_new_object();
	json_object_object_add(doc, "format",
			       json_object_new_string("daxo-kv-dump"));
	json_object_object_add(doc, "version", json_object_new_int(1));
	json_object_object_add(doc, "count", json_object_new_uint64(n));
	arr = json_object_new_array_ext((int)n);
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_new_object();
		kvu_json_add_bytes(o, "key", items[i].key, items[i].klen);
		kvu_json_add_bytes(o, "value", items[i].val, items[i].vlen);
		json_object_array_add(arr, o);
	}
	json_object_object_add(doc, "entries", arr);
	puts(json_object_to_json_string_ext(
	    doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(doc);
	kvu_items_free(items, n);
	ret = fflush(stdout) ? 1 : 0;
close:
	daxo_close(p);
	return ret;
}

const struct cmd cmd_dump = {
    .name = "dump",
    .summary = "export the keyed store as JSON",
    .synopsis = "POOL --json",
    .about = "Write every key and value of the pool's keyed store to standard\n"
	     "output as JSON: {\"format\": \"daxo-kv-dump\", \"version\": 1,\n"
	     "\"count\": N, \"entries\": [{\"key\": ..., \"value\": ...}]},\n"
	     "sorted by key. Keys and values that are not valid UTF-8 are\n"
	     "written base64-encoded as \"key_base64\" / \"value_base64\".\n"
	     "'daxo load' reads this back. The pool is opened read-only.\n",
    .args = "POOL",
    .min_args = 1,
    .max_args = 1,
    .opts = dump_opts,
    .exits = "0 ok, 1 failed, 2 usage error.",
    .run = dump_run,
};
