/*
 * bitarray_inline: the single-bit steps of the bitarray, inline, for the
 * allocator's one-block paths (not installed). bitarray.c builds its general
 * calls on these, and mem_blocks.c calls them directly, so that a one-block
 * alloc or free is one function with no calls in it: the calls' register
 * saves were a third of its instructions (callgrind, bench_core's churn).
 * Invariants: see bitarray.c.
 */
#ifndef ALLOCATORD_CORE_BITARRAY_INLINE_H
#define ALLOCATORD_CORE_BITARRAY_INLINE_H

#include "core/bitarray.h"

#define BITARRAY_ALL_ONES (~(uint64_t) 0)

static inline uint64_t *bitarray_level(const struct bitarray *ba, unsigned l)
{
	return ba->words + ba->level_off[l];
}

/* Word idx of level l has just become all ones: set its summary bit, and go
 * on up while that fills the summary word too. */
static inline void bitarray_mark_full(struct bitarray *ba, unsigned l, size_t idx)
{
	for (; l + 1 < ba->levels; l++, idx /= 64) {
		uint64_t *w = bitarray_level(ba, l + 1) + idx / 64;

		*w |= (uint64_t) 1 << (idx % 64);
		if (*w != BITARRAY_ALL_ONES)
			return;
	}
}

/* Word idx of level l was all ones and no longer is: clear its summary bit,
 * and go on up while the summary word was full before. */
static inline void bitarray_mark_not_full(struct bitarray *ba, unsigned l, size_t idx)
{
	for (; l + 1 < ba->levels; l++, idx /= 64) {
		uint64_t *w = bitarray_level(ba, l + 1) + idx / 64;
		bool was_full = *w == BITARRAY_ALL_ONES;

		*w &= ~((uint64_t) 1 << (idx % 64));
		if (!was_full)
			return;
	}
}

/* true iff bit i (< nbits) is used. O(1). */
static inline bool bitarray_test(const struct bitarray *ba, size_t i)
{
	return (ba->words[i / 64] >> (i % 64)) & 1;
}

/* Mark free bit i (< nbits) used. O(log64 n). */
static inline void bitarray_set_used1(struct bitarray *ba, size_t i)
{
	uint64_t *w = &ba->words[i / 64];

	*w |= (uint64_t) 1 << (i % 64);
	if (*w == BITARRAY_ALL_ONES)
		bitarray_mark_full(ba, 0, i / 64);
	ba->nfree--;
}

/* Mark used bit i (< nbits) free. O(log64 n). */
static inline void bitarray_set_free1(struct bitarray *ba, size_t i)
{
	uint64_t *w = &ba->words[i / 64];
	bool was_full = *w == BITARRAY_ALL_ONES;

	*w &= ~((uint64_t) 1 << (i % 64));
	if (was_full)
		bitarray_mark_not_full(ba, 0, i / 64);
	ba->nfree++;
}

/*
 * The lowest free bit, for a bitmap with nfree > 0: descend from the top
 * word, one ctz per level, no climb. The lowest non-full word of each level
 * holds a free bit, because one exists and a word that is "not full" only
 * for its padding ends its level (so every lower word is full). O(levels).
 * (A hint of where the lowest free bit might be was tried: under random
 * churn it is right half the time, and the mispredicted branch cost more
 * than the descent it saved.)
 */
static inline size_t bitarray_first_free(const struct bitarray *ba)
{
	size_t idx = 0;

	for (unsigned l = ba->levels - 1; l > 0; l--)
		idx = idx * 64 + (size_t) __builtin_ctzll(~bitarray_level(ba, l)[idx]);
	return idx * 64 + (size_t) __builtin_ctzll(~ba->words[idx]);
}

#endif
