#!/bin/bash
# shunt TLS benchmark: keep-alive over TLS on both sides (wrk -> proxy over
# TLS, proxy -> backend over TLS), shunt against nginx with the same
# protocols and ciphers, on loopback.  make bench runs it after the main
# scenarios (BENCH_TLS=0 skips it).  See tests/bench/README.md.
#
#   SHUNT_BINARY=./shunt SHUNT_BACKEND=tests/backend/shunt-testbackend \
#       bash tests/bench/tls.sh
#
# Environment overrides: BENCH_SECONDS (per run, 5), BENCH_ROUNDS (5),
# BENCH_WRK_THREADS (2), BENCH_WRK_CONNS (50), BENCH_BACKEND_THREADS (1),
# BENCH_KEEP=1 (keep the temp dir), BENCH_OUT=FILE (append the report).
#
# It reports; it never fails on a missed target.  Exit 1 only when something
# broke (a process did not start, wrk produced no result).

set -u

: "${SHUNT_BINARY:?SHUNT_BINARY must name the shunt binary}"
: "${SHUNT_BACKEND:?SHUNT_BACKEND must name the test backend}"
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
BENCH_NAME="bench-tls"
. "$BENCH_DIR/lib.sh"

DUR=${BENCH_SECONDS:-5}
ROUNDS=${BENCH_ROUNDS:-5}
WRK_T=${BENCH_WRK_THREADS:-2}
WRK_C=${BENCH_WRK_CONNS:-50}
BACKEND_T=${BENCH_BACKEND_THREADS:-1}
WORKERS=2
# shunt's listener ciphers for TLS 1.2 (master/tls_cfg.h), given to nginx
# too; TLS 1.3 (what wrk and both proxies negotiate) uses OpenSSL's
# defaults on every side.
CIPHERS='ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL'

for tool in wrk openssl curl; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done
if ! command -v nginx >/dev/null 2>&1; then
	echo "bench tls: nginx is not installed; skipping the TLS comparison"
	exit 0
fi
[ -x "$SHUNT_BINARY" ] || die "no shunt binary at $SHUNT_BINARY"
[ -x "$SHUNT_BACKEND" ] || die "no test backend at $SHUNT_BACKEND"



# --- certificates, backend, proxies -------------------------------------------

. "$BENCH_DIR/../integration/certs.sh"
make_certs "$TMP/certs" || die "cannot make certificates"
C=$TMP/certs

"$SHUNT_BACKEND" -l 127.0.0.1:0 -p "$TMP/backend.port" -n bench -T "$BACKEND_T" \
    -C "$C/backend.pem" -K "$C/backend.key" 2>"$TMP/backend.err" &
BG_PIDS="$BG_PIDS $!"
i=0
while [ ! -s "$TMP/backend.port" ]; do
	i=$((i + 1))
	[ "$i" -gt 200 ] && die "the TLS backend did not start"
	sleep 0.05
done
BPORT=$(cat "$TMP/backend.port")

free_port PORT_shunt
mkdir -p "$TMP/shunt-state"
cat > "$TMP/shunt.json" <<JSON
{
  "workers": $WORKERS,
  "state_dir": "$TMP/shunt-state",
  "log": { "level": "info" },
  "listeners": [ { "listen": "127.0.0.1:$PORT_shunt", "pool": "bench",
                   "tls": { "cert": "$C/site.pem", "key": "$C/site.key" } } ],
  "pools": {
    "bench": {
      "keepalive": { "max_idle": 32 },
      "peers": [ { "address": "127.0.0.1:$BPORT", "tls": true,
                   "sni": "backend.test", "ca_file": "$C/ca.pem" } ]
    }
  }
}
JSON
"$SHUNT_BINARY" -f -c "$TMP/shunt.json" 2>"$TMP/shunt.err" &
PID_shunt=$!
BG_PIDS="$BG_PIDS $PID_shunt"

free_port PORT_nginx
d=$TMP/nginx
mkdir -p "$d/tmp"
cat > "$d/nginx.conf" <<CONF
worker_processes $WORKERS;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
$(nginx_http_common "$d")
    upstream bench {
        server 127.0.0.1:$BPORT;
        keepalive 32;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$PORT_nginx ssl reuseport backlog=4096;
        ssl_certificate $C/site.pem;
        ssl_certificate_key $C/site.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_ciphers '$CIPHERS';
        location / {
            proxy_pass https://bench;
$(nginx_proxy_headers)
            proxy_ssl_protocols TLSv1.2 TLSv1.3;
            proxy_ssl_server_name on;
            proxy_ssl_name backend.test;
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate $C/ca.pem;
            proxy_ssl_session_reuse on;
        }
    }
}
CONF
nginx -p "$d/" -e "$d/error.log" -c "$d/nginx.conf" -g 'daemon off;' \
    2>"$TMP/nginx.err" &
PID_nginx=$!
BG_PIDS="$BG_PIDS $PID_nginx"

PROXIES="shunt nginx"
for p in $PROXIES; do
	eval "port=\$PORT_$p"
	eval "pid=\$PID_$p"
	wait_port "$port" || {
		cat "$TMP/$p.err" >&2
		die "$p did not start listening on $port"
	}
	i=0
	while [ "$(children_of "$pid" | wc -l)" -lt "$WORKERS" ]; do
		i=$((i + 1))
		[ "$i" -gt 200 ] && die "$p did not start $WORKERS workers"
		sleep 0.05
	done
	# Both must really proxy over TLS to the TLS backend.
	curl -s --max-time 10 --cacert "$C/ca.pem" \
	    --resolve "shunt.test:$port:127.0.0.1" -D "$TMP/check.$p" \
	    -o /dev/null "https://shunt.test:$port/?size=64"
	grep -qi '^x-backend-sni: backend.test' "$TMP/check.$p" ||
	    die "$p does not reach the backend over TLS with SNI"
