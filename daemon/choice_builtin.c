/*
 * The built-in choice functions. Each is a descriptor of the plug-in ABI
 * (daemon/choice_plugin.h), so that choice.c treats built-ins and plug-ins
 * alike. Every choose() here is O(members), allocates nothing and never
 * blocks: it runs for every group allocation.
 *
 * "Room" below means the pool has at least cfg->count free blocks, where count
 * is what the whole call asks for: a group allocation is served by one pool,
 * all or nothing.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "daemon/choice.h"

static int has_room(const sys_mem_blocks_t *mb, size_t count)
{
	return sys_mem_blocks_free_count(mb) >= count;
}

/*
 * by_size: hint = the wanted block size in bytes (0: any size).
 * Among the members whose blocks are at least hint bytes, the one with the
 * smallest blocks that has room (ties: lowest index). If none of them has
 * room, the smallest fitting one anyway, so that the allocation fails -ENOMEM
 * ("full") rather than -EINVAL ("no such size"). NULL (-> -EINVAL) if no
 * member's blocks are large enough, or without a cfg. One pass, O(members).
 */
static sys_mem_blocks_t *by_size_choose(sys_multi_mem_blocks_t *group, void *cfg)
{
	const struct allocatord_choice_cfg *c = cfg;
	sys_mem_blocks_t *fit = NULL;  /* smallest blocks >= hint */
	sys_mem_blocks_t *room = NULL; /* the same, among those with room */

	if (c == NULL)
		return NULL;
	for (size_t i = 0; i < group->num_allocators; i++) {
		sys_mem_blocks_t *mb = group->allocators[i];
		size_t sz = mb->info.blk_sz;

		if ((uint64_t) sz < c->hint)
			continue;
		/* Strict < keeps the lowest index among equal block sizes. */
		if (fit == NULL || sz < fit->info.blk_sz)
			fit = mb;
		if (has_room(mb, c->count) && (room == NULL || sz < room->info.blk_sz))
			room = mb;
	}
	return room != NULL ? room : fit;
}

/*
 * round_robin: hint ignored. Each call starts at the member after the previous
 * choice (in config order, wrapping) and takes the first one with room; that
 * member becomes the previous choice. If none has room, the member after the
 * previous choice (-> -ENOMEM), and the turn does not advance. The cursor is
 * per group (init allocates it), so groups take turns independently.
 */
struct round_robin {
	size_t cursor; /* index of the previous choice */
};

static int round_robin_init(sys_multi_mem_blocks_t *group, const char *arg, void **state)
{
	struct round_robin *rr = malloc(sizeof(*rr));

	if (rr == NULL)
		return -ENOMEM;
	/* "Previous" is the last member, so the first call starts at member 0. */
	rr->cursor = group->num_allocators > 0 ? group->num_allocators - 1 : 0;
	*state = rr;
	return 0;
}

static void round_robin_fini(void *state)
{
	free(state);
}

static sys_mem_blocks_t *round_robin_choose(sys_multi_mem_blocks_t *group, void *cfg)
{
	const struct allocatord_choice_cfg *c = cfg;
	struct round_robin *rr;
	size_t n = group->num_allocators;
	size_t start;

	if (c == NULL || c->state == NULL || n == 0)
		return NULL;
	rr = c->state;
	start = (rr->cursor + 1) % n;
	for (size_t k = 0; k < n; k++) {
		size_t i = (start + k) % n;

		if (has_room(group->allocators[i], c->count)) {
			rr->cursor = i;
			return group->allocators[i];
		}
	}
	return group->allocators[start];
}

/*
 * most_free: hint ignored. The member with the most free *blocks* (not
 * bytes: a group mixing block sizes is balanced by count, which is what a
 * client asking for N blocks cares about); ties go to the lowest index. If
 * that one has no room for the count, no member has. NULL for an empty group.
 */
static sys_mem_blocks_t *most_free_choose(sys_multi_mem_blocks_t *group, void *cfg)
{
	sys_mem_blocks_t *best = NULL;
	size_t best_free = 0;

	for (size_t i = 0; i < group->num_allocators; i++) {
		size_t f = sys_mem_blocks_free_count(group->allocators[i]);

		if (best == NULL || f > best_free) {
			best = group->allocators[i];
			best_free = f;
		}
	}
	return best;
}

/*
 * index: hint = the member's index in config order (0 first). NULL (->
 * -EINVAL) if hint >= the number of members, or without a cfg. O(1).
 */
static sys_mem_blocks_t *index_choose(sys_multi_mem_blocks_t *group, void *cfg)
{
	const struct allocatord_choice_cfg *c = cfg;

	if (c == NULL || c->hint >= (uint64_t) group->num_allocators)
		return NULL;
	return group->allocators[c->hint];
}

static const struct allocatord_choice choice_by_size = {
    .abi_version = ALLOCATORD_CHOICE_ABI_VERSION,
    .name = "by_size",
    .choose = by_size_choose,
};

static const struct allocatord_choice choice_round_robin = {
    .abi_version = ALLOCATORD_CHOICE_ABI_VERSION,
    .name = "round_robin",
    .init = round_robin_init,
    .fini = round_robin_fini,
    .choose = round_robin_choose,
};

static const struct allocatord_choice choice_most_free = {
    .abi_version = ALLOCATORD_CHOICE_ABI_VERSION,
    .name = "most_free",
    .choose = most_free_choose,
};

static const struct allocatord_choice choice_index = {
    .abi_version = ALLOCATORD_CHOICE_ABI_VERSION,
    .name = "index",
    .choose = index_choose,
};

/* The order here is the order of the list in choice_open's "unknown" message. */
const struct allocatord_choice *const choice_builtins[] = {
    &choice_by_size, &choice_round_robin, &choice_most_free, &choice_index, NULL,
};
