/*
 * The SYS_MEM_BLOCKS_DEFINE* macros at file scope, as Zephyr code uses them:
 * static and not, own and external buffers, power-of-two and 1536-byte
 * blocks, and a bitmap deep enough to need three levels.
 *
 * The pools are shared by every test here, and with CK_FORK=no by every
 * test of the run: each test starts by asserting its pools are empty and
 * leaves them empty, with the high-water mark reset.
 */
#include <errno.h>
#include <string.h>

#include "core/mem_blocks.h"
#include "tests/core/check_core.h"

/* Not static: declared like any global the program shares. */
extern sys_mem_blocks_t mbdef_pool;
SYS_MEM_BLOCKS_DEFINE(mbdef_pool, 64, 100, 4);

/* Packet buffers: not a power of two, 512-byte aligned. */
SYS_MEM_BLOCKS_DEFINE_STATIC(mbdef_packets, 1536, 100, 512);

static uint8_t mbdef_ext_buf[32 * 128] __attribute__((aligned(32)));
extern sys_mem_blocks_t mbdef_ext;
SYS_MEM_BLOCKS_DEFINE_WITH_EXT_BUF(mbdef_ext, 32, 128, mbdef_ext_buf);

static uint8_t mbdef_ext_packets_buf[1536 * 5] __attribute__((aligned(512)));
SYS_MEM_BLOCKS_DEFINE_STATIC_WITH_EXT_BUF(mbdef_ext_packets, 1536, 5, mbdef_ext_packets_buf);

/* 4097 blocks: three bitmap levels in static storage. */
SYS_MEM_BLOCKS_DEFINE_STATIC(mbdef_deep, 12, 4097, 4);

/* The smallest pool, and pools at the bitmap's level boundaries. */
SYS_MEM_BLOCKS_DEFINE_STATIC(mbdef_one, 8, 1, 8);
SYS_MEM_BLOCKS_DEFINE_STATIC(mbdef_63, 16, 63, 16);
SYS_MEM_BLOCKS_DEFINE_STATIC(mbdef_64, 16, 64, 16);
SYS_MEM_BLOCKS_DEFINE_STATIC(mbdef_65, 16, 65, 16);
SYS_MEM_BLOCKS_DEFINE_STATIC(mbdef_4095, 16, 4095, 16);
SYS_MEM_BLOCKS_DEFINE_STATIC(mbdef_4096, 16, 4096, 16);
SYS_MEM_BLOCKS_DEFINE_STATIC(mbdef_4097, 16, 4097, 16);

static void assert_empty(sys_mem_blocks_t *mb)
{
	struct sys_memory_stats st;

	ck_assert_int_eq(bitarray_check(&mb->bitmap), 0);
	ck_assert_int_eq(sys_mem_blocks_runtime_stats_get(mb, &st), 0);
	ck_assert_uint_eq(st.allocated_bytes, 0);
	ck_assert_uint_eq(st.free_bytes, mb->info.num_blocks * mb->info.blk_sz);
}

/* Leave the pool as it was defined: empty, high-water mark 0. */
static void finish(sys_mem_blocks_t *mb)
{
	assert_empty(mb);
	ck_assert_int_eq(sys_mem_blocks_runtime_stats_reset_max(mb), 0);
	ck_assert_uint_eq(mb->max_allocated, 0);
}

static void check_defined(sys_mem_blocks_t *mb, size_t blk_sz, size_t n, size_t align,
			  unsigned levels)
{
	ck_assert_uint_eq(mb->info.blk_sz, blk_sz);
	ck_assert_uint_eq(mb->info.num_blocks, n);
	ck_assert_uint_eq((uintptr_t) mb->buffer % align, 0);
	ck_assert_ptr_null(mb->owned_words);
	ck_assert_uint_eq(mb->bitmap.nbits, n);
	ck_assert_uint_eq(mb->bitmap.levels, levels);
	ck_assert_uint_eq(bitarray_count_free(&mb->bitmap), n);
	assert_empty(mb);
}

