// SPDX-License-Identifier: GPL-2.0
/*
 * The fill ioctls racing what another vCPU does to the same memory, on an
 * SMP guest (issue 18): not the queued-event states events.c sets up one
 * step at a time, but the windows in between, hit by running both sides
 * at once many times.
 *
 * Each row counts the rounds in which the interleaving it is about really
 * happened, prints the count, and fails with "window not reached" below
 * RACE_MIN_WINDOWS: a race test that never raced proves nothing. Rounds
 * take RACE_BUDGET_US, under a second, where the host leaves the guest
 * its CPUs, and up to RACE_CAP_US where it does not (rounds_left()).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "scenarios.h"

#define RACE_BUDGET_US		800000
#define RACE_MAX_ROUNDS		400
#define RACE_MIN_WINDOWS	5
/* Pages a round fills: more than a fork or mremap takes to start. */
#define RACE_PAGES		256
/*
 * Pages a fill covers: mfill_atomic() holds the mmap lock across them, so
 * a fork or mremap mostly finds a fill under way and the filler's next
 * one already past the early check, queued behind its mmap_write_lock.
 */
#define FILL_CHUNK		4
/* Pages the fill-vs-fault rows race on. */
#define FAULT_PAGES		64

static bool budget_left(long start, int rounds)
{
	return rounds < RACE_MAX_ROUNDS && now_us() - start < RACE_BUDGET_US;
}

/*
 * On a loaded host rounds are slower and fewer of them find the window:
 * they go on past RACE_BUDGET_US, up to RACE_CAP_US, until there have
 * been RACE_MIN_WINDOWS windows in min_rounds rounds at least. The fault
 * rows want RACE_MIN_ROUNDS: the mutants whose race needs the fault to
 * land between the ioctl's look at the pte and its lock died in round 0
 * to 35 (an idle host runs 50 to 130 rounds in the budget).
 */
#define RACE_CAP_US		4000000
#define RACE_MIN_ROUNDS		40

static bool rounds_left(long start, int rounds, int windows, int min_rounds)
{
	return budget_left(start, rounds) ||
	       ((windows < RACE_MIN_WINDOWS || rounds < min_rounds) &&
		rounds < RACE_MAX_ROUNDS && now_us() - start < RACE_CAP_US);
}

static int report_windows(const char *what, int windows, int rounds)
{
	diag("%s: %d of %d rounds", what, windows, rounds);
	CHECK(windows >= RACE_MIN_WINDOWS,
	      "window not reached: %d rounds of %d, want %d", windows, rounds,
	      RACE_MIN_WINDOWS);
	return PASS;
}

