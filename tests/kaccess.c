// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel-internal and remote accesses to a registered range (realbugs B).
 *
 * handle_userfault() decides by who is asking:
 *  - a task that is dumping core or exiting never waits for a monitor
 *    (PF_DUMPCORE|PF_EXITING; "userfaultfd: shmem: handle coredumping in
 *    handle_userfault()", v4.12): the access fails and the task goes on;
 *  - a fault that cannot drop mmap_lock and retry (no
 *    FAULT_FLAG_ALLOW_RETRY: access_remote_vm(), behind /proc/pid/mem and
 *    ptrace peeks, and get_dump_page() call GUP without FOLL_UNLOCKABLE)
 *    fails at once;
 *  - a retryable fault that is not a user fault (process_vm_readv/writev
 *    pin with "locked") is reported to the monitor like any other, unless
 *    the uffd was created with UFFD_USER_MODE_ONLY ("userfaultfd: add
 *    UFFD_USER_MODE_ONLY", v5.11), which fails it instead.
 * Each row also checks that no access hangs its task.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scenarios.h"

#define CORE_PATTERN "/proc/sys/kernel/core_pattern"
#define CORE_FILE "/tmp/uffd-core"

/*
 * The dumping child: an untouched page of c->mt mapped straight from a
 * memfd (no alias mapping, which the dump would fault in first), the
 * whole range registered MISSING on a uffd that also sees kernel faults;
 * the uffd goes to the parent, then the child aborts with a core.
 */
static int dumping_child(const struct mem_type *mt, int sock)
{
	struct rlimit core = { RLIM_INFINITY, RLIM_INFINITY };
	size_t ps = mt->page_size();
	int fd, uffd;
	char *p;

	/* Every kind of mapping in the dump: MAP_PRIVATE file pages too. */
	if (setrlimit(RLIMIT_CORE, &core) ||
	    write_file("/proc/self/coredump_filter", "0x7f"))
		return 3;
	fd = mem_memfd(mt, ps);
	if (fd < 0)
		return 3;
	p = mmap(NULL, ps, PROT_READ | PROT_WRITE, mt->map_flags, fd, 0);
	if (p == MAP_FAILED)
		return 3;
	uffd = uffd_new(mt->missing_feature);
	if (uffd < 0 || uffd_register(uffd, p, ps,
				      UFFDIO_REGISTER_MODE_MISSING, NULL))
		return 3;
	if (send_fd(sock, uffd))
		return 3;
	/* The parent's copy is then the only one: closing it frees a stuck dump. */
	close(uffd);
	abort();
}

/*
 * B1. A core dump reads every dumped page through get_dump_page(); a
 * hole in a registered shmem range must be dumped as a hole, with no
 * message to the monitor and no wait for one. Two guards keep it so
 * today: the dumper's PF_DUMPCORE, and (since get_dump_page() faults
 * without FOLL_UNLOCKABLE) the missing FAULT_FLAG_ALLOW_RETRY; the
 * mutant takes both away, as a GUP change that let the dump retry would.
 */
int coredump_no_fault(const struct ctx *c)
{
	char old[256] = "", pattern[64];
	struct uffd_msg msg;
	int sv[2], uffd, status = 0, ms, fd, got_msg = 0;
	pid_t pid;
	ssize_t n;

	fd = open(CORE_PATTERN, O_RDONLY | O_CLOEXEC);
	SYS(fd);
	n = read(fd, old, sizeof(old) - 1);
	close(fd);
	SYS(n);
	CHECK_EQ(write_file(CORE_PATTERN, CORE_FILE ".%p"), 0);
	SYS(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	pid = fork();
	SYS(pid);
	if (!pid)
		_exit(dumping_child(c->mt, sv[1]));
	close(sv[1]);
	uffd = recv_fd(sv[0]);
	close(sv[0]);
	if (uffd < 0) {
		waitpid(pid, &status, 0);
		diag("the child sent no uffd (wait status %#x)", status);
		return FAIL;
	}
	for (ms = 0; ms < WAIT_MS; ms += 10) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		if (uffd_read_msg(uffd, &msg, 10) == 1) {
			diag("the core dump raised a userfault: event %#x at %#llx",
			     msg.event, (unsigned long long)msg.arg.pagefault.address);
			got_msg = 1;
			break;
		}
	}
	close(uffd);
	if (ms >= WAIT_MS || got_msg)
		waitpid(pid, &status, 0);
	snprintf(pattern, sizeof(pattern), CORE_FILE ".%d", pid);
	unlink(pattern);
	write_file(CORE_PATTERN, old);
	CHECK(!got_msg, "the dump must not wait for the monitor");
	CHECK(ms < WAIT_MS, "the dumping child was still running after %d ms",
	      WAIT_MS);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
	      "child wait status %#x, expected SIGABRT", status);
	/* Without a core the row never reached the dump path. */
	CHECK(WCOREDUMP(status), "no core was dumped (core_pattern %s)",
	      CORE_FILE ".%p");
	return PASS;
}

struct tid_exit {
	void *clear_tid;
	volatile pid_t tid;
};

static void *exit_clearing(void *arg)
{
	struct tid_exit *e = arg;

	e->tid = syscall(SYS_gettid);
	syscall(SYS_set_tid_address, e->clear_tid);
	/* The thread alone: musl's pthread_exit would touch shared state. */
	syscall(SYS_exit, 0);
	return NULL;
}

/*
 * The exit-time clear_child_tid store (mm_release(): put_user(0) and a
 * futex wake, done while other threads share the mm) into a hole of a
 * registered range: the exiting thread must not wait for the monitor; it
 * exits, the store is dropped and no message is queued.
 */
int exit_clear_tid(const struct ctx *c)
{
	struct tid_exit e = { 0 };
	struct uffd_msg msg;
	pthread_t thread;
	char task[64];
	struct area a;
	int uffd, ms;

	if (area_alloc(&a, c->mt, 1, PROT_READ | PROT_WRITE))
		return FAIL;
	uffd = uffd_for_area(&a, 0, UFFDIO_REGISTER_MODE_MISSING);
	if (uffd < 0)
		return FAIL;
	e.clear_tid = a.p;
	SYS(-pthread_create(&thread, NULL, exit_clearing, &e));
	for (ms = 0; !e.tid && ms < WAIT_MS; ms++)
		usleep(1000);
	CHECK(e.tid, "the thread did not start");
	snprintf(task, sizeof(task), "/proc/self/task/%d", e.tid);
	for (ms = 0; ms < WAIT_MS; ms += 10) {
		if (access(task, F_OK))
			break;
		if (uffd_read_msg(uffd, &msg, 10) == 1) {
			diag("the exiting thread raised a userfault at %#llx",
			     (unsigned long long)msg.arg.pagefault.address);
			return FAIL;
		}
	}
	CHECK(ms < WAIT_MS, "thread %d still exists after %d ms", e.tid,
	      WAIT_MS);
	if (expect_no_message(uffd))
		return FAIL;
	CHECK_EQ(pagemap_entry(a.p) & PM_PRESENT, 0);
	return PASS;
}

/* ---- remote accesses: GUP on behalf of another task ------------------ */

enum remote_method { PROC_MEM_READ, PROC_MEM_WRITE, VM_READV, VM_WRITEV };

static const char *const method_name[] = {
	"pread(/proc/self/mem)", "pwrite(/proc/self/mem)",
	"process_vm_readv", "process_vm_writev",
};

#define REMOTE_LEN 64

struct remote {
	enum remote_method method;
	char *addr;
	char buf[REMOTE_LEN];
};

static bool method_writes(enum remote_method m)
{
	return m == PROC_MEM_WRITE || m == VM_WRITEV;
}

static long remote_access(void *arg)
{
	struct remote *r = arg;
	struct iovec local = { r->buf, REMOTE_LEN };
	struct iovec remote = { r->addr, REMOTE_LEN };
	long ret;
	int fd, err;

	switch (r->method) {
	case PROC_MEM_READ:
	case PROC_MEM_WRITE:
		fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return -1;
		if (r->method == PROC_MEM_READ)
			ret = pread(fd, r->buf, REMOTE_LEN, (off_t)(uintptr_t)r->addr);
		else
			ret = pwrite(fd, r->buf, REMOTE_LEN, (off_t)(uintptr_t)r->addr);
		err = errno;
		close(fd);
		errno = err;
		return ret;
	case VM_READV:
		return process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	case VM_WRITEV:
		return process_vm_writev(getpid(), &local, 1, &remote, 1, 0);
	}
	return -1;
}

/* Cross-memory attach is a config option (CONFIG_CROSS_MEMORY_ATTACH). */
static bool have_method(enum remote_method m)
{
	char b = 0;
	struct iovec l = { &b, 1 }, r = { &b, 1 };

	return (m != VM_READV && m != VM_WRITEV) ||
	       process_vm_readv(getpid(), &l, 1, &r, 1, 0) == 1 ||
	       errno != ENOSYS;
}

static int need_method(enum remote_method m)
{
	if (!have_method(m))
		return skip("%s: ENOSYS (CONFIG_CROSS_MEMORY_ATTACH)",
			    method_name[m]);
	return PASS;
}

/* mem_rw() turns a failed access_remote_vm() into EIO, process_vm_rw() EFAULT. */
static const int fail_errno[] = { EIO, EIO, EFAULT, EFAULT };

static bool method_retries(enum remote_method m)
{
	return m == VM_READV || m == VM_WRITEV;
}

/*
 * A remote access to a hole that cannot be retried fails at once with
 * the method's error, queues nothing and leaves the hole.
 */
static int remote_refused(char *addr, enum remote_method m, int uffd)
{
	struct remote r = { .method = m, .addr = addr };
	struct bg bg;

	SYS(bg_start(&bg, remote_access, &r));
	if (bg_join(&bg, WAIT_MS)) {
		diag("%s of a hole waits for the monitor", method_name[m]);
		return FAIL;
	}
	if (bg.ret >= 0)
		diag("%s returned %ld", method_name[m], bg.ret);
	CHECK_EQ(bg.ret, -1);
	CHECK_EQ(bg.err, fail_errno[m]);
	CHECK_EQ(pagemap_entry(addr) & PM_PRESENT, 0);
	return expect_no_message(uffd);
}

/*
 * A retryable remote access to a hole faults to the monitor (write flag
 * as the access), waits for the fill, and then completes on the filled
 * page; one that cannot be retried is refused.
 */
static int remote_fault(const struct ctx *c, enum remote_method m)
{
	struct remote r = { .method = m };
	struct uffd_msg msg;
	struct area a;
	struct bg bg;
	int64_t out;
	char *src;
	int uffd;

	if (need_method(m))
		return SKIP;
	if (area_alloc(&a, c->mt, 1, PROT_READ | PROT_WRITE))
		return FAIL;
	uffd = uffd_for_area(&a, 0, UFFDIO_REGISTER_MODE_MISSING);
	src = src_pages(a.ps, 'S');
	if (uffd < 0 || !src)
		return FAIL;
	if (!method_retries(m))
		return remote_refused(a.p, m, uffd);
	r.addr = a.p;
	memset(r.buf, 'W', REMOTE_LEN);
	SYS(bg_start(&bg, remote_access, &r));
	if (expect_event(uffd, UFFD_EVENT_PAGEFAULT, &msg)) {
		diag("%s of a hole: no fault message", method_name[m]);
		return FAIL;
	}
	CHECK_EQ(msg.arg.pagefault.address, (uintptr_t)a.p);
	CHECK_EQ(!!(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE),
		 method_writes(m));
	CHECK(!bg_done(&bg, 0), "%s returned before the fill", method_name[m]);
	CHECK_EQ(uffd_copy(uffd, a.p, src, a.ps, 0, &out), 0);
	CHECK_EQ(bg_join(&bg, WAIT_MS), 0);
	if (bg.ret < 0)
		diag("%s: %s", method_name[m], strerror(bg.err));
	CHECK_EQ(bg.ret, REMOTE_LEN);
	if (method_writes(m)) {
		CHECK(all_bytes(a.p, 'W', REMOTE_LEN), "the write was lost");
		CHECK(all_bytes(a.p + REMOTE_LEN, 'S', a.ps - REMOTE_LEN),
		      "the fill was lost");
	} else {
		CHECK(all_bytes(r.buf, 'S', REMOTE_LEN),
		      "the read did not return the filled page");
	}
	return expect_no_message(uffd);
}

int remote_procmem_read(const struct ctx *c)
{
	return remote_fault(c, PROC_MEM_READ);
}

int remote_procmem_write(const struct ctx *c)
{
	return remote_fault(c, PROC_MEM_WRITE);
}

int remote_vm_readv(const struct ctx *c)
{
	return remote_fault(c, VM_READV);
}

int remote_vm_writev(const struct ctx *c)
{
	return remote_fault(c, VM_WRITEV);
}

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

/*
 * UFFD_USER_MODE_ONLY: every remote access to a hole is refused, the
 * retryable ones too.
 */
int remote_user_only(const struct ctx *c)
{
	struct uffdio_api api = {
		.api = UFFD_API, .features = c->mt->missing_feature,
	};
	struct area a;
	int uffd, m, tried = 0;

	if (area_alloc(&a, c->mt, 4, PROT_READ | PROT_WRITE))
		return FAIL;
	uffd = uffd_open_raw(O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	SYS(uffd);
	SYS(ioctl(uffd, UFFDIO_API, &api));
	CHECK_EQ(uffd_register(uffd, a.p, a.len, UFFDIO_REGISTER_MODE_MISSING,
			       NULL), 0);
	for (m = PROC_MEM_READ; m <= VM_WRITEV; m++) {
		if (!have_method(m))
			continue;
		tried++;
		if (remote_refused(page_of(&a, m), m, uffd))
			return FAIL;
	}
	CHECK(tried, "no remote access method available");
	return PASS;
}

/* ---- ptrace peeks: access_process_vm(), as /proc/pid/mem ------------ */

struct peek {
	const struct mem_type *mt;
	int uffd;		/* the tracee's, received over a socket */
	long peek, poke;	/* PTRACE_PEEKDATA's word, POKEDATA's result */
	int peek_errno, poke_errno;
	bool msg;		/* a message was queued after both */
	char *addr;
};

/* The tracee: a registered hole, its uffd sent to the tracer, a stop. */
static int tracee(const struct mem_type *mt, int sock)
{
	size_t ps = mt->page_size();
	int fd, uffd;
	char *p;

	if (ptrace(PTRACE_TRACEME, 0, NULL, NULL))
		return 3;
	fd = mem_memfd(mt, ps);
	if (fd < 0)
		return 3;
	p = mmap(NULL, ps, PROT_READ | PROT_WRITE, mt->map_flags, fd, 0);
	uffd = uffd_new(mt->missing_feature);
	if (p == MAP_FAILED || uffd < 0 ||
	    uffd_register(uffd, p, ps, UFFDIO_REGISTER_MODE_MISSING, NULL))
		return 3;
	if (write(sock, &p, sizeof(p)) != sizeof(p) || send_fd(sock, uffd))
		return 3;
	raise(SIGSTOP);
	return 0;
}

/*
 * The tracer must be the thread that forked the tracee, so all of it
 * runs in one background thread and the scenario only waits for it.
 */
static long trace_and_peek(void *arg)
{
	struct peek *pk = arg;
	struct pollfd pfd;
	int sv[2], status;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid)
		_exit(tracee(pk->mt, sv[1]));
	close(sv[1]);
	if (read(sv[0], &pk->addr, sizeof(pk->addr)) != sizeof(pk->addr) ||
	    (pk->uffd = recv_fd(sv[0])) < 0 ||
	    waitpid(pid, &status, 0) != pid || !WIFSTOPPED(status)) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return -1;
	}
	errno = 0;
	pk->peek = ptrace(PTRACE_PEEKDATA, pid, pk->addr, NULL);
	pk->peek_errno = errno;
	errno = 0;
	pk->poke = ptrace(PTRACE_POKEDATA, pid, pk->addr, (void *)0x5a5aL);
	pk->poke_errno = errno;
	pfd = (struct pollfd){ .fd = pk->uffd, .events = POLLIN };
	pk->msg = poll(&pfd, 1, 0) == 1;
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	close(sv[0]);
	return 0;
}

/*
 * PTRACE_PEEKDATA and POKEDATA of a hole in the tracee's registered
 * range fail with EIO at once (access_process_vm() cannot wait for a
 * monitor), queue no message and do not hang the tracer.
 */
int remote_ptrace_peek(const struct ctx *c)
{
	struct peek pk = { .mt = c->mt, .uffd = -1 };
	struct bg bg;

	SYS(bg_start(&bg, trace_and_peek, &pk));
	if (bg_join(&bg, WAIT_MS)) {
		diag("ptrace peek/poke of a hole waits for the monitor");
		return FAIL;
	}
	CHECK_EQ(bg.ret, 0);
	CHECK_EQ(pk.peek, -1);
	CHECK_EQ(pk.peek_errno, EIO);
	CHECK_EQ(pk.poke, -1);
	CHECK_EQ(pk.poke_errno, EIO);
	CHECK(!pk.msg, "a message was queued");
	return PASS;
}
