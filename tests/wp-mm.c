// SPDX-License-Identifier: GPL-2.0
/*
 * Where uffd-wp state goes when the mm changes under a write-protected
 * range (realbugs A). Either the protection stays in force, because the
 * range is still registered in WP mode (mprotect, MADV_DONTNEED, and
 * mremap or fork reported to the monitor), or it goes away entirely,
 * because the range left the uffd (UNREGISTER, close, and mremap or fork
 * without the event). A bit left behind in the second case is not
 * harmless: pagemap reports it, and once the range is registered in WP
 * mode again it traps a write that nobody protected.
 *
 * Every row starts from the same two pages: page 0 written, then
 * protected (a uffd-wp pte); page 1 never touched, then protected (a pte
 * marker on file memory, and on anonymous memory with WP_UNPOPULATED).
 * On THP memory the pages are PMDs: page 0 is a huge PMD with the bit.
 * The uffd has UFFD_FEATURE_SIGBUS, so "a write traps" is a SIGBUS in the
 * writing thread: no monitor thread is needed, and a child forked with
 * EVENT_FORK (whose new uffd inherits the feature) checks its own copy.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include "scenarios.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

struct wp2 {
	struct area a;
	int uffd;
	uint64_t features;	/* of the uffd */
	bool markers;		/* page 1 has a marker while protected */
	bool huge;		/* page 0 is a huge PMD while present */
};

/*
 * pagemap bit 57 of the two pages at p, as expected; on THP memory page
 * 0, where present, must still be a huge PMD, or the row would prove
 * nothing about the bit on one.
 */
static int expect_bits(const struct wp2 *s, char *p, bool wp0, bool wp1)
{
	bool wp[2] = { wp0, wp1 };
	int i;

	if (s->huge && (pagemap_entry(p) & PM_PRESENT))
		CHECK(thp_mapped_kib(p) >= (long)(s->a.ps >> 10),
		      "page 0 is no huge PMD (smaps AnonHugePages %ld kB)",
		      thp_mapped_kib(p));

	for (i = 0; i < 2; i++)
		CHECK(!(pagemap_entry(p + i * s->a.ps) & PM_UFFD_WP) == !wp[i],
		      "page %d: pagemap %#llx, expected uffd-wp %s", i,
		      (unsigned long long)pagemap_entry(p + i * s->a.ps),
		      wp[i] ? "set" : "clear");
	return PASS;
}

/* The bits, and a write to each page traps exactly where one is set. */
static int expect_pages(const struct wp2 *s, char *p, bool wp0, bool wp1)
{
	bool wp[2] = { wp0, wp1 };
	int i, signo;

	if (expect_bits(s, p, wp0, wp1))
		return FAIL;
	for (i = 0; i < 2; i++) {
		char *page = p + i * s->a.ps;

		signo = 0;
		if (touch_here(page, true, 'w', &signo, NULL) == TOUCH_DONE) {
			CHECK(!wp[i], "page %d: a write went through a protected page",
			      i);
			CHECK_EQ(*page, 'w');
		} else {
			CHECK(wp[i], "page %d: a write trapped (signal %d) with nothing protected",
			      i, signo);
			CHECK_EQ(signo, SIGBUS);
		}
	}
	return PASS;
}

/* Still protected at p: both pages as they were protected. */
static int expect_kept(const struct wp2 *s, char *p)
{
	return expect_pages(s, p, true, s->markers);
}

/*
 * Gone at p: no bit 57 left, and with the range registered in WP mode
 * again (nothing protected) both writes go through.
 */
static int expect_dropped(const struct wp2 *s, char *p)
{
	int uffd;

	if (expect_bits(s, p, false, false))
		return FAIL;
	uffd = uffd_new(uffd_wp_features(s->a.mt) | UFFD_FEATURE_SIGBUS);
	SYS(uffd);
	CHECK_EQ(uffd_register(uffd, p, s->a.len, UFFDIO_REGISTER_MODE_WP,
			       NULL), 0);
	return expect_pages(s, p, false, false);
}

