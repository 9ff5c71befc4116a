#!/bin/bash
# shunt failover benchmark: a peer dies under load, behind shunt and behind
# nginx (without and with a shared "zone"), on loopback.  make bench runs it
# at the end (BENCH_FAILOVER=0 skips it).  See tests/bench/README.md.
#
#   SHUNT_BINARY=./shunt SHUNT_BACKEND=tests/backend/shunt-testbackend \
#       bash tests/bench/failover.sh
#
# Environment overrides: BENCH_FAILOVER_SECONDS (load per run, 8),
# BENCH_FAILOVER_AT (second of the run at which the peer dies, 3),
# BENCH_FAILOVER_CONNS (wrk -c, 20), BENCH_WRK_THREADS (2),
# BENCH_FAILOVER_SCENARIOS ("killed blackholed frozen"),
# BENCH_PROXIES (shunt and nginx are used; nginx runs as "nginx" and
# "nginx-zone"), BENCH_KEEP=1 (keep the temp dir), BENCH_OUT=FILE (append
# the report to FILE).
#
# It reports; it never fails on a missed target.  Exit 1 only when something
# broke (a process did not start, wrk produced no result).

set -u

: "${SHUNT_BINARY:?SHUNT_BINARY must name the shunt binary}"
: "${SHUNT_BACKEND:?SHUNT_BACKEND must name the test backend}"
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
BENCH_NAME=bench-failover
. "$BENCH_DIR/lib.sh"

DUR=${BENCH_FAILOVER_SECONDS:-8}
FAIL_AT=${BENCH_FAILOVER_AT:-3}
WRK_T=${BENCH_WRK_THREADS:-2}
WRK_C=${BENCH_FAILOVER_CONNS:-20}
SCENARIOS=${BENCH_FAILOVER_SCENARIOS:-killed blackholed frozen}
WORKERS=2
# The proxies' settings (both sides get the same).
CONNECT_MS=100
READ_S=1
TRIES=2
MAX_FAILS=1
FAIL_TIMEOUT_S=10

for tool in wrk python3; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done
[ -x "$SHUNT_BINARY" ] || die "no shunt binary at $SHUNT_BINARY"
[ -x "$SHUNT_BACKEND" ] || die "no test backend at $SHUNT_BACKEND"
# Past fail_timeout the proxies probe the dead peer again: the window stays
# inside it so that every connect timeout counted is one the failover paid.
[ "$DUR" -lt "$FAIL_TIMEOUT_S" ] ||
    die "BENCH_FAILOVER_SECONDS must be below fail_timeout ($FAIL_TIMEOUT_S s)"
[ "$FAIL_AT" -ge 2 ] && [ "$FAIL_AT" -le $((DUR - 2)) ] ||
    die "BENCH_FAILOVER_AT must be between 2 and BENCH_FAILOVER_SECONDS - 2"

PROXIES=""
for p in ${BENCH_PROXIES:-shunt nginx}; do
	case $p in
	shunt) PROXIES="$PROXIES shunt" ;;
	nginx)
		if command -v nginx >/dev/null 2>&1; then
			PROXIES="$PROXIES nginx nginx-zone"
		else
			echo "bench failover: nginx is not installed; skipping it"
		fi ;;
	haproxy) ;; # not part of this scenario
	*) die "unknown proxy $p" ;;
	esac
done
PROXIES=${PROXIES# }
[ -n "$PROXIES" ] || { echo "bench failover: neither shunt nor nginx to run; skipping"; exit 0; }
for s in $SCENARIOS; do
	case $s in killed | blackholed | frozen) ;; *) die "unknown scenario $s" ;; esac
done


now() { date +%s.%N; }
sleep_until() { # sleep_until EPOCH
	local d
	d=$(awk -v t="$1" -v n="$(now)" 'BEGIN { d = t - n + 0.005; printf "%.3f", (d > 0 ? d : 0) }')
	sleep "$d"
}

wait_file() {
	local i=0
	while [ ! -s "$1" ]; do
		i=$((i + 1))
		[ "$i" -gt 200 ] && return 1
		sleep 0.05
	done
}

# start_backend NAME: sets BE_PID and BE_PORT.
start_backend() {
	rm -f "$RUN/$1.port"
	"$SHUNT_BACKEND" -l 127.0.0.1:0 -p "$RUN/$1.port" -n "$1" -T 1 \
	    2>"$RUN/$1.err" &
	BE_PID=$!
	BG_PIDS="$BG_PIDS $BE_PID"
	wait_file "$RUN/$1.port" || die "backend $1 did not start"
	BE_PORT=$(cat "$RUN/$1.port")
}

