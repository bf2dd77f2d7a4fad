/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_nest.c -- transaction blocks (lib/nest.c): nested begins join the
 * open transaction, only the outermost commit commits, an abort anywhere
 * aborts all; daxo_tx_current, detached transactions, stage callbacks,
 * and daxo_tx_free of the null oid.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "daxo.h"
#include "test_common.h"

struct root {
	uint64_t a, b, c;
	uint64_t w[8];
};

struct fixture {
	const char *path;
	daxo_pool *p;
	struct root *r;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	test_env();
	f->path = test_pool_path("nest");
	f->p = test_pool_root(f->path, "nest", true, 16 << 20, sizeof(struct root),
			      (void **)&f->r);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	daxo_close(f->p);
	unlink(f->path);
	free(f);
	return 0;
}

static uint64_t commits(daxo_pool *p)
{
	struct daxo_stats s;

	assert_int_equal(daxo_stats(p, &s), 0);
	return s.tx_commits;
}

/* set -- a helper that changes one word in a block of its own */
static int set(daxo_pool *p, uint64_t *w, uint64_t v)
{
	daxo_tx *tx;
	int ret = daxo_tx_begin(p, &tx);

	if (ret)
		return ret;
	ret = daxo_tx_add_range(tx, w, 8);
	if (ret) {
		daxo_tx_abort(tx);
		return ret;
	}
	*w = v;
	return daxo_tx_commit(tx);
}

static void test_inner_commit_commits_nothing(void **state)
{
	struct fixture *f = *state;
	daxo_tx *tx;

	uint64_t c0 = commits(f->p);
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(set(f->p, &f->r->a, 1), 0);
	assert_int_equal(set(f->p, &f->r->b, 2), 0);
	assert_int_equal(commits(f->p), c0); /* nothing committed yet */
	assert_ptr_equal(daxo_tx_current(f->p), tx);
	assert_int_equal(daxo_tx_commit(tx), 0);
	assert_int_equal(commits(f->p), c0 + 1);
	assert_null(daxo_tx_current(f->p));
	/* alone, the helper is a transaction of its own */
	assert_int_equal(set(f->p, &f->r->c, 3), 0);
	assert_int_equal(commits(f->p), c0 + 2);
}

static void test_outer_abort_undoes_inner_blocks(void **state)
{
	struct fixture *f = *state;
	daxo_tx *tx;

	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(set(f->p, &f->r->a, 5), 0);
	assert_int_equal(set(f->p, &f->r->b, 6), 0);
	daxo_tx_abort(tx);
	assert_int_equal(f->r->a, 0);
	assert_int_equal(f->r->b, 0);
	assert_null(daxo_tx_current(f->p));
}

static void test_inner_abort_aborts_all(void **state)
{
	struct fixture *f = *state;
	daxo_tx *tx, *in;
	uint64_t v = 9;

	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(set(f->p, &f->r->a, 7), 0);
	assert_int_equal(daxo_tx_begin(f->p, &in), 0);
	assert_int_equal(daxo_tx_add_range(in, &f->r->b, 8), 0);
	f->r->b = 8;
	daxo_tx_abort(in); /* the inner block: all of it is off */
	assert_int_equal(f->r->a, 7); /* rolled back by the outermost */
	assert_ptr_equal(daxo_tx_current(f->p), tx);
	assert_int_equal(daxo_tx_write(tx, &f->r->c, &v, 8), -ECANCELED);
	assert_int_equal(set(f->p, &f->r->c, 1), -ECANCELED);
	assert_int_equal(daxo_tx_commit(tx), -ECANCELED);
	assert_int_equal(f->r->a, 0);
	assert_int_equal(f->r->b, 0);
	assert_int_equal(f->r->c, 0);
	assert_null(daxo_tx_current(f->p));
	/* the thread can begin again */
	assert_int_equal(set(f->p, &f->r->a, 1), 0);
	assert_int_equal(f->r->a, 1);
}

static int deep(daxo_pool *p, struct root *r, unsigned n)
{
	daxo_tx *tx;
	int ret = daxo_tx_begin(p, &tx);

	if (ret)
		return ret;
	ret = daxo_tx_add_range(tx, &r->w[n % 8], 8);
	if (!ret) {
		r->w[n % 8] += n;
		if (n)
			ret = deep(p, r, n - 1);
	}
	if (ret) {
		daxo_tx_abort(tx);
		return ret;
	}
	return daxo_tx_commit(tx);
}

