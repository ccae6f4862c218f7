/*
 * errors: every refusal comes back as the daemon's negative errno, nothing
 * changes when a call is refused, and arguments that cannot be right are
 * refused without asking the daemon.
 */
#include <errno.h>
#include <string.h>

#include "tests/client/check_client.h"

START_TEST(test_mc_unknown_name_is_enoent)
{
	struct test_daemon td;
	struct mc_stats st;
	mc_client_t *c;
	uint64_t off = 0;
	uint8_t bits[1];
	char names[1][64];
	size_t n;

	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_int_eq(mc_alloc(c, "nope", 1, &off), -ENOENT);
	ck_assert_int_eq(mc_alloc_contiguous(c, "nope", 1, &off), -ENOENT);
	ck_assert_int_eq(mc_free(c, "nope", 1, &off), -ENOENT);
	ck_assert_int_eq(mc_free_contiguous(c, "nope", off, 2), -ENOENT);
	ck_assert_int_eq(mc_group_alloc(c, "nope", 0, 1, &off, NULL), -ENOENT);
	ck_assert_int_eq(mc_group_free(c, "nope", 1, &off), -ENOENT);
	ck_assert_int_eq(mc_heap_alloc(c, "nope", 64, 0, &off), -ENOENT);
	ck_assert_int_eq(mc_heap_free(c, "nope", off), -ENOENT);
	ck_assert_int_eq(mc_retain(c, "nope", 1, &off), -ENOENT);
	ck_assert_int_eq(mc_stats(c, "nope", &st, 1, &n), -ENOENT);
	ck_assert_int_eq(mc_group_members(c, "nope", names, 1, &n), -ENOENT);
	ck_assert_int_eq(mc_pool_map(c, "nope", 0, 8, bits, NULL), -ENOENT);
	mc_close(c);
	client_stop(&td);
}
END_TEST

START_TEST(test_mc_free_never_allocated_is_efault)
{
	struct test_daemon td;
	mc_client_t *c;
	uint64_t off[2];

	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_int_eq(mc_alloc(c, "small", 1, &off[0]), 0);
	off[1] = off[0] + 256; /* the next block, free */
	ck_assert_int_eq(mc_free(c, "small", 1, &off[1]), -EFAULT);
	/* All or nothing: the good offset before the bad one stays held. */
	ck_assert_int_eq(mc_free(c, "small", 2, off), -EFAULT);
	ck_assert_uint_eq(client_used(c, "small"), 1);
	/* Outside the pool altogether. */
	off[1] = UINT64_MAX - 255;
	ck_assert_int_eq(mc_free(c, "small", 1, &off[1]), -EFAULT);
	ck_assert_int_eq(mc_heap_free(c, "heap", 12345 * 64), -EFAULT);
	mc_close(c);
	client_stop(&td);
}
END_TEST

START_TEST(test_mc_free_misaligned_is_efault)
{
	struct test_daemon td;
	mc_client_t *c;
	uint64_t off, bad;

	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_int_eq(mc_alloc(c, "small", 1, &off), 0);
	bad = off + 1;
	ck_assert_int_eq(mc_free(c, "small", 1, &bad), -EFAULT);
	ck_assert_int_eq(mc_heap_alloc(c, "heap", 256, 0, &off), 0);
	ck_assert_int_eq(mc_heap_free(c, "heap", off + 64), -EFAULT);
	ck_assert_uint_eq(client_used(c, "small"), 1);
	ck_assert_uint_eq(client_used(c, "heap"), 256);
	mc_close(c);
	client_stop(&td);
}
END_TEST

