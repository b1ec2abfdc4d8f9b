/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A scenario is one row of the table in scenarios.c plus one function.
 * The row says which memory types it runs on and which UFFDIO_API features
 * it needs; the harness turns a missing need into SKIP with the reason.
 */
#ifndef SCENARIOS_H
#define SCENARIOS_H

#include "uffd-common.h"

struct ctx {
	const struct mem_type *mt;	/* NULL for memory-agnostic rows */
	uint64_t features;		/* what the running kernel advertises */
};

/*
 * An upstream change a scenario's expectation rests on, for behaviour that
 * no UFFDIO_API bit announces: kernels older than the first release line
 * that has it (mainline or stable backport) SKIP, naming it.
 */
struct since {
	const char *change;	/* commit subject */
	int major, minor;
};

struct scenario {
	const char *name;
	unsigned int mem;	/* MEM_* types it runs on, 0: none in particular */
	uint64_t features;	/* UFFD_FEATURE_* it needs */
	int (*run)(const struct ctx *c);
	const struct since *since;
};

/* section A: seed 000, "userfaultfd shmem updates" */
int fault_roundtrip(const struct ctx *c);
int copy_enoent_slowpath(const struct ctx *c);
int copy_src_efault(const struct ctx *c);
int private_copy_anon(const struct ctx *c);
int isize_copy(const struct ctx *c);
int maywrite(const struct ctx *c);
int shmem_ro_copy_dirty(const struct ctx *c);
/* section B: seed 001, events vs the fill ioctls */
int eagain_fork(const struct ctx *c);
int eagain_remap(const struct ctx *c);
int eagain_remove(const struct ctx *c);
int eagain_unmap(const struct ctx *c);
int eagain_counter(const struct ctx *c);
int fork_event_close(const struct ctx *c);
/* fills racing events and faults from another vCPU (issue 18) */
int smp_eagain_fork(const struct ctx *c);
int smp_eagain_remap(const struct ctx *c);
int smp_copy_fault(const struct ctx *c);
int smp_zeropage_fault(const struct ctx *c);
int smp_continue_fault(const struct ctx *c);
int smp_move_fault(const struct ctx *c);
/* section C: seed 002, UFFDIO_CONTINUE */
int cont_basic(const struct ctx *c);
int cont_fallocated(const struct ctx *c);
int cont_private_cow(const struct ctx *c);
int cont_validate(const struct ctx *c);
int ioctl_advertising(const struct ctx *c);
int minor_register_scope(const struct ctx *c);
int minor_no_faultaround(const struct ctx *c);
/* section D: seed 003, write-protect */
int wp_none_pte(const struct ctx *c);
int wp_unprotect_marker(const struct ctx *c);
int wp_zap_marker(const struct ctx *c);
int wp_copy_mode(const struct ctx *c);
int wp_mprotect(const struct ctx *c);
int wp_pageout(const struct ctx *c);
int thp_wp(const struct ctx *c);
int thp_collapse(const struct ctx *c);
int thp_missing(const struct ctx *c);
int thp_zero_move(const struct ctx *c);
int thp_move(const struct ctx *c);
int thp_shmem_cont(const struct ctx *c);
int wp_fork(const struct ctx *c);
int wp_unpopulated(const struct ctx *c);
int wp_reregister_keep(const struct ctx *c);
/* SKIP, naming the feature, where WP registration on c->mt is missing. */
int need_wp(const struct ctx *c);
/* SMP: a protection that returned has reached the other vCPU */
int smp_wp_shootdown(const struct ctx *c);
/* uffd-wp state through mm operations (realbugs A) */
int wp_after_unregister(const struct ctx *c);
int wp_after_close(const struct ctx *c);
int wp_after_mremap(const struct ctx *c);
int wp_after_mremap_event(const struct ctx *c);
int wp_after_dontunmap(const struct ctx *c);
int wp_after_dontunmap_event(const struct ctx *c);
int wp_after_fork(const struct ctx *c);
int wp_after_fork_event(const struct ctx *c);
int wp_after_dontneed(const struct ctx *c);
int wp_after_mprotect(const struct ctx *c);
/* PAGEMAP_SCAN with asynchronous uffd-wp (realbugs E) */
int scan_written(const struct ctx *c);
/* POISON markers through the mm (realbugs A, for POISON) */
int poison_after_mremap(const struct ctx *c);
int poison_after_dontneed(const struct ctx *c);
int poison_after_fork(const struct ctx *c);
/* kernel-internal and remote accesses (realbugs B) */
int coredump_no_fault(const struct ctx *c);
int exit_clear_tid(const struct ctx *c);
int remote_procmem_read(const struct ctx *c);
int remote_procmem_write(const struct ctx *c);
int remote_vm_readv(const struct ctx *c);
int remote_vm_writev(const struct ctx *c);
int remote_user_only(const struct ctx *c);
int remote_ptrace_peek(const struct ctx *c);
/* fill error paths (realbugs D) */
int copy_full_retry(const struct ctx *c);
int copy_retry_filled(const struct ctx *c);
int copy_retry_event(const struct ctx *c);
/* section E: seed 004, closing the uffd */
int close_blocked_fault(const struct ctx *c);
int close_vs_gup(const struct ctx *c);
/* seed 004 and uffd-wp on two vCPUs (issue 18) */
int smp_close_gup(const struct ctx *c);
int smp_unregister_wp(const struct ctx *c);
/* hugetlb memory itself (UML hugetlbfs support) */
int hugetlb_uaccess(const struct ctx *c);
int hugetlb_futex(const struct ctx *c);
int hugetlb_fork_cow(const struct ctx *c);
int hugetlb_pool(const struct ctx *c);
int sysv_shm_hugetlb(const struct ctx *c);
/* section F: API contract */
int api_contract(const struct ctx *c);
int register_contract(const struct ctx *c);
int copy_errors(const struct ctx *c);
int copy_esrch(const struct ctx *c);
int event_fork(const struct ctx *c);
int event_remap(const struct ctx *c);
int event_remove(const struct ctx *c);
int event_unmap(const struct ctx *c);
/* event message fields (realbugs C) */
int remap_fields(const struct ctx *c);
int remove_fields(const struct ctx *c);
int unmap_fields(const struct ctx *c);
int fork_fields(const struct ctx *c);
int sigbus_feature(const struct ctx *c);
int unprivileged(const struct ctx *c);
int poison(const struct ctx *c);
/* UFFDIO_MOVE (anonymous memory, 6.8) */
int move_basic(const struct ctx *c);
int move_src_holes(const struct ctx *c);
int move_errors(const struct ctx *c);
int move_busy_fork(const struct ctx *c);
int move_busy_pin(const struct ctx *c);
int move_eagain(const struct ctx *c);
int move_wp_src(const struct ctx *c);
int move_partial(const struct ctx *c);
/* read-write protection (7.3) */
int rwp_uaccess(const struct ctx *c);
int rwp_remote(const struct ctx *c);
int rwp_fault(const struct ctx *c);
int rwp_wake(const struct ctx *c);
int rwp_async_scan(const struct ctx *c);
int rwp_set_mode(const struct ctx *c);
int rwp_wp_exclusive(const struct ctx *c);
int rwp_fork(const struct ctx *c);
int rwp_fork_event(const struct ctx *c);
int rwp_mremap(const struct ctx *c);
int rwp_zap(const struct ctx *c);
int rwp_release(const struct ctx *c);
int rwp_mprotect(const struct ctx *c);
int rwp_pageout(const struct ctx *c);

#endif
