// SPDX-License-Identifier: GPL-2.0
/*
 * Host supervisor: runs the guest (a UML kernel, or any command replaying a
 * console) in its own session, keeps everything it prints, streams its TAP
 * to stdout, and turns TAP, crash reports, exit status and timeouts into
 * one verdict. With -j N it runs N guests as one run (see struct guest):
 *
 *   out/results/<run>/console.log   everything the guest printed
 *                      console.N.log   ... the N-th guest (-j), N >= 2
 *   out/results/<run>/tap.txt       the TAP lines, as far as they got
 *   out/results/<run>/verdict       one line
 *   out/results/<run>/junit.xml     one testcase per TAP result
 *   out/results/<run>/summary.json  counts, verdict, kernel, durations
 *   out/results/latest -> <run>
 *
 * Exit status: 0 pass, 1 fail/crash/hang/incomplete, 2 setup error or a
 * host fault (verdict "host: ..."),
 * 128+signal when interrupted.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>

#include "console-scan.h"
#include "report.h"

static volatile sig_atomic_t interrupted;
static struct known_list known;	/* -k */

static void on_signal(int sig)
{
	interrupted = sig;
}

#define MAX_GUESTS 8

struct guest;
static void guests_abandon(void);

/*
 * A setup error: exit status 2 and one line, which goes where runner's
 * lib.sh die() puts its own (UFFD_UML_ERRFILE, for make to print once).
 * What guests were set up so far are abandoned (guests_abandon()).
 */
static void die(const char *fmt, ...)
{
	const char *path = getenv("UFFD_UML_ERRFILE");
	va_list ap;
	FILE *f;

	/* First: it frees the fds the error may have been the lack of. */
	guests_abandon();
	f = path && *path ? fopen(path, "w") : NULL;
	if (!f)
		f = stderr;
	fputs("uffd-uml: ", f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
	if (f != stderr)
		fclose(f);
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

/*
 * -H: each UML guest's memory file on a tmpfs of its own, mounted with
 * huge=always on its uml_dir in a private mount namespace, where the
 * physmem directory is a tmpfs too (guest memory is RAM either way; the
 * mount is never seen outside and goes with the guest). The host then
 * backs guest memory with 2 MiB pages (Documentation/admin-guide/mm/
 * transhuge.rst, "huge=" of tmpfs) and maps a guest huge page into a UML
 * host process with one PMD instead of 512 PTEs. Needs CAP_SYS_ADMIN or
 * an unprivileged user namespace; without them (a container's default),
 * or on another file system, the file stays in the physmem directory.
 */
static bool huge_tmpfs;		/* the namespace is ours: mount per guest */
static long huge_size_kib;	/* each guest's tmpfs: its share of the free */

static bool write_proc(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	bool ok = fd >= 0 && write(fd, s, strlen(s)) == (ssize_t)strlen(s);

	if (fd >= 0)
		close(fd);
	return ok;
}

/* A user namespace of our own that maps us to ourselves, and its mounts. */
static bool own_user_ns(uid_t uid, gid_t gid)
{
	char map[64];

	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) ||
	    !write_proc("/proc/self/setgroups", "deny"))
		return false;
	snprintf(map, sizeof(map), "%u %u 1", uid, uid);
	if (!write_proc("/proc/self/uid_map", map))
		return false;
	snprintf(map, sizeof(map), "%u %u 1", gid, gid);
	return write_proc("/proc/self/gid_map", map);
}

/* Our own mount namespace (mount_namespaces(7)), or false as we were. */
static bool private_mounts(void)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();

	if (unshare(CLONE_NEWNS)) {
		/*
		 * Not privileged. Tried in a child first: a process left in a
		 * user namespace without a map cannot create a file.
		 */
		pid_t pid = fork();
		int status;

		if (!pid)
			_exit(!own_user_ns(uid, gid));
		if (pid < 0 || waitpid(pid, &status, 0) != pid || status)
			return false;
		if (!own_user_ns(uid, gid))
			die("cannot enter a user namespace of our own: %s",
			    strerror(errno));
	}
	/* What we mount must not propagate back to the host's namespace. */
	return !mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
}

