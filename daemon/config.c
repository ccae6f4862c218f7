/*
 * config: the schema of the configuration file, its validation and the
 * layout of each region. The libconfig walking is in config_parse.c.
 *
 * Invariants of a loaded config (what the rest of the daemon may rely on):
 * names are unique (regions among regions; pools, heaps and groups among
 * each other) and match [A-Za-z0-9_.-]{1,63}; every object starts on a page
 * boundary of its region and aligned to its align or granule, objects do not
 * overlap, in config order, and all end within the region's size; a group's
 * members are distinct pools of one region.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "daemon/config.h"
#include "daemon/config_parse.h"

#define PAGE_SIZE_4K   UINT64_C(4096)
#define HUGE_PAGE_SIZE (UINT64_C(2) << 20)
/* fallocate and ftruncate take an off_t. */
#define REGION_SIZE_MAX ((UINT64_C(1) << 63) - HUGE_PAGE_SIZE)
#define SUN_PATH_MAX    (sizeof(((struct sockaddr_un *) NULL)->sun_path) - 1)

_Static_assert(sizeof(uid_t) == sizeof(uint32_t) && sizeof(gid_t) == sizeof(uint32_t),
	       "ids are read as uint32_t");

/* The schema: every setting each group may hold, and what a reload may do
 * with it (enum config_reload; allocatord.conf(5) has the same table).
 * Typed rows must say it (-Wmissing-field-initializers); an unmarked
 * CP_OTHER row is CONFIG_RESTART. Defaults are set before cp_fields runs;
 * the checks that involve several settings follow it. */
static const struct cp_field root_fields[] = {
    {.key = "socket"},
    {.key = "log_level", .reload = CONFIG_LIVE},
    {"max_frame", CP_SIZE, false, WIRE_FRAME_MIN, WIRE_FRAME_MAX, CP_AT(struct config, max_frame),
     CONFIG_RESTART},
    {"max_clients", CP_UINT, false, 1, 65536, CP_AT(struct config, max_clients), CONFIG_LIVE},
    {"admin_slots", CP_UINT, false, 0, 65535, CP_AT(struct config, admin_slots), CONFIG_LIVE},
    {"max_clients_per_uid", CP_UINT, false, 1, 65536, CP_AT(struct config, max_clients_per_uid),
     CONFIG_LIVE},
    {.key = "admin_gids", .reload = CONFIG_CONNECT},
    {"hello_timeout_ms", CP_UINT, false, 0, 3600000, CP_AT(struct config, hello_timeout_ms),
     CONFIG_CONNECT},
    {"max_output", CP_SIZE, false, 0, 1u << 30, CP_AT(struct config, max_output), CONFIG_LIVE},
    {"max_output_total", CP_SIZE, false, 0, UINT64_C(1) << 40,
     CP_AT(struct config, max_output_total), CONFIG_LIVE},
    {"max_bad_frames", CP_UINT, false, 0, 1u << 20, CP_AT(struct config, max_bad_frames),
     CONFIG_LIVE},
    {"max_unread_hellos", CP_UINT, false, 1, 65536, CP_AT(struct config, max_unread_hellos),
     CONFIG_LIVE},
    {.key = "regions"},
    {.key = "groups"},
};

static const struct cp_field socket_fields[] = {{.key = "path"}, {.key = "mode"}, {.key = "group"}};

static const struct cp_field region_fields[] = {
    {.key = "name"},
    {"size", CP_SIZE, false, 0, REGION_SIZE_MAX, CP_AT(struct cfg_region, size), CONFIG_RESTART},
    {"hugepages", CP_BOOL, false, 0, 1, CP_AT(struct cfg_region, hugepages), CONFIG_RESTART},
    {.key = "allow_uids", .reload = CONFIG_CONNECT},
    {.key = "allow_gids", .reload = CONFIG_CONNECT},
    {"max_holds", CP_UINT, false, 1, CONFIG_HOLDS_MAX, CP_AT(struct cfg_region, max_holds),
     CONFIG_LIVE},
    {"uid_holds", CP_UINT, false, 1, CONFIG_HOLDS_MAX, CP_AT(struct cfg_region, uid_holds),
     CONFIG_LIVE},
    {.key = "pools"},
    {.key = "heaps"},
};

