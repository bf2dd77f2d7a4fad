/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * proto.h -- the daxod wire protocol.
 *
 * A Unix stream socket carries frames: a 4-byte little-endian length N
 * followed by N bytes holding one JSON object. Requests are at most
 * PROTO_MAX_REQUEST bytes; replies at most PROTO_MAX_REPLY. Every request
 * carries the protocol version "v" (PROTO_VERSION) and an operation "op":
 *
 *   {"v":1,"op":"hello"}                    -> {"v":1,"ok":true,"daemon":..}
 *   {"v":1,"op":"register","pid":P,"path":S,"base":N,"size":N,
 *    "pmem":B,"dax":B,"map_sync":B,"devdax":B}   (P must be the sender)
 *   {"v":1,"op":"unregister","pid":P,"base":N}  (P must be the sender)
 *   {"v":1,"op":"stat"}                      -> the snapshot (same uid/root)
 *
 * Replies are {"v":1,"ok":true,...} or {"v":1,"ok":false,"error":"..."}.
 * A client may send several requests on one connection, one at a time.
 * A frame of length 0 or over the limit, JSON that does not parse (invalid
 * UTF-8 included), a wrong version, a missing or ill-typed field, a string
 * with an embedded NUL ("hello\u0000x" is not "hello") or a path of
 * PROTO_PATH_MAX bytes or more ends the connection (after an error reply
 * where the framing is still intact). Error replies quote nothing of the
 * request but through proto_text().
 *
 * This file and proto.c are pure (no I/O): the fuzz target links them.
 */
#ifndef DAXOD_PROTO_H
#define DAXOD_PROTO_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PROTO_VERSION	     1
#define PROTO_HDR	     4u
#define PROTO_MAX_REQUEST    (64u << 10)
#define PROTO_MAX_REPLY	     (64u << 20)
#define PROTO_PATH_MAX	     1024u /* a registered path is shorter */
#define DAXOD_DEFAULT_SOCKET "/run/daxo/daxod.sock"

enum proto_op {
	OP_HELLO = 1,
	OP_REGISTER,
	OP_UNREGISTER,
	OP_STAT,
};

struct proto_req {
	int v;
	enum proto_op op;
	int64_t pid;
	char path[PROTO_PATH_MAX];
	uint64_t base, size;
	bool pmem, dax, map_sync, devdax;
};

static inline void proto_put_len(unsigned char out[4], uint32_t n)
{
	out[0] = (unsigned char)n;
	out[1] = (unsigned char)(n >> 8);
	out[2] = (unsigned char)(n >> 16);
	out[3] = (unsigned char)(n >> 24);
}

static inline uint32_t proto_get_len(const unsigned char in[4])
{
	return (uint32_t)in[0] | (uint32_t)in[1] << 8 | (uint32_t)in[2] << 16 |
	       (uint32_t)in[3] << 24;
}

/*
 * proto_frame -- is there a whole frame at the start of @buf (@len bytes)?
 * Returns the frame's total length (header included), 0 if more bytes are
 * needed, -EMSGSIZE if the announced length exceeds @max, -EBADMSG if it
 * is 0.
 */
long proto_frame(const unsigned char *buf, size_t len, size_t max);

/*
 * proto_parse -- parse and validate one request payload of @len bytes.
 * Returns 0, or -EBADMSG (not JSON / wrong shape), -EPROTONOSUPPORT (version)
 * or -EOPNOTSUPP (unknown op), with a message in @err.
 */
int proto_parse(const char *payload, size_t len, struct proto_req *rq,
		char *err, size_t errlen);

/* proto_op_name -- "register", ... */
const char *proto_op_name(enum proto_op op);

/*
 * proto_text -- @n bytes at @s as text that is safe to write anywhere: to
 * a JSON reply, an event or a log line. Valid UTF-8 of printable characters
 * is copied; any other byte (invalid or overlong UTF-8, a surrogate, a C0
 * or C1 control character, DEL, NUL) becomes the four characters \xNN. At
 * most @max bytes of @s are read; if @s is longer, "..." ends the text.
 * Writes a NUL-terminated string of at most @cap - 1 bytes to @out (never
 * a partial character or escape) and returns its length.
 */
size_t proto_text(const char *s, size_t n, size_t max, char *out, size_t cap);

#endif
