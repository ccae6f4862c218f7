/*
 * object_table: building the regions, pools, heaps and groups a config
 * describes, and finding them by name (see object_table.h). Objects are laid
 * out region by region, pools then heaps, then all groups; a reload appends
 * what it adds after them (object_table_stage, _append). Each object and
 * region is allocated on its own and never moves, so pointers to them
 * (groups' members, choice functions' allocators) and indices stay valid for
 * the daemon's life; by_name is sorted for binary search.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/holds.h"
#include "daemon/log.h"
#include "daemon/object_table.h"

static uint32_t *holder_heads(uint64_t n)
{
	uint32_t *v = malloc(n * sizeof(*v));

	if (v != NULL)
		memset(v, 0xff, n * sizeof(*v)); /* HOLD_NIL everywhere */
	return v;
}

/* The pool's "held by two or more" bits: in its region's shared bits when
 * they have room, which they always have at start. A pool a reload adds to
 * a region whose shared bits were sealed at a smaller size gets private
 * bits instead, and no lease slots (lease_page.c): nobody caches it until
 * a restart lays the bits out again. */
static int pool_bits(struct pool *p, const struct region *r, const struct cfg_pool *cp)
{
	uint64_t words = (cp->blocks + 63) / 64;

	if (cp->bits_offset + words * sizeof(*r->bits) <= r->bits_size) {
		p->bits = r->bits + cp->bits_offset / sizeof(*r->bits);
		return 0;
	}
	p->own_bits = true;
	p->bits = calloc(words, sizeof(*p->bits));
	return p->bits != NULL ? 0 : -ENOMEM;
}

static int pool_build(struct object *o, const struct cfg_pool *cp, struct errbuf *e)
{
	struct pool *p = &o->u.pool;
	int rc;

	o->kind = OBJ_POOL;
	snprintf(o->name, sizeof(o->name), "%s", cp->name);
	o->offset = cp->offset;
	o->size = cp->block_size * cp->blocks;
	p->cfg = cp;
	rc = sys_mem_blocks_init(&p->mb, cp->block_size, cp->blocks, o->region->base + cp->offset);
	if (rc == 0) {
		p->holders = holder_heads(cp->blocks);
		p->marks = calloc((cp->blocks + 63) / 64, sizeof(*p->marks));
		if (p->holders == NULL || p->marks == NULL || pool_bits(p, o->region, cp) < 0)
			rc = -ENOMEM;
	}
	return rc < 0 ? errbuf_set(e, rc, "pool '%s': %s", cp->name, strerror(-rc)) : 0;
}

static int heap_build(struct object *o, const struct cfg_heap *ch, struct errbuf *e)
{
	struct heap *h = &o->u.heap;

	o->kind = OBJ_HEAP;
	snprintf(o->name, sizeof(o->name), "%s", ch->name);
	o->offset = ch->offset;
	o->size = ch->size;
	h->cfg = ch;
	h->granule_shift = (unsigned) __builtin_ctz(ch->granule);
	h->tlsf = tlsf_create(ch->size, ch->granule, ch->max_allocs);
	if (h->tlsf == NULL) {
		int rc = -errno;

		return errbuf_set(e, rc, "heap '%s': %s", ch->name, strerror(-rc));
	}
	h->holders = holder_heads(tlsf_id_limit(h->tlsf));
	if (h->holders == NULL)
		return errbuf_set(e, -ENOMEM, "heap '%s': %s", ch->name, strerror(ENOMEM));
	return 0;
}

/* The object called name in l or, when l has none, in add. */
static struct object *find_in(const struct object_table *l, const struct object_table *add,
			      const char *name)
{
	struct object *o = object_table_find(l, name);

	return o != NULL ? o : object_table_find(add, name);
}

static int group_build(const struct object_table *l, const struct object_table *add,
		       struct object *o, const struct config *c, size_t gi, struct errbuf *e)
{
	const struct cfg_group *cg = &c->groups[gi];
	struct group *g = &o->u.group;
	char why[ERRBUF_MAX];
	int rc;

	o->kind = OBJ_GROUP;
	snprintf(o->name, sizeof(o->name), "%s", cg->name);
	g->cfg = cg;
	g->members = calloc(cg->nmembers, sizeof(*g->members));
	if (g->members == NULL)
		return -ENOMEM;
	sys_multi_mem_blocks_init(&g->mmb, NULL);
	for (size_t i = 0; i < cg->nmembers; i++) {
		struct object *m = find_in(l, add, cg->members[i]);

		/* config.c checked that members exist, are pools, share a region. */
		g->members[i] = m;
		o->region = m->region;
		rc = sys_multi_mem_blocks_add_allocator(&g->mmb, &m->u.pool.mb);
		if (rc < 0)
			return rc;
	}
	rc = choice_open(&g->choice, &g->mmb, cg->choice, cg->plugin, cg->plugin_arg, why,
			 sizeof(why));
	if (rc < 0)
		return errbuf_set(e, rc, "%s:%d: groups.[%zu]: %s", c->file, cg->line, gi, why);
	g->mmb.choice_fn = g->choice.desc->choose;
	return 0;
}

