/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sync.c -- PMEMmutex, PMEMrwlock, PMEMcond and pmemobj_volatile for the
 * libpmemobj compatibility layer.
 *
 * Each open of a pool gets a generation (runid): 64 random bits, even and
 * not 0. A lock in the pool starts with a generation word; the first user
 * after an open finds a stale one, claims the set-up by swapping in
 * runid + 1 (odd: "being set up"), initializes the pthread object in
 * place and publishes runid. Later users see runid and go straight to
 * the pthread call. Other threads that find runid + 1 wait for the
 * publish. A lock left held by a process that died is therefore free at
 * the next open, with no scan and nothing written at open time. None of
 * this is flushed: the lock's state is volatile by nature, and a stale
 * generation is all a restart needs to find.
 */
#include <sched.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include "pmemobj_int.h"

struct cx_mutex {
	uint64_t gen;
	pthread_mutex_t m;
};
struct cx_rwlock {
	uint64_t gen;
	pthread_rwlock_t l;
};
struct cx_cond {
	uint64_t gen;
	pthread_cond_t c;
};
_Static_assert(sizeof(struct cx_mutex) <= sizeof(PMEMmutex), "PMEMmutex");
_Static_assert(sizeof(struct cx_rwlock) <= sizeof(PMEMrwlock), "PMEMrwlock");
_Static_assert(sizeof(struct cx_cond) <= sizeof(PMEMcond), "PMEMcond");

uint64_t cx_runid(void)
{
	uint64_t r = 0;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		r = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^
		    (uint64_t)ts.tv_sec << 32 ^ (uint64_t)getpid();
	}
	r &= ~1ull;
	return r ? r : 2;
}

/*
 * setup_needed -- true if the caller must set up the object whose
 * generation word is @gen (and then call setup_done); false once it is
 * set up for @runid
 */
static bool setup_needed(uint64_t *gen, uint64_t runid)
{
	uint64_t g = __atomic_load_n(gen, __ATOMIC_ACQUIRE);

	while (g != runid) {
		if (g == runid + 1) {
			sched_yield();
			g = __atomic_load_n(gen, __ATOMIC_ACQUIRE);
			continue;
		}
		if (__atomic_compare_exchange_n(gen, &g, runid + 1, false,
						__ATOMIC_ACQUIRE,
						__ATOMIC_ACQUIRE))
			return true;
	}
	return false;
}

static void setup_done(uint64_t *gen, uint64_t runid)
{
	__atomic_store_n(gen, runid, __ATOMIC_RELEASE);
}

static pthread_mutex_t *mutex_of(PMEMobjpool *pop, PMEMmutex *mp)
{
	struct cx_mutex *x = (struct cx_mutex *)mp;

	if (setup_needed(&x->gen, pop->runid)) {
		pthread_mutex_init(&x->m, NULL);
		setup_done(&x->gen, pop->runid);
	}
	return &x->m;
}

static pthread_rwlock_t *rwlock_of(PMEMobjpool *pop, PMEMrwlock *rp)
{
	struct cx_rwlock *x = (struct cx_rwlock *)rp;

	if (setup_needed(&x->gen, pop->runid)) {
		pthread_rwlock_init(&x->l, NULL);
		setup_done(&x->gen, pop->runid);
	}
	return &x->l;
}

static pthread_cond_t *cond_of(PMEMobjpool *pop, PMEMcond *cp)
{
	struct cx_cond *x = (struct cx_cond *)cp;

	if (setup_needed(&x->gen, pop->runid)) {
		pthread_cond_init(&x->c, NULL);
		setup_done(&x->gen, pop->runid);
	}
	return &x->c;
}

CX_EXPORT void pmemobj_mutex_zero(PMEMobjpool *pop, PMEMmutex *mutexp)
{
	memset(mutexp, 0, sizeof(*mutexp));
	daxo_persist(pop->dp, mutexp, sizeof(*mutexp));
}

CX_EXPORT int pmemobj_mutex_lock(PMEMobjpool *pop, PMEMmutex *mutexp)
{
	if (!pop || !mutexp)
		return EINVAL;
	return pthread_mutex_lock(mutex_of(pop, mutexp));
}

CX_EXPORT int pmemobj_mutex_timedlock(PMEMobjpool *pop, PMEMmutex *mutexp,
				      const struct timespec *abs_timeout)
{
	if (!pop || !mutexp)
		return EINVAL;
	return pthread_mutex_timedlock(mutex_of(pop, mutexp), abs_timeout);
}

CX_EXPORT int pmemobj_mutex_trylock(PMEMobjpool *pop, PMEMmutex *mutexp)
{
	if (!pop || !mutexp)
		return EINVAL;
	return pthread_mutex_trylock(mutex_of(pop, mutexp));
}

