/*
 * daemon: the state of one allocatord, independent of any event loop, so
 * that tests and fuzzers drive exactly what the server drives.
 */
#ifndef ALLOCATORD_DAEMON_DAEMON_H
#define ALLOCATORD_DAEMON_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon/arena.h"
#include "daemon/config.h"
#include "daemon/holds.h"
#include "daemon/layout.h"
#include "daemon/session.h"

#define DAEMON_PROTOCOL_VERSION 1u

/* Unit heads hold this while a free request is being applied (ops.c). */
#define UNIT_PENDING (UINT32_MAX - 1)

struct unit_ref;

struct daemon {
	struct config cfg;
	struct layout layout;
	struct holds holds;
	struct arena arena;          /* decode + reply, reset per request */
	struct session **slots;      /* max_clients entries */
	uint32_t nsessions;
	uint64_t next_session_id;
	uint64_t requests;
	uint64_t reclaimed;
	uint64_t start_ms;           /* monotonic clock at start */
	char socket_path[108];
	uint32_t max_batch;          /* offsets per request */
	void **ptrs;                 /* scratch: max_batch pointers */
	struct unit_ref *undo;       /* scratch: max_batch unit refs */
};

/*
 * Take over *cfg (it is moved into d and zeroed) and build the layout.
 * Returns 0, or a negative errno with a message in err; on error d is empty
 * and cfg still belongs to the caller.
 */
int daemon_init(struct daemon *d, struct config *cfg, bool dry_run, char *err, size_t errlen);

/* End every session (reclaiming their holds), then release everything. */
void daemon_fini(struct daemon *d);

/*
 * With every session ended, everything must be back: no holds, every pool
 * block free and every heap one free block, each allocator passing its own
 * check (bitarray_check, tlsf_check). Run at a clean stop, so that every
 * stop of the daemon -- in production and in every test -- proves nothing
 * leaked and nothing was corrupted; every shared bit (lease.h) is clear
 * too. 0, or -EUCLEAN with what is wrong.
 */
int daemon_verify_idle(struct daemon *d, char *err, size_t errlen);

/* Milliseconds of CLOCK_MONOTONIC / CLOCK_REALTIME. */
uint64_t daemon_now_ms(void);
uint64_t daemon_wall_ms(void);

/* The largest number of offsets one frame of max_frame bytes can carry. */
uint32_t daemon_max_batch(uint32_t max_frame);

#endif
