/*
 * groups: each built-in choice function picks the pool it promises (seen in
 * the block size returned and in which member's use grows), group frees
 * find every block's pool, and a group allocation split into several
 * requests stays in one pool, all or nothing.
 */
#include <errno.h>
#include <stdlib.h>

#include "tests/client/check_client.h"

/* One block from group for cfg; returns its block size. */
static size_t one_block(mc_client_t *c, const char *group, uint64_t cfg)
{
	uint64_t off;
	size_t bs = 0;
	int rc = mc_group_alloc(c, group, cfg, 1, &off, &bs);

	ck_assert_msg(rc == 0, "%s cfg %llu: %d", group, (unsigned long long) cfg, rc);
	ck_assert_ptr_nonnull(mc_ptr(c, group, off));
	return bs;
}

static void fill_pool(mc_client_t *c, const char *pool, size_t count)
{
	uint64_t *off = malloc(count * sizeof(*off));

	ck_assert_ptr_nonnull(off);
	ck_assert_int_eq(mc_alloc(c, pool, count, off), 0);
	free(off);
}

START_TEST(test_mc_group_by_size_smallest_fit)
{
	struct test_daemon td;
	mc_client_t *c;

	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_uint_eq(one_block(c, "g_size", 100), 256);
	ck_assert_uint_eq(client_used(c, "g_b"), 1);
	ck_assert_uint_eq(one_block(c, "g_size", 64), 64);
	ck_assert_uint_eq(client_used(c, "g_a"), 1);
	ck_assert_uint_eq(one_block(c, "g_size", 0), 64);
	ck_assert_uint_eq(one_block(c, "g_size", 257), 1024);
	ck_assert_uint_eq(one_block(c, "g_size", 1024), 1024);
	ck_assert_uint_eq(client_used(c, "g_c"), 2);
	mc_close(c);
	client_stop(&td);
}
END_TEST

START_TEST(test_mc_group_by_size_falls_back)
{
	struct test_daemon td;
	mc_client_t *c;
	uint64_t off[8];
	size_t bs = 0;

	client_start(&td, NULL);
	c = client_connect(&td);
	fill_pool(c, "g_a", 16);
	ck_assert_uint_eq(one_block(c, "g_size", 64), 256);
	/* g_b has 5 left: 8 blocks come from the next larger pool. */
	fill_pool(c, "g_b", 10);
	ck_assert_int_eq(mc_group_alloc(c, "g_size", 64, 8, off, &bs), 0);
	ck_assert_uint_eq(bs, 1024);
	ck_assert_uint_eq(client_used(c, "g_c"), 8);
	/* No member has room: the smallest that fits is chosen, and is full. */
	ck_assert_int_eq(mc_group_alloc(c, "g_size", 64, 6, off, &bs), -ENOMEM);
	ck_assert_uint_eq(client_used(c, "g_a"), 16);
	mc_close(c);
	client_stop(&td);
}
END_TEST

START_TEST(test_mc_group_round_robin_cycles)
{
	struct test_daemon td;
	mc_client_t *c;

	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_uint_eq(one_block(c, "g_rr", 0), 64);
	ck_assert_uint_eq(one_block(c, "g_rr", 0), 256);
	ck_assert_uint_eq(one_block(c, "g_rr", 0), 1024);
	ck_assert_uint_eq(one_block(c, "g_rr", 0), 64);
	/* A member without room is skipped. */
	fill_pool(c, "g_b", 15);
	ck_assert_uint_eq(one_block(c, "g_rr", 0), 1024);
	ck_assert_uint_eq(one_block(c, "g_rr", 0), 64);
	mc_close(c);
	client_stop(&td);
}
END_TEST

START_TEST(test_mc_group_most_free)
{
	struct test_daemon td;
	mc_client_t *c;

	client_start(&td, NULL);
	c = client_connect(&td);
	/* Free blocks 16, 16, 8: the first of the two with 16. */
	ck_assert_uint_eq(one_block(c, "g_most", 0), 64);
	ck_assert_uint_eq(one_block(c, "g_most", 0), 256);
	ck_assert_uint_eq(one_block(c, "g_most", 0), 64);
	fill_pool(c, "g_a", 10);
	fill_pool(c, "g_b", 10);
	/* Now 4, 5, 8 free. */
	ck_assert_uint_eq(one_block(c, "g_most", 0), 1024);
	mc_close(c);
	client_stop(&td);
}
END_TEST

