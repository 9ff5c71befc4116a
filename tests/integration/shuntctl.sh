#!/bin/bash
# shuntctl's command line: usage errors exit 2, what it cannot find exits 1
# and names what it looked for.
. "$(dirname "$0")/lib.sh"

CTL=${SHUNTCTL_BINARY:?}
run() {
	out=$("$@" 2>&1)
	rc=$?
}
mkdir -p "$TEST_TMP/state"
cat > "$TEST_TMP/shunt.json" <<JSON
{
  "state_dir": "state",
  "listeners": [ { "listen": "127.0.0.1:8080", "pool": "web" } ],
  "pools": { "web": { "peers": [ { "address": "127.0.0.1:9001" } ] } }
}
JSON

run "$CTL"
expect_eq "no command exits 2" "$rc" 2
run "$CTL" frobnicate
expect_eq "an unknown command exits 2" "$rc" 2
case $out in *'unknown command "frobnicate"'*) ok "the unknown command is named" ;; *) not_ok "the unknown command is named" ;; esac
run "$CTL" -c "$TEST_TMP/shunt.json" drain web
expect_eq "drain without ADDR exits 2" "$rc" 2
expect_eq "and says what it takes" "$out" "usage: shuntctl drain POOL ADDR"
run "$CTL" -c x -S y status
expect_eq "-c with -S exits 2" "$rc" 2
run "$CTL" -c "$TEST_TMP/shunt.json" events -n x
expect_eq "events -n takes a number" "$rc" 2
run "$CTL" -h
expect_eq "-h exits 0" "$rc" 0

run "$CTL" -c "$TEST_TMP/missing.json" status
expect_eq "a missing config exits 1" "$rc" 1
expect_eq "and names the file" "$out" "shuntctl: $TEST_TMP/missing.json: cannot open: No such file or directory"
run "$CTL" -c "$TEST_TMP/shunt.json" drain api 127.0.0.1:9001
expect_eq "an unknown pool exits 1" "$rc" 1
expect_eq "and is named" "$out" "shuntctl: no pool \"api\" in $TEST_TMP/shunt.json"
run "$CTL" -c "$TEST_TMP/shunt.json" disable web 127.0.0.1:9002
expect_eq "an unknown peer is named" "$out" "shuntctl: pool \"web\" in $TEST_TMP/shunt.json has no peer \"127.0.0.1:9002\""
run "$CTL" -c "$TEST_TMP/shunt.json" status
expect_eq "no store exits 1" "$rc" 1
expect_eq "and names where it looked (state_dir beside the config)" "$out" \
    "shuntctl: no health store at $TEST_TMP/state/data.mdb: No such file or directory"
run "$CTL" -S "$TEST_TMP/nowhere" metrics
expect_eq "-S names the store directory" "$out" \
    "shuntctl: no health store at $TEST_TMP/nowhere/data.mdb: No such file or directory"
done_testing