static const struct cp_field pool_fields[] = {
    {.key = "name"},
    {"block_size", CP_SIZE, true, 1, REGION_SIZE_MAX, CP_AT(struct cfg_pool, block_size),
     CONFIG_RESTART},
    {"blocks", CP_UINT, true, 1, UINT64_C(1) << 32, CP_AT(struct cfg_pool, blocks), CONFIG_RESTART},
    {"align", CP_SIZE, false, 4, UINT64_C(1) << 30, CP_AT(struct cfg_pool, align), CONFIG_RESTART},
    {"client_quota", CP_UINT, false, 1, UINT64_C(1) << 32, CP_AT(struct cfg_pool, quota),
     CONFIG_LIVE},
    {"uid_quota", CP_UINT, false, 1, UINT64_C(1) << 32, CP_AT(struct cfg_pool, uid_quota),
     CONFIG_LIVE},
    {"cache_max", CP_UINT, false, 0, CONFIG_CACHE_MAX, CP_AT(struct cfg_pool, cache_max),
     CONFIG_CONNECT},
    {"client_cache", CP_UINT, false, 0, CONFIG_CACHE_MAX, CP_AT(struct cfg_pool, client_cache),
     CONFIG_CONNECT},
};

static const struct cp_field heap_fields[] = {
    {.key = "name"},
    {"size", CP_SIZE, true, 1, REGION_SIZE_MAX, CP_AT(struct cfg_heap, size), CONFIG_RESTART},
    {"granule", CP_SIZE, false, 8, 1u << 20, CP_AT(struct cfg_heap, granule), CONFIG_RESTART},
    {"max_allocs", CP_UINT, false, 1, 1u << 30, CP_AT(struct cfg_heap, max_allocs), CONFIG_RESTART},
    {"client_quota", CP_SIZE, false, 1, REGION_SIZE_MAX, CP_AT(struct cfg_heap, quota),
     CONFIG_LIVE},
    {"uid_quota", CP_SIZE, false, 1, REGION_SIZE_MAX, CP_AT(struct cfg_heap, uid_quota),
     CONFIG_LIVE},
};

static const struct cp_field group_fields[] = {
    {.key = "name"}, {.key = "pools"}, {.key = "choice"}, {.key = "plugin"}, {.key = "plugin_arg"}};

#define FIELDS(t) t, sizeof(t) / sizeof(t[0])

static int oom(const struct cp_ctx *ctx)
{
	return cp_fail_line(ctx, 0, -ENOMEM, "out of memory");
}

