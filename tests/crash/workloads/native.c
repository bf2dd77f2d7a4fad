/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * native.c -- crash-simulator workloads of the calls libdaxo has for
 * programs coming from libpmemobj (workloads.h registers them):
 *
 *   nest     transactions whose helpers begin and commit blocks of their
 *            own (joined), some aborted by a helper's block: each op is
 *            all or nothing, an op an inner block aborted is nothing
 *   ctor     objects freed and allocated with a constructor
 *            (daxo_alloc_ctor, 64 B to 3 KiB: in the record and in place)
 *            into root slots: a published object is always constructed,
 *            and every object is published
 *   realloc  those objects grown by daxo_realloc and by daxo_tx_realloc
 *            (some of those aborted): contents kept, the rest zero,
 *            nothing leaked
 *   rootgrow a root that grows by steps (daxo_root_construct) while its
 *            words are changed: never lost, one root
 *   btree    examples/btree_map.c (PMDK's btree_map on the native API):
 *            inserts and removals, each in a transaction of the workload's
 *            that the map's calls join, some aborted: a sound tree holding
 *            the committed keys, no value object leaked
 *
 * Like workloads.c's, each keeps what committed in volatile memory, read
 * by the check in the process forked at the crash point.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "btree_map.h"
#include "internal.h"
#include "native.h"
#include "workloads.h"

#define T_CTOR 11u
#define NSLOT 12
#define OBJ_MAGIC 0x4a424f52544344ull /* "DCTROBJ" */

#define NW 16

/*
 * wl_fill -- describe workload @name with state @s (allocated by the
 * caller, NULL: out of memory) in @w, and hand @s over
 */
static int wl_fill(void *s, struct daxo_crashsim_workload *w, void **state,
		   const char *name, int (*setup)(daxo_pool *, void *),
		   int (*run)(daxo_pool *, void *),
		   int (*check)(daxo_pool *, void *, char *, size_t))
{
	if (!s)
		return -ENOMEM;
	memset(w, 0, sizeof(*w));
	w->name = name;
	w->setup = setup;
	w->run = run;
	w->check = check;
	w->arg = s;
	*state = s;
	return 0;
}

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

	if (s)
		s->ops = ops;
	return wl_fill(s, w, state, "nest", nest_setup, nest_run, nest_check);
}

/* ---- ctor and realloc: constructed objects in root slots ---- */

struct obj_hdr {
	uint64_t magic;
	uint64_t born; /* the op that made it, from 1 */
	uint64_t len;  /* bytes the constructor filled */
};

struct slots_root {
	daxo_oid slot[NSLOT];
};

struct slots {
	unsigned ops;
	daxo_oid root;
	uint64_t born[NSLOT]; /* committed: the object's born, 0 for none */
	int cur;	      /* slot of the op in flight, -1 */
	uint64_t next_born;   /* what the op in flight may leave there */
};

static int slots_setup(daxo_pool *p, void *arg)
{
	struct slots *s = arg;

	return daxo_root(p, sizeof(struct slots_root), &s->root);
}

static uint8_t fill_of(uint64_t born)
{
	return (uint8_t)(born * 37 + 1);
}

static int build(daxo_pool *p, void *ptr, uint64_t size, void *arg)
{
	struct obj_hdr *h = ptr;
	uint64_t born = *(uint64_t *)arg;

	(void)p;
	memset(h + 1, fill_of(born), size - sizeof(*h));
	h->magic = OBJ_MAGIC;
	h->born = born;
	h->len = size;
	return 0;
}

static uint64_t ctor_size(unsigned i)
{
	static const uint64_t sz[] = {64, 200, 1000, 1500, 2100, 3000};

	return sz[i % 6];
}

static int ctor_run(daxo_pool *p, void *arg)
{
	struct slots *s = arg;
	struct slots_root *r = daxo_direct(p, s->root);
	int ret;

	for (unsigned i = 0; i < s->ops; i++) {
		int k = (int)(i % NSLOT);
		uint64_t born = i + 1;

		s->cur = k;
		if (r->slot[k]) {
			s->next_born = 0;
			ret = daxo_free(p, &r->slot[k]);
			if (ret)
				return ret;
			s->born[k] = 0;
		}
		s->next_born = born;
		ret = daxo_alloc_ctor(p, ctor_size(i), T_CTOR,
				      i % 2 ? DAXO_ALLOC_ZERO : 0, build, &born,
				      &r->slot[k]);
		if (ret)
			return ret;
		s->born[k] = born;
		s->cur = -1;
	}
	return 0;
}

