#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# test_typed.sh -- daxo.h's typed oids check types at compile time: the
# program typed/typed_oids.c compiles cleanly (with -Werror), and each of
# its BAD_* variants -- a typed oid assigned to another type, a typed
# pointer of the wrong type, DAXO_OID_SET from the wrong pointer, a field
# of one type given another -- does not. Then the built program runs.
#
# usage: test_typed.sh PROGRAM SOURCE INCDIR... -- CC [CC ARGS...]
set -u

prog=$1
src=$2
shift 2
incs=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
	incs+=("-I$1")
	shift
done
shift
cc=("$@")
if ! command -v "${cc[0]}" >/dev/null; then
	echo "test_typed: SKIP: no compiler ${cc[0]}"
	exit 77
fi

fails=0
flags=(-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -fsyntax-only "${incs[@]}")
if ! "${cc[@]}" "${flags[@]}" "$src"; then
	echo "FAIL: the correct program does not compile"
	fails=$((fails + 1))
fi
for bad in BAD_ASSIGN BAD_POINTER BAD_SET BAD_NEXT; do
	if out=$("${cc[@]}" "${flags[@]}" "-D$bad" "$src" 2>&1); then
		echo "FAIL: $bad compiled: the type check is missing"
		fails=$((fails + 1))
	else
		echo "$bad refused: $(echo "$out" | grep -m1 error: | sed 's/.*error: //')"
	fi
done
pool=$(mktemp -u "${DAXO_TEST_DIR:-/dev/shm}/daxo-typed.XXXXXX")
if ! "$prog" "$pool"; then
	echo "FAIL: the program failed"
	fails=$((fails + 1))
fi
rm -f "$pool"
echo "test_typed: $fails failures"
[ $fails = 0 ]
