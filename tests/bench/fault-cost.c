// SPDX-License-Identifier: GPL-2.0
/*
 * What a page fault costs inside the guest, for runner/bench: the same
 * binary under UML and under QEMU TCG, timed by the guest's own clock.
 * Same protocol as uffd-scenarios (--list, one id per run, exit 0 pass /
 * 4 skip / else fail), run by /init when UFFD_MODE=fault-cost. Each row
 * prints one line,
 *
 *   fault-cost <id>: <median> us per <op> (<rounds> rounds of <n> <ops>)
 *
 * which bench reads from the console. A round is timed as a whole and
 * divided by what it did: clock_gettime() is a system call on UML (no
 * vDSO), as dear as a fault, so timing each fault alone would time the
 * clock. The median of the rounds, so that a round the host preempted
 * does not move it.
 *
 *   first-touch  a write to a never-touched anonymous page: the kernel
 *                allocates and maps a zeroed page
 *   uffd-missing the same write to memory registered for MISSING faults:
 *                the writer blocks, a handler thread reads the message,
 *                UFFDIO_COPY maps the page and wakes the writer
 *   mapped-touch the same write to a page already mapped by the kernel
 *                (MADV_POPULATE_WRITE): no guest fault; on UML what is
 *                left is the host's first touch of the page by this
 *                host process
 *   spawn        not a fault: posix_spawn() of this static program, which
 *                exits at once, and waitpid(), as tap-runner starts every
 *                scenario (on UML a new host process and the faults of
 *                its pages)
 *
 * Each checks what it measured (the fault's address, the copied bytes,
 * the child's exit status), so that a broken path fails instead of
 * being timed.
 */
#define _GNU_SOURCE
#include <spawn.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../uffd-common.h"

#define PAGES	1024
#define ROUNDS	5
#define SPAWNS	32

extern char **environ;

struct handler {
	int uffd;
	char *base;
	size_t ps;
	const char *src;
	int err;		/* first failure, as a line already printed */
};

/* Serves the round's PAGES faults, in whatever order they come. */
static void *handle(void *arg)
{
	struct handler *h = arg;
	struct uffd_msg msg;
	size_t n;

	for (n = 0; n < PAGES; n++) {
		unsigned long addr;
		int ret = uffd_read_msg(h->uffd, &msg, WAIT_MS);

		if (ret <= 0) {
			diag("fault %zu: no message in %d ms (%s)", n, WAIT_MS,
			     ret ? strerror(-ret) : "timeout");
			h->err = FAIL;
			break;
		}
		addr = msg.arg.pagefault.address & ~(h->ps - 1);
		if (msg.event != UFFD_EVENT_PAGEFAULT ||
		    addr < (unsigned long)h->base ||
		    addr >= (unsigned long)h->base + PAGES * h->ps) {
			diag("fault %zu: event %u at %#lx, outside the round",
			     n, msg.event, addr);
			h->err = FAIL;
			break;
		}
		ret = uffd_copy(h->uffd, (void *)addr, h->src, h->ps, 0, NULL);
		if (ret) {
			diag("UFFDIO_COPY at %#lx: %s", addr, strerror(-ret));
			h->err = FAIL;
			break;
		}
	}
	return NULL;
}

static char *fresh_pages(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	/* One fault per page: no huge page fills the range at once. */
	madvise(p, len, MADV_NOHUGEPAGE);
	return p;
}

static long touch_all(char *p, size_t ps)
{
	long t0 = now_us();
	size_t i;

	for (i = 0; i < PAGES; i++)
		((volatile char *)p)[i * ps] = 1;
	return now_us() - t0;
}

/* Time of one round in us, or -1 after saying why. */
static long first_touch_round(size_t ps)
{
	char *p = fresh_pages(PAGES * ps);
	long us;

	if (!p) {
		diag("mmap: %s", strerror(errno));
		return -1;
	}
	us = touch_all(p, ps);
	munmap(p, PAGES * ps);
	return us;
}

