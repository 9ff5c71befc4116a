#!/bin/bash
# Bodies: request and response bodies of every awkward size arrive intact
# both ways, framed by Content-Length or chunked, through /echo and the
# generated routes; a slow reader gets the whole body with shunt holding
# little of it (backpressure); concurrent uploads do not mix.
. "$(dirname "$0")/lib.sh"

start_backend b1 && P1=$BACKEND_PORT
PORT=$(free_port)

cat > "$TEST_TMP/shunt.json" <<JSON
{
  "workers": 1,
  "state_dir": "$TEST_TMP/state",
  "log": { "access": "$TEST_TMP/access.log", "error": "$TEST_TMP/error.log" },
  "listeners": [ { "listen": "127.0.0.1:$PORT", "pool": "web" } ],
  "pools": { "web": { "peers": [ { "address": "127.0.0.1:$P1" } ] } }
}
JSON
start_shunt "$TEST_TMP/shunt.json" "$PORT"
URL="http://127.0.0.1:$PORT"

SIZES="0 1 65535 65537 1048576 8388608"

# The backend's pattern body, byte i = ALPHABET[i % 64], up to 8 MiB.
printf '%s' '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/' \
    > "$TEST_TMP/pattern"
for i in $(seq 17); do
	cat "$TEST_TMP/pattern" "$TEST_TMP/pattern" > "$TEST_TMP/pattern.2"
	mv "$TEST_TMP/pattern.2" "$TEST_TMP/pattern"
done

for n in $SIZES; do
	head -c "$n" /dev/urandom > "$TEST_TMP/in.$n"
done

# sum: "CRC SIZE" of stdin.
sum() {
	cksum | awk '{print $1, $2}'
}

# --- /echo: the same bytes come back ---------------------------------------
for n in $SIZES; do
	want=$(sum < "$TEST_TMP/in.$n")
	got=$(curl -s --max-time 60 --data-binary @"$TEST_TMP/in.$n" \
	    -H 'Content-Type: application/octet-stream' "$URL/echo" | sum)
	expect_eq "echo $n B, Content-Length up, Content-Length down" "$got" "$want"

	got=$(curl -s --max-time 60 --data-binary @"$TEST_TMP/in.$n" \
	    -H 'Transfer-Encoding: chunked' "$URL/echo" | sum)
	expect_eq "echo $n B, chunked up, Content-Length down" "$got" "$want"

	got=$(curl -s --max-time 60 --data-binary @"$TEST_TMP/in.$n" \
	    "$URL/echo?chunked=1" | sum)
	expect_eq "echo $n B, Content-Length up, chunked down" "$got" "$want"

	got=$(curl -s --max-time 60 --data-binary @"$TEST_TMP/in.$n" \
	    -H 'Transfer-Encoding: chunked' "$URL/echo?chunked=1" | sum)
	expect_eq "echo $n B, chunked up, chunked down" "$got" "$want"
done

# Without Expect: 100-continue the body follows the head at once.
want=$(sum < "$TEST_TMP/in.8388608")
got=$(curl -s --max-time 60 -H 'Expect:' --data-binary @"$TEST_TMP/in.8388608" \
    "$URL/echo" | sum)
expect_eq "echo 8 MiB without Expect: 100-continue" "$got" "$want"

# The framing the client sees: what the peer chose, de-chunked for no one.
te=$(curl -s -o /dev/null -w '%header{transfer-encoding}' --data-binary x \
    "$URL/echo?chunked=1")
expect_eq "a chunked response stays chunked for an HTTP/1.1 client" "$te" chunked
cl=$(curl -s -o /dev/null -w '%header{content-length}' \
    --data-binary @"$TEST_TMP/in.65537" -H 'Transfer-Encoding: chunked' \
    "$URL/echo")
expect_eq "Content-Length of an echoed chunked upload" "$cl" 65537

# --- generated bodies: Content-Length and chunked downloads -----------------
for n in $SIZES; do
	want=$(head -c "$n" "$TEST_TMP/pattern" | sum)
	got=$(curl -s --max-time 60 "$URL/?size=$n" | sum)
	expect_eq "GET $n B, Content-Length" "$got" "$want"
	got=$(curl -s --max-time 60 "$URL/chunked?size=$n" | sum)
	expect_eq "GET $n B, chunked" "$got" "$want"
	got=$(curl -s --max-time 60 --http1.0 "$URL/chunked?size=$n" | sum)
	expect_eq "GET $n B, chunked, de-chunked for HTTP/1.0" "$got" "$want"
