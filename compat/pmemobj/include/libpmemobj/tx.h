/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libpmemobj/tx.h -- the transaction block macros, for daxo's libpmemobj
 * compatibility layer.
 *
 *	TX_BEGIN(pop) {
 *		... changes (stage WORK) ...
 *	} TX_ONCOMMIT {
 *		... only if it committed ...
 *	} TX_ONABORT {
 *		... only if it aborted, or could not begin ...
 *	} TX_FINALLY {
 *		... either way ...
 *	} TX_END
 *
 * The clauses between TX_BEGIN and TX_END are optional, each at most
 * once. The block is a loop over the stages: each pass runs the clause
 * of the current stage (an if / else-if chain) and then
 * pmemobj_tx_process() moves on. An abort jumps (longjmp) back to the
 * setjmp at the top, so that the loop resumes at ONABORT: local variables
 * changed inside the block and read after an abort must be volatile.
 * After TX_END, errno holds the error of an aborted transaction.
 *
 * With POBJ_TX_CRASH_ON_NO_ONABORT defined, an aborted block without a
 * TX_ONABORT clause calls abort(3).
 */
#ifndef DAXO_COMPAT_PMEMOBJ_TX_H
#define DAXO_COMPAT_PMEMOBJ_TX_H 1

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <libpmemobj/tx_base.h>
#include <libpmemobj/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifdef POBJ_TX_CRASH_ON_NO_ONABORT
#define _DAXOC_NO_ONABORT() abort()
#else
#define _DAXOC_NO_ONABORT() ((void)0)
#endif

/*
 * a block nested in another in one function declares the same names
 * again: not a mistake, so -Wshadow is quiet from TX_BEGIN to TX_END
 */
#if defined(__GNUC__)
#define _DAXOC_SHADOW_OFF                                                      \
	_Pragma("GCC diagnostic push")                                         \
		_Pragma("GCC diagnostic ignored \"-Wshadow\"")
#define _DAXOC_SHADOW_ON _Pragma("GCC diagnostic pop")
#else
#define _DAXOC_SHADOW_OFF
#define _DAXOC_SHADOW_ON
#endif

#define _DAXOC_TX_BEGIN(pop, ...)                                              \
	_DAXOC_SHADOW_OFF                                                      \
	{                                                                      \
		jmp_buf _daxoc_env;                                            \
		enum pobj_tx_stage _daxoc_stage;                               \
		int _daxoc_err;                                                \
		if (setjmp(_daxoc_env) == 0) {                                 \
			_daxoc_err = pmemobj_tx_begin((pop), _daxoc_env,       \
						      __VA_ARGS__,             \
						      TX_PARAM_NONE);          \
			if (_daxoc_err)                                        \
				errno = _daxoc_err;                            \
		} else {                                                       \
			errno = pmemobj_tx_errno();                            \
		}                                                              \
		while ((_daxoc_stage = pmemobj_tx_stage()) !=                  \
		       TX_STAGE_NONE) {                                        \
			if (_daxoc_stage == TX_STAGE_WORK)

#define TX_ONCOMMIT else if (_daxoc_stage == TX_STAGE_ONCOMMIT)
#define TX_ONABORT else if (_daxoc_stage == TX_STAGE_ONABORT)
#define TX_FINALLY else if (_daxoc_stage == TX_STAGE_FINALLY)
#define TX_END                                                                 \
	else if (_daxoc_stage == TX_STAGE_ONABORT) _DAXOC_NO_ONABORT();        \
	pmemobj_tx_process();                                                  \
	}                                                                      \
	_daxoc_err = pmemobj_tx_end();                                         \
	if (_daxoc_err)                                                        \
		errno = _daxoc_err;                                            \
	}                                                                      \
	_DAXOC_SHADOW_ON

/* TX_BEGIN_PARAM(pop, TX_PARAM_MUTEX, &m, TX_PARAM_RWLOCK, &l, ...) */
#define TX_BEGIN_PARAM(pop, ...) _DAXOC_TX_BEGIN(pop, ##__VA_ARGS__)
#define TX_BEGIN_LOCK TX_BEGIN_PARAM
#define TX_BEGIN(pop) _DAXOC_TX_BEGIN(pop, TX_PARAM_NONE)

