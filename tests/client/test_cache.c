/*
 * cache: leased block caches against a real daemon -- served without a
 * round trip, leases held in the daemon's books (quotas, used), a block
 * someone else retained never recycled or handed out again, all or nothing
 * on a failed allocation, blocks taken back from an idle client, mc_cache
 * off giving everything back, eight threads on one client, bad input.
 *
 * Pool "small" has 64 blocks, so the daemon keeps 8 free from leases.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <unistd.h>

#include "tests/client/check_client.h"

static struct mc_cache_stats cache_stats(mc_client_t *c, const char *pool)
{
	struct mc_cache_stats st;

	ck_assert_int_eq(mc_cache_stats(c, pool, &st), 0);
	return st;
}

static uint64_t requests(mc_client_t *c)
{
	struct mc_status st;

	ck_assert_int_eq(mc_status(c, &st, NULL, 0, NULL), 0);
	return st.requests;
}

/* Is block offset of small allocated (the daemon's map)? */
static bool allocated(mc_client_t *c, uint64_t offset, uint64_t base)
{
	uint64_t b = (offset - base) / 256;
	uint8_t bits[8];

	ck_assert_int_eq(mc_pool_map(c, "small", 0, 64, bits, NULL), 0);
	return (bits[b / 8] >> (b % 8)) & 1;
}

/* The offset of small's block 0, from a fresh allocation of everything. */
static uint64_t small_base(mc_client_t *c)
{
	uint64_t off[64], base = UINT64_MAX;

	ck_assert_int_eq(mc_alloc(c, "small", 64, off), 0);
	for (int i = 0; i < 64; i++)
		base = off[i] < base ? off[i] : base;
	ck_assert_int_eq(mc_free(c, "small", 64, off), 0);
	return base;
}

START_TEST(test_mc_cache_serves_without_round_trip)
{
	struct test_daemon td;
	mc_client_t *c;
	uint64_t off, before;
	struct mc_cache_stats st;

	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_int_eq(mc_cache(c, "small", 16), 0);
	st = cache_stats(c, "small");
	ck_assert_uint_eq(st.target, 16);
	ck_assert_uint_eq(st.cached, 8);
	/* Leased blocks are held in the daemon's books. */
	ck_assert_uint_eq(client_used(c, "small"), 8);
	before = requests(c);
	for (int i = 0; i < 1000; i++) {
		ck_assert_int_eq(mc_alloc(c, "small", 1, &off), 0);
		*(uint32_t *) mc_ptr(c, "small", off) = (uint32_t) i;
		ck_assert_int_eq(mc_free(c, "small", 1, &off), 0);
	}
	/* 2,000 without the cache; the status call, and a trim if this ran
	 * for over a second (under valgrind), with it. */
	ck_assert_uint_le(requests(c) - before, 10);
	st = cache_stats(c, "small");
	ck_assert_uint_eq(st.hits, 1000);
	ck_assert_uint_eq(st.misses, 0);
	/* Freeing what sits in the cache is not the user's to do. */
	ck_assert_int_eq(mc_alloc(c, "small", 1, &off), 0);
	ck_assert_int_eq(mc_free(c, "small", 1, &off), 0);
	ck_assert_int_eq(mc_free(c, "small", 1, &off), -EFAULT);
	ck_assert_int_eq(mc_free_async(c, "small", 1, &off), -EFAULT);
	ck_assert_int_eq(mc_flush(c), 0);
	mc_close(c);
	client_stop(&td);
}
END_TEST

START_TEST(test_mc_cache_off_returns_everything)
{
	struct test_daemon td;
	mc_client_t *c;
	uint64_t off[20];

	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_int_eq(mc_cache(c, "small", 32), 0);
	ck_assert_int_eq(mc_alloc(c, "small", 20, off), 0);
	ck_assert_int_eq(mc_free(c, "small", 10, off), 0);
	ck_assert_int_eq(mc_cache(c, "small", 0), 0);
	ck_assert_int_eq(mc_flush(c), 0);
	ck_assert_uint_eq(cache_stats(c, "small").cached, 0);
	ck_assert_uint_eq(cache_stats(c, "small").target, 0);
	ck_assert_uint_eq(client_used(c, "small"), 10);
	/* Off: frees go to the daemon again, double frees are refused. */
	ck_assert_int_eq(mc_free(c, "small", 10, off + 10), 0);
	ck_assert_int_eq(mc_free(c, "small", 1, off + 10), -EFAULT);
	ck_assert_uint_eq(client_used(c, "small"), 0);
	mc_close(c);
	client_stop(&td);
}
END_TEST

