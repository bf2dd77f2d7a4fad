/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_pmemobj.c -- unit tests of libdaxo-pmemobj, daxo's libpmemobj
 * layer: each documented behaviour of libpmemobj that the layer promises,
 * and what it does where daxo differs. Fences are counted with
 * daxo_thread_stats (the layer runs on the calling thread).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <wchar.h>

#include <cmocka.h>

#include <daxo.h>
#include <libpmemobj.h>

#include "../unit/test_common.h"

POBJ_LAYOUT_BEGIN(tlayout);
POBJ_LAYOUT_ROOT(tlayout, struct troot);
POBJ_LAYOUT_TOID(tlayout, struct tnode);
POBJ_LAYOUT_TOID(tlayout, struct tleaf);
POBJ_LAYOUT_END(tlayout);

struct tnode {
	uint64_t v;
	POBJ_LIST_ENTRY(struct tnode) link;
	POBJ_LIST_ENTRY(struct tnode) link2;
	char pad[40];
};

struct tleaf {
	uint64_t a, b;
};

POBJ_LIST_HEAD(thead, struct tnode);

struct troot {
	uint64_t x, y;
	TOID(struct tnode) node;
	PMEMoid oid;
	PMEMmutex mtx;
	PMEMrwlock rw;
	PMEMcond cond;
	struct thead l1, l2;
	uint64_t words[64];
	PMEMvlt(uint64_t) vlt;
};

struct state {
	const char *path;
	PMEMobjpool *pop;
	TOID(struct troot) root;
};

#define LAYOUT POBJ_LAYOUT_NAME(tlayout)

static int setup(void **st)
{
	struct state *s = calloc(1, sizeof(*s));

	test_env();
	s->path = test_pool_path("compat");
	s->pop = pmemobj_create(s->path, LAYOUT, PMEMOBJ_MIN_POOL, 0600);
	assert_non_null(s->pop);
	s->root = POBJ_ROOT(s->pop, struct troot);
	assert_false(TOID_IS_NULL(s->root));
	*st = s;
	return 0;
}

static int teardown(void **st)
{
	struct state *s = *st;

	if (s->pop)
		pmemobj_close(s->pop);
	unlink(s->path);
	free(s);
	return 0;
}

static void reopen(struct state *s)
{
	pmemobj_close(s->pop);
	s->pop = pmemobj_open(s->path, LAYOUT);
	assert_non_null(s->pop);
	s->root = POBJ_ROOT(s->pop, struct troot);
}

static uint64_t fences(void)
{
	struct daxo_stats st;

	assert_int_equal(daxo_thread_stats(&st), 0);
	return st.fences;
}

static size_t count_objects(PMEMobjpool *pop)
{
	PMEMoid o;
	size_t n = 0;

	POBJ_FOREACH(pop, o)
		n++;
	return n;
}

/* ---- pools and the root ---- */

static void test_open_checks_layout(void **st)
{
	struct state *s = *st;

	pmemobj_close(s->pop);
	s->pop = NULL;
	errno = 0;
	assert_null(pmemobj_open(s->path, "another"));
	assert_int_equal(errno, EINVAL);
	assert_true(strlen(pmemobj_errormsg()) > 0);
	assert_int_equal(pmemobj_check(s->path, LAYOUT), 1);
	assert_int_equal(pmemobj_check(s->path, "another"), -1);
	s->pop = pmemobj_open(s->path, NULL); /* NULL: any layout */
	assert_non_null(s->pop);
}

static void test_create_refuses_existing_and_small(void **st)
{
	struct state *s = *st;
	char p[256];

	errno = 0;
	assert_null(pmemobj_create(s->path, LAYOUT, PMEMOBJ_MIN_POOL, 0600));
	assert_int_equal(errno, EEXIST);
	snprintf(p, sizeof(p), "%s.small", s->path);
	unlink(p);
	errno = 0;
	assert_null(pmemobj_create(p, LAYOUT, PMEMOBJ_MIN_POOL - 1, 0600));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(access(p, F_OK), -1);
	/* size 0 takes a zeroed file as it is */
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	assert_int_equal(ftruncate(fileno(f), 16 << 20), 0);
	fclose(f);
	PMEMobjpool *pop = pmemobj_create(p, LAYOUT, 0, 0600);
	assert_non_null(pop);
	pmemobj_close(pop);
	errno = 0;
	assert_null(pmemobj_create(p, LAYOUT, 0, 0600)); /* not zeroed now */
	assert_int_equal(errno, EEXIST);
	unlink(p);
}

/*
 * zeroed_file -- a new zeroed (sparse) file @p of @size bytes: its inode,
 * or 0 if the file system takes no file that large
 */
static ino_t zeroed_file(const char *p, off_t size)
{
	struct stat sb;
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	if (ftruncate(fileno(f), size) != 0) {
		fclose(f);
		return 0;
	}
	assert_int_equal(fstat(fileno(f), &sb), 0);
	fclose(f);
	return sb.st_ino;
}

/* aside_left -- is a file @p.daxo-replaced.<our pid> left? */
static bool aside_left(const char *p)
{
	char a[300];

	snprintf(a, sizeof(a), "%s.daxo-replaced.%ld", p, (long)getpid());
	return access(a, F_OK) == 0;
}

/*
 * size 0 takes the caller's zeroed file; a create that fails leaves that
 * file as it was (the same file, its size), as libpmemobj does: the
 * program's file is not lost to a refused size or a failed create
 */
static void test_create_size0_failure_keeps_file(void **st)
{
	struct state *s = *st;
	struct stat sb;
	char p[256];
	ino_t ino;

	snprintf(p, sizeof(p), "%s.size0", s->path);
	/* too small for a pool */
	ino = zeroed_file(p, 100);
	assert_true(ino != 0);
	errno = 0;
	assert_null(pmemobj_create(p, LAYOUT, 0, 0600));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_ino, ino);
	assert_int_equal(sb.st_size, 100);
	/* too large (sparse): daxo_create itself refuses it, after the file
	 * was set aside (a file system without 65 TiB files skips this) */
	ino = zeroed_file(p, (off_t)65 << 40);
	if (ino) {
		errno = 0;
		assert_null(pmemobj_create(p, LAYOUT, 0, 0600));
		assert_int_equal(errno, EINVAL);
		assert_int_equal(stat(p, &sb), 0);
		assert_int_equal(sb.st_ino, ino);
		assert_int_equal(sb.st_size, (off_t)65 << 40);
		assert_false(aside_left(p));
	} else {
		fprintf(stderr, "note: %s takes no 65 TiB file: that case "
				"skipped\n", p);
	}
	/* and one that succeeds leaves nothing aside */
	assert_true(zeroed_file(p, 16 << 20) != 0);
	PMEMobjpool *pop = pmemobj_create(p, LAYOUT, 0, 0600);
	assert_non_null(pop);
	pmemobj_close(pop);
	assert_false(aside_left(p));
	unlink(p);
}

static void test_root_is_zeroed_and_stable(void **st)
{
	struct state *s = *st;
	PMEMoid r = s->root.oid;

	assert_int_equal(D_RO(s->root)->x, 0);
	assert_true(pmemobj_root_size(s->pop) >= sizeof(struct troot));
	assert_true(OID_EQUALS(pmemobj_root(s->pop, 16), r));
	assert_true(OID_EQUALS(pmemobj_root(s->pop, 0), r));
	assert_int_equal(pmemobj_type_num(r), POBJ_ROOT_TYPE_NUM);
	reopen(s);
	assert_true(OID_EQUALS(s->root.oid, r));
}

static void test_root_size_zero_without_root_is_einval(void **st)
{
	struct state *s = *st;
	char p[256];

	snprintf(p, sizeof(p), "%s.noroot", s->path);
	unlink(p);
	PMEMobjpool *pop = pmemobj_create(p, NULL, PMEMOBJ_MIN_POOL, 0600);
	assert_non_null(pop);
	assert_int_equal(pmemobj_root_size(pop), 0);
	errno = 0;
	assert_true(OID_IS_NULL(pmemobj_root(pop, 0)));
	assert_int_equal(errno, EINVAL);
	pmemobj_close(pop);
	unlink(p);
}

static void test_direct_oid_and_pool_lookups(void **st)
{
	struct state *s = *st;
	PMEMoid r = s->root.oid;
	char *p = pmemobj_direct(r);

	assert_non_null(p);
	assert_ptr_equal(D_RW(s->root), p);
	assert_true(OID_EQUALS(pmemobj_oid(p), r));
	assert_true(OID_EQUALS(pmemobj_oid(p + 8), ((PMEMoid){r.pool_uuid_lo,
							  r.off + 8})));
	assert_ptr_equal(pmemobj_pool_by_ptr(p), s->pop);
	assert_ptr_equal(pmemobj_pool_by_oid(r), s->pop);
	assert_null(pmemobj_direct(OID_NULL));
	int local;
	assert_null(pmemobj_pool_by_ptr(&local));
	assert_true(OID_IS_NULL(pmemobj_oid(&local)));
	/* a reopened pool: the translation follows it */
	D_RW(s->root)->x = 77;
	pmemobj_persist(s->pop, &D_RW(s->root)->x, 8);
	reopen(s);
	assert_int_equal(((struct troot *)pmemobj_direct(r))->x, 77);
	PMEMoid stale = {r.pool_uuid_lo + 1, r.off};
	assert_null(pmemobj_direct(stale));
}

static void *direct_fresh(void *arg)
{
	const PMEMoid *o = arg;

	/* a thread that has translated nothing yet */
	return pmemobj_direct(*o);
}

/* direct_fresh_main -- the process run by test_direct_without_pool_is_null */
static int direct_fresh_main(void)
{
	PMEMoid o = {0, 4096};
	pthread_t th;
	void *ret = (void *)1;

	/* no pool was ever closed in this process: the state a cache starts in */
	if (pthread_create(&th, NULL, direct_fresh, &o) != 0 ||
	    pthread_join(th, &ret) != 0)
		return 2;
	return ret == NULL && pmemobj_direct(o) == NULL ? 0 : 1;
}

/*
 * a handle without a pool (pool_uuid_lo 0) translates to NULL on every
 * thread, as in libpmemobj -- also on one whose translation cache is
 * fresh (whose initial UUID of 0 it would otherwise match): checked in a
 * new process, where no close has moved the caches' generation yet
 */
