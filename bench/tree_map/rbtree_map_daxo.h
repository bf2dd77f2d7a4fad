/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rbtree_map_daxo.h -- PMDK's tree_map/rbtree_map (a red-black tree with a
 * sentinel node) ported to daxo's native API: oids instead of TOIDs,
 * daxo_tx_* instead of TX_BEGIN/TX_ADD/TX_ZNEW/TX_FREE. The calls mirror
 * rbtree_map.h; they return 0 or a negative errno (the originals return 1
 * on an aborted transaction), and the ones that change the tree run one
 * daxo transaction each. Single-threaded, as the original.
 */
#ifndef DAXO_BENCH_RBTREE_MAP_DAXO_H
#define DAXO_BENCH_RBTREE_MAP_DAXO_H 1

#include <stdint.h>

#include "daxo.h"

/* object types of the tree's own objects (values use the caller's) */
#define RBTREE_MAP_DAXO_TYPE	  1016
#define RBTREE_MAP_DAXO_NODE_TYPE 1017

/*
 * rbtree_map_daxo_create -- a new empty tree; its oid is written to *@map,
 * a daxo_oid inside the pool (crash-atomically with the tree's creation)
 */
int rbtree_map_daxo_create(daxo_pool *p, daxo_oid *map);
/* rbtree_map_daxo_destroy -- free every node and the tree; *@map = 0 */
int rbtree_map_daxo_destroy(daxo_pool *p, daxo_oid *map);
/* rbtree_map_daxo_insert -- add @key with @value (keys may repeat, as in
 * the original) */
int rbtree_map_daxo_insert(daxo_pool *p, daxo_oid map, uint64_t key,
			   daxo_oid value);
/* rbtree_map_daxo_insert_new -- allocate a @size-byte object of @type, run
 * @ctor on it and insert it under @key, in one transaction */
int rbtree_map_daxo_insert_new(daxo_pool *p, daxo_oid map, uint64_t key,
			       uint64_t size, uint32_t type,
			       void (*ctor)(daxo_pool *p, void *ptr, void *arg),
			       void *arg);
/* rbtree_map_daxo_remove -- take @key out; *@value gets its value.
 * 0, -ENOENT, or the transaction's error */
int rbtree_map_daxo_remove(daxo_pool *p, daxo_oid map, uint64_t key,
			   daxo_oid *value);
/* rbtree_map_daxo_remove_free -- take @key out and free its value, in one
 * transaction: 0, -ENOENT, or the transaction's error */
int rbtree_map_daxo_remove_free(daxo_pool *p, daxo_oid map, uint64_t key);
/* rbtree_map_daxo_clear -- remove every key (values are not freed) */
int rbtree_map_daxo_clear(daxo_pool *p, daxo_oid map);
/* rbtree_map_daxo_get -- the value of @key, or 0 */
daxo_oid rbtree_map_daxo_get(daxo_pool *p, daxo_oid map, uint64_t key);
/* rbtree_map_daxo_lookup -- 1 if @key is in the tree, else 0 */
int rbtree_map_daxo_lookup(daxo_pool *p, daxo_oid map, uint64_t key);
/* rbtree_map_daxo_foreach -- @cb for every key in ascending order until it
 * returns non-zero (returned) */
int rbtree_map_daxo_foreach(daxo_pool *p, daxo_oid map,
			    int (*cb)(uint64_t key, daxo_oid value, void *arg),
			    void *arg);
int rbtree_map_daxo_is_empty(daxo_pool *p, daxo_oid map);
/* rbtree_map_daxo_check -- 0 if @map is a tree of this type, else 1 */
int rbtree_map_daxo_check(daxo_pool *p, daxo_oid map);

#endif
