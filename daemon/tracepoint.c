/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tracepoint.c -- PMD versus PTE faults on DAX mappings (fs_dax tracepoints).
 *
 * The kernel's fs_dax:dax_pmd_fault_done and fs_dax:dax_pte_fault_done
 * tracepoints fire for every DAX fault with the faulting address and the
 * result (NOPAGE, FALLBACK when a 2 MiB fault had to fall back to 4 KiB
 * pages, NEEDDSYNC, SIGBUS, ...). Completed faults count as pmd or pte,
 * fallbacks as pmd_fallback, SIGBUS/poison results as dax_errors. daxod opens
 * both system-wide, one ring per CPU (the PTE event writes into the PMD event's
 * ring), and credits each event to the pool of the reporting pid that holds the
 * address. Field offsets are read from the events' format files, not assumed.
 *
 * Only root or CAP_PERFMON may do this; without it (or without fs_dax in
 * the kernel, or without tracefs) daxod says so and DAX pools report
 * pmd = pte = 0 with mode "perf" or "procstat". Non-DAX pools (tmpfs,
 * ordinary files) never produce these events.
 */
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
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "daxod.h"

/* vm_fault_t bits (include/linux/mm_types.h), stable since 4.x */
#define VM_FAULT_OOM_		 0x0001
#define VM_FAULT_SIGBUS_	 0x0002
#define VM_FAULT_HWPOISON_	 0x0010
#define VM_FAULT_HWPOISON_LARGE_ 0x0020
#define VM_FAULT_SIGSEGV_	 0x0040
#define VM_FAULT_NOPAGE_	 0x0100
#define VM_FAULT_FALLBACK_	 0x0800
#define VM_FAULT_ERRORS_                                                       \
	(VM_FAULT_OOM_ | VM_FAULT_SIGBUS_ | VM_FAULT_HWPOISON_ |               \
	 VM_FAULT_HWPOISON_LARGE_ | VM_FAULT_SIGSEGV_)
#define TP_RING_PAGES 16u

struct tp_field {
	int off, size;
};

struct tp_event {
	const char *name;
	uint64_t id; /* tracepoint id from tracefs */
	struct tp_field address, result;
};

static struct tp_event tps[2] = {
    {.name = "dax_pmd_fault_done"},
    {.name = "dax_pte_fault_done"},
};

struct tp_cpu {
	struct evsrc ev;
	int fd2;
	uint64_t id[2];
	void *map;
	size_t map_len;
};

static struct tp_cpu *cpus;
static int ncpus;
static uint64_t nevents;
bool tp_active;

uint64_t tp_events(void)
{
	return nevents;
}

static const char *tracefs(void)
{
	static const char *const dirs[] = {"/sys/kernel/tracing",
					   "/sys/kernel/debug/tracing"};
	char p[128];

	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		snprintf(p, sizeof(p), "%s/events", dirs[i]);
		if (access(p, F_OK) == 0)
			return dirs[i];
	}
	/* like perf(1): mount tracefs if it is not mounted (root only) */
	if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) == 0)
		return dirs[0];
	return NULL;
}

/* read_format -- the tracepoint's id and the fields we use */
static int read_format(const char *dir, struct tp_event *e)
{
	char path[256], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/events/fs_dax/%s/format", dir,
		 e->name);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	e->address.off = e->result.off = -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long id;
		char *fld = strstr(line, "field:");
		struct tp_field *t = NULL;
		int off, size;
		char *o, *s;

		if (sscanf(line, "ID: %llu", &id) == 1) {
			e->id = id;
			continue;
		}
		if (!fld)
			continue;
		if (strstr(fld, " address;"))
			t = &e->address;
		else if (strstr(fld, " result;"))
			t = &e->result;
		if (!t)
			continue;
		o = strstr(fld, "offset:");
		s = strstr(fld, "size:");
		if (!o || !s || sscanf(o, "offset:%d", &off) != 1 ||
		    sscanf(s, "size:%d", &size) != 1)
			continue;
		t->off = off;
		t->size = size;
	}
	fclose(f);
	if (!e->id || e->address.off < 0 || e->address.size != 8 ||
	    e->result.off < 0 || e->result.size != 4)
		return -EINVAL;
	return 0;
}

