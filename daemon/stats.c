/*
 * stats: the List, Status, Clients and Map replies, and the start-up check
 * that the unpaged ones fit in a frame (see stats.h). Nothing here changes
 * the daemon's state but its arena, where the replies are built; every
 * object shown is one the asking session may use.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/hello.h"
#include "daemon/lease.h"
#include "daemon/lease_page.h"
#include "daemon/log.h"
#include "daemon/stats.h"

/* Room kept in a frame for the reply envelope around a listing. */
#define ENVELOPE_ROOM 512u

static int no_memory(struct errbuf *e)
{
	return errbuf_set(e, -ENOMEM, "out of reply memory");
}

static int object_stats(struct daemon *d, const struct object *o, Allocd__ObjectStats *os)
{
	allocd__object_stats__init(os);
	os->name = (char *) o->name;
	os->kind = (Allocd__Kind) o->kind;
	os->region = (char *) o->region->cfg->name;
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
		os->choice = (char *) g->choice.desc->name;
		os->members = arena_array(&d->arena, g->mmb.num_allocators, sizeof(*os->members));
		if (os->members == NULL)
			return -ENOMEM;
		for (size_t i = 0; i < g->mmb.num_allocators; i++) {
			os->members[i] = (char *) g->members[i]->name;
			os->peak += g->members[i]->u.pool.mb.max_allocated;
		}
		os->n_members = g->mmb.num_allocators;
	}
	return 0;
}

int stats_list(struct daemon *d, const struct session *s, const char *name, Allocd__ListReply *out,
	       struct errbuf *e)
{
	const struct object_table *l = &d->table;

	allocd__list_reply__init(out);
	out->objects = arena_array(&d->arena, l->nobjects, sizeof(*out->objects));
	if (out->objects == NULL)
		return no_memory(e);
	for (size_t i = 0; i < l->nby_name; i++) {
		const struct object *o = l->by_name[i];
		Allocd__ObjectStats *os;

		if (name[0] != '\0' && strcmp(name, o->name) != 0)
			continue;
		if (!session_may_use(s, o->region)) {
			if (name[0] == '\0')
				continue;
			return session_check_access(s, o, e);
		}
		os = arena_alloc(&d->arena, sizeof(*os));
		if (os == NULL || object_stats(d, o, os) < 0)
			return no_memory(e);
		out->objects[out->n_objects++] = os;
	}
	if (name[0] != '\0' && out->n_objects == 0) {
		char shown[WIRE_NAME_MAX + 1];

		log_sanitize(shown, sizeof(shown), name); /* the client's string */
		return errbuf_set(e, -ENOENT, "no object named '%s'", shown);
	}
	return 0;
}

int stats_status(struct daemon *d, const struct session *s, Allocd__StatusReply *out,
		 struct errbuf *e)
{
	const struct object_table *l = &d->table;
	Allocd__RegionStats *by_index[WIRE_MAX_REGIONS] = {NULL};

