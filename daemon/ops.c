/*
 * ops: allocation, free, retain and reclaim with their ownership rules (see
 * ops.h). Invariant kept by every function here: a unit is allocated in its
 * core allocator iff its holder list is non-empty (UNIT_PENDING only inside
 * ops_free), and each session's held[] sums match its holds, as do its
 * uid's (tenant.h) and each region's hold count. A failing call leaves no
 * trace: checks come first, the hold table grows only for holds about to be
 * taken (after the allocation succeeded), and batches undo what they did.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/lease.h"
#include "daemon/log.h"
#include "daemon/ops.h"

/* A resolved allocation unit: what free and retain work on. */
struct unit_ref {
	struct object *o; /* the pool or heap (never a group) */
	uint32_t unit;    /* block index, or heap offset in granules */
	uint32_t *head;   /* its holder list head */
	uint64_t amount;  /* blocks (1) or usable bytes */
};

static unsigned long long ull(uint64_t v)
{
	return (unsigned long long) v;
}

int ops_init(struct ops *op, struct daemon *d, struct errbuf *e)
{
	op->d = d;
	op->ptrs = calloc(d->max_batch, sizeof(*op->ptrs));
	op->undo = calloc(d->max_batch, sizeof(*op->undo));
	if (op->ptrs != NULL && op->undo != NULL)
		return 0;
	ops_fini(op);
	return errbuf_set(e, -ENOMEM, "%s", strerror(ENOMEM));
}

void ops_fini(struct ops *op)
{
	free(op->ptrs);
	free(op->undo);
	op->ptrs = NULL;
	op->undo = NULL;
}

/* holds_reserve() made room beforehand, so this cannot fail. */
static void hold_take(struct ops *op, struct session *s, const struct unit_ref *u)
{
	uint32_t granules =
	    u->o->kind == OBJ_HEAP ? (uint32_t) (u->amount >> u->o->u.heap.granule_shift) : 0;

	holds_add(&op->d->holds, u->head, &s->hold_head, s->slot, u->o->index, u->unit, granules);
	s->held[u->o->index].amount += u->amount;
	s->held[u->o->index].holds++;
	s->tenant->held[u->o->index] += u->amount;
	s->tenant->holds[u->o->region->index]++;
	u->o->region->holds++;
	if (u->o->kind == OBJ_POOL)
		lease_bit_update(&op->d->holds, u->o, u->unit);
}

static void hold_drop(struct ops *op, struct session *s, const struct unit_ref *u, uint32_t idx)
{
	holds_remove(&op->d->holds, idx, u->head, &s->hold_head);
	s->held[u->o->index].amount -= u->amount;
	s->held[u->o->index].holds--;
	s->tenant->held[u->o->index] -= u->amount;
	s->tenant->holds[u->o->region->index]--;
	u->o->region->holds--;
	if (u->o->kind == OBJ_POOL)
		lease_bit_update(&op->d->holds, u->o, u->unit);
}

/* Give a unit nobody holds back to its allocator. The unit was allocated
 * (it had holders), so the core call cannot fail unless the state is
 * corrupt, which is worth a loud line. */
static void unit_release(struct object *o, uint32_t unit)
{
	int rc;

	if (o->kind == OBJ_POOL) {
		sys_mem_blocks_t *mb = &o->u.pool.mb;

		rc = sys_mem_blocks_free_contiguous(
		    mb, mb->buffer + (uint64_t) unit * mb->info.blk_sz, 1);
	} else {
		rc = tlsf_free(o->u.heap.tlsf, (uint64_t) unit << o->u.heap.granule_shift);
	}
	if (rc < 0)
		log_error("BUG: %s '%s': releasing unit %u: %s", object_kind_name(o->kind), o->name,
			  unit, strerror(-rc));
}

static struct unit_ref pool_unit(struct object *o, uint64_t block)
{
	return (struct unit_ref){
	    .o = o, .unit = (uint32_t) block, .head = &o->u.pool.holders[block], .amount = 1};
}

/* Drop hold h of s on block b of pool o, releasing the block if it was the
 * last; also how cached blocks are taken back (lease_drop_fn). */
static void drop_block(void *ctx, struct session *s, struct object *o, uint32_t b, uint32_t h)
{
	struct unit_ref u = pool_unit(o, b);

	hold_drop(ctx, s, &u, h);
	if (*u.head == HOLD_NIL)
		unit_release(o, b);
}

