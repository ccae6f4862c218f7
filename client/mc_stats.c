/*
 * mc_stats.c -- what there is and how it is used: List (objects), Status
 * (daemon and regions), Clients (paged) and Map (pool bitmaps, in as many
 * requests as the frame limit needs).
 *
 * Every call fills up to max entries and reports in *n how many exist, so a
 * caller can size its array and ask again. The counts are optional (NULL).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "client/mc_internal.h"

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* List of one object (name) or of all (NULL). Caller holds c->lock. */
static int list(mc_client_t *c, const char *name, Allocd__Reply **r)
{
	Allocd__Request req = ALLOCD__REQUEST__INIT;
	Allocd__List l = ALLOCD__LIST__INIT;

	l.name = (char *) (name != NULL ? name : "");
	req.body_case = ALLOCD__REQUEST__BODY_LIST;
	req.list = &l;
	return mc__call(c, &req, ALLOCD__REPLY__BODY_LIST, r);
}

static void fill_info(struct mc_info *info, const Allocd__ObjectStats *os)
{
	memset(info, 0, sizeof(*info));
	mc__copy_name(info->name, os->name);
	info->kind = (enum mc_kind) os->kind;
	info->block_size = os->block_size;
	info->total = os->total;
	info->used = os->used;
}

static void fill_stats(struct mc_stats *st, const Allocd__ObjectStats *os)
{
	memset(st, 0, sizeof(*st));
	fill_info(&st->info, os);
	mc__copy_name(st->region, os->region);
	st->peak = os->peak;
	st->failed = os->failed;
	st->quota = os->quota;
	st->largest_free = os->largest_free;
	st->live = os->live;
	st->free_blocks = os->free_blocks;
	mc__copy_name(st->choice, os->choice);
	st->nmembers = os->n_members;
	st->cached = os->cached;
}

/* A group's cached blocks: the sum over its member pools, as listed in all
 * (a listing of every object; the daemon reports cached per pool only).
 * Members a group names are distinct pools. */
static uint64_t group_cached(const Allocd__ListReply *all, const Allocd__ObjectStats *g)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < g->n_members; i++)
		for (size_t j = 0; j < all->n_objects; j++)
			if (all->objects[j]->kind == ALLOCD__KIND__KIND_POOL &&
			    strcmp(all->objects[j]->name, g->members[i]) == 0)
				sum += all->objects[j]->cached;
	return sum;
}

/* Fill the groups of out[0..n) (from one) with group_cached. A listing of
 * one object needs a listing of all for its members: one more request,
 * only when that object is a group. Caller holds c->lock. */
static int groups_cached(mc_client_t *c, const Allocd__ListReply *one, struct mc_stats *out,
			 size_t n, bool whole)
{
	Allocd__Reply *r = NULL;
	const Allocd__ListReply *all = one;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (out[i].info.kind != MC_GROUP)
			continue;
		if (!whole && r == NULL) {
			rc = list(c, NULL, &r);
			if (rc < 0)
				break;
			all = r->list;
		}
		out[i].cached = group_cached(all, one->objects[i]);
	}
	if (r != NULL)
		mc__reply_free(c, r);
	return rc;
}

