/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * perf.c -- per-thread page-fault sampling with perf_event_open.
 *
 * For every thread of a tracked process daxod opens two software events,
 * PERF_COUNT_SW_PAGE_FAULTS_MIN and _MAJ, sampling every fault (or every
 * sample_period-th) with PERF_SAMPLE_ADDR: the faulting virtual address,
 * which reg_account() attributes to a pool and a 2 MiB extent in it.
 *
 * Threads created later: per-task events with `inherit` cannot be mmap'ed
 * themselves, but they may write into another event's ring (SET_OUTPUT)
 * and their inherited copies in new threads write into their parent's
 * ring. So each thread gets a PERF_COUNT_SW_DUMMY event that owns the ring
 * buffer, and two inherited (inherit_thread: threads, not forked children)
 * sampling events that write into it; PERF_SAMPLE_IDENTIFIER names the
 * parent event even in a child thread, which tells minor from major, and
 * PERF_SAMPLE_TID the process. Threads existing at attach time are listed
 * from /proc/PID/task once; afterwards inheritance covers every new
 * thread from its first fault. On a kernel without inherit_thread
 * (< 5.13) daxod falls back to per-thread events and picks up new threads
 * every tick (faults a thread takes before that are missed).
 *
 * Rings are drained when half full (poll wakeup), on every tick and before
 * every query; a ring of 1 + 8 pages would hold only ~1000 samples, so the
 * default is 64 data pages, and overflows are counted (PERF_RECORD_LOST).
 *
 * Permissions (notes/page-faults.md): root or CAP_PERFMON may watch any
 * process; otherwise only processes of our own uid, with exclude_kernel=1,
 * and only where perf_event_paranoid <= 2. When the open is refused the
 * process stays in procstat mode. Faults made by MADV_POPULATE_* (prefault)
 * are handled without user registers and raise no perf event; they show
 * only in /proc/PID/stat.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "daxod.h"

#define MAX_THREADS_PER_PROC 512u
/* all rings together: 3 fds and (1 + ring_pages) pages each; a user who
 * starts many processes must not exhaust the daemon's descriptors */
#define MAX_THREADS_TOTAL 4096u

static unsigned nthreads_total;

struct perf_thread {
	struct evsrc ev; /* ev.fd: the minor event, owns the ring */
	struct perf_thread *next;
	struct dproc *pr;
	pid_t tid;
	bool counted; /* in nthreads_total */
	int fd_min, fd_maj;
	uint64_t id_min, id_maj;
	struct perf_event_mmap_page *meta;
	size_t map_len;
};

bool perf_available;
static bool need_exclude_kernel;
static bool no_inherit_thread; /* the kernel refused inherit_thread */

int perf_paranoid(void)
{
	FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "re");
	int v = 99;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = 99;
		fclose(f);
	}
	return v;
}

/* open_event -- one software event on @tid; @inherit: follow new threads */
static int open_event(pid_t tid, uint64_t config, size_t data_size,
		      bool inherit)
{
	struct perf_event_attr a;
	int fd;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = PERF_TYPE_SOFTWARE;
	a.config = config;
	if (config != PERF_COUNT_SW_DUMMY)
		a.sample_period = cfg.sample_period;
	a.sample_type =
	    PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_TID | PERF_SAMPLE_ADDR;
	a.exclude_hv = 1;
	a.exclude_kernel = need_exclude_kernel;
	a.inherit = inherit;
	a.inherit_thread = inherit;
	a.watermark = 1;
	a.wakeup_watermark = (uint32_t)(data_size / 2);
	fd = (int)syscall(SYS_perf_event_open, &a, tid, -1, -1,
			  PERF_FLAG_FD_CLOEXEC);
	if (fd < 0 && (errno == EACCES || errno == EPERM) &&
	    !need_exclude_kernel) {
		/* unprivileged: only user-mode faults may be watched */
		a.exclude_kernel = 1;
		fd = (int)syscall(SYS_perf_event_open, &a, tid, -1, -1,
				  PERF_FLAG_FD_CLOEXEC);
		if (fd >= 0)
			need_exclude_kernel = true;
	}
	return fd < 0 ? -errno : fd;
}

