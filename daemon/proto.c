/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * proto.c -- framing and request validation for the daxod protocol.
 *
 * Everything that arrives on the socket passes through proto_frame() and
 * proto_parse() before the daemon acts on it; both are pure functions over
 * a buffer, which is what tests/fuzz/fuzz_daemon_proto.c exercises. The
 * JSON parser is json-c's, bounded by the frame limit and a nesting depth,
 * strict and validating UTF-8: a request's strings are valid UTF-8, and
 * those the daemon compares or keeps hold no NUL.
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

/* get_str -- field @k as a string without NULs (json-c keeps "\u0000") */
static int get_str(json_object *o, const char *k, const char **out,
		   size_t *len, char *err, size_t errlen)
{
	json_object *v;
	size_t n;

	if (!json_object_object_get_ex(o, k, &v) ||
	    !json_object_is_type(v, json_type_string)) {
		snprintf(err, errlen, "field \"%s\": missing or not a string",
			 k);
		return -EBADMSG;
	}
	*out = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	if (memchr(*out, '\0', n)) {
		snprintf(err, errlen, "field \"%s\": contains NUL", k);
		return -EBADMSG;
	}
	*len = n;
	return 0;
}

static int parse_obj(json_object *o, struct proto_req *rq, char *err,
		     size_t errlen)
{
	json_object *v;
	const char *op, *s;
	size_t oplen, n;
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
	ret = get_str(o, "op", &op, &oplen, err, errlen);
	if (ret)
		return ret;
	if (!strcmp(op, "hello"))
		rq->op = OP_HELLO;
	else if (!strcmp(op, "stat"))
		rq->op = OP_STAT;
	else if (!strcmp(op, "register"))
		rq->op = OP_REGISTER;
	else if (!strcmp(op, "unregister"))
		rq->op = OP_UNREGISTER;
	else {
		char q[64];

		proto_text(op, oplen, 24, q, sizeof(q));
		snprintf(err, errlen, "unknown op \"%s\"", q);
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
	ret = get_str(o, "path", &s, &n, err, errlen);
	if (ret)
		return ret;
	if (n == 0 || s[0] != '/') {
		snprintf(err, errlen, "field \"path\": empty or relative");
		return -EBADMSG;
	}
	if (n >= sizeof(rq->path)) {
		snprintf(err, errlen,
			 "field \"path\": %zu bytes, the limit is %u", n,
			 PROTO_PATH_MAX - 1);
		return -EBADMSG;
	}
	memcpy(rq->path, s, n);
	rq->path[n] = '\0';
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
	json_tokener_set_flags(tok,
			       JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
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

/* utf8_len -- bytes of the valid, printable UTF-8 character at @s (@n
 * bytes left), or 0 */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len, i;
	unsigned lo = 0x80, hi = 0xbf;

	if (c >= 0x20 && c < 0x7f)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0; /* controls, DEL, continuation bytes, 0xc0/c1, f5.. */
	if (n < len)
		return 0;
	/* the second byte's range excludes overlong forms, surrogates and
	 * code points above U+10FFFF */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	if (c == 0xc2 && s[1] <= 0x9f)
		return 0; /* C1 controls */
	return len;
}

size_t proto_text(const char *s, size_t n, size_t max, char *out, size_t cap)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, o = 0, lim = n < max ? n : max;

	if (cap == 0)
		return 0;
	while (i < lim) {
		size_t l = utf8_len(u + i, lim - i);

		if (l) {
			if (o + l + 4 > cap) /* room for "..." and NUL */
				break;
			memcpy(out + o, u + i, l);
			o += l;
			i += l;
		} else {
			if (o + 4 + 4 > cap)
				break;
			snprintf(out + o, 5, "\\x%02x", u[i]);
			o += 4;
			i++;
		}
	}
	if (i < n && o + 4 <= cap) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return o;
}