static void test_direct_without_pool_is_null(void **st)
{
	struct state *s = *st;
	PMEMoid o = {0, s->root.oid.off};
	pthread_t th;
	void *ret = (void *)1;
	int status;

	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl("/proc/self/exe", "test_pmemobj", "direct-fresh",
		      (char *)NULL);
		_exit(3);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(pthread_create(&th, NULL, direct_fresh, &o), 0);
	assert_int_equal(pthread_join(th, &ret), 0);
	assert_null(ret);
	assert_null(pmemobj_direct(o));
	o.pool_uuid_lo = s->root.oid.pool_uuid_lo;
	assert_int_equal(pthread_create(&th, NULL, direct_fresh, &o), 0);
	assert_int_equal(pthread_join(th, &ret), 0);
	assert_ptr_equal(ret, pmemobj_direct(s->root.oid));
}

static void test_copy_of_open_pool_is_refused(void **st)
{
	struct state *s = *st;
	char p[256], cmd[600];

	snprintf(p, sizeof(p), "%s.copy", s->path);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", s->path, p);
	assert_int_equal(system(cmd), 0);
	errno = 0;
	assert_null(pmemobj_open(p, LAYOUT));
	assert_int_equal(errno, EINVAL);
	unlink(p);
}

/* ---- transactions ---- */

static void test_tx_commit_keeps_abort_restores(void **st)
{
	struct state *s = *st;
	struct troot *r = D_RW(s->root);

	TX_BEGIN(s->pop) {
		TX_ADD(s->root);
		r->x = 1;
		TX_SET(s->root, y, 2);
	} TX_END
	assert_int_equal(r->x, 1);
	assert_int_equal(r->y, 2);
	errno = 0;
	TX_BEGIN(s->pop) {
		TX_ADD_FIELD(s->root, x);
		r->x = 10;
		TX_MEMSET(r->words, 0xab, sizeof(r->words));
		pmemobj_tx_abort(EPERM);
	} TX_END
	assert_int_equal(errno, EPERM);
	assert_int_equal(pmemobj_tx_errno(), EPERM);
	assert_int_equal(r->x, 1);
	assert_int_equal(r->words[5], 0);
	/* 0 is ECANCELED */
	TX_BEGIN(s->pop) {
		pmemobj_tx_abort(0);
	} TX_END
	assert_int_equal(errno, ECANCELED);
	assert_int_equal(pmemobj_tx_stage(), TX_STAGE_NONE);
}

static char trace[256];
static void mark(const char *m)
{
	strncat(trace, m, sizeof(trace) - strlen(trace) - 1);
}

static void test_tx_stages_in_order(void **st)
{
	struct state *s = *st;

	trace[0] = 0;
	TX_BEGIN(s->pop) {
		mark("W");
	} TX_ONCOMMIT {
		mark("C");
	} TX_ONABORT {
		mark("A");
	} TX_FINALLY {
		mark("F");
	} TX_END
	assert_string_equal(trace, "WCF");
	trace[0] = 0;
	TX_BEGIN(s->pop) {
		mark("W");
		pmemobj_tx_abort(EIO);
		mark("X"); /* not reached */
	} TX_FINALLY {
		mark("F");
	} TX_ONABORT {
		mark("A");
	} TX_END
	assert_string_equal(trace, "WAF");
}

static void test_tx_nested_abort_aborts_all(void **st)
{
	struct state *s = *st;
	struct troot *r = D_RW(s->root);

	trace[0] = 0;
	TX_BEGIN(s->pop) {
		TX_SET(s->root, x, 5);
		TX_BEGIN(s->pop) {
			TX_SET(s->root, y, 6);
			mark("w");
			pmemobj_tx_abort(ENOENT);
		} TX_ONCOMMIT {
			mark("c");
		} TX_ONABORT {
			mark("a");
			/* not rolled back yet: the outermost block does it */
			assert_int_equal(r->y, 6);
		} TX_FINALLY {
			mark("f");
		} TX_END
		mark("X"); /* not reached: the error reaches the outer block */
	} TX_ONCOMMIT {
		mark("C");
	} TX_ONABORT {
		mark("A");
	} TX_FINALLY {
		mark("F");
	} TX_END
	assert_string_equal(trace, "wafAF");
	assert_int_equal(errno, ENOENT);
	assert_int_equal(r->x, 0);
	assert_int_equal(r->y, 0);
}

static void nested_helper(PMEMobjpool *pop, TOID(struct troot) root,
			  uint64_t v)
{
	/* a helper that is its own transaction, or joins the caller's */
	TX_BEGIN(pop) {
		TX_SET(root, words[v], v);
	} TX_END
}

static void test_tx_nested_commit_is_the_outermost(void **st)
{
	struct state *s = *st;
	struct troot *r = D_RW(s->root);

	TX_BEGIN(s->pop) {
		for (uint64_t i = 1; i < 4; i++)
			nested_helper(s->pop, s->root, i);
		assert_int_equal(pmemobj_tx_stage(), TX_STAGE_WORK);
		pmemobj_tx_abort(EAGAIN); /* undoes what the helpers did */
	} TX_END
	assert_int_equal(r->words[2], 0);
	TX_BEGIN(s->pop) {
		for (uint64_t i = 1; i < 4; i++)
			nested_helper(s->pop, s->root, i);
	} TX_END
	assert_int_equal(errno, EAGAIN); /* TX_END leaves errno alone on 0 */
	assert_int_equal(r->words[1] + r->words[2] + r->words[3], 6);
}

static enum pobj_tx_stage cb_stages[16];
static int ncb;
static void stage_cb(PMEMobjpool *pop, enum pobj_tx_stage stage, void *arg)
{
	(void)pop;
	assert_ptr_equal(arg, &ncb);
	if (ncb < 16)
		cb_stages[ncb++] = stage;
}

static void test_tx_callback_outermost_only(void **st)
{
	struct state *s = *st;

	ncb = 0;
	TX_BEGIN_CB(s->pop, stage_cb, &ncb) {
		TX_BEGIN_CB(s->pop, stage_cb, &ncb) {
			TX_SET(s->root, x, 3);
		} TX_END
	} TX_END
	/* WORK (before commit), ONCOMMIT, FINALLY, NONE: once each */
	assert_int_equal(ncb, 4);
	assert_int_equal(cb_stages[0], TX_STAGE_WORK);
	assert_int_equal(cb_stages[1], TX_STAGE_ONCOMMIT);
	assert_int_equal(cb_stages[2], TX_STAGE_FINALLY);
	assert_int_equal(cb_stages[3], TX_STAGE_NONE);
	ncb = 0;
	TX_BEGIN_CB(s->pop, stage_cb, &ncb) {
		pmemobj_tx_abort(EINVAL);
	} TX_END
	assert_int_equal(ncb, 3);
	assert_int_equal(cb_stages[0], TX_STAGE_ONABORT);
}

static void test_tx_functions_without_jmp_buf(void **st)
{
	struct state *s = *st;

	/* as PMDK's obj_pmemlog does: begin with a jmp_buf of its own... */
	assert_int_equal(pmemobj_tx_begin(s->pop, NULL, TX_PARAM_NONE), 0);
	assert_int_equal(pmemobj_tx_add_range(s->root.oid, 0, 16), 0);
	D_RW(s->root)->x = 99;
	pmemobj_tx_commit();
	assert_int_equal(pmemobj_tx_stage(), TX_STAGE_ONCOMMIT);
	assert_int_equal(pmemobj_tx_end(), 0);
	assert_int_equal(D_RO(s->root)->x, 99);
	/* ...or none: a failed call returns its error, no jump */
	assert_int_equal(pmemobj_tx_begin(s->pop, NULL, TX_PARAM_NONE), 0);
	int local;
	assert_int_equal(pmemobj_tx_add_range_direct(&local, 4), EINVAL);
	assert_int_equal(pmemobj_tx_stage(), TX_STAGE_ONABORT);
	assert_int_equal(pmemobj_tx_end(), EINVAL);
	/* outside a transaction: an error, not a crash */
	assert_int_equal(pmemobj_tx_add_range(s->root.oid, 0, 8), EINVAL);
	assert_true(OID_IS_NULL(pmemobj_tx_alloc(8, 1)));
	assert_int_equal(pmemobj_tx_end(), EINVAL);
	/* pmemobj_tx_end in WORK aborts */
	assert_int_equal(pmemobj_tx_begin(s->pop, NULL, TX_PARAM_NONE), 0);
	TX_SET(s->root, x, 1234);
	assert_int_equal(pmemobj_tx_end(), ECANCELED);
	assert_int_equal(D_RO(s->root)->x, 99);
}

static void test_tx_failure_behavior_return(void **st)
{
	struct state *s = *st;
	int local, ret = -1;

	TX_BEGIN(s->pop) {
		pmemobj_tx_set_failure_behavior(POBJ_TX_FAILURE_RETURN);
		assert_int_equal(pmemobj_tx_get_failure_behavior(),
				 POBJ_TX_FAILURE_RETURN);
		ret = pmemobj_tx_add_range_direct(&local, 4);
		TX_SET(s->root, x, 7);
	} TX_END
	assert_int_equal(ret, EINVAL);
	assert_int_equal(D_RO(s->root)->x, 7);
	ret = -1;
	TX_BEGIN(s->pop) {
		ret = pmemobj_tx_xadd_range_direct(&local, 4, POBJ_XADD_NO_ABORT);
		TX_SET(s->root, x, 8);
	} TX_END
	assert_int_equal(ret, EINVAL);
	assert_int_equal(D_RO(s->root)->x, 8);
}

static void test_tx_begin_in_a_clause_is_refused(void **st)
{
	struct state *s = *st;
	volatile int inner_aborted = 0, outer = -1;

	TX_BEGIN(s->pop) {
		TX_SET(s->root, x, 11);
	} TX_ONCOMMIT {
		TX_BEGIN(s->pop) {
			fail(); /* no WORK stage here */
		} TX_ONABORT {
			inner_aborted = 1;
		} TX_END
		assert_int_equal(errno, EINVAL);
		assert_int_equal(pmemobj_tx_stage(), TX_STAGE_ONCOMMIT);
	} TX_FINALLY {
		outer = pmemobj_tx_errno();
	} TX_END
	assert_int_equal(inner_aborted, 1);
	assert_int_equal(outer, 0);
	assert_int_equal(D_RO(s->root)->x, 11);
}

