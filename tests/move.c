// SPDX-License-Identifier: GPL-2.0
/*
 * UFFDIO_MOVE (UFFD_FEATURE_MOVE, 6.8): anonymous pages moved from one
 * address to another in zero copy, the way a monitor resolves a fault with
 * a page it received. What a move leaves behind (the destination present
 * with the data, the source a hole whose next access is a MISSING fault),
 * ALLOW_SRC_HOLES, the error contract (EEXIST, ENOENT, EBUSY for a page
 * that is not exclusive to this mm or is pinned, EINVAL, EAGAIN while a
 * non-cooperative event is unread), a write-protected source, and partial
 * progress in uffdio_move.move.
 *
 * Expectations come from move_pages(), move_pages_ptes() and
 * userfaultfd_move() in mm/userfaultfd.c (7.3.4 line numbers below; 6.12
 * has the same contract, with move_pages_pte() moving one page at a time
 * and userfaultfd_move() in fs/userfaultfd.c). Two facts of that contract
 * run through the rows:
 * - a move that stops after some pages returns -EAGAIN from the ioctl
 *   whatever stopped it, with the bytes moved in .move (userfaultfd_move,
 *   :4620); the reason only comes from repeating the rest of the move;
 * - .move is written by move_pages() and its callers only: a request that
 *   validate_range() or the mode check refuses leaves it untouched.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scenarios.h"

/* mm/gup_test.h: pins held until STOP or close (CONFIG_GUP_TEST). */
struct pin_longterm_test {
	uint64_t addr;
	uint64_t size;
	uint32_t flags;
};
#define PIN_LONGTERM_TEST_START	_IOW('g', 7, struct pin_longterm_test)
#define PIN_LONGTERM_TEST_STOP	_IO('g', 8)
#define GUP_TEST_PATH		"/sys/kernel/debug/gup_test"

/*
 * UFFDIO_MOVE must return ret (0 or -errno) and leave out in .move.
 * A macro, so that a failure names the line of the move.
 */
static int check_move(int uffd, void *dst, void *src, size_t len,
		      uint64_t mode, int ret, int64_t out, int line)
{
	int64_t got_out;
	int got = uffd_move(uffd, dst, src, len, mode, &got_out);

	if (got == ret && got_out == out)
		return PASS;
	diag("%s:%d: UFFDIO_MOVE(dst %p, src %p, len %#zx, mode %#llx): returned %d, .move %lld; expected %d, .move %lld",
	     __FILE__, line, dst, src, len, (unsigned long long)mode, got,
	     (long long)got_out, ret, (long long)out);
	return FAIL;
}

#define CHECK_MOVE(uffd, dst, src, len, mode, ret, out)			\
	do {								\
		if (check_move(uffd, dst, src, len, mode, ret, out,	\
			       __LINE__))				\
			return FAIL;					\
	} while (0)

/* Where a move must leave a page: its data there, or a hole. */
static int expect_page(const char *p, size_t ps, char c)
{
	uint64_t pm = pagemap_entry(p);

	CHECK(pm & PM_PRESENT, "%p: pagemap %#llx, expected present", p,
	      (unsigned long long)pm);
	CHECK(all_bytes(p, c, ps), "%p: data is not '%c' (first byte %#x)",
	      p, c, (unsigned char)*p);
	return PASS;
}

static int expect_hole(const char *p)
{
	uint64_t pm = pagemap_entry(p);

	CHECK(!(pm & (PM_PRESENT | PM_SWAP)),
	      "%p: pagemap %#llx, expected a hole", p, (unsigned long long)pm);
	return PASS;
}

/*
 * A private anonymous area of strlen(fill) pages, page i holding fill[i]
 * ('-': a hole), between two PROT_NONE guard pages: the areas of a row
 * must not merge into one VMA, or "past the end of its VMA" would not be.
 */
