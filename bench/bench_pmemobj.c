/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_pmemobj.c -- the libpmemobj side of daxo-bench: the same workloads as
 * bench_daxo.c, written as a PMDK user would (TX_BEGIN/TX_END, pmemobj_tx_*,
 * pmemobj_alloc/free, the action API), on a libpmemobj pool of its own.
 *
 * Equivalents where libpmemobj has no exact counterpart:
 *  - tx-1field-redo (daxo_tx_write): libpmemobj transactions only undo-log
 *    user data; the redo-logged way to change a field is the action API,
 *    pmemobj_set_value + pmemobj_publish.
 *  - tx-1KiB-redo: TX_MEMCPY (an undo snapshot then memcpy), because actions
 *    set only 8-byte values.
 * Fences and flushed lines are counted by pmem_count.c at libpmem's entry
 * points.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpmemobj.h>

#include "bench.h"
#include "pmemobj_kv.h"

#define LAYOUT "daxo-bench"
#define TYPE_OBJ 1
#define TYPE_LINK 2
#define BIG 1024
#define KV_BUCKETS (1u << 18)

struct po_line {
	PMEMoid obj;
	PMEMoid big;
	PMEMoid slot;
	PMEMoid link;
};

struct po_root {
	struct po_line t[BENCH_MAX_THREADS];
	PMEMoid kv;
};

struct po_lib {
	PMEMobjpool *pop;
	char *path;
	struct po_root *root;
	struct pkv *kv;
	unsigned char loaded[BENCH_NCLASS][BENCH_MAX_THREADS];
};

struct po_thread {
	struct po_lib *L;
	PMEMobjpool *pop;
	struct po_line *line;
	uint64_t *field;
	char *big;
	const struct bench_workload *w;
	int tid;
	char *vbuf;
	char *keys;
};

static __thread char po_err[256];

static int fail(int rc, const char *what)
{
	int e = errno;

	snprintf(po_err, sizeof(po_err), "%s: %s", what, pmemobj_errormsg());
	if (rc)
		return rc;
	return e ? -e : -EIO;
}

static const char *po_errmsg(void)
{
	return po_err;
}

static int po_open(void **out, const char *dir, uint64_t size, char *err,
		   size_t errlen)
{
	struct po_lib *L = calloc(1, sizeof(*L));

	if (!L)
		return -ENOMEM;
	L->path = bench_pool_path(dir, "pmemobj", "main");
	if (!L->path) {
		free(L);
		return -ENOMEM;
	}
	unlink(L->path);
	L->pop = pmemobj_create(L->path, LAYOUT, size, 0600);
	if (!L->pop) {
		int e = errno;

		snprintf(err, errlen, "pmemobj_create %s: %s", L->path,
			 pmemobj_errormsg());
		free(L->path);
		free(L);
		return e ? -e : -EIO;
	}
	L->root = pmemobj_direct(
		pmemobj_root(L->pop, sizeof(struct po_root)));
	if (!L->root) {
		snprintf(err, errlen, "pmemobj_root: %s", pmemobj_errormsg());
		pmemobj_close(L->pop);
		unlink(L->path);
		free(L->path);
		free(L);
		return -ENOMEM;
	}
	*out = L;
	return 0;
}

static void po_close(void *lib)
{
	struct po_lib *L = lib;

	pkv_close(L->kv);
	pmemobj_close(L->pop);
	unlink(L->path);
	free(L->path);
	free(L);
}

static int po_supports(const struct bench_workload *w)
{
	return 1;
}

/* ---- the ops ---- */

static int op_tx_undo(void *arg, uint64_t i)
{
	struct po_thread *t = arg;
	volatile int rc = 0;

	TX_BEGIN(t->pop) {
		pmemobj_tx_add_range(t->line->obj, 0, sizeof(uint64_t));
		*t->field = i;
	} TX_ONABORT {
		rc = fail(0, "tx");
	} TX_END
	return rc;
}

static int op_tx_redo(void *arg, uint64_t i)
{
	struct po_thread *t = arg;
	struct pobj_action act;

	pmemobj_set_value(t->pop, &act, t->field, i);
	if (pmemobj_publish(t->pop, &act, 1))
		return fail(0, "pmemobj_publish");
	return 0;
}

static int op_alloc_free(void *arg, uint64_t i)
{
	struct po_thread *t = arg;

	if (pmemobj_alloc(t->pop, &t->line->slot, 64, TYPE_OBJ, NULL, NULL))
		return fail(0, "pmemobj_alloc");
	pmemobj_free(&t->line->slot);
	return 0;
}

