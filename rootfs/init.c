// SPDX-License-Identifier: GPL-2.0
/*
 * PID 1 of the appliance. Mounts what the scenarios look at and hands over
 * to the TAP runner, which writes the verdict to /proc/exitcode and powers
 * off. UML passes unknown NAME=value kernel parameters to init as
 * environment:
 *
 *   UFFD_T                 globs: the scenarios to run
 *   UFFD_SCENARIO_TIMEOUT  seconds per scenario (kselftest: per program)
 *   UFFD_HUGEPAGES         vm.nr_hugepages for the hugetlb memory types
 *   UFFD_ALLOW_TAINT       taint bits the run accepts
 *   UFFD_SHARD             i/N: guest i of N sharing the run (supervise -j)
 *   UFFD_SWAP              a block device to swap on (supervise gives each
 *                          guest a sparse host file as ubd0: /dev/ubda)
 *   UFFD_MODE              scenarios (default); kselftest for the upstream
 *                          selftests; faults to run /tests/fault-inject and
 *                          idle for an init that never powers off (both
 *                          for runner/tests/faults.t); fault-cost to
 *                          time page faults (/tests/fault-cost, for
 *                          runner/bench)
 *
 * In C rather than a busybox script: on UML every fork and exec of the
 * 2 MB busybox is a new host process faulting its pages in, and the
 * script's six commands took 60-100 ms of a 130 ms boot.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/swap.h>
#include <unistd.h>

#define RUNNER "/bin/tap-runner"
#define THP_SYSFS "/sys/kernel/mm/transparent_hugepage/"

/*
 * The tree's uffd programs, as its run_vmtests.sh runs them; uffd-stress
 * on every memory type in short runs (MiB, bounces). uffd-wp-mremap came
 * with 6.13: a program the tree does not have is not in the rootfs.
 */
static const char *const kselftests[] = {
	"/kselftest/uffd-unit-tests",
	"/kselftest/uffd-stress anon 16 4",
	"/kselftest/uffd-stress shmem 16 4",
	"/kselftest/uffd-stress shmem-private 16 4",
	"/kselftest/uffd-stress hugetlb 16 4",
	"/kselftest/uffd-stress hugetlb-private 16 4",
	"/kselftest/uffd-wp-mremap",
};

/* The program of a kselftests[] command line is in the rootfs. */
static int have_program(const char *cmd)
{
	char path[128];

	snprintf(path, sizeof(path), "%.*s", (int)strcspn(cmd, " "), cmd);
	return !access(path, X_OK);
}

static void mount_fs(const char *type, const char *dir, int quiet)
{
	if (mount(type, dir, type, 0, NULL) && !quiet)
		printf("init: mount %s on %s: %s\n", type, dir, strerror(errno));
}

static void write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (write(fd, val, strlen(val)) < 0)
		printf("init: %s: %s\n", path, strerror(errno));
	close(fd);
}

/*
 * mkswap, as the kernel reads it: union swap_header in
 * include/linux/swap.h (version 1, no bad pages, "SWAPSPACE2" at the end
 * of the first page). Here rather than busybox's mkswap and swapon, for
 * the reason at the top; the device is the guest's own, written fresh at
 * every boot. Without it MADV_PAGEOUT of anon memory does nothing, and
 * swap entries (the uffd bit on a swapped-out pte, swap-in of a
 * protected page) would be out of reach.
 */
static void swap_on(const char *dev)
{
	static unsigned int page[4096 / sizeof(unsigned int)];
	long ps = sysconf(_SC_PAGESIZE);
	unsigned long long bytes;
	int fd = open(dev, O_RDWR | O_CLOEXEC);

	if (fd < 0 || ps != sizeof(page) || ioctl(fd, BLKGETSIZE64, &bytes)) {
		printf("init: swap on %s: %s\n", dev, strerror(errno));
		goto out;
	}
	page[1024 / sizeof(*page)] = 1;			/* version */
	page[1024 / sizeof(*page) + 1] = bytes / ps - 1;	/* last_page */
	memcpy((char *)page + ps - 10, "SWAPSPACE2", 10);
	if (pwrite(fd, page, ps, 0) != ps || fsync(fd) || swapon(dev, 0))
		printf("init: swap on %s: %s\n", dev, strerror(errno));
out:
	if (fd >= 0)
		close(fd);
}

static const char *env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);

	return v && *v ? v : dflt;
}

/* tap-runner's options for a scenario run, where the host set them. */
static const struct {
	const char *env, *flag;
} options[] = {
	{ "UFFD_ALLOW_TAINT", "-a" },
	{ "UFFD_T", "-f" },
	{ "UFFD_SHARD", "-s" },
};

int main(void)
{
	const char *mode = env_or("UFFD_MODE", "scenarios");
	const char *argv[32];
	size_t i, argc = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	mount_fs("proc", "/proc", 0);
	mount_fs("sysfs", "/sys", 0);
	mount_fs("devtmpfs", "/dev", 0);
	mount_fs("tmpfs", "/tmp", 0);
	/* For lkdtm and the kselftest gup tests; not every config has it. */
	mount_fs("debugfs", "/sys/kernel/debug", 1);
	write_file("/proc/sys/vm/nr_hugepages", env_or("UFFD_HUGEPAGES", "16"));
	/*
	 * The kernels are built for madvise mode, but below 512 MiB of
	 * memory, as guests are, hugepage_init() clears every THP flag:
	 * restore the built-in defaults (transparent_hugepage_flags), the
	 * huge zero page among them. Without THP the files are not there.
	 */
	write_file(THP_SYSFS "enabled", "madvise");
	write_file(THP_SYSFS "defrag", "madvise");
	write_file(THP_SYSFS "khugepaged/defrag", "1");
	write_file(THP_SYSFS "use_zero_page", "1");
	/* shmem THP too, for what asks for it (MADV_HUGEPAGE). */
	write_file(THP_SYSFS "shmem_enabled", "advise");
	if (getenv("UFFD_SWAP"))
		swap_on(getenv("UFFD_SWAP"));

	if (!strcmp(mode, "idle"))
		for (;;)
			pause();

	argv[argc++] = RUNNER;
	argv[argc++] = "-p";
	argv[argc++] = "-e";
	argv[argc++] = "/proc/exitcode";
	argv[argc++] = "-t";
	if (!strcmp(mode, "kselftest")) {
		argv[argc++] = env_or("UFFD_SCENARIO_TIMEOUT", "900");
		for (i = 0; i < sizeof(kselftests) / sizeof(*kselftests); i++) {
			if (!have_program(kselftests[i]))
				continue;
			argv[argc++] = "-k";
			argv[argc++] = kselftests[i];
		}
	} else {
		argv[argc++] = env_or("UFFD_SCENARIO_TIMEOUT", "30");
		for (i = 0; i < sizeof(options) / sizeof(*options); i++) {
			if (!getenv(options[i].env))
				continue;
			argv[argc++] = options[i].flag;
			argv[argc++] = getenv(options[i].env);
		}
		argv[argc++] = !strcmp(mode, "faults") ? "/tests/fault-inject" :
			       !strcmp(mode, "fault-cost") ? "/tests/fault-cost" :
							      "/tests/uffd-scenarios";
	}
	argv[argc] = NULL;
	execv(RUNNER, (char **)argv);

	/* No plan on the console: the host reports the run as incomplete. */
	printf("init: cannot run %s: %s\n", RUNNER, strerror(errno));
	write_file("/proc/exitcode", "2\n");
	sync();
	reboot(RB_POWER_OFF);
	return 2;
}
