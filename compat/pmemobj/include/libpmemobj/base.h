/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libpmemobj/base.h -- daxo's libpmemobj compatibility layer: object
 * handles (PMEMoid), pointer translation, persistence calls, flags.
 *
 * This header and its siblings declare the libpmemobj 1.12 interface as
 * programs use it, implemented by libdaxo-pmemobj on top of libdaxo. They
 * are written for daxo: names, signatures and documented behaviour follow
 * libpmemobj, the text and the implementation are daxo's own. Pools are
 * daxo pools (doc/MIGRATING.md says what carries over and what does not).
 */
#ifndef DAXO_COMPAT_PMEMOBJ_BASE_H
#define DAXO_COMPAT_PMEMOBJ_BASE_H 1

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Defined by daxo's layer, so that a program can tell which it built on. */
#define DAXO_PMEMOBJ_COMPAT 1

/** A pool handle (opaque). */
typedef struct pmemobjpool PMEMobjpool;

/** Largest single allocation libpmemobj accepts (about 16 GiB). */
#define PMEMOBJ_MAX_ALLOC_SIZE ((size_t)0x3FFDFFFC0)

/* flags shared by the x-variants of the allocation and tx calls */
#define POBJ_FLAG_ZERO ((uint64_t)1 << 0)
#define POBJ_FLAG_NO_FLUSH ((uint64_t)1 << 1)
#define POBJ_FLAG_NO_SNAPSHOT ((uint64_t)1 << 2)
#define POBJ_FLAG_ASSUME_INITIALIZED ((uint64_t)1 << 3)
#define POBJ_FLAG_TX_NO_ABORT ((uint64_t)1 << 4)

/* an allocation class (16 bits at 48) and an arena (16 bits at 32) */
#define POBJ_CLASS_ID(id) (((uint64_t)(id)) << 48)
#define POBJ_ARENA_ID(id) (((uint64_t)(id)) << 32)
#define POBJ_XALLOC_CLASS_MASK ((uint64_t)0xffff << 48)
#define POBJ_XALLOC_ARENA_MASK ((uint64_t)0xffff << 32)
#define POBJ_XALLOC_ZERO POBJ_FLAG_ZERO
#define POBJ_XALLOC_NO_FLUSH POBJ_FLAG_NO_FLUSH
#define POBJ_XALLOC_NO_ABORT POBJ_FLAG_TX_NO_ABORT

/* flags of pmemobj_memcpy/memmove/memset/xpersist/xflush */
#define PMEMOBJ_F_MEM_NODRAIN (1U << 0)
#define PMEMOBJ_F_MEM_NONTEMPORAL (1U << 1)
#define PMEMOBJ_F_MEM_TEMPORAL (1U << 2)
#define PMEMOBJ_F_MEM_WC (1U << 3)
#define PMEMOBJ_F_MEM_WB (1U << 4)
#define PMEMOBJ_F_MEM_NOFLUSH (1U << 5)
#define PMEMOBJ_F_RELAXED (1U << 31)

/**
 * An object handle: which pool (the low 64 bits of its UUID) and the
 * object's offset in it. off == 0 is the null handle.
 */
typedef struct pmemoid {
	uint64_t pool_uuid_lo;
	uint64_t off;
} PMEMoid;

/* the null handle, usable wherever a PMEMoid value is */
static const PMEMoid OID_NULL = {0, 0};

#define OID_IS_NULL(o) ((o).off == 0)
#define OID_EQUALS(a, b)                                                       \
	((a).off == (b).off && (a).pool_uuid_lo == (b).pool_uuid_lo)

/** The open pool whose mapping holds @addr, or NULL. */
PMEMobjpool *pmemobj_pool_by_ptr(const void *addr);
/** The open pool @oid belongs to, or NULL. */
PMEMobjpool *pmemobj_pool_by_oid(PMEMoid oid);

/*
 * Pointer translation. pmemobj_direct() is inline: a per-thread cache of
 * the last pool translated (its UUID and mapping address) answers without
 * a call; the cache is refreshed when another pool's handle comes by or
 * after any pool was closed (the close counter below). Define
 * PMEMOBJ_DIRECT_NON_INLINE to call the library instead.
 * The cache uses the initial-exec TLS model: code in a shared object
 * (a map library, a plugin) reaches it with one %fs-relative load instead
 * of a __tls_get_addr call per translation. libdaxo-pmemobj then sits in
 * the static TLS block: linked at start it always does, and a dlopen()
 * of it (or of a library linked with it) takes 24 bytes of glibc's spare
 * static TLS.
 */
