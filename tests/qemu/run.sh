#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# run.sh -- the QEMU emulated-pmem harness: boots Debian's kernel under
# qemu-system-x86_64 (software emulation, no KVM needed) with an emulated
# NVDIMM and runs daxo on real DAX inside it.
#
#   run.sh [--build DIR] [--prog PATH]... [--rounds N] [--ns fsdax|devdax]
#          [--workload tx|kv] [--keep] MODE
#
# MODE
#   dax       one boot: fsdax namespace, ext4 -o dax, dax_check, `daxo info
#             --json`, the project's unit and crash test programs with their
#             pools on the DAX mount (no PMEM_IS_PMEM_FORCE); dax_check on
#             xfs -o dax; then a devdax namespace and dax_check on
#             /dev/dax0.0.
#   powercut  N rounds: the guest runs powercut_writer, the host SIGKILLs
#             QEMU at a random moment (a power cut), boots again on the same
#             backing file; the verifier opens the pool (recovery) and checks
#             the invariants; a last boot only verifies. N+1 boots. The
#             pool is a file on ext4 -o dax (--ns fsdax, the default) or
#             the whole /dev/dax0.0 (--ns devdax). The workload is
#             powercut_writer (transactions, --workload tx) or powercut_kv
#             (the keyed store, --workload kv).
#   daemon    one boot: daxod in the guest, `daxo stat --json` must list the
#             device and PMD/PTE faults of a pool on the DAX mount (compared
#             with the fs_dax tracepoints). Skipped if daxod is not built.
#
# The guest reports "QEMU-TEST name PASS|FAIL|SKIP reason" lines on the
# serial console (see guest.sh). Exit code: 1 if any check failed or a boot
# did not finish, 77 if nothing could run (the reason is printed), else 0.
#
# Environment: DAXO_QEMU_KERNEL (a vmlinuz; default the newest in /boot with
# modules), DAXO_QEMU_BOOT_TIMEOUT (s per boot, default 300),
# DAXO_QEMU_BUDGET (s for the unit/crash programs in the guest, default 180),
# DAXO_QEMU_TEST_TIMEOUT (s per program, default 90), DAXO_QEMU_SUITES
# (default "unit crash"), DAXO_QEMU_SEED (power-cut timing), DAXO_QEMU_SMP
# (default 2), DAXO_QEMU_KEEP=1 (keep the work directory).

set -u -o pipefail
# the guest starts with a clean environment; the host side wants none of it
unset PMEM_IS_PMEM_FORCE

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=
MODE=
ROUNDS=${DAXO_QEMU_ROUNDS:-3}
PC_NS=fsdax
PC_WL=tx
KEEP=${DAXO_QEMU_KEEP:-0}
PROGS=()
BOOT_TIMEOUT=${DAXO_QEMU_BOOT_TIMEOUT:-300}
BUDGET=${DAXO_QEMU_BUDGET:-180}
TEST_TIMEOUT=${DAXO_QEMU_TEST_TIMEOUT:-90}
SUITES=${DAXO_QEMU_SUITES:-unit crash}
SMP=${DAXO_QEMU_SMP:-2}
PMEM_SIZE=512M

usage() {
	sed -n '4,30p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
}

while [ $# -gt 0 ]; do
	case "$1" in
	--build) BUILD=$2; shift 2 ;;
	--prog) PROGS+=("$2"); shift 2 ;;
	--rounds) ROUNDS=$2; shift 2 ;;
	--ns) PC_NS=$2; shift 2 ;;
	--workload) PC_WL=$2; shift 2 ;;
	--keep) KEEP=1; shift ;;
	-h | --help) usage ;;
	-*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	*) MODE=$1; shift ;;
	esac
done
case "$MODE" in
dax | powercut | daemon) ;;
*) usage ;;
esac

T0=$(date +%s.%N)
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
skip() {
	echo "SKIP: $*"
	exit 77
}
die() {
	echo "FAIL: $*"
	exit 1
}

# ---------------------------------------------------------------- prerequisites
QEMU=$(command -v qemu-system-x86_64) ||
	skip "qemu-system-x86_64 not installed (Debian package qemu-system-x86)"
[ "$(uname -m)" = x86_64 ] || skip "host is $(uname -m), the harness boots an x86_64 kernel"

