/*
 * lease: the rules of leased caches -- how many blocks a lease may take, and
 * taking cached blocks back before a pool allocation fails. Everything read
 * from a lease page is checked against the books before it counts.
 */
#include <errno.h>
#include <string.h>

#include "daemon/lease.h"
#include "daemon/lease_page.h"
#include "daemon/log.h"

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* The mapped slot array of s for pool o, or NULL -- also when s holds no
 * block of o: then nothing listed there can count, and scans skip the page
 * (take-back and the counts walk every session). */
static uint32_t *slots_of(const struct session *s, const struct object *o)
{
	if (s->held[o->index].amount == 0)
		return NULL;
	return lease_page_array(&s->lease, o);
}

/* What is left of limit once used is taken. */
static uint64_t room(uint64_t used, uint64_t limit)
{
	return used < limit ? limit - used : 0;
}

uint64_t lease_grantable(const struct daemon *d, const struct session *s, const struct object *o,
			 uint64_t count, uint64_t want)
{
	const struct cfg_region *rc = o->region->cfg;
	uint64_t quota = o->u.pool.cfg->quota, held = s->held[o->index].amount;
	uint64_t free_now = sys_mem_blocks_free_count(&o->u.pool.mb);
	uint64_t reserve = (pool_blocks(o) + 7) / 8;
	uint64_t n = min_u64(want, lease_page_slots(&s->lease, o));

	n = min_u64(n, room(count, d->max_batch));
	if (quota > 0)
		n = min_u64(n, room(held, quota));
	n = min_u64(n, room(o->region->holds, rc->max_holds));
	if (!s->admin) {
		n = min_u64(n, room(s->tenant->held[o->index], o->u.pool.cfg->uid_quota));
		n = min_u64(n, room(s->tenant->holds[o->region->index], rc->uid_holds));
	}
	return min_u64(n, room(reserve, free_now));
}

static bool marked(const uint64_t *marks, uint64_t b)
{
	return (marks[b / 64] >> (b % 64)) & 1;
}

/* Mark in o's marks every block of o that some session's page lists and
 * that session holds, once each; their number. O(sessions * slots). */
static uint64_t mark_cached(const struct daemon *d, struct object *o)
{
	uint64_t *marks = o->u.pool.marks, n = 0;

	for (uint32_t k = 0; k < d->cfg.max_clients; k++) {
		const struct session *s = d->slots[k];
		const uint32_t *slot = s != NULL ? slots_of(s, o) : NULL;
		uint32_t ns = slot != NULL ? lease_page_slots(&s->lease, o) : 0;

		for (uint32_t i = 0; i < ns; i++) {
			uint64_t v = __atomic_load_n(&slot[i], __ATOMIC_RELAXED);

			if (v == 0 || v > pool_blocks(o) || marked(marks, v - 1) ||
			    holds_find(&d->holds, o->u.pool.holders[v - 1], s->slot) == HOLD_NIL)
				continue;
			marks[(v - 1) / 64] |= UINT64_C(1) << ((v - 1) % 64);
			n++;
		}
	}
	return n;
}

/* The lowest run of need blocks of o each free or marked, its first block
 * into *first: 0, or -ENOMEM when there is none. O(blocks). */
static int find_run(const struct object *o, uint64_t need, uint64_t *first)
{
	const struct bitarray *ba = &o->u.pool.mb.bitmap;
	uint64_t len = 0;

	for (uint64_t b = 0; b < pool_blocks(o); b++) {
		len = !bitarray_is_used(ba, b) || marked(o->u.pool.marks, b) ? len + 1 : 0;
		if (len == need) {
			*first = b + 1 - need;
			return 0;
		}
	}
	return -ENOMEM;
}

/* Empty s's slots for pool o that name blocks in [lo, hi), from the first,
 * dropping each block s really holds, until the pool has need free blocks. */
