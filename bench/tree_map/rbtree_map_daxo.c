/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rbtree_map_daxo.c -- a red-black tree with a sentinel node on daxo's
 * native API: a port of PMDK's examples/libpmemobj/tree_map/rbtree_map.c
 * (Copyright 2015-2019, Intel Corporation, BSD-3-Clause), same algorithm
 * and structure, written for daxo.
 *
 * Where the original says TX_ADD/TX_SET (snapshot, then store in place),
 * this port calls daxo_tx_add_range on the same bytes and then stores:
 * both are undo logging. TX_ZNEW is daxo_tx_alloc (zeroed; filled in
 * directly, as libpmemobj lets a transaction fill what it allocated),
 * TX_FREE is daxo_tx_free, D_RO/D_RW are daxo_direct. Nodes hold 8-byte
 * oids, so a node is 48 bytes where the original's is 80.
 *
 * One difference on purpose: is_empty compares the top node with the
 * sentinel (the original tests for a null oid, which the top slot never
 * holds: it points at the sentinel when the tree is empty).
 *
 * libpmemobj aborts a failed transaction by longjmp; here the first failed
 * call is kept in the context (struct rbx) and every later store is
 * skipped -- a store is made only after its snapshot succeeded, so the
 * abort at the end restores whatever was changed -- and every loop that
 * follows changed pointers stops.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#include "rbtree_map_daxo.h"

enum rb_color { COLOR_BLACK, COLOR_RED };
enum rb_children { RB_LEFT, RB_RIGHT };

struct rb_node {
	uint64_t key;
	daxo_oid value;
	uint32_t color;
	uint32_t pad;
	daxo_oid parent;
	daxo_oid slots[2];
};

struct rbtree_map_daxo {
	daxo_oid sentinel;
	daxo_oid root; /* a node whose left child is the tree's top node */
};

/* one operation: the pool, its transaction, the first error */
struct rbx {
	daxo_pool *p;
	daxo_tx *tx;
	int err;
	daxo_oid s; /* the sentinel */
	struct rbtree_map_daxo *m;
};

static inline struct rb_node *N(const struct rbx *c, daxo_oid oid)
{
	return daxo_direct(c->p, oid);
}

/* add -- snapshot [ptr, ptr+len); false (and nothing may be stored) after
 * any failure */
static bool add(struct rbx *c, void *ptr, size_t len)
{
	if (c->err)
		return false;
	c->err = daxo_tx_add_range(c->tx, ptr, len);
	return c->err == 0;
}

/* TX_SET of an oid and of a color */
static void set_oid(struct rbx *c, daxo_oid *field, daxo_oid v)
{
	if (add(c, field, sizeof(*field)))
		*field = v;
}

static void set_color(struct rbx *c, daxo_oid node, uint32_t color)
{
	uint32_t *f = &N(c, node)->color;

	if (add(c, f, sizeof(*f)))
		*f = color;
}

static inline daxo_oid parent_of(const struct rbx *c, daxo_oid n)
{
	return N(c, n)->parent;
}

/* location -- RB_RIGHT if @n is its parent's right child */
static inline int location(const struct rbx *c, daxo_oid n)
{
	return N(c, parent_of(c, n))->slots[RB_RIGHT] == n;
}

static inline daxo_oid *first_slot(const struct rbx *c)
{
	return &N(c, c->m->root)->slots[RB_LEFT];
}

static int rbx_begin(struct rbx *c, daxo_pool *p, daxo_oid map)
{
	c->p = p;
	c->err = 0;
	c->m = daxo_direct(p, map);
	if (!c->m)
		return -EINVAL;
	c->s = c->m->sentinel;
	return daxo_tx_begin(p, &c->tx);
}

/* rbx_end -- commit, or abort after a failure */
static int rbx_end(struct rbx *c)
{
	if (c->err) {
		daxo_tx_abort(c->tx);
		return c->err;
	}
	return daxo_tx_commit(c->tx);
}

