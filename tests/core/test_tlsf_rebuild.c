/*
 * tlsf_rebuild: the heap a takeover makes from the books' spans. Laid-out
 * cases check the chain it builds (gaps merged, none at the ends, the full
 * and the empty heap, the last granule of the largest heap), the list order
 * it promises (largest block at each head, so largest_free is exact), fresh
 * ids, and that it does not depend on the heap's history. Every bad input is
 * refused with -EINVAL and changes nothing: the refused heap then answers a
 * run of allocations and frees exactly as an untouched twin does.
 * test_tlsf_random.c checks rebuilds of random heaps against its model.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/tlsf.h"
#include "tests/core/check_core.h"

#define LOCKSTEP_STEPS 400
#define LOCKSTEP_LIVE  64

static tlsf_t *heap(uint64_t size, uint32_t granule, uint32_t max_allocs)
{
	tlsf_t *t = tlsf_create(size, granule, max_allocs);

	ck_assert_msg(t != NULL, "tlsf_create(%llu, %u, %u): errno %d", (unsigned long long) size,
		      granule, max_allocs, errno);
	return t;
}

/* A fresh heap rebuilt from live[0..n), checked. */
static tlsf_t *rebuilt(uint64_t size, uint32_t granule, uint32_t max_allocs,
		       const struct tlsf_span *live, size_t n)
{
	tlsf_t *t = heap(size, granule, max_allocs);
	int rc = tlsf_rebuild(t, live, n);

	ck_assert_msg(rc == 0, "tlsf_rebuild of %zu spans = %d", n, rc);
	ck_assert_int_eq(tlsf_check(t), 0);
	return t;
}

static struct tlsf_stats stats_of(const tlsf_t *t)
{
	struct tlsf_stats s;

	memset(&s, 0, sizeof(s));
	tlsf_get_stats(t, &s);
	return s;
}

/* Every span is live with its size, under distinct ids below the limit. */
static void expect_live(const tlsf_t *t, const struct tlsf_span *live, size_t n)
{
	uint32_t limit = tlsf_id_limit(t);
	bool *seen = calloc(limit, sizeof(*seen));

	ck_assert_ptr_nonnull(seen);
	for (size_t i = 0; i < n; i++) {
		uint32_t id = UINT32_MAX;
		int rc = tlsf_id_of(t, live[i].offset, &id);

		ck_assert_msg(rc == 0 && id < limit && !seen[id],
			      "span %zu at %llu: id_of %d, id %u", i,
			      (unsigned long long) live[i].offset, rc, id);
		seen[id] = true;
		ck_assert_uint_eq(tlsf_usable_size(t, live[i].offset), live[i].size);
	}
	free(seen);
}

static uint64_t lockstep_next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/*
 * a and b answer the same run of allocations (sizes up to a quarter of the
 * heap, some aligned) and frees (of what that run allocated, and of one
 * offset that is no allocation) the same way: the same errors, the same
 * offsets. Two heaps whose chains and lists are the same do; a heap a bad
 * call changed in any way that matters would not.
 */
static void expect_same_answers(tlsf_t *a, tlsf_t *b, uint64_t seed)
{
	uint64_t mine[LOCKSTEP_LIVE], x = seed | 1, quarter = stats_of(a).size / 4;
	size_t n = 0;

	ck_assert_uint_eq(stats_of(a).size, stats_of(b).size);
	for (int step = 0; step < LOCKSTEP_STEPS; step++) {
		uint64_t r = lockstep_next(&x), oa = 1, ob = 2;
		int ra, rb;

		if (n > 0 && (r % 3 == 0 || n == LOCKSTEP_LIVE)) {
			size_t i = (size_t) (r >> 8) % n;

			ra = tlsf_free(a, mine[i]);
			rb = tlsf_free(b, mine[i]);
			ck_assert_msg(ra == 0 && rb == 0, "step %d: free(%llu) = %d and %d", step,
				      (unsigned long long) mine[i], ra, rb);
			mine[i] = mine[--n];
		} else if (r % 7 == 1) {
			/* No allocation starts at the end. */
			ra = tlsf_free(a, stats_of(a).size);
			rb = tlsf_free(b, stats_of(b).size);
			ck_assert_msg(ra == -EFAULT && rb == -EFAULT,
				      "step %d: bad free = %d and %d", step, ra, rb);
		} else {
			uint64_t size = 1 + (r >> 16) % (quarter > 0 ? quarter : 1);
			uint64_t align = r % 5 == 0 ? UINT64_C(1) << ((r >> 8) % 12) : 1;

			ra = tlsf_alloc(a, size, align, &oa);
			rb = tlsf_alloc(b, size, align, &ob);
			ck_assert_msg(
			    ra == rb && (ra != 0 || oa == ob),
			    "step %d: alloc(%llu, align %llu) = %d at %llu and %d at %llu", step,
			    (unsigned long long) size, (unsigned long long) align, ra,
			    (unsigned long long) oa, rb, (unsigned long long) ob);
			if (ra == 0)
				mine[n++] = oa;
		}
	}
	ck_assert_int_eq(tlsf_check(a), 0);
	ck_assert_int_eq(tlsf_check(b), 0);
}

