/*
 * tlsf: every call's success and error paths, coalescing, the exact-class
 * fallback, alignment, edge sizes and the metadata bound. Each test ends
 * with tlsf_check() == 0, and most check it after every step.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/tlsf.h"
#include "tests/core/check_core.h"

#define KiB (UINT64_C(1) << 10)
#define MiB (UINT64_C(1) << 20)
#define GiB (UINT64_C(1) << 30)

static tlsf_t *make(uint64_t size, uint32_t granule, uint32_t max_allocs)
{
	tlsf_t *t = tlsf_create(size, granule, max_allocs);

	ck_assert_msg(t != NULL, "tlsf_create(%llu, %u, %u) failed: errno %d",
		      (unsigned long long) size, granule, max_allocs, errno);
	ck_assert_int_eq(tlsf_check(t), 0);
	return t;
}

static struct tlsf_stats stats_of(const tlsf_t *t)
{
	struct tlsf_stats s;

	memset(&s, 0xa5, sizeof(s));
	tlsf_get_stats(t, &s);
	return s;
}

/* Allocate and expect success at a checked offset; returns the offset. */
static uint64_t alloc_ok(tlsf_t *t, uint64_t size, uint64_t align)
{
	uint64_t off = UINT64_MAX;
	int rc = tlsf_alloc(t, size, align, &off);

	ck_assert_msg(rc == 0, "tlsf_alloc(%llu, align %llu) = %d, want 0",
		      (unsigned long long) size, (unsigned long long) align, rc);
	ck_assert_msg(off % align == 0, "offset %llu not aligned to %llu", (unsigned long long) off,
		      (unsigned long long) align);
	ck_assert_int_eq(tlsf_check(t), 0);
	return off;
}

static void alloc_at(tlsf_t *t, uint64_t size, uint64_t want)
{
	uint64_t off = alloc_ok(t, size, 1);

	ck_assert_uint_eq(off, want);
}

static void free_ok(tlsf_t *t, uint64_t off)
{
	ck_assert_int_eq(tlsf_free(t, off), 0);
	ck_assert_int_eq(tlsf_check(t), 0);
}

static void expect_nomem(tlsf_t *t, uint64_t size, uint64_t align)
{
	struct tlsf_stats before = stats_of(t), after;
	uint64_t off = 12345;

	ck_assert_int_eq(tlsf_alloc(t, size, align, &off), -ENOMEM);
	ck_assert_uint_eq(off, 12345);
	after = stats_of(t);
	ck_assert_uint_eq(after.failed, before.failed + 1);
	after.failed = before.failed;
	ck_assert_msg(memcmp(&before, &after, sizeof(before)) == 0,
		      "a refused allocation of %llu changed more than stats.failed",
		      (unsigned long long) size);
	ck_assert_int_eq(tlsf_check(t), 0);
}

/* A bad free changes nothing: -EFAULT, the same stats to the byte, and the
 * offset is still no live allocation. */
static void expect_bad_free(tlsf_t *t, uint64_t off)
{
	struct tlsf_stats before = stats_of(t), after;
	uint32_t id = 777;

	ck_assert_int_eq(tlsf_free(t, off), -EFAULT);
	after = stats_of(t);
	ck_assert_msg(memcmp(&before, &after, sizeof(before)) == 0,
		      "tlsf_free(%llu) failed but changed the stats", (unsigned long long) off);
	ck_assert_int_eq(tlsf_check(t), 0);
	ck_assert_uint_eq(tlsf_usable_size(t, off), 0);
	ck_assert_int_eq(tlsf_id_of(t, off, &id), -EFAULT);
	ck_assert_uint_eq(id, 777);
}

START_TEST(test_tlsf_create_rejects_bad_granule)
{
	static const uint32_t bad[] = {0, 3, 6, 12, 100, 0x80000001u, UINT32_MAX};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		ck_assert_ptr_null(tlsf_create(MiB, bad[i], 16));
		ck_assert_int_eq(errno, EINVAL);
	}
}
END_TEST

