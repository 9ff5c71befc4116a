#!/bin/bash
# shuntctl against a running shunt (DESIGN.md §2, §5): the status JSON
# finds the dead peer and who saw it; drain, disable and enable steer all
# four workers; reset clears the streak; events and metrics tell the
# same story; status outlives the master.
. "$(dirname "$0")/lib.sh"

CTL=${SHUNTCTL_BINARY:?}

start_backend b1 && P1=$BACKEND_PORT
start_backend b2 && P2=$BACKEND_PORT
DEAD=$(free_port)
PORT=$(free_port)

# Pools listed "web" before "api": config order, not alphabetical.
cat > "$TEST_TMP/shunt.json" <<JSON
{
  "workers": 4,
  "state_dir": "state",
  "log": { "access": "access.log", "error": "error.log" },
  "listeners": [ { "listen": "127.0.0.1:$PORT", "pool": "web",
                   "routes": [ { "path_prefix": "/api/", "pool": "api" } ] } ],
  "pools": {
    "web": { "health": { "max_fails": 1, "fail_timeout": "10m" },
             "peers": [ { "address": "127.0.0.1:$DEAD" },
                        { "address": "127.0.0.1:$P1" },
                        { "address": "127.0.0.1:$P2", "weight": 2 } ] },
    "api": { "peers": [ { "address": "127.0.0.1:$P2" },
                        { "address": "127.0.0.1:$P1", "backup": true } ] }
  }
}
JSON
start_shunt "$TEST_TMP/shunt.json" "$PORT"
URL="http://127.0.0.1:$PORT"
CONF=$TEST_TMP/shunt.json
STATE=$TEST_TMP/state

# ---- helpers -------------------------------------------------------------

# SHUNT_TEST_JSONTOOL=python3|jq|grep forces one (to test the fallbacks).
if [ -n "$SHUNT_TEST_JSONTOOL" ]; then
	JSONTOOL=$SHUNT_TEST_JSONTOOL
elif command -v python3 >/dev/null 2>&1; then
	JSONTOOL=python3
elif command -v jq >/dev/null 2>&1; then
	JSONTOOL=jq
else
	JSONTOOL=grep
fi
echo "# JSON checked with $JSONTOOL"

RFC3339='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$'

# peer_field FILE POOL ADDR KEY: a peer's KEY in a status JSON, as text
# (strings unquoted; objects as JSON; "null"; "absent" when missing).
peer_field() {
	case $JSONTOOL in
	python3)
		python3 - "$@" <<'PY'
import json, sys
f, pool, addr, key = sys.argv[1:5]
doc = json.load(open(f))
for p in doc["pools"]:
    if p["name"] != pool:
        continue
    for peer in p["peers"]:
        if peer["address"] == addr:
            v = peer.get(key, "absent")
            if v is None:
                print("null")
            elif isinstance(v, bool):
                print("true" if v else "false")
            elif isinstance(v, (dict, list)):
                print(json.dumps(v, separators=(",", ":")))
            else:
                print(v)
PY
		;;
	jq)
		jq -r --arg pool "$2" --arg addr "$3" --arg key "$4" \
		    '.pools[] | select(.name == $pool) | .peers[] |
		     select(.address == $addr) |
		     if has($key) then (.[$key] | if type == "object" then
		       tojson else . end) else "absent" end' "$1"
		;;
	grep)
		# Our compact output: a pool's peers hold no '[' and each
		# peer ends with "probe":null} or "probe":{...}}.
		grep -o "{\"name\":\"$2\",\"peers\":\[[^]]*\]" "$1" |
		    grep -o "{\"address\":\"$3\",[^[]*\"probe\":\(null\|{[^}]*}\)}" |
		    grep -o "\"$4\":\(\"[^\"]*\"\|-\?[0-9]\+\|true\|false\|null\|{[^}]*}\)" |
		    head -n 1 | sed "s/^\"$4\"://; s/^\"\(.*\)\"\$/\1/"
		;;
	esac
}

# status_check FILE WORKER_PIDS: §5's structure and types, pools and
# peers in config order; prints what is wrong as TAP comments.
status_check() {
	case $JSONTOOL in
	python3)
		python3 - "$1" "$2" "$DEAD" "$P1" "$P2" <<'PY'
