// SPDX-License-Identifier: GPL-2.0
/*
 * Every field of the non-cooperative event messages against what the
 * syscall that caused them did (realbugs C): a monitor replays the layout
 * change from the message alone, so a field that is off by a page or a
 * mapping is a monitor that tracks the wrong range. The whole 32-byte
 * message is compared, reserved bytes included (msg_init() zeroes them).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>

#include "scenarios.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

static struct uffd_msg remap_msg(const char *from, const char *to, size_t len)
{
	struct uffd_msg m = { .event = UFFD_EVENT_REMAP };

	m.arg.remap.from = (uintptr_t)from;
	m.arg.remap.to = (uintptr_t)to;
	m.arg.remap.len = len;
	return m;
}

/* REMOVE and UNMAP: [start, end). */
static struct uffd_msg range_msg(uint8_t event, const char *start,
				 const char *end)
{
	struct uffd_msg m = { .event = event };

	m.arg.remove.start = (uintptr_t)start;
	m.arg.remove.end = (uintptr_t)end;
	return m;
}

static void show_msg(const char *what, const struct uffd_msg *m)
{
	diag("%s: event %#x reserved %#x %#x %#x arg %#llx %#llx %#llx", what,
	     m->event, m->reserved1, m->reserved2, m->reserved3,
	     (unsigned long long)m->arg.reserved.reserved1,
	     (unsigned long long)m->arg.reserved.reserved2,
	     (unsigned long long)m->arg.reserved.reserved3);
}

static int same_msg(const struct uffd_msg *got, const struct uffd_msg *want)
{
	if (!memcmp(got, want, sizeof(*got)))
		return PASS;
	show_msg("got", got);
	show_msg("expected", want);
	return FAIL;
}

/* Reads the next message; all of it must be want. */
static int expect_msg(int uffd, const struct uffd_msg *want)
{
	struct uffd_msg got;

	if (expect_event(uffd, want->event, &got))
		return FAIL;
	return same_msg(&got, want);
}

/* An area of npages registered MISSING on a uffd with features. */
static int event_area(const struct ctx *c, struct area *a, size_t npages,
		      uint64_t features, int *uffd)
{
	if (area_alloc(a, c->mt, npages, PROT_READ | PROT_WRITE))
		return FAIL;
	*uffd = uffd_for_area(a, features, UFFDIO_REGISTER_MODE_MISSING);
	return *uffd < 0 ? FAIL : PASS;
}

struct remap_case {
	const char *what;
	size_t first, pages, new_pages;	/* in pages of the area */
	int flags;
	bool small_only;	/* hugetlb refuses to grow and DONTUNMAP */
};

static const struct remap_case remap_cases[] = {
	{ "move", 0, 3, 3, MREMAP_MAYMOVE | MREMAP_FIXED },
	{ "move one page out of three", 1, 1, 1, MREMAP_MAYMOVE | MREMAP_FIXED },
	{ "grow, moving", 0, 3, 5, MREMAP_MAYMOVE, true },
	{ "shrink in place", 0, 3, 1, 0 },
	{ "dontunmap", 0, 3, 3, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, true },
	{ "dontunmap to a fixed address", 0, 3, 3,
	  MREMAP_MAYMOVE | MREMAP_DONTUNMAP | MREMAP_FIXED, true },
};

struct remap_call {
	const struct remap_case *rc;
	char *from, *to;
	size_t ps;
	char *ret;
};

static long do_remap_call(void *arg)
{
	struct remap_call *r = arg;

	r->ret = mremap(r->from, r->rc->pages * r->ps,
			r->rc->new_pages * r->ps, r->rc->flags, r->to);
	return r->ret == MAP_FAILED ? -1 : 0;
}

/*
 * One mremap() of a registered range with EVENT_REMAP|EVENT_UNMAP: a move
 * reports REMAP {from, to: what mremap returned, len: the old length},
 * then UNMAP of the old range unless MREMAP_DONTUNMAP kept it; a shrink
 * in place reports only UNMAP of the tail.
 */
