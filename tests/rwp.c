// SPDX-License-Identifier: GPL-2.0
/*
 * Read-write protection (UFFDIO_REGISTER_MODE_RWP, UFFDIO_RWPROTECT; 7.3):
 * a protected page is a PROT_NONE pte with the uffd bit in an accessible
 * VMA, and any access to it, read or write, is a userfault. The uffd bit
 * is the one uffd-wp uses, so pagemap reports a protected page with bit
 * 57 (PM_UFFD_WP), and PAGEMAP_SCAN calls a page of an RWP VMA whose bit
 * is clear PAGE_IS_ACCESSED.
 *
 * Only present ptes are protected: there is no RWP pte marker, so an
 * operation that drops a pte (MADV_DONTNEED, hole punch) drops its
 * protection too, and the next access populates an unprotected page
 * (Documentation/admin-guide/mm/userfaultfd.rst, "Scope of protection").
 * A swap entry keeps it: the uffd bit moves onto it (rwp-pageout).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pagemap-scan.h"
#include "scenarios.h"

#define KACCESS_LEN 64

/* How the kernel reaches the page: its own uaccess, or GUP on its behalf. */
enum kaccess_method { WRITE_FROM, READ_INTO, VM_READV, VM_WRITEV };

static const char *const kaccess_name[] = {
	"write(2) from", "read(2) into", "process_vm_readv of",
	"process_vm_writev to",
};

struct kaccess {
	enum kaccess_method method;
	int fd;			/* WRITE_FROM, READ_INTO */
	char *addr;
	char buf[KACCESS_LEN];	/* VM_READV, VM_WRITEV */
};

static bool kaccess_writes(enum kaccess_method m)
{
	return m == READ_INTO || m == VM_WRITEV;
}

static long kaccess_run(void *arg)
{
	struct kaccess *k = arg;
	struct iovec local = { k->buf, KACCESS_LEN };
	struct iovec remote = { k->addr, KACCESS_LEN };

	switch (k->method) {
	case WRITE_FROM:
		return write(k->fd, k->addr, KACCESS_LEN);
	case READ_INTO:
		return read(k->fd, k->addr, KACCESS_LEN);
	case VM_READV:
		return process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	case VM_WRITEV:
		return process_vm_writev(getpid(), &local, 1, &remote, 1, 0);
	}
	return -1;
}

/*
 * A syscall that reads or writes a protected page, through uaccess or
 * through GUP, blocks in an RWP fault, flagged like the user's own
 * access, until the page is unprotected, and then completes on the
 * page's data.
 */
static int kaccess_fault(struct area *a, int uffd, struct kaccess *k)
{
	struct uffd_msg msg;
	struct bg bg;

	CHECK_EQ(uffd_rwprotect(uffd, a->p, a->ps, true), 0);
	SYS(bg_start(&bg, kaccess_run, k));
	if (expect_event(uffd, UFFD_EVENT_PAGEFAULT, &msg)) {
		diag("%s a protected page: no RWP fault",
		     kaccess_name[k->method]);
		return FAIL;
	}
	CHECK_EQ(msg.arg.pagefault.address, (uintptr_t)a->p);
	CHECK_EQ(msg.arg.pagefault.flags,
		 UFFD_PAGEFAULT_FLAG_RWP |
		 (kaccess_writes(k->method) ? UFFD_PAGEFAULT_FLAG_WRITE : 0));
	CHECK(!bg_done(&bg, 0), "the syscall returned before the unprotect");
	CHECK_EQ(uffd_rwprotect(uffd, a->p, a->ps, false), 0);
	CHECK_EQ(bg_join(&bg, WAIT_MS), 0);
	if (bg.ret < 0)
		diag("%s", strerror(bg.err));
	CHECK_EQ(bg.ret, KACCESS_LEN);
	return expect_no_message(uffd);
}

/*
 * npages of 'x' registered in RWP mode on a new uffd with features, all
 * protected. The uffd, or -1 after a diagnostic.
 */
