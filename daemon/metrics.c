/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * metrics.c -- Prometheus text on a loopback TCP port (--metrics ADDR:PORT).
 *
 * A minimal HTTP/1.0 responder: read the request head (at most 8 KiB, within
 * client_timeout_ms), answer GET /metrics (or /) with the text exposition
 * format, close. Non-blocking like the Unix socket server; at most
 * MAX_CONN connections at once. Only loopback addresses are accepted for
 * binding, since the metrics name processes and paths.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daxod.h"

#define MAX_CONN 16
#define HEAD_MAX 8192

struct mconn {
	struct evsrc ev;
	struct mconn *next;
	char in[HEAD_MAX];
	size_t inlen;
	char *out;
	size_t outlen, outoff;
	double deadline;
};

static struct evsrc mlisten = {.fd = -1};
static struct mconn *conns;
static int nconns;

static void conn_free(struct mconn *c)
{
	for (struct mconn **pp = &conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	nconns--;
	ev_del(&c->ev);
	close(c->ev.fd);
	free(c->out);
	ev_defer_free(c);
}

static void respond(struct mconn *c)
{
	bool ok = !strncmp(c->in, "GET /metrics ", 13) ||
		  !strncmp(c->in, "GET / ", 6);
	size_t blen = 0;
	char *body = ok ? report_prometheus(&blen) : NULL;
	FILE *f = open_memstream(&c->out, &c->outlen);

	if (!f) {
		free(body);
		conn_free(c);
		return;
	}
	if (body)
		fprintf(f,
			"HTTP/1.0 200 OK\r\nContent-Type: text/plain; "
			"version=0.0.4\r\nContent-Length: %zu\r\n"
			"Connection: close\r\n\r\n%s",
			blen, body);
	else
		fprintf(f, "HTTP/1.0 404 Not Found\r\nContent-Length: 10\r\n"
			   "Connection: close\r\n\r\nnot found\n");
	fclose(f);
	free(body);
	ev_mod(&c->ev, EPOLLOUT);
}

static void conn_cb(struct evsrc *src, uint32_t events)
{
	struct mconn *c = (struct mconn *)src;

	if (c->out) {
		ssize_t w = send(c->ev.fd, c->out + c->outoff,
				 c->outlen - c->outoff, MSG_NOSIGNAL);
		if (w > 0)
			c->outoff += (size_t)w;
		if ((w < 0 && errno != EAGAIN) || c->outoff >= c->outlen)
			conn_free(c);
		return;
	}
	if (events & EPOLLIN) {
		ssize_t r = recv(c->ev.fd, c->in + c->inlen,
				 sizeof(c->in) - 1 - c->inlen, 0);
		if (r <= 0) {
			if (r == 0 || errno != EAGAIN)
				conn_free(c);
			return;
		}
		c->inlen += (size_t)r;
		c->in[c->inlen] = '\0';
		if (strstr(c->in, "\r\n\r\n") || strstr(c->in, "\n\n"))
			respond(c);
		else if (c->inlen >= sizeof(c->in) - 1)
			conn_free(c);
		return;
	}
	if (events & (EPOLLHUP | EPOLLERR))
		conn_free(c);
}

static void maccept_cb(struct evsrc *src, uint32_t events)
{
	for (;;) {
		int fd =
		    accept4(src->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct mconn *c;

		if (fd < 0)
			return;
		if (nconns >= MAX_CONN || !(c = calloc(1, sizeof(*c)))) {
			close(fd);
			continue;
		}
		c->ev.fd = fd;
		c->ev.cb = conn_cb;
		c->deadline = now_mono() + cfg.client_timeout_ms / 1000.0;
		if (ev_add(&c->ev, EPOLLIN)) {
			close(fd);
			free(c);
			continue;
		}
		c->next = conns;
		conns = c;
		nconns++;
	}
}

void metrics_tick(double t)
{
	for (struct mconn *c = conns, *nx; c; c = nx) {
		nx = c->next;
		if (t > c->deadline)
			conn_free(c);
	}
}

int metrics_start(const char *addr)
{
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
	struct sockaddr_in a4 = {.sin_family = AF_INET};
	char host[64];
	const char *colon = strrchr(addr, ':');
	char *end;
	long port;
	int fd, one = 1, r;
	bool v6;

	if (!colon || (size_t)(colon - addr) >= sizeof(host))
		goto bad;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end || port <= 0 || port > 65535)
		goto bad;
	if (host[0] == '[') {
		size_t l = strlen(host);
		if (l < 3 || host[l - 1] != ']')
			goto bad;
		memmove(host, host + 1, l - 2);
		host[l - 2] = '\0';
	}
	v6 = strchr(host, ':') != NULL;
	if (v6 ? inet_pton(AF_INET6, host, &a6.sin6_addr) != 1
	       : inet_pton(AF_INET, host, &a4.sin_addr) != 1)
		goto bad;
	if (v6 ? !IN6_IS_ADDR_LOOPBACK(&a6.sin6_addr)
	       : (ntohl(a4.sin_addr.s_addr) >> 24) != 127) {
		log_msg(LOG_ERR, "--metrics %s: only loopback addresses", addr);
		return -EINVAL;
	}
	a6.sin6_port = a4.sin_port = htons((uint16_t)port);
	fd = socket(v6 ? AF_INET6 : AF_INET,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	r = v6 ? bind(fd, (struct sockaddr *)&a6, sizeof(a6))
	       : bind(fd, (struct sockaddr *)&a4, sizeof(a4));
	if (r || listen(fd, 16)) {
		r = -errno;
		log_msg(LOG_ERR, "metrics on %s: %s", addr, strerror(errno));
		close(fd);
		return r;
	}
	mlisten.fd = fd;
	mlisten.cb = maccept_cb;
	r = ev_add(&mlisten, EPOLLIN);
	if (r) {
		close(fd);
		mlisten.fd = -1;
		return r;
	}
	log_msg(LOG_INFO, "Prometheus metrics on http://%s/metrics", addr);
	return 0;
bad:
	log_msg(LOG_ERR, "--metrics %s: want ADDRESS:PORT, e.g. 127.0.0.1:9464",
		addr);
	return -EINVAL;
}

void metrics_stop(void)
{
	while (conns)
		conn_free(conns);
	if (mlisten.fd >= 0) {
		ev_del(&mlisten);
		close(mlisten.fd);
		mlisten.fd = -1;
	}
}
