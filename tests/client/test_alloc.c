/*
 * alloc: pool blocks (lowest free first, not necessarily contiguous),
 * contiguous runs, heap memory, mc_ptr, and calls larger than one request
 * (split at max_batch, all or nothing).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tests/client/check_client.h"

#define SMALL_BS 256u

static uint64_t region_size(mc_client_t *c, const char *region)
{
	struct mc_region_status rs[4];
	struct mc_status st;
	size_t n = 0;

	ck_assert_int_eq(mc_status(c, &st, rs, 4, &n), 0);
	for (size_t i = 0; i < n && i < 4; i++)
		if (strcmp(rs[i].name, region) == 0)
			return rs[i].size;
	ck_abort_msg("no region %s", region);
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

	return x < y ? -1 : x > y;
}

/* Offsets sorted in place; asserts they are distinct multiples of bs from
 * the first. */
static void assert_distinct_blocks(uint64_t *off, size_t n, uint64_t bs)
{
	qsort(off, n, sizeof(*off), cmp_u64);
	for (size_t i = 1; i < n; i++) {
		ck_assert_uint_gt(off[i], off[i - 1]);
		ck_assert_uint_eq((off[i] - off[0]) % bs, 0);
	}
}

START_TEST(test_mc_alloc_free_round_trip)
{
	struct test_daemon td;
	mc_client_t *c;
	uint64_t off[3];

	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_uint_eq(client_used(c, "small"), 0);
	ck_assert_int_eq(mc_alloc(c, "small", 3, off), 0);
	ck_assert_uint_eq(client_used(c, "small"), 3);
	assert_distinct_blocks(off, 3, SMALL_BS);
	ck_assert_int_eq(mc_free(c, "small", 3, off), 0);
	ck_assert_uint_eq(client_used(c, "small"), 0);
	mc_close(c);
	client_stop(&td);
}
END_TEST

