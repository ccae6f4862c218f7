/*
 * Randomised model tests: thousands of random calls on pools of many shapes,
 * each checked against a plain bool-per-block model that predicts the exact
 * return code and the exact blocks (lowest free first, lowest run first).
 * After every step: bitarray_check(), the stats, and the bitmap against the
 * model (every block for small pools; for big ones the blocks the step
 * touched, and every block each 64 steps).
 *
 * Every message names the seed, the pool shape and the step:
 * ALLOCATORD_SEED=<seed> replays a failure exactly.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "core/mem_blocks.h"
#include "tests/common/seed.h"
#include "tests/core/check_core.h"

struct model {
	sys_mem_blocks_t mb;
	uint8_t *map, *buf; /* buf = map + blk: one spare block on each side */
	size_t map_len, blk, n;
	bool *used; /* the model */
	size_t nused, max_used;
	size_t *held, nheld; /* the used blocks, unordered */
	size_t *pos;         /* pos[i]: where block i is in held (if used) */
	size_t lo, hi;       /* blocks this step touched: [lo, hi) */
	struct test_rng *rng;
	unsigned long long seed;
	size_t step;
	const char *op;
};

/* ck_assert_msg() logs every check that passes (a write to Check's message
 * file), far too slow in loops of millions: FAST_CHECK only reports failure. */
#define FAST_CHECK(cond, ...)                      \
	do {                                       \
		if (!(cond))                       \
			ck_abort_msg(__VA_ARGS__); \
	} while (0)

#define MCHECK(m, cond, fmt, ...)                                                               \
	FAST_CHECK(cond, "seed %llu, %zu blocks of %zu, step %zu, %s: " fmt, (m)->seed, (m)->n, \
		   (m)->blk, (m)->step, (m)->op, __VA_ARGS__)

static size_t rnd(struct model *m, size_t below)
{
	return (size_t) test_rng_below(m->rng, below);
}