START_TEST(test_mc_group_index)
{
	struct test_daemon td;
	mc_client_t *c;
	uint64_t off[5];
	size_t bs = 0;

	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_uint_eq(one_block(c, "g_idx", 0), 64);
	ck_assert_uint_eq(one_block(c, "g_idx", 1), 256);
	ck_assert_uint_eq(one_block(c, "g_idx", 2), 1024);
	ck_assert_int_eq(mc_group_alloc(c, "g_idx", 2, 5, off, &bs), 0);
	ck_assert_uint_eq(bs, 1024);
	ck_assert_uint_eq(client_used(c, "g_c"), 6);
	ck_assert_int_eq(mc_group_alloc(c, "g_idx", 2, 3, off, NULL), -ENOMEM);
	mc_close(c);
	client_stop(&td);
}
END_TEST

START_TEST(test_mc_group_free_and_retain_across_members)
{
	struct test_daemon td;
	mc_client_t *a, *b;
	uint64_t off[4];

	client_start(&td, NULL);
	a = client_connect(&td);
	b = client_connect(&td);
	ck_assert_int_eq(mc_group_alloc(a, "g_idx", 0, 2, &off[0], NULL), 0);
	ck_assert_int_eq(mc_group_alloc(a, "g_idx", 2, 2, &off[2], NULL), 0);
	/* One call over blocks of two member pools, by the group's name. */
	ck_assert_int_eq(mc_retain(b, "g_idx", 4, off), 0);
	ck_assert_int_eq(mc_group_free(a, "g_idx", 4, off), 0);
	ck_assert_uint_eq(client_used(a, "g_a"), 2);
	ck_assert_uint_eq(client_used(a, "g_c"), 2);
	ck_assert_int_eq(mc_group_free(b, "g_idx", 4, off), 0);
	ck_assert_uint_eq(client_used(a, "g_idx"), 0);
	mc_close(a);
	mc_close(b);
	client_stop(&td);
}
END_TEST

START_TEST(test_mc_group_alloc_split_stays_in_one_pool)
{
	enum { N = 20000 };
	struct test_daemon td;
	uint64_t *off = malloc(N * sizeof(*off));
	mc_client_t *c;
	size_t bs = 0;

	ck_assert_ptr_nonnull(off);
	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_uint_lt(mc_max_batch(c), N / 2);
	/* bulk_small (64 B) fits cfg 64 but has room for one part only, not
	 * for the whole call: the choice must see all 20000. */
	ck_assert_int_eq(mc_group_alloc(c, "g_bulk", 64, N, off, &bs), 0);
	ck_assert_uint_eq(bs, 128);
	ck_assert_uint_eq(client_used(c, "bulk_large"), N);
	ck_assert_uint_eq(client_used(c, "bulk_small"), 0);
	for (size_t i = 1; i < N; i++)
		ck_assert_uint_eq(off[i], off[0] + i * 128);
	ck_assert_int_eq(mc_group_free(c, "g_bulk", N, off), 0);
	ck_assert_uint_eq(client_used(c, "g_bulk"), 0);
	mc_close(c);
	client_stop(&td);
	free(off);
}
END_TEST

START_TEST(test_mc_group_alloc_split_all_or_nothing)
{
	enum { N = 20000 };
	struct test_daemon td;
	uint64_t *off = malloc(N * sizeof(*off));
	mc_client_t *a, *b;

	ck_assert_ptr_nonnull(off);
	client_start(&td, NULL);
	a = client_connect(&td);
	b = client_connect(&td);
	fill_pool(b, "bulk_large", 5000);
	/* Neither member has room for 20000: by_size takes bulk_small, whose
	 * first part fits and whose second does not. */
	ck_assert_int_eq(mc_group_alloc(a, "g_bulk", 64, N, off, NULL), -ENOMEM);
	ck_assert_uint_eq(client_used(a, "bulk_small"), 0);
	ck_assert_uint_eq(client_used(a, "bulk_large"), 5000);
	mc_close(a);
	mc_close(b);
	client_stop(&td);
	free(off);
}
END_TEST

Suite *groups_suite(void)
{
	Suite *s = suite_create("groups");
	TCase *tc = client_tcase("groups");

	tcase_add_test(tc, test_mc_group_by_size_smallest_fit);
	tcase_add_test(tc, test_mc_group_by_size_falls_back);
	tcase_add_test(tc, test_mc_group_round_robin_cycles);
	tcase_add_test(tc, test_mc_group_most_free);
	tcase_add_test(tc, test_mc_group_index);
	tcase_add_test(tc, test_mc_group_free_and_retain_across_members);
	tcase_add_test(tc, test_mc_group_alloc_split_stays_in_one_pool);
	tcase_add_test(tc, test_mc_group_alloc_split_all_or_nothing);
	suite_add_tcase(s, tc);
	return s;
}
