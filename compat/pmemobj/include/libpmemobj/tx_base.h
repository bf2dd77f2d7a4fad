/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libpmemobj/tx_base.h -- transactions as functions, for daxo's
 * libpmemobj compatibility layer.
 *
 * A transaction belongs to the thread that began it. It moves through
 * stages: WORK (changes are made), then ONCOMMIT or ONABORT, then FINALLY,
 * then NONE. Transactions nest: an inner begin joins the transaction the
 * thread has open, an inner commit only ends the inner block, and an abort
 * at any depth aborts the whole transaction (the outer blocks see
 * ONABORT). Underneath, the outermost block is one daxo transaction: undo
 * snapshots for pmemobj_tx_add_range, allocations and frees published at
 * its commit.
 *
 * Errors: a failed call aborts the transaction and, when the block began
 * with a jmp_buf (the TX_BEGIN macros always give one), jumps back to it;
 * with a NO_ABORT flag, or after pmemobj_tx_set_failure_behavior(
 * POBJ_TX_FAILURE_RETURN), it returns the error instead.
 */
#ifndef DAXO_COMPAT_PMEMOBJ_TX_BASE_H
#define DAXO_COMPAT_PMEMOBJ_TX_BASE_H 1

#include <setjmp.h>
#include <wchar.h>
#include <libpmemobj/base.h>