/* The allocation unit at region offset off of the named object (a pool, a
 * group -- then the member pool that contains it -- or a heap). */
static int resolve(struct object *named, uint64_t off, struct unit_ref *u, struct errbuf *e)
{
	struct object *o = named;
	uint64_t rel;

	if (named->kind == OBJ_GROUP) {
		const struct group *g = &named->u.group;

		o = NULL;
		for (size_t i = 0; i < g->mmb.num_allocators && o == NULL; i++) {
			struct object *m = g->members[i];

			if (off >= m->offset && off - m->offset < m->size)
				o = m;
		}
		if (o == NULL)
			return errbuf_set(e, -EFAULT,
					  "group '%s': offset 0x%llx is in none of its pools",
					  named->name, ull(off));
	}
	if (off < o->offset || off - o->offset >= o->size)
		return errbuf_set(e, -EFAULT,
				  "%s '%s': offset 0x%llx is outside it [0x%llx, 0x%llx)",
				  object_kind_name(o->kind), o->name, ull(off), ull(o->offset),
				  ull(o->offset + o->size));
	rel = off - o->offset;
	if (o->kind == OBJ_POOL) {
		uint64_t bs = pool_block_size(o);

		if (rel % bs != 0)
			return errbuf_set(e, -EFAULT,
					  "pool '%s': offset 0x%llx is not on a block boundary "
					  "(blocks of %llu bytes)",
					  o->name, ull(off), ull(bs));
		*u = pool_unit(o, rel / bs);
		return 0;
	}
	{
		struct heap *h = &o->u.heap;
		uint32_t id;

		if (tlsf_id_of(h->tlsf, rel, &id) < 0)
			return errbuf_set(
			    e, -EFAULT,
			    "heap '%s': offset 0x%llx is not the start of an allocation", o->name,
			    ull(off));
		*u = (struct unit_ref){.o = o,
				       .unit = (uint32_t) (rel >> h->granule_shift),
				       .head = &h->holders[id],
				       .amount = tlsf_usable_size(h->tlsf, rel)};
	}
	return 0;
}

static bool fits(uint64_t held, uint64_t add, uint64_t limit)
{
	return add <= limit && held <= limit - add;
}

/* The client quota, then (administrators excepted) the uid quota, which
 * all connections of the uid share. */
static int check_quota(const struct session *s, const struct object *o, uint64_t add,
		       struct errbuf *e)
{
	bool pool = o->kind == OBJ_POOL;
	uint64_t quota = pool ? o->u.pool.cfg->quota : o->u.heap.cfg->quota;
	uint64_t uid_quota = pool ? o->u.pool.cfg->uid_quota : o->u.heap.cfg->uid_quota;
	uint64_t held = s->held[o->index].amount, uid_held = s->tenant->held[o->index];

	if (quota != 0 && !fits(held, add, quota))
		return errbuf_set(e, -EDQUOT,
				  "%s '%s': client quota is %llu %s; holding %llu, asked %llu",
				  object_kind_name(o->kind), o->name, ull(quota),
				  pool ? "blocks" : "bytes", ull(held), ull(add));
	if (s->admin || fits(uid_held, add, uid_quota))
		return 0;
	return errbuf_set(e, -EDQUOT,
			  "%s '%s': uid_quota is %llu %s; uid %u holds %llu over all its "
			  "connections, asked %llu",
			  object_kind_name(o->kind), o->name, ull(uid_quota),
			  pool ? "blocks" : "bytes", (unsigned) s->uid, ull(uid_held), ull(add));
}

/* May s take n more holds on objects of o's region: within the region's
 * share of the hold table (max_holds), and, administrators excepted, its
 * uid's part of it (uid_holds)? Counters only: nothing grows. O(1). */
static int hold_room(const struct session *s, const struct object *o, uint64_t n, struct errbuf *e)
{
	const struct region *r = o->region;

	if (!fits(r->holds, n, r->cfg->max_holds))
		return errbuf_set(e, -ENOSPC,
				  "region '%s': its share of the hold table is full (max_holds "
				  "%u; %u in use, %llu more asked)",
				  r->cfg->name, r->cfg->max_holds, r->holds, ull(n));
	if (s->admin || fits(s->tenant->holds[r->index], n, r->cfg->uid_holds))
		return 0;
	return errbuf_set(
	    e, -EDQUOT, "region '%s': uid %u has %u holds of its uid_holds %u, %llu more asked",
	    r->cfg->name, (unsigned) s->uid, s->tenant->holds[r->index], r->cfg->uid_holds, ull(n));
}

