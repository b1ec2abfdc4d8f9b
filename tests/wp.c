// SPDX-License-Identifier: GPL-2.0
/*
 * Userfaultfd write-protect (seed 003; scenarios.md D), and the arch-level
 * behaviours a UML uffd-wp implementation must get right.
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scenarios.h"

/* SKIP, naming the feature, where WP registration on c->mt is missing. */
int need_wp(const struct ctx *c)
{
	uint64_t need = uffd_wp_features(c->mt), bit;

	for (bit = 1; bit; bit <<= 1)
		if ((need & bit) && !(c->features & bit))
			return skip("kernel lacks UFFD_FEATURE_%s",
				    uffd_feature_name(bit));
	return PASS;
}

/*
 * A write to page from a thread must stop in a WP userfault; un-protecting
 * lets it finish. Returns FAIL with a diagnostic otherwise.
 */
static int expect_wp_fault(int uffd, char *page, size_t ps, char val)
{
	struct uffd_msg msg;
	struct touch t;

	SYS(touch_start(&t, page, true, val));
	CHECK_EQ(touch_wait(&t, uffd, &msg, WAIT_MS), TOUCH_WAIT_MSG);
	CHECK_EQ(msg.event, UFFD_EVENT_PAGEFAULT);
	CHECK_EQ(msg.arg.pagefault.flags,
		 UFFD_PAGEFAULT_FLAG_WP | UFFD_PAGEFAULT_FLAG_WRITE);
	CHECK_EQ(msg.arg.pagefault.address, (uintptr_t)page);
	CHECK_EQ(uffd_writeprotect(uffd, page, ps, false), 0);
	CHECK_EQ(touch_wait(&t, uffd, &msg, WAIT_MS), TOUCH_WAIT_DONE);
	CHECK_EQ(t.state, TOUCH_DONE);
	CHECK_EQ(page[0], val);
	return PASS;
}

/* One populated page holding val, registered WP and protected. */
static int wp_page(const struct ctx *c, struct area *a, char val, int *uffd)
{
	if (area_alloc(a, c->mt, 1, PROT_READ | PROT_WRITE))
		return FAIL;
	a->p[0] = val;
	*uffd = uffd_new(uffd_wp_features(c->mt));
	SYS(*uffd);
	CHECK_EQ(uffd_register(*uffd, a->p, a->len, UFFDIO_REGISTER_MODE_WP,
			       NULL), 0);
	CHECK_EQ(uffd_writeprotect(*uffd, a->p, a->len, true), 0);
	return PASS;
}

static int expect_no_wp_fault(int uffd, char *page, char val)
{
	struct uffd_msg msg;
	struct touch t;

	SYS(touch_start(&t, page, true, val));
	CHECK_EQ(touch_wait(&t, uffd, &msg, WAIT_MS), TOUCH_WAIT_DONE);
	CHECK_EQ(t.state, TOUCH_DONE);
	return PASS;
}

/* A file mapping at a fresh PMD-aligned address: no page table yet. */
static char *map_fresh(const struct area *a, int prot)
{
	char *at = reserve_range(a->len, 2UL << 20);

	if (!at)
		return NULL;
	at = mmap(at, a->len, prot, a->mt->map_flags | MAP_FIXED, a->fd, 0);
	return at == MAP_FAILED ? NULL : at;
}

/*
 * D1. Fixed by "mm/shmem: allow uffd wr-protect none pte for file-backed
 * mem" (seed 003): write-protecting file memory that has no pte (no page
 * table even) installs uffd-wp pte markers, so the first write is still
 * reported. Without it, change_protection() skips the none pmd/pte, pagemap
 * shows nothing and the write goes through unreported.
 */