# start_blackhole: sets BE_PID and BE_PORT to a peer that never completes a
# handshake (tests/integration/blackhole.py).
start_blackhole() {
	rm -f "$RUN/blackhole.port"
	python3 "$BENCH_DIR/../integration/blackhole.py" "$RUN/blackhole.port" 60 \
	    2>"$RUN/blackhole.err" &
	BE_PID=$!
	BG_PIDS="$BG_PIDS $BE_PID"
	wait_file "$RUN/blackhole.port" || die "the blackhole did not start"
	BE_PORT=$(cat "$RUN/blackhole.port")
	timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$BE_PORT" 2>/dev/null
	[ $? -eq 124 ] || die "the blackhole on $BE_PORT accepts connections"
}

# start_shunt: sets PX_PID and PX_PORT; access log $RUN/access.log.
start_shunt() {
	free_port PX_PORT
	mkdir -p "$RUN/shunt-state"
	cat > "$RUN/shunt.json" <<JSON
{
  "workers": $WORKERS,
  "state_dir": "$RUN/shunt-state",
  "log": { "level": "info", "access": "$RUN/access.log" },
  "limits": { "shutdown_timeout": "2s" },
  "listeners": [ { "listen": "127.0.0.1:$PX_PORT", "pool": "bench" } ],
  "pools": {
    "bench": {
      "connect_timeout": "${CONNECT_MS}ms",
      "read_timeout": "${READ_S}s",
      "retry": { "tries": $TRIES },
      "health": { "max_fails": $MAX_FAILS, "fail_timeout": "${FAIL_TIMEOUT_S}s" },
      "keepalive": { "max_idle": 32 },
      "peers": [ { "address": "127.0.0.1:$PORT_A" },
                 { "address": "127.0.0.1:$PORT_B" } ]
    }
  }
}
JSON
	"$SHUNT_BINARY" -f -c "$RUN/shunt.json" 2>"$RUN/error.log" &
	PX_PID=$!
	BG_PIDS="$BG_PIDS $PX_PID"
}

# start_nginx [zone]: sets PX_PID and PX_PORT; access log $RUN/access.log.
start_nginx() {
	local zone=""
	[ "${1:-}" = zone ] && zone="zone backend 64k;"
	free_port PX_PORT
	mkdir -p "$RUN/tmp"
	cat > "$RUN/nginx.conf" <<CONF
worker_processes $WORKERS;
pid $RUN/nginx.pid;
error_log $RUN/error.log warn;
events { worker_connections 4096; }
http {
    log_format failover '\$msec \$status|\$upstream_addr|\$upstream_status|\$upstream_response_time|\$request_time';
    access_log $RUN/access.log failover;
$(nginx_http_common "$RUN")
    upstream backend {
        $zone
        server 127.0.0.1:$PORT_A max_fails=$MAX_FAILS fail_timeout=${FAIL_TIMEOUT_S}s;
        server 127.0.0.1:$PORT_B max_fails=$MAX_FAILS fail_timeout=${FAIL_TIMEOUT_S}s;
        keepalive 32;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$PX_PORT reuseport backlog=4096;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$http_host;
            proxy_connect_timeout ${CONNECT_MS}ms;
            proxy_read_timeout ${READ_S}s;
            proxy_next_upstream error timeout;
            proxy_next_upstream_tries $TRIES;
        }
    }
}
CONF
	nginx -p "$RUN/" -e "$RUN/error.log" -c "$RUN/nginx.conf" -g 'daemon off;' \
	    2>"$RUN/nginx.err" &
	PX_PID=$!
	BG_PIDS="$BG_PIDS $PX_PID"
}

# secs_utc FROM TO: "EPOCH<TAB>YYYY-MM-DDTHH:MM:SSZ" for every second.
secs_utc() {
	local t
	for t in $(seq "$1" "$2"); do
		printf '%s\t%s\n' "$t" "$(date -u -d "@$t" +%Y-%m-%dT%H:%M:%SZ)"
	done
}