static int rwp_area(const struct ctx *c, struct area *a, size_t npages,
		    uint64_t features)
{
	int uffd, ret;

	if (area_alloc(a, c->mt, npages, PROT_READ | PROT_WRITE))
		return -1;
	fill_bytes(a->p, 'x', a->len);
	uffd = uffd_for_area(a, UFFD_FEATURE_RWP | features,
			     UFFDIO_REGISTER_MODE_RWP);
	if (uffd < 0)
		return -1;
	ret = uffd_rwprotect(uffd, a->p, a->len, true);
	if (ret) {
		diag("UFFDIO_RWPROTECT: %s", strerror(-ret));
		return -1;
	}
	return uffd;
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

	uffd = rwp_area(c, &a, 1, 0);
	if (uffd < 0)
		return FAIL;
	SYS(pipe2(pipefd, O_CLOEXEC));

	k = (struct kaccess){ .method = WRITE_FROM, .fd = pipefd[1], .addr = a.p };
	if (kaccess_fault(&a, uffd, &k))
		return FAIL;
	SYS(read(pipefd[0], buf, KACCESS_LEN));
	CHECK(all_bytes(buf, 'x', KACCESS_LEN), "write(2) sent other data");

	k.fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	SYS(k.fd);
	k.method = READ_INTO;
	if (kaccess_fault(&a, uffd, &k))
		return FAIL;
	CHECK(all_bytes(a.p, 0, KACCESS_LEN), "read(2) did not zero the page");
	CHECK(all_bytes(a.p + KACCESS_LEN, 'x', a.ps - KACCESS_LEN),
	      "read(2) wrote past its length");
	return PASS;
}

/*
 * process_vm_readv/writev reach the page through GUP (FOLL_REMOTE), not
 * uaccess: a protected page must fault to the monitor there too, like
 * the user's access, and the call complete once it is unprotected.
 */
int rwp_remote(const struct ctx *c)
{
	struct kaccess k = { .method = VM_READV };
	struct area a;
	int uffd;

	uffd = rwp_area(c, &a, 1, 0);
	if (uffd < 0)
		return FAIL;
	k.addr = a.p;
	if (kaccess_fault(&a, uffd, &k))
		return FAIL;
	CHECK(all_bytes(k.buf, 'x', KACCESS_LEN),
	      "process_vm_readv read other data");

	k.method = VM_WRITEV;
	memset(k.buf, 'W', KACCESS_LEN);
	if (kaccess_fault(&a, uffd, &k))
		return FAIL;
	CHECK(all_bytes(a.p, 'W', KACCESS_LEN), "process_vm_writev was lost");
	CHECK(all_bytes(a.p + KACCESS_LEN, 'x', a.ps - KACCESS_LEN),
	      "process_vm_writev wrote past its length");
	return PASS;
}

/* ---- synchronous faults ------------------------------------------------ */

static int uffd_wake(int uffd, void *p, size_t len)
{
	struct uffdio_range r = { (uintptr_t)p, len };

	return ioctl(uffd, UFFDIO_WAKE, &r) ? -errno : 0;
}

/* UFFDIO_RWPROTECT off with DONTWAKE: the faulting threads stay asleep. */
static int rwp_unprotect_nowake(int uffd, void *p, size_t len)
{
	struct uffdio_rwprotect r = {
		.range = { (uintptr_t)p, len },
		.mode = UFFDIO_RWPROTECT_MODE_DONTWAKE,
	};

	return ioctl(uffd, UFFDIO_RWPROTECT, &r) ? -errno : 0;
}

static int uffd_set_mode(int uffd, uint64_t enable, uint64_t disable)
{
	struct uffdio_set_mode m = { .enable = enable, .disable = disable };

	return ioctl(uffd, UFFDIO_SET_MODE, &m) ? -errno : 0;
}

/* Bit 57 of the pages of a at p is set exactly where prot has a 1 bit. */
static int expect_prot(const struct area *a, const char *p,
		       unsigned long prot, const char *when)
{
	size_t i;

	for (i = 0; i < a->npages; i++) {
		uint64_t ent = pagemap_entry(p + i * a->ps);

		CHECK(!(ent & PM_UFFD_WP) == !(prot & (1UL << i)),
		      "%s: page %zu: pagemap %#llx, expected the uffd bit %s",
		      when, i, (unsigned long long)ent,
		      prot & (1UL << i) ? "set" : "clear");
	}
	return PASS;
}

