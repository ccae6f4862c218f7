/*
 * mem_blocks_lock: what mem_blocks.c shares with multi_mem_blocks.c and
 * nobody else (not installed): the pool lock and the unlocked steps, so that
 * a group free can hold the locks of several pools around them.
 */
#ifndef ALLOCATORD_CORE_MEM_BLOCKS_LOCK_H
#define ALLOCATORD_CORE_MEM_BLOCKS_LOCK_H

#include "core/mem_blocks.h"

/* Take / release mb's mutex if mb is a locked pool; else nothing. The mutex
 * is a default one, which cannot fail to lock here (not recursive, not
 * robust, and no caller locks a pool twice). */
static inline void mb_lock(sys_mem_blocks_t *mb)
{
	if (mb->locked)
		(void) pthread_mutex_lock(&mb->lock);
}

static inline void mb_unlock(sys_mem_blocks_t *mb)
{
	if (mb->locked)
		(void) pthread_mutex_unlock(&mb->lock);
}

/* sys_mem_blocks_free and sys_mem_blocks_get without the lock: the caller
 * holds it (mb is not NULL). Same returns. */
int mb_free_unlocked(sys_mem_blocks_t *mb, size_t count, void **in_blocks);
int mb_get_unlocked(sys_mem_blocks_t *mb, void *in_block, size_t count);

#endif
