/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nest.c -- the blocks of a transaction: daxo_tx_begin joins the
 * transaction the thread has open on the pool (nesting), daxo_tx_commit
 * of an inner block only closes it, an abort anywhere aborts the whole
 * transaction; the thread's current transaction; detached transactions;
 * and the stage callbacks that run when the outermost block ends.
 *
 * A joined block costs a counter: struct daxo_tx.depth counts the inner
 * blocks open. An inner abort cannot roll back while the outer blocks still
 * hold the transaction, so it poisons it instead (tx->err = -ECANCELED,
 * as a failed call does): every later call fails, and the outermost
 * commit rolls back and returns the error. Callbacks are kept in the
 * transaction and run after it has ended (commit.c and tx.c are not
 * involved): a commit with none registered pays one test of ncbs.
 */
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "txint.h"

struct tx_cb {
	unsigned stages;
	daxo_tx_cb cb;
	void *arg;
};

DAXO_EXPORT int daxo_tx_begin(daxo_pool *p, daxo_tx **tx)
{
	if (!p || !tx)
		return daxo__err(-EINVAL, "daxo_tx_begin: NULL argument");
	/* joins the thread's open transaction on @p, if it has one */
	return tx_start(p, false, tx);
}

DAXO_EXPORT int daxo_tx_begin_flags(daxo_pool *p, unsigned flags,
				    daxo_tx **tx)
{
	if (!p || !tx)
		return daxo__err(-EINVAL, "daxo_tx_begin: NULL argument");
	if (flags & ~DAXO_TX_DETACHED)
		return daxo__err(-EINVAL, "daxo_tx_begin_flags: unknown flags "
					  "0x%x",
				 flags & ~DAXO_TX_DETACHED);
	/* a detached transaction is one of its own, never joined */
	return tx_start(p, (flags & DAXO_TX_DETACHED) != 0, tx);
}

DAXO_EXPORT daxo_tx *daxo_tx_current(daxo_pool *p)
{
	return p ? tx_open_on(p) : NULL;
}

/*
 * run_cbs -- the callbacks @saved of a transaction that ended with
 * @stage, in the order they were registered
 */
static void run_cbs(daxo_pool *p, const struct tx_cb *saved, size_t n,
		    unsigned stage)
{
	for (size_t i = 0; i < n; i++)
		if (saved[i].stages & stage)
			saved[i].cb(p, stage, saved[i].arg);
}

/*
 * end_with_cbs -- end the transaction by @commit (or abort), then run its
 * callbacks: they are taken out first, since the transaction object is
 * the thread's to reuse once it ended -- a callback may begin another. Up
 * to 8 are copied to the stack (the array stays for the next transaction);
 * more are taken with their array, which the next daxo_tx_on allocates
 * anew: nothing here can fail, so every registered callback runs.
 */
static int end_with_cbs(struct daxo_tx *tx, bool commit)
{
	daxo_pool *p = tx->p;
	struct tx_cb local[8], *saved = local;
	size_t n = tx->ncbs;
	int ret = 0;

	if (n <= 8) {
		memcpy(local, tx->cbs, n * sizeof(*saved));
	} else {
		saved = tx->cbs;
		tx->cbs = NULL;
		tx->capcbs = 0;
	}
	tx->ncbs = 0; /* the object is reused by the thread's next begin */
	if (commit)
		ret = tx_commit_kv(tx, 0, NULL);
	else
		tx_abort_internal(tx);
	run_cbs(p, saved, n, ret == 0 && commit ? DAXO_TX_ON_COMMIT
						: DAXO_TX_ON_ABORT);
	if (saved != local)
		free(saved);
	return ret;
}

DAXO_EXPORT int daxo_tx_commit(daxo_tx *tx)
{
	int ret = tx ? tx_foreign(tx, "daxo_tx_commit") : 0;

	if (ret)
		return ret;
	/* the common case, the outermost commit without callbacks: one test */
	if (likely(!tx || !(tx->depth | tx->ncbs)))
		return tx_commit_kv(tx, 0, NULL);
	if (tx->depth) {
		/* an inner block: the outermost commit commits */
		tx->depth--;
		return tx->err;
	}
	return end_with_cbs(tx, true);
}

bool tx_abort_open(daxo_pool *p)
{
	struct daxo_tx *tx = tx_open_on(p);

	if (!tx)
		return false;
	tx->depth = 0;
	daxo_tx_abort(tx);
	return true;
}

DAXO_EXPORT void daxo_tx_abort(daxo_tx *tx)
{
	if (!tx || tx_foreign(tx, "daxo_tx_abort"))
		return;
	if (tx->depth) {
		/* the outer blocks still hold it: poison it, roll back later */
		tx->depth--;
#ifdef DAXO_PLANT_NEST_ABORT_IGNORED /* crash-sim test: abort forgotten */
		return;
#endif
		tx_fail(tx, daxo__err(-ECANCELED,
				      "%s: an inner block aborted the "
				      "transaction",
				      tx->p->path));
		return;
	}
	if (likely(!tx->ncbs))
		tx_abort_internal(tx);
	else
		end_with_cbs(tx, false);
}

DAXO_EXPORT int daxo_tx_on(daxo_tx *tx, unsigned stages, daxo_tx_cb cb,
			   void *arg)
{
	if (!tx || !cb || !stages ||
	    (stages & ~(DAXO_TX_ON_COMMIT | DAXO_TX_ON_ABORT)))
		return daxo__err(-EINVAL, "daxo_tx_on: NULL argument or "
					  "unknown stages");
	int ret = tx_foreign(tx, "daxo_tx_on");
	if (ret)
		return ret;
	if (tx_grow(&tx->cbs, &tx->capcbs, tx->ncbs + 1, sizeof(*tx->cbs)))
		return tx_fail(tx, daxo__err(-ENOMEM, "%s: out of memory",
					     tx->p->path));
	tx->cbs[tx->ncbs].stages = stages;
	tx->cbs[tx->ncbs].cb = cb;
	tx->cbs[tx->ncbs].arg = arg;
	tx->ncbs++;
	return 0;
}