import json, re, sys
f, wpids, dead, p1, p2 = sys.argv[1:6]
wpids = set(int(x) for x in wpids.split())
t = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
bad = []
def want(cond, what):
    if not cond:
        bad.append(what)
def isint(v):
    return isinstance(v, int) and not isinstance(v, bool)
doc = json.load(open(f))
want(doc.get("version") == 1 and isint(doc.get("version")), "version 1")
want(isinstance(doc.get("generated_at"), str) and
     t.match(doc["generated_at"]), "generated_at RFC 3339 UTC")
m = doc.get("master", {})
want(isint(m.get("pid")), "master.pid integer")
want(isinstance(m.get("running"), bool), "master.running boolean")
want(isinstance(m.get("workers"), list), "master.workers list")
for w in m.get("workers", []):
    want(isint(w.get("pid")) and isint(w.get("slot")), "worker pid/slot")
want(set(w.get("pid") for w in m.get("workers", [])) == wpids,
     "master.workers are the master's children %s" % sorted(wpids))
want(sorted(w.get("slot") for w in m.get("workers", [])) == [0, 1, 2, 3],
     "worker slots 0..3")
want(isint(doc.get("config_generation")), "config_generation integer")
pools = doc.get("pools", [])
want([p.get("name") for p in pools] == ["web", "api"], "pools in config order")
order = {"web": ["127.0.0.1:" + x for x in (dead, p1, p2)],
         "api": ["127.0.0.1:" + x for x in (p2, p1)]}
kinds = {"connect_refused", "connect_timeout", "unreachable", "tls", "reset",
         "closed", "write_error", "read_timeout", "bad_response", "status"}
for p in pools:
    want([x.get("address") for x in p.get("peers", [])] ==
         order.get(p.get("name")), "peers of %s in config order" % p.get("name"))
    for x in p.get("peers", []):
        a = "%s/%s" % (p.get("name"), x.get("address"))
        want(x.get("state") in ("up", "down", "probing", "draining",
             "disabled"), a + " state")
        want(x.get("health") in ("up", "down", "probing"), a + " health")
        want(x.get("admin") in ("none", "draining", "disabled"), a + " admin")
        want(isinstance(x.get("backup"), bool), a + " backup boolean")
        for k in ("weight", "consecutive_failures", "failures", "requests",
                  "ejections"):
            want(isint(x.get(k)) and x[k] >= 0, a + " " + k + " integer")
        lf = x.get("last_failure", "absent")
        want(lf is None or (isinstance(lf, dict) and
             t.match(str(lf.get("at"))) and lf.get("kind") in kinds and
             isint(lf.get("worker_pid")) and
             isinstance(lf.get("detail"), str)), a + " last_failure")
        du = x.get("down_until", "absent")
        want(du is None or (isinstance(du, str) and t.match(du)),
             a + " down_until")
        pr = x.get("probe", "absent")
        want(pr is None or (isinstance(pr, dict) and
             isint(pr.get("worker_pid")) and t.match(str(pr.get("since")))),
             a + " probe")
for b in bad:
    print("#   wrong: " + b)
