/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * util.h -- helpers shared by the subcommands of the `daxo` tool: size
 * parsing and printing, mode parsing, UUID text (errors: opt.h).
 */
#ifndef DAXO_TOOLS_UTIL_H
#define DAXO_TOOLS_UTIL_H 1

#include <stddef.h>
#include <stdint.h>

#define STR_(x) #x
#define STR(x) STR_(x)

/*
 * util_parse_size -- parse "SIZE": a decimal number of bytes, optionally
 * followed by K, M, G or T (powers of 1024; "KiB", "KB" and "k" are accepted
 * too). Returns 0, or -EINVAL (not a size) or -ERANGE (overflows 64 bits).
 */
int util_parse_size(const char *s, uint64_t *out);

/*
 * util_parse_mode -- parse an octal permission mode ("644", "0600").
 * Returns 0 or -EINVAL (not octal, or above 07777).
 */
int util_parse_mode(const char *s, unsigned *out);

/* util_fmt_size -- "8 MiB", "1.5 GiB", "123 B": a human size into @buf */
const char *util_fmt_size(uint64_t n, char *buf, size_t len);

/* util_fmt_uuid -- the canonical 36-character text form (needs len >= 37) */
const char *util_fmt_uuid(const uint8_t uuid[16], char *buf, size_t len);

#endif
