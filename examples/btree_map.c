/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * btree_map.c -- a B-tree map on daxo's native API: a hand port of PMDK's
 * examples/libpmemobj/tree_map/btree_map.c (Copyright 2015-2019, Intel
 * Corporation, BSD-3-Clause). Same tree: order 8, full nodes split on the
 * way down an insert, a node left under half full by a removal takes an
 * item from a sibling or merges with it on the way back up.
 *
 * How the port maps the original:
 * - TX_BEGIN/TX_END: each public call is a block, daxo_tx_begin ... commit;
 *   a block opened inside another joins it. The calls use each other as the
 *   original does -- insert_new calls insert, remove_free calls remove,
 *   destroy calls clear -- with no "_tx" variants split off.
 * - The longjmp out of a failed call: errors are returned. A helper hands
 *   its error up; the public call that sees it aborts its block, which
 *   aborts the whole transaction.
 * - TX_ADD / TX_ADD_FIELD: daxo_tx_add_range of the same bytes, or one
 *   daxo_tx_add_ranges for what a rotation or merge changes (one fence,
 *   not one per range). A range the transaction covers already costs
 *   nothing, so a node added twice is logged once.
 * - TX_ZNEW / TX_FREE: DAXO_TX_ALLOC_T / DAXO_TX_FREE_T on typed oids
 *   (DAXO_OID_TYPE): 8 bytes where a TOID is 16, and a node oid cannot be
 *   stored where another type is expected.
 *
 * Differences on purpose: inserting a key the map holds is -EEXIST (the
 * original inserts it a second time), removing a missing one -ENOENT; the
 * shifts inside a node move only used entries and zero those they vacate
 * (the original reads one entry past its arrays in two places); clear
 * frees the last child of each node too; an emptied root is reused, not
 * leaked; after a removal every node on the way back up is rebalanced,
 * those between the node that held the key and its successor's leaf too;
 * key 0 is a key like any other.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "btree_map.h"

#define ORDER	 8		 /* children of a full node */
#define MIN_KEYS (ORDER / 2 - 1) /* items of a node but the root, at least */

struct bt_item {
	uint64_t key;
	daxo_oid value;
};

struct bt_node;
DAXO_OID_TYPE(bt_node_oid, struct bt_node, BTREE_MAP_DAXO_NODE_TYPE);

struct bt_node {
	uint64_t n; /* items used */
	struct bt_item items[ORDER - 1];
	bt_node_oid slots[ORDER]; /* children: n + 1 in an inner node */
};

struct btree_map_daxo {
	bt_node_oid root;
};

static const struct bt_item no_item;
static const bt_node_oid no_node;

#define NODE(p, o) DAXO_PTR((p), (o))
#define IS_LEAF(n) DAXO_OID_IS_NULL((n)->slots[0])

/* end -- close a block: commit it, or abort after the failure @err */
static int end(daxo_tx *tx, int err)
{
	if (err) {
		daxo_tx_abort(tx);
		return err;
	}
	return daxo_tx_commit(tx);
}

/* pos_of -- the first position of @n whose key is not below @key */
static uint64_t pos_of(const struct bt_node *n, uint64_t key)
{
	uint64_t i = 0;

	while (i < n->n && n->items[i].key < key)
		i++;
	return i;
}

/* put_item -- @item at @pos of @n (added), the items from there one right */
static void put_item(struct bt_node *n, uint64_t pos, struct bt_item item)
{
	memmove(&n->items[pos + 1], &n->items[pos],
		(n->n - pos) * sizeof(item));
	n->items[pos] = item;
	n->n++;
}

/* drop_item -- the item at @pos of @n (added) out, the rest one left */
static void drop_item(struct bt_node *n, uint64_t pos)
{
	memmove(&n->items[pos], &n->items[pos + 1],
		(n->n - 1 - pos) * sizeof(n->items[0]));
	n->n--;
	n->items[n->n] = no_item;
}

