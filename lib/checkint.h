/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * checkint.h -- what the files of the offline checker give each other.
 * Private to check.c, check_hdr.c, check_heap.c and check_log.c.
 *
 * daxo_check is one pass over a private copy-on-write mapping of the pool
 * (struct chk), in the order recovery and the heap depend on: check_hdr.c
 * maps the image and checks what lies before the lanes (the header and its
 * copy, media errors, the pool meta); check_log.c reads the lanes' redo
 * records and undo logs and replays on the mapping what recovery would;
 * check_heap.c then walks the heap as recovery leaves it; check.c reports,
 * records repairs, and drives the pass, the repair and the re-check. The
 * keyed store's structures are kv_check.c's (check.h).
 */
#ifndef DAXO_CHECKINT_H
#define DAXO_CHECKINT_H 1

#include <sys/types.h>

#include "badblocks.h"
#include "check.h"
#include "heap.h"
#include "pool.h"

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
	dev_t dev; /* the file checked (check_map_file), which a repair */
	ino_t ino; /* must be the file daxo_check locked */
	int lock_fd; /* a repair's: the pool's lock, held to the end; or -1 */
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

/* or'd into an INFO severity: report it even without DAXO_CHECK_VERBOSE */
#define NOTE 0x100

/* info that is always reported (a summary), not only with VERBOSE */
#define SUMMARY UINT64_MAX

/* ---- reports and repairs (check.c) -------------------------------------- */

/* check_rpt -- report a finding of severity @sev (| NOTE) at @off */
void check_rpt(struct chk *c, int sev, uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5))) DAXO_HIDDEN;
bool check_in_file(const struct chk *c, uint64_t off, uint64_t len) DAXO_HIDDEN;
uint64_t check_rd64(const struct chk *c, uint64_t off) DAXO_HIDDEN;
void check_fix(struct chk *c, uint64_t off, const void *src, size_t len,
	       const char *what) DAXO_HIDDEN;
void check_fix64(struct chk *c, uint64_t off, uint64_t val,
		 const char *what) DAXO_HIDDEN;
int check_lock_pool(const char *path) DAXO_HIDDEN;
int check_locked_fd(struct chk *c) DAXO_HIDDEN;

/* ---- the image and the regions before the lanes (check_hdr.c) ------------ */

int check_map_file(struct chk *c) DAXO_HIDDEN;
void check_unmap_file(struct chk *c) DAXO_HIDDEN;
bool check_view_bad(const struct check_view *v, uint64_t off,
		    uint64_t len) DAXO_HIDDEN;
void check_media(struct chk *c) DAXO_HIDDEN;
void check_media_object(struct chk *c, uint64_t oid, uint64_t size,
			uint32_t type) DAXO_HIDDEN;
int check_clear_media(struct chk *c) DAXO_HIDDEN;
int check_header(struct chk *c) DAXO_HIDDEN;
void check_meta(struct chk *c) DAXO_HIDDEN;

/* ---- the heap (check_heap.c) --------------------------------------------- */

int check_heap(struct chk *c) DAXO_HIDDEN;
uint64_t check_object_at(const struct chk *c, uint64_t oid) DAXO_HIDDEN;
bool check_view_is_live(const struct check_view *v, uint64_t off,
			uint64_t len) DAXO_HIDDEN;

/* ---- the lanes (check_log.c) --------------------------------------------- */

int check_lanes(struct chk *c) DAXO_HIDDEN;

#endif