/*
 * config: the allocatord configuration file (libconfig syntax), parsed and
 * validated into plain data, with the layout of every region computed.
 *
 * Nothing here touches the system beyond reading the file and resolving user
 * and group names: regions are created elsewhere (region.c), choice plug-ins
 * loaded elsewhere (choice.c). Every error names the file, the line and the
 * setting, e.g.
 *   "/etc/allocatord.conf:12: regions.[0].pools.[1].block_size: must be a
 *    multiple of align (512), got 1000"
 */
#ifndef ALLOCATORD_DAEMON_CONFIG_H
#define ALLOCATORD_DAEMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "daemon/errbuf.h"
#include "daemon/log.h"
#include "proto/wire.h"

#define CONFIG_ERR_MAX      ERRBUF_MAX /* holds any message whole */
#define CONFIG_CACHE_MAX    (1u << 20) /* cache_max, client_cache: 4 MiB of slots */
#define CONFIG_DEFAULT_FILE "<built-in default>"
#define CONFIG_HOLDS_SLACK  16384u           /* default max_holds beyond 4 per unit */
#define CONFIG_HOLDS_MAX    (UINT32_MAX - 2) /* the whole hold table */

struct cfg_pool {
	char name[WIRE_NAME_MAX + 1];
	uint64_t block_size; /* bytes, multiple of align */
	uint64_t blocks;
	uint64_t align;        /* power of two >= 4; default 64 */
	uint64_t quota;        /* blocks one client may hold; 0 = no limit */
	uint64_t uid_quota;    /* blocks one uid may hold over all its
				* connections; default ceil(blocks / 2), so
				* that no one uid can take a whole pool */
	uint32_t cache_max;    /* lease slots per client: default 1024, at most
				* blocks and quota (when set); 0 = no caching */
	uint32_t client_cache; /* cache size clients turn on at connect; default
				* 0; at most cache_max */
	uint64_t offset;       /* computed: start in the region */
	uint64_t bits_offset;  /* computed: start of its "held by two or more"
				* bitmap in the region's shared bits, bytes */
	int line;
};

struct cfg_heap {
	char name[WIRE_NAME_MAX + 1];
	uint64_t size;       /* bytes, multiple of granule */
	uint32_t granule;    /* power of two; default 64 */
	uint32_t max_allocs; /* live allocations; default size / granule / 4, capped */
	uint64_t quota;      /* bytes one client may hold; 0 = no limit */
	uint64_t uid_quota;  /* bytes one uid may hold over all its connections;
			      * default half the size, rounded up to granule */
	uint64_t offset;     /* computed */
	int line;
};

struct cfg_region {
	char name[WIRE_NAME_MAX + 1];
	uint64_t size; /* bytes; computed from the contents when not set */
	bool hugepages;
	uid_t *allow_uids; /* empty with allow_gids empty: every peer */
	size_t n_allow_uids;
	gid_t *allow_gids;
	size_t n_allow_gids;
	struct cfg_pool *pools;
	size_t npools;
	struct cfg_heap *heaps;
	size_t nheaps;
	uint64_t bits_size; /* computed: bytes of its shared-bits memfd, for
			     * each pool round_up(blocks, 64) / 8 */
	uint32_t max_holds; /* its share of the hold table; default 4 x its
			     * allocation units (pool blocks + heap
			     * max_allocs) + CONFIG_HOLDS_SLACK */
	uint32_t uid_holds; /* holds one uid may have in it; default
			     * max_holds / 2 */
	int line;
};

struct cfg_group {
	char name[WIRE_NAME_MAX + 1];
	char **members; /* pool names, all in one region */
	size_t nmembers;
	char *choice;     /* built-in choice function name, or NULL; not
			   * checked here: choice_open() knows the names */
	char *plugin;     /* path of a choice plug-in (.so), or NULL; exactly
			   * one of choice and plugin is set */
	char *plugin_arg; /* passed to the plug-in's init, or NULL */
	int line;
};

