# lib.sh: shared helpers for shunt's integration tests, which speak TAP.
#
# Source it; it sets up a temp dir removed on exit (kept when a test failed,
# and named in the output), and kills only the processes the test started.

: "${SHUNT_BINARY:?SHUNT_BINARY must name the shunt binary}"
: "${SHUNT_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"

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
	fi
}

done_testing() {
	echo "1..$tap_n"
	[ "$tap_failed" -eq 0 ]
}