START_TEST(test_tlsf_create_rejects_bad_size)
{
	errno = 0;
	ck_assert_ptr_null(tlsf_create(0, 16, 16));
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_ptr_null(tlsf_create(63, 64, 16)); /* less than a granule */
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_ptr_null(tlsf_create(UINT64_C(1) << 32, 1, 16)); /* 2^32 granules */
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_ptr_null(tlsf_create(UINT64_C(64) << 32, 64, 16));
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_ptr_null(tlsf_create(UINT64_MAX, 4096, 16));
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(test_tlsf_create_rejects_bad_max_allocs)
{
	errno = 0;
	ck_assert_ptr_null(tlsf_create(MiB, 16, 0));
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_ptr_null(tlsf_create(MiB, 16, (UINT32_C(1) << 30) + 1));
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_ptr_null(tlsf_create(MiB, 16, UINT32_MAX));
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(test_tlsf_create_initial_state)
{
	tlsf_t *t = make(1000, 64, 8); /* rounded down to 960 */
	struct tlsf_stats s = stats_of(t);

	ck_assert_uint_eq(s.size, 960);
	ck_assert_uint_eq(s.used, 0);
	ck_assert_uint_eq(s.free, 960);
	ck_assert_uint_eq(s.live, 0);
	ck_assert_uint_eq(s.free_blocks, 1);
	ck_assert_uint_eq(s.peak_used, 0);
	ck_assert_uint_eq(s.largest_free, 960);
	ck_assert_uint_eq(s.failed, 0);
	tlsf_destroy(t);
}
END_TEST

START_TEST(test_tlsf_null_arguments)
{
	tlsf_t *t = make(MiB, 16, 8);
	uint64_t off;
	uint32_t id;

	ck_assert_int_eq(tlsf_alloc(NULL, 16, 1, &off), -EINVAL);
	ck_assert_int_eq(tlsf_alloc(t, 16, 1, NULL), -EINVAL);
	ck_assert_int_eq(tlsf_free(NULL, 0), -EFAULT);
	ck_assert_uint_eq(tlsf_usable_size(NULL, 0), 0);
	ck_assert_int_eq(tlsf_id_of(NULL, 0, &id), -EFAULT);
	off = alloc_ok(t, 16, 1);
	ck_assert_int_eq(tlsf_id_of(t, off, NULL), -EFAULT);
	ck_assert_uint_eq(tlsf_id_limit(NULL), 0);
	ck_assert_uint_eq(tlsf_metadata_bytes(NULL), 0);
	ck_assert_int_lt(tlsf_check(NULL), 0);
	tlsf_get_stats(NULL, NULL);
	tlsf_get_stats(t, NULL);
	tlsf_destroy(NULL);
	ck_assert_uint_eq(stats_of(t).failed, 0);
	ck_assert_uint_eq(stats_of(t).live, 1);
	tlsf_destroy(t);
}
END_TEST

START_TEST(test_tlsf_alloc_rejects_size_zero)
{
	tlsf_t *t = make(MiB, 16, 8);
	uint64_t off = 42;

	ck_assert_int_eq(tlsf_alloc(t, 0, 1, &off), -EINVAL);
	ck_assert_uint_eq(off, 42);
	ck_assert_uint_eq(stats_of(t).failed, 0);
	ck_assert_uint_eq(stats_of(t).live, 0);
	ck_assert_int_eq(tlsf_check(t), 0);
	tlsf_destroy(t);
}
END_TEST

START_TEST(test_tlsf_alloc_rejects_bad_align)
{
	static const uint64_t bad[] = {0, 3, 6, 24, UINT64_MAX, (UINT64_C(1) << 63) + 1};
	tlsf_t *t = make(MiB, 16, 8);
	uint64_t off = 42;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(tlsf_alloc(t, 16, bad[i], &off), -EINVAL);
		ck_assert_uint_eq(off, 42);
	}
	ck_assert_uint_eq(stats_of(t).failed, 0);
	ck_assert_uint_eq(stats_of(t).live, 0);
	ck_assert_int_eq(tlsf_check(t), 0);
	tlsf_destroy(t);
}
END_TEST

START_TEST(test_tlsf_alloc_nomem_when_full)
{
	tlsf_t *t = make(16 * 64, 64, 64);
	uint64_t off[16];

	for (int i = 0; i < 16; i++)
		off[i] = alloc_ok(t, 64, 1);
	ck_assert_uint_eq(stats_of(t).free_blocks, 0);
	expect_nomem(t, 1, 1);
	expect_nomem(t, 64, 64);
	ck_assert_uint_eq(stats_of(t).failed, 2);
	free_ok(t, off[7]);
	expect_nomem(t, 65, 1); /* one granule free, two asked */
	ck_assert_uint_eq(alloc_ok(t, 1, 1), off[7]);
	ck_assert_uint_eq(stats_of(t).failed, 3);
	tlsf_destroy(t);
}
END_TEST

START_TEST(test_tlsf_alloc_nomem_at_max_allocs)
{
	tlsf_t *t = make(MiB, 16, 4);
	uint64_t off[4];

	for (int i = 0; i < 4; i++)
		off[i] = alloc_ok(t, 100, 1);
	ck_assert_uint_eq(stats_of(t).live, 4);
	expect_nomem(t, 16, 1);
	expect_nomem(t, 16, 4096);
	ck_assert_uint_eq(stats_of(t).failed, 2);
	free_ok(t, off[2]);
	off[2] = alloc_ok(t, 16, 1);
	expect_nomem(t, 16, 1);
	ck_assert_uint_eq(stats_of(t).failed, 3);
	for (int i = 0; i < 4; i++)
		free_ok(t, off[i]);
	ck_assert_uint_eq(stats_of(t).free_blocks, 1);
	tlsf_destroy(t);
}
END_TEST

START_TEST(test_tlsf_alloc_alignment)
{
	tlsf_t *t = make(16 * MiB, 16, 256);

	for (unsigned k = 0; k <= 20; k++) {
		uint64_t align = UINT64_C(1) << k;
		/* An odd-sized block first, so offsets are not aligned for free. */
		uint64_t odd = alloc_ok(t, 16 * (k + 1) + 1, 1);
		uint64_t a = alloc_ok(t, 100, align);
		uint64_t b = alloc_ok(t, align + 1, align);

		ck_assert_msg(a % align == 0 && b % align == 0, "align %llu: offsets %llu and %llu",
			      (unsigned long long) align, (unsigned long long) a,
			      (unsigned long long) b);
		ck_assert_uint_eq(tlsf_usable_size(t, a), 112);
		free_ok(t, odd);
		free_ok(t, a);
	}
	/* Live allocations stay; the gaps left behind are free blocks. */
	ck_assert_uint_eq(stats_of(t).live, 21);
	tlsf_destroy(t);
}
END_TEST

START_TEST(test_tlsf_alloc_align_beyond_heap)
{
	tlsf_t *t = make(1000 * 16, 16, 8);
	uint64_t off;

	off = alloc_ok(t, 16, UINT64_C(1) << 40);
	ck_assert_uint_eq(off, 0);
	/* Offset 0 is taken: no other offset is aligned. */
	expect_nomem(t, 16, UINT64_C(1) << 40);
	expect_nomem(t, 16, UINT64_C(1) << 63);
	expect_nomem(t, 16, 16384); /* the heap is 16000 bytes */
	free_ok(t, off);
	ck_assert_uint_eq(alloc_ok(t, 16000, UINT64_C(1) << 63), 0);
	free_ok(t, 0);
	/* Offset 0 free but only 48 bytes there: 48 fits, 64 does not. */
	ck_assert_uint_eq(alloc_ok(t, 48, 1), 0);
	off = alloc_ok(t, 16, 1);
	free_ok(t, 0);
	expect_nomem(t, 64, 16384);
	ck_assert_uint_eq(alloc_ok(t, 48, 16384), 0);
	free_ok(t, 0);
	free_ok(t, off);
	tlsf_destroy(t);
}
END_TEST

START_TEST(test_tlsf_usable_size_rounds_to_granule)
{
	static const struct {
		uint64_t ask, want;
	} cases[] = {{1, 64}, {63, 64}, {64, 64}, {65, 128}, {1000, 1024}, {4097, 4160}};
	tlsf_t *t = make(MiB, 64, 16);
	uint64_t used = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t off = alloc_ok(t, cases[i].ask, 1);

		ck_assert_uint_eq(tlsf_usable_size(t, off), cases[i].want);
		ck_assert_uint_eq(tlsf_usable_size(t, off + 64), 0); /* inside or free */
		used += cases[i].want;
		ck_assert_uint_eq(stats_of(t).used, used);
	}
	ck_assert_uint_eq(tlsf_usable_size(t, 1), 0);
	ck_assert_uint_eq(tlsf_usable_size(t, MiB), 0);
	ck_assert_uint_eq(tlsf_usable_size(t, UINT64_MAX), 0);
	tlsf_destroy(t);
}
END_TEST

