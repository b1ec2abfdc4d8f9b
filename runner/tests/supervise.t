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
	# For machines: a testcase per result, a failure per not ok, one
	# error more (testcase "run", the verdict its message) where the run
	# went wrong beyond its results, and a summary.json (core Perl's
	# JSON::PP parses it) with the same verdict.
	results=$(grep -cE '^(ok|not ok) ' "$root/latest/tap.txt")
	fails=$(grep -c '^not ok ' "$root/latest/tap.txt")
	errors=0
	case $verdict in pass*) ;; "fail: "*) [ "$fails" != 0 ] || errors=1 ;; *) errors=1 ;; esac
	junit="$(grep -c '<testcase ' "$root/latest/junit.xml") $(grep -c '<failure ' "$root/latest/junit.xml") $(grep -c '<error message="' "$root/latest/junit.xml")"
	ok $([ "$junit" = "$((results + errors)) $fails $errors" ]; echo $?) \
		"$name: junit.xml has $((results + errors)) testcases, $fails failures, $errors errors" "got $junit"
	json=$(perl -MJSON::PP -e 'local $/; my $j = decode_json(<STDIN>); print "$j->{verdict}|$j->{counts}{results}"' \
		<"$root/latest/summary.json" 2>&1)
	ok $([ "$json" = "$verdict|$results" ]; echo $?) "$name: summary.json says '$verdict', $results results" "got '$json'"
}

echo "TAP version 13"
echo "1..97"
case_ clean clean.log 0 10 0 "pass: 24 ok, 9 skipped"
case_ fail fail.log 1 10 1 "fail: 1 of 24 not ok: copy-src-efault/shmem"
case_ panic panic.log 134 10 1 "crash: Kernel panic - not syncing: Attempted to kill init"
case_ sysrq sysrq-crash.log 134 10 1 "crash: Kernel panic - not syncing: sysrq triggered crash"
case_ bug bug.log 134 10 1 "crash: BUG: failure at arch/um/kernel/trap.c"
case_ warn warn.log 0 10 1 "crash: WARNING: CPU: 0 PID: 41"
case_ oom oom.log 1 10 1 "fail: 1 of 3 not ok (guest ran out of memory: Out of memory: Killed process 25"
case_ hang hang.log hang 2 1 "hang: guest still running after 2s, in the scenario after fault-roundtrip/anon"

# Whatever the hung guest started is gone with its session.
sleep_left=$(ps -eo args | grep -c "^sleep 300$")
ok $([ "$sleep_left" = 0 ]; echo $?) "hang: the guest's session was killed" "$sleep_left left"

# A kernel that printed its panic is done even if UML then neither exits
# nor closes its console (seen: a zombie leader with live threads): a
# crash once the exit grace has passed, not a hang at the timeout.
root=$work/panic-stuck
t0=$(date +%s)
"$SUP" -q -x 1 -t 60 -o "$root" -- sh -c "cat '$LOGS/panic.log'; exec sleep 300" 2>/dev/null
rc=$? took=$(($(date +%s) - t0))
verdict=$(cat "$root/latest/verdict" 2>/dev/null)
ok $([ "$rc" = 1 ] && [ "$verdict" = "crash: Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000000" ]; echo $?) \
	"panic-stuck: exit status 1, the panic's verdict" "got $rc, '$verdict'"
ok $([ "$took" -lt 10 ]; echo $?) "panic-stuck: over after the 1 s exit grace, not the 60 s timeout" "took $took s"
cmp -s "$LOGS/panic.log" "$root/latest/console.log"
ok $? "panic-stuck: console.log kept byte for byte"

# The host process outlives its kernel: after "reboot: Power down" and the
# console closing, UML still tears itself down, which took over 2 s on a
# host with slow page-table updates. Its exit is held back here by a
# stand-in that closes the console, then waits or is killed.
# exit_case <name> <log> <after> <exit-grace-s> <want-rc> <want-verdict>
exit_case() {
	name=$1 log=$LOGS/$2 after=$3 grace=$4 want_rc=$5 want=$6
	root=$work/$name
	"$SUP" -q -x "$grace" -t 20 -o "$root" -- sh -c "cat '$log'; exec >&- 2>&-; $after" 2>/dev/null
	rc=$?
	verdict=$(cat "$root/latest/verdict" 2>/dev/null)
	ok $([ "$rc" = "$want_rc" ] && [ "$verdict" = "$want" ]; echo $?) \
		"$name: exit status $want_rc, verdict '$want'" "got $rc, '$verdict'"
}
exit_case slow-exit clean.log "sleep 3" 10 0 "pass: 24 ok, 9 skipped"
exit=$(perl -MJSON::PP -e 'local $/; print decode_json(<STDIN>)->{durations_ms}{exit}' <"$root/latest/summary.json")
ok $([ "$exit" -ge 2900 ]; echo $?) "slow-exit: summary.json has the 3 s exit" "got $exit ms"
exit_case slow-exit-killed clean.log "sleep 5" 1 0 \
	"pass: 24 ok, 9 skipped (host: UML (guest 1) killed with SIGKILL by supervise, still running 1.0 s after its console closed)"