int wp_none_pte(const struct ctx *c)
{
	uint64_t marker = c->mt->flag & (MEM_HUGETLB | MEM_HUGETLB_PRIV) ?
			  PM_UFFD_WP : PM_SWAP | PM_UFFD_WP;
	struct uffd_msg msg;
	struct touch t;
	struct area a;
	char *map, buf;
	int uffd;

	if (need_wp(c))
		return SKIP;
	if (area_alloc(&a, c->mt, 4, PROT_READ | PROT_WRITE))
		return FAIL;
	fill_bytes(a.alias + a.ps, 'D', a.ps);
	map = map_fresh(&a, PROT_READ | PROT_WRITE);
	SYS(map ? 0 : -1);
	uffd = uffd_new(uffd_wp_features(c->mt));
	SYS(uffd);
	CHECK_EQ(uffd_register(uffd, map, a.len, UFFDIO_REGISTER_MODE_WP, NULL), 0);

	/*
	 * Page 1 is in the file, page 2 is a hole: both get a marker, which
	 * pagemap shows as a swap entry for small pages, as UFFD_WP alone
	 * for hugetlb.
	 */
	CHECK_EQ(uffd_writeprotect(uffd, map + a.ps, 2 * a.ps, true), 0);
	CHECK_EQ(pagemap_entry(map + a.ps) & (PM_PRESENT | PM_SWAP | PM_UFFD_WP),
		 marker);
	CHECK_EQ(pagemap_entry(map + 2 * a.ps) & (PM_PRESENT | PM_SWAP | PM_UFFD_WP),
		 marker);

	/* A read maps the page, still protected, and is not reported. */
	SYS(touch_start(&t, map + a.ps, false, 0));
	CHECK_EQ(touch_wait(&t, uffd, &msg, WAIT_MS), TOUCH_WAIT_DONE);
	CHECK_EQ(t.val, 'D');
	CHECK_EQ(pagemap_entry(map + a.ps) & (PM_PRESENT | PM_UFFD_WP),
		 PM_PRESENT | PM_UFFD_WP);

	if (expect_wp_fault(uffd, map + a.ps, a.ps, 'W'))
		return FAIL;
	SYS(pread(a.fd, &buf, 1, a.ps));
	CHECK_EQ(buf, 'W');
	return expect_wp_fault(uffd, map + 2 * a.ps, a.ps, 'H');
}

/*
 * D2. Un-protecting a marker must clear it ("uffd_wp_resolve" in
 * change_pte_range()): pagemap empty again, and a write goes through
 * unreported. A stale marker would trap it.
 */
int wp_unprotect_marker(const struct ctx *c)
{
	struct area a;
	char *map;
	int uffd;

	if (need_wp(c))
		return SKIP;
	if (area_alloc(&a, c->mt, 2, PROT_READ | PROT_WRITE))
		return FAIL;
	map = map_fresh(&a, PROT_READ | PROT_WRITE);
	SYS(map ? 0 : -1);
	uffd = uffd_new(uffd_wp_features(c->mt));
	SYS(uffd);
	CHECK_EQ(uffd_register(uffd, map, a.len, UFFDIO_REGISTER_MODE_WP, NULL), 0);
	CHECK_EQ(uffd_writeprotect(uffd, map, a.len, true), 0);
	CHECK_EQ(pagemap_entry(map) & PM_UFFD_WP, PM_UFFD_WP);
	CHECK_EQ(uffd_writeprotect(uffd, map, a.len, false), 0);
	CHECK_EQ(pagemap_entry(map) & PM_STATE, 0);
	return expect_no_wp_fault(uffd, map, 'U');
}

/*
 * D3. The protection survives MADV_DONTNEED of a populated page as a
 * marker (zap_install_uffd_wp_if_needed(), same series), so the next
 * write is still reported.
 */
int wp_zap_marker(const struct ctx *c)
{
	struct area a;
	int uffd;

	if (need_wp(c))
		return SKIP;
	if (wp_page(c, &a, 'Z', &uffd))
		return FAIL;
	CHECK_EQ(pagemap_entry(a.p) & (PM_PRESENT | PM_UFFD_WP),
		 PM_PRESENT | PM_UFFD_WP);
	SYS(madvise(a.p, a.len, MADV_DONTNEED));
	CHECK_EQ(pagemap_entry(a.p) & (PM_PRESENT | PM_UFFD_WP), PM_UFFD_WP);
	return expect_wp_fault(uffd, a.p, a.ps, 'z');
}

/*
 * D3. UFFDIO_COPY_MODE_WP fills a hole already protected: pagemap shows
 * PRESENT|UFFD_WP and the first write is reported.
 */
int wp_copy_mode(const struct ctx *c)
{
	struct area a;
	int64_t out;
	char *src;
	int uffd;

	if (need_wp(c))
		return SKIP;
	if (area_alloc(&a, c->mt, 1, PROT_READ | PROT_WRITE))
		return FAIL;
	uffd = uffd_new(c->mt->missing_feature | uffd_wp_features(c->mt));
	src = src_pages(a.ps, 'C');
	SYS(uffd);
	if (!src)
		return FAIL;
	CHECK_EQ(uffd_register(uffd, a.p, a.len, UFFDIO_REGISTER_MODE_MISSING |
			       UFFDIO_REGISTER_MODE_WP, NULL), 0);
	CHECK_EQ(uffd_copy(uffd, a.p, src, a.ps, UFFDIO_COPY_MODE_WP, &out), 0);
	CHECK_EQ(out, a.ps);
	CHECK_EQ(pagemap_entry(a.p) & (PM_PRESENT | PM_UFFD_WP),
		 PM_PRESENT | PM_UFFD_WP);
	return expect_wp_fault(uffd, a.p, a.ps, 'c');
}

