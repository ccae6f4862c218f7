/*
 * What the restart soak's test process (restart_soak.c) and its client
 * processes (restart_worker.c) share: the daemon's configuration, the page
 * they share (MAP_SHARED before the fork), and the snapshot each worker
 * writes when it is paused.
 *
 * Workers come in pairs (worker i's partner is i ^ 1). Each offers some of
 * what it allocated to its partner through its outbox: a slot goes
 *
 *   EMPTY -> FULL (the producer wrote kind, offset, amount, stamp)
 *         -> CLAIMED (the consumer took it and is retaining it)
 *         -> DONE (retained, canary seen) or REFUSED (the retain failed)
 *         -> EMPTY (the producer saw the answer).
 *
 * A producer never frees a unit it offered while the slot is FULL or
 * CLAIMED by a live consumer, so the consumer's retain finds the producer's
 * canary in place: anything else means the daemon handed the memory to a
 * third client. Every transition is a compare-and-swap of the slot's word,
 * which carries the state and the generations of both ends, so that a
 * worker killed and replaced cannot act on a slot of its predecessor.
 * The test bumps gen[i] before it kills worker i: a consumer that finds the
 * canary changed under a FULL slot whose producer generation is no longer
 * current knows the producer died (its holds were reclaimed) and does not
 * call it a double owner.
 */
#ifndef ALLOCATORD_TESTS_RESTART_SOAK_H
#define ALLOCATORD_TESTS_RESTART_SOAK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "client/memclient.h"

#define SOAK_MAX_WORKERS 32
#define SOAK_MAX_UNITS   256
#define SOAK_SLOTS       8

/* Region "r": pool p (64 B x 512, the region's first object: block i is
 * at offset 64 i), pool q (1536 B x 64, client_quota 8), heap h (1 MiB,
 * granule 64), group g of p and q (by_size). */
extern const char soak_config[];
#define SOAK_P_BLOCKS 512u
#define SOAK_P_BS     64u

/* How a unit is named in calls: through the group g, through its pool p
 * (what a leased cache serves), or the heap h. */
enum soak_kind { SOAK_G = 0, SOAK_P = 1, SOAK_H = 2 };

/* How a worker came to hold a unit. */
enum soak_origin { SOAK_ALLOCATED = 0, SOAK_RETAINED = 1 };

enum soak_slot_state {
	SLOT_EMPTY = 0,
	SLOT_FULL = 1,
	SLOT_CLAIMED = 2,
	SLOT_DONE = 3,
	SLOT_REFUSED = 4,
};

/* state | producer gen << 8 | consumer gen << 32 (the latter once claimed) */
static inline uint64_t slot_word(int state, uint32_t pgen, uint32_t cgen)
{
	return (uint64_t) state | (uint64_t) (pgen & 0xffffffu) << 8 | (uint64_t) cgen << 32;
}
static inline int slot_state(uint64_t w)
{
	return (int) (w & 0xff);
}
static inline uint32_t slot_pgen(uint64_t w)
{
	return (uint32_t) (w >> 8) & 0xffffffu;
}
static inline uint32_t slot_cgen(uint64_t w)
{
	return (uint32_t) (w >> 32);
}

struct soak_slot {
	uint64_t word; /* atomic */
	/* written by the producer while EMPTY, read once FULL is seen */
	int kind;
	uint64_t off, amount, stamp;
};

struct soak_shared {
	int round;                      /* the snapshot the test asks for */
	uint64_t handoffs;              /* units retained from a live producer */
	uint64_t orphans;               /* ... from a producer killed meanwhile */
	uint32_t gen[SOAK_MAX_WORKERS]; /* bumped before worker i is killed */
	struct soak_slot out[SOAK_MAX_WORKERS][SOAK_SLOTS];
};

/* What the checks see of the test: its own client, the workers' pids
 * (index i is worker i) and the directory of their snapshots. */
struct soak_view {
	pid_t self; /* the test */
	mc_client_t *c;
	int nworkers;
	const pid_t *pid;
	const char *dir;
};

/* The test failed: say why (with the seed) and exit 1. */
void soak_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Every killed worker's session gone within 2 s: at once for a worker
 * killed while connected, at the takeover for one killed in the gap, and
 * when its process exits for one whose session was detached. */
void soak_assert_gone(const struct soak_view *s, const pid_t *killed, int nkilled);

/* With every worker paused and its snapshot of `round` written: the
 * daemon's sessions and holdings per worker equal the models, no unit is
 * allocated by two workers, p's bitmap is exactly the models plus the
 * leased caches, g's and h's use equal the distinct units. Reads and
 * removes the snapshots.
 *
 * Sessions: one attached per live worker and the test's own. Detached
 * ones are tolerated only as ghosts -- of a live worker or the test,
 * holding nothing -- and counted (returned): a serving process that dies
 * after it accepted a connection and before that connection's hello was
 * answered leaves the connection's session record, which the takeover
 * keeps, detached, until the process exits (nobody has its token to
 * resume it: the client resumes its old session on a new connection). */
int soak_check(const struct soak_view *s, int round);

/* A worker: connects to socket, caches `cache` blocks of p (0: none) and
 * runs until killed; on SIGUSR1 it flushes, makes one round trip (so that
 * a session detached by a takeover is attached again), checks every canary
 * and writes its snapshot to "<dir>/snap.<pid>.<round>" (one line per
 * unit: kind offset amount origin stamp), then waits for SIGUSR2. Any
 * error it did not expect ends it with exit status 1 and a line on stderr. */
void soak_worker_main(struct soak_shared *shm, const char *dir, int index, const char *socket,
		      uint64_t seed, size_t cache) __attribute__((noreturn));

#endif
