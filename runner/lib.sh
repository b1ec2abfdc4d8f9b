# Shared by the POSIX sh steps: settings with their defaults, and the one
# way of failing. Sourced, not run.

# Every failure is one line on stderr and a defined exit status. Under
# make, the line goes to $UFFD_UML_ERRFILE instead so that make prints it
# as its own error (see Makefile).
die() {
	code=$1
	shift
	if [ -n "${UFFD_UML_ERRFILE:-}" ]; then
		printf 'uffd-uml: %s\n' "$*" >"$UFFD_UML_ERRFILE"
	else
		printf 'uffd-uml: %s\n' "$*" >&2
	fi
	exit "$code"
}

say() {
	printf 'uffd-uml: %s\n' "$*" >&2
}

# sub_check [VAR=value...]: runner/check for a driver that reports the
# outcome itself (test's second kernel, matrix, bisect, soak, mutants).
# check's one-line error, if any, is left in $check_err (without the
# "uffd-uml: ") instead of going up to make as the driver's own. Returns
# check's status.
sub_check() {
	mkdir -p "$OUT"
	# A driver ended by a signal left its file: gone once its pid is. (A
	# trap here would hold a SIGTERM off until check ends, which dash
	# waits for.)
	for f in "$OUT"/.check-err.*; do
		[ -e "$f" ] && [ ! -d "/proc/${f##*.}" ] && rm -f "$f" || :
	done
	check_errfile=$OUT/.check-err.$$
	: >"$check_errfile"
	env "$@" UFFD_UML_ERRFILE="$check_errfile" "$TOP/runner/check"
	check_rc=$?
	check_err=$(sed 's/^uffd-uml: //' "$check_errfile")
	rm -f "$check_errfile"
	return $check_rc
}

# run_jobs ROOT JOBS [DONE]: each line of file JOBS, "NAME [VAR=value...]",
# is one runner/check with those settings, its results in ROOT/NAME/ (see
# runner/job); DONE, a function, is then called with NAME. Here one after
# the other; with HOSTS (a file of ssh logins) spread over those machines
# by GNU parallel (runner/hosts), and DONE called for each once all are
# back, in the order of JOBS. Stops at a job ended by a signal (an
# interrupt). Returns 0, else the status of that job or of runner/hosts.
run_jobs() {
	if [ -n "${HOSTS:-}" ]; then
		"$TOP/runner/hosts" "$1" "$2" || return
	fi
	while read -r line <&3; do
		if [ -z "${HOSTS:-}" ]; then
			# shellcheck disable=SC2086
			"$TOP/runner/job" "$1" $line
			rc=$?
			[ $rc -lt 128 ] || return $rc
		fi
		[ -z "${3:-}" ] || "$3" "${line%% *}"
	done 3<"$2"
	return 0
}

# job_where DIR: " on <login>" for a job of DIR that ran on a machine of
# HOSTS (the last word of its ssh login, user@host), else nothing.
job_where() {
	[ -n "${HOSTS:-}" ] && [ -f "$1/job.host" ] &&
		sed 's/^.* \([^ ]*\) (.*/ on \1/; s/^local (.*//' "$1/job.host"
}

# True if scenario id matches one of the globs.
matches() {	# matches <id> <comma-separated globs>
	id=$1
	IFS=,
	for g in $2; do
		# shellcheck disable=SC2254
		case $id in $g) unset IFS; return 0 ;; esac
	done
	unset IFS
	return 1
}

# mount_allows_exec DIR: DIR is a mount point of its own (the last one
# mounted there counts) whose options do not say noexec. Reads
# /proc/self/mountinfo in the shell, no exec.
mount_allows_exec() {
	found=
	while read -r _ _ _ _ mnt opts _; do
		[ "$mnt" = "$1" ] || continue
		case ,$opts, in *,noexec,*) found=no ;; *) found=yes ;; esac
	done </proc/self/mountinfo 2>/dev/null
	[ "$found" = yes ]
}

