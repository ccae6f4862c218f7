/*
 * sys_multi_mem_blocks: the group's list, a Zephyr-style choice function
 * (cfg = index + 1), count == 0 before the choice, and group free that finds
 * every pointer's pool and frees all or nothing across pools.
 */
#include <errno.h>
#include <stdlib.h>

#include "core/mem_blocks.h"
#include "tests/core/check_core.h"

#define NPOOLS 3

static const size_t pool_blk[NPOOLS] = {16, 64, 1536};
static const size_t pool_n[NPOOLS] = {8, 4, 3};

struct fixture {
	sys_multi_mem_blocks_t group;
	sys_mem_blocks_t pools[NPOOLS];
	uint8_t *mem[NPOOLS];
};

static unsigned choice_calls;

/* What Zephyr's samples do: cfg carries index + 1, so NULL picks nothing. */
static sys_mem_blocks_t *choose_by_index(struct sys_multi_mem_blocks *group, void *cfg)
{
	uintptr_t index = (uintptr_t) cfg;

	choice_calls++;
	if (index == 0 || index > group->num_allocators)
		return NULL;
	return group->allocators[index - 1];
}

static void *cfg_of(size_t index)
{
	return (void *) (uintptr_t) (index + 1);
}

/* Pools over heap buffers with a spare block after each, so that one past
 * a pool's end is a real address that no pool owns. */
static void fixture_init(struct fixture *f)
{
	sys_multi_mem_blocks_init(&f->group, choose_by_index);
	for (size_t i = 0; i < NPOOLS; i++) {
		f->mem[i] = malloc((pool_n[i] + 1) * pool_blk[i]);
		ck_assert_ptr_nonnull(f->mem[i]);
		ck_assert_int_eq(
		    sys_mem_blocks_init(&f->pools[i], pool_blk[i], pool_n[i], f->mem[i]), 0);
		ck_assert_int_eq(sys_multi_mem_blocks_add_allocator(&f->group, &f->pools[i]), 0);
	}
	choice_calls = 0;
}

static void fixture_fini(struct fixture *f)
{
	sys_multi_mem_blocks_deinit(&f->group);
	for (size_t i = 0; i < NPOOLS; i++) {
		ck_assert_int_eq(bitarray_check(&f->pools[i].bitmap), 0);
		sys_mem_blocks_deinit(&f->pools[i]);
		free(f->mem[i]);
	}
}

static void *block_of(const struct fixture *f, size_t pool, size_t i)
{
	return f->mem[pool] + i * pool_blk[pool];
}

static size_t used_in(const struct fixture *f, size_t pool)
{
	return pool_n[pool] - bitarray_count_free(&f->pools[pool].bitmap);
}

/* Exactly want[i] blocks used in pool i, for every pool. */
static void assert_used(const struct fixture *f, size_t u0, size_t u1, size_t u2)
{
	const size_t want[NPOOLS] = {u0, u1, u2};

	for (size_t i = 0; i < NPOOLS; i++)
		ck_assert_msg(used_in(f, i) == want[i], "pool %zu: %zu used, want %zu", i,
			      used_in(f, i), want[i]);
}

START_TEST(test_multi_mem_blocks_init_and_grow)
{
	sys_multi_mem_blocks_t group;
	sys_mem_blocks_t pools[9];

	sys_multi_mem_blocks_init(&group, choose_by_index);
	ck_assert_uint_eq(group.num_allocators, 0);
	ck_assert_ptr_null(group.allocators);
	ck_assert_ptr_eq(group.choice_fn, choose_by_index);
	for (size_t i = 0; i < 9; i++) {
		ck_assert_int_eq(sys_multi_mem_blocks_add_allocator(&group, &pools[i]), 0);
		ck_assert_uint_eq(group.num_allocators, i + 1);
		ck_assert_uint_ge(group.capacity, i + 1);
	}
	ck_assert_uint_eq(group.capacity, 16);
	for (size_t i = 0; i < 9; i++)
		ck_assert_ptr_eq(group.allocators[i], &pools[i]);
	sys_multi_mem_blocks_deinit(&group);
	ck_assert_ptr_null(group.allocators);
	ck_assert_uint_eq(group.num_allocators, 0);
	sys_multi_mem_blocks_deinit(NULL);
	sys_multi_mem_blocks_init(NULL, choose_by_index);
}
END_TEST

