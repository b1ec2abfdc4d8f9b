#!/bin/sh
# uml-kernel/prepare-source on a stand-in kernel tree (no build): what
# Kbuild will see after a sync. It decides by mtime, so a file whose
# content changed must come out newer than the last build's newest file,
# and one that did not change must keep the source's mtime.
# Run by runner/test through prove.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap '[ "$failed" = 0 ] || cat "$work/prep.log" >&2; chmod -R u+w "$work"; rm -rf "$work"' EXIT
. "$(dirname "$0")/tap.sh"

# Linux 5.0: no carried series, so prepare-source stops after the sync
# with exit 3 (EXIT_PATCH), which is all this needs.
src=$work/src
mkdir -p "$src/arch/um" "$src/mm" "$src/lib"
printf 'VERSION = 5\nPATCHLEVEL = 0\n' >"$src/Makefile"
for f in mm/userfaultfd.c lib/a.c lib/b.c lib/c.c; do echo "int $(basename "$f" .c);" >"$src/$f"; done
state=$work/cache/kernels/k
prep() {
	UFFD_UML_ERRFILE= "$TOP/uml-kernel/prepare-source" "$src" "$state/tree" >>"$work/prep.log" 2>&1
}
built() {	# what a build of the tree leaves: output newer than all of it
	mkdir -p "$state/build/lib"
	touch "$state/build/lib/a.o"
}

echo "TAP version 13"
echo "1..8"
prep
ok "$([ $? = 3 ] && cmp -s "$src/lib/a.c" "$state/tree/lib/a.c"; echo $?)" "first sync: a copy of the tree"
sleep 1.1

# Edited while a build ran: the object was built from the old copy after
# the edit, and the sync copies the edit with its older mtime.
echo "int a_edited;" >"$src/lib/a.c"
sleep 1.1
built
sleep 1.1
echo "int b_edited;" >"$src/lib/b.c"	# edited after that build
prep
ok "$([ "$state/tree/lib/a.c" -nt "$state/build/lib/a.o" ]; echo $?)" \
	"a file edited during the last build comes out newer than its output"
ok "$([ "$(stat -c %Y "$state/tree/lib/b.c")" = "$(stat -c %Y "$src/lib/b.c")" ]; echo $?)" \
	"a file edited after the last build keeps its mtime"

# Content changed with an older mtime (a restored backup), next to a new
# file: the whole-tree sync (rsync) path.
sleep 1.1
built
echo "int c_restored;" >"$src/lib/c.c"
touch -d '1 hour ago' "$src/lib/c.c"
echo "int d;" >"$src/lib/d.c"
prep
ok "$([ "$state/tree/lib/c.c" -nt "$state/build/lib/a.o" ] && grep -q c_restored "$state/tree/lib/c.c"; echo $?)" \
	"a changed file with an older mtime, synced whole-tree, comes out newer than the output"
ok "$([ "$(stat -c %Y "$state/tree/lib/b.c")" = "$(stat -c %Y "$src/lib/b.c")" ]; echo $?)" \
	"an unchanged file keeps its mtime through the whole-tree sync"

# The next whole-tree sync (another new file) leaves the freshened file
# as it is: copied again with its old time, it would be freshened, and
# rebuilt, at every sync.
was=$(stat -c %Y "$state/tree/lib/c.c")
sleep 1.1
built
echo "int e;" >"$src/lib/e.c"
prep
ok "$([ "$(stat -c %Y "$state/tree/lib/c.c")" = "$was" ] && grep -q c_restored "$state/tree/lib/c.c"; echo $?)" \
	"a freshened file is not freshened again by a later sync"

# Put back in place with its old mtime (cp -p over it: no directory
# changes), content changed: seen, and freshened.
sleep 1.1
built
cp "$src/lib/a.c" "$work/a.c.saved"
echo "int a_restored;" >"$work/a.c.saved"
touch -d '2 hours ago' "$work/a.c.saved"
cp -p "$work/a.c.saved" "$src/lib/a.c"
prep
ok "$(grep -q a_restored "$state/tree/lib/a.c" && [ "$state/tree/lib/a.c" -nt "$state/build/lib/a.o" ]; echo $?)" \
	"a file put back in place with an old mtime is synced and comes out newer than the output"

# A read-only tree gives a writable copy (patches are applied to it).
chmod -R a-w "$src"
rm -rf "$state"
prep
mode=$(find "$state/tree" ! -perm -u+w | head -n3)
ok "$([ -z "$mode" ]; echo $?)" "a read-only tree gives a writable copy" "not writable: $mode"
[ "$failed" = 0 ]