# parse_log PROXY: normalise the access log to "EPOCH_SECOND STATUS TRIES
# SECONDS" lines, TRIES being "addr=outcome,addr=outcome" with outcomes as
# shunt names them, or for nginx "addr=STATUS/SECONDS", and SECONDS the
# request's whole time in the proxy.
parse_log() {
	if [ "$1" = shunt ]; then
		awk 'NR == FNR { sec["[" $2 "]"] = $1; next }
		    { t = sec[$2]; if (t == "") next
		      tries = ""
		      for (i = 11; i <= NF; i++) {
			  f = $i; sub(/\(/, "=", f); sub(/,[0-9]+ms\)$/, "", f)
			  tries = tries (tries == "" ? "" : ",") f }
		      print t, $7, (tries == "" ? "-" : tries), $9 }' \
		    <(secs_utc $((S - 5)) $((S + DUR + 30))) "$RUN/access.log"
	else
		awk -F'|' '{
		      split($1, a, " "); t = int(a[1]); st = a[2]
		      n = split($2, ad, /, | : /); split($3, us, /, | : /)
		      split($4, rt, /, | : /)
		      tries = ""
		      for (i = 1; i <= n; i++)
			  tries = tries (i > 1 ? "," : "") ad[i] "=" us[i] "/" rt[i]
		      print t, st, (tries == "" ? "-" : tries), $5 + 0 }' "$RUN/access.log"
	fi
}

