/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ycsb_rocksdb.c -- daxo-ycsb's RocksDB store, through RocksDB's C API
 * (rocksdb/c.h): one database directory, default column family.
 *
 * Durability: every put uses WriteOptions with sync = true: RocksDB appends
 * the record to its write-ahead log and, before the put returns, the log is
 * synced (fdatasync, or fsync with use_fsync) -- by this thread, or by the
 * leader of the write group this put joined, which syncs the log once for
 * every member. The memtable holds the value in memory; the SST files that
 * background flushes and compactions write are synced by those threads.
 *
 * Options an experienced user would set for point lookups of values that do
 * not compress: OptimizeForPointLookup (a 256 MiB block cache, a bloom
 * filter, a hash index inside data blocks), no compression. After the load
 * the whole key range is compacted once (untimed), so that every run starts
 * from the same settled tree. Reads use rocksdb_get_pinned, which hands back
 * the value without copying it into a new allocation; the driver copies it.
 * A batch of reads (--batch) is one rocksdb_batched_multi_get_cf.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rocksdb/c.h>

#include "ycsb.h"

struct yr {
	rocksdb_t *db;
	rocksdb_column_family_handle_t *cf; /* the default column family */
	rocksdb_options_t *opts;
	rocksdb_writeoptions_t *wo;
	rocksdb_readoptions_t *ro;
	char *path;
};

static __thread char yr_err[256];

static int yr_fail(char *e, const char *what)
{
	snprintf(yr_err, sizeof(yr_err), "%s: %s", what, e);
	rocksdb_free(e);
	return -EIO;
}

static void yr_free(struct yr *s)
{
	if (s->cf)
		rocksdb_column_family_handle_destroy(s->cf);
	if (s->db)
		rocksdb_close(s->db);
	if (s->opts)
		rocksdb_options_destroy(s->opts);
	if (s->wo)
		rocksdb_writeoptions_destroy(s->wo);
	if (s->ro)
		rocksdb_readoptions_destroy(s->ro);
	if (s->path) {
		bench_remove_path(s->path);
		free(s->path);
	}
	free(s);
}

static int yr_open(void **out, const char *dir, const struct ycsb_params *pr,
		   char *err, size_t errlen)
{
	struct yr *s = calloc(1, sizeof(*s));
	char *e = NULL;

	if (!s)
		return -ENOMEM;
	s->path = bench_pool_path(dir, "rocksdb", "ycsb");
	s->opts = rocksdb_options_create();
	s->wo = rocksdb_writeoptions_create();
	s->ro = rocksdb_readoptions_create();
	if (!s->path || !s->opts || !s->wo || !s->ro) {
		yr_free(s);
		return -ENOMEM;
	}
	rocksdb_options_set_create_if_missing(s->opts, 1);
	rocksdb_options_set_error_if_exists(s->opts, 1);
	rocksdb_options_optimize_for_point_lookup(s->opts, 256);
	rocksdb_options_set_compression(s->opts, rocksdb_no_compression);
	rocksdb_writeoptions_set_sync(s->wo, 1);
	/* opened by column family: batched reads need its handle */
	const char *cfn[1] = {"default"};
	const rocksdb_options_t *cfo[1] = {s->opts};
	s->db = rocksdb_open_column_families(s->opts, s->path, 1, cfn, cfo,
					     &s->cf, &e);
	if (e) {
		snprintf(err, errlen, "rocksdb_open %s: %s", s->path, e);
		rocksdb_free(e);
		yr_free(s);
		return -EIO;
	}
	*out = s;
	return 0;
}

static void yr_close(void *st)
{
	yr_free(st);
}

static int yr_loaded(void *st, char *err, size_t errlen)
{
	struct yr *s = st;

	rocksdb_compact_range(s->db, NULL, 0, NULL, 0);
	return 0;
}

static int yr_thread_init(void *st, void **tctx, char *err, size_t errlen)
{
	*tctx = st;
	return 0;
}

static void yr_thread_fini(void *st, void *tctx)
{
}

static int yr_read(void *tctx, const void *key, size_t klen, void *buf,
		   size_t cap, size_t *vlen)
{
	struct yr *s = tctx;
	char *e = NULL;
	rocksdb_pinnableslice_t *ps =
	    rocksdb_get_pinned(s->db, s->ro, key, klen, &e);
	const char *v;
	size_t n;

	if (e)
		return yr_fail(e, "rocksdb_get_pinned");
	if (!ps)
		return -ENOENT;
	v = rocksdb_pinnableslice_value(ps, &n);
	memcpy(buf, v, n < cap ? n : cap);
	*vlen = n;
	rocksdb_pinnableslice_destroy(ps);
	return 0;
}

/* a batch of reads: MultiGet, the values pinned, not copied twice */
static int yr_read_many(void *tctx, struct daxo_get_req *q, size_t n)
{
	struct yr *s = tctx;
	const char *keys[64] = {NULL};
	size_t klens[64] = {0};
	rocksdb_pinnableslice_t *vals[64];
	char *errs[64];

	if (n > 64)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		keys[i] = q[i].key;
		klens[i] = q[i].klen;
	}
	rocksdb_batched_multi_get_cf(s->db, s->ro, s->cf, n, keys, klens, vals,
				     errs, false);
	for (size_t i = 0; i < n; i++) {
		if (errs[i]) {
			q[i].rc = yr_fail(errs[i], "rocksdb_batched_multi_get");
			if (vals[i])
				rocksdb_pinnableslice_destroy(vals[i]);
			continue;
		}
		if (!vals[i]) {
			q[i].rc = -ENOENT;
			continue;
		}
		size_t len;
		const char *v = rocksdb_pinnableslice_value(vals[i], &len);

		memcpy(q[i].buf, v, len < q[i].cap ? len : q[i].cap);
		q[i].vlen = len;
		q[i].rc = 0;
		rocksdb_pinnableslice_destroy(vals[i]);
	}
	return 0;
}

static int yr_put(void *tctx, const void *key, size_t klen, const void *val,
		  size_t vlen)
{
	struct yr *s = tctx;
	char *e = NULL;

	rocksdb_put(s->db, s->wo, key, klen, val, vlen, &e);
	return e ? yr_fail(e, "rocksdb_put") : 0;
}

static const char *yr_errmsg(void)
{
	return yr_err;
}

const struct ycsb_store ycsb_rocksdb = {
    .name = "rocksdb",
    .open = yr_open,
    .close = yr_close,
    .thread_init = yr_thread_init,
    .thread_fini = yr_thread_fini,
    .read = yr_read,
    .read_many = yr_read_many,
    .put = yr_put,
    .loaded = yr_loaded,
    .counts = ycsb_no_counts,
    .errmsg = yr_errmsg,
};
