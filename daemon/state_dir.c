/*
 * state_dir: the state's directory against a configuration and an object
 * table (see state_dir.h). Every index and string read from the memfd is
 * checked here, once, before anything uses it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/state_dir.h"

static bool name_ok(const char *n)
{
	return n[0] != '\0' && memchr(n, '\0', WIRE_NAME_MAX + 1) != NULL;
}

static bool is_gone(uint32_t flags)
{
	return (flags & STATE_GONE) != 0;
}

/* Entries well formed, names unique among the live ones. */
static int check_entries(const struct state *st, struct errbuf *e)
{
	for (uint32_t i = 0; i < st->nregions; i++) {
		const struct state_region *r = &st->regions[i];

		if (!name_ok(r->name) || (r->flags & ~(STATE_HUGEPAGES | STATE_GONE)) != 0)
			return errbuf_set(e, -EINVAL,
					  "state: region %u of the directory is damaged", i);
		for (uint32_t j = 0; j < i && !is_gone(r->flags); j++)
			if (!is_gone(st->regions[j].flags) &&
			    strcmp(st->regions[j].name, r->name) == 0)
				return errbuf_set(e, -EINVAL,
						  "state: region '%s' is twice in the directory",
						  r->name);
	}
	for (uint32_t i = 0; i < st->nobjects; i++) {
		const struct state_object *o = &st->objects[i];

		if (!name_ok(o->name) || o->kind < OBJ_POOL || o->kind > OBJ_GROUP ||
		    o->region >= st->nregions || (o->flags & ~STATE_GONE) != 0 ||
		    (!is_gone(o->flags) && is_gone(st->regions[o->region].flags)))
			return errbuf_set(e, -EINVAL,
					  "state: object %u of the directory is damaged", i);
	}
	return 0;
}

/* The same in the order of names, for the objects' uniqueness in
 * O(n log n): the directory of a big configuration has thousands. */
static int by_name_cmp(const void *a, const void *b)
{
	return strcmp((*(const struct state_object *const *) a)->name,
		      (*(const struct state_object *const *) b)->name);
}

static int check_unique_objects(const struct state *st, struct errbuf *e)
{
	const struct state_object **v = calloc(st->nobjects + 1, sizeof(*v));
	size_t n = 0;
	int rc = 0;

	if (v == NULL)
		return errbuf_set(e, -ENOMEM, "state: %s", strerror(ENOMEM));
	for (uint32_t i = 0; i < st->nobjects; i++)
		if (!is_gone(st->objects[i].flags))
			v[n++] = &st->objects[i];
	qsort(v, n, sizeof(*v), by_name_cmp);
	for (size_t i = 1; i < n && rc == 0; i++)
		if (strcmp(v[i - 1]->name, v[i]->name) == 0)
			rc = errbuf_set(e, -EINVAL, "state: '%s' is twice in the directory",
					v[i]->name);
	free(v);
	return rc;
}

static void region_entry(struct state_region *sr, const struct cfg_region *cr)
{
	memset(sr, 0, sizeof(*sr));
	snprintf(sr->name, sizeof(sr->name), "%s", cr->name);
	sr->size = cr->size;
	sr->bits_size = cr->bits_size;
	sr->flags = cr->hugepages ? STATE_HUGEPAGES : 0;
}

static void pool_entry(struct state_object *so, const struct cfg_pool *cp)
{
	so->kind = OBJ_POOL;
	so->offset = cp->offset;
	so->size = cp->block_size * cp->blocks;
	so->block_size = cp->block_size;
	so->blocks = cp->blocks;
	so->bits_offset = cp->bits_offset;
}

static void heap_entry(struct state_object *so, const struct cfg_heap *ch)
{
	so->kind = OBJ_HEAP;
	so->offset = ch->offset;
	so->size = ch->size;
	so->granule = ch->granule;
	so->max_allocs = ch->max_allocs;
}

/* The object called name in c, as a directory entry (its region by name in
 * *region, "" for a group), or false when c has none. */
static bool config_entry(const struct config *c, const char *name, struct state_object *so,
			 const char **region)
{
	memset(so, 0, sizeof(*so));
	snprintf(so->name, sizeof(so->name), "%s", name);
	*region = "";
	if (config_find_group(c, name) != NULL) {
		so->kind = OBJ_GROUP;
		return true;
	}
	for (size_t i = 0; i < c->nregions; i++) {
		const struct cfg_pool *cp = config_find_pool(&c->regions[i], name);
		const struct cfg_heap *ch = config_find_heap(&c->regions[i], name);

		*region = c->regions[i].name;
		if (cp != NULL) {
			pool_entry(so, cp);
			return true;
		}
		if (ch != NULL) {
			heap_entry(so, ch);
			return true;
		}
	}
	return false;
}

/* What a region's or object's geometry is, in words: two entries match
 * iff they read the same. */
