/*
 * mem_blocks: fixed-size block pools, source-compatible with Zephyr's
 * include/zephyr/sys/mem_blocks.h. Installed as <memcore/mem_blocks.h>;
 * sys_mem_blocks(3) is the manual.
 *
 * A pool is num_blocks blocks of blk_sz bytes in a caller buffer; which blocks
 * are taken is kept in a hierarchical bitmap (bitarray.h) *outside* that
 * buffer, so the allocator never reads or writes the memory it hands out.
 * One allocation may return several non-contiguous blocks (scatter-gather).
 *
 * Differences from Zephyr, all of them stricter or wider, none that breaks
 * code written for Zephyr:
 *   - blk_sz need not be a power of two (1536-byte packet buffers are fine);
 *     it must be a non-zero multiple of 4 (of buf_align for the DEFINE macros);
 *     info.blk_sz holds it, and info.blk_sz_shift is its log2 as in Zephyr
 *     when it is a power of two (0 otherwise);
 *   - NULL pool or array returns -EINVAL (Zephyr asserts);
 *   - sys_mem_blocks_free validates every pointer before freeing any: a bad
 *     pointer anywhere (outside, not on a block boundary, not allocated, or
 *     twice in the array) returns -EFAULT and frees nothing;
 *   - the group has no fixed limit of allocators; because growing it can
 *     fail, sys_multi_mem_blocks_add_allocator returns int (0 or -ENOMEM)
 *     where Zephyr's returns void, and sys_multi_mem_blocks_deinit releases it;
 *   - sys_multi_mem_blocks_free finds the owning pool of every pointer, not
 *     only of the first, and frees all or nothing;
 *   - stats are size_t bytes, so 64-bit clean for pools over 4 GiB; the
 *     runtime stats are always there (no CONFIG_SYS_MEM_BLOCKS_RUNTIME_STATS);
 *   - sys_mem_blocks_init / sys_mem_blocks_init_locked / sys_mem_blocks_deinit
 *     build pools at run time.
 *   - sys_mem_blocks_rebuild loads a pool's used blocks from a bitmap at
 *     once (a process taking over another's books).
 *
 * Allocation order is deterministic: lowest free block first. Costs are for
 * n = num_blocks: single-block alloc and free O(log64 n).
 *
 * Threads. As in Zephyr, a pool from the SYS_MEM_BLOCKS_DEFINE macros or from
 * sys_mem_blocks_init_locked takes its own mutex in every call, so several
 * threads may share it. A pool from sys_mem_blocks_init takes no lock (the
 * daemon is single-threaded and pays nothing): its caller serialises. A group
 * is as safe as its pools once its members are added (adding is not locked:
 * finish it before the threads start); sys_multi_mem_blocks_free holds the
 * locks of every member at once, in address order, so it stays all or
 * nothing under concurrency. init and deinit are never concurrent with use.
 */
#ifndef ALLOCATORD_CORE_MEM_BLOCKS_H
#define ALLOCATORD_CORE_MEM_BLOCKS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Quoted and bare: found next to this header both in the source tree
 * (core/) and where it is installed (memcore/, allocatord/core/). */
#include "bitarray.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sys_mem_blocks;
struct sys_multi_mem_blocks;
typedef struct sys_mem_blocks sys_mem_blocks_t;
typedef struct sys_multi_mem_blocks sys_multi_mem_blocks_t;

/* Zephyr's choice function: picks the pool for one group allocation from the
 * opaque cfg, or returns NULL to refuse (the allocation then fails -EINVAL). */
typedef sys_mem_blocks_t *(*sys_multi_mem_blocks_choice_fn_t)(struct sys_multi_mem_blocks *group,
							      void *cfg);

/* Zephyr's struct sys_memory_stats (sys/mem_stats.h). */
struct sys_memory_stats {
	size_t free_bytes;
	size_t allocated_bytes;
	size_t max_allocated_bytes;
};

/* Zephyr's fixed group size. Groups here grow without limit; the name is
 * kept for code written for Zephyr that sizes its own arrays with it. */
