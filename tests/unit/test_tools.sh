#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# test_tools.sh -- the `daxo create` and `daxo info` subcommands as a user
# runs them: exit codes of daxo(1), --help, sizes with suffixes, the
# JSON of `daxo info --json` (parsed with python3) against what create was
# asked for and against the bytes of the header, and refusals of bad input.
#
# usage: test_tools.sh PATH/TO/daxo
set -u

daxo=$1
dir=$(mktemp -d "${DAXO_TEST_DIR:-/dev/shm}"/daxo-test_tools.XXXXXX)
trap 'rm -rf "$dir"' EXIT
. "${DAXO_TESTLIB:-$(dirname "$0")/testlib.sh}"

# flatten -- the last `daxo info --json` output as KEY=VALUE lines
# (nested keys joined with dots, booleans as true/false), or fail
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
flatten() {
	"$PY" -c 'import json,sys
def walk(p, d):
    if isinstance(d, dict):
        for k, v in d.items():
            walk(p + [k], v)
    else:
        print(".".join(p) + "=" + (str(d).lower() if isinstance(d, bool) else str(d)))
walk([], json.load(open(sys.argv[1])))' "$dir/out" >"$dir/flat"
}

# json KEY -- a value from the flattened output; fails if absent
json() {
	grep -m1 "^$1=" "$dir/flat" | cut -d= -f2-
	grep -q "^$1=" "$dir/flat"
}

check_json() {
	local got
	got=$(json "$1")
	if [ "$got" != "$2" ]; then
		fail "info --json: $1 is '$got', expected '$2'"
	fi
}

pool=$dir/a.pool

# --help everywhere, exit 0, on stdout
for c in "" create info; do
	expect 0 "$daxo" $c --help && grep -q usage "$dir/out" ||
		fail "daxo $c --help prints no usage"
done
# every subcommand: --help and -h on stdout, from the one table (usage
# line, the -h line, the exit codes); an unknown option is a usage error
for c in create info check repair stat top put get del ls dump load; do
	expect 0 "$daxo" $c -h || continue
	grep -q "^usage: daxo $c" "$dir/out" || fail "daxo $c -h: no usage line"
	grep -q -- "-h, --help" "$dir/out" || fail "daxo $c -h: no -h line"
	grep -q "^Exit status: 0 " "$dir/out" || fail "daxo $c -h: no exit codes"
	expect 2 "$daxo" $c --no-such-option
	grep -q "^usage: daxo $c" "$dir/err" ||
		fail "daxo $c --no-such-option: no usage on stderr"
done
# crashsim runs the daxo-crashsim program (built beside daxo when the
# crashsim option is on): the same table-driven options
if "$daxo" crashsim --help >"$dir/out" 2>&1; then
	grep -q "^usage: daxo crashsim" "$dir/out" || fail "crashsim --help: no usage"
	grep -q "^  kv " "$dir/out" || fail "crashsim --help: no workload list"
	expect 2 "$daxo" crashsim --workload no-such-workload
	grep -q "no workload 'no-such-workload'" "$dir/err" ||
		fail "crashsim: unknown workload not named"
	expect 2 "$daxo" crashsim --ops 0
	expect 0 "$daxo" crashsim -w kv -n 3 -k 2 -m 1 -q --pool "$dir/cs.pool"
	grep -q "^kv .*: ok" "$dir/out" || fail "crashsim -w kv: no result line"
else
	echo "test_tools: daxo crashsim not available (crashsim option off): not run"
fi
expect 0 "$daxo" --version && grep -qE '^daxo [0-9]+\.[0-9]+\.[0-9]+$' "$dir/out" ||
	fail "daxo --version"

# usage errors: 2
expect 2 "$daxo"
expect 2 "$daxo" no-such-command
expect 2 "$daxo" create
expect 2 "$daxo" create "$pool"                  # no --size
expect 2 "$daxo" create "$pool" --size 12X
grep -q "'12X'.*K, M, G or T" "$dir/err" || fail "bad size: no hint of the suffixes"
expect 2 "$daxo" create "$pool" --size ''
expect 2 "$daxo" create "$pool" --size 99999999999T
expect 2 "$daxo" create "$pool" --size 8M --mode 999
expect 2 "$daxo" create "$pool" --size 8M --bogus
expect 2 "$daxo" create "$pool" "$pool.2" --size 8M
grep -q "only one POOL" "$dir/err" || fail "two pools: message does not say so"
expect 2 "$daxo" create "$pool" --size 8M --layout "$(printf 'x%.0s' {1..64})"
expect 2 "$daxo" info
grep -q "POOL is missing" "$dir/err" || fail "info without POOL: no message"
expect 2 "$daxo" info --bogus "$pool"
[ -e "$pool" ] && fail "a usage error left $pool behind"