find_kernel() {
	local k v
	if [ -n "${DAXO_QEMU_KERNEL:-}" ]; then
		echo "$DAXO_QEMU_KERNEL"
		return
	fi
	for k in $(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V -r); do
		v=${k#/boot/vmlinuz-}
		if [ -d "/lib/modules/$v/kernel" ]; then
			echo "$k"
			return
		fi
	done
}
KERNEL=$(find_kernel)
[ -n "$KERNEL" ] || skip "no /boot/vmlinuz-* with modules in /lib/modules (Debian package linux-image-amd64)"
[ -r "$KERNEL" ] || skip "$KERNEL is not readable by uid $(id -u)"
KVER=${KERNEL##*/vmlinuz-}
MODDIR=/lib/modules/$KVER
[ -f "$MODDIR/modules.dep" ] || skip "no $MODDIR/modules.dep for kernel $KVER"

BUSYBOX=
for b in /bin/busybox /usr/bin/busybox; do
	if [ -x "$b" ] && ! ldd "$b" >/dev/null 2>&1; then
		BUSYBOX=$b
		break
	fi
done
[ -n "$BUSYBOX" ] || skip "no statically linked busybox (Debian package busybox-static)"
for t in ndctl daxctl mke2fs cpio gzip python3; do
	command -v $t >/dev/null || skip "$t not installed (packages ndctl daxctl e2fsprogs cpio)"
done
if [ -z "$BUILD" ] || [ ! -d "$BUILD" ]; then
	skip "no build directory given (--build)"
fi
BUILD=$(cd "$BUILD" && pwd)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/daxo-qemu-$MODE.XXXXXX")
QPID=
cleanup() {
	[ -n "$QPID" ] && kill -9 "$QPID" 2>/dev/null
	if [ "$KEEP" = 1 ]; then
		echo "run.sh: work directory kept: $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---------------------------------------------------------------- initramfs
ROOT=$WORK/root
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,etc/daxo,proc,sys,dev,tmp,run,mnt,opt/daxo/bin,opt/daxo/lib,opt/daxo/tests,lib/modules}

# copy_libs BIN -- every shared library BIN needs: system ones at their own
# path, the others (the project's, from the build directory) in /opt/daxo/lib
copy_libs() {
	local lib dst
	ldd "$1" 2>/dev/null | awk '/=> \// { print $3 } /^\t\// { print $1 }' |
		while read -r lib; do
			case "$lib" in
			/lib/* | /lib64/* | /usr/lib/* | /lib32/*) dst=$lib ;;
			*) dst=/opt/daxo/lib/${lib##*/} ;;
			esac
			if [ ! -e "$ROOT$dst" ]; then
				mkdir -p "$ROOT$(dirname "$dst")"
				cp -L "$lib" "$ROOT$dst"
			fi
		done
}

# add_bin SRC DST -- a program and its libraries
add_bin() {
	mkdir -p "$ROOT$(dirname "$2")"
	cp -L "$1" "$ROOT$2"
	copy_libs "$1"
}

# busybox; /init makes its applet links (busybox --install -s) at boot
cp "$BUSYBOX" "$ROOT/bin/busybox"
ln -s busybox "$ROOT/bin/sh"
for t in ndctl daxctl mke2fs; do
	add_bin "$(command -v $t)" "/usr/sbin/$t"
done
mkdir -p "$ROOT/lib64"
cp -L /lib64/ld-linux-x86-64.so.2 "$ROOT/lib64/ld-linux-x86-64.so.2"
# mke2fs looks for its configuration; an empty one is fine
[ -f /etc/mke2fs.conf ] && cp /etc/mke2fs.conf "$ROOT/etc/"

# kernel modules, dependencies first (modules.dep), decompressed
declare -A MOD_SEEN=()
MODLIST=()
add_mod() {
	local name=$1 line path deps d
	[ -n "${MOD_SEEN[$name]:-}" ] && return 0
	MOD_SEEN[$name]=1
	line=$(grep -E "(^|/)${name}\.ko(\.(xz|zst|gz))?:" "$MODDIR/modules.dep" | head -n1)
	if [ -z "$line" ]; then
		if grep -qE "/${name}\.ko" "$MODDIR/modules.builtin" 2>/dev/null; then
			return 0
		fi
		echo "run.sh: module $name not found for $KVER" >&2
		return 1
	fi
	path=${line%%:*}
	deps=${line#*:}
	for d in $deps; do
		d=${d##*/}
		add_mod "${d%%.ko*}" || return 1
	done
	local out=$ROOT/lib/modules/$name.ko
	case "$path" in
	*.ko.xz) xz -dc "$MODDIR/$path" >"$out" ;;
	*.ko.zst) zstd -qdc "$MODDIR/$path" >"$out" ;;
	*.ko.gz) gzip -dc "$MODDIR/$path" >"$out" ;;
	*) cp "$MODDIR/$path" "$out" ;;
	esac || return 1
	MODLIST+=("$name")
}
for m in libnvdimm nfit nd_btt nd_pmem nd_e820 dax_pmem device_dax crc16 \
	mbcache jbd2 crc32c_generic ext4; do
	add_mod $m || skip "kernel $KVER lacks module $m (see notes/qemu-pmem.md)"
