/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ycsb_lmdb.c -- daxo-ycsb's LMDB store: one LMDB environment (a directory
 * holding data.mdb and lock.mdb) with its unnamed database.
 *
 * Durability: the environment is opened with no flag that weakens it (no
 * MDB_NOSYNC, MDB_NOMETASYNC, MDB_MAPASYNC or MDB_WRITEMAP), so
 * mdb_txn_commit writes the transaction's dirty pages with pwrite, calls
 * fdatasync on the data file, then writes the meta page through a second
 * descriptor opened with O_DSYNC: a put (one write transaction) is durable
 * when it returns. MDB_NOTLS ties a read transaction's reader slot to the
 * transaction instead of to the thread that made it (the runner starts new
 * worker threads for every run); it does not change durability.
 *
 * Reads: each worker thread keeps one read-only transaction and, per read,
 * renews it, looks the key up, copies the value and resets it (lmdb.h:
 * mdb_txn_reset/mdb_txn_renew, the cheap way to run many short reads).
 * Writers are serialized by LMDB's writer lock, as LMDB always does. A
 * batch of reads (--batch) runs in one renewal of the read transaction.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>

#include "ycsb.h"

struct yl {
	MDB_env *env;
	MDB_dbi dbi;
	char *path;
};

struct yl_thread {
	struct yl *s;
	MDB_txn *rtxn; /* reset between reads */
};

static __thread char yl_err[256];

static int yl_fail(int rc, const char *what)
{
	snprintf(yl_err, sizeof(yl_err), "%s: %s", what, mdb_strerror(rc));
	return rc > 0 ? -rc : -EIO;
}

static int yl_open(void **out, const char *dir, const struct ycsb_params *pr,
		   char *err, size_t errlen)
{
	struct yl *s = calloc(1, sizeof(*s));
	MDB_txn *txn;
	/* B-tree pages about half full in the worst case, copy-on-write
	 * pages of the transactions in flight, and room to spare; the map
	 * of a sparse file costs only what is written */
	size_t map = (size_t)(pr->records * (pr->vsize + pr->klen + 64) * 4) +
		     (256ull << 20);
	int rc;

	if (!s)
		return -ENOMEM;
	s->path = bench_pool_path(dir, "lmdb", "ycsb");
	if (!s->path) {
		free(s);
		return -ENOMEM;
	}
	if (mkdir(s->path, 0700)) {
		rc = -errno;
		snprintf(err, errlen, "mkdir %s: %s", s->path, strerror(errno));
		free(s->path);
		free(s);
		return rc;
	}
	rc = mdb_env_create(&s->env);
	if (!rc)
		rc = mdb_env_set_mapsize(s->env, map);
	if (!rc)
		rc = mdb_env_set_maxreaders(s->env,
					    (unsigned)pr->max_threads + 16);
	if (!rc)
		rc = mdb_env_open(s->env, s->path, MDB_NOTLS, 0600);
	if (!rc)
		rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (!rc) {
		rc = mdb_dbi_open(txn, NULL, 0, &s->dbi);
		if (rc)
			mdb_txn_abort(txn);
		else
			rc = mdb_txn_commit(txn);
	}
	if (rc) {
		snprintf(err, errlen, "lmdb %s: %s", s->path, mdb_strerror(rc));
		if (s->env)
			mdb_env_close(s->env);
		bench_remove_path(s->path);
		free(s->path);
		free(s);
		return rc > 0 ? -rc : -EIO;
	}
	*out = s;
	return 0;
}

static void yl_close(void *st)
{
	struct yl *s = st;

	mdb_env_close(s->env);
	bench_remove_path(s->path);
	free(s->path);
	free(s);
}

static int yl_thread_init(void *st, void **tctx, char *err, size_t errlen)
{
	struct yl_thread *t = calloc(1, sizeof(*t));
	int rc;

	if (!t)
		return -ENOMEM;
	t->s = st;
	rc = mdb_txn_begin(t->s->env, NULL, MDB_RDONLY, &t->rtxn);
	if (rc) {
		snprintf(err, errlen, "mdb_txn_begin: %s", mdb_strerror(rc));
		free(t);
		return rc > 0 ? -rc : -EIO;
	}
	mdb_txn_reset(t->rtxn);
	*tctx = t;
	return 0;
}

static void yl_thread_fini(void *st, void *tctx)
{
	struct yl_thread *t = tctx;

	mdb_txn_abort(t->rtxn);
	free(t);
}

static int yl_read(void *tctx, const void *key, size_t klen, void *buf,
		   size_t cap, size_t *vlen)
{
	struct yl_thread *t = tctx;
	MDB_val k = {klen, (void *)key}, v;
	int rc = mdb_txn_renew(t->rtxn);

	if (rc)
		return yl_fail(rc, "mdb_txn_renew");
	rc = mdb_get(t->rtxn, t->s->dbi, &k, &v);
	if (rc == 0) {
		memcpy(buf, v.mv_data, v.mv_size < cap ? v.mv_size : cap);
		*vlen = v.mv_size;
	}
	mdb_txn_reset(t->rtxn);
	if (rc == MDB_NOTFOUND)
		return -ENOENT;
	return rc ? yl_fail(rc, "mdb_get") : 0;
}

/* a batch of reads: one read transaction for all of them */
static int yl_read_many(void *tctx, struct daxo_get_req *q, size_t n)
{
	struct yl_thread *t = tctx;
	int rc = mdb_txn_renew(t->rtxn);

	if (rc)
		return yl_fail(rc, "mdb_txn_renew");
	for (size_t i = 0; i < n; i++) {
		MDB_val k = {q[i].klen, (void *)q[i].key}, v;

		rc = mdb_get(t->rtxn, t->s->dbi, &k, &v);
		if (rc == 0) {
			memcpy(q[i].buf, v.mv_data,
			       v.mv_size < q[i].cap ? v.mv_size : q[i].cap);
			q[i].vlen = v.mv_size;
		}
		q[i].rc = rc == MDB_NOTFOUND ? -ENOENT
			  : rc		     ? yl_fail(rc, "mdb_get")
					     : 0;
	}
	mdb_txn_reset(t->rtxn);
	return 0;
}

static int yl_put(void *tctx, const void *key, size_t klen, const void *val,
		  size_t vlen)
{
	struct yl_thread *t = tctx;
	MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
	MDB_txn *txn;
	int rc = mdb_txn_begin(t->s->env, NULL, 0, &txn);

	if (rc)
		return yl_fail(rc, "mdb_txn_begin");
	rc = mdb_put(txn, t->s->dbi, &k, &v, 0);
	if (rc) {
		mdb_txn_abort(txn);
		return yl_fail(rc, "mdb_put");
	}
	rc = mdb_txn_commit(txn);
	return rc ? yl_fail(rc, "mdb_txn_commit") : 0;
}

static const char *yl_errmsg(void)
{
	return yl_err;
}

const struct ycsb_store ycsb_lmdb = {
    .name = "lmdb",
    .open = yl_open,
    .close = yl_close,
    .thread_init = yl_thread_init,
    .thread_fini = yl_thread_fini,
    .read = yl_read,
    .read_many = yl_read_many,
    .put = yl_put,
    .counts = ycsb_no_counts,
    .errmsg = yl_errmsg,
};
