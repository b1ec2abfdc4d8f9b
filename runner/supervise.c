// SPDX-License-Identifier: GPL-2.0
/*
 * Host supervisor: runs the guest (a UML kernel, or any command replaying a
 * console) in its own session, keeps everything it prints, streams its TAP
 * to stdout, and turns TAP, crash reports, exit status and timeouts into
 * one verdict:
 *
 *   out/results/<run>/console.log   everything the guest printed
 *   out/results/<run>/tap.txt       the TAP lines, as far as they got
 *   out/results/<run>/verdict       one line
 *   out/results/<run>/junit.xml     one testcase per TAP result
 *   out/results/<run>/summary.json  counts, verdict, kernel, durations
 *   out/results/latest -> <run>
 *
 * Exit status: 0 pass, 1 fail/crash/hang/incomplete, 2 setup error,
 * 128+signal when interrupted.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "console-scan.h"
#include "report.h"

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("uffd-uml: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * UML maps its physical memory file with PROT_EXEC; a noexec TMPDIR (as
 * Docker's /dev/shm) makes it die at boot with a message nobody connects
 * to the cause. Check it here, with the fix in the message.
 */
static void check_physmem_dir(const char *dir)
{
	char path[PATH_MAX];
	void *p;
	int fd;

	snprintf(path, sizeof(path), "%s/uffd-uml-execXXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0)
		die("physmem directory %s is not writable: %s (set PHYSMEM_DIR)",
		    dir, strerror(errno));
	unlink(path);
	if (ftruncate(fd, 4096))
		die("physmem directory %s: %s", dir, strerror(errno));
	p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die("physmem directory %s does not allow PROT_EXEC mappings (noexec mount?): set PHYSMEM_DIR to an exec-capable directory",
		    dir);
	munmap(p, 4096);
	close(fd);
}

static void make_run_dir(const char *root, char *run, size_t len)
{
	char stamp[32], link_tmp[PATH_MAX], link[PATH_MAX];
	time_t t = time(NULL);

	if (mkdir(root, 0755) && errno != EEXIST)
		die("cannot create %s: %s", root, strerror(errno));
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", localtime(&t));
	snprintf(run, len, "%s/%s-%d", root, stamp, (int)getpid());
	if (mkdir(run, 0755))
		die("cannot create %s: %s", run, strerror(errno));
	/* Repoint latest atomically: a reader never sees it missing. */
	snprintf(link_tmp, sizeof(link_tmp), "%s/.latest-%d", root,
		 (int)getpid());
	snprintf(link, sizeof(link), "%s/latest", root);
	unlink(link_tmp);
	if (symlink(strrchr(run, '/') + 1, link_tmp) ||
	    rename(link_tmp, link))
		die("cannot update %s: %s", link, strerror(errno));
}

static FILE *open_in(const char *dir, const char *name)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		die("cannot write %s: %s", path, strerror(errno));
	return f;
}

static pid_t start_guest(char **argv, int out_fd, const char *physmem)
{
	pid_t pid = fork();
	int null;

	if (pid)
		return pid;
	setsid();
	null = open("/dev/null", O_RDONLY);
	dup2(null, STDIN_FILENO);
	dup2(out_fd, STDOUT_FILENO);
	dup2(out_fd, STDERR_FILENO);
	/*
	 * The carried "um: unregister the host's rseq area ..." fixes static
	 * UML builds; the tunable keeps kernels without it bootable too.
	 */
	setenv("GLIBC_TUNABLES", "glibc.pthread.rseq=0", 1);
	if (physmem)
		setenv("TMPDIR", physmem, 1);
	execvp(argv[0], argv);
	fprintf(stderr, "uffd-uml: cannot run %s: %s\n", argv[0],
		strerror(errno));
	_exit(127);
}

/*
 * Whether a process of group pgid is still running. Zombies do not count:
 * where PID 1 does not reap orphans, UML's helpers stay zombies forever.
 */
static bool group_alive(pid_t pgid)
{
	char path[300], buf[512], *p;
	struct dirent *e;
	bool alive = false;
	DIR *d = opendir("/proc");

	while (d && !alive && (e = readdir(d))) {
		char state;
		int pgrp;
		ssize_t n;
		int fd;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		/* "pid (comm) state ppid pgrp ...", comm may hold anything */
		p = strrchr(buf, ')');
		if (p && sscanf(p + 1, " %c %*d %d", &state, &pgrp) == 2)
			alive = pgrp == pgid && state != 'Z' && state != 'X';
	}
	if (d)
		closedir(d);
	return alive;
}