done
# xfs is a second DAX file system for dax_check; optional
HAVE_XFS=0
if [ "$MODE" = dax ] && command -v mkfs.xfs >/dev/null && add_mod xfs 2>/dev/null; then
	add_bin "$(command -v mkfs.xfs)" /usr/sbin/mkfs.xfs
	HAVE_XFS=1
fi
printf '%s\n' "${MODLIST[@]}" >"$ROOT/etc/daxo/modules"

# the project's programs
for p in "${PROGS[@]}"; do
	[ -x "$p" ] || die "program $p not built"
	add_bin "$p" "/opt/daxo/bin/${p##*/}"
done
HAVE_DAXO=0
if [ -x "$BUILD/tools/daxo" ]; then
	add_bin "$BUILD/tools/daxo" /opt/daxo/bin/daxo
	HAVE_DAXO=1
fi
HAVE_DAXOD=0
if [ -x "$BUILD/daemon/daxod" ]; then
	add_bin "$BUILD/daemon/daxod" /opt/daxo/bin/daxod
	HAVE_DAXOD=1
fi

# the unit and crash test programs registered in the build directory
if [ "$MODE" = dax ]; then
	SRCROOT=$(cd "$HERE/../.." && pwd)
	python3 - "$BUILD" "$ROOT" "$SUITES" "$SRCROOT" >"$ROOT/etc/daxo/tests.sh" \
		2>"$WORK/tests.err" <<'EOF' || die "cannot list tests: $(cat "$WORK/tests.err")"
# Turn the build's test list into guest commands. Compiled tests are copied
# to /opt/daxo/tests; script tests (bash SCRIPT ARGS) run with their script.
# Every file a test names in the build or source tree (its script, programs
# and files in its arguments and environment) goes to TREE + its host path,
# and the command names it there: the guest mounts tmpfs on /tmp, /run and
# the DAX file system's directories on /tmp and /var/tmp, which would hide
# a build tree placed under them at its own path. Scripts that need
# host-only tools are skipped.
import json, os, re, shlex, shutil, sys
build, root, suites, src = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4]
build, src = os.path.realpath(build), os.path.realpath(src)
TREE = '/opt/daxo/tree'
HOST_ONLY = ['python3', 'meson', 'ninja', 'nm', 'readelf', 'objdump', 'gcc',
             'cc', 'c++', 'pkg-config', 'jq', 'valgrind', 'make']
with open(os.path.join(build, 'meson-info', 'intro-tests.json')) as f:
    tests = json.load(f)

def is_elf(path):
    try:
        with open(path, 'rb') as f:
            return f.read(4) == b'\x7fELF'
    except OSError:
        return False

def in_tree(path):
    r = os.path.realpath(path)
    return os.path.isfile(r) and (r.startswith(build + '/') or r.startswith(src + '/'))

def guest(path):
    """where a file of the tree is in the guest"""
    return TREE + os.path.realpath(path)

def mirror(path):
    """copy a file of the tree to guest(path), once; ELF: list it"""
    dst = root + guest(path)
    if os.path.exists(dst):
        return
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copy(path, dst)
    if is_elf(path):
        print('copy ' + path, file=sys.stderr)

def skip(name, why):
    print('result %s SKIP %s' % (shlex.quote(name), shlex.quote(why)))

