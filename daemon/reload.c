/*
 * reload: read, check, then apply a new configuration (see reload.h). The
 * check collects every reason to refuse before anything changes; the apply
 * does the one thing that can fail (growing the session table) first, so
 * that a reload is applied whole or not at all.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/log.h"
#include "daemon/memcheck.h"
#include "daemon/reload.h"

/* Append to buf (len bytes, *at used) a "; "-separated item, cut with
 * "..." when full, so that a long list still says it went on. */
static void __attribute__((format(printf, 4, 5)))
list_add(char *buf, size_t len, size_t *at, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*at + 4 >= len)
		return;
	if (*at > 0)
		*at += (size_t) snprintf(buf + *at, len - *at, "; ");
	va_start(ap, fmt);
	n = vsnprintf(buf + *at, len - *at, fmt, ap);
	va_end(ap);
	*at += n > 0 ? (size_t) n : 0;
	if (*at >= len - 1) {
		memcpy(buf + len - 4, "...", 4);
		*at = len - 1;
	}
}

struct check {
	const struct daemon *d;
	struct reload *r;
	struct errbuf *e;
	size_t sum_at, err_at;
	size_t refused;
};

/* Why a layout change refuses the reload, for the two a reload that adds
 * objects runs into. */
static const char *layout_hint(const struct config_change *ch)
{
	if (strcmp(ch->setting, "offset in the region") == 0)
		return " (pools are laid out before heaps: add a pool to a region without "
		       "heaps, or to a new region)";
	if (strncmp(ch->object, "region ", 7) == 0 && strcmp(ch->setting, "size") == 0)
		return " (set a region's size with room to spare to add objects to it at a "
		       "reload)";
	return "";
}

static void on_change(void *arg, const struct config_change *ch)
{
	struct check *k = arg;
	const char *sp = ch->object[0] != '\0' ? " " : "";

	if (ch->kind == CONFIG_ADDED) {
		list_add(k->r->summary, sizeof(k->r->summary), &k->sum_at, "%s added", ch->object);
	} else if (ch->kind == CONFIG_REMOVED) {
		/* check_removals() refuses what cannot go. */
		list_add(k->r->summary, sizeof(k->r->summary), &k->sum_at, "%s removed",
			 ch->object);
	} else if (ch->reload == CONFIG_RESTART) {
		k->refused++;
		list_add(k->e->msg, sizeof(k->e->msg), &k->err_at,
			 "%s%s%s %s -> %s: cannot change without a restart%s", ch->object, sp,
			 ch->setting, ch->was, ch->now, layout_hint(ch));
	} else if (strcmp(ch->setting, "log_level") == 0 && k->d->log_level_pinned) {
		list_add(k->r->summary, sizeof(k->r->summary), &k->sum_at,
			 "log_level %s -> %s (not applied: -l sets the level)", ch->was, ch->now);
	} else {
		list_add(k->r->summary, sizeof(k->r->summary), &k->sum_at, "%s%s%s %s -> %s (%s)",
			 ch->object, sp, ch->setting, ch->was, ch->now,
			 config_reload_name(ch->reload));
	}
}

/* Fewer slots are fine only when none of those that go is in use: a
 * session keeps its slot for life (holds name it). */
static int check_max_clients(const struct daemon *d, const struct config *next, struct check *k)
{
	for (uint32_t i = next->max_clients; i < d->cfg.max_clients; i++) {
		const struct session *s = d->slots[i];

		if (s == NULL)
			continue;
		k->refused++;
		list_add(k->e->msg, sizeof(k->e->msg), &k->err_at,
			 "max_clients %u -> %u: client %llu (pid %d) is in slot %u; choose at "
			 "least %u or let it disconnect",
			 d->cfg.max_clients, next->max_clients, (unsigned long long) s->id,
			 (int) s->pid, i, i + 1);
		return -EBUSY;
	}
	return 0;
}

/* Where next has o (same kind, and for a pool or heap the same region),
 * or NULL when next removes it. */
static const void *kept_in(const struct config *next, const struct object *o)
{
	const struct cfg_region *cr;

	if (o->kind == OBJ_GROUP)
		return config_find_group(next, o->name);
	cr = config_find_region(next, o->region->cfg->name);
	if (cr == NULL)
		return NULL;
	return o->kind == OBJ_POOL ? (const void *) config_find_pool(cr, o->name)
				   : (const void *) config_find_heap(cr, o->name);
}

