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

struct scenario {
	const char *name;
	unsigned int mem;	/* MEM_* types it runs on, 0: none in particular */
	uint64_t features;	/* UFFD_FEATURE_* it needs */
	int (*run)(const struct ctx *c);
};

/* section A: seed 000, "userfaultfd shmem updates" */
int fault_roundtrip(const struct ctx *c);
int copy_enoent_slowpath(const struct ctx *c);
int copy_src_efault(const struct ctx *c);
int private_copy_anon(const struct ctx *c);
int isize_copy(const struct ctx *c);
int maywrite(const struct ctx *c);
int shmem_ro_copy_dirty(const struct ctx *c);
/* section F: API contract */
int api_contract(const struct ctx *c);

#endif
