# Sourced by the .t files that run make check somewhere else (another
# user, a container): a copy of this checkout and of what a warm check
# reads from the kernel cache (the kernel binary, its config record, the
# UAPI headers, the tree's markers), so nothing is rebuilt there and the
# runs write only under the copy.

# warm_copy <dir> <X.Y>: <dir>/repo and <dir>/cache from TOP and CACHE.
warm_copy() {
	ws=$CACHE/kernels/debian-$2
	k=$1/cache/kernels/debian-$2
	mkdir -p "$k/tree/usr" "$k/build" &&
	rsync -a --exclude=/out/ --exclude=/.git/ "$TOP/" "$1/repo/" &&
	cp -a "$ws/headers" "$ws/applied.patch" "$k/" &&
	cp -a "$ws/tree/.uffd-uml-source" "$ws/tree/.uffd-uml-changed" "$ws/tree/Makefile" "$k/tree/" &&
	cp -a "$ws/tree/usr/gen_init_cpio.c" "$k/tree/usr/" &&
	mkdir -p "$k/tree/arch/um/os-Linux" &&
	cp -a "$ws/tree/arch/um/os-Linux/start_up.c" "$k/tree/arch/um/os-Linux/" &&
	cp -a "$ws/build/linux" "$ws/build/.config" "$ws/build/.uffd-uml-config-inputs" "$k/build/" || return
	# A Debian source that runner/deps downloaded lives in the cache too.
	if [ -f "$CACHE/debian/linux-source-$2.tar.xz" ]; then
		mkdir -p "$1/cache/debian" &&
		cp -a "$CACHE/debian/linux-source-$2.tar.xz" "$1/cache/debian/"
	fi
}
