#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# test_man.sh -- the manual pages: each renders without a warning, every
# function of daxo.h and daxo_crashsim.h has a page (its group's, or a
# one-line .so page that opens it), and every complete example program in
# them compiles against this build and runs (on a new pool, exit 0).
#
# The pages and the generated .so pages are staged as man1/, man3/, man8/,
# where `.so man3/GROUP.3` finds its target, and each is rendered with
# `MANWIDTH=80 man --warnings -l`, which must print nothing on stderr.
# An example is a .EX/.EE block with a main(); it is compiled with
# -Wall -Wextra -Werror against the source tree's headers and the build's
# libdaxo (daxo_crashsim.3's against libdaxo_crashsim.a), with the build's
# sanitizers if it has any (a sanitized libdaxo needs its runtime first).
#
# usage: test_man.sh SRCDIR BUILDDIR ALIASDIR [SANITIZE]
set -u

src=$1
build=$2
aliases=$3
sanitize=()
if [ -n "${4:-}" ] && [ "$4" != none ]; then
	sanitize=(-fsanitize="$4")
fi
if ! command -v man >/dev/null || ! command -v groff >/dev/null; then
	echo "test_man: SKIP: man (man-db) and groff are not installed"
	exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

# ---- stage and render ----
mkdir -p "$tmp/man/man1" "$tmp/man/man3" "$tmp/man/man8"
for f in "$src"/doc/*.[1-8] "$aliases"/*.3; do
	[ -e "$f" ] || continue
	sec=${f##*.}
	cp "$f" "$tmp/man/man$sec/"
done
n=0
for f in "$tmp"/man/man*/*; do
	rel=${f#"$tmp/man/"}
	out=$(cd "$tmp/man" && MANWIDTH=80 man --warnings -l "$rel" 2>&1 \
		>/dev/null)
	[ -z "$out" ] || fail "$rel: $out"
	n=$((n + 1))
done
echo "test_man: $n pages rendered"

# ---- a page for every function ----
for h in "$src/include/daxo.h" "$src/include/daxo_crashsim.h"; do
	for fn in $(sed -n 's/^DAXO_EXPORT[^(]*[^A-Za-z0-9_]\(daxo_[a-z0-9_]*\)(.*/\1/p;
		/^DAXO_EXPORT.*[^(;]$/{n;s/^\(daxo_[a-z0-9_]*\)(.*/\1/p}' "$h"); do
		[ -e "$tmp/man/man3/$fn.3" ] ||
			fail "$fn ($(basename "$h")) has no page: add it to its group in doc/meson.build"
	done
done

# ---- the examples ----
cc=${CC:-cc}
dir=${DAXO_TEST_DIR:-/dev/shm}
k=0
for page in "$src"/doc/*.3; do
	awk -v out="$tmp/ex-$(basename "$page")" '
		/^\.EX/ { inex = 1; buf = ""; next }
		/^\.EE/ { if (buf ~ /int main\(/) { n++; print buf > (out "-" n ".c") }
			  inex = 0; next }
		inex { buf = buf $0 "\n" }' "$page"
done
for c in "$tmp"/ex-*.c; do
	[ -e "$c" ] || continue
	# undo the roff escapes the pages use in code
	sed -i 's/\\e/\\/g; s/\\-/-/g; s/\\(aq/'"'"'/g' "$c"
	name=$(basename "$c" .c)
	if [[ $name == ex-daxo_crashsim.3-* ]]; then
		libs=("$build/sim/libdaxo_crashsim.a" -lpmem -lxxhash -luuid)
	else
		libs=(-L"$build/lib" -ldaxo)
	fi
	if ! "$cc" -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror \
		-Wno-unused-parameter "${sanitize[@]}" \
		-I"$src/include" -I"$build/include" \
		-o "$tmp/$name" "$c" "${libs[@]}" -pthread 2>"$tmp/$name.err"; then
		fail "$name does not compile:"
		sed 's/^/    /' "$tmp/$name.err"
		continue
	fi
	pool="$dir/daxo-test-man-$$-$k.pool"
	rm -f "$pool"
	if ! LD_LIBRARY_PATH="$build/lib" "$tmp/$name" "$pool" \
		>"$tmp/$name.out" 2>&1; then
		fail "$name exits non-zero:"
		sed 's/^/    /' "$tmp/$name.out"
	fi
	rm -f "$pool" "$pool.img"
	k=$((k + 1))
done
echo "test_man: $k example programs compiled and run"
[ "$k" -gt 0 ] || fail "no example program found"
echo "test_man: $fails failures"
[ "$fails" = 0 ]
