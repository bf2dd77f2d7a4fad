/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * btree_map.h -- a B-tree map of 64-bit keys to oids on daxo's native API,
 * the hand port of PMDK's examples/libpmemobj/tree_map/btree_map.c
 * (btree_map.c here). The calls mirror btree_map.h's; they return 0 or a
 * negative errno. Each call that changes the map is a transaction block of
 * its own: called inside a transaction the caller has open on the pool, it
 * joins it (daxo_tx_begin), and an error aborts the whole transaction.
 * Single-threaded per map, as the original (the caller locks).
 */
#ifndef DAXO_EXAMPLES_BTREE_MAP_H
#define DAXO_EXAMPLES_BTREE_MAP_H 1

#include <stdint.h>

#include "daxo.h"

#define BTREE_MAP_DAXO_TYPE	 1010 /* the map object */
#define BTREE_MAP_DAXO_NODE_TYPE 1011 /* its nodes */

/* a new empty map; *@map (in the pool) gets its oid */
int btree_map_daxo_create(daxo_pool *p, daxo_oid *map);
/* free the map and its nodes (not the values); *@map becomes 0 */
int btree_map_daxo_destroy(daxo_pool *p, daxo_oid *map);
/* free every node (not the values): the map is empty */
int btree_map_daxo_clear(daxo_pool *p, daxo_oid map);
/*
 * btree_map_daxo_insert -- add @key with @value. -EEXIST if @key is in the
 * map already: its block then commits (nodes it split on the way stay
 * split, the keys and values are unchanged).
 */
int btree_map_daxo_insert(daxo_pool *p, daxo_oid map, uint64_t key,
			  daxo_oid value);
/*
 * btree_map_daxo_insert_new -- allocate a value object of @size bytes and
 * @type, fill it with @ctor(@p, its address, @arg) (zeroed if @ctor is
 * NULL) and insert it under @key, in one transaction block. -EEXIST: the
 * transaction is aborted.
 */
int btree_map_daxo_insert_new(daxo_pool *p, daxo_oid map, uint64_t key,
			      uint64_t size, uint32_t type,
			      void (*ctor)(daxo_pool *p, void *ptr, void *arg),
			      void *arg);
/* remove @key: 0 and its value in *@value (may be NULL), or -ENOENT (the
 * block commits: nothing changed) */
int btree_map_daxo_remove(daxo_pool *p, daxo_oid map, uint64_t key,
			  daxo_oid *value);
/* remove @key and free its value: 0, -ENOENT */
int btree_map_daxo_remove_free(daxo_pool *p, daxo_oid map, uint64_t key);
/* @key's value, or 0 (a key inserted with the null oid reads 0 too) */
daxo_oid btree_map_daxo_get(daxo_pool *p, daxo_oid map, uint64_t key);
/* 1 if @key is in the map, else 0 */
int btree_map_daxo_lookup(daxo_pool *p, daxo_oid map, uint64_t key);
/* in ascending key order until @cb returns non-zero (then returned) */
int btree_map_daxo_foreach(daxo_pool *p, daxo_oid map,
			   int (*cb)(uint64_t key, daxo_oid value, void *arg),
			   void *arg);
int btree_map_daxo_is_empty(daxo_pool *p, daxo_oid map);
/*
 * btree_map_daxo_check -- 0 if @map is a B-tree map whose every node is
 * sound: keys ascending across the tree, each node but the root at least
 * half full, all leaves at one depth, unused entries zero. *@nkeys (may be
 * NULL) gets the number of keys. -EINVAL if @map is not a map, -EUCLEAN if
 * a node is wrong (daxo_errormsg does not say which: @why, if not NULL,
 * gets a static description).
 */
int btree_map_daxo_check(daxo_pool *p, daxo_oid map, uint64_t *nkeys,
			 const char **why);

#endif
