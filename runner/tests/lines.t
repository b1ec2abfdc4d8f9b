#!/bin/sh
# Two kernel lines checked at once from one checkout: each guest must boot
# the programs built against its own tree's UAPI headers (out/guest/<tree>),
# not whichever line built last. api checks the kernel's advertised
# features against those headers, so programs of the other line fail it.
# Run by runner/test through prove (both kernels must be built already).
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
here=$TOP/runner
. "$TOP/runner/lib.sh"
. "$(dirname "$0")/tap.sh"
unset UFFD_UML_ERRFILE T GUESTS CPUS MUTANT FIXES KERNEL_SRC
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

old=6.1 new=$KVER
for l in $old $new; do
	[ -x "$CACHE/kernels/debian-$l/build/linux" ] ||
		skip_all "Linux $l is not built here (make check KVER=$l builds it)"
done

rounds=3
echo "TAP version 13"
echo "1..$((rounds * 2))"

# check <line> <round>: one check of the rows that see the headers.
check() {	# check <X.Y> <round>
	run_check "$1-$2" KVER="$1" T=api,fault-roundtrip GUESTS=1
}
r=1
while [ $r -le $rounds ]; do
	check "$old" $r &
	pid=$!
	check "$new" $r
	rc_new=$?
	wait $pid
	rc_old=$?
	ok $rc_old "round $r: Linux $old beside Linux $new passes" "$(tail -n1 "$work/$old-$r.out")"
	ok $rc_new "round $r: Linux $new beside Linux $old passes" "$(tail -n1 "$work/$new-$r.out")"
	r=$((r + 1))
done
exit $((failed > 0))
