/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_daemon.c -- a real daxod on a temporary socket, real processes that
 * map pools and touch a known number of pages, and `daxo stat --json`.
 *
 * Checked: faults are attributed to the right pool and extent (within what
 * fault-around and large folios allow), mapped_bytes follows the touched
 * pages, prefaulting at open removes the faults, an exited or crashed
 * process disappears, an unregistered pool is discovered from /proc, a
 * daemon restart rediscovers running pools, another uid cannot query, a
 * process cannot register for another, garbage / oversized / slow clients
 * are dropped while a good client keeps working, a bounded fuzz loop does
 * not kill the daemon, the metrics port and the event log work.
 *
 * Needs: DAXOD (path of daxod), DAXO_TOOL (path of daxo). Waits are bounded
 * polls for a state (never assertions on how long something took).
 *
 * Independence: every test starts with the main daemon up on its socket
 * (test_setup restarts it, and puts back what a failed test changed) and
 * ends with its worker processes gone (test_teardown kills what a failed
 * test left). Whatever runs as uid nobody (a daxod, the daxo tool) runs from
 * copies in the test's own 0755 directory: the build tree may sit where
 * other users cannot enter (a 0700 clone under /tmp or /root).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <link.h>
#include <pthread.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <glob.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <linux/magic.h>

#include "client.h"
#include "daxo.h"
#include "proto.h"

#include "../unit/test_common.h"

#define POOL_SIZE (64ull << 20)
#define TOUCH_OFF (40ull << 20) /* in the heap, far from what open touches */
#define NPAGES	  256u
#define PG	  4096u
#define WAIT_S	  15 /* upper bound on waiting for a state */

static char dir[256], sock[400], conf[300], conf2[300], evlog[300];
static char main_sock[400]; /* the main daemon's socket */
static char pool_dir[200]; /* test_dir(), resolved: daxod sees this */
static char nobody_daxod[400], nobody_tool[400]; /* copies nobody can run */
static char *saved_notify, *saved_socket; /* the environment at start */
static const char *daxod_bin, *tool;
static pid_t daemon_pid = -1;
static pid_t parked_daemon = -1; /* the main daemon while another runs */
static int metrics_port;
static bool large_folios;

/* ---- helpers ---- */

static void msleep(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &l))
		port = 19464;
	else
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* call_raw -- one request on a new connection: the reply's text, or NULL */
static char *call_raw(const char *req)
{
	char *reply = NULL;
	int fd = daxod_connect(sock, 2000), r;

	if (fd < 0)
		return NULL;
	r = daxod_call(fd, req, &reply, 5000);
	close(fd);
	return r ? NULL : reply;
}

static json_object *call(const char *req)
{
	char *reply = call_raw(req);
	json_object *o;

	if (!reply)
		return NULL;
	o = json_tokener_parse(reply);
	free(reply);
	return o;
}

static bool reply_ok(json_object *o)
{
	json_object *v;

	return o && json_object_object_get_ex(o, "ok", &v) &&
	       json_object_get_boolean(v);
}

static void start_daemon(void)
{
	char mbuf[64];

	snprintf(mbuf, sizeof(mbuf), "127.0.0.1:%d", metrics_port);
	daemon_pid = fork();
	assert_true(daemon_pid >= 0);
	if (daemon_pid == 0) {
		execl(daxod_bin, "daxod", "--config", conf, "--socket", sock,
		      "--metrics", mbuf, "--event-log", evlog, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < WAIT_S * 20; i++) {
		json_object *o = call("{\"v\":1,\"op\":\"hello\"}");
		bool ok = reply_ok(o);
		json_object_put(o);
		if (ok)
			return;
		assert_int_equal(waitpid(daemon_pid, NULL, WNOHANG), 0);
		msleep(50);
	}
	fail_msg("daxod did not come up on %s", sock);
}

static void stop_daemon(void)
{
	int st;

	if (daemon_pid <= 0)
		return;
	kill(daemon_pid, SIGTERM);
	waitpid(daemon_pid, &st, 0);
	daemon_pid = -1;
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static bool daemon_alive(void)
{
	json_object *o = call("{\"v\":1,\"op\":\"hello\"}");
	bool ok = reply_ok(o);

	json_object_put(o);
	return ok && waitpid(daemon_pid, NULL, WNOHANG) == 0;
}

/* stat -- `daxo stat --json` through the real tool */
static json_object *stat_tool(void)
{
	char cmd[1024], *buf = NULL;
	size_t cap = 0, len = 0;
	json_object *o;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "'%s' stat --socket '%s' --json", tool,
		 sock);
	f = popen(cmd, "r");
	if (!f)
		return NULL;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap);
		}
		size_t n = fread(buf + len, 1, 4096, f);
		if (n == 0)
			break;
		len += n;
	}
	pclose(f);
	if (!buf)
		return NULL;
	buf[len] = '\0';
	o = json_tokener_parse(buf);
	free(buf);
	return o;
}

static json_object *find_pool(json_object *st, pid_t pid, const char *path)
{
	json_object *pools;

	if (!st || !json_object_object_get_ex(st, "pools", &pools))
		return NULL;
	for (size_t i = 0; i < json_object_array_length(pools); i++) {
		json_object *p = json_object_array_get_idx(pools, i);
		if (json_object_get_int(json_object_object_get(p, "pid")) ==
			pid &&
		    (!path || !strcmp(json_object_get_string(
					  json_object_object_get(p, "path")),
				      path)))
			return p;
	}
	return NULL;
}

static long long pool_i(json_object *p, const char *obj, const char *k)
{
	json_object *o = p;

	if (obj)
		o = json_object_object_get(p, obj);
	return json_object_get_int64(json_object_object_get(o, k));
}

/* ---- worker processes ---- */

struct worker {
	pid_t pid;
	int to, from;
	uint64_t base;
	char path[256];
};

enum {
	W_NOTIFY = 1,
	W_PREFAULT = 2,
	W_CREATE = 4,
	W_NOBODY = 8,
	W_BADCOMM = 16, /* a process name of invalid UTF-8 and controls */
};

struct cmd {
	char op; /* 'T' touch, 'P' touch from a new thread, 'O' create and
		    keep open a second pool PATH.b, 'A' allocate and keep
		    an object of n bytes, 'Q' close+exit, 'X' exit without
		    close */
	uint64_t off;
	uint32_t n;
};

struct touch_arg {
	char *a;
	uint32_t n;
};

static void touch_pages(char *a, uint32_t n)
{
	/* a write access that leaves the data as it was */
	for (uint32_t i = 0; i < n; i++)
		__atomic_fetch_add((uint64_t *)(a + (size_t)i * PG), 0,
				   __ATOMIC_RELAXED);
}

static void *touch_thread(void *arg)
{
	struct touch_arg *t = arg;

	touch_pages(t->a, t->n);
	return NULL;
}

static void worker_main(const char *path, unsigned flags, int in, int out)
{
	daxo_pool *p = NULL;
	uint64_t base;
	struct cmd c;
	int r;

	if (flags & W_NOBODY && (setgid(65534) || setuid(65534)))
		_exit(77);
	/* a process that was exec'ed as nobody would be dumpable (ptrace-
	 * and perf-able by its uid); after setuid from root it is not */
	if (flags & W_NOBODY)
		prctl(PR_SET_DUMPABLE, 1);
	if (flags & W_BADCOMM)
		prctl(PR_SET_NAME, "\xfe\n\x1b]0;x\xc0\xaf");
	setenv("DAXO_SOCKET", sock, 1);
	setenv("DAXO_NOTIFY", flags & W_NOTIFY ? "1" : "0", 1);
	if (flags & W_PREFAULT)
		setenv("DAXO_PREFAULT", "1", 1);
	else
		unsetenv("DAXO_PREFAULT");
	r = flags & W_CREATE
		? daxo_create(path, "daemon-test", POOL_SIZE, 0600, &p)
		: daxo_open(path, "daemon-test", 0, &p);
	base = r ? 0 : (uint64_t)(uintptr_t)daxo_direct(p, 4096) - 4096;
	if (write(out, &base, sizeof(base)) != sizeof(base) || r)
		_exit(1);
	while (read(in, &c, sizeof(c)) == (ssize_t)sizeof(c)) {
		char done = 'D';
		if (c.op == 'T') {
			touch_pages((char *)(uintptr_t)base + c.off, c.n);
		} else if (c.op == 'O') {
			/* a second pool, created while already watched */
			char p2[300];
			daxo_pool *q;
			snprintf(p2, sizeof(p2), "%s.b", path);
			unlink(p2);
			if (daxo_create(p2, "daemon-test", POOL_SIZE, 0600, &q))
				_exit(1);
		} else if (c.op == 'A') {
			daxo_oid o;
			if (daxo_alloc(p, c.n, 1, &o))
				_exit(1);
		} else if (c.op == 'P') {
			struct touch_arg t = {(char *)(uintptr_t)base + c.off,
					      c.n};
			pthread_t th;
			if (pthread_create(&th, NULL, touch_thread, &t) ||
			    pthread_join(th, NULL))
				_exit(1);
		} else if (c.op == 'Q') {
			daxo_close(p);
			_exit(0);
		} else {
			_exit(0);
		}
		if (write(out, &done, 1) != 1)
			_exit(1);
	}
	_exit(0);
}

