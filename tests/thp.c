// SPDX-License-Identifier: GPL-2.0
/*
 * Transparent huge pages (issue 17) and what userfaultfd tracks in them.
 * The `thp` memory type is PMD-aligned anonymous memory with
 * MADV_HUGEPAGE; a row proves a huge PMD (smaps AnonHugePages) before it
 * relies on one, and proves collapse works before it expects one refused.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "scenarios.h"

#define THP_SHMEM_ENABLED "/sys/kernel/mm/transparent_hugepage/shmem_enabled"

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
	size_t ps = sysconf(_SC_PAGESIZE);
	struct area a;
	int uffd, ret;

	if (area_alloc(&a, c->mt, 1, PROT_READ | PROT_WRITE))
		return FAIL;
	/* 4 KiB pages first, page 3 a hole. */
	SYS(madvise(a.p, a.len, MADV_NOHUGEPAGE));
	fill_bytes(a.p, 'C', 3 * ps);
	fill_bytes(a.p + 4 * ps, 'C', a.len - 4 * ps);
	CHECK_EQ(thp_mapped_kib(a.p), 0);
	CHECK_EQ(pagemap_entry(a.p + 3 * ps) & PM_PRESENT, 0);

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

/* A THP area of one PMD whose first read mapped the huge zero page. */
static int huge_zero_area(const struct ctx *c, struct area *a)
{
	if (area_alloc(a, c->mt, 1, PROT_READ | PROT_WRITE))
		return FAIL;
	CHECK_EQ(*(volatile char *)a->p, 0);
	CHECK(huge_zero_mapped(a->p) && huge_zero_mapped(a->p + a->len - 1),
	      "a read of THP memory did not map the huge zero page (pagemap %#llx, kpageflags %#llx; transparent_hugepage/use_zero_page off?)",
	      (unsigned long long)pagemap_entry(a->p),
	      (unsigned long long)kpageflags_at(a->p));
	return PASS;
}

/*
 * MISSING on THP memory. A read of a registered hole is a MISSING fault
 * (do_huge_pmd_anonymous_page() asks userfaultfd_missing() before it
 * maps the huge zero page), and ZEROPAGE over the PMD resolves it with
 * 4 KiB zero-page PTEs. Where a huge PMD is mapped already (here the
 * huge zero page, mapped before the range was registered) a fill must
 * not build PTEs under it: -EEXIST (mfill_establish_pmd(); the check
 * came with c1a4de99fada and was made race-free by 71c186efc1b2
 * "userfaultfd: fix checks for huge PMDs").
 */
int thp_missing(const struct ctx *c)
{
	size_t ps = sysconf(_SC_PAGESIZE);
	struct uffd_msg msg;
	struct touch t;
	struct area a;
	int64_t out;
	char *src;
	int uffd;

	if (area_alloc(&a, c->mt, 1, PROT_READ | PROT_WRITE))
		return FAIL;
	uffd = uffd_for_area(&a, 0, UFFDIO_REGISTER_MODE_MISSING);
	if (uffd < 0)
		return FAIL;
	SYS(touch_start(&t, a.p + 5 * ps, false, 0));
	CHECK(touch_wait(&t, uffd, &msg, WAIT_MS) == TOUCH_WAIT_MSG,
	      "a read of a registered THP hole was not a MISSING fault (huge zero page %s)",
	      huge_zero_mapped(a.p) ? "mapped" : "not mapped");
	CHECK_EQ(msg.event, UFFD_EVENT_PAGEFAULT);
	CHECK_EQ(msg.arg.pagefault.address, (uintptr_t)(a.p + 5 * ps));
	CHECK_EQ(msg.arg.pagefault.flags, 0);
	CHECK_EQ(uffd_zeropage(uffd, a.p, a.len, 0, &out), 0);
	CHECK_EQ(out, (int64_t)a.len);
	CHECK_EQ(touch_wait(&t, uffd, &msg, WAIT_MS), TOUCH_WAIT_DONE);
	CHECK_EQ(t.state, TOUCH_DONE);
	CHECK_EQ(touch_join(&t), 0);
	CHECK(all_bytes(a.p, 0, a.len) && !huge_zero_mapped(a.p),
	      "ZEROPAGE did not leave 4 KiB zero pages");
	CHECK_EQ(pagemap_entry(a.p + a.len - ps) & PM_PRESENT, PM_PRESENT);

	/* A fresh PMD: MADV_DONTNEED may leave the page table behind. */
	if (huge_zero_area(c, &a))
		return FAIL;
	CHECK_EQ(uffd_register(uffd, a.p, a.len, UFFDIO_REGISTER_MODE_MISSING,
			       NULL), 0);
	src = src_pages(ps, 'c');
	SYS(src ? 0 : -1);
	CHECK_EQ(uffd_copy(uffd, a.p + 3 * ps, src, ps, 0, &out), -EEXIST);
	CHECK_EQ(uffd_zeropage(uffd, a.p + 3 * ps, ps, 0, &out), -EEXIST);
	CHECK(huge_zero_mapped(a.p + 3 * ps) && all_bytes(a.p, 0, a.len),
	      "a refused fill changed the huge zero PMD");
	return expect_no_message(uffd);
}