expect 1 "$daxo" create "" --size 8M
grep -q "path is empty" "$dir/err" || fail "create '': $(cat "$dir/err")"

# the library refuses: 1, with its message naming the file
expect 1 "$daxo" create "$pool" --size 4M
grep -q "$pool" "$dir/err" || fail "size error does not name the file"
grep -q "minimum" "$dir/err" || fail "size error does not say why"
[ -e "$pool" ] && fail "a refused create left $pool behind"

# create
expect 0 "$daxo" create "$pool" --size 9M --layout my-layout --mode 600
grep -q "created $pool" "$dir/out" || fail "create printed no confirmation"
[ "$(stat -c %s "$pool")" = 10485760 ] || fail "9M not rounded up to 10 MiB"
[ "$(stat -c %a "$pool")" = 600 ] || fail "--mode 600 not applied"
expect 1 "$daxo" create "$pool" --size 9M
grep -q "exists" "$dir/err" || fail "create over a pool: no 'exists' message"
expect 0 "$daxo" create "$dir/b.pool" -s 16777216 -l x -q
[ -s "$dir/out" ] && fail "create --quiet printed something"
expect 2 "$daxo" create "$dir/c.pool" --size=0.5g
expect 0 "$daxo" create "$dir/c.pool" --size=32m
[ "$(stat -c %s "$dir/c.pool")" = 33554432 ] || fail "--size=32m"

# info --json
if expect 0 "$daxo" info --json "$pool"; then
	flatten || fail "info --json is not JSON"
	check_json path "$pool"
	check_json layout my-layout
	check_json size 10485760
	check_json format 1.5
	check_json format_major 1
	check_json format_minor 5
	check_json features.incompat 107
	check_json lane_size 40960
	check_json features.ro_compat 0
	check_json features.compat 0
	check_json lanes_offset 65536
	check_json devdax false
	check_json readonly true
	check_json recovery_pending false
	check_json recovered 0
	for k in uuid nlanes lane_size heap_offset heap_size chunk_size ctime \
		ctime_utc pmem dax map_sync base; do
		json "$k" >/dev/null 2>&1 || fail "info --json lacks $k"
	done
	# the uuid is the one in the header at offset 40
	want=$(od -An -tx1 -j40 -N16 "$pool" | tr -d ' \n' |
		sed -E 's/^(.{8})(.{4})(.{4})(.{4})(.{12})$/\1-\2-\3-\4-\5/')
	check_json uuid "$want"
	# heap offset and creation time as stored at 168 and 192
	check_json heap_offset "$(od -An -tu8 -j168 -N8 "$pool" | tr -d ' ')"
	check_json ctime "$(od -An -td8 -j192 -N8 "$pool" | tr -d ' ')"
	now=$(date +%s)
	ct=$(json ctime)
	[ "$ct" -le "$now" ] && [ "$ct" -gt $((now - 86400)) ] ||
		fail "ctime $ct is not recent"
fi

# info in text, and it leaves the file alone
sum=$(md5sum <"$pool")
expect 0 "$daxo" info "$pool"
for k in path layout uuid format features size lanes heap created pmem dax \
	devdax map_sync readonly "recovery pending" recovered base; do
	grep -q "^$k: " "$dir/out" || fail "info text lacks '$k:'"
done
grep -q 'layout: *"my-layout"' "$dir/out" || fail "info text layout"
[ "$(md5sum <"$pool")" = "$sum" ] || fail "info changed the pool file"

# a pool left with an uncommitted transaction: info says recovery is
# pending, and does not change the file (recovery runs on a private view)
if [ -n "${CRASH_IN_TX:-}" ]; then
	rpool=$dir/rec.pool
	expect 0 "$daxo" create "$rpool" --size 8M --layout rec -q
	"$CRASH_IN_TX" "$rpool" rec 2>"$dir/err"
	rc=$?
	[ $rc = 137 ] || { fail "crash_in_tx exited $rc"; cat "$dir/err"; }
	sum=$(md5sum <"$rpool")
	if expect 0 "$daxo" info --json "$rpool" && flatten; then
		check_json recovery_pending true
		[ "$(json recovered)" -ge 1 ] 2>/dev/null ||
			fail "recovered is '$(json recovered)', expected >= 1"
	fi
	expect 0 "$daxo" info "$rpool"
	grep -q '^recovery pending: yes' "$dir/out" ||
		fail "info text does not say recovery is pending"
	[ "$(md5sum <"$rpool")" = "$sum" ] || fail "info changed a pool needing recovery"
