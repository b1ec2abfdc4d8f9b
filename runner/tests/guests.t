#!/bin/sh
# GUESTS left unset: lib.sh auto_guests on made-up timings, then make
# check recording its full passing runs (supervise -R) and choosing from
# them. Run by runner/test through prove (the kernel must be built).
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
here=$TOP/runner
. "$TOP/runner/lib.sh"
. "$(dirname "$0")/tap.sh"
unset UFFD_UML_ERRFILE T GUESTS CPUS
work=$(mktemp -d)
file=$work/timings
trap 'rm -rf "$work"' EXIT
is() { [ "$1" = "$2" ]; echo $?; }

# pick <max>: the count auto_guests picks from $file.
pick() { auto_guests "$file" "$1" | cut -d' ' -f1; }
# runs <guests> <results> <ms> <times>: lines as supervise -R appends them.
runs() {
	i=0
	while [ $i -lt "$4" ]; do
		echo "$1 $2 $3" >>"$file"
		i=$((i + 1))
	done
}

echo "TAP version 13"
echo "1..16"

: >"$file"
ok "$(is "$(pick 2)" 1)" "no timings: one guest first" "$(auto_guests "$file" 2)"
seq=
for i in 1 2 3 4 5 6 7; do
	g=$(pick 2)
	seq="$seq$g"
	runs "$g" 400 $((g == 1 ? 2400 : 2300)) 1
done
ok "$(is "$seq" 1212121)" "one and two guests are timed in turn, 3 runs each, then judged" "got $seq"
ok "$(is "$(auto_guests "$file" 2)" "1 a guest more made a result less than 25% faster; a result took 6.0 ms with 1, 5.8 ms with 2")" \
	"a second guest 1.04x faster: one guest, and why" "$(auto_guests "$file" 2)"

: >"$file"
runs 1 400 2400 3
runs 2 401 1500 4
ok "$(is "$(pick 2)" 2)" "a second guest 1.6x faster: two" "$(auto_guests "$file" 2)"
ok "$(is "$(pick 4)" 3)" "with room for 4: the third is timed next" "$(auto_guests "$file" 4)"
case $(auto_guests "$file" 4 0) in "2 the most timed so far (this run is not timed)"*) v=0 ;; *) v=1 ;; esac
ok $v "not timed, a third guest never timed: two, the most timed" "$(auto_guests "$file" 4 0)"
runs 3 402 1400 3
ok "$(is "$(pick 4)" 2)" "a third guest 1.07x faster than two: two" "$(auto_guests "$file" 4)"
: >"$file"
runs 1 400 2400 3
runs 2 401 2300 2
runs 2 401 1500 3
ok "$(is "$(pick 2)" 2)" "the median of each count's last 3 runs decides" "$(auto_guests "$file" 2)"
runs 2 401 1500 1
ok "$(is "$(pick 2)" 1)" "every tenth run times the other count again" "$(auto_guests "$file" 2)"
case $(auto_guests "$file" 2 0) in *timing*) v=1 ;; "2 "*) v=0 ;; *) v=1 ;; esac
ok $v "a run that is not timed takes the best count instead" "$(auto_guests "$file" 2 0)"
want=$(auto_guests "$file" 2)
printf 'garbage\n9 400 100\n1 0 5\n2 400\n' >>"$file"
ok "$(is "$(auto_guests "$file" 2)" "$want")" "lines that are not timings are passed over" "$(auto_guests "$file" 2)"

# make check itself. Its timings file is found as the one a full run
# with GUESTS=1 wrote to; it is put back as it was at the end.
summary() {	# summary <name> <key>: host.<key> of that run's summary.json
	perl -MJSON::PP -e 'local $/; print decode_json(<STDIN>)->{host}{$ARGV[0]}' "$2" \
		<"$work/$1/latest/summary.json" 2>/dev/null
}
mark=$work/mark
touch "$mark"
sleep 1
run_check one GUESTS=1
rc=$?
real=$(find "$CACHE/guests" -type f -newer "$mark" 2>/dev/null | head -n1)
results=$(grep -c '^\(not \)\?ok ' "$work/one/latest/tap.txt" 2>/dev/null)
last=$(tail -n1 "$real" 2>/dev/null)
ok "$([ "$rc" = 0 ] && [ "${last% *}" = "1 $results" ]; echo $?)" \
	"a full passing run with GUESTS=1 appends its guests, results and wall time" "rc $rc, file '$real', last line '$last', $results results"
ok "$(is "$(summary one guests)/$(summary one guests_from)" 1/GUESTS=1)" \
	"summary.json says GUESTS=1 was given" "$(summary one guests)/$(summary one guests_from)"

if [ -z "$real" ]; then
	skip "GUESTS unset, timings for two faster" "no timings file to seed"
	skip "GUESTS unset, timings for one as fast" "no timings file to seed"
	skip "T set: no timing" "no timings file to seed"
	exit $((failed > 0))
fi
cp "$real" "$work/saved"
trap 'cp "$work/saved" "$real"; rm -rf "$work"' EXIT
seed() {	# seed <ms with 1 guest> <ms with 2>: 3 timed runs of each
	file=$real
	: >"$file"
	runs 1 400 "$1" 3
	runs 2 401 "$2" 3
}
if [ "$(usable_cpus)" -ge 2 ]; then
	seed 4000 1000
	run_check two
	ok "$(is "$(summary two guests)" 2)" "GUESTS unset, timings for two 4x faster: two guests" \
		"$(summary two guests): $(summary two guests_from)"
	seed 2000 2000
	run_check same
	case $(summary same guests_from) in "auto: a guest more made a result less than 25% faster"*) v=0 ;; *) v=1 ;; esac
	ok "$([ "$(summary same guests)" = 1 ] && [ $v = 0 ]; echo $?)" "GUESTS unset, timings for one as fast: one guest, and why" \
		"$(summary same guests): $(summary same guests_from)"
else
	skip "GUESTS unset, timings for two faster" "one host CPU usable"
	skip "GUESTS unset, timings for one as fast" "one host CPU usable"
fi
# A tenth run, where a full one would time a neighbouring count again.
file=$real
while [ $(($(wc -l <"$real") % 10)) != 9 ]; do
	runs 1 400 2000 1
done
before=$(wc -l <"$real")
run_check sel T=fault-roundtrip
ok "$([ $? = 0 ] && [ "$(wc -l <"$real")" = "$before" ] &&
	! grep -q 'GUESTS=.*timing' "$work/sel.out"; echo $?)" "T set: the run is not timed, and says of no timing" \
	"$before lines before, $(wc -l <"$real") after; $(grep GUESTS "$work/sel.out")"
exit $((failed > 0))
