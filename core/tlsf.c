/*
 * tlsf: Two-Level Segregated Fit over offsets; see tlsf.h for the contract.
 *
 * Every quantity below is in granules unless its name says bytes. A heap has
 * at most 2^32 - 1 granules, so offsets and sizes fit in uint32_t, and any sum
 * of an offset and a size that could pass 2^32 - 1 is done in uint64_t.
 *
 * Size classes. A size s >= 1 maps to one flat class index
 *   idx = k * 32 + (s >> k),  k = max(msb(s), 5) - 5,
 * i.e. first level fl = idx / 32 and second level sl = idx % 32: sizes below
 * 32 have one class each (fl 0, sl s), larger sizes fl = msb(s) - 4 and the
 * five bits below the msb as sl. Sizes up to 2^32 - 1 give fl <= 27.
 *
 * Records. recs[1 .. 2 * max_allocs + 1] are the block records; every
 * physical block owns exactly one. recs[0] is a sentinel: NIL is 0, so that a
 * link update through a NIL link lands in the sentinel instead of needing a
 * branch (its link fields are garbage and never read through a NIL link;
 * free sets its prev_free to REC_USED before asking whether a neighbour,
 * maybe NIL, is free).
 * A block record is in one of three states, told by prev_free:
 *   REC_USED    a live allocation (next_free unused),
 *   REC_UNUSED  owns no block; next_free threads the stack of such records,
 *   otherwise   a free block, in the list of its class (prev_free/next_free).
 * Records at or above `fresh` have never been used and are on no stack, so
 * creating a heap touches neither the records nor the hash: calloc'ed pages
 * stay untouched until needed.
 * Record FIRST always holds the block at offset 0: a split keeps the front
 * piece in the split record and a merge keeps the lower record.
 *
 * Hash (tlsf_hash.h): offset of a live allocation -> its record. n =
 * ceil(max_allocs / 4) buckets of one cache line, each 12 lanes of (one-byte
 * fingerprint, record) and an overflow count, so that at most 1/3 of the
 * lanes are ever in use. An entry goes to the first empty lane of its home
 * bucket, or of the first bucket after it (wrapping) that has one. A lookup
 * compares the 12 fingerprints of a bucket at once (SSE2), takes a lane from
 * a bit scan and checks the offset in that lane's record, which it reads
 * anyway; another lane of the bucket matches by chance about once in 64
 * lookups at the maximum load. Whole 32-bit keys would fit only 7 to a line:
 * the same memory would then be up to 4/7 full, and about one insert in ten
 * would find its home bucket full and take a probe that mispredicts.
 * Invariant: the overflow count of bucket x is the number of entries whose
 * probe path runs through x, i.e. whose home is x or before it and which are
 * stored after it. So every bucket from an entry's home up to (not including)
 * its bucket has a nonzero count, and a lookup stops at the first bucket that
 * holds the key or has a zero count (or after n buckets: after removals, the
 * counts can be nonzero all round). Insert increments the count of each full
 * bucket it passes; remove empties the lane and decrements the counts from
 * the entry's home up to its bucket: counts stay exact, with no tombstones
 * and no rehash. Expected cost O(1): the extra buckets a lookup or insert
 * visits are the entry's displacement, 0 unless its home bucket had 12
 * entries (Poisson mean 4 in 12 lanes at the maximum load: 1 in 1,000).
 * Why fingerprints in buckets: a lookup has the same few branches whatever
 * the displacement, where a probe loop over single slots exits after an
 * unpredictable number of them and mispredicts. The price is latency: a
 * lookup's record comes from a bit scan of compare results, so a free right
 * after the alloc of the same block waits for it (bench_core's pair times).
 *
 * Memory: records 24 * (2m + 2), hash 64 * ceil(m / 4) <= 16m + 48, plus 64
 * bytes to align the hash and the struct: within 64 bytes per max_allocs
 * plus about 4.5 KiB.
 */
#include "core/tlsf.h"
#include "core/tlsf_hash.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#define FL_COUNT         28 /* fl of 2^32 - 1 granules is 27 */
#define SL_COUNT         32
#define NIL              0u
#define FIRST            1u
#define REC_USED         UINT32_MAX
#define REC_UNUSED       (UINT32_MAX - 1)
#define MAX_ALLOCS_LIMIT (UINT32_C(1) << 30)