/*
 * UFFDIO_MOVE of a PMD that maps the huge zero page: the PMD moves as
 * it is (move_pages_huge_pmd() takes no folio for it; before eb1521dad8f3
 * "userfaultfd: handle zeropage moves by UFFDIO_MOVE" it was refused as
 * not anon-exclusive, -EBUSY). The destination reads zeros through the
 * same huge zero page, and its first write is a CoW that leaves the
 * huge zero page zero for everyone else.
 */
int thp_zero_move(const struct ctx *c)
{
	struct area src, dst, other;
	int64_t out;
	int uffd;

	if (huge_zero_area(c, &src))
		return FAIL;
	if (area_alloc(&dst, c->mt, 1, PROT_READ | PROT_WRITE))
		return FAIL;
	uffd = uffd_for_area(&dst, UFFD_FEATURE_MOVE,
			     UFFDIO_REGISTER_MODE_MISSING);
	if (uffd < 0)
		return FAIL;
	CHECK_EQ(uffd_move(uffd, dst.p, src.p, src.len, 0, &out), 0);
	CHECK_EQ(out, (int64_t)src.len);
	CHECK_EQ(pagemap_entry(src.p) & (PM_PRESENT | PM_SWAP), 0);
	CHECK(huge_zero_mapped(dst.p) && huge_zero_mapped(dst.p + dst.len - 1),
	      "the huge zero PMD did not arrive (pagemap %#llx)",
	      (unsigned long long)pagemap_entry(dst.p));
	CHECK(all_bytes(dst.p, 0, dst.len), "the moved zero PMD is not zero");

	dst.p[1] = 'm';
	CHECK(!huge_zero_mapped(dst.p), "a write left the huge zero page mapped");
	if (huge_zero_area(c, &other))
		return FAIL;
	CHECK(all_bytes(other.p, 0, other.len),
	      "a write through the moved PMD changed the huge zero page");
	CHECK(dst.p[1] == 'm' && all_bytes(dst.p + 2, 0, dst.len - 2),
	      "the CoW of the moved zero PMD lost data");
	return expect_no_message(uffd);
}

/* A THP area of one PMD, filled with c, mapped by a huge PMD. */
static int huge_area(const struct ctx *c, struct area *a, char fill)
{
	if (area_alloc(a, c->mt, 1, PROT_READ | PROT_WRITE))
		return FAIL;
	fill_bytes(a->p, fill, a->len);
	CHECK(thp_mapped_kib(a->p) == (long)(a->len >> 10),
	      "the first touch did not map a huge PMD (smaps AnonHugePages %ld kB; vmstat thp_fault_alloc %lu, thp_fault_fallback %lu)",
	      thp_mapped_kib(a->p), vmstat("thp_fault_alloc"),
	      vmstat("thp_fault_fallback"));
	return PASS;
}

/*
 * UFFDIO_MOVE of THP memory (6.8): a whole, aligned PMD moves as a PMD
 * (move_pages_huge_pmd(): the destination is huge, not 512 PTEs); a move
 * of part of one splits the source PMD first (move_splits_huge_pmd())
 * and moves PTEs, leaving the rest of the source in place.
 */
int thp_move(const struct ctx *c)
{
	size_t half, quarter;
	struct area s1, d1, s2, d2;
	int64_t out;
	int uffd;

	if (huge_area(c, &s1, 'W') || huge_area(c, &s2, 'P'))
		return FAIL;
	if (area_alloc(&d1, c->mt, 1, PROT_READ | PROT_WRITE) ||
	    area_alloc(&d2, c->mt, 1, PROT_READ | PROT_WRITE))
		return FAIL;
	uffd = uffd_new(UFFD_FEATURE_MOVE);
	SYS(uffd);
	CHECK_EQ(uffd_register(uffd, d1.p, d1.len, UFFDIO_REGISTER_MODE_MISSING,
			       NULL), 0);
	CHECK_EQ(uffd_register(uffd, d2.p, d2.len, UFFDIO_REGISTER_MODE_MISSING,
			       NULL), 0);

	CHECK_EQ(uffd_move(uffd, d1.p, s1.p, s1.len, 0, &out), 0);
	CHECK_EQ(out, (int64_t)s1.len);
	CHECK(thp_mapped_kib(d1.p) == (long)(d1.len >> 10),
	      "a whole PMD did not move as a huge PMD (destination AnonHugePages %ld kB)",
	      thp_mapped_kib(d1.p));
	CHECK(all_bytes(d1.p, 'W', d1.len), "the moved PMD lost data");
	CHECK_EQ(pagemap_entry(s1.p) & (PM_PRESENT | PM_SWAP), 0);

	half = s2.len / 2;
	quarter = s2.len / 4;
	CHECK_EQ(uffd_move(uffd, d2.p + quarter, s2.p + quarter, half, 0, &out),
		 0);
	CHECK_EQ(out, (int64_t)half);
	CHECK_EQ(thp_mapped_kib(s2.p), 0);
	CHECK(all_bytes(s2.p, 'P', quarter) &&
	      all_bytes(s2.p + quarter + half, 'P', quarter),
	      "a partial move lost what it left in the source");
	CHECK_EQ(pagemap_entry(s2.p + quarter) & (PM_PRESENT | PM_SWAP), 0);
	CHECK_EQ(pagemap_entry(s2.p + quarter + half - 1) &
		 (PM_PRESENT | PM_SWAP), 0);
	CHECK(all_bytes(d2.p + quarter, 'P', half),
	      "a partial move did not bring its data");
	CHECK_EQ(pagemap_entry(d2.p) & PM_PRESENT, 0);
	return expect_no_message(uffd);
}

