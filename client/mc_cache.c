/*
 * mc_cache.c -- leased block caches (magazines) of pools, so that mc_alloc
 * and mc_free of a cached pool are served here without asking the daemon.
 *
 * A cached block is an ordinary hold of this client in the daemon's books.
 * Its index + 1 sits in a slot of this connection's lease page, a stack
 * slots[0..top) (slots at and above top are always 0). Only this library
 * puts values in; this library (to use a block) and the daemon (to take it
 * back before it answers -ENOMEM to someone) take them out with an atomic
 * exchange to 0, and whoever gets the value owns the block. A slot found 0
 * below top was taken back: shadow[] says which block that was.
 *
 * blk[] follows every block of the pool this library knows about: NONE,
 * HELD (handed to the user by mc_alloc, not freed yet), or CACHED in slot i
 * (stored as BLK_CACHED + i). Only a HELD block may be recycled locally, and
 * only while its shared bit (the daemon's "two or more holders", set before
 * it answers the retain that made it so) is clear; a block that someone
 * retained since it was cached is never handed out again (a stale retain):
 * it goes back to the daemon instead.
 *
 * Hysteresis with target M: below M/4 cached an async refill up to M/2 goes
 * out; above 3M/4 the blocks over M/2 go back in one async free. A periodic
 * trim (every TRIM_OPS operations, at most once per TRIM_NS) gives back what
 * sat unused since the last one (the low-water mark). The fast path takes
 * no syscall and no malloc; refills and returns are pipelined.
 *
 * Everything here runs under c->lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/mc_internal.h"

/* BLK_FREEING: HELD, and named by the mc_free being applied (so that an
 * offset twice in one call is caught before anything changes). */
enum { BLK_NONE = 0, BLK_HELD = 1, BLK_FREEING = 2, BLK_CACHED = 3 };

#define TRIM_OPS 256u
#define TRIM_NS  1000000000LL

static uint32_t low_mark(uint32_t m)
{
	return m / 4;
}

static uint32_t mid_mark(uint32_t m)
{
	return (m + 1) / 2;
}

static uint32_t high_mark(uint32_t m)
{
	return m - m / 4;
}

static uint64_t blk_offset(const struct mc_cache *k, uint32_t b)
{
	return k->base + (uint64_t) b * k->block_size;
}

/* The block at offset, or -1 when offset is not the start of one. */
static int64_t blk_index(const struct mc_cache *k, uint64_t offset)
{
	uint64_t rel;

	if (offset < k->base)
		return -1;
	rel = offset - k->base;
	if (rel % k->block_size != 0 || rel / k->block_size >= k->blocks)
		return -1;
	return (int64_t) (rel / k->block_size);
}

/* Does block b have another holder (the daemon's shared bit)? */
static bool shared(const struct mc_cache *k, uint32_t b)
{
	return (__atomic_load_n(&k->bits[b / 64], __ATOMIC_ACQUIRE) >> (b % 64)) & 1u;
}

/* Put block b on the cache; false when the lease page has no room. */
static bool push(struct mc_cache *k, uint32_t b)
{
	if (k->top >= k->nslots)
		return false;
	k->shadow[k->top] = b + 1;
	k->blk[b] = BLK_CACHED + k->top;
	__atomic_store_n(&k->slots[k->top], b + 1, __ATOMIC_RELEASE);
	k->top++;
	return true;
}

/* Take the top block off the cache: its index, or -1 when it is empty.
 * Slots the daemon emptied are skipped (and counted). The block is left
 * NONE: the caller decides what it becomes. */
