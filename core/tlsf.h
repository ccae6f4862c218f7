/*
 * tlsf: a Two-Level Segregated Fit heap over offsets, metadata out of band.
 *
 * The heap manages the range [0, size) of some memory it never sees: it deals
 * in offsets only and never reads or writes the managed bytes, so clients may
 * scribble on them without changing any decision here.
 *
 * Units. All sizes are kept in granules (a power of two, the smallest unit
 * handed out and the minimal alignment of every offset). The usable size of
 * an allocation is the request rounded up to the granule -- never to its size
 * class -- and that rounded size is what the block records.
 *
 * Lists. First level by the highest set bit of the size in granules, second
 * level 32 sub-lists per first level (sizes below 32 granules each have an
 * exact list). Allocation rounds the request up to the next class boundary so
 * that any block of a non-empty list found by two ffs() fits (O(1)); if that
 * finds nothing it looks once at the head of the exact class of the request,
 * so the whole free heap can be asked for and got. Free coalesces with both
 * physical neighbours in O(1).
 *
 * Records. Every physical block (free or used) has a 24-byte record in a fixed
 * array of 2 * max_allocs + 1 (no two free blocks are neighbours, so blocks
 * <= 2 * live + 1), recycled through a free-index stack. The record of a live
 * allocation is found from its offset through a bucketised hash (tlsf_hash.h):
 * buckets of one cache line, 12 entries each (a one-byte fingerprint and the
 * record, whose offset confirms a match), compared all at once; an entry
 * whose home bucket is full goes to the next bucket with room, and a count per
 * bucket of entries that passed it lets lookups stop early and removals need
 * no tombstones. At most 1/3 full: expected O(1) buckets per lookup, insert
 * and remove. A start map (one word per granule) was rejected: it costs memory
 * in proportion to the heap, 6 % of it at 64-byte granules.
 *
 * Memory bound, whatever the heap size: at most 64 bytes per allocation slot
 * (max_allocs) plus about 4.5 KiB of list heads and bitmaps; see
 * tlsf_metadata_bytes().
 *
 * Limits: size / granule in [1, 2^32 - 1]; max_allocs in [1, 2^30].
 * Not thread-safe: the caller serialises. Only tlsf_create allocates.
 */
#ifndef ALLOCATORD_CORE_TLSF_H
#define ALLOCATORD_CORE_TLSF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tlsf tlsf_t;

struct tlsf_stats {
	uint64_t size;         /* bytes managed (size rounded down to the granule) */
	uint64_t used;         /* bytes in live allocations (usable sizes) */
	uint64_t free;         /* size - used, including alignment gaps */
	uint64_t live;         /* live allocations */
	uint64_t free_blocks;  /* free physical blocks */
	uint64_t peak_used;    /* high-water mark of used */
	uint64_t largest_free; /* a lower bound on the largest free block, exact
				* when the highest non-empty list has one block */
	uint64_t failed;       /* allocations refused with -ENOMEM */
};

/*
 * A heap over [0, size) handing out multiples of granule bytes, with room for
 * max_allocs live allocations. size is rounded down to the granule.
 * Returns NULL iff granule is not a power of two, the rounded size is 0 or over
 * 2^32 - 1 granules, max_allocs is 0 or over 2^30 (errno EINVAL), or the
 * metadata cannot be allocated (errno ENOMEM). O(max_allocs) to initialise.
 */
tlsf_t *tlsf_create(uint64_t size, uint32_t granule, uint32_t max_allocs);

/* Release the metadata. NULL: no-op. */
void tlsf_destroy(tlsf_t *t);

/*
 * Allocate size bytes at an offset that is a multiple of align (and of the
 * granule), into *offset. The usable size is size rounded up to the granule.
 * Returns 0; -EINVAL if t or offset is NULL, size is 0 or align is not a power
 * of two (0 included); -ENOMEM if no free block fits or max_allocs are live
 * (counted in stats.failed). On error nothing changes.
 * O(1); with align > granule the request grows by align - granule.
 */
int tlsf_alloc(tlsf_t *t, uint64_t size, uint64_t align, uint64_t *offset);

/*
 * Free the live allocation that starts at offset, merging with free neighbours.
 * Returns 0, or -EFAULT if offset is not the start of a live allocation
 * (unaligned, out of range, inside a block, already free; t NULL too).
 * On error nothing changes. O(1).
 */
int tlsf_free(tlsf_t *t, uint64_t offset);

/* Usable size of the live allocation at offset, 0 if there is none. O(1). */
uint64_t tlsf_usable_size(const tlsf_t *t, uint64_t offset);

/*
 * A stable id in [0, tlsf_id_limit(t)) for the live allocation at offset,
 * unique among live allocations, so that a caller can keep its own per-
 * allocation data in a plain array. Returns 0 or -EFAULT as tlsf_free. O(1).
 */
int tlsf_id_of(const tlsf_t *t, uint64_t offset, uint32_t *id);
uint32_t tlsf_id_limit(const tlsf_t *t);

/* One live allocation for tlsf_rebuild: its offset and usable size, in bytes. */
struct tlsf_span {
	uint64_t offset;
	uint64_t size;
};

/*
 * Make exactly live[0..n) the heap's allocations, and everything between them
 * free: for a process that takes over the books of another (which kept each
 * allocation's offset and usable size, not the heap's metadata).
 * live must be sorted by offset, each span a non-zero multiple of the granule
 * at an offset that is one, inside the heap and clear of the next span.
 * The free ranges come out merged and listed, each list with its largest
 * block at its head, so stats.largest_free is exact afterwards. used, live
 * and free_blocks count the new state; peak_used is raised to used if below;
 * failed is kept. Ids (tlsf_id_of) are fresh: ask for them afterwards.
 * The heap may differ from the one that made the spans in the order of the
 * blocks in a list (that order is history, which the spans do not carry),
 * so later allocations may be placed differently; the free ranges are the
 * same.
 * Returns 0; -EINVAL (nothing changes) if t is NULL, live is NULL with n > 0,
 * the heap has a live allocation, n is over max_allocs, or a span is
 * unaligned, empty, out of range, out of order or overlaps the one before.
 * O(n): one pass to check, one to build; the hash is expected O(1) per span.
 */
int tlsf_rebuild(tlsf_t *t, const struct tlsf_span *live, size_t n);

/* Counters, all kept up to date by alloc and free. O(1). */
void tlsf_get_stats(const tlsf_t *t, struct tlsf_stats *stats);

/* Bytes of metadata this heap holds (records, hash, lists). O(1). */
uint64_t tlsf_metadata_bytes(const tlsf_t *t);

/*
 * 0 iff every invariant holds: the physical chain covers [0, size) in order
 * with no gap; no two free blocks are neighbours; every free block is in the
 * list of its class and every listed block is free; the bitmaps match the
 * lists; every live block is found by its offset in the hash and the hash
 * holds nothing else; the record stack accounts for every record; the stats
 * counters match a recount. Otherwise a negative value (-EUCLEAN).
 * For tests and fuzzing. O(blocks + max_allocs).
 */
int tlsf_check(const tlsf_t *t);

#ifdef __cplusplus
}
#endif

#endif