exit=$(perl -MJSON::PP -e 'local $/; print decode_json(<STDIN>)->{durations_ms}{exit}' <"$root/latest/summary.json")
ok $([ "$exit" = -1 ]; echo $?) "slow-exit-killed: summary.json says exit -1" "got $exit"
exit_case abort-after-power-down clean.log 'sleep 0.2; kill -ABRT $$' 10 0 \
	"pass: 24 ok, 9 skipped (host: UML (guest 1) ended by signal 6 (Aborted), not sent by supervise, 0.2 s after its console closed)"
grep -v '^reboot: Power down' "$LOGS/clean.log" >"$work/no-power-down.log"
LOGS=$work exit_case killed-before-power-down no-power-down.log 'kill -SEGV $$' 10 1 \
	"crash: guest killed by signal 11 (Segmentation fault) before powering down"
# The same after a failed result: the crash is the verdict (the failure
# stays in TAP and junit.xml), and junit.xml has it as the run's error.
grep -v '^reboot: Power down' "$LOGS/fail.log" >"$work/fail-no-power-down.log"
LOGS=$work exit_case fail-then-killed fail-no-power-down.log 'kill -SEGV $$' 10 1 \
	"crash: guest killed by signal 11 (Segmentation fault) before powering down"
ok $(grep -q '<error message="crash: guest killed by signal 11' "$root/latest/junit.xml"; echo $?) \
	"fail-then-killed: junit.xml has the crash as the run's error"
# SIGKILL from outside (an OOM killer, a user) before the power-down:
# the host's doing, not a kernel crash.
LOGS=$work exit_case sigkill-before-power-down no-power-down.log 'kill -KILL $$' 10 2 \
	"host: UML (guest 1) was killed with SIGKILL from outside supervise before powering down"
exit_case fail-then-slow-exit fail.log "sleep 2" 0.5 1 "fail: 1 of 24 not ok: copy-src-efault/shmem"
# UML's host processes outlive a UML that is killed or panics; supervise,
# a subreaper, reaps them. Here under a parent that is a subreaper too and
# reaps nothing (a container's PID 1 may not), which would keep them as
# zombies: the stand-in forks a child and dies of SIGSEGV.
root=$work/orphans
zombies=$(perl -e '
	syscall(157, 36, 1) == 0 or die "prctl: $!";	# PR_SET_CHILD_SUBREAPER
	$SIG{CHLD} = "DEFAULT";
	defined(my $pid = fork) or die;
	exec @ARGV unless $pid;
	1 while waitpid($pid, 0) == 0;
	my $n = 0;
	for (glob "/proc/[0-9]*/stat") {
		open my $f, "<", $_ or next;
		my @s = split / /, scalar(<$f>) =~ s/^.*\) //r;
		$n++ if $s[0] eq "Z" && $s[1] == $$;
	}
	print $n;' -- "$SUP" -q -x 1 -t 10 -o "$root" -- \
	sh -c "cat '$LOGS/panic.log'; sleep 300 & sleep 0.2; kill -SEGV \$\$" 2>/dev/null)
ok $([ "$zombies" = 0 ]; echo $?) "orphans: the guest's orphaned host process reaped, no zombie left" "got $zombies"

# Two guests: the second one's slow exit speaks for the run.
root=$work/merged-slow-exit
"$SUP" -q -j 2 -x 0.5 -t 20 -o "$root" -- sh -c "
	cat '$LOGS/clean.log'; exec >&- 2>&-
	[ \$1 = UFFD_SHARD=2/2 ] && sleep 3; exit 0" sh 2>/dev/null
