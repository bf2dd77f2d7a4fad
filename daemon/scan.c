/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * scan.c -- find mapped pool files in /proc/PID/maps.
 *
 * Registration is best-effort, so daxod also looks: every scan interval it
 * reads the maps of every process it may read, and for each file mapping
 * that starts at file offset 0 asks "is this a daxo pool?" by reading the
 * 8-byte magic "DAXOPOOL" at offset 0 of the file (opened read-only, never
 * written). The path in maps is checked against the mapping's device and
 * inode first, so a renamed or replaced file is not misattributed; deleted
 * files and device-DAX nodes are read through /proc/PID/mem instead, which
 * needs ptrace rights (root, or the same uid). Answers are cached per
 * (device, inode): a negative answer expires after NEG_TTL seconds because
 * daxo_create writes the header last.
 *
 * The same pass keeps the registry honest: processes that vanished or whose
 * pid was reused are forgotten, pools no longer mapped are dropped after
 * two scans without them, and each tracked process's /proc/PID/stat totals,
 * thread list (for perf) and per-pool mapped_bytes are refreshed.
 *
 * A daemon restart loses the registrations; this scan rediscovers every
 * pool still mapped, so applications need not register again.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "daxod.h"

#define POOL_MAGIC    "DAXOPOOL"
#define NEG_TTL	      10.0
#define CACHE_BUCKETS 1024u
#define CACHE_MAX     65536u

struct fcache {
	struct fcache *next;
	uint64_t dev, ino;
	bool pool;
	double t;
};

static struct fcache *cache[CACHE_BUCKETS];
static unsigned ncache;

static unsigned bucket(uint64_t dev, uint64_t ino)
{
	return (unsigned)((ino * 0x9e3779b97f4a7c15ull ^ dev) % CACHE_BUCKETS);
}

void scan_cache_free(void)
{
	for (unsigned i = 0; i < CACHE_BUCKETS; i++)
		while (cache[i]) {
			struct fcache *c = cache[i];
			cache[i] = c->next;
			free(c);
		}
	ncache = 0;
}

static struct fcache *cache_get(uint64_t dev, uint64_t ino)
{
	for (struct fcache *c = cache[bucket(dev, ino)]; c; c = c->next)
		if (c->dev == dev && c->ino == ino)
			return c;
	return NULL;
}

static void cache_put(uint64_t dev, uint64_t ino, bool pool)
{
	struct fcache *c = cache_get(dev, ino);

	if (!c) {
		if (ncache >= CACHE_MAX)
			scan_cache_free();
		c = calloc(1, sizeof(*c));
		if (!c)
			return;
		c->dev = dev;
		c->ino = ino;
		c->next = cache[bucket(dev, ino)];
		cache[bucket(dev, ino)] = c;
		ncache++;
	}
	c->pool = pool;
	c->t = now_mono();
}

struct vma {
	uint64_t start, end, off, dev, ino;
	bool shared;
	char *path;
};

/* open_mapped -- the file mapped at @v, opened read-only, or -errno.
 * /proc/PID/map_files/ names exactly the mapped file with no path race
 * (it needs CAP_SYS_ADMIN); otherwise the path from maps is used, and
 * fstat() must then agree with the device and inode of the mapping. */
static int open_mapped(pid_t pid, const struct vma *v)
{
	char mf[96];
	struct stat st;
	int fd;

	snprintf(mf, sizeof(mf), "/proc/%d/map_files/%llx-%llx", (int)pid,
		 (unsigned long long)v->start, (unsigned long long)v->end);
	fd = open(mf, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		fd =
		    open(v->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0 || (uint64_t)st.st_dev != v->dev ||
	    (uint64_t)st.st_ino != v->ino) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}

/* read_magic -- 1 if the file is a pool, 0 if not, -errno if unreadable */
static int read_magic(pid_t pid, const struct vma *v, uint64_t *fsize,
		      bool *chr)
{
	char magic[8];
	struct stat st;
	char mem[64];
	int fd;
	ssize_t n = -1;

	*fsize = 0;
	*chr = false;
	/* stat first: never open a device node by a path that may have been
	 * swapped; character devices (device DAX) are read through mem */
	if (stat(v->path, &st) == 0 && (uint64_t)st.st_dev == v->dev &&
	    (uint64_t)st.st_ino == v->ino && !S_ISREG(st.st_mode))
		goto mem;
	fd = open_mapped(pid, v);
	if (fd >= 0) {
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
			*fsize = (uint64_t)st.st_size;
			n = pread(fd, magic, sizeof(magic), 0);
			close(fd);
			goto out;
		}
		close(fd);
	}
mem:
	/* device DAX (read() is not supported) or a deleted file:
	 * read the first bytes of the mapping in the process */
	snprintf(mem, sizeof(mem), "/proc/%d/mem", (int)pid);
	fd = open(mem, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, magic, sizeof(magic), (off_t)v->start);
	close(fd);
	*chr = true;
out:
	if (n != (ssize_t)sizeof(magic))
		return 0;
	return memcmp(magic, POOL_MAGIC, 8) == 0;
}

