/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * crashsim.c -- the crash-simulation driver: daxo_crashsim_run().
 *
 * Test builds only (libdaxo_crashsim). See include/daxo_crashsim.h for what
 * it promises and sim/sim.h for the persistence model.
 *
 * Process structure: the caller's process creates the pool and runs setup;
 * pass 1 (count the fences) and pass 2 (the crash points) each run in a
 * forked child, so that both start from the same volatile state of the
 * workload. At a crash point, pass 2 forks one checker per crash image; the
 * checker builds the image from its copy of the model, runs recovery and the
 * checks, and exits. A checker that dies of a signal or hangs (alarm) is a
 * failure like any other. Results travel through a shared anonymous mapping.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sim.h"

struct cs_shared {
	struct daxo_crashsim_report rep;
	uint64_t pass_fences;
	int stop;
	char err[512];			  /* why a pass failed */
	struct daxo_crashsim_failure cur; /* the checker's verdict */
};

struct cs {
	const char *path;
	char *img_path;
	const struct daxo_crashsim_workload *w;
	struct daxo_crashsim_opts o;
	uint8_t *init;	  /* the pool after setup */
	uint8_t *img_map; /* the crash image file, mapped (pass 2) */
	uint64_t size;
	uint64_t n;	/* fences of pass 1 */
	uint8_t *sel;	/* bitmap of points 1..n+1, NULL = all */
	uint64_t total; /* points to test */
	uint64_t done;
	int pass;
	struct cs_shared *sh;
};

static bool selected(const struct cs *c, uint64_t k)
{
	if (c->o.point)
		return k == c->o.point;
	if (!c->sel)
		return true;
	if (k > c->n + 1)
		return false;
	return (c->sel[k / 8] >> (k % 8)) & 1;
}

static void fail_set(struct daxo_crashsim_failure *f, const char *stage,
		     const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail_set(struct daxo_crashsim_failure *f, const char *stage,
		     const char *fmt, ...)
{
	va_list ap;

	snprintf(f->stage, sizeof(f->stage), "%s", stage);
	va_start(ap, fmt);
	vsnprintf(f->msg, sizeof(f->msg), fmt, ap);
	va_end(ap);
}

struct msgbuf {
	char *buf;
	size_t len, used;
};

/* collect -- daxo_check callback: keep the non-info findings */
static void collect(int sev, uint64_t off, const char *msg, void *arg)
{
	struct msgbuf *m = arg;
	int n;

	if (sev == DAXO_CHECK_INFO || m->used + 1 >= m->len)
		return;
	n = snprintf(m->buf + m->used, m->len - m->used, "%s@%llu: %s; ",
		     sev == DAXO_CHECK_FATAL ? "fatal" : "repairable",
		     (unsigned long long)off, msg);
	if (n > 0)
		m->used = MIN(m->len - 1, m->used + (size_t)n);
}

static void image_mode(unsigned i, uint64_t *st, enum sim_img_mode *mode,
		       double *p)
{
	static const enum sim_img_mode first[] = {
	    SIM_IMG_WORDS, SIM_IMG_DURABLE, SIM_IMG_LINES, SIM_IMG_ALL};

	*p = 0.5;
	if (i < ARRAY_SIZE(first)) {
		*mode = first[i];
		return;
	}
	*mode = SIM_IMG_WORDS;
	*p = (double)(sim_rand(st) % 1000) / 1000.0;
}

static uint64_t image_seed(uint64_t seed, uint64_t k, unsigned i)
{
	uint64_t st = seed ^ (k * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)i << 48);

	return sim_rand(&st);
}

/* build_image -- make the image file the crash image (@k, @i) */
static void build_image(const struct cs *c, const struct sim *s, uint64_t k,
			unsigned i)
{
	uint64_t st = image_seed(c->o.seed, k, i);
	enum sim_img_mode mode;
	double p;

	image_mode(i, &st, &mode, &p);
	sim_build_image(s, c->img_map, mode, p, sim_rand(&st));
}

