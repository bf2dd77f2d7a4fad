/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * registry.c -- the processes daxod watches and the pools mapped in them.
 *
 * A process enters the registry when it registers a pool over the socket or
 * when the /proc scan finds a pool file in its maps, and leaves when it
 * exits (its pidfd becomes readable, or the scan no longer finds it, or its
 * start time changed: the pid was reused) or maps no pool any more. A pool
 * is known by (pid, base address). Fault samples are credited to the pool
 * whose [base, base+size) holds the faulting address, and within it to a
 * heat-map extent of HEAT_EXTENT_MIN bytes (coarser for huge pools, so that
 * a map never has more than HEAT_MAX_BUCKETS entries).
 *
 * Limits keep a hostile client from growing the daemon without bound:
 * MAX_PROCS processes (max_procs_per_uid of any unprivileged uid: it cannot
 * crowd out root's), MAX_POOLS_PER_PROC pools each, registered paths below
 * PROTO_PATH_MAX bytes. The events a process causes are written within its
 * uid's budget (event_emit_uid); the matching log lines are debug lines.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "daxod.h"

struct registry reg;

static void credit_recent(struct dproc *pr, struct dpool *pl);

const char *mode_name(enum fault_mode m)
{
	switch (m) {
	case MODE_PERF:
		return "perf";
	case MODE_TRACEPOINT:
		return "tracepoint";
	case MODE_PROCSTAT:
		break;
	}
	return "procstat";
}

void window_push(struct window *w, double t, uint64_t minor, uint64_t major)
{
	unsigned cap = cfg.window_s * 1000u / cfg.tick_ms + 1;

	if (cap > WINDOW_MAX)
		cap = WINDOW_MAX;
	if (cap < 2)
		cap = 2;
	w->t[w->head] = t;
	w->minor[w->head] = minor;
	w->major[w->head] = major;
	w->head = (w->head + 1) % cap;
	if (w->len < cap)
		w->len++;
}

void window_rate(const struct window *w, double t, uint64_t minor,
		 uint64_t major, double *rminor, double *rmajor)
{
	unsigned cap = cfg.window_s * 1000u / cfg.tick_ms + 1;
	unsigned first;
	double dt;

	*rminor = *rmajor = 0;
	if (cap > WINDOW_MAX)
		cap = WINDOW_MAX;
	if (cap < 2)
		cap = 2;
	if (w->len < 1)
		return;
	/* from the oldest point in the window to now */
	first = (w->head + cap - w->len) % cap;
	dt = t - w->t[first];
	if (dt <= 0)
		return;
	*rminor = (double)(minor - w->minor[first]) / dt;
	*rmajor = (double)(major - w->major[first]) / dt;
}

struct dproc *reg_proc_find(pid_t pid)
{
	for (struct dproc *p = reg.procs; p; p = p->next)
		if (p->pid == pid)
			return p;
	return NULL;
}

static void pidfd_cb(struct evsrc *src, uint32_t events)
{
	struct dproc *pr =
	    (struct dproc *)((char *)src - offsetof(struct dproc, pidfd));

	perf_drain(pr);
	reg_proc_forget(pr, "exited");
}

struct dproc *reg_proc_get(pid_t pid)
{
	struct dproc *pr = reg_proc_find(pid);
	struct uid_use *use;
	struct stat st;
	char path[64];

	if (pr)
		return pr;
	if (reg.nprocs >= MAX_PROCS) {
		log_msg(LOG_DEBUG, "tracking %u processes: ignoring pid %d",
			reg.nprocs, (int)pid);
		return NULL;
	}
	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	if (stat(path, &st) != 0)
		return NULL;
	use = uid_use(st.st_uid);
	if (!uid_privileged(st.st_uid) && use->procs >= cfg.max_procs_per_uid) {
		log_msg(LOG_DEBUG,
			"uid %u has %u processes tracked: ignoring pid %d",
			(unsigned)st.st_uid, use->procs, (int)pid);
		return NULL;
	}
	pr = calloc(1, sizeof(*pr));
	if (!pr)
		return NULL;
	pr->pid = pid;
	pr->uid = st.st_uid;
	pr->pidfd.fd = -1;
	if (procstat_read(pid, &pr->minflt0, &pr->majflt0, &pr->starttime,
			  pr->comm, sizeof(pr->comm))) {
		free(pr);
		return NULL;
	}
	pr->minflt = pr->minflt0;
	pr->majflt = pr->majflt0;
	use->procs++;
	pr->t_seen = now_mono();
	/* a pidfd tells us the moment the process exits */
	pr->pidfd.fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pr->pidfd.fd >= 0) {
		pr->pidfd.cb = pidfd_cb;
		if (ev_add(&pr->pidfd, EPOLLIN)) {
			close(pr->pidfd.fd);
			pr->pidfd.fd = -1;
		}
	}
	pr->mode = MODE_PROCSTAT;
	window_push(&pr->win, pr->t_seen, 0, 0);
	pr->next = reg.procs;
	reg.procs = pr;
	reg.nprocs++;
	if (cfg.use_perf && perf_attach(pr) == 0)
		pr->mode = MODE_PERF;
	log_msg(LOG_DEBUG, "tracking pid %d (%s), mode %s", (int)pid,
		text_safe(0, pr->comm, sizeof(pr->comm)), mode_name(pr->mode));
	return pr;
}