/* The two protected pages every row starts from; SKIP where WP is missing. */
static int wp2_setup(const struct ctx *c, struct wp2 *s, uint64_t features)
{
	int ret = need_wp(c);

	if (ret)
		return ret;
	if (area_alloc(&s->a, c->mt, 2, PROT_READ | PROT_WRITE))
		return FAIL;
	s->a.p[0] = 'A';
	features |= uffd_wp_features(c->mt) | UFFD_FEATURE_SIGBUS;
	if (!(c->mt->flag & MEM_FILE))
		features |= c->features & UFFD_FEATURE_WP_UNPOPULATED;
	s->features = features;
	s->huge = c->mt->flag == MEM_THP;
	s->markers = (c->mt->flag & MEM_FILE) ||
		     (features & UFFD_FEATURE_WP_UNPOPULATED);
	s->uffd = uffd_new(features);
	SYS(s->uffd);
	CHECK_EQ(uffd_register(s->uffd, s->a.p, s->a.len,
			       UFFDIO_REGISTER_MODE_WP, NULL), 0);
	CHECK_EQ(uffd_writeprotect(s->uffd, s->a.p, s->a.len, true), 0);
	return expect_bits(s, s->a.p, true, s->markers);
}

/* A row: op on the two pages of a uffd that has features. */
static int wp2_run(const struct ctx *c, uint64_t features,
		   int (*op)(struct wp2 *s))
{
	struct wp2 s;
	int ret = wp2_setup(c, &s, features);

	return ret ? ret : op(&s);
}

static int unregister_op(struct wp2 *s)
{
	CHECK_EQ(uffd_unregister(s->uffd, s->a.p, s->a.len), 0);
	return expect_dropped(s, s->a.p);
}

/*
 * A1. Fixed by f369b07c8614 ("mm/uffd: reset write protection when
 * unregister with wp-mode"): UNREGISTER must resolve the protection of the
 * range, ptes and markers. Without it bit 57 stays, and the range, once
 * registered again, traps the first write.
 */
int wp_after_unregister(const struct ctx *c)
{
	return wp2_run(c, 0, unregister_op);
}

static int close_op(struct wp2 *s)
{
	SYS(close(s->uffd));
	return expect_dropped(s, s->a.p);
}

/* A1's sibling: the release of the last uffd reference does the same. */
int wp_after_close(const struct ctx *c)
{
	return wp2_run(c, 0, close_op);
}

/*
 * mremap() of the whole range, from a thread where EVENT_REMAP blocks it
 * until the event is read. With the event the range stays registered and
 * its protection moves along; without it the new range is not registered
 * and must arrive unprotected. MREMAP_DONTUNMAP leaves the old range
 * mapped, still registered and empty: nothing may be protected there.
 */
static int move_op(struct wp2 *s, int flags)
{
	bool event = s->features & UFFD_FEATURE_EVENT_REMAP;
	struct uffd_msg msg;
	struct move m;
	struct bg bg;

	/*
	 * A huge PMD moves whole only to a PMD-aligned address, which the
	 * kernel picks for anonymous memory by itself only since 6.7
	 * (efa7df3e3bb5, "mm: align larger anonymous mappings on THP
	 * boundaries"): on older kernels page 0 arrived split, or not,
	 * as the address fell.
	 */
	if (s->huge)
		flags |= MREMAP_FIXED;
	m = (struct move){ s->a.p, NULL, s->a.len, MREMAP_MAYMOVE | flags };
	if (flags & MREMAP_FIXED) {
		m.to = reserve_range(s->a.len, s->a.ps);
		if (!m.to)
			return FAIL;
	}
	if (event) {
		SYS(bg_start(&bg, do_move, &m));
		if (expect_event(s->uffd, UFFD_EVENT_REMAP, &msg))
			return FAIL;
		CHECK_EQ(bg_join(&bg, WAIT_MS), 0);
		CHECK_EQ(bg.ret, 0);
	} else {
		SYS(do_move(&m));
	}
	if (event ? expect_kept(s, m.ret) : expect_dropped(s, m.ret))
		return FAIL;
	if (flags & MREMAP_DONTUNMAP)
		return expect_pages(s, s->a.p, false, false);
	return PASS;
}

