/*
 * bitarray: geometry, the summary levels and their padding, every search
 * against a linear reference, range updates, and bitarray_check itself.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/bitarray.h"
#include "tests/common/seed.h"
#include "tests/core/check_core.h"

#define ALL_ONES (~(uint64_t) 0)
#define NONE     SIZE_MAX /* "no such bit" in the references */

/* ck_assert_msg() logs every check that passes (a write to Check's message
 * file), far too slow in loops of millions: FAST_CHECK only reports failure. */
#define FAST_CHECK(cond, ...)                      \
	do {                                       \
		if (!(cond))                       \
			ck_abort_msg(__VA_ARGS__); \
	} while (0)

/* A bitarray over malloc'd storage, with its shadow: used[i] is the truth. */
struct tba {
	struct bitarray ba;
	uint64_t *words;
	bool *used;
	size_t n;
};

static void tba_init(struct tba *t, size_t nbits)
{
	t->words = malloc(bitarray_words(nbits) * sizeof(*t->words));
	t->used = calloc(nbits, sizeof(*t->used));
	ck_assert_ptr_nonnull(t->words);
	ck_assert_ptr_nonnull(t->used);
	ck_assert_int_eq(bitarray_init(&t->ba, nbits, t->words), 0);
	t->n = nbits;
}

static void tba_fini(struct tba *t)
{
	free(t->words);
	free(t->used);
}

/* Back to all free. (set_free needs an entirely used range.) */
static void tba_reset(struct tba *t)
{
	ck_assert_int_eq(bitarray_init(&t->ba, t->n, t->words), 0);
	memset(t->used, 0, t->n * sizeof(*t->used));
}

static void tba_set(struct tba *t, size_t start, size_t n, bool used)
{
	if (used)
		bitarray_set_used(&t->ba, start, n);
	else
		bitarray_set_free(&t->ba, start, n);
	for (size_t i = start; i < start + n; i++)
		t->used[i] = used;
}

/* The shadow and the bitmap agree bit for bit, and every invariant holds. */
static void tba_verify(const struct tba *t)
{
	size_t nfree = 0;

	ck_assert_int_eq(bitarray_check(&t->ba), 0);
	for (size_t i = 0; i < t->n; i++) {
		FAST_CHECK(bitarray_is_used(&t->ba, i) == t->used[i], "bit %zu: used %d, want %d",
			   i, bitarray_is_used(&t->ba, i), t->used[i]);
		nfree += !t->used[i];
	}
	ck_assert_uint_eq(bitarray_count_free(&t->ba), nfree);
}

/* Random pattern: each bit used with probability permille / 1000. */
static void tba_fill_random(struct tba *t, struct test_rng *rng, unsigned permille)
{
	for (size_t i = 0; i < t->n; i++) {
		if (test_rng_below(rng, 1000) < permille)
			tba_set(t, i, 1, true);
	}
}

/* Linear reference: the lowest start of k free bits, or NONE. */
static size_t ref_find_run(const struct tba *t, size_t k)
{
	size_t run = 0;

	for (size_t i = 0; i < t->n; i++) {
		run = t->used[i] ? 0 : run + 1;
		if (run == k)
			return i + 1 - k;
	}
	return NONE;
}

static size_t find_free(const struct tba *t, size_t from)
{
	size_t out = NONE;
	int rc = bitarray_find_free(&t->ba, from, &out);

	FAST_CHECK(rc == 0 || rc == -ENOMEM, "find_free(%zu): rc %d", from, rc);
	return rc == 0 ? out : NONE;
}

static size_t find_run(const struct tba *t, size_t k)
{
	size_t out = NONE;
	int rc = bitarray_find_free_run(&t->ba, k, &out);

	FAST_CHECK(rc == 0 || rc == -ENOMEM, "find_free_run(%zu): rc %d", k, rc);
	return rc == 0 ? out : NONE;
}

/* Compile-time geometry, compared with the run-time one below. */
BITARRAY_DEFINE_WORDS(g1, 1);
BITARRAY_DEFINE_WORDS(g64, 64);
BITARRAY_DEFINE_WORDS(g65, 65);
BITARRAY_DEFINE_WORDS(g4096, 4096);
BITARRAY_DEFINE_WORDS(g4097, 4097);
BITARRAY_DEFINE_WORDS(g262145, 262145);