sys.exit(1 if bad else 0)
PY
		;;
	jq)
		jq -e --arg wpids "$2" --arg re "$RFC3339" \
		    --arg dead "127.0.0.1:$DEAD" --arg p1 "127.0.0.1:$P1" \
		    --arg p2 "127.0.0.1:$P2" '
		  def int: type == "number" and . == floor and . >= 0;
		  def time: type == "string" and test($re);
		  .version == 1 and (.generated_at | time) and
		  (.master.pid | int) and (.master.running | type == "boolean") and
		  ([.master.workers[].pid] | sort) ==
		    ($wpids | split(" ") | map(select(. != "") | tonumber) | sort) and
		  ([.master.workers[].slot] | sort) == [0, 1, 2, 3] and
		  (.config_generation | int) and
		  [.pools[].name] == ["web", "api"] and
		  [.pools[0].peers[].address] == [$dead, $p1, $p2] and
		  [.pools[1].peers[].address] == [$p2, $p1] and
		  all(.pools[].peers[];
		    (.state | IN("up", "down", "probing", "draining", "disabled")) and
		    (.health | IN("up", "down", "probing")) and
		    (.admin | IN("none", "draining", "disabled")) and
		    (.backup | type == "boolean") and
		    (.weight | int) and (.consecutive_failures | int) and
		    (.failures | int) and (.requests | int) and
		    (.ejections | int) and
		    (.last_failure == null or ((.last_failure.at | time) and
		      (.last_failure.kind | type == "string") and
		      (.last_failure.worker_pid | int))) and
		    (.down_until == null or (.down_until | time)) and
		    (.probe == null or ((.probe.since | time) and
		      (.probe.worker_pid | int))))' "$1" >/dev/null
		;;
	grep)
		grep -Eq '^\{"version":1,"generated_at":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z","master":\{"pid":[0-9]+,"running":(true|false),"workers":\[' "$1" &&
		grep -Eq '"config_generation":[0-9]+,"pools":\[\{"name":"web","peers":\[\{"address":"127\.0\.0\.1:'"$DEAD"'",.*\{"address":"127\.0\.0\.1:'"$P1"'",.*\{"address":"127\.0\.0\.1:'"$P2"'",.*\{"name":"api","peers":\[\{"address":"127\.0\.0\.1:'"$P2"'",.*\{"address":"127\.0\.0\.1:'"$P1"'",' "$1" &&
		! grep -Eq '"(weight|consecutive_failures|failures|requests|ejections)":[^0-9]' "$1"
		;;
	esac
}

# backend_count PORT: requests the backend on PORT has answered (this one
# included).
backend_count() {
	curl -s "http://127.0.0.1:$1/count" |
	    sed -n 's/.*"requests":\([0-9]*\).*/\1/p'
}

# fresh_requests N PATH: N requests, each on its own connection; prints
# how many got 200.
fresh_requests() {
	fr_ok=0
	for fr_i in $(seq "$1"); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL$2")" = 200 ] &&
		    fr_ok=$((fr_ok + 1))
	done
	echo "$fr_ok"
}

# ---- a dead peer, found and explained ------------------------------------

expect_eq "20 GETs with a refusing peer among three all succeed" \
    "$(fresh_requests 20 /)" 20
# Counters are batched: 20 tries to live peers + 1 refused one reach the
# store once a second at least (§5).  Poll, bounded; assert the outcome
# only, never how long it took.
web_requests() {
	"$CTL" -c "$CONF" metrics 2>/dev/null | awk '
	    /^shunt_peer_requests_total\{pool="web",/ { n += $2 }
	    END { print n + 0 }'
}
for i in $(seq 100); do
	total=$(web_requests)
	[ "$total" -ge 21 ] && break
	sleep 0.05
done
expect_eq "the tries reach the store's counters (21 tries)" "$total" 21
"$CTL" -c "$CONF" status > "$TEST_TMP/status.json" 2>"$TEST_TMP/status.err"
expect_eq "status exits 0" "$?" 0
expect_eq "status prints one line of JSON by default" \
    "$(wc -l < "$TEST_TMP/status.json")" 1
expect_eq "and nothing on stderr while the master runs" \
    "$(cat "$TEST_TMP/status.err")" ""
workers=$(pgrep -P "$SHUNT_PID" | tr '\n' ' ')
expect_eq "shunt runs 4 workers" "$(echo $workers | wc -w)" 4
if status_check "$TEST_TMP/status.json" "$workers"; then
	ok "status JSON: structure, types, config order (§5)"
else
	not_ok "status JSON: structure, types, config order (§5)"
	sed 's/^/#   /' "$TEST_TMP/status.json"
fi
S=$TEST_TMP/status.json
expect_eq "the refusing peer is down" \
    "$(peer_field "$S" web "127.0.0.1:$DEAD" state)" down
expect_eq "its last failure is connect_refused" \
    "$(peer_field "$S" web "127.0.0.1:$DEAD" last_failure |
       sed -n 's/.*"kind":"\([a-z_]*\)".*/\1/p')" connect_refused
