/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctree_map_daxo.c -- a crit-bit tree on daxo's native API: a port of
 * PMDK's examples/libpmemobj/tree_map/ctree_map.c (Copyright 2015-2019,
 * Intel Corporation, BSD-3-Clause), same algorithm and structure, written
 * for daxo.
 *
 * An entry is a key and a slot; a slot holds either an inner node (the
 * most significant bit in which its two subtrees differ, and two entries)
 * or a value, told apart by the object's type (OID_INSTANCEOF in the
 * original, daxo_oid_type here). An inner entry's key is 0. Changes follow
 * the original's undo logging: pmemobj_tx_add_range_direct becomes
 * daxo_tx_add_range on the same bytes, TX_NEW daxo_tx_alloc, TX_FREE
 * daxo_tx_free. Entries hold 8-byte oids: 16 bytes where the original's
 * are 24.
 *
 * One difference on purpose: is_empty tests the root entry's slot (the
 * original tests its key, which is 0 as well when the root holds an inner
 * node, that is whenever the tree has two keys or more).
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#include "ctree_map_daxo.h"

#define BIT_IS_SET(n, i) (!!((n) & (1ull << (i))))

struct ct_entry {
	uint64_t key;
	daxo_oid slot;
};

struct ct_node {
	uint64_t diff; /* most significant differing bit */
	struct ct_entry entries[2];
};

struct ctree_map_daxo {
	struct ct_entry root;
};

static inline bool is_node(daxo_pool *p, daxo_oid oid)
{
	return oid && daxo_oid_type(p, oid) == CTREE_MAP_DAXO_NODE_TYPE;
}

static inline struct ct_node *NODE(daxo_pool *p, daxo_oid oid)
{
	return daxo_direct(p, oid);
}

/* find_crit_bit -- the most significant bit in which @a and @b differ */
static unsigned find_crit_bit(uint64_t a, uint64_t b)
{
	return 63u - (unsigned)__builtin_clzll(a ^ b);
}

/* begin -- the map and a transaction, or an error */
static int begin(daxo_pool *p, daxo_oid map, struct ctree_map_daxo **m,
		 daxo_tx **tx)
{
	*m = daxo_direct(p, map);
	if (!*m)
		return -EINVAL;
	return daxo_tx_begin(p, tx);
}

/* end -- commit, or abort after the failure @err */
static int end(daxo_tx *tx, int err)
{
	if (err) {
		daxo_tx_abort(tx);
		return err;
	}
	return daxo_tx_commit(tx);
}

int ctree_map_daxo_create(daxo_pool *p, daxo_oid *map)
{
	daxo_tx *tx;
	daxo_oid m;
	int rc = daxo_tx_begin(p, &tx);

	if (rc)
		return rc;
	rc = daxo_tx_add_range(tx, map, sizeof(*map));
	if (!rc)
		rc = daxo_tx_alloc(tx, sizeof(struct ctree_map_daxo),
				   CTREE_MAP_DAXO_TYPE, &m);
	if (!rc)
		*map = m;
	return end(tx, rc);
}

/* clear_node -- free the subtree in @slot, values included */
static int clear_node(daxo_pool *p, daxo_tx *tx, daxo_oid slot)
{
	int rc = 0;

	if (!slot)
		return 0;
	if (is_node(p, slot)) {
		struct ct_node *n = NODE(p, slot);

		rc = clear_node(p, tx, n->entries[0].slot);
		if (!rc)
			rc = clear_node(p, tx, n->entries[1].slot);
	}
	return rc ? rc : daxo_tx_free(tx, slot);
}

static int clear_tx(daxo_pool *p, daxo_tx *tx, struct ctree_map_daxo *m)
{
	int rc = clear_node(p, tx, m->root.slot);

	if (!rc)
		rc = daxo_tx_add_range(tx, &m->root, sizeof(m->root));
	if (!rc) {
		m->root.key = 0;
		m->root.slot = 0;
	}
	return rc;
}

