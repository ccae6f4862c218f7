/*
 * Rebuilding pools from a bitmap of used blocks (sys_mem_blocks_rebuild, on
 * bitarray_load). The reference is the slow way a takeover could do it: one
 * sys_mem_blocks_get per used block into a twin pool. After a rebuild the
 * two must be the same to the word (every level of the bitmap), count the
 * same, and answer a run of allocations and frees the same way (a pool's
 * answers depend on its bitmap alone: lowest free first). Sizes cover one
 * to four bitmap levels, partial last words, and summaries that fill up.
 * Every bad input is refused with -EINVAL and changes nothing.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/mem_blocks.h"
#include "tests/common/seed.h"
#include "tests/core/check_core.h"

#define BLK 1536 /* not a power of two: block_index multiplies */

/* Silent on success: Check logs every passing ck_assert, too slow in loops. */
#define QUIET_CHECK(cond, ...)                     \
	do {                                       \
		if (!(cond))                       \
			ck_abort_msg(__VA_ARGS__); \
	} while (0)

/* A pool of n blocks over address space only (the pool never touches its
 * buffer), so that large pools cost no memory. */
struct rpool {
	sys_mem_blocks_t mb;
	uint8_t *buf;
	size_t n;
};

static void rpool_init(struct rpool *p, size_t n, bool locked)
{
	p->buf = mmap(NULL, n * BLK, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ck_assert_ptr_ne(p->buf, MAP_FAILED);
	p->n = n;
	ck_assert_int_eq(
	    (locked ? sys_mem_blocks_init_locked : sys_mem_blocks_init)(&p->mb, BLK, n, p->buf), 0);
}

static void rpool_fini(struct rpool *p)
{
	ck_assert_int_eq(bitarray_check(&p->mb.bitmap), 0);
	sys_mem_blocks_deinit(&p->mb);
	munmap(p->buf, p->n * BLK);
}

static size_t words_of(size_t n)
{
	return (n + 63) / 64;
}

/* A bitmap of n bits: each bit set with probability pct / 100, and, unless
 * pct is 0 or 100 (all free, all used), some words made full or empty whole,
 * so that summaries fill at every level. */
static uint64_t *random_bits(struct test_rng *rng, size_t n, unsigned pct)
{
	uint64_t *w = calloc(words_of(n), sizeof(*w));

	ck_assert_ptr_nonnull(w);
	for (size_t i = 0; i < n; i++) {
		if (pct % 100 != 0 && i % 64 == 0 && test_rng_below(rng, 4) == 0) {
			uint64_t fill = test_rng_below(rng, 2) ? UINT64_MAX : 0;
			size_t end = i + 64 < n ? i + 64 : n;

			for (; i < end; i++)
				w[i / 64] |= (fill & 1) << (i % 64);
			i--;
			continue;
		}
		if (test_rng_below(rng, 100) < pct)
			w[i / 64] |= UINT64_C(1) << (i % 64);
	}
	return w;
}

/* A twin pool that got the used blocks of bits one sys_mem_blocks_get each. */
static void rpool_get_each(struct rpool *p, const uint64_t *bits)
{
	for (size_t i = 0; i < p->n; i++) {
		if ((bits[i / 64] >> (i % 64)) & 1) {
			int rc = sys_mem_blocks_get(&p->mb, p->buf + i * BLK, 1);

			QUIET_CHECK(rc == 0, "get of block %zu = %d", i, rc);
		}
	}
}

static struct sys_memory_stats stats_of(sys_mem_blocks_t *mb)
{
	struct sys_memory_stats s;

	ck_assert_int_eq(sys_mem_blocks_runtime_stats_get(mb, &s), 0);
	return s;
}

/* a and b have the same bitmap, every level, and the same counts. */
static void expect_same_pool(struct rpool *a, struct rpool *b)
{
	struct sys_memory_stats sa = stats_of(&a->mb), sb = stats_of(&b->mb);
	size_t nw = bitarray_words(a->n);

	ck_assert_int_eq(bitarray_check(&a->mb.bitmap), 0);
	ck_assert_msg(memcmp(a->mb.bitmap.words, b->mb.bitmap.words, nw * sizeof(uint64_t)) == 0,
		      "pool of %zu: the bitmaps differ", a->n);
	ck_assert_uint_eq(sa.free_bytes, sb.free_bytes);
	ck_assert_uint_eq(sa.allocated_bytes, sb.allocated_bytes);
	ck_assert_uint_eq(sa.max_allocated_bytes, sb.max_allocated_bytes);
}

/* a and b answer the same allocations (single, several, contiguous) and
 * frees the same way. */
static void expect_same_answers(struct rpool *a, struct rpool *b, struct test_rng *rng)
{
	for (int step = 0; step < 300; step++) {
		size_t count = 1 + (size_t) test_rng_below(rng, 3);
		void *pa[3] = {NULL}, *pb[3] = {NULL};
		int ra, rb;

		switch (test_rng_below(rng, 3)) {
		case 0:
			ra = sys_mem_blocks_alloc(&a->mb, count, pa);
			rb = sys_mem_blocks_alloc(&b->mb, count, pb);
			break;
		case 1:
			ra = sys_mem_blocks_alloc_contiguous(&a->mb, count, pa);
			rb = sys_mem_blocks_alloc_contiguous(&b->mb, count, pb);
			count = 1;
			break;
		default: {
			size_t i = (size_t) test_rng_below(rng, a->n);

			ra = sys_mem_blocks_free_contiguous(&a->mb, a->buf + i * BLK, 1);
			rb = sys_mem_blocks_free_contiguous(&b->mb, b->buf + i * BLK, 1);
			count = 0;
		}
		}
		QUIET_CHECK(ra == rb, "pool of %zu, step %d: %d and %d", a->n, step, ra, rb);
		for (size_t k = 0; ra == 0 && k < count; k++)
			QUIET_CHECK((uint8_t *) pa[k] - a->buf == (uint8_t *) pb[k] - b->buf,
				    "pool of %zu, step %d: block %td and %td", a->n, step,
				    ((uint8_t *) pa[k] - a->buf) / BLK,
				    ((uint8_t *) pb[k] - b->buf) / BLK);
	}
	expect_same_pool(a, b);
}

/* Pools of one to four levels, partial last words at each; bitmaps empty,
 * full, sparse, dense. */
START_TEST(test_mem_blocks_rebuild_matches_get)
{
	static const size_t sizes[] = {1,    63,     64,     65,     4095,  4096,
				       4097, 262143, 262144, 262145, 300007};
	static const unsigned pcts[] = {0, 100, 3, 50, 97};
	struct test_rng rng;

	test_rng_init(&rng, test_seed("mem_blocks_rebuild"));
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		for (size_t q = 0; q < sizeof(pcts) / sizeof(pcts[0]); q++) {
			struct rpool a, b;
			uint64_t *bits = random_bits(&rng, sizes[s], pcts[q]);
			int rc;

			rpool_init(&a, sizes[s], false);
			rpool_init(&b, sizes[s], false);
			rc = sys_mem_blocks_rebuild(&a.mb, bits, words_of(sizes[s]));
			ck_assert_msg(rc == 0, "rebuild of %zu blocks, %u%% used = %d", sizes[s],
				      pcts[q], rc);
			rpool_get_each(&b, bits);
			expect_same_pool(&a, &b);
			expect_same_answers(&a, &b, &rng);
			free(bits);
			rpool_fini(&a);
			rpool_fini(&b);
		}
	}
}
END_TEST

