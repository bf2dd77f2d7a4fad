/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * defrag_wl.h -- the workloads of defrag.c, for the table in workloads.c.
 */
#ifndef DAXO_CRASHSIM_DEFRAG_WL_H
#define DAXO_CRASHSIM_DEFRAG_WL_H 1

#include "daxo_crashsim.h"

int crashsim_make_defrag(unsigned ops, struct daxo_crashsim_workload *w,
			 void **state);
int crashsim_make_kvcompact(unsigned ops, struct daxo_crashsim_workload *w,
			    void **state);

#endif
