#!/bin/bash
# limits.max_connections: a full worker stops accepting and resumes when a
# connection closes; connections wait in the queue, none is refused.
. "$(dirname "$0")/lib.sh"

start_backend b1 && P1=$BACKEND_PORT
PORT=$(free_port)
cat > "$TEST_TMP/shunt.json" <<JSON
{
  "workers": 1,
  "state_dir": "state",
  "limits": { "max_connections": 2 },
  "listeners": [ { "listen": "127.0.0.1:$PORT", "pool": "web" } ],
  "pools": { "web": { "peers": [ { "address": "127.0.0.1:$P1" } ] } }
}
JSON
start_shunt "$TEST_TMP/shunt.json" "$PORT"
URL="http://127.0.0.1:$PORT"

# Two idle keep-alive clients fill the worker.
exec 5<>"/dev/tcp/127.0.0.1/$PORT"
exec 6<>"/dev/tcp/127.0.0.1/$PORT"
printf 'GET / HTTP/1.1\r\nHost: a\r\n\r\n' >&5
printf 'GET / HTTP/1.1\r\nHost: a\r\n\r\n' >&6
sleep 0.3
code=$(curl -s -m 1 -o /dev/null -w '%{http_code}' "$URL/")
expect_eq "a third client waits while the worker is full" "$code" 000
exec 5>&- 6>&-
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$URL/")
expect_eq "once they close, new clients are served" "$code" 200
stop_shunt
done_testing
