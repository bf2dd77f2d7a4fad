#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# guest.sh -- what runs inside the QEMU guest (busybox ash), started by the
# initramfs /init that run.sh builds. It sets up the emulated NVDIMM (fsdax
# namespace with ext4 -o dax, or a devdax namespace), runs the checks and
# test programs, and reports each result on the serial console as one line:
#
#   QEMU-TEST <name> PASS|FAIL|SKIP <reason>
#
# run.sh on the host turns these lines into an exit code. The boot's purpose
# comes from the kernel command line (daxo.mode=...):
#   dax        fsdax checks, the project's unit/crash tests on the DAX mount,
#              then the devdax checks on /dev/dax0.0
#   daemon     daxod in the guest, watching a pool on the DAX mount
#   pc-first   power cut, first boot: fresh fsdax + ext4 (or, with
#              daxo.ns=devdax, a devdax namespace), start the writer
#   pc-next    power cut, later boot: verify (recovery), start the writer again
#   pc-final   power cut, last boot: verify only
# The host kills QEMU while the writer runs: that is the power cut.

D=/etc/daxo
MNT=/mnt/dax
export PATH=/opt/daxo/bin:/bin:/sbin:/usr/bin:/usr/sbin
unset PMEM_IS_PMEM_FORCE

t_start=$(cut -d. -f1 /proc/uptime)

say() { echo "$*"; }
result() { say "QEMU-TEST $1 $2 ${3:-}"; }
log() { say "QEMU-LOG $*"; }

cfg() { sed -n "s/^$1=//p" $D/config | head -n1; }

# wait_for PATH SECONDS -- poll until PATH exists
wait_for() {
	n=0
	while [ ! -e "$1" ]; do
		n=$((n + 1))
		[ $n -gt $(($2 * 10)) ] && return 1
		usleep 100000
	done
	return 0
}

# run_prog NAME TIMEOUT CMD... -- run one program, report by its exit code
# (0 PASS, 77 SKIP, anything else FAIL); its output is shown, prefixed.
run_prog() {
	name=$1
	tmo=$2
	shift 2
	t0=$(cut -d. -f1 /proc/uptime)
	timeout -s KILL "$tmo" "$@" >/tmp/out.$$ 2>&1
	rc=$?
	t1=$(cut -d. -f1 /proc/uptime)
	sed "s/^/  [$name] /" /tmp/out.$$ | tail -n 150
	reason=$(grep -i 'skip' /tmp/out.$$ | tail -n1 | sed 's/^SKIP:* *//' | cut -c1-160)
	rm -f /tmp/out.$$
	case $rc in
	0) result "$name" PASS "($((t1 - t0)) s)" ;;
	77) result "$name" SKIP "${reason:-exit 77}" ;;
	137) result "$name" SKIP "killed after ${tmo} s under TCG emulation (slow, not a verdict)" ;;
	*) result "$name" FAIL "exit code $rc" ;;
	esac
	return $rc
}

ns_mode() {
	ndctl list -n namespace0.0 2>/dev/null | sed -n 's/.*"mode":"\([a-z]*\)".*/\1/p'
}

# setup_fsdax FRESH -- namespace0.0 as fsdax, ext4 -o dax on $MNT
setup_fsdax() {
	if ! wait_for /sys/bus/nd/devices/namespace0.0 15; then
		result fsdax-setup FAIL "no namespace0.0 (nfit/libnvdimm did not find the NVDIMM)"
		return 1
	fi
	if [ "$1" = fresh ] || [ "$(ns_mode)" != fsdax ]; then
		if ! ndctl create-namespace -f -e namespace0.0 -m fsdax >/tmp/ns.json 2>&1; then
			cat /tmp/ns.json
			result fsdax-setup FAIL "ndctl create-namespace -m fsdax failed"
			return 1
		fi
		log "namespace: $(tr -d '\n ' </tmp/ns.json)"
	fi
	if ! wait_for /dev/pmem0 10; then
		result fsdax-setup FAIL "no /dev/pmem0"
		return 1
	fi
	if [ "$1" = fresh ]; then
		# full path: busybox runs its own mke2fs applet before searching
		# PATH. A 2 MiB stripe makes ext4 align large allocations to
		# 2 MiB, so that pool files can take PMD (huge page) faults.
		if ! /usr/sbin/mke2fs -q -F -t ext4 -b 4096 \
			-E stride=512,stripe_width=512 /dev/pmem0 >/tmp/mkfs.out 2>&1; then
			cat /tmp/mkfs.out
			result fsdax-setup FAIL "mkfs.ext4 failed"
			return 1
		fi
	fi
	mkdir -p $MNT
	if ! mount -t ext4 -o dax /dev/pmem0 $MNT; then
		dmesg | tail -n 5
		result fsdax-setup FAIL "mount -o dax failed"
		return 1
	fi
	if ! grep " $MNT " /proc/mounts | grep -q 'dax'; then
		grep " $MNT " /proc/mounts
		result fsdax-setup FAIL "/proc/mounts does not show dax for $MNT"
		return 1
	fi
	log "mounted: $(grep " $MNT " /proc/mounts)"
	return 0
}

