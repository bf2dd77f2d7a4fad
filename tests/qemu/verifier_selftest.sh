#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# verifier_selftest.sh -- prove that the power-cut verifier can fail. Runs on
# the host (no QEMU): powercut_writer writes a pool in ${DAXO_TEST_DIR:-/dev/shm}
# (emulated pmem) and is SIGKILLed; its verifier must accept the pool. Then each
# planted fault (money created, a leaked record, a damaged record) in a copy
# of the pool must be rejected.
#
#   verifier_selftest.sh POWERCUT_WRITER
set -u
W=${1:?usage: verifier_selftest.sh POWERCUT_WRITER}
export PMEM_IS_PMEM_FORCE=1
D=$(mktemp -d "${DAXO_TEST_DIR:-/dev/shm}"/daxo-qemu-verifier.XXXXXX) || exit 1
trap 'rm -rf "$D"' EXIT
fails=0

"$W" create "$D/pc.pool" >"$D/writer.out" 2>&1 &
pid=$!
for _ in $(seq 100); do
	grep -q 'QEMU-PC committed' "$D/writer.out" && break
	sleep 0.05
done
sleep 0.3
kill -9 $pid
wait $pid 2>/dev/null
if ! grep -q 'QEMU-PC committed' "$D/writer.out"; then
	cat "$D/writer.out"
	echo "FAIL: the writer committed nothing"
	exit 1
fi
if "$W" verify "$D/pc.pool"; then
	echo "ok: the verifier accepts the pool of a killed writer"
else
	echo "FAIL: the verifier rejects the pool of a killed writer"
	fails=$((fails + 1))
fi
for how in money leak record; do
	cp "$D/pc.pool" "$D/t.pool"
	if ! "$W" tamper $how "$D/t.pool"; then
		echo "FAIL: could not plant '$how'"
		fails=$((fails + 1))
	elif out=$("$W" verify "$D/t.pool" 2>&1); then
		echo "$out"
		echo "FAIL: the verifier accepts a pool with '$how' planted"
		fails=$((fails + 1))
	else
		echo "ok: '$how' found: $(echo "$out" | grep -m1 FAIL)"
	fi
	rm -f "$D/t.pool"
done
[ $fails -eq 0 ] && echo "verifier self-test: all planted faults found"
exit $((fails > 0))