/* the workers alive, so that a failed test's are ended by its teardown */
#define MAX_LIVE 8
static struct {
	pid_t pid;
	int to, from;
	char path[256];
} live[MAX_LIVE];

static void worker_start(struct worker *w, const char *tag, unsigned flags)
{
	int a[2], b[2];
	unsigned i;

	snprintf(w->path, sizeof(w->path), "%s/daxo-daemon-%s-%d.pool",
		 pool_dir, tag, (int)getpid());
	if (flags & W_CREATE)
		unlink(w->path);
	assert_int_equal(pipe2(a, O_CLOEXEC), 0);
	assert_int_equal(pipe2(b, O_CLOEXEC), 0);
	w->pid = fork();
	assert_true(w->pid >= 0);
	if (w->pid == 0) {
		close(a[1]);
		close(b[0]);
		worker_main(w->path, flags, a[0], b[1]);
	}
	close(a[0]);
	close(b[1]);
	w->to = a[1];
	w->from = b[0];
	for (i = 0; i < MAX_LIVE && live[i].pid > 0; i++)
		;
	assert_true(i < MAX_LIVE);
	live[i].pid = w->pid;
	live[i].to = w->to;
	live[i].from = w->from;
	memcpy(live[i].path, w->path, sizeof(live[i].path));
	assert_int_equal(read(w->from, &w->base, sizeof(w->base)),
			 sizeof(w->base));
	assert_true(w->base != 0);
}

static void worker_cmd(struct worker *w, char op, uint64_t off, uint32_t n)
{
	struct cmd c = {op, off, n};
	char d;

	assert_int_equal(write(w->to, &c, sizeof(c)), sizeof(c));
	assert_int_equal(read(w->from, &d, 1), 1);
}

static void worker_touch(struct worker *w, uint64_t off, uint32_t n)
{
	worker_cmd(w, 'T', off, n);
}

static void worker_end(struct worker *w, char op)
{
	struct cmd c = {op, 0, 0};
	int st;

	assert_int_equal(write(w->to, &c, sizeof(c)), sizeof(c));
	assert_int_equal(waitpid(w->pid, &st, 0), w->pid);
	for (unsigned i = 0; i < MAX_LIVE; i++)
		if (live[i].pid == w->pid)
			live[i].pid = 0;
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(w->to);
	close(w->from);
}

/* wait_pool -- poll `daxo stat` until the worker's pool shows (in @mode) */
static json_object *wait_pool(struct worker *w, const char *mode)
{
	for (int i = 0; i < WAIT_S * 10; i++) {
		json_object *st = stat_tool();
		json_object *p = find_pool(st, w->pid, w->path);
		if (p &&
		    (!mode || !strcmp(json_object_get_string(
					  json_object_object_get(p, "mode")),
				      mode)))
			return st;
		json_object_put(st);
		msleep(100);
	}
	fail_msg("pool %s of pid %d never showed up", w->path, (int)w->pid);
	return NULL;
}

static bool wait_gone(pid_t pid)
{
	for (int i = 0; i < WAIT_S * 10; i++) {
		json_object *st = stat_tool();
		bool gone = st && !find_pool(st, pid, NULL);
		json_object_put(st);
		if (gone)
			return true;
		msleep(100);
	}
	return false;
}

/* ---- setup ---- */

/* copy_file -- @from to @to with @mode; 0 or -errno */
static int copy_file(const char *from, const char *to, mode_t mode)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC), out, r = 0;
	ssize_t n;

	if (in < 0)
		return -errno;
	unlink(to);
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (out < 0) {
		r = -errno;
		close(in);
		return r;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			r = -EIO;
			break;
		}
	if (n < 0)
		r = -errno;
	if (close(out) && !r)
		r = -errno;
	close(in);
	if (!r && fchmodat(AT_FDCWD, to, mode, 0))
		r = -errno;
	return r;
}

/* find_libdaxo -- dl_iterate_phdr: the path of the libdaxo.so loaded */
static int find_libdaxo(struct dl_phdr_info *info, size_t size, void *arg)
{
	const char *b = strrchr(info->dlpi_name, '/');

	(void)size;
	if (b && !strncmp(b + 1, "libdaxo.so", 10)) {
		*(const char **)arg = info->dlpi_name;
		return 1;
	}
	return 0;
}

/*
 * nobody_copies -- daxod, and the daxo tool with the libdaxo it loads, in
 * DIR/bin and DIR/lib (the tool finds the library through its RUNPATH
 * $ORIGIN/../lib): what uid nobody runs, wherever the build tree is. The
 * library is the libdaxo.so this program loaded (by name: a preloaded
 * library, such as the contract recorder's, may define daxo_* too).
 */
static int nobody_copies(void)
{
	char bindir[300], libdir[300], lib[400];
	const char *so = NULL;
	int r;

	snprintf(bindir, sizeof(bindir), "%s/bin", dir);
	snprintf(libdir, sizeof(libdir), "%s/lib", dir);
	if (mkdir(bindir, 0755) || mkdir(libdir, 0755))
		return -errno;
	snprintf(nobody_daxod, sizeof(nobody_daxod), "%s/daxod", bindir);
	snprintf(nobody_tool, sizeof(nobody_tool), "%s/daxo", bindir);
	if (!dl_iterate_phdr(find_libdaxo, &so) || !so)
		return -ENOENT;
	snprintf(lib, sizeof(lib), "%s%s", libdir, strrchr(so, '/'));
	if ((r = copy_file(daxod_bin, nobody_daxod, 0755)) ||
	    (r = copy_file(tool, nobody_tool, 0755)) ||
	    (r = copy_file(so, lib, 0644)))
		return r;
	return 0;
}

