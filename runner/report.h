/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The run's results for machines, written next to tap.txt once the guest
 * is gone: junit.xml (one testcase per TAP result, with its diagnostics,
 * and a testcase "run" with an error where the run went wrong beyond its
 * results: a crash, a hang, an incomplete TAP, the host) and summary.json (counts, verdict, kernel, durations).
 */
#ifndef REPORT_H
#define REPORT_H

struct report_info {
	const char *verdict;	/* the verdict line */
	int status;		/* supervise's exit status */
	const char *source;	/* what was tested, as runner/check names it */
	long wall_ms;		/* guest start to guest gone */
	long boot_ms;		/* guest start to its TAP header, -1 if none */
	long exit_ms;		/* console closed to process gone (the slowest */
				/* guest), -1 if one had to be killed */
	const char *physmem;	/* where UML's memory file was, or NULL */
	int guests;		/* UML instances that shared the scenarios */
	const char *guests_from; /* how that number was chosen, or NULL */
};

/* Reads <run>/tap.txt and <run>/console.log; 0 on success. */
int report_write(const char *run, const struct report_info *info);

#endif
