/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * check_log.c -- the checker's view of the lanes: each lane's redo slots
 * and extension blocks, and its undo log. It finds what recovery will do
 * -- replay committed records, roll back unfinished transactions --
 * reports it, and does it on the check's private mapping, so that the
 * heap (check_heap.c) and the pool meta (check_hdr.c) are checked as they
 * will be after recovery.
 */
#include <stdlib.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "check.h"
#include "heap.h"
#include "pool.h"
#include "tx.h"
#include "checkint.h"

/* ---- lanes: redo records and undo logs ---- */

/*
 * This is an independent reading of the formats of tx.h: the checker finds
 * what recovery will do (replay, roll back), reports it, and does it on its
 * private view so that the heap and the meta are checked as they will be
 * after recovery.
 */

struct crec {
	uint64_t seq;
	uint64_t *w; /* the stream */
	size_t n;    /* words */
};

/* in_target -- [off, off+len) inside the pool meta or the heap region */
static bool in_target(const struct chk *c, uint64_t off, uint64_t len)
{
	const struct pool_hdr *h = &c->hdr;

	if (off >= h->meta_off && len <= h->meta_size &&
	    off - h->meta_off <= h->meta_size - len)
		return true;
	return off >= h->heap_off && len <= h->heap_size &&
	       off - h->heap_off <= h->heap_size - len;
}

/* stream_bad -- NULL if every entry is well-formed and aimed right */
static const char *stream_bad(const struct chk *c, const uint64_t *w, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t k = redo_entry_words(&w[i], n - i);
		uint64_t op, off, len;

		if (!k)
			return "malformed entry";
		op = w[i] >> 56;
		off = w[i] & REDO_OFF_MASK;
		len = redo_entry_len(&w[i]);
		if (op != REDO_COPY && redo_writes(op) && off % len)
			return "misaligned entry";
		if (!redo_writes(op) && !len)
			return "empty SUM or NOTE entry";
		if (!redo_writes(op) &&
		    !(c->hdr.incompat & POOL_INCOMPAT_SUMS))
			return "SUM or NOTE entry in a pool of a format "
			       "without them";
		if (!in_target(c, off, len))
			return "entry aimed outside the meta and the heap";
		i += k;
	}
	return NULL;
}

/* replay -- carry out a checked stream on the private view */
static void replay(struct chk *c, const uint64_t *w, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t k = redo_entry_words(&w[i], n - i);
		uint64_t op = w[i] >> 56, off = w[i] & REDO_OFF_MASK, v;
		uint32_t v32;

		switch (op) {
		case REDO_SET64:
			memcpy(c->base + off, &w[i + 1], 8);
			break;
		case REDO_SET32:
			v32 = (uint32_t)w[i + 1];
			memcpy(c->base + off, &v32, 4);
			break;
		case REDO_OR64:
			v = check_rd64(c, off) | w[i + 1];
			memcpy(c->base + off, &v, 8);
			break;
		case REDO_AND64:
			v = check_rd64(c, off) & w[i + 1];
			memcpy(c->base + off, &v, 8);
			break;
		case REDO_COPY:
			memmove(c->base + off, &w[i + 2], w[i + 1]);
			break;
		default:
			break;
		}
		i += k;
	}
}

/*
 * read_stream -- a header-valid record's stream, copied out and verified
 * (NULL: torn, damaged, or out of memory: *why says which)
 */
