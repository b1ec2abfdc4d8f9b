// SPDX-License-Identifier: GPL-2.0
/*
 * Guest TAP runner, started by /init. Runs every scenario that the test
 * binaries list (optionally filtered by globs) in its own process group
 * with a timeout, turns exit codes and signals into TAP results, prints
 * one TAP stream on the console, and hands the verdict to the host through
 * /proc/exitcode before powering off.
 *
 * With -s i/N it is guest i of N sharing one run (supervise -j): instead
 * of the whole list it runs the scenarios whose indices the host sends on
 * stdin, one per line, until an index past the list.
 *
 * Scenario protocol (kselftest's): exit 0 pass, 4 skip (reason on the last
 * "skip: " line), anything else fail. Every output line becomes a TAP
 * diagnostic, so a failure explains itself in the log.
 *
 * With -k, upstream kselftest programs run as they are (uffd-unit-tests,
 * uffd-stress): each "Testing X... done|failed|skipped" line they print is
 * a TAP result, and a program that prints none is one result by its exit
 * status. Their count is only known at the end, so is the plan.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_CASES 4096
#define SKIP_EXIT 4

struct test_case {
	const char *bin;
	char *id;
};

static struct test_case cases[MAX_CASES];
static int nr_cases;

/* One write() per line, so kernel messages cannot split a TAP line. */
static void out(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(STDOUT_FILENO, buf, n) < 0)
		_exit(3);
}

