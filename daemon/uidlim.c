/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * uidlim.c -- what each local user may take of the daemon.
 *
 * Anyone may connect to the socket and anyone's processes are watched, so
 * an unprivileged user could otherwise take every client slot, fill the
 * registry, or have the daemon write without end into root's log and event
 * files. Per uid, the daemon counts open connections and tracked processes
 * and keeps two token buckets: requests that change the registry
 * (register, unregister) and lines written on its behalf (events, logs).
 * A bucket holds up to `burst` tokens and refills at `rate` per second;
 * what finds it empty is refused (a request) or dropped and counted (an
 * event), and one "events_suppressed" event per uid and second says how
 * many were dropped.
 *
 * Root and the daemon's own uid are privileged: no per-uid limits, and
 * reserved_clients connection slots that only they may take.
 *
 * The table holds UID_TABLE uids (open addressing); when it is full, the
 * uids that do not fit share one overflow entry -- they are limited
 * together, which only errs towards less for them.
 */
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "daxod.h"

#define UID_TABLE 1024u

static struct uid_use table[UID_TABLE];
static struct uid_use overflow = {.used = true, .uid = (uid_t)-1};
static unsigned nused;

bool uid_privileged(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

static void refill(struct uid_use *u, double t)
{
	double dt = t - u->t_refill;

	if (dt <= 0)
		return;
	u->req_tokens += dt * cfg.uid_request_rate;
	if (u->req_tokens > cfg.uid_request_burst)
		u->req_tokens = cfg.uid_request_burst;
	u->ev_tokens += dt * cfg.uid_event_rate;
	if (u->ev_tokens > cfg.uid_event_burst)
		u->ev_tokens = cfg.uid_event_burst;
	u->t_refill = t;
}

struct uid_use *uid_use(uid_t uid)
{
	unsigned h = (unsigned)uid * 2654435761u % UID_TABLE;

	for (unsigned i = 0; i < UID_TABLE; i++) {
		struct uid_use *u = &table[(h + i) % UID_TABLE];

		if (u->used && u->uid == uid)
			return u;
		if (!u->used) {
			if (nused >= UID_TABLE * 3 / 4)
				break;
			memset(u, 0, sizeof(*u));
			u->used = true;
			u->uid = uid;
			u->req_tokens = cfg.uid_request_burst;
			u->ev_tokens = cfg.uid_event_burst;
			u->t_refill = now_mono();
			nused++;
			return u;
		}
	}
	return &overflow;
}

/* take -- spend one token of @uid's request (or event) bucket */
static bool take(uid_t uid, bool event)
{
	struct uid_use *u;
	double *tokens;

	if (uid_privileged(uid))
		return true;
	u = uid_use(uid);
	refill(u, now_mono());
	tokens = event ? &u->ev_tokens : &u->req_tokens;
	if (*tokens < 1) {
		if (event)
			u->ev_suppressed++;
		else
			u->req_refused++;
		return false;
	}
	*tokens -= 1;
	return true;
}

bool uid_take_request(uid_t uid)
{
	return take(uid, false);
}

bool uid_take_event(uid_t uid)
{
	return take(uid, true);
}

/* uid_obj -- the uid of @u, -1 for the shared overflow entry */
static json_object *uid_obj(const struct uid_use *u)
{
	return json_object_new_int64(u == &overflow ? -1 : (int64_t)u->uid);
}

/* report -- one summary event for the events of @u dropped since the last */
static void report(struct uid_use *u)
{
	json_object *o;
	uint64_t n = u->ev_suppressed - u->ev_reported;

	if (!n)
		return;
	u->ev_reported = u->ev_suppressed;
	o = json_object_new_object();
	json_object_object_add(o, "uid", uid_obj(u));
	json_object_object_add(o, "count", json_object_new_int64((int64_t)n));
	json_object_object_add(o, "total",
			       json_object_new_int64((int64_t)u->ev_suppressed));
	event_emit("events_suppressed", o);
	log_msg(LOG_NOTICE,
		"uid %lld: %llu events dropped (over %u a second); "
		"%llu in all",
		u == &overflow ? -1LL : (long long)u->uid,
		(unsigned long long)n, cfg.uid_event_rate,
		(unsigned long long)u->ev_suppressed);
}

void uid_tick(double t)
{
	static double last;

	if (t - last < 1.0)
		return;
	last = t;
	for (unsigned i = 0; i < UID_TABLE; i++)
		if (table[i].used)
			report(&table[i]);
	report(&overflow);
}

json_object *uid_json(void)
{
	json_object *a = json_object_new_array();

	for (unsigned i = 0; i <= UID_TABLE; i++) {
		struct uid_use *u = i < UID_TABLE ? &table[i] : &overflow;
		json_object *o;

		if (!u->used || (!u->conns && !u->mconns && !u->procs &&
				 !u->req_refused && !u->ev_suppressed))
			continue;
		o = json_object_new_object();
		json_object_object_add(o, "uid", uid_obj(u));
		json_object_object_add(o, "clients",
				       json_object_new_int((int)u->conns));
		json_object_object_add(o, "metrics_clients",
				       json_object_new_int((int)u->mconns));
		json_object_object_add(o, "processes",
				       json_object_new_int((int)u->procs));
		json_object_object_add(
		    o, "requests_refused",
		    json_object_new_int64((int64_t)u->req_refused));
		json_object_object_add(
		    o, "events_suppressed",
		    json_object_new_int64((int64_t)u->ev_suppressed));
		json_object_array_add(a, o);
	}
	return a;
}
