// SPDX-License-Identifier: GPL-2.0
/*
 * Closing and unregistering a uffd while its faults run on the other vCPU
 * (seed 004 and uffd-wp with real parallelism; issue 18). Each row repeats
 * its race, counts the rounds in which the interleaving it needs
 * demonstrably happened, and fails "window not reached" when too few did:
 * a race row that never raced proves nothing.
 *
 * A fault meets a release in flight only between taking mmap_lock and
 * queueing itself, where handle_userfault() tests ctx->released: on UML
 * (no per-VMA locks) userfaultfd_release() sets released and then waits
 * for mmap_write_lock, so the fault must hold mmap_lock for reading when
 * released is set and reach the test after. An ordinary fault gets there
 * within microseconds; smp-close-gup uses MADV_POPULATE_WRITE, which
 * walks a big unregistered VMA under one mmap_lock before it faults on
 * the registered tail. The uffd is held by another process, the closer,
 * which runs on the other vCPU and releases it at a chosen point of the
 * walk.
 *
 * Not here: the same race for a THP write fault, which allocates and
 * zeroes its folio under mmap_lock before it tests the registration (a
 * window of about 100 us on UML). Its rounds could not be told apart
 * well enough: of 60 rounds it would have counted on the released-sigbus
 * kernel, 9 got no SIGBUS, a fault queued between the poller's last look
 * at the queue and the release (its vCPU preempted by the host, we
 * think).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scenarios.h"

/*
 * Rounds go on until WANT_WINDOWS of them hit the window, or for
 * RACE_CAP_US (a loaded host stretches every round); fewer than
 * MIN_WINDOWS is "window not reached".
 */
#define WANT_WINDOWS	10
#define MIN_WINDOWS	5
#define RACE_CAP_US	5000000L
#define RACE_MAX_ROUNDS	2000