for t in tests:
    ss = [s.split(':')[-1] for s in t.get('suite', [])]
    if not any(s in suites for s in ss) or 'qemu' in ss:
        continue
    name = re.sub(r'[^A-Za-z0-9_.+-]', '_', t['name'])
    suite = ','.join(ss)
    if name.startswith(('crashsim-', 'plant-', 'kv-crashsim')):
        # the simulator keeps its own model of the media: nothing in it
        # depends on DAX, and under TCG it takes minutes
        skip(name, 'crash simulator: media-independent, runs on the host')
        continue
    wd = t.get('workdir') or build
    # paths into the tree become absolute: the guest runs tests elsewhere
    def fix(a):
        c = a if os.path.isabs(a) else os.path.join(wd, a)
        return os.path.realpath(c) if in_tree(c) else a
    cmd = [t['cmd'][0]] + [fix(a) for a in t['cmd'][1:]]
    # DAXO_TEST_DIR is the guest's (its DAX mount), never the host's
    env = {k: fix(v) for k, v in (t.get('env') or {}).items()
           if k not in ('PMEM_IS_PMEM_FORCE', 'LD_LIBRARY_PATH', 'PATH',
                        'DAXO_TEST_DIR')}
    exe = cmd[0]
    if not is_elf(exe):
        skip(name, 'not an ELF program (%s): not run in the guest' % exe)
        continue
    if in_tree(exe):
        dst = '/opt/daxo/tests/' + name
        shutil.copy(exe, root + dst)
        print('copy ' + exe, file=sys.stderr)
        args = [dst] + cmd[1:]
    else:
        # an interpreter (bash) running a script from the tree
        if os.path.basename(exe) not in ('bash', 'sh'):
            skip(name, 'runs %s, which the guest does not have' % exe)
            continue
        script = next((a for a in cmd[1:] if in_tree(a)), None)
        if not script:
            skip(name, 'a %s test without a script in the tree' % exe)
            continue
        with open(script, errors='replace') as f:
            text = f.read()
        need = [w for w in HOST_ONLY
                if re.search(r'(^|[\s|;(`$"=])' + re.escape(w) + r'(\s|$)', text, re.M)]
        if need:
            skip(name, 'script %s needs %s, not in the guest'
                 % (os.path.basename(script), ', '.join(need)))
            continue
        if not os.path.exists(root + exe):
            # the interpreter, a system program, at its own path
            os.makedirs(os.path.dirname(root + exe), exist_ok=True)
            shutil.copy(exe, root + exe)
            print('copy ' + exe, file=sys.stderr)
        args = list(cmd)
    # files the test names (arguments, environment) come along, to TREE
    def place(a):
        if not in_tree(a):
            return a
        mirror(a)
        return guest(a)
    args = args[:1] + [place(a) for a in args[1:]]
    env = {k: place(v) for k, v in env.items()}
    line = ['t', name, suite]
    if env:
        line += ['env'] + ['%s=%s' % kv for kv in sorted(env.items())]
    print(' '.join(shlex.quote(a) for a in line + args))
EOF
	while read -r _ exe; do
		copy_libs "$exe"
	done < <(grep '^copy ' "$WORK/tests.err")
fi

cp "$HERE/guest.sh" "$ROOT/etc/daxo/guest.sh"
cat >"$ROOT/etc/daxo/config" <<EOF
budget=$BUDGET
test_timeout=$TEST_TIMEOUT
have_daxo=$HAVE_DAXO
have_xfs=$HAVE_XFS
EOF
cat >"$ROOT/init" <<'EOF'
#!/bin/sh
/bin/busybox --install -s
export PATH=/opt/daxo/bin:/bin:/sbin:/usr/bin:/usr/sbin
export LD_LIBRARY_PATH=/opt/daxo/lib:/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mkdir -p /dev/shm /tmp /run
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
for m in $(cat /etc/daxo/modules); do
	insmod /lib/modules/$m.ko || echo "QEMU-LOG insmod $m failed"
done
sh /etc/daxo/guest.sh
sync
poweroff -f
EOF
chmod +x "$ROOT/init" "$ROOT/etc/daxo/guest.sh"
(cd "$ROOT" && find . | cpio -o -H newc --quiet | gzip -1) >"$WORK/initramfs.cpio.gz" ||
	die "cannot pack the initramfs"
echo "run.sh: kernel $KERNEL, initramfs $(du -h "$WORK/initramfs.cpio.gz" | cut -f1)" \
	"(${#MODLIST[@]} modules), built in $(elapsed) s"

