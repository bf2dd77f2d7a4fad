/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * poolint.h -- what the files of the pool give each other. Private to
 * pool.c, pool_file.c and pool_hdr.c.
 *
 * pool.c's open and create run these as steps, in the order pool.h gives
 * for the checks at open: pool_file.c's on the file under the pool (open,
 * lock, media errors, map, holes), pool_hdr.c's on the header and the pool
 * meta. What other modules call is in pool.h.
 */
#ifndef DAXO_POOLINT_H
#define DAXO_POOLINT_H 1

#include "pool.h"

/* ---- the file (pool_file.c) ---------------------------------------------- */

/*
 * pool_open_file -- open @path (or, @held >= 0, share the open file @held:
 * pool_open_held), classify it and find its size
 */
int pool_open_file(daxo_pool *p, int oflags, int held,
		   uint64_t *fsize) DAXO_HIDDEN;
/* pool_file_is_dax -- statx's STATX_ATTR_DAX for the pool file */
bool pool_file_is_dax(int fd) DAXO_HIDDEN;
/* pool_take_lock -- the pool file's flock(), or -EBUSY naming its holder */
int pool_take_lock(const char *path, int fd, bool shared) DAXO_HIDDEN;
/* pool_check_media -- refuse a pool file that lies on known bad blocks */
int pool_check_media(daxo_pool *p, uint64_t fsize) DAXO_HIDDEN;
/* pool_same_file -- is @path (still) the file open as @fd? */
bool pool_same_file(int fd, const char *path) DAXO_HIDDEN;
/* pool_map -- map @size bytes of the pool file (private if p->private_map) */
int pool_map(daxo_pool *p, uint64_t size) DAXO_HIDDEN;
/* pool_fill_holes -- allocate every hole of the pool file */
int pool_fill_holes(daxo_pool *p) DAXO_HIDDEN;

/* ---- the header and the pool meta (pool_hdr.c) --------------------------- */

/* pool_read_hdr -- the header into p->hdr, before the mapping is touched */
int pool_read_hdr(daxo_pool *p) DAXO_HIDDEN;
/* pool_sds_open -- the shutdown state at an open: compared, recorded */
void pool_sds_open(daxo_pool *p) DAXO_HIDDEN;
/* pool_sds_write -- the shutdown state with sds_open = @open, durably */
void pool_sds_write(daxo_pool *p, uint64_t open) DAXO_HIDDEN;

#endif
