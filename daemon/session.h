/*
 * session: one client connection's state -- who it is (SO_PEERCRED), which
 * regions it may use, what it holds -- and its byte buffers. The connection
 * is the lease: session_end() drops every hold at once.
 */
#ifndef ALLOCATORD_DAEMON_SESSION_H
#define ALLOCATORD_DAEMON_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/config.h"
#include "daemon/lease.h"
#include "daemon/wire.h"

#define SESSION_MAX_GROUPS 32

struct daemon;

/* What a session holds of one pool or heap. */
struct session_held {
	uint64_t amount; /* blocks (pools) or usable bytes (heaps) */
	uint64_t holds;  /* distinct allocations */
};

struct session {
	uint64_t id;                 /* unique for the daemon's life, from 1 */
	uint32_t slot;               /* index in daemon.slots; holds name it */
	pid_t pid;
	uid_t uid;
	gid_t gid;
	gid_t groups[SESSION_MAX_GROUPS]; /* supplementary (SO_PEERGROUPS) */
	size_t ngroups;
	char comm[17];               /* /proc/PID/comm at connect */
	char client_name[64];        /* from Hello */
	uint64_t since_ms;           /* wall clock, ms since the epoch */
	uint64_t regions;            /* bit i set: region i allowed */
	bool hello_done;
	bool fds_pending;            /* the front of out is the hello reply and
				      * must go with the region memfds */
	struct lease_page lease;     /* opened at hello (lease.h) */
	uint32_t hold_head;          /* this session's holds */
	struct session_held *held;   /* per object index */
	struct wbuf in, out;
	void *conn;                  /* the server's connection */
};

struct session_creds {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	const gid_t *groups;
	size_t ngroups;
};

/*
 * Register a new client. Returns 0 and the session in *out, -EUSERS when
 * max_clients are connected, or -ENOMEM.
 */
int session_start(struct daemon *d, const struct session_creds *cr, struct session **out);

/* Log a line about client s at level, prefixed "client ID (pid PID, COMM): ". */
void session_log(const struct session *s, enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Reclaim everything the session holds (counted in d->reclaimed), then
 * release it. Logs the reclaim if anything was held. */
void session_end(struct daemon *d, struct session *s);

#endif
