/*
 * A plug-in with the right symbol and ABI version but no choose function.
 */
#include <stddef.h>

#include "daemon/choice_plugin.h"

const struct allocatord_choice allocatord_choice = {
    .abi_version = ALLOCATORD_CHOICE_ABI_VERSION,
    .name = "no_choose",
    .choose = NULL,
};
