/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_daxo.c -- the daxo side of daxo-bench: every workload on a daxo pool
 * through the public API (include/daxo.h) only.
 *
 * The heap, transaction and keyed-store functions are referenced weakly, so
 * that the benchmark still builds and runs against a libdaxo that lacks some
 * of them: those rows then report "error: ... not in this libdaxo" instead
 * of failing the build or crashing.
 *
 * The pool's root object holds one 64-byte line per thread (its one-field
 * object, its 1 KiB object, its alloc/free slot and its linked object), so
 * that threads never write to the same cache line.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daxo.h"
#include "bench.h"

#pragma weak daxo_root
#pragma weak daxo_alloc
#pragma weak daxo_free
#pragma weak daxo_tx_begin
#pragma weak daxo_tx_add_range
#pragma weak daxo_tx_write
#pragma weak daxo_tx_alloc
#pragma weak daxo_tx_free
#pragma weak daxo_tx_commit
#pragma weak daxo_tx_abort
#pragma weak daxo_put
#pragma weak daxo_get

#define TYPE_OBJ  1
#define TYPE_LINK 2
#define BIG	  1024

struct dx_line {
	daxo_oid obj;  /* 64 B object whose first field the tx rows change */
	daxo_oid big;  /* 1 KiB object */
	daxo_oid slot; /* alloc+free destination */
	daxo_oid link; /* tx-alloc-link: the current linked object */
	uint64_t pad[4];
};

struct dx_root {
	struct dx_line t[BENCH_MAX_THREADS];
};

struct dx_lib {
	daxo_pool *p;
	char *path;
	struct dx_root *root;
	/* keys of (value class, thread) already in the store */
	unsigned char loaded[BENCH_NCLASS][BENCH_MAX_THREADS];
};

struct dx_thread {
	struct dx_lib *L;
	daxo_pool *p;
	struct dx_line *line;
	uint64_t *field;
	char *big;
	const struct bench_workload *w;
	int tid;
	char *vbuf;
	char *keys; /* nkeys * 16 bytes */
};

static __thread char dx_err[256];

/* fail -- keep the message of a failed call (abort may replace it) */
static int fail(int rc, const char *what)
{
	snprintf(dx_err, sizeof(dx_err), "%s: %s", what, daxo_errormsg());
	return rc ? rc : -EIO;
}

static const char *dx_errmsg(void)
{
	return dx_err;
}

static int missing(const char *fn, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s is not in this libdaxo", fn);
	return -ENOSYS;
}

static int dx_open(void **out, const char *dir, uint64_t size, char *err,
		   size_t errlen)
{
	struct dx_lib *L = calloc(1, sizeof(*L));

	if (!L)
		return -ENOMEM;
	L->path = bench_pool_path(dir, "daxo", "main");
	if (!L->path) {
		free(L);
		return -ENOMEM;
	}
	unlink(L->path);
	/* DAXO_BENCH_CHECKSUMS=1: the keyed store's values carry checksums */
	const char *cs = getenv("DAXO_BENCH_CHECKSUMS");
	struct daxo_create_opts o = {
	    .flags = cs && !strcmp(cs, "1") ? DAXO_CREATE_CHECKSUMS : 0};
	int rc = daxo_pool_create(L->path, "daxo-bench", size, 0600, &o,
				  &L->p);

	if (rc) {
		snprintf(err, errlen, "daxo_create %s: %s", L->path,
			 daxo_errormsg());
		free(L->path);
		free(L);
		return rc;
	}
	*out = L;
	return 0;
}

static void dx_close(void *lib)
{
	struct dx_lib *L = lib;

	daxo_close(L->p);
	unlink(L->path);
	free(L->path);
	free(L);
}

static int dx_supports(const struct bench_workload *w)
{
	return 1;
}

/* ---- the ops ---- */

