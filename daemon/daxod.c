/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * daxod.c -- the daxo daemon: watches mapped pools and their page faults.
 *
 * main() reads the configuration (defaults < config file < DAXO_SOCKET <
 * command line), starts the socket server, the optional metrics port, the
 * fs_dax tracepoints and device discovery, and runs the event loop in the
 * foreground until SIGINT or SIGTERM. SIGHUP reopens the log files (after
 * a rotation) and rescans devices and /proc.
 * Periodic work runs from a timerfd every tick_ms: perf rings are drained,
 * sliding-window rates sampled, client deadlines enforced; every
 * scan_interval_ms /proc is scanned; every device_interval_s devices are.
 * The loop itself is ev.c's.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "daxod.h"

#define DEFAULT_CONFIG "/etc/daxo/daxod.conf"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: daxod [OPTIONS]\n"
	    "Watch mapped daxo pools and their page faults; serve them on a "
	    "Unix socket.\n\n"
	    "  -s, --socket PATH        listening socket (default $DAXO_SOCKET "
	    "or " DAXOD_DEFAULT_SOCKET ")\n"
	    "  -c, --config FILE        configuration file "
	    "(default " DEFAULT_CONFIG " if present)\n"
	    "  -m, --metrics ADDR:PORT  Prometheus text on a loopback port\n"
	    "  -e, --event-log FILE     JSON-lines event log ('-' = stdout)\n"
	    "  -l, --log TARGET         stderr (default), syslog or file:PATH\n"
	    "  -v, --verbose            more diagnostics (repeat for debug)\n"
	    "      --scan-interval MS   /proc scan period (default 1000)\n"
	    "      --sample-period N    sample every Nth fault (default 1)\n"
	    "      --window S           rate window in seconds (default 10)\n"
	    "      --no-perf            do not use perf_event_open (procstat "
	    "only)\n"
	    "      --no-tracepoints     do not use the fs_dax tracepoints\n"
	    "      --no-scan            only registered pools, no /proc scan\n"
	    "  -f, --foreground         run in the foreground (the default)\n"
	    "  -V, --version            print the version\n"
	    "  -h, --help               this text\n\n"
	    "See daxod(8).\n");
}

enum {
	OPT_SCAN = 256,
	OPT_PERIOD,
	OPT_WINDOW,
	OPT_NOPERF,
	OPT_NOTP,
	OPT_NOSCAN,
};

static const struct option longopts[] = {
    {"socket", required_argument, NULL, 's'},
    {"config", required_argument, NULL, 'c'},
    {"metrics", required_argument, NULL, 'm'},
    {"event-log", required_argument, NULL, 'e'},
    {"log", required_argument, NULL, 'l'},
    {"verbose", no_argument, NULL, 'v'},
    {"foreground", no_argument, NULL, 'f'},
    {"scan-interval", required_argument, NULL, OPT_SCAN},
    {"sample-period", required_argument, NULL, OPT_PERIOD},
    {"window", required_argument, NULL, OPT_WINDOW},
    {"no-perf", no_argument, NULL, OPT_NOPERF},
    {"no-tracepoints", no_argument, NULL, OPT_NOTP},
    {"no-scan", no_argument, NULL, OPT_NOSCAN},
    {"version", no_argument, NULL, 'V'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int set_opt(const char *key, const char *val)
{
	int r = config_set(&cfg, key, val);

	if (r)
		fprintf(stderr, "daxod: bad value for %s: \"%s\"\n", key, val);
	return r;
}

/* parse_args -- apply the command line over the configuration */
static int parse_args(int argc, char **argv)
{
	const char *config = NULL;
	int c, verbose = 0, r;

	/* first pass: --config, --help, --version */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "s:c:m:e:l:vfVh", longopts,
				NULL)) != -1) {
		if (c == 'c')
			config = optarg;
		else if (c == 'h') {
			usage(stdout);
			exit(0);
		} else if (c == 'V') {
			printf("daxod %s (protocol %d)\n", DAXOD_VERSION,
			       PROTO_VERSION);
			exit(0);
		}
	}
	config_defaults(&cfg);
	r = config_load(&cfg, config ? config : DEFAULT_CONFIG, config != NULL);
	if (r < 0)
		return r;
	{
		const char *s = getenv("DAXO_SOCKET");
		if (s && *s && set_opt("socket", s))
			return -EINVAL;
	}
	optind = 1;
	opterr = 1;
	while ((c = getopt_long(argc, argv, "s:c:m:e:l:vfVh", longopts,
				NULL)) != -1) {
		switch (c) {
		case 's':
			r = set_opt("socket", optarg);
			break;
		case 'm':
			r = set_opt("metrics", optarg);
			break;
		case 'e':
			r = set_opt("event_log", optarg);
			break;
		case 'l':
			r = set_opt("log", optarg);
			break;
		case 'v':
			verbose++;
			r = 0;
			break;
		case OPT_SCAN:
			r = set_opt("scan_interval_ms", optarg);
			break;
		case OPT_PERIOD:
			r = set_opt("sample_period", optarg);
			break;
		case OPT_WINDOW:
			r = set_opt("window_s", optarg);
			break;
		case OPT_NOPERF:
			cfg.use_perf = false;
			r = 0;
			break;
		case OPT_NOTP:
			cfg.use_tracepoints = false;
			r = 0;
			break;
		case OPT_NOSCAN:
			cfg.scan_proc = false;
			r = 0;
			break;
		case 'c':
		case 'f':
			r = 0;
			break;
		default:
			usage(stderr);
			return -EINVAL;
		}
		if (r)
			return r;
	}
	if (optind < argc) {
		fprintf(stderr, "daxod: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return -EINVAL;
	}
	if (verbose == 1 && cfg.log_level < LOG_INFO)
		cfg.log_level = LOG_INFO;
	else if (verbose >= 2)
		cfg.log_level = LOG_DEBUG;
	return config_check(&cfg);
}

