#!/bin/sh
# make check as an unprivileged user, once the packages are installed:
# UML needs no root. The user gets a warm copy (warm-cache.sh) in its
# home. Needs root to create the user.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$(dirname "$0")/tap.sh"
. "$(dirname "$0")/warm-cache.sh"
CACHE=${UFFD_UML_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/uffd-uml}
user=uffd-uml-test
kver=${KVER:-7.3}

echo "TAP version 13"
echo "1..3"
if [ "$(id -u)" != 0 ] || ! command -v runuser >/dev/null || ! command -v useradd >/dev/null; then
	echo "ok 1 # SKIP needs root, runuser and useradd to make a user"
	echo "ok 2 # SKIP needs root, runuser and useradd to make a user"
	echo "ok 3 # SKIP needs root, runuser and useradd to make a user"
	exit 0
fi
id "$user" >/dev/null 2>&1 || useradd -m -s /bin/sh "$user" ||
	{ echo "not ok 1 useradd $user"; exit 1; }
home=$(getent passwd "$user" | cut -d: -f6)
dir=$home/nonroot
rm -rf "$dir"
warm_copy "$dir" "$kver" || { echo "not ok 1 copying the checkout and the warm cache"; exit 1; }
chown -R "$user:" "$dir"

# No TMPDIR: guest memory goes where it does by default, on a tmpfs of
# each guest's own in a user namespace of supervise's (PHYSMEM_THP).
runuser -u "$user" -- env -i HOME="$home" PATH="$PATH" \
	make -C "$dir/repo" check UFFD_UML_CACHE="$dir/cache" \
	T='fault-roundtrip/*,api,unprivileged,kernel-untainted' >"$dir/check.log" 2>&1
rc=$?
ok "$([ $rc = 0 ]; echo $?)" "make check as $user: exit status 0" "got $rc: $(tail -n1 "$dir/check.log")"
ok "$(grep -q '^uffd-uml: pass: ' "$dir/check.log"; echo $?)" "make check as $user: verdict pass" "$(grep '^uffd-uml: ' "$dir/check.log" | tail -n1)"
physmem=$(perl -MJSON::PP -e 'local $/; print decode_json(<STDIN>)->{host}{physmem}' \
	<"$dir/repo/out/results/latest/summary.json" 2>/dev/null)
if runuser -u "$user" -- unshare -Urm true 2>/dev/null && [ "$(stat -f -c %T /dev/shm)" = tmpfs ]; then
	case $physmem in *huge=always*) v=0 ;; *) v=1 ;; esac
	ok $v "make check as $user: guest memory on huge=always tmpfs, in a user namespace" "host.physmem: '$physmem'"
else
	skip "make check as $user: guest memory on huge=always tmpfs" "no unprivileged user namespace here"
fi
rm -rf "$dir"
[ "$failed" = 0 ]
