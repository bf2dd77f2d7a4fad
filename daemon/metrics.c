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
 * Any local user can connect to a loopback port, so connections are
 * limited per uid as on the socket (server.c): at most
 * metrics_max_connections at once, of which metrics_reserved_connections
 * are only for root and the daemon's uid, and at most
 * metrics_max_connections_per_uid for any other uid. The uid of a peer is
 * the owner of its end of the TCP connection, which is on this machine
 * (the port is on a loopback address): NETLINK_SOCK_DIAG finds it by the
 * exact address pair. A peer whose uid cannot be found counts as one
 * shared unknown uid, with the per-uid limit and no reserved slot.
 * libmicrohttpd's accept policy callback refuses a connection over a
 * limit (it is closed at once); its connection notifications keep the
 * counts.
 *
 * libmicrohttpd closes a connection after metrics_timeout_s without
 * activity, but a byte now and then is activity; so a request head that
 * is not complete metrics_timeout_s after it could start (the connection
 * opened, or the last reply was sent) gets its connection shut down on
 * the next tick. A slow client thus holds its slots for seconds, not
 * hours. A request head may take at most METRICS_MEMORY bytes, and the
 * series name pools by id only unless metrics_paths is set (report.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <math.h>
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

/* per connection: request head and buffers; a scrape's head is a few
 * hundred bytes */
#define METRICS_MEMORY (8u << 10)

static struct MHD_Daemon *mhd;
static struct evsrc mev = {.fd = -1};

/* the address the port is bound to: the local end of every connection */
static struct sockaddr_storage bound;

/* one open connection: whose, and until when its request head may come */
struct mconn {
	struct mconn *prev, *next;
	struct uid_use *use; /* NULL: a privileged or an unknown uid */
	bool unknown;
	bool shut; /* shut down for a late request head */
	int fd;
	double deadline; /* INFINITY while a request is being answered */
};

static struct mconn *mconns;
static unsigned n_mconns, n_unknown;

/* the peer the accept policy last looked up, for the notification that
 * follows it */
static struct sockaddr_storage last_peer;
static int64_t last_uid = -1; /* -1: unknown */

/* same_peer -- are @a and @b the same address and port? */
static bool same_peer(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a,
					 *y = (const void *)b;

		return x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a,
					  *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		       !memcmp(&x->sin6_addr, &y->sin6_addr,
			       sizeof(x->sin6_addr));
	}
	return false;
}

/*
 * peer_uid -- the owner of the TCP socket at @peer that is connected to
 * the bound address (the other end of one of our connections), asked of
 * the kernel with an exact NETLINK_SOCK_DIAG lookup; -1 if not found
 */
static int64_t peer_uid(const struct sockaddr *peer)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
	} req = {
	    .nlh = {.nlmsg_len = sizeof(req),
		    .nlmsg_type = SOCK_DIAG_BY_FAMILY,
		    .nlmsg_flags = NLM_F_REQUEST},
	    .r = {.sdiag_family = peer->sa_family,
		  .sdiag_protocol = IPPROTO_TCP,
		  .idiag_states = ~0u,
		  .id = {.idiag_cookie = {INET_DIAG_NOCOOKIE,
					  INET_DIAG_NOCOOKIE}}},
	};
	struct sockaddr_nl nl = {.nl_family = AF_NETLINK};
	union {
		struct nlmsghdr h;
		char buf[1024];
	} ans;
	const struct nlmsghdr *h = &ans.h;
	const struct inet_diag_msg *m;
	ssize_t n;
	int64_t uid = -1;
	int fd;

	if (peer->sa_family != bound.ss_family)
		return -1;
	if (peer->sa_family == AF_INET) {
		const struct sockaddr_in *p = (const void *)peer;
		const struct sockaddr_in *l = (const void *)&bound;

		req.r.id.idiag_sport = p->sin_port;
		req.r.id.idiag_dport = l->sin_port;
		memcpy(req.r.id.idiag_src, &p->sin_addr, 4);
		memcpy(req.r.id.idiag_dst, &l->sin_addr, 4);
	} else if (peer->sa_family == AF_INET6) {
		const struct sockaddr_in6 *p = (const void *)peer;
		const struct sockaddr_in6 *l = (const void *)&bound;

		req.r.id.idiag_sport = p->sin6_port;
		req.r.id.idiag_dport = l->sin6_port;
		memcpy(req.r.id.idiag_src, &p->sin6_addr, 16);
		memcpy(req.r.id.idiag_dst, &l->sin6_addr, 16);
	} else {
		return -1;
	}
	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -1;
	/* the kernel answers a lookup (not a dump) within the send */
	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&nl,
		   sizeof(nl)) == (ssize_t)sizeof(req) &&
	    (n = recv(fd, &ans, sizeof(ans), MSG_DONTWAIT)) > 0 &&
	    NLMSG_OK(h, (size_t)n) && h->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
	    h->nlmsg_len >= NLMSG_LENGTH(sizeof(*m))) {
		m = NLMSG_DATA(h);
		uid = m->idiag_uid;
	}
	close(fd);
	return uid;
}