# trace_on, trace_counts -- the fs_dax fault tracepoints, as information
TR=/sys/kernel/tracing
trace_on() {
	[ -d $TR/events/fs_dax ] || return 0
	echo >$TR/trace
	echo 1 >$TR/events/fs_dax/dax_pmd_fault_done/enable
	echo 1 >$TR/events/fs_dax/dax_pte_fault_done/enable
}
trace_counts() {
	[ -d $TR/events/fs_dax ] || { echo "no fs_dax tracepoints"; return 0; }
	echo 0 >$TR/events/fs_dax/dax_pmd_fault_done/enable
	echo 0 >$TR/events/fs_dax/dax_pte_fault_done/enable
	echo "pmd=$(grep -c 'dax_pmd_fault_done' $TR/trace)" \
		"(NOPAGE $(grep 'dax_pmd_fault_done' $TR/trace | grep -c NOPAGE)," \
		"FALLBACK $(grep 'dax_pmd_fault_done' $TR/trace | grep -c FALLBACK))" \
		"pte=$(grep -c 'dax_pte_fault_done' $TR/trace)"
}

# dax_mount_tests -- the checks and the project's test programs on fsdax
dax_mount_tests() {
	if setup_fsdax fresh; then
		result fsdax-setup PASS "$(grep " $MNT " /proc/mounts | cut -d' ' -f3,4)"
	else
		return 1
	fi
	trace_on
	run_prog fsdax-check 120 dax_check fsdax $MNT
	log "fs_dax tracepoints during fsdax-check: $(trace_counts)"
	daxo_info_check

	# Test programs: pools must land on the DAX mount. Every test takes
	# its pool directory from DAXO_TEST_DIR (default /dev/shm), which
	# names a directory on it; /dev/shm is an empty read-only tmpfs
	# meanwhile, so that a test that does not ask fails instead of
	# testing tmpfs. /tmp and /var/tmp (TMPDIR, mktemp) are bind mounts
	# of directories on the DAX mount.
	mkdir -p $MNT/tmp $MNT/vartmp $MNT/work /var/tmp /dev/shm
	mount -t tmpfs -o ro,size=1M tmpfs /dev/shm
	mount --bind $MNT/tmp /tmp
	mount --bind $MNT/vartmp /var/tmp
	# DAXO_TEST_EMULATED: under TCG the threads' relative timing is the
	# emulator's; tests that judge it (test_scaling) show, not judge
	export TMPDIR=/tmp DAXO_TEST_DIR=$MNT/work DAXO_TEST_EMULATED=1
	if [ -s $D/tests.sh ]; then
		budget=$(cfg budget)
		ptmo=$(cfg test_timeout)
		t_suite=$(cut -d. -f1 /proc/uptime)
		# tests.sh calls: t NAME SUITE CMD...
		t() {
			tn=$1
			shift 2
			now=$(cut -d. -f1 /proc/uptime)
			if [ $((now - t_suite)) -ge "$budget" ]; then
				result "$tn" SKIP "time budget of $budget s for test programs used up"
				return
			fi
			mkdir -p "$MNT/work/$tn"
			(cd "$MNT/work/$tn" && run_prog "$tn" "$ptmo" "$@")
		}
		. $D/tests.sh
	else
		result unit-tests SKIP "no unit or crash test programs in the build directory"
	fi
	# no pool may be left on a non-DAX file system by accident
	cd /
	umount /var/tmp
	umount /tmp
	umount /dev/shm
	# busybox timeout's watcher process lingers up to a second after the
	# program it ran, its cwd on the mount: give it time to go
	n=0
	while ! umount $MNT 2>/dev/null && [ $n -lt 10 ]; do
		usleep 500000
		n=$((n + 1))
	done
	if grep -q " $MNT " /proc/mounts; then
		# a test left a process behind that holds the DAX mount
		for pd in /proc/[0-9]*; do
			if grep -q " $MNT" $pd/maps 2>/dev/null ||
			    readlink $pd/cwd 2>/dev/null | grep -q "^$MNT"; then
				log "holds $MNT: pid ${pd#/proc/} $(tr '\0' ' ' <$pd/cmdline)"
				kill -9 ${pd#/proc/}
			fi
		done
		sleep 1
		umount $MNT
		result fsdax-umount FAIL "$MNT busy after the tests: a process was left behind (see QEMU-LOG holds)"
	fi
}

# json_bool JSON KEY ALTKEY -- true, false or missing
json_bool() {
	case "$1" in
	*"\"$2\":true"* | *"\"$2\":1"* | *"\"$3\":true"* | *"\"$3\":1"*) echo true ;;
	*"\"$2\":false"* | *"\"$2\":0"* | *"\"$3\":false"* | *"\"$3\":0"*) echo false ;;
	*) echo missing ;;
	esac
}