static uint64_t g4097_storage[g4097_total];
static struct bitarray g4097_static = BITARRAY_INITIALIZER(g4097, 4097, g4097_storage);

START_TEST(test_bitarray_words_known_sizes)
{
	ck_assert_uint_eq(bitarray_words(0), 0);
	ck_assert_uint_eq(bitarray_words(1), 1);
	ck_assert_uint_eq(bitarray_words(64), 1);
	ck_assert_uint_eq(bitarray_words(65), 3);
	ck_assert_uint_eq(bitarray_words(4096), 65);
	ck_assert_uint_eq(bitarray_words(4097), 68);
	ck_assert_uint_eq(bitarray_words(262144), 4096 + 64 + 1);
	ck_assert_uint_eq(bitarray_words(262145), 4097 + 65 + 2 + 1);
	ck_assert_uint_eq(bitarray_words(BITARRAY_MAX_BITS),
			  ((size_t) 1 << 30) + ((size_t) 1 << 24) + ((size_t) 1 << 18) + 4096 + 64 +
			      1);
	ck_assert_uint_eq(bitarray_words(BITARRAY_MAX_BITS + 1), 0);
	ck_assert_uint_eq(bitarray_words(SIZE_MAX), 0);
}
END_TEST

START_TEST(test_bitarray_words_overhead_bound)
{
	static const size_t sizes[] = {65536, 70000, (size_t) 1 << 24, BITARRAY_MAX_BITS};

	/* At most 1.1 bits of storage per block, i.e. bits * 10 <= n * 11. */
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t bits = bitarray_words(sizes[i]) * 64;

		ck_assert_msg(bits * 10 <= sizes[i] * 11, "%zu blocks: %zu bits of bitmap",
			      sizes[i], bits);
	}
	ck_assert_uint_eq(bitarray_words(65536), 1024 + 16 + 1);
}
END_TEST

START_TEST(test_bitarray_init_rejects_bad_args)
{
	struct bitarray ba;
	uint64_t words[4];

	ck_assert_int_eq(bitarray_init(NULL, 64, words), -EINVAL);
	ck_assert_int_eq(bitarray_init(&ba, 64, NULL), -EINVAL);
	ck_assert_int_eq(bitarray_init(&ba, 0, words), -EINVAL);
	ck_assert_int_eq(bitarray_init(&ba, BITARRAY_MAX_BITS + 1, words), -EINVAL);
}
END_TEST

static void check_geometry(size_t nbits, const size_t want_words[BITARRAY_MAX_LEVELS],
			   unsigned want_levels)
{
	struct tba t;
	size_t off = 0;

	tba_init(&t, nbits);
	ck_assert_uint_eq(t.ba.levels, want_levels);
	for (unsigned l = 0; l < BITARRAY_MAX_LEVELS; l++) {
		ck_assert_msg(t.ba.level_words[l] == want_words[l] && t.ba.level_off[l] == off,
			      "%zu bits, level %u: %zu words at %zu, want %zu at %zu", nbits, l,
			      t.ba.level_words[l], t.ba.level_off[l], want_words[l], off);
		off += want_words[l];
	}
	ck_assert_uint_eq(off, bitarray_words(nbits));
	tba_fini(&t);
}

#define GEOMETRY(g) ((const size_t[]){g##_w0, g##_w1, g##_w2, g##_w3, g##_w4, g##_w5})

START_TEST(test_bitarray_init_geometry_matches_macros)
{
	check_geometry(1, GEOMETRY(g1), 1);
	check_geometry(64, GEOMETRY(g64), 1);
	check_geometry(65, GEOMETRY(g65), 2);
	check_geometry(4096, GEOMETRY(g4096), 2);
	check_geometry(4097, GEOMETRY(g4097), 3);
	check_geometry(262145, GEOMETRY(g262145), 4);
	ck_assert_uint_eq(g262145_total, bitarray_words(262145));
	ck_assert_uint_eq(g262145_w2, 2);
}
END_TEST

