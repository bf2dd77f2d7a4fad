/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_lock.c -- locks kept in pool objects (lib/lock.c): daxo_mutex,
 * daxo_rwlock, daxo_cond; free again after a reopen, and after the
 * process that held them was killed; no fence; the first use in an open
 * set up once when threads race to it.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "daxo.h"
#include "test_common.h"
#ifndef NOMEM_SKIP
#include "nomem_shim.h"
#endif

struct root {
	daxo_mutex m;
	daxo_rwlock rw;
	daxo_cond c;
	uint64_t counter;
	uint64_t flag;
	daxo_mutex race[8];
};

struct fixture {
	const char *path;
	daxo_pool *p;
	struct root *r;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	test_env();
	f->path = test_pool_path("lock");
	f->p = test_pool_root(f->path, "lock", true, 16 << 20,
			      sizeof(struct root), (void **)&f->r);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	daxo_close(f->p);
	unlink(f->path);
	free(f);
	return 0;
}

static void reopen(struct fixture *f)
{
	assert_int_equal(daxo_close(f->p), 0);
	f->p = test_pool_root(f->path, "lock", false, 0, 0, (void **)&f->r);
}

struct targ {
	struct fixture *f;
	int ret;
};

static void *try_mutex(void *arg)
{
	struct targ *a = arg;

	a->ret = daxo_mutex_trylock(a->f->p, &a->f->r->m);
	if (a->ret == 0)
		daxo_mutex_unlock(a->f->p, &a->f->r->m);
	return NULL;
}

static int try_in_thread(struct fixture *f, void *(*fn)(void *))
{
	struct targ a = {f, -1};
	pthread_t t;

	pthread_create(&t, NULL, fn, &a);
	pthread_join(t, NULL);
	return a.ret;
}

static void test_mutex_excludes_and_checks(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(daxo_mutex_lock(f->p, &f->r->m), 0);
	assert_int_equal(try_in_thread(f, try_mutex), -EBUSY);
	assert_int_equal(daxo_mutex_lock(f->p, &f->r->m), -EDEADLK);
	assert_int_equal(daxo_mutex_unlock(f->p, &f->r->m), 0);
	assert_int_equal(daxo_mutex_unlock(f->p, &f->r->m), -EPERM);
	assert_int_equal(try_in_thread(f, try_mutex), 0);
	assert_int_equal(daxo_mutex_trylock(f->p, &f->r->m), 0);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	assert_int_equal(daxo_mutex_timedlock(f->p, &f->r->m, &ts), -EDEADLK);
	assert_int_equal(daxo_mutex_unlock(f->p, &f->r->m), 0);
	assert_int_equal(daxo_mutex_timedlock(f->p, &f->r->m, &ts), 0);
	assert_int_equal(daxo_mutex_unlock(f->p, &f->r->m), 0);
	/* bad arguments */
	daxo_mutex volatile_lock = {0};
	assert_int_equal(daxo_mutex_lock(f->p, &volatile_lock), -EINVAL);
	assert_int_equal(daxo_mutex_lock(NULL, &f->r->m), -EINVAL);
	assert_int_equal(daxo_mutex_lock(f->p, NULL), -EINVAL);
	assert_int_equal(daxo_mutex_timedlock(f->p, &f->r->m, NULL), -EINVAL);
}

static void test_held_locks_free_after_reopen(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(daxo_mutex_lock(f->p, &f->r->m), 0);
	assert_int_equal(daxo_rwlock_wrlock(f->p, &f->r->rw), 0);
	/* the pool closes with both held: the next open finds them free */
	reopen(f);
	assert_int_equal(try_in_thread(f, try_mutex), 0);
	assert_int_equal(daxo_rwlock_trywrlock(f->p, &f->r->rw), 0);
	assert_int_equal(daxo_rwlock_unlock(f->p, &f->r->rw), 0);
}