int rbtree_map_daxo_create(daxo_pool *p, daxo_oid *map)
{
	struct rbx c = {.p = p};
	daxo_oid m = 0, s = 0, r = 0;
	int rc = daxo_tx_begin(p, &c.tx);

	if (rc)
		return rc;
	if (add(&c, map, sizeof(*map))) {
		c.err = daxo_tx_alloc(c.tx, sizeof(struct rbtree_map_daxo),
				      RBTREE_MAP_DAXO_TYPE, &m);
		if (!c.err)
			c.err = daxo_tx_alloc(c.tx, sizeof(struct rb_node),
					      RBTREE_MAP_DAXO_NODE_TYPE, &s);
		if (!c.err)
			c.err = daxo_tx_alloc(c.tx, sizeof(struct rb_node),
					      RBTREE_MAP_DAXO_NODE_TYPE, &r);
	}
	if (!c.err) {
		struct rb_node *sn = N(&c, s), *rn = N(&c, r);
		struct rbtree_map_daxo *mp = daxo_direct(p, m);

		sn->color = COLOR_BLACK;
		sn->parent = s;
		sn->slots[RB_LEFT] = s;
		sn->slots[RB_RIGHT] = s;
		rn->color = COLOR_BLACK;
		rn->parent = s;
		rn->slots[RB_LEFT] = s;
		rn->slots[RB_RIGHT] = s;
		mp->sentinel = s;
		mp->root = r;
		*map = m;
	}
	return rbx_end(&c);
}

/* clear_node -- free @n and everything under it */
static void clear_node(struct rbx *c, daxo_oid n)
{
	struct rb_node *nd = N(c, n);

	if (c->err)
		return;
	if (nd->slots[RB_LEFT] != c->s)
		clear_node(c, nd->slots[RB_LEFT]);
	if (nd->slots[RB_RIGHT] != c->s)
		clear_node(c, nd->slots[RB_RIGHT]);
	if (!c->err)
		c->err = daxo_tx_free(c->tx, n);
}

/* clear_tx -- free every node and the sentinel (the original's order) */
static void clear_tx(struct rbx *c)
{
	clear_node(c, c->m->root);
	if (!add(c, c->m, sizeof(*c->m)))
		return;
	c->err = daxo_tx_free(c->tx, c->m->sentinel);
	if (!c->err) {
		c->m->root = 0;
		c->m->sentinel = 0;
	}
}

int rbtree_map_daxo_clear(daxo_pool *p, daxo_oid map)
{
	struct rbx c;
	int rc = rbx_begin(&c, p, map);

	if (rc)
		return rc;
	clear_tx(&c);
	return rbx_end(&c);
}

int rbtree_map_daxo_destroy(daxo_pool *p, daxo_oid *map)
{
	struct rbx c;
	int rc = rbx_begin(&c, p, *map);

	if (rc)
		return rc;
	clear_tx(&c);
	if (add(&c, map, sizeof(*map))) {
		c.err = daxo_tx_free(c.tx, *map);
		if (!c.err)
			*map = 0;
	}
	return rbx_end(&c);
}

/* rotate -- a left (@dir RB_LEFT) or right rotation around @node */
static void rotate(struct rbx *c, daxo_oid node, int dir)
{
	struct rb_node *n = N(c, node);
	daxo_oid child = n->slots[!dir];
	struct rb_node *ch = N(c, child);

	if (!add(c, n, sizeof(*n)) || !add(c, ch, sizeof(*ch)))
		return;
	n->slots[!dir] = ch->slots[dir];
	if (ch->slots[dir] != c->s)
		set_oid(c, &N(c, ch->slots[dir])->parent, node);
	ch->parent = n->parent;
	set_oid(c, &N(c, n->parent)->slots[location(c, node)], child);
	ch->slots[dir] = node;
	n->parent = child;
}

/* insert_bst -- put the new node @n where a plain search tree puts it */
static void insert_bst(struct rbx *c, daxo_oid n)
{
	struct rb_node *nn = N(c, n);
	daxo_oid parent = c->m->root;
	daxo_oid *dst = first_slot(c);

	nn->slots[RB_LEFT] = c->s;
	nn->slots[RB_RIGHT] = c->s;
	while (*dst != c->s) {
		parent = *dst;
		dst = &N(c, *dst)->slots[nn->key > N(c, *dst)->key];
	}
	/* new in this transaction: filled in directly */
	nn->parent = parent;
	if (add(c, dst, sizeof(*dst)))
		*dst = n;
}

/* recolor -- restore the red-black properties above @n after an insert */
static daxo_oid recolor(struct rbx *c, daxo_oid n, int dir)
{
	daxo_oid gp = parent_of(c, parent_of(c, n));
	daxo_oid uncle = N(c, gp)->slots[!dir];

	if (N(c, uncle)->color == COLOR_RED) {
		set_color(c, uncle, COLOR_BLACK);
		set_color(c, parent_of(c, n), COLOR_BLACK);
		set_color(c, gp, COLOR_RED);
		return gp;
	}
	if (N(c, parent_of(c, n))->slots[!dir] == n) {
		n = parent_of(c, n);
		rotate(c, n, dir);
	}
	set_color(c, parent_of(c, n), COLOR_BLACK);
	set_color(c, parent_of(c, parent_of(c, n)), COLOR_RED);
	rotate(c, parent_of(c, parent_of(c, n)), !dir);
	return n;
}