static int group_setup(void **state)
{
	FILE *f;
	char buf[64] = "";

	daxod_bin = getenv("DAXOD");
	tool = getenv("DAXO_TOOL");
	if (!daxod_bin || !tool) {
		fprintf(stderr, "DAXOD and DAXO_TOOL must name the binaries\n");
		return -1;
	}
	setenv("PMEM_IS_PMEM_FORCE", "1", 1);
	if (getenv("DAXO_NOTIFY"))
		saved_notify = strdup(getenv("DAXO_NOTIFY"));
	if (getenv("DAXO_SOCKET"))
		saved_socket = strdup(getenv("DAXO_SOCKET"));
	/* pool paths as daxod sees them in /proc/PID/maps */
	{
		char rp[PATH_MAX];

		errno = 0;
		if (!realpath(test_dir(), rp) ||
		    strlen(rp) >= sizeof(pool_dir)) {
			fprintf(stderr, "pool directory %s: %s\n", test_dir(),
				errno ? strerror(errno) : "path too long");
			return -1;
		}
		memcpy(pool_dir, rp, strlen(rp) + 1);
	}
	/* /tmp, not $TMPDIR: uid nobody must reach this directory */
	snprintf(dir, sizeof(dir), "/tmp/daxo-daemon-test-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	chmod(dir, 0755);
	snprintf(sock, sizeof(sock), "%s/daxod.sock", dir);
	memcpy(main_sock, sock, sizeof(sock));
	snprintf(conf, sizeof(conf), "%s/daxod.conf", dir);
	snprintf(evlog, sizeof(evlog), "%s/events.jsonl", dir);
	f = fopen(conf, "w");
	if (!f)
		return -1;
	fprintf(f, "[daxod]\nscan_interval_ms = 200\ntick_ms = 100\n"
		   "client_timeout_ms = 500\nwindow_s = 5\nmax_clients = 32\n"
		   "reserved_clients = 8\nmax_clients_per_uid = 8\n"
		   "idle_timeout_ms = 2000\n"
		   "uid_request_rate = 5\nuid_request_burst = 20\n"
		   "uid_event_rate = 5\nuid_event_burst = 20\n"
		   "metrics_max_connections = 24\nmetrics_timeout_s = 1\n"
		   "max_procs_per_uid = 4\n"
		   "log_level = debug\n"
		   "scan_paths = /nonexistent/:%s/daxo-daemon-\n",
		pool_dir);
	fclose(f);
	snprintf(conf2, sizeof(conf2), "%s/daxod-read.conf", dir);
	f = fopen(conf2, "w");
	if (!f)
		return -1;
	fprintf(f, "[daxod]\nscan_interval_ms = 200\ntick_ms = 100\n"
		   "log_level = debug\npagemap_scan = false\n"
		   "scan_paths = %s/daxo-daemon-\n",
		pool_dir);
	fclose(f);
	/*
	 * one fault per 4 KiB page holds on tmpfs without huge pages; other
	 * file systems may map a large folio per fault (ext4, xfs, DAX PMDs):
	 * there the fault counts are only checked to be positive
	 */
	{
		struct statfs sfs;

		large_folios = statfs(pool_dir, &sfs) != 0 ||
			       sfs.f_type != TMPFS_MAGIC;
	}
	f = fopen("/sys/kernel/mm/transparent_hugepage/shmem_enabled", "r");
	if (f) {
		if (fgets(buf, sizeof(buf), f) && !strstr(buf, "[never]"))
			large_folios = true;
		fclose(f);
	}
	{
		int r = nobody_copies();

		if (r) {
			fprintf(stderr,
				"cannot copy daxod/daxo/libdaxo into %s: %s\n",
				dir, strerror(-r));
			return -1;
		}
	}
	metrics_port = free_port();
	start_daemon();
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[400];

	if (daemon_pid > 0) {
		kill(daemon_pid, SIGTERM);
		waitpid(daemon_pid, NULL, 0);
	}
	if (parked_daemon > 0) {
		kill(parked_daemon, SIGTERM);
		waitpid(parked_daemon, NULL, 0);
	}
	/* pool files of failed tests, too */
	{
		char pat[PATH_MAX + 64];
		glob_t g;
		snprintf(pat, sizeof(pat), "%s/daxo-daemon-*-%d.pool*",
			 pool_dir, (int)getpid());
		if (glob(pat, 0, NULL, &g) == 0) {
			for (size_t i = 0; i < g.gl_pathc; i++)
				unlink(g.gl_pathv[i]);
			globfree(&g);
		}
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		return -1;
	return 0;
}

/*
 * test_setup -- every test starts with the main daemon serving main_sock,
 * whatever an earlier test did: a test that failed while another daemon
 * ran (the unprivileged one) or while the main one was stopped (restart)
 * leaves it so, and this puts it back.
 */
static int test_setup(void **state)
{
	if (parked_daemon > 0) {
		if (daemon_pid > 0) {
			kill(daemon_pid, SIGTERM);
			waitpid(daemon_pid, NULL, 0);
		}
		daemon_pid = parked_daemon;
		parked_daemon = -1;
	}
	memcpy(sock, main_sock, sizeof(sock));
	if (daemon_pid > 0 && waitpid(daemon_pid, NULL, WNOHANG) != 0)
		daemon_pid = -1; /* it died */
	if (daemon_pid > 0 && !daemon_alive()) {
		kill(daemon_pid, SIGKILL);
		waitpid(daemon_pid, NULL, 0);
		daemon_pid = -1;
	}
	if (daemon_pid <= 0)
		start_daemon();
	return 0;
}

/* test_teardown -- end the workers a failed test left, and its settings */
static int test_teardown(void **state)
{
	char p2[300];

	for (unsigned i = 0; i < MAX_LIVE; i++) {
		if (live[i].pid <= 0)
			continue;
		kill(live[i].pid, SIGKILL);
		waitpid(live[i].pid, NULL, 0);
		close(live[i].to);
		close(live[i].from);
		unlink(live[i].path);
		snprintf(p2, sizeof(p2), "%.250s.b", live[i].path);
		unlink(p2);
		live[i].pid = 0;
	}
	if (saved_notify)
		setenv("DAXO_NOTIFY", saved_notify, 1);
	else
		unsetenv("DAXO_NOTIFY");
	if (saved_socket)
		setenv("DAXO_SOCKET", saved_socket, 1);
	else
		unsetenv("DAXO_SOCKET");
	return 0;
}

/* ---- tests ---- */

static void test_stat_shape_has_contract_fields(void **state)
{
	json_object *st = stat_tool(), *d, *devs;

	assert_non_null(st);
	assert_true(json_object_object_get_ex(st, "daemon", &d));
	assert_true(json_object_object_get_ex(st, "devices", &devs));
	assert_true(json_object_is_type(devs, json_type_array));
	assert_true(json_object_is_type(json_object_object_get(st, "pools"),
					json_type_array));
	if (json_object_array_length(devs) == 0)
		assert_string_equal(json_object_get_string(
					json_object_object_get(d, "devices")),
				    "no persistent memory devices");
	json_object_put(st);
}

static void test_faults_attributed_to_pool(void **state)
{
	struct worker w;
	json_object *st, *p, *heat;
	long long minor0, mapped0, minor1, mapped1, sampled, faults;
	size_t ext;

	worker_start(&w, "attr", W_NOTIFY | W_CREATE);
	st = wait_pool(&w, "perf");
	p = find_pool(st, w.pid, w.path);
	assert_true(
	    json_object_get_boolean(json_object_object_get(p, "registered")));
	assert_true(json_object_get_boolean(json_object_object_get(p, "pmem")));
	assert_int_equal(pool_i(p, NULL, "size"), POOL_SIZE);
	assert_int_equal(pool_i(p, NULL, "base"), (long long)w.base);
	minor0 = pool_i(p, "faults", "minor") + pool_i(p, "faults", "major");
	mapped0 = pool_i(p, NULL, "mapped_bytes");
	json_object_put(st);

	worker_touch(&w, TOUCH_OFF, NPAGES);

	st = stat_tool();
	p = find_pool(st, w.pid, w.path);
	assert_non_null(p);
	minor1 = pool_i(p, "faults", "minor") + pool_i(p, "faults", "major");
	mapped1 = pool_i(p, NULL, "mapped_bytes");
	sampled = pool_i(p, "faults", "sampled");
	faults = minor1 - minor0;
	fprintf(stderr, "# touched %u pages: %lld faults, mapped +%lld bytes\n",
		NPAGES, faults, mapped1 - mapped0);
	/* one write fault per 4 KiB page on tmpfs; large folios fewer */
	assert_true(faults >= (large_folios ? 1 : NPAGES * 9 / 10));
	assert_true(faults <= NPAGES + 16);
	assert_true(sampled >= faults);
	/*
	 * the sliding-window rate is reported (its value depends on how long
	 * the machine took: timed values are printed, not asserted)
	 */
	fprintf(stderr, "# rates %s\n",
		json_object_to_json_string(json_object_object_get(p, "rates")));
	assert_non_null(json_object_object_get(
		json_object_object_get(p, "rates"), "minor_per_s"));
	/* mapped_bytes follows the touched pages */
	assert_true(mapped1 - mapped0 >= (long long)NPAGES * PG * 9 / 10);
	assert_true(mapped1 - mapped0 <= (long long)NPAGES * PG + (2 << 20));
	/* the heat map puts them in the 2 MiB extent at TOUCH_OFF */
	heat = json_object_object_get(p, "heat");
	assert_int_equal(pool_i(p, NULL, "heat_extent"), 2 << 20);
	assert_int_equal(json_object_array_length(heat), POOL_SIZE / (2 << 20));
	ext = TOUCH_OFF / (2 << 20);
	assert_true(json_object_get_int64(
			json_object_array_get_idx(heat, ext)) >= faults);
	json_object_put(st);

	/* touching the same pages again costs no new faults */
	worker_touch(&w, TOUCH_OFF, NPAGES);
	st = stat_tool();
	p = find_pool(st, w.pid, w.path);
	assert_true(pool_i(p, "faults", "minor") +
			pool_i(p, "faults", "major") - minor1 <=
		    4);
	json_object_put(st);

	worker_end(&w, 'Q');
	assert_true(wait_gone(w.pid));
	unlink(w.path);
}

/* a thread created after the daemon attached is followed from its first
 * fault (inherited perf events), and not counted twice */
static void test_new_thread_faults_attributed(void **state)
{
	struct worker w;
	json_object *st, *p;
	long long f0, f1;

	worker_start(&w, "thread", W_NOTIFY | W_CREATE);
	st = wait_pool(&w, "perf");
	p = find_pool(st, w.pid, w.path);
	f0 = pool_i(p, "faults", "minor");
	json_object_put(st);
	worker_cmd(&w, 'P', TOUCH_OFF, NPAGES);
	msleep(500); /* let a scan pass: it must not add the thread again */
	worker_cmd(&w, 'P', TOUCH_OFF + (8 << 20), NPAGES);
	st = stat_tool();
	p = find_pool(st, w.pid, w.path);
	f1 = pool_i(p, "faults", "minor");
	fprintf(stderr,
		"# %u pages from each of two new threads: %lld faults\n",
		NPAGES, f1 - f0);
	assert_true(f1 - f0 >= (large_folios ? 2 : 2 * NPAGES * 9 / 10));
	assert_true(f1 - f0 <= 2 * NPAGES + 16);
	json_object_put(st);
	worker_end(&w, 'Q');
	assert_true(wait_gone(w.pid));
	unlink(w.path);
}

/* faults a watched process takes on a pool before announcing it (while
 * daxo_create formats it) are credited to it when it is registered */
static void test_faults_before_registration_credited(void **state)
{
	struct worker w, b;
	json_object *st, *p;
	long long minor;

	worker_start(&w, "early", W_NOTIFY | W_CREATE);
	json_object_put(wait_pool(&w, "perf"));
	worker_cmd(&w, 'O', 0, 0);
	b = w;
	snprintf(b.path, sizeof(b.path), "%.250s.b", w.path);
	st = wait_pool(&b, "perf");
	p = find_pool(st, w.pid, b.path);
	minor = pool_i(p, "faults", "minor");
	fprintf(stderr, "# faults while daxo_create formatted the pool: %lld\n",
		minor);
	assert_true(minor > 0);
	assert_true(minor <= (long long)(POOL_SIZE / PG));
	json_object_put(st);
	worker_end(&w, 'Q');
	assert_true(wait_gone(w.pid));
	unlink(w.path);
	unlink(b.path);
}

static void test_prefault_removes_first_touch_faults(void **state)
{
	struct worker w, v;
	json_object *st, *p;
	long long f0, f1, mapped, minflt_pf, minflt_plain;

	/* without prefault: first touches fault */
	worker_start(&w, "nopf", W_NOTIFY | W_CREATE);
	st = wait_pool(&w, "perf");
	p = find_pool(st, w.pid, w.path);
	f0 = pool_i(p, "faults", "minor");
	minflt_plain = pool_i(p, "process", "minflt");
	json_object_put(st);
	worker_touch(&w, TOUCH_OFF, NPAGES);
	st = stat_tool();
	p = find_pool(st, w.pid, w.path);
	f1 = pool_i(p, "faults", "minor");
	json_object_put(st);
	worker_end(&w, 'Q');
	assert_true(f1 - f0 >= (large_folios ? 1 : NPAGES * 9 / 10));

	/* with DAXO_PREFAULT=1: the whole pool is mapped at open, and the
	 * same touches take (almost) no faults */
	worker_start(&v, "nopf", W_NOTIFY | W_PREFAULT);
	st = wait_pool(&v, "perf");
	p = find_pool(st, v.pid, v.path);
	f0 = pool_i(p, "faults", "minor");
	mapped = pool_i(p, NULL, "mapped_bytes");
	minflt_pf = pool_i(p, "process", "minflt");
	json_object_put(st);
	worker_touch(&v, TOUCH_OFF, NPAGES);
	st = stat_tool();
	p = find_pool(st, v.pid, v.path);
	f1 = pool_i(p, "faults", "minor");
	json_object_put(st);
	fprintf(stderr,
		"# prefault: mapped %lld of %llu at open, %lld faults "
		"for %u touches; process minflt %lld vs %lld without\n",
		mapped, POOL_SIZE, f1 - f0, NPAGES, minflt_pf, minflt_plain);
	assert_true(mapped >= (long long)(POOL_SIZE * 9 / 10));
	assert_true(f1 - f0 <= 4);
	/* the prefault's faults show in the process's own totals */
	assert_true(minflt_pf >=
			minflt_plain + (long long)(POOL_SIZE / PG) / 2 ||
		    large_folios);
	worker_end(&v, 'Q');
	assert_true(wait_gone(v.pid));
	unlink(v.path);
}

static void test_crashed_process_disappears(void **state)
{
	struct worker w;

	worker_start(&w, "crash", W_NOTIFY | W_CREATE);
	json_object_put(wait_pool(&w, NULL));
	worker_end(&w, 'X'); /* exits without daxo_close: no unregister */
	assert_true(wait_gone(w.pid));
	unlink(w.path);
}

static void test_unregistered_pool_discovered(void **state)
{
	struct worker w;
	json_object *st, *p;
	long long f0, f1;

	worker_start(&w, "disc", W_CREATE); /* DAXO_NOTIFY=0 */
	st = wait_pool(&w, "perf");
	p = find_pool(st, w.pid, w.path);
	assert_false(
	    json_object_get_boolean(json_object_object_get(p, "registered")));
	assert_true(
	    json_object_get_boolean(json_object_object_get(p, "in_maps")));
	assert_int_equal(pool_i(p, NULL, "size"), POOL_SIZE);
	f0 = pool_i(p, "faults", "minor");
	json_object_put(st);
	worker_touch(&w, TOUCH_OFF, 64);
	st = stat_tool();
	p = find_pool(st, w.pid, w.path);
	f1 = pool_i(p, "faults", "minor");
	json_object_put(st);
	assert_true(f1 - f0 >= (large_folios ? 1 : 60));
	assert_true(f1 - f0 <= 64 + 16);
	worker_end(&w, 'Q');
	assert_true(wait_gone(w.pid));
	unlink(w.path);
}

static void test_other_uid_cannot_query(void **state)
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) {
		json_object *o;
		json_object *e;
		if (setgid(65534) || setuid(65534))
			_exit(77);
		o = call("{\"v\":1,\"op\":\"stat\"}");
		if (!o)
			_exit(3); /* dropped without a reply is also refusal */
		if (reply_ok(o) || json_object_object_get_ex(o, "pools", &e))
			_exit(1);
		if (!json_object_object_get_ex(o, "error", &e) ||
		    !strstr(json_object_get_string(e), "permission"))
			_exit(2);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(st), 0);
	/* and the tool, run as nobody (its copy: the build tree may be
	 * closed to nobody), fails */
	pid = fork();
	if (pid == 0) {
		char *argv[] = {nobody_tool, "stat", "--socket", sock, NULL};
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 1);
		dup2(devnull, 2);
		if (setgid(65534) || setuid(65534))
			_exit(77);
		execv(nobody_tool, argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 1);
	assert_true(daemon_alive());
}

