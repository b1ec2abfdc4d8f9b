// SPDX-License-Identifier: GPL-2.0
/*
 * F4. What each non-cooperative event reports, and what happens without
 * the feature: the contract a monitor (CRIU, QEMU postcopy) builds on.
 * Introduced by "userfaultfd: non-cooperative: Add fork() event", "... add
 * mremap() event", "... add madvise() event for MADV_DONTNEED request" and
 * "... add event for memory unmaps" (4.11); a kernel missing one of them
 * fails the matching scenario (or skips it, if the feature bit is absent).
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scenarios.h"

struct child_read {
	char *page;
	char want;
	int status;
};

static int child_reads(void *arg)
{
	struct child_read *r = arg;

	return *(volatile char *)r->page == r->want ? 0 : 1;
}

static long fork_child_reads(void *arg)
{
	struct child_read *r = arg;

	return fork_wait(child_reads, r, &r->status);
}

/*
 * With EVENT_FORK, the child's registered range reports its faults on the
 * new uffd of the FORK event; without it, the child's copy is unregistered
 * and fills normally.
 */
int event_fork(const struct ctx *c)
{
	struct child_read r;
	struct uffd_msg msg;
	struct area a;
	struct bg bg;
	int64_t out;
	int uffd, child_uffd;
	char *src;

	if (area_alloc(&a, c->mt, 1, PROT_READ | PROT_WRITE))
		return FAIL;
	uffd = uffd_for_area(&a, UFFD_FEATURE_EVENT_FORK,
			     UFFDIO_REGISTER_MODE_MISSING);
	src = src_pages(a.ps, 'F');
	if (uffd < 0 || !src)
		return FAIL;

	r = (struct child_read){ .page = a.p, .want = 'F' };
	SYS(bg_start(&bg, fork_child_reads, &r));
	if (expect_event(uffd, UFFD_EVENT_FORK, &msg))
		return FAIL;
	child_uffd = msg.arg.fork.ufd;
	CHECK(child_uffd > 0, "FORK event carries ufd %d", child_uffd);
	if (expect_event(child_uffd, UFFD_EVENT_PAGEFAULT, &msg))
		return FAIL;
	CHECK_EQ(msg.arg.pagefault.address, (uintptr_t)a.p);
	CHECK_EQ(uffd_copy(child_uffd, a.p, src, a.ps, 0, &out), 0);
	CHECK_EQ(bg_join(&bg, WAIT_MS), 0);
	CHECK(WIFEXITED(r.status) && !WEXITSTATUS(r.status),
	      "child did not read the page filled through its uffd (status %#x)",
	      r.status);
	/* The parent's range is untouched by all this. */
	CHECK_EQ(pagemap_entry(a.p) & PM_PRESENT, 0);
	close(uffd);
	close(child_uffd);

	/*
	 * Without the feature: no event, the child is on its own and sees
	 * what the file holds (the page filled above, if shared) or zeros.
	 */
	uffd = uffd_for_area(&a, 0, UFFDIO_REGISTER_MODE_MISSING);
	if (uffd < 0)
		return FAIL;
	r = (struct child_read){ .page = a.p,
				 .want = c->mt->flag & MEM_SHARED ? 'F' : 0 };
	SYS(bg_start(&bg, fork_child_reads, &r));
	CHECK(bg_join(&bg, WAIT_MS) == 0, "fork without EVENT_FORK blocked");
	CHECK(WIFEXITED(r.status) && !WEXITSTATUS(r.status),
	      "child of a non-FORK uffd did not read zero (status %#x)",
	      r.status);
	return expect_no_message(uffd);
}

/*
 * With EVENT_REMAP, mremap reports {from, to, len} and the moved range
 * stays registered; without it, the moved range is no longer registered.
 */