wpid=$(peer_field "$S" web "127.0.0.1:$DEAD" last_failure |
    sed -n 's/.*"worker_pid":\([0-9]*\).*/\1/p')
case " $workers " in
*" $wpid "*) ok "seen by worker $wpid, one of the master's workers" ;;
*) not_ok "seen by one of the master's workers (got \"$wpid\", workers $workers)" ;;
esac
check "down_until is RFC 3339 UTC" \
    grep -Eq "$RFC3339" <<< "$(peer_field "$S" web "127.0.0.1:$DEAD" down_until)"
expect_eq "its streak is 1 (max_fails 1)" \
    "$(peer_field "$S" web "127.0.0.1:$DEAD" consecutive_failures)" 1
expect_eq "a live peer is up, with no failure" \
    "$(peer_field "$S" web "127.0.0.1:$P1" state) $(peer_field "$S" web "127.0.0.1:$P1" last_failure)" \
    "up null"
expect_eq "a backup peer says so" \
    "$(peer_field "$S" api "127.0.0.1:$P1" backup)" true
expect_eq "weights are shown" \
    "$(peer_field "$S" web "127.0.0.1:$P2" weight)" 2

"$CTL" -S "$STATE" status > "$TEST_TMP/status-S.json" 2>&1
expect_eq "-S STATE_DIR gives the same status as -c (generated_at aside)" \
    "$(sed 's/"generated_at":"[^"]*"//' "$TEST_TMP/status-S.json")" \
    "$(sed 's/"generated_at":"[^"]*"//' "$S")"

"$CTL" -c "$CONF" status web > "$TEST_TMP/web.json"
expect_eq "status POOL shows that pool only" \
    "$(grep -o '"name":"[a-z]*"' "$TEST_TMP/web.json" | tr '\n' ' ')" '"name":"web" '
out=$("$CTL" -S "$STATE" status nope 2>&1)
expect_eq "status of an unknown pool exits 1" "$?" 1
expect_eq "and names it and the store" "$out" \
    "shuntctl: no pool \"nope\" in the health store at $STATE/data.mdb"
"$CTL" -c "$CONF" status --pretty > "$TEST_TMP/pretty.json"
check "status --pretty indents, one key a line" \
    test "$(wc -l < "$TEST_TMP/pretty.json")" -gt 20
case $JSONTOOL in
python3) check "status --pretty is valid JSON" python3 -c \
    'import json, sys; json.load(open(sys.argv[1]))' "$TEST_TMP/pretty.json" ;;
jq) check "status --pretty is valid JSON" bash -c \
    "jq -e .version '$TEST_TMP/pretty.json' >/dev/null" ;;
esac
"$CTL" -c "$CONF" status --table > "$TEST_TMP/table.txt"
check "status --table has a header" grep -q '^POOL  *PEER  *STATE  *STREAK' "$TEST_TMP/table.txt"
check "and a row for the dead peer with its failure kind" \
    grep -Eq "^web +127\.0\.0\.1:$DEAD +down +1/1 +1/1 +connect_refused, [0-9]+s ago$" "$TEST_TMP/table.txt"
out=$("$CTL" -c "$CONF" status --pretty --table 2>&1)
expect_eq "--pretty with --table is a usage error" "$?" 2

# ---- drain, disable, enable: every worker obeys --------------------------

out=$("$CTL" -c "$CONF" drain web "127.0.0.1:$P1")
expect_eq "drain exits 0 and says what changed" "$?:$out" \
    "0:web/127.0.0.1:$P1: up -> draining"
out=$("$CTL" -c "$CONF" drain web "127.0.0.1:$P1")
expect_eq "draining twice says so" "$out" "web/127.0.0.1:$P1: already draining"
"$CTL" -c "$CONF" status web > "$S"
expect_eq "status shows the drained peer draining, health up" \
    "$(peer_field "$S" web "127.0.0.1:$P1" state)/$(peer_field "$S" web "127.0.0.1:$P1" health)/$(peer_field "$S" web "127.0.0.1:$P1" admin)" \
    "draining/up/draining"
before=$(backend_count "$P1")
expect_eq "40 GETs on fresh connections succeed while it drains" \
    "$(fresh_requests 40 /)" 40
