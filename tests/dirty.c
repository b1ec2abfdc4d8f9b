// SPDX-License-Identifier: GPL-2.0
/*
 * A6. Fixed by "userfaultfd: shmem: UFFDIO_COPY: set the page dirty if
 * VM_WRITE is not set" (now an unconditional pte_mkdirty() in
 * mfill_atomic_install_pte): a page filled into a PROT_READ shared mapping
 * is only in the page cache, so if it is clean reclaim drops it and the
 * data is lost. MADV_PAGEOUT reclaims synchronously on UML (UP): a dirty
 * page goes to swap (or is redirtied where there is none), a clean one is
 * dropped, so the loss shows at once.
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <unistd.h>

#include "scenarios.h"

static int copy_pageout_read(const struct ctx *c, int prot)
{
	struct area a;
	int64_t out;
	char *src, *buf;
	uint64_t pm;
	int uffd;

	if (area_alloc(&a, c->mt, 1, prot))
		return FAIL;
	/* The alias is a second mapper that would keep the page mapped. */
	munmap(a.alias, a.len);
	a.alias = NULL;
	uffd = uffd_for_area(&a, 0, UFFDIO_REGISTER_MODE_MISSING);
	src = src_pages(a.ps, 'S');
	buf = src_pages(a.ps, 0);
	if (uffd < 0 || !src || !buf)
		return FAIL;

	CHECK_EQ(uffd_copy(uffd, a.p, src, a.ps, 0, &out), 0);
	SYS(madvise(a.p, a.ps, MADV_PAGEOUT));
	pm = pagemap_entry(a.p);
	if (pm & PM_PRESENT)
		return skip("MADV_PAGEOUT left the page mapped (pagemap %#llx): reclaim cannot be judged",
			    (unsigned long long)pm);
	CHECK_EQ(pread(a.fd, buf, a.ps, 0), (ssize_t)a.ps);
	CHECK(all_bytes(buf, 'S', a.ps),
	      "data lost after reclaim (PROT_%s): file reads %#x",
	      prot & PROT_WRITE ? "RW" : "READ", buf[0]);
	return PASS;
}

int shmem_ro_copy_dirty(const struct ctx *c)
{
	/* The PROT_RW control shows that pageout itself keeps data. */
	if (copy_pageout_read(c, PROT_READ | PROT_WRITE))
		return FAIL;
	return copy_pageout_read(c, PROT_READ);
}
