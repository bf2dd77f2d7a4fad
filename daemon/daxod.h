/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * daxod.h -- declarations shared by the modules of daxod.
 *
 * daxod is one thread around one epoll loop (ev.c). Everything that can
 * wake it -- the listening socket, each client, each perf ring buffer, each
 * process's pidfd, the tracepoint rings, the metrics port, a periodic timer
 * and a signalfd -- is a `struct evsrc` registered with ev_add(); the loop
 * calls its callback. No callback blocks: sockets are non-blocking, /proc
 * reads are bounded, and a client that does not keep up is dropped.
 *
 * Modules (one concept each):
 *   daxod.c      main, options, signals, the periodic timer
 *   ev.c         the event loop (ev.h)
 *   config.c     the configuration file (inih) and defaults
 *   log.c        diagnostics (stderr/syslog/file) and the JSON-lines event log
 *   proto.c      the wire protocol: framing and request parsing (pure)
 *   server.c     the Unix socket: clients, peer credentials, timeouts
 *   uidlim.c     per-uid limits: connections, processes, request and
 *                event rates (root and the daemon's uid are exempt)
 *   registry.c   processes and the pools mapped in them; sliding windows
 *   scan.c       /proc/PID/maps discovery of mapped pool files
 *   perf.c       perf_event_open page-fault sampling per thread
 *   tracepoint.c fs_dax tracepoints (PMD versus PTE faults), privileged
 *   procstat.c   /proc/PID/stat fault totals (the unprivileged fallback)
 *   pagemap.c    /proc/PID/pagemap: bytes of a pool mapped right now
 *   heapstat.c   a pool's free bytes and largest allocation (libdaxo's
 *                daxo_heap_stat of the process's mapping)
 *   devices.c    persistent-memory hardware through libndctl/libdaxctl
 *   report.c     the snapshot as JSON (json-c) and as Prometheus text
 *   metrics.c    the loopback HTTP endpoint (libmicrohttpd) serving the
 *                Prometheus text
 */
#ifndef DAXOD_H
#define DAXOD_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "ev.h"
#include "proto.h"

#define ARRAY_SIZE(a)	 (sizeof(a) / sizeof((a)[0]))
#define HEAT_EXTENT_MIN	 (2ull << 20) /* heat map granularity: 2 MiB */
#define HEAT_MAX_BUCKETS 4096u	      /* coarser extents for huge pools */
#define WINDOW_MAX	 120u	      /* sliding window, in ticks */

#ifndef DAXOD_VERSION
#define DAXOD_VERSION "0.1.0"
#endif

/* ---- configuration (config.c) ---- */

struct config {
	char socket_path[108];
	unsigned socket_mode;	    /* permissions of the socket file */
	char metrics[64];	    /* "127.0.0.1:PORT" or "" */
	char event_log[4096];	    /* path, "-" for stdout, or "" */
	char log_target[4096];	    /* "stderr", "syslog" or "file:PATH" */
	int log_level;		    /* syslog levels: 3 err .. 7 debug */
	unsigned scan_interval_ms;  /* /proc scan period */
	unsigned tick_ms;	    /* ring drain and rate sampling period */
	unsigned window_s;	    /* sliding window for rates */
	unsigned sample_period;	    /* 1 = every fault */
	unsigned ring_pages;	    /* data pages per perf ring buffer */
	unsigned device_interval_s; /* device rediscovery period */
	unsigned client_timeout_ms; /* a request or reply must finish in this */
	unsigned idle_timeout_ms;   /* silence between requests, unprivileged */
	unsigned max_clients;	    /* connections at once, in all */
	unsigned reserved_clients;  /* of those, only for root/daemon's uid */
	unsigned max_clients_per_uid;	/* an unprivileged uid's share */
	unsigned max_procs_per_uid;	/* processes tracked per unprivileged uid */
	unsigned uid_request_rate;	/* register/unregister a second, per uid */
	unsigned uid_request_burst;
	unsigned uid_event_rate; /* events written a second for a uid */
	unsigned uid_event_burst;
	unsigned metrics_max_connections;
	unsigned metrics_reserved_connections; /* only for root/daemon's uid */
	unsigned metrics_max_connections_per_uid; /* an unprivileged uid's */
	unsigned metrics_timeout_s; /* an idle metrics connection is closed */
	bool metrics_paths;	    /* label pool series with pid and path */
	bool use_perf;
	bool use_tracepoints;
	bool scan_proc;
	bool pagemap_scan;     /* use the PAGEMAP_SCAN ioctl if present */
	char scan_paths[4096]; /* ':'-separated path prefixes; "" = all */
};

extern struct config cfg;
void config_defaults(struct config *c);
/* config_load -- read an ini file: 0; 1 if it is absent and !@must_exist;
 * -errno if unreadable, -EINVAL on a bad line, key or value */
int config_load(struct config *c, const char *path, bool must_exist);
int config_set(struct config *c, const char *key, const char *val);
/* config_check -- the keys agree with each other: 0 or -EINVAL (printed) */
int config_check(const struct config *c);

/* ---- logging (log.c) ---- */

int log_open(const char *target, int level);
void log_msg(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int event_log_open(const char *path);
/* event_emit -- write one JSON line {"ts":..,"event":name, ...obj}; takes obj
 */
void event_emit(const char *name, json_object *obj);
/* event_emit_uid -- the same for an event a user's process or client
 * caused: within that uid's event budget (uid_take_event), else dropped */
void event_emit_uid(uid_t uid, const char *name, json_object *obj);
#define TEXT_MAX 4096u /* text_safe's limit: a path from /proc */
/*
 * text_safe -- @s as printable, valid UTF-8 of at most about @max bytes
 * (proto_text): what paths, process names and anything a client sent
 * become before they are written to a reply, an event or a log line.
 * A static buffer per @slot (0..3), valid until the next call with it.
 */
const char *text_safe(int slot, const char *s, size_t max);
/* json_text -- json_object_new_string(text_safe(..)) */
json_object *json_text(const char *s, size_t max);
void logs_reopen(const char *event_log, const char *target);
void log_close(void);

/* ---- fault statistics ---- */

enum fault_mode {
	MODE_PROCSTAT = 0, /* /proc/PID/stat totals of the whole process */
	MODE_PERF,	   /* sampled addresses, attributed per pool */
	MODE_TRACEPOINT,   /* perf plus fs_dax PMD/PTE events (DAX pools) */
};

const char *mode_name(enum fault_mode m);

struct fault_counts {
	uint64_t minor, major; /* attributed samples (x sample_period) */
	uint64_t pmd, pte;     /* fs_dax fault_done events */
	uint64_t pmd_fallback; /* PMD faults that fell back to PTEs */
	uint64_t dax_errors;   /* DAX faults ending in SIGBUS or poison */
	uint64_t sampled;      /* samples that landed in this pool */
};

/* a ring of (time, minor, major) points, one per tick */
struct window {
	double t[WINDOW_MAX];
	uint64_t minor[WINDOW_MAX], major[WINDOW_MAX];
	unsigned head, len;
};

void window_push(struct window *w, double t, uint64_t minor, uint64_t major);
/* window_rate -- faults per second from the oldest point of the window to
 * (@t, @minor, @major), the current totals; 0 before the first point */
void window_rate(const struct window *w, double t, uint64_t minor,
		 uint64_t major, double *rminor, double *rmajor);

/* ---- registry (registry.c) ---- */

struct dproc;

struct dpool {
	struct dpool *next;
	struct dproc *proc;
	uint64_t id; /* unique for the daemon's life: the metrics' pool label */
	char *path;
	uint64_t base, size;
	uint64_t dev, ino; /* of the mapped file; 0 if unknown */
	int pmem;	   /* 1, 0, or -1 unknown (discovered) */
	bool dax, map_sync, devdax;
	bool registered;  /* the process told us about it */
	bool in_maps;	  /* seen in /proc/PID/maps */
	unsigned missing; /* scans in a row it was not in maps */
	double t_seen;
	struct fault_counts fc;
	uint32_t *heat;
	uint32_t nheat;
	uint64_t heat_extent;
	uint64_t mapped_bytes;
	struct window win;
	/* the heap's figures (heapstat.c), if heap_ok, read at heap_at */
	bool heap_ok;
	double heap_at;
	uint64_t heap_bytes, heap_free, heap_largest;
};

struct perf_thread;

#define RECENT_MAX 512u /* unattributed samples remembered per process */

struct recent_fault {
	uint64_t addr;
	uint64_t n; /* 0: empty or already credited */
	bool major;
};

struct dproc {
	struct dproc *next;
	pid_t pid;
	uid_t uid;
	unsigned long long starttime; /* field 22 of stat: guards pid reuse */
	char comm[32];
	struct evsrc pidfd;
	struct perf_thread *threads;
	enum fault_mode mode;
	bool perf_denied; /* perf_event_open refused: stay procstat */
	struct dpool *pools;
	unsigned npools;
	uint64_t minflt0, majflt0;   /* /proc/PID/stat when first seen */
	uint64_t minflt, majflt;     /* latest */
	uint64_t unattributed;	     /* samples outside every pool */
	struct recent_fault *recent; /* ring of the last RECENT_MAX of them */
	unsigned recent_head;
	uint64_t lost;	   /* PERF_RECORD_LOST */
	struct window win; /* process totals, for procstat rates */
	double t_seen;
};

struct registry {
	struct dproc *procs;
	unsigned nprocs, npools;
	uint64_t scans;
	uint64_t next_pool_id;
};

extern struct registry reg;

#define MAX_PROCS	   4096u
#define MAX_POOLS_PER_PROC 256u

struct dproc *reg_proc_find(pid_t pid);
/* reg_proc_get -- find or start tracking @pid; NULL if gone or too many */
struct dproc *reg_proc_get(pid_t pid);
void reg_proc_forget(struct dproc *pr, const char *why);
struct dpool *reg_pool_find(struct dproc *pr, uint64_t base);
struct dpool *reg_pool_at(struct dproc *pr, uint64_t addr);
struct dpool *reg_pool_add(struct dproc *pr, const char *path, uint64_t base,
			   uint64_t size);
void reg_pool_remove(struct dproc *pr, struct dpool *pl, const char *why);
/* reg_register -- a validated "register" request from @peer_pid */
int reg_register(const struct proto_req *rq, char *err, size_t errlen);
int reg_unregister(const struct proto_req *rq, char *err, size_t errlen);
/* reg_account -- one sample at @addr in @pr: credit the pool it hits */
void reg_account(struct dproc *pr, uint64_t addr, bool major, uint64_t n);
void reg_tick(double t);
void reg_free_all(void);

/* ---- /proc scanning (scan.c, procstat.c, pagemap.c) ---- */

void scan_all(void);
/* scan_proc -- rescan one process's maps now (after a registration) */
void scan_proc(struct dproc *pr);
void scan_cache_free(void);
int procstat_read(pid_t pid, uint64_t *minflt, uint64_t *majflt,
		  unsigned long long *starttime, char *comm, size_t commlen);
int pagemap_mapped(pid_t pid, uint64_t base, uint64_t size, uint64_t *out);
/* heapstat_refresh -- read @pl's heap figures, at most once a scan interval */
void heapstat_refresh(struct dpool *pl);

/* ---- perf (perf.c) and tracepoints (tracepoint.c) ---- */

extern bool perf_available; /* last perf_event_open on a process worked */
int perf_attach(struct dproc *pr); /* all threads; 0 or -errno */
void perf_refresh_threads(struct dproc *pr);
void perf_detach(struct dproc *pr);
void perf_drain(struct dproc *pr);
void perf_drain_all(void);
unsigned perf_nthreads(const struct dproc *pr);
int perf_paranoid(void);

extern bool tp_active;
int tp_start(void);
/* tp_credit_recent -- credit a new pool with its earlier DAX faults */
void tp_credit_recent(struct dproc *pr, struct dpool *pl);
void tp_drain(void);
void tp_stop(void);
uint64_t tp_events(void);

/* ---- devices (devices.c) ---- */

void devices_scan(void);
json_object *devices_json(void); /* new reference */
const char *devices_summary(void);
unsigned devices_count(void);
void devices_free(void);

/* ---- per-uid limits (uidlim.c) ---- */

struct uid_use {
	uid_t uid;
	bool used;
	unsigned conns; /* socket clients now */
	unsigned mconns; /* metrics port connections now */
	unsigned procs; /* processes tracked now */
	double req_tokens, ev_tokens, t_refill;
	uint64_t req_refused, ev_suppressed, ev_reported;
};

/* uid_privileged -- root or the daemon's own uid: no per-uid limits */
bool uid_privileged(uid_t uid);
/* uid_use -- the entry of @uid (a shared one when the table is full) */
struct uid_use *uid_use(uid_t uid);
/* uid_take_request, uid_take_event -- spend a token: false if none left */
bool uid_take_request(uid_t uid);
bool uid_take_event(uid_t uid);
/* uid_tick -- once a second: an events_suppressed event per throttled uid */
void uid_tick(double t);
json_object *uid_json(void); /* the uids with something to show */

/* ---- the socket server (server.c) and metrics (metrics.c) ---- */

struct server_stats {
	uint64_t accepted, requests, rejected, dropped_malformed,
	    dropped_oversize, dropped_timeout, dropped_limit, rate_limited;
	unsigned clients;
};

extern struct server_stats srv_stats;
int server_start(const char *path, unsigned mode);
void server_tick(double t);
void server_stop(void);

int metrics_start(const char *addr);
void metrics_tick(double t);
void metrics_stop(void);

/* ---- reports (report.c) ---- */

extern double daemon_start_mono;
extern double daemon_start_real;
json_object *report_stat(void); /* new reference */
json_object *report_pool(const struct dpool *pl);
/* report_prometheus -- malloc'ed text; NULL on ENOMEM */
char *report_prometheus(size_t *len);

#endif