/* The region of next that has a pool or heap called name ("" for a
 * group), or NULL when next has no object of that name. */
static const char *placed_in(const struct config *next, const char *name)
{
	if (config_find_group(next, name) != NULL)
		return "";
	for (size_t i = 0; i < next->nregions; i++)
		if (config_find_pool(&next->regions[i], name) != NULL ||
		    config_find_heap(&next->regions[i], name) != NULL)
			return next->regions[i].name;
	return NULL;
}

/* A connected session that was sent region r's memfd, or NULL. */
static const struct session *user_of(const struct daemon *d, const struct region *r)
{
	for (uint32_t i = 0; i < d->cfg.max_clients; i++)
		if (d->slots[i] != NULL && (d->slots[i]->sent & (UINT64_C(1) << r->index)))
			return d->slots[i];
	return NULL;
}

static void __attribute__((format(printf, 2, 3))) refuse(struct check *k, const char *fmt, ...)
{
	char why[ERRBUF_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	k->refused++;
	list_add(k->e->msg, sizeof(k->e->msg), &k->err_at, "%s", why);
}

/*
 * What next removes may go only when nothing of it is held (cached blocks
 * are held), and a region only when, besides, no connected client was
 * sent its memfd: then nobody has it mapped (nor knows its objects) and
 * its memory can go at once. A name
 * cannot change kind or region in one reload (remove it, reload, add it),
 * and a removed one comes back only in the region it left while that
 * region exists: a client connected since may still resolve it there.
 */
static void check_removals(const struct daemon *d, const struct config *next, struct check *k)
{
	const struct object_table *l = &d->table;

	for (size_t i = 0; i < l->nobjects; i++) {
		const struct object *o = l->objects[i];
		const char *kind = object_kind_name(o->kind), *at = placed_in(next, o->name);

		if (o->gone) {
			/* (A group's region is its pools': they answer for it.) */
			if (at != NULL && at[0] != '\0' && !o->region->gone &&
			    strcmp(at, o->region->cfg->name) != 0)
				refuse(k,
				       "%s '%s' added to region '%s': it was removed from region "
				       "'%s' and clients may still look for it there; add it "
				       "there, or restart",
				       kind, o->name, at, o->region->cfg->name);
			continue;
		}
		if (kept_in(next, o) != NULL)
			continue;
		if (at != NULL)
			refuse(k,
			       "%s '%s' moved: a name cannot move in one reload; remove it, "
			       "reload, then add it",
			       kind, o->name);
		else if (object_in_use(o))
			refuse(k, "%s '%s' removed: it is in use%s; free it first, or restart",
			       kind, o->name,
			       o->kind == OBJ_POOL ? " (cached blocks too: mc_cache(pool, 0))"
						   : "");
	}
	for (size_t i = 0; i < l->nregions; i++) {
		const struct region *r = l->regions[i];
		const struct session *s;

		if (r->gone || config_find_region(next, r->cfg->name) != NULL)
			continue;
		s = user_of(d, r);
		if (s != NULL) {
			char who[64];

			snprintf(who, sizeof(who), " (client %llu, pid %d)",
				 (unsigned long long) s->id, (int) s->pid);
			refuse(k,
			       "region '%s' removed: connected clients have it mapped%s; it can "
			       "go once they have disconnected",
			       r->cfg->name, who);
		}
	}
}

/*
 * The memory check of daemon_init for the regions next adds: what they
 * will reserve must fit what the daemon may still use (the running regions
 * are already counted out of it). A -ENOMEM here is a refusal too.
 */
static void check_memory(const struct daemon *d, const struct config *next, struct check *k)
{
	struct config added = *next; /* shallow: only its new regions */
	struct errbuf why;

	added.regions = calloc(next->nregions ? next->nregions : 1, sizeof(*added.regions));
	if (added.regions == NULL) {
		refuse(k, "%s", strerror(ENOMEM));
		return;
	}
	added.nregions = 0;
	for (size_t i = 0; i < next->nregions; i++)
		if (config_find_region(&d->cfg, next->regions[i].name) == NULL)
			added.regions[added.nregions++] = next->regions[i];
	if (added.nregions > 0 && memcheck_config(&added, &why) < 0)
		refuse(k, "%s", why.msg);
	free(added.regions);
}

/* The books are sized at start (a takeover may grow them; a reload never
 * remaps them, clients' requests are in flight): a configuration that
 * needs more room in them needs a restart. */
static void check_books(const struct daemon *d, const struct config *next, struct check *k)
{
	struct ledger_caps caps;
	struct errbuf why;

	daemon_books_caps(next, d->max_batch, &caps);
	if (ledger_fits(&d->books, &caps, &why) < 0)
		refuse(k, "%s: needs a restart", why.msg);
}

int reload_read(const struct daemon *d, struct config *next, struct errbuf *e)
{
	if (strcmp(d->cfg.file, CONFIG_DEFAULT_FILE) == 0)
		return config_load_string(config_default_text, CONFIG_DEFAULT_FILE, next, e->msg,
					  sizeof(e->msg));
	return config_load_file(d->cfg.file, next, e->msg, sizeof(e->msg));
}

int reload_check(const struct daemon *d, struct config *next, struct reload *r, struct errbuf *e)
{
	struct check k = {.d = d, .r = r, .e = e};

	memset(r, 0, sizeof(*r));
	e->msg[0] = '\0';
	/* What is removed or moved first: its reasons are the most telling, and
	 * a long list is cut at the end. */
	check_removals(d, next, &k);
	r->changes = config_diff(&d->cfg, next, on_change, &k);
	check_max_clients(d, next, &k);
	check_books(d, next, &k);
	if (k.refused == 0)
		check_memory(d, next, &k);
	if (k.refused > 0) {
		r->summary[0] = '\0';
		return -EBUSY;
	}
	r->next = *next;
	memset(next, 0, sizeof(*next));
	return 0;
}

static void swap_str(char **a, char **b)
{
	char *t = *a;

	*a = *b;
	*b = t;
}

/* Point every object and region at its settings in next: each that was
 * not removed has one there of the same name (what was added points there
 * already), only the memory they live in changes. */
static void repoint(struct daemon *d, struct config *next)
{
	struct object_table *l = &d->table;

	for (size_t i = 0; i < l->nobjects; i++) {
		struct object *o = l->objects[i];
		const struct cfg_region *cr;
		struct cfg_group *ng;
		struct cfg_group *og;

		if (o->gone)
			continue;
		cr = config_find_region(next, o->region->cfg->name);
		switch (o->kind) {
		case OBJ_POOL:
			o->u.pool.cfg = config_find_pool(cr, o->name);
			break;
		case OBJ_HEAP:
			o->u.heap.cfg = config_find_heap(cr, o->name);
			break;
		case OBJ_GROUP:
			/* The choice function was opened with the old strings and
			 * a plug-in may keep its argument: keep those alive (they
			 * are equal), and let the old config free the new ones. */
			og = (struct cfg_group *) o->u.group.cfg;
			ng = (struct cfg_group *) config_find_group(next, o->name);
			swap_str(&og->choice, &ng->choice);
			swap_str(&og->plugin, &ng->plugin);
			swap_str(&og->plugin_arg, &ng->plugin_arg);
			o->u.group.cfg = ng;
			break;
		}
	}
	for (size_t i = 0; i < l->nregions; i++)
		if (!l->regions[i]->gone)
			l->regions[i]->cfg = config_find_region(next, l->regions[i]->cfg->name);
}

/* Make room in every session for the objects and regions add brings:
 * what it holds of them (nothing), no lease slots, and whether it may use
 * each new region. Room left over after a later failure is harmless. */
static int grow_sessions(struct daemon *d, const struct object_table *add)
{
	for (uint32_t i = 0; i < d->cfg.max_clients; i++) {
		int rc = d->slots[i] != NULL ? session_grow(d->slots[i], &d->table, add) : 0;

		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Build what next adds and append it: first everything that can fail
 * (regions, allocators, choice functions, room in the sessions and the
 * per-uid counters), then the append, so that a failure leaves the running
 * table whole. */
static int add_objects(struct daemon *d, const struct config *next, struct errbuf *e)
{
	struct object_table add;
	int rc = object_table_stage(&d->table, next, d->dry_run, &add, e);

	if (rc < 0 || add.nobjects + add.nregions == 0) {
		object_table_cancel(&d->table, &add);
		return rc;
	}
	rc = grow_sessions(d, &add);
	if (rc == 0)
		rc = tenants_widen(&d->tenants, d->table.nobjects + add.nobjects,
				   d->table.nregions + add.nregions);
	if (rc == 0)
		rc = object_table_append(&d->table, &add);
	if (rc < 0) {
		object_table_cancel(&d->table, &add);
		return errbuf_set(e, rc, "cannot add objects: %s", strerror(-rc));
	}
	return 0;
}

/* Tombstone what next removes (check_removals let it go): cannot fail. */
static void remove_objects(struct daemon *d, const struct config *next)
{
	struct object_table *l = &d->table;

	for (size_t i = 0; i < l->nobjects; i++)
		if (!l->objects[i]->gone && kept_in(next, l->objects[i]) == NULL)
			object_table_remove(l, l->objects[i]);
	for (size_t i = 0; i < l->nregions; i++)
		if (!l->regions[i]->gone &&
		    config_find_region(next, l->regions[i]->cfg->name) == NULL)
			object_table_remove_region(l, l->regions[i]);
}

/* Room in the state's directory for everything next could add, so that
 * recording what the reload did cannot fail once it is done. */
static int reserve_state(struct daemon *d, const struct config *next, struct errbuf *e)
{
	size_t objects = d->table.nobjects + next->ngroups;

	for (size_t i = 0; i < next->nregions; i++)
		objects += next->regions[i].npools + next->regions[i].nheaps;
	return state_reserve(&d->state, d->table.nregions + next->nregions, objects, e);
}

int reload_apply(struct daemon *d, struct reload *r, struct errbuf *e)
{
	uint32_t was = d->cfg.max_clients, now = r->next.max_clients;
	struct config old;
	int rc;

	rc = reserve_state(d, &r->next, e);
	if (rc < 0) {
		reload_cancel(r);
		return rc;
	}
	if (now > was) {
		struct session **v = realloc(d->slots, now * sizeof(*v));

		if (v != NULL) {
			memset(v + was, 0, (now - was) * sizeof(*v));
			d->slots = v;
		}
		/* A larger session table left behind by a failure here is
		 * harmless: max_clients says how much of it is used. */
		if (v == NULL || tenants_grow(&d->tenants, now) < 0) {
			reload_cancel(r);
			return errbuf_set(e, -ENOMEM, "max_clients %u -> %u: %s", was, now,
					  strerror(ENOMEM));
		}
	}
	rc = add_objects(d, &r->next, e);
	if (rc < 0) {
		reload_cancel(r);
		return rc;
	}
	remove_objects(d, &r->next);
	/* Reserved above: the directory now numbers what was added, and
	 * marks what was removed, as the table does. */
	if (state_append(&d->state, &d->table, e) < 0)
		log_error("BUG: reload: %s", e->msg);
	repoint(d, &r->next);
	/* The summary is logged under the more verbose of the two levels, so
	 * that turning logging down still says so. */
	if (!d->log_level_pinned && r->next.log_level > log_get_level())
		log_set_level(r->next.log_level);
	old = d->cfg;
	d->cfg = r->next;
	memset(&r->next, 0, sizeof(r->next));
	config_free(&old);
	/* The table's entries stay; the limit follows the regions' shares,
	 * which ops checks before every new hold. */
	d->holds.limit = daemon_hold_limit(&d->cfg);
	d->generation++;
	d->loaded_wall_ms = daemon_wall_ms();
	d->reload_error[0] = '\0';
	log_info("reloaded %s: generation %llu, %s", d->cfg.file,
		 (unsigned long long) d->generation,
		 r->changes > 0 ? r->summary : "nothing changed");
	if (!d->log_level_pinned)
		log_set_level(d->cfg.log_level);
	reload_cancel(r);
	return 0;
}

void reload_cancel(struct reload *r)
{
	config_free(&r->next);
	memset(r, 0, sizeof(*r));
}

void reload_refused(struct daemon *d, const struct errbuf *e)
{
	d->reloads_refused++;
	snprintf(d->reload_error, sizeof(d->reload_error), "%s", e->msg);
	log_error("reload of %s refused, generation %llu serves on: %s", d->cfg.file,
		  (unsigned long long) d->generation, e->msg);
}