START_TEST(test_multi_mem_blocks_add_rejects)
{
	sys_multi_mem_blocks_t group;
	sys_mem_blocks_t pool, *fake[1];

	sys_multi_mem_blocks_init(&group, choose_by_index);
	ck_assert_int_eq(sys_multi_mem_blocks_add_allocator(NULL, &pool), -EINVAL);
	ck_assert_int_eq(sys_multi_mem_blocks_add_allocator(&group, NULL), -EINVAL);
	ck_assert_uint_eq(group.num_allocators, 0);
	/* A list that cannot double any more: refused, nothing changed. */
	group.allocators = fake;
	group.capacity = group.num_allocators = SIZE_MAX / sizeof(fake[0]) / 2 + 1;
	ck_assert_int_eq(sys_multi_mem_blocks_add_allocator(&group, &pool), -ENOMEM);
	ck_assert_ptr_eq(group.allocators, fake);
	ck_assert_uint_eq(group.capacity, SIZE_MAX / sizeof(fake[0]) / 2 + 1);
	group.capacity = group.num_allocators = SIZE_MAX / 2 + 1;
	ck_assert_int_eq(sys_multi_mem_blocks_add_allocator(&group, &pool), -ENOMEM);
	ck_assert_ptr_eq(group.allocators, fake);
}
END_TEST

