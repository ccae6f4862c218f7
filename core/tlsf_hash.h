/*
 * tlsf_hash: the map from the offset of a live allocation to its record, for
 * tlsf.c only (static inline; the invariant and costs are at the top of
 * tlsf.c).
 *
 * Buckets of one cache line: 12 one-byte fingerprints, the bucket's overflow
 * count, then 12 record numbers. A fingerprint is 1-255, from bits of the
 * offset's hash that do not choose the bucket, and 0 is an empty lane; a
 * lookup compares the fingerprints all at once and then the offset held in
 * the record itself (rec_offset, from tlsf.c), so every answer is exact. The
 * overflow count is the number of entries stored after this bucket whose
 * home bucket is this one or one before it on their probe path (home,
 * home + 1, ... wrapping).
 */
#ifndef ALLOCATORD_CORE_TLSF_HASH_H
#define ALLOCATORD_CORE_TLSF_HASH_H

#include <stdint.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define HASH_LANES   12u
#define HASH_MUL     UINT32_C(0x9E3779B9)
#define HASH_ENTRIES UINT32_C(0xfff) /* bucket_match bits of the lanes */

struct tlsf_bucket {
	uint8_t fp[HASH_LANES];   /* fingerprint of the entry in lane i, 0 if empty */
	uint32_t overflow;        /* see above */
	uint32_t rec[HASH_LANES]; /* record of the entry in lane i */
};

_Static_assert(sizeof(struct tlsf_bucket) == 64, "a bucket is one cache line");

struct tlsf_hash {
	struct tlsf_bucket *b; /* 64-byte aligned */
	uint32_t n;            /* buckets, >= 1 */
};

/* Where hash_find found a key: its home bucket, its bucket and lane. */
struct hpos {
	uint32_t home, bucket, lane;
};

/* The offset of the live block in record r: defined by tlsf.c. */
struct tlsf_rec;
static inline uint32_t rec_offset(const struct tlsf_rec *recs, uint32_t r);

/* Fibonacci hash onto [0, n) by a multiply and shift: n need not be a power
 * of two (rounding it up could double the table). */
static inline uint32_t hash_home(const struct tlsf_hash *h, uint32_t offset)
{
	return (uint32_t) (((uint64_t) (offset * HASH_MUL) * h->n) >> 32);
}

/* Bits 8-15 of the same product: the bucket comes from its top bits, so
 * entries of one bucket still differ here. 0 is taken by empty lanes. */
static inline uint32_t hash_fp(uint32_t offset)
{
	uint32_t fp = (offset * HASH_MUL >> 8) & 0xff;

	return fp + (fp == 0);
}

static inline uint32_t hash_next(const struct tlsf_hash *h, uint32_t b)
{
	return b + 1 == h->n ? 0 : b + 1;
}

/* Bit i of the result set iff fp[i] == fp, i in [0, 12). */
static inline uint32_t bucket_match(const struct tlsf_bucket *bk, uint32_t fp)
{
#ifdef __SSE2__
	__m128i v = _mm_load_si128((const __m128i *) bk->fp);
	/* fp in all 16 bytes: a multiply and a shuffle, where SSE2's byte
	 * broadcast takes three shuffles. */
	__m128i f = _mm_set1_epi32((int) (fp * UINT32_C(0x01010101)));

	return (uint32_t) _mm_movemask_epi8(_mm_cmpeq_epi8(v, f)) & HASH_ENTRIES;
#else
	uint32_t m = 0;

	for (uint32_t i = 0; i < HASH_LANES; i++)
		m |= (uint32_t) (bk->fp[i] == fp) << i;
	return m;
#endif
}

/* The record stored for offset, and where, or 0 if there is none. A lane
 * whose fingerprint matches holds offset iff its record does. The probe stops
 * at a bucket with a zero overflow count, or after all n: deletions can leave
 * every count nonzero (entries that wrapped all the way round). */
static inline uint32_t hash_find(const struct tlsf_hash *h, const struct tlsf_rec *recs,
				 uint32_t offset, struct hpos *pos)
{
	uint32_t b = hash_home(h, offset);
	uint32_t fp = hash_fp(offset);

	pos->home = b;
	/* n >= 1: the home bucket is always looked at. */
	for (uint32_t i = 1;; i++) {
		const struct tlsf_bucket *bk = &h->b[b];

		for (uint32_t m = bucket_match(bk, fp); m != 0; m &= m - 1) {
			uint32_t lane = (uint32_t) __builtin_ctz(m);

			if (rec_offset(recs, bk->rec[lane]) == offset) {
				pos->bucket = b;
				pos->lane = lane;
				return bk->rec[lane];
			}
		}
		if (bk->overflow == 0 || i == h->n)
			return 0;
		b = hash_next(h, b);
	}
}

/* Store r for offset, which is not in the table. Every full bucket passed
 * counts one more overflowing entry. Terminates: fewer than 12n entries. */
static inline void hash_insert(struct tlsf_hash *h, uint32_t offset, uint32_t r)
{
	uint32_t b = hash_home(h, offset);
	uint32_t m, lane;

	while ((m = bucket_match(&h->b[b], 0)) == 0) {
		h->b[b].overflow++;
		b = hash_next(h, b);
	}
	lane = (uint32_t) __builtin_ctz(m);
	h->b[b].fp[lane] = (uint8_t) hash_fp(offset);
	h->b[b].rec[lane] = r;
}

/* Remove the entry found at pos, and take it out of the counts it is in. */
static inline void hash_remove(struct tlsf_hash *h, const struct hpos *pos)
{
	h->b[pos->bucket].fp[pos->lane] = 0;
	for (uint32_t b = pos->home; b != pos->bucket; b = hash_next(h, b))
		h->b[b].overflow--;
}

/* 0 iff the table holds exactly `live` entries, each with a record below
 * rec_limit and the fingerprint of that record's offset, every bucket from an entry's home to its
 * bucket has a nonzero count and the counts add up to the entries' displacements (checking each
 * count exactly would need scratch memory). That each live record is found, at most once, is for
 * the caller to check with hash_find. O(n + displacements). */
static inline int hash_check(const struct tlsf_hash *h, const struct tlsf_rec *recs,
			     uint32_t rec_limit, uint64_t live)
{
	uint64_t keys = 0, counts = 0, passes = 0;

	for (uint32_t b = 0; b < h->n; b++)
		counts += h->b[b].overflow;
	for (uint32_t b = 0; b < h->n; b++) {
		const struct tlsf_bucket *bk = &h->b[b];

		for (uint32_t lane = 0; lane < HASH_LANES; lane++) {
			uint32_t offset;

			if (bk->fp[lane] == 0)
				continue;
			if (++keys > live || bk->rec[lane] >= rec_limit)
				return -1;
			offset = rec_offset(recs, bk->rec[lane]);
			if (bk->fp[lane] != hash_fp(offset))
				return -1;
			for (uint32_t x = hash_home(h, offset); x != b; x = hash_next(h, x))
				if (h->b[x].overflow == 0 || ++passes > counts)
					return -1;
		}
	}
	return keys == live && passes == counts ? 0 : -1;
}

#endif
