// SPDX-License-Identifier: GPL-2.0
/*
 * The rest of the API contract (scenarios.md F2, F3, F5, F6): what
 * REGISTER accepts, how COPY fails, the SIGBUS feature, and who may
 * create a uffd.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

#include "scenarios.h"

static bool wp_supported(const struct ctx *c)
{
	if (!(c->features & UFFD_FEATURE_PAGEFAULT_FLAG_WP))
		return false;
	return c->mt->flag == MEM_ANON ||
	       (c->features & UFFD_FEATURE_WP_HUGETLBFS_SHMEM);
}

/*
 * F2. Mode validation; WP registration refused where not supported
 * ("userfaultfd: fail uffd-wp registration if not supported"); one owner
 * per range; hugetlbfs alignment; WP ioctls only on WP ranges.
 */
int register_contract(const struct ctx *c)
{
	bool huge = c->mt->flag & (MEM_HUGETLB | MEM_HUGETLB_PRIV);
	struct area a;
	int64_t out;
	int uffd, other;
	char *src;
	struct uffdio_writeprotect w;

	if (area_alloc(&a, c->mt, 2, PROT_READ | PROT_WRITE))
		return FAIL;
	uffd = uffd_new(c->mt->missing_feature);
	other = uffd_new(c->mt->missing_feature);
	src = src_pages(a.ps, 'S');
	SYS(uffd);
	SYS(other);
	if (!src)
		return FAIL;

	CHECK_EQ(uffd_register(uffd, a.p, a.len, 0, NULL), -EINVAL);
	/* The lowest mode bit the tree's UAPI does not define (7.3: RWP is 3). */
	CHECK_EQ(uffd_register(uffd, a.p, a.len,
			       (UFFD_API_REGISTER_MODES + 1) & ~UFFD_API_REGISTER_MODES,
			       NULL), -EINVAL);
	CHECK_EQ(uffd_register(uffd, a.p, a.len, UFFDIO_REGISTER_MODE_WP, NULL),
		 wp_supported(c) ? 0 : -EINVAL);
	if (wp_supported(c))
		SYS(uffd_unregister(uffd, a.p, a.len));
	if (huge) {
		CHECK_EQ(uffd_register(uffd, a.p + 4096, a.ps,
				       UFFDIO_REGISTER_MODE_MISSING, NULL), -EINVAL);
		CHECK_EQ(uffd_register(uffd, a.p, a.ps + 4096,
				       UFFDIO_REGISTER_MODE_MISSING, NULL), -EINVAL);
	}

	CHECK_EQ(uffd_register(uffd, a.p, a.len, UFFDIO_REGISTER_MODE_MISSING,
			       NULL), 0);
	CHECK_EQ(uffd_register(other, a.p, a.len, UFFDIO_REGISTER_MODE_MISSING,
			       NULL), -EBUSY);

	w = (struct uffdio_writeprotect){
		.range = { (uintptr_t)a.p, a.ps },
		.mode = UFFDIO_WRITEPROTECT_MODE_WP,
	};
	CHECK_EQ(ioctl(uffd, UFFDIO_WRITEPROTECT, &w), -1);
	CHECK_EQ(errno, ENOENT);
	CHECK_EQ(uffd_copy(uffd, a.p, src, a.ps, UFFDIO_COPY_MODE_WP, &out),
		 -EINVAL);
	CHECK_EQ(out, -EINVAL);
	if (huge) {
		CHECK_EQ(uffd_zeropage(uffd, a.p, a.ps, 0, &out), -EINVAL);
		CHECK_EQ(out, -EINVAL);
	}
	return PASS;
}

/*
 * F3. How COPY (and ZEROPAGE) fail: EEXIST on a mapped page, or on a
 * shared file page already in the page cache; EAGAIN with the bytes done
 * on partial progress; ENOENT only when dst is not one registered VMA.
 * The ENOENT/EFAULT split is 9e368259ad98's (seed 000): before it the
 * internal retry value could leak out as a user-visible error.
 */
