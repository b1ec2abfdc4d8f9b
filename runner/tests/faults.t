#!/bin/sh
# Fault injection with the real appliance: every case boots the UML kernel
# `make check` built (tests/faults/fault-inject.c in the guest, LKDTM in
# the kernel) and checks the exit status, the verdict and what is left on
# disk. Then: no process of ours left, nothing left in TMPDIR.
# Run by runner/test through prove (the kernel must be built already).
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
tmp=$work/tmp
mkdir -p "$tmp"
trap 'rm -rf "$work"' EXIT
. "$(dirname "$0")/tap.sh"
unset UFFD_UML_ERRFILE T
is() { [ "$1" = "$2" ]; echo $?; }
CACHE=${UFFD_UML_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/uffd-uml}
has() { grep -q -- "$2" "$1" 2>/dev/null; echo $?; }

# fault <name> <want-status> <want-verdict-prefix> <env...>: one boot.
fault() {
	name=$1 want_rc=$2 want=$3
	shift 3
	res=$work/$name
	run_check "$name" TMPDIR="$tmp" UFFD_MODE=faults "$@"
	rc=$?
	verdict=$(cat "$res/latest/verdict" 2>/dev/null)
	ok "$(is "$rc" "$want_rc")" "$name: exit status $want_rc" "got $rc"
	case $verdict in "$want"*) v=0 ;; *) v=1 ;; esac
	ok $v "$name: verdict '$want...'" "got '$verdict'"
	ok "$(test -s "$res/latest/console.log" && test -f "$res/latest/tap.txt"; echo $?)" \
		"$name: console.log and tap.txt kept"
}

echo "TAP version 13"
echo "1..93"

# A scenario that never returns: its timeout, and the rest still runs.
fault timeout 1 "fail: 1 of 3 not ok: hang" T=hang,pass SCENARIO_TIMEOUT=2
ok "$(has "$res/latest/tap.txt" '^not ok [0-9]* hang # TIMEOUT after 2s')" "timeout: not ok ... # TIMEOUT"
ok "$(has "$res/latest/tap.txt" '^ok [0-9]* pass$')" "timeout: the next scenario ran"

# A scenario stuck in the kernel (D state: LKDTM's HUNG_TASK), which no
# signal ends: failed by name with where it sleeps, and the rest runs.
fault stuck 1 "fail: 1 of 3 not ok: stuck" T=stuck,pass SCENARIO_TIMEOUT=2
ok "$(has "$res/latest/tap.txt" '^not ok [0-9]* stuck # TIMEOUT after 2s, and SIGKILL did not end it in 5000 ms: stuck in the kernel')" \
	"stuck: not ok ... stuck in the kernel"
ok "$(has "$res/latest/tap.txt" '^ok [0-9]* pass$')" "stuck: the next scenario ran"

# A failure that says only that a race row did not reach its window
# (a host too busy) is counted apart, and is all runner/bisect skips.
only_windows() { (here=$TOP/runner; . "$TOP/runner/lib.sh"; window_misses_only "$1"); echo $?; }
fault window 1 "fail: 1 of 3 not ok: window" T=window,pass
ok "$(has "$res/latest/summary.json" '"fail": 1, .*"window_not_reached": 1 }')" \
	"window: summary.json counts it as window not reached" "$(grep counts "$res/latest/summary.json")"
ok "$(only_windows "$res/latest")" "window: every failure a window miss (runner/bisect: 125)"
fault window-hang 1 "fail: 2 of 4 not ok: " T=window,hang,pass SCENARIO_TIMEOUT=2
ok "$(is "$(only_windows "$res/latest")" 1)" "a window miss beside a real failure: not window misses only"

