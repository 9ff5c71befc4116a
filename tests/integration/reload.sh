#!/bin/bash
# HUP: a new config takes over without a refused or failed request; a bad
# one is logged and the old one keeps serving; health survives; requests
# in flight finish on the old workers.
. "$(dirname "$0")/lib.sh"

: "${SHUNTCTL_BINARY:?SHUNTCTL_BINARY must name shuntctl}"
start_backend b1 || exit 1
b1=$BACKEND_PORT
start_backend b2 || exit 1
b2=$BACKEND_PORT
dead=$(free_port)	# refuses: nothing listens there
port=$(free_port)
port2=$(free_port)
conf=$TEST_TMP/shunt.json
errlog=$TEST_TMP/error.log

# write_conf WORKERS PEERS [EXTRA_LISTENER]: the config shunt re-reads.
write_conf() {
	cat > "$conf.tmp" <<JSON
{
  "workers": $1,
  "state_dir": "$TEST_TMP/state",
  "log": { "error": "$errlog", "level": "info" },
  "limits": { "shutdown_timeout": "10s" },
  "listeners": [ { "listen": "127.0.0.1:$port", "pool": "web" }$3 ],
  "pools": { "web": { "health": { "max_fails": 1, "fail_timeout": "5m" },
                      "peers": [ $2 ] } }
}
JSON
	mv "$conf.tmp" "$conf"
}

peer() {
	echo "{ \"address\": \"127.0.0.1:$1\" }"
}

backend_of() {
	curl -s -m 5 -D - -o /dev/null "http://127.0.0.1:${2:-$port}${1:-/}" |
	    tr -d '\r' | sed -n 's/^X-Backend: //Ip'
}

workers() {
	pgrep -P "$SHUNT_PID" | sort -n | tr '\n' ' '
}

generation_is() {
	grep -q "reloaded $conf: generation $1," "$errlog"
}

# reload N: HUP, then wait until generation N is logged.
reload() {
	kill -HUP "$SHUNT_PID"
	wait_until 100 generation_is "$1"
}

peer_field() {
	"$SHUNTCTL_BINARY" -S "$TEST_TMP/state" status web |
	    python3 -c 'import json, sys
d = json.load(sys.stdin)
for p in d["pools"][0]["peers"]:
    if p["address"] == sys.argv[1]:
        print(p.get(sys.argv[2], ""))' "$1" "$2"
}

write_conf 2 "$(peer "$b1")"
start_shunt "$conf" "$port" || exit 1
expect_eq "generation 1 serves from b1" "$(backend_of)" b1

# --- a new config: peers, worker count, a new listener -------------------------

old=$(workers)
write_conf 3 "$(peer "$b2")" \
    ", { \"listen\": \"127.0.0.1:$port2\", \"pool\": \"web\" }"
check "HUP reloads (generation 2 is logged)" reload 2
expect_eq "the new config serves from b2" "$(backend_of)" b2
expect_eq "the new listener serves" "$(backend_of / "$port2")" b2
old_gone() {
	none_alive $old
}
check "the old workers exit" wait_until 100 old_gone
n=$(workers | wc -w)
expect_eq "the new worker count runs" "$n" 3
expect_eq "the master is the same process" \
    "$(grep -c "shunt 0.1.0 started" "$errlog")" 1

# --- a pid_file set by a reload: written, and removed at exit ------------------

sed -i "s|\"workers\": 3,|\"workers\": 3, \"pid_file\": \"$TEST_TMP/new.pid\",|" "$conf"
check "a reload that sets pid_file" reload 3
expect_eq "the new pid file names the master" \
    "$(cat "$TEST_TMP/new.pid" 2>/dev/null)" "$SHUNT_PID"
expect_eq "shunt -P agrees with it" "$("$SHUNT_BINARY" -c "$conf" -P)" \
    "$TEST_TMP/new.pid"

# --- a listener dropped: its port closes ---------------------------------------

write_conf 3 "$(peer "$b2")"
check "a reload without the second listener (and pid_file)" reload 4
check "the pid file it no longer names is removed" \
    test ! -e "$TEST_TMP/new.pid"
port2_closed() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$port2") 2>/dev/null
}
check "the dropped listener's port refuses connections" \
    wait_until 100 port2_closed

# --- a bad config keeps the old one serving -----------------------------------

