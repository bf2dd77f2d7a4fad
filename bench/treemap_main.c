/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * treemap_main.c -- daxo-treemap: PMDK's map examples on libpmemobj, the
 * same code on daxo's compatibility layer, and ports to daxo's native API,
 * in one run.
 *
 * The libraries of a row: "pmemobj" -- PMDK's map/ examples (map.c over
 * tree_map/, list_map/, hashmap/) compiled unchanged against the system
 * libpmemobj; "daxo-pmemobj" -- the same sources compiled against
 * libdaxo-pmemobj, daxo's libpmemobj layer; "daxo" -- the hand ports to the
 * native API, where there is one (btree: examples/btree_map.c; rbtree,
 * ctree: bench/tree_map/). The two libpmemobj-API builds are modules
 * (daxo-treemap-pmemobj.so, daxo-treemap-daxo-pmemobj.so, next to this
 * program or in its install's module directory) loaded with RTLD_LOCAL:
 * this program links neither, so each module's pmemobj_* calls bind to its
 * own library.
 *
 * For each map and library, each on its own pool: create the map, insert
 * --keys distinct keys in a random order (insert_new: a value object
 * holding the key, allocated and linked in one transaction, as PMDK's
 * data_store example does), check the map (a walk in key order sees every
 * key once, ascending, with its value; the hash maps' walk is unordered),
 * look every key up in another order and read its value (checked), remove
 * every key in a third order (remove_free), check that the map is empty,
 * destroy it (the maps the examples cannot destroy -- rtree, the hash maps
 * -- take a new pool each round instead). Each phase is timed and counted (fences and flushed lines per
 * op); a round does this once per library, the libraries interleaved, and
 * the table shows the median of --rounds rounds. One thread: the examples
 * take no locks.
 *
 * Exit status: 0 when every row ran (a failed operation or check is a row
 * error and sets status 1 as well: this program checks the ports and the
 * layer), 2 on a usage error.
 */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "treemap.h"

enum { PH_INSERT, PH_GET, PH_REMOVE, NPHASE };
static const char *const phase_name[NPHASE] = {"insert", "get", "remove"};

#define MAX_ROUNDS 15

struct cfg {
	struct bench_run_cfg run;
	const char *dir;
	const char *maps;
	uint64_t nkeys;
	int rounds;
	bool quick;
	unsigned open_flags; /* TM_PREFAULT */
};

/*
 * A map's walk: every key with its value in ascending key order
 * (WALK_ORDERED), in any order (WALK_KEYS, the hash maps), or only the
 * values (WALK_VALUES: map_rtree's foreach visits inner nodes too, and
 * rebuilds each key from the tree's path into another number, on
 * libpmemobj as on the layer)
 */
enum { WALK_ORDERED, WALK_KEYS, WALK_VALUES };

/*
 * the maps, in table order: the native port of each (or none), what its
 * walk shows, the pool bytes it takes per key (rtree: a 4 KiB node per
 * key and more), and whether each round takes a new pool (maps the
 * examples cannot destroy: the hash maps have no destroy, rtree's crashes)
 */
static const struct {
	const char *name;
	const struct tm_impl *native;
	int walk; /* WALK_* */
	uint64_t bytes_per_key;
	bool new_pool;
} maps[] = {
    {"btree", &tm_daxo_btree, WALK_ORDERED, 512, false},
    {"ctree", &tm_daxo_ctree, WALK_ORDERED, 512, false},
    {"rbtree", &tm_daxo_rbtree, WALK_ORDERED, 512, false},
    {"rtree", NULL, WALK_VALUES, 10240, true},
    {"skiplist", NULL, WALK_ORDERED, 512, false},
    {"hashmap_tx", NULL, WALK_KEYS, 512, true},
    {"hashmap_atomic", NULL, WALK_KEYS, 512, true},
    {"hashmap_rp", NULL, WALK_KEYS, 512, true},
};
#define NMAPS (sizeof(maps) / sizeof(maps[0]))

/* the libpmemobj-API modules, in column order after "daxo" */
#define NMODS 2
static const char *const mod_lib[NMODS] = {"daxo-pmemobj", "pmemobj"};
static const struct tm_impl *mod_impls[NMODS];
#define NLIBS (1 + NMODS)

#ifndef DAXO_TREEMAP_MODDIR
#define DAXO_TREEMAP_MODDIR "."
#endif

/*
 * load_module -- daxo-treemap-LIB.so from this program's directory (a
 * build tree), else from DAXO_TREEMAP_MODDIR (an install); its maps
 */
static const struct tm_impl *load_module(const char *lib)
{
	char self[PATH_MAX], path[PATH_MAX + 64];
	const char *err = "not found";
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	self[n > 0 ? n : 0] = 0;
	char *slash = strrchr(self, '/');

	if (slash)
		*slash = 0;
	const char *dirs[] = {slash ? self : ".", DAXO_TREEMAP_MODDIR};

	for (int d = 0; d < 2; d++) {
		snprintf(path, sizeof(path), "%s/daxo-treemap-%s.so", dirs[d],
			 lib);
		if (access(path, F_OK))
			continue;
		void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
		const struct tm_impl *im = h ? dlsym(h, "tm_lib_impls") : NULL;

		if (im)
			return im;
		err = dlerror();
		break;
	}
	fprintf(stderr, "daxo-treemap: module daxo-treemap-%s.so: %s\n", lib,
		err ? err : "no tm_lib_impls");
	return NULL;
}

/* impl_of -- map @m on library column @L, or NULL */
static const struct tm_impl *impl_of(size_t m, int L)
{
	if (L == 0)
		return maps[m].native;
	for (const struct tm_impl *im = mod_impls[L - 1]; im && im->map; im++)
		if (!strcmp(im->map, maps[m].name))
			return im;
	return NULL;
}

/* fmix64 -- MurmurHash3's finalizer: a bijection with fmix64(0) = 0, so
 * fmix64(1..n) are n distinct non-zero keys (ctree takes no key 0) */
static uint64_t fmix64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ull;
	k ^= k >> 33;
	return k;
}

/* shuffled -- the keys in a random order of its own (@seed) */
static uint64_t *shuffled(const uint64_t *keys, uint64_t n, uint64_t seed)
{
	uint64_t *v = malloc(n * sizeof(*v));

	if (!v)
		return NULL;
	memcpy(v, keys, n * sizeof(*v));
	for (uint64_t i = n - 1; i > 0; i--) {
		uint64_t j = fmix64(++seed) % (i + 1), t = v[i];

		v[i] = v[j];
		v[j] = t;
	}
	return v;
}

/* ---- checks ---- */

struct walk {
	uint64_t n, prev;
	int how; /* WALK_* */
	char err[128];
};

static int walk_cb(uint64_t key, uint64_t val, void *arg)
{
	struct walk *w = arg;

	if (w->how == WALK_VALUES) {
		if (!val)
			return 0; /* an inner node: no value (keys are not 0) */
		key = val; /* a value holds its key */
	}
	if (val != key)
		snprintf(w->err, sizeof(w->err),
			 "key %#" PRIx64 " holds value %#" PRIx64, key, val);
	else if (w->how == WALK_ORDERED && w->n && key <= w->prev)
		snprintf(w->err, sizeof(w->err),
			 "key %#" PRIx64 " after %#" PRIx64 " in the walk", key,
			 w->prev);
	if (w->err[0])
		return 1;
	w->prev = key;
	w->n++;
	return 0;
}

/* check_full -- the walk sees @n keys with their values, as @how says
 * (the keys are distinct: @n of them are all) */
static int check_full(const struct tm_impl *im, void *h, uint64_t n, int how,
		      char *err, size_t errlen)
{
	struct walk w = {0, 0, how, ""};

	im->foreach (h, walk_cb, &w);
	if (w.err[0]) {
		snprintf(err, errlen, "%s %s: %s", im->lib, im->map, w.err);
		return -EIO;
	}
	if (w.n != n) {
		snprintf(err, errlen,
			 "%s %s: %" PRIu64 " keys in the walk, %" PRIu64
			 " inserted",
			 im->lib, im->map, w.n, n);
		return -EIO;
	}
	return 0;
}

/* ---- one round ---- */

struct phase_in {
	const struct tm_impl *im;
	void *h;
	const uint64_t *order;
	uint64_t n;
	int ph;
};

/* run_phase -- @n ops of one phase, timed and counted into @r */
static void run_phase(const struct phase_in *in, struct bench_result *r)
{
	struct bench_counts c0, c1, p0, p1;
	uint64_t t0, cpu0, ns, val;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	in->im->counts(&c0);
	pmem_count_get(&p0);
	cpu0 = bench_cpu_now_ns();
	t0 = bench_now_ns();
	for (uint64_t i = 0; i < in->n && !rc; i++) {
		uint64_t k = in->order[i];

		switch (in->ph) {
		case PH_INSERT:
			rc = in->im->insert(in->h, k);
			break;
		case PH_GET:
			rc = in->im->get(in->h, k, &val);
			if (rc == -ENOENT)
				snprintf(r->err, sizeof(r->err),
					 "get %#" PRIx64 ": not found", k);
			else if (!rc && val != k) {
				snprintf(r->err, sizeof(r->err),
					 "get %#" PRIx64 ": value %#" PRIx64, k,
					 val);
				rc = -EIO;
			}
			break;
		default:
			rc = in->im->remove(in->h, k);
			break;
		}
	}
	ns = bench_now_ns() - t0;
	r->cpu_ns_op = (double)(bench_cpu_now_ns() - cpu0) / (double)in->n;
	in->im->counts(&c1);
	pmem_count_get(&p1);
	if (rc) {
		r->rc = rc;
		if (!r->err[0])
			snprintf(r->err, sizeof(r->err), "%s",
				 in->im->errmsg());
		return;
	}
	r->ops_s = (double)in->n * 1e9 / (double)(ns ? ns : 1);
	r->ns_op = 1e9 / r->ops_s;
	r->fences_op = (double)(c1.fences - c0.fences) / (double)in->n;
	r->lines_op = (double)(c1.lines - c0.lines) / (double)in->n;
	r->pfences_op = (double)(p1.fences - p0.fences) / (double)in->n;
	r->plines_op = (double)(p1.lines - p0.lines) / (double)in->n;
}

/* round -- create, the three phases with their checks, destroy; @res gets
 * one result per phase */
static int round_once(const struct tm_impl *im, void *h, int how,
		      const uint64_t *ord[], uint64_t n,
		      struct bench_result res[NPHASE])
{
	struct phase_in in = {im, h, NULL, n, 0};
	char err[256] = "";
	int rc = im->create(h), ph;

	for (ph = 0; ph < NPHASE; ph++)
		memset(&res[ph], 0, sizeof(res[ph]));
	if (rc) {
		snprintf(err, sizeof(err), "create: %s", im->errmsg());
		ph = 0;
		goto fail;
	}
	for (ph = 0; ph < NPHASE; ph++) {
		in.order = ord[ph];
		in.ph = ph;
		run_phase(&in, &res[ph]);
		rc = res[ph].rc;
		if (rc) {
			snprintf(err, sizeof(err), "%s", res[ph].err);
			goto fail;
		}
		if (ph == PH_INSERT)
			rc = check_full(im, h, n, how, err, sizeof(err));
		else if (ph == PH_REMOVE && !im->is_empty(h)) {
			snprintf(err, sizeof(err),
				 "%s %s: not empty after "
				 "every key was removed",
				 im->lib, im->map);
			rc = -EIO;
		}
		if (rc)
			goto fail;
	}
	rc = im->destroy(h);
	if (!rc)
		return 0;
	snprintf(err, sizeof(err), "destroy: %s", im->errmsg());
	ph = NPHASE - 1;
fail:
	for (int k = ph; k < NPHASE; k++) {
		res[k].rc = rc ? rc : -EIO;
		snprintf(res[k].err, sizeof(res[k].err), "%s", err);
	}
	return res[ph].rc;
}

/* pool_size -- for map @m: its nodes, values and their headers, twice */
static uint64_t pool_size(const struct cfg *c, size_t m)
{
	return c->nkeys * maps[m].bytes_per_key + (64ull << 20);
}

/* reopen -- a new pool for the next round of a map that stays in its
 * pool (maps[].new_pool); 0, or -1 after saying why */
static int reopen(const struct tm_impl *im, void **h, const struct cfg *c)
{
	char err[256] = "";
	size_t m = 0;

	while (m < NMAPS && strcmp(maps[m].name, im->map))
		m++;
	im->close(*h);
	*h = NULL;
	if (!im->open(h, c->dir, pool_size(c, m), c->open_flags, err,
		     sizeof(err)))
		return 0;
	fprintf(stderr, "daxo-treemap: %s: %s\n", im->lib, err);
	return -1;
}

/* ---- options, output ---- */

/* print_layer_ratio -- the same example code on the layer against
 * libpmemobj: how many times faster (wall, cpu) */
static void print_layer_ratio(const struct bench_lib *const *libv,
			      const struct bench_result *res, int n)
{
	const struct bench_result *lay = NULL, *obj = NULL;

	for (int k = 0; k < n; k++) {
		if (res[k].rc || res[k].ops_s <= 0 || res[k].cpu_ns_op <= 0)
			continue;
		if (!strcmp(libv[k]->name, "daxo-pmemobj"))
			lay = &res[k];
		else if (!strcmp(libv[k]->name, "pmemobj"))
			obj = &res[k];
	}
	if (lay && obj)
		printf("%-15s %3s  layer/pmemobj %.2fx wall, %.2fx cpu\n", "",
		       "", lay->ops_s / obj->ops_s,
		       obj->cpu_ns_op / lay->cpu_ns_op);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: daxo-treemap [options]\n"
		"  --pool-dir DIR    where the pools go (default\n"
		"                    $DAXO_TEST_DIR, else /dev/shm)\n"
		"  --maps LIST       of btree,ctree,rbtree,rtree,skiplist,\n"
		"                    hashmap_tx,hashmap_atomic,hashmap_rp\n"
		"                    (default all but skiplist, whose ops\n"
		"                    take time linear in --keys)\n"
		"  --keys N          keys per round (default 100000)\n"
		"  --rounds N        rounds, the median shown (default 5, at "
		"most %d)\n"
		"  --quick           tiny run for the smoke test\n"
		"  --prefault        map every page of each new pool before\n"
		"                    the ops (each library's prefault\n"
		"                    switch): no first-touch page faults\n"
		"  --libs LIST       only these of daxo,daxo-pmemobj,pmemobj\n"
		"  --json            machine-readable output\n"
		"  --markdown        the table as a Markdown table\n"
		"PMEM_IS_PMEM_FORCE=1 is set unless the environment sets it.\n",
		MAX_ROUNDS);
}