/*
 * obj_ok -- @o is a constructed object of op @born whose first @len bytes
 * are as built (len 0: as the header says) and whose bytes [len, upto)
 * read zero
 */
static int obj_ok(daxo_pool *p, daxo_oid o, uint64_t born, uint64_t upto,
		  char *msg, size_t len)
{
	const struct obj_hdr *h = daxo_direct(p, o);

	if (!h || daxo_oid_type(p, o) != T_CTOR) {
		snprintf(msg, len, "slot names %llu, not a live object",
			 (unsigned long long)o);
		return 1;
	}
	if (h->magic != OBJ_MAGIC || h->born != born) {
		snprintf(msg, len,
			 "object %llu published unbuilt: magic %llx born %llu "
			 "(want %llu)",
			 (unsigned long long)o, (unsigned long long)h->magic,
			 (unsigned long long)h->born, (unsigned long long)born);
		return 1;
	}
	const uint8_t *b = (const uint8_t *)(h + 1);
	for (uint64_t j = 0; j < h->len - sizeof(*h); j++)
		if (b[j] != fill_of(born)) {
			snprintf(msg, len, "object %llu byte %llu torn",
				 (unsigned long long)o,
				 (unsigned long long)j);
			return 1;
		}
	/* the grown part, for an object that has grown that far */
	const uint8_t *z = (const uint8_t *)h;
	if (daxo_usable_size(p, o) < upto)
		upto = 0;
	for (uint64_t j = h->len; j < upto; j++)
		if (z[j]) {
			snprintf(msg, len, "object %llu byte %llu not zero",
				 (unsigned long long)o,
				 (unsigned long long)j);
			return 1;
		}
	return 0;
}

/* slots_check -- each slot holds what committed (or what is in flight),
 * built; and no object of T_CTOR is outside the slots */
static int slots_check_upto(daxo_pool *p, struct slots *s, uint64_t upto,
			    char *msg, size_t len)
{
	struct slots_root *r = daxo_direct(p, s->root);
	unsigned live = 0, used = 0;

	if (!r) {
		snprintf(msg, len, "root object missing");
		return 1;
	}
	for (int k = 0; k < NSLOT; k++) {
		daxo_oid o = r->slot[k];
		uint64_t want = s->born[k];
		if (o) {
			const struct obj_hdr *h = daxo_direct(p, o);
			/* the op in flight may have finished */
			if (k == s->cur && h && h->born == s->next_born)
				want = s->next_born;
			if (!want) {
				snprintf(msg, len, "slot %d holds %llu, should "
						   "be empty",
					 k, (unsigned long long)o);
				return 1;
			}
			if (obj_ok(p, o, want, upto, msg, len))
				return 1;
			used++;
		} else if (want && !(k == s->cur && s->next_born == 0) &&
			   !(k == s->cur && s->born[k] == 0)) {
			snprintf(msg, len, "slot %d lost object of op %llu", k,
				 (unsigned long long)want);
			return 1;
		}
	}
	for (daxo_oid o = daxo_first(p, T_CTOR); o;
	     o = daxo_next(p, o, T_CTOR))
		live++;
	if (live != used) {
		snprintf(msg, len, "%u objects live but %u published (%s)",
			 live, used,
			 live > used ? "leaked" : "published but free");
		return 1;
	}
	return 0;
}

static int ctor_check(daxo_pool *p, void *arg, char *msg, size_t len)
{
	return slots_check_upto(p, arg, 0, msg, len);
}

static int make_slots(unsigned ops, struct daxo_crashsim_workload *w,
		      void **state, const char *name,
		      int (*run)(daxo_pool *, void *),
		      int (*check)(daxo_pool *, void *, char *, size_t))
{
	struct slots *s = calloc(1, sizeof(*s));

	if (s) {
		s->ops = ops;
		s->cur = -1;
	}
	return wl_fill(s, w, state, name, slots_setup, run, check);
}

