/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_crash.c -- exhaustive crash-point runs of the built-in workloads.
 *
 * Built twice from this file (tests/meson.build):
 *  - against the correct library (libdaxo_crashsim): every crash image of
 *    every fence of a few hundred operations must recover and pass both
 *    daxo_check and the workload's invariant;
 *  - against each planted-bug variant (libdaxo_crashsim_plant_*, built with
 *    -DDAXO_PLANT_<NAME>) with -DPLANTED: the simulator must report the bug.
 *    A simulator that lets a planted bug pass fails this test.
 *
 * argv[1] names the workload, argv[2] (optional) the operation count;
 * argv[3] "1.0" runs it on pools of format 1.0 (4 redo slots per lane,
 * where the watermark is needed every other commit) instead of 1.3;
 * "csum" on pools with value checksums (DAXO_CREATE_CHECKSUMS).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "pool.h"
#include "workloads.h"

#include "../unit/test_common.h"

static const char *wl_name;
static unsigned wl_ops = 150;

static void show(const struct daxo_crashsim_failure *f, void *arg)
{
	static unsigned shown;

	if (shown++ < 3)
		printf(
		    "# crash point %llu image %u (seed %llu) at %s: %s: %s\n",
		    (unsigned long long)f->point, f->image,
		    (unsigned long long)f->seed, f->site, f->stage, f->msg);
}

static int run(unsigned images, uint64_t seed, unsigned flags,
	       struct daxo_crashsim_report *rep)
{
	const struct crashsim_builtin *b = crashsim_builtin_find(wl_name);
	struct daxo_crashsim_workload w;
	struct daxo_crashsim_opts o;
	char path[256];
	void *state;
	int r;

	assert_non_null(b);
	assert_int_equal(b->make(wl_ops, &w, &state), 0);
	memset(&o, 0, sizeof(o));
	o.seed = seed;
	o.images = images;
	o.flags = flags;
	o.on_failure = show;
	test_path(path, sizeof(path), "daxo-crash-test-%s-%d", wl_name,
		  (int)getpid());
	r = daxo_crashsim_run(path, &w, &o, rep);
	free(state);
	if (r < 0)
		printf("# %s\n", daxo_errormsg());
	printf("# %s: %u ops, %llu fences, %llu points, %llu images, %llu "
	       "failures\n",
	       wl_name, wl_ops, (unsigned long long)rep->fences,
	       (unsigned long long)rep->points, (unsigned long long)rep->images,
	       (unsigned long long)rep->failures);
	return r;
}

#ifndef PLANTED
/* every fence, two images each (one seeded per-word, one durable-only) */
static void test_workload_survives_every_crash_point(void **state)
{
	struct daxo_crashsim_report rep;

	assert_int_equal(run(2, 1, 0, &rep), 0);
	assert_int_equal(rep.failures, 0);
	assert_true(rep.fences >= wl_ops);
	/* every fence and the end of the run were tested */
	assert_int_equal(rep.points, rep.fences + 1);
	assert_int_equal(rep.images, 2 * rep.points);
}
#else
static void test_planted_bug_is_reported(void **state)
{
	struct daxo_crashsim_report rep;

	assert_int_equal(run(4, 1, 0, &rep), 1);
	assert_true(rep.failures > 0);
	assert_true(rep.nrecorded > 0);
	/* the report names the fence's source line */
	assert_non_null(strchr(rep.fail[0].site, ':'));
}
#endif

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
#ifndef PLANTED
	    cmocka_unit_test(test_workload_survives_every_crash_point),
#else
	    cmocka_unit_test(test_planted_bug_is_reported),
#endif
	};

	if (argc < 2 || !crashsim_builtin_find(argv[1])) {
		fprintf(stderr, "usage: %s WORKLOAD [OPS [1.0|csum]]\n",
			argv[0]);
		return 2;
	}
	wl_name = argv[1];
	if (argc > 2)
		wl_ops = (unsigned)atoi(argv[2]);
	if (argc > 3 && strcmp(argv[3], "1.0") == 0)
		pool_create_minor = 0;
	if (argc > 3 && strcmp(argv[3], "csum") == 0)
		pool_create_flags = DAXO_CREATE_CHECKSUMS;
	setenv("PMEM_IS_PMEM_FORCE", "1", 0);
	return cmocka_run_group_tests_name(wl_name, tests, NULL, NULL);
}
