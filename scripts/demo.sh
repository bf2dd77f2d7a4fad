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
setup_build build-demo -Dbuildtype=debugoptimized -Dtests=false -Dbench=false >/dev/null
ninja -C build-demo -j "$(cpus)" >/dev/null
daxo=build-demo/tools/daxo
counter=build-demo/examples/counter
if [ ! -x "$counter" ]; then
	echo "examples/counter was not built (daxo_root/transactions missing?)" >&2
	exit 1
fi

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
