/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_nomem.c -- one run of the allocation-failure workload (driven by
 * test_nomem.py, which runs it once per failure point, each in a process
 * of its own).
 *
 *	test_nomem count POOL		no failure: print the allocation calls
 *	test_nomem run POOL N once	allocation call N fails (ENOMEM)
 *	test_nomem run POOL N persist	call N and every later one fails
 *
 * Calls are counted by nomem_shim.c from before daxo_create, so every N
 * in 0..count names one point of the workload. The workload -- create,
 * root, puts and deletes of 50..3000-byte values over 400 keys (the keyed
 * store's table grows twice), undo + redo transactions with tx_alloc and
 * tx_free, nested blocks with daxo_tx_on callbacks, atomic alloc, realloc
 * and free, daxo_get_many, daxo_foreach, a root that grows, a thread's
 * transaction and put, daxo_check and a close + reopen in the middle,
 * daxo_heap_info, daxo_kv_compact and daxo_heap_defrag at the end -- keeps
 * a model of what was acknowledged: a call that returned 0 is in it, a
 * call that failed changed nothing. It checks, while armed:
 *   - every failure is an error the call's contract lists (-ENOMEM, or the
 *     transaction's first error again; daxo_get and daxo_close never fail
 *     here), and an -ENOMEM comes from an allocation that failed during
 *     that call or that transaction;
 *   - reads (get, get_many, foreach) and the root's words after every
 *     transaction agree with the model: a failed transaction rolled back,
 *     a failed put or delete left the key as it was, callbacks ran once
 *     for the way their transaction ended;
 * and then, with nothing failing any more: the handle still agrees with the
 * model and still works (every stripe of the keyed store, a transaction,
 * an allocation: a lock or lane leaked on an error path hangs here and the
 * driver's timeout reports it); after a close and reopen everything
 * acknowledged is there, no object of the workload's types exists that the
 * model does not hold (no leak), and daxo_check finds the pool consistent.
 *
 * Exit status: 0 clean; 1 a loss, leak or inconsistency; 2 an error
 * outside the contract; 3 the run could not be set up; 77 skipped (a
 * sanitizer build: its runtime owns the allocator).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpmem.h>

#include "daxo.h"
#include "test_common.h"

#if !defined(NOMEM_SKIP) &&                                                    \
    (defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__))
#define NOMEM_SKIP "a sanitizer runtime owns malloc: it cannot be interposed"
#endif
#if !defined(NOMEM_SKIP) && defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define NOMEM_SKIP "a sanitizer runtime owns malloc: it cannot be interposed"
#endif
#endif

#ifndef NOMEM_SKIP
#include "nomem_shim.h"
#endif

#define POOL_SIZE (16ull << 20)
#define NK	  400 /* keys: the table (256 buckets) grows at 129 and 257 */
#define NT	  16  /* transaction-allocated objects (root slots) */
#define NA	  16  /* atomically allocated objects (root slots) */
#define NGET	  16  /* requests of one daxo_get_many */
#define VMAX	  3000
#define T_TX	  5 /* the type numbers of the workload's objects */
#define T_AT	  6

/* the root: words changed by transactions, the objects' places */
struct root {
	uint64_t a[8]; /* 0,1 undo; 2 redo; 3 the thread's; 4,5 nested */
	daxo_oid tobj[NT];
	daxo_oid aobj[NA];
};
#define ROOT_SIZE  ((uint64_t)sizeof(struct root))
#define ROOT_GROWN (ROOT_SIZE + 8192)

/* an object's first words: its signature, checked against the model */
struct obj {
	uint64_t sig;
	uint64_t slot;
};

/* what was acknowledged */
static struct {
	uint64_t a[8];
	uint64_t tsig[NT], asig[NA]; /* 0: the slot holds no object */
	uint64_t asize[NA];
	uint32_t kver[NK];	     /* 0: absent */
	uint32_t klen[NK];
	uint64_t root_size;
} m;