# run_one PROXY SCENARIO: one run on fresh processes; appends a line to
# results.tsv and the per-second series to series.tsv.
run_one() {
	local p=$1 s=$2 out reqs rps sockerr non2xx errs maxlat fail_t url
	RUN=$TMP/$s.$p
	mkdir -p "$RUN"
	start_backend a
	PID_A=$BE_PID PORT_A=$BE_PORT
	if [ "$s" = blackholed ]; then start_blackhole; else start_backend b; fi
	PID_B=$BE_PID PORT_B=$BE_PORT
	case $p in
	shunt) start_shunt ;;
	nginx) start_nginx ;;
	nginx-zone) start_nginx zone ;;
	esac
	wait_port "$PX_PORT" || {
		cat "$RUN/error.log" "$RUN/nginx.err" 2>/dev/null >&2
		die "$p did not start listening on $PX_PORT"
	}
	local i=0
	while [ "$(children_of "$PX_PID" | wc -l)" -lt "$WORKERS" ]; do
		i=$((i + 1))
		[ "$i" -gt 200 ] && die "$p did not start $WORKERS workers"
		sleep 0.05
	done
	EXTRA_PIDS=$(children_of "$PX_PID" | tr '\n' ' ')
	url="http://127.0.0.1:$PX_PORT/?size=64"
	# Warm up, so both peers have pooled connections in every worker when
	# the peer dies.  A blackhole cannot be warmed up: it is dead from the
	# start, and warming up would only mark it down before the window.
	[ "$s" = blackholed ] ||
	    wrk -t"$WRK_T" -c"$WRK_C" -d1s "$url" > "$RUN/warmup.txt" 2>&1
	# Start on a whole second, so 1 s buckets line up with the failure.
	S=$(($(date +%s) + 2))
	sleep_until "$S"
	out=$RUN/wrk.txt
	timeout $((DUR + 30)) wrk -t"$WRK_T" -c"$WRK_C" -d"${DUR}s" --timeout 3s \
	    "$url" > "$out" 2>&1 &
	local wrk_pid=$!
	BG_PIDS="$BG_PIDS $wrk_pid"
	if [ "$s" = blackholed ]; then
		fail_t=$S
	else
		fail_t=$((S + FAIL_AT))
		sleep_until "$fail_t"
		case $s in
		killed)
			kill -KILL "$PID_B"
			wait "$PID_B" 2>/dev/null ;;
		frozen)
			kill -STOP "$PID_B" ;;
		esac
	fi
	wait "$wrk_pid"
	[ "$s" = frozen ] && kill -CONT "$PID_B"
	sleep 0.5
	# Stop the proxy (pooled connections, logs flushed), then the backends.
	stop_pids "$PX_PID"
	for pid in $EXTRA_PIDS; do
		kill -0 "$pid" 2>/dev/null && {
			echo "$p $s: worker $pid outlived its master; killed" >> "$TMP/notes"
			kill -KILL "$pid"
		}
	done
	stop_pids "$PID_A" "$PID_B"
	EXTRA_PIDS=""

	reqs=$(awk '/requests in/ {print $1}' "$out")
	rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
	[ -n "$reqs" ] && [ -n "$rps" ] && [ "$reqs" -gt 0 ] || {
		cat "$out" >&2
		die "wrk gave no result for $p $s"
	}
	sockerr=$(awk '/Socket errors:/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$out")
	non2xx=$(awk '/Non-2xx/ {print $NF}' "$out")
	errs=$((${sockerr:-0} + ${non2xx:-0}))
	# wrk's slowest request, in ms.
	maxlat=$(awk '$1 == "Latency" { v = $4; n = v + 0
	    if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n *= 1
	    else if (v ~ /m$/) n *= 60000; else if (v ~ /s$/) n *= 1000
	    printf "%.0f", n }' "$out")
	[ "$errs" -gt 0 ] && echo "$p $s: wrk: $(grep -E 'Socket errors|Non-2xx' "$out" | tr -s ' ' | tr '\n' ';')" >> "$TMP/notes"

	parse_log "$p" > "$RUN/norm.txt"
	# Per request: did it pay a connect timeout, did it move on after the
	# suspect threshold (shunt), did it take a connect timeout or longer
	# whatever the cause?  Per try: one to the dead peer that did not
	# succeed.  Per second: 2xx completions.
	awk -v p="$p" -v s="$s" -v b="127.0.0.1:$PORT_B" -v S="$S" -v D="$DUR" \
	    -v ctos="$CONNECT_MS" \
	    -v F="$fail_t" -v errs="$errs" -v rps="$rps" -v rt="$READ_S" -v ml="${maxlat:-0}" \
	    -v res="$TMP/results.tsv" -v ser="$TMP/series.tsv" -v hist="$TMP/hist.tsv" '
	    $1 < S { next }
	    {
		n = split($3, tr, ",")
		ct = 0; mo = 0
		for (i = 1; i <= n; i++) {
			k = index(tr[i], "="); addr = substr(tr[i], 1, k - 1)
			o = substr(tr[i], k + 1)
			if (p == "shunt") {
				if (o == "connect_timeout") ct = 1
				if (o == "connect_slow") mo = 1
				bad = (o != "ok" && o != "client_abort")
				name = o
			} else {
				split(o, x, "/")
				# nginx: 504 after about the connect timeout, not the read timeout.
				if (x[1] == "504" && x[2] + 0 < rt / 2) ct = 1
				bad = (x[1] ~ /^5/ || (x[1] == "-" && $2 != 499))
				name = (x[1] == "504" ? (x[2] + 0 < rt / 2 ? "504-connect" : "504-read") : x[1])
			}
			if (addr == b && bad) { dead++; h[name]++ }
		}
		cts += ct; mos += mo
		if ($4 * 1000 >= ctos) slow++
		if ($2 ~ /^2/ && $1 < S + D) per[$1 - S]++
	    }
	    END {
		nb = 0; na = 0; mn = -1; at = -1
		for (t = 0; t < D; t++) {
			v = per[t] + 0; line = line (t == F - S && F > S ? " |" : "") " " v
			if (t < F - S || F == S) bef[++nb] = v
			if (t >= F - S && (mn < 0 || v < mn)) { mn = v; at = t - (F - S) }
		}
		# median of the buckets before the failure (blackholed: of all)
		for (i = 1; i <= nb; i++) for (j = i + 1; j <= nb; j++)
			if (bef[j] < bef[i]) { sw = bef[i]; bef[i] = bef[j]; bef[j] = sw }
		med = nb % 2 ? bef[(nb + 1) / 2] : (bef[nb / 2] + bef[nb / 2 + 1]) / 2
		printf "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%.0f\t%d\t%d\t%s\t%s\n", s, p,
		    errs, cts, mos, slow, dead, med, mn, at, rps, ml >> res
		printf "%s\t%s\t%s\n", s, p, line >> ser
		hl = ""
		for (k in h) hl = hl " " k "=" h[k]
		printf "%s\t%s\t%s\n", s, p, (hl == "" ? " none" : hl) >> hist
	    }' "$RUN/norm.txt"
	# Anything odd on the proxy's side.
	if [ "$p" = shunt ]; then
		grep -c -E 'up -> down' "$RUN/error.log" | sed "s/^/$s\tshunt\t/" >> "$TMP/transitions.tsv"
		grep -v -E ' (worker [0-9]+ started|shunt .* started, )| peer [^ ]+ (up -> (down|suspect)|suspect -> up) | upstream bench/[^ ]+: | graceful stop: | stopping: finishing | exited with status 0$| exiting$' \
		    "$RUN/error.log" | sed "s/^/shunt $s: /" | head -n 10 >> "$TMP/odd"
		w2=$(grep -c -E 'worker [0-9]+ started' "$RUN/error.log")
		[ "$w2" -gt "$WORKERS" ] && echo "shunt $s: $w2 worker starts (a crash and respawn?)" >> "$TMP/notes"
	fi
	for f in a.err b.err blackhole.err nginx.err; do
		[ -s "$RUN/$f" ] && sed "s/^/$p $s $f: /" "$RUN/$f" | head -n 5 >> "$TMP/odd"
	done
	BG_PIDS=""
}

