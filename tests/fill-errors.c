// SPDX-License-Identifier: GPL-2.0
/*
 * Fill error paths when a resource runs out mid-fill (realbugs D).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <unistd.h>

#include "scenarios.h"

/* Small enough to fill at once, big enough for the 2-page file. */
#define TMPFS_SIZE "size=64k"

struct copy_call {
	int uffd;
	char *dst, *src;
	size_t len;
	int64_t out;
};

static long do_copy(void *arg)
{
	struct copy_call *cc = arg;

	return uffd_copy(cc->uffd, cc->dst, cc->src, cc->len, 0, &cc->out);
}

/* Writes pages to path until the filesystem is full; 0 once ENOSPC. */
static int fill_fs(const char *path, size_t ps)
{
	char *buf = src_pages(ps, 'F');
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	int i;

	if (fd < 0 || !buf)
		return -1;
	for (i = 0; i < 1024; i++) {
		if (write(fd, buf, ps) < 0) {
			int err = errno;

			close(fd);
			return err == ENOSPC ? 0 : -1;
		}
	}
	close(fd);
	return -1;
}

/*
 * Where the fill's page comes from, and how the source's monitor takes
 * the last of it: a file on a size-limited tmpfs that a second file
 * fills, or a hugetlb file mapped without a reservation whose pool a
 * second hugetlb mapping's reservation empties.
 */
struct full {
	const struct mem_type *mt;
	size_t ps;
	char dir[32], file[64], filler[64];
	int fd;
	char *dst;
	char *hog;	/* hugetlb: the mapping holding the pool */
	size_t hog_len;
};