/* Grow the table for n holds that hold_room allowed, so that hold_take
 * cannot fail. Only memory can be short here: the shares are within the
 * table's limit. */
static int reserve_holds(struct ops *op, uint64_t n, struct errbuf *e)
{
	if (n <= UINT32_MAX && holds_reserve(&op->d->holds, (uint32_t) n) == 0)
		return 0;
	return errbuf_set(e, -ENOSPC, "the daemon's hold table cannot grow (%u holds)",
			  op->d->holds.used);
}

/* A request carries at most max_batch offsets (the reply must fit a frame). */
static int check_batch(const struct ops *op, const struct object *o, uint64_t n, struct errbuf *e)
{
	if (n <= op->d->max_batch)
		return 0;
	return errbuf_set(e, -E2BIG, "%s '%s': %llu offsets in one request, at most %u: split it",
			  object_kind_name(o->kind), o->name, ull(n), op->d->max_batch);
}

/* Hold the n blocks core just allocated into op->ptrs, their offsets into
 * offsets[0..n). */
static void hold_blocks(struct ops *op, struct session *s, struct object *o, uint64_t n,
			uint64_t *offsets)
{
	uint64_t bs = pool_block_size(o);

	for (uint64_t i = 0; i < n; i++) {
		uint64_t b = (uint64_t) ((uint8_t *) op->ptrs[i] - o->u.pool.mb.buffer) / bs;
		struct unit_ref u = pool_unit(o, b);

		hold_take(op, s, &u);
		offsets[i] = o->offset + b * bs;
	}
}

/* Give back the count blocks just allocated into op->ptrs (a run: from
 * op->ptrs[0]) when their holds cannot be recorded. */
static void pool_untake(struct ops *op, struct object *o, uint64_t count, bool contiguous)
{
	sys_mem_blocks_t *mb = &o->u.pool.mb;
	int rc = contiguous ? sys_mem_blocks_free_contiguous(mb, op->ptrs[0], count)
			    : sys_mem_blocks_free(mb, count, op->ptrs);

	if (rc < 0)
		log_error("BUG: pool '%s': giving back %llu blocks: %s", o->name, ull(count),
			  strerror(-rc));
}

/* count blocks, all or nothing. Blocks idle in clients' caches are taken
 * back before the pool is found short: -ENOMEM only when free plus cached
 * blocks are too few (for a run: when no run is free even then). Every
 * check comes before anything changes, and the hold table grows only once
 * the blocks are allocated: a request that cannot succeed costs nothing. */
static int pool_take(struct ops *op, struct session *s, struct object *o, uint64_t count,
		     bool contiguous, uint64_t *offsets, struct errbuf *e)
{
	struct pool *p = &o->u.pool;
	uint64_t bs = pool_block_size(o);
	int rc;

	if (count == 0)
		return 0;
	rc = contiguous ? 0 : check_batch(op, o, count, e);
	if (rc < 0)
		return rc;
	if (count > pool_blocks(o)) {
		p->failed++;
		return errbuf_set(e, -ENOMEM, "pool '%s' has %llu blocks, %llu asked", o->name,
				  ull(pool_blocks(o)), ull(count));
	}
	rc = check_quota(s, o, count, e);
	if (rc == 0)
		rc = hold_room(s, o, count, e);
	if (rc < 0)
		return rc;
	if (!contiguous && sys_mem_blocks_free_count(&p->mb) < count)
		lease_take_back(op->d, op, s, o, count, false, drop_block);
	if (contiguous) {
		rc = sys_mem_blocks_alloc_contiguous(&p->mb, count, op->ptrs);
		if (rc == -ENOMEM && lease_take_back(op->d, op, s, o, count, true, drop_block) > 0)
			rc = sys_mem_blocks_alloc_contiguous(&p->mb, count, op->ptrs);
	} else {
		rc = sys_mem_blocks_alloc(&p->mb, count, op->ptrs);
	}
	if (rc == -ENOMEM) {
		p->failed++;
		if (contiguous)
			return errbuf_set(e, rc, "pool '%s': no run of %llu free blocks (%zu free)",
					  o->name, ull(count), sys_mem_blocks_free_count(&p->mb));
		return errbuf_set(e, rc, "pool '%s': %zu blocks free, %llu asked", o->name,
				  sys_mem_blocks_free_count(&p->mb), ull(count));
	}
	if (rc < 0)
		return errbuf_set(e, rc, "pool '%s': %s", o->name, strerror(-rc));
	rc = reserve_holds(op, count, e);
	if (rc < 0) {
		pool_untake(op, o, count, contiguous);
		return rc;
	}

	if (contiguous) {
		uint64_t first = (uint64_t) ((uint8_t *) op->ptrs[0] - p->mb.buffer) / bs;

		for (uint64_t b = first; b < first + count; b++) {
			struct unit_ref u = pool_unit(o, b);

			hold_take(op, s, &u);
		}
		offsets[0] = o->offset + first * bs;
		return 0;
	}
	hold_blocks(op, s, o, count, offsets);
	return 0;
}