static int op_tx_undo(void *arg, uint64_t i)
{
	struct dx_thread *t = arg;
	daxo_tx *tx;
	int rc = daxo_tx_begin(t->p, &tx);

	if (rc)
		return fail(rc, "daxo_tx_begin");
	rc = daxo_tx_add_range(tx, t->field, sizeof(*t->field));
	if (rc) {
		rc = fail(rc, "daxo_tx_add_range");
		daxo_tx_abort(tx);
		return rc;
	}
	*t->field = i;
	rc = daxo_tx_commit(tx);
	return rc ? fail(rc, "daxo_tx_commit") : 0;
}

static int op_tx_redo(void *arg, uint64_t i)
{
	struct dx_thread *t = arg;
	daxo_tx *tx;
	int rc = daxo_tx_begin(t->p, &tx);

	if (rc)
		return fail(rc, "daxo_tx_begin");
	rc = daxo_tx_write(tx, t->field, &i, sizeof(i));
	if (rc) {
		rc = fail(rc, "daxo_tx_write");
		daxo_tx_abort(tx);
		return rc;
	}
	rc = daxo_tx_commit(tx);
	return rc ? fail(rc, "daxo_tx_commit") : 0;
}

static int op_alloc_free(void *arg, uint64_t i)
{
	struct dx_thread *t = arg;
	int rc = daxo_alloc(t->p, 64, TYPE_OBJ, &t->line->slot);

	if (rc)
		return fail(rc, "daxo_alloc");
	rc = daxo_free(t->p, &t->line->slot);
	return rc ? fail(rc, "daxo_free") : 0;
}

static int op_tx_alloc_link(void *arg, uint64_t i)
{
	struct dx_thread *t = arg;
	daxo_oid old = t->line->link, n;
	daxo_tx *tx;
	int rc = daxo_tx_begin(t->p, &tx);

	if (rc)
		return fail(rc, "daxo_tx_begin");
	rc = daxo_tx_alloc(tx, 64, TYPE_LINK, &n);
	if (rc) {
		rc = fail(rc, "daxo_tx_alloc");
		goto abort;
	}
	if (old) {
		rc = daxo_tx_free(tx, old);
		if (rc) {
			rc = fail(rc, "daxo_tx_free");
			goto abort;
		}
	}
	rc = daxo_tx_write(tx, &t->line->link, &n, sizeof(n));
	if (rc) {
		rc = fail(rc, "daxo_tx_write");
		goto abort;
	}
	rc = daxo_tx_commit(tx);
	return rc ? fail(rc, "daxo_tx_commit") : 0;
abort:
	daxo_tx_abort(tx);
	return rc;
}

static int op_tx_1k_undo(void *arg, uint64_t i)
{
	struct dx_thread *t = arg;
	daxo_tx *tx;
	int rc = daxo_tx_begin(t->p, &tx);

	if (rc)
		return fail(rc, "daxo_tx_begin");
	rc = daxo_tx_add_range(tx, t->big, BIG);
	if (rc) {
		rc = fail(rc, "daxo_tx_add_range");
		daxo_tx_abort(tx);
		return rc;
	}
	memcpy(t->vbuf, &i, sizeof(i));
	memcpy(t->big, t->vbuf, BIG);
	rc = daxo_tx_commit(tx);
	return rc ? fail(rc, "daxo_tx_commit") : 0;
}

static int op_tx_1k_redo(void *arg, uint64_t i)
{
	struct dx_thread *t = arg;
	daxo_tx *tx;
	int rc = daxo_tx_begin(t->p, &tx);

	if (rc)
		return fail(rc, "daxo_tx_begin");
	memcpy(t->vbuf, &i, sizeof(i));
	rc = daxo_tx_write(tx, t->big, t->vbuf, BIG);
	if (rc) {
		rc = fail(rc, "daxo_tx_write");
		daxo_tx_abort(tx);
		return rc;
	}
	rc = daxo_tx_commit(tx);
	return rc ? fail(rc, "daxo_tx_commit") : 0;
}

static int op_put(void *arg, uint64_t i)
{
	struct dx_thread *t = arg;
	const char *key = t->keys + 16 * bench_key_index(t->w, i);

	memcpy(t->vbuf, &i, sizeof(i));
	int rc = daxo_put(t->p, key, 16, t->vbuf, bench_put_vlen(t->w, i));

	return rc ? fail(rc, "daxo_put") : 0;
}

