/*
 * Locked pools shared by several threads, against a model: each thread owns
 * what it allocated (its own list, and a stamp written into each block), so
 * a block handed to two threads at once shows as a broken stamp, and a lost
 * update of the bitmap shows in the final recount. The threads mix single and
 * multi-block allocs, contiguous allocs, group allocs, frees across the
 * group's pools, and frees refused for a bad pointer (which must leave all
 * their blocks allocated). One pool is run-time (sys_mem_blocks_init_locked,
 * power-of-two blocks), the other from SYS_MEM_BLOCKS_DEFINE (1536-byte
 * blocks: the reciprocal path of block_index). Run under TSan in CI
 * (./configure --enable-tsan); no timing anywhere.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem_blocks.h"
#include "tests/common/seed.h"
#include "tests/core/check_core.h"

#define NTHREADS 4
#define ITERS    4000
#define MAXHOLD  48 /* blocks a thread holds at most */

#define A_BLK 64
#define A_N   300
#define B_BLK 1536
#define B_N   130

SYS_MEM_BLOCKS_DEFINE_STATIC(thr_pool_b, B_BLK, B_N, 512);

static uint8_t thr_buf_a[A_BLK * A_N] __attribute__((aligned(64)));
static sys_mem_blocks_t thr_pool_a;
static sys_multi_mem_blocks_t thr_group;

struct held {
	void *p;
	uint64_t stamp;
};

struct worker {
	pthread_t th;
	unsigned id;
	uint64_t seed;
	struct held h[MAXHOLD];
	size_t n;
	uint64_t serial;
	char err[160]; /* the first failure; checked by the main thread */
};

static sys_mem_blocks_t *choose(struct sys_multi_mem_blocks *group, void *cfg)
{
	uintptr_t i = (uintptr_t) cfg;

	return i >= 1 && i <= group->num_allocators ? group->allocators[i - 1] : NULL;
}

static void note_failure(struct worker *w, const char *what, int rc)
{
	if (w->err[0] == '\0')
		snprintf(w->err, sizeof(w->err), "thread %u: %s (rc %d)", w->id, what, rc);
}

static sys_mem_blocks_t *pool_of(const void *p)
{
	uintptr_t a = (uintptr_t) p, base = (uintptr_t) thr_buf_a;

	return a >= base && a < base + sizeof(thr_buf_a) ? &thr_pool_a : &thr_pool_b;
}

/* Take ownership of k fresh blocks: stamp them. */
static void take(struct worker *w, void **blocks, size_t k)
{
	for (size_t i = 0; i < k; i++) {
		uint64_t stamp = ((uint64_t) w->id << 48) | ++w->serial;

		memcpy(blocks[i], &stamp, sizeof(stamp));
		w->h[w->n++] = (struct held){blocks[i], stamp};
	}
}

/* Every block this thread holds still carries its stamp and is allocated. */
static void verify(struct worker *w)
{
	for (size_t i = 0; i < w->n; i++) {
		uint64_t s;

		memcpy(&s, w->h[i].p, sizeof(s));
		if (s != w->h[i].stamp)
			note_failure(w, "a held block was handed to another thread", 0);
		if (sys_mem_blocks_is_region_free(pool_of(w->h[i].p), w->h[i].p, 1) != 0)
			note_failure(w, "a held block is free in its pool", 0);
	}
}

/* Give back the last k held blocks (k <= n): one pool's call if they are all
 * in one pool, else the group's; with `bad`, append a misaligned pointer and
 * expect a refusal that frees nothing. */
static void give_back(struct worker *w, size_t k, int bad)
{
	void *v[MAXHOLD + 1];
	sys_mem_blocks_t *one = pool_of(w->h[w->n - k].p);
	int mixed = 0, rc;

	for (size_t i = 0; i < k; i++) {
		v[i] = w->h[w->n - k + i].p;
		mixed |= pool_of(v[i]) != one;
	}
	if (bad)
		v[k++] = (uint8_t *) v[0] + 4;
	rc = mixed ? sys_multi_mem_blocks_free(&thr_group, k, v) : sys_mem_blocks_free(one, k, v);
	if (bad) {
		if (rc != -EFAULT)
			note_failure(w, "a free with a bad pointer was not refused", rc);
		verify(w);
		return;
	}
	if (rc != 0)
		note_failure(w, "free of held blocks", rc);
	w->n -= k;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct test_rng r;
	void *v[8];
	int rc;

	test_rng_init(&r, w->seed);
	for (int it = 0; it < ITERS && w->err[0] == '\0'; it++) {
		size_t k = 1 + (size_t) test_rng_below(&r, 4);
		unsigned op = (unsigned) test_rng_below(&r, 6);

		if (w->n + k > MAXHOLD)
			op = 4; /* make room */
		switch (op) {
		case 0:
		case 1:
			rc = sys_mem_blocks_alloc(op == 0 ? &thr_pool_a : &thr_pool_b, k, v);
			break;
		case 2:
			rc = sys_mem_blocks_alloc_contiguous(&thr_pool_a, k, &v[0]);
			for (size_t i = 1; rc == 0 && i < k; i++)
				v[i] = (uint8_t *) v[0] + i * A_BLK;
			break;
		case 3:
			rc = sys_multi_mem_blocks_alloc(
			    &thr_group, (void *) (uintptr_t) (1 + k % 2), k, v, NULL);
			break;
		default:
			if (w->n == 0)
				continue;
			if (k > w->n)
				k = w->n;
			give_back(w, k, op == 5);
			continue;
		}
		if (rc == 0)
			take(w, v, k);
		else if (rc != -ENOMEM)
			note_failure(w, "alloc", rc);
	}
	verify(w);
	return NULL;
}