static int parse_args(struct cfg *c, int argc, char **argv)
{
	bool keys_set = false, rounds_set = false;

	bench_run_defaults(&c->run);
	c->dir = getenv("DAXO_TEST_DIR");
	if (!c->dir || !*c->dir)
		c->dir = "/dev/shm";
	/* not skiplist: PMDK's has 4 levels, an op walks about n / 8 nodes
	 * (run it alone with fewer --keys) */
	c->maps = "btree,ctree,rbtree,rtree,hashmap_tx,hashmap_atomic,"
		  "hashmap_rp";
	c->nkeys = 100000;
	c->rounds = 5;
	for (int k = 1; k < argc; k++) {
		const char *a = argv[k];
		const char *v = k + 1 < argc ? argv[k + 1] : NULL;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(a, "--quick")) {
			c->quick = true;
		} else if (!strcmp(a, "--prefault")) {
			c->open_flags |= TM_PREFAULT;
		} else if (!strcmp(a, "--threads") || !strcmp(a, "--time") ||
			   !strcmp(a, "--ops") || !strcmp(a, "--no-pin")) {
			fprintf(stderr, "daxo-treemap: %s: one thread, %s\n", a,
				"phases of --keys ops");
			return -1;
		} else if (bench_run_option(&c->run, "daxo-treemap", a, v) ==
			   1) {
			continue;
		} else if (!v) {
			fprintf(stderr,
				"daxo-treemap: %s: missing value or "
				"unknown option\n",
				a);
			return -1;
		} else if (k++, !strcmp(a, "--libs")) {
			c->run.only_libs = v;
		} else if (!strcmp(a, "--pool-dir")) {
			c->dir = v;
		} else if (!strcmp(a, "--maps")) {
			c->maps = v;
		} else if (!strcmp(a, "--keys")) {
			c->nkeys = strtoull(v, NULL, 0), keys_set = true;
			if (c->nkeys < 2 || c->nkeys > (1ull << 28))
				return -1;
		} else if (!strcmp(a, "--rounds")) {
			c->rounds = atoi(v), rounds_set = true;
			if (c->rounds < 1 || c->rounds > MAX_ROUNDS)
				return -1;
		} else {
			fprintf(stderr, "daxo-treemap: unknown option %s\n", a);
			return -1;
		}
	}
	if (c->quick) {
		if (!keys_set)
			c->nkeys = 2000;
		if (!rounds_set)
			c->rounds = 3;
	}
	c->run.threads[0] = 1;
	c->run.nthreads = 1;
	c->run.reps = c->rounds;
	c->run.rounds = true;
	c->run.pin = false;
	return 0;
}

