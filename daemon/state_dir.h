/*
 * state_dir: the directory half of the state (see state.h) -- checking a
 * directory read from a memfd, matching it against a configuration,
 * reordering the object table after it, and writing entries from the
 * table. state.c owns the memfd and the header; this file never touches
 * either.
 */
#ifndef ALLOCATORD_DAEMON_STATE_DIR_H
#define ALLOCATORD_DAEMON_STATE_DIR_H

#include "daemon/state.h"

/*
 * Check the directory of st (entries well formed: names terminated and
 * unique among those not removed, kinds known, region indices in range,
 * no live object in a removed region) and match it against c: every
 * region and object not removed that c has must be where and what it was
 * (same kind, region and geometry); what c lacks will be a tombstone. 0,
 * or -EINVAL with the first mismatch in e (without the discard hint).
 * O(directory * objects of c).
 */
int state_dir__check(const struct state *st, const struct config *c, struct errbuf *e);

/* Reorder t after the directory of st and append to it what t adds (see
 * state_reconcile); with an empty directory (a cold start) t is appended
 * whole. 0, or -ENOMEM with e set and t as it was (st's arrays may have
 * grown: harmless, its counts are as they were). */
int state_dir__reconcile(struct state *st, struct object_table *t, struct errbuf *e);

/* Room for n regions and m objects in st's arrays: 0 or -ENOMEM. */
int state_dir__reserve(struct state *st, size_t n, size_t m);

/* Append t's new entries and mark its removed ones (see state_append): 0,
 * -ENOMEM, or -EINVAL when t is not the table of st's directory. */
int state_dir__append(struct state *st, const struct object_table *t, struct errbuf *e);

#endif