START_TEST(test_bitarray_init_clears_storage)
{
	size_t n = bitarray_words(4097);
	uint64_t *words = malloc(n * sizeof(*words));
	struct bitarray ba;

	ck_assert_ptr_nonnull(words);
	memset(words, 0xa5, n * sizeof(*words));
	ck_assert_int_eq(bitarray_init(&ba, 4097, words), 0);
	for (size_t i = 0; i < n; i++)
		FAST_CHECK(words[i] == 0, "word %zu = %#llx", i, (unsigned long long) words[i]);
	ck_assert_uint_eq(bitarray_count_free(&ba), 4097);
	ck_assert_int_eq(bitarray_check(&ba), 0);
	free(words);
}
END_TEST

START_TEST(test_bitarray_static_zero_storage_is_empty)
{
	struct bitarray *ba = &g4097_static;
	size_t out = NONE;

	ck_assert_int_eq(bitarray_check(ba), 0);
	ck_assert_uint_eq(bitarray_count_free(ba), 4097);
	ck_assert_int_eq(bitarray_find_free(ba, 0, &out), 0);
	ck_assert_uint_eq(out, 0);
	ck_assert_int_eq(bitarray_find_free_run(ba, 4097, &out), 0);
	ck_assert_uint_eq(out, 0);
	/* It is a working bitmap, not only an empty one. */
	bitarray_set_used(ba, 0, 4097);
	ck_assert_int_eq(bitarray_check(ba), 0);
	ck_assert_int_eq(bitarray_find_free(ba, 0, &out), -ENOMEM);
	bitarray_set_free(ba, 0, 4097);
	ck_assert_int_eq(bitarray_check(ba), 0);
	ck_assert_uint_eq(bitarray_count_free(ba), 4097);
}
END_TEST

START_TEST(test_bitarray_one_bit)
{
	struct tba t;

	tba_init(&t, 1);
	ck_assert_uint_eq(t.ba.levels, 1);
	ck_assert_uint_eq(find_free(&t, 0), 0);
	ck_assert_uint_eq(find_free(&t, 1), NONE);
	ck_assert_uint_eq(find_run(&t, 1), 0);
	ck_assert_uint_eq(find_run(&t, 2), NONE);
	tba_set(&t, 0, 1, true);
	tba_verify(&t);
	ck_assert_uint_eq(find_free(&t, 0), NONE);
	ck_assert_uint_eq(find_run(&t, 1), NONE);
	tba_set(&t, 0, 1, false);
	tba_verify(&t);
	ck_assert_uint_eq(find_run(&t, 1), 0);
	tba_fini(&t);
}
END_TEST

static void check_every_position(struct tba *t, const char *pattern)
{
	size_t next = NONE;

	tba_verify(t);
	/* Walk down so that the reference "next free at or after i" is
	 * carried along in O(1). */
	for (size_t i = t->n + 2; i-- > 0;) {
		if (i < t->n && !t->used[i])
			next = i;
		FAST_CHECK(find_free(t, i) == (i < t->n ? next : NONE),
			   "%zu bits, %s, from %zu: got %zu, want %zu", t->n, pattern, i,
			   find_free(t, i), i < t->n ? next : NONE);
	}
}

START_TEST(test_bitarray_find_free_from_every_position)
{
	static const size_t sizes[] = {1, 2, 63, 64, 65, 127, 128, 129, 4095, 4096, 4097};
	struct test_rng rng;
	struct tba t;

	test_rng_init(&rng, test_seed("bitarray find_free"));
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t n = sizes[s];

		tba_init(&t, n);
		check_every_position(&t, "empty");
		tba_set(&t, 0, n, true);
		check_every_position(&t, "full");
		tba_set(&t, n - 1, 1, false);
		check_every_position(&t, "last free");
		tba_set(&t, n - 1, 1, true);
		tba_set(&t, 0, 1, false);
		check_every_position(&t, "first free");
		tba_reset(&t);
		tba_fill_random(&t, &rng, 500);
		check_every_position(&t, "half used");
		tba_reset(&t);
		tba_fill_random(&t, &rng, 980);
		check_every_position(&t, "98% used");
		tba_fini(&t);
	}
}
END_TEST