static void huge_tmpfs_setup(const char *physmem, int nr_guests)
{
	struct statfs fs;

	if (!physmem || statfs(physmem, &fs) || fs.f_type != TMPFS_MAGIC)
		return;
	huge_size_kib = fs.f_bavail * (fs.f_bsize / 1024) / nr_guests;
	huge_tmpfs = huge_size_kib > 0 && private_mounts();
}

/* Mounts a guest's tmpfs on its uml_dir; false to leave that as it is. */
static bool huge_tmpfs_mount(const char *dir)
{
	char opts[64];

	snprintf(opts, sizeof(opts), "huge=always,size=%ldk,mode=0700",
		 huge_size_kib);
	return huge_tmpfs &&
	       !mount("uffd-uml", dir, "tmpfs", MS_NOSUID | MS_NODEV, opts);
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

/*
 * The host CPUs for guest nr, which has vcpus of them: the next vcpus of
 * those we may run on, round robin. A uniprocessor UML and the host
 * process of the guest's current mm take turns and never run at once; on
 * two CPUs every turn wakes an idle one, which in a VM costs a halt exit.
 * Pinned, one guest ran all scenarios in 1.0 s instead of 1.9 s. An SMP
 * guest runs a host thread per vCPU and gets as many CPUs, so that its
 * races are real parallelism rather than host time slices.
 * Returns false when there is no affinity to set.
 */
static bool guest_cpus(int nr, int vcpus, cpu_set_t *set)
{
	cpu_set_t allowed;
	int cpu, n = 0, count, first, i;

	if (sched_getaffinity(0, sizeof(allowed), &allowed))
		return false;
	count = CPU_COUNT(&allowed);
	first = ((nr - 1) * vcpus) % count;
	CPU_ZERO(set);
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &allowed))
			continue;
		for (i = 0; i < vcpus && i < count; i++)
			if (n == (first + i) % count)
				CPU_SET(cpu, set);
		n++;
	}
	return true;
}

static pid_t start_guest(char **argv, int in_fd, int out_fd,
			 const char *physmem, bool uml, const cpu_set_t *cpus)
{
	pid_t pid = fork();

	if (pid)
		return pid;
	setsid();
	if (cpus)
		sched_setaffinity(0, sizeof(*cpus), cpus);
	dup2(in_fd, STDIN_FILENO);
	dup2(out_fd, STDOUT_FILENO);
	dup2(out_fd, STDERR_FILENO);
	/*
	 * The carried "um: unregister the host's rseq area ..." fixes static
	 * UML builds; the tunable keeps kernels without it bootable too.
	 */
	setenv("GLIBC_TUNABLES", "glibc.pthread.rseq=0", 1);
	if (physmem)
		setenv("TMPDIR", physmem, 1);
	/*
	 * UML adds the gap between its end and a randomized brk to its
	 * physical memory (the "exec-shield gap", up to 1 GiB), and boots
	 * 10-20 ms slower initializing struct pages for it. A fixed layout
	 * is also one variable less between two runs.
	 */
	if (uml)
		personality(ADDR_NO_RANDOMIZE);
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

/*
 * -S: the size of each guest's swap device, MiB. A sparse file in its
 * uml_dir, given to UML as ubd0 (the guest's /dev/ubda, which its init
 * formats and swaps on); it holds only what the guest swaps out and goes
 * with the uml_dir.
 */
#define SWAP_FILE "swap"
static long swap_mib;

/* -c: the vCPUs of each UML guest (its ncpus=), as many host CPUs for it */
static int vcpus = 1;

static void add_swap(const char *uml_dir, char **av, int *n)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/" SWAP_FILE, uml_dir);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, swap_mib << 20))
		die("cannot create the guest's swap file %s: %s", path,
		    strerror(errno));
	close(fd);
	if (asprintf(&av[(*n)++], "ubd0=%s", path) < 0 ||
	    !(av[(*n)++] = strdup("UFFD_SWAP=/dev/ubda")))
		die("out of memory");
}

/*
 * runner/check picks GUESTS from the wall times of earlier passing runs
 * on this host (lib.sh auto_guests): one line per run, appended whole
 * (O_APPEND) so that runs at once do not mix their lines. A file that
 * cannot be written costs only the choice, not the run.
 */
