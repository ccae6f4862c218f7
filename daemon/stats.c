#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/lease.h"
#include "daemon/stats.h"

/* Room kept in a frame for the reply envelope around a listing. */
#define ENVELOPE_ROOM 512u

static bool visible(const struct session *s, const struct object *o)
{
	return (s->regions & (UINT64_C(1) << o->region->index)) != 0;
}

static int no_memory(struct ops_err *e)
{
	return ops_fail(e, -ENOMEM, "out of reply memory");
}

/* A pointer array of n entries in the arena (at least one, so never NULL
 * for n == 0 unless the arena is full). */
static void *arena_array(struct daemon *d, size_t n, size_t size)
{
	return arena_zalloc(&d->arena, (n ? n : 1) * size);
}

static uint64_t pool_used(const struct object *o)
{
	return pool_blocks(o) - sys_mem_blocks_free_count(&o->u.pool.mb);
}

/* Group totals: blocks summed over members; a block size only when all
 * members agree. */
static void group_sums(const struct object *o, uint64_t *total, uint64_t *used, uint64_t *bs)
{
	const struct group *g = &o->u.group;

	*total = *used = 0;
	*bs = pool_block_size(g->members[0]);
	for (size_t i = 0; i < g->mmb.num_allocators; i++) {
		*total += pool_blocks(g->members[i]);
		*used += pool_used(g->members[i]);
		if (pool_block_size(g->members[i]) != *bs)
			*bs = 0;
	}
}

int stats_hello(struct daemon *d, const struct session *s, Allocd__HelloReply *out,
		struct ops_err *e)
{
	const struct layout *l = &d->layout;
	uint32_t reply_index[CONFIG_MAX_REGIONS];

