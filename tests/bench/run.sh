#!/bin/bash
# shunt benchmark: shunt against nginx (and haproxy when installed) in front
# of the C test backend, on loopback.  See tests/bench/README.md.
#
#   SHUNT_BINARY=./shunt SHUNT_BACKEND=tests/backend/shunt-testbackend \
#       bash tests/bench/run.sh            (or: make bench)
#
# Environment overrides: BENCH_SECONDS (per run, 5), BENCH_ROUNDS (5),
# BENCH_WRK_THREADS (2), BENCH_WRK_CONNS (50), BENCH_BACKEND_THREADS (1),
# BENCH_IDLE_CONNS (10000), BENCH_PROXIES ("shunt nginx haproxy"),
# BENCH_KEEP=1 (keep the temp dir), BENCH_OUT=FILE (also write the table),
# BENCH_FAILOVER=0 (skip the failover scenario, tests/bench/failover.sh),
# BENCH_TLS=0 (skip TLS keep-alive on both sides, tests/bench/tls.sh).
#
# It reports; it never fails on a missed target.  Exit 1 only when something
# broke (a process did not start, wrk produced no result).

set -u

: "${SHUNT_BINARY:?SHUNT_BINARY must name the shunt binary}"
: "${SHUNT_BACKEND:?SHUNT_BACKEND must name the test backend}"
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
BENCH_NAME=bench
. "$BENCH_DIR/lib.sh"

DUR=${BENCH_SECONDS:-5}
ROUNDS=${BENCH_ROUNDS:-5}
WRK_T=${BENCH_WRK_THREADS:-2}
WRK_C=${BENCH_WRK_CONNS:-50}
BACKEND_T=${BENCH_BACKEND_THREADS:-1}
IDLE_N=${BENCH_IDLE_CONNS:-10000}
WORKERS=2

for tool in wrk cc; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done
[ -x "$SHUNT_BINARY" ] || die "no shunt binary at $SHUNT_BINARY"
[ -x "$SHUNT_BACKEND" ] || die "no test backend at $SHUNT_BACKEND"

PROXIES=""
for p in ${BENCH_PROXIES:-shunt nginx haproxy}; do
	case $p in
	shunt) PROXIES="$PROXIES shunt" ;;
	nginx | haproxy)
		if command -v "$p" >/dev/null 2>&1 ||
		    [ -x "/usr/sbin/$p" ]; then
			PROXIES="$PROXIES $p"
		else
			echo "bench: $p is not installed; skipping it"
		fi ;;
	*) die "unknown proxy $p" ;;
	esac
