#!/bin/bash
# TLS both ways: a TLS listener (curl --cacert), TLS peers verified against
# a CA file with SNI, what a failed verification looks like (502, kind
# "tls" and OpenSSL's reason in shuntctl status), verify:false, keep-alive
# and session resumption over TLS, 8 MiB bodies, clients that fail the
# handshake, certificate and key errors in the config, and the DESIGN.md
# example: a TLS primary that never answers, a TLS backup that does.
# Certificates come from the openssl command, made fresh in the temp dir.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/certs.sh"

CTL=${SHUNTCTL_BINARY:?}
if ! command -v openssl >/dev/null 2>&1; then
	echo "1..0 # SKIP no openssl command to make certificates"
	exit 0
fi
C=$TEST_TMP/certs
if ! make_certs "$C"; then
	not_ok "make test certificates with openssl"
	done_testing
	exit 1
fi

start_backend tb -C "$C/backend.pem" -K "$C/backend.key" && PT=$BACKEND_PORT
start_backend tb2 -C "$C/backend.pem" -K "$C/backend.key" && PT2=$BACKEND_PORT
# A plain HTTP peer answers a ClientHello with "400 Bad Request".
start_backend plain && PP=$BACKEND_PORT
DEAD=$(free_port)
PORT=$(free_port)
PLAIN=$(free_port)
start_blackhole

# start_silent: sets SILENT to the port of a peer that accepts connections
# and never says a word (empty without python3).
start_silent() {
	SILENT=""
	command -v python3 >/dev/null 2>&1 || return 0
	python3 -c '
import os, socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d\n" % s.getsockname()[1])
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
held = []
s.settimeout(120)
try:
    while True:
        held.append(s.accept()[0])
except Exception:
    pass
' "$TEST_TMP/silent.port" &
	test_pids="$test_pids $!"
	wait_for "$TEST_TMP/silent.port" && SILENT=$(cat "$TEST_TMP/silent.port")
}
start_silent

LOCALHOST_OK=0
[ "$(getent ahosts localhost 2>/dev/null | awk 'NR == 1 {print $1}')" = 127.0.0.1 ] &&
    LOCALHOST_OK=1
TLSPEER='"tls": true, "ca_file": "certs/ca.pem"'
# connect_timeout covers the upstream TLS handshake: pools whose handshakes
# must succeed or fail on their own merits get room for a slow machine
# (a fresh worker's first handshake under valgrind takes over 1 s).
HS='"connect_timeout": "5s",'

CONF=$TEST_TMP/shunt.json
cat > "$CONF" <<JSON
{
  "workers": 1,
  "state_dir": "state",
  "log": { "access": "access.log", "error": "error.log", "level": "debug" },
  "listeners": [
    { "listen": "127.0.0.1:$PORT", "pool": "ok",
      "tls": { "cert": "certs/site-leaf.pem", "key": "certs/site.key",
               "chain": "certs/ca-chain.pem" },
      "limits": { "header_timeout": "2s" },
      "routes": [ { "path_prefix": "/wrongca/", "pool": "wrongca" },
                  { "path_prefix": "/wronghost/", "pool": "wronghost" },
                  { "path_prefix": "/noverify/", "pool": "noverify" },
                  { "path_prefix": "/byname/", "pool": "byname" },
                  { "path_prefix": "/byip/", "pool": "byip" },
                  { "path_prefix": "/silent/", "pool": "silent" },
                  { "path_prefix": "/notls/", "pool": "notls" },
                  { "path_prefix": "/example/", "pool": "example" },
                  { "path_prefix": "/refused/", "pool": "refused" } ] },
    { "listen": "127.0.0.1:$PLAIN", "pool": "ok" }
  ],
  "pools": {
    "ok": { $HS "peers": [ { "address": "127.0.0.1:$PT", "sni": "backend.test", $TLSPEER } ] },
    "wrongca": { $HS "peers": [ { "address": "127.0.0.1:$PT", "tls": true,
                              "sni": "backend.test", "ca_file": "certs/other-ca.pem" } ] },
    "wronghost": { $HS "peers": [ { "address": "127.0.0.1:$PT", "sni": "wrong.test", $TLSPEER } ] },
    "noverify": { $HS "peers": [ { "address": "127.0.0.1:$PT", "tls": true,
                               "sni": "wrong.test", "verify": false } ] },
    "byname": { $HS "peers": [ { "address": "localhost:$PT", $TLSPEER } ] },
    "byip": { $HS "peers": [ { "address": "127.0.0.1:$PT", $TLSPEER } ] },
    "notls": { $HS "peers": [ { "address": "127.0.0.1:$PP", "sni": "backend.test", $TLSPEER } ] },
    "silent": { "connect_timeout": "300ms",
                "peers": [ { "address": "127.0.0.1:${SILENT:-$DEAD}", "sni": "backend.test", $TLSPEER } ] },
    "example": { "connect_timeout": "100ms", "retry": { "tries": 2 },
                 "peers": [ { "address": "127.0.0.1:${BLACKHOLE:-$DEAD}", "sni": "backend.test", $TLSPEER },
                            { "address": "127.0.0.1:$PT2", "sni": "backend.test", $TLSPEER,
                              "backup": true, "connect_timeout": "5s" } ] },
    "refused": { "connect_timeout": "100ms",
                 "peers": [ { "address": "127.0.0.1:$DEAD", "sni": "backend.test", $TLSPEER },
                            { "address": "127.0.0.1:$PT2", "sni": "backend.test", $TLSPEER,
                              "backup": true, "connect_timeout": "5s" } ] }
  }
}
JSON
# The backups' own connect_timeout keeps a slow handshake on a loaded
# machine (sanitizers, parallel builds) from failing the fallback itself.
expect_eq "shunt -t accepts TLS listeners and peers (relative paths)" \
    "$("$SHUNT_BINARY" -t -c "$CONF" 2>&1)" "$CONF: ok"