static int remove_entry(const char *path, const struct stat *st, int type,
			struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

/*
 * UML keeps its pid file and mconsole socket in <uml_dir>/<umid>/, by
 * default under ~/.uml, and leaves them there when it is killed. Give it
 * a directory of ours, removed with everything in it once it is gone.
 */
static void make_uml_dir(char *dir, size_t len, const char *parent)
{
	snprintf(dir, len, "%s/uffd-uml-XXXXXX", parent);
	if (!mkdtemp(dir))
		die("cannot create a directory in %s: %s", parent,
		    strerror(errno));
}

static void usage(void)
{
	fprintf(stderr,
		"usage: supervise [-t timeout-s] [-o results-root] [-m physmem-dir] [-s source]\n"
		"                 [-u] [-w] [-q] -- command...\n"
		"  -u  the command is UML: give it a private uml_dir, removed afterwards\n"
		"  -w  a WARN in the console is not a crash\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *root = "out/results", *physmem = NULL, *source = NULL;
	long start, boot_ms = -1;
	int timeout_s = 300, opt, pfd[2], pidfd, status = 0;
	bool quiet = false, hung = false, exited = false, uml = false;
	char run[PATH_MAX], buf[4096], verdict[512], uml_dir[PATH_MAX] = "";
	char uml_arg[PATH_MAX + 16], **guest;
	struct console_scan scan;
	FILE *console, *tap, *vf;
	long deadline;
	pid_t pid;
	int rc;

	console_scan_init(&scan);
	while ((opt = getopt(argc, argv, "t:o:m:s:uwq")) != -1) {
		switch (opt) {
		case 't':
			timeout_s = atoi(optarg);
			break;
		case 'o':
			root = optarg;
			break;
		case 'm':
			physmem = optarg;
			break;
		case 's':
			source = optarg;
			break;
		case 'u':
			uml = true;
			break;
		case 'w':
			scan.allow_warn = true;
			break;
		case 'q':
			quiet = true;
			break;
		default:
			usage();
		}
	}
	if (optind >= argc || timeout_s <= 0)
		usage();
	if (physmem)
		check_physmem_dir(physmem);
	/*
	 * Killed with our parent: a make killed by SIGTERM passes it to the
	 * recipe's shell only, and the guest must not outlive them.
	 */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		die("parent exited before the guest started");
	guest = argv + optind;
	if (uml) {
		int n = argc - optind;

		make_uml_dir(uml_dir, sizeof(uml_dir),
			     physmem ? physmem : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		snprintf(uml_arg, sizeof(uml_arg), "uml_dir=%s", uml_dir);
		guest = calloc(n + 2, sizeof(*guest));
		if (!guest)
			die("out of memory");
		memcpy(guest, argv + optind, n * sizeof(*guest));
		guest[n] = uml_arg;
	}

	make_run_dir(root, run, sizeof(run));
	console = open_in(run, "console.log");
	tap = open_in(run, "tap.txt");
	setvbuf(stdout, NULL, _IOLBF, 0);

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (pipe2(pfd, O_CLOEXEC))
		die("pipe: %s", strerror(errno));
	start = now_ms();
	pid = start_guest(guest, pfd[1], physmem);
	if (pid < 0)
		die("fork: %s", strerror(errno));
	close(pfd[1]);
	pidfd = syscall(SYS_pidfd_open, pid, 0);

	deadline = now_ms() + timeout_s * 1000L;
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = pfd[0], .events = POLLIN },
			{ .fd = exited ? -1 : pidfd, .events = POLLIN },
		};
		long left = deadline - now_ms();
		ssize_t n;

		if (interrupted)
			break;
		if (left <= 0) {
			hung = true;
			break;
		}
		if (poll(p, 2, left) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		/* The guest's helpers may hold the pipe after it exits. */
		if (p[1].revents) {
			exited = true;
			deadline = now_ms() + 1000;
		}
		if (!(p[0].revents & (POLLIN | POLLHUP)))
			continue;
		n = read(pfd[0], buf, sizeof(buf));
		if (n <= 0)
			break;
		fwrite(buf, 1, n, console);
		fflush(console);
		console_scan_feed(&scan, buf, n, tap, quiet ? NULL : stdout);
		if (boot_ms < 0 && scan.plan >= 0)
			boot_ms = now_ms() - start;
	}
	console_scan_flush(&scan, tap, quiet ? NULL : stdout);
	/*
	 * The console closes a moment before UML exits (it still removes
	 * its uml_dir): let it finish, or its exit status is our SIGKILL.
	 */
	if (!interrupted && !hung && !exited) {
		struct pollfd p = { .fd = pidfd, .events = POLLIN };

		poll(&p, 1, 2000);
	}
	kill(-pid, SIGKILL);
	waitpid(pid, &status, 0);
	/* The session's other processes (UML's helpers) die with it. */
	for (deadline = now_ms() + 2000; group_alive(pid) && now_ms() < deadline;)
		usleep(10000);
	if (uml_dir[0])
		nftw(uml_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	fclose(console);
	fclose(tap);

	if (interrupted) {
		snprintf(verdict, sizeof(verdict), "interrupted by signal %d",
			 (int)interrupted);
		rc = 128 + interrupted;
	} else if (hung && !exited) {
		snprintf(verdict, sizeof(verdict),
			 "hang: guest still running after %ds%s%s", timeout_s,
			 scan.last_test[0] ? ", last TAP line: " : "",
			 scan.last_test);
		rc = 1;
	} else {
		rc = console_scan_verdict(&scan, status, verdict,
					  sizeof(verdict));
	}
	vf = open_in(run, "verdict");
	fprintf(vf, "%s\n", verdict);
	fclose(vf);
	{
		struct report_info info = { verdict, rc, source,
					    now_ms() - start, boot_ms };

		if (report_write(run, &info))
			fprintf(stderr, "uffd-uml: cannot write junit.xml/summary.json in %s\n",
				run);
	}
	fprintf(stderr, "uffd-uml: %s (%s)\n", verdict, run);
	return rc;
}
