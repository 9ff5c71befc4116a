#!/bin/sh
# report.sh LOGDIR: the verdict on make check-valgrind's memcheck logs, one
# per process (NAME.PID).  Fails when a log reports an error or a definite
# leak, and prints those logs whole.  A log without an ERROR SUMMARY is a
# process that did not run to its end (killed with SIGKILL): counted, not
# an error.
set -u
dir=${1:?usage: report.sh LOGDIR}
total=0
clean=0
unfinished=0
bad=""
for f in "$dir"/*; do
	[ -f "$f" ] || continue
	total=$((total + 1))
	if ! grep -q 'ERROR SUMMARY:' "$f"; then
		unfinished=$((unfinished + 1))
		continue
	fi
	if grep -q 'ERROR SUMMARY: [1-9]' "$f" ||
	    grep -q 'definitely lost: [1-9]' "$f"; then
		bad="$bad $f"
	else
		clean=$((clean + 1))
	fi
done
for f in $bad; do
	echo "=== $f"
	cat "$f"
done
nbad=$(echo $bad | wc -w)
echo "check-valgrind: $total processes: $clean clean, $nbad with errors or" \
    "definite leaks, $unfinished did not finish (killed)"
[ "$total" -gt 0 ] || { echo "check-valgrind: no memcheck log at all"; exit 1; }
[ "$nbad" -eq 0 ]
