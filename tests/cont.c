// SPDX-License-Identifier: GPL-2.0
/*
 * UFFDIO_CONTINUE (seed 002; scenarios.md C1-C5, C7).
 *
 * Where the kernel offers MINOR registration (MINOR_SHMEM/HUGETLBFS) the
 * scenarios register MINOR, as real users do. Where it does not (stock
 * UML), they register MISSING: mfill_atomic() only rejects CONTINUE on
 * non-shmem VMAs and never checks VM_UFFD_MINOR, so the CONTINUE paths are
 * still reached. If a kernel closes that door, the scenarios SKIP.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "scenarios.h"

static uint64_t minor_feature(const struct mem_type *mt)
{
	return mt->flag & (MEM_HUGETLB | MEM_HUGETLB_PRIV) ?
		UFFD_FEATURE_MINOR_HUGETLBFS : UFFD_FEATURE_MINOR_SHMEM;
}

static uint64_t cont_mode(const struct ctx *c)
{
	return c->features & minor_feature(c->mt) ?
		UFFDIO_REGISTER_MODE_MINOR : UFFDIO_REGISTER_MODE_MISSING;
}

/*
 * A uffd registered for CONTINUE on a->p, or SKIP if this kernel refuses
 * CONTINUE on a MISSING-only range (probed on page probe, which must be
 * in the page cache and not mapped yet).
 */
static int cont_register(const struct ctx *c, char *p, size_t len, int *uffd)
{
	uint64_t mode = cont_mode(c);

	*uffd = uffd_new(c->mt->missing_feature |
			 (mode == UFFDIO_REGISTER_MODE_MINOR ?
			  minor_feature(c->mt) : 0));
	SYS(*uffd);
	CHECK_EQ(uffd_register(*uffd, p, len, mode, NULL), 0);
	return PASS;
}

static int cont_setup(const struct ctx *c, const struct area *a, int *uffd)
{
	uint64_t mode = cont_mode(c);

	if (cont_register(c, a->p, a->len, uffd))
		return FAIL;
	if (mode == UFFDIO_REGISTER_MODE_MISSING)
		diag("no %s on this kernel: CONTINUE through MISSING registration",
		     uffd_feature_name(minor_feature(c->mt)));
	return PASS;
}

/*
 * Registers a for CONTINUE and continues page n, which must be in the page
 * cache and not mapped: PASS with it mapped, SKIP if this kernel refuses
 * CONTINUE on a MISSING-only range, FAIL otherwise.
 */
static int cont_first(const struct ctx *c, struct area *a, int *uffd,
		      size_t n)
{
	int64_t out;
	int ret;

	if (cont_setup(c, a, uffd))
		return FAIL;
	ret = uffd_continue(*uffd, page_of(a, n), a->ps, 0, &out);
	if (ret == -EINVAL && cont_mode(c) == UFFDIO_REGISTER_MODE_MISSING)
		return skip("kernel lacks UFFD_FEATURE_%s and refuses CONTINUE on MISSING ranges",
			    uffd_feature_name(minor_feature(c->mt)));
	CHECK_EQ(ret, 0);
	CHECK_EQ(out, a->ps);
	return PASS;
}

/*
 * C1. f619147104c8 ("userfaultfd: add UFFDIO_CONTINUE ioctl") and the shmem
 * support of 5.14: map the page-cache page that is already there; EEXIST
 * if mapped; EFAULT for a hole (nothing to continue to); partial progress
 * is EAGAIN with the bytes mapped.
 */
int cont_basic(const struct ctx *c)
{
	struct area a;
	int64_t out;
	int uffd, ret;

	if (area_alloc(&a, c->mt, 4, PROT_READ | PROT_WRITE))
		return FAIL;
	fill_bytes(a.alias, 'D', a.ps);
	fill_bytes(a.alias + 2 * a.ps, 'E', a.ps);
	ret = cont_first(c, &a, &uffd, 0);
	if (ret)
		return ret;
	CHECK_EQ(pagemap_entry(page_of(&a, 0)) & (PM_PRESENT | PM_FILE),
		 PM_PRESENT | PM_FILE);
	CHECK(all_bytes(page_of(&a, 0), 'D', a.ps), "page 0 does not show the file");

	CHECK_EQ(uffd_continue(uffd, page_of(&a, 0), a.ps, 0, &out), -EEXIST);
	CHECK_EQ(out, -EEXIST);
	CHECK_EQ(uffd_continue(uffd, page_of(&a, 1), a.ps, 0, &out), -EFAULT);
	CHECK_EQ(out, -EFAULT);
	CHECK_EQ(uffd_continue(uffd, page_of(&a, 2), 2 * a.ps, 0, &out), -EAGAIN);
	CHECK_EQ(out, a.ps);
	CHECK(all_bytes(page_of(&a, 2), 'E', a.ps), "page 2 does not show the file");
	return PASS;
}