/* tlsf_rebuild(t, live, n) is refused and t is as it was: the same stats to
 * the byte, and it answers like twin, a heap made the same way. */
static void expect_refused(tlsf_t *t, tlsf_t *twin, const char *what, const struct tlsf_span *live,
			   size_t n)
{
	struct tlsf_stats before = stats_of(t), after;
	int rc = tlsf_rebuild(t, live, n);

	ck_assert_msg(rc == -EINVAL, "%s: tlsf_rebuild = %d, want -EINVAL", what, rc);
	after = stats_of(t);
	ck_assert_msg(memcmp(&before, &after, sizeof(before)) == 0,
		      "%s: refused but changed the stats", what);
	ck_assert_int_eq(tlsf_check(t), 0);
	expect_same_answers(t, twin, 0x5eed);
}

START_TEST(test_tlsf_rebuild_nothing_live)
{
	tlsf_t *t = rebuilt(64 * 1024, 16, 32, NULL, 0);
	tlsf_t *fresh = heap(64 * 1024, 16, 32);
	struct tlsf_stats s = stats_of(t), f = stats_of(fresh);

	ck_assert_msg(memcmp(&s, &f, sizeof(s)) == 0, "rebuilt from nothing != tlsf_create");
	expect_same_answers(t, fresh, 1);
	tlsf_destroy(t);
	tlsf_destroy(fresh);
}
END_TEST

/* Gaps at the start, between spans and at the end; spans that touch. */
START_TEST(test_tlsf_rebuild_layout)
{
	static const struct tlsf_span live[] = {
	    {64, 32}, {96, 16}, {256, 48}, {512, 256}, {4032, 32},
	};
	tlsf_t *t = rebuilt(8192, 16, 16, live, 5);
	struct tlsf_stats s = stats_of(t);

	expect_live(t, live, 5);
	ck_assert_uint_eq(s.live, 5);
	ck_assert_uint_eq(s.used, 32 + 16 + 48 + 256 + 32);
	ck_assert_uint_eq(s.free, 8192 - s.used);
	ck_assert_uint_eq(s.peak_used, s.used);
	ck_assert_uint_eq(s.failed, 0);
	/* [0, 64), [112, 256), [304, 512), [768, 4032), [4064, 8192) */
	ck_assert_uint_eq(s.free_blocks, 5);
	ck_assert_uint_eq(s.largest_free, 8192 - 4064);
	/* Gaps and span interiors are no allocation. */
	ck_assert_int_eq(tlsf_free(t, 0), -EFAULT);
	ck_assert_int_eq(tlsf_free(t, 112), -EFAULT);
	ck_assert_int_eq(tlsf_free(t, 528), -EFAULT);
	ck_assert_int_eq(tlsf_free(t, 4064), -EFAULT);
	/* Each free merges as in any heap: all of them leave one block. */
	for (size_t i = 0; i < 5; i++) {
		ck_assert_int_eq(tlsf_free(t, live[i].offset), 0);
		ck_assert_int_eq(tlsf_check(t), 0);
	}
	s = stats_of(t);
	ck_assert_uint_eq(s.free_blocks, 1);
	ck_assert_uint_eq(s.largest_free, 8192);
	tlsf_destroy(t);
}
END_TEST

/*
 * Three gaps of one class (1024 - 1055 granules), the largest in the middle:
 * it must head the list, so largest_free is exact and a request of 1045 --
 * above the smallest of the class, so found only by the look at the head of
 * its exact class -- fits there. Pushed in offset order, the head would be
 * the last gap, 1040, and the request refused.
 */
START_TEST(test_tlsf_rebuild_largest_heads_its_list)
{
	static const struct tlsf_span live[] = {
	    {0, 10},
	    {10 + 1030, 10},
	    {1050 + 1050, 10},
	    {2110 + 1040, 8192 - 3150},
	};
	tlsf_t *t = rebuilt(8192, 1, 8, live, 4);
	uint64_t off = 0;

	ck_assert_uint_eq(stats_of(t).free_blocks, 3);
	ck_assert_uint_eq(stats_of(t).largest_free, 1050);
	ck_assert_int_eq(tlsf_alloc(t, 1045, 1, &off), 0);
	ck_assert_uint_eq(off, 1050);
	ck_assert_int_eq(tlsf_check(t), 0);
	tlsf_destroy(t);
}
END_TEST

