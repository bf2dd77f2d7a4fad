/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * info.c -- `daxo info POOL [--json]`: describe a pool.
 *
 * Opens the pool read-only (DAXO_RDONLY: the file is not changed, and if
 * recovery is pending it runs on a private copy-on-write view) and prints
 * every field of struct daxo_info: the header (layout, UUID, format version,
 * feature flags, regions, creation time), how the pool is mapped (pmem or
 * msync flushes, DAX, device DAX, MAP_SYNC) and whether its logs needed
 * recovery, and how its heap is used (struct daxo_heap_info: free bytes,
 * the largest object an allocation gets now, runs by size class and
 * occupancy). --json prints one JSON object for programs.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "daxo.h"
#include "builtin.h"
#include "util.h"

static const char *fmt_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "%lld", (long long)t);
	return buf;
}

static void add_u64(struct json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_uint64(v));
}

static void add_bool(struct json_object *o, const char *k, int v)
{
	json_object_object_add(o, k, json_object_new_boolean(v != 0));
}

static void add_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

/* heap_json -- struct daxo_heap_info as a JSON object, or NULL */
static struct json_object *heap_json(const struct daxo_heap_info *hi)
{
	struct json_object *o = json_object_new_object();
	struct json_object *cls = json_object_new_array();

	if (!o || !cls) {
		json_object_put(o);
		json_object_put(cls);
		return NULL;
	}
	add_u64(o, "chunk_size", hi->chunk_size);
	add_u64(o, "heap_bytes", hi->heap_bytes);
	add_u64(o, "free_bytes", hi->free_bytes);
	add_u64(o, "free_chunk_bytes", hi->free_chunk_bytes);
	add_u64(o, "largest_alloc", hi->largest_alloc);
	add_u64(o, "large_objects", hi->large_objects);
	add_u64(o, "large_bytes", hi->large_bytes);
	add_u64(o, "runs", hi->runs);
	add_u64(o, "run_bytes", hi->run_bytes);
	for (uint32_t c = 0; c < hi->nclasses && c < DAXO_HEAP_CLASSES_MAX;
	     c++) {
		const struct daxo_heap_class *k = &hi->cls[c];
		struct json_object *e;
		if (!k->runs)
			continue;
		e = json_object_new_object();
		if (!e)
			break;
		add_u64(e, "size", k->size);
		add_u64(e, "runs", k->runs);
		add_u64(e, "slots", k->slots);
		add_u64(e, "used", k->used);
		add_u64(e, "idle_runs", k->idle_runs);
		json_object_array_add(cls, e);
	}
	json_object_object_add(o, "classes", cls);
	return o;
}

/*
 * struct regions -- where the lanes and the heap are. The API leaves the
 * on-media layout out of struct daxo_info; doc/FORMAT.md gives the header
 * fields that hold it, and the header is the start of the mapping, which
 * the library validated when it opened the pool (the format is
 * little-endian, as this host must be).
 */
struct regions {
	uint64_t lanes_off;
	uint32_t nlanes, lane_size;
	uint64_t heap_off, heap_size, chunk_size;
};

static void read_regions(const struct daxo_info *in, struct regions *r)
{
	const unsigned char *h = in->base;

	memcpy(&r->lanes_off, h + 152, 8);
	memcpy(&r->nlanes, h + 160, 4);
	memcpy(&r->lane_size, h + 164, 4);
	memcpy(&r->heap_off, h + 168, 8);
	memcpy(&r->heap_size, h + 176, 8);
	memcpy(&r->chunk_size, h + 184, 8);
}

