/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mutate_use.c -- the seeded open-then-use mutation driver (use_core.h),
 * for machines without clang: case N of seed S is always the same list of
 * mutations, run in a child process so that a crash (a signal, an ASan
 * report) or a hang (no answer within --timeout seconds) is counted and the
 * run goes on. It prints the counts -- cases, opens refused by code, calls
 * refused by code, lost and stale answers, wrong answers, live-space
 * reuse, crashes, hangs -- and exits 1 if any case failed (wrong, reuse,
 * crash, hang), naming each failing case so that
 *   mutate_use --seed S --case N
 * runs it alone and says what it did.
 *
 * usage: mutate_use [--seed S] [--cases N] [--seconds T] [--muts K]
 *                   [--target LIST | --skip LIST] [--case N] [--timeout T]
 *                   [--checksums] [--dir DIR]
 * (LIST: target names separated by commas: header, meta, lanes, chunks,
 * runs, anchor, tables, entries, keys, values; --checksums: the base pool
 * keeps value checksums, and values are a target)
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "use_core.h"

static const char *const kind_name[UC_K_NKINDS] = {
    "flip", "byte", "zero", "word", "oid", "copy", "add"};

/* how often each target is picked: the metadata that routes and allocates */
static const unsigned target_weight[UC_T_NTARGETS] = {1, 2, 2, 4, 4,
						      4, 5, 6, 2, 4};

static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = (*s += 0x9e3779b97f4a7c15ull);
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/*
 * make_case -- the mutations of case @n of seed @seed, on the targets of
 * @mask by their weights: their count
 */
static size_t make_case(uint64_t seed, uint64_t n, unsigned max, unsigned mask,
			struct uc_mut *m)
{
	uint64_t s = seed * 0x100000001b3ull ^ n;
	unsigned total = 0, wt[UC_T_NTARGETS];
	size_t k = 1 + rng_next(&s) % max;

	for (unsigned t = 0; t < UC_T_NTARGETS; t++) {
		wt[t] = mask & (1u << t) ? target_weight[t] : 0;
		total += wt[t];
	}
	for (size_t i = 0; i < k; i++) {
		uint64_t w = rng_next(&s) % total;
		unsigned t = 0;
		while (w >= wt[t])
			w -= wt[t++];
		m[i].target = (uint8_t)t;
		m[i].kind = (uint8_t)(rng_next(&s) % UC_K_NKINDS);
		m[i].pick = (uint32_t)rng_next(&s);
		m[i].off = (uint32_t)rng_next(&s);
		/* the header's 4 KiB: mostly its used first 200 bytes */
		if (m[i].target == UC_T_HDR && (m[i].off & 0x80000000u))
			m[i].off %= 200;
		m[i].val = rng_next(&s);
	}
	return k;
}

struct shared {
	struct uc_result r;
	int done;
};

static void print_muts(const struct uc_mut *m, size_t k)
{
	for (size_t i = 0; i < k; i++)
		printf("  mutation %zu: %s, %s, instance %u, offset %u, value "
		       "0x%llx\n",
		       i, uc_target_name(m[i].target),
		       kind_name[m[i].kind % UC_K_NKINDS], m[i].pick, m[i].off,
		       (unsigned long long)m[i].val);
}

