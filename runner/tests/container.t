#!/bin/sh
# make check in a CI container, as users run it: a Debian image made from
# Debian packages with mmdebstrap (no registry image), started by podman
# with the engine's default seccomp profile and /dev/shm (64 MiB), no
# /dev/kvm, no network, as a user without root inside. The guest gets a
# warm copy (warm-cache.sh) mounted, so nothing is rebuilt.
#
# Needs root on the host (to install podman and mmdebstrap, and for the
# image); skipped with the reason where the host cannot run containers.
# On hosts that refuse to set rlimits podman needs default_ulimits = [],
# given here in a containers.conf of our own, and the runc runtime.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/runner/lib.sh"
. "$(dirname "$0")/tap.sh"
. "$(dirname "$0")/warm-cache.sh"
work=$CACHE/container
log=$work/container.log
uid=1000

echo "TAP version 13"
[ "$(id -u)" = 0 ] || skip_all "needs root for podman and mmdebstrap"
mkdir -p "$work"
: >"$log"
if ! command -v podman >/dev/null || ! command -v mmdebstrap >/dev/null ||
	! command -v runc >/dev/null; then
	# The apt lists may be missing or stale on a fresh machine.
	{ apt_install podman mmdebstrap runc uidmap || { apt-get update -qq && apt_install podman mmdebstrap runc uidmap; }; } >>"$log" 2>&1 ||
		skip_all "apt-get install podman mmdebstrap runc uidmap failed (log: $log)"
fi
printf '[containers]\ndefault_ulimits = []\n' >"$work/containers.conf"
export CONTAINERS_CONF="$work/containers.conf"
podman() { command podman --runtime runc "$@"; }
podman info >>"$log" 2>&1 || skip_all "podman cannot run here: $(tail -n1 "$log")"

# What runner/deps wants, and nothing else: deps itself must find it all.
pkgs="make gcc libc6-dev flex bison bc cpio rsync git patch ccache xz-utils perl musl-tools busybox-static"
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
tag=$(printf '%s %s' "$codename" "$pkgs" | cksum | cut -d' ' -f1)
image=localhost/uffd-uml-ci:$tag
if ! podman image exists "$image"; then
	mirror=$(debian_mirror) || skip_all "no Debian archive in /etc/apt/sources* for mmdebstrap"
	rm -f "$work/rootfs.tar"
	mmdebstrap --variant=apt --include="$(echo "$pkgs" | tr ' ' ,)" \
		--customize-hook="chroot \"\$1\" useradd -m -u $uid ci" \
		"$codename" "$work/rootfs.tar" "$mirror" >>"$log" 2>&1 ||
		{ echo "1..1"; echo "not ok 1 mmdebstrap $codename (log: $log)"; exit 1; }
	podman import "$work/rootfs.tar" "$image" >>"$log" 2>&1 ||
		{ echo "1..1"; echo "not ok 1 podman import (log: $log)"; exit 1; }
	rm -f "$work/rootfs.tar"
fi

echo "1..6"
dir=$work/run
rm -rf "$dir"
warm_copy "$dir" "$KVER" || { echo "not ok 1 copying the checkout and the warm cache"; exit 1; }
chown -R "$uid:$uid" "$dir"
# The host's tmpfs PHYSMEM is not there: /tmp is the container's own.
podman run --rm --network none --user "$uid:$uid" -v "$dir:/w" -w /w/repo \
	-e HOME=/w -e TMPDIR=/tmp -e KVER="$KVER" "$image" sh -c '
	echo "uid $(id -u)"
	[ -e /dev/kvm ] && echo "kvm present"
	df -k /dev/shm | awk "NR == 2 { print \"shm \" \$2 }"
	grep -h "^Seccomp:" /proc/self/status
	exec make check UFFD_UML_CACHE=/w/cache' >"$dir/check.log" 2>&1
rc=$?
ok "$(grep -qx "uid $uid" "$dir/check.log"; echo $?)" "not root inside" "$(head -n1 "$dir/check.log")"
ok "$(! grep -q 'kvm present' "$dir/check.log"; echo $?)" "no /dev/kvm inside"
ok "$(grep -qx 'Seccomp:[[:space:]]*2' "$dir/check.log"; echo $?)" "the engine's seccomp filter is on" "$(grep Seccomp: "$dir/check.log")"
ok "$([ $rc = 0 ]; echo $?)" "make check in the container: exit status 0" "got $rc: $(tail -n1 "$dir/check.log")"
ok "$(grep -q '^uffd-uml: pass: ' "$dir/check.log"; echo $?)" "make check in the container: verdict pass" "$(grep '^uffd-uml: ' "$dir/check.log" | tail -n1)"
# A container given one CPU's worth of time (a CFS quota) still sees
# both CPUs in nproc: check must start one guest, not two that share it.
before=$(ls -d "$dir"/repo/out/results/2*/ 2>/dev/null | wc -l)
podman run --rm --network none --cpus 1 --user "$uid:$uid" -v "$dir:/w" -w /w/repo \
	-e HOME=/w -e TMPDIR=/tmp -e KVER="$KVER" "$image" \
	make check UFFD_UML_CACHE=/w/cache T='fault-roundtrip/*' >"$dir/check-cpus1.log" 2>&1
rc1=$?
res=$(ls -td "$dir"/repo/out/results/2*/ 2>/dev/null | head -n1)
guests=$(ls "$res"console*.log 2>/dev/null | wc -l)
if [ $rc1 = 125 ] && ! grep -q '^uffd-uml: ' "$dir/check-cpus1.log"; then
	n=$((n + 1))
	echo "ok $n --cpus=1: one guest # SKIP podman cannot set a CPU quota here: $(tail -n1 "$dir/check-cpus1.log")"
else
	ok "$([ $rc1 = 0 ] && [ "$(ls -d "$dir"/repo/out/results/2*/ | wc -l)" -gt "$before" ] && [ "$guests" = 1 ]; echo $?)" \
		"--cpus=1: make check passes with one guest" "status $rc1, $guests guests: $(tail -n1 "$dir/check-cpus1.log")"
fi
# Kept for the reader: the verdict, shm size and userspace mode it ran in.
summary=$(ls "$dir"/repo/out/results/*/summary.json 2>/dev/null | tail -n1)
echo "# $(grep '^shm ' "$dir/check.log") KiB /dev/shm; $(grep -o '"userspace": "[a-z]*"' "$summary" 2>/dev/null) $(grep -o '"physmem": "[^"]*"' "$summary" 2>/dev/null)"
cp "$dir/check.log" "$work/check.log"
rm -rf "$dir"
[ "$failed" = 0 ]