/* path_wanted -- @path starts with one of the scan_paths prefixes */
static bool path_wanted(const char *path)
{
	const char *p = cfg.scan_paths;

	if (!*p)
		return true;
	while (*p) {
		size_t l = strcspn(p, ":");
		if (l && !strncmp(path, p, l))
			return true;
		p += l;
		if (*p == ':')
			p++;
	}
	return false;
}

static bool is_pool(pid_t pid, const struct vma *v, uint64_t *fsize, bool *chr)
{
	struct fcache *c = cache_get(v->dev, v->ino);
	int r;

	*fsize = 0;
	*chr = false;
	if (!path_wanted(v->path))
		return false;
	if (c && !c->pool && now_mono() - c->t < NEG_TTL)
		return false;
	r = read_magic(pid, v, fsize, chr);
	if (r < 0)
		return false; /* unreadable for us: not cached */
	cache_put(v->dev, v->ino, r == 1);
	return r == 1;
}

/* parse_maps -- the file mappings of @pid; returns the count or -errno */
static int parse_maps(pid_t pid, struct vma **out)
{
	char path[64], line[4096 + 256];
	struct vma *v = NULL;
	int n = 0, cap = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long s, e, off, ino;
		unsigned maj, mnr;
		char perms[8];
		int pos = 0;
		char *p;

		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &s, &e,
			   perms, &off, &maj, &mnr, &ino, &pos) < 7 ||
		    ino == 0 || pos == 0 || line[pos] != '/')
			continue;
		p = line + pos;
		p[strcspn(p, "\n")] = '\0';
		if (n == cap) {
			struct vma *nv;
			cap = cap ? cap * 2 : 64;
			nv = realloc(v, (size_t)cap * sizeof(*v));
			if (!nv)
				break;
			v = nv;
		}
		v[n] = (struct vma){
		    s,	      e, off, makedev(maj, mnr), ino, perms[3] == 's',
		    strdup(p)};
		if (!v[n].path)
			break;
		n++;
	}
	fclose(f);
	*out = v;
	return n;
}

static void free_maps(struct vma *v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i].path);
	free(v);
}

/* smaps_sync -- VmFlags of the vma at @start carries "sf" (MAP_SYNC) */
static bool smaps_sync(pid_t pid, uint64_t start)
{
	char path[64], line[512];
	bool in = false, sync = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long s;
		if (isxdigit((unsigned char)line[0]) &&
		    sscanf(line, "%llx-", &s) == 1) {
			if (in)
				break;
			in = s == start;
		} else if (in && !strncmp(line, "VmFlags:", 8)) {
			sync = strstr(line, " sf") != NULL;
			break;
		}
	}
	fclose(f);
	return sync;
}

static bool file_dax(const char *path)
{
	struct statx stx;

	if (statx(AT_FDCWD, path, 0, STATX_BASIC_STATS, &stx) != 0)
		return false;
#ifdef STATX_ATTR_DAX
	return (stx.stx_attributes & STATX_ATTR_DAX) != 0;
#else
	return (stx.stx_attributes & 0x00200000) != 0;
#endif
}

static void refresh_pool(struct dproc *pr, struct dpool *pl)
{
	uint64_t m;

	if (pagemap_mapped(pr->pid, pl->base, pl->size, &m) == 0)
		pl->mapped_bytes = m;
}

