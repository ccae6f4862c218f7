/*
 * hello: the reply that opens a session -- the daemon's limits, and the
 * regions and objects the client may use. The regions are numbered in the
 * reply's order, which is also the order of the memfds the server sends
 * with it (SCM_RIGHTS: the regions, then their shared bits, then the
 * session's lease page), so the two must be built from the same walk over
 * the regions in table order filtered by session_may_use(). Pools carry
 * where their shared bits and their lease slots are.
 */
#include <errno.h>

#include "daemon/hello.h"

int hello_reply_build(struct daemon *d, const struct session *s, Allocd__HelloReply *out,
		      struct errbuf *e)
{
	const struct object_table *l = &d->table;
	uint32_t reply_index[WIRE_MAX_REGIONS];

	allocd__hello_reply__init(out);
	out->daemon_version = PACKAGE_VERSION;
	out->max_frame = d->cfg.max_frame;
	out->max_batch = d->max_batch;
	out->client_id = s->id;
	out->lease_size = s->lease.size;
	out->max_output = d->cfg.max_output;
	out->regions = arena_array(&d->arena, l->nregions, sizeof(*out->regions));
	out->objects = arena_array(&d->arena, l->nobjects, sizeof(*out->objects));
	if (out->regions == NULL || out->objects == NULL)
		return errbuf_set(e, -ENOMEM, "out of reply memory");
	/* Regions are numbered in the reply's order, which is also the order of
	 * the memfds that travel with it. */
	for (size_t i = 0; i < l->nregions; i++) {
		Allocd__RegionInfo *ri;

		if (l->regions[i]->gone || !session_may_use(s, l->regions[i]))
			continue;
		ri = arena_alloc(&d->arena, sizeof(*ri));
		if (ri == NULL)
			return errbuf_set(e, -ENOMEM, "out of reply memory");
		allocd__region_info__init(ri);
		ri->name = (char *) l->regions[i]->cfg->name;
		ri->size = l->regions[i]->size;
		ri->bits_size = s->leases ? l->regions[i]->bits_size : 0;
		reply_index[i] = (uint32_t) out->n_regions;
		out->regions[out->n_regions++] = ri;
	}
	for (size_t i = 0; i < l->nobjects; i++) {
		const struct object *o = l->objects[i];
		Allocd__ObjectInfo *oi;
		uint64_t used;

		if (o->gone || !session_may_use(s, o->region))
			continue;
		oi = arena_alloc(&d->arena, sizeof(*oi));
		if (oi == NULL)
			return errbuf_set(e, -ENOMEM, "out of reply memory");
		allocd__object_info__init(oi);
		oi->name = (char *) o->name;
		oi->kind = (Allocd__Kind) o->kind;
		oi->region = reply_index[o->region->index];
		oi->offset = o->offset;
		oi->size = o->size;
		if (o->kind == OBJ_POOL) {
			oi->block_size = pool_block_size(o);
			oi->total = pool_blocks(o);
			oi->quota = o->u.pool.cfg->quota;
			oi->bits_offset = s->leases ? o->u.pool.cfg->bits_offset : 0;
			oi->lease_slots = lease_page_slots(&s->lease, o);
			oi->lease_offset = oi->lease_slots > 0 ? s->lease.at[i] : 0;
			oi->client_cache = o->u.pool.cfg->client_cache;
		} else if (o->kind == OBJ_HEAP) {
			oi->total = o->size;
			oi->quota = o->u.heap.cfg->quota;
		} else {
			group_sums(o, &oi->total, &used, &oi->block_size);
		}
		out->objects[out->n_objects++] = oi;
	}
	return 0;
}