int mc_list(mc_client_t *c, struct mc_info *out, size_t max, size_t *n)
{
	Allocd__Reply *r;
	int rc;

	if (c == NULL || (max > 0 && out == NULL))
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	rc = list(c, NULL, &r);
	if (rc == 0) {
		for (size_t i = 0; i < min_size(max, r->list->n_objects); i++)
			fill_info(&out[i], r->list->objects[i]);
		if (n != NULL)
			*n = r->list->n_objects;
		mc__reply_free(c, r);
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int mc_stats(mc_client_t *c, const char *name, struct mc_stats *out, size_t max, size_t *n)
{
	Allocd__Reply *r;
	int rc;

	if (c == NULL || (max > 0 && out == NULL) || (name != NULL && mc__check_name(name) < 0))
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	rc = list(c, name, &r);
	if (rc == 0) {
		size_t filled = min_size(max, r->list->n_objects);

		for (size_t i = 0; i < filled; i++)
			fill_stats(&out[i], r->list->objects[i]);
		rc = groups_cached(c, r->list, out, filled, name == NULL);
		if (rc == 0 && n != NULL)
			*n = r->list->n_objects;
		mc__reply_free(c, r);
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int mc_group_members(mc_client_t *c, const char *group, char (*names)[64], size_t max, size_t *n)
{
	const Allocd__ObjectStats *os;
	Allocd__Reply *r;
	int rc;

	if (c == NULL || (max > 0 && names == NULL) || mc__check_name(group) < 0)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	rc = list(c, group, &r);
	if (rc == 0) {
		os = r->list->n_objects == 1 ? r->list->objects[0] : NULL;
		if (os == NULL)
			rc = -EPROTO;
		else if (os->kind != ALLOCD__KIND__KIND_GROUP)
			rc = -EINVAL; /* a pool or heap of that name */
		for (size_t i = 0; rc == 0 && i < min_size(max, os->n_members); i++)
			mc__copy_name(names[i], os->members[i]);
		if (rc == 0 && n != NULL)
			*n = os->n_members;
		mc__reply_free(c, r);
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

static void fill_status(struct mc_status *st, const Allocd__StatusReply *sr)
{
	memset(st, 0, sizeof(*st));
	snprintf(st->daemon_version, sizeof(st->daemon_version), "%s", sr->daemon_version);
	st->pid = sr->pid;
	st->uptime_ms = sr->uptime_ms;
	snprintf(st->socket, sizeof(st->socket), "%s", sr->socket);
	st->clients = sr->clients;
	st->max_clients = sr->max_clients;
	st->requests = sr->requests;
	st->reclaimed = sr->reclaimed;
	snprintf(st->config_file, sizeof(st->config_file), "%s", sr->config_file);
	st->config_generation = sr->config_generation;
	st->config_loaded_unix_ms = sr->config_loaded_unix_ms;
	st->reloads_refused = sr->reloads_refused;
	snprintf(st->reload_error, sizeof(st->reload_error), "%s", sr->reload_error);
	st->takeovers = sr->takeovers;
	st->last_takeover_unix_ms = sr->last_takeover_unix_ms;
	st->state_since_unix_ms = sr->state_since_unix_ms;
	st->keeper_pid = sr->keeper_pid;
	st->detached = sr->detached;
}

static void fill_region(struct mc_region_status *rs, const Allocd__RegionStats *r)
{
	memset(rs, 0, sizeof(*rs));
	mc__copy_name(rs->name, r->name);
	rs->size = r->size;
	rs->used = r->used;
	rs->hugepages = r->hugepages;
	rs->objects = r->objects;
}

int mc_status(mc_client_t *c, struct mc_status *st, struct mc_region_status *regions, size_t max,
	      size_t *n)
{
	Allocd__Request req = ALLOCD__REQUEST__INIT;
	Allocd__Status s = ALLOCD__STATUS__INIT;
	const Allocd__StatusReply *sr;
	Allocd__Reply *r;
	int rc;

	if (c == NULL || st == NULL || (max > 0 && regions == NULL))
		return -EINVAL;
	req.body_case = ALLOCD__REQUEST__BODY_STATUS;
	req.status = &s;
	pthread_mutex_lock(&c->lock);
	rc = mc__call(c, &req, ALLOCD__REPLY__BODY_STATUS_INFO, &r);
	if (rc == 0) {
		sr = r->status_info;
		fill_status(st, sr);
		for (size_t i = 0; i < min_size(max, sr->n_regions); i++)
			fill_region(&regions[i], sr->regions[i]);
		if (n != NULL)
			*n = sr->n_regions;
		mc__reply_free(c, r);
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

static void fill_client(struct mc_client_info *ci, const Allocd__ClientInfo *in)
{
	memset(ci, 0, sizeof(*ci));
	ci->id = in->id;
	ci->pid = in->pid;
	ci->uid = in->uid;
	ci->gid = in->gid;
	snprintf(ci->comm, sizeof(ci->comm), "%s", in->comm);
	mc__copy_name(ci->name, in->client_name);
	ci->since_unix_ms = in->since_unix_ms;
	ci->nholdings = in->n_holdings;
	ci->detached = in->detached;
}

static void fill_holding(struct mc_holding *h, uint64_t client_id, const Allocd__Holding *in)
{
	memset(h, 0, sizeof(*h));
	h->client_id = client_id;
	mc__copy_name(h->name, in->name);
	h->amount = in->amount;
	h->holds = in->holds;
	h->cached = in->cached;
}

/* Where a listing of clients has got to, across pages. */
struct clients_walk {
	struct mc_client_info *out;
	size_t max, n;
	struct mc_holding *holdings;
	size_t hmax, hn;
	uint64_t after_id; /* the last id seen */
};

/* Take one page. Ids must grow (the daemon lists in id order): anything
 * else could make the walk go round for ever. */
static int take_page(struct clients_walk *w, const Allocd__ClientsReply *cr)
{
	if (cr->more && cr->n_clients == 0)
		return -EPROTO;
	for (size_t i = 0; i < cr->n_clients; i++) {
		const Allocd__ClientInfo *ci = cr->clients[i];

		if (ci->id <= w->after_id)
			return -EPROTO;
		w->after_id = ci->id;
		if (w->n < w->max)
			fill_client(&w->out[w->n], ci);
		w->n++;
		for (size_t j = 0; j < ci->n_holdings; j++, w->hn++)
			if (w->hn < w->hmax)
				fill_holding(&w->holdings[w->hn], ci->id, ci->holdings[j]);
	}
	return 0;
}

int mc_clients(mc_client_t *c, struct mc_client_info *out, size_t max, size_t *n,
	       struct mc_holding *holdings, size_t hmax, size_t *hn)
{
	struct clients_walk w = {.out = out, .max = max, .holdings = holdings, .hmax = hmax};
	bool more = true;
	int rc = 0;

	if (c == NULL || (max > 0 && out == NULL) || (hmax > 0 && holdings == NULL))
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	while (rc == 0 && more) {
		Allocd__Request req = ALLOCD__REQUEST__INIT;
		Allocd__Clients cl = ALLOCD__CLIENTS__INIT;
		Allocd__Reply *r;

		cl.after_id = w.after_id;
		req.body_case = ALLOCD__REQUEST__BODY_CLIENTS;
		req.clients = &cl;
		rc = mc__call(c, &req, ALLOCD__REPLY__BODY_CLIENTS, &r);
		if (rc < 0)
			break;
		rc = take_page(&w, r->clients);
		more = r->clients->more;
		mc__reply_free(c, r);
	}
	pthread_mutex_unlock(&c->lock);
	if (rc == 0 && n != NULL)
		*n = w.n;
	if (rc == 0 && hn != NULL)
		*hn = w.hn;
	return rc;
}

/* OR the first count bits of src into dst from bit at on (dst's bits past
 * at are still zero). */
static void put_bits(uint8_t *dst, uint64_t at, const uint8_t *src, uint64_t count)
{
	unsigned shift = (unsigned) (at % 8);
	uint8_t *d = dst + at / 8;

	for (uint64_t i = 0; i < (count + 7) / 8; i++) {
		unsigned b = src[i];

		if (i == count / 8)
			b &= (1u << (count % 8)) - 1; /* the bits past count */
		d[i] |= (uint8_t) (b << shift);
		if (shift > 0 && (b >> (8 - shift)) != 0)
			d[i + 1] |= (uint8_t) (b >> (8 - shift));
	}
}

/* Which bitmap of a Map reply a caller wants. */
enum map_kind { MAP_USED, MAP_CACHED };

/* One Map request for blocks [first, first + count) of pool. */
static int map_part(mc_client_t *c, const char *pool, uint64_t first, uint64_t count,
		    Allocd__Reply **r)
{
	Allocd__Request req = ALLOCD__REQUEST__INIT;
	Allocd__Map m = ALLOCD__MAP__INIT;

	m.pool = (char *) pool;
	m.first = first;
	m.count = count;
	req.body_case = ALLOCD__REQUEST__BODY_MAP;
	req.map = &m;
	return mc__call(c, &req, ALLOCD__REPLY__BODY_MAP, r);
}

/*
 * As many Map requests as it takes: each reply may cover fewer blocks than
 * asked (it must fit a frame). The first reply says the pool's size, which
 * cuts count; every reply must then cover at least one block and start
 * where the previous one stopped, or the walk could not end. Both bitmaps
 * of a reply cover the same blocks; kind picks the one copied.
 */
static int pool_map(mc_client_t *c, const char *pool, uint64_t first, uint64_t count, uint8_t *bits,
		    uint64_t *total, enum map_kind kind)
{
	uint64_t done = 0, want = count;
	bool started = false;
	int rc = 0;

	while (rc == 0 && (!started || done < want)) {
		const Allocd__MapReply *mr;
		const ProtobufCBinaryData *b;
		Allocd__Reply *r;

		rc = map_part(c, pool, first + done, want - done, &r);
		if (rc < 0)
			break;
		mr = r->map;
		b = kind == MAP_USED ? &mr->used : &mr->cached;
		if (!started) {
			started = true;
			*total = mr->total;
			if (mr->total < first)
				rc = -EPROTO;
			else if (want > mr->total - first)
				want = mr->total - first;
			if (rc == 0 && want > 0)
				memset(bits, 0, (size_t) ((want + 7) / 8));
		}
		if (rc == 0 && (mr->first != first + done || mr->count > want - done ||
				b->len < (mr->count + 7) / 8 || (mr->count == 0 && done < want)))
			rc = -EPROTO;
		if (rc == 0) {
			put_bits(bits, done, b->data, mr->count);
			done += mr->count;
		}
		mc__reply_free(c, r);
	}
	return rc;
}

static int map_of(mc_client_t *c, const char *pool, uint64_t first, uint64_t count, uint8_t *bits,
		  uint64_t *total, enum map_kind kind)
{
	uint64_t tot = 0;
	int rc;

	if (c == NULL || (count > 0 && bits == NULL) || mc__check_name(pool) < 0)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	rc = pool_map(c, pool, first, count, bits, &tot, kind);
	pthread_mutex_unlock(&c->lock);
	if (rc == 0 && total != NULL)
		*total = tot;
	return rc;
}

int mc_pool_map(mc_client_t *c, const char *pool, uint64_t first, uint64_t count, uint8_t *bits,
		uint64_t *total)
{
	return map_of(c, pool, first, count, bits, total, MAP_USED);
}

int mc_pool_cache_map(mc_client_t *c, const char *pool, uint64_t first, uint64_t count,
		      uint8_t *bits, uint64_t *total)
{
	return map_of(c, pool, first, count, bits, total, MAP_CACHED);
}
