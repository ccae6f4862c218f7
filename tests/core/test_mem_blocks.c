/*
 * mem_blocks: every call's success and error paths, Zephyr's documented
 * behaviours (lowest first, count == 0, all or nothing), stats (64-bit too),
 * and a 2^24-block pool. Pools of 1 and 63..65, 4095..4097 blocks are in
 * test_mem_blocks_define.c, as static definitions.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/mem_blocks.h"
#include "tests/core/check_core.h"

/* ck_assert_msg() logs every check that passes (a write to Check's message
 * file), far too slow in loops of millions: FAST_CHECK only reports failure. */
#define FAST_CHECK(cond, ...)                      \
	do {                                       \
		if (!(cond))                       \
			ck_abort_msg(__VA_ARGS__); \
	} while (0)

/*
 * A pool over a heap buffer with one spare block on each side, so that "one
 * block below the buffer" and "one past the end" are real addresses.
 */
struct pool {
	sys_mem_blocks_t mb;
	uint8_t *mem;
	uint8_t *buf;
	size_t blk, n;
};

static void pool_init(struct pool *p, size_t blk, size_t n)
{
	p->mem = malloc((n + 2) * blk);
	ck_assert_ptr_nonnull(p->mem);
	p->buf = p->mem + blk;
	p->blk = blk;
	p->n = n;
	ck_assert_int_eq(sys_mem_blocks_init(&p->mb, blk, n, p->buf), 0);
}

static void pool_fini(struct pool *p)
{
	ck_assert_int_eq(bitarray_check(&p->mb.bitmap), 0);
	sys_mem_blocks_deinit(&p->mb);
	free(p->mem);
}

/* The pool most tests use: 8 blocks of 16 bytes, made before each test and
 * checked (bitarray_check) and released after it. */
static struct pool fx;

static void fx_setup(void)
{
	pool_init(&fx, 16, 8);
}

static void fx_teardown(void)
{
	pool_fini(&fx);
}

static void *blk(const struct pool *p, size_t i)
{
	return p->buf + i * p->blk;
}

static size_t used_blocks(struct pool *p)
{
	struct sys_memory_stats st;

	ck_assert_int_eq(sys_mem_blocks_runtime_stats_get(&p->mb, &st), 0);
	ck_assert_uint_eq(st.free_bytes + st.allocated_bytes, p->n * p->blk);
	return st.allocated_bytes / p->blk;
}

static size_t max_blocks(struct pool *p)
{
	struct sys_memory_stats st;

	ck_assert_int_eq(sys_mem_blocks_runtime_stats_get(&p->mb, &st), 0);
	return st.max_allocated_bytes / p->blk;
}

static bool is_used(struct pool *p, size_t i)
{
	int rc = sys_mem_blocks_is_region_free(&p->mb, blk(p, i), 1);

	FAST_CHECK(rc == 0 || rc == 1, "is_region_free(block %zu) = %d", i, rc);
	return rc == 0;
}

/* Blocks [first, first + count) are used and no other block is. */
static void assert_exactly_used(struct pool *p, size_t first, size_t count)
{
	for (size_t i = 0; i < p->n; i++)
		FAST_CHECK(is_used(p, i) == (i >= first && i < first + count),
			   "block %zu used %d, want [%zu, %zu) used", i, is_used(p, i), first,
			   first + count);
	ck_assert_uint_eq(used_blocks(p), count);
	ck_assert_int_eq(bitarray_check(&p->mb.bitmap), 0);
}

static void assert_blocks(const struct pool *p, void **got, const size_t *want, size_t count)
{
	for (size_t i = 0; i < count; i++)
		ck_assert_msg(got[i] == blk(p, want[i]), "out[%zu] = block %td, want %zu", i,
			      ((uint8_t *) got[i] - p->buf) / (ptrdiff_t) p->blk, want[i]);
}

START_TEST(test_mem_blocks_init_sets_fields)
{
	ck_assert_uint_eq(fx.mb.info.num_blocks, 8);
	ck_assert_uint_eq(fx.mb.info.blk_sz, 16);
	ck_assert_ptr_eq(fx.mb.buffer, fx.buf);
	ck_assert_ptr_nonnull(fx.mb.owned_words);
	ck_assert_ptr_eq(fx.mb.bitmap.words, fx.mb.owned_words);
	ck_assert_uint_eq(fx.mb.max_allocated, 0);
	ck_assert_uint_eq(bitarray_count_free(&fx.mb.bitmap), 8);
	assert_exactly_used(&fx, 0, 0);
}
END_TEST

