/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * client.h -- a small blocking client for the daxod protocol (proto.h),
 * used by `daxo stat`, `daxo top` and the daemon tests. No JSON parsing
 * here: requests are given and replies returned as text.
 */
#ifndef DAXOD_CLIENT_H
#define DAXOD_CLIENT_H 1

#include <stddef.h>

/* daxod_socket_path -- @arg, else $DAXO_SOCKET, else the default */
const char *daxod_socket_path(const char *arg);

/* daxod_connect -- connected fd or -errno, within @timeout_ms */
int daxod_connect(const char *path, int timeout_ms);

/*
 * daxod_call -- send @req (JSON text) as one frame and read one reply frame
 * into a malloc'ed NUL-terminated *@reply. 0 or -errno (-ETIMEDOUT,
 * -EPIPE, -EMSGSIZE, -ECONNRESET).
 */
int daxod_call(int fd, const char *req, char **reply, int timeout_ms);

#endif
