/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_proto.c -- the daxod wire protocol's framing and request parser
 * (daemon/proto.c), in process: valid requests of every op, every refusal
 * (version, op, types, ranges, paths, trailing bytes, depth), and a bounded
 * random-mutation loop that must never crash or accept a bad shape.
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

	p = s + sprintf(s, "{\"v\":1,\"op\":\"register\",\"pid\":1,\"base\":1,"
			   "\"size\":1,\"path\":\"/");
	memset(p, 'a', n);
	strcpy(p + n, "\"}");
	assert_int_equal(parse(s, &rq), -EBADMSG);
	free(s);
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
	    cmocka_unit_test(test_mutations_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
