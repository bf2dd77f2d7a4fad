/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * devices.c -- persistent-memory hardware, through libndctl and libdaxctl.
 *
 * Each rescan (at start, every device_interval_s, and when a DIMM's health
 * event file fires) builds a flat JSON list of what the platform exposes:
 *   {"type": "bus", "provider", "dev"}
 *   {"type": "dimm", "dev", "bus", "handle", "health": ok|non-critical|
 *    critical|fatal|unknown, "flags": [...]}
 *   {"type": "region", "dev", "bus", "kind" (pmem/blk), "size", "available",
 *    "align", "ro", "badblocks": N}
 *   {"type": "namespace", "dev", "region", "mode" (fsdax/devdax/sector/raw),
 *    "size", "align", "enabled", "blockdev", "badblocks": N}
 *   {"type": "daxdev", "dev", "region", "size", "align", "enabled"}
 * and logs a "devices" event when the list changed. A DIMM whose health
 * got worse is logged as a "dimm_health" event, like `ndctl monitor`.
 * With no NVDIMM bus at all the list is empty and the summary says
 * "no persistent memory devices"; pools on emulated pmem are still watched.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <daxctl/libdaxctl.h>
#include <ndctl/libndctl.h>

#include "daxod.h"

#define MAX_WATCH 256

static json_object *devs; /* array */
static char summary[128] = "not scanned";
static unsigned ndevs;
static struct ndctl_ctx *nctx;

struct health_watch {
	struct evsrc ev;
	char dev[32];
	unsigned health;
};

static struct health_watch watches[MAX_WATCH];
static int nwatches;

static const char *health_name(unsigned h)
{
	if (h & ND_SMART_FATAL_HEALTH)
		return "fatal";
	if (h & ND_SMART_CRITICAL_HEALTH)
		return "critical";
	if (h & ND_SMART_NON_CRITICAL_HEALTH)
		return "non-critical";
	return "ok";
}

/* dimm_health -- the SMART health bits, or -1 if not reported */
static int dimm_health(struct ndctl_dimm *d, json_object *o)
{
	struct ndctl_cmd *cmd = ndctl_dimm_cmd_new_smart(d);
	int h = -1;

	if (!cmd)
		return -1;
	if (ndctl_cmd_submit(cmd) >= 0) {
		unsigned fl = ndctl_cmd_smart_get_flags(cmd);
		if (fl & ND_SMART_HEALTH_VALID)
			h = (int)ndctl_cmd_smart_get_health(cmd);
		if (fl & ND_SMART_USED_VALID)
			json_object_object_add(
			    o, "life_used_pct",
			    json_object_new_int(
				(int)ndctl_cmd_smart_get_life_used(cmd)));
		if (fl & ND_SMART_SHUTDOWN_COUNT_VALID)
			json_object_object_add(
			    o, "dirty_shutdowns",
			    json_object_new_int(
				(int)ndctl_cmd_smart_get_shutdown_count(cmd)));
	}
	ndctl_cmd_unref(cmd);
	return h;
}

static void health_cb(struct evsrc *src, uint32_t events)
{
	char buf[64];

	/* sysfs notification: re-arm by reading from the start */
	(void)pread(src->fd, buf, sizeof(buf), 0);
	log_msg(LOG_NOTICE, "DIMM health event");
	devices_scan();
}

static void watch_dimm(struct ndctl_dimm *d, unsigned health)
{
	const char *dev = ndctl_dimm_get_devname(d);
	int fd;

	for (int i = 0; i < nwatches; i++)
		if (!strcmp(watches[i].dev, dev)) {
			if (health > watches[i].health) {
				json_object *o = json_object_new_object();
				json_object_object_add(
				    o, "dimm", json_object_new_string(dev));
				json_object_object_add(
				    o, "health",
				    json_object_new_string(
					health_name(health)));
				json_object_object_add(
				    o, "was",
				    json_object_new_string(
					health_name(watches[i].health)));
				event_emit("dimm_health", o);
				log_msg(LOG_WARNING, "DIMM %s health: %s", dev,
					health_name(health));
			}
			watches[i].health = health;
			return;
		}
	if (nwatches >= MAX_WATCH)
		return;
	fd = ndctl_dimm_get_health_eventfd(d);
	if (fd < 0)
		return;
	watches[nwatches].ev.fd = fd;
	watches[nwatches].ev.cb = health_cb;
	watches[nwatches].health = health;
	snprintf(watches[nwatches].dev, sizeof(watches[nwatches].dev), "%s",
		 dev);
	if (ev_add(&watches[nwatches].ev, EPOLLPRI) == 0)
		nwatches++;
}

