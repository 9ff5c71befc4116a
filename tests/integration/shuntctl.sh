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

# --- options of the commands ---------------------------------------------
run "$CTL" -h
for c in "status [POOL] [--pretty | --table]" "drain POOL ADDR" \
    "enable POOL ADDR" "disable POOL ADDR" "reset POOL ADDR" metrics \
    "events [-n N]"; do
	case $out in
	*"  $c"*) ok "-h lists \"$c\"" ;;
	*) not_ok "-h lists \"$c\"" ;;
	esac
done
run "$CTL" -S "$TEST_TMP/state" status --bogus
expect_eq "status with an unknown option exits 2" "$rc" 2
expect_eq "and says what it takes" "$out" \
    "usage: shuntctl status [POOL] [--pretty | --table]"
run "$CTL" -S "$TEST_TMP/state" status web api
expect_eq "status takes one POOL at most" "$rc" 2
run "$CTL" -S "$TEST_TMP/state" status --pretty --table
expect_eq "--pretty and --table exclude each other" "$rc" 2
run "$CTL" -S "$TEST_TMP/state" events -n 5 x
expect_eq "events takes nothing but -n N" "$rc" 2
run "$CTL" -S "$TEST_TMP/state" metrics x
expect_eq "metrics takes no argument" "$rc" 2
run "$CTL" -S "$TEST_TMP/state" status web --table
expect_eq "options may follow POOL (then the missing store is the error)" \
    "$rc" 1

# --- stores shuntctl cannot use ---------------------------------------------
mkdir -p "$TEST_TMP/garbage"
echo "not an LMDB file" > "$TEST_TMP/garbage/data.mdb"
run "$CTL" -S "$TEST_TMP/garbage" status
expect_eq "a data.mdb that is not LMDB exits 1" "$rc" 1
expect_eq "and names the store and why" "$out" \
    "shuntctl: cannot open the health store at $TEST_TMP/garbage/data.mdb: MDB_INVALID: File is not an LMDB file"
run "$CTL" -S "$TEST_TMP/garbage" drain web 127.0.0.1:9001
expect_eq "admin commands open it for writing, and say so" "$out" \
    "shuntctl: cannot open the health store at $TEST_TMP/garbage/data.mdb for writing: MDB_INVALID: File is not an LMDB file"
check "the bad file is left alone" grep -qx "not an LMDB file" \
    "$TEST_TMP/garbage/data.mdb"
if command -v mdb_load >/dev/null 2>&1; then
	# An LMDB environment shunt never published to.
	printf 'VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\nDATA=END\n' |
	    mdb_load "$TEST_TMP/state"
	for c in status metrics "drain web 127.0.0.1:9001"; do
		run "$CTL" -c "$TEST_TMP/shunt.json" $c
		expect_eq "$c on a store with no pools exits 1 and says so" \
		    "$rc:$out" \
		    "1:shuntctl: the health store at $TEST_TMP/state/data.mdb has no pools: shunt has not published to it (or is of another version)"
	done
	run "$CTL" -c "$TEST_TMP/shunt.json" events
	expect_eq "events on a store with none prints nothing, exits 0" \
	    "$rc:$out" "0:"
else
	ok "an unpublished store # SKIP no mdb_load (lmdb-utils)"
fi
done_testing