static int anon_pages(struct area *a, const struct ctx *c, const char *fill)
{
	size_t i, n = strlen(fill), ps = c->mt->page_size();
	char *p = reserve_range((n + 2) * ps, ps);

	SYS(p ? 0 : -1);
	*a = (struct area){ .mt = c->mt, .ps = ps, .npages = n, .len = n * ps,
			    .fd = -1, .p = p + ps };
	SYS(mprotect(a->p, a->len, PROT_READ | PROT_WRITE));
	for (i = 0; i < n; i++)
		if (fill[i] != '-')
			memset(page_of(a, i), fill[i], ps);
	return PASS;
}

/* A uffd with MOVE (plus features), areas registered MISSING. */
static int move_uffd(uint64_t features, struct area *a, struct area *b)
{
	int uffd = uffd_new(UFFD_FEATURE_MOVE | features);

	if (uffd < 0) {
		diag("UFFDIO_API(MOVE): %s", strerror(-uffd));
		return -1;
	}
	if (uffd_register(uffd, a->p, a->len, UFFDIO_REGISTER_MODE_MISSING,
			  NULL) ||
	    (b && uffd_register(uffd, b->p, b->len,
				UFFDIO_REGISTER_MODE_MISSING, NULL))) {
		diag("UFFDIO_REGISTER: %s", strerror(errno));
		return -1;
	}
	return uffd;
}

/*
 * A thread reads page; its MISSING fault must reach the monitor, and a
 * move into page must wake it with c. from..len is what to move there.
 */
static int resolve_by_move(int uffd, char *page, char *from, size_t len,
			   char c)
{
	struct uffd_msg msg;
	struct touch t;

	SYS(touch_start(&t, page, false, 0));
	CHECK_EQ(touch_wait(&t, uffd, &msg, WAIT_MS), TOUCH_WAIT_MSG);
	CHECK_EQ(msg.event, UFFD_EVENT_PAGEFAULT);
	CHECK_EQ(msg.arg.pagefault.address, (uintptr_t)page);
	CHECK_EQ(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP, 0);
	CHECK_MOVE(uffd, page, from, len, 0, 0, len);
	CHECK(touch_wait(&t, -1, NULL, WAIT_MS) == TOUCH_WAIT_DONE,
	      "the faulting reader was not woken by the move");
	CHECK_EQ(t.state, TOUCH_DONE);
	CHECK_EQ(t.val, c);
	return PASS;
}

/*
 * The use MOVE was made for: a reader faults on dst, the monitor moves
 * the pages it has into place, and the reader wakes (userfaultfd_move()
 * wakes the destination range, :4617) with the data. The pages changed
 * address, not content: dst is present, src a hole (the source pte is
 * cleared, :1346), and the next access to src is a MISSING fault of its
 * own, which a move back resolves.
 */
int move_basic(const struct ctx *c)
{
	struct area src, dst;
	int uffd;

	if (anon_pages(&src, c, "AB") || anon_pages(&dst, c, "--"))
		return FAIL;
	uffd = move_uffd(0, &dst, &src);
	if (uffd < 0)
		return FAIL;
	if (resolve_by_move(uffd, page_of(&dst, 0), src.p, src.len, 'A'))
		return FAIL;
	if (expect_page(page_of(&dst, 0), dst.ps, 'A') ||
	    expect_page(page_of(&dst, 1), dst.ps, 'B') ||
	    expect_hole(page_of(&src, 0)) || expect_hole(page_of(&src, 1)))
		return FAIL;
	if (resolve_by_move(uffd, page_of(&src, 0), page_of(&dst, 1), src.ps,
			    'B'))
		return FAIL;
	if (expect_page(page_of(&src, 0), src.ps, 'B') ||
	    expect_hole(page_of(&dst, 1)))
		return FAIL;
	return expect_no_message(uffd);
}

/*
 * ALLOW_SRC_HOLES: a source hole is skipped and counted as moved
 * (move_pages_ptes(), :1575-1579: "nothing to do to move a hole"), at
 * every level: a none pte, and a source with no page table at all
 * (move_pages() allocates one, :2089 and :2148). Without the flag the
 * same hole is -ENOENT, in the return and in .move.
 */