static void test_tx_nested_other_pool_aborts(void **st)
{
	struct state *s = *st;
	char p[256];

	snprintf(p, sizeof(p), "%s.other", s->path);
	unlink(p);
	PMEMobjpool *other = pmemobj_create(p, NULL, PMEMOBJ_MIN_POOL, 0600);
	assert_non_null(other);
	volatile int aborted = 0;
	TX_BEGIN(s->pop) {
		TX_SET(s->root, x, 21);
		TX_BEGIN(other) {
			fail();
		} TX_END
	} TX_ONABORT {
		aborted = 1;
	} TX_END
	assert_int_equal(aborted, 1);
	assert_int_not_equal(D_RO(s->root)->x, 21);
	pmemobj_close(other);
	unlink(p);
}

static void test_tx_add_same_range_costs_once(void **st)
{
	struct state *s = *st;

	/* warm up: the lane and the logs */
	TX_BEGIN(s->pop) {
		TX_SET(s->root, x, 1);
	} TX_END
	uint64_t f0 = fences();
	TX_BEGIN(s->pop) {
		TX_ADD(s->root);
	} TX_END
	uint64_t once = fences() - f0;
	f0 = fences();
	TX_BEGIN(s->pop) {
		for (int i = 0; i < 20; i++) {
			TX_ADD(s->root);
			TX_ADD_FIELD(s->root, words[i]); /* inside the root */
			TX_SET(s->root, words[i], (uint64_t)i);
		}
	} TX_END
	assert_int_equal(fences() - f0, once);
	/* and a range that spans two added ones is one more, not more */
	f0 = fences();
	TX_BEGIN(s->pop) {
		pmemobj_tx_add_range(s->root.oid, offsetof(struct troot, words),
				     64);
		pmemobj_tx_add_range(s->root.oid,
				     offsetof(struct troot, words) + 64, 64);
		pmemobj_tx_add_range(s->root.oid, offsetof(struct troot, words),
				     128);
		pmemobj_tx_add_range(s->root.oid,
				     offsetof(struct troot, words) + 8, 16);
	} TX_END
	assert_true(fences() - f0 <= once + 2);
}

/*
 * what is written in a range added with POBJ_XADD_NO_SNAPSHOT is not
 * rolled back, also when a range added later without the flag spans it;
 * the rest of that later range is
 */
static void test_tx_no_snapshot_range_stays_covered(void **st)
{
	struct state *s = *st;
	struct troot *r = D_RW(s->root);

	for (int i = 0; i < 8; i++)
		r->words[i] = (uint64_t)i;
	pmemobj_persist(s->pop, r->words, 8 * sizeof(r->words[0]));
	TX_BEGIN(s->pop) {
		pmemobj_tx_xadd_range_direct(&r->words[2], 16,
					     POBJ_XADD_NO_SNAPSHOT);
		pmemobj_tx_xadd_range_direct(&r->words[5], 8,
					     POBJ_XADD_NO_SNAPSHOT);
		r->words[2] = 100;
		pmemobj_tx_add_range_direct(&r->words[0],
					    8 * sizeof(r->words[0]));
		for (int i = 0; i < 8; i++)
			r->words[i] = (uint64_t)i + 200;
		pmemobj_tx_abort(EINTR);
	} TX_END
	for (int i = 0; i < 8; i++) {
		bool kept = i == 2 || i == 3 || i == 5;
		assert_int_equal(r->words[i], kept ? (uint64_t)i + 200
						   : (uint64_t)i);
	}
	/* a range added with the flag after a snapshot of it rolls back */
	TX_BEGIN(s->pop) {
		pmemobj_tx_add_range_direct(&r->words[0], 8);
		pmemobj_tx_xadd_range_direct(&r->words[0], 8,
					     POBJ_XADD_NO_SNAPSHOT);
		r->words[0] = 7;
		pmemobj_tx_abort(EINTR);
	} TX_END
	assert_int_equal(r->words[0], 0);
}

static void test_tx_many_ranges_roll_back(void **st)
{
	struct state *s = *st;
	enum { N = 3000 };
	PMEMoid objs;

	/* N separate objects, then one transaction that adds all of them */
	TX_BEGIN(s->pop) {
		objs = pmemobj_tx_zalloc(N * sizeof(PMEMoid), 2);
		PMEMoid *v = pmemobj_direct(objs);
		for (int i = 0; i < N; i++)
			v[i] = pmemobj_tx_zalloc(sizeof(struct tleaf), 2);
		TX_ADD_FIELD(s->root, oid);
		D_RW(s->root)->oid = objs;
	} TX_END
	PMEMoid *v = pmemobj_direct(objs);
	TX_BEGIN(s->pop) {
		for (int i = N; i-- > 0;) { /* out of address order */
			struct tleaf *l = pmemobj_direct(v[i]);
			pmemobj_tx_add_range(v[i], 0, sizeof(*l));
			l->a = (uint64_t)i + 1;
			pmemobj_tx_add_range_direct(&l->b, 8); /* covered */
			l->b = 2;
		}
		pmemobj_tx_abort(EINTR);
	} TX_END
	for (int i = 0; i < N; i++)
		assert_int_equal(((struct tleaf *)pmemobj_direct(v[i]))->a, 0);
}

static void test_tx_alloc_free_realloc(void **st)
{
	struct state *s = *st;
	size_t n0 = count_objects(s->pop);
	PMEMoid o = OID_NULL;

	TX_BEGIN(s->pop) {
		o = pmemobj_tx_alloc(100, 2);
		memset(pmemobj_direct(o), 7, 100);
		pmemobj_tx_abort(ECANCELED);
	} TX_END
	assert_int_equal(count_objects(s->pop), n0); /* gone with the abort */
	TX_BEGIN(s->pop) {
		TOID(struct tnode) n = TX_ZNEW(struct tnode);
		D_RW(n)->v = 42;
		TX_SET(s->root, node, n);
		assert_int_equal(pmemobj_tx_free(OID_NULL), 0);
	} TX_END
	assert_int_equal(count_objects(s->pop), n0 + 1);
	assert_int_equal(D_RO(D_RO(s->root)->node)->v, 42);
	assert_true(TOID_VALID(D_RO(s->root)->node));
	/* realloc keeps the contents */
	TX_BEGIN(s->pop) {
		TOID(struct tnode) n = D_RO(s->root)->node;
		TOID(struct tnode) m = TX_REALLOC(n, 4096);
		TX_SET(s->root, node, m);
	} TX_END
	assert_int_equal(D_RO(D_RO(s->root)->node)->v, 42);
	assert_true(pmemobj_alloc_usable_size(D_RO(s->root)->node.oid) >=
		    4096);
	assert_int_equal(count_objects(s->pop), n0 + 1);
	/* strdup, wcsdup, and free */
	TX_BEGIN(s->pop) {
		PMEMoid t = pmemobj_tx_strdup("hello", 3);
		assert_string_equal(pmemobj_direct(t), "hello");
		PMEMoid w = pmemobj_tx_wcsdup(L"wide", 3);
		assert_int_equal(wcscmp(pmemobj_direct(w), L"wide"), 0);
		TX_FREE(D_RO(s->root)->node);
		TX_SET(s->root, node, TOID_NULL(struct tnode));
	} TX_END
	assert_int_equal(count_objects(s->pop), n0 + 2);
	/* freeing what is not an object aborts */
	volatile int aborted = 0;
	TX_BEGIN(s->pop) {
		PMEMoid bad = {s->root.oid.pool_uuid_lo, s->root.oid.off + 8};
		pmemobj_tx_free(bad);
	} TX_ONABORT {
		aborted = 1;
	} TX_END
	assert_int_equal(aborted, 1);
}

/*
 * an object the transaction allocated is a valid object inside it:
 * pmemobj_type_num, pmemobj_alloc_usable_size and TOID_VALID answer for
 * it, as libpmemobj's do (a program that checks TOID_VALID or sizes a
 * buffer right after TX_NEW)
 */
/*
 * an allocation that fails with POBJ_XALLOC_NO_ABORT (or under
 * POBJ_TX_FAILURE_RETURN) leaves the transaction going: it commits; and
 * one that succeeds that way is a new object of the transaction like
 * any other -- written without a snapshot, durable at commit, gone on
 * abort
 */
static void test_tx_alloc_no_abort_keeps_the_transaction(void **st)
{
	struct state *s = *st;
	PMEMoid o, big;
	size_t n0 = count_objects(s->pop);
	size_t filled = 1;

	assert_int_equal(pmemobj_alloc(s->pop, &big, 1 << 20, 4, NULL, NULL),
			 0);
	for (size_t sz = 1 << 20; sz >= 64; sz /= 4)
		while (pmemobj_alloc(s->pop, &o, sz, 4, NULL, NULL) == 0)
			filled++;
	TX_BEGIN(s->pop) {
		TX_SET(s->root, x, 9);
		errno = 0;
		o = pmemobj_tx_xalloc(64, 3, POBJ_XALLOC_NO_ABORT);
		assert_true(OID_IS_NULL(o));
		assert_int_equal(errno, ENOMEM);
		pmemobj_tx_set_failure_behavior(POBJ_TX_FAILURE_RETURN);
		o = pmemobj_tx_zalloc(64, 3);
		assert_true(OID_IS_NULL(o));
		assert_int_equal(pmemobj_tx_stage(), TX_STAGE_WORK);
	} TX_ONABORT {
		fail();
	} TX_END
	assert_int_equal(D_RO(s->root)->x, 9);
	pmemobj_free(&big); /* room again */
	filled--;
	TX_BEGIN(s->pop) {
		pmemobj_tx_set_failure_behavior(POBJ_TX_FAILURE_RETURN);
		o = pmemobj_tx_alloc(100, 3);
		assert_false(OID_IS_NULL(o));
		memset(pmemobj_direct(o), 0x5a, 100); /* a new object: no add */
		TX_SET(s->root, oid, o);
	} TX_ONABORT {
		fail();
	} TX_END
	TX_BEGIN(s->pop) {
		PMEMoid a = pmemobj_tx_xalloc(100, 3, POBJ_XALLOC_NO_ABORT);
		assert_false(OID_IS_NULL(a));
		pmemobj_tx_abort(ECANCELED);
	} TX_END
	reopen(s);
	o = D_RO(s->root)->oid;
	assert_int_equal(pmemobj_type_num(o), 3);
	assert_int_equal(((unsigned char *)pmemobj_direct(o))[99], 0x5a);
	assert_int_equal(count_objects(s->pop), n0 + filled + 1);
}

