/*
 * daemon: the state of one allocatord -- config, object table, hold table,
 * sessions, counters -- independent of any event loop, so that tests and
 * fuzzers drive exactly what the server drives. A plain container: it calls
 * nothing above it (ops, stats, dispatch, server); they work on it.
 */
#ifndef ALLOCATORD_DAEMON_DAEMON_H
#define ALLOCATORD_DAEMON_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon/arena.h"
#include "daemon/config.h"
#include "daemon/errbuf.h"
#include "daemon/fdstore.h"
#include "daemon/holds.h"
#include "daemon/ledger.h"
#include "daemon/object_table.h"
#include "daemon/session.h"
#include "daemon/state.h"
#include "daemon/tenant.h"

#define WIRE_PROTOCOL_VERSION 1u

struct daemon {
	struct config cfg;
	struct object_table table;
	struct state state;     /* what the table's indices mean to a takeover */
	struct holds holds;     /* in the books */
	struct ledger books;    /* the memfd a takeover finds (books.h) */
	struct arena arena;     /* decode + reply, reset per request */
	struct session **slots; /* max_clients entries */
	struct tenants tenants; /* per-uid counters of the sessions */
	uid_t self_uid;         /* the daemon's own: an administrator */
	uint32_t nsessions;
	uint64_t next_session_id;
	uint64_t requests;
	uint64_t reclaimed;
	uint64_t start_ms; /* monotonic clock at start */
	char socket_path[108];
	uint32_t max_batch; /* offsets per request */
	/* The configuration's history (reload.h): generation 1 at start, one
	 * more per reload applied; when the serving one was loaded; reloads
	 * refused since start and the reason of the last one ("" once a
	 * reload is applied). */
	uint64_t generation;
	uint64_t loaded_wall_ms;
	uint64_t reloads_refused;
	char reload_error[ERRBUF_MAX];
	struct fdstore *fs;    /* what outlives this process (fdstore.h), or NULL */
	bool dry_run;          /* regions are address space only (daemon_init) */
	bool log_level_pinned; /* -l given: reloads leave the level alone */
};

/*
 * Take over *cfg (it is moved into d and zeroed) and build the object table,
 * the state (state.h) and fresh empty books (books.h: books_open takes
 * over those a previous serving process left). fs (NULL: no store, as in
 * tests, fuzzers and --check-config) is what outlives this process: regions
 * passed in it are served again, new ones are put in it (region_create); a
 * "state" passed in it is checked against cfg and followed -- the table is
 * numbered as it says -- and d->state.taken_over is set. A state that does
 * not fit is an error naming why, unless discard_state: then it is dropped
 * with a warning, with the regions passed beside it, and the start is a
 * cold one. Returns 0, or a negative errno with a message in e; on error d
 * is empty and cfg still belongs to the caller.
 */
int daemon_init(struct daemon *d, struct config *cfg, bool dry_run, struct fdstore *fs,
		bool discard_state, struct errbuf *e);

/* Release everything. Sessions still open are released without reclaim
 * (their allocators go with them): end them with ops_end_session() first
 * when their holds matter, as the server does at a stop. */
void daemon_fini(struct daemon *d);

/*
 * Register a new client in the first free slot, counted to its uid. Returns
 * 0 and the session in *out, or a negative errno with the reason in e:
 * -EUSERS when max_clients are connected, when only the admin_slots are
 * left and the client is not an administrator (uid 0, the daemon's uid, a
 * member of admin_gids), or when its uid has max_clients_per_uid
 * connections already (administrators excepted); -ENOMEM. O(uids
 * connected).
 */
int daemon_session_start(struct daemon *d, const struct session_creds *cr, struct session **out,
			 struct errbuf *e);

/* Free s and its slot. Whatever s still holds is not reclaimed: this is for
 * a session whose holds are gone (ops_end_session) or for teardown, where
 * the allocators go too. */
void daemon_session_release(struct daemon *d, struct session *s);

/*
 * With every session ended, everything must be back: no holds, every pool
 * block free and every heap one free block, each allocator passing its own
 * check (bitarray_check, tlsf_check). Run at a clean stop, so that every
 * stop of the daemon -- in production and in every test -- proves nothing
 * leaked and nothing was corrupted; every shared bit (lease.h) is clear
 * too, and the books are empty (log closed, no hold entry or session
 * record used). 0, or -EUCLEAN with what is wrong.
 */
int daemon_verify_idle(struct daemon *d, struct errbuf *e);

/* s, a second hello of a connected client's process, sends it the memfds
 * of s->regions: count them as sent to the session numbered id when that
 * one has s's pid and uid (else nothing), and as allowed to it (s saw the
 * process's supplementary groups now, which a region a reload added may
 * allow). O(max_clients). */
void daemon_sent_for(struct daemon *d, const struct session *s, uint64_t id);

/* The hold table's limit for configuration c. Holds are bounded so that no
 * client can make the daemon grow without end: the table is the regions'
 * shares (max_holds) side by side, which the config keeps within
 * CONFIG_HOLDS_MAX; ops keeps each region in its share. */
uint32_t daemon_hold_limit(const struct config *c);

/* What the books must have room for under configuration c, whose table
 * is t and whose requests carry at most max_batch offsets: the hold
 * table's limit, max_clients sessions, a reply frame, and the undo records
 * of the largest request -- twice its entries (a batch free that fails
 * half-way drops and takes again; an allocation may take back as many
 * cached blocks as it allocates), a batch or a whole pool's run. */
void daemon_books_caps(const struct config *c, uint32_t max_batch, struct ledger_caps *caps);

/* Milliseconds of CLOCK_MONOTONIC / CLOCK_REALTIME. */
uint64_t daemon_now_ms(void);
uint64_t daemon_wall_ms(void);

#endif
