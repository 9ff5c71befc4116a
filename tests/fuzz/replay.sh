#!/bin/bash
# replay.sh: every seed and regression input of tests/fuzz through its
# harness, linked with driver.c instead of libFuzzer, so that `make check'
# keeps fixed bugs fixed without clang.  Inputs under pending/ reproduce
# bugs reported and not fixed yet: each must still fail (TAP TODO); one
# that passes is reported (XPASS) so that it moves to regressions/.
src=${SHUNT_SRCDIR:-.}/tests/fuzz
bin=${SHUNT_BUILDDIR:-.}/tests/fuzz
harnesses="chunked config request response"

pending=()
for h in $harnesses; do
	for f in "$src/pending/fuzz_$h"/*; do
		test -f "$f" && pending+=("$h $f")
	done
done
echo "1..$(( $(wc -w <<<"$harnesses") * 2 + ${#pending[@]} ))"

n=0
for h in $harnesses; do
	for kind in corpus regressions; do
		n=$((n + 1))
		dir=$src/$kind/fuzz_$h
		if ! test -d "$dir"; then
			echo "ok $n - fuzz_$h $kind # SKIP none yet"
			continue
		fi
		if out=$("$bin/replay_$h" "$dir" 2>&1); then
			echo "ok $n - fuzz_$h $kind: $(tail -n 1 <<<"$out")"
		else
			echo "not ok $n - fuzz_$h $kind"
			tail -n 40 <<<"$out" | sed 's/^/# /'
		fi
	done
done
for p in "${pending[@]}"; do
	n=$((n + 1))
	h=${p%% *}
	f=${p#* }
	if "$bin/replay_$h" "$f" >/dev/null 2>&1; then
		echo "ok $n - fuzz_$h pending/${f##*/} passes now: move it to regressions/ # TODO"
	else
		echo "not ok $n - fuzz_$h pending/${f##*/} # TODO open bug"
	fi
done
