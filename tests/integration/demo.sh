#!/bin/bash
# make demo's script serves a page through shunt (DEMO_CHECK mode).
. "$(dirname "$0")/lib.sh"

out=$(DEMO_PORT=$(free_port) DEMO_CHECK=1 timeout 30 bash "$SHUNT_SRCDIR/tests/demo/run.sh" 2>&1)
rc=$?
expect_eq "the demo exits 0" "$rc" 0
case $out in
*"HTTP/1.1 200 OK"*"X-Backend: alpha"*) ok "the demo serves a page from a demo peer" ;;
*) not_ok "the demo serves a page from a demo peer"; echo "$out" | sed 's/^/#   /' ;;
esac
done_testing
