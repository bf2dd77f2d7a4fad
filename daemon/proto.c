/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * proto.c -- framing and request validation for the daxod protocol.
 *
 * Everything that arrives on the socket passes through proto_frame() and
 * proto_parse() before the daemon acts on it; both are pure functions over
 * a buffer, which is what tests/fuzz/fuzz_daemon_proto.c exercises. The
 * JSON parser is json-c's, bounded by the frame limit and a nesting depth.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "proto.h"

#define PROTO_DEPTH  8 /* requests are flat objects */
#define PROTO_VA_END (1ull << 57)

long proto_frame(const unsigned char *buf, size_t len, size_t max)
{
	uint32_t n;

	if (len < PROTO_HDR)
		return 0;
	n = proto_get_len(buf);
	if (n == 0)
		return -EBADMSG;
	if (n > max)
		return -EMSGSIZE;
	if (len - PROTO_HDR < n)
		return 0;
	return (long)(n + PROTO_HDR);
}

const char *proto_op_name(enum proto_op op)
{
	switch (op) {
	case OP_HELLO:
		return "hello";
	case OP_REGISTER:
		return "register";
	case OP_UNREGISTER:
		return "unregister";
	case OP_STAT:
		return "stat";
	}
	return "?";
}

static int get_u64(json_object *o, const char *k, uint64_t *out, char *err,
		   size_t errlen)
{
	json_object *v;
	int64_t x;

	if (!json_object_object_get_ex(o, k, &v) ||
	    !json_object_is_type(v, json_type_int)) {
		snprintf(err, errlen, "field \"%s\": missing or not an integer",
			 k);
		return -EBADMSG;
	}
	errno = 0;
	x = json_object_get_int64(v);
	if (x < 0 || errno) {
		snprintf(err, errlen, "field \"%s\": out of range", k);
		return -EBADMSG;
	}
	*out = (uint64_t)x;
	return 0;
}

static int get_bool(json_object *o, const char *k, bool *out, char *err,
		    size_t errlen)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v)) {
		*out = false;
		return 0;
	}
	if (!json_object_is_type(v, json_type_boolean)) {
		snprintf(err, errlen, "field \"%s\": not a boolean", k);
		return -EBADMSG;
	}
	*out = json_object_get_boolean(v);
	return 0;
}

static int parse_obj(json_object *o, struct proto_req *rq, char *err,
		     size_t errlen)
{
	json_object *v;
	const char *op;
	uint64_t pid;
	int ret;

	if (!json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "request is not a JSON object");
		return -EBADMSG;
	}
	if (!json_object_object_get_ex(o, "v", &v) ||
	    !json_object_is_type(v, json_type_int)) {
		snprintf(err, errlen, "field \"v\": missing or not an integer");
		return -EBADMSG;
	}
	if (json_object_get_int64(v) != PROTO_VERSION) {
		snprintf(err, errlen,
			 "protocol version %lld not supported "
			 "(this daemon speaks %d)",
			 (long long)json_object_get_int64(v), PROTO_VERSION);
		return -EPROTONOSUPPORT;
	}
	rq->v = PROTO_VERSION;
	if (!json_object_object_get_ex(o, "op", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		snprintf(err, errlen, "field \"op\": missing or not a string");
		return -EBADMSG;
	}
	op = json_object_get_string(v);
	if (!strcmp(op, "hello"))
		rq->op = OP_HELLO;
	else if (!strcmp(op, "stat"))
		rq->op = OP_STAT;
	else if (!strcmp(op, "register"))
		rq->op = OP_REGISTER;
	else if (!strcmp(op, "unregister"))
		rq->op = OP_UNREGISTER;
	else {
		snprintf(err, errlen, "unknown op \"%.32s\"", op);
		return -EOPNOTSUPP;
	}
	if (rq->op == OP_HELLO || rq->op == OP_STAT)
		return 0;

	ret = get_u64(o, "pid", &pid, err, errlen);
	if (ret)
		return ret;
	if (pid == 0 || pid > INT_MAX) {
		snprintf(err, errlen, "field \"pid\": out of range");
		return -EBADMSG;
	}
	rq->pid = (int64_t)pid;
	ret = get_u64(o, "base", &rq->base, err, errlen);
	if (ret)
		return ret;
	if (rq->op == OP_UNREGISTER)
		return 0;

	ret = get_u64(o, "size", &rq->size, err, errlen);
	if (ret)
		return ret;
	/* user space ends below 2^57 even with 5-level page tables */
	if (rq->size == 0 || rq->base == 0 || rq->base >= PROTO_VA_END ||
	    rq->size > PROTO_VA_END - rq->base) {
		snprintf(err, errlen,
			 "base/size: empty or not a user-space "
			 "range");
		return -EBADMSG;
	}
	if (!json_object_object_get_ex(o, "path", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		snprintf(err, errlen,
			 "field \"path\": missing or not a string");
		return -EBADMSG;
	}
	{
		const char *s = json_object_get_string(v);
		size_t n = (size_t)json_object_get_string_len(v);

		if (n == 0 || n >= sizeof(rq->path) || s[0] != '/' ||
		    memchr(s, '\0', n)) {
			snprintf(err, errlen,
				 "field \"path\": empty, relative, too long "
				 "or containing NUL");
			return -EBADMSG;
		}
		memcpy(rq->path, s, n);
		rq->path[n] = '\0';
	}
	if ((ret = get_bool(o, "pmem", &rq->pmem, err, errlen)) ||
	    (ret = get_bool(o, "dax", &rq->dax, err, errlen)) ||
	    (ret = get_bool(o, "map_sync", &rq->map_sync, err, errlen)) ||
	    (ret = get_bool(o, "devdax", &rq->devdax, err, errlen)))
		return ret;
	return 0;
}

int proto_parse(const char *payload, size_t len, struct proto_req *rq,
		char *err, size_t errlen)
{
	struct json_tokener *tok;
	json_object *o;
	int ret;

	memset(rq, 0, sizeof(*rq));
	if (len == 0 || len > PROTO_MAX_REQUEST) {
		snprintf(err, errlen, "request of %zu bytes", len);
		return -EBADMSG;
	}
	tok = json_tokener_new_ex(PROTO_DEPTH);
	if (!tok) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, payload, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len) {
		enum json_tokener_error e = json_tokener_get_error(tok);

		snprintf(err, errlen, "malformed JSON: %s",
			 o ? "trailing bytes"
			 : e == json_tokener_continue
			     ? "truncated"
			     : json_tokener_error_desc(e));
		ret = -EBADMSG;
		goto out;
	}
	ret = parse_obj(o, rq, err, errlen);
out:
	json_object_put(o);
	json_tokener_free(tok);
	return ret;
}
