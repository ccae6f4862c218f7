/*
 * holds: who holds which allocation.
 *
 * An allocation unit is a pool block or a heap allocation, named by
 * (object index, unit) where unit is the block index or the heap offset in
 * granules. Each hold is one entry in a table, on two lists at once:
 *   - the unit's holder list (singly linked from a per-unit head the caller
 *     keeps in a plain array), whose length is the unit's reference count;
 *   - its session's list (doubly linked), which is what reclaim walks when
 *     the connection closes.
 * A session holds a unit at most once (a set): retaining what you already
 * hold is refused by the caller.
 *
 * The table lives in the books (ledger.h), so that a takeover finds it: an
 * entry's persistent fields (used, session, obj, unit, granules) are saved
 * in the undo log before they change; its links, the free list and the
 * counts are derived, rebuilt at a takeover (holds_relink). Entries past
 * the high-water mark (head->hold_top) were never used: they are taken in
 * order once the free list is empty, so the books' pages are touched only
 * as the table fills. No request allocates memory.
 *
 * Invariants: a unit is allocated in its core allocator iff its holder list
 * is non-empty; every entry below the mark is either free (used 0, on the
 * free list) or used and on exactly one unit list and one session list;
 * holds_count() == entries used.
 */
#ifndef ALLOCATORD_DAEMON_HOLDS_H
#define ALLOCATORD_DAEMON_HOLDS_H

#include <stdint.h>

#include "daemon/ledger.h"

#define HOLD_NIL UINT32_MAX

struct hold {
	uint32_t next_unit; /* next holder of the same unit; free list link */
	uint32_t sess_prev;
	uint32_t sess_next;
	/* Persistent (saved before a change): */
	uint32_t used;     /* 1: a hold; 0: free */
	uint32_t session;  /* session slot */
	uint32_t obj;      /* object index */
	uint32_t unit;     /* block index or heap offset in granules */
	uint32_t granules; /* heaps: usable size in granules; pools 0 */
};

#define HOLD_SAVED offsetof(struct hold, used) /* where the persistent part starts */

struct holds {
	struct hold *v;    /* the books' hold section */
	struct ledger *lg; /* the books: their undo log and high-water mark */
	uint32_t cap;      /* entries the books have room for */
	uint32_t limit;    /* the configuration's (a reload may set it
			    * below what is used: then no entry is taken
			    * past it) */
	uint32_t used;
	uint32_t free_head;
};

/* The table of the books lg (empty), holding up to limit entries. */
void holds_init(struct holds *h, struct ledger *lg, uint32_t limit);

/* Relink the table of the books lg after a takeover: the free list from
 * the unused entries below the mark, the count; the unit and session
 * lists are the caller's (holds_link, for each used entry). O(mark). */
void holds_relink(struct holds *h, struct ledger *lg, uint32_t limit);

/* Put used entry idx on the unit list *unit_head and the session list
 * *sess_head, nothing saved (a takeover's rebuild). O(1). */
void holds_link(struct holds *h, uint32_t idx, uint32_t *unit_head, uint32_t *sess_head);

/*
 * Record that `session` holds (obj, unit) (granules: a heap allocation's
 * usable size): push on the unit list *unit_head and the session list
 * *sess_head. 0, or -ENOSPC when the table is full. O(1).
 */
int holds_add(struct holds *h, uint32_t *unit_head, uint32_t *sess_head, uint32_t session,
	      uint32_t obj, uint32_t unit, uint32_t granules);

/* Make sure the next n holds_add() calls succeed, so that an operation can
 * take its holds after it has allocated, without a failure to undo.
 * 0 or -ENOSPC. O(1). */
int holds_reserve(struct holds *h, uint32_t n);

/* The entry by which `session` holds the unit whose list starts at
 * unit_head, or HOLD_NIL. O(holders of the unit). */
uint32_t holds_find(const struct holds *h, uint32_t unit_head, uint32_t session);

/* Entry idx is about to be dropped and that must stand even if the request
 * dropping it is undone by a takeover (ledger_settle): at a takeover it is
 * unused. Call it before holds_remove. */
void holds_settle_drop(struct holds *h, uint32_t idx);

/* Drop entry idx from its unit list *unit_head and session list *sess_head.
 * O(holders of the unit). */
void holds_remove(struct holds *h, uint32_t idx, uint32_t *unit_head, uint32_t *sess_head);

static inline uint32_t holds_count(const struct holds *h)
{
	return h->used;
}

#endif
