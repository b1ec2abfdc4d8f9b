// SPDX-License-Identifier: GPL-2.0
/*
 * Arch-level checks of hugetlb memory itself, so that a UML rebase that
 * breaks "um: support hugetlbfs" is caught by name: kernel accesses and
 * futexes on a subpage of a huge page (skas/uaccess.c walks the PMD leaf),
 * fork CoW of a private huge page, and the pool coming back in full.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scenarios.h"

/* Past the first 4k: a walker that ignores the leaf offset gets it wrong. */
#define SUBPAGE_OFF (5 * 4096 + 123)

/* read()/write() into and out of hugetlb memory: copy_to/from_user. */
int hugetlb_uaccess(const struct ctx *c)
{
	struct area a;
	char buf[64] = { 0 };
	int pfd[2];

	if (area_alloc(&a, c->mt, 1, PROT_READ | PROT_WRITE))
		return FAIL;
	fill_bytes(a.p, 'h', a.ps);
	SYS(pipe(pfd));
	CHECK_EQ(write(pfd[1], a.p + SUBPAGE_OFF, 16), 16);
	CHECK_EQ(read(pfd[0], buf, sizeof(buf)), 16);
	CHECK(all_bytes(buf, 'h', 16), "copy_from_user read the wrong page");

	memset(buf, 'k', 16);
	CHECK_EQ(write(pfd[1], buf, 16), 16);
	CHECK_EQ(read(pfd[0], a.p + SUBPAGE_OFF, 16), 16);
	CHECK(all_bytes(a.p + SUBPAGE_OFF, 'k', 16),
	      "copy_to_user wrote the wrong page");
	CHECK_EQ(a.p[SUBPAGE_OFF - 1], 'h');
	CHECK_EQ(a.p[SUBPAGE_OFF + 16], 'h');
	return PASS;
}

static long futex(uint32_t *uaddr, int op, uint32_t val, void *timeout,
		  uint32_t *uaddr2, uint32_t val3)
{
	return syscall(SYS_futex, uaddr, op, val, timeout, uaddr2, val3);
}

/*
 * FUTEX_WAKE_OP runs arch_futex_atomic_op_inuser() and the PI lock runs
 * futex_atomic_cmpxchg_inatomic(), both UML uaccess walkers.
 */
int hugetlb_futex(const struct ctx *c)
{
	uint32_t *word, *word2, tid = syscall(SYS_gettid);
	struct area a;

	if (area_alloc(&a, c->mt, 1, PROT_READ | PROT_WRITE))
		return FAIL;
	word = (uint32_t *)(a.p + (SUBPAGE_OFF & ~3));
	word2 = word + 1024;
	*word = 5;
	*word2 = 0;

	/* *word2 += 7; then wake waiters on word if the old *word2 was 0. */
	CHECK_EQ(futex(word, FUTEX_WAKE_OP, 1, (void *)1, word2,
		       FUTEX_OP(FUTEX_OP_ADD, 7, FUTEX_OP_CMP_EQ, 0)), 0);
	CHECK_EQ(*word2, 7);
	CHECK_EQ(*word, 5);

	*word = 0;
	CHECK_EQ(futex(word, FUTEX_LOCK_PI, 0, NULL, NULL, 0), 0);
	CHECK_EQ(*word & FUTEX_TID_MASK, tid);
	CHECK_EQ(futex(word, FUTEX_UNLOCK_PI, 0, NULL, NULL, 0), 0);
	CHECK_EQ(*word, 0);
	return PASS;
}

