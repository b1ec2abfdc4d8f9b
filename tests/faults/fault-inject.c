// SPDX-License-Identifier: GPL-2.0
/*
 * Faults on purpose, for runner/tests/faults.t: the appliance's verdicts
 * are checked against a guest that hangs, runs out of memory, warns,
 * oopses or panics. Same protocol as uffd-scenarios (--list, one id per
 * run, exit 0 pass / 4 skip / else fail), run by /init when
 * UFFD_MODE=faults. The kernel side is LKDTM (base.config).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int lkdtm(const char *what)
{
	int fd = open("/sys/kernel/debug/provoke-crash/DIRECT", O_WRONLY);

	if (fd < 0) {
		printf("skip: no LKDTM (/sys/kernel/debug/provoke-crash)\n");
		return 4;
	}
	if (write(fd, what, strlen(what)) < 0)
		printf("write %s: %m\n", what);
	close(fd);
	return 0;
}

static int pass(void)
{
	return 0;
}

/* Never returns: the runner's per-scenario timeout must end it. */
static int hang(void)
{
	for (;;)
		pause();
	return 1;
}

/* Touches anonymous memory until the OOM killer ends it. */
static int oom(void)
{
	const size_t chunk = 16UL << 20;

	for (;;) {
		char *p = mmap(NULL, chunk, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p != MAP_FAILED)
			memset(p, 1, chunk);
	}
	return 1;
}

/*
 * Touches every other page of 64 MiB: UML maps each into this process's
 * host process as a mapping of its own, 8192 of them, which a low
 * vm.max_map_count on the host refuses (UML then kills the process).
 */
static int maps(void)
{
	const size_t len = 64UL << 20, step = 2 * 4096;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t off;

	if (p == MAP_FAILED)
		return 1;
	for (off = 0; off < len; off += step)
		p[off] = 1;
	return 0;
}

/*
 * Fails as a race row fails when the host kept it from its window
 * (tests/race-fill.c): runner/bisect must skip, not blame, such a run.
 */
static int window(void)
{
	printf("window not reached: 0 rounds of 100, want 5\n");
	return 1;
}

/* Sleeps in the kernel, uninterruptibly, for good: SIGKILL cannot end it. */
static int stuck(void) { return lkdtm("HUNG_TASK"); }
static int warn(void) { return lkdtm("WARNING"); }
static int bug(void) { return lkdtm("BUG"); }
static int panic_(void) { return lkdtm("PANIC"); }

static const struct { const char *id; int (*run)(void); } faults[] = {
	{ "pass", pass },
	{ "hang", hang },
	{ "stuck", stuck },
	{ "window", window },
	{ "oom", oom },
	{ "maps", maps },
	{ "warn", warn },
	{ "bug", bug },
	{ "panic", panic_ },
};

int main(int argc, char **argv)
{
	size_t i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		if (argc == 2 && !strcmp(argv[1], "--list"))
			printf("%s\n", faults[i].id);
		else if (argc == 2 && !strcmp(argv[1], faults[i].id))
			return faults[i].run();
	}
	return argc == 2 && !strcmp(argv[1], "--list") ? 0 : 2;
}