start_shunt "$CONF" "$PORT"
wait_port "$PLAIN"
URL="https://shunt.test:$PORT"
CURL=(curl -s --max-time 20 --cacert "$C/ca.pem" --resolve "shunt.test:$PORT:127.0.0.1")
# The master forks its worker after it listens: wait for it (slow under
# valgrind).
one_worker() {
	[ "$(pgrep -P "$SHUNT_PID" | wc -l)" -eq 1 ]
}
wait_until 100 one_worker
workers_before=$(pgrep -P "$SHUNT_PID" | sort | tr '\n' ' ')

# hdr NAME: one response header's value from curl -D - on stdin.
hdr() {
	tr -d '\r' | awk -v n="$(echo "$1" | tr 'A-Z' 'a-z')" -F': ' \
	    'tolower($1) == n {print $2}' | tail -n 1
}

# last_failure POOL: "kind|detail" of the pool's first peer (shuntctl status).
last_failure() {
	"$CTL" -c "$CONF" status "$1" > "$TEST_TMP/status.$1.json" 2>&1
	if command -v python3 >/dev/null 2>&1; then
		python3 -c 'import json, sys
lf = json.load(open(sys.argv[1]))["pools"][0]["peers"][0]["last_failure"] or {}
print("%s|%s" % (lf.get("kind"), lf.get("detail")))' "$TEST_TMP/status.$1.json"
	else
		tr -d '\n' < "$TEST_TMP/status.$1.json" |
		    sed -n 's/.*"kind": *"\([^"]*\)".*"detail": *"\([^"]*\)".*/\1|\2/p'
	fi
}

# --- the TLS listener and a verified TLS peer --------------------------------
h=$("${CURL[@]}" -D - -o "$TEST_TMP/small.out" "$URL/?size=100")
expect_eq "curl --cacert through the TLS listener: 200" "$(head -n 1 <<<"$h" | awk '{print $2}')" 200
expect_eq "the body arrives" "$(wc -c < "$TEST_TMP/small.out")" 100
expect_eq "the peer got SNI from \"sni\"" "$(hdr x-backend-sni <<<"$h")" backend.test
expect_eq "the peer was offered ALPN http/1.1" "$(hdr x-backend-alpn <<<"$h")" http/1.1
check "the listener speaks TLS 1.2 or newer (curl --tlsv1.2 --tls-max 1.2)" \
    bash -c '[ "$("$@" --tlsv1.2 --tls-max 1.2 -o /dev/null -w "%{http_code}" "'"$URL"'/")" = 200 ]' _ "${CURL[@]}"