/* insert_tx -- insert inside the transaction of @c */
static void insert_tx(struct rbx *c, uint64_t key, daxo_oid value)
{
	daxo_oid n;

	if (c->err)
		return;
	c->err = daxo_tx_alloc(c->tx, sizeof(struct rb_node),
			       RBTREE_MAP_DAXO_NODE_TYPE, &n);
	if (c->err)
		return;
	N(c, n)->key = key;
	N(c, n)->value = value;
	insert_bst(c, n);
	N(c, n)->color = COLOR_RED;
	while (!c->err && N(c, parent_of(c, n))->color == COLOR_RED)
		n = recolor(c, n, location(c, parent_of(c, n)));
	set_color(c, *first_slot(c), COLOR_BLACK);
}

int rbtree_map_daxo_insert(daxo_pool *p, daxo_oid map, uint64_t key,
			   daxo_oid value)
{
	struct rbx c;
	int rc = rbx_begin(&c, p, map);

	if (rc)
		return rc;
	insert_tx(&c, key, value);
	return rbx_end(&c);
}

int rbtree_map_daxo_insert_new(daxo_pool *p, daxo_oid map, uint64_t key,
			       uint64_t size, uint32_t type,
			       void (*ctor)(daxo_pool *p, void *ptr, void *arg),
			       void *arg)
{
	struct rbx c;
	daxo_oid v;
	int rc = rbx_begin(&c, p, map);

	if (rc)
		return rc;
	c.err = daxo_tx_alloc(c.tx, size, type, &v);
	if (!c.err) {
		ctor(p, daxo_direct(p, v), arg);
		insert_tx(&c, key, v);
	}
	return rbx_end(&c);
}

/* successor -- the node after @n in key order (the sentinel if none) */
static daxo_oid successor(const struct rbx *c, daxo_oid n)
{
	daxo_oid dst = N(c, n)->slots[RB_RIGHT];

	if (dst != c->s) {
		while (N(c, dst)->slots[RB_LEFT] != c->s)
			dst = N(c, dst)->slots[RB_LEFT];
		return dst;
	}
	dst = N(c, n)->parent;
	while (n == N(c, dst)->slots[RB_RIGHT]) {
		n = dst;
		dst = parent_of(c, dst);
	}
	return dst == c->m->root ? c->s : dst;
}

/* find_node -- the node holding @key, or 0 */
static daxo_oid find_node(const struct rbx *c, uint64_t key)
{
	daxo_oid dst = *first_slot(c);

	while (dst != c->s) {
		const struct rb_node *d = N(c, dst);

		if (d->key == key)
			return dst;
		dst = d->slots[key > d->key];
	}
	return 0;
}

/* repair_branch -- restore the properties in one branch after a remove */
static daxo_oid repair_branch(struct rbx *c, daxo_oid n, int dir)
{
	daxo_oid sb = N(c, parent_of(c, n))->slots[!dir]; /* sibling */

	if (N(c, sb)->color == COLOR_RED) {
		set_color(c, sb, COLOR_BLACK);
		set_color(c, parent_of(c, n), COLOR_RED);
		rotate(c, parent_of(c, n), dir);
		sb = N(c, parent_of(c, n))->slots[!dir];
	}
	if (N(c, N(c, sb)->slots[RB_RIGHT])->color == COLOR_BLACK &&
	    N(c, N(c, sb)->slots[RB_LEFT])->color == COLOR_BLACK) {
		set_color(c, sb, COLOR_RED);
		return N(c, n)->parent;
	}
	if (N(c, N(c, sb)->slots[!dir])->color == COLOR_BLACK) {
		set_color(c, N(c, sb)->slots[dir], COLOR_BLACK);
		set_color(c, sb, COLOR_RED);
		rotate(c, sb, !dir);
		sb = N(c, parent_of(c, n))->slots[!dir];
	}
	set_color(c, sb, N(c, parent_of(c, n))->color);
	set_color(c, parent_of(c, n), COLOR_BLACK);
	set_color(c, N(c, sb)->slots[!dir], COLOR_BLACK);
	rotate(c, parent_of(c, n), dir);
	return *first_slot(c);
}

static void repair(struct rbx *c, daxo_oid n)
{
	while (!c->err && n != *first_slot(c) && N(c, n)->color == COLOR_BLACK)
		n = repair_branch(c, n, location(c, n));
	set_color(c, n, COLOR_BLACK);
}