static int open_tp(uint64_t id, int cpu)
{
	struct perf_event_attr a;
	long pg = sysconf(_SC_PAGESIZE);

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = PERF_TYPE_TRACEPOINT;
	a.config = id;
	a.sample_period = 1;
	a.sample_type =
	    PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_TID | PERF_SAMPLE_RAW;
	a.watermark = 1;
	a.wakeup_watermark = (uint32_t)(TP_RING_PAGES * (unsigned long)pg / 2);
	int fd = (int)syscall(SYS_perf_event_open, &a, -1, cpu, -1,
			      PERF_FLAG_FD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static void tp_credit(struct dpool *pl, int which, int32_t result)
{
	/* count completed faults: NOPAGE is a mapping installed (a 2 MiB
	 * one for PMD), FALLBACK a PMD fault retried with PTEs, the error
	 * bits a SIGBUS/poison (bad blocks); RETRY is counted when it is
	 * retried and completes */
	if (result & VM_FAULT_ERRORS_)
		pl->fc.dax_errors++;
	else if (which == 0 && (result & VM_FAULT_FALLBACK_))
		pl->fc.pmd_fallback++;
	else if (which == 0 && (result & VM_FAULT_NOPAGE_))
		pl->fc.pmd++;
	else if (which == 1 && (result & VM_FAULT_NOPAGE_))
		pl->fc.pte++;
}

/* DAX faults of processes or pools not known yet: the first faults of a
 * pool come from daxo_create/daxo_open, before it is registered */
#define TP_RECENT 1024u

static struct tp_recent {
	pid_t pid; /* 0: empty or credited */
	int which;
	int32_t result;
	uint64_t addr;
} recent[TP_RECENT];
static unsigned recent_head;

void tp_credit_recent(struct dproc *pr, struct dpool *pl)
{
	for (unsigned i = 0; i < TP_RECENT; i++) {
		struct tp_recent *r = &recent[i];
		if (r->pid == pr->pid && r->addr >= pl->base &&
		    r->addr - pl->base < pl->size) {
			tp_credit(pl, r->which, r->result);
			r->pid = 0;
		}
	}
}

static void handle_raw(pid_t pid, int which, const unsigned char *raw,
		       uint32_t len)
{
	const struct tp_event *e = &tps[which];
	struct dproc *pr;
	struct dpool *pl;
	uint64_t addr;
	int32_t result;

	if ((uint32_t)e->address.off + 8 > len ||
	    (uint32_t)e->result.off + 4 > len)
		return;
	memcpy(&addr, raw + e->address.off, 8);
	memcpy(&result, raw + e->result.off, 4);
	nevents++;
	pr = reg_proc_find(pid);
	pl = pr ? reg_pool_at(pr, addr) : NULL;
	if (!pl) {
		recent[recent_head] =
		    (struct tp_recent){pid, which, result, addr};
		recent_head = (recent_head + 1) % TP_RECENT;
		return;
	}
	tp_credit(pl, which, result);
}

static void drain_cpu(struct tp_cpu *c)
{
	struct perf_event_mmap_page *m = c->map;
	long pg = sysconf(_SC_PAGESIZE);
	const unsigned char *data = (const unsigned char *)m + pg;
	uint64_t size = (uint64_t)TP_RING_PAGES * (uint64_t)pg;
	uint64_t head = __atomic_load_n(&m->data_head, __ATOMIC_ACQUIRE);
	uint64_t tail = m->data_tail;
	unsigned char rec[512];

	while (tail < head) {
		struct perf_event_header h;
		uint64_t at = tail % size;

		if (head - tail < sizeof(h))
			break;
		for (size_t i = 0; i < sizeof(h); i++)
			((unsigned char *)&h)[i] = data[(at + i) % size];
		if (h.size < sizeof(h) || h.size > head - tail)
			break;
		if (h.type == PERF_RECORD_SAMPLE && h.size <= sizeof(rec) &&
		    h.size >= 8 + 8 + 8 + 4) {
			uint64_t id;
			uint32_t pid, rawlen;

			for (size_t i = 0; i < h.size; i++)
				rec[i] = data[(at + i) % size];
			memcpy(&id, rec + 8, 8);
			memcpy(&pid, rec + 16, 4);
			memcpy(&rawlen, rec + 24, 4);
			if (rawlen <= h.size - 28u)
				handle_raw((pid_t)pid, id == c->id[1] ? 1 : 0,
					   rec + 28, rawlen);
		}
		tail += h.size;
	}
	__atomic_store_n(&m->data_tail, tail, __ATOMIC_RELEASE);
}

static void cpu_cb(struct evsrc *src, uint32_t events)
{
	drain_cpu((struct tp_cpu *)src);
}

void tp_drain(void)
{
	for (int i = 0; i < ncpus; i++)
		if (cpus[i].map)
			drain_cpu(&cpus[i]);
}

int tp_start(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	const char *dir = tracefs();
	int n = (int)sysconf(_SC_NPROCESSORS_CONF), opened = 0, err = 0;

	if (!dir) {
		log_msg(LOG_INFO, "fs_dax tracepoints: tracefs not available");
		return -ENOENT;
	}
	for (int i = 0; i < 2; i++) {
		int r = read_format(dir, &tps[i]);
		if (r) {
			log_msg(LOG_INFO,
				"fs_dax tracepoints: %s/events/fs_dax/%s: %s",
				dir, tps[i].name, strerror(-r));
			return r;
		}
	}
	cpus = calloc((size_t)n, sizeof(*cpus));
	if (!cpus)
		return -ENOMEM;
	ncpus = n;
	for (int i = 0; i < n; i++) {
		struct tp_cpu *c = &cpus[i];
		int fd = open_tp(tps[0].id, i);

		c->ev.fd = -1;
		c->fd2 = -1;
		if (fd < 0) {
			err = fd;
			continue; /* offline CPU, or no permission */
		}
		c->ev.fd = fd;
		c->ev.cb = cpu_cb;
		c->fd2 = open_tp(tps[1].id, i);
		c->map_len = (TP_RING_PAGES + 1) * (size_t)pg;
		c->map = mmap(NULL, c->map_len, PROT_READ | PROT_WRITE,
			      MAP_SHARED, fd, 0);
		if (c->fd2 < 0 || c->map == MAP_FAILED ||
		    ioctl(c->fd2, PERF_EVENT_IOC_SET_OUTPUT, fd) ||
		    ioctl(fd, PERF_EVENT_IOC_ID, &c->id[0]) ||
		    ioctl(c->fd2, PERF_EVENT_IOC_ID, &c->id[1]) ||
		    ev_add(&c->ev, EPOLLIN)) {
			err = -errno;
			if (c->map == MAP_FAILED)
				c->map = NULL;
			if (c->map)
				munmap(c->map, c->map_len);
			c->map = NULL;
			if (c->fd2 >= 0)
				close(c->fd2);
			close(fd);
			c->ev.fd = c->fd2 = -1;
			continue;
		}
		opened++;
	}
	if (!opened) {
		log_msg(LOG_INFO,
			"fs_dax tracepoints: perf_event_open: %s "
			"(needs root or CAP_PERFMON)",
			strerror(-err));
		tp_stop();
		return err ? err : -ENODEV;
	}
	tp_active = true;
	log_msg(LOG_INFO, "fs_dax tracepoints active on %d CPUs", opened);
	return 0;
}

void tp_stop(void)
{
	for (int i = 0; i < ncpus; i++) {
		struct tp_cpu *c = &cpus[i];
		if (c->ev.fd >= 0) {
			ev_del(&c->ev);
			close(c->ev.fd);
		}
		if (c->fd2 >= 0)
			close(c->fd2);
		if (c->map)
			munmap(c->map, c->map_len);
	}
	free(cpus);
	cpus = NULL;
	ncpus = 0;
	tp_active = false;
}
