/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_sim.c -- the crash simulator's model, and its public API.
 *
 * Model: an unflushed store is not durable but may persist; a flushed line
 * is durable at the next fence with the contents it had when flushed; a
 * crash image takes each differing word old or new, depending on the seed.
 * API: an application protocol (data, then a valid flag) is crash-tested
 * through daxo_crashsim_run; its correct form passes, the form without the
 * fence between data and flag is reported with the fence's source line.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "sim.h"
#include "persist.h"
#include "pool.h"

#include "../unit/test_common.h"

#define POOL_SIZE (8ull << 20)

static char path[256];

/* what the fence hook saw */
static struct {
	uint64_t k;
	char site[128];
	uint64_t img_old, img_new; /* the word in DURABLE / ALL images */
	uint64_t off;		   /* pool offset of the word under test */
	uint8_t *img;
} seen;

static uint64_t img_word(struct sim *s, enum sim_img_mode m, uint64_t seed)
{
	uint64_t v;

	sim_build_image(s, seen.img, m, 0.5, seed);
	memcpy(&v, seen.img + seen.off, 8);
	return v;
}

static void hook(struct sim *s, uint64_t k, const char *site, void *arg)
{
	seen.k = k;
	snprintf(seen.site, sizeof(seen.site), "%s", site);
	assert_int_equal(sim_prepare(s), 0);
	seen.img_old = img_word(s, SIM_IMG_DURABLE, 1);
	seen.img_new = img_word(s, SIM_IMG_ALL, 1);
}

struct flusher {
	struct persist *ps;
	uint64_t *w;
	uint64_t v;
};

/* flusher -- another thread stores and flushes, and never fences */
static void *flusher(void *arg)
{
	struct flusher *f = arg;

	*f->w = f->v;
	persist_flush(f->ps, f->w, 8);
	*f->w = 33; /* the live value stays what it was */
	return NULL;
}

static void test_model_durability_rules(void **state)
{
	daxo_pool *p;
	daxo_oid root;
	uint64_t *w;
	struct sim *s;
	struct persist *ps;

	unlink(path);
	assert_int_equal(daxo_create(path, "sim", POOL_SIZE, 0600, &p), 0);
	assert_int_equal(daxo_root(p, 128, &root), 0);
	w = daxo_direct(p, root);
	seen.img = malloc(POOL_SIZE);
	assert_non_null(seen.img);
	ps = persist_of(p);
	s = sim_attach(p, hook, NULL);
	assert_non_null(s);
	seen.off = daxo_oid_of(p, w);

	/* an unflushed store: not durable, but it may persist */
	*w = 11;
	persist_drain(ps);
	assert_int_equal(seen.k, 1);
	assert_non_null(strstr(seen.site, "test_sim.c:"));
	assert_int_equal(seen.img_old, 0);
	assert_int_equal(seen.img_new, 11);

	/* flushed: not durable before its fence, durable after it */
	persist_flush(ps, w, 8);
	persist_drain(ps);
	assert_int_equal(seen.img_old, 0);
	persist_drain(ps);
	assert_int_equal(seen.k, 3);
	assert_int_equal(seen.img_old, 11);

	/* flushed, then stored again: the flushed contents become durable */
	*w = 22;
	persist_flush(ps, w, 8);
	*w = 33;
	persist_drain(ps);
	persist_drain(ps);
	assert_int_equal(seen.img_old, 22);
	assert_int_equal(seen.img_new, 33);

	/* random images: over seeds, both the old and the new value occur */
	{
		bool old = false, nw = false;
		assert_int_equal(sim_prepare(s), 0);
		for (uint64_t seed = 1; seed < 64; seed++) {
			uint64_t v = img_word(s, SIM_IMG_WORDS, seed);
			assert_true(v == 22 || v == 33);
			old |= v == 22;
			nw |= v == 33;
		}
		assert_true(old && nw);
		/* same seed, same image */
		assert_int_equal(img_word(s, SIM_IMG_WORDS, 5),
				 img_word(s, SIM_IMG_WORDS, 5));
	}
	assert_int_equal(sim_fences(s), 5);

	/* a fence orders only its own thread's flushes */
	{
		pthread_t th;
		struct flusher f = {ps, w, 44};
		assert_int_equal(pthread_create(&th, NULL, flusher, &f), 0);
		pthread_join(th, NULL);
		persist_drain(ps); /* this thread's fence: 44 not durable */
		assert_int_equal(seen.img_old, 22);
		persist_drain(ps);
		assert_int_equal(seen.img_old, 22);
		/* but it may persist */
		{
			bool f44 = false;
			assert_int_equal(sim_prepare(s), 0);
			for (uint64_t seed = 1; seed < 64; seed++)
				f44 |= img_word(s, SIM_IMG_WORDS, seed) == 44;
			assert_true(f44);
		}
		/* newer data fenced here supersedes the other thread's flush */
		*w = 55;
		persist_flush(ps, w, 8);
		persist_drain(ps);
		persist_drain(ps);
		assert_int_equal(seen.img_old, 55);
		assert_int_equal(sim_prepare(s), 0);
		for (uint64_t seed = 1; seed < 32; seed++)
			assert_int_equal(img_word(s, SIM_IMG_WORDS, seed), 55);
		assert_int_equal(img_word(s, SIM_IMG_LINES, 3), 55);
	}
	sim_detach(s);
	free(seen.img);
	daxo_close(p);
	unlink(path);
}

