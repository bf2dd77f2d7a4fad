/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * err.c -- pmemobj_errormsg and the layer's error reporting: every
 * failure sets errno and a thread-local message naming the call and,
 * when libdaxo failed, daxo's own message (file, offset, what was wrong).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "pmemobj_int.h"

static __thread char msg[512];

int cx_err(int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	errno = errnum;
	return -1;
}

int cx_daxo(int ret, const char *what)
{
	return cx_err(-ret, "%s: %s", what, daxo_errormsg());
}

CX_EXPORT const char *pmemobj_errormsg(void)
{
	return msg;
}

CX_EXPORT const char *pmemobj_check_version(unsigned major_required,
					    unsigned minor_required)
{
	if (major_required != PMEMOBJ_MAJOR_VERSION) {
		cx_err(EINVAL,
		       "libdaxo-pmemobj major version mismatch (need %u, "
		       "found %u)",
		       major_required, PMEMOBJ_MAJOR_VERSION);
		return msg;
	}
	if (minor_required > PMEMOBJ_MINOR_VERSION) {
		cx_err(EINVAL,
		       "libdaxo-pmemobj minor version mismatch (need %u, "
		       "found %u)",
		       minor_required, PMEMOBJ_MINOR_VERSION);
		return msg;
	}
	return NULL;
}

CX_EXPORT void pmemobj_set_funcs(void *(*malloc_func)(size_t size),
				 void (*free_func)(void *ptr),
				 void *(*realloc_func)(void *ptr, size_t size),
				 char *(*strdup_func)(const char *s))
{
	/* daxo's volatile state comes from the C library's malloc */
	(void)malloc_func;
	(void)free_func;
	(void)realloc_func;
	(void)strdup_func;
}
