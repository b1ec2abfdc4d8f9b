// SPDX-License-Identifier: GPL-2.0
/*
 * Transparent huge pages (issue 17) and what userfaultfd tracks in them.
 * The `thp` memory type is PMD-aligned anonymous memory with
 * MADV_HUGEPAGE; a row proves a huge PMD (smaps AnonHugePages) before it
 * relies on one, and proves collapse works before it expects one refused.
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <unistd.h>

#include "scenarios.h"

#ifndef MADV_COLLAPSE		/* 6.1; musl's headers may predate it */
#define MADV_COLLAPSE 25
#endif

/*
 * MADV_COLLAPSE of the range: 0 or -errno. EAGAIN is a transient
 * failure (a page it could not isolate, no huge page free at once):
 * try again, as the man page says.
 */
static int collapse(void *p, size_t len)
{
	int i;

	for (i = 0; i < 10; i++) {
		if (!madvise(p, len, MADV_COLLAPSE))
			return 0;
		if (errno != EAGAIN)
			return -errno;
		usleep(10000);
	}
	return -EAGAIN;
}

/*
 * MADV_COLLAPSE must not collapse over what userfaultfd tracks: a hole
 * in a range registered MISSING (collapse_max_ptes_none() is 0 for an
 * armed VMA, or the hole would be filled without a fault) nor a
 * write-protected PTE (SCAN_PTE_UFFD, or the protection would go). Once
 * nothing is armed the same range collapses: the control that makes the
 * two refusals mean something. The range is MADV_HUGEPAGE only while it
 * is armed or for the control: khugepaged collapses such a range with
 * holes on its own, and would in any window where it is not armed.
 */
int thp_collapse(const struct ctx *c)
{
	size_t ps = sysconf(_SC_PAGESIZE), i;
	struct area a;
	int uffd, ret;

	if (area_alloc(&a, c->mt, 1, PROT_READ | PROT_WRITE))
		return FAIL;
	/* 4 KiB pages first, page 3 a hole. */
	SYS(madvise(a.p, a.len, MADV_NOHUGEPAGE));
	for (i = 0; i < a.len; i += ps)
		if (i != 3 * ps)
			memset(a.p + i, 'C', ps);
	CHECK_EQ(thp_mapped_kib(a.p), 0);

	uffd = uffd_new(0);
	SYS(uffd);
	CHECK_EQ(uffd_register(uffd, a.p, a.len, UFFDIO_REGISTER_MODE_MISSING,
			       NULL), 0);
	SYS(madvise(a.p, a.len, MADV_HUGEPAGE));
	ret = collapse(a.p, a.len);
	CHECK(ret && !thp_mapped_kib(a.p),
	      "MADV_COLLAPSE filled a hole of a range registered MISSING (returned %d, AnonHugePages %ld kB)",
	      ret, thp_mapped_kib(a.p));
	CHECK_EQ(pagemap_entry(a.p + 3 * ps) & PM_PRESENT, 0);
	SYS(madvise(a.p, a.len, MADV_NOHUGEPAGE));
	CHECK_EQ(uffd_unregister(uffd, a.p, a.len), 0);

	memset(a.p + 3 * ps, 'C', ps);
	CHECK_EQ(uffd_register(uffd, a.p, a.len, UFFDIO_REGISTER_MODE_WP,
			       NULL), 0);
	CHECK_EQ(uffd_writeprotect(uffd, a.p + 7 * ps, ps, true), 0);
	SYS(madvise(a.p, a.len, MADV_HUGEPAGE));
	ret = collapse(a.p, a.len);
	CHECK(ret && !thp_mapped_kib(a.p),
	      "MADV_COLLAPSE collapsed over a write-protected PTE (returned %d, AnonHugePages %ld kB)",
	      ret, thp_mapped_kib(a.p));
	CHECK_EQ(pagemap_entry(a.p + 7 * ps) & PM_UFFD_WP, PM_UFFD_WP);
	CHECK_EQ(uffd_unregister(uffd, a.p, a.len), 0);

	ret = collapse(a.p, a.len);
	CHECK(!ret && thp_mapped_kib(a.p) == (long)(a.len >> 10),
	      "with nothing armed, MADV_COLLAPSE did not collapse (returned %d, AnonHugePages %ld kB): the refusals above prove nothing",
	      ret, thp_mapped_kib(a.p));
	CHECK(all_bytes(a.p, 'C', a.len), "the collapse lost data");
	return expect_no_message(uffd);
}
