/*
 * A plug-in built for another ABI: complete in every other way, so that the
 * version check alone refuses it.
 */
#include <stddef.h>

#include "daemon/choice_plugin.h"

static sys_mem_blocks_t *first(sys_multi_mem_blocks_t *group, void *cfg)
{
	return group->num_allocators > 0 ? group->allocators[0] : NULL;
}

const struct allocatord_choice allocatord_choice = {
    .abi_version = 999,
    .name = "bad_abi",
    .choose = first,
};
