#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# full.sh -- the whole benchmark, one command: RUNS runs of each program
# with --json, then bench/median.py's table of each, into OUTDIR.
#
#   bench/full.sh BUILD OUTDIR [RUNS]      (RUNS: 5 by default)
#
# Per run: daxo-bench (threads 1, 2, 4, 8), daxo-ycsb (A, B, C, F; 100 B and
# 1 KiB values; threads 1, 2, 4, 8), daxo-ycsb --batch 16 on B and C, and
# daxo-treemap; the programs of a run follow each other, and the runs
# follow each other, so a slow spell of a shared machine lands in one run
# and the median leaves it out. OUTDIR gets the JSON of every run
# (bench-N.json, ycsb-N.json, ycsb-b16-N.json, treemap-N.json) and
# tables.md. Extra arguments for every program: BENCH_ARGS, YCSB_ARGS,
# TREEMAP_ARGS. About 12 minutes a run on the project's 2-vCPU machine.
set -eu
build=${1:?usage: full.sh BUILD OUTDIR [RUNS]}
out=${2:?usage: full.sh BUILD OUTDIR [RUNS]}
runs=${3:-5}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"

for n in $(seq 1 "$runs"); do
	echo "run $n of $runs: daxo-bench" >&2
	# shellcheck disable=SC2086
	"$build/bench/daxo-bench" --json ${BENCH_ARGS:-} >"$out/bench-$n.json"
	echo "run $n of $runs: daxo-ycsb" >&2
	# shellcheck disable=SC2086
	"$build/bench/daxo-ycsb" --json ${YCSB_ARGS:-} >"$out/ycsb-$n.json"
	echo "run $n of $runs: daxo-ycsb --batch 16" >&2
	# shellcheck disable=SC2086
	"$build/bench/daxo-ycsb" --json --batch 16 --workloads BC \
		${YCSB_ARGS:-} >"$out/ycsb-b16-$n.json"
	if [ -x "$build/bench/daxo-treemap" ]; then
		echo "run $n of $runs: daxo-treemap" >&2
		# shellcheck disable=SC2086
		"$build/bench/daxo-treemap" --json ${TREEMAP_ARGS:-} \
			>"$out/treemap-$n.json"
	fi
done

{
	for p in bench ycsb ycsb-b16 treemap; do
		ls "$out/$p"-[0-9]*.json >/dev/null 2>&1 || continue
		echo "## $p ($runs runs, medians)"
		echo
		python3 "$here/median.py" "$out/$p"-[0-9]*.json
		echo
	done
} >"$out/tables.md"
echo "$out/tables.md" >&2
