#!/bin/bash
# Errors: every error page shunt writes itself (400 408 413 431 501 502
# 504 505), each short, each closing the connection where framing is lost,
# and no worker dies over any of them; then retries: what failover may
# retry (connect failures, resets of idempotent requests) and what it must
# not (non-idempotent requests, a response already under way).
. "$(dirname "$0")/lib.sh"

start_backend b1 && P1=$BACKEND_PORT
start_backend rst -m /reset && PR=$BACKEND_PORT
start_backend tr1 -m /truncate && PT1=$BACKEND_PORT
start_backend tr2 -m /truncate && PT2=$BACKEND_PORT
# Nothing listens on these: every connect is refused.
DEAD1=$(free_port)
DEAD2=$(free_port)
DEAD3=$(free_port)
PORT=$(free_port)
STRICT=$(free_port)

# One pool per case: each worker's balancer starts a pool at its first peer,
# and a failure in one case cannot mark a peer down for another.
cat > "$TEST_TMP/shunt.json" <<JSON
{
  "workers": 2,
  "state_dir": "$TEST_TMP/state",
  "log": { "access": "$TEST_TMP/access.log", "error": "$TEST_TMP/error.log",
           "level": "debug" },
  "listeners": [
    { "listen": "127.0.0.1:$PORT", "pool": "web",
      "routes": [
        { "path_prefix": "/dead/", "pool": "dead" },
        { "path_prefix": "/badresponse", "pool": "bad" },
        { "path_prefix": "/rst/", "pool": "rst" },
        { "path_prefix": "/hang", "pool": "slow" },
        { "path_prefix": "/refused/", "pool": "refused" },
        { "path_prefix": "/rget/", "pool": "rget" },
        { "path_prefix": "/rpost/", "pool": "rpost" },
        { "path_prefix": "/rpostni/", "pool": "rpostni" },
        { "path_prefix": "/trunc/", "pool": "trunc" } ] },
    { "listen": "127.0.0.1:$STRICT", "pool": "web",
      "limits": { "max_body_size": "1k", "header_timeout": "300ms" } }
  ],
  "pools": {
    "web": { "peers": [ { "address": "127.0.0.1:$P1" } ] },
    "dead": { "connect_timeout": "2s",
              "peers": [ { "address": "127.0.0.1:$DEAD1" },
                         { "address": "127.0.0.1:$DEAD2" } ] },
    "bad": { "peers": [ { "address": "127.0.0.1:$P1" } ] },
    "rst": { "peers": [ { "address": "127.0.0.1:$PR" } ] },
    "slow": { "read_timeout": "300ms",
              "peers": [ { "address": "127.0.0.1:$P1" } ] },
    "refused": { "peers": [ { "address": "127.0.0.1:$DEAD3" },
                            { "address": "127.0.0.1:$P1" } ] },
    "rget": { "peers": [ { "address": "127.0.0.1:$PR" },
                         { "address": "127.0.0.1:$P1" } ] },
    "rpost": { "peers": [ { "address": "127.0.0.1:$PR" },
                          { "address": "127.0.0.1:$P1" } ] },
    "rpostni": { "retry": { "non_idempotent": true },
                 "peers": [ { "address": "127.0.0.1:$PR" },
                            { "address": "127.0.0.1:$P1" } ] },
    "trunc": { "peers": [ { "address": "127.0.0.1:$PT1" },
                          { "address": "127.0.0.1:$PT2" } ] }
  }
}
JSON
start_shunt "$TEST_TMP/shunt.json" "$PORT"
wait_port "$STRICT"
URL="http://127.0.0.1:$PORT"

