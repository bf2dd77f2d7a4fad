/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_proto.c -- the daxod wire protocol's framing and request parser
 * (daemon/proto.c), in process: valid requests of every op, every refusal
 * (version, op, types, ranges, paths, trailing bytes, depth, invalid UTF-8,
 * embedded NULs), proto_text() on hostile bytes, and a bounded
 * random-mutation loop that must never crash, accept a bad shape, or give
 * an error message that is not valid, printable UTF-8.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto.h"

#include "../unit/test_common.h"

/* printable -- valid UTF-8 without control characters */
static int printable(const char *s)
{
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return 0;
	return test_utf8_valid(s, strlen(s));
}

static int parse(const char *s, struct proto_req *rq)
{
	char err[256];

	return proto_parse(s, strlen(s), rq, err, sizeof(err));
}

static void test_frame_lengths_checked(void **state)
{
	unsigned char b[16] = {0};

	assert_int_equal(proto_frame(b, 3, 100), 0);
	assert_int_equal(proto_frame(b, 4, 100), -EBADMSG);
	proto_put_len(b, 101);
	assert_int_equal(proto_frame(b, 4, 100), -EMSGSIZE);
	proto_put_len(b, 5);
	assert_int_equal(proto_frame(b, 8, 100), 0);
	assert_int_equal(proto_frame(b, 9, 100), 9);
	assert_int_equal(proto_frame(b, 16, 100), 9);
	proto_put_len(b, 0x01020304);
	assert_int_equal(proto_get_len(b), 0x01020304);
	assert_int_equal(b[0], 4);
}

static void test_valid_requests_parse(void **state)
{
	struct proto_req rq;

	assert_int_equal(parse("{\"v\":1,\"op\":\"stat\"}", &rq), 0);
	assert_int_equal(rq.op, OP_STAT);
	assert_int_equal(parse("{\"op\":\"hello\",\"v\":1,\"extra\":[1]}", &rq),
			 0);
	assert_int_equal(rq.op, OP_HELLO);
	assert_int_equal(parse("{\"v\":1,\"op\":\"register\",\"pid\":42,"
			       "\"path\":\"/dev/shm/a \\\"b\\\"\","
			       "\"base\":140737488289792,\"size\":67108864,"
			       "\"pmem\":true,\"dax\":false,\"map_sync\":false,"
			       "\"devdax\":false}",
			       &rq),
			 0);
	assert_int_equal(rq.op, OP_REGISTER);
	assert_int_equal(rq.pid, 42);
	assert_string_equal(rq.path, "/dev/shm/a \"b\"");
	assert_true(rq.base == 140737488289792ull);
	assert_true(rq.size == 67108864ull);
	assert_true(rq.pmem && !rq.dax);
	assert_int_equal(parse("{\"v\":1,\"op\":\"unregister\",\"pid\":7,"
			       "\"base\":4096}",
			       &rq),
			 0);
	assert_int_equal(rq.op, OP_UNREGISTER);
}

