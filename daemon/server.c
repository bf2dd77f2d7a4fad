/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * server.c -- the Unix socket: accepting clients, framing, peer checks.
 *
 * Every client socket is non-blocking and served from the event loop: a
 * client gets at most one request in flight (no reading while its reply is
 * being written), client_timeout_ms to finish a request it has started or
 * to take its reply, and idle_timeout_ms of silence between requests
 * (PRIV_IDLE_TIMEOUT for root and the daemon's uid). A frame that is empty
 * or over PROTO_MAX_REQUEST, or a payload that fails proto_parse(), gets an
 * error reply (best effort) and the connection is closed. None of this can
 * stall the loop or the other clients.
 *
 * Who may do what is decided by SO_PEERCRED, taken at accept time from the
 * kernel, never from the message: "register"/"unregister" only for the
 * sender's own pid; "stat" only for root or the daemon's own uid. The
 * socket itself is created with mode socket_mode (0666 by default) in a
 * 0755 directory: anyone may connect, the checks above decide the rest.
 *
 * So that no user can starve another, and none can starve root: at most
 * max_clients connections in all, of which reserved_clients are only for
 * root and the daemon's uid, and at most max_clients_per_uid for any other
 * uid; a connection over a limit gets an error frame (best effort) and is
 * closed at once. Register and unregister requests of an unprivileged uid
 * spend its request budget (uidlim.c) and are refused when it is empty.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daxod.h"

#define PRIV_IDLE_TIMEOUT 60.0 /* seconds; `daxo top` keeps its connection */

struct client {
	struct evsrc ev;
	struct client *next;
	struct ucred cred;
	struct uid_use *use; /* its uid's counters */
	bool priv;	     /* root or the daemon's uid */
	unsigned char *in;
	size_t inlen, incap;
	char *out;
	size_t outlen, outoff;
	double deadline;
	bool closing; /* close once the reply is out */
	bool freed;   /* client_free ran; memory lives until the batch ends */
};

struct server_stats srv_stats;
static struct evsrc listener = {.fd = -1};
static struct client *clients;
static char sock_path[108];

static void client_free(struct client *c, const char *why)
{
	if (c->freed) /* an error path after an earlier one (deferred free) */
		return;
	c->freed = true;
	if (why) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "pid",
				       json_object_new_int(c->cred.pid));
		json_object_object_add(o, "uid",
				       json_object_new_int((int)c->cred.uid));
		json_object_object_add(o, "reason",
				       json_object_new_string(why));
		event_emit_uid(c->cred.uid, "client_dropped", o);
		log_msg(LOG_DEBUG, "dropped client pid %d uid %u: %s",
			(int)c->cred.pid, (unsigned)c->cred.uid, why);
	}
	c->use->conns--;
	for (struct client **pp = &clients; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	srv_stats.clients--;
	ev_del(&c->ev);
	close(c->ev.fd);
	free(c->in);
	free(c->out);
	ev_defer_free(c);
}

/* queue -- frame @json as the reply and start writing it */
static void queue(struct client *c, const char *json, bool then_close)
{
	size_t n = strlen(json);

	free(c->out);
	c->out = NULL;
	c->outlen = c->outoff = 0;
	if (n > PROTO_MAX_REPLY) {
		json = "{\"v\":1,\"ok\":false,\"error\":\"reply too large\"}";
		n = strlen(json);
	}
	c->out = malloc(n + PROTO_HDR);
	if (!c->out) {
		client_free(c, "out of memory");
		return;
	}
	proto_put_len((unsigned char *)c->out, (uint32_t)n);
	memcpy(c->out + PROTO_HDR, json, n);
	c->outlen = n + PROTO_HDR;
	c->closing = then_close;
	c->deadline = now_mono() + cfg.client_timeout_ms / 1000.0;
	ev_mod(&c->ev, EPOLLOUT);
}

static void reply_error(struct client *c, const char *msg, bool then_close)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "v", json_object_new_int(PROTO_VERSION));
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_text(msg, 512));
	queue(c, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
	      then_close);
	json_object_put(o);
}