START_TEST(test_tlsf_alloc_whole_heap)
{
	/* 1000 granules: the search class of 1000 lies above the heap's
	 * class, so only the exact-class look finds the one free block. */
	tlsf_t *t = make(1000 * 16, 16, 64);
	uint64_t off[40];
	struct tlsf_stats s;

	alloc_at(t, 16000, 0);
	s = stats_of(t);
	ck_assert_uint_eq(s.used, 16000);
	ck_assert_uint_eq(s.free, 0);
	ck_assert_uint_eq(s.free_blocks, 0);
	ck_assert_uint_eq(s.largest_free, 0);
	expect_nomem(t, 1, 1);
	free_ok(t, 0);
	/* Fragment, free everything in a scattered order, and ask again. */
	for (int i = 0; i < 40; i++)
		off[i] = alloc_ok(t, 16 * (uint64_t) (i % 7 + 1), 1);
	for (int i = 0; i < 40; i++)
		free_ok(t, off[(i * 17) % 40]);
	s = stats_of(t);
	ck_assert_uint_eq(s.free_blocks, 1);
	ck_assert_uint_eq(s.largest_free, 16000);
	alloc_at(t, 16000, 0);
	free_ok(t, 0);
	tlsf_destroy(t);
}
END_TEST

/*
 * Granule 1, so sizes are granules. Class of 1000: msb 9, width 16, classes
 * [992, 1008) and [1008, 1024). A free block of 1000 sits in the first; a
 * request of 993..1000 searches from the second (rounded up) and only the
 * exact-class head look can find the block.
 */
