// SPDX-License-Identifier: GPL-2.0
/*
 * What an SMP guest must give every race row: a page-table change that has
 * returned has reached user code running on the other vCPU (the TLB
 * shootdown). UML applies page-table changes to a process's host mappings
 * when it next enters user mode; with SMP, a process writing on another
 * vCPU keeps writing through its old mapping until something stops it.
 * Carried fix: "um: stop user code on other CPUs when flushing its TLB".
 */
#include "scenarios.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* Iterations; the row needs the target storing during MIN_WINDOW of them. */
#define SHOOT_ITERS	200
#define MIN_WINDOW	20
/* How long the monitor watches for late stores after each protection. */
#define WATCH_US	300

struct shoot {
	volatile unsigned long stored;	/* the target's last value stored */
	volatile int stop;
};

/*
 * The target process: registers its page for write-protection, hands the
 * uffd to the monitor and stores an ever larger value into the page, then
 * into s->stored, until told to stop. A store to the page that a
 * protection has reached stops in a WP fault, so s->stored can move on by
 * one (the store it had made to the page already) and no more.
 */
static int shoot_target(const struct ctx *c, char *p, size_t ps,
			struct shoot *s, int sock)
{
	volatile unsigned long *word = (volatile unsigned long *)p;
	unsigned long v = 0;
	int uffd;

	*word = 0;
	uffd = uffd_new(uffd_wp_features(c->mt));
	if (uffd < 0 || uffd_register(uffd, p, ps, UFFDIO_REGISTER_MODE_WP, NULL) ||
	    send_fd(sock, uffd))
		return FAIL;
	close(uffd);
	while (!s->stop) {
		*word = ++v;
		s->stored = v;
	}
	return PASS;
}

/*
 * The monitor's side: SHOOT_ITERS rounds of protect, watch, take the WP
 * fault, unprotect. window counts the rounds in which the target stored
 * while the ioctl ran (both ran at once); late those in which it stored
 * more than once after the ioctl returned, at worst worst times.
 */
static int shoot_rounds(int uffd, char *p, size_t ps, struct shoot *s,
			int *window, int *late, unsigned long *worst)
{
	unsigned long before, after, n;
	struct uffd_msg msg;
	long t;
	int i;

	for (i = 0; i < SHOOT_ITERS; i++) {
		/* The target runs: it has stored since we last woke it. */
		before = s->stored;
		for (t = now_us(); s->stored == before && now_us() - t < 100000L;)
			;
		CHECK(s->stored != before, "the target stopped storing (iteration %d)", i);

		before = s->stored;
		CHECK_EQ(uffd_writeprotect(uffd, p, ps, true), 0);
		after = s->stored;
		if (after != before)
			(*window)++;
		for (t = now_us(); now_us() - t < WATCH_US;)
			;
		n = s->stored - after;
		if (n > 1) {
			(*late)++;
			if (n > *worst)
				*worst = n;
		}
		/* The store the protection stopped. */
		CHECK_EQ(uffd_read_msg(uffd, &msg, WAIT_MS), 1);
		CHECK_EQ(msg.event, UFFD_EVENT_PAGEFAULT);
		CHECK_EQ(msg.arg.pagefault.address, (uintptr_t)p);
		CHECK(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP,
		      "fault flags %#llx, expected WP",
		      (unsigned long long)msg.arg.pagefault.flags);
		CHECK_EQ(uffd_writeprotect(uffd, p, ps, false), 0);
	}
	return PASS;
}

/*
 * smp-wp-shootdown: a monitor process write-protects the page of a target
 * that is storing into it on the other vCPU. When UFFDIO_WRITEPROTECT
 * returns, the target's next store must stop in a WP fault: the monitor
 * watches s->stored for WATCH_US and allows it one step. Too few rounds
 * in which both ran at once, and the row fails rather than passes.
 */
int smp_wp_shootdown(const struct ctx *c)
{
	size_t ps = sysconf(_SC_PAGESIZE);
	int window = 0, late = 0, sv[2], uffd, status, rc;
	unsigned long worst = 0;
	struct shoot *s;
	struct area a;
	pid_t pid;

	rc = need_cpus(2);
	if (rc != PASS)
		return rc;
	rc = need_wp(c);
	if (rc != PASS)
		return rc;
	s = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	SYS(s == MAP_FAILED ? -1 : 0);
	if (area_alloc(&a, c->mt, 1, PROT_READ | PROT_WRITE))
		return FAIL;
	SYS(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	pid = fork();
	SYS(pid);
	if (pid == 0) {
		close(sv[0]);
		_exit(shoot_target(c, a.p, ps, s, sv[1]));
	}
	close(sv[1]);
	uffd = recv_fd(sv[0]);
	rc = uffd >= 0 ? shoot_rounds(uffd, a.p, ps, s, &window, &late, &worst) : FAIL;
	s->stop = 1;
	if (rc != PASS)
		kill(pid, SIGKILL);
	SYS(waitpid(pid, &status, 0));
	CHECK(uffd >= 0, "no uffd from the target process");
	if (rc != PASS)
		return rc;
	diag("%d rounds: the target stored during the ioctl in %d (window), after it returned in %d (worst %lu stores)",
	     SHOOT_ITERS, window, late, worst);
	CHECK(late == 0,
	      "the target stored up to %lu times into a page UFFDIO_WRITEPROTECT had protected, in %d of %d rounds: its vCPU still had the writable host mapping",
	      worst, late, SHOOT_ITERS);
	CHECK(window >= MIN_WINDOW,
	      "window not reached: the target stored during the ioctl in %d of %d rounds, need %d",
	      window, SHOOT_ITERS, MIN_WINDOW);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "target status %#x", status);
	close(uffd);
	close(sv[0]);
	area_free(&a);
	munmap(s, ps);
	return PASS;
}