rc=$?
verdict=$(cat "$root/latest/verdict")
ok $([ "$rc" = 0 ] && [ "$verdict" = "pass: 48 ok, 18 skipped (host: UML (guest 2) killed with SIGKILL by supervise, still running 0.5 s after its console closed)" ]; echo $?) \
	"merged-slow-exit: pass, guest 2's exit named as a host problem" "got $rc, '$verdict'"
sleep_left=$(ps -eo args | grep -c "^sleep [35]$")
ok $([ "$sleep_left" = 0 ]; echo $?) "slow exits: nothing left running" "$sleep_left left"

# Two guests (-j 2), the way make check splits the scenarios: each
# stand-in replays its own log, chosen by the UFFD_SHARD=i/2 argument
# supervise appends.
# merged <name> <log-1> <log-2> <exit-2|hang> <want-rc> <want-verdict-prefix>
merged() {
	name=$1 one=$LOGS/$2 two=$LOGS/$3 end2=$4 want_rc=$5 want=$6
	root=$work/$name
	[ "$end2" = hang ] && end2="exec sleep 300" || end2="exit $end2"
	"$SUP" -q -j 2 -t 3 -o "$root" -- sh -c "
		case \$1 in
		UFFD_SHARD=1/2) cat '$one' ;;
		UFFD_SHARD=2/2) cat '$two'; $end2 ;;
		*) echo 'no shard argument'; exit 1 ;;
		esac" sh 2>/dev/null
	rc=$?
	verdict=$(cat "$root/latest/verdict" 2>/dev/null)
	ok $([ "$rc" = "$want_rc" ]; echo $?) "$name: exit status $want_rc" "got $rc"
	case $verdict in "$want"*) v=0 ;; *) v=1 ;; esac
	ok $v "$name: verdict '$want...'" "got '$verdict'"
	cmp -s "$one" "$root/latest/console.log" && cmp -s "$two" "$root/latest/console.2.log"
	ok $? "$name: console.log and console.2.log kept byte for byte"
}
merged merged-clean clean.log clean.log 0 0 "pass: 48 ok, 18 skipped"
tap=$work/merged-clean/latest/tap.txt
nums=$(sed -n 's/^\(ok\|not ok\) \([0-9]*\) .*/\2/p' "$tap" | tr '\n' ' ')
ok $([ "$nums" = "$(seq -s ' ' 1 48) " ]; echo $?) "merged: results renumbered 1..48 in order" "got $nums"
ok $([ "$(grep -c '^TAP version' "$tap")" = 1 ] && [ "$(tail -n1 "$tap")" = "1..48" ]; echo $?) \
	"merged: one TAP header, the plan (1..48) at the end"
perl -MTAP::Parser -e 'local $/; my $p = TAP::Parser->new({ tap => <STDIN> });
	my $n = 0; while (my $r = $p->next) { $n++ if $r->is_test }
	exit($p->parse_errors || $n != 48 || $p->tests_planned != 48)' <"$tap"
ok $? "merged: TAP::Parser reads 48 results of a plan of 48"
merged merged-fail clean.log fail.log 1 1 "fail: 1 of 48 not ok"
grep -B1 '^not ok [0-9]* copy-src-efault/shmem' "$work/merged-fail/latest/tap.txt" | grep -q '^# copy.c:130'
ok $? "merged: a result keeps the diagnostics its guest printed before it"
merged merged-panic clean.log panic.log 134 1 "crash: Kernel panic - not syncing: Attempted to kill init"
merged merged-hang clean.log hang.log hang 1 "hang: guest still running after 3s"
sleep_left=$(ps -eo args | grep -c "^sleep 300$")
ok $([ "$sleep_left" = 0 ]; echo $?) "merged-hang: both sessions were killed" "$sleep_left left"
# The queue: stand-ins that run the indices they are sent, as tap-runner
# -s does, up to index 10. Guest 1 takes half a second per case, guest 2
# none: the slow one must not hold up the other's share (a fixed split
# gives each 5). With quit=N, guest 2 stops after N cases instead, and the
# indices it was sent after that are never run.
# queue <name> [quit]
queue() {
	root=$work/$1
	QUIT=${2:-} "$SUP" -q -j 2 -n 12 -t 20 -o "$root" -- sh -c '
		echo "TAP version 13"
		n=0
		while read -r i && [ "$i" -lt 10 ]; do
			[ "$1" = UFFD_SHARD=1/2 ] && sleep 0.5
			n=$((n + 1))
			echo "ok $n case-$i"
			[ "$1" = UFFD_SHARD=2/2 ] && [ "$n" = "$QUIT" ] && break
		done
		n=$((n + 1))
		echo "ok $n kernel-untainted/${1#UFFD_SHARD=}"
		echo "1..$n"
		# Alive while the host writes to it: the indices are taken.
		[ -z "$QUIT" ] || sleep 1' sh 2>/dev/null
}
queue queue
rc=$?
ok $([ "$rc" = 0 ] && [ "$(cat "$root/latest/verdict")" = "pass: 12 ok, 0 skipped" ]; echo $?) \
	"queue: pass, 12 results" "got $rc, $(cat "$root/latest/verdict")"
