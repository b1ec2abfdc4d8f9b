# Sourced by the .t files: numbered TAP results and the failure count.
n=0
failed=0

ok() {	# ok <condition-status> <name> [diagnostic]
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n $2"
	else
		echo "not ok $n $2"
		[ -n "${3:-}" ] && echo "# $3"
		failed=$((failed + 1))
	fi
}

skip() {	# skip <name> <reason>
	n=$((n + 1))
	echo "ok $n $1 # SKIP $2"
}

skip_all() {	# skip_all <reason>: the whole file is skipped
	echo "1..0 # SKIP $1"
	exit 0
}

# run_check <name> <env...>: runner/check with those settings, its
# results in $work/<name> and what it printed in $work/<name>.out; its
# exit status.
run_check() {
	run_name=$1
	shift
	env RESULTS="$work/$run_name" "$@" "$TOP/runner/check" >"$work/$run_name.out" 2>&1
}

# The .t files that install what they need as root.
apt_install() {
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}
