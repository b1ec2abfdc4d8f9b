/* SPDX-License-Identifier: GPL-2.0 */
/*
 * PAGEMAP_SCAN (include/uapi/linux/fs.h) for trees whose UAPI predates
 * it (6.7) or its PAGE_IS_ACCESSED category (7.3, with RWP). Scenarios
 * that use them need the uffd feature that came along, so older kernels
 * SKIP before any scan.
 */
#ifndef PAGEMAP_SCAN_H
#define PAGEMAP_SCAN_H

#include <linux/fs.h>

#include "uffd-common.h"

#ifndef PAGEMAP_SCAN
#define PAGEMAP_SCAN		_IOWR('f', 16, struct pm_scan_arg)
#define PAGE_IS_WRITTEN		(1 << 1)
#define PAGE_IS_PRESENT		(1 << 3)
#define PM_SCAN_WP_MATCHING	(1 << 0)
#define PM_SCAN_CHECK_WPASYNC	(1 << 1)
struct page_region {
	__u64 start;
	__u64 end;
	__u64 categories;
};
struct pm_scan_arg {
	__u64 size;
	__u64 flags;
	__u64 start;
	__u64 end;
	__u64 walk_end;
	__u64 vec;
	__u64 vec_len;
	__u64 max_pages;
	__u64 category_inverted;
	__u64 category_mask;
	__u64 category_anyof_mask;
	__u64 return_mask;
};
#endif

#ifndef PAGE_IS_ACCESSED
#define PAGE_IS_ACCESSED	(1 << 9)
#endif

/*
 * One PAGEMAP_SCAN over the whole of a (at most 32 regions, a has at
 * most 63 pages) with arg's masks and flags; the rest of arg is filled
 * in here. The pages it reports as a bit mask (page n is bit n), or
 * -errno.
 */
long scan_area(const struct area *a, struct pm_scan_arg *arg);

#endif
