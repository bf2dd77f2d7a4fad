#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# test_badblocks.sh -- media errors under a pool file (lib/badblocks.h):
# daxo_open refuses the pool with -EIO naming the range, `daxo check`
# reports the range and the objects and keys it held, `daxo repair` gives
# the range fresh blocks and reports what was lost, and the pool opens and
# checks clean afterwards.
#
# The pool lives on ext4 on a loop device (mounted in a private mount
# namespace, so root is needed; skipped otherwise, saying why), so that
# FIEMAP maps the file to real device sectors. Only the device's badblocks
# list is fake: the kernel fills /sys/block/pmemN/badblocks from the
# platform's address range scrub, which neither a loop device nor QEMU's
# emulated NVDIMM has, so the list is written into a directory that
# DAXO_SYSFS_ROOT puts in place of /sys (the library's test seam). What
# the kernel does when the pmem driver rewrites a bad sector -- drop it
# from the list -- the test does by hand after the repair, for the
# sectors that the file no longer uses.
#
# usage: test_badblocks.sh PATH/TO/daxo
set -u

daxo=$1
base=${DAXO_TEST_DIR:-/dev/shm}

if [ "$(id -u)" != 0 ]; then
	echo "test_badblocks: SKIP: not root (it mounts ext4 on a loop device)"
	exit 77
fi
for t in unshare mkfs.ext4 filefrag python3; do
	if ! command -v $t >/dev/null; then
		echo "test_badblocks: SKIP: $t is missing"
		exit 77
	fi
done

if [ "${2:-}" != --inside ]; then
	exec unshare -m --propagation private bash "$0" "$daxo" --inside
fi

dir=$(mktemp -d "$base/daxo-test_badblocks.XXXXXX")
trap 'umount "$dir/m" 2>/dev/null; rm -rf "$dir"' EXIT
. "${DAXO_TESTLIB:-$(dirname "$0")/testlib.sh}"

truncate -s 128M "$dir/img"
mkfs.ext4 -q -F -b 4096 "$dir/img" || exit 1
mkdir "$dir/m"
if ! mount -o loop "$dir/img" "$dir/m"; then
	echo "test_badblocks: SKIP: cannot mount a loop device"
	exit 77
fi
pool=$dir/m/p.pool
export DAXO_SYSFS_ROOT=$dir/sys

# sector FILE OFFSET -- the device sector under byte OFFSET of FILE
sector() {
	sync
	filefrag -b512 -v "$1" | awk -v s=$(($2 / 512)) '
		$1 ~ /^[0-9]+:$/ {
			split($2 $3, l, /[.:]+/); split($4 $5, p, /[.:]+/)
			if (s >= l[1] && s <= l[2]) { print p[1] + s - l[1]; exit }
		}'
}

# bad SECTOR... -- the device's badblocks list: 8 sectors (4 KiB) at each
bad() {
	local d
	d=$DAXO_SYSFS_ROOT/dev/block/$(stat -c '%Hd:%Ld' "$pool")
	mkdir -p "$d"
	: >"$d/badblocks"
	for s in "$@"; do
		echo "$s 8" >>"$d/badblocks"
	done
}

expect 0 "$daxo" create "$pool" --size 16M -q || exit 1
for i in $(seq 20); do
	"$daxo" put "$pool" "k$i" "value $i" || fail "put k$i"
done
python3 -c 'import sys; sys.stdout.write("Z" * 300000)' >"$dir/big"
"$daxo" put "$pool" big - <"$dir/big" || fail "put big"

# no list: nothing changes
bad
expect 0 "$daxo" get "$pool" k1

# a media error inside the value of "big"
zoff=$(python3 -c "import sys; d = open(sys.argv[1], 'rb').read()
print((d.find(b'Z' * 8192) + 4096) // 4096 * 4096)" "$pool")
s=$(sector "$pool" "$zoff")
[ -n "$s" ] || { fail "no sector under offset $zoff"; exit 1; }
bad "$s"
expect 1 "$daxo" get "$pool" k1
grep -q "offset $zoff: 4096 bytes .* lie on media errors" "$dir/err" ||
	fail "open does not name the range: $(cat "$dir/err")"
expect 3 "$daxo" info "$pool" # unreadable (daxo(1))
expect 1 "$daxo" check "$pool"
grep -q "media error: 4096 bytes (offsets $zoff to" "$dir/out" ||
	fail "check does not report the range"
grep -q 'the value of key "big" .* lies on a media error' "$dir/out" ||
	fail "check does not name the key"
grep -q "meets the media error at offset $zoff" "$dir/out" ||
	fail "check does not name the object"
expect 1 "$daxo" repair --dry-run "$pool"
expect 0 "$daxo" repair --no-backup "$pool"
grep -q "media error cleared: offsets $zoff to" "$dir/out" ||
	fail "repair does not say it cleared the range"
# the file left the bad sector (ext4 gave it fresh blocks); the kernel
# would also have dropped the sector from the list once rewritten
s2=$(sector "$pool" "$zoff")
[ "$s2" != "$s" ] || fail "the range still lies on sector $s"
bad
expect 0 "$daxo" check "$pool"
expect 0 "$daxo" get "$pool" k20 && [ "$(cat "$dir/out")" = "value 20" ] ||
	fail "k20 after the repair"
expect 0 "$daxo" get "$pool" big
python3 -c "import sys; v = open(sys.argv[1], 'rb').read()
assert len(v) == 300000 and v.count(b'\0') == 4096, (len(v), v.count(b'\0'))
assert v.replace(b'\0', b'') == b'Z' * (300000 - 4096)" "$dir/out" ||
	fail "big after the repair: not its value with the lost 4 KiB zeroed"

# a media error on the primary header: the copy restores it
s=$(sector "$pool" 0)
bad "$s"
expect 1 "$daxo" get "$pool" k1
grep -q "offset 0: 4096 bytes" "$dir/err" || fail "open: header range"
expect 0 "$daxo" repair --no-backup "$pool"
grep -q "primary header restored from the copy" "$dir/out" ||
	fail "repair did not restore the header"
bad
expect 0 "$daxo" check "$pool"
expect 0 "$daxo" get "$pool" k1

echo "test_badblocks: $n commands, $fails failures"
[ "$fails" = 0 ]
