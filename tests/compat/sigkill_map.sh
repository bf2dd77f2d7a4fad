#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# sigkill_map.sh -- SIGKILL rounds of map inserts through daxo's
# libpmemobj layer, with PMDK's own mapcli example (built unchanged).
#
# Each round feeds mapcli fresh keys, each insert followed by a check of
# the key ("i K", "c K": mapcli prints 1 once the insert returned), and
# kills it with SIGKILL at a random moment: in the middle of the inserts,
# or (every other round) after the last one, while it waits for input. Every key whose "1" came out
# before the kill was acknowledged. The pool is then reopened (recovery),
# every key acknowledged in any round so far must be there, and `daxo
# check` must find the pool consistent. The rounds share the pool, so
# later rounds insert into, and resize, a map that earlier kills cut.
#
# With --expect-fail, mapcli is the one built on the layer with a planted
# bug (plant-mapcli: a transaction commits only when the next begins)
# and the test passes only if the
# rounds catch it.
#
# usage: sigkill_map.sh [--expect-fail] MAP_TYPE  (btree, rbtree, ...)
# env:   EXDIR, DAXO_TOOL; ROUNDS (default 8), SEED (default: random)
set -u

expect_fail=0
if [ "$1" = --expect-fail ]; then
	expect_fail=1
	shift
fi
map=$1
: "${EXDIR:?EXDIR is not set}"
cli=$EXDIR/daxo-mapcli
[ $expect_fail = 1 ] && cli=$EXDIR/plant-mapcli
rounds=${ROUNDS:-8}
seed=${SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
export PMEM_IS_PMEM_FORCE=1
if [ ! -x "$cli" ]; then
	echo "SKIP: $cli not built"
	exit 77
fi
if ! command -v stdbuf >/dev/null; then
	echo "SKIP: stdbuf (coreutils) is needed to see mapcli's answers"
	exit 77
fi
work=$(mktemp -d "${DAXO_TEST_DIR:-/dev/shm}"/daxo-sigkill-map.XXXXXX)
trap 'rm -rf "$work"' EXIT
pool=$work/map
: >"$work/acked"
RANDOM=$seed
echo "sigkill_map $map: seed $seed, $rounds rounds"

# the pool and the empty map first, without a kill: a kill inside
# pmemobj_create leaves a file that is not a pool yet (as with libpmemobj)
if ! echo q | "$cli" "$map" "$pool" 1 >"$work/out" 2>&1; then
	echo "FAIL: mapcli could not create the pool:"
	cat "$work/out"
	exit 1
fi

fail=0
for r in $(seq 1 "$rounds"); do
	# fresh keys, spread over the key space (odd multiplier; %.0f, as
	# mawk's %d stops at 2^31 - 1): every
	# other round a few, which mapcli finishes before the kill and then
	# waits for more input (the kill finds it idle, the last answer
	# given), else more than it can insert before the kill
	nk=200000
	[ $((r % 2)) = 1 ] && nk=$((1 + RANDOM % 3000))
	awk -v r="$r" -v n="$nk" 'BEGIN {
		for (i = 1; i <= n; i++) {
			k = (r * 1000003 + i) * 2654435761 % 9007199254740881
			printf "i %.0f\nc %.0f\n", k, k
		}
	}' >"$work/cmds"
	# the keys in order, to match the answers with
	awk 'NR % 2 == 0 { print $2 }' "$work/cmds" >"$work/keys"
	rm -f "$work/in"
	mkfifo "$work/in"
	stdbuf -oL "$cli" "$map" "$pool" 1 <"$work/in" >"$work/out" \
		2>"$work/err" &
	pid=$!
	exec 3>"$work/in" # held open: at the end of the keys, mapcli waits
	cat "$work/cmds" >&3 &
	cpid=$!
	ms=$((20 + RANDOM % 380))
	sleep "$(printf '0.%03d' "$ms")"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	kill "$cpid" 2>/dev/null
	wait "$cpid" 2>/dev/null
	exec 3>&-
	# complete answer lines only
	cp "$work/out" "$work/ans"
	if [ -n "$(tail -c1 "$work/out")" ]; then
		sed -i '$d' "$work/ans" # the last line was cut by the kill
	fi
	n=$(wc -l <"$work/ans")
	if grep -qv '^1$' "$work/ans"; then
		echo "FAIL round $r: a key inserted was not found right after"
		grep -nv '^1$' "$work/ans" | head -5
		fail=1
	fi
	head -n "$n" "$work/keys" >>"$work/acked"

	# reopen: every acknowledged key is there
	awk '{ printf "c %s\n", $1 } END { print "q" }' "$work/acked" |
		"$cli" "$map" "$pool" 1 >"$work/verify" 2>&1
	vrc=$?
	total=$(wc -l <"$work/acked")
	got=$(grep -c '^1$' "$work/verify")
	echo "round $r: killed after ${ms} ms, $n inserts acknowledged," \
		"$got of $total keys found after reopening"
	if [ "$got" != "$total" ] || [ $vrc != 0 ]; then
		echo "FAIL round $r: $((total - got)) acknowledged keys lost" \
			"(reopening mapcli exited $vrc)"
		grep -v '^1$' "$work/verify" | head -5
		fail=1
	fi
	if [ -n "${DAXO_TOOL:-}" ] &&
		! out=$("$DAXO_TOOL" check "$pool" 2>&1); then
		echo "FAIL round $r: daxo check:"
		echo "$out" | head -10
		fail=1
	fi
	[ $fail = 0 ] || break
done
if [ "$(wc -l <"$work/acked")" -lt 100 ]; then
	echo "FAIL: fewer than 100 inserts acknowledged in $rounds rounds:" \
		"the test did not exercise the map"
	fail=1
fi
if [ $expect_fail = 1 ]; then
	if [ $fail = 1 ]; then
		echo "the planted bug was caught"
		exit 0
	fi
	echo "FAIL: the planted bug (late commits) went unnoticed"
	exit 1
fi
exit $fail
