/* SPDX-License-Identifier: BSD-3-Clause */
/* tx.c -- transactions (see tx.h). BEING WRITTEN. */
#include "tx.h"
#include "pool.h"

void lanes_format(daxo_pool *p) {}
int lanes_boot(daxo_pool *p) { return 0; }
void lanes_cleanup(daxo_pool *p) {}
