/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * treemap_pmemobj.c -- daxo-treemap's libpmemobj side: PMDK's own map
 * examples (map/map.c over tree_map/{btree,ctree,rbtree,rtree}_map.c,
 * list_map/skiplist_map.c and hashmap/hashmap_{tx,atomic,rp}.c, compiled
 * from Debian's libpmemobj-dev examples, unchanged), called through map.h
 * as PMDK's data_store example calls them.
 *
 * Built twice into modules that daxo-treemap loads side by side: on the
 * system libpmemobj (lib "pmemobj": fences and flushed lines counted at
 * libpmem's entry points) and, the same code, on daxo's compatibility layer
 * libdaxo-pmemobj (lib "daxo-pmemobj", TM_COMPAT: counted by libdaxo's
 * daxo_thread_stats). Each module exports tm_lib_impls, its maps.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <libpmemobj.h>

#include "map.h"
#include "map_btree.h"
#include "map_ctree.h"
#include "map_hashmap_atomic.h"
#include "map_hashmap_rp.h"
#include "map_hashmap_tx.h"
#include "map_rbtree.h"
#include "map_rtree.h"
#include "map_skiplist.h"
#include "treemap.h"

#ifdef TM_COMPAT
#define TM_LIB		"daxo-pmemobj"
#define TM_COUNTS	bench_daxo_counts
#define TM_COUNT_SOURCE "daxo_thread_stats"
#define TM_LIBPMEM	0
#else
#define TM_LIB		"pmemobj"
#define TM_COUNTS	pmem_count_get
#define TM_COUNT_SOURCE "libpmem entry points"
#define TM_LIBPMEM	1
#endif

/* values: one 8-byte object per key (data_store's store_item) */
#define TM_VALUE_TYPE 7

struct tp_root {
	TOID(struct map) map;
};

struct tp {
	PMEMobjpool *pop;
	struct map_ctx *mapc;
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

static int tp_open(void **out, const char *dir, uint64_t size, unsigned flags,
		   char *err, size_t errlen, const struct map_ops *ops)
{
	struct tp *t = calloc(1, sizeof(*t));
	int prefault = !!(flags & TM_PREFAULT);

	if (!t)
		return -ENOMEM;
	if (pmemobj_ctl_set(NULL, "prefault.at_create", &prefault) != 0) {
		snprintf(err, errlen, "prefault.at_create: %s",
			 pmemobj_errormsg());
		free(t);
		return -ENOTSUP;
	}
	t->path = bench_pool_path(dir, TM_LIB, "treemap");
	if (t->path)
		t->pop = pmemobj_create(t->path, "daxo-treemap", size, 0600);
	if (t->pop)
		t->mapc = map_ctx_init(ops, t->pop);
	if (!t->mapc) {
		int rc = t->path ? -errno : -ENOMEM;

		snprintf(err, errlen, "pmemobj_create: %s", pmemobj_errormsg());
		if (t->pop)
			pmemobj_close(t->pop);
		if (t->path)
			bench_remove_path(t->path);
		free(t->path);
		free(t);
		return rc ? rc : -ENOMEM;
	}
	t->root = pmemobj_direct(pmemobj_root(t->pop, sizeof(*t->root)));
	*out = t;
	return 0;
}

static void tp_close(void *h)
{
	struct tp *t = h;

	map_ctx_free(t->mapc);
	pmemobj_close(t->pop);
	bench_remove_path(t->path);
	free(t->path);
	free(t);
}

/* as data_store's constructor: the object belongs to the transaction,
 * which makes it durable at commit */
static void value_ctor(PMEMobjpool *pop, void *ptr, void *arg)
{
	(void)pop;
	*(uint64_t *)ptr = *(uint64_t *)arg;
}

static int value_of(PMEMoid v, uint64_t *val)
{
	if (OID_IS_NULL(v))
		return -ENOENT;
	*val = *(uint64_t *)pmemobj_direct(v);
	return 0;
}

static int tp_create(void *h)
{
	struct tp *t = h;

	return map_create(t->mapc, &t->root->map, NULL)
		   ? tp_fail(-EIO, "map_create")
		   : 0;
}

/*
 * Not destroyed, the emptied map left in the pool: the hash maps (they
 * have no destroy) and rtree, whose rtree_map_clear_node reads through a
 * null child slot (PMDK's bug: a segfault on libpmemobj as on the layer)
 */
static int tp_destroy(void *h)
{
	struct tp *t = h;

	if (!t->mapc->ops->destroy || t->mapc->ops == MAP_RTREE)
		return 0;
	return map_destroy(t->mapc, &t->root->map)
		   ? tp_fail(-EIO, "map_destroy")
		   : 0;
}

/*
 * tp_insert -- map_insert_new where the map has it; the hash maps have
 * not, and take data_store's way: a transaction that allocates the value
 * and inserts it
 */
static int tp_insert(void *h, uint64_t key)
{
	struct tp *t = h;
	volatile int rc = 0;

	if (t->mapc->ops->insert_new)
		return map_insert_new(t->mapc, t->root->map, key,
				      sizeof(uint64_t), TM_VALUE_TYPE,
				      value_ctor, &key)
			   ? tp_fail(-EIO, "map_insert_new")
			   : 0;
	TX_BEGIN(t->pop) {
		PMEMoid v = pmemobj_tx_alloc(sizeof(uint64_t), TM_VALUE_TYPE);

		*(uint64_t *)pmemobj_direct(v) = key;
		if (map_insert(t->mapc, t->root->map, key, v))
			pmemobj_tx_abort(EEXIST);
	} TX_ONABORT {
		rc = tp_fail(-EIO, "map_insert");
	} TX_END
	return rc;
}

static int tp_get(void *h, uint64_t key, uint64_t *val)
{
	struct tp *t = h;

	return value_of(map_get(t->mapc, t->root->map, key), val);
}

/* tp_remove -- map_remove_free, or (hash maps) map_remove and a free in
 * one transaction */
static int tp_remove(void *h, uint64_t key)
{
	struct tp *t = h;
	volatile int rc = 0;

	if (t->mapc->ops->remove_free)
		return map_remove_free(t->mapc, t->root->map, key)
			   ? tp_fail(-EIO, "map_remove_free")
			   : 0;
	TX_BEGIN(t->pop) {
		PMEMoid v = map_remove(t->mapc, t->root->map, key);

		if (OID_IS_NULL(v))
			pmemobj_tx_abort(ENOENT);
		pmemobj_tx_free(v);
	} TX_ONABORT {
		rc = tp_fail(-EIO, "map_remove");
	} TX_END
	return rc;
}

/* the foreach callback: the value object's contents */
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

static int tp_foreach(void *h, int (*cb)(uint64_t, uint64_t, void *),
		      void *arg)
{
	struct tp *t = h;
	struct tp_each e = {cb, arg};

	return map_foreach(t->mapc, t->root->map, tp_each_cb, &e);
}

/*
 * Emptiness by counting: rbtree_map_is_empty tests the top slot for a null
 * oid, which it never holds (an empty tree's top slot is the sentinel), and
 * ctree_map_is_empty the root entry's key, which is 0 also when the root
 * holds an inner node; not every foreach passes a callback's stop through
 * every level.
 */
static int count_cb(uint64_t key, PMEMoid value, void *arg)
{
	(void)key;
	(void)value;
	++*(uint64_t *)arg;
	return 0;
}

static int tp_is_empty(void *h)
{
	struct tp *t = h;
	uint64_t n = 0;

	map_foreach(t->mapc, t->root->map, count_cb, &n);
	return n == 0;
}

/* TP_MAP -- the tm_impl of PMDK's map NAME (its map_ops OPS) */
#define TP_MAP(NAME, OPS)                                                      \
	static int open_##NAME(void **out, const char *dir, uint64_t size,     \
			       unsigned flags, char *err, size_t errlen)       \
	{                                                                      \
		return tp_open(out, dir, size, flags, err, errlen, OPS);       \
	}
#define TP_IMPL(NAME)                                                          \
	{                                                                      \
	    .map = #NAME,                                                      \
	    .lib = TM_LIB,                                                     \
	    .open = open_##NAME,                                               \
	    .close = tp_close,                                                 \
	    .create = tp_create,                                               \
	    .destroy = tp_destroy,                                             \
	    .insert = tp_insert,                                               \
	    .get = tp_get,                                                     \
	    .remove = tp_remove,                                               \
	    .foreach = tp_foreach,                                             \
	    .is_empty = tp_is_empty,                                           \
	    .errmsg = tp_errmsg,                                               \
	    .counts = TM_COUNTS,                                               \
	    .count_source = TM_COUNT_SOURCE,                                   \
	    .counts_libpmem = TM_LIBPMEM,                                      \
	}

TP_MAP(btree, MAP_BTREE)
TP_MAP(ctree, MAP_CTREE)
TP_MAP(rbtree, MAP_RBTREE)
TP_MAP(rtree, MAP_RTREE)
TP_MAP(skiplist, MAP_SKIPLIST)
TP_MAP(hashmap_tx, MAP_HASHMAP_TX)
TP_MAP(hashmap_atomic, MAP_HASHMAP_ATOMIC)
TP_MAP(hashmap_rp, MAP_HASHMAP_RP)

/* this module's maps, in table order; a null map ends the list */
const struct tm_impl tm_lib_impls[] = {
    TP_IMPL(btree),	 TP_IMPL(ctree),	  TP_IMPL(rbtree),
    TP_IMPL(rtree),	 TP_IMPL(skiplist),	  TP_IMPL(hashmap_tx),
    TP_IMPL(hashmap_atomic), TP_IMPL(hashmap_rp), {.map = NULL},
};