/* a process killed holding the locks: the next opener finds them free */
static void test_locks_of_a_killed_process_are_free(void **state)
{
	struct fixture *f = *state;
	int pipefd[2];

	daxo_close(f->p);
	assert_int_equal(pipe(pipefd), 0);
	pid_t pid = fork();
	if (pid == 0) {
		daxo_pool *p;
		struct root *r;
		p = test_pool_root(f->path, "lock", false, 0, 0, (void **)&r);
		if (daxo_mutex_lock(p, &r->m) || daxo_rwlock_rdlock(p, &r->rw))
			_exit(2);
		r->flag = 1;
		daxo_persist(p, &r->flag, 8);
		if (write(pipefd[1], "x", 1) != 1)
			_exit(3);
		pause(); /* holding both, until killed */
		_exit(4);
	}
	char c;
	assert_int_equal(read(pipefd[0], &c, 1), 1);
	kill(pid, SIGKILL);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	close(pipefd[0]);
	close(pipefd[1]);
	f->p = test_pool_root(f->path, "lock", false, 0, 0, (void **)&f->r);
	assert_int_equal(f->r->flag, 1);
	assert_int_equal(daxo_mutex_trylock(f->p, &f->r->m), 0);
	assert_int_equal(daxo_mutex_unlock(f->p, &f->r->m), 0);
	assert_int_equal(daxo_rwlock_trywrlock(f->p, &f->r->rw), 0);
	assert_int_equal(daxo_rwlock_unlock(f->p, &f->r->rw), 0);
}

static void *try_write(void *arg)
{
	struct targ *a = arg;

	a->ret = daxo_rwlock_trywrlock(a->f->p, &a->f->r->rw);
	if (a->ret == 0)
		daxo_rwlock_unlock(a->f->p, &a->f->r->rw);
	return NULL;
}

static void *try_read(void *arg)
{
	struct targ *a = arg;

	a->ret = daxo_rwlock_tryrdlock(a->f->p, &a->f->r->rw);
	if (a->ret == 0)
		daxo_rwlock_unlock(a->f->p, &a->f->r->rw);
	return NULL;
}

static void *try_unlock_rw(void *arg)
{
	struct targ *a = arg;

	a->ret = daxo_rwlock_unlock(a->f->p, &a->f->r->rw);
	return NULL;
}

static void test_rwlock_readers_share(void **state)
{
	struct fixture *f = *state;
	struct timespec ts;

	assert_int_equal(daxo_rwlock_rdlock(f->p, &f->r->rw), 0);
	assert_int_equal(try_in_thread(f, try_read), 0);
	assert_int_equal(try_in_thread(f, try_write), -EBUSY);
	clock_gettime(CLOCK_REALTIME, &ts);
	assert_int_equal(daxo_rwlock_timedrdlock(f->p, &f->r->rw, &ts), 0);
	assert_int_equal(daxo_rwlock_unlock(f->p, &f->r->rw), 0);
	assert_int_equal(daxo_rwlock_unlock(f->p, &f->r->rw), 0);
	assert_int_equal(daxo_rwlock_wrlock(f->p, &f->r->rw), 0);
	assert_int_equal(try_in_thread(f, try_read), -EBUSY);
	assert_int_equal(daxo_rwlock_wrlock(f->p, &f->r->rw), -EDEADLK);
	assert_int_equal(daxo_rwlock_unlock(f->p, &f->r->rw), 0);
	assert_int_equal(daxo_rwlock_timedwrlock(f->p, &f->r->rw, &ts), 0);
	assert_int_equal(daxo_rwlock_unlock(f->p, &f->r->rw), 0);
}

static void *signaller(void *arg)
{
	struct fixture *f = arg;

	daxo_mutex_lock(f->p, &f->r->m);
	f->r->flag = 7;
	daxo_cond_broadcast(f->p, &f->r->c);
	daxo_mutex_unlock(f->p, &f->r->m);
	return NULL;
}