/*
 * t's access to page stops in an RWP fault: one message, flagged RWP (and
 * WRITE for a store), names the page, and the access has not returned.
 */
static int expect_rwp_fault(struct touch *t, int uffd, const char *page)
{
	struct uffd_msg msg;
	int ret = touch_wait(t, uffd, &msg, WAIT_MS);

	CHECK(ret == TOUCH_WAIT_MSG, "a %s of a protected page: %s",
	      t->write ? "write" : "read",
	      ret == TOUCH_WAIT_DONE ? "returned with no fault message" :
				       "no fault message within the wait");
	CHECK_EQ(msg.event, UFFD_EVENT_PAGEFAULT);
	CHECK_EQ(msg.arg.pagefault.address, (uintptr_t)page);
	CHECK_EQ(msg.arg.pagefault.flags,
		 UFFD_PAGEFAULT_FLAG_RWP |
		 (t->write ? UFFD_PAGEFAULT_FLAG_WRITE : 0));
	CHECK(touch_wait(t, -1, NULL, 0) == TOUCH_WAIT_TIMEOUT,
	      "the faulting access returned before the fault was resolved");
	return PASS;
}

/* t's access returns, without a signal, within timeout_ms. */
static int expect_touch_done(struct touch *t, int timeout_ms,
			     const char *after)
{
	CHECK(touch_wait(t, -1, NULL, timeout_ms) == TOUCH_WAIT_DONE,
	      "%s: the access is still blocked", after);
	CHECK(t->state == TOUCH_DONE, "%s: the access got signal %d", after,
	      t->signo);
	return PASS;
}

/*
 * A read and a write of a protected page each stop in a userfault flagged
 * RWP (the write also WRITE), whatever the pte's permissions for the
 * other access; unprotecting the page (UFFDIO_RWPROTECT without the mode
 * bit) wakes the access, which completes on the page's data, and leaves
 * the other page protected.
 */
int rwp_fault(const struct ctx *c)
{
	struct touch t;
	struct area a;
	int uffd, i;

	uffd = rwp_area(c, &a, 2, 0);
	if (uffd < 0)
		return FAIL;
	if (expect_prot(&a, a.p, 3, "protected"))
		return FAIL;

	for (i = 0; i < 2; i++) {
		char *page = page_of(&a, i);
		bool write = i == 1;

		CHECK_EQ(touch_start(&t, page, write, 'w'), 0);
		if (expect_rwp_fault(&t, uffd, page))
			return FAIL;
		CHECK_EQ(uffd_rwprotect(uffd, page, a.ps, false), 0);
		if (expect_touch_done(&t, WAIT_MS, "unprotected"))
			return FAIL;
		if (write)
			CHECK_EQ(*page, 'w');
		else
			CHECK_EQ(t.val, 'x');
		CHECK(all_bytes(page + 1, 'x', a.ps - 1),
		      "page %d lost its data", i);
		if (expect_prot(&a, a.p, write ? 0 : 2, "one unprotected"))
			return FAIL;
	}
	return expect_no_message(uffd);
}

/*
 * UFFDIO_RWPROTECT_MODE_DONTWAKE unprotects and leaves the faulting
 * access asleep (a new access goes through at once); UFFDIO_WAKE then
 * lets it complete, on the data the new access wrote.
 */
