/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * metrics.c -- Prometheus text on a loopback TCP port (--metrics ADDR:PORT),
 * served by libmicrohttpd inside the daemon's event loop.
 *
 * The listening socket is ours (only loopback addresses are accepted for
 * binding); libmicrohttpd gets it with MHD_OPTION_LISTEN_SOCKET and runs
 * without a thread of its own: its epoll set is one event source of the
 * loop, and MHD_run() is called when it is ready and on every tick (for
 * its timeouts). GET or HEAD of /metrics (or /) gets the text exposition
 * format; other paths 404, other methods 405, a request with a body 413.
 *
 * Any local user can connect to a loopback port, so: at most
 * metrics_max_connections connections at once (libmicrohttpd closes the
 * ones beyond), each closed after metrics_timeout_s without activity, a
 * request head of at most METRICS_MEMORY bytes; and the series name pools
 * by id only unless metrics_paths is set (report.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "daxod.h"

#define METRICS_MEMORY (32u << 10) /* per connection: request head, buffers */

static struct MHD_Daemon *mhd;
static struct evsrc mev = {.fd = -1};

/* respond -- queue @len bytes at @body as the reply; @mode says whether
 * libmicrohttpd frees them (MUST_FREE: also when this fails) */
static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status,
			       const char *ctype, void *body, size_t len,
			       enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status,
			     const char *text)
{
	return respond(conn, status, "text/plain; charset=utf-8",
		       (void *)text, strlen(text), MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	size_t len = 0;
	char *body;

	(void)cls;
	(void)version;
	(void)upload;
	(void)con_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
			     "GET /metrics only\n");
	if (*upload_size)
		return reply(conn, MHD_HTTP_CONTENT_TOO_LARGE,
			     "no request body here\n");
	if (strcmp(url, "/metrics") && strcmp(url, "/"))
		return reply(conn, MHD_HTTP_NOT_FOUND, "not found\n");
	body = report_prometheus(&len);
	if (!body)
		return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
			     "out of memory\n");
	return respond(conn, MHD_HTTP_OK,
		       "text/plain; version=0.0.4; charset=utf-8", body, len,
		       MHD_RESPMEM_MUST_FREE);
}

/* libmicrohttpd's error log: its own printf format */
__attribute__((format(printf, 2, 0))) static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[256];

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	/* a connection limit reached or a client gone is not news */
	log_msg(LOG_DEBUG, "metrics: %s", buf);
}

static void mhd_cb(struct evsrc *src, uint32_t events)
{
	(void)src;
	(void)events;
	MHD_run(mhd);
}

void metrics_tick(double t)
{
	(void)t;
	if (mhd)
		MHD_run(mhd); /* connection timeouts */
}

/* serve -- hand the bound socket @fd to libmicrohttpd; 0 or -errno */
static int serve(int fd)
{
	const union MHD_DaemonInfo *di;

	mhd = MHD_start_daemon(
	    MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, NULL,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
	    MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned int)cfg.metrics_max_connections,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg.metrics_timeout_s,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)METRICS_MEMORY,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
	if (!mhd) {
		log_msg(LOG_ERR, "metrics: libmicrohttpd did not start");
		return -EIO;
	}
	di = MHD_get_daemon_info(mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!di || di->epoll_fd < 0) {
		log_msg(LOG_ERR, "metrics: libmicrohttpd has no epoll set");
		MHD_stop_daemon(mhd);
		mhd = NULL;
		return -EIO;
	}
	mev.fd = di->epoll_fd;
	mev.cb = mhd_cb;
	if (ev_add(&mev, EPOLLIN)) {
		MHD_stop_daemon(mhd);
		mhd = NULL;
		mev.fd = -1;
		return -EIO;
	}
	return 0;
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
	if (r || listen(fd, 64)) {
		r = -errno;
		log_msg(LOG_ERR, "metrics on %s: %s", addr, strerror(errno));
		close(fd);
		return r;
	}
	r = serve(fd);
	if (r) {
		close(fd);
		return r;
	}
	log_msg(LOG_INFO,
		"Prometheus metrics on http://%s/metrics (%u connections, "
		"%u s timeout, %s)",
		addr, cfg.metrics_max_connections, cfg.metrics_timeout_s,
		cfg.metrics_paths ? "with pids and paths" : "pools by id");
	return 0;
bad:
	log_msg(LOG_ERR, "--metrics %s: want ADDRESS:PORT, e.g. 127.0.0.1:9464",
		addr);
	return -EINVAL;
}

void metrics_stop(void)
{
	if (mhd) {
		ev_del(&mev);
		/* closes its epoll set and the listening socket */
		MHD_stop_daemon(mhd);
		mhd = NULL;
		mev.fd = -1;
	}
}
