// SPDX-License-Identifier: GPL-2.0
/*
 * A3. Fixed by 5b51072e97d5 ("userfaultfd: shmem: allocate anonymous
 * memory for MAP_PRIVATE shmem"): UFFDIO_COPY and ZEROPAGE into a
 * MAP_PRIVATE file mapping install anonymous pages, exactly what a CoW
 * fault would have done. Unfixed, the page went into the page cache: the
 * file changed (through a read-only fd, past F_SEAL_WRITE), st_blocks
 * grew, pagemap showed FILE and MADV_DONTNEED did not bring the fault back.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "scenarios.h"

/* The file must read as zeros at page, whatever was filled through map. */
static int check_file_hole(int fd, size_t ps, size_t page)
{
	char *buf = src_pages(ps, 'x');

	if (!buf)
		return FAIL;
	CHECK_EQ(pread(fd, buf, ps, page * ps), (ssize_t)ps);
	CHECK(all_bytes(buf, 0, ps), "file page %zu changed", page);
	munmap(buf, ps);
	return PASS;
}

/*
 * map: a MAP_PRIVATE PROT_READ mapping of fd (4 pages, page 1 holds 'D').
 * Runs the whole contract on it; the file must never change.
 */
static int private_fill(const struct ctx *c, int fd, char *map, bool huge)
{
	size_t ps = c->mt->page_size();
	struct uffd_msg msg;
	struct touch t;
	int64_t out;
	long blocks;
	char *src;
	int uffd;

	uffd = uffd_new(c->mt->missing_feature);
	SYS(uffd);
	CHECK_EQ(uffd_register(uffd, map, 4 * ps, UFFDIO_REGISTER_MODE_MISSING,
			       NULL), 0);
	src = src_pages(ps, 'S');
	if (!src)
		return FAIL;
	blocks = file_blocks(fd);

	CHECK_EQ(uffd_copy(uffd, map, src, ps, 0, &out), 0);
	CHECK_EQ(out, ps);
	CHECK(all_bytes(map, 'S', ps), "mapping does not read the copy");
	if (check_file_hole(fd, ps, 0))
		return FAIL;
	CHECK_EQ(file_blocks(fd), blocks);
	CHECK_EQ(pagemap_entry(map) & (PM_PRESENT | PM_FILE), PM_PRESENT);

	/* hugetlbfs has no UFFDIO_ZEROPAGE. */
	if (!huge) {
		CHECK_EQ(uffd_zeropage(uffd, map + 2 * ps, ps, 0, &out), 0);
		CHECK_EQ(out, ps);
		CHECK_EQ(file_blocks(fd), blocks);
	}

	/* Page 1 is in the file: no userfault, the data is the file's. */
	SYS(touch_start(&t, map + ps, false, 0));
	CHECK_EQ(touch_wait(&t, uffd, &msg, WAIT_MS), TOUCH_WAIT_DONE);
	CHECK_EQ(t.state, TOUCH_DONE);
	CHECK_EQ(t.val, 'D');

	/* Dropping the private copy brings the MISSING fault back. */
	SYS(madvise(map, ps, MADV_DONTNEED));
	SYS(touch_start(&t, map, false, 0));
	CHECK_EQ(touch_wait(&t, uffd, &msg, WAIT_MS), TOUCH_WAIT_MSG);
	CHECK_EQ(msg.event, UFFD_EVENT_PAGEFAULT);
	CHECK_EQ(msg.arg.pagefault.address, (uintptr_t)map);
	CHECK_EQ(msg.arg.pagefault.flags, 0);
	CHECK_EQ(uffd_copy(uffd, map, src, ps, 0, &out), 0);
	CHECK_EQ(touch_wait(&t, uffd, &msg, WAIT_MS), TOUCH_WAIT_DONE);
	CHECK_EQ(t.val, 'S');
	if (check_file_hole(fd, ps, 0))
		return FAIL;
	close(uffd);
	return PASS;
}

int private_copy_anon(const struct ctx *c)
{
	bool huge = c->mt->flag & MEM_HUGETLB_PRIV;
	size_t ps = c->mt->page_size();
	int fd, ro, sealed;
	char *map;

	/* Through a read-only fd. */
	fd = mem_memfd(c->mt, 4 * ps);
	SYS(fd);
	SYS(mem_fill_file(fd, ps, ps, 'D'));
	ro = reopen_fd(fd, O_RDONLY);
	SYS(ro);
	map = mmap(NULL, 4 * ps, PROT_READ, MAP_PRIVATE, ro, 0);
	SYS(map == MAP_FAILED ? -1 : 0);
	if (private_fill(c, fd, map, huge))
		return FAIL;

	/* On a write-sealed memfd. */
	sealed = mem_memfd(c->mt, 4 * ps);
	SYS(sealed);
	SYS(mem_fill_file(sealed, ps, ps, 'D'));
	SYS(fcntl(sealed, F_ADD_SEALS, F_SEAL_WRITE));
	map = mmap(NULL, 4 * ps, PROT_READ, MAP_PRIVATE, sealed, 0);
	SYS(map == MAP_FAILED ? -1 : 0);
	return private_fill(c, sealed, map, huge);
}