int copy_errors(const struct ctx *c)
{
	bool huge = c->mt->flag & (MEM_HUGETLB | MEM_HUGETLB_PRIV);
	struct area a, unreg;
	int64_t out;
	char *src;
	int uffd;

	if (area_alloc(&a, c->mt, 4, PROT_READ | PROT_WRITE) ||
	    area_alloc(&unreg, c->mt, 1, PROT_READ | PROT_WRITE))
		return FAIL;
	uffd = uffd_for_area(&a, 0, UFFDIO_REGISTER_MODE_MISSING);
	src = src_pages(2 * a.ps, 'S');
	if (uffd < 0 || !src)
		return FAIL;

	CHECK_EQ(uffd_copy(uffd, page_of(&a, 0), src, a.ps, 0, &out), 0);
	CHECK_EQ(uffd_copy(uffd, page_of(&a, 0), src, a.ps, 0, &out), -EEXIST);
	CHECK_EQ(out, -EEXIST);
	if (c->mt->flag & MEM_SHARED) {
		a.alias[a.ps] = 'P';
		CHECK_EQ(uffd_copy(uffd, page_of(&a, 1), src, a.ps, 0, &out),
			 -EEXIST);
		CHECK_EQ(out, -EEXIST);
	}
	/* Page 3 filled, then pages 2-3: one done, then EEXIST. */
	CHECK_EQ(uffd_copy(uffd, page_of(&a, 3), src, a.ps, 0, &out), 0);
	CHECK_EQ(uffd_copy(uffd, page_of(&a, 2), src, 2 * a.ps, 0, &out),
		 -EAGAIN);
	CHECK_EQ(out, a.ps);
	if (!huge) {
		SYS(madvise(page_of(&a, 2), a.ps, MADV_DONTNEED));
		if (c->mt->flag & MEM_SHARED)
			SYS(fallocate(a.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				      2 * a.ps, a.ps));
		CHECK_EQ(uffd_zeropage(uffd, page_of(&a, 2), 2 * a.ps, 0, &out),
			 -EAGAIN);
		CHECK_EQ(out, a.ps);
	}
	CHECK_EQ(uffd_copy(uffd, unreg.p, src, a.ps, 0, &out), -ENOENT);
	CHECK_EQ(out, -ENOENT);
	return PASS;
}

/*
 * F3. A fill through the uffd of a process that is gone is ESRCH, and
 * the output field is not written ("userfaultfd: don't pin the user
 * memory in userfaultfd_file_create()" made the mm check explicit).
 */
int copy_esrch(const struct ctx *c)
{
	struct uffd_msg msg;
	struct area a;
	struct bg bg;
	int64_t out;
	int uffd;
	char *src;

	if (area_alloc(&a, c->mt, 1, PROT_READ | PROT_WRITE))
		return FAIL;
	uffd = uffd_for_area(&a, UFFD_FEATURE_EVENT_FORK,
			     UFFDIO_REGISTER_MODE_MISSING);
	src = src_pages(a.ps, 'S');
	if (uffd < 0 || !src)
		return FAIL;
	SYS(bg_start(&bg, fork_and_reap, NULL));
	if (expect_event(uffd, UFFD_EVENT_FORK, &msg))
		return FAIL;
	CHECK_EQ(bg_join(&bg, WAIT_MS), 0);
	CHECK_EQ(uffd_copy(msg.arg.fork.ufd, a.p, src, a.ps, 0, &out), -ESRCH);
	CHECK_EQ(out, SENTINEL);
	return PASS;
}

/*
 * F5. UFFD_FEATURE_SIGBUS ("mm: userfaultfd: add new UFFD_FEATURE_SIGBUS
 * feature", 4.14): a user access gets SIGBUS (BUS_ADRERR, at the page) and
 * no message; a kernel access fails with EFAULT.
 */
int sigbus_feature(const struct ctx *c)
{
	struct uffd_msg msg;
	struct touch t;
	struct area a;
	int uffd, zero;

	if (area_alloc(&a, c->mt, 1, PROT_READ | PROT_WRITE))
		return FAIL;
	uffd = uffd_for_area(&a, UFFD_FEATURE_SIGBUS,
			     UFFDIO_REGISTER_MODE_MISSING);
	if (uffd < 0)
		return FAIL;
	SYS(touch_start(&t, a.p, false, 0));
	CHECK_EQ(touch_wait(&t, uffd, &msg, WAIT_MS), TOUCH_WAIT_DONE);
	CHECK_EQ(t.state, TOUCH_SIGNAL);
	CHECK_EQ(t.signo, SIGBUS);
	CHECK_EQ(t.si_code, BUS_ADRERR);
	CHECK_EQ((uintptr_t)t.fault_addr, (uintptr_t)a.p);

	zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	SYS(zero);
	CHECK_EQ(read(zero, a.p, a.ps), -1);
	CHECK_EQ(errno, EFAULT);
	return expect_no_message(uffd);
}