cases=$(grep -o 'case-[0-9]*' "$root/latest/tap.txt" | sort -u | wc -l)
all=$(grep -c 'case-[0-9]*' "$root/latest/tap.txt")
ok $([ "$cases" = 10 ] && [ "$all" = 10 ]; echo $?) "queue: every index run once" "$all results, $cases distinct"
fast=$(grep -c '^ok [0-9]* case-' "$root/latest/console.2.log")
ok $([ "$fast" -ge 8 ]; echo $?) "queue: the fast guest ran the slow one's share" "it ran $fast of 10"
queue queue-lost 2
rc=$?
case $(cat "$root/latest/verdict") in "incomplete: "*" of 12 results"*) v=$rc ;; *) v=0 ;; esac
ok $([ "$v" = 1 ]; echo $?) \
	"queue: a guest that stops early leaves the run incomplete" "got $rc, $(cat "$root/latest/verdict")"
# A hang with two guests names where each one is, by scenario id: their
# own result numbers are not the run's.
root=$work/hang-guests
"$SUP" -q -j 2 -t 2 -o "$root" -- sh -c 'echo "TAP version 13"; read -r i
	echo "ok 1 row-$i/of-${1#UFFD_SHARD=}"; exec sleep 300' sh 2>/dev/null
verdict=$(cat "$root/latest/verdict")
case $verdict in
"hang: guest still running after 2s, guest 1: in the scenario after row-"*"/of-1/2; guest 2: in the scenario after row-"*"/of-2/2") v=0 ;;
*) v=1 ;;
esac
ok $v "hang, 2 guests: the verdict names each guest's last scenario" "got '$verdict'"

# Each junit.xml testcase holds its own diagnostics and nothing of the
# longer ones before it.
root=$work/junit-diag
"$SUP" -q -t 10 -o "$root" -- sh -c 'printf "%s\n" "TAP version 13" \
	"# the first result says a good deal more than the second" "ok 1 first" \
	"# short" "not ok 2 second" "1..2"' 2>/dev/null
got=$(perl -0ne 'print $1 if /<failure[^>]*>(.*?)<\/failure>/s' "$root/latest/junit.xml")
ok $([ "$got" = "# short" ]; echo $?) "junit.xml: a failure's text is its own diagnostics" "got '$got'"

# -k: a known regression is one failure, the entry's signature in its
# diagnostics; the same row failing otherwise (another check, a timeout)
# is a failure like any other.
printf 'isize-copy/*\tgot -12 (0xfffffffffffffff4), expected -14\tthe known bug\n' >"$work/known.list"
# known_case <name> <diagnostic> <result line's tail> <want-rc> <want-verdict>
known_case() {
	awk -v d="$2" -v t="$3" '{ sub(/\r$/, "") } $0 == "ok 18 isize-copy/shmem" {
		print "# tests/copy.c:171: " d; print "not ok 18 isize-copy/shmem" t; next } 1' \
		"$LOGS/clean.log" >"$work/$1.log"
	root=$work/$1
	"$SUP" -q -t 10 -k "$work/known.list" -o "$root" -- sh -c "cat '$work/$1.log'; exit 1" 2>/dev/null
	rc=$?
	verdict=$(cat "$root/latest/verdict" 2>/dev/null)
	ok $([ "$rc" = "$4" ] && [ "$verdict" = "$5" ]; echo $?) "$1: exit status $4, verdict '$5'" "got $rc, '$verdict'"
}
sig='uffd_copy(uffd, page_of(&a, 3), src, a.ps, 0, &out): got -12 (0xfffffffffffffff4), expected -14'
known_case known "$sig" " # exit status 1" 0 "pass: 23 ok, 9 skipped, 1 known regression (isize-copy/shmem)"
ok $(grep -q '^not ok 18 isize-copy/shmem # TODO known regression: the known bug$' "$work/known/latest/tap.txt"; echo $?) \
	"known: the result is a TODO, with the entry's reason"
