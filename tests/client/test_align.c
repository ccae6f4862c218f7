/*
 * align: heap offsets are multiples of the align asked for in region terms,
 * not only within the heap, and mc_ptr() of an aligned offset is an aligned
 * address, for heaps and for pools with a large align.
 */
#include <errno.h>
#include <stdint.h>

#include "tests/client/check_client.h"

/* A 9 MiB pool first, so that a heap placed only to its granule would start
 * at 0x900000, a multiple of 1 MiB but not of 2; and in a region of its own
 * a pool of 4 MiB blocks aligned to 4 MiB. */
static const char align_config[] =
    "regions = ({ name = \"r\";\n"
    "  pools = ({ name = \"pad\"; block_size = 4096; blocks = 2304; });\n"
    "  heaps = ({ name = \"h\"; size = 8388608; granule = 64; max_allocs = 64; });\n"
    "}, { name = \"w\";\n"
    "  pools = ({ name = \"wide\"; block_size = 4194304; blocks = 1; align = 4194304; });\n"
    "});\n";

START_TEST(test_align_heap_offsets_and_pointers)
{
	static const size_t aligns[] = {64, 4096, 65536, 1u << 20, 2u << 20};
	struct test_daemon td;
	mc_client_t *c;
	uint64_t off;
	void *p;

	client_start(&td, align_config);
	c = client_connect(&td);
	for (size_t i = 0; i < sizeof(aligns) / sizeof(aligns[0]); i++) {
		/* an odd size first, so the next allocation is not at a
		 * boundary by luck */
		ck_assert_int_eq(mc_heap_alloc(c, "h", 192, 64, &off), 0);
		ck_assert_int_eq(mc_heap_alloc(c, "h", 1000, aligns[i], &off), 0);
		ck_assert_msg(off % aligns[i] == 0, "offset 0x%llx for align %zu",
			      (unsigned long long) off, aligns[i]);
		p = mc_ptr(c, "h", off);
		ck_assert_ptr_nonnull(p);
		ck_assert_msg((uintptr_t) p % aligns[i] == 0, "pointer %p for align %zu", p,
			      aligns[i]);
	}
	/* more than the heap can promise: a clear refusal, not a wrong offset */
	ck_assert_int_eq(mc_heap_alloc(c, "h", 64, (size_t) 1 << 30, &off), -EINVAL);
	mc_close(c);
	client_stop(&td);
}
END_TEST

START_TEST(test_align_pool_pointers)
{
	struct test_daemon td;
	mc_client_t *c;
	uint64_t off;
	void *p;

	client_start(&td, align_config);
	c = client_connect(&td);
	ck_assert_int_eq(mc_alloc(c, "wide", 1, &off), 0);
	ck_assert_uint_eq(off % (4u << 20), 0);
	p = mc_ptr(c, "wide", off);
	ck_assert_ptr_nonnull(p);
	ck_assert_msg((uintptr_t) p % (4u << 20) == 0, "pointer %p", p);
	mc_close(c);
	client_stop(&td);
}
END_TEST

Suite *align_suite(void)
{
	Suite *s = suite_create("align");
	TCase *tc = client_tcase("align");

	tcase_add_test(tc, test_align_heap_offsets_and_pointers);
	tcase_add_test(tc, test_align_pool_pointers);
	suite_add_tcase(s, tc);
	return s;
}