static void test_cond_wait_signal(void **state)
{
	struct fixture *f = *state;
	struct timespec ts;
	pthread_t t;

	f->r->flag = 0;
	assert_int_equal(daxo_mutex_lock(f->p, &f->r->m), 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 10 * 1000 * 1000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	assert_int_equal(daxo_cond_timedwait(f->p, &f->r->c, &f->r->m, &ts),
			 -ETIMEDOUT);
	pthread_create(&t, NULL, signaller, f);
	while (f->r->flag != 7)
		assert_int_equal(daxo_cond_wait(f->p, &f->r->c, &f->r->m), 0);
	assert_int_equal(daxo_mutex_unlock(f->p, &f->r->m), 0);
	pthread_join(t, NULL);
	assert_int_equal(daxo_cond_signal(f->p, &f->r->c), 0);
	/* waiting without holding the mutex is an error */
	assert_int_equal(daxo_cond_timedwait(f->p, &f->r->c, &f->r->m, &ts),
			 -EPERM);
}

#define RACERS 4
#define ROUNDS 20000

static void *racer(void *arg)
{
	struct fixture *f = arg;

	for (int i = 0; i < ROUNDS / 8; i++) {
		/* seven locks taken and given back, fresh in each open */
		for (int k = 1; k < 8; k++)
			if (daxo_mutex_lock(f->p, &f->r->race[k]) ||
			    daxo_mutex_unlock(f->p, &f->r->race[k]))
				return (void *)1;
		/* and the one that guards the counter */
		if (daxo_mutex_lock(f->p, &f->r->race[0]))
			return (void *)1;
		f->r->counter++;
		if (daxo_mutex_unlock(f->p, &f->r->race[0]))
			return (void *)1;
	}
	return NULL;
}

/* threads racing to the first use of fresh locks: each set up once */
static void test_first_use_race(void **state)
{
	struct fixture *f = *state;
	pthread_t t[RACERS];
	void *ret;

	for (int round = 0; round < 3; round++) {
		f->r->counter = 0;
		for (int i = 0; i < RACERS; i++)
			pthread_create(&t[i], NULL, racer, f);
		for (int i = 0; i < RACERS; i++) {
			pthread_join(t[i], &ret);
			assert_null(ret);
		}
		assert_int_equal(f->r->counter, RACERS * (ROUNDS / 8));
		reopen(f); /* fresh generation: set up again */
	}
}

static void test_no_fence(void **state)
{
	struct fixture *f = *state;
	struct daxo_stats a, b;

	assert_int_equal(daxo_thread_stats(&a), 0);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(daxo_mutex_lock(f->p, &f->r->m), 0);
		assert_int_equal(daxo_mutex_unlock(f->p, &f->r->m), 0);
		assert_int_equal(daxo_rwlock_rdlock(f->p, &f->r->rw), 0);
		assert_int_equal(daxo_rwlock_unlock(f->p, &f->r->rw), 0);
	}
	assert_int_equal(daxo_thread_stats(&b), 0);
	assert_int_equal(b.fences, a.fences);
	assert_int_equal(b.flushes, a.flushes);
}

/*
 * A child of fork() calling through its parent's handle: the pthread
 * objects in the shared mapping are process-private, so a child that
 * locked there would leave the parent's waiters unwoken. Every lock call
 * is refused -EBADFD, before it reads or writes the lock; the parent's
 * held mutex stays held, and it is still the parent's to unlock.
 */