int main(int argc, char **argv)
{
	uint64_t seed = 1, cases = 1000, one = UINT64_MAX;
	double seconds = 0;
	unsigned muts = 3, timeout = 20;
	int mask = (1 << UC_T_NTARGETS) - 1;
	bool checksums = false;
	const char *dir = getenv("DAXO_TEST_DIR");
	static const struct option opts[] = {
	    {"seed", required_argument, NULL, 's'},
	    {"cases", required_argument, NULL, 'n'},
	    {"seconds", required_argument, NULL, 't'},
	    {"muts", required_argument, NULL, 'm'},
	    {"target", required_argument, NULL, 'g'},
	    {"skip", required_argument, NULL, 'k'},
	    {"case", required_argument, NULL, 'c'},
	    {"timeout", required_argument, NULL, 'o'},
	    {"dir", required_argument, NULL, 'd'},
	    {"checksums", no_argument, NULL, 'x'},
	    {NULL, 0, NULL, 0}};
	int o;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'n':
			cases = strtoull(optarg, NULL, 0);
			break;
		case 't':
			seconds = atof(optarg);
			break;
		case 'm':
			muts = (unsigned)atoi(optarg);
			break;
		case 'g':
		case 'k':
			mask = uc_targets_parse(optarg, o == 'k');
			if (mask <= 0) {
				fprintf(stderr,
					"mutate_use: bad target list '%s' "
					"(of header, meta, lanes, chunks, "
					"runs, anchor, tables, entries, "
					"keys)\n",
					optarg);
				return 2;
			}
			break;
		case 'c':
			one = strtoull(optarg, NULL, 0);
			break;
		case 'o':
			timeout = (unsigned)atoi(optarg);
			break;
		case 'x':
			checksums = true;
			break;
		case 'd':
			dir = optarg;
			break;
		default:
			fprintf(stderr,
				"usage: mutate_use [--seed S] [--cases N] "
				"[--seconds T] [--muts K] [--target LIST | "
				"--skip LIST] [--case N] [--timeout T] "
				"[--checksums] [--dir DIR]\n");
			return 2;
		}
	}
	if (muts < 1 || muts > 64)
		muts = 3;
	setenv("PMEM_IS_PMEM_FORCE", "1", 0);
	setenv("DAXO_NOTIFY", "0", 0);

	char path[256];
	snprintf(path, sizeof(path), "%s/daxo-mutate-use-%d.pool",
		 dir ? dir : "/dev/shm", (int)getpid());
	/* value bytes are a target only where a checksum guards them */
	if (!checksums)
		mask &= ~(1 << UC_T_VALUE);
	if (!mask) {
		fprintf(stderr, "mutate_use: no target left\n");
		return 2;
	}
	if (uc_init(path, checksums)) {
		fprintf(stderr, "mutate_use: cannot make the base pool\n");
		return 1;
	}
	struct shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		uc_fini();
		return 1;
	}

	uint64_t run = 0, opened = 0, crashes = 0, hangs = 0, failed = 0;
	uint64_t open_refused[UC_NCODES] = {0}, refused[UC_NCODES] = {0};
	uint64_t calls = 0, lost = 0, stale = 0, wrong = 0, reuse = 0;
	uint64_t fail_by_target[UC_T_NTARGETS] = {0};
	struct timespec t0, t1;
	struct uc_mut m[64];

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uint64_t n = one == UINT64_MAX ? 0 : one;
	     one == UINT64_MAX ? n < cases : n == one; n++) {
		if (seconds > 0) {
			clock_gettime(CLOCK_MONOTONIC, &t1);
			if ((double)(t1.tv_sec - t0.tv_sec) +
				(double)(t1.tv_nsec - t0.tv_nsec) / 1e9 >=
			    seconds)
				break;
		}
		size_t k = make_case(seed, n, muts, (unsigned)mask, m);
		memset(sh, 0, sizeof(*sh));
		fflush(NULL);
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			break;
		}
		if (pid == 0) {
			signal(SIGALRM, SIG_DFL);
			alarm(timeout);
			uc_run(m, k, &sh->r);
			sh->done = 1;
			_exit(0);
		}
		int st;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		run++;
		bool bad = false;
		const char *why = NULL;
		if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM) {
			hangs++;
			why = "hang";
		} else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 ||
			   !sh->done) {
			crashes++;
			why = "crash";
		}
		if (why) {
			bad = true;
		} else {
			struct uc_result *r = &sh->r;
			calls += r->calls;
			lost += r->lost;
			stale += r->stale;
			wrong += r->wrong;
			reuse += r->reuse;
			for (unsigned i = 0; i < UC_NCODES; i++)
				refused[i] += r->refused[i];
			if (r->open_rc == 0) {
				opened++;
			} else {
				open_refused[uc_code_slot(r->open_rc)]++;
			}
			if (r->wrong || r->reuse) {
				bad = true;
				why = r->what;
			}
		}
		if (bad) {
			failed++;
			for (size_t i = 0; i < k; i++)
				fail_by_target[m[i].target % UC_T_NTARGETS]++;
			if (failed <= 20 || one != UINT64_MAX) {
				printf("FAIL case %llu (--seed %llu --case "
				       "%llu): %s\n",
				       (unsigned long long)n,
				       (unsigned long long)seed,
				       (unsigned long long)n, why);
				print_muts(m, k);
			}
		} else if (one != UINT64_MAX) {
			printf("case %llu: open %d, %llu calls, lost %llu, "
			       "stale %llu\n",
			       (unsigned long long)n, sh->r.open_rc,
			       (unsigned long long)sh->r.calls,
			       (unsigned long long)sh->r.lost,
			       (unsigned long long)sh->r.stale);
			print_muts(m, k);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) +
		      (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

	printf("mutate_use: seed %llu, %llu cases in %.1f s (up to %u "
	       "mutations each%s; targets",
	       (unsigned long long)seed, (unsigned long long)run, secs, muts,
	       checksums ? ", value checksums" : "");
	for (unsigned t = 0; t < UC_T_NTARGETS; t++)
		if (mask & (1 << t))
			printf(" %s", uc_target_name(t));
	printf(")\n");
	printf("  opened %llu; open refused:", (unsigned long long)opened);
	for (unsigned i = 0; i < UC_NCODES; i++)
		if (open_refused[i])
			printf(" %s %llu", uc_code_name(i),
			       (unsigned long long)open_refused[i]);
	printf("\n  calls %llu; refused:", (unsigned long long)calls);
	for (unsigned i = 0; i < UC_NCODES; i++)
		if (refused[i])
			printf(" %s %llu", uc_code_name(i),
			       (unsigned long long)refused[i]);
	printf("\n  lost answers %llu, stale answers %llu (counted, not "
	       "failures)\n",
	       (unsigned long long)lost, (unsigned long long)stale);
	printf("  crashes %llu, hangs %llu, wrong answers %llu, live-space "
	       "reuse %llu: %llu failing cases",
	       (unsigned long long)crashes, (unsigned long long)hangs,
	       (unsigned long long)wrong, (unsigned long long)reuse,
	       (unsigned long long)failed);
	if (failed) {
		printf(" (mutations of failing cases by target:");
		for (unsigned t = 0; t < UC_T_NTARGETS; t++)
			if (fail_by_target[t])
				printf(" %s %llu", uc_target_name(t),
				       (unsigned long long)fail_by_target[t]);
		printf(")");
	}
	printf("\n");
	munmap(sh, sizeof(*sh));
	uc_fini();
	return failed ? 1 : 0;
}