/* Alloc.cache: may the caller keep a cache of m blocks of o? */
static int check_cache(const struct session *s, const struct object *o, uint64_t m,
		       struct errbuf *e)
{
	uint64_t slots = lease_page_slots(&s->lease, o), quota = o->u.pool.cfg->quota;

	if (m == 0)
		return 0;
	if (slots == 0)
		return errbuf_set(e, -EINVAL, "pool '%s' cannot be cached", o->name);
	/* Before the slots, which cache_max keeps within the quota: a cache
	 * over the quota is what the caller must hear about. */
	if (quota > 0 && m > quota)
		return errbuf_set(
		    e, -EDQUOT,
		    "pool '%s': a cache of %llu blocks is over the client quota of %llu", o->name,
		    ull(m), ull(quota));
	if (m > slots)
		return errbuf_set(e, -EINVAL, "pool '%s': a cache of %llu blocks, at most %llu",
				  o->name, ull(m), ull(slots));
	return 0;
}

int ops_pool_alloc(struct ops *op, struct session *s, struct object *o, uint64_t count,
		   bool contiguous, uint64_t *offsets, struct errbuf *e)
{
	uint64_t leased;

	return ops_pool_alloc_lease(op, s, o, count, contiguous, 0, 0, offsets, &leased, e);
}

int ops_pool_alloc_lease(struct ops *op, struct session *s, struct object *o, uint64_t count,
			 bool contiguous, uint64_t lease, uint64_t cache, uint64_t *offsets,
			 uint64_t *leased, struct errbuf *e)
{
	int rc = session_check_access(s, o, e);

	*leased = 0;
	if (rc == 0 && contiguous && lease > 0)
		rc = errbuf_set(e, -EINVAL, "pool '%s': a lease does not go with a contiguous run",
				o->name);
	if (rc == 0)
		rc = check_cache(s, o, cache, e);
	if (rc == 0)
		rc = pool_take(op, s, o, count, contiguous, offsets, e);
	if (rc < 0 || lease == 0)
		return rc;
	/* Best effort, and never from others' caches: what is free beyond
	 * the reserve, within the bounds (lease_grantable). */
	lease = lease_grantable(op->d, s, o, count, lease);
	if (lease == 0 || holds_reserve(&op->d->holds, (uint32_t) lease) < 0 ||
	    sys_mem_blocks_alloc(&o->u.pool.mb, lease, op->ptrs) < 0)
		return 0;
	hold_blocks(op, s, o, lease, offsets + count);
	*leased = lease;
	return 0;
}

int ops_group_alloc(struct ops *op, struct session *s, struct object *o, uint64_t hint,
		    uint64_t count, uint64_t want, uint64_t *offsets, struct object **chosen,
		    struct errbuf *e)
{
	struct group *g = &o->u.group;
	struct allocatord_choice_cfg cfg = {
	    .hint = hint,
	    .count = want > count ? want : count,
	    .uid = s->uid,
	    .gid = s->gid,
	    .pid = s->pid,
	    .state = g->choice.state,
	};
	sys_mem_blocks_t *mb;
	int rc;

	*chosen = NULL;
	rc = session_check_access(s, o, e);
	if (rc < 0 || count == 0)
		return rc;
	mb = g->mmb.choice_fn(&g->mmb, &cfg);
	if (mb == NULL)
		return errbuf_set(e, -EINVAL,
				  "group '%s': choice function '%s' chose no pool for cfg %llu",
				  o->name, g->choice.desc->name, ull(hint));
	for (size_t i = 0; i < g->mmb.num_allocators && *chosen == NULL; i++)
		if (mb == &g->members[i]->u.pool.mb)
			*chosen = g->members[i];
	if (*chosen == NULL) {
		log_error("group '%s': choice function '%s' returned a pool outside the group",
			  o->name, g->choice.desc->name);
		return errbuf_set(e, -EINVAL,
				  "group '%s': choice function '%s' returned a foreign pool",
				  o->name, g->choice.desc->name);
	}
	rc = pool_take(op, s, *chosen, count, false, offsets, e);
	if (rc == -ENOMEM)
		g->failed++;
	return rc;
}