static int print_json(const struct daxo_info *in,
		      const struct daxo_heap_info *hi)
{
	struct regions rg;
	struct json_object *o = json_object_new_object();
	struct json_object *feat = json_object_new_object();
	struct json_object *heap = heap_json(hi);
	char buf[64];

	if (!o || !feat || !heap) {
		json_object_put(o);
		json_object_put(feat);
		json_object_put(heap);
		fprintf(stderr, "daxo info: out of memory\n");
		return 1;
	}
	add_str(o, "path", in->path);
	add_str(o, "layout", in->layout);
	add_str(o, "uuid", util_fmt_uuid(in->uuid, buf, sizeof(buf)));
	snprintf(buf, sizeof(buf), "%u.%u", in->major, in->minor);
	add_str(o, "format", buf);
	add_u64(o, "format_major", in->major);
	add_u64(o, "format_minor", in->minor);
	add_u64(feat, "incompat", in->incompat);
	add_u64(feat, "ro_compat", in->ro_compat);
	add_u64(feat, "compat", in->compat);
	json_object_object_add(o, "features", feat);
	add_u64(o, "size", in->size);
	read_regions(in, &rg);
	add_u64(o, "lanes_offset", rg.lanes_off);
	add_u64(o, "nlanes", rg.nlanes);
	add_u64(o, "lane_size", rg.lane_size);
	add_u64(o, "heap_offset", rg.heap_off);
	add_u64(o, "heap_size", rg.heap_size);
	add_u64(o, "chunk_size", rg.chunk_size);
	json_object_object_add(o, "ctime", json_object_new_int64(in->ctime));
	add_str(o, "ctime_utc", fmt_time(in->ctime, buf, sizeof(buf)));
	add_bool(o, "pmem", in->is_pmem);
	add_bool(o, "dax", in->is_dax);
	add_bool(o, "devdax", in->is_devdax);
	add_bool(o, "map_sync", in->map_sync);
	add_bool(o, "readonly", in->readonly);
	add_bool(o, "recovery_pending", in->recovery_pending);
	add_bool(o, "unsafe_shutdown", in->unsafe_shutdown);
	add_u64(o, "recovered", in->recovered);
	snprintf(buf, sizeof(buf), "%p", in->base);
	add_str(o, "base", buf);
	json_object_object_add(o, "heap", heap);

	printf("%s\n", json_object_to_json_string_ext(
			   o, JSON_C_TO_STRING_PRETTY |
				  JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return 0;
}

static const char *yesno(int v)
{
	return v ? "yes" : "no";
}

/* the names of the known incompat bits (doc/FORMAT.md), in @buf */
static const char *incompat_names(uint64_t f, char *buf, size_t len)
{
	static const char *const names[] = {
	    [0] = "slots16", [1] = "kv_valign", [2] = "kv_checksums",
	    [3] = "heap2",   [5] = "kv_links"};
	size_t n = 0;

	buf[0] = 0;
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i] && (f & (1ull << i)))
			n += (size_t)snprintf(buf + n, len - n, "%s%s",
					      n ? ", " : " (", names[i]);
	if (n)
		snprintf(buf + n, len - n, ")");
	return buf;
}

