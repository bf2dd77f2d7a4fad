/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * use_macros.h -- code that uses every kind of libpmemobj macro, compiled
 * as C (gnu11, -Wall -Wextra -Wshadow -Werror) and as C++ (gnu++11) by
 * pmemobj_c.c and pmemobj_cxx.cc: daxo's <libpmemobj.h> must build clean
 * in both, nested transaction blocks included.
 */
#include <libpmemobj.h>

POBJ_LAYOUT_BEGIN(hdr);
POBJ_LAYOUT_ROOT(hdr, struct hroot);
POBJ_LAYOUT_TOID(hdr, struct hnode);
POBJ_LAYOUT_END(hdr);

struct hnode {
	int v;
	POBJ_LIST_ENTRY(struct hnode) e;
};
POBJ_LIST_HEAD(hhead, struct hnode);
struct hroot {
	TOID(struct hnode) first;
	struct hhead head;
	PMEMmutex m;
};

static int use_macros(PMEMobjpool *pop)
{
	TOID(struct hroot) root = POBJ_ROOT(pop, struct hroot);
	volatile int ret = 0;

	if (TOID_IS_NULL(root))
		return -1;
	TX_BEGIN(pop) {
		TOID(struct hnode) n = TX_ZNEW(struct hnode);
		D_RW(n)->v = 1;
		TX_SET(root, first, n);
		TX_BEGIN_PARAM(pop, TX_PARAM_MUTEX, &D_RW(root)->m) {
			TX_ADD_FIELD(root, first);
			n = TX_REALLOC(n, 128);
		} TX_END
		TX_FREE(n);
	} TX_ONCOMMIT {
		ret = 2;
	} TX_ONABORT {
		ret = 1;
	} TX_FINALLY {
		ret += 10;
	} TX_END
	TOID(struct hnode) it;
	POBJ_LIST_FOREACH(it, &D_RO(root)->head, e)
		ret += D_RO(it)->v;
	POBJ_FOREACH_TYPE(pop, it)
		ret++;
	PMEMoid o;
	POBJ_FOREACH(pop, o)
		ret++;
	TOID_ASSIGN(it, OID_NULL);
	return ret + (int)TOID_TYPE_NUM(struct hnode) +
	       (int)POBJ_LAYOUT_TYPES_NUM(hdr) + (TOID_VALID(it) ? 1 : 0);
}
