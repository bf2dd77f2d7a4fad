#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# test_symbols.sh -- the symbols libdaxo.so exports are exactly those listed
# in lib/libdaxo.sym (libinput's symbols-leak-test).
#
# Both directions: every defined dynamic symbol of the library must start
# with daxo_ and be listed in the .sym file (nothing internal leaks), and
# every symbol the .sym file lists must be exported (nothing promised is
# missing -- a name in the version script without a definition is silently
# dropped by the linker). Prints every offending name.
#
# usage: test_symbols.sh LIBDAXO.SO LIBDAXO.SYM
set -u

so=$1
sym=$2
for f in "$so" "$sym"; do
	if [ ! -r "$f" ]; then
		echo "test_symbols: cannot read $f" >&2
		exit 1
	fi
done
if ! command -v nm >/dev/null; then
	echo "test_symbols: SKIP: nm (binutils) is not installed"
	exit 77
fi

listed=$(sed -e 's/#.*//' "$sym" | grep -oE '^[[:space:]]*[A-Za-z_][A-Za-z0-9_]*[[:space:]]*;' |
	tr -d ' \t;' | sort -u)
# defined dynamic symbols, without @VERSION, minus the version nodes (A)
exported=$(nm -D --defined-only "$so" | awk '$2 != "A" { print $3 }' |
	sed 's/@.*//' | sort -u)

fail=0
leaked=$(comm -13 <(echo "$listed") <(echo "$exported"))
if [ -n "$leaked" ]; then
	echo "exported by $(basename "$so") but not listed in $(basename "$sym"):"
	echo "$leaked" | sed 's/^/  /'
	fail=1
fi
badname=$(echo "$exported" | grep -v '^daxo_' || true)
if [ -n "$badname" ]; then
	echo "exported symbols without the daxo_ prefix:"
	echo "$badname" | sed 's/^/  /'
	fail=1
fi
missing=$(comm -23 <(echo "$listed") <(echo "$exported"))
if [ -n "$missing" ]; then
	echo "listed in $(basename "$sym") but not exported (not implemented?):"
	echo "$missing" | sed 's/^/  /'
	fail=1
fi
n_listed=$(echo "$listed" | grep -c . || true)
n_exported=$(echo "$exported" | grep -c . || true)
echo "test_symbols: $n_listed listed, $n_exported exported"
exit $fail