/*
 * C2. Fixed by 73f37dbcfe17 ("mm: shmem: fix missing pages for
 * UFFDIO_CONTINUE on fallocated shmem"): a fallocated page is in the page
 * cache though never written; CONTINUE must map it (zeros), not EFAULT.
 */
int cont_fallocated(const struct ctx *c)
{
	struct area a;
	int uffd, ret;

	if (area_alloc(&a, c->mt, 2, PROT_READ | PROT_WRITE))
		return FAIL;
	SYS(fallocate(a.fd, 0, 0, a.ps));
	ret = cont_first(c, &a, &uffd, 0);
	if (ret)
		return ret;
	CHECK(all_bytes(page_of(&a, 0), 0, a.ps), "fallocated page not zero");
	return PASS;
}

/*
 * A FOLL_FORCE write; *refused is set where the kernel declines it, as
 * 6.12 does on hugetlb VMAs ("hugetlb does not support FOLL_FORCE|
 * FOLL_WRITE" in check_vma_flags()). Either way the file must not change.
 */
static int write_proc_mem(void *addr, char c, bool *refused)
{
	int fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	ssize_t n;

	SYS(fd);
	n = pwrite(fd, &c, 1, (uintptr_t)addr);
	*refused = n < 0 && errno == EIO;
	CHECK(n == 1 || *refused, "pwrite(/proc/self/mem) returned %zd: %s", n,
	      n < 0 ? strerror(errno) : "short write");
	close(fd);
	return PASS;
}

static int file_byte(int fd, off_t off, char *c)
{
	SYS(pread(fd, c, 1, off));
	return PASS;
}

/*
 * map: 2 pages MAP_PRIVATE PROT_READ of fd, page 1 holds 'D'. CONTINUE
 * page 1, then write it through /proc/self/mem (FOLL_FORCE): that must
 * CoW, never write the file.
 */
static int cont_force_write(const struct ctx *c, int fd, char *map)
{
	size_t ps = c->mt->page_size();
	bool refused;
	int64_t out;
	int uffd;
	char b;

	if (cont_register(c, map, 2 * ps, &uffd))
		return FAIL;
	CHECK_EQ(uffd_continue(uffd, map + ps, ps, 0, &out), 0);
	if (write_proc_mem(map + ps, 'Y', &refused))
		return FAIL;
	if (refused && !(c->mt->flag & MEM_HUGETLB_PRIV)) {
		diag("FOLL_FORCE write refused on %s", c->mt->name);
		return FAIL;
	}
	CHECK_EQ(map[ps], refused ? 'D' : 'Y');
	if (file_byte(fd, ps, &b))
		return FAIL;
	CHECK_EQ(b, 'D');
	close(uffd);
	return PASS;
}

/*
 * C3. CONTINUE into a MAP_PRIVATE mapping maps the page-cache page
 * read-only, so a write CoWs it and the file never changes; also for a
 * FOLL_FORCE write through /proc/self/mem on a read-only fd or a
 * write-sealed memfd. Unfixed (mfill_atomic_install_pte's
 * "page_in_cache && !vm_shared -> !writable", and for the FOLL_FORCE case
 * 5535be309971, CVE-2022-2590) the write went to the file.
 */
