/*
 * A plug-in whose init refuses (as for a bad plugin_arg). Its fini aborts:
 * choice_open must not call fini after a failed init, and a test that sees
 * this plug-in refused would crash if it did.
 */
#include <errno.h>
#include <stdlib.h>

#include "daemon/choice_plugin.h"

static int init_fails_init(sys_multi_mem_blocks_t *group, const char *arg, void **state)
{
	return -EINVAL;
}

static void init_fails_fini(void *state)
{
	abort();
}

static sys_mem_blocks_t *first(sys_multi_mem_blocks_t *group, void *cfg)
{
	return group->num_allocators > 0 ? group->allocators[0] : NULL;
}

const struct allocatord_choice allocatord_choice = {
    .abi_version = ALLOCATORD_CHOICE_ABI_VERSION,
    .name = "init_fails",
    .init = init_fails_init,
    .fini = init_fails_fini,
    .choose = first,
};