static void test_child_of_fork_is_refused(void **state)
{
	struct fixture *f = *state;
	struct timespec ts = {0, 0};
	int st;

	assert_int_equal(daxo_mutex_lock(f->p, &f->r->m), 0);
	pid_t pid = fork();
	if (pid == 0) {
		daxo_pool *p = f->p;
		struct root *r = f->r;
		int bad = 0;
		alarm(20); /* a call that blocks here fails the test */
#define CHILD(call) bad += (call) != -EBADFD
		CHILD(daxo_mutex_lock(p, &r->race[1]));
		CHILD(daxo_mutex_trylock(p, &r->race[2]));
		CHILD(daxo_mutex_timedlock(p, &r->race[3], &ts));
		CHILD(daxo_mutex_unlock(p, &r->m));
		CHILD(daxo_rwlock_rdlock(p, &r->rw));
		CHILD(daxo_rwlock_wrlock(p, &r->rw));
		CHILD(daxo_rwlock_tryrdlock(p, &r->rw));
		CHILD(daxo_rwlock_trywrlock(p, &r->rw));
		CHILD(daxo_rwlock_timedrdlock(p, &r->rw, &ts));
		CHILD(daxo_rwlock_timedwrlock(p, &r->rw, &ts));
		CHILD(daxo_rwlock_unlock(p, &r->rw));
		CHILD(daxo_cond_signal(p, &r->c));
		CHILD(daxo_cond_broadcast(p, &r->c));
		CHILD(daxo_cond_wait(p, &r->c, &r->m));
		CHILD(daxo_cond_timedwait(p, &r->c, &r->m, &ts));
#undef CHILD
		_exit(bad);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	/* the parent still holds its mutex; the others were never touched */
	assert_int_equal(try_in_thread(f, try_mutex), -EBUSY);
	assert_int_equal(daxo_mutex_unlock(f->p, &f->r->m), 0);
	assert_int_equal(try_in_thread(f, try_mutex), 0);
	for (int k = 1; k < 4; k++) {
		assert_int_equal(daxo_mutex_trylock(f->p, &f->r->race[k]), 0);
		assert_int_equal(daxo_mutex_unlock(f->p, &f->r->race[k]), 0);
	}
	assert_int_equal(daxo_rwlock_trywrlock(f->p, &f->r->rw), 0);
	assert_int_equal(daxo_rwlock_unlock(f->p, &f->r->rw), 0);
}

/*
 * daxo_rwlock_unlock of a lock the thread does not hold: glibc took it for
 * a reader's unlock and broke the lock (no writer ever got it again,
 * readers got -EAGAIN). Now -EPERM, and the lock still works; a write lock
 * asked by a reader of the lock is -EDEADLK, not a hang.
 */
static void test_rwlock_unlock_unheld(void **state)
{
	struct fixture *f = *state;
	struct timespec ts = {0, 0};

	assert_int_equal(daxo_rwlock_unlock(f->p, &f->r->rw), -EPERM);
	assert_int_equal(try_in_thread(f, try_write), 0);
	assert_int_equal(daxo_rwlock_rdlock(f->p, &f->r->rw), 0);
	assert_int_equal(daxo_rwlock_rdlock(f->p, &f->r->rw), 0);
	assert_int_equal(daxo_rwlock_trywrlock(f->p, &f->r->rw), -EDEADLK);
	assert_int_equal(daxo_rwlock_timedwrlock(f->p, &f->r->rw, &ts),
			 -EDEADLK);
	assert_int_equal(daxo_rwlock_unlock(f->p, &f->r->rw), 0);
	assert_int_equal(daxo_rwlock_unlock(f->p, &f->r->rw), 0);
	assert_int_equal(daxo_rwlock_unlock(f->p, &f->r->rw), -EPERM);
	/* another thread's read lock is not this thread's to release */
	assert_int_equal(daxo_rwlock_wrlock(f->p, &f->r->rw), 0);
	assert_int_equal(try_in_thread(f, try_unlock_rw), -EPERM);
	assert_int_equal(daxo_rwlock_unlock(f->p, &f->r->rw), 0);
	assert_int_equal(try_in_thread(f, try_write), 0);
	assert_int_equal(try_in_thread(f, try_read), 0);
	/* held across a reopen: the new open's lock is free, not held */
	assert_int_equal(daxo_rwlock_rdlock(f->p, &f->r->rw), 0);
	reopen(f);
	assert_int_equal(daxo_rwlock_unlock(f->p, &f->r->rw), -EPERM);
	assert_int_equal(daxo_rwlock_wrlock(f->p, &f->r->rw), 0);
	assert_int_equal(daxo_rwlock_unlock(f->p, &f->r->rw), 0);
	assert_int_equal(try_in_thread(f, try_write), 0);
}

/* many rwlocks of one object, and a thread that tries them all */
/* ThreadSanitizer's deadlock detector keeps at most 64 locks held by a
 * thread (more is a CHECK failure of its own): there, 48 -- still more
 * than the old limit of 32 */
#if defined(__SANITIZE_THREAD__)
#define NMANY 48
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define NMANY 48
#endif
#endif
#ifndef NMANY
#define NMANY 1000
#endif
#define NEXIT (NMANY < 100 ? NMANY : 100)
struct many {
	daxo_pool *p;
	daxo_rwlock *l;
	int n;
	int busy, free_; /* trywrlock results of another thread */
};

static void *try_write_many(void *arg)
{
	struct many *m = arg;

	for (int i = 0; i < m->n; i++) {
		int r = daxo_rwlock_trywrlock(m->p, &m->l[i]);

		if (r == 0) {
			m->free_++;
			daxo_rwlock_unlock(m->p, &m->l[i]);
		} else if (r == -EBUSY) {
			m->busy++;
		}
	}
	return NULL;
}

static int try_many_in_thread(struct fixture *f, daxo_rwlock *l, int n)
{
	struct many m = {.p = f->p, .l = l, .n = n};
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, try_write_many, &m), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(m.busy + m.free_, n);
	return m.busy;
}