/* ---- an application protocol through the public API ---- */

struct app {
	bool buggy;
	daxo_oid root;
	uint64_t done;
};

struct rec {
	uint64_t data[8]; /* one line */
	uint64_t pad[8];
	uint64_t valid; /* another line: the number of complete records */
};

static int app_setup(daxo_pool *p, void *arg)
{
	struct app *a = arg;

	return daxo_root(p, sizeof(struct rec), &a->root);
}

static int app_run(daxo_pool *p, void *arg)
{
	struct app *a = arg;
	struct rec *r = daxo_direct(p, a->root);

	for (uint64_t i = 1; i <= 30; i++) {
		for (int j = 0; j < 8; j++)
			r->data[j] = i;
		daxo_flush(p, r->data, sizeof(r->data));
		if (!a->buggy)
			daxo_drain(p); /* data durable before the flag */
		r->valid = i;
		daxo_persist(p, &r->valid, 8);
		a->done = i;
	}
	return 0;
}

static int app_check(daxo_pool *p, void *arg, char *msg, size_t len)
{
	struct app *a = arg;
	struct rec *r = daxo_direct(p, a->root);

	if (r->valid < a->done) {
		snprintf(msg, len, "valid %llu < done %llu",
			 (unsigned long long)r->valid,
			 (unsigned long long)a->done);
		return 1;
	}
	for (int j = 0; j < 8; j++)
		if (r->data[j] < r->valid) {
			snprintf(msg, len,
				 "record %llu marked valid but word "
				 "%d = %llu",
				 (unsigned long long)r->valid, j,
				 (unsigned long long)r->data[j]);
			return 1;
		}
	return 0;
}

static void run_app(bool buggy, int expect)
{
	struct app a = {.buggy = buggy};
	struct daxo_crashsim_workload w = {"app", app_setup, app_run, app_check,
					   &a};
	struct daxo_crashsim_opts o;
	struct daxo_crashsim_report rep;

	memset(&o, 0, sizeof(o));
	o.seed = 42;
	unlink(path);
	assert_int_equal(daxo_crashsim_run(path, &w, &o, &rep), expect);
	/* one fence per record (two without the bug), and maybe a few
	 * more where daxo_persist first makes older transactions final */
	assert_true(rep.fences >= (buggy ? 30u : 60u));
	assert_true(rep.fences <= (buggy ? 34u : 64u));
	assert_int_equal(rep.points, rep.fences + 1);
	if (expect) {
		assert_true(rep.failures > 0);
		assert_string_equal(rep.fail[0].stage, "invariant");
		assert_non_null(strstr(rep.fail[0].site, ".c:"));
		assert_int_equal(rep.fail[0].seed, 42);
	} else {
		assert_int_equal(rep.failures, 0);
	}
	/* the scratch files are gone */
	assert_int_not_equal(access(path, F_OK), 0);
}

static void test_api_correct_protocol_passes(void **state)
{
	run_app(false, 0);
}

static void test_api_missing_fence_is_reported(void **state)
{
	run_app(true, 1);
}