static int64_t pop(struct mc_cache *k)
{
	while (k->top > 0) {
		uint32_t i = --k->top;
		uint32_t got = __atomic_exchange_n(&k->slots[i], 0, __ATOMIC_ACQ_REL);
		uint32_t b = k->shadow[i] - 1;

		k->shadow[i] = 0;
		if (k->top < k->low)
			k->low = k->top;
		/* Only the daemon changes a slot under us, and only to 0. */
		if (k->blk[b] == BLK_CACHED + i)
			k->blk[b] = BLK_NONE;
		if (got == 0) {
			k->stats.taken_back++;
			continue;
		}
		return b;
	}
	return -1;
}

/* Is block b really in the cache? blk[] may still say CACHED for a block the
 * daemon took back (its slot is 0 then, and nobody told us). */
static bool really_cached(struct mc_cache *k, uint32_t b)
{
	uint32_t i;

	if (k->blk[b] < BLK_CACHED)
		return false;
	i = k->blk[b] - BLK_CACHED;
	if (__atomic_load_n(&k->slots[i], __ATOMIC_ACQUIRE) == b + 1)
		return true;
	k->blk[b] = BLK_NONE;
	return false;
}

/* Give block b back to the daemon with the next async free. */
static int give_back(mc_client_t *c, struct mc_cache *k, uint32_t b)
{
	uint64_t off = blk_offset(k, b);

	return mc__queue_hold(c, false, k->obj->name, &off, 1);
}

/* Return cached blocks until at most keep remain, in one async free. */
static int shrink(mc_client_t *c, struct mc_cache *k, uint32_t keep)
{
	int64_t b;
	int rc = 0;

	while (rc == 0 && k->top > keep && (b = pop(k)) >= 0) {
		k->stats.returns++;
		rc = give_back(c, k, (uint32_t) b);
	}
	return rc == 0 ? mc__send_batch(c) : rc;
}

/* Push the leased offsets of a reply; one the daemon should not have sent
 * (not a block of the pool, or no room) breaks the client. */
static int take_leased(mc_client_t *c, struct mc_cache *k, const uint64_t *offs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int64_t b = blk_index(k, offs[i]);

		if (b < 0 || k->blk[b] == BLK_HELD || really_cached(k, (uint32_t) b) ||
		    !push(k, (uint32_t) b))
			return mc__set_broken(c, -EPROTO);
	}
	return 0;
}

static void refill_done(mc_client_t *c, const struct mc_pending *p, int rc, Allocd__Reply *r)
{
	struct mc_cache *k = p->cache;

	k->refilling = false;
	/* Best effort: the next shortfall asks again. Completed without a
	 * reply (a restart) cannot be: nothing is sent behind a refill
	 * (mc_call.c), so it is never applied before a later request. */
	if (rc < 0 || r == NULL)
		return;
	if (r->body_case != ALLOCD__REPLY__BODY_ALLOC || r->alloc->n_offsets > p->count)
		mc__set_broken(c, -EPROTO);
	else
		take_leased(c, k, r->alloc->offsets, r->alloc->n_offsets);
	mc__reply_free(c, r);
}

/* Below the low mark with no refill in flight: ask for one, async. */
static int maybe_refill(mc_client_t *c, struct mc_cache *k)
{
	Allocd__Request req = ALLOCD__REQUEST__INIT;
	Allocd__Alloc a = ALLOCD__ALLOC__INIT;
	struct mc_pending tmpl = {.done = refill_done, .cache = k, .leases = true};

	if (k->refilling || k->top >= low_mark(k->target) || k->top >= mid_mark(k->target))
		return 0;
	tmpl.count = mid_mark(k->target) - k->top;
	if (tmpl.count > c->max_batch)
		tmpl.count = c->max_batch;
	a.pool = (char *) k->obj->name;
	a.lease = tmpl.count;
	req.body_case = ALLOCD__REQUEST__BODY_ALLOC;
	req.alloc = &a;
	k->refilling = true;
	k->stats.refills++;
	return mc__send_async(c, &req, mc__alloc_reply_bytes(tmpl.count), &tmpl);
}

