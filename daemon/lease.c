#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/lease.h"
#include "daemon/log.h"

/* Each pool's slots start on their own cache line. */
#define SLOT_ALIGN 64u

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

int lease_layout(const struct layout *l, uint64_t regions, struct lease_page *p)
{
	uint64_t end = 0;

	p->at = malloc((l->nobjects ? l->nobjects : 1) * sizeof(*p->at));
	if (p->at == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < l->nobjects; i++) {
		const struct object *o = &l->objects[i];
		uint64_t slots = o->kind == OBJ_POOL ? o->u.pool.cfg->cache_max : 0;

		p->at[i] = LEASE_NONE;
		if (slots == 0 || !(regions & (UINT64_C(1) << o->region->index)))
			continue;
		p->at[i] = end;
		end += (slots * sizeof(uint32_t) + SLOT_ALIGN - 1) & ~(uint64_t) (SLOT_ALIGN - 1);
	}
	p->size = end;
	return 0;
}

int lease_page_open(const struct layout *l, uint64_t regions, struct lease_page *p)
{
	void *m;
	int rc;

	lease_page_close(p);
	rc = lease_layout(l, regions, p);
	if (rc < 0 || p->size == 0)
		return rc;
	/* Sealed so that the client cannot shrink it under the daemon's reads
	 * (SIGBUS); the daemon writes nothing but zeros into it. */
	p->fd = memfd_create("allocatord-lease", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (p->fd < 0 || ftruncate(p->fd, (off_t) p->size) < 0 ||
	    fcntl(p->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		rc = -errno;
		lease_page_close(p);
		return rc;
	}
	m = mmap(NULL, p->size, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, 0);
	if (m == MAP_FAILED) {
		rc = -errno;
		lease_page_close(p);
		return rc;
	}
	p->base = m;
	return 0;
}

void lease_page_sent(struct lease_page *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

void lease_page_close(struct lease_page *p)
{
	if (p->base != NULL)
		munmap(p->base, p->size);
	lease_page_sent(p);
	free(p->at);
	p->at = NULL;
	p->base = NULL;
	p->size = 0;
}

uint32_t lease_slots(const struct session *s, const struct object *o)
{
	if (s->lease.at == NULL || s->lease.at[o->index] == LEASE_NONE)
		return 0;
	return o->u.pool.cfg->cache_max;
}

/* The mapped slot array of s for pool o (lease_slots() entries), or NULL --
 * also when s holds no block of o: then nothing listed there can count, and
 * scans skip the page (take-back and the counts walk every session). */
static uint32_t *slots_of(const struct session *s, const struct object *o)
{
	if (s->lease.base == NULL || lease_slots(s, o) == 0 || s->held[o->index].amount == 0)
		return NULL;
	return s->lease.base + s->lease.at[o->index] / sizeof(uint32_t);
}

void lease_bit_update(const struct holds *h, struct object *o, uint32_t b)
{
	uint32_t head = o->u.pool.holders[b];
	int shared = head < UNIT_PENDING && h->v[head].next_unit != HOLD_NIL;
	uint64_t *w = &o->u.pool.bits[b / 64], m = UINT64_C(1) << (b % 64);
	uint64_t old = __atomic_load_n(w, __ATOMIC_RELAXED);
	uint64_t now = shared ? old | m : old & ~m;

	/* Only the daemon writes, from one thread: a load and a store suffice,
	 * and an unchanged word is not written (clients read these lines). */
	if (now != old)
		__atomic_store_n(w, now, __ATOMIC_RELEASE);
}

int lease_bits_clear(const struct object *o)
{
	for (uint64_t i = 0; i < (pool_blocks(o) + 63) / 64; i++)
		if (o->u.pool.bits[i] != 0)
			return 0;
	return 1;
}

uint64_t lease_grantable(const struct daemon *d, const struct session *s, const struct object *o,
			 uint64_t count, uint64_t want)
{
	uint64_t quota = o->u.pool.cfg->quota, held = s->held[o->index].amount;
	uint64_t free_now = sys_mem_blocks_free_count(&o->u.pool.mb);
	uint64_t reserve = (pool_blocks(o) + 7) / 8;
	uint64_t n = min_u64(want, lease_slots(s, o));

	n = min_u64(n, count < d->max_batch ? d->max_batch - count : 0);
	if (quota > 0)
		n = min_u64(n, held < quota ? quota - held : 0);
	return min_u64(n, free_now > reserve ? free_now - reserve : 0);
}

/* Empty s's slots for pool o from the first, dropping each block s really
 * holds, until the pool has need free blocks. */
static uint64_t take_from(struct daemon *d, struct session *s, struct object *o, uint64_t need,
			  lease_drop_fn *drop)
{
	uint32_t *slot = slots_of(s, o), n = lease_slots(s, o);
	sys_mem_blocks_t *mb = &o->u.pool.mb;
	uint64_t taken = 0;

	for (uint32_t i = 0; slot != NULL && i < n && sys_mem_blocks_free_count(mb) < need; i++) {
		uint32_t v, h;

		/* A plain load first: most slots are empty, and an exchange
		 * would dirty the client's cache lines for nothing. */
		if (__atomic_load_n(&slot[i], __ATOMIC_RELAXED) == 0)
			continue;
		v = __atomic_exchange_n(&slot[i], 0, __ATOMIC_ACQ_REL);
		if (v == 0 || v > pool_blocks(o))
			continue; /* the client took it first, or garbage */
		h = holds_find(&d->holds, o->u.pool.holders[v - 1], s->slot);
		if (h == HOLD_NIL)
			continue; /* not the session's: ignored */
		drop(d, s, o, v - 1, h);
		taken++;
	}
	return taken;
}

uint64_t lease_take_back(struct daemon *d, struct session *first, struct object *o,
			 uint64_t need, bool run, lease_drop_fn *drop)
{
	sys_mem_blocks_t *mb = &o->u.pool.mb;
	uint32_t max = d->cfg.max_clients;
	uint64_t taken = 0, cached = 0;

	for (uint32_t k = 0; k < max; k++)
		if (d->slots[k] != NULL)
			cached += lease_cached(d->slots[k], o);
	if (sys_mem_blocks_free_count(mb) + cached < need)
		return 0;
	if (run)
		need = UINT64_MAX;
	/* The caller's own idle blocks first, then everyone else's in turn. */
	for (uint32_t k = 0; k < max && sys_mem_blocks_free_count(mb) < need; k++) {
		struct session *s = d->slots[(first->slot + k) % max];

		if (s != NULL)
			taken += take_from(d, s, o, need, drop);
	}
	o->u.pool.taken_back += taken;
	if (taken > 0)
		log_debug("pool '%s': took %llu cached blocks back from clients", o->name,
			  (unsigned long long)taken);
	return taken;
}

uint64_t lease_cached(const struct session *s, const struct object *o)
{
	const uint32_t *slot = slots_of(s, o);
	uint32_t n = lease_slots(s, o);
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
		uint32_t n = slot != NULL ? lease_slots(s, o) : 0;

		for (uint32_t i = 0; i < n; i++) {
			uint64_t v = __atomic_load_n(&slot[i], __ATOMIC_RELAXED);

			if (v <= first || v - 1 - first >= count ||
			    holds_find(&d->holds, o->u.pool.holders[v - 1], s->slot) == HOLD_NIL)
				continue;
			bits[(v - 1 - first) / 8] |= (uint8_t) (1u << ((v - 1 - first) % 8));
		}
	}
}
