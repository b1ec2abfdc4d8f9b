// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "uffd-common.h"

/*
 * One write() per line, no stdio: a thread blocked in fork() (a FORK event
 * nobody read yet) holds libc's stdio locks, and a failing check must
 * still be able to say why and exit.
 */
static void vline(const char *prefix, const char *fmt, va_list ap)
{
	char buf[1024];
	int n = snprintf(buf, sizeof(buf), "%s", prefix);

	n += vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(STDOUT_FILENO, buf, n) < 0)
		_exit(FAIL);
}

void diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline("", fmt, ap);
	va_end(ap);
}

/* The runner takes the reason from the last "skip: " line. */
int skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline("skip: ", fmt, ap);
	va_end(ap);
	return SKIP;
}

long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

bool spin_wait(const int *p, int v)
{
	long start = now_us();

	for (unsigned int n = 1; shared_load(p) < v; n++) {
		if (n % 64)
			continue;
		sched_yield();
		if (now_us() - start > WAIT_MS * 1000L)
			return false;
	}
	return true;
}

int need_cpus(int n)
{
	long online = sysconf(_SC_NPROCESSORS_ONLN);

	if (online >= n)
		return PASS;
	return skip("needs %d CPUs running at once, the guest has %ld (CPUS=%d on an SMP kernel)",
		    n, online, n);
}

static const char *const feature_names[] = {
	"PAGEFAULT_FLAG_WP", "EVENT_FORK", "EVENT_REMAP", "EVENT_REMOVE",
	"MISSING_HUGETLBFS", "MISSING_SHMEM", "EVENT_UNMAP", "SIGBUS",
	"THREAD_ID", "MINOR_HUGETLBFS", "MINOR_SHMEM", "EXACT_ADDRESS",
	"WP_HUGETLBFS_SHMEM", "WP_UNPOPULATED", "POISON", "WP_ASYNC", "MOVE",
	"RWP", "RWP_ASYNC",
};

const char *uffd_feature_name(uint64_t bit)
{
	unsigned int i;

	for (i = 0; i < sizeof(feature_names) / sizeof(feature_names[0]); i++)
		if (bit == 1ULL << i)
			return feature_names[i];
	return "unknown";
}

int uffd_open_raw(int flags)
{
	return syscall(__NR_userfaultfd, flags);
}

uint64_t uffd_kernel_features(void)
{
	static uint64_t features;
	static bool probed;
	struct uffdio_api api = { .api = UFFD_API };
	int fd;

	if (probed)
		return features;
	probed = true;
	fd = uffd_open_raw(O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return 0;
	if (ioctl(fd, UFFDIO_API, &api) == 0)
		features = api.features;
	close(fd);
	return features;
}

int uffd_new(uint64_t features)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	int fd = uffd_open_raw(O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (ioctl(fd, UFFDIO_API, &api)) {
		int err = errno;

		close(fd);
		return -err;
	}
	return fd;
}

int uffd_register(int uffd, void *p, size_t len, uint64_t mode,
		  uint64_t *ioctls)
{
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)p, .len = len },
		.mode = mode,
	};

	if (ioctl(uffd, UFFDIO_REGISTER, &reg))
		return -errno;
	if (ioctls)
		*ioctls = reg.ioctls;
	return 0;
}

int uffd_unregister(int uffd, void *p, size_t len)
{
	struct uffdio_range range = { .start = (uintptr_t)p, .len = len };

	return ioctl(uffd, UFFDIO_UNREGISTER, &range) ? -errno : 0;
}

uint64_t uffd_wp_features(const struct mem_type *mt)
{
	return UFFD_FEATURE_PAGEFAULT_FLAG_WP |
	       (mt->flag & MEM_FILE ? UFFD_FEATURE_WP_HUGETLBFS_SHMEM : 0);
}

int uffd_writeprotect(int uffd, void *p, size_t len, bool on)
{
	struct uffdio_writeprotect w = {
		.range = { (uintptr_t)p, len },
		.mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};

	return ioctl(uffd, UFFDIO_WRITEPROTECT, &w) ? -errno : 0;
}