static void reply_obj(struct client *c, json_object *o)
{
	json_object_object_add(o, "v", json_object_new_int(PROTO_VERSION));
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	queue(c,
	      json_object_to_json_string_ext(
		  o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
	      false);
	json_object_put(o);
}

/* idle_ms -- the silence a client may keep between requests */
static double idle_ms(const struct client *c)
{
	return c->priv ? PRIV_IDLE_TIMEOUT * 1000.0 : cfg.idle_timeout_ms;
}

static bool may_query(const struct client *c)
{
	return c->priv;
}

/* handle -- act on one parsed request */
static void handle(struct client *c, const struct proto_req *rq)
{
	char err[256] = "";
	int ret;

	srv_stats.requests++;
	switch (rq->op) {
	case OP_HELLO: {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "daemon",
				       json_object_new_string("daxod"));
		json_object_object_add(o, "version",
				       json_object_new_string(DAXOD_VERSION));
		json_object_object_add(o, "pid", json_object_new_int(getpid()));
		json_object_object_add(o, "may_query",
				       json_object_new_boolean(may_query(c)));
		reply_obj(c, o);
		return;
	}
	case OP_REGISTER:
	case OP_UNREGISTER:
		if (rq->pid != c->cred.pid) {
			srv_stats.rejected++;
			snprintf(err, sizeof(err),
				 "pid %lld may not %s for pid %lld: a process "
				 "registers only itself",
				 (long long)c->cred.pid, proto_op_name(rq->op),
				 (long long)rq->pid);
			log_msg(LOG_DEBUG, "%s", err);
			reply_error(c, err, true);
			return;
		}
		if (!uid_take_request(c->cred.uid)) {
			srv_stats.rate_limited++;
			snprintf(err, sizeof(err),
				 "rate limit: uid %u may %s at most %u times a "
				 "second (burst %u)",
				 (unsigned)c->cred.uid, "register/unregister",
				 cfg.uid_request_rate, cfg.uid_request_burst);
			reply_error(c, err, false);
			return;
		}
		ret = rq->op == OP_REGISTER
			  ? reg_register(rq, err, sizeof(err))
			  : reg_unregister(rq, err, sizeof(err));
		if (ret) {
			reply_error(c, err, false);
			return;
		}
		if (rq->op == OP_REGISTER) {
			struct dproc *pr = reg_proc_find((pid_t)rq->pid);
			if (pr)
				scan_proc(pr);
		}
		reply_obj(c, json_object_new_object());
		return;
	case OP_STAT:
		if (!may_query(c)) {
			srv_stats.rejected++;
			snprintf(err, sizeof(err),
				 "permission denied: uid %u may not query "
				 "(root or uid %u only)",
				 (unsigned)c->cred.uid, (unsigned)geteuid());
			reply_error(c, err, true);
			return;
		}
		reply_obj(c, report_stat());
		return;
	}
	reply_error(c, "unknown op", true);
}

/* process_input -- handle the first complete frame, if any */
static void process_input(struct client *c)
{
	struct proto_req *rq;
	char err[256];
	long n = proto_frame(c->in, c->inlen, PROTO_MAX_REQUEST);
	int ret;

	if (n == 0)
		return;
	if (n < 0) {
		if (n == -EMSGSIZE)
			srv_stats.dropped_oversize++;
		else
			srv_stats.dropped_malformed++;
		reply_error(
		    c, n == -EMSGSIZE ? "message too large" : "empty message",
		    true);
		return;
	}
	rq = malloc(sizeof(*rq));
	if (!rq) {
		client_free(c, "out of memory");
		return;
	}
	ret = proto_parse((const char *)c->in + PROTO_HDR,
			  (size_t)n - PROTO_HDR, rq, err, sizeof(err));
	memmove(c->in, c->in + n, c->inlen - (size_t)n);
	c->inlen -= (size_t)n;
	if (ret) {
		srv_stats.dropped_malformed++;
		/* debug only: a hostile client must not flood the log */
		log_msg(LOG_DEBUG, "client pid %d: %s", (int)c->cred.pid, err);
		reply_error(c, err, true);
	} else {
		handle(c, rq);
	}
	free(rq);
}

static void client_cb(struct evsrc *src, uint32_t events)
{
	struct client *c = (struct client *)src;

	if (events & EPOLLOUT && c->outlen) {
		ssize_t w =
		    send(c->ev.fd, c->out + c->outoff, c->outlen - c->outoff,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno != EAGAIN && errno != EINTR) {
			client_free(c, NULL); /* peer went away */
			return;
		}
		if (w > 0)
			c->outoff += (size_t)w;
		if (c->outoff < c->outlen)
			return;
		free(c->out);
		c->out = NULL;
		c->outlen = c->outoff = 0;
		if (c->closing) {
			client_free(c, NULL);
			return;
		}
		c->deadline = now_mono() + (c->inlen ? cfg.client_timeout_ms
						     : idle_ms(c)) /
						 1000.0;
		ev_mod(&c->ev, EPOLLIN);
		/* a pipelined request may already be buffered */
		process_input(c);
		return;
	}
	if (events & EPOLLIN && !c->outlen) {
		size_t want;
		ssize_t r;

		if (c->incap < PROTO_HDR + PROTO_MAX_REQUEST) {
			unsigned char *nb =
			    realloc(c->in, PROTO_HDR + PROTO_MAX_REQUEST);
			if (!nb) {
				client_free(c, "out of memory");
				return;
			}
			c->in = nb;
			c->incap = PROTO_HDR + PROTO_MAX_REQUEST;
		}
		want = c->incap - c->inlen;
		r = recv(c->ev.fd, c->in + c->inlen, want, MSG_DONTWAIT);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
			/* EOF: a register message may still be complete */
			if (c->inlen && proto_frame(c->in, c->inlen,
						    PROTO_MAX_REQUEST) > 0) {
				c->closing = true;
				process_input(c);
				if (!c->outlen)
					client_free(c, NULL);
				else
					c->closing = true;
				return;
			}
			client_free(c, NULL);
			return;
		}
		if (r < 0)
			return;
		/* a request has client_timeout_ms from its first byte: bytes
		 * trickling in do not extend it */
		if (c->inlen == 0)
			c->deadline =
			    now_mono() + cfg.client_timeout_ms / 1000.0;
		c->inlen += (size_t)r;
		process_input(c);
		return;
	}
	if (events & (EPOLLHUP | EPOLLERR))
		client_free(c, NULL);
}