/* Every TRIM_OPS operations: if TRIM_NS passed since the last trim, give
 * back what sat unused all that time. CLOCK_MONOTONIC_COARSE is read in the
 * vDSO: no syscall. */
static int tick(mc_client_t *c, struct mc_cache *k)
{
	struct timespec now;
	int64_t ns;
	uint32_t idle;
	int rc;

	if (++k->ops < TRIM_OPS)
		return 0;
	k->ops = 0;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
	ns = (int64_t) (now.tv_sec - k->trimmed.tv_sec) * 1000000000LL +
	     (now.tv_nsec - k->trimmed.tv_nsec);
	if (ns < TRIM_NS)
		return 0;
	k->trimmed = now;
	idle = k->low < k->top ? k->low : k->top;
	rc = idle > 0 ? shrink(c, k, k->top - idle) : 0;
	k->low = k->top;
	return rc;
}

/* One synchronous Alloc of count blocks (into offsets, HELD) plus up to
 * lease more for the cache, and cache = m when m > 0. */
static int alloc_lease(mc_client_t *c, struct mc_cache *k, size_t count, uint32_t lease, uint32_t m,
		       uint64_t *offsets)
{
	Allocd__Request req = ALLOCD__REQUEST__INIT;
	Allocd__Alloc a = ALLOCD__ALLOC__INIT;
	Allocd__Reply *r;
	const Allocd__AllocReply *ar;
	int rc;

	a.pool = (char *) k->obj->name;
	a.count = count;
	a.lease = lease;
	a.cache = m;
	req.body_case = ALLOCD__REQUEST__BODY_ALLOC;
	req.alloc = &a;
	rc = mc__call(c, &req, ALLOCD__REPLY__BODY_ALLOC, &r);
	if (rc < 0)
		return rc;
	ar = r->alloc;
	if (ar->n_offsets < count || ar->n_offsets - count > lease) {
		rc = mc__set_broken(c, -EPROTO);
	} else {
		for (size_t i = 0; i < count; i++) {
			int64_t b = blk_index(k, ar->offsets[i]);

			offsets[i] = ar->offsets[i];
			if (b >= 0)
				k->blk[b] = BLK_HELD;
		}
		rc = take_leased(c, k, ar->offsets + count, ar->n_offsets - count);
	}
	mc__reply_free(c, r);
	return rc;
}

struct mc_cache *mc__cache_of(mc_client_t *c, const char *name)
{
	const struct mc_object *o = mc__object(c, name);

	return o != NULL && o->cache != NULL && o->cache->target > 0 ? o->cache : NULL;
}

int mc__cache_alloc(mc_client_t *c, struct mc_cache *k, size_t count, uint64_t *offsets)
{
	size_t got = 0, need;
	uint32_t lease = 0;
	int64_t b;
	int rc = 0;

	if (c->broken)
		return -ECONNRESET;
	while (got < count) {
		b = pop(k);
		if (b < 0 && k->refilling) {
			/* Its reply is on the way: cheaper than another. */
			rc = mc__wait(c, 0);
			if (rc < 0)
				break;
			continue;
		}
		if (b < 0)
			break;
		if (shared(k, (uint32_t) b)) {
			k->stats.stale++;
			rc = give_back(c, k, (uint32_t) b);
			if (rc < 0)
				break;
			continue;
		}
		offsets[got++] = blk_offset(k, (uint32_t) b);
	}
	need = count - got;
	if (rc == 0 && need > 0 && need <= c->max_batch) {
		if (k->top < mid_mark(k->target))
			lease = mid_mark(k->target) - k->top;
		if (lease > c->max_batch - need)
			lease = (uint32_t) (c->max_batch - need);
		rc = alloc_lease(c, k, need, lease, 0, offsets + got);
	} else if (rc == 0 && need > 0) {
		rc = mc__alloc_parts(c, k->obj->name, need, offsets + got);
		for (size_t i = got; rc == 0 && i < count; i++)
			if ((b = blk_index(k, offsets[i])) >= 0)
				k->blk[b] = BLK_HELD;
	}
	if (rc < 0) {
		/* All or nothing: what was popped goes back, in its order. */
		while (got > 0) {
			b = blk_index(k, offsets[--got]);
			if (!push(k, (uint32_t) b))
				give_back(c, k, (uint32_t) b);
		}
		return rc;
	}
	for (size_t i = 0; i < got; i++)
		k->blk[blk_index(k, offsets[i])] = BLK_HELD;
	k->stats.hits += got;
	k->stats.misses += need;
	rc = maybe_refill(c, k);
	return rc == 0 ? tick(c, k) : rc;
}

