/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reads a guest console line by line: TAP lines go to tap.txt (and to the
 * user), kernel crash reports are remembered, and at the end the whole
 * run gets one verdict.
 */
#ifndef CONSOLE_SCAN_H
#define CONSOLE_SCAN_H

#include <stdbool.h>
#include <stdio.h>

/*
 * Known regressions of the kernel line under test (runner/check makes the
 * list from uml-kernel/<X.Y>/known-regressions): a scenario matching one
 * of the globs that fails as the entry says (its diagnostics since the
 * last result hold the signature, and its process failed its checks:
 * tap-runner's "# exit status 1", or no directive) becomes "not ok ...
 * # TODO <reason>", which TAP does not count as a failure. Any other
 * failure of the row (a timeout, a signal, another check) stays one.
 */
struct known_regression {
	char *glob;
	char *signature;
	char *reason;
};

struct known_list {
	int n;
	struct known_regression *e;
};

/* Reads "glob<TAB>signature<TAB>reason" lines; 0, or -1 with errno. */
int known_load(struct known_list *k, const char *path);

/* Where TAP lines go: tap.txt and the user, or a merge of several guests. */
typedef void (*console_emit)(void *arg, const char *line);

struct console_scan {
	console_emit emit;
	void *emit_arg;
	char line[2048];
	size_t len;
	bool started;		/* the TAP header has been seen */
	int plan;		/* -1 until "1..N" is seen */
	int results;
	int not_ok;
	int skipped;
	char crash[256];	/* first kernel crash line, "" if none */
	char oom[256];		/* the OOM killer's "Out of memory" line */
	/*
	 * Why the host, not the kernel under test, failed the run: UML's
	 * own report that a host mapping failed, or what supervise saw
	 * (an OOM kill of UML). "" if nothing.
	 */
	char host_fault[256];
	bool allow_warn;	/* WARN()s are not crashes (the taint check */
				/* in the guest still sees them) */
	bool in_report;		/* inside an OOM or allowed WARN report, */
				/* whose Call Trace is not a crash */
	char last_test[256];	/* last top-level result line */
	char diag[2048];	/* "# " lines since it, as many as fit */
	bool powered_down;	/* the kernel said "reboot: Power down" */
	bool panicked;		/* it said "Kernel panic - not syncing" */
	const struct known_list *known;	/* NULL: none */
	int known_failed;	/* results turned into TODO */
	char known_ids[256];	/* their names, space-separated */
	char failed_ids[256];	/* the not ok ones' names, ", " between, */
				/* as many as fit */
};

/*
 * The name in a TAP result line ("ok 3 name # directive"; a kselftest
 * name may hold blanks): where it starts, and its length in *len.
 */
const char *tap_name(const char *l, int *len);

void console_scan_init(struct console_scan *s, console_emit emit, void *arg);
void console_scan_feed(struct console_scan *s, const char *buf, size_t n);
void console_scan_flush(struct console_scan *s);
/* Adds what one guest's scan saw to the scan of the whole run. */
void console_scan_add(struct console_scan *all, const struct console_scan *s);
/*
 * Fills verdict; returns the exit status: 0 pass, 2 a host fault (the
 * run says nothing about the kernel: "host: <cause>"), 1 anything else.
 * wait_status is the guest's (the first that did not exit 0); host_note
 * says how its host process ended when that was by a signal. A kernel
 * that powered down after complete, clean TAP has passed, however its
 * host process ended afterwards: the note goes into the verdict as a
 * host problem. Killed before powering down, it is a crash.
 */
int console_scan_verdict(const struct console_scan *s, int wait_status,
			 const char *host_note, char *verdict, size_t len);

#endif
