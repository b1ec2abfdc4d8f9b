// SPDX-License-Identifier: GPL-2.0
/*
 * Where UFFDIO_POISON markers go when the mm changes (realbugs A, for
 * POISON). A poison marker says "this page's contents are lost": unlike
 * uffd-wp state it belongs to the page table, not to the registration,
 * so it moves with mremap, is copied to a child wherever fork copies the
 * page tables, and only a zap (MADV_DONTNEED) turns it back into a hole.
 *
 * Every row starts from page 0 poisoned and page 1 a hole, both
 * registered MISSING. A read then shows one of three things: SIGBUS (the
 * marker; on UML the si_code does not tell it from other SIGBUSes, so no
 * SIGBUS feature is used), a fault message (a registered hole), or data.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scenarios.h"

enum seen { SEEN_POISON, SEEN_FAULT, SEEN_DATA };

static const char *const seen_name[] = { "SIGBUS", "a fault message", "data" };

struct pois {
	struct area a;
	int uffd;
	char *src;
};

static int pois_setup(const struct ctx *c, struct pois *s)
{
	int64_t out;

	if (area_alloc(&s->a, c->mt, 2, PROT_READ | PROT_WRITE))
		return FAIL;
	s->uffd = uffd_for_area(&s->a, UFFD_FEATURE_POISON,
				UFFDIO_REGISTER_MODE_MISSING);
	s->src = src_pages(s->a.ps, 'S');
	if (s->uffd < 0 || !s->src)
		return FAIL;
	CHECK_EQ(uffd_poison(s->uffd, s->a.p, s->a.ps, &out), 0);
	return PASS;
}

/*
 * Reads page p in another thread and says what it met; a fault is
 * served (COPY) so the reader finishes.
 */
static int read_page(const struct pois *s, char *p, enum seen want)
{
	struct uffd_msg msg;
	struct touch t;
	enum seen got;
	int64_t out;

	SYS(touch_start(&t, p, false, 0));
	switch (touch_wait(&t, s->uffd, &msg, WAIT_MS)) {
	case TOUCH_WAIT_DONE:
		CHECK(t.state == TOUCH_DONE || t.signo == SIGBUS,
		      "read of %p: signal %d", (void *)p, t.signo);
		got = t.state == TOUCH_DONE ? SEEN_DATA : SEEN_POISON;
		break;
	case TOUCH_WAIT_MSG:
		CHECK_EQ(msg.event, UFFD_EVENT_PAGEFAULT);
		CHECK_EQ(msg.arg.pagefault.address, (uintptr_t)p);
		CHECK_EQ(uffd_copy(s->uffd, p, s->src, s->a.ps, 0, &out), 0);
		CHECK_EQ(touch_wait(&t, -1, &msg, WAIT_MS), TOUCH_WAIT_DONE);
		got = SEEN_FAULT;
		break;
	default:
		diag("read of %p neither finished nor faulted", (void *)p);
		return FAIL;
	}
	touch_join(&t);
	CHECK(got == want, "read of %p met %s, expected %s", (void *)p,
	      seen_name[got], seen_name[want]);
	return PASS;
}

/* mremap without EVENT_REMAP: the marker moves; the range leaves the uffd. */
int poison_after_mremap(const struct ctx *c)
{
	struct pois s;
	char *to;

	if (pois_setup(c, &s))
		return FAIL;
	to = reserve_range(s.a.len, s.a.ps);
	CHECK(to, "no free range");
	SYS(mremap(s.a.p, s.a.len, s.a.len, MREMAP_MAYMOVE | MREMAP_FIXED,
		   to) == MAP_FAILED ? -1 : 0);
	if (read_page(&s, to, SEEN_POISON) ||
	    read_page(&s, to + s.a.ps, SEEN_DATA))
		return FAIL;
	return expect_no_message(s.uffd);
}

/* MADV_DONTNEED zaps the marker: the page is a registered hole again. */
int poison_after_dontneed(const struct ctx *c)
{
	struct pois s;

	if (pois_setup(c, &s))
		return FAIL;
	SYS(madvise(s.a.p, s.a.len, MADV_DONTNEED));
	if (read_page(&s, s.a.p, SEEN_FAULT) ||
	    read_page(&s, page_of(&s.a, 1), SEEN_FAULT))
		return FAIL;
	return expect_no_message(s.uffd);
}

static int child_reads_poison(void *arg)
{
	int signo = 0;

	/* Without EVENT_FORK the child's range is not registered. */
	return touch_here(arg, false, 0, &signo, NULL) == TOUCH_SIGNAL &&
	       signo == SIGBUS ? 0 : 1;
}

/*
 * fork without EVENT_FORK: the parent keeps its marker and its hole, and
 * the child gets the marker. Private mappings only: fork copies their
 * page tables (the fill gave them an anon_vma); MAP_SHARED ones are not
 * copied, the child faults its pages in from the file.
 */
int poison_after_fork(const struct ctx *c)
{
	struct pois s;
	int status;

	if (pois_setup(c, &s))
		return FAIL;
	SYS(fork_wait(child_reads_poison, s.a.p, &status));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "the child does not see the marker (wait status %#x)", status);
	if (read_page(&s, s.a.p, SEEN_POISON) ||
	    read_page(&s, page_of(&s.a, 1), SEEN_FAULT))
		return FAIL;
	return expect_no_message(s.uffd);
}
