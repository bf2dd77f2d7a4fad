#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# test_kv_tools.sh -- `daxo put/get/del/ls/dump/load` as a user runs them:
# exit codes of daxo(1), --help, values from arguments and stdin, binary
# keys and values (--hex, base64 in JSON), a dump/load round trip into a
# fresh pool compared byte for byte, and the examples/kvstore program.
#
# usage: test_kv_tools.sh PATH/TO/daxo PATH/TO/kvstore
set -u

daxo=$1
kvstore=$2
dir=$(mktemp -d "${DAXO_TEST_DIR:-/dev/shm}"/daxo-test_kv_tools.XXXXXX)
trap 'rm -rf "$dir"' EXIT
. "${DAXO_TESTLIB:-$(dirname "$0")/testlib.sh}"

pool=$dir/a.pool
expect 0 "$daxo" create "$pool" --size 32M || exit 1

for c in put get del ls dump load; do
	expect 0 "$daxo" "$c" --help
	grep -q "usage: daxo $c" "$dir/out" || fail "$c --help: no usage line"
	expect 2 "$daxo" "$c"
done
expect 2 "$daxo" put "$pool"
expect 2 "$daxo" dump "$pool"            # --json is required
expect 2 "$daxo" get "$pool" k extra
expect 2 "$daxo" put --hex "$pool" 0g v  # not hex

# put/get from arguments and from stdin
expect 0 "$daxo" put "$pool" greeting hello
expect 0 "$daxo" get "$pool" greeting
printf hello >"$dir/want"
same "$dir/out" "$dir/want" "get greeting"
head -c 300000 /dev/urandom >"$dir/bin"
IN=$dir/bin expect 0 "$daxo" put "$pool" blob -
IN= expect 0 "$daxo" get "$pool" blob
same "$dir/out" "$dir/bin" "get blob (300000 random bytes)"
IN=$dir/bin expect 0 "$daxo" put "$pool" blob2
expect 0 "$daxo" get "$pool" blob2
same "$dir/out" "$dir/bin" "get blob2"
: >"$dir/empty"
IN=$dir/empty expect 0 "$daxo" put "$pool" empty -
expect 0 "$daxo" get "$pool" empty
same "$dir/out" "$dir/empty" "get empty"

# replace, missing keys, delete
expect 0 "$daxo" put "$pool" greeting "hello again"
expect 0 "$daxo" get "$pool" greeting
printf "hello again" >"$dir/want"
same "$dir/out" "$dir/want" "replaced value"
expect 1 "$daxo" get "$pool" nosuch
grep -q "no such key" "$dir/err" || fail "get nosuch: no message"
expect 1 "$daxo" del "$pool" nosuch
expect 0 "$daxo" del "$pool" blob2
expect 1 "$daxo" get "$pool" blob2

# binary keys with --hex
expect 0 "$daxo" put --hex "$pool" 00ff0a5c 6869
expect 0 "$daxo" get --hex "$pool" 00ff0a5c
printf hi >"$dir/want"
same "$dir/out" "$dir/want" "get binary key"
expect 1 "$daxo" get "$pool" nonexistent

# ls: sorted, escaped, prefix, json
expect 0 "$daxo" put "$pool" user/1 alice
expect 0 "$daxo" put "$pool" user/2 bob
expect 0 "$daxo" ls "$pool"
printf '%s\n' '\x00\xff\x0a\\	2' 'blob	300000' 'empty	0' \
	'greeting	11' 'user/1	5' 'user/2	3' >"$dir/want"
same "$dir/out" "$dir/want" "ls"
expect 0 "$daxo" ls "$pool" --prefix user/
printf 'user/1\t5\nuser/2\t3\n' >"$dir/want"
same "$dir/out" "$dir/want" "ls --prefix"
expect 0 "$daxo" ls "$pool" --json --prefix user
python3 - "$dir/out" <<'PY' || fail "ls --json"
import json, sys
d = json.load(open(sys.argv[1]))
assert d == [{"key": "user/1", "size": 5}, {"key": "user/2", "size": 3}], d
PY

# dump -> load into a fresh pool -> dump again: identical, binary included
expect 0 "$daxo" dump "$pool" --json
cp "$dir/out" "$dir/dump1.json"
python3 - "$dir/dump1.json" <<'PY' || fail "dump --json"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["format"] == "daxo-kv-dump" and d["version"] == 1, d
assert d["count"] == 6 == len(d["entries"]), d["count"]
e = {x.get("key", x.get("key_base64")): x for x in d["entries"]}
assert e["greeting"]["value"] == "hello again"
assert "value_base64" in e["blob"]          # random bytes: not UTF-8
assert e["AP8KXA=="]["value"] == "hi"       # 00 ff 0a 5c: key not UTF-8
PY
pool2=$dir/b.pool
expect 0 "$daxo" create "$pool2" --size 32M
expect 0 "$daxo" put "$pool2" stale value
IN=$dir/dump1.json expect 0 "$daxo" load "$pool2" --clear
expect 0 "$daxo" dump "$pool2" --json
same "$dir/out" "$dir/dump1.json" "dump after load"
expect 0 "$daxo" get "$pool2" blob
same "$dir/out" "$dir/bin" "blob after load"
printf '{"format": "something else"}' >"$dir/bad.json"
IN=$dir/bad.json expect 1 "$daxo" load "$pool2"
printf 'not json' >"$dir/bad.json"
IN=$dir/bad.json expect 1 "$daxo" load "$pool2"
printf '{"format":"daxo-kv-dump","version":1,"entries":[{"key":"a"}]}' \
	>"$dir/bad.json"