done
PROXIES=${PROXIES# }

# 10,000 idle connections plus upstream ones need more than 1024 fds; every
# process started below inherits this.  Raising the hard limit needs
# CAP_SYS_RESOURCE, which containers often lack: then the hard limit it is.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
NOFILE=$(ulimit -n)
[ "$NOFILE" = unlimited ] && NOFILE=1048576
[ "$NOFILE" -ge $((IDLE_N + 2000)) ] ||
    die "open files limit $NOFILE is too low for $IDLE_N idle connections (BENCH_IDLE_CONNS)"

EXTRA_PIDS=""

# --- /proc helpers --------------------------------------------------------

# all_pids PROXY: master and workers (haproxy: its one process).
all_pids() {
	local m
	eval "m=\$PID_$1"
	echo "$m"
	[ "$1" = haproxy ] || children_of "$m"
}

# worker_pids PROXY: the processes that serve traffic.
worker_pids() {
	local m
	eval "m=\$PID_$1"
	if [ "$1" = haproxy ]; then echo "$m"; else children_of "$m"; fi
}

# status_kb FIELD PID...: sum of FIELD (kB) from /proc/PID/status.
status_kb_sum() {
	local f=$1 p
	shift
	for p in "$@"; do cat /proc/"$p"/status 2>/dev/null; done |
	    awk -v f="$f:" '$1 == f {s += $2} END {print s + 0}'
}
status_kb_max() {
	local f=$1 p
	shift
	for p in "$@"; do cat /proc/"$p"/status 2>/dev/null; done |
	    awk -v f="$f:" '$1 == f && $2 > m {m = $2} END {print m + 0}'
}

reset_hwm() {
	local p
	for p in "$@"; do echo 5 > /proc/"$p"/clear_refs 2>/dev/null; done
}

# --- start everything -----------------------------------------------------

cc -O2 -o "$TMP/idle_conns" "$BENCH_DIR/idle_conns.c" ||
    die "cannot compile idle_conns.c"

"$SHUNT_BACKEND" -l 127.0.0.1:0 -p "$TMP/backend.port" -n bench -T "$BACKEND_T" \
    2>"$TMP/backend.err" &
BG_PIDS="$BG_PIDS $!"
PID_backend=$!
i=0
while [ ! -s "$TMP/backend.port" ]; do
	i=$((i + 1))
	[ "$i" -gt 200 ] && die "the backend did not start"
	sleep 0.05
done
BPORT=$(cat "$TMP/backend.port")

start_shunt() {
	free_port PORT_shunt
	mkdir -p "$TMP/shunt-state"
	cat > "$TMP/shunt.json" <<JSON
{
  "workers": $WORKERS,
  "state_dir": "$TMP/shunt-state",
  "log": { "level": "info" },
  "listeners": [ { "listen": "127.0.0.1:$PORT_shunt", "pool": "bench" } ],
  "pools": {
    "bench": {
      "keepalive": { "max_idle": 32 },
      "peers": [ { "address": "127.0.0.1:$BPORT" } ]
    }
  }
}
JSON
	"$SHUNT_BINARY" -f -c "$TMP/shunt.json" 2>"$TMP/shunt.err" &
	PID_shunt=$!
	BG_PIDS="$BG_PIDS $PID_shunt"
}

start_nginx() {
	free_port PORT_nginx
	d=$TMP/nginx
	mkdir -p "$d/tmp"
	cat > "$d/nginx.conf" <<CONF
worker_processes $WORKERS;
worker_rlimit_nofile $NOFILE;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections $((NOFILE - 1000)); }
http {
    access_log off;
$(nginx_http_common "$d")
    upstream bench {
        server 127.0.0.1:$BPORT;
        keepalive 32;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$PORT_nginx reuseport backlog=4096;
        location / {
            proxy_pass http://bench;
$(nginx_proxy_headers)
        }
    }
}
CONF
	nginx -p "$d/" -e "$d/error.log" -c "$d/nginx.conf" -g 'daemon off;' \
	    2>"$TMP/nginx.err" &
	PID_nginx=$!
	BG_PIDS="$BG_PIDS $PID_nginx"
}

start_haproxy() {
	free_port PORT_haproxy
	cat > "$TMP/haproxy.cfg" <<CONF
global
    nbthread $WORKERS
    no strict-limits
    maxconn $((IDLE_N + 500))
defaults
    mode http
    option forwardfor
    http-reuse always
    timeout connect 1s
    timeout client 75s
    timeout server 60s
    timeout http-keep-alive 75s
frontend bench
    bind 127.0.0.1:$PORT_haproxy
    http-request set-header X-Forwarded-Proto http
    default_backend bench
backend bench
    server b1 127.0.0.1:$BPORT
CONF
	haproxy -db -f "$TMP/haproxy.cfg" 2>"$TMP/haproxy.err" &
	PID_haproxy=$!
	BG_PIDS="$BG_PIDS $PID_haproxy"
}

for p in $PROXIES; do
	"start_$p"
done
for p in $PROXIES; do
	eval "port=\$PORT_$p"
	wait_port "$port" || {
		cat "$TMP/$p.err" >&2
		die "$p did not start listening on $port"
	}
	if [ "$p" != haproxy ]; then
		i=0
		while [ "$(worker_pids "$p" | wc -l)" -lt "$WORKERS" ]; do
			i=$((i + 1))
			[ "$i" -gt 200 ] && die "$p did not start $WORKERS workers"
			sleep 0.05
		done
	fi
	eval "WORKERS0_$p=\"$(worker_pids "$p" | tr '\n' ' ')\""
done

echo "shunt bench: $(nproc) CPUs, backend -T $BACKEND_T, $WORKERS workers per proxy," \
    "wrk -t$WRK_T -c$WRK_C, ${DUR}s x $ROUNDS rounds; proxies: $PROXIES"

# --- idle keep-alive connections (fresh processes, before any load) -------