int uffd_rwprotect(int uffd, void *p, size_t len, bool on)
{
	struct uffdio_rwprotect r = {
		.range = { (uintptr_t)p, len },
		.mode = on ? UFFDIO_RWPROTECT_MODE_RWP : 0,
	};

	return ioctl(uffd, UFFDIO_RWPROTECT, &r) ? -errno : 0;
}

int uffd_for_area(const struct area *a, uint64_t features, uint64_t mode)
{
	int uffd = uffd_new(a->mt->missing_feature | features);
	int ret;

	if (uffd < 0) {
		diag("UFFDIO_API(features %#llx): %s",
		     (unsigned long long)(a->mt->missing_feature | features),
		     strerror(-uffd));
		return -1;
	}
	ret = uffd_register(uffd, a->p, a->len, mode, NULL);
	if (ret) {
		diag("UFFDIO_REGISTER(%s, mode %#llx): %s", a->mt->name,
		     (unsigned long long)mode, strerror(-ret));
		close(uffd);
		return -1;
	}
	return uffd;
}

/*
 * The kernel writes the bytes (process_vm_writev(2) to this process, one
 * page of c as every source iovec), so that this process need not touch
 * the pages. On UML every 4 KiB page a host process first touches costs
 * the host a page-table walk of its own, and where the host is itself a
 * paravirtualized guest (shadow page tables) about 6 us: memset() of a
 * fresh 2 MiB took 3.3 ms in the guest, its page faults all served. The
 * UML kernel writes through its own long-lived mapping of the memory,
 * and the write faults the pages in itself (a THP where the range may
 * have one). Falls back to memset() where the syscall fails (no
 * CROSS_MEMORY_ATTACH), the rest populated first: on UML a page fault is
 * a host signal and a round trip to the UML kernel (60-80 us), populating
 * about 0.5 us a page (MADV_POPULATE_WRITE, 5.14+; before, memset()
 * faults as usual).
 */
#define FILL_IOV 512

void fill_bytes(void *p, char c, size_t len)
{
	static char page[4096];
	struct iovec local[FILL_IOV], remote = { .iov_base = p };
	size_t done = 0;
	int i;

	memset(page, c, sizeof(page));
	for (i = 0; i < FILL_IOV; i++)
		local[i] = (struct iovec){ page, sizeof(page) };
	while (done < len) {
		size_t n = len - done;
		ssize_t ret;

		if (n > sizeof(page) * FILL_IOV)
			n = sizeof(page) * FILL_IOV;
		remote.iov_base = (char *)p + done;
		remote.iov_len = n;
		/* Only the iovecs that n needs, the last one cut short. */
		i = (n + sizeof(page) - 1) / sizeof(page);
		local[i - 1].iov_len = n - (i - 1) * sizeof(page);
		ret = process_vm_writev(getpid(), local, i, &remote, 1, 0);
		local[i - 1].iov_len = sizeof(page);
		if (ret <= 0)
			break;
		done += ret;
	}
	if (done < len) {
		madvise((char *)p + done, len - done, MADV_POPULATE_WRITE);
		memset((char *)p + done, c, len - done);
	}
}

/*
 * Filled by fill_bytes(), which faults the pages in. A source of whole
 * PMDs is PMD-aligned and MADV_HUGEPAGE: where the kernel gives it a THP,
 * UML maps it to the host with one mmap() instead of one per 4 KiB page
 * (512 for a 2 MiB hugetlb page). Where it cannot (no THP, no free PMD),
 * it is made of small pages as before.
 */
#define SRC_PMD_SIZE (2UL << 20)

char *src_pages(size_t len, char c)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS;
	char *p = NULL;

	if (len % SRC_PMD_SIZE == 0) {
		p = reserve_range(len, SRC_PMD_SIZE);
		if (p)
			flags |= MAP_FIXED;
	}
	p = mmap(p, len, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (p == MAP_FAILED) {
		diag("mmap(%zu): %s", len, strerror(errno));
		return NULL;
	}
	if (flags & MAP_FIXED)
		madvise(p, len, MADV_HUGEPAGE);
	fill_bytes(p, c, len);
	return p;
}

