/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_kv_crashsim.c -- the keyed store under the crash simulator
 * (daxo_crashsim.h): a deterministic sequence of puts (new keys, enough to
 * start a resize and migrate buckets; replaces with small and large values)
 * and deletes is crashed at a seeded sample of its fences, each crash image
 * recovered, and the invariant checked on it:
 *
 *   every acknowledged put and del is there; the one in flight is either
 *   before or after; values are never torn; the number of entry objects
 *   equals the number of keys (no leak, no ghost).
 *
 * DAXO_TEST_SEED=N repeats a run; KV_SIM_SAMPLE=N tests N crash points
 * (default 150; 0 = every fence); KV_SIM_POINT=K only crash point K.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daxo.h"
#include "daxo_crashsim.h"

#include "../unit/test_common.h"

#define NKEYS	      320 /* > 256: the table grows once, buckets migrate */
#define NOPS	      700
#define KV_TYPE_ENTRY 0xffffff03u /* doc/kv-format.md */

struct state {
	uint64_t ver[NKEYS]; /* acknowledged: 0 absent, else the version */
	bool inflight;
	uint32_t fkey; /* the operation in flight */
	uint64_t fver; /* its version (0: a del) */
	uint64_t rng;
	uint64_t seed;
};

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static size_t make_val(char *buf, uint32_t key, uint64_t ver)
{
	int n = snprintf(buf, 48, "k%u:v%" PRIu64 ":", key, ver);
	size_t len =
	    (key * 7 + ver * 13) % 11 == 0 ? 3000 : (size_t)n + ver % 90;

	for (size_t i = (size_t)n; i < len; i++)
		buf[i] = (char)('A' + (key + ver + i) % 26);
	return len;
}

static int run(daxo_pool *p, void *arg)
{
	struct state *s = arg;
	char k[16], v[3100];
	int r;

	/* run() runs twice (counting pass, crash pass): start over each time */
	memset(s->ver, 0, sizeof(s->ver));
	s->inflight = false;
	s->rng = s->seed;
	for (uint64_t op = 1; op <= NOPS; op++) {
		/* first insert every key (growing the table), then mix */
		uint32_t key = op <= NKEYS ? (uint32_t)(op - 1)
					   : (uint32_t)(rnd(&s->rng) % NKEYS);
		bool del = op > NKEYS && rnd(&s->rng) % 4 == 0;
		snprintf(k, sizeof(k), "key%u", key);
		s->fkey = key;
		s->fver = del ? 0 : op;
		s->inflight = true;
		if (del) {
			r = daxo_del(p, k, strlen(k));
			if (r == -ENOENT)
				r = 0;
		} else {
			r = daxo_put(p, k, strlen(k), v, make_val(v, key, op));
		}
		if (r)
			return r;
		s->ver[key] = s->fver;
		s->inflight = false;
	}
	return 0;
}

static char why[160];

/* version stored under @key: 0 absent, UINT64_MAX malformed (see why) */
static uint64_t observe(daxo_pool *p, uint32_t key)
{
	char k[16], buf[3100], ref[3100];
	size_t got = 0;
	unsigned kk;
	uint64_t ver;
	int r;

	snprintf(k, sizeof(k), "key%u", key);
	r = daxo_get(p, k, strlen(k), buf, sizeof(buf) - 1, &got);
	if (r == -ENOENT)
		return 0;
	if (r) {
		snprintf(why, sizeof(why), "get: %d %s", r, daxo_errormsg());
		return UINT64_MAX;
	}
	buf[got] = 0;
	if (sscanf(buf, "k%u:v%" SCNu64 ":", &kk, &ver) != 2 || kk != key ||
	    make_val(ref, key, ver) != got || memcmp(ref, buf, got) != 0) {
		snprintf(why, sizeof(why), "torn value of %zu bytes: %.40s",
			 got, buf);
		return UINT64_MAX;
	}
	return ver;
}

static int check(daxo_pool *p, void *arg, char *msg, size_t len)
{
	struct state *s = arg;
	uint64_t present = 0, entries = 0, objects = 0;

	for (uint32_t key = 0; key < NKEYS; key++) {
		uint64_t got = observe(p, key);
		bool ok = got == s->ver[key] ||
			  (s->inflight && key == s->fkey && got == s->fver);
		if (!ok) {
			snprintf(msg, len,
				 "key %u: found v%" PRIu64
				 ", acknowledged v%" PRIu64 "%s %s",
				 key, got, s->ver[key],
				 s->inflight && key == s->fkey ? " (in flight)"
							       : "",
				 got == UINT64_MAX ? why : "");
			return 1;
		}
		present += got != 0;
	}
	for (daxo_oid o = daxo_first(p, DAXO_TYPE_ANY); o;
	     o = daxo_next(p, o, DAXO_TYPE_ANY)) {
		objects++;
		entries += daxo_oid_type(p, o) == KV_TYPE_ENTRY;
	}
	/* besides entries: anchor, table, and an old or a next table (or
	 * nothing at all before the first put created the store) */
	if (entries != present ||
	    (objects && (objects - entries < 2 || objects - entries > 3))) {
		snprintf(msg, len,
			 "%" PRIu64 " entry objects for %" PRIu64
			 " keys, %" PRIu64 " objects (leak or ghost)",
			 entries, present, objects);
		return 1;
	}
	return 0;
}

static void on_failure(const struct daxo_crashsim_failure *f, void *cbarg)
{
	(void)cbarg;
	fprintf(stderr,
		"FAIL: point %" PRIu64 " image %u seed %" PRIu64
		" at %s, %s: %s\n",
		f->point, f->image, f->seed, f->site, f->stage, f->msg);
}

int main(void)
{
	const char *s = getenv("DAXO_TEST_SEED");
	const char *smp = getenv("KV_SIM_SAMPLE");
	struct state st = {0};
	struct daxo_crashsim_workload w = {
	    .name = "kv",
	    .run = run,
	    .check = check,
	    .arg = &st,
	};
	struct daxo_crashsim_opts o = {0};
	struct daxo_crashsim_report rep;
	char path[128];
	int r;

	o.seed = s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL);
	o.sample = smp ? strtoull(smp, NULL, 0) : 150;
	if (getenv("KV_SIM_POINT")) /* repeat one crash point */
		o.point = strtoull(getenv("KV_SIM_POINT"), NULL, 0);
	o.images = 3;
	o.pool_size = 16ull << 20;
	o.on_failure = on_failure;
	st.seed = o.seed | 1;
	test_path(path, sizeof(path), "daxo-kv-crashsim-%d.pool", (int)getpid());
	unlink(path);
	printf("# test_kv_crashsim: seed %" PRIu64 " (DAXO_TEST_SEED)\n",
	       o.seed);
	r = daxo_crashsim_run(path, &w, &o, &rep);
	if (r < 0) {
		fprintf(stderr, "crashsim: %s\n", daxo_errormsg());
		return 1;
	}
	printf("# %" PRIu64 " fences, %" PRIu64 " points, %" PRIu64
	       " images, %" PRIu64 " failures\n",
	       rep.fences, rep.points, rep.images, rep.failures);
	if (r)
		fprintf(stderr, "FAILED: seed %" PRIu64 "\n", o.seed);
	return r ? 1 : 0;
}
