/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_daemon_proto.c -- libFuzzer target for daxod's message parser.
 *
 * Feeds the input through proto_frame() as a byte stream (possibly many
 * frames, possibly a lying length) and each complete frame's payload
 * through proto_parse(), exactly as server.c does, and checks the
 * validator's promises on whatever is accepted, and that every refusal's
 * message (which the daemon sends back) is printable, valid UTF-8 -- nothing
 * of the input echoed raw. Built with -Dfuzz=true and
 * clang: tests/daemon/meson.build.
 *   ./fuzz_daemon_proto -max_total_time=60 corpus/
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

#include "../unit/test_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_err(int r, const char *err)
{
	if (r == 0)
		return;
	for (const char *p = err; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			abort();
	if (!test_utf8_valid(err, strlen(err)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct proto_req rq;
	char err[256];

	while (size > 0) {
		long n = proto_frame(data, size, PROTO_MAX_REQUEST);
		int r;

		if (n <= 0) {
			/* incomplete or refused framing: parse the rest as a
			 * bare payload too, the parser must cope */
			if (size <= PROTO_MAX_REQUEST)
				check_err(proto_parse((const char *)data, size,
						      &rq, err, sizeof(err)),
					  err);
			break;
		}
		r = proto_parse((const char *)data + PROTO_HDR,
				(size_t)n - PROTO_HDR, &rq, err, sizeof(err));
		check_err(r, err);
		if (r == 0) {
			if (rq.v != PROTO_VERSION)
				abort();
			if (rq.op == OP_REGISTER &&
			    (rq.pid <= 0 || rq.base == 0 || rq.size == 0 ||
			     rq.path[0] != '/' ||
			     strlen(rq.path) >= sizeof(rq.path)))
				abort();
		}
		data += n;
		size -= (size_t)n;
	}
	return 0;
}
