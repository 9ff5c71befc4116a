#!/bin/bash
# Layers: the worker's files call one way, shm/ calls neither master/ nor
# worker/, and shuntctl holds no worker code.  Calls are read from the
# built objects (nm on the rooms' libraries: what each object needs and
# what each defines), includes from the sources, and both are held against
# the layer map in worker/README.  (The link order of the rooms' libraries
# already refuses a call from a lower room to a higher one.)
#
#   worker layer (lower calls higher never; a file may call its own layer
#   only without a circle, which tsort finds):
#     0 plumbing    loop io buf tls
#     1 codec       http
#     2 rules       balance retry accesslog
#     3 sockets     client upstream
#     4 request     req peers orphan proxy
#     5 session     conn
#     6 process     worker
. "$(dirname "$0")/lib.sh"

: "${SHUNT_BUILDDIR:=$(cd "$(dirname "$SHUNT_BINARY")" && pwd)}"
libs=""
for room in common shm worker master; do
	libs="$libs $SHUNT_BUILDDIR/lib$room.a"
done
command -v nm >/dev/null 2>&1 || { skip "layers" "nm is not installed"; done_testing; exit; }
for lib in $libs; do
	[ -f "$lib" ] || { not_ok "$lib is built"; done_testing; exit; }
done

layer() {
	case $1 in
	loop|io|buf|tls) echo 0 ;;
	http) echo 1 ;;
	balance|retry|accesslog) echo 2 ;;
	client|upstream) echo 3 ;;
	req|peers|orphan|proxy) echo 4 ;;
	conn) echo 5 ;;
	worker) echo 6 ;;
	*) echo "" ;;
	esac
}

worker_files=$(cd "$SHUNT_SRCDIR/worker" && ls ./*.c | sed 's|^\./||; s|\.c$||')
for f in $worker_files; do
	check "worker/$f.c has a place in the layer map" test -n "$(layer "$f")"
done

# "caller callee" for every symbol an object takes from another object.
# shellcheck disable=SC2086
nm -A --defined-only -g $libs 2>/dev/null |
    awk '{ split($1, p, ":"); o = p[2]; sub(/^lib[a-z]*_a-/, "", o);
	   sub(/\.o$/, "", o); print $3, o }' | sort > "$TEST_TMP/defs"
# shellcheck disable=SC2086
nm -A -u $libs 2>/dev/null |
    awk '{ split($1, p, ":"); o = p[2]; sub(/^lib[a-z]*_a-/, "", o);
	   sub(/\.o$/, "", o); print $NF, o }' | sort > "$TEST_TMP/uses"
join "$TEST_TMP/uses" "$TEST_TMP/defs" |
    awk '$2 != $3 { print $2, $3, $1 }' | sort -u > "$TEST_TMP/calls"
check "the objects' calls were read" test -s "$TEST_TMP/calls"

in_dir() {
	[ -f "$SHUNT_SRCDIR/$1/$2.c" ]
}

# Upward calls in the worker.
up=""
while read -r from to sym; do
	in_dir worker "$from" && in_dir worker "$to" || continue
	lf=$(layer "$from")
	lt=$(layer "$to")
	[ -n "$lf" ] && [ -n "$lt" ] || continue
	[ "$lt" -gt "$lf" ] && up="$up worker/$from.c -> worker/$to.c ($sym);"
done < "$TEST_TMP/calls"
expect_eq "no worker file calls a higher layer" "$up" ""

# Circles among the worker's files, calls and includes together.
{
	awk '{ print $1, $2 }' "$TEST_TMP/calls" | while read -r from to; do
		in_dir worker "$from" && in_dir worker "$to" && echo "$from $to"
	done
	for f in $worker_files; do
		sed -n 's/^#include "\([a-z_]*\)\.h"/\1/p' \
		    "$SHUNT_SRCDIR/worker/$f.c" | while read -r h; do
			[ "$h" != "$f" ] && in_dir worker "$h" && echo "$f $h"
		done
	done
} | sort -u > "$TEST_TMP/graph"
if tsort "$TEST_TMP/graph" > /dev/null 2> "$TEST_TMP/tsort.err"; then
	ok "no circle among the worker's files (calls and includes)"
else
	not_ok "no circle among the worker's files (calls and includes)"
	sed 's/^/#   /' "$TEST_TMP/tsort.err"
fi

# Includes that reach up a layer.
upinc=""
for f in $worker_files; do
	lf=$(layer "$f")
	for h in $(sed -n 's/^#include "\([a-z_]*\)\.h"/\1/p' \
	    "$SHUNT_SRCDIR/worker/$f.c"); do
		in_dir worker "$h" || continue
		lh=$(layer "$h")
		[ -n "$lh" ] && [ "$lh" -gt "$lf" ] &&
		    upinc="$upinc worker/$f.c includes $h.h;"
	done
done
expect_eq "no worker file includes a higher layer's header" "$upinc" ""

# shm/ is used by master, workers and shuntctl: it uses none of them.
shm_up=""
while read -r from to sym; do
	in_dir shm "$from" || continue
	if in_dir master "$to" || in_dir worker "$to" || in_dir tools "$to"; then
		shm_up="$shm_up shm/$from.c -> $to ($sym);"
	fi
done < "$TEST_TMP/calls"
expect_eq "shm/ calls nothing in master/, worker/ or tools/" "$shm_up" ""

# Nor does it include their headers (the config's types included): the
# master hands it what it needs in shm/'s own types.  common/ includes
# only common/.
includes_from() {	# ROOM [FORBIDDEN ROOMS...]
	room=$1
	shift
	for src in "$SHUNT_SRCDIR/$room"/*.[ch]; do
		for h in $(sed -n 's/^#include "\([a-z_-]*\.h\)"/\1/p' "$src"); do
			for bad in "$@"; do
				[ -f "$SHUNT_SRCDIR/$bad/$h" ] &&
				    echo "$room/${src##*/} includes $bad/$h"
			done
		done
	done | tr '\n' ' '
}
expect_eq "shm/ includes nothing of master/, worker/ or tools/" \
    "$(includes_from shm master worker tools)" ""
expect_eq "common/ includes nothing of the other rooms" \
    "$(includes_from common shm master worker tools)" ""

# shuntctl reads the store and the config: no worker code (TLS handshakes
# included) is linked into it.
ctl=$SHUNT_BUILDDIR/shuntctl
nm --defined-only -g "$SHUNT_BUILDDIR/libworker.a" 2>/dev/null |
    awk 'NF == 3 { print $3 }' | sort -u > "$TEST_TMP/worker.syms"
nm --defined-only "$ctl" 2>/dev/null | awk '{ print $3 }' | sort -u |
    comm -12 - "$TEST_TMP/worker.syms" > "$TEST_TMP/ctl.worker"
check "shuntctl is built" test -x "$ctl"
expect_eq "shuntctl holds no symbol of worker/" \
    "$(tr '\n' ' ' < "$TEST_TMP/ctl.worker")" ""

done_testing