START_TEST(test_mc_double_free_is_efault)
{
	struct test_daemon td;
	mc_client_t *c;
	uint64_t off, h;

	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_int_eq(mc_alloc(c, "small", 1, &off), 0);
	ck_assert_int_eq(mc_free(c, "small", 1, &off), 0);
	ck_assert_int_eq(mc_free(c, "small", 1, &off), -EFAULT);
	ck_assert_int_eq(mc_heap_alloc(c, "heap", 64, 0, &h), 0);
	ck_assert_int_eq(mc_heap_free(c, "heap", h), 0);
	ck_assert_int_eq(mc_heap_free(c, "heap", h), -EFAULT);
	ck_assert_uint_eq(client_used(c, "small"), 0);
	mc_close(c);
	client_stop(&td);
}
END_TEST

START_TEST(test_mc_free_of_other_clients_block_is_eperm)
{
	struct test_daemon td;
	mc_client_t *a, *b;
	uint64_t off, run;

	client_start(&td, NULL);
	a = client_connect(&td);
	b = client_connect(&td);
	ck_assert_int_eq(mc_alloc(a, "small", 1, &off), 0);
	ck_assert_int_eq(mc_free(b, "small", 1, &off), -EPERM);
	ck_assert_int_eq(mc_alloc_contiguous(a, "small", 2, &run), 0);
	ck_assert_int_eq(mc_free_contiguous(b, "small", run, 2), -EPERM);
	ck_assert_uint_eq(client_used(b, "small"), 3);
	ck_assert_int_eq(mc_free(a, "small", 1, &off), 0);
	mc_close(a);
	mc_close(b);
	client_stop(&td);
}
END_TEST

START_TEST(test_mc_retain_twice_is_ealready)
{
	struct test_daemon td;
	mc_client_t *a, *b;
	uint64_t off;

	client_start(&td, NULL);
	a = client_connect(&td);
	b = client_connect(&td);
	ck_assert_int_eq(mc_alloc(a, "small", 1, &off), 0);
	ck_assert_int_eq(mc_retain(a, "small", 1, &off), -EALREADY);
	ck_assert_int_eq(mc_retain(b, "small", 1, &off), 0);
	ck_assert_int_eq(mc_retain(b, "small", 1, &off), -EALREADY);
	mc_close(a);
	mc_close(b);
	client_stop(&td);
}
END_TEST

START_TEST(test_mc_retain_free_block_is_efault)
{
	struct test_daemon td;
	mc_client_t *a, *b;
	uint64_t off;

	client_start(&td, NULL);
	a = client_connect(&td);
	b = client_connect(&td);
	ck_assert_int_eq(mc_alloc(a, "small", 1, &off), 0);
	ck_assert_int_eq(mc_free(a, "small", 1, &off), 0);
	ck_assert_int_eq(mc_retain(b, "small", 1, &off), -EFAULT);
	ck_assert_uint_eq(client_used(b, "small"), 0);
	mc_close(a);
	mc_close(b);
	client_stop(&td);
}
END_TEST

START_TEST(test_mc_quota_is_edquot)
{
	struct test_daemon td;
	mc_client_t *a, *b;
	uint64_t off[5], h;

	client_start(&td, NULL);
	a = client_connect(&td);
	b = client_connect(&td);
	ck_assert_int_eq(mc_alloc(a, "quota", 4, off), 0);
	ck_assert_int_eq(mc_alloc(a, "quota", 1, &off[4]), -EDQUOT);
	ck_assert_int_eq(mc_alloc(a, "quota", 5, off), -EDQUOT);
	/* Per client: another one has its own 4. */
	ck_assert_int_eq(mc_alloc(b, "quota", 4, off), 0);
	ck_assert_uint_eq(client_used(a, "quota"), 8);
	/* Heaps count bytes: 4 KiB. */
	ck_assert_int_eq(mc_heap_alloc(a, "qheap", 4096, 0, &h), 0);
	ck_assert_int_eq(mc_heap_alloc(a, "qheap", 1, 0, &h), -EDQUOT);
	mc_close(a);
	mc_close(b);
	client_stop(&td);
}
END_TEST

