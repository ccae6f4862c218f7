/*
 * The choice plug-in ABI: how a shared object gives allocatord a choice
 * function for a group of pools (Zephyr's sys_multi_mem_blocks model).
 *
 * A plug-in exports one object named `allocatord_choice`:
 *
 *   #include <allocatord/choice_plugin.h>
 *   static sys_mem_blocks_t *choose(sys_multi_mem_blocks_t *group, void *cfg)
 *   {
 *           const struct allocatord_choice_cfg *c = cfg;
 *           return group->allocators[c->hint % group->num_allocators];
 *   }
 *   const struct allocatord_choice allocatord_choice = {
 *           .abi_version = ALLOCATORD_CHOICE_ABI_VERSION,
 *           .name = "modulo",
 *           .choose = choose,
 *   };
 *
 * and is named in the config: `groups = ({ name = "g"; pools = [...];
 * plugin = "/path/modulo.so"; plugin_arg = "..."; })`. The daemon loads it with
 * dlopen(RTLD_NOW | RTLD_LOCAL) at start and refuses to start if the file does
 * not load, lacks the symbol, or has another abi_version.
 *
 * choose() runs inside the daemon's single thread for every group allocation:
 * it must not block, and should be O(pools). It may read the pools (their
 * info, sys_mem_blocks_runtime_stats_get(), sys_mem_blocks_free_count()) but
 * must not allocate from or free to them. Returning NULL refuses the request
 * (the client gets -EINVAL); returning a pool without room gives -ENOMEM.
 */
#ifndef ALLOCATORD_CHOICE_PLUGIN_H
#define ALLOCATORD_CHOICE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/mem_blocks.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bump on any change to the structs below. */
#define ALLOCATORD_CHOICE_ABI_VERSION 1u
#define ALLOCATORD_CHOICE_SYMBOL      "allocatord_choice"

/* What `cfg` points to in choose(). */
struct allocatord_choice_cfg {
	uint64_t hint; /* the client's 64-bit cfg value */
	size_t count;  /* blocks the client asked for (the whole call) */
	uid_t uid;     /* the client's credentials, from SO_PEERCRED */
	gid_t gid;
	pid_t pid;
	void *state; /* what init() stored, else NULL */
};

struct allocatord_choice {
	uint32_t abi_version; /* ALLOCATORD_CHOICE_ABI_VERSION */
	const char *name;     /* shown by memctl groups */
	/* Optional. Called once per group at start, after every pool is added;
	 * arg is the group's plugin_arg (or NULL). Returns 0 or a negative errno
	 * (the daemon then refuses to start). */
	int (*init)(sys_multi_mem_blocks_t *group, const char *arg, void **state);
	/* Optional. Called once per group at stop. */
	void (*fini)(void *state);
	/* Required. Zephyr's choice function shape; cfg is a
	 * struct allocatord_choice_cfg *. */
	sys_mem_blocks_t *(*choose)(sys_multi_mem_blocks_t *group, void *cfg);
};

#ifdef __cplusplus
}
#endif

#endif