START_TEST(test_bitarray_find_free_past_end)
{
	struct tba t;

	tba_init(&t, 100);
	ck_assert_uint_eq(find_free(&t, 99), 99);
	ck_assert_uint_eq(find_free(&t, 100), NONE);
	ck_assert_uint_eq(find_free(&t, 128), NONE);
	ck_assert_uint_eq(find_free(&t, SIZE_MAX), NONE);
	tba_fini(&t);
}
END_TEST

/* The summary words for 4097 bits when all are used: the last leaf word has
 * one real bit, so it never reads as full, and neither does anything above
 * it; searches must still report that nothing is free. */
START_TEST(test_bitarray_summary_bits_with_padding)
{
	struct tba t;
	const uint64_t *l1, *l2;

	tba_init(&t, 4097);
	tba_set(&t, 0, 4097, true);
	tba_verify(&t);
	l1 = t.words + t.ba.level_off[1];
	l2 = t.words + t.ba.level_off[2];
	ck_assert_uint_eq(t.words[64], 1);
	ck_assert_uint_eq(l1[0], ALL_ONES);
	ck_assert_uint_eq(l1[1], 0);
	ck_assert_uint_eq(l2[0], 1);
	ck_assert_uint_eq(find_free(&t, 0), NONE);
	ck_assert_uint_eq(find_free(&t, 4096), NONE);
	ck_assert_uint_eq(find_run(&t, 1), NONE);
	/* Freeing one leaf bit of a full 64-word group clears the path up. */
	tba_set(&t, 100, 1, false);
	tba_verify(&t);
	ck_assert_uint_eq(l1[0], ALL_ONES & ~((uint64_t) 1 << 1));
	ck_assert_uint_eq(l2[0], 0);
	ck_assert_uint_eq(find_free(&t, 0), 100);
	tba_fini(&t);
}
END_TEST

START_TEST(test_bitarray_full_array_has_no_free_bit)
{
	/* 4160 and 266240 fill every leaf word, yet their last summary word
	 * has padding: the search must not descend into a padding child. */
	static const size_t sizes[] = {1,    63,   64,     65,     4095,   4096,
				       4097, 4160, 262144, 262145, 266240, 266305};
	struct tba t;

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		tba_init(&t, sizes[s]);
		bitarray_set_used(&t.ba, 0, sizes[s]);
		ck_assert_int_eq(bitarray_check(&t.ba), 0);
		ck_assert_uint_eq(bitarray_count_free(&t.ba), 0);
		/* Past the short-cut on nfree == 0: free bit 0 so that the
		 * search must walk the summaries from every later start. */
		bitarray_set_free(&t.ba, 0, 1);
		for (size_t from = 1; from < sizes[s]; from += 61)
			FAST_CHECK(find_free(&t, from) == NONE, "%zu bits from %zu: got %zu",
				   sizes[s], from, find_free(&t, from));
		ck_assert_uint_eq(find_free(&t, sizes[s] - 1), sizes[s] == 1 ? 0 : NONE);
		ck_assert_uint_eq(find_run(&t, 2), NONE);
		tba_fini(&t);
	}
}
END_TEST

START_TEST(test_bitarray_summary_propagation_at_level_boundaries)
{
	static const size_t sizes[] = {64, 65, 4096, 4097, 262144, 262145};
	static const size_t marks[] = {0, 63, 64, 4095, 4096, 262143, 262144};
	struct tba t;

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t n = sizes[s];

		tba_init(&t, n);
		tba_set(&t, 0, n, true);
		ck_assert_int_eq(bitarray_check(&t.ba), 0);
		/* A size that is a power of 64 fills the top word. */
		ck_assert_uint_eq(t.words[t.ba.level_off[t.ba.levels - 1]] == ALL_ONES,
				  n == 64 || n == 4096 || n == 262144);
		for (size_t m = 0; m <= sizeof(marks) / sizeof(marks[0]); m++) {
			size_t b = m < sizeof(marks) / sizeof(marks[0]) ? marks[m] : n - 1;

			if (b >= n)
				continue;
			bitarray_set_free(&t.ba, b, 1);
			ck_assert_int_eq(bitarray_check(&t.ba), 0);
			ck_assert_msg(find_free(&t, 0) == b, "%zu bits, bit %zu free: found %zu", n,
				      b, find_free(&t, 0));
			ck_assert_uint_eq(find_free(&t, b + 1), NONE);
			ck_assert_uint_eq(find_run(&t, 1), b);
			ck_assert_uint_eq(find_run(&t, 2), NONE);
			bitarray_set_used(&t.ba, b, 1);
			ck_assert_int_eq(bitarray_check(&t.ba), 0);
			ck_assert_uint_eq(find_free(&t, 0), NONE);
		}
		tba_fini(&t);
	}
}
END_TEST

