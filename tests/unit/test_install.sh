#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# test_install.sh -- `meson install` into a staging directory installs
# libdaxo, daxo.h, daxo.pc, the daxo tool and the man pages, and an outside
# program (examples/counter.c, built by examples/Makefile) compiles and links
# against that staged install with `pkg-config --cflags --libs daxo`, then
# runs and keeps its count.
#
# usage: test_install.sh BUILD_DIR SOURCE_DIR
set -u

build=$1
src=$2
stage=$(mktemp -d /tmp/daxo-test_install.XXXXXX)
pool=$(mktemp -u "${DAXO_TEST_DIR:-/dev/shm}"/daxo-test_install.XXXXXX)
trap 'rm -rf "$stage" "$pool"' EXIT

for p in meson pkg-config make cc; do
	if ! command -v $p >/dev/null; then
		echo "test_install: SKIP: $p is not installed"
		exit 77
	fi
done

if ! meson install -C "$build" --destdir "$stage/root" --no-rebuild \
	--quiet >"$stage/install.log" 2>&1; then
	echo "FAIL: meson install"
	cat "$stage/install.log"
	exit 1
fi

pc=$(find "$stage/root" -name daxo.pc | head -1)
if [ -z "$pc" ]; then
	echo "FAIL: no daxo.pc installed"
	find "$stage/root"
	exit 1
fi
fails=0
for f in include/daxo.h bin/daxo; do
	[ -n "$(find "$stage/root" -path "*/$f")" ] ||
		{ echo "FAIL: $f not installed"; fails=$((fails + 1)); }
done
for f in 'libdaxo.so.*' libdaxo.a 'daxo.3*' 'daxo.1*'; do
	[ -n "$(find "$stage/root" -name "$f")" ] ||
		{ echo "FAIL: $f not installed"; fails=$((fails + 1)); }
done

export PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_SYSROOT_DIR=$stage/root
echo "pkg-config --cflags --libs daxo: $(pkg-config --cflags --libs daxo)"
# the staged files, not the build tree or a system-wide install, are used
pkg-config --cflags daxo | grep -q -- "-I$stage/root" ||
	{ echo "FAIL: cflags do not point into the staged install"; fails=$((fails + 1)); }

mkdir -p "$stage/ex"
if ! make -s -C "$stage/ex" -f "$src/examples/Makefile" VPATH="$src/examples" \
	CFLAGS="-O2 -Wall -Wextra -Werror" counter btree; then
	echo "FAIL: examples/Makefile could not build counter and btree against the install"
	exit 1
fi

libdir=$(dirname "$(find "$stage/root" -name 'libdaxo.so' | head -1)")
for want in 1 2; do
	got=$(LD_LIBRARY_PATH=$libdir "$stage/ex/counter" "$pool")
	[ "$got" = "counter: $want" ] ||
		{ echo "FAIL: run $want printed '$got'"; fails=$((fails + 1)); }
done
# it really used the staged library
LD_LIBRARY_PATH=$libdir ldd "$stage/ex/counter" | grep -q "$libdir/libdaxo.so" ||
	{ echo "FAIL: counter is not linked to the staged libdaxo"; fails=$((fails + 1)); }

# the libpmemobj layer: library, headers apart from the system's, pkg-config
pcx=$(find "$stage/root" -name daxo-pmemobj.pc | head -1)
if [ -n "$pcx" ]; then
	for f in include/daxo-compat/libpmemobj.h \
		include/daxo-compat/libpmemobj/tx.h; do
		[ -n "$(find "$stage/root" -path "*/$f")" ] ||
			{ echo "FAIL: $f not installed"; fails=$((fails + 1)); }
	done
	echo "pkg-config --cflags --libs daxo-pmemobj:" \
		"$(pkg-config --cflags --libs daxo-pmemobj)"
	# its <libpmemobj.h>, not the system's, and a program links
	if ! cc -O2 -Wall -Werror -o "$stage/ex/pmemobj_c" \
		"$src/tests/compat/header/pmemobj_c.c" \
		$(pkg-config --cflags --libs daxo-pmemobj); then
		echo "FAIL: a libpmemobj program does not build against daxo-pmemobj"
		fails=$((fails + 1))
	elif ! LD_LIBRARY_PATH=$libdir "$stage/ex/pmemobj_c" |
		grep -q 'C build OK'; then
		echo "FAIL: the libpmemobj program does not run"
		fails=$((fails + 1))
	fi
	printf '#include <libpmemobj.h>\n#ifndef DAXO_PMEMOBJ_COMPAT\n#error system header\n#endif\n' |
		cc -fsyntax-only -x c - $(pkg-config --cflags daxo-pmemobj) ||
		{ echo "FAIL: the cflags pick the system's <libpmemobj.h>"; fails=$((fails + 1)); }
else
	echo "(no daxo-pmemobj.pc: built with -Dcompat=false)"
fi

echo "test_install: $fails failures"
[ "$fails" = 0 ]
