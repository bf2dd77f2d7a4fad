/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * recover.c -- recovery at open: replay every valid redo record above the
 * watermark in commit order, roll back every undo log whose transaction
 * never committed, and make the result final (tx.h, RECOVERY).
 */
#include <stdlib.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "heap.h"
#include "txint.h"

/* ---- recovery ---- */

struct rec {
	uint64_t seq;
	uint32_t lane; /* equal seqs (records that commute) sorted by lane */
	uint64_t *w; /* the stream, copied out */
	size_t n;    /* words */
};

/* read_stream -- copy a record's stream out and verify it; NULL if invalid */
static uint64_t *read_stream(daxo_pool *p, const struct redo_hdr *h)
{
	uint64_t nbytes = h->nbytes;
	uint64_t first = MIN(nbytes, (uint64_t)(TX_SLOT_SIZE - sizeof(*h)));

	if (nbytes % 8 || nbytes > p->size)
		return NULL;
	char *buf = malloc(nbytes ? nbytes : 8);
	if (!buf)
		return NULL;
	memcpy(buf, h + 1, first);
	uint64_t got = first, off = h->next;
	while (got < nbytes) {
		if (!off || !pool_in_range(p, off, sizeof(struct log_ext)))
			goto bad;
		const struct log_ext *e = pool_ptr(p, off);
		uint64_t cap = e->cap;
		if (cap < 64 || cap % 8 ||
		    !pool_in_range(p, off + sizeof(*e), cap))
			goto bad;
		uint64_t len = MIN(cap, nbytes - got);
		memcpy(buf + got, e + 1, len);
		got += len;
		off = e->next;
	}
#ifndef DAXO_PLANT_SKIP_LOG_CSUM /* crash-sim test: torn stream accepted */
	if (XXH64(buf, nbytes, 0) != h->scsum)
		goto bad;
#endif
	return (uint64_t *)buf;
bad:
	free(buf);
	return NULL;
}


static int rec_cmp(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;

	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return x->lane < y->lane ? -1 : x->lane > y->lane;
}

/*
 * drop_torn -- take out of @recs every record whose commit never reached
 * its fence: a SUM entry whose bytes no longer match, and no other record
 * to replay that meets them (tx.h: SUMMED FILLS). Read from the image as
 * the crash left it, before anything is replayed. Returns the new count.
 */
static size_t drop_torn(daxo_pool *p, struct rec *recs, size_t nrecs)
{
	for (size_t k = 0; k < nrecs;) {
		uint64_t off, len;
		bool met = false;

		if (!redo_sum_broken(recs[k].w, recs[k].n,
				     (const uint8_t *)p->base, &off, &len)) {
			k++;
			continue;
		}
#ifndef DAXO_PLANT_SUM_ANY_MISMATCH /* crash-sim test: later writers ignored */
		for (size_t j = 0; j < nrecs && !met; j++)
			met = j != k && redo_stream_meets(recs[j].w, recs[j].n,
							  off, off + len, true);
#endif
		if (met) {
			k++;
			continue;
		}
		free(recs[k].w);
		recs[k] = recs[--nrecs];
	}
	return nrecs;
}

/* undo_scan -- the entries of the lane's undo log; returns their count */
static size_t undo_scan(daxo_pool *p, uint32_t lane, uint64_t *gen,
			uint64_t **ents)
{
	uint64_t area = pool_off(p, lane_undo(p, lane));
	uint64_t pos = area + UNDO_HDR_SIZE, end = area + TX_UNDO_SIZE;
	size_t n = 0, cap = 0;

	uint64_t jumps = 0;

	*gen = 0;
	*ents = NULL;
	for (uint64_t guard = 0; guard < p->size / 32; guard++) {
		if (end < sizeof(struct undo_ent) || pos > end - sizeof(struct undo_ent))
			break;
		const struct undo_ent *e = pool_ptr(p, pos);
		if (e->gen == 0 || (*gen && e->gen != *gen))
			break;
		if (e->len == UNDO_JUMP) {
			/* each jump goes to a chunk of its own: more jumps than
			 * chunks is a loop in a damaged log */
			if (++jumps > p->size / HEAP_CHUNK_SIZE ||
			    e->csum != XXH64(&e->gen, 24, 0) ||
			    e->off < sizeof(struct log_ext) ||
			    !pool_in_range(p, e->off - sizeof(struct log_ext),
					   sizeof(struct log_ext)) ||
			    !heap_target_ok(p, e->off - sizeof(struct log_ext),
					    sizeof(struct log_ext)))
				break;
			const struct log_ext *x =
				pool_ptr(p, e->off - sizeof(struct log_ext));
			*gen = e->gen;
			pos = e->off;
			end = pool_in_range(p, pos, x->cap) ? pos + x->cap
							    : p->size;
			continue;
		}
		if (e->len > end - pos - sizeof(*e) ||
		    !heap_target_ok(p, e->off, e->len))
			break;
		XXH64_state_t st;
		XXH64_reset(&st, 0);
		XXH64_update(&st, &e->gen, 24);
		XXH64_update(&st, e + 1, e->len);
		if (XXH64_digest(&st) != e->csum)
			break;
		if (tx_grow(ents, &cap, n + 1, sizeof(uint64_t)))
			break;
		(*ents)[n++] = pos;
		*gen = e->gen;
		pos += sizeof(*e) + ALIGN_UP(e->len, 8ull);
	}
	return n;
}