/* take them all (every third for writing) and return, holding them */
static void *hold_many(void *arg)
{
	struct many *m = arg;

	for (int i = 0; i < m->n; i++)
		if ((i % 3 ? daxo_rwlock_rdlock
			   : daxo_rwlock_wrlock)(m->p, &m->l[i]) == 0)
			m->busy++;
	return NULL;
}

/*
 * A thread's record of the rwlocks it holds has no fixed bound (it was 32,
 * and the 33rd distinct lock was -EAGAIN): NMANY distinct locks at once
 * (a thousand; 48 under ThreadSanitizer), read and written, each still
 * checked (-EDEADLK, -EPERM); a reopen drops them all; a thread that
 * exits holding many frees its record (a leak would be LeakSanitizer's
 * to report in the asan suite).
 */
static void test_rwlock_many_held(void **state)
{
	struct fixture *f = *state;
	daxo_rwlock *l;
	struct many m;
	pthread_t t;
	daxo_oid o;

	assert_int_equal(daxo_alloc(f->p, NMANY * sizeof(*l), 1, &o), 0);
	l = daxo_direct(f->p, o);
	memset(l, 0, NMANY * sizeof(*l));
	for (int i = 0; i < NMANY; i++)
		assert_int_equal((i % 3 ? daxo_rwlock_rdlock
					: daxo_rwlock_wrlock)(f->p, &l[i]),
				 0);
	/* again, for reading: held twice */
	for (int i = 1; i < NMANY; i += 3)
		assert_int_equal(daxo_rwlock_tryrdlock(f->p, &l[i]), 0);
	assert_int_equal(daxo_rwlock_wrlock(f->p, &l[NMANY - 1]), -EDEADLK);
	assert_int_equal(daxo_rwlock_rdlock(f->p, &l[0]), -EDEADLK);
	assert_int_equal(try_many_in_thread(f, l, NMANY), NMANY);
	for (int i = NMANY - 1; i >= 0; i--)
		assert_int_equal(daxo_rwlock_unlock(f->p, &l[i]), 0);
	/* the second read holds: still held, then free */
	assert_int_equal(try_many_in_thread(f, l, NMANY), (NMANY + 1) / 3);
	for (int i = 1; i < NMANY; i += 3)
		assert_int_equal(daxo_rwlock_unlock(f->p, &l[i]), 0);
	for (int i = 0; i < NMANY; i++)
		assert_int_equal(daxo_rwlock_unlock(f->p, &l[i]), -EPERM);
	assert_int_equal(try_many_in_thread(f, l, NMANY), 0);

	/* held across a reopen: none is held in the new open */
	for (int i = 0; i < NMANY; i++)
		assert_int_equal(daxo_rwlock_rdlock(f->p, &l[i]), 0);
	reopen(f);
	l = daxo_direct(f->p, o);
	for (int i = 0; i < NMANY; i++)
		assert_int_equal(daxo_rwlock_unlock(f->p, &l[i]), -EPERM);
	assert_int_equal(try_many_in_thread(f, l, NMANY), 0);

	/* a thread exits holding many: its record goes with it */
	m = (struct many){.p = f->p, .l = l, .n = NEXIT};
	assert_int_equal(pthread_create(&t, NULL, hold_many, &m), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(m.busy, NEXIT);
	reopen(f); /* the dead thread's holds: free in a new open */
	l = daxo_direct(f->p, o);
	assert_int_equal(try_many_in_thread(f, l, NMANY), 0);
	assert_int_equal(daxo_free(f->p, &o), 0);
}

#ifndef NOMEM_SKIP
/* the armed part of test_rwlock_record_nomem, in a thread of its own (its
 * record starts empty); cmocka's asserts stay in the main thread */
struct nomem_run {
	daxo_pool *p;
	daxo_rwlock *l;
	int got;	       /* the first lock refused, or -1 */
	int r, rw, rtw, ru;    /* that lock: rdlock, wrlock, trywrlock, unlock */
	int again, again_un;   /* l[0], held: rdlock and unlock once more */
	long failed;	       /* allocation calls failed */
	char msg[256];
};

static void *nomem_thread(void *arg)
{
	struct nomem_run *n = arg;

	n->got = -1;
	nomem_arm(0, 1);
	for (int i = 0; i < NMANY; i++) {
		n->r = daxo_rwlock_rdlock(n->p, &n->l[i]);
		if (n->r) {
			n->got = i;
			snprintf(n->msg, sizeof(n->msg), "%s", daxo_errormsg());
			n->rw = daxo_rwlock_wrlock(n->p, &n->l[i]);
			n->rtw = daxo_rwlock_trywrlock(n->p, &n->l[i]);
			n->ru = daxo_rwlock_unlock(n->p, &n->l[i]);
			break;
		}
	}
	n->again = daxo_rwlock_rdlock(n->p, &n->l[0]);
	n->again_un = daxo_rwlock_unlock(n->p, &n->l[0]);
	n->failed = nomem_failed();
	nomem_disarm();
	return NULL;
}

#endif

/*
 * No memory to record one more held rwlock: -ENOMEM, the lock untaken
 * (another thread can write it), the holds already recorded unchanged;
 * a lock the thread holds already needs no memory. Needs the allocation
 * failure injector (nomem_shim.c), which sanitizer builds cannot have.
 */
static void test_rwlock_record_nomem(void **state)
{
#ifdef NOMEM_SKIP
	(void)state;
	skip();
#else
	struct fixture *f = *state;
	struct nomem_run n = {.p = f->p};
	pthread_t t;
	daxo_oid o;

	assert_int_equal(daxo_alloc(f->p, NMANY * sizeof(*n.l), 1, &o), 0);
	n.l = daxo_direct(f->p, o);
	memset(n.l, 0, NMANY * sizeof(*n.l));
	assert_int_equal(pthread_create(&t, NULL, nomem_thread, &n), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	/* the record's own storage took some; then it had to grow */
	assert_true(n.got > 0);
	assert_true(n.failed > 0);
	assert_int_equal(n.r, -ENOMEM);
	assert_non_null(strstr(n.msg, "cannot record one more lock"));
	assert_int_equal(n.rw, -ENOMEM);
	assert_int_equal(n.rtw, -ENOMEM);
	assert_int_equal(n.ru, -EPERM);
	assert_int_equal(n.again, 0);
	assert_int_equal(n.again_un, 0);
	/* l[0..got) held for reading by that thread (it ended: its record
	 * with it, not the pthread locks), the rest free */
	assert_int_equal(try_many_in_thread(f, n.l, NMANY), n.got);
	for (int i = 0; i < NMANY; i++)
		assert_int_equal(daxo_rwlock_unlock(f->p, &n.l[i]), -EPERM);
	reopen(f); /* frees the pthread locks the ended thread held */
	n.l = daxo_direct(f->p, o);
	n.p = f->p;
	assert_int_equal(try_many_in_thread(f, n.l, NMANY), 0);
	/* with memory, a record grows past that point */
	for (int i = 0; i < NMANY; i++)
		assert_int_equal(daxo_rwlock_rdlock(f->p, &n.l[i]), 0);
	assert_int_equal(try_many_in_thread(f, n.l, NMANY), NMANY);
	for (int i = 0; i < NMANY; i++)
		assert_int_equal(daxo_rwlock_unlock(f->p, &n.l[i]), 0);
	assert_int_equal(daxo_free(f->p, &o), 0);
#endif
}

#define MIXERS 8
#define MIX_ROUNDS 2000

/*
 * readers and writers of one rwlock from many threads: a writer sees no
 * reader inside and makes the two words it guards equal again; a reader
 * finds them equal (a reader inside during a write would not). Each
 * thread's record of its holds stays its own (TSan build: no race).
 */
static void *mixer(void *arg)
{
	struct fixture *f = arg;
	uintptr_t bad = 0;
	unsigned seed = (unsigned)(uintptr_t)&seed;

	for (int i = 0; i < MIX_ROUNDS; i++) {
		if (rand_r(&seed) % 4 == 0) {
			if (daxo_rwlock_wrlock(f->p, &f->r->rw))
				return (void *)1;
			f->r->counter++;
			f->r->flag = f->r->counter;
		} else {
			if (daxo_rwlock_rdlock(f->p, &f->r->rw) ||
			    daxo_rwlock_rdlock(f->p, &f->r->rw))
				return (void *)1;
			bad += f->r->flag != f->r->counter;
			bad += daxo_rwlock_unlock(f->p, &f->r->rw) != 0;
		}
		bad += daxo_rwlock_unlock(f->p, &f->r->rw) != 0;
		bad += daxo_rwlock_unlock(f->p, &f->r->rw) != -EPERM;
	}
	return (void *)bad;
}

static void test_rwlock_many_threads(void **state)
{
	struct fixture *f = *state;
	pthread_t t[MIXERS];
	void *ret;

	f->r->counter = f->r->flag = 0;
	for (int i = 0; i < MIXERS; i++)
		pthread_create(&t[i], NULL, mixer, f);
	for (int i = 0; i < MIXERS; i++) {
		pthread_join(t[i], &ret);
		assert_null(ret);
	}
	assert_int_equal(f->r->flag, f->r->counter);
	assert_int_equal(daxo_rwlock_trywrlock(f->p, &f->r->rw), 0);
	assert_int_equal(daxo_rwlock_unlock(f->p, &f->r->rw), 0);
}

#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_mutex_excludes_and_checks),
		T(test_held_locks_free_after_reopen),
		T(test_locks_of_a_killed_process_are_free),
		T(test_rwlock_readers_share),
		T(test_cond_wait_signal),
		T(test_first_use_race),
		T(test_no_fence),
		T(test_child_of_fork_is_refused),
		T(test_rwlock_unlock_unheld),
		T(test_rwlock_many_held),
		T(test_rwlock_record_nomem),
		T(test_rwlock_many_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