#define MAX_MULTI_ALLOCATORS 8

struct sys_mem_blocks_info {
	size_t num_blocks;
	size_t blk_sz;
	uint8_t blk_sz_shift; /* log2(blk_sz) if a power of two, else 0 (Zephyr's) */
};

struct sys_mem_blocks {
	struct sys_mem_blocks_info info;
	uint8_t *buffer;
	struct bitarray bitmap;
	size_t max_allocated;  /* blocks; high-water mark for the stats */
	uint64_t *owned_words; /* bitmap storage from sys_mem_blocks_init, else NULL */
	uint64_t blk_sz_recip; /* UINT64_MAX / blk_sz: block_index multiplies */
	bool locked;           /* every call takes `lock` (chosen at definition) */
	pthread_mutex_t lock;
};

struct sys_multi_mem_blocks {
	size_t num_allocators;
	sys_multi_mem_blocks_choice_fn_t choice_fn;
	sys_mem_blocks_t **allocators; /* grows on demand */
	size_t capacity;
};

/* log2 of a power-of-two block size, else 0; a constant expression. */
#define Z__MB_SHIFT(bsz) \
	((uint8_t) ((((bsz) & ((bsz) -1)) == 0) ? __builtin_ctzll((unsigned long long) (bsz)) : 0))

/* Static definition with caller buffer `buf` (uint8_t array of at least
 * blk_sz * num_blks bytes). `mbmod` is the storage class (static or empty). */