static daxo_pool *p;
static struct root *rt;
static const char *path;
static int bad, unexpected;
static bool persist_mode;
static uint32_t next_ver[NK];
static uint64_t sigseq = 1;
static char vbuf[VMAX + 64], gbuf[VMAX + 64];
static char gm_buf[NGET][VMAX + 64];
static char outbuf[1 << 16]; /* stdout's buffer: printing allocates nothing */

#define report(...)                                                            \
	do {                                                                   \
		printf(__VA_ARGS__);                                           \
		printf("\n");                                                  \
	} while (0)

#define fail(...)                                                              \
	do {                                                                   \
		report(__VA_ARGS__);                                           \
		bad++;                                                         \
	} while (0)

#ifdef NOMEM_SKIP
static long nomem_failed(void)
{
	return 0;
}
#endif

/* ---- the contract of a failed call ---- */

static long f0; /* nomem_failed() when the call began */

#define CALL(expr) (f0 = nomem_failed(), (expr))

/*
 * ok -- judge @r, what the call @what returned: 1 for success; 0 for a
 * clean failure (-ENOMEM with an allocation failed during the call, or,
 * @sticky, the first error of the transaction again); an error outside the
 * contract is reported and counted
 */
static int ok_sticky(const char *what, int r, int sticky)
{
	if (r == 0)
		return 1;
	if (r == -ENOMEM && nomem_failed() != f0)
		return 0;
	if (sticky && r == sticky)
		return 0;
	report("UNEXPECTED: %s returned %d (%s)%s: %s", what, r,
	       daxo_strerror(r),
	       r == -ENOMEM ? " but no allocation failed during the call" : "",
	       daxo_errormsg());
	unexpected++;
	return 0;
}

static int ok(const char *what, int r)
{
	return ok_sticky(what, r, 0);
}

/* ---- values and objects ---- */

static uint32_t vlen_of(unsigned i, uint32_t ver)
{
	/* every fourth version keeps the length: a put in place */
	if (ver % 4 == 3 && m.kver[i])
		return m.klen[i];
	return 50 + (uint32_t)((i * 37u + ver * 101u) % (VMAX - 50 + 1));
}

static void fill(char *b, unsigned i, uint32_t ver, size_t len)
{
	for (size_t j = 0; j < len; j++)
		b[j] = (char)(i * 7u + ver * 13u + j);
}

static int keyname(char *k, unsigned i)
{
	return snprintf(k, 16, "key%03u", i);
}

static int cmp_value(unsigned i, const char *b, size_t len)
{
	char want[VMAX + 64];

	if (len != m.klen[i])
		return 1;
	fill(want, i, m.kver[i], len);
	return memcmp(want, b, len) != 0;
}

static void put_key(unsigned i)
{
	char k[16];
	uint32_t ver = ++next_ver[i];
	uint32_t len = vlen_of(i, ver);
	int r;

	fill(vbuf, i, ver, len);
	r = CALL(daxo_put(p, k, (size_t)keyname(k, i), vbuf, len));
#ifdef NOMEM_PLANT_IGNORED_PUT
	/* a planted bug (test_nomem.py --plant): a failed put acknowledged */
	r = 0;
#endif
	if (ok("daxo_put", r)) {
		m.kver[i] = ver;
		m.klen[i] = len;
	}
}

static void del_key(unsigned i)
{
	char k[16];
	int r = CALL(daxo_del(p, k, (size_t)keyname(k, i)));

	if (!m.kver[i]) {
		if (r != -ENOENT && !(r == -ENOMEM && nomem_failed() != f0)) {
			report("UNEXPECTED: daxo_del of absent key%03u "
			       "returned %d: %s",
			       i, r, daxo_errormsg());
			unexpected++;
		}
		return;
	}
	if (ok("daxo_del", r))
		m.kver[i] = 0;
}

/* check_key -- daxo_get of key @i agrees with the model */
static void check_key(unsigned i, const char *when)
{
	char k[16];
	size_t len = 0;
	int r = daxo_get(p, k, (size_t)keyname(k, i), gbuf, sizeof(gbuf), &len);

	if (!m.kver[i]) {
		if (r != -ENOENT)
			fail("%s: key%03u should be absent: get returned %d "
			     "(%zu bytes)",
			     when, i, r, len);
	} else if (r) {
		fail("%s: key%03u (version %u, %u bytes) lost: get returned "
		     "%d: %s",
		     when, i, m.kver[i], m.klen[i], r, daxo_errormsg());
	} else if (cmp_value(i, gbuf, len)) {
		fail("%s: key%03u holds the wrong value (%zu bytes; the "
		     "acknowledged version %u has %u)",
		     when, i, len, m.kver[i], m.klen[i]);
	}
}

