/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * check.c -- the offline consistency checker and repair: daxo_check().
 *
 * A check reads a closed pool through a private read-only mapping and takes
 * no lock (a pool open elsewhere may be seen mid-change: a process that
 * has it open read-write at the start or the end is reported first, from
 * /proc/locks, so that nobody trusts that verdict). It verifies, in
 * order: the header and its copy; every lane's redo slots and undo log; the
 * heap's chunk table and run bitmaps; the pool meta (root object, keyed
 * store anchor). Whatever the bytes, it never crashes and never loops
 * unboundedly: every offset read is range-checked against the file first
 * and every walk is bounded by the size of what it walks.
 *
 * Repair (DAXO_CHECK_REPAIR) opens the file read-write under the pool's
 * exclusive lock (-EBUSY if the pool is open) and fixes only what can be
 * derived safely: a damaged header from its valid copy (and the reverse),
 * stray bitmap bits beyond a run's slots, stale headers of covered chunks,
 * malformed chunk heads that provably hold no live object. Pending log
 * recovery is run by opening the pool. Then the pool is checked again from
 * scratch, and that verdict is returned. DAXO_CHECK_DRY_RUN makes the same
 * decisions on a copy-on-write view and changes nothing.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "badblocks.h"
#include "check.h"
#include "heap.h"
#include "kv.h"
#include "pool.h"
#include "tx.h"

/* one repair: @len bytes at @off; hdr: a header region (written first) */
struct fixrec {
	uint64_t off;
	uint32_t len;
	bool hdr;
	uint8_t *data;
};

struct chk {
	const char *path;
	unsigned flags;
	daxo_check_cb cb;
	void *arg;
	int fd;
	uint8_t *base; /* private copy-on-write mapping: logs are replayed
			  into it, repairs are applied to it */
	uint64_t size;	  /* the pool's, once its header is trusted */
	uint64_t maplen;  /* the file's (or device's): what is mapped */
	uint64_t trim_to; /* repair truncates the file to this, if not 0 */
	bool devdax;
	struct bb_list bb; /* ranges on media errors: read as zeros here */
	bool fix; /* repairing (or dry-running): record repairs */
	bool dry;
	bool quiet;	     /* final re-check after repair: report nothing */
	struct fixrec *fixv; /* repairs to write to the file */
	size_t nfix, capfix;
	int worst; /* 0 ok, 1 repairable, 2 fatal */
	unsigned fixes;
	bool recovery_pending;
	bool writer_seen; /* warned: a process has the pool open read-write */
	struct pool_hdr hdr; /* the header this check trusts */
	/* heap, as found */
	struct heap_geom g;
	uint64_t *owner; /* head chunk index + 1 of each chunk; 0 = free */
	uint64_t nobjs, used_bytes, free_chunks;
	struct check_view view;
};

