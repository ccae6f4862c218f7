/*
 * mem_blocks: one fixed-block pool (contract in mem_blocks.h).
 *
 * Block i is buffer + i * blk_sz and is used iff bit i of the bitmap is set.
 * The buffer itself is never read or written. Pointers handed in by callers
 * are compared with the buffer as integers (uintptr_t), so a pointer from
 * anywhere else is rejected without undefined pointer comparisons.
 *
 * max_allocated <= num_blocks always holds, and is >= the blocks in use after
 * every call that can allocate; frees never change it.
 */
#include "core/mem_blocks.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/*
 * The index of the block that starts at ptr, into *idx: 0, or -EFAULT if ptr
 * is below the buffer, at or past its end, or not on a block boundary. A
 * power-of-two block size takes a shift (ctz is one instruction, far cheaper
 * than a 64-bit division); other sizes, such as 1536, divide.
 */
static int block_index(const sys_mem_blocks_t *mb, const void *ptr, size_t *idx)
{
	uintptr_t p = (uintptr_t) ptr, base = (uintptr_t) mb->buffer;
	size_t bsz = mb->info.blk_sz, off, i, rem;

	/* A pool zeroed by sys_mem_blocks_deinit has no blocks (and blk_sz 0). */
	if (p < base || mb->info.num_blocks == 0)
		return -EFAULT;
	off = p - base;
	if ((bsz & (bsz - 1)) == 0) {
		i = off >> __builtin_ctzll(bsz);
		rem = off & (bsz - 1);
	} else {
		i = off / bsz;
		rem = off % bsz;
	}
	if (i >= mb->info.num_blocks || rem != 0)
		return -EFAULT;
	*idx = i;
	return 0;
}

static inline void *block_ptr(const sys_mem_blocks_t *mb, size_t idx)
{
	return mb->buffer + idx * mb->info.blk_sz;
}

static inline size_t blocks_used(const sys_mem_blocks_t *mb)
{
	return mb->info.num_blocks - bitarray_count_free(&mb->bitmap);
}

static inline void update_max(sys_mem_blocks_t *mb)
{
	size_t used = blocks_used(mb);

	if (used > mb->max_allocated)
		mb->max_allocated = used;
}

int sys_mem_blocks_init(sys_mem_blocks_t *mb, size_t blk_sz, size_t num_blks, void *buf)
{
	uint64_t *words;

	if (mb == NULL || buf == NULL || blk_sz == 0 || blk_sz % 4 != 0 || num_blks == 0 ||
	    num_blks > BITARRAY_MAX_BITS || blk_sz > SIZE_MAX / num_blks)
		return -EINVAL;
	words = malloc(bitarray_words(num_blks) * sizeof(*words));
	if (words == NULL)
		return -ENOMEM;
	/* Cannot fail: every argument it checks was checked above. */
	(void) bitarray_init(&mb->bitmap, num_blks, words);
	mb->info.num_blocks = num_blks;
	mb->info.blk_sz = blk_sz;
	mb->buffer = buf;
	mb->max_allocated = 0;
	mb->owned_words = words;
	return 0;
}

void sys_mem_blocks_deinit(sys_mem_blocks_t *mb)
{
	if (mb == NULL || mb->owned_words == NULL)
		return;
	free(mb->owned_words);
	/* All zero: a pool of no blocks, on which every call fails cleanly
	 * instead of touching the freed bitmap. */
	memset(mb, 0, sizeof(*mb));
}

int sys_mem_blocks_alloc(sys_mem_blocks_t *mb, size_t count, void **out_blocks)
{
	size_t pos = 0, idx = 0;

	if (mb == NULL || out_blocks == NULL)
		return -EINVAL;
	if (count == 0)
		return 0;
	if (count > bitarray_count_free(&mb->bitmap))
		return -ENOMEM;
	for (size_t i = 0; i < count; i++) {
		/* Cannot fail: nfree is exact and at least count - i blocks
		 * at or after pos are free. */
		(void) bitarray_find_free(&mb->bitmap, pos, &idx);
		bitarray_set_used(&mb->bitmap, idx, 1);
		out_blocks[i] = block_ptr(mb, idx);
		pos = idx + 1;
	}
	update_max(mb);
	return 0;
}