struct config {
	char *file;         /* path read, or CONFIG_DEFAULT_FILE */
	char *socket_path;  /* NULL: not set in the file */
	mode_t socket_mode; /* default 0660 */
	bool socket_group_set;
	gid_t socket_group;
	enum log_level log_level;     /* default LOG_INFO */
	uint32_t max_frame;           /* bytes; default 65536; [4096, 16 MiB] */
	uint32_t max_clients;         /* default 1024; [1, 65536] */
	uint32_t admin_slots;         /* of max_clients, kept for administrators;
				       * default min(4, max_clients / 4) */
	uint32_t max_clients_per_uid; /* connections of one uid (administrators
				       * excepted); default
				       * max(1, (max_clients - admin_slots) / 4) */
	gid_t *admin_gids;            /* members are administrators too (besides uid 0
				       * and the daemon's own uid) */
	size_t n_admin_gids;
	uint32_t hello_timeout_ms;  /* default 10000; 0 = wait forever */
	uint32_t max_output;        /* bytes of unread replies per client before the
				     * daemon stops reading from it; default 1 MiB,
				     * at least 2 * max_frame */
	uint64_t max_output_total;  /* bytes of unread replies of all clients together
				     * before the daemon stops reading from those
				     * with replies queued; default 64 MiB, at
				     * least max_output */
	uint32_t max_bad_frames;    /* malformed frames a client may send before it
				     * is disconnected; default 16; 0 = no limit */
	uint32_t max_unread_hellos; /* connections of one uid whose hello reply
				     * (with its descriptors) is unread; default
				     * 16; a further hello gets -EUSERS */
	struct cfg_region *regions;
	size_t nregions;
	struct cfg_group *groups;
	size_t ngroups;
};

/*
 * How a setting takes a new value when the daemon reloads its file
 * (SIGHUP). Each setting's row in the schema (config.c) carries one; a
 * setting added without one is CONFIG_RESTART, the safe default.
 */
enum config_reload {
	CONFIG_RESTART = 0, /* fixed while the daemon runs: a reload that
			     * changes it is refused as a whole */
	CONFIG_LIVE,        /* takes effect at once, for every client */
	CONFIG_CONNECT,     /* for clients that connect after the reload;
			     * connected ones keep what they were given */
};

/* "needs a restart", "live" or "at the next connect", as the log says it. */
const char *config_reload_name(enum config_reload r);

enum config_change_kind { CONFIG_CHANGED, CONFIG_ADDED, CONFIG_REMOVED };

#define CONFIG_VALUE_MAX 80 /* a value as a change shows it, cut to fit */

/* One difference between a running configuration and a new one. */
struct config_change {
	enum config_change_kind kind;
	enum config_reload reload; /* CONFIG_CHANGED: how its setting reloads */
	const char *object;        /* "region 'main'", "pool 'p'", ... or "" for
				    * a top-level setting */
	const char *setting;       /* "client_quota", "socket.mode"; NULL when
				    * the object itself was added or removed */
	char was[CONFIG_VALUE_MAX], now[CONFIG_VALUE_MAX];
};

typedef void config_change_fn(void *arg, const struct config_change *ch);

/*
 * Call fn for every difference between the running configuration a and a
 * new one b: every setting of the schema, top level first, then regions
 * (matched by name), the pools and heaps of each (by name within their
 * region; one that moved to another region is removed and added) with
 * their computed layout, then groups (by name). Returns how many
 * differences there were. O(objects^2) name matching: reloads are rare.
 */
size_t config_diff(const struct config *a, const struct config *b, config_change_fn *fn, void *arg);

/* The region, pool or heap (in region r; r may be NULL), or group called
 * name, or NULL. O(objects). */
const struct cfg_region *config_find_region(const struct config *c, const char *name);
const struct cfg_pool *config_find_pool(const struct cfg_region *r, const char *name);
const struct cfg_heap *config_find_heap(const struct cfg_region *r, const char *name);
const struct cfg_group *config_find_group(const struct config *c, const char *name);

/* The embedded default configuration (daemon/default.conf at build time). */
extern const char config_default_text[];

/*
 * Parse and validate the file at path (config_load_file) or the text
 * (config_load_string; name is used in messages) into *out, including the
 * layout of each region. On error returns a negative errno (-EINVAL for a bad
 * setting, -ENOENT / -EACCES for an unreadable file, -ENOMEM), writes one line
 * naming file, line and setting to err, and leaves *out empty.
 */
int config_load_file(const char *path, struct config *out, char *err, size_t errlen);
int config_load_string(const char *text, const char *name, struct config *out, char *err,
		       size_t errlen);

/* Release everything config_load_* allocated; *c becomes empty. */
void config_free(struct config *c);

/* Human-readable layout for --check-config: every region with its size and
 * every pool, heap and group with its offset, size and settings. */
void config_print(const struct config *c, FILE *out);

/* Parse "64M"-style sizes: a decimal integer with an optional K, M, G or T
 * suffix (powers of 1024). Returns 0 or -EINVAL (also on overflow). */
int config_parse_size(const char *s, uint64_t *out);

#endif
