#!/bin/sh
# HOSTS=: make soak and make matrix spread over two machines by GNU
# parallel, here two ssh logins to 127.0.0.1 (two users, each with its own
# home and so its own kernel cache, through an sshd this test starts on a
# loopback port with keys made for it). Their results come back with the
# login named, and agree with the same runs made here. Each user's cache
# starts as a warm copy (warm-cache.sh), so nothing is built.
# Needs root (users, sshd); skipped with the reason otherwise.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/runner/lib.sh"
. "$(dirname "$0")/tap.sh"
. "$(dirname "$0")/warm-cache.sh"
work=$CACHE/hosts-test
log=$work/hosts.log

echo "TAP version 13"
[ "$(id -u)" = 0 ] || skip_all "needs root to make users and start sshd"
rm -rf "$work"
mkdir -p "$work"
if [ ! -x /usr/sbin/sshd ] || ! command -v parallel >/dev/null; then
	# The apt lists may be missing or stale on a fresh machine.
	{ apt_install openssh-server parallel || { apt-get update -qq && apt_install openssh-server parallel; }; } >>"$log" 2>&1 ||
		skip_all "apt-get install openssh-server parallel failed (log: $log)"
fi

ssh-keygen -q -t ed25519 -N '' -f "$work/host_key" &&
	ssh-keygen -q -t ed25519 -N '' -f "$work/login_key" ||
	skip_all "ssh-keygen failed"
users="uffd-uml-h1 uffd-uml-h2"
for u in $users; do
	# '*': no password, but not locked (sshd refuses locked accounts).
	id "$u" >/dev/null 2>&1 || useradd -m -p '*' -s /bin/sh "$u" ||
		skip_all "useradd $u failed"
	home=$(getent passwd "$u" | cut -d: -f6)
	rm -rf "$home/.ssh" "$home/.cache"
	mkdir -p "$home/.ssh" "$home/.cache"
	cp "$work/login_key.pub" "$home/.ssh/authorized_keys"
	warm_copy "$work/$u" "$KVER" && mv "$work/$u/cache" "$home/.cache/uffd-uml" ||
		skip_all "no warm cache of $KVER to copy: run make check first"
	rm -rf "$work/$u"
	chown -R "$u:" "$home/.ssh" "$home/.cache"
	chmod 700 "$home/.ssh"
done

mkdir -p /run/sshd
port=
for p in 22022 22122 22222 23022 24022; do
	cat >"$work/sshd_config" <<EOF
Port $p
ListenAddress 127.0.0.1
HostKey $work/host_key
PidFile $work/sshd.pid
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AllowUsers $users
EOF
	/usr/sbin/sshd -f "$work/sshd_config" -E "$work/sshd.log" || continue
	sleep 0.5
	grep -q "listening on 127.0.0.1 port $p" "$work/sshd.log" && { port=$p; break; }
	kill "$(cat "$work/sshd.pid" 2>/dev/null)" 2>/dev/null
done
[ -n "$port" ] || skip_all "sshd would not start on a loopback port (log: $work/sshd.log)"
trap 'kill "$(cat "$work/sshd.pid")" 2>/dev/null' EXIT
cat >"$work/ssh_config" <<EOF
Host *
  Port $port
  IdentityFile $work/login_key
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  LogLevel ERROR
  BatchMode yes
EOF
for u in $users; do
	echo "ssh -F $work/ssh_config $u@127.0.0.1"
done >"$work/hosts"

echo "1..6"
# Once here, then over the two logins: 4 runs, 2 each.
make -s --no-print-directory -C "$TOP" soak N=3 HOSTS="$work/hosts" >"$work/soak.log" 2>&1
rc=$?
ok "$([ $rc = 0 ]; echo $?)" "make soak N=3 HOSTS=<two logins>: exit status 0" "got $rc: $(tail -n2 "$work/soak.log" | tr '\n' ' ')"
soak=$OUT/results/soak
ran_on=$(cat "$soak"/run-*/job.host 2>/dev/null | sed 's/.* \([^ ]*\) (.*/\1/' | sort -u | paste -sd' ' -)
ok "$([ "$ran_on" = "uffd-uml-h1@127.0.0.1 uffd-uml-h2@127.0.0.1" ]; echo $?)" "the runs came back from both logins, each named" "job.host: $ran_on"
tap_results "$soak/run-0/latest/tap.txt" >"$work/remote.results"
# The same check here, on the cache the copies came from.
make -s --no-print-directory -C "$TOP" check RESULTS="$work/local" >/dev/null 2>&1
tap_results "$work/local/latest/tap.txt" >"$work/local.results"
ok "$([ -s "$work/remote.results" ] && cmp -s "$work/remote.results" "$work/local.results"; echo $?)" \
	"the results from the logins are those of a run here" "$(diff "$work/local.results" "$work/remote.results" | grep '^[<>]' | head -n 3 | tr '\n' ' ')"

make -s --no-print-directory -C "$TOP" matrix KVERS="$KVER" HOSTS="$work/hosts" >"$work/matrix.log" 2>&1
rc=$?
ok "$([ $rc = 0 ]; echo $?)" "make matrix KVERS=$KVER HOSTS=<two logins>: exit status 0" "got $rc: $(tail -n1 "$work/matrix.log")"
line=$(grep "^$KVER " "$work/matrix.log")
ok "$(echo "$line" | grep -q ": pass: .* on uffd-uml-h[12]@127.0.0.1$"; echo $?)" "the matrix line has the verdict and the login" "$line"
# A HOSTS entry that cannot be reached is a run that did not happen, not a pass.
echo "ssh -F $work/ssh_config nobody-here@127.0.0.1" >"$work/bad-hosts"
make -s --no-print-directory -C "$TOP" matrix KVERS="$KVER" HOSTS="$work/bad-hosts" >"$work/bad.log" 2>&1
rc=$?
ok "$([ $rc = $EXIT_SETUP ]; echo $?)" "an unreachable login: matrix exits 2, naming no verdict" "got $rc: $(tail -n1 "$work/bad.log")"
[ "$failed" = 0 ]
