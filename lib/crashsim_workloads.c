/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * crashsim_workloads.c -- the built-in workloads of `daxo crashsim` and of
 * the crash test suite (test builds only).
 */
#include <string.h>

#include "crashsim.h"

static const struct crashsim_builtin builtins[] = {
	{NULL, NULL, NULL},
};

const struct crashsim_builtin *crashsim_builtins(size_t *n)
{
	*n = ARRAY_SIZE(builtins) - 1;
	return builtins;
}

const struct crashsim_builtin *crashsim_builtin_find(const char *name)
{
	for (size_t i = 0; builtins[i].name; i++)
		if (!strcmp(builtins[i].name, name))
			return &builtins[i];
	return NULL;
}