#define Z__SYS_MEM_BLOCKS_DEFINE_WITH_EXT_BUF(name, bsz, nblk, ebuf, mbmod)                     \
	BITARRAY_DEFINE_WORDS(z__sys_mem_blocks_bits_##name, nblk);                             \
	static uint64_t z__sys_mem_blocks_bitmap_##name[z__sys_mem_blocks_bits_##name##_total]; \
	mbmod sys_mem_blocks_t name = {                                                         \
	    .info = {.num_blocks = (nblk), .blk_sz = (bsz), .blk_sz_shift = Z__MB_SHIFT(bsz)},  \
	    .buffer = (uint8_t *) (ebuf),                                                       \
	    .bitmap = BITARRAY_INITIALIZER(z__sys_mem_blocks_bits_##name, (nblk),               \
					   z__sys_mem_blocks_bitmap_##name),                    \
	    .max_allocated = 0,                                                                 \
	    .owned_words = NULL,                                                                \
	    .blk_sz_recip = UINT64_MAX / (uint64_t) (bsz),                                      \
	    .locked = true,                                                                     \
	    .lock = PTHREAD_MUTEX_INITIALIZER,                                                  \
	}

#define Z__SYS_MEM_BLOCKS_DEFINE(name, bsz, nblk, balign, mbmod)           \
	static uint8_t z__sys_mem_blocks_buf_##name[(nblk) * (bsz)]        \
	    __attribute__((aligned(balign)));                              \
	_Static_assert((balign) >= 4 && ((balign) & ((balign) -1)) == 0,   \
		       "buf_align must be a power of two >= 4");           \
	_Static_assert((bsz) > 0 && (bsz) % (balign) == 0,                 \
		       "blk_sz must be a non-zero multiple of buf_align"); \
	Z__SYS_MEM_BLOCKS_DEFINE_WITH_EXT_BUF(name, bsz, nblk, z__sys_mem_blocks_buf_##name, mbmod)

/* A pool `name` of num_blks blocks of blk_sz bytes with its own buffer,
 * aligned to buf_align (a power of two >= 4 that divides blk_sz). These
 * pools are locked: safe to share between threads, as in Zephyr. */
#define SYS_MEM_BLOCKS_DEFINE(name, blk_sz, num_blks, buf_align) \
	Z__SYS_MEM_BLOCKS_DEFINE(name, blk_sz, num_blks, buf_align, )
#define SYS_MEM_BLOCKS_DEFINE_STATIC(name, blk_sz, num_blks, buf_align) \
	Z__SYS_MEM_BLOCKS_DEFINE(name, blk_sz, num_blks, buf_align, static)
/* The same over a caller buffer of at least blk_sz * num_blks bytes. */
#define SYS_MEM_BLOCKS_DEFINE_WITH_EXT_BUF(name, blk_sz, num_blks, buf) \
	Z__SYS_MEM_BLOCKS_DEFINE_WITH_EXT_BUF(name, blk_sz, num_blks, buf, )
#define SYS_MEM_BLOCKS_DEFINE_STATIC_WITH_EXT_BUF(name, blk_sz, num_blks, buf) \
	Z__SYS_MEM_BLOCKS_DEFINE_WITH_EXT_BUF(name, blk_sz, num_blks, buf, static)

/*
 * Build a pool at run time over buf (blk_sz * num_blks bytes, not touched).
 * The bitmap is allocated with malloc; sys_mem_blocks_deinit releases it.
 * Returns 0; -EINVAL if mb or buf is NULL, blk_sz is 0 or not a multiple of 4,
 * num_blks is 0 or over BITARRAY_MAX_BITS, or blk_sz * num_blks overflows;
 * -ENOMEM if the bitmap cannot be allocated. O(num_blks / 64).
 */
int sys_mem_blocks_init(sys_mem_blocks_t *mb, size_t blk_sz, size_t num_blks, void *buf);

/* The same, for a pool shared between threads: every call on it takes the
 * pool's mutex (about the cost of an uncontended lock and unlock per call;
 * `make bench` prints it). Returns as sys_mem_blocks_init, or the error of
 * pthread_mutex_init, negated. */
int sys_mem_blocks_init_locked(sys_mem_blocks_t *mb, size_t blk_sz, size_t num_blks, void *buf);

/* Release what sys_mem_blocks_init allocated. NULL or a static pool: no-op. */
void sys_mem_blocks_deinit(sys_mem_blocks_t *mb);

/*
 * Allocate count blocks, not necessarily contiguous, lowest free first, into
 * out_blocks[0..count). All or nothing.
 * Returns 0 (count == 0: 0 and nothing happens); -EINVAL if mb or out_blocks
 * is NULL; -ENOMEM if fewer than count blocks are free.
 * O(count * log64 n).
 */
int sys_mem_blocks_alloc(sys_mem_blocks_t *mb, size_t count, void **out_blocks);

/*
 * Allocate count contiguous blocks: the lowest run that fits; *out_block is
 * its first block. count == 0: *out_block = NULL, returns 0.
 * Returns 0; -EINVAL if mb or out_block is NULL; -ENOMEM if no run fits.
 * Cost: see bitarray_find_free_run.
 */
int sys_mem_blocks_alloc_contiguous(sys_mem_blocks_t *mb, size_t count, void **out_block);

/*
 * Take the specific blocks [in_block, in_block + count blocks).
 * Returns 0 (count == 0: 0, nothing happens); -EINVAL if mb is NULL;
 * -EFAULT if in_block is not the start of a block of this pool;
 * -ENOMEM if the range runs past the end or any block in it is taken
 * (then nothing is taken). O(count / 64 + log64 n).
 */
int sys_mem_blocks_get(sys_mem_blocks_t *mb, void *in_block, size_t count);

/*
 * 1 if every block of [in_block, in_block + count blocks) is free, 0 if any
 * is taken or the range runs past the end; -EINVAL if mb is NULL; -EFAULT if
 * in_block is not the start of a block of this pool. O(count / 64).
 */
int sys_mem_blocks_is_region_free(sys_mem_blocks_t *mb, void *in_block, size_t count);

/*
 * Free the count blocks in_blocks[0..count). All or nothing.
 * Returns 0 (count == 0: 0); -EINVAL if mb or in_blocks is NULL or count is
 * more than the pool's blocks; -EFAULT if any pointer is outside the pool,
 * not on a block boundary, not allocated, or repeated (nothing is freed).
 * O(count * log64 n).
 */
int sys_mem_blocks_free(sys_mem_blocks_t *mb, size_t count, void **in_blocks);

/*
 * Free count contiguous blocks starting at block. All or nothing.
 * Returns 0 (count == 0: 0); -EINVAL if mb is NULL or count is more than the
 * pool's blocks; -EFAULT if block is not the start of a block of this pool,
 * the range runs past the end, or any block in it is not allocated.
 * O(count / 64 + log64 n).
 */
int sys_mem_blocks_free_contiguous(sys_mem_blocks_t *mb, void *block, size_t count);

/*
 * Make exactly the blocks of a bitmap allocated, in a pool that has none:
 * bit i % 64 of used[i / 64] set iff block i is, nwords = (num_blocks + 63)
 * / 64. Not in Zephyr: for a process that takes over another's books (the
 * daemon after a restart), where one sys_mem_blocks_get per block would pay
 * the bitmap's summaries once per block; this pays them once per word. The
 * high-water mark is raised to the blocks now allocated if below.
 * Returns 0; -EINVAL (nothing changes) if mb or used is NULL, nwords is not
 * (num_blocks + 63) / 64, a bit at or past num_blocks is set, or a block of
 * the pool is allocated. O(num_blocks / 64).
 */
int sys_mem_blocks_rebuild(sys_mem_blocks_t *mb, const uint64_t *used, size_t nwords);

/* Bytes free, allocated and the allocated high-water mark. Returns 0, or
 * -EINVAL if mb or stats is NULL. O(1). */
int sys_mem_blocks_runtime_stats_get(sys_mem_blocks_t *mb, struct sys_memory_stats *stats);

/* Reset the high-water mark to what is allocated now. 0 or -EINVAL. O(1). */
int sys_mem_blocks_runtime_stats_reset_max(sys_mem_blocks_t *mb);

/* Free blocks in the pool. O(1). (Not in Zephyr; for choice functions.)
 * Inline, so that choice plug-ins need no symbol for it; a locked pool is
 * read under its lock (the lock is the pool's state, not its value, hence
 * the cast through const). */
static inline size_t sys_mem_blocks_free_count(const sys_mem_blocks_t *mb)
{
	pthread_mutex_t *lock = (pthread_mutex_t *) &mb->lock;
	size_t n;

	if (!mb->locked)
		return bitarray_count_free(&mb->bitmap);
	(void) pthread_mutex_lock(lock);
	n = bitarray_count_free(&mb->bitmap);
	(void) pthread_mutex_unlock(lock);
	return n;
}

/* Set up an empty group that chooses with choice_fn. Allocates nothing. */
void sys_multi_mem_blocks_init(sys_multi_mem_blocks_t *group,
			       sys_multi_mem_blocks_choice_fn_t choice_fn);

/* Append a pool to the group (no fixed limit). Returns 0; -EINVAL if group
 * or allocator is NULL; -ENOMEM if the list cannot grow. Amortised O(1). */
int sys_multi_mem_blocks_add_allocator(sys_multi_mem_blocks_t *group, sys_mem_blocks_t *allocator);

/* Release the group's list (not the pools). NULL: no-op. */
void sys_multi_mem_blocks_deinit(sys_multi_mem_blocks_t *group);

/*
 * Allocate count blocks from the pool choice_fn(group, cfg) picks; on success
 * *blk_size (if not NULL) is that pool's block size.
 * count == 0: *blk_size = 0, returns 0, the choice function is not called.
 * Returns 0; -EINVAL if group or out_blocks is NULL, or the choice function
 * is NULL or returns NULL; -ENOMEM as sys_mem_blocks_alloc.
 */
int sys_multi_mem_blocks_alloc(sys_multi_mem_blocks_t *group, void *cfg, size_t count,
			       void **out_blocks, size_t *blk_size);

/*
 * Free count blocks, each returned to the pool of the group that owns it.
 * All or nothing. Returns 0 (count == 0: 0); -EINVAL if group or in_blocks is
 * NULL or a pointer is in no pool of the group; -EFAULT as sys_mem_blocks_free.
 * O(count * (allocators + log64 n)).
 */
int sys_multi_mem_blocks_free(sys_multi_mem_blocks_t *group, size_t count, void **in_blocks);

#ifdef __cplusplus
}
#endif

#endif