done

# Several bodies on one client connection: framing stays in step.
want=$( (head -c 65537 "$TEST_TMP/pattern"; cat "$TEST_TMP/in.65535";
    head -c 1048576 "$TEST_TMP/pattern"; cat "$TEST_TMP/in.1") | sum)
got=$(curl -s --max-time 60 "$URL/chunked?size=65537" \
    --next --data-binary @"$TEST_TMP/in.65535" -H 'Transfer-Encoding: chunked' "$URL/echo?chunked=1" \
    --next "$URL/?size=1048576" \
    --next --data-binary @"$TEST_TMP/in.1" "$URL/echo" | sum)
expect_eq "four mixed bodies on one keep-alive connection" "$got" "$want"
conns=$(curl -s -o /dev/null -w '%{num_connects}' "$URL/chunked?size=65537" \
    --next -s -o /dev/null -w '%{num_connects}' \
    --data-binary @"$TEST_TMP/in.65535" "$URL/echo" \
    --next -s -o /dev/null -w '%{num_connects}' "$URL/?size=3")
expect_eq "... and they used one client connection" "$conns" "100"

# --- backpressure: a slow reader of 8 MiB -----------------------------------
# curl --limit-rate paces its reads only roughly, so the body also goes
# through a pipe read 256 KiB at a time with pauses: curl blocks on the full
# pipe, stops reading its socket, and shunt must stop reading the peer.
slow() {
	for sl_i in $(seq 32); do
		dd bs=256k count=1 iflag=fullblock 2>/dev/null
		sleep 0.1
	done
	cat
}
worker=$(pgrep -P "$SHUNT_PID" | head -n 1)
hwm() {
	awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null
}
# Reset the peak so that only this download counts (Linux >= 4.0).
echo 5 > "/proc/$worker/clear_refs" 2>/dev/null
before=$(hwm "$worker")
want=$(head -c 8388608 "$TEST_TMP/pattern" | sum)
got=$(curl -s --max-time 60 --limit-rate 2M "$URL/?size=8388608" | slow | sum)
expect_eq "8 MiB to a client reading at 2 MB/s arrives whole" "$got" "$want"
after=$(hwm "$worker")
if [ -n "$before" ] && [ -n "$after" ]; then
	grew=$((after - before))
	check "the worker's peak memory grew by less than 4 MiB for it ($before -> $after KiB)" \
	    test "$grew" -lt 4096
else
	ok "worker peak memory # SKIP /proc/PID/status unreadable"
fi
got=$(curl -s --max-time 60 --limit-rate 2M "$URL/chunked?size=8388608" | slow | sum)
expect_eq "8 MiB chunked to a slow reader arrives whole" "$got" "$want"
want=$(sum < "$TEST_TMP/in.8388608")
got=$(curl -s --max-time 60 --limit-rate 2M --data-binary @"$TEST_TMP/in.8388608" \
    "$URL/echo" | slow | sum)
expect_eq "8 MiB echoed to a slow reader arrives whole" \
    "$got" "$want"

# --- two uploads at once ----------------------------------------------------
head -c 8388608 /dev/urandom > "$TEST_TMP/in.b"
curl -s --max-time 60 --data-binary @"$TEST_TMP/in.8388608" "$URL/echo" \
    -o "$TEST_TMP/out.a" &
pa=$!
curl -s --max-time 60 -H 'Transfer-Encoding: chunked' \
    --data-binary @"$TEST_TMP/in.b" "$URL/echo?chunked=1" -o "$TEST_TMP/out.b" &
pb=$!
wait "$pa"
ra=$?
wait "$pb"
rb=$?
expect_eq "two concurrent uploads both finish" "$ra $rb" "0 0"
expect_eq "first concurrent upload intact" "$(sum < "$TEST_TMP/out.a")" \
    "$(sum < "$TEST_TMP/in.8388608")"
expect_eq "second concurrent upload intact" "$(sum < "$TEST_TMP/out.b")" \
    "$(sum < "$TEST_TMP/in.b")"

# --- every request was a 200 ------------------------------------------------
bad=$(awk '$7 != 200' "$TEST_TMP/access.log" | head -n 3)
expect_eq "the access log shows only 200s" "$bad" ""
check "the worker is still the same process" \
    test "$(pgrep -P "$SHUNT_PID" | head -n 1)" = "$worker"

stop_shunt
done_testing
