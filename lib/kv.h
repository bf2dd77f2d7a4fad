/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kv.h -- the keyed object store (daxo_put/get/del/foreach).
 */
#ifndef DAXO_KV_H
#define DAXO_KV_H 1

#include "internal.h"

/* kv_boot -- attach the store's volatile state at open (lazy is fine) */
int kv_boot(daxo_pool *p) DAXO_HIDDEN;
void kv_cleanup(daxo_pool *p) DAXO_HIDDEN;

#endif