static int op_get(void *arg, uint64_t i)
{
	struct dx_thread *t = arg;
	const char *key = t->keys + 16 * bench_key_index(t->w, i);
	size_t vlen = 0;
	int rc = daxo_get(t->p, key, 16, t->vbuf, t->w->vsize, &vlen);

	if (rc)
		return fail(rc, "daxo_get");
	if (vlen != t->w->vsize) {
		snprintf(dx_err, sizeof(dx_err),
			 "daxo_get: value of %zu bytes, expected %zu", vlen,
			 t->w->vsize);
		return -EIO;
	}
	return 0;
}

/* ---- rows ---- */

static int need_objects(struct dx_lib *L, int nthreads, char *err,
			size_t errlen)
{
	if (!daxo_root)
		return missing("daxo_root", err, errlen);
	if (!daxo_alloc || !daxo_free)
		return missing("daxo_alloc", err, errlen);
	if (!L->root) {
		daxo_oid r;
		int rc = daxo_root(L->p, sizeof(struct dx_root), &r);

		if (rc) {
			snprintf(err, errlen, "daxo_root: %s", daxo_errormsg());
			return rc;
		}
		L->root = daxo_direct(L->p, r);
	}
	for (int t = 0; t < nthreads; t++) {
		struct dx_line *ln = &L->root->t[t];
		int rc = 0;

		if (!ln->obj)
			rc = daxo_alloc(L->p, 64, TYPE_OBJ, &ln->obj);
		if (!rc && !ln->big)
			rc = daxo_alloc(L->p, BIG, TYPE_OBJ, &ln->big);
		if (rc) {
			snprintf(err, errlen, "daxo_alloc: %s",
				 daxo_errormsg());
			return rc;
		}
	}
	return 0;
}

static void dx_finish(void *lib, struct bench_row *r)
{
	for (int t = 0; t < r->nthreads; t++) {
		struct dx_thread *th = r->tctx[t];

		if (!th)
			continue;
		free(th->vbuf);
		free(th->keys);
		free(th);
		r->tctx[t] = NULL;
	}
}

/* preload -- put every key of (w's value class, tid) once */
static int preload(struct dx_lib *L, struct dx_thread *th, char *err,
		   size_t errlen)
{
	unsigned char *done = &L->loaded[bench_vclass(th->w)][th->tid];

	if (*done)
		return 0;
	bench_fill(th->vbuf, th->w->vsize, (uint64_t)th->tid);
	for (uint64_t k = 0; k < th->w->nkeys; k++) {
		int rc = daxo_put(L->p, th->keys + 16 * k, 16, th->vbuf,
				  th->w->vsize);

		if (rc) {
			snprintf(err, errlen, "daxo_put (preload): %s",
				 daxo_errormsg());
			return rc;
		}
	}
	*done = 1;
	bench_note_loaded(th->w, th->tid);
	return 0;
}