struct daxo_pmemobj_tcache {
	uint64_t uuid_lo;
	char *base;
	uint64_t closes;
};
extern __thread struct daxo_pmemobj_tcache daxo_pmemobj_tcache_
	__attribute__((tls_model("initial-exec")));
extern uint64_t daxo_pmemobj_closes_;
void *daxo_pmemobj_direct_slow(PMEMoid oid);

static inline void *daxo_pmemobj_direct_inline(PMEMoid oid)
{
	struct daxo_pmemobj_tcache *c = &daxo_pmemobj_tcache_;

	if (oid.pool_uuid_lo == c->uuid_lo &&
	    __atomic_load_n(&daxo_pmemobj_closes_, __ATOMIC_RELAXED) ==
		    c->closes)
		return oid.off ? (void *)(c->base + oid.off) : NULL;
	return daxo_pmemobj_direct_slow(oid);
}

/** The address of the object @oid in this process, or NULL. */
void *pmemobj_direct(PMEMoid oid);
#ifndef PMEMOBJ_DIRECT_NON_INLINE
#define pmemobj_direct daxo_pmemobj_direct_inline
#endif

/*
 * A volatile value kept in persistent memory: pmemobj_volatile() runs
 * @constr on it once per open of the pool (runid says which open did).
 */
struct pmemvlt {
	uint64_t runid;
};
#define PMEMvlt(T)                                                             \
	struct {                                                               \
		struct pmemvlt vlt;                                            \
		T value;                                                       \
	}
void *pmemobj_volatile(PMEMobjpool *pop, struct pmemvlt *vlt, void *ptr,
		       size_t size, int (*constr)(void *ptr, void *arg),
		       void *arg);

/** The handle of the object at @addr (inside an open pool), else OID_NULL. */
PMEMoid pmemobj_oid(const void *addr);
/** Bytes usable in @oid (at least what was asked for); 0 for OID_NULL. */
size_t pmemobj_alloc_usable_size(PMEMoid oid);
/** The type number @oid was allocated with. */
uint64_t pmemobj_type_num(PMEMoid oid);

/* copies and stores that end durable (or, with flags, flushed/undrained) */
void *pmemobj_memcpy_persist(PMEMobjpool *pop, void *dest, const void *src,
			     size_t len);
void *pmemobj_memset_persist(PMEMobjpool *pop, void *dest, int c, size_t len);
void *pmemobj_memcpy(PMEMobjpool *pop, void *dest, const void *src, size_t len,
		     unsigned flags);
void *pmemobj_memmove(PMEMobjpool *pop, void *dest, const void *src,
		      size_t len, unsigned flags);
void *pmemobj_memset(PMEMobjpool *pop, void *dest, int c, size_t len,
		     unsigned flags);
void pmemobj_persist(PMEMobjpool *pop, const void *addr, size_t len);
int pmemobj_xpersist(PMEMobjpool *pop, const void *addr, size_t len,
		     unsigned flags);
void pmemobj_flush(PMEMobjpool *pop, const void *addr, size_t len);
int pmemobj_xflush(PMEMobjpool *pop, const void *addr, size_t len,
		   unsigned flags);
void pmemobj_drain(PMEMobjpool *pop);

/* the libpmemobj interface version this layer implements */
#define PMEMOBJ_MAJOR_VERSION 2
#define PMEMOBJ_MINOR_VERSION 4

/** NULL if this layer provides version @major.@minor, else a message. */
const char *pmemobj_check_version(unsigned major_required,
				  unsigned minor_required);

/** Accepted for compatibility; daxo allocates its volatile state itself. */
void pmemobj_set_funcs(void *(*malloc_func)(size_t size),
		       void (*free_func)(void *ptr),
		       void *(*realloc_func)(void *ptr, size_t size),
		       char *(*strdup_func)(const char *s));

/** An allocation constructor: 0 to go on, non-zero to cancel. */
typedef int (*pmemobj_constr)(PMEMobjpool *pop, void *ptr, void *arg);

/** The calling thread's message for its last failed call. */
const char *pmemobj_errormsg(void);

#ifdef __cplusplus
}
#endif
#endif /* DAXO_COMPAT_PMEMOBJ_BASE_H */