static uint64_t *read_stream(const struct chk *c, uint64_t at,
			     const struct redo_hdr *h, const char **why)
{
	uint64_t nbytes = h->nbytes, first, got, off;
	uint8_t *buf;

	*why = "stream length not a multiple of 8 or larger than the pool";
	if (nbytes % 8 || nbytes > c->size)
		return NULL;
	first = MIN(nbytes, (uint64_t)(TX_SLOT_SIZE - sizeof(*h)));
	buf = malloc(nbytes ? nbytes : 8);
	*why = "out of memory";
	if (!buf)
		return NULL;
	memcpy(buf, c->base + at + sizeof(*h), first);
	got = first;
	off = h->next;
	/* each block holds at least 64 bytes, so this loop is bounded */
	while (got < nbytes) {
		struct log_ext e;

		*why = "extension block outside the pool";
		if (!off || !check_in_file(c, off, sizeof(e)))
			goto bad;
		memcpy(&e, c->base + off, sizeof(e));
		*why = "extension block of a bad size";
		if (e.cap < 64 || e.cap % 8 ||
		    !check_in_file(c, off + sizeof(e), e.cap))
			goto bad;
		uint64_t len = MIN(e.cap, nbytes - got);
		memcpy(buf + got, c->base + off + sizeof(e), len);
		got += len;
		off = e.next;
	}
	*why = "stream checksum mismatch (torn: never committed)";
	if (XXH64(buf, nbytes, 0) != h->scsum)
		goto bad;
	return (uint64_t *)buf;
bad:
	free(buf);
	return NULL;
}

/* a set of pool offsets (open addressing), to see a cycle of jumps */
struct offset_set {
	uint64_t *v;
	size_t n, cap; /* cap: a power of two, or 0 */
};

/* set_add -- false if @off was there already (or memory ran out) */
static bool set_add(struct offset_set *s, uint64_t off)
{
	if (2 * (s->n + 1) > s->cap) {
		size_t nc = s->cap ? 2 * s->cap : 64;
		uint64_t *nv = calloc(nc, sizeof(*nv));
		if (!nv)
			return false;
		for (size_t i = 0; i < s->cap; i++) {
			size_t h = s->v[i] * 0x9e3779b97f4a7c15ull >> 20;
			while (s->v[i] && nv[h & (nc - 1)])
				h++;
			if (s->v[i])
				nv[h & (nc - 1)] = s->v[i];
		}
		free(s->v);
		s->v = nv;
		s->cap = nc;
	}
	for (size_t h = off * 0x9e3779b97f4a7c15ull >> 20;; h++) {
		uint64_t *slot = &s->v[h & (s->cap - 1)];
		if (*slot == off)
			return false;
		if (!*slot) {
			*slot = off; /* offsets are never 0 here */
			s->n++;
			return true;
		}
	}
}

/*
 * undo_read -- entry offsets of a lane's undo log and their generation.
 * Entries only move forward inside a block; a jump to a block already
 * visited (a cycle, which only damage makes) ends the log.
 */
static size_t undo_read(const struct chk *c, uint64_t area, uint64_t *gen,
			uint64_t **ents)
{
	uint64_t pos = area + UNDO_HDR_SIZE, end = area + TX_UNDO_SIZE;
	struct offset_set seen = {NULL, 0, 0};
	size_t n = 0, cap = 0;

	*gen = 0;
	*ents = NULL;
	for (uint64_t guard = 0; guard < c->size / 32; guard++) {
		struct undo_ent e;
		XXH64_state_t st;

		if (end < sizeof(e) || pos > end - sizeof(e) ||
		    !check_in_file(c, pos, sizeof(e)))
			break;
		memcpy(&e, c->base + pos, sizeof(e));
		if (e.gen == 0 || (*gen && e.gen != *gen))
			break;
		if (e.len == UNDO_JUMP) {
			struct log_ext x;
			if (e.csum != XXH64(&e.gen, 24, 0) ||
			    e.off < sizeof(x) ||
			    !in_target(c, e.off - sizeof(x), sizeof(x)) ||
			    !set_add(&seen, e.off))
				break;
			memcpy(&x, c->base + e.off - sizeof(x), sizeof(x));
			*gen = e.gen;
			pos = e.off;
			end = check_in_file(c, pos, x.cap) ? pos + x.cap
							    : c->size;
			continue;
		}
		if (e.len > end - pos - sizeof(e) ||
		    !in_target(c, e.off, e.len))
			break;
		XXH64_reset(&st, 0);
		XXH64_update(&st, &e.gen, 24);
		XXH64_update(&st, c->base + pos + sizeof(e), e.len);
		if (XXH64_digest(&st) != e.csum)
			break;
		if (n == cap) {
			size_t nc = cap ? 2 * cap : 16;
			uint64_t *a = realloc(*ents, nc * sizeof(*a));
			if (!a)
				break;
			*ents = a;
			cap = nc;
		}
		(*ents)[n++] = pos;
		*gen = e.gen;
		pos += sizeof(e) + ALIGN_UP(e.len, 8ull);
	}
	free(seen.v);
	return n;
}