# daxo_info_check -- `daxo info --json` on a pool on the DAX mount
daxo_info_check() {
	if [ ! -x /opt/daxo/bin/daxo ]; then
		result daxo-info SKIP "daxo tool not built"
		return
	fi
	rm -f $MNT/info.pool
	if ! dax_check create-only $MNT/info.pool >/tmp/info.out 2>&1; then
		cat /tmp/info.out
		result daxo-info FAIL "could not create a pool for daxo info"
		return
	fi
	daxo info --json $MNT/info.pool >/tmp/info.json 2>/tmp/info.err
	rc=$?
	if [ $rc -ne 0 ]; then
		daxo info $MNT/info.pool --json >/tmp/info.json 2>>/tmp/info.err
		rc=$?
	fi
	if [ $rc -ne 0 ]; then
		cat /tmp/info.err
		result daxo-info SKIP "daxo info --json exits $rc: $(head -c 100 /tmp/info.err | tr '\n' ' ')"
		return
	fi
	cat /tmp/info.json | head -c 2000
	echo
	j=$(tr -d ' \n\t' </tmp/info.json)
	# daxo info opens read-only, a private copy-on-write view (daxo(1)):
	# "pmem" and "map_sync" describe that view, so only "dax" must be true
	dax=$(json_bool "$j" dax is_dax)
	pm=$(json_bool "$j" pmem is_pmem)
	ms=$(json_bool "$j" map_sync map_sync)
	if [ "$dax" = true ]; then
		result daxo-info PASS "dax=true (read-only view: pmem=$pm map_sync=$ms)"
	else
		result daxo-info FAIL "daxo info --json on the DAX mount: dax=$dax"
	fi
	rm -f $MNT/info.pool
}

# xfs_tests -- dax_check on a second DAX file system (same fsdax namespace)
xfs_tests() {
	if [ "$(cfg have_xfs)" != 1 ] || ! grep -q xfs /proc/filesystems; then
		result xfs-check SKIP "no xfs module or mkfs.xfs on the host"
		return 0
	fi
	# DAX and reflink exclude each other on xfs; a 2 MiB stripe unit for
	# PMD faults (and, on this small device, 2 AGs and a 64 MiB log)
	if ! /usr/sbin/mkfs.xfs -q -f -m reflink=0 \
		-d agcount=2,su=2m,sw=1 -l size=64m,su=32k /dev/pmem0 >/tmp/mkfs.out 2>&1; then
		cat /tmp/mkfs.out
		result xfs-check FAIL "mkfs.xfs failed"
		return 1
	fi
	if ! mount -t xfs -o dax /dev/pmem0 $MNT; then
		dmesg | tail -n 5
		result xfs-check FAIL "mount -t xfs -o dax failed"
		return 1
	fi
	log "mounted: $(grep " $MNT " /proc/mounts)"
	trace_on
	run_prog xfs-check 120 dax_check fsdax $MNT
	log "fs_dax tracepoints during xfs-check: $(trace_counts)"
	umount $MNT || result xfs-umount FAIL "umount failed"
}