static void test_tx_new_object_type_and_size(void **st)
{
	struct state *s = *st;
	volatile uint64_t type = 0, type_dup = 0, type_freed = 0;
	volatile size_t usable = 0, usable_re = 0;
	volatile int valid = 0;

	TX_BEGIN(s->pop) {
		TOID(struct tnode) n = TX_NEW(struct tnode);
		type = pmemobj_type_num(n.oid);
		usable = pmemobj_alloc_usable_size(n.oid);
		valid = TOID_VALID(n);
		n = TX_REALLOC(n, 3000);
		usable_re = pmemobj_alloc_usable_size(n.oid);
		PMEMoid d = pmemobj_tx_strdup("x", 9);
		type_dup = pmemobj_type_num(d);
		pmemobj_tx_free(d);
		type_freed = pmemobj_type_num(d);
		TX_SET(s->root, node, n);
	} TX_END
	assert_int_equal(type, TOID_TYPE_NUM(struct tnode));
	assert_true(usable >= sizeof(struct tnode));
	assert_int_equal(valid, 1);
	assert_true(usable_re >= 3000);
	assert_int_equal(type_dup, 9);
	assert_int_equal(type_freed, UINT64_MAX);
	assert_true(TOID_VALID(D_RO(s->root)->node));
	assert_true(pmemobj_alloc_usable_size(D_RO(s->root)->node.oid) >=
		    3000);
}

static void test_tx_lock_params(void **st)
{
	struct state *s = *st;
	struct troot *r = D_RW(s->root);

	TX_BEGIN_PARAM(s->pop, TX_PARAM_MUTEX, &r->mtx, TX_PARAM_RWLOCK,
		       &r->rw) {
		assert_int_equal(pmemobj_mutex_trylock(s->pop, &r->mtx), EBUSY);
		assert_int_equal(pmemobj_rwlock_tryrdlock(s->pop, &r->rw),
				 EBUSY);
		/* nested: the same lock again is not taken twice */
		TX_BEGIN_PARAM(s->pop, TX_PARAM_MUTEX, &r->mtx) {
			TX_SET(s->root, x, 3);
		} TX_END
		assert_int_equal(pmemobj_tx_lock(TX_PARAM_MUTEX, &r->mtx), 0);
	} TX_END
	assert_int_equal(pmemobj_mutex_trylock(s->pop, &r->mtx), 0);
	assert_int_equal(pmemobj_mutex_unlock(s->pop, &r->mtx), 0);
	assert_int_equal(pmemobj_rwlock_trywrlock(s->pop, &r->rw), 0);
	assert_int_equal(pmemobj_rwlock_unlock(s->pop, &r->rw), 0);
}

static void test_tx_log_tuning_calls(void **st)
{
	struct state *s = *st;
	size_t sizes[2] = {10, 100};

	assert_true(pmemobj_tx_log_snapshots_max_size(sizes, 2) >= 110);
	assert_true(pmemobj_tx_log_intents_max_size(4) > 0);
	assert_int_equal(pmemobj_tx_log_intents_max_size(SIZE_MAX), SIZE_MAX);
	TX_BEGIN(s->pop) {
		assert_int_equal(pmemobj_tx_log_append_buffer(
					 TX_LOG_TYPE_SNAPSHOT,
					 D_RW(s->root)->words, 256),
				 0);
		assert_int_equal(
			pmemobj_tx_log_auto_alloc(TX_LOG_TYPE_INTENT, 0), 0);
		pmemobj_tx_set_user_data(s);
		assert_ptr_equal(pmemobj_tx_get_user_data(), s);
	} TX_END
	assert_null(pmemobj_tx_get_user_data());
}

/* a transaction cut by the end of its process is rolled back */
static void test_tx_killed_is_rolled_back(void **st)
{
	struct state *s = *st;

	TX_BEGIN(s->pop) {
		TX_SET(s->root, x, 5);
	} TX_END
	pmemobj_close(s->pop);
	s->pop = NULL;
	pid_t pid = fork();
	if (pid == 0) {
		PMEMobjpool *pop = pmemobj_open(s->path, LAYOUT);
		if (!pop)
			_exit(2);
		TOID(struct troot) r = POBJ_ROOT(pop, struct troot);
		TX_BEGIN(pop) {
			TX_SET(r, x, 6);
			TX_MEMSET(D_RW(r)->words, 1, sizeof(D_RW(r)->words));
			_exit(0); /* no commit, no close */
		} TX_END
		_exit(3);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 0);
	s->pop = pmemobj_open(s->path, LAYOUT);
	assert_non_null(s->pop);
	s->root = POBJ_ROOT(s->pop, struct troot);
	assert_int_equal(D_RO(s->root)->x, 5);
	assert_int_equal(D_RO(s->root)->words[3], 0);
}

/* ---- atomic allocation ---- */

static int ctor_fill(PMEMobjpool *pop, void *ptr, void *arg)
{
	struct tnode *n = ptr;

	n->v = *(uint64_t *)arg;
	pmemobj_persist(pop, n, sizeof(*n));
	return 0;
}

static int ctor_refuse(PMEMobjpool *pop, void *ptr, void *arg)
{
	(void)pop;
	(void)ptr;
	(void)arg;
	return 1;
}

static void test_atomic_alloc_publishes_into_pool(void **st)
{
	struct state *s = *st;
	uint64_t v = 1234;
	size_t n0 = count_objects(s->pop);

	assert_int_equal(POBJ_NEW(s->pop, &D_RW(s->root)->node, struct tnode,
				  ctor_fill, &v),
			 0);
	assert_int_equal(D_RO(D_RO(s->root)->node)->v, 1234);
	errno = 0;
	assert_int_equal(pmemobj_alloc(s->pop, &D_RW(s->root)->oid, 64, 1,
				       ctor_refuse, NULL),
			 -1);
	assert_int_equal(errno, ECANCELED);
	assert_true(OID_IS_NULL(D_RO(s->root)->oid));
	assert_int_equal(count_objects(s->pop), n0 + 1); /* nothing left */
	errno = 0;
	assert_int_equal(pmemobj_alloc(s->pop, NULL, 0, 1, NULL, NULL), -1);
	assert_int_equal(errno, EINVAL);
	reopen(s);
	assert_int_equal(D_RO(D_RO(s->root)->node)->v, 1234);
	POBJ_FREE(&D_RW(s->root)->node);
	assert_true(TOID_IS_NULL(D_RO(s->root)->node));
	assert_true(OID_EQUALS(D_RO(s->root)->node.oid, OID_NULL));
	pmemobj_free(&D_RW(s->root)->oid); /* OID_NULL: nothing */
	assert_int_equal(count_objects(s->pop), n0);
}

static void test_atomic_zalloc_realloc_strdup(void **st)
{
	struct state *s = *st;
	PMEMoid o = OID_NULL; /* volatile: assigned after the fact */

	assert_int_equal(pmemobj_zalloc(s->pop, &o, 200, 2), 0);
	assert_int_equal(((char *)pmemobj_direct(o))[199], 0);
	assert_int_equal(pmemobj_type_num(o), 2);
	memset(pmemobj_direct(o), 'q', 200);
	pmemobj_persist(s->pop, pmemobj_direct(o), 200);
	assert_int_equal(pmemobj_realloc(s->pop, &o, 100000, 2), 0);
	assert_int_equal(((char *)pmemobj_direct(o))[199], 'q');
	assert_true(pmemobj_alloc_usable_size(o) >= 100000);
	assert_int_equal(pmemobj_zrealloc(s->pop, &o, 300000, 1), 0);
	assert_int_equal(pmemobj_type_num(o), 1);
	assert_int_equal(((char *)pmemobj_direct(o))[299999], 0);
	assert_int_equal(((char *)pmemobj_direct(o))[0], 'q');
	assert_int_equal(pmemobj_realloc(s->pop, &o, 0, 1), 0); /* a free */
	assert_true(OID_IS_NULL(o));
	assert_int_equal(pmemobj_strdup(s->pop, &D_RW(s->root)->oid, "str", 3),
			 0);
	assert_string_equal(pmemobj_direct(D_RO(s->root)->oid), "str");
	PMEMoid w;
	assert_int_equal(pmemobj_wcsdup(s->pop, &w, L"wcs", 3), 0);
	assert_int_equal(wcscmp(pmemobj_direct(w), L"wcs"), 0);
	pmemobj_free(&w);
	errno = 0;
	assert_int_equal(pmemobj_alloc(s->pop, &w, 8, 0xFFF00000ull, NULL,
				       NULL),
			 -1);
	assert_int_equal(errno, EINVAL);
}

/* atomic calls inside a transaction: durable at once, not rolled back */
static void test_atomic_calls_inside_a_transaction(void **st)
{
	struct state *s = *st;
	uint64_t v = 9;
	size_t n0 = count_objects(s->pop);

	TX_BEGIN(s->pop) {
		TX_SET(s->root, x, 1);
		assert_int_equal(POBJ_NEW(s->pop, &D_RW(s->root)->node,
					  struct tnode, ctor_fill, &v),
				 0);
		assert_false(OID_IS_NULL(POBJ_LIST_INSERT_NEW_HEAD(
			s->pop, &D_RW(s->root)->l1, link, sizeof(struct tnode),
			ctor_fill, &v)));
		struct pobj_action act;
		PMEMoid r = pmemobj_reserve(s->pop, &act, 64, 2);
		assert_false(OID_IS_NULL(r));
		assert_int_equal(pmemobj_publish(s->pop, &act, 1), 0);
		pmemobj_tx_abort(EINVAL);
	} TX_END
	assert_int_equal(D_RO(s->root)->x, 0);			  /* undone */
	assert_int_equal(D_RO(D_RO(s->root)->node)->v, 9);	  /* kept */
	assert_int_equal(D_RO(POBJ_LIST_FIRST(&D_RO(s->root)->l1))->v, 9);
	assert_int_equal(count_objects(s->pop), n0 + 3);
}

/* a constructor's pmemobj_persist of its object costs nothing: the
 * commit that publishes the object makes it durable */
static void test_constructor_persist_is_free(void **st)
{
	struct state *s = *st;
	uint64_t v = 1;
	PMEMoid o;

	assert_int_equal(pmemobj_alloc(s->pop, &o, sizeof(struct tnode), 1,
				       ctor_fill, &v),
			 0); /* the run for this size */
	uint64_t f0 = fences();
	assert_int_equal(POBJ_NEW(s->pop, &D_RW(s->root)->node, struct tnode,
				  ctor_fill, &v),
			 0);
	assert_int_equal(fences() - f0, 1);
	reopen(s);
	assert_int_equal(D_RO(D_RO(s->root)->node)->v, 1);
}

/* ---- types and walks ---- */

