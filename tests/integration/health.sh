#!/bin/bash
# Peer health shared through the LMDB store (DESIGN.md §4): one worker's
# failure marks a peer down for all four workers; exactly one request
# probes it after fail_timeout; a blackholed peer costs one request a
# tenth of its connect timeout, not the whole of it.
. "$(dirname "$0")/lib.sh"

start_backend b1 && P1=$BACKEND_PORT
start_backend b2 && P2=$BACKEND_PORT
start_backend bk && PB=$BACKEND_PORT
DEAD=$(free_port)
DEADB=$(free_port)	# a backup that is dead, then comes back
PORT=$(free_port)
start_blackhole

cat > "$TEST_TMP/shunt.json" <<JSON
{
  "workers": 4,
  "state_dir": "state",
  "log": { "access": "access.log", "error": "error.log" },
  "listeners": [ { "listen": "127.0.0.1:$PORT", "pool": "web",
                   "routes": [ { "path_prefix": "/bh/", "pool": "bh" },
                               { "path_prefix": "/probe/", "pool": "probe" },
                               { "path_prefix": "/bkp/", "pool": "bkp" } ] } ],
  "pools": {
    "web": { "health": { "max_fails": 1, "fail_timeout": "10m" },
             "peers": [ { "address": "127.0.0.1:$DEAD" },
                        { "address": "127.0.0.1:$P1" },
                        { "address": "127.0.0.1:$P2" } ] },
    "bh": { "connect_timeout": "100ms",
            "health": { "max_fails": 1, "fail_timeout": "30s" },
            "peers": [ { "address": "127.0.0.1:${BLACKHOLE:-$DEAD}" },
                       { "address": "127.0.0.1:$PB", "backup": true } ] },
    "probe": { "health": { "max_fails": 1, "fail_timeout": "1s" },
               "peers": [ { "address": "127.0.0.1:$DEAD" },
                          { "address": "127.0.0.1:$P2", "backup": true } ] },
    "bkp": { "health": { "max_fails": 1, "fail_timeout": "1s" },
             "peers": [ { "address": "127.0.0.1:$DEAD" },
                        { "address": "127.0.0.1:$DEADB", "backup": true } ] }
  }
}
JSON
start_shunt "$TEST_TMP/shunt.json" "$PORT"
URL="http://127.0.0.1:$PORT"
LOG=$TEST_TMP/access.log

# --- a refusing peer among three: found once, for every worker -------------
good=0
for i in $(seq 100); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/")" = 200 ] && good=$((good + 1))
done
expect_eq "100 GETs on fresh connections all succeed" "$good" 100
expect_eq "the requests reached all 4 workers" \
    "$(grep '"GET / ' "$LOG" | awk '{print $3}' | sort -u | wc -l)" 4
refused=$(grep -c "127.0.0.1:$DEAD(connect_refused" "$LOG")
expect_eq "the dead peer was tried once in all (max_fails 1), not once per worker" "$refused" 1
downs=$(grep -c "peer web/127.0.0.1:$DEAD up -> down (connect_refused, 1/1, worker " "$TEST_TMP/error.log")
expect_eq "one transition up -> down, logged with the worker that saw it" "$downs" 1
check "the store file exists in state_dir" test -s "$TEST_TMP/state/data.mdb"
if command -v mdb_dump >/dev/null 2>&1; then
	check "the store holds the peer's record (mdb_dump)" \
	    bash -c "mdb_dump -p '$TEST_TMP/state' | grep -q 'peer/web/127.0.0.1:$DEAD'"
fi