# T: a scenario's bare name runs all its rows; a glob that matches
# nothing is exit 2, also next to one that does.
run_check bare TMPDIR="$tmp" T=fault-roundtrip GUESTS=1
rc=$?
rows=$(grep -c '^ok [0-9]* fault-roundtrip/' "$work/bare/latest/tap.txt" 2>/dev/null)
ok "$([ "$rc" = 0 ] && [ "$rows" -ge 4 ]; echo $?)" "T=fault-roundtrip: every row of it runs" "got $rc, $rows rows"
run_check typo TMPDIR="$tmp" T='fault-roundtrip,no-such-row'
ok "$(is $? 2)" "T with one glob matching nothing: exit status 2"
ok "$(has "$work/typo.out" 'nothing matches no-such-row')" "T with one glob matching nothing: one line naming it" "$(tail -n1 "$work/typo.out")"
# The taint check alone: a boot and that one result.
run_check untainted TMPDIR="$tmp" T=kernel-untainted
rc=$?
ok "$([ "$rc" = 0 ] && [ "$(grep -c '^ok ' "$work/untainted/latest/tap.txt")" = 1 ]; echo $?)" \
	"T=kernel-untainted alone: one result, exit status 0" "got $rc: $(tail -n1 "$work/untainted.out")"

# Bad settings: exit 2 and one line naming the setting, before any boot
# (a panic or a missing plan would read as the kernel's fault).
bad() {	# bad <setting> <env...>
	what=$1
	run_check bad TMPDIR="$tmp" T=api "$@"
	rc=$?
	ok "$([ "$rc" = 2 ] && [ "$(wc -l <"$work/bad.out")" = 1 ] &&
		grep -q "^uffd-uml: $what" "$work/bad.out"; echo $?)" \
		"$*: exit status 2, one line naming $what" "got $rc: $(head -n3 "$work/bad.out")"
}
bad MEM= MEM=1.5G
bad MEM= MEM=48M
bad SCENARIO_TIMEOUT= SCENARIO_TIMEOUT=00
bad TIMEOUT= TIMEOUT=00
bad SWAP= SWAP=99999999999999999999
bad EXIT_GRACE= EXIT_GRACE=.
bad BUSYBOX= BUSYBOX=/nonexistent
bad MUSL_CC= MUSL_CC=no-such-cc
bad FIXES= FIXES=1 KVER=6.1
ok "$([ ! -e "$CACHE/kernels/debian-6.1-fixes" ]; echo $?)" "FIXES=1 on a line without fixes: nothing left in the cache"

# An init that never powers off: the whole-run timeout.
fault hang 1 "hang: guest still running after 3s" UFFD_MODE=idle TIMEOUT=3

# A panic, an oops (BUG), a WARN: crash, with the report's first line.
fault panic 1 "crash: Kernel panic - not syncing: dumptest" T=panic
fault bug 1 "crash: BUG: failure at" T=bug,pass
fault warn 1 "crash: WARNING:" T=warn,pass
ok "$(has "$res/latest/tap.txt" '^not ok [0-9]* kernel-untainted # tainted=0x200, first seen after warn (0x200)$')" \
	"warn: the taint fails the run too, naming the scenario after which it was first seen" "$(grep kernel-untainted "$res/latest/tap.txt")"
# ... unless WARNs are allowed.
fault warn-allowed 0 "pass: 3 ok" T=warn,pass ALLOW_WARN=1
ok "$(has "$res/latest/console.log" 'WARNING:')" "warn-allowed: the WARN is in the console log"

# Out of memory: the OOM killer's victim fails, the rest runs, no crash.
fault oom 1 "fail: 1 of 3 not ok (guest ran out of memory: Out of memory: Killed process" T=oom,pass
ok "$(has "$res/latest/tap.txt" '^ok [0-9]* pass$')" "oom: the next scenario ran"

# The physmem directory: noexec, or smaller than MEM (Docker's /dev/shm).
mnt=$work/mnt
mkdir -p "$mnt"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=128m,noexec tmpfs "$mnt" 2>/dev/null; then
	run_check noexec PHYSMEM_DIR="$mnt" MEM=96M SWAP=0 T=pass UFFD_MODE=faults
	ok "$(is $? 2)" "physmem noexec: exit status 2"
	ok "$(has "$work/noexec.out" 'does not allow PROT_EXEC.*set PHYSMEM_DIR')" "physmem noexec: one line naming the fix" "$(tail -n1 "$work/noexec.out")"
	mount -o remount,exec "$mnt"
	run_check small PHYSMEM_DIR="$mnt" T=pass UFFD_MODE=faults
	ok "$(is $? 2)" "physmem 128 MiB: exit status 2"
	ok "$(has "$work/small.out" 'has 128 MiB free, UML needs MEM=256M + SWAP=32 MiB there: set PHYSMEM_DIR')" "physmem 128 MiB: one line naming the fix" "$(tail -n1 "$work/small.out")"
	umount "$mnt"
