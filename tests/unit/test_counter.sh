#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# test_counter.sh -- examples/counter keeps its value across runs: a new
# pool counts 1, 2, 3 in three processes; a pool of another layout is
# refused with exit 1; no argument is a usage error.
#
# usage: test_counter.sh PATH/TO/counter
set -u

counter=$1
dir=$(mktemp -d "${DAXO_TEST_DIR:-/dev/shm}"/daxo-test_counter.XXXXXX)
trap 'rm -rf "$dir"' EXIT
fails=0

for want in 1 2 3; do
	got=$("$counter" "$dir/c.pool")
	rc=$?
	if [ "$rc" != 0 ] || [ "$got" != "counter: $want" ]; then
		echo "FAIL: run $want printed '$got' (exit $rc)"
		fails=$((fails + 1))
	fi
done

"$counter" >/dev/null 2>&1
[ $? = 2 ] || { echo "FAIL: no argument is not a usage error"; fails=$((fails + 1)); }

# a pool of another application is not touched
if [ -n "${DAXO_TOOL:-}" ]; then
	"$DAXO_TOOL" create "$dir/other.pool" --size 8M --layout other -q
	before=$(md5sum <"$dir/other.pool")
	if "$counter" "$dir/other.pool" 2>"$dir/err"; then
		echo "FAIL: counter accepted a pool of layout 'other'"
		fails=$((fails + 1))
	fi
	grep -q layout "$dir/err" || { echo "FAIL: no layout message"; fails=$((fails + 1)); }
	[ "$(md5sum <"$dir/other.pool")" = "$before" ] ||
		{ echo "FAIL: the other pool changed"; fails=$((fails + 1)); }
fi

echo "test_counter: $fails failures"
[ "$fails" = 0 ]
