#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# unpack.sh -- copy PMDK's example programs (Debian's libpmemobj-dev ships
# them in /usr/share/doc/libpmemobj-dev/examples, some files gzipped) into
# the build directory, unchanged, ungzipping what is gzipped. Run by meson
# at configure time; their code is never part of daxo's tree.
#
# usage: unpack.sh SRC DST
set -eu

src=$1
dst=$2
rm -rf "$dst.tmp"
mkdir -p "$dst.tmp"
cp -R "$src/." "$dst.tmp/"
find "$dst.tmp" -name '*.gz' -type f | while read -r f; do
	gunzip -f "$f"
done
rm -rf "$dst"
mv "$dst.tmp" "$dst"
# the files a build needs, so that a missing one fails here, clearly
for f in map/mapcli.c map/data_store.c tree_map/btree_map.c \
	hashmap/hashmap_tx.c list_map/skiplist_map.c; do
	if [ ! -f "$dst/$f" ]; then
		echo "unpack.sh: $src has no $f" >&2
		exit 1
	fi
done