static int by_name_cmp(const void *a, const void *b)
{
	const struct object *x = *(const struct object *const *) a;
	const struct object *y = *(const struct object *const *) b;

	return strcmp(x->name, y->name);
}

/* (Re)build the name index over the objects built so far but removed ones
 * (by_name has room for them all). */
static void index_by_name(struct object_table *l)
{
	l->nby_name = 0;
	for (size_t i = 0; i < l->nobjects; i++)
		if (!l->objects[i]->gone)
			l->by_name[l->nby_name++] = l->objects[i];
	qsort(l->by_name, l->nby_name, sizeof(*l->by_name), by_name_cmp);
}

/* A new, zeroed object counted into add (numbered after l's), or NULL. */
static struct object *new_object(const struct object_table *l, struct object_table *add,
				 struct region *r)
{
	struct object *o = calloc(1, sizeof(*o));

	if (o == NULL)
		return NULL;
	o->index = (uint32_t) (l->nobjects + add->nobjects);
	o->region = r;
	add->objects[add->nobjects++] = o;
	return o;
}

static int stage_region(const struct object_table *l, struct object_table *add,
			const struct cfg_region *cr, bool dry_run, struct errbuf *e)
{
	struct region *r = NULL;
	struct object *o;
	int rc;

	/* A removed region has no settings left, nor a name: one of the
	 * same name is a new region. */
	for (size_t i = 0; i < l->nregions && r == NULL; i++)
		if (!l->regions[i]->gone && strcmp(l->regions[i]->cfg->name, cr->name) == 0)
			r = l->regions[i];
	if (r == NULL) {
		if (l->nregions + add->nregions >= WIRE_MAX_REGIONS)
			return errbuf_set(e, -ENOSPC,
					  "region '%s': a daemon serves at most %d regions",
					  cr->name, WIRE_MAX_REGIONS);
		r = calloc(1, sizeof(*r));
		if (r == NULL)
			return errbuf_set(e, -ENOMEM, "%s", strerror(ENOMEM));
		rc = region_create(r, cr, (uint32_t) (l->nregions + add->nregions), dry_run, l->fs,
				   e);
		if (rc < 0) {
			free(r);
			return rc;
		}
		add->regions[add->nregions++] = r;
	}
	for (size_t j = 0; j < cr->npools; j++) {
		if (object_table_find(l, cr->pools[j].name) != NULL)
			continue;
		o = new_object(l, add, r);
		rc = o != NULL ? pool_build(o, &cr->pools[j], e) : -ENOMEM;
		if (rc < 0)
			return o != NULL ? rc : errbuf_set(e, rc, "%s", strerror(-rc));
	}
	for (size_t j = 0; j < cr->nheaps; j++) {
		if (object_table_find(l, cr->heaps[j].name) != NULL)
			continue;
		o = new_object(l, add, r);
		rc = o != NULL ? heap_build(o, &cr->heaps[j], e) : -ENOMEM;
		if (rc < 0)
			return o != NULL ? rc : errbuf_set(e, rc, "%s", strerror(-rc));
	}
	return 0;
}

int object_table_stage(const struct object_table *l, const struct config *c, bool dry_run,
		       struct object_table *add, struct errbuf *e)
{
	size_t n = c->ngroups;
	struct object *o;
	int rc = -ENOMEM;

	memset(add, 0, sizeof(*add));
	for (size_t i = 0; i < c->nregions; i++)
		n += c->regions[i].npools + c->regions[i].nheaps;
	add->regions = calloc(c->nregions ? c->nregions : 1, sizeof(*add->regions));
	add->objects = calloc(n ? n : 1, sizeof(*add->objects));
	add->by_name = calloc(n ? n : 1, sizeof(*add->by_name));
	if (add->regions == NULL || add->objects == NULL || add->by_name == NULL) {
		errbuf_set(e, rc, "%s", strerror(ENOMEM));
		goto fail;
	}
	for (size_t i = 0; i < c->nregions; i++) {
		rc = stage_region(l, add, &c->regions[i], dry_run, e);
		if (rc < 0)
			goto fail;
	}
	/* Groups look their members up by name, so sort what exists so far. */
	index_by_name(add);
	for (size_t i = 0; i < c->ngroups; i++) {
		if (object_table_find(l, c->groups[i].name) != NULL)
			continue;
		o = new_object(l, add, NULL);
		if (o == NULL) {
			rc = errbuf_set(e, -ENOMEM, "%s", strerror(ENOMEM));
			goto fail;
		}
		rc = group_build(l, add, o, c, i, e);
		if (rc < 0)
			goto fail;
	}
	index_by_name(add);
	return 0;

fail:
	object_table_cancel(l, add);
	return rc;
}

