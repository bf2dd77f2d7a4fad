/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sigbus.h -- what the `daxo` tool does when a load from a mapped pool
 * faults: the file was truncated by another process while it was mapped
 * (pages past the new end are gone), or the load met a media error (a
 * machine check on poisoned pmem). The kernel delivers either as SIGBUS;
 * by default the tool would die with a core dump and no word on which
 * file or why.
 *
 * The library installs no signal handler (a process has one per signal, and
 * it is the program's); the tool, which is the program here, does.
 */
#ifndef DAXO_TOOLS_SIGBUS_H
#define DAXO_TOOLS_SIGBUS_H 1

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * sigbus_install -- from now on a SIGBUS ends command @cmd with a message
 * on standard error saying why (a truncated file or a media error) and
 * exit code 1, or, inside a sigbus_catch region, returns there. Stopping
 * mid-change is a crash for the pool: its next open recovers it.
 */
void sigbus_install(const char *cmd);

/*
 * sigbus_enter/sigbus_leave -- a region whose SIGBUS returns to @env (set
 * by the caller's sigsetjmp(env, 1)) instead of ending the command
 */
void sigbus_enter(sigjmp_buf *env);
void sigbus_leave(void);

/*
 * sigbus_why -- after a return to a region's @env: why the load faulted, a
 * sentence naming @path, into @buf; true when it was a media error
 */
bool sigbus_why(const char *path, char *buf, size_t len);

#endif