static void check_keys(const char *when)
{
	for (unsigned i = 0; i < NK; i++)
		check_key(i, when);
}

/* check_obj -- the object in @place agrees with signature @sig (0: none) */
static void check_obj(const char *when, const char *kind, unsigned k,
		      daxo_oid oid, uint64_t sig, uint32_t type,
		      uint64_t size)
{
	const struct obj *o;

	if (!sig) {
		if (oid)
			fail("%s: %s slot %u holds an object it should not "
			     "(oid 0x%" PRIx64 ")",
			     when, kind, k, oid);
		return;
	}
	if (!oid) {
		fail("%s: %s slot %u lost its object (sig %" PRIx64 ")", when,
		     kind, k, sig);
		return;
	}
	o = daxo_direct(p, oid);
	if (daxo_oid_type(p, oid) != type || daxo_usable_size(p, oid) < size ||
	    !o || o->sig != sig || o->slot != k)
		fail("%s: %s slot %u: object 0x%" PRIx64 " is not the "
		     "acknowledged one (type %u, %" PRIu64 " bytes, sig "
		     "%" PRIx64 ", want %" PRIx64 ")",
		     when, kind, k, oid, daxo_oid_type(p, oid),
		     daxo_usable_size(p, oid), o ? o->sig : 0, sig);
}

static void check_root(const char *when)
{
	for (unsigned j = 0; j < 8; j++)
		if (rt->a[j] != m.a[j])
			fail("%s: root word %u is %" PRIu64 ", the acknowledged "
			     "value %" PRIu64,
			     when, j, rt->a[j], m.a[j]);
}

static void check_objs(const char *when)
{
	for (unsigned k = 0; k < NT; k++)
		check_obj(when, "tx", k, rt->tobj[k], m.tsig[k], T_TX,
			  sizeof(struct obj));
	for (unsigned k = 0; k < NA; k++)
		check_obj(when, "atomic", k, rt->aobj[k], m.asig[k], T_AT,
			  m.asize[k]);
}

/* count_type -- live objects of @type (a leak shows as one too many) */
static unsigned count_type(uint32_t type)
{
	unsigned n = 0;

	for (daxo_oid o = daxo_first(p, type); o; o = daxo_next(p, o, type))
		n++;
	return n;
}

static void check_all(const char *when, bool counts)
{
	check_root(when);
	check_objs(when);
	check_keys(when);
	if (counts) {
		unsigned nt = 0, na = 0, ct, ca;

		for (unsigned k = 0; k < NT; k++)
			nt += m.tsig[k] != 0;
		for (unsigned k = 0; k < NA; k++)
			na += m.asig[k] != 0;
		ct = count_type(T_TX);
		ca = count_type(T_AT);
		if (ct != nt || ca != na)
			fail("%s: %u transaction objects and %u atomic ones "
			     "live, the model holds %u and %u (leaked or lost)",
			     when, ct, ca, nt, na);
		if (daxo_root_size(p) != m.root_size)
			fail("%s: root size %" PRIu64 ", acknowledged %" PRIu64,
			     when, daxo_root_size(p), m.root_size);
	}
}

/* ---- the operations ---- */

static struct {
	unsigned commits, aborts;
} cbs;

static void on_end(daxo_pool *pp, unsigned stage, void *arg)
{
	(void)pp;
	(void)arg;
	if (stage == DAXO_TX_ON_COMMIT)
		cbs.commits++;
	else
		cbs.aborts++;
}

/*
 * tx_step -- one transaction: undo words, a redo word, a new object for
 * slot @k (the old one freed), @ncb daxo_tx_on callbacks (more than the
 * 8 the library keeps on its stack), and with @nested an inner block with
 * another callback and more words; committed, or aborted when @abort or a
 * call failed (then alternately by daxo_tx_abort and by a commit that
 * must fail)
 */
