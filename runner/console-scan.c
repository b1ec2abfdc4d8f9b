// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "console-scan.h"

/* What the kernel prints when it is broken, whatever the verdict of TAP. */
static const char *const crash_marks[] = {
	"Kernel panic", "BUG:", "Oops", "WARNING:",
	"general protection fault", "Call Trace",
};

void console_scan_init(struct console_scan *s, console_emit emit, void *arg)
{
	memset(s, 0, sizeof(*s));
	s->plan = -1;
	s->emit = emit;
	s->emit_arg = arg;
}

static bool starts(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

/* Top-level TAP; indented lines are KTAP subtests, kept but not counted. */
static bool is_tap(const char *l)
{
	while (*l == ' ')
		l++;
	return starts(l, "TAP version") || starts(l, "KTAP version") ||
	       starts(l, "1..") || starts(l, "ok ") || starts(l, "not ok ") ||
	       starts(l, "# ") || !strcmp(l, "#");
}

static void scan_line(struct console_scan *s)
{
	char *l = s->line;
	size_t i;

	while (s->len && (l[s->len - 1] == '\r' || l[s->len - 1] == '\n'))
		s->len--;
	l[s->len] = '\0';
	s->len = 0;

	if (!is_tap(l)) {
		const char *killed = strstr(l, "Out of memory: Killed process");

		/*
		 * The OOM killer, a failed allocation under memory pressure
		 * and an allowed WARN print a stack trace too; none is a
		 * crash. Their reports end with these lines, or where TAP
		 * resumes.
		 */
		if (strstr(l, "invoked oom-killer") ||
		    strstr(l, "page allocation failure") ||
		    (s->allow_warn && strstr(l, "WARNING:")))
			s->in_report = true;
		if (killed || strstr(l, "---[ end trace"))
			s->in_report = false;
		if (killed && !s->oom[0])
			snprintf(s->oom, sizeof(s->oom), "%.255s", killed);
		for (i = 0; i < sizeof(crash_marks) / sizeof(crash_marks[0]); i++) {
			if (s->crash[0] || !strstr(l, crash_marks[i]))
				continue;
			if ((s->in_report && !strcmp(crash_marks[i], "Call Trace")) ||
			    (s->allow_warn && !strcmp(crash_marks[i], "WARNING:")))
				continue;
			snprintf(s->crash, sizeof(s->crash), "%.255s", l);
		}
		return;
	}
	s->in_report = false;
	if (s->emit)
		s->emit(s->emit_arg, l);
	if (starts(l, "TAP version") || starts(l, "KTAP version")) {
		s->started = true;
	} else if (starts(l, "1..")) {
		s->plan = atoi(l + 3);
	} else if (starts(l, "ok ") || starts(l, "not ok ")) {
		s->results++;
		if (starts(l, "not ok "))
			s->not_ok++;
		else if (strstr(l, "# SKIP"))
			s->skipped++;
		snprintf(s->last_test, sizeof(s->last_test), "%.255s", l);
	}
}

void console_scan_feed(struct console_scan *s, const char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s->len < sizeof(s->line) - 1)
			s->line[s->len++] = buf[i];
		if (buf[i] == '\n')
			scan_line(s);
	}
}

void console_scan_flush(struct console_scan *s)
{
	if (s->len)
		scan_line(s);
}

static void keep_first(char *into, size_t len, const char *s)
{
	if (!into[0] && s[0])
		snprintf(into, len, "%s", s);
}

void console_scan_add(struct console_scan *all, const struct console_scan *s)
{
	all->plan = all->plan < 0 || s->plan < 0 ? -1 : all->plan + s->plan;
	all->results += s->results;
	all->not_ok += s->not_ok;
	all->skipped += s->skipped;
	keep_first(all->crash, sizeof(all->crash), s->crash);
	keep_first(all->oom, sizeof(all->oom), s->oom);
	if (s->last_test[0])
		snprintf(all->last_test, sizeof(all->last_test), "%s", s->last_test);
}

int console_scan_verdict(const struct console_scan *s, int wait_status,
			 char *verdict, size_t len)
{
	int code = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1;

	if (s->crash[0]) {
		snprintf(verdict, len, "crash: %s", s->crash);
	} else if (s->plan < 0) {
		snprintf(verdict, len, "incomplete: no TAP plan (guest %s %d)",
			 code < 0 ? "killed by signal" : "exit status",
			 code < 0 ? WTERMSIG(wait_status) : code);
	} else if (s->results != s->plan) {
		snprintf(verdict, len, "incomplete: %d of %d results%s%s",
			 s->results, s->plan,
			 s->last_test[0] ? ", last: " : "", s->last_test);
	} else if (s->not_ok) {
		snprintf(verdict, len, "fail: %d of %d not ok%s%.200s%s",
			 s->not_ok, s->results,
			 s->oom[0] ? " (guest ran out of memory: " : "",
			 s->oom,
			 s->oom[0] ? ")" : "");
	} else if (code != 0) {
		snprintf(verdict, len,
			 "fail: guest exit status %d with all TAP results ok",
			 code);
	} else {
		snprintf(verdict, len, "pass: %d ok, %d skipped", s->results,
			 s->skipped);
		return 0;
	}
	return 1;
}