#ifdef __cplusplus
extern "C" {
#endif

enum pobj_tx_stage {
	TX_STAGE_NONE,     /* the thread has no transaction */
	TX_STAGE_WORK,     /* changes are being made */
	TX_STAGE_ONCOMMIT, /* committed */
	TX_STAGE_ONABORT,  /* aborted, or the begin failed */
	TX_STAGE_FINALLY,  /* either way: clean up */
	MAX_TX_STAGE
};

/** The calling thread's transaction stage. */
enum pobj_tx_stage pmemobj_tx_stage(void);

/* what follows the jmp_buf in pmemobj_tx_begin, ended by TX_PARAM_NONE */
enum pobj_tx_param {
	TX_PARAM_NONE,   /* end of the list */
	TX_PARAM_MUTEX,  /* then a PMEMmutex *: locked until the end */
	TX_PARAM_RWLOCK, /* then a PMEMrwlock *: write-locked until the end */
	TX_PARAM_CB,     /* then a pmemobj_tx_callback and its void * */
};

/* the old name of enum pobj_tx_param */
enum pobj_tx_lock {
	TX_LOCK_NONE = TX_PARAM_NONE,
	TX_LOCK_MUTEX = TX_PARAM_MUTEX,
	TX_LOCK_RWLOCK = TX_PARAM_RWLOCK,
};

enum pobj_log_type {
	TX_LOG_TYPE_SNAPSHOT,
	TX_LOG_TYPE_INTENT,
};

enum pobj_tx_failure_behavior {
	POBJ_TX_FAILURE_ABORT,
	POBJ_TX_FAILURE_RETURN,
};

/** Called at each stage of the outermost transaction (TX_PARAM_CB). */
typedef void (*pmemobj_tx_callback)(PMEMobjpool *pop,
				    enum pobj_tx_stage stage, void *arg);

#define POBJ_TX_XALLOC_VALID_FLAGS                                             \
	(POBJ_XALLOC_ZERO | POBJ_XALLOC_NO_FLUSH | POBJ_XALLOC_ARENA_MASK |    \
	 POBJ_XALLOC_CLASS_MASK | POBJ_XALLOC_NO_ABORT)

#define POBJ_XADD_NO_FLUSH POBJ_FLAG_NO_FLUSH
#define POBJ_XADD_NO_SNAPSHOT POBJ_FLAG_NO_SNAPSHOT
#define POBJ_XADD_ASSUME_INITIALIZED POBJ_FLAG_ASSUME_INITIALIZED
#define POBJ_XADD_NO_ABORT POBJ_FLAG_TX_NO_ABORT
#define POBJ_XADD_VALID_FLAGS                                                  \
	(POBJ_XADD_NO_FLUSH | POBJ_XADD_NO_SNAPSHOT |                          \
	 POBJ_XADD_ASSUME_INITIALIZED | POBJ_XADD_NO_ABORT)

#define POBJ_XLOCK_NO_ABORT POBJ_FLAG_TX_NO_ABORT
#define POBJ_XLOCK_VALID_FLAGS (POBJ_XLOCK_NO_ABORT)
#define POBJ_XFREE_NO_ABORT POBJ_FLAG_TX_NO_ABORT
#define POBJ_XFREE_VALID_FLAGS (POBJ_XFREE_NO_ABORT)
#define POBJ_XPUBLISH_NO_ABORT POBJ_FLAG_TX_NO_ABORT
#define POBJ_XPUBLISH_VALID_FLAGS (POBJ_XPUBLISH_NO_ABORT)
#define POBJ_XLOG_APPEND_BUFFER_NO_ABORT POBJ_FLAG_TX_NO_ABORT
#define POBJ_XLOG_APPEND_BUFFER_VALID_FLAGS (POBJ_XLOG_APPEND_BUFFER_NO_ABORT)

/**
 * Begin a transaction (or a nested block of the open one) on @pop. @env,
 * if not NULL, is where an abort jumps to. Then parameters, ended by
 * TX_PARAM_NONE. Returns 0, or an error number (the stage is ONABORT).
 */
int pmemobj_tx_begin(PMEMobjpool *pop, jmp_buf env, ...);
/** Take a lock for the rest of the transaction (aborts on failure). */
int pmemobj_tx_lock(enum pobj_tx_param type, void *lockp);
int pmemobj_tx_xlock(enum pobj_tx_param type, void *lockp, uint64_t flags);
/** Abort the transaction with @errnum (0: ECANCELED). */
void pmemobj_tx_abort(int errnum);
/** Commit (the outermost block makes everything durable). */
void pmemobj_tx_commit(void);
/** End the block: 0, or the transaction's error number. */
int pmemobj_tx_end(void);
/** Move to the next stage (WORK commits). */
void pmemobj_tx_process(void);
/** The error number of the thread's last transaction. */
int pmemobj_tx_errno(void);

/* snapshot a range before changing it; rolled back on abort */
int pmemobj_tx_add_range(PMEMoid oid, uint64_t off, size_t size);
int pmemobj_tx_add_range_direct(const void *ptr, size_t size);
int pmemobj_tx_xadd_range(PMEMoid oid, uint64_t off, size_t size,
			  uint64_t flags);
int pmemobj_tx_xadd_range_direct(const void *ptr, size_t size,
				 uint64_t flags);

/* objects that exist if the transaction commits */
PMEMoid pmemobj_tx_alloc(size_t size, uint64_t type_num);
PMEMoid pmemobj_tx_xalloc(size_t size, uint64_t type_num, uint64_t flags);
PMEMoid pmemobj_tx_zalloc(size_t size, uint64_t type_num);
PMEMoid pmemobj_tx_realloc(PMEMoid oid, size_t size, uint64_t type_num);
PMEMoid pmemobj_tx_zrealloc(PMEMoid oid, size_t size, uint64_t type_num);
PMEMoid pmemobj_tx_strdup(const char *s, uint64_t type_num);
PMEMoid pmemobj_tx_xstrdup(const char *s, uint64_t type_num, uint64_t flags);
PMEMoid pmemobj_tx_wcsdup(const wchar_t *s, uint64_t type_num);
PMEMoid pmemobj_tx_xwcsdup(const wchar_t *s, uint64_t type_num,
			   uint64_t flags);
/* freed if the transaction commits; OID_NULL is no operation */
int pmemobj_tx_free(PMEMoid oid);
int pmemobj_tx_xfree(PMEMoid oid, uint64_t flags);

/*
 * Log tuning. daxo sizes its logs itself (a lane's slots, then extension
 * blocks from the pool): a buffer appended is accepted and not used, and
 * the size functions give what the snapshots or intents would take.
 */
int pmemobj_tx_log_append_buffer(enum pobj_log_type type, void *addr,
				 size_t size);
int pmemobj_tx_xlog_append_buffer(enum pobj_log_type type, void *addr,
				  size_t size, uint64_t flags);
int pmemobj_tx_log_auto_alloc(enum pobj_log_type type, int on_off);
size_t pmemobj_tx_log_snapshots_max_size(size_t *sizes, size_t nsizes);
size_t pmemobj_tx_log_intents_max_size(size_t nintents);

/** A volatile pointer kept with the current transaction. */
void pmemobj_tx_set_user_data(void *data);
void *pmemobj_tx_get_user_data(void);

void pmemobj_tx_set_failure_behavior(enum pobj_tx_failure_behavior behavior);
enum pobj_tx_failure_behavior pmemobj_tx_get_failure_behavior(void);

#ifdef __cplusplus
}
#endif
#endif /* DAXO_COMPAT_PMEMOBJ_TX_BASE_H */
