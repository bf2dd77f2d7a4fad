/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * share.c -- the line-sharing counter of share.h (built only with
 * -DDAXO_COUNT_SHARED). One table of the lines touched, under one lock:
 * it serializes the marked accesses, which is what a count needs, and is
 * far too slow for anything but tests.
 */
#define _GNU_SOURCE 1
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "share.h"

#ifdef DAXO_COUNT_SHARED

#define SHARE_LINES (1u << 16) /* open addressing; more lines are ignored */

struct sline {
	uintptr_t line;	  /* address / CACHELINE, 0: empty */
	int writer;	  /* thread id of the last writer, -1: none */
	uint64_t readers; /* threads (id % 64) that read it since */
	uint64_t nw, nr;  /* shared writes and reads counted on it */
	const void *site; /* the last counted access's caller */
};

static struct sline table[SHARE_LINES];

/* the counts by call site (share_dump): the caller of the marked access */
#define SHARE_SITES 1024u
struct ssite {
	const void *site; /* NULL: empty */
	uint64_t nw, nr;
};
static struct ssite sites[SHARE_SITES];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/* with __atomic builtins: the counted macros are not for this file */
static int next_id;
static __thread int my_id = -1;
static __thread struct share_counts counts;

/* site_count -- one shared access more at @site (table lock held) */
static void site_count(const void *site, bool write)
{
	size_t h = (size_t)((uintptr_t)site * 0x9e3779b97f4a7c15ull) >> 54;

	for (size_t n = 0; n < SHARE_SITES; n++) {
		struct ssite *t = &sites[(h + n) % SHARE_SITES];
		if (t->site && t->site != site)
			continue;
		t->site = site;
		if (write)
			t->nw++;
		else
			t->nr++;
		return;
	}
}

static struct sline *lookup(uintptr_t line)
{
	size_t h = (size_t)(line * 0x9e3779b97f4a7c15ull) >> 48;

	for (size_t n = 0; n < SHARE_LINES; n++) {
		struct sline *s = &table[(h + n) % SHARE_LINES];
		if (s->line == line)
			return s;
		if (!s->line) {
			s->line = line;
			s->writer = -1;
			s->readers = 0;
			return s;
		}
	}
	return NULL;
}

void share_note(const volatile void *addr, bool write)
{
	uintptr_t line = (uintptr_t)addr / CACHELINE;

	if (my_id < 0)
		my_id = __atomic_fetch_add(&next_id, 1, __ATOMIC_RELAXED);
	uint64_t me = 1ull << (my_id % 64);
	pthread_mutex_lock(&lock);
	struct sline *s = lookup(line);
	if (s) {
		if (write) {
			if ((s->writer >= 0 && s->writer != my_id) ||
			    (s->readers & ~me)) {
				counts.writes++;
				s->nw++;
				s->site = __builtin_return_address(0);
				site_count(s->site, true);
			}
			s->writer = my_id;
			s->readers = me;
		} else {
			if (s->writer >= 0 && s->writer != my_id &&
			    !(s->readers & me)) {
				counts.reads++;
				s->nr++;
				s->site = __builtin_return_address(0);
				site_count(s->site, false);
			}
			s->readers |= me;
		}
	}
	pthread_mutex_unlock(&lock);
}

void share_get(struct share_counts *out)
{
	*out = counts;
}

void share_reset(void)
{
	memset(&counts, 0, sizeof(counts));
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < SHARE_LINES; i++)
		table[i].nw = table[i].nr = 0;
	memset(sites, 0, sizeof(sites));
	pthread_mutex_unlock(&lock);
}

void share_dump(void)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < SHARE_LINES; i++)
		if (table[i].nw + table[i].nr) {
			Dl_info di;
			uintptr_t at = (uintptr_t)table[i].site;
			if (dladdr(table[i].site, &di) && di.dli_fbase)
				at -= (uintptr_t)di.dli_fbase;
			fprintf(stderr,
				"share: line %#lx writes %llu reads %llu "
				"(last at +%#lx)\n",
				(unsigned long)(table[i].line * CACHELINE),
				(unsigned long long)table[i].nw,
				(unsigned long long)table[i].nr,
				(unsigned long)at);
		}
	for (size_t i = 0; i < SHARE_SITES; i++)
		if (sites[i].site) {
			Dl_info di;
			uintptr_t at = (uintptr_t)sites[i].site;
			if (dladdr(sites[i].site, &di) && di.dli_fbase)
				at -= (uintptr_t)di.dli_fbase;
			fprintf(stderr,
				"share: site +%#lx writes %llu reads %llu\n",
				(unsigned long)at,
				(unsigned long long)sites[i].nw,
				(unsigned long long)sites[i].nr);
		}
	pthread_mutex_unlock(&lock);
}

#endif