else
	for i in 1 2 3 4; do
		n=$((n + 1))
		echo "ok $n physmem checks # SKIP needs root to mount a tmpfs"
	done
fi

# Host limits (issue: a host fault must never read as a kernel verdict).
# vm.max_map_count is lowered for one boot at a time and always restored.
maps_saved=$(cat /proc/sys/vm/max_map_count)
restore_maps() { echo "$maps_saved" >/proc/sys/vm/max_map_count; }
if [ "$(id -u)" = 0 ] && echo "$maps_saved" >/proc/sys/vm/max_map_count 2>/dev/null; then
	trap 'restore_maps; rm -rf "$work"' EXIT
	echo 1000 >/proc/sys/vm/max_map_count
	# Before booting: the pre-flight check names the limit.
	run_check maps-preflight TMPDIR="$tmp" T=pass UFFD_MODE=faults
	ok "$(is $? 2)" "max_map_count 1000: pre-flight exit status 2"
	ok "$(has "$work/maps-preflight.out" 'host: vm.max_map_count is 1000, UML needs at least')" \
		"max_map_count 1000: one line naming vm.max_map_count" "$(tail -n1 "$work/maps-preflight.out")"
	# Booted anyway: the guest process UML cannot map is killed, and the
	# run is the host's fault, not a failed scenario. In both userspace
	# modes: seccomp mode (7.x, the default there) reports the failed
	# mapping only with the carried "um: seccomp: do not take a failed
	# stub syscall flush for a system call".
	fault maps-runtime 2 "host: UML ran out of host memory or mappings" T=maps,pass PREFLIGHT=0 SECCOMP=off
	ok "$(has "$res/latest/verdict" 'vm.max_map_count is 1000$')" "maps-runtime: the verdict gives the limit's value"
	fault maps-runtime-auto 2 "host: UML ran out of host memory or mappings" T=maps,pass PREFLIGHT=0
	ok "$(has "$res/latest/verdict" 'vm.max_map_count is 1000$')" "maps-runtime-auto: the verdict gives the limit's value"
	# git bisect run: a host fault stops the bisection (128), not "bad".
	git init -q "$work/git" && (cd "$work/git" && env TMPDIR="$tmp" OUT="$work/bisect" \
		"$TOP/runner/bisect" >"$work/bisect.out" 2>&1)
	rc=$?
	ok "$([ "$rc" = 128 ] && grep -q 'vm.max_map_count is 1000' "$work/bisect.out"; echo $?)" \
		"max_map_count 1000: runner/bisect exits 128 naming the limit" "got $rc: $(tail -n2 "$work/bisect.out" | tr '\n' ' ')"
	restore_maps
else
	for i in 1 2 3 4 5 6 7 8 9 10 11; do
		n=$((n + 1))
		echo "ok $n max_map_count checks # SKIP needs root to set vm.max_map_count"
	done
fi

# A memory cgroup too small for the guest: the pre-flight check, and the
# host's OOM killer ending UML (or a helper) when booted anyway.
memcg=
cg1=$(sed -n 's/^[0-9]*:memory:\(.*\)/\1/p' /proc/self/cgroup)
cg2=$(sed -n 's/^0:://p' /proc/self/cgroup)
if [ "$(id -u)" = 0 ] && [ -e /sys/fs/cgroup/cgroup.controllers ] &&
	mkdir "/sys/fs/cgroup$cg2/uffd-faults-$$" 2>/dev/null; then
	memcg=/sys/fs/cgroup$cg2/uffd-faults-$$
	echo 160M >"$memcg/memory.max" && echo 0 >"$memcg/memory.swap.max" 2>/dev/null
elif [ "$(id -u)" = 0 ] && [ -n "$cg1" ] && mkdir "/sys/fs/cgroup/memory$cg1/uffd-faults-$$" 2>/dev/null; then
	memcg=/sys/fs/cgroup/memory$cg1/uffd-faults-$$
	echo 160M >"$memcg/memory.limit_in_bytes"
	echo 160M >"$memcg/memory.memsw.limit_in_bytes" 2>/dev/null