: > "$TMP/idle.tsv"
# idle_batch PROXY PORT N TAG: start idle_conns in the background, wait for it
# to report "ready"; sets IDLE_OK and IDLE_FAILED and appends to EXTRA_PIDS.
idle_batch() {
	local i=0 out=$TMP/idle.$1.$4.out
	"$TMP/idle_conns" 127.0.0.1 "$2" "$3" '/?size=64' 120 > "$out" \
	    2>"$TMP/idle.$1.$4.err" &
	EXTRA_PIDS="$EXTRA_PIDS $!"
	while ! grep -q '^ready' "$out" 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -gt 1400 ] && die "idle_conns against $1 did not finish"
		sleep 0.05
	done
	read -r _ IDLE_OK IDLE_FAILED < <(grep '^ready' "$out")
}
EXTRA_PIDS=""
for p in $PROXIES; do
	eval "port=\$PORT_$p"
	# Warm up: a few connections, so one-time allocations are in the baseline.
	"$TMP/idle_conns" 127.0.0.1 "$port" 50 '/?size=64' 1 > /dev/null
	sleep 0.5
	w=$(worker_pids "$p")
	# shellcheck disable=SC2086
	before=$(status_kb_sum VmRSS $w)
	# Two halves, so the second half's increment (the marginal cost) leaves
	# out what the first connections brought in once (upstream connections
	# and buffers for the requests in flight, heap growth).
	half=$((IDLE_N / 2))
	idle_batch "$p" "$port" "$half" a
	ok_a=$IDLE_OK failed_a=$IDLE_FAILED
	sleep 1
	# shellcheck disable=SC2086
	mid=$(status_kb_sum VmRSS $w)
	idle_batch "$p" "$port" $((IDLE_N - half)) b
	ok_b=$IDLE_OK failed_b=$IDLE_FAILED
	sleep 1
	# shellcheck disable=SC2086
	after=$(status_kb_sum VmRSS $w)
	for pid in $EXTRA_PIDS; do kill -TERM "$pid"; done
	for pid in $EXTRA_PIDS; do wait "$pid"; done
	EXTRA_PIDS=""
	alive=$(cat "$TMP/idle.$p.a.out" "$TMP/idle.$p.b.out" |
	    awk '/^alive/ {s += $2} END {print s + 0}')
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$p" "$before" "$mid" "$after" \
	    $((ok_a + ok_b)) $((failed_a + failed_b)) "$alive" "$ok_b" >> "$TMP/idle.tsv"
	sleep 1
done

# --- throughput and latency --------------------------------------------------

SCENARIOS="ka64 ka16k close64"
scen_path() {
	case $1 in
	ka64 | close64) echo '/?size=64' ;;
	ka16k) echo '/?size=16384' ;;
	esac
}
scen_label() {
	case $1 in
	ka64) echo "keep-alive 64 B" ;;
	ka16k) echo "keep-alive 16 KiB" ;;
	close64) echo "conn-per-request 64 B" ;;
	esac
}

# run_one PROXY SCENARIO ROUND [warmup]
run_one() {
	local p=$1 s=$2 r=$3 port url hdr w w2 a t0 t1 out hwm cpu
	eval "port=\$PORT_$p"
	url="http://127.0.0.1:$port$(scen_path "$s")"
	hdr=()
	[ "$s" = close64 ] && hdr=(-H 'Connection: close')
	if [ "${4:-}" = warmup ]; then
		wrk -t"$WRK_T" -c"$WRK_C" -d1s "${hdr[@]}" "$url" > /dev/null 2>&1
		return
	fi
	w=$(worker_pids "$p")
	a=$(all_pids "$p")
	# shellcheck disable=SC2086
	reset_hwm $w
	# shellcheck disable=SC2086
	t0=$(cpu_ticks $a)
	out=$TMP/wrk.$p.$s.$r.txt
	timeout $((DUR + 60)) wrk -t"$WRK_T" -c"$WRK_C" -d"${DUR}s" --latency \
	    "${hdr[@]}" "$url" > "$out" 2>&1
	# shellcheck disable=SC2086
	t1=$(cpu_ticks $a)
	# shellcheck disable=SC2086
	hwm=$(status_kb_max VmHWM $w)
	w2=$(worker_pids "$p")
	[ "$w" = "$w2" ] || echo "$p $s round $r: worker pids changed ($(echo $w) -> $(echo $w2))" >> "$TMP/notes"
	wrk_result "$out" "$p $s round $r"
	cpu=$(us_per_req $((t1 - t0)) "$WRK_REQS")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$p" "$r" "$WRK_RPS" \
	    "$WRK_P50" "$WRK_P99" "$cpu" "$hwm" "$WRK_ERRS" >> "$TMP/results.tsv"
}

