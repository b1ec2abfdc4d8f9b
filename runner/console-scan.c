// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <stdio.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "console-scan.h"

/* What the kernel prints when it is broken, whatever the verdict of TAP. */
static const char *const crash_marks[] = {
	"Kernel panic", "BUG:", "Oops", "WARNING:",
	"general protection fault", "Call Trace",
};

/*
 * UML's reports of a host mapping that failed (arch/um/kernel/tlb.c,
 * arch/um/os-Linux/skas/process.c): the guest process that needed it is
 * killed, which a scenario reports as its own failure.
 */
static const struct {
	const char *mark, *cause;
} host_marks[] = {
	{ "UML ran out of memory on the host side",
	  "UML ran out of host memory or mappings: raise vm.max_map_count or the memory limit" },
	{ " : mmap failed, errno = ",
	  "a host mmap() of guest memory failed: raise vm.max_map_count or the memory limit" },
	{ " : munmap failed, errno = ",
	  "a host munmap() of guest memory failed: raise vm.max_map_count or the memory limit" },
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

int known_load(struct known_list *k, const char *path)
{
	char line[1024], *tab, *tab2;
	FILE *f = fopen(path, "r");
	bool eof;

	k->n = 0;
	k->e = NULL;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		struct known_regression *grown;

		line[strcspn(line, "\n")] = '\0';
		tab = strchr(line, '\t');
		tab2 = tab ? strchr(tab + 1, '\t') : NULL;
		if (!tab2 || line[0] == '#')
			continue;
		*tab = *tab2 = '\0';
		grown = realloc(k->e, (k->n + 1) * sizeof(*grown));
		if (!grown)
			break;
		k->e = grown;
		k->e[k->n].glob = strdup(line);
		k->e[k->n].signature = strdup(tab + 1);
		k->e[k->n].reason = strdup(tab2 + 1);
		if (!k->e[k->n].glob || !k->e[k->n].signature ||
		    !k->e[k->n].reason)
			break;
		k->n++;
	}
	eof = feof(f);
	fclose(f);
	errno = ENOMEM;
	return eof ? 0 : -1;
}

const char *tap_name(const char *l, int *len)
{
	const char *name = l + (strncmp(l, "not ok ", 7) ? 3 : 7), *end;

	name += strspn(name, "0123456789");
	name += strspn(name, " ");
	end = strstr(name, " # ");
	*len = end ? (int)(end - name) : (int)strlen(name);
	return name;
}

/*
 * Appends a result's name to a list of them, ", " between, if it fits;
 * ", ..." once one does not.
 */
static void add_name(char *list, size_t len, const char *name, int namelen)
{
	size_t used = strlen(list);

	if (used >= 5 && !strcmp(list + used - 5, ", ..."))
		return;
	if (used + namelen + 8 < len)
		snprintf(list + used, len - used, "%s%.*s", used ? ", " : "",
			 namelen, name);
	else
		snprintf(list + used, len - used, ", ...");
}

/*
 * "not ok N name # why" of a known regression -> "not ok N name # TODO
 * reason", into buf. False if name is not one.
 */
static bool known_todo(struct console_scan *s, const char *l, char *buf,
		       size_t len)
{
	const char *name;
	char id[256];
	int i, n;

	if (!s->known || strncmp(l, "not ok ", 7))
		return false;
	name = tap_name(l, &n);
	/*
	 * The row failed its own checks (tap-runner: "exit status 1"), not
	 * by a timeout, a signal or a crash of its process.
	 */
	if (name[n] && strcmp(name + n, " # exit status 1"))
		return false;
	snprintf(id, sizeof(id), "%.*s", n, name);
	for (i = 0; i < s->known->n; i++) {
		if (fnmatch(s->known->e[i].glob, id, 0) ||
		    !strstr(s->diag, s->known->e[i].signature))
			continue;
		snprintf(buf, len, "%.*s # TODO known regression: %s",
			 (int)(name - l) + (int)strlen(id), l, s->known->e[i].reason);
		s->known_failed++;
		if (strlen(s->known_ids) + strlen(id) + 2 < sizeof(s->known_ids))
			strcat(strcat(s->known_ids, s->known_ids[0] ? " " : ""), id);
		return true;
	}
	return false;
}