void object_table_cancel(const struct object_table *l, struct object_table *add)
{
	char name[FDSTORE_NAME_MAX];

	/* Only those made here: one taken over holds memory clients map, and
	 * a start that fails must leave it for the next try. */
	for (size_t i = 0; i < add->nregions; i++) {
		if (add->regions[i]->adopted)
			continue;
		for (int bits = 0; bits < 2; bits++) {
			region_store_name(add->regions[i]->cfg->name, bits, name);
			fdstore_remove(l->fs, name);
		}
	}
	object_table_destroy(add);
}

/* Grow *v (of n pointers) to room for m; on failure *v is as it was. */
static int grow(void *v, size_t m)
{
	void **p = realloc(*(void ***) v, (m ? m : 1) * sizeof(void *));

	if (p == NULL)
		return -ENOMEM;
	*(void ***) v = p;
	return 0;
}

int object_table_append(struct object_table *l, struct object_table *add)
{
	size_t nr = l->nregions + add->nregions, no = l->nobjects + add->nobjects;

	if (grow(&l->regions, nr) < 0 || grow(&l->objects, no) < 0 || grow(&l->by_name, no) < 0)
		return -ENOMEM;
	memcpy(l->regions + l->nregions, add->regions, add->nregions * sizeof(*add->regions));
	memcpy(l->objects + l->nobjects, add->objects, add->nobjects * sizeof(*add->objects));
	l->nregions = nr;
	l->nobjects = no;
	index_by_name(l);
	free(add->regions);
	free(add->objects);
	free(add->by_name);
	memset(add, 0, sizeof(*add));
	return 0;
}

int object_table_build(struct object_table *l, const struct config *c, bool dry_run,
		       struct fdstore *fs, struct errbuf *e)
{
	struct object_table add;
	int rc;

	memset(l, 0, sizeof(*l));
	l->fs = fs;
	rc = object_table_stage(l, c, dry_run, &add, e);
	if (rc == 0 && object_table_append(l, &add) < 0) {
		object_table_destroy(&add);
		rc = errbuf_set(e, -ENOMEM, "%s", strerror(ENOMEM));
	}
	return rc;
}

static bool heap_in_use(const struct object *o)
{
	struct tlsf_stats st;

	tlsf_get_stats(o->u.heap.tlsf, &st);
	return st.live > 0;
}

bool object_in_use(const struct object *o)
{
	switch (o->kind) {
	case OBJ_POOL:
		return pool_used(o) > 0;
	case OBJ_HEAP:
		return heap_in_use(o);
	case OBJ_GROUP:
		for (size_t i = 0; i < o->u.group.mmb.num_allocators; i++)
			if (pool_used(o->u.group.members[i]))
				return true;
		break;
	}
	return false;
}

void object_table_remove(struct object_table *l, struct object *o)
{
	/* The allocators stay, empty, until the daemon stops: only what
	 * points into the configuration goes. */
	o->gone = true;
	switch (o->kind) {
	case OBJ_POOL:
		o->u.pool.cfg = NULL;
		break;
	case OBJ_HEAP:
		o->u.heap.cfg = NULL;
		break;
	case OBJ_GROUP:
		choice_close(&o->u.group.choice);
		o->u.group.cfg = NULL;
		break;
	}
	index_by_name(l);
}

void object_table_remove_region(struct object_table *l, struct region *r)
{
	char name[FDSTORE_NAME_MAX];
	int rc;

	for (int bits = 0; bits < 2; bits++) {
		region_store_name(r->cfg->name, bits, name);
		rc = fdstore_remove(l->fs, name);
		if (rc < 0)
			log_warn("region '%s': the fd store keeps its %s (%s): it goes at the "
				 "next restart",
				 r->cfg->name, bits ? "shared-bits memfd" : "memfd", strerror(-rc));
	}
	region_destroy(r);
	r->gone = true;
	r->filling = false; /* nothing left to fill (server.c) */
	r->cfg = NULL;
}

struct object *object_table_tombstone(enum obj_kind kind, const char *name, struct region *r)
{
	struct object *o = calloc(1, sizeof(*o));