static int remap_case(const struct ctx *c, const struct remap_case *rc)
{
	struct remap_call r = { .rc = rc };
	char *guard = MAP_FAILED;
	struct uffd_msg want;
	struct area a;
	struct bg bg;
	size_t old_len, new_len;
	int uffd;

	if (event_area(c, &a, 3, UFFD_FEATURE_EVENT_REMAP |
		       UFFD_FEATURE_EVENT_UNMAP, &uffd))
		return FAIL;
	old_len = rc->pages * a.ps;
	new_len = rc->new_pages * a.ps;
	r.from = page_of(&a, rc->first);
	r.ps = a.ps;
	if (rc->flags & MREMAP_FIXED) {
		r.to = reserve_range(new_len, a.ps);
		if (!r.to)
			return FAIL;
	} else if (rc->new_pages > a.npages) {
		/* Occupied after the area (if not already), so growing moves. */
		guard = mmap(a.p + a.len, a.ps, PROT_NONE, MAP_PRIVATE |
			     MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	}

	SYS(bg_start(&bg, do_remap_call, &r));
	if (rc->flags & MREMAP_MAYMOVE) {
		/* Compared once mremap has returned where it went. */
		struct uffd_msg got;

		if (expect_event(uffd, UFFD_EVENT_REMAP, &got))
			return FAIL;
		/* Then UNMAP of the old range, unless it stays mapped. */
		want = range_msg(UFFD_EVENT_UNMAP, r.from, r.from + old_len);
		if (!(rc->flags & MREMAP_DONTUNMAP) && expect_msg(uffd, &want))
			return FAIL;
		CHECK_EQ(bg_join(&bg, WAIT_MS), 0);
		CHECK_EQ(bg.ret, 0);
		CHECK(r.ret != r.from, "mremap did not move");
		want = remap_msg(r.from, r.ret, old_len);
		if (same_msg(&got, &want)) {
			diag("mremap moved %p to %p", r.from, r.ret);
			return FAIL;
		}
		if (rc->flags & MREMAP_FIXED)
			CHECK_EQ(r.ret, r.to);
	} else {
		want = range_msg(UFFD_EVENT_UNMAP, r.from + new_len,
				 r.from + old_len);
		if (expect_msg(uffd, &want))
			return FAIL;
		CHECK_EQ(bg_join(&bg, WAIT_MS), 0);
		CHECK_EQ(bg.ret, 0);
		CHECK_EQ(r.ret, r.from);
	}
	if (expect_no_message(uffd))
		return FAIL;
	/*
	 * hugetlb: give the pool back before the next case. The uffd goes
	 * first, or munmap() would wait for its own UNMAP to be read.
	 */
	close(uffd);
	if (r.ret != r.from)
		munmap(r.ret, new_len);
	if (guard != MAP_FAILED)
		munmap(guard, a.ps);
	area_free(&a);
	return PASS;
}

/*
 * C1. Fixed by "userfaultfd: fix remap event with MREMAP_DONTUNMAP"
 * (v5.7): REMAP's to must be where the range went, what mremap returned.
 * Unfixed, it carried mremap's new_addr argument, which MREMAP_DONTUNMAP
 * without MREMAP_FIXED does not use (0 here). The other cases pin the
 * rest of REMAP and the UNMAP that follows a move or a shrink.
 */
int remap_fields(const struct ctx *c)
{
	bool huge = c->mt->flag & (MEM_HUGETLB | MEM_HUGETLB_PRIV);
	size_t i;

	for (i = 0; i < sizeof(remap_cases) / sizeof(remap_cases[0]); i++) {
		if (huge && remap_cases[i].small_only)
			continue;
		if (remap_case(c, &remap_cases[i])) {
			diag("in case \"%s\"", remap_cases[i].what);
			return FAIL;
		}
	}
	return PASS;
}

/*
 * fn(adv) in a thread; the events it reports must be want[0..n). One more
 * is read and reported rather than left to block fn until exit.
 */
static int expect_msgs_of(int uffd, long (*fn)(void *), struct advice adv,
			  const struct uffd_msg *want, int n)
{
	struct pollfd pfd[2] = { { .events = POLLIN },
				 { .fd = uffd, .events = POLLIN } };
	struct bg bg;
	int i, extra;

	SYS(bg_start(&bg, fn, &adv));
	for (i = 0; i < n; i++)
		if (expect_msg(uffd, &want[i]))
			return FAIL;
	pfd[0].fd = bg.done_pipe[0];
	SYS(poll(pfd, 2, WAIT_MS));
	extra = pfd[1].revents & POLLIN ? expect_no_message(uffd) : PASS;
	CHECK_EQ(bg_join(&bg, WAIT_MS), 0);
	CHECK_EQ(bg.ret, 0);
	return extra ? FAIL : expect_no_message(uffd);
}

/*
 * REMOVE is the madvise() range clipped to each VMA, one message per VMA
 * (madvise_walk_vmas() calls userfaultfd_remove() per VMA), for
 * MADV_DONTNEED and MADV_REMOVE alike. On hugetlb MADV_DONTNEED rounds
 * the end down to a huge page, and reports what it zaps: a range shorter
 * than a huge page zaps nothing and reports nothing ("mm,madvise,hugetlb:
 * check for 0-length range after end address adjustment").
 */
int remove_fields(const struct ctx *c)
{
	struct uffd_msg two[2];
	struct area a;
	int uffd;

	if (event_area(c, &a, 3, UFFD_FEATURE_EVENT_REMOVE, &uffd))
		return FAIL;
	two[0] = range_msg(UFFD_EVENT_REMOVE, page_of(&a, 1), page_of(&a, 2));
	if (expect_msgs_of(uffd, do_madvise, (struct advice){ page_of(&a, 1),
			   a.ps, MADV_DONTNEED }, two, 1))
		return FAIL;
	if ((c->mt->flag & MEM_SHARED) &&
	    expect_msgs_of(uffd, do_madvise, (struct advice){ page_of(&a, 1),
			   a.ps, MADV_REMOVE }, two, 1))
		return FAIL;

	/* Pages 0-1 and page 2 are two VMAs now. */
	SYS(mprotect(page_of(&a, 2), a.ps, PROT_READ));
	two[0] = range_msg(UFFD_EVENT_REMOVE, page_of(&a, 1), page_of(&a, 2));
	two[1] = range_msg(UFFD_EVENT_REMOVE, page_of(&a, 2), page_of(&a, 3));
	if (expect_msgs_of(uffd, do_madvise, (struct advice){ page_of(&a, 1),
			   2 * a.ps, MADV_DONTNEED }, two, 2))
		return FAIL;

	if (!(c->mt->flag & (MEM_HUGETLB | MEM_HUGETLB_PRIV)))
		return PASS;
	two[0] = range_msg(UFFD_EVENT_REMOVE, a.p, page_of(&a, 1));
	if (expect_msgs_of(uffd, do_madvise, (struct advice){ a.p,
			   a.ps + 4096, MADV_DONTNEED }, two, 1))
		return FAIL;
	return expect_msgs_of(uffd, do_madvise, (struct advice){ a.p, 4096,
			      MADV_DONTNEED }, two, 0);
}

/*
 * UNMAP is the munmap() range as the caller gave it, once per call: here
 * a part of a registered VMA and the unregistered VMA after it.
 */
int unmap_fields(const struct ctx *c)
{
	struct uffd_msg want;
	struct area a;
	int uffd;

	if (event_area(c, &a, 3, UFFD_FEATURE_EVENT_UNMAP, &uffd))
		return FAIL;
	CHECK_EQ(uffd_unregister(uffd, page_of(&a, 2), a.ps), 0);
	want = range_msg(UFFD_EVENT_UNMAP, page_of(&a, 1), page_of(&a, 3));
	if (expect_msgs_of(uffd, do_munmap, (struct advice){
			   page_of(&a, 1), 2 * a.ps }, &want, 1))
		return FAIL;
	want = range_msg(UFFD_EVENT_UNMAP, a.p, page_of(&a, 1));
	return expect_msgs_of(uffd, do_munmap, (struct advice){
			      a.p, a.ps }, &want, 1);
}

/*
 * FORK: ufd is a new descriptor, a userfaultfd, with the parent uffd's
 * O_CLOEXEC and O_NONBLOCK (resolve_userfault_fork()); nothing else is
 * set.
 */
int fork_fields(const struct ctx *c)
{
	struct uffd_msg got, want;
	char link[64], path[64];
	struct area a;
	struct bg bg;
	ssize_t n;
	int uffd, ufd;

	if (event_area(c, &a, 1, UFFD_FEATURE_EVENT_FORK, &uffd))
		return FAIL;
	SYS(bg_start(&bg, fork_and_reap, NULL));
	if (expect_event(uffd, UFFD_EVENT_FORK, &got))
		return FAIL;
	CHECK_EQ(bg_join(&bg, WAIT_MS), 0);
	CHECK_EQ(bg.ret, 0);
	ufd = got.arg.fork.ufd;
	want = (struct uffd_msg){ .event = UFFD_EVENT_FORK };
	want.arg.fork.ufd = ufd;
	if (same_msg(&got, &want))
		return FAIL;
	CHECK(ufd > 0 && ufd != uffd, "FORK ufd %d (the parent's is %d)",
	      ufd, uffd);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", ufd);
	n = readlink(path, link, sizeof(link) - 1);
	SYS(n);
	link[n] = '\0';
	CHECK(!strcmp(link, "anon_inode:[userfaultfd]"), "FORK ufd is %s", link);
	CHECK_EQ(fcntl(ufd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	CHECK_EQ(fcntl(ufd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
	return expect_no_message(uffd);
}