static int op_tx_alloc_link(void *arg, uint64_t i)
{
	struct po_thread *t = arg;
	PMEMoid old = t->line->link;
	volatile int rc = 0;

	TX_BEGIN(t->pop) {
		PMEMoid n = pmemobj_tx_zalloc(64, TYPE_LINK);

		if (!OID_IS_NULL(old))
			pmemobj_tx_free(old);
		TX_ADD_DIRECT(&t->line->link);
		t->line->link = n;
	} TX_ONABORT {
		rc = fail(0, "tx");
	} TX_END
	return rc;
}

static int op_tx_1k_undo(void *arg, uint64_t i)
{
	struct po_thread *t = arg;
	volatile int rc = 0;

	memcpy(t->vbuf, &i, sizeof(i));
	TX_BEGIN(t->pop) {
		pmemobj_tx_add_range(t->line->big, 0, BIG);
		memcpy(t->big, t->vbuf, BIG);
	} TX_ONABORT {
		rc = fail(0, "tx");
	} TX_END
	return rc;
}

static int op_tx_1k_redo(void *arg, uint64_t i)
{
	struct po_thread *t = arg;
	volatile int rc = 0;

	memcpy(t->vbuf, &i, sizeof(i));
	TX_BEGIN(t->pop) {
		TX_MEMCPY(t->big, t->vbuf, BIG);
	} TX_ONABORT {
		rc = fail(0, "tx");
	} TX_END
	return rc;
}

static int op_put(void *arg, uint64_t i)
{
	struct po_thread *t = arg;
	const char *key = t->keys + 16 * bench_key_index(t->w, i);

	memcpy(t->vbuf, &i, sizeof(i));
	int rc = pkv_put(t->L->kv, key, 16, t->vbuf, bench_put_vlen(t->w, i));

	return rc ? fail(rc, "pkv_put") : 0;
}

static int op_get(void *arg, uint64_t i)
{
	struct po_thread *t = arg;
	const char *key = t->keys + 16 * bench_key_index(t->w, i);
	size_t vlen = 0;
	int rc = pkv_get(t->L->kv, key, 16, t->vbuf, t->w->vsize, &vlen);

	if (rc)
		return fail(rc, "pkv_get");
	if (vlen != t->w->vsize) {
		snprintf(po_err, sizeof(po_err),
			 "pkv_get: value of %zu bytes, expected %zu", vlen,
			 t->w->vsize);
		return -EIO;
	}
	return 0;
}

/* ---- rows ---- */

static int need_objects(struct po_lib *L, int nthreads, char *err,
			size_t errlen)
{
	for (int t = 0; t < nthreads; t++) {
		struct po_line *ln = &L->root->t[t];

		if ((OID_IS_NULL(ln->obj) &&
		     pmemobj_zalloc(L->pop, &ln->obj, 64, TYPE_OBJ)) ||
		    (OID_IS_NULL(ln->big) &&
		     pmemobj_zalloc(L->pop, &ln->big, BIG, TYPE_OBJ))) {
			int e = errno;

			snprintf(err, errlen, "pmemobj_zalloc: %s",
				 pmemobj_errormsg());
			return e ? -e : -ENOMEM;
		}
	}
	return 0;
}

static void po_finish(void *lib, struct bench_row *r)
{
	for (int t = 0; t < r->nthreads; t++) {
		struct po_thread *th = r->tctx[t];

		if (!th)
			continue;
		free(th->vbuf);
		free(th->keys);
		free(th);
		r->tctx[t] = NULL;
	}
}

static int preload(struct po_lib *L, struct po_thread *th, char *err,
		   size_t errlen)
{
	unsigned char *done = &L->loaded[bench_vclass(th->w)][th->tid];

	if (*done)
		return 0;
	bench_fill(th->vbuf, th->w->vsize, (uint64_t)th->tid);
	for (uint64_t k = 0; k < th->w->nkeys; k++) {
		int rc = pkv_put(L->kv, th->keys + 16 * k, 16, th->vbuf,
				 th->w->vsize);

		if (rc) {
			snprintf(err, errlen, "pkv_put (preload): %s",
				 pmemobj_errormsg());
			return rc;
		}
	}
	*done = 1;
	bench_note_loaded(th->w, th->tid);
	return 0;
}

