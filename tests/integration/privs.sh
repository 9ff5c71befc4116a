#!/bin/bash
# Started as root with "user"/"group": the master stays root, the workers
# run as that user and still write the health store and the logs, and a
# member of the group can read the store with shuntctl.
. "$(dirname "$0")/lib.sh"

: "${SHUNTCTL_BINARY:?SHUNTCTL_BINARY must name shuntctl}"
if [ "$(id -u)" != 0 ] || ! id nobody >/dev/null 2>&1 ||
    ! getent group nogroup >/dev/null || ! command -v setpriv >/dev/null; then
	ok "privilege drop # SKIP needs root, user nobody, group nogroup, setpriv"
	done_testing
	exit 0
fi
uid=$(id -u nobody)
gid=$(getent group nogroup | cut -d: -f3)

start_backend b1 || exit 1
b1=$BACKEND_PORT
dead=$(free_port)
port=$(free_port)
conf=$TEST_TMP/shunt.json
# The workers must be able to reach their files, as under /var/lib.
chmod 0755 "$TEST_TMP"
mkdir "$TEST_TMP/log"

cat > "$conf" <<JSON
{
  "workers": 2,
  "user": "nobody", "group": "nogroup",
  "state_dir": "$TEST_TMP/state",
  "log": { "error": "$TEST_TMP/log/error.log",
           "access": "$TEST_TMP/log/access.log", "level": "info" },
  "listeners": [ { "listen": "127.0.0.1:$port", "pool": "web" } ],
  "pools": { "web": { "health": { "max_fails": 1, "fail_timeout": "5m" },
                      "peers": [ { "address": "127.0.0.1:$dead" },
                                 { "address": "127.0.0.1:$b1" } ] } }
}
JSON

start_shunt "$conf" "$port" || exit 1

uid_of() {
	sed -n 's/^Uid:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$1/status"
}
gid_of() {
	sed -n 's/^Gid:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$1/status"
}
owner() {
	stat -c '%u:%g %a' "$1"
}

expect_eq "the master stays root" "$(uid_of "$SHUNT_PID")" 0
for w in $(pgrep -P "$SHUNT_PID"); do
	expect_eq "worker $w runs as nobody" "$(uid_of "$w")" "$uid"
	expect_eq "worker $w runs as group nogroup" "$(gid_of "$w")" "$gid"
	expect_eq "worker $w has no supplementary root group" \
	    "$(sed -n 's/^Groups:[[:space:]]*//p' "/proc/$w/status" | tr -d ' ')" \
	    "$gid"
done

codes=""
for i in 1 2 3 4; do
	codes="$codes $(curl -s -m 5 -o /dev/null -w '%{http_code}' \
	    "http://127.0.0.1:$port/")"
done
expect_eq "requests succeed past the refusing peer" "$codes" " 200 200 200 200"

expect_eq "state_dir belongs to the worker user" \
    "$(owner "$TEST_TMP/state")" "$uid:$gid 750"
expect_eq "data.mdb: the user writes, the group reads" \
    "$(owner "$TEST_TMP/state/data.mdb")" "$uid:$gid 640"
expect_eq "lock.mdb: group-writable, for readers' slots" \
    "$(owner "$TEST_TMP/state/lock.mdb")" "$uid:$gid 660"
expect_eq "the access log belongs to the worker user" \
    "$(owner "$TEST_TMP/log/access.log")" "$uid:$gid 640"

status_json=$(setpriv --reuid=54321 --regid="$gid" --clear-groups \
    "$SHUNTCTL_BINARY" -S "$TEST_TMP/state" status 2>&1)
state=$(printf '%s' "$status_json" | python3 -c 'import json, sys
d = json.load(sys.stdin)
p = d["pools"][0]["peers"][0]
print(p["state"], p["last_failure"]["kind"], p["last_failure"]["worker_pid"] > 0)' 2>&1)
expect_eq "a member of the group reads the worker-written failure" \
    "$state" "down connect_refused True"
setpriv --reuid=54321 --regid=54321 --clear-groups \
    "$SHUNTCTL_BINARY" -S "$TEST_TMP/state" status >/dev/null 2>&1
expect_eq "anyone else cannot read the store" "$?" 1

# USR1 after rotation: the master recreates the files for the workers.
mv "$TEST_TMP/log/access.log" "$TEST_TMP/log/access.log.1"
kill -USR1 "$SHUNT_PID"
reopened() {
	[ -e "$TEST_TMP/log/access.log" ] &&
	    grep -q "log files reopened" "$TEST_TMP/log/error.log"
}
check "USR1 creates a new access log" wait_until 50 reopened
sleep 0.3
curl -s -m 5 -o /dev/null "http://127.0.0.1:$port/after-rotation"
logged() {
	grep -q "after-rotation" "$TEST_TMP/log/access.log"
}
check "the workers write the new access log" wait_until 50 logged
expect_eq "the new access log belongs to the worker user" \
    "$(owner "$TEST_TMP/log/access.log")" "$uid:$gid 640"

# A reload keeps dropping privileges.
sed -i 's/"workers": 2/"workers": 3/' "$conf"
kill -HUP "$SHUNT_PID"
three() {
	[ "$(pgrep -P "$SHUNT_PID" | wc -l)" -eq 3 ] &&
	    grep -q "generation 2" "$TEST_TMP/log/error.log"
}
check "HUP starts the new workers" wait_until 100 three
sleep 0.5
all_nobody=yes
for w in $(pgrep -P "$SHUNT_PID"); do
	[ "$(uid_of "$w")" = "$uid" ] || all_nobody="no: $w"
done
expect_eq "after HUP every worker still runs as nobody" "$all_nobody" yes

stop_shunt
done_testing