int uffd_copy(int uffd, void *dst, const void *src, size_t len,
	      uint64_t mode, int64_t *out)
{
	struct uffdio_copy c = {
		.dst = (uintptr_t)dst, .src = (uintptr_t)src,
		.len = len, .mode = mode, .copy = SENTINEL,
	};
	int ret = ioctl(uffd, UFFDIO_COPY, &c) ? -errno : 0;

	if (out)
		*out = c.copy;
	return ret;
}

int uffd_zeropage(int uffd, void *dst, size_t len, uint64_t mode,
		  int64_t *out)
{
	struct uffdio_zeropage z = {
		.range = { .start = (uintptr_t)dst, .len = len },
		.mode = mode, .zeropage = SENTINEL,
	};
	int ret = ioctl(uffd, UFFDIO_ZEROPAGE, &z) ? -errno : 0;

	if (out)
		*out = z.zeropage;
	return ret;
}

int uffd_continue(int uffd, void *dst, size_t len, uint64_t mode,
		  int64_t *out)
{
	struct uffdio_continue c = {
		.range = { .start = (uintptr_t)dst, .len = len },
		.mode = mode, .mapped = SENTINEL,
	};
	int ret = ioctl(uffd, UFFDIO_CONTINUE, &c) ? -errno : 0;

	if (out)
		*out = c.mapped;
	return ret;
}

int uffd_poison(int uffd, void *dst, size_t len, int64_t *out)
{
	struct uffdio_poison p = {
		.range = { .start = (uintptr_t)dst, .len = len },
		.updated = SENTINEL,
	};
	int ret = ioctl(uffd, UFFDIO_POISON, &p) ? -errno : 0;

	if (out)
		*out = p.updated;
	return ret;
}

int uffd_move(int uffd, void *dst, void *src, size_t len, uint64_t mode,
	      int64_t *out)
{
	struct uffdio_move m = {
		.dst = (uintptr_t)dst, .src = (uintptr_t)src,
		.len = len, .mode = mode, .move = SENTINEL,
	};
	int ret = ioctl(uffd, UFFDIO_MOVE, &m) ? -errno : 0;

	if (out)
		*out = m.move;
	return ret;
}

int uffd_read_msg(int uffd, struct uffd_msg *msg, int timeout_ms)
{
	struct pollfd pfd = { .fd = uffd, .events = POLLIN };
	int n = poll(&pfd, 1, timeout_ms);

	if (n < 0)
		return -errno;
	if (n == 0)
		return 0;
	if (read(uffd, msg, sizeof(*msg)) != sizeof(*msg))
		return -errno;
	return 1;
}

/* ---- touching memory ---------------------------------------------------- */

/*
 * volatile: set just before the access that may fault and cleared just
 * after it, the pointer is otherwise a dead store the compiler may drop,
 * and the handler would find no jump buffer and kill the process.
 */
static __thread sigjmp_buf *volatile touch_jmp;
static __thread int touch_signo, touch_code;
static __thread void *touch_addr;

static void touch_handler(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (!touch_jmp) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	touch_signo = sig;
	touch_code = si->si_code;
	touch_addr = si->si_addr;
	siglongjmp(*touch_jmp, 1);
}

static void touch_install_handlers(void)
{
	struct sigaction sa = { .sa_sigaction = touch_handler,
				.sa_flags = SA_SIGINFO | SA_NODEFER };

	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
}

int touch_here(void *addr, bool write, char val, int *signo, int *si_code)
{
	volatile char *p = addr;
	sigjmp_buf jb;

	touch_install_handlers();
	touch_signo = 0;
	if (sigsetjmp(jb, 1) == 0) {
		touch_jmp = &jb;
		if (write)
			*p = val;
		else
			val = *p;
	}
	touch_jmp = NULL;
	if (signo)
		*signo = touch_signo;
	if (si_code)
		*si_code = touch_code;
	return touch_signo ? TOUCH_SIGNAL : TOUCH_DONE;
}