int rwp_wake(const struct ctx *c)
{
	struct touch t, t2;
	struct area a;
	int uffd;

	uffd = rwp_area(c, &a, 1, 0);
	if (uffd < 0)
		return FAIL;
	CHECK_EQ(touch_start(&t, a.p, false, 0), 0);
	if (expect_rwp_fault(&t, uffd, a.p))
		return FAIL;

	CHECK_EQ(rwp_unprotect_nowake(uffd, a.p, a.len), 0);
	if (expect_prot(&a, a.p, 0, "unprotected with DONTWAKE"))
		return FAIL;
	CHECK_EQ(touch_start(&t2, a.p, true, 'w'), 0);
	if (expect_touch_done(&t2, WAIT_MS, "a new write after the unprotect"))
		return FAIL;
	/* A wake in the unprotect would have made it runnable. */
	CHECK(touch_asleep(&t) && touch_wait(&t, -1, NULL, 0) ==
	      TOUCH_WAIT_TIMEOUT,
	      "UFFDIO_RWPROTECT with DONTWAKE woke the faulting read");

	CHECK_EQ(uffd_wake(uffd, a.p, a.len), 0);
	if (expect_touch_done(&t, WAIT_MS, "UFFDIO_WAKE"))
		return FAIL;
	CHECK_EQ(t.val, 'w');
	return expect_no_message(uffd);
}

/* ---- asynchronous mode -------------------------------------------------- */

/* The pages of a with every category of mask, where inverted ones are not. */
static long scan_pages(const struct area *a, uint64_t mask, uint64_t inverted)
{
	struct pm_scan_arg arg = {
		.category_mask = mask,
		.category_inverted = inverted,
		.return_mask = mask,
	};

	return scan_area(a, &arg);
}

/*
 * The accessed set (PAGE_IS_ACCESSED) is exactly touched, and the inverted
 * scan of present pages, the ones still protected, exactly the rest.
 */
static int expect_accessed(const struct area *a, long touched,
			   const char *when)
{
	long all = (1L << a->npages) - 1;
	long hot = scan_pages(a, PAGE_IS_ACCESSED, 0);
	long cold = scan_pages(a, PAGE_IS_ACCESSED | PAGE_IS_PRESENT,
			       PAGE_IS_ACCESSED);

	CHECK(hot == touched && cold == (all & ~touched),
	      "%s: PAGEMAP_SCAN: accessed %#lx, not accessed %#lx; expected %#lx and %#lx",
	      when, hot, cold, touched, all & ~touched);
	return PASS;
}

/*
 * With RWP_ASYNC the kernel resolves the access itself, with no message:
 * the page is unprotected, and PAGEMAP_SCAN finds exactly the pages that
 * were touched (a read of page 0, a write of page 2) as accessed and
 * page 1, not touched again, as not. Protecting again starts over.
 */
int rwp_async_scan(const struct ctx *c)
{
	struct uffd_msg msg;
	struct touch t;
	struct area a;
	int uffd, i;

	uffd = rwp_area(c, &a, 3, UFFD_FEATURE_RWP_ASYNC);
	if (uffd < 0)
		return FAIL;
	if (expect_accessed(&a, 0, "protected"))
		return FAIL;

	for (i = 0; i < 3; i += 2) {
		int ret;

		CHECK_EQ(touch_start(&t, page_of(&a, i), i == 2, 'w'), 0);
		ret = touch_wait(&t, uffd, &msg, WAIT_MS);
		CHECK(ret == TOUCH_WAIT_DONE && t.state == TOUCH_DONE,
		      "page %d: an access in async mode %s", i,
		      ret == TOUCH_WAIT_MSG ? "was reported to the monitor" :
		      ret == TOUCH_WAIT_DONE ? "got a signal" : "is blocked");
	}
	CHECK_EQ(t.val, 'w');
	CHECK_EQ(*page_of(&a, 0), 'x');
	CHECK_EQ(*page_of(&a, 2), 'w');
	if (expect_no_message(uffd) || expect_prot(&a, a.p, 2, "touched"))
		return FAIL;
	if (expect_accessed(&a, 5, "pages 0 and 2 touched"))
		return FAIL;

	CHECK_EQ(uffd_rwprotect(uffd, a.p, a.len, true), 0);
	return expect_accessed(&a, 0, "protected again");
}

/*
 * UFFDIO_SET_MODE enabling RWP_ASYNC wakes a fault in flight, whose
 * message, still unread, is withdrawn: the access completes on its own.
 * Accesses are then resolved in async mode, and once RWP_ASYNC is
 * disabled again the next one faults to the monitor.
 */