static bool msg_queued(int uffd)
{
	struct pollfd pfd = { .fd = uffd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1;
}

static bool race_on(long start, int rounds, int windows)
{
	return windows < WANT_WINDOWS && rounds < RACE_MAX_ROUNDS &&
	       now_us() - start < RACE_CAP_US;
}

/* ---- close against a fault under way (seed 004) ----------------------- */

/*
 * One round's timeline, in memory shared by the faulting process and the
 * closer. Times are microseconds since go.
 */
struct close_pace {
	int round;		/* the faulter has sent this round's uffd */
	int ready;		/* the release is armed */
	int armed;		/* the faulter waits for go, spinning */
	int go;			/* fault now */
	int answered;		/* the uffd is released */
	int done;		/* the fault or walk is over */
	bool calibrate;		/* only time the fault's way to the uffd */
	long delay_us;		/* release this long after go */
	/* the closer's findings */
	long msg_us;		/* calibrating: when the message was queued (0: never) */
	long kick_us;		/* when the poller was told to release */
	long release_us;	/* when the poller was back, released */
	bool queued;		/* the poller's last look found a message */
	bool done_at_kick;
};

/*
 * The faulting process on CPU 0, the closer (and its poller) on CPU 1:
 * left to the guest's scheduler, the closer was now and then queued
 * behind the fault on one vCPU.
 */
static int pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

/*
 * The closer's clock, in microseconds: the TSC where there is one, as a
 * clock_gettime() is a system call on UML, tens of microseconds on a busy
 * host, too coarse for a window of a few hundred.
 */
static double tsc_per_us;

static long clk_us(void)
{
#if defined(__x86_64__) || defined(__i386__)
	if (tsc_per_us > 0)
		return __builtin_ia32_rdtsc() / tsc_per_us;
#endif
	return now_us();
}

static void clk_calibrate(void)
{
#if defined(__x86_64__) || defined(__i386__)
	unsigned long long c0 = __builtin_ia32_rdtsc();
	long t0 = now_us(), t;

	while ((t = now_us()) - t0 < 5000)
		;
	tsc_per_us = (double)(__builtin_ia32_rdtsc() - c0) / (t - t0);
#endif
}

/*
 * The release is done by a thread of the closer asleep in a blocking
 * read() of the uffd: read() holds a reference to the file (the closer's
 * descriptor table is shared by two threads), so once the closer has
 * closed its descriptor, the file is released as read() returns,
 * microseconds after its last look at the queue and with no trip through
 * user mode in between (the task work of the final fput). A signal ends
 * the read() at the chosen moment; it looks at the queue once more
 * before it gives up with EINTR.
 */
struct poller {
	pthread_t thread;
	int fd, tid;
	int state;		/* 1: going to sleep in read(), 2: back */
	int ret, err;
	long ret_us;
};

static void poller_signal(int sig)
{
	(void)sig;
}

static void *poller(void *arg)
{
	struct poller *pl = arg;
	struct uffd_msg msg;

	pl->tid = syscall(SYS_gettid);
	shared_store(&pl->state, 1);
	pl->ret = read(pl->fd, &msg, sizeof(msg));
	pl->err = errno;
	pl->ret_us = clk_us();
	shared_store(&pl->state, 2);
	return NULL;
}

/* The task sleeps interruptibly ("S" in /proc/self/task/<tid>/stat). */
static bool task_sleeping(int tid)
{
	return task_state(tid) == 'S';
}

/*
 * The closer: for each uffd it is sent, starts the poller, closes its own
 * descriptor once the poller sleeps in read() (the poller's reference is
 * then the last), lets the fault begin, and ends the poller delay_us into
 * the fault. A calibration round times the fault's arrival instead, and
 * lets the poller return with the message.
 */
static void closer(int sock, struct close_pace *cp)
{
	struct sigaction sa = { .sa_handler = poller_signal };
	struct poller pl;
	long t, t0;
	int fd, round;

	if (sigaction(SIGUSR1, &sa, NULL) || pin_cpu(1))
		_exit(1);
	clk_calibrate();
	/* 0 is the end: recv_fd() of a closed socket (fd 0 is stdin) */
	for (round = 1; (fd = recv_fd(sock)) > 0; round++) {
		if (!spin_wait(&cp->round, round))
			_exit(1);
		if (cp->calibrate) {
			/* When does the fault reach the uffd? */
			shared_store(&cp->ready, round);
			if (!spin_wait(&cp->armed, round))
				_exit(1);
			t = clk_us();
			shared_store(&cp->go, round);
			while (!msg_queued(fd) && clk_us() - t < WAIT_MS * 1000L)
				;
			cp->msg_us = msg_queued(fd) ? clk_us() - t : 0;
			close(fd);
			shared_store(&cp->answered, round);
			continue;
		}
		memset(&pl, 0, sizeof(pl));
		pl.fd = fd;
		if (fcntl(fd, F_SETFL, 0) ||
		    pthread_create(&pl.thread, NULL, poller, &pl))
			_exit(1);
		/* After state 1 the poller sleeps nowhere but in read(). */
		for (t0 = now_us(); shared_load(&pl.state) != 1 ||
		     !task_sleeping(pl.tid); sched_yield())
			if (now_us() - t0 > WAIT_MS * 1000L)
				_exit(1);
		close(fd);
		shared_store(&cp->ready, round);
		if (!spin_wait(&cp->armed, round))
			_exit(1);
		t = clk_us();
		shared_store(&cp->go, round);
		while (clk_us() - t < cp->delay_us)
			;
		cp->done_at_kick = shared_load(&cp->done);
		cp->kick_us = clk_us() - t;
		syscall(SYS_tgkill, getpid(), pl.tid, SIGUSR1);
		pthread_join(pl.thread, NULL);
		/* Interrupted: its last look found nothing queued. */
		cp->queued = !(pl.ret < 0 && pl.err == EINTR);
		if (pl.ret < 0 && pl.err != EINTR)
			_exit(1);
		cp->release_us = pl.ret_us - t;
		shared_store(&cp->answered, round);
	}
	_exit(0);
}

/* The fault of one round, in the faulting process; PASS or FAIL. */
typedef int (*fault_fn)(void *arg);

struct close_race {
	struct close_pace *cp;
	int sock;
	pid_t pid;
	int round;
	long reach_us;		/* go to message, the shortest measured */
	int windows, rounds;
	/* why the other rounds missed: */
	int late;		/* the fault's message was queued */
	int early;		/* the fault met no registration */
};

static long major_faults(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_THREAD, &ru))
		return -1;
	return ru.ru_majflt;
}

/*
 * One round: hands uffd (registered by the caller) to the closer, which
 * releases it delay_us after the fault begins (calibrating: once its
 * message is queued), and runs fault(arg) here. *window says the round hit the
 * window: the poller found no message at its last look before the
 * release, yet the fault went through handle_userfault() while the range
 * was registered and was retried (one major fault: mm_account_fault()
 * counts a fault that retried as major). A fault that had been queued
 * would have been seen; one that had not reached the registration when
 * the release cleared it would not retry. So ctx->released was set while
 * the fault was on its way, holding mmap_lock, and it found the flag:
 * the retry the fix gives it (SIGBUS without the fix).
 */
