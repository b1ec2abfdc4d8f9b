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
 *   UFFD_MODE              scenarios (default); kselftest for the upstream
 *                          selftests; faults to run /tests/fault-inject and
 *                          idle for an init that never powers off (both
 *                          for runner/tests/faults.t)
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
#include <sys/mount.h>
#include <sys/reboot.h>
#include <unistd.h>

#define RUNNER "/bin/tap-runner"

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
		argv[argc++] = strcmp(mode, "faults") ? "/tests/uffd-scenarios" :
							"/tests/fault-inject";
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
