/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one helper layer every scenario uses: uffd setup and fill ioctls,
 * memory types as a table of ops, threads that touch memory, pagemap.
 *
 * A scenario runs in its own process (the guest runner forks one per
 * scenario and memory type), so a failed check simply returns FAIL and
 * leaves cleanup to process exit.
 */
#ifndef UFFD_COMMON_H
#define UFFD_COMMON_H

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include "uffd-uapi.h"

/* Linux 5.14; musl 1.2.3's <sys/mman.h> predates it. */
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* kselftest exit codes, which the guest runner understands. */
enum result { PASS = 0, FAIL = 1, SKIP = 4 };

/* The kernel writes the output field only where the catalog says it does. */
#define SENTINEL 0x5a5a

/* pagemap bits (Documentation/admin-guide/mm/pagemap.rst). */
#define PM_PRESENT	(1ULL << 63)
#define PM_SWAP		(1ULL << 62)
#define PM_FILE		(1ULL << 61)
#define PM_UFFD_WP	(1ULL << 57)
/*
 * What scenarios judge a pte by. Soft-dirty (55) and exclusive (56) are
 * left out: x86 reports a hole in a new VMA as soft-dirty, UML never does.
 */
#define PM_STATE	(PM_PRESENT | PM_SWAP | PM_FILE | PM_UFFD_WP)

void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * PASS when the guest has at least n CPUs online, else SKIP saying so: a
 * race between two processes needs them running at once (CPUS=, SMP UML).
 */
int need_cpus(int n);
/* CLOCK_MONOTONIC in microseconds, for the races' budgets and windows */
long now_us(void);