expect_eq "none of them reached the drained peer" \
    "$(( $(backend_count "$P1") - before - 1 ))" 0

out=$("$CTL" -c "$CONF" enable web "127.0.0.1:$P1")
expect_eq "enable undoes drain" "$out" "web/127.0.0.1:$P1: draining -> up"
before=$(backend_count "$P1")
fresh_requests 40 / > /dev/null
got=$(( $(backend_count "$P1") - before - 1 ))
check "after enable it takes requests again ($got of 40)" test "$got" -gt 0

# -S: no config, names checked against the store's directory.
out=$("$CTL" -S "$STATE" disable web "127.0.0.1:$P1")
expect_eq "disable through -S" "$out" "web/127.0.0.1:$P1: up -> disabled"
before=$(backend_count "$P1")
expect_eq "40 GETs succeed while it is disabled" "$(fresh_requests 40 /)" 40
expect_eq "none of them reached the disabled peer" \
    "$(( $(backend_count "$P1") - before - 1 ))" 0
out=$("$CTL" -S "$STATE" enable web "127.0.0.1:$P1")
expect_eq "enable undoes disable" "$out" "web/127.0.0.1:$P1: disabled -> up"
before=$(backend_count "$P1")
fresh_requests 40 / > /dev/null
got=$(( $(backend_count "$P1") - before - 1 ))
check "after enable it takes requests again ($got of 40)" test "$got" -gt 0
out=$("$CTL" -S "$STATE" enable web "127.0.0.1:$P1")
expect_eq "enabling an enabled peer says its state" "$out" \
    "web/127.0.0.1:$P1: already up"

out=$("$CTL" -S "$STATE" drain nope "127.0.0.1:$P1" 2>&1)
expect_eq "-S: an unknown pool exits 1" "$?" 1
expect_eq "and is named with the store" "$out" \
    "shuntctl: no pool \"nope\" in the health store at $STATE/data.mdb"
out=$("$CTL" -S "$STATE" drain api "127.0.0.1:$DEAD" 2>&1)
expect_eq "-S: an unknown peer is named" "$?:$out" \
    "1:shuntctl: pool \"api\" in the health store at $STATE/data.mdb has no peer \"127.0.0.1:$DEAD\""

# ---- reset ---------------------------------------------------------------

failures=$(peer_field "$S" web "127.0.0.1:$DEAD" failures)
out=$("$CTL" -c "$CONF" reset web "127.0.0.1:$DEAD")
expect_eq "reset brings the dead peer up" "$?:$out" \
    "0:web/127.0.0.1:$DEAD: down -> up"
"$CTL" -c "$CONF" status > "$S"
expect_eq "its state is up and its streak 0" \
    "$(peer_field "$S" web "127.0.0.1:$DEAD" state) $(peer_field "$S" web "127.0.0.1:$DEAD" consecutive_failures)" \
    "up 0"
expect_eq "its totals never go back" \
    "$(peer_field "$S" web "127.0.0.1:$DEAD" failures)" "$failures"
expect_eq "down_until is null once up" \
    "$(peer_field "$S" web "127.0.0.1:$DEAD" down_until)" null
out=$("$CTL" -c "$CONF" reset web "127.0.0.1:$DEAD")
expect_eq "resetting an up peer says so" "$out" \
    "web/127.0.0.1:$DEAD: already up, failure streak 0"

# ---- events --------------------------------------------------------------

"$CTL" -c "$CONF" events -n 100 > "$TEST_TMP/events.jsonl"
expect_eq "events exits 0" "$?" 0
check "every event line is one JSON object with the keys in order" \
    bash -c "! grep -Ev '^\{\"at\":\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\",\"seq\":[0-9]+,\"pool\":\"[^\"]*\",\"peer\":\"[^\"]*\",\"from\":\"[a-z]+\",\"to\":\"[a-z]+\",\"cause\":(null|\"[a-z_]+\"),\"pid\":[0-9]+,\"consecutive_failures\":[0-9]+' '$TEST_TMP/events.jsonl'"