int move_src_holes(const struct ctx *c)
{
	const size_t table = 2UL << 20;	/* what one pmd maps */
	struct area src, dst, dst2;
	char *bare;
	int uffd;

	if (anon_pages(&src, c, "0-2-") || anon_pages(&dst, c, "----") ||
	    anon_pages(&dst2, c, "----"))
		return FAIL;
	uffd = move_uffd(0, &dst, &dst2);
	if (uffd < 0)
		return FAIL;
	CHECK_MOVE(uffd, page_of(&dst, 1), page_of(&src, 1), src.ps, 0, -ENOENT,
			   -ENOENT);

	CHECK_MOVE(uffd, dst.p, src.p, src.len,
			   UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES, 0, src.len);
	if (expect_page(page_of(&dst, 0), dst.ps, '0') ||
	    expect_hole(page_of(&dst, 1)) ||
	    expect_page(page_of(&dst, 2), dst.ps, '2') ||
	    expect_hole(page_of(&dst, 3)))
		return FAIL;
	for (size_t i = 0; i < src.npages; i++)
		if (expect_hole(page_of(&src, i)))
			return FAIL;

	/* A pmd-aligned source never touched: no pte table under it. */
	bare = reserve_range(table, table);
	SYS(bare ? 0 : -1);
	SYS(mprotect(bare, table, PROT_READ | PROT_WRITE));
	bare += table - src.len;
	CHECK_MOVE(uffd, page_of(&dst2, 0), bare, src.len, 0, -ENOENT, -ENOENT);
	CHECK_MOVE(uffd, page_of(&dst2, 0), bare, src.len,
			   UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES, 0, src.len);
	for (size_t i = 0; i < dst2.npages; i++)
		if (expect_hole(page_of(&dst2, i)))
			return FAIL;
	return PASS;
}

struct cross_mm {
	int uffd;
	char *dst, *src;
	size_t len;
};

/* 0 if this process's move through its parent's uffd is refused. */
static int cross_mm_child(void *arg)
{
	struct cross_mm *x = arg;
	int64_t out;
	int ret = uffd_move(x->uffd, x->dst, x->src, x->len, 0, &out);

	if (ret == 0)
		return 10;
	if (ret != -EINVAL)
		return 11;
	return out == SENTINEL ? 0 : 12;
}

/*
 * What UFFDIO_MOVE refuses. Per page (move_pages_ptes()): a populated
 * destination is -EEXIST (:1567), a source hole -ENOENT (:1577), and
 * neither moves anything. Per request: addresses outside any VMA are
 * -ENOENT (uffd_move_lock()); -EINVAL for MAP_SHARED (:2058-2066), for
 * VMAs that differ in access flags or are not writable, for a
 * destination not registered with this uffd and for memory that is not
 * anonymous (validate_move_areas(), :1794-1827: a shmem MAP_PRIVATE
 * mapping holds anonymous CoW pages, yet is refused), for a range past
 * the end of its VMA, and for another process's use of the uffd (:4584);
 * unaligned addresses or lengths and unknown mode bits are -EINVAL
 * before .move is touched. There is no overlap check: a move within one
 * VMA goes page by page in ascending order, so a forward overlap carries
 * a page along (it is moved again from where it just landed).
 */