/* offsets[0..n) that are not HELD, to the daemon as if there were no cache
 * (so that a double free still gets -EPERM or -EFAULT). */
static int free_uncached(mc_client_t *c, const char *name, const uint64_t *offsets, size_t n,
			 bool async)
{
	if (n == 0)
		return 0;
	return async ? mc__queue_hold(c, false, name, offsets, n)
		     : mc__free_parts(c, name, offsets, n);
}

/*
 * Let a refill on the way land before blocks this cache did not hand out
 * are freed: the daemon may have leased one of them again (the user frees
 * it twice), and a free sent behind the refill would drop the lease while
 * the refill's reply still puts the block in the cache -- a cached block
 * nobody holds, handed out later under another owner. Landed, it is
 * really_cached and the free is refused.
 */
static int settle_refill(mc_client_t *c, struct mc_cache *k)
{
	int rc = 0;

	while (rc == 0 && k->refilling && c->npending > 0)
		rc = mc__wait(c, c->npending - 1);
	return rc;
}

/* Put the FREEING blocks of offsets back to HELD (the free failed). */
static void unmark(struct mc_cache *k, const uint64_t *offsets, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int64_t b = blk_index(k, offsets[i]);

		if (b >= 0 && k->blk[b] == BLK_FREEING)
			k->blk[b] = BLK_HELD;
	}
}

/*
 * Checked before anything changes: a block in the cache is not the user's
 * to free (-EFAULT; a refill on its way lands first when the call names
 * blocks this cache did not hand out, see settle_refill), and a HELD block
 * named twice is -EINVAL, as the daemon says of a repeated offset. The offsets this library does
 * not know as HELD go to the daemon first, so that a refusal there (-EPERM, -EFAULT) leaves the
 * HELD ones as they were; then each HELD block is recycled here when this client is its sole holder
 * (shared bit clear) and the cache has room, else given back with the next async free.
 */
static int cache_free(mc_client_t *c, struct mc_cache *k, const uint64_t *offsets, size_t count,
		      bool async)
{
	size_t run = 0;
	bool foreign = false;
	int rc = 0;

	if (c->broken)
		return -ECONNRESET;
	for (size_t i = 0; i < count && !foreign; i++) {
		int64_t b = blk_index(k, offsets[i]);

		foreign = b < 0 || k->blk[b] != BLK_HELD;
	}
	rc = foreign ? settle_refill(c, k) : 0;
	for (size_t i = 0; i < count && rc == 0; i++) {
		int64_t b = blk_index(k, offsets[i]);

		if (b >= 0 && really_cached(k, (uint32_t) b))
			rc = -EFAULT;
		else if (b >= 0 && k->blk[b] == BLK_FREEING)
			rc = -EINVAL;
		else if (b >= 0 && k->blk[b] == BLK_HELD)
			k->blk[b] = BLK_FREEING;
	}
	for (size_t i = 0; i <= count && rc == 0; i++) {
		int64_t b = i < count ? blk_index(k, offsets[i]) : -1;

		if (i < count && (b < 0 || k->blk[b] != BLK_FREEING)) {
			run++;
			continue;
		}
		rc = free_uncached(c, k->obj->name, offsets + i - run, run, async);
		run = 0;
	}
	if (rc < 0) {
		unmark(k, offsets, count);
		return rc;
	}
	for (size_t i = 0; i < count; i++) {
		int64_t b = blk_index(k, offsets[i]);

		if (b < 0 || k->blk[b] != BLK_FREEING)
			continue;
		k->blk[b] = BLK_NONE;
		if (shared(k, (uint32_t) b) || !push(k, (uint32_t) b)) {
			rc = give_back(c, k, (uint32_t) b);
			if (rc < 0)
				return rc;
		}
	}
	if (k->top > high_mark(k->target))
		rc = shrink(c, k, mid_mark(k->target));
	return rc == 0 ? tick(c, k) : rc;
}