# Wait until both workers run, then remember them.
i=0
while [ "$(pgrep -P "$SHUNT_PID" | wc -l)" -lt 2 ] && [ "$i" -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
workers_before=$(pgrep -P "$SHUNT_PID" | sort | tr '\n' ' ')

# raw PORT SECONDS: send stdin to 127.0.0.1:PORT, keep the connection open,
# print what comes back until shunt closes it; exit 124 if it did not close
# within SECONDS.
raw() {
	timeout "$2" bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 3
cat >&3
cat <&3' _ "$1"
}

# expect_error DESCRIPTION PORT STATUS: send stdin raw; check the status
# line, a short HTML body naming the status, and that the connection closed.
expect_error() {
	ee_out=$TEST_TMP/raw.out
	raw "$2" 5 > "$ee_out"
	ee_rc=$?
	ee_status=$(head -n 1 "$ee_out" | tr -d '\r' | awk '{print $2}')
	ee_body=$(tr -d '\r' < "$ee_out" | sed '1,/^$/d')
	expect_eq "$1: status" "$ee_status" "$3"
	if [ "${#ee_body}" -gt 0 ] && [ "${#ee_body}" -lt 512 ] &&
	    grep -q "<h1>$3 " <<<"$ee_body"; then
		ok "$1: a short page"
	else
		not_ok "$1: a short page"
		echo "#   body (${#ee_body} B): $(head -c 200 <<<"$ee_body")"
	fi
	expect_eq "$1: connection closed" "$ee_rc" 0
}

# peer_requests: how many requests b1 has seen (counting this one).
peer_requests() {
	curl -s --max-time 5 "http://127.0.0.1:$P1/count" |
	    sed 's/.*"requests":\([0-9]*\).*/\1/'
}
seen_before=$(peer_requests)

# --- 400: a head shunt cannot trust ---------------------------------------------
expect_error "garbage request line" "$PORT" 400 < <(printf 'GARBAGE\r\n\r\n')
expect_error "bare LF line endings" "$PORT" 400 < <(
    printf 'GET / HTTP/1.1\nHost: a\n\n')
expect_error "obs-fold header line" "$PORT" 400 < <(
    printf 'GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n')
expect_error "Content-Length with Transfer-Encoding" "$PORT" 400 < <(
    printf 'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n'
    printf 'Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n')
expect_error "two different Content-Length fields" "$PORT" 400 < <(
    printf 'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n'
    printf 'Content-Length: 6\r\n\r\nhello!')
expect_error "HTTP/1.1 without Host" "$PORT" 400 < <(
    printf 'GET / HTTP/1.1\r\nUser-Agent: t\r\n\r\n')
expect_error "double space in the request line" "$PORT" 400 < <(
    printf 'GET  / HTTP/1.1\r\nHost: a\r\n\r\n')

# --- 413: max_body_size 1k, known from the head ------------------------------------
expect_error "2 KiB body with Content-Length over a 1k limit" "$STRICT" 413 < <(
    printf 'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 2048\r\n\r\n'
    head -c 2048 /dev/zero)

# --- 431: too large or too many header fields --------------------------------------
expect_error "a 40 KiB header line" "$PORT" 431 < <(
    printf 'GET / HTTP/1.1\r\nHost: a\r\nX-Big: '
    head -c 40960 /dev/zero | tr '\0' a
    printf '\r\n\r\n')
expect_error "150 header fields over max_headers 100" "$PORT" 431 < <(
    printf 'GET / HTTP/1.1\r\nHost: a\r\n'
    for i in $(seq 150); do printf 'X-F%d: v\r\n' "$i"; done
    printf '\r\n')

# --- 501, 505 ----------------------------------------------------------------------
expect_error "CONNECT" "$PORT" 501 < <(
    printf 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n')
expect_error "Transfer-Encoding: gzip" "$PORT" 501 < <(
    printf 'POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\nabc')
expect_error "HTTP/2.0 request line" "$PORT" 505 < <(
    printf 'GET / HTTP/2.0\r\nHost: a\r\n\r\n')

# --- 408: header_timeout 300ms with half a head -------------------------------------
expect_error "a partial head, then nothing" "$STRICT" 408 < <(
    printf 'GET / HTTP/1.1\r\nHost: a\r\nX-Half')

expect_eq "none of those heads reached the peer" \
    "$(($(peer_requests) - seen_before))" 1

# --- errors found in the body, after the head went upstream ------------------------
expect_error "bad chunk size" "$PORT" 400 < <(
    printf 'POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n'
    printf '\r\nzz\r\nhello\r\n0\r\n\r\n')
expect_error "2 KiB chunked body over a 1k limit" "$STRICT" 413 < <(
    printf 'POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n'
    printf '\r\n800\r\n'
    head -c 2048 /dev/zero
    printf '\r\n0\r\n\r\n')

# --- just under the limits ------------------------------------------------------------
head -c 1024 /dev/urandom > "$TEST_TMP/1k"
expect_eq "a 1 KiB body at the 1k limit passes (Content-Length)" \
    "$(curl -s --max-time 10 --data-binary @"$TEST_TMP/1k" \
    "http://127.0.0.1:$STRICT/echo" | cksum)" "$(cksum < "$TEST_TMP/1k")"
# The limit is on the payload, not on the chunk framing around it.
expect_eq "a 1 KiB body at the 1k limit passes (chunked)" \
    "$(curl -s --max-time 10 --data-binary @"$TEST_TMP/1k" \
    -H 'Transfer-Encoding: chunked' "http://127.0.0.1:$STRICT/echo" | cksum)" \
    "$(cksum < "$TEST_TMP/1k")"
hdrs=()
for i in $(seq 90); do hdrs+=(-H "X-F$i: v"); done
expect_eq "90 header fields pass" \
    "$(curl -s -o /dev/null -w '%{http_code}' "${hdrs[@]}" "$URL/")" 200
expect_eq "a 30 KiB header line passes" "$(curl -s -o /dev/null \
    -w '%{http_code}' -H "X-Big: $(head -c 30720 /dev/zero | tr '\0' a)" \
    "$URL/")" 200

# --- 502, 504: the peers' faults ---------------------------------------------------------
# curl_page PATH [CURL ARGS...]: "STATUS SHORT" where SHORT says whether the
# body is a short page naming the status.
curl_page() {
	cp_path=$1
	shift
	cp_code=$(curl -s --max-time 10 -o "$TEST_TMP/page" -w '%{http_code}' \
	    "$@" "$URL$cp_path")
	if [ "$(wc -c < "$TEST_TMP/page")" -lt 512 ] &&
	    grep -q "<h1>$cp_code " "$TEST_TMP/page"; then
		echo "$cp_code short"
	else
		echo "$cp_code body:$(head -c 100 "$TEST_TMP/page")"
	fi
}
expect_eq "every peer refuses: 502" "$(curl_page /dead/x)" "502 short"
line=$(grep ' "GET /dead/x ' "$TEST_TMP/access.log" | tail -n 1)
case $line in
*"127.0.0.1:$DEAD1(connect_refused,"*"127.0.0.1:$DEAD2(connect_refused,"*)
	ok "the access log shows both refused tries" ;;
*)	not_ok "the access log shows both refused tries"; echo "#   $line" ;;
esac
expect_eq "a malformed response head: 502" "$(curl_page /badresponse)" "502 short"
expect_eq "a peer that resets a POST: 502" \
    "$(curl_page /rst/x --data-binary hello)" "502 short"
