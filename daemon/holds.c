/*
 * holds: the table of (session, unit) holds in the books, with its free
 * list (see holds.h). Invariants: every entry below the books' mark is on
 * the free list (used 0) or on exactly one unit list and one session list
 * (used 1); used counts the latter; a persistent field never changes
 * before the undo log has its old value.
 */
#include <errno.h>
#include <stddef.h>

#include "daemon/holds.h"

_Static_assert(sizeof(struct hold) == LEDGER_HOLD_SIZE, "a hold is what the books lay out");
_Static_assert(sizeof(struct hold) - HOLD_SAVED <= LEDGER_REC_MAX, "a hold fits a record");

void holds_init(struct holds *h, struct ledger *lg, uint32_t limit)
{
	h->v = lg->holds;
	h->lg = lg;
	h->cap = lg->head->hold_cap;
	h->limit = limit;
	h->used = 0;
	h->free_head = HOLD_NIL;
}

void holds_relink(struct holds *h, struct ledger *lg, uint32_t limit)
{
	holds_init(h, lg, limit);
	/* Lowest index first on the free list, as a fresh table takes them. */
	for (uint32_t i = lg->head->hold_top; i-- > 0;) {
		if (h->v[i].used) {
			h->used++;
			continue;
		}
		h->v[i].next_unit = h->free_head;
		h->free_head = i;
	}
}

void holds_link(struct holds *h, uint32_t idx, uint32_t *unit_head, uint32_t *sess_head)
{
	struct hold *e = &h->v[idx];

	e->next_unit = *unit_head;
	*unit_head = idx;
	e->sess_prev = HOLD_NIL;
	e->sess_next = *sess_head;
	if (*sess_head != HOLD_NIL)
		h->v[*sess_head].sess_prev = idx;
	*sess_head = idx;
}

/* Free entries: on the free list, plus never used ones up to the smaller
 * of the books' room and the limit. */
static uint32_t holds_room(const struct holds *h)
{
	uint32_t top = h->lg->head->hold_top, lim = h->limit < h->cap ? h->limit : h->cap;

	return top - h->used + (lim > top ? lim - top : 0);
}

int holds_reserve(struct holds *h, uint32_t n)
{
	return holds_room(h) >= n ? 0 : -ENOSPC;
}

void holds_settle_drop(struct holds *h, uint32_t idx)
{
	static const uint32_t unused = 0;

	ledger_settle(h->lg, &h->v[idx].used, &unused, sizeof(unused));
}

/* Save the persistent part of entry e before it changes. */
static void holds_save(struct holds *h, struct hold *e)
{
	ledger_save(h->lg, &e->used, sizeof(*e) - HOLD_SAVED);
}

int holds_add(struct holds *h, uint32_t *unit_head, uint32_t *sess_head, uint32_t session,
	      uint32_t obj, uint32_t unit, uint32_t granules)
{
	struct ledger_head *lh = h->lg->head;
	struct hold *e;
	uint32_t idx;

	if (h->free_head != HOLD_NIL) {
		idx = h->free_head;
		h->free_head = h->v[idx].next_unit;
	} else if (holds_room(h) > 0) {
		/* The mark first: an entry used past it would be lost. */
		idx = lh->hold_top;
		__atomic_store_n(&lh->hold_top, idx + 1, __ATOMIC_RELEASE);
	} else {
		return -ENOSPC;
	}
	e = &h->v[idx];
	holds_save(h, e);
	e->session = session;
	e->obj = obj;
	e->unit = unit;
	e->granules = granules;
	__atomic_store_n(&e->used, 1, __ATOMIC_RELEASE);
	ledger_wrote(h->lg);
	holds_link(h, idx, unit_head, sess_head);
	h->used++;
	return 0;
}

uint32_t holds_find(const struct holds *h, uint32_t unit_head, uint32_t session)
{
	for (uint32_t i = unit_head; i != HOLD_NIL; i = h->v[i].next_unit)
		if (h->v[i].session == session)
			return i;
	return HOLD_NIL;
}

void holds_remove(struct holds *h, uint32_t idx, uint32_t *unit_head, uint32_t *sess_head)
{
	struct hold *e = &h->v[idx];
	uint32_t *link = unit_head;

	holds_save(h, e);
	__atomic_store_n(&e->used, 0, __ATOMIC_RELEASE);
	ledger_wrote(h->lg);
	while (*link != idx)
		link = &h->v[*link].next_unit;
	*link = e->next_unit;

	if (e->sess_prev != HOLD_NIL)
		h->v[e->sess_prev].sess_next = e->sess_next;
	else
		*sess_head = e->sess_next;
	if (e->sess_next != HOLD_NIL)
		h->v[e->sess_next].sess_prev = e->sess_prev;

	e->next_unit = h->free_head;
	h->free_head = idx;
	h->used--;
}
