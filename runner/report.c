// SPDX-License-Identifier: GPL-2.0
/*
 * junit.xml and summary.json from a run's tap.txt and console.log. In the
 * guest's TAP a scenario's diagnostics come before its result line, so
 * they are collected until the result they belong to.
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

static void xml_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default:
			/* XML 1.0 has no other control characters. */
			if ((unsigned char)*s >= 0x20 || *s == '\n' || *s == '\t')
				fputc(*s, f);
		}
	}
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

struct tally {
	int tests, failures, skipped, known;
	/*
	 * Failures whose diagnostics say only that a race row did not get
	 * its window often enough ("window not reached", tests/race-*.c,
	 * smp.c, close.c): the host was too busy to judge the kernel.
	 */
	int window_not_reached;
	long scenarios_ms;
};

/* "ok 12 name # SKIP why" -> name, and the directive after " # ". */
static void split_result(char *l, char **name, char **directive)
{
	char *p = l + (strncmp(l, "not ok ", 7) ? 3 : 7), *hash;

	p += strspn(p, "0123456789");
	p += strspn(p, " -");
	*name = p;
	hash = strstr(p, " # ");
	*directive = NULL;
	if (hash) {
		*hash = '\0';
		*directive = hash + 3;
	}
}

/*
 * A run that went wrong beyond its results (a crash, a hang, no plan, an
 * interrupt, the host) is an error of its own in junit.xml, so that a CI
 * reading only junit does not see it green: a testcase "run" whose error
 * message is the verdict. A failed result explains a "fail: " verdict.
 */
static bool run_error(const struct report_info *info, const struct tally *t)
{
	if (!info->status)
		return false;
	return strncmp(info->verdict, "fail: ", 6) || !t->failures;
}

static void write_junit(FILE *in, FILE *out, struct tally *t,
			const struct report_info *info)
{
	bool error;
	char line[2048], *diag = NULL;
	size_t dlen = 0;
	FILE *d = open_memstream(&diag, &dlen);
	char *cases = NULL;
	size_t clen = 0;
	FILE *c = open_memstream(&cases, &clen);

	while (fgets(line, sizeof(line), in)) {
		char *name, *dir;
		bool ok = !strncmp(line, "ok ", 3), nok = !strncmp(line, "not ok ", 7);

		line[strcspn(line, "\n")] = '\0';
		if (!ok && !nok) {
			long ms;

			if (line[0] == '#') {
				fprintf(d, "%s\n", line);
				/* Guest time: the sum over the guests (-j). */
				if (sscanf(line, "# %*d scenarios in %ld ms", &ms) == 1)
					t->scenarios_ms += ms;
			}
			continue;
		}
		fflush(d);
		split_result(line, &name, &dir);
		t->tests++;
		fputs("  <testcase classname=\"uffd-uml\" name=\"", c);
		xml_text(c, name);
		fputs("\">\n", c);
		if (nok && dir && !strncmp(dir, "TODO", 4)) {
			/* A known regression: reported, not failed. */
			t->known++;
			fputs("    <skipped message=\"", c);
			xml_text(c, dir);
			fputs("\"/>\n    <system-out>", c);
			xml_text(c, diag);
			fputs("</system-out>\n", c);
		} else if (nok) {
			t->failures++;
			if (diag && strstr(diag, "window not reached"))
				t->window_not_reached++;
			fputs("    <failure message=\"", c);
			xml_text(c, dir ? dir : "not ok");
			fputs("\">", c);
			xml_text(c, diag);
			fputs("</failure>\n", c);
		} else if (dir && !strncmp(dir, "SKIP", 4)) {
			t->skipped++;
			fputs("    <skipped message=\"", c);
			xml_text(c, dir[4] == ' ' ? dir + 5 : "");
			fputs("\"/>\n", c);
		}
		if (dlen && ok) {
			fputs("    <system-out>", c);
			xml_text(c, diag);
			fputs("</system-out>\n", c);
		}
		fputs("  </testcase>\n", c);
		/*
		 * A new stream for the next result's diagnostics: a rewound
		 * one keeps the tail of a longer text after a shorter one, as
		 * glibc writes no NUL at the position of a flush.
		 */
		fclose(d);
		free(diag);
		diag = NULL;
		d = open_memstream(&diag, &dlen);
	}
	fclose(d);
	fclose(c);
	error = run_error(info, t);
	fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<testsuite name=\"uffd-uml\" tests=\"%d\" failures=\"%d\" errors=\"%d\" skipped=\"%d\" time=\"%.3f\">\n",
		t->tests + error, t->failures, error, t->skipped + t->known,
		t->scenarios_ms / 1000.0);
	fputs(cases ? cases : "", out);
	if (error) {
		fputs("  <testcase classname=\"uffd-uml\" name=\"run\">\n"
		      "    <error message=\"", out);
		xml_text(out, info->verdict);
		fputs("\"/>\n  </testcase>\n", out);
	}
	/* What followed the last result: the runner's closing notes. */
	if (diag && diag[0]) {
		fputs("  <system-out>", out);
		xml_text(out, diag);
		fputs("</system-out>\n", out);
	}
	fputs("</testsuite>\n", out);
	free(diag);
	free(cases);
}