/* checks @cb's signature at compile time */
static inline pmemobj_tx_callback _daxoc_tx_cb(pmemobj_tx_callback cb)
{
	return cb;
}
#define TX_BEGIN_CB(pop, cb, arg, ...)                                         \
	_DAXOC_TX_BEGIN(pop, TX_PARAM_CB, _daxoc_tx_cb(cb), (arg),             \
			##__VA_ARGS__)

/* snapshots: the whole object, a field of it, or what a pointer points to */
#define TX_ADD(o) pmemobj_tx_add_range((o).oid, 0, sizeof(*(o)._type))
#define TX_XADD(o, flags)                                                      \
	pmemobj_tx_xadd_range((o).oid, 0, sizeof(*(o)._type), (flags))
#define TX_ADD_DIRECT(p) pmemobj_tx_add_range_direct((p), sizeof(*(p)))
#define TX_XADD_DIRECT(p, flags)                                               \
	pmemobj_tx_xadd_range_direct((p), sizeof(*(p)), (flags))
#define TX_ADD_FIELD(o, field) TX_ADD_DIRECT(&D_RO(o)->field)
#define TX_XADD_FIELD(o, field, flags) TX_XADD_DIRECT(&D_RO(o)->field, (flags))
#define TX_ADD_FIELD_DIRECT(p, field)                                          \
	pmemobj_tx_add_range_direct(&(p)->field, sizeof((p)->field))
#define TX_XADD_FIELD_DIRECT(p, field, flags)                                  \
	pmemobj_tx_xadd_range_direct(&(p)->field, sizeof((p)->field), (flags))

/* typed allocation */
#define TX_NEW(t)                                                              \
	_DAXOC_AS_TOID(TOID(t), pmemobj_tx_alloc(sizeof(t), TOID_TYPE_NUM(t)))
#define TX_ZNEW(t)                                                             \
	_DAXOC_AS_TOID(TOID(t), pmemobj_tx_zalloc(sizeof(t), TOID_TYPE_NUM(t)))
#define TX_ALLOC(t, size)                                                      \
	_DAXOC_AS_TOID(TOID(t), pmemobj_tx_alloc((size), TOID_TYPE_NUM(t)))
#define TX_ZALLOC(t, size)                                                     \
	_DAXOC_AS_TOID(TOID(t), pmemobj_tx_zalloc((size), TOID_TYPE_NUM(t)))
#define TX_XALLOC(t, size, flags)                                              \
	_DAXOC_AS_TOID(TOID(t), pmemobj_tx_xalloc((size), TOID_TYPE_NUM(t),    \
						  (flags)))
#define TX_REALLOC(o, size)                                                    \
	_DAXOC_AS_TOID(__typeof__(o),                                          \
		       pmemobj_tx_realloc((o).oid, (size),                     \
					  TOID_TYPE_NUM_OF(o)))
#define TX_ZREALLOC(o, size)                                                   \
	_DAXOC_AS_TOID(__typeof__(o),                                          \
		       pmemobj_tx_zrealloc((o).oid, (size),                    \
					   TOID_TYPE_NUM_OF(o)))
#define TX_STRDUP(s, type_num) pmemobj_tx_strdup((s), (type_num))
#define TX_XSTRDUP(s, type_num, flags)                                         \
	pmemobj_tx_xstrdup((s), (type_num), (flags))
#define TX_WCSDUP(s, type_num) pmemobj_tx_wcsdup((s), (type_num))
#define TX_XWCSDUP(s, type_num, flags)                                         \
	pmemobj_tx_xwcsdup((s), (type_num), (flags))
#define TX_FREE(o) pmemobj_tx_free((o).oid)
#define TX_XFREE(o, flags) pmemobj_tx_xfree((o).oid, (flags))

/* snapshot, then store: the expression's value is the store's */
#define TX_SET(o, field, value)                                                \
	(TX_ADD_FIELD(o, field), D_RW(o)->field = (value))
#define TX_SET_DIRECT(p, field, value)                                         \
	(TX_ADD_FIELD_DIRECT(p, field), (p)->field = (value))

/* snapshot @num bytes at @dest, then copy or fill them */
static inline void *TX_MEMCPY(void *dest, const void *src, size_t num)
{
	pmemobj_tx_add_range_direct(dest, num);
	return memcpy(dest, src, num);
}

static inline void *TX_MEMSET(void *dest, int c, size_t num)
{
	pmemobj_tx_add_range_direct(dest, num);
	return memset(dest, c, num);
}

#ifdef __cplusplus
}
#endif
#endif /* DAXO_COMPAT_PMEMOBJ_TX_H */