static bool matches(const char *id, const char *filters)
{
	char *buf, *tok, *save;
	bool hit = false;

	if (!filters || !*filters)
		return true;
	/* As long as the host passed it: a cut list would drop scenarios. */
	buf = strdup(filters);
	if (!buf)
		return true;
	for (tok = strtok_r(buf, ",", &save); tok && !hit;
	     tok = strtok_r(NULL, ",", &save))
		hit = !fnmatch(tok, id, 0);
	free(buf);
	return hit;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

enum outcome { PASSED, SKIPPED, FAILED };

static int counts[3], results;

static void result(enum outcome o, const char *name, const char *why)
{
	results++;
	counts[o]++;
	if (o == PASSED)
		out("ok %d %s", results, name);
	else if (o == SKIPPED)
		out("ok %d %s # SKIP %s", results, name, why);
	else
		out("not ok %d %s # %s", results, name, why);
}

/*
 * kselftest output, one result per test: up to 6.12 "Testing <name>...
 * done|skipped [...]|failed [...]"; since 6.13 KTAP from kselftest.h,
 * "ok|not ok <n> <description>". ksft_test_result_skip() prints no
 * description, only "ok <n> # SKIP <message>": the test is then named by
 * its message up to a trailing "(<reason>)" (uffd-unit-tests: "<test> on
 * <memory> (<reason>)"), else by the last "[RUN] <name>" the program
 * printed, else after the program.
 */
struct ksft_state {
	char pending[512];	/* a test started and not reported yet */
	char run[512];		/* the last "# [RUN] <name>" */
	const char *program;
};

static bool ksft_ktap(struct ksft_state *k, const char *line)
{
	const char *desc, *hash, *why, *paren;
	char name[512];
	bool ok = !strncmp(line, "ok ", 3), skipped;

	if (!strncmp(line, "# [RUN] ", 8)) {
		snprintf(k->run, sizeof(k->run), "%s", line + 8);
		return false;
	}
	if (!ok && strncmp(line, "not ok ", 7))
		return false;
	desc = line + (ok ? 3 : 7);
	desc += strspn(desc, "0123456789");
	desc += strspn(desc, " -");
	hash = strstr(desc, "# ");
	why = hash ? hash + 2 : "failed";
	skipped = ok && !strncmp(why, "SKIP", 4);
	if (skipped)
		why += why[4] == ' ' ? 5 : 4;
	if (hash != desc) {
		snprintf(name, sizeof(name), "%.*s",
			 (int)(hash ? hash - desc - 1 : (long)strlen(desc)), desc);
	} else if (skipped && (paren = strrchr(why, '(')) && paren > why + 1 &&
		   why[strlen(why) - 1] == ')') {
		snprintf(name, sizeof(name), "%.*s", (int)(paren - why - 1), why);
		why = paren;
	} else {
		snprintf(name, sizeof(name), "%s", k->run[0] ? k->run : k->program);
	}
	k->run[0] = '\0';
	if (skipped)
		result(SKIPPED, name, why);
	else if (ok)
		result(PASSED, name, NULL);
	else
		result(FAILED, name, why);
	return true;
}

static bool ksft_line(struct ksft_state *k, const char *line)
{
	const char *dots, *verdict;
	char name[512];

	if (ksft_ktap(k, line))
		return true;
	if (strncmp(line, "Testing ", 8) || !(dots = strstr(line, "... ")))
		return false;
	snprintf(name, sizeof(name), "%.*s", (int)(dots - line - 8), line + 8);
	verdict = dots + 4;
	if (!*verdict) {
		snprintf(k->pending, sizeof(k->pending), "%s", name);
		return false;
	}
	k->pending[0] = '\0';
	if (!strncmp(verdict, "done", 4))
		result(PASSED, name, NULL);
	else if (!strncmp(verdict, "skipped", 7))
		result(SKIPPED, name, verdict + 8);
	else
		result(FAILED, name, verdict);
	return true;
}

/* How a child ran: what the verdict is made of. */
struct run {
	int status;
	bool timed_out;
	bool stuck;		/* did not die of SIGKILL: see reap() */
	char skip_reason[1024];
};

/*
 * How long a SIGKILLed child may take to die. One that takes longer is
 * stuck in the kernel in an uninterruptible sleep (D state: a deadlock,
 * a lost wakeup), which no signal ends: waiting for it would hang the
 * guest until the host's TIMEOUT, with no word of which scenario it was.
 */
#define STUCK_MS	5000

/* Waits up to STUCK_MS for pid to exit; false if it did not. */
static bool reap(pid_t pid, int pidfd, int *status)
{
	long deadline = now_ms() + STUCK_MS;

	for (;;) {
		struct pollfd p = { .fd = pidfd, .events = POLLIN };
		long left = deadline - now_ms();

		if (waitpid(pid, status, WNOHANG) == pid)
			return true;
		if (left <= 0)
			return false;
		/* Without a pidfd (pre-5.3 kernel), look again in 10 ms. */
		if (pidfd < 0 || poll(&p, 1, left) < 0)
			usleep(10000);
	}
}

/*
 * A stuck child's threads and their states, as diagnostics of its result,
 * and every blocked task's stack on the console (sysrq w; see
 * console.log). UML's wchan is no help: it names the switch code.
 */
static void show_stuck(pid_t pid)
{
	char path[320], buf[512], *p, *q;
	struct dirent *e;
	DIR *d;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	while (d && (e = readdir(d))) {
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", (int)pid,
			 e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
		if (fd >= 0)
			close(fd);
		buf[n > 0 ? n : 0] = '\0';
		/* "tid (comm) state ...", comm may hold anything */
		p = strchr(buf, '(');
		q = strrchr(buf, ')');
		if (p && q > p && q[1] == ' ')
			out("# thread %s (%.*s): state %c", e->d_name,
			    (int)(q - p - 1), p + 1, q[2]);
	}
	if (d)
		closedir(d);
	fd = open("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC);
	if (fd >= 0 && write(fd, "w", 1) == 1)
		out("# the stacks of the blocked tasks: sysrq w, in console.log");
	if (fd >= 0)
		close(fd);
}

/*
 * Runs argv in its own process group, feeding each output line to
 * on_line (or printing it as a diagnostic when on_line declines it) until
 * the child exits (its pidfd becomes readable) or the deadline passes.
 */
static void run_child(char *const argv[], int timeout_s,
		      bool (*on_line)(void *arg, const char *line), void *arg,
		      struct run *run)
{
	char buf[4096], line[1024];
	size_t len = 0;
	long deadline = now_ms() + timeout_s * 1000L;
	bool eof = false, exited = false;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int pfd[2], pidfd, err;
	pid_t pid;

	memset(run, 0, sizeof(*run));
	run->status = 127 << 8;
	if (pipe2(pfd, O_CLOEXEC))
		return;
	/*
	 * posix_spawn (musl: vfork-style clone) rather than fork: on UML
	 * fork copies the runner's address space into a new host process,
	 * about 1-2 ms per scenario more.
	 */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], STDERR_FILENO);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setpgroup(&attr, 0);
	err = posix_spawn(&pid, argv[0], &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(pfd[1]);
	if (err) {
		close(pfd[0]);
		return;
	}
	pidfd = syscall(SYS_pidfd_open, pid, 0);

	while (!eof || !exited) {
		struct pollfd p[2] = {
			{ .fd = eof ? -1 : pfd[0], .events = POLLIN },
			{ .fd = exited ? -1 : pidfd, .events = POLLIN },
		};
		long left = deadline - now_ms();
		ssize_t r;

		if (left <= 0) {
			run->timed_out = true;
			break;
		}
		if (poll(p, 2, left) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			exited = true;
		if (!p[0].revents)
			continue;
		r = read(pfd[0], buf, sizeof(buf));
		if (r <= 0) {
			eof = true;
			continue;
		}
		for (ssize_t i = 0; i < r; i++) {
			if (buf[i] != '\n' && len < sizeof(line) - 1) {
				line[len++] = buf[i];
				continue;
			}
			if (buf[i] != '\n')
				continue;
			line[len] = '\0';
			len = 0;
			/* The reason goes into the SKIP directive instead. */
			if (!strncmp(line, "skip: ", 6))
				snprintf(run->skip_reason,
					 sizeof(run->skip_reason), "%s",
					 line + 6);
			else if (!on_line || !on_line(arg, line))
				out("# %s", line);
		}
		/* The child is gone; whatever it forked goes with it. */
		if (exited)
			kill(-pid, SIGKILL);
	}
	kill(-pid, SIGKILL);
	run->stuck = !reap(pid, pidfd, &run->status);
	if (run->stuck)
		show_stuck(pid);
	close(pfd[0]);
	if (pidfd >= 0)
		close(pidfd);
}

struct list_state {
	const char *bin, *filters;
};

static bool list_line(void *arg, const char *line)
{
	struct list_state *ls = arg;

	if (!*line || !matches(line, ls->filters) || nr_cases >= MAX_CASES)
		return true;
	cases[nr_cases].bin = ls->bin;
	cases[nr_cases].id = strdup(line);
	nr_cases++;
	return true;
}

/* Spawned directly: popen()'s shell is one more busybox exec on UML. */
static int list_cases(const char *bin, const char *filters, int timeout_s)
{
	char *const argv[] = { (char *)bin, "--list", NULL };
	struct list_state ls = { bin, filters };
	struct run run;

	run_child(argv, timeout_s, list_line, &ls, &run);
	return !run.timed_out && WIFEXITED(run.status) &&
	       !WEXITSTATUS(run.status) ? 0 : -1;
}

/* The verdict of a child that is one result by itself. */
static void result_of(const struct run *run, const char *name, int timeout_s)
{
	char why[1100];

	if (run->stuck) {
		snprintf(why, sizeof(why),
			 "TIMEOUT after %ds, and SIGKILL did not end it in %d ms: stuck in the kernel",
			 timeout_s, STUCK_MS);
		result(FAILED, name, why);
	} else if (run->timed_out) {
		snprintf(why, sizeof(why), "TIMEOUT after %ds", timeout_s);
		result(FAILED, name, why);
	} else if (WIFSIGNALED(run->status)) {
		snprintf(why, sizeof(why), "killed by signal %d (%s)",
			 WTERMSIG(run->status), strsignal(WTERMSIG(run->status)));
		result(FAILED, name, why);
	} else if (WEXITSTATUS(run->status) == 0) {
		result(PASSED, name, NULL);
	} else if (WEXITSTATUS(run->status) == SKIP_EXIT) {
		result(SKIPPED, name, *run->skip_reason ? run->skip_reason :
		       "no reason given");
	} else {
		snprintf(why, sizeof(why), "exit status %d",
			 WEXITSTATUS(run->status));
		result(FAILED, name, why);
	}
}

/*
 * Where the time goes, printed at the end: the slowest scenarios, and
 * what a typical one takes (the floor a faster host or kernel lowers).
 */
#define SLOWEST 5
static struct { const char *id; long ms; } slowest[SLOWEST];
static long scenarios_ms, run_ms[MAX_CASES];
static int nr_run;

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

static void account(const char *id, long ms)
{
	int i, j;

	if (nr_run < MAX_CASES)
		run_ms[nr_run] = ms;
	nr_run++;
	scenarios_ms += ms;
	for (i = 0; i < SLOWEST && slowest[i].id && slowest[i].ms >= ms; i++)
		;
	if (i == SLOWEST)
		return;
	for (j = SLOWEST - 1; j > i; j--)
		slowest[j] = slowest[j - 1];
	slowest[i].id = id;
	slowest[i].ms = ms;
}

/* Taint bits the run accepts (-a), and the first scenario after which */
/* others were set: the WARN the taint check fails on is blamed there. */
static unsigned long allowed_taint;
static char first_tainted[300];

/* /proc/sys/kernel/tainted (Documentation/admin-guide/tainted-kernels.rst); ~0 if unreadable. */
static unsigned long tainted(void)
{
	static int fd = -1;
	char buf[32];
	ssize_t n;

	if (fd < 0)
		fd = open("/proc/sys/kernel/tainted", O_RDONLY | O_CLOEXEC);
	/* One pread per scenario: a guest system call costs ~12 us. */
	n = fd < 0 ? -1 : pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return ~0UL;
	buf[n] = '\0';
	return strtoul(buf, NULL, 10);
}

static void note_taint(const char *id)
{
	unsigned long t;

	if (first_tainted[0])
		return;
	t = tainted();
	if (t & ~allowed_taint)
		snprintf(first_tainted, sizeof(first_tainted),
			 ", first seen after %s (%#lx)", id, t);
}

static void run_case(const struct test_case *tc, int timeout_s)
{
	char *const argv[] = { (char *)tc->bin, tc->id, NULL };
	long t0 = now_ms();
	struct run run;

	run_child(argv, timeout_s, NULL, NULL, &run);
	result_of(&run, tc->id, timeout_s);
	account(tc->id, now_ms() - t0);
	note_taint(tc->id);
}

/*
 * The index of the next scenario to run, one decimal line from the host
 * on stdin (the console); -1 at its end.
 */
static int next_case(void)
{
	char buf[16];
	size_t n = 0;
	ssize_t r;

	while (n < sizeof(buf) - 1) {
		r = read(STDIN_FILENO, buf + n, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		if (buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = '\0';
	return n && strspn(buf, "0123456789") == n ? atoi(buf) : -1;
}

static bool ksft_on_line(void *arg, const char *line)
{
	return ksft_line(arg, line);
}

/* An upstream kselftest program, given as one space-separated string. */
static void run_kselftest(const char *cmdline, int timeout_s)
{
	char buf[512], *argv[16], *save, *tok;
	struct ksft_state k = { "", "", cmdline };
	int argc = 0, before = results, failed_before = counts[FAILED];
	struct run run;

	snprintf(buf, sizeof(buf), "%s", cmdline);
	for (tok = strtok_r(buf, " ", &save); tok && argc < 15;
	     tok = strtok_r(NULL, " ", &save))
		argv[argc++] = tok;
	argv[argc] = NULL;
	if (!argc)
		return;
	run_child(argv, timeout_s, ksft_on_line, &k, &run);
	/*
	 * A test that started and never reported died with the program; a
	 * program that reported nothing, or failed without saying where, is
	 * a result of its own.
	 */
	if (k.pending[0] || results == before)
		result_of(&run, k.pending[0] ? k.pending : cmdline, timeout_s);
	else if (counts[FAILED] == failed_before &&
		 (run.timed_out || WIFSIGNALED(run.status) ||
		  (WEXITSTATUS(run.status) &&
		   WEXITSTATUS(run.status) != SKIP_EXIT)))
		result_of(&run, cmdline, timeout_s);
	note_taint(cmdline);
}

/*
 * After the run, in the guest: any taint (a WARN, a BUG, a bad page)
 * means the kernel misbehaved, whatever the scenarios saw.
 */
static void check_taint(const char *name)
{
	unsigned long taint = tainted();
	char why[400];

	snprintf(why, sizeof(why), "tainted=%#lx%s%s", taint,
		 taint & allowed_taint ? " (allowed bits ignored)" : "",
		 taint & ~allowed_taint ? first_tainted : "");
	result(taint & ~allowed_taint ? FAILED : PASSED, name, why);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: tap-runner [-t timeout-s] [-f glob[,glob...]] [-e exitcode-file]\n"
		"                  [-a allowed-taint-mask] [-s guest/guests] [-p]\n"
		"                  [-k kselftest-command]... [binary...]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *filters = NULL, *exitcode_file = NULL, *ksft[16];
	int timeout_s = 30, opt, i, verdict, nr_ksft = 0, shard = 1, shards = 1;
	char untainted[64] = "kernel-untainted";
	bool poweroff = false, late_plan;
	FILE *f;

	while ((opt = getopt(argc, argv, "t:f:e:a:s:pk:")) != -1) {
		switch (opt) {
		case 't':
			timeout_s = atoi(optarg);
			break;
		case 'f':
			filters = optarg;
			break;
		case 'e':
			exitcode_file = optarg;
			break;
		case 'a':
			allowed_taint = strtoul(optarg, NULL, 0);
			break;
		case 's':
			if (sscanf(optarg, "%d/%d", &shard, &shards) != 2 ||
			    shard < 1 || shard > shards)
				usage();
			break;
		case 'p':
			poweroff = true;
			break;
		case 'k':
			if (nr_ksft < 16)
				ksft[nr_ksft++] = optarg;
			break;
		default:
			usage();
		}
	}
	if ((optind >= argc && !nr_ksft) || timeout_s <= 0)
		usage();

	/*
	 * One of several guests sharing the run (supervise -j): the host
	 * hands out the scenarios one at a time over the console, so that a
	 * guest that drew slow ones does not hold up the run. Typed input is
	 * not echoed into the TAP stream; the plan comes at the end.
	 */
	if (shards > 1) {
		struct termios t;

		if (!tcgetattr(STDIN_FILENO, &t)) {
			t.c_lflag &= ~(ECHO | ECHONL);
			tcsetattr(STDIN_FILENO, TCSANOW, &t);
		}
		snprintf(untainted, sizeof(untainted),
			 "kernel-untainted/guest-%d-of-%d", shard, shards);
	}
	out("TAP version 13");
	for (i = optind; i < argc; i++)
		if (list_cases(argv[i], filters, timeout_s))
			out("# cannot list scenarios of %s", argv[i]);
	/*
	 * kselftest programs are counted as they go, and a guest of several
	 * runs what it is given: plan at the end. The guest run (-e) ends
	 * with the taint check.
	 */
	late_plan = nr_ksft || shards > 1;
	if (!late_plan)
		out("1..%d", nr_cases + (exitcode_file ? 1 : 0));
	if (shards > 1) {
		while ((i = next_case()) >= 0 && i < nr_cases)
			run_case(&cases[i], timeout_s);
	} else {
		for (i = 0; i < nr_cases; i++)
			run_case(&cases[i], timeout_s);
	}
	for (i = 0; i < nr_ksft; i++)
		run_kselftest(ksft[i], timeout_s);
	if (exitcode_file)
		check_taint(untainted);
	if (late_plan)
		out("1..%d", results);
	out("# pass %d skip %d fail %d", counts[PASSED], counts[SKIPPED],
	    counts[FAILED]);
	if (nr_run) {
		int n = nr_run < MAX_CASES ? nr_run : MAX_CASES;

		qsort(run_ms, n, sizeof(run_ms[0]), cmp_long);
		out("# %d scenarios in %ld ms; each: median %ld ms, fastest tenth <= %ld ms, slowest tenth >= %ld ms",
		    nr_run, scenarios_ms, run_ms[n / 2], run_ms[n / 10],
		    run_ms[n - 1 - n / 10]);
		out("# slowest:");
		for (i = 0; i < SLOWEST && slowest[i].id; i++)
			out("#   %ld ms %s", slowest[i].ms, slowest[i].id);
	}

	verdict = counts[FAILED] ? 1 : 0;
	if (exitcode_file) {
		f = fopen(exitcode_file, "w");
		if (f) {
			fprintf(f, "%d\n", verdict);
			fclose(f);
		}
	}
	if (poweroff) {
		sync();
		reboot(RB_POWER_OFF);
	}
	return verdict;
}
