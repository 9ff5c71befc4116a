#!/bin/bash
# Chaos: workers and backends killed with SIGKILL under keep-alive load.
#
# Part 1: four workers, three backends, 8 keep-alive clients; a random
# worker is killed every second for 20 s.  Only the connections the killed
# worker held may fail (one request each at most), nothing fails when no
# worker has just died, the master respawns every slot, shuntctl status
# answers, LMDB keeps no reader slot of a dead pid, and every worker goes
# back to its idle descriptors plus pooled upstream connections.
# Part 2: backends killed and restarted under the same load: the others
# serve meanwhile (retries hide the requests in flight), and a restarted
# backend takes traffic again once its fail_timeout has passed.
. "$(dirname "$0")/lib.sh"

CTL=${SHUNTCTL_BINARY:?SHUNTCTL_BINARY must name shuntctl}
LIB=$SHUNT_SRCDIR/tests/integration/chaoslib.py
if ! command -v python3 >/dev/null 2>&1; then
	skip "chaos" "needs python3 (load client and killer)"
	done_testing
	exit
fi

CONNS=8
WORKERS=4
start_backend b1 || exit 1
P1=$BACKEND_PORT
start_backend b2 || exit 1
P2=$BACKEND_PORT
B2_PID=$!
start_backend b3 || exit 1
P3=$BACKEND_PORT
B3_PID=$!
PORT=$(free_port)
STATE=$TEST_TMP/state
CONF=$TEST_TMP/shunt.json
cat > "$CONF" <<JSON
{
  "workers": $WORKERS,
  "state_dir": "$STATE",
  "log": { "error": "$TEST_TMP/error.log", "level": "info" },
  "listeners": [ { "listen": "127.0.0.1:$PORT", "pool": "web" } ],
  "pools": {
    "web": { "connect_timeout": "1s", "read_timeout": "5s",
             "retry": { "tries": 3 },
             "health": { "max_fails": 1, "fail_timeout": "1s" },
             "peers": [ { "address": "127.0.0.1:$P1" },
                        { "address": "127.0.0.1:$P2" },
                        { "address": "127.0.0.1:$P3" } ] }
  }
}
JSON
start_shunt "$CONF" "$PORT" || exit 1

workers() {
	pgrep -P "$SHUNT_PID" | sort -n
}
nworkers_is() {
	[ "$(workers | wc -l)" -eq "$1" ]
}
check "$WORKERS workers run" wait_until 50 nworkers_is $WORKERS

# fds_of PID: the census of PID's descriptors (chaoslib.py fds).
fds_of() {
	python3 "$LIB" fds "$1" "$PORT" "$P1,$P2,$P3"
}
# What an idle worker holds that is not a connection: stdio, logs, the
# store's two files, epoll, signalfd, its listening socket.  The same in
# every slot.
idle_fixed() {
	fds_of "$1" | python3 -c 'import json, sys
c = json.load(sys.stdin)
print(c["other"] + c["other_sockets"] + c["listen"])'
}
baseline=""
for w in $(workers); do
	baseline="$baseline $(idle_fixed "$w")"
done
baseline=$(echo $baseline | tr ' ' '\n' | sort -un | tr '\n' ' ')
echo "# idle descriptors per worker (not connections): $baseline"
expect_eq "every idle worker holds the same descriptors" \
    "$(echo $baseline | wc -w)" 1
baseline=$(echo $baseline)

# --- part 1: a worker killed every second ---------------------------------

python3 "$LIB" load 127.0.0.1 "$PORT" "$TEST_TMP/load1.json" \
    --conns $CONNS --seconds 23 --pause 5 &
load=$!
test_pids="$test_pids $load"
sleep 1.5
python3 "$LIB" kill "$SHUNT_PID" "$PORT" "$TEST_TMP/kills.jsonl" \
    --seconds 20 --every 1 --min-age 1.5
wait "$load"

# The verdict, as shell assignments: kills made, connections the killed
# workers held, failures, how many came with no kill in the 2 s before
# them, the most any kill cost, status-code failures, the longest time
# without a success.
python3 - "$TEST_TMP/load1.json" "$TEST_TMP/kills.jsonl" \
    > "$TEST_TMP/verdict1" <<'PY'
import json, sys
load = json.load(open(sys.argv[1]))
kills = [json.loads(l) for l in open(sys.argv[2])]
kills = [k for k in kills if k.get("pid")]
kt = sorted(k["t"] for k in kills)
held = sum(max(k["conns"], 0) for k in kills)
per_kill = {t: 0 for t in kt}
orphans = 0
for f in load["failures"]:
    before = [t for t in kt if t <= f["t"] + 0.05]
    if not before or f["t"] - before[-1] > 2.0:
        orphans += 1
    else:
        per_kill[before[-1]] += 1