START_TEST(test_multi_mem_blocks_alloc_rejects_null)
{
	struct fixture f;
	void *out[1];
	size_t bs;

	fixture_init(&f);
	ck_assert_int_eq(sys_multi_mem_blocks_alloc(NULL, cfg_of(0), 1, out, &bs), -EINVAL);
	ck_assert_int_eq(sys_multi_mem_blocks_alloc(&f.group, cfg_of(0), 1, NULL, &bs), -EINVAL);
	ck_assert_int_eq(sys_multi_mem_blocks_alloc(&f.group, cfg_of(0), 0, NULL, &bs), -EINVAL);
	ck_assert_uint_eq(choice_calls, 0);
	assert_used(&f, 0, 0, 0);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_multi_mem_blocks_alloc_count_zero)
{
	struct fixture f;
	void *out[1] = {&f};
	size_t bs = 77;

	fixture_init(&f);
	ck_assert_int_eq(sys_multi_mem_blocks_alloc(&f.group, cfg_of(1), 0, out, &bs), 0);
	ck_assert_uint_eq(bs, 0);
	ck_assert_int_eq(sys_multi_mem_blocks_alloc(&f.group, NULL, 0, out, NULL), 0);
	ck_assert_uint_eq(choice_calls, 0);
	ck_assert_ptr_eq(out[0], &f);
	assert_used(&f, 0, 0, 0);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_multi_mem_blocks_alloc_choice_null)
{
	struct fixture f;
	void *out[1];
	size_t bs = 77;

	fixture_init(&f);
	ck_assert_int_eq(sys_multi_mem_blocks_alloc(&f.group, NULL, 1, out, &bs), -EINVAL);
	ck_assert_int_eq(sys_multi_mem_blocks_alloc(&f.group, cfg_of(NPOOLS), 1, out, &bs),
			 -EINVAL);
	ck_assert_uint_eq(choice_calls, 2);
	ck_assert_uint_eq(bs, 77);
	assert_used(&f, 0, 0, 0);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_multi_mem_blocks_alloc_without_choice_fn)
{
	struct fixture f;
	void *out[1];

	fixture_init(&f);
	f.group.choice_fn = NULL;
	ck_assert_int_eq(sys_multi_mem_blocks_alloc(&f.group, cfg_of(0), 1, out, NULL), -EINVAL);
	assert_used(&f, 0, 0, 0);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_multi_mem_blocks_alloc_from_chosen_pool)
{
	struct fixture f;
	void *out[4];
	size_t bs = 0;

	fixture_init(&f);
	ck_assert_int_eq(sys_multi_mem_blocks_alloc(&f.group, cfg_of(2), 2, out, &bs), 0);
	ck_assert_uint_eq(bs, 1536);
	ck_assert_ptr_eq(out[0], block_of(&f, 2, 0));
	ck_assert_ptr_eq(out[1], block_of(&f, 2, 1));
	ck_assert_int_eq(sys_multi_mem_blocks_alloc(&f.group, cfg_of(1), 4, out, &bs), 0);
	ck_assert_uint_eq(bs, 64);
	ck_assert_ptr_eq(out[3], block_of(&f, 1, 3));
	ck_assert_int_eq(sys_multi_mem_blocks_alloc(&f.group, cfg_of(0), 1, out, NULL), 0);
	ck_assert_ptr_eq(out[0], block_of(&f, 0, 0));
	ck_assert_uint_eq(choice_calls, 3);
	assert_used(&f, 1, 4, 2);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_multi_mem_blocks_alloc_enomem)
{
	struct fixture f;
	void *out[4];
	size_t bs = 77;

	fixture_init(&f);
	ck_assert_int_eq(sys_multi_mem_blocks_alloc(&f.group, cfg_of(2), 4, out, &bs), -ENOMEM);
	assert_used(&f, 0, 0, 0);
	ck_assert_int_eq(sys_multi_mem_blocks_alloc(&f.group, cfg_of(2), 3, out, &bs), 0);
	ck_assert_int_eq(sys_multi_mem_blocks_alloc(&f.group, cfg_of(2), 1, out, &bs), -ENOMEM);
	assert_used(&f, 0, 0, 3);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_multi_mem_blocks_free_rejects_null)
{
	struct fixture f;
	void *out[1];

	fixture_init(&f);
	ck_assert_int_eq(sys_multi_mem_blocks_alloc(&f.group, cfg_of(0), 1, out, NULL), 0);
	ck_assert_int_eq(sys_multi_mem_blocks_free(NULL, 1, out), -EINVAL);
	ck_assert_int_eq(sys_multi_mem_blocks_free(&f.group, 1, NULL), -EINVAL);
	ck_assert_int_eq(sys_multi_mem_blocks_free(&f.group, 0, NULL), -EINVAL);
	ck_assert_int_eq(sys_multi_mem_blocks_free(&f.group, 0, out), 0);
	assert_used(&f, 1, 0, 0);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_multi_mem_blocks_free_across_pools)
{
	struct fixture f;
	void *a[3], *b[2], *mix[5];

	fixture_init(&f);
	ck_assert_int_eq(sys_multi_mem_blocks_alloc(&f.group, cfg_of(0), 3, a, NULL), 0);
	ck_assert_int_eq(sys_multi_mem_blocks_alloc(&f.group, cfg_of(2), 2, b, NULL), 0);
	mix[0] = b[1];
	mix[1] = a[2];
	mix[2] = b[0];
	mix[3] = a[0];
	mix[4] = a[1];
	ck_assert_int_eq(sys_multi_mem_blocks_free(&f.group, 5, mix), 0);
	assert_used(&f, 0, 0, 0);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_multi_mem_blocks_free_unowned_einval)
{
	struct fixture f;
	void *a[2], *b[1], *mix[4];
	int local;

	fixture_init(&f);
	ck_assert_int_eq(sys_multi_mem_blocks_alloc(&f.group, cfg_of(0), 2, a, NULL), 0);
	ck_assert_int_eq(sys_multi_mem_blocks_alloc(&f.group, cfg_of(1), 1, b, NULL), 0);
	mix[0] = a[0];
	mix[1] = b[0];
	mix[2] = a[1];
	/* one past the end of each pool, then memory of no pool at all */
	for (size_t i = 0; i < NPOOLS + 2; i++) {
		mix[3] = i < NPOOLS    ? block_of(&f, i, pool_n[i])
			 : i == NPOOLS ? (void *) &local
				       : NULL;
		ck_assert_msg(sys_multi_mem_blocks_free(&f.group, 4, mix) == -EINVAL, "case %zu",
			      i);
		assert_used(&f, 2, 1, 0);
	}
	/* No owner outranks a repeated pointer that comes before it. */
	mix[2] = mix[0];
	ck_assert_int_eq(sys_multi_mem_blocks_free(&f.group, 4, mix), -EINVAL);
	assert_used(&f, 2, 1, 0);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_multi_mem_blocks_free_efault_rolls_back_all_pools)
{
	struct fixture f;
	void *a[2], *b[2], *mix[5];

	fixture_init(&f);
	ck_assert_int_eq(sys_multi_mem_blocks_alloc(&f.group, cfg_of(0), 2, a, NULL), 0);
	ck_assert_int_eq(sys_multi_mem_blocks_alloc(&f.group, cfg_of(2), 2, b, NULL), 0);
	mix[0] = a[0];
	mix[1] = b[0];
	mix[2] = a[1];
	mix[3] = b[1];
	mix[4] = b[0]; /* repeated */
	ck_assert_int_eq(sys_multi_mem_blocks_free(&f.group, 5, mix), -EFAULT);
	assert_used(&f, 2, 0, 2);
	mix[4] = block_of(&f, 0, 5); /* owned, but never allocated */
	ck_assert_int_eq(sys_multi_mem_blocks_free(&f.group, 5, mix), -EFAULT);
	assert_used(&f, 2, 0, 2);
	mix[4] = (uint8_t *) b[1] + 512; /* inside block 1 of pool 2 */
	ck_assert_int_eq(sys_multi_mem_blocks_free(&f.group, 5, mix), -EFAULT);
	assert_used(&f, 2, 0, 2);
	ck_assert_int_eq(sys_multi_mem_blocks_free(&f.group, 4, mix), 0);
	/* and now all of them are a double free */
	ck_assert_int_eq(sys_multi_mem_blocks_free(&f.group, 1, &mix[3]), -EFAULT);
	assert_used(&f, 0, 0, 0);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_multi_mem_blocks_no_fixed_limit)
{
	enum { MANY = 20 };
	sys_multi_mem_blocks_t group;
	sys_mem_blocks_t *pools = calloc(MANY, sizeof(*pools));
	static uint8_t buf[MANY][4 * 32];
	void *out[4];
	size_t bs;

	ck_assert_ptr_nonnull(pools);
	sys_multi_mem_blocks_init(&group, choose_by_index);
	for (size_t i = 0; i < MANY; i++) {
		ck_assert_int_eq(sys_mem_blocks_init(&pools[i], 32, 4, buf[i]), 0);
		ck_assert_int_eq(sys_multi_mem_blocks_add_allocator(&group, &pools[i]), 0);
	}
	ck_assert_int_eq(sys_multi_mem_blocks_alloc(&group, cfg_of(MANY - 1), 4, out, &bs), 0);
	ck_assert_ptr_eq(out[0], buf[MANY - 1]);
	ck_assert_uint_eq(bitarray_count_free(&pools[MANY - 1].bitmap), 0);
	ck_assert_int_eq(sys_multi_mem_blocks_free(&group, 4, out), 0);
	ck_assert_uint_eq(bitarray_count_free(&pools[MANY - 1].bitmap), 4);
	sys_multi_mem_blocks_deinit(&group);
	for (size_t i = 0; i < MANY; i++)
		sys_mem_blocks_deinit(&pools[i]);
	free(pools);
}
END_TEST