/* Spans that fill the heap: no free block, nothing more fits, and a free
 * opens exactly its own room. */
START_TEST(test_tlsf_rebuild_full_heap)
{
	static const struct tlsf_span live[] = {{0, 4096}, {4096, 64}, {4160, 4096 - 64}};
	tlsf_t *t = rebuilt(8192, 64, 3, live, 3);
	struct tlsf_stats s = stats_of(t);
	uint64_t off = 0;

	ck_assert_uint_eq(s.free_blocks, 0);
	ck_assert_uint_eq(s.largest_free, 0);
	ck_assert_uint_eq(s.used, 8192);
	ck_assert_int_eq(tlsf_alloc(t, 64, 1, &off), -ENOMEM);
	ck_assert_int_eq(tlsf_free(t, 4096), 0);
	ck_assert_uint_eq(stats_of(t).largest_free, 64);
	ck_assert_int_eq(tlsf_alloc(t, 64, 1, &off), 0);
	ck_assert_uint_eq(off, 4096);
	ck_assert_int_eq(tlsf_check(t), 0);
	tlsf_destroy(t);
}
END_TEST

/* max_allocs spans are taken, one more is not; no room is left for a record
 * short of 2 * live + 1 blocks (one-granule gaps around every span). */
START_TEST(test_tlsf_rebuild_max_allocs)
{
	enum { MAX = 100 };
	struct tlsf_span live[MAX + 1];
	tlsf_t *t, *twin;
	uint64_t off = 0;

	for (size_t i = 0; i <= MAX; i++)
		live[i] = (struct tlsf_span){.offset = 16 + 32 * i, .size = 16};
	t = rebuilt(32 * (MAX + 2), 16, MAX, live, MAX);
	ck_assert_uint_eq(stats_of(t).live, MAX);
	ck_assert_uint_eq(stats_of(t).free_blocks, MAX + 1);
	expect_live(t, live, MAX);
	ck_assert_int_eq(tlsf_alloc(t, 16, 1, &off), -ENOMEM);
	tlsf_destroy(t);

	t = heap(32 * (MAX + 2), 16, MAX);
	twin = heap(32 * (MAX + 2), 16, MAX);
	expect_refused(t, twin, "max_allocs + 1 spans", live, MAX + 1);
	tlsf_destroy(t);
	tlsf_destroy(twin);
}
END_TEST

/* The largest heap (2^32 - 1 granules of one byte) with a span on its last
 * granule: offsets and ends at the top of uint32_t. */
START_TEST(test_tlsf_rebuild_largest_heap)
{
	static const struct tlsf_span live[] = {{0, 1}, {UINT32_MAX - 1, 1}};
	tlsf_t *t = rebuilt(UINT32_MAX, 1, 4, live, 2);
	struct tlsf_stats s = stats_of(t);

	expect_live(t, live, 2);
	ck_assert_uint_eq(s.free_blocks, 1);
	ck_assert_uint_eq(s.largest_free, UINT32_MAX - 2);
	ck_assert_int_eq(tlsf_free(t, UINT32_MAX - 1), 0);
	ck_assert_int_eq(tlsf_free(t, 0), 0);
	ck_assert_uint_eq(stats_of(t).largest_free, UINT32_MAX);
	ck_assert_int_eq(tlsf_check(t), 0);
	tlsf_destroy(t);
}
END_TEST

/* A heap whose allocations were all freed rebuilds as a fresh one does: the
 * same answers and the same ids, whatever records its history used. Its
 * peak is kept, its refusals counted as before. */
START_TEST(test_tlsf_rebuild_after_history)
{
	static const struct tlsf_span live[] = {{0, 256}, {1024, 64}, {2048, 512}, {3072, 1024}};
	tlsf_t *t = heap(64 * 1024, 64, 32), *fresh = rebuilt(64 * 1024, 64, 32, live, 4);
	uint64_t off[20], bad;

	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(tlsf_alloc(t, 64 + 64 * (uint64_t) i, 1, &off[i]), 0);
	ck_assert_int_eq(tlsf_alloc(t, 1 << 20, 1, &bad), -ENOMEM);
	for (int i = 0; i < 20; i += 2)
		ck_assert_int_eq(tlsf_free(t, off[i]), 0);
	for (int i = 19; i > 0; i -= 2)
		ck_assert_int_eq(tlsf_free(t, off[i]), 0);
	ck_assert_int_eq(tlsf_rebuild(t, live, 4), 0);
	ck_assert_int_eq(tlsf_check(t), 0);
	ck_assert_uint_eq(stats_of(t).peak_used, 64 * 210);
	ck_assert_uint_eq(stats_of(t).failed, 1);
	for (size_t i = 0; i < 4; i++) {
		uint32_t a = 0, b = 1;

		ck_assert_int_eq(tlsf_id_of(t, live[i].offset, &a), 0);
		ck_assert_int_eq(tlsf_id_of(fresh, live[i].offset, &b), 0);
		ck_assert_uint_eq(a, b);
	}
	expect_same_answers(t, fresh, 7);
	tlsf_destroy(t);
	tlsf_destroy(fresh);
}
END_TEST