static int dx_prepare(void *lib, struct bench_row *r, char *err, size_t errlen)
{
	struct dx_lib *L = lib;
	const struct bench_workload *w = r->w;
	int rc = 0;

	bool undo = w->kind == W_TX_UNDO || w->kind == W_TX_1K_UNDO;
	bool tx = undo || w->kind == W_TX_REDO || w->kind == W_TX_1K_REDO ||
		  w->kind == W_TX_ALLOC_LINK;

	if (undo && !daxo_tx_add_range)
		return missing("daxo_tx_add_range", err, errlen);
	if (tx && (!daxo_tx_begin || !daxo_tx_write || !daxo_tx_commit ||
		   !daxo_tx_abort))
		return missing("daxo_tx_begin", err, errlen);
	if (w->kind == W_TX_ALLOC_LINK && (!daxo_tx_alloc || !daxo_tx_free))
		return missing("daxo_tx_alloc", err, errlen);
	if (w->kind == W_PUT || w->kind == W_GET) {
		if (!daxo_put)
			return missing("daxo_put", err, errlen);
		if (w->kind == W_GET && !daxo_get)
			return missing("daxo_get", err, errlen);
	} else {
		rc = need_objects(L, r->nthreads, err, errlen);
	}
	if (rc)
		return rc;

	static int (*const ops[])(void *, uint64_t) = {
	    [W_TX_UNDO] = op_tx_undo,
	    [W_TX_REDO] = op_tx_redo,
	    [W_ALLOC_FREE] = op_alloc_free,
	    [W_TX_ALLOC_LINK] = op_tx_alloc_link,
	    [W_TX_1K_UNDO] = op_tx_1k_undo,
	    [W_TX_1K_REDO] = op_tx_1k_redo,
	    [W_PUT] = op_put,
	    [W_GET] = op_get,
	};
	r->op = ops[w->kind];
	for (int t = 0; t < r->nthreads; t++) {
		struct dx_thread *th = calloc(1, sizeof(*th));
		size_t vsz = w->vsize > BIG ? w->vsize : BIG;

		r->tctx[t] = th;
		if (!th || !(th->vbuf = bench_buf(vsz))) {
			dx_finish(L, r);
			return -ENOMEM;
		}
		th->L = L;
		th->p = L->p;
		th->w = w;
		th->tid = t;
		bench_fill(th->vbuf, vsz, (uint64_t)t);
		if (L->root) {
			th->line = &L->root->t[t];
			th->field = daxo_direct(L->p, th->line->obj);
			th->big = daxo_direct(L->p, th->line->big);
		}
		if (w->kind == W_PUT || w->kind == W_GET) {
			th->keys = malloc(16 * w->nkeys);
			if (!th->keys) {
				dx_finish(L, r);
				return -ENOMEM;
			}
			for (uint64_t k = 0; k < w->nkeys; k++)
				bench_key(th->keys + 16 * k, w, t, k);
			rc = preload(L, th, err, errlen);
			if (rc) {
				dx_finish(L, r);
				return rc;
			}
		}
	}
	return 0;
}

const struct bench_lib bench_lib_daxo = {
    .name = "daxo",
    .open = dx_open,
    .close = dx_close,
    .supports = dx_supports,
    .prepare = dx_prepare,
    .finish = dx_finish,
    .counts = bench_daxo_counts,
    .errmsg = dx_errmsg,
    .count_source = "daxo_thread_stats",
};

/* ---- open time ---- */

/*
 * bench_daxo_open_time -- create a pool of @size holding @nobj objects of
 * 64 B, close it, then time daxo_open @reps times; *ms is the median.
 */
int bench_daxo_open_time(const char *dir, uint64_t size, uint64_t nobj,
			 int reps, double *ms, char *err, size_t errlen)
{
	char *path = bench_pool_path(dir, "daxo", "open");
	daxo_pool *p = NULL;
	double t[16];
	int rc;

	if (!path)
		return -ENOMEM;
	if (reps > 16)
		reps = 16;
	unlink(path);
	rc = daxo_create(path, "daxo-bench-open", size, 0600, &p);
	if (rc) {
		snprintf(err, errlen, "daxo_create: %s", daxo_errormsg());
		goto out;
	}
	if (nobj && !daxo_alloc) {
		rc = missing("daxo_alloc", err, errlen);
		daxo_close(p);
		goto out;
	}
	for (uint64_t k = 0; k < nobj; k++) {
		daxo_oid o; /* volatile destination: the object stays live */

		rc = daxo_alloc(p, 64, TYPE_OBJ, &o);
		if (rc) {
			snprintf(err, errlen, "daxo_alloc #%" PRIu64 ": %s", k,
				 daxo_errormsg());
			daxo_close(p);
			goto out;
		}
	}
	daxo_close(p);
	for (int k = 0; k < reps; k++) {
		uint64_t t0 = bench_now_ns();

		rc = daxo_open(path, "daxo-bench-open", 0, &p);
		t[k] = (double)(bench_now_ns() - t0) / 1e6;
		if (rc) {
			snprintf(err, errlen, "daxo_open: %s", daxo_errormsg());
			goto out;
		}
		daxo_close(p);
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