struct tlsf_rec {
	uint32_t offset;
	uint32_t size;
	uint32_t prev_phys; /* NIL for the block at offset 0 */
	uint32_t next_phys; /* NIL for the last block */
	uint32_t prev_free; /* REC_USED, REC_UNUSED, or free-list link */
	uint32_t next_free; /* free-list link, or record stack link */
};

static inline uint32_t rec_offset(const struct tlsf_rec *recs, uint32_t r)
{
	return recs[r].offset;
}

struct tlsf {
	struct tlsf_rec *recs;
	struct tlsf_hash hash;
	uint32_t gshift;     /* log2(granule) */
	uint32_t fl_bitmap;  /* bit fl set iff sl_bitmap[fl] != 0 */
	uint64_t gmask;      /* granule - 1 */
	uint64_t size_bytes; /* size << gshift */
	uint64_t size;       /* granules */
	uint32_t max_allocs;
	uint32_t nrecs; /* block records: 2 * max_allocs + 1 */
	uint32_t fresh; /* recs[fresh .. nrecs] never used */
	uint32_t stack; /* top of the unused-record stack, NIL if empty */
	uint64_t used;  /* granules in live allocations, as peak_used */
	uint64_t peak_used;
	uint64_t live;
	uint64_t free_blocks;
	uint64_t failed;
	/* One extra, always-zero word: a search that rounds past the largest
	 * class reads sl_bitmap[FL_COUNT] and finds nothing, without a branch. */
	uint32_t sl_bitmap[FL_COUNT + 1];
	uint32_t heads[FL_COUNT * SL_COUNT]; /* by class index, NIL if empty */
};

static inline unsigned msb64(uint64_t x)
{
	return 63u - (unsigned) __builtin_clzll(x);
}

/* Flat class index of size s (s < 2^32; 0 gives 0, below every class). */
static inline uint32_t class_of(uint64_t s)
{
	unsigned k = msb64(s | 32) - 5;

	return (uint32_t) (k * SL_COUNT + (s >> k));
}

/* The lowest class whose every block holds at least s >= 1 granules: the
 * class after that of s - 1, whose lower bound is at most s - 1. Class
 * indices are contiguous across first levels (sl 31 of one is followed by
 * sl 0 of the next, index + 1), and class_of(0) is 0, so this holds for
 * every s, with one bit scan. */
static inline uint32_t search_class_of(uint64_t s)
{
	return class_of(s - 1) + 1;
}

/* Never fails: blocks <= 2 * live + 1 <= nrecs, since no two free blocks are
 * neighbours and alloc refuses before live would pass max_allocs. */
static inline uint32_t rec_get(struct tlsf *t)
{
	uint32_t r = t->stack;

	if (r == NIL)
		return t->fresh++;
	t->stack = t->recs[r].next_free;
	return r;
}

static inline void rec_put(struct tlsf *t, uint32_t r)
{
	t->recs[r].prev_free = REC_UNUSED;
	t->recs[r].next_free = t->stack;
	t->stack = r;
}

/* Push free block r on list idx, the list of its class. Branch-free: an empty
 * list's NIL head takes the back link in the sentinel, and bits already set
 * stay. */
static inline void list_insert_at(struct tlsf *t, uint32_t r, uint32_t idx)
{
	struct tlsf_rec *recs = t->recs;
	uint32_t head = t->heads[idx];

	recs[r].prev_free = NIL;
	recs[r].next_free = head;
	recs[head].prev_free = r;
	t->heads[idx] = r;
	t->sl_bitmap[idx / SL_COUNT] |= UINT32_C(1) << (idx % SL_COUNT);
	t->fl_bitmap |= UINT32_C(1) << (idx / SL_COUNT);
}

static inline void list_insert(struct tlsf *t, uint32_t r)
{
	list_insert_at(t, r, class_of(t->recs[r].size));
}

/* After list idx lost a block, now headed by head: clear its bit if empty,
 * and its first level's if that empties too. */
static inline void list_bits_update(struct tlsf *t, uint32_t idx, uint32_t head)
{
	uint32_t fl = idx / SL_COUNT;
	uint32_t sl_map = t->sl_bitmap[fl] & ~((uint32_t) (head == NIL) << (idx % SL_COUNT));

	t->sl_bitmap[fl] = sl_map;
	t->fl_bitmap &= ~((uint32_t) (sl_map == 0) << fl);
}