static bool event_queued(int uffd)
{
	struct pollfd pfd = { .fd = uffd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1;
}

/* ---- fills against a layout change (seed 001, scenarios.md B) ------- */

/*
 * Page i of a round is filled with COPY of page_byte(i), or with ZEROPAGE
 * for every fourth chunk: both ioctls go through mfill_atomic().
 */
static char page_byte(size_t i)
{
	size_t chunk = i / FILL_CHUNK;

	return chunk % 4 == 3 ? 0 : 'a' + chunk % 26;
}

static int fill_chunk(int uffd, char *dst, const char *src, size_t ps,
		      size_t i)
{
	int64_t out;

	if (page_byte(i))
		return uffd_copy(uffd, dst, src + i * ps, FILL_CHUNK * ps, 0,
				 &out);
	return uffd_zeropage(uffd, dst, FILL_CHUNK * ps, 0, &out);
}

/* The pagemap entries of n pages from p, in one read. */
static int read_pagemap(const char *p, size_t ps, size_t n, uint64_t *ents)
{
	size_t len = n * sizeof(*ents);
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	ssize_t got;

	SYS(fd);
	got = pread(fd, ents, len, (uintptr_t)p / ps * sizeof(*ents));
	close(fd);
	CHECK(got == (ssize_t)len, "pagemap: %zd of %zu bytes", got, len);
	return PASS;
}

/*
 * Where a round's n successful fills must be: pages [0, n) of at present
 * with their bytes, the rest not present; base, if not NULL, must have
 * none of them (a moved range keeps nothing behind).
 */
static int check_fills(const char *at, const char *base, size_t ps,
		       size_t n, const char *where)
{
	uint64_t ents[RACE_PAGES], old[RACE_PAGES];
	size_t i;

	if (read_pagemap(at, ps, RACE_PAGES, ents) ||
	    (base && read_pagemap(base, ps, RACE_PAGES, old)))
		return FAIL;
	for (i = 0; i < RACE_PAGES; i++) {
		bool present = ents[i] & PM_PRESENT;

		CHECK(present == (i < n),
		      "%s page %zu %s, %zu fills succeeded before the event was read",
		      where, i, present ? "present" : "missing", n);
		if (i < n)
			CHECK(all_bytes(at + i * ps, page_byte(i), ps),
			      "%s page %zu: wrong data", where, i);
		if (base)
			CHECK(!(old[i] & PM_PRESENT),
			      "page %zu filled into the old range after the move",
			      i);
	}
	return PASS;
}

/*
 * One round of fills racing a layout change that changer() starts once
 * go is written: fills from page 0 on until one fails. Returns the number
 * of pages filled, -1 after a diag; *window says the failing fill began
 * before the change's event was queued (mmap_changing was raised while
 * it ran, or just before, from the other vCPU).
 */
static int fill_until_refused(int uffd, char *p, const char *src, size_t ps,
			      bool *window)
{
	size_t i;
	int ret;

	*window = false;
	for (i = 0; i < RACE_PAGES; i += FILL_CHUNK) {
		bool queued = event_queued(uffd);

		ret = fill_chunk(uffd, p + i * ps, src, ps, i);
		if (!ret)
			continue;
		if (ret != -EAGAIN) {
			diag("fill of page %zu: %s, expected success or EAGAIN",
			     i, strerror(-ret));
			return -1;
		}
		*window = !queued;
		break;
	}
	return i;
}

/* A round's fills, and the other thread's change they race. */
struct fill_race {
	struct area a;
	int uffd;
	char *src;
	int go[2];		/* the round starts: change the layout now */
	int ready[2];		/* the changer is about to: fill now */
	struct bg bg;
};

/* PASS, or SKIP on one CPU, or FAIL after a diag. */
static int fill_race_setup(const struct ctx *c, struct fill_race *fr,
			   uint64_t event)
{
	if (need_cpus(2))
		return SKIP;
	if (area_alloc(&fr->a, c->mt, RACE_PAGES, PROT_READ | PROT_WRITE))
		return FAIL;
	fr->uffd = uffd_for_area(&fr->a, event, UFFDIO_REGISTER_MODE_MISSING);
	fr->src = src_pages(fr->a.len, 0);
	if (fr->uffd < 0 || !fr->src)
		return FAIL;
	for (size_t i = 0; i < RACE_PAGES; i++)
		memset(fr->src + i * fr->a.ps, page_byte(i), fr->a.ps);
	return PASS;
}

/*
 * Starts change(arg) in a thread and fills until refused (with sync, from
 * when the thread is about to change); then the event of type must come.
 * Returns the pages filled, -1 after a diag.
 */
static int fill_race_round(struct fill_race *fr, long (*change)(void *),
			   void *arg, bool sync, uint8_t type,
			   struct uffd_msg *msg, bool *window)
{
	int n;

	char c;

	SYS(pipe2(fr->go, O_CLOEXEC));
	fr->ready[0] = fr->ready[1] = -1;
	if (sync)
		SYS(pipe2(fr->ready, O_CLOEXEC));
	SYS(bg_start(&fr->bg, change, arg));
	SYS(write(fr->go[1], "g", 1));
	/*
	 * A fork spends long in copy_process() before dup_mmap(): fill once
	 * it is under way, whatever the scheduler did with the thread. An
	 * mremap is quick: fills are already under way when it comes.
	 */
	if (sync) {
		SYS(read(fr->ready[0], &c, 1));
		close(fr->ready[0]);
	}
	n = fill_until_refused(fr->uffd, fr->a.p, fr->src, fr->a.ps, window);
	close(fr->go[1]);
	if (n < 0 || expect_event(fr->uffd, type, msg))
		return -1;
	return n;
}

/* In the changing thread: wait for the round, then say it starts. */
static int wait_go(struct fill_race *fr)
{
	char c;
	int ret = read(fr->go[0], &c, 1) == 1 ? 0 : -1;

	close(fr->go[0]);
	if (fr->ready[1] >= 0) {
		if (!ret && write(fr->ready[1], "r", 1) != 1)
			ret = -1;
		close(fr->ready[1]);
	}
	return ret;
}

struct forker {
	struct fill_race *fr;
	int count[2];		/* the parent's fills, to the child */
};

/* The child: its copy must hold exactly the fills that preceded FORK. */
static int fork_child(struct forker *f)
{
	size_t n;

	if (read(f->count[0], &n, sizeof(n)) != sizeof(n))
		return FAIL;
	return check_fills(f->fr->a.p, NULL, f->fr->a.ps, n, "child");
}

static long do_fork(void *arg)
{
	struct forker *f = arg;
	int status;
	pid_t pid;

	if (wait_go(f->fr))
		return -1;
	pid = fork();
	if (pid == 0)
		_exit(fork_child(f));
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/*
 * B1 with both sides running: fills in a loop while another thread forks
 * (dup_mmap() raises mmap_changing under mmap_write_lock). A fill that
 * passed the ioctl's early check and then waited for the mmap lock must
 * fail with EAGAIN on the re-check in mfill_atomic(); had it gone on, its
 * page would be in the parent only, although the monitor saw the fill
 * succeed before it read FORK. The child must have every page filled
 * before the event was read, and no other.
 */
int smp_eagain_fork(const struct ctx *c)
{
	struct fill_race fr;
	struct forker f = { &fr };
	struct uffd_msg msg;
	int ret, rounds = 0, windows = 0;
	long start;

	ret = fill_race_setup(c, &fr, UFFD_FEATURE_EVENT_FORK);
	if (ret)
		return ret;
	for (start = now_us(); rounds_left(start, rounds, windows, 0);
	     rounds++) {
		bool window;
		size_t filled;
		int n;

		SYS(madvise(fr.a.p, fr.a.len, MADV_DONTNEED));
		SYS(pipe2(f.count, O_CLOEXEC));
		n = fill_race_round(&fr, do_fork, &f, true, UFFD_EVENT_FORK,
				    &msg, &window);
		if (n < 0)
			return FAIL;
		windows += window;
		close(msg.arg.fork.ufd);
		filled = n;
		SYS(write(f.count[1], &filled, sizeof(filled)));
		CHECK_EQ(bg_join(&fr.bg, WAIT_MS), 0);
		if (fr.bg.ret) {
			diag("round %d: the child's pages differ from the %d fills before FORK%s",
			     rounds, n, window ? " (the last fill raced the fork)" : "");
			return FAIL;
		}
		if (check_fills(fr.a.p, NULL, fr.a.ps, n, "parent"))
			return FAIL;
		close(f.count[0]);
		close(f.count[1]);
	}
	return report_windows("fills refused, the FORK raised while they ran",
			      windows, rounds);
}

struct remapper {
	struct fill_race *fr;
	char *to;
};

static long do_remap(void *arg)
{
	struct remapper *r = arg;
	struct area *a = &r->fr->a;

	if (wait_go(r->fr))
		return -1;
	return mremap(a->p, a->len, a->len,
		      MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP,
		      r->to) == MAP_FAILED ? -1 : 0;
}

/*
 * B1 for mremap(MREMAP_DONTUNMAP) with both sides running: the old range
 * stays mapped and registered, so a fill that waited out the move on the
 * mmap lock and skipped the re-check would land there, behind the pages
 * the monitor believes moved. The new range must hold every page filled
 * before REMAP was read, the old range none.
 */
int smp_eagain_remap(const struct ctx *c)
{
	struct fill_race fr;
	struct remapper r = { &fr };
	struct uffd_msg msg;
	int ret, rounds = 0, windows = 0;
	long start;

	ret = fill_race_setup(c, &fr, UFFD_FEATURE_EVENT_REMAP);
	if (ret)
		return ret;
	r.to = reserve_range(fr.a.len, fr.a.ps);
	if (!r.to)
		return FAIL;
	for (start = now_us(); rounds_left(start, rounds, windows, 0);
	     rounds++) {
		bool window;
		int n;

		n = fill_race_round(&fr, do_remap, &r, false, UFFD_EVENT_REMAP,
				    &msg, &window);
		if (n < 0)
			return FAIL;
		windows += window;
		CHECK_EQ(msg.arg.remap.from, (uintptr_t)fr.a.p);
		CHECK_EQ(msg.arg.remap.to, (uintptr_t)r.to);
		CHECK_EQ(bg_join(&fr.bg, WAIT_MS), 0);
		CHECK_EQ(fr.bg.ret, 0);
		if (check_fills(r.to, fr.a.p, fr.a.ps, n, "moved")) {
			diag("round %d: %d fills before REMAP%s", rounds, n,
			     window ? " (the last fill raced the move)" : "");
			return FAIL;
		}
		/*
		 * Reserved again rather than unmapped, or the next round's
		 * thread stack could land there. No EVENT_UNMAP: quietly.
		 */
		SYS(mmap(r.to, fr.a.len, PROT_NONE, MAP_PRIVATE |
			 MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED ? -1 : 0);
	}
	return report_windows("fills refused, the REMAP raised while they ran",
			      windows, rounds);
}

/* ---- fills against faults on the same pages ------------------------- */

/* The byte a fault writes into each page, inside the filled bytes. */
#define TOUCH_OFF	100
#define TOUCH_BYTE	'T'

/*
 * The filler and the toucher take pages 0..FAULT_PAGES-1 in step: the
 * toucher starts on page i once the filler is about to fill it. The
 * toucher is another process, writing with process_vm_writev(), so its
 * fault runs on the other vCPU at the same time (threads of one process
 * would take turns in user mode) and it can wait for the filler by
 * spinning. Shared memory between the two.
 */
struct pace {
	int round;		/* the round the filler has started */
	int touched;		/* the last round the toucher finished */
	int fill_at;		/* the page the filler is filling */
	int started[FAULT_PAGES], done[FAULT_PAGES];
	int err;
	int quit;
};

static void toucher(struct pace *pc, pid_t target, char *p, size_t ps)
{
	char c = TOUCH_BYTE;
	struct iovec local = { &c, 1 }, remote = { NULL, 1 };
	int round, i;

	for (round = 1;; round++) {
		/* Between rounds, or the end (quit, then round INT32_MAX). */
		while (!spin_wait(&pc->round, round))
			;
		if (shared_load(&pc->quit))
			_exit(0);
		for (i = 0; i < FAULT_PAGES; i++) {
			if (!spin_wait(&pc->fill_at, i))
				_exit(1);
			remote.iov_base = p + i * ps + TOUCH_OFF;
			shared_store(&pc->started[i], 1);
			if (process_vm_writev(target, &local, 1, &remote, 1,
					      0) != 1)
				shared_store(&pc->err, errno);
			shared_store(&pc->done[i], 1);
		}
		shared_store(&pc->touched, round);
	}
}

/*
 * An ioctl that maps page i of a range in which the mm serves a fault
 * itself (WP-only anonymous memory; a MISSING range whose pages are all
 * in the page cache), against a write to the same page from the other
 * vCPU. One side wins each page: the ioctl that finds the fault's pte
 * fails with EEXIST and leaves it alone; the fault that finds the
 * ioctl's pte writes into its page. Both re-check the pte under the PTL,
 * having looked at it before: without that, one pte is written over the
 * other, and the page it mapped leaks with the Rss count that counted it
 * (and the fault's write with it, if it went there).
 */
struct fault_race {
	const char *name;	/* the ioctl, in messages */
	uint64_t features;	/* besides the registration's */
	uint64_t mode;		/* the registration */
	const char *rss;	/* the /proc/self/status line the pages count in */
	char byte;		/* what the ioctl maps: a page it won holds it */
	char lost;		/* a page the fault won holds it */
	/* page i of the range, from src (page i of the source if moves) */
	int (*fill)(int uffd, char *dst, const char *src, size_t ps);
	/*
	 * UFFDIO_MOVE: page i comes from page i of a source area, which a
	 * refused move leaves in place and a move leaves a hole.
	 */
	bool moves;
};

/* A page the ioctl won or lost: what it must hold, outside TOUCH_OFF. */
static int check_touched(const struct fault_race *fr, const char *page,
			 size_t ps, int ret, size_t i)
{
	char want = ret ? fr->lost : fr->byte;

	CHECK(page[TOUCH_OFF] == TOUCH_BYTE,
	      "page %zu: the fault's write is lost (%#x), %s returned %d",
	      i, page[TOUCH_OFF], fr->name, ret);
	CHECK(all_bytes(page, want, TOUCH_OFF) &&
	      all_bytes(page + TOUCH_OFF + 1, want, ps - TOUCH_OFF - 1),
	      "page %zu: %s returned %d, the page holds %#x, expected %#x",
	      i, fr->name, ret, page[0], want);
	return PASS;
}

static int copy_one(int uffd, char *dst, const char *src, size_t ps)
{
	int64_t out;

	return uffd_copy(uffd, dst, src, ps, 0, &out);
}

static int zeropage_one(int uffd, char *dst, const char *src, size_t ps)
{
	int64_t out;

	(void)src;
	return uffd_zeropage(uffd, dst, ps, 0, &out);
}

static int continue_one(int uffd, char *dst, const char *src, size_t ps)
{
	int64_t out;

	(void)src;
	return uffd_continue(uffd, dst, ps, 0, &out);
}

static int move_one(int uffd, char *dst, const char *src, size_t ps)
{
	int64_t out;

	return uffd_move(uffd, dst, (char *)src, ps, 0, &out);
}

/*
 * A count of /proc/self/status (an exact sum since 6.x) in kB: a pte
 * written over another leaks the page it mapped, and the count with it.
 * What this touches must be touched before the kernel counts, not after:
 * the buffer, and no stack deeper than the read's (musl's strstr() and
 * sscanf() took a page more on their first call, counted the next time).
 */
static int status_kib(const char *field, long *kib)
{
	static char buf[4096];
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	size_t flen = strlen(field);
	char *line, *end;
	ssize_t n;

	SYS(fd);
	memset(buf, 0, sizeof(buf));
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	SYS(n);
	for (line = buf; strncmp(line, field, flen) || line[flen] != ':';) {
		line = strchr(line, '\n');
		CHECK(line, "no %s in /proc/self/status", field);
		line++;
	}
	*kib = strtol(line + flen + 1, &end, 10);
	CHECK(end != line + flen + 1, "%s: no number", field);
	return PASS;
}

/* The toucher's round is over; bounded, it spins. */
static int wait_touched(struct pace *pc, int round)
{
	CHECK(spin_wait(&pc->touched, round),
	      "the toucher is stuck in round %d", round);
	CHECK_EQ(shared_load(&pc->err), 0);
	return PASS;
}

/* Everything a round of race_vs_fault() sets up. */
struct fault_round {
	const struct fault_race *fr;
	struct area a;		/* the range the ioctl and the fault race on */
	struct area from;	/* the source of a move */
	const char *src;	/* the source of a copy */
	int uffd;
	struct pace *pc;
};

/* A round's starting point: no page mapped, the source in place. */
static int prepare_round(struct fault_round *r)
{
	const struct fault_race *fr = r->fr;

	SYS(madvise(r->a.p, r->a.len, MADV_DONTNEED));
	/* The page cache has every page, the toucher's bytes undone. */
	if (r->a.alias)
		memset(r->a.alias, fr->byte, r->a.len);
	if (fr->moves) {
		SYS(madvise(r->from.p, r->from.len, MADV_DONTNEED));
		SYS(madvise(r->from.p, r->from.len, MADV_POPULATE_WRITE));
		memset(r->from.p, fr->byte, r->from.len);
	}
	memset(r->pc->started, 0, sizeof(r->pc->started));
	memset(r->pc->done, 0, sizeof(r->pc->done));
	shared_store(&r->pc->fill_at, -1);
	return PASS;
}

/*
 * After a round: every page the ioctl's return says, the source of a
 * move where it says, and the Rss count grown by exactly the pages that
 * are new: one a page, or one a refused move (a move takes its page
 * from the source).
 */
static int check_round(struct fault_round *r, const int *rets, long kib0,
		       long kib, int round)
{
	const struct fault_race *fr = r->fr;
	uint64_t from[FAULT_PAGES];
	long added = 0;

	if (fr->moves && read_pagemap(r->from.p, r->from.ps, FAULT_PAGES, from))
		return FAIL;
	for (int i = 0; i < FAULT_PAGES; i++) {
		if (rets[i] && rets[i] != -EEXIST) {
			diag("round %d: %s of page %d: %s, expected success or EEXIST",
			     round, fr->name, i, strerror(-rets[i]));
			return FAIL;
		}
		added += !fr->moves || rets[i];
		if (check_touched(fr, page_of(&r->a, i), r->a.ps, rets[i], i))
			goto fail;
		if (!fr->moves)
			continue;
		if (!rets[i] && (from[i] & PM_PRESENT)) {
			diag("page %d moved, and still present at the source", i);
			goto fail;
		}
		if (rets[i] && !all_bytes(page_of(&r->from, i), fr->byte,
					  r->from.ps)) {
			diag("page %d not moved, and gone from the source", i);
			goto fail;
		}
	}
	added *= r->a.ps >> 10;
	if (kib - kib0 != added) {
		diag("%s grew by %ld kB, %ld kB of pages are new: a pte was written over another and its page leaked",
		     fr->rss, kib - kib0, added);
		goto fail;
	}
	return PASS;
fail:
	diag("round %d", round);
	return FAIL;
}

/*
 * Rounds of the ioctl over FAULT_PAGES pages while the toucher writes
 * them. A window is a round in which the ioctl found EEXIST on a page
 * whose write had not returned when the ioctl began: both ran at once,
 * and the fault won.
 */
static int fault_rounds(struct fault_round *r)
{
	const struct fault_race *fr = r->fr;
	int rets[FAULT_PAGES], rounds = 0, met = 0, beaten = 0;
	struct pace *pc = r->pc;
	char what[80];
	long start;

	for (start = now_us(); rounds_left(start, rounds, met, RACE_MIN_ROUNDS);
	     rounds++) {
		bool round_met = false, round_beaten = false;
		long kib0, kib;

		if (prepare_round(r) || status_kib(fr->rss, &kib0))
			return FAIL;
		shared_store(&pc->round, rounds + 1);
		for (int i = 0; i < FAULT_PAGES; i++) {
			const char *src = fr->moves ? page_of(&r->from, i) : r->src;
			bool touched;

			shared_store(&pc->fill_at, i);
			/* Odd pages: let the fault start first. */
			if (i % 2 && !spin_wait(&pc->started[i], 1)) {
				diag("the toucher did not start page %d", i);
				return FAIL;
			}
			touched = shared_load(&pc->done[i]);
			rets[i] = fr->fill(r->uffd, page_of(&r->a, i), src,
					   r->a.ps);
			/* The fault installed its page while the ioctl ran. */
			if (rets[i] == -EEXIST && !touched)
				round_met = true;
			/* The fault was under way when the ioctl won. */
			if (!rets[i] && shared_load(&pc->started[i]) &&
			    !shared_load(&pc->done[i]))
				round_beaten = true;
		}
		/* Both counts from here: the stack below is as deep. */
		if (wait_touched(pc, rounds + 1) || status_kib(fr->rss, &kib) ||
		    check_round(r, rets, kib0, kib, rounds))
			return FAIL;
		met += round_met;
		beaten += round_beaten;
	}
	diag("%s won a page a fault was under way on: %d of %d rounds",
	     fr->name, beaten, rounds);
	snprintf(what, sizeof(what),
		 "%s met a page a fault installed while it ran", fr->name);
	return report_windows(what, met, rounds);
}

static int race_vs_fault(const struct ctx *c, const struct fault_race *fr)
{
	struct fault_round r = { .fr = fr };
	uint64_t features = fr->features;
	int status, ret = FAIL;
	pid_t parent = getpid(), pid;

	if (need_cpus(2) || (fr->mode == UFFDIO_REGISTER_MODE_WP && need_wp(c)))
		return SKIP;
	if (fr->mode == UFFDIO_REGISTER_MODE_WP)
		features |= uffd_wp_features(c->mt);
	if (area_alloc(&r.a, c->mt, FAULT_PAGES, PROT_READ | PROT_WRITE) ||
	    (fr->moves && area_alloc(&r.from, c->mt, FAULT_PAGES,
				     PROT_READ | PROT_WRITE)))
		return FAIL;
	r.pc = mmap(NULL, sizeof(*r.pc), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	SYS(r.pc == MAP_FAILED ? -1 : 0);
	pid = fork();
	SYS(pid);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		toucher(r.pc, parent, r.a.p, r.a.ps);
	}
	r.uffd = uffd_for_area(&r.a, features, fr->mode);
	r.src = src_pages(r.a.ps, fr->byte);
	if (r.uffd >= 0 && r.src)
		ret = fault_rounds(&r);
	shared_store(&r.pc->quit, 1);
	shared_store(&r.pc->fill_at, FAULT_PAGES);
	shared_store(&r.pc->round, INT32_MAX);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return ret;
}

/* UFFDIO_COPY against faults on the same anonymous pages. */
int smp_copy_fault(const struct ctx *c)
{
	static const struct fault_race copy = {
		"COPY", 0, UFFDIO_REGISTER_MODE_WP, "RssAnon", 'C', 0,
		copy_one, false,
	};

	return race_vs_fault(c, &copy);
}

/* UFFDIO_ZEROPAGE against faults on the same anonymous pages. */
int smp_zeropage_fault(const struct ctx *c)
{
	static const struct fault_race zeropage = {
		"ZEROPAGE", 0, UFFDIO_REGISTER_MODE_WP, "RssAnon", 0, 0,
		zeropage_one, false,
	};

	return race_vs_fault(c, &zeropage);
}

/*
 * UFFDIO_CONTINUE against faults on the same shmem pages, all in the page
 * cache. A MINOR range would hand the fault to the monitor, which never
 * races its own CONTINUE; in a MISSING range the mm maps a cached page
 * itself (do_shared_fault()), holding the folio lock from the lookup to
 * the pte, as CONTINUE does from shmem_get_folio() to its pte.
 * mfill_atomic_install_pte() must re-check pte_none under the PTL once it
 * has the folio: a CONTINUE that trusted an earlier look maps the page a
 * second time over the fault's pte (mapcount, refcount and RssShmem one
 * too high, for good). Not on hugetlb: a hugetlb fill and a fault on the
 * same page take the same hugetlb_fault_mutex, so they never overlap.
 */
int smp_continue_fault(const struct ctx *c)
{
	static const struct fault_race cont = {
		"CONTINUE", 0, UFFDIO_REGISTER_MODE_MISSING, "RssShmem", 'K',
		'K', continue_one, false,
	};

	return race_vs_fault(c, &cont);
}

/*
 * UFFDIO_MOVE against faults on the same destination pages (anonymous,
 * WP-only). move_pages_ptes() looks at the destination pte before it
 * locks the source folio; move_present_ptes() must find both ptes as it
 * saw them once it holds both PTLs (is_pte_pages_stable()), and start
 * over if not, which ends in EEXIST. A move that trusted its first look
 * would write the source page over the page the fault mapped: the
 * fault's write and page lost, RssAnon one too high.
 */
int smp_move_fault(const struct ctx *c)
{
	static const struct fault_race move = {
		"MOVE", UFFD_FEATURE_MOVE, UFFDIO_REGISTER_MODE_WP, "RssAnon",
		'M', 0, move_one, true,
	};

	return race_vs_fault(c, &move);
}
