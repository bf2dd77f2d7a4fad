/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dump.c -- `daxo dump POOL --json`: export the whole keyed store as one
 * JSON document that `daxo load` reads back:
 *
 *   {"format": "daxo-kv-dump", "version": 1, "count": N,
 *    "entries": [{"key": "...", "value": "..."}, ...]}
 *
 * sorted bytewise by key, one entry a line; a key or value that is not
 * valid UTF-8 is written as "key_base64" / "value_base64" instead
 * (kvutil.h). The pool is opened read-only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "daxo.h"
#include "builtin.h"
#include "kvutil.h"

static bool json;

static const struct opt dump_opts[] = {
    OPT_BOOL('j', "json", &json, "the output format (the only one; required)"),
    OPT_END(),
};

/* put_entry -- one entry of the "entries" array, on one line */
static int put_entry(FILE *f, bool first, const struct kvu_item *it,
		     const char *val, size_t vlen)
{
	struct json_object *o = json_object_new_object();
	const char *text;
	int r = 0;

	if (!o)
		return -ENOMEM;
	kvu_json_add_bytes(o, "key", it->key, it->klen);
	kvu_json_add_bytes(o, "value", (const unsigned char *)val, vlen);
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						  JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text || fprintf(f, "%s\n    %s", first ? "" : ",", text) < 0)
		r = text ? -EIO : -ENOMEM;
	json_object_put(o);
	return r;
}

/*
 * dump_run -- the keys are collected and sorted; then each value is read
 * and written out on its own, so memory holds the keys and one value.
 */
static int dump_run(int argc, char **argv)
{
	struct kvu_item *items = NULL;
	char *buf = NULL;
	size_t n = 0, cap = 0, vlen;
	daxo_pool *p;
	int r, ret = 1;

	(void)argc;
	if (!json)
		return cmd_usage_error(&cmd_dump, "--json is required");
	p = kvu_open("dump", argv[0], true);
	if (!p)
		return 1;
	r = kvu_collect(p, NULL, 0, false, &items, &n);
	if (r) {
		tool_err("dump", argv[0], r);
		goto close;
	}
	printf("{\n  \"format\": \"daxo-kv-dump\",\n  \"version\": 1,\n"
	       "  \"count\": %zu,\n  \"entries\": [",
	       n);
	for (size_t i = 0; i < n && !r; i++) {
		r = kvu_get(p, items[i].key, items[i].klen, &buf, &cap, &vlen);
		if (r)
			tool_err("dump", argv[0], r);
		else if ((r = put_entry(stdout, i == 0, &items[i], buf, vlen)))
			tool_errno("dump", "writing standard output", -r);
	}
	if (!r && printf("%s]\n}\n", n ? "\n  " : "") > 0 && !fflush(stdout))
		ret = 0;
	else if (!r)
		tool_errno("dump", "writing standard output", errno);
	kvu_items_free(items, n);
	free(buf);
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