static void tx_step(unsigned i, unsigned k, bool nested, bool abort,
		    unsigned ncb)
{
	daxo_tx *tx, *in;
	uint64_t v = 1000 + i, sig = (sigseq++ << 8) | k;
	int r, err = 0;
	unsigned registered = 0;
	daxo_oid o = 0, old = rt->tobj[k];

	cbs.commits = cbs.aborts = 0;
	r = CALL(daxo_tx_begin(p, &tx));
	if (!ok("daxo_tx_begin", r))
		return;
	/* a call of the transaction; after one failed, no more */
#define TXOP(name, expr)                                                       \
	do {                                                                   \
		if (!err) {                                                    \
			r = CALL(expr);                                        \
			if (!ok(name, r))                                      \
				err = r;                                       \
		}                                                              \
	} while (0)
	TXOP("daxo_tx_add_range", daxo_tx_add_range(tx, &rt->a[0], 16));
	if (!err) {
		rt->a[0] = v;
		rt->a[1] = ~v;
	}
	TXOP("daxo_tx_write", daxo_tx_write(tx, &rt->a[2], &v, 8));
	TXOP("daxo_tx_alloc",
	     daxo_tx_alloc(tx, sizeof(struct obj) + 8 * k, T_TX, &o));
	if (!err) {
		struct obj *ob = daxo_direct(p, o);

		ob->sig = sig;
		ob->slot = k;
	}
	TXOP("daxo_tx_write", daxo_tx_write(tx, &rt->tobj[k], &o, 8));
	TXOP("daxo_tx_free", daxo_tx_free(tx, old));
	for (unsigned c = 0; c < ncb; c++) {
		TXOP("daxo_tx_on",
		     daxo_tx_on(tx, DAXO_TX_ON_COMMIT | DAXO_TX_ON_ABORT,
				on_end, NULL));
		if (!err)
			registered++;
	}
	if (nested && !err) {
		r = CALL(daxo_tx_begin(p, &in));
		if (!ok("daxo_tx_begin (inner)", r)) {
			err = r;
		} else {
			if (in != tx) {
				fail("the inner daxo_tx_begin did not join");
				err = -EINVAL;
			}
			TXOP("daxo_tx_on (inner)",
			     daxo_tx_on(in, DAXO_TX_ON_COMMIT | DAXO_TX_ON_ABORT,
					on_end, NULL));
			if (!err)
				registered++;
			TXOP("daxo_tx_add_range (inner)",
			     daxo_tx_add_range(in, &rt->a[4], 8));
			if (!err)
				rt->a[4] = v;
			TXOP("daxo_tx_write (inner)",
			     daxo_tx_write(in, &rt->a[5], &v, 8));
			/* the inner commit closes the block, or gives the
			 * transaction's first error */
			r = CALL(daxo_tx_commit(in));
			if (r != err && !ok("daxo_tx_commit (inner)", r) &&
			    !err)
				err = r;
		}
	}
#undef TXOP
	if (err) {
		/* a failed transaction: later calls give its error again */
		uint64_t z = 0;

		r = daxo_tx_write(tx, &rt->a[6], &z, 8);
		if (r != err && r != -ECANCELED)
			fail("a call after the transaction failed (%d) "
			     "returned %d",
			     err, r);
	}
	if (abort || (err && i % 2)) {
		daxo_tx_abort(tx);
		r = 1;
	} else if (err) {
		r = CALL(daxo_tx_commit(tx));
		if (r == 0)
			fail("daxo_tx_commit of a failed transaction "
			     "returned 0");
		else
			ok_sticky("daxo_tx_commit", r, err);
		r = 1;
	} else {
		r = CALL(daxo_tx_commit(tx));
		r = ok("daxo_tx_commit", r) ? 0 : 1;
	}
	if (r == 0) {
		m.a[0] = v;
		m.a[1] = ~v;
		m.a[2] = v;
		m.tsig[k] = sig;
		if (nested) {
			m.a[4] = v;
			m.a[5] = v;
		}
	}
	if (daxo_tx_current(p))
		fail("a transaction is still open after its end");
	if (r == 0 && (cbs.commits != registered || cbs.aborts))
		fail("committed: %u commit and %u abort callbacks ran, %u "
		     "registered",
		     cbs.commits, cbs.aborts, registered);
	if (r != 0 && (cbs.aborts != registered || cbs.commits))
		fail("rolled back: %u commit and %u abort callbacks ran, %u "
		     "registered",
		     cbs.commits, cbs.aborts, registered);
	check_root(abort ? "after an aborted transaction"
		   : r	 ? "after a failed transaction"
			 : "after a transaction");
	check_obj("after a transaction", "tx", k, rt->tobj[k], m.tsig[k], T_TX,
		  sizeof(struct obj));
}

