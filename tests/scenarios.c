// SPDX-License-Identifier: GPL-2.0
/*
 * The scenario table and the entry point the guest runner calls:
 *   uffd-scenarios --list      one "<name>/<memtype>" (or "<name>") a line
 *   uffd-scenarios <id>        run one; exit 0 pass, 1 fail, 4 skip
 */
#include <stdlib.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "scenarios.h"

/* 6.14, and the 6.12.y backport; 6.1.y returns NOPAGE and livelocks. */
static const struct since release_hang_fix = {
	"mm/userfaultfd: Fix release hang over concurrent GUP", 6, 12 };

/* 7.3: re-registration may not drop WP (or RWP). */
static const struct since reregister_keeps_markers = {
	"userfaultfd: add UFFDIO_REGISTER_MODE_RWP and UFFDIO_RWPROTECT plumbing", 7, 3 };

/* Where uffd-wp state goes when the mm changes: a huge PMD's bit too. */
#define WP_MM		(MEM_ALL | MEM_THP)
#define MEM_HUGETLB_ANY	(MEM_HUGETLB | MEM_HUGETLB_PRIV)

static const struct scenario scenarios[] = {
	{ "fault-roundtrip", MEM_ALL, 0, fault_roundtrip },
	{ "copy-enoent-slowpath", MEM_ALL, 0, copy_enoent_slowpath },
	{ "copy-src-efault", MEM_ALL, 0, copy_src_efault },
	{ "private-copy-anon", MEM_PRIVATE_FILE, 0, private_copy_anon },
	{ "isize-copy", MEM_SHMEM | MEM_SHMEM_PRIV | MEM_HUGETLB, 0, isize_copy },
	{ "maywrite", MEM_SHARED, 0, maywrite },
	{ "shmem-ro-copy-dirty", MEM_SHMEM, 0, shmem_ro_copy_dirty },
	{ "eagain-fork", MEM_ALL, UFFD_FEATURE_EVENT_FORK, eagain_fork },
	{ "eagain-remap", MEM_ALL, UFFD_FEATURE_EVENT_REMAP, eagain_remap },
	{ "eagain-remove", MEM_ALL, UFFD_FEATURE_EVENT_REMOVE, eagain_remove },
	{ "eagain-unmap", MEM_ALL, UFFD_FEATURE_EVENT_UNMAP, eagain_unmap },
	{ "eagain-counter", MEM_ALL,
	  UFFD_FEATURE_EVENT_REMAP | UFFD_FEATURE_EVENT_UNMAP, eagain_counter },
	{ "fork-event-close", MEM_ALL, UFFD_FEATURE_EVENT_FORK,
	  fork_event_close },
	/* SMP: the forked or moved copy must hold what the fills did. */
	{ "smp-eagain-fork", MEM_ANON | MEM_SHMEM_PRIV, UFFD_FEATURE_EVENT_FORK,
	  smp_eagain_fork },
	{ "smp-eagain-remap", MEM_ANON | MEM_SHMEM_PRIV,
	  UFFD_FEATURE_EVENT_REMAP, smp_eagain_remap },
	/* A fault serves WP-only anonymous memory itself. */
	{ "smp-copy-fault", MEM_ANON, 0, smp_copy_fault },
	{ "smp-zeropage-fault", MEM_ANON, 0, smp_zeropage_fault },
	/* ... a MISSING range whose pages are all in the page cache too. */
	{ "smp-continue-fault", MEM_SHMEM, 0, smp_continue_fault },
	{ "smp-move-fault", MEM_ANON, UFFD_FEATURE_MOVE, smp_move_fault },
	{ "cont-basic", MEM_SHARED, 0, cont_basic },
	{ "cont-fallocated", MEM_SHMEM, 0, cont_fallocated },
	{ "cont-private-cow", MEM_PRIVATE_FILE, 0, cont_private_cow },
	{ "cont-validate", MEM_SHARED, 0, cont_validate },
	{ "ioctl-advertising", MEM_ALL, 0, ioctl_advertising },
	{ "minor-register-scope", MEM_ALL, 0, minor_register_scope },
	{ "minor-no-faultaround", MEM_SHMEM, UFFD_FEATURE_MINOR_SHMEM,
	  minor_no_faultaround },
	{ "wp-none-pte", MEM_SHARED, 0, wp_none_pte },
	{ "wp-unprotect-marker", MEM_FILE, 0, wp_unprotect_marker },
	{ "wp-zap-marker", MEM_FILE, 0, wp_zap_marker },
	{ "wp-copy-mode", MEM_ALL, 0, wp_copy_mode },
	{ "wp-mprotect", MEM_ALL, 0, wp_mprotect },
	/* Hugetlb pages are not reclaimed. */
	{ "wp-pageout", MEM_ANON | MEM_SHMEM | MEM_SHMEM_PRIV, 0, wp_pageout },
	/* Transparent huge pages (issue 17): a huge PMD proven first. */
	{ "thp-wp", MEM_THP, 0, thp_wp },
	{ "thp-collapse", MEM_THP, 0, thp_collapse },
	{ "thp-missing", MEM_THP, 0, thp_missing },
	{ "thp-zero-move", MEM_THP, UFFD_FEATURE_MOVE, thp_zero_move },
	{ "thp-move", MEM_THP, UFFD_FEATURE_MOVE, thp_move },
	{ "thp-shmem-cont", 0, UFFD_FEATURE_MINOR_SHMEM, thp_shmem_cont },
	{ "wp-fork", MEM_ALL, UFFD_FEATURE_EVENT_FORK, wp_fork },
	{ "wp-unpopulated", MEM_ANON, 0, wp_unpopulated },
	{ "wp-reregister-keep", MEM_ALL, 0, wp_reregister_keep,
	  &reregister_keeps_markers },
	{ "wp-after-unregister", WP_MM, UFFD_FEATURE_SIGBUS,
	  wp_after_unregister },
	{ "wp-after-close", WP_MM, UFFD_FEATURE_SIGBUS, wp_after_close },
	{ "wp-after-mremap", WP_MM, UFFD_FEATURE_SIGBUS, wp_after_mremap },
	{ "wp-after-mremap-event", WP_MM,
	  UFFD_FEATURE_SIGBUS | UFFD_FEATURE_EVENT_REMAP,
	  wp_after_mremap_event },
	/* hugetlb VMAs are VM_DONTEXPAND, which MREMAP_DONTUNMAP refuses. */
	{ "wp-after-dontunmap", WP_MM & ~MEM_HUGETLB_ANY,
	  UFFD_FEATURE_SIGBUS, wp_after_dontunmap },
	{ "wp-after-dontunmap-event", WP_MM & ~MEM_HUGETLB_ANY,
	  UFFD_FEATURE_SIGBUS | UFFD_FEATURE_EVENT_REMAP,
	  wp_after_dontunmap_event },
	{ "wp-after-fork", WP_MM, UFFD_FEATURE_SIGBUS, wp_after_fork },
	{ "wp-after-fork-event", WP_MM,
	  UFFD_FEATURE_SIGBUS | UFFD_FEATURE_EVENT_FORK, wp_after_fork_event },
	{ "wp-after-dontneed", WP_MM, UFFD_FEATURE_SIGBUS,
	  wp_after_dontneed },
	{ "wp-after-mprotect", WP_MM, UFFD_FEATURE_SIGBUS,
	  wp_after_mprotect },
	/* WP_ASYNC came with PAGEMAP_SCAN (6.7). */
	{ "pagemap-scan-written", MEM_ALL, UFFD_FEATURE_WP_ASYNC, scan_written },
	{ "poison-after-mremap", MEM_ALL, UFFD_FEATURE_POISON,
	  poison_after_mremap },
	{ "poison-after-dontneed", MEM_ALL, UFFD_FEATURE_POISON,
	  poison_after_dontneed },
	{ "poison-after-fork", MEM_ANON | MEM_PRIVATE_FILE, UFFD_FEATURE_POISON,
	  poison_after_fork },
	/* A hole in the dump only where get_dump_page() faults: shmem. */
	{ "coredump-no-fault", MEM_SHMEM | MEM_SHMEM_PRIV, 0,
	  coredump_no_fault },
	{ "exit-clear-tid", MEM_ALL, 0, exit_clear_tid },
	{ "remote-procmem-read", MEM_ALL, 0, remote_procmem_read },
	{ "remote-procmem-write", MEM_ALL, 0, remote_procmem_write },
	{ "remote-vm-readv", MEM_ALL, 0, remote_vm_readv },
	{ "remote-vm-writev", MEM_ALL, 0, remote_vm_writev },
	{ "remote-user-only", MEM_ALL, 0, remote_user_only },
	{ "remote-ptrace-peek", MEM_ALL, 0, remote_ptrace_peek },
	{ "copy-full-retry", MEM_SHMEM | MEM_HUGETLB, 0, copy_full_retry },
	{ "copy-retry-filled", MEM_ALL, 0, copy_retry_filled },
	{ "copy-retry-event", MEM_ALL, UFFD_FEATURE_EVENT_UNMAP,
	  copy_retry_event },
	{ "close-blocked-fault", MEM_ALL, 0, close_blocked_fault },
	{ "close-vs-gup", MEM_ANON, 0, close_vs_gup, &release_hang_fix },
	{ "smp-close-gup", MEM_ANON, 0, smp_close_gup, &release_hang_fix },
	{ "smp-unregister-wp", MEM_ANON | MEM_SHMEM, 0, smp_unregister_wp },
	{ "smp-wp-shootdown", MEM_ANON, 0, smp_wp_shootdown },
	{ "hugetlb-uaccess", MEM_HUGETLB | MEM_HUGETLB_PRIV, 0, hugetlb_uaccess },
	{ "hugetlb-futex", MEM_HUGETLB | MEM_HUGETLB_PRIV, 0, hugetlb_futex },
	{ "hugetlb-fork-cow", MEM_HUGETLB_PRIV, 0, hugetlb_fork_cow },
	{ "hugetlb-pool", MEM_HUGETLB | MEM_HUGETLB_PRIV, 0, hugetlb_pool },
	{ "sysv-shm-hugetlb", 0, 0, sysv_shm_hugetlb },
	{ "api", 0, 0, api_contract },
	{ "register-contract", MEM_ALL, 0, register_contract },
	{ "copy-errors", MEM_ALL, 0, copy_errors },
	{ "copy-esrch", MEM_ANON, UFFD_FEATURE_EVENT_FORK, copy_esrch },
	{ "event-fork", MEM_ALL, UFFD_FEATURE_EVENT_FORK, event_fork },
	{ "event-remap", MEM_ALL, UFFD_FEATURE_EVENT_REMAP, event_remap },
	{ "event-remove", MEM_ALL, UFFD_FEATURE_EVENT_REMOVE, event_remove },
	{ "event-unmap", MEM_ALL, UFFD_FEATURE_EVENT_UNMAP, event_unmap },
	{ "remap-fields", MEM_ALL,
	  UFFD_FEATURE_EVENT_REMAP | UFFD_FEATURE_EVENT_UNMAP, remap_fields },
	{ "remove-fields", MEM_ALL, UFFD_FEATURE_EVENT_REMOVE, remove_fields },
	{ "unmap-fields", MEM_ALL, UFFD_FEATURE_EVENT_UNMAP, unmap_fields },
	{ "fork-fields", MEM_ALL, UFFD_FEATURE_EVENT_FORK, fork_fields },
	{ "sigbus-feature", MEM_ALL, UFFD_FEATURE_SIGBUS, sigbus_feature },
	{ "unprivileged", 0, 0, unprivileged },
	{ "poison", MEM_ALL, UFFD_FEATURE_POISON, poison },
	{ "rwp-uaccess", MEM_ALL, UFFD_FEATURE_RWP, rwp_uaccess },
	{ "rwp-remote", MEM_ALL, UFFD_FEATURE_RWP, rwp_remote },
	{ "rwp-fault", MEM_ALL, UFFD_FEATURE_RWP, rwp_fault },
	{ "rwp-wake", MEM_ALL, UFFD_FEATURE_RWP, rwp_wake },
	{ "rwp-async-scan", MEM_ALL, UFFD_FEATURE_RWP | UFFD_FEATURE_RWP_ASYNC,
	  rwp_async_scan },
	/* UFFDIO_SET_MODE toggles RWP_ASYNC only where the kernel has it. */
	{ "rwp-set-mode", MEM_ALL, UFFD_FEATURE_RWP | UFFD_FEATURE_RWP_ASYNC,
	  rwp_set_mode },
	{ "rwp-wp-exclusive", MEM_ALL, UFFD_FEATURE_RWP, rwp_wp_exclusive },
	{ "rwp-fork", MEM_ALL, UFFD_FEATURE_RWP | UFFD_FEATURE_SIGBUS,
	  rwp_fork },
	{ "rwp-fork-event", MEM_ALL,
	  UFFD_FEATURE_RWP | UFFD_FEATURE_SIGBUS | UFFD_FEATURE_EVENT_FORK,
	  rwp_fork_event },
	{ "rwp-mremap", MEM_ALL,
	  UFFD_FEATURE_RWP | UFFD_FEATURE_SIGBUS | UFFD_FEATURE_EVENT_REMAP,
	  rwp_mremap },
	{ "rwp-zap", MEM_ALL, UFFD_FEATURE_RWP | UFFD_FEATURE_SIGBUS, rwp_zap },
	{ "rwp-release", MEM_ALL, UFFD_FEATURE_RWP | UFFD_FEATURE_SIGBUS,
	  rwp_release },
	{ "rwp-mprotect", MEM_ALL, UFFD_FEATURE_RWP | UFFD_FEATURE_SIGBUS,
	  rwp_mprotect },
	/* Hugetlb pages are not reclaimed. */
	{ "rwp-pageout", MEM_ANON | MEM_SHMEM | MEM_SHMEM_PRIV,
	  UFFD_FEATURE_RWP | UFFD_FEATURE_SIGBUS, rwp_pageout },
	/* UFFDIO_MOVE moves anonymous pages only. */
	{ "move-basic", MEM_ANON, UFFD_FEATURE_MOVE, move_basic },
	{ "move-src-holes", MEM_ANON, UFFD_FEATURE_MOVE, move_src_holes },
	{ "move-errors", MEM_ANON,
	  UFFD_FEATURE_MOVE | UFFD_FEATURE_MISSING_SHMEM, move_errors },
	{ "move-busy-fork", MEM_ANON, UFFD_FEATURE_MOVE, move_busy_fork },
	{ "move-busy-pin", MEM_ANON, UFFD_FEATURE_MOVE, move_busy_pin },
	{ "move-eagain", MEM_ANON,
	  UFFD_FEATURE_MOVE | UFFD_FEATURE_EVENT_FORK |
	  UFFD_FEATURE_EVENT_REMAP, move_eagain },
	{ "move-wp-src", MEM_ANON,
	  UFFD_FEATURE_MOVE | UFFD_FEATURE_PAGEFAULT_FLAG_WP |
	  UFFD_FEATURE_SIGBUS, move_wp_src },
	{ "move-partial", MEM_ANON, UFFD_FEATURE_MOVE, move_partial },
};

