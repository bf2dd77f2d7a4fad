/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * native.c -- crash-simulator workloads of the API that issue 18 added to
 * libdaxo for programs coming from libpmemobj (workloads.h registers them):
 *
 *   nest     transactions whose helpers begin and commit blocks of their
 *            own (joined), some aborted by a helper's block: each op is
 *            all or nothing, an op an inner block aborted is nothing
 *
 * Like workloads.c's, each keeps what committed in volatile memory, read
 * by the check in the process forked at the crash point.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "native.h"
#include "workloads.h"

#define NW 16

struct nest_root {
	uint64_t outer[NW]; /* the outer block's range */
	uint64_t inner[NW]; /* the helper's range */
	uint64_t deep[NW];  /* the helper's helper: written by daxo_tx_write */
};

struct nest {
	unsigned ops;
	daxo_oid root;
	uint64_t done;
	int inflight; /* an op that will commit is between begin and return */
};

static int nest_setup(daxo_pool *p, void *arg)
{
	struct nest *s = arg;

	return daxo_root(p, sizeof(struct nest_root), &s->root);
}

/* deep_helper -- a block of its own, changing @r->deep with redo writes */
static int deep_helper(daxo_pool *p, struct nest_root *r, uint64_t v)
{
	uint64_t w[NW];
	daxo_tx *tx;
	int ret = daxo_tx_begin(p, &tx);

	if (ret)
		return ret;
	for (unsigned j = 0; j < NW; j++)
		w[j] = v;
	ret = daxo_tx_write(tx, r->deep, w, sizeof(w));
	if (ret) {
		daxo_tx_abort(tx);
		return ret;
	}
	return daxo_tx_commit(tx);
}

/* helper -- a block of its own (undo), calling another; @fail aborts it */
static int helper(daxo_pool *p, struct nest_root *r, bool fail)
{
	daxo_tx *tx;
	int ret = daxo_tx_begin(p, &tx);

	if (ret)
		return ret;
	ret = daxo_tx_add_range(tx, r->inner, sizeof(r->inner));
	if (ret) {
		daxo_tx_abort(tx);
		return ret;
	}
	for (unsigned j = 0; j < NW; j++)
		r->inner[j]++;
	ret = deep_helper(p, r, r->inner[0]);
	if (ret || fail) {
		daxo_tx_abort(tx);
		return ret ? ret : -ECANCELED;
	}
	return daxo_tx_commit(tx);
}

static int nest_run(daxo_pool *p, void *arg)
{
	struct nest *s = arg;
	struct nest_root *r = daxo_direct(p, s->root);
	daxo_tx *tx;
	int ret;

	for (unsigned i = 0; i < s->ops; i++) {
		bool fail = i % 5 == 2;

		ret = daxo_tx_begin(p, &tx);
		if (ret)
			return ret;
		s->inflight = !fail;
		ret = daxo_tx_add_range(tx, r->outer, sizeof(r->outer) / 2);
		if (ret) {
			daxo_tx_abort(tx);
			return ret;
		}
		for (unsigned j = 0; j < NW / 2; j++)
			r->outer[j]++;
		/* the helper's failure is the whole transaction's */
		helper(p, r, fail);
		/* after an inner abort every call fails: this one too */
		ret = daxo_tx_add_range(tx, &r->outer[NW / 2],
					sizeof(r->outer) / 2);
		if (ret == 0)
			for (unsigned j = NW / 2; j < NW; j++)
				r->outer[j]++;
		else if (!fail)
			return ret;
		ret = daxo_tx_commit(tx);
		if (fail)
			continue; /* -ECANCELED; the check says if it was not */
		if (ret)
			return ret;
		s->done++;
		s->inflight = 0;
	}
	return 0;
}

static int nest_check(daxo_pool *p, void *arg, char *msg, size_t len)
{
	struct nest *s = arg;
	struct nest_root *r = daxo_direct(p, s->root);

	if (!r) {
		snprintf(msg, len, "root object missing");
		return 1;
	}
	uint64_t v = r->outer[0];
	for (unsigned j = 0; j < NW; j++) {
		if (r->outer[j] != v || r->inner[j] != v || r->deep[j] != v) {
			snprintf(msg, len,
				 "torn transaction: outer[%u] %llu inner %llu "
				 "deep %llu, outer[0] %llu (done %llu)",
				 j, (unsigned long long)r->outer[j],
				 (unsigned long long)r->inner[j],
				 (unsigned long long)r->deep[j],
				 (unsigned long long)v,
				 (unsigned long long)s->done);
			return 1;
		}
	}
	return wl_count_check(msg, len, v, s->done, s->inflight);
}

int crashsim_make_nest(unsigned ops, struct daxo_crashsim_workload *w,
		       void **state)
{
	struct nest *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->ops = ops;
	memset(w, 0, sizeof(*w));
	w->name = "nest";
	w->setup = nest_setup;
	w->run = nest_run;
	w->check = nest_check;
	w->arg = s;
	*state = s;
	return 0;
}