static int ctor(daxo_pool *pp, void *ptr, uint64_t size, void *arg)
{
	struct obj *o = ptr;
	const uint64_t *a = arg;

	(void)pp;
	(void)size;
	o->sig = a[0];
	o->slot = a[1];
	return 0;
}

/* atomic_step -- allocate into an empty slot; else realloc or free it */
static void atomic_step(unsigned i, unsigned k)
{
	daxo_oid *place = &rt->aobj[k];
	daxo_oid before = *place;
	int r;

	if (!*place) {
		uint64_t arg[2] = {(sigseq++ << 8) | k, k};
		uint64_t size = 64 + (i * 29) % 700;

		r = CALL(daxo_alloc_ctor(p, size, T_AT, 0, ctor, arg, place));
		if (ok("daxo_alloc_ctor", r)) {
			m.asig[k] = arg[0];
			m.asize[k] = size;
		} else if (*place != before) {
			fail("a failed daxo_alloc_ctor changed its place");
		}
	} else if (i % 2) {
		uint64_t size = 64 + (i * 53) % 1500;

		r = CALL(daxo_realloc(p, place, size, T_AT, 0));
		if (ok("daxo_realloc", r))
			m.asize[k] = size;
		else if (*place != before)
			fail("a failed daxo_realloc changed its place");
	} else {
		r = CALL(daxo_free(p, place));
		if (ok("daxo_free", r))
			m.asig[k] = 0;
		else if (*place != before)
			fail("a failed daxo_free changed its place");
	}
	check_obj("after an atomic operation", "atomic", k, *place, m.asig[k],
		  T_AT, m.asize[k]);
}

/* get_many_step -- NGET keys ending at @i, checked against the model */
static void get_many_step(unsigned i)
{
	struct daxo_get_req q[NGET];
	char keys[NGET][16];
	int want = 0, r;

	for (unsigned j = 0; j < NGET; j++) {
		unsigned ki = (i + NK - j) % NK;

		q[j] = (struct daxo_get_req){.key = keys[j],
					     .klen = (size_t)keyname(keys[j],
								      ki),
					     .buf = gm_buf[j],
					     .cap = sizeof(gm_buf[j])};
		want += m.kver[ki] != 0;
	}
	r = daxo_get_many(p, q, NGET);
	if (r != want)
		fail("daxo_get_many found %d keys, the model %d: %s", r, want,
		     r < 0 ? daxo_errormsg() : "");
	for (unsigned j = 0; j < NGET; j++) {
		unsigned ki = (i + NK - j) % NK;

		if (m.kver[ki] ? q[j].rc != 0 || cmp_value(ki, gm_buf[j],
							    q[j].vlen)
			       : q[j].rc != -ENOENT)
			fail("daxo_get_many: key%03u: rc %d, %zu bytes; the "
			     "model: version %u, %u bytes",
			     ki, q[j].rc, q[j].vlen, m.kver[ki], m.klen[ki]);
	}
}

static unsigned char seen[NK];

static int visit(const void *key, size_t klen, const void *val, size_t vlen,
		 void *arg)
{
	unsigned i;

	(void)arg;
	if (klen != 6 || memcmp(key, "key", 3) ||
	    sscanf((const char *)key + 3, "%3u", &i) != 1 || i >= NK) {
		fail("daxo_foreach handed out an unknown key (%zu bytes)",
		     klen);
		return 0;
	}
	if (seen[i]++)
		fail("daxo_foreach handed out key%03u twice", i);
	if (!m.kver[i])
		fail("daxo_foreach handed out key%03u, which is absent", i);
	else if (cmp_value(i, val, vlen))
		fail("daxo_foreach: key%03u holds the wrong value", i);
	return 0;
}