static void test_bad_requests_refused(void **state)
{
	static const struct {
		const char *s;
		int err;
	} bad[] = {
	    {"", -EBADMSG},
	    {"{", -EBADMSG},
	    {"[]", -EBADMSG},
	    {"\"stat\"", -EBADMSG},
	    {"{\"op\":\"stat\"}", -EBADMSG},
	    {"{\"v\":\"1\",\"op\":\"stat\"}", -EBADMSG},
	    {"{\"v\":2,\"op\":\"stat\"}", -EPROTONOSUPPORT},
	    {"{\"v\":4294967297,\"op\":\"stat\"}", -EPROTONOSUPPORT},
	    {"{\"v\":1,\"op\":\"reboot\"}", -EOPNOTSUPP},
	    {"{\"v\":1,\"op\":7}", -EBADMSG},
	    {"{\"v\":1,\"op\":\"stat\"} trailing", -EBADMSG},
	    {"{\"v\":1,\"op\":\"stat\"}{}", -EBADMSG},
	    {"{\"v\":1,\"op\":\"register\",\"pid\":-1,\"path\":\"/a\","
	     "\"base\":1,\"size\":1}",
	     -EBADMSG},
	    {"{\"v\":1,\"op\":\"register\",\"pid\":0,\"path\":\"/a\","
	     "\"base\":1,\"size\":1}",
	     -EBADMSG},
	    {"{\"v\":1,\"op\":\"register\",\"pid\":9999999999,\"path\":\"/a\","
	     "\"base\":1,\"size\":1}",
	     -EBADMSG},
	    {"{\"v\":1,\"op\":\"register\",\"pid\":1,\"path\":\"rel\","
	     "\"base\":1,\"size\":1}",
	     -EBADMSG},
	    {"{\"v\":1,\"op\":\"register\",\"pid\":1,\"path\":\"\","
	     "\"base\":1,\"size\":1}",
	     -EBADMSG},
	    {"{\"v\":1,\"op\":\"register\",\"pid\":1,\"path\":\"/a\\u0000b\","
	     "\"base\":1,\"size\":1}",
	     -EBADMSG},
	    {"{\"v\":1,\"op\":\"register\",\"pid\":1,\"path\":\"/a\","
	     "\"base\":0,\"size\":1}",
	     -EBADMSG},
	    {"{\"v\":1,\"op\":\"register\",\"pid\":1,\"path\":\"/a\","
	     "\"base\":1,\"size\":0}",
	     -EBADMSG},
	    {"{\"v\":1,\"op\":\"register\",\"pid\":1,\"path\":\"/a\","
	     "\"base\":9223372036854775807,\"size\":9223372036854775807}",
	     -EBADMSG},
	    {"{\"v\":1,\"op\":\"register\",\"pid\":1,\"path\":\"/a\","
	     "\"base\":1,\"size\":1,\"pmem\":1}",
	     -EBADMSG},
	    {"{\"v\":1,\"op\":\"register\",\"pid\":1,\"base\":1,\"size\":1}",
	     -EBADMSG},
	    {"{\"v\":1,\"op\":\"unregister\",\"pid\":1}", -EBADMSG},
	    {"{\"v\":1,\"op\":\"stat\",\"x\":[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]"
	     "]]]]]}",
	     -EBADMSG},
	    {"{\"v\":1,/*c*/\"op\":\"stat\"}", -EBADMSG},
	};
	struct proto_req rq;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = parse(bad[i].s, &rq);
		if (r != bad[i].err)
			fail_msg("\"%s\": got %d, want %d", bad[i].s, r,
				 bad[i].err);
	}
}

static void test_long_path_refused(void **state)
{
	size_t n = PROTO_PATH_MAX + 64;
	char *s = malloc(n + 128), *p;
	struct proto_req rq;

	/* a return GCC sees (cmocka's fail is not noreturn to it): else its
	 * sanitized -O2 build warns of sprintf into NULL */
	if (!s) {
		fail_msg("out of memory");
		return;
	}
	p = s + sprintf(s, "{\"v\":1,\"op\":\"register\",\"pid\":1,\"base\":1,"
			   "\"size\":1,\"path\":\"/");
	memset(p, 'a', n);
	strcpy(p + n, "\"}");
	assert_int_equal(parse(s, &rq), -EBADMSG);
	free(s);
}

/* a string with an embedded NUL is not the string before it */
static void test_embedded_nul_refused(void **state)
{
	struct proto_req rq;

	assert_int_equal(parse("{\"v\":1,\"op\":\"hello\\u0000x\"}", &rq),
			 -EBADMSG);
	assert_int_equal(parse("{\"v\":1,\"op\":\"stat\\u0000\"}", &rq),
			 -EBADMSG);
	assert_int_equal(parse("{\"v\":1,\"op\":\"unregister\",\"pid\":1,"
			       "\"base\":4096,\"x\":\"\\u0000\"}",
			       &rq),
			 0); /* a NUL in a field nobody reads is harmless */
	assert_int_equal(parse("{\"v\":1,\"op\":\"register\",\"pid\":1,"
			       "\"base\":4096,\"size\":1,"
			       "\"path\":\"/a\\u0000b\"}",
			       &rq),
			 -EBADMSG);
}

/* invalid UTF-8 is refused, and the refusal quotes none of it */
static void test_invalid_utf8_refused(void **state)
{
	static const char *const bad[] = {
	    "{\"v\":1,\"op\":\"\xff\xfe\"}",
	    "{\"v\":1,\"op\":\"he\xc0\xafllo\"}",	/* overlong '/' */
	    "{\"v\":1,\"op\":\"\xed\xa0\x80\"}",	/* a surrogate */
	    "{\"v\":1,\"op\":\"\xf4\x90\x80\x80\"}", /* > U+10FFFF */
	    ("{\"v\":1,\"op\":\"register\",\"pid\":1,\"base\":4096,"
	     "\"size\":1,\"path\":\"/a\x80\"}"), /* one string */
	};
	struct proto_req rq;
	char err[256];

	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		int r = proto_parse(bad[i], strlen(bad[i]), &rq, err,
				    sizeof(err));
		if (r == 0)
			fail_msg("request %zu accepted", i);
		if (!printable(err))
			fail_msg("request %zu: error \"%s\" not printable "
				 "UTF-8",
				 i, err);
	}
	/* valid UTF-8 with control characters: quoted, escaped */
	{
		const char *q = "{\"v\":1,\"op\":\"\\u00e9\\u0007\\n\\u001b\"}";

		assert_int_equal(proto_parse(q, strlen(q), &rq, err, sizeof(err)),
				 -EOPNOTSUPP);
	}
	assert_true(printable(err));
	assert_non_null(strstr(err, "\xc3\xa9\\x07\\x0a\\x1b"));
}

