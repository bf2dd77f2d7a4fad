/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ev.h -- daxod's event loop: one thread, one epoll set.
 *
 * Everything that can wake the daemon (the listening socket and each
 * client, each perf ring buffer, each process's pidfd, the tracepoint
 * rings, the metrics server, the periodic timer, the signalfd) is a
 * `struct evsrc` registered with ev_add(); ev_run() calls its callback
 * when the fd is ready. Callbacks must not block.
 *
 * A callback may remove sources -- its own or others -- that still have
 * events pending later in the same batch: ev_del() marks a source dead so
 * that the loop skips it, and ev_defer_free() delays freeing its memory
 * until the batch is done.
 */
#ifndef DAXOD_EV_H
#define DAXOD_EV_H 1

#include <stdbool.h>
#include <stdint.h>

struct evsrc;
typedef void (*ev_cb)(struct evsrc *src, uint32_t events);

struct evsrc {
	int fd;
	ev_cb cb;
	bool dead; /* removed during this loop iteration */
};

/* ev_init -- create the epoll set; 0 or -errno */
int ev_init(void);
/* ev_run -- dispatch events until ev_stop(); 0, or -errno of epoll_wait */
int ev_run(void);
/* ev_stop -- make ev_run() return after the current batch */
void ev_stop(void);
/* ev_fini -- free what is deferred and close the epoll set */
void ev_fini(void);

/* ev_add, ev_mod -- watch @src->fd for @events (EPOLLIN ...); 0 or -errno */
int ev_add(struct evsrc *src, uint32_t events);
int ev_mod(struct evsrc *src, uint32_t events);
/* ev_del -- stop watching @src (the caller closes its fd) */
void ev_del(struct evsrc *src);
/* ev_defer_free -- free(@p) after the current batch of events */
void ev_defer_free(void *p);

double now_mono(void); /* seconds, CLOCK_MONOTONIC */
double now_real(void); /* seconds since the epoch */

#endif
