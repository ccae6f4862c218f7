/*
 * bench_util: what the client benchmarks share -- a clock, finding the build
 * tree they run from, and the rate of work done by several processes at once.
 */
#ifndef ALLOCATORD_TESTS_BENCH_UTIL_H
#define ALLOCATORD_TESTS_BENCH_UTIL_H

#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds. */
double bench_now_ns(void);

/* Set $top_builddir (where allocatord is found) from this program's path
 * below tests/bench/ unless it is set; exits with a message naming prog if
 * neither works. */
void bench_find_build_tree(const char *prog);

/* Fork procs processes that each run work(arg, end) until bench_now_ns()
 * reaches end = now + seconds and return how many units they did; the sum
 * per second. A child whose work fails exits without counting. */
double bench_procs_rate(int procs, double seconds, uint64_t (*work)(void *arg, double end),
			void *arg);

#endif
