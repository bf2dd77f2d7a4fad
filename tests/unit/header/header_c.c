/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * header_c.c -- build-only test: daxo.h compiles alone as strict C11
 * (-std=c11 -pedantic -Werror), before any other header.
 */
#include "daxo.h"

int main(void)
{
	struct daxo_stats st;
	daxo_oid oid = DAXO_OID_NULL;

	(void)st;
	return (int)oid + (DAXO_VERSION_MAJOR > 255);
}