static tlsf_t *one_free_block_of_1000(void)
{
	tlsf_t *t = make(10000, 1, 16);

	alloc_at(t, 1000, 0);
	alloc_at(t, 1, 1000);
	alloc_at(t, 8999, 1001);
	free_ok(t, 0);
	ck_assert_uint_eq(stats_of(t).free_blocks, 1);
	ck_assert_uint_eq(stats_of(t).largest_free, 1000);
	return t;
}

START_TEST(test_tlsf_alloc_exact_class_fallback)
{
	tlsf_t *t = one_free_block_of_1000();

	alloc_at(t, 1000, 0);
	ck_assert_uint_eq(stats_of(t).free_blocks, 0);
	free_ok(t, 0);
	alloc_at(t, 993, 0);
	ck_assert_uint_eq(tlsf_usable_size(t, 0), 993);
	ck_assert_uint_eq(stats_of(t).free_blocks, 1); /* the 7 left over */
	ck_assert_uint_eq(stats_of(t).largest_free, 7);
	free_ok(t, 0);
	expect_nomem(t, 1001, 1); /* same class, but the head is too small */
	tlsf_destroy(t);
}
END_TEST

START_TEST(test_tlsf_alloc_exact_class_fallback_aligned)
{
	tlsf_t *t = make(10000, 1, 16);

	/* One free block of 1000 at offset 1, between used blocks. */
	alloc_at(t, 1, 0);
	alloc_at(t, 1000, 1);
	alloc_at(t, 8999, 1001);
	free_ok(t, 1);
	/* Aligned to 2 it starts at 2: 1000 no longer fits, 999 does. */
	expect_nomem(t, 1000, 2);
	ck_assert_uint_eq(alloc_ok(t, 999, 2), 2);
	ck_assert_uint_eq(stats_of(t).free_blocks, 1); /* the gap at 1 */
	ck_assert_uint_eq(stats_of(t).largest_free, 1);
	free_ok(t, 2);
	ck_assert_uint_eq(stats_of(t).free_blocks, 1);
	ck_assert_uint_eq(stats_of(t).largest_free, 1000);
	tlsf_destroy(t);
}
END_TEST

/*
 * Granule 1. A free block of 992, the lower bound of class [992, 1008), and
 * the free tail of the heap. A request of 992 is held by every block of that
 * class, so the search starts there and takes the block at 0; a request of
 * 993 is not (the class holds 992), so the search starts one class up and
 * takes the tail, leaving the 992 block alone.
 */
START_TEST(test_tlsf_alloc_search_class_bounds)
{
	tlsf_t *t = make(10000, 1, 16);

	alloc_at(t, 992, 0);
	alloc_at(t, 1, 992);
	free_ok(t, 0);
	ck_assert_uint_eq(stats_of(t).free_blocks, 2);
	alloc_at(t, 993, 993);
	free_ok(t, 993);
	alloc_at(t, 992, 0);
	ck_assert_uint_eq(stats_of(t).free_blocks, 1);
	tlsf_destroy(t);
}
END_TEST

/* Four blocks of 10, 10, 10 and 70 granules of 16 bytes fill the heap. */
static tlsf_t *four_blocks(void)
{
	tlsf_t *t = make(100 * 16, 16, 16);

	alloc_at(t, 160, 0);
	alloc_at(t, 160, 160);
	alloc_at(t, 160, 320);
	alloc_at(t, 1120, 480);
	ck_assert_uint_eq(stats_of(t).free_blocks, 0);
	return t;
}

START_TEST(test_tlsf_free_coalesces_with_prev)
{
	tlsf_t *t = four_blocks();

	free_ok(t, 0);
	ck_assert_uint_eq(stats_of(t).free_blocks, 1);
	free_ok(t, 160);
	ck_assert_uint_eq(stats_of(t).free_blocks, 1);
	ck_assert_uint_eq(stats_of(t).largest_free, 320);
	alloc_at(t, 320, 0);
	ck_assert_uint_eq(stats_of(t).free_blocks, 0);
	tlsf_destroy(t);
}
END_TEST

