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
#include "daemon/holds.h"
#include "daemon/object_table.h"
#include "daemon/session.h"

#define DAEMON_PROTOCOL_VERSION 1u

struct daemon {
	struct config cfg;
	struct object_table table;
	struct holds holds;
	struct arena arena;     /* decode + reply, reset per request */
	struct session **slots; /* max_clients entries */
	uint32_t nsessions;
	uint64_t next_session_id;
	uint64_t requests;
	uint64_t reclaimed;
	uint64_t start_ms; /* monotonic clock at start */
	char socket_path[108];
	uint32_t max_batch; /* offsets per request */
};

/*
 * Take over *cfg (it is moved into d and zeroed) and build the object table.
 * Returns 0, or a negative errno with a message in e; on error d is empty
 * and cfg still belongs to the caller.
 */
int daemon_init(struct daemon *d, struct config *cfg, bool dry_run, struct errbuf *e);

/* Release everything. Sessions still open are released without reclaim
 * (their allocators go with them): end them with ops_end_session() first
 * when their holds matter, as the server does at a stop. */
void daemon_fini(struct daemon *d);

/*
 * With every session ended, everything must be back: no holds, every pool
 * block free and every heap one free block, each allocator passing its own
 * check (bitarray_check, tlsf_check). Run at a clean stop, so that every
 * stop of the daemon -- in production and in every test -- proves nothing
 * leaked and nothing was corrupted. 0, or -EUCLEAN with what is wrong.
 */
int daemon_verify_idle(struct daemon *d, struct errbuf *e);

/* Milliseconds of CLOCK_MONOTONIC / CLOCK_REALTIME. */
uint64_t daemon_now_ms(void);
uint64_t daemon_wall_ms(void);

/* The largest number of offsets one frame of max_frame bytes can carry. */
uint32_t daemon_max_batch(uint32_t max_frame);

#endif