else
	echo "test_tools: CRASH_IN_TX not set: recovery case not run"
fi

# info on things that are not pools: 3
expect 3 "$daxo" info "$dir/missing"
grep -q "$dir/missing" "$dir/err" || fail "info on a missing file: no name"
expect 3 "$daxo" info "$dir"
head -c 8388608 /dev/zero >"$dir/zero"
expect 3 "$daxo" info --json "$dir/zero"
[ -s "$dir/out" ] && fail "info --json printed output for a non-pool"
cp "$pool" "$dir/bad.pool"
printf 'X' | dd of="$dir/bad.pool" bs=1 seek=3 conv=notrunc status=none
expect 3 "$daxo" info "$dir/bad.pool"
grep -q "magic" "$dir/err" || fail "bad magic: message does not say so"
cp "$pool" "$dir/short.pool"
truncate -s 4M "$dir/short.pool"
expect 3 "$daxo" info "$dir/short.pool"

# a FIFO: refused as not a pool, without waiting for a writer (the
# read-only open used to block for ever); timeout turns a hang into 124
mkfifo "$dir/fifo"
for c in info check "repair --no-backup"; do
	expect 3 timeout 5 "$daxo" $c "$dir/fifo"
	grep -q "not a regular file" "$dir/out" "$dir/err" ||
		fail "$c on a FIFO: message does not say it is not a file"
done
for c in "dump @ --json" "ls @" "get @ k" "del @ k" "put @ k v" "defrag @"; do
	# shellcheck disable=SC2086 # the words of $c are the arguments
	expect 1 timeout 5 "$daxo" ${c/@/$dir/fifo} &&
		grep -q "not a regular file" "$dir/err" ||
		fail "$c on a FIFO: message does not say it is not a file"
done

# check of a pool another process holds open read-write (the process
# takes the exclusive flock that daxo_open takes): the verdict printed is of
# an image that may be changing, so check names the process and exits 4; a
# shared lock (a read-only open) changes nothing
# hold LOCK_EX|LOCK_SH -- a process holding a flock on $pool; sets $holder
hold() {
	rm -f "$dir/held"
	"$PY" -c 'import fcntl, sys, time
f = open(sys.argv[1])
fcntl.flock(f, getattr(fcntl, sys.argv[2]))
open(sys.argv[3], "w").close()
time.sleep(60)' "$pool" "$1" "$dir/held" </dev/null >/dev/null 2>&1 &
	holder=$!
	for _ in $(seq 200); do
		[ -e "$dir/held" ] && return 0
		sleep 0.05
	done
	fail "the lock holder did not start"
}
unhold() {
	kill "$holder"
	wait "$holder" 2>/dev/null
}
hold LOCK_EX
if expect 4 "$daxo" check "$pool"; then
	grep -q "offset 0: info: the pool is open read-write by process $holder:" "$dir/out" ||
		fail "check of a pool open elsewhere: no info finding naming $holder"
	grep -q "^$pool: consistent$" "$dir/out" ||
		fail "check of a pool open elsewhere: no verdict"
	grep -q "^$pool: warning: open read-write by process $holder: .* not to be trusted" "$dir/out" ||
		fail "check of a pool open elsewhere: no warning"
fi
if expect 4 "$daxo" check --json "$pool" && flatten; then
	check_json status consistent
	check_json exit 4
	check_json in_use true
	check_json writer_pid "$holder"
fi
unhold
hold LOCK_SH
expect 0 "$daxo" check "$pool"
grep -q "open read-write" "$dir/out" &&
	fail "check of a pool open read-only elsewhere warns"
unhold
expect 0 "$daxo" check "$pool"

# repair of a repairable pool that cannot be repaired here: not written
# (a read-only file, for a user other than root) or open elsewhere. Exit 1
# (not repaired), saying why, and no backup written for nothing (it was
# exit 3, "not a pool", after a backup of the whole pool)
rp=$dir/rep.pool
cp "$pool" "$rp"
printf '\001' | dd of="$rp" bs=1 seek=$((4096 + 168)) conv=notrunc status=none
expect 1 "$daxo" check "$rp"
hold_pool=$pool
pool=$rp
hold LOCK_SH
if expect 1 "$daxo" repair "$rp"; then
	grep -q "^$rp: pool is open by a process: close it before repairing$" "$dir/out" ||
		fail "repair of a pool open elsewhere: no reason given"
	grep -q "^$rp: inconsistent but repairable; not repaired$" "$dir/out" ||
		fail "repair of a pool open elsewhere: no verdict"
