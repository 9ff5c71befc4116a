#!/bin/bash
# make install and uninstall into a temporary tree, the paths filled into
# the init script, systemd unit and logrotate snippet, and the installed
# init script driving the installed shunt: start, status, reload (good and
# broken configs), log reopening, stop, and their LSB exit codes.
. "$(dirname "$0")/lib.sh"

: "${SHUNT_BUILDDIR:?SHUNT_BUILDDIR must name the build tree}"

root=$TEST_TMP/root
prefix=$root/usr
etc=$root/etc
var=$root/var
run=$root/run
unitdir=$root/lib/systemd/system
dirs="prefix=$prefix sysconfdir=$etc localstatedir=$var runstatedir=$run
systemdsystemunitdir=$unitdir"
initd=$etc/init.d/shunt
conf=$etc/shunt/test.json
logdir=$var/log/shunt
errlog=$logdir/error.log

# The masters the init script started (daemons, not our children), and
# their workers: stopped on exit whatever happened.
daemons=""
install_cleanup() {
	for d in $daemons; do
		kids=$(pgrep -P "$d" 2>/dev/null)
		kill -TERM "$d" 2>/dev/null || continue
		i=0
		while kill -0 "$d" 2>/dev/null && [ "$i" -lt 100 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -KILL "$d" $kids 2>/dev/null
	done
	test_cleanup
}
trap install_cleanup EXIT

# mk TARGET [VAR=VALUE...]: make in the build tree, output to make.log.
# Not the jobserver nor the variables of the `make check' around us.
mk() {
	echo "### make $*" >> "$TEST_TMP/make.log"
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
	    -u GNUMAKEFLAGS timeout 300 make -C "$SHUNT_BUILDDIR" "$@" \
	    >> "$TEST_TMP/make.log" 2>&1
}

show_make_log() {
	echo "# make.log:"
	tail -n 30 "$TEST_TMP/make.log" | sed 's/^/#   /'
}

# files_under DIR: the files (not directories) left in DIR.
files_under() {
	find "$1" ! -type d 2>/dev/null | sort
}

# The init script waits for a graceful stop: give it time.
RUN_TIMEOUT=60

# initd ACTION: the installed init script; $out and $rc.
initd() {
	run "$initd" "$@"
	echo "# init.d/shunt $*: $rc: $(echo "$out" | tr '\n' ' ')"
}

# backend: the X-Backend header of a request through shunt ("" if none).
backend() {
	curl -s -m 5 -o /dev/null -D - "http://127.0.0.1:$port/" |
	    tr -d '\r' | sed -n 's/^[Xx]-[Bb]ackend: //p'
}

backend_is() {
	[ "$(backend)" = "$1" ]
}

# write_conf WORKERS BACKEND_PORT [PIDFILE]
write_conf() {
	{
		echo "{"
		echo "  \"workers\": $1,"
		[ -n "$3" ] && echo "  \"pid_file\": \"$3\","
		cat <<JSON
  "state_dir": "$var/lib/shunt",
  "log": { "error": "$errlog", "access": "$logdir/access.log",
           "level": "info" },
  "limits": { "shutdown_timeout": "2s" },
  "listeners": [ { "listen": "127.0.0.1:$port", "pool": "web" } ],
  "pools": { "web": { "peers": [ { "address": "127.0.0.1:$2" } ] } }
}
JSON
	} > "$conf"
}

# pid_of FILE: $pid from FILE, remembered for the cleanup.
pid_of() {
	pid=$(cat "$1" 2>/dev/null)
	[ -n "$pid" ] && daemons="$daemons $pid"
}

nworkers_is() {
	[ "$(pgrep -P "$master" | wc -l)" -eq "$1" ]
}

# --- DESTDIR: staged install, paths of the final system --------------------

