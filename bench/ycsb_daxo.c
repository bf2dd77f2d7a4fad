/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ycsb_daxo.c -- daxo-ycsb's daxo store: the keyed store of one daxo pool,
 * through the public API (daxo_put, daxo_get, and daxo_get_many for
 * batched reads). A put returns when it is durable (one fence for a value
 * replaced by one of the same length).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "daxo.h"
#include "ycsb.h"

struct yd {
	daxo_pool *p;
	char *path;
};

static int yd_open(void **out, const char *dir, const struct ycsb_params *pr,
		   char *err, size_t errlen)
{
	struct yd *s = calloc(1, sizeof(*s));
	/* entries (header, key, line-aligned value) and a table at load 1/2,
	 * twice over for the allocator's classes, and room to spare */
	uint64_t size = pr->records * (pr->vsize + 256) * 2 + (64ull << 20);
	int rc;

	if (!s)
		return -ENOMEM;
	s->path = bench_pool_path(dir, "daxo", "ycsb");
	if (!s->path) {
		free(s);
		return -ENOMEM;
	}
	rc = daxo_create(s->path, "daxo-ycsb", size, 0600, &s->p);
	if (rc) {
		snprintf(err, errlen, "daxo_create %s: %s", s->path,
			 daxo_errormsg());
		bench_remove_path(s->path);
		free(s->path);
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

static void yd_close(void *st)
{
	struct yd *s = st;

	daxo_close(s->p);
	bench_remove_path(s->path);
	free(s->path);
	free(s);
}

static int yd_thread_init(void *st, void **tctx, char *err, size_t errlen)
{
	*tctx = ((struct yd *)st)->p;
	return 0;
}

static void yd_thread_fini(void *st, void *tctx)
{
}

static int yd_read(void *tctx, const void *key, size_t klen, void *buf,
		   size_t cap, size_t *vlen)
{
	return daxo_get(tctx, key, klen, buf, cap, vlen);
}

static int yd_read_many(void *tctx, struct daxo_get_req *q, size_t n)
{
	int r = daxo_get_many(tctx, q, n);

	return r < 0 ? r : 0;
}

static int yd_put(void *tctx, const void *key, size_t klen, const void *val,
		  size_t vlen)
{
	return daxo_put(tctx, key, klen, val, vlen);
}

const struct ycsb_store ycsb_daxo = {
    .name = "daxo",
    .open = yd_open,
    .close = yd_close,
    .thread_init = yd_thread_init,
    .thread_fini = yd_thread_fini,
    .read = yd_read,
    .read_many = yd_read_many,
    .put = yd_put,
    .counts = bench_daxo_counts,
    .errmsg = daxo_errormsg,
    .count_source = "daxo_thread_stats",
};