static void pool_free(struct dpool *pl)
{
	free(pl->heat);
	free(pl->path);
	free(pl);
}

void reg_proc_forget(struct dproc *pr, const char *why)
{
	json_object *o;

	for (struct dproc **pp = &reg.procs; *pp; pp = &(*pp)->next)
		if (*pp == pr) {
			*pp = pr->next;
			break;
		}
	reg.nprocs--;
	uid_use(pr->uid)->procs--;
	o = json_object_new_object();
	json_object_object_add(o, "pid", json_object_new_int(pr->pid));
	json_object_object_add(o, "comm", json_text(pr->comm, sizeof(pr->comm)));
	json_object_object_add(o, "reason", json_object_new_string(why));
	json_object_object_add(o, "pools",
			       json_object_new_int((int)pr->npools));
	event_emit_uid(pr->uid, "process_gone", o);
	log_msg(LOG_DEBUG, "forgetting pid %d: %s", (int)pr->pid, why);
	perf_detach(pr);
	free(pr->recent);
	if (pr->pidfd.fd >= 0) {
		ev_del(&pr->pidfd);
		close(pr->pidfd.fd);
	}
	while (pr->pools) {
		struct dpool *pl = pr->pools;
		pr->pools = pl->next;
		reg.npools--;
		pool_free(pl);
	}
	ev_defer_free(pr);
}

struct dpool *reg_pool_find(struct dproc *pr, uint64_t base)
{
	for (struct dpool *pl = pr->pools; pl; pl = pl->next)
		if (pl->base == base)
			return pl;
	return NULL;
}

struct dpool *reg_pool_at(struct dproc *pr, uint64_t addr)
{
	for (struct dpool *pl = pr->pools; pl; pl = pl->next)
		if (addr >= pl->base && addr - pl->base < pl->size)
			return pl;
	return NULL;
}

static int pool_set_size(struct dpool *pl, uint64_t size)
{
	uint64_t ext = HEAT_EXTENT_MIN;
	uint32_t *heat;
	uint64_t n;

	while ((size + ext - 1) / ext > HEAT_MAX_BUCKETS)
		ext <<= 1;
	n = (size + ext - 1) / ext;
	heat = calloc(n ? n : 1, sizeof(*heat));
	if (!heat)
		return -ENOMEM;
	free(pl->heat);
	pl->heat = heat;
	pl->nheat = (uint32_t)n;
	pl->heat_extent = ext;
	pl->size = size;
	return 0;
}

struct dpool *reg_pool_add(struct dproc *pr, const char *path, uint64_t base,
			   uint64_t size)
{
	struct dpool *pl;

	if (pr->npools >= MAX_POOLS_PER_PROC)
		return NULL;
	pl = calloc(1, sizeof(*pl));
	if (!pl)
		return NULL;
	pl->path = strdup(path);
	if (!pl->path || pool_set_size(pl, size)) {
		pool_free(pl);
		return NULL;
	}
	pl->proc = pr;
	pl->id = ++reg.next_pool_id;
	pl->base = base;
	pl->pmem = -1;
	pl->t_seen = now_mono();
	pl->next = pr->pools;
	pr->pools = pl;
	pr->npools++;
	reg.npools++;
	perf_drain(pr);
	credit_recent(pr, pl);
	if (tp_active) {
		tp_drain();
		tp_credit_recent(pr, pl);
	}
	/* the window starts now, so that rates exist before the first tick */
	window_push(&pl->win, now_mono(), pl->fc.minor, pl->fc.major);
	return pl;
}

void reg_pool_remove(struct dproc *pr, struct dpool *pl, const char *why)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "pid", json_object_new_int(pr->pid));
	json_object_object_add(o, "path", json_text(pl->path, PROTO_PATH_MAX));
	json_object_object_add(o, "reason", json_object_new_string(why));
	json_object_object_add(o, "minor",
			       json_object_new_int64((int64_t)pl->fc.minor));
	json_object_object_add(o, "major",
			       json_object_new_int64((int64_t)pl->fc.major));
	event_emit_uid(pr->uid, "pool_gone", o);
	for (struct dpool **pp = &pr->pools; *pp; pp = &(*pp)->next)
		if (*pp == pl) {
			*pp = pl->next;
			break;
		}
	pr->npools--;
	reg.npools--;
	pool_free(pl);
}