static const char *ns_mode(struct ndctl_namespace *ns)
{
	switch (ndctl_namespace_get_mode(ns)) {
	case NDCTL_NS_MODE_FSDAX:
		return "fsdax";
	case NDCTL_NS_MODE_DEVDAX:
		return "devdax";
	case NDCTL_NS_MODE_SECTOR:
		return "sector";
	case NDCTL_NS_MODE_RAW:
		return "raw";
	default:
		return "unknown";
	}
}

static void add(json_object *arr, json_object *o)
{
	json_object_array_add(arr, o);
	ndevs++;
}

/*
 * ns_json -- one namespace. In fsdax, devdax and sector modes the raw
 * namespace is claimed by a pfn, dax or btt device: that device is what is
 * enabled, what has the block device, and its size is the usable one
 * (like `ndctl list`); "raw_size" is the namespace's own.
 */
static json_object *ns_json(struct ndctl_region *r, struct ndctl_namespace *ns)
{
	struct ndctl_pfn *pfn = ndctl_namespace_get_pfn(ns);
	struct ndctl_dax *dax = ndctl_namespace_get_dax(ns);
	struct ndctl_btt *btt = ndctl_namespace_get_btt(ns);
	const char *blk = ndctl_namespace_get_block_device(ns);
	unsigned long long size = ndctl_namespace_get_size(ns);
	unsigned long align = 0;
	bool enabled = ndctl_namespace_is_enabled(ns) > 0;
	json_object *o = json_object_new_object();
	struct badblock *bb;
	unsigned nbb = 0;

	if (pfn) {
		align = ndctl_pfn_get_align(pfn);
		size = ndctl_pfn_get_size(pfn);
		enabled = ndctl_pfn_is_enabled(pfn) > 0;
		blk = ndctl_pfn_get_block_device(pfn);
	} else if (dax) {
		align = ndctl_dax_get_align(dax);
		size = ndctl_dax_get_size(dax);
		enabled = ndctl_dax_is_enabled(dax) > 0;
		blk = NULL;
	} else if (btt) {
		size = ndctl_btt_get_size(btt);
		enabled = ndctl_btt_is_enabled(btt) > 0;
		blk = ndctl_btt_get_block_device(btt);
	}
	ndctl_namespace_badblock_foreach(ns, bb) nbb++;
	json_object_object_add(o, "type", json_object_new_string("namespace"));
	json_object_object_add(
	    o, "dev", json_object_new_string(ndctl_namespace_get_devname(ns)));
	json_object_object_add(
	    o, "region", json_object_new_string(ndctl_region_get_devname(r)));
	json_object_object_add(o, "mode", json_object_new_string(ns_mode(ns)));
	json_object_object_add(o, "size", json_object_new_int64((int64_t)size));
	json_object_object_add(
	    o, "raw_size",
	    json_object_new_int64((int64_t)ndctl_namespace_get_size(ns)));
	json_object_object_add(o, "align",
			       json_object_new_int64((int64_t)align));
	json_object_object_add(o, "enabled", json_object_new_boolean(enabled));
	if (blk && *blk)
		json_object_object_add(o, "blockdev",
				       json_object_new_string(blk));
	json_object_object_add(o, "badblocks", json_object_new_int((int)nbb));
	return o;
}

