/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * recorder.c -- the contract recorder: an LD_PRELOAD library that sits
 * between a program and libdaxo and writes down, for every public function
 * (wrappers.c, generated from daxo.h), each negative value it returned.
 *
 * The unit, crash and compat suites run with it preloaded
 * (tests/meson.build) and DAXO_CONTRACT_LOG naming a directory: each
 * process appends the pairs it sees, once each, to DIR/PID.log as
 * "function code" lines.
 * check_contract.py then compares them with the codes daxo.h lists for
 * each function. Without DAXO_CONTRACT_LOG it records nothing. errno is
 * left as the library set it.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "recorder.h"

#define SEEN_MAX 1024

static struct {
	const char *fn;
	int code;
} seen[SEEN_MAX];
static unsigned nseen;
static int log_fd = -2; /* -2: not opened yet, -1: not logging */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

void *rec_real(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);

	if (!f) {
		fprintf(stderr,
			"daxo contract recorder: no %s after the recorder "
			"(is libdaxo loaded?)\n",
			name);
		abort();
	}
	return f;
}

void rec_pass_note(struct rec_pass *pass, int r)
{
	if (r < 0 && pass->n < REC_PASS_MAX)
		pass->v[pass->n++] = r;
}

/* open_log -- DIR/PID.log, or -1 (lock held) */
static int open_log(void)
{
	const char *dir = getenv("DAXO_CONTRACT_LOG");
	char path[4096];

	if (!dir || !*dir)
		return -1;
	mkdir(dir, 0777);
	if (snprintf(path, sizeof(path), "%s/%d.log", dir, (int)getpid()) >=
	    (int)sizeof(path))
		return -1;
	return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
}

void rec_result(const char *fn, int r, const struct rec_pass *pass)
{
	int saved = errno;

	if (r >= 0)
		return;
	for (int i = 0; i < pass->n; i++)
		if (pass->v[i] == r)
			return;
	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < nseen; i++)
		if (seen[i].code == r && strcmp(seen[i].fn, fn) == 0)
			goto out;
	if (nseen < SEEN_MAX) {
		seen[nseen].fn = fn;
		seen[nseen].code = r;
		nseen++;
	}
	if (log_fd == -2)
		log_fd = open_log();
	if (log_fd >= 0)
		dprintf(log_fd, "%s %d\n", fn, r);
out:
	pthread_mutex_unlock(&lock);
	errno = saved;
}