devdax_tests() {
	setup_devdax fresh || return 1
	result devdax-setup PASS "/dev/dax0.0 $(cat /sys/bus/dax/devices/dax0.0/size 2>/dev/null) bytes, align $(cat /sys/bus/dax/devices/dax0.0/align 2>/dev/null)"
	run_prog devdax-check 120 dax_check devdax /dev/dax0.0
	[ -x /opt/daxo/bin/daxo ] || return 0
	# the pool dax_check left on the device, through the tool
	if daxo info --json /dev/dax0.0 >/tmp/info.json 2>/tmp/info.err; then
		j=$(tr -d ' \n\t' </tmp/info.json)
		if [ "$(json_bool "$j" devdax is_devdax)" = true ]; then
			result daxo-info-devdax PASS "devdax=true dax=$(json_bool "$j" dax is_dax)"
		else
			cat /tmp/info.json
			result daxo-info-devdax FAIL "daxo info --json /dev/dax0.0 does not say devdax"
		fi
	elif grep -q 'read-only opens of device DAX are not supported' /tmp/info.err; then
		result daxo-info-devdax SKIP "daxo info opens read-only, and read-only opens of device DAX are refused (documented in daxo_open)"
	else
		cat /tmp/info.err
		result daxo-info-devdax FAIL "daxo info --json /dev/dax0.0: $(head -c 120 /tmp/info.err | tr '\n' ' ')"
	fi
	devdax_4k_tests
}

# devdax_4k_tests -- a device-DAX namespace with 4 KiB pages (no PMD)
devdax_4k_tests() {
	if ! ndctl create-namespace -f -e namespace0.0 -m devdax -a 4k >/tmp/ns.json 2>&1; then
		cat /tmp/ns.json
		result devdax-4k-setup FAIL "ndctl create-namespace -m devdax -a 4k failed"
		return 1
	fi
	log "namespace: $(tr -d '\n ' </tmp/ns.json)"
	wait_for /dev/dax0.0 10 || {
		result devdax-4k-setup FAIL "no /dev/dax0.0 after create-namespace -a 4k"
		return 1
	}
	# the namespace's data survives the change of alignment: the pool of
	# devdax-check must open with its data, and daxo_create refuse it
	run_prog devdax-4k-reopen 120 dax_check devdax-exists /dev/dax0.0
	dax_check wipe /dev/dax0.0
	run_prog devdax-4k-check 120 dax_check devdax /dev/dax0.0
}