static void timing_append(const char *path, int guests, int results,
			  long wall_ms)
{
	char line[64];
	int fd, n;

	n = snprintf(line, sizeof(line), "%d %d %ld\n", guests, results,
		     wall_ms);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, line, n) != n)
		fprintf(stderr, "uffd-uml: cannot record this run's time in %s: %s\n",
			path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: supervise [-t timeout-s] [-o results-root] [-m physmem-dir] [-s source]\n"
		"                 [-j guests [-n results]] [-x exit-grace-s] [-k known-file]\n"
		"                 [-u [-S swap-MiB] [-c vcpus] [-H]] [-w] [-q]\n"
		"                 [-g how-guests-chosen] [-R timings-file] -- command...\n"
		"  -j  run that many guests as one run, each with UFFD_SHARD=i/N appended,\n"
		"      taking scenario indices from one queue on its stdin\n"
		"  -n  the results those guests must report in all (else incomplete)\n"
		"  -x  how long a guest may take to exit once its console closed (30)\n"
		"  -k  known regressions: \"glob<TAB>signature<TAB>reason\" lines; such\n"
		"      a result that fails with the signature in its diagnostics is\n"
		"      reported as not ok # TODO and does not fail the run\n"
		"  -u  the command is UML: give it a private uml_dir, removed afterwards\n"
		"  -S  give each UML guest a swap device of that size (ubd0, sparse)\n"
		"  -c  each UML guest has that many vCPUs: pin it to as many host CPUs\n"
		"  -H  where the physmem directory is a tmpfs, give each UML guest a\n"
		"      tmpfs of its own with huge=always, in a private mount namespace\n"
		"  -w  a WARN in the console is not a crash\n"
		"  -g  how the number of guests was chosen, for summary.json\n"
		"  -R  if the run passes, append \"guests results wall-ms\" to that file\n");
	exit(2);
}

/*
 * One guest of the run. With several (-j), the guests share one queue of
 * scenarios: each gets the index of the next one on its stdin (UML's
 * console input) when it starts its TAP and after each of its results,
 * and a guest's runner stops at an index past its list. Their TAP is
 * merged into one stream: results renumbered in the order they arrive,
 * each with the diagnostics its guest printed before it, the plan at the
 * end.
 */
struct guest {
	int nr;
	pid_t pid;
	int pidfd, out;		/* console pipe, read end; -1 once done */
	int in;			/* its stdin, write end */
	long grace;		/* exited: read what is left until then */
	long eof_ms, exit_ms;	/* when its console closed, when it exited */
	bool killed;		/* still running after the exit grace: SIGKILLed */
	long panic_ms;		/* when its kernel said it panicked, or 0 */
	int status;
	FILE *console;
	struct console_scan scan;
	char uml_dir[PATH_MAX];
	bool own_tmpfs;		/* uml_dir is its tmpfs (-H) */
	char *pending;		/* diagnostics waiting for their result */
	size_t pending_len;
};

/* The guests whose uml_dir was made, for guests_abandon(). */
static struct guest *made[MAX_GUESTS];
static int nr_made;

/*
 * Removes g's uml_dir: its tmpfs, or what UML left in it; once. own_tmpfs
 * stays, for summary.json.
 */