static long uffd_missing_round(size_t ps)
{
	struct handler h = { .ps = ps };
	pthread_t thread;
	long us = -1;
	size_t i;
	int ret;

	h.src = src_pages(ps, 'u');
	h.base = fresh_pages(PAGES * ps);
	h.uffd = uffd_new(0);
	if (!h.src || !h.base || h.uffd < 0) {
		diag("setup: %s", h.uffd < 0 ? strerror(-h.uffd) : "mmap failed");
		goto out;
	}
	ret = uffd_register(h.uffd, h.base, PAGES * ps,
			    UFFDIO_REGISTER_MODE_MISSING, NULL);
	if (ret) {
		diag("UFFDIO_REGISTER: %s", strerror(-ret));
		goto out;
	}
	if (pthread_create(&thread, NULL, handle, &h)) {
		diag("pthread_create failed");
		goto out;
	}
	us = touch_all(h.base, ps);
	pthread_join(thread, NULL);
	if (h.err)
		us = -1;
	/* The write landed on the copied page, not on a page of zeroes. */
	for (i = 0; us >= 0 && i < PAGES; i++) {
		if (h.base[i * ps] != 1 || h.base[i * ps + 1] != 'u') {
			diag("page %zu: %d %d, expected 1 'u'", i,
			     h.base[i * ps], h.base[i * ps + 1]);
			us = -1;
		}
	}
out:
	if (h.uffd >= 0)
		close(h.uffd);
	if (h.base)
		munmap(h.base, PAGES * ps);
	if (h.src)
		munmap((void *)h.src, ps);
	return us;
}

/*
 * The same stores to pages the kernel has already mapped: no guest fault.
 * What is left is the host's side of a page that a process touches first.
 */
static long mapped_touch_round(size_t ps)
{
	char *p = fresh_pages(PAGES * ps);
	long us = -1;

	if (!p) {
		diag("mmap: %s", strerror(errno));
		return -1;
	}
	if (madvise(p, PAGES * ps, MADV_POPULATE_WRITE))
		diag("MADV_POPULATE_WRITE: %s", strerror(errno));
	else
		us = touch_all(p, ps);
	munmap(p, PAGES * ps);
	return us;
}

/* Time of SPAWNS spawns in us, or -1 after saying why. */
static long spawn_round(size_t ps)
{
	char *const argv[] = { "/tests/fault-cost", "--exit", NULL };
	long t0 = now_us();
	int i, status;
	pid_t pid;

	(void)ps;
	for (i = 0; i < SPAWNS; i++) {
		int err = posix_spawn(&pid, argv[0], NULL, NULL, argv, environ);

		if (err) {
			diag("posix_spawn %s: %s", argv[0], strerror(err));
			return -1;
		}
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status)) {
			diag("%s --exit: status %#x, expected exit 0", argv[0],
			     status);
			return -1;
		}
	}
	return now_us() - t0;
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

static const struct {
	const char *id;
	long (*round)(size_t ps);
	int ops;		/* what one round does, how many times */
	const char *op, *ops_name;
} rows[] = {
	{ "first-touch", first_touch_round, PAGES, "fault", "faults" },
	{ "uffd-missing", uffd_missing_round, PAGES, "fault", "faults" },
	{ "mapped-touch", mapped_touch_round, PAGES, "store", "stores" },
	{ "spawn", spawn_round, SPAWNS, "process", "processes" },
};

static int run(size_t row)
{
	size_t ps = sysconf(_SC_PAGESIZE);
	long us[ROUNDS];
	int i;

	for (i = 0; i < ROUNDS; i++) {
		us[i] = rows[row].round(ps);
		if (us[i] < 0)
			return FAIL;
	}
	qsort(us, ROUNDS, sizeof(*us), cmp_long);
	diag("fault-cost %s: %.2f us per %s (%d rounds of %d %s)",
	     rows[row].id, (double)us[ROUNDS / 2] / rows[row].ops,
	     rows[row].op, ROUNDS, rows[row].ops, rows[row].ops_name);
	return PASS;
}

int main(int argc, char **argv)
{
	size_t i;

	/* The program spawn_round() starts. */
	if (argc == 2 && !strcmp(argv[1], "--exit"))
		return 0;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (argc == 2 && !strcmp(argv[1], "--list"))
			diag("%s", rows[i].id);
		else if (argc == 2 && !strcmp(argv[1], rows[i].id))
			return run(i);
	}
	return argc == 2 && !strcmp(argv[1], "--list") ? PASS : 2;
}