	allocd__status_reply__init(out);
	out->daemon_version = PACKAGE_VERSION;
	out->pid = (uint32_t) getpid();
	out->uptime_ms = daemon_now_ms() - d->start_ms;
	out->socket = d->socket_path;
	out->clients = d->nsessions;
	for (uint32_t i = 0; i < d->cfg.max_clients; i++)
		out->detached += d->slots[i] != NULL && d->slots[i]->detached;
	out->max_clients = d->cfg.max_clients;
	out->requests = d->requests;
	out->reclaimed = d->reclaimed;
	out->config_file = d->cfg.file;
	out->config_generation = d->generation;
	out->config_loaded_unix_ms = d->loaded_wall_ms;
	out->reloads_refused = d->reloads_refused;
	out->reload_error = d->reload_error;
	out->takeovers = d->state.takeovers;
	out->last_takeover_unix_ms = d->state.last_takeover_ms;
	out->keeper_pid = d->state.keeper_pid;
	out->state_since_unix_ms = d->state.created_ms;
	out->regions = arena_array(&d->arena, l->nregions, sizeof(*out->regions));
	if (out->regions == NULL)
		return no_memory(e);
	for (size_t i = 0; i < l->nregions; i++) {
		Allocd__RegionStats *rs;

		if (l->regions[i]->gone || !session_may_use(s, l->regions[i]))
			continue;
		rs = arena_alloc(&d->arena, sizeof(*rs));
		if (rs == NULL)
			return no_memory(e);
		allocd__region_stats__init(rs);
		rs->name = (char *) l->regions[i]->cfg->name;
		rs->size = l->regions[i]->size;
		rs->hugepages = l->regions[i]->cfg->hugepages;
		out->regions[out->n_regions++] = rs;
		by_index[i] = rs;
	}
	/* Bytes in use per region: pools and heaps, each counted once. */
	for (size_t i = 0; i < l->nobjects; i++) {
		const struct object *o = l->objects[i];
		Allocd__RegionStats *rs;
		struct tlsf_stats st;

		if (o->gone || o->kind == OBJ_GROUP || !session_may_use(s, o->region))
			continue;
		rs = by_index[o->region->index];
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
	const struct session *x = *(const struct session *const *) a;
	const struct session *y = *(const struct session *const *) b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static Allocd__ClientInfo *client_info(struct daemon *d, const struct session *asker,
				       const struct session *c)
{
	const struct object_table *l = &d->table;
	Allocd__ClientInfo *ci = arena_alloc(&d->arena, sizeof(*ci));

	if (ci == NULL)
		return NULL;
	allocd__client_info__init(ci);
	ci->id = c->id;
	ci->pid = (uint32_t) c->pid;
	ci->uid = (uint32_t) c->uid;
	ci->gid = (uint32_t) c->gid;
	ci->comm = (char *) c->comm;
	ci->client_name = (char *) c->client_name;
	ci->since_unix_ms = c->since_ms;
	ci->detached = c->detached;
	ci->holdings = arena_array(&d->arena, l->nobjects, sizeof(*ci->holdings));
	if (ci->holdings == NULL)
		return NULL;
	for (size_t i = 0; i < l->nobjects; i++) {
		const struct object *o = l->objects[i];
		Allocd__Holding *h;

		if (o->gone || c->held[i].holds == 0 || !session_may_use(asker, o->region))
			continue;
		h = arena_alloc(&d->arena, sizeof(*h));
		if (h == NULL)
			return NULL;
		allocd__holding__init(h);
		h->name = (char *) o->name;
		h->amount = c->held[i].amount;
		h->holds = c->held[i].holds;
		h->cached = o->kind == OBJ_POOL ? lease_cached(c, o) : 0;
		ci->holdings[ci->n_holdings++] = h;
	}
	return ci;
}

int stats_clients(struct daemon *d, const struct session *s, uint64_t after_id,
		  Allocd__ClientsReply *out, struct errbuf *e)
{
	struct session **list = arena_array(&d->arena, d->nsessions, sizeof(*list));
	size_t n = 0, room = d->cfg.max_frame - ENVELOPE_ROOM;

	allocd__clients_reply__init(out);
	out->clients = arena_array(&d->arena, d->nsessions, sizeof(*out->clients));
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
	      uint64_t count, Allocd__MapReply *out, struct errbuf *e)
{
	struct object *o = object_table_find(&d->table, pool);
	/* Two bitmaps (used, cached) share the frame. */
	uint64_t total, most = (uint64_t) (d->cfg.max_frame - ENVELOPE_ROOM) / 2 * 8;
	const struct bitarray *ba;
	uint8_t *bits, *cached;
	int rc;

	allocd__map_reply__init(out);
	if (o == NULL || o->kind != OBJ_POOL)
		return errbuf_set(e, -ENOENT, "no pool named '%s'", pool);
	rc = session_check_access(s, o, e);
	if (rc < 0)
		return rc;
	total = pool_blocks(o);
	if (first > total)
		return errbuf_set(e, -EINVAL, "pool '%s': block %llu is past its %llu blocks", pool,
				  (unsigned long long) first, (unsigned long long) total);
	if (count > total - first)
		count = total - first;
	if (count > most)
		count = most;
	bits = arena_zalloc(&d->arena, (size_t) (count + 7) / 8 + 1);
	cached = arena_zalloc(&d->arena, (size_t) (count + 7) / 8 + 1);
	if (bits == NULL || cached == NULL)
		return no_memory(e);
	lease_cached_map(d, o, first, count, cached);
	ba = &o->u.pool.mb.bitmap;
	for (uint64_t i = 0; i < count; i++)
		if (bitarray_is_used(ba, first + i))
			bits[i / 8] |= (uint8_t) (1u << (i % 8));
	out->first = first;
	out->count = count;
	out->total = total;
	out->used.data = bits;
	out->used.len = (size_t) (count + 7) / 8;
	out->cached.data = cached;
	out->cached.len = out->used.len;
	return 0;
}

int stats_check_fit(struct daemon *d, struct errbuf *e)
{
	size_t n = d->table.nobjects ? d->table.nobjects : 1;
	struct session all = {.regions = UINT64_MAX, .comm = "x", .leases = true, .lease.fd = -1};
	size_t room = d->cfg.max_frame - ENVELOPE_ROOM;
	Allocd__HelloReply hello;
	Allocd__ListReply list;
	Allocd__ClientInfo *ci;
	struct errbuf why;
	size_t sizes[3];
	int rc;

	/* A client that holds some of everything, with the largest counts. */
	all.held = calloc(n, sizeof(*all.held));
	if (all.held == NULL || lease_page_layout(&d->table, all.regions, &all.lease) < 0) {
		free(all.held);
		lease_page_close(&all.lease);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		all.held[i] = (struct session_held){UINT64_MAX, UINT64_MAX};
	memset(all.client_name, 'x', sizeof(all.client_name) - 1);
	rc = hello_reply_build(d, &all, &hello, &why);
	if (rc == 0)
		rc = stats_list(d, &all, "", &list, &why);
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
	if (ci == NULL)
		return errbuf_set(e, -ENOMEM, "cannot build the listing replies: %s", why.msg);
	for (int i = 0; i < 3; i++) {
		static const char *const what[] = {"hello", "list", "per-client"};

		if (sizes[i] > room)
			return errbuf_set(
			    e, -E2BIG,
			    "%zu pools, heaps and groups make a %s reply of %zu bytes, over what "
			    "max_frame %u allows (%zu): raise max_frame or use fewer objects",
			    d->table.nobjects, what[i], sizes[i], d->cfg.max_frame, room);
	}
	return 0;
}