static void describe_region(char *buf, size_t len, const struct state_region *r)
{
	snprintf(buf, len, "%llu bytes%s with %llu bytes of shared bits",
		 (unsigned long long) r->size, (r->flags & STATE_HUGEPAGES) ? " of huge pages" : "",
		 (unsigned long long) r->bits_size);
}

static void describe_object(char *buf, size_t len, const struct state_object *o)
{
	if (o->kind == OBJ_POOL)
		snprintf(buf, len, "%llu blocks of %llu B at offset %llu (shared bits at %llu)",
			 (unsigned long long) o->blocks, (unsigned long long) o->block_size,
			 (unsigned long long) o->offset, (unsigned long long) o->bits_offset);
	else if (o->kind == OBJ_HEAP)
		snprintf(buf, len, "%llu B at offset %llu, granule %u, max_allocs %u",
			 (unsigned long long) o->size, (unsigned long long) o->offset, o->granule,
			 o->max_allocs);
	else
		snprintf(buf, len, "a group");
}

static int check_region(const struct state_region *sr, const struct config *c, struct errbuf *e)
{
	const struct cfg_region *cr = config_find_region(c, sr->name);
	struct state_region now;
	char was[160], is[160];

	if (cr == NULL)
		return 0; /* a tombstone */
	region_entry(&now, cr);
	describe_region(was, sizeof(was), sr);
	describe_region(is, sizeof(is), &now);
	if (strcmp(was, is) != 0)
		return errbuf_set(e, -EINVAL, "state: region '%s' is %s in the state, %s in %s",
				  sr->name, was, is, c->file);
	return 0;
}

static int check_object(const struct state *st, const struct state_object *so,
			const struct config *c, struct errbuf *e)
{
	const char *kind = object_kind_name(so->kind), *region;
	const char *was_region = st->regions[so->region].name;
	struct state_object now;
	char was[160], is[160];

	if (!config_entry(c, so->name, &now, &region))
		return 0; /* a tombstone */
	if (now.kind != so->kind)
		return errbuf_set(e, -EINVAL, "state: '%s' is a %s in the state, a %s in %s",
				  so->name, kind, object_kind_name(now.kind), c->file);
	if (so->kind != OBJ_GROUP && strcmp(region, was_region) != 0)
		return errbuf_set(e, -EINVAL,
				  "state: %s '%s' is in region '%s' in the state, in region '%s' "
				  "in %s",
				  kind, so->name, was_region, region, c->file);
	describe_object(was, sizeof(was), so);
	describe_object(is, sizeof(is), &now);
	if (strcmp(was, is) != 0)
		return errbuf_set(e, -EINVAL, "state: %s '%s' is %s in the state, %s in %s", kind,
				  so->name, was, is, c->file);
	return 0;
}

/* The regions the table will have: the directory's, then c's new ones. */
static int check_region_count(const struct state *st, const struct config *c, struct errbuf *e)
{
	size_t n = st->nregions;

	for (size_t i = 0; i < c->nregions; i++) {
		bool known = false;

		for (uint32_t j = 0; j < st->nregions && !known; j++)
			known = !is_gone(st->regions[j].flags) &&
				strcmp(st->regions[j].name, c->regions[i].name) == 0;
		n += !known;
	}
	if (n > WIRE_MAX_REGIONS)
		return errbuf_set(e, -EINVAL,
				  "state: %u regions in the state (removed ones keep their "
				  "index) and %zu new in %s: a daemon serves at most %d",
				  st->nregions, n - st->nregions, c->file, WIRE_MAX_REGIONS);
	return 0;
}

int state_dir__check(const struct state *st, const struct config *c, struct errbuf *e)
{
	int rc = check_entries(st, e);

	if (rc == 0)
		rc = check_unique_objects(st, e);
	/* Objects first: a region's size or shared bits differ because an
	 * object did, which is what the operator changed. */
	for (uint32_t i = 0; rc == 0 && i < st->nobjects; i++)
		if (!is_gone(st->objects[i].flags))
			rc = check_object(st, &st->objects[i], c, e);
	for (uint32_t i = 0; rc == 0 && i < st->nregions; i++)
		if (!is_gone(st->regions[i].flags))
			rc = check_region(&st->regions[i], c, e);
	return rc == 0 ? check_region_count(st, c, e) : rc;
}

int state_dir__reserve(struct state *st, size_t n, size_t m)
{
	if (n > st->cap_regions) {
		struct state_region *r = realloc(st->regions, n * sizeof(*r));

		if (r == NULL)
			return -ENOMEM;
		st->regions = r;
		st->cap_regions = n;
	}
	if (m > st->cap_objects) {
		struct state_object *o = realloc(st->objects, m * sizeof(*o));

		if (o == NULL)
			return -ENOMEM;
		st->objects = o;
		st->cap_objects = m;
	}
	return 0;
}