static bool is_pow2(uint64_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

/* a is a power of two; v + a must not overflow (callers keep v below 2^63). */
static uint64_t round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* What already carries a name in the pools / heaps / groups namespace. */
struct found {
	const char *kind;
	int line;
	size_t region;
};

static bool find_object(const struct config *c, const char *name, struct found *f)
{
	size_t r, i;

	for (r = 0; r < c->nregions; r++) {
		const struct cfg_region *reg = &c->regions[r];

		for (i = 0; i < reg->npools; i++)
			if (strcmp(reg->pools[i].name, name) == 0) {
				*f = (struct found){"pool", reg->pools[i].line, r};
				return true;
			}
		for (i = 0; i < reg->nheaps; i++)
			if (strcmp(reg->heaps[i].name, name) == 0) {
				*f = (struct found){"heap", reg->heaps[i].line, r};
				return true;
			}
	}
	for (i = 0; i < c->ngroups; i++)
		if (strcmp(c->groups[i].name, name) == 0) {
			*f = (struct found){"group", c->groups[i].line, 0};
			return true;
		}
	return false;
}

/* The required `name` of group s, checked for charset and length, into dst.
 * Unique among pools, heaps and groups unless region_index is not NULL: then
 * among c's first *region_index regions. */
static int parse_name(const struct cp_ctx *ctx, const struct config *c, const config_setting_t *s,
		      const size_t *region_index, char dst[WIRE_NAME_MAX + 1])
{
	const config_setting_t *setting;
	const char *name;
	char got[CP_VALUE_BUF];
	struct found f;
	size_t i, len;
	int rc = cp_string(ctx, s, "name", true, &name);

	if (rc != 0)
		return rc;
	setting = config_setting_get_member(s, "name");
	len = strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-");
	if (name[len] != '\0' || len > WIRE_NAME_MAX)
		return cp_fail(ctx, setting,
			       "must be 1 to %d characters of A-Z a-z 0-9 _ . -, got %s",
			       WIRE_NAME_MAX, cp_quote(name, got));
	if (region_index != NULL) {
		for (i = 0; i < *region_index; i++)
			if (strcmp(c->regions[i].name, name) == 0)
				return cp_fail(
				    ctx, setting,
				    "\"%s\" is already the name of the region at line %d", name,
				    c->regions[i].line);
	} else if (find_object(c, name, &f)) {
		return cp_fail(ctx, setting,
			       "\"%s\" is already the name of the %s at line %d (pools, heaps and "
			       "groups share one namespace)",
			       name, f.kind, f.line);
	}
	memcpy(dst, name, len + 1);
	return 0;
}

static int parse_socket(const struct cp_ctx *ctx, const config_setting_t *root, struct config *c)
{
	const config_setting_t *group, *sock = config_setting_get_member(root, "socket");
	const char *path = NULL;
	int rc;

	if (sock == NULL)
		return 0;
	rc = cp_fields(ctx, sock, FIELDS(socket_fields), c);
	if (rc == 0 && cp_mode(ctx, sock, "mode", &c->socket_mode) < 0)
		rc = -EINVAL;
	if (rc == 0 && (group = config_setting_get_member(sock, "group")) != NULL) {
		rc = cp_id(ctx, group, true, &c->socket_group);
		c->socket_group_set = rc == 0;
	}
	if (rc == 0 && cp_string(ctx, sock, "path", false, &path) < 0)
		rc = -EINVAL;
	if (rc != 0 || path == NULL)
		return rc;
	if (strlen(path) > SUN_PATH_MAX)
		return cp_fail(ctx, config_setting_get_member(sock, "path"),
			       "is %zu bytes, longer than the %zu a Unix socket path can have",
			       strlen(path), SUN_PATH_MAX);
	c->socket_path = strdup(path);
	return c->socket_path != NULL ? 0 : oom(ctx);
}

static int parse_log_level(const struct cp_ctx *ctx, const config_setting_t *root, struct config *c)
{
	char got[CP_VALUE_BUF];
	const char *s;
	int rc = cp_string(ctx, root, "log_level", false, &s);

	if (rc != 0)
		return rc == 1 ? 0 : rc;
	if (log_level_parse(s, &c->log_level) == 0)
		return 0;
	return cp_fail(ctx, config_setting_get_member(root, "log_level"),
		       "must be one of error, warn, info, debug, got %s", cp_quote(s, got));
}

static int parse_pool(const struct cp_ctx *ctx, const struct config *c, const config_setting_t *s,
		      struct cfg_pool *p)
{
	int rc;

	p->line = config_setting_source_line(s);
	p->align = 64;
	p->cache_max = 1024;
	rc = cp_fields(ctx, s, FIELDS(pool_fields), p);
	if (rc == 0)
		rc = parse_name(ctx, c, s, NULL, p->name);
	if (rc != 0)
		return rc;
	if (!is_pow2(p->align))
		return cp_fail(ctx, config_setting_get_member(s, "align"),
			       "must be a power of two, got %" PRIu64, p->align);
	if (p->block_size % p->align != 0)
		return cp_fail(ctx, config_setting_get_member(s, "block_size"),
			       "must be a multiple of align (%" PRIu64 "), got %" PRIu64, p->align,
			       p->block_size);
	if (p->blocks > REGION_SIZE_MAX / p->block_size)
		return cp_fail(ctx, config_setting_get_member(s, "blocks"),
			       "%" PRIu64 " blocks of %" PRIu64 " bytes make more than 2^63 bytes",
			       p->blocks, p->block_size);
	if (p->quota > p->blocks)
		return cp_fail(ctx, config_setting_get_member(s, "client_quota"),
			       "is more than the pool's %" PRIu64 " blocks, got %" PRIu64,
			       p->blocks, p->quota);
	/* Half the pool by default: whatever one uid does, other uids find
	 * at least the other half. */
	if (p->uid_quota == 0)
		p->uid_quota = (p->blocks + 1) / 2;
	else if (p->uid_quota > p->blocks)
		return cp_fail(ctx, config_setting_get_member(s, "uid_quota"),
			       "is more than the pool's %" PRIu64 " blocks, got %" PRIu64,
			       p->blocks, p->uid_quota);
	/* A cache never holds more than a client may: clamp, do not refuse,
	 * so that the default fits every pool. */
	if (p->cache_max > p->blocks)
		p->cache_max = (uint32_t) p->blocks;
	if (p->quota > 0 && p->cache_max > p->quota)
		p->cache_max = (uint32_t) p->quota;
	if (p->client_cache > p->cache_max)
		return cp_fail(ctx, config_setting_get_member(s, "client_cache"),
			       "is more than cache_max (%" PRIu32
			       ", at most blocks and client_quota), got %" PRIu32,
			       p->cache_max, p->client_cache);
	return 0;
}

static int parse_heap(const struct cp_ctx *ctx, const struct config *c, const config_setting_t *s,
		      struct cfg_heap *h)
{
	char a[BYTES_BUF], b[BYTES_BUF];
	uint64_t units;
	int rc;

	h->line = config_setting_source_line(s);
	h->granule = 64;
	rc = cp_fields(ctx, s, FIELDS(heap_fields), h);
	if (rc == 0)
		rc = parse_name(ctx, c, s, NULL, h->name);
	if (rc != 0)
		return rc;
	if (!is_pow2(h->granule))
		return cp_fail(ctx, config_setting_get_member(s, "granule"),
			       "must be a power of two, got %" PRIu32, h->granule);
	if (h->size % h->granule != 0)
		return cp_fail(ctx, config_setting_get_member(s, "size"),
			       "must be a multiple of granule (%" PRIu32 "), got %" PRIu64,
			       h->granule, h->size);
	units = h->size / h->granule;
	if (units > UINT32_MAX)
		return cp_fail(ctx, config_setting_get_member(s, "size"),
			       "is %" PRIu64 " granules of %" PRIu32 " bytes, more than %" PRIu32
			       ": use a larger granule",
			       units, h->granule, UINT32_MAX);
	/* Each live allocation takes at least one granule. */
	if (config_setting_get_member(s, "max_allocs") == NULL)
		h->max_allocs = units / 4 == 0 ? 1 : units / 4 < (1u << 20) ? units / 4 : 1u << 20;
	else if (h->max_allocs > units)
		return cp_fail(ctx, config_setting_get_member(s, "max_allocs"),
			       "is more than the %" PRIu64 " granules the heap holds, got %" PRIu32,
			       units, h->max_allocs);
	if (h->quota > h->size)
		return cp_fail(ctx, config_setting_get_member(s, "client_quota"),
			       "is more than the heap's size (%s), got %s",
			       bytes_fmt(h->size, BYTES_EXACT, a),
			       bytes_fmt(h->quota, BYTES_EXACT, b));
	if (h->uid_quota == 0)
		h->uid_quota = round_up(h->size / 2, h->granule);
	else if (h->uid_quota > h->size)
		return cp_fail(ctx, config_setting_get_member(s, "uid_quota"),
			       "is more than the heap's size (%s), got %s",
			       bytes_fmt(h->size, BYTES_EXACT, a),
			       bytes_fmt(h->uid_quota, BYTES_EXACT, b));
	return 0;
}

/* Places an object of size bytes at the first page boundary from *end that
 * is also a multiple of align; returns its offset and moves *end past it. */
static uint64_t place(uint64_t *end, uint64_t align, uint64_t size)
{
	uint64_t offset = round_up(*end, align > PAGE_SIZE_4K ? align : PAGE_SIZE_4K);

	*end = offset + size;
	return offset;
}

/*
 * Offsets in config order, pools then heaps, no two objects on one page;
 * then the region's size: computed, or checked against what they need.
 * Each object is at most REGION_SIZE_MAX bytes and placing stops once *end
 * passes REGION_SIZE_MAX, so no sum here overflows.
 */
static int place_contents(const struct cp_ctx *ctx, const config_setting_t *s, struct cfg_region *r,
			  bool size_set)
{
	uint64_t end = 0, page = r->hugepages ? HUGE_PAGE_SIZE : PAGE_SIZE_4K, need;
	char a[BYTES_BUF], b[BYTES_BUF];
	size_t i;

	for (i = 0; i < r->npools && end <= REGION_SIZE_MAX; i++)
		r->pools[i].offset =
		    place(&end, r->pools[i].align, r->pools[i].block_size * r->pools[i].blocks);
	/* Whole 64-bit words per pool: blocks <= 2^32, so no overflow. */
	r->bits_size = 0;
	for (i = 0; i < r->npools; i++) {
		r->pools[i].bits_offset = r->bits_size;
		r->bits_size += round_up(r->pools[i].blocks, 64) / 8;
	}
	/* Heaps at offsets aligned beyond their granule: TLSF aligns offsets
	 * within the heap, which are region offsets as aligned only up to what
	 * the heap's own offset is a multiple of. */
	for (i = 0; i < r->nheaps && end <= REGION_SIZE_MAX; i++) {
		uint64_t at = wire_heap_align(r->heaps[i].size);

		if (at < r->heaps[i].granule)
			at = r->heaps[i].granule;
		r->heaps[i].offset = place(&end, at, r->heaps[i].size);
	}
	if (end > REGION_SIZE_MAX)
		return cp_fail(ctx, s, "its pools and heaps need more than %s",
			       bytes_fmt(REGION_SIZE_MAX, BYTES_EXACT, a));
	need = round_up(end, page);
	if (!size_set)
		r->size = need;
	else if (r->size < end)
		return cp_fail(ctx, config_setting_get_member(s, "size"),
			       "is %" PRIu64 " bytes, but its pools and heaps need %" PRIu64
			       " bytes (%s)",
			       r->size, need, bytes_fmt(need, BYTES_EXACT, a));
	else if (r->size % page != 0)
		return cp_fail(ctx, config_setting_get_member(s, "size"),
			       "must be a multiple of %s (hugepages: %s), got %s",
			       bytes_fmt(page, BYTES_EXACT, a), r->hugepages ? "yes" : "no",
			       bytes_fmt(r->size, BYTES_EXACT, b));
	return 0;
}

/* The region's share of the hold table and one uid's part of it: by
 * default room for four holders of every unit, so that hand-offs never run
 * short, and half of that for one uid, so that no uid can fill it. */
static int hold_shares(const struct cp_ctx *ctx, const config_setting_t *s, struct cfg_region *r)
{
	uint64_t units = 0;
	size_t i;

	for (i = 0; i < r->npools; i++)
		units += r->pools[i].blocks;
	for (i = 0; i < r->nheaps; i++)
		units += r->heaps[i].max_allocs;
	if (r->max_holds == 0)
		r->max_holds = units * 4 + CONFIG_HOLDS_SLACK < CONFIG_HOLDS_MAX
				   ? (uint32_t) (units * 4 + CONFIG_HOLDS_SLACK)
				   : CONFIG_HOLDS_MAX;
	if (r->uid_holds == 0)
		r->uid_holds = r->max_holds / 2 > 0 ? r->max_holds / 2 : 1;
	else if (r->uid_holds > r->max_holds)
		return cp_fail(ctx, config_setting_get_member(s, "uid_holds"),
			       "is more than max_holds (%" PRIu32 "), got %" PRIu32, r->max_holds,
			       r->uid_holds);
	return 0;
}

/* Length of an optional list; 0 when absent. */
static size_t length_of(const config_setting_t *list)
{
	return list != NULL ? (size_t) config_setting_length(list) : 0;
}

/*
 * Element arrays are allocated whole and counted in as each element is
 * parsed (npools, nheaps, ...): config_free then frees a partly parsed one.
 */
static int parse_region(const struct cp_ctx *ctx, struct config *c, const config_setting_t *s,
			size_t index)
{
	struct cfg_region *r = &c->regions[index];
	config_setting_t *pools = NULL, *heaps = NULL;
	size_t i, npools, nheaps;
	int rc;

	r->line = config_setting_source_line(s);
	rc = cp_fields(ctx, s, FIELDS(region_fields), r);
	if (rc == 0)
		rc = parse_name(ctx, c, s, &index, r->name);
	if (rc == 0)
		rc = cp_ids(ctx, s, "allow_uids", false, &r->allow_uids, &r->n_allow_uids);
	if (rc >= 0)
		rc = cp_ids(ctx, s, "allow_gids", true, &r->allow_gids, &r->n_allow_gids);
	if (rc >= 0)
		rc = cp_list(ctx, s, "pools", false, false, &pools);
	if (rc >= 0)
		rc = cp_list(ctx, s, "heaps", false, false, &heaps);
	if (rc < 0)
		return rc;
	npools = length_of(pools);
	nheaps = length_of(heaps);
	if (npools == 0 && nheaps == 0)
		return cp_fail(ctx, s, "region \"%s\" has no pools and no heaps", r->name);
	if (npools > 0 && (r->pools = calloc(npools, sizeof(*r->pools))) == NULL)
		return oom(ctx);
	if (nheaps > 0 && (r->heaps = calloc(nheaps, sizeof(*r->heaps))) == NULL)
		return oom(ctx);
	for (i = 0; i < npools; i++) {
		r->npools++;
		rc = parse_pool(ctx, c, config_setting_get_elem(pools, (unsigned) i), &r->pools[i]);
		if (rc != 0)
			return rc;
	}
	for (i = 0; i < nheaps; i++) {
		r->nheaps++;
		rc = parse_heap(ctx, c, config_setting_get_elem(heaps, (unsigned) i), &r->heaps[i]);
		if (rc != 0)
			return rc;
	}
	rc = place_contents(ctx, s, r, config_setting_get_member(s, "size") != NULL);
	return rc == 0 ? hold_shares(ctx, s, r) : rc;
}

/* One member of a group: an existing pool, not yet listed, in the region of
 * the first member. */
static int check_member(const struct cp_ctx *ctx, const struct config *c, const struct cfg_group *g,
			const config_setting_t *s, const char *name, size_t *region)
{
	char got[CP_VALUE_BUF];
	struct found f;
	size_t i;

	if (!find_object(c, name, &f))
		return cp_fail(ctx, s, "no pool named %s", cp_quote(name, got));
	if (strcmp(f.kind, "pool") != 0)
		return cp_fail(ctx, s,
			       "\"%s\" is a %s (line %d), not a pool: groups hold pools only", name,
			       f.kind, f.line);
	for (i = 0; i < g->nmembers; i++)
		if (strcmp(g->members[i], name) == 0)
			return cp_fail(ctx, s, "pool \"%s\" is listed twice", name);
	if (g->nmembers > 0 && f.region != *region)
		return cp_fail(ctx, s,
			       "pool \"%s\" is in region \"%s\", but \"%s\" is in region \"%s\": "
			       "a group's pools must share one region",
			       name, c->regions[f.region].name, g->members[0],
			       c->regions[*region].name);
	*region = f.region;
	return 0;
}

static int dup_optional(const struct cp_ctx *ctx, const config_setting_t *s, const char *name,
			char **out)
{
	const char *v;
	int rc = cp_string(ctx, s, name, false, &v);

	if (rc != 0)
		return rc == 1 ? 0 : rc;
	*out = strdup(v);
	return *out != NULL ? 0 : oom(ctx);
}

static int parse_group(const struct cp_ctx *ctx, struct config *c, const config_setting_t *s,
		       struct cfg_group *g)
{
	config_setting_t *list;
	size_t i, n, region = 0;
	const char *member;
	int rc;

	g->line = config_setting_source_line(s);
	rc = cp_fields(ctx, s, FIELDS(group_fields), g);
	if (rc == 0)
		rc = parse_name(ctx, c, s, NULL, g->name);
	if (rc == 0)
		rc = cp_list(ctx, s, "pools", true, true, &list);
	if (rc != 0)
		return rc;
	n = length_of(list);
	if (n == 0)
		return cp_fail(ctx, list, "must name at least one pool");
	g->members = calloc(n, sizeof(*g->members));
	if (g->members == NULL)
		return oom(ctx);
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(list, (unsigned) i);

		rc = cp_elem_string(ctx, e, &member);
		if (rc == 0)
			rc = check_member(ctx, c, g, e, member, &region);
		if (rc != 0)
			return rc;
		g->members[i] = strdup(member);
		if (g->members[i] == NULL)
			return oom(ctx);
		g->nmembers++;
	}
	rc = dup_optional(ctx, s, "choice", &g->choice);
	if (rc == 0)
		rc = dup_optional(ctx, s, "plugin", &g->plugin);
	if (rc == 0)
		rc = dup_optional(ctx, s, "plugin_arg", &g->plugin_arg);
	if (rc != 0)
		return rc;
	if (g->choice != NULL && g->plugin != NULL)
		return cp_fail(ctx, s, "sets both choice and plugin: set exactly one");
	if (g->choice == NULL && g->plugin == NULL)
		return cp_fail(ctx, s,
			       "sets neither choice nor plugin: set exactly one "
			       "(e.g. choice = \"by_size\")");
	if (g->plugin_arg != NULL && g->plugin == NULL)
		return cp_fail(ctx, config_setting_get_member(s, "plugin_arg"),
			       "is for plugin only: built-in choice functions take no argument");
	return 0;
}

