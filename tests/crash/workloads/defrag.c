/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * defrag.c -- crash-simulator workloads of compaction (workloads.h
 * registers them):
 *
 *   defrag     rounds: objects allocated, three in four freed (sparse
 *              runs), the kept ones linked to each other (a place inside
 *              each object), large objects with a hole below them, then
 *              daxo_heap_defrag naming every place; the check: every slot
 *              of the root names a live object holding its own number and
 *              bytes, every link names the object its slot names (both old
 *              or both new: a batch is all or nothing), nothing leaked,
 *              nothing that returned lost
 *   kvcompact  rounds: 96 keys put, three in four deleted, daxo_kv_compact,
 *              the rest deleted; the check reads every key back
 *
 * Like workloads.c's, each keeps what committed in volatile memory, read by
 * the check in the process forked at the crash point.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "defrag_wl.h"
#include "internal.h"
#include "workloads.h"

#define DN	    48 /* small objects a round */
#define DL	    4  /* large objects a round */
#define DKEEP	    4
#define TYPE_DEFRAG 11u
#define LSIZE	    (40u << 10)

struct dnode {
	uint64_t id;
	daxo_oid peer;	    /* the next kept object, once linked */
	uint64_t fill[370]; /* id * 3 + 1 each: 2976 bytes in all, class 3072:
			      two runs a round */
};

struct droot {
	daxo_oid obj[DN];
	daxo_oid big[DL];
};

struct dwl {
	unsigned ops;
	daxo_oid root;
	uint64_t done;
	int inflight;
	int cur;	   /* slot of the op in flight (-1: defrag, -2 none) */
	bool exp[DN + DL]; /* slots that hold an object after the last op */
	bool linked;	   /* the kept objects' links are set */
};

static struct droot *droot_of(daxo_pool *p, struct dwl *s)
{
	return daxo_direct(p, s->root);
}

static int d_setup(daxo_pool *p, void *arg)
{
	struct dwl *s = arg;

	return daxo_root(p, sizeof(struct droot), &s->root);
}

/* d_new -- a transaction: object @i made, filled and published */
static int d_new(daxo_pool *p, daxo_oid *slot, uint64_t i, uint64_t size)
{
	daxo_tx *tx;
	daxo_oid o;
	int ret = daxo_tx_begin(p, &tx);

	if (ret)
		return ret;
	ret = daxo_tx_alloc(tx, size, TYPE_DEFRAG, &o);
	if (!ret) {
		struct dnode *n = daxo_direct(p, o);
		n->id = i;
		for (unsigned j = 0; j < 370; j++)
			n->fill[j] = i * 3 + 1;
		ret = daxo_tx_write(tx, slot, &o, sizeof(o));
	}
	if (ret) {
		daxo_tx_abort(tx);
		return ret;
	}
	return daxo_tx_commit(tx);
}

static int d_step(struct dwl *s, int cur)
{
	s->cur = cur;
	s->inflight = 1;
	return 0;
}

static void d_done(struct dwl *s, int slot, bool full)
{
	if (slot >= 0)
		s->exp[slot] = full;
	s->done++;
	s->inflight = 0;
	s->cur = -2;
}

/* d_defrag -- every place: the kept slots, their links, the large ones */
static int d_defrag(daxo_pool *p, struct droot *r)
{
	daxo_oid *pl[2 * DN + DL];
	size_t n = 0;

	for (unsigned i = 0; i < DN; i++) {
		if (!r->obj[i])
			continue;
		pl[n++] = &r->obj[i];
		struct dnode *x = daxo_direct(p, r->obj[i]);
		pl[n++] = &x->peer;
	}
	for (unsigned i = 0; i < DL; i++)
		if (r->big[i])
			pl[n++] = &r->big[i];
	struct daxo_defrag_result res;
	int ret = daxo_heap_defrag(p, pl, n, &res);
	/* the round leaves a spare run and a hole below the large objects:
	 * something must move, or this workload tests nothing */
	return ret ? ret : res.relocated ? 0 : -EDOM;
}

