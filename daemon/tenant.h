/*
 * tenant: what one uid has across all its connections -- how many there
 * are, what they hold of each pool and heap, their holds in each region --
 * so that the per-uid limits (max_clients_per_uid, uid_quota, uid_holds)
 * cost O(1) per request: a session finds its uid's entry once, when it
 * connects, and keeps a pointer to it.
 *
 * It also holds the uid's log budget (TENANT_LOG_BURST lines per
 * TENANT_LOG_WINDOW_MS over all its connections), so that a uid cannot
 * flood the log by opening one connection per burst.
 *
 * The table has at most max_clients entries: one per connected uid, and
 * "resting" ones (sessions == 0) of uids gone with a log line counted, so
 * that reconnecting does not give a fresh log budget. An entry is
 * allocated when its uid's first connection comes (never per request); it
 * is freed when its last one goes if it has logged nothing, else taken
 * over by another uid when the table is full (there is always a resting
 * entry then: the caller's max_clients check leaves a slot free). Entries
 * never move, so sessions may point at them while the table grows (a
 * reload raising max_clients).
 *
 * Invariants: v[i] is NULL or an entry; held[i] is the sum of
 * held[i].amount over its uid's sessions and holds[r] the number of their
 * hold-table entries on objects of region r (all zero while resting).
 */
#ifndef ALLOCATORD_DAEMON_TENANT_H
#define ALLOCATORD_DAEMON_TENANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Log lines all connections of one uid may cause per window (each also
 * within its own SESSION_LOG_BURST); the rest are counted and reported as
 * one "uid N: M log lines suppressed" line when its next window opens, its
 * entry is taken over, or the daemon stops. */
#define TENANT_LOG_BURST     20u
#define TENANT_LOG_WINDOW_MS 60000u

struct tenant {
	uid_t uid;
	uint32_t sessions;       /* its connections; 0 while resting */
	uint32_t index;          /* in tenants.v */
	uint64_t *held;          /* per object: blocks (pools) or usable bytes (heaps) */
	uint32_t *holds;         /* per region: hold-table entries */
	uint32_t log_lines;      /* lines logged in this window */
	uint64_t log_window_ms;  /* when it opened (CLOCK_MONOTONIC) */
	uint64_t log_suppressed; /* lines dropped in this window */
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

/* Counters for nobjects objects and nregions regions from now on (more
 * than before: a reload appended them), zero for the new ones. 0 or
 * -ENOMEM; what grew before a failure stays (harmless), the counts do
 * not change. */
int tenants_widen(struct tenants *t, size_t nobjects, size_t nregions);

/* The entry of uid (maybe resting), or NULL. O(entries). */
struct tenant *tenants_find(const struct tenants *t, uid_t uid);

/* Count one more connection of uid, making its entry if needed (taking
 * over a resting one when the table is full). The entry, or NULL when out
 * of memory (or when max uids are connected already, which the caller's
 * max_clients check rules out). O(entries). */
struct tenant *tenants_join(struct tenants *t, uid_t uid);

/* Count one connection of x's uid less; the last one frees the entry
 * unless it has logged a line (then it rests, see above). */
void tenants_leave(struct tenants *t, struct tenant *x);

/* May x's uid log n more lines now (now_ms: CLOCK_MONOTONIC)? Counts them
 * either way: logged, or suppressed when over TENANT_LOG_BURST. A new
 * window first reports what the last one suppressed. */
bool tenant_log_take(struct tenant *x, uint64_t now_ms, uint64_t n);

#endif