check "the listener refuses TLS 1.1" \
    bash -c '! "$@" --tlsv1.1 --tls-max 1.1 -o /dev/null "'"$URL"'/" 2>/dev/null' _ "${CURL[@]}"
check "the chain file's certificate is sent (openssl s_client sees 2 certificates)" \
    bash -c "echo | timeout 10 openssl s_client -connect 127.0.0.1:$PORT -servername shunt.test -showcerts 2>/dev/null | grep -c 'BEGIN CERTIFICATE' | grep -qx 2"

hdrs=$("${CURL[@]}" -H 'X-Forwarded-Proto: http' "$URL/headers" | tr -d '\r')
check "X-Forwarded-Proto: https on a TLS listener" grep -qx 'X-Forwarded-Proto: https' <<<"$hdrs"
hdrs=$(curl -s --max-time 20 "http://127.0.0.1:$PLAIN/headers" | tr -d '\r')
check "X-Forwarded-Proto: http on the plain listener of the same shunt" \
    grep -qx 'X-Forwarded-Proto: http' <<<"$hdrs"

# --- keep-alive and resumption over TLS ----------------------------------------
conns=$(for i in 1 2 3 4 5; do "${CURL[@]}" -D - -o /dev/null "$URL/?size=10" | hdr x-backend-conn; done | sort -u | wc -l)
expect_eq "5 requests on fresh client connections share 1 upstream TLS connection" "$conns" 1
expect_eq "5 requests on one client TLS connection" \
    "$("${CURL[@]}" -w '%{num_connects}' -o /dev/null "$URL/?size=1" -o /dev/null "$URL/?size=2" \
        -o /dev/null "$URL/?size=3" -o /dev/null "$URL/?size=4" -o /dev/null "$URL/?size=5")" \
    10000
"${CURL[@]}" -o /dev/null "$URL/close"
h=$("${CURL[@]}" -D - -o /dev/null "$URL/?size=1")
c1=$(hdr x-backend-conn <<<"$h")
expect_eq "a new upstream connection resumes the peer's TLS session" \
    "$(hdr x-backend-tls-resumed <<<"$h")" 1
h=$("${CURL[@]}" -D - -o /dev/null "$URL/?size=1")
expect_eq "... and is kept alive for the next request" "$(hdr x-backend-conn <<<"$h")" "$c1"

# --- SNI defaults ----------------------------------------------------------------
if [ "$LOCALHOST_OK" = 1 ]; then
	h=$("${CURL[@]}" -D - -o /dev/null "$URL/byname/x")
	expect_eq "no \"sni\": a host name address sends its host as SNI (and is verified)" \
	    "$(head -n 1 <<<"$h" | awk '{print $2}') $(hdr x-backend-sni <<<"$h")" "200 localhost"
else
	ok "SNI from a host name # SKIP localhost does not resolve to 127.0.0.1 first"
fi
h=$("${CURL[@]}" -D - -o /dev/null "$URL/byip/x")
expect_eq "no \"sni\": an IP address sends no SNI, the certificate's IP is checked" \
    "$(head -n 1 <<<"$h" | awk '{print $2}') $(hdr x-backend-sni <<<"$h")" "200 -"

# --- verification failures ---------------------------------------------------------
expect_eq "a peer whose certificate the CA file does not trust: 502" \
    "$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$URL/wrongca/x")" 502
lf=$(last_failure wrongca)
expect_eq "shuntctl status: last_failure.kind is tls" "${lf%%|*}" tls
case ${lf#*|} in
*"certificate verify failed: unable to get local issuer certificate"*)
	ok "shuntctl status: the detail has OpenSSL's reason (${lf#*|})" ;;
*) not_ok "shuntctl status: the detail has OpenSSL's reason"; echo "#   got: $lf" ;;
esac
check "the access log shows the try as tls" \
    grep -q "\"GET /wrongca/x .* 502 .*127.0.0.1:$PT(tls," "$TEST_TMP/access.log"
check "the error log says why" \
    grep -q "upstream wrongca/127.0.0.1:$PT: tls while the TLS handshake (certificate verify failed" \
    "$TEST_TMP/error.log"

expect_eq "a peer whose certificate does not name \"sni\": 502" \
    "$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$URL/wronghost/x")" 502