/* A consumer retains a block after the producer cached it (too late, against
 * the hand-off rule): the producer never hands it out again while it is
 * retained, and gives its own hold back to the daemon instead. */
START_TEST(test_mc_cache_stale_retain_never_handed_out)
{
	struct test_daemon td;
	mc_client_t *prod, *cons;
	uint64_t x, got[32];

	client_start(&td, NULL);
	prod = client_connect(&td);
	cons = client_connect(&td);
	ck_assert_int_eq(mc_cache(prod, "small", 32), 0);
	ck_assert_int_eq(mc_alloc(prod, "small", 1, &x), 0);
	ck_assert_int_eq(mc_free(prod, "small", 1, &x), 0); /* into the cache */
	ck_assert_int_eq(mc_retain(cons, "small", 1, &x), 0);
	memcpy(mc_ptr(cons, "small", x), "consumer", 9);
	for (int round = 0; round < 4; round++) {
		ck_assert_int_eq(mc_alloc(prod, "small", 16, got), 0);
		for (int i = 0; i < 16; i++) {
			ck_assert_uint_ne(got[i], x);
			memset(mc_ptr(prod, "small", got[i]), 'P', 256);
		}
		ck_assert_int_eq(mc_free(prod, "small", 16, got), 0);
	}
	ck_assert_str_eq(mc_ptr(cons, "small", x), "consumer");
	ck_assert_uint_eq(cache_stats(prod, "small").stale, 1);
	ck_assert_int_eq(mc_flush(prod), 0);
	ck_assert_int_eq(mc_free(cons, "small", 1, &x), 0);
	ck_assert_int_eq(mc_cache(prod, "small", 0), 0);
	ck_assert_uint_eq(client_used(cons, "small"), 0);
	mc_close(prod);
	mc_close(cons);
	client_stop(&td);
}
END_TEST

/* The documented hand-off: the consumer retains before the producer frees;
 * the producer's free then goes to the daemon (it is not the sole holder),
 * and the block is free once the consumer drops it too. */
START_TEST(test_mc_cache_recycles_only_sole_holder)
{
	struct test_daemon td;
	mc_client_t *prod, *cons;
	uint64_t x, y, base;

	client_start(&td, NULL);
	prod = client_connect(&td);
	cons = client_connect(&td);
	base = small_base(prod);
	ck_assert_int_eq(mc_cache(prod, "small", 8), 0);
	ck_assert_int_eq(mc_alloc(prod, "small", 1, &x), 0);
	ck_assert_int_eq(mc_alloc(prod, "small", 1, &y), 0);
	ck_assert_int_eq(mc_retain_async(cons, "small", 1, &x), 0);
	ck_assert_int_eq(mc_flush(cons), 0);
	ck_assert_int_eq(mc_free(prod, "small", 1, &x), 0);
	ck_assert_int_eq(mc_free(prod, "small", 1, &y), 0);
	ck_assert_int_eq(mc_flush(prod), 0);
	ck_assert_int_eq(mc_free(cons, "small", 1, &x), 0);
	ck_assert(!allocated(cons, x, base)); /* nobody holds it: not cached */
	ck_assert(allocated(cons, y, base));  /* sole holder: cached */
	mc_close(prod);
	mc_close(cons);
	client_stop(&td);
}
END_TEST

START_TEST(test_mc_cache_failed_alloc_changes_nothing)
{
	struct test_daemon td;
	mc_client_t *c, *other;
	uint64_t off[64];
	struct mc_cache_stats before, after;

	client_start(&td, NULL);
	c = client_connect(&td);
	other = client_connect(&td);
	ck_assert_int_eq(mc_cache(c, "small", 16), 0);
	ck_assert_int_eq(mc_alloc(other, "small", 56, off), 0);
	before = cache_stats(c, "small");
	ck_assert_uint_eq(before.cached, 8);
	ck_assert_int_eq(mc_alloc(c, "small", 20, off), -ENOMEM);
	after = cache_stats(c, "small");
	ck_assert_uint_eq(after.cached, 8);
	ck_assert_uint_eq(after.hits, 0);
	ck_assert_uint_eq(client_used(c, "small"), 64);
	/* What is there is still served. */
	ck_assert_int_eq(mc_alloc(c, "small", 8, off), 0);
	mc_close(other);
	mc_close(c);
	client_stop(&td);
}
END_TEST

