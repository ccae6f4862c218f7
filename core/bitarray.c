/*
 * bitarray: a hierarchical bitmap (contract in bitarray.h).
 *
 * Invariants, all verified by bitarray_check():
 *   - level 0 has one bit per block, 1 = used; bits at or past nbits are 0;
 *   - bit j of level l + 1 is 1 iff word j of level l is all ones; the bits
 *     of level l + 1 for words past level_words[l] are 0;
 *   - nfree == nbits - popcount(level 0).
 * A last word with padding can never be all ones, so the summary above it
 * always says "not full" even when every real bit in it is used. Searches
 * therefore bound every index they find by the size of its level (and the
 * final bit by nbits) before reading a word with it: a padding index means
 * "nothing at or after here", because padding only ever ends a level.
 */
#include "core/bitarray.h"

#include <errno.h>
#include <string.h>

#include "core/bitarray_inline.h"

#define ALL_ONES BITARRAY_ALL_ONES

static inline unsigned ctz64(uint64_t w)
{
	return (unsigned) __builtin_ctzll(w);
}

static inline unsigned popcount64(uint64_t w)
{
	return (unsigned) __builtin_popcountll(w);
}

/* Words per level for nbits (1 <= nbits <= BITARRAY_MAX_BITS), as the
 * BITARRAY_DEFINE_WORDS macro computes them; unused levels get 0. Returns the
 * number of levels: the last one is a single word. */
static unsigned geometry(size_t nbits, size_t level_words[BITARRAY_MAX_LEVELS])
{
	size_t n = (nbits + 63) / 64;
	unsigned levels = 0;

	for (;;) {
		level_words[levels++] = n;
		if (n == 1)
			break;
		n = (n + 63) / 64;
	}
	for (unsigned l = levels; l < BITARRAY_MAX_LEVELS; l++)
		level_words[l] = 0;
	return levels;
}

size_t bitarray_words(size_t nbits)
{
	size_t level_words[BITARRAY_MAX_LEVELS];
	size_t total = 0;

	if (nbits == 0 || nbits > BITARRAY_MAX_BITS)
		return 0;
	geometry(nbits, level_words);
	for (unsigned l = 0; l < BITARRAY_MAX_LEVELS; l++)
		total += level_words[l];
	return total;
}

int bitarray_init(struct bitarray *ba, size_t nbits, uint64_t *words)
{
	size_t off = 0;

	if (ba == NULL || words == NULL || nbits == 0 || nbits > BITARRAY_MAX_BITS)
		return -EINVAL;
	ba->levels = geometry(nbits, ba->level_words);
	for (unsigned l = 0; l < BITARRAY_MAX_LEVELS; l++) {
		ba->level_off[l] = off;
		off += ba->level_words[l];
	}
	memset(words, 0, off * sizeof(*words));
	ba->words = words;
	ba->nbits = nbits;
	ba->nfree = nbits;
	return 0;
}

/* The bits of leaf word i that lie in [start, end); the word must overlap
 * the range, which keeps both shifts in 1..63. */
static inline uint64_t range_mask(size_t start, size_t end, size_t i)
{
	size_t lo = i * 64, hi = lo + 64;
	uint64_t m = ALL_ONES;

	if (start > lo)
		m &= ALL_ONES << (start - lo);
	if (end < hi)
		m &= ALL_ONES >> (hi - end);
	return m;
}

/* [start, start + n) is a non-empty range inside the array. Written so that
 * start + n cannot overflow. */
static inline bool range_ok(const struct bitarray *ba, size_t start, size_t n)
{
	return n != 0 && start < ba->nbits && n <= ba->nbits - start;
}

void bitarray_set_used(struct bitarray *ba, size_t start, size_t n)
{
	size_t end = start + n;

	if (!range_ok(ba, start, n))
		return;
	if (n == 1) {
		/* The single-block path: one word, no masks. */
		bitarray_set_used1(ba, start);
		return;
	}
	for (size_t i = start / 64; i <= (end - 1) / 64; i++) {
		uint64_t m = range_mask(start, end, i);
		uint64_t old = ba->words[i];

		ba->words[i] = old | m;
		if (ba->words[i] == ALL_ONES && old != ALL_ONES)
			bitarray_mark_full(ba, 0, i);
	}
	/* Exact by the precondition (the range was entirely free); counting
	 * bits instead would cost a popcount per word, a libgcc call on
	 * baseline x86-64, in the allocator's hot path. */
	ba->nfree -= n;
}