int cont_private_cow(const struct ctx *c)
{
	struct area a;
	int uffd, ret, ro, sealed;
	char *map, b;

	if (area_alloc(&a, c->mt, 2, PROT_READ | PROT_WRITE))
		return FAIL;
	fill_bytes(a.alias + a.ps, 'D', a.ps);
	ret = cont_first(c, &a, &uffd, 1);
	if (ret)
		return ret;
	CHECK_EQ(pagemap_entry(page_of(&a, 1)) & PM_FILE, PM_FILE);

	page_of(&a, 1)[0] = 'X';
	CHECK_EQ(page_of(&a, 1)[0], 'X');
	CHECK_EQ(a.alias[a.ps], 'D');
	if (file_byte(a.fd, a.ps, &b))
		return FAIL;
	CHECK_EQ(b, 'D');
	CHECK_EQ(pagemap_entry(page_of(&a, 1)) & (PM_PRESENT | PM_FILE),
		 PM_PRESENT);
	close(uffd);
	/* Private huge pages are reserved per mapping: give them back. */
	SYS(munmap(a.p, a.len));
	a.p = NULL;

	/* FOLL_FORCE through a read-only fd. */
	ro = reopen_fd(a.fd, O_RDONLY);
	SYS(ro);
	map = mmap(NULL, a.len, PROT_READ, MAP_PRIVATE, ro, 0);
	SYS(map == MAP_FAILED ? -1 : 0);
	if (cont_force_write(c, a.fd, map))
		return FAIL;
	SYS(munmap(map, a.len));

	/* FOLL_FORCE on a write-sealed memfd. */
	sealed = mem_memfd(c->mt, a.len);
	SYS(sealed);
	SYS(mem_fill_file(sealed, a.ps, a.ps, 'D'));
	SYS(fcntl(sealed, F_ADD_SEALS, F_SEAL_WRITE));
	map = mmap(NULL, a.len, PROT_READ, MAP_PRIVATE, sealed, 0);
	SYS(map == MAP_FAILED ? -1 : 0);
	return cont_force_write(c, sealed, map);
}

static bool kernel_at_least(int major, int minor)
{
	struct utsname u;
	int ma = 0, mi = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &ma, &mi) != 2)
		return false;
	return ma > major || (ma == major && mi >= minor);
}

/* The _IOR encoding of the first backports; 808e9df47775 made it _IOWR. */
#define UFFDIO_CONTINUE_IOR 0x8020AA07UL

/*
 * C4. Validation of UFFDIO_CONTINUE: mode bits, ranges (including the
 * wraparound the seed patch checked explicitly), destination VMA and EOF.
 * Rejections before mfill leave the output field alone; those from mfill
 * write the error into it.
 */
