/*
 * multi_mem_blocks: a group of pools and a choice function (contract in
 * mem_blocks.h).
 *
 * allocators[0..num_allocators) are the members in the order they were
 * added; capacity is the length of the allocated array (0 with a NULL array).
 * A pointer belongs to the first member whose buffer range holds it.
 */
#include "core/mem_blocks.h"

#include <errno.h>
#include <stdlib.h>

#include "core/mem_blocks_lock.h"

/* The array starts with this many slots and doubles when full. */
#define GROUP_FIRST_CAPACITY 4

void sys_multi_mem_blocks_init(sys_multi_mem_blocks_t *group,
			       sys_multi_mem_blocks_choice_fn_t choice_fn)
{
	if (group == NULL)
		return;
	group->num_allocators = 0;
	group->choice_fn = choice_fn;
	group->allocators = NULL;
	group->capacity = 0;
}

int sys_multi_mem_blocks_add_allocator(sys_multi_mem_blocks_t *group, sys_mem_blocks_t *allocator)
{
	sys_mem_blocks_t **grown;
	size_t cap;

	if (group == NULL || allocator == NULL)
		return -EINVAL;
	if (group->num_allocators == group->capacity) {
		cap = group->capacity == 0 ? GROUP_FIRST_CAPACITY : group->capacity * 2;
		if (cap <= group->capacity || cap > SIZE_MAX / sizeof(*grown))
			return -ENOMEM;
		grown = realloc(group->allocators, cap * sizeof(*grown));
		if (grown == NULL)
			return -ENOMEM;
		group->allocators = grown;
		group->capacity = cap;
	}
	group->allocators[group->num_allocators++] = allocator;
	return 0;
}

void sys_multi_mem_blocks_deinit(sys_multi_mem_blocks_t *group)
{
	if (group == NULL)
		return;
	free(group->allocators);
	group->allocators = NULL;
	group->num_allocators = 0;
	group->capacity = 0;
}

int sys_multi_mem_blocks_alloc(sys_multi_mem_blocks_t *group, void *cfg, size_t count,
			       void **out_blocks, size_t *blk_size)
{
	sys_mem_blocks_t *mb;
	int rc;

	if (group == NULL || out_blocks == NULL)
		return -EINVAL;
	if (count == 0) {
		if (blk_size != NULL)
			*blk_size = 0;
		return 0;
	}
	if (group->choice_fn == NULL)
		return -EINVAL;
	mb = group->choice_fn(group, cfg);
	if (mb == NULL)
		return -EINVAL;
	rc = sys_mem_blocks_alloc(mb, count, out_blocks);
	if (rc != 0)
		return rc;
	if (blk_size != NULL)
		*blk_size = mb->info.blk_sz;
	return 0;
}

/* The member whose buffer holds ptr, or NULL. O(num_allocators). */
static sys_mem_blocks_t *owner_of(const sys_multi_mem_blocks_t *group, const void *ptr)
{
	uintptr_t p = (uintptr_t) ptr;

	for (size_t i = 0; i < group->num_allocators; i++) {
		sys_mem_blocks_t *mb = group->allocators[i];
		uintptr_t base = (uintptr_t) mb->buffer;

		/* num_blocks * blk_sz cannot overflow: sys_mem_blocks_init
		 * refuses it, and a static pool's buffer is an object. */
		if (p >= base && p - base < mb->info.num_blocks * mb->info.blk_sz)
			return mb;
	}
	return NULL;
}

/* Take back the first n blocks of in_blocks, each freed by
 * sys_multi_mem_blocks_free and so free now in its owner (locks held). */
static void unfree(sys_multi_mem_blocks_t *group, size_t n, void **in_blocks)
{
	for (size_t i = 0; i < n; i++)
		(void) mb_get_unlocked(owner_of(group, in_blocks[i]), in_blocks[i], 1);
}

/* The member with the lowest address above `after` (NULL: any), or NULL.
 * A pool added twice is one member here. O(num_allocators). */
static sys_mem_blocks_t *next_member(const sys_multi_mem_blocks_t *group,
				     const sys_mem_blocks_t *after)
{
	sys_mem_blocks_t *best = NULL;

	for (size_t i = 0; i < group->num_allocators; i++) {
		sys_mem_blocks_t *mb = group->allocators[i];

		if ((after == NULL || (uintptr_t) mb > (uintptr_t) after) &&
		    (best == NULL || (uintptr_t) mb < (uintptr_t) best))
			best = mb;
	}
	return best;
}

/*
 * Lock / unlock every member. A group free may touch any member and must
 * undo all of it on a refusal, so it holds them all; taking them in address
 * order, the one global order, means two groups that share pools cannot
 * deadlock. Unlocked members cost a comparison. O(num_allocators^2), and
 * groups are a handful of pools.
 */
static void lock_members(const sys_multi_mem_blocks_t *group)
{
	for (sys_mem_blocks_t *mb = next_member(group, NULL); mb != NULL;
	     mb = next_member(group, mb))
		mb_lock(mb);
}

static void unlock_members(const sys_multi_mem_blocks_t *group)
{
	for (sys_mem_blocks_t *mb = next_member(group, NULL); mb != NULL;
	     mb = next_member(group, mb))
		mb_unlock(mb);
}

int sys_multi_mem_blocks_free(sys_multi_mem_blocks_t *group, size_t count, void **in_blocks)
{
	int rc = 0;

	if (group == NULL || in_blocks == NULL)
		return -EINVAL;
	if (count == 0)
		return 0;
	/* Ownership first, so that -EINVAL leaves every pool untouched (it
	 * reads only what init fixed: no lock needed). */
	for (size_t i = 0; i < count; i++) {
		if (owner_of(group, in_blocks[i]) == NULL)
			return -EINVAL;
	}
	/* Then free one by one; a duplicate finds its block already free.
	 * On the first refusal, take back what was freed, in every pool. */
	lock_members(group);
	for (size_t i = 0; i < count; i++) {
		rc = mb_free_unlocked(owner_of(group, in_blocks[i]), 1, &in_blocks[i]);
		if (rc != 0) {
			unfree(group, i, in_blocks);
			break;
		}
	}
	unlock_members(group);
	return rc;
}