int move_errors(const struct ctx *c)
{
	const struct mem_type *shmem = mem_type(MEM_SHMEM);
	const struct mem_type *shpriv = mem_type(MEM_SHMEM_PRIV);
	struct area src, dst, other, sh, shp, ov;
	struct cross_mm x;
	int uffd, status;
	char *gap;

	if (anon_pages(&src, c, "S-") || anon_pages(&dst, c, "D-") ||
	    anon_pages(&other, c, "--") || anon_pages(&ov, c, "O--"))
		return FAIL;
	if (area_alloc(&sh, shmem, 1, PROT_READ | PROT_WRITE) ||
	    area_alloc(&shp, shpriv, 2, PROT_READ | PROT_WRITE))
		return FAIL;
	memset(sh.p, 'H', sh.ps);
	/* An anonymous CoW page in a file VMA. */
	memset(shp.p, 'P', shp.ps);
	uffd = move_uffd(UFFD_FEATURE_MISSING_SHMEM, &dst, &ov);
	if (uffd < 0)
		return FAIL;
	CHECK_EQ(uffd_register(uffd, shp.p, shp.len,
			       UFFDIO_REGISTER_MODE_MISSING, NULL), 0);

	CHECK_MOVE(uffd, dst.p, src.p, src.ps, 0, -EEXIST, -EEXIST);
	CHECK_MOVE(uffd, page_of(&dst, 1), page_of(&src, 1), src.ps, 0, -ENOENT,
			   -ENOENT);
	if (expect_page(src.p, src.ps, 'S') || expect_page(dst.p, dst.ps, 'D'))
		return FAIL;

	gap = reserve_range(src.ps, src.ps);
	SYS(gap ? munmap(gap, src.ps) : -1);
	CHECK_MOVE(uffd, page_of(&dst, 1), gap, src.ps, 0, -ENOENT, -ENOENT);
	CHECK_MOVE(uffd, gap, src.p, src.ps, 0, -ENOENT, -ENOENT);

	/* -EINVAL from the VMAs, reported in .move too. */
	CHECK_MOVE(uffd, page_of(&dst, 1), sh.p, sh.ps, 0, -EINVAL, -EINVAL);
	CHECK_MOVE(uffd, page_of(&shp, 1), src.p, src.ps, 0, -EINVAL, -EINVAL);
	CHECK_MOVE(uffd, page_of(&dst, 1), shp.p, shp.ps, 0, -EINVAL, -EINVAL);
	CHECK_MOVE(uffd, page_of(&other, 1), src.p, src.ps, 0, -EINVAL,
			   -EINVAL);
	CHECK_MOVE(uffd, page_of(&dst, 1), src.p, src.len, 0, -EINVAL, -EINVAL);
	SYS(mprotect(src.p, src.len, PROT_READ | PROT_WRITE | PROT_EXEC));
	CHECK_MOVE(uffd, page_of(&dst, 1), src.p, src.ps, 0, -EINVAL, -EINVAL);
	SYS(mprotect(src.p, src.len, PROT_READ));
	SYS(mprotect(dst.p, dst.len, PROT_READ));
	CHECK_MOVE(uffd, page_of(&dst, 1), src.p, src.ps, 0, -EINVAL, -EINVAL);
	SYS(mprotect(src.p, src.len, PROT_READ | PROT_WRITE));
	SYS(mprotect(dst.p, dst.len, PROT_READ | PROT_WRITE));
	if (expect_page(src.p, src.ps, 'S') ||
	    expect_page(sh.p, sh.ps, 'H') || expect_page(shp.p, shp.ps, 'P'))
		return FAIL;

	/*
	 * Overlap: O moves to page 1, then on from there to page 2. Before
	 * the fork below, after which no page here is exclusive.
	 */
	CHECK_MOVE(uffd, page_of(&ov, 1), ov.p, 2 * ov.ps, 0, 0, 2 * ov.ps);
	if (expect_hole(page_of(&ov, 0)) || expect_hole(page_of(&ov, 1)) ||
	    expect_page(page_of(&ov, 2), ov.ps, 'O'))
		return FAIL;

	/* -EINVAL from the request itself: .move left alone. */
	CHECK_MOVE(uffd, page_of(&dst, 1) + 1, src.p, src.ps, 0, -EINVAL,
			   SENTINEL);
	CHECK_MOVE(uffd, page_of(&dst, 1), src.p + 1, src.ps, 0, -EINVAL,
			   SENTINEL);
	CHECK_MOVE(uffd, page_of(&dst, 1), src.p, src.ps / 2, 0, -EINVAL,
			   SENTINEL);
	CHECK_MOVE(uffd, page_of(&dst, 1), src.p, src.ps,
			   UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES << 1, -EINVAL,
			   SENTINEL);
	x = (struct cross_mm){ uffd, page_of(&dst, 1), src.p, src.ps };
	SYS(fork_wait(cross_mm_child, &x, &status));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "a child's UFFDIO_MOVE on its parent's uffd: status %#x (10: it moved, 11: not EINVAL, 12: .move written)",
	      status);
	if (expect_page(src.p, src.ps, 'S') || expect_hole(page_of(&dst, 1)))
		return FAIL;
	return PASS;
}