static void signal_cb(struct evsrc *src, uint32_t events)
{
	struct signalfd_siginfo si;

	while (read(src->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			logs_reopen(cfg.event_log, cfg.log_target);
			log_msg(LOG_INFO, "SIGHUP: logs reopened; rescanning");
			devices_scan();
			scan_all();
		} else {
			ev_stop();
		}
	}
}

static double last_scan, last_devices;

static void timer_cb(struct evsrc *src, uint32_t events)
{
	uint64_t exp;
	double t = now_mono();

	(void)read(src->fd, &exp, sizeof(exp));
	perf_drain_all();
	if (tp_active)
		tp_drain();
	for (struct dproc *pr = reg.procs; pr; pr = pr->next)
		perf_refresh_threads(pr);
	if ((t - last_scan) * 1000.0 >= cfg.scan_interval_ms) {
		last_scan = t;
		scan_all();
	}
	if (t - last_devices >= cfg.device_interval_s) {
		last_devices = t;
		devices_scan();
	}
	reg_tick(t);
	server_tick(t);
	metrics_tick(t);
	uid_tick(t);
}

static void raise_nofile(void)
{
	struct rlimit rl;

	/* two perf fds per watched thread */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	struct evsrc sig = {.fd = -1}, timer = {.fd = -1};
	struct itimerspec its;
	sigset_t mask;
	int ret = 1;

	if (parse_args(argc, argv))
		return 2;
	log_open(cfg.log_target, cfg.log_level);
	if (event_log_open(cfg.event_log))
		return 1;
	raise_nofile();
	daemon_start_mono = now_mono();
	daemon_start_real = now_real();

	if (ev_init()) {
		log_msg(LOG_ERR, "epoll: %s", strerror(errno));
		return 1;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sig.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	sig.cb = signal_cb;
	timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	timer.cb = timer_cb;
	if (sig.fd < 0 || timer.fd < 0 || ev_add(&sig, EPOLLIN) ||
	    ev_add(&timer, EPOLLIN)) {
		log_msg(LOG_ERR, "signalfd/timerfd: %s", strerror(errno));
		goto out;
	}
	its.it_interval.tv_sec = cfg.tick_ms / 1000;
	its.it_interval.tv_nsec = (long)(cfg.tick_ms % 1000) * 1000000L;
	its.it_value = its.it_interval;
	timerfd_settime(timer.fd, 0, &its, NULL);

	if (server_start(cfg.socket_path, cfg.socket_mode))
		goto out;
	if (cfg.metrics[0] && metrics_start(cfg.metrics))
		goto out;
	if (cfg.use_tracepoints)
		tp_start();
	if (cfg.use_perf && perf_paranoid() > 2 && geteuid() != 0)
		log_msg(LOG_NOTICE,
			"perf_event_paranoid=%d: unprivileged perf "
			"is off on this system; processes will be in procstat "
			"mode",
			perf_paranoid());
	devices_scan();
	last_devices = now_mono();
	scan_all();
	last_scan = now_mono();
	{
		json_object *o = json_object_new_object();
		json_object_object_add(o, "version",
				       json_object_new_string(DAXOD_VERSION));
		json_object_object_add(o, "socket",
				       json_object_new_string(cfg.socket_path));
		json_object_object_add(o, "tracepoints",
				       json_object_new_boolean(tp_active));
		json_object_object_add(o, "perf_event_paranoid",
				       json_object_new_int(perf_paranoid()));
		event_emit("daemon_start", o);
	}
	log_msg(LOG_INFO, "daxod %s running (pid %d), devices: %s",
		DAXOD_VERSION, (int)getpid(), devices_summary());

	{
		int r = ev_run();

		if (r)
			log_msg(LOG_ERR, "epoll_wait: %s", strerror(-r));
	}
	ret = 0;
	event_emit("daemon_stop", NULL);
	log_msg(LOG_INFO, "exiting");
out:
	server_stop();
	metrics_stop();
	tp_stop();
	reg_free_all();
	devices_free();
	scan_cache_free();
	if (sig.fd >= 0)
		close(sig.fd);
	if (timer.fd >= 0)
		close(timer.fd);
	ev_fini();
	log_close();
	return ret;
}