static int print_text(const struct daxo_info *in,
		      const struct daxo_heap_info *hi)
{
	char a[64], b[64], fn[64];
	struct regions rg;

	read_regions(in, &rg);
	printf("path:             %s\n", in->path);
	printf("layout:           \"%s\"\n", in->layout);
	printf("uuid:             %s\n", util_fmt_uuid(in->uuid, a, sizeof(a)));
	printf("format:           %u.%u\n", in->major, in->minor);
	/* bit 0: lanes of 16 redo slots (1.1); bit 1: line-aligned values
	 * (1.2); bit 2: value checksums, bit 5: checked keyed-store links
	 * (1.3) */
	printf("features:         incompat 0x%llx%s, ro_compat 0x%llx, "
	       "compat 0x%llx\n",
	       (unsigned long long)in->incompat,
	       incompat_names(in->incompat, fn, sizeof(fn)),
	       (unsigned long long)in->ro_compat,
	       (unsigned long long)in->compat);
	printf("size:             %s (%llu bytes)\n",
	       util_fmt_size(in->size, a, sizeof(a)),
	       (unsigned long long)in->size);
	printf("lanes:            %u x %u bytes at offset %llu\n", rg.nlanes,
	       rg.lane_size, (unsigned long long)rg.lanes_off);
	printf("heap:             %s at offset %llu, chunks of %s\n",
	       util_fmt_size(rg.heap_size, a, sizeof(a)),
	       (unsigned long long)rg.heap_off,
	       util_fmt_size(rg.chunk_size, b, sizeof(b)));
	printf("created:          %s (%lld)\n",
	       fmt_time(in->ctime, a, sizeof(a)), (long long)in->ctime);
	printf("pmem:             %s (%s)\n", yesno(in->is_pmem),
	       in->is_pmem
		   ? "CPU cache flushes"
		   : (in->readonly ? "read-only view, no flushes" : "msync"));
	printf("dax:              %s\n", yesno(in->is_dax));
	printf("devdax:           %s\n", yesno(in->is_devdax));
	printf("map_sync:         %s\n", yesno(in->map_sync));
	printf("readonly:         %s\n", yesno(in->readonly));
	printf("recovery pending: %s", yesno(in->recovery_pending));
	if (in->recovery_pending)
		printf(" (%llu logs; shown as recovered in memory only)",
		       (unsigned long long)in->recovered);
	printf("\n");
	printf("recovered:        %llu\n", (unsigned long long)in->recovered);
	if (in->unsafe_shutdown)
		printf("unsafe shutdown:  yes: the DIMMs lost power unsafely "
		       "while the pool was open; writes just before may be "
		       "lost\n");
	printf("base:             %p\n", in->base);
	printf("heap free:        %s of %s (%s in free chunks)\n",
	       util_fmt_size(hi->free_bytes, a, sizeof(a)),
	       util_fmt_size(hi->heap_bytes, b, sizeof(b)),
	       util_fmt_size(hi->free_chunk_bytes, fn, sizeof(fn)));
	printf("largest alloc:    %s\n",
	       util_fmt_size(hi->largest_alloc, a, sizeof(a)));
	printf("large objects:    %llu (%s)\n",
	       (unsigned long long)hi->large_objects,
	       util_fmt_size(hi->large_bytes, a, sizeof(a)));
	printf("runs:             %llu (%s)\n", (unsigned long long)hi->runs,
	       util_fmt_size(hi->run_bytes, a, sizeof(a)));
	for (uint32_t c = 0; c < hi->nclasses && c < DAXO_HEAP_CLASSES_MAX;
	     c++) {
		const struct daxo_heap_class *k = &hi->cls[c];
		if (!k->runs)
			continue;
		printf("  class %7llu B: %llu runs, %llu of %llu slots used "
		       "(%.1f%%), %llu idle\n",
		       (unsigned long long)k->size,
		       (unsigned long long)k->runs,
		       (unsigned long long)k->used,
		       (unsigned long long)k->slots,
		       k->slots ? 100.0 * (double)k->used / (double)k->slots
				: 0.0,
		       (unsigned long long)k->idle_runs);
	}
	return 0;
}

static bool json;

static const struct opt info_opts[] = {
    OPT_BOOL('j', "json", &json, "print one JSON object"),
    OPT_END(),
};

static int info_run(int argc, char **argv)
{
	struct daxo_info info;
	static struct daxo_heap_info hi;
	daxo_pool *p;
	int ret;

	(void)argc;
	ret = daxo_open(argv[0], NULL, DAXO_RDONLY, &p);
	if (ret) {
		tool_err("info", argv[0], ret);
		/* busy or out of memory is a failure; anything else means
		 * there is no readable daxo pool at that path */
		return ret == -EBUSY || ret == -ENOMEM ? 1 : EXIT_NOT_POOL;
	}
	ret = daxo_pool_info(p, &info);
	if (!ret)
		ret = daxo_heap_info(p, &hi);
	if (ret) {
		tool_err("info", argv[0], ret);
		daxo_close(p);
		return 1;
	}
	ret = json ? print_json(&info, &hi) : print_text(&info, &hi);
	daxo_close(p);
	return ret;
}

const struct cmd cmd_info = {
    .name = "info",
    .summary = "describe a pool",
    .synopsis = "POOL [--json]",
    .about = "Describe a daxo pool: header fields, sizes, format version,\n"
	     "features, creation time, how it is mapped (pmem, DAX, device\n"
	     "DAX, MAP_SYNC) and whether recovery was pending. The pool is\n"
	     "opened read-only and not changed.\n",
    .args = "POOL",
    .min_args = 1,
    .max_args = 1,
    .opts = info_opts,
    .exits = "0 ok, 1 failed (e.g. pool busy), 2 usage error,\n"
	     "3 not a daxo pool or unreadable.",
    .run = info_run,
};