START_TEST(test_mc_cache_leases_count_toward_quota)
{
	struct test_daemon td;
	mc_client_t *c;
	uint64_t off;

	client_start(&td, NULL);
	c = client_connect(&td);
	/* quota: client_quota 4, so at most 4 cached. */
	ck_assert_int_eq(mc_cache(c, "quota", 5), -EINVAL);
	ck_assert_int_eq(mc_cache(c, "quota", 4), 0);
	ck_assert_uint_eq(cache_stats(c, "quota").cached, 2);
	ck_assert_uint_eq(client_used(c, "quota"), 2);
	ck_assert_int_eq(mc_alloc_contiguous(c, "quota", 3, &off), -EDQUOT);
	ck_assert_int_eq(mc_alloc_contiguous(c, "quota", 2, &off), 0);
	mc_close(c);
	client_stop(&td);
}
END_TEST

/* A free is checked whole before the cache changes: an offset twice, or one
 * the daemon refuses, leaves every block of the call held and uncached. */
START_TEST(test_mc_cache_free_checked_before_recycling)
{
	struct test_daemon td;
	mc_client_t *c, *other;
	uint64_t mine[2], theirs, bad[3];
	uint64_t cached;

	client_start(&td, NULL);
	c = client_connect(&td);
	other = client_connect(&td);
	ck_assert_int_eq(mc_cache(c, "small", 16), 0);
	ck_assert_int_eq(mc_alloc(c, "small", 2, mine), 0);
	ck_assert_int_eq(mc_alloc(other, "small", 1, &theirs), 0);
	cached = cache_stats(c, "small").cached;
	bad[0] = mine[0];
	bad[1] = mine[1];
	bad[2] = mine[0];
	ck_assert_int_eq(mc_free(c, "small", 3, bad), -EINVAL);
	ck_assert_uint_eq(cache_stats(c, "small").cached, cached);
	bad[2] = theirs;
	ck_assert_int_eq(mc_free(c, "small", 3, bad), -EPERM);
	ck_assert_uint_eq(cache_stats(c, "small").cached, cached);
	/* Inside a held block, not its start: no block of the cache. */
	bad[1] = mine[0] + 1;
	ck_assert_int_eq(mc_free(c, "small", 2, bad), -EFAULT);
	ck_assert_uint_eq(cache_stats(c, "small").cached, cached);
	/* Still the user's: freed once each, now into the cache. */
	ck_assert_int_eq(mc_free(c, "small", 2, mine), 0);
	ck_assert_uint_eq(cache_stats(c, "small").cached, cached + 2);
	ck_assert_int_eq(mc_free(c, "small", 1, &mine[0]), -EFAULT);
	mc_close(other);
	mc_close(c);
	client_stop(&td);
}
END_TEST

/* A consumer with a cache that retained a block recycles it when it frees
 * it last (the producer freed first), without a request; while the producer
 * still holds it, its free goes to the daemon. Sync and async retains. */
START_TEST(test_mc_cache_consumer_recycles_retained_blocks)
{
	struct test_daemon td;
	mc_client_t *p, *q;
	uint64_t off[4], before;

	client_start(&td, NULL);
	p = client_connect(&td);
	q = client_connect(&td);
	ck_assert_int_eq(mc_cache(q, "small", 16), 0);
	ck_assert_int_eq(mc_alloc(p, "small", 4, off), 0);
	ck_assert_int_eq(mc_retain(q, "small", 2, off), 0);
	ck_assert_int_eq(mc_retain_async(q, "small", 2, off + 2), 0);
	ck_assert_int_eq(mc_flush(q), 0);
	/* The producer still holds off[0]: q's free goes to the daemon. */
	ck_assert_int_eq(mc_free(q, "small", 1, &off[0]), 0);
	ck_assert_int_eq(mc_flush(q), 0);
	ck_assert_uint_eq(cache_stats(q, "small").cached, 8);
	ck_assert_int_eq(mc_free(p, "small", 4, off), 0);
	before = requests(q);
	ck_assert_int_eq(mc_free(q, "small", 3, off + 1), 0);
	ck_assert_uint_eq(requests(q) - before, 1); /* the status call */
	ck_assert_uint_eq(cache_stats(q, "small").cached, 11);
	ck_assert_uint_eq(client_used(q, "small"), 11);
	mc_close(q);
	mc_close(p);
	client_stop(&td);
}
END_TEST

/* Blocks of a cached pool freed under a group's name: one sitting in the
 * cache is refused as under the pool's name (the daemon would otherwise drop
 * the lease of a block the cache still hands out), one the user holds is
 * freed and leaves the cache's books. */