START_TEST(test_mem_blocks_init_rejects_bad_args)
{
	static uint8_t buf[64];
	sys_mem_blocks_t mb;

	ck_assert_int_eq(sys_mem_blocks_init(NULL, 16, 4, buf), -EINVAL);
	ck_assert_int_eq(sys_mem_blocks_init(&mb, 16, 4, NULL), -EINVAL);
	ck_assert_int_eq(sys_mem_blocks_init(&mb, 0, 4, buf), -EINVAL);
	ck_assert_int_eq(sys_mem_blocks_init(&mb, 2, 4, buf), -EINVAL);
	ck_assert_int_eq(sys_mem_blocks_init(&mb, 6, 4, buf), -EINVAL);
	ck_assert_int_eq(sys_mem_blocks_init(&mb, 16, 0, buf), -EINVAL);
	ck_assert_int_eq(sys_mem_blocks_init(&mb, 4, BITARRAY_MAX_BITS + 1, buf), -EINVAL);
	/* blk_sz * num_blks overflows */
	ck_assert_int_eq(sys_mem_blocks_init(&mb, SIZE_MAX / 2 + 1, 2, buf), -EINVAL);
	ck_assert_int_eq(sys_mem_blocks_init(&mb, (size_t) 1 << 28, BITARRAY_MAX_BITS, buf),
			 -EINVAL);
	/* The smallest legal block size. */
	ck_assert_int_eq(sys_mem_blocks_init(&mb, 4, 16, buf), 0);
	sys_mem_blocks_deinit(&mb);
}
END_TEST

START_TEST(test_mem_blocks_deinit_releases_bitmap)
{
	struct pool p;
	void *out[1];

	pool_init(&p, 16, 10);
	ck_assert_int_eq(sys_mem_blocks_alloc(&p.mb, 1, out), 0);
	sys_mem_blocks_deinit(&p.mb);
	ck_assert_ptr_null(p.mb.owned_words);
	ck_assert_ptr_null(p.mb.bitmap.words);
	/* What is left is an empty pool that refuses everything. */
	ck_assert_int_eq(sys_mem_blocks_alloc(&p.mb, 1, out), -ENOMEM);
	ck_assert_int_eq(sys_mem_blocks_free(&p.mb, 1, out), -EINVAL);
	ck_assert_int_eq(sys_mem_blocks_is_region_free(&p.mb, p.buf, 1), -EFAULT);
	sys_mem_blocks_deinit(&p.mb);
	sys_mem_blocks_deinit(NULL);
	free(p.mem);
}
END_TEST

START_TEST(test_mem_blocks_alloc_rejects_null)
{
	void *out[1];

	ck_assert_int_eq(sys_mem_blocks_alloc(NULL, 1, out), -EINVAL);
	ck_assert_int_eq(sys_mem_blocks_alloc(NULL, 0, out), -EINVAL);
	ck_assert_int_eq(sys_mem_blocks_alloc(&fx.mb, 1, NULL), -EINVAL);
	ck_assert_int_eq(sys_mem_blocks_alloc(&fx.mb, 0, NULL), -EINVAL);
	assert_exactly_used(&fx, 0, 0);
}
END_TEST

START_TEST(test_mem_blocks_alloc_count_zero)
{
	void *out[1] = {&fx};

	ck_assert_int_eq(sys_mem_blocks_alloc(&fx.mb, 0, out), 0);
	ck_assert_ptr_eq(out[0], &fx);
	assert_exactly_used(&fx, 0, 0);
	ck_assert_uint_eq(max_blocks(&fx), 0);
}
END_TEST

START_TEST(test_mem_blocks_alloc_lowest_first_ascending)
{
	void *out[10], *holes[2];

	ck_assert_int_eq(sys_mem_blocks_alloc(&fx.mb, 3, out), 0);
	assert_blocks(&fx, out, (const size_t[]){0, 1, 2}, 3);
	ck_assert_int_eq(sys_mem_blocks_alloc(&fx.mb, 2, out), 0);
	assert_blocks(&fx, out, (const size_t[]){3, 4}, 2);
	holes[0] = blk(&fx, 3);
	holes[1] = blk(&fx, 1);
	ck_assert_int_eq(sys_mem_blocks_free(&fx.mb, 2, holes), 0);
	ck_assert_int_eq(sys_mem_blocks_alloc(&fx.mb, 3, out), 0);
	assert_blocks(&fx, out, (const size_t[]){1, 3, 5}, 3);
	assert_exactly_used(&fx, 0, 6);
}
END_TEST

START_TEST(test_mem_blocks_alloc_all_or_nothing)
{
	void *out[8];

	ck_assert_int_eq(sys_mem_blocks_alloc(&fx.mb, 5, out), 0);
	ck_assert_int_eq(sys_mem_blocks_alloc(&fx.mb, 4, out), -ENOMEM);
	assert_exactly_used(&fx, 0, 5);
	ck_assert_uint_eq(max_blocks(&fx), 5);
	ck_assert_int_eq(sys_mem_blocks_alloc(&fx.mb, 3, out), 0);
	assert_blocks(&fx, out, (const size_t[]){5, 6, 7}, 3);
	ck_assert_int_eq(sys_mem_blocks_alloc(&fx.mb, 1, out), -ENOMEM);
	assert_exactly_used(&fx, 0, 8);
}
END_TEST