# The tightest memory limit on this process's cgroup and its ancestors,
# in KiB (v2 memory.max, v1 memory.limit_in_bytes). Fails when there is
# none or none can be read.
memcg_limit_kib() {
	if [ -e /sys/fs/cgroup/cgroup.controllers ] && cg=$(cgroup_of v2); then
		base=/sys/fs/cgroup file=memory.max
	else
		cg=$(cgroup_of memory) || cg=
		base=/sys/fs/cgroup/memory file=memory.limit_in_bytes
	fi
	[ -n "$cg" ] || return 1
	best=
	while :; do
		read -r v 2>/dev/null <"$base$cg/$file" || v=
		# v1 says "no limit" with a page-rounded LONG_MAX.
		case $v in [0-9]*) [ ${#v} -ge 19 ] || { [ -n "$best" ] && [ "$best" -le "$v" ]; } || best=$v ;; esac
		[ "$cg" = / ] && break
		cg=${cg%/*}
		[ -n "$cg" ] || cg=/
	done
	[ -n "$best" ] || return 1
	echo $((best / 1024))
}

# cgroup_of v2|<v1 controller>: this process's cgroup, as /proc/self/cgroup
# gives it (Documentation/admin-guide/cgroup-v2.rst, "Processes"): the
# "0::" line on v2, the line listing the controller on v1. Read by the
# shell: on a VM where every exec is dear, make check avoids them.
cgroup_of() {
	while IFS=: read -r id ctls path; do
		case $1 in
		v2) [ "$id$ctls" = 0 ] && echo "$path" && return 0 ;;
		*) case ,$ctls, in *,"$1",*) echo "$path"; return 0 ;; esac ;;
		esac
	done </proc/self/cgroup
	return 1
}

# Exit statuses, as README.md documents them.
EXIT_BAD=1
EXIT_SETUP=2
EXIT_PATCH=3	# a carried patch does not apply to the tree

# The least vm.max_map_count runner/check lets a run start with (see there).
MIN_MAP_COUNT=16384

# The checkout: above the script that sources this (its directory is
# "here"), whatever TOP the environment has; or TOP as the
# runner/tests/*.t that source it set it.
if [ -n "${here:-}" ] || [ ! -f "${TOP:-}/runner/lib.sh" ]; then
	TOP=$(cd "${here:-${0%/*}}/.." && pwd)
fi
KVER=${KVER:-7.3}
CACHE=${UFFD_UML_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/uffd-uml}
OUT=${OUT:-$TOP/out}
# Kbuild takes O= relative to the tree it builds, not to here.
case $CACHE in /*) ;; *) CACHE=$PWD/$CACHE ;; esac
case $OUT in /*) ;; *) OUT=$PWD/$OUT ;; esac
# A blank in these paths would be split by make and by these scripts,
# and Kbuild refuses one in its trees ("source directory cannot contain
# spaces or colons"): one line here rather than errors further on.
case $TOP in *[[:space:]]*)
	die $EXIT_SETUP "the checkout's path has a blank in it ('$TOP'): make and these scripts cannot work there; clone it to a path without one" ;;
esac
case $CACHE$OUT in *[[:space:]]*)
	die $EXIT_SETUP "UFFD_UML_CACHE ('$CACHE') or OUT ('$OUT') has a blank in it, which Kbuild and these scripts cannot take: choose a path without one" ;;
esac
# JOBS (kernel build parallelism) defaults to nproc in uml-kernel/build.
BUSYBOX=${BUSYBOX:-/bin/busybox}
MUSL_CC=${MUSL_CC:-musl-gcc}
# Debian's source of KVER: the installed linux-source package's, else the
# one runner/deps downloads for a line whose suite the host does not have.
DEBIAN_TARBALL=/usr/src/linux-source-$KVER.tar.xz
[ -f "$DEBIAN_TARBALL" ] || [ ! -f "$TOP/uml-kernel/$KVER/debian-suite" ] ||
	DEBIAN_TARBALL=$CACHE/debian/linux-source-$KVER.tar.xz
# loops_per_jiffy for the guest's command line (see runner/check): what
# UML measures on a 2 GHz-class x86 host.
UML_LPJ=19480576

# usable_cpus: the host CPUs this process can keep busy: its affinity
# mask (nproc), capped by a CFS quota on its cgroup, rounded up (a CI
# container started with --cpus=1 sees every CPU in nproc yet gets one's
# worth of time, and a second guest there only halves the first). The
# quota is cpu.max on cgroup v2, cpu.cfs_quota_us / cpu.cfs_period_us on
# v1 (Documentation/admin-guide/cgroup-v2.rst, scheduler/sched-bwc.rst),
# on the cgroup and its parents, below where the hierarchy is mounted:
# inside a container its own cgroup is the mount's root.
usable_cpus() (
	n=$(nproc 2>/dev/null || echo 1)
	# cpu_quota <mount> <cgroup path> <quota file>: lowers n to the
	# quota of the cgroup or of any parent, rounded up.
	cpu_quota() {
		path=$2
		while :; do
			f=$1${path%/}/$3
			if [ -r "$f" ]; then
				case $3 in
				cpu.max) read -r q p <"$f" ;;
				*) q= p=; read -r q <"$f" && read -r p <"${f%quota_us}period_us" || q= ;;
				esac
				case $q$p in
				*[!0-9]*|'') ;;	# "max" or -1: no quota here
				*) [ "$p" -gt 0 ] && q=$(((q + p - 1) / p)) &&
					[ "$q" -ge 1 ] && [ "$q" -lt "$n" ] && n=$q ;;
				esac
			fi
			[ -n "$path" ] && [ "$path" != / ] || return 0
			path=${path%/*}
		done
	}
	v2=$(cgroup_of v2) || v2=
	v1=$(cgroup_of cpu) || v1=
	cpu_quota /sys/fs/cgroup "$v2" cpu.max
	cpu_quota /sys/fs/cgroup/cpu "$v1" cpu.cfs_quota_us
	cpu_quota /sys/fs/cgroup/cpu,cpuacct "$v1" cpu.cfs_quota_us
	echo "$n"
)

# Kernel lines. What differs between kernel lines lives in uml-kernel/<X.Y>/
# (patches/, mutants/, fixes/, config, known-regressions, debian-suite);
# a tree takes each of them from the newest line not above its version
# that has it, so a line says only what changed since the line below. A
# patch or mutant that a newer line shares with an older one is a symlink
# to the older line's file, not a copy.

vnum() {	# X.Y as one number that orders as versions do (6.1 < 6.9 < 6.12)
	echo $((${1%%.*} * 1000 + ${1#*.}))
}

tree_version() {	# tree_version TREE: X.Y from its top Makefile
	# Read by the shell: make check asks three times, and on a VM
	# where every exec is dear, a sed each time is felt. Like the sed
	# it replaced: nothing printed (and success) where either line is
	# missing, status 2 where the Makefile cannot be read.
	[ -r "$1/Makefile" ] && [ -f "$1/Makefile" ] || return 2
	tv_v= tv_p=
	while read -r tv_key tv_eq tv_val || [ -n "$tv_key" ]; do
		[ "$tv_eq" = = ] || continue
		case $tv_key in
		VERSION) tv_v=$tv_val ;;
		PATCHLEVEL) tv_p=$tv_val; break ;;
		esac
	done <"$1/Makefile"
	[ -z "$tv_v" ] || [ -z "$tv_p" ] || echo "$tv_v.$tv_p"
}

# debian_mirror: the URI of the Debian archive in the host's own apt
# sources (the entry that serves its release, not -security or -updates).
debian_mirror() {
	codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
	[ -n "$codename" ] || return 1
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
		/etc/apt/sources.list.d/*.sources 2>/dev/null |
	awk -v want="$codename" '
		/^[ \t]*deb[ \t]/ {
			sub(/\[[^]]*\]/, "")
			if ($3 == want) { print $2; exit }
		}
		/^[ \t]*$/ { uris = ""; suites = ""; next }
		/^URIs:/ { uris = $2 }
		/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == want) suites = 1 }
		uris != "" && suites { print uris; exit }'
}

# UML's seccomp userspace mode (seccomp=, arch/um/os-Linux/start_up.c):
# a guest page fault is one futex round trip instead of three ptrace stops
# of the process. 7.x has it, 6.x not.
has_seccomp_mode() {	# has_seccomp_mode TREE
	grep -q '"seccomp="' "$1/arch/um/os-Linux/start_up.c" 2>/dev/null
}

# auto_guests FILE MAX [TIMED]: the guests (1 to MAX) a full make check on
# this host should run, then why, on one line ("2 <why>"). TIMED=0: this
# run will not be recorded (T=, a mutant), so it times no count and takes
# the best the timings show. FILE holds earlier
# passing full runs as "guests results wall-ms" (supervise -R). From one
# guest up, each count and the next are timed 3 times each, in turn; a
# guest more is kept only if it makes a result 25% faster, by the median
# of each count's last 3 runs: it takes a host CPU from the user's other
# work, and MEM + SWAP. Every tenth run times a neighbouring count again,
# so that a host whose speed changed is followed. Issue 20: on a
# paravirtualized 2-vCPU host a second guest bought 1.0-1.2x.
auto_guests() {
	cat "$1" 2>/dev/null | awk -v max="$2" -v timed="${3:-1}" '
	$1 ~ /^[1-8]$/ && $2 > 0 && $3 > 0 { k = $1; v[k, ++n[k]] = $3 / $2; runs++ }
	function med(k,   c, i, j, m, a, t) {
		m = 0
		for (c = n[k]; c > 0 && m < 3; c--)
			a[++m] = v[k, c]
		for (i = 1; i <= m; i++)
			for (j = i + 1; j <= m; j++)
				if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return a[int((m + 1) / 2)]
	}
	function known(   j, s) {
		for (j = 1; j <= max; j++)
			if (n[j])
				s = s (s ? ", " : "") sprintf("%.1f ms with %d", med(j), j)
		return s ? "; a result took " s : ""
	}
	function timing(k, again) {
		print k, "timing " k " guest" (k > 1 ? "s" : "") " on this host" again known()
		exit
	}
	END {
		why = "a guest more made a result less than 25% faster"
		for (k = 1; k < max; k++) {
			if (n[k] < 3 || n[k + 1] < 3) {
				if (timed)
					timing(n[k + 1] < n[k] ? k + 1 : k, "")
				why = "the most timed so far (this run is not timed)"
				break
			}
			if (med(k + 1) * 1.25 > med(k))
				break
		}
		if (timed && runs % 10 == 9)
			timing(k < max ? k + 1 : k - 1, " again (every tenth run)")
		print k, (k == max ? "as many as fit this host" : why) known()
	}'
}

# tap_results TAP: its result lines for comparing runs: without their
# numbers, sorted (with several guests results arrive in whichever
# order), and each guest's taint check as one kernel-untainted (the
# number of guests may differ: GUESTS unset is picked per machine).
tap_results() {
	sed -n 's/^\(ok\|not ok\) [0-9]* /\1 /p' "$1" 2>/dev/null |
		sed 's,^\(ok\|not ok\) kernel-untainted/guest-[0-9]*-of-[0-9]*,\1 kernel-untainted,' |
		sort -u
}

# window_misses_only RUN: the run in results directory RUN failed only
# because race rows did not reach their windows often enough (verdict
# "fail:", and summary.json's counts.window_not_reached is all its
# failures): a host busy with other work cannot judge the kernel that
# way. runner/bisect skips such a commit (125); runner/mutants does not
# count such a run as a kill, so that no mutant relies on it.
window_misses_only() {
	case $(cat "$1/verdict" 2>/dev/null) in fail:*) ;; *) return 1 ;; esac
	sed -n 's/.*"fail": \([0-9]*\),.*"window_not_reached": \([0-9]*\).*/\1 \2/p' \
		"$1/summary.json" 2>/dev/null | {
		read -r _f _w && [ "$_f" -gt 0 ] && [ "$_f" = "$_w" ]
	}
}

# line_dir X.Y ITEM: uml-kernel/<line> for ITEM as a tree of version X.Y
# gets it; fails if no line up to X.Y has ITEM.
line_dir() {
	_want=$(vnum "$1")
	_best=-1
	_found=
	for _d in "$TOP"/uml-kernel/[0-9]*.*/; do
		_d=${_d%/}
		[ -e "$_d/$2" ] || continue
		_n=$(vnum "${_d##*/}")
		[ "$_n" -le "$_want" ] && [ "$_n" -gt "$_best" ] || continue
		_found=$_d
		_best=$_n
	done
	[ -n "$_found" ] && echo "$_found"
}

kernel_lines() {	# every X.Y of uml-kernel/, oldest first, space-separated
	(cd "$TOP/uml-kernel" && ls -d [0-9]*.*) | sort -t. -k1,1n -k2,2n | tr '\n' ' ' | sed 's/ $//'
}

oldest_line() {	# oldest_line ITEM: the oldest X.Y that has ITEM
	for _d in "$TOP"/uml-kernel/[0-9]*.*/; do
		_d=${_d%/}
		[ -e "$_d/$1" ] && echo "${_d##*/}"
	done | sort -t. -k1,1n -k2,2n | head -n1
}

# A process's parent, from /proc/<pid>/stat ("pid (comm) state ppid ...").
ppid_of() {
	sed 's/.*) [A-Za-z] \([0-9]*\) .*/\1/' "/proc/$1/stat" 2>/dev/null
}

# kill_tree <pid>: SIGTERM to pid and everything under it but
# $kill_tree_skip (the caller, if under it). Each process is stopped
# before its children are listed, so that none it starts after is
# missed, and all are sent SIGCONT with their SIGTERM.
kill_tree() {
	[ "$1" != "${kill_tree_skip:-}" ] || return 0
	kill -STOP "$1" 2>/dev/null || return 0
	for c in $(cat "/proc/$1/task/"*/children 2>/dev/null); do
		kill_tree "$c"
	done
	kill -TERM "$1" 2>/dev/null
	kill -CONT "$1" 2>/dev/null
}

# watch_parent: ends this script's whole process tree when its parent
# goes. make killed by SIGTERM passes it to its recipe's shell only, and
# a kernel build under the script would go on for minutes with nobody to
# wait for it (a cancelled CI job). The watcher is a process of its own
# (its $$ is not ours), looking once a second; unwatch_parent ends it.
watch_parent() {
	[ "$PPID" != 1 ] || return 0
	sh -c 'here=$0
		. "$here/lib.sh"
		kill_tree_skip=$$
		while [ "$(ppid_of "$1")" = "$2" ]; do sleep 1; done
		[ ! -d "/proc/$1" ] || kill_tree "$1"' "$TOP/runner" $$ "$PPID" &
	parent_watcher=$!
}

unwatch_parent() {
	[ -z "${parent_watcher:-}" ] || kill_tree "$parent_watcher"
	parent_watcher=
}
