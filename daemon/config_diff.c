/*
 * config_diff: what differs between a running configuration and a new one,
 * setting by setting, for the reload (reload.c decides what to do with each
 * difference). The typed settings come from the schema's own tables
 * (config__fields), so a setting added there is compared here without a
 * line of this file. The CP_OTHER ones (strings, id lists, the socket, the
 * contents of a region) are compared one by one below, with the reload
 * class of their own row: a new CP_OTHER setting must be added here too.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "daemon/config.h"
#include "daemon/config_parse.h"

const char *config_reload_name(enum config_reload r)
{
	switch (r) {
	case CONFIG_LIVE:
		return "live";
	case CONFIG_CONNECT:
		return "at the next connect";
	default:
		return "needs a restart";
	}
}

struct diff {
	config_change_fn *fn;
	void *arg;
	size_t n;
	char object[WIRE_NAME_MAX + 16];
};

static void emit(struct diff *df, enum config_change_kind kind, enum config_reload reload,
		 const char *setting, const char *was, const char *now)
{
	struct config_change ch = {
	    .kind = kind, .reload = reload, .object = df->object, .setting = setting};

	snprintf(ch.was, sizeof(ch.was), "%s", was);
	snprintf(ch.now, sizeof(ch.now), "%s", now);
	df->fn(df->arg, &ch);
	df->n++;
}

static void set_object(struct diff *df, const char *kind, const char *name)
{
	snprintf(df->object, sizeof(df->object), "%s '%s'", kind, name);
}

static uint64_t field_value(const struct cp_field *f, const void *obj)
{
	const char *p = (const char *) obj + f->offset;
	uint32_t v32;
	uint64_t v64;

	if (f->width == sizeof(bool))
		return *(const bool *) p;
	if (f->width == sizeof(v32)) {
		memcpy(&v32, p, sizeof(v32));
		return v32;
	}
	memcpy(&v64, p, sizeof(v64));
	return v64;
}

static void format_field(const struct cp_field *f, uint64_t v, char *buf, size_t len)
{
	if (f->kind == CP_BOOL)
		snprintf(buf, len, "%s", v ? "true" : "false");
	else
		snprintf(buf, len, "%" PRIu64, v);
}

/* The typed settings of one level, in schema order. */
static void diff_typed(struct diff *df, enum cp_level level, const void *a, const void *b)
{
	size_t n;
	const struct cp_field *f = config__fields(level, &n);

	for (size_t i = 0; i < n; i++) {
		char was[CONFIG_VALUE_MAX], now[CONFIG_VALUE_MAX];
		uint64_t x, y;

		if (f[i].kind == CP_OTHER)
			continue;
		x = field_value(&f[i], a);
		y = field_value(&f[i], b);
		if (x == y)
			continue;
		format_field(&f[i], x, was, sizeof(was));
		format_field(&f[i], y, now, sizeof(now));
		emit(df, CONFIG_CHANGED, f[i].reload, f[i].key, was, now);
	}
}

/* The reload class of a CP_OTHER key of a level. */
static enum config_reload reload_of(enum cp_level level, const char *key)
{
	size_t n;
	const struct cp_field *f = config__fields(level, &n);

	for (size_t i = 0; i < n; i++)
		if (strcmp(f[i].key, key) == 0)
			return f[i].reload;
	return CONFIG_RESTART;
}

static const char *str_or_none(const char *s)
{
	return s != NULL ? s : "(none)";
}

static bool str_differs(const char *x, const char *y)
{
	return (x == NULL) != (y == NULL) || (x != NULL && strcmp(x, y) != 0);
}

static void diff_str(struct diff *df, enum cp_level level, const char *key, const char *setting,
		     const char *x, const char *y)
{
	if (str_differs(x, y))
		emit(df, CONFIG_CHANGED, reload_of(level, key), setting, str_or_none(x),
		     str_or_none(y));
}

/* "(0, 1000)" cut to fit. */
static void format_ids(const uint32_t *v, size_t n, char *buf, size_t len)
{
	size_t at = (size_t) snprintf(buf, len, "(");

	for (size_t i = 0; i < n && at < len; i++)
		at += (size_t) snprintf(buf + at, len - at, "%s%" PRIu32, i ? ", " : "", v[i]);
	if (at < len)
		snprintf(buf + at, len - at, ")");
}