/*
 * Arch level (UML): the protection must survive mprotect() round trips
 * (the marker bit belongs in _PAGE_CHG_MASK, or pte_modify() drops it) and
 * must be enforced by the host mapping (pte_mkuffd_wp() write-protects).
 */
int wp_mprotect(const struct ctx *c)
{
	struct area a;
	int uffd;

	if (need_wp(c))
		return SKIP;
	if (wp_page(c, &a, 'P', &uffd))
		return FAIL;
	SYS(mprotect(a.p, a.len, PROT_READ));
	SYS(mprotect(a.p, a.len, PROT_READ | PROT_WRITE));
	CHECK_EQ(pagemap_entry(a.p) & PM_UFFD_WP, PM_UFFD_WP);
	return expect_wp_fault(uffd, a.p, a.ps, 'p');
}

/*
 * A write-protected page paged out stays protected: an anon page's swap
 * entry carries the uffd-wp bit (try_to_unmap_one()), a shared file
 * page's pte becomes a uffd-wp marker (try_to_unmap_one() again). Swap-in
 * must not make the pte writable: do_swap_page() maps an exclusive page
 * writable at once, but not under the bit (userfaultfd_pte_wp()). Both
 * ways in are tried: a write that swaps the page in, and a read that
 * does, then a write.
 */
int wp_pageout(const struct ctx *c)
{
	bool shared = c->mt->flag & MEM_SHARED;
	struct area a;
	int uffd, i;

	if (need_wp(c))
		return SKIP;
	if (!have_swap())
		return skip("the guest has no swap device (SWAP=0)");
	if (wp_page(c, &a, 'P', &uffd))
		return FAIL;
	/* Reclaim leaves a page alone that another mapping still maps. */
	if (a.alias)
		munmap(a.alias, a.len);
	a.alias = NULL;
	for (i = 0; i < 2; i++) {
		char val = i ? 'r' : 'w';

		if (i)
			CHECK_EQ(uffd_writeprotect(uffd, a.p, a.len, true), 0);
		if (page_out(a.p, a.len, a.ps))
			return FAIL;
		CHECK_EQ(pagemap_entry(a.p) & (PM_PRESENT | PM_UFFD_WP),
			 PM_UFFD_WP);
		CHECK(shared || pagemap_entry(a.p) & PM_SWAP,
		      "an anon page paged out is not a swap entry: pagemap %#llx",
		      (unsigned long long)pagemap_entry(a.p));
		if (i)		/* the read swaps it in; the write then */
			CHECK_EQ(*(volatile char *)a.p, 'w');
		if (expect_wp_fault(uffd, a.p, a.ps, val))
			return FAIL;
	}
	return PASS;
}

/*
 * uffd-wp on a huge PMD (issue 17): protecting all of it keeps it huge
 * (change_huge_pmd() puts the bit on the PMD) and a write to it is a WP
 * fault (do_huge_pmd_wp_page()). Unprotecting one 4 KiB page of it
 * splits the PMD, and the split gives every PTE the bit
 * (__split_huge_pmd_locked()), so the next page still faults.
 */
int thp_wp(const struct ctx *c)
{
	size_t ps = sysconf(_SC_PAGESIZE);
	struct area a;
	int uffd;

	if (need_wp(c))
		return SKIP;
	/* Its first touch (one byte) faults in the whole huge page. */
	if (wp_page(c, &a, 'T', &uffd))
		return FAIL;
	CHECK(thp_mapped_kib(a.p) == (long)(a.len >> 10),
	      "the first touch did not map a huge PMD, or protecting it split it (smaps AnonHugePages %ld kB; vmstat thp_fault_alloc %lu, thp_fault_fallback %lu)",
	      thp_mapped_kib(a.p), vmstat("thp_fault_alloc"),
	      vmstat("thp_fault_fallback"));
	CHECK_EQ(pagemap_entry(a.p + a.len - ps) & PM_UFFD_WP, PM_UFFD_WP);

	if (expect_wp_fault(uffd, a.p + 5 * ps, ps, 'w'))
		return FAIL;
	CHECK_EQ(thp_mapped_kib(a.p), 0);
	CHECK_EQ(pagemap_entry(a.p + 5 * ps) & PM_UFFD_WP, 0);
	CHECK_EQ(pagemap_entry(a.p + 6 * ps) & PM_UFFD_WP, PM_UFFD_WP);
	if (expect_wp_fault(uffd, a.p + 6 * ps, ps, 'x'))
		return FAIL;
	CHECK(a.p[0] == 'T' && all_bytes(a.p + 7 * ps, 0, a.len - 7 * ps),
	      "the split lost data of the huge page");
	return expect_no_message(uffd);
}