touch "$TEST_TMP/stamp"
dest=$TEST_TMP/dest
final=/opt/shunt-install-test
if mk install DESTDIR="$dest" prefix="$final" \
    systemdsystemunitdir="$final/lib/systemd/system"; then
	ok "make install DESTDIR=... prefix=... succeeds"
	check "DESTDIR: the init script is staged under DESTDIR" \
	    test -x "$dest$final/etc/init.d/shunt"
	check "DESTDIR: the unit is staged under DESTDIR" \
	    test -f "$dest$final/lib/systemd/system/shunt.service"
	check "DESTDIR: the init script names the final shunt" \
	    grep -qx "DAEMON=$final/sbin/shunt" "$dest$final/etc/init.d/shunt"
	check "DESTDIR: no staged path in the installed files" \
	    test -z "$(grep -rl "$dest" "$dest" 2>/dev/null)"
else
	not_ok "make install DESTDIR=... prefix=... succeeds"
	show_make_log
fi
mk uninstall DESTDIR="$dest" prefix="$final" \
    systemdsystemunitdir="$final/lib/systemd/system"
expect_eq "DESTDIR: make uninstall leaves no file" "$(files_under "$dest")" ""

# --- install into the temporary tree ---------------------------------------

# shellcheck disable=SC2086
if mk install $dirs; then
	ok "make install with prefix, sysconfdir, localstatedir, runstatedir"
else
	not_ok "make install with prefix, sysconfdir, localstatedir, runstatedir"
	show_make_log
fi
# (The test harness writes its logs there meanwhile.)
# (And git, when someone commits meanwhile.)
expect_eq "make install leaves the build tree alone" "$(cd "$SHUNT_BUILDDIR" &&
    find . -path ./.git -prune -o -newer "$TEST_TMP/stamp" -type f \
    ! -name '*.log' ! -name '*.trs' -print 2>/dev/null)" ""

for f in sbin/shunt sbin/shuntctl; do
	check "installed, executable: \$prefix/$f" test -x "$prefix/$f"
done
for f in share/man/man8/shunt.8 share/man/man8/shuntctl.8 \
    share/man/man5/shunt.json.5; do
	check "installed: \$prefix/$f" test -s "$prefix/$f"
done
check "installed: the sample configuration" test -s "$etc/shunt/shunt.json"
check "installed, executable: \$sysconfdir/init.d/shunt" test -x "$initd"
check "installed: \$sysconfdir/logrotate.d/shunt" \
    test -s "$etc/logrotate.d/shunt"
check "installed: \$systemdsystemunitdir/shunt.service" \
    test -s "$unitdir/shunt.service"
expect_eq "no @placeholder@ is left in them" \
    "$(grep -l '@[A-Za-z_][A-Za-z_]*@' "$initd" "$etc/logrotate.d/shunt" \
    "$unitdir/shunt.service" 2>&1)" ""

check "init script: shunt under \$sbindir" grep -qx "DAEMON=$prefix/sbin/shunt" "$initd"
check "init script: configuration under \$sysconfdir" \
    grep -qx "SHUNT_CONF=$etc/shunt/shunt.json" "$initd"
check "init script: reads \$sysconfdir/default/shunt" \
    grep -q "^\[ -r $etc/default/shunt \] && \. $etc/default/shunt\$" "$initd"
check "init script: fallback pid file under \$runstatedir" \
    grep -qx "DEFAULT_PIDFILE=$run/shunt.pid" "$initd"
check "init script: valid sh" sh -n "$initd"
check "init script: LSB header" grep -q '^# Provides: *shunt$' "$initd"
check "unit: ExecStart runs \$sbindir/shunt in the foreground" \
    grep -qx "ExecStart=$prefix/sbin/shunt -f -c \${SHUNT_CONF} \$SHUNT_OPTS" \
    "$unitdir/shunt.service"
check "unit: reads \$sysconfdir/default/shunt" \
    grep -qx "EnvironmentFile=-$etc/default/shunt" "$unitdir/shunt.service"
check "logrotate: rotates \$localstatedir/log/shunt/*.log" \
    grep -qx "$var/log/shunt/\*\.log {" "$etc/logrotate.d/shunt"