# daemon_tests -- daxod in the guest: the device via ndctl, PMD/PTE faults
daemon_tests() {
	if ! setup_fsdax fresh; then
		return 1
	fi
	sock=/run/daxod.sock
	mkdir -p /run
	daxod --socket $sock >/tmp/daxod.log 2>&1 &
	dpid=$!
	wait_for $sock 20 || {
		cat /tmp/daxod.log
		result daemon-start FAIL "daxod made no socket $sock in 20 s"
		return 1
	}
	result daemon-start PASS "socket $sock"
	# ground truth from the fs_dax tracepoints, next to what daxod says
	T=/sys/kernel/tracing
	[ -d $T/events/fs_dax ] || T=/sys/kernel/debug/tracing
	echo > $T/trace
	echo 1 > $T/events/fs_dax/dax_pmd_fault_done/enable
	echo 1 > $T/events/fs_dax/dax_pte_fault_done/enable
	rm -f $MNT/daemon.pool
	DAXO_SOCKET=$sock dax_check hold $MNT/daemon.pool /tmp/hold.ready \
		>/tmp/hold.out 2>&1 &
	hpid=$!
	wait_for /tmp/hold.ready 60 || {
		cat /tmp/hold.out
		result daemon-pool FAIL "the pool holder did not get ready"
		kill $dpid
		return 1
	}
	sleep 3
	daxo stat --socket $sock --json >/tmp/stat.json 2>/tmp/stat.err
	rc=$?
	echo 0 > $T/events/fs_dax/dax_pmd_fault_done/enable
	echo 0 > $T/events/fs_dax/dax_pte_fault_done/enable
	# successful PMD faults say NOPAGE; FALLBACK ones are retried as PTE
	tpmd=$(grep 'dax_pmd_fault_done' $T/trace | grep -c NOPAGE)
	tfb=$(grep 'dax_pmd_fault_done' $T/trace | grep -c FALLBACK)
	tpte=$(grep -c 'dax_pte_fault_done' $T/trace)
	log "fs_dax tracepoints while the pool was touched: pmd=$tpmd pmd_fallback=$tfb pte=$tpte"
	log "PMD fault results: $(grep 'dax_pmd_fault_done' $T/trace | awk '{print $NF}' | sort | uniq -c | tr '\n' ' ')"
	kill $hpid 2>/dev/null
	if [ $rc -ne 0 ]; then
		cat /tmp/stat.err
		result daemon-stat FAIL "daxo stat --json exits $rc"
		kill $dpid
		return 1
	fi
	head -c 3000 /tmp/stat.json
	echo
	j=$(tr -d ' \n\t' </tmp/stat.json)
	case "$j" in
	*'"devices":[]'* | *'"devices":null'*)
		result daemon-devices FAIL "daxod lists no devices (ndctl sees namespace0.0)" ;;
	*'"devices":['*namespace0.0*)
		result daemon-devices PASS "namespace0.0 listed" ;;
	*'"devices":['*pmem0*)
		result daemon-devices PASS "pmem0 listed" ;;
	*) result daemon-devices FAIL "no devices array naming namespace0.0/pmem0" ;;
	esac
	# the fsdax namespace is in use (pfn device, /dev/pmem0 mounted): ndctl
	# lists it with its blockdev; daxod should say the same
	nsobj=$(echo "$j" | sed -n 's/.*\({[^{}]*"dev":"namespace0.0"[^{}]*}\).*/\1/p')
	log "daxod on namespace0.0: $nsobj; ndctl: $(ndctl list -n namespace0.0 | tr -d ' \n')"
	case "$nsobj" in
	*'"enabled":false'*)
		result daemon-namespace FAIL "daxod says namespace0.0 is not enabled, but it is active in fsdax mode with /dev/pmem0 mounted" ;;
	*'"blockdev":"pmem0"'*)
		result daemon-namespace PASS "namespace0.0 active, blockdev pmem0" ;;
	*) result daemon-namespace FAIL "daxod does not give namespace0.0's blockdev pmem0" ;;
	esac
	case "$j" in
	*"$MNT/daemon.pool"*) ;;
	*)
		result daemon-faults FAIL "pool $MNT/daemon.pool not in daxo stat --json"
		kill $dpid
		return 1
		;;
	esac
	dpmd=$(echo "$j" | sed -n 's/.*"pmd":\([0-9]*\).*/\1/p')
	dpte=$(echo "$j" | sed -n 's/.*"pte":\([0-9]*\).*/\1/p')
	tp="tracepoints pmd=$tpmd pmd_fallback=$tfb pte=$tpte"
	if [ -z "$dpmd" ] || [ -z "$dpte" ]; then
		result daemon-faults FAIL "no numeric faults.pmd/faults.pte in the JSON"
	elif [ $((dpmd + dpte)) -eq 0 ]; then
		result daemon-faults FAIL "daxod reports no PMD or PTE faults ($tp)"
	elif [ "$tpmd" -gt 0 ] && [ "$dpmd" -eq 0 ]; then
		result daemon-faults FAIL "daxod reports pmd=0, but the kernel made $tpmd PMD faults ($tp)"
	elif [ "$tpmd" -eq 0 ] && [ "$dpmd" -gt 0 ]; then
		result daemon-faults FAIL "daxod reports pmd=$dpmd, but the kernel made no PMD faults ($tp)"
	elif [ "$tpte" -gt 0 ] && [ "$dpte" -eq 0 ]; then
		result daemon-faults FAIL "daxod reports pte=0, but the kernel made $tpte PTE faults ($tp)"
	elif [ "$tpte" -eq 0 ] && [ "$dpte" -gt 0 ]; then
		result daemon-faults FAIL "daxod reports pte=$dpte, but the kernel made no PTE faults ($tp)"
	else
		result daemon-faults PASS "daxod pmd=$dpmd pte=$dpte; $tp"
	fi
	kill $dpid
}