START_TEST(test_mem_blocks_alloc_more_than_pool)
{
	void *out[9];

	ck_assert_int_eq(sys_mem_blocks_alloc(&fx.mb, 9, out), -ENOMEM);
	ck_assert_int_eq(sys_mem_blocks_alloc(&fx.mb, SIZE_MAX, out), -ENOMEM);
	assert_exactly_used(&fx, 0, 0);
	ck_assert_uint_eq(max_blocks(&fx), 0);
}
END_TEST

START_TEST(test_mem_blocks_alloc_contiguous_rejects_null)
{
	void *out;

	ck_assert_int_eq(sys_mem_blocks_alloc_contiguous(NULL, 1, &out), -EINVAL);
	ck_assert_int_eq(sys_mem_blocks_alloc_contiguous(NULL, 0, &out), -EINVAL);
	ck_assert_int_eq(sys_mem_blocks_alloc_contiguous(&fx.mb, 1, NULL), -EINVAL);
	ck_assert_int_eq(sys_mem_blocks_alloc_contiguous(&fx.mb, 0, NULL), -EINVAL);
	assert_exactly_used(&fx, 0, 0);
}
END_TEST

START_TEST(test_mem_blocks_alloc_contiguous_count_zero_sets_null)
{
	void *out = &fx;

	ck_assert_int_eq(sys_mem_blocks_alloc_contiguous(&fx.mb, 0, &out), 0);
	ck_assert_ptr_null(out);
	assert_exactly_used(&fx, 0, 0);
}
END_TEST

START_TEST(test_mem_blocks_alloc_contiguous_lowest_run)
{
	struct pool p;
	void *out;

	pool_init(&p, 16, 16);
	ck_assert_int_eq(sys_mem_blocks_get(&p.mb, blk(&p, 2), 1), 0);
	ck_assert_int_eq(sys_mem_blocks_get(&p.mb, blk(&p, 6), 1), 0);
	ck_assert_int_eq(sys_mem_blocks_alloc_contiguous(&p.mb, 3, &out), 0);
	ck_assert_ptr_eq(out, blk(&p, 3));
	ck_assert_int_eq(sys_mem_blocks_alloc_contiguous(&p.mb, 4, &out), 0);
	ck_assert_ptr_eq(out, blk(&p, 7));
	ck_assert_int_eq(sys_mem_blocks_alloc_contiguous(&p.mb, 2, &out), 0);
	ck_assert_ptr_eq(out, blk(&p, 0));
	/* 11..15 is the only run left; the lowest run of 5 ends the pool. */
	ck_assert_int_eq(sys_mem_blocks_alloc_contiguous(&p.mb, 5, &out), 0);
	ck_assert_ptr_eq(out, blk(&p, 11));
	assert_exactly_used(&p, 0, 16);
	pool_fini(&p);
}
END_TEST

START_TEST(test_mem_blocks_alloc_contiguous_no_fit)
{
	void *out = NULL;

	ck_assert_int_eq(sys_mem_blocks_alloc_contiguous(&fx.mb, 9, &out), -ENOMEM);
	ck_assert_int_eq(sys_mem_blocks_alloc_contiguous(&fx.mb, SIZE_MAX, &out), -ENOMEM);
	ck_assert_int_eq(sys_mem_blocks_get(&fx.mb, blk(&fx, 3), 1), 0);
	/* 7 blocks free, but the longest run is 4. */
	ck_assert_int_eq(sys_mem_blocks_alloc_contiguous(&fx.mb, 5, &out), -ENOMEM);
	assert_exactly_used(&fx, 3, 1);
	ck_assert_int_eq(sys_mem_blocks_alloc_contiguous(&fx.mb, 4, &out), 0);
	ck_assert_ptr_eq(out, blk(&fx, 4));
	ck_assert_int_eq(sys_mem_blocks_free_contiguous(&fx.mb, blk(&fx, 3), 5), 0);
	ck_assert_int_eq(sys_mem_blocks_alloc_contiguous(&fx.mb, 8, &out), 0);
	ck_assert_ptr_eq(out, fx.buf);
	assert_exactly_used(&fx, 0, 8);
}
END_TEST

START_TEST(test_mem_blocks_get_rejects_null_pool)
{
	ck_assert_int_eq(sys_mem_blocks_get(NULL, fx.buf, 1), -EINVAL);
	ck_assert_int_eq(sys_mem_blocks_get(NULL, fx.buf, 0), -EINVAL);
}
END_TEST

START_TEST(test_mem_blocks_get_count_zero)
{
	ck_assert_int_eq(sys_mem_blocks_get(&fx.mb, fx.buf, 0), 0);
	ck_assert_int_eq(sys_mem_blocks_get(&fx.mb, NULL, 0), 0);
	ck_assert_int_eq(sys_mem_blocks_get(&fx.mb, blk(&fx, 8), 0), 0);
	assert_exactly_used(&fx, 0, 0);
	ck_assert_uint_eq(max_blocks(&fx), 0);
}
END_TEST