static void model_init(struct model *m, size_t blk, size_t n, struct test_rng *rng,
		       unsigned long long seed)
{
	m->map_len = (n + 2) * blk;
	m->map =
	    mmap(NULL, m->map_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ck_assert_msg(m->map != MAP_FAILED, "mmap of %zu bytes", m->map_len);
	m->buf = m->map + blk;
	m->blk = blk;
	m->n = n;
	m->used = calloc(n, sizeof(*m->used));
	m->held = malloc(n * sizeof(*m->held));
	m->pos = malloc(n * sizeof(*m->pos));
	ck_assert(m->used != NULL && m->held != NULL && m->pos != NULL);
	m->nused = m->max_used = m->nheld = 0;
	m->lo = SIZE_MAX;
	m->hi = 0;
	m->rng = rng;
	m->seed = seed;
	m->step = 0;
	m->op = "init";
	ck_assert_int_eq(sys_mem_blocks_init(&m->mb, blk, n, m->buf), 0);
}

static void model_fini(struct model *m)
{
	sys_mem_blocks_deinit(&m->mb);
	munmap(m->map, m->map_len);
	free(m->used);
	free(m->held);
	free(m->pos);
}

static void *bptr(const struct model *m, size_t i)
{
	return m->buf + i * m->blk;
}

static void touch(struct model *m, size_t i)
{
	if (i < m->lo)
		m->lo = i;
	if (i + 1 > m->hi)
		m->hi = i + 1;
}

static void take(struct model *m, size_t i)
{
	m->used[i] = true;
	m->pos[i] = m->nheld;
	m->held[m->nheld++] = i;
	m->nused++;
	touch(m, i);
}

static void release(struct model *m, size_t i)
{
	size_t last = m->held[--m->nheld];

	m->held[m->pos[i]] = last;
	m->pos[last] = m->pos[i];
	m->used[i] = false;
	m->nused--;
	touch(m, i);
}

static void note_peak(struct model *m)
{
	if (m->nused > m->max_used)
		m->max_used = m->nused;
}

static void verify(struct model *m, bool every_block)
{
	struct sys_memory_stats st;
	size_t lo = every_block ? 0 : m->lo, hi = every_block ? m->n : m->hi;

	MCHECK(m, bitarray_check(&m->mb.bitmap) == 0, "%s", "bitarray_check failed");
	MCHECK(m, sys_mem_blocks_runtime_stats_get(&m->mb, &st) == 0, "%s", "stats failed");
	MCHECK(m, st.allocated_bytes == m->nused * m->blk, "allocated %zu bytes, model %zu",
	       st.allocated_bytes, m->nused * m->blk);
	MCHECK(m, st.free_bytes == (m->n - m->nused) * m->blk, "free %zu bytes, model %zu",
	       st.free_bytes, (m->n - m->nused) * m->blk);
	MCHECK(m, st.max_allocated_bytes == m->max_used * m->blk, "max %zu bytes, model %zu",
	       st.max_allocated_bytes, m->max_used * m->blk);
	for (size_t i = lo; i < hi; i++)
		MCHECK(m, bitarray_is_used(&m->mb.bitmap, i) == m->used[i],
		       "block %zu: bitmap says used %d, model %d", i,
		       bitarray_is_used(&m->mb.bitmap, i), m->used[i]);
}

/* A count: mostly small, sometimes anything up to the pool size. */
static size_t pick_count(struct model *m)
{
	size_t small = m->n < 8 ? m->n : 8;

	return rnd(m, 16) == 0 ? 1 + rnd(m, m->n) : 1 + rnd(m, small);
}

/* The lowest start of c free blocks in the model, or n. */
static size_t model_run(const struct model *m, size_t c)
{
	size_t run = 0;

	for (size_t i = 0; i < m->n; i++) {
		run = m->used[i] ? 0 : run + 1;
		if (run == c)
			return i + 1 - c;
	}
	return m->n;
}

/* Every block of [start, start + c) is used (used) or free (!used). */
static bool model_range_all(const struct model *m, size_t start, size_t c, bool used)
{
	for (size_t i = start; i < start + c; i++) {
		if (m->used[i] != used)
			return false;
	}
	return true;
}

static void op_alloc(struct model *m, void **arr)
{
	size_t nfree = m->n - m->nused, c, r = rnd(m, 10);
	int rc;

	c = r == 0 ? 0 : r == 1 ? nfree : r == 2 ? nfree + 1 : pick_count(m);
	m->op = "alloc";
	arr[0] = m;
	rc = sys_mem_blocks_alloc(&m->mb, c, arr);
	if (c == 0 || c > nfree) {
		MCHECK(m, rc == (c == 0 ? 0 : -ENOMEM), "count %zu of %zu free: rc %d", c, nfree,
		       rc);
		MCHECK(m, c != 0 || arr[0] == m, "count %zu: out[0] written", c);
		return;
	}
	MCHECK(m, rc == 0, "count %zu of %zu free: rc %d", c, nfree, rc);
	for (size_t i = 0, blk = 0; i < c; i++, blk++) {
		while (m->used[blk])
			blk++;
		MCHECK(m, arr[i] == bptr(m, blk), "out[%zu] = %p, want block %zu", i, arr[i], blk);
		take(m, blk);
	}
	note_peak(m);
}

static void op_alloc_contiguous(struct model *m)
{
	size_t c = rnd(m, 8) == 0 ? 0 : pick_count(m), want;
	void *out = m;
	int rc;

	m->op = "alloc_contiguous";
	rc = sys_mem_blocks_alloc_contiguous(&m->mb, c, &out);
	if (c == 0) {
		MCHECK(m, rc == 0 && out == NULL, "count 0: rc %d, out %p", rc, out);
		return;
	}
	want = model_run(m, c);
	if (want == m->n) {
		MCHECK(m, rc == -ENOMEM, "count %zu, no run in model: rc %d", c, rc);
		return;
	}
	MCHECK(m, rc == 0 && out == bptr(m, want), "count %zu: rc %d, out %p, want block %zu", c,
	       rc, out, want);
	for (size_t i = want; i < want + c; i++)
		take(m, i);
	note_peak(m);
}

/* A random block start, sometimes one past the end, sometimes misaligned. */
static uint8_t *pick_pointer(struct model *m, size_t *start, bool *bad)
{
	size_t r = rnd(m, 16);

	*start = rnd(m, m->n + 1);
	*bad = *start == m->n || r == 0;
	return (uint8_t *) bptr(m, *start) + (r == 0 ? m->blk / 2 : 0);
}

static void op_get(struct model *m)
{
	size_t start, c = rnd(m, 8) == 0 ? 0 : pick_count(m);
	bool bad, fits;
	uint8_t *p = pick_pointer(m, &start, &bad);
	int rc, want;

	m->op = "get";
	rc = sys_mem_blocks_get(&m->mb, p, c);
	fits = !bad && c <= m->n - start && model_range_all(m, start, c, false);
	want = c == 0 ? 0 : bad ? -EFAULT : fits ? 0 : -ENOMEM;
	MCHECK(m, rc == want, "block %zu%s, count %zu: rc %d, want %d", start, bad ? " (bad)" : "",
	       c, rc, want);
	if (c != 0 && fits) {
		for (size_t i = start; i < start + c; i++)
			take(m, i);
		note_peak(m);
	}
}

static void op_is_region_free(struct model *m)
{
	size_t start, c = rnd(m, 8) == 0 ? 0 : pick_count(m);
	bool bad;
	uint8_t *p = pick_pointer(m, &start, &bad);
	int rc, want;

	m->op = "is_region_free";
	rc = sys_mem_blocks_is_region_free(&m->mb, p, c);
	want = bad ? -EFAULT : c <= m->n - start && model_range_all(m, start, c, false);
	MCHECK(m, rc == want, "block %zu, count %zu: rc %d, want %d", start, c, rc, want);
}

/* Move k random held blocks to held[0..k) and their pointers to arr[0..k),
 * in random order (a partial Fisher-Yates shuffle). */
static void pick_held(struct model *m, size_t k, void **arr)
{
	for (size_t i = 0; i < k; i++) {
		size_t j = i + rnd(m, m->nheld - i), a = m->held[i], b = m->held[j];

		m->held[i] = b;
		m->held[j] = a;
		m->pos[b] = i;
		m->pos[a] = j;
		arr[i] = bptr(m, b);
		touch(m, b);
	}
}

static size_t index_of(const struct model *m, void *p)
{
	return (size_t) ((uint8_t *) p - m->buf) / m->blk;
}

static void op_free(struct model *m, void **arr)
{
	size_t k;
	int rc;

	m->op = "free";
	if (m->nheld == 0) {
		MCHECK(m, sys_mem_blocks_free(&m->mb, 0, arr) == 0, "%s", "count 0");
		return;
	}
	k = rnd(m, 16) == 0 ? 1 + rnd(m, m->nheld) : 1 + rnd(m, m->nheld < 8 ? m->nheld : 8);
	pick_held(m, k, arr);
	rc = sys_mem_blocks_free(&m->mb, k, arr);
	MCHECK(m, rc == 0, "%zu held blocks: rc %d", k, rc);
	for (size_t i = 0; i < k; i++)
		release(m, index_of(m, arr[i]));
}

static void op_free_contiguous(struct model *m)
{
	size_t start = m->nheld != 0 ? m->held[rnd(m, m->nheld)] : rnd(m, m->n);
	size_t c = rnd(m, 16) == 0 ? 0 : rnd(m, 32) == 0 ? m->n + 1 : 1 + rnd(m, 4);
	int rc, want;
	bool ok;

	m->op = "free_contiguous";
	rc = sys_mem_blocks_free_contiguous(&m->mb, bptr(m, start), c);
	ok = c <= m->n - start && model_range_all(m, start, c, true);
	want = c == 0 ? 0 : c > m->n ? -EINVAL : ok ? 0 : -EFAULT;
	MCHECK(m, rc == want, "block %zu, count %zu: rc %d, want %d", start, c, rc, want);
	if (c != 0 && want == 0) {
		for (size_t i = start; i < start + c; i++)
			release(m, i);
	}
	for (size_t i = start; i < start + c && i < m->n; i++)
		touch(m, i);
}

/* Held pointers plus one bad one at a random place: -EFAULT, nothing freed. */
static void op_bad_free(struct model *m, void **arr)
{
	size_t k = rnd(m, (m->nheld < 16 ? m->nheld : 16) + 1), at = rnd(m, k + 1), kind;
	void *bad;
	int rc;

	m->op = "bad free";
	pick_held(m, k, arr);
	arr[k] = arr[at];
	kind = rnd(m, 6);
	if (kind == 0 && m->nused < m->n) {
		size_t i = rnd(m, m->n);

		while (m->used[i])
			i = (i + 1) % m->n;
		bad = bptr(m, i); /* not allocated */
		touch(m, i);
	} else if (kind == 1 && k != 0) {
		bad = arr[rnd(m, k)]; /* repeated */
	} else if (kind == 2) {
		bad = m->buf - m->blk; /* one block below */
	} else if (kind == 3) {
		bad = (uint8_t *) bptr(m, rnd(m, m->n)) + m->blk / 2; /* misaligned */
	} else if (kind == 4) {
		bad = NULL;
	} else {
		bad = bptr(m, m->n); /* one past the end */
	}
	arr[at] = bad;
	/* k + 1 > n only in a full pool with k == n: then the count is refused. */
	rc = sys_mem_blocks_free(&m->mb, k + 1, arr);
	MCHECK(m, rc == (k + 1 > m->n ? -EINVAL : -EFAULT),
	       "%zu pointers, bad kind %zu at %zu: rc %d", k + 1, kind, at, rc);
}

static void op_reset_max(struct model *m)
{
	m->op = "reset_max";
	ck_assert_int_eq(sys_mem_blocks_runtime_stats_reset_max(&m->mb), 0);
	m->max_used = m->nused;
}

/* One random step. Phases of 256 steps lean to filling or to draining, so
 * that both a nearly full and a nearly empty pool are explored. */
static void random_step(struct model *m, void **arr)
{
	bool filling = (m->step / 256) % 2 == 0;
	size_t r = rnd(m, 100);

	if (r < (filling ? 30u : 12u))
		op_alloc(m, arr);
	else if (r < (filling ? 42u : 18u))
		op_alloc_contiguous(m);
	else if (r < (filling ? 50u : 22u))
		op_get(m);
	else if (r < 75)
		op_free(m, arr);
	else if (r < 85)
		op_free_contiguous(m);
	else if (r < 93)
		op_bad_free(m, arr);
	else if (r < 99)
		op_is_region_free(m);
	else
		op_reset_max(m);
}

struct shape {
	size_t blk, n, steps;
};

static const struct shape shapes[] = {
    {4, 1, 3000},     {64, 7, 4000},   {4096, 64, 4000},   {1536, 100, 6000},
    {64, 1000, 6000}, {4, 4097, 5000}, {4096, 4097, 3000}, {1536, 70000, 3000},
};

START_TEST(test_mem_blocks_random_model)
{
	const struct shape *sh = &shapes[_i];
	unsigned long long seed = test_seed("mem_blocks_random");
	void **arr = malloc((sh->n + 2) * sizeof(*arr));
	struct test_rng rng;
	struct model m;

	ck_assert_ptr_nonnull(arr);
	test_rng_init(&rng, seed + (unsigned long long) _i);
	model_init(&m, sh->blk, sh->n, &rng, seed);
	for (m.step = 0; m.step < sh->steps; m.step++) {
		m.lo = SIZE_MAX;
		m.hi = 0;
		random_step(&m, arr);
		verify(&m, m.n <= 4097 || m.step % 64 == 0);
	}
	m.op = "end";
	verify(&m, true);
	model_fini(&m);
	free(arr);
}
END_TEST

/* The group: three pools, a Zephyr-style choice by index, and group calls
 * checked against the three models. */
#define GPOOLS 3

static sys_mem_blocks_t *choose_by_index(struct sys_multi_mem_blocks *group, void *cfg)
{
	uintptr_t index = (uintptr_t) cfg;

	if (index == 0 || index > group->num_allocators)
		return NULL;
	return group->allocators[index - 1];
}

static void group_verify(struct model *ms)
{
	for (size_t p = 0; p < GPOOLS; p++)
		verify(&ms[p], true);
}

static void group_alloc(sys_multi_mem_blocks_t *g, struct model *ms, void **arr)
{
	size_t index = (size_t) test_rng_below(ms[0].rng, GPOOLS + 2), bs = 1, c;
	struct model *m = &ms[index < GPOOLS ? index : 0];
	int rc;

	c = rnd(m, 10) == 0 ? 0 : pick_count(m);
	m->op = "group alloc";
	rc = sys_multi_mem_blocks_alloc(g, (void *) (uintptr_t) (index + 1), c, arr, &bs);
	if (c == 0) {
		MCHECK(m, rc == 0 && bs == 0, "count 0: rc %d, blk_size %zu", rc, bs);
		return;
	}
	if (index >= GPOOLS) {
		MCHECK(m, rc == -EINVAL, "index %zu: rc %d", index, rc);
		return;
	}
	if (c > m->n - m->nused) {
		MCHECK(m, rc == -ENOMEM, "count %zu: rc %d", c, rc);
		return;
	}
	MCHECK(m, rc == 0 && bs == m->blk, "count %zu: rc %d, blk_size %zu", c, rc, bs);
	for (size_t i = 0, blk = 0; i < c; i++, blk++) {
		while (m->used[blk])
			blk++;
		MCHECK(m, arr[i] == bptr(m, blk), "out[%zu] = %p, want block %zu", i, arr[i], blk);
		take(m, blk);
	}
	note_peak(m);
}

/* Free random held blocks of every pool in one shuffled call; sometimes
 * with one bad pointer, which must free nothing in any pool. */
static void group_free(sys_multi_mem_blocks_t *g, struct model *ms, void **arr)
{
	struct test_rng *rng = ms[0].rng;
	size_t k = 0, kind = (size_t) test_rng_below(rng, 8), at;
	int rc, want = 0;

	for (size_t p = 0; p < GPOOLS; p++) {
		size_t kp = (size_t) test_rng_below(rng, (ms[p].nheld < 6 ? ms[p].nheld : 6) + 1);

		ms[p].op = "group free";
		pick_held(&ms[p], kp, arr + k);
		k += kp;
	}
	for (size_t i = k; i > 1; i--) {
		size_t j = (size_t) test_rng_below(rng, i);
		void *t = arr[i - 1];

		arr[i - 1] = arr[j];
		arr[j] = t;
	}
	at = (size_t) test_rng_below(rng, k + 1);
	arr[k] = arr[at];
	if (kind == 0) {
		arr[at] = bptr(&ms[1], ms[1].n); /* one past a pool: no owner */
		want = -EINVAL;
	} else if (kind == 1 && k != 0) {
		arr[at] = arr[(size_t) test_rng_below(rng, k)]; /* repeated */
		want = -EFAULT;
	} else if (kind == 2) {
		arr[at] = (uint8_t *) bptr(&ms[2], 0) + 512; /* misaligned, 1536-byte pool */
		want = -EFAULT;
	}
	rc = sys_multi_mem_blocks_free(g, want != 0 ? k + 1 : k, arr);
	MCHECK(&ms[0], rc == want, "%zu pointers, kind %zu: rc %d, want %d", k, kind, rc, want);
	if (want != 0)
		return;
	for (size_t p = 0; p < GPOOLS; p++) {
		/* The picked blocks are held[0..kp) of each pool: release
		 * from the front while they are still in arr. */
		for (size_t i = 0; i < k; i++) {
			uintptr_t a = (uintptr_t) arr[i], b = (uintptr_t) ms[p].buf;

			if (a >= b && a - b < ms[p].n * ms[p].blk)
				release(&ms[p], index_of(&ms[p], arr[i]));
		}
	}
}

START_TEST(test_mem_blocks_random_group_model)
{
	static const size_t blk[GPOOLS] = {64, 1536, 4096}, n[GPOOLS] = {100, 64, 1000};
	unsigned long long seed = test_seed("mem_blocks_random");
	void **arr = malloc((1000 + 100 + 64 + 2) * sizeof(*arr));
	sys_multi_mem_blocks_t group;
	struct model ms[GPOOLS];
	struct test_rng rng;

	ck_assert_ptr_nonnull(arr);
	test_rng_init(&rng, seed + 1000);
	sys_multi_mem_blocks_init(&group, choose_by_index);
	for (size_t p = 0; p < GPOOLS; p++) {
		model_init(&ms[p], blk[p], n[p], &rng, seed);
		ck_assert_int_eq(sys_multi_mem_blocks_add_allocator(&group, &ms[p].mb), 0);
	}
	for (size_t step = 0; step < 3000; step++) {
		for (size_t p = 0; p < GPOOLS; p++)
			ms[p].step = step;
		if (test_rng_below(&rng, 100) < ((step / 256) % 2 == 0 ? 60u : 35u))
			group_alloc(&group, ms, arr);
		else
			group_free(&group, ms, arr);
		group_verify(ms);
	}
	sys_multi_mem_blocks_deinit(&group);
	for (size_t p = 0; p < GPOOLS; p++)
		model_fini(&ms[p]);
	free(arr);
}
END_TEST

Suite *mem_blocks_random_suite(void)
{
	Suite *s = suite_create("mem_blocks_random");
	TCase *tc = tcase_create("model");

	tcase_add_loop_test(tc, test_mem_blocks_random_model, 0,
			    (int) (sizeof(shapes) / sizeof(shapes[0])));
	tcase_add_test(tc, test_mem_blocks_random_group_model);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}