static void scan_ndctl(json_object *arr)
{
	struct ndctl_bus *bus;

	if (!nctx && ndctl_new(&nctx) < 0) {
		nctx = NULL;
		return;
	}
	ndctl_bus_foreach(nctx, bus)
	{
		struct ndctl_dimm *d;
		struct ndctl_region *r;
		json_object *o = json_object_new_object();

		json_object_object_add(o, "type",
				       json_object_new_string("bus"));
		json_object_object_add(
		    o, "dev",
		    json_object_new_string(ndctl_bus_get_devname(bus)));
		json_object_object_add(
		    o, "provider",
		    json_object_new_string(ndctl_bus_get_provider(bus)));
		add(arr, o);
		ndctl_dimm_foreach(bus, d)
		{
			int h;
			o = json_object_new_object();
			json_object_object_add(o, "type",
					       json_object_new_string("dimm"));
			json_object_object_add(
			    o, "dev",
			    json_object_new_string(ndctl_dimm_get_devname(d)));
			json_object_object_add(
			    o, "bus",
			    json_object_new_string(ndctl_bus_get_devname(bus)));
			json_object_object_add(
			    o, "handle",
			    json_object_new_int64(ndctl_dimm_get_handle(d)));
			json_object_object_add(
			    o, "enabled",
			    json_object_new_boolean(ndctl_dimm_is_enabled(d)));
			h = dimm_health(d, o);
			json_object_object_add(
			    o, "health",
			    json_object_new_string(
				h < 0 ? "unknown" : health_name((unsigned)h)));
			if (h >= 0)
				watch_dimm(d, (unsigned)h);
			add(arr, o);
		}
		ndctl_region_foreach(bus, r)
		{
			struct ndctl_namespace *ns;
			struct badblock *bb;
			unsigned nbb = 0;

			ndctl_region_badblock_foreach(r, bb) nbb++;
			o = json_object_new_object();
			json_object_object_add(
			    o, "type", json_object_new_string("region"));
			json_object_object_add(
			    o, "dev",
			    json_object_new_string(
				ndctl_region_get_devname(r)));
			json_object_object_add(
			    o, "bus",
			    json_object_new_string(ndctl_bus_get_devname(bus)));
			json_object_object_add(
			    o, "kind",
			    json_object_new_string(
				ndctl_region_get_type_name(r)));
			json_object_object_add(
			    o, "size",
			    json_object_new_int64(
				(int64_t)ndctl_region_get_size(r)));
			json_object_object_add(
			    o, "available",
			    json_object_new_int64(
				(int64_t)ndctl_region_get_available_size(r)));
			json_object_object_add(
			    o, "align",
			    json_object_new_int64(
				(int64_t)ndctl_region_get_align(r)));
			json_object_object_add(o, "ro",
					       json_object_new_boolean(
						   ndctl_region_get_ro(r) > 0));
			json_object_object_add(o, "badblocks",
					       json_object_new_int((int)nbb));
			add(arr, o);
			ndctl_namespace_foreach(r, ns)
			{
				if (ndctl_namespace_get_size(ns) == 0)
					continue; /* an unused seed namespace */
				add(arr, ns_json(r, ns));
			}
		}
	}
}

static void scan_daxctl(json_object *arr)
{
	struct daxctl_ctx *ctx;
	struct daxctl_region *r;

	if (daxctl_new(&ctx) < 0)
		return;
	daxctl_region_foreach(ctx, r)
	{
		struct daxctl_dev *d;
		daxctl_dev_foreach(r, d)
		{
			json_object *o = json_object_new_object();
			json_object_object_add(
			    o, "type", json_object_new_string("daxdev"));
			json_object_object_add(
			    o, "dev",
			    json_object_new_string(daxctl_dev_get_devname(d)));
			json_object_object_add(
			    o, "region",
			    json_object_new_int(daxctl_region_get_id(r)));
			json_object_object_add(
			    o, "size",
			    json_object_new_int64(
				(int64_t)daxctl_dev_get_size(d)));
			json_object_object_add(
			    o, "align",
			    json_object_new_int64(
				(int64_t)daxctl_dev_get_align(d)));
			json_object_object_add(
			    o, "enabled",
			    json_object_new_boolean(daxctl_dev_is_enabled(d) >
						    0));
			add(arr, o);
		}
	}
	daxctl_unref(ctx);
}

void devices_scan(void)
{
	json_object *arr = json_object_new_array();
	unsigned old = ndevs;
	bool changed;

	ndevs = 0;
	/* fresh library state so that hot-added devices show up -- unless
	 * we hold health event files, which belong to the current state */
	if (nctx && nwatches == 0) {
		ndctl_unref(nctx);
		nctx = NULL;
	}
	scan_ndctl(arr);
	scan_daxctl(arr);
	if (ndevs == 0)
		snprintf(summary, sizeof(summary),
			 "no persistent memory devices");
	else
		snprintf(summary, sizeof(summary), "%u device objects", ndevs);
	changed = !devs || !json_object_equal(devs, arr);
	json_object_put(devs);
	devs = arr;
	if (changed) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "summary",
				       json_object_new_string(summary));
		json_object_object_add(o, "devices", json_object_get(devs));
		event_emit("devices", o);
		log_msg(old == ndevs && ndevs == 0 ? LOG_INFO : LOG_NOTICE,
			"devices: %s", summary);
	}
}

json_object *devices_json(void)
{
	return devs ? json_object_get(devs) : json_object_new_array();
}

const char *devices_summary(void)
{
	return summary;
}

unsigned devices_count(void)
{
	return ndevs;
}

void devices_free(void)
{
	for (int i = 0; i < nwatches; i++) {
		ev_del(&watches[i].ev);
	}
	nwatches = 0;
	json_object_put(devs);
	devs = NULL;
	if (nctx)
		ndctl_unref(nctx);
	nctx = NULL;
}