/* Pointers that are not the start of a block of pool p (blocks >= 8 bytes). */
static void *bad_pointer(const struct pool *p, int which)
{
	switch (which) {
	case 0:
		return p->buf - p->blk; /* one block below */
	case 1:
		return p->buf - 4;
	case 2:
		return blk(p, p->n); /* one past the end */
	case 3:
		return p->buf + 4; /* inside block 0, misaligned */
	case 4:
		return (uint8_t *) blk(p, 2) + p->blk - 4;
	default:
		return NULL;
	}
}

#define N_BAD_POINTERS 6

START_TEST(test_mem_blocks_get_bad_pointer)
{
	for (int i = 0; i < N_BAD_POINTERS; i++)
		ck_assert_msg(sys_mem_blocks_get(&fx.mb, bad_pointer(&fx, i), 1) == -EFAULT,
			      "bad pointer %d: rc %d", i,
			      sys_mem_blocks_get(&fx.mb, bad_pointer(&fx, i), 1));
	assert_exactly_used(&fx, 0, 0);
}
END_TEST

START_TEST(test_mem_blocks_get_past_end)
{
	ck_assert_int_eq(sys_mem_blocks_get(&fx.mb, blk(&fx, 7), 2), -ENOMEM);
	ck_assert_int_eq(sys_mem_blocks_get(&fx.mb, fx.buf, 9), -ENOMEM);
	ck_assert_int_eq(sys_mem_blocks_get(&fx.mb, blk(&fx, 1), SIZE_MAX), -ENOMEM);
	assert_exactly_used(&fx, 0, 0);
	ck_assert_int_eq(sys_mem_blocks_get(&fx.mb, blk(&fx, 7), 1), 0);
	assert_exactly_used(&fx, 7, 1);
}
END_TEST

START_TEST(test_mem_blocks_get_taken_takes_nothing)
{
	ck_assert_int_eq(sys_mem_blocks_get(&fx.mb, blk(&fx, 2), 1), 0);
	ck_assert_int_eq(sys_mem_blocks_get(&fx.mb, fx.buf, 4), -ENOMEM);
	ck_assert_int_eq(sys_mem_blocks_get(&fx.mb, blk(&fx, 2), 1), -ENOMEM);
	assert_exactly_used(&fx, 2, 1);
}
END_TEST

START_TEST(test_mem_blocks_get_then_alloc_skips)
{
	void *out[2];

	ck_assert_int_eq(sys_mem_blocks_get(&fx.mb, fx.buf, 3), 0);
	ck_assert_uint_eq(max_blocks(&fx), 3);
	ck_assert_int_eq(sys_mem_blocks_alloc(&fx.mb, 2, out), 0);
	assert_blocks(&fx, out, (const size_t[]){3, 4}, 2);
	assert_exactly_used(&fx, 0, 5);
	ck_assert_uint_eq(max_blocks(&fx), 5);
}
END_TEST

START_TEST(test_mem_blocks_is_region_free_values)
{
	ck_assert_int_eq(sys_mem_blocks_is_region_free(&fx.mb, fx.buf, 8), 1);
	ck_assert_int_eq(sys_mem_blocks_get(&fx.mb, blk(&fx, 2), 1), 0);
	ck_assert_int_eq(sys_mem_blocks_is_region_free(&fx.mb, fx.buf, 8), 0);
	ck_assert_int_eq(sys_mem_blocks_is_region_free(&fx.mb, fx.buf, 2), 1);
	ck_assert_int_eq(sys_mem_blocks_is_region_free(&fx.mb, blk(&fx, 2), 1), 0);
	ck_assert_int_eq(sys_mem_blocks_is_region_free(&fx.mb, blk(&fx, 3), 5), 1);
	ck_assert_int_eq(sys_mem_blocks_is_region_free(&fx.mb, blk(&fx, 3), 6), 0); /* past end */
	ck_assert_int_eq(sys_mem_blocks_is_region_free(&fx.mb, blk(&fx, 7), 0), 1);
	ck_assert_int_eq(sys_mem_blocks_is_region_free(NULL, fx.buf, 1), -EINVAL);
	for (int i = 0; i < N_BAD_POINTERS; i++) {
		ck_assert_int_eq(sys_mem_blocks_is_region_free(&fx.mb, bad_pointer(&fx, i), 1),
				 -EFAULT);
		ck_assert_int_eq(sys_mem_blocks_is_region_free(&fx.mb, bad_pointer(&fx, i), 0),
				 -EFAULT);
	}
}
END_TEST