static int full_setup(struct full *f)
{
	if (f->mt->flag == MEM_HUGETLB) {
		f->fd = mem_memfd(f->mt, 2 * f->ps);
		SYS(f->fd);
		f->dst = mmap(NULL, 2 * f->ps, PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_NORESERVE, f->fd, 0);
		SYS(f->dst == MAP_FAILED ? -1 : 0);
		return PASS;
	}
	strcpy(f->dir, "/tmp/uffd-fullXXXXXX");
	SYS(mkdtemp(f->dir) ? 0 : -1);
	SYS(mount("tmpfs", f->dir, "tmpfs", 0, TMPFS_SIZE));
	snprintf(f->file, sizeof(f->file), "%s/file", f->dir);
	snprintf(f->filler, sizeof(f->filler), "%s/filler", f->dir);
	f->fd = open(f->file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	SYS(f->fd);
	SYS(ftruncate(f->fd, 2 * f->ps));
	f->dst = mmap(NULL, 2 * f->ps, PROT_READ | PROT_WRITE, MAP_SHARED,
		      f->fd, 0);
	SYS(f->dst == MAP_FAILED ? -1 : 0);
	return PASS;
}

static int full_exhaust(struct full *f)
{
	unsigned long n = free_huge_unreserved();
	int fd;

	if (f->mt->flag != MEM_HUGETLB) {
		CHECK_EQ(fill_fs(f->filler, f->ps), 0);
		return PASS;
	}
	CHECK(n > 0, "no free huge page left to take");
	f->hog_len = n * f->ps;
	fd = mem_memfd(f->mt, f->hog_len);
	SYS(fd);
	f->hog = mmap(NULL, f->hog_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		      fd, 0);
	close(fd);
	SYS(f->hog == MAP_FAILED ? -1 : 0);
	/*
	 * Its reservation takes the pool: a fill into the MAP_NORESERVE
	 * destination may not take a reserved page (the dequeue refuses
	 * once free_huge_pages == resv_huge_pages, and there is no
	 * overcommit), so the hog's pages need not be faulted in, which
	 * would clear 2 MiB each.
	 */
	CHECK_EQ(free_huge_unreserved(), 0);
	return PASS;
}

static int full_release(struct full *f)
{
	if (f->mt->flag == MEM_HUGETLB)
		SYS(munmap(f->hog, f->hog_len));
	else
		SYS(unlink(f->filler));
	return PASS;
}

static void full_teardown(struct full *f)
{
	munmap(f->dst, 2 * f->ps);
	close(f->fd);
	if (f->mt->flag != MEM_HUGETLB) {
		unlink(f->file);
		umount2(f->dir, MNT_DETACH);
		rmdir(f->dir);
	}
}

/*
 * D1, after 7ed9d238c7db ("userfaultfd: release page in error path to
 * avoid BUG_ON"): UFFDIO_COPY whose source is a hole registered on a
 * second uffd. The atomic copy fails, so the fill drops its locks and
 * copies with faults (the -ENOENT retry, holding a freshly allocated
 * folio); the source's monitor takes the last free page (tmpfs blocks,
 * the hugetlb pool) before resolving. The fill must then fail with
 * ENOMEM in the return value and in uffdio_copy.copy, drop its folio (no
 * BUG, no taint, no page left in the file, the hugetlb pool whole again
 * afterwards) and work again once the page is back.
 */
int copy_full_retry(const struct ctx *c)
{
	unsigned long taint = tainted();
	struct full f = { .mt = c->mt, .ps = c->mt->page_size() };
	struct copy_call cc = { 0 };
	struct uffd_msg msg;
	int src_uffd;
	int64_t out;
	struct bg bg;
	char *fill;
	unsigned long huge_before = 0;

	if (f.mt->flag == MEM_HUGETLB)
		huge_before = free_huge_unreserved();
	if (full_setup(&f))
		return FAIL;
	cc.dst = f.dst;
	cc.uffd = uffd_new(0);
	SYS(cc.uffd);
	CHECK_EQ(uffd_register(cc.uffd, cc.dst, 2 * f.ps,
			       UFFDIO_REGISTER_MODE_MISSING, NULL), 0);
	cc.src = mmap(NULL, f.ps, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	SYS(cc.src == MAP_FAILED ? -1 : 0);
	src_uffd = uffd_new(0);
	SYS(src_uffd);
	CHECK_EQ(uffd_register(src_uffd, cc.src, f.ps,
			       UFFDIO_REGISTER_MODE_MISSING, NULL), 0);
	fill = src_pages(f.ps, 'D');
	CHECK(fill, "no source buffer");
	cc.len = f.ps;
	cc.out = SENTINEL;

	SYS(bg_start(&bg, do_copy, &cc));
	/* The retry path's copy_from_user() is what faults the source. */
	if (expect_event(src_uffd, UFFD_EVENT_PAGEFAULT, &msg)) {
		diag("the copy did not take the retry path");
		return FAIL;
	}
	CHECK_EQ(msg.arg.pagefault.address, (uintptr_t)cc.src);
	if (full_exhaust(&f))
		return FAIL;
	CHECK_EQ(uffd_copy(src_uffd, cc.src, fill, f.ps, 0, &out), 0);
	CHECK_EQ(bg_join(&bg, WAIT_MS), 0);
	CHECK_EQ(bg.ret, -ENOMEM);
	CHECK_EQ(cc.out, -ENOMEM);
	CHECK_EQ(pagemap_entry(cc.dst) & PM_PRESENT, 0);
	CHECK_EQ(file_blocks(f.fd), 0);

	/* With the page back, the same fill succeeds: nothing was leaked. */
	if (full_release(&f))
		return FAIL;
	CHECK_EQ(uffd_copy(cc.uffd, cc.dst, cc.src, f.ps, 0, &out), 0);
	CHECK_EQ(out, (int64_t)f.ps);
	CHECK(all_bytes(cc.dst, 'D', f.ps), "the fill did not land");
	if (expect_no_message(cc.uffd) || expect_no_message(src_uffd))
		return FAIL;
	full_teardown(&f);
	CHECK_EQ(tainted(), taint);
	/* The pool is whole again: the fill's temporary huge page went back. */
	if (f.mt->flag == MEM_HUGETLB)
		CHECK_EQ(free_huge_unreserved(), huge_before);
	return PASS;
}

/*
 * A COPY into page 0 of c->mt waiting in its -ENOENT retry: its source,
 * an anonymous hole registered on a second uffd, has faulted. meanwhile()
 * runs before the source is resolved; the COPY's result is then judged.
 */
struct retry {
	struct area a;
	struct copy_call cc;
	int src_uffd;
	char *fill;
	struct bg bg;
};

static int retry_start(const struct ctx *c, struct retry *r,
		       uint64_t features)
{
	struct uffd_msg msg;

	if (area_alloc(&r->a, c->mt, 2, PROT_READ | PROT_WRITE))
		return FAIL;
	r->cc.uffd = uffd_for_area(&r->a, features,
				   UFFDIO_REGISTER_MODE_MISSING);
	r->cc.dst = r->a.p;
	r->cc.len = r->a.ps;
	r->cc.out = SENTINEL;
	r->cc.src = mmap(NULL, r->a.ps, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	r->src_uffd = uffd_new(0);
	r->fill = src_pages(r->a.ps, 'D');
	if (r->cc.uffd < 0 || r->cc.src == MAP_FAILED || r->src_uffd < 0 ||
	    !r->fill)
		return FAIL;
	CHECK_EQ(uffd_register(r->src_uffd, r->cc.src, r->a.ps,
			       UFFDIO_REGISTER_MODE_MISSING, NULL), 0);
	SYS(bg_start(&r->bg, do_copy, &r->cc));
	if (expect_event(r->src_uffd, UFFD_EVENT_PAGEFAULT, &msg)) {
		diag("the copy did not take the retry path");
		return FAIL;
	}
	return PASS;
}

/* Resolves the source; the COPY then finishes with *ret. */
static int retry_finish(struct retry *r, long *ret)
{
	int64_t out;

	CHECK_EQ(uffd_copy(r->src_uffd, r->cc.src, r->fill, r->a.ps, 0, &out),
		 0);
	CHECK_EQ(bg_join(&r->bg, WAIT_MS), 0);
	*ret = r->bg.ret;
	return PASS;
}

/*
 * The source's monitor fills the destination page itself (with 'H')
 * while the COPY waits: the COPY must then find the page there and fail
 * with EEXIST (return and copy) instead of replacing it.
 */
int copy_retry_filled(const struct ctx *c)
{
	struct retry r = { 0 };
	int64_t out;
	char *h;
	long ret;

	if (retry_start(c, &r, 0))
		return FAIL;
	h = src_pages(r.a.ps, 'H');
	CHECK(h, "no source buffer");
	CHECK_EQ(uffd_copy(r.cc.uffd, r.a.p, h, r.a.ps, 0, &out), 0);
	if (retry_finish(&r, &ret))
		return FAIL;
	CHECK_EQ(ret, -EEXIST);
	CHECK_EQ(r.cc.out, -EEXIST);
	CHECK(all_bytes(r.a.p, 'H', r.a.ps),
	      "the retried COPY replaced a page filled meanwhile");
	return expect_no_message(r.cc.uffd);
}

struct unmap_call {
	char *p;
	size_t len;
};

static long do_unmap_page(void *arg)
{
	struct unmap_call *u = arg;

	return munmap(u->p, u->len);
}

/*
 * The source's monitor unmaps the destination's page 1 (EVENT_UNMAP)
 * while the COPY waits: with the event unread, mmap_changing is raised
 * and the retried COPY must fail with EAGAIN; once read, it works.
 */
int copy_retry_event(const struct ctx *c)
{
	struct retry r = { 0 };
	struct unmap_call u;
	struct uffd_msg msg;
	struct bg unmap;
	int64_t out;
	long ret;

	if (retry_start(c, &r, UFFD_FEATURE_EVENT_UNMAP))
		return FAIL;
	u = (struct unmap_call){ page_of(&r.a, 1), r.a.ps };
	SYS(bg_start(&unmap, do_unmap_page, &u));
	if (expect_event_queued(r.cc.uffd) || retry_finish(&r, &ret))
		return FAIL;
	CHECK_EQ(ret, -EAGAIN);
	/* From inside the fill, so every kernel writes it (not only 6.9+). */
	CHECK_EQ(r.cc.out, -EAGAIN);
	if (expect_event(r.cc.uffd, UFFD_EVENT_UNMAP, &msg))
		return FAIL;
	CHECK_EQ(bg_join(&unmap, WAIT_MS), 0);
	CHECK_EQ(unmap.ret, 0);
	CHECK_EQ(uffd_copy(r.cc.uffd, r.a.p, r.fill, r.a.ps, 0, &out), 0);
	CHECK(all_bytes(r.a.p, 'D', r.a.ps), "the fill did not land");
	return expect_no_message(r.cc.uffd);
}