int event_remap(const struct ctx *c)
{
	struct uffd_msg msg;
	struct touch t;
	struct move m;
	struct area a;
	struct bg bg;
	int64_t out;
	char *src;
	int uffd;

	if (area_alloc(&a, c->mt, 2, PROT_READ | PROT_WRITE))
		return FAIL;
	uffd = uffd_for_area(&a, UFFD_FEATURE_EVENT_REMAP,
			     UFFDIO_REGISTER_MODE_MISSING);
	m = (struct move){ a.p, reserve_range(a.len, a.ps), a.len };
	src = src_pages(a.ps, 'M');
	if (uffd < 0 || !m.to || !src)
		return FAIL;

	SYS(bg_start(&bg, do_move, &m));
	if (expect_event(uffd, UFFD_EVENT_REMAP, &msg))
		return FAIL;
	CHECK_EQ(bg_join(&bg, WAIT_MS), 0);
	CHECK_EQ(bg.ret, 0);
	CHECK_EQ(msg.arg.remap.from, (uintptr_t)a.p);
	CHECK_EQ(msg.arg.remap.to, (uintptr_t)m.to);
	CHECK_EQ(msg.arg.remap.len, a.len);

	SYS(touch_start(&t, m.to + a.ps, false, 0));
	CHECK_EQ(touch_wait(&t, uffd, &msg, WAIT_MS), TOUCH_WAIT_MSG);
	CHECK_EQ(msg.arg.pagefault.address, (uintptr_t)(m.to + a.ps));
	CHECK_EQ(uffd_copy(uffd, m.to + a.ps, src, a.ps, 0, &out), 0);
	CHECK_EQ(touch_wait(&t, uffd, &msg, WAIT_MS), TOUCH_WAIT_DONE);
	CHECK_EQ(t.val, 'M');
	close(uffd);

	/* Without the feature the moved range faults like any memory. */
	if (area_alloc(&a, c->mt, 2, PROT_READ | PROT_WRITE))
		return FAIL;
	uffd = uffd_for_area(&a, 0, UFFDIO_REGISTER_MODE_MISSING);
	m = (struct move){ a.p, reserve_range(a.len, a.ps), a.len };
	if (uffd < 0 || !m.to)
		return FAIL;
	SYS(do_move(&m));
	SYS(touch_start(&t, m.to, false, 0));
	CHECK_EQ(touch_wait(&t, uffd, &msg, WAIT_MS), TOUCH_WAIT_DONE);
	CHECK_EQ(t.state, TOUCH_DONE);
	CHECK_EQ(t.val, 0);
	return expect_no_message(uffd);
}

/*
 * MADV_DONTNEED (and MADV_REMOVE on shared files) report REMOVE with the
 * range, and the range stays registered: the next touch faults again.
 */