void mc__cache_adopt(struct mc_cache *k, const uint64_t *offsets, size_t count)
{
	if (k->blk == NULL || k->target == 0)
		return;
	for (size_t i = 0; i < count; i++) {
		int64_t b = blk_index(k, offsets[i]);

		if (b >= 0 && !really_cached(k, (uint32_t) b))
			k->blk[b] = BLK_HELD;
	}
}

/*
 * A free under another name of the region (a group, say) may name blocks of
 * a cached pool: one sitting in the cache is refused (-EFAULT) as under the
 * pool's own name -- the daemon would drop the lease of a block the cache
 * still hands out -- and, once freed, a block the user held is no longer
 * its. 0 or -EFAULT; with forget, marks the HELD ones NONE instead.
 */
static int other_caches(mc_client_t *c, const char *name, const uint64_t *offsets, size_t count,
			bool forget)
{
	const struct mc_object *o = mc__object(c, name);
	int rc = 0;

	for (size_t j = 0; o != NULL && rc == 0 && j < c->ncaches; j++) {
		struct mc_cache *k = &c->caches[j];
		bool settled = false;

		if (k->target == 0 || k->obj->region != o->region)
			continue;
		for (size_t i = 0; rc == 0 && i < count; i++) {
			int64_t b = blk_index(k, offsets[i]);

			if (b < 0)
				continue;
			if (forget) {
				if (k->blk[b] == BLK_HELD)
					k->blk[b] = BLK_NONE;
				continue;
			}
			if (!settled && k->blk[b] != BLK_HELD) {
				rc = settle_refill(c, k);
				settled = true;
			}
			if (rc == 0 && really_cached(k, (uint32_t) b))
				rc = -EFAULT;
		}
	}
	return rc;
}

int mc__free_any(mc_client_t *c, const char *name, const uint64_t *offsets, size_t count,
		 bool async)
{
	struct mc_cache *k = mc__cache_of(c, name);
	int rc;

	if (k != NULL)
		return cache_free(c, k, offsets, count, async);
	if (c->broken)
		return -ECONNRESET;
	rc = other_caches(c, name, offsets, count, false);
	if (rc == 0)
		rc = async ? mc__queue_hold(c, false, name, offsets, count)
			   : mc__free_parts(c, name, offsets, count);
	if (rc == 0)
		other_caches(c, name, offsets, count, true);
	return rc;
}

int mc__cache_check_run(mc_client_t *c, struct mc_cache *k, uint64_t offset, size_t count)
{
	int64_t b = blk_index(k, offset);
	int rc = settle_refill(c, k);

	for (size_t i = 0; rc == 0 && b >= 0 && i < count && (uint64_t) b + i < k->blocks; i++)
		if (really_cached(k, (uint32_t) (b + i)))
			rc = -EFAULT;
	return rc;
}

void mc__cache_forget(struct mc_cache *k, uint64_t offset, size_t count)
{
	int64_t b = blk_index(k, offset);

	for (size_t i = 0; b >= 0 && i < count && (uint64_t) b + i < k->blocks; i++)
		if (k->blk[b + i] == BLK_HELD)
			k->blk[b + i] = BLK_NONE;
}

