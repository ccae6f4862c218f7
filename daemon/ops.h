/*
 * ops: what a client may do to pools, groups and heaps -- allocate, free,
 * retain -- with the ownership rules: every allocation unit (pool block,
 * heap allocation) has a set of holders; alloc makes the caller a holder,
 * retain adds the caller, free removes the caller, and the unit goes back to
 * its allocator when nobody holds it. Reclaim drops every hold of a session.
 *
 * Every call checks the region allow-list and the per-client quota, is all or
 * nothing, and returns 0 or a negative errno with a message naming the input
 * in e:
 *   -EACCES  the peer's region allow-list does not include it
 *   -EINVAL  bad argument (a run on a heap, a choice function that chose no
 *            pool, an offset twice in one free when the caller was its last
 *            holder -- while others still hold it, the repeat is -EPERM)
 *   -E2BIG   more offsets than max_batch
 *   -EFAULT  an offset that is not an allocation of that object
 *   -EPERM   an allocation the caller does not hold
 *   -EALREADY retaining what the caller already holds
 *   -EDQUOT  over the per-client quota
 *   -ENOMEM  not enough free memory in the pool or heap
 *   -ENOSPC  the daemon's hold table is full
 */
#ifndef ALLOCATORD_DAEMON_OPS_H
#define ALLOCATORD_DAEMON_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon/daemon.h"
#include "daemon/errbuf.h"

/* Unit heads hold this while a free request is being applied: the unit's
 * last hold is gone but it is not released yet (see ops_free). */
#define UNIT_PENDING (UINT32_MAX - 1)

struct unit_ref;

/* The ops of one daemon with their scratch: room for one request's largest
 * batch, allocated once so that no request allocates memory. */
struct ops {
	struct daemon *d;
	void **ptrs;           /* max_batch block pointers from the core */
	struct unit_ref *undo; /* max_batch units, to make a batch all or nothing */
};

/* Scratch for d's max_batch. 0 or -ENOMEM with a message. */
int ops_init(struct ops *op, struct daemon *d, struct errbuf *e);
void ops_fini(struct ops *op);

/* count blocks of pool o, lowest free first, into offsets[0..count); with
 * contiguous one run, its first block in offsets[0]. */
int ops_pool_alloc(struct ops *op, struct session *s, struct object *o, uint64_t count,
		   bool contiguous, uint64_t *offsets, struct errbuf *e);

/* ops_pool_alloc with the cache fields of Alloc (lease.h). cache > 0: the
 * caller turns its cache on at that size: -EINVAL when the pool cannot be
 * cached or cache is over its slots, -EDQUOT over the client quota. Then the
 * count blocks (all or nothing), then, best effort, up to lease more for its
 * cache into offsets[count..count + *leased) -- at most its slots, within the
 * quota, never below the pool's reserve; with contiguous -EINVAL. */
int ops_pool_alloc_lease(struct ops *op, struct session *s, struct object *o, uint64_t count,
			 bool contiguous, uint64_t lease, uint64_t cache, uint64_t *offsets,
			 uint64_t *leased, struct errbuf *e);

/* count blocks from the pool group o's choice function picks for hint (it
 * sees want blocks: the whole call); *chosen is that pool. */
int ops_group_alloc(struct ops *op, struct session *s, struct object *o, uint64_t hint,
		    uint64_t count, uint64_t want, uint64_t *offsets, struct object **chosen,
		    struct errbuf *e);

/* size bytes of heap o aligned to align (0: the granule); *usable gets the
 * usable size. */
int ops_heap_alloc(struct ops *op, struct session *s, struct object *o, uint64_t size,
		   uint64_t align, uint64_t *offset, uint64_t *usable, struct errbuf *e);

/* Drop the caller's hold on n offsets of o (pool, group or heap); with run > 0,
 * on the run blocks starting at offsets[0] (n must be 1, o a pool or group). */
int ops_free(struct ops *op, struct session *s, struct object *o, const uint64_t *offsets,
	     uint64_t n, uint64_t run, struct errbuf *e);

/* Add the caller as a holder of n allocated offsets of o (or of a run). */
int ops_retain(struct ops *op, struct session *s, struct object *o, const uint64_t *offsets,
	       uint64_t n, uint64_t run, struct errbuf *e);

/* End s: drop every hold it has, returning units nobody holds any more to
 * their allocators (counted in d->reclaimed, logged if any), then release
 * the session. The only place holds are reclaimed. */
void ops_end_session(struct ops *op, struct session *s);

#endif