/* refuse -- tell a connection over a limit why (best effort), close it */
static void refuse(int fd, const char *why)
{
	unsigned char frame[PROTO_HDR + 256];
	int n = snprintf((char *)frame + PROTO_HDR, sizeof(frame) - PROTO_HDR,
			 "{\"v\":%d,\"ok\":false,\"error\":\"%s\"}",
			 PROTO_VERSION, why);

	srv_stats.dropped_limit++;
	if (n > 0 && (size_t)n < sizeof(frame) - PROTO_HDR) {
		proto_put_len(frame, (uint32_t)n);
		(void)!send(fd, frame, PROTO_HDR + (size_t)n,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	close(fd);
}

/* admit -- may a new connection of @uid take a slot? NULL, or why not */
static const char *admit(uid_t uid, bool priv, const struct uid_use *u)
{
	if (srv_stats.clients >= cfg.max_clients)
		return "too many connections";
	if (priv)
		return NULL;
	if (srv_stats.clients >= cfg.max_clients - cfg.reserved_clients)
		return "too many connections (the rest are kept for root)";
	if (u->conns >= cfg.max_clients_per_uid)
		return "too many connections from this uid";
	return NULL;
}

static void accept_cb(struct evsrc *src, uint32_t events)
{
	for (;;) {
		int fd =
		    accept4(src->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct ucred cred;
		socklen_t len = sizeof(cred);
		struct uid_use *u;
		struct client *c;
		const char *why;
		bool priv;

		if (fd < 0)
			return;
		srv_stats.accepted++;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
			close(fd);
			continue;
		}
		priv = uid_privileged(cred.uid);
		u = uid_use(cred.uid);
		why = admit(cred.uid, priv, u);
		if (why) {
			refuse(fd, why);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->cred = cred;
		c->priv = priv;
		c->use = u;
		c->ev.fd = fd;
		c->ev.cb = client_cb;
		/* a new connection is to send its request at once */
		c->deadline = now_mono() + cfg.client_timeout_ms / 1000.0;
		if (ev_add(&c->ev, EPOLLIN)) {
			close(fd);
			free(c);
			continue;
		}
		c->next = clients;
		clients = c;
		srv_stats.clients++;
		u->conns++;
	}
}

void server_tick(double t)
{
	for (struct client *c = clients, *nx; c; c = nx) {
		nx = c->next;
		if (t > c->deadline) {
			srv_stats.dropped_timeout++;
			client_free(c, c->outlen ? "reply not taken in time"
				       : c->inlen
					   ? "request not completed in time"
					   : "idle");
		}
	}
}

/* stale_socket -- 1 if @path is a socket nobody listens on */
static int stale_socket(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, r;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	r = connect(fd, (struct sockaddr *)&a, sizeof(a));
	close(fd);
	if (r == 0)
		return -EADDRINUSE;
	return 1;
}

int server_start(const char *path, unsigned mode)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	char dir[sizeof(a.sun_path)];
	mode_t old;
	int fd, r;

	if (strlen(path) >= sizeof(a.sun_path)) {
		log_msg(LOG_ERR, "socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	if (mkdir(dirname(dir), 0755) && errno != EEXIST) {
		log_msg(LOG_ERR, "mkdir %s: %s", dir, strerror(errno));
		return -errno;
	}
	r = stale_socket(path);
	if (r < 0) {
		log_msg(LOG_ERR, "%s: %s", path,
			r == -EADDRINUSE ? "another daxod is listening"
			: r == -EEXIST	 ? "exists and is not a socket"
					 : strerror(-r));
		return r;
	}
	if (r == 1)
		unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	old = umask(0177); /* no window with a too-open socket */
	r = bind(fd, (struct sockaddr *)&a, sizeof(a));
	umask(old);
	if (r || chmod(path, mode) || listen(fd, 128)) {
		r = -errno;
		log_msg(LOG_ERR, "%s: %s", path, strerror(errno));
		close(fd);
		return r;
	}
	snprintf(sock_path, sizeof(sock_path), "%s", path);
	listener.fd = fd;
	listener.cb = accept_cb;
	r = ev_add(&listener, EPOLLIN);
	if (r) {
		close(fd);
		listener.fd = -1;
		return r;
	}
	log_msg(LOG_INFO, "listening on %s (mode %04o)", path, mode);
	return 0;
}

void server_stop(void)
{
	while (clients)
		client_free(clients, NULL);
	if (listener.fd >= 0) {
		ev_del(&listener);
		close(listener.fd);
		listener.fd = -1;
		unlink(sock_path);
	}
}