int ctree_map_daxo_clear(daxo_pool *p, daxo_oid map)
{
	struct ctree_map_daxo *m;
	daxo_tx *tx;
	int rc = begin(p, map, &m, &tx);

	if (rc)
		return rc;
	return end(tx, clear_tx(p, tx, m));
}

int ctree_map_daxo_destroy(daxo_pool *p, daxo_oid *map)
{
	struct ctree_map_daxo *m;
	daxo_tx *tx;
	int rc = begin(p, *map, &m, &tx);

	if (rc)
		return rc;
	rc = clear_tx(p, tx, m);
	if (!rc)
		rc = daxo_tx_add_range(tx, map, sizeof(*map));
	if (!rc)
		rc = daxo_tx_free(tx, *map);
	if (!rc)
		*map = 0;
	return end(tx, rc);
}

/* insert_leaf -- a new inner node splitting at bit @diff, above the first
 * entry on @e's path (from @p) whose node splits at a lower bit */
static int insert_leaf(daxo_pool *p, daxo_tx *tx, struct ct_entry *pe,
		       struct ct_entry e, unsigned diff)
{
	daxo_oid nn;
	int rc = daxo_tx_alloc(tx, sizeof(struct ct_node),
			       CTREE_MAP_DAXO_NODE_TYPE, &nn);

	if (rc)
		return rc;
	struct ct_node *n = NODE(p, nn);
	int d = BIT_IS_SET(e.key, diff);

	/* new in this transaction: filled in directly */
	n->diff = diff;
	n->entries[d] = e;
	while (is_node(p, pe->slot)) {
		struct ct_node *node = NODE(p, pe->slot);

		/* the critical bits have to be sorted */
		if (node->diff < n->diff)
			break;
		pe = &node->entries[BIT_IS_SET(e.key, node->diff)];
	}
	n->entries[!d] = *pe;
	rc = daxo_tx_add_range(tx, pe, sizeof(*pe));
	if (!rc) {
		pe->key = 0;
		pe->slot = nn;
	}
	return rc;
}

static int insert_tx(daxo_pool *p, daxo_tx *tx, struct ctree_map_daxo *m,
		     uint64_t key, daxo_oid value)
{
	struct ct_entry *pe = &m->root;
	struct ct_entry e = {key, value};
	int rc;

	/* descend the path until a best matching key is found */
	while (pe->slot && is_node(p, pe->slot)) {
		struct ct_node *node = NODE(p, pe->slot);

		pe = &node->entries[BIT_IS_SET(key, node->diff)];
	}
	if (pe->key == 0 || pe->key == key) {
		rc = daxo_tx_add_range(tx, pe, sizeof(*pe));
		if (!rc)
			*pe = e;
		return rc;
	}
	return insert_leaf(p, tx, &m->root, e, find_crit_bit(pe->key, key));
}

int ctree_map_daxo_insert(daxo_pool *p, daxo_oid map, uint64_t key,
			  daxo_oid value)
{
	struct ctree_map_daxo *m;
	daxo_tx *tx;
	int rc = key ? begin(p, map, &m, &tx) : -EINVAL;

	if (rc)
		return rc;
	return end(tx, insert_tx(p, tx, m, key, value));
}

int ctree_map_daxo_insert_new(daxo_pool *p, daxo_oid map, uint64_t key,
			      uint64_t size, uint32_t type,
			      void (*ctor)(daxo_pool *p, void *ptr, void *arg),
			      void *arg)
{
	struct ctree_map_daxo *m;
	daxo_tx *tx;
	daxo_oid v;
	int rc = key && type != CTREE_MAP_DAXO_NODE_TYPE
		     ? begin(p, map, &m, &tx)
		     : -EINVAL;

	if (rc)
		return rc;
	rc = daxo_tx_alloc(tx, size, type, &v);
	if (!rc) {
		ctor(p, daxo_direct(p, v), arg);
		rc = insert_tx(p, tx, m, key, v);
	}
	return end(tx, rc);
}

