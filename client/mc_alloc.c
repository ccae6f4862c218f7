/*
 * mc_alloc.c -- allocate, free and retain, split into requests of at most
 * max_batch offsets (the daemon refuses larger ones with -E2BIG).
 *
 * Splitting keeps acquisitions all or nothing: when part k of an allocation
 * or a retain fails, parts 0..k-1 are freed again before the error returns.
 * A free cannot be undone (what it released may already be someone else's),
 * so a split free is all or nothing per part.
 *
 * Each call holds c->lock from its first part to its last, so that no
 * other thread's request runs between the parts of a call.
 *
 * A pool with its cache on goes through mc_cache.c instead.
 */
#include <errno.h>
#include <string.h>

#include "client/mc_internal.h"

enum hold_op { OP_FREE, OP_RETAIN };

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* One Free or Retain: offsets[0..n) of name, or with run > 0 the run blocks
 * starting at offsets[0] (n == 1). */
static int hold_part(mc_client_t *c, enum hold_op op, const char *name, const uint64_t *offsets,
		     size_t n, uint64_t run)
{
	Allocd__Request req = ALLOCD__REQUEST__INIT;
	Allocd__Free fr = ALLOCD__FREE__INIT;
	Allocd__Retain rt = ALLOCD__RETAIN__INIT;
	Allocd__Reply *r;
	int rc;

	/* protobuf-c takes non-const pointers; it only reads them to pack. */
	if (op == OP_FREE) {
		fr.name = (char *) name;
		fr.n_offsets = n;
		fr.offsets = (uint64_t *) offsets;
		fr.run = run;
		req.body_case = ALLOCD__REQUEST__BODY_FREE;
		req.free = &fr;
	} else {
		rt.name = (char *) name;
		rt.n_offsets = n;
		rt.offsets = (uint64_t *) offsets;
		rt.run = run;
		req.body_case = ALLOCD__REQUEST__BODY_RETAIN;
		req.retain = &rt;
	}
	rc = mc__call(c, &req, ALLOCD__REPLY__BODY__NOT_SET, &r);
	if (rc == 0)
		mc__reply_free(c, r);
	return rc;
}

/* Free offsets[0..count) of name in parts; stops at the first part that
 * fails. count == 0 still asks once (offsets may then be NULL), so that a
 * bad name is reported. */