static void foreach_step(void)
{
	int r;

	memset(seen, 0, sizeof(seen));
	r = CALL(daxo_foreach(p, visit, NULL));
	if (!ok("daxo_foreach", r))
		return;
	for (unsigned i = 0; i < NK; i++)
		if (m.kver[i] && !seen[i])
			fail("daxo_foreach did not hand out key%03u", i);
}

static void heap_info_step(void)
{
	static struct daxo_heap_info hi;
	int r = CALL(daxo_heap_info(p, &hi));

	if (ok("daxo_heap_info", r) &&
	    (hi.heap_bytes == 0 || hi.free_bytes > hi.heap_bytes ||
	     hi.largest_alloc > hi.free_bytes))
		fail("daxo_heap_info: heap %" PRIu64 ", free %" PRIu64
		     ", largest %" PRIu64,
		     hi.heap_bytes, hi.free_bytes, hi.largest_alloc);
}

static void compact_step(void)
{
	struct daxo_defrag_result res;
	int r = CALL(daxo_kv_compact(p, &res));

	ok("daxo_kv_compact", r);
	check_keys("after daxo_kv_compact");
}

static void defrag_step(void)
{
	daxo_oid *places[NT + NA];
	struct daxo_defrag_result res;
	int r;

	for (unsigned k = 0; k < NT; k++)
		places[k] = &rt->tobj[k];
	for (unsigned k = 0; k < NA; k++)
		places[NT + k] = &rt->aobj[k];
	r = CALL(daxo_heap_defrag(p, places, NT + NA, &res));
	ok("daxo_heap_defrag", r);
	check_objs("after daxo_heap_defrag");
}

/* ---- setup steps that must succeed for the run to go on ---- */

/*
 * retry -- repeat @fn until it succeeds: a clean failure is retried (in
 * persist mode every call fails from now on: after two tries the injection
 * stops, so that the rest of the workload still runs)
 */
#define RETRY(name, expr)                                                      \
	({                                                                     \
		int r_, tries_ = 0;                                            \
		while ((r_ = CALL(expr)) != 0 && ok(name, r_) == 0 &&          \
		       r_ == -ENOMEM) {                                        \
			if (++tries_ >= 2)                                     \
				nomem_stop();                                  \
		}                                                              \
		r_;                                                            \
	})

static void nomem_stop(void)
{
#ifndef NOMEM_SKIP
	nomem_disarm();
#endif
}

static int load_root(uint64_t size)
{
	daxo_oid ro;
	int r = RETRY("daxo_root", daxo_root(p, size, &ro));

	if (r)
		return r;
	rt = daxo_direct(p, ro);
	return 0;
}

/*
 * map_nomem -- @r of daxo_create or daxo_open, with libpmem's answer to
 * an allocation of its own that failed taken for -ENOMEM: pmem_map_file
 * then reports a failed stat ("negative size") with EINVAL, which libdaxo
 * passes on as -EINVAL ("cannot map: ..."). libdaxo cannot tell that from
 * a file it cannot map without reading libpmem's message, so it is left
 * so: an -EINVAL from the mapping while an allocation failed in the call is
 * a clean failure (and one the contract lists for both functions).
 */
static int map_nomem(int r)
{
	if (r == -EINVAL && nomem_failed() != f0 &&
	    strstr(daxo_errormsg(), "cannot map"))
		return -ENOMEM;
	return r;
}

static int create_pool(void)
{
	int r;

	for (int tries = 0;; tries++) {
		r = CALL(
		    map_nomem(daxo_create(path, "nomem", POOL_SIZE, 0600, &p)));
		if (r == 0)
			break;
		if (!ok("daxo_create", r) && r != -ENOMEM)
			return r;
		if (access(path, F_OK) == 0) {
			fail("a failed daxo_create (%d) left %s behind", r,
			     path);
			unlink(path);
		}
		if (tries >= 1)
			nomem_stop();
	}
	m.root_size = ROOT_SIZE;
	return load_root(ROOT_SIZE);
}