lf=$(last_failure wronghost)
expect_eq "shuntctl status: kind tls for the wrong host name" "${lf%%|*}" tls
case ${lf#*|} in
*"hostname mismatch"*) ok "shuntctl status: detail says hostname mismatch" ;;
*) not_ok "shuntctl status: detail says hostname mismatch"; echo "#   got: $lf" ;;
esac

h=$("${CURL[@]}" -D - -o /dev/null "$URL/noverify/x")
expect_eq "verify: false connects despite an untrusted, misnamed certificate" \
    "$(head -n 1 <<<"$h" | awk '{print $2}') $(hdr x-backend-sni <<<"$h")" "200 wrong.test"

# --- peers that take TCP but do not speak TLS -----------------------------------------
expect_eq "a plain HTTP peer configured as TLS: 502" \
    "$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$URL/notls/x")" 502
expect_eq "shuntctl status: kind tls, OpenSSL's reason" "$(last_failure notls)" \
    "tls|the TLS handshake (wrong version number)"
if [ -n "$SILENT" ]; then
	t0=$(date +%s%N)
	code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$URL/silent/x")
	ms=$((($(date +%s%N) - t0) / 1000000))
	expect_eq "a silent peer: the connect timeout covers the handshake (504)" "$code" 504
	check "... and it ends well before read_timeout (${ms}ms)" test "$ms" -lt 10000
	expect_eq "shuntctl status: connect_timeout during the TLS handshake" \
	    "$(last_failure silent)" "connect_timeout|the TLS handshake"
else
	for i in 1 2 3; do ok "a silent TLS peer # SKIP needs python3"; done
fi

# --- the DESIGN.md example: TLS primary down, TLS backup -----------------------------
expect_eq "a refusing TLS primary: the TLS backup answers" \
    "$("${CURL[@]}" -D - -o /dev/null "$URL/refused/x" | hdr x-backend)" tb2
if [ -n "$BLACKHOLE" ]; then
	for i in 1 2 3 4 5; do
		"${CURL[@]}" -o /dev/null -w '%{http_code}\n' "$URL/example/x" >> "$TEST_TMP/example.codes"
	done
	expect_eq "a blackholed TLS primary (100ms connect timeout): 5 of 5 succeed via the backup" \
	    "$(grep -c '^200$' "$TEST_TMP/example.codes")" 5
	# Given up on as slow (a tenth of connect_timeout) or timed out.
	check "the first try found no answer, the backup's TLS try was ok" \
	    grep -qE "\"GET /example/x .* 200 .*127.0.0.1:$BLACKHOLE\(connect_(slow|timeout),[0-9]*ms\) 127.0.0.1:$PT2\(ok," \
	    "$TEST_TMP/access.log"
else
	ok "blackholed TLS primary # SKIP no loopback peer that drops SYNs (needs python3)"
	ok "blackholed TLS primary, access log # SKIP"
fi

# --- large bodies over TLS both ways ----------------------------------------------
head -c 8388608 /dev/urandom > "$TEST_TMP/up.bin"
expect_eq "8 MiB upload echoed back over TLS both ways (cksum)" \
    "$("${CURL[@]}" --data-binary @"$TEST_TMP/up.bin" "$URL/echo" | cksum)" \
    "$(cksum < "$TEST_TMP/up.bin")"
pat=0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/
for i in 1 2 3 4 5 6 7 8 9 10; do pat=$pat$pat; done
for i in $(seq 128); do printf '%s' "$pat"; done > "$TEST_TMP/pattern.bin"
want=$(cksum < "$TEST_TMP/pattern.bin")
expect_eq "8 MiB download (Content-Length) over TLS both ways (cksum)" \
    "$("${CURL[@]}" "$URL/?size=8388608" | cksum)" "$want"
expect_eq "8 MiB chunked download over TLS (cksum)" \
    "$("${CURL[@]}" "$URL/chunked?size=8388608" | cksum)" "$want"
expect_eq "8 MiB body delimited by the peer's close over TLS (cksum)" \
    "$("${CURL[@]}" "$URL/nolen?size=8388608" | cksum)" "$want"

# --- pipelining over TLS ---------------------------------------------------------------
pipe=$( (printf 'GET /?size=1 HTTP/1.1\r\nHost: a\r\n\r\nGET /?size=2 HTTP/1.1\r\nHost: a\r\n\r\nGET /?size=3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n') |
    timeout 10 openssl s_client -quiet -connect "127.0.0.1:$PORT" -servername shunt.test \
    -CAfile "$C/ca.pem" 2>/dev/null | tr -d '\r' | grep -i '^content-length' | tr '\n' ' ')
