#!/bin/bash
# The data path: balancing, upstream keep-alive, routes, headers, HTTP/1.0,
# pipelining, 100-continue, HEAD/204/304, spreading over workers.
. "$(dirname "$0")/lib.sh"

start_backend b1 && P1=$BACKEND_PORT
start_backend b2 && P2=$BACKEND_PORT
start_backend b3 && P3=$BACKEND_PORT
start_backend api && PA=$BACKEND_PORT
start_backend static && PS=$BACKEND_PORT
PORT=$(free_port)
PORT4=$(free_port)

cat > "$TEST_TMP/shunt.json" <<JSON
{
  "workers": 1,
  "state_dir": "state",
  "log": { "access": "access.log", "error": "error.log" },
  "listeners": [
    { "listen": "127.0.0.1:$PORT", "pool": "web",
      "routes": [ { "host": "API.example", "path_prefix": "/v1/", "pool": "api" },
                  { "path_prefix": "/static/", "pool": "static" } ] }
  ],
  "pools": {
    "web": { "peers": [ { "address": "127.0.0.1:$P1", "weight": 2 },
                        { "address": "127.0.0.1:$P2" },
                        { "address": "127.0.0.1:$P3", "backup": true } ] },
    "api": { "peers": [ { "address": "127.0.0.1:$PA" } ] },
    "static": { "keepalive": { "max_idle": 0 },
                "peers": [ { "address": "127.0.0.1:$PS" } ] }
  }
}
JSON
start_shunt "$TEST_TMP/shunt.json" "$PORT"
URL="http://127.0.0.1:$PORT"

# --- balancing: smooth weighted round robin, backup idle -------------------
seq_got=""
for i in 1 2 3 4 5 6; do
	b=$(curl -s -o /dev/null -w '%header{x-backend}' "$URL/")
	seq_got="$seq_got$b "
done
expect_eq "round robin follows weights 2:1 (smooth)" "$seq_got" \
    "b1 b2 b1 b1 b2 b1 "

counts=$(for i in $(seq 30); do curl -s -o /dev/null -w '%header{x-backend}\n' "$URL/"; done | sort | uniq -c | awk '{printf "%s=%s ", $2, $1}')
expect_eq "30 requests split 20/10, the backup gets none" "$counts" "b1=20 b2=10 "

# --- upstream keep-alive: fresh client connections reuse peer connections --
conns=$(for i in $(seq 9); do curl -s -o /dev/null -w '%header{x-backend}:%header{x-backend-conn}\n' "$URL/"; done | sort -u | wc -l)
expect_eq "9 requests on fresh client connections use 2 upstream connections" "$conns" 2

static_conns=$(for i in 1 2 3; do curl -s -o /dev/null -w '%header{x-backend-conn}\n' "$URL/static/x"; done | sort -u | wc -l)
expect_eq "keepalive.max_idle 0: a new upstream connection per request" "$static_conns" 3

# --- routes ----------------------------------------------------------------
expect_eq "route by host (any case, port ignored) and prefix" \
    "$(curl -s -o /dev/null -w '%header{x-backend}' -H 'Host: api.EXAMPLE:8080' "$URL/v1/users")" api
expect_eq "host matches but prefix does not: listener pool" \
    "$(curl -s -o /dev/null -w '%header{x-backend}' -H 'Host: api.example' "$URL/v2/users" | sed 's/b[12]/web/')" web
expect_eq "prefix-only route" \
    "$(curl -s -o /dev/null -w '%header{x-backend}' "$URL/static/app.js")" static

# --- headers: hop-by-hop, Host, X-Forwarded-* --------------------------------
hdrs=$(curl -s -H 'Host: site.example' -H 'X-Forwarded-For: 127.1.1.1' \
    -H 'X-Forwarded-Proto: gopher' -H 'Connection: keep-alive, X-Secret' \
    -H 'X-Secret: s3' -H 'Keep-Alive: timeout=5' -H 'TE: trailers' \
    -H 'Proxy-Connection: keep-alive' -H 'X-Kept: yes' "$URL/headers" | tr -d '\r')
check "Host is kept" grep -qx 'Host: site.example' <<<"$hdrs"
check "X-Forwarded-For is appended to, client last" \
    grep -qx 'X-Forwarded-For: 127.1.1.1, 127.0.0.1' <<<"$hdrs"
check "X-Forwarded-Proto is set, not passed" grep -qx 'X-Forwarded-Proto: http' <<<"$hdrs"
# The client address as text, octets of one, two and three digits and 0.
hdrs2=$(curl -s --interface 127.10.200.0 "$URL/headers" | tr -d '\r')
check "X-Forwarded-For names a client of other loopback octets" \
    grep -qx 'X-Forwarded-For: 127.10.200.0' <<<"$hdrs2"
check "an end-to-end header passes" grep -qx 'X-Kept: yes' <<<"$hdrs"
for h in Connection X-Secret Keep-Alive TE Proxy-Connection; do
	check "hop-by-hop $h is dropped" bash -c "! grep -qi '^$h:' <<<\"\$1\"" _ "$hdrs"