/* Pop r, the head of list idx. */
static inline void list_pop(struct tlsf *t, uint32_t r, uint32_t idx)
{
	uint32_t next = t->recs[r].next_free;

	t->recs[next].prev_free = NIL;
	t->heads[idx] = next;
	list_bits_update(t, idx, next);
}

/* Unlink free block r from the list of its class; branch-free likewise (the
 * head is rewritten with itself unless r was the head). */
static inline void list_remove(struct tlsf *t, uint32_t r)
{
	struct tlsf_rec *recs = t->recs;
	uint32_t prev = recs[r].prev_free;
	uint32_t next = recs[r].next_free;
	uint32_t idx = class_of(recs[r].size);
	uint32_t head = t->heads[idx];

	recs[next].prev_free = prev;
	recs[prev].next_free = next;
	head = prev == NIL ? next : head;
	t->heads[idx] = head;
	list_bits_update(t, idx, head);
}

/*
 * A free block that can hold n granules at an offset aligned to ag, looking
 * for `padded` granules (n plus the worst alignment gap, or the whole heap):
 * first any block of a class at or above the rounded-up class of padded (all
 * fit), then the head of padded's own class if it happens to fit. NIL if none,
 * else the head of list *idx.
 */
static inline uint32_t find_block(const struct tlsf *t, uint64_t padded, uint64_t n, uint64_t ag,
				  uint32_t *idx)
{
	uint32_t i = search_class_of(padded);
	uint32_t fl = i / SL_COUNT;
	uint32_t sl_map = t->sl_bitmap[fl] & (UINT32_MAX << (i % SL_COUNT));
	const struct tlsf_rec *rec;
	uint64_t start;
	uint32_t head;

	if (sl_map == 0) {
		/* fl <= FL_COUNT < 31: the shift is defined. */
		uint32_t fl_map = t->fl_bitmap & (UINT32_MAX << (fl + 1));

		if (fl_map != 0) {
			fl = (uint32_t) __builtin_ctz(fl_map);
			sl_map = t->sl_bitmap[fl];
		}
	}
	if (sl_map != 0) {
		*idx = fl * SL_COUNT + (uint32_t) __builtin_ctz(sl_map);
		return t->heads[*idx];
	}
	*idx = class_of(padded);
	head = t->heads[*idx];
	if (head == NIL)
		return NIL;
	rec = &t->recs[head];
	start = ((uint64_t) rec->offset + ag - 1) & ~(ag - 1);
	return start + n <= (uint64_t) rec->offset + rec->size ? head : NIL;
}

/* The one allocation: the heap, the hash aligned to a cache line, the records. */
static uint64_t heap_bytes(uint32_t nrecs, uint32_t nbuckets)
{
	return sizeof(struct tlsf) + sizeof(struct tlsf_bucket) +
	       (uint64_t) nbuckets * sizeof(struct tlsf_bucket) +
	       ((uint64_t) nrecs + 1) * sizeof(struct tlsf_rec);
}

