/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fence_trace.c -- check daxo-bench's fence and flush counters against the
 * instructions the CPU actually executes.
 *
 *   fence-trace DAXO_BENCH --only WORKLOAD --threads 1 --ops N --no-open
 *
 * runs daxo-bench under ptrace with DAXO_BENCH_TRACE=1. Around each of its
 * measured loops a worker thread stops itself (SIGSTOP before, SIGUSR2
 * after); in between this program single-steps that thread and decodes every
 * instruction, counting SFENCE, MFENCE, CLWB, CLFLUSHOPT and CLFLUSH. It
 * prints the totals per library window, to compare with the table's
 * fences/op and lines/op (which come from daxo_stats and from libpmem's entry
 * points). A development tool: slow (one ptrace stop per instruction), for a
 * few hundred ops at a time.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

enum { SFENCE, MFENCE, CLWB, CLFLUSHOPT, CLFLUSH, NKIND };
static const char *const kind_name[NKIND] = {"sfence", "mfence", "clwb",
					     "clflushopt", "clflush"};

/* decode -- which of the counted instructions starts at @b, or -1 */
static int decode(const unsigned char *b)
{
	int has66 = 0, hasf2f3 = 0, k = 0;

	for (; k < 8; k++) {
		unsigned char c = b[k];

		if (c == 0x66)
			has66 = 1;
		else if (c == 0xf2 || c == 0xf3)
			hasf2f3 = 1;
		else if (c == 0x2e || c == 0x36 || c == 0x3e || c == 0x26 ||
			 c == 0x64 || c == 0x65 || c == 0xf0 || c == 0x67)
			;
		else
			break;
	}
	if (b[k] >= 0x40 && b[k] <= 0x4f) /* REX */
		k++;
	if (b[k] != 0x0f || b[k + 1] != 0xae || hasf2f3)
		return -1;
	unsigned char modrm = b[k + 2];
	int mod = modrm >> 6, reg = (modrm >> 3) & 7;

	if (mod == 3) {
		if (has66)
			return -1;
		return reg == 7 ? SFENCE : reg == 6 ? MFENCE : -1;
	}
	if (reg == 7)
		return has66 ? CLFLUSHOPT : CLFLUSH;
	if (reg == 6 && has66)
		return CLWB;
	return -1;
}

static int peek16(pid_t tid, uint64_t addr, unsigned char out[16])
{
	for (int k = 0; k < 2; k++) {
		errno = 0;
		long w =
		    ptrace(PTRACE_PEEKTEXT, tid, (void *)(addr + 8 * k), NULL);

		if (errno)
			return -1;
		memcpy(out + 8 * k, &w, 8);
	}
	return 0;
}

int main(int argc, char **argv)
{
	pid_t child;
	int status, windows = 0;
	uint64_t steps = 0, cnt[NKIND] = {0};

	if (argc < 2) {
		fprintf(stderr, "usage: fence-trace DAXO_BENCH [ARGS...]\n");
		return 2;
	}
	child = fork();
	if (child < 0)
		return 1;
	if (child == 0) {
		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		setenv("DAXO_BENCH_TRACE", "1", 1);
		execv(argv[1], argv + 1);
		_exit(127);
	}
	/* the exec stop */
	if (waitpid(child, &status, 0) < 0 || !WIFSTOPPED(status))
		return 1;
	ptrace(PTRACE_SETOPTIONS, child, NULL,
	       (void *)(long)(PTRACE_O_TRACECLONE | PTRACE_O_EXITKILL));
	ptrace(PTRACE_CONT, child, NULL, NULL);

	for (;;) {
		pid_t tid = waitpid(-1, &status, __WALL);

		if (tid < 0)
			break;
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			if (tid == child)
				break;
			continue;
		}
		int sig = WSTOPSIG(status);

		if (sig == SIGSTOP && (status >> 16) == 0) {
			/*
			 * A stop: a new thread's first stop, or a worker's
			 * window start. Only the latter is followed by
			 * SIGUSR2; step until then (new threads just run
			 * on, their first instructions are not counted
			 * because the window marker has not been raised
			 * -- a thread's window begins only after its own
			 * raise(SIGSTOP)).
			 */
			char path[64];
			FILE *f;
			int is_window = 0;

			snprintf(path, sizeof(path), "/proc/%d/task/%d/comm",
				 child, tid);
			f = fopen(path, "r");
			if (f) {
				char comm[32] = "";

				if (fgets(comm, sizeof(comm), f))
					is_window =
					    !strncmp(comm, "bench-trace", 11);
				fclose(f);
			}
			if (!is_window) {
				ptrace(PTRACE_CONT, tid, NULL, NULL);
				continue;
			}
			windows++;
			for (;;) {
				struct user_regs_struct regs;
				unsigned char b[16];

				ptrace(PTRACE_GETREGS, tid, NULL, &regs);
				if (peek16(tid, regs.rip, b) == 0) {
					int k = decode(b);

					if (k >= 0)
						cnt[k]++;
				}
				steps++;
				ptrace(PTRACE_SINGLESTEP, tid, NULL, NULL);
				if (waitpid(tid, &status, __WALL) < 0 ||
				    !WIFSTOPPED(status))
					break;
				if (WSTOPSIG(status) == SIGUSR2)
					break;
				if (WSTOPSIG(status) != SIGTRAP) {
					/* deliver anything else */
					ptrace(PTRACE_CONT, tid, NULL,
					       (void *)(long)WSTOPSIG(status));
					break;
				}
			}
			ptrace(PTRACE_CONT, tid, NULL, NULL);
			continue;
		}
		if (sig == SIGTRAP || sig == SIGSTOP)
			sig = 0; /* clone events, group stops */
		ptrace(PTRACE_CONT, tid, NULL, (void *)(long)sig);
	}
	printf("fence-trace: %d windows, %llu instructions stepped\n", windows,
	       (unsigned long long)steps);
	for (int k = 0; k < NKIND; k++)
		printf("  %-10s %llu\n", kind_name[k],
		       (unsigned long long)cnt[k]);
	return 0;
}