	if (o == NULL)
		return NULL;
	snprintf(o->name, sizeof(o->name), "%s", name);
	o->kind = kind;
	o->gone = true;
	o->region = r;
	return o;
}

struct region *object_table_tombstone_region(void)
{
	struct region *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->gone = true;
	r->fd = r->bits_fd = r->bits_ro_fd = -1; /* what region_destroy closes */
	return r;
}

/* One kind of entry (regions or objects) for is_reordering. */
struct entry_ops {
	uint32_t (*index)(const void *);
	bool (*gone)(const void *);
};

/* Does v (n entries) hold each of l's m entries (l_v) exactly once, and
 * otherwise only tombstones? Each entry of l knows its index in l, so
 * this is O(n + m); seen: m flags, zeroed. */
static bool is_reordering(void *const *l_v, size_t m, void *const *v, size_t n,
			  const struct entry_ops *ops, bool *seen)
{
	size_t found = 0;

	for (size_t j = 0; j < n; j++) {
		uint32_t k;

		if (v[j] == NULL)
			return false;
		k = ops->index(v[j]);
		if (k < m && l_v[k] == v[j]) {
			if (seen[k])
				return false;
			seen[k] = true;
			found++;
		} else if (!ops->gone(v[j])) {
			return false;
		}
	}
	return found == m;
}

static uint32_t object_index(const void *o)
{
	return ((const struct object *) o)->index;
}

static bool object_gone(const void *o)
{
	return ((const struct object *) o)->gone;
}

static uint32_t region_index(const void *r)
{
	return ((const struct region *) r)->index;
}

static bool region_gone(const void *r)
{
	return ((const struct region *) r)->gone;
}

int object_table_reorder(struct object_table *l, struct region **regions, size_t nregions,
			 struct object **objects, size_t nobjects)
{
	static const struct entry_ops region_ops = {region_index, region_gone};
	static const struct entry_ops object_ops = {object_index, object_gone};
	size_t m = l->nregions > l->nobjects ? l->nregions : l->nobjects;
	bool *seen = calloc(m + 1, sizeof(*seen));
	struct object **by_name;
	int rc = -EINVAL;

	if (seen == NULL)
		return -ENOMEM;
	if (nregions > WIRE_MAX_REGIONS ||
	    !is_reordering((void *const *) l->regions, l->nregions, (void *const *) regions,
			   nregions, &region_ops, seen))
		goto out;
	memset(seen, 0, m * sizeof(*seen));
	if (!is_reordering((void *const *) l->objects, l->nobjects, (void *const *) objects,
			   nobjects, &object_ops, seen))
		goto out;
	rc = -ENOMEM;
	by_name = calloc(nobjects ? nobjects : 1, sizeof(*by_name));
	if (by_name == NULL)
		goto out;
	free(l->regions);
	free(l->objects);
	free(l->by_name);
	l->regions = regions;
	l->nregions = nregions;
	l->objects = objects;
	l->nobjects = nobjects;
	l->by_name = by_name;
	for (size_t i = 0; i < nregions; i++)
		regions[i]->index = (uint32_t) i;
	for (size_t i = 0; i < nobjects; i++)
		objects[i]->index = (uint32_t) i;
	index_by_name(l);
	rc = 0;
out:
	free(seen);
	return rc;
}

void object_table_destroy(struct object_table *l)
{
	for (size_t i = 0; i < l->nobjects; i++) {
		struct object *o = l->objects[i];

		switch (o->kind) {
		case OBJ_POOL:
			sys_mem_blocks_deinit(&o->u.pool.mb);
			free(o->u.pool.holders);
			free(o->u.pool.marks);
			if (o->u.pool.own_bits)
				free(o->u.pool.bits);
			break;
		case OBJ_HEAP:
			tlsf_destroy(o->u.heap.tlsf);
			free(o->u.heap.holders);
			break;
		case OBJ_GROUP:
			choice_close(&o->u.group.choice); /* a no-op once removed */
			sys_multi_mem_blocks_deinit(&o->u.group.mmb);
			free(o->u.group.members);
			break;
		}
		free(o);
	}
	for (size_t i = 0; i < l->nregions; i++) {
		region_destroy(l->regions[i]);
		free(l->regions[i]);
	}
	free(l->regions);
	free(l->objects);
	free(l->by_name);
	memset(l, 0, sizeof(*l));
}

struct object *object_table_find(const struct object_table *l, const char *name)
{
	size_t lo = 0, hi = l->nby_name;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = strcmp(name, l->by_name[mid]->name);

		if (cmp == 0)
			return l->by_name[mid];
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

void group_sums(const struct object *o, uint64_t *total, uint64_t *used, uint64_t *bs)
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