expect_eq "read_timeout 300ms against /hang: 504" "$(curl_page /hang)" "504 short"
line=$(grep ' "GET /hang ' "$TEST_TMP/access.log" | tail -n 1)
case $line in
*"(read_timeout,"*) ok "the access log shows read_timeout" ;;
*) not_ok "the access log shows read_timeout"; echo "#   $line" ;;
esac

# --- the workers lived through all of it -------------------------------------------
workers_after=$(pgrep -P "$SHUNT_PID" | sort | tr '\n' ' ')
expect_eq "no worker died or was replaced" "$workers_after" "$workers_before"
expect_eq "a normal request still gets 200" \
    "$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "$URL/")" 200
expect_eq "a normal request on the strict listener still gets 200" \
    "$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$STRICT/")" 200

# --- retries ---------------------------------------------------------------------
# [refusing, good]: a connect failure is always retried.
codes=""
for i in 1 2 3 4 5 6; do
	codes="$codes$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "$URL/refused/$i") "
done
expect_eq "GET to [refusing, good]: always 200" "$codes" "200 200 200 200 200 200 "
tries=$(grep ' "GET /refused/' "$TEST_TMP/access.log" | grep -c "127.0.0.1:$DEAD3(connect_refused,[0-9]*ms) 127.0.0.1:$P1(ok,")
check "the access log shows (connect_refused, then (ok, ($tries times)" \
    test "$tries" -ge 1

# [resetting, good]: the first try of a pool goes to its first peer.
expect_eq "GET to [resetting, good]: 200 after a retry" \
    "$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "$URL/rget/1")" 200
line=$(grep ' "GET /rget/1 ' "$TEST_TMP/access.log" | tail -n 1)
case $line in
*"127.0.0.1:$PR(reset,"*"127.0.0.1:$P1(ok,"*) ok "... the access log shows (reset, then (ok," ;;
*) not_ok "... the access log shows (reset, then (ok,"; echo "#   $line" ;;
esac
expect_eq "POST to [resetting, good]: 502, not retried" \
    "$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' --data-binary hello "$URL/rpost/1")" 502
line=$(grep ' "POST /rpost/1 ' "$TEST_TMP/access.log" | tail -n 1)
case $line in
*"127.0.0.1:$PR(reset,"*"ms)") ok "... one try in the access log" ;;
*) not_ok "... one try in the access log"; echo "#   $line" ;;
esac
check "... and no try went to the good peer" \
    bash -c '! grep -q "127.0.0.1:$2(" <<<"$1"' _ "$line" "$P1"
expect_eq "POST with retry.non_idempotent: 200 after a retry" \
    "$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' --data-binary hello "$URL/rpostni/1")" 200
line=$(grep ' "POST /rpostni/1 ' "$TEST_TMP/access.log" | tail -n 1)
case $line in
*"127.0.0.1:$PR(reset,"*"127.0.0.1:$P1(ok,"*) ok "... the access log shows (reset, then (ok," ;;
*) not_ok "... the access log shows (reset, then (ok,"; echo "#   $line" ;;
esac

# A response cut short after its head went out: nothing can be retried.
curl -s --max-time 10 -o "$TEST_TMP/trunc.out" "$URL/trunc/x?size=10000"
rc=$?
expect_eq "truncated response: curl error 18 (partial file)" "$rc" 18
expect_eq "... the client got the first half only" "$(wc -c < "$TEST_TMP/trunc.out")" 5000
line=$(grep ' "GET /trunc/x' "$TEST_TMP/access.log" | tail -n 1)
ntries=$(grep -o '([a-z_]*,[0-9]*ms)' <<<"$line" | wc -l)
expect_eq "... one try, no retry" "$ntries" 1
case $line in
*" 200 "*"(closed,"*) ok "... logged as 200 with the try (closed," ;;
*) not_ok "... logged as 200 with the try (closed,"; echo "#   $line" ;;
esac

workers_after=$(pgrep -P "$SHUNT_PID" | sort | tr '\n' ' ')
expect_eq "still no worker died" "$workers_after" "$workers_before"
expect_eq "a normal request still gets 200 at the end" \
    "$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "$URL/")" 200

stop_shunt
done_testing