START_TEST(test_mc_pool_exhausted_is_enomem)
{
	struct test_daemon td;
	mc_client_t *c;
	uint64_t off[65], h;

	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_int_eq(mc_alloc(c, "small", 65, off), -ENOMEM);
	ck_assert_uint_eq(client_used(c, "small"), 0);
	ck_assert_int_eq(mc_alloc(c, "small", 64, off), 0);
	ck_assert_int_eq(mc_alloc(c, "small", 1, &off[64]), -ENOMEM);
	ck_assert_int_eq(mc_alloc_contiguous(c, "packets", 33, &h), -ENOMEM);
	ck_assert_int_eq(mc_heap_alloc(c, "heap", (1u << 20) + 1, 0, &h), -ENOMEM);
	ck_assert_uint_eq(client_used(c, "small"), 64);
	mc_close(c);
	client_stop(&td);
}
END_TEST

START_TEST(test_mc_heap_bad_size_or_align_is_einval)
{
	struct test_daemon td;
	mc_client_t *c;
	uint64_t off;

	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_int_eq(mc_heap_alloc(c, "heap", 0, 0, &off), -EINVAL);
	ck_assert_int_eq(mc_heap_alloc(c, "heap", 64, 3, &off), -EINVAL);
	ck_assert_int_eq(mc_heap_alloc(c, "heap", 64, 96, &off), -EINVAL);
	ck_assert_uint_eq(client_used(c, "heap"), 0);
	mc_close(c);
	client_stop(&td);
}
END_TEST

START_TEST(test_mc_group_choice_none_is_einval)
{
	struct test_daemon td;
	mc_client_t *c;
	uint64_t off;
	size_t bs = 7;

	client_start(&td, NULL);
	c = client_connect(&td);
	/* index: three members, 0..2. */
	ck_assert_int_eq(mc_group_alloc(c, "g_idx", 3, 1, &off, &bs), -EINVAL);
	/* by_size: no member has blocks of 4 KiB. */
	ck_assert_int_eq(mc_group_alloc(c, "g_size", 4096, 1, &off, &bs), -EINVAL);
	ck_assert_uint_eq(bs, 7);
	ck_assert_uint_eq(client_used(c, "g_idx"), 0);
	mc_close(c);
	client_stop(&td);
}
END_TEST

START_TEST(test_mc_wrong_kind_is_einval)
{
	struct test_daemon td;
	mc_client_t *c;
	uint64_t off;
	char names[4][64];
	size_t n;

	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_int_eq(mc_heap_alloc(c, "small", 64, 0, &off), -EINVAL);
	ck_assert_int_eq(mc_alloc(c, "heap", 1, &off), -EINVAL);
	ck_assert_int_eq(mc_group_alloc(c, "small", 0, 1, &off, NULL), -EINVAL);
	ck_assert_int_eq(mc_group_members(c, "small", names, 4, &n), -EINVAL);
	mc_close(c);
	client_stop(&td);
}
END_TEST

/* Refused locally: these never reach the daemon, so they work on a client
 * whose daemon is gone as well. */
