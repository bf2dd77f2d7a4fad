# SPDX-License-Identifier: BSD-3-Clause
#
# common.sh -- sourced by scripts/test.sh and scripts/demo.sh: install the
# Debian packages daxo needs (only those missing, so a second run is fast)
# and configure/build a meson build directory.

# what building and testing daxo needs on Debian 12
DAXO_BUILD_PKGS=(
	build-essential gcc g++ make binutils meson ninja-build pkg-config
	libpmem-dev libpmemobj-dev libndctl-dev libdaxctl-dev
	libcmocka-dev libjson-c-dev libxxhash-dev uuid-dev libinih-dev
	libmicrohttpd-dev
	zlib1g-dev python3
	liblmdb-dev librocksdb-dev
	# the compat suite builds PMDK's examples (in libpmemobj-dev): the
	# pmemlog/pmemblk ones need those headers, kv_server libuv,
	# pminvaders ncurses
	libpmemlog-dev libpmemblk-dev libuv1-dev libncurses-dev
)
# and for the whole test suite: clang (fuzz targets) and the QEMU
# emulated-pmem harness (kernel, initramfs tools, file systems, ndctl)
DAXO_TEST_PKGS=(
	clang-14 libclang-rt-14-dev
	qemu-system-x86 linux-image-amd64 busybox-static ndctl daxctl
	e2fsprogs xfsprogs cpio
	man-db groff-base
)

log() {
	printf '\n==> %s\n' "$*"
}

# install_pkgs PKG... -- apt-get install whichever are not installed yet
install_pkgs() {
	local missing=() p
	for p in "$@"; do
		if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != \
			"install ok installed" ]; then
			missing+=("$p")
		fi
	done
	if [ ${#missing[@]} = 0 ]; then
		log "packages: all ${#@} installed"
		return 0
	fi
	log "packages: installing ${missing[*]}"
	local sudo=
	if [ "$(id -u)" != 0 ]; then
		if command -v sudo >/dev/null; then
			sudo=sudo
		else
			echo "need root (or sudo) to install: ${missing[*]}" >&2
			return 1
		fi
	fi
	# INITRD=No: the kernel is only booted by the QEMU suite, with an
	# initramfs of its own (tests/qemu); Debian's initrd would cost
	# minutes per kernel (measured: 7 min on a 2-core box)
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
	$sudo env DEBIAN_FRONTEND=noninteractive INITRD=No \
		apt-get install -y -q -o Dpkg::Use-Pty=0 \
		--no-install-recommends "${missing[@]}"
}

# setup_build DIR MESON-ARGS... -- configure DIR (again, if it exists)
setup_build() {
	local dir=$1
	shift
	if [ -f "$dir/meson-private/coredata.dat" ]; then
		meson setup --reconfigure "$dir" "$@" >/dev/null ||
			meson setup --wipe "$dir" "$@"
	else
		rm -rf "$dir"
		meson setup "$dir" "$@"
	fi
}

# cpus -- jobs to run: the machine's cores, at most JOBS if set
cpus() {
	local n
	n=$(nproc 2>/dev/null || echo 2)
	echo "${JOBS:-$n}"
}

# note_failures DIR LABEL -- append to $DAXO_FAILURES (a file) the tests of
# DIR's last `meson test` that failed, timed out or passed unexpectedly,
# each with the end of its output. test.sh prints the file last, so that
# the tail of a CI log (often all that is kept) names what failed.
note_failures() {
	local dir=$1 label=$2
	[ -n "${DAXO_FAILURES:-}" ] || return 0
	python3 - "$dir/meson-logs/testlog.json" "$label" \
		>>"$DAXO_FAILURES" <<'PY' || true
import json, sys
path, label = sys.argv[1], sys.argv[2]
bad = ("FAIL", "TIMEOUT", "UNEXPECTEDPASS", "ERROR")
shown = 0
try:
    lines = open(path, encoding="utf-8", errors="replace").readlines()
except OSError as e:
    print(f"{label}: no test log ({e})")
    sys.exit(0)
for line in lines:
    try:
        t = json.loads(line)
    except ValueError:
        continue
    if t.get("result") not in bad:
        continue
    shown += 1
    if shown > 8:
        print(f"{label}: more failures, see {path}")
        break
    print(f"--- {label}: {t.get('name')} {t.get('result')} "
          f"({t.get('duration', 0):.1f} s, exit {t.get('returncode')})")
    out = ((t.get("stdout") or "") + (t.get("stderr") or "")).splitlines()
    # suites of many cases (the QEMU guest's, the shell tests') say which
    # failed long before their last lines: those lines first
    said = [l for l in out[:-40] if "FAIL" in l][:20]
    for l in said:
        print("    " + l[:300])
    if said:
        print("    ...")
    for l in out[-40:]:
        print("    " + l[:300])
if shown == 0:
    print(f"{label}: meson test failed, no failed test in {path}")
PY
}
