/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libpmemobj.h -- the libpmemobj 1.12 interface on daxo (libdaxo-pmemobj).
 *
 * Build a libpmemobj program against daxo unchanged:
 *
 *	cc prog.c $(pkg-config --cflags --libs daxo-pmemobj)
 *
 * The headers are installed in include/daxo-compat/, apart from the
 * system's <libpmemobj.h>; pkg-config's -I puts them first. Each sub-header
 * says what it covers; doc/MIGRATING.md maps every call to daxo's native
 * API and lists what behaves differently.
 */
#ifndef DAXO_COMPAT_LIBPMEMOBJ_H
#define DAXO_COMPAT_LIBPMEMOBJ_H 1

#include <libpmemobj/action.h>
#include <libpmemobj/atomic.h>
#include <libpmemobj/ctl.h>
#include <libpmemobj/iterator.h>
#include <libpmemobj/lists_atomic.h>
#include <libpmemobj/pool.h>
#include <libpmemobj/thread.h>
#include <libpmemobj/tx.h>

#endif /* DAXO_COMPAT_LIBPMEMOBJ_H */
