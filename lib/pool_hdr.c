/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pool_hdr.c -- the pool header and the pool meta's shutdown state: the
 * layout of the regions a header names, its seal, its validation at open,
 * reading it before the mapping may be touched, and the unsafe-shutdown
 * record (sds_*) kept in the meta.
 *
 * Kept apart from pool.c because these read and write what is on media
 * before the lanes, by the format pool.h defines, and other modules use
 * them without an open pool: the checker (check_hdr.c) validates both
 * headers of a pool file and reads and rewrites its shutdown state, and
 * daxo_heap_stat (heap_stat.c) validates the header it reads.
 */
#include <string.h>
#include <unistd.h>

#include "badblocks.h"
#include "heap.h"
#include "pool.h"
#include "tx.h"

#include "poolint.h"

void pool_hdr_seal(struct pool_hdr *h)
{
	h->csum = daxo__csum(h, offsetof(struct pool_hdr, csum), 0);
}

void pool_layout(struct pool_hdr *h, uint64_t size)
{
	h->size = size;
	h->hdr_copy_off = POOL_HDR_COPY_OFF;
	h->meta_off = POOL_META_OFF;
	h->meta_size = POOL_META_SIZE;
	h->lanes_off = POOL_LANES_OFF;
	h->nlanes = TX_NLANES;
	h->lane_size = TX_LANE_SIZE(pool_lane_slots(h));
	h->chunk_size = (h->incompat & POOL_INCOMPAT_HEAP2) ? HEAP2_CHUNK_SIZE
							    : HEAP_CHUNK_SIZE;
	h->heap_off = ALIGN_UP(h->lanes_off + (uint64_t)h->nlanes * h->lane_size,
			       (uint64_t)HEAP_CHUNK_SIZE);
	h->heap_size = size - h->heap_off;
}

