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
 *
 * Locking: each public call on a locked pool holds its mutex from the first
 * read of the bitmap to the last write (mb_lock); argument checks that read
 * only what init fixed (info, buffer) may come before. The *_unlocked
 * helpers assume the caller holds it.
 */
#include "core/mem_blocks.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/bitarray_inline.h"
#include "core/mem_blocks_lock.h"

/*
 * The index of the block that starts at ptr, into *idx: 0, or -EFAULT if ptr
 * is below the buffer, at or past its end, or not on a block boundary.
 * Called on every free, so no division: a power-of-two size shifts by
 * info.blk_sz_shift, any other size (1536, say) multiplies by the
 * precomputed blk_sz_recip = floor((2^64 - 1) / blk_sz). That quotient
 * estimate is low by at most 2 for any 64-bit offset, and the remainder
 * corrects it, so the result is exact.
 */
static inline int block_index(const sys_mem_blocks_t *mb, const void *ptr, size_t *idx)
{
	/* Below the buffer wraps to a huge offset, which the bound rejects. */
	uint64_t off = (uint64_t) ((uintptr_t) ptr - (uintptr_t) mb->buffer);
	uint64_t bsz = mb->info.blk_sz, q, rem;

	if (mb->info.blk_sz_shift != 0) {
		/* The quotient is exact, so it bounds the offset without the
		 * multiply: off >= num_blocks * bsz iff q >= num_blocks. */
		q = off >> mb->info.blk_sz_shift;
		if (q >= mb->info.num_blocks || (off & (bsz - 1)) != 0)
			return -EFAULT;
		*idx = (size_t) q;
		return 0;
	}
	/* Also a pool zeroed by sys_mem_blocks_deinit (0 bytes, shift 0):
	 * rejected here, before the quotient divides by nothing. */
	if (off >= (uint64_t) mb->info.num_blocks * bsz)
		return -EFAULT;
	q = (uint64_t) (((unsigned __int128) off * mb->blk_sz_recip) >> 64);
	rem = off - q * bsz;
	while (rem >= bsz) {
		q++;
		rem -= bsz;
	}
	if (rem != 0)
		return -EFAULT;
	*idx = (size_t) q;
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

static int pool_init(sys_mem_blocks_t *mb, size_t blk_sz, size_t num_blks, void *buf, bool locked)
{
	uint64_t *words;
	int rc;

	if (mb == NULL || buf == NULL || blk_sz == 0 || blk_sz % 4 != 0 || num_blks == 0 ||
	    num_blks > BITARRAY_MAX_BITS || blk_sz > SIZE_MAX / num_blks)
		return -EINVAL;
	words = malloc(bitarray_words(num_blks) * sizeof(*words));
	if (words == NULL)
		return -ENOMEM;
	if (locked) {
		rc = pthread_mutex_init(&mb->lock, NULL);
		if (rc != 0) {
			free(words);
			return -rc;
		}
	}
	/* Cannot fail: every argument it checks was checked above. */
	(void) bitarray_init(&mb->bitmap, num_blks, words);
	mb->info.num_blocks = num_blks;
	mb->info.blk_sz = blk_sz;
	mb->info.blk_sz_shift =
	    (blk_sz & (blk_sz - 1)) == 0 ? (uint8_t) __builtin_ctzll(blk_sz) : 0;
	mb->blk_sz_recip = UINT64_MAX / blk_sz;
	mb->buffer = buf;
	mb->max_allocated = 0;
	mb->owned_words = words;
	mb->locked = locked;
	return 0;
}

int sys_mem_blocks_init(sys_mem_blocks_t *mb, size_t blk_sz, size_t num_blks, void *buf)
{
	return pool_init(mb, blk_sz, num_blks, buf, false);
}

int sys_mem_blocks_init_locked(sys_mem_blocks_t *mb, size_t blk_sz, size_t num_blks, void *buf)
{
	return pool_init(mb, blk_sz, num_blks, buf, true);
}

void sys_mem_blocks_deinit(sys_mem_blocks_t *mb)
{
	if (mb == NULL || mb->owned_words == NULL)
		return;
	free(mb->owned_words);
	if (mb->locked)
		(void) pthread_mutex_destroy(&mb->lock);
	/* All zero: an unlocked pool of no blocks, on which every call fails
	 * cleanly instead of touching the freed bitmap. */
	memset(mb, 0, sizeof(*mb));
}

/* count >= 1 blocks, lowest free first; the lock is held. Out of line: the
 * one-block path in sys_mem_blocks_alloc stays small. */
__attribute__((noinline)) static int alloc_unlocked(sys_mem_blocks_t *mb, size_t count,
						    void **out_blocks)
{
	size_t pos, idx;

	if (count > bitarray_count_free(&mb->bitmap))
		return -ENOMEM;
	/* The first block is the lowest free one: no climb. */
	idx = bitarray_take_first(&mb->bitmap);
	for (size_t i = 0;;) {
		out_blocks[i] = block_ptr(mb, idx);
		if (++i == count)
			break;
		pos = idx + 1;
		/* Cannot fail: nfree is exact and at least count - i blocks
		 * at or after pos are free. */
		(void) bitarray_find_free(&mb->bitmap, pos, &idx);
		bitarray_set_used1(&mb->bitmap, idx);
	}
	update_max(mb);
	return 0;
}

/* One block off a pool with a free one; the lock (if any) is held. No calls,
 * so that the caller needs no saved registers: one descent, one bit, the
 * high-water mark. */
static inline __attribute__((always_inline)) void *alloc_one(sys_mem_blocks_t *mb)
{
	size_t idx = bitarray_take_first(&mb->bitmap);

	update_max(mb);
	return block_ptr(mb, idx);
}

/* sys_mem_blocks_alloc past its argument checks, for everything but one
 * block off an unlocked pool: out of line, so that it costs that path
 * nothing. */
__attribute__((noinline)) static int alloc_locking(sys_mem_blocks_t *mb, size_t count,
						   void **out_blocks)
{
	int rc = 0;

	if (count == 0)
		return 0;
	mb_lock(mb);
	if (count == 1 && bitarray_count_free(&mb->bitmap) != 0)
		out_blocks[0] = alloc_one(mb);
	else
		rc = alloc_unlocked(mb, count, out_blocks);
	mb_unlock(mb);
	return rc;
}

int sys_mem_blocks_alloc(sys_mem_blocks_t *mb, size_t count, void **out_blocks)
{
	if (mb == NULL || out_blocks == NULL)
		return -EINVAL;
	/* The common case (the daemon's, the bench's) as a leaf function that
	 * saves no registers, which it can for pools of up to 3 levels (2^18
	 * blocks): the compiler drops the deeper cases of the descent. An
	 * unlocked pool's nfree may be read without a lock. */
	if (count == 1 && !mb->locked && bitarray_count_free(&mb->bitmap) != 0 &&
	    mb->bitmap.levels <= 3) {
		out_blocks[0] = alloc_one(mb);
		return 0;
	}
	return alloc_locking(mb, count, out_blocks);
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
	mb_lock(mb);
	rc = bitarray_find_free_run(&mb->bitmap, count, &idx);
	if (rc == 0) {
		bitarray_set_used(&mb->bitmap, idx, count);
		update_max(mb);
		*out_block = block_ptr(mb, idx);
	}
	mb_unlock(mb);
	return rc == 0 ? 0 : -ENOMEM;
}

int mb_get_unlocked(sys_mem_blocks_t *mb, void *in_block, size_t count)
{
	size_t idx;
	int rc;

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

int sys_mem_blocks_get(sys_mem_blocks_t *mb, void *in_block, size_t count)
{
	int rc;

	if (mb == NULL)
		return -EINVAL;
	if (count == 0)
		return 0;
	mb_lock(mb);
	rc = mb_get_unlocked(mb, in_block, count);
	mb_unlock(mb);
	return rc;
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
	mb_lock(mb);
	rc = bitarray_range_is_free(&mb->bitmap, idx, count) ? 1 : 0;
	mb_unlock(mb);
	return rc;
}

/* Undo the first n frees of mb_free_unlocked: those pointers were valid
 * and allocated, and are free now. */
static void unfree(sys_mem_blocks_t *mb, size_t n, void **in_blocks)
{
	size_t idx = 0; /* set by block_index, which cannot fail here */

	for (size_t i = 0; i < n; i++) {
		/* Cannot fail: each one was validated before it was freed. */
		(void) block_index(mb, in_blocks[i], &idx);
		bitarray_set_used1(&mb->bitmap, idx);
	}
}

/* Free one block if ptr is the start of an allocated one: 0 or -EFAULT. */
static inline __attribute__((always_inline)) int free_one(sys_mem_blocks_t *mb, const void *ptr)
{
	size_t idx;

	if (block_index(mb, ptr, &idx) != 0 || !bitarray_test(&mb->bitmap, idx))
		return -EFAULT;
	bitarray_set_free1(&mb->bitmap, idx);
	return 0;
}

int mb_free_unlocked(sys_mem_blocks_t *mb, size_t count, void **in_blocks)
{
	/* Free while validating: a pointer that repeats an earlier one finds
	 * its block already free, so one pass catches duplicates without any
	 * extra memory. On the first bad pointer, re-mark what was freed. */
	for (size_t i = 0; i < count; i++) {
		if (free_one(mb, in_blocks[i]) != 0) {
			unfree(mb, i, in_blocks);
			return -EFAULT;
		}
	}
	return 0;
}

/* sys_mem_blocks_free past its NULL checks, for everything but one block of
 * an unlocked pool: out of line, as alloc_locking. */
__attribute__((noinline)) static int free_locking(sys_mem_blocks_t *mb, size_t count,
						  void **in_blocks)
{
	int rc;

	if (count == 0)
		return 0;
	if (count > mb->info.num_blocks)
		return -EINVAL;
	mb_lock(mb);
	/* One block: no undo list to keep, so no call into the general loop. */
	rc = count == 1 ? free_one(mb, in_blocks[0]) : mb_free_unlocked(mb, count, in_blocks);
	mb_unlock(mb);
	return rc;
}

int sys_mem_blocks_free(sys_mem_blocks_t *mb, size_t count, void **in_blocks)
{
	if (mb == NULL || in_blocks == NULL)
		return -EINVAL;
	/* The common case as a leaf function; num_blocks != 0 is count <=
	 * num_blocks (a pool zeroed by deinit answers -EINVAL, as below). */
	if (count == 1 && !mb->locked && mb->info.num_blocks != 0)
		return free_one(mb, in_blocks[0]);
	return free_locking(mb, count, in_blocks);
}

int sys_mem_blocks_free_contiguous(sys_mem_blocks_t *mb, void *block, size_t count)
{
	size_t idx;
	int rc = 0;

	if (mb == NULL)
		return -EINVAL;
	if (count == 0)
		return 0;
	if (count > mb->info.num_blocks)
		return -EINVAL;
	if (block_index(mb, block, &idx) != 0)
		return -EFAULT;
	mb_lock(mb);
	if (count == 1) {
		/* The daemon's path (one unit at a time): one bit test and
		 * the single-bit free, no range masks. */
		rc = free_one(mb, block);
	} else if (bitarray_range_is_used(&mb->bitmap, idx, count)) {
		/* range_is_used is also false when the range runs past the end. */
		bitarray_set_free(&mb->bitmap, idx, count);
	} else {
		rc = -EFAULT;
	}
	mb_unlock(mb);
	return rc;
}

int sys_mem_blocks_rebuild(sys_mem_blocks_t *mb, const uint64_t *used, size_t nwords)
{
	int rc = -EINVAL;

	/* A pool zeroed by deinit has no blocks and no bitmap. */
	if (mb == NULL || used == NULL || mb->info.num_blocks == 0 ||
	    nwords != (mb->info.num_blocks + 63) / 64)
		return -EINVAL;
	mb_lock(mb);
	if (blocks_used(mb) == 0 && bitarray_load(&mb->bitmap, used) == 0) {
		update_max(mb);
		rc = 0;
	}
	mb_unlock(mb);
	return rc;
}

int sys_mem_blocks_runtime_stats_get(sys_mem_blocks_t *mb, struct sys_memory_stats *stats)
{
	size_t used, nfree, max;

	if (mb == NULL || stats == NULL)
		return -EINVAL;
	mb_lock(mb);
	used = blocks_used(mb);
	nfree = bitarray_count_free(&mb->bitmap);
	max = mb->max_allocated;
	mb_unlock(mb);
	stats->free_bytes = nfree * mb->info.blk_sz;
	stats->allocated_bytes = used * mb->info.blk_sz;
	stats->max_allocated_bytes = max * mb->info.blk_sz;
	return 0;
}

int sys_mem_blocks_runtime_stats_reset_max(sys_mem_blocks_t *mb)
{
	if (mb == NULL)
		return -EINVAL;
	mb_lock(mb);
	mb->max_allocated = blocks_used(mb);
	mb_unlock(mb);
	return 0;
}