static int close_round(struct close_race *cr, int uffd, bool calib,
		       long delay_us, fault_fn fault, void *arg, bool *window)
{
	struct close_pace *cp = cr->cp;
	long maj, t0 = now_us();
	int ret;

	cr->round++;
	cp->done = 0;
	cp->calibrate = calib;
	cp->delay_us = delay_us;
	SYS(send_fd(cr->sock, uffd));
	SYS(close(uffd));
	shared_store(&cp->round, cr->round);
	CHECK(spin_wait(&cp->ready, cr->round), "the closer did not take round %d",
	      cr->round);
	maj = major_faults();
	shared_store(&cp->armed, cr->round);
	/* No system call, no yield: the fault begins as go is seen. */
	for (unsigned long n = 1; shared_load(&cp->go) != cr->round; n++)
		CHECK(n % (1UL << 24) || now_us() - t0 < WAIT_MS * 1000L,
		      "no go from the closer in round %d", cr->round);
	ret = fault(arg);
	shared_store(&cp->done, 1);
	maj = major_faults() - maj;
	CHECK(spin_wait(&cp->answered, cr->round), "the closer did not release round %d",
	      cr->round);
	if (ret) {
		diag("round %d: released %ld us into the fault (poller told at %ld us, %s, fault %s then)",
		     cr->round, cp->release_us, cp->kick_us,
		     cp->queued ? "a message queued" : "nothing queued",
		     cp->done_at_kick ? "over" : "under way");
		return FAIL;
	}
	if (calib) {
		CHECK(cp->msg_us, "round %d: the fault never reached the uffd", cr->round);
		if (!cr->reach_us || cp->msg_us < cr->reach_us)
			cr->reach_us = cp->msg_us;
		*window = false;
		return PASS;
	}
	*window = maj == 1 && !cp->queued;
	if (cp->queued)
		cr->late++;
	else if (maj != 1)
		cr->early++;
	return PASS;
}

