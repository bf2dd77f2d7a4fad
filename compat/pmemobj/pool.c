/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pool.c -- pools, the root object and pointer translation for the
 * libpmemobj compatibility layer.
 *
 * Open pools are kept in a list (under a mutex: only opens, closes and
 * the slow path of pointer translation walk it). pmemobj_direct's inline
 * fast path reads a per-thread cache of one pool; every close bumps
 * daxo_pmemobj_closes_, which sends every thread back to the list once.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "pmemobj_int.h"

/*
 * A thread's cache starts with a generation that no close count reaches,
 * so its first translation takes the slow path: the initial uuid_lo of 0
 * would otherwise match a handle whose pool_uuid_lo is 0 and give a wild
 * pointer (NULL + off) instead of NULL.
 */
CX_EXPORT __thread struct daxo_pmemobj_tcache daxo_pmemobj_tcache_ = {
	.closes = UINT64_MAX};
CX_EXPORT uint64_t daxo_pmemobj_closes_;

static pthread_mutex_t pools_lock = PTHREAD_MUTEX_INITIALIZER;
static PMEMobjpool *pools;

/* set by pmemobj_ctl_set("prefault.at_open"/"at_create") (ctl.c) */
extern int cx_prefault_open, cx_prefault_create;

PMEMobjpool *cx_pool_of_uuid(uint64_t uuid_lo)
{
	PMEMobjpool *p;

	pthread_mutex_lock(&pools_lock);
	for (p = pools; p && p->uuid_lo != uuid_lo; p = p->next)
		;
	pthread_mutex_unlock(&pools_lock);
	return p;
}

CX_EXPORT void *daxo_pmemobj_direct_slow(PMEMoid oid)
{
	struct daxo_pmemobj_tcache *c = &daxo_pmemobj_tcache_;
	PMEMobjpool *p;

	if (oid.off == 0 || oid.pool_uuid_lo == 0)
		return NULL;
	pthread_mutex_lock(&pools_lock);
	for (p = pools; p && p->uuid_lo != oid.pool_uuid_lo; p = p->next)
		;
	if (p) {
		c->uuid_lo = p->uuid_lo;
		c->base = p->base;
		/* closes only changes under pools_lock */
		c->closes = __atomic_load_n(&daxo_pmemobj_closes_,
					    __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&pools_lock);
	return p ? p->base + oid.off : NULL;
}

CX_EXPORT void *pmemobj_direct(PMEMoid oid)
{
	return daxo_pmemobj_direct_inline(oid);
}

CX_EXPORT PMEMobjpool *pmemobj_pool_by_oid(PMEMoid oid)
{
	if (oid.pool_uuid_lo == 0)
		return NULL;
	return cx_pool_of_uuid(oid.pool_uuid_lo);
}

CX_EXPORT PMEMobjpool *pmemobj_pool_by_ptr(const void *addr)
{
	PMEMobjpool *p;

	pthread_mutex_lock(&pools_lock);
	for (p = pools; p && !cx_in_pool(p, addr, 1); p = p->next)
		;
	pthread_mutex_unlock(&pools_lock);
	return p;
}

CX_EXPORT PMEMoid pmemobj_oid(const void *addr)
{
	PMEMobjpool *p = pmemobj_pool_by_ptr(addr);

	if (!p)
		return OID_NULL;
	return cx_oid(p, (uint64_t)((const char *)addr - p->base));
}

/* attach -- wrap an open daxo pool in a PMEMobjpool and list it */
static PMEMobjpool *attach(daxo_pool *dp, const char *path)
{
	struct daxo_info *info = malloc(sizeof(*info));
	size_t plen = strlen(path) + 1;
	PMEMobjpool *pop = calloc(1, sizeof(*pop) + plen);
	int ret;

	if (!info || !pop) {
		cx_err(ENOMEM, "%s: out of memory", path);
		goto fail;
	}
	ret = daxo_pool_info(dp, info);
	if (ret) {
		cx_daxo(ret, path);
		goto fail;
	}
	pop->dp = dp;
	pop->base = info->base;
	pop->size = info->size;
	memcpy(&pop->uuid_lo, info->uuid, sizeof(pop->uuid_lo));
	if (pop->uuid_lo == 0)
		pop->uuid_lo = 1; /* 0 means "no pool" in a PMEMoid */
	pop->runid = cx_runid();
	pthread_mutex_init(&pop->lock, NULL);
	pthread_mutexattr_t ma;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&pop->vlt_lock, &ma);
	pthread_mutexattr_destroy(&ma);
	memcpy(pop->path, path, plen);
	free(info);
	info = NULL;
	/* reservations a crash left unpublished go back to the heap */
	if (cx_resv_boot(pop) != 0)
		goto fail_lock;

	pthread_mutex_lock(&pools_lock);
	for (PMEMobjpool *p = pools; p; p = p->next) {
		if (p->uuid_lo == pop->uuid_lo) {
			pthread_mutex_unlock(&pools_lock);
			cx_err(EINVAL,
			       "%s: a pool with the same UUID is open already "
			       "(%s): a copy of a pool file cannot be open "
			       "with its original",
			       path, p->path);
			cx_resv_cleanup(pop);
			goto fail_lock;
		}
	}
	pop->next = pools;
	pools = pop;
	pthread_mutex_unlock(&pools_lock);
	return pop;
fail_lock:
	pthread_mutex_destroy(&pop->vlt_lock);
	pthread_mutex_destroy(&pop->lock);
fail:
	free(info);
	free(pop);
	int e = errno;
	daxo_close(dp);
	errno = e;
	return NULL;
}