# The workers of the previous generation may still be finishing (for long
# under valgrind): "untouched" compares the current ones only.
three_workers() {
	[ "$(workers | wc -w)" -eq 3 ]
}
wait_until 100 three_workers
before=$(workers)
printf '{\n  "workers": 2,\n  "listeners": [ oops ]\n}\n' > "$conf"
kill -HUP "$SHUNT_PID"
bad_logged() {
	grep -q "reload failed, still serving the previous configuration: $conf:3:" \
	    "$errlog"
}
check "a broken config: the reload failure is logged with file:line" \
    wait_until 100 bad_logged
expect_eq "a broken config: the old config still serves" "$(backend_of)" b2
expect_eq "a broken config: the workers are untouched" "$(workers)" "$before"

write_conf 3 "$(peer "$b2")" \
    ", { \"listen\": \"127.0.0.1:$b1\", \"pool\": \"web\" }"
kill -HUP "$SHUNT_PID"
busy_logged() {
	grep -q "reload failed, still serving the previous configuration: cannot listen on 127.0.0.1:$b1: Address already in use" \
	    "$errlog"
}
check "a port in use: the reload failure names it" wait_until 100 busy_logged
expect_eq "a port in use: the old config still serves" "$(backend_of)" b2
expect_eq "a port in use: the workers are untouched" "$(workers)" "$before"

# --- health survives HUP -------------------------------------------------------

write_conf 2 "$(peer "$dead"), $(peer "$b2")"
check "a reload adding a refusing peer" reload 5
for i in 1 2 3 4; do backend_of >/dev/null; done
expect_eq "the refusing peer is down" "$(peer_field "127.0.0.1:$dead" state)" down
streak=$(peer_field "127.0.0.1:$dead" consecutive_failures)
write_conf 3 "$(peer "$dead"), $(peer "$b2"), $(peer "$b1")"
check "a reload with the same peers and one more" reload 6
expect_eq "after HUP the refusing peer is still down" \
    "$(peer_field "127.0.0.1:$dead" state)" down
expect_eq "after HUP its failure streak is kept" \
    "$(peer_field "127.0.0.1:$dead" consecutive_failures)" "${streak:-none}"
expect_eq "after HUP the new peer is up" \
    "$(peer_field "127.0.0.1:$b1" state)" up
write_conf 3 "$(peer "$b1")"
check "a reload dropping two peers" reload 7
expect_eq "a dropped peer leaves the status" \
    "$(peer_field "127.0.0.1:$dead" state)" ""

# --- a request in flight finishes on the old workers -----------------------------

curl -s -m 30 -o "$TEST_TMP/slow.body" -w '%{http_code}' \
    "http://127.0.0.1:$port/delay?ms=1500&size=5000" > "$TEST_TMP/slow.code" &
slow=$!
sleep 0.4
write_conf 2 "$(peer "$b2")"
check "a reload while a request is in flight" reload 8
wait "$slow"
expect_eq "the in-flight request finishes with 200" \
    "$(cat "$TEST_TMP/slow.code")" 200
expect_eq "with its whole body" "$(wc -c < "$TEST_TMP/slow.body")" 5000

# --- reloads under load: no request fails --------------------------------------

# Each loop: sequential curls of 4 requests on one keep-alive connection.
load_loop() {
	for i in $(seq 1 40); do
		curl -s -m 10 -o /dev/null -o /dev/null -o /dev/null \
		    -o /dev/null -w '%{http_code} %{exitcode} %{errormsg}\n' \
		    "http://127.0.0.1:$port/a" "http://127.0.0.1:$port/b" \
		    "http://127.0.0.1:$port/c" "http://127.0.0.1:$port/d"
	done > "$TEST_TMP/load.$1"
}
loaders=""
for l in 1 2 3 4; do
	load_loop "$l" &
	loaders="$loaders $!"
done
gen=8
for r in 1 2 3 4 5 6; do
	sleep 0.3
	gen=$((gen + 1))
	if [ $((r % 2)) -eq 1 ]; then
		write_conf 2 "$(peer "$b1")"
	else
		write_conf 3 "$(peer "$b1"), $(peer "$b2")"
	fi
	reload "$gen" || echo "# reload $r did not complete"
done
wait $loaders
total=$(cat "$TEST_TMP"/load.* | wc -l)
good=$(grep -c '^200 ' "$TEST_TMP"/load.* | awk -F: '{ n += $2 } END { print n }')
expect_eq "6 reloads under load: every request answered" "$total" 640
expect_eq "6 reloads under load: every answer is 200" "$good" 640 ||
    grep -hv '^200 ' "$TEST_TMP"/load.* | sort | uniq -c | sed 's/^/#   /'
check "the load overlapped the reloads (generation $gen reached)" \
    generation_is "$gen"

stop_shunt
done_testing
