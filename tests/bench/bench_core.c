/*
 * bench_core: the core allocators against baselines measured in the same run.
 * Prints ratios; never passes or fails on time (these machines are noisy).
 * Each timing is the best of several repetitions.
 *
 *   make bench           (or: tests/bench/bench_core [-q])
 *
 * -q runs shorter loops, for a smoke test.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "core/mem_blocks.h"
#include "core/tlsf.h"
#include "tests/common/seed.h"

#define REPEAT 5

static int quick;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec * 1e9 + (double) ts.tv_nsec;
}

/* Keeps the compiler from discarding results. */
static volatile uint64_t sink;

/* --- pool: hierarchical bitmap vs a linear scan from block 0 ------------ */

/*
 * The workload of issue 13: 64 Ki blocks of 64 B kept 90 % full by random
 * churn. Each step frees a random live block and allocates one (lowest free
 * first). Every allocator under test runs the very same harness (the same
 * generator and the same live array), so the ratios compare allocators, not
 * harnesses; harness_ns below is that common cost alone.
 */
#define POOL_BLOCKS 65536u
#define POOL_FULL   (POOL_BLOCKS / 10 * 9)

/* xorshift64*: inline, so that the harness stays a few ns. */
static inline uint64_t churn_next(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * UINT64_C(2685821657736338717);
}

/* A uniform index below n (Lemire's multiply-shift; n < 2^32). */
static inline size_t churn_pick(uint64_t *x, size_t n)
{
	return (size_t) (((churn_next(x) >> 32) * (uint64_t) n) >> 32);
}

/* The baselines: one flat bitmap, 1 = used. */
struct linear {
	uint64_t w[POOL_BLOCKS / 64];
};

/* Zephyr's method: test bits one by one from 0 until a clear one. */
static size_t linear_alloc_bit(struct linear *l)
{
	for (size_t i = 0; i < POOL_BLOCKS; i++) {
		if (!(l->w[i / 64] & (UINT64_C(1) << (i % 64)))) {
			l->w[i / 64] |= UINT64_C(1) << (i % 64);
			return i;
		}
	}
	return SIZE_MAX;
}

/* A kinder baseline: a word at a time with ctz, still from word 0. */
static size_t linear_alloc_word(struct linear *l)
{
	for (size_t i = 0; i < POOL_BLOCKS / 64; i++) {
		if (~l->w[i] != 0) {
			unsigned b = (unsigned) __builtin_ctzll(~l->w[i]);

			l->w[i] |= UINT64_C(1) << b;
			return i * 64 + b;
		}
	}
	return SIZE_MAX;
}

static void linear_free(struct linear *l, size_t i)
{
	l->w[i / 64] &= ~(UINT64_C(1) << (i % 64));
}

/* The live blocks (as indices) of a pool whose lowest POOL_FULL are taken. */
static size_t *churn_live(void)
{
	size_t *live = malloc(POOL_FULL * sizeof(*live));

	if (live == NULL)
		exit(1);
	for (size_t i = 0; i < POOL_FULL; i++)
		live[i] = i;
	return live;
}

static double time_linear(size_t (*alloc_fn)(struct linear *), long iters)
{
	struct linear *l = calloc(1, sizeof(*l));
	size_t *live = churn_live();
	uint64_t x = 42;
	double best = 1e30;

	for (size_t i = 0; i < POOL_FULL; i++)
		l->w[i / 64] |= UINT64_C(1) << (i % 64);
	for (int r = 0; r < REPEAT; r++) {
		double t0 = now_ns();

		for (long i = 0; i < iters; i++) {
			size_t j = churn_pick(&x, POOL_FULL);

			linear_free(l, live[j]);
			live[j] = alloc_fn(l);
		}
		double t = (now_ns() - t0) / (double) iters;

		best = t < best ? t : best;
	}
	sink += live[0];
	free(live);
	free(l);
	return best;
}