static int fixed_op(struct wp2 *s)
{
	return move_op(s, MREMAP_FIXED);
}

static int dontunmap_op(struct wp2 *s)
{
	return move_op(s, MREMAP_DONTUNMAP);
}

/*
 * A2. Fixed by 0cef0bb836e3 ("mm: clear uffd-wp PTE/PMD state on
 * mremap()"): without EVENT_REMAP the moved ptes and markers must lose
 * uffd-wp on the way (move_ptes(), move_huge_pte()). Unfixed, they arrive
 * protected in a range no uffd knows about.
 */
int wp_after_mremap(const struct ctx *c)
{
	return wp2_run(c, 0, fixed_op);
}

int wp_after_mremap_event(const struct ctx *c)
{
	return wp2_run(c, UFFD_FEATURE_EVENT_REMAP, fixed_op);
}

int wp_after_dontunmap(const struct ctx *c)
{
	return wp2_run(c, 0, dontunmap_op);
}

int wp_after_dontunmap_event(const struct ctx *c)
{
	return wp2_run(c, UFFD_FEATURE_EVENT_REMAP, dontunmap_op);
}

/* In the child: its copy of the range, registered only with EVENT_FORK. */
static int child_copy(void *arg)
{
	const struct wp2 *s = arg;

	if (s->features & UFFD_FEATURE_EVENT_FORK)
		return expect_kept(s, s->a.p);
	return expect_dropped(s, s->a.p);
}

/* The parent keeps its protection either way. */
static int fork_op(struct wp2 *s)
{
	if (fork_child_check(s->uffd, s->features & UFFD_FEATURE_EVENT_FORK,
			     child_copy, s))
		return FAIL;
	return expect_kept(s, s->a.p);
}

/*
 * A3. Fixed by 5a2f8d22ace4 ("mm/hugetlb: fix uffd-wp during fork()") for
 * hugetlb, and by 8f34f1eac382 ("mm/userfaultfd: fix uffd-wp special cases
 * for fork()") for ptes and markers: without EVENT_FORK the child's copy
 * is not registered and must not inherit uffd-wp. Unfixed, the child's
 * pagemap shows bit 57 and its range, once registered, traps.
 */
int wp_after_fork(const struct ctx *c)
{
	return wp2_run(c, 0, fork_op);
}

/* With EVENT_FORK the child's range is registered and keeps it all. */
int wp_after_fork_event(const struct ctx *c)
{
	return wp2_run(c, UFFD_FEATURE_EVENT_FORK, fork_op);
}

static int dontneed_op(struct wp2 *s)
{
	bool file = s->a.mt->flag & MEM_FILE;

	SYS(madvise(s->a.p, s->a.len, MADV_DONTNEED));
	return expect_pages(s, s->a.p, file, file);
}

/*
 * MADV_DONTNEED of file memory leaves a marker where a protected page or
 * marker was (zap_install_uffd_wp_if_needed()): the page cache still
 * holds the data and the protection stays. On anonymous memory the data
 * is gone, and the zap drops markers and all, WP_UNPOPULATED or not.
 */
int wp_after_dontneed(const struct ctx *c)
{
	return wp2_run(c, 0, dontneed_op);
}

static int mprotect_op(struct wp2 *s)
{
	SYS(mprotect(page_of(&s->a, 1), s->a.ps, PROT_READ));
	SYS(mprotect(s->a.p, s->a.len, PROT_NONE));
	SYS(mprotect(s->a.p, s->a.len, PROT_READ | PROT_WRITE));
	return expect_kept(s, s->a.p);
}

/*
 * mprotect() keeps ptes and markers protected through a VMA split,
 * PROT_NONE and the merge back (pte_modify() keeps the bit; markers are
 * left alone unless resolved).
 */
int wp_after_mprotect(const struct ctx *c)
{
	return wp2_run(c, 0, mprotect_op);
}
