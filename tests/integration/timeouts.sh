#!/bin/bash
# Timeouts: an idle keep-alive client is closed (keepalive_timeout); a
# client that stops in the middle of its body gets 408 (body_timeout); an
# idle upstream connection is dropped (keepalive.idle_timeout); a peer that
# never answers the SYN gets 504 (connect_timeout).  Only outcomes are
# asserted; every wait is bounded well above the configured timeouts.
. "$(dirname "$0")/lib.sh"

start_backend b1 && P1=$BACKEND_PORT
start_backend b2 && P2=$BACKEND_PORT
PORT=$(free_port)

start_blackhole
# The config needs an address even when there is no blackhole.
BH_ADDR=127.0.0.1:${BLACKHOLE:-$(free_port)}

cat > "$TEST_TMP/shunt.json" <<JSON
{
  "workers": 1,
  "state_dir": "$TEST_TMP/state",
  "log": { "access": "$TEST_TMP/access.log", "error": "$TEST_TMP/error.log" },
  "limits": { "keepalive_timeout": "300ms", "body_timeout": "300ms" },
  "listeners": [
    { "listen": "127.0.0.1:$PORT", "pool": "web",
      "routes": [ { "path_prefix": "/long/", "pool": "long" },
                  { "path_prefix": "/blackhole/", "pool": "blackhole" } ] }
  ],
  "pools": {
    "web": { "keepalive": { "idle_timeout": "300ms" },
             "peers": [ { "address": "127.0.0.1:$P1" } ] },
    "long": { "keepalive": { "idle_timeout": "60s" },
              "peers": [ { "address": "127.0.0.1:$P2" } ] },
    "blackhole": { "connect_timeout": "300ms",
                   "peers": [ { "address": "$BH_ADDR" } ] }
  }
}
JSON
start_shunt "$TEST_TMP/shunt.json" "$PORT"
URL="http://127.0.0.1:$PORT"

# raw SECONDS: send stdin to shunt and keep the connection open; print what
# comes back until shunt closes it; exit 124 if it did not within SECONDS.
raw() {
	timeout "$1" bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 3
cat >&3
cat <&3' _ "$PORT"
}

# --- keepalive_timeout: an idle client connection is closed -------------------
expect_eq "back-to-back requests share one client connection" \
    "$(curl -s -o /dev/null -w '%{num_connects}' "$URL/" \
    --next -s -o /dev/null -w '%{num_connects}' "$URL/")" 10
# header_timeout stays at 10s, so only keepalive_timeout can close it in 5.
printf 'GET /?size=5 HTTP/1.1\r\nHost: a\r\n\r\n' | raw 5 > "$TEST_TMP/ka.out"
rc=$?
expect_eq "keep-alive request answered" \
    "$(head -n 1 "$TEST_TMP/ka.out" | tr -d '\r')" "HTTP/1.1 200 OK"
expect_eq "... then the idle connection is closed by shunt (EOF)" "$rc" 0
expect_eq "... after exactly one response" \
    "$(grep -c '^HTTP/1.1 ' "$TEST_TMP/ka.out")" 1

# --- body_timeout: a body that stops coming ---------------------------------------
{ printf 'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n'
  printf '0123456789'; } | raw 5 > "$TEST_TMP/body.out"
rc=$?
expect_eq "10 of 100 body bytes, then nothing: 408" \
    "$(head -n 1 "$TEST_TMP/body.out" | tr -d '\r' | awk '{print $2}')" 408
expect_eq "... and shunt closes the connection" "$rc" 0
check "... with Connection: close" grep -qi '^connection: close' "$TEST_TMP/body.out"
{ printf 'POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n'
  printf '64\r\n0123456789'; } | raw 5 > "$TEST_TMP/chunk.out"
rc=$?
expect_eq "a chunked body that stops in a chunk: 408" \
    "$(head -n 1 "$TEST_TMP/chunk.out" | tr -d '\r' | awk '{print $2}')" 408
expect_eq "... and shunt closes the connection" "$rc" 0

# --- upstream keepalive.idle_timeout ---------------------------------------------
# conn_ids PATH: the X-Backend-Conn of two requests on one client connection.
conn_ids() {
	curl -s --max-time 10 -o /dev/null -w '%header{x-backend-conn} ' "$URL$1" \
	    --next -s --max-time 10 -o /dev/null -w '%header{x-backend-conn}' "$URL$1"
}
read -r web1 web2 <<<"$(conn_ids /a)"
read -r long1 long2 <<<"$(conn_ids /long/a)"
expect_eq "back-to-back requests reuse the upstream connection" "$web2" "$web1"
sleep 1	# more than 300ms, far less than 60s
read -r web3 web4 <<<"$(conn_ids /b)"
check "after idle_timeout 300ms a new upstream connection ($web2 -> $web3)" \
    test -n "$web3" -a "$web3" != "$web2"
expect_eq "... which is kept for the next request" "$web4" "$web3"
read -r long3 long4 <<<"$(conn_ids /long/b)"
expect_eq "with idle_timeout 60s the same connection is still used" \
    "$long3 $long4" "$long2 $long2"

# --- connect_timeout: a peer that never answers the SYN ---------------------------
if [ -n "$BLACKHOLE" ]; then
	code=$(curl -s --max-time 20 -o "$TEST_TMP/bh.out" -w '%{http_code}' \
	    "$URL/blackhole/x")
	expect_eq "connect_timeout 300ms to a peer that drops SYNs: 504" "$code" 504
	check "... with a short page" grep -q '<h1>504 ' "$TEST_TMP/bh.out"
	line=$(grep ' "GET /blackhole/x ' "$TEST_TMP/access.log" | tail -n 1)
	case $line in
	*"$BH_ADDR(connect_timeout,"*) ok "... the access log shows connect_timeout" ;;
	*) not_ok "... the access log shows connect_timeout"; echo "#   $line" ;;
	esac
else
	ok "connect_timeout # SKIP no loopback peer that drops SYNs (needs python3)"
fi

check "the worker is alive and answers" \
    test "$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "$URL/")" = 200

# --- a client that gives up while the peer is silent -------------------------
# read_timeout is 60s here: only noticing the client's close ends the try.
curl -s -m 1 -o /dev/null "$URL/hang"
for i in $(seq 100); do
	grep -q '"GET /hang HTTP/1.1" 499 ' "$TEST_TMP/access.log" && break
	sleep 0.05
done
line=$(grep '"GET /hang HTTP/1.1"' "$TEST_TMP/access.log" | tail -n 1)
case $line in
*'" 499 '*'(client_abort,'*) ok "a client that hangs up ends the try: 499, client_abort" ;;
*) not_ok "a client that hangs up ends the try: 499, client_abort"; echo "#   $line" ;;
esac
check "the peer is not blamed for it" \
    bash -c "! grep -q 'peer web/.* up -> down' '$TEST_TMP/error.log'"

stop_shunt
done_testing
