#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# test_symbols.sh -- the symbols libdaxo.so exports are exactly those listed
# in lib/libdaxo.sym, each at the version node it is listed in
# (libinput's symbols-leak-test).
#
# Both directions: every defined dynamic symbol of the library must start
# with daxo_ and be listed in the .sym file (nothing internal leaks), and
# every symbol the .sym file lists must be exported (nothing promised is
# missing -- a name in the version script without a definition is silently
# dropped by the linker). Each exported symbol carries the version node it
# is listed under (daxo_put@@DAXO_0.1), every node after the first inherits
# the one before it, and no node is newer than the project version
# (a symbol added for the next release comes with the version bump).
# Prints every offending name.
#
# usage: test_symbols.sh LIB.SO LIB.SYM [VERSION [NAME-REGEX [NODE-PREFIX]]]
# (libdaxo: names ^daxo_, nodes DAXO_<major>.<minor>; another library of
# the project, such as libdaxo-pmemobj, passes its own)
set -u

so=$1
sym=$2
version=${3:-}
names=${4:-^daxo_}
node_prefix=${5:-DAXO_}
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

# "symbol node" for each listed symbol
listed_at=$(sed -e 's/#.*//' "$sym" | awk '
	/^[[:space:]]*[A-Za-z_][A-Za-z0-9_.]*[[:space:]]*\{/ {
		node = $1; sub(/\{.*/, "", node); next }
	/^[[:space:]]*(global|local):/ { next }
	/^[[:space:]]*[A-Za-z_][A-Za-z0-9_]*[[:space:]]*;/ {
		s = $1; sub(/;.*/, "", s); print s, node }' | sort -u)
listed=$(echo "$listed_at" | awk '{ print $1 }' | sort -u)
exported_at=$(nm -D --defined-only "$so" | awk '$2 != "A" { print $3 }' |
	sed 's/@@*/ /' | sort -u)
exported=$(echo "$exported_at" | awk '{ print $1 }' | sort -u)

fail=0
leaked=$(comm -13 <(echo "$listed") <(echo "$exported"))
if [ -n "$leaked" ]; then
	echo "exported by $(basename "$so") but not listed in $(basename "$sym"):"
	echo "$leaked" | sed 's/^/  /'
	fail=1
fi
badname=$(echo "$exported" | grep -Ev "$names" || true)
if [ -n "$badname" ]; then
	echo "exported symbols whose names do not match $names:"
	echo "$badname" | sed 's/^/  /'
	fail=1
fi
missing=$(comm -23 <(echo "$listed") <(echo "$exported"))
if [ -n "$missing" ]; then
	echo "listed in $(basename "$sym") but not exported (not implemented?):"
	echo "$missing" | sed 's/^/  /'
	fail=1
fi
wrongnode=$(comm -13 <(echo "$listed_at") <(echo "$exported_at") |
	awk 'NR == FNR { leak[$1] = 1; next } !($1 in leak)' \
		<(echo "$leaked") - || true)
if [ -n "$wrongnode" ]; then
	echo "exported at another version node than $(basename "$sym") lists (symbol node):"
	echo "$wrongnode" | sed 's/^/  /'
	fail=1
fi

# the nodes: "NAME" opens one, "}PARENT" or "}" closes it (tokens above)
prev=
chain_ok=1
cur=
for t in $(sed -e 's/#.*//' "$sym" | tr '\n' ' ' |
	grep -oE '[A-Za-z_][A-Za-z0-9_.]*[[:space:]]*\{|\}[[:space:]]*[A-Za-z_][A-Za-z0-9_.]*|\}' |
	tr -d ' \t{'); do
	case $t in
	'}') parent= ;;
	'}'*) parent=${t#\}} ;;
	*) cur=$t; continue ;;
	esac
	if [ "$parent" != "$prev" ]; then
		echo "version node $cur inherits '${parent:-nothing}', not the node before it ('${prev:-nothing}')"
		chain_ok=0
	fi
	case $cur in
	"$node_prefix"[0-9]*.[0-9]*) ;;
	*) echo "version node $cur is not named $node_prefix<major>.<minor>"; chain_ok=0 ;;
	esac
	if [ -n "$version" ]; then
		nv=${cur#"$node_prefix"}
		pv=$(echo "$version" | cut -d. -f1,2)
		newest=$(printf '%s\n%s\n' "$nv" "$pv" | sort -V | tail -1)
		if [ "$newest" != "$pv" ]; then
			echo "version node $cur is newer than the project version $version"
			chain_ok=0
		fi
	fi
	prev=$cur
done
[ $chain_ok = 1 ] || fail=1

n_listed=$(echo "$listed" | grep -c . || true)
n_exported=$(echo "$exported" | grep -c . || true)
echo "test_symbols: $n_listed listed, $n_exported exported, newest node ${prev:-none}"
exit $fail