START_TEST(test_bitarray_find_free_run_across_words)
{
	struct tba t;

	tba_init(&t, 256);
	tba_set(&t, 0, 60, true); /* 60..69 free: crosses the first word */
	tba_set(&t, 70, 1, true); /* 71..200 free: three words */
	tba_set(&t, 201, 55, true);
	tba_verify(&t);
	ck_assert_uint_eq(find_run(&t, 1), 60);
	ck_assert_uint_eq(find_run(&t, 10), 60);
	ck_assert_uint_eq(find_run(&t, 11), 71);
	ck_assert_uint_eq(find_run(&t, 130), 71);
	ck_assert_uint_eq(find_run(&t, 131), NONE);
	/* A run that ends exactly at the last bit. */
	tba_set(&t, 201, 55, false);
	ck_assert_uint_eq(find_run(&t, 185), 71);
	ck_assert_uint_eq(find_run(&t, 186), NONE);
	tba_fini(&t);
}
END_TEST

START_TEST(test_bitarray_find_free_run_rejects)
{
	struct tba t;
	size_t out = 12345;

	tba_init(&t, 128);
	ck_assert_int_eq(bitarray_find_free_run(&t.ba, 0, &out), -EINVAL);
	ck_assert_uint_eq(out, 12345);
	ck_assert_uint_eq(find_run(&t, 129), NONE);
	ck_assert_uint_eq(find_run(&t, 128), 0);
	/* Every other bit used: 64 free, but no run of 2. */
	for (size_t i = 0; i < 128; i += 2)
		tba_set(&t, i, 1, true);
	ck_assert_uint_eq(bitarray_count_free(&t.ba), 64);
	ck_assert_uint_eq(find_run(&t, 1), 1);
	ck_assert_uint_eq(find_run(&t, 2), NONE);
	ck_assert_uint_eq(find_run(&t, 65), NONE);
	tba_fini(&t);
}
END_TEST

START_TEST(test_bitarray_find_free_run_matches_linear_scan)
{
	static const size_t sizes[] = {100, 1000, 4097};
	static const unsigned density[] = {300, 700, 950};
	struct test_rng rng;
	struct tba t;

	test_rng_init(&rng, test_seed("bitarray find_free_run"));
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		for (size_t d = 0; d < sizeof(density) / sizeof(density[0]); d++) {
			tba_init(&t, sizes[s]);
			tba_fill_random(&t, &rng, density[d]);
			tba_verify(&t);
			for (size_t k = 1; k <= 200; k += 1 + k / 8) {
				size_t want = ref_find_run(&t, k);

				FAST_CHECK(find_run(&t, k) == want,
					   "%zu bits, %u permille used, k %zu: got %zu, want %zu",
					   sizes[s], density[d], k, find_run(&t, k), want);
			}
			tba_fini(&t);
		}
	}
}
END_TEST

START_TEST(test_bitarray_set_range_word_at_a_time)
{
	struct test_rng rng;
	struct tba t;

	test_rng_init(&rng, test_seed("bitarray set range"));
	tba_init(&t, 300);
	for (int step = 0; step < 2000; step++) {
		size_t start = test_rng_below(&rng, 300);
		size_t n = 1 + test_rng_below(&rng, 300 - start);
		bool used = t.used[start];
		size_t len = 0;

		/* The longest prefix of [start, start + n) in one state, so
		 * the precondition (all free / all used) holds. */
		while (len < n && t.used[start + len] == used)
			len++;
		tba_set(&t, start, len, !used);
		tba_verify(&t);
		FAST_CHECK(bitarray_range_is_used(&t.ba, start, len) == !used,
			   "step %d: [%zu, +%zu) not all used", step, start, len);
		FAST_CHECK(bitarray_range_is_free(&t.ba, start, len) == used,
			   "step %d: [%zu, +%zu) not all free", step, start, len);
	}
	tba_fini(&t);
}
END_TEST

