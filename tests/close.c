// SPDX-License-Identifier: GPL-2.0
/*
 * Closing the uffd while faults are in flight (seed 004; scenarios.md E).
 */
#define _GNU_SOURCE
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "scenarios.h"

/*
 * E1. A baseline: a thread blocked in a userfault resumes when the uffd
 * is closed, and the fault is served normally (zeros), no signal. This
 * passes on unfixed kernels too: waiters are woken after the VMAs are
 * cleaned up.
 */
int close_blocked_fault(const struct ctx *c)
{
	struct uffd_msg msg;
	struct touch t;
	struct area a;
	int uffd;

	if (area_alloc(&a, c->mt, 1, PROT_READ | PROT_WRITE))
		return FAIL;
	uffd = uffd_for_area(&a, 0, UFFDIO_REGISTER_MODE_MISSING);
	if (uffd < 0)
		return FAIL;
	SYS(touch_start(&t, a.p, false, 1));
	CHECK_EQ(touch_wait(&t, uffd, &msg, WAIT_MS), TOUCH_WAIT_MSG);
	SYS(close(uffd));
	CHECK_EQ(touch_wait(&t, -1, &msg, WAIT_MS), TOUCH_WAIT_DONE);
	CHECK_EQ(t.state, TOUCH_DONE);
	CHECK_EQ(t.val, 0);
	return PASS;
}

/*
 * E2's timeline, in a page shared by the scenario and a watcher process.
 * The watcher is another process because on UML a thread of the walking
 * process pays for syncing every pte the walk made into the host on its
 * way back to user mode (measured: 128 MiB of zero pages took 3 ms to
 * walk and 95 ms more to sync), so it would see the walk late; another
 * process runs on time. It is forked before the walk: fork takes
 * mmap_write_lock.
 */
struct watch {
	volatile long start_us;	/* the walk began (0: not yet) */
	volatile bool done;	/* MADV_POPULATE_WRITE returned */
	long reach_us;		/* calibration: start to fault message */
	bool rt;		/* the watcher runs SCHED_FIFO */
	bool msg, window;
	long closed_at_us, close_us;	/* since start_us; close()'s own */
};

struct populate {
	char *p;
	size_t len;
	long took_us;
	struct watch *w;
};

static long do_populate(void *arg)
{
	struct populate *p = arg;
	long t0 = now_us(), ret;

	p->w->start_us = t0;
	ret = madvise(p->p, p->len, MADV_POPULATE_WRITE);
	p->took_us = now_us() - t0;
	p->w->done = true;
	return ret;
}

static void sleep_us(long us)
{
	struct timespec d = { us / 1000000, us % 1000000 * 1000 };

	if (us > 0)
		nanosleep(&d, NULL);
}

/*
 * Makes the caller SCHED_FIFO, so that its wakeup preempts the walk at
 * the walk's next cond_resched() rather than at the next tick (HZ=100
 * on UML): a CFS watcher closed 3-5 ms late, a FIFO one 0.1 ms. musl's
 * sched_setscheduler() always fails with ENOSYS, hence the raw call.
 * Returns 0 or -1 with errno.
 */
static int sched_fifo_self(void)
{
	struct sched_param sp = { .sched_priority = 1 };

	return syscall(SYS_sched_setscheduler, 0, SCHED_FIFO, &sp);
}

/*
 * The watcher: once the walk has begun, either times its arrival at the
 * registered range (close_after_us < 0), or waits close_after_us, notes
 * whether the walk is still before the registered range and closes the
 * uffd, of which it then holds the only reference.
 */
