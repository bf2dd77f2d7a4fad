/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * util.c -- helpers shared by the subcommands of the `daxo` tool.
 *
 * Nothing here knows a subcommand: parsing of sizes and modes as the
 * command line spells them, human-readable sizes and UUID text.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daxo.h"
#include "util.h"

int util_parse_size(const char *s, uint64_t *out)
{
	static const struct {
		const char *suffix;
		unsigned shift;
	} units[] = {
	    {"", 0},	 {"b", 0},   {"k", 10},	  {"kb", 10},  {"kib", 10},
	    {"m", 20},	 {"mb", 20}, {"mib", 20}, {"g", 30},   {"gb", 30},
	    {"gib", 30}, {"t", 40},  {"tb", 40},  {"tib", 40},
	};
	unsigned long long v;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (errno)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(end, units[i].suffix) != 0)
			continue;
		if (units[i].shift && v > (UINT64_MAX >> units[i].shift))
			return -ERANGE;
		*out = (uint64_t)v << units[i].shift;
		return 0;
	}
	return -EINVAL;
}

int util_parse_mode(const char *s, unsigned *out)
{
	unsigned long v;
	char *end;

	if (!s || !*s || strspn(s, "01234567") != strlen(s))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 8);
	if (errno || *end || v > 07777)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

const char *util_fmt_size(uint64_t n, char *buf, size_t len)
{
	static const char *const unit[] = {"B",	  "KiB", "MiB", "GiB",
					   "TiB", "PiB", "EiB"};
	unsigned u = 0;
	uint64_t whole = n;

	while (whole >= 1024 && u + 1 < sizeof(unit) / sizeof(unit[0])) {
		whole /= 1024;
		u++;
	}
	if (u == 0 || n % (1ull << (10 * u)) == 0)
		snprintf(buf, len, "%llu %s", (unsigned long long)whole,
			 unit[u]);
	else
		snprintf(buf, len, "%.1f %s",
			 (double)n / (double)(1ull << (10 * u)), unit[u]);
	return buf;
}

const char *util_fmt_uuid(const uint8_t uuid[16], char *buf, size_t len)
{
	char *o = buf;

	if (len < 37) {
		if (len)
			buf[0] = '\0';
		return buf;
	}
	for (unsigned i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*o++ = '-';
		o += snprintf(o, 3, "%02x", uuid[i]);
	}
	*o = '\0';
	return buf;
}
