/*
 * Seeds for randomised tests: reproducible on demand, varied by default.
 */
#ifndef ALLOCATORD_TESTS_SEED_H
#define ALLOCATORD_TESTS_SEED_H

#include <stdint.h>

/* $ALLOCATORD_SEED if set (decimal), else a fresh seed from the clock and pid.
 * Prints "<what>: seed N (ALLOCATORD_SEED=N repeats it)" to stderr so that a
 * failing run's log says how to replay it. */
uint64_t test_seed(const char *what);

/* xoshiro256** over a splitmix64-expanded seed: fast, good enough for tests,
 * and identical on every machine for a given seed. */
struct test_rng {
	uint64_t s[4];
};

void test_rng_init(struct test_rng *r, uint64_t seed);
uint64_t test_rng_next(struct test_rng *r);
/* Uniform in [0, n); n > 0. */
uint64_t test_rng_below(struct test_rng *r, uint64_t n);

#endif
