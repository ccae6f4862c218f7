/*
 * lease_page: a session's lease page (geometry, memfd, mapping) and the
 * shared bits of pool blocks. Invariant: a page's slot arrays lie inside its
 * size, 64-byte aligned, in object order; the daemon only ever writes zeros
 * into a page (lease.c takes values out), never reads a slot as trusted.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "daemon/lease_page.h"

/* Each pool's slots start on their own cache line. */
#define SLOT_ALIGN 64u

int lease_page_layout(const struct object_table *t, uint64_t regions, struct lease_page *p)
{
	uint64_t end = 0;

	size_t n = t->nobjects ? t->nobjects : 1;

	p->at = malloc(n * sizeof(*p->at));
	p->slots = calloc(n, sizeof(*p->slots));
	if (p->at == NULL || p->slots == NULL) {
		free(p->at);
		free(p->slots);
		p->at = NULL;
		p->slots = NULL;
		return -ENOMEM;
	}
	for (size_t i = 0; i < t->nobjects; i++) {
		const struct object *o = &t->objects[i];
		uint64_t slots = o->kind == OBJ_POOL ? o->u.pool.cfg->cache_max : 0;

		p->at[i] = LEASE_NONE;
		if (slots == 0 || !(regions & (UINT64_C(1) << o->region->index)))
			continue;
		p->at[i] = end;
		p->slots[i] = (uint32_t) slots;
		end += (slots * sizeof(uint32_t) + SLOT_ALIGN - 1) & ~(uint64_t) (SLOT_ALIGN - 1);
	}
	p->size = end;
	return 0;
}

int lease_page_open(const struct object_table *t, uint64_t regions, struct lease_page *p)
{
	void *m;
	int rc;

	lease_page_close(p);
	rc = lease_page_layout(t, regions, p);
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
	free(p->slots);
	p->at = NULL;
	p->slots = NULL;
	p->base = NULL;
	p->size = 0;
}

uint32_t lease_page_slots(const struct lease_page *p, const struct object *o)
{
	if (p->at == NULL || p->at[o->index] == LEASE_NONE)
		return 0;
	return p->slots[o->index];
}

uint32_t *lease_page_array(const struct lease_page *p, const struct object *o)
{
	if (p->base == NULL || lease_page_slots(p, o) == 0)
		return NULL;
	return p->base + p->at[o->index] / sizeof(uint32_t);
}

void lease_bit_update(const struct holds *h, struct object *o, uint32_t b)
{
	uint32_t head = o->u.pool.holders[b];
	/* A head past the table is HOLD_NIL or ops' mark of a unit being
	 * freed: no holder either way. */
	int shared = head < h->cap && h->v[head].next_unit != HOLD_NIL;
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