static void thread_close(struct perf_thread *t)
{
	if (t->ev.fd >= 0) {
		ev_del(&t->ev);
		close(t->ev.fd);
	}
	if (t->fd_min >= 0)
		close(t->fd_min);
	if (t->fd_maj >= 0)
		close(t->fd_maj);
	if (t->meta)
		munmap(t->meta, t->map_len);
	if (t->counted)
		nthreads_total--;
	ev_defer_free(t);
}

static void drain_thread(struct perf_thread *t)
{
	struct perf_event_mmap_page *m = t->meta;
	long pg = sysconf(_SC_PAGESIZE);
	const unsigned char *data = (const unsigned char *)m + pg;
	uint64_t size = (uint64_t)cfg.ring_pages * (uint64_t)pg;
	uint64_t head = __atomic_load_n(&m->data_head, __ATOMIC_ACQUIRE);
	uint64_t tail = m->data_tail;
	unsigned char rec[64];

	while (tail < head) {
		struct perf_event_header h;
		uint64_t at = tail % size;
		size_t n;

		if (head - tail < sizeof(h))
			break;
		for (size_t i = 0; i < sizeof(h); i++)
			((unsigned char *)&h)[i] = data[(at + i) % size];
		if (h.size < sizeof(h) || h.size > head - tail)
			break;
		n = h.size < sizeof(rec) ? h.size : sizeof(rec);
		for (size_t i = 0; i < n; i++)
			rec[i] = data[(at + i) % size];
		if (h.type == PERF_RECORD_SAMPLE && n >= 8 + 24) {
			uint64_t id, addr;
			uint32_t pid;
			struct dproc *pr = t->pr;
			memcpy(&id, rec + 8, 8);
			memcpy(&pid, rec + 16, 4);
			memcpy(&addr, rec + 24, 8);
			/* an inherited event in a forked child (old kernels
			 * without inherit_thread): credit the right process */
			if ((pid_t)pid != pr->pid)
				pr = reg_proc_find((pid_t)pid);
			if (pr)
				reg_account(pr, addr, id == t->id_maj,
					    cfg.sample_period);
		} else if (h.type == PERF_RECORD_LOST && n >= 8 + 16) {
			uint64_t lost;
			memcpy(&lost, rec + 16, 8);
			t->pr->lost += lost;
		}
		tail += h.size;
	}
	__atomic_store_n(&m->data_tail, tail, __ATOMIC_RELEASE);
}

static void thread_cb(struct evsrc *src, uint32_t events)
{
	struct perf_thread *t = (struct perf_thread *)src;
	struct dproc *pr = t->pr;

	drain_thread(t);
	if (!(events & (EPOLLHUP | EPOLLERR)))
		return;
	/* the thread exited */
	if (!no_inherit_thread) {
		/* the threads it created still write into this ring through
		 * their inherited events: keep it (drained on every tick)
		 * until the process goes, just stop polling it */
		ev_del(&t->ev);
		return;
	}
	for (struct perf_thread **pp = &pr->threads; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	thread_close(t);
}

static int thread_open(struct dproc *pr, pid_t tid)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t data_size = (size_t)cfg.ring_pages * (size_t)pg;
	struct perf_thread *t = calloc(1, sizeof(*t));
	bool inherit = !no_inherit_thread;
	int ret;

	if (!t)
		return -ENOMEM;
	if (nthreads_total >= MAX_THREADS_TOTAL) {
		free(t);
		return -EMFILE;
	}
	nthreads_total++;
	t->counted = true;
	t->pr = pr;
	t->tid = tid;
	t->fd_min = t->fd_maj = -1;
	t->ev.cb = thread_cb;
	/* the ring's owner: a dummy event when the samplers are inherited
	 * (those cannot be mmap'ed), else the minor-fault sampler itself */
	t->ev.fd = open_event(
	    tid, inherit ? PERF_COUNT_SW_DUMMY : PERF_COUNT_SW_PAGE_FAULTS_MIN,
	    data_size, false);
	if (t->ev.fd < 0) {
		ret = t->ev.fd;
		goto fail;
	}
	if (inherit) {
		t->fd_min = open_event(tid, PERF_COUNT_SW_PAGE_FAULTS_MIN,
				       data_size, true);
		if (t->fd_min == -EINVAL) {
			/* no inherit_thread here: per-thread events */
			no_inherit_thread = true;
			log_msg(LOG_INFO, "perf: no inherit_thread in this "
					  "kernel; new threads are picked up "
					  "every tick");
			thread_close(t);
			return thread_open(pr, tid);
		}
		if (t->fd_min < 0) {
			ret = t->fd_min;
			goto fail;
		}
	}
	t->fd_maj =
	    open_event(tid, PERF_COUNT_SW_PAGE_FAULTS_MAJ, data_size, inherit);
	if (t->fd_maj < 0) {
		ret = t->fd_maj;
		goto fail;
	}
	t->map_len = data_size + (size_t)pg;
	t->meta = mmap(NULL, t->map_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		       t->ev.fd, 0);
	if (t->meta == MAP_FAILED) {
		t->meta = NULL;
		ret = -errno;
		goto fail;
	}
	if ((t->fd_min >= 0 &&
	     ioctl(t->fd_min, PERF_EVENT_IOC_SET_OUTPUT, t->ev.fd)) ||
	    ioctl(t->fd_maj, PERF_EVENT_IOC_SET_OUTPUT, t->ev.fd) ||
	    ioctl(t->fd_maj, PERF_EVENT_IOC_ID, &t->id_maj)) {
		ret = -errno;
		goto fail;
	}
	ret = ev_add(&t->ev, EPOLLIN);
	if (ret)
		goto fail;
	t->next = pr->threads;
	pr->threads = t;
	return 0;
fail:
	if (ret != -ESRCH)
		log_msg(LOG_DEBUG, "perf on tid %d: %s", (int)tid,
			strerror(-ret));
	if (t->ev.fd >= 0) {
		close(t->ev.fd);
		t->ev.fd = -1;
	}
	thread_close(t);
	return ret;
}