static bool map_wanted(const struct cfg *c, const char *name)
{
	struct bench_run_cfg f = {.only_libs = c->maps};

	return bench_lib_wanted(&f, name);
}

int main(int argc, char **argv)
{
	struct cfg c = {0};
	uint64_t *keys, *ord[NPHASE];
	int status = 0;

	setenv("PMEM_IS_PMEM_FORCE", "1", 0);
	if (parse_args(&c, argc, argv)) {
		usage(stderr);
		return 2;
	}
	bench_run_init(&c.run);
	bench_install_signals();
	keys = malloc(c.nkeys * sizeof(*keys));
	if (!keys)
		return 1;
	for (uint64_t i = 0; i < c.nkeys; i++)
		keys[i] = fmix64(i + 1);
	for (int ph = 0; ph < NPHASE; ph++) {
		ord[ph] =
		    shuffled(keys, c.nkeys, 1000003ull * (uint64_t)(ph + 1));
		if (!ord[ph])
			return 1;
	}
	if (!c.run.json) {
		printf(
		    "daxo-treemap: pools in %s, PMEM_IS_PMEM_FORCE=%s, %" PRIu64
		    " keys, median of %d rounds%s\n\n",
		    c.dir, getenv("PMEM_IS_PMEM_FORCE"), c.nkeys, c.rounds,
		    (c.open_flags & TM_PREFAULT) ? ", pools prefaulted" : "");
		bench_print_header(&c.run);
	}
	for (int k = 0; k < NMODS; k++)
		if (bench_lib_wanted(&c.run, mod_lib[k])) {
			mod_impls[k] = load_module(mod_lib[k]);
			if (!mod_impls[k])
				return 1;
		}
	for (size_t m = 0; m < NMAPS; m++) {
		const struct tm_impl *im[NLIBS];
		/* the rows keep pointers to these until the JSON is printed */
		static struct bench_lib libs[NMAPS][NLIBS];
		struct bench_lib *bl = libs[m];
		const struct bench_lib *libv[NLIBS];
		void *h[NLIBS] = {NULL};
		struct bench_result res[NPHASE][NLIBS][MAX_ROUNDS];
		struct bench_result med[NPHASE][NLIBS];
		int n = 0;

		if (!map_wanted(&c, maps[m].name))
			continue;
		for (int L = 0; L < NLIBS; L++) {
			const struct tm_impl *x = impl_of(m, L);
			char err[256] = "";

			if (!x || !bench_lib_wanted(&c.run, x->lib))
				continue;
			int rc = x->open(&h[n], c.dir, pool_size(&c, m),
					 c.open_flags, err,
					 sizeof(err));

			if (rc) {
				fprintf(stderr, "daxo-treemap: %s: %s\n",
					x->lib, err);
				return 1;
			}
			im[n] = x;
			bl[n] = (struct bench_lib){
			    .name = x->lib,
			    .count_source = x->count_source,
			    .counts_libpmem = x->counts_libpmem,
			};
			libv[n] = &bl[n];
			n++;
		}
		for (int r = 0; r < c.rounds; r++) {
			const uint64_t *o[NPHASE] = {ord[0], ord[1], ord[2]};
			struct bench_result one[NPHASE];

			for (int L = 0; L < n; L++) {
				if (r > 0 && maps[m].new_pool &&
				    reopen(im[L], &h[L], &c))
					return 1;
				if (round_once(im[L], h[L], maps[m].walk, o,
					       c.nkeys, one))
					status = 1;
				for (int ph = 0; ph < NPHASE; ph++)
					res[ph][L][r] = one[ph];
			}
		}
		for (int ph = 0; ph < NPHASE; ph++) {
			struct bench_workload *w = calloc(1, sizeof(*w));
			char name[48];

			if (!w)
				return 1;
			snprintf(name, sizeof(name), "%s-%s", maps[m].name,
				 phase_name[ph]);
			w->name = strdup(name);
			if (!w->name)
				return 1;
			for (int L = 0; L < n; L++) {
				int bad = -1;

				for (int r = 0; r < c.rounds; r++)
					if (res[ph][L][r].rc)
						bad = r;
				if (bad >= 0)
					med[ph][L] = res[ph][L][bad];
				else
					bench_median(res[ph][L], c.rounds,
						     &med[ph][L]);
			}
			bench_report_rows(&c.run, w, 1, libv, med[ph], n, 0);
			if (!c.run.json && !c.run.markdown)
				print_layer_ratio(libv, med[ph], n);
		}
		for (int L = 0; L < n; L++)
			im[L]->close(h[L]);
	}
	if (c.run.json) {
		printf("{\"config\": {\"program\": \"daxo-treemap\", "
		       "\"pool_dir\": ");
		bench_json_str(c.dir);
		printf(", \"keys\": %" PRIu64 ", \"rounds\": %d, "
		       "\"prefault\": %s, "
		       "\"loadavg_start\": %.2f, \"loadavg_end\": %.2f, "
		       "\"cpus\": %ld},\n",
		       c.nkeys, c.rounds,
		       (c.open_flags & TM_PREFAULT) ? "true" : "false",
		       bench_load_start, bench_loadavg(),
		       sysconf(_SC_NPROCESSORS_ONLN));
		bench_print_rows_json();
		printf("\n}\n");
	} else {
		bench_print_run_notes(&c.run);
		printf("one op: insert = insert_new (an 8-byte value object "
		       "allocated and linked in one\n"
		       "  transaction); get = get + a read of the value "
		       "(checked); remove = remove_free.\n"
		       "pmemobj: PMDK's examples (map/map.c and the maps "
		       "under it), unchanged, on the\n"
		       "  system libpmemobj; daxo-pmemobj: the same build "
		       "on daxo's libpmemobj layer;\n"
		       "  daxo: native ports (btree: examples/btree_map.c; "
		       "rbtree, ctree: bench/tree_map/).\n"
		       "layer/pmemobj: pmemobj's time per op over "
		       "daxo-pmemobj's (wall, cpu).\n");
	}
	for (int ph = 0; ph < NPHASE; ph++)
		free(ord[ph]);
	free(keys);
	return status;
}