static int wait_pipe_child(void *arg)
{
	int *fds = arg;
	char ch;

	close(fds[1]);
	return read(fds[0], &ch, 1) == 0 ? 0 : 1;
}

/*
 * A page shared with a child after fork() is not the parent's to move:
 * -EBUSY (move_pages_ptes() tests PageAnonExclusive, :1619; the batch of
 * 7.x tests each further page, :1298; move_present_ptes() again under
 * the locks, :1335). A page the parent wrote after the fork is its own
 * copy and moves; in one two-page move, that page moves and the shared
 * one stops it: -EAGAIN with one page in .move. The shared page stays
 * refused after the child has gone, because nothing marks it exclusive
 * again until the parent's next write fault reuses it; then it moves.
 */
int move_busy_fork(const struct ctx *c)
{
	struct area src, dst;
	int fds[2], uffd, status;
	pid_t pid;

	if (anon_pages(&src, c, "AB") || anon_pages(&dst, c, "--"))
		return FAIL;
	uffd = move_uffd(0, &dst, NULL);
	if (uffd < 0)
		return FAIL;
	SYS(pipe2(fds, O_CLOEXEC));
	pid = fork();
	SYS(pid);
	if (pid == 0)
		_exit(wait_pipe_child(fds));
	close(fds[0]);

	CHECK_MOVE(uffd, dst.p, src.p, src.ps, 0, -EBUSY, -EBUSY);
	page_of(&src, 0)[0] = 'a';
	CHECK_MOVE(uffd, dst.p, src.p, src.len, 0, -EAGAIN, src.ps);
	CHECK_EQ(dst.p[0], 'a');
	if (expect_hole(src.p) || expect_hole(page_of(&dst, 1)) ||
	    expect_page(page_of(&src, 1), src.ps, 'B'))
		return FAIL;

	close(fds[1]);
	SYS(waitpid(pid, &status, 0));
	CHECK_EQ(status, 0);
	CHECK_MOVE(uffd, page_of(&dst, 1), page_of(&src, 1), src.ps, 0, -EBUSY,
			   -EBUSY);
	page_of(&src, 1)[0] = 'b';
	CHECK_MOVE(uffd, page_of(&dst, 1), page_of(&src, 1), src.ps, 0, 0,
			   src.ps);
	CHECK_EQ(page_of(&dst, 1)[0], 'b');
	return expect_hole(page_of(&src, 1));
}

static int pin(int fd, void *p, size_t len)
{
	struct pin_longterm_test args = { .addr = (uintptr_t)p, .size = len };

	return ioctl(fd, PIN_LONGTERM_TEST_START, &args) ? -errno : 0;
}

/*
 * A page pinned for DMA (FOLL_PIN | FOLL_LONGTERM, through CONFIG_GUP_TEST's
 * PIN_LONGTERM_TEST_START, as the selftests pin) must not move: the device
 * would keep writing to a page the process no longer sees. -EBUSY
 * (move_present_ptes(), folio_maybe_dma_pinned() at :1335, and for each
 * page of a 7.x batch after its pte is cleared, :1347); a two-page move
 * whose second page is pinned moves the first and stops: -EAGAIN with one
 * page in .move. Unpinned, the page moves.
 */
