#!/bin/bash
# make demo: shunt in the foreground in front of three local demo backends
# (two primaries and a backup).  Ctrl-C stops everything it started.
#
# DEMO_PORT   the port shunt listens on (default 8080)
# DEMO_CHECK  set to 1: serve one request through shunt, print it, exit
set -u
: "${SHUNT_BINARY:?}" "${SHUNT_BACKEND:?}"
port=${DEMO_PORT:-8080}
dir=$(mktemp -d "${TMPDIR:-/tmp}/shunt-demo.XXXXXX")
pids=""

cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
	echo "make demo: 127.0.0.1:$port is already in use; try DEMO_PORT=8081 make demo" >&2
	exit 1
fi

for name in alpha beta backup; do
	"$SHUNT_BACKEND" -l 127.0.0.1:0 -p "$dir/$name.port" -n "$name" &
	pids="$pids $!"
	eval "pid_$name=$!"
done
for name in alpha beta backup; do
	for i in $(seq 100); do [ -s "$dir/$name.port" ] && break; sleep 0.05; done
	eval "port_$name=\$(cat \"$dir/$name.port\")"
done

cat > "$dir/shunt.json" <<JSON
{
  "workers": 2,
  "pid_file": "shunt.pid",
  "state_dir": "state",
  "log": { "access": "access.log", "level": "info" },
  "listeners": [ { "listen": "127.0.0.1:$port", "pool": "web" } ],
  "pools": {
    "web": {
      "connect_timeout": "100ms",
      "retry": { "tries": 2 },
      "peers": [
        { "address": "127.0.0.1:$port_alpha" },
        { "address": "127.0.0.1:$port_beta" },
        { "address": "127.0.0.1:$port_backup", "backup": true }
      ]
    }
  }
}
JSON

"$SHUNT_BINARY" -f -c "$dir/shunt.json" &
shunt_pid=$!
pids="$pids $shunt_pid"
for i in $(seq 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
	sleep 0.05
done

if [ "${DEMO_CHECK:-0}" = 1 ]; then
	curl -s -i "http://127.0.0.1:$port/?size=20"
	exit $?
fi

cat <<TXT

shunt demo: http://127.0.0.1:$port/  (config: $dir/shunt.json)
  peers: alpha 127.0.0.1:$port_alpha, beta 127.0.0.1:$port_beta, backup 127.0.0.1:$port_backup (backup)

Try, in another terminal:
  curl -i http://127.0.0.1:$port/                  # X-Backend says which peer answered
  for i in 1 2 3 4; do curl -s -o /dev/null -w '%header{x-backend}\n' http://127.0.0.1:$port/; done
  curl -s http://127.0.0.1:$port/headers           # what the peer received (X-Forwarded-For, ...)
  kill $pid_alpha                                  # stop alpha: requests keep succeeding on beta
  kill $pid_beta                                   # and then the backup takes over
  tail -f $dir/access.log                          # every try: peer(outcome,time)

shuntctl status (peer health as JSON) arrives with the health store.
Ctrl-C stops shunt and the demo backends.

TXT
wait "$shunt_pid"