int ops_heap_alloc(struct ops *op, struct session *s, struct object *o, uint64_t size,
		   uint64_t align, uint64_t *offset, uint64_t *usable, struct errbuf *e)
{
	struct heap *h = &o->u.heap;
	uint64_t granule = h->cfg->granule;
	struct unit_ref u;
	struct tlsf_stats st;
	uint64_t rel;
	uint32_t id;
	int rc;

	rc = session_check_access(s, o, e);
	if (rc < 0)
		return rc;
	if (size == 0)
		return errbuf_set(e, -EINVAL, "heap '%s': size 0", o->name);
	if (align == 0)
		align = granule;
	if ((align & (align - 1)) != 0)
		return errbuf_set(e, -EINVAL, "heap '%s': align %llu is not a power of two",
				  o->name, ull(align));
	/* TLSF aligns within the heap: that is alignment in the region only
	 * up to what the heap's offset is a multiple of (see wire_heap_align). */
	if (o->offset % align != 0)
		return errbuf_set(
		    e, -EINVAL,
		    "heap '%s': align %llu is more than its offsets can be aligned to "
		    "(%llu)",
		    o->name, ull(align), ull(o->offset & -o->offset));
	/* Sizes over the heap cannot fit; tlsf_alloc says so without overflow. */
	if (size <= o->size) {
		rc = check_quota(s, o, (size + granule - 1) & ~(granule - 1), e);
		if (rc < 0)
			return rc;
	}
	rc = hold_room(s, o, 1, e);
	if (rc < 0)
		return rc;
	rc = tlsf_alloc(h->tlsf, size, align, &rel);
	if (rc == 0 && (rc = reserve_holds(op, 1, e)) < 0) {
		tlsf_free(h->tlsf, rel);
		return rc;
	}
	if (rc < 0) {
		tlsf_get_stats(h->tlsf, &st);
		if (rc == -ENOMEM)
			return errbuf_set(e, rc,
					  "heap '%s': no room for %llu bytes aligned to %llu (%llu "
					  "free, largest free block >= %llu)",
					  o->name, ull(size), ull(align), ull(st.free),
					  ull(st.largest_free));
		return errbuf_set(e, rc, "heap '%s': %s", o->name, strerror(-rc));
	}
	tlsf_id_of(h->tlsf, rel, &id);
	u = (struct unit_ref){.o = o,
			      .unit = (uint32_t) (rel >> h->granule_shift),
			      .head = &h->holders[id],
			      .amount = tlsf_usable_size(h->tlsf, rel)};
	hold_take(op, s, &u);
	*offset = o->offset + rel;
	*usable = u.amount;
	return 0;
}

/* The blocks [first, first + run) of the pool that named offset off names. */
static int resolve_run(struct object *named, uint64_t off, uint64_t run, uint64_t n,
		       struct unit_ref *first, struct errbuf *e)
{
	int rc;

	if (named->kind == OBJ_HEAP)
		return errbuf_set(e, -EINVAL, "heap '%s': a run applies to pool blocks only",
				  named->name);
	if (n != 1)
		return errbuf_set(e, -EINVAL, "%s '%s': a run takes exactly one offset, got %llu",
				  object_kind_name(named->kind), named->name, ull(n));
	rc = resolve(named, off, first, e);
	if (rc < 0)
		return rc;
	if (run > pool_blocks(first->o) - first->unit)
		return errbuf_set(e, -EFAULT,
				  "pool '%s': a run of %llu blocks from 0x%llx passes its end",
				  first->o->name, ull(run), ull(off));
	return 0;
}

static int not_allocated(struct errbuf *e, const struct unit_ref *u, uint64_t off)
{
	return errbuf_set(e, -EFAULT, "%s '%s': offset 0x%llx is not allocated",
			  object_kind_name(u->o->kind), u->o->name, ull(off));
}