/* remove_tx -- take @key out inside the transaction of @c */
static int remove_tx(struct rbx *c, uint64_t key, daxo_oid *value)
{
	daxo_oid n = find_node(c, key), r = c->m->root, s = c->s;

	if (!n)
		return -ENOENT;
	*value = N(c, n)->value;

	daxo_oid y =
	    (N(c, n)->slots[RB_LEFT] == s || N(c, n)->slots[RB_RIGHT] == s)
		? n
		: successor(c, n);
	daxo_oid x = N(c, y)->slots[RB_LEFT] == s ? N(c, y)->slots[RB_RIGHT]
						  : N(c, y)->slots[RB_LEFT];

	set_oid(c, &N(c, x)->parent, parent_of(c, y));
	if (parent_of(c, x) == r)
		set_oid(c, &N(c, r)->slots[RB_LEFT], x);
	else
		set_oid(c, &N(c, parent_of(c, y))->slots[location(c, y)], x);
	if (N(c, y)->color == COLOR_BLACK)
		repair(c, x);
	if (y != n && add(c, N(c, y), sizeof(struct rb_node))) {
		struct rb_node *yn = N(c, y), *nn = N(c, n);

		yn->slots[RB_LEFT] = nn->slots[RB_LEFT];
		yn->slots[RB_RIGHT] = nn->slots[RB_RIGHT];
		yn->parent = nn->parent;
		yn->color = nn->color;
		set_oid(c, &N(c, nn->slots[RB_LEFT])->parent, y);
		set_oid(c, &N(c, nn->slots[RB_RIGHT])->parent, y);
		set_oid(c, &N(c, parent_of(c, n))->slots[location(c, n)], y);
	}
	if (!c->err)
		c->err = daxo_tx_free(c->tx, n);
	return 0;
}

int rbtree_map_daxo_remove(daxo_pool *p, daxo_oid map, uint64_t key,
			   daxo_oid *value)
{
	struct rbx c;
	int rc = rbx_begin(&c, p, map);

	if (rc)
		return rc;
	rc = remove_tx(&c, key, value);
	if (rc) {
		daxo_tx_abort(c.tx);
		return rc;
	}
	return rbx_end(&c);
}

int rbtree_map_daxo_remove_free(daxo_pool *p, daxo_oid map, uint64_t key)
{
	struct rbx c;
	daxo_oid v = 0;
	int rc = rbx_begin(&c, p, map);

	if (rc)
		return rc;
	rc = remove_tx(&c, key, &v);
	if (rc) {
		daxo_tx_abort(c.tx);
		return rc;
	}
	if (!c.err && v)
		c.err = daxo_tx_free(c.tx, v);
	return rbx_end(&c);
}

/* rbx_read -- the context of a read-only call: no transaction */
static bool rbx_read(struct rbx *c, daxo_pool *p, daxo_oid map)
{
	c->p = p;
	c->tx = NULL;
	c->err = 0;
	c->m = daxo_direct(p, map);
	if (!c->m)
		return false;
	c->s = c->m->sentinel;
	return true;
}

daxo_oid rbtree_map_daxo_get(daxo_pool *p, daxo_oid map, uint64_t key)
{
	struct rbx c;
	daxo_oid n;

	if (!rbx_read(&c, p, map))
		return 0;
	n = find_node(&c, key);
	return n ? N(&c, n)->value : 0;
}

int rbtree_map_daxo_lookup(daxo_pool *p, daxo_oid map, uint64_t key)
{
	struct rbx c;

	return rbx_read(&c, p, map) && find_node(&c, key) != 0;
}

static int foreach_node(const struct rbx *c, daxo_oid n,
			int (*cb)(uint64_t key, daxo_oid value, void *arg),
			void *arg)
{
	int ret;

	if (n == c->s)
		return 0;
	ret = foreach_node(c, N(c, n)->slots[RB_LEFT], cb, arg);
	if (!ret)
		ret = cb(N(c, n)->key, N(c, n)->value, arg);
	if (!ret)
		ret = foreach_node(c, N(c, n)->slots[RB_RIGHT], cb, arg);
	return ret;
}

int rbtree_map_daxo_foreach(daxo_pool *p, daxo_oid map,
			    int (*cb)(uint64_t key, daxo_oid value, void *arg),
			    void *arg)
{
	struct rbx c;

	if (!rbx_read(&c, p, map))
		return -EINVAL;
	return foreach_node(&c, *first_slot(&c), cb, arg);
}

int rbtree_map_daxo_is_empty(daxo_pool *p, daxo_oid map)
{
	struct rbx c;

	return !rbx_read(&c, p, map) || *first_slot(&c) == c.s;
}

int rbtree_map_daxo_check(daxo_pool *p, daxo_oid map)
{
	return map == 0 || daxo_oid_type(p, map) != RBTREE_MAP_DAXO_TYPE;
}
