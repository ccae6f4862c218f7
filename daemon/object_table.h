/*
 * object_table: the live objects built from the config -- regions, and in them
 * pools (core mem_blocks), heaps (core tlsf) and groups (core multi mem_blocks
 * with a choice function) -- found by name.
 *
 * Every allocation unit has a holder-list head (see holds.h) kept here in a
 * plain array per object: pools index it by block, heaps by tlsf id. A head
 * is HOLD_NIL iff the unit is free in its allocator (UNIT_PENDING only for
 * the length of one free request, see ops.c).
 */
#ifndef ALLOCATORD_DAEMON_OBJECT_TABLE_H
#define ALLOCATORD_DAEMON_OBJECT_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/mem_blocks.h"
#include "core/tlsf.h"
#include "daemon/choice.h"
#include "daemon/config.h"
#include "daemon/region.h"
#include "proto/wire.h"

/* Numbered as on the wire, so that a kind goes out as it is. */
enum obj_kind { OBJ_POOL = WIRE_KIND_POOL, OBJ_HEAP = WIRE_KIND_HEAP, OBJ_GROUP = WIRE_KIND_GROUP };

/* "pool", "heap" or "group", as messages name a kind. */
static inline const char *object_kind_name(enum obj_kind k)
{
	return wire_kind_name(k);
}

struct pool {
	sys_mem_blocks_t mb;
	const struct cfg_pool *cfg;
	uint32_t *holders;   /* per block */
	uint64_t *bits;      /* its words in the region's shared bits (lease.h),
			      * or private ones when own_bits */
	bool own_bits;       /* added by a reload past the region's sealed
			      * shared bits: not cacheable (object_table.c) */
	uint64_t *marks;     /* a bit per block, all 0 between calls: lease.c's
			      * scratch for take-back (no malloc then) */
	uint64_t failed;     /* allocations refused for lack of blocks */
	uint64_t taken_back; /* cached blocks taken back from clients */
};

struct heap {
	tlsf_t *tlsf;
	const struct cfg_heap *cfg;
	uint32_t *holders; /* per tlsf id */
	unsigned granule_shift;
};

struct object;

struct group {
	sys_multi_mem_blocks_t mmb;
	const struct cfg_group *cfg;
	struct object **members; /* in config order, as in mmb.allocators */
	struct choice choice;
	uint64_t failed;
};

struct object {
	char name[WIRE_NAME_MAX + 1];
	bool gone; /* removed by a reload: a tombstone whose name no
		    * longer resolves and whose index is never reused */
	enum obj_kind kind;
	uint32_t index; /* in object_table.objects */
	struct region *region;
	uint64_t offset; /* start in the region; groups: 0 */
	uint64_t size;   /* bytes spanned; groups: 0 */
	union {
		struct pool pool;
		struct heap heap;
		struct group group;
	} u;
};

struct object_table {
	struct region **regions; /* by index; each allocated on its own */
	size_t nregions;
	struct object **objects; /* by index: pools and heaps by region, then
				  * groups, then what reloads appended; each
				  * allocated on its own, never moved */
	size_t nobjects;
	struct object **by_name; /* sorted by name */
	size_t nby_name;
	struct fdstore *fs; /* where region memfds go (region_create), or NULL */
};

/*
 * Build everything the config describes: create the regions (memfds), the
 * allocators, the per-unit holder heads, and open each group's choice
 * function. With dry_run the regions are only address-space reservations
 * (no memfd, nothing reserved): --check-config builds everything else for
 * real, plug-ins included. Returns 0, or a negative errno with a message in
 * e (naming file and line for choice errors); on error nothing is left.
 */
int object_table_build(struct object_table *l, const struct config *c, bool dry_run,
		       struct fdstore *fs, struct errbuf *e);

/*
 * What a reload adds: build in *add the regions, pools, heaps and groups of
 * c that l has no object (region) of that name for, numbered after l's, as
 * object_table_build does; new pools and heaps of l's regions live in them
 * (c's layout must leave l's objects where they are: reload_check saw to
 * it). Nothing in l changes. 0, or a negative errno with a message in e
 * and add empty (-ENOSPC past WIRE_MAX_REGIONS regions).
 */
int object_table_stage(const struct object_table *l, const struct config *c, bool dry_run,
		       struct object_table *add, struct errbuf *e);

/* Drop what object_table_stage built in add: the regions it made leave
 * l's fd store (they were put there when created; those taken over stay),
 * then add is destroyed. */
void object_table_cancel(const struct object_table *l, struct object_table *add);

/* Move what add holds to the end of l; add becomes empty. 0, or -ENOMEM
 * with l and add as they were. */
int object_table_append(struct object_table *l, struct object_table *add);

/* Is anything of o held? A pool's block, a heap's allocation, a block of
 * one of a group's pools (leased cached blocks are held too). */
bool object_in_use(const struct object *o);

/* Take o, which nothing holds, out of l for good: its name no longer
 * resolves, its index stays a tombstone (cfg NULL, a group's choice
 * function closed) so that nothing renumbers. O(objects log objects). */
void object_table_remove(struct object_table *l, struct object *o);

/* The same for region r, whose objects were removed and which no session
 * may use: its memfd and mappings are released now, and taken out of l's
 * fd store. */
void object_table_remove_region(struct object_table *l, struct region *r);

/*
 * A takeover's tombstones (state.h): an object or region the books know by
 * its index but the configuration no longer has. Like a reload's: gone,
 * cfg NULL, no allocator (everything zero, which object_table_destroy
 * and every walk over removed objects take), no memfd. o's region is r
 * (the pools' for a group). NULL when out of memory; free() one that
 * object_table_reorder did not adopt.
 */
struct object *object_table_tombstone(enum obj_kind kind, const char *name, struct region *r);
struct region *object_table_tombstone_region(void);

/*
 * Renumber l: regions[i] (objects[i]) becomes index i. Each region and
 * object of l must be in the arrays exactly once; the others must be
 * tombstones, which l adopts. Pointers stay (groups' members, choice
 * functions, shared bits), indices change (o->index, r->index: sessions'
 * region masks are made afterwards), by_name is rebuilt. On success l owns
 * both arrays and its old ones are freed; -EINVAL (not such a reordering)
 * or -ENOMEM leave l as it was. O(objects log objects).
 */
int object_table_reorder(struct object_table *l, struct region **regions, size_t nregions,
			 struct object **objects, size_t nobjects);

/* Release everything; safe on a zeroed struct. On a staged table, only
 * what was staged (not the regions of the table it was staged against). */
void object_table_destroy(struct object_table *l);

/* The object called name, or NULL. O(log objects). */
struct object *object_table_find(const struct object_table *l, const char *name);

/* Pool geometry helpers. */
static inline uint64_t pool_block_size(const struct object *o)
{
	return o->u.pool.mb.info.blk_sz;
}

static inline uint64_t pool_blocks(const struct object *o)
{
	return o->u.pool.mb.info.num_blocks;
}

static inline uint64_t pool_used(const struct object *o)
{
	return pool_blocks(o) - sys_mem_blocks_free_count(&o->u.pool.mb);
}

/* Group totals: blocks summed over the members; *bs the members' block
 * size when they all agree, else 0. */
void group_sums(const struct object *o, uint64_t *total, uint64_t *used, uint64_t *bs);

#endif
