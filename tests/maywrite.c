// SPDX-License-Identifier: GPL-2.0
/*
 * A5. Fixed by 29ec90660d68 ("userfaultfd: shmem/hugetlbfs: only allow to
 * register VM_MAYWRITE vmas", CVE-2018-18397) and its follow-up "check
 * VM_MAYWRITE was set after verifying the uffd is registered": a shared
 * mapping that can never become writable (read-only fd, F_SEAL_WRITE)
 * cannot be registered, so UFFDIO_COPY cannot fill holes in a file the
 * caller may not write. Unfixed, registration succeeds and COPY writes the
 * file; without the follow-up, unregistering such a range WARNs.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "scenarios.h"

/* The kernel.tainted bit set by WARN(). */
#define TAINT_WARN (1UL << 9)

int maywrite(const struct ctx *c)
{
	size_t ps = c->mt->page_size();
	unsigned long taint = tainted();
	char *ro_map, *sealed_map, *priv_map, *src;
	int fd, ro, sealed, uffd;
	int64_t out;

	uffd = uffd_new(c->mt->missing_feature);
	SYS(uffd);
	fd = mem_memfd(c->mt, 2 * ps);
	SYS(fd);
	ro = reopen_fd(fd, O_RDONLY);
	SYS(ro);
	src = src_pages(ps, 'S');
	if (!src)
		return FAIL;

	/* (a) MAP_SHARED of a read-only fd. */
	ro_map = mmap(NULL, 2 * ps, PROT_READ, MAP_SHARED, ro, 0);
	SYS(ro_map == MAP_FAILED ? -1 : 0);
	CHECK_EQ(uffd_register(uffd, ro_map, 2 * ps,
			       UFFDIO_REGISTER_MODE_MISSING, NULL), -EPERM);

	/* (b) F_SEAL_WRITE clears VM_MAYWRITE of a PROT_READ shared map. */
	sealed = mem_memfd(c->mt, 2 * ps);
	SYS(sealed);
	SYS(fcntl(sealed, F_ADD_SEALS, F_SEAL_WRITE));
	sealed_map = mmap(NULL, 2 * ps, PROT_READ, MAP_SHARED, sealed, 0);
	SYS(sealed_map == MAP_FAILED ? -1 : 0);
	CHECK_EQ(uffd_register(uffd, sealed_map, 2 * ps,
			       UFFDIO_REGISTER_MODE_MISSING, NULL), -EPERM);

	/* (c) Nothing registered, so COPY finds no range; the file is intact. */
	CHECK_EQ(uffd_copy(uffd, ro_map, src, ps, 0, &out), -ENOENT);
	CHECK_EQ(file_blocks(fd), 0);
	CHECK_EQ(file_blocks(sealed), 0);

	/* (d) A private mapping of the same fd keeps VM_MAYWRITE. */
	priv_map = mmap(NULL, 2 * ps, PROT_READ, MAP_PRIVATE, ro, 0);
	SYS(priv_map == MAP_FAILED ? -1 : 0);
	CHECK_EQ(uffd_register(uffd, priv_map, 2 * ps,
			       UFFDIO_REGISTER_MODE_MISSING, NULL), 0);

	/* (e) Unregistering the never-registered range: no WARN. */
	CHECK_EQ(uffd_unregister(uffd, ro_map, 2 * ps), 0);
	CHECK_EQ(tainted() & TAINT_WARN, taint & TAINT_WARN);
	return PASS;
}
