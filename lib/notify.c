/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * notify.c -- best-effort registration of open pools with daxod.
 *
 * daxo_open/daxo_create call notify_pool_open() and daxo_close calls
 * notify_pool_close(). Each sends one frame of the daxod protocol
 * (daemon/proto.h: 4-byte little-endian length, then JSON) and does not wait
 * for the answer:
 *   {"v":1,"op":"register","pid":P,"path":S,"base":N,"size":N,
 *    "pmem":B,"dax":B,"map_sync":B,"devdax":B}
 *   {"v":1,"op":"unregister","pid":P,"base":N}
 * The socket is non-blocking; a missing daemon costs one failed connect()
 * (microseconds), a stuck one at most NOTIFY_BUDGET_MS in total, and
 * nothing here can fail the caller, raise SIGPIPE or touch errno. The
 * JSON is formatted by hand (no json-c in the library): numbers and
 * booleans are plain, and the path is escaped per RFC 8259.
 *
 * DAXO_NOTIFY=0 turns it off; DAXO_SOCKET names the socket (default
 * /run/daxo/daxod.sock). If daxod restarts, it rediscovers open pools by
 * scanning /proc/PID/maps, so nothing is re-sent.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "notify.h"
#include "pool.h"

#define NOTIFY_SOCKET	 "/run/daxo/daxod.sock"
#define NOTIFY_BUDGET_MS 50

static bool notify_enabled(void)
{
	const char *e = getenv("DAXO_NOTIFY");

	return !(e && strcmp(e, "0") == 0);
}

/* json_escape -- append @s to @out (capacity @cap) as a JSON string body */
static size_t json_escape(char *out, size_t cap, const char *s)
{
	size_t n = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char tmp[8];
		const char *piece = tmp;
		size_t l;

		if (c == '"' || c == '\\') {
			tmp[0] = '\\';
			tmp[1] = (char)c;
			tmp[2] = '\0';
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(tmp, sizeof(tmp), "\\u%04x", c);
		} else {
			tmp[0] = (char)c;
			tmp[1] = '\0';
		}
		l = strlen(piece);
		if (n + l >= cap)
			return cap; /* does not fit: caller drops the message */
		memcpy(out + n, piece, l);
		n += l;
	}
	out[n] = '\0';
	return n;
}

static long long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* send_frame -- connect, send [len][json], close; silently give up */
static void send_frame(const char *json, size_t len)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	const char *path = getenv("DAXO_SOCKET");
	long long deadline = ms_now() + NOTIFY_BUDGET_MS;
	unsigned char *frame;
	size_t off = 0;
	int fd, saved = errno;

	if (!path || !*path)
		path = NOTIFY_SOCKET;
	if (strlen(path) >= sizeof(a.sun_path) || len > UINT32_MAX)
		return;
	strcpy(a.sun_path, path);
	frame = malloc(len + 4);
	if (!frame)
		return;
	frame[0] = (unsigned char)len;
	frame[1] = (unsigned char)(len >> 8);
	frame[2] = (unsigned char)(len >> 16);
	frame[3] = (unsigned char)(len >> 24);
	memcpy(frame + 4, json, len);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto out;
	/* a Unix connect either succeeds, fails at once (no daemon), or
	 * says EAGAIN when the backlog is full: then we do not wait */
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		goto out_close;
	while (off < len + 4) {
		ssize_t n = send(fd, frame + off, len + 4 - off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			struct pollfd p = {.fd = fd, .events = POLLOUT};
			long long left = deadline - ms_now();
			if (left <= 0 || poll(&p, 1, (int)left) <= 0)
				break;
			continue;
		}
		break;
	}
out_close:
	close(fd);
out:
	free(frame);
	errno = saved;
}

void notify_pool_open(daxo_pool *p)
{
	size_t cap, n;
	char *msg, *path;
	int len;

	if (!notify_enabled() || !p || !p->path || !p->base)
		return;
	cap = strlen(p->path) * 6 + 1;
	path = malloc(cap);
	msg = malloc(cap + 256);
	if (!path || !msg)
		goto out;
	n = json_escape(path, cap, p->path);
	if (n >= cap)
		goto out;
	len = snprintf(
	    msg, cap + 256,
	    "{\"v\":1,\"op\":\"register\",\"pid\":%ld,\"path\":\"%s\","
	    "\"base\":%llu,\"size\":%llu,\"pmem\":%s,\"dax\":%s,"
	    "\"map_sync\":%s,\"devdax\":%s}",
	    (long)getpid(), path, (unsigned long long)(uintptr_t)p->base,
	    (unsigned long long)p->size, p->is_pmem ? "true" : "false",
	    p->is_dax ? "true" : "false", p->map_sync ? "true" : "false",
	    p->is_devdax ? "true" : "false");
	if (len > 0 && (size_t)len < cap + 256)
		send_frame(msg, (size_t)len);
out:
	free(path);
	free(msg);
}

void notify_pool_close(daxo_pool *p)
{
	char msg[128];
	int len;

	if (!notify_enabled() || !p || !p->base)
		return;
	len = snprintf(msg, sizeof(msg),
		       "{\"v\":1,\"op\":\"unregister\",\"pid\":%ld,"
		       "\"base\":%llu}",
		       (long)getpid(), (unsigned long long)(uintptr_t)p->base);
	if (len > 0 && (size_t)len < sizeof(msg))
		send_frame(msg, (size_t)len);
}
