/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_kv_sigkill.c -- real process crashes of the keyed store.
 *
 * Each round forks a child that opens the pool and runs random puts and
 * deletes (values from a few bytes to tens of KiB, enough keys to make the
 * table grow and migrate). Before each operation it writes an "intent"
 * record to a pipe, after the call returns an "ack". The parent kills it
 * with SIGKILL at a random moment, reopens the pool (recovery runs) and
 * checks the invariant:
 *
 *   every acknowledged put and del is there; the one in flight is either
 *   before or after; no value is torn or mixed; no object leaked (the
 *   number of entry objects equals the number of keys).
 *
 * The observed state becomes the model of the next round. Bounded time:
 * KV_CRASH_ROUNDS rounds (default 12) of at most ~300 ms of work each.
 * DAXO_TEST_SEED=N repeats a run; the seed is printed on failure.
 *
 * With the argument 2 the child runs two threads, thread t on the keys
 * k % 2 == t (so each key's history is one thread's), both sharing the
 * store's stripes and the transaction lanes; the parent tracks one
 * operation in flight per thread. Half the puts keep a key's own value
 * length, so many overwrite in place (clocked commits, lib/tx.h) while
 * the other thread's commits run.
 */
#include <pthread.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daxo.h"

#include "../unit/test_common.h"

#define NKEYS	      700
#define KV_TYPE_ENTRY 0xffffff03u /* doc/kv-format.md */

enum { REC_PUT = 1, REC_DEL = 2, REC_ACK = 3 };

struct rec {
	uint32_t type;
	uint32_t key;
	uint64_t ver;
};

/* model: per key, 0 = absent, else the version stored */
static uint64_t model[NKEYS];
static unsigned nthreads = 1;
static unsigned long long seed;
static char path[128];

static uint64_t rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static size_t val_len(uint32_t key, uint64_t ver)
{
	uint64_t x = (key + 1) * 0x9e3779b97f4a7c15ull ^ ver;

	x ^= x >> 29;
	return x % 8 == 0   ? 1000 + x % 40000
	       : x % 2 == 0 ? 20 + (key * 7) % 300 /* the key's own length */
			    : 20 + x % 300;
}

/* a value says which (key, version) it is and fills the rest by pattern */
static size_t make_val(char *buf, uint32_t key, uint64_t ver)
{
	size_t len = val_len(key, ver);
	int n = snprintf(buf, 64, "k%u:v%" PRIu64 ":", key, ver);

	for (size_t i = (size_t)n; i < len; i++)
		buf[i] = (char)('a' + (key + ver + i) % 26);
	return len;
}

static void keyname(char *k, uint32_t key)
{
	sprintf(k, "key/%u", key);
}

struct worker {
	daxo_pool *p;
	int fd;
	unsigned t; /* keys k % nthreads == t */
	uint64_t st, ver0;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	char *v = malloc(64 << 10);
	char k[32];

	if (!v)
		_exit(3);
	for (uint64_t i = 0;; i++) {
		uint32_t key = (uint32_t)(rng(&w->st) % (NKEYS / nthreads)) *
				   nthreads + w->t;
		struct rec r = {0, key, w->ver0 + i * nthreads + w->t};
		int ret;
		keyname(k, r.key);
		r.type = rng(&w->st) % 10 < 7 ? REC_PUT : REC_DEL;
		/* a record is less than PIPE_BUF: the threads' never mix */
		if (write(w->fd, &r, sizeof(r)) != sizeof(r))
			_exit(4);
		if (r.type == REC_PUT) {
			size_t len = make_val(v, r.key, r.ver);
			ret = daxo_put(w->p, k, strlen(k), v, len);
		} else {
			ret = daxo_del(w->p, k, strlen(k));
			if (ret == -ENOENT)
				ret = 0;
		}
		if (ret) {
			fprintf(stderr, "child: op failed: %s\n",
				daxo_errormsg());
			_exit(5);
		}
		r.type = REC_ACK;
		if (write(w->fd, &r, sizeof(r)) != sizeof(r))
			_exit(4);
	}
	return NULL;
}