static void *toucher(void *arg)
{
	struct touch *t = arg;
	sigjmp_buf jb;
	char c = 1;

	t->tid = syscall(SYS_gettid);
	touch_install_handlers();
	if (sigsetjmp(jb, 1) == 0) {
		touch_jmp = &jb;
		if (t->write)
			*t->addr = t->val;
		else
			t->val = *t->addr;
		t->state = TOUCH_DONE;
	} else {
		t->state = TOUCH_SIGNAL;
		t->signo = touch_signo;
		t->si_code = touch_code;
		t->fault_addr = touch_addr;
	}
	touch_jmp = NULL;
	if (write(t->done_pipe[1], &c, 1) != 1)
		abort();
	return NULL;
}

int touch_start(struct touch *t, void *addr, bool write, char val)
{
	memset(t, 0, sizeof(*t));
	t->addr = addr;
	t->write = write;
	t->val = val;
	t->state = TOUCH_RUNNING;
	if (pipe2(t->done_pipe, O_CLOEXEC))
		return -errno;
	/* pthread_create() returns its error; SYS() prints errno's. */
	errno = pthread_create(&t->thread, NULL, toucher, t);
	return -errno;
}

char task_state(pid_t tid)
{
	char path[64], buf[256], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* "tid (comm) S ...": comm may hold spaces and parentheses. */
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

bool touch_asleep(const struct touch *t)
{
	char state = task_state(t->tid);

	return state == 'S' || state == 'D';
}

int touch_wait(struct touch *t, int uffd, struct uffd_msg *msg,
	       int timeout_ms)
{
	struct pollfd pfd[2] = {
		{ .fd = t->done_pipe[0], .events = POLLIN },
		{ .fd = uffd, .events = POLLIN },
	};
	int n = poll(pfd, uffd >= 0 ? 2 : 1, timeout_ms);

	if (n <= 0)
		return TOUCH_WAIT_TIMEOUT;
	if (pfd[0].revents & POLLIN) {
		touch_join(t);
		return TOUCH_WAIT_DONE;
	}
	if (read(uffd, msg, sizeof(*msg)) != sizeof(*msg))
		return TOUCH_WAIT_TIMEOUT;
	return TOUCH_WAIT_MSG;
}

int touch_join(struct touch *t)
{
	char c;

	if (t->done_pipe[0] < 0)
		return 0;
	if (read(t->done_pipe[0], &c, 1) != 1)
		return -errno;
	pthread_join(t->thread, NULL);
	close(t->done_pipe[0]);
	close(t->done_pipe[1]);
	t->done_pipe[0] = t->done_pipe[1] = -1;
	return 0;
}

static void *bg_thread(void *arg)
{
	struct bg *b = arg;
	char c = 1;

	errno = 0;
	b->ret = b->fn(b->arg);
	b->err = errno;
	if (write(b->done_pipe[1], &c, 1) != 1)
		abort();
	return NULL;
}

int bg_start(struct bg *b, long (*fn)(void *), void *arg)
{
	memset(b, 0, sizeof(*b));
	b->fn = fn;
	b->arg = arg;
	if (pipe2(b->done_pipe, O_CLOEXEC))
		return -errno;
	return -pthread_create(&b->thread, NULL, bg_thread, b);
}

int fork_wait(int (*child)(void *arg), void *arg, int *status)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(child(arg));
	if (pid < 0)
		return -1;
	return waitpid(pid, status, 0) == pid ? 0 : -1;
}

struct forked {
	int (*child)(void *arg);
	void *arg;
	int status;
};

static long fork_wait_bg(void *forked)
{
	struct forked *f = forked;

	return fork_wait(f->child, f->arg, &f->status);
}