static void test_register_for_other_pid_rejected(void **state)
{
	char req[512];
	json_object *o, *st;

	snprintf(req, sizeof(req),
		 "{\"v\":1,\"op\":\"register\",\"pid\":1,\"path\":\"/x\","
		 "\"base\":4096,\"size\":4096}");
	o = call(req);
	assert_false(reply_ok(o));
	json_object_put(o);
	st = stat_tool();
	assert_null(find_pool(st, 1, "/x"));
	json_object_put(st);
	/* wrong version and unknown op are refused too */
	o = call("{\"v\":2,\"op\":\"stat\"}");
	assert_false(reply_ok(o));
	assert_non_null(
	    strstr(json_object_get_string(json_object_object_get(o, "error")),
		   "version"));
	json_object_put(o);
	o = call("{\"v\":1,\"op\":\"shutdown\"}");
	assert_false(reply_ok(o));
	json_object_put(o);
	assert_true(daemon_alive());
}

static int raw_connect(void)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || strlen(sock) >= sizeof(a.sun_path)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	memcpy(a.sun_path, sock, strlen(sock) + 1);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* closed_by_daemon -- the daemon hung up on @fd within WAIT_S seconds */
static bool closed_by_daemon(int fd)
{
	char buf[4096];

	struct timeval tv = {WAIT_S, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return true;
		if (n < 0)
			return false; /* timed out: still open */
	}
}

static void test_bad_clients_survived(void **state)
{
	unsigned char big[8] = {0xff, 0xff, 0xff, 0x7f, 'x'};
	unsigned char zero[4] = {0, 0, 0, 0};
	const char *junk = "GET / HTTP/1.0\r\n\r\n";
	unsigned char bad[4 + 9];
	int g, z, b, j, slow, sink;
	json_object *st, *d, *s;

	g = raw_connect();    /* garbage bytes */
	z = raw_connect();    /* empty frame */
	b = raw_connect();    /* oversized frame */
	j = raw_connect();    /* a frame of non-JSON */
	slow = raw_connect(); /* half a header, then silence */
	sink = raw_connect(); /* asks, never reads */
	assert_true(g >= 0 && z >= 0 && b >= 0 && j >= 0 && slow >= 0 &&
		    sink >= 0);
	assert_true(write(g, junk, strlen(junk)) > 0);
	assert_int_equal(write(z, zero, 4), 4);
	assert_int_equal(write(b, big, 5), 5);
	proto_put_len(bad, 9);
	memcpy(bad + 4, "{not json", 9);
	assert_int_equal(write(j, bad, sizeof(bad)), (ssize_t)sizeof(bad));
	assert_int_equal(write(slow, zero, 2), 2);
	for (int i = 0; i < 64; i++) {
		unsigned char req[4 + 64];
		const char *q = "{\"v\":1,\"op\":\"stat\"}";
		proto_put_len(req, (uint32_t)strlen(q));
		memcpy(req + 4, q, strlen(q));
		if (send(sink, req, 4 + strlen(q), MSG_DONTWAIT) < 0)
			break;
	}

	/* a good client is served meanwhile */
	st = stat_tool();
	assert_non_null(st);
	json_object_put(st);

	assert_true(closed_by_daemon(g));
	assert_true(closed_by_daemon(z));
	assert_true(closed_by_daemon(b));
	assert_true(closed_by_daemon(j));
	assert_true(closed_by_daemon(slow)); /* after client_timeout_ms */
	close(g);
	close(z);
	close(b);
	close(j);
	close(slow);
	close(sink);

	st = stat_tool();
	assert_non_null(st);
	d = json_object_object_get(st, "daemon");
	s = json_object_object_get(d, "server");
	assert_true(json_object_get_int64(
			json_object_object_get(s, "dropped_oversize")) >= 2);
	assert_true(json_object_get_int64(
			json_object_object_get(s, "dropped_malformed")) >= 2);
	assert_true(json_object_get_int64(
			json_object_object_get(s, "dropped_timeout")) >= 1);
	json_object_put(st);
	assert_true(daemon_alive());
}

static void test_fuzzish_messages_survived(void **state)
{
	static const char *const seeds[] = {
	    "{\"v\":1,\"op\":\"stat\"}",
	    "{\"v\":1,\"op\":\"hello\"}",
	    ("{\"v\":1,\"op\":\"register\",\"pid\":1,\"path\":\"/dev/shm/x\","
	     "\"base\":4096,\"size\":8192,\"pmem\":true}"),
	    "{\"v\":1,\"op\":\"unregister\",\"pid\":1,\"base\":4096}",
	    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
	    "]",
	    "{\"v\":1e999,\"op\":null}",
	};
	unsigned seed = (unsigned)time(NULL);
	char msg[512];

	srand(seed);
	fprintf(stderr, "# fuzz seed %u\n", seed);
	for (int i = 0; i < 400; i++) {
		const char *s = seeds[(unsigned)rand() %
				      (sizeof(seeds) / sizeof(seeds[0]))];
		size_t n = strlen(s);
		unsigned char frame[4 + sizeof(msg)];
		int fd = raw_connect(), flips = rand() % 6;

		assert_true(fd >= 0);
		memcpy(msg, s, n);
		for (int k = 0; k < flips; k++)
			msg[(unsigned)rand() % n] = (char)(rand() % 256);
		if (rand() % 4 == 0)
			n = (size_t)rand() % n + 1; /* truncate */
		proto_put_len(frame, (uint32_t)n);
		if (rand() % 10 == 0)
			proto_put_len(frame, (uint32_t)rand()); /* lie */
		memcpy(frame + 4, msg, n);
		(void)!send(fd, frame, 4 + n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (rand() % 2) {
			char buf[256];
			struct timeval tv = {0, 200000};
			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
				   sizeof(tv));
			(void)!recv(fd, buf, sizeof(buf), 0);
		}
		close(fd);
	}
	assert_true(daemon_alive());
	{
		json_object *st = stat_tool();
		assert_non_null(st);
		assert_null(
		    find_pool(st, 1, NULL)); /* nobody registered init */
		json_object_put(st);
	}
}