: > "$TMP/results.tsv"
: > "$TMP/notes"
for p in $PROXIES; do
	for s in $SCENARIOS; do run_one "$p" "$s" 0 warmup; done
done
set -- $PROXIES
NP=$#
for r in $(seq "$ROUNDS"); do
	for s in $SCENARIOS; do
		# Rotate the order each round so no proxy always runs first.
		for k in $(seq 0 $((NP - 1))); do
			idx=$(((k + r - 1) % NP + 1))
			run_one "${!idx}" "$s" "$r"
		done
	done
done

# --- report ------------------------------------------------------------------

col() { # col SCEN PROXY COLUMN -> values of that column
	awk -F'\t' -v s="$1" -v p="$2" -v c="$3" '$1 == s && $2 == p {print $c}' \
	    "$TMP/results.tsv"
}
stat() { # stat SCEN PROXY rps|p50|p99|cpu|hwm|errs
	case $3 in
	rps) col "$1" "$2" 4 | median ;;
	p50) col "$1" "$2" 5 | median ;;
	p99) col "$1" "$2" 6 | median ;;
	cpu) col "$1" "$2" 7 | median ;;
	hwm) col "$1" "$2" 8 | sort -n | tail -1 ;;
	errs) col "$1" "$2" 9 | awk '{s += $1} END {print s + 0}' ;;
	esac
}
verdict() { # verdict VALUE OP LIMIT
	awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
	    if (v == "n/a") { print "n/a"; exit }
	    ok = (op == ">=") ? (v + 0 >= l + 0) : (v + 0 <= l + 0)
	    print ok ? "PASS" : "MISS" }'
}