START_TEST(test_bitarray_set_out_of_bounds_ignored)
{
	struct tba t;

	tba_init(&t, 100);
	bitarray_set_used(&t.ba, 99, 2);
	bitarray_set_used(&t.ba, 100, 1);
	bitarray_set_used(&t.ba, 1, SIZE_MAX);
	bitarray_set_used(&t.ba, SIZE_MAX, 2);
	tba_verify(&t);
	ck_assert_uint_eq(bitarray_count_free(&t.ba), 100);
	tba_set(&t, 0, 100, true);
	bitarray_set_free(&t.ba, 99, 2);
	bitarray_set_free(&t.ba, 2, SIZE_MAX - 1);
	tba_verify(&t);
	ck_assert_uint_eq(bitarray_count_free(&t.ba), 0);
	tba_fini(&t);
}
END_TEST

START_TEST(test_bitarray_range_queries)
{
	struct tba t;

	tba_init(&t, 130);
	tba_set(&t, 60, 10, true);
	ck_assert(bitarray_range_is_free(&t.ba, 0, 60));
	ck_assert(!bitarray_range_is_free(&t.ba, 0, 61));
	ck_assert(!bitarray_range_is_free(&t.ba, 69, 1));
	ck_assert(bitarray_range_is_free(&t.ba, 70, 60));
	ck_assert(!bitarray_range_is_free(&t.ba, 70, 61));
	ck_assert(!bitarray_range_is_free(&t.ba, 129, SIZE_MAX));
	ck_assert(bitarray_range_is_free(&t.ba, 129, 0));
	ck_assert(!bitarray_range_is_free(&t.ba, 130, 0));
	ck_assert(bitarray_range_is_used(&t.ba, 60, 10));
	ck_assert(!bitarray_range_is_used(&t.ba, 59, 2));
	ck_assert(!bitarray_range_is_used(&t.ba, 69, 2));
	ck_assert(!bitarray_range_is_used(&t.ba, 130, 1));
	tba_set(&t, 0, 130, true);
	ck_assert(bitarray_range_is_used(&t.ba, 0, 130));
	ck_assert(!bitarray_range_is_used(&t.ba, 0, 131));
	tba_fini(&t);
}
END_TEST

START_TEST(test_bitarray_check_detects_corruption)
{
	struct tba t;
	uint64_t *l1;

	tba_init(&t, 4097);
	tba_set(&t, 0, 64, true);
	ck_assert_int_eq(bitarray_check(&t.ba), 0);
	l1 = t.words + t.ba.level_off[1];

	l1[0] ^= 1; /* summary says word 0 is not full */
	ck_assert_int_ne(bitarray_check(&t.ba), 0);
	l1[0] ^= 1;
	l1[0] ^= 2; /* summary says word 1 is full */
	ck_assert_int_ne(bitarray_check(&t.ba), 0);
	l1[0] ^= 2;
	t.words[t.ba.level_off[2]] ^= 1; /* top: level-1 word 0 is full */
	ck_assert_int_ne(bitarray_check(&t.ba), 0);
	t.words[t.ba.level_off[2]] ^= 1;
	t.words[64] |= 2; /* a padding bit past bit 4096 */
	ck_assert_int_ne(bitarray_check(&t.ba), 0);
	t.words[64] &= ~(uint64_t) 2;
	l1[1] |= (uint64_t) 1 << 1; /* summary padding: there is no leaf word 65 */
	ck_assert_int_ne(bitarray_check(&t.ba), 0);
	l1[1] = 0;
	t.ba.nfree++;
	ck_assert_int_ne(bitarray_check(&t.ba), 0);
	t.ba.nfree--;
	t.ba.level_words[1]++;
	ck_assert_int_ne(bitarray_check(&t.ba), 0);
	t.ba.level_words[1]--;
	t.ba.levels++;
	ck_assert_int_ne(bitarray_check(&t.ba), 0);
	t.ba.levels--;
	t.ba.nbits = 0;
	ck_assert_int_ne(bitarray_check(&t.ba), 0);
	t.ba.nbits = 4097;
	ck_assert_int_eq(bitarray_check(&t.ba), 0);
	tba_fini(&t);
}
END_TEST