/* ---- unprivileged users against root ---- */

/* live_add -- a helper process test_teardown must end if the test fails */
static void live_add(pid_t pid)
{
	for (unsigned i = 0; i < MAX_LIVE; i++)
		if (live[i].pid <= 0) {
			live[i].pid = pid;
			live[i].to = live[i].from = -1;
			live[i].path[0] = '\0';
			return;
		}
	fail_msg("more than %u helper processes", MAX_LIVE);
}

static void live_end(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	for (unsigned i = 0; i < MAX_LIVE; i++)
		if (live[i].pid == pid)
			live[i].pid = 0;
}

/* send_req -- one request frame of @n bytes on @fd */
static bool send_req(int fd, const char *req, size_t n)
{
	unsigned char hdr[PROTO_HDR];

	proto_put_len(hdr, (uint32_t)n);
	return send(fd, hdr, sizeof(hdr), MSG_NOSIGNAL) == sizeof(hdr) &&
	       send(fd, req, n, MSG_NOSIGNAL) == (ssize_t)n;
}

/* recv_reply -- one reply frame into @buf (NUL-terminated), within 3 s;
 * its length, or -1 */
static long recv_reply(int fd, char *buf, size_t cap)
{
	struct timeval tv = {3, 0};
	unsigned char hdr[PROTO_HDR];
	size_t len, got = 0;
	ssize_t n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (recv(fd, hdr, sizeof(hdr), MSG_WAITALL) != sizeof(hdr))
		return -1;
	len = proto_get_len(hdr);
	if (len >= cap)
		return -1;
	while (got < len && (n = recv(fd, buf + got, len - got, 0)) > 0)
		got += (size_t)n;
	if (got < len)
		return -1;
	buf[len] = '\0';
	return (long)len;
}

/* hello_ok -- a hello on @fd answered with ok */
static bool hello_ok(int fd)
{
	static const char h[] = "{\"v\":1,\"op\":\"hello\"}";
	char buf[4096];

	return send_req(fd, h, sizeof(h) - 1) &&
	       recv_reply(fd, buf, sizeof(buf)) > 0 &&
	       strstr(buf, "\"ok\":true");
}

/*
 * hog -- a child as @uid that opens up to @n connections and keeps every
 * one the daemon lets it have busy (a hello on each every 200 ms, so that
 * no idle timeout frees them). Returns its pid; *held is how many it has.
 */
static pid_t hog(uid_t uid, int n, int *held)
{
	int p[2];
	pid_t pid;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fds[64], k = 0;

		close(p[0]);
		if (setgid(uid) || setuid(uid))
			_exit(77);
		for (int i = 0; i < n && i < 64; i++) {
			int fd = raw_connect();
			if (fd >= 0 && hello_ok(fd))
				fds[k++] = fd;
			else if (fd >= 0)
				close(fd);
		}
		if (write(p[1], &k, sizeof(k)) != sizeof(k))
			_exit(1);
		for (;;) {
			msleep(200);
			for (int i = 0; i < k; i++)
				(void)hello_ok(fds[i]);
		}
	}
	close(p[1]);
	live_add(pid);
	if (read(p[0], held, sizeof(*held)) != sizeof(*held))
		*held = -1;
	close(p[0]);
	return pid;
}

/*
 * Four unprivileged uids try to take every client slot (32 here) and keep
 * them busy: each gets at most max_clients_per_uid (8), all of them
 * together at most max_clients - reserved_clients (24), and root's
 * `daxo stat` works 10 times in 10 meanwhile. (On the old daemon the
 * first uid took all 32 slots, and every stat failed.)
 */
static void test_unprivileged_cannot_starve_root(void **state)
{
	pid_t pids[4];
	int held[4], total = 0, served = 0;

	for (int i = 0; i < 4; i++) {
		pids[i] = hog((uid_t)(65534 - i), 16, &held[i]);
		fprintf(stderr, "# uid %d holds %d connections\n", 65534 - i,
			held[i]);
		total += held[i];
	}
	for (int i = 0; i < 10; i++) {
		json_object *st = stat_tool();

		served += st && json_object_object_get(st, "daemon");
		json_object_put(st);
	}
	fprintf(stderr, "# root's daxo stat: %d of 10 served\n", served);
	for (int i = 0; i < 4; i++)
		live_end(pids[i]);
	assert_int_equal(served, 10);
	for (int i = 0; i < 4; i++)
		assert_true(held[i] >= (i == 0) && held[i] <= 8);
	assert_true(total <= 32 - 8);
	assert_true(daemon_alive());
}

static int idle_child(void *arg)
{
	int fd = raw_connect();

	(void)arg;
	if (fd < 0 || !hello_ok(fd))
		return 2;
	/* silent after its reply: closed within idle_timeout_ms (2 s) */
	return closed_by_daemon(fd) ? 0 : 1;
}

/* as_uid -- @fn(@arg) in a child running as @uid: its exit status */
static int as_uid(uid_t uid, int (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgid(uid) || setuid(uid))
			_exit(77);
		_exit(fn(arg));
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* an unprivileged connection that stays silent after a reply is closed
 * after idle_timeout_ms (the old daemon waited 60 s) */
static void test_idle_unprivileged_closed(void **state)
{
	assert_int_equal(as_uid(65534, idle_child, NULL), 0);
	assert_true(daemon_alive());
}

struct rate_result {
	int pid, long_path_refused, ok, limited;
	double secs;
};

static int rate_child(void *arg)
{
	int *out = arg, fd = raw_connect();
	struct rate_result r = {.pid = (int)getpid()};
	struct timespec t0, t1;
	static char req[8192], buf[8192];
	int n;

	if (fd < 0)
		return 2;
	/* a valid register request but for its 4,000-byte path */
	n = snprintf(req, sizeof(req),
		     "{\"v\":1,\"op\":\"register\",\"pid\":%d,\"base\":4096,"
		     "\"size\":4096,\"path\":\"/",
		     (int)getpid());
	memset(req + n, 'p', 3999);
	n += 3999;
	n += snprintf(req + n, sizeof(req) - (size_t)n, "\"}");
	if (!send_req(fd, req, (size_t)n) ||
	    recv_reply(fd, buf, sizeof(buf)) < 0)
		return 3;
	r.long_path_refused = strstr(buf, "\"ok\":false") && strstr(buf, "limit");
	close(fd);
	/* then 200 valid ones, as fast as the daemon answers */
	fd = raw_connect();
	if (fd < 0)
		return 2;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 200; i++) {
		n = snprintf(req, sizeof(req),
			     "{\"v\":1,\"op\":\"register\",\"pid\":%d,"
			     "\"base\":%d,\"size\":4096,\"path\":\"%s/"
			     "daxo-daemon-rate-%d\"}",
			     (int)getpid(), 4096 * (i + 1), pool_dir, i);
		if (!send_req(fd, req, (size_t)n) ||
		    recv_reply(fd, buf, sizeof(buf)) < 0)
			return 4;
		if (strstr(buf, "\"ok\":true"))
			r.ok++;
		else if (strstr(buf, "rate limit"))
			r.limited++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	r.secs = (double)(t1.tv_sec - t0.tv_sec) +
		 (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (write(out[1], &r, sizeof(r)) != sizeof(r))
		return 5;
	return 0;
}

/* count_events -- lines of the event log naming @event (and, if @pid > 0,
 * that pid); every line must be valid UTF-8 JSON */
static int count_events(const char *event, int pid)
{
	static char line[1 << 16];
	char want[64];
	int n = 0;
	FILE *f = fopen(evlog, "r");

	assert_non_null(f);
	snprintf(want, sizeof(want), "\"pid\":%d,", pid);
	while (fgets(line, sizeof(line), f)) {
		json_object *o = json_tokener_parse(line);

		assert_non_null(o);
		assert_true(test_utf8_valid(line, strlen(line)));
		json_object_put(o);
		if (strstr(line, event) && (pid <= 0 || strstr(line, want)))
			n++;
	}
	fclose(f);
	return n;
}

/*
 * An unprivileged process registering as fast as it can: a 4,000-byte
 * path is refused, and of 200 valid requests at most the uid's burst (20)
 * plus its rate (5 a second) are taken; the rest are refused with "rate
 * limit", the event log gets no more than that budget of its events, and
 * an events_suppressed event says what was dropped. (The old daemon took
 * all 200 and logged each.)
 */
static void test_register_rate_limited(void **state)
{
	struct rate_result r;
	int p[2], st, events;
	double allowed;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	st = as_uid(65534, rate_child, p);
	close(p[1]);
	assert_int_equal(st, 0);
	assert_int_equal(read(p[0], &r, sizeof(r)), sizeof(r));
	close(p[0]);
	allowed = 20 + 5 * r.secs + 2;
	events = count_events("\"event\":\"pool_registered\"", r.pid);
	fprintf(stderr,
		"# 200 registrations in %.2f s: %d taken, %d rate-limited; "
		"allowed %.0f\n",
		r.secs, r.ok, r.limited, allowed);
	assert_true(r.long_path_refused);
	assert_true(r.limited > 0);
	assert_true(r.ok + r.limited == 200);
	assert_true(r.ok <= allowed);
	for (int i = 0; i < WAIT_S * 10; i++) {
		if (count_events("\"event\":\"events_suppressed\"", -1) > 0)
			break;
		msleep(100);
	}
	assert_true(count_events("\"event\":\"events_suppressed\"", -1) > 0);
	fprintf(stderr, "# event log: %d pool_registered lines of pid %d\n",
		events, r.pid);
	assert_true(events <= allowed);
	assert_true(daemon_alive());
}

/*
 * Six processes of one unprivileged uid register a pool each (a mapped
 * file, so that the scan keeps it): the daemon tracks max_procs_per_uid (4
 * here) of them, so that one user cannot fill the registry that root's
 * processes need too. (The old daemon took all.)
 */
static void test_procs_per_uid_bounded(void **state)
{
	char file[400];
	pid_t pids[6];
	int out[2], tracked = 0, fd;
	json_object *st, *pools;

	snprintf(file, sizeof(file), "%s/procs-map", dir);
	fd = open(file, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4096), 0);
	close(fd);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	for (int i = 0; i < 6; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			char req[1024], buf[4096];
			void *m;
			int mfd;

			if (setgid(65530) || setuid(65530))
				_exit(77);
			mfd = open(file, O_RDONLY);
			m = mfd < 0 ? MAP_FAILED
				    : mmap(NULL, 4096, PROT_READ, MAP_SHARED,
					   mfd, 0);
			if (m == MAP_FAILED)
				_exit(4);
			fd = raw_connect();
			snprintf(req, sizeof(req),
				 "{\"v\":1,\"op\":\"register\",\"pid\":%d,"
				 "\"base\":%llu,\"size\":4096,\"path\":"
				 "\"%s\"}",
				 (int)getpid(),
				 (unsigned long long)(uintptr_t)m, file);
			if (fd < 0 || !send_req(fd, req, strlen(req)) ||
			    recv_reply(fd, buf, sizeof(buf)) < 0)
				_exit(2);
			close(fd);
			if (write(out[1], "r", 1) != 1)
				_exit(3);
			pause();
			_exit(0);
		}
		live_add(pids[i]);
	}
	close(out[1]);
	for (int i = 0; i < 6; i++) {
		char c;
		assert_int_equal(read(out[0], &c, 1), 1);
	}
	close(out[0]);
	st = stat_tool();
	assert_non_null(st);
	assert_true(json_object_object_get_ex(st, "pools", &pools));
	for (size_t i = 0; i < json_object_array_length(pools); i++) {
		json_object *p = json_object_array_get_idx(pools, i);
		tracked += json_object_get_int(json_object_object_get(
			       p, "uid")) == 65530;
	}
	json_object_put(st);
	for (int i = 0; i < 6; i++)
		live_end(pids[i]);
	fprintf(stderr, "# 6 processes of uid 65530 registered: %d tracked\n",
		tracked);
	assert_true(tracked >= 1 && tracked <= 4);
}

