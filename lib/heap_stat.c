/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * heap_stat.c -- daxo_heap_stat: how a pool's heap is used, read from its
 * file without opening the pool -- no lock, no recovery, no mapping of a
 * regular file (pread only: a file truncated meanwhile gives short reads,
 * never a SIGBUS). For daxod, which reports the free space of pools other
 * processes hold open, and for tools. A pool being written gives a
 * snapshot its writes may tear: the figures are then approximate, never
 * wrong in a way that crashes or loops: every entry is decoded as the heap
 * format says, every span and class bounded, every read bounded by the
 * file.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "heap.h"
#include "pool.h"

/* table entries read at a time */
#define STAT_BLOCK 8192u

struct src {
	int fd;
	const uint8_t *map; /* device DAX: mapped (it has no read()) */
	uint64_t size;
};

/* src_read -- @len bytes at @off; false if they are not all there */
static bool src_read(const struct src *s, uint64_t off, void *buf, size_t len)
{
	if (off > s->size || len > s->size - off)
		return false;
	if (s->map) {
		memcpy(buf, s->map + off, len);
		return true;
	}
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(s->fd, (char *)buf + got, len - got,
				  (off_t)(off + got));
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

/* the walk's state: the free stretch being measured */
struct walk {
	struct daxo_heap_info *out;
	uint64_t stretch, best, largest_slot;
};

static void stretch_end(struct walk *w)
{
	w->best = MAX(w->best, w->stretch);
	w->stretch = 0;
}

/* stat_run -- a run of class @cls at chunk @i: its bitmap counted */
static void stat_run(const struct src *s, const struct heap_geom *g,
		     struct walk *w, uint64_t i, unsigned cls)
{
	struct daxo_heap_info *out = w->out;
	struct run_geom rg;
	uint64_t words[2 * 64], used = 0;

	heap_run_geom(g, cls, &rg);
	for (uint32_t at = 0; at < rg.bitmap_words;) {
		uint32_t n = MIN(rg.bitmap_words - at, 64u);
		uint32_t per = rg.word_stride / 8;
		if (!src_read(s, heap_chunk_off(g, i) + heap_bm_off(&rg, at),
			      words, (size_t)n * rg.word_stride))
			return;
		for (uint32_t k = 0; k < n; k++)
			used += (uint64_t)__builtin_popcountll(
			    words[k * per] & ~heap_bm_tail(&rg, at + k));
		at += n;
	}
	struct daxo_heap_class *c = &out->cls[cls];
	c->runs++;
	c->slots += rg.nslots;
	c->used += used;
	out->runs++;
	out->run_bytes += rg.span * g->chunk_size;
	if (used == 0) {
		/* an idle run: chunks an allocation would take back */
		c->idle_runs++;
		out->free_chunk_bytes += rg.span * g->chunk_size;
		w->stretch += rg.span;
		return;
	}
	stretch_end(w);
	out->free_bytes += (rg.nslots - used) * rg.size;
	if (used < rg.nslots)
		w->largest_slot = MAX(w->largest_slot, rg.size);
}

static int stat_heap(const struct src *s, const struct pool_hdr *h,
		     struct daxo_heap_info *out)
{
	struct heap_geom g;
	struct walk w = {.out = out};
	uint64_t *tab = malloc(STAT_BLOCK * sizeof(*tab));
	uint64_t base = UINT64_MAX, nread = 0;

	if (!tab)
		return -ENOMEM;
	heap_geom_of(h, &g);
	out->chunk_size = g.chunk_size;
	out->nclasses = g.nclasses;
	for (unsigned c = 0; c < g.nclasses; c++)
		out->cls[c].size = heap_class_size(&g, c);
	if (g.table_size > s->size || g.chunks_off > s->size ||
	    g.nchunks > (s->size - g.chunks_off) / g.chunk_size)
		g.nchunks = 0;
	out->heap_bytes = g.nchunks * g.chunk_size;
	for (uint64_t i = 0; i < g.nchunks;) {
		struct chdr d;
		if (i < base || i >= base + nread) {
			base = i;
			nread = MIN(g.nchunks - i, (uint64_t)STAT_BLOCK);
			if (!src_read(s, heap_chdr_off(&g, i), tab,
				      nread * sizeof(*tab)))
				break;
		}
		bool ok = heap_chdr_decode(&g, i, tab[i - base], &d);
		if (ok && d.kind == CHUNK_FREE) {
			out->free_chunk_bytes += g.chunk_size;
			w.stretch++;
			i++;
			continue;
		}
		if (!ok || d.span == 0 || d.span > g.nchunks - i ||
		    (d.kind == CHUNK_RUN &&
		     (d.arg >= g.nclasses ||
		      d.span != heap_run_span(&g, d.arg)))) {
			/* damaged or torn: neither free nor counted */
			stretch_end(&w);
			i++;
			continue;
		}
		if (d.kind == CHUNK_LARGE) {
			stretch_end(&w);
			out->large_objects++;
			out->large_bytes += d.span * g.chunk_size;
		} else {
			stat_run(s, &g, &w, i, d.arg);
		}
		i += d.span;
	}
	stretch_end(&w);
	free(tab);
	out->free_bytes += out->free_chunk_bytes;
	/* heap 2: a LARGE object takes two chunks at least */
	if (g.v2 && w.best < 2)
		w.best = 0;
	out->largest_alloc = MAX(w.best * g.chunk_size, w.largest_slot);
	return 0;
}

DAXO_EXPORT int daxo_heap_stat(const char *path, struct daxo_heap_info *out)
{
	struct src s = {.fd = -1};
	struct pool_hdr h;
	struct stat st;
	int ret;

	daxo__err_clear();
	if (!path || !out)
		return daxo__err(-EINVAL, "daxo_heap_stat: NULL argument");
	memset(out, 0, sizeof(*out));
	/* O_NONBLOCK: a FIFO put where a pool was does not hang us */
	s.fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (s.fd < 0)
		return daxo__err(-errno, "%s: %s", path, strerror(errno));
	if (fstat(s.fd, &st) != 0) {
		ret = daxo__err(-errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (S_ISREG(st.st_mode)) {
		s.size = (uint64_t)st.st_size;
	} else if (S_ISCHR(st.st_mode)) {
		ret = pool_devdax_size(path, st.st_rdev, &s.size);
		if (ret)
			goto out;
		void *m = mmap(NULL, s.size, PROT_READ, MAP_SHARED, s.fd, 0);
		if (m == MAP_FAILED) {
			ret = daxo__err(-errno, "%s: mmap: %s", path,
					strerror(errno));
			goto out;
		}
		s.map = m;
	} else {
		ret = daxo__err(
		    -EINVAL, "%s: not a regular file or device-DAX node", path);
		goto out;
	}
	if (!src_read(&s, 0, &h, sizeof(h))) {
		ret = daxo__err(-EUCLEAN,
				"%s: offset 0: too small to be a daxo pool",
				path);
		goto out;
	}
	ret = pool_hdr_validate(&h, s.size, path, 0);
	if (!ret)
		ret = stat_heap(&s, &h, out);
	if (ret == -ENOMEM)
		ret = daxo__err(-ENOMEM, "%s: out of memory", path);
out:
	if (s.map)
		munmap((void *)s.map, s.size);
	close(s.fd);
	return ret;
}
