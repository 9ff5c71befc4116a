#!/bin/bash
# state_dir belongs to one master: a second shunt on it refuses to start
# (it would prune the first one's peers from the store), -t still works,
# the lock goes with the master (even a killed one, even in daemon mode),
# and a store removed at run time is created again by the next HUP.
. "$(dirname "$0")/lib.sh"

: "${SHUNTCTL_BINARY:?SHUNTCTL_BINARY must name shuntctl}"
start_backend b1 || exit 1
b1=$BACKEND_PORT
state=$TEST_TMP/state

dead=$(free_port)

# write_conf FILE PORT POOL [EXTRA [PEER]]
write_conf() {
	cat > "$1" <<JSON
{
  "workers": 2,
  "state_dir": "$state",
  $4
  "listeners": [ { "listen": "127.0.0.1:$2", "pool": "$3" } ],
  "pools": { "$3": { "health": { "max_fails": 1, "fail_timeout": "5m" },
                     "peers": [ $5 { "address": "127.0.0.1:$b1" } ] } }
}
JSON
}

port_a=$(free_port)
write_conf "$TEST_TMP/a.json" "$port_a" web "" \
    "{ \"address\": \"127.0.0.1:$dead\" },"
start_shunt "$TEST_TMP/a.json" "$port_a" || exit 1
pid_a=$SHUNT_PID

port_b=$(free_port)
write_conf "$TEST_TMP/b.json" "$port_b" other
run "$SHUNT_BINARY" -f -c "$TEST_TMP/b.json"
expect_eq "a second master on the same state_dir exits 1" "$rc" 1
expect_eq "and names the running one" "$out" \
    "shunt: state_dir $state is in use by shunt master $pid_a ($state/master.lock)"
peers=$("$SHUNTCTL_BINARY" -S "$state" status | python3 -c 'import json, sys
d = json.load(sys.stdin)
print(" ".join(p["name"] for p in d["pools"]), d["master"]["pid"])')
expect_eq "the first master's pools are still in the store" "$peers" \
    "web $pid_a"
run "$SHUNT_BINARY" -t -c "$TEST_TMP/b.json"
expect_eq "shunt -t works while a master runs" "$out $rc" \
    "$TEST_TMP/b.json: ok 0"

# --- the lock goes with the master -----------------------------------------

workers=$(pgrep -P "$pid_a")
kill -9 "$pid_a"
wait "$pid_a" 2>/dev/null
start_shunt "$TEST_TMP/b.json" "$port_b"
check "a killed master's state_dir is free at once, its workers or not" \
    alive "$SHUNT_PID"
pid_b=$SHUNT_PID
wait_until 100 none_alive $workers
stop_shunt
check "a master that stopped leaves state_dir free" \
    start_shunt "$TEST_TMP/a.json" "$port_a"
pid_a=$SHUNT_PID

# --- a store removed at run time ------------------------------------------------

code() {
	curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port_a/"
}
rm -rf "$state"
errs=$(grep -c . "$TEST_TMP/shunt.err")
kill -TERM $(pgrep -P "$pid_a")
sleep 1.5
expect_eq "workers respawned without a store serve" \
    "$(code)$(code)$(code)$(code)$(code)$(code)" 200200200200200200
check "and say so" grep -q "this worker keeps its own in memory" \
    "$TEST_TMP/shunt.err"
downs=$(tail -n +"$((errs + 1))" "$TEST_TMP/shunt.err" |
    grep -c "worker [01]\[[0-9]*\]: peer web/127.0.0.1:$dead up -> down (connect_refused")
case $downs in
1|2) ok "a worker without a store marks a refusing peer down in its memory" ;;
*) not_ok "a worker without a store marks a refusing peer down in its memory"
   echo "#   $downs transitions logged" ;;
esac
check "the master is alive" alive "$pid_a"
kill -HUP "$pid_a"
recreated() {
	[ -s "$state/data.mdb" ] && grep -q "generation 2" "$TEST_TMP/shunt.err"
}
check "HUP creates the store again" wait_until 100 recreated
check "with a warning" grep -q "health store in $state was removed" \
    "$TEST_TMP/shunt.err"
