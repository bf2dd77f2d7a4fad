#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# test_files.sh -- what happens to a pool file outside the library: a
# sparse copy on a full file system (refused with ENOSPC at open, never a
# SIGBUS at the first store; opened once space is there), a file that grew
# (opens; check reports the tail, repair trims it), the permissions of
# `daxo create`, and a create or a repair's backup over the file size limit
# (EFBIG, no file).
#
# The full-file-system case mounts a 24 MiB tmpfs in a private mount
# namespace (unshare -m), so it needs root; without it, it is skipped with
# the reason.
#
# usage: test_files.sh PATH/TO/daxo
set -u

daxo=$1
base=${DAXO_TEST_DIR:-/dev/shm}
dir=$(mktemp -d "$base/daxo-test_files.XXXXXX")
trap 'rm -rf "$dir"' EXIT
. "${DAXO_TESTLIB:-$(dirname "$0")/testlib.sh}"

# ---- permissions: a pool is its owner's unless --mode says otherwise ----
umask 022
expect 0 "$daxo" create "$dir/perm.pool" --size 8M -q
[ "$(stat -c %a "$dir/perm.pool")" = 600 ] ||
	fail "daxo create made a $(stat -c %a "$dir/perm.pool") file, not 0600"
expect 0 "$daxo" create "$dir/perm2.pool" --size 8M --mode 644 -q
[ "$(stat -c %a "$dir/perm2.pool")" = 644 ] || fail "--mode 644 not applied"

# ---- a file size limit (ulimit -f) below the pool's size ----
# growing a file past RLIMIT_FSIZE raises SIGXFSZ, which kills (exit 153):
# daxo_create says EFBIG first, and leaves no file
expect 1 bash -c 'ulimit -f 4096 && exec "$0" create "$1" --size 8M -q' \
	"$daxo" "$dir/fsize.pool"
grep -q "RLIMIT_FSIZE" "$dir/err" ||
	fail "create over ulimit -f: the message does not name the limit"
[ ! -e "$dir/fsize.pool" ] || fail "create over ulimit -f left a file"
expect 0 bash -c 'ulimit -f 8192 && exec "$0" create "$1" --size 8M -q' \
	"$daxo" "$dir/fsize.pool"
# repair's backup over the limit: EFBIG, no partial backup left, no repair
expect 0 "$daxo" put "$dir/fsize.pool" key value
dd if=/dev/zero of="$dir/fsize.pool" bs=4096 seek=1 count=1 conv=notrunc \
	status=none # the header copy: repairable
cp "$dir/fsize.pool" "$dir/fsize.before"
expect 1 bash -c 'ulimit -f 4096 && exec "$0" repair "$1"' \
	"$daxo" "$dir/fsize.pool"
grep -q "File too large" "$dir/err" ||
	fail "repair with a backup over ulimit -f: no EFBIG message"
[ ! -e "$dir/fsize.pool.bak" ] || fail "repair over ulimit -f left a partial backup"
same "$dir/fsize.pool" "$dir/fsize.before" "repair whose backup failed"
expect 0 "$daxo" repair "$dir/fsize.pool"
expect 0 "$daxo" get "$dir/fsize.pool" key

# ---- a file that grew: the header knows the pool's size ----
pool=$dir/grown.pool
expect 0 "$daxo" create "$pool" --size 8M -q
expect 0 "$daxo" put "$pool" key value
truncate -s $((8388608 + 2097152)) "$pool"
expect 0 "$daxo" get "$pool" key && [ "$(cat "$dir/out")" = value ] ||
	fail "a pool file grown by 2 MiB does not open"
expect 0 "$daxo" put "$pool" key2 value2
expect 0 "$daxo" info --json "$pool"
grep -q '"size": *8388608,' "$dir/out" || fail "info of a grown file: size is not the pool's"
expect 1 "$daxo" check "$pool"
grep -q "2097152 bytes longer than the pool" "$dir/out" ||
	fail "check does not report the tail of a grown file"
