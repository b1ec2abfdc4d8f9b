// SPDX-License-Identifier: GPL-2.0
/*
 * What the host charges for the page-table work UML does on every guest
 * fault, for runner/bench: map one page of a shared file over a page
 * that was mapped (mmap(MAP_FIXED), as UML's stub maps guest memory into
 * a host process) and touch it. Run alone on one CPU, then once per CPU
 * at the same time: on a host that is itself a paravirtualized guest
 * (shadow page tables) the re-fault of a changed mapping is serialized
 * between CPUs, which is what a second UML guest (GUESTS=2) pays for.
 *
 * Prints "<us> us per remap+touch" (the mean of N rounds), exit 0; 1 on
 * a failed system call.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define FILE_PAGES 4096	/* 16 MiB of a file in TMPDIR */
#define WINDOW 64	/* pages the remaps cycle through */
#define N 20000

static double now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

int main(void)
{
	long ps = sysconf(_SC_PAGESIZE);
	size_t len = FILE_PAGES * ps, i;
	const char *dir = getenv("TMPDIR");
	char path[4096];
	double t0;
	char *base;
	int fd;

	snprintf(path, sizeof(path), "%s/host-remap.XXXXXX", dir ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0 || unlink(path) || ftruncate(fd, len)) {
		perror("host-remap: file");
		return 1;
	}
	base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED) {
		perror("host-remap: mmap");
		return 1;
	}
	/* The file's pages exist and each window page is mapped once. */
	for (i = 0; i < len; i += ps)
		base[i] = 1;
	t0 = now_us();
	for (i = 0; i < N; i++) {
		char *p = base + (i % WINDOW) * ps;
		off_t off = (off_t)((i * 7919) % FILE_PAGES) * ps;

		if (mmap(p, ps, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			 fd, off) != p) {
			perror("host-remap: mmap(MAP_FIXED)");
			return 1;
		}
		p[0] = 1;
	}
	printf("%.2f us per remap+touch\n", (now_us() - t0) / N);
	return 0;
}