static int reopen(const char *when)
{
	int r = daxo_close(p);

	p = NULL;
	rt = NULL;
	if (r) {
		report("UNEXPECTED: daxo_close %s returned %d: %s", when, r,
		       daxo_errormsg());
		unexpected++;
	}
	r = RETRY("daxo_open", map_nomem(daxo_open(path, "nomem", 0, &p)));
	if (r) {
		report("%s: daxo_open failed: %d %s", when, r, daxo_errormsg());
		return r;
	}
	return load_root(0);
}

/* check_step -- daxo_check of the closed pool: consistent, or -ENOMEM */
static void check_cb(int sev, uint64_t off, const char *msg, void *arg)
{
	(void)arg;
	if (sev != DAXO_CHECK_INFO)
		report("daxo_check: severity %d at 0x%" PRIx64 ": %s", sev, off,
		       msg);
}

static void check_step(const char *when)
{
	int r = CALL(daxo_check(path, 0, check_cb, NULL));

	if (r > 0)
		fail("%s: daxo_check found the pool inconsistent (%d)", when,
		     r);
	else if (r < 0)
		ok("daxo_check", r);
}

/* ---- a thread's transaction and put ---- */

struct thr {
	uint64_t v;
	int tx_ok, put_ok, began;
	uint32_t ver, len;
};

static void *thread_main(void *arg)
{
	struct thr *t = arg;
	daxo_tx *tx;
	char k[16];
	static char tv[VMAX + 64];

	if (daxo_tx_begin(p, &tx) == 0) {
		t->began = 1;
		if (daxo_tx_add_range(tx, &rt->a[3], 8) == 0) {
			rt->a[3] = t->v;
			t->tx_ok = daxo_tx_commit(tx);
		} else {
			daxo_tx_abort(tx);
			t->tx_ok = 1;
		}
	}
	fill(tv, NK - 1, t->ver, t->len);
	t->put_ok = daxo_put(p, k, (size_t)keyname(k, NK - 1), tv, t->len);
	return NULL;
}

static void thread_step(unsigned i)
{
	pthread_t th;
	struct thr t = {.v = 5000 + i, .tx_ok = 1};
	long before = nomem_failed();

	t.ver = ++next_ver[NK - 1];
	t.len = vlen_of(NK - 1, t.ver);
	if (pthread_create(&th, NULL, thread_main, &t))
		return; /* (its allocation failed) */
	pthread_join(th, NULL);
	/* the thread's failures: -ENOMEM only if an allocation failed */
	f0 = before;
	if (t.tx_ok == 0)
		m.a[3] = t.v;
	else if (t.tx_ok != 1)
		ok("daxo_tx_commit (thread)", t.tx_ok);
	if (ok("daxo_put (thread)", t.put_ok)) {
		m.kver[NK - 1] = t.ver;
		m.klen[NK - 1] = t.len;
	}
	check_root("after the thread");
	check_key(NK - 1, "after the thread");
}

static int grow_root(void)
{
	daxo_oid ro;
	int r = CALL(daxo_root(p, ROOT_GROWN, &ro));

	if (ok("daxo_root (grow)", r)) {
		rt = daxo_direct(p, ro);
		m.root_size = ROOT_GROWN;
	} else if (r == -ENOMEM) {
		r = daxo_root(p, 0, &ro);
		if (r)
			return r;
		rt = daxo_direct(p, ro);
	}
	check_all("after growing the root", false);
	return 0;
}

/* ---- the workload ---- */