/* Slots kept for administrators, and the connections of one uid: by
 * default 4 slots (at most a quarter of them), so that root's memctl always
 * gets in, and a quarter of the rest per uid, so that no one uid takes
 * every slot. */
static int parse_admin(const struct cp_ctx *ctx, const config_setting_t *root, struct config *c)
{
	const config_setting_t *slots = config_setting_get_member(root, "admin_slots");
	int rc = cp_ids(ctx, root, "admin_gids", true, &c->admin_gids, &c->n_admin_gids);

	if (rc < 0)
		return rc;
	if (slots == NULL)
		c->admin_slots = c->max_clients / 4 < 4 ? c->max_clients / 4 : 4;
	else if (c->admin_slots >= c->max_clients)
		return cp_fail(ctx, slots,
			       "must be less than max_clients (%" PRIu32 "), got %" PRIu32,
			       c->max_clients, c->admin_slots);
	if (config_setting_get_member(root, "max_clients_per_uid") == NULL)
		c->max_clients_per_uid = (c->max_clients - c->admin_slots) / 4 > 0
					     ? (c->max_clients - c->admin_slots) / 4
					     : 1;
	return 0;
}

static int parse_globals(const struct cp_ctx *ctx, const config_setting_t *root, struct config *c)
{
	const config_setting_t *output = config_setting_get_member(root, "max_output");
	const config_setting_t *total = config_setting_get_member(root, "max_output_total");
	int rc;

	c->socket_mode = 0660;
	c->log_level = LOG_INFO;
	c->max_frame = WIRE_FRAME_DEFAULT;
	c->max_clients = 1024;
	c->hello_timeout_ms = 10000;
	c->max_output = 1u << 20;
	c->max_output_total = UINT64_C(64) << 20;
	c->max_bad_frames = 16;
	c->max_unread_hellos = 16;
	rc = cp_fields(ctx, root, FIELDS(root_fields), c);
	if (rc == 0)
		rc = parse_socket(ctx, root, c);
	if (rc == 0)
		rc = parse_log_level(ctx, root, c);
	if (rc == 0)
		rc = parse_admin(ctx, root, c);
	if (rc != 0)
		return rc;
	/* A client must be able to have a whole reply queued while the next
	 * one is being written. */
	if ((uint64_t) c->max_output < 2 * (uint64_t) c->max_frame)
		return cp_fail(
		    ctx, output != NULL ? output : config_setting_get_member(root, "max_frame"),
		    "max_output (%" PRIu32 ") must be at least 2 * max_frame = %" PRIu64 "%s",
		    c->max_output, 2 * (uint64_t) c->max_frame,
		    output != NULL ? "" : "; max_output is the default");
	/* One client alone may fill its own budget. */
	if (c->max_output_total < c->max_output)
		return cp_fail(ctx, total != NULL ? total : output,
			       "max_output_total (%" PRIu64
			       ") must be at least max_output (%" PRIu32 ")%s",
			       c->max_output_total, c->max_output,
			       total != NULL ? "" : "; max_output_total is the default");
	return 0;
}