int crashsim_make_ctor(unsigned ops, struct daxo_crashsim_workload *w,
		       void **state)
{
	return make_slots(ops, w, state, "ctor", ctor_run, ctor_check);
}

/*
 * realloc: objects of 128 bytes built once per slot, then grown to 256,
 * 2 KiB, 9 KiB with the new bytes zeroed: atomically (daxo_realloc) or in
 * a transaction (daxo_tx_realloc, the slot by daxo_tx_write), which every
 * third time aborts
 */
#define RE_BASE 128u

static int realloc_run(daxo_pool *p, void *arg)
{
	static const uint64_t grow[] = {256, 2048, 9000};
	struct slots *s = arg;
	struct slots_root *r = daxo_direct(p, s->root);
	int ret;

	for (unsigned i = 0; i < s->ops; i++) {
		int k = (int)(i % NSLOT);
		uint64_t born = i + 1;

		s->cur = k;
		if (!r->slot[k]) {
			s->next_born = born;
			ret = daxo_alloc_ctor(p, RE_BASE, T_CTOR, 0, build,
					      &born, &r->slot[k]);
			if (ret)
				return ret;
			s->born[k] = born;
			s->cur = -1;
			continue;
		}
		uint64_t size = grow[(i / NSLOT) % 3];
		s->next_born = s->born[k]; /* contents move, born stays */
		if (i % 2) {
			ret = daxo_realloc(p, &r->slot[k], size, T_CTOR,
					   DAXO_ALLOC_ZERO);
			if (ret)
				return ret;
		} else {
			daxo_tx *tx;
			daxo_oid n;
			ret = daxo_tx_begin(p, &tx);
			if (ret)
				return ret;
			ret = daxo_tx_realloc(tx, r->slot[k], size, T_CTOR,
					      DAXO_ALLOC_ZERO, &n);
			if (!ret)
				ret = daxo_tx_write(tx, &r->slot[k], &n, 8);
			if (ret || i % 3 == 0) {
				daxo_tx_abort(tx);
				if (ret)
					return ret;
			} else if ((ret = daxo_tx_commit(tx)) != 0) {
				return ret;
			}
		}
		s->cur = -1;
	}
	return 0;
}

static int realloc_check(daxo_pool *p, void *arg, char *msg, size_t len)
{
	/* built bytes kept, the grown part zero as far as every size goes */
	return slots_check_upto(p, arg, 256, msg, len);
}

int crashsim_make_realloc(unsigned ops, struct daxo_crashsim_workload *w,
			  void **state)
{
	return make_slots(ops, w, state, "realloc", realloc_run, realloc_check);
}

/* ---- rootgrow ---- */

#define RG_WORDS 32

struct rg_root {
	uint64_t word[RG_WORDS]; /* word[j]: ops that changed it */
	uint64_t grown;		 /* the constructor's count of growths */
};

struct rg {
	unsigned ops;
	uint64_t word[RG_WORDS]; /* committed */
	uint64_t grown;
	int inflight_word; /* the word being changed, -1 */
	int growing;	   /* a growth in flight */
};

static int rg_setup(daxo_pool *p, void *arg)
{
	daxo_oid o;

	(void)arg;
	return daxo_root(p, sizeof(struct rg_root), &o);
}

static int rg_ctor(daxo_pool *p, void *ptr, uint64_t size, void *arg)
{
	(void)p;
	(void)size;
	(void)arg;
	((struct rg_root *)ptr)->grown++;
	return 0;
}

