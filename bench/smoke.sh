#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# smoke.sh -- run `daxo-bench --quick` and check that it exits 0 and prints
# every row of the table (1, 2 and 4 threads: 4 oversubscribes a 2-CPU
# machine), none of them an error. Timings are not checked.
set -u
bench=${1:?usage: smoke.sh DAXO_BENCH}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

"$bench" --quick --threads 1,2,4 --pool-dir "${DAXO_TEST_DIR:-/dev/shm}" \
	>"$out" 2>&1
rc=$?
cat "$out"
if [ $rc -ne 0 ]; then
	echo "FAIL: daxo-bench exited $rc"
	exit 1
fi

fail=0
check() { # workload library
	re=$(printf '%s' "$1" | sed 's/+/\\+/g')
	for t in 1 2 4; do
		if ! grep -Eq "^$re +$t +$2 " "$out"; then
			echo "FAIL: no row for $1, $t threads, $2"
			fail=1
		fi
	done
}
for w in tx-1field-undo tx-1field-redo alloc+free-64B tx-alloc-link \
	 tx-1KiB-undo tx-1KiB-redo put-64B put-1KiB put-64KiB; do
	check "$w" daxo
	check "$w" pmemobj
done
for w in get-64B get-1KiB get-64KiB; do
	check "$w" daxo
	check "$w" pmemobj
	check "$w" volatile
done
if grep -E ' error: ' "$out"; then
	echo "FAIL: rows above report errors"
	fail=1
fi
for l in daxo pmemobj; do
	if ! grep -Eq "^  $l +[0-9.]+ ms" "$out"; then
		echo "FAIL: no open-time result for $l"
		fail=1
	fi
done
[ $fail -eq 0 ] && echo "bench-smoke: all rows present"
exit $fail