expect_eq "three pipelined requests in one TLS write, answered in order" "$pipe" \
    "Content-Length: 1 Content-Length: 2 Content-Length: 3 "

# --- clients that fail the handshake ---------------------------------------------------
expect_eq "plain HTTP to the TLS port: closed, no answer" \
    "$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/")" 000
check "... logged at info with OpenSSL's reason" \
    grep -q "client 127.0.0.1 on 127.0.0.1:$PORT: TLS handshake failed: http request" "$TEST_TMP/error.log"
check "a client that distrusts our certificate gets no answer" \
    bash -c '! curl -s --max-time 10 "https://127.0.0.1:'"$PORT"'/" -o /dev/null'
t0=$(date +%s%N)
timeout 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT; cat <&3 >/dev/null"
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
check "a silent client is closed by header_timeout (2s) during the handshake (${ms}ms)" \
    test "$rc" -ne 124 -a "$ms" -ge 1500
expect_eq "the worker lives on" "$(pgrep -P "$SHUNT_PID" | sort | tr '\n' ' ')" "$workers_before"
expect_eq "and serves the next TLS client" \
    "$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$URL/")" 200

stop_shunt

# --- reload: a renewed certificate takes over; a bad key keeps the old one ---------------
RPORT=$(free_port)
RCONF=$TEST_TMP/reload.json
mkdir -p "$TEST_TMP/live"
cp "$C/site.pem" "$TEST_TMP/live/cert.pem"
cp "$C/site.key" "$TEST_TMP/live/cert.key"
cat > "$RCONF" <<JSON
{
  "workers": 2,
  "state_dir": "state-reload",
  "log": { "error": "reload.log", "level": "info" },
  "listeners": [ { "listen": "127.0.0.1:$RPORT", "pool": "ok",
                   "tls": { "cert": "live/cert.pem", "key": "live/cert.key" } } ],
  "pools": { "ok": { $HS "peers": [ { "address": "127.0.0.1:$PT", "sni": "backend.test", $TLSPEER } ] } }
}
JSON
start_shunt "$RCONF" "$RPORT"
served_serial() {
	echo | timeout 10 openssl s_client -connect "127.0.0.1:$RPORT" -servername shunt.test 2>/dev/null |
	    openssl x509 -noout -serial 2>/dev/null
}
RURL="https://shunt.test:$RPORT"
RCURL=(curl -s --max-time 20 --cacert "$C/ca.pem" --resolve "shunt.test:$RPORT:127.0.0.1")
expect_eq "before the reload the listener serves its certificate" "$(served_serial)" \
    "$(openssl x509 -in "$C/site.pem" -noout -serial)"
cp "$C/site2.pem" "$TEST_TMP/live/cert.pem"
cp "$C/site2.key" "$TEST_TMP/live/cert.key"
kill -HUP "$SHUNT_PID"
check "HUP reloads the renewed certificate and key" \
    wait_until 100 grep -q "reloaded $RCONF: generation 2," "$TEST_TMP/reload.log"
expect_eq "new connections get the renewed certificate" "$(served_serial)" \
    "$(openssl x509 -in "$C/site2.pem" -noout -serial)"
expect_eq "and are served over TLS both ways" \
    "$("${RCURL[@]}" -D - -o /dev/null "$RURL/" | hdr x-backend-sni)" backend.test
cp "$C/other.key" "$TEST_TMP/live/cert.key"
kill -HUP "$SHUNT_PID"
check "a reload with a key that does not match is refused, naming the file" \
    wait_until 100 grep -q "reload failed, still serving the previous configuration: $RCONF:[0-9]*:[0-9]*: listeners\[0\]\.tls\.key: key file \"$TEST_TMP/live/cert.key\" does not match" \
    "$TEST_TMP/reload.log"
expect_eq "the previous certificate keeps serving" "$(served_serial)" \
    "$(openssl x509 -in "$C/site2.pem" -noout -serial)"
expect_eq "and requests keep succeeding" \
    "$("${RCURL[@]}" -o /dev/null -w '%{http_code}' "$RURL/")" 200
