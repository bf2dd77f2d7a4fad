/* SPDX-License-Identifier: BSD-3-Clause */
/* create.c -- `daxo create POOL --size SIZE [--layout NAME]` (being written) */
#include <stdio.h>
#include "daxo.h"
#include "builtin.h"

int cmd_create(int argc, char **argv)
{
	fprintf(stderr, "daxo create: not yet\n");
	return 1;
}