/*
 * The release from the banner, and the userspace mode UML chose: with
 * seccomp=auto|on it prints "Checking that seccomp filters can be
 * installed...OK" when it uses seccomp (arch/um/os-Linux/start_up.c), and
 * falls back to ptrace otherwise. The vCPUs it brought up, from the
 * "smp: Brought up N nodes, M CPUs" of an SMP kernel (kernel/smp.c); one
 * when it says nothing before it runs init.
 */
static void kernel_info(const char *run, char *rel, size_t len,
			const char **userspace, int *cpus)
{
	char path[4096], line[1024];
	FILE *f;
	int nodes;

	snprintf(rel, len, "unknown");
	*userspace = "ptrace";
	*cpus = 1;
	snprintf(path, sizeof(path), "%s/console.log", run);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "seccomp filters can be installed...OK"))
			*userspace = "seccomp";
		sscanf(line, "Linux version %255s", rel);
		if (sscanf(line, "smp: Brought up %d node%*[s,] %d CPU", &nodes, cpus) == 2 ||
		    strstr(line, "Run /init"))
			break;
	}
	fclose(f);
}

int report_write(const char *run, const struct report_info *info)
{
	char path[4096], rel[256];
	const char *userspace;
	int cpus;
	struct tally t = { 0 };
	FILE *in, *out;

	snprintf(path, sizeof(path), "%s/tap.txt", run);
	in = fopen(path, "r");
	if (!in)
		return -1;
	snprintf(path, sizeof(path), "%s/junit.xml", run);
	out = fopen(path, "w");
	if (!out) {
		fclose(in);
		return -1;
	}
	write_junit(in, out, &t, info);
	fclose(in);
	fclose(out);

	kernel_info(run, rel, sizeof(rel), &userspace, &cpus);
	snprintf(path, sizeof(path), "%s/summary.json", run);
	out = fopen(path, "w");
	if (!out)
		return -1;
	fputs("{\n  \"verdict\": ", out);
	json_str(out, info->verdict);
	fprintf(out, ",\n  \"status\": %d,\n", info->status);
	fprintf(out, "  \"counts\": { \"results\": %d, \"pass\": %d, \"fail\": %d, \"skip\": %d, \"known\": %d, \"window_not_reached\": %d },\n",
		t.tests, t.tests - t.failures - t.skipped - t.known, t.failures,
		t.skipped, t.known, t.window_not_reached);
	fputs("  \"kernel\": { \"release\": ", out);
	json_str(out, rel);
	fputs(", \"source\": ", out);
	json_str(out, info->source ? info->source : "");
	fprintf(out, ", \"userspace\": \"%s\", \"cpus\": %d },\n", userspace, cpus);
	fputs("  \"host\": { \"physmem\": ", out);
	json_str(out, info->physmem ? info->physmem : "");
	fprintf(out, ", \"guests\": %d, \"guests_from\": ", info->guests);
	json_str(out, info->guests_from ? info->guests_from : "");
	fputs(" },\n", out);
	fprintf(out, "  \"durations_ms\": { \"wall\": %ld, \"boot\": %ld, \"scenarios\": %ld, \"exit\": %ld }\n}\n",
		info->wall_ms, info->boot_ms, t.scenarios_ms, info->exit_ms);
	fclose(out);
	return 0;
}
