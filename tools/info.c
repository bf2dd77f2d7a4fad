/* SPDX-License-Identifier: BSD-3-Clause */
/* info.c -- `daxo info POOL [--json]` (being written) */
#include <stdio.h>
#include "daxo.h"
#include "builtin.h"

int cmd_info(int argc, char **argv)
{
	fprintf(stderr, "daxo info: not yet\n");
	return 1;
}