struct child_wp {
	char *page;
	int status;
};

static int child_has_wp(void *page)
{
	return pagemap_entry(page) & PM_UFFD_WP ? 0 : 1;
}

static long fork_check_wp(void *arg)
{
	struct child_wp *w = arg;

	return fork_wait(child_has_wp, w->page, &w->status);
}

/*
 * D3. With EVENT_FORK the child's copy of a protected page stays
 * protected (vma_needs_copy() copies uffd-wp ptes and markers).
 */
int wp_fork(const struct ctx *c)
{
	struct child_wp w;
	struct uffd_msg msg;
	struct area a;
	struct bg bg;
	int uffd;

	if (need_wp(c))
		return SKIP;
	if (area_alloc(&a, c->mt, 1, PROT_READ | PROT_WRITE))
		return FAIL;
	a.p[0] = 'F';
	uffd = uffd_new(uffd_wp_features(c->mt) | UFFD_FEATURE_EVENT_FORK);
	SYS(uffd);
	CHECK_EQ(uffd_register(uffd, a.p, a.len, UFFDIO_REGISTER_MODE_WP, NULL), 0);
	CHECK_EQ(uffd_writeprotect(uffd, a.p, a.len, true), 0);
	w.page = a.p;
	SYS(bg_start(&bg, fork_check_wp, &w));
	if (expect_event(uffd, UFFD_EVENT_FORK, &msg))
		return FAIL;
	CHECK_EQ(bg_join(&bg, WAIT_MS), 0);
	close(msg.arg.fork.ufd);
	CHECK(WIFEXITED(w.status) && WEXITSTATUS(w.status) == 0,
	      "child's page lost UFFD_WP (status %#x)", w.status);
	return PASS;
}

/*
 * D3. UFFD_FEATURE_WP_UNPOPULATED (6.4, anonymous memory): protecting a
 * never-touched page installs a marker, so the first write is reported;
 * without the feature nothing is installed and the write goes through.
 */
int wp_unpopulated(const struct ctx *c)
{
	struct area a;
	int uffd;

	if (need_wp(c))
		return SKIP;
	if (!(c->features & UFFD_FEATURE_WP_UNPOPULATED))
		return skip("kernel lacks UFFD_FEATURE_WP_UNPOPULATED");
	if (area_alloc(&a, c->mt, 2, PROT_READ | PROT_WRITE))
		return FAIL;
	uffd = uffd_new(uffd_wp_features(c->mt) | UFFD_FEATURE_WP_UNPOPULATED);
	SYS(uffd);
	CHECK_EQ(uffd_register(uffd, a.p, a.len, UFFDIO_REGISTER_MODE_WP, NULL), 0);
	CHECK_EQ(uffd_writeprotect(uffd, a.p, a.len, true), 0);
	CHECK_EQ(pagemap_entry(a.p) & PM_UFFD_WP, PM_UFFD_WP);
	if (expect_wp_fault(uffd, a.p, a.ps, 'u'))
		return FAIL;
	close(uffd);

	uffd = uffd_new(uffd_wp_features(c->mt));
	SYS(uffd);
	CHECK_EQ(uffd_register(uffd, a.p, a.len, UFFDIO_REGISTER_MODE_WP, NULL), 0);
	CHECK_EQ(uffd_writeprotect(uffd, page_of(&a, 1), a.ps, true), 0);
	CHECK_EQ(pagemap_entry(page_of(&a, 1)) & PM_STATE, 0);
	return expect_no_wp_fault(uffd, page_of(&a, 1), 'n');
}

/*
 * Re-registering a write-protected range with a mode set that drops WP
 * must not strand its uffd-wp bits: since "userfaultfd: add
 * UFFDIO_REGISTER_MODE_RWP and UFFDIO_RWPROTECT plumbing" (7.3) the
 * same uffd gets -EBUSY and the protection stays in force. Earlier
 * kernels replaced the modes and left the bits behind.
 */
int wp_reregister_keep(const struct ctx *c)
{
	struct area a;
	int uffd;

	if (need_wp(c))
		return SKIP;
	if (wp_page(c, &a, 'K', &uffd))
		return FAIL;
	CHECK_EQ(uffd_register(uffd, a.p, a.len, UFFDIO_REGISTER_MODE_MISSING,
			       NULL), -EBUSY);
	CHECK_EQ(pagemap_entry(a.p) & PM_UFFD_WP, PM_UFFD_WP);
	return expect_wp_fault(uffd, a.p, a.ps, 'k');
}
