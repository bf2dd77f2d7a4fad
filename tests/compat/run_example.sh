#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# run_example.sh -- one scripted session of one of PMDK's example programs,
# run twice: with the program built on daxo's libpmemobj layer
# ($EXDIR/daxo-*) and with the same source built on the system's
# libpmemobj ($EXDIR/pmdk-*). The two transcripts (standard output and
# every exit status) must be the same. After the daxo run, `daxo check`
# must find every pool it left consistent.
#
# usage: run_example.sh SESSION      (SESSION: see the s_* functions)
# env:   EXDIR (the build directory of tests/compat), DAXO_TOOL; KEEP=1
#        keeps the work directory (transcripts, pools) for a look
set -u

session=$1
: "${EXDIR:?EXDIR is not set}"
HERE=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${DAXO_TEST_DIR:-/dev/shm}"/daxo-compat.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
export PMEM_IS_PMEM_FORCE=1

# X PROG ARGS... -- run PROG of the current flavour; note its exit status
X() {
	local p=$1
	shift
	if [ ! -x "$EXDIR/$FL-$p" ]; then
		echo "SKIP: $FL-$p was not built (its headers or libraries are" \
			"missing: see tests/compat/meson.build)"
		exit 77
	fi
	"$EXDIR/$FL-$p" "$@"
	echo "[$p: exit $?]"
}

# a private /pmem-fs for the examples that hard-code /pmem-fs/myfile
# (manpage.c): a mount namespace whose root holds the system's /usr,
# /etc, /dev, /proc, the build tree and an empty /pmem-fs on a tmpfs
in_pmem_fs() {
	local r=$work/root-$FL
	mkdir -p "$r"
	unshare --mount --map-root-user bash -s "$r" "$@" <<'EOS'
set -e
r=$1
shift
mount -t tmpfs -o size=1100m none "$r"
for d in usr etc dev proc; do
	mkdir -p "$r/$d"
	mount --rbind "/$d" "$r/$d"
done
for l in bin sbin lib lib32 lib64 libx32; do
	if [ -L "/$l" ]; then
		ln -s "$(readlink "/$l")" "$r/$l"
	elif [ -d "/$l" ]; then
		mkdir -p "$r/$l" && mount --rbind "/$l" "$r/$l"
	fi
done
build=$(cd "$EXDIR/../.." && pwd)
mkdir -p "$r$build" "$r/pmem-fs"
mount --rbind "$build" "$r$build"
exec chroot "$r" "$@"
EOS
}

# ---- the sessions: each prints its transcript ----

MAPCLI_1='i 5\ni 3\ni 9\ni 1\nn 300\nc 3\nc 4\nr 3\nc 3\np\nq\n'
MAPCLI_2='c 5\nc 3\nr 9\nc 9\ni 42\nn 40\nr 5\np\nq\n'

s_mapcli() {
	local m=$1
	# PMDK's ctree crashes in pmemobj_type_num(OID_NULL) when mapcli
	# inserts its null values (libpmemobj dereferences the null pool);
	# a tree map prints its keys sorted, so the reference is btree's
	[ "$FL" = pmdk ] && [ "$m" = ctree ] && m=btree
	printf "$MAPCLI_1" | X mapcli "$m" "$P/map" 7
	printf "$MAPCLI_2" | X mapcli "$m" "$P/map" 11
}

s_data_store() {
	# random keys (seeded by the time): the transcript is the exit
	# statuses; the program asserts what it inserted is all there
	X data_store "$1" "$P/ds" 2000
	X data_store "$1" "$P/ds" 500
}

s_btree() {
	X btree "$P/bt" i 1 one
	X btree "$P/bt" i 2 two
	X btree "$P/bt" i 0 zero
	for k in $(seq 10 40); do
		X btree "$P/bt" i "$k" "v$k" >/dev/null
	done
	X btree "$P/bt" p
	X btree "$P/bt" f 2
	X btree "$P/bt" f 7
}

s_lists() {
	X lists "$P/l" 1 foo 10
	X lists "$P/l" 1 foo 20
	X lists "$P/l" 2 bar 30
	X lists "$P/l" 1 bar 40
	X lists "$P/l" 1 foo print
	X lists "$P/l" 2 bar print
	X lists "$P/l" 1 bar print
}

s_pi() {
	# two threads, two tasks: the sum is the same either way (a + b),
	# but the list of tasks done is in the order they finished
	X pi "$P/pi" calc 2 40
	X pi "$P/pi" print
	X pi "$P/pi" done | sort
	X pi "$P/pi" todo
}