#define UNPRIV_SYSCTL "/proc/sys/vm/unprivileged_userfaultfd"

static int sysctl_write(const char *val)
{
	return write_file(UNPRIV_SYSCTL, val);
}

static int drop_ptrace(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	data[0].effective &= ~(1U << CAP_SYS_PTRACE);
	return syscall(SYS_capset, &hdr, data) ? -errno : 0;
}

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

/* Runs in a child without CAP_SYS_PTRACE. */
static int unprivileged_child(bool sysctl_on)
{
	int fd, dev;

	SYS(drop_ptrace());
	fd = uffd_open_raw(O_CLOEXEC);
	if (sysctl_on) {
		CHECK(fd >= 0, "userfaultfd(0) with the sysctl at 1: %s",
		      strerror(errno));
		return PASS;
	}
	CHECK_EQ(fd, -1);
	CHECK_EQ(errno, EPERM);
	fd = uffd_open_raw(O_CLOEXEC | UFFD_USER_MODE_ONLY);
	CHECK(fd >= 0, "UFFD_USER_MODE_ONLY refused: %s", strerror(errno));
	/* The device is the way around the sysctl, on its own permissions. */
	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		diag("/dev/userfaultfd: %s, not checked", strerror(errno));
		return PASS;
	}
	fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC);
	CHECK(fd >= 0, "USERFAULTFD_IOC_NEW: %s", strerror(errno));
	return PASS;
}

static int in_child(bool sysctl_on)
{
	int status;
	pid_t pid = fork();

	SYS(pid);
	if (!pid)
		_exit(unprivileged_child(sysctl_on));
	SYS(waitpid(pid, &status, 0));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == PASS,
	      "child with the sysctl at %d failed (status %#x)", sysctl_on,
	      status);
	return PASS;
}

struct zero_read {
	char *page;
	size_t len;
};

static long read_zero_into(void *arg)
{
	struct zero_read *z = arg;
	int fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	long n;

	if (fd < 0)
		return -1;
	n = read(fd, z->page, z->len);
	close(fd);
	return n;
}

/*
 * UFFD_USER_MODE_ONLY: faults from kernel accesses are not reported. On
 * x86 read() into a registered page fails with EFAULT. UML is different
 * and legitimately so: copy_to_user() resolves faults through maybe_map()
 * -> handle_page_fault(..., is_user=1), so the kernel access arrives as a
 * user fault and is reported like one; the read completes once served.
 */
static int user_mode_only(void)
{
	struct zero_read z;
	struct uffd_msg msg;
	struct bg bg;
	struct area a;
	int64_t out;
	char *src;
	struct uffdio_api api = { .api = UFFD_API };
	int uffd = uffd_open_raw(O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);

	SYS(uffd);
	SYS(ioctl(uffd, UFFDIO_API, &api));
	if (area_alloc(&a, mem_type(MEM_ANON), 1, PROT_READ | PROT_WRITE))
		return FAIL;
	CHECK_EQ(uffd_register(uffd, a.p, a.len, UFFDIO_REGISTER_MODE_MISSING,
			       NULL), 0);
	src = src_pages(a.ps, 'U');
	if (!src)
		return FAIL;
	z = (struct zero_read){ a.p, a.ps };
	SYS(bg_start(&bg, read_zero_into, &z));
	if (running_on_uml()) {
		if (expect_event(uffd, UFFD_EVENT_PAGEFAULT, &msg))
			return FAIL;
		CHECK_EQ(uffd_copy(uffd, a.p, src, a.ps, 0, &out), 0);
		CHECK_EQ(bg_join(&bg, WAIT_MS), 0);
		CHECK_EQ(bg.ret, (long)a.ps);
	} else {
		CHECK_EQ(bg_join(&bg, WAIT_MS), 0);
		CHECK_EQ(bg.ret, -1);
		CHECK_EQ(bg.err, EFAULT);
		if (expect_no_message(uffd))
			return FAIL;
	}
	return PASS;
}