int rwp_set_mode(const struct ctx *c)
{
	struct uffd_msg msg;
	struct touch t;
	struct area a;
	int uffd;

	uffd = rwp_area(c, &a, 1, 0);
	if (uffd < 0)
		return FAIL;
	CHECK_EQ(touch_start(&t, a.p, false, 0), 0);
	if (expect_event_queued(uffd))
		return FAIL;
	CHECK(touch_wait(&t, -1, NULL, 0) == TOUCH_WAIT_TIMEOUT,
	      "a read of a protected page returned in sync mode");

	CHECK_EQ(uffd_set_mode(uffd, UFFD_FEATURE_RWP_ASYNC, 0), 0);
	if (expect_touch_done(&t, WAIT_MS, "UFFDIO_SET_MODE enabled RWP_ASYNC"))
		return FAIL;
	CHECK_EQ(t.val, 'x');
	if (expect_no_message(uffd) || expect_prot(&a, a.p, 0, "async"))
		return FAIL;

	CHECK_EQ(uffd_rwprotect(uffd, a.p, a.len, true), 0);
	CHECK_EQ(touch_start(&t, a.p, true, 'w'), 0);
	CHECK(touch_wait(&t, uffd, &msg, WAIT_MS) == TOUCH_WAIT_DONE,
	      "a write in async mode did not complete on its own");
	CHECK_EQ(*a.p, 'w');

	CHECK_EQ(uffd_set_mode(uffd, 0, UFFD_FEATURE_RWP_ASYNC), 0);
	CHECK_EQ(uffd_rwprotect(uffd, a.p, a.len, true), 0);
	CHECK_EQ(touch_start(&t, a.p, false, 0), 0);
	if (expect_rwp_fault(&t, uffd, a.p))
		return FAIL;
	CHECK_EQ(uffd_rwprotect(uffd, a.p, a.len, false), 0);
	if (expect_touch_done(&t, WAIT_MS, "unprotected"))
		return FAIL;
	CHECK_EQ(t.val, 'w');
	return expect_no_message(uffd);
}

/* ---- registration ----------------------------------------------------- */

/*
 * WP and RWP share the pte's uffd bit, so one VMA cannot have both:
 * UFFDIO_REGISTER with both modes is -EINVAL (userfaultfd_register()),
 * and re-registering a range in the other mode, which would drop the
 * mode its bits belong to, -EBUSY until UNREGISTER. Each protect ioctl
 * finds no range of its mode in the other's VMA (-ENOENT).
 */
int rwp_wp_exclusive(const struct ctx *c)
{
	const uint64_t wp = UFFDIO_REGISTER_MODE_WP,
		       rwp = UFFDIO_REGISTER_MODE_RWP;
	uint64_t ioctls;
	struct area a;
	int uffd;

	if (need_wp(c))
		return SKIP;
	if (area_alloc(&a, c->mt, 1, PROT_READ | PROT_WRITE))
		return FAIL;
	fill_bytes(a.p, 'x', a.len);
	uffd = uffd_new(c->mt->missing_feature | uffd_wp_features(c->mt) |
			UFFD_FEATURE_RWP);
	SYS(uffd);

	CHECK_EQ(uffd_register(uffd, a.p, a.len, wp | rwp, NULL), -EINVAL);
	CHECK_EQ(uffd_register(uffd, a.p, a.len, rwp, &ioctls), 0);
	CHECK((ioctls & (1ULL << _UFFDIO_RWPROTECT)) &&
	      !(ioctls & (1ULL << _UFFDIO_WRITEPROTECT)),
	      "an RWP range offers ioctls %#llx", (unsigned long long)ioctls);
	CHECK_EQ(uffd_register(uffd, a.p, a.len, wp, NULL), -EBUSY);
	CHECK_EQ(uffd_register(uffd, a.p, a.len, wp | rwp, NULL), -EINVAL);
	CHECK_EQ(uffd_writeprotect(uffd, a.p, a.len, true), -ENOENT);

	CHECK_EQ(uffd_unregister(uffd, a.p, a.len), 0);
	CHECK_EQ(uffd_register(uffd, a.p, a.len, wp, &ioctls), 0);
	CHECK(!(ioctls & (1ULL << _UFFDIO_RWPROTECT)),
	      "a WP range offers UFFDIO_RWPROTECT");
	CHECK_EQ(uffd_register(uffd, a.p, a.len, rwp, NULL), -EBUSY);
	CHECK_EQ(uffd_rwprotect(uffd, a.p, a.len, true), -ENOENT);
	return PASS;
}

