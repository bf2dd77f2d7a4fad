/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ev.c -- daxod's event loop (see ev.h): an epoll set, a dispatch loop and
 * the memory freed between batches of events.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "ev.h"

#define EV_BATCH 64

static int epfd = -1;
static bool stopping;
static void **deferred;
static size_t ndeferred, capdeferred;

double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double now_real(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int ev_init(void)
{
	epfd = epoll_create1(EPOLL_CLOEXEC);
	return epfd < 0 ? -errno : 0;
}

int ev_add(struct evsrc *src, uint32_t events)
{
	struct epoll_event e = {.events = events, .data.ptr = src};

	src->dead = false;
	return epoll_ctl(epfd, EPOLL_CTL_ADD, src->fd, &e) ? -errno : 0;
}

int ev_mod(struct evsrc *src, uint32_t events)
{
	struct epoll_event e = {.events = events, .data.ptr = src};

	return epoll_ctl(epfd, EPOLL_CTL_MOD, src->fd, &e) ? -errno : 0;
}

void ev_del(struct evsrc *src)
{
	src->dead = true;
	if (src->fd >= 0)
		epoll_ctl(epfd, EPOLL_CTL_DEL, src->fd, NULL);
}

void ev_defer_free(void *p)
{
	if (ndeferred == capdeferred) {
		size_t n = capdeferred ? capdeferred * 2 : 64;
		void **nd = realloc(deferred, n * sizeof(*nd));

		if (!nd) {
			/* cannot defer: leak rather than risk a use after
			 * free */
			return;
		}
		deferred = nd;
		capdeferred = n;
	}
	deferred[ndeferred++] = p;
}

static void free_deferred(void)
{
	for (size_t i = 0; i < ndeferred; i++)
		free(deferred[i]);
	ndeferred = 0;
}

int ev_run(void)
{
	while (!stopping) {
		struct epoll_event evs[EV_BATCH];
		int n = epoll_wait(epfd, evs, EV_BATCH, -1);

		if (n < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < n; i++) {
			struct evsrc *s = evs[i].data.ptr;

			if (!s->dead)
				s->cb(s, evs[i].events);
		}
		free_deferred();
	}
	return 0;
}

void ev_stop(void)
{
	stopping = true;
}

void ev_fini(void)
{
	free_deferred();
	free(deferred);
	deferred = NULL;
	capdeferred = 0;
	if (epfd >= 0)
		close(epfd);
	epfd = -1;
}
