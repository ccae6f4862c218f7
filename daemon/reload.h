/*
 * reload: a new configuration for a running daemon (SIGHUP), all or
 * nothing. The file the daemon started with is read again and compared
 * with the running configuration setting by setting (config_diff); each
 * setting's row in the schema says how it reloads (enum config_reload):
 *   CONFIG_LIVE     quotas (client_quota, uid_quota), log_level,
 *                   max_clients, admin_slots, max_clients_per_uid,
 *                   max_output, max_holds, uid_holds: at once;
 *   CONFIG_CONNECT  allow_uids / allow_gids, admin_gids, cache_max,
 *                   client_cache, hello_timeout_ms: for clients that
 *                   connect afterwards;
 *   CONFIG_RESTART  everything that shapes memory a client has mapped or
 *                   the socket it connected to (sizes, layout, the socket,
 *                   max_frame, groups' members and choice).
 * Regions, pools, heaps and groups may be added (appended after the
 * running ones, which must stay where they are) and removed when nothing
 * holds them (a region, besides, when no connected client was sent its
 * memfd); a name keeps its region (see check_removals in reload.c).
 * One CONFIG_RESTART difference, an object in use removed, an invalid
 * file, or a max_clients below a slot in use refuses the whole reload, as
 * does a failure to build what is added: the running configuration keeps
 * serving untouched, and the reason is logged as an error and kept for
 * `memctl status`. An applied reload logs one line listing every change
 * and makes the new configuration the next generation.
 *
 * Objects never move: a reload points the running objects at their
 * settings in the new configuration and frees the old one, appends new
 * ones, and leaves removed ones as tombstones, so holds, sessions, lease
 * pages and per-uid counters keep every index they had.
 */
#ifndef ALLOCATORD_DAEMON_RELOAD_H
#define ALLOCATORD_DAEMON_RELOAD_H

#include "daemon/config.h"
#include "daemon/daemon.h"
#include "daemon/errbuf.h"

/* A checked new configuration, ready to apply. */
struct reload {
	struct config next;
	size_t changes;
	char summary[ERRBUF_MAX]; /* "pool 'p' client_quota 4 -> 8 (live); ..." */
};

/* Read the file d was started with (or the built-in default) into *next.
 * 0, or a negative errno with the file's own message (file:line: setting)
 * in e. */
int reload_read(const struct daemon *d, struct config *next, struct errbuf *e);

/*
 * Compare *next with d's configuration. On success r owns next (it is
 * zeroed) and 0 is returned; else a negative errno (-EBUSY for a setting
 * that needs a restart, an object in use removed, a name moved, or a
 * max_clients below a slot in use) with every
 * reason, as far as e holds them, and next still the caller's. Changes
 * nothing in d. O(settings + objects^2).
 */
int reload_check(const struct daemon *d, struct config *next, struct reload *r, struct errbuf *e);

/*
 * Apply a checked reload: make room in the state's directory (state.h)
 * and grow the session and per-uid tables when max_clients grew
 * (-ENOMEM, and nothing changed, if it cannot), build and
 * append what is added (its errno and message, nothing changed, if it
 * cannot: a region that cannot be reserved, a choice function that does
 * not open), tombstone what is removed, record both in the state (so
 * that a takeover numbers the objects as this process does), set the
 * hold table's limit to the new shares, point every object at its
 * new settings, set the log level (unless pinned by -l), free the old
 * configuration, count the generation and log the summary. r is empty
 * afterwards, whatever the result.
 */
int reload_apply(struct daemon *d, struct reload *r, struct errbuf *e);

/* Drop a checked reload that will not be applied. */
void reload_cancel(struct reload *r);

/* Record and log a refused reload: the old configuration serves on. */
void reload_refused(struct daemon *d, const struct errbuf *e);

#endif