done

echo "shunt TLS bench: $(nproc) CPUs, TLS backend -T $BACKEND_T, $WORKERS workers" \
    "per proxy, wrk -t$WRK_T -c$WRK_C https, ${DUR}s x $ROUNDS rounds"

# --- runs ------------------------------------------------------------------------

SCENARIOS="tls64 tls16k"
scen_path() {
	case $1 in
	tls64) echo '/?size=64' ;;
	tls16k) echo '/?size=16384' ;;
	esac
}
scen_label() {
	case $1 in
	tls64) echo "TLS keep-alive 64 B" ;;
	tls16k) echo "TLS keep-alive 16 KiB" ;;
	esac
}

# run_one PROXY SCENARIO ROUND [warmup]
run_one() {
	local p=$1 s=$2 r=$3 port pid url all t0 t1 out cpu
	eval "port=\$PORT_$p"
	eval "pid=\$PID_$p"
	url="https://127.0.0.1:$port$(scen_path "$s")"
	if [ "${4:-}" = warmup ]; then
		wrk -t"$WRK_T" -c"$WRK_C" -d1s "$url" > /dev/null 2>&1
		return
	fi
	all="$pid $(children_of "$pid" | tr '\n' ' ')"
	# shellcheck disable=SC2086
	t0=$(cpu_ticks $all)
	out=$TMP/wrk.$p.$s.$r.txt
	timeout $((DUR + 60)) wrk -t"$WRK_T" -c"$WRK_C" -d"${DUR}s" --latency \
	    "$url" > "$out" 2>&1
	# shellcheck disable=SC2086
	t1=$(cpu_ticks $all)
	wrk_result "$out" "$p $s round $r"
	cpu=$(us_per_req $((t1 - t0)) "$WRK_REQS")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$p" "$r" "$WRK_RPS" \
	    "$WRK_P50" "$WRK_P99" "$cpu" "$WRK_ERRS" >> "$TMP/results.tsv"
}

: > "$TMP/results.tsv"
: > "$TMP/notes"
for p in $PROXIES; do
	for s in $SCENARIOS; do run_one "$p" "$s" 0 warmup; done
done
set -- $PROXIES
for r in $(seq "$ROUNDS"); do
	for s in $SCENARIOS; do
		# Alternate which proxy goes first.
		if [ $((r % 2)) = 1 ]; then
			run_one "$1" "$s" "$r"; run_one "$2" "$s" "$r"
		else
			run_one "$2" "$s" "$r"; run_one "$1" "$s" "$r"
		fi
	done
done

# --- report --------------------------------------------------------------------------

col() {
	awk -F'\t' -v s="$1" -v p="$2" -v c="$3" '$1 == s && $2 == p {print $c}' \
	    "$TMP/results.tsv"
}
stat() {
	case $3 in
	rps) col "$1" "$2" 4 | median ;;
	p50) col "$1" "$2" 5 | median ;;
	p99) col "$1" "$2" 6 | median ;;
	cpu) col "$1" "$2" 7 | median ;;
	errs) col "$1" "$2" 8 | awk '{s += $1} END {print s + 0}' ;;
	esac
}

report() {
	printf '%-22s %-8s %10s %9s %9s %9s %6s\n' scenario proxy 'req/s' p50 p99 \
	    'CPU/req' errors
	for s in $SCENARIOS; do
		for p in $PROXIES; do
			printf '%-22s %-8s %10.0f %7.2fms %7.2fms %7.1fus %6s\n' \
			    "$(scen_label "$s")" "$p" "$(stat "$s" "$p" rps)" \
			    "$(awk -v u="$(stat "$s" "$p" p50)" 'BEGIN {print u / 1000}')" \
			    "$(awk -v u="$(stat "$s" "$p" p99)" 'BEGIN {print u / 1000}')" \
			    "$(stat "$s" "$p" cpu)" "$(stat "$s" "$p" errs)"
		done
	done
	echo
	echo "shunt / nginx over TLS, round by round (the median of the $ROUNDS rounds'" \
	    "ratios, lowest-highest in brackets):"
	for s in $SCENARIOS; do
		printf '  %-22s req/s %s   p99 %s   CPU/req %s\n' "$(scen_label "$s")" \
		    "$(ratio_text "$s" 4)" "$(ratio_text "$s" 6)" "$(ratio_text "$s" 7)"
	done
	rr=$(paired_ratio "$TMP/results.tsv" tls64 4 | awk '{print $1}')
	echo
	echo "target (issue \"TLS both ways\"):"
	printf '  %-52s %8s  %s\n' "TLS keep-alive 64 B: req/s >= 1.00x nginx" "${rr}x" \
	    "$(awk -v v="$rr" 'BEGIN { if (v == "n/a") print "n/a"; else print (v + 0 >= 1.0) ? "PASS" : "MISS" }')"
}

echo
report | tee "$TMP/report.txt"
[ -n "${BENCH_OUT:-}" ] && { echo; cat "$TMP/report.txt"; } >> "$BENCH_OUT"

echo
if [ -s "$TMP/notes" ]; then
	echo "notes:"
	sed 's/^/  /' "$TMP/notes"
fi
odd=$(grep -v -E ' (worker [0-9]+ started|shunt .* started, )' "$TMP/shunt.err")
if [ -n "$odd" ]; then
	echo "shunt stderr (last 10 unexpected lines):"
	printf '%s\n' "$odd" | tail -n 10 | sed 's/^/  /'
fi
if [ -s "$d/error.log" ]; then
	echo "nginx error.log (last 5 lines):"
	tail -n 5 "$d/error.log" | sed 's/^/  /'
fi
exit 0