static void list(void)
{
	size_t i, m;

	for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		if (!scenarios[i].mem) {
			printf("%s\n", scenarios[i].name);
			continue;
		}
		for (m = 0; m < nr_mem_types; m++)
			if (scenarios[i].mem & mem_types[m].flag)
				printf("%s/%s\n", scenarios[i].name,
				       mem_types[m].name);
	}
}

/* Missing needs become SKIP with the name of what is missing. */
static int check_needs(const struct scenario *s, struct ctx *c)
{
	uint64_t need = s->features, bit;
	int ret;

	if (s->since && kernel_older_than(s->since->major, s->since->minor)) {
		struct utsname u;

		uname(&u);
		return skip("Linux %s predates \"%s\" (%d.%d)", u.release,
			    s->since->change, s->since->major, s->since->minor);
	}
	c->features = uffd_kernel_features();
	if (c->mt) {
		ret = c->mt->available();
		if (ret)
			return ret;
		need |= c->mt->missing_feature;
	}
	for (bit = 1; bit; bit <<= 1)
		if ((need & bit) && !(c->features & bit))
			return skip("kernel lacks UFFD_FEATURE_%s",
				    uffd_feature_name(bit));
	return PASS;
}

static int run(const char *id)
{
	size_t i, m, n;
	struct ctx c = { 0 };
	int ret;

	for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		const struct scenario *s = &scenarios[i];

		n = strlen(s->name);
		if (strncmp(id, s->name, n))
			continue;
		if (!s->mem && id[n] == '\0')
			goto found;
		if (!s->mem || id[n] != '/')
			continue;
		for (m = 0; m < nr_mem_types; m++) {
			if (!(s->mem & mem_types[m].flag) ||
			    strcmp(id + n + 1, mem_types[m].name))
				continue;
			c.mt = &mem_types[m];
			goto found;
		}
		continue;
found:
		ret = check_needs(s, &c);
		return ret ? ret : s->run(&c);
	}
	fprintf(stderr, "uffd-scenarios: no scenario %s\n", id);
	return FAIL;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--list")) {
		list();
		return 0;
	}
	/* _exit(): see diag(); every line has been written already. */
	if (argc == 2)
		_exit(run(argv[1]));
	fprintf(stderr, "usage: uffd-scenarios --list | <scenario>[/<memtype>]\n");
	return 2;
}