static int rg_run(daxo_pool *p, void *arg)
{
	struct rg *s = arg;
	daxo_oid o;
	int ret;

	for (unsigned i = 0; i < s->ops; i++) {
		if (i % 3 == 2) {
			/* grow: 1 KiB more each time, up to 40 KiB */
			uint64_t size = sizeof(struct rg_root) +
					(uint64_t)(i % 120 + 1) * 340;
			s->growing = 1;
			ret = daxo_root_construct(p, size, rg_ctor, NULL, &o);
			if (ret)
				return ret;
			s->grown = ((struct rg_root *)daxo_direct(p, o))->grown;
			s->growing = 0;
			continue;
		}
		ret = daxo_root(p, 0, &o);
		if (ret)
			return ret;
		struct rg_root *r = daxo_direct(p, o);
		int j = (int)(i % RG_WORDS);
		uint64_t v = r->word[j] + 1;
		s->inflight_word = j;
		daxo_tx *tx;
		ret = daxo_tx_begin(p, &tx);
		if (!ret) {
			ret = daxo_tx_write(tx, &r->word[j], &v, 8);
			if (ret) {
				daxo_tx_abort(tx);
				return ret;
			}
			ret = daxo_tx_commit(tx);
		}
		if (ret)
			return ret;
		s->word[j] = v;
		s->inflight_word = -1;
	}
	return 0;
}

static int rg_check(daxo_pool *p, void *arg, char *msg, size_t len)
{
	struct rg *s = arg;
	daxo_oid o;
	unsigned roots = 0;

	if (daxo_root(p, 0, &o) != 0) {
		snprintf(msg, len, "no root");
		return 1;
	}
	for (daxo_oid x = daxo_first(p, DAXO_TYPE_ROOT); x;
	     x = daxo_next(p, x, DAXO_TYPE_ROOT))
		roots++;
	if (roots != 1) {
		snprintf(msg, len, "%u root objects live (old roots leaked)",
			 roots);
		return 1;
	}
	const struct rg_root *r = daxo_direct(p, o);
	for (int j = 0; j < RG_WORDS; j++)
		if (r->word[j] != s->word[j] &&
		    !(j == s->inflight_word && r->word[j] == s->word[j] + 1)) {
			snprintf(msg, len,
				 "root word %d = %llu, committed %llu (%s)", j,
				 (unsigned long long)r->word[j],
				 (unsigned long long)s->word[j],
				 r->word[j] < s->word[j] ? "lost in a growth"
							 : "from nowhere");
			return 1;
		}
	if (r->grown != s->grown && !(s->growing && r->grown == s->grown + 1)) {
		snprintf(msg, len, "root grown %llu times, %llu committed",
			 (unsigned long long)r->grown,
			 (unsigned long long)s->grown);
		return 1;
	}
	return 0;
}

int crashsim_make_rootgrow(unsigned ops, struct daxo_crashsim_workload *w,
			   void **state)
{
	struct rg *s = calloc(1, sizeof(*s));

	if (s) {
		s->ops = ops;
		s->inflight_word = -1;
	}
	return wl_fill(s, w, state, "rootgrow", rg_setup, rg_run, rg_check);
}

/* ---- btree: examples/btree_map.c, the ported B-tree ---- */

#define BT_VALUE_TYPE 12u
#define BT_GHOST      (1ull << 63) /* keys of aborted transactions only */

struct bt_root {
	daxo_oid map;
	uint64_t done; /* operations committed */
};

struct bt {
	unsigned ops;
	daxo_oid root;
	uint64_t done;
	int inflight;
};

/* bt_key -- the key operation @i inserts (distinct, below BT_GHOST) */
static uint64_t bt_key(uint64_t i)
{
	return (i * 0x9e3779b97f4a7c15ull) >> 1;
}

/* bt_removes -- the key operation @i removes as well, if it does */
static bool bt_removes(uint64_t i, uint64_t *key)
{
	if (i % 3 != 2)
		return false;
	*key = bt_key(i / 2);
	return true;
}

static int bt_setup(daxo_pool *p, void *arg)
{
	struct bt *s = arg;
	int ret = daxo_root(p, sizeof(struct bt_root), &s->root);

	if (ret)
		return ret;
	struct bt_root *r = daxo_direct(p, s->root);
	return btree_map_daxo_create(p, &r->map);
}

static void bt_ctor(daxo_pool *p, void *ptr, void *arg)
{
	(void)p;
	*(uint64_t *)ptr = *(uint64_t *)arg;
}