check "shuntctl -c reads the config without loading its keys (this one is bad)" \
    bash -c '"$1" -c "$2" status ok | grep -q "\"address\": *\"127.0.0.1:'"$PT"'\""' _ "$CTL" "$RCONF"
stop_shunt

# --- certificate and key errors in the config -------------------------------------------
# bad_tls NAME CERT KEY [CHAIN]: a config with those files; prints shunt -t.
bad_tls() {
	chain=""
	[ -n "${4:-}" ] && chain=", \"chain\": \"$4\""
	cat > "$TEST_TMP/$1.json" <<JSON
{ "listeners": [ { "listen": "127.0.0.1:$PORT", "pool": "web",
    "tls": { "cert": "$2",
             "key": "$3"$chain } } ],
  "pools": { "web": { "peers": [ { "address": "127.0.0.1:$PT" } ] } } }
JSON
	"$SHUNT_BINARY" -t -c "$TEST_TMP/$1.json" 2>&1
	echo "exit $?"
}
# expect_err DESCRIPTION OUTPUT PATTERN (grep -E on the first line)
expect_err() {
	if head -n 1 <<<"$2" | grep -qE "$3" && tail -n 1 <<<"$2" | grep -qx 'exit 1'; then
		ok "$1"
	else
		not_ok "$1"
		echo "#   got:  $2"
		echo "#   want: $3"
	fi
}
T=$TEST_TMP
out=$(bad_tls badkey certs/site.pem certs/garbage.pem)
expect_err "a key file that is not PEM: error names the file and the key's line:column" "$out" \
    "^$T/badkey.json:3:21: listeners\[0\]\.tls\.key: key file \"$T/certs/garbage.pem\" holds no usable PEM private key"
out=$(bad_tls mismatch certs/site.pem certs/other.key)
expect_err "a key that does not match the certificate" "$out" \
    "^$T/mismatch.json:3:21: listeners\[0\]\.tls\.key: key file \"$T/certs/other.key\" does not match the certificate in \"$T/certs/site.pem\""
out=$(bad_tls badcert certs/garbage.pem certs/site.key)
expect_err "a certificate file that is not PEM" "$out" \
    "^$T/badcert.json:2:22: listeners\[0\]\.tls\.cert: certificate file \"$T/certs/garbage.pem\" holds no usable PEM certificate"
out=$(bad_tls nocert certs/missing.pem certs/site.key)
expect_err "a missing certificate file" "$out" \
    "^$T/nocert.json:2:22: listeners\[0\]\.tls\.cert: cannot read certificate file \"$T/certs/missing.pem\": No such file"
out=$(bad_tls badchain certs/site.pem certs/site.key certs/garbage.pem)
expect_err "a chain file that is not PEM" "$out" \
    "^$T/badchain.json:3:48: listeners\[0\]\.tls\.chain: chain file \"$T/certs/garbage.pem\" holds no usable PEM certificate"
if [ "$(id -u)" != 0 ]; then
	cp "$C/site.key" "$T/certs/unreadable.key"
	chmod 000 "$T/certs/unreadable.key"
	out=$(bad_tls unreadable certs/site.pem certs/unreadable.key)
	expect_err "an unreadable key file" "$out" \
	    "listeners\[0\]\.tls\.key: cannot read key file \"$T/certs/unreadable.key\": Permission denied"
else
	ok "an unreadable key file # SKIP running as root"
fi
cat > "$T/badca.json" <<JSON
{ "listeners": [ { "listen": "127.0.0.1:$PORT", "pool": "web" } ],
  "pools": { "web": { "peers": [ { "address": "127.0.0.1:$PT", "tls": true,
                                   "ca_file": "certs/garbage.pem" } ] } } }
JSON
out=$("$SHUNT_BINARY" -t -c "$T/badca.json" 2>&1; echo "exit $?")
expect_err "a CA file without certificates" "$out" \
    "^$T/badca.json:3:47: pools\.web\.peers\[0\]\.ca_file: CA file \"$T/certs/garbage.pem\" holds no usable PEM certificate"
out=$("$SHUNT_BINARY" -f -c "$T/mismatch.json" 2>&1; echo "exit $?")
expect_err "starting with a bad key fails the same way, before listening" "$out" \
    "^$T/mismatch.json:3:21: listeners\[0\]\.tls\.key: key file"

done_testing