static pid_t watcher_start(int uffd, struct watch *w, long close_after_us)
{
	struct pollfd pfd = { .fd = uffd, .events = POLLIN };
	pid_t pid = fork();
	long t0;
	int n;

	if (pid)
		return pid;
	w->rt = sched_fifo_self() == 0;
	for (n = 0; !w->start_us && n < WAIT_MS * 10; n++)
		sleep_us(100);
	if (close_after_us < 0) {
		if (poll(&pfd, 1, WAIT_MS * 20) == 1)
			w->reach_us = now_us() - w->start_us;
		_exit(0);
	}
	sleep_us(w->start_us + close_after_us - now_us());
	w->closed_at_us = now_us() - w->start_us;
	w->msg = poll(&pfd, 1, 0) != 0;
	w->window = !w->msg && !w->done;
	t0 = now_us();
	close(uffd);
	w->close_us = now_us() - t0;
	_exit(0);
}

/*
 * The walk to the registered range must last several times the watcher's
 * lateness for the window to open, and long enough that a close() which
 * waits for it is told from one that does not (1 ms). Every page walked
 * is also mapped into the host process and unmapped again, which costs
 * far more than the walk itself, and memory the host has not backed yet
 * several times more: the walk starts at E2_MIN and doubles until it
 * takes E2_WALK_RT_US (SCHED_FIFO watcher) or E2_WALK_US (one that could
 * not be made FIFO), up to E2_MAX. On a VM whose host traps page table
 * updates, 16 MiB take 4 ms and 64 MiB 20 ms plus 240 ms for the host's
 * first backing of them.
 */
#define E2_MIN (16UL << 20)
#define E2_MAX (64UL << 20)
#define E2_WALK_RT_US 3000
#define E2_WALK_US 20000
#define E2_ITERATIONS 24

/*
 * Starts MADV_POPULATE_WRITE over pop with its last four pages registered
 * MISSING, and the watcher; closes this process's uffd before the walk
 * when the watcher is to close it. Returns the watcher's pid.
 */
static pid_t walk_start(struct populate *pop, size_t ps, struct bg *g,
			long close_after_us, int *uffdp)
{
	char *tail = pop->p + pop->len - 4 * ps;
	pid_t pid;
	int uffd;

	memset(pop->w, 0, sizeof(*pop->w));
	if (madvise(pop->p, pop->len, MADV_DONTNEED))
		return -1;
	uffd = uffd_new(0);
	if (uffd < 0)
		return -1;
	if (uffd_register(uffd, tail, 4 * ps, UFFDIO_REGISTER_MODE_MISSING, NULL) ||
	    (pid = watcher_start(uffd, pop->w, close_after_us)) < 0) {
		close(uffd);
		return -1;
	}
	if (close_after_us >= 0) {
		close(uffd);
		uffd = -1;
	}
	*uffdp = uffd;
	if (bg_start(g, do_populate, pop)) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	return pid;
}

/*
 * How long one MADV_POPULATE_WRITE over pop takes to reach its registered
 * tail: the part of the walk done under mmap_lock.
 */
static long walk_until_fault(struct populate *pop, size_t ps)
{
	struct bg g;
	int uffd;
	pid_t pid = walk_start(pop, ps, &g, -1, &uffd);

	if (pid < 0)
		return -1;
	waitpid(pid, NULL, 0);
	close(uffd);
	if (bg_join(&g, WAIT_MS * 20) || g.ret || !pop->w->reach_us)
		return -1;
	return pop->w->reach_us;
}

/*
 * E2. Fixed by 656710a60e36 ("userfaultfd: non-cooperative: closing the
 * uffd without triggering SIGBUS"), today VM_FAULT_RETRY: a GUP that
 * reaches a registered range after close() began must retry and fill
 * normally. Before the fix it got SIGBUS (madvise fails with EFAULT);
 * between 4.14 and the RETRY change it livelocked holding mmap_lock.
 *
 * The race is steered, not hoped for: one MADV_POPULATE_WRITE allocates
 * the pages of a big VMA and then faults on the registered tail. The
 * watcher's close() an eighth or a quarter into the walk, while it is
 * still in the big VMA (no message yet, walk not done), blocks on
 * mmap_write_lock: the window is open. The walk is sized to last a few
 * times the watcher's lateness; its length is measured once and then
 * followed from iteration to iteration, as a loaded host stretches it.
 * The first iteration that confirms the window (close() waited for the
 * walk: at least 1 ms, five times an unblocked close() on a slow host,
 * and a sixteenth of the walk) judges; if none does, the race was not
 * run and the scenario fails saying so.
 */