static int ptr_cmp(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t) * (void *const *) a, y = (uintptr_t) * (void *const *) b;

	return x < y ? -1 : x > y;
}

START_TEST(test_threads_share_locked_pools)
{
	static struct worker w[NTHREADS];
	void *all[NTHREADS * MAXHOLD];
	size_t total = 0, in_a = 0;
	struct sys_memory_stats st;
	uint64_t seed = test_seed("mem_blocks_threads");

	ck_assert_int_eq(sys_mem_blocks_init_locked(&thr_pool_a, A_BLK, A_N, thr_buf_a), 0);
	ck_assert(thr_pool_a.locked && thr_pool_b.locked);
	sys_multi_mem_blocks_init(&thr_group, choose);
	ck_assert_int_eq(sys_multi_mem_blocks_add_allocator(&thr_group, &thr_pool_a), 0);
	ck_assert_int_eq(sys_multi_mem_blocks_add_allocator(&thr_group, &thr_pool_b), 0);
	for (unsigned i = 0; i < NTHREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].id = i + 1;
		w[i].seed = seed + i;
		ck_assert_int_eq(pthread_create(&w[i].th, NULL, work, &w[i]), 0);
	}
	for (unsigned i = 0; i < NTHREADS; i++)
		ck_assert_int_eq(pthread_join(w[i].th, NULL), 0);
	for (unsigned i = 0; i < NTHREADS; i++) {
		ck_assert_msg(w[i].err[0] == '\0', "%s (seed %llu)", w[i].err,
			      (unsigned long long) w[i].seed);
		for (size_t j = 0; j < w[i].n; j++) {
			all[total++] = w[i].h[j].p;
			in_a += pool_of(w[i].h[j].p) == &thr_pool_a;
		}
	}
	/* The model: no block twice, and each pool's count is the held ones. */
	qsort(all, total, sizeof(all[0]), ptr_cmp);
	for (size_t i = 1; i < total; i++)
		ck_assert_ptr_ne(all[i - 1], all[i]);
	ck_assert_int_eq(bitarray_check(&thr_pool_a.bitmap), 0);
	ck_assert_int_eq(bitarray_check(&thr_pool_b.bitmap), 0);
	ck_assert_uint_eq(A_N - sys_mem_blocks_free_count(&thr_pool_a), in_a);
	ck_assert_uint_eq(B_N - sys_mem_blocks_free_count(&thr_pool_b), total - in_a);
	ck_assert_int_eq(sys_mem_blocks_runtime_stats_get(&thr_pool_a, &st), 0);
	ck_assert_uint_eq(st.allocated_bytes, in_a * A_BLK);
	ck_assert_uint_le(st.max_allocated_bytes, (size_t) A_N * A_BLK);
	if (total > 0)
		ck_assert_int_eq(sys_multi_mem_blocks_free(&thr_group, total, all), 0);
	ck_assert_uint_eq(sys_mem_blocks_free_count(&thr_pool_a), A_N);
	ck_assert_uint_eq(sys_mem_blocks_free_count(&thr_pool_b), B_N);
	sys_multi_mem_blocks_deinit(&thr_group);
	sys_mem_blocks_deinit(&thr_pool_a);
}
END_TEST

/* The choice at init: init gives an unlocked pool (the daemon's), init_locked
 * and the DEFINE macros a locked one; deinit leaves an unlocked empty pool. */
START_TEST(test_lock_chosen_at_init)
{
	static uint8_t buf[16 * 8];
	sys_mem_blocks_t mb;
	void *p;

	ck_assert_int_eq(sys_mem_blocks_init(&mb, 16, 8, buf), 0);
	ck_assert(!mb.locked);
	sys_mem_blocks_deinit(&mb);
	ck_assert_int_eq(sys_mem_blocks_init_locked(&mb, 16, 8, buf), 0);
	ck_assert(mb.locked);
	ck_assert_int_eq(sys_mem_blocks_alloc(&mb, 1, &p), 0);
	ck_assert_int_eq(sys_mem_blocks_free(&mb, 1, &p), 0);
	sys_mem_blocks_deinit(&mb);
	ck_assert(!mb.locked);
	ck_assert_int_eq(sys_mem_blocks_alloc(&mb, 1, &p), -ENOMEM);
	ck_assert_int_eq(sys_mem_blocks_init_locked(NULL, 16, 8, buf), -EINVAL);
	ck_assert_int_eq(sys_mem_blocks_init_locked(&mb, 0, 8, buf), -EINVAL);
}
END_TEST

Suite *mem_blocks_threads_suite(void)
{
	Suite *s = suite_create("mem_blocks_threads");
	TCase *tc = tcase_create("threads");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_threads_share_locked_pools);
	tcase_add_test(tc, test_lock_chosen_at_init);
	suite_add_tcase(s, tc);
	return s;
}