static void diff_ids(struct diff *df, enum cp_level level, const char *key, const uint32_t *x,
		     size_t nx, const uint32_t *y, size_t ny)
{
	char was[CONFIG_VALUE_MAX], now[CONFIG_VALUE_MAX];

	if (nx == ny && (nx == 0 || memcmp(x, y, nx * sizeof(*x)) == 0))
		return;
	format_ids(x, nx, was, sizeof(was));
	format_ids(y, ny, now, sizeof(now));
	emit(df, CONFIG_CHANGED, reload_of(level, key), key, was, now);
}

static void diff_u64(struct diff *df, enum config_reload reload, const char *setting, uint64_t x,
		     uint64_t y)
{
	char was[CONFIG_VALUE_MAX], now[CONFIG_VALUE_MAX];

	if (x == y)
		return;
	snprintf(was, sizeof(was), "%" PRIu64, x);
	snprintf(now, sizeof(now), "%" PRIu64, y);
	emit(df, CONFIG_CHANGED, reload, setting, was, now);
}

static void diff_root(struct diff *df, const struct config *a, const struct config *b)
{
	char was[CONFIG_VALUE_MAX], now[CONFIG_VALUE_MAX];

	df->object[0] = '\0';
	diff_typed(df, CP_ROOT, a, b);
	if (a->log_level != b->log_level)
		emit(df, CONFIG_CHANGED, reload_of(CP_ROOT, "log_level"), "log_level",
		     log_level_name(a->log_level), log_level_name(b->log_level));
	diff_ids(df, CP_ROOT, "admin_gids", a->admin_gids, a->n_admin_gids, b->admin_gids,
		 b->n_admin_gids);
	diff_str(df, CP_SOCKET, "path", "socket.path", a->socket_path, b->socket_path);
	if (a->socket_mode != b->socket_mode) {
		snprintf(was, sizeof(was), "%04o", (unsigned) a->socket_mode);
		snprintf(now, sizeof(now), "%04o", (unsigned) b->socket_mode);
		emit(df, CONFIG_CHANGED, reload_of(CP_SOCKET, "mode"), "socket.mode", was, now);
	}
	if (a->socket_group_set != b->socket_group_set ||
	    (a->socket_group_set && a->socket_group != b->socket_group)) {
		snprintf(was, sizeof(was), a->socket_group_set ? "%u" : "(none)",
			 (unsigned) a->socket_group);
		snprintf(now, sizeof(now), b->socket_group_set ? "%u" : "(none)",
			 (unsigned) b->socket_group);
		emit(df, CONFIG_CHANGED, reload_of(CP_SOCKET, "group"), "socket.group", was, now);
	}
}

const struct cfg_region *config_find_region(const struct config *c, const char *name)
{
	for (size_t i = 0; i < c->nregions; i++)
		if (strcmp(c->regions[i].name, name) == 0)
			return &c->regions[i];
	return NULL;
}

const struct cfg_pool *config_find_pool(const struct cfg_region *r, const char *name)
{
	for (size_t i = 0; r != NULL && i < r->npools; i++)
		if (strcmp(r->pools[i].name, name) == 0)
			return &r->pools[i];
	return NULL;
}

const struct cfg_heap *config_find_heap(const struct cfg_region *r, const char *name)
{
	for (size_t i = 0; r != NULL && i < r->nheaps; i++)
		if (strcmp(r->heaps[i].name, name) == 0)
			return &r->heaps[i];
	return NULL;
}

const struct cfg_group *config_find_group(const struct config *c, const char *name)
{
	for (size_t i = 0; i < c->ngroups; i++)
		if (strcmp(c->groups[i].name, name) == 0)
			return &c->groups[i];
	return NULL;
}

/* Objects of container ca only (removed), then of cb only (added), of one
 * kind: array member v with n entries. */