START_TEST(test_mc_cache_free_through_group_respects_cache)
{
	struct test_daemon td;
	mc_client_t *c, *other;
	uint64_t off[2], got[16];
	size_t bs;

	client_start(&td, NULL);
	c = client_connect(&td);
	other = client_connect(&td);
	ck_assert_int_eq(mc_cache(c, "g_a", 16), 0);
	ck_assert_uint_eq(cache_stats(c, "g_a").cached, 8);
	ck_assert_int_eq(mc_alloc(c, "g_a", 2, off), 0);
	ck_assert_int_eq(mc_free(c, "g_a", 1, &off[0]), 0);
	/* off[0] sits in the cache now: not the user's to free, by any name. */
	ck_assert_int_eq(mc_group_free(c, "g_size", 1, &off[0]), -EFAULT);
	ck_assert_int_eq(mc_free_async(c, "g_size", 1, &off[0]), -EFAULT);
	ck_assert_uint_eq(cache_stats(c, "g_a").cached, 7);
	ck_assert_uint_eq(client_used(c, "g_a"), 8);
	/* off[1] is the user's: freed through the group, then unknown. */
	ck_assert_int_eq(mc_group_free(c, "g_size", 1, &off[1]), 0);
	ck_assert_int_eq(mc_free(c, "g_a", 1, &off[1]), -EFAULT);
	ck_assert_uint_eq(client_used(c, "g_a"), 7);
	/* Another client takes every free block and the cache back: what it
	 * gets was never handed out by c's cache twice. */
	ck_assert_int_eq(mc_group_alloc(other, "g_idx", 0, 16, got, &bs), 0);
	ck_assert_int_eq(mc_alloc(c, "g_a", 1, off), -ENOMEM);
	mc_close(other);
	mc_close(c);
	client_stop(&td);
}
END_TEST

/* An idle client's cached blocks go to another client rather than -ENOMEM;
 * the idle client notices when it next uses its cache. */
START_TEST(test_mc_cache_taken_back_from_idle_client)
{
	struct test_daemon td;
	mc_client_t *idle, *busy;
	uint64_t off[64];

	client_start(&td, NULL);
	idle = client_connect(&td);
	busy = client_connect(&td);
	ck_assert_int_eq(mc_cache(idle, "small", 16), 0);
	ck_assert_int_eq(mc_alloc(busy, "small", 56, off), 0);
	ck_assert_int_eq(mc_alloc(busy, "small", 6, off + 56), 0);
	ck_assert_uint_eq(client_used(busy, "small"), 64);
	ck_assert_int_eq(mc_alloc(busy, "small", 3, off), -ENOMEM);
	/* The daemon empties slots from the bottom, the client pops from the
	 * top: the idle client meets the 6 empty slots below its last 2. */
	ck_assert_int_eq(mc_free(busy, "small", 6, off + 56), 0);
	ck_assert_int_eq(mc_alloc(idle, "small", 3, off), 0);
	ck_assert_uint_eq(cache_stats(idle, "small").taken_back, 6);
	mc_close(idle);
	mc_close(busy);
	client_stop(&td);
}
END_TEST

struct stamper {
	mc_client_t *c;
	uint32_t id;
	int failed;
};

/* Allocate, stamp with (thread, round), check the stamp, free: a block
 * handed to two threads at once would show another thread's stamp. */
static void *stamper_run(void *arg)
{
	struct stamper *s = arg;
	uint64_t off[5];

	for (uint32_t r = 0; r < 2000 && s->failed == 0; r++) {
		size_t n = 1 + r % 5;

		if (mc_alloc(s->c, "big", n, off) != 0) {
			s->failed = 1;
			break;
		}
		for (size_t i = 0; i < n; i++) {
			uint32_t *p = mc_ptr(s->c, "big", off[i]);

			p[0] = s->id;
			p[1] = r;
		}
		for (size_t i = 0; i < n; i++) {
			uint32_t *p = mc_ptr(s->c, "big", off[i]);

			if (p[0] != s->id || p[1] != r)
				s->failed = 2;
		}
		if ((r % 2 ? mc_free(s->c, "big", n, off) : mc_free_async(s->c, "big", n, off)) !=
		    0)
			s->failed = 3;
	}
	return NULL;
}