static uint64_t take_from(struct daemon *d, void *ctx, struct session *s, struct object *o,
			  uint64_t lo, uint64_t hi, uint64_t need, lease_drop_fn *drop)
{
	uint32_t *slot = slots_of(s, o), n = lease_page_slots(&s->lease, o);
	sys_mem_blocks_t *mb = &o->u.pool.mb;
	uint64_t taken = 0;

	for (uint32_t i = 0; slot != NULL && i < n && sys_mem_blocks_free_count(mb) < need; i++) {
		uint32_t v = __atomic_load_n(&slot[i], __ATOMIC_RELAXED), h;

		/* A plain load first: most slots are empty or out of the
		 * range, and an exchange would dirty the client's cache lines
		 * for nothing. */
		if (v == 0 || v - 1 < lo || v - 1 >= hi)
			continue;
		h = holds_find(&d->holds, o->u.pool.holders[v - 1], s->slot);
		if (__atomic_exchange_n(&slot[i], 0, __ATOMIC_ACQ_REL) != v)
			continue; /* the client took it first */
		if (h == HOLD_NIL)
			continue; /* not the session's: ignored */
		/* The slot is empty now, whatever becomes of the request: the
		 * drop must outlive a takeover that undoes the rest, or the
		 * block would stay held by a client that no longer lists it.
		 * The first write after the exchange. */
		holds_settle_drop(&d->holds, h);
		drop(ctx, s, o, v - 1, h);
		taken++;
	}
	return taken;
}

uint64_t lease_take_back(struct daemon *d, void *ctx, struct session *first, struct object *o,
			 uint64_t need, bool run, lease_drop_fn *drop)
{
	sys_mem_blocks_t *mb = &o->u.pool.mb;
	uint32_t max = d->cfg.max_clients;
	uint64_t taken = 0, cached = mark_cached(d, o), lo = 0, hi = pool_blocks(o);
	bool enough =
	    run ? find_run(o, need, &lo) == 0 : sys_mem_blocks_free_count(mb) + cached >= need;

	memset(o->u.pool.marks, 0, (pool_blocks(o) + 63) / 64 * sizeof(*o->u.pool.marks));
	if (!enough)
		return 0;
	if (run) {
		/* Only the cached blocks of the run found: the others stay. */
		hi = lo + need;
		need = UINT64_MAX;
	}
	/* The caller's own idle blocks first, then everyone else's in turn. */
	for (uint32_t k = 0; k < max && sys_mem_blocks_free_count(mb) < need; k++) {
		struct session *s = d->slots[(first->slot + k) % max];

		if (s != NULL)
			taken += take_from(d, ctx, s, o, lo, hi, need, drop);
	}
	o->u.pool.taken_back += taken;
	if (taken > 0)
		log_debug("pool '%s': took %llu cached blocks back from clients", o->name,
			  (unsigned long long) taken);
	return taken;
}

uint64_t lease_cached(const struct session *s, const struct object *o)
{
	const uint32_t *slot = slots_of(s, o);
	uint32_t n = lease_page_slots(&s->lease, o);
	uint64_t cached = 0;

	for (uint32_t i = 0; slot != NULL && i < n; i++) {
		uint32_t v = __atomic_load_n(&slot[i], __ATOMIC_RELAXED);

		cached += v != 0 && v <= pool_blocks(o);
	}
	return min_u64(cached, s->held[o->index].amount);
}

void lease_cached_map(const struct daemon *d, const struct object *o, uint64_t first,
		      uint64_t count, uint8_t *bits)
{
	for (uint32_t k = 0; k < d->cfg.max_clients; k++) {
		const struct session *s = d->slots[k];
		const uint32_t *slot = s != NULL ? slots_of(s, o) : NULL;
		uint32_t n = slot != NULL ? lease_page_slots(&s->lease, o) : 0;

		for (uint32_t i = 0; i < n; i++) {
			uint64_t v = __atomic_load_n(&slot[i], __ATOMIC_RELAXED);

			if (v <= first || v - 1 - first >= count ||
			    holds_find(&d->holds, o->u.pool.holders[v - 1], s->slot) == HOLD_NIL)
				continue;
			bits[(v - 1 - first) / 8] |= (uint8_t) (1u << ((v - 1 - first) % 8));
		}
	}
}