transitions() {
	grep "\"pool\":\"web\",\"peer\":\"127.0.0.1:$1\"" "$TEST_TMP/events.jsonl" |
	    sed 's/.*"from":"\([a-z]*\)","to":"\([a-z]*\)","cause":\([a-z_"]*\),.*/\1>\2(\3)/' |
	    tr -d '"' | tr '\n' ' '
}
expect_eq "the dead peer: up -> down (connect_refused), then reset up" \
    "$(transitions "$DEAD")" "up>down(connect_refused) down>up(null) "
expect_eq "the steered peer: the admin transitions in order" \
    "$(transitions "$P1")" \
    "up>draining(null) draining>up(null) up>disabled(null) disabled>up(null) "
check "seq grows, newest last" bash -c \
    "sed 's/.*\"seq\":\([0-9]*\),.*/\1/' '$TEST_TMP/events.jsonl' | sort -c -n"
check "the reset is the newest event" \
    grep -q "\"peer\":\"127.0.0.1:$DEAD\",\"from\":\"down\",\"to\":\"up\"" \
    <<< "$(tail -n 1 "$TEST_TMP/events.jsonl")"
expect_eq "events -n 2 prints the latest 2" \
    "$("$CTL" -c "$CONF" events -n 2)" "$(tail -n 2 "$TEST_TMP/events.jsonl")"
check "admin events carry shuntctl's pid, not a worker's" bash -c \
    "grep '\"to\":\"draining\"' '$TEST_TMP/events.jsonl' | grep -vq '\"pid\":$wpid,'"

# ---- metrics -------------------------------------------------------------

"$CTL" -c "$CONF" metrics > "$TEST_TMP/metrics.txt"
expect_eq "metrics exits 0" "$?" 0
NAME='[a-zA-Z_:][a-zA-Z0-9_:]*'
LABEL='[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*"'
bad=$(grep -Ev "^(# HELP $NAME .*|# TYPE $NAME (counter|gauge)|$NAME(\{$LABEL(,$LABEL)*\})? -?[0-9]+(\.[0-9]+)?)$" "$TEST_TMP/metrics.txt")
expect_eq "every metrics line matches the exposition grammar" "$bad" ""
check "every sample's metric has a TYPE line before it" awk '
    /^# TYPE / { typed[$3] = 1; next }
    /^#/ { next }
    { n = $0; sub(/[{ ].*/, "", n); if (!(n in typed)) exit 1 }' "$TEST_TMP/metrics.txt"
check "shunt_master_up 1" grep -qx 'shunt_master_up 1' "$TEST_TMP/metrics.txt"
check "shunt_workers 4" grep -qx 'shunt_workers 4' "$TEST_TMP/metrics.txt"
check "shunt_peer_up and shunt_peer_state per peer" grep -qx \
    "shunt_peer_state{pool=\"web\",peer=\"127.0.0.1:$DEAD\",state=\"up\"} 1" \
    "$TEST_TMP/metrics.txt"
check "counters are typed counter" grep -qx \
    '# TYPE shunt_peer_requests_total counter' "$TEST_TMP/metrics.txt"
expect_eq "the dead peer's ejections counted" \
    "$(grep "^shunt_peer_ejections_total{pool=\"web\",peer=\"127.0.0.1:$DEAD\"}" "$TEST_TMP/metrics.txt" | awk '{print $2}')" 1

# ---- the master gone -------------------------------------------------------

master=$SHUNT_PID
stop_shunt
"$CTL" -c "$CONF" status > "$S" 2>"$TEST_TMP/status.err"
expect_eq "status after shunt stopped still exits 0" "$?" 0
expect_eq "and says on stderr the master is not running" \
    "$(cat "$TEST_TMP/status.err")" \
    "shuntctl: the master (pid $master) is not running; showing the last known state"
check "it prints the last known state (running false)" \
    grep -q "\"master\":{\"pid\":$master,\"running\":false" "$S"
expect_eq "the peers are still there" \
    "$(peer_field "$S" web "127.0.0.1:$DEAD" failures)" "$failures"
check "metrics say shunt_master_up 0" bash -c \
    "'$CTL' -S '$STATE' metrics 2>/dev/null | grep -qx 'shunt_master_up 0'"

done_testing