/* lane_undo -- an undo log recovery must roll back */
struct lane_undo {
	uint32_t lane;
	uint64_t gen;
	uint64_t *ents;
	size_t n;
};

int tx_recover(daxo_pool *p)
{
	struct lanes *l = p->lanes;
	struct persist *ps = &p->ps;
	struct rec *recs = NULL;
	struct lane_undo undos[TX_NLANES];
	size_t nrecs = 0, caprecs = 0, nundos = 0;
	uint64_t maxseq = 0;
	/* records at or below the watermark were applied durably */
	uint64_t w = p->meta->w_seq;
	int ret = 0;

	for (uint32_t i = 0; i < TX_NLANES; i++)
		for (unsigned s = 0; s <= p->slot_mask; s++) {
			const struct redo_hdr *h = lane_slot_at(p, i, s);
			if (tx_hdr_valid(h, i) && (h->gen & p->slot_mask) == s)
				w = MAX(w, h->w);
		}
	for (uint32_t i = 0; i < TX_NLANES; i++) {
		uint64_t hgen = 0;
		bool full_gen[TX_NSLOTS_MAX] = {false};
		uint64_t slot_gen[TX_NSLOTS_MAX] = {0};

		for (unsigned s = 0; s <= p->slot_mask; s++) {
			struct redo_hdr *h = lane_slot_at(p, i, s);
			atomic_store(&l->lane[i].slot_seq[s], 0);
			if (!tx_hdr_valid(h, i) || (h->gen & p->slot_mask) != s)
				continue;
			hgen = MAX(hgen, h->gen);
			maxseq = MAX(maxseq, h->seq);
			slot_gen[s] = h->gen;
			atomic_store(&l->lane[i].slot_seq[s], h->seq);
			if (h->seq > atomic_load(&l->lane[i].top_seq))
				atomic_store(&l->lane[i].top_seq, h->seq);
			uint64_t *wd = read_stream(p, h);
			if (!wd)
				continue;
			full_gen[s] = true;
			size_t n = h->nbytes / 8;
			if (h->seq <= w || n == 0 || !tx_stream_ok(p, wd, n)) {
				free(wd);
				continue;
			}
			if (tx_grow(&recs, &caprecs, nrecs + 1, sizeof(*recs))) {
				free(wd);
				ret = daxo__err(-ENOMEM,
						"%s: recovery: out of memory",
						p->path);
				goto out;
			}
			recs[nrecs++] = (struct rec){h->seq, i, wd, n};
		}
		/* undo entries are void if a later generation began or this
		 * one ended with a valid record */
		uint64_t ugen, *ents;
		size_t nents = undo_scan(p, i, &ugen, &ents);
		unsigned us = (unsigned)(ugen & p->slot_mask);
		bool ended = hgen > ugen ||
			     (slot_gen[us] == ugen && full_gen[us]);
		if (nents && !ended)
			undos[nundos++] = (struct lane_undo){i, ugen, ents, nents};
		else
			free(ents);
		l->lane[i].gen = MAX(hgen, ugen);
	}
	nrecs = drop_torn(p, recs, nrecs);
	/* committed work first, in commit order */
	if (nrecs)
		qsort(recs, nrecs, sizeof(*recs), rec_cmp);
	for (size_t k = 0; k < nrecs; k++)
		tx_apply(p, recs[k].w, recs[k].n, true);
	/* then roll back what never committed, newest entry first */
	for (size_t u = 0; u < nundos; u++)
		for (size_t k = undos[u].n; k-- > 0;) {
			const struct undo_ent *e = pool_ptr(p, undos[u].ents[k]);
			persist_memcpy(ps, pool_ptr(p, e->off), e + 1, e->len);
		}
	if (nrecs || nundos) {
		/* replayed and restored data durable before anything else */
		persist_drain(ps);
		for (size_t u = 0; u < nundos; u++) {
			/* the done record's slot: its old record is final now */
			tx_write_done(p, undos[u].lane, undos[u].gen, ++maxseq, 0);
			lane_note_record(p, &l->lane[undos[u].lane],
					 undos[u].gen, maxseq);
		}
	}
	/* everything is applied: nothing found now is ever replayed again */
	if (p->meta->w_seq < maxseq) {
		p->meta->w_seq = maxseq;
		persist_flush(ps, &p->meta->w_seq, 8);
		persist_drain(ps);
	}
	/* the session's seqs start above every seq on media (txint.h: ORDER) */
	atomic_store(&l->floor, maxseq + 1);
	atomic_store(&l->w_durable, maxseq);
	p->recovered = nrecs + nundos;
	p->recovery_pending = p->recovered > 0;
	if (p->recovered)
		persist_count(ps, ST_RECOVERIES, p->recovered);
out:
	for (size_t u = 0; u < nundos; u++)
		free(undos[u].ents);
	for (size_t k = 0; k < nrecs; k++)
		free(recs[k].w);
	free(recs);
	return ret;
}

