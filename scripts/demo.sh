#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# demo.sh -- daxo's main job in one minute: a value that survives a restart.
#
# Installs what is missing (Debian 12), builds daxo, creates a pool on
# emulated persistent memory (/dev/shm with PMEM_IS_PMEM_FORCE=1) with
# `daxo create`, runs examples/counter against it twice -- two separate
# processes, so the second one can only know the count from the pool --
# and prints what `daxo info` says about the pool.
#
# Environment: DAXO_DEMO_POOL (pool path; default a new file on /dev/shm,
# removed at the end unless DAXO_DEMO_KEEP=1).
set -euo pipefail

cd "$(dirname "$0")/.."
. scripts/common.sh

install_pkgs "${DAXO_BUILD_PKGS[@]}"

log "build"
setup_build build-demo -Dbuildtype=debugoptimized -Dtests=false -Dbench=disabled >/dev/null
ninja -C build-demo -j "$(cpus)" >/dev/null
daxo=build-demo/tools/daxo
counter=build-demo/examples/counter

export PMEM_IS_PMEM_FORCE=1
pool=${DAXO_DEMO_POOL:-/dev/shm/daxo-demo-$$.pool}
if [ "${DAXO_DEMO_KEEP:-0}" != 1 ]; then
	trap 'rm -f "$pool"' EXIT
fi
rm -f "$pool"

log "daxo create $pool --size 64M --layout counter"
"$daxo" create "$pool" --size 64M --layout counter

log "run 1: $counter $pool"
first=$("$counter" "$pool")
echo "$first"
log "run 2 (a new process): $counter $pool"
second=$("$counter" "$pool")
echo "$second"

log "daxo info $pool"
"$daxo" info "$pool"

if [ "$first" = "counter: 1" ] && [ "$second" = "counter: 2" ]; then
	log "the count survived the restart: 1, then 2"
else
	log "unexpected: '$first' then '$second'"
	exit 1
fi

# ---- daxod watching the example workload ----
daxod=build-demo/daemon/daxod
bank=build-demo/examples/bank
log "daxod: the daemon watches the example workload (pools, page faults, devices)"
ddir=$(mktemp -d /tmp/daxo-demo-daemon.XXXXXX)
bpool=/dev/shm/daxo-demo-bank-$$.pool
export DAXO_SOCKET=$ddir/daxod.sock DAXO_NOTIFY=1
"$daxod" --socket "$DAXO_SOCKET" --event-log "$ddir/events.jsonl" 2>"$ddir/daxod.log" &
daxod_pid=$!
trap 'kill $daxod_pid 2>/dev/null || true; rm -rf "$ddir" "$bpool"; [ "${DAXO_DEMO_KEEP:-0}" = 1 ] || rm -f "$pool"' EXIT
for _ in $(seq 100); do "$daxo" stat >/dev/null 2>&1 && break; sleep 0.1; done
rm -f "$bpool"
"$bank" "$bpool" init 100 1000 >/dev/null
"$bank" "$bpool" random 300000 >/dev/null &
bank_pid=$!
sleep 0.3
log "daxo stat, while bank (pid $bank_pid) makes transfers"
"$daxo" stat || true
log "daxo top, one frame"
"$daxo" top --iterations 1 || true
wait "$bank_pid"
log "the same run with DAXO_PREFAULT=1: the first-touch faults move to open time"
rm -f "$bpool"
"$bank" "$bpool" init 100 1000 >/dev/null
DAXO_PREFAULT=1 "$bank" "$bpool" random 300000 >/dev/null
sleep 0.3
log "daxod's event log: page faults of each bank run when it closed its pool"
grep '"pool_gone"' "$ddir/events.jsonl" | grep -o '"pid":[0-9]*\|"minor":[0-9]*' | paste -d' ' - - || true
kill "$daxod_pid"; wait "$daxod_pid" || true
unset DAXO_SOCKET DAXO_NOTIFY
