/*
 * share: what several processes and threads do with one daemon -- the
 * producer/consumer hand-off (zero copy), a client killed with SIGKILL,
 * a daemon killed under its clients, and threads sharing one client.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/client/check_client.h"

#define SMALL_BS 256u
#define NBLOCKS  3

static uint8_t pattern(uint64_t off, unsigned i)
{
	return (uint8_t) (off / SMALL_BS * 31 + i);
}

/*
 * The producer: allocate six blocks, keep every other one (so that what it
 * hands over is not contiguous), fill them, send the offsets; once the
 * consumer says it has them ('R'), check the consumer's mark in place, free
 * its own hold, say so ('F'), and wait to be told to go ('X'). Returns 0
 * or the number of the step that failed.
 */
static int producer(const char *socket, int out, int in)
{
	mc_client_t *c;
	uint64_t off[2 * NBLOCKS], give[NBLOCKS], back[NBLOCKS];
	char token;

	if (mc_connect(socket, &c) != 0)
		return 1;
	if (mc_alloc(c, "small", 2 * NBLOCKS, off) != 0)
		return 2;
	for (int i = 0; i < NBLOCKS; i++) {
		give[i] = off[2 * i];
		back[i] = off[2 * i + 1];
	}
	if (mc_free(c, "small", NBLOCKS, back) != 0)
		return 3;
	for (int k = 0; k < NBLOCKS; k++) {
		uint8_t *p = mc_ptr(c, "small", give[k]);

		for (unsigned i = 0; i < SMALL_BS; i++)
			p[i] = pattern(give[k], i);
	}
	if (!client_write_full(out, give, sizeof(give)))
		return 4;
	if (!client_read_full(in, &token, 1) || token != 'R')
		return 5;
	for (int k = 0; k < NBLOCKS; k++)
		if (memcmp(mc_ptr(c, "small", give[k]), "consumed", 8) != 0)
			return 6;
	if (mc_free(c, "small", NBLOCKS, give) != 0)
		return 7;
	if (!client_write_full(out, "F", 1))
		return 8;
	if (!client_read_full(in, &token, 1) || token != 'X')
		return 9;
	mc_close(c);
	return 0;
}