/* The caller's hold on unit u (at region offset off) into *h: 0, -EFAULT if
 * nobody holds u (not allocated), -EPERM if only others do. */
static int own_hold(struct ops *op, const struct session *s, const struct unit_ref *u, uint64_t off,
		    uint32_t *h, struct errbuf *e)
{
	if (*u->head == HOLD_NIL)
		return not_allocated(e, u, off);
	*h = holds_find(&op->d->holds, *u->head, s->slot);
	if (*h == HOLD_NIL)
		return errbuf_set(e, -EPERM, "%s '%s': you do not hold offset 0x%llx",
				  object_kind_name(u->o->kind), u->o->name, ull(off));
	return 0;
}

/* May the caller take a hold on u: it is allocated (-EFAULT) and not held by
 * the caller yet (-EALREADY)? */
static int can_retain(struct ops *op, const struct session *s, const struct unit_ref *u,
		      uint64_t off, struct errbuf *e)
{
	if (*u->head == HOLD_NIL)
		return not_allocated(e, u, off);
	if (holds_find(&op->d->holds, *u->head, s->slot) != HOLD_NIL)
		return errbuf_set(e, -EALREADY, "%s '%s': you already hold offset 0x%llx",
				  object_kind_name(u->o->kind), u->o->name, ull(off));
	return 0;
}

static int free_run(struct ops *op, struct session *s, struct object *named, uint64_t off,
		    uint64_t run, uint64_t n, struct errbuf *e)
{
	struct unit_ref first, u;
	uint64_t bs;
	uint32_t h;
	int rc;

	rc = resolve_run(named, off, run, n, &first, e);
	if (rc < 0)
		return rc;
	bs = pool_block_size(first.o);
	/* Check every block before changing any: a run has no duplicates, so
	 * validation alone makes the free all or nothing. */
	for (uint64_t i = 0; i < run; i++) {
		u = pool_unit(first.o, first.unit + i);
		rc = own_hold(op, s, &u, off + i * bs, &h, e);
		if (rc < 0)
			return rc;
	}
	for (uint64_t i = 0; i < run; i++) {
		u = pool_unit(first.o, first.unit + i);
		drop_block(op, s, u.o, u.unit, holds_find(&op->d->holds, *u.head, s->slot));
	}
	return 0;
}

int ops_free(struct ops *op, struct session *s, struct object *o, const uint64_t *offsets,
	     uint64_t n, uint64_t run, struct errbuf *e)
{
	struct unit_ref *u;
	uint64_t i;
	int rc;

	rc = session_check_access(s, o, e);
	if (rc < 0)
		return rc;
	if (run > 0)
		return free_run(op, s, o, n > 0 ? offsets[0] : 0, run, n, e);
	rc = check_batch(op, o, n, e);
	if (rc < 0)
		return rc;
	/* Drop the caller's holds one by one, undoing on the first bad offset.
	 * A unit whose last hold goes is marked UNIT_PENDING, not released, so
	 * that a repeated offset is recognised and the undo is exact; the
	 * releases happen only once every offset has passed. */
	for (i = 0; i < n; i++) {
		uint32_t h;

		u = &op->undo[i];
		rc = resolve(o, offsets[i], u, e);
		if (rc < 0)
			goto undo;
		if (*u->head == UNIT_PENDING) {
			rc = errbuf_set(e, -EINVAL, "%s '%s': offset 0x%llx appears twice",
					object_kind_name(o->kind), o->name, ull(offsets[i]));
			goto undo;
		}
		rc = own_hold(op, s, u, offsets[i], &h, e);
		if (rc < 0)
			goto undo;
		hold_drop(op, s, u, h);
		if (*u->head == HOLD_NIL)
			*u->head = UNIT_PENDING;
	}
	for (i = 0; i < n; i++) {
		u = &op->undo[i];
		if (*u->head == UNIT_PENDING) {
			*u->head = HOLD_NIL;
			unit_release(u->o, u->unit);
		}
	}
	return 0;

undo:
	while (i-- > 0) {
		u = &op->undo[i];
		if (*u->head == UNIT_PENDING)
			*u->head = HOLD_NIL;
		hold_take(op, s, u); /* reuses an entry just freed */
	}
	return rc;
}