static int workload(void)
{
	if (create_pool())
		return 3;
	for (unsigned i = 0; i < NK; i++) {
		put_key(i);
		if (i % 7 == 6)
			del_key(i - 3);
		if (i % 3 == 0)
			tx_step(i, (i / 3) % NT, i % 2 == 1, i % 15 == 12,
				i % 4 == 0 ? 9 : 1);
		if (i % 11 == 5)
			atomic_step(i, (i / 11) % NA);
		if (i % 50 == 49)
			get_many_step(i);
		if (i % 40 == 20)
			put_key(i / 2); /* a replacement */
		if (i == 100)
			heap_info_step();
		if (i == 150)
			thread_step(i);
		if (i == 200 && grow_root())
			return 3;
		if (i == 250) {
			daxo_close(p);
			p = NULL;
			check_step("daxo_check in the middle");
			if (reopen("in the middle") == 0)
				check_all("after reopening", true);
			if (!p)
				return 3;
			put_key(0);
		}
		if (i == 300)
			foreach_step();
	}
	for (unsigned i = 0; i < NK; i += 3)
		del_key(i); /* sparse runs for the compaction */
	compact_step();
	for (unsigned k = 0; k < NA; k += 2)
		if (rt->aobj[k]) {
			int r = CALL(daxo_free(p, &rt->aobj[k]));

			if (ok("daxo_free", r))
				m.asig[k] = 0;
		}
	defrag_step();
	heap_info_step();
	foreach_step();
	return 0;
}

/*
 * health -- with nothing failing, the handle works everywhere: a put and
 * a delete on every key (the keyed store's stripes), a transaction with an
 * allocation, an atomic allocation
 */
static void health(void)
{
	for (unsigned i = 0; i < NK; i++) {
		put_key(i);
		if (i % 5 == 0)
			del_key(i);
	}
	for (unsigned k = 0; k < NT; k++)
		tx_step(NK + k, k, k % 2, false, k % 3 ? 1 : 9);
	for (unsigned k = 0; k < NA; k++)
		atomic_step(NK + k, k);
	foreach_step();
}

int main(int argc, char **argv)
{
	long n = -1;
	bool count;
	int rc;

	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	if (argc < 3 || (strcmp(argv[1], "count") && argc < 5)) {
		fprintf(stderr,
			"usage: %s count POOL | run POOL N once|persist\n",
			argv[0]);
		return 3;
	}
#ifdef NOMEM_SKIP
	/* built, not run: what the other branch uses stays referenced */
	(void)n;
	(void)count;
	(void)rc;
	(void)persist_mode;
	(void)workload;
	(void)health;
	printf("SKIP: %s\n", NOMEM_SKIP);
	return 77;
#else
	test_env();
	count = strcmp(argv[1], "count") == 0;
	path = argv[2];
	if (!count) {
		n = atol(argv[3]);
		persist_mode = strcmp(argv[4], "persist") == 0;
	}
	unlink(path);
	/* the shim interposes: an armed allocation fails */
	nomem_arm(0, 0);
	{
		void *volatile x = malloc(16);
		long failed = nomem_failed();

		free(x);
		if (x || failed != 1) {
			printf("the allocation-failure shim does not interpose "
			       "malloc (is it linked before libc?)\n");
			return 3;
		}
	}
	/*
	 * libpmem allocates a thread's error-message buffer at its first
	 * error, and aborts (FATAL "!malloc") when that allocation fails: in
	 * persist mode its first error would end the process there, a limit
	 * of libpmem that libdaxo cannot avoid while it maps pools through
	 * pmem_map_file. Asking for the message now allocates the buffer.
	 */
	(void)pmem_errormsg();
	nomem_arm(n, persist_mode);
	rc = workload();
	long calls = nomem_calls(), failed = nomem_failed();

	nomem_disarm();
	if (rc == 0) {
		check_all("with failures off", true);
		if (reopen("after the workload") == 0) {
			check_all("after reopening", true);
			health();
			if (reopen("after the health check") == 0) {
				check_all("after the last reopen", true);
				daxo_close(p);
				p = NULL;
				check_step("the final daxo_check");
			} else {
				rc = 3;
			}
		} else {
			rc = 3;
		}
	}
	if (count)
		printf("allocations %ld\n", calls);
	else
		printf("n=%ld %s: %ld allocation calls, %ld failed; %d "
		       "unexpected errors, %d inconsistencies\n",
		       n, persist_mode ? "persist" : "once", calls, failed,
		       unexpected, bad);
	unlink(path);
	if (rc)
		return rc;
	return bad ? 1 : unexpected ? 2 : 0;
#endif
}
