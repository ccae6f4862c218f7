/*
 * bench_rebuild: what a takeover pays in core to rebuild the allocators from
 * the books, per live item. Prints ns per item; never fails on time.
 * Each timing is the best of several repetitions.
 *
 *   make bench           (or: tests/bench/bench_rebuild [-q])
 *
 * Pools: 4 Mi blocks with 1 Mi of them held, at random, as a takeover finds
 * them in the books (hold entries in no useful order). Heaps: 1,000,000 live
 * allocations of 1 - 16 granules with gaps of 0 - 3 granules between them,
 * rebuilt into a fresh heap as at a takeover: the time includes the first
 * touch of its metadata (64 MB at 1,000,000 slots), a page fault per page.
 * -q runs a sixteenth of each, for a smoke test.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/mem_blocks.h"
#include "core/tlsf.h"
#include "tests/bench/bench_util.h"

#define REPEAT 5
#define BLK_SZ 64

static int quick;

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void *xmalloc(size_t n)
{
	void *p = calloc(1, n);

	if (p == NULL) {
		perror("bench_rebuild");
		exit(1);
	}
	return p;
}

/* held distinct block indices below nblocks, in random order. */
static size_t *random_held(size_t nblocks, size_t held)
{
	uint64_t *taken = xmalloc((nblocks + 63) / 64 * 8), x = 0x9e3779b97f4a7c15;
	size_t *idx = xmalloc(held * sizeof(*idx)), n = 0;

	while (n < held) {
		size_t i = (size_t) (xorshift(&x) % nblocks);

		if (taken[i / 64] & (UINT64_C(1) << (i % 64)))
			continue;
		taken[i / 64] |= UINT64_C(1) << (i % 64);
		idx[n++] = i;
	}
	free(taken);
	return idx;
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *) a, y = *(const size_t *) b;

	return (x > y) - (x < y);
}

/* A pool over buf, empty; exits on failure. */
static void pool_fresh(sys_mem_blocks_t *mb, size_t nblocks, void *buf)
{
	if (sys_mem_blocks_init(mb, BLK_SZ, nblocks, buf) != 0) {
		fprintf(stderr, "bench_rebuild: sys_mem_blocks_init failed\n");
		exit(1);
	}
}

/* Best ns per held block to take idx[0..held) one sys_mem_blocks_get each. */
static double time_pool_get(size_t nblocks, void *buf, const size_t *idx, size_t held)
{
	double best = 1e30;

	for (int r = 0; r < REPEAT; r++) {
		sys_mem_blocks_t mb;
		double t0, t;

		pool_fresh(&mb, nblocks, buf);
		t0 = bench_now_ns();
		for (size_t i = 0; i < held; i++) {
			if (sys_mem_blocks_get(&mb, (uint8_t *) buf + idx[i] * BLK_SZ, 1) != 0) {
				fprintf(stderr, "bench_rebuild: get of block %zu failed\n", idx[i]);
				exit(1);
			}
		}
		t = (bench_now_ns() - t0) / (double) held;
		best = t < best ? t : best;
		sys_mem_blocks_deinit(&mb);
	}
	return best;
}

/* Best ns per held block to set idx[0..held)'s bits in a caller bitmap (as
 * a takeover walks its hold entries) and load it with sys_mem_blocks_rebuild;
 * *load_ns: the call alone, in ns per block too. */
static double time_pool_rebuild(size_t nblocks, void *buf, const size_t *idx, size_t held,
				double *load_ns)
{
	size_t nwords = (nblocks + 63) / 64;
	uint64_t *used = xmalloc(nwords * sizeof(*used));
	double best = 1e30;

	*load_ns = 1e30;
	for (int r = 0; r < REPEAT; r++) {
		sys_mem_blocks_t mb;
		double t0, t1, t;

		pool_fresh(&mb, nblocks, buf);
		t0 = bench_now_ns();
		memset(used, 0, nwords * sizeof(*used));
		for (size_t i = 0; i < held; i++)
			used[idx[i] / 64] |= UINT64_C(1) << (idx[i] % 64);
		t1 = bench_now_ns();
		if (sys_mem_blocks_rebuild(&mb, used, nwords) != 0) {
			fprintf(stderr, "bench_rebuild: sys_mem_blocks_rebuild failed\n");
			exit(1);
		}
		t = bench_now_ns();
		best = (t - t0) / (double) held < best ? (t - t0) / (double) held : best;
		*load_ns =
		    (t - t1) / (double) held < *load_ns ? (t - t1) / (double) held : *load_ns;
		sys_mem_blocks_deinit(&mb);
	}
	free(used);
	return best;
}