/* Turn the cache off: every cached block back in one free (in parts of
 * max_batch), and what blk[] knew forgotten (the pool's frees go to the
 * daemon again). */
static int cache_off(mc_client_t *c, struct mc_cache *k)
{
	uint64_t *offs;
	size_t n = 0;
	int64_t b;
	int rc;

	if (k->blk == NULL)
		return 0;
	offs = malloc((k->top ? k->top : 1) * sizeof(*offs));
	if (offs == NULL)
		return -ENOMEM;
	while ((b = pop(k)) >= 0)
		offs[n++] = blk_offset(k, (uint32_t) b);
	rc = mc__free_parts(c, k->obj->name, offs, n);
	k->stats.returns += n;
	free(offs);
	k->target = 0;
	memset(k->blk, 0, k->blocks * sizeof(*k->blk));
	return rc;
}

static int cache_on(mc_client_t *c, struct mc_cache *k, uint32_t m)
{
	uint32_t lease = 0;
	int rc;

	if (k->blk == NULL) {
		k->blk = calloc(k->blocks, sizeof(*k->blk));
		k->shadow = calloc(k->nslots, sizeof(*k->shadow));
		if (k->blk == NULL || k->shadow == NULL)
			return -ENOMEM;
	}
	if (k->top < mid_mark(m))
		lease = mid_mark(m) - k->top;
	if (lease > c->max_batch)
		lease = c->max_batch;
	rc = alloc_lease(c, k, 0, lease, m, NULL);
	if (rc < 0)
		return rc;
	k->target = m;
	k->low = k->top;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &k->trimmed);
	return k->top > high_mark(m) ? shrink(c, k, mid_mark(m)) : 0;
}

/* Caller holds c->lock. */
int mc__cache_set(mc_client_t *c, struct mc_cache *k, size_t blocks)
{
	int rc;

	if (blocks > k->nslots)
		return -EINVAL;
	/* No refill may land after the change. */
	rc = mc__send_batch(c);
	if (rc == 0)
		rc = mc__wait(c, 0);
	if (rc < 0)
		return rc;
	return blocks == 0 ? cache_off(c, k) : cache_on(c, k, (uint32_t) blocks);
}

