/*
 * tenant: what one uid has across all its connections -- how many there
 * are, what they hold of each pool and heap, their holds in each region --
 * so that the per-uid limits (max_clients_per_uid, uid_quota, uid_holds)
 * cost O(1) per request: a session finds its uid's entry once, when it
 * connects, and keeps a pointer to it.
 *
 * The table has one entry per connected uid, so at most max_clients; an
 * entry is allocated when its uid's first connection comes and freed when
 * its last one goes (never per request). Entries never move, so sessions
 * may point at them while the table grows (a reload raising max_clients).
 *
 * Invariants: v[i] is NULL or an entry with sessions > 0; held[i] is the
 * sum of held[i].amount over its uid's sessions and holds[r] the number of
 * their hold-table entries on objects of region r.
 */
#ifndef ALLOCATORD_DAEMON_TENANT_H
#define ALLOCATORD_DAEMON_TENANT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct tenant {
	uid_t uid;
	uint32_t sessions; /* its connections, >= 1 */
	uint32_t index;    /* in tenants.v */
	uint64_t *held;    /* per object: blocks (pools) or usable bytes (heaps) */
	uint32_t *holds;   /* per region: hold-table entries */
};

struct tenants {
	struct tenant **v; /* max entries */
	uint32_t max;
	uint32_t used; /* v[used..max) are NULL */
	size_t nobjects, nregions;
};

/* A table for max uids, each with nobjects and nregions counters. 0 or
 * -ENOMEM. */
int tenants_init(struct tenants *t, uint32_t max, size_t nobjects, size_t nregions);

/* Free everything; safe on a zeroed struct. */
void tenants_destroy(struct tenants *t);

/* Room for max uids (never less than now). 0 or -ENOMEM, and then the
 * table is as it was. */
int tenants_grow(struct tenants *t, uint32_t max);

/* The entry of uid, or NULL when it has no connection. O(uids connected). */
struct tenant *tenants_find(const struct tenants *t, uid_t uid);

/* Count one more connection of uid, making its entry if needed. The entry,
 * or NULL when out of memory (or when max uids are connected already, which
 * the caller's max_clients check rules out). O(uids connected). */
struct tenant *tenants_join(struct tenants *t, uid_t uid);

/* Count one connection of x's uid less; the last one frees the entry. */
void tenants_leave(struct tenants *t, struct tenant *x);

#endif
