// SPDX-License-Identifier: GPL-2.0
/*
 * PAGEMAP_SCAN over a range registered with asynchronous uffd-wp
 * (realbugs E): a tracker (CRIU's pre-dump, a GC's card marking) arms the
 * range with PM_SCAN_WP_MATCHING and later asks which pages were written
 * since. Whatever mask selects PAGE_IS_WRITTEN, the answer must be the
 * same: the kernel has a fast path for category_mask == return_mask ==
 * PAGE_IS_WRITTEN and a generic one for everything else.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pagemap-scan.h"
#include "scenarios.h"

enum scan_how { SCAN_MASK, SCAN_ANYOF, SCAN_INVERTED, SCAN_ARM };

long scan_area(const struct area *a, struct pm_scan_arg *arg)
{
	struct page_region vec[32];
	long n, i, set = 0;
	uintptr_t addr;
	int fd;

	arg->size = sizeof(*arg);
	arg->start = (uintptr_t)a->p;
	arg->end = (uintptr_t)a->p + a->len;
	arg->vec = (uintptr_t)vec;
	arg->vec_len = sizeof(vec) / sizeof(vec[0]);
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = ioctl(fd, PAGEMAP_SCAN, arg);
	if (n < 0)
		n = -errno;
	close(fd);
	for (i = 0; i < n; i++)
		for (addr = vec[i].start; addr < vec[i].end; addr += a->ps)
			set |= 1L << ((addr - (uintptr_t)a->p) / a->ps);
	return n < 0 ? n : set;
}

/*
 * How many pages of a one PAGEMAP_SCAN reports: written ones, selected
 * by category_mask (the fast path), by category_anyof_mask (the generic
 * path), or not-written ones (category_inverted); SCAN_ARM also
 * write-protects what it reports. -errno on failure.
 */
static long scan(const struct area *a, enum scan_how how)
{
	struct pm_scan_arg arg = { .return_mask = PAGE_IS_WRITTEN };
	long set;

	if (how == SCAN_ANYOF)
		arg.category_anyof_mask = PAGE_IS_WRITTEN;
	else
		arg.category_mask = PAGE_IS_WRITTEN;
	if (how == SCAN_INVERTED)
		arg.category_inverted = PAGE_IS_WRITTEN;
	if (how == SCAN_ARM)
		arg.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC;
	set = scan_area(a, &arg);
	return set < 0 ? set : __builtin_popcountl(set);
}

/* Both ways of asking for written pages say want; the rest are not. */
static int expect_written(const struct area *a, long want, const char *when)
{
	long mask = scan(a, SCAN_MASK), anyof = scan(a, SCAN_ANYOF),
	     not = scan(a, SCAN_INVERTED);

	CHECK(mask == want && anyof == want && not == (long)a->npages - want,
	      "%s: written pages by category_mask %ld, by category_anyof_mask %ld, not written %ld; expected %ld of %zu",
	      when, mask, anyof, not, want, a->npages);
	return PASS;
}

/*
 * E1. Fixed by "fs/proc/task_mmu: fix PAGEMAP_SCAN written state for
 * unpopulated ptes" (2026): in a uffd-wp VMA an unpopulated pte (never
 * touched, or zapped after being written) carries no protection, so it
 * counts as written. The fast path always said so; unfixed, the generic
 * path (pagemap_page_category()) called it neither, and category_anyof_mask
 * found half the pages or none where category_mask found all.
 *
 * hugetlb is the exception the kernel documents (pagemap_hugetlb_category()):
 * an unpopulated huge pte is not written, on both paths.
 */
int scan_written(const struct ctx *c)
{
	bool huge = c->mt->flag & (MEM_HUGETLB | MEM_HUGETLB_PRIV);
	size_t n = huge ? 2 : 16, i;
	long none_written = huge ? 0 : 1;
	struct area a;
	long armed;
	int uffd;

	if (need_wp(c))
		return SKIP;
	if (area_alloc(&a, c->mt, n, PROT_READ | PROT_WRITE))
		return FAIL;
	uffd = uffd_new(uffd_wp_features(c->mt) | UFFD_FEATURE_WP_ASYNC |
			UFFD_FEATURE_WP_UNPOPULATED);
	SYS(uffd);
	CHECK_EQ(uffd_register(uffd, a.p, a.len, UFFDIO_REGISTER_MODE_WP,
			       NULL), 0);

	/* Half the pages written: one page table, populated and none ptes. */
	for (i = 0; i < n / 2; i++)
		*page_of(&a, i) = 1;
	if (expect_written(&a, n / 2 + none_written * (n - n / 2),
			   "half the pages written, none armed"))
		return FAIL;
	armed = scan(&a, SCAN_ARM);
	CHECK_EQ(armed, n / 2 + none_written * (n - n / 2));
	if (expect_written(&a, 0, "armed"))
		return FAIL;

	/* Asynchronous: the writes go through and clear the protection. */
	for (i = 0; i < n; i++)
		*page_of(&a, i) = 2;
	if (expect_written(&a, n, "all pages written"))
		return FAIL;
	SYS(madvise(a.p, a.len, MADV_DONTNEED));
	if (expect_written(&a, none_written * n, "written, then MADV_DONTNEED"))
		return FAIL;
	CHECK_EQ(scan(&a, SCAN_ARM), none_written * n);
	return expect_written(&a, 0, "armed again");
}
