/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libpmemobj/thread.h -- locks that live in persistent memory, for daxo's
 * libpmemobj compatibility layer.
 *
 * A PMEMmutex, PMEMrwlock or PMEMcond is 64 bytes inside a pool object.
 * Nothing needs to initialize it: each holds the generation of the pool
 * open that last set it up, and the first use after an open (any open:
 * after a crash too) sees a stale generation and initializes it again.
 * So a lock held when the process died is free after the next open. Only
 * the generation word is ever written by the set-up itself; the lock's
 * state is volatile and is never flushed on purpose.
 */
#ifndef DAXO_COMPAT_PMEMOBJ_THREAD_H
#define DAXO_COMPAT_PMEMOBJ_THREAD_H 1

#include <time.h>
#include <libpmemobj/base.h>

#ifdef __cplusplus
extern "C" {
#endif

#define _POBJ_CL_SIZE 64

typedef union {
	long long align;
	char padding[_POBJ_CL_SIZE];
} PMEMmutex;

typedef union {
	long long align;
	char padding[_POBJ_CL_SIZE];
} PMEMrwlock;

typedef union {
	long long align;
	char padding[_POBJ_CL_SIZE];
} PMEMcond;

/* Return 0 or an error number, as the pthread calls they stand for. */
void pmemobj_mutex_zero(PMEMobjpool *pop, PMEMmutex *mutexp);
int pmemobj_mutex_lock(PMEMobjpool *pop, PMEMmutex *mutexp);
int pmemobj_mutex_timedlock(PMEMobjpool *pop, PMEMmutex *mutexp,
			    const struct timespec *abs_timeout);
int pmemobj_mutex_trylock(PMEMobjpool *pop, PMEMmutex *mutexp);
int pmemobj_mutex_unlock(PMEMobjpool *pop, PMEMmutex *mutexp);

void pmemobj_rwlock_zero(PMEMobjpool *pop, PMEMrwlock *rwlockp);
int pmemobj_rwlock_rdlock(PMEMobjpool *pop, PMEMrwlock *rwlockp);
int pmemobj_rwlock_wrlock(PMEMobjpool *pop, PMEMrwlock *rwlockp);
int pmemobj_rwlock_timedrdlock(PMEMobjpool *pop, PMEMrwlock *rwlockp,
			       const struct timespec *abs_timeout);
int pmemobj_rwlock_timedwrlock(PMEMobjpool *pop, PMEMrwlock *rwlockp,
			       const struct timespec *abs_timeout);
int pmemobj_rwlock_tryrdlock(PMEMobjpool *pop, PMEMrwlock *rwlockp);
int pmemobj_rwlock_trywrlock(PMEMobjpool *pop, PMEMrwlock *rwlockp);
int pmemobj_rwlock_unlock(PMEMobjpool *pop, PMEMrwlock *rwlockp);

void pmemobj_cond_zero(PMEMobjpool *pop, PMEMcond *condp);
int pmemobj_cond_broadcast(PMEMobjpool *pop, PMEMcond *condp);
int pmemobj_cond_signal(PMEMobjpool *pop, PMEMcond *condp);
int pmemobj_cond_timedwait(PMEMobjpool *pop, PMEMcond *condp,
			   PMEMmutex *mutexp,
			   const struct timespec *abs_timeout);
int pmemobj_cond_wait(PMEMobjpool *pop, PMEMcond *condp, PMEMmutex *mutexp);

#ifdef __cplusplus
}
#endif
#endif /* DAXO_COMPAT_PMEMOBJ_THREAD_H */
