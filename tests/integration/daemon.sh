#!/bin/bash
# Daemon mode (the default without -f): start-up errors on the terminal
# with exit 1, a detached master that owns the pid file, -P, -s, and a
# graceful stop that lets a slow in-flight request finish.
. "$(dirname "$0")/lib.sh"

start_backend b1 || exit 1
b1=$BACKEND_PORT
port=$(free_port)
conf=$TEST_TMP/shunt.json
pidfile=$TEST_TMP/shunt.pid
errlog=$TEST_TMP/error.log

cat > "$conf" <<JSON
{
  "workers": 2,
  "pid_file": "$pidfile",
  "state_dir": "$TEST_TMP/state",
  "log": { "error": "$errlog", "level": "info" },
  "limits": { "shutdown_timeout": "5s" },
  "listeners": [ { "listen": "127.0.0.1:$port", "pool": "web" } ],
  "pools": { "web": { "peers": [ { "address": "127.0.0.1:$b1" } ] } }
}
JSON

status_of() {
	curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port$1"
}

# proc_field PID N: field N of /proc/PID/stat (after the command name).
proc_field() {
	sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f$(($2 - 2))
}

# --- -P ----------------------------------------------------------------------

run "$SHUNT_BINARY" -c "$conf" -P
expect_eq "-P prints the config's pid file" "$out" "$pidfile"
run "$SHUNT_BINARY" -c "$conf" -P -p /run/other.pid
expect_eq "-P prints -p when given" "$out" "/run/other.pid"
sed '/pid_file/d' "$conf" > "$TEST_TMP/nopid.json"
run "$SHUNT_BINARY" -c "$TEST_TMP/nopid.json" -P
expect_eq "-P without any pid file exits 1" "$rc" 1
expect_eq "-P without any pid file prints nothing" "$out" ""

# --- start-up errors reach the terminal -------------------------------------

sed "s/127.0.0.1:$port/127.0.0.1:$b1/" "$conf" > "$TEST_TMP/busy.json"
run "$SHUNT_BINARY" -c "$TEST_TMP/busy.json"
expect_eq "a port in use: the command exits 1" "$rc" 1
expect_eq "a port in use: the error is on the terminal" "$out" \
    "shunt: cannot listen on 127.0.0.1:$b1: Address already in use"
check "a port in use: no pid file is left" test ! -e "$pidfile"

# --- a detached master ----------------------------------------------------------

# Started with the usual soft limit of 1024 open files.
run bash -c 'ulimit -Sn 1024 && exec "$0" -c "$1"' "$SHUNT_BINARY" "$conf"
expect_eq "shunt without -f exits 0 once it serves" "$rc" 0
expect_eq "and prints nothing" "$out" ""
master=$(cat "$pidfile" 2>/dev/null)
test_pids="$test_pids $master"
check "the pid file names a live process" alive "${master:-0}"
expect_eq "the status is 200 through the daemon" "$(status_of /)" 200
ppid=$(proc_field "$master" 4)
check "the master is not a child of the shell that started it" \
    test "$ppid" != "$$"
expect_eq "the master has no controlling terminal" \
    "$(proc_field "$master" 7)" 0
sid=$(proc_field "$master" 6)
check "the master is in its own session but not its leader" \
    test "$sid" != "$master" -a "$sid" != "$(proc_field $$ 6)"
for fd in 0 1 2; do
	expect_eq "the master's fd $fd is /dev/null" \
	    "$(readlink "/proc/$master/fd/$fd")" /dev/null
done
expect_eq "the master runs in /" "$(readlink "/proc/$master/cwd")" /
# The store names the daemon, not the process that published before it
# detached (shuntctl said "master N not running" until the first reload).
ctl_master() {
	"${SHUNTCTL_BINARY:?}" -c "$conf" status | python3 -c \
	    'import json, sys; print(json.load(sys.stdin)["master"]["pid"])'
}
if command -v python3 >/dev/null 2>&1; then
	wait_until 50 test "$(ctl_master)" = "$master"
	expect_eq "shuntctl status names the daemon as the master" \
	    "$(ctl_master)" "$master"
else
	skip "shuntctl status names the daemon" "needs python3"
fi

# Default max_connections 10000: a client and an upstream each, per worker.
soft=$(awk '/^Max open files/ { print $4 }' "/proc/$master/limits")
if [ "$(id -u)" = 0 ]; then want=20000; else want=$(ulimit -Hn); fi
[ "$want" -gt 20000 ] 2>/dev/null && want=20000
if [ -n "${SHUNT_VALGRIND:-}" ]; then
	# valgrind keeps descriptors for itself and caps what its guest may set.
	skip "the open files limit covers max_connections ($soft >= $want)" \
	    "under valgrind"
else
	check "the open files limit covers max_connections ($soft >= $want)" \
	    test "$soft" -ge "$want"
fi

run "$SHUNT_BINARY" -c "$conf"
expect_eq "a second start exits 1" "$rc" 1
expect_eq "it names the running master" "$out" \
    "shunt: already running as pid $master ($pidfile)"

# A relative -c works from the daemon's "/" too, on reload.
workers_before=$(pgrep -P "$master" | sort | tr '\n' ' ')
(cd "$TEST_TMP" && "$SHUNT_BINARY" -c shunt.json -s reload)
reloaded() {
	grep -q "reloaded $conf: generation 2" "$errlog"
}
check "-s reload reaches the daemon" wait_until 100 reloaded
old_gone() {
	none_alive $workers_before
}
check "the old workers exit after the reload" wait_until 100 old_gone
expect_eq "the reloaded daemon serves" "$(status_of /)" 200

# --- graceful stop with a slow request in flight ------------------------------

curl -s -m 20 -o "$TEST_TMP/slow.body" -w '%{http_code}' \
    "http://127.0.0.1:$port/delay?ms=1500&size=1000" > "$TEST_TMP/slow.code" &
slow=$!
sleep 0.5
run "$SHUNT_BINARY" -c "$conf" -s quit
expect_eq "-s quit exits 0" "$rc" 0
refused() {
	[ "$(status_of /)" = 000 ]
}
check "new connections are refused while the old ones finish" \
    wait_until 10 refused
wait "$slow"
expect_eq "the in-flight request finishes with 200" \
    "$(cat "$TEST_TMP/slow.code")" 200
expect_eq "with its whole body" "$(wc -c < "$TEST_TMP/slow.body")" 1000
gone() {
	! alive "$master"
}
check "the master exits after the request finished" wait_until 100 gone
check "the pid file is removed" test ! -e "$pidfile"

done_testing
