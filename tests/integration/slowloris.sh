#!/bin/bash
# Slowloris: 1,000 connections dribbling a request head a byte at a time.
# Meanwhile a normal client is served promptly and the workers' memory grows
# by a bounded amount per slow connection; then header_timeout, which runs
# from the head's first byte and is not restarted by more bytes, ends every
# slow connection with a 408 or a close.
. "$(dirname "$0")/lib.sh"

LIB=$SHUNT_SRCDIR/tests/integration/chaoslib.py
SLOW=$SHUNT_SRCDIR/tests/integration/slowloris.py
NSLOW=1000
WORKERS=2
# Long enough that 1,000 connects, the RSS reading and the normal
# client's requests all fit before it, on a loaded 2-core machine too.
HEADER_TIMEOUT=15
# Honest bound on what one slow connection may cost a worker: its state and
# the part of its read buffer the dribbled bytes touched.  A whole read
# buffer (16 KiB) touched per connection would not pass.
MAX_RSS_PER_CONN_KIB=16
# ASan (SHUNT_SANITIZERS: the build's sanitizer flags) adds redzones and
# shadow memory to every allocation: 11.4 KiB per slow connection measured.
[ -n "${SHUNT_SANITIZERS:-}" ] && MAX_RSS_PER_CONN_KIB=24

if ! command -v python3 >/dev/null 2>&1; then
	skip "slowloris" "needs python3 (the slow client)"
	done_testing
	exit
fi
# The slow client holds NSLOW sockets; shunt raises its own limit.
need=$((NSLOW + 100))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
	ulimit -n "$need" 2>/dev/null || ulimit -n "$(ulimit -H -n)" 2>/dev/null
fi
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
	skip "slowloris" "open files limit $(ulimit -n) < $need and cannot be raised"
	done_testing
	exit
fi

start_backend b1 || exit 1
P1=$BACKEND_PORT
PORT=$(free_port)
CONF=$TEST_TMP/shunt.json
cat > "$CONF" <<JSON
{
  "workers": $WORKERS,
  "state_dir": "$TEST_TMP/state",
  "log": { "error": "$TEST_TMP/error.log", "level": "info" },
  "limits": { "header_timeout": "${HEADER_TIMEOUT}s" },
  "listeners": [ { "listen": "127.0.0.1:$PORT", "pool": "web" } ],
  "pools": { "web": { "peers": [ { "address": "127.0.0.1:$P1" } ] } }
}
JSON
start_shunt "$CONF" "$PORT" || exit 1
URL=http://127.0.0.1:$PORT

workers() {
	pgrep -P "$SHUNT_PID" | sort -n
}
nworkers_is() {
	[ "$(workers | wc -l)" -eq "$1" ]
}
check "$WORKERS workers run" wait_until 50 nworkers_is $WORKERS
WPIDS=$(workers | tr '\n' ' ')

rss_kib() {
	awk '/^VmRSS:/ {print $2}' "/proc/$1/status"
}
rss_total() {
	t=0
	for w in $WPIDS; do
		t=$((t + $(rss_kib "$w")))
	done
	echo "$t"
}
client_conns() {
	python3 "$LIB" conns "$PORT" $WPIDS
}
# timed_get: one request from curl; prints "CODE SECONDS".
timed_get() {
	curl -s -o /dev/null -m 10 -w '%{http_code} %{time_total}\n' "$URL/"
}

# Warm up: each worker has served, its buffers and store are in use.
for i in $(seq 20); do timed_get >/dev/null; done
rss0=$(rss_total)

python3 "$SLOW" 127.0.0.1 "$PORT" "$TEST_TMP/slow.json" --conns $NSLOW \
    --every 300 --seconds $((HEADER_TIMEOUT + 15)) \
    --ready "$TEST_TMP/slow.ready" &
slow=$!
test_pids="$test_pids $slow"
check "$NSLOW slow connections open, each with a first byte sent" \
    wait_until 100 test -s "$TEST_TMP/slow.ready"
all_accepted() {
	[ "$(client_conns)" -ge "$NSLOW" ]
}
check "the workers hold all $NSLOW slow connections" wait_until 20 all_accepted
held=$(client_conns)
rss1=$(rss_total)
per_conn=$(( (rss1 - rss0) * 1024 / NSLOW ))
echo "# workers' RSS: $rss0 KiB idle, $rss1 KiB with $held slow connections:" \
    "$per_conn bytes per connection"
check "RSS growth per slow connection ($per_conn B) < $MAX_RSS_PER_CONN_KIB KiB" \
    test "$per_conn" -lt $((MAX_RSS_PER_CONN_KIB * 1024))

# A normal client meanwhile: each request answered within 2 s.
slowest=0
bad=""
for i in 1 2 3 4 5; do
	set -- $(timed_get)
	echo "# normal request $i: $1 in $2 s"
	[ "$1" = 200 ] || bad="$bad $i:$1"
	ms=$(awk -v t="$2" 'BEGIN {printf "%d", t * 1000}')
	[ "$ms" -gt "$slowest" ] && slowest=$ms
	sleep 0.2
done
expect_eq "a normal client is served meanwhile (5 requests, all 200)" "$bad" ""
check "each within 2 s (slowest: ${slowest} ms)" test "$slowest" -lt 2000
alive_slow() {
	[ "$(client_conns)" -ge "$NSLOW" ]
}
check "the slow connections were still open meanwhile" alive_slow

# header_timeout: they all end, with a 408 or a close, once it has run out
# (bounded: the slow client gives up $((HEADER_TIMEOUT + 15)) s after it
# started).
wait "$slow"
summary=$(python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
print(r["connected"], r["open_at_end"], r["status"].get("408", 0),
      sum(r["status"].values()) - r["status"].get("408", 0),
      "%.1f" % (r["min_life"] or 0), "%.1f" % r["max_life"],
      " ".join("%s:%d" % kv for kv in sorted(r["ended"].items())))' \
    "$TEST_TMP/slow.json")
set -- $summary
connected=$1 still_open=$2 got408=$3 other_status=$4 min_life=$5 max_life=$6
shift 6
echo "# slow connections: $connected connected; $got408 got 408;" \
    "$other_status got another status; ended: $*;" \
    "lived ${min_life}-${max_life} s; open at the end: $still_open"
expect_eq "every slow connection connected" "$connected" $NSLOW
expect_eq "header_timeout ended every slow connection" "$still_open" 0
expect_eq "none got an answer other than 408" "$other_status" 0
check "they lived about header_timeout (${min_life}-${max_life} s, timeout ${HEADER_TIMEOUT} s)" \
    awk -v a="$min_life" -v b="$max_life" -v t=$HEADER_TIMEOUT \
    'BEGIN { exit !(a >= t - 0.5 && b <= t + 5) }'
check "most read their 408 ($got408 of $connected)" \
    test "$got408" -ge $((NSLOW / 2))
none_held() {
	[ "$(client_conns)" -eq 0 ]
}
check "the workers hold no client connection afterwards" wait_until 50 none_held
echo "# workers' RSS afterwards: $(rss_total) KiB"
expect_eq "the same workers still run (none died)" "$(workers | tr '\n' ' ')" \
    "$WPIDS"
set -- $(timed_get)
expect_eq "and serve" "$1" 200
stop_shunt
done_testing