fi
if [ -n "$memcg" ] && [ "$(cat "$memcg/memory.max" "$memcg/memory.limit_in_bytes" 2>/dev/null)" = 167772160 ]; then
	# in_memcg <name> <env...>: runner/check from inside the cgroup.
	in_memcg() {
		name=$1
		shift
		sh -c 'echo $$ >"$0/cgroup.procs" && exec env "$@"' "$memcg" \
			TMPDIR="$tmp" RESULTS="$work/$name" UFFD_MODE=faults "$@" \
			"$TOP/runner/check" >"$work/$name.out" 2>&1
	}
	in_memcg memcg-preflight T=pass
	ok "$(is $? 2)" "memory limit 160 MiB: pre-flight exit status 2"
	ok "$(has "$work/memcg-preflight.out" 'host: the memory limit (cgroup) is 160 MiB, UML needs')" \
		"memory limit 160 MiB: one line naming the limit" "$(tail -n1 "$work/memcg-preflight.out")"
	# Guest memory on tmpfs, as in a container's /dev/shm: charged to
	# the cgroup and not written back, so the limit ends in an OOM kill.
	shm=$work/shm
	mkdir -p "$shm"
	mount -t tmpfs -o size=512m tmpfs "$shm"
	in_memcg memcg-oom T=oom,pass PREFLIGHT=0 GUESTS=1 PHYSMEM_DIR="$shm"
	rc=$?
	umount "$shm"
	verdict=$(cat "$work/memcg-oom/latest/verdict" 2>/dev/null)
	ok "$(is "$rc" 2)" "memory limit 160 MiB, booted: exit status 2" "got $rc, '$verdict'"
	case $verdict in "host: "*OOM*) v=0 ;; *) v=1 ;; esac
	ok $v "memory limit 160 MiB, booted: a host verdict naming the OOM killer" "got '$verdict'"
	rmdir "$memcg"
else
	[ -z "$memcg" ] || rmdir "$memcg"
	for i in 1 2 3 4; do
		n=$((n + 1))
		echo "ok $n memory limit checks # SKIP needs root and a writable memory cgroup"
	done
fi

# Interrupted mid-run: Ctrl-C (SIGINT to make's process group) and
# SIGTERM to make alone (what a CI timeout sends). UML and its helpers
# must be gone within 2 s and the results say "interrupted". With two
# guests (GUESTS=2, as make check runs the scenarios; both idle) both go.
running() {	# how many UMLs are up: each has a uml_dir of its own
	pgrep -af "uml_dir=$tmp" | grep -o "uml_dir=[^ ]*" | sort -u | wc -l
}
ready() {	# all guests up; one guest in its hanging scenario (its plan out)
	[ "$(running)" -ge "$guests" ] &&
		{ [ "$guests" -gt 1 ] || grep -q '^1\.\.' "$out/results/latest/tap.txt" 2>/dev/null; }
}
interrupt() {	# interrupt <INT|TERM> <group|make> [guests]
	sig=$1 whom=$2 guests=${3:-1} name=interrupt-$1${3:+-guests-$3}
	out=$work/$name
	rm -rf "$out"
	mkdir -p "$out"
	# Makes the make a process group leader, as a shell's job would be.
	if [ "$guests" = 1 ]; then
		setsid env TMPDIR="$tmp" OUT="$out" UFFD_MODE=faults T=hang,pass \
			SCENARIO_TIMEOUT=60 make -s -C "$TOP" check >"$out.log" 2>&1 &
	else
		setsid env TMPDIR="$tmp" OUT="$out" UFFD_MODE=idle GUESTS="$guests" \
			make -s -C "$TOP" check >"$out.log" 2>&1 &
	fi
	# setsid forks only when the caller is a group leader; find make.
	i=0
	while [ $i -lt 200 ] && ! ready; do
		sleep 0.1
		i=$((i + 1))
	done
	make_pid=$(pgrep -f -n "make -s -C $TOP check")
	ok "$(test -n "$make_pid" && test "$(running)" = "$guests"; echo $?)" \
		"$name: $guests guest(s) running" "make $make_pid, $(running) running"
	if [ "$whom" = group ]; then
		kill -s "$sig" -- "-$make_pid"
	else
		kill -s "$sig" "$make_pid"
	fi
	t0=$(date +%s%N)
	while pgrep -f "uml_dir=$tmp" >/dev/null && [ $(($(date +%s%N) - t0)) -lt 2000000000 ]; do
		sleep 0.05
	done
	left=$(pgrep -f "uml_dir=$tmp" | wc -l)
	ok "$(is "$left" 0)" "$name: UML and its helpers gone within 2 s" "$left left"
	sleep 0.5
	case $(cat "$out/results/latest/verdict" 2>/dev/null) in
	interrupted*) v=0 ;;
	*) v=1 ;;
	esac
	ok $v "$name: the results say interrupted" "got '$(cat "$out/results/latest/verdict" 2>/dev/null)'"
}
interrupt INT group
interrupt TERM make
interrupt TERM make 2