/* The high-water mark rises to what is allocated now, never falls; a locked
 * pool rebuilds the same way. */
START_TEST(test_mem_blocks_rebuild_max_and_locked)
{
	struct rpool p;
	uint64_t bits[2] = {0x0f, 0};
	void *blocks[10];

	rpool_init(&p, 100, true);
	ck_assert_int_eq(sys_mem_blocks_rebuild(&p.mb, bits, 2), 0);
	ck_assert_uint_eq(stats_of(&p.mb).max_allocated_bytes, 4 * BLK);
	ck_assert_uint_eq(stats_of(&p.mb).allocated_bytes, 4 * BLK);
	ck_assert_int_eq(sys_mem_blocks_alloc(&p.mb, 1, blocks), 0);
	ck_assert_ptr_eq(blocks[0], p.buf + 4 * BLK);
	ck_assert_int_eq(sys_mem_blocks_free_contiguous(&p.mb, p.buf, 5), 0);
	ck_assert_int_eq(sys_mem_blocks_alloc(&p.mb, 10, blocks), 0);
	ck_assert_int_eq(sys_mem_blocks_free(&p.mb, 10, blocks), 0);
	ck_assert_int_eq(sys_mem_blocks_rebuild(&p.mb, bits, 2), 0);
	ck_assert_uint_eq(stats_of(&p.mb).max_allocated_bytes, 10 * BLK);
	rpool_fini(&p);
}
END_TEST