int btree_map_daxo_create(daxo_pool *p, daxo_oid *map)
{
	daxo_tx *tx;
	int rc = daxo_tx_begin(p, &tx);

	if (rc)
		return rc;
	rc = daxo_tx_add_range(tx, map, sizeof(*map));
	if (!rc)
		rc = daxo_tx_alloc(tx, sizeof(struct btree_map_daxo),
				   BTREE_MAP_DAXO_TYPE, map);
	return end(tx, rc);
}

/* clear_node -- free the nodes of the subtree at @o */
static int clear_node(daxo_pool *p, daxo_tx *tx, bt_node_oid o)
{
	struct bt_node *n = NODE(p, o);
	int rc = 0;

	if (!n)
		return 0;
	for (uint64_t i = 0; i <= n->n && !rc; i++)
		rc = clear_node(p, tx, n->slots[i]);
	return rc ? rc : DAXO_TX_FREE_T(tx, o);
}

int btree_map_daxo_clear(daxo_pool *p, daxo_oid map)
{
	struct btree_map_daxo *m = daxo_direct(p, map);
	daxo_tx *tx;
	int rc;

	if (!m)
		return -EINVAL;
	rc = daxo_tx_begin(p, &tx);
	if (rc)
		return rc;
	rc = clear_node(p, tx, m->root);
	if (!rc)
		rc = daxo_tx_add_range(tx, &m->root, sizeof(m->root));
	if (!rc)
		m->root = no_node;
	return end(tx, rc);
}

int btree_map_daxo_destroy(daxo_pool *p, daxo_oid *map)
{
	daxo_tx *tx;
	int rc = daxo_tx_begin(p, &tx);

	if (rc)
		return rc;
	rc = btree_map_daxo_clear(p, *map);
	if (!rc)
		rc = daxo_tx_add_range(tx, map, sizeof(*map));
	if (!rc)
		rc = daxo_tx_free(tx, *map);
	if (!rc)
		*map = 0;
	return end(tx, rc);
}

/* ---- insert ---- */

/* insert_empty -- the first node, holding @item */
static int insert_empty(daxo_pool *p, daxo_tx *tx, struct btree_map_daxo *m,
			struct bt_item item)
{
	int rc = daxo_tx_add_range(tx, &m->root, sizeof(m->root));

	if (!rc)
		rc = DAXO_TX_ALLOC_T(tx, &m->root, DAXO_ALLOC_ZERO);
	if (rc)
		return rc;
	struct bt_node *r = NODE(p, m->root);

	r->items[0] = item;
	r->n = 1;
	return 0;
}

/*
 * split -- move the upper half of the full node @n to a new node *@right
 * and its median item to *@median (for the parent)
 */
static int split(daxo_pool *p, daxo_tx *tx, struct bt_node *n,
		 struct bt_item *median, bt_node_oid *right)
{
	const uint64_t c = ORDER / 2;
	int rc = DAXO_TX_ALLOC_T(tx, right, DAXO_ALLOC_ZERO);

	if (!rc)
		rc = daxo_tx_add_range(tx, n, sizeof(*n));
	if (rc)
		return rc;
	struct bt_node *r = NODE(p, *right);

	*median = n->items[c - 1];
	r->n = ORDER - 1 - c;
	memcpy(r->items, &n->items[c], r->n * sizeof(r->items[0]));
	memcpy(r->slots, &n->slots[c], (r->n + 1) * sizeof(r->slots[0]));
	memset(&n->items[c - 1], 0, (ORDER - c) * sizeof(n->items[0]));
	memset(&n->slots[c], 0, (ORDER - c) * sizeof(n->slots[0]));
	n->n = c - 1;
	return 0;
}

/*
 * find_dest -- the leaf and position where @key goes, splitting every full
 * node on the way down (so a split's median always fits in its parent);
 * -EEXIST if a node on the way holds @key (the splits before it stand)
 */
