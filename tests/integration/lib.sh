# lib.sh: shared helpers for shunt's integration tests, which speak TAP.
#
# Source it; it sets up a temp dir removed on exit (kept when a test failed,
# and named in the output), and kills only the processes the test started.

: "${SHUNT_BINARY:?SHUNT_BINARY must name the shunt binary}"
: "${SHUNT_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
# SHUNT_SLOW: a whole factor for the bounded waits below, for a shunt that
# runs slower than usual (make check-valgrind sets it).
: "${SHUNT_SLOW:=1}"

TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/shunt-test.XXXXXX")
tap_n=0
tap_failed=0
test_pids=""

test_cleanup() {
	for pid in $test_pids; do
		kill "$pid" 2>/dev/null
	done
	for pid in $test_pids; do
		wait "$pid" 2>/dev/null
	done
	if [ "$tap_failed" -eq 0 ]; then
		rm -rf "$TEST_TMP"
	else
		echo "# kept $TEST_TMP"
	fi
}
trap test_cleanup EXIT
trap 'exit 1' INT TERM

ok() {
	tap_n=$((tap_n + 1))
	echo "ok $tap_n - $*"
}

not_ok() {
	tap_n=$((tap_n + 1))
	tap_failed=$((tap_failed + 1))
	echo "not ok $tap_n - $*"
}

# skip DESCRIPTION REASON: a case that cannot run here (TAP SKIP).
skip() {
	tap_n=$((tap_n + 1))
	echo "ok $tap_n - $1 # SKIP $2"
}

# check DESCRIPTION COMMAND...: one TAP line from a command's status.
check() {
	desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# expect_eq DESCRIPTION GOT WANT
expect_eq() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1"
		echo "#   got:  $2"
		echo "#   want: $3"
		return 1
	fi
}

# free_port: print a TCP port nothing listens on now.  Racy by nature, so
# use it at once; binding port 0 lets the kernel pick one from its
# ephemeral range.
free_port() {
	if command -v python3 >/dev/null 2>&1; then
		python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])' && return
	fi
	# No python3: a random port absent from the kernel's socket tables.
	while :; do
		fp=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
		fp=$((fp % 20000 + 30000))
		if ! grep -qi ":$(printf '%04X' "$fp") " /proc/net/tcp \
		    /proc/net/tcp6 2>/dev/null; then
			echo "$fp"
			return
		fi
	done
}

# wait_for FILE: until FILE exists (bounded: 10 s).
wait_for() {
	wf_i=0
	while [ ! -s "$1" ]; do
		wf_i=$((wf_i + 1))
		[ "$wf_i" -gt $((200 * SHUNT_SLOW)) ] && return 1
		sleep 0.05
	done
}

# wait_port PORT: until something accepts on 127.0.0.1:PORT (10 s).
wait_port() {
	wp_i=0
	while ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
		wp_i=$((wp_i + 1))
		[ "$wp_i" -gt $((200 * SHUNT_SLOW)) ] && return 1
		sleep 0.05
	done
}

# start_backend NAME [ARGS...]: run the C test backend on a free port;
# sets BACKEND_PORT and remembers the pid for cleanup.
start_backend() {
	sb_name=$1
	shift
	rm -f "$TEST_TMP/$sb_name.port"
	"${SHUNT_BACKEND:?SHUNT_BACKEND must name the test backend}" \
	    -l 127.0.0.1:0 -p "$TEST_TMP/$sb_name.port" -n "$sb_name" "$@" &
	test_pids="$test_pids $!"
	wait_for "$TEST_TMP/$sb_name.port" || {
		echo "# backend $sb_name did not start"
		return 1
	}
	BACKEND_PORT=$(cat "$TEST_TMP/$sb_name.port")
}

# start_shunt CONFIG PORT: run shunt in the foreground until PORT accepts;
# sets SHUNT_PID.  Its error log goes to $TEST_TMP/shunt.err.
start_shunt() {
	"$SHUNT_BINARY" -f -c "$1" 2>>"$TEST_TMP/shunt.err" &
	SHUNT_PID=$!
	test_pids="$test_pids $SHUNT_PID"
	wait_port "$2" || {
		echo "# shunt did not start listening on $2"
		sed 's/^/#   /' "$TEST_TMP/shunt.err"
		return 1
	}
}

# stop_shunt: TERM, then wait for the master (bounded).
stop_shunt() {
	kill "$SHUNT_PID" 2>/dev/null
	ss_i=0
	while kill -0 "$SHUNT_PID" 2>/dev/null; do
		ss_i=$((ss_i + 1))
		[ "$ss_i" -gt $((200 * SHUNT_SLOW)) ] &&
		    { kill -9 "$SHUNT_PID"; break; }
		sleep 0.05
	done
	wait "$SHUNT_PID" 2>/dev/null
}

# start_blackhole: sets BLACKHOLE to the port of a peer that never completes a
# handshake (blackhole.py; empty without python3).
start_blackhole() {
BLACKHOLE=""
if command -v python3 >/dev/null 2>&1; then
	python3 "$SHUNT_SRCDIR/tests/integration/blackhole.py" \
	    "$TEST_TMP/blackhole.port" 120 &
	test_pids="$test_pids $!"
	if wait_for "$TEST_TMP/blackhole.port"; then
		bh=$(cat "$TEST_TMP/blackhole.port")
		# It qualifies only if a connect to it really hangs.
		timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$bh" 2>/dev/null
		[ $? -eq 124 ] && BLACKHOLE=$bh
	fi
fi
}

# wait_until TENTHS COMMAND...: poll COMMAND every 0.1 s, at most TENTHS
# times (times SHUNT_SLOW).
wait_until() {
	wu_n=$(($1 * SHUNT_SLOW))
	shift
	while [ "$wu_n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		wu_n=$((wu_n - 1))
	done
	return 1
}

# alive PID: the process exists and is not a zombie waiting for wait(1).
alive() {
	[ -r "/proc/$1/stat" ] || return 1
	case $(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) in
	Z*|X*|"") return 1 ;;
	esac
	return 0
}

none_alive() {
	for na_pid in "$@"; do
		alive "$na_pid" && return 1
	done
	return 0
}

# run CMD...: sets $out (stdout+stderr) and $rc, bounded by RUN_TIMEOUT
# seconds (10, times SHUNT_SLOW).
run() {
	out=$(timeout "$((${RUN_TIMEOUT:-10} * SHUNT_SLOW))" "$@" 2>&1)
	rc=$?
}

# show_errors: the error logs of this test, as TAP comments.
show_errors() {
	for f in "$TEST_TMP"/*.err "$TEST_TMP"/error.log; do
		[ -s "$f" ] || continue
		echo "# --- $f"
		tail -n 30 "$f" | sed 's/^/#   /'
	done
}

done_testing() {
	[ "$tap_failed" -eq 0 ] || show_errors
	echo "1..$tap_n"
	[ "$tap_failed" -eq 0 ]
}
