#!/bin/bash
# ab.sh: two shunt binaries (A, the reference, and B, the change) and nginx,
# side by side on the same backend, rounds interleaved, for a change that
# must not cost speed.  Each proxy gets W workers pinned to cores of its
# own when the machine has enough (proxy, backend and wrk disjoint); else
# nothing is pinned, and it says so.
#
#   SHUNT_A=old/shunt SHUNT_B=./shunt SHUNT_BACKEND=tests/backend/shunt-testbackend \
#       bash tests/bench/ab.sh
#
# BENCH_WORKERS ("1 2"), BENCH_SECONDS (4), BENCH_ROUNDS (3),
# BENCH_WRK_CONNS (100), BENCH_LOADS ("keepalive close").
# It reports medians and the B/A and B/nginx ratios; it never fails on them.

set -u
: "${SHUNT_A:?SHUNT_A must name the reference shunt}"
: "${SHUNT_B:?SHUNT_B must name the shunt to compare}"
: "${SHUNT_BACKEND:?SHUNT_BACKEND must name the test backend}"
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
BENCH_NAME=ab
. "$BENCH_DIR/lib.sh"

DUR=${BENCH_SECONDS:-4}
ROUNDS=${BENCH_ROUNDS:-3}
CONNS=${BENCH_WRK_CONNS:-100}
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
NCPU=$(nproc)
HAVE_NGINX=0
command -v nginx >/dev/null 2>&1 && HAVE_NGINX=1

# pin FIRST N: a taskset prefix for cores FIRST..FIRST+N-1, or nothing.
PIN=0
pin() {
	[ "$PIN" = 1 ] && echo "taskset -c $1-$(($1 + $2 - 1))"
}

start_backend() {
	free_port BPORT
	$(pin "$BCORE" "$BT") "$SHUNT_BACKEND" -l "127.0.0.1:$BPORT" -T "$BT" \
	    -b 64 > /dev/null 2>&1 &
	BG_PIDS="$BG_PIDS $!"
	wait_port "$BPORT" || die "backend did not start"
}

# start_proxy NAME W: sets PPORT and PPID_ (the process to stop).
start_proxy() {
	local name=$1 w=$2 dir=$TMP/$1.$2
	mkdir -p "$dir/tmp" "$dir/state"
	free_port PPORT
	case $name in
	A|B)
		local bin=$SHUNT_A
		[ "$name" = B ] && bin=$SHUNT_B
		cat > "$dir/shunt.json" <<JSON
{ "workers": $w, "state_dir": "$dir/state",
  "log": { "error": "$dir/error.log", "level": "warn" },
  "listeners": [ { "listen": "127.0.0.1:$PPORT", "pool": "web" } ],
  "pools": { "web": { "peers": [ { "address": "127.0.0.1:$BPORT" } ] } } }
JSON
		$(pin 0 "$w") "$bin" -f -c "$dir/shunt.json" 2>> "$dir/stderr" &
		;;
	nginx)
		cat > "$dir/nginx.conf" <<CONF
worker_processes $w;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 20000; }
http {
    access_log off;
$(nginx_http_common "$dir")
    upstream web { server 127.0.0.1:$BPORT; keepalive 64; }
    server {
        listen 127.0.0.1:$PPORT reuseport;
        location / { proxy_pass http://web;
$(nginx_proxy_headers) }
    }
}
CONF
		$(pin 0 "$w") nginx -e "$dir/error.log" -c "$dir/nginx.conf" -g 'daemon off;' \
		    2>> "$dir/stderr" &
		;;
	esac
	PPID_=$!
	wait_port "$PPORT" || { cat "$dir/stderr" >&2; die "$name did not start"; }
}

run_wrk() {	# LOAD OUT
	local hdr=()
	[ "$1" = close ] && hdr=(-H "Connection: close")
	$(pin "$WCORE" "$WT") wrk --latency -t"$WT" -c"$CONNS" -d"${DUR}s" "${hdr[@]}" \
	    "http://127.0.0.1:$PPORT/" > "$2" 2>&1
}

PROXIES="A B"
[ "$HAVE_NGINX" = 1 ] && PROXIES="A B nginx"
echo "ab: $(date -u +%FT%TZ), $NCPU cores, ${DUR}s x $ROUNDS rounds, wrk -c$CONNS"
printf '%-10s %-2s %-6s %10s %10s %10s %8s %8s\n' load W proxy "req/s" \
    "p50 us" "p99 us" "B/A" "B/nginx"
for W in ${BENCH_WORKERS:-1 2}; do
	BT=$(( (W + 1) / 2 )); WT=$(( (W + 1) / 2 ))
	[ "$WT" -lt 1 ] && WT=1
	BCORE=$W; WCORE=$((W + BT))
	PIN=0
	[ "$NCPU" -ge $((W + BT + WT)) ] && command -v taskset >/dev/null 2>&1 &&
	    PIN=1
	[ "$PIN" = 0 ] && echo "ab: W=$W not pinned ($NCPU cores)"
	start_backend
	BACKEND_PID=${BG_PIDS##* }
	for load in ${BENCH_LOADS:-keepalive close}; do
		: > "$TMP/res.$load.$W"
		for r in $(seq "$ROUNDS"); do
			for p in $PROXIES; do
				start_proxy "$p" "$W"
				run_wrk "$load" "$TMP/wrk.$p"
				wrk_result "$TMP/wrk.$p" "$p"
				echo "$p $WRK_RPS $WRK_P50 $WRK_P99" >> "$TMP/res.$load.$W"
				stop_pids "$PPID_"
			done
		done
		for p in $PROXIES; do
			rps=$(awk -v p="$p" '$1 == p {print $2}' "$TMP/res.$load.$W" | median)
			p50=$(awk -v p="$p" '$1 == p {print $3}' "$TMP/res.$load.$W" | median)
			p99=$(awk -v p="$p" '$1 == p {print $4}' "$TMP/res.$load.$W" | median)
			eval "RPS_$p=$rps"
			printf '%-10s %-2s %-6s %10.0f %10.0f %10.0f' "$load" "$W" "$p" \
			    "$rps" "$p50" "$p99"
			# shellcheck disable=SC2154
			[ "$p" = B ] && printf ' %8s %8s' "$(ratio "$rps" "$RPS_A")" -
			if [ "$p" = nginx ]; then
				printf ' %8s %8s' - "$(ratio "$RPS_B" "$rps")"
			fi
			echo
		done
	done
	stop_pids "$BACKEND_PID"
done