/* A private huge page is copied on write after fork, both ways. */
int hugetlb_fork_cow(const struct ctx *c)
{
	struct area a;
	int status;
	pid_t pid;

	if (area_alloc(&a, c->mt, 1, PROT_READ | PROT_WRITE))
		return FAIL;
	fill_bytes(a.p, 'P', a.ps);
	pid = fork();
	SYS(pid);
	if (pid == 0) {
		if (a.p[SUBPAGE_OFF] != 'P')
			_exit(1);
		a.p[SUBPAGE_OFF] = 'C';
		_exit(a.p[SUBPAGE_OFF] == 'C' ? 0 : 2);
	}
	SYS(waitpid(pid, &status, 0));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "child status %#x", status);
	CHECK_EQ(a.p[SUBPAGE_OFF], 'P');
	/* Private all along: the file never saw any of it. */
	a.p[0] = 'Q';
	CHECK_EQ(a.alias[0], 0);
	return PASS;
}

static unsigned long free_huge(void)
{
	return meminfo("HugePages_Free: %lu");
}

/*
 * Every huge page a mapping took (faulted, CoW-copied, filled by
 * UFFDIO_COPY) is back in the pool once the mappings and file are gone.
 */
int hugetlb_pool(const struct ctx *c)
{
	unsigned long before = free_huge(), after;
	struct area a;
	int64_t out;
	char *src;
	int uffd;

	if (area_alloc(&a, c->mt, 2, PROT_READ | PROT_WRITE))
		return FAIL;
	fill_bytes(a.p, 'x', a.ps);
	uffd = uffd_for_area(&a, 0, UFFDIO_REGISTER_MODE_MISSING);
	src = src_pages(a.ps, 'y');
	if (uffd < 0 || !src)
		return FAIL;
	uffd_unregister(uffd, a.p, a.ps);
	CHECK_EQ(uffd_copy(uffd, page_of(&a, 1), src, a.ps, 0, &out), 0);
	CHECK(free_huge() < before, "no huge page was taken");
	close(uffd);
	area_free(&a);
	after = free_huge();
	CHECK_EQ(after, before);
	return PASS;
}

/*
 * A SysV SHM_HUGETLB segment is hugetlbfs memory mapped by ipc/shm.c.
 * Up to 7.1 it registered like any hugetlb range and its faults were
 * resolved as such; since "userfaultfd: introduce vm_uffd_ops" (7.2)
 * registration needs the VMA's vm_uffd_ops, which ipc/shm.c's vm_ops do
 * not have, and it is refused with EINVAL. Each line's answer is pinned
 * down here, so that a change of it is seen.
 */
int sysv_shm_hugetlb(const struct ctx *c)
{
	size_t hps = 2UL << 20;
	struct uffd_msg msg;
	struct touch t;
	int64_t out;
	char *p, *src;
	int id, uffd, ret;

	(void)c;
	id = shmget(IPC_PRIVATE, hps, IPC_CREAT | SHM_HUGETLB | 0600);
	if (id < 0)
		return skip("shmget(SHM_HUGETLB): %s", strerror(errno));
	p = shmat(id, NULL, 0);
	shmctl(id, IPC_RMID, NULL);
	SYS(p == (void *)-1 ? -1 : 0);
	uffd = uffd_new(0);
	SYS(uffd);
	ret = uffd_register(uffd, p, hps, UFFDIO_REGISTER_MODE_MISSING, NULL);
	if (!kernel_older_than(7, 2)) {
		CHECK_EQ(ret, -EINVAL);
		return PASS;
	}
	CHECK_EQ(ret, 0);
	src = src_pages(hps, 'V');
	SYS(src ? 0 : -1);
	SYS(touch_start(&t, p + SUBPAGE_OFF, false, 0));
	CHECK_EQ(touch_wait(&t, uffd, &msg, WAIT_MS), TOUCH_WAIT_MSG);
	CHECK_EQ(msg.arg.pagefault.address & ~(hps - 1), (uintptr_t)p);
	CHECK_EQ(uffd_copy(uffd, p, src, hps, 0, &out), 0);
	CHECK_EQ(out, (int64_t)hps);
	CHECK_EQ(touch_wait(&t, uffd, &msg, WAIT_MS), TOUCH_WAIT_DONE);
	CHECK_EQ(p[SUBPAGE_OFF], 'V');
	return PASS;
}