static void test_layout_type_numbers(void **st)
{
	(void)st;
	assert_int_equal(POBJ_LAYOUT_TYPES_NUM(tlayout), 2);
	assert_int_equal(TOID_TYPE_NUM(struct troot), POBJ_ROOT_TYPE_NUM);
	assert_int_equal(TOID_TYPE_NUM(struct tnode), 1);
	assert_int_equal(TOID_TYPE_NUM(struct tleaf), 2);
	TOID(struct tleaf) l = TOID_NULL(struct tleaf);
	assert_int_equal(TOID_TYPE_NUM_OF(l), 2);
	assert_true(TOID_IS_NULL(l));
}

static void test_foreach_by_type(void **st)
{
	struct state *s = *st;

	for (int i = 0; i < 5; i++)
		assert_int_equal(POBJ_ZNEW(s->pop, NULL, struct tnode), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(POBJ_ZNEW(s->pop, NULL, struct tleaf), 0);
	TOID(struct tnode) n, nn;
	TOID(struct tleaf) l;
	int cn = 0, cl = 0;
	POBJ_FOREACH_TYPE(s->pop, n) {
		assert_true(OID_INSTANCEOF(n.oid, struct tnode));
		cn++;
	}
	POBJ_FOREACH_TYPE(s->pop, l)
		cl++;
	assert_int_equal(cn, 5);
	assert_int_equal(cl, 3);
	assert_int_equal(count_objects(s->pop), 8); /* not the root */
	/* the SAFE walk may free as it goes */
	POBJ_FOREACH_SAFE_TYPE(s->pop, n, nn)
		POBJ_FREE(&n);
	assert_int_equal(count_objects(s->pop), 3);
	l = POBJ_FIRST(s->pop, struct tleaf);
	assert_false(TOID_IS_NULL(l));
	l = POBJ_NEXT(l);
	l = POBJ_NEXT(l);
	assert_false(TOID_IS_NULL(l));
	assert_true(TOID_IS_NULL(POBJ_NEXT(l)));
	assert_true(TOID_IS_NULL(POBJ_FIRST(s->pop, struct tnode)));
}

/* ---- the action API ---- */

static void test_action_publish_and_cancel(void **st)
{
	struct state *s = *st;
	struct pobj_action act[4];
	size_t n0 = count_objects(s->pop);

	TOID(struct tnode) a = POBJ_RESERVE_NEW(s->pop, struct tnode, &act[0]);
	assert_false(TOID_IS_NULL(a));
	assert_int_equal(count_objects(s->pop), n0); /* not visible yet */
	D_RW(a)->v = 5;
	pmemobj_persist(s->pop, D_RW(a), sizeof(struct tnode));
	pmemobj_set_value(s->pop, &act[1], &D_RW(s->root)->node.oid.pool_uuid_lo,
			  a.oid.pool_uuid_lo);
	pmemobj_set_value(s->pop, &act[2], &D_RW(s->root)->node.oid.off,
			  a.oid.off);
	pmemobj_set_value(s->pop, &act[3], &D_RW(s->root)->x, 77);
	assert_true(TOID_IS_NULL(D_RO(s->root)->node));
	assert_int_equal(pmemobj_publish(s->pop, act, 4), 0);
	assert_true(TOID_EQUALS(D_RO(s->root)->node, a));
	assert_int_equal(D_RO(s->root)->x, 77);
	assert_int_equal(count_objects(s->pop), n0 + 1);
	/* cancelled: gone */
	PMEMoid b = pmemobj_xreserve(s->pop, &act[0], 64, 2, POBJ_XALLOC_ZERO);
	assert_false(OID_IS_NULL(b));
	assert_int_equal(((char *)pmemobj_direct(b))[63], 0);
	pmemobj_cancel(s->pop, act, 1);
	assert_int_equal(count_objects(s->pop), n0 + 1);
	/* a deferred free */
	pmemobj_defer_free(s->pop, a.oid, &act[0]);
	pmemobj_set_value(s->pop, &act[1], &D_RW(s->root)->node.oid.off, 0);
	assert_int_equal(pmemobj_publish(s->pop, act, 2), 0);
	assert_int_equal(count_objects(s->pop), n0);
}

static void test_action_unpublished_is_gone_after_reopen(void **st)
{
	struct state *s = *st;
	struct pobj_action act[600];
	size_t n0 = count_objects(s->pop);

	/* more than one table of reservations */
	for (int i = 0; i < 600; i++)
		assert_false(OID_IS_NULL(pmemobj_reserve(s->pop, &act[i], 64, 1)));
	assert_int_equal(pmemobj_publish(s->pop, act, 1), 0);
	reopen(s); /* as if the program had died */
	assert_int_equal(count_objects(s->pop), n0 + 1);
	for (int i = 0; i < 600; i++)
		assert_false(OID_IS_NULL(pmemobj_reserve(s->pop, &act[i], 64, 1)));
	pmemobj_cancel(s->pop, act, 600);
	assert_int_equal(count_objects(s->pop), n0 + 1);
}

/*
 * reservations from more than two tables, all published or cancelled at
 * once: every slot is free again, and more slots than were free when
 * the last table was added go back on the free list
 */
static void test_action_publish_many_tables(void **st)
{
	struct state *s = *st;
	enum { N = 1200 };
	struct pobj_action *act = calloc(N, sizeof(*act));
	size_t n0 = count_objects(s->pop);

	assert_non_null(act);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < N; i++)
			assert_false(OID_IS_NULL(
				pmemobj_reserve(s->pop, &act[i], 32, 1)));
		if (round == 0) {
			assert_int_equal(pmemobj_publish(s->pop, act, N), 0);
		} else {
			TX_BEGIN(s->pop) {
				assert_int_equal(pmemobj_tx_publish(act, N), 0);
			} TX_ONABORT {
				fail();
			} TX_END
		}
		assert_int_equal(count_objects(s->pop), n0 + N * (round + 1));
	}
	for (int i = 0; i < N; i++)
		assert_false(OID_IS_NULL(pmemobj_reserve(s->pop, &act[i], 32, 1)));
	pmemobj_cancel(s->pop, act, N);
	assert_int_equal(count_objects(s->pop), n0 + 2 * N);
	reopen(s);
	assert_int_equal(count_objects(s->pop), n0 + 2 * N);
	for (int i = 0; i < N; i++)
		assert_false(OID_IS_NULL(pmemobj_reserve(s->pop, &act[i], 32, 1)));
	assert_int_equal(pmemobj_publish(s->pop, act, N), 0);
	assert_int_equal(count_objects(s->pop), n0 + 3 * N);
	free(act);
}

static void test_action_tx_publish(void **st)
{
	struct state *s = *st;
	struct pobj_action act[2];
	size_t n0 = count_objects(s->pop);

	PMEMoid a = pmemobj_reserve(s->pop, &act[0], 128, 1);
	TX_BEGIN(s->pop) {
		assert_int_equal(pmemobj_tx_publish(act, 1), 0);
		TX_SET(s->root, oid, a);
	} TX_END
	assert_int_equal(count_objects(s->pop), n0 + 1);
	PMEMoid b = pmemobj_reserve(s->pop, &act[1], 128, 1);
	assert_false(OID_IS_NULL(b));
	TX_BEGIN(s->pop) {
		pmemobj_tx_publish(&act[1], 1);
		pmemobj_tx_abort(EINVAL); /* the reservation goes */
	} TX_END
	assert_int_equal(count_objects(s->pop), n0 + 1);
	reopen(s);
	assert_int_equal(count_objects(s->pop), n0 + 1);
}

/*
 * a publish with an action that is not one (here: cancelled) fails
 * without publishing any of the others, also in a transaction that goes
 * on (POBJ_XPUBLISH_NO_ABORT); those stay reserved
 */
