# SPDX-License-Identifier: BSD-3-Clause
#
# testlib.sh -- what the shell tests of the tools share (sourced): fail
# counts a failure, expect runs a command and compares its exit code, same
# compares two files. The sourcing script sets $dir (its scratch folder).

fails=0
n=0

# fail WHY -- report a failure and count it
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

# expect CODE CMD... -- run CMD (stdin from $IN if set, else /dev/null),
# its output in $dir/out and $dir/err; compare its exit code (128+N: it
# died of signal N)
expect() {
	local want=$1
	shift
	n=$((n + 1))
	"$@" <"${IN:-/dev/null}" >"$dir/out" 2>"$dir/err"
	local got=$?
	if [ "$got" != "$want" ]; then
		fail "'$*' exited $got, expected $want"
		sed 's/^/  stdout: /' "$dir/out"
		sed 's/^/  stderr: /' "$dir/err"
		return 1
	fi
	return 0
}

# same FILE1 FILE2 WHAT -- byte-identical files
same() {
	cmp -s "$1" "$2" || fail "$3: output differs"
}