/* ---- through mm operations ---------------------------------------------- */

/*
 * The rows below start from two present pages: page 0 holds 'A' and is
 * protected, page 1 holds 'B' and is not. The uffd has UFFD_FEATURE_SIGBUS,
 * so "an access traps" is a SIGBUS in the accessing thread: no monitor
 * is needed, and a child forked with EVENT_FORK, whose uffd inherits the
 * feature, checks its own copy.
 */
struct rwp2 {
	struct area a;
	int uffd;
	uint64_t features;	/* of the uffd */
};

/*
 * At p: the uffd bits as expected, and a read of each page traps exactly
 * where one is set; a page that can be read holds its data (d[i]).
 */
static int expect_pages(const struct rwp2 *s, char *p, unsigned long prot,
			const char d[2])
{
	int i, signo;

	if (expect_prot(&s->a, p, prot, "pagemap"))
		return FAIL;
	for (i = 0; i < 2; i++) {
		char *page = p + i * s->a.ps;

		if (touch_here(page, false, 0, &signo, NULL) == TOUCH_DONE) {
			CHECK(!(prot & (1UL << i)),
			      "page %d: a read went through a protected page", i);
			CHECK(all_bytes(page, d[i], s->a.ps),
			      "page %d: expected %#x throughout, found %#x", i,
			      d[i], *page);
		} else {
			CHECK(prot & (1UL << i),
			      "page %d: a read trapped (signal %d) with nothing protected",
			      i, signo);
			CHECK_EQ(signo, SIGBUS);
		}
	}
	return PASS;
}

/* Still protected at p, where uffd (if any) can unprotect page 0. */
static int expect_kept(const struct rwp2 *s, char *p, int uffd)
{
	static const char d[2] = { 'A', 'B' };

	if (expect_pages(s, p, 1, d))
		return FAIL;
	if (uffd < 0)
		return PASS;
	CHECK_EQ(uffd_rwprotect(uffd, p, s->a.ps, false), 0);
	return expect_pages(s, p, 0, d);
}

/*
 * No protection left at p: no uffd bit, and with the range registered in
 * RWP mode again (nothing protected) both pages can be read, before any
 * access could have resolved a stale protnone pte on the way.
 */
static int expect_dropped(const struct rwp2 *s, char *p, const char d[2])
{
	int uffd;

	if (expect_prot(&s->a, p, 0, "dropped"))
		return FAIL;
	uffd = uffd_new(s->a.mt->missing_feature | UFFD_FEATURE_RWP |
			UFFD_FEATURE_SIGBUS);
	SYS(uffd);
	CHECK_EQ(uffd_register(uffd, p, s->a.len, UFFDIO_REGISTER_MODE_RWP,
			       NULL), 0);
	if (expect_pages(s, p, 0, d))
		return FAIL;
	close(uffd);
	return PASS;
}

static const char kept_data[2] = { 'A', 'B' };

static int rwp2_protect(struct rwp2 *s)
{
	CHECK_EQ(uffd_rwprotect(s->uffd, s->a.p, s->a.ps, true), 0);
	return expect_prot(&s->a, s->a.p, 1, "page 0 protected");
}

static int rwp2_setup(const struct ctx *c, struct rwp2 *s, uint64_t features)
{
	if (area_alloc(&s->a, c->mt, 2, PROT_READ | PROT_WRITE))
		return FAIL;
	memset(page_of(&s->a, 0), 'A', s->a.ps);
	memset(page_of(&s->a, 1), 'B', s->a.ps);
	s->features = features | UFFD_FEATURE_RWP | UFFD_FEATURE_SIGBUS;
	s->uffd = uffd_for_area(&s->a, s->features, UFFDIO_REGISTER_MODE_RWP);
	if (s->uffd < 0)
		return FAIL;
	return rwp2_protect(s);
}