kinds = {}
for f in load["failures"]:
    kinds[f["kind"]] = kinds.get(f["kind"], 0) + 1
secs = sorted(int(s) for s in load["by_second"])
gap = 0
for a, b in zip(secs, secs[1:]):
    gap = max(gap, b - a)
print("kills=%d" % len(kills))
print("held=%d" % held)
print("held_max=%d" % max([k["conns"] for k in kills] or [0]))
print("requests=%d" % load["requests"])
print("ok=%d" % load["ok"])
print("failed=%d" % len(load["failures"]))
print("orphans=%d" % orphans)
print("worst=%d" % max(per_kill.values() or [0]))
print("statuses=%d" % sum(n for k, n in kinds.items()
                          if k.startswith("status")))
print("gap=%d" % gap)
print("kinds='%s'" % " ".join("%s:%d" % kv for kv in sorted(kinds.items())))
PY
. "$TEST_TMP/verdict1"
echo "# part 1: $kills kills; $requests requests, $ok ok, $failed failed" \
    "($kinds); the killed workers held $held client connections" \
    "(at most $held_max at once); the costliest kill: $worst failures"
check "the killer killed at least 15 workers ($kills)" test "$kills" -ge 15
check "the load was served throughout (longest gap without a 200: ${gap}s)" \
    test "$ok" -gt 0 -a "$gap" -le 2
check "failures ($failed) <= connections the killed workers held ($held)" \
    test "$failed" -le "$held"
expect_eq "no failure without a kill in the 2 s before it" "$orphans" 0
expect_eq "no failure is an HTTP error status (only broken connections)" \
    "$statuses" 0

# --- after the chaos -------------------------------------------------------

check "the master respawned to $WORKERS workers" \
    wait_until 50 nworkers_is $WORKERS
check "the master is still the same process" alive "$SHUNT_PID"
run "$CTL" -c "$CONF" status
echo "$out" > "$TEST_TMP/status.json"
check "shuntctl status answers" test "$rc" -eq 0
live_in_status=$(python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join(str(w["pid"]) for w in sorted(d["master"]["workers"],
    key=lambda w: w["pid"])))' "$TEST_TMP/status.json" 2>/dev/null)
expect_eq "shuntctl status is JSON naming the live workers" \
    "$live_in_status" "$(workers | tr '\n' ' ' | sed 's/ $//')"

# Reader slots: mdb_stat -r lists them (and exits 1, see DEPENDENCIES.md);
# the master clears dead workers' slots after every reap.
if command -v mdb_stat >/dev/null 2>&1; then
	mdb_stat -r "$STATE" > "$TEST_TMP/readers" 2>&1
	stale=""
	nreaders=0
	for pid in $(awk '/^ *[0-9]+ / {print $1}' "$TEST_TMP/readers"); do
		nreaders=$((nreaders + 1))
		alive "$pid" || stale="$stale $pid"
	done
	check "mdb_stat -r lists the reader table" \
	    grep -q "Reader Table Status" "$TEST_TMP/readers"
	expect_eq "no reader slot of a dead process ($nreaders slots)" \
	    "$stale" ""
else
	skip "no stale LMDB reader slots" "mdb_stat missing (lmdb-utils)"
fi

# Each worker: no client connection left once the clients are gone, the
# idle descriptors as before the load, and upstream connections only as
# pooled keep-alive connections (ESTABLISHED, at most one per client
# connection and peer).
settled() {
	for w in $(workers); do
		fds_of "$w" > "$TEST_TMP/fds.$w" 2>/dev/null || return 1
		python3 -c 'import json, sys
c = json.load(open(sys.argv[1]))
up = c["upstream"]
sys.exit(not (c["client"] == 0 and
              c["other"] + c["other_sockets"] + c["listen"] == int(sys.argv[2])
              and set(up) <= {"ESTABLISHED"}
              and up.get("ESTABLISHED", 0) <= int(sys.argv[3])))' \
		    "$TEST_TMP/fds.$w" "$baseline" $((CONNS * 3)) || return 1
	done
}
# check_settled WHEN: one TAP line, and each worker's census as comments.
check_settled() {
	if wait_until 50 settled; then
		ok "$1: every worker is back to its idle descriptors ($baseline) plus pooled upstream connections"
	else
		not_ok "$1: every worker is back to its idle descriptors ($baseline) plus pooled upstream connections"
	fi
	for w in $(workers); do
		echo "# worker $w: $(cat "$TEST_TMP/fds.$w" 2>/dev/null)"
	done
}
check_settled "after the worker kills"

# --- part 2: backends killed and restarted under load ---------------------