int fork_child_check(int uffd, bool event, int (*child)(void *arg),
		     void *arg)
{
	struct forked f = { child, arg, 0 };
	struct uffd_msg msg;
	struct bg bg;

	if (event) {
		SYS(bg_start(&bg, fork_wait_bg, &f));
		if (expect_event(uffd, UFFD_EVENT_FORK, &msg))
			return FAIL;
		CHECK_EQ(bg_join(&bg, WAIT_MS), 0);
		CHECK_EQ(bg.ret, 0);
		close(msg.arg.fork.ufd);
	} else {
		SYS(fork_wait_bg(&f));
	}
	CHECK(WIFEXITED(f.status) && WEXITSTATUS(f.status) == PASS,
	      "the child's copy is not as it should be (status %#x)", f.status);
	return PASS;
}

static int exit_at_once(void *unused)
{
	(void)unused;
	return 0;
}

long fork_and_reap(void *unused)
{
	int status;

	(void)unused;
	return fork_wait(exit_at_once, NULL, &status);
}

long do_madvise(void *advice)
{
	struct advice *m = advice;

	return madvise(m->p, m->len, m->advice);
}

long do_munmap(void *advice)
{
	struct advice *m = advice;

	return munmap(m->p, m->len);
}

long do_move(void *move)
{
	struct move *m = move;

	m->ret = mremap(m->from, m->len, m->len,
			m->flags ? m->flags : MREMAP_MAYMOVE | MREMAP_FIXED,
			m->to);
	return m->ret == MAP_FAILED ? -1 : 0;
}

int bg_done(struct bg *b, int timeout_ms)
{
	struct pollfd pfd = { .fd = b->done_pipe[0], .events = POLLIN };

	return poll(&pfd, 1, timeout_ms) == 1;
}

int bg_join(struct bg *b, int timeout_ms)
{
	if (!bg_done(b, timeout_ms))
		return -ETIMEDOUT;
	pthread_join(b->thread, NULL);
	close(b->done_pipe[0]);
	close(b->done_pipe[1]);
	return 0;
}

static const char *event_name(uint8_t type)
{
	switch (type) {
	case UFFD_EVENT_PAGEFAULT: return "PAGEFAULT";
	case UFFD_EVENT_FORK: return "FORK";
	case UFFD_EVENT_REMAP: return "REMAP";
	case UFFD_EVENT_REMOVE: return "REMOVE";
	case UFFD_EVENT_UNMAP: return "UNMAP";
	}
	return "unknown";
}

int expect_event(int uffd, uint8_t type, struct uffd_msg *msg)
{
	int ret = uffd_read_msg(uffd, msg, WAIT_MS);

	if (ret != 1) {
		diag("expected a %s event, got %s", event_name(type),
		     ret ? strerror(-ret) : "nothing within the wait");
		return FAIL;
	}
	if (msg->event != type) {
		diag("expected a %s event, got %s (%#x)", event_name(type),
		     event_name(msg->event), msg->event);
		return FAIL;
	}
	return PASS;
}

int expect_event_queued(int uffd)
{
	struct pollfd pfd = { .fd = uffd, .events = POLLIN };

	if (poll(&pfd, 1, WAIT_MS) != 1) {
		diag("no uffd message queued within %d ms", WAIT_MS);
		return FAIL;
	}
	return PASS;
}

int expect_no_message(int uffd)
{
	struct pollfd pfd = { .fd = uffd, .events = POLLIN };
	struct uffd_msg msg;

	if (poll(&pfd, 1, 0) == 0)
		return PASS;
	if (read(uffd, &msg, sizeof(msg)) == sizeof(msg))
		diag("unexpected uffd message: event %#x", msg.event);
	else
		diag("uffd readable but read failed: %s", strerror(errno));
	return FAIL;
}