START_TEST(test_tlsf_rebuild_rejects_null)
{
	static const struct tlsf_span live[] = {{0, 16}};
	tlsf_t *t = heap(4096, 16, 8), *twin = heap(4096, 16, 8);

	ck_assert_int_eq(tlsf_rebuild(NULL, live, 1), -EINVAL);
	ck_assert_int_eq(tlsf_rebuild(NULL, NULL, 0), -EINVAL);
	expect_refused(t, twin, "NULL spans", NULL, 1);
	tlsf_destroy(t);
	tlsf_destroy(twin);
}
END_TEST

/* A heap with a live allocation is refused, and keeps it. */
START_TEST(test_tlsf_rebuild_rejects_busy_heap)
{
	static const struct tlsf_span live[] = {{1024, 16}};
	tlsf_t *t = heap(4096, 16, 8), *twin = heap(4096, 16, 8);
	uint64_t a, b;

	ck_assert_int_eq(tlsf_alloc(t, 100, 1, &a), 0);
	ck_assert_int_eq(tlsf_alloc(twin, 100, 1, &b), 0);
	expect_refused(t, twin, "a heap with a live allocation", live, 1);
	ck_assert_uint_eq(tlsf_usable_size(t, a), 112);
	tlsf_destroy(t);
	tlsf_destroy(twin);
}
END_TEST

/* Each bad list, in a heap of 4096 bytes of 16-byte granules. The bad span
 * comes after good ones where it can, so that a rebuild that built as it
 * checked would have changed the heap before finding it. */
START_TEST(test_tlsf_rebuild_rejects_bad_spans)
{
	static const struct {
		const char *what;
		struct tlsf_span live[4];
		size_t n;
	} bad[] = {
	    {"out of order", {{0, 16}, {512, 16}, {256, 16}}, 3},
	    {"the same offset twice", {{0, 16}, {256, 16}, {256, 16}}, 3},
	    {"overlapping the span before", {{0, 16}, {256, 32}, {272, 16}}, 3},
	    {"overlapping by one granule", {{0, 16}, {256, 32}, {256 + 16, 32}}, 3},
	    {"an unaligned offset", {{0, 16}, {256, 16}, {520, 16}}, 3},
	    {"an unaligned size", {{0, 16}, {256, 16}, {512, 24}}, 3},
	    {"an empty span", {{0, 16}, {256, 16}, {512, 0}}, 3},
	    {"a span at the end", {{0, 16}, {256, 16}, {4096, 16}}, 3},
	    {"a span past the end", {{0, 16}, {256, 16}, {4080, 32}}, 3},
	    {"a size that wraps", {{0, 16}, {256, 16}, {512, UINT64_MAX - 15}}, 3},
	    {"an offset that wraps", {{0, 16}, {256, 16}, {UINT64_MAX - 15, 16}}, 3},
	    {"a span after one that ends the heap", {{0, 16}, {256, 3840}, {4080, 16}}, 3},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tlsf_t *t = heap(4096, 16, 8), *twin = heap(4096, 16, 8);

		expect_refused(t, twin, bad[i].what, bad[i].live, bad[i].n);
		tlsf_destroy(t);
		tlsf_destroy(twin);
	}
}
END_TEST

Suite *tlsf_rebuild_suite(void)
{
	Suite *s = suite_create("tlsf_rebuild");
	TCase *good = tcase_create("good");
	TCase *bad = tcase_create("bad");

	tcase_add_test(good, test_tlsf_rebuild_nothing_live);
	tcase_add_test(good, test_tlsf_rebuild_layout);
	tcase_add_test(good, test_tlsf_rebuild_largest_heads_its_list);
	tcase_add_test(good, test_tlsf_rebuild_full_heap);
	tcase_add_test(good, test_tlsf_rebuild_max_allocs);
	tcase_add_test(good, test_tlsf_rebuild_largest_heap);
	tcase_add_test(good, test_tlsf_rebuild_after_history);
	suite_add_tcase(s, good);
	tcase_add_test(bad, test_tlsf_rebuild_rejects_null);
	tcase_add_test(bad, test_tlsf_rebuild_rejects_busy_heap);
	tcase_add_test(bad, test_tlsf_rebuild_rejects_bad_spans);
	suite_add_tcase(s, bad);
	return s;
}