/* hdr_ok -- magic, lane and header checksum hold, in its generation's slot */
static bool hdr_ok(const struct redo_hdr *h, uint32_t lane, unsigned slot,
		   unsigned nslots)
{
	return h->magic == (REDO_MAGIC | (uint64_t)lane << 48) && h->gen &&
	       h->hcsum == XXH64(&h->seq, sizeof(*h) - 8, 0) &&
	       h->gen % nslots == slot;
}

/*
 * watermark -- W of tx.h: records with seq <= W were durably applied and
 * are never replayed. The pool meta's w_seq and the w of every
 * header-valid record.
 */
static uint64_t watermark(const struct chk *c)
{
	const struct pool_meta *m = (const void *)(c->base + c->hdr.meta_off);
	uint64_t w = m->w_seq;
	unsigned ns = pool_lane_slots(&c->hdr);

	for (uint32_t i = 0; i < c->hdr.nlanes; i++)
		for (unsigned s = 0; s < ns; s++) {
			struct redo_hdr h;
			memcpy(&h,
			       c->base + c->hdr.lanes_off +
				   (uint64_t)i * c->hdr.lane_size +
				   s * TX_SLOT_SIZE,
			       sizeof(h));
			if (hdr_ok(&h, i, s, ns))
				w = MAX(w, h.w);
		}
	return w;
}

