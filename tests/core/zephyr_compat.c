/*
 * A program written for Zephyr's <zephyr/sys/mem_blocks.h>, as Zephyr code
 * uses that API (file-scope DEFINE macros, a group with a choice function
 * that reads cfg as an index + 1, the void-style add_allocator call, the
 * info members, MAX_MULTI_ALLOCATORS, the runtime stats). Only the include
 * line differs from the Zephyr version. tests/core/test_install builds it
 * against the staged install with pkg-config alone and runs it; exit 0 iff
 * every step behaved as on Zephyr.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <memcore/mem_blocks.h> /* Zephyr: #include <zephyr/sys/mem_blocks.h> */

#define BLK_SZ     64
#define NUM_BLOCKS 8

SYS_MEM_BLOCKS_DEFINE(zc_pool_a, BLK_SZ, NUM_BLOCKS, 4);

static uint8_t zc_pool_b_buf[BLK_SZ * 2 * NUM_BLOCKS];
SYS_MEM_BLOCKS_DEFINE_STATIC_WITH_EXT_BUF(zc_pool_b, BLK_SZ * 2, NUM_BLOCKS, zc_pool_b_buf);

static uint8_t zc_pool_c_buf[BLK_SZ * NUM_BLOCKS];
SYS_MEM_BLOCKS_DEFINE_WITH_EXT_BUF(zc_pool_c, BLK_SZ, NUM_BLOCKS, zc_pool_c_buf);
SYS_MEM_BLOCKS_DEFINE_STATIC(zc_pool_d, BLK_SZ, NUM_BLOCKS, 8);

static sys_multi_mem_blocks_t zc_group;
static sys_mem_blocks_t *zc_members[MAX_MULTI_ALLOCATORS];

static int failures;

#define EXPECT(cond)                                                       \
	do {                                                               \
		if (!(cond)) {                                             \
			printf("zephyr_compat:%d: %s\n", __LINE__, #cond); \
			failures++;                                        \
		}                                                          \
	} while (0)

sys_mem_blocks_t *zc_choice(struct sys_multi_mem_blocks *group, void *cfg);

sys_mem_blocks_t *zc_choice(struct sys_multi_mem_blocks *group, void *cfg)
{
	uintptr_t num = (uintptr_t) cfg - 1;

	if (num >= (uintptr_t) group->num_allocators)
		return NULL;
	return group->allocators[num];
}

/* Zephyr's tests check a pointer against the pool with the info members. */
static bool in_pool(sys_mem_blocks_t *mb, void *ptr)
{
	uint8_t *start = mb->buffer;
	uint8_t *end = start + ((size_t) 1 << mb->info.blk_sz_shift) * mb->info.num_blocks;

	return (uint8_t *) ptr >= start && (uint8_t *) ptr < end;
}

int main(void)
{
	struct sys_memory_stats stats;
	void *blocks[NUM_BLOCKS + 1];
	void *one;
	size_t blk_size;
	int n = 0;

	/* Single pool: alloc all, one more fails, free all. */
	EXPECT(sys_mem_blocks_alloc(&zc_pool_a, NUM_BLOCKS, blocks) == 0);
	for (int i = 0; i < NUM_BLOCKS; i++)
		EXPECT(in_pool(&zc_pool_a, blocks[i]));
	EXPECT(sys_mem_blocks_alloc(&zc_pool_a, 1, &blocks[NUM_BLOCKS]) == -ENOMEM);
	EXPECT(sys_mem_blocks_runtime_stats_get(&zc_pool_a, &stats) == 0);
	EXPECT(stats.allocated_bytes == BLK_SZ * NUM_BLOCKS && stats.free_bytes == 0);
	EXPECT(sys_mem_blocks_free(&zc_pool_a, NUM_BLOCKS, blocks) == 0);
	EXPECT(sys_mem_blocks_runtime_stats_reset_max(&zc_pool_a) == 0);
	EXPECT(sys_mem_blocks_runtime_stats_get(&zc_pool_a, &stats) == 0);
	EXPECT(stats.max_allocated_bytes == 0);

	/* Contiguous, get, is_region_free, free_contiguous. */
	EXPECT(sys_mem_blocks_alloc_contiguous(&zc_pool_c, 3, &one) == 0);
	EXPECT(sys_mem_blocks_is_region_free(&zc_pool_c, one, 3) == 0);
	EXPECT(sys_mem_blocks_free_contiguous(&zc_pool_c, one, 3) == 0);
	EXPECT(sys_mem_blocks_is_region_free(&zc_pool_c, one, 3) == 1);
	EXPECT(sys_mem_blocks_get(&zc_pool_d, zc_pool_d.buffer + BLK_SZ, 2) == 0);
	EXPECT(sys_mem_blocks_get(&zc_pool_d, zc_pool_d.buffer + BLK_SZ, 1) == -ENOMEM);
	EXPECT(sys_mem_blocks_free_contiguous(&zc_pool_d, zc_pool_d.buffer + BLK_SZ, 2) == 0);

	/* A group, used the Zephyr way: add_allocator's result ignored. */
	sys_multi_mem_blocks_init(&zc_group, zc_choice);
	sys_multi_mem_blocks_add_allocator(&zc_group, &zc_pool_a);
	sys_multi_mem_blocks_add_allocator(&zc_group, &zc_pool_b);
	zc_members[n++] = &zc_pool_a;
	zc_members[n++] = &zc_pool_b;
	EXPECT(zc_group.num_allocators == (size_t) n && zc_group.allocators[1] == zc_members[1]);
	EXPECT(sys_multi_mem_blocks_alloc(&zc_group, (void *) 2, 2, blocks, &blk_size) == 0);
	EXPECT(blk_size == BLK_SZ * 2 && in_pool(&zc_pool_b, blocks[0]));
	EXPECT(sys_multi_mem_blocks_alloc(&zc_group, (void *) 9, 1, &one, NULL) == -EINVAL);
	EXPECT(sys_multi_mem_blocks_alloc(&zc_group, NULL, 1, &one, NULL) == -EINVAL);
	EXPECT(sys_multi_mem_blocks_free(&zc_group, 2, blocks) == 0);
	EXPECT(sys_multi_mem_blocks_free(&zc_group, 2, blocks) == -EFAULT);

	printf("zephyr_compat: %s\n", failures == 0 ? "ok" : "FAILED");
	return failures == 0 ? 0 : 1;
}