START_TEST(test_mem_blocks_free_rejects_null_and_oversize)
{
	void *out[9];

	ck_assert_int_eq(sys_mem_blocks_alloc(&fx.mb, 8, out), 0);
	out[8] = out[0];
	ck_assert_int_eq(sys_mem_blocks_free(NULL, 1, out), -EINVAL);
	ck_assert_int_eq(sys_mem_blocks_free(NULL, 0, out), -EINVAL);
	ck_assert_int_eq(sys_mem_blocks_free(&fx.mb, 1, NULL), -EINVAL);
	ck_assert_int_eq(sys_mem_blocks_free(&fx.mb, 0, NULL), -EINVAL);
	ck_assert_int_eq(sys_mem_blocks_free(&fx.mb, 9, out), -EINVAL);
	assert_exactly_used(&fx, 0, 8);
	ck_assert_int_eq(sys_mem_blocks_free(&fx.mb, 8, out), 0);
	assert_exactly_used(&fx, 0, 0);
}
END_TEST

START_TEST(test_mem_blocks_free_count_zero)
{
	void *junk[1] = {NULL};

	ck_assert_int_eq(sys_mem_blocks_get(&fx.mb, fx.buf, 1), 0);
	ck_assert_int_eq(sys_mem_blocks_free(&fx.mb, 0, junk), 0);
	assert_exactly_used(&fx, 0, 1);
}
END_TEST

START_TEST(test_mem_blocks_free_bad_pointer_frees_nothing)
{
	void *arr[3];

	ck_assert_int_eq(sys_mem_blocks_get(&fx.mb, fx.buf, 3), 0);
	for (int i = 0; i < N_BAD_POINTERS + 1; i++) {
		arr[0] = blk(&fx, 1);
		/* the last case: block 3, inside the pool but never allocated */
		arr[1] = i < N_BAD_POINTERS ? bad_pointer(&fx, i) : blk(&fx, 3);
		arr[2] = blk(&fx, 0);
		ck_assert_msg(sys_mem_blocks_free(&fx.mb, 3, arr) == -EFAULT, "bad pointer %d", i);
		assert_exactly_used(&fx, 0, 3);
	}
	ck_assert_uint_eq(max_blocks(&fx), 3);
}
END_TEST

START_TEST(test_mem_blocks_free_double_free)
{
	void *out[2];

	ck_assert_int_eq(sys_mem_blocks_alloc(&fx.mb, 2, out), 0);
	ck_assert_int_eq(sys_mem_blocks_free(&fx.mb, 1, &out[0]), 0);
	ck_assert_int_eq(sys_mem_blocks_free(&fx.mb, 1, &out[0]), -EFAULT);
	/* Freeing a valid one along with the freed one frees neither. */
	ck_assert_int_eq(sys_mem_blocks_free(&fx.mb, 2, out), -EFAULT);
	assert_exactly_used(&fx, 1, 1);
}
END_TEST

START_TEST(test_mem_blocks_free_repeated_pointer)
{
	void *out[3];

	ck_assert_int_eq(sys_mem_blocks_alloc(&fx.mb, 2, out), 0);
	out[2] = out[0];
	ck_assert_int_eq(sys_mem_blocks_free(&fx.mb, 3, out), -EFAULT);
	assert_exactly_used(&fx, 0, 2);
	ck_assert_int_eq(sys_mem_blocks_free(&fx.mb, 2, out), 0);
	assert_exactly_used(&fx, 0, 0);
}
END_TEST

/* A bad pointer at the very end: the 64 frees before it are rolled back. */
START_TEST(test_mem_blocks_free_all_or_nothing)
{
	struct pool p;
	void *out[65];

	pool_init(&p, 32, 100);
	ck_assert_int_eq(sys_mem_blocks_alloc(&p.mb, 64, out), 0);
	out[64] = blk(&p, 64);
	ck_assert_int_eq(sys_mem_blocks_free(&p.mb, 65, out), -EFAULT);
	assert_exactly_used(&p, 0, 64);
	ck_assert_uint_eq(max_blocks(&p), 64);
	ck_assert_int_eq(sys_mem_blocks_alloc(&p.mb, 1, &out[64]), 0);
	ck_assert_ptr_eq(out[64], blk(&p, 64));
	ck_assert_int_eq(sys_mem_blocks_free(&p.mb, 65, out), 0);
	assert_exactly_used(&p, 0, 0);
	ck_assert_uint_eq(max_blocks(&p), 65);
	pool_fini(&p);
}
END_TEST

START_TEST(test_mem_blocks_free_any_order)
{
	void *out[8], *perm[8];

	ck_assert_int_eq(sys_mem_blocks_alloc(&fx.mb, 8, out), 0);
	for (int i = 0; i < 8; i++)
		perm[i] = out[(i * 3) % 8]; /* blocks 0 3 6 1 4 7 2 5 */
	ck_assert_int_eq(sys_mem_blocks_free(&fx.mb, 5, perm), 0);
	for (size_t i = 0; i < 8; i++)
		ck_assert_msg(is_used(&fx, i) == (i == 2 || i == 5 || i == 7), "block %zu", i);
	ck_assert_uint_eq(used_blocks(&fx), 3);
	ck_assert_int_eq(sys_mem_blocks_free(&fx.mb, 3, &perm[5]), 0);
	assert_exactly_used(&fx, 0, 0);
}
END_TEST