START_TEST(test_tlsf_free_coalesces_with_next)
{
	tlsf_t *t = four_blocks();

	free_ok(t, 320);
	free_ok(t, 160);
	ck_assert_uint_eq(stats_of(t).free_blocks, 1);
	ck_assert_uint_eq(stats_of(t).largest_free, 320);
	alloc_at(t, 320, 160);
	ck_assert_uint_eq(stats_of(t).free_blocks, 0);
	tlsf_destroy(t);
}
END_TEST

START_TEST(test_tlsf_free_coalesces_with_both)
{
	tlsf_t *t = four_blocks();

	free_ok(t, 0);
	free_ok(t, 320);
	ck_assert_uint_eq(stats_of(t).free_blocks, 2);
	free_ok(t, 160);
	ck_assert_uint_eq(stats_of(t).free_blocks, 1);
	ck_assert_uint_eq(stats_of(t).largest_free, 480);
	alloc_at(t, 480, 0);
	ck_assert_uint_eq(stats_of(t).free_blocks, 0);
	/* The last block merges with the free tail of the heap too. */
	free_ok(t, 0);
	free_ok(t, 480);
	ck_assert_uint_eq(stats_of(t).free_blocks, 1);
	ck_assert_uint_eq(stats_of(t).largest_free, 1600);
	tlsf_destroy(t);
}
END_TEST

START_TEST(test_tlsf_stats_arithmetic)
{
	tlsf_t *t = make(64 * KiB, 64, 32);
	uint64_t a, b, c, off;
	struct tlsf_stats s;

	a = alloc_ok(t, 1000, 1);  /* 1024 */
	b = alloc_ok(t, 5000, 1);  /* 5056 */
	c = alloc_ok(t, 64, 4096); /* 64 */
	s = stats_of(t);
	ck_assert_uint_eq(s.used, 1024 + 5056 + 64);
	ck_assert_uint_eq(s.used + s.free, s.size);
	ck_assert_uint_eq(s.peak_used, s.used);
	ck_assert_uint_eq(s.live, 3);
	free_ok(t, b);
	s = stats_of(t);
	ck_assert_uint_eq(s.used, 1024 + 64);
	ck_assert_uint_eq(s.used + s.free, s.size);
	ck_assert_uint_eq(s.peak_used, 1024 + 5056 + 64);
	ck_assert_uint_eq(s.live, 2);
	/* Only -ENOMEM counts as failed, not -EINVAL. */
	ck_assert_int_eq(tlsf_alloc(t, 0, 1, &off), -EINVAL);
	ck_assert_int_eq(tlsf_alloc(t, 1, 3, &off), -EINVAL);
	expect_nomem(t, 64 * KiB, 1);
	expect_nomem(t, UINT64_MAX, 1);
	ck_assert_uint_eq(stats_of(t).failed, 2);
	free_ok(t, a);
	free_ok(t, c);
	s = stats_of(t);
	ck_assert_uint_eq(s.used, 0);
	ck_assert_uint_eq(s.free, 64 * KiB);
	ck_assert_uint_eq(s.live, 0);
	ck_assert_uint_eq(s.free_blocks, 1);
	ck_assert_uint_eq(s.largest_free, 64 * KiB);
	ck_assert_uint_eq(s.peak_used, 1024 + 5056 + 64);
	ck_assert_uint_eq(s.failed, 2);
	tlsf_destroy(t);
}
END_TEST

START_TEST(test_tlsf_id_of_unique)
{
	enum { N = 300 };
	tlsf_t *t = make(4 * MiB, 16, N);
	uint32_t limit = tlsf_id_limit(t), id, ids[N];
	uint64_t off[N];
	bool *seen = calloc(limit, 1);

	ck_assert_ptr_nonnull(seen);
	for (int i = 0; i < N; i++) {
		off[i] = alloc_ok(t, 16 * (uint64_t) (i % 13 + 1), i % 5 == 0 ? 256 : 1);
		ck_assert_int_eq(tlsf_id_of(t, off[i], &ids[i]), 0);
	}
	/* Free every third, reallocate into the holes, then look again. */
	for (int i = 0; i < N; i += 3)
		free_ok(t, off[i]);
	for (int i = 0; i < N; i += 3)
		ck_assert_int_eq(tlsf_id_of(t, off[i], &id), -EFAULT);
	for (int i = 0; i < N; i += 3)
		off[i] = alloc_ok(t, 16 * (uint64_t) (i % 7 + 1), 1);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(tlsf_id_of(t, off[i], &id), 0);
		ck_assert_uint_lt(id, limit);
		ck_assert_msg(!seen[id], "id %u given to two live allocations", id);
		seen[id] = true;
		if (i % 3 != 0)
			ck_assert_uint_eq(id, ids[i]); /* stable while live */
	}
	ck_assert_int_eq(tlsf_id_of(t, 4 * MiB - 16, &id), -EFAULT);
	free(seen);
	tlsf_destroy(t);
}
END_TEST

