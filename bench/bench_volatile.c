/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_volatile.c -- the volatile yardstick of daxo-bench: get rows on the
 * chained hash table of vol_kv.c in malloc memory, with the same keys and
 * values as the daxo and pmemobj get rows, and holding the same keys as
 * their pools do by then (the put rows' keys too: see bench_note_loaded).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "vol_kv.h"

#define VKV_BUCKETS (1u << 18) /* as pmemobj_kv in bench_pmemobj.c */

struct vo_lib {
	struct vkv *kv;
	unsigned char loaded[BENCH_NCLASS][BENCH_MAX_THREADS];
};

struct vo_thread {
	struct vkv *kv;
	const struct bench_workload *w;
	char *vbuf;
	char *keys;
};

static __thread char vo_err[128];

static int vo_open(void **out, const char *dir, uint64_t size, char *err,
		   size_t errlen)
{
	struct vo_lib *L = calloc(1, sizeof(*L));
	int rc;

	if (!L)
		return -ENOMEM;
	rc = vkv_open(VKV_BUCKETS, &L->kv);
	if (rc) {
		snprintf(err, errlen, "vkv_open: %s", strerror(-rc));
		free(L);
		return rc;
	}
	*out = L;
	return 0;
}

static void vo_close(void *lib)
{
	struct vo_lib *L = lib;

	vkv_close(L->kv);
	free(L);
}

static int vo_supports(const struct bench_workload *w)
{
	return w->kind == W_GET;
}

static void vo_counts(struct bench_counts *out)
{
	pmem_count_get(out); /* should stay 0: nothing here calls libpmem */
}

static const char *vo_errmsg(void)
{
	return vo_err;
}

static int op_get(void *arg, uint64_t i)
{
	struct vo_thread *t = arg;
	const char *key = t->keys + 16 * bench_key_index(t->w, i);
	size_t vlen = 0;
	int rc = vkv_get(t->kv, key, 16, t->vbuf, t->w->vsize, &vlen);

	if (rc || vlen != t->w->vsize) {
		snprintf(vo_err, sizeof(vo_err), "vkv_get: %s, %zu bytes",
			 rc ? strerror(-rc) : "wrong length", vlen);
		return rc ? rc : -EIO;
	}
	return 0;
}

static void vo_finish(void *lib, struct bench_row *r)
{
	for (int t = 0; t < r->nthreads; t++) {
		struct vo_thread *th = r->tctx[t];

		if (!th)
			continue;
		free(th->vbuf);
		free(th->keys);
		free(th);
		r->tctx[t] = NULL;
	}
}

/* vo_load -- put every key of (@w's value class, @tid) once */
static int vo_load(struct vo_lib *L, const struct bench_workload *w, int tid,
		   char *err, size_t errlen)
{
	int cls = bench_vclass(w);
	char key[16];
	char *val;

	if (L->loaded[cls][tid])
		return 0;
	val = malloc(w->vsize);
	if (!val)
		return -ENOMEM;
	bench_fill(val, w->vsize, (uint64_t)tid);
	for (uint64_t k = 0; k < w->nkeys; k++) {
		bench_key(key, w, tid, k);
		int rc = vkv_put(L->kv, key, 16, val, w->vsize);

		if (rc) {
			snprintf(err, errlen, "vkv_put: %s", strerror(-rc));
			free(val);
			return rc;
		}
	}
	free(val);
	L->loaded[cls][tid] = 1;
	return 0;
}

static int vo_prepare(void *lib, struct bench_row *r, char *err, size_t errlen)
{
	struct vo_lib *L = lib;
	const struct bench_workload *w = r->w;
	int rc;

	r->op = op_get;
	for (int t = 0; t < r->nthreads; t++) {
		struct vo_thread *th = calloc(1, sizeof(*th));

		r->tctx[t] = th;
		if (!th || !(th->vbuf = bench_buf(w->vsize)) ||
		    !(th->keys = malloc(16 * w->nkeys))) {
			vo_finish(L, r);
			return -ENOMEM;
		}
		th->kv = L->kv;
		th->w = w;
		for (uint64_t k = 0; k < w->nkeys; k++)
			bench_key(th->keys + 16 * k, w, t, k);
		rc = vo_load(L, w, t, err, errlen);
		if (rc) {
			vo_finish(L, r);
			return rc;
		}
	}
	/* the keys the persistent libraries' pools hold by now, too */
	for (int cls = 0; cls < BENCH_NCLASS; cls++)
		for (int t = 0; t < BENCH_MAX_THREADS; t++) {
			if (!bench_was_loaded(cls, t))
				continue;
			rc = vo_load(L, bench_class_workload(cls), t, err,
				     errlen);
			if (rc) {
				vo_finish(L, r);
				return rc;
			}
		}
	return 0;
}

const struct bench_lib bench_lib_volatile = {
    .name = "volatile",
    .open = vo_open,
    .close = vo_close,
    .supports = vo_supports,
    .prepare = vo_prepare,
    .finish = vo_finish,
    .counts = vo_counts,
    .errmsg = vo_errmsg,
    .count_source = "libpmem entry points",
};