st=$("$SHUNTCTL_BINARY" -S "$state" status | python3 -c 'import json, sys
d = json.load(sys.stdin)
print(d["pools"][0]["name"], d["master"]["pid"])')
expect_eq "the new store has the pools" "$st" "web $pid_a"
expect_eq "requests still succeed" "$(code)$(code)" 200200
run "$SHUNT_BINARY" -f -c "$TEST_TMP/b.json"
expect_eq "the new state_dir is locked again" "$out" \
    "shunt: state_dir $state is in use by shunt master $pid_a ($state/master.lock)"

# A reload to another state_dir takes its lock and frees the old one.
sed -i "s|\"state_dir\": \"$state\"|\"state_dir\": \"$state.2\"|" \
    "$TEST_TMP/a.json"
kill -HUP "$pid_a"
moved() {
	grep -q "generation 3" "$TEST_TMP/shunt.err"
}
check "HUP to another state_dir" wait_until 100 moved
sed "s|\"state_dir\": \"$state\"|\"state_dir\": \"$state.2\"|" \
    "$TEST_TMP/b.json" > "$TEST_TMP/b2.json"
run "$SHUNT_BINARY" -f -c "$TEST_TMP/b2.json"
expect_eq "the new state_dir is locked" "$out" \
    "shunt: state_dir $state.2 is in use by shunt master $pid_a ($state.2/master.lock)"
pid_a2=$pid_a
start_shunt "$TEST_TMP/b.json" "$port_b"
check "the old state_dir is free" alive "$SHUNT_PID"
stop_shunt
SHUNT_PID=$pid_a2
sed -i "s|\"state_dir\": \"$state.2\"|\"state_dir\": \"$state\"|" \
    "$TEST_TMP/a.json"
kill -HUP "$pid_a"
back() {
	grep -q "generation 4" "$TEST_TMP/shunt.err"
}
check "and back" wait_until 100 back

# A store that cannot be made: the reload fails, the master serves on.
rm -rf "$state"
echo x > "$state"
kill -HUP "$pid_a"
failed() {
	grep -q "reload failed.*$state" "$TEST_TMP/shunt.err"
}
check "HUP with state_dir a file fails, logged" wait_until 100 failed
expect_eq "and the old generation serves on" "$(code)$(code)" 200200
rm -f "$state"
stop_shunt

# --- daemon mode: the daemon holds the lock and its pid is in the file ------

write_conf "$TEST_TMP/d.json" "$port_a" web \
    "\"pid_file\": \"$TEST_TMP/d.pid\", \"log\": {\"error\": \"$TEST_TMP/error.log\"},"
run "$SHUNT_BINARY" -c "$TEST_TMP/d.json"
expect_eq "a daemon starts" "$rc" 0
dpid=$(cat "$TEST_TMP/d.pid")
test_pids="$test_pids $dpid"
expect_eq "the lock file names the daemon" "$(cat "$state/master.lock")" \
    "$dpid"
run "$SHUNT_BINARY" -f -c "$TEST_TMP/b.json"
expect_eq "a second master is refused by the daemon's lock" "$out" \
    "shunt: state_dir $state is in use by shunt master $dpid ($state/master.lock)"
kill -TERM "$dpid"
wait_until 100 none_alive "$dpid"
check "once the daemon is gone the state_dir is free" \
    start_shunt "$TEST_TMP/b.json" "$port_b"
stop_shunt

# --- a data.mdb that is not shunt's --------------------------------------------

head -c 16384 /dev/urandom > "$state/data.mdb"
: > "$TEST_TMP/shunt.err"
start_shunt "$TEST_TMP/b.json" "$port_b"
check "garbage in data.mdb: shunt starts" alive "$SHUNT_PID"
check "garbage in data.mdb: moved aside with a warning naming it" grep -q \
    "health store $state/data.mdb was unreadable.*moved aside" \
    "$TEST_TMP/shunt.err"
kept_aside() {
	ls "$state"/data.mdb.corrupt-* >/dev/null 2>&1
}
check "garbage in data.mdb: kept for study" kept_aside
stop_shunt
if command -v mdb_load >/dev/null; then
	rm -f "$state"/*.mdb "$state"/data.mdb.corrupt-*
	printf 'VERSION=3\nformat=print\ntype=btree\nHEADER=END\n user:1\n alice\nDATA=END\n' |
	    mdb_load "$state"
	run "$SHUNT_BINARY" -f -c "$TEST_TMP/b.json"
	expect_eq "another program's LMDB: shunt refuses, naming the file" \
	    "$rc $out" "1 shunt: cannot open the health store $state/data.mdb: data.mdb is an LMDB environment of another program (keys no shunt writes): point state_dir elsewhere, or remove it"
	expect_eq "another program's LMDB: left as it was" \
	    "$(mdb_dump -p "$state" | grep -c alice)" 1
else
	skip "another program's LMDB" "no mdb_load (lmdb-utils)"
fi

done_testing
