/*
 * tlsf_hash: the map from the offset of a live allocation to its record, for
 * tlsf.c only (static inline; the invariant and costs are at the top of
 * tlsf.c).
 *
 * Buckets of one cache line: 8 keys, then 8 values. A key is offset + 1 (an
 * offset is at most 2^32 - 2, so a key is never 0) and 0 is an empty lane,
 * so that a lookup compares keys only. Lanes 0-6 hold entries; lane 7 is not
 * one: key[7] stays 0 (it never equals a key, so lookups need no mask) and
 * rec[7] is the bucket's overflow count: the number of entries stored after
 * this bucket whose home bucket is this one or one before it on their probe
 * path (home, home + 1, ... wrapping).
 */
#ifndef ALLOCATORD_CORE_TLSF_HASH_H
#define ALLOCATORD_CORE_TLSF_HASH_H

#include <stdint.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define HASH_LANES    8u
#define HASH_OVERFLOW (HASH_LANES - 1) /* rec[] lane of the overflow count */
#define HASH_MUL      UINT32_C(0x9E3779B9)
#define HASH_ENTRIES  UINT32_C(0x3fff) /* bucket_match bits of lanes 0-6 */

struct tlsf_bucket {
	uint32_t key[HASH_LANES]; /* offset + 1 of a live allocation, 0 if empty */
	uint32_t rec[HASH_LANES]; /* its record; rec[HASH_OVERFLOW]: see above */
};

struct tlsf_hash {
	struct tlsf_bucket *b; /* 64-byte aligned */
	uint32_t n;            /* buckets, >= 1 */
};

/* Where hash_find found a key: its home bucket, its bucket and lane. */
struct hpos {
	uint32_t home, bucket, lane;
};

/* Fibonacci hash onto [0, n) by a multiply and shift: n need not be a power
 * of two (rounding it up could double the table). */
static inline uint32_t hash_home(const struct tlsf_hash *h, uint32_t offset)
{
	return (uint32_t) (((uint64_t) (offset * HASH_MUL) * h->n) >> 32);
}

static inline uint32_t hash_next(const struct tlsf_hash *h, uint32_t b)
{
	return b + 1 == h->n ? 0 : b + 1;
}

/* Bits 2i and 2i + 1 of the result set iff key[i] == key, i in [0, 8). */
static inline uint32_t bucket_match(const struct tlsf_bucket *bk, uint32_t key)
{
#ifdef __SSE2__
	const __m128i *p = (const __m128i *) bk->key;
	__m128i k = _mm_set1_epi32((int) key);

	return (uint32_t) _mm_movemask_epi8(_mm_packs_epi32(
	    _mm_cmpeq_epi32(_mm_load_si128(p), k), _mm_cmpeq_epi32(_mm_load_si128(p + 1), k)));
#else
	uint32_t m = 0;

	for (uint32_t i = 0; i < HASH_LANES; i++)
		m |= (uint32_t) (bk->key[i] == key) * 3u << (2 * i);
	return m;
#endif
}

/* The value stored for offset, and where, or 0 if there is none. The probe
 * stops at a bucket with a zero overflow count, or after all n: deletions can
 * leave every count nonzero (entries that wrapped all the way round). */
static inline uint32_t hash_find(const struct tlsf_hash *h, uint32_t offset, struct hpos *pos)
{
	uint32_t b = hash_home(h, offset);

	*pos = (struct hpos){.home = b, .bucket = b, .lane = 0};
	for (uint32_t i = 0; i < h->n; i++) {
		const struct tlsf_bucket *bk = &h->b[b];
		uint32_t m = bucket_match(bk, offset + 1);

		if (m != 0) {
			pos->bucket = b;
			pos->lane = (uint32_t) __builtin_ctz(m) / 2;
			return bk->rec[pos->lane];
		}
		if (bk->rec[HASH_OVERFLOW] == 0)
			break;
		b = hash_next(h, b);
	}
	return 0;
}

/* Store r for offset, which is not in the table. Every full bucket passed
 * counts one more overflowing entry. Terminates: fewer than 7n entries. */
static inline void hash_insert(struct tlsf_hash *h, uint32_t offset, uint32_t r)
{
	uint32_t b = hash_home(h, offset);
	uint32_t m, lane;

	while ((m = bucket_match(&h->b[b], 0) & HASH_ENTRIES) == 0) {
		h->b[b].rec[HASH_OVERFLOW]++;
		b = hash_next(h, b);
	}
	lane = (uint32_t) __builtin_ctz(m) / 2;
	h->b[b].key[lane] = offset + 1;
	h->b[b].rec[lane] = r;
}

/* Remove the entry found at pos, and take it out of the counts it is in. */
static inline void hash_remove(struct tlsf_hash *h, const struct hpos *pos)
{
	h->b[pos->bucket].key[pos->lane] = 0;
	for (uint32_t b = pos->home; b != pos->bucket; b = hash_next(h, b))
		h->b[b].rec[HASH_OVERFLOW]--;
}

/* 0 iff the table holds exactly `live` entries, lane 7 holds no key, every
 * bucket from an entry's home to its bucket has a nonzero count and the
 * counts add up to the entries' displacements (checking each count exactly
 * would need scratch memory). That each entry maps a live offset to its
 * record is for the caller to check with hash_find. O(n + displacements). */
static inline int hash_check(const struct tlsf_hash *h, uint64_t live)
{
	uint64_t keys = 0, counts = 0, passes = 0;

	for (uint32_t b = 0; b < h->n; b++)
		counts += h->b[b].rec[HASH_OVERFLOW];
	for (uint32_t b = 0; b < h->n; b++) {
		const struct tlsf_bucket *bk = &h->b[b];

		if (bk->key[HASH_OVERFLOW] != 0)
			return -1;
		for (uint32_t lane = 0; lane < HASH_OVERFLOW; lane++) {
			if (bk->key[lane] == 0)
				continue;
			keys++;
			for (uint32_t x = hash_home(h, bk->key[lane] - 1); x != b;
			     x = hash_next(h, x))
				if (h->b[x].rec[HASH_OVERFLOW] == 0 || ++passes > counts)
					return -1;
		}
	}
	return keys == live && passes == counts ? 0 : -1;
}

#endif
