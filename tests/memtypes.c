// SPDX-License-Identifier: GPL-2.0
/*
 * Memory types as a table of ops, as uffd-common.c upstream does it. The
 * file-backed types keep a MAP_SHARED alias of the file, so a scenario can
 * see what reached the page cache independently of the mapping under test.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "uffd-common.h"

#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004U
#endif

static size_t small_page(void)
{
	return sysconf(_SC_PAGESIZE);
}

unsigned long meminfo(const char *fmt)
{
	unsigned long v = 0;
	char line[128];
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, fmt, &v) == 1)
			break;
	fclose(f);
	return v;
}

static size_t huge_page(void)
{
	return meminfo("Hugepagesize: %lu kB") * 1024;
}

/* The most any scenario maps at once, with its alias and sources. */
#define HUGE_PAGES_NEEDED 8

static int always(void)
{
	return 0;
}

unsigned long free_huge_unreserved(void)
{
	return meminfo("HugePages_Free: %lu") - meminfo("HugePages_Rsvd: %lu");
}

static int hugetlb_available(void)
{
	int fd;

	if (!huge_page())
		return skip("hugetlbfs: kernel has no huge page size (CONFIG_HUGETLBFS off)");
	/* Reserved pages are counted as free but cannot be had. */
	if (free_huge_unreserved() < HUGE_PAGES_NEEDED)
		return skip("hugetlbfs: fewer than %d free unreserved huge pages (vm.nr_hugepages)",
			    HUGE_PAGES_NEEDED);
	fd = memfd_create("uffd-probe", MFD_CLOEXEC | MFD_HUGETLB);
	if (fd < 0)
		return skip("hugetlbfs: memfd_create(MFD_HUGETLB): %s",
			    strerror(errno));
	close(fd);
	return 0;
}

/* The PMD size where the kernel has THP: 0 where it does not. */
static size_t thp_size(void)
{
	unsigned long size = 0;
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size",
			"re");

	if (!f)
		return 0;
	if (fscanf(f, "%lu", &size) != 1)
		size = 0;
	fclose(f);
	return size;
}

static int thp_available(void)
{
	if (!thp_size())
		return skip("thp: kernel has no transparent huge pages (CONFIG_TRANSPARENT_HUGEPAGE off)");
	return 0;
}

/*
 * Anonymous memory that may be mapped by huge PMDs: PMD-aligned, and
 * MADV_HUGEPAGE for the madvise mode the appliance's kernels use. Its
 * "pages" are PMDs; whether a huge PMD maps one is the row's to prove
 * (thp_mapped_kib()), as the kernel may fall back to 4 KiB pages.
 */
static int thp_alloc(struct area *a, size_t file_pages, int prot)
{
	(void)file_pages;
	a->p = thp_map(a->len, a->ps, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	return a->p ? 0 : errno ? -errno : -ENOMEM;
}

static int anon_alloc(struct area *a, size_t file_pages, int prot)
{
	(void)file_pages;
	a->p = mmap(NULL, a->len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return a->p == MAP_FAILED ? -errno : 0;
}

/*
 * The file is sized after mapping: a writable hugetlbfs mmap extends
 * i_size to the mapping's length.
 */
static int file_alloc(struct area *a, size_t file_pages, int prot)
{
	a->fd = mem_memfd(a->mt, 0);
	if (a->fd < 0)
		return a->fd;
	a->p = mmap(NULL, a->len, prot, a->mt->map_flags, a->fd, 0);
	if (a->p == MAP_FAILED)
		return -errno;
	a->alias = mmap(NULL, a->len, PROT_READ | PROT_WRITE, MAP_SHARED,
			a->fd, 0);
	if (a->alias == MAP_FAILED)
		return -errno;
	return ftruncate(a->fd, file_pages * a->ps) ? -errno : 0;
}

static void generic_release(struct area *a)
{
	if (a->p && a->p != MAP_FAILED)
		munmap(a->p, a->len);
	if (a->alias && a->alias != MAP_FAILED)
		munmap(a->alias, a->len);
	if (a->fd >= 0)
		close(a->fd);
	a->p = a->alias = NULL;
	a->fd = -1;
}

const struct mem_type mem_types[] = {
	{ "anon", MEM_ANON, 0, MAP_PRIVATE, 0, always, small_page,
	  anon_alloc, generic_release },
	{ "shmem", MEM_SHMEM, UFFD_FEATURE_MISSING_SHMEM, MAP_SHARED, 0,
	  always, small_page, file_alloc, generic_release },
	{ "shmem-private", MEM_SHMEM_PRIV, UFFD_FEATURE_MISSING_SHMEM,
	  MAP_PRIVATE, 0, always, small_page, file_alloc, generic_release },
	{ "hugetlb", MEM_HUGETLB, UFFD_FEATURE_MISSING_HUGETLBFS, MAP_SHARED,
	  MFD_HUGETLB, hugetlb_available, huge_page, file_alloc,
	  generic_release },
	{ "hugetlb-private", MEM_HUGETLB_PRIV, UFFD_FEATURE_MISSING_HUGETLBFS,
	  MAP_PRIVATE, MFD_HUGETLB, hugetlb_available, huge_page, file_alloc,
	  generic_release },
	{ "thp", MEM_THP, 0, MAP_PRIVATE, 0, thp_available, thp_size,
	  thp_alloc, generic_release },
};
const size_t nr_mem_types = sizeof(mem_types) / sizeof(mem_types[0]);

const struct mem_type *mem_type(unsigned int flag)
{
	size_t i;

	for (i = 0; i < nr_mem_types; i++)
		if (mem_types[i].flag == flag)
			return &mem_types[i];
	return NULL;
}

int mem_memfd(const struct mem_type *mt, size_t size)
{
	int fd = memfd_create("uffd-area", MFD_CLOEXEC | MFD_ALLOW_SEALING |
			      mt->mfd_flags);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, size)) {
		int err = errno;

		close(fd);
		return -err;
	}
	return fd;
}

/*
 * Writes through a temporary shared mapping: hugetlbfs has no write(), and
 * the mapping is gone before the caller may want to add F_SEAL_WRITE.
 * fill_bytes() has the kernel write, not this process, and fault the
 * pages in.
 */
int mem_fill_file(int fd, off_t off, size_t len, char c)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);

	if (p == MAP_FAILED)
		return -errno;
	fill_bytes(p, c, len);
	munmap(p, len);
	return 0;
}

int area_alloc_sized(struct area *a, const struct mem_type *mt,
		     size_t npages, size_t file_pages, int prot)
{
	int ret;

	memset(a, 0, sizeof(*a));
	a->mt = mt;
	a->ps = mt->page_size();
	a->npages = npages;
	a->len = npages * a->ps;
	a->fd = -1;
	ret = mt->alloc(a, file_pages, prot);
	if (ret)
		diag("allocating %zu %s pages: %s", npages, mt->name,
		     strerror(-ret));
	return ret ? FAIL : PASS;
}

int area_alloc(struct area *a, const struct mem_type *mt, size_t npages,
	       int prot)
{
	return area_alloc_sized(a, mt, npages, npages, prot);
}

void area_free(struct area *a)
{
	a->mt->release(a);
}