static void rpt(struct chk *c, int sev, uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* or'd into an INFO severity: report it even without DAXO_CHECK_VERBOSE */
#define NOTE 0x100

static void rpt(struct chk *c, int sev, uint64_t off, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	bool note = sev & NOTE;

	sev &= ~NOTE;
	if (sev == DAXO_CHECK_REPAIRABLE)
		c->worst = MAX(c->worst, 1);
	else if (sev == DAXO_CHECK_FATAL)
		c->worst = 2;
	if (c->quiet || !c->cb)
		return;
	if (sev == DAXO_CHECK_INFO && !(c->flags & DAXO_CHECK_VERBOSE) &&
	    off != UINT64_MAX && !note)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->cb(sev, off == UINT64_MAX ? 0 : off, msg, c->arg);
}

/* info that is always reported (a summary), not only with VERBOSE */
#define SUMMARY UINT64_MAX

static void view_report(const struct check_view *v, int sev, uint64_t off,
			const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void view_report(const struct check_view *v, int sev, uint64_t off,
			const char *fmt, ...)
{
	struct chk *c = v->priv;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	rpt(c, sev, off, "%s", msg);
}

/* in_file -- [off, off+len) lies inside the file (overflow-safe) */
static bool in_file(const struct chk *c, uint64_t off, uint64_t len)
{
	return off <= c->size && len <= c->size - off;
}

static uint64_t rd64(const struct chk *c, uint64_t off)
{
	uint64_t v;

	memcpy(&v, c->base + off, 8);
	return v;
}

/*
 * fix -- apply one repair: write @len bytes at @off of the mapping. The
 * caller has reported the finding; this reports the change.
 */
static void fix(struct chk *c, uint64_t off, const void *src, size_t len,
		const char *what)
{
	struct fixrec *f;

	if (!c->fix)
		return;
	if (c->nfix == c->capfix) {
		size_t n = c->capfix ? 2 * c->capfix : 16;
		f = realloc(c->fixv, n * sizeof(*f));
		if (!f) {
			rpt(c, DAXO_CHECK_FATAL, off,
			    "out of memory recording a repair");
			return;
		}
		c->fixv = f;
		c->capfix = n;
	}
	f = &c->fixv[c->nfix];
	f->data = malloc(len);
	if (!f->data) {
		rpt(c, DAXO_CHECK_FATAL, off,
		    "out of memory recording a repair");
		return;
	}
	memcpy(f->data, src, len);
	f->off = off;
	f->len = (uint32_t)len;
	f->hdr = off < POOL_META_OFF;
	c->nfix++;
	/* later checks see the repaired bytes */
	memmove(c->base + off, src, len);
	c->fixes++;
	rpt(c, c->dry ? DAXO_CHECK_INFO | NOTE : DAXO_CHECK_REPAIRED, off,
	    "%s%s", c->dry ? "would repair: " : "", what);
}

static void fix64(struct chk *c, uint64_t off, uint64_t val, const char *what)
{
	fix(c, off, &val, 8, what);
}

/* ---- media errors (badblocks.h) ---- */

static int lock_pool(const char *path);

/* on_bad -- the first range on a media error that [off, off+len) meets */
static const struct bb_range *on_bad(const struct chk *c, uint64_t off,
				     uint64_t len)
{
	for (size_t i = 0; i < c->bb.n; i++)
		if (off < c->bb.r[i].off + c->bb.r[i].len &&
		    c->bb.r[i].off < off + len)
			return &c->bb.r[i];
	return NULL;
}

static bool view_bad(const struct check_view *v, uint64_t off, uint64_t len)
{
	return on_bad(v->priv, off, len) != NULL;
}

/* region_name -- what of the pool's layout lies at @off */
static const char *region_name(const struct chk *c, uint64_t off)
{
	if (off < POOL_META_OFF)
		return "the header or its copy";
	if (off < POOL_LANES_OFF)
		return "the pool's meta data";
	if (!c->hdr.heap_off || off < c->hdr.heap_off)
		return "the lanes (transaction logs)";
	return "the heap";
}

/* check_media -- every range of the pool on a media error is lost data */
static void check_media(struct chk *c)
{
	for (size_t i = 0; i < c->bb.n; i++) {
		const struct bb_range *r = &c->bb.r[i];

		rpt(c, DAXO_CHECK_REPAIRABLE, r->off,
		    "media error: %llu bytes (offsets %llu to %llu, in %s) "
		    "lie on bad blocks of device %s; what they held is lost "
		    "(read as zeros here); repair gives them fresh blocks",
		    (unsigned long long)r->len, (unsigned long long)r->off,
		    (unsigned long long)(r->off + r->len),
		    region_name(c, r->off), c->bb.dev);
	}
}

/* media_object -- report an object whose bytes meet a media error */
static void media_object(struct chk *c, uint64_t oid, uint64_t size,
			 uint32_t type)
{
	const struct bb_range *r = on_bad(c, oid, size);

	if (r)
		rpt(c, DAXO_CHECK_INFO | NOTE, oid,
		    "object at offset %llu (%llu bytes, type %u) meets the "
		    "media error at offset %llu: its contents there are lost",
		    (unsigned long long)oid, (unsigned long long)size, type,
		    (unsigned long long)r->off);
}

/*
 * clear_media -- give every range on a media error fresh, zeroed blocks,
 * then look again: repair fails if the device still lists them
 */
static int clear_media(struct chk *c)
{
	struct bb_list again;
	int fd = lock_pool(c->path), r = 0;

	if (fd < 0)
		return fd;
	for (size_t i = 0; i < c->bb.n && !r; i++) {
		r = badblocks_clear(fd, c->bb.r[i].off, c->bb.r[i].len,
				    c->path);
		if (!r)
			rpt(c, DAXO_CHECK_REPAIRED, c->bb.r[i].off,
			    "media error cleared: offsets %llu to %llu have "
			    "fresh blocks (zeros)",
			    (unsigned long long)c->bb.r[i].off,
			    (unsigned long long)(c->bb.r[i].off +
						 c->bb.r[i].len));
	}
	if (!r && !(r = badblocks_find(fd, c->size, c->path, &again))) {
		if (again.n) {
			rpt(c, DAXO_CHECK_FATAL, again.r[0].off,
			    "offsets %llu to %llu are still on bad blocks of "
			    "device %s after clearing",
			    (unsigned long long)again.r[0].off,
			    (unsigned long long)(again.r[0].off +
						 again.r[0].len),
			    again.dev);
			r = 2;
		}
		badblocks_free(&again);
	}
	close(fd);
	return r;
}

/*
 * check_sds -- was the pool open when its DIMMs lost power unsafely (their
 * unsafe-shutdown count rose since)? Repair records the new count.
 */
static void check_sds(struct chk *c, const struct pool_meta *m, uint64_t mo)
{
	uint64_t usc, ids, w[4];

	if (badblocks_shutdowns(c->fd, &usc, &ids) ||
	    !pool_sds_unsafe(m, usc, ids))
		return;
	rpt(c, DAXO_CHECK_REPAIRABLE, mo + offsetof(struct pool_meta, sds_usc),
	    "unsafe shutdown: the DIMMs' unsafe-shutdown count rose from %llu "
	    "to %llu while the pool was open: writes just before it may be "
	    "lost or torn though they were durable (ADR failed); check what "
	    "the application wrote last",
	    (unsigned long long)m->sds_usc, (unsigned long long)usc);
	pool_sds_words(w, usc, ids, 0);
	fix(c, mo + offsetof(struct pool_meta, sds_usc), w, sizeof(w),
	    "shutdown state: the new count recorded");
}

/* ---- header ---- */

static bool magic_ok(const struct pool_hdr *h)
{
	return memcmp(h->magic, POOL_MAGIC, 8) == 0;
}

/* unprefix -- a library message without its leading "PATH: " */
static const char *unprefix(const struct chk *c, const char *m)
{
	size_t n = strlen(c->path);

	if (!strncmp(m, c->path, n) && !strncmp(m + n, ": ", 2))
		return m + n + 2;
	return m;
}

static int check_header(struct chk *c)
{
	struct pool_hdr h0, h1;
	char m0[512] = "", m1[512] = "";
	int r0, r1;

	if (c->size < POOL_HDR_COPY_OFF + POOL_HDR_SIZE)
		return daxo__err(
		    -EUCLEAN,
		    "%s: offset 0: file is %llu bytes, too small to "
		    "be a daxo pool",
		    c->path, (unsigned long long)c->size);
	memcpy(&h0, c->base, sizeof(h0));
	memcpy(&h1, c->base + POOL_HDR_COPY_OFF, sizeof(h1));
	r0 = pool_hdr_validate(&h0, c->size, c->path, 0);
	if (r0)
		snprintf(m0, sizeof(m0), "%s", unprefix(c, daxo_errormsg()));
	r1 = pool_hdr_validate(&h1, c->size, c->path, POOL_HDR_COPY_OFF);
	if (r1)
		snprintf(m1, sizeof(m1), "%s", unprefix(c, daxo_errormsg()));

	if (r0 && r1) {
		if (!magic_ok(&h0) && !magic_ok(&h1))
			return daxo__err(-EUCLEAN,
					 "%s: offset 0: not a daxo pool (bad "
					 "magic in the header and its copy)",
					 c->path);
		if (r0 == -EPROTONOSUPPORT || r1 == -EPROTONOSUPPORT)
			return daxo__err(-EPROTONOSUPPORT, "%s: %s", c->path,
					 r0 == -EPROTONOSUPPORT ? m0 : m1);
		rpt(c, DAXO_CHECK_FATAL, 0,
		    "header and its copy are both damaged: %s; %s", m0, m1);
		return 0;
	}
	if (r0) {
		rpt(c, DAXO_CHECK_REPAIRABLE, 0,
		    "primary header damaged (%s); its copy at offset %u is "
		    "valid",
		    m0, POOL_HDR_COPY_OFF);
		fix(c, 0, &h1, sizeof(h1),
		    "primary header restored from the copy at offset 4096");
		c->hdr = h1;
	} else {
		if (r1)
			rpt(c, DAXO_CHECK_REPAIRABLE, POOL_HDR_COPY_OFF,
			    "header copy damaged (%s)", m1);
		else if (memcmp(&h0, &h1, sizeof(h0)) != 0)
			rpt(c, DAXO_CHECK_REPAIRABLE, POOL_HDR_COPY_OFF,
			    "header copy differs from the primary header");
		if (r1 || memcmp(&h0, &h1, sizeof(h0)) != 0)
			fix(c, POOL_HDR_COPY_OFF, &h0, sizeof(h0),
			    "header copy rewritten from the primary header");
		c->hdr = h0;
	}
	if (c->hdr.size < c->size) {
		/* what lies past the pool is no part of it: check the pool,
		 * and on repair cut the file back to the size it was made */
		if (!c->devdax) {
			rpt(c, DAXO_CHECK_REPAIRABLE, c->hdr.size,
			    "the file is %llu bytes longer than the pool "
			    "(%llu bytes): the tail is not part of the pool",
			    (unsigned long long)(c->size - c->hdr.size),
			    (unsigned long long)c->hdr.size);
			if (c->fix) {
				c->trim_to = c->hdr.size;
				c->fixes++;
				rpt(c,
				    c->dry ? DAXO_CHECK_INFO | NOTE
					   : DAXO_CHECK_REPAIRED,
				    c->hdr.size,
				    "%sfile truncated to the pool's %llu bytes",
				    c->dry ? "would repair: " : "",
				    (unsigned long long)c->hdr.size);
			}
		}
		c->size = c->hdr.size;
	}
	if (c->hdr.minor > POOL_FMT_MINOR)
		rpt(c, DAXO_CHECK_INFO, 12,
		    "pool format %u.%u is newer than this checker's %u.%u: "
		    "structures it does not know are not checked",
		    c->hdr.major, c->hdr.minor, POOL_FMT_MAJOR, POOL_FMT_MINOR);
	if (c->hdr.ro_compat & ~POOL_RO_COMPAT_KNOWN)
		rpt(c, DAXO_CHECK_INFO, 24,
		    "unknown read-only-compatible features 0x%llx",
		    (unsigned long long)(c->hdr.ro_compat &
					 ~POOL_RO_COMPAT_KNOWN));
	rpt(c, DAXO_CHECK_INFO, 0,
	    "header: format %u.%u, layout \"%s\", %llu bytes, %u lanes, heap "
	    "at %llu",
	    c->hdr.major, c->hdr.minor, c->hdr.layout,
	    (unsigned long long)c->hdr.size, c->hdr.nlanes,
	    (unsigned long long)c->hdr.heap_off);
	return 0;
}

/* ---- heap ---- */

/* chunk_off -- pool offset of chunk @i */
static uint64_t chunk_off(const struct chk *c, uint64_t i)
{
	return heap_chunk_off(&c->g, i);
}

/* ent_off -- pool offset of chunk @i's table entry */
static uint64_t ent_off(const struct chk *c, uint64_t i)
{
	return heap_chdr_off(&c->g, i);
}

/* ent -- decode chunk @i's entry; false if invalid for the format */
static bool ent(const struct chk *c, uint64_t i, struct chdr *d)
{
	return heap_chdr_decode(&c->g, i, rd64(c, ent_off(c, i)), d);
}

/* chunk_zero -- is chunk @i all zero bytes? */
static bool chunk_zero(const struct chk *c, uint64_t i)
{
	const uint64_t *w = (const uint64_t *)(c->base + chunk_off(c, i));

	for (uint64_t j = 0; j < c->g.chunk_size / 8; j++)
		if (w[j])
			return false;
	return true;
}

/* bm -- bitmap word @w of the run at chunk @i (its complement at +8) */
static uint64_t bm_off(const struct chk *c, uint64_t i,
		       const struct run_geom *rg, uint32_t w)
{
	return chunk_off(c, i) + heap_bm_off(rg, w);
}

/*
 * run_bits -- allocated slots of the run at chunk @i; with @pairs_ok,
 * whether every heap 2 word is the complement of its complement
 */
static uint64_t run_bits(const struct chk *c, uint64_t i,
			 const struct run_geom *rg, bool *pairs_ok)
{
	uint64_t n = 0;

	if (pairs_ok)
		*pairs_ok = true;
	for (uint32_t w = 0; w < rg->bitmap_words; w++) {
		uint64_t v = rd64(c, bm_off(c, i, rg, w));
		if (c->g.v2 && pairs_ok &&
		    (v ^ rd64(c, bm_off(c, i, rg, w) + 8)) != ~0ull)
			*pairs_ok = false;
		n += (uint64_t)__builtin_popcountll(v);
	}
	return n;
}

/* run_geom_ok -- does class @cls give a run geometry that fits its span? */
static bool run_geom_ok(const struct chk *c, uint32_t cls, struct run_geom *rg)
{
	uint64_t bytes;

	if (cls >= c->g.nclasses)
		return false;
	heap_run_geom(&c->g, cls, rg);
	bytes = (uint64_t)rg->span * c->g.chunk_size;
	return rg->nslots > 0 && rg->bitmap_words * 64ull >= rg->nslots &&
	       rg->slots_off + (uint64_t)rg->nslots * rg->size <= bytes &&
	       rg->types_off + 4ull * rg->nslots <= rg->slots_off;
}

/*
 * check_type -- the type numbers with a meaning: the root's type belongs to
 * the root object alone; the wildcard type cannot be a type at all
 */
static void check_type(struct chk *c, uint64_t oid, uint32_t type)
{
	const struct pool_meta *m = (const void *)(c->base + c->hdr.meta_off);

	if (type == DAXO_TYPE_ROOT && oid != m->root_oid)
		rpt(c, DAXO_CHECK_INFO | NOTE, oid,
		    "object %llu has the root object's type but is not the "
		    "root (a leaked root allocation?)",
		    (unsigned long long)oid);
	else if (type != DAXO_TYPE_ROOT && oid == m->root_oid)
		rpt(c, DAXO_CHECK_INFO | NOTE, oid,
		    "the root object has type %u, not the root type", type);
	else if (type == DAXO_TYPE_ANY)
		rpt(c, DAXO_CHECK_INFO | NOTE, oid,
		    "object %llu has type 0x%x, the wildcard of daxo_first",
		    (unsigned long long)oid, type);
}

/*
 * check_pairs -- heap 2: each bitmap word must be the complement of the
 * word after it. Where they disagree, which one was damaged cannot be
 * told; the repair keeps a slot allocated if either says so (a slot may
 * leak, a live object is never given away) and says how many slots that
 * keeps.
 */
static void check_pairs(struct chk *c, uint64_t i, uint32_t cls,
			const struct run_geom *rg)
{
	for (uint32_t w = 0; w < rg->bitmap_words; w++) {
		uint64_t at = bm_off(c, i, rg, w);
		uint64_t v = rd64(c, at), nc = ~rd64(c, at + 8);
		uint64_t keep = (v | nc) & ~heap_bm_tail(rg, w);
		uint64_t pair[2] = {keep, ~keep};

		if (v == nc)
			continue;
		rpt(c, DAXO_CHECK_REPAIRABLE, at,
		    "run at chunk %llu (class %u): bitmap word %u 0x%llx is "
		    "not the complement of 0x%llx after it (damaged); %d "
		    "slots either side calls allocated",
		    (unsigned long long)i, cls, w, (unsigned long long)v,
		    (unsigned long long)~nc,
		    __builtin_popcountll((v ^ nc) & keep));
		fix(c, at, pair, sizeof(pair),
		    "bitmap word and complement rewritten, keeping every slot "
		    "either called allocated");
	}
}

/* check_run -- a well-formed run head at chunk @i: its bitmap */
static void check_run(struct chk *c, uint64_t i, uint32_t cls)
{
	struct run_geom rg;
	uint64_t at = chunk_off(c, i), n;

	run_geom_ok(c, cls, &rg);
	if (c->g.v2)
		check_pairs(c, i, cls, &rg);
	/* bits beyond nslots: no slot there, the allocator must not see them */
	for (uint32_t w = rg.nslots / 64; w < rg.bitmap_words; w++) {
		uint64_t wo = bm_off(c, i, &rg, w);
		uint64_t v = rd64(c, wo), tail = heap_bm_tail(&rg, w);

		if (v & tail) {
			rpt(c, DAXO_CHECK_REPAIRABLE, wo,
			    "run at chunk %llu (class %u, %u slots): bitmap "
			    "bits set beyond the last slot (word %u = 0x%llx)",
			    (unsigned long long)i, cls, rg.nslots, w,
			    (unsigned long long)v);
			fix64(c, wo, v & ~tail,
			      "cleared bitmap bits beyond the last slot");
			if (c->g.v2)
				fix64(c, wo + 8, ~(v & ~tail),
				      "set their complement bits");
		}
	}
	n = run_bits(c, i, &rg, NULL);
	for (uint32_t k = 0; k < rg.nslots; k++) {
		uint32_t t;

		if (!((rd64(c, bm_off(c, i, &rg, k / 64)) >> (k % 64)) & 1))
			continue;
		memcpy(&t, c->base + at + rg.types_off + 4ull * k, 4);
		check_type(c, at + rg.slots_off + (uint64_t)k * rg.size, t);
		media_object(c, at + rg.slots_off + (uint64_t)k * rg.size,
			     rg.size, t);
		rpt(c, DAXO_CHECK_INFO,
		    at + rg.slots_off + (uint64_t)k * rg.size,
		    "object: %u bytes, type %u", rg.size, t);
	}
	c->nobjs += n;
	c->used_bytes += n * rg.size;
	rpt(c, DAXO_CHECK_INFO, at,
	    "run at chunk %llu: class %u (%u bytes), %llu of %u slots used",
	    (unsigned long long)i, cls, rg.size, (unsigned long long)n,
	    rg.nslots);
}

/*
 * check_covered -- entries of chunks covered by a head must stay FREE (but
 * a heap 2 LARGE head's TYPE entry, checked by the caller)
 */
static void check_covered(struct chk *c, uint64_t head, uint64_t from,
			  uint64_t span)
{
	for (uint64_t j = from; j < head + span; j++) {
		uint64_t off = ent_off(c, j), h = rd64(c, off);
		uint64_t want = heap_free_ent(&c->g, j);

		if (h == want)
			continue;
		rpt(c, DAXO_CHECK_REPAIRABLE, off,
		    "chunk %llu is covered by the object at chunk %llu but "
		    "its entry is 0x%llx, not FREE (overlap or damage)",
		    (unsigned long long)j, (unsigned long long)head,
		    (unsigned long long)h);
		fix64(c, off, want, "covered chunk entry reset to FREE");
	}
}

/*
 * bad_head -- a chunk entry that cannot be right where the walk found it.
 * It can be turned back to FREE only if that provably loses no live
 * object: a run of a known class with an empty (and, heap 2, consistent)
 * bitmap -- read from the entry's fields even if its check failed -- or a
 * chunk that is all zeros and that neither the root nor the keyed store's
 * anchor points into.
 */
static void bad_head(struct chk *c, uint64_t i, uint64_t h, const char *why)
{
	uint64_t off = ent_off(c, i);
	const struct pool_meta *m = (const void *)(c->base + c->hdr.meta_off);
	uint64_t lo = chunk_off(c, i), hi = lo + c->g.chunk_size;
	struct run_geom rg;
	bool safe = false, pairs_ok;
	uint32_t cls = c->g.v2 ? (uint32_t)((h & HEAP2_LOW48) >> 38)
			       : chdr_arg(h);
	uint64_t span = c->g.v2 ? (h >> 2) & HEAP2_SPAN_MAX : chdr_span(h);

	if (chdr_kind(h) == CHUNK_RUN && run_geom_ok(c, cls, &rg) &&
	    span == rg.span && i + rg.span <= c->g.nchunks &&
	    run_bits(c, i, &rg, &pairs_ok) == 0 && pairs_ok)
		safe = true;
	else if (chunk_zero(c, i) && !(m->root_oid >= lo && m->root_oid < hi) &&
		 !((m->kv_root & KV_LINK_MASK) >= lo &&
		   (m->kv_root & KV_LINK_MASK) < hi))
		safe = true;
	if (!safe) {
		rpt(c, DAXO_CHECK_FATAL, off,
		    "chunk %llu: invalid entry 0x%llx (%s); what it held "
		    "cannot be told",
		    (unsigned long long)i, (unsigned long long)h, why);
		return;
	}
	rpt(c, DAXO_CHECK_REPAIRABLE, off,
	    "chunk %llu: invalid entry 0x%llx (%s); it holds no live object",
	    (unsigned long long)i, (unsigned long long)h, why);
	fix64(c, off, heap_free_ent(&c->g, i), "invalid chunk entry reset to FREE");
}

static void own(struct chk *c, uint64_t i, uint64_t span)
{
	for (uint64_t j = i; j < i + span; j++)
		c->owner[j] = i + 1;
}

/*
 * check_large -- a LARGE head at chunk @i: its type (heap 2: the TYPE
 * entry after it); returns the type
 */
static uint32_t check_large(struct chk *c, uint64_t i, const struct chdr *d)
{
	struct chdr t;

	if (!c->g.v2)
		return d->arg;
	if (ent(c, i + 1, &t) && t.kind == CHUNK_TYPE)
		return t.arg;
	rpt(c, DAXO_CHECK_REPAIRABLE, ent_off(c, i + 1),
	    "large object at chunk %llu: its type entry 0x%llx is damaged; "
	    "the object is kept with type 0",
	    (unsigned long long)i, (unsigned long long)rd64(c, ent_off(c, i + 1)));
	fix64(c, ent_off(c, i + 1), chdr2_make(CHUNK_TYPE, 0, 0, i + 1),
	      "type entry rewritten with type 0");
	return 0;
}

static int check_heap(struct chk *c)
{
	uint64_t nlarge = 0, nruns = 0;
	const struct heap_geom *g = &c->g;

	heap_geom_of(&c->hdr, &c->g);
	if (!in_file(c, g->heap_off, g->table_size) || g->nchunks == 0 ||
	    !in_file(c, g->chunks_off, g->nchunks * g->chunk_size)) {
		rpt(c, DAXO_CHECK_FATAL, c->hdr.heap_off,
		    "heap geometry does not fit the pool");
		return 0;
	}
	c->owner = calloc(g->nchunks, sizeof(*c->owner));
	if (!c->owner)
		return daxo__err(-ENOMEM, "daxo_check: out of memory");

	for (uint64_t i = 0; i < g->nchunks;) {
		uint64_t off = ent_off(c, i), h = rd64(c, off);
		struct chdr d;
		struct run_geom rg;
		uint32_t type;
		bool ok = ent(c, i, &d);

		if (!ok) {
			if (!g->v2 && chdr_kind(h) == CHUNK_FREE) {
				rpt(c, DAXO_CHECK_REPAIRABLE, off,
				    "chunk %llu: FREE header with stray bits "
				    "0x%llx",
				    (unsigned long long)i,
				    (unsigned long long)h);
				fix64(c, off, 0, "free chunk header cleared");
			} else {
				bad_head(c, i, h,
					 g->v2 ? "its check or fields do not "
						 "hold"
					       : "unknown kind 3");
			}
			c->free_chunks++;
			i++;
			continue;
		}
		switch (d.kind) {
		case CHUNK_FREE:
			c->free_chunks++;
			i++;
			continue;
		case CHUNK_LARGE:
			if (d.span == 0 || d.span > g->nchunks - i ||
			    (g->v2 && d.span < 2)) {
				bad_head(c, i, h, "span outside the heap");
				c->free_chunks++;
				i++;
				continue;
			}
			nlarge++;
			c->nobjs++;
			c->used_bytes += d.span * g->chunk_size;
			type = check_large(c, i, &d);
			rpt(c, DAXO_CHECK_INFO, chunk_off(c, i),
			    "large object at chunk %llu: %llu chunks, type %u",
			    (unsigned long long)i, (unsigned long long)d.span,
			    type);
			check_type(c, chunk_off(c, i), type);
			media_object(c, chunk_off(c, i), d.span * g->chunk_size,
				     type);
			check_covered(c, i, i + (g->v2 ? 2 : 1), d.span);
			break;
		case CHUNK_RUN:
			if (!run_geom_ok(c, d.arg, &rg)) {
				bad_head(c, i, h, "unknown size class");
				c->free_chunks++;
				i++;
				continue;
			}
			if (d.span != rg.span || d.span > g->nchunks - i) {
				bad_head(c, i, h,
					 d.span != rg.span
					     ? "span does not match its class"
					     : "span outside the heap");
				c->free_chunks++;
				i++;
				continue;
			}
			nruns++;
			check_run(c, i, d.arg);
			check_covered(c, i, i + 1, d.span);
			break;
		default:
			bad_head(c, i, h,
				 "a type entry where a head or a free chunk "
				 "belongs");
			c->free_chunks++;
			i++;
			continue;
		}
		own(c, i, d.span);
		i += d.span;
	}
	rpt(c, DAXO_CHECK_INFO | NOTE, c->hdr.heap_off,
	    "heap: %llu chunks of %llu KiB: %llu large objects, %llu runs, "
	    "%llu free chunks; %llu objects, %llu bytes in use",
	    (unsigned long long)g->nchunks,
	    (unsigned long long)(g->chunk_size >> 10),
	    (unsigned long long)nlarge, (unsigned long long)nruns,
	    (unsigned long long)c->free_chunks, (unsigned long long)c->nobjs,
	    (unsigned long long)c->used_bytes);
	return 0;
}

/*
 * object_at -- if @oid is the start of a live object, its usable size;
 * else 0. Uses the heap as checked (owner map), never trusts @oid.
 */
static uint64_t object_at(const struct chk *c, uint64_t oid)
{
	uint64_t i, head, rel;
	struct run_geom rg;
	struct chdr d;

	if (!c->owner || oid < c->g.chunks_off ||
	    oid >= c->g.chunks_off + c->g.nchunks * c->g.chunk_size)
		return 0;
	i = (oid - c->g.chunks_off) / c->g.chunk_size;
	if (!c->owner[i])
		return 0;
	head = c->owner[i] - 1;
	if (!ent(c, head, &d))
		return 0;
	if (d.kind == CHUNK_LARGE)
		return oid == chunk_off(c, head) ? d.span * c->g.chunk_size : 0;
	if (d.kind != CHUNK_RUN || !run_geom_ok(c, d.arg, &rg))
		return 0;
	rel = oid - chunk_off(c, head);
	if (rel < rg.slots_off || (rel - rg.slots_off) % rg.size)
		return 0;
	rel = (rel - rg.slots_off) / rg.size;
	if (rel >= rg.nslots)
		return 0;
	if (!((rd64(c, bm_off(c, head, &rg, (uint32_t)(rel / 64))) >>
	       (rel % 64)) &
	      1))
		return 0;
	return rg.size;
}

/* view_is_live -- [off, off+len) inside one live object */
static bool view_is_live(const struct check_view *v, uint64_t off, uint64_t len)
{
	const struct chk *c = v->priv;
	uint64_t i, head, start, usable, rel;
	struct run_geom rg;
	struct chdr d;

	if (!c->owner || off < c->g.chunks_off ||
	    off >= c->g.chunks_off + c->g.nchunks * c->g.chunk_size)
		return false;
	i = (off - c->g.chunks_off) / c->g.chunk_size;
	if (!c->owner[i])
		return false;
	head = c->owner[i] - 1;
	start = chunk_off(c, head);
	if (!ent(c, head, &d))
		return false;
	if (d.kind == CHUNK_RUN) {
		if (!run_geom_ok(c, d.arg, &rg))
			return false;
		rel = off - start;
		if (rel < rg.slots_off)
			return false;
		start +=
		    rg.slots_off + (rel - rg.slots_off) / rg.size * rg.size;
	}
	usable = object_at(c, start);
	return usable && len <= usable - (off - start);
}

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
			v = rd64(c, off) | w[i + 1];
			memcpy(c->base + off, &v, 8);
			break;
		case REDO_AND64:
			v = rd64(c, off) & w[i + 1];
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
		if (!off || !in_file(c, off, sizeof(e)))
			goto bad;
		memcpy(&e, c->base + off, sizeof(e));
		*why = "extension block of a bad size";
		if (e.cap < 64 || e.cap % 8 ||
		    !in_file(c, off + sizeof(e), e.cap))
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
		    !in_file(c, pos, sizeof(e)))
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
			end = in_file(c, pos, x.cap) ? pos + x.cap : c->size;
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

static int check_lanes(struct chk *c)
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
				rpt(c, DAXO_CHECK_INFO | NOTE, at,
				    "lane %u slot %u: no valid record header "
				    "(torn, never completed, or damaged): "
				    "ignored by recovery",
				    i, s);
				continue;
			}
			if (h.gen % ns != s) {
				rpt(c, DAXO_CHECK_INFO | NOTE, at,
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
				rpt(c, DAXO_CHECK_INFO | NOTE, at,
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
				rpt(c, DAXO_CHECK_FATAL, at,
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
			rpt(c, DAXO_CHECK_REPAIRABLE, at,
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
			rpt(c, DAXO_CHECK_REPAIRABLE, undo,
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
		rpt(c, DAXO_CHECK_INFO | NOTE, off,
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
	rpt(c, DAXO_CHECK_INFO | NOTE, c->hdr.lanes_off,
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

/* ---- pool meta: root and keyed store ---- */

static void check_meta(struct chk *c)
{
	uint64_t mo = c->hdr.meta_off;
	const struct pool_meta *m = (const void *)(c->base + mo);
	uint64_t usable;
	unsigned nz = 0;

	if (c->worst == 2 && !c->owner)
		return;
	if (m->root_oid) {
		usable = object_at(c, m->root_oid);
		if (!usable)
			rpt(c, DAXO_CHECK_FATAL, mo,
			    "root object %llu is not a live object",
			    (unsigned long long)m->root_oid);
		else if (usable < m->root_size)
			rpt(c, DAXO_CHECK_FATAL, mo + 8,
			    "root object %llu has %llu usable bytes, less "
			    "than its size %llu",
			    (unsigned long long)m->root_oid,
			    (unsigned long long)usable,
			    (unsigned long long)m->root_size);
		else
			rpt(c, DAXO_CHECK_INFO, m->root_oid,
			    "root object: %llu bytes",
			    (unsigned long long)m->root_size);
	} else if (m->root_size) {
		rpt(c, DAXO_CHECK_REPAIRABLE, mo + 8,
		    "no root object but a root size of %llu",
		    (unsigned long long)m->root_size);
		fix64(c, mo + 8, 0, "root size cleared");
	}
	uint64_t kv_root;
	if (!kv_unlink(kv_fmt_of(c->hdr.incompat), m->kv_root, mo + 16,
		       &kv_root))
		rpt(c, DAXO_CHECK_FATAL, mo + 16,
		    "keyed store root word damaged (its check does not "
		    "match)");
	else if (kv_root && !object_at(c, kv_root))
		rpt(c, DAXO_CHECK_FATAL, mo + 16,
		    "keyed store anchor %llu is not a live object",
		    (unsigned long long)kv_root);
	else if (kv_root)
		kv_check_image(&c->view, kv_root);
	check_sds(c, m, mo);
	for (size_t i = 0; i < ARRAY_SIZE(m->reserved); i++)
		nz += m->reserved[i] != 0;
	if (nz)
		rpt(c, DAXO_CHECK_INFO, mo + 24,
		    "pool meta: %u reserved words are not zero", nz);
}

/* ---- driver ---- */

/*
 * map_devdax -- device DAX cannot be mapped copy-on-write: read it through
 * a shared read-only mapping into private anonymous memory, which replay
 * and repairs may then change freely
 */
static int map_devdax(struct chk *c, dev_t rdev)
{
	char spath[128];
	unsigned long long sz = 0;
	FILE *f;

	if (c->flags & DAXO_CHECK_REPAIR && !(c->flags & DAXO_CHECK_DRY_RUN))
		return daxo__err(-EINVAL,
				 "%s: repair of device DAX is not supported; "
				 "check it, or copy it to a file",
				 c->path);
	snprintf(spath, sizeof(spath), "/sys/dev/char/%u:%u/size", major(rdev),
		 minor(rdev));
	f = fopen(spath, "re");
	if (!f || fscanf(f, "%llu", &sz) != 1) {
		if (f)
			fclose(f);
		return daxo__err(-EINVAL,
				 "%s: a character device that is not device-DAX",
				 c->path);
	}
	fclose(f);
	c->size = c->maplen = sz;
	c->devdax = true;
	if (c->size < POOL_HDR_COPY_OFF + POOL_HDR_SIZE)
		return daxo__err(-EUCLEAN, "%s: device too small to be a pool",
				 c->path);
	void *dev = mmap(NULL, c->size, PROT_READ, MAP_SHARED, c->fd, 0);
	if (dev == MAP_FAILED)
		return daxo__err(-errno, "%s: mmap: %s", c->path,
				 strerror(errno));
	void *a = mmap(NULL, c->size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (a == MAP_FAILED) {
		int e = errno;
		munmap(dev, c->size);
		return daxo__err(-e, "%s: out of memory for a copy", c->path);
	}
	memcpy(a, dev, c->size);
	munmap(dev, c->size);
	c->base = a;
	return 0;
}

static int map_file(struct chk *c)
{
	struct stat st;
	void *a;
	int r;

	/* O_NONBLOCK: a FIFO would wait for a writer (refused below) */
	c->fd = open(c->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (c->fd < 0)
		return daxo__err(-errno, "%s: %s", c->path, strerror(errno));
	if (fstat(c->fd, &st) != 0)
		return daxo__err(-errno, "%s: stat: %s", c->path,
				 strerror(errno));
	if (S_ISDIR(st.st_mode))
		return daxo__err(-EISDIR, "%s: is a directory", c->path);
	if (S_ISCHR(st.st_mode))
		return map_devdax(c, st.st_rdev);
	if (!S_ISREG(st.st_mode))
		return daxo__err(-EINVAL,
				 "%s: not a regular file or device-DAX node",
				 c->path);
	c->size = c->maplen = (uint64_t)st.st_size;
	if (c->size < POOL_HDR_COPY_OFF + POOL_HDR_SIZE)
		return daxo__err(
		    -EUCLEAN,
		    "%s: offset 0: file is %llu bytes, too small to "
		    "be a daxo pool",
		    c->path, (unsigned long long)c->size);
	/* copy-on-write: replay and repairs change only this view */
	a = mmap(NULL, c->size, PROT_READ | PROT_WRITE, MAP_PRIVATE, c->fd, 0);
	if (a == MAP_FAILED)
		return daxo__err(-errno, "%s: mmap: %s", c->path,
				 strerror(errno));
	c->base = a;
	/* a sparse file on a full file system: no SIGBUS reading a hole */
	r = pool_cover_holes(c->fd, a, c->size, c->path);
	if (r)
		return r;
	/* nor a machine check reading a media error: zeros instead */
	badblocks_free(&c->bb);
	r = badblocks_find(c->fd, c->size, c->path, &c->bb);
	for (size_t i = 0; !r && i < c->bb.n; i++)
		r = pool_cover((char *)a, c->bb.r[i].off, c->bb.r[i].len,
			       c->path);
	return r;
}

static void unmap_file(struct chk *c)
{
	if (c->base)
		munmap(c->base, c->maplen);
	if (c->fd >= 0)
		close(c->fd);
	free(c->owner);
	c->base = NULL;
	c->owner = NULL;
	c->fd = -1;
}

/*
 * size_kept -- 0 when the file still has the size it had when it was
 * mapped. One that another process truncated while it was read was checked
 * partly as zeros (pool_cover_holes covers what is past the new end) or
 * would have faulted: nothing can be concluded (-EAGAIN: check it again).
 */
static int size_kept(const struct chk *c)
{
	struct stat st;

	if (c->devdax || c->fd < 0 || fstat(c->fd, &st) != 0 ||
	    (uint64_t)st.st_size == c->maplen)
		return 0;
	return daxo__err(-EAGAIN,
			 "%s: the file changed size while it was read (%llu "
			 "bytes, then %llu): nothing can be concluded; check "
			 "it again",
			 c->path, (unsigned long long)c->maplen,
			 (unsigned long long)st.st_size);
}

/* one_pass -- map, check (and fix) everything; returns 0..2 or -errno */
static int one_pass(struct chk *c)
{
	int r;

	r = map_file(c);
	if (r)
		goto out;
	r = check_header(c);
	if (!r)
		check_media(c);
	if (r || c->worst == 2)
		goto out;
	c->view = (struct check_view){.base = c->base,
				      .size = c->size,
				      .is_live = view_is_live,
				      .bad = view_bad,
				      .report = view_report,
				      .priv = c,
				      .incompat = c->hdr.incompat};
	/* logs first: the heap is checked as recovery will leave it */
	r = check_lanes(c);
	if (r)
		goto out;
	r = check_heap(c);
	if (r)
		goto out;
	check_meta(c);
out:
	if (c->base && size_kept(c))
		r = -EAGAIN;
	unmap_file(c);
	return r ? r : c->worst;
}

/* run_recovery -- open and close the pool: daxo_open replays the logs */
static int run_recovery(struct chk *c)
{
	daxo_pool *p;
	int r = daxo_open(c->path, NULL, 0, &p);

	if (r)
		return r;
	r = daxo_close(p);
	if (r == 0)
		rpt(c, DAXO_CHECK_REPAIRED, POOL_LANES_OFF,
		    "log recovery ran (pool opened and closed)");
	return r;
}

/* lock_pool -- the pool's exclusive lock, as daxo_open takes it */
static int lock_pool(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return daxo__err(-errno, "%s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		close(fd);
		return daxo__err(e == EWOULDBLOCK ? -EBUSY : -e,
				 "%s: pool is open by a process: close it "
				 "before repairing",
				 path);
	}
	return fd;
}

/* write_fixes -- write the recorded repairs (headers or the rest) */
static int write_fixes(struct chk *c, int fd, bool hdr)
{
	bool any = false;

	for (size_t i = 0; i < c->nfix; i++) {
		struct fixrec *f = &c->fixv[i];

		if (f->hdr != hdr)
			continue;
		if (pwrite(fd, f->data, f->len, (off_t)f->off) !=
		    (ssize_t)f->len)
			return daxo__err(-EIO, "%s: offset %llu: write: %s",
					 c->path, (unsigned long long)f->off,
					 strerror(errno));
		any = true;
	}
	if (any && fsync(fd) != 0)
		return daxo__err(-EIO, "%s: fsync: %s", c->path,
				 strerror(errno));
	return 0;
}

static void free_fixes(struct chk *c)
{
	for (size_t i = 0; i < c->nfix; i++)
		free(c->fixv[i].data);
	free(c->fixv);
}

/*
 * repair -- after a pass that found nothing fatal: header repairs first (so
 * that the pool can be opened), then log recovery through daxo_open, then
 * the rest, which the pass computed on the view after a simulated replay.
 */
static int repair(struct chk *c)
{
	int fd = lock_pool(c->path), r;

	if (fd < 0)
		return fd;
	r = write_fixes(c, fd, true);
	if (r)
		goto out;
	if (c->trim_to &&
	    (ftruncate(fd, (off_t)c->trim_to) != 0 || fsync(fd) != 0)) {
		r = daxo__err(-errno, "%s: truncate to %llu bytes: %s",
			      c->path, (unsigned long long)c->trim_to,
			      strerror(errno));
		goto out;
	}
	if (c->recovery_pending) {
		close(fd);
		r = run_recovery(c);
		if (r) {
			/* maybe the heap repairs are what recovery needs */
			fd = lock_pool(c->path);
			if (fd < 0)
				return fd;
			r = write_fixes(c, fd, false);
			close(fd);
			if (r)
				return r;
			r = run_recovery(c);
			if (r) {
				rpt(c, DAXO_CHECK_FATAL, 0,
				    "log recovery failed: %s", daxo_errormsg());
				return 2;
			}
			return 0;
		}
		fd = lock_pool(c->path);
		if (fd < 0)
			return fd;
	}
	r = write_fixes(c, fd, false);
out:
	close(fd);
	return r;
}

/*
 * warn_writer -- a check takes no lock: if a process has the pool open
 * read-write when the check starts (@after: or had not then but has when
 * it ends), say so, for the image read may have been changing under it.
 * Once is enough.
 */
static void warn_writer(struct chk *c, bool after)
{
	pid_t pid;
	char who[48];

	if (c->writer_seen || pool_writer(c->path, &pid) != 1)
		return;
	c->writer_seen = true;
	if (pid > 0)
		snprintf(who, sizeof(who), "process %d%s", (int)pid,
			 pid == getpid() ? " (this process)" : "");
	else
		snprintf(who, sizeof(who), "a process of another pid namespace");
	rpt(c, DAXO_CHECK_INFO, SUMMARY,
	    after ? "the pool is open read-write by %s, which opened it "
		    "during this check: the image checked may have been "
		    "changing and the findings may be wrong; check again "
		    "once it is closed"
		  : "the pool is open read-write by %s: the image checked "
		    "may be changing and the findings may be wrong; check "
		    "again once it is closed",
	    who);
}

DAXO_EXPORT int daxo_check(const char *path, unsigned flags, daxo_check_cb cb,
			   void *arg)
{
	struct chk c, v;
	int r, lfd = -1;

	daxo__err_clear();
	if (!path)
		return daxo__err(-EINVAL, "daxo_check: path is NULL");
	if (!*path)
		return daxo__err(-ENOENT, "daxo_check: the path is empty");
	if (flags &
	    ~(DAXO_CHECK_VERBOSE | DAXO_CHECK_REPAIR | DAXO_CHECK_DRY_RUN))
		return daxo__err(-EINVAL, "daxo_check: unknown flags 0x%x",
				 flags);
	memset(&c, 0, sizeof(c));
	c.path = path;
	c.flags = flags;
	c.cb = cb;
	c.arg = arg;
	c.fd = -1;
	c.fix = (flags & DAXO_CHECK_REPAIR) != 0;
	c.dry = c.fix && (flags & DAXO_CHECK_DRY_RUN);
	if (c.fix && !c.dry) {
		/* nobody may change the pool while we look and repair */
		lfd = lock_pool(path);
		if (lfd < 0)
			return lfd;
	} else {
		warn_writer(&c, false);
	}
	r = one_pass(&c);
	if (lfd >= 0)
		close(lfd);
	else if (r >= 0)
		warn_writer(&c, true);
	if (r < 0 || !c.fix)
		goto out;
	/* what lies on a media error is lost whatever else is wrong: clear
	 * it first (the pass above saw zeros there, as the pool will hold) */
	if (c.bb.n && !c.dry) {
		int m = clear_media(&c);
		if (m) {
			r = m < 0 ? m : 2;
			goto out;
		}
		if (r != 2 && !c.nfix && !c.recovery_pending && !c.trim_to) {
			r = 0;
			goto out;
		}
	}
	if (r == 2) {
		rpt(&c, DAXO_CHECK_FATAL, SUMMARY,
		    "not repairable safely: nothing was changed");
		goto out;
	}
	if (c.dry) {
		if (c.recovery_pending)
			rpt(&c, DAXO_CHECK_INFO | NOTE, c.hdr.lanes_off,
			    "would repair: run log recovery (replay committed "
			    "records, roll back unfinished transactions)");
		r = (c.nfix || c.recovery_pending || c.trim_to || c.bb.n) ? 1
									    : r;
		goto out;
	}
	if (r == 0 && !c.nfix && !c.recovery_pending && !c.trim_to)
		goto out;
	r = repair(&c);
	if (r)
		goto out;
	/* the verdict is that of a fresh check of what is on media now */
	memset(&v, 0, sizeof(v));
	v.path = path;
	v.fd = -1;
	v.quiet = true;
	r = one_pass(&v);
	if (r == 1 && v.recovery_pending)
		rpt(&c, DAXO_CHECK_FATAL, SUMMARY,
		    "log recovery did not complete");
	else if (r != 0)
		rpt(&c, DAXO_CHECK_FATAL, SUMMARY,
		    "still inconsistent after repair: run 'daxo check'");
	free_fixes(&v);
	badblocks_free(&v.bb);
out:
	free_fixes(&c);
	badblocks_free(&c.bb);
	return r;
}
