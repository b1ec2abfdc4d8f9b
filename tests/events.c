// SPDX-License-Identifier: GPL-2.0
/*
 * Non-cooperative events against the fill ioctls (scenarios.md B1-B3).
 *
 * Fixed by df2cc96e7701 ("userfaultfd: prevent non-cooperative events vs
 * mcopy_atomic races"): while an event that changes the layout is queued
 * and unread, COPY/ZEROPAGE/CONTINUE (and WRITEPROTECT) fail with -EAGAIN,
 * since the monitor cannot know whether its fill lands before or after the
 * change. 95567729173e ("userfaultfd: set the output field to -EAGAIN")
 * made the output field say so too; a759a909d42d made mmap_changing a
 * counter, so an mremap (REMAP then UNMAP) keeps it raised until both are
 * read.
 *
 * No sleeps: the producer runs in a thread, poll() says its event is
 * queued, read() releases it, and the thread is joined.
 */
#define _GNU_SOURCE
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scenarios.h"

struct trigger {
	struct area *a;
	char *target;	/* free address range for mremap */
};

static long do_remap(void *arg)
{
	struct trigger *t = arg;
	void *p = mremap(page_of(t->a, 3), t->a->ps, t->a->ps,
			 MREMAP_MAYMOVE | MREMAP_FIXED, t->target);

	return p == MAP_FAILED ? -1 : 0;
}

static long do_remove(void *arg)
{
	struct trigger *t = arg;

	return madvise(page_of(t->a, 2), t->a->ps, MADV_DONTNEED);
}

static long do_unmap(void *arg)
{
	struct trigger *t = arg;

	return munmap(page_of(t->a, 3), t->a->ps);
}

struct event_op {
	uint64_t feature;
	uint8_t type;
	long (*trigger)(void *arg);
};

static const struct event_op fork_op = {
	UFFD_FEATURE_EVENT_FORK, UFFD_EVENT_FORK, fork_and_reap };
static const struct event_op remap_op = {
	UFFD_FEATURE_EVENT_REMAP, UFFD_EVENT_REMAP, do_remap };
static const struct event_op remove_op = {
	UFFD_FEATURE_EVENT_REMOVE, UFFD_EVENT_REMOVE, do_remove };
static const struct event_op unmap_op = {
	UFFD_FEATURE_EVENT_UNMAP, UFFD_EVENT_UNMAP, do_unmap };

/*
 * The output field carries -EAGAIN since 95567729173e (6.9; not in 6.1.y).
 * Older kernels leave it as it was, which is all that can be asked.
 */
static int64_t want_out(void)
{
	static int older = -1;

	if (older < 0) {
		older = kernel_older_than(6, 9);
		if (older)
			diag("output field: this kernel predates its -EAGAIN (6.9), expecting it untouched");
	}
	return older ? SENTINEL : -EAGAIN;
}

/* WRITEPROTECT has no output field; the others must carry -EAGAIN. */
static int fills_refused(int uffd, const struct area *a, const char *src,
			 bool wp)
{
	struct uffdio_writeprotect w = {
		.range = { (uintptr_t)page_of(a, 0), a->ps },
		.mode = UFFDIO_WRITEPROTECT_MODE_WP,
	};
	int64_t out;

	CHECK_EQ(uffd_copy(uffd, page_of(a, 0), src, a->ps, 0, &out), -EAGAIN);
	CHECK_EQ(out, want_out());
	CHECK_EQ(uffd_zeropage(uffd, page_of(a, 0), a->ps, 0, &out), -EAGAIN);
	CHECK_EQ(out, want_out());
	CHECK_EQ(uffd_continue(uffd, page_of(a, 0), a->ps, 0, &out), -EAGAIN);
	CHECK_EQ(out, want_out());
	if (wp) {
		CHECK_EQ(ioctl(uffd, UFFDIO_WRITEPROTECT, &w), -1);
		CHECK_EQ(errno, EAGAIN);
	}
	return PASS;
}

/* WP registration where this kernel supports it for this memory type. */
static bool can_wp(const struct ctx *c)
{
	if (!(c->features & UFFD_FEATURE_PAGEFAULT_FLAG_WP))
		return false;
	return c->mt->flag == MEM_ANON ||
	       (c->features & UFFD_FEATURE_WP_HUGETLBFS_SHMEM);
}

/* B1, for one event. */
static int eagain(const struct ctx *c, const struct event_op *op)
{
	bool wp = can_wp(c);
	struct trigger t;
	struct uffd_msg msg;
	struct area a;
	struct bg bg;
	int64_t out;
	char *src;
	int uffd;

	if (area_alloc(&a, c->mt, 4, PROT_READ | PROT_WRITE))
		return FAIL;
	uffd = uffd_for_area(&a, op->feature, UFFDIO_REGISTER_MODE_MISSING |
			     (wp ? UFFDIO_REGISTER_MODE_WP : 0));
	src = src_pages(a.ps, 'C');
	t.a = &a;
	t.target = reserve_range(a.ps, a.ps);
	if (uffd < 0 || !src || !t.target)
		return FAIL;
	if (!wp)
		diag("WRITEPROTECT not checked: no WP registration for %s on this kernel",
		     c->mt->name);

	SYS(bg_start(&bg, op->trigger, &t));
	if (expect_event_queued(uffd))
		return FAIL;
	if (fills_refused(uffd, &a, src, wp))
		return FAIL;
	if (expect_event(uffd, op->type, &msg))
		return FAIL;
	if (op->type == UFFD_EVENT_FORK) {
		CHECK(msg.arg.fork.ufd > 0, "fork event without a uffd");
		close(msg.arg.fork.ufd);
	}
	/* mmap_changing drops in the producer, after the read wakes it. */
	CHECK_EQ(bg_join(&bg, WAIT_MS), 0);
	CHECK_EQ(bg.ret, 0);
	CHECK_EQ(uffd_copy(uffd, page_of(&a, 0), src, a.ps, 0, &out), 0);
	CHECK_EQ(out, a.ps);
	CHECK(all_bytes(page_of(&a, 0), 'C', a.ps), "copied page not there");
	return PASS;
}