START_TEST(test_tlsf_metadata_bound)
{
	static const uint32_t slots[] = {1, 2, 3, 7, 100, 1000, 1024, 1025, 65536, 1000000};

	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
		tlsf_t *small = make(4096, 16, slots[i]);
		tlsf_t *big = make(UINT64_C(1) << 40, 4096, slots[i]);
		uint64_t bytes = tlsf_metadata_bytes(small);

		ck_assert_msg(bytes <= 64 * (uint64_t) slots[i] + 8 * KiB,
			      "%u slots: %llu bytes of metadata", slots[i],
			      (unsigned long long) bytes);
		/* Whatever the heap size. */
		ck_assert_uint_eq(tlsf_metadata_bytes(big), bytes);
		tlsf_destroy(small);
		tlsf_destroy(big);
	}
}
END_TEST

START_TEST(test_tlsf_free_rejects_unaligned)
{
	tlsf_t *t = make(MiB, 64, 16);
	uint64_t a = alloc_ok(t, 100, 1);

	alloc_ok(t, 100, 1);
	expect_bad_free(t, a + 1);
	expect_bad_free(t, a + 63);
	expect_bad_free(t, 1);
	ck_assert_uint_eq(tlsf_usable_size(t, a), 128);
	tlsf_destroy(t);
}
END_TEST

START_TEST(test_tlsf_free_rejects_out_of_range)
{
	tlsf_t *t = make(MiB, 64, 16);

	alloc_at(t, MiB, 0);
	expect_bad_free(t, MiB);
	expect_bad_free(t, MiB + 64);
	expect_bad_free(t, UINT64_MAX);
	expect_bad_free(t, UINT64_MAX - 63);
	expect_bad_free(t, (uint64_t) 64 << 32); /* wraps to 0 if truncated */
	tlsf_destroy(t);
}
END_TEST

START_TEST(test_tlsf_free_rejects_mid_block)
{
	tlsf_t *t = make(MiB, 64, 16);
	uint64_t a = alloc_ok(t, 1000, 1);

	expect_bad_free(t, a + 64);
	expect_bad_free(t, a + 960);
	expect_bad_free(t, a + 1024); /* the free remainder after it */
	expect_bad_free(t, 512 * KiB);
	free_ok(t, a);
	tlsf_destroy(t);
}
END_TEST

/*
 * Every granule of a small heap that is not the start of a live allocation
 * is refused, starts of used, freed and free blocks alike. max_allocs 4 makes
 * one hash bucket, so every offset probes the same lanes: with one-byte
 * fingerprints, a few hundred offsets match a live entry's fingerprint by
 * chance, and only the offset in its record tells them apart.
 */
START_TEST(test_tlsf_free_rejects_every_other_granule)
{
	tlsf_t *t = make(4096, 1, 4);
	uint64_t live[3];

	live[0] = alloc_ok(t, 100, 1);
	live[1] = alloc_ok(t, 1, 1);
	free_ok(t, alloc_ok(t, 700, 1));
	live[2] = alloc_ok(t, 2000, 1);
	ck_assert_uint_eq(stats_of(t).live, 3);
	for (uint64_t off = 0; off < 4096; off++) {
		if (off != live[0] && off != live[1] && off != live[2])
			expect_bad_free(t, off);
	}
	for (int i = 0; i < 3; i++)
		free_ok(t, live[i]);
	tlsf_destroy(t);
}
END_TEST

START_TEST(test_tlsf_free_rejects_double_free)
{
	tlsf_t *t = make(MiB, 64, 16);
	uint64_t a = alloc_ok(t, 1000, 1);
	uint64_t b = alloc_ok(t, 1000, 1);

	alloc_ok(t, 1000, 1);
	free_ok(t, b);
	expect_bad_free(t, b);
	free_ok(t, a);
	expect_bad_free(t, a);
	expect_bad_free(t, b);
	tlsf_destroy(t);
}
END_TEST

