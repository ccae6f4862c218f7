/*
 * memcheck: does the configuration fit in what the daemon may really use?
 *
 * memfds are not bounded by /dev/shm: a region bigger than the machine is
 * reserved page by page until the kernel's OOM killer fires and kills
 * unrelated processes. So before any region is created the daemon adds up
 * what it will reserve (memcheck_need) and compares it with what it may use
 * (memcheck_read): MemAvailable less a reserve, the memory limit of its
 * cgroup (v1 or v2, the tightest on the way to the root) less what the
 * cgroup uses, the free huge pages of the default size for hugepage
 * regions, RLIMIT_FSIZE for each memfd and RLIMIT_AS for the mappings.
 * region.c then reserves in steps, asking memcheck_room between them, so
 * that memory taken by others meanwhile stops the start, not the machine.
 *
 * The files are read below a root directory, "" (the system) unless a test
 * hands in a fake /proc and /sys tree with memcheck_set_root.
 */
#ifndef ALLOCATORD_DAEMON_MEMCHECK_H
#define ALLOCATORD_DAEMON_MEMCHECK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "daemon/config.h"
#include "daemon/errbuf.h"

/* No such limit, or not known. */
#define MEMCHECK_NONE UINT64_MAX

/* Bytes reserved per step by region.c between two looks at memcheck_room. */
#define MEMCHECK_STEP (UINT64_C(64) << 20)

struct memcheck_budget {
	uint64_t mem_total;     /* /proc/meminfo MemTotal */
	uint64_t mem_available; /* MemAvailable */
	uint64_t cg_limit;      /* the tightest memory limit of the daemon's
				 * cgroup and its ancestors, or MEMCHECK_NONE */
	uint64_t cg_usage;      /* what that cgroup uses now */
	char cg_file[256];      /* the file that set cg_limit, for messages */
	uint64_t huge_page;     /* Hugepagesize: what MFD_HUGETLB uses */
	uint64_t huge_free;     /* HugePages_Free - HugePages_Rsvd, in pages */
	uint64_t fsize_limit;   /* RLIMIT_FSIZE (soft), or MEMCHECK_NONE */
	uint64_t as_limit;      /* RLIMIT_AS (soft), or MEMCHECK_NONE */
	uint64_t as_used;       /* address space mapped now (/proc/self/statm) */
};

struct memcheck_need {
	uint64_t shared;          /* bytes of ordinary shared memory reserved at start:
				   * regions without huge pages, every shared-bits memfd */
	uint64_t huge;            /* bytes of hugepage regions */
	uint64_t mapped;          /* address space: every region and its shared bits */
	uint64_t largest;         /* the largest memfd: RLIMIT_FSIZE bounds each */
	const char *largest_name; /* its region */
	uint64_t leases;          /* lease pages at worst (max_clients of them, each
				   * for every pool): created per client, not
				   * reserved at start */
};

/* Read the files below root from now on (process-wide; "" the system).
 * root must outlive its use. For tests. */
void memcheck_set_root(const char *root);

/* The budget, read from the files below the root and from getrlimit.
 * Fields whose file is missing are MEMCHECK_NONE (no cgroup limit found, no
 * huge pages known). 0, or a negative errno when proc/meminfo cannot be
 * read (then *b says nothing is known). */
int memcheck_read(struct memcheck_budget *b);

/* What the configuration needs. */
void memcheck_need(const struct config *c, struct memcheck_need *n);

/* Bytes of ordinary memory the daemon leaves to the rest of the machine:
 * 1/64 of MemTotal (MemAvailable is an estimate, and reaching it is what
 * brings the OOM killer in). */
uint64_t memcheck_reserve(const struct memcheck_budget *b);

/* Bytes of ordinary (huge: huge-page) memory that may still be reserved. */
uint64_t memcheck_room(const struct memcheck_budget *b, bool huge);

/* 0 if n fits in b; else -ENOMEM (memory, huge pages, address space) or
 * -EFBIG (a memfd over RLIMIT_FSIZE) and one line in e, starting with
 * file, naming what is needed, what is there and the limit. */
int memcheck_fits(const char *file, const struct memcheck_need *n, const struct memcheck_budget *b,
		  struct errbuf *e);

/* memcheck_read, memcheck_need, memcheck_fits for c; a warning in the log
 * when the lease pages at worst would not fit as well. */
int memcheck_config(const struct config *c, struct errbuf *e);

/* The sizes and limits, for --check-config: a few lines on out. */
void memcheck_print(const struct memcheck_need *n, const struct memcheck_budget *b, FILE *out);

#endif
