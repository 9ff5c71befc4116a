#!/bin/bash
# Corpus: every hostile request in tests/corpus/requests.txt and every
# hostile response in tests/corpus/responses.txt, played through one
# worker against a strict peer (corpus.py), with its expected status, the
# requests that reached the peer, no desync on the next request (same and
# fresh client connection, pooled upstream) and the worker alive after.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null 2>&1 || {
	skip "hostile corpus" "python3 is not installed"
	done_testing
	exit
}

REQ=$(free_port)
RESP=$(free_port)
python3 "$SHUNT_SRCDIR/tests/integration/corpus.py" \
    "$SHUNT_SRCDIR/tests/corpus" "$TEST_TMP/peer.port" "$TEST_TMP/shunt.info" \
    > "$TEST_TMP/corpus.tap" 2>&1 &
CORPUS_PID=$!
test_pids="$test_pids $CORPUS_PID"
wait_for "$TEST_TMP/peer.port" || { not_ok "the corpus peer started"; done_testing; exit; }
PEER=$(cat "$TEST_TMP/peer.port")

# One worker, so a request after a case takes the upstream connection the
# case left in the pool, if it left one.  The response pool makes one try
# and never ejects its peer: each case stands alone.
cat > "$TEST_TMP/shunt.json" <<JSON
{
  "workers": 1,
  "state_dir": "$TEST_TMP/state",
  "log": { "error": "$TEST_TMP/error.log", "level": "info" },
  "limits": { "max_body_size": "64k", "header_timeout": "3s" },
  "listeners": [
    { "listen": "127.0.0.1:$REQ", "pool": "req" },
    { "listen": "127.0.0.1:$RESP", "pool": "resp" }
  ],
  "pools": {
    "req": { "health": { "max_fails": 1000 },
             "peers": [ { "address": "127.0.0.1:$PEER" } ] },
    "resp": { "read_timeout": "2s", "retry": { "tries": 1 },
              "health": { "max_fails": 1000 },
              "peers": [ { "address": "127.0.0.1:$PEER" } ] }
  }
}
JSON
start_shunt "$TEST_TMP/shunt.json" "$REQ" || { not_ok "shunt started"; done_testing; exit; }
echo "$REQ $RESP $SHUNT_PID" > "$TEST_TMP/shunt.info"

# The runner prints TAP numbered from 1: pass it through as ours.
timeout 300 tail -n +1 --pid="$CORPUS_PID" -f "$TEST_TMP/corpus.tap" 2>/dev/null |
    grep -v '^1\.\.' | while IFS= read -r line; do echo "$line"; done
wait "$CORPUS_PID"
corpus_rc=$?
n=$(grep -c '^\(not \)\?ok ' "$TEST_TMP/corpus.tap")
tap_n=$n
tap_failed=$(grep -c '^not ok ' "$TEST_TMP/corpus.tap")
[ "$corpus_rc" -eq 0 ] || [ "$tap_failed" -gt 0 ] || {
	not_ok "the corpus runner finished (exit $corpus_rc)"
	grep -v '^\(not \)\?ok ' "$TEST_TMP/corpus.tap" | tail -20 | sed 's/^/#   /'
}
alive "$SHUNT_PID"
check "the master is alive after the corpus" alive "$SHUNT_PID"
done_testing
