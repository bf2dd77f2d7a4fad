/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * daxo_count.c -- the calling thread's fences and flushed lines as libdaxo
 * counts them (daxo_thread_stats), for daxo-bench and daxo-ycsb.
 */
#include "daxo.h"
#include "bench.h"

void bench_daxo_counts(struct bench_counts *out)
{
	struct daxo_stats s;

	if (daxo_thread_stats(&s) == 0) {
		out->fences = s.fences;
		out->lines = s.flushes;
	} else {
		out->fences = out->lines = 0;
	}
}