START_TEST(test_mc_bad_arguments_are_einval)
{
	struct test_daemon td;
	mc_client_t *c, *none = NULL;
	uint64_t off = 0;
	char longest[64], too_long[65];
	struct mc_info info;
	struct mc_status st;

	memset(longest, 'n', 63);
	longest[63] = '\0';
	memset(too_long, 'n', 64);
	too_long[64] = '\0';
	client_start(&td, NULL);
	c = client_connect(&td);

	ck_assert_int_eq(mc_connect(td.socket, NULL), -EINVAL);
	ck_assert_int_eq(mc_connect("", &none), -EINVAL);
	ck_assert_ptr_null(none);
	ck_assert_int_eq(mc_alloc(NULL, "small", 1, &off), -EINVAL);
	ck_assert_int_eq(mc_alloc(c, NULL, 1, &off), -EINVAL);
	ck_assert_int_eq(mc_alloc(c, "small", 1, NULL), -EINVAL);
	ck_assert_int_eq(mc_free(c, "small", 1, NULL), -EINVAL);
	ck_assert_int_eq(mc_retain(c, "small", 2, NULL), -EINVAL);
	ck_assert_int_eq(mc_alloc_contiguous(c, "small", 1, NULL), -EINVAL);
	ck_assert_int_eq(mc_heap_alloc(c, "heap", 64, 0, NULL), -EINVAL);
	ck_assert_int_eq(mc_group_alloc(c, "g_size", 0, 1, NULL, NULL), -EINVAL);
	ck_assert_int_eq(mc_list(c, NULL, 1, NULL), -EINVAL);
	ck_assert_int_eq(mc_list(NULL, &info, 1, NULL), -EINVAL);
	ck_assert_int_eq(mc_status(c, NULL, NULL, 0, NULL), -EINVAL);
	ck_assert_int_eq(mc_status(c, &st, NULL, 1, NULL), -EINVAL);
	ck_assert_int_eq(mc_clients(c, NULL, 1, NULL, NULL, 0, NULL), -EINVAL);
	ck_assert_int_eq(mc_pool_map(c, "small", 0, 8, NULL, NULL), -EINVAL);
	/* Names: 63 bytes may name something (here nothing), 64 cannot. */
	ck_assert_int_eq(mc_alloc(c, longest, 1, &off), -ENOENT);
	ck_assert_int_eq(mc_alloc(c, too_long, 1, &off), -EINVAL);
	ck_assert_int_eq(mc_free(c, too_long, 1, &off), -EINVAL);
	ck_assert_int_eq(mc_stats(c, too_long, NULL, 0, NULL), -EINVAL);
	ck_assert_ptr_null(mc_ptr(c, too_long, 0));
	ck_assert_ptr_null(mc_socket_path(NULL));
	ck_assert_uint_eq(mc_max_batch(NULL), 0);

	ck_assert_uint_eq(client_used(c, "small"), 0);
	mc_close(c);
	client_stop(&td);
}
END_TEST

START_TEST(test_mc_free_run_past_end_is_efault)
{
	struct test_daemon td;
	mc_client_t *c;
	uint64_t off[64];

	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_int_eq(mc_alloc(c, "small", 64, off), 0);
	ck_assert_int_eq(mc_free_contiguous(c, "small", off[62], 3), -EFAULT);
	ck_assert_int_eq(mc_free_contiguous(c, "heap", 0, 2), -EINVAL);
	ck_assert_uint_eq(client_used(c, "small"), 64);
	ck_assert_int_eq(mc_free_contiguous(c, "small", off[0], 64), 0);
	ck_assert_uint_eq(client_used(c, "small"), 0);
	mc_close(c);
	client_stop(&td);
}
END_TEST

Suite *errors_suite(void)
{
	Suite *s = suite_create("errors");
	TCase *tc = client_tcase("errors");

	tcase_add_test(tc, test_mc_unknown_name_is_enoent);
	tcase_add_test(tc, test_mc_free_never_allocated_is_efault);
	tcase_add_test(tc, test_mc_free_misaligned_is_efault);
	tcase_add_test(tc, test_mc_double_free_is_efault);
	tcase_add_test(tc, test_mc_free_of_other_clients_block_is_eperm);
	tcase_add_test(tc, test_mc_retain_twice_is_ealready);
	tcase_add_test(tc, test_mc_retain_free_block_is_efault);
	tcase_add_test(tc, test_mc_quota_is_edquot);
	tcase_add_test(tc, test_mc_pool_exhausted_is_enomem);
	tcase_add_test(tc, test_mc_heap_bad_size_or_align_is_einval);
	tcase_add_test(tc, test_mc_group_choice_none_is_einval);
	tcase_add_test(tc, test_mc_wrong_kind_is_einval);
	tcase_add_test(tc, test_mc_bad_arguments_are_einval);
	tcase_add_test(tc, test_mc_free_run_past_end_is_efault);
	suite_add_tcase(s, tc);
	return s;
}