# ---------------------------------------------------------------- booting
# qemu_start IMG LOG APPEND -- start QEMU in the background, pid in QPID
qemu_start() {
	"$QEMU" -machine pc,nvdimm=on,accel=tcg -cpu max -smp "$SMP" \
		-m 1G,slots=2,maxmem=3G \
		-object memory-backend-file,id=mem1,share=on,mem-path="$1",size=$PMEM_SIZE,align=2M \
		-device nvdimm,id=nvdimm1,memdev=mem1 \
		-kernel "$KERNEL" -initrd "$WORK/initramfs.cpio.gz" \
		-append "console=ttyS0 loglevel=4 panic=-1 $3" \
		-display none -monitor none -serial "file:$2" -no-reboot \
		</dev/null >"$2.qemu" 2>&1 &
	QPID=$!
}

# qemu_wait TIMEOUT -- wait for QEMU to exit; kill it after TIMEOUT s
# Returns 0 if it exited by itself.
qemu_wait() {
	local n=0
	while kill -0 "$QPID" 2>/dev/null; do
		if [ $n -ge $(($1 * 10)) ]; then
			kill -9 "$QPID" 2>/dev/null
			wait "$QPID" 2>/dev/null
			QPID=
			return 1
		fi
		sleep 0.1
		n=$((n + 1))
	done
	wait "$QPID" 2>/dev/null
	QPID=
	return 0
}

# boot IMG LOG APPEND -- one whole boot, time-bounded
boot() {
	local t=$(date +%s.%N) rc=0
	qemu_start "$@"
	qemu_wait "$BOOT_TIMEOUT" || rc=1
	BOOT_SECS=$(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	return $rc
}

NPASS=0
NFAIL=0
NSKIP=0
# tally LOG -- print the guest's results and count them
tally() {
	local line name verdict
	while read -r line; do
		echo "  $line"
		set -- $line
		case "$3" in
		PASS) NPASS=$((NPASS + 1)) ;;
		FAIL) NFAIL=$((NFAIL + 1)) ;;
		SKIP) NSKIP=$((NSKIP + 1)) ;;
		esac
	done < <(tr -d '\r' <"$1" | grep -a '^QEMU-TEST ')
}

# show_log LOG -- the guest console, for a failure
show_log() {
	echo "---- guest console ($1) ----"
	tr -d '\r' <"$1" | tail -n "${2:-150}"
	[ -s "$1.qemu" ] && { echo "---- qemu ----"; cat "$1.qemu"; }
	echo "----"
}

finish() {
	echo "run.sh: $MODE: $NPASS passed, $NFAIL failed, $NSKIP skipped, total $(elapsed) s"
	if [ "$NFAIL" -gt 0 ]; then
		exit 1
	fi
	if [ "$NPASS" -eq 0 ]; then
		echo "SKIP: nothing passed ($NSKIP skipped)"
		exit 77
	fi
	exit 0
}

run_single() {
	local img=$WORK/pmem.img log=$WORK/$MODE.log
	truncate -s $PMEM_SIZE "$img"
	if ! boot "$img" "$log" "daxo.mode=$MODE"; then
		show_log "$log"
		tally "$log"
		die "boot did not finish within $BOOT_TIMEOUT s"
	fi
	echo "run.sh: boot ($MODE) took $BOOT_SECS s"
	tally "$log"
	if ! grep -aq '^QEMU-DONE' "$log"; then
		show_log "$log"
		NFAIL=$((NFAIL + 1))
		echo "FAIL: the guest did not reach its end (no QEMU-DONE)"
	elif [ "$NFAIL" -gt 0 ] || [ "${DAXO_QEMU_VERBOSE:-0}" = 1 ]; then
		show_log "$log" 400
	fi
	finish
}

# ---------------------------------------------------------------- power cuts
# last_committed LOG -- the highest count the writer reported as committed
last_committed() {
	tr -d '\r' <"$1" | sed -n 's/^QEMU-PC committed \([0-9]*\).*/\1/p' | tail -n1
}