int reg_register(const struct proto_req *rq, char *err, size_t errlen)
{
	struct dproc *pr = reg_proc_get((pid_t)rq->pid);
	struct dpool *pl;
	json_object *o;

	if (!pr) {
		snprintf(err, errlen, "cannot track pid %lld",
			 (long long)rq->pid);
		return -EAGAIN;
	}
	pl = reg_pool_find(pr, rq->base);
	if (pl && pl->size != rq->size && pool_set_size(pl, rq->size)) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (pl && strcmp(pl->path, rq->path)) {
		char *s = strdup(rq->path);
		if (s) {
			free(pl->path);
			pl->path = s;
		}
	}
	if (!pl)
		pl = reg_pool_add(pr, rq->path, rq->base, rq->size);
	if (!pl) {
		snprintf(err, errlen, "too many pools in pid %lld",
			 (long long)rq->pid);
		return -ENOSPC;
	}
	pl->registered = true;
	pl->pmem = rq->pmem;
	pl->dax = rq->dax;
	pl->map_sync = rq->map_sync;
	pl->devdax = rq->devdax;
	if (pr->mode == MODE_PERF && tp_active && pl->dax)
		pr->mode = MODE_TRACEPOINT;
	o = json_object_new_object();
	json_object_object_add(o, "pid", json_object_new_int(pr->pid));
	json_object_object_add(o, "comm", json_text(pr->comm, sizeof(pr->comm)));
	json_object_object_add(o, "path", json_text(pl->path, PROTO_PATH_MAX));
	json_object_object_add(o, "base",
			       json_object_new_int64((int64_t)pl->base));
	json_object_object_add(o, "size",
			       json_object_new_int64((int64_t)pl->size));
	json_object_object_add(o, "mode",
			       json_object_new_string(mode_name(pr->mode)));
	event_emit_uid(pr->uid, "pool_registered", o);
	log_msg(LOG_DEBUG, "pid %d (%s) registered %s (%llu bytes), mode %s",
		(int)pr->pid, text_safe(0, pr->comm, sizeof(pr->comm)),
		text_safe(1, pl->path, PROTO_PATH_MAX),
		(unsigned long long)pl->size, mode_name(pr->mode));
	return 0;
}

int reg_unregister(const struct proto_req *rq, char *err, size_t errlen)
{
	struct dproc *pr = reg_proc_find((pid_t)rq->pid);
	struct dpool *pl = pr ? reg_pool_find(pr, rq->base) : NULL;

	if (!pl) {
		snprintf(err, errlen, "no pool at that base in pid %lld",
			 (long long)rq->pid);
		return -ENOENT;
	}
	perf_drain(pr);
	reg_pool_remove(pr, pl, "unregistered");
	if (!pr->pools)
		reg_proc_forget(pr, "no pools left");
	return 0;
}

static void credit(struct dpool *pl, uint64_t addr, bool major, uint64_t n)
{
	uint64_t i;

	if (major)
		pl->fc.major += n;
	else
		pl->fc.minor += n;
	pl->fc.sampled++;
	i = (addr - pl->base) / pl->heat_extent;
	if (i < pl->nheat)
		pl->heat[i] += (uint32_t)n;
}

void reg_account(struct dproc *pr, uint64_t addr, bool major, uint64_t n)
{
	struct dpool *pl = reg_pool_at(pr, addr);

	if (pl) {
		credit(pl, addr, major, n);
		return;
	}
	pr->unattributed += n;
	/* remember it: the pool may be announced a moment later */
	if (!pr->recent)
		pr->recent = calloc(RECENT_MAX, sizeof(*pr->recent));
	if (pr->recent) {
		pr->recent[pr->recent_head] =
		    (struct recent_fault){addr, n, major};
		pr->recent_head = (pr->recent_head + 1) % RECENT_MAX;
	}
}

/*
 * credit_recent -- a pool just became known: credit it with the samples of
 * the last RECENT_MAX unattributed ones that fall inside it. These are the
 * faults its process took on it after daxod started watching the process
 * but before the pool was registered or discovered -- typically those of
 * daxo_open validating and booting the pool. (An address range that held
 * another mapping earlier could in principle be credited too; pools are
 * mapped fresh by daxo_open, so in practice these are the pool's.)
 */
static void credit_recent(struct dproc *pr, struct dpool *pl)
{
	if (!pr->recent)
		return;
	for (unsigned i = 0; i < RECENT_MAX; i++) {
		struct recent_fault *r = &pr->recent[i];
		if (r->n && r->addr >= pl->base &&
		    r->addr - pl->base < pl->size) {
			credit(pl, r->addr, r->major, r->n);
			pr->unattributed -= r->n;
			r->n = 0;
		}
	}
}

void reg_tick(double t)
{
	for (struct dproc *pr = reg.procs; pr; pr = pr->next) {
		window_push(&pr->win, t, pr->minflt - pr->minflt0,
			    pr->majflt - pr->majflt0);
		for (struct dpool *pl = pr->pools; pl; pl = pl->next)
			window_push(&pl->win, t, pl->fc.minor, pl->fc.major);
	}
}

void reg_free_all(void)
{
	while (reg.procs)
		reg_proc_forget(reg.procs, "daemon exiting");
}
