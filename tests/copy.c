// SPDX-License-Identifier: GPL-2.0
/*
 * UFFDIO_COPY on every memory type: the MISSING fault round trip and the
 * seed 000 return-value contract (scenarios.md A1, A2, A4).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include "scenarios.h"

/*
 * Baseline: a read fault and a write fault, each reported once with the
 * right flags and resolved by UFFDIO_COPY; shared file memory shows the
 * data through the alias, private file memory leaves the file alone. The
 * private half fails without 5b51072e97d5 ("userfaultfd: shmem: allocate
 * anonymous memory for MAP_PRIVATE shmem"), which made COPY CoW there.
 */
int fault_roundtrip(const struct ctx *c)
{
	bool shared = c->mt->flag & MEM_SHARED;
	struct uffd_msg msg;
	struct touch t;
	struct area a;
	int64_t out;
	char *src;
	int uffd;

	if (area_alloc(&a, c->mt, 2, PROT_READ | PROT_WRITE))
		return FAIL;
	uffd = uffd_for_area(&a, 0, UFFDIO_REGISTER_MODE_MISSING);
	src = src_pages(a.ps, 'R');
	if (uffd < 0 || !src)
		return FAIL;

	SYS(touch_start(&t, page_of(&a, 1), false, 0));
	CHECK_EQ(touch_wait(&t, uffd, &msg, WAIT_MS), TOUCH_WAIT_MSG);
	CHECK_EQ(msg.event, UFFD_EVENT_PAGEFAULT);
	CHECK_EQ(msg.arg.pagefault.address, (uintptr_t)page_of(&a, 1));
	CHECK_EQ(msg.arg.pagefault.flags, 0);
	CHECK_EQ(uffd_copy(uffd, page_of(&a, 1), src, a.ps, 0, &out), 0);
	CHECK_EQ(out, a.ps);
	CHECK_EQ(touch_wait(&t, uffd, &msg, WAIT_MS), TOUCH_WAIT_DONE);
	CHECK_EQ(t.state, TOUCH_DONE);
	CHECK_EQ(t.val, 'R');

	memset(src, 'W', a.ps);
	SYS(touch_start(&t, page_of(&a, 0), true, 'X'));
	CHECK_EQ(touch_wait(&t, uffd, &msg, WAIT_MS), TOUCH_WAIT_MSG);
	CHECK_EQ(msg.event, UFFD_EVENT_PAGEFAULT);
	CHECK_EQ(msg.arg.pagefault.address, (uintptr_t)page_of(&a, 0));
	CHECK_EQ(msg.arg.pagefault.flags, UFFD_PAGEFAULT_FLAG_WRITE);
	CHECK_EQ(uffd_copy(uffd, page_of(&a, 0), src, a.ps, 0, &out), 0);
	CHECK_EQ(out, a.ps);
	CHECK_EQ(touch_wait(&t, uffd, &msg, WAIT_MS), TOUCH_WAIT_DONE);
	CHECK_EQ(t.state, TOUCH_DONE);
	CHECK_EQ(page_of(&a, 0)[0], 'X');
	CHECK_EQ(page_of(&a, 0)[1], 'W');

	if (a.alias) {
		CHECK_EQ(a.alias[0], shared ? 'X' : 0);
		CHECK_EQ(a.alias[a.ps], shared ? 'R' : 0);
	}
	return PASS;
}

/*
 * A1. Fixed by 9e368259ad98 ("userfaultfd: use ENOENT instead of EFAULT if
 * the atomic copy user fails"): a source page without a pte makes the copy
 * under pagefault_disable() fail; the callee must report the internal
 * -ENOENT so mfill_atomic retries outside the lock. Before the fix the same
 * value meant a real -EFAULT and the retry path hit BUG_ON(!page).
 */