IN=$dir/bad.json expect 1 "$daxo" load "$pool2"
expect 1 "$daxo" get "$pool2" a              # nothing loaded
# a dump whose "count" is not its entries (a cut or edited dump that is
# still JSON) is refused whole, before anything is stored
for cnt in 2 0 -1 99999999999999999999999 '"1"'; do
	printf '{"format":"daxo-kv-dump","version":1,"count":%s,"entries":[{"key":"a","value":"b"}]}' \
		"$cnt" >"$dir/bad.json"
	IN=$dir/bad.json expect 1 "$daxo" load "$pool2"
	grep -q '"count" is not its 1 entries' "$dir/err" ||
		fail "load with count $cnt: $(cat "$dir/err")"
	expect 1 "$daxo" get "$pool2" a          # nothing loaded
done
# a key over DAXO_KEY_MAX (64 KiB) is named as such
python3 -c 'print("{\"format\":\"daxo-kv-dump\",\"version\":1,\"count\":1,\"entries\":[{\"key\":\"%s\",\"value\":\"b\"}]}" % ("k" * 65537))' \
	>"$dir/bad.json"
IN=$dir/bad.json expect 1 "$daxo" load "$pool2"
grep -q "a key of 65537 bytes" "$dir/err" ||
	fail "load of a 65537-byte key: $(cat "$dir/err")"

: >"$dir/empty.json"
IN=$dir/empty.json expect 1 "$daxo" load "$pool2"
grep -q "standard input is empty" "$dir/err" || fail "load of empty input: $(cat "$dir/err")"
printf '%s x' "$(cat "$dir/dump1.json")" >"$dir/bad.json"
IN=$dir/bad.json expect 1 "$daxo" load "$pool2"
grep -q "more input after the document" "$dir/err" || fail "load: trailing data not reported"
# a pipe: the input is kept for the second pass, and the pool is opened
# after the first, so a dump of the same pool can be piped in
"$daxo" dump "$pool2" --json | "$daxo" load "$pool2" ||
	fail "daxo dump P --json | daxo load P"
expect 0 "$daxo" dump "$pool2" --json
same "$dir/out" "$dir/dump1.json" "dump after a piped load"
# put reads its value before it opens the pool: a get of the same pool
# can feed it
"$daxo" get "$pool2" greeting | "$daxo" put "$pool2" greeting2 - ||
	fail "daxo get P a | daxo put P b -"
expect 0 "$daxo" get "$pool2" greeting2
[ "$(cat "$dir/out")" = "hello again" ] || fail "greeting2 is not greeting's value"

# standard input is read only as far as the pool can use it: a put reads
# at most the pool's size, a load at most 8 times the pool (a 16 MiB pool;
# 256 MiB offered through a pipe)
small=$dir/small.pool
expect 0 "$daxo" create "$small" --size 16M
# feed CMD...: 256 MiB of spaces into CMD's standard input; prints the
# bytes it took (its stderr in $dir/feed.err) and its exit code
feed() {
	python3 -c '
import subprocess, sys
p = subprocess.Popen(sys.argv[2:], stdin=subprocess.PIPE,
                     stdout=subprocess.DEVNULL, stderr=open(sys.argv[1], "w"))
n, chunk = 0, b" " * 65536
try:
    for _ in range(4096):
        p.stdin.write(chunk)
        n += len(chunk)
    p.stdin.close()
except BrokenPipeError:
    pass
print(n, p.wait())' "$dir/feed.err" "$@"
}
set -- $(feed "$daxo" put "$small" big -)
[ "${2:-}" = 1 ] || fail "put of 256 MiB into a 16 MiB pool exited ${2:-?}"
[ "${1:-0}" -lt $((32 << 20)) ] || fail "put read ${1:-?} bytes of standard input"
grep -q "larger than $small (16777216 bytes)" "$dir/feed.err" ||
	fail "put of too much: $(cat "$dir/feed.err")"
set -- $(feed "$daxo" load "$small")
[ "${2:-}" = 1 ] || fail "load of 256 MiB into a 16 MiB pool exited ${2:-?}"
[ "${1:-0}" -lt $((200 << 20)) ] || fail "load read ${1:-?} bytes of standard input"
grep -q "longer than any dump of this pool" "$dir/feed.err" ||
	fail "load of too much: $(cat "$dir/feed.err")"
set --