/* get_leaf -- the entry of @key and its parent entry (NULL at the root) */
static struct ct_entry *get_leaf(daxo_pool *p, struct ctree_map_daxo *m,
				 uint64_t key, struct ct_entry **parent)
{
	struct ct_entry *n = &m->root, *pe = NULL;

	while (n->slot && is_node(p, n->slot)) {
		struct ct_node *node = NODE(p, n->slot);

		pe = n;
		n = &node->entries[BIT_IS_SET(key, node->diff)];
	}
	if (n->key != key)
		return NULL;
	if (parent)
		*parent = pe;
	return n;
}

static int remove_tx(daxo_pool *p, daxo_tx *tx, struct ctree_map_daxo *m,
		     uint64_t key, daxo_oid *value)
{
	struct ct_entry *parent = NULL;
	struct ct_entry *leaf = key ? get_leaf(p, m, key, &parent) : NULL;
	int rc;

	if (!leaf)
		return -ENOENT;
	*value = leaf->slot;
	if (!parent) { /* the root */
		rc = daxo_tx_add_range(tx, leaf, sizeof(*leaf));
		if (!rc) {
			leaf->key = 0;
			leaf->slot = 0;
		}
		return rc;
	}
	/*
	 * The parent's inner node keeps only the other entry: that entry
	 * takes the node's place and the node is freed.
	 */
	daxo_oid node = parent->slot;
	struct ct_node *n = NODE(p, node);

	rc = daxo_tx_add_range(tx, parent, sizeof(*parent));
	if (!rc) {
		*parent = n->entries[n->entries[0].key == leaf->key];
		rc = daxo_tx_free(tx, node);
	}
	return rc;
}

int ctree_map_daxo_remove(daxo_pool *p, daxo_oid map, uint64_t key,
			  daxo_oid *value)
{
	struct ctree_map_daxo *m;
	daxo_tx *tx;
	int rc = begin(p, map, &m, &tx);

	if (rc)
		return rc;
	return end(tx, remove_tx(p, tx, m, key, value));
}

int ctree_map_daxo_remove_free(daxo_pool *p, daxo_oid map, uint64_t key)
{
	struct ctree_map_daxo *m;
	daxo_tx *tx;
	daxo_oid v = 0;
	int rc = begin(p, map, &m, &tx);

	if (rc)
		return rc;
	rc = remove_tx(p, tx, m, key, &v);
	if (!rc && v)
		rc = daxo_tx_free(tx, v);
	return end(tx, rc);
}

daxo_oid ctree_map_daxo_get(daxo_pool *p, daxo_oid map, uint64_t key)
{
	struct ctree_map_daxo *m = daxo_direct(p, map);
	struct ct_entry *e = m && key ? get_leaf(p, m, key, NULL) : NULL;

	return e ? e->slot : 0;
}

int ctree_map_daxo_lookup(daxo_pool *p, daxo_oid map, uint64_t key)
{
	struct ctree_map_daxo *m = daxo_direct(p, map);

	return m && key && get_leaf(p, m, key, NULL) != NULL;
}

static int foreach_entry(daxo_pool *p, const struct ct_entry *e,
			 int (*cb)(uint64_t key, daxo_oid value, void *arg),
			 void *arg)
{
	if (is_node(p, e->slot)) {
		const struct ct_node *n = NODE(p, e->slot);
		int ret = foreach_entry(p, &n->entries[0], cb, arg);

		return ret ? ret : foreach_entry(p, &n->entries[1], cb, arg);
	}
	return cb(e->key, e->slot, arg);
}

int ctree_map_daxo_foreach(daxo_pool *p, daxo_oid map,
			   int (*cb)(uint64_t key, daxo_oid value, void *arg),
			   void *arg)
{
	struct ctree_map_daxo *m = daxo_direct(p, map);

	if (!m)
		return -EINVAL;
	if (!m->root.slot)
		return 0;
	return foreach_entry(p, &m->root, cb, arg);
}

int ctree_map_daxo_is_empty(daxo_pool *p, daxo_oid map)
{
	struct ctree_map_daxo *m = daxo_direct(p, map);

	return !m || m->root.slot == 0;
}

int ctree_map_daxo_check(daxo_pool *p, daxo_oid map)
{
	return map == 0 || daxo_oid_type(p, map) != CTREE_MAP_DAXO_TYPE;
}
