/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * check.h -- the offline checker's hooks for other modules.
 *
 * daxo_check (check.c) reads a closed pool through a private read-only
 * mapping and never trusts a byte: every offset is range-checked and every
 * loop is bounded. The keyed store's on-media structures are checked by
 * kv_check_image() (kv_check.c), through the view below: check.c gives it
 * the pool image, the heap's verdict on each object and the report sink.
 */
#ifndef DAXO_CHECK_INTERNAL_H
#define DAXO_CHECK_INTERNAL_H 1

#include "internal.h"

struct check_view {
	const uint8_t *base; /* the pool image (read-only) */
	uint64_t size;
	/* is [off, off+len) inside one live object? (heap as checked) */
	bool (*is_live)(const struct check_view *v, uint64_t off, uint64_t len);
	/* report a finding (DAXO_CHECK_* severity); printf-like */
	void (*report)(const struct check_view *v, int sev, uint64_t off,
		       const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));
	/* does [off, off+len) meet a media error (read as zeros)? */
	bool (*bad)(const struct check_view *v, uint64_t off, uint64_t len);
	void *priv;
	uint64_t incompat; /* the header's incompatible features (kv_fmt_of) */
};

/*
 * kv_check_image -- check the keyed store whose anchor object is at
 * @kv_root (already known to be a live object). Must never crash or hang
 * whatever the bytes. Returns 0; findings go through v->report.
 */
int kv_check_image(const struct check_view *v, uint64_t kv_root) DAXO_HIDDEN;

#endif