CX_EXPORT PMEMobjpool *pmemobj_open(const char *path, const char *layout)
{
	daxo_pool *dp;
	int ret;

	if (!path) {
		cx_err(EINVAL, "pmemobj_open: NULL path");
		return NULL;
	}
	ret = daxo_open(path, layout, cx_prefault_open ? DAXO_PREFAULT : 0,
			&dp);
	if (ret) {
		cx_daxo(ret, "pmemobj_open");
		return NULL;
	}
	return attach(dp, path);
}

/* zero_file -- does @path hold only zeros in its first 4 KiB? */
static bool zero_file(const char *path)
{
	char buf[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n <= 0)
		return n == 0;
	for (ssize_t i = 0; i < n; i++)
		if (buf[i])
			return false;
	return true;
}

/*
 * set_aside -- move the file @path to @aside (a name not taken), or fail
 * with errno: the file a size-0 pmemobj_create replaces stays whole until
 * the pool that replaces it exists
 */
static int set_aside(const char *path, const char *aside)
{
	if (renameat2(AT_FDCWD, path, AT_FDCWD, aside, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* a file system without RENAME_NOREPLACE: link, then unlink */
	if (link(path, aside) != 0)
		return -1;
	if (unlink(path) != 0) {
		int e = errno;
		unlink(aside);
		errno = e;
		return -1;
	}
	return 0;
}

/* put_back -- the file set aside at @aside (if any) returns to @path */
static void put_back(const char *aside, const char *path)
{
	int e = errno;

	/* if even that fails, the file stays whole under @aside */
	if (aside)
		(void)rename(aside, path);
	errno = e;
}

CX_EXPORT PMEMobjpool *pmemobj_create(const char *path, const char *layout,
				      size_t poolsize, mode_t mode)
{
	char *aside = NULL;
	bool replace = false;
	daxo_pool *dp;
	struct stat st;
	int ret;

	if (!path) {
		cx_err(EINVAL, "pmemobj_create: NULL path");
		return NULL;
	}
	if (layout && strlen(layout) > DAXO_LAYOUT_MAX) {
		cx_err(EINVAL,
		       "pmemobj_create: layout name of %zu bytes: daxo takes "
		       "at most %d",
		       strlen(layout), DAXO_LAYOUT_MAX);
		return NULL;
	}
	if (poolsize == 0) {
		/*
		 * size 0: the file exists and its size is the pool's. It must
		 * not hold a pool already (not even a daxo one): only a
		 * zeroed file is replaced.
		 */
		if (stat(path, &st) != 0) {
			cx_err(errno, "pmemobj_create: %s: %s", path,
			       strerror(errno));
			return NULL;
		}
		if (!S_ISREG(st.st_mode) || !zero_file(path)) {
			cx_err(EEXIST,
			       "pmemobj_create: %s: size 0 needs an existing, "
			       "zeroed file",
			       path);
			return NULL;
		}
		poolsize = (size_t)st.st_size;
		mode = st.st_mode & 07777;
		replace = true;
	}
	if (poolsize < PMEMOBJ_MIN_POOL) {
		cx_err(EINVAL, "pmemobj_create: size %zu is below the minimum "
			       "(PMEMOBJ_MIN_POOL)",
		       poolsize);
		return NULL;
	}
	if (replace) {
		/* daxo_create makes a new file: the old one waits aside until
		 * the pool exists, and comes back if it cannot be made */
		size_t n = strlen(path) + 32;
		aside = malloc(n);
		if (!aside) {
			cx_err(ENOMEM, "pmemobj_create: out of memory");
			return NULL;
		}
		snprintf(aside, n, "%s.daxo-replaced.%ld", path, (long)getpid());
		if (set_aside(path, aside) != 0) {
			cx_err(errno, "pmemobj_create: %s: %s", path,
			       strerror(errno));
			free(aside);
			return NULL;
		}
	}
	ret = daxo_create(path, layout, poolsize, mode, &dp);
	if (ret) {
		cx_daxo(ret, "pmemobj_create");
		put_back(aside, path);
		free(aside);
		return NULL;
	}
	PMEMobjpool *pop = attach(dp, path);
	if (!pop) {
		int e = errno;
		unlink(path);
		put_back(aside, path);
		errno = e;
	} else {
		if (aside)
			unlink(aside);
		if (cx_prefault_create)
			for (uint64_t i = 0; i < pop->size; i += 4096)
				__atomic_load_n((volatile char *)pop->base + i,
						__ATOMIC_RELAXED);
	}
	free(aside);
	return pop;
}

CX_EXPORT void pmemobj_close(PMEMobjpool *pop)
{
	PMEMobjpool **pp;

	if (!pop)
		return;
	pthread_mutex_lock(&pools_lock);
	for (pp = &pools; *pp && *pp != pop; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = pop->next;
	/* every thread's translation cache goes back to the list */
	__atomic_fetch_add(&daxo_pmemobj_closes_, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&pools_lock);
	cx_resv_cleanup(pop);
	daxo_close(pop->dp);
	pthread_mutex_destroy(&pop->vlt_lock);
	pthread_mutex_destroy(&pop->lock);
	free(pop);
}

CX_EXPORT int pmemobj_check(const char *path, const char *layout)
{
	daxo_pool *dp;
	int ret;

	if (!path)
		return cx_err(EINVAL, "pmemobj_check: NULL path");
	/* the layout first: daxo_check does not know it */
	ret = daxo_open(path, layout, DAXO_RDONLY, &dp);
	if (ret)
		return cx_daxo(ret, "pmemobj_check");
	daxo_close(dp);
	ret = daxo_check(path, 0, NULL, NULL);
	if (ret < 0)
		return cx_daxo(ret, "pmemobj_check");
	if (ret > 0) {
		cx_err(EUCLEAN, "pmemobj_check: %s is not consistent (run "
				"daxo check %s)",
		       path, path);
		return 0;
	}
	return 1;
}

/* ---- the root ---- */

struct root_ctor {
	PMEMobjpool *pop;
	pmemobj_constr constr;
	void *arg;
};

/* root_ctor -- a libpmemobj constructor as daxo_root_construct calls it */
static int root_ctor(daxo_pool *p, void *ptr, uint64_t size, void *arg)
{
	struct root_ctor *r = arg;

	(void)p;
	return cx_construct(r->pop, r->constr,
			    (uint64_t)((char *)ptr - r->pop->base), size,
			    r->arg);
}

/*
 * root_common -- daxo's root: made zeroed, or grown (contents kept, the
 * rest zeroed), crash-atomically; the constructor runs on a new or grown
 * root before it is published
 */
static PMEMoid root_common(PMEMobjpool *pop, size_t size,
			   pmemobj_constr constr, void *arg)
{
	struct root_ctor rc = {pop, constr, arg};
	daxo_oid oid;
	int ret;

	if (!pop) {
		cx_err(EINVAL, "pmemobj_root: NULL pool");
		return OID_NULL;
	}
	if (size > PMEMOBJ_MAX_ALLOC_SIZE) {
		cx_err(ENOMEM, "pmemobj_root: size %zu is too large", size);
		return OID_NULL;
	}
	ret = daxo_root_construct(pop->dp, size, constr ? root_ctor : NULL,
				  &rc, &oid);
	if (ret == -ENOENT) {
		cx_err(EINVAL, "pmemobj_root: %s: there is no root yet and the "
			       "size asked is 0",
		       pop->path);
		return OID_NULL;
	}
	if (ret) {
		cx_err(cx_alloc_errno(ret), "pmemobj_root: %s", daxo_errormsg());
		return OID_NULL;
	}
	return cx_oid(pop, oid);
}

CX_EXPORT PMEMoid pmemobj_root(PMEMobjpool *pop, size_t size)
{
	return root_common(pop, size, NULL, NULL);
}

CX_EXPORT PMEMoid pmemobj_root_construct(PMEMobjpool *pop, size_t size,
					 pmemobj_constr constructor, void *arg)
{
	return root_common(pop, size, constructor, arg);
}

CX_EXPORT size_t pmemobj_root_size(PMEMobjpool *pop)
{
	return pop ? daxo_root_size(pop->dp) : 0;
}

CX_EXPORT void pmemobj_set_user_data(PMEMobjpool *pop, void *data)
{
	if (pop)
		pop->user_data = data;
}

CX_EXPORT void *pmemobj_get_user_data(PMEMobjpool *pop)
{
	return pop ? pop->user_data : NULL;
}