# make killed by SIGTERM while check prepares a kernel (a cancelled CI
# job): make passes it to its recipe's shell only, and nothing under
# check may go on without it (here: rsync copying a KERNEL_SRC tree into
# a cache of its own, a minute of work).
cold=$work/cold-cache
if [ -d "$CACHE/kernels/debian-${KVER:-7.3}/tree/mm" ]; then
	setsid env UFFD_UML_CACHE="$cold" KERNEL_SRC="$CACHE/kernels/debian-${KVER:-7.3}/tree" \
		make -s -C "$TOP" check >"$work/cold.log" 2>&1 &
	i=0
	while [ $i -lt 300 ] && ! pgrep -f "rsync .*$cold" >/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	make_pid=$(pgrep -f -n "make -s -C $TOP check")
	ok "$(pgrep -f "rsync .*$cold" >/dev/null && test -n "$make_pid"; echo $?)" \
		"SIGTERM to make while a kernel is copied: the copy is under way"
	[ -z "$make_pid" ] || kill -TERM "$make_pid"
	t0=$(date +%s%N)
	while pgrep -f "$cold" >/dev/null && [ $(($(date +%s%N) - t0)) -lt 5000000000 ]; do
		sleep 0.1
	done
	ok "$(is "$(pgrep -f "$cold" | wc -l)" 0)" "SIGTERM to make while a kernel is copied: nothing of check left in 5 s" \
		"left: $(pgrep -af "$cold" | cut -c1-80 | head -n3 | tr '\n' ' ')"
	pkill -f "$cold"
	rm -rf "$cold"
else
	skip "SIGTERM to make while a kernel is copied: the copy is under way" "no $KVER tree in the cache"
	skip "SIGTERM to make while a kernel is copied: nothing of check left in 5 s" "no tree in the cache"
fi
# Ctrl-C while the kernel builds: SIGINT to the whole group, at its
# default (perl: a shell's background job would ignore it). Nothing of
# check may be left, and the tree's lock must be free for the next run.
# Three sources touched and no ccache make a build of some seconds.
line=debian-${KVER:-7.3}
if [ -d "$CACHE/kernels/$line/tree/mm" ] && [ -x "$CACHE/kernels/$line/build/linux" ]; then
	touch "$CACHE/kernels/$line/tree/mm/userfaultfd.c" "$CACHE/kernels/$line/tree/mm/memory.c" \
		"$CACHE/kernels/$line/tree/mm/shmem.c" "$CACHE/kernels/$line/tree/.uffd-uml-changed"
	CCACHE_DISABLE=1 perl -MPOSIX -e '$SIG{INT} = "DEFAULT"; POSIX::setsid(); exec @ARGV' \
		make -s -C "$TOP" check T=api >"$work/ctrl-c.log" 2>&1 &
	pid=$!
	i=0
	while [ $i -lt 300 ] && ! grep -q "building the UML kernel" "$work/ctrl-c.log"; do
		sleep 0.1
		i=$((i + 1))
	done
	sleep 2
	ours="uml-kernel/build $CACHE/kernels/$line/tree|runner/check"
	building=$(pgrep -fc "uml-kernel/build $CACHE/kernels/$line/tree")
	kill -s INT -- "-$pid"
	wait $pid
	# make may end before its compilers: give them 10 s.
	i=0
	while [ $i -lt 100 ] && { pgrep -f "$ours" >/dev/null ||
		! flock -n "$CACHE/kernels/$line/.lock" true; }; do
		sleep 0.1
		i=$((i + 1))
	done
	left=$(pgrep -fc "$ours")
	if [ "$building" = 0 ]; then
		skip "Ctrl-C while the kernel builds: nothing of check left, the tree's lock free" \
			"the build was over before the signal"
	else
		ok "$([ "$left" = 0 ] && flock -n "$CACHE/kernels/$line/.lock" true; echo $?)" \
			"Ctrl-C while the kernel builds: nothing of check left, the tree's lock free" \
			"$left left: $(pgrep -af "$ours" | head -n2 | tr '\n' ' ')"
	fi
	pkill -f "uml-kernel/build $CACHE/kernels/$line/tree"