START_TEST(test_mem_blocks_define_geometry)
{
	check_defined(&mbdef_pool, 64, 100, 4, 2);
	check_defined(&mbdef_packets, 1536, 100, 512, 2);
	check_defined(&mbdef_ext, 32, 128, 32, 2);
	check_defined(&mbdef_ext_packets, 1536, 5, 512, 1);
	check_defined(&mbdef_deep, 12, 4097, 4, 3);
	ck_assert_ptr_eq(mbdef_ext.buffer, mbdef_ext_buf);
	ck_assert_ptr_eq(mbdef_ext_packets.buffer, mbdef_ext_packets_buf);
}
END_TEST

/* Allocate every block, check its address, and write all of it: under
 * AddressSanitizer this proves the macro's buffer is big enough. */
static void fill_and_write(sys_mem_blocks_t *mb, void **out)
{
	size_t n = mb->info.num_blocks, bsz = mb->info.blk_sz;
	void *one;

	ck_assert_int_eq(sys_mem_blocks_alloc(mb, n, out), 0);
	for (size_t i = 0; i < n; i++) {
		if (out[i] != mb->buffer + i * bsz)
			ck_abort_msg("%zu-byte pool: out[%zu] = %p, want %p", bsz, i, out[i],
				     (void *) (mb->buffer + i * bsz));
		memset(out[i], (int) i, bsz);
	}
	ck_assert_int_eq(sys_mem_blocks_alloc(mb, 1, &one), -ENOMEM);
	ck_assert_int_eq(bitarray_check(&mb->bitmap), 0);
}

START_TEST(test_mem_blocks_define_non_power_of_two_blocks)
{
	void *out[100], *bad;

	assert_empty(&mbdef_packets);
	fill_and_write(&mbdef_packets, out);
	/* 512-aligned but inside a 1536-byte block: not a block start. */
	bad = mbdef_packets.buffer + 3 * 1536 + 512;
	ck_assert_int_eq(sys_mem_blocks_free(&mbdef_packets, 1, &bad), -EFAULT);
	bad = mbdef_packets.buffer + 3 * 1536 + 1024;
	ck_assert_int_eq(sys_mem_blocks_free(&mbdef_packets, 1, &bad), -EFAULT);
	ck_assert_int_eq(sys_mem_blocks_is_region_free(&mbdef_packets, bad, 1), -EFAULT);
	ck_assert_int_eq(sys_mem_blocks_free(&mbdef_packets, 50, &out[50]), 0);
	ck_assert_int_eq(sys_mem_blocks_is_region_free(&mbdef_packets, out[50], 50), 1);
	ck_assert_int_eq(sys_mem_blocks_is_region_free(&mbdef_packets, out[49], 2), 0);
	ck_assert_int_eq(sys_mem_blocks_free(&mbdef_packets, 50, out), 0);
	finish(&mbdef_packets);
}
END_TEST

START_TEST(test_mem_blocks_define_static_ext_buf_non_power_of_two)
{
	void *out[5], *run;

	assert_empty(&mbdef_ext_packets);
	fill_and_write(&mbdef_ext_packets, out);
	ck_assert_ptr_eq(out[4], mbdef_ext_packets_buf + 4 * 1536);
	ck_assert_int_eq(sys_mem_blocks_free(&mbdef_ext_packets, 3, &out[1]), 0);
	ck_assert_int_eq(sys_mem_blocks_alloc_contiguous(&mbdef_ext_packets, 3, &run), 0);
	ck_assert_ptr_eq(run, mbdef_ext_packets_buf + 1536);
	ck_assert_int_eq(sys_mem_blocks_free_contiguous(&mbdef_ext_packets, run, 3), 0);
	ck_assert_int_eq(sys_mem_blocks_free(&mbdef_ext_packets, 1, &out[0]), 0);
	ck_assert_int_eq(sys_mem_blocks_free(&mbdef_ext_packets, 1, &out[4]), 0);
	finish(&mbdef_ext_packets);
}
END_TEST

