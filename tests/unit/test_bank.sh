#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# test_bank.sh -- examples/bank: the total survives transfers, restarts and
# a SIGKILL in the middle of a run of transfers.
set -u
bank=$1
pool=${DAXO_TEST_DIR:-/dev/shm}/daxo-test-bank-$$.pool
trap 'rm -f "$pool"' EXIT
rm -f "$pool"
fail() { echo "FAIL: $*"; exit 1; }
"$bank" "$pool" init 10 1000 >/dev/null || fail "init"
"$bank" "$pool" transfer 0 1 250 >/dev/null || fail "transfer"
out=$("$bank" "$pool" show) || fail "show"
grep -q "^account   0: 750$" <<<"$out" || fail "account 0 after transfer: $out"
grep -q "^account   1: 1250$" <<<"$out" || fail "account 1 after transfer"
"$bank" "$pool" transfer 0 1 100000 >/dev/null 2>&1 && fail "overdraft accepted"
for i in 1 2 3; do
	"$bank" "$pool" random 100000000 >/dev/null &
	pid=$!
	sleep 0.$((RANDOM % 5 + 1))
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	out=$("$bank" "$pool" show) || fail "show after kill $i"
	grep -q "^total: 10000 in 10 accounts" <<<"$out" || fail "total after kill $i: $(grep total <<<"$out")"
	echo "kill $i: $(grep total <<<"$out")"
done
echo "1 passed, 0 failed"