static int find_dest(daxo_pool *p, daxo_tx *tx, struct btree_map_daxo *m,
		     uint64_t key, struct bt_node **leaf, uint64_t *pos)
{
	bt_node_oid o = m->root;
	struct bt_node *parent = NULL, *n;
	uint64_t i = 0;
	int rc;

	for (;;) {
		n = NODE(p, o);
		if (n->n == ORDER - 1) {
			struct bt_item med;
			bt_node_oid right;

			rc = split(p, tx, n, &med, &right);
			if (rc)
				return rc;
			if (!parent) {
				/* the root: the tree grows a level */
				bt_node_oid up;

				rc = DAXO_TX_ALLOC_T(tx, &up, DAXO_ALLOC_ZERO);
				if (!rc)
					rc = daxo_tx_add_range(tx, &m->root,
							       sizeof(m->root));
				if (rc)
					return rc;
				parent = NODE(p, up);
				parent->slots[0] = o;
				m->root = up;
				i = 0;
			}
			/* @parent has room: it was split on the way if full */
			rc = daxo_tx_add_range(tx, parent, sizeof(*parent));
			if (rc)
				return rc;
			memmove(&parent->slots[i + 2], &parent->slots[i + 1],
				(parent->n - i) * sizeof(parent->slots[0]));
			parent->slots[i + 1] = right;
			put_item(parent, i, med);
			/* linked first: an -EEXIST commits the split */
			if (med.key == key)
				return -EEXIST;
			if (key > med.key)
				n = NODE(p, right);
		}
		i = pos_of(n, key);
		if (i < n->n && n->items[i].key == key)
			return -EEXIST;
		if (IS_LEAF(n)) {
			*leaf = n;
			*pos = i;
			return 0;
		}
		parent = n;
		o = n->slots[i];
	}
}

int btree_map_daxo_insert(daxo_pool *p, daxo_oid map, uint64_t key,
			  daxo_oid value)
{
	struct btree_map_daxo *m = daxo_direct(p, map);
	struct bt_item item = {key, value};
	struct bt_node *leaf;
	uint64_t pos;
	daxo_tx *tx;
	int rc;

	if (!m)
		return -EINVAL;
	rc = daxo_tx_begin(p, &tx);
	if (rc)
		return rc;
	if (DAXO_OID_IS_NULL(m->root)) {
		rc = insert_empty(p, tx, m, item);
	} else {
		rc = find_dest(p, tx, m, key, &leaf, &pos);
#ifndef BTREE_MAP_PLANT_UNLOGGED /* tests/crash: the leaf not logged */
		if (!rc)
			rc = daxo_tx_add_range(tx, leaf, sizeof(*leaf));
#endif
		if (!rc)
			put_item(leaf, pos, item);
	}
	if (rc == -EEXIST) {
		/* the splits stand: a sound tree with the same keys */
		rc = daxo_tx_commit(tx);
		return rc ? rc : -EEXIST;
	}
	return end(tx, rc);
}

int btree_map_daxo_insert_new(daxo_pool *p, daxo_oid map, uint64_t key,
			      uint64_t size, uint32_t type,
			      void (*ctor)(daxo_pool *p, void *ptr, void *arg),
			      void *arg)
{
	daxo_tx *tx;
	daxo_oid v;
	int rc = daxo_tx_begin(p, &tx);

	if (rc)
		return rc;
	/* the object is the transaction's: what ctor writes needs no log */
	rc = daxo_tx_xalloc(tx, size, type, ctor ? 0 : DAXO_ALLOC_ZERO, &v);
	if (!rc) {
		if (ctor)
			ctor(p, daxo_direct(p, v), arg);
		rc = btree_map_daxo_insert(p, map, key, v);
	}
	return end(tx, rc);
}

/* ---- remove ---- */

/*
 * rotate_right -- @n (child @pos of @parent) is short of an item: it takes
 * the separator, and the separator becomes the first item of @n's right
 * sibling @r (which has more than it needs), with the slot beside it
 */
static int rotate_right(daxo_tx *tx, struct bt_node *r, struct bt_node *n,
			struct bt_node *parent, uint64_t pos)
{
	const struct daxo_range rg[] = {
	    {n, sizeof(*n)},
	    {&parent->items[pos], sizeof(parent->items[0])},
	    {r, sizeof(*r)},
	};
	int rc = daxo_tx_add_ranges(tx, rg, 3);