/*
 * F6. Who may create a uffd: vm.unprivileged_userfaultfd (0: only with
 * CAP_SYS_PTRACE, or UFFD_USER_MODE_ONLY; 1: anyone; nothing else),
 * unknown syscall flags, and /dev/userfaultfd. From "userfaultfd/sysctl:
 * add vm.unprivileged_userfaultfd" (5.2), "userfaultfd: add
 * UFFD_USER_MODE_ONLY" (5.11) and "userfaultfd: add /dev/userfaultfd for
 * fine grained access control" (6.1). The sysctl is restored.
 */
int unprivileged(const struct ctx *c)
{
	char saved[8] = "";
	int fd, ret;

	(void)c;
	fd = open(UNPRIV_SYSCTL, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return skip("%s: %s", UNPRIV_SYSCTL, strerror(errno));
	SYS(read(fd, saved, sizeof(saved) - 1));
	close(fd);

	CHECK_EQ(uffd_open_raw(1 << 20), -1);
	CHECK_EQ(errno, EINVAL);

	ret = PASS;
	if (sysctl_write("0") || in_child(false) ||
	    sysctl_write("1") || in_child(true))
		ret = FAIL;
	else if (sysctl_write("2") != -EINVAL) {
		diag("writing 2 to %s was not refused with EINVAL", UNPRIV_SYSCTL);
		ret = FAIL;
	}
	SYS(sysctl_write(saved));
	if (ret)
		return ret;
	return user_mode_only();
}

/*
 * UFFDIO_POISON ("mm: userfaultfd: add new UFFDIO_POISON ioctl", 6.6):
 * the page reads as hardware-poisoned: SIGBUS for a user access
 * (BUS_MCEERR_AR where CONFIG_MEMORY_FAILURE is on, else BUS_ADRERR, as
 * on UML), EFAULT for a kernel one, EEXIST for a second POISON. Stock
 * UML 6.12 hits BUG() in handle_page_fault() at the touch; the carried
 * "um: deliver SIGBUS for VM_FAULT_HWPOISON" fixes it.
 */
int poison(const struct ctx *c)
{
	struct uffd_msg msg;
	struct touch t;
	struct area a;
	int64_t out;
	int uffd, zero;

	if (area_alloc(&a, c->mt, 2, PROT_READ | PROT_WRITE))
		return FAIL;
	uffd = uffd_for_area(&a, UFFD_FEATURE_POISON,
			     UFFDIO_REGISTER_MODE_MISSING);
	if (uffd < 0)
		return FAIL;
	CHECK_EQ(uffd_poison(uffd, a.p, a.ps, &out), 0);
	CHECK_EQ(out, a.ps);
	CHECK_EQ(uffd_poison(uffd, a.p, a.ps, &out), -EEXIST);
	CHECK_EQ(out, -EEXIST);

	SYS(touch_start(&t, a.p, false, 0));
	CHECK_EQ(touch_wait(&t, uffd, &msg, WAIT_MS), TOUCH_WAIT_DONE);
	CHECK_EQ(t.state, TOUCH_SIGNAL);
	CHECK_EQ(t.signo, SIGBUS);
	CHECK(t.si_code == BUS_MCEERR_AR || t.si_code == BUS_ADRERR,
	      "si_code %d", t.si_code);
	CHECK_EQ((uintptr_t)t.fault_addr, (uintptr_t)a.p);

	zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	SYS(zero);
	CHECK_EQ(read(zero, a.p, a.ps), -1);
	CHECK_EQ(errno, EFAULT);
	if (expect_no_message(uffd))
		return FAIL;

	/* As monitors use it: a blocked MISSING fault answered by POISON. */
	SYS(touch_start(&t, page_of(&a, 1), false, 0));
	CHECK_EQ(touch_wait(&t, uffd, &msg, WAIT_MS), TOUCH_WAIT_MSG);
	CHECK_EQ(msg.arg.pagefault.address, (uintptr_t)page_of(&a, 1));
	CHECK_EQ(uffd_poison(uffd, page_of(&a, 1), a.ps, &out), 0);
	CHECK_EQ(touch_wait(&t, uffd, &msg, WAIT_MS), TOUCH_WAIT_DONE);
	CHECK_EQ(t.state, TOUCH_SIGNAL);
	CHECK_EQ(t.signo, SIGBUS);
	CHECK_EQ((uintptr_t)t.fault_addr, (uintptr_t)page_of(&a, 1));
	return expect_no_message(uffd);
}