#define DIFF_PRESENCE(df, kind, ca, cb, v, n, find)                                       \
	do {                                                                              \
		for (size_t i_ = 0; i_ < (ca)->n; i_++)                                   \
			if (find((cb), (ca)->v[i_].name) == NULL) {                       \
				set_object((df), (kind), (ca)->v[i_].name);               \
				emit((df), CONFIG_REMOVED, CONFIG_RESTART, NULL, "", ""); \
			}                                                                 \
		for (size_t i_ = 0; i_ < (cb)->n; i_++)                                   \
			if (find((ca), (cb)->v[i_].name) == NULL) {                       \
				set_object((df), (kind), (cb)->v[i_].name);               \
				emit((df), CONFIG_ADDED, CONFIG_RESTART, NULL, "", "");   \
			}                                                                 \
	} while (0)

/* Pools and heaps of a region present in both: their settings and their
 * place in the region (computed, so it changes with its neighbours). */
static void diff_contents(struct diff *df, const struct cfg_region *a, const struct cfg_region *b)
{
	for (size_t i = 0; i < a->npools; i++) {
		const struct cfg_pool *x = &a->pools[i], *y = config_find_pool(b, x->name);

		if (y == NULL)
			continue;
		set_object(df, "pool", x->name);
		diff_typed(df, CP_POOL, x, y);
		diff_u64(df, CONFIG_RESTART, "offset in the region", x->offset, y->offset);
	}
	for (size_t i = 0; i < a->nheaps; i++) {
		const struct cfg_heap *x = &a->heaps[i], *y = config_find_heap(b, x->name);

		if (y == NULL)
			continue;
		set_object(df, "heap", x->name);
		diff_typed(df, CP_HEAP, x, y);
		diff_u64(df, CONFIG_RESTART, "offset in the region", x->offset, y->offset);
	}
	DIFF_PRESENCE(df, "pool", a, b, pools, npools, config_find_pool);
	DIFF_PRESENCE(df, "heap", a, b, heaps, nheaps, config_find_heap);
}

static void diff_regions(struct diff *df, const struct config *a, const struct config *b)
{
	for (size_t i = 0; i < a->nregions; i++) {
		const struct cfg_region *x = &a->regions[i], *y = config_find_region(b, x->name);

		if (y == NULL)
			continue;
		set_object(df, "region", x->name);
		diff_typed(df, CP_REGION, x, y);
		diff_ids(df, CP_REGION, "allow_uids", x->allow_uids, x->n_allow_uids, y->allow_uids,
			 y->n_allow_uids);
		diff_ids(df, CP_REGION, "allow_gids", x->allow_gids, x->n_allow_gids, y->allow_gids,
			 y->n_allow_gids);
		diff_contents(df, x, y);
	}
	DIFF_PRESENCE(df, "region", a, b, regions, nregions, config_find_region);
}

static bool members_differ(const struct cfg_group *x, const struct cfg_group *y)
{
	if (x->nmembers != y->nmembers)
		return true;
	for (size_t i = 0; i < x->nmembers; i++)
		if (strcmp(x->members[i], y->members[i]) != 0)
			return true;
	return false;
}

static void diff_groups(struct diff *df, const struct config *a, const struct config *b)
{
	for (size_t i = 0; i < a->ngroups; i++) {
		const struct cfg_group *x = &a->groups[i], *y = config_find_group(b, x->name);
		char was[CONFIG_VALUE_MAX], now[CONFIG_VALUE_MAX];

		if (y == NULL)
			continue;
		set_object(df, "group", x->name);
		if (members_differ(x, y)) {
			snprintf(was, sizeof(was), "%zu pools from '%s'", x->nmembers,
				 x->members[0]);
			snprintf(now, sizeof(now), "%zu pools from '%s'", y->nmembers,
				 y->members[0]);
			emit(df, CONFIG_CHANGED, reload_of(CP_GROUP, "pools"), "pools", was, now);
		}
		diff_str(df, CP_GROUP, "choice", "choice", x->choice, y->choice);
		diff_str(df, CP_GROUP, "plugin", "plugin", x->plugin, y->plugin);
		diff_str(df, CP_GROUP, "plugin_arg", "plugin_arg", x->plugin_arg, y->plugin_arg);
	}
	DIFF_PRESENCE(df, "group", a, b, groups, ngroups, config_find_group);
}

size_t config_diff(const struct config *a, const struct config *b, config_change_fn *fn, void *arg)
{
	struct diff df = {.fn = fn, .arg = arg};

	diff_root(&df, a, b);
	diff_regions(&df, a, b);
	diff_groups(&df, a, b);
	return df.n;
}
