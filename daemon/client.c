/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * client.c -- connect to daxod, send one frame, read one frame back.
 *
 * Blocking from the caller's point of view, but every step is bounded by a
 * deadline (poll on a non-blocking socket), so a stuck daemon cannot hang
 * `daxo stat`.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "proto.h"

const char *daxod_socket_path(const char *arg)
{
	const char *e = getenv("DAXO_SOCKET");

	if (arg && *arg)
		return arg;
	return e && *e ? e : DAXOD_DEFAULT_SOCKET;
}

static long long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int wait_fd(int fd, short ev, long long deadline)
{
	struct pollfd p = {.fd = fd, .events = ev};
	long long left = deadline - ms_now();
	int r;

	if (left <= 0)
		return -ETIMEDOUT;
	r = poll(&p, 1, (int)left);
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	return r == 0 ? -ETIMEDOUT : 0;
}

int daxod_connect(const char *path, int timeout_ms)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	strcpy(a.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		int e = errno;
		if (e == EAGAIN || e == EINPROGRESS) {
			/* backlog full: wait until writable */
			e = -wait_fd(fd, POLLOUT, ms_now() + timeout_ms);
			if (e == 0)
				return fd;
		}
		close(fd);
		return -e;
	}
	return fd;
}

static int io_all(int fd, void *buf, size_t len, bool wr, long long deadline)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n =
		    wr ? send(fd, (char *)buf + done, len - done, MSG_NOSIGNAL)
		       : recv(fd, (char *)buf + done, len - done, 0);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n == 0)
			return -ECONNRESET;
		if (errno == EAGAIN || errno == EINTR) {
			int r = wait_fd(fd, wr ? POLLOUT : POLLIN, deadline);
			if (r)
				return r;
			continue;
		}
		return -errno;
	}
	return 0;
}

int daxod_call(int fd, const char *req, char **reply, int timeout_ms)
{
	long long deadline = ms_now() + timeout_ms;
	size_t n = strlen(req);
	unsigned char hdr[PROTO_HDR];
	uint32_t rlen;
	char *buf;
	int r;

	*reply = NULL;
	if (n == 0 || n > PROTO_MAX_REQUEST)
		return -EMSGSIZE;
	proto_put_len(hdr, (uint32_t)n);
	r = io_all(fd, hdr, sizeof(hdr), true, deadline);
	if (!r)
		r = io_all(fd, (void *)req, n, true, deadline);
	if (!r)
		r = io_all(fd, hdr, sizeof(hdr), false, deadline);
	if (r)
		return r;
	rlen = proto_get_len(hdr);
	if (rlen == 0 || rlen > PROTO_MAX_REPLY)
		return -EMSGSIZE;
	buf = malloc(rlen + 1);
	if (!buf)
		return -ENOMEM;
	r = io_all(fd, buf, rlen, false, deadline);
	if (r) {
		free(buf);
		return r;
	}
	buf[rlen] = '\0';
	*reply = buf;
	return 0;
}