START_TEST(test_tlsf_free_rejects_merged_start)
{
	tlsf_t *t = four_blocks();

	/* 160 was the start of a block, now inside the free block at 0. */
	free_ok(t, 0);
	free_ok(t, 160);
	expect_bad_free(t, 160);
	/* 320 is now the start of a block merged into the one at 0. */
	free_ok(t, 320);
	expect_bad_free(t, 320);
	expect_bad_free(t, 0);
	tlsf_destroy(t);
}
END_TEST

START_TEST(test_tlsf_heap_of_one_granule)
{
	tlsf_t *t = make(64, 64, 4);

	alloc_at(t, 1, 0);
	ck_assert_uint_eq(tlsf_usable_size(t, 0), 64);
	expect_nomem(t, 1, 1);
	free_ok(t, 0);
	ck_assert_uint_eq(alloc_ok(t, 64, 4096), 0);
	expect_nomem(t, 1, 4096);
	free_ok(t, 0);
	expect_nomem(t, 65, 1);
	tlsf_destroy(t);
}
END_TEST

START_TEST(test_tlsf_granule_one)
{
	tlsf_t *t = make(1000, 1, 16);

	alloc_at(t, 1, 0);
	alloc_at(t, 3, 1);
	ck_assert_uint_eq(tlsf_usable_size(t, 1), 3);
	ck_assert_uint_eq(alloc_ok(t, 5, 8), 8); /* gap at 4..7 stays free */
	ck_assert_uint_eq(stats_of(t).free_blocks, 2);
	free_ok(t, 1);
	ck_assert_uint_eq(stats_of(t).free_blocks, 2);
	ck_assert_uint_eq(stats_of(t).largest_free, 1000 - 13);
	ck_assert_uint_eq(stats_of(t).used, 6);
	tlsf_destroy(t);
}
END_TEST

START_TEST(test_tlsf_granule_large)
{
	tlsf_t *t = make(64 * MiB, 1 << 20, 16);
	tlsf_t *huge = make((UINT64_C(1) << 31) * 4, UINT32_C(1) << 31, 4);

	alloc_at(t, 1, 0);
	ck_assert_uint_eq(tlsf_usable_size(t, 0), MiB);
	ck_assert_uint_eq(alloc_ok(t, 1, 2 * MiB), 2 * MiB);
	ck_assert_uint_eq(alloc_ok(t, MiB + 1, 1), 3 * MiB);
	ck_assert_uint_eq(tlsf_usable_size(t, 3 * MiB), 2 * MiB);
	expect_bad_free(t, 512 * KiB);
	alloc_at(huge, 1, 0);
	ck_assert_uint_eq(tlsf_usable_size(huge, 0), UINT64_C(1) << 31);
	expect_nomem(huge, UINT64_C(3) << 31 | 1, 1);
	tlsf_destroy(t);
	tlsf_destroy(huge);
}
END_TEST

START_TEST(test_tlsf_alloc_sizes_near_uint64_max)
{
	tlsf_t *t = make(MiB, 64, 16);
	/* Heap size 2^63 - 2^31 bytes: rounding a request up must not wrap. */
	uint64_t big_size = (uint64_t) UINT32_MAX << 31;
	tlsf_t *big = make(big_size, UINT32_C(1) << 31, 4);

	expect_nomem(t, UINT64_MAX, 1);
	expect_nomem(t, UINT64_MAX - 64 + 1, 1);
	expect_nomem(t, UINT64_MAX, UINT64_C(1) << 63);
	expect_nomem(t, MiB + 1, 1);
	ck_assert_uint_eq(stats_of(t).failed, 4);
	alloc_at(t, MiB, 0);

	expect_nomem(big, UINT64_MAX, 1);
	expect_nomem(big, UINT64_MAX - (UINT64_C(1) << 31) + 1, 1);
	expect_nomem(big, big_size + 1, 1);
	alloc_at(big, big_size, 0);
	ck_assert_uint_eq(stats_of(big).used, big_size);
	free_ok(big, 0);
	alloc_at(big, big_size - (UINT64_C(1) << 31), 0);
	alloc_at(big, 1, big_size - (UINT64_C(1) << 31));
	tlsf_destroy(t);
	tlsf_destroy(big);
}
END_TEST

START_TEST(test_tlsf_heap_of_max_granules)
{
	tlsf_t *t = make(UINT32_MAX, 1, 8);
	uint64_t half = UINT64_C(1) << 31;

	ck_assert_uint_eq(stats_of(t).size, UINT32_MAX);
	ck_assert_uint_le(tlsf_metadata_bytes(t), 64 * 8 + 8 * KiB);
	alloc_at(t, UINT32_MAX, 0);
	free_ok(t, 0);
	alloc_at(t, half, 0);
	alloc_at(t, half - 2, half);
	alloc_at(t, 1, UINT32_MAX - 1);
	expect_nomem(t, 1, 1);
	free_ok(t, half);
	free_ok(t, 0);
	ck_assert_uint_eq(stats_of(t).largest_free, UINT32_MAX - 1);
	free_ok(t, UINT32_MAX - 1);
	ck_assert_uint_eq(stats_of(t).free_blocks, 1);
	ck_assert_uint_eq(stats_of(t).largest_free, UINT32_MAX);
	tlsf_destroy(t);
}
END_TEST