/* The harness alone: pick, read and write the live slot. */
static double time_harness(long iters)
{
	size_t *live = churn_live();
	uint64_t x = 42;
	double best = 1e30;

	for (int r = 0; r < REPEAT; r++) {
		double t0 = now_ns();

		for (long i = 0; i < iters; i++) {
			size_t j = churn_pick(&x, POOL_FULL);

			sink += live[j];
			live[j] = (size_t) i;
			__asm__ volatile("" ::: "memory");
		}
		double t = (now_ns() - t0) / (double) iters;

		best = t < best ? t : best;
	}
	free(live);
	return best;
}

/* 1-block free + alloc on a pool built with init (locked: with its mutex). */
static double time_pool(long iters, int locked)
{
	static uint8_t buf[POOL_BLOCKS * 64];
	sys_mem_blocks_t mb;
	void **live = malloc(POOL_FULL * sizeof(*live));
	uint64_t x = 42;
	double best = 1e30;
	int rc;

	rc = locked ? sys_mem_blocks_init_locked(&mb, 64, POOL_BLOCKS, buf)
		    : sys_mem_blocks_init(&mb, 64, POOL_BLOCKS, buf);
	if (rc < 0 || live == NULL || sys_mem_blocks_alloc(&mb, POOL_FULL, live) < 0) {
		fprintf(stderr, "bench: cannot set up the pool\n");
		exit(1);
	}
	for (int r = 0; r < REPEAT; r++) {
		double t0 = now_ns();

		for (long i = 0; i < iters; i++) {
			size_t j = churn_pick(&x, POOL_FULL);

			sys_mem_blocks_free(&mb, 1, &live[j]);
			sys_mem_blocks_alloc(&mb, 1, &live[j]);
		}
		double t = (now_ns() - t0) / (double) iters;

		best = t < best ? t : best;
	}
	sink += (uintptr_t) live[0];
	sys_mem_blocks_deinit(&mb);
	free(live);
	return best;
}

static void bench_pool(void)
{
	long fast = quick ? 200000 : 5000000, slow = quick ? 200 : 5000;
	double harness = time_harness(fast);
	double ours = time_pool(fast, 0), locked = time_pool(fast, 1);
	double bit = time_linear(linear_alloc_bit, slow);
	double word = time_linear(linear_alloc_word, slow * 10);

	printf("pool free+alloc of 1 block, %u blocks of 64 B kept %u%% full by random churn\n",
	       POOL_BLOCKS, 90);
	printf("  harness alone            %10.1f ns   (included in every line below)\n", harness);
	printf("  hierarchical bitmap      %10.1f ns\n", ours);
	printf("  the same, locked pool    %10.1f ns   lock cost %+.1f ns per pair\n", locked,
	       locked - ours);
	printf("  linear bit scan from 0   %10.1f ns   ratio %7.0fx  (target >= 20x)\n", bit,
	       bit / ours);
	printf("  linear word scan from 0  %10.1f ns   ratio %7.1fx  (target >= 12x)\n", word,
	       word / ours);
	printf("pool metadata: %.4f bits per block for %u blocks (target <= 1.1)\n",
	       (double) bitarray_words(POOL_BLOCKS) * 64.0 / POOL_BLOCKS, POOL_BLOCKS);
}

/* --- TLSF vs glibc malloc on one trace ---------------------------------- */

#define TRACE_SLOTS 4096u /* live allocations the trace keeps around */

struct op {
	uint32_t slot;
	uint32_t size; /* 0: free the slot */
};

/* Sizes log-uniform in [16 B, 64 KiB]; every step frees the slot it is about
 * to fill when that slot is live, so about TRACE_SLOTS stay live. */
static struct op *make_trace(size_t nops, uint64_t seed, size_t *len)
{
	struct op *t = malloc(2 * nops * sizeof(*t));
	bool *live = calloc(TRACE_SLOTS, sizeof(*live));
	struct test_rng r;
	size_t n = 0;