int move_busy_pin(const struct ctx *c)
{
	struct area src, dst;
	int gup, uffd, ret;

	gup = open(GUP_TEST_PATH, O_RDWR | O_CLOEXEC);
	if (gup < 0)
		return skip("%s: %s (CONFIG_GUP_TEST, debugfs)", GUP_TEST_PATH,
			    strerror(errno));
	if (anon_pages(&src, c, "AB") || anon_pages(&dst, c, "--"))
		return FAIL;
	uffd = move_uffd(0, &dst, NULL);
	if (uffd < 0)
		return FAIL;
	ret = pin(gup, page_of(&src, 1), src.ps);
	CHECK_EQ(ret, 0);

	CHECK_MOVE(uffd, page_of(&dst, 1), page_of(&src, 1), src.ps, 0, -EBUSY,
			   -EBUSY);
	CHECK_MOVE(uffd, dst.p, src.p, src.len, 0, -EAGAIN, src.ps);
	if (expect_page(dst.p, dst.ps, 'A') || expect_hole(src.p) ||
	    expect_page(page_of(&src, 1), src.ps, 'B') ||
	    expect_hole(page_of(&dst, 1)))
		return FAIL;

	SYS(ioctl(gup, PIN_LONGTERM_TEST_STOP));
	CHECK_MOVE(uffd, page_of(&dst, 1), page_of(&src, 1), src.ps, 0, 0,
			   src.ps);
	return expect_page(page_of(&dst, 1), dst.ps, 'B');
}

/*
 * While a FORK or REMAP event is queued and unread, the monitor's view of
 * the layout may be stale, so MOVE fails with -EAGAIN, in .move too
 * (userfaultfd_move() :4572, and move_pages() again under
 * map_changing_lock, :2047), and moves nothing. Once the event is read it
 * works. The source is MADV_DONTFORK: the child shares nothing the move
 * could be refused for.
 */
int move_eagain(const struct ctx *c)
{
	struct area src, dst, moving;
	struct uffd_msg msg;
	struct move mv;
	struct bg bg;
	int uffd, i;

	if (anon_pages(&src, c, "AB") || anon_pages(&dst, c, "--") ||
	    anon_pages(&moving, c, "-"))
		return FAIL;
	SYS(madvise(src.p, src.len, MADV_DONTFORK));
	uffd = move_uffd(UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_EVENT_REMAP,
			 &dst, &moving);
	if (uffd < 0)
		return FAIL;
	mv = (struct move){ moving.p, reserve_range(moving.len, moving.ps),
			    moving.len };
	SYS(mv.to ? 0 : -1);

	for (i = 0; i < 2; i++) {
		char *d = page_of(&dst, i), *s = page_of(&src, i);
		uint8_t type = i ? UFFD_EVENT_REMAP : UFFD_EVENT_FORK;

		SYS(bg_start(&bg, i ? do_move : fork_and_reap, &mv));
		if (expect_event_queued(uffd))
			return FAIL;
		CHECK_MOVE(uffd, d, s, src.ps, 0, -EAGAIN, -EAGAIN);
		if (expect_hole(d) || expect_page(s, src.ps, "AB"[i]))
			return FAIL;
		if (expect_event(uffd, type, &msg))
			return FAIL;
		if (type == UFFD_EVENT_FORK)
			close(msg.arg.fork.ufd);
		CHECK_EQ(bg_join(&bg, WAIT_MS), 0);
		CHECK_EQ(bg.ret, 0);
		CHECK_MOVE(uffd, d, s, src.ps, 0, 0, src.ps);
		if (expect_page(d, dst.ps, "AB"[i]))
			return FAIL;
	}
	return PASS;
}

/*
 * A write-protected source page (uffd-wp) moves, and its protection does
 * not go with it: move_present_ptes() builds the destination pte from the
 * destination VMA's protection and makes it writable (:1357-1363); only
 * RWP is re-armed, and only when the destination is registered for it
 * (:1365). So the destination is present, writable, without pagemap bit
 * 57 even in a WP-registered range, and the source is a plain hole.
 * (A swapped-out source is different: move_swap_pte() moves the swap pte
 * whole, its uffd-wp bit included, :1449-1455; the guest has no swap.)
 */