expect 1 "$daxo" repair --dry-run "$pool"
[ "$(stat -c %s "$pool")" = 10485760 ] || fail "repair --dry-run changed the file"
expect 0 "$daxo" repair --no-backup "$pool"
grep -q "truncated to the pool's 8388608 bytes" "$dir/out" ||
	fail "repair does not say it trimmed the file"
[ "$(stat -c %s "$pool")" = 8388608 ] || fail "repair did not trim the file"
expect 0 "$daxo" check "$pool"
expect 0 "$daxo" get "$pool" key2
# shorter than the header says: refused, never guessed
truncate -s $((8388608 - 2097152)) "$pool"
expect 1 "$daxo" get "$pool" key
grep -q "truncated" "$dir/err" || fail "a truncated pool: message does not say so"

# ---- a sparse copy on a full file system ----
# sparse_case runs inside its own mount namespace (below): the tmpfs it
# mounts disappears with it, whatever happens
sparse_case() {
	local mnt=$dir/mnt src=$dir/src.pool
	mkdir "$mnt" && mount -t tmpfs -o size=24m tmpfs "$mnt" || {
		echo "SKIP: cannot mount a tmpfs"
		return 77
	}
	expect 0 "$daxo" create "$src" --size 16M -q
	expect 0 "$daxo" put "$src" old "old value"
	if ! cp --sparse=always "$src" "$mnt/p.pool" 2>/dev/null; then
		echo "SKIP: this cp has no --sparse=always"
		return 77
	fi
	if [ "$(du -k "$mnt/p.pool" | cut -f1)" -ge 16384 ]; then
		echo "SKIP: cp --sparse=always made no holes"
		return 77
	fi
	# fill the file system (dd stops with ENOSPC)
	dd if=/dev/zero of="$mnt/fill" bs=1M status=none 2>/dev/null
	# a store into a hole would be SIGBUS (exit 135): ENOSPC at open
	expect 1 "$daxo" put "$mnt/p.pool" new "new value"
	grep -q "sparse" "$dir/err" && grep -q "No space left" "$dir/err" ||
		fail "put on a sparse pool on a full file system: no ENOSPC message"
	# reading needs no blocks
	expect 0 "$daxo" get "$mnt/p.pool" old &&
		[ "$(cat "$dir/out")" = "old value" ] || fail "get from the sparse pool"
	expect 0 "$daxo" check "$mnt/p.pool"
	expect 0 "$daxo" info "$mnt/p.pool"
	# with space, the open allocates the holes and the put works
	rm "$mnt/fill"
	expect 0 "$daxo" put "$mnt/p.pool" new "new value"
	[ "$(du -k "$mnt/p.pool" | cut -f1)" -ge 16384 ] ||
		fail "the open did not allocate the holes"
	dd if=/dev/zero of="$mnt/fill" bs=1M status=none 2>/dev/null
	expect 0 "$daxo" put "$mnt/p.pool" new2 "stored on a full file system"
	expect 0 "$daxo" get "$mnt/p.pool" new2
	expect 0 "$daxo" check "$mnt/p.pool"
	echo "test_files: sparse case: $n commands, $fails failures"
	[ "$fails" = 0 ]
}

if [ "$(id -u)" != 0 ]; then
	echo "test_files: not root: the sparse-file case (it mounts a full tmpfs) is skipped"
elif ! command -v unshare >/dev/null; then
	echo "test_files: no unshare(1): the sparse-file case is skipped"
else
	export -f sparse_case expect fail
	export daxo dir
	unshare -m --propagation private bash -c 'n=0; fails=0; sparse_case'
	rc=$?
	if [ $rc = 77 ]; then
		echo "test_files: the sparse-file case was skipped (above: why)"
	elif [ $rc != 0 ]; then
		fail "the sparse-file case (above)"
	fi
fi

echo "test_files: $n commands, $fails failures"
[ "$fails" = 0 ]