CX_EXPORT int pmemobj_mutex_unlock(PMEMobjpool *pop, PMEMmutex *mutexp)
{
	if (!pop || !mutexp)
		return EINVAL;
	return pthread_mutex_unlock(mutex_of(pop, mutexp));
}

CX_EXPORT void pmemobj_rwlock_zero(PMEMobjpool *pop, PMEMrwlock *rwlockp)
{
	memset(rwlockp, 0, sizeof(*rwlockp));
	daxo_persist(pop->dp, rwlockp, sizeof(*rwlockp));
}

CX_EXPORT int pmemobj_rwlock_rdlock(PMEMobjpool *pop, PMEMrwlock *rwlockp)
{
	if (!pop || !rwlockp)
		return EINVAL;
	return pthread_rwlock_rdlock(rwlock_of(pop, rwlockp));
}

CX_EXPORT int pmemobj_rwlock_wrlock(PMEMobjpool *pop, PMEMrwlock *rwlockp)
{
	if (!pop || !rwlockp)
		return EINVAL;
	return pthread_rwlock_wrlock(rwlock_of(pop, rwlockp));
}

CX_EXPORT int pmemobj_rwlock_timedrdlock(PMEMobjpool *pop,
					 PMEMrwlock *rwlockp,
					 const struct timespec *abs_timeout)
{
	if (!pop || !rwlockp)
		return EINVAL;
	return pthread_rwlock_timedrdlock(rwlock_of(pop, rwlockp),
					  abs_timeout);
}

CX_EXPORT int pmemobj_rwlock_timedwrlock(PMEMobjpool *pop,
					 PMEMrwlock *rwlockp,
					 const struct timespec *abs_timeout)
{
	if (!pop || !rwlockp)
		return EINVAL;
	return pthread_rwlock_timedwrlock(rwlock_of(pop, rwlockp),
					  abs_timeout);
}

CX_EXPORT int pmemobj_rwlock_tryrdlock(PMEMobjpool *pop, PMEMrwlock *rwlockp)
{
	if (!pop || !rwlockp)
		return EINVAL;
	return pthread_rwlock_tryrdlock(rwlock_of(pop, rwlockp));
}

CX_EXPORT int pmemobj_rwlock_trywrlock(PMEMobjpool *pop, PMEMrwlock *rwlockp)
{
	if (!pop || !rwlockp)
		return EINVAL;
	return pthread_rwlock_trywrlock(rwlock_of(pop, rwlockp));
}

CX_EXPORT int pmemobj_rwlock_unlock(PMEMobjpool *pop, PMEMrwlock *rwlockp)
{
	if (!pop || !rwlockp)
		return EINVAL;
	return pthread_rwlock_unlock(rwlock_of(pop, rwlockp));
}

CX_EXPORT void pmemobj_cond_zero(PMEMobjpool *pop, PMEMcond *condp)
{
	memset(condp, 0, sizeof(*condp));
	daxo_persist(pop->dp, condp, sizeof(*condp));
}

CX_EXPORT int pmemobj_cond_broadcast(PMEMobjpool *pop, PMEMcond *condp)
{
	if (!pop || !condp)
		return EINVAL;
	return pthread_cond_broadcast(cond_of(pop, condp));
}

CX_EXPORT int pmemobj_cond_signal(PMEMobjpool *pop, PMEMcond *condp)
{
	if (!pop || !condp)
		return EINVAL;
	return pthread_cond_signal(cond_of(pop, condp));
}

CX_EXPORT int pmemobj_cond_timedwait(PMEMobjpool *pop, PMEMcond *condp,
				     PMEMmutex *mutexp,
				     const struct timespec *abs_timeout)
{
	if (!pop || !condp || !mutexp)
		return EINVAL;
	return pthread_cond_timedwait(cond_of(pop, condp),
				      mutex_of(pop, mutexp), abs_timeout);
}

CX_EXPORT int pmemobj_cond_wait(PMEMobjpool *pop, PMEMcond *condp,
				PMEMmutex *mutexp)
{
	if (!pop || !condp || !mutexp)
		return EINVAL;
	return pthread_cond_wait(cond_of(pop, condp), mutex_of(pop, mutexp));
}

CX_EXPORT void *pmemobj_volatile(PMEMobjpool *pop, struct pmemvlt *vlt,
				 void *ptr, size_t size,
				 int (*constr)(void *ptr, void *arg), void *arg)
{
	(void)size;
	if (!pop || !vlt || !ptr) {
		cx_err(EINVAL, "pmemobj_volatile: NULL argument");
		return NULL;
	}
	if (setup_needed(&vlt->runid, pop->runid)) {
		if (constr && constr(ptr, arg) != 0) {
			/* the next caller tries again */
			__atomic_store_n(&vlt->runid, 0, __ATOMIC_RELEASE);
			cx_err(ECANCELED, "pmemobj_volatile: the constructor "
					  "refused");
			return NULL;
		}
		setup_done(&vlt->runid, pop->runid);
	}
	return ptr;
}