int move_wp_src(const struct ctx *c)
{
	const uint64_t mode = UFFDIO_REGISTER_MODE_MISSING |
			      UFFDIO_REGISTER_MODE_WP;
	struct area src, dst;
	int uffd, signo;

	if (anon_pages(&src, c, "W") || anon_pages(&dst, c, "-"))
		return FAIL;
	uffd = uffd_new(UFFD_FEATURE_MOVE | UFFD_FEATURE_PAGEFAULT_FLAG_WP |
			UFFD_FEATURE_SIGBUS);
	SYS(uffd);
	CHECK_EQ(uffd_register(uffd, src.p, src.len, mode, NULL), 0);
	CHECK_EQ(uffd_register(uffd, dst.p, dst.len, mode, NULL), 0);
	CHECK_EQ(uffd_writeprotect(uffd, src.p, src.len, true), 0);
	/* The protection is real before the move. */
	CHECK(pagemap_entry(src.p) & PM_UFFD_WP, "source not protected: %#llx",
	      (unsigned long long)pagemap_entry(src.p));
	CHECK_EQ(touch_here(src.p, true, 'x', &signo, NULL), TOUCH_SIGNAL);
	CHECK_EQ(signo, SIGBUS);

	CHECK_MOVE(uffd, dst.p, src.p, src.ps, 0, 0, src.ps);
	if (expect_page(dst.p, dst.ps, 'W') || expect_hole(src.p))
		return FAIL;
	CHECK(!(pagemap_entry(dst.p) & PM_UFFD_WP),
	      "destination carries uffd-wp: %#llx",
	      (unsigned long long)pagemap_entry(dst.p));
	CHECK(!(pagemap_entry(src.p) & PM_UFFD_WP),
	      "source hole keeps uffd-wp: %#llx",
	      (unsigned long long)pagemap_entry(src.p));
	CHECK_EQ(touch_here(dst.p, true, 'w', &signo, NULL), TOUCH_DONE);
	CHECK_EQ(dst.p[0], 'w');
	return expect_no_message(uffd);
}

/*
 * A three-page move whose middle destination page is populated moves the
 * first page and stops: the ioctl says -EAGAIN, .move says one page
 * (move_pages() returns what it moved, not the error, :2198), the rest is
 * untouched. Repeated from there, as the kernel-doc of move_pages() asks,
 * it names the reason (-EEXIST, in .move too); past it, the last page
 * moves.
 */
int move_partial(const struct ctx *c)
{
	struct area src, dst;
	int uffd;

	if (anon_pages(&src, c, "012") || anon_pages(&dst, c, "-X-"))
		return FAIL;
	uffd = move_uffd(0, &dst, NULL);
	if (uffd < 0)
		return FAIL;
	CHECK_MOVE(uffd, dst.p, src.p, src.len, 0, -EAGAIN, src.ps);
	if (expect_page(dst.p, dst.ps, '0') || expect_hole(src.p) ||
	    expect_page(page_of(&dst, 1), dst.ps, 'X') ||
	    expect_page(page_of(&src, 1), src.ps, '1') ||
	    expect_page(page_of(&src, 2), src.ps, '2') ||
	    expect_hole(page_of(&dst, 2)))
		return FAIL;

	CHECK_MOVE(uffd, page_of(&dst, 1), page_of(&src, 1), 2 * src.ps, 0,
			   -EEXIST, -EEXIST);
	CHECK_MOVE(uffd, page_of(&dst, 2), page_of(&src, 2), src.ps, 0, 0,
			   src.ps);
	if (expect_page(page_of(&dst, 2), dst.ps, '2') ||
	    expect_page(page_of(&src, 1), src.ps, '1'))
		return FAIL;
	return PASS;
}
