/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nodiag_shim.c -- test-only LD_PRELOAD library: with
 * $DAXO_TEST_NO_SOCK_DIAG set, socket(AF_NETLINK, ..., NETLINK_SOCK_DIAG)
 * fails with EACCES (as it does where a seccomp filter or an LSM denies
 * it), so that daxod cannot learn the uid of any metrics client and must
 * count them all as the one "unknown" uid. Every other call passes
 * through.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <linux/netlink.h>
#include <stdlib.h>
#include <sys/socket.h>

int socket(int domain, int type, int protocol)
{
	static int (*real)(int, int, int);

	if (domain == AF_NETLINK && protocol == NETLINK_SOCK_DIAG &&
	    getenv("DAXO_TEST_NO_SOCK_DIAG")) {
		errno = EACCES;
		return -1;
	}
	if (!real)
		real = (int (*)(int, int, int))dlsym(RTLD_NEXT, "socket");
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	return real(domain, type, protocol);
}