static int crec_cmp(const void *a, const void *b)
{
	const struct crec *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

struct cundo {
	uint64_t *ents;
	size_t n;
};

int check_lanes(struct chk *c)
{
	struct crec *recs = NULL;
	struct cundo *undos = NULL;
	size_t nrecs = 0, nundos = 0, nvalid = 0;
	uint64_t wm = watermark(c);
	unsigned ns = pool_lane_slots(&c->hdr);
	int ret = 0;

	recs = calloc(ns * (size_t)c->hdr.nlanes, sizeof(*recs));
	undos = calloc(c->hdr.nlanes, sizeof(*undos));
	if (!recs || !undos) {
		ret = daxo__err(-ENOMEM, "daxo_check: out of memory");
		goto out;
	}
	for (uint32_t i = 0; i < c->hdr.nlanes; i++) {
		uint64_t lo = c->hdr.lanes_off + (uint64_t)i * c->hdr.lane_size;
		uint64_t hgen = 0, sgen[TX_NSLOTS_MAX] = {0};
		bool full[TX_NSLOTS_MAX] = {false};

		for (unsigned s = 0; s < ns; s++) {
			uint64_t at = lo + s * TX_SLOT_SIZE;
			static const uint8_t zero[64];
			struct redo_hdr h;
			const char *why;

			memcpy(&h, c->base + at, sizeof(h));
			if (!memcmp(&h, zero, sizeof(h)))
				continue;
			if (h.magic != (REDO_MAGIC | (uint64_t)i << 48) ||
			    !h.gen ||
			    h.hcsum != XXH64(&h.seq, sizeof(h) - 8, 0)) {
				check_rpt(c, DAXO_CHECK_INFO | NOTE, at,
				    "lane %u slot %u: no valid record header "
				    "(torn, never completed, or damaged): "
				    "ignored by recovery",
				    i, s);
				continue;
			}
			if (h.gen % ns != s) {
				check_rpt(c, DAXO_CHECK_INFO | NOTE, at,
				    "lane %u slot %u: record of generation "
				    "%llu "
				    "in the wrong slot: ignored by recovery",
				    i, s, (unsigned long long)h.gen);
				continue;
			}
			hgen = MAX(hgen, h.gen);
			sgen[s] = h.gen;
			uint64_t *w = read_stream(c, at, &h, &why);
			if (!w) {
				check_rpt(c, DAXO_CHECK_INFO | NOTE, at,
				    "lane %u slot %u: record seq %llu gen %llu "
				    "not valid: %s",
				    i, s, (unsigned long long)h.seq,
				    (unsigned long long)h.gen, why);
				continue;
			}
			full[s] = true;
			nvalid++;
			why = stream_bad(c, w, h.nbytes / 8);
			if (why) {
				check_rpt(c, DAXO_CHECK_FATAL, at,
				    "lane %u slot %u: record seq %llu has a "
				    "valid checksum but a %s: recovery would "
				    "skip a committed transaction",
				    i, s, (unsigned long long)h.seq, why);
				free(w);
				continue;
			}
			if (h.seq <= wm || h.nbytes == 0) {
				/* applied durably (or a done record) */
				free(w);
				continue;
			}
			check_rpt(c, DAXO_CHECK_REPAIRABLE, at,
			    "lane %u slot %u: committed record seq %llu (gen "
			    "%llu, %llu bytes) is above the watermark %llu: "
			    "recovery will replay it",
			    i, s, (unsigned long long)h.seq,
			    (unsigned long long)h.gen,
			    (unsigned long long)h.nbytes,
			    (unsigned long long)wm);
			recs[nrecs++] = (struct crec){h.seq, w, h.nbytes / 8};
		}

		uint64_t ugen, *ents;
		uint64_t undo = lo + (uint64_t)ns * TX_SLOT_SIZE;
		size_t n = undo_read(c, undo, &ugen, &ents);
		bool ended = hgen > ugen ||
			     (sgen[ugen % ns] == ugen && full[ugen % ns]);
		if (n && !ended) {
			check_rpt(c, DAXO_CHECK_REPAIRABLE, undo,
			    "lane %u: undo log of generation %llu (%zu "
			    "entries) belongs to an unfinished transaction: "
			    "recovery will roll it back",
			    i, (unsigned long long)ugen, n);
			undos[nundos].ents = ents;
			undos[nundos++].n = n;
		} else {
			free(ents);
		}
	}
	/*
	 * a record whose SUM no longer matches its bytes, with no other
	 * record to replay over them, never reached its fence (tx.h: SUMMED
	 * FILLS): recovery drops it. Judged on the image as it is, before
	 * any replay.
	 */
	for (size_t k = 0; k < nrecs;) {
		uint64_t off, len;
		bool met = false;
		if (!redo_sum_broken(recs[k].w, recs[k].n, c->base, &off,
				     &len)) {
			k++;
			continue;
		}
		for (size_t j = 0; j < nrecs && !met; j++)
			met = j != k && redo_stream_meets(recs[j].w, recs[j].n,
							  off, off + len, true);
		if (met) {
			k++;
			continue;
		}
		check_rpt(c, DAXO_CHECK_INFO | NOTE, off,
		    "record seq %llu: the %llu bytes it wrote in place at "
		    "%llu do not match its checksum and no later record "
		    "wrote them (torn: never committed): recovery drops it instead",
		    (unsigned long long)recs[k].seq, (unsigned long long)len,
		    (unsigned long long)off);
		free(recs[k].w);
		recs[k] = recs[--nrecs];
	}
	/* what recovery will do, on the private view */
	qsort(recs, nrecs, sizeof(*recs), crec_cmp);
	for (size_t k = 0; k < nrecs; k++)
		replay(c, recs[k].w, recs[k].n);
	for (size_t u = 0; u < nundos; u++)
		for (size_t k = undos[u].n; k-- > 0;) {
			struct undo_ent e;
			memcpy(&e, c->base + undos[u].ents[k], sizeof(e));
			memmove(c->base + e.off,
				c->base + undos[u].ents[k] + sizeof(e), e.len);
		}
	if (nrecs || nundos)
		c->recovery_pending = true;
	check_rpt(c, DAXO_CHECK_INFO | NOTE, c->hdr.lanes_off,
	    "logs: %u lanes, %zu valid records, watermark %llu, %zu to "
	    "replay, %zu undo logs to roll back",
	    c->hdr.nlanes, nvalid, (unsigned long long)wm, nrecs, nundos);
out:
	for (size_t k = 0; k < nrecs; k++)
		free(recs[k].w);
	for (size_t u = 0; u < nundos; u++)
		free(undos[u].ents);
	free(recs);
	free(undos);
	return ret;
}
