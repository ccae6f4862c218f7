/*
 * A plug-in whose descriptor has the wrong name (a plausible typo), so that
 * the object loads but exports no `allocatord_choice`.
 */
#include <stddef.h>

#include "daemon/choice_plugin.h"

static sys_mem_blocks_t *first(sys_multi_mem_blocks_t *group, void *cfg)
{
	return group->num_allocators > 0 ? group->allocators[0] : NULL;
}

const struct allocatord_choice allocatord_choise = {
    .abi_version = ALLOCATORD_CHOICE_ABI_VERSION,
    .name = "no_symbol",
    .choose = first,
};
