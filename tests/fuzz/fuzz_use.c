/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_use.c -- libFuzzer target: a filled pool's metadata damaged, then
 * opened and used (use_core.h). A wrong answer or live-space reuse aborts;
 * crashes, hangs and sanitizer reports are libFuzzer's to catch.
 *
 * An input is a list of mutations, 18 bytes each:
 *   [target u8][kind u8][instance u32][offset u32][value u64]
 * (at most 8; a shorter tail is ignored). FUZZ_USE_SKIP=LIST leaves the
 * named targets alone (use_core.h: header, meta, lanes, chunks, runs,
 * anchor, tables, entries, keys, values); FUZZ_USE_CHECKSUMS=1 makes the
 * base pool with value checksums (else values are left alone).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "use_core.h"

#define REC  18u
#define MAXM 8u

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char path[160];
	const char *skip = getenv("FUZZ_USE_SKIP");
	const char *dir = getenv("DAXO_TEST_DIR");
	const char *cs = getenv("FUZZ_USE_CHECKSUMS");

	(void)argc, (void)argv;
	setenv("PMEM_IS_PMEM_FORCE", "1", 0);
	setenv("DAXO_NOTIFY", "0", 0);
	bool checksums = cs && !strcmp(cs, "1");
	int mask = skip && *skip ? uc_targets_parse(skip, true)
				 : (1 << UC_T_NTARGETS) - 1;
	if (mask < 0) {
		fprintf(stderr, "fuzz_use: bad FUZZ_USE_SKIP '%s'\n", skip);
		exit(2);
	}
	/* value bytes are a target only where a checksum guards them */
	if (!checksums)
		mask &= ~(1 << UC_T_VALUE);
	uc_targets_only((unsigned)mask);
	snprintf(path, sizeof(path), "%s/daxo-fuzz-use-%d",
		 dir ? dir : "/dev/shm", (int)getpid());
	if (uc_init(path, checksums)) {
		fprintf(stderr, "fuzz_use: cannot make the base pool\n");
		exit(1);
	}
	atexit(uc_fini);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uc_mut m[MAXM];
	struct uc_result r;
	size_t n = 0;

	for (; n < MAXM && (n + 1) * REC <= size; n++) {
		const uint8_t *d = data + n * REC;
		m[n].target = d[0];
		m[n].kind = d[1];
		memcpy(&m[n].pick, d + 2, 4);
		memcpy(&m[n].off, d + 6, 4);
		memcpy(&m[n].val, d + 10, 8);
	}
	uc_run(m, n, &r);
	if (r.wrong || r.reuse) {
		fprintf(stderr, "fuzz_use: %s\n", r.what);
		abort();
	}
	return 0;
}
