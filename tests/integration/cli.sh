#!/bin/bash
# The shunt command line: -t on good and bad configs, -h, -V, bad flags.
. "$(dirname "$0")/lib.sh"

cfgs="$SHUNT_SRCDIR/tests/configs"

# run CMD...: sets $out (stdout+stderr) and $rc
run() {
	out=$("$@" 2>&1)
	rc=$?
}

run "$SHUNT_BINARY" -t -c "$cfgs/good/minimal.json"
expect_eq "-t on a good config exits 0" "$rc" 0
expect_eq "-t on a good config prints FILE: ok" "$out" \
    "$cfgs/good/minimal.json: ok"

run "$SHUNT_BINARY" -t -c "$SHUNT_SRCDIR/etc/shunt.json"
expect_eq "the sample etc/shunt.json passes -t" "$out" \
    "$SHUNT_SRCDIR/etc/shunt.json: ok"

run "$SHUNT_BINARY" -t -c "$cfgs/bad/syntax.json"
expect_eq "-t on invalid JSON exits 1" "$rc" 1
case $out in
"$cfgs/bad/syntax.json:3:"*"invalid JSON"*) ok "invalid JSON names file:line" ;;
*) not_ok "invalid JSON names file:line"; echo "#   got: $out" ;;
esac

run "$SHUNT_BINARY" -t -c "$cfgs/bad/unknown-key.json"
expect_eq "unknown key: one line with position and suggestion" "$out" \
    "$cfgs/bad/unknown-key.json:6:7: pools.web: unknown key \"conect_timeout\" in a pool (did you mean \"connect_timeout\"?)"
expect_eq "unknown key exits 1" "$rc" 1

run "$SHUNT_BINARY" -t -c "$cfgs/bad/undefined-pool.json"
expect_eq "undefined pool: position of the reference" "$out" \
    "$cfgs/bad/undefined-pool.json:4:53: listeners[0].routes[0].pool: undefined pool \"apii\" (did you mean \"api\"?)"

run "$SHUNT_BINARY" -t -c "$TEST_TMP/missing.json"
expect_eq "missing file exits 1" "$rc" 1
expect_eq "missing file is named" "$out" \
    "$TEST_TMP/missing.json: cannot open: No such file or directory"

# A config beside its own files: relative paths resolve next to it.  The
# certificate and key are real: shunt -t loads them (tls.sh tests bad ones).
. "$(dirname "$0")/certs.sh"
make_certs "$TEST_TMP/conf"
cat > "$TEST_TMP/conf/tls.json" <<JSON
{
  "listeners": [ { "listen": "127.0.0.1:8443", "pool": "web",
                   "tls": { "cert": "site.pem", "key": "site.key" } } ],
  "pools": { "web": { "peers": [ { "address": "127.0.0.1:9001" } ] } }
}
JSON
run "$SHUNT_BINARY" -t -c "$TEST_TMP/conf/tls.json"
expect_eq "relative cert paths resolve beside the config" "$rc" 0
rm "$TEST_TMP/conf/site.key"
run "$SHUNT_BINARY" -t -c "$TEST_TMP/conf/tls.json"
case $out in
*"tls.json:3:56: listeners[0].tls.key: cannot read key file \"$TEST_TMP/conf/site.key\""*)
	ok "a missing key file is named with its position" ;;
*) not_ok "a missing key file is named with its position"; echo "#   got: $out" ;;
esac

run "$SHUNT_BINARY" -V
expect_eq "-V prints the version" "$(echo "$out" | sed 's/[0-9][0-9.]*$/X/')" "shunt X"
expect_eq "-V exits 0" "$rc" 0

run "$SHUNT_BINARY" -h
expect_eq "-h exits 0" "$rc" 0
case $out in *"usage: shunt"*"-t "*) ok "-h prints usage" ;; *) not_ok "-h prints usage" ;; esac

run "$SHUNT_BINARY" -x
expect_eq "an unknown flag exits 2" "$rc" 2
run "$SHUNT_BINARY" -c
expect_eq "a missing flag argument exits 2" "$rc" 2
run "$SHUNT_BINARY" -s bogus
expect_eq "an unknown -s signal exits 2" "$rc" 2
run "$SHUNT_BINARY" -t -c "$cfgs/good/minimal.json" extra
expect_eq "a stray argument exits 2" "$rc" 2

done_testing