static void test_action_bad_action_publishes_nothing(void **st)
{
	struct state *s = *st;
	struct pobj_action act[3];
	size_t n0 = count_objects(s->pop);

	for (int i = 0; i < 3; i++)
		assert_false(OID_IS_NULL(pmemobj_reserve(s->pop, &act[i], 64, 1)));
	pmemobj_cancel(s->pop, &act[2], 1);
	D_RW(s->root)->x = 1;
	pmemobj_persist(s->pop, &D_RW(s->root)->x, 8);
	pmemobj_set_value(s->pop, &act[1], &D_RW(s->root)->x, 2);
	errno = 0;
	assert_int_equal(pmemobj_publish(s->pop, act, 3), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(D_RO(s->root)->x, 1);
	volatile int ret = -1;
	TX_BEGIN(s->pop) {
		ret = pmemobj_tx_xpublish(act, 3, POBJ_XPUBLISH_NO_ABORT);
		assert_int_equal(pmemobj_tx_stage(), TX_STAGE_WORK);
	} TX_ONABORT {
		fail();
	} TX_END
	assert_int_equal(ret, EINVAL);
	assert_int_equal(D_RO(s->root)->x, 1);
	/* act[0] is still a reservation: cancelled, it is gone */
	pmemobj_cancel(s->pop, act, 1);
	assert_int_equal(count_objects(s->pop), n0);
	reopen(s);
	assert_int_equal(count_objects(s->pop), n0);
}

/*
 * cancelling a reservation that is over (published, or published in a
 * transaction that aborted) touches nothing, in particular not the
 * reservation made after it in the same slot
 */
static void test_action_cancel_after_publish_is_harmless(void **st)
{
	struct state *s = *st;
	struct pobj_action a, b, c;
	size_t n0 = count_objects(s->pop);

	assert_false(OID_IS_NULL(pmemobj_reserve(s->pop, &a, 64, 1)));
	assert_int_equal(pmemobj_publish(s->pop, &a, 1), 0);
	PMEMoid ob = pmemobj_reserve(s->pop, &b, 64, 1);
	assert_false(OID_IS_NULL(ob));
	pmemobj_cancel(s->pop, &a, 1); /* a program's mistake */
	assert_int_equal(pmemobj_publish(s->pop, &b, 1), 0);
	assert_int_equal(count_objects(s->pop), n0 + 2);
	assert_int_equal(pmemobj_type_num(ob), 1);
	TX_BEGIN(s->pop) {
		assert_false(OID_IS_NULL(pmemobj_reserve(s->pop, &c, 64, 1)));
		pmemobj_tx_publish(&c, 1);
		pmemobj_tx_abort(ECANCELED);
	} TX_END
	PMEMoid od = pmemobj_reserve(s->pop, &b, 64, 1);
	pmemobj_cancel(s->pop, &c, 1); /* over with the abort */
	assert_int_equal(pmemobj_publish(s->pop, &b, 1), 0);
	assert_int_equal(count_objects(s->pop), n0 + 3);
	reopen(s);
	assert_int_equal(count_objects(s->pop), n0 + 3);
	assert_int_equal(pmemobj_type_num(od), 1);
}

/*
 * a reservation not published is not the program's to free or move
 * (its slot would free whatever lives there at the next open): free,
 * realloc and a transaction's free refuse it with EINVAL, the latter
 * without dooming a transaction that asked not to abort; so does a
 * transaction's free of what is not an object. One published in the
 * transaction may be freed in it.
 */
static void test_action_unpublished_is_not_freed(void **st)
{
	struct state *s = *st;
	struct pobj_action act;
	size_t n0 = count_objects(s->pop);

	PMEMoid r = pmemobj_reserve(s->pop, &act, sizeof(struct tnode), 1);
	assert_false(OID_IS_NULL(r));
	PMEMoid copy = r;
	errno = 0;
	pmemobj_free(&copy);
	assert_int_equal(errno, EINVAL);
	assert_true(OID_EQUALS(copy, r));
	assert_int_equal(pmemobj_realloc(s->pop, &copy, 4096, 1), -1);
	assert_int_equal(errno, EINVAL);
	/* in a list and removed with free: removed, not freed */
	struct thead *h = &D_RW(s->root)->l1;
	assert_int_equal(pmemobj_list_insert(s->pop,
					     offsetof(struct tnode, link), h,
					     OID_NULL, 0, r),
			 0);
	assert_int_equal(pmemobj_list_remove(s->pop,
					     offsetof(struct tnode, link), h,
					     r, 1),
			 -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(pmemobj_list_remove(s->pop,
					     offsetof(struct tnode, link), h,
					     r, 0),
			 0);
	assert_true(POBJ_LIST_EMPTY(h));
	TX_BEGIN(s->pop) {
		TX_SET(s->root, x, 11);
		assert_int_equal(pmemobj_tx_xfree(r, POBJ_XFREE_NO_ABORT),
				 EINVAL);
		PMEMoid bogus = {r.pool_uuid_lo, r.off + 8};
		assert_int_equal(pmemobj_tx_xfree(bogus, POBJ_XFREE_NO_ABORT),
				 EINVAL);
		assert_int_equal(pmemobj_tx_xfree(s->root.oid,
						  POBJ_XFREE_NO_ABORT),
				 EINVAL);
	} TX_ONABORT {
		fail();
	} TX_END
	assert_int_equal(D_RO(s->root)->x, 11);
	TX_BEGIN(s->pop) {
		assert_int_equal(pmemobj_tx_publish(&act, 1), 0);
		/* not for an atomic free: the transaction may still abort */
		copy = r;
		errno = 0;
		pmemobj_free(&copy);
		assert_int_equal(errno, EINVAL);
		assert_int_equal(pmemobj_tx_free(r), 0);
	} TX_ONABORT {
		fail();
	} TX_END
	assert_int_equal(count_objects(s->pop), n0);
	reopen(s);
	assert_int_equal(count_objects(s->pop), n0);
}

/*
 * thousands of reservations settled in a scrambled order, some
 * published, some cancelled, some through aborted transactions: a walk
 * shows exactly the published ones all along (the table of active
 * reservations removes any entry, wherever it sits)
 */
static void test_action_many_in_any_order(void **st)
{
	struct state *s = *st;
	enum { N = 3000 };
	struct pobj_action *act = calloc(N, sizeof(*act));
	size_t n0 = count_objects(s->pop), published = 0;

	assert_non_null(act);
	for (int i = 0; i < N; i++)
		assert_false(OID_IS_NULL(
			pmemobj_reserve(s->pop, &act[i], 16 + i % 200, 5)));
	assert_int_equal(count_objects(s->pop), n0);
	for (int k = 0; k < N; k++) {
		int i = (int)(((uint64_t)k * 7919) % N); /* a permutation */
		switch (i % 3) {
		case 0:
			assert_int_equal(pmemobj_publish(s->pop, &act[i], 1), 0);
			published++;
			break;
		case 1:
			pmemobj_cancel(s->pop, &act[i], 1);
			break;
		default:
			TX_BEGIN(s->pop) {
				assert_int_equal(pmemobj_tx_publish(&act[i], 1),
						 0);
				if (i % 2)
					pmemobj_tx_abort(ECANCELED);
			} TX_END
			published += !(i % 2);
			break;
		}
		if (k % 500 == 499)
			assert_int_equal(count_objects(s->pop), n0 + published);
	}
	assert_int_equal(count_objects(s->pop), n0 + published);
	reopen(s);
	assert_int_equal(count_objects(s->pop), n0 + published);
	free(act);
}

static void *publisher(void *arg)
{
	struct state *s = arg;
	struct pobj_action act;
	PMEMoid o = pmemobj_reserve(s->pop, &act, 64, 1);
	volatile int ret = -1;

	if (OID_IS_NULL(o))
		return (void *)1;
	TX_BEGIN(s->pop) {
		ret = pmemobj_tx_publish(&act, 1);
		pmemobj_tx_abort(ECANCELED); /* the reservation goes */
	} TX_END
	return ret == 0 ? NULL : (void *)1;
}

/*
 * threads that publish in a transaction and exit leave nothing behind:
 * the per-thread list of published slots goes with its thread (the
 * ASan build's leak check fails the test otherwise)
 */
static void test_action_tx_publish_threads_exit(void **st)
{
	struct state *s = *st;
	size_t n0 = count_objects(s->pop);

	for (int i = 0; i < 4; i++) {
		pthread_t th;
		void *ret;
		assert_int_equal(pthread_create(&th, NULL, publisher, s), 0);
		assert_int_equal(pthread_join(th, &ret), 0);
		assert_null(ret);
	}
	assert_int_equal(count_objects(s->pop), n0);
}

struct walk_arg {
	struct state *s;
	int stop;
};

static void *walker(void *arg)
{
	struct walk_arg *w = arg;

	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE))
		(void)count_objects(w->s->pop);
	return NULL;
}

/*
 * a walk while another thread reserves, publishes and cancels: the walk
 * reads how many reservations are active without the pool's lock, so
 * every change of that count is atomic (the TSan build reports a race
 * otherwise)
 */
static void test_action_walk_while_publishing(void **st)
{
	struct state *s = *st;
	struct walk_arg w = {s, 0};
	struct pobj_action act[4];
	pthread_t th;
	size_t n0 = count_objects(s->pop);

	assert_int_equal(pthread_create(&th, NULL, walker, &w), 0);
	for (int i = 0; i < 200; i++) {
		for (int j = 0; j < 4; j++)
			assert_false(OID_IS_NULL(
				pmemobj_reserve(s->pop, &act[j], 64, 3)));
		assert_int_equal(pmemobj_publish(s->pop, act, 2), 0);
		pmemobj_cancel(s->pop, &act[2], 2);
	}
	__atomic_store_n(&w.stop, 1, __ATOMIC_RELEASE);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(count_objects(s->pop), n0 + 400);
}

struct reserver_arg {
	struct state *s;
	struct pobj_action act[50];
	int done;
};