run_powercut() {
	local img=$WORK/pc.img r log mode n delay rv prev=0 seen rec
	local seed=${DAXO_QEMU_SEED:-$(($(date +%s) % 100000))}
	RANDOM=$seed
	echo "run.sh: power cuts on $PC_NS, workload $PC_WL: $ROUNDS rounds, seed $seed (DAXO_QEMU_SEED)"
	truncate -s $PMEM_SIZE "$img"
	for ((r = 1; r <= ROUNDS + 1; r++)); do
		log=$WORK/pc-$r.log
		if [ $r -eq 1 ]; then
			mode=pc-first
		elif [ $r -le "$ROUNDS" ]; then
			mode=pc-next
		else
			mode=pc-final
		fi
		local t=$(date +%s.%N)
		qemu_start "$img" "$log" "daxo.mode=$mode daxo.round=$((r - 1)) daxo.ns=$PC_NS daxo.wl=$PC_WL"
		if [ $mode = pc-final ]; then
			qemu_wait "$BOOT_TIMEOUT" || {
				show_log "$log"
				die "final boot did not finish within $BOOT_TIMEOUT s"
			}
		else
			# wait for the writer to commit its first transfers
			n=0
			while ! grep -aq '^QEMU-PC committed' "$log" 2>/dev/null; do
				if ! kill -0 "$QPID" 2>/dev/null || [ $n -ge $((BOOT_TIMEOUT * 10)) ]; then
					qemu_wait 1
					tally "$log"
					show_log "$log"
					die "round $r: the writer never started"
				fi
				sleep 0.1
				n=$((n + 1))
			done
			# the power cut: a random moment 0.2 .. 4.2 s later
			rv=$RANDOM # here, not in the subshell: keeps the seed's sequence
			delay=$(awk -v r=$rv 'BEGIN { printf "%.2f", 0.2 + r % 4000 / 1000 }')
			sleep "$delay"
			kill -9 "$QPID" 2>/dev/null
			wait "$QPID" 2>/dev/null
			QPID=
			if grep -aq 'QEMU-TEST powercut-writer' "$log"; then
				tally "$log"
				show_log "$log"
				die "round $r: the writer ended before the power cut"
			fi
		fi
		local secs=$(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
		tally "$log"
		# durability: everything the writer reported committed before
		# the previous cut must be there after recovery
		if [ $r -gt 1 ]; then
			seen=$(tr -d '\r' <"$log" | sed -n 's/.*QEMU-PC verified transfers=\([0-9]*\).*/\1/p' | tail -n1)
			if [ -z "$seen" ]; then
				NFAIL=$((NFAIL + 1))
				echo "  QEMU-TEST powercut-durable-r$((r - 1)) FAIL no verifier result"
				show_log "$log"
			elif [ "$seen" -lt "$prev" ]; then
				NFAIL=$((NFAIL + 1))
				echo "  QEMU-TEST powercut-durable-r$((r - 1)) FAIL recovered $seen operations, but $prev were reported committed before the cut"
				show_log "$log"
			else
				NPASS=$((NPASS + 1))
				rec=$(tr -d '\r' <"$log" | sed -n 's/.*QEMU-PC verified .*recovered=\([0-9]*\).*/\1/p' | head -n1)
				echo "  QEMU-TEST powercut-durable-r$((r - 1)) PASS $seen operations after recovery (logs recovered at open: ${rec:-?}) >= $prev acknowledged before the cut"
			fi
		fi
		if [ $mode = pc-final ]; then
			echo "run.sh: round $r ($mode): verify-only boot, $secs s"
			grep -aq '^QEMU-DONE' "$log" || {
				NFAIL=$((NFAIL + 1))
				show_log "$log"
				echo "FAIL: the final boot did not reach its end"
			}
		else
			prev=$(last_committed "$log")
			prev=${prev:-0}
			echo "run.sh: round $r ($mode): power cut after $secs s (writer ran ${delay} s past its first commit), last acknowledged operation $prev"
		fi
		if [ "$NFAIL" -gt 0 ] && [ "${DAXO_QEMU_VERBOSE:-0}" != 1 ]; then
			show_log "$log"
			break
		fi
	done
	finish
}

case "$MODE" in
dax)
	run_single
	;;
daemon)
	[ "$HAVE_DAXOD" = 1 ] || skip "daxod is not built ($BUILD/daemon/daxod missing)"
	[ "$HAVE_DAXO" = 1 ] || skip "the daxo tool is not built"
	run_single
	;;
powercut)
	run_powercut
	;;
esac