int cont_validate(const struct ctx *c)
{
	struct area a, anon, other;
	int64_t out;
	int uffd, anon_uffd, ret;
	struct touch t;
	struct uffd_msg msg;
	struct uffdio_continue raw = { .mapped = SENTINEL };

	if (area_alloc_sized(&a, c->mt, 6, 4, PROT_READ | PROT_WRITE))
		return FAIL;
	fill_bytes(a.alias, 'D', 4 * a.ps);
	ret = cont_first(c, &a, &uffd, 0);
	if (ret)
		return ret;

	CHECK_EQ(uffd_continue(uffd, page_of(&a, 1), a.ps, 1ULL << 2, &out), -EINVAL);
	CHECK_EQ(out, SENTINEL);
	CHECK_EQ(uffd_continue(uffd, page_of(&a, 1), a.ps, 1ULL << 63, &out), -EINVAL);
	CHECK_EQ(out, SENTINEL);
	/* MODE_WP exists since 6.3; before, it is an unknown mode bit. */
	CHECK_EQ(uffd_continue(uffd, page_of(&a, 1), a.ps,
			       UFFDIO_CONTINUE_MODE_WP, &out), -EINVAL);
	CHECK_EQ(out, kernel_at_least(6, 3) ? -EINVAL : SENTINEL);

	CHECK_EQ(uffd_continue(uffd, page_of(&a, 1) + 1, a.ps, 0, &out), -EINVAL);
	CHECK_EQ(out, SENTINEL);
	CHECK_EQ(uffd_continue(uffd, page_of(&a, 1), 0, 0, &out), -EINVAL);
	CHECK_EQ(out, SENTINEL);
	CHECK_EQ(uffd_continue(uffd, page_of(&a, 1), a.ps + 1, 0, &out), -EINVAL);
	CHECK_EQ(out, SENTINEL);
	CHECK_EQ(uffd_continue(uffd, (void *)(1ULL << 63), a.ps, 0, &out), -EINVAL);
	CHECK_EQ(out, SENTINEL);
	CHECK_EQ(uffd_continue(uffd, page_of(&a, 1), -(uintptr_t)page_of(&a, 1),
			       0, &out), -EINVAL);
	CHECK_EQ(out, SENTINEL);

	/* Destinations: not registered, across two VMAs, anonymous. */
	if (area_alloc(&other, c->mt, 1, PROT_READ | PROT_WRITE))
		return FAIL;
	CHECK_EQ(uffd_continue(uffd, other.p, other.ps, 0, &out), -ENOENT);
	CHECK_EQ(out, -ENOENT);
	SYS(mprotect(page_of(&a, 2), a.ps, PROT_READ));
	CHECK_EQ(uffd_continue(uffd, page_of(&a, 1), 2 * a.ps, 0, &out), -ENOENT);
	CHECK_EQ(out, -ENOENT);
	if (area_alloc(&anon, mem_type(MEM_ANON), 1, PROT_READ | PROT_WRITE))
		return FAIL;
	anon_uffd = uffd_for_area(&anon, 0, UFFDIO_REGISTER_MODE_MISSING);
	if (anon_uffd < 0)
		return FAIL;
	CHECK_EQ(uffd_continue(anon_uffd, anon.p, anon.ps, 0, &out), -EINVAL);
	CHECK_EQ(out, -EINVAL);

	/* Past EOF: refused (EINVAL for shmem, EFAULT for hugetlb), no pte. */
	ret = uffd_continue(uffd, page_of(&a, 4), a.ps, 0, &out);
	CHECK(ret < 0, "CONTINUE past EOF returned %d", ret);
	CHECK_EQ(pagemap_entry(page_of(&a, 4)) & PM_PRESENT, 0);
	SYS(touch_start(&t, page_of(&a, 4), false, 0));
	CHECK_EQ(touch_wait(&t, uffd, &msg, WAIT_MS), TOUCH_WAIT_DONE);
	CHECK_EQ(t.signo, SIGBUS);

	raw.range.start = (uintptr_t)page_of(&a, 3);
	raw.range.len = a.ps;
	CHECK_EQ(ioctl(uffd, UFFDIO_CONTINUE_IOR, &raw), -1);
	CHECK_EQ(errno, EINVAL);
	return PASS;
}

/*
 * C5. The ioctls REGISTER advertises for a range (individual bits, not
 * whole masks, which grow with kernels): CONTINUE only for MINOR ranges
 * (since the seed patch), WRITEPROTECT only for WP ranges, no ZEROPAGE on
 * hugetlbfs.
 */
int ioctl_advertising(const struct ctx *c)
{
	bool huge = c->mt->flag & (MEM_HUGETLB | MEM_HUGETLB_PRIV);
	uint64_t ioctls, minor = minor_feature(c->mt);
	struct area a;
	int uffd;

#define BIT(n) (1ULL << (n))
	if (area_alloc(&a, c->mt, 1, PROT_READ | PROT_WRITE))
		return FAIL;
	uffd = uffd_new(c->mt->missing_feature);
	SYS(uffd);
	CHECK_EQ(uffd_register(uffd, a.p, a.len, UFFDIO_REGISTER_MODE_MISSING,
			       &ioctls), 0);
	diag("MISSING: ioctls %#llx", (unsigned long long)ioctls);
	CHECK_EQ(ioctls & BIT(_UFFDIO_WAKE), BIT(_UFFDIO_WAKE));
	CHECK_EQ(ioctls & BIT(_UFFDIO_COPY), BIT(_UFFDIO_COPY));
	CHECK_EQ(ioctls & BIT(_UFFDIO_ZEROPAGE), huge ? 0 : BIT(_UFFDIO_ZEROPAGE));
	CHECK_EQ(ioctls & BIT(_UFFDIO_CONTINUE), 0);
	CHECK_EQ(ioctls & BIT(_UFFDIO_WRITEPROTECT), 0);
	SYS(uffd_unregister(uffd, a.p, a.len));

	if (c->mt->flag != MEM_ANON && (c->features & minor)) {
		CHECK_EQ(uffd_register(uffd, a.p, a.len,
				       UFFDIO_REGISTER_MODE_MINOR, &ioctls), 0);
		diag("MINOR: ioctls %#llx", (unsigned long long)ioctls);
		CHECK_EQ(ioctls & BIT(_UFFDIO_CONTINUE), BIT(_UFFDIO_CONTINUE));
		SYS(uffd_unregister(uffd, a.p, a.len));
	} else {
		diag("MINOR masks not checked: no MINOR registration for %s here",
		     c->mt->name);
	}
	if (c->features & UFFD_FEATURE_PAGEFAULT_FLAG_WP &&
	    (c->mt->flag == MEM_ANON ||
	     c->features & UFFD_FEATURE_WP_HUGETLBFS_SHMEM)) {
		CHECK_EQ(uffd_register(uffd, a.p, a.len,
				       UFFDIO_REGISTER_MODE_MISSING |
				       UFFDIO_REGISTER_MODE_WP, &ioctls), 0);
		diag("MISSING|WP: ioctls %#llx", (unsigned long long)ioctls);
		CHECK_EQ(ioctls & BIT(_UFFDIO_WRITEPROTECT), BIT(_UFFDIO_WRITEPROTECT));
		CHECK_EQ(ioctls & BIT(_UFFDIO_CONTINUE), 0);
	} else {
		diag("WP masks not checked: no WP registration for %s here",
		     c->mt->name);
	}
#undef BIT
	return PASS;
}