	test_rng_init(&r, seed);
	for (size_t i = 0; i < nops; i++) {
		uint32_t slot = (uint32_t) test_rng_below(&r, TRACE_SLOTS);
		unsigned bits = 4 + (unsigned) test_rng_below(&r, 13); /* 2^4 .. 2^16 */
		uint32_t size = (uint32_t) (UINT64_C(1) << bits);

		size += (uint32_t) test_rng_below(&r, size);
		if (size > 65536)
			size = 65536;
		if (live[slot])
			t[n++] = (struct op){slot, 0};
		t[n++] = (struct op){slot, size};
		live[slot] = true;
	}
	free(live);
	*len = n;
	return t;
}

static double replay_malloc(const struct op *t, size_t n)
{
	void **slot = calloc(TRACE_SLOTS, sizeof(*slot));
	double t0 = now_ns(), dt;

	for (size_t i = 0; i < n; i++) {
		if (t[i].size == 0)
			free(slot[t[i].slot]);
		else
			slot[t[i].slot] = malloc(t[i].size);
	}
	dt = now_ns() - t0;
	for (size_t i = 0; i < TRACE_SLOTS; i++)
		free(slot[i]);
	free(slot);
	return dt / (double) n;
}

static double replay_tlsf(const struct op *t, size_t n)
{
	uint64_t *slot = calloc(TRACE_SLOTS, sizeof(*slot));
	tlsf_t *h = tlsf_create(UINT64_C(1) << 30, 64, TRACE_SLOTS + 16);
	double t0, dt;

	if (h == NULL) {
		fprintf(stderr, "bench: tlsf_create failed\n");
		exit(1);
	}
	t0 = now_ns();
	for (size_t i = 0; i < n; i++) {
		if (t[i].size == 0)
			tlsf_free(h, slot[t[i].slot]);
		else if (tlsf_alloc(h, t[i].size, 64, &slot[t[i].slot]) < 0)
			exit(2);
	}
	dt = now_ns() - t0;
	tlsf_destroy(h);
	free(slot);
	return dt / (double) n;
}

static void bench_tlsf_trace(void)
{
	size_t nops = quick ? 100000 : 2000000, n;
	struct op *t = make_trace(nops, 42, &n);
	double best_t = 1e30, best_m = 1e30;

	for (int r = 0; r < REPEAT; r++) {
		double a = replay_tlsf(t, n), b = replay_malloc(t, n);

		best_t = a < best_t ? a : best_t;
		best_m = b < best_m ? b : best_m;
	}
	printf("tlsf vs glibc malloc, one trace of %zu ops, sizes 16 B-64 KiB, %u slots live, "
	       "granule 64\n",
	       n, TRACE_SLOTS);
	printf("  tlsf (out of band)       %10.1f ns/op\n", best_t);
	printf("  glibc malloc/free        %10.1f ns/op   ratio %5.2fx  (target >= 3x)\n", best_m,
	       best_m / best_t);
	free(t);
}

/* --- TLSF single-operation spread --------------------------------------- */

/*
 * Best case: a 256-byte request (an exact small list) finds a block of just
 * that size at the head of its list, between two used blocks: no search, no
 * split, no merge. Worst case: the same request on a heap whose only free
 * block is 4 GiB: the search climbs to the top first level, the block is
 * split, and the free merges with the remainder. TLSF's claim is that both
 * are the same handful of steps.
 */
static double tlsf_pair_time(int worst, long iters)
{
	tlsf_t *h = tlsf_create(UINT64_C(1) << 32, 16, 1 << 16);
	uint64_t hold[4], off;
	double best = 1e30;

	if (h == NULL)
		exit(1);
	if (!worst) {
		for (int i = 0; i < 4; i++)
			tlsf_alloc(h, i % 2 ? 64 : 256, 16, &hold[i]);
		tlsf_free(h, hold[2]);
	}
	for (int r = 0; r < REPEAT; r++) {
		double t0 = now_ns();

		for (long i = 0; i < iters; i++) {
			tlsf_alloc(h, 256, 16, &off);
			sink += off;
			tlsf_free(h, off);
		}
		double t = (now_ns() - t0) / (double) iters;

		best = t < best ? t : best;
	}
	if (tlsf_check(h) != 0) {
		fprintf(stderr, "bench: tlsf_check failed\n");
		exit(1);
	}
	tlsf_destroy(h);
	return best;
}