int mc_cache(mc_client_t *c, const char *pool, size_t blocks)
{
	const struct mc_object *o;
	int rc;

	if (c == NULL)
		return -EINVAL;
	rc = mc__check_name(pool);
	if (rc < 0)
		return rc;
	o = mc__object(c, pool);
	pthread_mutex_lock(&c->lock);
	if (o == NULL)
		rc = mc__unknown(c, pool); /* -ENOENT or -EACCES, as the daemon says */
	else if (o->kind != ALLOCD__KIND__KIND_POOL || o->cache == NULL)
		rc = -EINVAL; /* a heap, a group, or a pool the daemon will not lease */
	else
		rc = mc__cache_set(c, o->cache, blocks);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int mc_cache_stats(mc_client_t *c, const char *pool, struct mc_cache_stats *st)
{
	const struct mc_object *o;
	struct mc_cache *k;

	if (c == NULL || st == NULL || mc__check_name(pool) < 0)
		return -EINVAL;
	o = mc__object(c, pool);
	if (o == NULL)
		return -ENOENT;
	memset(st, 0, sizeof(*st));
	if (o->cache == NULL)
		return 0;
	k = o->cache;
	pthread_mutex_lock(&c->lock);
	*st = k->stats;
	st->target = k->target;
	for (uint32_t i = 0; i < k->top; i++)
		if (__atomic_load_n(&k->slots[i], __ATOMIC_ACQUIRE) != 0)
			st->cached++;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

/* Can the daemon's pool oi be cached, with its slots and bits inside the
 * maps? 1 yes, 0 no (not offered), -EPROTO for geometry out of bounds. */
static int cacheable(const mc_client_t *c, const Allocd__ObjectInfo *oi)
{
	uint64_t words;

	if (oi->kind != ALLOCD__KIND__KIND_POOL || oi->lease_slots == 0 || c->lease == NULL ||
	    c->bits == NULL || c->bits[oi->region] == NULL || oi->block_size == 0 ||
	    oi->total == 0 || oi->total >= UINT32_MAX)
		return 0;
	words = (oi->total + 63) / 64;
	if (oi->lease_offset % sizeof(uint32_t) != 0 || oi->lease_offset > c->lease_size ||
	    oi->lease_slots > (c->lease_size - oi->lease_offset) / sizeof(uint32_t) ||
	    oi->bits_offset % sizeof(uint64_t) != 0 ||
	    oi->bits_offset > c->bits_sizes[oi->region] ||
	    words > (c->bits_sizes[oi->region] - oi->bits_offset) / sizeof(uint64_t))
		return -EPROTO;
	return 1;
}

int mc__caches_init(mc_client_t *c, const Allocd__HelloReply *hr)
{
	size_t n = 0;
	int rc;

	for (size_t i = 0; i < hr->n_objects; i++) {
		rc = cacheable(c, hr->objects[i]);
		if (rc < 0)
			return rc;
		n += (size_t) rc;
	}
	c->caches = calloc(n ? n : 1, sizeof(*c->caches));
	if (c->caches == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < hr->n_objects; i++) {
		const Allocd__ObjectInfo *oi = hr->objects[i];
		struct mc_cache *k;

		if (cacheable(c, oi) == 0)
			continue;
		k = &c->caches[c->ncaches++];
		k->base = oi->offset;
		k->block_size = oi->block_size;
		k->blocks = (uint32_t) oi->total;
		k->nslots = oi->lease_slots;
		k->slots = (uint32_t *) (c->lease + oi->lease_offset);
		k->bits =
		    (const uint64_t *) ((const uint8_t *) c->bits[oi->region] + oi->bits_offset);
		k->deflt = oi->client_cache;
		k->quota = oi->quota;
		c->objects[i].cache = k;
	}
	return 0;
}

/* A cache size from the environment: digits only, else -1. */
static long env_size(const char *s, size_t len)
{
	long v = 0;

	if (len == 0 || len > 9)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* What $ALLOCATORD_CLIENT_CACHE asks for pool: "N" (every pool) or a list
 * "pool=N,pool=N"; -1 when it says nothing about it (or not readably). */
static long env_cache(const char *env, const char *pool)
{
	size_t plen = strlen(pool);
	long all = env_size(env, strlen(env));

	if (all >= 0)
		return all;
	for (const char *p = env; *p != '\0';) {
		const char *end = strchr(p, ',');
		size_t len = end != NULL ? (size_t) (end - p) : strlen(p);

		if (len > plen && p[plen] == '=' && strncmp(p, pool, plen) == 0)
			return env_size(p + plen + 1, len - plen - 1);
		p += len + (end != NULL);
	}
	return -1;
}

void mc__caches_defaults(mc_client_t *c)
{
	const char *env = getenv("ALLOCATORD_CLIENT_CACHE");

	for (size_t i = 0; i < c->ncaches; i++) {
		struct mc_cache *k = &c->caches[i];
		long m = env != NULL ? env_cache(env, k->obj->name) : -1;
		uint64_t want = m >= 0 ? (uint64_t) m : k->deflt;

		/* A default is a wish: fit it to the pool rather than fail
		 * the connect. */
		if (want > k->nslots)
			want = k->nslots;
		if (k->quota > 0 && want > k->quota)
			want = k->quota;
		if (want > 0)
			mc__cache_set(c, k, (size_t) want);
	}
}

void mc__caches_free(mc_client_t *c)
{
	for (size_t i = 0; i < c->ncaches; i++) {
		free(c->caches[i].blk);
		free(c->caches[i].shadow);
	}
	free(c->caches);
}