/*
 * UNREGISTER, and the release of the last reference to the uffd, restore
 * every protnone pte of the range (userfaultfd_clear_vma()): nothing may
 * stay protected, trapping an access once the range is registered again.
 */
int rwp_release(const struct ctx *c)
{
	struct rwp2 s;

	if (rwp2_setup(c, &s, 0))
		return FAIL;
	CHECK_EQ(uffd_unregister(s.uffd, s.a.p, s.a.len), 0);
	if (expect_dropped(&s, s.a.p, kept_data))
		return FAIL;

	CHECK_EQ(uffd_register(s.uffd, s.a.p, s.a.len,
			       UFFDIO_REGISTER_MODE_RWP, NULL), 0);
	if (rwp2_protect(&s))
		return FAIL;
	SYS(close(s.uffd));
	return expect_dropped(&s, s.a.p, kept_data);
}

/* In the child: its copy, protected only if the fork was reported. */
static int child_copy(void *arg)
{
	const struct rwp2 *s = arg;

	if (s->features & UFFD_FEATURE_EVENT_FORK)
		return expect_kept(s, s->a.p, -1);
	return expect_dropped(s, s->a.p, kept_data);
}

/* The parent keeps its protection either way. */
static int fork_row(const struct ctx *c, uint64_t features)
{
	struct rwp2 s;

	if (rwp2_setup(c, &s, features) ||
	    fork_child_check(s.uffd, features & UFFD_FEATURE_EVENT_FORK,
			     child_copy, &s))
		return FAIL;
	return expect_kept(&s, s.a.p, s.uffd);
}

/*
 * Without EVENT_FORK the child's copy is not registered: fork
 * (__copy_present_ptes(), copy_hugetlb_page_range()) gives it accessible
 * ptes without the uffd bit. Shared shmem and hugetlb VMAs without an
 * anon_vma are not copied at all then (vma_needs_copy()), so the child
 * starts from none ptes there.
 */
int rwp_fork(const struct ctx *c)
{
	return fork_row(c, 0);
}

/* With EVENT_FORK the child's range is registered and keeps it all. */
int rwp_fork_event(const struct ctx *c)
{
	return fork_row(c, UFFD_FEATURE_EVENT_FORK);
}

/*
 * mremap() of the whole range to a new address, from a thread where
 * EVENT_REMAP blocks it until the event is read. With the event the range
 * stays registered and page 0's protection moves with it; without it the
 * new range is not registered and arrives unprotected (move_ptes(),
 * move_huge_pte()).
 */
static int mremap_case(const struct ctx *c, uint64_t features)
{
	struct uffd_msg msg;
	struct rwp2 s;
	struct move m;
	struct bg bg;

	if (rwp2_setup(c, &s, features))
		return FAIL;
	m = (struct move){ s.a.p, reserve_range(s.a.len, s.a.ps), s.a.len, 0 };
	if (!m.to)
		return FAIL;
	if (!features) {
		SYS(do_move(&m));
		return expect_dropped(&s, m.ret, kept_data);
	}
	SYS(bg_start(&bg, do_move, &m));
	if (expect_event(s.uffd, UFFD_EVENT_REMAP, &msg))
		return FAIL;
	CHECK_EQ(bg_join(&bg, WAIT_MS), 0);
	CHECK_EQ(bg.ret, 0);
	return expect_kept(&s, m.ret, s.uffd);
}

int rwp_mremap(const struct ctx *c)
{
	if (mremap_case(c, 0))
		return FAIL;
	return mremap_case(c, UFFD_FEATURE_EVENT_REMAP);
}

/*
 * A zap drops the pte and its protection: there is no RWP marker
 * ("Scope of protection" in the admin guide). MADV_DONTNEED frees
 * anonymous and private CoW pages (reads then see zeroes: the file's
 * own pages were never written) and keeps the page cache of shared
 * mappings; MADV_REMOVE punches the shared file's pages out. Either way
 * the next access populates an unprotected page, with no fault.
 */