# --- the DESIGN.md example: a primary that never answers SYNs ---------------
if [ -n "$BLACKHOLE" ]; then
	for i in $(seq 20); do
		code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/bh/x")
		echo "$code" >> "$TEST_TMP/bh.codes"
	done
	expect_eq "20 requests to a blackholed primary with a backup all succeed" \
	    "$(grep -c '^200$' "$TEST_TMP/bh.codes")" 20
	# The first request's connect goes unanswered for a tenth of
	# connect_timeout: it marks the peer suspect and moves on; its
	# connect times out on its own and marks the peer down.
	expect_eq "no request waits out the 100 ms connect timeout" \
	    "$(grep -c "(connect_timeout," "$LOG")" 0
	expect_eq "only the first request meets the blackhole, across workers" \
	    "$(grep -c "(connect_slow," "$LOG")" 1
	for i in $(seq 40); do
		grep -q "peer bh/127.0.0.1:$BLACKHOLE up -> down" "$TEST_TMP/error.log" && break
		sleep 0.05
	done
	expect_eq "its abandoned connect still times out and marks it down, once" \
	    "$(grep -c "peer bh/127.0.0.1:$BLACKHOLE up -> down (connect_timeout, 1/1, worker " "$TEST_TMP/error.log")" 1
	expect_eq "the backup answered the other 19 at once" \
	    "$(grep '"GET /bh/x ' "$LOG" | grep -c " 127.0.0.1:$PB(ok,[0-9]*ms)$")" 20
else
	ok "blackholed primary # SKIP no loopback peer that drops SYNs (needs python3)"
fi

# --- health outlives a worker's death -----------------------------------------
victim=$(pgrep -P "$SHUNT_PID" | head -n 1)
kill -9 "$victim"
for i in $(seq 100); do
	[ "$(pgrep -P "$SHUNT_PID" | wc -l)" -eq 4 ] && ! pgrep -P "$SHUNT_PID" | grep -qx "$victim" && break
	sleep 0.05
done
before=$(grep -c "127.0.0.1:$DEAD(connect_refused" "$LOG")
for i in $(seq 20); do curl -s -o /dev/null "$URL/"; done
expect_eq "a respawned worker knows the peer is down (no new refused tries)" \
    "$(grep -c "127.0.0.1:$DEAD(connect_refused" "$LOG")" "$before"

# --- a backup that was down is probed while no primary is eligible ----------
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/bkp/a")
expect_eq "primary and backup both refusing: 502" "$code" 502
check "the backup is marked down" \
    grep -q "peer bkp/127.0.0.1:$DEADB up -> down" "$TEST_TMP/error.log"
"$SHUNT_BACKEND" -l "127.0.0.1:$DEADB" -p "$TEST_TMP/backb.port" -n backb &
test_pids="$test_pids $!"
wait_for "$TEST_TMP/backb.port"
sleep 1.2
codes=""
for i in 1 2 3; do
	codes="$codes $(curl -s -o /dev/null -w '%{http_code}' "$URL/bkp/b")"
done
case $codes in
*200*) ok "the recovered backup is probed and answers ($codes)" ;;
*) not_ok "the recovered backup is probed and answers ($codes)" ;;
esac
check "the backup's probe brought it up" \
    grep -q "peer bkp/127.0.0.1:$DEADB probing -> up" "$TEST_TMP/error.log"

# --- recovery: after fail_timeout, exactly one request probes ---------------
curl -s -o /dev/null "$URL/probe/a"
expect_eq "the probe pool's primary is marked down" \
    "$(grep -c "peer probe/127.0.0.1:$DEAD up -> down" "$TEST_TMP/error.log")" 1
# The peer comes back on the same port.
"$SHUNT_BACKEND" -l "127.0.0.1:$DEAD" -p "$TEST_TMP/back.port" -n back &
test_pids="$test_pids $!"
wait_for "$TEST_TMP/back.port"
sleep 1.2
for i in $(seq 8); do curl -s -o /dev/null "$URL/probe/b" & done
for i in $(seq 8); do wait -n 2>/dev/null; done
for i in $(seq 8); do curl -s -o /dev/null "$URL/probe/c"; done
expect_eq "exactly one request across all workers claimed the probe" \
    "$(grep -c "peer probe/127.0.0.1:$DEAD down -> probing" "$TEST_TMP/error.log")" 1
expect_eq "the probe's success brought the peer up" \
    "$(grep -c "peer probe/127.0.0.1:$DEAD probing -> up" "$TEST_TMP/error.log")" 1
check "after recovery the primary takes requests again" \
    bash -c "grep '\"GET /probe/c ' '$LOG' | tail -n 1 | grep -q ' 127.0.0.1:$DEAD(ok,'"

stop_shunt

done_testing
