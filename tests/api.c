// SPDX-License-Identifier: GPL-2.0
/*
 * F1. The UFFDIO_API handshake. Masked features must be refused: fixed by
 * 1723f04caacb ("userfaultfd: check for unsupported features"; older
 * kernels ignored them silently). FORK needs CAP_SYS_PTRACE since
 * 3c1c24d91ffd ("userfaultfd: require CAP_SYS_PTRACE for
 * UFFD_FEATURE_EVENT_FORK").
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

#include "scenarios.h"

/* What every kernel since 4.14 advertises, hugetlbfs built in or not. */
#define BASE_FEATURES (UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_EVENT_REMAP | \
		       UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP | \
		       UFFD_FEATURE_MISSING_SHMEM | UFFD_FEATURE_MISSING_HUGETLBFS | \
		       UFFD_FEATURE_SIGBUS | UFFD_FEATURE_THREAD_ID)

static int api_call(int fd, uint64_t api, uint64_t features,
		    struct uffdio_api *out)
{
	out->api = api;
	out->features = features;
	out->ioctls = SENTINEL;
	return ioctl(fd, UFFDIO_API, out) ? -errno : 0;
}

static bool api_zeroed(const struct uffdio_api *a)
{
	return !a->api && !a->features && !a->ioctls;
}

static int drop_cap(int cap)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	data[cap / 32].effective &= ~(1U << (cap % 32));
	return syscall(SYS_capset, &hdr, data) ? -errno : 0;
}

/*
 * In a child: without CAP_SYS_PTRACE, EVENT_FORK is EPERM, not sticky. The
 * fd is opened first: with vm.unprivileged_userfaultfd=0 the syscall
 * itself needs the capability.
 */
static int fork_needs_ptrace(void)
{
	struct uffdio_api api;
	int fd;

	fd = uffd_open_raw(O_CLOEXEC | O_NONBLOCK);
	SYS(fd);
	SYS(drop_cap(CAP_SYS_PTRACE));
	CHECK_EQ(api_call(fd, UFFD_API, UFFD_FEATURE_EVENT_FORK, &api), -EPERM);
	CHECK(api_zeroed(&api), "struct not zeroed after EPERM");
	CHECK_EQ(api_call(fd, UFFD_API, 0, &api), 0);
	return PASS;
}

int api_contract(const struct ctx *c)
{
	uint64_t known = UFFD_API_FEATURES, masked;
	struct uffdio_api api;
	struct pollfd pfd;
	char buf[sizeof(struct uffd_msg)];
	int fd, status;
	pid_t pid;

	(void)c;
	fd = uffd_open_raw(O_CLOEXEC | O_NONBLOCK);
	SYS(fd);

	/* Before UFFDIO_API nothing else works. */
	CHECK_EQ(uffd_register(fd, buf, sizeof(buf),
			       UFFDIO_REGISTER_MODE_MISSING, NULL), -EINVAL);
	CHECK_EQ(read(fd, buf, sizeof(buf)), -1);
	CHECK_EQ(errno, EINVAL);
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	CHECK_EQ(poll(&pfd, 1, 0), 1);
	CHECK_EQ(pfd.revents & POLLERR, POLLERR);

	/* Wrong api, unknown feature, feature masked on this build. */
	CHECK_EQ(api_call(fd, UFFD_API + 1, 0, &api), -EINVAL);
	CHECK(api_zeroed(&api), "struct not zeroed after bad api");
	CHECK_EQ(api_call(fd, UFFD_API, 1ULL << 63, &api), -EINVAL);
	CHECK(api_zeroed(&api), "struct not zeroed after unknown feature");
	masked = known & ~c->features;
	if (masked) {
		uint64_t bit = masked & -masked;

		CHECK_EQ(api_call(fd, UFFD_API, bit, &api), -EINVAL);
		diag("masked on this kernel: %#llx, requesting %s refused",
		     (unsigned long long)masked, uffd_feature_name(bit));
	}

	/* The handshake proper. */
	CHECK_EQ(api_call(fd, UFFD_API, 0, &api), 0);
	CHECK_EQ(api.api, UFFD_API);
	CHECK_EQ(api.ioctls & UFFD_API_IOCTLS, UFFD_API_IOCTLS);
	CHECK_EQ(api.features & BASE_FEATURES, BASE_FEATURES);
	CHECK_EQ(api.features & ~known, 0);
	diag("features %#llx ioctls %#llx", (unsigned long long)api.features,
	     (unsigned long long)api.ioctls);

	/* Once only. */
	CHECK_EQ(api_call(fd, UFFD_API, 0, &api), -EINVAL);
	CHECK(api_zeroed(&api), "struct not zeroed after second UFFDIO_API");
	CHECK_EQ(ioctl(fd, _IO(UFFDIO, 0x30), 0), -1);
	CHECK_EQ(errno, EINVAL);
	close(fd);

	pid = fork();
	SYS(pid);
	if (!pid)
		_exit(fork_needs_ptrace());
	SYS(waitpid(pid, &status, 0));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == PASS,
	      "CAP_SYS_PTRACE check failed in child (status %#x)", status);
	return PASS;
}