tlsf_t *tlsf_create(uint64_t size, uint32_t granule, uint32_t max_allocs)
{
	uint32_t gshift, nrecs, nbuckets;
	uint64_t size_g, bytes;
	uintptr_t hash;
	struct tlsf *t;

	if (granule == 0 || (granule & (granule - 1)) != 0 || max_allocs == 0 ||
	    max_allocs > MAX_ALLOCS_LIMIT) {
		errno = EINVAL;
		return NULL;
	}
	gshift = (uint32_t) __builtin_ctz(granule);
	size_g = size >> gshift;
	if (size_g == 0 || size_g > UINT32_MAX) {
		errno = EINVAL;
		return NULL;
	}
	nrecs = 2 * max_allocs + 1;
	nbuckets = max_allocs / 4 + (max_allocs % 4 != 0);
	bytes = heap_bytes(nrecs, nbuckets);
	/* One allocation. Zeroed memory is an empty hash and empty lists. */
	t = bytes <= SIZE_MAX ? calloc(1, (size_t) bytes) : NULL;
	if (t == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	hash = ((uintptr_t) (t + 1) + sizeof(struct tlsf_bucket) - 1) &
	       ~(uintptr_t) (sizeof(struct tlsf_bucket) - 1);
	t->hash.b = (struct tlsf_bucket *) hash;
	t->hash.n = nbuckets;
	t->recs = (struct tlsf_rec *) (t->hash.b + nbuckets);
	t->gshift = gshift;
	t->gmask = granule - 1;
	t->size_bytes = size_g << gshift;
	t->size = size_g;
	t->max_allocs = max_allocs;
	t->nrecs = nrecs;
	t->fresh = FIRST + 1;
	t->recs[FIRST].size = (uint32_t) size_g;
	list_insert(t, FIRST);
	t->free_blocks = 1;
	return t;
}

void tlsf_destroy(tlsf_t *t)
{
	free(t);
}

/*
 * Split free block b (off its list, which must hold n granules at its first
 * ag-aligned offset) at that offset and return the record of the part from
 * there on: free, counted, off any list. The front gap, if any, stays free in
 * b and is listed again: its previous neighbour is used since b was free.
 * Only aligned requests come here, so that carve, on every allocation's path,
 * has no alignment steps (a tenth of an allocation's instructions).
 */
static inline uint32_t split_front(struct tlsf *t, uint32_t b, uint64_t ag)
{
	struct tlsf_rec *recs = t->recs;
	uint32_t o = recs[b].offset;
	uint32_t start = (uint32_t) (((uint64_t) o + ag - 1) & ~(ag - 1));
	uint32_t u;

	if (start == o)
		return b;
	u = rec_get(t);
	recs[u].offset = start;
	recs[u].size = recs[b].size - (start - o);
	recs[u].prev_phys = b;
	recs[u].next_phys = recs[b].next_phys;
	recs[recs[u].next_phys].prev_phys = u;
	recs[b].next_phys = u;
	recs[b].size = start - o;
	list_insert(t, b);
	t->free_blocks++;
	return u;
}

/*
 * Take the first n granules of free block u (which must hold them, and is
 * already off its list) as an allocation, and return u. The tail, if any,
 * becomes a new free block whose next neighbour is used since u was free, so
 * no two free blocks become neighbours.
 */
static inline uint32_t carve(struct tlsf *t, uint32_t u, uint32_t n)
{
	struct tlsf_rec *recs = t->recs;
	uint32_t o = recs[u].offset;
	uint32_t rest = recs[u].size - n;

	t->free_blocks--;
	recs[u].size = n;
	recs[u].prev_free = REC_USED;
	if (rest != 0) {
		uint32_t f = rec_get(t);

		recs[f].offset = o + n;
		recs[f].size = rest;
		recs[f].prev_phys = u;
		recs[f].next_phys = recs[u].next_phys;
		recs[recs[f].next_phys].prev_phys = f;
		recs[u].next_phys = f;
		list_insert(t, f);
		t->free_blocks++;
	}
	return u;
}

int tlsf_alloc(tlsf_t *t, uint64_t size, uint64_t align, uint64_t *offset)
{
	uint64_t n, ag, used;
	uint32_t b, u, idx;

	/* align is 0 or not a power of two iff align - 1 reaches the lowest
	 * set bit of align, where align ^ (align - 1) ends. */
	if (t == NULL || offset == NULL || ((size == 0) | (align - 1 >= (align ^ (align - 1)))))
		return -EINVAL;
	/* size <= size_bytes < 2^63 before rounding: no overflow below. */
	if ((t->live == t->max_allocs) | (size > t->size_bytes))
		goto nomem;
	n = (size + t->gmask) >> t->gshift;
	ag = align >> t->gshift;
	if (ag <= 1) {
		b = find_block(t, n, n, 1, &idx);
		if (b == NIL)
			goto nomem;
		list_pop(t, b, idx);
	} else if (ag < t->size) {
		/* Look for room for the worst gap, ag - 1, or for the whole
		 * heap if that is less: a block of the whole heap starts at 0,
		 * which is aligned. So padded <= size < 2^32. */
		b = find_block(t, n + (ag - 1 < t->size - n ? ag - 1 : t->size - n), n, ag, &idx);
		if (b == NIL)
			goto nomem;
		list_pop(t, b, idx);
		b = split_front(t, b, ag);
	} else {
		/* Only offset 0 is aligned, and record FIRST holds it, maybe
		 * not at the head of its list. */
		if (t->recs[FIRST].prev_free == REC_USED || t->recs[FIRST].size < n)
			goto nomem;
		list_remove(t, FIRST);
		b = FIRST;
	}
	u = carve(t, b, (uint32_t) n);
	hash_insert(&t->hash, t->recs[u].offset, u);
	t->live++;
	used = t->used + n;
	t->used = used;
	t->peak_used = used > t->peak_used ? used : t->peak_used;
	*offset = (uint64_t) t->recs[u].offset << t->gshift;
	return 0;

nomem:
	t->failed++;
	return -ENOMEM;
}

/* The record of the live allocation at offset (bytes) and where the hash
 * holds it, or NIL. */
static inline uint32_t find_live(const struct tlsf *t, uint64_t offset, struct hpos *pos)
{
	if (t == NULL || ((offset & t->gmask) != 0) | (offset >= t->size_bytes))
		return NIL;
	return hash_find(&t->hash, t->recs, (uint32_t) (offset >> t->gshift), pos);
}

int tlsf_free(tlsf_t *t, uint64_t offset)
{
	struct hpos pos;
	uint32_t next, prev;
	uint32_t b = find_live(t, offset, &pos);
	struct tlsf_rec *recs;
	bool next_free, prev_free;

	if (b == NIL)
		return -EFAULT;
	recs = t->recs;
	next = recs[b].next_phys;
	prev = recs[b].prev_phys;
	hash_remove(&t->hash, &pos);
	t->live--;
	t->used -= recs[b].size;
	/* The sentinel's prev_free is garbage (links write through NIL): make
	 * it read as used, so that a NIL neighbour is never merged. Merging
	 * with next leaves prev free or used as it was (only its links may
	 * change), so both tests can come first. */
	recs[NIL].prev_free = REC_USED;
	next_free = recs[next].prev_free != REC_USED;
	prev_free = recs[prev].prev_free != REC_USED;
	t->free_blocks += 1 - (uint64_t) next_free - (uint64_t) prev_free;
	/* The lower record survives a merge, so record FIRST keeps offset 0. */
	if (next_free) {
		list_remove(t, next);
		recs[b].size += recs[next].size;
		recs[b].next_phys = recs[next].next_phys;
		recs[recs[b].next_phys].prev_phys = b;
		rec_put(t, next);
	}
	if (prev_free) {
		list_remove(t, prev);
		recs[prev].size += recs[b].size;
		recs[prev].next_phys = recs[b].next_phys;
		recs[recs[prev].next_phys].prev_phys = prev;
		rec_put(t, b);
		b = prev;
	}
	list_insert(t, b);
	return 0;
}

uint64_t tlsf_usable_size(const tlsf_t *t, uint64_t offset)
{
	struct hpos pos;
	uint32_t b = find_live(t, offset, &pos);

	return b == NIL ? 0 : (uint64_t) t->recs[b].size << t->gshift;
}

int tlsf_id_of(const tlsf_t *t, uint64_t offset, uint32_t *id)
{
	struct hpos pos;
	uint32_t b = find_live(t, offset, &pos);

	if (b == NIL || id == NULL)
		return -EFAULT;
	*id = b;
	return 0;
}

uint32_t tlsf_id_limit(const tlsf_t *t)
{
	return t == NULL ? 0 : t->nrecs + 1;
}

void tlsf_get_stats(const tlsf_t *t, struct tlsf_stats *stats)
{
	uint64_t largest = 0;

	if (t == NULL || stats == NULL)
		return;
	if (t->fl_bitmap != 0) {
		uint32_t fl = msb64(t->fl_bitmap);
		uint32_t sl = msb64(t->sl_bitmap[fl]);

		largest = t->recs[t->heads[fl * SL_COUNT + sl]].size;
	}
	*stats = (struct tlsf_stats){
	    .size = t->size_bytes,
	    .used = t->used << t->gshift,
	    .free = (t->size - t->used) << t->gshift,
	    .live = t->live,
	    .free_blocks = t->free_blocks,
	    .peak_used = t->peak_used << t->gshift,
	    .largest_free = largest << t->gshift,
	    .failed = t->failed,
	};
}

uint64_t tlsf_metadata_bytes(const tlsf_t *t)
{
	if (t == NULL)
		return 0;
	return heap_bytes(t->nrecs, t->hash.n);
}

/* Walk the physical chain from record FIRST: contiguous, in range, linked
 * both ways, no free neighbours; used blocks found through the hash at their
 * own record. Counts what it sees into the out-parameters. */
static int check_chain(const struct tlsf *t, uint64_t *blocks, uint64_t *free_blocks,
		       uint64_t *live, uint64_t *used)
{
	const struct tlsf_rec *recs = t->recs;
	uint64_t expect = 0;
	uint32_t prev = NIL;
	struct hpos pos;
	bool prev_free = false;

	*blocks = *free_blocks = *live = *used = 0;
	for (uint32_t r = FIRST; r != NIL; prev = r, r = recs[r].next_phys) {
		const struct tlsf_rec *rec = &recs[r];
		bool is_free = rec->prev_free != REC_USED;

		if (r >= t->fresh || ++*blocks > t->nrecs || rec->prev_free == REC_UNUSED ||
		    rec->prev_phys != prev || rec->offset != expect || rec->size == 0 ||
		    expect + rec->size > t->size || (is_free && prev_free))
			return -EUCLEAN;
		expect += rec->size;
		prev_free = is_free;
		if (is_free) {
			++*free_blocks;
			continue;
		}
		if (hash_find(&t->hash, recs, rec->offset, &pos) != r)
			return -EUCLEAN;
		++*live;
		*used += rec->size;
	}
	return expect == t->size ? 0 : -EUCLEAN;
}

/* Every list holds only free chain blocks of its class, doubly linked, and its
 * bitmap bits say whether it is empty. Counts the listed blocks. Relies on the
 * record partition (chain + stack) having been checked first, so that a
 * listed record below fresh that is neither used nor unused is a chain block. */
static int check_lists(const struct tlsf *t, uint64_t *listed)
{
	const struct tlsf_rec *recs = t->recs;

	*listed = 0;
	if (t->sl_bitmap[FL_COUNT] != 0 || (t->fl_bitmap >> FL_COUNT) != 0)
		return -EUCLEAN;
	for (uint32_t fl = 0; fl < FL_COUNT; fl++) {
		if (((t->fl_bitmap >> fl) & 1) != (t->sl_bitmap[fl] != 0))
			return -EUCLEAN;
		for (uint32_t sl = 0; sl < SL_COUNT; sl++) {
			uint32_t idx = fl * SL_COUNT + sl;
			uint32_t prev = NIL;

			if (((t->sl_bitmap[fl] >> sl) & 1) != (t->heads[idx] != NIL))
				return -EUCLEAN;
			for (uint32_t r = t->heads[idx]; r != NIL;
			     prev = r, r = recs[r].next_free) {
				if (r >= t->fresh || ++*listed > t->free_blocks ||
				    recs[r].prev_free != prev || class_of(recs[r].size) != idx)
					return -EUCLEAN;
			}
		}
	}
	return 0;
}

int tlsf_check(const tlsf_t *t)
{
	uint64_t blocks, free_blocks, live, used, listed, stacked = 0;

	if (t == NULL)
		return -EINVAL;
	if (t->fresh > t->nrecs + 1 || check_chain(t, &blocks, &free_blocks, &live, &used) != 0)
		return -EUCLEAN;
	for (uint32_t r = t->stack; r != NIL; r = t->recs[r].next_free) {
		if (r >= t->fresh || ++stacked > t->fresh || t->recs[r].prev_free != REC_UNUSED)
			return -EUCLEAN;
	}
	/* Chain blocks are distinct (increasing offsets), stacked records are
	 * distinct (a repeat would loop past the bound) and the two sets are
	 * disjoint (REC_UNUSED): equal counts mean they partition [1, fresh). */
	if (blocks + stacked != t->fresh - FIRST)
		return -EUCLEAN;
	if (free_blocks != t->free_blocks || live != t->live || used != t->used ||
	    t->peak_used < t->used || t->peak_used > t->size)
		return -EUCLEAN;
	if (check_lists(t, &listed) != 0 || listed != free_blocks)
		return -EUCLEAN;
	return hash_check(&t->hash, t->recs, t->fresh, live) == 0 ? 0 : -EUCLEAN;
}

/*
 * Rebuild: the heap from a sorted list of live spans (tlsf_rebuild).
 *
 * The heap is empty, so it is one free block in record FIRST, alone in its
 * list, and its hash is all zero (a removal undoes its insert's counts).
 * Unlisting FIRST and restarting the record counter at FIRST leaves lists,
 * bitmaps, hash and records as tlsf_create would, without touching them all:
 * records at or above fresh are never read. The build then takes records in
 * offset order (so FIRST gets offset 0 again), one per gap and one per span,
 * linking each after the one before: at most 2n + 1 <= nrecs blocks. Gaps lie
 * between spans, so no two free blocks are neighbours.
 */

#define REBUILD_PREFETCH 16 /* spans ahead */

/* The hash is the build's one random access (a miss per span once it
 * outgrows the cache): ask for the home bucket of a span some way ahead, so
 * that the misses overlap. Halved the time per span in bench_rebuild. */
static inline void rebuild_prefetch(const struct tlsf *t, uint64_t offset)
{
	__builtin_prefetch(&t->hash.b[hash_home(&t->hash, (uint32_t) (offset >> t->gshift))], 1);
}

/* A new block [o, o + s) after prev in the physical chain (NIL: the first). */
static uint32_t rebuild_block(struct tlsf *t, uint32_t prev, uint32_t o, uint32_t s)
{
	struct tlsf_rec *recs = t->recs;
	uint32_t r = rec_get(t);

	recs[r].offset = o;
	recs[r].size = s;
	recs[r].prev_phys = prev;
	recs[r].next_phys = NIL;
	recs[prev].next_phys = r; /* NIL: lands in the sentinel */
	return r;
}

/* List free block r so that each list keeps its largest block at its head:
 * get_stats reports the head of the highest list, which is then exact. */
static void rebuild_list(struct tlsf *t, uint32_t r)
{
	struct tlsf_rec *recs = t->recs;
	uint32_t idx = class_of(recs[r].size);
	uint32_t head = t->heads[idx];
	uint32_t next;

	t->free_blocks++;
	if (head == NIL || recs[r].size >= recs[head].size) {
		list_insert_at(t, r, idx);
		return;
	}
	/* Second in a non-empty list: its bitmap bits are set already. */
	next = recs[head].next_free;
	recs[r].prev_free = head;
	recs[r].next_free = next;
	recs[next].prev_free = r; /* NIL: lands in the sentinel */
	recs[head].next_free = r;
}

/* 0 iff live[0..n) fits t: sorted, disjoint, granule-aligned, non-empty,
 * inside the heap, and no more than max_allocs. */
static int rebuild_check(const struct tlsf *t, const struct tlsf_span *live, size_t n)
{
	uint64_t end = 0;

	if (n > t->max_allocs)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		uint64_t o = live[i].offset, s = live[i].size;

		/* o >= end also refuses a repeat and any disorder: end > the
		 * offset before, since sizes are non-zero. */
		if (((o | s) & t->gmask) != 0 || s == 0 || o < end || o >= t->size_bytes ||
		    s > t->size_bytes - o)
			return -EINVAL;
		end = o + s;
	}
	return 0;
}

