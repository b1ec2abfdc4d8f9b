#!/bin/sh
# The host supervisor on recorded console logs: each log is replayed by a
# stand-in guest (sh), through the same session handling, pipe reading
# and verdict code as a real boot. Checks exit status, verdict, artifacts.
# Run by runner/test through prove, with SUPERVISE set.
set -u
SUP=${SUPERVISE:?SUPERVISE is the supervisor binary}
LOGS=$(cd "$(dirname "$0")/logs" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. "$(dirname "$0")/tap.sh"

# case <name> <log> <guest-exit> <timeout> <want-rc> <want-verdict-prefix>
case_() {
	name=$1 log=$LOGS/$2 guest_exit=$3 timeout=$4 want_rc=$5 want=$6
	root=$work/$name
	if [ "$guest_exit" = hang ]; then
		"$SUP" -q -t "$timeout" -o "$root" -- sh -c "cat '$log'; exec sleep 300" 2>/dev/null
	else
		"$SUP" -q -t "$timeout" -o "$root" -- sh -c "cat '$log'; exit $guest_exit" 2>/dev/null
	fi
	rc=$?
	verdict=$(cat "$root/latest/verdict" 2>/dev/null)
	ok $([ "$rc" = "$want_rc" ]; echo $?) "$name: exit status $want_rc" "got $rc"
	case $verdict in "$want"*) v=0 ;; *) v=1 ;; esac
	ok $v "$name: verdict '$want...'" "got '$verdict'"
	cmp -s "$log" "$root/latest/console.log"
	ok $? "$name: console.log kept byte for byte"
	bad=$(grep -cvE '^ *(TAP version|KTAP version|1\.\.|ok |not ok |#)' "$root/latest/tap.txt")
	ok $([ "$bad" = 0 ]; echo $?) "$name: tap.txt holds only TAP" "$bad other lines"
	# For machines: a testcase per result, a failure per not ok, and a
	# summary.json (core Perl's JSON::PP parses it) with the same verdict.
	results=$(grep -cE '^(ok|not ok) ' "$root/latest/tap.txt")
	fails=$(grep -c '^not ok ' "$root/latest/tap.txt")
	junit="$(grep -c '<testcase ' "$root/latest/junit.xml") $(grep -c '<failure ' "$root/latest/junit.xml")"
	ok $([ "$junit" = "$results $fails" ]; echo $?) "$name: junit.xml has $results testcases, $fails failures" "got $junit"
	json=$(perl -MJSON::PP -e 'local $/; my $j = decode_json(<STDIN>); print "$j->{verdict}|$j->{counts}{results}"' \
		<"$root/latest/summary.json" 2>&1)
	ok $([ "$json" = "$verdict|$results" ]; echo $?) "$name: summary.json says '$verdict', $results results" "got '$json'"
}

echo "TAP version 13"
echo "1..49"
case_ clean clean.log 0 10 0 "pass: 24 ok, 9 skipped"
case_ fail fail.log 1 10 1 "fail: 1 of 24 not ok"
case_ panic panic.log 134 10 1 "crash: Kernel panic - not syncing: Attempted to kill init"
case_ sysrq sysrq-crash.log 134 10 1 "crash: Kernel panic - not syncing: sysrq triggered crash"
case_ bug bug.log 134 10 1 "crash: BUG: failure at arch/um/kernel/trap.c"
case_ warn warn.log 0 10 1 "crash: WARNING: CPU: 0 PID: 41"
case_ oom oom.log 1 10 1 "fail: 1 of 3 not ok (guest ran out of memory: Out of memory: Killed process 25"
case_ hang hang.log hang 2 1 "hang: guest still running after 2s, last TAP line: ok 1"

# Whatever the hung guest started is gone with its session.
sleep_left=$(ps -eo args | grep -c "^sleep 300$")
ok $([ "$sleep_left" = 0 ]; echo $?) "hang: the guest's session was killed" "$sleep_left left"
[ "$failed" = 0 ]