static void bench_pool(void)
{
	size_t nblocks = (size_t) 4 << 20 >> (quick ? 4 : 0), held = nblocks / 4;
	/* Address space only: the pool never touches its buffer. */
	void *buf = mmap(NULL, nblocks * BLK_SZ, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	size_t *idx = random_held(nblocks, held);
	double random_get, sorted_get, bulk, load;

	if (buf == MAP_FAILED) {
		perror("bench_rebuild: mmap");
		exit(1);
	}
	random_get = time_pool_get(nblocks, buf, idx, held);
	bulk = time_pool_rebuild(nblocks, buf, idx, held, &load);
	qsort(idx, held, sizeof(*idx), cmp_size);
	sorted_get = time_pool_get(nblocks, buf, idx, held);
	printf("pool of %zu blocks, %zu held at random:\n", nblocks, held);
	printf("  sys_mem_blocks_get per block, books' order   %7.2f ns/block  %7.2f ms\n",
	       random_get, random_get * (double) held / 1e6);
	printf("  sys_mem_blocks_get per block, sorted         %7.2f ns/block  %7.2f ms\n",
	       sorted_get, sorted_get * (double) held / 1e6);
	printf("  bitmap + sys_mem_blocks_rebuild, same order %7.2f ns/block  %7.2f ms  "
	       "(%.2fx faster than get; the call alone %.3f ms)\n",
	       bulk, bulk * (double) held / 1e6, random_get / bulk, load * (double) held / 1e6);
	free(idx);
	munmap(buf, nblocks * BLK_SZ);
}

/* n live spans of 1 - 16 granules (of 64 B) with gaps of 0 - 3 granules,
 * sorted by offset, as a takeover gathers them; *end: where the last ends. */
static struct tlsf_span *random_spans(size_t n, uint64_t *end)
{
	struct tlsf_span *sp = xmalloc(n * sizeof(*sp));
	uint64_t x = 0x2545f4914f6cdd1d, off = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t r = xorshift(&x);

		off += (r % 4) * 64;
		sp[i] = (struct tlsf_span){.offset = off, .size = (1 + (r >> 8) % 16) * 64};
		off += sp[i].size;
	}
	*end = off;
	return sp;
}

static void bench_tlsf(void)
{
	size_t n = 1000000 >> (quick ? 4 : 0);
	uint64_t end, size;
	struct tlsf_span *sp = random_spans(n, &end);
	double best = 1e30, best_create = 1e30, best_alloc = 1e30;

	size = end + end / 8; /* room after the last span too */
	for (int r = 0; r < REPEAT; r++) {
		double t0 = bench_now_ns(), t1, t2;
		tlsf_t *t = tlsf_create(size, 64, (uint32_t) n);
		uint64_t off;

		t1 = bench_now_ns();
		if (t == NULL || tlsf_rebuild(t, sp, n) != 0) {
			fprintf(stderr, "bench_rebuild: tlsf_rebuild of %zu spans failed\n", n);
			exit(1);
		}
		t2 = bench_now_ns();
		best = (t2 - t1) / (double) n < best ? (t2 - t1) / (double) n : best;
		best_create = t1 - t0 < best_create ? t1 - t0 : best_create;
		tlsf_destroy(t);
		/* The reference: as many allocations of the same sizes, one by
		 * one, into a fresh heap. */
		t = tlsf_create(size, 64, (uint32_t) n);
		if (t == NULL)
			exit(1);
		t1 = bench_now_ns();
		for (size_t i = 0; i < n; i++)
			if (tlsf_alloc(t, sp[i].size, 1, &off) != 0)
				exit(1);
		t2 = bench_now_ns();
		best_alloc =
		    (t2 - t1) / (double) n < best_alloc ? (t2 - t1) / (double) n : best_alloc;
		tlsf_destroy(t);
	}
	printf("heap with %zu live allocations (%llu MiB of 64 B granules):\n", n,
	       (unsigned long long) (size >> 20));
	printf("  tlsf_rebuild into a fresh heap              %7.2f ns/span   %7.2f ms  "
	       "(tlsf_create %.2f ms)\n",
	       best, best * (double) n / 1e6, best_create / 1e6);
	printf("  tlsf_alloc of the same sizes, one by one    %7.2f ns/alloc  (rebuild %.2fx its "
	       "cost)\n",
	       best_alloc, best / best_alloc);
	free(sp);
}

int main(int argc, char **argv)
{
	quick = argc > 1 && strcmp(argv[1], "-q") == 0;
	bench_pool();
	bench_tlsf();
	return 0;
}
