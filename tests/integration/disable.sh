#!/bin/bash
# shuntctl disable: no new requests, and the workers close their idle
# connections to the peer (drain keeps them).
. "$(dirname "$0")/lib.sh"

CTL=${SHUNTCTL_BINARY:?}
start_backend b1 && P1=$BACKEND_PORT
PORT=$(free_port)
cat > "$TEST_TMP/shunt.json" <<JSON
{
  "workers": 1,
  "state_dir": "state",
  "listeners": [ { "listen": "127.0.0.1:$PORT", "pool": "web" } ],
  "pools": { "web": { "peers": [ { "address": "127.0.0.1:$P1" } ] } }
}
JSON
start_shunt "$TEST_TMP/shunt.json" "$PORT"
URL="http://127.0.0.1:$PORT"
conn() { curl -s -o /dev/null -w '%header{x-backend-conn}' "$URL/"; }

first=$(conn)
expect_eq "keep-alive: the next request reuses the upstream connection" "$(conn)" "$first"

"$CTL" -c "$TEST_TMP/shunt.json" drain web "127.0.0.1:$P1" >/dev/null
expect_eq "a drained only peer: 503" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/")" 503
sleep 1.3
"$CTL" -c "$TEST_TMP/shunt.json" enable web "127.0.0.1:$P1" >/dev/null
expect_eq "drain keeps idle connections" "$(conn)" "$first"

"$CTL" -c "$TEST_TMP/shunt.json" disable web "127.0.0.1:$P1" >/dev/null
# The worker notices on its next selection or within a second's tick.
sleep 1.3
"$CTL" -c "$TEST_TMP/shunt.json" enable web "127.0.0.1:$P1" >/dev/null
second=$(conn)
check "disable closed the idle connection: a new one after enable ($first -> $second)" \
    test -n "$second" -a "$second" != "$first"
stop_shunt
done_testing