static int bt_insert(daxo_pool *p, struct bt_root *r, uint64_t key)
{
	return btree_map_daxo_insert_new(p, r->map, key, 8, BT_VALUE_TYPE,
					 bt_ctor, &key);
}

/*
 * bt_run -- operation i, one transaction: insert key i, and every third
 * one remove the key of operation i / 2 too, and count. Every seventh
 * operation is tried first with a ghost key and a removal, then aborted.
 */
static int bt_run(daxo_pool *p, void *arg)
{
	struct bt *s = arg;
	struct bt_root *r = daxo_direct(p, s->root);
	uint64_t key;
	daxo_tx *tx;
	int ret;

	for (uint64_t i = 0; i < s->ops; i++) {
		if (i % 7 == 3) {
			ret = daxo_tx_begin(p, &tx);
			if (ret)
				return ret;
			ret = bt_insert(p, r, bt_key(i) | BT_GHOST);
			if (!ret)
				ret = btree_map_daxo_remove_free(p, r->map,
								 bt_key(0));
			daxo_tx_abort(tx);
			if (ret && ret != -ENOENT)
				return ret;
		}
		ret = daxo_tx_begin(p, &tx);
		if (ret)
			return ret;
		s->inflight = 1;
		uint64_t next = i + 1;
		ret = bt_insert(p, r, bt_key(i));
		if (!ret && bt_removes(i, &key))
			ret = btree_map_daxo_remove_free(p, r->map, key);
		if (!ret)
			ret = daxo_tx_write(tx, &r->done, &next, sizeof(next));
		if (ret) {
			daxo_tx_abort(tx);
			return ret;
		}
		ret = daxo_tx_commit(tx);
		if (ret)
			return ret;
		s->done = next;
		s->inflight = 0;
	}
	return 0;
}

/* bt_check -- a sound tree holding exactly the keys of r->done operations */
static int bt_check(daxo_pool *p, void *arg, char *msg, size_t len)
{
	struct bt *s = arg;
	const struct bt_root *r = daxo_direct(p, s->root);
	const char *why = NULL;
	uint64_t n, want = 0, key;

	if (!r) {
		snprintf(msg, len, "root object missing");
		return 1;
	}
	if (wl_count_check(msg, len, r->done, s->done, s->inflight))
		return 1;
	if (btree_map_daxo_check(p, r->map, &n, &why)) {
		snprintf(msg, len,
			 "after %llu operations the tree is damaged: %s",
			 (unsigned long long)r->done, why);
		return 1;
	}
	for (uint64_t i = 0; i < r->done; i++) {
		bool gone = false;

		/* removed by operation j = 2i + 2 or 2i + 3, if done */
		for (uint64_t j = 2 * i; j < 2 * i + 4; j++)
			if (j < r->done && bt_removes(j, &key) &&
			    key == bt_key(i))
				gone = true;
		daxo_oid v = btree_map_daxo_get(p, r->map, bt_key(i));
		const uint64_t *val = daxo_direct(p, v);
		if (gone ? v != 0 : !val || *val != bt_key(i)) {
			snprintf(
			    msg, len, "after %llu operations key %llu is %s",
			    (unsigned long long)r->done, (unsigned long long)i,
			    gone ? "there, removed" : "lost or wrong");
			return 1;
		}
		want += !gone;
	}
	if (n != want) {
		snprintf(msg, len,
			 "after %llu operations the tree has %llu keys, not "
			 "%llu (an aborted one stayed?)",
			 (unsigned long long)r->done, (unsigned long long)n,
			 (unsigned long long)want);
		return 1;
	}
	unsigned values = 0;
	for (daxo_oid o = daxo_first(p, BT_VALUE_TYPE); o;
	     o = daxo_next(p, o, BT_VALUE_TYPE))
		values++;
	if (values != want) {
		snprintf(msg, len, "%u value objects for %llu keys", values,
			 (unsigned long long)want);
		return 1;
	}
	return 0;
}

int crashsim_make_btree(unsigned ops, struct daxo_crashsim_workload *w,
			void **state)
{
	struct bt *s = calloc(1, sizeof(*s));

	if (s)
		s->ops = ops;
	return wl_fill(s, w, state, "btree", bt_setup, bt_run, bt_check);
}
