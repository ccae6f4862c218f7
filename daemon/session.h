/*
 * session: one client connection's state -- who it is (SO_PEERCRED), which
 * regions it may use, what it holds -- and its byte buffers. The connection
 * is the lease: when it ends, ops_end_session() drops every hold at once and
 * then releases the session here.
 */
#ifndef ALLOCATORD_DAEMON_SESSION_H
#define ALLOCATORD_DAEMON_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/config.h"
#include "daemon/errbuf.h"
#include "daemon/lease_page.h"
#include "daemon/ledger.h"
#include "daemon/object_table.h"
#include "daemon/tenant.h"
#include "daemon/wire.h"

/* Log lines one client may cause per window; the rest are counted and
 * reported as one "N log lines suppressed" line when the next window opens
 * or the client goes. 10 a minute keeps a flooding client to a trickle and
 * a few misbehaving ones readable. All lines of a uid, these counts and
 * final lines included, are limited again per uid (TENANT_LOG_BURST). */
#define SESSION_LOG_BURST     10u
#define SESSION_LOG_WINDOW_MS TENANT_LOG_WINDOW_MS

/* What a session holds of one pool or heap. */
struct session_held {
	uint64_t amount; /* blocks (pools) or usable bytes (heaps) */
	uint64_t holds;  /* distinct allocations */
};

struct session {
	uint64_t id;   /* unique for the daemon's life, from 1 */
	uint32_t slot; /* index in daemon.slots; holds name it */
	pid_t pid;
	uid_t uid;
	gid_t gid;
	char comm[17];         /* /proc/PID/comm at connect */
	char client_name[64];  /* from Hello */
	uint64_t since_ms;     /* wall clock, ms since the epoch */
	uint64_t regions;      /* bit i set: region i allowed */
	bool admin;            /* uid 0, the daemon's uid or in admin_gids:
				* kept slots, no per-uid limits */
	struct tenant *tenant; /* its uid's entry: per-uid counters */
	uint64_t sent;         /* bit i set: region i's memfd went to this
				* client (its hello, or a second hello for
				* it); such a region stays while it is
				* connected */
	bool hello_done;
	bool fds_pending;            /* the front of out is the hello reply and
				      * must go with the region memfds */
	bool leases;                 /* its hello asked for leases: it gets the
				      * shared bits and a lease page */
	struct lease_page lease;     /* opened at hello when leases (lease.h) */
	struct ledger_sess *rec;     /* its record in the books (session_record) */
	uint64_t start_time;         /* its process's, /proc/PID/stat field 22 */
	uint8_t token[LEDGER_TOKEN]; /* the secret that resumes it */
	bool detached;               /* its connection went with a serving
				      * process: holds kept until its client
				      * resumes it or its process exits */
	int pidfd;                   /* detached: its process, watched; else -1 */
	uint32_t hold_head;          /* this session's holds */
	struct session_held *held;   /* per object index */
	struct bytebuf in, out;
	char hello_refusal[96];  /* set by the server: why its hello must be
				  * refused now (max_unread_hellos); "" if not */
	uint32_t bad_frames;     /* malformed frames so far (max_bad_frames) */
	uint32_t log_lines;      /* lines logged in this window */
	uint64_t log_window_ms;  /* when it opened (CLOCK_MONOTONIC) */
	uint64_t log_suppressed; /* lines dropped in this window */
};

struct session_creds {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	const gid_t *groups; /* supplementary (SO_PEERGROUPS), all of them */
	size_t ngroups;
};

/*
 * A session for a client with credentials cr, numbered id, in table slot
 * slot, connected since since_ms (wall clock): which regions of t it may use
 * is decided here, once. NULL when out of memory. The daemon's session table
 * (daemon_session_start) is what callers use.
 */
struct session *session_new(const struct object_table *t, const struct session_creds *cr,
			    uint64_t id, uint32_t slot, uint64_t since_ms);

/*
 * Make room in s for what a reload stages in add to append to t: nothing
 * held of the new objects, no lease slots for them, and the new regions s
 * may use by their allow-lists for its uid and primary gid (its
 * supplementary groups were seen at connect only: a second hello of the
 * same process, daemon_sent_for, brings what they allow). 0 or -ENOMEM
 * (what grew stays: it is harmless).
 */
int session_grow(struct session *s, const struct object_table *t, const struct object_table *add);

/* Log a line about client s at level, prefixed "client ID (pid PID, COMM): ",
 * at most SESSION_LOG_BURST lines per SESSION_LOG_WINDOW_MS (see above):
 * what a client makes the daemon say must not flood the log. */
void session_log(struct session *s, enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The same for the line that says why the daemon ends s's connection: not
 * limited per session (there is one per session), after the count of those
 * that were; only its uid's budget (TENANT_LOG_BURST) may suppress it. */
void session_log_final(struct session *s, enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Copy what a takeover needs of s (all but its commit and used flag)
 * into its record in the books: at start, and after what a hello, a
 * second hello or a reload changes. Plain stores: each field stands on its
 * own, and a name torn by a crash is cut at its end when read back. */
void session_record(const struct session *s);

/* The start time of process pid (/proc/PID/stat field 22, clock ticks
 * since boot), or 0 when it is gone. */
uint64_t session_start_time(pid_t pid);

/* Free s, first logging how many of its lines were suppressed, if any.
 * Whatever it still holds is not reclaimed (see daemon_session_release). */
void session_free(struct session *s);

/* May s use the objects of region r? Decided at connect from the region's
 * allow-lists (region_allows), so this is O(1). */
static inline bool session_may_use(const struct session *s, const struct region *r)
{
	return (s->regions & (UINT64_C(1) << r->index)) != 0;
}

/* 0 if s may use object o, else -EACCES with a message naming o and the
 * peer's uid -- not o's region, which a peer outside it is not told of. */
int session_check_access(const struct session *s, const struct object *o, struct errbuf *e);

#endif
