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

/*
 * The one-block steps of the allocator, specialised by level count: each
 * *_n body is inlined from a switch on ba->levels with `levels` a constant,
 * so its loops unroll and every level's word address and value stay in
 * registers. The generic loops (bitarray_first_free, bitarray_mark_full)
 * reload level_off[l] and re-test the level count per level, and the climb
 * re-read the words the descent had just read; in bench_core's churn every
 * op climbs two levels, and this cut the one-block pair from 189 to 159
 * instructions (callgrind).
 */
#define BITARRAY__INLINE static inline __attribute__((always_inline))

/* Level l's word idx: level 0 starts at words[0] (folds when l is constant). */
BITARRAY__INLINE uint64_t *bitarray__word(const struct bitarray *ba, unsigned l, size_t idx)
{
	return (l == 0 ? ba->words : bitarray_level(ba, l)) + idx;
}

BITARRAY__INLINE size_t bitarray__take_first_n(struct bitarray *ba, unsigned levels)
{
	uint64_t *p[BITARRAY_MAX_LEVELS], v[BITARRAY_MAX_LEVELS];
	size_t idx = 0, bit;
	unsigned l;

	/* The descent of bitarray_first_free, keeping what it read. */
#pragma GCC unroll 6
	for (l = levels; l-- > 0;) {
		p[l] = bitarray__word(ba, l, idx);
		v[l] = *p[l];
		idx = idx * 64 + (size_t) __builtin_ctzll(~v[l]);
	}
	bit = idx;
	/* Set the bit, and a summary bit for every word that fills, from the
	 * values read on the way down: nothing wrote them since. */
#pragma GCC unroll 6
	for (l = 0; l < levels; l++, idx /= 64) {
		v[l] |= (uint64_t) 1 << (idx % 64);
		*p[l] = v[l];
		if (v[l] != BITARRAY_ALL_ONES)
			break;
	}
	ba->nfree--;
	return bit;
}

BITARRAY__INLINE void bitarray__set_free1_n(struct bitarray *ba, size_t i, unsigned levels)
{
	/* Clear the bit, then the summary bit of every word that was full. */
#pragma GCC unroll 6
	for (unsigned l = 0; l < levels; l++, i /= 64) {
		uint64_t *w = bitarray__word(ba, l, i / 64);
		uint64_t old = *w;

		*w = old & ~((uint64_t) 1 << (i % 64));
		if (old != BITARRAY_ALL_ONES)
			break;
	}
	ba->nfree++;
}

/* Mark the lowest free bit used and return it; nfree > 0. O(levels). */
BITARRAY__INLINE size_t bitarray_take_first(struct bitarray *ba)
{
	switch (ba->levels) {
	case 2:
		return bitarray__take_first_n(ba, 2);
	case 3:
		return bitarray__take_first_n(ba, 3);
	case 4:
		return bitarray__take_first_n(ba, 4);
	case 5:
		return bitarray__take_first_n(ba, 5);
	case 6:
		return bitarray__take_first_n(ba, 6);
	default: /* 1; no case has 0, so callers' bounds prune the others */
		return bitarray__take_first_n(ba, 1);
	}
}

/* Mark used bit i (< nbits) free. O(log64 n). */
BITARRAY__INLINE void bitarray_set_free1(struct bitarray *ba, size_t i)
{
	switch (ba->levels) {
	case 2:
		bitarray__set_free1_n(ba, i, 2);
		break;
	case 3:
		bitarray__set_free1_n(ba, i, 3);
		break;
	case 4:
		bitarray__set_free1_n(ba, i, 4);
		break;
	case 5:
		bitarray__set_free1_n(ba, i, 5);
		break;
	case 6:
		bitarray__set_free1_n(ba, i, 6);
		break;
	default: /* 1 */
		bitarray__set_free1_n(ba, i, 1);
	}
}

#endif