int pool_hdr_validate(const struct pool_hdr *h, uint64_t fsize,
		      const char *path, uint64_t at)
{
	if (memcmp(h->magic, POOL_MAGIC, 8) != 0)
		return daxo__err(-EUCLEAN,
				 "%s: offset %llu: not a daxo pool (bad magic)",
				 path, (unsigned long long)at);
	if (h->major > POOL_FMT_MAJOR)
		return daxo__err(-EPROTONOSUPPORT,
				 "%s: offset %llu: pool format %u.%u is newer "
				 "than this library's %u.%u",
				 path, (unsigned long long)(at + 8), h->major,
				 h->minor, POOL_FMT_MAJOR, POOL_FMT_MINOR);
	if (h->csum != daxo__csum(h, offsetof(struct pool_hdr, csum), 0))
		return daxo__err(-EUCLEAN,
				 "%s: offset %llu: header checksum mismatch "
				 "(header damaged; 'daxo repair' can restore it "
				 "from its copy)",
				 path, (unsigned long long)(at + 4088));
	if (h->major != POOL_FMT_MAJOR)
		return daxo__err(-EUCLEAN,
				 "%s: offset %llu: invalid format version %u.%u",
				 path, (unsigned long long)(at + 8), h->major,
				 h->minor);
	if (h->incompat & ~POOL_INCOMPAT_KNOWN)
		return daxo__err(-EPROTONOSUPPORT,
				 "%s: offset %llu: unknown incompatible "
				 "features 0x%llx",
				 path, (unsigned long long)(at + 16),
				 (unsigned long long)(h->incompat &
						      ~POOL_INCOMPAT_KNOWN));
	/* a longer file is a pool with a tail that is not part of it (a
	 * copy tool's padding, truncate -s +N): its header knows the size */
	if (h->size > fsize)
		return daxo__err(-EUCLEAN,
				 "%s: offset %llu: header says the pool is %llu "
				 "bytes but the file has %llu (truncated?)",
				 path, (unsigned long long)(at + 120),
				 (unsigned long long)h->size,
				 (unsigned long long)fsize);
	if (h->size < DAXO_MIN_POOL_SIZE || h->size > DAXO_MAX_POOL_SIZE)
		return daxo__err(-EUCLEAN, "%s: offset %llu: bad pool size %llu",
				 path, (unsigned long long)(at + 120),
				 (unsigned long long)h->size);
	if (memchr(h->layout, '\0', sizeof(h->layout)) == NULL)
		return daxo__err(-EUCLEAN,
				 "%s: offset %llu: layout name not terminated",
				 path, (unsigned long long)(at + 56));

	/* this version lays regions out one way only: demand exactly that */
	struct pool_hdr want;
	memset(&want, 0, sizeof(want));
	want.incompat = h->incompat;
	pool_layout(&want, h->size);
	static const struct {
		size_t off;
		size_t len;
		const char *name;
	} f[] = {
		{offsetof(struct pool_hdr, hdr_copy_off), 8, "header copy offset"},
		{offsetof(struct pool_hdr, meta_off), 8, "meta offset"},
		{offsetof(struct pool_hdr, meta_size), 8, "meta size"},
		{offsetof(struct pool_hdr, lanes_off), 8, "lanes offset"},
		{offsetof(struct pool_hdr, nlanes), 4, "lane count"},
		{offsetof(struct pool_hdr, lane_size), 4, "lane size"},
		{offsetof(struct pool_hdr, heap_off), 8, "heap offset"},
		{offsetof(struct pool_hdr, heap_size), 8, "heap size"},
		{offsetof(struct pool_hdr, chunk_size), 8, "chunk size"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(f); i++) {
		if (memcmp((const char *)h + f[i].off,
			   (const char *)&want + f[i].off, f[i].len) != 0)
			return daxo__err(-EUCLEAN,
					 "%s: offset %llu: bad %s in header",
					 path,
					 (unsigned long long)(at + f[i].off),
					 f[i].name);
	}
	return 0;
}

/*
 * pool_read_hdr -- the header, without touching the mapping of a regular file:
 * until pool_fill_holes has run, a load from a hole may be a SIGBUS
 */
int pool_read_hdr(daxo_pool *p)
{
	if (p->is_devdax || p->private_map) {
		memcpy(&p->hdr, p->base, sizeof(p->hdr));
		return 0;
	}
	if (pread(p->lock_fd, &p->hdr, sizeof(p->hdr), 0) == sizeof(p->hdr))
		return 0;
	return daxo__err(-EIO, "%s: offset 0: cannot read the header: %s",
			 p->path, strerror(errno));
}

#define SDS_SEED 0x5d5u

static uint64_t sds_seal(const uint64_t w[3])
{
	return daxo__csum(w, 3 * sizeof(uint64_t), SDS_SEED);
}

bool pool_sds_unsafe(const struct pool_meta *m, uint64_t usc, uint64_t ids)
{
	uint64_t w[3] = {m->sds_usc, m->sds_ids, m->sds_open};

	return m->sds_check == sds_seal(w) && m->sds_open == 1 &&
	       m->sds_ids == ids && m->sds_usc != usc;
}

void pool_sds_words(uint64_t w[4], uint64_t usc, uint64_t ids, uint64_t open)
{
	w[0] = usc;
	w[1] = ids;
	w[2] = open;
	w[3] = sds_seal(w);
}

/* pool_sds_write -- the shutdown state with sds_open = @open, durably */
void pool_sds_write(daxo_pool *p, uint64_t open)
{
	uint64_t w[4];

	pool_sds_words(w, p->sds_usc, p->sds_ids, open);
	persist_memcpy(&p->ps, &p->meta->sds_usc, w, sizeof(w));
	/* before the pool is used (open) or let go (close): an unsafe
	 * shutdown in between must find sds_open = 1 */
	persist_drain(&p->ps);
}

/*
 * pool_sds_open -- at an open: compare the DIMMs' unsafe-shutdown count with
 * the one recorded at the last open that did not close cleanly
 * (p->unsafe_shutdown, daxo_info's); a read-write open then records the
 * count now, open
 */
void pool_sds_open(daxo_pool *p)
{
	if (badblocks_shutdowns(p->lock_fd, &p->sds_usc, &p->sds_ids))
		return;
	p->unsafe_shutdown =
	    pool_sds_unsafe(p->meta, p->sds_usc, p->sds_ids);
	if (p->rdonly)
		return; /* seen, not recorded: the file is not changed */
	pool_sds_write(p, 1);
	p->sds_recorded = true;
}