START_TEST(test_mem_blocks_define_ext_buf)
{
	void *run;

	assert_empty(&mbdef_ext);
	ck_assert_int_eq(sys_mem_blocks_alloc_contiguous(&mbdef_ext, 128, &run), 0);
	ck_assert_ptr_eq(run, mbdef_ext_buf);
	memset(run, 0x5a, sizeof(mbdef_ext_buf));
	ck_assert_int_eq(sys_mem_blocks_alloc_contiguous(&mbdef_ext, 1, &run), -ENOMEM);
	ck_assert_int_eq(sys_mem_blocks_free_contiguous(&mbdef_ext, mbdef_ext_buf, 128), 0);
	finish(&mbdef_ext);
}
END_TEST

START_TEST(test_mem_blocks_define_non_static_pool)
{
	void *out[100];
	struct sys_memory_stats st;

	assert_empty(&mbdef_pool);
	fill_and_write(&mbdef_pool, out);
	ck_assert_int_eq(sys_mem_blocks_runtime_stats_get(&mbdef_pool, &st), 0);
	ck_assert_uint_eq(st.allocated_bytes, 100 * 64);
	ck_assert_uint_eq(st.max_allocated_bytes, 100 * 64);
	ck_assert_int_eq(sys_mem_blocks_free(&mbdef_pool, 100, out), 0);
	ck_assert_int_eq(sys_mem_blocks_runtime_stats_get(&mbdef_pool, &st), 0);
	ck_assert_uint_eq(st.max_allocated_bytes, 100 * 64);
	finish(&mbdef_pool);
}
END_TEST

START_TEST(test_mem_blocks_define_three_level_static_bitmap)
{
	uint8_t *last = mbdef_deep.buffer + 4096 * 12;
	void *run, *one;

	assert_empty(&mbdef_deep);
	ck_assert_int_eq(sys_mem_blocks_get(&mbdef_deep, last, 1), 0);
	ck_assert_int_eq(sys_mem_blocks_alloc_contiguous(&mbdef_deep, 4097, &run), -ENOMEM);
	ck_assert_int_eq(sys_mem_blocks_alloc_contiguous(&mbdef_deep, 4096, &run), 0);
	ck_assert_ptr_eq(run, mbdef_deep.buffer);
	ck_assert_int_eq(sys_mem_blocks_alloc(&mbdef_deep, 1, &one), -ENOMEM);
	ck_assert_int_eq(bitarray_check(&mbdef_deep.bitmap), 0);
	ck_assert_int_eq(sys_mem_blocks_free_contiguous(&mbdef_deep, last, 1), 0);
	ck_assert_int_eq(sys_mem_blocks_alloc(&mbdef_deep, 1, &one), 0);
	ck_assert_ptr_eq(one, last);
	ck_assert_int_eq(sys_mem_blocks_free_contiguous(&mbdef_deep, run, 4097), 0);
	finish(&mbdef_deep);
}
END_TEST

START_TEST(test_mem_blocks_define_one_block_pool)
{
	sys_mem_blocks_t *mb = &mbdef_one;
	void *out;

	assert_empty(mb);
	ck_assert_uint_eq(mb->bitmap.levels, 1);
	ck_assert_int_eq(sys_mem_blocks_alloc(mb, 1, &out), 0);
	ck_assert_ptr_eq(out, mb->buffer);
	ck_assert_int_eq(sys_mem_blocks_alloc(mb, 1, &out), -ENOMEM);
	ck_assert_int_eq(sys_mem_blocks_alloc_contiguous(mb, 1, &out), -ENOMEM);
	ck_assert_int_eq(sys_mem_blocks_free_contiguous(mb, mb->buffer, 1), 0);
	ck_assert_int_eq(sys_mem_blocks_alloc_contiguous(mb, 2, &out), -ENOMEM);
	ck_assert_int_eq(sys_mem_blocks_get(mb, mb->buffer, 2), -ENOMEM);
	ck_assert_int_eq(sys_mem_blocks_alloc_contiguous(mb, 1, &out), 0);
	ck_assert_ptr_eq(out, mb->buffer);
	ck_assert_int_eq(sys_mem_blocks_free(mb, 2, &out), -EINVAL);
	ck_assert_int_eq(sys_mem_blocks_free(mb, 1, &out), 0);
	ck_assert_int_eq(sys_mem_blocks_free(mb, 1, &out), -EFAULT);
	ck_assert_uint_eq(mb->max_allocated, 1);
	finish(mb);
}
END_TEST