/* admit -- may a new connection of @uid (-1: unknown) take a slot? */
static const char *admit(int64_t uid)
{
	if (n_mconns >= cfg.metrics_max_connections)
		return "too many connections";
	if (uid >= 0 && uid_privileged((uid_t)uid))
		return NULL;
	if (n_mconns >=
	    cfg.metrics_max_connections - cfg.metrics_reserved_connections)
		return "too many connections (the rest are kept for root)";
	if (uid < 0 ? n_unknown >= cfg.metrics_max_connections_per_uid
		    : uid_use((uid_t)uid)->mconns >=
			  cfg.metrics_max_connections_per_uid)
		return "too many connections from this uid";
	return NULL;
}

/* on_accept -- libmicrohttpd's accept policy: MHD_NO closes @addr's
 * connection before it takes a slot */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr,
				 socklen_t addrlen)
{
	const char *why;

	(void)cls;
	if (addrlen > sizeof(last_peer))
		return MHD_NO;
	memset(&last_peer, 0, sizeof(last_peer));
	memcpy(&last_peer, addr, addrlen);
	last_uid = peer_uid(addr);
	why = admit(last_uid);
	if (why) {
		log_msg(LOG_DEBUG, "metrics: uid %lld refused: %s",
			(long long)last_uid, why);
		return MHD_NO;
	}
	return MHD_YES;
}

/* on_connection -- count a connection in when it starts, out when it
 * closes; its struct mconn is libmicrohttpd's socket context */
static void on_connection(void *cls, struct MHD_Connection *conn, void **ctx,
			  enum MHD_ConnectionNotificationCode code)
{
	struct mconn *c = *ctx;

	(void)cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci;
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		int64_t uid = -1;

		ci = MHD_get_connection_info(conn,
					     MHD_CONNECTION_INFO_CONNECTION_FD);
		c = calloc(1, sizeof(*c));
		if (!c) {
			/* it cannot be counted: close it */
			if (ci)
				shutdown(ci->connect_fd, SHUT_RDWR);
			return;
		}
		c->fd = ci ? ci->connect_fd : -1;
		if (c->fd >= 0 &&
		    !getpeername(c->fd, (struct sockaddr *)&peer, &len))
			uid = same_peer((struct sockaddr *)&peer,
					(struct sockaddr *)&last_peer)
				  ? last_uid
				  : peer_uid((struct sockaddr *)&peer);
		if (uid < 0) {
			c->unknown = true;
			n_unknown++;
		} else if (!uid_privileged((uid_t)uid)) {
			c->use = uid_use((uid_t)uid);
			c->use->mconns++;
		}
		c->deadline = now_mono() + cfg.metrics_timeout_s;
		c->next = mconns;
		if (mconns)
			mconns->prev = c;
		mconns = c;
		n_mconns++;
		*ctx = c;
		return;
	}
	if (code != MHD_CONNECTION_NOTIFY_CLOSED || !c)
		return;
	if (c->unknown)
		n_unknown--;
	else if (c->use)
		c->use->mconns--;
	if (c->prev)
		c->prev->next = c->next;
	else
		mconns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	n_mconns--;
	*ctx = NULL;
	free(c);
}

/* conn_of -- the struct mconn of @conn, or NULL */
static struct mconn *conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

/* on_completed -- a reply is sent (or the request failed): the next
 * request head has metrics_timeout_s from now */
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct mconn *c = conn_of(conn);

	(void)cls;
	(void)con_cls;
	(void)toe;
	if (c)
		c->deadline = now_mono() + cfg.metrics_timeout_s;
}

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
	struct mconn *c;
	size_t len = 0;
	char *body;

	(void)cls;
	(void)version;
	(void)upload;
	(void)con_cls;
	c = conn_of(conn);
	if (c)
		c->deadline = INFINITY; /* the head is complete */
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
	if (!mhd)
		return;
	/* a request head that is late: shut the connection down, so that
	 * libmicrohttpd reads its end and closes it */
	for (struct mconn *c = mconns; c; c = c->next)
		if (!c->shut && c->fd >= 0 && t > c->deadline) {
			c->shut = true;
			shutdown(c->fd, SHUT_RDWR);
			log_msg(LOG_DEBUG,
				"metrics: request head not complete in "
				"%u s, connection closed",
				cfg.metrics_timeout_s);
		}
	MHD_run(mhd); /* connection timeouts */
}

/* serve -- hand the bound socket @fd to libmicrohttpd; 0 or -errno */
static int serve(int fd)
{
	const union MHD_DaemonInfo *di;

	mhd = MHD_start_daemon(
	    MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, on_accept, NULL, on_request,
	    NULL, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
	    MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned int)cfg.metrics_max_connections,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg.metrics_timeout_s,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)METRICS_MEMORY,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
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
	if (v6)
		memcpy(&bound, &a6, sizeof(a6));
	else
		memcpy(&bound, &a4, sizeof(a4));
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
		"%u kept for root, %u per uid, %u s timeout, %s)",
		addr, cfg.metrics_max_connections,
		cfg.metrics_reserved_connections,
		cfg.metrics_max_connections_per_uid, cfg.metrics_timeout_s,
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