/* Word idx of level l was all ones and no longer is: clear its summary bit,
 * and go on up while the summary word was full before. */
static void bitarray_mark_not_full(struct bitarray *ba, unsigned l, size_t idx)
{
	for (; l + 1 < ba->levels; l++, idx /= 64) {
		uint64_t *w = bitarray_level(ba, l + 1) + idx / 64;
		bool was_full = *w == ALL_ONES;

		*w &= ~((uint64_t) 1 << (idx % 64));
		if (!was_full)
			return;
	}
}

void bitarray_set_free(struct bitarray *ba, size_t start, size_t n)
{
	size_t end = start + n;

	if (!range_ok(ba, start, n))
		return;
	if (n == 1) {
		/* The single-block path: one word, no masks. */
		bitarray_set_free1(ba, start);
		return;
	}
	for (size_t i = start / 64; i <= (end - 1) / 64; i++) {
		uint64_t m = range_mask(start, end, i);
		uint64_t old = ba->words[i];

		ba->words[i] = old & ~m;
		if (old == ALL_ONES && ba->words[i] != ALL_ONES)
			bitarray_mark_not_full(ba, 0, i);
	}
	ba->nfree += n; /* exact by the precondition: entirely used */
}

/* The lowest free bit >= from, for 0 < from < nbits: climb from from's word
 * to the lowest non-full word at or after it, then descend. Returns a bit
 * index, or SIZE_MAX if there is none. */
static size_t find_free_after(const struct bitarray *ba, size_t from)
{
	size_t idx = from / 64;
	uint64_t w = ~ba->words[idx] & (ALL_ONES << (from % 64));
	unsigned l;

	if (w == 0) {
		/* Climb: we want the lowest non-full word >= idx of level l.
		 * Its summary word says which of idx's siblings are not full;
		 * if none is, ask the same of the level above, one word on. On
		 * the top level (one word) idx is >= 1 here, so we stop. */
		l = 0;
		idx++;
		for (;;) {
			if (idx >= ba->level_words[l])
				return SIZE_MAX;
			w = ~bitarray_level(ba, l + 1)[idx / 64] & (ALL_ONES << (idx % 64));
			if (w != 0)
				break;
			idx = idx / 64 + 1;
			l++;
		}
		idx = idx / 64 * 64 + ctz64(w);
		if (idx >= ba->level_words[l])
			return SIZE_MAX;
		/* Descend: word idx of level l is not full, so it has a 0 bit;
		 * the lowest one names the lowest non-full child. */
		while (l > 0) {
			idx = idx * 64 + ctz64(~bitarray_level(ba, l)[idx]);
			l--;
			if (idx >= ba->level_words[l])
				return SIZE_MAX;
		}
		w = ~ba->words[idx];
	}
	return idx * 64 + ctz64(w);
}

int bitarray_find_free(const struct bitarray *ba, size_t from, size_t *out)
{
	size_t bit;

	if (from >= ba->nbits || ba->nfree == 0)
		return -ENOMEM;
	/* From 0 (the allocator's case) no climb is needed. */
	bit = from == 0 ? bitarray_first_free(ba) : find_free_after(ba, from);
	if (bit >= ba->nbits)
		return -ENOMEM;
	*out = bit;
	return 0;
}

/* The first used bit in [from, limit), or limit if there is none;
 * from < limit <= nbits. Word at a time: O((limit - from) / 64). */
static size_t next_used(const struct bitarray *ba, size_t from, size_t limit)
{
	size_t i = from / 64;
	uint64_t w = ba->words[i] & (ALL_ONES << (from % 64));

	for (;;) {
		if (w != 0) {
			size_t bit = i * 64 + ctz64(w);

			return bit < limit ? bit : limit;
		}
		if (++i * 64 >= limit)
			return limit;
		w = ba->words[i];
	}
}

int bitarray_find_free_run(const struct bitarray *ba, size_t k, size_t *out)
{
	size_t pos = 0, start, end;
	int rc;

	if (k == 0)
		return -EINVAL;
	if (k > ba->nfree)
		return -ENOMEM;
	for (;;) {
		rc = bitarray_find_free(ba, pos, &start);
		if (rc != 0)
			return rc;
		/* Every later start leaves even less room. */
		if (k > ba->nbits - start)
			return -ENOMEM;
		end = next_used(ba, start, start + k);
		if (end == start + k) {
			*out = start;
			return 0;
		}
		/* The run is too short: skip the used bits that end it. */
		pos = end;
	}
}