static int po_prepare(void *lib, struct bench_row *r, char *err,
		      size_t errlen)
{
	struct po_lib *L = lib;
	const struct bench_workload *w = r->w;
	int rc;

	if (w->kind == W_PUT || w->kind == W_GET) {
		if (!L->kv) {
			rc = pkv_open(L->pop, &L->root->kv, KV_BUCKETS, &L->kv);
			if (rc) {
				snprintf(err, errlen, "pkv_open: %s",
					 pmemobj_errormsg());
				return rc;
			}
		}
	} else {
		rc = need_objects(L, r->nthreads, err, errlen);
		if (rc)
			return rc;
	}

	static int (*const ops[])(void *, uint64_t) = {
		[W_TX_UNDO] = op_tx_undo,	[W_TX_REDO] = op_tx_redo,
		[W_ALLOC_FREE] = op_alloc_free,
		[W_TX_ALLOC_LINK] = op_tx_alloc_link,
		[W_TX_1K_UNDO] = op_tx_1k_undo, [W_TX_1K_REDO] = op_tx_1k_redo,
		[W_PUT] = op_put,		[W_GET] = op_get,
	};
	r->op = ops[w->kind];
	for (int t = 0; t < r->nthreads; t++) {
		struct po_thread *th = calloc(1, sizeof(*th));
		size_t vsz = w->vsize > BIG ? w->vsize : BIG;

		r->tctx[t] = th;
		if (!th || !(th->vbuf = bench_buf(vsz))) {
			po_finish(L, r);
			return -ENOMEM;
		}
		th->L = L;
		th->pop = L->pop;
		th->w = w;
		th->tid = t;
		th->line = &L->root->t[t];
		th->field = pmemobj_direct(th->line->obj);
		th->big = pmemobj_direct(th->line->big);
		bench_fill(th->vbuf, vsz, (uint64_t)t);
		if (w->kind == W_PUT || w->kind == W_GET) {
			th->keys = malloc(16 * w->nkeys);
			if (!th->keys) {
				po_finish(L, r);
				return -ENOMEM;
			}
			for (uint64_t k = 0; k < w->nkeys; k++)
				bench_key(th->keys + 16 * k, w, t, k);
			rc = preload(L, th, err, errlen);
			if (rc) {
				po_finish(L, r);
				return rc;
			}
		}
	}
	return 0;
}

const struct bench_lib bench_lib_pmemobj = {
	.name = "pmemobj",
	.open = po_open,
	.close = po_close,
	.supports = po_supports,
	.prepare = po_prepare,
	.finish = po_finish,
	.counts = pmem_count_get,
	.errmsg = po_errmsg,
	.count_source = "libpmem entry points",
	.counts_libpmem = 1,
};

/* ---- open time ---- */

int bench_pmemobj_open_time(const char *dir, uint64_t size, uint64_t nobj,
			    int reps, double *ms, char *err, size_t errlen)
{
	char *path = bench_pool_path(dir, "pmemobj", "open");
	PMEMobjpool *pop;
	double t[16];
	int rc = 0;

	if (!path)
		return -ENOMEM;
	if (reps > 16)
		reps = 16;
	unlink(path);
	pop = pmemobj_create(path, LAYOUT "-open", size, 0600);
	if (!pop) {
		rc = errno ? -errno : -EIO;
		snprintf(err, errlen, "pmemobj_create: %s", pmemobj_errormsg());
		goto out;
	}
	for (uint64_t k = 0; k < nobj; k++) {
		if (pmemobj_alloc(pop, NULL, 64, TYPE_OBJ, NULL, NULL)) {
			rc = errno ? -errno : -ENOMEM;
			snprintf(err, errlen, "pmemobj_alloc #%" PRIu64 ": %s",
				 k, pmemobj_errormsg());
			pmemobj_close(pop);
			goto out;
		}
	}
	pmemobj_close(pop);
	for (int k = 0; k < reps; k++) {
		uint64_t t0 = bench_now_ns();

		pop = pmemobj_open(path, LAYOUT "-open");
		t[k] = (double)(bench_now_ns() - t0) / 1e6;
		if (!pop) {
			rc = errno ? -errno : -EIO;
			snprintf(err, errlen, "pmemobj_open: %s",
				 pmemobj_errormsg());
			goto out;
		}
		pmemobj_close(pop);
	}
	for (int a = 1; a < reps; a++)
		for (int b = a; b > 0 && t[b - 1] > t[b]; b--) {
			double x = t[b];

			t[b] = t[b - 1];
			t[b - 1] = x;
		}
	*ms = t[reps / 2];
out:
	unlink(path);
	free(path);
	return rc;
}
