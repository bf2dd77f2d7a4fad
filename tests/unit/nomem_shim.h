/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nomem_shim.h -- the control interface of nomem_shim.c, the allocation
 * failure injector test_nomem links.
 */
#ifndef DAXO_NOMEM_SHIM_H
#define DAXO_NOMEM_SHIM_H 1

/*
 * nomem_arm -- from now on count allocation calls from 0; call @n fails
 * with ENOMEM (and with @persistent every call after it too). @n < 0 only
 * counts.
 */
void nomem_arm(long n, int persistent);
/* nomem_disarm -- no call fails any more (counting goes on) */
void nomem_disarm(void);
/* nomem_calls -- allocation calls since the last nomem_arm */
long nomem_calls(void);
/* nomem_failed -- of them, how many were failed */
long nomem_failed(void);

#endif