	if (rc)
		return rc;
	put_item(n, n->n, parent->items[pos]);
	n->slots[n->n] = r->slots[0];
	parent->items[pos] = r->items[0];
	memmove(&r->slots[0], &r->slots[1], r->n * sizeof(r->slots[0]));
	r->slots[r->n] = no_node;
	drop_item(r, 0);
	return 0;
}

/* rotate_left -- the same from the left sibling @l */
static int rotate_left(daxo_tx *tx, struct bt_node *l, struct bt_node *n,
		       struct bt_node *parent, uint64_t pos)
{
	const struct daxo_range rg[] = {
	    {n, sizeof(*n)},
	    {&parent->items[pos - 1], sizeof(parent->items[0])},
	    {l, sizeof(*l)},
	};
	int rc = daxo_tx_add_ranges(tx, rg, 3);

	if (rc)
		return rc;
	memmove(&n->slots[1], &n->slots[0], (n->n + 1) * sizeof(n->slots[0]));
	n->slots[0] = l->slots[l->n];
	put_item(n, 0, parent->items[pos - 1]);
	parent->items[pos - 1] = l->items[l->n - 1];
	l->slots[l->n] = no_node;
	drop_item(l, l->n - 1);
	return 0;
}

/*
 * merge -- child @pos + 1 of @parent, the separator @pos and child @pos
 * become one node (child @pos); if that empties the root, the merged node
 * is the new root
 */
static int merge(daxo_pool *p, daxo_tx *tx, struct btree_map_daxo *m,
		 struct bt_node *parent, uint64_t pos)
{
	bt_node_oid lo = parent->slots[pos], ro = parent->slots[pos + 1];
	struct bt_node *l = NODE(p, lo), *r = NODE(p, ro);
	const struct daxo_range rg[] = {{l, sizeof(*l)},
					{parent, sizeof(*parent)}};
	int rc = daxo_tx_add_ranges(tx, rg, 2);

	if (!rc)
		rc = DAXO_TX_FREE_T(tx, ro);
	if (rc)
		return rc;
	l->items[l->n] = parent->items[pos];
	memcpy(&l->items[l->n + 1], r->items, r->n * sizeof(r->items[0]));
	memcpy(&l->slots[l->n + 1], r->slots, (r->n + 1) * sizeof(r->slots[0]));
	l->n += 1 + r->n;
	memmove(&parent->slots[pos + 1], &parent->slots[pos + 2],
		(parent->n - 1 - pos) * sizeof(parent->slots[0]));
	parent->slots[parent->n] = no_node;
	drop_item(parent, pos);
	if (parent->n == 0 && parent == NODE(p, m->root)) {
		/* the tree shrinks a level */
		rc = daxo_tx_add_range(tx, &m->root, sizeof(m->root));
		if (!rc)
			rc = DAXO_TX_FREE_T(tx, m->root);
		if (!rc)
			m->root = lo;
	}
	return rc;
}

/* rebalance -- @n, child @pos of @parent, has too few items */
static int rebalance(daxo_pool *p, daxo_tx *tx, struct btree_map_daxo *m,
		     struct bt_node *n, struct bt_node *parent, uint64_t pos)
{
	struct bt_node *r =
	    pos < parent->n ? NODE(p, parent->slots[pos + 1]) : NULL;
	struct bt_node *l = pos > 0 ? NODE(p, parent->slots[pos - 1]) : NULL;

	if (r && r->n > MIN_KEYS)
		return rotate_right(tx, r, n, parent, pos);
	if (l && l->n > MIN_KEYS)
		return rotate_left(tx, l, n, parent, pos);
	return merge(p, tx, m, parent, r ? pos : pos - 1);
}

/*
 * take_min -- remove the smallest item of the subtree @n into *@out,
 * rebalancing below @n on the way back up
 */
static int take_min(daxo_pool *p, daxo_tx *tx, struct btree_map_daxo *m,
		    struct bt_node *n, struct bt_item *out)
{
	if (IS_LEAF(n)) {
		int rc = daxo_tx_add_range(tx, n, sizeof(*n));

		if (!rc) {
			*out = n->items[0];
			drop_item(n, 0);
		}
		return rc;
	}
	struct bt_node *c = NODE(p, n->slots[0]);
	int rc = take_min(p, tx, m, c, out);

