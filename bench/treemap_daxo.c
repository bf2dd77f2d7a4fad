/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * treemap_daxo.c -- daxo-treemap's daxo side: the ports of rbtree_map.c and
 * ctree_map.c in bench/tree_map/ and of btree_map.c in examples/, called as
 * treemap_pmemobj.c calls the originals. Fences and flushed lines from
 * daxo_thread_stats.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "btree_map.h"
#include "ctree_map_daxo.h"
#include "daxo.h"
#include "rbtree_map_daxo.h"
#include "treemap.h"

#define TM_VALUE_TYPE 7

struct td_root {
	daxo_oid rb, ct, bt;
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

static int td_open(void **out, const char *dir, uint64_t size, unsigned flags,
		   char *err, size_t errlen)
{
	struct td *t = calloc(1, sizeof(*t));
	daxo_oid r;
	int rc = -ENOMEM;

	if (!t)
		return -ENOMEM;
	t->path = bench_pool_path(dir, "daxo", "treemap");
	if (t->path)
		rc = daxo_create(t->path, "daxo-treemap", size, 0600, &t->p);
	/* daxo_create has no prefault flag: reopen with DAXO_PREFAULT */
	if (!rc && (flags & TM_PREFAULT)) {
		daxo_close(t->p);
		t->p = NULL;
		rc = daxo_open(t->path, "daxo-treemap", DAXO_PREFAULT, &t->p);
	}
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

/*
 * TD_MAP -- the tm_impl of the port whose calls are PREFIX_create ...
 * PREFIX_is_empty (the three share the original's shape), its map in the
 * root's FIELD
 */
#define TD_MAP(NAME, PREFIX, FIELD)                                            \
	static int FIELD##_create(void *h)                                     \
	{                                                                      \
		struct td *t = h;                                              \
		int rc = PREFIX##_create(t->p, &t->root->FIELD);               \
		return rc ? td_fail(rc, #PREFIX "_create") : 0;                \
	}                                                                      \
	static int FIELD##_destroy(void *h)                                    \
	{                                                                      \
		struct td *t = h;                                              \
		int rc = PREFIX##_destroy(t->p, &t->root->FIELD);              \
		return rc ? td_fail(rc, #PREFIX "_destroy") : 0;               \
	}                                                                      \
	static int FIELD##_insert(void *h, uint64_t key)                       \
	{                                                                      \
		struct td *t = h;                                              \
		int rc = PREFIX##_insert_new(t->p, t->root->FIELD, key,        \
					     sizeof(uint64_t), TM_VALUE_TYPE,  \
					     value_ctor, &key);                \
		return rc ? td_fail(rc, #PREFIX "_insert_new") : 0;            \
	}                                                                      \
	static int FIELD##_get(void *h, uint64_t key, uint64_t *val)           \
	{                                                                      \
		struct td *t = h;                                              \
		return value_of(t, PREFIX##_get(t->p, t->root->FIELD, key),    \
				val);                                          \
	}                                                                      \
	static int FIELD##_remove(void *h, uint64_t key)                       \
	{                                                                      \
		struct td *t = h;                                              \
		int rc = PREFIX##_remove_free(t->p, t->root->FIELD, key);      \
		return rc ? td_fail(rc, #PREFIX "_remove_free") : 0;           \
	}                                                                      \
	static int FIELD##_foreach(void *h,                                    \
				   int (*cb)(uint64_t, uint64_t, void *),      \
				   void *arg)                                  \
	{                                                                      \
		struct td *t = h;                                              \
		struct td_each e = {t, cb, arg};                               \
		return PREFIX##_foreach(t->p, t->root->FIELD, td_each_cb, &e); \
	}                                                                      \
	static int FIELD##_is_empty(void *h)                                   \
	{                                                                      \
		struct td *t = h;                                              \
		return PREFIX##_is_empty(t->p, t->root->FIELD);                \
	}                                                                      \
	const struct tm_impl tm_daxo_##NAME = {                                \
	    .map = #NAME,                                                      \
	    .lib = "daxo",                                                     \
	    .open = td_open,                                                   \
	    .close = td_close,                                                 \
	    .create = FIELD##_create,                                          \
	    .destroy = FIELD##_destroy,                                        \
	    .insert = FIELD##_insert,                                          \
	    .get = FIELD##_get,                                                \
	    .remove = FIELD##_remove,                                          \
	    .foreach = FIELD##_foreach,                                        \
	    .is_empty = FIELD##_is_empty,                                      \
	    .errmsg = td_errmsg,                                               \
	    .counts = bench_daxo_counts,                                       \
	    .count_source = "daxo_thread_stats",                               \
	}

TD_MAP(rbtree, rbtree_map_daxo, rb);
TD_MAP(ctree, ctree_map_daxo, ct);
TD_MAP(btree, btree_map_daxo, bt);
