/*
 * holds: who holds which allocation.
 *
 * An allocation unit is a pool block or a heap allocation, named by
 * (object index, unit) where unit is the block index or the heap's tlsf id.
 * Each hold is one entry in a table, on two lists at once:
 *   - the unit's holder list (singly linked from a per-unit head the caller
 *     keeps in a plain array), whose length is the unit's reference count;
 *   - its session's list (doubly linked), which is what reclaim walks when
 *     the connection closes.
 * A session holds a unit at most once (a set): retaining what you already
 * hold is refused by the caller.
 *
 * Entries are recycled through a free list and the table only grows (doubling,
 * up to a limit), so after warm-up no request allocates memory.
 *
 * Invariants: a unit is allocated in its core allocator iff its holder list is
 * non-empty; every entry is either free or on exactly one unit list and one
 * session list; holds_count() == entries on session lists.
 */
#ifndef ALLOCATORD_DAEMON_HOLDS_H
#define ALLOCATORD_DAEMON_HOLDS_H

#include <stdint.h>

#define HOLD_NIL UINT32_MAX

struct hold {
	uint32_t next_unit; /* next holder of the same unit; free list link */
	uint32_t sess_prev;
	uint32_t sess_next;
	uint32_t session; /* session slot */
	uint32_t obj;     /* object index */
	uint32_t unit;    /* block index or tlsf id */
};

struct holds {
	struct hold *v;
	uint32_t cap;
	uint32_t limit; /* cap never grows past this (a reload may set it
			 * below cap: then the table stops growing) */
	uint32_t used;
	uint32_t free_head;
};

/* Table with room for `initial` holds, growing up to `limit`. 0 or -ENOMEM. */
int holds_init(struct holds *h, uint32_t initial, uint32_t limit);
void holds_destroy(struct holds *h);

/*
 * Record that `session` holds (obj, unit): push on the unit list *unit_head
 * and the session list *sess_head. Returns the new entry's index through
 * *out if not NULL. 0, or -ENOSPC when the table is at its limit or cannot
 * grow. O(1) amortised.
 */
int holds_add(struct holds *h, uint32_t *unit_head, uint32_t *sess_head, uint32_t session,
	      uint32_t obj, uint32_t unit);

/* Make sure the next n holds_add() calls succeed, so that an operation can
 * take its holds after it has allocated, without a failure to undo.
 * 0 or -ENOSPC. */
int holds_reserve(struct holds *h, uint32_t n);

/* The entry by which `session` holds the unit whose list starts at
 * unit_head, or HOLD_NIL. O(holders of the unit). */
uint32_t holds_find(const struct holds *h, uint32_t unit_head, uint32_t session);

/* Drop entry idx from its unit list *unit_head and session list *sess_head.
 * O(holders of the unit). */
void holds_remove(struct holds *h, uint32_t idx, uint32_t *unit_head, uint32_t *sess_head);

static inline uint32_t holds_count(const struct holds *h)
{
	return h->used;
}

#endif
