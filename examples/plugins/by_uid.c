/*
 * by_uid: an example choice plug-in for allocatord. Each client gets "its"
 * pool of the group by uid: member uid % members. If that pool has no room
 * for the count, the next members in turn (wrapping) are tried, so one busy
 * user spills over rather than failing; with fallback=no it does fail
 * (-ENOMEM), which keeps users strictly apart.
 *
 * plugin_arg: "fallback=yes" (the default, also when plugin_arg is not set)
 * or "fallback=no". Anything else makes init fail with -EINVAL, and the
 * daemon refuses to start.
 *
 * Build it out of the source tree, against the installed header: replace the
 * in-tree include below with
 *         #include <allocatord/choice_plugin.h>
 * and run
 *         cc -std=c11 -O2 -Wall -shared -fPIC $(pkg-config --cflags allocatord-plugin) \
 *                 -o by_uid.so by_uid.c
 *         cp by_uid.so "$(pkg-config --variable=plugindir allocatord-plugin)"
 * (.ci/check-install does exactly that against a staged install). `make`
 * builds this one into examples/plugins/.libs/by_uid.so and `make install`
 * puts it in $(pkglibdir), /usr/local/lib/allocatord by default.
 *
 * Name it in the config; a name without a slash is looked for in
 * $ALLOCATORD_PLUGIN_DIR, else in that directory:
 *         groups = ({ name = "per_user"; pools = ["a", "b", "c"];
 *                     plugin = "by_uid.so"; plugin_arg = "fallback=no"; });
 *
 * The daemon loads the object once even if several groups name it, so
 * anything per group lives in the state init returns, never in a global.
 * Only inline functions of the headers are needed here; a plug-in may also
 * call the libmemcore functions of core/mem_blocks.h (e.g.
 * sys_mem_blocks_runtime_stats_get), which allocatord exports to plug-ins.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/choice_plugin.h"

struct by_uid {
	bool fallback; /* try the other members when the uid's one is full */
};

static int by_uid_init(sys_multi_mem_blocks_t *group, const char *arg, void **state)
{
	struct by_uid *s;
	bool fallback;

	if (arg == NULL || strcmp(arg, "fallback=yes") == 0)
		fallback = true;
	else if (strcmp(arg, "fallback=no") == 0)
		fallback = false;
	else
		return -EINVAL;

	s = malloc(sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->fallback = fallback;
	*state = s;
	return 0;
}

static void by_uid_fini(void *state)
{
	free(state);
}

/* O(members), allocates nothing: it runs for every group allocation. */
static sys_mem_blocks_t *by_uid_choose(sys_multi_mem_blocks_t *group, void *cfg)
{
	const struct allocatord_choice_cfg *c = cfg;
	const struct by_uid *s;
	size_t n = group->num_allocators;
	size_t own;

	if (c == NULL || c->state == NULL || n == 0)
		return NULL;
	s = c->state;
	own = (size_t) c->uid % n;
	if (s->fallback) {
		for (size_t k = 0; k < n; k++) {
			sys_mem_blocks_t *mb = group->allocators[(own + k) % n];

			if (sys_mem_blocks_free_count(mb) >= c->count)
				return mb;
		}
	}
	/* Full (or no fallback): the uid's own pool, so the client gets -ENOMEM. */
	return group->allocators[own];
}

const struct allocatord_choice allocatord_choice = {
    .abi_version = ALLOCATORD_CHOICE_ABI_VERSION,
    .name = "by_uid",
    .init = by_uid_init,
    .fini = by_uid_fini,
    .choose = by_uid_choose,
};