if command -v systemd-analyze >/dev/null 2>&1; then
	# It checks Documentation= with man(1): point it at the installed pages.
	if command -v man >/dev/null 2>&1; then
		run env MANPATH="$prefix/share/man" systemd-analyze verify \
		    "$unitdir/shunt.service"
	else
		run systemd-analyze verify --man=no "$unitdir/shunt.service"
	fi
	expect_eq "systemd-analyze verify accepts the unit" "$rc: $out" "0: "
else
	skip "systemd-analyze verify accepts the unit" "no systemd-analyze"
fi

# --- the init script drives the installed shunt ----------------------------

start_backend b1 && b1=$BACKEND_PORT
start_backend b2 && b2=$BACKEND_PORT
port=$(free_port)
mkdir -p "$etc/default" "$logdir"
cat > "$etc/default/shunt" <<EOF
SHUNT_CONF=$conf
SHUNT_STOP_TIMEOUT=10
EOF
write_conf 1 "$b1"
pidfile=$run/shunt.pid

initd configtest
expect_eq "configtest exits 0 on a good config" "$rc" 0
expect_eq "configtest prints shunt -t's verdict" "$out" "$conf: ok"
initd status
expect_eq "status before start: 3 (not running)" "$rc" 3

initd start
expect_eq "start exits 0" "$rc" 0
pid_of "$pidfile"
master=$pid
check "with no pid_file in the config, the pid file is \$runstatedir/shunt.pid" \
    alive "$master"
expect_eq "requests go through the started shunt" "$(backend)" b1
initd status
expect_eq "status while running: 0" "$rc" 0
case $out in
*"$master"*) ok "status names the pid" ;;
*) not_ok "status names the pid" ;;
esac

initd start
expect_eq "start while running exits 0" "$rc" 0
case $out in
*"already running"*) ok "start while running says so" ;;
*) not_ok "start while running says so" ;;
esac
expect_eq "start while running leaves the master as it was" \
    "$(cat "$pidfile" 2>/dev/null)" "$master"

# reload: another peer and worker count; the same master serves it.
write_conf 2 "$b2"
initd reload
expect_eq "reload exits 0" "$rc" 0
check "after reload, requests go to the new config's peer" \
    wait_until 100 backend_is b2
expect_eq "reload keeps the master" "$(cat "$pidfile" 2>/dev/null)" "$master"
check "reload starts the new config's 2 workers" \
    wait_until 100 nworkers_is 2

reloads=$(grep -c "reloading" "$errlog")
cp "$conf" "$TEST_TMP/good.json"
echo '{ "workers": 1, ' > "$conf"
initd reload
expect_eq "reload with a broken config exits 1" "$rc" 1
case $out in
*"$conf:"*) ok "reload with a broken config shows shunt -t's error" ;;
*) not_ok "reload with a broken config shows shunt -t's error" ;;
esac
expect_eq "a broken config is not sent to the master" \
    "$(grep -c "reloading" "$errlog")" "$reloads"
expect_eq "still serving the previous config" "$(backend)" b2
initd status
expect_eq "status with a broken config still finds the master: 0" "$rc" 0
initd configtest
expect_eq "configtest exits 1 on a broken config" "$rc" 1
initd restart
expect_eq "restart with a broken config exits 1" "$rc" 1
expect_eq "restart with a broken config keeps the master" \
    "$(cat "$pidfile" 2>/dev/null)" "$master"
cp "$TEST_TMP/good.json" "$conf"

# Log rotation: the snippet's postrotate script makes shunt reopen.
mv "$errlog" "$errlog.1"
sed -n '/^[[:space:]]*postrotate/,/^[[:space:]]*endscript/p' \
    "$etc/logrotate.d/shunt" | sed '1d;$d' > "$TEST_TMP/postrotate.sh"
run sh "$TEST_TMP/postrotate.sh"
expect_eq "the postrotate script exits 0" "$rc" 0
check "after postrotate, shunt writes a new error log" \
    wait_until 100 grep -qs "log files reopened" "$errlog"