START_TEST(test_mc_producer_consumer_handoff)
{
	struct test_daemon td;
	mc_client_t *c;
	uint64_t off[NBLOCKS];
	int to_cons[2], to_prod[2];
	char token;
	pid_t pid;

	client_start(&td, NULL);
	ck_assert_int_eq(pipe(to_cons), 0);
	ck_assert_int_eq(pipe(to_prod), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(producer(td.socket, to_cons[1], to_prod[0]));

	c = client_connect(&td);
	ck_assert(client_read_full(to_cons[0], off, sizeof(off)));
	ck_assert_uint_eq(client_used(c, "small"), NBLOCKS);
	for (int k = 1; k < NBLOCKS; k++)
		ck_assert_uint_eq(off[k] - off[k - 1], 2 * SMALL_BS); /* not contiguous */
	ck_assert_int_eq(mc_retain(c, "small", NBLOCKS, off), 0);
	ck_assert_uint_eq(client_used(c, "small"), NBLOCKS);
	/* Zero copy: the producer's bytes, read in place, and a mark back. */
	for (int k = 0; k < NBLOCKS; k++) {
		uint8_t *p = mc_ptr(c, "small", off[k]);

		for (unsigned i = 0; i < SMALL_BS; i++)
			ck_assert_uint_eq(p[i], pattern(off[k], i));
		memcpy(p, "consumed", 8);
	}
	ck_assert(client_write_full(to_prod[1], "R", 1));
	ck_assert(client_read_full(to_cons[0], &token, 1));
	ck_assert_int_eq(token, 'F');
	/* The producer let go; the consumer still holds them. */
	ck_assert_uint_eq(client_used(c, "small"), NBLOCKS);
	ck_assert_int_eq(mc_free(c, "small", NBLOCKS, off), 0);
	ck_assert_uint_eq(client_used(c, "small"), 0);
	ck_assert(client_write_full(to_prod[1], "X", 1));
	ck_assert_int_eq(client_wait_child(pid), 0);
	mc_close(c);
	for (int i = 0; i < 2; i++) {
		close(to_cons[i]);
		close(to_prod[i]);
	}
	client_stop(&td);
}
END_TEST

/*
 * The victim: hold pool blocks, group blocks, heap memory and a retain of
 * the parent's block (whose offset comes on in), report 'Y' on out, and
 * wait for SIGKILL. Exits with the failed step if something goes wrong.
 */
static int victim(const char *socket, int in, int out)
{
	mc_client_t *c;
	uint64_t off[10], theirs, h;

	if (!client_read_full(in, &theirs, sizeof(theirs)) || mc_connect(socket, &c) != 0)
		return 1;
	if (mc_alloc(c, "small", 10, off) != 0 || mc_group_alloc(c, "g_idx", 2, 3, off, NULL) != 0)
		return 2;
	if (mc_heap_alloc(c, "heap", 1000, 0, &h) != 0 || mc_retain(c, "small", 1, &theirs) != 0)
		return 3;
	if (!client_write_full(out, "Y", 1))
		return 4;
	for (;;)
		pause();
}

START_TEST(test_mc_killed_client_is_reclaimed)
{
	struct test_daemon td;
	mc_client_t *c;
	uint64_t mine, all[64];
	int to_child[2], to_parent[2];
	char token;
	pid_t pid;

	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_int_eq(mc_alloc(c, "small", 1, &mine), 0);
	ck_assert_int_eq(pipe(to_child), 0);
	ck_assert_int_eq(pipe(to_parent), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(victim(td.socket, to_child[0], to_parent[1]));
	ck_assert(client_write_full(to_child[1], &mine, sizeof(mine)));
	ck_assert(client_read_full(to_parent[0], &token, 1));
	ck_assert_uint_eq(client_used(c, "small"), 11);
	ck_assert_uint_eq(client_used(c, "g_c"), 3);
	ck_assert_uint_eq(client_used(c, "heap"), 1024);

	kill(pid, SIGKILL);
	ck_assert_int_eq(client_wait_child(pid), 128 + SIGKILL);
	ck_assert_uint_eq(client_wait_used(c, "small", 1, 3000), 1);
	ck_assert_uint_eq(client_used(c, "g_c"), 0);
	ck_assert_uint_eq(client_used(c, "heap"), 0);
	/* Its retain went too: the parent's free returns the block. */
	ck_assert_int_eq(mc_free(c, "small", 1, &mine), 0);
	ck_assert_uint_eq(client_used(c, "small"), 0);
	/* And everything is usable again. */
	ck_assert_int_eq(mc_alloc(c, "small", 64, all), 0);
	ck_assert_int_eq(mc_heap_alloc(c, "heap", 1u << 20, 0, &mine), 0);
	mc_close(c);
	for (int i = 0; i < 2; i++) {
		close(to_child[i]);
		close(to_parent[i]);
	}
	client_stop(&td);
}
END_TEST

static void assert_gone(int rc, const char *what)
{
	ck_assert_msg(rc == -ECONNRESET || rc == -EPIPE, "%s after the daemon died: %d (%s)", what,
		      rc, strerror(-rc));
}

START_TEST(test_mc_daemon_gone)
{
	struct test_daemon td;
	struct mc_status st;
	mc_client_t *c;
	uint64_t off[2], h;
	uint8_t bits[8], *p;
	size_t n;

	/* A missing MSG_NOSIGNAL must kill the test, not pass unnoticed. */
	signal(SIGPIPE, SIG_DFL);
	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_int_eq(mc_alloc(c, "small", 2, off), 0);
	p = mc_ptr(c, "small", off[0]);
	memcpy(p, "still here", 11);
	client_kill(&td);

	assert_gone(mc_alloc(c, "small", 1, off), "mc_alloc");
	assert_gone(mc_free(c, "small", 2, off), "mc_free");
	assert_gone(mc_alloc_contiguous(c, "small", 2, off), "mc_alloc_contiguous");
	assert_gone(mc_free_contiguous(c, "small", off[0], 1), "mc_free_contiguous");
	assert_gone(mc_group_alloc(c, "g_idx", 0, 1, off, NULL), "mc_group_alloc");
	assert_gone(mc_heap_alloc(c, "heap", 64, 0, &h), "mc_heap_alloc");
	assert_gone(mc_heap_free(c, "heap", h), "mc_heap_free");
	assert_gone(mc_retain(c, "small", 1, off), "mc_retain");
	assert_gone(mc_list(c, NULL, 0, &n), "mc_list");
	assert_gone(mc_stats(c, NULL, NULL, 0, &n), "mc_stats");
	assert_gone(mc_status(c, &st, NULL, 0, NULL), "mc_status");
	assert_gone(mc_clients(c, NULL, 0, &n, NULL, 0, NULL), "mc_clients");
	assert_gone(mc_pool_map(c, "small", 0, 8, bits, NULL), "mc_pool_map");
	/* The mapping outlives the daemon. */
	ck_assert_ptr_eq(mc_ptr(c, "small", off[0]), p);
	ck_assert_str_eq((char *) p, "still here");
	p[0] = 'S';
	mc_close(c);
}
END_TEST

/*
 * Threads on one client. Each thread allocates 1 to 3 blocks at a time,
 * keeps up to 8 allocations, stamps every block with its id and checks
 * the stamp before freeing: a block handed to two threads would show. A
 * shared table of live offsets checks they are unique.
 */
enum { THREADS = 4, ROUNDS = 1000, KEEP = 8 };

struct live_table {
	pthread_mutex_t lock;
	uint8_t *live; /* per block of "big" */
	uint64_t base; /* offset of block 0 */
};

struct worker {
	mc_client_t *c;
	struct live_table *t;
	uint32_t id;
	int failed; /* 0, or the step that failed */
};

static int table_flip(struct live_table *t, uint64_t off, uint8_t from)
{
	uint64_t b = (off - t->base) / 64;
	int ok;

	pthread_mutex_lock(&t->lock);
	ok = b < CLIENT_BIG_BLOCKS && t->live[b] == from;
	if (ok)
		t->live[b] = !from;
	pthread_mutex_unlock(&t->lock);
	return ok;
}

static int worker_free(struct worker *w, const uint64_t *off, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t stamp;

		memcpy(&stamp, mc_ptr(w->c, "big", off[i]), sizeof(stamp));
		if (stamp != w->id || !table_flip(w->t, off[i], 1))
			return 3;
	}
	return mc_free(w->c, "big", n, off) == 0 ? 0 : 4;
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	uint64_t held[KEEP][3];
	size_t count[KEEP] = {0};

	for (unsigned r = 0; r < ROUNDS && w->failed == 0; r++) {
		size_t slot = r % KEEP, n = 1 + (r + w->id) % 3;

		if (count[slot] > 0)
			w->failed = worker_free(w, held[slot], count[slot]);
		count[slot] = 0;
		if (w->failed == 0 && mc_alloc(w->c, "big", n, held[slot]) != 0)
			w->failed = 1;
		for (size_t i = 0; i < n && w->failed == 0; i++) {
			if (!table_flip(w->t, held[slot][i], 0))
				w->failed = 2;
			memcpy(mc_ptr(w->c, "big", held[slot][i]), &w->id, sizeof(w->id));
		}
		if (w->failed == 0)
			count[slot] = n;
	}
	for (size_t s = 0; s < KEEP && w->failed == 0; s++)
		if (count[s] > 0)
			w->failed = worker_free(w, held[s], count[s]);
	return NULL;
}

START_TEST(test_mc_threads_share_one_client)
{
	struct test_daemon td;
	struct live_table t = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct worker w[THREADS];
	pthread_t th[THREADS];
	mc_client_t *c;
	uint64_t first;

	t.live = calloc(CLIENT_BIG_BLOCKS, 1);
	ck_assert_ptr_nonnull(t.live);
	client_start(&td, NULL);
	c = client_connect(&td);
	/* Block 0's offset, lowest first. */
	ck_assert_int_eq(mc_alloc(c, "big", 1, &first), 0);
	ck_assert_int_eq(mc_free(c, "big", 1, &first), 0);
	t.base = first;
	for (uint32_t i = 0; i < THREADS; i++) {
		w[i] = (struct worker){.c = c, .t = &t, .id = i + 1};
		ck_assert_int_eq(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
		ck_assert_msg(w[i].failed == 0, "thread %d failed at step %d", i + 1, w[i].failed);
	}
	ck_assert_uint_eq(client_used(c, "big"), 0);
	for (size_t b = 0; b < CLIENT_BIG_BLOCKS; b++)
		ck_assert_uint_eq(t.live[b], 0);
	mc_close(c);
	client_stop(&td);
	free(t.live);
}
END_TEST

Suite *share_suite(void)
{
	Suite *s = suite_create("share");
	TCase *tc = client_tcase("share");

	tcase_add_test(tc, test_mc_producer_consumer_handoff);
	tcase_add_test(tc, test_mc_killed_client_is_reclaimed);
	tcase_add_test(tc, test_mc_daemon_gone);
	tcase_add_test(tc, test_mc_threads_share_one_client);
	suite_add_tcase(s, tc);
	return s;
}