int rwp_zap(const struct ctx *c)
{
	static const char zeroes[2] = { 0, 0 };
	bool shared = c->mt->flag & MEM_SHARED;
	struct rwp2 s;

	if (rwp2_setup(c, &s, 0))
		return FAIL;
	SYS(madvise(s.a.p, s.a.len, MADV_DONTNEED));
	if (expect_pages(&s, s.a.p, 0, shared ? kept_data : zeroes))
		return FAIL;
	if (!shared)
		return PASS;

	if (rwp2_protect(&s))
		return FAIL;
	SYS(madvise(s.a.p, s.a.len, MADV_REMOVE));
	return expect_pages(&s, s.a.p, 0, zeroes);
}

/*
 * mprotect() keeps a protected page PROT_NONE through a VMA split,
 * PROT_READ, PROT_NONE and the way back to PROT_READ|PROT_WRITE
 * (change_pte_range() and hugetlb_change_protection() restore PAGE_NONE
 * under the uffd bit), and leaves the unprotected page accessible.
 */
int rwp_mprotect(const struct ctx *c)
{
	struct rwp2 s;

	if (rwp2_setup(c, &s, 0))
		return FAIL;
	SYS(mprotect(page_of(&s.a, 1), s.a.ps, PROT_READ));
	SYS(mprotect(s.a.p, s.a.len, PROT_READ));
	if (expect_pages(&s, s.a.p, 1, kept_data))
		return FAIL;
	SYS(mprotect(s.a.p, s.a.len, PROT_NONE));
	SYS(mprotect(s.a.p, s.a.len, PROT_READ | PROT_WRITE));
	return expect_kept(&s, s.a.p, s.uffd);
}

/* ---- through swap -------------------------------------------------------- */

/*
 * A protected anon page swapped out keeps the uffd bit on its swap entry
 * (try_to_unmap_one()), and swap-in restores PAGE_NONE under it
 * (do_swap_page()), so the first access after it still traps. A write to
 * a swapped-in page another mm shares (fork after the swap-out) must trap
 * too, not CoW to an accessible copy: upstream's rwp-swap-cow. On shared
 * memory reclaim unmaps the page-cache page: the pte goes, and with it
 * the protection (no RWP marker, as rwp-zap), but not the data.
 */
int rwp_pageout(const struct ctx *c)
{
	bool shared = c->mt->flag & MEM_SHARED;
	int signo, go[2];
	struct rwp2 s;
	char *p0, ch;
	pid_t pid;

	if (!have_swap())
		return skip("the guest has no swap device (SWAP=0)");
	if (rwp2_setup(c, &s, 0) || page_out(s.a.p, s.a.len, s.a.ps))
		return FAIL;
	if (shared)
		return expect_pages(&s, s.a.p, 0, kept_data);

	p0 = page_of(&s.a, 0);
	CHECK_EQ(pagemap_entry(p0) & PM_STATE, PM_SWAP | PM_UFFD_WP);
	CHECK_EQ(pagemap_entry(page_of(&s.a, 1)) & PM_STATE, PM_SWAP);
	if (expect_kept(&s, s.a.p, s.uffd))
		return FAIL;

	/* Again, with the swap entry shared with a child when it comes in. */
	if (rwp2_protect(&s) || page_out(s.a.p, s.a.len, s.a.ps))
		return FAIL;
	SYS(pipe(go));
	pid = fork();
	SYS(pid);
	if (!pid) {
		close(go[1]);
		_exit(read(go[0], &ch, 1) < 0);	/* until the parent is done */
	}
	close(go[0]);
	CHECK(touch_here(p0, true, 'w', &signo, NULL) != TOUCH_DONE,
	      "a write to a protected page shared with a child after swap-in went through");
	CHECK_EQ(signo, SIGBUS);
	close(go[1]);
	SYS(waitpid(pid, NULL, 0));
	return expect_kept(&s, s.a.p, s.uffd);
}