static void child(int fd, uint64_t st, uint64_t ver0)
{
	struct worker w[2];
	pthread_t th;
	daxo_pool *p;

	if (daxo_open(path, "kvcrash", 0, &p)) {
		fprintf(stderr, "child: open: %s\n", daxo_errormsg());
		_exit(3);
	}
	for (unsigned t = 0; t < nthreads; t++)
		w[t] = (struct worker){p, fd, t, rng(&st) | 1, ver0};
	if (nthreads > 1 && pthread_create(&th, NULL, work, &w[1]))
		_exit(6);
	work(&w[0]);
}

/* the version stored under @key, 0 if absent, UINT64_MAX if malformed */
static uint64_t observe(daxo_pool *p, uint32_t key, char *buf, char *ref)
{
	char k[32];
	size_t got = 0;
	unsigned kk;
	uint64_t ver;
	int r;

	keyname(k, key);
	r = daxo_get(p, k, strlen(k), buf, 64 << 10, &got);
	if (r == -ENOENT)
		return 0;
	if (r || sscanf(buf, "k%u:v%" SCNu64 ":", &kk, &ver) != 2 ||
	    kk != key || make_val(ref, key, ver) != got ||
	    memcmp(ref, buf, got) != 0)
		return UINT64_MAX;
	return ver;
}

static int count_cb(const void *k, size_t kl, const void *v, size_t vl,
		    void *arg)
{
	(void)k;
	(void)kl;
	(void)v;
	(void)vl;
	(*(uint64_t *)arg)++;
	return 0;
}

static int verify(int round, const struct rec *const inflight[2])
{
	daxo_pool *p;
	char *buf = malloc(64 << 10), *ref = malloc(64 << 10);
	uint64_t present = 0, seen = 0, entries = 0, objects = 0;
	int bad = 0;

	if (daxo_open(path, "kvcrash", 0, &p)) {
		fprintf(stderr, "seed %llu round %d: reopen: %s\n", seed, round,
			daxo_errormsg());
		return 1;
	}
	for (uint32_t key = 0; key < NKEYS; key++) {
		uint64_t ver = observe(p, key, buf, ref);
		uint64_t want = model[key];
		const struct rec *fl = inflight[key % nthreads];
		if (fl && fl->key == key) {
			uint64_t after =
			    fl->type == REC_PUT ? fl->ver : 0;
			if (ver == want || ver == after) {
				model[key] = ver;
			} else {
				fprintf(
				    stderr,
				    "seed %llu round %d: key %u in flight "
				    "(%s v%" PRIu64 "): found v%" PRIu64
				    ", expected v%" PRIu64 " or v%" PRIu64 "\n",
				    seed, round, key,
				    fl->type == REC_PUT ? "put" : "del",
				    fl->ver, ver, want, after);
				bad = 1;
			}
		} else if (ver != want) {
			fprintf(stderr,
				"seed %llu round %d: key %u: found v%" PRIu64
				", acknowledged v%" PRIu64 "\n",
				seed, round, key, ver, want);
			bad = 1;
		}
		present += model[key] != 0;
	}
	if (daxo_foreach(p, count_cb, &seen) || seen != present) {
		fprintf(stderr,
			"seed %llu round %d: foreach saw %" PRIu64
			" keys, expected %" PRIu64 "\n",
			seed, round, seen, present);
		bad = 1;
	}
	for (daxo_oid o = daxo_first(p, DAXO_TYPE_ANY); o;
	     o = daxo_next(p, o, DAXO_TYPE_ANY)) {
		objects++;
		entries += daxo_oid_type(p, o) == KV_TYPE_ENTRY;
	}
	/* entries match keys; besides: anchor, table, maybe an old table --
	 * or nothing at all if no put ever committed (a del of a missing key
	 * creates no store) */
	bool no_store = present == 0 && objects == 0;
	if (!no_store && (entries != present || objects < present + 2 ||
			  objects > present + 3)) {
		fprintf(stderr,
			"seed %llu round %d: leak? %" PRIu64
			" objects, %" PRIu64 " entries, %" PRIu64 " keys\n",
			seed, round, objects, entries, present);
		bad = 1;
	}
	daxo_close(p);
	free(buf);
	free(ref);
	return bad;
}