bool bitarray_is_used(const struct bitarray *ba, size_t i)
{
	return bitarray_test(ba, i);
}

/* true iff every bit of [start, start + n) is `used`; false when the range
 * starts or runs past the end, true when it is empty and starts inside. */
static bool range_all(const struct bitarray *ba, size_t start, size_t n, bool used)
{
	size_t end = start + n;
	uint64_t flip = used ? ALL_ONES : 0;

	if (start >= ba->nbits || n > ba->nbits - start)
		return false;
	if (n == 0)
		return true;
	for (size_t i = start / 64; i <= (end - 1) / 64; i++) {
		/* flip turns "all used" into "all zero" */
		if (((ba->words[i] ^ flip) & range_mask(start, end, i)) != 0)
			return false;
	}
	return true;
}

bool bitarray_range_is_free(const struct bitarray *ba, size_t start, size_t n)
{
	return range_all(ba, start, n, false);
}

bool bitarray_range_is_used(const struct bitarray *ba, size_t start, size_t n)
{
	return range_all(ba, start, n, true);
}

int bitarray_load(struct bitarray *ba, const uint64_t *leaves)
{
	size_t n = ba->level_words[0], used = 0;

	if (ba->nbits % 64 != 0 && (leaves[n - 1] & (ALL_ONES << (ba->nbits % 64))) != 0)
		return -EINVAL;
	memcpy(ba->words, leaves, n * sizeof(*leaves));
	for (size_t i = 0; i < n; i++)
		used += popcount64(leaves[i]);
	/* Each summary word from its 64 children; a child past the end of its
	 * level is not full, so padding bits stay clear. */
	for (unsigned l = 0; l + 1 < ba->levels; l++) {
		const uint64_t *child = bitarray_level(ba, l);
		uint64_t *sum = bitarray_level(ba, l + 1);

		n = ba->level_words[l];
		for (size_t j = 0; j < ba->level_words[l + 1]; j++) {
			uint64_t w = 0;

			for (size_t k = 0; k < 64 && j * 64 + k < n; k++)
				w |= (uint64_t) (child[j * 64 + k] == ALL_ONES) << k;
			sum[j] = w;
		}
	}
	ba->nfree = ba->nbits - used;
	return 0;
}

/* 0 iff the summary level above level l matches level l and its padding
 * bits are clear. */
static int check_summary(const struct bitarray *ba, unsigned l)
{
	const uint64_t *child = bitarray_level(ba, l);
	const uint64_t *sum = bitarray_level(ba, l + 1);
	size_t n = ba->level_words[l];

	for (size_t j = 0; j < n; j++) {
		bool full = child[j] == ALL_ONES;
		bool bit = (sum[j / 64] >> (j % 64)) & 1;

		if (full != bit)
			return -EIO;
	}
	if (n % 64 != 0 && (sum[n / 64] & (ALL_ONES << (n % 64))) != 0)
		return -EIO;
	return 0;
}

int bitarray_check(const struct bitarray *ba)
{
	size_t level_words[BITARRAY_MAX_LEVELS];
	size_t used = 0, off = 0;
	int rc;

	if (ba->nbits == 0 || ba->nbits > BITARRAY_MAX_BITS)
		return -EIO;
	if (ba->levels != geometry(ba->nbits, level_words))
		return -EIO;
	for (unsigned l = 0; l < BITARRAY_MAX_LEVELS; l++) {
		if (ba->level_words[l] != level_words[l] || ba->level_off[l] != off)
			return -EIO;
		off += level_words[l];
	}
	if (ba->nbits % 64 != 0 &&
	    (ba->words[ba->nbits / 64] & (ALL_ONES << (ba->nbits % 64))) != 0)
		return -EIO;
	for (size_t i = 0; i < ba->level_words[0]; i++)
		used += popcount64(ba->words[i]);
	if (ba->nfree != ba->nbits - used)
		return -EIO;
	for (unsigned l = 0; l + 1 < ba->levels; l++) {
		rc = check_summary(ba, l);
		if (rc != 0)
			return rc;
	}
	return 0;
}
