/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * notify.c -- registration with daxod. (Being written with the daemon.)
 */
#include "notify.h"

void notify_pool_open(daxo_pool *p)
{
}

void notify_pool_close(daxo_pool *p)
{
}
