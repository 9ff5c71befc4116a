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
# ids PID: real, effective, saved and fs uids and gids, and the groups.
ids() {
	sed -n 's/^\(Uid\|Gid\|Groups\):[[:space:]]*//p' "/proc/$1/status" |
	    tr -s ' \t' ' '
}
master_ids=$(ids "$SHUNT_PID")
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

# --- links the worker user could plant -----------------------------------------
# It owns state_dir (and here the log directory): a link there to a file
# of root's must never have the root master hand that file over, nor
# LMDB, opened by the root master, rewrite it as its lock file.
secret=$TEST_TMP/secret
printf 'root only\n' > "$secret"
chmod 0600 "$secret"
secret_was="$(owner "$secret") $(sha256sum < "$secret")"
errors_before=$(grep -c . "$TEST_TMP/log/error.log")
new_errors() {
	tail -n +"$((errors_before + 1))" "$TEST_TMP/log/error.log"
}
# plant FILE: FILE becomes a link to the secret; FILE.real keeps it.
plant() {
	mv "$1" "$1.real" && ln -s "$secret" "$1"
}
unplant() {
	rm -f "$1" && mv "$1.real" "$1"
}
for f in lock.mdb data.mdb; do
	plant "$TEST_TMP/state/$f"
	kill -HUP "$SHUNT_PID"
	refused_hup() {
		new_errors | grep -q "reload failed.*$f.*symbolic link"
	}
	check "$f a link: HUP refuses the store, logged" wait_until 50 refused_hup
	kill -USR1 "$SHUNT_PID"
	refused_usr1() {
		new_errors | grep -q "refusing to hand $TEST_TMP/state/$f to the worker user: it is a symbolic link"
	}
	check "$f a link: USR1 refuses to hand it over, logged" \
	    wait_until 50 refused_usr1
	expect_eq "$f a link: the target keeps its owner, mode and bytes" \
	    "$(owner "$secret") $(sha256sum < "$secret")" "$secret_was"
	expect_eq "$f a link: shunt serves on" "$(curl -s -m 5 -o /dev/null \
	    -w '%{http_code}' "http://127.0.0.1:$port/")" 200
	unplant "$TEST_TMP/state/$f"
	errors_before=$(grep -c . "$TEST_TMP/log/error.log")
done

# A hard link instead (the kernel's protected_hardlinks stops most users).
mv "$TEST_TMP/state/data.mdb" "$TEST_TMP/state/data.mdb.real"
ln "$secret" "$TEST_TMP/state/data.mdb"
kill -USR1 "$SHUNT_PID"
refused_hard() {
	new_errors | grep -q "refusing to hand $TEST_TMP/state/data.mdb to the worker user: it has 2 hard links"
}
check "data.mdb a hard link: USR1 refuses it, logged" wait_until 50 refused_hard
expect_eq "data.mdb a hard link: the target keeps its owner and mode" \
    "$(owner "$secret") $(sha256sum < "$secret")" "$secret_was"
rm -f "$TEST_TMP/state/data.mdb"
mv "$TEST_TMP/state/data.mdb.real" "$TEST_TMP/state/data.mdb"
errors_before=$(grep -c . "$TEST_TMP/log/error.log")

# The logs: the error log is opened by the root master, and both are
# handed over.
mv "$TEST_TMP/log/error.log" "$TEST_TMP/log/error.log.real"
ln -s "$secret" "$TEST_TMP/log/error.log"
kill -USR1 "$SHUNT_PID"
refused_errlog() {
	tail -n +"$((errors_before + 1))" "$TEST_TMP/log/error.log.real" |
	    grep -q "cannot reopen $TEST_TMP/log/error.log: Too many levels of symbolic links" &&
	tail -n +"$((errors_before + 1))" "$TEST_TMP/log/error.log.real" |
	    grep -q "refusing to hand $TEST_TMP/log/error.log to the worker user: it is a symbolic link"
}
check "error log a link: USR1 neither opens nor hands it over, logged" \
    wait_until 50 refused_errlog
rm -f "$TEST_TMP/log/error.log"
mv "$TEST_TMP/log/error.log.real" "$TEST_TMP/log/error.log"
kill -USR1 "$SHUNT_PID"
sleep 0.5
errors_before=$(grep -c . "$TEST_TMP/log/error.log")
plant "$TEST_TMP/log/access.log"
kill -USR1 "$SHUNT_PID"
refused_acclog() {
	new_errors | grep -q "refusing to hand $TEST_TMP/log/access.log to the worker user: it is a symbolic link"
}
check "access log a link: USR1 refuses to hand it over, logged" \
    wait_until 50 refused_acclog
expect_eq "log files as links: the target keeps its owner, mode and bytes" \
    "$(owner "$secret") $(sha256sum < "$secret")" "$secret_was"
expect_eq "log files as links: shunt serves on" "$(curl -s -m 5 -o /dev/null \
    -w '%{http_code}' "http://127.0.0.1:$port/")" 200
unplant "$TEST_TMP/log/access.log"
kill -USR1 "$SHUNT_PID"
sleep 0.5

# A store removed under the master: USR1 says so, and still hands the
# rotated access log over.
mv "$TEST_TMP/state" "$TEST_TMP/state.away"
mv "$TEST_TMP/log/access.log" "$TEST_TMP/log/access.log.2"
errors_before=$(grep -c . "$TEST_TMP/log/error.log")
kill -USR1 "$SHUNT_PID"
rotated_anyway() {
	new_errors | grep -q "cannot open $TEST_TMP/state: No such file" &&
	    [ -e "$TEST_TMP/log/access.log" ]
}
check "store gone: USR1 logs it and still creates the access log" \
    wait_until 50 rotated_anyway
expect_eq "store gone: the new access log belongs to the worker user" \
    "$(owner "$TEST_TMP/log/access.log")" "$uid:$gid 640"
mv "$TEST_TMP/state.away" "$TEST_TMP/state"

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
# The master opened the store as nobody for each visit, then came back.
expect_eq "the master is wholly root again after its store visits" \
    "$(ids "$SHUNT_PID")" "$master_ids"

stop_shunt
done_testing
