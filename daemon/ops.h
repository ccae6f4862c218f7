/*
 * ops: what a client may do to pools, groups and heaps -- allocate, free,
 * retain -- with the ownership rules: every allocation unit (pool block,
 * heap allocation) has a set of holders; alloc makes the caller a holder,
 * retain adds the caller, free removes the caller, and the unit goes back to
 * its allocator when nobody holds it. Reclaim drops every hold of a session.
 *
 * Every call checks the region allow-list and the per-client quota, is all or
 * nothing, and returns 0 or a negative errno with a message naming the input
 * in e->msg:
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

struct ops_err {
	char msg[256];
};

/* Write the message for a failure into e and return rc, so that a failure
 * reads `return ops_fail(e, -ENOENT, "no pool named '%s'", name);`. */
int ops_fail(struct ops_err *e, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A resolved allocation unit: what free and retain work on. */
struct unit_ref {
	struct object *o;  /* the pool or heap (never a group) */
	uint32_t unit;     /* block index, or heap offset in granules */
	uint32_t *head;    /* its holder list head */
	uint64_t amount;   /* blocks (1) or usable bytes */
};

/* count blocks of pool o, lowest free first, into offsets[0..count); with
 * contiguous one run, its first block in offsets[0]. */
int ops_pool_alloc(struct daemon *d, struct session *s, struct object *o, uint64_t count,
		   bool contiguous, uint64_t *offsets, struct ops_err *e);

/* ops_pool_alloc with the cache fields of Alloc (lease.h). cache > 0: the
 * caller turns its cache on at that size: -EINVAL when the pool cannot be
 * cached or cache is over its slots, -EDQUOT over the client quota. Then the
 * count blocks (all or nothing), then, best effort, up to lease more for its
 * cache into offsets[count..count + *leased) -- at most its slots, within the
 * quota, never below the pool's reserve; with contiguous -EINVAL. */
int ops_pool_alloc_lease(struct daemon *d, struct session *s, struct object *o, uint64_t count,
			 bool contiguous, uint64_t lease, uint64_t cache, uint64_t *offsets,
			 uint64_t *leased, struct ops_err *e);

/* count blocks from the pool group o's choice function picks for hint (it
 * sees want blocks: the whole call); *chosen is that pool. */
int ops_group_alloc(struct daemon *d, struct session *s, struct object *o, uint64_t hint,
		    uint64_t count, uint64_t want, uint64_t *offsets, struct object **chosen,
		    struct ops_err *e);

/* size bytes of heap o aligned to align (0: the granule); *usable gets the
 * usable size. */
int ops_heap_alloc(struct daemon *d, struct session *s, struct object *o, uint64_t size,
		   uint64_t align, uint64_t *offset, uint64_t *usable, struct ops_err *e);

/* Drop the caller's hold on n offsets of o (pool, group or heap); with run > 0,
 * on the run blocks starting at offsets[0] (n must be 1, o a pool or group). */
int ops_free(struct daemon *d, struct session *s, struct object *o, const uint64_t *offsets,
	     uint64_t n, uint64_t run, struct ops_err *e);

/* Add the caller as a holder of n allocated offsets of o (or of a run). */
int ops_retain(struct daemon *d, struct session *s, struct object *o, const uint64_t *offsets,
	       uint64_t n, uint64_t run, struct ops_err *e);

/* Drop every hold of s, returning units nobody holds any more. Returns the
 * number of holds dropped. */
uint64_t ops_reclaim(struct daemon *d, struct session *s);

/* May s use o (its region's allow-list)? 0 or -EACCES with a message. */
int ops_access(const struct session *s, const struct object *o, struct ops_err *e);

#endif
