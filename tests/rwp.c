// SPDX-License-Identifier: GPL-2.0
/*
 * Read-write protection (UFFDIO_REGISTER_MODE_RWP, UFFDIO_RWPROTECT; 7.3):
 * a protected page is a PROT_NONE pte with the uffd bit in an accessible
 * VMA, and any access to it, read or write, is a userfault.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "scenarios.h"

#define KACCESS_LEN 64

struct kaccess {
	int fd;
	char *addr;
	bool kernel_writes;	/* read(2) into addr, else write(2) from it */
};

static long kaccess_run(void *arg)
{
	struct kaccess *k = arg;

	if (k->kernel_writes)
		return read(k->fd, k->addr, KACCESS_LEN);
	return write(k->fd, k->addr, KACCESS_LEN);
}

/*
 * A syscall that reads or writes a protected page through uaccess blocks
 * in an RWP fault, flagged like the user's own access, until the page is
 * unprotected, and then completes on the page's data.
 */
static int kaccess_fault(struct area *a, int uffd, struct kaccess *k)
{
	struct uffd_msg msg;
	struct bg bg;

	CHECK_EQ(uffd_rwprotect(uffd, a->p, a->ps, true), 0);
	SYS(bg_start(&bg, kaccess_run, k));
	if (expect_event(uffd, UFFD_EVENT_PAGEFAULT, &msg)) {
		diag("%s a protected page: no RWP fault",
		     k->kernel_writes ? "read(2) into" : "write(2) from");
		return FAIL;
	}
	CHECK_EQ(msg.arg.pagefault.address, (uintptr_t)a->p);
	CHECK_EQ(msg.arg.pagefault.flags,
		 UFFD_PAGEFAULT_FLAG_RWP |
		 (k->kernel_writes ? UFFD_PAGEFAULT_FLAG_WRITE : 0));
	CHECK(!bg_done(&bg, 0), "the syscall returned before the unprotect");
	CHECK_EQ(uffd_rwprotect(uffd, a->p, a->ps, false), 0);
	CHECK_EQ(bg_join(&bg, WAIT_MS), 0);
	if (bg.ret < 0)
		diag("%s", strerror(bg.err));
	CHECK_EQ(bg.ret, KACCESS_LEN);
	return expect_no_message(uffd);
}

/*
 * UML's uaccess copies through the kernel's mapping of the page and must
 * fault on a PROT_NONE pte itself ("um: make uaccess fault on PROT_NONE
 * user pages", carried): without it write(2) from a protected page reads
 * it with no fault at all. read(2) into one (a kernel write) faulted
 * before too.
 */
int rwp_uaccess(const struct ctx *c)
{
	struct kaccess k;
	struct area a;
	char buf[KACCESS_LEN];
	int uffd, pipefd[2];

	if (area_alloc(&a, c->mt, 1, PROT_READ | PROT_WRITE))
		return FAIL;
	memset(a.p, 'x', a.ps);
	uffd = uffd_for_area(&a, UFFD_FEATURE_RWP, UFFDIO_REGISTER_MODE_RWP);
	if (uffd < 0)
		return FAIL;
	SYS(pipe2(pipefd, O_CLOEXEC));

	k = (struct kaccess){ pipefd[1], a.p, false };
	if (kaccess_fault(&a, uffd, &k))
		return FAIL;
	SYS(read(pipefd[0], buf, KACCESS_LEN));
	CHECK(all_bytes(buf, 'x', KACCESS_LEN), "write(2) sent other data");

	k.fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	SYS(k.fd);
	k.kernel_writes = true;
	if (kaccess_fault(&a, uffd, &k))
		return FAIL;
	CHECK(all_bytes(a.p, 0, KACCESS_LEN), "read(2) did not zero the page");
	CHECK(all_bytes(a.p + KACCESS_LEN, 'x', a.ps - KACCESS_LEN),
	      "read(2) wrote past its length");
	return PASS;
}