fi
[ -e "$rp.bak" ] && fail "repair of a pool open elsewhere wrote a backup"
if expect 1 "$daxo" repair --json "$rp" && flatten; then
	check_json status repairable
	check_json exit 1
	json error | grep -q "open by a process" ||
		fail "repair --json of a pool open elsewhere: no error"
fi
unhold
hold LOCK_EX
expect 1 "$daxo" repair --no-backup "$rp" &&
	grep -q "^$rp: pool is open read-write by process $holder: close it" "$dir/out" ||
	fail "repair of a pool open read-write elsewhere: no process named"
# a dry run reads the live image as check does: exit 4, as its JSON says
if expect 4 "$daxo" repair --dry-run --json "$rp" && flatten; then
	check_json exit 4
	check_json in_use true
fi
unhold
pool=$hold_pool
nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null &&
	"${nobody[@]}" "$daxo" --help >/dev/null 2>&1; then
	chmod 0444 "$rp"
	chmod 0777 "$dir"
	if expect 1 "${nobody[@]}" "$daxo" repair "$rp"; then
		grep -q "^$rp: cannot be written: Permission denied$" "$dir/out" ||
			fail "repair of a read-only file: no reason given"
	fi
	[ -e "$rp.bak" ] && fail "repair of a read-only file wrote a backup"
	chmod 0700 "$dir"
	chmod 0644 "$rp"
else
	echo "test_tools: not root, no setpriv, or the build not readable by" \
		"nobody: repair of a read-only file not run"
fi
expect 0 "$daxo" repair --no-backup "$rp"
expect 0 "$daxo" check "$rp"

