/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * treemap_pmemobj.c -- daxo-treemap's libpmemobj side: PMDK's own
 * rbtree_map.c and ctree_map.c (compiled from Debian's libpmemobj-dev
 * examples, unchanged), called as PMDK's data_store example calls them.
 * Fences and flushed lines are counted at libpmem's entry points.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <libpmemobj.h>

#include "ctree_map.h"
#include "rbtree_map.h"
#include "treemap.h"

/* values: one 8-byte object per key (data_store's store_item) */
#define TM_VALUE_TYPE 7

struct tp_root {
	TOID(struct rbtree_map) rb;
	TOID(struct ctree_map) ct;
};

struct tp {
	PMEMobjpool *pop;
	struct tp_root *root;
	char *path;
};

static __thread char tp_err[256];

static int tp_fail(int rc, const char *what)
{
	snprintf(tp_err, sizeof(tp_err), "%s: %s", what, pmemobj_errormsg());
	return rc ? rc : -EIO;
}

static const char *tp_errmsg(void)
{
	return tp_err;
}

static int tp_open(void **out, const char *dir, uint64_t size, char *err,
		   size_t errlen)
{
	struct tp *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->path = bench_pool_path(dir, "pmemobj", "treemap");
	if (t->path)
		t->pop = pmemobj_create(t->path, "daxo-treemap", size, 0600);
	if (!t->pop) {
		int rc = t->path ? -errno : -ENOMEM;

		snprintf(err, errlen, "pmemobj_create: %s", pmemobj_errormsg());
		if (t->path)
			bench_remove_path(t->path);
		free(t->path);
		free(t);
		return rc;
	}
	t->root = pmemobj_direct(pmemobj_root(t->pop, sizeof(*t->root)));
	*out = t;
	return 0;
}

static void tp_close(void *h)
{
	struct tp *t = h;

	pmemobj_close(t->pop);
	bench_remove_path(t->path);
	free(t->path);
	free(t);
}

/* as data_store's constructor: the object belongs to the transaction,
 * which makes it durable at commit */
static void value_ctor(PMEMobjpool *pop, void *ptr, void *arg)
{
	*(uint64_t *)ptr = *(uint64_t *)arg;
}

static int value_of(PMEMoid v, uint64_t *val)
{
	if (OID_IS_NULL(v))
		return -ENOENT;
	*val = *(uint64_t *)pmemobj_direct(v);
	return 0;
}

/* the foreach callback of both maps: the value object's contents */
struct tp_each {
	int (*cb)(uint64_t key, uint64_t val, void *arg);
	void *arg;
};

static int tp_each_cb(uint64_t key, PMEMoid value, void *arg)
{
	struct tp_each *e = arg;
	uint64_t v = 0;

	value_of(value, &v);
	return e->cb(key, v, e->arg);
}

/* ---- rbtree_map.c ---- */

static int rb_create(void *h)
{
	struct tp *t = h;

	return rbtree_map_create(t->pop, &t->root->rb, NULL)
		   ? tp_fail(-EIO, "rbtree_map_create")
		   : 0;
}

static int rb_destroy(void *h)
{
	struct tp *t = h;

	return rbtree_map_destroy(t->pop, &t->root->rb)
		   ? tp_fail(-EIO, "rbtree_map_destroy")
		   : 0;
}

static int rb_insert(void *h, uint64_t key)
{
	struct tp *t = h;

	return rbtree_map_insert_new(t->pop, t->root->rb, key, sizeof(uint64_t),
				     TM_VALUE_TYPE, value_ctor, &key)
		   ? tp_fail(-EIO, "rbtree_map_insert_new")
		   : 0;
}

static int rb_get(void *h, uint64_t key, uint64_t *val)
{
	struct tp *t = h;

	return value_of(rbtree_map_get(t->pop, t->root->rb, key), val);
}

