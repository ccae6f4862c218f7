/*
 * lease: the rules of leased block caches (lease_page.h has the page and
 * the shared bits they work on).
 *
 * A lease never takes a pool's free blocks below ceil(blocks / 8) (the
 * reserve), never passes the client quota or the session's slots; before a
 * pool allocation fails for lack of blocks, the cached blocks of every
 * session are taken back. A value taken from a lease page counts only if it
 * names a block of the pool that the session holds in its books; anything
 * else is dropped.
 */
#ifndef ALLOCATORD_DAEMON_LEASE_H
#define ALLOCATORD_DAEMON_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon/daemon.h"

/* How many of want more blocks pool o may lease to s now that it has
 * allocated count in this request: bounded by its slots, the client quota,
 * the region's share of the hold table, the reserve and what one reply
 * carries, and (administrators excepted) by the uid quota and uid_holds. */
uint64_t lease_grantable(const struct daemon *d, const struct session *s, const struct object *o,
			 uint64_t count, uint64_t want);

/* Drops the hold h by which s holds block b of pool o (and releases the block
 * when nobody else holds it): the caller's logic (ops), with its context. */
typedef void lease_drop_fn(void *ctx, struct session *s, struct object *o, uint32_t b, uint32_t h);

/*
 * Before a pool allocation of need blocks of o fails: when the pool's free
 * blocks plus the cached ones -- listed in a session's page, held by that
 * session, each counted once -- could meet it, take cached blocks back from
 * every session's page, first's first, dropping each verified one through
 * drop(ctx, ...), until need blocks are free; for a run, only the cached
 * blocks of the lowest run of need blocks each free or cached. When they
 * could not, nothing is touched: a refusal leaves every cache as it was
 * (unless a client took its own cached blocks in the meantime). Returns the
 * blocks taken, also counted in the pool's taken_back. Uses the pool's marks
 * as scratch. O(sessions * slots * holders + blocks / 64), and O(blocks)
 * more for a run.
 */
uint64_t lease_take_back(struct daemon *d, void *ctx, struct session *first, struct object *o,
			 uint64_t need, bool run, lease_drop_fn *drop);

/* Blocks of pool o that s's page lists (values in range), clamped to what
 * s holds of it: as reported by the client, for display. O(slots). */
uint64_t lease_cached(const struct session *s, const struct object *o);

/* Set bit i of bits for block first + i, i < count, that some session lists
 * in its page and holds. O(sessions * slots). */
void lease_cached_map(const struct daemon *d, const struct object *o, uint64_t first,
		      uint64_t count, uint8_t *bits);

#endif