done
check "the request goes upstream as HTTP/1.1" grep -q '^GET /headers HTTP/1.1$' <<<"$hdrs"

# --- HTTP/1.0 client: de-chunked body, keep-alive on request -------------------
resp=$(curl -s --http1.0 -D - "$URL/chunked?size=3000")
check "HTTP/1.0 client gets no chunked framing" bash -c '! grep -qi "^transfer-encoding" <<<"$1"' _ "$resp"
expect_eq "HTTP/1.0 client gets the whole body" "$(curl -s --http1.0 "$URL/chunked?size=3000" | wc -c)" 3000
ka=$(printf 'GET /?size=5 HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /?size=7 HTTP/1.0\r\n\r\n' |
    timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT; cat >&3; cat <&3" | grep -o 'HTTP/1.1 200' | wc -l)
expect_eq "HTTP/1.0 keep-alive: two requests on one connection" "$ka" 2

# --- pipelining: answered in order -------------------------------------------
pipe=$(printf 'GET /?size=1 HTTP/1.1\r\nHost: a\r\n\r\nGET /?size=2 HTTP/1.1\r\nHost: a\r\n\r\nGET /?size=3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n' |
    timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT; cat >&3; cat <&3" | tr -d '\r' | grep -i '^content-length' | tr '\n' ' ')
expect_eq "three pipelined requests answered in order" "$pipe" \
    "Content-Length: 1 Content-Length: 2 Content-Length: 3 "

# --- 100-continue, HEAD, 204, 304 ---------------------------------------------
head -c 2000000 /dev/urandom > "$TEST_TMP/up.bin"
expect_eq "Expect: 100-continue upload arrives whole" \
    "$(curl -s -H 'Expect: 100-continue' --data-binary @"$TEST_TMP/up.bin" "$URL/echo" | cksum)" \
    "$(cksum < "$TEST_TMP/up.bin")"
h=$(curl -s -I "$URL/?size=500" | tr -d '\r')
check "HEAD keeps Content-Length" grep -qx 'Content-Length: 500' <<<"$h"
expect_eq "HEAD gets no body, connection reused" \
    "$(curl -s -o /dev/null -o /dev/null -w '%{num_connects}%{size_download} ' -I "$URL/?size=500" "$URL/?size=9")" "10 00 "
expect_eq "204 without a body" "$(curl -s -w '%{http_code}:%{size_download}' "$URL/status?code=204")" "204:0"
expect_eq "304 without a body" "$(curl -s -w '%{http_code}:%{size_download}' -o /dev/null "$URL/status?code=304")" "304:0"
expect_eq "an upstream status passes through" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/status?code=418")" 418

# --- until-close and Connection: close responses --------------------------------
expect_eq "a body delimited by close arrives whole" "$(curl -s "$URL/nolen?size=70000" | wc -c)" 70000
expect_eq "after an until-close body the client connection closes" \
    "$(curl -s -o /dev/null -o /dev/null -w '%{num_connects}' "$URL/nolen?size=10" "$URL/?size=1")" "11"

# --- access log: one line per request with its tries ---------------------------
last=$(tail -n 1 "$TEST_TMP/access.log")
case $last in
'127.0.0.1 ['*'] w0 "GET /?size=1 HTTP/1.1" 200 '*' web 127.0.0.1:'*'(ok,'*'ms)')
	ok "access log line: client, worker, request, status, pool, try" ;;
*) not_ok "access log line: client, worker, request, status, pool, try"; echo "#   $last" ;;
esac
lines=$(wc -l < "$TEST_TMP/access.log")
check "every request was logged (>= 60 lines)" test "$lines" -ge 60

stop_shunt

# --- four workers share the connections ----------------------------------------
cat > "$TEST_TMP/four.json" <<JSON
{
  "workers": 4,
  "state_dir": "state4",
  "log": { "access": "four.log" },
  "listeners": [ { "listen": "127.0.0.1:$PORT4", "pool": "web" } ],
  "pools": { "web": { "peers": [ { "address": "127.0.0.1:$P1" } ] } }
}
JSON
start_shunt "$TEST_TMP/four.json" "$PORT4"
for i in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$PORT4/"; done
spread=$(awk '{print $3}' "$TEST_TMP/four.log" | sort | uniq -c | awk '{print $1}' | sort -n | tr '\n' ' ')
nworkers=$(awk '{print $3}' "$TEST_TMP/four.log" | sort -u | wc -l)
expect_eq "200 fresh connections reach all 4 workers" "$nworkers" 4
least=$(awk '{print $3}' "$TEST_TMP/four.log" | sort | uniq -c | awk '{print $1}' | sort -n | head -1)
check "no worker gets fewer than 20 of 200 (got: $spread)" test "${least:-0}" -ge 20
stop_shunt

done_testing
