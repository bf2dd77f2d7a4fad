/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sync.c -- PMEMmutex, PMEMrwlock, PMEMcond and pmemobj_volatile for the
 * libpmemobj compatibility layer.
 *
 * The locks are libdaxo's (daxo_mutex and friends, lib/lock.c): 64 bytes
 * in the pool, set up again at the first use after every open, so a lock
 * held when a process died is free at the next open. pmemobj_volatile
 * keeps a generation of the layer's own per open (runid): the first caller
 * after an open runs the constructor (under a recursive mutex of the pool
 * kept for this, so that the constructor may call the layer) and stores
 * runid; later callers find it and return at once.
 */
#include <string.h>
#include <sys/random.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>
#include "pmemobj_int.h"

/* the layer's locks are daxo's: the same 64 bytes */
_Static_assert(sizeof(PMEMmutex) == sizeof(daxo_mutex), "PMEMmutex");
_Static_assert(sizeof(PMEMrwlock) == sizeof(daxo_rwlock), "PMEMrwlock");
_Static_assert(sizeof(PMEMcond) == sizeof(daxo_cond), "PMEMcond");

#define MX(m) ((daxo_mutex *)(void *)(m))
#define RW(l) ((daxo_rwlock *)(void *)(l))
#define CV(c) ((daxo_cond *)(void *)(c))

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

/* the pthread convention: 0 or a positive error number */
#define PT(call) (-(call))

CX_EXPORT void pmemobj_mutex_zero(PMEMobjpool *pop, PMEMmutex *mutexp)
{
	memset(mutexp, 0, sizeof(*mutexp));
	daxo_persist(pop->dp, mutexp, sizeof(*mutexp));
}

CX_EXPORT int pmemobj_mutex_lock(PMEMobjpool *pop, PMEMmutex *mutexp)
{
	return pop ? PT(daxo_mutex_lock(pop->dp, MX(mutexp))) : EINVAL;
}

CX_EXPORT int pmemobj_mutex_timedlock(PMEMobjpool *pop, PMEMmutex *mutexp,
				      const struct timespec *abs_timeout)
{
	return pop ? PT(daxo_mutex_timedlock(pop->dp, MX(mutexp), abs_timeout))
		   : EINVAL;
}

CX_EXPORT int pmemobj_mutex_trylock(PMEMobjpool *pop, PMEMmutex *mutexp)
{
	return pop ? PT(daxo_mutex_trylock(pop->dp, MX(mutexp))) : EINVAL;
}

CX_EXPORT int pmemobj_mutex_unlock(PMEMobjpool *pop, PMEMmutex *mutexp)
{
	return pop ? PT(daxo_mutex_unlock(pop->dp, MX(mutexp))) : EINVAL;
}

CX_EXPORT void pmemobj_rwlock_zero(PMEMobjpool *pop, PMEMrwlock *rwlockp)
{
	memset(rwlockp, 0, sizeof(*rwlockp));
	daxo_persist(pop->dp, rwlockp, sizeof(*rwlockp));
}

CX_EXPORT int pmemobj_rwlock_rdlock(PMEMobjpool *pop, PMEMrwlock *rwlockp)
{
	return pop ? PT(daxo_rwlock_rdlock(pop->dp, RW(rwlockp))) : EINVAL;
}

CX_EXPORT int pmemobj_rwlock_wrlock(PMEMobjpool *pop, PMEMrwlock *rwlockp)
{
	return pop ? PT(daxo_rwlock_wrlock(pop->dp, RW(rwlockp))) : EINVAL;
}

CX_EXPORT int pmemobj_rwlock_timedrdlock(PMEMobjpool *pop,
					 PMEMrwlock *rwlockp,
					 const struct timespec *abs_timeout)
{
	return pop ? PT(daxo_rwlock_timedrdlock(pop->dp, RW(rwlockp),
						abs_timeout))
		   : EINVAL;
}

CX_EXPORT int pmemobj_rwlock_timedwrlock(PMEMobjpool *pop,
					 PMEMrwlock *rwlockp,
					 const struct timespec *abs_timeout)
{
	return pop ? PT(daxo_rwlock_timedwrlock(pop->dp, RW(rwlockp),
						abs_timeout))
		   : EINVAL;
}

CX_EXPORT int pmemobj_rwlock_tryrdlock(PMEMobjpool *pop, PMEMrwlock *rwlockp)
{
	return pop ? PT(daxo_rwlock_tryrdlock(pop->dp, RW(rwlockp))) : EINVAL;
}

CX_EXPORT int pmemobj_rwlock_trywrlock(PMEMobjpool *pop, PMEMrwlock *rwlockp)
{
	return pop ? PT(daxo_rwlock_trywrlock(pop->dp, RW(rwlockp))) : EINVAL;
}

CX_EXPORT int pmemobj_rwlock_unlock(PMEMobjpool *pop, PMEMrwlock *rwlockp)
{
	return pop ? PT(daxo_rwlock_unlock(pop->dp, RW(rwlockp))) : EINVAL;
}

CX_EXPORT void pmemobj_cond_zero(PMEMobjpool *pop, PMEMcond *condp)
{
	memset(condp, 0, sizeof(*condp));
	daxo_persist(pop->dp, condp, sizeof(*condp));
}

CX_EXPORT int pmemobj_cond_broadcast(PMEMobjpool *pop, PMEMcond *condp)
{
	return pop ? PT(daxo_cond_broadcast(pop->dp, CV(condp))) : EINVAL;
}

CX_EXPORT int pmemobj_cond_signal(PMEMobjpool *pop, PMEMcond *condp)
{
	return pop ? PT(daxo_cond_signal(pop->dp, CV(condp))) : EINVAL;
}

CX_EXPORT int pmemobj_cond_timedwait(PMEMobjpool *pop, PMEMcond *condp,
				     PMEMmutex *mutexp,
				     const struct timespec *abs_timeout)
{
	return pop ? PT(daxo_cond_timedwait(pop->dp, CV(condp), MX(mutexp),
					    abs_timeout))
		   : EINVAL;
}

CX_EXPORT int pmemobj_cond_wait(PMEMobjpool *pop, PMEMcond *condp,
				PMEMmutex *mutexp)
{
	return pop ? PT(daxo_cond_wait(pop->dp, CV(condp), MX(mutexp)))
		   : EINVAL;
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
	/* set up in this open: one load */
	if (__atomic_load_n(&vlt->runid, __ATOMIC_ACQUIRE) == pop->runid)
		return ptr;
	pthread_mutex_lock(&pop->vlt_lock);
	if (vlt->runid != pop->runid) {
		if (constr && constr(ptr, arg) != 0) {
			pthread_mutex_unlock(&pop->vlt_lock);
			cx_err(ECANCELED, "pmemobj_volatile: the constructor "
					  "refused");
			return NULL; /* the next caller tries again */
		}
		__atomic_store_n(&vlt->runid, pop->runid, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&pop->vlt_lock);
	return ptr;
}