static void object_entry(struct state_object *so, const struct object *o)
{
	memset(so, 0, sizeof(*so));
	snprintf(so->name, sizeof(so->name), "%s", o->name);
	so->region = o->region->index;
	if (o->kind == OBJ_POOL)
		pool_entry(so, o->u.pool.cfg);
	else if (o->kind == OBJ_HEAP)
		heap_entry(so, o->u.heap.cfg);
	else
		so->kind = OBJ_GROUP;
}

int state_dir__append(struct state *st, const struct object_table *t, struct errbuf *e)
{
	if (t->nregions < st->nregions || t->nobjects < st->nobjects)
		return errbuf_set(e, -EINVAL, "state: the object table lost entries");
	if (state_dir__reserve(st, t->nregions, t->nobjects) < 0)
		return errbuf_set(e, -ENOMEM, "state: %s", strerror(ENOMEM));
	for (uint32_t i = 0; i < st->nregions; i++)
		if (t->regions[i]->gone)
			st->regions[i].flags |= STATE_GONE;
	for (size_t i = st->nregions; i < t->nregions; i++)
		region_entry(&st->regions[i], t->regions[i]->cfg);
	for (uint32_t i = 0; i < st->nobjects; i++)
		if (t->objects[i]->gone)
			st->objects[i].flags |= STATE_GONE;
	for (size_t i = st->nobjects; i < t->nobjects; i++)
		object_entry(&st->objects[i], t->objects[i]);
	st->nregions = (uint32_t) t->nregions;
	st->nobjects = (uint32_t) t->nobjects;
	return 0;
}

/* t's region called name, not yet claimed, or NULL. */
static struct region *claim_region(const struct object_table *t, const char *name, bool *claimed)
{
	for (size_t i = 0; i < t->nregions; i++)
		if (!claimed[i] && strcmp(t->regions[i]->cfg->name, name) == 0) {
			claimed[i] = true;
			return t->regions[i];
		}
	return NULL;
}

/* The new order: the directory's entries (tombstones where t has none),
 * then t's others in t's order. Tombstones made here are freed by the
 * caller on failure: they are the gone entries not from t. */
static int new_order(const struct state *st, const struct object_table *t, struct region **rv,
		     size_t *nr, struct object **ov, size_t *no, bool *claimed)
{
	for (uint32_t i = 0; i < st->nregions; i++) {
		const struct state_region *sr = &st->regions[i];
		struct region *r = is_gone(sr->flags) ? NULL : claim_region(t, sr->name, claimed);

		rv[(*nr)++] = r != NULL ? r : object_table_tombstone_region();
		if (rv[*nr - 1] == NULL)
			return -ENOMEM;
	}
	for (size_t i = 0; i < t->nregions; i++)
		if (!claimed[i])
			rv[(*nr)++] = t->regions[i];
	memset(claimed, 0, t->nobjects * sizeof(*claimed));
	for (uint32_t i = 0; i < st->nobjects; i++) {
		const struct state_object *so = &st->objects[i];
		struct object *o = is_gone(so->flags) ? NULL : object_table_find(t, so->name);

		if (o != NULL)
			claimed[o->index] = true;
		else
			o = object_table_tombstone(so->kind, so->name, rv[so->region]);
		ov[(*no)++] = o;
		if (o == NULL)
			return -ENOMEM;
	}
	for (size_t i = 0; i < t->nobjects; i++)
		if (!claimed[i])
			ov[(*no)++] = t->objects[i];
	return 0;
}

int state_dir__reconcile(struct state *st, struct object_table *t, struct errbuf *e)
{
	size_t nr = 0, no = 0, mr = st->nregions + t->nregions, mo = st->nobjects + t->nobjects;
	struct region **rv = calloc(mr + 1, sizeof(*rv));
	struct object **ov = calloc(mo + 1, sizeof(*ov));
	bool *claimed = calloc(mr + mo + 1, sizeof(*claimed));
	int rc = -ENOMEM;

	/* Room first, so that nothing fails once t is reordered. */
	if (rv != NULL && ov != NULL && claimed != NULL && state_dir__reserve(st, mr, mo) == 0)
		rc = new_order(st, t, rv, &nr, ov, &no, claimed);
	if (rc == 0)
		rc = object_table_reorder(t, rv, nr, ov, no);
	free(claimed);
	if (rc == 0)
		return state_dir__append(st, t, e); /* cannot fail now */
	/* Every tombstone is new: a table just built has none. */
	for (size_t i = 0; i < nr; i++)
		if (rv[i] != NULL && rv[i]->gone)
			free(rv[i]);
	for (size_t i = 0; i < no; i++)
		if (ov[i] != NULL && ov[i]->gone)
			free(ov[i]);
	free(rv);
	free(ov);
	return errbuf_set(e, rc, "state: %s", strerror(-rc));
}