: > "$TMP/results.tsv"
: > "$TMP/series.tsv"
: > "$TMP/hist.tsv"
: > "$TMP/transitions.tsv"
: > "$TMP/notes"
: > "$TMP/odd"
echo "shunt failover bench: $(nproc) CPUs, 2 backends per proxy (one dies), $WORKERS workers" \
    "per proxy, wrk -t$WRK_T -c$WRK_C ${DUR}s, the peer dies at +${FAIL_AT}s;" \
    "connect ${CONNECT_MS}ms, read ${READ_S}s, tries $TRIES, max_fails $MAX_FAILS," \
    "fail_timeout ${FAIL_TIMEOUT_S}s; proxies: $PROXIES"
for s in $SCENARIOS; do
	for p in $PROXIES; do
		run_one "$p" "$s"
	done
done

# --- report --------------------------------------------------------------------

label() {
	case $1 in
	killed) echo "killed (refuses)" ;;
	blackholed) echo "blackholed (*)" ;;
	frozen) echo "frozen (SIGSTOP)" ;;
	esac
}

report() {
	printf '%-17s %-10s %6s %8s %8s %8s %10s %10s %15s %8s %8s\n' scenario proxy \
	    errors 'conn-t/o' 'moved on' ">=${CONNECT_MS}ms" 'dead tries' 'base req/s' \
	    'min req/s (@s)' 'req/s' 'max lat'
	while IFS=$'\t' read -r s p errs cts mos slow dead med mn at rps ml; do
		[ "$p" = shunt ] || mos=-
		printf '%-17s %-10s %6d %8d %8s %8d %10d %10.0f %10d (+%d) %8.0f %6dms\n' \
		    "$(label "$s")" "$p" "$errs" "$cts" "$mos" "$slow" "$dead" "$med" "$mn" \
		    "$at" "$rps" "$ml"
	done < "$TMP/results.tsv"
	echo "conn-t/o: requests that waited out a connect timeout; moved on: requests"
	echo "that left a connect unanswered after the suspect threshold for another peer"
	echo "(shunt); >=${CONNECT_MS}ms: requests that took a connect timeout or longer, any cause."
	case " $SCENARIOS " in *" blackholed "*)
		echo "(*) the blackholed peer is dead from the start of the window: base is the"
		echo "    median of all its seconds, and @s counts from the start." ;;
	esac
	echo
	echo "2xx completions per 1 s bucket (| = the peer dies):"
	while IFS=$'\t' read -r s p line; do
		printf '  %-11s %-10s %s\n' "$s" "$p" "$line"
	done < "$TMP/series.tsv"
	echo
	echo "failed tries to the dead peer, by outcome:"
	while IFS=$'\t' read -r s p h; do
		printf '  %-11s %-10s%s\n' "$s" "$p" "$h"
	done < "$TMP/hist.tsv"
	case " $PROXIES " in *" shunt "*) ;; *) return ;; esac
	echo
	echo "targets (issue \"failover under load\"), shunt:"
	local s e c worst=0 where=""
	for s in $SCENARIOS; do
		e=$(awk -F'\t' -v s="$s" '$1 == s && $2 == "shunt" {print $3}' "$TMP/results.tsv")
		printf '  %-64s %4s  %s\n' "$s: zero client-visible errors for GETs" \
		    "$e" "$([ "$e" -eq 0 ] && echo PASS || echo MISS)"
		c=$(awk -F'\t' -v s="$s" '$1 == s && $2 == "shunt" {print $4}' "$TMP/results.tsv")
		[ "$c" -ge "$worst" ] && { worst=$c; where=$s; }
	done
	printf '  %-64s %4s  %s\n' \
	    "requests paying a connect timeout <= max_fails ($MAX_FAILS) (worst: $where)" \
	    "$worst" "$([ "$worst" -le "$MAX_FAILS" ] && echo PASS || echo MISS)"
}

echo
report | tee "$TMP/report.txt"
[ -n "${BENCH_OUT:-}" ] && { echo; cat "$TMP/report.txt"; } >> "$BENCH_OUT"

echo
if [ -s "$TMP/transitions.tsv" ]; then
	echo "shunt 'up -> down' transitions logged per run (one expected):" \
	    "$(awk -F'\t' '{printf "%s%s=%s", (NR > 1 ? ", " : ""), $1, $3}' "$TMP/transitions.tsv")"
fi
if [ -s "$TMP/notes" ]; then
	echo "notes:"
	sed 's/^/  /' "$TMP/notes"
fi
if [ -s "$TMP/odd" ]; then
	echo "unexpected log lines (first ones per run):"
	sed 's/^/  /' "$TMP/odd"
fi
exit 0
