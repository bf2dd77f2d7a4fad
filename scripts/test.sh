#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# test.sh -- build daxo and run its whole test suite, from nothing.
#
# On a fresh Debian 12 machine (as root, or with sudo) it installs what is
# missing, then:
#   1. build-ci:   meson --werror, build, `meson test` (the suites unit,
#                  crash, daemon, bench; qemu runs in step 1b)
#   1b. a copy of the checkout in a new 0700 directory under /tmp (what a
#                  `git clone` into `mktemp -d` makes), built there
#                  (--werror, no benchmarks): the daemon and qemu suites,
#                  the two that meet other users and other mount points.
#                  The tests must pass wherever the tree and the build are.
#   2. build-asan: the same with -Db_sanitize=address,undefined, running
#                  the unit and daemon suites and the crash tests
#                  labelled "asan" (one exhaustive crash-simulator
#                  workload of ten); any report fails.
#   3. build-tsan: -Db_sanitize=thread, running the threaded tests (suite
#                  "tsan"); any report fails.
#   4. build-fuzz: clang with libFuzzer (--werror), the fuzz suite (each target for a
#                  bounded time over its seed corpus).
# Exits non-zero if anything fails. Every test runs with
# PMEM_IS_PMEM_FORCE=1 (pools on /dev/shm are emulated pmem).
#
# Environment: JOBS (parallel jobs; default: all cores),
# DAXO_SKIP_ASAN=1, DAXO_SKIP_TSAN=1, DAXO_SKIP_FUZZ=1 (skip steps 2-4),
# DAXO_SKIP_CLONE=1 (skip step 1b: then build-ci runs the qemu suite),
# MESON_TEST_ARGS (extra `meson test` args).
set -euo pipefail

cd "$(dirname "$0")/.."
. scripts/common.sh

start=$(date +%s)
install_pkgs "${DAXO_BUILD_PKGS[@]}" "${DAXO_TEST_PKGS[@]}"

export PMEM_IS_PMEM_FORCE=1
jobs=$(cpus)
status=0
DAXO_FAILURES=$(mktemp /tmp/daxo-failures.XXXXXX)
export DAXO_FAILURES

log "build-ci: configure (--werror)"
setup_build build-ci --werror -Dbuildtype=debugoptimized
log "build-ci: build"
ninja -C build-ci -j "$jobs"
if [ "${DAXO_SKIP_CLONE:-0}" != 1 ]; then
	log "build-ci: meson test (all suites but qemu: step 1b runs it)"
	ci_suites=(--no-suite qemu)
else
	log "build-ci: meson test (all suites)"
	ci_suites=()
fi
# shellcheck disable=SC2086
if ! meson test -C build-ci --print-errorlogs --num-processes "$jobs" \
	"${ci_suites[@]}" ${MESON_TEST_ARGS:-}; then
	status=1
	note_failures build-ci build-ci
fi

if [ "${DAXO_SKIP_CLONE:-0}" != 1 ]; then
	# the working tree as it is (tracked and new files, not ignored ones
	# such as build directories), in a directory only root may enter
	clone=$(mktemp -d /tmp/daxo-clone.XXXXXX)
	chmod 0700 "$clone"
	trap 'rm -rf "$clone"' EXIT
	log "clone: $clone/daxo (mode 0700): configure, build"
	mkdir "$clone/daxo"
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		# (--ignore-failed-read: files deleted but not yet committed)
		git ls-files -z --cached --others --exclude-standard |
			tar --null --ignore-failed-read -T - -cf - 2>/dev/null |
			tar -xf - -C "$clone/daxo"
	else
		tar --exclude='./build*' -cf - . | tar -xf - -C "$clone/daxo"
	fi
	(cd "$clone/daxo" && setup_build build --werror \
		-Dbuildtype=debugoptimized -Dbench=disabled >/dev/null &&
		ninja -C build -j "$jobs") || status=1
	log "clone: meson test (daemon, qemu)"
	# shellcheck disable=SC2086
	if ! (cd "$clone/daxo" && meson test -C build --print-errorlogs \
		--num-processes "$jobs" --suite daemon --suite qemu \
		${MESON_TEST_ARGS:-}); then
		status=1
		note_failures "$clone/daxo/build" clone
	fi
	# the clone's logs stay with the checkout's
	mkdir -p build-ci/meson-logs-clone
	cp -r "$clone/daxo/build/meson-logs/." build-ci/meson-logs-clone/ ||
		true
	rm -rf "$clone"
	trap - EXIT
fi

if [ "${DAXO_SKIP_ASAN:-0}" != 1 ]; then
	log "build-asan: configure (ASan + UBSan)"
	setup_build build-asan --werror -Dbuildtype=debug \
		-Db_sanitize=address,undefined -Db_lundef=false \
		-Dc_args=-fno-sanitize-recover=all -Dbench=disabled
	log "build-asan: build"
	ninja -C build-asan -j "$jobs"
	log "build-asan: meson test (suites unit, daemon, asan)"
	export ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1:strict_string_checks=1
	export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
	# the crash tests labelled asan: all but the exhaustive simulator runs
	# (minutes each under ASan), of which one (tests/meson.build)
	# shellcheck disable=SC2086
	if ! meson test -C build-asan --print-errorlogs --num-processes "$jobs" \
		--suite unit --suite daemon --suite asan ${MESON_TEST_ARGS:-}; then
		status=1
		note_failures build-asan build-asan
	fi
fi

if [ "${DAXO_SKIP_TSAN:-0}" != 1 ]; then
	# the threaded paths under ThreadSanitizer: every test whose name
	# says it is threaded (suite unit), any report fails
	log "build-tsan: configure (TSan)"
	setup_build build-tsan --werror -Dbuildtype=debug -Db_sanitize=thread \
		-Db_lundef=false -Dbench=disabled -Dqemu_tests=false
	log "build-tsan: build"
	ninja -C build-tsan -j "$jobs"
	log "build-tsan: threaded tests"
	export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
	# shellcheck disable=SC2086
	if ! meson test -C build-tsan --print-errorlogs --num-processes "$jobs" \
		--suite tsan ${MESON_TEST_ARGS:-}; then
		status=1
		note_failures build-tsan build-tsan
	fi
fi

if [ "${DAXO_SKIP_FUZZ:-0}" != 1 ]; then
	# libFuzzer targets (clang), each for a bounded time over its corpus
	log "build-fuzz: configure (clang, libFuzzer)"
	CC=clang-14 setup_build build-fuzz --werror -Dbuildtype=debug \
		-Dfuzz=true -Dbench=disabled -Dqemu_tests=false -Db_lundef=false
	log "build-fuzz: build"
	ninja -C build-fuzz -j "$jobs"
	log "build-fuzz: fuzz suite"
	# shellcheck disable=SC2086
	if ! meson test -C build-fuzz --print-errorlogs --num-processes "$jobs" \
		--suite fuzz ${MESON_TEST_ARGS:-}; then
		status=1
		note_failures build-fuzz build-fuzz
	fi
fi

if [ -s "$DAXO_FAILURES" ]; then
	log "what failed"
	cat "$DAXO_FAILURES"
fi
rm -f "$DAXO_FAILURES"
log "done in $(($(date +%s) - start)) s: $([ $status = 0 ] && echo PASS || echo FAIL)"
exit $status