static void bench_tlsf_spread(void)
{
	long iters = quick ? 200000 : 5000000;
	double best = tlsf_pair_time(0, iters), worst = tlsf_pair_time(1, iters);

	printf("tlsf alloc+free pair, best case %.1f ns, worst case %.1f ns: worst/best %.2f  "
	       "(target <= 1.5)\n",
	       best, worst, worst / best);
}

/* --- TLSF memory: metadata and fragmentation ----------------------------- */

static void bench_tlsf_memory(void)
{
	uint64_t heap = UINT64_C(64) << 30;
	uint32_t slots = 1000000;
	tlsf_t *h = tlsf_create(heap, 64, slots);
	double per_slot, pct;

	if (h == NULL) {
		fprintf(stderr, "bench: tlsf_create(64 GiB) failed: %s\n", strerror(errno));
		return;
	}
	per_slot = (double) tlsf_metadata_bytes(h) / slots;
	pct = 100.0 * (double) tlsf_metadata_bytes(h) / (double) heap;
	printf("tlsf metadata, 64 GiB heap, 64 B granule, %u allocation slots: %.1f bytes per "
	       "slot, %.4f%% of the heap\n"
	       "  (target <= 64 B per allocation + <= 1%% of the heap)\n",
	       slots, per_slot, pct);
	tlsf_destroy(h);
}

/* Peak extent (highest end of any live allocation) over peak live bytes. */
static double fragmentation_run(uint64_t seed, size_t nops)
{
	tlsf_t *h = tlsf_create(UINT64_C(1) << 32, 16, TRACE_SLOTS + 16);
	uint64_t *off = calloc(TRACE_SLOTS, sizeof(*off));
	uint64_t *len = calloc(TRACE_SLOTS, sizeof(*len));
	uint64_t live = 0, peak_live = 0, peak_end = 0;
	struct test_rng r;

	test_rng_init(&r, seed);
	for (size_t i = 0; i < nops; i++) {
		uint32_t slot = (uint32_t) test_rng_below(&r, TRACE_SLOTS);
		unsigned bits = 4 + (unsigned) test_rng_below(&r, 13);
		uint64_t size = (UINT64_C(1) << bits) + test_rng_below(&r, UINT64_C(1) << bits);

		if (size > 65536)
			size = 65536;
		if (len[slot]) {
			tlsf_free(h, off[slot]);
			live -= len[slot];
		}
		if (tlsf_alloc(h, size, 16, &off[slot]) < 0)
			exit(2);
		len[slot] = tlsf_usable_size(h, off[slot]);
		live += len[slot];
		peak_live = live > peak_live ? live : peak_live;
		if (off[slot] + len[slot] > peak_end)
			peak_end = off[slot] + len[slot];
	}
	tlsf_destroy(h);
	free(off);
	free(len);
	return (double) peak_end / (double) peak_live;
}

static void bench_tlsf_fragmentation(void)
{
	size_t nops = quick ? 50000 : 1000000;
	double worst = 0;

	for (uint64_t s = 1; s <= 5; s++) {
		double f = fragmentation_run(s, nops);

		worst = f > worst ? f : worst;
	}
	printf("tlsf fragmentation: peak heap extent / peak live bytes = %.3f, worst of 5 random "
	       "workloads\n"
	       "  (target <= 1.25)\n",
	       worst);
}

int main(int argc, char **argv)
{
	quick = argc > 1 && strcmp(argv[1], "-q") == 0;
	bench_pool();
	bench_tlsf_trace();
	bench_tlsf_spread();
	bench_tlsf_memory();
	bench_tlsf_fragmentation();
	return 0;
}