int copy_enoent_slowpath(const struct ctx *c)
{
	size_t ps = c->mt->page_size();
	struct area a;
	int64_t out;
	char *src, *anon;
	int src_fd, uffd;

	if (area_alloc(&a, c->mt, 2, PROT_READ | PROT_WRITE))
		return FAIL;
	uffd = uffd_for_area(&a, 0, UFFDIO_REGISTER_MODE_MISSING);
	if (uffd < 0)
		return FAIL;

	/* The source: file data that no pte of this process maps yet. */
	src_fd = mem_memfd(mem_type(MEM_SHMEM), ps);
	SYS(src_fd);
	SYS(mem_fill_file(src_fd, 0, ps, 'D'));
	src = mmap(NULL, ps, PROT_READ, MAP_SHARED, src_fd, 0);
	SYS(src == MAP_FAILED ? -1 : 0);
	CHECK_EQ(pagemap_entry(src) & PM_PRESENT, 0);

	CHECK_EQ(uffd_copy(uffd, page_of(&a, 0), src, ps, 0, &out), 0);
	CHECK_EQ(out, ps);
	CHECK(all_bytes(page_of(&a, 0), 'D', ps), "dst does not hold the source data");

	/* A never-touched anonymous source reads as zeros. */
	anon = mmap(NULL, ps, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	SYS(anon == MAP_FAILED ? -1 : 0);
	CHECK_EQ(uffd_copy(uffd, page_of(&a, 1), anon, ps, 0, &out), 0);
	CHECK_EQ(out, ps);
	CHECK(all_bytes(page_of(&a, 1), 0, ps), "dst is not zero-filled");
	return PASS;
}

/*
 * A2. A real fault on the source is -EFAULT with copy=-EFAULT, and a fault
 * after some progress is -EAGAIN with the bytes done (the contract that
 * 9e368259ad98 made distinguishable from the internal retry).
 */
int copy_src_efault(const struct ctx *c)
{
	struct area a;
	int64_t out;
	char *src;
	int uffd;

	if (area_alloc(&a, c->mt, 3, PROT_READ | PROT_WRITE))
		return FAIL;
	uffd = uffd_for_area(&a, 0, UFFDIO_REGISTER_MODE_MISSING);
	src = src_pages(2 * a.ps, 'A');
	if (uffd < 0 || !src)
		return FAIL;
	SYS(munmap(src + a.ps, a.ps));

	CHECK_EQ(uffd_copy(uffd, page_of(&a, 0), src + a.ps, a.ps, 0, &out),
		 -EFAULT);
	CHECK_EQ(out, -EFAULT);

	CHECK_EQ(uffd_copy(uffd, page_of(&a, 1), src, 2 * a.ps, 0, &out),
		 -EAGAIN);
	CHECK_EQ(out, a.ps);
	CHECK(all_bytes(page_of(&a, 1), 'A', a.ps), "first page not copied");
	CHECK_EQ(pagemap_entry(page_of(&a, 2)) & PM_PRESENT, 0);
	return PASS;
}

/*
 * A4. Fixed by "userfaultfd: shmem: add i_size checks" (and for hugetlbfs
 * by "hugetlbfs: prevent UFFDIO_COPY to fill beyond the end of i_size",
 * CVE-2017-15128): filling beyond EOF is -EFAULT and leaves nothing
 * behind; touching there is SIGBUS, not a userfault. Unfixed, the COPY
 * succeeds and leaves a readable page past EOF.
 *
 * Not on hugetlb MAP_PRIVATE: hugetlb_mfill_atomic_pte() checks i_size
 * only for shared mappings, so a COPY past EOF succeeds there (6.12 and
 * 6.18 alike); no upstream fix makes that a contract to hold kernels to.
 *
 * Which error the fills past EOF give is checked last: 7.2 and 7.3 give
 * -ENOMEM on shmem for both COPY and ZEROPAGE (uml-kernel/7.2/
 * known-regressions), and the rest of the row must still run there.
 */
int isize_copy(const struct ctx *c)
{
	bool shared = c->mt->flag & MEM_SHARED;
	bool huge = c->mt->flag & (MEM_HUGETLB | MEM_HUGETLB_PRIV);
	struct uffd_msg msg;
	struct touch t;
	struct area a;
	int64_t out;
	int past_eof, zero_past_eof = -EFAULT;
	char *src;
	int uffd;

	if (area_alloc_sized(&a, c->mt, 4, 1, PROT_READ | PROT_WRITE))
		return FAIL;
	uffd = uffd_for_area(&a, 0, UFFDIO_REGISTER_MODE_MISSING);
	src = src_pages(2 * a.ps, 'S');
	if (uffd < 0 || !src)
		return FAIL;

	past_eof = uffd_copy(uffd, page_of(&a, 3), src, a.ps, 0, &out);
	CHECK(past_eof < 0, "UFFDIO_COPY past i_size succeeded");
	CHECK_EQ(out, past_eof);
	CHECK_EQ(file_blocks(a.fd), 0);
	CHECK_EQ(pagemap_entry(page_of(&a, 3)) & PM_PRESENT, 0);

	SYS(touch_start(&t, page_of(&a, 3), false, 0));
	CHECK_EQ(touch_wait(&t, uffd, &msg, WAIT_MS), TOUCH_WAIT_DONE);
	CHECK_EQ(t.state, TOUCH_SIGNAL);
	CHECK_EQ(t.signo, SIGBUS);
	CHECK_EQ(t.si_code, BUS_ADRERR);

	/* Page 0 is inside the file, page 1 is not: partial progress. */
	CHECK_EQ(uffd_copy(uffd, page_of(&a, 0), src, 2 * a.ps, 0, &out),
		 -EAGAIN);
	CHECK_EQ(out, a.ps);
	CHECK_EQ(file_blocks(a.fd), shared ? (long)(a.ps / 512) : 0);
	CHECK(all_bytes(page_of(&a, 0), 'S', a.ps), "page 0 not filled");

	if (!huge) {
		zero_past_eof = uffd_zeropage(uffd, page_of(&a, 2), a.ps, 0, &out);
		CHECK(zero_past_eof < 0, "UFFDIO_ZEROPAGE past i_size succeeded");
		CHECK_EQ(out, zero_past_eof);
	}
	/* Truncating over what the failed fills touched must be clean. */
	SYS(ftruncate(a.fd, 0));
	CHECK(past_eof == -EFAULT && zero_past_eof == -EFAULT,
	      "past i_size: UFFDIO_COPY %d, UFFDIO_ZEROPAGE %d, expected -EFAULT (%d) from both",
	      past_eof, zero_past_eof, -EFAULT);
	return PASS;
}