# pratio SCEN COLUMN: the median of the per-round shunt / nginx ratios.
pratio() {
	paired_ratio "$TMP/results.tsv" "$1" "$2" | awk '{print $1}'
}
report() {
	printf '%-22s %-8s %10s %9s %9s %9s %11s %6s\n' scenario proxy 'req/s' \
	    p50 p99 'CPU/req' 'peakRSS/wk' errors
	for s in $SCENARIOS; do
		for p in $PROXIES; do
			printf '%-22s %-8s %10.0f %7.2fms %7.2fms %7.1fus %8.1fMiB %6s\n' \
			    "$(scen_label "$s")" "$p" "$(stat "$s" "$p" rps)" \
			    "$(awk -v u="$(stat "$s" "$p" p50)" 'BEGIN {print u / 1000}')" \
			    "$(awk -v u="$(stat "$s" "$p" p99)" 'BEGIN {print u / 1000}')" \
			    "$(stat "$s" "$p" cpu)" \
			    "$(awk -v k="$(stat "$s" "$p" hwm)" 'BEGIN {print k / 1024}')" \
			    "$(stat "$s" "$p" errs)"
		done
	done
	case " $PROXIES " in *" haproxy "*)
		echo "(haproxy is one process with $WORKERS threads: its peak RSS is the whole process's)" ;;
	esac
	echo
	echo "idle keep-alive connections ($IDLE_N opened in two halves, one request each;"
	echo "RSS = VmRSS summed over the workers; KiB/conn = (after - before) / open,"
	echo "marginal = (after - half) / connections of the second half):"
	printf '%-8s %12s %12s %12s %6s %6s %6s %9s %9s\n' proxy 'RSS before' 'at half' \
	    'after' open failed alive 'KiB/conn' marginal
	while IFS=$'\t' read -r p before mid after ok failed alive okb; do
		printf '%-8s %8d KiB %8d KiB %8d KiB %6d %6d %6d %9s %9s\n' "$p" "$before" \
		    "$mid" "$after" "$ok" "$failed" "$alive" \
		    "$(awk -v a="$after" -v b="$before" -v n="$ok" 'BEGIN { if (n > 0) printf "%.2f", (a - b) / n; else print "n/a" }')" \
		    "$(awk -v a="$after" -v b="$mid" -v n="$okb" 'BEGIN { if (n > 0) printf "%.2f", (a - b) / n; else print "n/a" }')"
	done < "$TMP/idle.tsv"
	echo
	case " $PROXIES " in *" shunt "*) ;; *) echo "(no ratios: shunt did not run)"; return ;; esac
	case " $PROXIES " in *" nginx "*) ;; *) echo "(no ratios: nginx did not run)"; return ;; esac
	echo "shunt / nginx, round by round (the median of the $ROUNDS rounds' ratios," \
	    "lowest-highest in brackets):"
	for s in $SCENARIOS; do
		printf '  %-22s req/s %s   p99 %s   CPU/req %s\n' "$(scen_label "$s")" \
		    "$(ratio_text "$s" 4)" "$(ratio_text "$s" 6)" "$(ratio_text "$s" 7)"
	done
	echo
	echo "targets (issue \"prefork proxy\"):"
	rr=$(pratio ka64 4)
	pr=$(pratio ka64 6)
	cr=$(pratio ka64 7)
	xr=$(pratio close64 4)
	kib=$(awk -F'\t' '$1 == "shunt" && $5 > 0 {printf "%.2f", ($4 - $2) / $5}' "$TMP/idle.tsv")
	printf '  %-52s %8s  %s\n' \
	    "keep-alive 64 B: req/s >= 1.10x nginx" "${rr}x" "$(verdict "$rr" '>=' 1.10)" \
	    "keep-alive 64 B: p99 <= nginx (ratio <= 1.00)" "${pr}x" "$(verdict "$pr" '<=' 1.00)" \
	    "keep-alive 64 B: CPU/req <= 0.90x nginx" "${cr}x" "$(verdict "$cr" '<=' 0.90)" \
	    "conn-per-request 64 B: req/s >= 1.00x nginx" "${xr}x" "$(verdict "$xr" '>=' 1.00)" \
	    "idle keep-alive connection <= 4 KiB in a worker" "${kib:-n/a} KiB" "$(verdict "${kib:-n/a}" '<=' 4)"
}

echo
report | tee "$TMP/report.txt"
[ -n "${BENCH_OUT:-}" ] && cp "$TMP/report.txt" "$BENCH_OUT"

# --- anything odd ----------------------------------------------------------------
echo
if [ -s "$TMP/notes" ]; then
	echo "notes:"
	sed 's/^/  /' "$TMP/notes"
fi
for p in $PROXIES; do
	eval "m=\$PID_$p"
	kill -0 "$m" 2>/dev/null || echo "$p: the master process (pid $m) is gone"
	eval "w0=\$WORKERS0_$p"
	w1=$(worker_pids "$p" | tr '\n' ' ')
	[ "$w0" = "$w1" ] || echo "$p: worker pids changed during the bench: $w0-> $w1"
done
if [ -s "$TMP/shunt.err" ]; then
	odd=$(grep -v -E ' (worker [0-9]+ started|shunt .* started, )' "$TMP/shunt.err")
	if [ -n "$odd" ]; then
		echo "shunt stderr ($(printf '%s\n' "$odd" | wc -l) unexpected lines, last 20):"
		printf '%s\n' "$odd" | tail -n 20 | sed 's/^/  /'
	fi
fi
for f in nginx/error.log haproxy.err backend.err; do
	if [ -s "$TMP/$f" ]; then
		echo "$f ($(wc -l < "$TMP/$f") lines, last 5):"
		tail -n 5 "$TMP/$f" | sed 's/^/  /'
	fi
done

# --- then the scenarios with their own setups, each after a clean slate -------
bench_cleanup
trap - EXIT
# TLS on both sides (BENCH_TLS=0 skips it).
if [ "${BENCH_TLS:-1}" != 0 ]; then
	echo
	bash "$BENCH_DIR/tls.sh" || exit 1
fi
# A peer dies under load (BENCH_FAILOVER=0 skips it).
if [ "${BENCH_FAILOVER:-1}" != 0 ]; then
	echo
	bash "$BENCH_DIR/failover.sh" || exit 1
fi
exit 0