int eagain_fork(const struct ctx *c)
{
	return eagain(c, &fork_op);
}

int eagain_remap(const struct ctx *c)
{
	return eagain(c, &remap_op);
}

int eagain_remove(const struct ctx *c)
{
	return eagain(c, &remove_op);
}

int eagain_unmap(const struct ctx *c)
{
	return eagain(c, &unmap_op);
}

/*
 * B2. Fixed by a759a909d42d ("userfaultfd: change mmap_changing to atomic
 * counter"): mremap raises it twice (REMAP, UNMAP of the old range); after
 * REMAP is read it must still be raised until UNMAP is read too. With the
 * old bool, the COPY in between succeeded.
 */
int eagain_counter(const struct ctx *c)
{
	struct uffd_msg msg;
	struct move m;
	struct area a, b;
	struct bg bg;
	int64_t out;
	char *src;
	int uffd;

	if (area_alloc(&a, c->mt, 4, PROT_READ | PROT_WRITE) ||
	    area_alloc(&b, c->mt, 1, PROT_READ | PROT_WRITE))
		return FAIL;
	uffd = uffd_new(c->mt->missing_feature | UFFD_FEATURE_EVENT_REMAP |
			UFFD_FEATURE_EVENT_UNMAP);
	SYS(uffd);
	CHECK_EQ(uffd_register(uffd, a.p, a.len, UFFDIO_REGISTER_MODE_MISSING,
			       NULL), 0);
	CHECK_EQ(uffd_register(uffd, b.p, b.len, UFFDIO_REGISTER_MODE_MISSING,
			       NULL), 0);
	src = src_pages(a.ps, 'B');
	m = (struct move){ a.p, reserve_range(a.len, a.ps), a.len };
	if (!src || !m.to)
		return FAIL;

	SYS(bg_start(&bg, do_move, &m));
	if (expect_event(uffd, UFFD_EVENT_REMAP, &msg))
		return FAIL;
	CHECK_EQ(msg.arg.remap.from, (uintptr_t)a.p);
	CHECK_EQ(msg.arg.remap.to, (uintptr_t)m.to);
	CHECK_EQ(msg.arg.remap.len, a.len);
	/* The producer has queued UNMAP: one of its two raises is left. */
	if (expect_event_queued(uffd))
		return FAIL;
	CHECK_EQ(uffd_copy(uffd, b.p, src, b.ps, 0, &out), -EAGAIN);
	CHECK_EQ(out, want_out());
	if (expect_event(uffd, UFFD_EVENT_UNMAP, &msg))
		return FAIL;
	CHECK_EQ(bg_join(&bg, WAIT_MS), 0);
	CHECK_EQ(bg.ret, 0);
	CHECK_EQ(uffd_copy(uffd, b.p, src, b.ps, 0, &out), 0);
	CHECK_EQ(out, b.ps);
	return PASS;
}

/*
 * The target process: registers its page, hands the uffd to the monitor
 * (which then holds the only reference), forks, and reports whether its
 * child read zero. Exit 0 if so.
 */
static int fork_target(const struct ctx *c, int sock)
{
	struct area a;
	int uffd, status;
	pid_t pid;

	if (area_alloc(&a, c->mt, 1, PROT_READ | PROT_WRITE))
		return FAIL;
	uffd = uffd_for_area(&a, UFFD_FEATURE_EVENT_FORK,
			     UFFDIO_REGISTER_MODE_MISSING);
	if (uffd < 0 || send_fd(sock, uffd))
		return FAIL;
	close(uffd);
	pid = fork();
	if (pid == 0)
		_exit(*(volatile char *)a.p == 0 ? 0 : 1);
	SYS(pid);
	SYS(waitpid(pid, &status, 0));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "child status %#x, expected a clean exit after reading zero",
	      status);
	return PASS;
}

static long wait_child(void *arg)
{
	pid_t *pid = arg;
	int status;

	if (waitpid(*pid, &status, 0) != *pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/*
 * B3. Closing the uffd with a FORK event still unread must release the
 * child's new context (userfaultfd_release_new) instead of leaving it
 * attached to the child's registered VMAs: fork() returns, the child reads
 * zeros and nothing hangs. Unfixed, this was a use-after-free
 * (CVE-2017-15126, 384632e67e08 "userfaultfd: non-cooperative: fix fork
 * use after free"). The monitor is another process, as in real use: if
 * the forking process still had the uffd open, its child would inherit it
 * and close() here would release nothing.
 */
int fork_event_close(const struct ctx *c)
{
	struct bg bg;
	int sv[2], uffd;
	pid_t target;

	SYS(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	target = fork();
	SYS(target);
	if (target == 0) {
		close(sv[0]);
		_exit(fork_target(c, sv[1]));
	}
	close(sv[1]);
	SYS(bg_start(&bg, wait_child, &target));
	uffd = recv_fd(sv[0]);
	CHECK(uffd >= 0, "no uffd from the target process");
	if (expect_event_queued(uffd))
		return FAIL;
	SYS(close(uffd));
	CHECK(bg_join(&bg, WAIT_MS) == 0, "fork or the child hung after close");
	CHECK_EQ(bg.ret, PASS);
	return PASS;
}
