/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * native.h -- the workloads of native.c, for the table in workloads.c.
 */
#ifndef DAXO_CRASHSIM_NATIVE_H
#define DAXO_CRASHSIM_NATIVE_H 1

#include "daxo_crashsim.h"

int crashsim_make_nest(unsigned ops, struct daxo_crashsim_workload *w,
		       void **state);
int crashsim_make_ctor(unsigned ops, struct daxo_crashsim_workload *w,
		       void **state);
int crashsim_make_realloc(unsigned ops, struct daxo_crashsim_workload *w,
			  void **state);
int crashsim_make_rootgrow(unsigned ops, struct daxo_crashsim_workload *w,
			   void **state);
int crashsim_make_btree(unsigned ops, struct daxo_crashsim_workload *w,
			void **state);

#endif