/* what a client sends is never echoed as invalid UTF-8, and a string with
 * an embedded NUL is not the string before it */
static void test_replies_are_valid_utf8(void **state)
{
	static const char *const reqs[] = {
	    "{\"v\":1,\"op\":\"\xff\xfehello\xc0\xaf\"}",
	    "{\"v\":1,\"op\":\"he\xed\xa0\x80llo\"}",
	    "{\"v\":1,\"op\":\"\\u00e9t\\u00e9\\u0007\\u001b[31m\"}",
	    "{\"v\":1,\"op\":\"x\x80\"}",
	};
	json_object *o;

	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		char *raw = call_raw(reqs[i]);

		assert_non_null(raw);
		if (!test_utf8_valid(raw, strlen(raw)))
			fail_msg("request %zu: the reply is not UTF-8: %s", i,
				 raw);
		o = json_tokener_parse(raw);
		assert_false(reply_ok(o));
		json_object_put(o);
		free(raw);
	}
	o = call("{\"v\":1,\"op\":\"hello\\u0000x\"}");
	assert_false(reply_ok(o));
	json_object_put(o);
	o = call("{\"v\":1,\"op\":\"stat\\u0000\"}");
	assert_false(reply_ok(o));
	json_object_put(o);
	assert_true(daemon_alive());
}

/* a pool file whose name holds invalid UTF-8 and a newline, mapped by a
 * process whose name holds the same: `stat` stays valid UTF-8 JSON, and
 * the event log one valid JSON object per line */
static void test_hostile_names_stay_valid_utf8(void **state)
{
	struct worker w;
	char *raw = NULL;
	bool seen = false;

	worker_start(&w, "bad\xff\n\x1b[0m", W_NOTIFY | W_CREATE | W_BADCOMM);
	for (int i = 0; i < WAIT_S * 10 && !seen; i++) {
		json_object *o;

		free(raw);
		raw = call_raw("{\"v\":1,\"op\":\"stat\"}");
		assert_non_null(raw);
		o = json_tokener_parse(raw);
		seen = find_pool(o, w.pid, NULL) != NULL;
		json_object_put(o);
		if (!seen)
			msleep(100);
	}
	assert_true(seen);
	if (!test_utf8_valid(raw, strlen(raw)))
		fail_msg("stat's reply is not UTF-8");
	/* the invalid byte and the escape character as \xNN (the kernel's
	 * maps show the newline as \012) */
	if (!strstr(raw, "bad\\\\xff") || !strstr(raw, "\\\\x1b[0m-"))
		fail_msg("no escaped name in %.2000s", strstr(raw, "\"pools\""));
	free(raw);
	worker_end(&w, 'Q');
	assert_true(wait_gone(w.pid));
	unlink(w.path);
	(void)count_events("\"event\"", -1); /* asserts every line */
}