/* KiB of the mapping around p that huge PMDs map from shmem, or -1. */
static long shmem_pmd_kib(const void *p)
{
	return smaps_kib(p, "ShmemPmdMapped");
}

/*
 * UFFDIO_CONTINUE on THP shmem: the page cache holds one huge folio
 * (written through a mapping of its own, which a huge PMD maps). A read
 * of a range registered MINOR must be a minor fault, not a huge PMD
 * mapped by fault-around (do_fault_around(), uffd_disable_fault_around())
 * or by the fault itself; CONTINUE maps the 4 KiB pages asked for, each
 * the subpage at its own offset of the folio (folio_file_page()).
 */
int thp_shmem_cont(const struct ctx *c)
{
	size_t ps = sysconf(_SC_PAGESIZE), len, i;
	struct uffd_msg msg;
	struct touch t;
	char *alias, *p;
	int64_t out;
	int fd, uffd;

	(void)c;

	if (access(THP_SHMEM_ENABLED, F_OK))
		return skip("kernel has no THP shmem (" THP_SHMEM_ENABLED ")");
	len = mem_type(MEM_THP)->page_size();
	fd = mem_memfd(mem_type(MEM_SHMEM), len);
	SYS(fd);
	alias = thp_map(len, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
	p = thp_map(len, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
	SYS(alias && p ? 0 : -1);
	for (i = 0; i < len; i += ps)
		memset(alias + i, 'a' + (i / ps) % 26, ps);
	CHECK(shmem_pmd_kib(alias) == (long)(len >> 10),
	      "the page cache holds no huge folio mapped by a PMD (smaps ShmemPmdMapped %ld kB; shmem_enabled not advise?)",
	      shmem_pmd_kib(alias));

	uffd = uffd_new(UFFD_FEATURE_MINOR_SHMEM);
	SYS(uffd);
	CHECK_EQ(uffd_register(uffd, p, len, UFFDIO_REGISTER_MODE_MINOR, NULL),
		 0);
	SYS(touch_start(&t, p + 5 * ps, false, 0));
	CHECK(touch_wait(&t, uffd, &msg, WAIT_MS) == TOUCH_WAIT_MSG,
	      "a read of THP shmem registered MINOR was no minor fault (ShmemPmdMapped %ld kB)",
	      shmem_pmd_kib(p));
	CHECK_EQ(msg.arg.pagefault.flags, UFFD_PAGEFAULT_FLAG_MINOR);
	CHECK_EQ(msg.arg.pagefault.address, (uintptr_t)(p + 5 * ps));
	CHECK_EQ(uffd_continue(uffd, p + 4 * ps, 3 * ps, 0, &out), 0);
	CHECK_EQ(out, (int64_t)(3 * ps));
	CHECK_EQ(touch_wait(&t, uffd, &msg, WAIT_MS), TOUCH_WAIT_DONE);
	CHECK_EQ(touch_join(&t), 0);
	for (i = 4; i < 7; i++)
		CHECK(all_bytes(p + i * ps, 'a' + i % 26, ps),
		      "page %zu shows '%c', not its own subpage of the folio",
		      i, p[i * ps]);
	CHECK_EQ(shmem_pmd_kib(p), 0);
	CHECK_EQ(pagemap_entry(p + 3 * ps) & PM_PRESENT, 0);
	CHECK_EQ(pagemap_entry(p + 7 * ps) & PM_PRESENT, 0);
	CHECK_EQ(uffd_continue(uffd, p + 5 * ps, ps, 0, &out), -EEXIST);
	return expect_no_message(uffd);
}