START_TEST(test_mc_alloc_lowest_free_first)
{
	struct test_daemon td;
	mc_client_t *c;
	uint64_t base, off[3], again;

	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_int_eq(mc_alloc(c, "small", 1, &base), 0);
	ck_assert_int_eq(mc_alloc(c, "small", 3, off), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_uint_eq(off[i], base + (uint64_t) (i + 1) * SMALL_BS);
	ck_assert_int_eq(mc_free(c, "small", 1, &off[0]), 0);
	ck_assert_int_eq(mc_alloc(c, "small", 1, &again), 0);
	ck_assert_uint_eq(again, base + SMALL_BS);
	mc_close(c);
	client_stop(&td);
}
END_TEST

START_TEST(test_mc_alloc_noncontiguous_after_fragmentation)
{
	struct test_daemon td;
	mc_client_t *c;
	uint64_t off[8], holes[3], got[3], run;

	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_int_eq(mc_alloc(c, "small", 8, off), 0);
	holes[0] = off[1];
	holes[1] = off[3];
	holes[2] = off[5];
	ck_assert_int_eq(mc_free(c, "small", 3, holes), 0);
	/* Three blocks that are not contiguous: the holes, lowest first. */
	ck_assert_int_eq(mc_alloc(c, "small", 3, got), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_uint_eq(got[i], holes[i]);
	/* A run of two fits only after block 7. */
	ck_assert_int_eq(mc_alloc_contiguous(c, "small", 2, &run), 0);
	ck_assert_uint_eq(run, off[7] + SMALL_BS);
	ck_assert_uint_eq(client_used(c, "small"), 10);
	mc_close(c);
	client_stop(&td);
}
END_TEST

START_TEST(test_mc_alloc_contiguous_and_free_contiguous)
{
	struct test_daemon td;
	mc_client_t *c;
	uint64_t off, pk, rest[2];
	uint8_t bits[8];

	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_int_eq(mc_alloc_contiguous(c, "small", 5, &off), 0);
	ck_assert_uint_eq(client_used(c, "small"), 5);
	ck_assert_int_eq(mc_pool_map(c, "small", 0, 64, bits, NULL), 0);
	ck_assert_uint_eq(bits[0], 0x1f);
	/* Any run the client holds, not only the whole allocation. */
	ck_assert_int_eq(mc_free_contiguous(c, "small", off + SMALL_BS, 2), 0);
	ck_assert_uint_eq(client_used(c, "small"), 3);
	ck_assert_int_eq(mc_pool_map(c, "small", 0, 64, bits, NULL), 0);
	ck_assert_uint_eq(bits[0], 0x19);
	ck_assert_int_eq(mc_free_contiguous(c, "small", off, 1), 0);
	rest[0] = off + 3 * SMALL_BS;
	rest[1] = off + 4 * SMALL_BS;
	ck_assert_int_eq(mc_free(c, "small", 2, rest), 0);
	ck_assert_uint_eq(client_used(c, "small"), 0);

	/* 1536-byte blocks, 512-aligned: a size that is no power of two. */
	ck_assert_int_eq(mc_alloc_contiguous(c, "packets", 3, &pk), 0);
	ck_assert_uint_eq(pk % 512, 0);
	ck_assert_uint_eq(client_used(c, "packets"), 3);
	ck_assert_int_eq(mc_free_contiguous(c, "packets", pk, 3), 0);
	ck_assert_uint_eq(client_used(c, "packets"), 0);
	/* Nothing to free: nothing happens. */
	ck_assert_int_eq(mc_free_contiguous(c, "packets", pk, 0), 0);
	mc_close(c);
	client_stop(&td);
}
END_TEST

START_TEST(test_mc_heap_alloc_aligned)
{
	struct test_daemon td;
	struct mc_stats st;
	mc_client_t *c;
	uint64_t a, b;
	size_t n;

	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_int_eq(mc_heap_alloc(c, "heap", 100, 4096, &a), 0);
	ck_assert_uint_eq(a % 4096, 0);
	ck_assert_int_eq(mc_heap_alloc(c, "heap", 1, 0, &b), 0);
	ck_assert_uint_eq(b % 64, 0); /* the granule */
	ck_assert_int_eq(mc_stats(c, "heap", &st, 1, &n), 0);
	ck_assert_uint_eq(st.info.kind, MC_HEAP);
	ck_assert_uint_eq(st.info.used, 128 + 64); /* sizes rounded to the granule */
	ck_assert_uint_eq(st.live, 2);
	memset(mc_ptr(c, "heap", a), 0xab, 100);
	ck_assert_int_eq(mc_heap_free(c, "heap", a), 0);
	ck_assert_int_eq(mc_heap_free(c, "heap", b), 0);
	ck_assert_int_eq(mc_stats(c, "heap", &st, 1, &n), 0);
	ck_assert_uint_eq(st.info.used, 0);
	ck_assert_uint_eq(st.live, 0);
	mc_close(c);
	client_stop(&td);
}
END_TEST

START_TEST(test_mc_ptr_writable_and_bounded)
{
	struct test_daemon td;
	mc_client_t *c;
	uint64_t off, size;
	uint8_t *p;

	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_int_eq(mc_alloc(c, "small", 1, &off), 0);
	p = mc_ptr(c, "small", off);
	ck_assert_ptr_nonnull(p);
	for (unsigned i = 0; i < SMALL_BS; i++)
		p[i] = (uint8_t) (i * 7);
	for (unsigned i = 0; i < SMALL_BS; i++)
		ck_assert_uint_eq(((uint8_t *) mc_ptr(c, "small", off))[i], (uint8_t) (i * 7));

	size = region_size(c, "main");
	ck_assert_ptr_eq(mc_ptr(c, "small", size - 1),
			 (uint8_t *) mc_ptr(c, "small", 0) + size - 1);
	*(uint8_t *) mc_ptr(c, "small", size - 1) = 1;
	ck_assert_ptr_null(mc_ptr(c, "small", size));
	ck_assert_ptr_null(mc_ptr(c, "small", UINT64_MAX));
	ck_assert_ptr_null(mc_ptr(c, "no_such_pool", 0));
	ck_assert_ptr_null(mc_ptr(c, NULL, 0));
	ck_assert_ptr_null(mc_ptr(NULL, "small", 0));
	mc_close(c);
	client_stop(&td);
}
END_TEST

START_TEST(test_mc_alloc_split_over_max_batch)
{
	enum { N = 20000 };
	struct test_daemon td;
	uint64_t *off = malloc(N * sizeof(*off));
	mc_client_t *c;

	ck_assert_ptr_nonnull(off);
	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_uint_lt(mc_max_batch(c), N / 2); /* at least three requests */
	ck_assert_int_eq(mc_alloc(c, "big", N, off), 0);
	ck_assert_uint_eq(client_used(c, "big"), N);
	/* Lowest first across the parts: blocks 0 .. N-1 in order. */
	for (size_t i = 1; i < N; i++)
		ck_assert_uint_eq(off[i], off[0] + i * 64);
	ck_assert_int_eq(mc_free(c, "big", N, off), 0);
	ck_assert_uint_eq(client_used(c, "big"), 0);
	mc_close(c);
	client_stop(&td);
	free(off);
}
END_TEST

START_TEST(test_mc_alloc_split_all_or_nothing)
{
	enum { HELD = 10000, WANT = CLIENT_BIG_BLOCKS - HELD + 1 };
	struct test_daemon td;
	uint64_t *off = malloc(CLIENT_BIG_BLOCKS * sizeof(*off));
	struct mc_stats st;
	mc_client_t *a, *b;
	size_t n;

	ck_assert_ptr_nonnull(off);
	client_start(&td, NULL);
	a = client_connect(&td);
	b = client_connect(&td);
	ck_assert_int_eq(mc_alloc(b, "big", HELD, off), 0);
	/* One block more than is free: the parts before the last succeed,
	 * the last fails, and what the others got goes back. */
	ck_assert_uint_gt(WANT, 2 * mc_max_batch(a));
	ck_assert_int_eq(mc_alloc(a, "big", WANT, off), -ENOMEM);
	ck_assert_int_eq(mc_stats(a, "big", &st, 1, &n), 0);
	ck_assert_uint_eq(st.info.used, HELD);
	ck_assert_uint_eq(st.failed, 1);
	/* Exactly what is free still fits. */
	ck_assert_int_eq(mc_alloc(a, "big", WANT - 1, off), 0);
	ck_assert_uint_eq(client_used(a, "big"), CLIENT_BIG_BLOCKS);
	mc_close(a);
	mc_close(b);
	client_stop(&td);
	free(off);
}
END_TEST

START_TEST(test_mc_retain_split_all_or_nothing)
{
	enum { N = 20000 };
	struct test_daemon td;
	uint64_t *off = malloc(N * sizeof(*off));
	uint64_t last;
	mc_client_t *prod, *cons;

	ck_assert_ptr_nonnull(off);
	client_start(&td, NULL);
	prod = client_connect(&td);
	cons = client_connect(&td);
	ck_assert_int_eq(mc_alloc(prod, "big", N, off), 0);
	/* The last offset is freed: the last part of the retain fails. */
	last = off[N - 1];
	ck_assert_int_eq(mc_free(prod, "big", 1, &last), 0);
	ck_assert_int_eq(mc_retain(cons, "big", N, off), -EFAULT);
	/* The consumer holds none of them: the producer's free returns them. */
	ck_assert_int_eq(mc_free(prod, "big", N - 1, off), 0);
	ck_assert_uint_eq(client_used(prod, "big"), 0);
	mc_close(prod);
	mc_close(cons);
	client_stop(&td);
	free(off);
}
END_TEST

START_TEST(test_mc_alloc_count_zero)
{
	struct test_daemon td;
	mc_client_t *c;
	size_t bs = 99;

	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_int_eq(mc_alloc(c, "small", 0, NULL), 0);
	ck_assert_int_eq(mc_free(c, "small", 0, NULL), 0);
	ck_assert_int_eq(mc_retain(c, "small", 0, NULL), 0);
	ck_assert_int_eq(mc_group_alloc(c, "g_size", 64, 0, NULL, &bs), 0);
	ck_assert_uint_eq(bs, 0);
	/* Still asked: a bad name is still an error. */
	ck_assert_int_eq(mc_alloc(c, "no_such_pool", 0, NULL), -ENOENT);
	ck_assert_uint_eq(client_used(c, "small"), 0);
	mc_close(c);
	client_stop(&td);
}
END_TEST

Suite *alloc_suite(void)
{
	Suite *s = suite_create("alloc");
	TCase *tc = client_tcase("alloc");

	tcase_add_test(tc, test_mc_alloc_free_round_trip);
	tcase_add_test(tc, test_mc_alloc_lowest_free_first);
	tcase_add_test(tc, test_mc_alloc_noncontiguous_after_fragmentation);
	tcase_add_test(tc, test_mc_alloc_contiguous_and_free_contiguous);
	tcase_add_test(tc, test_mc_heap_alloc_aligned);
	tcase_add_test(tc, test_mc_ptr_writable_and_bounded);
	tcase_add_test(tc, test_mc_alloc_split_over_max_batch);
	tcase_add_test(tc, test_mc_alloc_split_all_or_nothing);
	tcase_add_test(tc, test_mc_retain_split_all_or_nothing);
	tcase_add_test(tc, test_mc_alloc_count_zero);
	suite_add_tcase(s, tc);
	return s;
}