int event_remove(const struct ctx *c)
{
	struct uffd_msg msg;
	struct advice adv;
	struct touch t;
	struct area a;
	struct bg bg;
	int64_t out;
	char *src;
	int uffd;

	if (area_alloc(&a, c->mt, 3, PROT_READ | PROT_WRITE))
		return FAIL;
	uffd = uffd_for_area(&a, UFFD_FEATURE_EVENT_REMOVE,
			     UFFDIO_REGISTER_MODE_MISSING);
	src = src_pages(a.ps, 'R');
	if (uffd < 0 || !src)
		return FAIL;
	CHECK_EQ(uffd_copy(uffd, page_of(&a, 1), src, a.ps, 0, &out), 0);

	adv = (struct advice){ page_of(&a, 1), 2 * a.ps, MADV_DONTNEED };
	SYS(bg_start(&bg, do_madvise, &adv));
	if (expect_event(uffd, UFFD_EVENT_REMOVE, &msg))
		return FAIL;
	CHECK_EQ(msg.arg.remove.start, (uintptr_t)page_of(&a, 1));
	CHECK_EQ(msg.arg.remove.end, (uintptr_t)page_of(&a, 3));
	CHECK_EQ(bg_join(&bg, WAIT_MS), 0);
	CHECK_EQ(bg.ret, 0);

	/* Private memory lost its copy; shared memory kept the file page. */
	SYS(touch_start(&t, page_of(&a, 1), false, 0));
	if (c->mt->flag & MEM_SHARED) {
		CHECK_EQ(touch_wait(&t, uffd, &msg, WAIT_MS), TOUCH_WAIT_DONE);
		CHECK_EQ(t.val, 'R');
	} else {
		CHECK_EQ(touch_wait(&t, uffd, &msg, WAIT_MS), TOUCH_WAIT_MSG);
		CHECK_EQ(msg.arg.pagefault.address, (uintptr_t)page_of(&a, 1));
		CHECK_EQ(uffd_copy(uffd, page_of(&a, 1), src, a.ps, 0, &out), 0);
		CHECK_EQ(touch_wait(&t, uffd, &msg, WAIT_MS), TOUCH_WAIT_DONE);
	}

	if (c->mt->flag & MEM_SHARED) {
		adv = (struct advice){ page_of(&a, 2), a.ps, MADV_REMOVE };
		SYS(bg_start(&bg, do_madvise, &adv));
		if (expect_event(uffd, UFFD_EVENT_REMOVE, &msg))
			return FAIL;
		CHECK_EQ(msg.arg.remove.start, (uintptr_t)page_of(&a, 2));
		CHECK_EQ(bg_join(&bg, WAIT_MS), 0);
		CHECK_EQ(bg.ret, 0);
	}
	return expect_no_message(uffd);
}

static long do_map_fixed(void *arg)
{
	struct advice *m = arg;

	return mmap(m->p, m->len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS |
		    MAP_FIXED, -1, 0) == MAP_FAILED ? -1 : 0;
}

/*
 * munmap reports UNMAP once per call, however many registered VMAs the
 * range spans (has_unmap_ctx); a MAP_FIXED mapping over a registered range
 * unmaps it and reports it too.
 */
int event_unmap(const struct ctx *c)
{
	struct uffd_msg msg;
	struct advice adv;
	struct area a;
	struct bg bg;
	int uffd;

	if (area_alloc(&a, c->mt, 4, PROT_READ | PROT_WRITE))
		return FAIL;
	uffd = uffd_for_area(&a, UFFD_FEATURE_EVENT_UNMAP,
			     UFFDIO_REGISTER_MODE_MISSING);
	if (uffd < 0)
		return FAIL;
	/* Two VMAs: pages 0-1 keep PROT_RW, page 2 becomes read-only. */
	SYS(mprotect(page_of(&a, 2), a.ps, PROT_READ));

	adv = (struct advice){ a.p, 3 * a.ps, 0 };
	SYS(bg_start(&bg, do_munmap, &adv));
	if (expect_event(uffd, UFFD_EVENT_UNMAP, &msg))
		return FAIL;
	CHECK_EQ(msg.arg.remove.start, (uintptr_t)a.p);
	CHECK_EQ(msg.arg.remove.end, (uintptr_t)page_of(&a, 3));
	CHECK_EQ(bg_join(&bg, WAIT_MS), 0);
	CHECK_EQ(bg.ret, 0);
	if (expect_no_message(uffd))
		return FAIL;

	adv = (struct advice){ page_of(&a, 3), a.ps, 0 };
	SYS(bg_start(&bg, do_map_fixed, &adv));
	if (expect_event(uffd, UFFD_EVENT_UNMAP, &msg))
		return FAIL;
	CHECK_EQ(msg.arg.remove.start, (uintptr_t)page_of(&a, 3));
	CHECK_EQ(msg.arg.remove.end, (uintptr_t)page_of(&a, 4));
	CHECK_EQ(bg_join(&bg, WAIT_MS), 0);
	CHECK_EQ(bg.ret, 0);
	return expect_no_message(uffd);
}
