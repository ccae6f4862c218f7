/*
 * lease_page: the state half of leased block caches -- a session's lease page
 * and the shared bits of pool blocks (see lease.h for the rules that use them).
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
 * in the page.
 *
 * Shared bits (region.h): for each pool block a bit, set iff it has two or
 * more holders, so that a client never recycles locally a block someone
 * retained. Updated on every hold change of a pool block, before the reply.
 */
#ifndef ALLOCATORD_DAEMON_LEASE_PAGE_H
#define ALLOCATORD_DAEMON_LEASE_PAGE_H

#include <stdint.h>

#include "daemon/holds.h"
#include "daemon/object_table.h"

/* No slot array for this object (not a pool, not visible, cache_max 0). */
#define LEASE_NONE UINT64_MAX

struct lease_page {
	uint64_t *at;    /* per object index: byte offset of its slots, or LEASE_NONE */
	uint32_t *slots; /* per object index: its slot count, fixed at layout so
			  * that a reload changing cache_max leaves this page
			  * as the client mapped it */
	uint64_t size;   /* bytes; 0: no pool may be cached, no page */
	uint32_t *base;  /* shared RW mapping of the page, or NULL */
	int fd;          /* its memfd until sent to the client, else -1 */
};

/* The page geometry for a session that may use regions (bit mask): at[]
 * (allocated) and size, nothing mapped. 0 or -ENOMEM. */
int lease_page_layout(const struct object_table *t, uint64_t regions, struct lease_page *p);

/* lease_page_layout, then the memfd (sealed against shrinking and growing, so
 * the daemon never faults on it) mapped shared. Replaces what p had. 0 or a
 * negative errno; on error p is empty. */
int lease_page_open(const struct object_table *t, uint64_t regions, struct lease_page *p);

/* The memfd went to the client: the mapping is all the daemon needs. */
void lease_page_sent(struct lease_page *p);

/* Unmap, close, free; p becomes empty (fd -1). Safe on an empty page. */
void lease_page_close(struct lease_page *p);

/* Slots the page has for pool o (0: it cannot cache it). */
uint32_t lease_page_slots(const struct lease_page *p, const struct object *o);

/* The mapped slots of pool o (lease_page_slots() entries), or NULL. */
uint32_t *lease_page_array(const struct lease_page *p, const struct object *o);

/* Set or clear the shared bit of block b of pool o from its holder list. */
void lease_bit_update(const struct holds *h, struct object *o, uint32_t b);

/* Is every shared bit of pool o clear? (For daemon_verify_idle.) */
int lease_bits_clear(const struct object *o);

#endif
