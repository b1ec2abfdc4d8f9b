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