/* keep_image -- a copy of the crash image (@k, @i), before recovery */
static void keep_image(const struct cs *c, const struct sim *s, uint64_t k,
		       unsigned i)
{
	char name[4200];
	int fd;

	snprintf(name, sizeof(name), "%s.fail-%llu-%u", c->path,
		 (unsigned long long)k, i);
	build_image(c, s, k, i);
	fd = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (write(fd, c->img_map, c->size) != (ssize_t)c->size)
		unlink(name);
	close(fd);
}

/* check_image -- in the checker child: 0 if image (@k, @i) passes */
static int check_image(struct cs *c, const struct sim *s, uint64_t k,
		       unsigned i)
{
	struct daxo_crashsim_failure *f = &c->sh->cur;
	bool pool_check = !(c->o.flags & DAXO_CRASHSIM_NO_POOL_CHECK);
	char buf[sizeof(f->msg)];
	struct msgbuf mb = {buf, sizeof(buf), 0};
	daxo_pool *p;
	int r;

	buf[0] = '\0';
	if (pool_check) {
		r = daxo_check(c->img_path, 0, collect, &mb);
		if (r < 0 || r == 2) {
			fail_set(f, "check-before", "daxo_check = %d (%s) %s",
				 r, r < 0 ? daxo_errormsg() : "not repairable",
				 buf);
			return 1;
		}
	}
	r = daxo_open(c->img_path, NULL, 0, &p);
	if (r) {
		fail_set(f, "open", "daxo_open: %s", daxo_errormsg());
		return 1;
	}
	buf[0] = '\0';
	r = c->w->check(p, c->w->arg, buf, sizeof(buf));
	if (r) {
		buf[sizeof(buf) - 1] = '\0';
		fail_set(f, "invariant", "%s", buf[0] ? buf : "check failed");
		daxo_close(p);
		return 1;
	}
	daxo_close(p);
	if (pool_check) {
		mb.used = 0;
		buf[0] = '\0';
		r = daxo_check(c->img_path, 0, collect, &mb);
		if (r != 0) {
			fail_set(f, "check-after",
				 "daxo_check after recovery = %d (%s) %s", r,
				 r < 0 ? daxo_errormsg() : "inconsistent", buf);
			return 1;
		}
	}
	return 0;
}

static void record(struct cs *c, const struct daxo_crashsim_failure *f)
{
	struct daxo_crashsim_report *rep = &c->sh->rep;

	rep->failures++;
	if (rep->nrecorded < DAXO_CRASHSIM_MAX_FAILURES)
		rep->fail[rep->nrecorded++] = *f;
	if (c->o.on_failure)
		c->o.on_failure(f, c->o.cbarg);
	if (c->o.flags & DAXO_CRASHSIM_STOP_FIRST)
		c->sh->stop = 1;
}

/* crash_point -- build and check every crash image of point @k */
static void crash_point(struct cs *c, struct sim *s, uint64_t k,
			const char *site)
{
	unsigned m = c->o.images;

	if (sim_prepare(s)) {
		struct daxo_crashsim_failure f;
		memset(&f, 0, sizeof(f));
		fail_set(&f, "model", "out of memory at crash point %llu",
			 (unsigned long long)k);
		f.point = k;
		record(c, &f);
		return;
	}
	for (unsigned i = 0; i < m && !c->sh->stop; i++) {
		struct daxo_crashsim_failure f;
		int status = 0;
		pid_t pid;

		memset(&c->sh->cur, 0, sizeof(c->sh->cur));
		build_image(c, s, k, i);
		fflush(NULL);
		pid = fork();
		if (pid == 0) {
			alarm(c->o.timeout);
			_exit(check_image(c, s, k, i));
		}
		memset(&f, 0, sizeof(f));
		if (pid < 0) {
			fail_set(&f, "fork", "fork: %s", strerror(errno));
		} else {
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
				c->sh->rep.images++;
				continue;
			}
			if (WIFSIGNALED(status))
				fail_set(&f, "signal",
					 "checker died of signal %d (%s)%s",
					 WTERMSIG(status),
					 strsignal(WTERMSIG(status)),
					 WTERMSIG(status) == SIGALRM
					     ? ": recovery or check hung"
					     : ": recovery or check crashed");
			else
				f = c->sh->cur;
		}
		c->sh->rep.images++;
		f.point = k;
		f.image = i;
		f.seed = c->o.seed;
		snprintf(f.site, sizeof(f.site), "%s", site);
		if (c->o.flags & DAXO_CRASHSIM_KEEP_FAILED)
			/* the same seed rebuilds the same, unrecovered image */
			keep_image(c, s, k, i);
		record(c, &f);
	}
	c->sh->rep.points++;
	c->done++;
	if (c->o.on_progress)
		c->o.on_progress(c->done, c->total, c->o.cbarg);
}

