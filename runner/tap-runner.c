// SPDX-License-Identifier: GPL-2.0
/*
 * Guest TAP runner, started by /init. Runs every scenario that the test
 * binaries list (optionally filtered by globs) in its own process group
 * with a timeout, turns exit codes and signals into TAP results, prints
 * one TAP stream on the console, and hands the verdict to the host through
 * /proc/exitcode before powering off.
 *
 * Scenario protocol (kselftest's): exit 0 pass, 4 skip (reason on the last
 * "skip: " line), anything else fail. Every output line becomes a TAP
 * diagnostic, so a failure explains itself in the log.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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
	char buf[512], *tok, *save;

	if (!filters || !*filters)
		return true;
	snprintf(buf, sizeof(buf), "%s", filters);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save))
		if (!fnmatch(tok, id, 0))
			return true;
	return false;
}

static int list_cases(const char *bin, const char *filters)
{
	char cmd[512], line[512];
	FILE *f;
	int status;

	snprintf(cmd, sizeof(cmd), "%s --list", bin);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f) && nr_cases < MAX_CASES) {
		line[strcspn(line, "\n")] = '\0';
		if (!*line || !matches(line, filters))
			continue;
		cases[nr_cases].bin = bin;
		cases[nr_cases].id = strdup(line);
		nr_cases++;
	}
	status = pclose(f);
	return WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -1;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

enum outcome { PASSED, SKIPPED, FAILED };

/*
 * Streams the scenario's output as diagnostics until it exits (its pidfd
 * becomes readable) or the deadline passes.
 */
static enum outcome run_case(int n, const struct test_case *tc,
			     int timeout_s)
{
	char buf[4096], line[1024], skip_reason[sizeof(line)] = "";
	size_t len = 0;
	long deadline = now_ms() + timeout_s * 1000L;
	bool timed_out = false, eof = false, exited = false;
	int pfd[2], pidfd, status;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC)) {
		out("not ok %d %s # pipe: %s", n, tc->id, strerror(errno));
		return FAILED;
	}
	pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		dup2(pfd[1], STDOUT_FILENO);
		dup2(pfd[1], STDERR_FILENO);
		execl(tc->bin, tc->bin, tc->id, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	if (pid < 0) {
		close(pfd[0]);
		out("not ok %d %s # fork: %s", n, tc->id, strerror(errno));
		return FAILED;
	}
	setpgid(pid, pid);
	pidfd = syscall(SYS_pidfd_open, pid, 0);

	while (!eof || !exited) {
		struct pollfd p[2] = {
			{ .fd = eof ? -1 : pfd[0], .events = POLLIN },
			{ .fd = exited ? -1 : pidfd, .events = POLLIN },
		};
		long left = deadline - now_ms();
		ssize_t r;

		if (left <= 0) {
			timed_out = true;
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
				snprintf(skip_reason, sizeof(skip_reason),
					 "%s", line + 6);
			else
				out("# %s", line);
		}
		/* The scenario is gone; whatever it forked goes with it. */
		if (exited)
			kill(-pid, SIGKILL);
	}
	kill(-pid, SIGKILL);
	waitpid(pid, &status, 0);
	close(pfd[0]);
	if (pidfd >= 0)
		close(pidfd);

	if (timed_out) {
		out("not ok %d %s # TIMEOUT after %ds", n, tc->id, timeout_s);
		return FAILED;
	}
	if (WIFSIGNALED(status)) {
		out("not ok %d %s # killed by signal %d (%s)", n, tc->id,
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
		return FAILED;
	}
	switch (WEXITSTATUS(status)) {
	case 0:
		out("ok %d %s", n, tc->id);
		return PASSED;
	case SKIP_EXIT:
		out("ok %d %s # SKIP %s", n, tc->id,
		    *skip_reason ? skip_reason : "no reason given");
		return SKIPPED;
	default:
		out("not ok %d %s # exit status %d", n, tc->id,
		    WEXITSTATUS(status));
		return FAILED;
	}
}

static void usage(void)
{
	fprintf(stderr,
		"usage: tap-runner [-t scenario-timeout-s] [-f glob[,glob...]]\n"
		"                  [-e exitcode-file] [-p] binary...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *filters = NULL, *exitcode_file = NULL;
	int timeout_s = 30, counts[3] = { 0 }, opt, i, verdict;
	bool poweroff = false;
	FILE *f;

	while ((opt = getopt(argc, argv, "t:f:e:p")) != -1) {
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
		case 'p':
			poweroff = true;
			break;
		default:
			usage();
		}
	}
	if (optind >= argc || timeout_s <= 0)
		usage();

	out("TAP version 13");
	for (i = optind; i < argc; i++)
		if (list_cases(argv[i], filters))
			out("# cannot list scenarios of %s", argv[i]);
	if (nr_cases)
		out("1..%d", nr_cases);
	else
		out("1..0 # SKIP no scenario matches %s", filters ? filters : "");
	for (i = 0; i < nr_cases; i++)
		counts[run_case(i + 1, &cases[i], timeout_s)]++;
	out("# pass %d skip %d fail %d", counts[PASSED], counts[SKIPPED],
	    counts[FAILED]);

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
