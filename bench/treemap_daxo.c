/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * treemap_daxo.c -- daxo-treemap's daxo side: the ports of rbtree_map.c and
 * ctree_map.c in bench/tree_map/, called as treemap_pmemobj.c calls the
 * originals. Fences and flushed lines from daxo_thread_stats.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "daxo.h"
#include "ctree_map_daxo.h"
#include "rbtree_map_daxo.h"
#include "treemap.h"

#define TM_VALUE_TYPE 7

struct td_root {
	daxo_oid rb, ct;
};

struct td {
	daxo_pool *p;
	struct td_root *root;
	char *path;
};

static __thread char td_err[256];

static int td_fail(int rc, const char *what)
{
	snprintf(td_err, sizeof(td_err), "%s: %s (%d)", what, daxo_errormsg(),
		 rc);
	return rc;
}

static const char *td_errmsg(void)
{
	return td_err;
}

static int td_open(void **out, const char *dir, uint64_t size, char *err,
		   size_t errlen)
{
	struct td *t = calloc(1, sizeof(*t));
	daxo_oid r;
	int rc = -ENOMEM;

	if (!t)
		return -ENOMEM;
	t->path = bench_pool_path(dir, "daxo", "treemap");
	if (t->path)
		rc = daxo_create(t->path, "daxo-treemap", size, 0600, &t->p);
	if (!rc) {
		rc = daxo_root(t->p, sizeof(*t->root), &r);
		if (rc)
			daxo_close(t->p);
	}
	if (rc) {
		snprintf(err, errlen, "daxo: %s", daxo_errormsg());
		if (t->path)
			bench_remove_path(t->path);
		free(t->path);
		free(t);
		return rc;
	}
	t->root = daxo_direct(t->p, r);
	*out = t;
	return 0;
}

static void td_close(void *h)
{
	struct td *t = h;

	daxo_close(t->p);
	bench_remove_path(t->path);
	free(t->path);
	free(t);
}

static void value_ctor(daxo_pool *p, void *ptr, void *arg)
{
	*(uint64_t *)ptr = *(uint64_t *)arg;
}

static int value_of(struct td *t, daxo_oid v, uint64_t *val)
{
	if (!v)
		return -ENOENT;
	*val = *(uint64_t *)daxo_direct(t->p, v);
	return 0;
}

struct td_each {
	struct td *t;
	int (*cb)(uint64_t key, uint64_t val, void *arg);
	void *arg;
};

static int td_each_cb(uint64_t key, daxo_oid value, void *arg)
{
	struct td_each *e = arg;
	uint64_t v = 0;

	value_of(e->t, value, &v);
	return e->cb(key, v, e->arg);
}

/* ---- the rbtree port ---- */

static int rb_create(void *h)
{
	struct td *t = h;
	int rc = rbtree_map_daxo_create(t->p, &t->root->rb);

	return rc ? td_fail(rc, "rbtree_map_daxo_create") : 0;
}

static int rb_destroy(void *h)
{
	struct td *t = h;
	int rc = rbtree_map_daxo_destroy(t->p, &t->root->rb);

	return rc ? td_fail(rc, "rbtree_map_daxo_destroy") : 0;
}

static int rb_insert(void *h, uint64_t key)
{
	struct td *t = h;
	int rc =
	    rbtree_map_daxo_insert_new(t->p, t->root->rb, key, sizeof(uint64_t),
				       TM_VALUE_TYPE, value_ctor, &key);

	return rc ? td_fail(rc, "rbtree_map_daxo_insert_new") : 0;
}

static int rb_get(void *h, uint64_t key, uint64_t *val)
{
	struct td *t = h;

	return value_of(t, rbtree_map_daxo_get(t->p, t->root->rb, key), val);
}

static int rb_remove(void *h, uint64_t key)
{
	struct td *t = h;
	int rc = rbtree_map_daxo_remove_free(t->p, t->root->rb, key);

	return rc ? td_fail(rc, "rbtree_map_daxo_remove_free") : 0;
}

static int rb_foreach(void *h, int (*cb)(uint64_t, uint64_t, void *), void *arg)
{
	struct td *t = h;
	struct td_each e = {t, cb, arg};

	return rbtree_map_daxo_foreach(t->p, t->root->rb, td_each_cb, &e);
}

static int rb_is_empty(void *h)
{
	struct td *t = h;

	return rbtree_map_daxo_is_empty(t->p, t->root->rb);
}

/* ---- the ctree port ---- */

static int ct_create(void *h)
{
	struct td *t = h;
	int rc = ctree_map_daxo_create(t->p, &t->root->ct);

	return rc ? td_fail(rc, "ctree_map_daxo_create") : 0;
}

static int ct_destroy(void *h)
{
	struct td *t = h;
	int rc = ctree_map_daxo_destroy(t->p, &t->root->ct);

	return rc ? td_fail(rc, "ctree_map_daxo_destroy") : 0;
}

static int ct_insert(void *h, uint64_t key)
{
	struct td *t = h;
	int rc =
	    ctree_map_daxo_insert_new(t->p, t->root->ct, key, sizeof(uint64_t),
				      TM_VALUE_TYPE, value_ctor, &key);

	return rc ? td_fail(rc, "ctree_map_daxo_insert_new") : 0;
}

static int ct_get(void *h, uint64_t key, uint64_t *val)
{
	struct td *t = h;

	return value_of(t, ctree_map_daxo_get(t->p, t->root->ct, key), val);
}

static int ct_remove(void *h, uint64_t key)
{
	struct td *t = h;
	int rc = ctree_map_daxo_remove_free(t->p, t->root->ct, key);

	return rc ? td_fail(rc, "ctree_map_daxo_remove_free") : 0;
}

static int ct_foreach(void *h, int (*cb)(uint64_t, uint64_t, void *), void *arg)
{
	struct td *t = h;
	struct td_each e = {t, cb, arg};

	return ctree_map_daxo_foreach(t->p, t->root->ct, td_each_cb, &e);
}

static int ct_is_empty(void *h)
{
	struct td *t = h;

	return ctree_map_daxo_is_empty(t->p, t->root->ct);
}

const struct tm_impl tm_daxo_rbtree = {
    .map = "rbtree",
    .lib = "daxo",
    .open = td_open,
    .close = td_close,
    .create = rb_create,
    .destroy = rb_destroy,
    .insert = rb_insert,
    .get = rb_get,
    .remove = rb_remove,
    .foreach = rb_foreach,
    .is_empty = rb_is_empty,
    .errmsg = td_errmsg,
    .counts = bench_daxo_counts,
    .count_source = "daxo_thread_stats",
};

const struct tm_impl tm_daxo_ctree = {
    .map = "ctree",
    .lib = "daxo",
    .open = td_open,
    .close = td_close,
    .create = ct_create,
    .destroy = ct_destroy,
    .insert = ct_insert,
    .get = ct_get,
    .remove = ct_remove,
    .foreach = ct_foreach,
    .is_empty = ct_is_empty,
    .errmsg = td_errmsg,
    .counts = bench_daxo_counts,
    .count_source = "daxo_thread_stats",
};