else
	skip "Ctrl-C while the kernel builds: nothing left" "no $line kernel in the cache"
fi

# runner/bisect's own setup errors stop a bisection (128): git bisect run
# takes 2 for "bad". Through a symlink, in a tree that is no kernel.
mkdir -p "$work/bin" && ln -s "$TOP/runner/bisect" "$work/bin/bisect"
(cd "$work" && "$work/bin/bisect") >"$work/bisect-link.out" 2>&1
ok "$([ $? = 128 ] && grep -q 'not inside a git tree' "$work/bisect-link.out"; echo $?)" \
	"runner/bisect through a symlink, outside a git tree: 128, one line" "$(tail -n1 "$work/bisect-link.out")"
git init -q "$work/git-tree"
(cd "$work/git-tree" && UFFD_UML_CACHE="$work/a cache" "$TOP/runner/bisect") >"$work/bisect-blank.out" 2>&1
ok "$([ $? = 128 ] && grep -q 'has a blank in it' "$work/bisect-blank.out"; echo $?)" \
	"runner/bisect with a cache path that has a blank: 128, not 2 (bad)" "$(tail -n1 "$work/bisect-blank.out")"
(cd "$work/git-tree" && KERNEL_SRC=$work "$TOP/runner/bisect") >"$work/bisect-src.out" 2>&1
ok "$([ $? = 128 ] && grep -q 'is not in the tree being bisected' "$work/bisect-src.out"; echo $?)" \
	"runner/bisect with KERNEL_SRC set to another tree: 128, one line" "$(tail -n1 "$work/bisect-src.out")"

# A bad KERNEL_SRC: exit 2, one line, and nothing left in the cache.
mkdir -p "$work/not-a-kernel"
run_check notk UFFD_UML_CACHE="$cold" KERNEL_SRC="$work/not-a-kernel"
rc=$?
ok "$([ $rc = 2 ] && [ "$(has "$work/notk.out" 'is not a kernel tree')" = 0 ] && [ -z "$(ls -A "$cold/kernels" 2>/dev/null)" ]; echo $?)" \
	"a KERNEL_SRC that is no kernel tree: exit 2, one line, nothing in the cache" "$(tail -n1 "$work/notk.out"); $(ls "$cold/kernels" 2>/dev/null)"
rm -rf "$cold"

# A checkout or cache path with a blank: one line, exit 2, before any work.
git clone -q "$TOP" "$work/with blank" 2>/dev/null
make -s -C "$work/with blank" check >"$work/blank.out" 2>&1
rc=$?
ok "$(test $rc = 2 && grep -q "uffd-uml: the checkout's path has a blank in it" "$work/blank.out"; echo $?)" \
	"a checkout path with a blank: exit 2, one line" "got $rc: $(tail -n1 "$work/blank.out")"
run_check blank UFFD_UML_CACHE="$work/a cache"
rc=$?
ok "$(test $rc = 2 && grep -q "uffd-uml: UFFD_UML_CACHE ('$work/a cache') or OUT" "$work/blank.out" && test ! -e "$work/a cache"; echo $?)" \
	"a UFFD_UML_CACHE with a blank: exit 2, one line, nothing made" "got $rc: $(tail -n1 "$work/blank.out")"

# Nothing of ours is left: no guest, nothing in TMPDIR.
sleep 0.5
ok "$(is "$(pgrep -f "uml_dir=$tmp" | wc -l)" 0)" "no guest process left"
ok "$(is "$(ls -A "$tmp" | wc -l)" 0)" "nothing left in TMPDIR" "$(ls -A "$tmp" | head -n3 | tr '\n' ' ')"
[ "$failed" = 0 ]
