/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kv.c -- the keyed object store. (Being written: see issue "keyed object
 * store"; until then the store has no volatile state to attach.)
 */
#include "kv.h"

int kv_boot(daxo_pool *p)
{
	return 0;
}

void kv_cleanup(daxo_pool *p)
{
}