/* scan_one -- process @pid; @pr is its registry entry or NULL */
static void scan_one(pid_t pid, struct dproc *pr)
{
	struct vma *v = NULL;
	uint64_t minflt, majflt;
	unsigned long long st;
	int n;

	if (pr) {
		if (procstat_read(pid, &minflt, &majflt, &st, NULL, 0)) {
			reg_proc_forget(pr, "exited");
			return;
		}
		if (st != pr->starttime) {
			reg_proc_forget(pr, "pid reused");
			pr = NULL;
		} else {
			pr->minflt = minflt;
			pr->majflt = majflt;
		}
	}
	if (!cfg.scan_proc && !pr)
		return;
	n = parse_maps(pid, &v);
	if (n < 0) {
		if (pr && n != -EACCES && n != -EPERM)
			reg_proc_forget(pr, "exited");
		return;
	}
	if (pr)
		for (struct dpool *pl = pr->pools; pl; pl = pl->next)
			pl->in_maps = false;
	for (int i = 0; i < n; i++) {
		struct dpool *pl = pr ? reg_pool_find(pr, v[i].start) : NULL;
		uint64_t fsize, size;
		bool chr;

		if (v[i].off != 0)
			continue;
		if (pl) {
			/* known (registered: trust the process), note the
			 * file it maps */
			pl->in_maps = true;
			pl->dev = v[i].dev;
			pl->ino = v[i].ino;
			continue;
		}
		if (!cfg.scan_proc)
			continue;
		if (!is_pool(pid, &v[i], &fsize, &chr))
			continue;
		if (!pr) {
			pr = reg_proc_get(pid);
			if (!pr)
				break;
			for (struct dpool *q = pr->pools; q; q = q->next)
				q->in_maps = false;
			pl = reg_pool_find(pr, v[i].start);
		}
		if (pl) {
			pl->in_maps = true;
			continue;
		}
		/* the extent of the mapping: contiguous vmas of the file */
		size = v[i].end - v[i].start;
		for (int j = i + 1; j < n; j++) {
			if (v[j].dev != v[i].dev || v[j].ino != v[i].ino ||
			    v[j].start != v[i].start + size || v[j].off != size)
				break;
			size = v[j].end - v[i].start;
		}
		if (fsize && fsize < size)
			size = fsize;
		pl = reg_pool_add(pr, v[i].path, v[i].start, size);
		if (!pl)
			continue;
		pl->in_maps = true;
		pl->dev = v[i].dev;
		pl->ino = v[i].ino;
		pl->devdax = chr && major(v[i].dev) != 0 &&
			     !strncmp(v[i].path, "/dev/dax", 8);
		pl->dax = pl->devdax || file_dax(v[i].path);
		pl->map_sync = pl->devdax || smaps_sync(pid, v[i].start);
		if (pr->mode == MODE_PERF && tp_active && pl->dax)
			pr->mode = MODE_TRACEPOINT;
		{
			json_object *o = json_object_new_object();
			json_object_object_add(o, "pid",
					       json_object_new_int(pid));
			json_object_object_add(
			    o, "comm", json_text(pr->comm, sizeof(pr->comm)));
			json_object_object_add(
			    o, "path", json_text(pl->path, PROTO_PATH_MAX));
			json_object_object_add(
			    o, "base",
			    json_object_new_int64((int64_t)pl->base));
			json_object_object_add(
			    o, "size",
			    json_object_new_int64((int64_t)pl->size));
			json_object_object_add(
			    o, "mode",
			    json_object_new_string(mode_name(pr->mode)));
			event_emit_uid(pr->uid, "pool_discovered", o);
		}
		log_msg(LOG_DEBUG,
			"pid %d (%s) maps pool %s (%llu bytes), mode %s",
			(int)pid, text_safe(0, pr->comm, sizeof(pr->comm)),
			text_safe(1, pl->path, PROTO_PATH_MAX),
			(unsigned long long)pl->size, mode_name(pr->mode));
	}
	free_maps(v, n);
	if (!pr)
		return;
	for (struct dpool *pl = pr->pools, *nx; pl; pl = nx) {
		nx = pl->next;
		if (pl->in_maps) {
			pl->missing = 0;
			refresh_pool(pr, pl);
		} else if (++pl->missing >= 2) {
			perf_drain(pr);
			reg_pool_remove(pr, pl, "unmapped");
		}
	}
	if (!pr->pools) {
		reg_proc_forget(pr, "no pools mapped");
		return;
	}
	perf_refresh_threads(pr);
}

void scan_proc(struct dproc *pr)
{
	scan_one(pr->pid, pr);
}

void scan_all(void)
{
	pid_t self = getpid();
	uint64_t gen = ++reg.scans;
	DIR *d;
	struct dirent *de;

	/* tracked processes first (they may be forgotten on the way) */
	for (struct dproc *pr = reg.procs, *nx; pr; pr = nx) {
		nx = pr->next;
		scan_one(pr->pid, pr);
	}
	(void)gen;
	if (!cfg.scan_proc)
		return;
	d = opendir("/proc");
	if (!d)
		return;
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0 || pid == self)
			continue;
		if (reg_proc_find((pid_t)pid))
			continue;
		scan_one((pid_t)pid, NULL);
	}
	closedir(d);
}