static void test_recursive_blocks_one_transaction(void **state)
{
	struct fixture *f = *state;

	uint64_t c0 = commits(f->p);
	assert_int_equal(deep(f->p, f->r, 200), 0);
	assert_int_equal(commits(f->p), c0 + 1);
	uint64_t sum = 0;
	for (int i = 0; i < 8; i++)
		sum += f->r->w[i];
	assert_int_equal(sum, 200 * 201 / 2);
}

/* a block cut by the end of the process leaves nothing */
static void test_killed_inside_inner_block_rolls_back(void **state)
{
	struct fixture *f = *state;

	daxo_close(f->p);
	pid_t pid = fork();
	if (pid == 0) {
		daxo_pool *p;
		daxo_oid ro;
		daxo_tx *tx;
		if (daxo_open(f->path, "nest", 0, &p) || daxo_root(p, 0, &ro))
			_exit(2);
		struct root *r = daxo_direct(p, ro);
		if (daxo_tx_begin(p, &tx) || set(p, &r->a, 11) ||
		    set(p, &r->b, 12))
			_exit(3);
		_exit(0); /* the inner blocks committed, the outer did not */
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(WEXITSTATUS(st), 0);
	f->p = test_pool_root(f->path, "nest", false, 0, 0, (void **)&f->r);
	assert_int_equal(f->r->a, 0);
	assert_int_equal(f->r->b, 0);
}

static void *current_elsewhere(void *arg)
{
	return daxo_tx_current(arg);
}

static void test_current_is_per_thread(void **state)
{
	struct fixture *f = *state;
	daxo_tx *tx;
	pthread_t t;
	void *seen = (void *)1;

	assert_null(daxo_tx_current(f->p));
	assert_null(daxo_tx_current(NULL));
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	pthread_create(&t, NULL, current_elsewhere, f->p);
	pthread_join(t, &seen);
	assert_null(seen);
	assert_ptr_equal(daxo_tx_current(f->p), tx);
	daxo_tx_abort(tx);
	assert_null(daxo_tx_current(f->p));
}

static void test_detached_commits_on_its_own(void **state)
{
	struct fixture *f = *state;
	daxo_tx *tx, *d, *j;

	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_begin_flags(f->p, DAXO_TX_DETACHED, &d), 0);
	assert_ptr_not_equal(d, tx);
	assert_ptr_equal(daxo_tx_current(f->p), tx); /* not the detached */
	assert_int_equal(daxo_tx_begin(f->p, &j), 0);
	assert_ptr_equal(j, tx);		    /* joins the open one */
	assert_int_equal(daxo_tx_add_range(d, &f->r->a, 8), 0);
	f->r->a = 21;
	assert_int_equal(daxo_tx_commit(d), 0);
	assert_int_equal(daxo_tx_add_range(tx, &f->r->b, 8), 0);
	f->r->b = 22;
	assert_int_equal(daxo_tx_commit(j), 0);
	daxo_tx_abort(tx);
	assert_int_equal(f->r->a, 21); /* the detached one stays */
	assert_int_equal(f->r->b, 0);
	assert_int_equal(daxo_tx_begin_flags(f->p, 0x100, &d), -EINVAL);
}

struct cblog {
	unsigned n;
	unsigned stage[8];
	int order[8];
};

static void cb_a(daxo_pool *p, unsigned stage, void *arg)
{
	struct cblog *l = arg;
	(void)p;
	l->stage[l->n] = stage;
	l->order[l->n++] = 1;
}

static void cb_b(daxo_pool *p, unsigned stage, void *arg)
{
	struct cblog *l = arg;
	l->stage[l->n] = stage;
	l->order[l->n++] = 2;
	/* the transaction is over when callbacks run */
	assert_null(daxo_tx_current(p));
}

static void cb_begin(daxo_pool *p, unsigned stage, void *arg)
{
	struct fixture *f = arg;
	(void)stage;
	assert_int_equal(set(p, &f->r->c, 99), 0);
}