int tlsf_rebuild(tlsf_t *t, const struct tlsf_span *live, size_t n)
{
	uint32_t prev = NIL, end = 0, r;

	if (t == NULL || (live == NULL && n != 0) || t->live != 0 || rebuild_check(t, live, n) != 0)
		return -EINVAL;
	list_remove(t, FIRST);
	t->fresh = FIRST;
	t->stack = NIL;
	t->free_blocks = 0;
	/* Offsets and sizes in granules fit in uint32_t: the heap has at most
	 * 2^32 - 1 of them, and every span was checked to end inside it. */
	for (size_t i = 0;; i++) {
		uint32_t o = i < n ? (uint32_t) (live[i].offset >> t->gshift) : (uint32_t) t->size;
		uint32_t s;

		if (o > end) {
			prev = rebuild_block(t, prev, end, o - end);
			rebuild_list(t, prev);
		}
		if (i == n)
			break;
		if (i + REBUILD_PREFETCH < n)
			rebuild_prefetch(t, live[i + REBUILD_PREFETCH].offset);
		s = (uint32_t) (live[i].size >> t->gshift);
		r = rebuild_block(t, prev, o, s);
		t->recs[r].prev_free = REC_USED;
		hash_insert(&t->hash, o, r);
		t->used += s;
		end = o + s;
		prev = r;
	}
	t->live = n;
	if (t->peak_used < t->used)
		t->peak_used = t->used;
	return 0;
}