int main(int argc, char **argv)
{
	const char *s = getenv("DAXO_TEST_SEED");
	const char *rs = getenv("KV_CRASH_ROUNDS");
	int rounds = rs ? atoi(rs) : 12;
	uint64_t st;
	daxo_pool *p;

	if (argc > 1)
		nthreads = atoi(argv[1]) == 2 ? 2 : 1;
	seed = s ? strtoull(s, NULL, 0) : (unsigned long long)time(NULL);
	st = seed * 2654435761u + 1;
	printf("# test_kv_sigkill: seed %llu, %d rounds, %u thread(s)\n", seed,
	       rounds, nthreads);
	test_path(path, sizeof(path), "daxo-kv-crash-%d.pool", (int)getpid());
	unlink(path);
	if (daxo_create(path, "kvcrash", 128ull << 20, 0600, &p)) {
		fprintf(stderr, "create: %s\n", daxo_errormsg());
		return 1;
	}
	daxo_close(p);

	for (int round = 0; round < rounds; round++) {
		int fds[2];
		pid_t pid;
		struct rec r, pending[2] = {{0}};
		bool have_pending[2] = {false, false};
		uint64_t acked = 0;
		struct timespec t0, now;
		long run_ms = 20 + (long)(rng(&st) % 280);
		int status;

		if (pipe(fds))
			return 1;
		pid = fork();
		if (pid < 0)
			return 1;
		if (pid == 0) {
			close(fds[0]);
			child(fds[1], rng(&st) | 1,
			      (uint64_t)(round + 1) * 100000000ull);
		}
		close(fds[1]);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (bool killed = false;;) {
			struct pollfd pfd = {fds[0], POLLIN, 0};
			clock_gettime(CLOCK_MONOTONIC, &now);
			long el = (now.tv_sec - t0.tv_sec) * 1000 +
				  (now.tv_nsec - t0.tv_nsec) / 1000000;
			if (!killed && el >= run_ms) {
				kill(pid, SIGKILL);
				killed = true;
			}
			if (poll(&pfd, 1, killed ? 1000 : 5) < 0)
				continue;
			if (!(pfd.revents & (POLLIN | POLLHUP)))
				continue;
			ssize_t n = read(fds[0], &r, sizeof(r));
			if (n == 0)
				break; /* the child is gone */
			if (n != sizeof(r)) {
				fprintf(stderr, "short read from the child\n");
				return 1;
			}
			unsigned t = r.key % nthreads;
			if (r.type == REC_ACK) {
				if (!have_pending[t] || pending[t].ver != r.ver)
					return 1;
				model[pending[t].key] = pending[t].type == REC_PUT
							    ? pending[t].ver
							    : 0;
				have_pending[t] = false;
				acked++;
			} else {
				if (have_pending[t])
					return 1;
				pending[t] = r;
				have_pending[t] = true;
			}
		}
		close(fds[0]);
		waitpid(pid, &status, 0);
		if (!WIFSIGNALED(status)) {
			fprintf(stderr,
				"seed %llu round %d: child exited %d "
				"before the kill\n",
				seed, round, WEXITSTATUS(status));
			unlink(path);
			return 1;
		}
		printf("# round %d: killed after %ld ms, %" PRIu64
		       " acknowledged ops, %d in flight\n",
		       round, run_ms, acked, have_pending[0] + have_pending[1]);
		const struct rec *fl[2] = {have_pending[0] ? &pending[0] : NULL,
					   have_pending[1] ? &pending[1] : NULL};
		if (verify(round, fl)) {
			fprintf(stderr, "FAILED: seed %llu (pool kept at %s)\n",
				seed, path);
			return 1;
		}
	}
	unlink(path);
	printf("# ok\n");
	return 0;
}
