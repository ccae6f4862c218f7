/*
 * cache_misuse: leased caches when the user breaks the rules -- frees a
 * block twice while a refill may bring it back to the cache, frees a run
 * with cached blocks in it. The cache must refuse (-EFAULT) rather than
 * lose track of what it holds: a cached block nobody holds would later be
 * handed out while another client owns it.
 */
#include <errno.h>

#include "tests/client/check_client.h"

/*
 * A double free of a block that an async refill, still on its way, leased
 * to the cache again: refused like any free of a cached block, not freed
 * under the cache. mc_free_contiguous of a cached block is refused as
 * well. Found by the model test (test_cache_model.c).
 *
 * Pool "small" has 64 blocks of 256 B; leases leave 8 free.
 */
START_TEST(test_cache_misuse_double_free_during_refill)
{
	struct test_daemon td;
	mc_client_t *c;
	uint64_t base, x, off[16];
	struct mc_cache_stats st;

	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_int_eq(mc_alloc(c, "small", 1, &base), 0);
	ck_assert_int_eq(mc_free(c, "small", 1, &base), 0);
	ck_assert_int_eq(mc_cache(c, "small", 32), 0); /* blocks 0..15 cached */
	ck_assert_int_eq(mc_alloc_contiguous(c, "small", 1, &x), 0);
	ck_assert_uint_eq(x, base + 16 * 256);
	ck_assert_int_eq(mc_free(c, "small", 1, &x), 0); /* not from the cache: to the daemon */
	/* Empties the cache: a refill goes out and leases 16..31, x first. */
	ck_assert_int_eq(mc_alloc(c, "small", 16, off), 0);
	ck_assert_int_eq(mc_free(c, "small", 1, &x), -EFAULT);
	ck_assert_int_eq(mc_free_contiguous(c, "small", x, 1), -EFAULT);
	ck_assert_int_eq(mc_free_async(c, "small", 1, &x), -EFAULT);
	ck_assert_int_eq(mc_flush(c), 0);
	ck_assert_int_eq(mc_cache_stats(c, "small", &st), 0);
	ck_assert_uint_eq(st.cached, 16);
	ck_assert_uint_eq(client_used(c, "small"), 32);
	/* And a run with cached blocks, no refill on the way. */
	ck_assert_int_eq(mc_free_contiguous(c, "small", x, 2), -EFAULT);
	ck_assert_uint_eq(client_used(c, "small"), 32);
	ck_assert_int_eq(mc_free(c, "small", 16, off), 0);
	mc_close(c);
	client_stop(&td);
}
END_TEST

Suite *cache_misuse_suite(void)
{
	Suite *s = suite_create("cache_misuse");
	TCase *tc = client_tcase("cache_misuse");

	tcase_add_test(tc, test_cache_misuse_double_free_during_refill);
	suite_add_tcase(s, tc);
	return s;
}
