/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pool_info.c -- what a handle tells about its pool: daxo_direct (the
 * call, for programs built before it was inline), daxo_oid_of, and
 * daxo_pool_info in both its symbol versions with the 0.1 struct it fills.
 *
 * Kept apart from pool.c: these are read-only calls on an open handle, and
 * the versioned ABI (the .symver pair, the old struct and its asserts) is
 * in one place.
 */
#include <stdio.h>
#include <string.h>

#include "pool.h"

/* the call, for programs built before daxo_direct was inline */
#undef daxo_direct
DAXO_EXPORT void *daxo_direct(daxo_pool *p, daxo_oid oid)
{
	if (!p || oid == 0 || oid >= p->size)
		return NULL;
	return p->base + oid;
}

DAXO_EXPORT void *daxo_direct_slow(daxo_pool *p, daxo_oid oid)
{
	return daxo_direct(p, oid);
}

DAXO_EXPORT daxo_oid daxo_oid_of(daxo_pool *p, const void *addr)
{
	const char *a = addr;

	if (!p || a < p->base || a >= p->base + p->size)
		return 0;
	return (daxo_oid)(a - p->base);
}

/*
 * daxo_pool_info has two versions (lib/libdaxo.sym): this one, the default
 * (DAXO_0.4), and daxo__pool_info_v01 below for programs built before 0.4
 */
int daxo__pool_info_v04(daxo_pool *p, struct daxo_info *out);
__asm__(".symver daxo__pool_info_v04, daxo_pool_info@@DAXO_0.4");

DAXO_EXPORT int daxo__pool_info_v04(daxo_pool *p, struct daxo_info *out)
{
	if (!p || !out)
		return daxo__err(-EINVAL, "daxo_pool_info: NULL argument");
	memset(out, 0, sizeof(*out));
	out->path = p->path;
	out->base = p->base;
	out->size = p->size;
	memcpy(out->layout, p->hdr.layout, sizeof(out->layout));
	memcpy(out->uuid, p->hdr.uuid, sizeof(out->uuid));
	out->major = p->hdr.major;
	out->minor = p->hdr.minor;
	out->incompat = p->hdr.incompat;
	out->compat = p->hdr.compat;
	out->ro_compat = p->hdr.ro_compat;
	out->ctime = p->hdr.ctime;
	out->recovered = p->recovered;
	out->is_pmem = p->is_pmem;
	out->is_devdax = p->is_devdax;
	out->is_dax = p->is_dax;
	out->map_sync = p->map_sync;
	out->readonly = p->rdonly;
	out->recovery_pending = p->recovery_pending != 0;
	out->unsafe_shutdown = p->unsafe_shutdown;
	return 0;
}

static_assert(sizeof(struct daxo_info) == 288, "struct daxo_info is ABI");
static_assert(offsetof(struct daxo_info, reserved) == 160,
	      "struct daxo_info is ABI");

/*
 * struct daxo_info as daxo 0.1-0.3 defined it, for programs built against
 * those headers: they call daxo_pool_info@DAXO_0.1, which fills this.
 */
struct daxo_info_v01 {
	char path[4096];
	char layout[DAXO_LAYOUT_MAX + 1];
	uint8_t uuid[16];
	uint32_t major, minor;
	uint64_t incompat, compat, ro_compat;
	uint64_t size;
	uint64_t heap_offset, heap_size, chunk_size;
	uint64_t lanes_offset;
	uint32_t nlanes, lane_size;
	int64_t ctime;
	int is_pmem, is_devdax, is_dax, map_sync, readonly, recovery_pending;
	uint64_t recovered;
	void *base;
};

static_assert(sizeof(struct daxo_info_v01) == 4304, "0.1 struct daxo_info");
static_assert(offsetof(struct daxo_info_v01, base) == 4296,
	      "0.1 struct daxo_info");

int daxo__pool_info_v01(daxo_pool *p, struct daxo_info_v01 *out);
__asm__(".symver daxo__pool_info_v01, daxo_pool_info@DAXO_0.1");

DAXO_EXPORT int daxo__pool_info_v01(daxo_pool *p, struct daxo_info_v01 *out)
{
	struct daxo_info in;
	int ret;

	if (!out)
		return daxo__err(-EINVAL, "daxo_pool_info: NULL argument");
	ret = daxo__pool_info_v04(p, &in);
	if (ret)
		return ret;
	memset(out, 0, sizeof(*out));
	snprintf(out->path, sizeof(out->path), "%s", in.path);
	memcpy(out->layout, in.layout, sizeof(out->layout));
	memcpy(out->uuid, in.uuid, sizeof(out->uuid));
	out->major = in.major;
	out->minor = in.minor;
	out->incompat = in.incompat;
	out->compat = in.compat;
	out->ro_compat = in.ro_compat;
	out->size = in.size;
	out->ctime = in.ctime;
	out->recovered = in.recovered;
	out->base = in.base;
	out->is_pmem = in.is_pmem;
	out->is_devdax = in.is_devdax;
	out->is_dax = in.is_dax;
	out->map_sync = in.map_sync;
	out->readonly = in.readonly;
	out->recovery_pending = in.recovery_pending;
	/* what 0.4 left out of the struct: the layout, from the header */
	out->heap_offset = p->hdr.heap_off;
	out->heap_size = p->hdr.heap_size;
	out->chunk_size = p->hdr.chunk_size;
	out->lanes_offset = p->hdr.lanes_off;
	out->nlanes = p->hdr.nlanes;
	out->lane_size = p->hdr.lane_size;
	return 0;
}