int close_vs_gup(const struct ctx *c)
{
	size_t ps = c->mt->page_size(), big = E2_MIN;
	struct populate pop;
	long walk_us, target_us;
	struct watch *w;
	char *region;
	int i;

	w = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	SYS(w == MAP_FAILED ? -1 : 0);
	region = mmap(NULL, E2_MAX + 4 * ps, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	SYS(region == MAP_FAILED ? -1 : 0);
	/* The walk is the end of the region, up to its registered tail. */
	pop = (struct populate){ region + E2_MAX - big, big + 4 * ps, 0, w };
	/* Also the warm-up: the first touch of guest memory is slower. */
	if (madvise(pop.p, pop.len, MADV_POPULATE_WRITE))
		return skip("MADV_POPULATE_WRITE: %s", strerror(errno));
	walk_us = walk_until_fault(&pop, ps);
	target_us = w->rt ? E2_WALK_RT_US : E2_WALK_US;
	for (;;) {
		size_t walked = big;

		SYS(walk_us < 0 ? -1 : 0);
		diag("walk of %zu MiB to the registered range: %ld us (%s watcher)",
		     big >> 20, walk_us, w->rt ? "SCHED_FIFO" : "CFS");
		if (walk_us >= target_us || big == E2_MAX)
			break;
		/* The walk takes about as much longer as it is longer. */
		while (big < E2_MAX && walk_us * (long)(big / walked) < target_us)
			big *= 2;
		pop.p = region + E2_MAX - big;
		pop.len = big + 4 * ps;
		/*
		 * Timed on its second run: the first over memory the host
		 * has not backed yet takes several times as long (8 MiB in
		 * 39 ms, then 4 ms), and the close times taken from it
		 * would all come after the walk is done.
		 */
		SYS(walk_until_fault(&pop, ps) < 0 ? -1 : 0);
		walk_us = walk_until_fault(&pop, ps);
	}

	for (i = 0; i < E2_ITERATIONS; i++) {
		struct bg g;
		pid_t pid;
		int uffd;

		pid = walk_start(&pop, ps, &g, walk_us / (i % 2 ? 4 : 8), &uffd);
		SYS(pid < 0 ? -1 : 0);
		/* A livelocked walk never ends: that is a failure, not a skip. */
		CHECK(bg_join(&g, WAIT_MS + walk_us / 1000) == 0,
		      "MADV_POPULATE_WRITE still running after close (iteration %d)", i);
		SYS(waitpid(pid, NULL, 0) == pid ? 0 : -1);
		diag("iteration %d: window %s, closed after %ld us, close took %ld us, walk %ld us, madvise %ld (%s)",
		     i, w->window ? "open" : w->msg ? "missed (fault pending)" : "missed (walk done)",
		     w->closed_at_us, w->close_us, pop.took_us, g.ret,
		     g.ret ? strerror(g.err) : "ok");
		if (pop.took_us > 0)
			walk_us = (walk_us + pop.took_us) / 2;
		if (!w->window)
			continue;
		/* Whether or not close() had to wait, nothing may fail. */
		CHECK_EQ(g.ret, 0);
		if (w->close_us < 1000 || w->close_us < walk_us / 16)
			continue;
		CHECK(all_bytes(region + E2_MAX, 0, 4 * ps), "registered range not zero");
		return PASS;
	}
	diag("race window not reached in %d iterations (close() never waited for the walk)",
	     E2_ITERATIONS);
	return FAIL;
}
