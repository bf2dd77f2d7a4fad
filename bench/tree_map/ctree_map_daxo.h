/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctree_map_daxo.h -- PMDK's tree_map/ctree_map (a crit-bit tree) ported to
 * daxo's native API. The calls mirror ctree_map.h; they return 0 or a
 * negative errno, and the ones that change the tree run one daxo
 * transaction each. Key 0 is not a key (it marks an empty slot), as in the
 * original. Values must not be objects of CTREE_MAP_DAXO_NODE_TYPE: the
 * tree tells its inner nodes from values by the object's type.
 * Single-threaded, as the original.
 */
#ifndef DAXO_BENCH_CTREE_MAP_DAXO_H
#define DAXO_BENCH_CTREE_MAP_DAXO_H 1

#include <stdint.h>

#include "daxo.h"

#define CTREE_MAP_DAXO_TYPE	 1008
#define CTREE_MAP_DAXO_NODE_TYPE 1009

int ctree_map_daxo_create(daxo_pool *p, daxo_oid *map);
int ctree_map_daxo_destroy(daxo_pool *p, daxo_oid *map);
/* ctree_map_daxo_insert -- add @key (not 0) or replace its value */
int ctree_map_daxo_insert(daxo_pool *p, daxo_oid map, uint64_t key,
			  daxo_oid value);
int ctree_map_daxo_insert_new(daxo_pool *p, daxo_oid map, uint64_t key,
			      uint64_t size, uint32_t type,
			      void (*ctor)(daxo_pool *p, void *ptr, void *arg),
			      void *arg);
/* 0 and *@value, -ENOENT, or the transaction's error */
int ctree_map_daxo_remove(daxo_pool *p, daxo_oid map, uint64_t key,
			  daxo_oid *value);
int ctree_map_daxo_remove_free(daxo_pool *p, daxo_oid map, uint64_t key);
/* ctree_map_daxo_clear -- free every inner node and every value */
int ctree_map_daxo_clear(daxo_pool *p, daxo_oid map);
daxo_oid ctree_map_daxo_get(daxo_pool *p, daxo_oid map, uint64_t key);
int ctree_map_daxo_lookup(daxo_pool *p, daxo_oid map, uint64_t key);
/* in ascending key order, until @cb returns non-zero (returned) */
int ctree_map_daxo_foreach(daxo_pool *p, daxo_oid map,
			   int (*cb)(uint64_t key, daxo_oid value, void *arg),
			   void *arg);
int ctree_map_daxo_is_empty(daxo_pool *p, daxo_oid map);
int ctree_map_daxo_check(daxo_pool *p, daxo_oid map);

#endif
