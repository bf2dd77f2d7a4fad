#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# test_btree.sh -- examples/btree (PMDK's btree_map ported to the native
# API): a session of inserts, lookups and removals with its expected
# output; then SIGKILL rounds: `btree fill` prints each key once its
# transaction committed and is killed at a random moment; the pool is
# reopened, the tree must be sound and every key printed in any round so
# far must be there with its value (`btree verify`), and `daxo check` must
# find the pool consistent.
#
# usage: test_btree.sh PATH/TO/btree   (env: DAXO_TOOL, ROUNDS (default 4))
set -u

btree=$1
rounds=${ROUNDS:-4}
dir=$(mktemp -d "${DAXO_TEST_DIR:-/dev/shm}"/daxo-test_btree.XXXXXX)
trap 'rm -rf "$dir"' EXIT
pool=$dir/b.pool
fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

out=$({
	"$btree" "$pool" insert 5 3 9 1 7 3
	"$btree" "$pool" get 3 4
	"$btree" "$pool" remove 3 4
	"$btree" "$pool" print
	"$btree" "$pool" check
} 2>&1)
want='3: exists
3: 9
4: not found
4: not found
1 3
5 15
7 21
9 27
4 keys, tree sound'
[ "$out" = "$want" ] || fail "the session printed:
$out"
"$btree" "$pool" insert x 2>/dev/null && fail "a key 'x' was taken"
"$btree" "$pool" >/dev/null 2>&1
[ $? = 2 ] || fail "no command is not a usage error"

: >"$dir/acked"
for r in $(seq 1 "$rounds"); do
	"$btree" "$pool" fill 10000000 "$r" >"$dir/out" &
	pid=$!
	sleep "$(printf '0.%02d' $((RANDOM % 20 + 1)))"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	# each key is printed by one write(2) after its commit returned; a
	# write that straddles a page can be cut short by the kill, leaving a
	# last line without its newline: a key never acknowledged in full
	if [ -n "$(tail -c1 "$dir/out")" ]; then
		sed -i '$d' "$dir/out"
	fi
	grep -E '^[0-9]+$' "$dir/out" >>"$dir/acked"
	got=$("$btree" "$pool" check 2>&1) || fail "round $r: check: $got"
	v=$("$btree" "$pool" verify "$dir/acked" 2>&1) ||
		fail "round $r: verify: $v"
	if [ -n "${DAXO_TOOL:-}" ]; then
		"$DAXO_TOOL" check "$pool" >"$dir/chk" 2>&1 ||
			fail "round $r: daxo check: $(cat "$dir/chk")"
	fi
	echo "round $r: $(wc -l <"$dir/out") keys printed; $got; $v"
done

echo "test_btree: $fails failures"
[ "$fails" = 0 ]