static void scan_line(struct console_scan *s)
{
	char todo[2048];
	char *l = s->line;
	size_t i;

	while (s->len && (l[s->len - 1] == '\r' || l[s->len - 1] == '\n'))
		s->len--;
	l[s->len] = '\0';
	s->len = 0;

	if (!is_tap(l)) {
		const char *killed = strstr(l, "Out of memory: Killed process");

		/*
		 * The OOM killer, a failed allocation under memory pressure,
		 * an allowed WARN and the blocked tasks' stacks that
		 * tap-runner asks for (sysrq w) print a stack trace too; none
		 * is a crash. Their reports end with these lines, or where
		 * TAP resumes.
		 */
		if (strstr(l, "invoked oom-killer") ||
		    strstr(l, "page allocation failure") ||
		    strstr(l, "sysrq: Show Blocked State") ||
		    (s->allow_warn && strstr(l, "WARNING:")))
			s->in_report = true;
		if (killed || strstr(l, "---[ end trace"))
			s->in_report = false;
		if (!strcmp(l, "reboot: Power down"))
			s->powered_down = true;
		if (strstr(l, "Kernel panic - not syncing"))
			s->panicked = true;
		for (i = 0; i < sizeof(host_marks) / sizeof(host_marks[0]); i++)
			if (!s->host_fault[0] && strstr(l, host_marks[i].mark))
				snprintf(s->host_fault, sizeof(s->host_fault),
					 "%s (console: \"%.80s\")",
					 host_marks[i].cause, l);
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
	if (starts(l, "# ")) {
		size_t used = strlen(s->diag);

		snprintf(s->diag + used, sizeof(s->diag) - used, "%s\n", l);
	}
	if (known_todo(s, l, todo, sizeof(todo)))
		l = todo;
	if (s->emit)
		s->emit(s->emit_arg, l);
	if (starts(l, "TAP version") || starts(l, "KTAP version")) {
		s->started = true;
	} else if (starts(l, "1..")) {
		s->plan = atoi(l + 3);
	} else if (starts(l, "ok ") || starts(l, "not ok ")) {
		s->results++;
		if (starts(l, "not ok ") && !strstr(l, " # TODO ")) {
			int n;
			const char *name = tap_name(l, &n);

			s->not_ok++;
			add_name(s->failed_ids, sizeof(s->failed_ids), name, n);
		}
		else if (strstr(l, "# SKIP"))
			s->skipped++;
		snprintf(s->last_test, sizeof(s->last_test), "%.255s", l);
		s->diag[0] = '\0';
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
	all->known_failed += s->known_failed;
	if (s->known_ids[0] && strlen(all->known_ids) + strlen(s->known_ids) + 2 < sizeof(all->known_ids))
		strcat(strcat(all->known_ids, all->known_ids[0] ? " " : ""), s->known_ids);
	if (s->failed_ids[0])
		add_name(all->failed_ids, sizeof(all->failed_ids), s->failed_ids,
			 strlen(s->failed_ids));
	all->skipped += s->skipped;
	keep_first(all->crash, sizeof(all->crash), s->crash);
	keep_first(all->oom, sizeof(all->oom), s->oom);
	keep_first(all->host_fault, sizeof(all->host_fault), s->host_fault);
	all->powered_down = all->powered_down && s->powered_down;
	if (s->last_test[0])
		snprintf(all->last_test, sizeof(all->last_test), "%s", s->last_test);
}

int console_scan_verdict(const struct console_scan *s, int wait_status,
			 const char *host_note, char *verdict, size_t len)
{
	bool signaled = WIFSIGNALED(wait_status);
	int code = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1;

	/* Whatever failed after it was the host's doing. */
	if (s->host_fault[0]) {
		snprintf(verdict, len, "host: %s", s->host_fault);
		return 2;
	}
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
	} else if (signaled && !s->powered_down) {
		/* Before the failures: TAP and junit.xml still show those. */
		snprintf(verdict, len,
			 "crash: guest killed by signal %d (%s) before powering down",
			 WTERMSIG(wait_status), strsignal(WTERMSIG(wait_status)));
	} else if (s->not_ok) {
		snprintf(verdict, len, "fail: %d of %d not ok%s%.200s%s: %s",
			 s->not_ok, s->results,
			 s->oom[0] ? " (guest ran out of memory: " : "",
			 s->oom,
			 s->oom[0] ? ")" : "", s->failed_ids);
	} else if (code > 0 && !(code == 1 && s->known_failed)) {
		/* 1 is the runner's "a result failed": known ones did. */
		snprintf(verdict, len,
			 "fail: guest exit status %d with all TAP results ok",
			 code);
	} else {
		char known[320] = "";

		if (s->known_failed)
			snprintf(known, sizeof(known), ", %d known regression%s (%s)",
				 s->known_failed, s->known_failed > 1 ? "s" : "",
				 s->known_ids);
		snprintf(verdict, len, "pass: %d ok, %d skipped%s%s%s%s",
			 s->results - s->known_failed, s->skipped, known,
			 signaled ? " (" : "", signaled ? host_note : "",
			 signaled ? ")" : "");
		return 0;
	}
	return 1;
}