/*
 * C7. MINOR registration only where minor faults exist: never on
 * anonymous memory (vma_can_userfault), and on shmem/hugetlbfs only when
 * the kernel advertises the feature (HAVE_ARCH_USERFAULTFD_MINOR). From
 * the seed's f619147104c8 series (the CONFIG_HAVE_ARCH_USERFAULTFD_MINOR
 * check in userfaultfd_register()): a kernel that accepts MINOR where it
 * cannot deliver minor faults fails here.
 */
int minor_register_scope(const struct ctx *c)
{
	bool supported = c->mt->flag != MEM_ANON &&
			 (c->features & minor_feature(c->mt));
	struct area a;
	int uffd;

	if (area_alloc(&a, c->mt, 1, PROT_READ | PROT_WRITE))
		return FAIL;
	uffd = uffd_new(c->mt->missing_feature);
	SYS(uffd);
	CHECK_EQ(uffd_register(uffd, a.p, a.len, UFFDIO_REGISTER_MODE_MINOR,
			       NULL), supported ? 0 : -EINVAL);
	return PASS;
}

/*
 * C6. A minor fault must not map its neighbours by fault-around, or the
 * monitor never hears of them: each page of a registered range is its own
 * MINOR message (uffd_disable_fault_around() in should_fault_around()).
 * Needs real MINOR registration.
 */
int minor_no_faultaround(const struct ctx *c)
{
	struct uffd_msg msg;
	struct touch t;
	struct area a;
	int64_t out;
	int uffd, i;

	if (area_alloc(&a, c->mt, 16, PROT_READ | PROT_WRITE))
		return FAIL;
	fill_bytes(a.alias, 'N', a.len);
	uffd = uffd_new(c->mt->missing_feature | minor_feature(c->mt));
	SYS(uffd);
	CHECK_EQ(uffd_register(uffd, a.p, a.len, UFFDIO_REGISTER_MODE_MINOR,
			       NULL), 0);
	for (i = 0; i < 2; i++) {
		SYS(touch_start(&t, page_of(&a, i), false, 0));
		CHECK_EQ(touch_wait(&t, uffd, &msg, WAIT_MS), TOUCH_WAIT_MSG);
		CHECK_EQ(msg.event, UFFD_EVENT_PAGEFAULT);
		CHECK_EQ(msg.arg.pagefault.flags, UFFD_PAGEFAULT_FLAG_MINOR);
		CHECK_EQ(msg.arg.pagefault.address, (uintptr_t)page_of(&a, i));
		CHECK_EQ(uffd_continue(uffd, page_of(&a, i), a.ps, 0, &out), 0);
		CHECK_EQ(touch_wait(&t, uffd, &msg, WAIT_MS), TOUCH_WAIT_DONE);
		CHECK_EQ(t.val, 'N');
	}
	return PASS;
}