	allocd__hello_reply__init(out);
	out->daemon_version = PACKAGE_VERSION;
	out->max_frame = d->cfg.max_frame;
	out->max_batch = d->max_batch;
	out->client_id = s->id;
	out->lease_size = s->lease.size;
	out->max_output = d->cfg.max_output;
	out->regions = arena_array(d, l->nregions, sizeof(*out->regions));
	out->objects = arena_array(d, l->nobjects, sizeof(*out->objects));
	if (out->regions == NULL || out->objects == NULL)
		return no_memory(e);
	/* Regions are numbered in the reply's order, which is also the order of
	 * the memfds that travel with it. */
	for (size_t i = 0; i < l->nregions; i++) {
		Allocd__RegionInfo *ri;

		if (!(s->regions & (UINT64_C(1) << i)))
			continue;
		ri = arena_alloc(&d->arena, sizeof(*ri));
		if (ri == NULL)
			return no_memory(e);
		allocd__region_info__init(ri);
		ri->name = (char *)l->regions[i].cfg->name;
		ri->size = l->regions[i].size;
		ri->bits_size = l->regions[i].cfg->bits_size;
		reply_index[i] = (uint32_t)out->n_regions;
		out->regions[out->n_regions++] = ri;
	}
	for (size_t i = 0; i < l->nobjects; i++) {
		const struct object *o = &l->objects[i];
		Allocd__ObjectInfo *oi;
		uint64_t used;

		if (!visible(s, o))
			continue;
		oi = arena_alloc(&d->arena, sizeof(*oi));
		if (oi == NULL)
			return no_memory(e);
		allocd__object_info__init(oi);
		oi->name = (char *)o->name;
		oi->kind = (Allocd__Kind)o->kind;
		oi->region = reply_index[o->region->index];
		oi->offset = o->offset;
		oi->size = o->size;
		if (o->kind == OBJ_POOL) {
			oi->block_size = pool_block_size(o);
			oi->total = pool_blocks(o);
			oi->quota = o->u.pool.cfg->quota;
			oi->bits_offset = o->u.pool.cfg->bits_offset;
			oi->lease_slots = lease_slots(s, o);
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

static int object_stats(struct daemon *d, const struct object *o, Allocd__ObjectStats *os)
{
	allocd__object_stats__init(os);
	os->name = (char *)o->name;
	os->kind = (Allocd__Kind)o->kind;
	os->region = (char *)o->region->cfg->name;
	if (o->kind == OBJ_POOL) {
		const struct pool *p = &o->u.pool;

		os->block_size = pool_block_size(o);
		os->total = pool_blocks(o);
		os->used = pool_used(o);
		os->peak = p->mb.max_allocated;
		os->failed = p->failed;
		os->quota = p->cfg->quota;
		for (uint32_t i = 0; i < d->cfg.max_clients; i++)
			if (d->slots[i] != NULL)
				os->cached += lease_cached(d->slots[i], o);
	} else if (o->kind == OBJ_HEAP) {
		struct tlsf_stats st;

		tlsf_get_stats(o->u.heap.tlsf, &st);
		os->total = st.size;
		os->used = st.used;
		os->peak = st.peak_used;
		os->failed = st.failed;
		os->largest_free = st.largest_free;
		os->live = st.live;
		os->free_blocks = st.free_blocks;
		os->quota = o->u.heap.cfg->quota;
	} else {
		const struct group *g = &o->u.group;

		group_sums(o, &os->total, &os->used, &os->block_size);
		os->failed = g->failed;
		os->choice = (char *)g->choice.desc->name;
		os->members = arena_array(d, g->mmb.num_allocators, sizeof(*os->members));
		if (os->members == NULL)
			return -ENOMEM;
		for (size_t i = 0; i < g->mmb.num_allocators; i++) {
			os->members[i] = (char *)g->members[i]->name;
			os->peak += g->members[i]->u.pool.mb.max_allocated;
		}
		os->n_members = g->mmb.num_allocators;
	}
	return 0;
}

int stats_list(struct daemon *d, const struct session *s, const char *name,
	       Allocd__ListReply *out, struct ops_err *e)
{
	const struct layout *l = &d->layout;

	allocd__list_reply__init(out);
	out->objects = arena_array(d, l->nobjects, sizeof(*out->objects));
	if (out->objects == NULL)
		return no_memory(e);
	for (size_t i = 0; i < l->nobjects; i++) {
		const struct object *o = l->by_name[i];
		Allocd__ObjectStats *os;
		int rc;

		if (name[0] != '\0' && strcmp(name, o->name) != 0)
			continue;
		if (!visible(s, o)) {
			if (name[0] == '\0')
				continue;
			rc = ops_access(s, o, e);
			return rc;
		}
		os = arena_alloc(&d->arena, sizeof(*os));
		if (os == NULL || object_stats(d, o, os) < 0)
			return no_memory(e);
		out->objects[out->n_objects++] = os;
	}
	if (name[0] != '\0' && out->n_objects == 0) {
		return ops_fail(e, -ENOENT, "no object named '%s'", name);
	}
	return 0;
}

int stats_status(struct daemon *d, const struct session *s, Allocd__StatusReply *out,
		 struct ops_err *e)
{
	const struct layout *l = &d->layout;
	Allocd__RegionStats *by_index[CONFIG_MAX_REGIONS] = {NULL};

	allocd__status_reply__init(out);
	out->daemon_version = PACKAGE_VERSION;
	out->pid = (uint32_t)getpid();
	out->uptime_ms = daemon_now_ms() - d->start_ms;
	out->socket = d->socket_path;
	out->clients = d->nsessions;
	out->max_clients = d->cfg.max_clients;
	out->requests = d->requests;
	out->reclaimed = d->reclaimed;
	out->regions = arena_array(d, l->nregions, sizeof(*out->regions));
	if (out->regions == NULL)
		return no_memory(e);
	for (size_t i = 0; i < l->nregions; i++) {
		Allocd__RegionStats *rs;

		if (!(s->regions & (UINT64_C(1) << i)))
			continue;
		rs = arena_alloc(&d->arena, sizeof(*rs));
		if (rs == NULL)
			return no_memory(e);
		allocd__region_stats__init(rs);
		rs->name = (char *)l->regions[i].cfg->name;
		rs->size = l->regions[i].size;
		rs->hugepages = l->regions[i].cfg->hugepages;
		out->regions[out->n_regions++] = rs;
		by_index[i] = rs;
	}
	/* Bytes in use per region: pools and heaps, each counted once. */
	for (size_t i = 0; i < l->nobjects; i++) {
		const struct object *o = &l->objects[i];
		Allocd__RegionStats *rs = by_index[o->region->index];
		struct tlsf_stats st;

		if (o->kind == OBJ_GROUP || !visible(s, o))
			continue;
		rs->objects++;
		if (o->kind == OBJ_POOL) {
			rs->used += pool_used(o) * pool_block_size(o);
		} else {
			tlsf_get_stats(o->u.heap.tlsf, &st);
			rs->used += st.used;
		}
	}
	return 0;
}

static int by_id(const void *a, const void *b)
{
	const struct session *x = *(const struct session *const *)a;
	const struct session *y = *(const struct session *const *)b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static Allocd__ClientInfo *client_info(struct daemon *d, const struct session *asker,
				       const struct session *c)
{
	const struct layout *l = &d->layout;
	Allocd__ClientInfo *ci = arena_alloc(&d->arena, sizeof(*ci));

	if (ci == NULL)
		return NULL;
	allocd__client_info__init(ci);
	ci->id = c->id;
	ci->pid = (uint32_t)c->pid;
	ci->uid = (uint32_t)c->uid;
	ci->gid = (uint32_t)c->gid;
	ci->comm = (char *)c->comm;
	ci->client_name = (char *)c->client_name;
	ci->since_unix_ms = c->since_ms;
	ci->holdings = arena_array(d, l->nobjects, sizeof(*ci->holdings));
	if (ci->holdings == NULL)
		return NULL;
	for (size_t i = 0; i < l->nobjects; i++) {
		const struct object *o = &l->objects[i];
		Allocd__Holding *h;

		if (c->held[i].holds == 0 || !visible(asker, o))
			continue;
		h = arena_alloc(&d->arena, sizeof(*h));
		if (h == NULL)
			return NULL;
		allocd__holding__init(h);
		h->name = (char *)o->name;
		h->amount = c->held[i].amount;
		h->holds = c->held[i].holds;
		h->cached = o->kind == OBJ_POOL ? lease_cached(c, o) : 0;
		ci->holdings[ci->n_holdings++] = h;
	}
	return ci;
}

int stats_clients(struct daemon *d, const struct session *s, uint64_t after_id,
		  Allocd__ClientsReply *out, struct ops_err *e)
{
	struct session **list = arena_array(d, d->nsessions, sizeof(*list));
	size_t n = 0, room = d->cfg.max_frame - ENVELOPE_ROOM;

	allocd__clients_reply__init(out);
	out->clients = arena_array(d, d->nsessions, sizeof(*out->clients));
	if (list == NULL || out->clients == NULL)
		return no_memory(e);
	for (uint32_t i = 0; i < d->cfg.max_clients; i++)
		if (d->slots[i] != NULL && d->slots[i]->id > after_id)
			list[n++] = d->slots[i];
	qsort(list, n, sizeof(*list), by_id);
	for (size_t i = 0; i < n; i++) {
		Allocd__ClientInfo *ci = client_info(d, s, list[i]);
		size_t size;

		if (ci == NULL)
			return no_memory(e);
		/* Tag and length prefix of a repeated message: <= 6 bytes. */
		size = protobuf_c_message_get_packed_size(&ci->base) + 6;
		if (size > room) {
			out->more = true;
			break;
		}
		room -= size;
		out->clients[out->n_clients++] = ci;
	}
	return 0;
}

int stats_map(struct daemon *d, const struct session *s, const char *pool, uint64_t first,
	      uint64_t count, Allocd__MapReply *out, struct ops_err *e)
{
	struct object *o = layout_find(&d->layout, pool);
	/* Two bitmaps (used, cached) share the frame. */
	uint64_t total, most = (uint64_t) (d->cfg.max_frame - ENVELOPE_ROOM) / 2 * 8;
	const struct bitarray *ba;
	uint8_t *bits, *cached;
	int rc;

	allocd__map_reply__init(out);
	if (o == NULL || o->kind != OBJ_POOL) {
		return ops_fail(e, -ENOENT, "no pool named '%s'", pool);
	}
	rc = ops_access(s, o, e);
	if (rc < 0)
		return rc;
	total = pool_blocks(o);
	if (first > total) {
		return ops_fail(e, -EINVAL, "pool '%s': block %llu is past its %llu blocks", pool,
				(unsigned long long)first, (unsigned long long)total);
	}
	if (count > total - first)
		count = total - first;
	if (count > most)
		count = most;
	bits = arena_zalloc(&d->arena, (size_t)(count + 7) / 8 + 1);
	cached = arena_zalloc(&d->arena, (size_t) (count + 7) / 8 + 1);
	if (bits == NULL || cached == NULL)
		return no_memory(e);
	lease_cached_map(d, o, first, count, cached);
	ba = &o->u.pool.mb.bitmap;
	for (uint64_t i = 0; i < count; i++)
		if (bitarray_is_used(ba, first + i))
			bits[i / 8] |= (uint8_t)(1u << (i % 8));
	out->first = first;
	out->count = count;
	out->total = total;
	out->used.data = bits;
	out->used.len = (size_t)(count + 7) / 8;
	out->cached.data = cached;
	out->cached.len = out->used.len;
	return 0;
}

int stats_check_fit(struct daemon *d, char *err, size_t errlen)
{
	size_t n = d->layout.nobjects ? d->layout.nobjects : 1;
	struct session all = {.regions = UINT64_MAX, .comm = "x", .lease.fd = -1};
	size_t room = d->cfg.max_frame - ENVELOPE_ROOM;
	Allocd__HelloReply hello;
	Allocd__ListReply list;
	Allocd__ClientInfo *ci;
	struct ops_err e;
	size_t sizes[3];
	int rc;

	/* A client that holds some of everything, with the largest counts. */
	all.held = calloc(n, sizeof(*all.held));
	if (all.held == NULL || lease_layout(&d->layout, all.regions, &all.lease) < 0) {
		free(all.held);
		lease_page_close(&all.lease);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		all.held[i] = (struct session_held){UINT64_MAX, UINT64_MAX};
	memset(all.client_name, 'x', sizeof(all.client_name) - 1);
	rc = stats_hello(d, &all, &hello, &e);
	if (rc == 0)
		rc = stats_list(d, &all, "", &list, &e);
	ci = rc == 0 ? client_info(d, &all, &all) : NULL;
	if (ci != NULL) {
		ci->id = ci->since_unix_ms = UINT64_MAX;
		ci->pid = ci->uid = ci->gid = UINT32_MAX;
		for (size_t i = 0; i < ci->n_holdings; i++)
			ci->holdings[i]->cached = UINT64_MAX;
		for (size_t i = 0; i < list.n_objects; i++)
			list.objects[i]->cached = UINT64_MAX;
		sizes[0] = protobuf_c_message_get_packed_size(&hello.base);
		sizes[1] = protobuf_c_message_get_packed_size(&list.base);
		sizes[2] = protobuf_c_message_get_packed_size(&ci->base);
	}
	arena_reset(&d->arena);
	free(all.held);
	lease_page_close(&all.lease);
	if (ci == NULL) {
		snprintf(err, errlen, "cannot build the listing replies: %s", e.msg);
		return -ENOMEM;
	}
	for (int i = 0; i < 3; i++) {
		static const char *const what[] = {"hello", "list", "per-client"};

		if (sizes[i] > room) {
			snprintf(err, errlen,
				 "%zu pools, heaps and groups make a %s reply of %zu bytes, over what max_frame %u allows (%zu): raise max_frame or use fewer objects",
				 d->layout.nobjects, what[i], sizes[i], d->cfg.max_frame, room);
			return -E2BIG;
		}
	}
	return 0;
}