int sys_mem_blocks_alloc_contiguous(sys_mem_blocks_t *mb, size_t count, void **out_block)
{
	size_t idx;
	int rc;

	if (mb == NULL || out_block == NULL)
		return -EINVAL;
	if (count == 0) {
		*out_block = NULL;
		return 0;
	}
	rc = bitarray_find_free_run(&mb->bitmap, count, &idx);
	if (rc != 0)
		return -ENOMEM;
	bitarray_set_used(&mb->bitmap, idx, count);
	update_max(mb);
	*out_block = block_ptr(mb, idx);
	return 0;
}

int sys_mem_blocks_get(sys_mem_blocks_t *mb, void *in_block, size_t count)
{
	size_t idx;
	int rc;

	if (mb == NULL)
		return -EINVAL;
	if (count == 0)
		return 0;
	rc = block_index(mb, in_block, &idx);
	if (rc != 0)
		return rc;
	/* Also false when the range runs past the end. */
	if (!bitarray_range_is_free(&mb->bitmap, idx, count))
		return -ENOMEM;
	bitarray_set_used(&mb->bitmap, idx, count);
	update_max(mb);
	return 0;
}

int sys_mem_blocks_is_region_free(sys_mem_blocks_t *mb, void *in_block, size_t count)
{
	size_t idx;
	int rc;

	if (mb == NULL)
		return -EINVAL;
	rc = block_index(mb, in_block, &idx);
	if (rc != 0)
		return rc;
	return bitarray_range_is_free(&mb->bitmap, idx, count) ? 1 : 0;
}

/* Undo the first n frees of sys_mem_blocks_free: those pointers were valid
 * and allocated, and are free now. */
static void unfree(sys_mem_blocks_t *mb, size_t n, void **in_blocks)
{
	size_t idx;

	for (size_t i = 0; i < n; i++) {
		/* Cannot fail: each one was validated before it was freed. */
		(void) block_index(mb, in_blocks[i], &idx);
		bitarray_set_used(&mb->bitmap, idx, 1);
	}
}

int sys_mem_blocks_free(sys_mem_blocks_t *mb, size_t count, void **in_blocks)
{
	size_t idx;

	if (mb == NULL || in_blocks == NULL)
		return -EINVAL;
	if (count == 0)
		return 0;
	if (count > mb->info.num_blocks)
		return -EINVAL;
	/* Free while validating: a pointer that repeats an earlier one finds
	 * its block already free, so one pass catches duplicates without any
	 * extra memory. On the first bad pointer, re-mark what was freed. */
	for (size_t i = 0; i < count; i++) {
		if (block_index(mb, in_blocks[i], &idx) != 0 ||
		    !bitarray_is_used(&mb->bitmap, idx)) {
			unfree(mb, i, in_blocks);
			return -EFAULT;
		}
		bitarray_set_free(&mb->bitmap, idx, 1);
	}
	return 0;
}

int sys_mem_blocks_free_contiguous(sys_mem_blocks_t *mb, void *block, size_t count)
{
	size_t idx;

	if (mb == NULL)
		return -EINVAL;
	if (count == 0)
		return 0;
	if (count > mb->info.num_blocks)
		return -EINVAL;
	if (block_index(mb, block, &idx) != 0)
		return -EFAULT;
	/* Also false when the range runs past the end. */
	if (!bitarray_range_is_used(&mb->bitmap, idx, count))
		return -EFAULT;
	bitarray_set_free(&mb->bitmap, idx, count);
	return 0;
}

int sys_mem_blocks_runtime_stats_get(sys_mem_blocks_t *mb, struct sys_memory_stats *stats)
{
	size_t used;

	if (mb == NULL || stats == NULL)
		return -EINVAL;
	used = blocks_used(mb);
	stats->free_bytes = bitarray_count_free(&mb->bitmap) * mb->info.blk_sz;
	stats->allocated_bytes = used * mb->info.blk_sz;
	stats->max_allocated_bytes = mb->max_allocated * mb->info.blk_sz;
	return 0;
}

int sys_mem_blocks_runtime_stats_reset_max(sys_mem_blocks_t *mb)
{
	if (mb == NULL)
		return -EINVAL;
	mb->max_allocated = blocks_used(mb);
	return 0;
}