# a pool looked at while another process is creating it (held in
# posix_fallocate by the test's gate shim): busy, named by its creator --
# not a file of zeros that info calls no pool and that an open could lock
# first, making the create fail
if [ -n "${DAXO_GATE_SHIM:-}" ] && [ -r "$DAXO_GATE_SHIM" ]; then
	gate=$dir/gate
	mkdir "$gate"
	cpool=$dir/creating.pool
	DAXO_TEST_GATE=$gate LD_PRELOAD="$DAXO_GATE_SHIM${LD_PRELOAD:+ $LD_PRELOAD}" \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
		"$daxo" create "$cpool" --size 16M -q >"$dir/cout" 2>&1 &
	creator=$!
	for _ in $(seq 400); do
		[ -e "$gate/entered" ] && break
		sleep 0.05
	done
	if [ -e "$gate/entered" ]; then
		expect 1 "$daxo" info "$cpool" &&
			grep -q "pool is in use by process $creator" "$dir/err" ||
			fail "info of a pool being created: not busy by $creator"
		expect 1 "$daxo" put "$cpool" k v &&
			grep -q "in use by process $creator" "$dir/err" ||
			fail "put into a pool being created: not busy by $creator"
		expect 4 "$daxo" check "$cpool" &&
			grep -q "warning: open read-write by process $creator" "$dir/out" ||
			fail "check of a pool being created: no warning naming $creator"
	else
		fail "the gated create did not reach posix_fallocate"
	fi
	touch "$gate/go"
	wait "$creator"
	rc=$?
	[ "$rc" = 0 ] || { fail "the gated create exited $rc"; cat "$dir/cout"; }
	expect 0 "$daxo" check "$cpool"
	expect 0 "$daxo" put "$cpool" k v
	# a pool file truncated by another process while a command has it
	# mapped (each held just after its mapping by the gate shim): the
	# check notices the size changed and concludes nothing (4); a fault
	# (here a SIGBUS sent while the command is held in its mapping call,
	# as a load past the new end would raise) ends the command with the
	# reason -- 4 for check, 1 elsewhere -- not a core dump
	tpool=$dir/truncated.pool
	"$daxo" create "$tpool" --size 16M -q
	"$daxo" put "$tpool" key value
	# gated_run HOLD NAME CMD... -- start CMD held by the gate shim at
	# HOLD: MMAP (just after its first mapping of a file of 1 MiB or more)
	# or READ (before its first read of 1 MiB or more); $gpid its pid, once
	# it is held (else released, and the test fails)
	gated_run() {
		local hold=$1 name=$2
		shift 2
		gate=$dir/gate-$name
		rm -rf "$gate"
		mkdir "$gate"
		env "DAXO_TEST_GATE_$hold=$gate" \
			"LD_PRELOAD=$DAXO_GATE_SHIM${LD_PRELOAD:+ $LD_PRELOAD}" \
			"ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
			"$@" >"$dir/gout" 2>"$dir/gerr" </dev/null &
		gpid=$!
		for _ in $(seq 400); do
			[ -e "$gate/entered" ] && return 0
			sleep 0.05
		done
		fail "$name: the gated command did not reach its hold ($hold)"
		touch "$gate/go"
		wait "$gpid"
		return 1
	}
	# gated_end CODE WHAT PATTERN -- release it; its exit code and output
	gated_end() {
		touch "$gate/go"
		wait "$gpid"
		local rc=$?
		if [ "$rc" != "$1" ] || ! grep -q "$3" "$dir/gout" "$dir/gerr"; then
			fail "$2: exited $rc (expected $1, and '$3')"
			sed 's/^/  stdout: /' "$dir/gout"
			sed 's/^/  stderr: /' "$dir/gerr"
		fi
	}
	cp "$tpool" "$dir/t.keep"
	if gated_run MMAP check-truncated "$daxo" check "$tpool"; then
		truncate -s 8192 "$tpool"
		gated_end 4 "check of a pool truncated under it" \
			"changed size while it was read"
	fi
	cp "$dir/t.keep" "$tpool"
	if gated_run MMAP check-truncated-json "$daxo" check --json "$tpool"; then
		truncate -s 8192 "$tpool"
		gated_end 4 "check --json of a pool truncated under it" \
			'"status": "changed"'
		grep -q '"changed": true' "$dir/gout" ||
			fail "check --json of a truncated pool: no changed: true"
	fi
	cp "$dir/t.keep" "$tpool"
	if gated_run MMAP check-fault "$daxo" check "$tpool"; then
		kill -BUS "$gpid"
		gated_end 4 "check interrupted by a fault" \
			"shrank while it was read"
	fi
	if gated_run MMAP info-fault "$daxo" info "$tpool"; then
		kill -BUS "$gpid"
		gated_end 1 "info interrupted by a fault" \
			"daxo info: a load from the pool faulted"
	fi
	if gated_run MMAP get-fault "$daxo" get "$tpool" key; then
		kill -BUS "$gpid"
		gated_end 1 "get interrupted by a fault" \
			"daxo get: a load from the pool faulted"
	fi
	expect 0 "$daxo" check "$tpool"
	expect 0 "$daxo" get "$tpool" key
	# a pool truncated while repair copies it to its backup: no backup
	# (it would hold no single moment of the file), nothing repaired (1)
	rtp=$dir/rtrunc.pool
	cp "$tpool" "$rtp"
	printf '\001' | dd of="$rtp" bs=1 seek=$((4096 + 168)) conv=notrunc status=none
	expect 1 "$daxo" check "$rtp"
	if gated_run READ repair-truncated "$daxo" repair "$rtp"; then
		truncate -s 8192 "$rtp"
		gated_end 1 "repair of a pool truncated under its backup" \
			"changed size while it was copied"
		[ -e "$rtp.bak" ] &&
			fail "repair of a pool truncated under its backup left one"
	fi
	# a repair killed while it copies the backup: no POOL.bak (a partial
	# copy under that name would pass for a backup, and keep the next
	# repair from writing one); the next repair works
	rkp=$dir/rkill.pool
	cp "$dir/t.keep" "$rkp"
	printf '\001' | dd of="$rkp" bs=1 seek=$((4096 + 168)) conv=notrunc status=none
	if gated_run READ repair-killed "$daxo" repair "$rkp"; then
		kill -KILL "$gpid"
		wait "$gpid"
		[ -e "$rkp.bak" ] &&
			fail "a repair killed during its backup left $rkp.bak"
		rm -f "$rkp".bak.partial.*
		expect 0 "$daxo" repair "$rkp"
		expect 1 "$daxo" check "$rkp.bak"
		expect 0 "$daxo" check "$rkp"
	fi
else
	echo "test_tools: DAXO_GATE_SHIM not set: pool being created not run"
fi

# an error names the path once
expect 3 "$daxo" check "$dir"
[ "$(cat "$dir/out")" = "$dir: is a directory" ] ||
	fail "check of a directory: '$(cat "$dir/out")'"
expect 3 "$daxo" check ""
[ "$(cat "$dir/out")" = "daxo_check: the path is empty" ] ||
	fail "check of an empty path: '$(cat "$dir/out")'"

echo "test_tools: $n commands, $fails failures"
[ "$fails" = 0 ]