START_TEST(test_mc_cache_eight_threads_one_client)
{
	struct test_daemon td;
	struct stamper s[8];
	pthread_t t[8];
	mc_client_t *c;

	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_int_eq(mc_cache(c, "big", 64), 0);
	for (uint32_t i = 0; i < 8; i++) {
		s[i] = (struct stamper){.c = c, .id = i + 1};
		ck_assert_int_eq(pthread_create(&t[i], NULL, stamper_run, &s[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		ck_assert_int_eq(s[i].failed, 0);
	}
	ck_assert_int_eq(mc_flush(c), 0);
	ck_assert_uint_gt(cache_stats(c, "big").hits, 0);
	ck_assert_int_eq(mc_cache(c, "big", 0), 0);
	ck_assert_int_eq(mc_flush(c), 0);
	ck_assert_uint_eq(client_used(c, "big"), 0);
	mc_close(c);
	client_stop(&td);
}
END_TEST

/* mc_cache on region "private" from outside it: 0, or the failed step. */
static int forbidden_cache(const struct test_daemon *td)
{
	mc_client_t *c;

	if (mc_connect(td->socket, &c) != 0)
		return 1;
	if (mc_cache(c, "secret", 2) != -EACCES)
		return 2;
	mc_close(c);
	return 0;
}

/* As test_mc_connect_forbidden_region_hidden: root may use every region, so
 * the check runs as nobody. */
static void check_forbidden_cache(const struct test_daemon *td)
{
	pid_t pid;

	if (geteuid() != 0) {
		ck_assert_int_eq(forbidden_cache(td), 0);
		return;
	}
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
			_exit(100);
		_exit(forbidden_cache(td));
	}
	ck_assert_int_eq(client_wait_child(pid), 0);
}

START_TEST(test_mc_cache_bad_input_changes_nothing)
{
	struct test_daemon td;
	mc_client_t *c;
	struct mc_cache_stats st;

	client_start(&td, NULL);
	check_forbidden_cache(&td);
	c = client_connect(&td);
	ck_assert_int_eq(mc_cache(c, "heap", 8), -EINVAL);
	ck_assert_int_eq(mc_cache(c, "g_size", 8), -EINVAL);
	ck_assert_int_eq(mc_cache(c, "nosuch", 2), -ENOENT);
	ck_assert_int_eq(mc_cache(c, "small", 65), -EINVAL);
	ck_assert_int_eq(mc_cache(c, "small", SIZE_MAX), -EINVAL);
	ck_assert_int_eq(mc_cache(c, NULL, 2), -EINVAL);
	ck_assert_int_eq(mc_cache(NULL, "small", 2), -EINVAL);
	ck_assert_int_eq(mc_cache_stats(c, "nosuch", &st), -ENOENT);
	ck_assert_int_eq(mc_cache_stats(c, "small", NULL), -EINVAL);
	st = cache_stats(c, "small");
	ck_assert_uint_eq(st.target, 0);
	ck_assert_uint_eq(st.cached, 0);
	ck_assert_uint_eq(client_used(c, "small"), 0);
	ck_assert_uint_eq(client_used(c, "heap"), 0);
	mc_close(c);
	client_stop(&td);
}
END_TEST

START_TEST(test_mc_cache_default_from_environment)
{
	struct test_daemon td;
	mc_client_t *c;

	client_start(&td, NULL);
	setenv("ALLOCATORD_CLIENT_CACHE", "small=8,packets=100", 1);
	c = client_connect(&td);
	unsetenv("ALLOCATORD_CLIENT_CACHE");
	ck_assert_uint_eq(cache_stats(c, "small").target, 8);
	/* Fit to the pool's cache_max (its 32 blocks). */
	ck_assert_uint_eq(cache_stats(c, "packets").target, 32);
	ck_assert_uint_eq(cache_stats(c, "big").target, 0);
	ck_assert_uint_eq(client_used(c, "small"), 4);
	mc_close(c);
	client_stop(&td);
}
END_TEST

Suite *cache_suite(void)
{
	Suite *s = suite_create("cache");
	TCase *tc = client_tcase("cache");

	tcase_add_test(tc, test_mc_cache_serves_without_round_trip);
	tcase_add_test(tc, test_mc_cache_off_returns_everything);
	tcase_add_test(tc, test_mc_cache_stale_retain_never_handed_out);
	tcase_add_test(tc, test_mc_cache_recycles_only_sole_holder);
	tcase_add_test(tc, test_mc_cache_failed_alloc_changes_nothing);
	tcase_add_test(tc, test_mc_cache_leases_count_toward_quota);
	tcase_add_test(tc, test_mc_cache_taken_back_from_idle_client);
	tcase_add_test(tc, test_mc_cache_free_checked_before_recycling);
	tcase_add_test(tc, test_mc_cache_consumer_recycles_retained_blocks);
	tcase_add_test(tc, test_mc_cache_free_through_group_respects_cache);
	tcase_add_test(tc, test_mc_cache_eight_threads_one_client);
	tcase_add_test(tc, test_mc_cache_bad_input_changes_nothing);
	tcase_add_test(tc, test_mc_cache_default_from_environment);
	suite_add_tcase(s, tc);
	return s;
}