	if (!rc && c->n < MIN_KEYS)
		rc = rebalance(p, tx, m, c, n, 0);
	return rc;
}

/* remove_at -- remove item @pos of @n; an inner node's takes its successor */
static int remove_at(daxo_pool *p, daxo_tx *tx, struct btree_map_daxo *m,
		     struct bt_node *n, uint64_t pos)
{
	int rc;

	if (IS_LEAF(n)) {
		rc = daxo_tx_add_range(tx, n, sizeof(*n));
		if (!rc)
			drop_item(n, pos);
		return rc;
	}
	struct bt_node *c = NODE(p, n->slots[pos + 1]);
	struct bt_item succ;

	rc = take_min(p, tx, m, c, &succ);
	if (!rc)
		rc = daxo_tx_add_range(tx, &n->items[pos], sizeof(n->items[0]));
	if (rc)
		return rc;
	n->items[pos] = succ;
	if (c->n < MIN_KEYS)
		rc = rebalance(p, tx, m, c, n, pos + 1);
	return rc;
}

/*
 * remove_key -- remove @key from the subtree @n (child @pos of @parent, or
 * the root), its value to *@value; -ENOENT changes nothing
 */
static int remove_key(daxo_pool *p, daxo_tx *tx, struct btree_map_daxo *m,
		      struct bt_node *n, struct bt_node *parent, uint64_t pos,
		      uint64_t key, daxo_oid *value)
{
	uint64_t i = pos_of(n, key);
	int rc;

	if (i < n->n && n->items[i].key == key) {
		*value = n->items[i].value;
		rc = remove_at(p, tx, m, n, i);
	} else if (IS_LEAF(n)) {
		return -ENOENT;
	} else {
		rc = remove_key(p, tx, m, NODE(p, n->slots[i]), n, i, key,
				value);
	}
	if (!rc && parent && n->n < MIN_KEYS)
		rc = rebalance(p, tx, m, n, parent, pos);
	return rc;
}

int btree_map_daxo_remove(daxo_pool *p, daxo_oid map, uint64_t key,
			  daxo_oid *value)
{
	struct btree_map_daxo *m = daxo_direct(p, map);
	daxo_oid v = 0;
	daxo_tx *tx;
	int rc;

	if (!m)
		return -EINVAL;
	if (DAXO_OID_IS_NULL(m->root))
		return -ENOENT;
	rc = daxo_tx_begin(p, &tx);
	if (rc)
		return rc;
	rc = remove_key(p, tx, m, NODE(p, m->root), NULL, 0, key, &v);
	if (rc == -ENOENT) {
		/* nothing changed: an outer transaction goes on */
		rc = daxo_tx_commit(tx);
		return rc ? rc : -ENOENT;
	}
	if (!rc && value)
		*value = v;
	return end(tx, rc);
}

int btree_map_daxo_remove_free(daxo_pool *p, daxo_oid map, uint64_t key)
{
	daxo_tx *tx;
	daxo_oid v;
	int rc = daxo_tx_begin(p, &tx);

	if (rc)
		return rc;
	rc = btree_map_daxo_remove(p, map, key, &v);
	if (!rc)
		rc = daxo_tx_free(tx, v);
	if (rc == -ENOENT) {
		rc = daxo_tx_commit(tx);
		return rc ? rc : -ENOENT;
	}
	return end(tx, rc);
}

/* ---- reading ---- */

/* find -- the item of @key, or NULL */
static const struct bt_item *find(daxo_pool *p, daxo_oid map, uint64_t key)
{
	const struct btree_map_daxo *m = daxo_direct(p, map);
	const struct bt_node *n = m ? NODE(p, m->root) : NULL;

	while (n) {
		uint64_t i = pos_of(n, key);

		if (i < n->n && n->items[i].key == key)
			return &n->items[i];
		n = NODE(p, n->slots[i]);
	}
	return NULL;
}

