/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * defrag.c -- `daxo defrag POOL`: compact the pool's keyed store
 * (daxo_kv_compact) with the pool opened exclusively, and say what it gave
 * back: free bytes, the largest object one allocation gets, runs, before
 * and after. --json prints one object.
 */
#include <stdio.h>
#include <json-c/json.h>

#include "daxo.h"
#include "builtin.h"
#include "util.h"

static bool json;

static const struct opt defrag_opts[] = {
    OPT_BOOL('j', "json", &json, "print one JSON object"),
    OPT_END(),
};

static struct json_object *heap_obj(const struct daxo_heap_info *hi)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "free_bytes",
			       json_object_new_uint64(hi->free_bytes));
	json_object_object_add(o, "largest_alloc",
			       json_object_new_uint64(hi->largest_alloc));
	json_object_object_add(o, "runs", json_object_new_uint64(hi->runs));
	return o;
}

static void print_text(const struct daxo_heap_info *a,
		       const struct daxo_heap_info *b,
		       const struct daxo_defrag_result *r)
{
	char x[32], y[32];

	printf("entries:       %llu, %llu moved (%s)\n",
	       (unsigned long long)r->total, (unsigned long long)r->relocated,
	       util_fmt_size(r->bytes_moved, x, sizeof(x)));
	printf("runs:          %llu -> %llu (%llu given back)\n",
	       (unsigned long long)a->runs, (unsigned long long)b->runs,
	       (unsigned long long)r->runs_freed);
	printf("free:          %s -> %s\n",
	       util_fmt_size(a->free_bytes, x, sizeof(x)),
	       util_fmt_size(b->free_bytes, y, sizeof(y)));
	printf("largest alloc: %s -> %s\n",
	       util_fmt_size(a->largest_alloc, x, sizeof(x)),
	       util_fmt_size(b->largest_alloc, y, sizeof(y)));
}

static int defrag_run(int argc, char **argv)
{
	static struct daxo_heap_info a, b;
	struct daxo_defrag_result r;
	daxo_pool *p;
	int ret;

	(void)argc;
	ret = daxo_open(argv[0], NULL, 0, &p);
	if (ret) {
		tool_err("defrag", argv[0], ret);
		return 1;
	}
	ret = daxo_heap_info(p, &a);
	if (!ret)
		ret = daxo_kv_compact(p, &r);
	if (!ret)
		ret = daxo_heap_info(p, &b);
	if (ret) {
		tool_err("defrag", argv[0], ret);
		daxo_close(p);
		return 1;
	}
	ret = daxo_close(p);
	if (ret) {
		tool_err("defrag", argv[0], ret);
		return 1;
	}
	if (!json) {
		print_text(&a, &b, &r);
		return 0;
	}
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "path", json_object_new_string(argv[0]));
	json_object_object_add(o, "entries", json_object_new_uint64(r.total));
	json_object_object_add(o, "relocated",
			       json_object_new_uint64(r.relocated));
	json_object_object_add(o, "bytes_moved",
			       json_object_new_uint64(r.bytes_moved));
	json_object_object_add(o, "runs_freed",
			       json_object_new_uint64(r.runs_freed));
	json_object_object_add(o, "before", heap_obj(&a));
	json_object_object_add(o, "after", heap_obj(&b));
	printf("%s\n",
	       json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						     JSON_C_TO_STRING_SPACED));
	json_object_put(o);
	return 0;
}

const struct cmd cmd_defrag = {
    .name = "defrag",
    .summary = "compact the keyed store",
    .synopsis = "POOL [--json]",
    .about =
	"Compact the pool's keyed store (daxo_kv_compact): the entries of\n"
	"the sparsest runs of each size class move into the class's other\n"
	"runs, each move a put of the key and its own value into a new entry\n"
	"(crash-atomic), and the emptied runs go back to the pool's free\n"
	"chunks. The pool must not be open elsewhere (it is opened for\n"
	"writing: -EBUSY otherwise). Prints the entries moved and the free\n"
	"bytes, the largest allocation and the runs before and after.\n",
    .args = "POOL",
    .min_args = 1,
    .max_args = 1,
    .opts = defrag_opts,
    .exits = "0 ok, 1 failed (not a pool, busy, damaged, no room), 2 "
	     "usage error.",
    .run = defrag_run,
};