/* An int in memory shared with another process running on another vCPU. */
static inline int shared_load(const int *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void shared_store(int *p, int v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/*
 * Waits for *p to reach v, spinning: the other side runs on the other
 * vCPU. Yields now and then, in case the guest put both on one CPU;
 * false after WAIT_MS.
 */
bool spin_wait(const int *p, int v);

#define CHECK(cond, fmt, ...)						\
	do {								\
		if (!(cond)) {						\
			diag("%s:%d: %s: " fmt, __FILE__, __LINE__,	\
			     #cond, ##__VA_ARGS__);			\
			return FAIL;					\
		}							\
	} while (0)

/* Observed vs expected, printed as numbers: most checks compare errnos. */
#define CHECK_EQ(got, want)						\
	do {								\
		long long __g = (long long)(got);			\
		long long __w = (long long)(want);			\
		if (__g != __w) {					\
			diag("%s:%d: %s: got %lld (%#llx), expected %lld (%#llx)", \
			     __FILE__, __LINE__, #got, __g,		\
			     (unsigned long long)__g, __w,		\
			     (unsigned long long)__w);			\
			return FAIL;					\
		}							\
	} while (0)

/* A call that must succeed for the scenario to mean anything. */
#define SYS(call)							\
	do {								\
		if ((long)(call) < 0) {					\
			diag("%s:%d: %s: %s", __FILE__, __LINE__,	\
			     #call, strerror(errno));			\
			return FAIL;					\
		}							\
	} while (0)

/* ---- memory types -------------------------------------------------- */

enum mem_flags {
	MEM_ANON	= 1 << 0,
	MEM_SHMEM	= 1 << 1,
	MEM_SHMEM_PRIV	= 1 << 2,
	MEM_HUGETLB	= 1 << 3,
	MEM_HUGETLB_PRIV = 1 << 4,
	MEM_THP		= 1 << 5,	/* not in MEM_ALL: rows opt in */
};
#define MEM_FILE	(MEM_SHMEM | MEM_SHMEM_PRIV | MEM_HUGETLB | MEM_HUGETLB_PRIV)
#define MEM_PRIVATE_FILE (MEM_SHMEM_PRIV | MEM_HUGETLB_PRIV)
#define MEM_SHARED	(MEM_SHMEM | MEM_HUGETLB)
#define MEM_ALL		(MEM_ANON | MEM_FILE)

struct area;

struct mem_type {
	const char *name;
	unsigned int flag;
	/* UFFDIO_API feature that MISSING registration on it needs. */
	uint64_t missing_feature;
	int map_flags;			/* of the mapping under test */
	unsigned int mfd_flags;		/* memfd_create() flags of its file */
	/* Returns 0, or SKIP after printing why the type is unusable here. */
	int (*available)(void);
	size_t (*page_size)(void);
	/* Maps a->len bytes with prot; a file is sized to file_pages. */
	int (*alloc)(struct area *a, size_t file_pages, int prot);
	void (*release)(struct area *a);
};

extern const struct mem_type mem_types[];
extern const size_t nr_mem_types;
const struct mem_type *mem_type(unsigned int flag);

struct area {
	const struct mem_type *mt;
	size_t ps;
	size_t npages;
	size_t len;
	int fd;		/* backing file, -1 for anonymous memory */
	char *p;	/* the mapping under test */
	char *alias;	/* MAP_SHARED view of the same file, NULL for anon */
};

int area_alloc(struct area *a, const struct mem_type *mt, size_t npages,
	       int prot);
int area_alloc_sized(struct area *a, const struct mem_type *mt,
		     size_t npages, size_t file_pages, int prot);
void area_free(struct area *a);
/* A new file of the type's kind (memfd), size bytes long; -errno. */
int mem_memfd(const struct mem_type *mt, size_t size);
int mem_fill_file(int fd, off_t off, size_t len, char c);
static inline char *page_of(const struct area *a, size_t n)
{
	return a->p + n * a->ps;
}

/* ---- userfaultfd ------------------------------------------------------ */

/* features the running kernel advertises (UFFDIO_API with features=0). */
uint64_t uffd_kernel_features(void);
const char *uffd_feature_name(uint64_t bit);
int uffd_open_raw(int flags);
/* New O_NONBLOCK uffd with features enabled; -errno on failure. */
int uffd_new(uint64_t features);
int uffd_register(int uffd, void *p, size_t len, uint64_t mode,
		  uint64_t *ioctls);
int uffd_unregister(int uffd, void *p, size_t len);
/* The features WP registration on this memory type needs. */
uint64_t uffd_wp_features(const struct mem_type *mt);
/* UFFDIO_WRITEPROTECT on (on) or off; 0 or -errno. */
int uffd_writeprotect(int uffd, void *p, size_t len, bool on);
/* UFFDIO_RWPROTECT on (on) or off; 0 or -errno. */
int uffd_rwprotect(int uffd, void *p, size_t len, bool on);
/*
 * A uffd with the features the area's memory type needs plus features,
 * the whole area registered in mode. Returns the fd, or -1 after a diag.
 */
int uffd_for_area(const struct area *a, uint64_t features, uint64_t mode);
/* len bytes of c at p, written by the kernel where it can (see .c). */
void fill_bytes(void *p, char c, size_t len);
/* Anonymous, populated source buffer of len bytes of c for UFFDIO_COPY. */
char *src_pages(size_t len, char c);

/*
 * The fill ioctls and UFFDIO_MOVE. Each presets the output field to
 * SENTINEL, returns 0 or -errno, and stores what the kernel left in the
 * output field in *out.
 */
int uffd_copy(int uffd, void *dst, const void *src, size_t len,
	      uint64_t mode, int64_t *out);
int uffd_zeropage(int uffd, void *dst, size_t len, uint64_t mode,
		  int64_t *out);
int uffd_continue(int uffd, void *dst, size_t len, uint64_t mode,
		  int64_t *out);
int uffd_poison(int uffd, void *dst, size_t len, int64_t *out);
int uffd_move(int uffd, void *dst, void *src, size_t len, uint64_t mode,
	      int64_t *out);

/*
 * Waits up to timeout_ms for a message; returns 1 with *msg filled, 0 on
 * timeout, -errno on error.
 */
int uffd_read_msg(int uffd, struct uffd_msg *msg, int timeout_ms);

/* ---- touching memory from another thread ------------------------------ */

enum touch_state { TOUCH_RUNNING, TOUCH_DONE, TOUCH_SIGNAL };

struct touch {
	pthread_t thread;
	volatile char *addr;
	bool write;
	char val;		/* written, or read back */
	int done_pipe[2];
	enum touch_state state;
	int signo;
	int si_code;
	void *fault_addr;
	volatile pid_t tid;	/* the toucher thread's, once it runs */
};

int touch_start(struct touch *t, void *addr, bool write, char val);
/* A thread's state in /proc/self/task/<tid>/stat (R, S, D...); 0: none. */
char task_state(pid_t tid);
/*
 * Whether the toucher is asleep in the kernel (/proc state S or D): a wake
 * makes it runnable at once, so a false right after an operation that
 * must not wake it shows that it did, with no wait for it to finish.
 */
bool touch_asleep(const struct touch *t);
/*
 * Waits for the toucher to finish or for a uffd message, whichever comes
 * first. Returns TOUCH_WAIT_DONE (t->state tells how it ended),
 * TOUCH_WAIT_MSG (*msg filled; the toucher is still blocked), or
 * TOUCH_WAIT_TIMEOUT. uffd may be -1.
 */
enum { TOUCH_WAIT_DONE, TOUCH_WAIT_MSG, TOUCH_WAIT_TIMEOUT };
int touch_wait(struct touch *t, int uffd, struct uffd_msg *msg,
	       int timeout_ms);
int touch_join(struct touch *t);

/* Synchronous touch in this thread, catching SIGBUS/SIGSEGV. */
int touch_here(void *addr, bool write, char val, int *signo, int *si_code);

/*
 * Any operation in a background thread (the event producers: fork, mremap,
 * munmap, madvise), with a pipe that becomes readable when it returns.
 */
struct bg {
	pthread_t thread;
	long (*fn)(void *arg);
	void *arg;
	long ret;
	int err;		/* errno after fn, if it failed */
	int done_pipe[2];
};

int bg_start(struct bg *b, long (*fn)(void *), void *arg);
/*
 * Forks a child that exits with child(arg); waits for it and stores its
 * wait status. 0, or -1 if fork or wait failed.
 */
int fork_wait(int (*child)(void *arg), void *arg, int *status);
/*
 * Forks a child that checks its copy of the memory, child(arg), and waits
 * for it. With event (the uffd has EVENT_FORK) the fork runs in a thread,
 * blocked until the FORK event is read here; the child's uffd is closed
 * once the child is done. PASS if the child exited with PASS.
 */
int fork_child_check(int uffd, bool event, int (*child)(void *arg),
		     void *arg);
/* For bg_start(): fork a child that exits at once, and reap it. */
long fork_and_reap(void *unused);
/* For bg_start(): madvise() or munmap() of a range. */
struct advice {
	char *p;
	size_t len;
	int advice;
};
long do_madvise(void *advice);
long do_munmap(void *advice);
/*
 * For bg_start(): mremap() len bytes from from with flags (0:
 * MAYMOVE|FIXED) to to (the new address, or a hint); ret is the result.
 */
struct move {
	char *from, *to;
	size_t len;
	int flags;
	char *ret;
};
long do_move(void *move);
/* 1 once fn has returned, 0 if it is still running after timeout_ms. */
int bg_done(struct bg *b, int timeout_ms);
/* Waits (bounded) and joins; -ETIMEDOUT if fn is stuck. */
int bg_join(struct bg *b, int timeout_ms);

/*
 * Reads one message, which must be an event of type within WAIT_MS;
 * prints what came instead and returns FAIL otherwise.
 */
int expect_event(int uffd, uint8_t type, struct uffd_msg *msg);
/* A message must become readable within WAIT_MS (it is not read). */
int expect_event_queued(int uffd);
/* Nothing may be readable now. */
int expect_no_message(int uffd);
/* An unused, align-aligned address range of len bytes (PROT_NONE). */
char *reserve_range(size_t len, size_t align);
/*
 * len bytes of fd (-1 with MAP_ANONYMOUS in flags) mapped at a pmd-aligned
 * address with MADV_HUGEPAGE, the reserved PROT_NONE PMD after them left
 * in place: the mapping merges with no neighbour, so smaps speaks of it
 * alone. NULL with errno set on failure.
 */
char *thp_map(size_t len, size_t pmd, int prot, int flags, int fd);

/* Passing a uffd to a monitor process over a unix socket (SCM_RIGHTS). */
int send_fd(int sock, int fd);
int recv_fd(int sock);

/* ---- inspection ------------------------------------------------------- */

/*
 * addr's /proc/self/pagemap entry (Documentation/admin-guide/mm/pagemap.rst).
 * A pagemap that cannot be read ends the process with FAIL and says why:
 * an entry of 0 would pass every "not present" check.
 */
uint64_t pagemap_entry(const void *addr);
#ifndef MADV_PAGEOUT		/* 5.4; musl's headers may predate it */
#define MADV_PAGEOUT 21
#endif
/*
 * The smaps field (in kB, as "AnonHugePages") of the mapping around p,
 * or -1 if p is in no mapping.
 */
long smaps_kib(const void *p, const char *field);
/* KiB of the mapping around p that huge PMDs map (AnonHugePages). */
long thp_mapped_kib(const void *p);
/*
 * The page at addr, in private anonymous memory, is the huge zero page
 * (kpageflags KPF_THP without KPF_ANON, or with KPF_ZERO_PAGE;
 * Documentation/admin-guide/mm/pagemap.rst): what a read fault maps
 * into THP memory. Needs CAP_SYS_ADMIN for the PFN.
 */
bool huge_zero_mapped(const void *addr);
/*
 * /proc/kpageflags of the page mapped at addr, 0 if none is; a file that
 * cannot be read fails the scenario (_exit(FAIL) with a diagnostic).
 */
uint64_t kpageflags_at(const void *addr);
/* A /proc/vmstat counter, 0 where there is none. */
unsigned long vmstat(const char *name);
/* The guest swaps on a device (runner/check SWAP=, the default). */
bool have_swap(void);
/*
 * MADV_PAGEOUT [p, p + len) until none of its pages (ps bytes each) is
 * present; PASS, or FAIL with a diagnostic after 100 passes.
 */
int page_out(void *p, size_t len, size_t ps);
long file_blocks(int fd);
bool all_bytes(const void *p, char c, size_t len);
/* Writes s to a /proc or /sys file in one write(); 0 or -errno. */
int write_file(const char *path, const char *s);
int reopen_fd(int fd, int flags);
/* /proc/sys/kernel/tainted; unreadable, it ends the process with FAIL. */
unsigned long tainted(void);
/* A /proc/meminfo value, by its sscanf format ("HugePages_Free: %lu"). */
unsigned long meminfo(const char *fmt);
/* Free huge pages no mapping has reserved: what a new fill can take. */
unsigned long free_huge_unreserved(void);
/* UML reports its CPU as "UML" in /proc/cpuinfo. */
bool running_on_uml(void);
/* The running kernel's release (uname -r) is below major.minor. */
bool kernel_older_than(int major, int minor);

/* Bounded waits for events that must happen (a message, a thread). */
#define WAIT_MS 5000

#endif
