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
	bool allow_warn;	/* WARN()s are not crashes (the taint check */
				/* in the guest still sees them) */
	bool in_report;		/* inside an OOM or allowed WARN report, */
				/* whose Call Trace is not a crash */
	char last_test[256];	/* last top-level result line */
};

void console_scan_init(struct console_scan *s, console_emit emit, void *arg);
void console_scan_feed(struct console_scan *s, const char *buf, size_t n);
void console_scan_flush(struct console_scan *s);
/* Adds what one guest's scan saw to the scan of the whole run. */
void console_scan_add(struct console_scan *all, const struct console_scan *s);
/* Fills verdict; returns the exit status: 0 pass, 1 anything else. */
int console_scan_verdict(const struct console_scan *s, int wait_status,
			 char *verdict, size_t len);

#endif