/* mb's bitmap (every level) and stats are what they were in before. */
static void expect_unchanged(struct rpool *p, const uint64_t *before,
			     const struct sys_memory_stats *s)
{
	struct sys_memory_stats now = stats_of(&p->mb);

	ck_assert_msg(memcmp(p->mb.bitmap.words, before, bitarray_words(p->n) * sizeof(uint64_t)) ==
			  0,
		      "a refused rebuild changed the bitmap");
	ck_assert_msg(memcmp(&now, s, sizeof(now)) == 0, "a refused rebuild changed the stats");
	ck_assert_int_eq(bitarray_check(&p->mb.bitmap), 0);
}

START_TEST(test_mem_blocks_rebuild_rejects_bad_input)
{
	enum { N = 130 }; /* three words, the last partial */
	uint64_t good[3] = {1, 2, 3}, pad[3] = {1, 2, UINT64_C(1) << 2};
	uint64_t before[8];
	struct sys_memory_stats s;
	struct rpool p;

	rpool_init(&p, N, false);
	ck_assert_uint_le(bitarray_words(N), 8);
	memcpy(before, p.mb.bitmap.words, bitarray_words(N) * sizeof(uint64_t));
	s = stats_of(&p.mb);
	ck_assert_int_eq(sys_mem_blocks_rebuild(NULL, good, 3), -EINVAL);
	ck_assert_int_eq(sys_mem_blocks_rebuild(&p.mb, NULL, 3), -EINVAL);
	expect_unchanged(&p, before, &s);
	ck_assert_int_eq(sys_mem_blocks_rebuild(&p.mb, good, 2), -EINVAL);
	expect_unchanged(&p, before, &s);
	ck_assert_int_eq(sys_mem_blocks_rebuild(&p.mb, good, 4), -EINVAL);
	expect_unchanged(&p, before, &s);
	/* Bit 130 is block 130 of 0..129: past the end. */
	ck_assert_int_eq(sys_mem_blocks_rebuild(&p.mb, pad, 3), -EINVAL);
	expect_unchanged(&p, before, &s);

	/* A pool with an allocated block keeps it. */
	ck_assert_int_eq(sys_mem_blocks_get(&p.mb, p.buf + 129 * BLK, 1), 0);
	memcpy(before, p.mb.bitmap.words, bitarray_words(N) * sizeof(uint64_t));
	s = stats_of(&p.mb);
	ck_assert_int_eq(sys_mem_blocks_rebuild(&p.mb, good, 3), -EINVAL);
	expect_unchanged(&p, before, &s);
	ck_assert_int_eq(sys_mem_blocks_free_contiguous(&p.mb, p.buf + 129 * BLK, 1), 0);
	rpool_fini(&p);
}
END_TEST

/* A pool released by deinit has no bitmap to load into. */
START_TEST(test_mem_blocks_rebuild_rejects_deinit_pool)
{
	struct rpool p;
	uint64_t bits[1] = {1};

	rpool_init(&p, 64, false);
	sys_mem_blocks_deinit(&p.mb);
	ck_assert_int_eq(sys_mem_blocks_rebuild(&p.mb, bits, 1), -EINVAL);
	ck_assert_int_eq(sys_mem_blocks_rebuild(&p.mb, bits, 0), -EINVAL);
	munmap(p.buf, p.n * BLK);
}
END_TEST

Suite *mem_blocks_rebuild_suite(void)
{
	Suite *s = suite_create("mem_blocks_rebuild");
	TCase *tc = tcase_create("rebuild");

	tcase_add_test(tc, test_mem_blocks_rebuild_matches_get);
	tcase_add_test(tc, test_mem_blocks_rebuild_max_and_locked);
	tcase_add_test(tc, test_mem_blocks_rebuild_rejects_bad_input);
	tcase_add_test(tc, test_mem_blocks_rebuild_rejects_deinit_pool);
	/* Seconds normally; valgrind is many times slower. */
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return s;
}