static int retain_run(struct ops *op, struct session *s, struct object *named, uint64_t off,
		      uint64_t run, uint64_t n, struct errbuf *e)
{
	struct unit_ref first, u;
	uint64_t bs;
	int rc;

	rc = resolve_run(named, off, run, n, &first, e);
	if (rc < 0)
		return rc;
	bs = pool_block_size(first.o);
	for (uint64_t i = 0; i < run; i++) {
		u = pool_unit(first.o, first.unit + i);
		rc = can_retain(op, s, &u, off + i * bs, e);
		if (rc < 0)
			return rc;
	}
	rc = check_quota(s, first.o, run, e);
	if (rc == 0)
		rc = hold_room(s, first.o, run, e);
	if (rc == 0)
		rc = reserve_holds(op, run, e);
	if (rc < 0)
		return rc;
	for (uint64_t i = 0; i < run; i++) {
		u = pool_unit(first.o, first.unit + i);
		hold_take(op, s, &u);
	}
	return 0;
}

int ops_retain(struct ops *op, struct session *s, struct object *o, const uint64_t *offsets,
	       uint64_t n, uint64_t run, struct errbuf *e)
{
	struct unit_ref *u;
	uint64_t i;
	int rc;

	rc = session_check_access(s, o, e);
	if (rc < 0)
		return rc;
	if (run > 0)
		return retain_run(op, s, o, n > 0 ? offsets[0] : 0, run, n, e);
	rc = check_batch(op, o, n, e);
	if (rc < 0)
		return rc;
	/* Take holds one by one, each checked before the table grows for it
	 * (so that offsets that fail cost no memory); a repeated offset finds
	 * the hold just taken. */
	for (i = 0; i < n; i++) {
		u = &op->undo[i];
		rc = resolve(o, offsets[i], u, e);
		if (rc < 0)
			goto undo;
		rc = can_retain(op, s, u, offsets[i], e);
		if (rc == 0)
			rc = check_quota(s, u->o, u->amount, e);
		if (rc == 0)
			rc = hold_room(s, u->o, 1, e);
		if (rc == 0)
			rc = reserve_holds(op, 1, e);
		if (rc < 0)
			goto undo;
		hold_take(op, s, u);
	}
	return 0;

undo:
	while (i-- > 0) {
		u = &op->undo[i];
		hold_drop(op, s, u, holds_find(&op->d->holds, *u->head, s->slot));
	}
	return rc;
}

/* Drop every hold of s, releasing units nobody holds any more. Returns the
 * number of holds dropped. O(holds of s * holders per unit). */
static uint64_t reclaim(struct ops *op, struct session *s)
{
	struct daemon *d = op->d;
	uint64_t n = 0;

	while (s->hold_head != HOLD_NIL) {
		const struct hold *hd = &d->holds.v[s->hold_head];
		struct object *o = d->table.objects[hd->obj];
		uint32_t unit = hd->unit;
		uint32_t *head;

		if (o->kind == OBJ_POOL) {
			head = &o->u.pool.holders[unit];
		} else {
			uint32_t id = 0;

			/* A held heap unit is a live allocation: found. */
			tlsf_id_of(o->u.heap.tlsf, (uint64_t) unit << o->u.heap.granule_shift, &id);
			head = &o->u.heap.holders[id];
		}
		holds_remove(&d->holds, s->hold_head, head, &s->hold_head);
		s->tenant->holds[o->region->index]--;
		o->region->holds--;
		if (o->kind == OBJ_POOL)
			lease_bit_update(&d->holds, o, unit);
		if (*head == HOLD_NIL)
			unit_release(o, unit);
		n++;
	}
	/* Amounts by object at once: a heap unit's usable size is gone with
	 * its release. */
	for (size_t i = 0; i < d->table.nobjects; i++)
		s->tenant->held[i] -= s->held[i].amount;
	memset(s->held, 0, d->table.nobjects * sizeof(*s->held));
	d->reclaimed += n;
	return n;
}

void ops_end_session(struct ops *op, struct session *s)
{
	uint64_t n;

	/* From here a takeover completes the end: the drops are not logged. */
	ledger_end_begin(&op->d->books, s->slot);
	n = reclaim(op, s);
	ledger_end_done(&op->d->books, s->slot);

	if (n > 0)
		log_info("client %llu (pid %d, %s) gone: reclaimed %llu hold%s",
			 (unsigned long long) s->id, (int) s->pid, s->comm, (unsigned long long) n,
			 log_s(n));
	else
		log_debug("client %llu (pid %d, %s) gone", (unsigned long long) s->id, (int) s->pid,
			  s->comm);
	daemon_session_release(op->d, s);
}