START_TEST(test_mem_blocks_free_contiguous_errors)
{
	ck_assert_int_eq(sys_mem_blocks_get(&fx.mb, blk(&fx, 5), 3), 0);
	ck_assert_int_eq(sys_mem_blocks_free_contiguous(NULL, fx.buf, 1), -EINVAL);
	ck_assert_int_eq(sys_mem_blocks_free_contiguous(&fx.mb, fx.buf, 0), 0);
	ck_assert_int_eq(sys_mem_blocks_free_contiguous(&fx.mb, NULL, 0), 0);
	ck_assert_int_eq(sys_mem_blocks_free_contiguous(&fx.mb, blk(&fx, 5), 9), -EINVAL);
	for (int i = 0; i < N_BAD_POINTERS; i++)
		ck_assert_int_eq(sys_mem_blocks_free_contiguous(&fx.mb, bad_pointer(&fx, i), 1),
				 -EFAULT);
	/* past the end, and a range with a free block (4) in it */
	ck_assert_int_eq(sys_mem_blocks_free_contiguous(&fx.mb, blk(&fx, 6), 3), -EFAULT);
	ck_assert_int_eq(sys_mem_blocks_free_contiguous(&fx.mb, blk(&fx, 4), 3), -EFAULT);
	assert_exactly_used(&fx, 5, 3);
	ck_assert_int_eq(sys_mem_blocks_free_contiguous(&fx.mb, blk(&fx, 6), 2), 0);
	assert_exactly_used(&fx, 5, 1);
	ck_assert_int_eq(sys_mem_blocks_free_contiguous(&fx.mb, blk(&fx, 5), 2), -EFAULT);
	ck_assert_int_eq(sys_mem_blocks_free_contiguous(&fx.mb, blk(&fx, 5), 1), 0);
	assert_exactly_used(&fx, 0, 0);
}
END_TEST

START_TEST(test_mem_blocks_stats_rejects_null)
{
	struct sys_memory_stats st;

	ck_assert_int_eq(sys_mem_blocks_runtime_stats_get(NULL, &st), -EINVAL);
	ck_assert_int_eq(sys_mem_blocks_runtime_stats_get(&fx.mb, NULL), -EINVAL);
	ck_assert_int_eq(sys_mem_blocks_runtime_stats_reset_max(NULL), -EINVAL);
}
END_TEST

START_TEST(test_mem_blocks_stats_track_peak)
{
	struct pool p;
	struct sys_memory_stats st;
	void *out[5], *one;

	pool_init(&p, 24, 10);
	ck_assert_int_eq(sys_mem_blocks_alloc(&p.mb, 5, out), 0);
	ck_assert_int_eq(sys_mem_blocks_free(&p.mb, 3, out), 0);
	ck_assert_int_eq(sys_mem_blocks_runtime_stats_get(&p.mb, &st), 0);
	ck_assert_uint_eq(st.allocated_bytes, 2 * 24);
	ck_assert_uint_eq(st.free_bytes, 8 * 24);
	ck_assert_uint_eq(st.max_allocated_bytes, 5 * 24);
	ck_assert_int_eq(sys_mem_blocks_runtime_stats_reset_max(&p.mb), 0);
	ck_assert_uint_eq(max_blocks(&p), 2);
	ck_assert_int_eq(sys_mem_blocks_alloc_contiguous(&p.mb, 4, &one), 0);
	ck_assert_uint_eq(max_blocks(&p), 6);
	ck_assert_int_eq(sys_mem_blocks_free_contiguous(&p.mb, one, 4), 0);
	ck_assert_int_eq(sys_mem_blocks_get(&p.mb, blk(&p, 9), 1), 0);
	ck_assert_uint_eq(max_blocks(&p), 6);
	ck_assert_int_eq(sys_mem_blocks_runtime_stats_reset_max(&p.mb), 0);
	ck_assert_uint_eq(max_blocks(&p), 3);
	ck_assert_uint_eq(used_blocks(&p), 3);
	pool_fini(&p);
}
END_TEST