daxo_oid btree_map_daxo_get(daxo_pool *p, daxo_oid map, uint64_t key)
{
	const struct bt_item *it = find(p, map, key);

	return it ? it->value : 0;
}

int btree_map_daxo_lookup(daxo_pool *p, daxo_oid map, uint64_t key)
{
	return find(p, map, key) != NULL;
}

static int foreach_node(daxo_pool *p, bt_node_oid o,
			int (*cb)(uint64_t, daxo_oid, void *), void *arg)
{
	const struct bt_node *n = NODE(p, o);
	int rc = 0;

	if (!n)
		return 0;
	for (uint64_t i = 0; i <= n->n && !rc; i++) {
		rc = foreach_node(p, n->slots[i], cb, arg);
		if (!rc && i < n->n)
			rc = cb(n->items[i].key, n->items[i].value, arg);
	}
	return rc;
}

int btree_map_daxo_foreach(daxo_pool *p, daxo_oid map,
			   int (*cb)(uint64_t key, daxo_oid value, void *arg),
			   void *arg)
{
	const struct btree_map_daxo *m = daxo_direct(p, map);

	return m ? foreach_node(p, m->root, cb, arg) : -EINVAL;
}

int btree_map_daxo_is_empty(daxo_pool *p, daxo_oid map)
{
	const struct btree_map_daxo *m = daxo_direct(p, map);
	const struct bt_node *r = m ? NODE(p, m->root) : NULL;

	return !r || r->n == 0;
}

/* ---- check ---- */

struct bt_walk {
	daxo_pool *p;
	uint64_t nkeys, prev;
	int leaf_depth; /* -1 until the first leaf */
	const char *why;
};

/* bad -- a node is wrong: @why */
static int bad(struct bt_walk *w, const char *why)
{
	w->why = why;
	return -EUCLEAN;
}

static int check_node(struct bt_walk *w, bt_node_oid o, int depth, bool root)
{
	const struct bt_node *n = NODE(w->p, o);

	if (!n || daxo_oid_type(w->p, o.oid) != BTREE_MAP_DAXO_NODE_TYPE)
		return bad(w, "a slot names no node");
	if (n->n > ORDER - 1 || (!root && n->n < MIN_KEYS))
		return bad(w, "a node with too many or too few items");
	for (uint64_t i = n->n; i < ORDER - 1; i++)
		if (memcmp(&n->items[i], &no_item, sizeof(no_item)))
			return bad(w, "an unused item is not zero");
	if (IS_LEAF(n)) {
		for (uint64_t i = 1; i < ORDER; i++)
			if (!DAXO_OID_IS_NULL(n->slots[i]))
				return bad(w, "a leaf with a child");
		if (w->leaf_depth >= 0 && w->leaf_depth != depth)
			return bad(w, "leaves at two depths");
		w->leaf_depth = depth;
	}
	for (uint64_t i = n->n + 1; i < ORDER; i++)
		if (!DAXO_OID_IS_NULL(n->slots[i]))
			return bad(w, "a child past the items");
	for (uint64_t i = 0; i <= n->n; i++) {
		if (!IS_LEAF(n)) {
			int rc = check_node(w, n->slots[i], depth + 1, false);

			if (rc)
				return rc;
		}
		if (i == n->n)
			break;
		if (w->nkeys && n->items[i].key <= w->prev)
			return bad(w, "keys out of order");
		w->prev = n->items[i].key;
		w->nkeys++;
	}
	return 0;
}

int btree_map_daxo_check(daxo_pool *p, daxo_oid map, uint64_t *nkeys,
			 const char **why)
{
	const struct btree_map_daxo *m = daxo_direct(p, map);
	struct bt_walk w = {p, 0, 0, -1, NULL};
	int rc = 0;

	if (!m || daxo_oid_type(p, map) != BTREE_MAP_DAXO_TYPE) {
		w.why = "not a B-tree map";
		rc = -EINVAL;
	} else if (!DAXO_OID_IS_NULL(m->root)) {
		rc = check_node(&w, m->root, 0, true);
	}
	if (nkeys)
		*nkeys = w.nkeys;
	if (why)
		*why = w.why;
	return rc;
}
