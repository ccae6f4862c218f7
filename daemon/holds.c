/*
 * holds: the table of (session, unit) holds with its free list (see
 * holds.h). Invariants: every entry is on the free list or on exactly one
 * unit list and one session list; used counts the latter; cap only grows,
 * and never past limit.
 */
#include <errno.h>
#include <stdlib.h>

#include "daemon/holds.h"

/* Thread entries [from, to) onto the free list, lowest index first. */
static void holds_free_range(struct holds *h, uint32_t from, uint32_t to)
{
	for (uint32_t i = to; i > from; i--) {
		h->v[i - 1].next_unit = h->free_head;
		h->free_head = i - 1;
	}
}

int holds_init(struct holds *h, uint32_t initial, uint32_t limit)
{
	if (initial == 0 || initial > limit)
		initial = limit < 1024 ? limit : 1024;
	h->v = calloc(initial, sizeof(*h->v));
	if (h->v == NULL)
		return -ENOMEM;
	h->cap = initial;
	h->limit = limit;
	h->used = 0;
	h->free_head = HOLD_NIL;
	holds_free_range(h, 0, initial);
	return 0;
}

void holds_destroy(struct holds *h)
{
	free(h->v);
	h->v = NULL;
	h->cap = h->used = 0;
	h->free_head = HOLD_NIL;
}

static int holds_grow(struct holds *h)
{
	uint32_t cap = h->cap > h->limit / 2 ? h->limit : h->cap * 2;
	struct hold *v;

	if (cap <= h->cap)
		return -ENOSPC;
	v = realloc(h->v, (size_t) cap * sizeof(*v));
	if (v == NULL)
		return -ENOSPC;
	h->v = v;
	holds_free_range(h, h->cap, cap);
	h->cap = cap;
	return 0;
}

int holds_reserve(struct holds *h, uint32_t n)
{
	while (h->cap - h->used < n)
		if (holds_grow(h) < 0)
			return -ENOSPC;
	return 0;
}

int holds_add(struct holds *h, uint32_t *unit_head, uint32_t *sess_head, uint32_t session,
	      uint32_t obj, uint32_t unit)
{
	struct hold *e;
	uint32_t idx;

	if (h->free_head == HOLD_NIL && holds_grow(h) < 0)
		return -ENOSPC;
	idx = h->free_head;
	e = &h->v[idx];
	h->free_head = e->next_unit;

	e->session = session;
	e->obj = obj;
	e->unit = unit;
	e->next_unit = *unit_head;
	*unit_head = idx;
	e->sess_prev = HOLD_NIL;
	e->sess_next = *sess_head;
	if (*sess_head != HOLD_NIL)
		h->v[*sess_head].sess_prev = idx;
	*sess_head = idx;
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
