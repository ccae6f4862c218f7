/*
 * bitarray: a hierarchical bitmap for block allocators.
 *
 * One bit per block, 1 = used, 0 = free. Above every 64 leaf words sits one
 * summary word whose bit i is 1 iff child word i is completely full; summaries
 * stack until a single top word remains. Finding the lowest free bit is one
 * ctz(~word) per level: O(log64 n) (4 levels for 2^24 bits), never a scan.
 *
 * Storage is words[]: level 0 (leaves) first, then each summary level. All
 * zero means all free, so static zero-initialised storage is a valid empty
 * bitmap (the SYS_MEM_BLOCKS_DEFINE macros rely on this). Padding bits past
 * nbits stay 0 in every level; searches bound their results by nbits and by
 * the real word count of each level, so padding is never returned.
 *
 * Memory: bitarray_words(n) * 64 bits, i.e. n * (1 + 1/63) bits rounded up
 * per level, about 1.016 bits per block.
 *
 * Not thread-safe: the caller serialises. No call allocates memory.
 */
#ifndef ALLOCATORD_CORE_BITARRAY_H
#define ALLOCATORD_CORE_BITARRAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Levels needed for BITARRAY_MAX_BITS bits: 64^6 = 2^36. */
#define BITARRAY_MAX_LEVELS 6
#define BITARRAY_MAX_BITS   ((size_t) 1 << 36)

struct bitarray {
	uint64_t *words;
	size_t nbits;
	size_t nfree;                            /* O(1) free count */
	size_t level_words[BITARRAY_MAX_LEVELS]; /* words in level i */
	size_t level_off[BITARRAY_MAX_LEVELS];   /* index of level i in words[] */
	unsigned levels;                         /* >= 1; top level has 1 word */
};

/* Compile-time geometry, for static definitions. _W(n) is the number of words
 * in the level above one that has n words (0 once a level is a single word). */
#define BITARRAY__UP(n) (((n) + 63) / 64)
#define BITARRAY__W(n)  ((n) > 1 ? BITARRAY__UP(n) : 0)

/*
 * BITARRAY_DEFINE_WORDS(name, nbits) declares the enum constants
 * name##_w0 .. name##_w5 (words per level) and name##_total (their sum) for
 * use in a static array size and in BITARRAY_INITIALIZER.
 */
#define BITARRAY_DEFINE_WORDS(name, nbits)                                                 \
	enum {                                                                             \
		name##_w0 = BITARRAY__UP((size_t) (nbits)),                                \
		name##_w1 = BITARRAY__W((size_t) name##_w0),                               \
		name##_w2 = BITARRAY__W((size_t) name##_w1),                               \
		name##_w3 = BITARRAY__W((size_t) name##_w2),                               \
		name##_w4 = BITARRAY__W((size_t) name##_w3),                               \
		name##_w5 = BITARRAY__W((size_t) name##_w4),                               \
		name##_total =                                                             \
		    name##_w0 + name##_w1 + name##_w2 + name##_w3 + name##_w4 + name##_w5, \
	}

#define BITARRAY__LEVELS(name)                                                        \
	(1u + (name##_w1 > 0) + (name##_w2 > 0) + (name##_w3 > 0) + (name##_w4 > 0) + \
	 (name##_w5 > 0))

/* A constant initializer for a bitmap whose storage is the zeroed static
 * array `storage` of name##_total words (declared with BITARRAY_DEFINE_WORDS). */
#define BITARRAY_INITIALIZER(name, nbits_, storage)                                                \
	{                                                                                          \
		.words = (storage), .nbits = (nbits_), .nfree = (nbits_),                          \
		.level_words = {name##_w0, name##_w1, name##_w2, name##_w3, name##_w4, name##_w5}, \
		.level_off = {0,                                                                   \
			      name##_w0,                                                           \
			      name##_w0 + name##_w1,                                               \
			      name##_w0 + name##_w1 + name##_w2,                                   \
			      name##_w0 + name##_w1 + name##_w2 + name##_w3,                       \
			      name##_w0 + name##_w1 + name##_w2 + name##_w3 + name##_w4},          \
		.levels = BITARRAY__LEVELS(name),                                                  \
	}

/* Words of storage for nbits bits (all levels). 0 if nbits is 0 or over
 * BITARRAY_MAX_BITS. O(levels). */
size_t bitarray_words(size_t nbits);

/* Set up ba over caller storage words[bitarray_words(nbits)] and mark every
 * bit free (the storage is zeroed here). Returns 0, or -EINVAL if ba or words
 * is NULL or nbits is 0 or over BITARRAY_MAX_BITS. O(words). */
int bitarray_init(struct bitarray *ba, size_t nbits, uint64_t *words);

/* Lowest free bit >= from, into *out. Returns 0, or -ENOMEM if there is none
 * (from >= nbits included). O(log64 n). */
int bitarray_find_free(const struct bitarray *ba, size_t from, size_t *out);

/* Lowest start of a run of k free bits, into *out. Returns 0, -EINVAL if k is
 * 0, or -ENOMEM if no run fits. Cost: O(log64 n) per used run skipped plus
 * O(k / 64) to verify the run found. */
int bitarray_find_free_run(const struct bitarray *ba, size_t k, size_t *out);

/* Mark [start, start + n) used / free. The range must be inside the array
 * and, respectively, entirely free / entirely used: these are the allocator's
 * internal steps, so a violation is a caller bug and is not checked beyond
 * the bounds (out of bounds: nothing happens). Keeps nfree exact.
 * O(n / 64 + log64 n). */
void bitarray_set_used(struct bitarray *ba, size_t start, size_t n);
void bitarray_set_free(struct bitarray *ba, size_t start, size_t n);

/* true iff bit i is used. i must be < nbits. O(1). */
bool bitarray_is_used(const struct bitarray *ba, size_t i);

/* true iff every bit of [start, start + n) is free (false if the range runs
 * past the end; true for n == 0 inside the array). O(n / 64). */
bool bitarray_range_is_free(const struct bitarray *ba, size_t start, size_t n);

/* true iff every bit of [start, start + n) is used (false if the range runs
 * past the end). O(n / 64). */
bool bitarray_range_is_used(const struct bitarray *ba, size_t start, size_t n);

/* Free bits. O(1). */
static inline size_t bitarray_count_free(const struct bitarray *ba)
{
	return ba->nfree;
}

/* Make leaves[0..level_words[0]) the bitmap's level 0 and derive the rest:
 * every summary level and nfree. For rebuilding a pool from a set of used
 * blocks at once. Returns 0, or -EINVAL (nothing changes) if a bit at or
 * past nbits is set in leaves. O(words). */
int bitarray_load(struct bitarray *ba, const uint64_t *leaves);

/* 0 iff every summary bit matches its child word, padding is clear and nfree
 * matches a recount. For tests. O(words). */
int bitarray_check(const struct bitarray *ba);

#endif
