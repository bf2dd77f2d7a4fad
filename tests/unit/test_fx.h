/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_fx.h -- a cmocka fixture for tests of one pool each: a unique path
 * (test_common.h) and the handle, closed and removed at teardown.
 */
#ifndef DAXO_TEST_FX_H
#define DAXO_TEST_FX_H 1

#include "daxo.h"
#include "test_common.h"

/* a test's pool: its path and handle (cmocka state) */
struct test_fx {
	char path[160];
	daxo_pool *p;
};

/* test_fx_new -- a fixture with a path of its own for @tag, no pool yet */
static inline struct test_fx *test_fx_new(const char *tag)
{
	static unsigned n;
	struct test_fx *f = calloc(1, sizeof(*f));
	char t[64];

	if (!f)
		return NULL;
	test_env();
	snprintf(t, sizeof(t), "%s-%u", tag, n++);
	snprintf(f->path, sizeof(f->path), "%s", test_pool_path(t));
	return f;
}

/* test_fx_teardown -- cmocka teardown: close the pool, remove its file */
static inline int test_fx_teardown(void **state)
{
	struct test_fx *f = *state;

	if (f->p)
		daxo_close(f->p);
	unlink(f->path);
	free(f);
	return 0;
}

#endif