known_case known-other "uffd_copy(...): got 0, expected -14" " # exit status 1" 1 "fail: 1 of 24 not ok: isize-copy/shmem"
known_case known-timeout "$sig" " # TIMEOUT after 2s" 1 "fail: 1 of 24 not ok: isize-copy/shmem"

# -H: the guest's memory file on a tmpfs of its own (huge=always), in a
# mount namespace of supervise's: seen by the guest, not by the host,
# gone with it. Where the host allows no namespace (a container), the
# run goes on in the physmem directory as without -H.
root=$work/huge
if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ]; then
	"$SUP" -q -u -H -t 20 -o "$root" -m /dev/shm -- sh -c '
		echo "TAP version 13"
		echo "$TMPDIR" >"$0.dir"
		if grep -q " $TMPDIR .* - tmpfs .*huge=always" /proc/self/mountinfo; then
			echo "ok 1 own-tmpfs"
		else
			echo "not ok 1 own-tmpfs"
		fi
		while [ -e "$0.dir" ]; do sleep 0.05; done
		echo "1..1"' "$work/huge" 2>/dev/null &
	sup=$!
	while [ ! -s "$work/huge.dir" ] && kill -0 $sup 2>/dev/null; do sleep 0.05; done
	dir=$(cat "$work/huge.dir" 2>/dev/null)
	seen=$(grep -c " $dir " /proc/self/mountinfo)
	rm -f "$work/huge.dir"
	wait $sup
	rc=$?
	# What the host allows, asked of util-linux, not of supervise.
	if unshare -m true 2>/dev/null || unshare -Urm true 2>/dev/null; then
		ok $([ "$rc" = 0 ]; echo $?) "huge: the guest's TMPDIR is a tmpfs of its own, huge=always" \
			"got $rc, $(cat "$root/latest/verdict" 2>/dev/null)"
		ok $([ "$seen" = 0 ]; echo $?) "huge: its mount is not seen outside" "$seen mounts on $dir"
		physmem=$(perl -MJSON::PP -e 'local $/; print decode_json(<STDIN>)->{host}{physmem}' \
			<"$root/latest/summary.json" 2>/dev/null)
		case $physmem in *huge=always*) v=0 ;; *) v=1 ;; esac
		ok $v "huge: summary.json says so" "host.physmem: '$physmem'"
	else
		skip "huge: the guest's TMPDIR is a tmpfs of its own" "no mount namespace allowed here"
		skip "huge: its mount is not seen outside" "no mount namespace allowed here"
		skip "huge: summary.json says so" "no mount namespace allowed here"
	fi
	ok $([ -n "$dir" ] && [ ! -e "$dir" ]; echo $?) "huge: its uml_dir is gone" "'$dir' left"
else
	skip "huge: own tmpfs" "/dev/shm is not a tmpfs"
	skip "huge: not seen outside" "/dev/shm is not a tmpfs"
	skip "huge: uml_dir gone" "/dev/shm is not a tmpfs"
	skip "huge: summary.json" "/dev/shm is not a tmpfs"
fi
# A setup error after a guest was set up (here the fds run out at the
# second guest, whichever limit that takes): exit 2, with no guest left
# running and no uml_dir left behind, swap file and all.
phys=$work/phys
mkdir "$phys"
gave_up= left= running=
for lim in 8 9 10 11 12 13 14 15 16; do
	# Its one line on stderr, not in make's error file of the run
	# that runs these tests.
	( ulimit -n $lim; UFFD_UML_ERRFILE= exec timeout 20 "$SUP" -q -u -S 1 -j 2 -t 2 -o "$work/fds" -m "$phys" \
		-- sh -c 'exec sleep 302' ) 2>/dev/null
	[ $? = 2 ] || break
	gave_up="$gave_up $lim"
	[ -z "$(ls "$phys")" ] || left="$left $lim"
	! pgrep -fx 'sleep 302' >/dev/null || running="$running $lim"
	pkill -fx 'sleep 302'
	rm -rf "${phys:?}"/*
done
ok $([ -n "$gave_up" ] && [ -z "$left$running" ]; echo $?) \
	"setup error after a guest started: nothing left (fd limits$gave_up)" \
	"uml_dir left at$left; guest running at$running"
[ "$failed" = 0 ]