# setup_devdax FRESH -- namespace0.0 as devdax, /dev/dax0.0
setup_devdax() {
	if ! wait_for /sys/bus/nd/devices/namespace0.0 15; then
		result devdax-setup FAIL "no namespace0.0 (nfit/libnvdimm did not find the NVDIMM)"
		return 1
	fi
	if [ "$1" = fresh ] || [ "$(ns_mode)" != devdax ]; then
		if ! ndctl create-namespace -f -e namespace0.0 -m devdax >/tmp/ns.json 2>&1; then
			cat /tmp/ns.json
			result devdax-setup FAIL "ndctl create-namespace -m devdax failed"
			return 1
		fi
		log "namespace: $(tr -d '\n ' </tmp/ns.json)"
	fi
	if ! wait_for /dev/dax0.0 10; then
		result devdax-setup FAIL "no /dev/dax0.0"
		return 1
	fi
	return 0
}

# pc_setup FRESH -- the namespace of this power-cut run; sets PC_POOL
pc_setup() {
	if [ "$pc_ns" = devdax ]; then
		PC_POOL=/dev/dax0.0
		setup_devdax "$1"
	else
		PC_POOL=$MNT/pc.pool
		setup_fsdax "$1"
	fi
}

# pc_verify ROUND -- open the pool (recovery runs) and check the invariants
pc_verify() {
	run_prog "powercut-verify-r$1" 300 $PC_PROG verify $PC_POOL
}

# pc_check ROUND -- `daxo check` on the recovered pool, where the tool has it
pc_check() {
	if [ ! -x /opt/daxo/bin/daxo ]; then
		result "powercut-check-r$1" SKIP "the daxo tool is not built"
		return
	fi
	daxo check $PC_POOL >/tmp/check.out 2>&1
	rc=$?
	sed "s/^/  [daxo check] /" /tmp/check.out | tail -n 20
	if grep -q "unknown command 'check'" /tmp/check.out; then
		result "powercut-check-r$1" SKIP "daxo has no check command yet"
	elif [ $rc -eq 0 ]; then
		result "powercut-check-r$1" PASS "daxo check: consistent"
	elif grep -q 'read-only opens of device DAX are not supported' /tmp/check.out; then
		result "powercut-check-r$1" SKIP "daxo check cannot open device DAX read-only"
	else
		result "powercut-check-r$1" FAIL "daxo check exits $rc after recovery"
	fi
}

# pc_write create|write -- run the writer until the host pulls the plug
pc_write() {
	say "QEMU-PC writer-start"
	# the time limit only guards a host that never cuts
	timeout -s KILL 600 $PC_PROG "$1" $PC_POOL
	rc=$?
	if [ $rc -eq 77 ]; then
		result powercut-writer SKIP "$PC_PROG cannot run here (see its output)"
	else
		result powercut-writer FAIL "the writer stopped by itself (exit $rc) before the power cut"
	fi
}

mode=$(sed -n 's/.*daxo\.mode=\([a-z0-9-]*\).*/\1/p' /proc/cmdline)
round=$(sed -n 's/.*daxo\.round=\([0-9]*\).*/\1/p' /proc/cmdline)
pc_ns=$(sed -n 's/.*daxo\.ns=\([a-z]*\).*/\1/p' /proc/cmdline)
pc_ns=${pc_ns:-fsdax}
pc_wl=$(sed -n 's/.*daxo\.wl=\([a-z]*\).*/\1/p' /proc/cmdline)
PC_PROG=powercut_writer
[ "$pc_wl" = kv ] && PC_PROG=powercut_kv
log "guest up at ${t_start} s, mode $mode, kernel $(uname -r)"
case "$mode" in
dax)
	dax_mount_tests
	xfs_tests
	devdax_tests
	;;
daemon)
	daemon_tests
	;;
pc-first)
	pc_setup fresh && pc_write create
	;;
pc-next)
	if pc_setup keep; then
		pc_verify "$round" && pc_check "$round"
		pc_write write
	fi
	;;
pc-final)
	if pc_setup keep; then
		pc_verify "$round" && pc_check "$round"
		[ "$pc_ns" = fsdax ] && umount $MNT
	fi
	;;
*)
	result guest-mode FAIL "unknown daxo.mode '$mode'"
	;;
esac
say "QEMU-DONE $(cut -d. -f1 /proc/uptime) s"
