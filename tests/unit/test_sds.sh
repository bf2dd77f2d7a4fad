#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# test_sds.sh -- the shutdown state (PMDK's SDS): a read-write open
# records the DIMMs' unsafe-shutdown count in the pool's meta data and a
# clean close clears its "open" mark; when the count rose while the pool
# was open (a process was killed with the pool open, then the DIMMs lost
# power unsafely), `daxo check` reports it and `daxo repair` records the new
# count. A rise after a clean close, or on other DIMMs, is no finding.
#
# The counts come from sysfs (nmemN/nfit/dirty_shutdown of the DIMMs in the
# region's mappingK files), which neither /dev/shm nor QEMU's emulated
# NVDIMM has; the test builds that part of sysfs, laid out as the kernel
# does with its symlinks, under DAXO_SYSFS_ROOT (the library's test seam),
# for the tmpfs the pool lives on.
#
# usage: test_sds.sh PATH/TO/daxo   (CRASH_IN_TX: the crash_in_tx helper)
set -u

daxo=$1
if [ -z "${CRASH_IN_TX:-}" ]; then
	echo "test_sds: SKIP: CRASH_IN_TX is not set"
	exit 77
fi
if [ "$(od -An -tu8 -N8 /dev/zero 2>/dev/null | tr -d ' ')" != 0 ]; then
	echo "test_sds: SKIP: this od cannot print 8-byte words (od -tu8)"
	exit 77
fi
base=${DAXO_TEST_DIR:-/dev/shm}
dir=$(mktemp -d "$base/daxo-test_sds.XXXXXX")
trap 'rm -rf "$dir"' EXIT
. "${DAXO_TESTLIB:-$(dirname "$0")/testlib.sh}"

# sysfs: /sys/dev/block/MAJ:MIN -> .../region0/namespace0.0/block/pmem0,
# pmem0/device -> namespace0.0, region0/mapping0 names nmem0
sys=$dir/sys
bus=$sys/devices/platform/ACPI0012:00/ndbus0
mkdir -p "$bus/region0/namespace0.0/block/pmem0" "$bus/nmem0/nfit" \
	"$sys/dev/block"
echo "nmem0,0,17179869184,0" >"$bus/region0/mapping0"
echo 5 >"$bus/nmem0/nfit/dirty_shutdown"
echo "8089-a2-1830-00000001" >"$bus/nmem0/nfit/id"
ln -s ../../../namespace0.0 "$bus/region0/namespace0.0/block/pmem0/device"
mkdir "$dir/pools"
# MAJ:MIN of st_dev, as the kernel's dev_t encodes them (glibc's major()
# and minor()): busybox's stat has no %Hd/%Ld
d=$(stat -c %d "$dir/pools")
maj=$(((d >> 8) & 0xfff | ((d >> 32) & ~0xfff)))
min=$((d & 0xff | ((d >> 12) & ~0xff)))
ln -s ../../devices/platform/ACPI0012:00/ndbus0/region0/namespace0.0/block/pmem0 \
	"$sys/dev/block/$maj:$min"
export DAXO_SYSFS_ROOT=$sys
count() { echo "$1" >"$bus/nmem0/nfit/dirty_shutdown"; }
pool=$dir/pools/p.pool

# meta WORD -- the shutdown state's words at offset 8192 + 32 (pool.h)
meta() {
	od -An -tu8 -j $((8192 + 32 + 8 * $1)) -N8 "$pool" | tr -d ' '
}

expect 0 "$daxo" create "$pool" --size 8M --layout rec -q || exit 1
[ "$(meta 0)" = 5 ] || fail "create did not record the count 5: $(meta 0)"
[ "$(meta 2)" = 0 ] || fail "a clean close left the open mark: $(meta 2)"

# a rise after a clean close: nothing lost
count 6
expect 0 "$daxo" check "$pool"

# killed with the pool open, then the count rises
("$CRASH_IN_TX" "$pool" rec) 2>/dev/null
[ "$(meta 0)" = 6 ] && [ "$(meta 2)" = 1 ] ||
	fail "the open did not record count 6, open: $(meta 0) $(meta 2)"
count 7
# open: daxo_info says so (a read-only open sees it, records nothing)
expect 0 "$daxo" info --json "$pool"
grep -q '"unsafe_shutdown": *true' "$dir/out" ||
	fail "info: unsafe_shutdown is not true after the rise"
expect 0 "$daxo" info "$pool"
grep -q "^unsafe shutdown:  yes" "$dir/out" || fail "info text: no warning"
[ "$(meta 0)" = 6 ] || fail "a read-only open recorded the count"
expect 1 "$daxo" check "$pool"
grep -q "unsafe shutdown: .* rose from 6 to 7 while the pool was open" \
	"$dir/out" || fail "check does not report the unsafe shutdown"
expect 0 "$daxo" repair --no-backup "$pool"
grep -q "the new count recorded" "$dir/out" || fail "repair: no new count"
[ "$(meta 0)" = 7 ] && [ "$(meta 2)" = 0 ] ||
	fail "repair did not record count 7: $(meta 0) $(meta 2)"
expect 0 "$daxo" check "$pool"
expect 0 "$daxo" info --json "$pool"
grep -q '"unsafe_shutdown": *false' "$dir/out" ||
	fail "info: unsafe_shutdown after repair recorded the count"

# the pool moved to other DIMMs (their ids differ): counts not comparable
("$CRASH_IN_TX" "$pool" rec) 2>/dev/null
echo "8089-a2-1830-00000002" >"$bus/nmem0/nfit/id"
count 9
expect 1 "$daxo" check "$pool" # recovery is pending, nothing more
grep -q "unsafe shutdown" "$dir/out" && fail "other DIMMs: reported"

# a platform that does not count (no dirty_shutdown): nothing recorded
rm "$bus/nmem0/nfit/dirty_shutdown"
expect 0 "$daxo" create "$dir/pools/q.pool" --size 8M -q
[ "$(od -v -An -tu8 -j $((8192 + 32)) -N32 "$dir/pools/q.pool" | tr -d ' \n')" = 0000 ] ||
	fail "a pool on DIMMs without a count has a shutdown state"

echo "test_sds: $n commands, $fails failures"
[ "$fails" = 0 ]
