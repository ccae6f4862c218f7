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

static void on_change(void *arg, const struct config_change *ch)
{
	struct check *k = arg;
	const char *sp = ch->object[0] != '\0' ? " " : "";

	if (ch->kind != CONFIG_CHANGED) {
		k->refused++;
		list_add(k->e->msg, sizeof(k->e->msg), &k->err_at,
			 "%s %s: adding or removing objects needs a restart", ch->object,
			 ch->kind == CONFIG_ADDED ? "added" : "removed");
	} else if (ch->reload == CONFIG_RESTART) {
		k->refused++;
		list_add(k->e->msg, sizeof(k->e->msg), &k->err_at,
			 "%s%s%s %s -> %s: cannot change without a restart", ch->object, sp,
			 ch->setting, ch->was, ch->now);
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
	r->changes = config_diff(&d->cfg, next, on_change, &k);
	check_max_clients(d, next, &k);
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

/* Point every object and region at its settings in next: the objects and
 * their names are the same (reload_check saw no object added or removed),
 * only the memory they live in changes. */
static void repoint(struct daemon *d, struct config *next)
{
	struct object_table *l = &d->table;

	for (size_t i = 0; i < l->nobjects; i++) {
		struct object *o = &l->objects[i];
		const struct cfg_region *cr = config_find_region(next, o->region->cfg->name);
		struct cfg_group *ng;
		struct cfg_group *og;

		switch (o->kind) {
		case OBJ_POOL:
			o->u.pool.cfg = config_find_pool(cr, o->name);
			o->name = o->u.pool.cfg->name;
			break;
		case OBJ_HEAP:
			o->u.heap.cfg = config_find_heap(cr, o->name);
			o->name = o->u.heap.cfg->name;
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
			o->name = ng->name;
			break;
		}
	}
	for (size_t i = 0; i < l->nregions; i++)
		l->regions[i].cfg = config_find_region(next, l->regions[i].cfg->name);
}

int reload_apply(struct daemon *d, struct reload *r, struct errbuf *e)
{
	uint32_t was = d->cfg.max_clients, now = r->next.max_clients;
	struct config old;

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