static int rb_remove(void *h, uint64_t key)
{
	struct tp *t = h;

	return rbtree_map_remove_free(t->pop, t->root->rb, key)
		   ? tp_fail(-EIO, "rbtree_map_remove_free")
		   : 0;
}

static int rb_foreach(void *h, int (*cb)(uint64_t, uint64_t, void *), void *arg)
{
	struct tp *t = h;
	struct tp_each e = {cb, arg};

	return rbtree_map_foreach(t->pop, t->root->rb, tp_each_cb, &e);
}

/*
 * Emptiness by counting: rbtree_map_is_empty tests the top slot for a null
 * oid, which it never holds (an empty tree's top slot is the sentinel), and
 * ctree_map_is_empty the root entry's key, which is 0 also when the root
 * holds an inner node; neither foreach passes a callback's stop through
 * every level.
 */
static int count_cb(uint64_t key, PMEMoid value, void *arg)
{
	++*(uint64_t *)arg;
	return 0;
}

static int rb_is_empty(void *h)
{
	struct tp *t = h;
	uint64_t n = 0;

	rbtree_map_foreach(t->pop, t->root->rb, count_cb, &n);
	return n == 0;
}

/* ---- ctree_map.c ---- */

static int ct_create(void *h)
{
	struct tp *t = h;

	return ctree_map_create(t->pop, &t->root->ct, NULL)
		   ? tp_fail(-EIO, "ctree_map_create")
		   : 0;
}

static int ct_destroy(void *h)
{
	struct tp *t = h;

	return ctree_map_destroy(t->pop, &t->root->ct)
		   ? tp_fail(-EIO, "ctree_map_destroy")
		   : 0;
}

static int ct_insert(void *h, uint64_t key)
{
	struct tp *t = h;

	return ctree_map_insert_new(t->pop, t->root->ct, key, sizeof(uint64_t),
				    TM_VALUE_TYPE, value_ctor, &key)
		   ? tp_fail(-EIO, "ctree_map_insert_new")
		   : 0;
}

static int ct_get(void *h, uint64_t key, uint64_t *val)
{
	struct tp *t = h;

	return value_of(ctree_map_get(t->pop, t->root->ct, key), val);
}

static int ct_remove(void *h, uint64_t key)
{
	struct tp *t = h;

	return ctree_map_remove_free(t->pop, t->root->ct, key)
		   ? tp_fail(-EIO, "ctree_map_remove_free")
		   : 0;
}

static int ct_foreach(void *h, int (*cb)(uint64_t, uint64_t, void *), void *arg)
{
	struct tp *t = h;
	struct tp_each e = {cb, arg};

	return ctree_map_foreach(t->pop, t->root->ct, tp_each_cb, &e);
}

static int ct_is_empty(void *h)
{
	struct tp *t = h;
	uint64_t n = 0;

	ctree_map_foreach(t->pop, t->root->ct, count_cb, &n);
	return n == 0;
}

const struct tm_impl tm_pmemobj_rbtree = {
    .map = "rbtree",
    .lib = "pmemobj",
    .open = tp_open,
    .close = tp_close,
    .create = rb_create,
    .destroy = rb_destroy,
    .insert = rb_insert,
    .get = rb_get,
    .remove = rb_remove,
    .foreach = rb_foreach,
    .is_empty = rb_is_empty,
    .errmsg = tp_errmsg,
    .counts = pmem_count_get,
    .count_source = "libpmem entry points",
    .counts_libpmem = 1,
};

const struct tm_impl tm_pmemobj_ctree = {
    .map = "ctree",
    .lib = "pmemobj",
    .open = tp_open,
    .close = tp_close,
    .create = ct_create,
    .destroy = ct_destroy,
    .insert = ct_insert,
    .get = ct_get,
    .remove = ct_remove,
    .foreach = ct_foreach,
    .is_empty = ct_is_empty,
    .errmsg = tp_errmsg,
    .counts = pmem_count_get,
    .count_source = "libpmem entry points",
    .counts_libpmem = 1,
};