char *reserve_range(size_t len, size_t align)
{
	char *p = mmap(NULL, len + align, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uintptr_t start;

	if (p == MAP_FAILED) {
		diag("reserving %zu bytes: %s", len, strerror(errno));
		return NULL;
	}
	start = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
	if (start > (uintptr_t)p)
		munmap(p, start - (uintptr_t)p);
	munmap((char *)start + len, (uintptr_t)p + align - start);
	return (char *)start;
}

char *thp_map(size_t len, size_t pmd, int prot, int flags, int fd)
{
	char *at = reserve_range(len + pmd, pmd), *p;

	if (!at)
		return NULL;
	p = mmap(at, len, prot, flags | MAP_FIXED, fd, 0);
	if (p == MAP_FAILED || madvise(p, len, MADV_HUGEPAGE))
		return NULL;
	return p;
}

int send_fd(int sock, int fd)
{
	char buf[CMSG_SPACE(sizeof(int))] = { 0 }, byte = 'F';
	struct iovec iov = { &byte, 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = buf, .msg_controllen = sizeof(buf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -errno;
}

int recv_fd(int sock)
{
	char buf[CMSG_SPACE(sizeof(int))], byte;
	struct iovec iov = { &byte, 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = buf, .msg_controllen = sizeof(buf),
	};
	struct cmsghdr *cm;
	int fd;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -errno;
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return -EBADMSG;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/* ---- inspection ----------------------------------------------------- */

/*
 * Entry idx of a /proc file of 64-bit entries (pagemap, kpageflags), for
 * the page at addr. One that cannot be read ends the process with FAIL
 * and says why: an entry of 0 would pass every "not present" check.
 */
static uint64_t proc_entry(const char *path, uint64_t idx, const void *addr)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint64_t ent = 0;
	ssize_t n = -1;

	if (fd >= 0)
		n = pread(fd, &ent, sizeof(ent), idx * sizeof(ent));
	if (n != sizeof(ent)) {
		diag("%s for %p: %s", path, addr,
		     n < 0 ? strerror(errno) : "short read");
		_exit(FAIL);
	}
	close(fd);
	return ent;
}

uint64_t pagemap_entry(const void *addr)
{
	return proc_entry("/proc/self/pagemap",
			  (uintptr_t)addr / sysconf(_SC_PAGESIZE), addr);
}

long smaps_kib(const void *p, const char *field)
{
	unsigned long start, end, kib;
	bool in = false;
	char line[256], key[64];
	FILE *f = fopen("/proc/self/smaps", "re");
	long ret = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = (uintptr_t)p >= start && (uintptr_t)p < end;
			continue;
		}
		if (in && sscanf(line, "%63[^:]: %lu kB", key, &kib) == 2 &&
		    !strcmp(key, field)) {
			ret = kib;
			break;
		}
	}
	fclose(f);
	return ret;
}

long thp_mapped_kib(const void *p)
{
	return smaps_kib(p, "AnonHugePages");
}

#define PM_PFN_MASK	((1ULL << 55) - 1)
#define KPF_ANON	12
#define KPF_THP		22
#define KPF_ZERO_PAGE	24

uint64_t kpageflags_at(const void *addr)
{
	uint64_t pm = pagemap_entry(addr);

	if (!(pm & PM_PRESENT))
		return 0;
	/* A hidden PFN would pass every "not" check too. */
	if (!(pm & PM_PFN_MASK)) {
		diag("/proc/self/pagemap at %p: present without a PFN (no CAP_SYS_ADMIN?)",
		     addr);
		_exit(FAIL);
	}
	return proc_entry("/proc/kpageflags", pm & PM_PFN_MASK, addr);
}

bool huge_zero_mapped(const void *addr)
{
	uint64_t flags = kpageflags_at(addr);

	/*
	 * stable_page_flags() tests large_rmappable before the huge zero
	 * PFN, and folio_alloc() makes the huge zero folio rmappable: it
	 * reads as a THP that is not anonymous.
	 */
	return (flags & (1ULL << KPF_THP)) &&
	       ((flags & (1ULL << KPF_ZERO_PAGE)) ||
		!(flags & (1ULL << KPF_ANON)));
}

unsigned long vmstat(const char *name)
{
	unsigned long v = 0, val;
	char line[128], key[64];
	FILE *f = fopen("/proc/vmstat", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %lu", key, &val) == 2 &&
		    !strcmp(key, name)) {
			v = val;
			break;
		}
	fclose(f);
	return v;
}

bool have_swap(void)
{
	char line[256];
	FILE *f = fopen("/proc/swaps", "re");
	int n = 0;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n > 1;		/* a header line, then one per device */
}

/*
 * Reclaim rotates a page it finds referenced instead of paging it out,
 * so it may take more than one pass; the upstream rwp-swap-cow test
 * retries the same way.
 */
int page_out(void *p, size_t len, size_t ps)
{
	size_t off = 0;
	int pass;

	for (pass = 0; pass < 100; pass++) {
		SYS(madvise(p, len, MADV_PAGEOUT));
		for (off = 0; off < len; off += ps)
			if (pagemap_entry((char *)p + off) & PM_PRESENT)
				break;
		if (off == len)
			return PASS;
		usleep(10000);
	}
	diag("page %zu still present after 100 MADV_PAGEOUT passes", off / ps);
	return FAIL;
}

long file_blocks(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? -errno : (long)st.st_blocks;
}

/* Eight bytes at a time: a byte loop took 0.6 ms per 2 MiB in the guest. */
static bool all_bytes_here(const unsigned char *s, unsigned char c,
			   size_t len)
{
	const uint64_t want = 0x0101010101010101ULL * c;
	size_t i = 0;

	for (; i < len && (uintptr_t)(s + i) % sizeof(uint64_t); i++)
		if (s[i] != c)
			return false;
	for (; i + 4 * sizeof(uint64_t) <= len; i += 4 * sizeof(uint64_t)) {
		uint64_t w[4];

		memcpy(w, s + i, sizeof(w));
		if ((w[0] ^ want) | (w[1] ^ want) | (w[2] ^ want) |
		    (w[3] ^ want))
			return false;
	}
	for (; i < len; i++)
		if (s[i] != c)
			return false;
	return true;
}

/*
 * A big range is read by the kernel (process_vm_readv(2) of this process)
 * into one buffer, a chunk at a time, for the reason fill_bytes() writes:
 * this process's first touch of each page the kernel filled costs the
 * host more than the copy (the suite in the guest: 2.80 s -> 2.63 s).
 * What the kernel does not read (a short or failed read) is read here.
 */
#define CHECK_CHUNK (256UL << 10)

bool all_bytes(const void *p, char c, size_t len)
{
	static unsigned char *buf;
	const unsigned char *s = p;
	size_t done = 0;

	if (len >= CHECK_CHUNK && !buf)
		buf = malloc(CHECK_CHUNK);
	while (buf && len - done >= CHECK_CHUNK) {
		struct iovec local = { buf, CHECK_CHUNK };
		struct iovec remote = { (void *)(s + done), CHECK_CHUNK };

		if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) !=
		    (ssize_t)CHECK_CHUNK)
			break;
		if (!all_bytes_here(buf, c, CHECK_CHUNK))
			return false;
		done += CHECK_CHUNK;
	}
	return all_bytes_here(s + done, c, len - done);
}

int reopen_fd(int fd, int flags)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return open(path, flags | O_CLOEXEC);
}

bool running_on_uml(void)
{
	char line[256];
	bool uml = false;
	FILE *f = fopen("/proc/cpuinfo", "re");

	if (!f)
		return false;
	while (!uml && fgets(line, sizeof(line), f))
		uml = strstr(line, "UML") != NULL;
	fclose(f);
	return uml;
}

bool kernel_older_than(int major, int minor)
{
	struct utsname u;
	int ma = 0, mi = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &ma, &mi) != 2)
		return false;
	return ma < major || (ma == major && mi < minor);
}

int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int err;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	return n == (ssize_t)strlen(s) ? 0 : -EIO;
}

unsigned long tainted(void)
{
	unsigned long v;
	FILE *f = fopen("/proc/sys/kernel/tainted", "re");

	if (!f || fscanf(f, "%lu", &v) != 1) {
		diag("/proc/sys/kernel/tainted: %s", f ? "no number" : strerror(errno));
		_exit(FAIL);
	}
	fclose(f);
	return v;
}