static int parse_root(const struct cp_ctx *ctx, const config_setting_t *root, struct config *c)
{
	config_setting_t *regions, *groups = NULL;
	uint64_t holds = 0;
	size_t i, n;
	int rc = parse_globals(ctx, root, c);

	if (rc == 0)
		rc = cp_list(ctx, root, "regions", false, true, &regions);
	if (rc != 0)
		return rc;
	n = length_of(regions);
	if (n < 1 || n > WIRE_MAX_REGIONS)
		return cp_fail(ctx, regions, "must hold 1 to %d regions, got %zu", WIRE_MAX_REGIONS,
			       n);
	c->regions = calloc(n, sizeof(*c->regions));
	if (c->regions == NULL)
		return oom(ctx);
	for (i = 0; i < n; i++) {
		c->nregions++;
		rc = parse_region(ctx, c, config_setting_get_elem(regions, (unsigned) i), i);
		if (rc != 0)
			return rc;
		holds += c->regions[i].max_holds;
		if (holds > CONFIG_HOLDS_MAX)
			return cp_fail(ctx, config_setting_get_elem(regions, (unsigned) i),
				       "the regions' max_holds add up to more than %" PRIu32
				       " (the hold table's size): set max_holds lower",
				       CONFIG_HOLDS_MAX);
	}
	rc = cp_list(ctx, root, "groups", false, false, &groups);
	n = length_of(groups);
	if (rc != 0 || n == 0)
		return rc == 1 ? 0 : rc;
	c->groups = calloc(n, sizeof(*c->groups));
	if (c->groups == NULL)
		return oom(ctx);
	for (i = 0; i < n; i++) {
		c->ngroups++;
		rc = parse_group(ctx, c, config_setting_get_elem(groups, (unsigned) i),
				 &c->groups[i]);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int config_load_string(const char *text, const char *name, struct config *out, char *err,
		       size_t errlen)
{
	struct errbuf e = {""};
	struct cp_ctx ctx = {name != NULL ? name : "<string>", &e};
	config_t lc;
	int rc;

	memset(out, 0, sizeof(*out));
	config_init(&lc);
	rc = cp_read_text(&ctx, text, &lc);
	if (rc == 0)
		rc = parse_root(&ctx, config_root_setting(&lc), out);
	if (rc == 0 && (out->file = strdup(ctx.file)) == NULL)
		rc = oom(&ctx);
	config_destroy(&lc);
	if (rc != 0)
		config_free(out);
	errbuf_copy(&e, err, errlen);
	return rc;
}

int config_load_file(const char *path, struct config *out, char *err, size_t errlen)
{
	struct errbuf e = {""};
	struct cp_ctx ctx = {path, &e};
	char *text;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = cp_read_file(&ctx, &text);
	if (rc != 0) {
		errbuf_copy(&e, err, errlen);
		return rc;
	}
	rc = config_load_string(text, path, out, err, errlen);
	free(text);
	return rc;
}

void config_free(struct config *c)
{
	size_t i, j;

	for (i = 0; i < c->nregions; i++) {
		free(c->regions[i].allow_uids);
		free(c->regions[i].allow_gids);
		free(c->regions[i].pools);
		free(c->regions[i].heaps);
	}
	free(c->regions);
	for (i = 0; i < c->ngroups; i++) {
		for (j = 0; j < c->groups[i].nmembers; j++)
			free(c->groups[i].members[j]);
		free(c->groups[i].members);
		free(c->groups[i].choice);
		free(c->groups[i].plugin);
		free(c->groups[i].plugin_arg);
	}
	free(c->groups);
	free(c->admin_gids);
	free(c->file);
	free(c->socket_path);
	memset(c, 0, sizeof(*c));
}

const struct cp_field *config__fields(enum cp_level level, size_t *n)
{
	static const struct {
		const struct cp_field *v;
		size_t n;
	} t[] = {
	    [CP_ROOT] = {FIELDS(root_fields)},     [CP_SOCKET] = {FIELDS(socket_fields)},
	    [CP_REGION] = {FIELDS(region_fields)}, [CP_POOL] = {FIELDS(pool_fields)},
	    [CP_HEAP] = {FIELDS(heap_fields)},     [CP_GROUP] = {FIELDS(group_fields)},
	};

	*n = t[level].n;
	return t[level].v;
}