static void on_fence(struct sim *s, uint64_t k, const char *site, void *arg)
{
	struct cs *c = arg;

	if (c->pass == 2 && !c->sh->stop && selected(c, k))
		crash_point(c, s, k, site ? site : "?");
}

static int pass_err(struct cs *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int pass_err(struct cs *c, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->sh->err, sizeof(c->sh->err), fmt, ap);
	va_end(ap);
	return err;
}

static int write_all(int fd, const uint8_t *b, uint64_t n)
{
	uint64_t off = 0;

	while (off < n) {
		ssize_t w = pwrite(fd, b + off, n - off, (off_t)off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += (uint64_t)w;
	}
	return 0;
}

/* run_pass -- in a child: the workload from the initial pool */
static int run_pass(struct cs *c)
{
	daxo_pool *p;
	struct sim *s;
	int fd, r;

	fd = open(c->path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return pass_err(c, -errno, "%s: %s", c->path, strerror(errno));
	r = write_all(fd, c->init, c->size);
	close(fd);
	if (r)
		return pass_err(c, r, "%s: write: %s", c->path, strerror(-r));
	if (c->pass == 2) {
		fd = open(c->img_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
			  0600);
		if (fd < 0 || ftruncate(fd, (off_t)c->size) != 0)
			return pass_err(c, -errno, "%s: %s", c->img_path,
					strerror(errno));
		c->img_map = mmap(NULL, c->size, PROT_READ | PROT_WRITE,
				  MAP_SHARED, fd, 0);
		close(fd);
		if (c->img_map == MAP_FAILED)
			return pass_err(c, -errno, "%s: mmap: %s", c->img_path,
					strerror(errno));
	}
	r = daxo_open(c->path, NULL, 0, &p);
	if (r)
		return pass_err(c, r, "pass %d: daxo_open: %s", c->pass,
				daxo_errormsg());
	s = sim_attach(p, on_fence, c);
	if (!s) {
		daxo_close(p);
		return pass_err(c, -ENOMEM, "out of memory for the model");
	}
	r = c->w->run(p, c->w->arg);
	if (r) {
		sim_detach(s);
		daxo_close(p);
		return pass_err(c, r < 0 ? r : -EIO,
				"pass %d: the workload failed: %d (%s)",
				c->pass, r, daxo_errormsg());
	}
	c->sh->pass_fences = sim_fences(s);
	if (c->pass == 2 && !c->sh->stop && selected(c, sim_fences(s) + 1))
		crash_point(c, s, sim_fences(s) + 1, "end of run");
	sim_detach(s);
	daxo_close(p);
	return 0;
}

static int fork_pass(struct cs *c, int pass)
{
	int status = 0;
	pid_t pid;

	c->pass = pass;
	c->sh->err[0] = '\0';
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return daxo__err(-errno, "crashsim: fork: %s", strerror(errno));
	if (pid == 0)
		_exit(run_pass(c) ? 1 : 0);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(status))
		return daxo__err(-EIO,
				 "crashsim: pass %d died of signal %d (%s) "
				 "in the workload",
				 pass, WTERMSIG(status),
				 strsignal(WTERMSIG(status)));
	if (WEXITSTATUS(status) != 0)
		return daxo__err(-EIO, "crashsim: %s", c->sh->err);
	return 0;
}

/* choose -- a seeded sample of @k points out of 1..@n (bitmap) */
static uint8_t *choose(uint64_t n, uint64_t k, uint64_t seed)
{
	uint8_t *b = calloc(n / 8 + 2, 1);
	uint64_t st = seed ^ 0x5eed;

	if (!b)
		return NULL;
	/* Floyd's algorithm: k distinct values without a shuffle */
	for (uint64_t j = n - k + 1; j <= n; j++) {
		uint64_t t = 1 + sim_rand(&st) % j;
		if ((b[t / 8] >> (t % 8)) & 1)
			t = j;
		b[t / 8] |= (uint8_t)(1u << (t % 8));
	}
	return b;
}

static int setup_pool(struct cs *c)
{
	daxo_pool *p;
	int r;

	r = daxo_create(c->path, "crashsim", c->o.pool_size, 0600, &p);
	if (r)
		return r;
	if (c->w->setup) {
		r = c->w->setup(p, c->w->arg);
		if (r) {
			daxo_close(p);
			return daxo__err(r < 0 ? r : -EIO,
					 "crashsim: setup failed: %d", r);
		}
	}
	daxo_close(p);
	return 0;
}

DAXO_EXPORT int daxo_crashsim_run(const char *path,
				  const struct daxo_crashsim_workload *w,
				  const struct daxo_crashsim_opts *opts,
				  struct daxo_crashsim_report *rep)
{
	struct cs c;
	struct stat st;
	int r, fd;

	daxo__err_clear();
	if (!path || !w || !w->run || !w->check || !rep)
		return daxo__err(-EINVAL, "daxo_crashsim_run: NULL argument");
	memset(rep, 0, sizeof(*rep));
	memset(&c, 0, sizeof(c));
	c.path = path;
	c.w = w;
	if (opts)
		c.o = *opts;
	if (!c.o.seed)
		c.o.seed = 1;
	if (!c.o.pool_size)
		c.o.pool_size = 16ull << 20;
	if (!c.o.images)
		c.o.images = 4;
	if (!c.o.timeout)
		c.o.timeout = 60;
	if (asprintf(&c.img_path, "%s.img", path) < 0)
		return daxo__err(-ENOMEM, "daxo_crashsim_run: out of memory");
	c.sh = mmap(NULL, sizeof(*c.sh), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (c.sh == MAP_FAILED) {
		free(c.img_path);
		return daxo__err(-errno, "daxo_crashsim_run: mmap: %s",
				 strerror(errno));
	}
	memset(c.sh, 0, sizeof(*c.sh));

	r = setup_pool(&c);
	if (r)
		goto out;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		r = daxo__err(-errno, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		goto out_unlink;
	}
	c.size = (uint64_t)st.st_size;
	c.init = malloc(c.size);
	if (!c.init || pread(fd, c.init, c.size, 0) != (ssize_t)c.size) {
		close(fd);
		r = daxo__err(-EIO, "%s: cannot read the initial pool", path);
		goto out_unlink;
	}
	close(fd);

	r = fork_pass(&c, 1);
	if (r)
		goto out_unlink;
	c.n = c.sh->pass_fences;
	c.total = c.n + 1;
	if (c.o.point) {
		c.total = c.o.point <= c.n + 1 ? 1 : 0;
	} else if (c.o.sample && c.o.sample < c.n + 1) {
		c.sel = choose(c.n + 1, c.o.sample, c.o.seed);
		if (!c.sel) {
			r = daxo__err(-ENOMEM, "crashsim: out of memory");
			goto out_unlink;
		}
		c.total = c.o.sample;
	}
	r = fork_pass(&c, 2);
	if (r)
		goto out_unlink;
	if (c.sh->pass_fences != c.n && !c.sh->stop) {
		r = daxo__err(-EPROTO,
			      "crashsim: the workload is not deterministic: "
			      "%llu fences in pass 1, %llu in pass 2",
			      (unsigned long long)c.n,
			      (unsigned long long)c.sh->pass_fences);
		goto out_unlink;
	}
	r = c.sh->rep.failures ? 1 : 0;
out_unlink:
	*rep = c.sh->rep;
	rep->fences = c.n;
	unlink(path);
	unlink(c.img_path);
out:
	free(c.sel);
	free(c.init);
	munmap(c.sh, sizeof(*c.sh));
	free(c.img_path);
	return r;
}