s_buffons_needle_problem() {
	# seeded by the time: the estimate of pi must be near it. Its
	# standard deviation is about 0.006 with 200,000 needles and 0.09
	# with 1,000 (hits binomial, p = 2 * 0.9 / pi): the windows are more
	# than five deviations wide (2.9-3.4 with 1,000 needles, under three,
	# misses about 1 run in 250, and the test runs it twice)
	X buffons_needle_problem "$P/b" 200000 |
		awk '/^\[/ { print; next }
		     { print ($1 > 2.9 && $1 < 3.4) ? "pi near" : "off: " $0 }'
	X buffons_needle_problem "$P/b" 1000 |
		awk '/^\[/ { print; next }
		     { print ($1 > 2.7 && $1 < 3.7) ? "pi near" : "off: " $0 }'
}

s_fifo() {
	for c in a b c d; do
		X fifo "$P/f" insert "$c"
	done
	X fifo "$P/f" print
	X fifo "$P/f" remove
	X fifo "$P/f" remove
	X fifo "$P/f" print
}

s_queue() {
	# the pool must exist: pmempool create obj --layout queue
	X mkpool "$P/q" queue
	X queue "$P/q" new 4
	for w in hello world one two three; do
		X queue "$P/q" enqueue "$w"
	done
	X queue "$P/q" show
	X queue "$P/q" dequeue
	X queue "$P/q" dequeue
	X queue "$P/q" enqueue four
	X queue "$P/q" show
}

s_slab_allocator() {
	# asserts the usable size of objects of its allocation classes
	X slab_allocator "$P/s"
	X slab_allocator "$P/s"
}

string_store() {
	echo "hello123456" | X "$1_writer" "$P/$1"
	X "$1_reader" "$P/$1"
}
s_string_store() { string_store string_store; }
s_string_store_tx() { string_store string_store_tx; }
s_string_store_tx_type() { string_store string_store_tx_type; }

pmemlog() {
	X "$1" c "$P/$1" a:hello a:world v:foo:bar n t w r t
	X "$1" o "$P/$1" a:again w t
}
s_obj_pmemlog() { pmemlog obj_pmemlog; }
s_obj_pmemlog_macros() { pmemlog obj_pmemlog_macros; }
s_obj_pmemlog_minimal() { pmemlog obj_pmemlog_minimal; }
s_obj_pmemlog_simple() { pmemlog obj_pmemlog_simple; }

s_obj_pmemblk() {
	X obj_pmemblk c "$P/blk" 512 w:0:hello w:5:world r:0 r:5 r:3 z:5 \
		r:5 e:1 n
	X obj_pmemblk o "$P/blk" 512 r:0 w:9:again r:9 n
}

s_arttree() {
	printf 'key1\nval1\nkey2\nval2\nabc\nxyz\nkey10\nval10\n' |
		X arttree -m f -n 4 "$P/art"
	X arttree -m d "$P/art"
	# the graph names nodes by their addresses
	X arttree -m g "$P/art" | anon
}

# anon -- addresses (0x... or N... in a graph) become the number of their
# first appearance, pool UUIDs U, and decimal copies of offsets go, so
# that the shapes of two pools compare
anon() {
	sed -E 's/pool_uuid_lo [0-9a-f]{2,}/pool_uuid_lo U/; s/ = [0-9]+ }/ }/' |
		awk '{
		out = ""
		while (match($0, /(0x|N)[0-9a-f][0-9a-f][0-9a-f]+/)) {
			a = substr($0, RSTART + (substr($0, RSTART, 1) == "N" ? 1 : 2),
				   RLENGTH - (substr($0, RSTART, 1) == "N" ? 1 : 2))
			if (!(a in id))
				id[a] = ++n
			out = out substr($0, 1, RSTART - 1) "@" id[a]
			$0 = substr($0, RSTART + RLENGTH)
		}
		print out $0
	}'
}

s_examine_arttree() {
	# the examiner reads the pool file itself, at the offsets that
	# PMEMoids hold: it follows the tree from its top node (the graph's
	# first) to a leaf and its key and value
	printf 'key1\nval1\nkey2\nval2\nabc\nxyz\n' |
		X arttree -m f -n 3 "$P/art"
	local top n4 kids k leaf key
	top=$("$EXDIR/$FL-arttree" -m g "$P/art" |
		sed -n 's/^N\([0-9a-f]*\) \[label="node4.*/0x\1/p' | head -1)
	ex() {
		printf 'examine %s %s\nquit\n' "$1" "$2" |
			X examine_arttree "$P/art" | tee "$work/ex.$FL" | anon
	}
	off_of() {
		sed -n "s/.*$1[a-z ]* oid .* off \\(0x[0-9a-f]*\\).*/\\1/p" \
			"$work/ex.$FL"
	}
	ex "$top" art_node_u
	n4=$(off_of art_node4)
	ex "$n4" art_node4
	kids=$(off_of art_node_u | grep -v '^0x0$')
	for k in $kids; do
		ex "$k" art_node_u
		leaf=$(off_of art_leaf)
		[ -n "$leaf" ] || continue
		ex "$leaf" art_leaf
		for key in $(off_of var_string); do
			ex "$key" var_string
		done
	done
}

