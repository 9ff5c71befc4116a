# lib.sh: what the benchmark scripts share.  Source it after setting
# BENCH_NAME (for messages and the temp dir); it makes $TMP, stops every pid
# in $BG_PIDS on exit (and those in $EXTRA_PIDS, for processes whose
# parent had to be killed), and keeps $TMP when something broke or
# BENCH_KEEP=1.

PATH=$PATH:/usr/sbin
BROKE=0
BG_PIDS=""
EXTRA_PIDS=""
TMP=$(mktemp -d "${TMPDIR:-/tmp}/shunt-$BENCH_NAME.XXXXXX")

die() {
	echo "$BENCH_NAME: $*" >&2
	BROKE=1
	exit 1
}

# stop_pids PID...: SIGCONT (for frozen ones), TERM, wait (bounded), KILL.
stop_pids() {
	local pid i
	for pid in "$@"; do
		kill -CONT "$pid" 2>/dev/null
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "$@"; do
		i=0
		while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 100 ]; do
			sleep 0.05
			i=$((i + 1))
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
}

bench_cleanup() {
	# shellcheck disable=SC2086
	stop_pids $BG_PIDS $EXTRA_PIDS
	if [ "$BROKE" -ne 0 ] || [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "$BENCH_NAME: kept $TMP"
	else
		rm -rf "$TMP"
	fi
}
trap bench_cleanup EXIT
trap 'BROKE=1; exit 1' INT TERM

# free_port VAR: set VAR to a TCP port nothing listens on (below the
# ephemeral range, and not one handed out before).
USED_PORTS=""
free_port() {
	local fp
	while :; do
		fp=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
		fp=$((fp % 20000 + 10000))
		case " $USED_PORTS " in *" $fp "*) continue ;; esac
		if ! grep -qi ":$(printf '%04X' "$fp") " /proc/net/tcp \
		    /proc/net/tcp6 2>/dev/null; then
			USED_PORTS="$USED_PORTS $fp"
			eval "$1=$fp"
			return
		fi
	done
}

# wait_port PORT: until something accepts on 127.0.0.1:PORT (10 s).
wait_port() {
	local i=0
	while ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -gt 200 ] && return 1
		sleep 0.05
	done
}

children_of() {
	cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | grep . | sort -n
}

# cpu_ticks PID...: utime + stime summed, in clock ticks.
cpu_ticks() {
	local t=0 p v
	for p in "$@"; do
		v=$(sed 's/^.*) //' /proc/"$p"/stat 2>/dev/null | awk '{print $12 + $13}')
		t=$((t + ${v:-0}))
	done
	echo "$t"
}

# to_us DURATION: wrk's "1.23ms" in microseconds.
to_us() {
	awk -v v="$1" 'BEGIN { n = v + 0; m = 1
	    if (v ~ /us$/) m = 1; else if (v ~ /ms$/) m = 1000
	    else if (v ~ /m$/) m = 60000000; else if (v ~ /s$/) m = 1000000
	    printf "%.0f", n * m }'
}

median() {
	sort -g | awk '{a[NR] = $1} END {
	    if (NR == 0) print "nan"
	    else if (NR % 2) print a[(NR + 1) / 2]
	    else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }

# paired_ratio FILE SCEN COLUMN: shunt / nginx of COLUMN for SCEN, round by
# round, from a results file whose columns start "scenario proxy round".
# Each round runs the two back to back, so the machine's drift over the
# bench (other tenants, frequency) cancels out of a round's ratio where it
# does not cancel out of a ratio of two medians taken over different
# rounds.  Prints "MEDIAN MIN MAX" of the per-round ratios, or "n/a n/a n/a".
paired_ratio() {
	awk -F'\t' -v s="$2" -v c="$3" '
	    $1 == s && $2 == "shunt" { a[$3] = $c }
	    $1 == s && $2 == "nginx" { b[$3] = $c }
	    END { for (r in a) if ((r in b) && b[r] + 0 != 0) print a[r] / b[r] }' "$1" |
	    sort -g | awk '{ v[NR] = $1 } END {
	    if (NR == 0) { print "n/a n/a n/a"; exit }
	    m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
	    printf "%.2f %.2f %.2f\n", m, v[1], v[NR] }'
}

# ratio_text SCEN COLUMN: the paired ratio of $TMP/results.tsv as
# "1.12x (1.05-1.20)".
ratio_text() {
	paired_ratio "$TMP/results.tsv" "$1" "$2" |
	    awk '{ if ($1 == "n/a") print "  n/a"; else printf "%5sx (%s-%s)", $1, $2, $3 }'
}

# nginx_http_common DIR: the lines of nginx's http block every bench config
# shares: temp paths under DIR/tmp, and client keep-alive that never ends
# a connection for its request count (shunt never does).
nginx_http_common() {
	cat <<CONF
    client_body_temp_path $1/tmp/body;
    proxy_temp_path $1/tmp/proxy;
    fastcgi_temp_path $1/tmp/fastcgi;
    uwsgi_temp_path $1/tmp/uwsgi;
    scgi_temp_path $1/tmp/scgi;
    keepalive_timeout 75s;
    keepalive_requests 1000000;
CONF
}

# nginx_proxy_headers: upstream keep-alive and the request headers shunt
# sends, for a location block.
nginx_proxy_headers() {
	cat <<'CONF'
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
CONF
}

# wrk_result FILE LABEL: wrk's report in FILE as WRK_REQS, WRK_RPS, WRK_P50
# and WRK_P99 (µs), and WRK_ERRS (socket errors plus non-2xx/3xx answers,
# also noted in $TMP/notes under LABEL).  Dies when wrk gave no result.
wrk_result() {
	local sockerr non2xx
	WRK_REQS=$(awk '/requests in/ {print $1}' "$1")
	WRK_RPS=$(awk '/^Requests\/sec:/ {print $2}' "$1")
	[ -n "$WRK_REQS" ] && [ -n "$WRK_RPS" ] && [ "$WRK_REQS" -gt 0 ] || {
		cat "$1" >&2
		die "wrk gave no result for $2"
	}
	WRK_P50=$(to_us "$(awk '$1 == "50%" {print $2}' "$1")")
	WRK_P99=$(to_us "$(awk '$1 == "99%" {print $2}' "$1")")
	sockerr=$(awk '/Socket errors:/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$1")
	non2xx=$(awk '/Non-2xx/ {print $NF}' "$1")
	WRK_ERRS=$((${sockerr:-0} + ${non2xx:-0}))
	[ "$WRK_ERRS" -gt 0 ] && echo "$2: $(grep -E 'Socket errors|Non-2xx' "$1" | tr -s ' ' | tr '\n' ';')" >> "$TMP/notes"
	return 0
}

# us_per_req TICKS REQUESTS: CPU clock ticks as µs per request.
us_per_req() {
	awk -v d="$1" -v n="$2" -v hz="$(getconf CLK_TCK)" \
	    'BEGIN { printf "%.2f", d * 1000000 / hz / n }'
}