/* Reserve address space for a pool that is never touched. */
static uint8_t *reserve(size_t bytes)
{
	void *m = mmap(NULL, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	ck_assert_msg(m != MAP_FAILED, "mmap of %zu bytes failed", bytes);
	return m;
}

START_TEST(test_mem_blocks_stats_64bit_clean)
{
	const size_t gib = (size_t) 1 << 30;
	uint8_t *buf = reserve(5 * gib);
	struct sys_memory_stats st;
	sys_mem_blocks_t mb;
	void *out[4];

	ck_assert_int_eq(sys_mem_blocks_init(&mb, gib, 5, buf), 0);
	ck_assert_int_eq(sys_mem_blocks_runtime_stats_get(&mb, &st), 0);
	ck_assert_uint_eq(st.free_bytes, 5 * gib);
	ck_assert_int_eq(sys_mem_blocks_alloc(&mb, 4, out), 0);
	ck_assert_ptr_eq(out[3], buf + 3 * gib);
	ck_assert_int_eq(sys_mem_blocks_runtime_stats_get(&mb, &st), 0);
	ck_assert_uint_eq(st.allocated_bytes, 4 * gib);
	ck_assert_uint_eq(st.free_bytes, gib);
	ck_assert_int_eq(sys_mem_blocks_get(&mb, buf + 4 * gib, 1), 0);
	ck_assert_int_eq(sys_mem_blocks_runtime_stats_get(&mb, &st), 0);
	ck_assert_uint_eq(st.max_allocated_bytes, 5 * gib);
	ck_assert_uint_eq(st.free_bytes, 0);
	sys_mem_blocks_deinit(&mb);
	munmap(buf, 5 * gib);
}
END_TEST

/* The one-block alloc and free are specialised per level count (1 to 5
 * here; 6 would need a 128 MiB bitmap). For each: with every block but the
 * last taken, one alloc must descend to the last; freeing a block inside
 * full words must clear every summary level on the way up, so that the next
 * alloc finds it again, and a free of the last block likewise. */
START_TEST(test_mem_blocks_one_block_every_level_count)
{
	static const size_t sizes[] = {64, 4096, 4097, 262145, 262144 * 64 + 1};
	static const unsigned levels[] = {1, 2, 3, 4, 5};

	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		const size_t n = sizes[k], mid = n / 2 + 1;
		uint8_t *buf = reserve(n * 4);
		sys_mem_blocks_t mb;
		void *one, *p;

		ck_assert_int_eq(sys_mem_blocks_init(&mb, 4, n, buf), 0);
		ck_assert_uint_eq(mb.bitmap.levels, levels[k]);
		ck_assert_int_eq(sys_mem_blocks_get(&mb, buf, n - 1), 0);
		ck_assert_int_eq(sys_mem_blocks_alloc(&mb, 1, &one), 0);
		ck_assert_ptr_eq(one, buf + (n - 1) * 4);
		ck_assert_int_eq(sys_mem_blocks_alloc(&mb, 1, &p), -ENOMEM);
		ck_assert_int_eq(bitarray_check(&mb.bitmap), 0);
		p = buf + mid * 4;
		ck_assert_int_eq(sys_mem_blocks_free(&mb, 1, &p), 0);
		ck_assert_int_eq(sys_mem_blocks_free(&mb, 1, &p), -EFAULT);
		ck_assert_int_eq(bitarray_check(&mb.bitmap), 0);
		ck_assert_int_eq(sys_mem_blocks_alloc(&mb, 1, &p), 0);
		ck_assert_ptr_eq(p, buf + mid * 4);
		ck_assert_int_eq(sys_mem_blocks_free(&mb, 1, &one), 0);
		ck_assert_int_eq(bitarray_check(&mb.bitmap), 0);
		ck_assert_int_eq(sys_mem_blocks_alloc(&mb, 1, &p), 0);
		ck_assert_ptr_eq(p, one);
		ck_assert_int_eq(bitarray_check(&mb.bitmap), 0);
		sys_mem_blocks_deinit(&mb);
		munmap(buf, n * 4);
	}
}
END_TEST

/* 2^24 blocks of 4 bytes over reserved, never-touched address space: fill
 * it one block at a time (in batches), and empty it again: one batch through
 * sys_mem_blocks_free, the rest in large contiguous ranges (which keeps the
 * test fast under valgrind). */