static void test_api_sample_and_point(void **state)
{
	struct app a = {.buggy = true};
	struct daxo_crashsim_workload w = {"app", app_setup, app_run, app_check,
					   &a};
	struct daxo_crashsim_opts o;
	struct daxo_crashsim_report rep, one;

	memset(&o, 0, sizeof(o));
	o.seed = 42;
	o.sample = 10;
	o.images = 2;
	unlink(path);
	assert_true(daxo_crashsim_run(path, &w, &o, &rep) >= 0);
	assert_true(rep.fences >= 30);
	assert_int_equal(rep.points, 10);
	assert_int_equal(rep.images, 20);

	/* a failure is reproduced from its point and seed alone */
	memset(&o, 0, sizeof(o));
	o.seed = 42;
	unlink(path);
	assert_int_equal(daxo_crashsim_run(path, &w, &o, &rep), 1);
	o.point = rep.fail[0].point;
	o.flags = DAXO_CRASHSIM_KEEP_FAILED | DAXO_CRASHSIM_STOP_FIRST;
	assert_int_equal(daxo_crashsim_run(path, &w, &o, &one), 1);
	assert_int_equal(one.points, 1);
	assert_int_equal(one.fail[0].point, rep.fail[0].point);
	assert_int_equal(one.fail[0].image, rep.fail[0].image);
	assert_string_equal(one.fail[0].msg, rep.fail[0].msg);
	assert_string_equal(one.fail[0].site, rep.fail[0].site);
	/* the failing image was kept, unrecovered */
	{
		char kept[300];
		snprintf(kept, sizeof(kept), "%s.fail-%llu-%u", path,
			 (unsigned long long)one.fail[0].point,
			 one.fail[0].image);
		assert_int_equal(access(kept, F_OK), 0);
		unlink(kept);
	}
}

/*
 * A keyed-store workload whose fences depend on the store's hash seed
 * (chosen at random when the store is made, inside run()): it puts keys,
 * reads back the order daxo_foreach visits them in (the order of their
 * buckets) and issues between 0 and 15 more fences according to it. The
 * simulator's two passes must choose the same seed, or they issue
 * different fences and the run is refused (-EPROTO); with seeds drawn
 * afresh in each pass, 15 of 16 runs of this workload are.
 */
static int order_cb(const void *key, size_t klen, const void *val,
		    size_t vlen, void *arg)
{
	uint64_t *h = arg;

	(void)val;
	(void)vlen;
	for (size_t i = 0; i < klen; i++)
		*h = (*h ^ ((const unsigned char *)key)[i]) * 0x100000001b3ull;
	return 0;
}

static int kvorder_run(daxo_pool *p, void *arg)
{
	struct app *a = arg;
	uint64_t h = 0xcbf29ce484222325ull;
	char k[16];
	int r;

	for (int i = 0; i < 24; i++) {
		snprintf(k, sizeof(k), "key%d", i);
		r = daxo_put(p, k, strlen(k), k, strlen(k));
		if (r)
			return r;
	}
	r = daxo_foreach(p, order_cb, &h);
	if (r)
		return r;
	a->done = h;
	for (uint64_t i = 0; i < (h >> 60); i++)
		daxo_drain(p);
	return 0;
}

static int kvorder_check(daxo_pool *p, void *arg, char *msg, size_t len)
{
	(void)p;
	(void)arg;
	(void)msg;
	(void)len;
	return 0;
}

static void test_api_keyed_store_repeats(void **state)
{
	struct app a = {0};
	struct daxo_crashsim_workload w = {"kvorder", NULL, kvorder_run,
					   kvorder_check, &a};
	struct daxo_crashsim_opts o;
	struct daxo_crashsim_report rep;

	(void)state;
	for (uint64_t seed = 1; seed <= 4; seed++) {
		memset(&o, 0, sizeof(o));
		o.seed = seed;
		o.sample = 2;
		o.images = 1;
		unlink(path);
		assert_int_equal(daxo_crashsim_run(path, &w, &o, &rep), 0);
		assert_true(rep.fences >= 24);
	}
}

static void test_api_rejects_bad_arguments(void **state)
{
	struct daxo_crashsim_report rep;
	struct daxo_crashsim_workload w = {0};

	assert_int_equal(daxo_crashsim_run(path, &w, NULL, &rep), -EINVAL);
	assert_int_equal(daxo_crashsim_run(NULL, &w, NULL, &rep), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_model_durability_rules),
	    cmocka_unit_test(test_api_correct_protocol_passes),
	    cmocka_unit_test(test_api_missing_fence_is_reported),
	    cmocka_unit_test(test_api_sample_and_point),
	    cmocka_unit_test(test_api_keyed_store_repeats),
	    cmocka_unit_test(test_api_rejects_bad_arguments),
	};

	setenv("PMEM_IS_PMEM_FORCE", "1", 0);
	test_path(path, sizeof(path), "daxo-sim-test-%d", (int)getpid());
	return cmocka_run_group_tests_name("sim", tests, NULL, NULL);
}
