/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ycsb_pmemobj.c -- daxo-ycsb's libpmemobj store: the chained hash table of
 * pmemobj_kv.c (written the idiomatic PMDK way: a transaction per put, a
 * PMEMrwlock per bucket) in a libpmemobj pool. A put's transaction has
 * committed, durable, when it returns. Fences and flushed lines are counted
 * at libpmem's entry points (pmem_count.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <libpmemobj.h>

#include "pmemobj_kv.h"
#include "ycsb.h"

struct yp {
	PMEMobjpool *pop;
	struct pkv *kv;
	char *path;
};

static __thread char yp_err[256];

static int yp_open(void **out, const char *dir, const struct ycsb_params *pr,
		   char *err, size_t errlen)
{
	struct yp *s = calloc(1, sizeof(*s));
	uint64_t size = pr->records * (pr->vsize + 256) * 2 + (64ull << 20);
	uint64_t nb = 1024;
	int rc;

	if (!s)
		return -ENOMEM;
	/* a bucket per key or more (the table does not resize) */
	while (nb < pr->records)
		nb *= 2;
	s->path = bench_pool_path(dir, "pmemobj", "ycsb");
	if (!s->path) {
		free(s);
		return -ENOMEM;
	}
	s->pop = pmemobj_create(s->path, "daxo-ycsb", size, 0600);
	if (!s->pop) {
		rc = -errno;
		snprintf(err, errlen, "pmemobj_create %s: %s", s->path,
			 pmemobj_errormsg());
		goto fail;
	}
	PMEMoid root = pmemobj_root(s->pop, sizeof(PMEMoid));
	rc = pkv_open(s->pop, pmemobj_direct(root), nb, &s->kv);
	if (rc) {
		snprintf(err, errlen, "pkv_open: %s", pmemobj_errormsg());
		pmemobj_close(s->pop);
		goto fail;
	}
	*out = s;
	return 0;
fail:
	bench_remove_path(s->path);
	free(s->path);
	free(s);
	return rc ? rc : -EIO;
}

static void yp_close(void *st)
{
	struct yp *s = st;

	pkv_close(s->kv);
	pmemobj_close(s->pop);
	bench_remove_path(s->path);
	free(s->path);
	free(s);
}

static int yp_thread_init(void *st, void **tctx, char *err, size_t errlen)
{
	*tctx = ((struct yp *)st)->kv;
	return 0;
}

static void yp_thread_fini(void *st, void *tctx)
{
}

static int yp_read(void *tctx, const void *key, size_t klen, void *buf,
		   size_t cap, size_t *vlen)
{
	int rc = pkv_get(tctx, key, klen, buf, cap, vlen);

	if (rc)
		snprintf(yp_err, sizeof(yp_err), "pkv_get: %d", rc);
	return rc;
}

static int yp_put(void *tctx, const void *key, size_t klen, const void *val,
		  size_t vlen)
{
	int rc = pkv_put(tctx, key, klen, val, vlen);

	if (rc)
		snprintf(yp_err, sizeof(yp_err), "pkv_put: %s",
			 pmemobj_errormsg());
	return rc;
}

static const char *yp_errmsg(void)
{
	return yp_err;
}

const struct ycsb_store ycsb_pmemobj = {
    .name = "pmemobj",
    .open = yp_open,
    .close = yp_close,
    .thread_init = yp_thread_init,
    .thread_fini = yp_thread_fini,
    .read = yp_read,
    .put = yp_put,
    .counts = pmem_count_get,
    .errmsg = yp_errmsg,
    .count_source = "libpmem entry points",
    .counts_libpmem = 1,
};