int mc__free_parts(mc_client_t *c, const char *name, const uint64_t *offsets, size_t count)
{
	size_t n;
	int rc;

	if (count == 0)
		return hold_part(c, OP_FREE, name, NULL, 0, 0);
	for (size_t done = 0; done < count; done += n) {
		n = min_size(count - done, c->max_batch);
		rc = hold_part(c, OP_FREE, name, offsets + done, n, 0);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Give back what the earlier parts of a failed call got. If that fails the
 * connection is gone (the daemon then drops every hold of this client
 * anyway); there is nothing better to do with the error. */
static void undo(mc_client_t *c, const char *name, const uint64_t *offsets, size_t done)
{
	if (done > 0)
		mc__free_parts(c, name, offsets, done);
}

/* Take the reply's n offsets (anything else contradicts the request). */
static int take_offsets(mc_client_t *c, const Allocd__AllocReply *ar, size_t n, uint64_t *offsets)
{
	if (ar->n_offsets != n)
		return mc__set_broken(c, -EPROTO);
	if (n > 0)
		memcpy(offsets, ar->offsets, n * sizeof(*offsets));
	return 0;
}

/* One Alloc of n <= max_batch blocks (or with contiguous, one run). */
static int alloc_part(mc_client_t *c, const char *pool, size_t n, bool contiguous,
		      uint64_t *offsets)
{
	Allocd__Request req = ALLOCD__REQUEST__INIT;
	Allocd__Alloc a = ALLOCD__ALLOC__INIT;
	Allocd__Reply *r;
	int rc;

	a.pool = (char *) pool;
	a.count = n;
	a.contiguous = contiguous;
	req.body_case = ALLOCD__REQUEST__BODY_ALLOC;
	req.alloc = &a;
	rc = mc__call(c, &req, ALLOCD__REPLY__BODY_ALLOC, &r);
	if (rc < 0)
		return rc;
	rc = take_offsets(c, r->alloc, contiguous && n > 0 ? 1 : n, offsets);
	mc__reply_free(c, r);
	return rc;
}

/* count blocks of pool in parts, all or nothing (count == 0: as in
 * free_parts). */
int mc__alloc_parts(mc_client_t *c, const char *pool, size_t count, uint64_t *offsets)
{
	size_t n;
	int rc;

	if (count == 0)
		return alloc_part(c, pool, 0, false, NULL);
	for (size_t done = 0; done < count; done += n) {
		n = min_size(count - done, c->max_batch);
		rc = alloc_part(c, pool, n, false, offsets + done);
		if (rc < 0) {
			undo(c, pool, offsets, done);
			return rc;
		}
	}
	return 0;
}

int mc__unknown(mc_client_t *c, const char *name)
{
	int rc = alloc_part(c, name, 0, false, NULL);

	return rc < 0 ? rc : -ENOENT;
}

/* Arguments every call checks before taking the lock: the answer is
 * certain without asking the daemon. */
static int check_args(const mc_client_t *c, const char *name, size_t count, const void *array)
{
	if (c == NULL || (count > 0 && array == NULL))
		return -EINVAL;
	return mc__check_name(name);
}

int mc_alloc(mc_client_t *c, const char *pool, size_t count, uint64_t offsets[])
{
	struct mc_cache *k;
	int rc = check_args(c, pool, count, offsets);

	if (rc < 0)
		return rc;
	pthread_mutex_lock(&c->lock);
	k = mc__cache_of(c, pool);
	rc = k != NULL ? mc__cache_alloc(c, k, count, offsets)
		       : mc__alloc_parts(c, pool, count, offsets);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int mc_free(mc_client_t *c, const char *pool, size_t count, const uint64_t offsets[])
{
	int rc = check_args(c, pool, count, offsets);

	if (rc < 0)
		return rc;
	pthread_mutex_lock(&c->lock);
	rc = mc__free_any(c, pool, offsets, count, false);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* A run is one request whatever its length: it carries one offset. With
 * count == 0 nothing is allocated and *offset is left as it was. */
int mc_alloc_contiguous(mc_client_t *c, const char *pool, size_t count, uint64_t *offset)
{
	int rc = check_args(c, pool, 1, offset);

	if (rc < 0)
		return rc;
	pthread_mutex_lock(&c->lock);
	rc = alloc_part(c, pool, count, true, offset);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* count == 0 sends no offset at all: a run of 0 with one offset would read
 * as a plain free of that block. */
int mc_free_contiguous(mc_client_t *c, const char *pool, uint64_t offset, size_t count)
{
	struct mc_cache *k;
	int rc = check_args(c, pool, 0, NULL);

	if (rc < 0)
		return rc;
	pthread_mutex_lock(&c->lock);
	k = mc__cache_of(c, pool);
	rc = k != NULL ? mc__cache_check_run(c, k, offset, count) : 0;
	if (rc == 0)
		rc = hold_part(c, OP_FREE, pool, &offset, count > 0 ? 1 : 0, count);
	if (rc == 0 && k != NULL)
		mc__cache_forget(k, offset, count);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* The first part of a group allocation: the choice function runs here and
 * sees total, the whole call's count. The chosen pool's name into pool. */
static int group_first(mc_client_t *c, const char *group, uint64_t cfg, size_t n, size_t total,
		       uint64_t *offsets, char pool[WIRE_NAME_MAX + 1], size_t *blk_size)
{
	Allocd__Request req = ALLOCD__REQUEST__INIT;
	Allocd__GroupAlloc ga = ALLOCD__GROUP_ALLOC__INIT;
	Allocd__Reply *r;
	int rc;

	ga.group = (char *) group;
	ga.cfg = cfg;
	ga.count = n;
	ga.total_count = total;
	req.body_case = ALLOCD__REQUEST__BODY_GROUP_ALLOC;
	req.group_alloc = &ga;
	rc = mc__call(c, &req, ALLOCD__REPLY__BODY_ALLOC, &r);
	if (rc < 0)
		return rc;
	rc = take_offsets(c, r->alloc, n, offsets);
	if (rc == 0 && n > 0 && (mc__check_name(r->alloc->pool) < 0 || r->alloc->pool[0] == '\0'))
		rc = mc__set_broken(c, -EPROTO);
	if (rc == 0) {
		mc__copy_name(pool, r->alloc->pool);
		*blk_size = (size_t) r->alloc->block_size;
	}
	mc__reply_free(c, r);
	return rc;
}

/*
 * A group allocation is served by one pool: the first part goes to the
 * group, the later ones to the pool it chose, so that every block has the
 * same size (the choice functions check for room for the whole count, so
 * the later parts normally fit; if another client took the room meanwhile,
 * they fail and everything is given back).
 */
int mc_group_alloc(mc_client_t *c, const char *group, uint64_t cfg, size_t count,
		   uint64_t offsets[], size_t *blk_size)
{
	char pool[WIRE_NAME_MAX + 1] = "";
	size_t first, bs = 0;
	int rc = check_args(c, group, count, offsets);

	if (rc < 0)
		return rc;
	pthread_mutex_lock(&c->lock);
	first = min_size(count, c->max_batch);
	rc = group_first(c, group, cfg, first, count, offsets, pool, &bs);
	if (rc == 0 && first < count) {
		rc = mc__alloc_parts(c, pool, count - first, offsets + first);
		if (rc < 0)
			undo(c, pool, offsets, first);
	}
	pthread_mutex_unlock(&c->lock);
	if (rc == 0 && blk_size != NULL)
		*blk_size = count > 0 ? bs : 0;
	return rc;
}

int mc_group_free(mc_client_t *c, const char *group, size_t count, const uint64_t offsets[])
{
	return mc_free(c, group, count, offsets);
}

int mc_heap_alloc(mc_client_t *c, const char *heap, size_t size, size_t align, uint64_t *offset)
{
	Allocd__Request req = ALLOCD__REQUEST__INIT;
	Allocd__HeapAlloc ha = ALLOCD__HEAP_ALLOC__INIT;
	Allocd__Reply *r;
	int rc = check_args(c, heap, 1, offset);

	if (rc < 0)
		return rc;
	ha.heap = (char *) heap;
	ha.size = size;
	ha.align = align;
	req.body_case = ALLOCD__REQUEST__BODY_HEAP_ALLOC;
	req.heap_alloc = &ha;
	pthread_mutex_lock(&c->lock);
	rc = mc__call(c, &req, ALLOCD__REPLY__BODY_ALLOC, &r);
	if (rc == 0) {
		rc = take_offsets(c, r->alloc, 1, offset);
		mc__reply_free(c, r);
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int mc_heap_free(mc_client_t *c, const char *heap, uint64_t offset)
{
	return mc_free(c, heap, 1, &offset);
}

/* All or nothing as a whole, not only per part: a retain is an acquisition,
 * and dropping the holds the earlier parts took is always possible. */
static int retain_parts(mc_client_t *c, const char *name, const uint64_t *offsets, size_t count)
{
	size_t n;
	int rc;

	if (count == 0)
		return hold_part(c, OP_RETAIN, name, NULL, 0, 0);
	for (size_t done = 0; done < count; done += n) {
		n = min_size(count - done, c->max_batch);
		rc = hold_part(c, OP_RETAIN, name, offsets + done, n, 0);
		if (rc < 0) {
			undo(c, name, offsets, done);
			return rc;
		}
	}
	return 0;
}

int mc_retain(mc_client_t *c, const char *name, size_t count, const uint64_t offsets[])
{
	int rc = check_args(c, name, count, offsets);

	if (rc < 0)
		return rc;
	pthread_mutex_lock(&c->lock);
	rc = retain_parts(c, name, offsets, count);
	if (rc == 0 && mc__cache_of(c, name) != NULL)
		mc__cache_adopt(mc__cache_of(c, name), offsets, count);
	pthread_mutex_unlock(&c->lock);
	return rc;
}