/* Fill in one call, check every address, give back the last and the first
 * block and take them again, empty, then the same as one run. */
START_TEST(test_mem_blocks_define_level_boundary_sizes)
{
	sys_mem_blocks_t *const pools[] = {&mbdef_63,   &mbdef_64,   &mbdef_65,
					   &mbdef_4095, &mbdef_4096, &mbdef_4097};
	static void *out[4097];

	for (size_t s = 0; s < sizeof(pools) / sizeof(pools[0]); s++) {
		sys_mem_blocks_t *mb = pools[s];
		size_t n = mb->info.num_blocks;
		void *one;

		assert_empty(mb);
		fill_and_write(mb, out);
		ck_assert_int_eq(sys_mem_blocks_free(mb, 1, &out[n - 1]), 0);
		ck_assert_int_eq(sys_mem_blocks_alloc(mb, 1, &one), 0);
		ck_assert_ptr_eq(one, out[n - 1]);
		ck_assert_int_eq(sys_mem_blocks_free(mb, 1, &out[0]), 0);
		ck_assert_int_eq(sys_mem_blocks_alloc_contiguous(mb, 1, &one), 0);
		ck_assert_ptr_eq(one, mb->buffer);
		ck_assert_int_eq(sys_mem_blocks_free(mb, n, out), 0);
		assert_empty(mb);
		ck_assert_int_eq(sys_mem_blocks_alloc_contiguous(mb, n, &one), 0);
		ck_assert_ptr_eq(one, mb->buffer);
		ck_assert_uint_eq(bitarray_count_free(&mb->bitmap), 0);
		ck_assert_int_eq(bitarray_check(&mb->bitmap), 0);
		ck_assert_int_eq(sys_mem_blocks_free_contiguous(mb, mb->buffer, n), 0);
		finish(mb);
	}
}
END_TEST

START_TEST(test_mem_blocks_define_deinit_is_noop)
{
	void *out[2];

	sys_mem_blocks_deinit(&mbdef_pool);
	ck_assert_uint_eq(mbdef_pool.info.num_blocks, 100);
	ck_assert_ptr_nonnull(mbdef_pool.bitmap.words);
	ck_assert_int_eq(sys_mem_blocks_alloc(&mbdef_pool, 2, out), 0);
	ck_assert_ptr_eq(out[1], mbdef_pool.buffer + 64);
	ck_assert_int_eq(sys_mem_blocks_free(&mbdef_pool, 2, out), 0);
	finish(&mbdef_pool);
}
END_TEST

Suite *mem_blocks_define_suite(void)
{
	Suite *s = suite_create("mem_blocks_define");
	TCase *tc = tcase_create("define");

	tcase_add_test(tc, test_mem_blocks_define_geometry);
	tcase_add_test(tc, test_mem_blocks_define_non_power_of_two_blocks);
	tcase_add_test(tc, test_mem_blocks_define_static_ext_buf_non_power_of_two);
	tcase_add_test(tc, test_mem_blocks_define_ext_buf);
	tcase_add_test(tc, test_mem_blocks_define_non_static_pool);
	tcase_add_test(tc, test_mem_blocks_define_three_level_static_bitmap);
	tcase_add_test(tc, test_mem_blocks_define_one_block_pool);
	tcase_add_test(tc, test_mem_blocks_define_level_boundary_sizes);
	tcase_add_test(tc, test_mem_blocks_define_deinit_is_noop);
	suite_add_tcase(s, tc);
	return s;
}