static int d_run(daxo_pool *p, void *arg)
{
	struct dwl *s = arg;
	struct droot *r = droot_of(p, s);
	unsigned i = 0;
	int ret;

	while (i < s->ops) {
		/* objects, then three in four freed */
		for (unsigned k = 0; k < DN && i < s->ops; k++, i++) {
			d_step(s, (int)k);
			if ((ret =
				 d_new(p, &r->obj[k], k, sizeof(struct dnode))))
				return ret;
			d_done(s, (int)k, true);
		}
		for (unsigned k = 0; k < DL && i < s->ops; k++, i++) {
			d_step(s, DN + (int)k);
			if ((ret = d_new(p, &r->big[k], 1000 + k, LSIZE)))
				return ret;
			d_done(s, DN + (int)k, true);
		}
		for (unsigned k = 0; k < DN && i < s->ops; k++) {
			if (k % DKEEP == 0)
				continue;
			d_step(s, (int)k);
			if ((ret = daxo_free(p, &r->obj[k])))
				return ret;
			d_done(s, (int)k, false);
			i++;
		}
		if (i < s->ops) {
			/* a hole below the other large objects */
			d_step(s, DN);
			if ((ret = daxo_free(p, &r->big[0])))
				return ret;
			d_done(s, DN, false);
			i++;
		}
		/* links: each kept object names the next kept one */
		for (unsigned k = 0; k + DKEEP < DN && i < s->ops;
		     k += DKEEP, i++) {
			daxo_tx *tx;
			struct dnode *x = daxo_direct(p, r->obj[k]);
			d_step(s, -3);
			if ((ret = daxo_tx_begin(p, &tx)))
				return ret;
			ret =
			    daxo_tx_write(tx, &x->peer, &r->obj[k + DKEEP], 8);
			if (ret) {
				daxo_tx_abort(tx);
				return ret;
			}
			if ((ret = daxo_tx_commit(tx)))
				return ret;
			d_done(s, -1, false);
		}
		s->linked = true;
		if (i < s->ops) {
			d_step(s, -1);
			if ((ret = d_defrag(p, r)))
				return ret;
			d_done(s, -1, false);
			i++;
		}
		/* everything freed for the next round */
		for (unsigned k = 0; k < DN + DL && i < s->ops; k++) {
			daxo_oid *w = k < DN ? &r->obj[k] : &r->big[k - DN];
			if (!*w)
				continue;
			d_step(s, (int)k);
			if ((ret = daxo_free(p, w)))
				return ret;
			d_done(s, (int)k, false);
			i++;
		}
		s->linked = false;
	}
	return 0;
}

static int d_check(daxo_pool *p, void *arg, char *msg, size_t len)
{
	struct dwl *s = arg;
	struct droot *r = droot_of(p, s);
	uint64_t live = 0, named = 0;

	if (!r) {
		snprintf(msg, len, "root object missing");
		return 1;
	}
	for (unsigned k = 0; k < DN + DL; k++) {
		daxo_oid o = k < DN ? r->obj[k] : r->big[k - DN];
		uint64_t id = k < DN ? k : 1000 + k - DN;
		bool maybe = s->inflight && s->cur == (int)k;
		if (!o) {
			if (s->exp[k] && !maybe) {
				snprintf(msg, len,
					 "slot %u is empty but held an object "
					 "(done %llu)",
					 k, (unsigned long long)s->done);
				return 1;
			}
			continue;
		}
		named++;
		if (!s->exp[k] && !maybe) {
			snprintf(msg, len, "slot %u holds a freed object", k);
			return 1;
		}
		const struct dnode *n = daxo_direct(p, o);
		if (daxo_oid_type(p, o) != TYPE_DEFRAG || !n || n->id != id) {
			snprintf(msg, len,
				 "slot %u names %llu, not object %llu (type "
				 "%u)",
				 k, (unsigned long long)o,
				 (unsigned long long)id, daxo_oid_type(p, o));
			return 1;
		}
		for (unsigned j = 0; j < 370; j++)
			if (n->fill[j] != id * 3 + 1) {
				snprintf(msg, len,
					 "object %llu at %llu: word %u torn",
					 (unsigned long long)id,
					 (unsigned long long)o, j);
				return 1;
			}
		/* a link names what the slot it copies names */
		if (k < DN && k % DKEEP == 0 && n->peer && k + DKEEP < DN &&
		    n->peer != r->obj[k + DKEEP]) {
			snprintf(msg, len,
				 "object %u's link is %llu but slot %u names "
				 "%llu: a move was half done",
				 k, (unsigned long long)n->peer, k + DKEEP,
				 (unsigned long long)r->obj[k + DKEEP]);
			return 1;
		}
	}
	for (daxo_oid o = daxo_first(p, TYPE_DEFRAG); o;
	     o = daxo_next(p, o, TYPE_DEFRAG))
		live++;
	if (live != named) {
		snprintf(msg, len,
			 "%llu objects live but the root names %llu (%s)",
			 (unsigned long long)live, (unsigned long long)named,
			 live > named ? "leaked" : "lost");
		return 1;
	}
	return 0;
}

