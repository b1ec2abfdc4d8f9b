/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The userfaultfd UAPI of the tree under test, plus what later kernels
 * added to it. The same scenario binaries run on every kernel from 6.1 on
 * and find out at run time (UFFDIO_API features and ioctls) what the
 * kernel has: a missing feature is a SKIP, not a build failure. Values
 * are those of include/uapi/linux/userfaultfd.h; they never change once
 * released.
 */
#ifndef UFFD_UAPI_H
#define UFFD_UAPI_H

#include <linux/userfaultfd.h>

/* 6.3: map the page write-protected on the fly. */
#ifndef UFFDIO_CONTINUE_MODE_WP
#define UFFDIO_CONTINUE_MODE_WP		((__u64)1 << 1)
#endif

/* 6.4 */
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED	(1 << 13)
#endif

/* 6.6 */
#ifndef UFFD_FEATURE_POISON
#define UFFD_FEATURE_POISON		(1 << 14)
#define _UFFDIO_POISON			(0x08)
#define UFFDIO_POISON_MODE_DONTWAKE	((__u64)1 << 0)
struct uffdio_poison {
	struct uffdio_range range;
	__u64 mode;
	__s64 updated;
};
#define UFFDIO_POISON	_IOWR(UFFDIO, _UFFDIO_POISON, struct uffdio_poison)
#endif

/* 6.7 */
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC		(1 << 15)
#endif

/* 6.8 */
#ifndef UFFD_FEATURE_MOVE
#define UFFD_FEATURE_MOVE		(1 << 16)
#define _UFFDIO_MOVE			(0x05)
#define UFFDIO_MOVE_MODE_DONTWAKE	((__u64)1 << 0)
#define UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES ((__u64)1 << 1)
struct uffdio_move {
	__u64 dst;
	__u64 src;
	__u64 len;
	__u64 mode;
	__s64 move;
};
#define UFFDIO_MOVE	_IOWR(UFFDIO, _UFFDIO_MOVE, struct uffdio_move)
#endif

/* 7.3 */
#ifndef UFFD_FEATURE_RWP
#define UFFD_FEATURE_RWP		(1 << 17)
#define UFFD_FEATURE_RWP_ASYNC		(1 << 18)
#define UFFDIO_REGISTER_MODE_RWP	((__u64)1 << 3)
#define UFFD_PAGEFAULT_FLAG_RWP		(1 << 3)
#define _UFFDIO_RWPROTECT		(0x09)
#define UFFDIO_RWPROTECT_MODE_RWP	((__u64)1 << 0)
#define UFFDIO_RWPROTECT_MODE_DONTWAKE	((__u64)1 << 1)
struct uffdio_rwprotect {
	struct uffdio_range range;
	__u64 mode;
};
#define UFFDIO_RWPROTECT	_IOWR(UFFDIO, _UFFDIO_RWPROTECT, struct uffdio_rwprotect)
#endif

/* 7.3: switch RWP_ASYNC on and off at run time. */
#ifndef UFFDIO_SET_MODE
#define _UFFDIO_SET_MODE		(0x0A)
struct uffdio_set_mode {
	__u64 enable;
	__u64 disable;
};
#define UFFDIO_SET_MODE	_IOW(UFFDIO, _UFFDIO_SET_MODE, struct uffdio_set_mode)
#endif

#endif
