/*
 * choice: the choice function of each group, built in or from a plug-in.
 *
 * Built in (see choice_builtin.c):
 *   by_size      hint = wanted block size in bytes: the pool with the smallest
 *                blocks >= hint that has room for the count, else the next
 *                larger such pool; NULL if no pool's blocks are large enough;
 *                if none has room, the smallest fitting one (-> -ENOMEM).
 *   round_robin  the member after the previous choice that has room, in turn.
 *   most_free    the member with the most free blocks (lowest index on ties).
 *   index        hint = member index (in config order); NULL if out of range.
 */
#ifndef ALLOCATORD_DAEMON_CHOICE_H
#define ALLOCATORD_DAEMON_CHOICE_H

#include <stddef.h>

#include "core/mem_blocks.h"
#include "daemon/choice_plugin.h"
#include "daemon/errbuf.h"

struct choice {
	const struct allocatord_choice *desc;
	void *dl;    /* dlopen handle for plug-ins, NULL for built-ins */
	void *state; /* from desc->init */
};

/* The built-in descriptors, NULL-terminated. */
extern const struct allocatord_choice *const choice_builtins[];

/*
 * Open the choice function for group (whose pools are already added): the
 * built-in called `name`, or the plug-in at `plugin` (exactly one non-NULL),
 * then run its init with arg. On error returns a negative errno and writes a
 * message to err naming what failed (unknown name with the list of built-ins;
 * dlopen's message; missing symbol; ABI version found and expected; no choose
 * function; init's error); the caller prefixes file:line.
 */
int choice_open(struct choice *c, sys_multi_mem_blocks_t *group, const char *name,
		const char *plugin, const char *arg, char *err, size_t errlen);

/* Run fini and dlclose. Safe on a zeroed struct. */
void choice_close(struct choice *c);

#endif
