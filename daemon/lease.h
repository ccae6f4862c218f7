/*
 * lease: leased block caches (issue 9) -- the daemon's side.
 *
 * A client may keep blocks of a pool it holds in a cache of its own, so that
 * it allocates and frees them without a request. A cached block is an
 * ordinary hold in the daemon's books (reclaim, quotas, memctl see it); the
 * client lists its cached blocks in its lease page, a per-connection memfd
 * both map read/write. For each pool of the session's regions that may be
 * cached (cfg cache_max > 0) the page has `uint32_t slot[cache_max]` at a
 * 64-byte aligned offset; 0 is an empty slot, else block index + 1. Only the
 * client fills slots; both sides empty one with an atomic exchange to 0, and
 * whoever gets the non-zero value owns the block. The daemon trusts nothing
 * in the page: a value it takes counts only if it names a block of the pool
 * that the session holds in its books; anything else is dropped.
 *
 * Shared bits (region.h): for each pool block a bit, set iff it has two or
 * more holders, so that a client never recycles locally a block someone
 * retained. Updated on every hold change of a pool block, before the reply.
 *
 * Rules kept here: a lease never takes a pool's free blocks below
 * ceil(blocks / 8) (the reserve), never passes the client quota or the
 * session's slots; before a pool allocation fails for lack of blocks, the
 * cached blocks of every session are taken back.
 */
#ifndef ALLOCATORD_DAEMON_LEASE_H
#define ALLOCATORD_DAEMON_LEASE_H

#include <stdbool.h>
#include <stdint.h>

struct daemon;
struct holds;
struct layout;
struct object;
struct session;

/* No slot array for this object (not a pool, not visible, cache_max 0). */
#define LEASE_NONE UINT64_MAX

struct lease_page {
	uint64_t *at;   /* per object index: byte offset of its slots, or LEASE_NONE */
	uint64_t size;  /* bytes; 0: no pool may be cached, no page */
	uint32_t *base; /* shared RW mapping of the page, or NULL */
	int fd;         /* its memfd until sent to the client, else -1 */
};

/* The page geometry for a session that may use regions (bit mask): at[]
 * (allocated) and size, nothing mapped. 0 or -ENOMEM. */
int lease_layout(const struct layout *l, uint64_t regions, struct lease_page *p);

/* lease_layout, then the memfd (sealed against shrinking and growing, so the
 * daemon never faults on it) mapped shared. Replaces what p had. 0 or a
 * negative errno; on error p is empty. */
int lease_page_open(const struct layout *l, uint64_t regions, struct lease_page *p);

/* The memfd went to the client: the mapping is all the daemon needs. */
void lease_page_sent(struct lease_page *p);

/* Unmap, close, free; p becomes empty (fd -1). Safe on an empty page. */
void lease_page_close(struct lease_page *p);

/* Slots the session has for pool o (0: it cannot cache it). */
uint32_t lease_slots(const struct session *s, const struct object *o);

/* Set or clear the shared bit of block b of pool o from its holder list. */
void lease_bit_update(const struct holds *h, struct object *o, uint32_t b);

/* Is every shared bit of pool o clear? (For daemon_verify_idle.) */
int lease_bits_clear(const struct object *o);

/* How many of want more blocks pool o may lease to s now that it has
 * allocated count in this request: bounded by its slots, its quota, the
 * reserve and what one reply carries. */
uint64_t lease_grantable(const struct daemon *d, const struct session *s, const struct object *o,
			 uint64_t count, uint64_t want);

/* Drops the hold h by which s holds block b of pool o (and releases the block
 * when nobody else holds it): ops' logic, passed down. */
typedef void lease_drop_fn(struct daemon *d, struct session *s, struct object *o, uint32_t b,
			   uint32_t h);

/*
 * Before a pool allocation of need blocks of o fails: when the pool's free
 * blocks plus those the lease pages list (lease_cached) could meet it, take
 * cached blocks back from every session's page, first's first, dropping each
 * verified one through drop, until need blocks are free -- or every cached
 * block when run (a contiguous run: which blocks free it cannot be known).
 * When they could not, nothing is touched: a refusal leaves every cache as
 * it was. Returns the blocks taken, also counted in the pool's taken_back.
 * O(sessions * slots).
 */
uint64_t lease_take_back(struct daemon *d, struct session *first, struct object *o,
			 uint64_t need, bool run, lease_drop_fn *drop);

/* Blocks of pool o that s's page lists (values in range), clamped to what
 * s holds of it: as reported by the client, for display. */
uint64_t lease_cached(const struct session *s, const struct object *o);

/* Set bit i of bits for block first + i, i < count, that some session lists
 * in its page and holds. */
void lease_cached_map(const struct daemon *d, const struct object *o, uint64_t first,
		      uint64_t count, uint8_t *bits);

#endif