/* Random set/clear of whole free or used runs, with every search checked
 * against the shadow after each step. */
static void random_ops(size_t nbits, int steps, uint64_t seed)
{
	struct test_rng rng;
	struct tba t;

	test_rng_init(&rng, seed ^ nbits); /* the messages give seed and nbits */
	tba_init(&t, nbits);
	for (int step = 0; step < steps; step++) {
		size_t start = test_rng_below(&rng, nbits), len = 0, k, from, want;
		size_t max = 1 + test_rng_below(&rng, 200);
		bool used = t.used[start];

		while (len < max && start + len < nbits && t.used[start + len] == used)
			len++;
		tba_set(&t, start, len, !used);
		FAST_CHECK(bitarray_check(&t.ba) == 0, "seed %llu, %zu bits, step %d: check failed",
			   (unsigned long long) seed, nbits, step);

		from = test_rng_below(&rng, nbits);
		for (want = from; want < nbits && t.used[want]; want++)
			;
		FAST_CHECK(find_free(&t, from) == (want < nbits ? want : NONE),
			   "seed %llu, %zu bits, step %d: find_free(%zu) = %zu, want %zu",
			   (unsigned long long) seed, nbits, step, from, find_free(&t, from), want);
		k = 1 + test_rng_below(&rng, 100);
		want = ref_find_run(&t, k);
		FAST_CHECK(find_run(&t, k) == want,
			   "seed %llu, %zu bits, step %d: find_free_run(%zu) = %zu, want %zu",
			   (unsigned long long) seed, nbits, step, k, find_run(&t, k), want);
	}
	tba_verify(&t);
	tba_fini(&t);
}

START_TEST(test_bitarray_random_ops_match_model)
{
	uint64_t seed = test_seed("bitarray random");

	random_ops(4097, 3000, seed);
	random_ops(70000, 600, seed);
}
END_TEST

Suite *bitarray_suite(void)
{
	Suite *s = suite_create("bitarray");
	TCase *geo = tcase_create("geometry");
	TCase *search = tcase_create("search");
	TCase *update = tcase_create("update");

	tcase_add_test(geo, test_bitarray_words_known_sizes);
	tcase_add_test(geo, test_bitarray_words_overhead_bound);
	tcase_add_test(geo, test_bitarray_init_rejects_bad_args);
	tcase_add_test(geo, test_bitarray_init_geometry_matches_macros);
	tcase_add_test(geo, test_bitarray_init_clears_storage);
	tcase_add_test(geo, test_bitarray_static_zero_storage_is_empty);
	tcase_add_test(geo, test_bitarray_one_bit);
	suite_add_tcase(s, geo);

	tcase_add_test(search, test_bitarray_find_free_from_every_position);
	tcase_add_test(search, test_bitarray_find_free_past_end);
	tcase_add_test(search, test_bitarray_summary_bits_with_padding);
	tcase_add_test(search, test_bitarray_full_array_has_no_free_bit);
	tcase_add_test(search, test_bitarray_summary_propagation_at_level_boundaries);
	tcase_add_test(search, test_bitarray_find_free_run_across_words);
	tcase_add_test(search, test_bitarray_find_free_run_rejects);
	tcase_add_test(search, test_bitarray_find_free_run_matches_linear_scan);
	tcase_set_timeout(search, 30);
	suite_add_tcase(s, search);

	tcase_add_test(update, test_bitarray_set_range_word_at_a_time);
	tcase_add_test(update, test_bitarray_set_out_of_bounds_ignored);
	tcase_add_test(update, test_bitarray_range_queries);
	tcase_add_test(update, test_bitarray_check_detects_corruption);
	tcase_add_test(update, test_bitarray_random_ops_match_model);
	tcase_set_timeout(update, 30);
	suite_add_tcase(s, update);
	return s;
}