START_TEST(test_mem_blocks_huge_pool)
{
	const size_t n = (size_t) 1 << 24, batch = (size_t) 1 << 16;
	uint8_t *buf = reserve(n * 4);
	void **out = malloc(batch * sizeof(*out));
	struct sys_memory_stats st;
	sys_mem_blocks_t mb;
	void *one;

	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(sys_mem_blocks_init(&mb, 4, n, buf), 0);
	ck_assert_uint_eq(mb.bitmap.levels, 4);
	for (size_t b = 0; b < n; b += batch) {
		ck_assert_int_eq(sys_mem_blocks_alloc(&mb, batch, out), 0);
		ck_assert_ptr_eq(out[0], buf + b * 4);
		ck_assert_ptr_eq(out[batch - 1], buf + (b + batch - 1) * 4);
	}
	ck_assert_uint_eq(bitarray_count_free(&mb.bitmap), 0);
	ck_assert_int_eq(sys_mem_blocks_alloc(&mb, 1, &one), -ENOMEM);
	ck_assert_int_eq(bitarray_check(&mb.bitmap), 0);
	/* every 256th block of the pool, highest first */
	for (size_t i = 0; i < batch; i++)
		out[i] = buf + (n - 1 - i * 256) * 4;
	ck_assert_int_eq(sys_mem_blocks_free(&mb, batch, out), 0);
	ck_assert_uint_eq(bitarray_count_free(&mb.bitmap), batch);
	ck_assert_int_eq(sys_mem_blocks_is_region_free(&mb, out[batch - 1], 1), 1);
	ck_assert_int_eq(sys_mem_blocks_is_region_free(&mb, buf, 255), 0);
	ck_assert_int_eq(bitarray_check(&mb.bitmap), 0);
	ck_assert_int_eq(sys_mem_blocks_free_contiguous(&mb, buf, 255), 0);
	ck_assert_int_eq(sys_mem_blocks_free_contiguous(&mb, buf, 257), -EFAULT);
	for (size_t b = 256; b < n; b += 256)
		FAST_CHECK(sys_mem_blocks_free_contiguous(&mb, buf + b * 4, 255) == 0,
			   "free_contiguous of blocks [%zu, +255)", b);
	ck_assert_int_eq(sys_mem_blocks_runtime_stats_get(&mb, &st), 0);
	ck_assert_uint_eq(st.free_bytes, n * 4);
	ck_assert_uint_eq(st.max_allocated_bytes, n * 4);
	ck_assert_int_eq(sys_mem_blocks_alloc_contiguous(&mb, n, &one), 0);
	ck_assert_ptr_eq(one, buf);
	ck_assert_int_eq(sys_mem_blocks_free_contiguous(&mb, buf + 4, n - 1), 0);
	ck_assert_uint_eq(bitarray_count_free(&mb.bitmap), n - 1);
	ck_assert_int_eq(sys_mem_blocks_alloc(&mb, 1, &one), 0);
	ck_assert_ptr_eq(one, buf + 4);
	ck_assert_int_eq(bitarray_check(&mb.bitmap), 0);
	sys_mem_blocks_deinit(&mb);
	munmap(buf, n * 4);
	free(out);
}
END_TEST

Suite *mem_blocks_suite(void)
{
	Suite *s = suite_create("mem_blocks");
	TCase *tc = tcase_create("api");
	TCase *own = tcase_create("own_pool");
	TCase *edge = tcase_create("edge");

	tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
	tcase_add_test(tc, test_mem_blocks_init_sets_fields);
	tcase_add_test(tc, test_mem_blocks_alloc_rejects_null);
	tcase_add_test(tc, test_mem_blocks_alloc_count_zero);
	tcase_add_test(tc, test_mem_blocks_alloc_lowest_first_ascending);
	tcase_add_test(tc, test_mem_blocks_alloc_all_or_nothing);
	tcase_add_test(tc, test_mem_blocks_alloc_more_than_pool);
	tcase_add_test(tc, test_mem_blocks_alloc_contiguous_rejects_null);
	tcase_add_test(tc, test_mem_blocks_alloc_contiguous_count_zero_sets_null);
	tcase_add_test(tc, test_mem_blocks_alloc_contiguous_no_fit);
	tcase_add_test(tc, test_mem_blocks_get_rejects_null_pool);
	tcase_add_test(tc, test_mem_blocks_get_count_zero);
	tcase_add_test(tc, test_mem_blocks_get_bad_pointer);
	tcase_add_test(tc, test_mem_blocks_get_past_end);
	tcase_add_test(tc, test_mem_blocks_get_taken_takes_nothing);
	tcase_add_test(tc, test_mem_blocks_get_then_alloc_skips);
	tcase_add_test(tc, test_mem_blocks_is_region_free_values);
	tcase_add_test(tc, test_mem_blocks_free_rejects_null_and_oversize);
	tcase_add_test(tc, test_mem_blocks_free_count_zero);
	tcase_add_test(tc, test_mem_blocks_free_bad_pointer_frees_nothing);
	tcase_add_test(tc, test_mem_blocks_free_double_free);
	tcase_add_test(tc, test_mem_blocks_free_repeated_pointer);
	tcase_add_test(tc, test_mem_blocks_free_any_order);
	tcase_add_test(tc, test_mem_blocks_free_contiguous_errors);
	tcase_add_test(tc, test_mem_blocks_stats_rejects_null);
	suite_add_tcase(s, tc);

	tcase_add_test(own, test_mem_blocks_init_rejects_bad_args);
	tcase_add_test(own, test_mem_blocks_deinit_releases_bitmap);
	tcase_add_test(own, test_mem_blocks_alloc_contiguous_lowest_run);
	tcase_add_test(own, test_mem_blocks_free_all_or_nothing);
	tcase_add_test(own, test_mem_blocks_stats_track_peak);
	suite_add_tcase(s, own);

	tcase_add_test(edge, test_mem_blocks_stats_64bit_clean);
	tcase_add_test(edge, test_mem_blocks_huge_pool);
	tcase_add_test(edge, test_mem_blocks_one_block_every_level_count);
	tcase_set_timeout(edge, 60);
	suite_add_tcase(s, edge);
	return s;
}
