/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tx.c -- libpmemobj transactions on daxo transactions.
 *
 * Each thread has one transaction context: the pool, the daxo
 * transaction (begun by the outermost block), the stage, the error, and a
 * stack of blocks (frames), one per pmemobj_tx_begin not yet ended, each
 * with the jmp_buf to return to on abort. The stage belongs to the
 * thread, not to a block: a nested block's commit only moves the stage to
 * ONCOMMIT and on to NONE; pmemobj_tx_end then resumes the enclosing
 * block in WORK. An abort in any block aborts the daxo transaction when
 * it reaches the outermost block: the aborting block runs its ONABORT
 * and FINALLY clauses, and its pmemobj_tx_end aborts the enclosing block
 * in turn (jumping to that block's jmp_buf), up to the outermost, which
 * rolls back.
 *
 * pmemobj_tx_add_range keeps the ranges snapshot so far (and the new
 * objects of the transaction) as sorted, disjoint intervals: a range
 * already covered costs neither a snapshot nor a fence, which is what a
 * program that adds the same node at every level of a B-tree expects.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include "pmemobj_int.h"

struct frame {
	struct __jmp_buf_tag *env; /* NULL: errors are returned */
	enum pobj_tx_failure_behavior fb;
	/* a block begun outside WORK: on its end the thread returns to */
	bool detached;
	enum pobj_tx_stage resume;
	int saved_err;
};

struct lockent {
	enum pobj_tx_param type;
	void *lock;
};

struct range {
	uint64_t off, end;
};

#define INLINE_FRAMES 16

struct ctx {
	PMEMobjpool *pop;
	daxo_tx *tx; /* NULL once committed or rolled back */
	enum pobj_tx_stage stage;
	int err;
	unsigned depth, capfr;
	struct frame *fr;
	struct frame inl[INLINE_FRAMES];
	struct lockent *locks;
	size_t nlocks, caplocks;
	pmemobj_tx_callback cb;
	void *cb_arg;
	void *user_data;
	struct range *ns; /* NO_SNAPSHOT ranges, persisted before commit */
	size_t nns, capns;
	uint64_t ns_lo, ns_hi; /* the span of the NO_SNAPSHOT ranges */
	struct range *fl; /* objects of alloc_apart, persisted before commit */
	size_t nfl, capfl;
	bool published; /* pmemobj_tx_publish was called */
	bool cleanup;   /* the thread-exit destructor is registered */
};

static __thread struct ctx C;

#ifdef CX_PLANT_LAZY_COMMIT
/*
 * planted bug (tests/compat): a "group commit" that commits a transaction
 * only when the thread begins the next one -- so the last transaction a
 * program was told had committed is lost by a crash
 */
static __thread daxo_tx *lazy_tx;
#endif
static pthread_key_t ctx_key;
static pthread_once_t ctx_once = PTHREAD_ONCE_INIT;

static void ctx_free(void *arg)
{
	struct ctx *c = arg;

	if (c->fr != c->inl)
		free(c->fr);
	free(c->locks);
	free(c->ns);
	free(c->fl);
}

static void ctx_key_init(void)
{
	pthread_key_create(&ctx_key, ctx_free);
}

/* grow -- make room for @need elements in *@arr of capacity *@cap */
static int grow(void *arr, size_t *cap, size_t need, size_t elsz)
{
	void **a = arr;
	struct ctx *c = &C;

	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap * 2 : 16;
	while (n < need)
		n *= 2;
	void *p = realloc(*a, n * elsz);
	if (!p)
		return ENOMEM;
	*a = p;
	*cap = n;
	if (!c->cleanup) {
		pthread_once(&ctx_once, ctx_key_init);
		pthread_setspecific(ctx_key, c);
		c->cleanup = true;
	}
	return 0;
}

daxo_tx *cx_tx_open(const PMEMobjpool *pop)
{
	return C.stage != TX_STAGE_NONE && C.pop == pop ? C.tx : NULL;
}

static inline struct frame *top(struct ctx *c)
{
	return &c->fr[c->depth - 1];
}

/* fire -- the stage callback, for the outermost block only */
static void fire(struct ctx *c)
{
	if (c->cb && c->depth == 1)
		c->cb(c->pop, c->stage, c->cb_arg);
}

static void forget_ranges(struct ctx *c)
{
	c->nns = 0;
	c->nfl = 0;
	c->ns_lo = UINT64_MAX;
	c->ns_hi = 0;
}

/*
 * abort_now -- abort with @err (0: ECANCELED): the outermost block rolls
 * the daxo transaction back; every block moves to ONABORT and jumps to
 * its jmp_buf if it has one, else returns @err.
 */
static int abort_now(struct ctx *c, int err)
{
	if (!err)
		err = ECANCELED;
	c->stage = TX_STAGE_ONABORT;
	if (c->depth == 1) {
		if (c->tx)
			daxo_tx_abort(c->tx);
		c->tx = NULL;
		forget_ranges(c);
		if (c->published)
			cx_resv_tx_end(c->pop, false);
		c->published = false;
	}
	c->err = err;
	errno = err;
	fire(c);
	struct frame *f = top(c);
	if (f->env)
		longjmp(f->env, err);
	return err;
}

/* fail -- a call failed with @err: abort, unless told to return */
static int fail(struct ctx *c, int err, uint64_t flags)
{
	errno = err;
	if ((flags & POBJ_FLAG_TX_NO_ABORT) ||
	    top(c)->fb == POBJ_TX_FAILURE_RETURN)
		return err;
	return abort_now(c, err);
}

/* in_work -- is the thread in a transaction's WORK stage? */
static bool in_work(struct ctx *c, const char *fn)
{
	if (c->stage == TX_STAGE_WORK)
		return true;
	cx_err(EINVAL, "%s: no transaction in its WORK stage on this thread",
	       fn);
	return false;
}

static int push(struct ctx *c, struct __jmp_buf_tag *env,
		enum pobj_tx_failure_behavior fb)
{
	if (!c->fr) {
		c->fr = c->inl;
		c->capfr = INLINE_FRAMES;
	}
	if (c->depth == c->capfr) {
		unsigned n = c->capfr * 2;
		struct frame *f = malloc(n * sizeof(*f));
		if (!f)
			return ENOMEM;
		memcpy(f, c->fr, c->depth * sizeof(*f));
		if (c->fr != c->inl)
			free(c->fr);
		c->fr = f;
		c->capfr = n;
		if (!c->cleanup) {
			pthread_once(&ctx_once, ctx_key_init);
			pthread_setspecific(ctx_key, c);
			c->cleanup = true;
		}
	}
	struct frame *f = &c->fr[c->depth++];
	f->env = env;
	f->fb = fb;
	f->detached = false;
	f->resume = TX_STAGE_WORK;
	f->saved_err = 0;
	return 0;
}

/* add_lock -- take @lock for the rest of the transaction (once) */
static int add_lock(struct ctx *c, enum pobj_tx_param type, void *lock)
{
	int ret;

	for (size_t i = 0; i < c->nlocks; i++)
		if (c->locks[i].lock == lock)
			return 0;
	if (grow(&c->locks, &c->caplocks, c->nlocks + 1, sizeof(*c->locks)))
		return ENOMEM;
	if (type == TX_PARAM_MUTEX)
		ret = pmemobj_mutex_lock(c->pop, lock);
	else if (type == TX_PARAM_RWLOCK)
		ret = pmemobj_rwlock_wrlock(c->pop, lock);
	else
		return EINVAL;
	if (ret)
		return ret;
	c->locks[c->nlocks].type = type;
	c->locks[c->nlocks].lock = lock;
	c->nlocks++;
	return 0;
}

static void release_locks(struct ctx *c)
{
	while (c->nlocks) {
		struct lockent *l = &c->locks[--c->nlocks];
		if (l->type == TX_PARAM_MUTEX)
			pmemobj_mutex_unlock(c->pop, l->lock);
		else
			pmemobj_rwlock_unlock(c->pop, l->lock);
	}
}

CX_EXPORT int pmemobj_tx_begin(PMEMobjpool *pop, jmp_buf env, ...)
{
	struct ctx *c = &C;
	va_list ap;
	int ret;

	if (c->stage == TX_STAGE_WORK) {
		if (pop != c->pop) {
			cx_err(EINVAL, "pmemobj_tx_begin: a nested transaction "
				       "on another pool");
			return abort_now(c, EINVAL);
		}
		ret = push(c, env, top(c)->fb);
		if (ret)
			return abort_now(c, ret);
	} else if (c->stage == TX_STAGE_NONE && pop) {
		ret = push(c, env, POBJ_TX_FAILURE_ABORT);
		if (ret) {
			/* not even a frame: TX_END finds no transaction */
			cx_err(ret, "pmemobj_tx_begin: out of memory");
			return ret;
		}
		c->pop = pop;
		c->user_data = NULL;
		c->published = false;
		forget_ranges(c);
#ifdef CX_PLANT_LAZY_COMMIT
		if (lazy_tx)
			daxo_tx_commit(lazy_tx);
		lazy_tx = NULL;
#endif
		ret = daxo_tx_begin(pop->dp, &c->tx);
		if (ret) {
			/* the block runs its ONABORT clause; no jump */
			c->tx = NULL;
			cx_daxo(ret, "pmemobj_tx_begin");
			c->stage = TX_STAGE_ONABORT;
			c->err = -ret;
			return -ret;
		}
		c->stage = TX_STAGE_WORK;
	} else {
		/*
		 * In a clause (ONCOMMIT, ONABORT, FINALLY) or without a pool:
		 * a block that only runs its ONABORT and FINALLY clauses and
		 * then returns the thread to where it was.
		 */
		enum pobj_tx_stage was = c->stage;
		ret = push(c, NULL, POBJ_TX_FAILURE_RETURN);
		if (ret)
			return ret;
		top(c)->detached = true;
		top(c)->resume = was;
		top(c)->saved_err = c->err;
		c->stage = TX_STAGE_ONABORT;
		c->err = EINVAL;
		cx_err(EINVAL, "pmemobj_tx_begin: %s",
		       pop ? "a transaction may begin only where none is open "
			     "or in its WORK stage"
			   : "NULL pool");
		return EINVAL;
	}
	c->err = 0;
	va_start(ap, env);
	for (;;) {
		enum pobj_tx_param t = va_arg(ap, enum pobj_tx_param);
		if (t == TX_PARAM_NONE)
			break;
		if (t == TX_PARAM_CB) {
			pmemobj_tx_callback cb = va_arg(ap, pmemobj_tx_callback);
			void *arg = va_arg(ap, void *);
			if (c->cb && (c->cb != cb || c->cb_arg != arg)) {
				va_end(ap);
				cx_err(EINVAL, "pmemobj_tx_begin: a callback is "
					       "set already for this "
					       "transaction");
				return abort_now(c, EINVAL);
			}
			c->cb = cb;
			c->cb_arg = arg;
		} else if (t == TX_PARAM_MUTEX || t == TX_PARAM_RWLOCK) {
			ret = add_lock(c, t, va_arg(ap, void *));
			if (ret) {
				va_end(ap);
				cx_err(ret, "pmemobj_tx_begin: taking a lock "
					    "failed");
				return abort_now(c, ret);
			}
		} else {
			va_end(ap);
			cx_err(EINVAL, "pmemobj_tx_begin: unknown parameter %d",
			       (int)t);
			return abort_now(c, EINVAL);
		}
	}
	va_end(ap);
	return 0;
}

CX_EXPORT enum pobj_tx_stage pmemobj_tx_stage(void)
{
	return C.stage;
}

CX_EXPORT int pmemobj_tx_errno(void)
{
	return C.err;
}

CX_EXPORT void pmemobj_tx_abort(int errnum)
{
	struct ctx *c = &C;

	if (!in_work(c, "pmemobj_tx_abort"))
		return;
	cx_err(errnum ? errnum : ECANCELED, "explicit transaction abort");
	abort_now(c, errnum);
}

CX_EXPORT void pmemobj_tx_commit(void)
{
	struct ctx *c = &C;

	if (!in_work(c, "pmemobj_tx_commit"))
		return;
	fire(c);
	if (c->depth == 1) {
		for (size_t i = 0; i < c->nns; i++)
			daxo_flush(c->pop->dp, c->pop->base + c->ns[i].off,
				   c->ns[i].end - c->ns[i].off);
		for (size_t i = 0; i < c->nfl; i++)
			daxo_flush(c->pop->dp, c->pop->base + c->fl[i].off,
				   c->fl[i].end - c->fl[i].off);
		/* NO_SNAPSHOT ranges are changed in place: durable first */
		if (c->nns || c->nfl)
			daxo_drain(c->pop->dp);
#ifndef CX_PLANT_LAZY_COMMIT
		int ret = daxo_tx_commit(c->tx);
#else
		int ret = 0;
		lazy_tx = c->tx;
#endif
		c->tx = NULL; /* committed, or aborted by daxo */
		if (ret) {
			cx_daxo(ret, "pmemobj_tx_commit");
			abort_now(c, -ret);
			return;
		}
		forget_ranges(c);
		if (c->published)
			cx_resv_tx_end(c->pop, true);
		c->published = false;
	}
	c->stage = TX_STAGE_ONCOMMIT;
	fire(c);
}

CX_EXPORT int pmemobj_tx_end(void)
{
	struct ctx *c = &C;

	if (c->depth == 0) {
		cx_err(EINVAL, "pmemobj_tx_end: no transaction on this thread");
		return EINVAL;
	}
	if (c->stage == TX_STAGE_WORK) {
		/* ended without a commit: that is an abort, without a jump */
		cx_err(ECANCELED, "pmemobj_tx_end: called in the WORK stage "
				  "(no commit): the transaction aborts");
		top(c)->env = NULL;
		abort_now(c, ECANCELED);
	}
	struct frame f = *top(c);
	if (c->depth == 1 && c->cb && c->stage != TX_STAGE_FINALLY &&
	    c->stage != TX_STAGE_NONE) {
		c->stage = TX_STAGE_FINALLY;
		fire(c);
	}
	c->depth--;
	if (f.detached) {
		int e = c->err;
		c->stage = f.resume;
		c->err = f.saved_err;
		return e;
	}
	if (c->depth == 0) {
		PMEMobjpool *pop = c->pop;
		pmemobj_tx_callback cb = c->cb;
		void *arg = c->cb_arg;
		release_locks(c);
		c->cb = NULL;
		c->cb_arg = NULL;
		c->user_data = NULL;
		c->pop = NULL;
		c->stage = TX_STAGE_NONE;
		if (cb)
			cb(pop, TX_STAGE_NONE, arg);
		return c->err;
	}
	c->stage = TX_STAGE_WORK;
	/* an inner block aborted: the error reaches the enclosing one */
	if (c->err)
		return abort_now(c, c->err);
	return 0;
}

CX_EXPORT void pmemobj_tx_process(void)
{
	struct ctx *c = &C;

	switch (c->stage) {
	case TX_STAGE_WORK:
		pmemobj_tx_commit();
		break;
	case TX_STAGE_ONCOMMIT:
	case TX_STAGE_ONABORT:
		c->stage = TX_STAGE_FINALLY;
		fire(c);
		break;
	case TX_STAGE_FINALLY:
		c->stage = TX_STAGE_NONE;
		break;
	default:
		break;
	}
}

CX_EXPORT int pmemobj_tx_xlock(enum pobj_tx_param type, void *lockp,
			       uint64_t flags)
{
	struct ctx *c = &C;

	if (!in_work(c, "pmemobj_tx_xlock"))
		return EINVAL;
	if (flags & ~POBJ_XLOCK_VALID_FLAGS) {
		cx_err(EINVAL, "pmemobj_tx_xlock: unknown flags");
		return fail(c, EINVAL, flags);
	}
	int ret = add_lock(c, type, lockp);
	if (ret) {
		cx_err(ret, "pmemobj_tx_xlock: taking the lock failed");
		return fail(c, ret, flags);
	}
	return 0;
}

CX_EXPORT int pmemobj_tx_lock(enum pobj_tx_param type, void *lockp)
{
	return pmemobj_tx_xlock(type, lockp, POBJ_XLOCK_NO_ABORT);
}

/* ---- ranges ---- */

/*
 * A range the transaction covers already (added before, whole or in
 * pieces, or inside an object it allocated) costs nothing: daxo_tx_add_range
 * logs only what is new, so the layer keeps no covered set of its own.
 *
 * A range added with POBJ_XADD_NO_SNAPSHOT is covered too, for the rest
 * of the transaction: what is written in it is not rolled back, even
 * after a later add of a range over it without the flag. So such an add
 * snapshots only the parts that no NO_SNAPSHOT range covers (snapshot).
 */

/* snapshot -- daxo_tx_add_range of [off, end) but the NO_SNAPSHOT ranges */
static int snapshot(struct ctx *c, uint64_t off, uint64_t end)
{
	while (off < end) {
		uint64_t next = end; /* where the next NO_SNAPSHOT range starts */
		bool covered = false;
		for (size_t i = 0; i < c->nns; i++) {
			const struct range *r = &c->ns[i];
			if (r->off <= off && off < r->end) {
				off = r->end;
				covered = true;
				break;
			}
			if (r->off > off && r->off < next)
				next = r->off;
		}
		if (covered)
			continue;
		int ret = daxo_tx_add_range(c->tx, c->pop->base + off,
					    next - off);
		if (ret)
			return ret;
		off = next;
	}
	return 0;
}

static int add_common(struct ctx *c, const char *fn, const void *ptr,
		      size_t size, uint64_t flags)
{
	PMEMobjpool *pop = c->pop;

	if (flags & ~POBJ_XADD_VALID_FLAGS) {
		cx_err(EINVAL, "%s: unknown flags 0x%llx", fn,
		       (unsigned long long)(flags & ~POBJ_XADD_VALID_FLAGS));
		return fail(c, EINVAL, flags);
	}
	if (!cx_in_pool(pop, ptr, size)) {
		cx_err(EINVAL, "%s: %p+%zu is not inside the pool %s", fn, ptr,
		       size, pop->path);
		return fail(c, EINVAL, flags);
	}
	if (size == 0)
		return 0;
	uint64_t off = (uint64_t)((const char *)ptr - pop->base);
	if (flags & POBJ_XADD_NO_SNAPSHOT) {
		/* not rolled back on abort; durable at commit */
		if (grow(&c->ns, &c->capns, c->nns + 1, sizeof(*c->ns))) {
			cx_err(ENOMEM, "%s: out of memory", fn);
			return fail(c, ENOMEM, flags);
		}
		c->ns[c->nns].off = off;
		c->ns[c->nns].end = off + size;
		c->nns++;
		if (off < c->ns_lo)
			c->ns_lo = off;
		if (off + size > c->ns_hi)
			c->ns_hi = off + size;
		return 0;
	}
	/* the scan only for a range the NO_SNAPSHOT ones may meet */
	int ret = off < c->ns_hi && off + size > c->ns_lo
			  ? snapshot(c, off, off + size)
			  : daxo_tx_add_range(c->tx, (void *)ptr, size);
	if (ret) {
		cx_daxo(ret, fn);
		return fail(c, ret == -ENOSPC ? ENOMEM : -ret, flags);
	}
	return 0;
}

CX_EXPORT int pmemobj_tx_xadd_range_direct(const void *ptr, size_t size,
					   uint64_t flags)
{
	struct ctx *c = &C;

	if (!in_work(c, "pmemobj_tx_add_range_direct"))
		return EINVAL;
	return add_common(c, "pmemobj_tx_add_range_direct", ptr, size, flags);
}

CX_EXPORT int pmemobj_tx_add_range_direct(const void *ptr, size_t size)
{
	return pmemobj_tx_xadd_range_direct(ptr, size, 0);
}

CX_EXPORT int pmemobj_tx_xadd_range(PMEMoid oid, uint64_t off, size_t size,
				    uint64_t flags)
{
	struct ctx *c = &C;

	if (!in_work(c, "pmemobj_tx_add_range"))
		return EINVAL;
	if (oid.pool_uuid_lo != c->pop->uuid_lo || oid.off + off < oid.off) {
		cx_err(EINVAL, "pmemobj_tx_add_range: the object is not in "
			       "the transaction's pool");
		return fail(c, EINVAL, flags);
	}
	return add_common(c, "pmemobj_tx_add_range",
			  c->pop->base + oid.off + off, size, flags);
}

CX_EXPORT int pmemobj_tx_add_range(PMEMoid oid, uint64_t off, size_t size)
{
	return pmemobj_tx_xadd_range(oid, off, size, 0);
}

/* ---- allocation ---- */

/*
 * alloc_apart -- an allocation that may fail without aborting the
 * transaction (POBJ_XALLOC_NO_ABORT, POBJ_TX_FAILURE_RETURN). A failed
 * daxo_tx_alloc leaves the daxo transaction able only to abort, so the
 * object is reserved apart from it instead (pmemobj_xreserve, zeroed, as
 * daxo_tx_alloc's are: a fence of its own; after a crash its slot frees
 * it) and published in the transaction as pmemobj_tx_publish does (an
 * abort frees it). Like a new object of the transaction, its bytes are
 * made durable at commit (c->fl); unlike one, a range of it that the
 * program adds is snapshot (useless, as an abort frees it, but correct).
 * 0 and *@off, or an error number.
 */
static int alloc_apart(struct ctx *c, size_t size, uint64_t type_num,
		       uint64_t flags, daxo_oid *off)
{
	struct pobj_action act;

	if (grow(&c->fl, &c->capfl, c->nfl + 1, sizeof(*c->fl))) {
		cx_err(ENOMEM, "pmemobj_tx_alloc: out of memory");
		return ENOMEM;
	}
	PMEMoid o = pmemobj_xreserve(c->pop, &act, size, type_num,
				     (flags & POBJ_XALLOC_CLASS_MASK) |
					     POBJ_XALLOC_ZERO);
	if (OID_IS_NULL(o))
		return errno;
	int ret = cx_resv_tx_publish(c->pop, c->tx, &act, 1);
	c->published = true;
	if (ret) {
		pmemobj_cancel(c->pop, &act, 1); /* not staged: still ours */
		return ret;
	}
	c->fl[c->nfl].off = o.off;
	c->fl[c->nfl].end = o.off + act.heap.usable_size;
	c->nfl++;
	*off = o.off;
	return 0;
}

static PMEMoid tx_alloc(const char *fn, size_t size, uint64_t type_num,
			uint64_t flags)
{
	struct ctx *c = &C;
	uint32_t dtype = 0;
	daxo_oid off;
	int ret;

	if (!in_work(c, fn))
		return OID_NULL;
	if (size == 0 || (flags & ~POBJ_TX_XALLOC_VALID_FLAGS)) {
		cx_err(EINVAL, "%s: size 0 or unknown flags", fn);
		fail(c, EINVAL, flags);
		return OID_NULL;
	}
	if (size > PMEMOBJ_MAX_ALLOC_SIZE) {
		cx_err(ENOMEM, "%s: %zu bytes is too large", fn, size);
		fail(c, ENOMEM, flags);
		return OID_NULL;
	}
	if (cx_alloc_type(c->pop, type_num, flags, &size, &dtype)) {
		fail(c, errno, flags);
		return OID_NULL;
	}
	if ((flags & POBJ_XALLOC_NO_ABORT) ||
	    top(c)->fb == POBJ_TX_FAILURE_RETURN) {
		/* the message is pmemobj_reserve's */
		ret = alloc_apart(c, size, type_num, flags, &off);
		if (ret) {
			fail(c, ret, flags);
			return OID_NULL;
		}
		return cx_oid(c->pop, off);
	}
	/* daxo_tx_alloc zeroes: POBJ_XALLOC_ZERO needs nothing more */
	ret = daxo_tx_alloc(c->tx, size, dtype, &off);
	if (ret) {
		cx_err(cx_alloc_errno(ret), "%s: %s", fn, daxo_errormsg());
		fail(c, cx_alloc_errno(ret), flags);
		return OID_NULL;
	}
	return cx_oid(c->pop, off);
}

CX_EXPORT PMEMoid pmemobj_tx_alloc(size_t size, uint64_t type_num)
{
	return tx_alloc("pmemobj_tx_alloc", size, type_num, 0);
}

CX_EXPORT PMEMoid pmemobj_tx_zalloc(size_t size, uint64_t type_num)
{
	return tx_alloc("pmemobj_tx_zalloc", size, type_num, POBJ_XALLOC_ZERO);
}

CX_EXPORT PMEMoid pmemobj_tx_xalloc(size_t size, uint64_t type_num,
				    uint64_t flags)
{
	return tx_alloc("pmemobj_tx_xalloc", size, type_num, flags);
}

CX_EXPORT int pmemobj_tx_xfree(PMEMoid oid, uint64_t flags)
{
	struct ctx *c = &C;

	if (!in_work(c, "pmemobj_tx_free"))
		return EINVAL;
	if (flags & ~POBJ_XFREE_VALID_FLAGS) {
		cx_err(EINVAL, "pmemobj_tx_free: unknown flags");
		return fail(c, EINVAL, flags);
	}
	if (OID_IS_NULL(oid))
		return 0;
	if (oid.pool_uuid_lo != c->pop->uuid_lo) {
		cx_err(EINVAL, "pmemobj_tx_free: the object is not in the "
			       "transaction's pool");
		return fail(c, EINVAL, flags);
	}
	/*
	 * checked here, not left to daxo: a failed daxo_tx_free would leave
	 * the transaction able only to abort, also with NO_ABORT
	 */
	uint32_t t = daxo_oid_type(c->pop->dp, oid.off);
	if (t == UINT32_MAX || t == DAXO_TYPE_ROOT || t == CT_RESV ||
	    cx_resv_unpublished(c->pop, oid.off)) {
		cx_err(EINVAL, "pmemobj_tx_free: offset %llu is not an object "
			       "the program may free (the root, or a "
			       "reservation not published: cancel it)",
		       (unsigned long long)oid.off);
		return fail(c, EINVAL, flags);
	}
	int ret = daxo_tx_free(c->tx, oid.off);
	if (ret) {
		cx_daxo(ret, "pmemobj_tx_free");
		return fail(c, -ret, flags);
	}
	return 0;
}

CX_EXPORT int pmemobj_tx_free(PMEMoid oid)
{
	return pmemobj_tx_xfree(oid, 0);
}

static PMEMoid tx_realloc(const char *fn, PMEMoid oid, size_t size,
			  uint64_t type_num, bool zero)
{
	struct ctx *c = &C;
	uint32_t dtype = 0;
	daxo_oid n;

	if (!in_work(c, fn))
		return OID_NULL;
	if (OID_IS_NULL(oid))
		return tx_alloc(fn, size, type_num, zero ? POBJ_XALLOC_ZERO : 0);
	if (oid.pool_uuid_lo != c->pop->uuid_lo ||
	    cx_resv_unpublished(c->pop, oid.off)) {
		cx_err(EINVAL, "%s: the object is not in the transaction's "
			       "pool, or is a reservation not published",
		       fn);
		fail(c, EINVAL, 0);
		return OID_NULL;
	}
	if (size && cx_alloc_type(c->pop, type_num, 0, &size, &dtype)) {
		fail(c, errno, 0);
		return OID_NULL;
	}
	/* contents moved (the added part zeroed for zrealloc), old freed at
	 * commit; kept where it fits; objects of this transaction too */
	int ret = daxo_tx_realloc(c->tx, oid.off, size, dtype,
				  zero ? DAXO_ALLOC_ZERO : 0, &n);
	if (ret) {
		cx_err(cx_alloc_errno(ret), "%s: %s", fn, daxo_errormsg());
		fail(c, cx_alloc_errno(ret), 0);
		return OID_NULL;
	}
	return cx_oid(c->pop, n);
}

CX_EXPORT PMEMoid pmemobj_tx_realloc(PMEMoid oid, size_t size,
				     uint64_t type_num)
{
	return tx_realloc("pmemobj_tx_realloc", oid, size, type_num, false);
}

CX_EXPORT PMEMoid pmemobj_tx_zrealloc(PMEMoid oid, size_t size,
				      uint64_t type_num)
{
	return tx_realloc("pmemobj_tx_zrealloc", oid, size, type_num, true);
}

static PMEMoid tx_dup(const char *fn, const void *s, size_t len,
		      uint64_t type_num, uint64_t flags)
{
	struct ctx *c = &C;

	if (!in_work(c, fn))
		return OID_NULL;
	if (!s) {
		cx_err(EINVAL, "%s: NULL string", fn);
		fail(c, EINVAL, flags);
		return OID_NULL;
	}
	PMEMoid n = tx_alloc(fn, len, type_num, flags);
	if (!OID_IS_NULL(n))
		memcpy(c->pop->base + n.off, s, len); /* a new object */
	return n;
}

CX_EXPORT PMEMoid pmemobj_tx_xstrdup(const char *s, uint64_t type_num,
				     uint64_t flags)
{
	return tx_dup("pmemobj_tx_strdup", s, s ? strlen(s) + 1 : 0, type_num,
		      flags);
}

CX_EXPORT PMEMoid pmemobj_tx_strdup(const char *s, uint64_t type_num)
{
	return pmemobj_tx_xstrdup(s, type_num, 0);
}

CX_EXPORT PMEMoid pmemobj_tx_xwcsdup(const wchar_t *s, uint64_t type_num,
				     uint64_t flags)
{
	return tx_dup("pmemobj_tx_wcsdup", s,
		      s ? (wcslen(s) + 1) * sizeof(wchar_t) : 0, type_num,
		      flags);
}

CX_EXPORT PMEMoid pmemobj_tx_wcsdup(const wchar_t *s, uint64_t type_num)
{
	return pmemobj_tx_xwcsdup(s, type_num, 0);
}

CX_EXPORT int pmemobj_tx_xpublish(struct pobj_action *actv, size_t actvcnt,
				  uint64_t flags)
{
	struct ctx *c = &C;

	if (!in_work(c, "pmemobj_tx_publish"))
		return EINVAL;
	if (flags & ~POBJ_XPUBLISH_VALID_FLAGS) {
		cx_err(EINVAL, "pmemobj_tx_publish: unknown flags");
		return fail(c, EINVAL, flags);
	}
	int ret = cx_resv_tx_publish(c->pop, c->tx, actv, actvcnt);
	/* what it staged, even if it failed, is settled at the end */
	c->published = true;
	if (ret)
		return fail(c, ret, flags);
	return 0;
}

CX_EXPORT int pmemobj_tx_publish(struct pobj_action *actv, size_t actvcnt)
{
	return pmemobj_tx_xpublish(actv, actvcnt, 0);
}

/* ---- the rest of the interface ---- */

CX_EXPORT int pmemobj_tx_xlog_append_buffer(enum pobj_log_type type,
					    void *addr, size_t size,
					    uint64_t flags)
{
	struct ctx *c = &C;

	if (!in_work(c, "pmemobj_tx_log_append_buffer"))
		return EINVAL;
	if ((type != TX_LOG_TYPE_SNAPSHOT && type != TX_LOG_TYPE_INTENT) ||
	    (flags & ~POBJ_XLOG_APPEND_BUFFER_VALID_FLAGS) ||
	    !cx_in_pool(c->pop, addr, size)) {
		cx_err(EINVAL, "pmemobj_tx_log_append_buffer: bad type, flags "
			       "or a buffer outside the pool");
		return fail(c, EINVAL, flags);
	}
	/* daxo's logs live in its lanes and grow into the pool on their own */
	return 0;
}

CX_EXPORT int pmemobj_tx_log_append_buffer(enum pobj_log_type type,
					   void *addr, size_t size)
{
	return pmemobj_tx_xlog_append_buffer(type, addr, size, 0);
}

CX_EXPORT int pmemobj_tx_log_auto_alloc(enum pobj_log_type type, int on_off)
{
	(void)type;
	(void)on_off;
	return in_work(&C, "pmemobj_tx_log_auto_alloc") ? 0 : EINVAL;
}

/* an undo entry: 32 bytes of header, the data padded to 8 */
CX_EXPORT size_t pmemobj_tx_log_snapshots_max_size(size_t *sizes,
						   size_t nsizes)
{
	size_t total = 64;

	for (size_t i = 0; i < nsizes; i++) {
		size_t e = 32 + ((sizes[i] + 7) & ~(size_t)7);
		if (e < sizes[i] || total + e < total) {
			cx_err(ERANGE, "pmemobj_tx_log_snapshots_max_size: "
				       "overflow");
			return SIZE_MAX;
		}
		total += e;
	}
	return total;
}

/* an intent: at most two 16-byte redo entries */
CX_EXPORT size_t pmemobj_tx_log_intents_max_size(size_t nintents)
{
	if (nintents > (SIZE_MAX - 64) / 32) {
		cx_err(ERANGE, "pmemobj_tx_log_intents_max_size: overflow");
		return SIZE_MAX;
	}
	return 64 + nintents * 32;
}

CX_EXPORT void pmemobj_tx_set_user_data(void *data)
{
	if (C.stage != TX_STAGE_NONE)
		C.user_data = data;
}

CX_EXPORT void *pmemobj_tx_get_user_data(void)
{
	return C.stage != TX_STAGE_NONE ? C.user_data : NULL;
}

CX_EXPORT void
pmemobj_tx_set_failure_behavior(enum pobj_tx_failure_behavior behavior)
{
	if (in_work(&C, "pmemobj_tx_set_failure_behavior"))
		top(&C)->fb = behavior;
}

CX_EXPORT enum pobj_tx_failure_behavior pmemobj_tx_get_failure_behavior(void)
{
	return C.depth ? top(&C)->fb : POBJ_TX_FAILURE_ABORT;
}