static int tcp_connect(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* scrape -- GET /metrics on @port into @buf: the bytes read, or -1 if the
 * connection failed or nothing came within 3 s */
static long scrape(int port, char *buf, size_t cap)
{
	static const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
	struct timeval tv = {3, 0};
	size_t len = 0;
	ssize_t n;
	int fd = tcp_connect(port);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (write(fd, req, sizeof(req) - 1) != (ssize_t)sizeof(req) - 1) {
		close(fd);
		return -1;
	}
	while (len + 1 < cap && (n = read(fd, buf + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(fd);
	return len ? (long)len : -1;
}

/* by default the Prometheus text, which any local user can read, names
 * pools by id: no pid, no path (stat, for root, maps the id to them) */
static void test_metrics_endpoint(void **state)
{
	static char buf[1 << 20];
	struct worker w;
	json_object *st, *p;
	char want[96];

	worker_start(&w, "metrics", W_NOTIFY | W_CREATE);
	st = wait_pool(&w, NULL);
	p = find_pool(st, w.pid, w.path);
	snprintf(want, sizeof(want), "daxod_pool_faults_total{pool=\"%lld\",",
		 pool_i(p, NULL, "id"));
	json_object_put(st);
	assert_true(scrape(metrics_port, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "200 OK"));
	assert_non_null(strstr(buf, "daxod_up 1"));
	assert_non_null(strstr(buf, want));
	assert_null(strstr(buf, w.path));
	assert_null(strstr(buf, "pid=\""));
	assert_true(test_utf8_valid(buf, strlen(buf)));
	worker_end(&w, 'Q');
	assert_true(wait_gone(w.pid));
	unlink(w.path);
}

/*
 * the heap's figures of a pool another process holds open: free bytes and
 * the largest allocation in `daxo stat` and the metrics, following an
 * allocation of the process
 */
static void test_heap_figures_exported(void **state)
{
	static char buf[1 << 20];
	struct worker w;
	json_object *st, *p;
	long long free0, largest0, free1 = 0, id;
	char want[96];

	worker_start(&w, "heapfig", W_NOTIFY | W_CREATE);
	st = wait_pool(&w, NULL);
	p = find_pool(st, w.pid, w.path);
	id = pool_i(p, NULL, "id");
	free0 = pool_i(p, "heap", "free_bytes");
	largest0 = pool_i(p, "heap", "largest_alloc");
	fprintf(stderr, "# heap: %lld free, largest %lld of %lld\n", free0,
		largest0, pool_i(p, "heap", "bytes"));
	assert_true(free0 > (long long)POOL_SIZE / 2 &&
		    free0 <= (long long)POOL_SIZE);
	assert_true(largest0 > 0 && largest0 <= free0);
	json_object_put(st);
	worker_cmd(&w, 'A', 0, 4u << 20);
	for (int i = 0; i < WAIT_S * 10 && free1 > free0 - (4 << 20); i++) {
		if (i)
			msleep(100);
		st = stat_tool();
		p = find_pool(st, w.pid, w.path);
		free1 = p ? pool_i(p, "heap", "free_bytes") : free0;
		json_object_put(st);
	}
	assert_true(free1 <= free0 - (4 << 20));
	assert_true(scrape(metrics_port, buf, sizeof(buf)) > 0);
	snprintf(want, sizeof(want), "daxod_pool_heap_free_bytes{pool=\"%lld\"}",
		 id);
	assert_non_null(strstr(buf, want));
	snprintf(want, sizeof(want),
		 "daxod_pool_heap_largest_alloc_bytes{pool=\"%lld\"}", id);
	assert_non_null(strstr(buf, want));
	worker_end(&w, 'Q');
	assert_true(wait_gone(w.pid));
	unlink(w.path);
}

/* metrics_paths = true: the series carry pid and path (a second daemon
 * with that configuration, which finds the worker's pool by its scan) */
static void test_metrics_paths_option(void **state)
{
	static char buf[1 << 20];
	char conf3[400], sock3[400], mbuf[64], want[400];
	struct worker w;
	bool seen = false;
	pid_t d3;
	int port = free_port();
	FILE *f;

	snprintf(conf3, sizeof(conf3), "%s/daxod-paths.conf", dir);
	snprintf(sock3, sizeof(sock3), "%s/paths.sock", dir);
	f = fopen(conf3, "w");
	assert_non_null(f);
	fprintf(f, "[daxod]\nscan_interval_ms = 200\ntick_ms = 100\n"
		   "metrics_paths = true\nscan_paths = %s/daxo-daemon-\n",
		pool_dir);
	fclose(f);
	snprintf(mbuf, sizeof(mbuf), "127.0.0.1:%d", port);
	d3 = fork();
	assert_true(d3 >= 0);
	if (d3 == 0) {
		execl(daxod_bin, "daxod", "--config", conf3, "--socket", sock3,
		      "--metrics", mbuf, "--no-tracepoints", (char *)NULL);
		_exit(127);
	}
	worker_start(&w, "mpaths", W_NOTIFY | W_CREATE);
	snprintf(want, sizeof(want), "pid=\"%d\",path=\"%s\"", (int)w.pid,
		 w.path);
	for (int i = 0; i < WAIT_S * 10 && !seen; i++) {
		if (scrape(port, buf, sizeof(buf)) > 0 && strstr(buf, want))
			seen = true;
		else
			msleep(100);
	}
	kill(d3, SIGTERM);
	waitpid(d3, NULL, 0);
	worker_end(&w, 'Q');
	unlink(w.path);
	assert_true(seen);
}

/*
 * Idle connections do not take the endpoint: 16 of them leave it serving
 * (the old hand-written server had 16 slots and no timeout once a request
 * was read), and once metrics_max_connections (24 here) are held, it
 * serves again after metrics_timeout_s (1 s here) has closed them.
 */
static void test_metrics_idle_connections(void **state)
{
	static char buf[1 << 20];
	int fds[40], n = 0;
	bool ok = false;

	for (; n < 16; n++)
		assert_true((fds[n] = tcp_connect(metrics_port)) >= 0);
	assert_true(scrape(metrics_port, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "daxod_up 1"));
	for (; n < 40; n++)
		fds[n] = tcp_connect(metrics_port);
	for (int i = 0; i < WAIT_S * 10 && !ok; i++) {
		ok = scrape(metrics_port, buf, sizeof(buf)) > 0 &&
		     strstr(buf, "daxod_up 1");
		if (!ok)
			msleep(100);
	}
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	assert_true(ok);
	assert_true(daemon_alive());
}

static void test_restart_rediscovers_pools(void **state)
{
	struct worker w;
	json_object *st, *p;

	worker_start(&w, "restart", W_NOTIFY | W_CREATE);
	json_object_put(wait_pool(&w, NULL));
	stop_daemon();
	/* the application keeps working with no daemon */
	worker_touch(&w, TOUCH_OFF, 8);
	start_daemon();
	st = wait_pool(&w, "perf");
	p = find_pool(st, w.pid, w.path);
	assert_false(
	    json_object_get_boolean(json_object_object_get(p, "registered")));
	json_object_put(st);
	worker_touch(&w, TOUCH_OFF + (4 << 20), 32);
	st = stat_tool();
	p = find_pool(st, w.pid, w.path);
	assert_true(pool_i(p, "faults", "minor") >= (large_folios ? 1 : 28));
	json_object_put(st);
	worker_end(&w, 'Q');
	assert_true(wait_gone(w.pid));
	unlink(w.path);
}

static void test_event_log_is_json_lines(void **state)
{
	char rotated[400];
	struct stat sb;

	/* rotate: rename, SIGHUP, and the daemon writes a new file */
	snprintf(rotated, sizeof(rotated), "%s.1", evlog);
	assert_int_equal(rename(evlog, rotated), 0);
	assert_int_equal(kill(daemon_pid, SIGHUP), 0);
	for (int i = 0; i < WAIT_S * 10 && stat(evlog, &sb) != 0; i++)
		msleep(100);
	assert_int_equal(stat(evlog, &sb), 0);
	assert_true(daemon_alive());
	{
		struct worker w;
		worker_start(&w, "rotate", W_NOTIFY | W_CREATE);
		json_object_put(wait_pool(&w, NULL));
		worker_end(&w, 'Q');
		assert_true(wait_gone(w.pid));
		unlink(w.path);
	}
	assert_int_equal(stat(evlog, &sb), 0);
	assert_true(sb.st_size > 0);

	/* both files: JSON lines; the old one from the start, the new one
	 * with the rotate worker's registration and exit */
	const char *files[2] = {rotated, evlog};
	char line[65536];
	bool reg = false, gone = false, start = false, newreg = false;
	int n = 0;

	for (int k = 0; k < 2; k++) {
		FILE *f = fopen(files[k], "r");
		assert_non_null(f);
		while (fgets(line, sizeof(line), f)) {
			json_object *o = json_tokener_parse(line), *e;
			const char *ev;
			assert_non_null(o);
			assert_true(json_object_object_get_ex(o, "event", &e));
			assert_true(json_object_object_get_ex(o, "ts", NULL));
			ev = json_object_get_string(e);
			reg |= !strcmp(ev, "pool_registered");
			gone |= !strcmp(ev, "process_gone");
			start |= !strcmp(ev, "daemon_start");
			newreg |= k == 1 && !strcmp(ev, "pool_registered");
			json_object_put(o);
			n++;
		}
		fclose(f);
	}
	assert_true(newreg);
	assert_true(n > 3 && reg && gone && start);
}

/* run_tool -- the output of `daxo ARGS --socket S` */
static char *run_tool(const char *args)
{
	char cmd[1024], *buf = malloc(1 << 20);
	size_t len = 0, n;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "'%s' %s --socket '%s'", tool, args, sock);
	f = popen(cmd, "r");
	assert_non_null(f);
	while ((n = fread(buf + len, 1, (1 << 20) - 1 - len, f)) > 0)
		len += n;
	buf[len] = '\0';
	assert_int_equal(pclose(f), 0);
	return buf;
}

static void test_stat_and_top_show_pool(void **state)
{
	struct worker w;
	char *out;

	worker_start(&w, "top", W_NOTIFY | W_CREATE);
	json_object_put(wait_pool(&w, "perf"));
	worker_touch(&w, TOUCH_OFF, 32);
	out = run_tool("stat");
	fprintf(stderr, "%s", out);
	assert_non_null(strstr(out, w.path));
	assert_non_null(strstr(out, "faults (perf, per pool)"));
	free(out);
	out = run_tool("top --iterations 2 --interval 0.2");
	fprintf(stderr, "%s", out);
	assert_non_null(strstr(out, "MINOR/s"));
	assert_non_null(strstr(out, w.path));
	assert_null(strstr(out, "\033[")); /* no escapes when not a tty */
	free(out);
	worker_end(&w, 'Q');
	assert_true(wait_gone(w.pid));
	unlink(w.path);
}

/* a missing, wrong or stuck daemon never fails (or hangs) daxo_open */
static void test_notify_never_fails_open(void **state)
{
	char path[256], stuck[400], longp[200];
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	const char *socks[4];
	struct timespec t0, t1;
	int lfd, fds[64], nfds = 0;

	snprintf(path, sizeof(path), "%s/daxo-daemon-notify-%d.pool",
		 pool_dir, (int)getpid());
	unlink(path);
	snprintf(stuck, sizeof(stuck), "%s/stuck.sock", dir);
	memset(longp, 'x', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	/* a "daemon" that listens but never accepts or reads */
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(strlen(stuck) < sizeof(a.sun_path));
	memcpy(a.sun_path, stuck, strlen(stuck) + 1);
	assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	/* fill its backlog so that connects are refused with EAGAIN */
	for (int i = 0; i < 8; i++) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			fds[nfds++] = fd;
		else
			close(fd);
	}
	socks[0] = "/nonexistent/daxod.sock";
	socks[1] = stuck;
	socks[2] = conf; /* a regular file */
	socks[3] = longp;
	setenv("DAXO_NOTIFY", "1", 1);
	for (size_t k = 0; k < 4; k++) {
		daxo_pool *p;
		setenv("DAXO_SOCKET", socks[k], 1);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		unlink(path);
		assert_int_equal(daxo_create(path, "n", POOL_SIZE, 0600, &p),
				 0);
		assert_int_equal(daxo_close(p), 0);
		for (int i = 0; i < 5; i++) {
			assert_int_equal(daxo_open(path, "n", 0, &p), 0);
			assert_int_equal(daxo_close(p), 0);
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		fprintf(stderr, "# %s: 6 opens+closes in %.1f ms\n",
			k == 3 ? "(over-long path)" : socks[k],
			(double)(t1.tv_sec - t0.tv_sec) * 1e3 +
			    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	}
	unsetenv("DAXO_SOCKET");
	setenv("DAXO_NOTIFY", "0", 1);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	close(lfd);
	unlink(stuck);
	unlink(path);
}

static void test_stat_without_daemon_fails_cleanly(void **state)
{
	char cmd[600];
	int st;

	snprintf(cmd, sizeof(cmd),
		 "'%s' stat --socket /nonexistent/d.sock "
		 "2>/dev/null",
		 tool);
	st = system(cmd);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 1);
	snprintf(cmd, sizeof(cmd), "'%s' stat --bogus 2>/dev/null", tool);
	st = system(cmd);
	assert_int_equal(WEXITSTATUS(st), 2);
}

/* run_daxod -- exit status of daxod with @a1 @a2 (a start-up failure) */
static int run_daxod(const char *a1, const char *a2, const char *a3)
{
	char s2[450];
	pid_t pid;
	int st;

	snprintf(s2, sizeof(s2), "%s/other.sock", dir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 2);
		execl(daxod_bin, "daxod", "--socket", s2, a1, a2, a3,
		      (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void test_bad_configuration_refused(void **state)
{
	char bad[300];
	FILE *f;

	snprintf(bad, sizeof(bad), "%s/bad.conf", dir);
	f = fopen(bad, "w");
	assert_non_null(f);
	fprintf(f, "[daxod]\nscan_interval_ms = 200\nno_such_key = 1\n");
	fclose(f);
	assert_int_equal(run_daxod("--config", bad, NULL), 2);
	f = fopen(bad, "w");
	fprintf(f, "[daxod]\nsample_period = zero\n");
	fclose(f);
	assert_int_equal(run_daxod("--config", bad, NULL), 2);
	assert_int_equal(run_daxod("--config", "/nonexistent.conf", NULL), 2);
	/* metrics only on loopback */
	assert_int_equal(run_daxod("--config", conf, "--metrics=8.8.8.8:9464"),
			 1);
	/* a second daemon on a live socket refuses to start */
	{
		char s2[450];
		snprintf(s2, sizeof(s2), "%s", sock);
		pid_t pid = fork();
		int st;
		if (pid == 0) {
			int devnull = open("/dev/null", O_WRONLY);
			dup2(devnull, 2);
			execl(daxod_bin, "daxod", "--config", conf, "--socket",
			      s2, (char *)NULL);
			_exit(127);
		}
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_int_equal(WEXITSTATUS(st), 1);
	}
	assert_true(daemon_alive());
}

/* nobody_may_write -- may uid nobody create files in @d? */
static bool nobody_may_write(const char *d)
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(setgid(65534) || setuid(65534) ||
			      access(d, W_OK | X_OK)
			  ? 1
			  : 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static int paranoid(void)
{
	FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "r");
	int v = 3;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = 3;
		fclose(f);
	}
	return v;
}

/*
 * An unprivileged daxod (uid nobody): a root process that registers with
 * it cannot be perf-traced, so its pool is in procstat mode and reports
 * the process's own fault totals; a process of its own uid is traced with
 * perf where perf_event_paranoid <= 2.
 */
static void test_unprivileged_daemon_falls_back(void **state)
{
	char saved[sizeof(sock)], udir[300];
	pid_t saved_pid = daemon_pid, upid;
	struct worker w, v;
	json_object *st, *p;
	long long f0, f1;
	int status;

	snprintf(udir, sizeof(udir), "%s/unpriv", dir);
	assert_int_equal(mkdir(udir, 0755), 0);
	assert_int_equal(chown(udir, 65534, 65534), 0);
	memcpy(saved, sock, sizeof(sock));
	snprintf(sock, sizeof(sock), "%s/daxod.sock", udir);
	upid = fork();
	assert_true(upid >= 0);
	if (upid == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(77);
		/* and the pagemap read path instead of PAGEMAP_SCAN; the
		 * copy of daxod in dir/bin, which nobody may run */
		execl(nobody_daxod, "daxod", "--config", conf2, "--socket",
		      sock, "--no-tracepoints", (char *)NULL);
		_exit(127);
	}
	parked_daemon = saved_pid;
	daemon_pid = upid;
	for (int i = 0; i < WAIT_S * 20 && !daemon_alive(); i++) {
		assert_int_equal(waitpid(upid, NULL, WNOHANG), 0);
		msleep(50);
	}
	assert_true(daemon_alive());

	/* root's process: no perf for an unprivileged daemon */
	worker_start(&w, "unpriv-root", W_NOTIFY | W_CREATE);
	st = wait_pool(&w, "procstat");
	p = find_pool(st, w.pid, w.path);
	assert_string_equal(json_object_get_string(json_object_object_get(
				json_object_object_get(p, "faults"), "scope")),
			    "process");
	f0 = pool_i(p, "faults", "minor");
	json_object_put(st);
	worker_touch(&w, TOUCH_OFF, NPAGES);
	st = stat_tool();
	p = find_pool(st, w.pid, w.path);
	f1 = pool_i(p, "faults", "minor");
	json_object_put(st);
	fprintf(stderr, "# procstat mode: %lld process faults for %u pages\n",
		f1 - f0, NPAGES);
	assert_true(f1 - f0 >= (large_folios ? 1 : NPAGES * 9 / 10));
	assert_true(f1 - f0 <= NPAGES + 256);
	worker_end(&w, 'Q');
	unlink(w.path);

	/* its own uid's process: perf where the system allows it */
	if (!nobody_may_write(pool_dir)) {
		print_message("# skipped the uid-nobody pool: nobody may not "
			      "create files in %s (DAXO_TEST_DIR)\n",
			      pool_dir);
		goto out;
	}
	worker_start(&v, "unpriv-own", W_NOTIFY | W_CREATE | W_NOBODY);
	st = wait_pool(&v, paranoid() <= 2 ? "perf" : "procstat");
	json_object_put(st);
	if (paranoid() <= 2) {
		st = stat_tool();
		p = find_pool(st, v.pid, v.path);
		long long m0, m1;
		f0 = pool_i(p, "faults", "minor");
		m0 = pool_i(p, NULL, "mapped_bytes");
		json_object_put(st);
		worker_touch(&v, TOUCH_OFF, NPAGES);
		st = stat_tool();
		p = find_pool(st, v.pid, v.path);
		f1 = pool_i(p, "faults", "minor");
		m1 = pool_i(p, NULL, "mapped_bytes");
		json_object_put(st);
		assert_true(f1 - f0 >= (large_folios ? 1 : NPAGES * 9 / 10));
		assert_true(f1 - f0 <= NPAGES + 16);
		/* mapped_bytes through the pagemap read path */
		assert_true(m1 - m0 >= (long long)NPAGES * PG * 9 / 10);
		assert_true(m1 - m0 <= (long long)NPAGES * PG + (2 << 20));
	}
	worker_end(&v, 'Q');
	unlink(v.path);
out:
	kill(upid, SIGTERM);
	assert_int_equal(waitpid(upid, &status, 0), upid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	daemon_pid = saved_pid;
	parked_daemon = -1;
	memcpy(sock, saved, sizeof(sock));
}

#define T(f) cmocka_unit_test_setup_teardown(f, test_setup, test_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_stat_shape_has_contract_fields),
	    T(test_faults_attributed_to_pool),
	    T(test_new_thread_faults_attributed),
	    T(test_faults_before_registration_credited),
	    T(test_prefault_removes_first_touch_faults),
	    T(test_crashed_process_disappears),
	    T(test_unregistered_pool_discovered),
	    T(test_other_uid_cannot_query),
	    T(test_register_for_other_pid_rejected),
	    T(test_bad_clients_survived),
	    T(test_fuzzish_messages_survived),
	    T(test_metrics_endpoint),
	    T(test_heap_figures_exported),
	    T(test_metrics_paths_option),
	    T(test_metrics_idle_connections),
	    T(test_unprivileged_cannot_starve_root),
	    T(test_idle_unprivileged_closed),
	    T(test_register_rate_limited),
	    T(test_procs_per_uid_bounded),
	    T(test_replies_are_valid_utf8),
	    T(test_hostile_names_stay_valid_utf8),
	    T(test_notify_never_fails_open),
	    T(test_bad_configuration_refused),
	    T(test_stat_without_daemon_fails_cleanly),
	    T(test_stat_and_top_show_pool),
	    T(test_unprivileged_daemon_falls_back),
	    T(test_restart_rediscovers_pools),
	    T(test_event_log_is_json_lines),
	};

	if (geteuid() != 0 && getenv("DAXOD_TEST_UNPRIV") == NULL) {
		/* perf on our own children works unprivileged only where
		 * perf_event_paranoid <= 2; the uid test needs root */
		FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "r");
		int v = 3;
		if (f) {
			if (fscanf(f, "%d", &v) != 1)
				v = 3;
			fclose(f);
		}
		if (v > 2) {
			printf(
			    "skip: not root and perf_event_paranoid=%d > 2\n",
			    v);
			return 77;
		}
	}
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