static bool have_thread(struct dproc *pr, pid_t tid)
{
	for (struct perf_thread *t = pr->threads; t; t = t->next)
		if (t->tid == tid)
			return true;
	return false;
}

/* attach_threads -- open events on threads we do not watch yet */
static int attach_threads(struct dproc *pr)
{
	char path[64];
	struct dirent *de;
	unsigned n = 0;
	int ret = 0, ok = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pr->pid);
	d = opendir(path);
	if (!d)
		return -errno;
	for (struct perf_thread *t = pr->threads; t; t = t->next)
		n++;
	while ((de = readdir(d))) {
		char *end;
		long tid = strtol(de->d_name, &end, 10);
		int r;

		if (*end || tid <= 0 || have_thread(pr, (pid_t)tid))
			continue;
		if (n >= MAX_THREADS_PER_PROC)
			break;
		r = thread_open(pr, (pid_t)tid);
		if (r == 0) {
			ok++;
			n++;
		} else if (r != -ESRCH) {
			ret = r;
		}
	}
	closedir(d);
	return ok || pr->threads ? 0 : ret ? ret : -ESRCH;
}

int perf_attach(struct dproc *pr)
{
	int ret;

	if (pr->perf_denied)
		return -EACCES;
	ret = attach_threads(pr);
	if (ret) {
		if (ret == -EACCES || ret == -EPERM || ret == -ENOENT ||
		    ret == -EINVAL || ret == -ENOSYS) {
			pr->perf_denied = true;
			log_msg(LOG_INFO,
				"perf_event_open on pid %d refused (%s, "
				"perf_event_paranoid=%d): procstat mode",
				(int)pr->pid, strerror(-ret), perf_paranoid());
		}
		return ret;
	}
	perf_available = true;
	return 0;
}

void perf_refresh_threads(struct dproc *pr)
{
	/* with inherited events new threads are already covered; listing
	 * them again would count their faults twice */
	if (pr->mode == MODE_PROCSTAT || !no_inherit_thread)
		return;
	(void)attach_threads(pr);
}

unsigned perf_nthreads(const struct dproc *pr)
{
	unsigned n = 0;

	for (const struct perf_thread *t = pr->threads; t; t = t->next)
		n++;
	return n;
}

void perf_drain(struct dproc *pr)
{
	for (struct perf_thread *t = pr->threads; t; t = t->next)
		drain_thread(t);
}

void perf_drain_all(void)
{
	for (struct dproc *pr = reg.procs; pr; pr = pr->next)
		perf_drain(pr);
}

void perf_detach(struct dproc *pr)
{
	while (pr->threads) {
		struct perf_thread *t = pr->threads;
		pr->threads = t->next;
		drain_thread(t);
		thread_close(t);
	}
}
