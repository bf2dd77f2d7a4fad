/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * notify.h -- best-effort registration of open pools with daxod.
 *
 * Never blocks for long, never fails the caller: a missing, slow or dead
 * daemon costs at most a short timeout. DAXO_NOTIFY=0 turns it off;
 * DAXO_SOCKET names the daemon's socket.
 */
#ifndef DAXO_NOTIFY_H
#define DAXO_NOTIFY_H 1

#include "internal.h"

void notify_pool_open(daxo_pool *p) DAXO_HIDDEN;
void notify_pool_close(daxo_pool *p) DAXO_HIDDEN;

#endif
