/*
 * object_table: building the regions, pools, heaps and groups a config
 * describes, and finding them by name (see object_table.h). Objects are laid
 * out region by region, pools then heaps, then all groups, so an object's
 * index never changes once built; by_name is sorted for binary search.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/holds.h"
#include "daemon/object_table.h"

static uint32_t *holder_heads(uint64_t n)
{
	uint32_t *v = malloc(n * sizeof(*v));

	if (v != NULL)
		memset(v, 0xff, n * sizeof(*v)); /* HOLD_NIL everywhere */
	return v;
}

static int pool_build(struct object *o, struct region *r, const struct cfg_pool *cp,
		      struct errbuf *e)
{
	struct pool *p = &o->u.pool;
	int rc;

	o->kind = OBJ_POOL;
	o->name = cp->name;
	o->offset = cp->offset;
	o->size = cp->block_size * cp->blocks;
	p->cfg = cp;
	p->bits = r->bits + cp->bits_offset / sizeof(*r->bits);
	rc = sys_mem_blocks_init(&p->mb, cp->block_size, cp->blocks, r->base + cp->offset);
	if (rc == 0) {
		p->holders = holder_heads(cp->blocks);
		p->marks = calloc((cp->blocks + 63) / 64, sizeof(*p->marks));
		if (p->holders == NULL || p->marks == NULL)
			rc = -ENOMEM;
	}
	return rc < 0 ? errbuf_set(e, rc, "pool '%s': %s", cp->name, strerror(-rc)) : 0;
}

static int heap_build(struct object *o, const struct cfg_heap *ch, struct errbuf *e)
{
	struct heap *h = &o->u.heap;

	o->kind = OBJ_HEAP;
	o->name = ch->name;
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

static int group_build(struct object_table *l, struct object *o, const struct config *c, size_t gi,
		       struct errbuf *e)
{
	const struct cfg_group *cg = &c->groups[gi];
	struct group *g = &o->u.group;
	char why[ERRBUF_MAX];
	int rc;

	o->kind = OBJ_GROUP;
	o->name = cg->name;
	g->cfg = cg;
	g->members = calloc(cg->nmembers, sizeof(*g->members));
	if (g->members == NULL)
		return -ENOMEM;
	sys_multi_mem_blocks_init(&g->mmb, NULL);
	for (size_t i = 0; i < cg->nmembers; i++) {
		struct object *m = object_table_find(l, cg->members[i]);

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

/* (Re)build the name index over the objects built so far. */
static void index_by_name(struct object_table *l)
{
	for (size_t i = 0; i < l->nobjects; i++)
		l->by_name[i] = &l->objects[i];
	l->nby_name = l->nobjects;
	qsort(l->by_name, l->nby_name, sizeof(*l->by_name), by_name_cmp);
}

int object_table_build(struct object_table *l, const struct config *c, bool dry_run,
		       struct errbuf *e)
{
	size_t n = c->ngroups;
	struct object *o;
	int rc = -ENOMEM;

	memset(l, 0, sizeof(*l));
	for (size_t i = 0; i < c->nregions; i++)
		n += c->regions[i].npools + c->regions[i].nheaps;
	l->regions = calloc(c->nregions, sizeof(*l->regions));
	l->objects = calloc(n, sizeof(*l->objects));
	l->by_name = calloc(n, sizeof(*l->by_name));
	if (l->regions == NULL || l->objects == NULL || l->by_name == NULL) {
		errbuf_set(e, rc, "%s", strerror(ENOMEM));
		goto fail;
	}
	for (size_t i = 0; i < c->nregions; i++)
		l->regions[i].fd = -1;

	o = l->objects;
	for (size_t i = 0; i < c->nregions; i++) {
		const struct cfg_region *cr = &c->regions[i];
		struct region *r = &l->regions[i];

		rc = region_create(r, cr, (uint32_t) i, dry_run, e);
		if (rc < 0)
			goto fail;
		l->nregions++;
		for (size_t j = 0; j < cr->npools; j++, o++) {
			o->index = (uint32_t) (o - l->objects);
			o->region = r;
			l->nobjects++;
			rc = pool_build(o, r, &cr->pools[j], e);
			if (rc < 0)
				goto fail;
		}
		for (size_t j = 0; j < cr->nheaps; j++, o++) {
			o->index = (uint32_t) (o - l->objects);
			o->region = r;
			l->nobjects++;
			rc = heap_build(o, &cr->heaps[j], e);
			if (rc < 0)
				goto fail;
		}
	}
	/* Groups look their members up by name, so sort what exists so far. */
	index_by_name(l);
	for (size_t i = 0; i < c->ngroups; i++, o++) {
		o->index = (uint32_t) (o - l->objects);
		l->nobjects++;
		rc = group_build(l, o, c, i, e);
		if (rc < 0)
			goto fail;
	}
	index_by_name(l);
	return 0;

fail:
	object_table_destroy(l);
	return rc;
}

void object_table_destroy(struct object_table *l)
{
	for (size_t i = 0; i < l->nobjects; i++) {
		struct object *o = &l->objects[i];

		switch (o->kind) {
		case OBJ_POOL:
			sys_mem_blocks_deinit(&o->u.pool.mb);
			free(o->u.pool.holders);
			free(o->u.pool.marks);
			break;
		case OBJ_HEAP:
			tlsf_destroy(o->u.heap.tlsf);
			free(o->u.heap.holders);
			break;
		case OBJ_GROUP:
			choice_close(&o->u.group.choice);
			sys_multi_mem_blocks_deinit(&o->u.group.mmb);
			free(o->u.group.members);
			break;
		}
	}
	for (size_t i = 0; i < l->nregions; i++)
		region_destroy(&l->regions[i]);
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