# restart_backend NAME PORT: the same backend again on its old port.
restart_backend() {
	rm -f "$TEST_TMP/$1.port"
	"$SHUNT_BACKEND" -l "127.0.0.1:$2" -p "$TEST_TMP/$1.port" -n "$1" &
	test_pids="$test_pids $!"
	RESTARTED=$!
	wait_for "$TEST_TMP/$1.port"
}
now() {
	date +%s.%N
}

python3 "$LIB" load 127.0.0.1 "$PORT" "$TEST_TMP/load2.json" \
    --conns $CONNS --seconds 16 --pause 5 &
load=$!
test_pids="$test_pids $load"
sleep 2
kill2=$(now)
kill -9 "$B2_PID"
wait "$B2_PID" 2>/dev/null
sleep 2.5
restart_backend b2 "$P2"
up2=$(now)
sleep 3
kill3=$(now)
kill -9 "$B3_PID"
wait "$B3_PID" 2>/dev/null
sleep 2.5
restart_backend b3 "$P3"
up3=$(now)
wait "$load"

python3 - "$TEST_TMP/load2.json" "$kill2" "$up2" "$kill3" "$up3" \
    > "$TEST_TMP/verdict2" <<'PY'
import json, sys
load = json.load(open(sys.argv[1]))
k2, u2, k3, u3 = map(float, sys.argv[2:6])
by = {int(s): v for s, v in load["by_second"].items()}
def served(name, a, b):
    return sum(v.get(name, 0) for s, v in by.items() if a <= s < b)
def first(name, after):
    for s in sorted(by):
        if s >= int(after) and by[s].get(name):
            return s
    return None
# while a backend is dead (whole seconds strictly inside the window)
dead2 = range(int(k2) + 1, int(u2))
dead3 = range(int(k3) + 1, int(u3))
quiet2 = all(by.get(s, {}).get("b2", 0) == 0 for s in dead2)
quiet3 = all(by.get(s, {}).get("b3", 0) == 0 for s in dead3)
others2 = all(by.get(s, {}).get("b1", 0) > 0 and by.get(s, {}).get("b3", 0) > 0
              for s in dead2)
others3 = all(by.get(s, {}).get("b1", 0) > 0 and by.get(s, {}).get("b2", 0) > 0
              for s in dead3)
f2 = first("b2", u2)
f3 = first("b3", u3)
kinds = {}
for f in load["failures"]:
    kinds[f["kind"]] = kinds.get(f["kind"], 0) + 1
print("requests=%d" % load["requests"])
print("ok=%d" % load["ok"])
print("failed=%d" % len(load["failures"]))
print("kinds='%s'" % " ".join("%s:%d" % kv for kv in sorted(kinds.items())))
print("quiet=%d" % (quiet2 and quiet3))
print("others=%d" % (others2 and others3))
print("back2=%s" % ("none" if f2 is None else max(0, f2 - int(u2))))
print("back3=%s" % ("none" if f3 is None else max(0, f3 - int(u3))))
# b2's share of the last 2 s of load, once both are back
end = max(by) if by else 0
tot = sum(sum(v.values()) for s, v in by.items() if s >= end - 2)
print("share2=%d" % (100 * served("b2", end - 2, end + 1) // max(tot, 1)))
print("share3=%d" % (100 * served("b3", end - 2, end + 1) // max(tot, 1)))
PY
. "$TEST_TMP/verdict2"
echo "# part 2: $requests requests, $ok ok, $failed failed ($kinds);" \
    "b2 back after ${back2}s, b3 after ${back3}s (whole seconds);" \
    "share of the last 2 s: b2 $share2%, b3 $share3%"
# Each client connection has at most one request in flight when a backend
# dies, and shunt retries those (GET is idempotent) on another peer.
check "backend kills: failures ($failed) <= requests in flight ($CONNS per kill)" \
    test "$failed" -le $((2 * CONNS))
expect_eq "a dead backend gets no traffic" "$quiet" 1
expect_eq "the other backends serve meanwhile" "$others" 1
# fail_timeout 1s, doubled on each failed probe while the backend was dead
# for 2.5 s: down for at most 4 s after the restart, then probed.
check "restarted b2 takes traffic again within 6 s (${back2}s)" \
    test "$back2" != none -a "${back2:-99}" -le 6 2>/dev/null
check "restarted b3 takes traffic again within 6 s (${back3}s)" \
    test "$back3" != none -a "${back3:-99}" -le 6 2>/dev/null
check "b2 has its share again (${share2}% of the last 2 s)" test "$share2" -ge 15
check "b3 has its share again (${share3}% of the last 2 s)" test "$share3" -ge 15

# The pooled connections to the killed backends are gone too: an idle
# upstream connection whose peer closed is not kept.
check_settled "after the backend kills"
check "the master survived the chaos" alive "$SHUNT_PID"
stop_shunt
check "... and stops cleanly" wait_until 50 none_alive "$SHUNT_PID"
done_testing