static void guest_remove_dir(struct guest *g)
{
	char swap[PATH_MAX + 8];

	if (!g->uml_dir[0])
		return;
	/* What is there before UML runs; nftw() needs fds, which may be out. */
	snprintf(swap, sizeof(swap), "%s/" SWAP_FILE, g->uml_dir);
	unlink(swap);
	if (g->own_tmpfs && !umount2(g->uml_dir, MNT_DETACH))
		rmdir(g->uml_dir);
	else if (rmdir(g->uml_dir))
		nftw(g->uml_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	g->uml_dir[0] = '\0';
}

/*
 * For die(): the guests already started are killed, as they have no
 * parent-death signal and would run on unwatched, and every uml_dir
 * made is removed, with the guest's memory file and swap in it.
 */
static void guests_abandon(void)
{
	int i;

	for (i = 0; i < nr_made; i++) {
		struct guest *g = made[i];

		if (g->pid > 0) {
			/* Its setsid() may not have run yet. */
			kill(g->pid, SIGKILL);
			kill(-g->pid, SIGKILL);
			waitpid(g->pid, NULL, 0);
			close(g->in);
			if (g->out >= 0)
				close(g->out);
			if (g->pidfd >= 0)
				close(g->pidfd);
		}
		if (g->console)
			fclose(g->console);
		g->console = NULL;
		guest_remove_dir(g);
	}
	nr_made = 0;
}

static struct {
	FILE *tap, *echo;
	int nr_guests, results;
	bool header;
	int next_case;		/* the queue: next index to hand out */
} run_out;

static void put_line(const char *l)
{
	fprintf(run_out.tap, "%s\n", l);
	if (run_out.echo)
		fprintf(run_out.echo, "%s\n", l);
}

static void emit_one(void *arg, const char *l)
{
	(void)arg;
	put_line(l);
	fflush(run_out.tap);
}

static void pending_flush(struct guest *g)
{
	if (g->pending_len)
		fputs(g->pending, run_out.tap);
	if (g->pending_len && run_out.echo)
		fputs(g->pending, run_out.echo);
	g->pending_len = 0;
}

/*
 * An index that cannot be written (the guest is gone) goes to the next
 * guest. One written to a guest that then stops early is lost; -n is
 * what catches that.
 */
static void hand_out(struct guest *g)
{
	char idx[16];
	int n = snprintf(idx, sizeof(idx), "%d\n", run_out.next_case++);

	if (write(g->in, idx, n) != n)
		run_out.next_case--;
}

static void emit_merged(void *arg, const char *l)
{
	struct guest *g = arg;
	char *grown, renumbered[2100];
	const char *rest;
	bool ok = !strncmp(l, "ok ", 3);

	if (!strncmp(l, "TAP version", 11) || !strncmp(l, "KTAP version", 12)) {
		if (!run_out.header)
			put_line(l);
		run_out.header = true;
		hand_out(g);
		return;
	}
	if (!strncmp(l, "1..", 3))
		return;
	if (!ok && strncmp(l, "not ok ", 7)) {
		size_t n = strlen(l) + 1;

		grown = realloc(g->pending, g->pending_len + n + 1);
		if (!grown)
			die("out of memory");
		g->pending = grown;
		memcpy(g->pending + g->pending_len, l, n - 1);
		g->pending_len += n;
		g->pending[g->pending_len - 1] = '\n';
		g->pending[g->pending_len] = '\0';
		return;
	}
	rest = l + (ok ? 3 : 7);
	rest += strspn(rest, "0123456789");
	snprintf(renumbered, sizeof(renumbered), "%s %d%s", ok ? "ok" : "not ok",
		 ++run_out.results, rest);
	pending_flush(g);
	emit_one(NULL, renumbered);
	hand_out(g);
}

static void guest_start(struct guest *g, char **argv, int argc,
			const char *physmem, bool uml, const char *run,
			bool allow_warn)
{
	char **av = calloc(argc + 5, sizeof(*av)), name[32];
	int pfd[2], ifd[2], n = argc;
	cpu_set_t cpus;

	if (!av)
		die("out of memory");
	memcpy(av, argv, argc * sizeof(*av));
	if (uml) {
		make_uml_dir(g->uml_dir, sizeof(g->uml_dir),
			     physmem ? physmem : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		made[nr_made++] = g;
		g->own_tmpfs = huge_tmpfs_mount(g->uml_dir);
		if (g->own_tmpfs)
			physmem = g->uml_dir;
		if (asprintf(&av[n++], "uml_dir=%s", g->uml_dir) < 0)
			die("out of memory");
		if (swap_mib > 0)
			add_swap(g->uml_dir, av, &n);
	}
	if (run_out.nr_guests > 1 &&
	    asprintf(&av[n++], "UFFD_SHARD=%d/%d", g->nr, run_out.nr_guests) < 0)
		die("out of memory");
	if (g->nr == 1)
		snprintf(name, sizeof(name), "console.log");
	else
		snprintf(name, sizeof(name), "console.%d.log", g->nr);
	g->console = open_in(run, name);
	console_scan_init(&g->scan, run_out.nr_guests > 1 ? emit_merged : emit_one, g);
	g->scan.allow_warn = allow_warn;
	g->scan.known = known.n ? &known : NULL;
	if (pipe2(pfd, O_CLOEXEC) || pipe2(ifd, O_CLOEXEC))
		die("pipe: %s", strerror(errno));
	g->pid = start_guest(av, ifd[0], pfd[1], physmem, uml,
			     uml && guest_cpus(g->nr, vcpus, &cpus) ? &cpus : NULL);
	if (g->pid < 0)
		die("fork: %s", strerror(errno));
	close(pfd[1]);
	close(ifd[0]);
	g->out = pfd[0];
	g->in = ifd[1];
	g->pidfd = syscall(SYS_pidfd_open, g->pid, 0);
}

/* Reads what guest g printed; false once its console is done. */
static bool guest_read(struct guest *g)
{
	char buf[4096];
	ssize_t n = read(g->out, buf, sizeof(buf));

	if (n <= 0)
		return false;
	fwrite(buf, 1, n, g->console);
	fflush(g->console);
	console_scan_feed(&g->scan, buf, n);
	return true;
}

static void guest_done(struct guest *g)
{
	console_scan_flush(&g->scan);
	close(g->out);
	g->out = -1;
}

/*
 * After its console closes, UML still cleans up (exitcalls, killing its
 * host processes, unmapping its memory), which on a host where page-table
 * updates are slow has taken more than 2 s: wait for it as long as
 * exit_grace_ms (from its panic, if it panicked), so that its status is
 * its own. Then kill what is left; the session's other processes (UML's
 * helpers) die with it. Every guest is stopped before any is reaped.
 */
static long exit_grace_ms = 30000;

static void guest_stop(struct guest *g, bool wait_exit)
{
	struct pollfd p = { .fd = g->pidfd, .events = POLLIN };

	if (g->out >= 0) {
		guest_done(g);
		g->eof_ms = now_ms();
	}
	if (!g->exit_ms && wait_exit) {
		/* A panicked kernel's grace began with its panic. */
		long from = g->panic_ms ? g->panic_ms : g->eof_ms;
		long left = from + exit_grace_ms - now_ms();

		if (poll(&p, 1, left > 0 ? left : 0) == 1)
			g->exit_ms = now_ms();
	}
	g->killed = !g->exit_ms;
	kill(-g->pid, SIGKILL);
}

/*
 * When to stop reading guest g's console though it is still open, or 0:
 * a second after its process exited (its helpers may hold the pipe), or
 * exit_grace_ms after its kernel panicked. UML has been seen to print its
 * panic and then neither exit nor close the console (a zombie leader with
 * live threads): a panicked kernel is done, a crash, not a hang.
 */
static long console_deadline(const struct guest *g)
{
	long until = g->grace;

	if (g->panic_ms && (!until || g->panic_ms + exit_grace_ms < until))
		until = g->panic_ms + exit_grace_ms;
	return until;
}

/*
 * How guest g's host process ended, for the verdict when the kernel in it
 * had powered down cleanly: the signal, whether it was ours, and how long
 * after the console closed.
 */
static void guest_exit_note(const struct guest *g, char *buf, size_t len)
{
	int sig = WTERMSIG(g->status);

	if (g->killed)
		snprintf(buf, len,
			 "host: UML (guest %d) killed with SIGKILL by supervise, still running %.1f s after its console closed",
			 g->nr, exit_grace_ms / 1000.0);
	else
		snprintf(buf, len,
			 "host: UML (guest %d) ended by signal %d (%s), not sent by supervise, %.1f s after its console closed",
			 g->nr, sig, strsignal(sig),
			 g->exit_ms > g->eof_ms ? (g->exit_ms - g->eof_ms) / 1000.0 : 0.0);
}

/* A counter of /proc/vmstat (OOM kills: "oom_kill", since 4.13); -1. */
static long vmstat(const char *name)
{
	char key[64];
	long v, found = -1;
	FILE *f = fopen("/proc/vmstat", "re");

	if (!f)
		return -1;
	while (found < 0 && fscanf(f, "%63s %ld", key, &v) == 2)
		if (!strcmp(key, name))
			found = v;
	fclose(f);
	return found;
}

/* OOM kills on the host since the count was before (-1: unknown); 0. */
static long oom_kills_since(long before)
{
	long now = vmstat("oom_kill");

	return before >= 0 && now > before ? now - before : 0;
}

static long sysctl_long(const char *path)
{
	long v = -1;
	FILE *f = fopen(path, "re");

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/*
 * Host faults the console cannot show. A guest whose UML process died of
 * a SIGKILL before its kernel powered down, not sent by supervise, was
 * killed from outside: UML never sends its own process SIGKILL (a kernel
 * that panics ends it with SIGTERM or SIGABRT). An OOM kill on the host
 * (or in its cgroup) during the run, by /proc/vmstat, explains such a
 * death and any other failure: the OOM killer may pick one of UML's
 * helper processes, whose guest process then fails. A UML report of a
 * failed host mapping gets the limit's current value.
 */
static void host_faults(struct console_scan *all, const struct guest *guests,
			int n, long oom_before, bool failed)
{
	long oom = oom_kills_since(oom_before), maps;
	size_t used;
	int i;

	if (!all->host_fault[0] && oom && failed)
		snprintf(all->host_fault, sizeof(all->host_fault),
			 "the host's OOM killer killed %ld process%s during the run (/proc/vmstat oom_kill): raise the memory limit (cgroup, container) or lower MEM or GUESTS",
			 oom, oom > 1 ? "es" : "");
	for (i = 0; i < n && !all->host_fault[0]; i++) {
		if (WIFSIGNALED(guests[i].status) &&
		    WTERMSIG(guests[i].status) == SIGKILL &&
		    !guests[i].killed && !guests[i].scan.powered_down)
			snprintf(all->host_fault, sizeof(all->host_fault),
				 "UML (guest %d) was killed with SIGKILL from outside supervise before powering down",
				 guests[i].nr);
	}
	used = strlen(all->host_fault);
	maps = sysctl_long("/proc/sys/vm/max_map_count");
	if (strstr(all->host_fault, "vm.max_map_count") && maps >= 0)
		snprintf(all->host_fault + used, sizeof(all->host_fault) - used,
			 "; vm.max_map_count is %ld", maps);
}

static void guest_reap(struct guest *g)
{
	long deadline;
	int i;

	waitpid(g->pid, &g->status, 0);
	for (deadline = now_ms() + 2000; group_alive(g->pid) && now_ms() < deadline;)
		usleep(10000);
	guest_remove_dir(g);
	/* Reaped: its pid may be another process's from now on. */
	for (i = 0; i < nr_made && made[i] != g; i++)
		;
	if (i < nr_made)
		made[i] = made[--nr_made];
	fclose(g->console);
	close(g->in);
}

/*
 * Reaps the orphans that came to us as subreaper. Only once every guest
 * is reaped (a guest's own status must not be taken here) and their
 * groups are dead (group_alive()), so the zombies are all there already.
 */
static void reap_orphans(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

/*
 * Where each guest was when the run hung: the id of its last result,
 * after which came the scenario that hangs (a guest's own numbers are
 * not the run's, so ids, not lines).
 */
static void hang_where(const struct guest *guests, int n, char *buf,
		       size_t len)
{
	size_t used = 0;
	int i;

	for (i = 0; i < n && used < len; i++) {
		const struct console_scan *s = &guests[i].scan;
		char who[32] = "";
		int idlen = 0;
		const char *id = s->last_test[0] ?
				 tap_name(s->last_test, &idlen) : "";

		if (n > 1)
			snprintf(who, sizeof(who), " guest %d:", guests[i].nr);
		if (!s->last_test[0])
			used += snprintf(buf + used, len - used,
					 "%s%s before its first result",
					 i ? ";" : ",", who);
		else if (s->plan >= 0 && s->results >= s->plan)
			used += snprintf(buf + used, len - used,
					 "%s%s after its last result, %.*s",
					 i ? ";" : ",", who, idlen, id);
		else
			used += snprintf(buf + used, len - used,
					 "%s%s in the scenario after %.*s",
					 i ? ";" : ",", who, idlen, id);
	}
}

int main(int argc, char **argv)
{
	const char *root = "out/results", *physmem = NULL, *source = NULL;
	const char *guests_from = NULL, *timings = NULL;
	long start, boot_ms = -1, deadline, oom_before;
	int timeout_s = 300, opt, live, i, rc, expect = -1;
	bool quiet = false, hung = false, uml = false, allow_warn = false;
	bool huge = false;
	char run[PATH_MAX], verdict[512];
	struct guest guests[MAX_GUESTS] = { 0 };
	struct console_scan all;
	sigset_t stop_sigs, wait_mask;
	FILE *vf;

	run_out.nr_guests = 1;
	while ((opt = getopt(argc, argv, "t:o:m:s:j:n:x:k:uS:c:Hwqg:R:")) != -1) {
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
		case 'j':
			run_out.nr_guests = atoi(optarg);
			break;
		case 'n':
			expect = atoi(optarg);
			break;
		case 'x':
			exit_grace_ms = atof(optarg) * 1000;
			break;
		case 'k':
			if (known_load(&known, optarg))
				die("cannot read known regressions from %s: %s",
				    optarg, strerror(errno));
			break;
		case 'u':
			uml = true;
			break;
		case 'S':
			swap_mib = atol(optarg);
			break;
		case 'c':
			vcpus = atoi(optarg);
			if (vcpus < 1)
				usage();
			break;
		case 'H':
			huge = true;
			break;
		case 'w':
			allow_warn = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'g':
			guests_from = optarg;
			break;
		case 'R':
			timings = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind >= argc || timeout_s <= 0 || run_out.nr_guests < 1 ||
	    run_out.nr_guests > MAX_GUESTS)
		usage();
	if (physmem)
		check_physmem_dir(physmem);
	/* Before PR_SET_PDEATHSIG: entering a user namespace clears it. */
	if (huge && uml)
		huge_tmpfs_setup(physmem, run_out.nr_guests);
	/*
	 * Killed with our parent: a make killed by SIGTERM passes it to the
	 * recipe's shell only, and the guest must not outlive them.
	 */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		die("parent exited before the guest started");
	/*
	 * UML's host processes that outlive it (a UML killed, or ended by
	 * a panic) come to us rather than to PID 1, which in a container
	 * may never reap them; reap_orphans() does at the end.
	 */
	prctl(PR_SET_CHILD_SUBREAPER, 1);

	make_run_dir(root, run, sizeof(run));
	run_out.tap = open_in(run, "tap.txt");
	run_out.echo = quiet ? NULL : stdout;
	setvbuf(stdout, NULL, _IOLBF, 0);

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGPIPE, SIG_IGN);
	start = now_ms();
	oom_before = vmstat("oom_kill");
	for (i = 0; i < run_out.nr_guests; i++) {
		guests[i].nr = i + 1;
		guest_start(&guests[i], argv + optind, argc - optind, physmem,
			    uml, run, allow_warn);
	}

	/*
	 * The stop signals are taken only inside ppoll(): one that came
	 * between the test of interrupted and the wait would be seen at the
	 * next console line, or at the deadline if the guest is silent. The
	 * guests have started, so they do not inherit the mask.
	 */
	sigemptyset(&stop_sigs);
	sigaddset(&stop_sigs, SIGINT);
	sigaddset(&stop_sigs, SIGTERM);
	sigaddset(&stop_sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &stop_sigs, &wait_mask);
	deadline = now_ms() + timeout_s * 1000L;
	for (live = run_out.nr_guests; live && !interrupted;) {
		struct pollfd p[2 * MAX_GUESTS];
		long now = now_ms(), wait = deadline - now;
		struct timespec ts;

		if (wait <= 0) {
			hung = true;
			break;
		}
		for (i = 0; i < run_out.nr_guests; i++) {
			struct guest *g = &guests[i];

			long until = console_deadline(g);

			if (g->out >= 0 && until && now >= until) {
				guest_done(g);
				g->eof_ms = now;
				live--;
			}
			if (g->out >= 0 && until && until - now < wait)
				wait = until - now;
			p[2 * i] = (struct pollfd){ .fd = g->out, .events = POLLIN };
			p[2 * i + 1] = (struct pollfd){
				.fd = g->grace ? -1 : g->pidfd, .events = POLLIN };
		}
		if (!live)
			break;
		ts.tv_sec = wait / 1000;
		ts.tv_nsec = wait % 1000 * 1000000L;
		if (ppoll(p, 2 * run_out.nr_guests, &ts, &wait_mask) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (i = 0; i < run_out.nr_guests; i++) {
			struct guest *g = &guests[i];

			if (p[2 * i + 1].revents) {
				g->exit_ms = now_ms();
				g->grace = g->exit_ms + 1000;
			}
			if (g->out < 0 || !(p[2 * i].revents & (POLLIN | POLLHUP)))
				continue;
			if (!guest_read(g)) {
				guest_done(g);
				g->eof_ms = now_ms();
				live--;
			}
			if (g->scan.panicked && !g->panic_ms)
				g->panic_ms = now_ms();
			if (boot_ms < 0 && g->scan.started)
				boot_ms = now_ms() - start;
		}
	}
	sigprocmask(SIG_SETMASK, &wait_mask, NULL);
	console_scan_init(&all, NULL, NULL);
	all.plan = 0;
	all.powered_down = true;
	for (i = 0; i < run_out.nr_guests; i++)
		guest_stop(&guests[i], !interrupted && !hung && !guests[i].grace);
	for (i = 0; i < run_out.nr_guests; i++) {
		guest_reap(&guests[i]);
		console_scan_add(&all, &guests[i].scan);
		if (run_out.nr_guests > 1)
			pending_flush(&guests[i]);
	}
	reap_orphans();
	/*
	 * Each guest plans only what it ran; the run's plan is what the
	 * caller expects, so that a guest that stopped early is incomplete.
	 */
	if (run_out.nr_guests > 1 && all.plan >= 0 && expect >= 0)
		all.plan = expect;
	if (run_out.nr_guests > 1 && all.plan >= 0) {
		char plan[32];

		snprintf(plan, sizeof(plan), "1..%d", all.plan);
		put_line(plan);
	}
	fclose(run_out.tap);

	if (interrupted) {
		snprintf(verdict, sizeof(verdict), "interrupted by signal %d",
			 (int)interrupted);
		rc = 128 + interrupted;
	} else if (hung && !all.host_fault[0] && !oom_kills_since(oom_before)) {
		char where[400] = "";

		hang_where(guests, run_out.nr_guests, where, sizeof(where));
		snprintf(verdict, sizeof(verdict),
			 "hang: guest still running after %ds%s", timeout_s,
			 where);
		rc = 1;
	} else {
		char note[256] = "";
		int status = 0;

		/* The first guest that did not exit 0 speaks for the run. */
		for (i = 0; i < run_out.nr_guests && !status; i++) {
			status = guests[i].status;
			if (WIFSIGNALED(status))
				guest_exit_note(&guests[i], note, sizeof(note));
		}
		rc = console_scan_verdict(&all, status, note, verdict,
					  sizeof(verdict));
		/* Once more with what the host did, if that changes it. */
		host_faults(&all, guests, run_out.nr_guests, oom_before,
			    rc != 0);
		if (all.host_fault[0])
			rc = console_scan_verdict(&all, status, note, verdict,
						  sizeof(verdict));
	}
	vf = open_in(run, "verdict");
	fprintf(vf, "%s\n", verdict);
	fclose(vf);
	{
		struct report_info info = { verdict, rc, source,
					    now_ms() - start, boot_ms, 0,
					    physmem, run_out.nr_guests,
					    guests_from };

		if (guests[0].own_tmpfs)
			info.physmem = "a tmpfs per guest, huge=always";
		/* The slowest exit; -1 if a guest had to be killed. */
		for (i = 0; i < run_out.nr_guests; i++) {
			long ms = guests[i].exit_ms - guests[i].eof_ms;

			if (guests[i].killed || info.exit_ms < 0)
				info.exit_ms = -1;
			else if (ms > info.exit_ms)
				info.exit_ms = ms;
		}

		if (report_write(run, &info))
			fprintf(stderr, "uffd-uml: cannot write junit.xml/summary.json in %s\n",
				run);
		if (timings && rc == 0)
			timing_append(timings, run_out.nr_guests, all.results,
				      info.wall_ms);
	}
	fprintf(stderr, "uffd-uml: %s (%s)\n", verdict, run);
	return rc;
}