START_TEST(test_tlsf_heap_64gib)
{
	uint64_t size = 64 * GiB;
	tlsf_t *t = make(size, 64, 1000000);
	uint64_t bytes = tlsf_metadata_bytes(t);
	uint64_t a, b;

	ck_assert_msg(bytes <= 64 * UINT64_C(1000000) + size / 100,
		      "64 GiB heap: %llu bytes of metadata", (unsigned long long) bytes);
	ck_assert_uint_ge(tlsf_id_limit(t), 2 * 1000000 + 1);
	a = alloc_ok(t, 32 * GiB, 1);
	b = alloc_ok(t, 1, GiB);
	ck_assert_uint_eq(b, 32 * GiB);
	alloc_at(t, 32 * GiB - 64, 32 * GiB + 64);
	expect_nomem(t, 1, 1);
	free_ok(t, a);
	alloc_at(t, 32 * GiB, 0);
	tlsf_destroy(t);
}
END_TEST

Suite *tlsf_suite(void)
{
	Suite *s = suite_create("tlsf");
	TCase *api = tcase_create("api");
	TCase *fit = tcase_create("fit");
	TCase *bad = tcase_create("bad_free");
	TCase *edge = tcase_create("edge");

	tcase_add_test(api, test_tlsf_create_rejects_bad_granule);
	tcase_add_test(api, test_tlsf_create_rejects_bad_size);
	tcase_add_test(api, test_tlsf_create_rejects_bad_max_allocs);
	tcase_add_test(api, test_tlsf_create_initial_state);
	tcase_add_test(api, test_tlsf_null_arguments);
	tcase_add_test(api, test_tlsf_alloc_rejects_size_zero);
	tcase_add_test(api, test_tlsf_alloc_rejects_bad_align);
	tcase_add_test(api, test_tlsf_alloc_nomem_when_full);
	tcase_add_test(api, test_tlsf_alloc_nomem_at_max_allocs);
	tcase_add_test(api, test_tlsf_usable_size_rounds_to_granule);
	tcase_add_test(api, test_tlsf_stats_arithmetic);
	tcase_add_test(api, test_tlsf_id_of_unique);
	tcase_add_test(api, test_tlsf_metadata_bound);
	suite_add_tcase(s, api);

	tcase_add_test(fit, test_tlsf_alloc_alignment);
	tcase_add_test(fit, test_tlsf_alloc_align_beyond_heap);
	tcase_add_test(fit, test_tlsf_alloc_whole_heap);
	tcase_add_test(fit, test_tlsf_alloc_exact_class_fallback);
	tcase_add_test(fit, test_tlsf_alloc_exact_class_fallback_aligned);
	tcase_add_test(fit, test_tlsf_alloc_search_class_bounds);
	tcase_add_test(fit, test_tlsf_free_coalesces_with_prev);
	tcase_add_test(fit, test_tlsf_free_coalesces_with_next);
	tcase_add_test(fit, test_tlsf_free_coalesces_with_both);
	suite_add_tcase(s, fit);

	tcase_add_test(bad, test_tlsf_free_rejects_unaligned);
	tcase_add_test(bad, test_tlsf_free_rejects_out_of_range);
	tcase_add_test(bad, test_tlsf_free_rejects_mid_block);
	tcase_add_test(bad, test_tlsf_free_rejects_every_other_granule);
	tcase_add_test(bad, test_tlsf_free_rejects_double_free);
	tcase_add_test(bad, test_tlsf_free_rejects_merged_start);
	suite_add_tcase(s, bad);

	tcase_add_test(edge, test_tlsf_heap_of_one_granule);
	tcase_add_test(edge, test_tlsf_granule_one);
	tcase_add_test(edge, test_tlsf_granule_large);
	tcase_add_test(edge, test_tlsf_alloc_sizes_near_uint64_max);
	tcase_add_test(edge, test_tlsf_heap_of_max_granules);
	tcase_add_test(edge, test_tlsf_heap_64gib);
	/* The 1,000,000-slot heaps are 64 MB of metadata: slow under valgrind. */
	tcase_set_timeout(edge, 60);
	tcase_set_timeout(api, 60);
	suite_add_tcase(s, edge);
	return s;
}
