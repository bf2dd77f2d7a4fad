/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sigbus.c -- a SIGBUS from a load of a mapped pool ends the command with a
 * reason instead of a core dump (sigbus.h).
 *
 * The handler uses only async-signal-safe calls (write, _exit,
 * siglongjmp). A return to a region's sigjmp_buf leaves what the
 * interrupted library call held (its mapping, its descriptor) to the
 * process's exit, which follows: regions are the last thing a command does
 * with the pool.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sigbus.h"

static sigjmp_buf *volatile region;
static volatile sig_atomic_t fault_code;
static char prefix[96]; /* "daxo CMD: " */

/* a machine check on a poisoned line (BUS_MCEERR_*), else the mapping */
static bool media(int code)
{
#ifdef BUS_MCEERR_AR
	if (code == BUS_MCEERR_AR || code == BUS_MCEERR_AO)
		return true;
#endif
	(void)code;
	return false;
}

static const char msg_gone[] =
    "a load from the pool faulted: its file was truncated while it was "
    "mapped (by another process?); stopped here -- a change in progress "
    "is recovered when the pool is next opened\n";
static const char msg_media[] =
    "a load from the pool met a media error (machine check); stopped here "
    "-- 'daxo check' reports the damaged ranges and 'daxo repair' clears "
    "them\n";

static void put(const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(STDERR_FILENO, s, n);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	fault_code = si->si_code;
	if (region)
		siglongjmp(*region, 1);
	put(prefix, strlen(prefix));
	if (media(si->si_code))
		put(msg_media, sizeof(msg_media) - 1);
	else
		put(msg_gone, sizeof(msg_gone) - 1);
	_exit(1);
}

void sigbus_install(const char *cmd)
{
	struct sigaction sa;

	snprintf(prefix, sizeof(prefix), "daxo %s: ", cmd);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGBUS, &sa, NULL);
}

void sigbus_enter(sigjmp_buf *env)
{
	fault_code = 0;
	region = env;
}

void sigbus_leave(void)
{
	region = NULL;
}

bool sigbus_why(const char *path, char *buf, size_t len)
{
	bool m = media(fault_code);

	region = NULL;
	if (m)
		snprintf(buf, len,
			 "%s: a load met a media error (machine check) that "
			 "the bad-block list did not name: not checked; "
			 "'daxo repair' clears known bad blocks",
			 path);
	else
		snprintf(buf, len,
			 "%s: the file shrank while it was read (truncated by "
			 "another process?): not checked; check it again",
			 path);
	return m;
}