int crashsim_make_defrag(unsigned ops, struct daxo_crashsim_workload *w,
			 void **state)
{
	struct dwl *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->ops = ops;
	s->cur = -2;
	memset(w, 0, sizeof(*w));
	w->name = "defrag";
	w->setup = d_setup;
	w->run = d_run;
	w->check = d_check;
	w->arg = s;
	*state = s;
	return 0;
}

/* ---- kvcompact ---- */

#define KN 96

struct kwl {
	unsigned ops;
	uint64_t done;
	int inflight;
	int cur;     /* key of the op in flight, -1: compaction */
	int newver;  /* its new version (-1: a del) */
	int ver[KN]; /* version each key holds (-1: absent) */
};

static size_t k_key(unsigned k, char *buf)
{
	return (size_t)snprintf(buf, 24, "key-%04u", k);
}

/*
 * k_val -- the value of version @v of key @k: 3400..3500 bytes, entries of
 * one size class of 25 slots a run (four runs a round)
 */
static size_t k_val(unsigned k, int v, uint8_t *buf)
{
	size_t n = 3400 + (size_t)((k * 37 + (unsigned)v * 11) % 101);

	for (size_t j = 0; j < n; j++)
		buf[j] = (uint8_t)(k * 7 + (unsigned)v * 13 + j);
	return n;
}

static int k_setup(daxo_pool *p, void *arg)
{
	(void)p;
	(void)arg;
	return 0;
}

static int k_op(daxo_pool *p, struct kwl *s, unsigned k, int v)
{
	char key[24];
	uint8_t val[3600];
	size_t kl = k_key(k, key);
	int ret;

	s->cur = (int)k;
	s->newver = v;
	s->inflight = 1;
	ret = v < 0 ? daxo_del(p, key, kl)
		    : daxo_put(p, key, kl, val, k_val(k, v, val));
	if (ret)
		return ret;
	s->ver[k] = v;
	s->done++;
	s->inflight = 0;
	return 0;
}

static int k_run(daxo_pool *p, void *arg)
{
	struct kwl *s = arg;
	unsigned i = 0;
	int round = 0, ret;

	while (i < s->ops) {
		for (unsigned k = 0; k < KN && i < s->ops; k++, i++)
			if ((ret = k_op(p, s, k, round)))
				return ret;
		for (unsigned k = 0; k < KN && i < s->ops; k++) {
			if (k % DKEEP == 0)
				continue;
			if ((ret = k_op(p, s, k, -1)))
				return ret;
			i++;
		}
		if (i < s->ops) {
			struct daxo_defrag_result res;
			s->cur = -1;
			s->inflight = 1;
			if ((ret = daxo_kv_compact(p, &res)))
				return ret;
			/* three runs of four to spare: entries must move */
			if (!res.relocated)
				return -EDOM;
			s->done++;
			s->inflight = 0;
			i++;
		}
		for (unsigned k = 0; k < KN && i < s->ops; k += DKEEP, i++)
			if ((ret = k_op(p, s, k, -1)))
				return ret;
		round++;
	}
	return 0;
}

/* k_holds -- does key @k hold version @v (-1: absent)? */
static bool k_holds(daxo_pool *p, unsigned k, int v)
{
	char key[24];
	uint8_t want[3600], got[3600];
	size_t kl = k_key(k, key), n = 0;
	int ret = daxo_get(p, key, kl, got, sizeof(got), &n);

	if (v < 0)
		return ret == -ENOENT;
	return ret == 0 && n == k_val(k, v, want) && !memcmp(got, want, n);
}

static int k_check(daxo_pool *p, void *arg, char *msg, size_t len)
{
	struct kwl *s = arg;

	for (unsigned k = 0; k < KN; k++) {
		if (k_holds(p, k, s->ver[k]))
			continue;
		if (s->inflight && s->cur == (int)k && k_holds(p, k, s->newver))
			continue;
		snprintf(
		    msg, len, "key %u does not hold version %d%s (done %llu)",
		    k, s->ver[k],
		    s->inflight && s->cur == (int)k ? " nor the new one" : "",
		    (unsigned long long)s->done);
		return 1;
	}
	return 0;
}

int crashsim_make_kvcompact(unsigned ops, struct daxo_crashsim_workload *w,
			    void **state)
{
	struct kwl *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->ops = ops;
	s->cur = -2;
	for (unsigned k = 0; k < KN; k++)
		s->ver[k] = -1;
	memset(w, 0, sizeof(*w));
	w->name = "kvcompact";
	w->setup = k_setup;
	w->run = k_run;
	w->check = k_check;
	w->arg = s;
	*state = s;
	return 0;
}