static int close_race_start(struct close_race *cr)
{
	int sv[2];

	memset(cr, 0, sizeof(*cr));
	cr->cp = mmap(NULL, sizeof(*cr->cp), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	SYS(cr->cp == MAP_FAILED ? -1 : 0);
	memset(cr->cp, 0, sizeof(*cr->cp));
	SYS(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	cr->pid = fork();
	SYS(cr->pid);
	if (!cr->pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(sv[0]);
		closer(sv[1], cr->cp);
	}
	close(sv[1]);
	cr->sock = sv[0];
	SYS(pin_cpu(0));
	return PASS;
}

static int close_race_end(struct close_race *cr, int ret, long start,
			  const char *what)
{
	int status;

	close(cr->sock);
	if (ret)
		kill(cr->pid, SIGKILL);
	waitpid(cr->pid, &status, 0);
	if (ret)
		return ret;
	diag("%s: %d of %d rounds (%ld ms; the fault reached the uffd %ld us after it began)",
	     what, cr->windows, cr->rounds, (now_us() - start) / 1000,
	     cr->reach_us);
	diag("missed: %d released after the fault was queued, %d before it reached the registration",
	     cr->late, cr->early);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "closer status %#x", status);
	CHECK(cr->windows >= MIN_WINDOWS,
	      "window not reached: %d rounds of %d, want %d", cr->windows,
	      cr->rounds, MIN_WINDOWS);
	return PASS;
}

/*
 * A calibration every eighth round (when does the fault reach the uffd?);
 * the others tell the poller to release at one of seven points, from the
 * fault's start to three quarters of its shortest way to the message.
 */
static bool calibrate(int round)
{
	return round % 8 == 0;
}

static long close_delay(const struct close_race *cr, int round)
{
	return cr->reach_us * (round % 8 - 1) / 8;
}

/* smp-close-gup: MADV_POPULATE_WRITE of a big VMA and the registered tail. */
struct walk {
	char *p;
	size_t len;
};

static int populate(void *arg)
{
	struct walk *w = arg;

	CHECK(madvise(w->p, w->len, MADV_POPULATE_WRITE) == 0,
	      "MADV_POPULATE_WRITE in flight at the release: %s", strerror(errno));
	return PASS;
}

/* 1 MiB: a few ms of walk to the registered tail on SMP UML. */
#define WALK_BIG	(1UL << 20)
#define WALK_TAIL	4

/*
 * close-vs-gup on two vCPUs: MADV_POPULATE_WRITE allocates the pages of
 * a big VMA under one mmap_lock and then faults on the registered tail;
 * the closer releases the uffd while the walk is in the big VMA, so the
 * release waits for mmap_write_lock with ctx->released set when the walk
 * faults on the tail. Fixed by 656710a60e36 ("userfaultfd:
 * non-cooperative: closing the uffd without triggering SIGBUS"), today
 * VM_FAULT_RETRY: the fault must retry and populate normally (the
 * madvise succeeds, the tail is zero); SIGBUS makes it fail with EFAULT.
 */
int smp_close_gup(const struct ctx *c)
{
	size_t ps = c->mt->page_size(), len = WALK_BIG + WALK_TAIL * ps;
	struct close_race cr;
	struct walk w;
	long start, delay;
	bool window;
	int ret, uffd;

	ret = need_cpus(2);
	if (ret)
		return ret;
	w.p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	SYS(w.p == MAP_FAILED ? -1 : 0);
	w.len = len;
	/* Also the warm-up: the first touch of guest memory is slower. */
	if (madvise(w.p, len, MADV_POPULATE_WRITE))
		return skip("MADV_POPULATE_WRITE: %s", strerror(errno));
	if (close_race_start(&cr))
		return FAIL;
	for (start = now_us(); race_on(start, cr.rounds, cr.windows); cr.rounds++) {
		ret = FAIL;
		if (madvise(w.p, len, MADV_DONTNEED)) {
			diag("MADV_DONTNEED: %s", strerror(errno));
			break;
		}
		uffd = uffd_new(0);
		if (uffd < 0 || uffd_register(uffd, w.p + WALK_BIG, WALK_TAIL * ps,
					      UFFDIO_REGISTER_MODE_MISSING, NULL)) {
			diag("uffd for the tail: %s", strerror(errno));
			break;
		}
		delay = close_delay(&cr, cr.rounds);
		ret = close_round(&cr, uffd, calibrate(cr.rounds), delay,
				  populate, &w, &window);
		if (ret)
			break;
		ret = FAIL;
		if (!all_bytes(w.p + WALK_BIG, 0, WALK_TAIL * ps)) {
			diag("round %d: the tail is not zero", cr.rounds);
			break;
		}
		cr.windows += window;
		ret = PASS;
	}
	return close_race_end(&cr, ret, start,
			      "released while the walk was under way to the registered tail");
}

/* ---- UNREGISTER against a writer under uffd-wp ------------------------ */

struct wp_pace {
	int stores;		/* the writer's stores so far */
	int quit;
};

/*
 * The writer process: registers its page MISSING and WP (UNREGISTER wakes
 * the faults of a MISSING range only), hands the uffd to the monitor and
 * stores ever larger values into the page until told to stop; then the
 * page must hold its last store.
 */
static int wp_writer(const struct ctx *c, char *p, size_t ps,
		     struct wp_pace *wp, int sock)
{
	volatile int *word = (volatile int *)p;
	int v = 0, uffd;

	*word = 0;
	uffd = uffd_new(uffd_wp_features(c->mt) | c->mt->missing_feature);
	if (uffd < 0 || uffd_register(uffd, p, ps, UFFDIO_REGISTER_MODE_MISSING |
				      UFFDIO_REGISTER_MODE_WP, NULL) ||
	    send_fd(sock, uffd))
		return FAIL;
	close(uffd);
	while (!shared_load(&wp->quit)) {
		*word = ++v;
		shared_store(&wp->stores, v);
	}
	return *word == v ? PASS : FAIL;
}

/*
 * Every odd round is a window; the even ones are the race proper, which
 * gets WP_ROUNDS rounds or WP_BUDGET_US, whichever comes first.
 */
#define WP_ROUNDS	200
#define WP_BUDGET_US	300000L

static bool wp_race_on(long start, int rounds, int windows)
{
	long t = now_us() - start;

	if (rounds >= RACE_MAX_ROUNDS || t >= RACE_CAP_US)
		return false;
	return windows < WANT_WINDOWS || (rounds < WP_ROUNDS && t < WP_BUDGET_US);
}

/* The writer stores twice more within WAIT_MS. */
static bool writer_moves(struct wp_pace *wp)
{
	return spin_wait(&wp->stores, shared_load(&wp->stores) + 2);
}

/*
 * The monitor's rounds: protect the page the writer is storing into on
 * the other vCPU, then UNREGISTER it, at once in even rounds (the writer's
 * fault may be queued, under way or not begun) and once the fault's
 * message is queued in odd ones. A round is in the window when the
 * writer was blocked in its WP fault (a message queued) as UNREGISTER
 * began: the fault must be woken and the store go through, unprotected.
 */
static int wp_rounds(int uffd, char *p, size_t ps, pid_t pid,
		     struct wp_pace *wp, int *windows, int *rounds)
{
	struct uffd_msg msg;
	char path[64];
	uint64_t ent;
	long start;
	bool queued;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	SYS(fd);
	for (start = now_us(); wp_race_on(start, *rounds, *windows); (*rounds)++) {
		if (*rounds)
			CHECK_EQ(uffd_register(uffd, p, ps, UFFDIO_REGISTER_MODE_MISSING |
					       UFFDIO_REGISTER_MODE_WP, NULL), 0);
		CHECK(writer_moves(wp), "the writer stopped storing (round %d)", *rounds);
		CHECK_EQ(uffd_writeprotect(uffd, p, ps, true), 0);
		if (*rounds % 2 && expect_event_queued(uffd))
			return FAIL;
		queued = msg_queued(uffd);
		CHECK_EQ(uffd_unregister(uffd, p, ps), 0);
		CHECK(writer_moves(wp),
		      "the writer is stuck after UNREGISTER (round %d, %s): its WP fault was not woken",
		      *rounds, queued ? "blocked in the fault at UNREGISTER" :
		      "no message queued at UNREGISTER");
		/* A woken fault leaves no message behind. */
		while (uffd_read_msg(uffd, &msg, 0) == 1)
			;
		SYS(pread(fd, &ent, sizeof(ent), (uintptr_t)p / ps * sizeof(ent)));
		CHECK(!(ent & PM_UFFD_WP), "round %d: the page keeps uffd-wp after UNREGISTER (pagemap %#llx)",
		      *rounds, (unsigned long long)ent);
		*windows += queued;
	}
	close(fd);
	return PASS;
}

/*
 * UNREGISTER of a MISSING|WP range while a writer process stores into it
 * on the other vCPU: a writer blocked in the WP fault (or on its way into
 * it) when the range leaves the uffd must be woken by the UNREGISTER
 * (userfaultfd_unregister() wakes a MISSING range), its store must go
 * through, and the page must keep no uffd-wp bit.
 */
int smp_unregister_wp(const struct ctx *c)
{
	size_t ps = sysconf(_SC_PAGESIZE);
	int windows = 0, rounds = 0, sv[2], uffd, status, ret;
	struct wp_pace *wp;
	struct area a;
	long start = now_us();
	pid_t pid;

	ret = need_cpus(2);
	if (!ret)
		ret = need_wp(c);
	if (ret)
		return ret;
	wp = mmap(NULL, sizeof(*wp), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	SYS(wp == MAP_FAILED ? -1 : 0);
	memset(wp, 0, sizeof(*wp));
	if (area_alloc(&a, c->mt, 1, PROT_READ | PROT_WRITE))
		return FAIL;
	SYS(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	pid = fork();
	SYS(pid);
	if (!pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(sv[0]);
		_exit(wp_writer(c, a.p, ps, wp, sv[1]));
	}
	close(sv[1]);
	uffd = recv_fd(sv[0]);
	ret = uffd >= 0 ? wp_rounds(uffd, a.p, ps, pid, wp, &windows, &rounds) : FAIL;
	shared_store(&wp->quit, 1);
	if (ret)
		kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	CHECK(uffd >= 0, "no uffd from the writer process");
	if (ret)
		return ret;
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "writer status %#x (its last store lost?)", status);
	diag("UNREGISTER with the writer blocked in its WP fault: %d of %d rounds (%ld ms)",
	     windows, rounds, (now_us() - start) / 1000);
	CHECK(windows >= MIN_WINDOWS, "window not reached: %d rounds of %d, want %d",
	      windows, rounds, MIN_WINDOWS);
	close(uffd);
	close(sv[0]);
	return PASS;
}
