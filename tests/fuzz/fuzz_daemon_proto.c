/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_daemon_proto.c -- libFuzzer target for daxod's message parser.
 *
 * Feeds the input through proto_frame() as a byte stream (possibly many
 * frames, possibly a lying length) and each complete frame's payload
 * through proto_parse(), exactly as server.c does, and checks the
 * validator's promises on whatever is accepted. Built with -Dfuzz=true and
 * clang: tests/daemon/meson.build.
 *   ./fuzz_daemon_proto -max_total_time=60 corpus/
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
				(void)proto_parse((const char *)data, size, &rq,
						  err, sizeof(err));
			break;
		}
		r = proto_parse((const char *)data + PROTO_HDR,
				(size_t)n - PROTO_HDR, &rq, err, sizeof(err));
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