# not a pool; messages name the file once
echo junk >"$dir/junk"
expect 1 "$daxo" get "$dir/junk" k
[ "$(grep -o "$dir/junk" "$dir/err" | wc -l)" = 1 ] ||
	fail "the path is not named exactly once: $(cat "$dir/err")"
expect 1 "$daxo" put "$dir/nonexistent.pool" k v
[ "$(grep -o "$dir/nonexistent.pool" "$dir/err" | wc -l)" = 1 ] ||
	fail "the path is not named exactly once: $(cat "$dir/err")"

# a pool with value checksums: values round-trip; one damaged byte is an
# error of get, dump and check, never other bytes
cp=$dir/csum.pool
expect 0 "$daxo" create "$cp" --size 16M --checksums
grep -q "value checksums" "$dir/out" || fail "create --checksums: not said"
expect 0 "$daxo" info "$cp"
grep -q kv_checksums "$dir/out" || fail "info: no kv_checksums feature"
expect 0 "$daxo" put "$cp" other "an undamaged value"
expect 0 "$daxo" put "$cp" marked "CSUM-TEST-VALUE-0123456789"
expect 0 "$daxo" get "$cp" marked
[ "$(cat "$dir/out")" = CSUM-TEST-VALUE-0123456789 ] || fail "get marked"
expect 0 "$daxo" check "$cp"
# (its last copy: the entry in the heap, after the logs' records)
at=$(grep -obUa "CSUM-TEST-VALUE" "$cp" | tail -1 | cut -d: -f1)
if [ -n "$at" ]; then
	printf X | dd of="$cp" bs=1 seek=$((at + 20)) conv=notrunc 2>/dev/null
	expect 1 "$daxo" get "$cp" marked
	grep -q "checksum" "$dir/err" || fail "get of a damaged value: $(cat "$dir/err")"
	grep -q "CSUM-TEST" "$dir/out" && fail "get printed the damaged value"
	expect 0 "$daxo" get "$cp" other
	expect 1 "$daxo" dump --json "$cp"
	expect 2 "$daxo" check "$cp"
	grep -q "does not match its checksum" "$dir/out" "$dir/err" ||
		fail "check: no checksum finding"
else
	fail "the value is not in the pool file"
fi
# defrag: a load of 400 values of 3.4 KiB, three in four deleted, then
# compacted: entries moved, runs given back, every key kept
dp=$dir/defrag.pool
expect 0 "$daxo" create "$dp" --size 32M || exit 1
python3 - "$dir/many.json" <<'PY'
import base64, json, sys
e = [{"key": "k%04d" % i,
      "value_base64": base64.b64encode(bytes([i % 251]) * 3450).decode()}
     for i in range(400)]
json.dump({"format": "daxo-kv-dump", "version": 1, "entries": e},
          open(sys.argv[1], "w"))
PY
IN=$dir/many.json expect 0 "$daxo" load "$dp" || fail "load for defrag: $(cat "$dir/err")"
for i in $(seq 0 399); do
	[ $((i % 4)) = 0 ] || echo "k$(printf %04d "$i")"
done >"$dir/dels"
while read -r k; do "$daxo" del "$dp" "$k" || fail "del $k"; done <"$dir/dels"
expect 0 "$daxo" defrag --help
grep -q "usage: daxo defrag" "$dir/out" || fail "defrag --help: no usage line"
expect 2 "$daxo" defrag
expect 0 "$daxo" defrag "$dp" --json
python3 - "$dir/out" <<'PY' || fail "defrag --json: $(cat "$dir/out")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["entries"] == 100 and d["relocated"] > 0 and d["runs_freed"] > 0, d
assert d["after"]["runs"] < d["before"]["runs"], d
assert d["after"]["largest_alloc"] >= d["before"]["largest_alloc"], d
PY
expect 0 "$daxo" defrag "$dp"
grep -q "moved" "$dir/out" || fail "defrag: no report"
expect 0 "$daxo" check "$dp"
expect 0 "$daxo" get "$dp" k0396
python3 -c 'import sys; sys.stdout.buffer.write(bytes([396 % 251]) * 3450)' >"$dir/want"
same "$dir/out" "$dir/want" "a key after defrag"
expect 1 "$daxo" get "$dp" k0397
expect 1 "$daxo" defrag "$dir/nonexistent.pool"

# the example program: data survives between runs
kp=$dir/kvstore.pool
expect 0 "$kvstore" "$kp" put colour blue
expect 0 "$kvstore" "$kp" put shape round
expect 0 "$kvstore" "$kp" get colour
[ "$(cat "$dir/out")" = blue ] || fail "kvstore get"
expect 0 "$kvstore" "$kp" del shape
expect 1 "$kvstore" "$kp" get shape
expect 0 "$kvstore" "$kp" list
[ "$(cat "$dir/out")" = colour=blue ] || fail "kvstore list"
expect 2 "$kvstore" "$kp" frobnicate

echo "$n checks, $fails failed"
[ "$fails" = 0 ]