static void test_callbacks_run_after_the_end(void **state)
{
	struct fixture *f = *state;
	struct cblog l = {0};
	daxo_tx *tx, *in;

	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_on(tx, DAXO_TX_ON_COMMIT, cb_a, &l), 0);
	assert_int_equal(daxo_tx_begin(f->p, &in), 0);
	/* registered in an inner block, run at the outermost end */
	assert_int_equal(daxo_tx_on(in, DAXO_TX_ON_COMMIT | DAXO_TX_ON_ABORT,
				    cb_a, &l),
			 0);
	assert_int_equal(daxo_tx_on(in, DAXO_TX_ON_ABORT, cb_b, &l), 0);
	assert_int_equal(daxo_tx_commit(in), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(set(f->p, &f->r->a, 3), 0);
	assert_int_equal(daxo_tx_commit(tx), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.stage[0], DAXO_TX_ON_COMMIT);
	assert_int_equal(l.stage[1], DAXO_TX_ON_COMMIT);
	/* aborted: the ABORT ones, in order */
	memset(&l, 0, sizeof(l));
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_on(tx, DAXO_TX_ON_COMMIT, cb_a, &l), 0);
	assert_int_equal(daxo_tx_on(tx, DAXO_TX_ON_ABORT, cb_b, &l), 0);
	assert_int_equal(daxo_tx_on(tx, DAXO_TX_ON_ABORT, cb_a, &l), 0);
	daxo_tx_abort(tx);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.order[0], 2);
	assert_int_equal(l.order[1], 1);
	assert_int_equal(l.stage[0], DAXO_TX_ON_ABORT);
	/* a commit that fails is an abort */
	memset(&l, 0, sizeof(l));
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_on(tx, DAXO_TX_ON_ABORT, cb_a, &l), 0);
	assert_int_equal(daxo_tx_add_range(tx, &l, 8), -EINVAL); /* volatile */
	assert_int_equal(daxo_tx_commit(tx), -EINVAL);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.stage[0], DAXO_TX_ON_ABORT);
	/* a callback begins a transaction of its own */
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_on(tx, DAXO_TX_ON_COMMIT, cb_begin, f), 0);
	assert_int_equal(daxo_tx_commit(tx), 0);
	assert_int_equal(f->r->c, 99);
	/* bad arguments */
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_on(tx, 0, cb_a, &l), -EINVAL);
	assert_int_equal(daxo_tx_on(tx, 4, cb_a, &l), -EINVAL);
	assert_int_equal(daxo_tx_on(tx, DAXO_TX_ON_COMMIT, NULL, &l), -EINVAL);
	assert_int_equal(daxo_tx_on(NULL, DAXO_TX_ON_COMMIT, cb_a, &l),
			 -EINVAL);
	daxo_tx_abort(tx);
}

static void cb_count(daxo_pool *p, unsigned stage, void *arg)
{
	(void)p;
	(void)stage;
	++*(unsigned *)arg;
}

static void test_many_callbacks(void **state)
{
	struct fixture *f = *state;
	unsigned n = 0;
	daxo_tx *tx;

	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	for (int i = 0; i < 20; i++)
		assert_int_equal(daxo_tx_on(tx, DAXO_TX_ON_COMMIT, cb_count, &n),
				 0);
	assert_int_equal(daxo_tx_commit(tx), 0);
	assert_int_equal(n, 20);
}

static void test_free_of_null_oid_is_nothing(void **state)
{
	struct fixture *f = *state;
	daxo_tx *tx;

	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_free(tx, DAXO_OID_NULL), 0);
	assert_int_equal(daxo_tx_free(tx, 0), 0);
	assert_int_equal(daxo_tx_commit(tx), 0);
}

/* joining costs no fence; a commit with no callback costs what it did */
static void test_blocks_cost_no_fence(void **state)
{
	struct fixture *f = *state;
	struct daxo_stats s0, s1;
	daxo_tx *tx;
	uint64_t v = 1;

	assert_int_equal(set(f->p, &f->r->a, 1), 0); /* warm */
	assert_int_equal(daxo_thread_stats(&s0), 0);
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	assert_int_equal(daxo_tx_write(tx, &f->r->b, &v, 8), 0);
	assert_int_equal(daxo_tx_commit(tx), 0);
	assert_int_equal(daxo_thread_stats(&s1), 0);
	uint64_t plain = s1.fences - s0.fences;
	assert_int_equal(daxo_thread_stats(&s0), 0);
	assert_int_equal(daxo_tx_begin(f->p, &tx), 0);
	for (int i = 0; i < 10; i++) {
		daxo_tx *in;
		assert_int_equal(daxo_tx_begin(f->p, &in), 0);
		assert_int_equal(daxo_tx_commit(in), 0);
	}
	v = 2;
	assert_int_equal(daxo_tx_write(tx, &f->r->b, &v, 8), 0);
	assert_int_equal(daxo_tx_commit(tx), 0);
	assert_int_equal(daxo_thread_stats(&s1), 0);
	assert_int_equal(s1.fences - s0.fences, plain);
}

#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_inner_commit_commits_nothing),
		T(test_outer_abort_undoes_inner_blocks),
		T(test_inner_abort_aborts_all),
		T(test_recursive_blocks_one_transaction),
		T(test_killed_inside_inner_block_rolls_back),
		T(test_current_is_per_thread),
		T(test_detached_commits_on_its_own),
		T(test_callbacks_run_after_the_end),
		T(test_many_callbacks),
		T(test_free_of_null_oid_is_nothing),
		T(test_blocks_cost_no_fence),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