Suite *multi_mem_blocks_suite(void)
{
	Suite *s = suite_create("multi_mem_blocks");
	TCase *tc = tcase_create("group");

	tcase_add_test(tc, test_multi_mem_blocks_init_and_grow);
	tcase_add_test(tc, test_multi_mem_blocks_add_rejects);
	tcase_add_test(tc, test_multi_mem_blocks_alloc_rejects_null);
	tcase_add_test(tc, test_multi_mem_blocks_alloc_count_zero);
	tcase_add_test(tc, test_multi_mem_blocks_alloc_choice_null);
	tcase_add_test(tc, test_multi_mem_blocks_alloc_without_choice_fn);
	tcase_add_test(tc, test_multi_mem_blocks_alloc_from_chosen_pool);
	tcase_add_test(tc, test_multi_mem_blocks_alloc_enomem);
	tcase_add_test(tc, test_multi_mem_blocks_free_rejects_null);
	tcase_add_test(tc, test_multi_mem_blocks_free_across_pools);
	tcase_add_test(tc, test_multi_mem_blocks_free_unowned_einval);
	tcase_add_test(tc, test_multi_mem_blocks_free_efault_rolls_back_all_pools);
	tcase_add_test(tc, test_multi_mem_blocks_no_fixed_limit);
	suite_add_tcase(s, tc);
	return s;
}