if command -v logrotate >/dev/null 2>&1; then
	curl -s -m 5 -o /dev/null "http://127.0.0.1:$port/"
	run logrotate -f -s "$TEST_TMP/logrotate.state" "$etc/logrotate.d/shunt"
	expect_eq "logrotate -f on the snippet exits 0" "$rc: $out" "0: "
	check "logrotate moved the access log aside" test -s "$logdir/access.log.1"
	curl -s -m 5 -o /dev/null "http://127.0.0.1:$port/"
	check "after logrotate, shunt writes a new access log" \
	    wait_until 100 test -s "$logdir/access.log"
else
	skip "logrotate -f on the snippet" "no logrotate"
fi

workers=$(pgrep -P "$master")
initd stop
expect_eq "stop exits 0" "$rc" 0
check "stop: the master and its workers are gone" none_alive "$master" $workers
check "stop: the pid file is removed" test ! -e "$pidfile"
initd status
expect_eq "status after stop: 3" "$rc" 3
initd stop
expect_eq "stop when not running exits 0" "$rc" 0
initd reload
expect_eq "reload when not running: 7" "$rc" 7

# A pid file left behind by a crash.
sleep 0 &
dead=$!
wait "$dead"
echo "$dead" > "$pidfile"
initd status
expect_eq "status with a stale pid file: 1" "$rc" 1
initd stop
expect_eq "stop with a stale pid file exits 0" "$rc" 0
check "stop removes the stale pid file" test ! -e "$pidfile"

# A pid file naming a pid since reused by another program.
sleep 60 &
other=$!
test_pids="$test_pids $other"
echo "$other" > "$pidfile"
initd status
expect_eq "status when the pid file names another program: 1" "$rc" 1
initd stop
expect_eq "stop when the pid file names another program exits 0" "$rc" 0
check "stop signals no other program" alive "$other"
kill "$other"
echo "$dead" > "$pidfile"
initd start
expect_eq "start over a stale pid file exits 0" "$rc" 0
pid_of "$pidfile"
master=$pid
check "start over a stale pid file runs shunt" alive "$master"
initd restart
expect_eq "restart exits 0" "$rc" 0
pid_of "$pidfile"
new=$pid
check "restart: a new master serves" test -n "$new" -a "$new" != "$master"
check "restart: the old master is gone" none_alive "$master"
expect_eq "restart: requests go through" "$(backend)" b2
master=$new
initd stop
expect_eq "stop after restart exits 0" "$rc" 0
check "the master is gone" none_alive "$master"

# pid_file from the config: start, status and stop all use it.
cpid=$run/sub/custom.pid
write_conf 1 "$b1" "$cpid"
initd start
expect_eq "start with pid_file in the config exits 0" "$rc" 0
pid_of "$cpid"
master=$pid
check "the config's pid_file is used (its directory created)" alive "$master"
check "and not \$runstatedir/shunt.pid" test ! -e "$pidfile"
initd status
expect_eq "status finds it through the config: 0" "$rc" 0
initd stop
expect_eq "stop exits 0" "$rc" 0
check "stop through the config's pid_file" none_alive "$master"

echo '{' > "$conf"
initd start
expect_eq "start with a broken config exits 1" "$rc" 1
initd status
expect_eq "status with a broken config and no pid file: 4 (unknown)" "$rc" 4
rm -f "$conf"
initd start
expect_eq "start with no config: 6 (not configured)" "$rc" 6

run "$initd"
expect_eq "no action: 2" "$rc" 2
run "$initd" frobnicate
expect_eq "an unknown action: 2" "$rc" 2

# --- make uninstall ---------------------------------------------------------

# What the tests made, not make install: the configs, logs, state, pid dir.
rm -rf "$etc/default" "$conf" "$var/log" "$var/lib" "$run"
# shellcheck disable=SC2086
if mk uninstall $dirs; then
	ok "make uninstall succeeds"
else
	not_ok "make uninstall succeeds"
	show_make_log
fi
expect_eq "make uninstall leaves no file" "$(files_under "$root")" ""

if [ "$tap_failed" -ne 0 ]; then
	for f in "$logdir"/error.log*; do
		[ -f "$f" ] || continue
		echo "# --- $f"
		tail -n 30 "$f" | sed 's/^/#   /'
	done
fi
done_testing
