/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lock.c -- locks kept in pool objects: daxo_mutex, daxo_rwlock,
 * daxo_cond (64 bytes each, as libpmemobj's PMEMmutex and friends).
 *
 * A lock lives in the pool, but its state means nothing after the
 * process that held it is gone: a restart must find it free without the
 * program resetting it. So each lock starts with a generation word, and
 * each open of the pool has a generation of its own (pool.c: lock_gen,
 * random, even). The first use of a lock in an open finds a stale word,
 * claims the set-up by swapping in gen + 1 ("being set up"), initializes
 * the pthread object in place and publishes gen; every later use sees gen
 * and goes straight to the pthread call (one load and compare). Threads
 * that find gen + 1 wait for the publish. Nothing here is flushed: the
 * state is volatile by nature, and a stale word is all a restart needs.
 * The pthread objects work in the shared mapping as in any memory: the
 * pool is one process's at a time (its lock).
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pool.h"

struct lk_mutex {
	uint64_t gen;
	uint64_t owner; /* self() of the holder, 0 if none */
	pthread_mutex_t m;
};
struct lk_rwlock {
	uint64_t gen;
	pthread_rwlock_t l;
};
struct lk_cond {
	uint64_t gen;
	pthread_cond_t c;
};
static_assert(sizeof(struct lk_mutex) <= sizeof(daxo_mutex), "daxo_mutex");
static_assert(sizeof(struct lk_rwlock) <= sizeof(daxo_rwlock), "daxo_rwlock");
static_assert(sizeof(struct lk_cond) <= sizeof(daxo_cond), "daxo_cond");

/*
 * setup_needed -- true if the caller must set up the lock whose generation
 * word is @gen (then setup_done); false once it is set up for @want
 */
static bool setup_needed(uint64_t *gen, uint64_t want)
{
	uint64_t g = __atomic_load_n(gen, __ATOMIC_ACQUIRE);

	while (g != want) {
		if (g == want + 1) {
			sched_yield(); /* another thread is setting it up */
			g = __atomic_load_n(gen, __ATOMIC_ACQUIRE);
			continue;
		}
		if (__atomic_compare_exchange_n(gen, &g, want + 1, false,
						__ATOMIC_ACQUIRE,
						__ATOMIC_ACQUIRE))
			return true;
	}
	return false;
}

static void setup_done(uint64_t *gen, uint64_t want)
{
	__atomic_store_n(gen, want, __ATOMIC_RELEASE);
}

/* in_pool -- does the 64-byte lock at @l lie in @p's mapping? */
static int in_pool(daxo_pool *p, const void *l, const char *what)
{
	const char *c = l;

	if (!p || !l)
		return daxo__err(-EINVAL, "%s: NULL argument", what);
	if (c < p->base || c > p->base + p->size - 64)
		return daxo__err(-EINVAL, "%s: %p is not in the pool %s", what,
				 l, p->path);
	/*
	 * A child of fork() shares the mapping but not the futexes: the
	 * pthread objects are process-private, so a child's lock or unlock
	 * in the shared pool would wake no waiter of the parent (a parent
	 * left blocked for ever) and wait for wakes the parent never sends.
	 */
	return unlikely(pool_inherited(p)) ? pool_own(p, what) : 0;
}

static pthread_mutex_t *mutex_of(daxo_pool *p, daxo_mutex *mx)
{
	struct lk_mutex *x = (struct lk_mutex *)(void *)mx;

	if (unlikely(setup_needed(&x->gen, p->lock_gen))) {
		pthread_mutexattr_t a;
		pthread_mutexattr_init(&a);
		/* relocking and foreign unlocks are errors, not hangs */
		pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
		pthread_mutex_init(&x->m, &a);
		pthread_mutexattr_destroy(&a);
		x->owner = 0; /* a holder of an earlier open is gone */
		setup_done(&x->gen, p->lock_gen);
	}
	return &x->m;
}

static pthread_rwlock_t *rwlock_of(daxo_pool *p, daxo_rwlock *rw)
{
	struct lk_rwlock *x = (struct lk_rwlock *)(void *)rw;

	if (unlikely(setup_needed(&x->gen, p->lock_gen))) {
		pthread_rwlock_init(&x->l, NULL);
		setup_done(&x->gen, p->lock_gen);
	}
	return &x->l;
}

static pthread_cond_t *cond_of(daxo_pool *p, daxo_cond *cv)
{
	struct lk_cond *x = (struct lk_cond *)(void *)cv;

	if (unlikely(setup_needed(&x->gen, p->lock_gen))) {
		pthread_cond_init(&x->c, NULL);
		setup_done(&x->gen, p->lock_gen);
	}
	return &x->c;
}

/*
 * self -- this thread's id for a mutex's owner word: the address of a
 * thread-local, unique among live threads and cheaper than gettid()
 */
static uint64_t self(void)
{
	static __thread char me;

	return (uint64_t)(uintptr_t)&me;
}

/* done -- a pthread result as daxo's: 0 or -errno, with a message */
static int done(int r, const char *what)
{
	if (!r)
		return 0;
	return daxo__err(-r, "%s: %s", what, daxo_strerror(-r));
}

/*
 * LOCK_CALL -- a call on one lock: checked, set up for this open, then
 * the pthread call as daxo returns it
 */
#define LOCK_CALL(name, type, of, call)                                        \
	DAXO_EXPORT int name(daxo_pool *p, type *l)                            \
	{                                                                      \
		int ret = in_pool(p, l, #name);                                \
		return ret ? ret : done(call(of(p, l)), #name);                \
	}

/*
 * The mutex calls keep the owner word: an unlock (or a wait) by a thread
 * that does not hold the mutex is -EPERM before it reaches pthreads, which
 * would give the same from an error-checking mutex but is undefined for
 * other checkers (ThreadSanitizer reports it). Only the holder writes its
 * own id, so a relaxed load that sees self() is the truth.
 */
static void set_owner(daxo_mutex *m, uint64_t who)
{
	struct lk_mutex *x = (struct lk_mutex *)(void *)m;

	__atomic_store_n(&x->owner, who, __ATOMIC_RELAXED);
}

static int held(daxo_mutex *m, const char *what)
{
	struct lk_mutex *x = (struct lk_mutex *)(void *)m;

	if (__atomic_load_n(&x->owner, __ATOMIC_RELAXED) == self())
		return 0;
	return daxo__err(-EPERM, "%s: the mutex is not held by this thread",
			 what);
}

/* locked -- @r of a lock call: on success the caller owns @m */
static int locked(daxo_mutex *m, int r, const char *what)
{
	if (!r)
		set_owner(m, self());
	return done(r, what);
}

DAXO_EXPORT int daxo_mutex_lock(daxo_pool *p, daxo_mutex *m)
{
	int ret = in_pool(p, m, "daxo_mutex_lock");

	return ret ? ret
		   : locked(m, pthread_mutex_lock(mutex_of(p, m)),
			    "daxo_mutex_lock");
}

DAXO_EXPORT int daxo_mutex_trylock(daxo_pool *p, daxo_mutex *m)
{
	int ret = in_pool(p, m, "daxo_mutex_trylock");

	return ret ? ret
		   : locked(m, pthread_mutex_trylock(mutex_of(p, m)),
			    "daxo_mutex_trylock");
}

DAXO_EXPORT int daxo_mutex_unlock(daxo_pool *p, daxo_mutex *m)
{
	int ret = in_pool(p, m, "daxo_mutex_unlock");
	pthread_mutex_t *pm;

	if (ret)
		return ret;
	pm = mutex_of(p, m); /* first: a set-up clears a stale owner */
	ret = held(m, "daxo_mutex_unlock");
	if (ret)
		return ret;
	set_owner(m, 0);
	return done(pthread_mutex_unlock(pm), "daxo_mutex_unlock");
}

/*
 * The readers-writer locks this thread holds, kept by the thread alone
 * (no shared line written): pthread_rwlock_unlock by a thread that holds
 * nothing is undefined -- glibc takes it for a reader's unlock and drops
 * the reader count below zero, after which no writer ever gets the lock
 * and readers get -EAGAIN. So daxo_rwlock_unlock of a lock the thread does
 * not hold is -EPERM before it reaches pthreads, and a write lock asked by
 * a thread that holds the lock for reading is -EDEADLK (glibc would wait
 * for ever). A hold is keyed by the lock's address and the open's
 * generation: one from an earlier open (a pool closed with the lock held)
 * never matches again, and daxo_close drops the closing thread's
 * (lock_forget).
 *
 * The record has no fixed bound: the first RW_INLINE holds live in
 * thread-local storage, more in an array of the thread's own on the heap,
 * doubled when full and freed at the thread's exit (a pthread key's
 * destructor). Entries [0, rw_n) are in use, packed: a released hold is
 * replaced by the last one. Only a call that takes a lock this thread does
 * not hold yet may grow the record (malloc, once per doubling); if it
 * cannot, the call is -ENOMEM and takes nothing.
 */
#define RW_INLINE 8
struct rw_hold {
	const void *l;
	uint64_t gen;
	uint32_t n; /* read holds, or 1 for the write hold */
	bool w;
};
static __thread struct rw_hold rw_inline[RW_INLINE];
static __thread struct rw_hold *rw_heap; /* NULL: the record is rw_inline */
static __thread size_t rw_n, rw_cap;	 /* in use; rw_heap's capacity */
static pthread_key_t rw_key;
static int rw_key_err; /* pthread_key_create's, if it failed */
static pthread_once_t rw_key_once = PTHREAD_ONCE_INIT;

/* rw_exit -- a thread's exit: free its record (holds die with it) */
static void rw_exit(void *a)
{
	free(a);
	rw_heap = NULL;
	rw_n = 0;
}

static void rw_key_make(void)
{
	rw_key_err = pthread_key_create(&rw_key, rw_exit);
}

static struct rw_hold *rw_array(void)
{
	return rw_heap ? rw_heap : rw_inline;
}

/* rw_grow -- double the record; 0, or -ENOMEM (-EAGAIN: no pthread key) */
static int rw_grow(void)
{
	size_t cap = rw_heap ? rw_cap : RW_INLINE;
	struct rw_hold *a;

	if (cap > SIZE_MAX / 2 / sizeof(*a))
		return -ENOMEM;
	if (rw_heap) {
		a = realloc(rw_heap, 2 * cap * sizeof(*a));
		if (!a)
			return -ENOMEM;
		/* the key's slot exists: setting it again allocates nothing */
		(void)pthread_setspecific(rw_key, a);
	} else {
		pthread_once(&rw_key_once, rw_key_make);
		if (rw_key_err)
			return -rw_key_err;
		a = malloc(2 * cap * sizeof(*a));
		if (!a)
			return -ENOMEM;
		/* the destructor frees it at the thread's exit */
		if (pthread_setspecific(rw_key, a) != 0) {
			free(a);
			return -ENOMEM;
		}
		memcpy(a, rw_inline, sizeof(rw_inline));
	}
	rw_heap = a;
	rw_cap = 2 * cap;
	return 0;
}

/*
 * rw_hold -- this thread's hold of @l in @p's open, or with @make a new
 * entry for it (n == 0 until the lock is taken); NULL if there is none, or
 * with @make, *err set, if the record cannot grow
 */
static struct rw_hold *rw_hold(daxo_pool *p, const void *l, bool make,
			       int *err)
{
	struct rw_hold *a = rw_array(), *h;

	for (size_t i = 0; i < rw_n; i++)
		if (a[i].l == l && a[i].gen == p->lock_gen)
			return &a[i];
	if (!make)
		return NULL;
	if (rw_n == (rw_heap ? rw_cap : RW_INLINE)) {
		*err = rw_grow();
		if (*err)
			return NULL;
		a = rw_array();
	}
	h = &a[rw_n++];
	*h = (struct rw_hold){.l = l, .gen = p->lock_gen};
	return h;
}

/* rw_drop -- take @h out of the record: the last entry takes its place */
static void rw_drop(struct rw_hold *h)
{
	*h = rw_array()[--rw_n];
}

void lock_forget(daxo_pool *p)
{
	struct rw_hold *a = rw_array();

	for (size_t i = 0; i < rw_n;) {
		if (a[i].gen == p->lock_gen)
			rw_drop(&a[i]);
		else
			i++;
	}
}

/* rw_before -- may this thread ask @l for reading (@w false) or writing? */
static int rw_before(daxo_pool *p, daxo_rwlock *l, bool w, const char *what,
		     struct rw_hold **h)
{
	int ret = in_pool(p, l, what);

	if (ret)
		return ret;
	*h = rw_hold(p, l, true, &ret);
	if (!*h)
		return daxo__err(ret,
				 "%s: cannot record one more lock held by this "
				 "thread (it holds %zu): %s",
				 what, rw_n, daxo_strerror(ret));
	if (w && (*h)->n && !(*h)->w)
		return daxo__err(-EDEADLK, "%s: the thread holds it for reading",
				 what);
	return 0;
}

/* rw_after -- @r of a lock call through @h: on success the thread holds it */
static int rw_after(struct rw_hold *h, bool w, int r, const char *what)
{
	if (!r) {
		h->n++;
		h->w = w;
	} else if (!h->n) {
		rw_drop(h); /* a new entry, and the lock was not taken */
	}
	return done(r, what);
}

#define RW_CALL(name, w, call, ...)                                            \
	{                                                                      \
		struct rw_hold *h;                                             \
		int rw_ret = rw_before(p, l, w, #name, &h);                    \
		return rw_ret ? rw_ret                                         \
			   : rw_after(h, w, call(rwlock_of(p, l), ##__VA_ARGS__), \
				      #name);                                  \
	}

DAXO_EXPORT int daxo_rwlock_rdlock(daxo_pool *p, daxo_rwlock *l)
RW_CALL(daxo_rwlock_rdlock, false, pthread_rwlock_rdlock)
DAXO_EXPORT int daxo_rwlock_wrlock(daxo_pool *p, daxo_rwlock *l)
RW_CALL(daxo_rwlock_wrlock, true, pthread_rwlock_wrlock)
DAXO_EXPORT int daxo_rwlock_tryrdlock(daxo_pool *p, daxo_rwlock *l)
RW_CALL(daxo_rwlock_tryrdlock, false, pthread_rwlock_tryrdlock)
DAXO_EXPORT int daxo_rwlock_trywrlock(daxo_pool *p, daxo_rwlock *l)
RW_CALL(daxo_rwlock_trywrlock, true, pthread_rwlock_trywrlock)

DAXO_EXPORT int daxo_rwlock_unlock(daxo_pool *p, daxo_rwlock *l)
{
	int ret = in_pool(p, l, "daxo_rwlock_unlock");
	struct rw_hold *h;

	if (ret)
		return ret;
	h = rw_hold(p, l, false, &ret);
	if (!h)
		return daxo__err(-EPERM,
				 "daxo_rwlock_unlock: the lock is not held by "
				 "this thread");
	ret = done(pthread_rwlock_unlock(rwlock_of(p, l)),
		   "daxo_rwlock_unlock");
	if (!ret && --h->n == 0)
		rw_drop(h);
	return ret;
}

LOCK_CALL(daxo_cond_signal, daxo_cond, cond_of, pthread_cond_signal)
LOCK_CALL(daxo_cond_broadcast, daxo_cond, cond_of, pthread_cond_broadcast)

/* timed -- the checks of a timed call: the lock, then the time */
static int timed(daxo_pool *p, const void *l, const struct timespec *abstime,
		 const char *what)
{
	int ret = in_pool(p, l, what);

	if (!ret && !abstime)
		ret = daxo__err(-EINVAL, "%s: NULL time", what);
	return ret;
}

DAXO_EXPORT int daxo_mutex_timedlock(daxo_pool *p, daxo_mutex *m,
				     const struct timespec *abstime)
{
	int ret = timed(p, m, abstime, "daxo_mutex_timedlock");

	return ret ? ret
		   : locked(m, pthread_mutex_timedlock(mutex_of(p, m), abstime),
			    "daxo_mutex_timedlock");
}

DAXO_EXPORT int daxo_rwlock_timedrdlock(daxo_pool *p, daxo_rwlock *l,
					const struct timespec *abstime)
{
	int ret = timed(p, l, abstime, "daxo_rwlock_timedrdlock");

	if (ret)
		return ret;
	RW_CALL(daxo_rwlock_timedrdlock, false, pthread_rwlock_timedrdlock,
		abstime)
}

DAXO_EXPORT int daxo_rwlock_timedwrlock(daxo_pool *p, daxo_rwlock *l,
					const struct timespec *abstime)
{
	int ret = timed(p, l, abstime, "daxo_rwlock_timedwrlock");

	if (ret)
		return ret;
	RW_CALL(daxo_rwlock_timedwrlock, true, pthread_rwlock_timedwrlock,
		abstime)
}

/*
 * rewait -- a wait's result @r: the wait released the mutex and took it
 * back (on a timeout too), so the caller holds it again; another thread
 * that held it meanwhile wrote its id, so this thread writes its own back
 */
static int rewait(daxo_mutex *m, int r, const char *what)
{
	set_owner(m, self());
	return done(r, what);
}

DAXO_EXPORT int daxo_cond_wait(daxo_pool *p, daxo_cond *c, daxo_mutex *m)
{
	int ret = in_pool(p, c, "daxo_cond_wait");

	if (!ret)
		ret = in_pool(p, m, "daxo_cond_wait");
	if (!ret) {
		(void)mutex_of(p, m); /* first: a set-up clears a stale owner */
		ret = held(m, "daxo_cond_wait");
	}
	if (ret)
		return ret;
	return rewait(m, pthread_cond_wait(cond_of(p, c), mutex_of(p, m)),
		      "daxo_cond_wait");
}

DAXO_EXPORT int daxo_cond_timedwait(daxo_pool *p, daxo_cond *c, daxo_mutex *m,
				    const struct timespec *abstime)
{
	int ret = timed(p, c, abstime, "daxo_cond_timedwait");

	if (!ret)
		ret = in_pool(p, m, "daxo_cond_timedwait");
	if (!ret) {
		(void)mutex_of(p, m); /* first: a set-up clears a stale owner */
		ret = held(m, "daxo_cond_timedwait");
	}
	if (ret)
		return ret;
	return rewait(m,
		      pthread_cond_timedwait(cond_of(p, c), mutex_of(p, m),
					     abstime),
		      "daxo_cond_timedwait");
}