s_kv_server() {
	local port
	port=$(python3 -c 'import socket; s = socket.socket();
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	"$EXDIR/$FL-kv_server" btree "$P/kv" "$port" >"$work/kv-$FL.log" 2>&1 &
	local pid=$!
	local i
	for i in $(seq 50); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
		sleep 0.1
	done
	kv() {
		exec 3<>"/dev/tcp/127.0.0.1/$port"
		printf "$1" >&3
		timeout 5 cat <&3
		exec 3<&-
	}
	kv 'INSERT foo bar\nINSERT k2 v2\nGET foo\nGET nope\nBYE\n'
	kv 'GET foo\nREMOVE foo\nGET foo\nGET k2\nKILL\n'
	wait "$pid"
	echo "[kv_server: exit $?]"
}

s_manpage() {
	# hard-coded /pmem-fs/myfile, 1 GiB: a private /pmem-fs for it
	if ! unshare --mount --map-root-user true 2>/dev/null; then
		echo "SKIP: no mount namespaces here for a private /pmem-fs"
		exit 77
	fi
	in_pmem_fs "$EXDIR/$FL-manpage"
	echo "[manpage: exit $?]"
	in_pmem_fs bash -c "'$EXDIR/$FL-manpage'; '$EXDIR/$FL-manpage'"
	echo "[manpage twice: exit $?]"
}

s_setjmp() {
	# hard-coded /pmem-fs/myfile: the transaction aborts, the example's
	# point is which locals its ONABORT and FINALLY clauses may trust
	# (the same binary code on both sides); a second run finds the pool
	# there and fails to create it
	if ! unshare --mount --map-root-user true 2>/dev/null; then
		echo "SKIP: no mount namespaces here for a private /pmem-fs"
		exit 77
	fi
	in_pmem_fs "$EXDIR/$FL-setjmp"
	echo "[setjmp: exit $?]"
	in_pmem_fs bash -c "'$EXDIR/$FL-setjmp'; '$EXDIR/$FL-setjmp'"
	echo "[setjmp twice: exit $?]"
}

# keys KEYS PROG ARGS... -- PROG of the current flavour on a terminal
# (pty_keys.py), fed KEYS one every 0.15 s; its exit status
keys() {
	local k=$1 p=$2
	shift 2
	if [ ! -x "$EXDIR/$FL-$p" ]; then
		echo "SKIP: $FL-$p was not built (ncurses is missing)"
		exit 77
	fi
	echo "[$p: exit $(python3 "$HERE/pty_keys.py" "$k" \
		"$EXDIR/$FL-$p" "$@")]"
}

# the games draw by the clock: the screens are not compared, only that
# each run plays, quits and leaves a pool that the next run resumes
s_pminvaders() {
	keys 'pp o  oo q' pminvaders "$P/inv"
	keys 'p q' pminvaders "$P/inv"
}
s_pminvaders2() {
	keys ' pp o  oo q' pminvaders2 "$P/inv2"
	keys ' p q' pminvaders2 "$P/inv2"
}

# ---- run both flavours and compare ----

fn=s_${session%%-*}
arg=
[ "$session" != "${session#*-}" ] && arg=${session#*-}
if ! declare -F "$fn" >/dev/null; then
	echo "run_example: no session $session" >&2
	exit 2
fi
for FL in daxo pmdk; do
	if [ ! -x "$EXDIR/$FL-mkpool" ]; then
		echo "SKIP: $EXDIR/$FL-* not built"
		exit 77
	fi
done

for FL in daxo pmdk; do
	P=$work/$FL
	mkdir -p "$P"
	(cd "$P" && $fn $arg) >"$work/$FL.out" 2>"$work/$FL.err"
	rc=$?
	[ $rc = 77 ] && { cat "$work/$FL.out"; exit 77; }
done

fail=0
if ! cmp -s "$work/daxo.out" "$work/pmdk.out"; then
	echo "FAIL: $session: the transcript on daxo differs from libpmemobj's"
	diff -u "$work/pmdk.out" "$work/daxo.out" | head -60
	echo "--- stderr on daxo:"
	head -20 "$work/daxo.err"
	fail=1
fi
# every pool the daxo run left behind is consistent
if [ -n "${DAXO_TOOL:-}" ]; then
	for f in "$work"/daxo/*; do
		[ -f "$f" ] || continue
		if ! out=$("$DAXO_TOOL" check "$f" 2>&1); then
			echo "FAIL: $session: daxo check $(basename "$f"):"
			echo "$out" | head -20
			fail=1
		fi
	done
fi
echo "--- transcript ($(wc -l <"$work/daxo.out") lines):"
head -20 "$work/daxo.out" | cut -c1-160
exit $fail
