/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * typed_oids.c -- daxo.h's typed oids (DAXO_OID_TYPE and its macros):
 * run, it allocates, links and walks objects through them; compiled with
 * one of the BAD_* macros defined, it must not compile (test_typed.sh).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daxo.h"

struct node;
struct leaf;
DAXO_OID_TYPE(node_oid, struct node, 21);
DAXO_OID_TYPE(leaf_oid, struct leaf, 22);

struct node {
	uint64_t key;
	node_oid next;
	leaf_oid leaf;
};

struct leaf {
	char text[40];
};

struct root {
	node_oid head;
};

_Static_assert(sizeof(node_oid) == sizeof(daxo_oid), "8 bytes");
_Static_assert(DAXO_OID_TYPENUM(((struct node *)0)->next) == 21, "number");

#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "typed_oids: %s:%d: %s\n", __FILE__,   \
				__LINE__, #c);                                 \
			return 1;                                              \
		}                                                              \
	} while (0)

int main(int argc, char **argv)
{
	daxo_pool *p;
	daxo_oid ro;
	daxo_tx *tx;

	if (argc < 2) {
		fprintf(stderr, "usage: typed_oids POOL\n");
		return 2;
	}
	unlink(argv[1]);
	CHECK(daxo_create(argv[1], "typed", 16 << 20, 0600, &p) == 0);
	CHECK(daxo_root(p, sizeof(struct root), &ro) == 0);
	struct root *r = daxo_direct(p, ro);
	CHECK(DAXO_OID_IS_NULL(r->head));

	/* push three nodes, each with a leaf, in transactions */
	for (uint64_t k = 1; k <= 3; k++) {
		node_oid n = {0};
		CHECK(daxo_tx_begin(p, &tx) == 0);
		CHECK(DAXO_TX_ALLOC_T(tx, &n, DAXO_ALLOC_ZERO) == 0);
		struct node *np = DAXO_PTR(p, n);
		np->key = k;
		np->next = r->head;
		CHECK(DAXO_TX_ALLOC_T(tx, &np->leaf, DAXO_ALLOC_ZERO) == 0);
		snprintf(DAXO_PTR(p, np->leaf)->text, 40, "leaf %llu",
			 (unsigned long long)k);
		CHECK(daxo_tx_write(tx, &r->head, &n, sizeof(n)) == 0);
		CHECK(daxo_tx_commit(tx) == 0);
	}
	/* walk the list, and the objects by the type numbers */
	uint64_t sum = 0;
	for (node_oid n = r->head; !DAXO_OID_IS_NULL(n);
	     n = DAXO_PTR(p, n)->next) {
		struct node *np = DAXO_PTR(p, n);
		sum += np->key;
		CHECK(daxo_oid_type(p, n.oid) == DAXO_OID_TYPENUM(n));
		CHECK(strncmp(DAXO_PTR(p, np->leaf)->text, "leaf ", 5) == 0);
		node_oid again;
		DAXO_OID_SET(p, again, np);
		CHECK(again.oid == n.oid);
	}
	CHECK(sum == 6);
	unsigned leaves = 0;
	for (daxo_oid o = daxo_first(p, 22); o; o = daxo_next(p, o, 22))
		leaves++;
	CHECK(leaves == 3);
	/* an atomic allocation and free through a typed oid in the pool */
	node_oid *h = &r->head;
	struct node *first = DAXO_PTR(p, *h);
	CHECK(DAXO_ALLOC_T(p, &first->leaf, DAXO_ALLOC_ZERO, NULL, NULL) == 0);
	CHECK(DAXO_PTR(p, first->leaf)->text[0] == 0);
	CHECK(DAXO_FREE_T(p, &first->leaf) == 0);
	CHECK(DAXO_OID_IS_NULL(first->leaf));
#ifdef BAD_ASSIGN
	leaf_oid wrong = r->head; /* another type */
	(void)wrong;
#endif
#ifdef BAD_POINTER
	struct leaf *lp = DAXO_PTR(p, r->head); /* a node, not a leaf */
	(void)lp;
#endif
#ifdef BAD_SET
	leaf_oid l2 = {0};
	DAXO_OID_SET(p, l2, first); /* a node pointer into a leaf oid */
#endif
#ifdef BAD_NEXT
	first->next = first->leaf; /* a leaf where a node goes */
#endif
	daxo_close(p);
	unlink(argv[1]);
	printf("typed_oids: OK\n");
	return 0;
}