static void *reserver(void *arg)
{
	struct reserver_arg *a = arg;

	for (int i = 0; i < 50; i++)
		if (OID_IS_NULL(pmemobj_reserve(a->s->pop, &a->act[i], 64, 77)))
			abort();
	__atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * a walk never shows a reservation, not even while it is being made (its
 * object exists before the layer has it in its table). Nothing is freed
 * while the walks run, so that what a walk returns is live.
 */
static void test_action_walk_never_shows_a_reservation(void **st)
{
	struct state *s = *st;
	struct reserver_arg *a = calloc(1, sizeof(*a));
	size_t seen = 0;

	assert_non_null(a);
	a->s = s;
	for (int round = 0; round < 400; round++) {
		pthread_t th;
		__atomic_store_n(&a->done, 0, __ATOMIC_RELAXED);
		assert_int_equal(pthread_create(&th, NULL, reserver, a), 0);
		while (!__atomic_load_n(&a->done, __ATOMIC_ACQUIRE)) {
			PMEMoid o;
			POBJ_FOREACH(s->pop, o)
				seen += pmemobj_type_num(o) == 77;
		}
		assert_int_equal(pthread_join(th, NULL), 0);
		pmemobj_cancel(s->pop, a->act, 50);
	}
	assert_int_equal(seen, 0);
	free(a);
}

/* ---- lists ---- */

static int ctor_v(PMEMobjpool *pop, void *ptr, void *arg)
{
	(void)pop;
	((struct tnode *)ptr)->v = (uint64_t)(uintptr_t)arg;
	return 0;
}

static void list_values(struct thead *h, int reverse, char *out)
{
	TOID(struct tnode) it;

	out[0] = 0;
	if (reverse) {
		POBJ_LIST_FOREACH_REVERSE(it, h, link)
			sprintf(out + strlen(out), "%d", (int)D_RO(it)->v);
	} else {
		POBJ_LIST_FOREACH(it, h, link)
			sprintf(out + strlen(out), "%d", (int)D_RO(it)->v);
	}
}

static void test_lists(void **st)
{
	struct state *s = *st;
	struct thead *h = &D_RW(s->root)->l1, *h2 = &D_RW(s->root)->l2;
	char buf[64];

	assert_true(POBJ_LIST_EMPTY(h));
	for (uintptr_t v = 1; v <= 3; v++)
		assert_false(TOID_IS_NULL(((TOID(struct tnode)){
			.oid = POBJ_LIST_INSERT_NEW_TAIL(
				s->pop, h, link, sizeof(struct tnode), ctor_v,
				(void *)v)})));
	POBJ_LIST_INSERT_NEW_HEAD(s->pop, h, link, sizeof(struct tnode), ctor_v,
				  (void *)0);
	list_values(h, 0, buf);
	assert_string_equal(buf, "0123");
	list_values(h, 1, buf);
	assert_string_equal(buf, "3210");
	TOID(struct tnode) first = POBJ_LIST_FIRST(h);
	TOID(struct tnode) second = POBJ_LIST_NEXT(first, link);
	POBJ_LIST_INSERT_NEW_AFTER(s->pop, h, second, link,
				   sizeof(struct tnode), ctor_v, (void *)8);
	POBJ_LIST_INSERT_NEW_BEFORE(s->pop, h, first, link,
				    sizeof(struct tnode), ctor_v, (void *)9);
	list_values(h, 0, buf);
	assert_string_equal(buf, "901823");
	/* remove, re-insert elsewhere, move to the other list */
	assert_int_equal(POBJ_LIST_REMOVE(s->pop, h, second, link), 0);
	assert_int_equal(POBJ_LIST_INSERT_TAIL(s->pop, h, second, link), 0);
	list_values(h, 0, buf);
	assert_string_equal(buf, "908231");
	assert_int_equal(POBJ_LIST_MOVE_ELEMENT_HEAD(s->pop, h, h2, first,
						     link, link2),
			 0);
	list_values(h, 0, buf);
	assert_string_equal(buf, "98231");
	assert_int_equal(D_RO(POBJ_LIST_FIRST(h2))->v, 0);
	assert_true(TOID_EQUALS(POBJ_LIST_LAST(h2, link2), first));
	/* move within one list, and remove with free */
	TOID(struct tnode) last = POBJ_LIST_LAST(h, link);
	assert_int_equal(POBJ_LIST_MOVE_ELEMENT_HEAD(s->pop, h, h, last, link,
						     link),
			 0);
	list_values(h, 0, buf);
	assert_string_equal(buf, "19823");
	size_t n0 = count_objects(s->pop);
	while (!POBJ_LIST_EMPTY(h))
		assert_int_equal(POBJ_LIST_REMOVE_FREE(s->pop, h,
						       POBJ_LIST_FIRST(h), link),
				 0);
	assert_int_equal(count_objects(s->pop), n0 - 5);
	reopen(s);
	assert_int_equal(D_RO(POBJ_LIST_FIRST(&D_RO(s->root)->l2))->v, 0);
}

/* ---- locks, volatile state ---- */

static void *try_lock_thread(void *arg)
{
	struct state *s = arg;
	int ret = pmemobj_mutex_trylock(s->pop, &D_RW(s->root)->mtx);

	/* a mutex is unlocked by the thread that holds it */
	if (ret == 0)
		pmemobj_mutex_unlock(s->pop, &D_RW(s->root)->mtx);
	return (void *)(intptr_t)ret;
}

static void test_locks_free_again_after_reopen(void **st)
{
	struct state *s = *st;
	struct troot *r = D_RW(s->root);
	pthread_t t;
	void *ret;

	assert_int_equal(pmemobj_mutex_lock(s->pop, &r->mtx), 0);
	assert_int_equal(pmemobj_rwlock_rdlock(s->pop, &r->rw), 0);
	pthread_create(&t, NULL, try_lock_thread, s);
	pthread_join(t, &ret);
	assert_int_equal((intptr_t)ret, EBUSY);
	/* the pool closes with both held, as when a process dies */
	reopen(s);
	r = D_RW(s->root);
	pthread_create(&t, NULL, try_lock_thread, s);
	pthread_join(t, &ret);
	assert_int_equal((intptr_t)ret, 0);
	assert_int_equal(pmemobj_mutex_trylock(s->pop, &r->mtx), 0);
	assert_int_equal(pmemobj_mutex_unlock(s->pop, &r->mtx), 0);
	assert_int_equal(pmemobj_rwlock_trywrlock(s->pop, &r->rw), 0);
	assert_int_equal(pmemobj_rwlock_unlock(s->pop, &r->rw), 0);
	pmemobj_mutex_zero(s->pop, &r->mtx);
	assert_int_equal(pmemobj_mutex_lock(s->pop, &r->mtx), 0);
	assert_int_equal(pmemobj_mutex_unlock(s->pop, &r->mtx), 0);
}

static void *signal_thread(void *arg)
{
	struct state *s = arg;
	struct troot *r = D_RW(s->root);

	pmemobj_mutex_lock(s->pop, &r->mtx);
	r->y = 1;
	pmemobj_cond_signal(s->pop, &r->cond);
	pmemobj_mutex_unlock(s->pop, &r->mtx);
	return NULL;
}

static void test_cond_wait_and_timedwait(void **st)
{
	struct state *s = *st;
	struct troot *r = D_RW(s->root);
	pthread_t t;
	struct timespec ts;

	r->y = 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 20 * 1000 * 1000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pmemobj_mutex_lock(s->pop, &r->mtx);
	assert_int_equal(pmemobj_cond_timedwait(s->pop, &r->cond, &r->mtx, &ts),
			 ETIMEDOUT);
	pthread_create(&t, NULL, signal_thread, s);
	while (!r->y)
		assert_int_equal(pmemobj_cond_wait(s->pop, &r->cond, &r->mtx),
				 0);
	pmemobj_mutex_unlock(s->pop, &r->mtx);
	pthread_join(t, NULL);
}

static int vlt_calls;
static int vlt_ctor(void *ptr, void *arg)
{
	*(uint64_t *)ptr = (uint64_t)(uintptr_t)arg;
	vlt_calls++;
	return 0;
}

static void test_volatile_once_per_open(void **st)
{
	struct state *s = *st;
	struct troot *r = D_RW(s->root);

	vlt_calls = 0;
	uint64_t *v = pmemobj_volatile(s->pop, &r->vlt.vlt, &r->vlt.value, 8,
				       vlt_ctor, (void *)5);
	assert_int_equal(*v, 5);
	pmemobj_volatile(s->pop, &r->vlt.vlt, &r->vlt.value, 8, vlt_ctor,
			 (void *)6);
	assert_int_equal(vlt_calls, 1);
	reopen(s);
	r = D_RW(s->root);
	v = pmemobj_volatile(s->pop, &r->vlt.vlt, &r->vlt.value, 8, vlt_ctor,
			     (void *)6);
	assert_int_equal(*v, 6);
	assert_int_equal(vlt_calls, 2);
}

static PMEMobjpool *vlt_pop;

/* a constructor that walks the pool, as one rebuilding an index does */
static int vlt_count_ctor(void *ptr, void *arg)
{
	struct pobj_action act;

	(void)arg;
	/* the layer from inside: a reservation, a walk, a cancel */
	if (OID_IS_NULL(pmemobj_reserve(vlt_pop, &act, 64, 1)))
		return -1;
	*(uint64_t *)ptr = count_objects(vlt_pop);
	pmemobj_cancel(vlt_pop, &act, 1);
	return 0;
}

/*
 * a constructor of pmemobj_volatile may call the layer: reserve, walk
 * (with a reservation active), cancel. (The old code ran it under the
 * pool's own mutex, which those take: the test hung.)
 */
static void test_volatile_constructor_may_call_the_layer(void **st)
{
	struct state *s = *st;
	struct troot *r = D_RW(s->root);
	struct pobj_action act;
	PMEMoid o;

	assert_int_equal(pmemobj_alloc(s->pop, &o, 64, 1, NULL, NULL), 0);
	assert_false(OID_IS_NULL(pmemobj_reserve(s->pop, &act, 64, 1)));
	vlt_pop = s->pop;
	uint64_t *v = pmemobj_volatile(s->pop, &r->vlt.vlt, &r->vlt.value, 8,
				       vlt_count_ctor, NULL);
	assert_non_null(v);
	assert_int_equal(*v, count_objects(s->pop));
	pmemobj_cancel(s->pop, &act, 1);
}

/* ---- ctl, persistence, versions ---- */

static void test_ctl_alloc_class_exact_size(void **st)
{
	struct state *s = *st;
	struct pobj_alloc_class_desc d = {
		.unit_size = 100,
		.units_per_block = 1000,
		.header_type = POBJ_HEADER_NONE,
	};
	PMEMoid o;

	assert_int_equal(pmemobj_ctl_set(s->pop, "heap.alloc_class.new.desc",
					 &d),
			 0);
	assert_true(d.class_id > 0);
	assert_int_equal(pmemobj_xalloc(s->pop, &o, 100, 0,
					POBJ_CLASS_ID(d.class_id), NULL, NULL),
			 0);
	assert_int_equal(pmemobj_alloc_usable_size(o), 100);
	assert_int_equal(pmemobj_type_num(o), 0);
	errno = 0; /* no header: one unit at most */
	assert_int_equal(pmemobj_xalloc(s->pop, &o, 101, 0,
					POBJ_CLASS_ID(d.class_id), NULL, NULL),
			 -1);
	assert_int_equal(errno, EINVAL);
	struct pobj_alloc_class_desc g;
	char name[64];
	snprintf(name, sizeof(name), "heap.alloc_class.%u.desc", d.class_id);
	assert_int_equal(pmemobj_ctl_get(s->pop, name, &g), 0);
	assert_int_equal(g.unit_size, 100);
	assert_int_equal(pmemobj_ctl_set(s->pop, name, &d), -1);
	assert_int_equal(errno, EEXIST);
	errno = 0;
	int on = 1;
	assert_int_equal(pmemobj_ctl_set(s->pop, "heap.narenas.max", &on), -1);
	assert_int_equal(errno, ENOTSUP);
	assert_int_equal(pmemobj_ctl_set(NULL, "prefault.at_open", &on), 0);
	on = 0;
	assert_int_equal(pmemobj_ctl_get(NULL, "prefault.at_open", &on), 0);
	assert_int_equal(on, 1);
	on = 0;
	assert_int_equal(pmemobj_ctl_set(NULL, "prefault.at_open", &on), 0);
}

/*
 * ctl names whose documented meaning holds on daxo as it is: the debug
 * switch libpmemobj's release builds ignore, and a heap granularity of 0
 * (the pool does not grow); a growing heap is refused
 */
static void test_ctl_names_that_hold_as_they_are(void **st)
{
	struct state *s = *st;
	int on = -1;
	uint64_t g = 1;

	assert_int_equal(pmemobj_ctl_get(s->pop,
					 "tx.debug.skip_expensive_checks", &on),
			 0);
	assert_int_equal(on, 0);
	on = 1;
	assert_int_equal(pmemobj_ctl_set(s->pop,
					 "tx.debug.skip_expensive_checks", &on),
			 0);
	on = 0;
	assert_int_equal(pmemobj_ctl_get(s->pop,
					 "tx.debug.skip_expensive_checks", &on),
			 0);
	assert_int_equal(on, 1);
	assert_int_equal(pmemobj_ctl_get(s->pop, "heap.size.granularity", &g),
			 0);
	assert_int_equal(g, 0);
	assert_int_equal(pmemobj_ctl_set(s->pop, "heap.size.granularity", &g),
			 0);
	g = 4 << 20;
	errno = 0;
	assert_int_equal(pmemobj_ctl_set(s->pop, "heap.size.granularity", &g),
			 -1);
	assert_int_equal(errno, ENOTSUP);
	errno = 0;
	assert_int_equal(pmemobj_ctl_exec(s->pop, "heap.size.extend", &g), -1);
	assert_int_equal(errno, ENOTSUP);
	errno = 0;
	assert_int_equal(pmemobj_ctl_get(s->pop, "no.such.name", &on), -1);
	assert_int_equal(errno, ENOTSUP);
}

static uint64_t heap_stat(PMEMobjpool *pop, const char *name)
{
	uint64_t v = UINT64_MAX;

	assert_int_equal(pmemobj_ctl_get(pop, name, &v), 0);
	return v;
}

/*
 * the heap statistics of pmemobj_ctl_get(3) (what a program reads to
 * decide on pmemobj_defrag) follow allocations and frees
 */
static void test_ctl_heap_stats(void **st)
{
	struct state *s = *st;
	PMEMoid small[16], big = OID_NULL;
	uint64_t v;

	uint64_t cur0 = heap_stat(s->pop, "stats.heap.curr_allocated");
	uint64_t run0 = heap_stat(s->pop, "stats.heap.run_allocated");
	assert_true(cur0 >= run0);
	assert_true(run0 > 0); /* the root */
	for (int i = 0; i < 16; i++)
		assert_int_equal(pmemobj_alloc(s->pop, &small[i], 100, 1, NULL,
					       NULL),
				 0);
	uint64_t cur1 = heap_stat(s->pop, "stats.heap.curr_allocated");
	uint64_t run1 = heap_stat(s->pop, "stats.heap.run_allocated");
	assert_true(run1 >= run0 + 1600);
	assert_int_equal(cur1 - cur0, run1 - run0);
	assert_true(heap_stat(s->pop, "stats.heap.run_active") >= run1);
	assert_int_equal(pmemobj_alloc(s->pop, &big, 1 << 20, 2, NULL, NULL),
			 0);
	uint64_t cur2 = heap_stat(s->pop, "stats.heap.curr_allocated");
	assert_true(cur2 >= cur1 + (1 << 20));
	assert_int_equal(heap_stat(s->pop, "stats.heap.run_allocated"), run1);
	pmemobj_free(&big);
	for (int i = 0; i < 16; i++)
		pmemobj_free(&small[i]);
	assert_int_equal(heap_stat(s->pop, "stats.heap.curr_allocated"), cur0);
	assert_int_equal(heap_stat(s->pop, "stats.heap.run_allocated"), run0);
	/* read-only, and only those three */
	assert_int_equal(pmemobj_ctl_set(s->pop, "stats.heap.curr_allocated",
					 &v),
			 -1);
	assert_int_equal(pmemobj_ctl_get(s->pop, "stats.heap.other", &v), -1);
	assert_int_equal(errno, ENOTSUP);
	assert_int_equal(pmemobj_ctl_get(NULL, "stats.heap.run_active", &v),
			 -1);
	assert_int_equal(errno, EINVAL);
}

static void test_persist_calls(void **st)
{
	struct state *s = *st;
	uint64_t *w = D_RW(s->root)->words;
	char src[64];

	memset(src, 'z', sizeof(src));
	uint64_t f0 = fences();
	pmemobj_memcpy_persist(s->pop, w, src, 64);
	assert_true(fences() > f0);
	assert_memory_equal(w, src, 64);
	pmemobj_memset_persist(s->pop, w, 0, 64);
	assert_int_equal(w[3], 0);
	f0 = fences();
	pmemobj_memcpy(s->pop, w, src, 64, PMEMOBJ_F_MEM_NODRAIN);
	pmemobj_memset(s->pop, w + 8, 1, 8, PMEMOBJ_F_MEM_NOFLUSH);
	pmemobj_memmove(s->pop, w + 16, w, 64, PMEMOBJ_F_MEM_NODRAIN);
	assert_int_equal(fences(), f0); /* not drained */
	pmemobj_drain(s->pop);
	assert_int_equal(pmemobj_xpersist(s->pop, w, 8, PMEMOBJ_F_RELAXED), 0);
	assert_int_equal(pmemobj_xpersist(s->pop, w, 8, 0x4000), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(pmemobj_xflush(s->pop, w, 8, 0), 0);
	pmemobj_flush(s->pop, w, 8);
	pmemobj_drain(s->pop);
}

static void test_versions(void **st)
{
	struct state *s = *st;
	struct pobj_defrag_result res = {1, 1};

	assert_null(pmemobj_check_version(PMEMOBJ_MAJOR_VERSION,
					  PMEMOBJ_MINOR_VERSION));
	assert_non_null(pmemobj_check_version(PMEMOBJ_MAJOR_VERSION + 1, 0));
	assert_non_null(pmemobj_check_version(PMEMOBJ_MAJOR_VERSION,
					      PMEMOBJ_MINOR_VERSION + 1));
	assert_int_equal(pmemobj_defrag(s->pop, NULL, 0, &res), 0);
	assert_int_equal(res.total + res.relocated, 0);
	pmemobj_set_user_data(s->pop, s);
	assert_ptr_equal(pmemobj_get_user_data(s->pop), s);
}

/*
 * pmemobj_defrag: objects of sparse runs move, every handle named (one in
 * the pool, the others in volatile memory) follows them, their contents
 * and types come along; bad handles are refused before anything moves
 */
static void test_defrag_moves_named_objects(void **st)
{
	struct state *s = *st;
	enum { N = 1024 }; /* 1 KiB each: about four runs */
	PMEMoid *o = calloc(N, sizeof(*o)), *pv[N / 4 + 1];
	struct pobj_defrag_result res = {0, 0};
	size_t n = 0;

	assert_non_null(o);
	for (size_t i = 0; i < N; i++) {
		assert_int_equal(
		    pmemobj_alloc(s->pop, &o[i], 1024, 5, NULL, NULL), 0);
		*(uint64_t *)pmemobj_direct(o[i]) = i;
	}
	/* three of four freed: every run a quarter full */
	for (size_t i = 0; i < N; i++)
		if (i % 4)
			pmemobj_free(&o[i]);
	TX_BEGIN(s->pop) {
		TX_SET(s->root, oid, o[0]);
	} TX_END
	for (size_t i = 0; i < N; i += 4)
		pv[n++] = &o[i];
	pv[n++] = &D_RW(s->root)->oid;

	/* refused: a NULL handle, another pool's object, in a transaction */
	PMEMoid *bad[] = {pv[0], NULL};
	assert_int_equal(pmemobj_defrag(s->pop, bad, 2, &res), -1);
	assert_int_equal(errno, EINVAL);
	PMEMoid alien = o[0];
	alien.pool_uuid_lo ^= 1;
	bad[1] = &alien;
	assert_int_equal(pmemobj_defrag(s->pop, bad, 2, &res), -1);
	assert_int_equal(errno, EINVAL);
	volatile int in_tx = 0;
	TX_BEGIN(s->pop) {
		in_tx = pmemobj_defrag(s->pop, pv, n, &res) == -1 &&
			errno == EBUSY;
	} TX_END
	assert_true(in_tx);
	for (size_t i = 0; i < N; i += 4)
		assert_int_equal(*(uint64_t *)pmemobj_direct(o[i]), i);

	assert_int_equal(pmemobj_defrag(s->pop, pv, n, &res), 0);
	assert_int_equal(res.total, N / 4);
	assert_true(res.relocated > 0);
	for (size_t i = 0; i < N; i += 4) {
		assert_int_equal(*(uint64_t *)pmemobj_direct(o[i]), i);
		assert_int_equal(pmemobj_type_num(o[i]), 5);
	}
	/* the handle in the pool was rewritten as the volatile one */
	assert_true(OID_EQUALS(D_RO(s->root)->oid, o[0]));
	reopen(s);
	assert_int_equal(*(uint64_t *)pmemobj_direct(D_RO(s->root)->oid), 0);
	assert_int_equal(count_objects(s->pop), N / 4);
	free(o);
}

#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "direct-fresh") == 0)
		return direct_fresh_main();
	const struct CMUnitTest tests[] = {
		T(test_open_checks_layout),
		T(test_create_refuses_existing_and_small),
		T(test_create_size0_failure_keeps_file),
		T(test_root_is_zeroed_and_stable),
		T(test_root_size_zero_without_root_is_einval),
		T(test_direct_oid_and_pool_lookups),
		T(test_direct_without_pool_is_null),
		T(test_copy_of_open_pool_is_refused),
		T(test_tx_commit_keeps_abort_restores),
		T(test_tx_stages_in_order),
		T(test_tx_nested_abort_aborts_all),
		T(test_tx_nested_commit_is_the_outermost),
		T(test_tx_callback_outermost_only),
		T(test_tx_functions_without_jmp_buf),
		T(test_tx_failure_behavior_return),
		T(test_tx_begin_in_a_clause_is_refused),
		T(test_tx_nested_other_pool_aborts),
		T(test_tx_add_same_range_costs_once),
		T(test_tx_no_snapshot_range_stays_covered),
		T(test_tx_many_ranges_roll_back),
		T(test_tx_alloc_free_realloc),
		T(test_tx_new_object_type_and_size),
		T(test_tx_alloc_no_abort_keeps_the_transaction),
		T(test_tx_lock_params),
		T(test_tx_log_tuning_calls),
		T(test_tx_killed_is_rolled_back),
		T(test_atomic_alloc_publishes_into_pool),
		T(test_atomic_zalloc_realloc_strdup),
		T(test_atomic_calls_inside_a_transaction),
		T(test_constructor_persist_is_free),
		T(test_layout_type_numbers),
		T(test_foreach_by_type),
		T(test_action_publish_and_cancel),
		T(test_action_unpublished_is_gone_after_reopen),
		T(test_action_publish_many_tables),
		T(test_action_tx_publish),
		T(test_action_tx_publish_threads_exit),
		T(test_action_bad_action_publishes_nothing),
		T(test_action_cancel_after_publish_is_harmless),
		T(test_action_unpublished_is_not_freed),
		T(test_action_many_in_any_order),
		T(test_action_walk_while_publishing),
		T(test_action_walk_never_shows_a_reservation),
		T(test_lists),
		T(test_locks_free_again_after_reopen),
		T(test_cond_wait_and_timedwait),
		T(test_volatile_once_per_open),
		T(test_volatile_constructor_may_call_the_layer),
		T(test_ctl_alloc_class_exact_size),
		T(test_ctl_names_that_hold_as_they_are),
		T(test_ctl_heap_stats),
		T(test_persist_calls),
		T(test_versions),
		T(test_defrag_moves_named_objects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
