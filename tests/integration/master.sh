#!/bin/bash
# The master: prefork, respawn in the same slot, graceful and fast stop,
# the pid file and its guard, shunt -s, bind conflicts.
. "$(dirname "$0")/lib.sh"

port=$(free_port)
upstream=$(free_port)	# nothing listens there: the status does not matter
conf=$TEST_TMP/shunt.json
pidfile=$TEST_TMP/shunt.pid
errlog=$TEST_TMP/error.log

cat > "$conf" <<JSON
{
  "workers": 4,
  "pid_file": "$pidfile",
  "state_dir": "$TEST_TMP/state",
  "log": { "error": "$errlog", "level": "info" },
  "limits": { "shutdown_timeout": "2s" },
  "listeners": [ { "listen": "127.0.0.1:$port", "pool": "web" } ],
  "pools": { "web": { "connect_timeout": "200ms",
                      "peers": [ { "address": "127.0.0.1:$upstream" } ] } }
}
JSON

# A connection is accepted and answered (any status: the peer is down).
accepting() {
	[ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' \
	    "http://127.0.0.1:$port/")" != 000 ]
}

workers() {
	pgrep -P "$master" | sort -n
}

nworkers_is() {
	[ "$(workers | wc -l)" -eq "$1" ]
}

pidfile_names_master() {
	[ "$(cat "$pidfile" 2>/dev/null)" = "$master" ]
}

# start: run shunt -f in the background, $master its pid.
start() {
	"$SHUNT_BINARY" -f -c "$conf" "$@" 2>>"$TEST_TMP/stderr" &
	master=$!
	test_pids="$test_pids $master"
}

# stopped_in TENTHS: the master exited within the bound; sets $rc.
stopped_in() {
	if wait_until "$1" none_alive "$master"; then
		wait "$master"
		rc=$?
		return 0
	fi
	rc=timeout
	return 1
}

# --- start, prefork -------------------------------------------------------

start
check "the master writes its pid in the pid file" \
    wait_until 100 pidfile_names_master
check "the proxy accepts connections" wait_until 100 accepting
check "4 workers run as children of the master" wait_until 100 nworkers_is 4
before=$(workers)
case $(cat "$errlog" 2>/dev/null) in
*"started, 4 workers"*) ok "the start is logged with the worker count" ;;
*) not_ok "the start is logged with the worker count" ;;
esac

# --- respawn --------------------------------------------------------------

victim=$(echo "$before" | head -n 1)
slot=$(sed -n "s/.*worker $victim started (slot \([0-9]*\)).*/\1/p" \
    "$errlog")
# Older than a second, the worker is respawned at once (younger, it would
# be a crash loop and the master would back off first).
sleep 1.2
kill -9 "$victim"
replaced() {
	nworkers_is 4 && ! workers | grep -qx "$victim"
}
check "a killed worker is replaced within 10 s" wait_until 100 replaced
newpid=$(workers | grep -vxF "$before")
expect_eq "exactly one new worker" "$(echo "$newpid" | wc -l)" 1
case $(cat "$errlog") in
*"worker $victim (slot $slot) killed by signal 9; respawning"*)
	ok "the death is logged with pid, slot and signal" ;;
*) not_ok "the death is logged with pid, slot and signal" ;;
esac
check "the new worker takes the dead one's slot" \
    grep -q "worker $newpid started (slot $slot)" "$errlog"
served=0
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
	accepting && served=$((served + 1))
done
expect_eq "every connection is served after the respawn" "$served" 20

# --- pid file guard, bind conflict ------------------------------------------

run "$SHUNT_BINARY" -f -c "$conf"
expect_eq "a second start with the same pid file exits 1" "$rc" 1
expect_eq "it names the running pid and the pid file" "$out" \
    "shunt: already running as pid $master ($pidfile)"

run "$SHUNT_BINARY" -f -c "$conf" -p "$TEST_TMP/other.pid"
expect_eq "a second instance on the same port exits 1" "$rc" 1
expect_eq "the bind error names the address" "$out" \
    "shunt: cannot listen on 127.0.0.1:$port: Address already in use"
check "it leaves no pid file behind" test ! -e "$TEST_TMP/other.pid"

# --- TERM: graceful stop --------------------------------------------------

all=$(workers)
kill -TERM "$master"
check "TERM stops the master within 10 s" stopped_in 100
expect_eq "TERM: the master exits 0" "$rc" 0
check "TERM: every worker has exited" none_alive $all
check "TERM: the pid file is removed" test ! -e "$pidfile"

run "$SHUNT_BINARY" -s quit -c "$conf"
expect_eq "-s with no master running exits 1" "$rc" 1
expect_eq "-s names the missing pid file" "$out" \
    "shunt: cannot read pid file $pidfile: No such file or directory"

# --- shunt -s quit / -s stop -----------------------------------------------

start
if wait_until 100 pidfile_names_master && wait_until 100 nworkers_is 4; then
	all=$(workers)
	run "$SHUNT_BINARY" -s quit -c "$conf"
	expect_eq "-s quit exits 0" "$rc" 0
	check "-s quit stops the master" stopped_in 100
	expect_eq "-s quit: the master exits 0" "$rc" 0
	check "-s quit: every worker has exited" none_alive $all
	check "-s quit: the pid file is removed" test ! -e "$pidfile"
else
	not_ok "restart for -s quit"
fi

start -p "$TEST_TMP/p.pid"
pidfile=$TEST_TMP/p.pid
if wait_until 100 pidfile_names_master && wait_until 100 nworkers_is 4; then
	check "with -p, the config's pid_file is not written" \
	    test ! -e "$TEST_TMP/shunt.pid"
	all=$(workers)
	run "$SHUNT_BINARY" -s stop -p "$pidfile"
	expect_eq "-s stop -p exits 0" "$rc" 0
	check "-s stop (fast) stops the master within 5 s" stopped_in 50
	expect_eq "-s stop: the master exits 0" "$rc" 0
	check "-s stop: every worker has exited" none_alive $all
	check "-p overrides pid_file, and is removed too" test ! -e "$pidfile"
else
	not_ok "restart for -s stop"
fi

sed '/pid_file/d' "$conf" > "$TEST_TMP/nopid.json"
run "$SHUNT_BINARY" -s reload -c "$TEST_TMP/nopid.json"
expect_eq "-s without any pid file exits 1" "$rc" 1
case $out in
*"no pid file"*) ok "-s without any pid file says so" ;;
*) not_ok "-s without any pid file says so"; echo "#   got: $out" ;;
esac

if [ "$tap_failed" -ne 0 ]; then
	echo "# error log:"
	sed 's/^/#   /' "$errlog" "$TEST_TMP/stderr" 2>/dev/null
fi
done_testing
