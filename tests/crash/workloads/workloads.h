/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * workloads.h -- the built-in crash-simulator workloads (workloads.c).
 *
 * Run by the crash tests (tests/crash/test_crash.c) and by the
 * daxo-crashsim program behind `daxo crashsim` (tools/crashsim.c), both
 * linked with the simulator library (sim/). Each entry makes a workload of
 * daxo_crashsim.h for a given number of operations.
 */
#ifndef DAXO_CRASHSIM_WORKLOADS_H
#define DAXO_CRASHSIM_WORKLOADS_H 1

#include <stddef.h>
#include <stdint.h>

#include "daxo_crashsim.h"

struct crashsim_builtin {
	const char *name;
	const char *summary;
	/* fill @w for @ops operations; @state is freed by the caller */
	int (*make)(unsigned ops, struct daxo_crashsim_workload *w,
		    void **state);
};

/* crashsim_builtins -- the table (@n entries, then a NULL entry) */
const struct crashsim_builtin *crashsim_builtins(size_t *n);
/* crashsim_builtin_find -- the entry named @name, or NULL */
const struct crashsim_builtin *crashsim_builtin_find(const char *name);

/*
 * wl_count_check -- a counter that went up once per committed operation
 * reads @v: it must be @done, or @done + 1 if one was @inflight; else 1
 * and why in @msg
 */
int wl_count_check(char *msg, size_t len, uint64_t v, uint64_t done,
		   int inflight);

#endif