static void expect_text(const char *in, size_t n, size_t max,
			const char *want)
{
	char out[256];
	size_t len = proto_text(in, n, max, out, sizeof(out));

	assert_int_equal(len, strlen(out));
	if (strcmp(out, want))
		fail_msg("proto_text: got \"%s\", want \"%s\"", out, want);
	assert_true(printable(out));
}

static void test_proto_text(void **state)
{
	char small[8];

	expect_text("abc", 3, 100, "abc");
	expect_text("\xc3\xa9t\xc3\xa9", 5, 100, "\xc3\xa9t\xc3\xa9");
	expect_text("\xf4\x8f\xbf\xbf", 4, 100, "\xf4\x8f\xbf\xbf");
	expect_text("\xff", 1, 100, "\\xff");
	expect_text("a\nb\x7f", 4, 100, "a\\x0ab\\x7f");
	expect_text("\xc0\xaf", 2, 100, "\\xc0\\xaf");
	expect_text("\xed\xa0\x80", 3, 100, "\\xed\\xa0\\x80");
	expect_text("\xc2\x85", 2, 100, "\\xc2\\x85"); /* C1 control */
	expect_text("\xf4\x90\x80\x80", 4, 100, "\\xf4\\x90\\x80\\x80");
	expect_text("\xe2\x82", 2, 100, "\\xe2\\x82"); /* truncated */
	expect_text("a\0b", 3, 100, "a\\x00b");
	expect_text("abcdef", 6, 3, "abc...");
	/* the output never ends in half a character or escape */
	proto_text("\xff\xff\xff", 3, 100, small, sizeof(small));
	assert_string_equal(small, "\\xff...");
	proto_text("abcdefghij", 10, 100, small, sizeof(small));
	assert_string_equal(small, "abcd...");
}

/* random mutations of valid requests: never a crash, and whatever parses
 * satisfies the validator's promises */
static void test_mutations_bounded(void **state)
{
	static const char *const seeds[] = {
	    "{\"v\":1,\"op\":\"stat\"}",
	    ("{\"v\":1,\"op\":\"register\",\"pid\":42,\"path\":\"/dev/shm/x\","
	     "\"base\":4096,\"size\":8192,\"pmem\":true,\"dax\":false}"),
	    "{\"v\":1,\"op\":\"unregister\",\"pid\":42,\"base\":4096}",
	};
	unsigned seed = (unsigned)time(NULL);
	char buf[512], err[256];
	struct proto_req rq;

	srand(seed);
	for (int i = 0; i < 20000; i++) {
		const char *s = seeds[(unsigned)rand() % 3];
		size_t n = strlen(s);
		int flips = 1 + rand() % 4, r;

		memcpy(buf, s, n);
		for (int k = 0; k < flips; k++)
			buf[(unsigned)rand() % n] = (char)(rand() % 256);
		if (rand() % 3 == 0)
			n = (size_t)rand() % n + 1;
		r = proto_parse(buf, n, &rq, err, sizeof(err));
		if (r == 0) {
			if (rq.v != PROTO_VERSION)
				fail_msg("seed %u: accepted version %d", seed,
					 rq.v);
			if (rq.op == OP_REGISTER &&
			    (rq.pid <= 0 || rq.size == 0 || rq.base == 0 ||
			     rq.path[0] != '/' || rq.base + rq.size < rq.base))
				fail_msg("seed %u: accepted a bad register",
					 seed);
		} else if (!err[0]) {
			fail_msg("seed %u: refusal without a message", seed);
		} else if (!printable(err)) {
			fail_msg("seed %u: error message not printable UTF-8",
				 seed);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_frame_lengths_checked),
	    cmocka_unit_test(test_valid_requests_parse),
	    cmocka_unit_test(test_bad_requests_refused),
	    cmocka_unit_test(test_long_path_refused),
	    cmocka_unit_test(test_embedded_nul_refused),
	    cmocka_unit_test(test_invalid_utf8_refused),
	    cmocka_unit_test(test_proto_text),
	    cmocka_unit_test(test_mutations_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
