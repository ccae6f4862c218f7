/*
 * async: the pipelined transport through mc_free_async, mc_retain_async and
 * mc_flush against a real daemon -- requests reach it in call order, errors
 * surface at mc_flush (once), a pipeline longer than the in-flight bound
 * drains without deadlock, eight threads share one client, and a daemon that
 * stops or dies mid-pipeline makes the calls fail instead of hang.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/client/check_client.h"

#define SMALL_BLOCKS 64u

/* Blocks sitting in c's cache of small. */
static uint64_t cache_cached(mc_client_t *c)
{
	struct mc_cache_stats st;

	ck_assert_int_eq(mc_cache_stats(c, "small", &st), 0);
	return st.cached;
}

/* Frees queued before a synchronous call are done when the daemon answers
 * it: all of small back, then all of it again. */
START_TEST(test_mc_async_free_then_alloc_in_order)
{
	struct test_daemon td;
	uint64_t off[SMALL_BLOCKS];
	mc_client_t *c;

	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_int_eq(mc_alloc(c, "small", SMALL_BLOCKS, off), 0);
	for (unsigned i = 0; i < SMALL_BLOCKS; i++)
		ck_assert_int_eq(mc_free_async(c, "small", 1, &off[i]), 0);
	ck_assert_int_eq(mc_alloc(c, "small", SMALL_BLOCKS, off), 0);
	ck_assert_int_eq(mc_flush(c), 0);
	ck_assert_uint_eq(client_used(c, "small"), SMALL_BLOCKS);
	mc_close(c);
	client_stop(&td);
}
END_TEST

/* A retain queued before a free of the same block comes first: the
 * consumer's free drops its own hold, the producer's stays. */
START_TEST(test_mc_async_retain_then_free_in_order)
{
	struct test_daemon td;
	mc_client_t *prod, *cons;
	uint64_t off[4];

	client_start(&td, NULL);
	prod = client_connect(&td);
	cons = client_connect(&td);
	ck_assert_int_eq(mc_alloc(prod, "small", 4, off), 0);
	ck_assert_int_eq(mc_retain_async(cons, "small", 4, off), 0);
	ck_assert_int_eq(mc_free_async(cons, "small", 4, off), 0);
	ck_assert_int_eq(mc_retain_async(cons, "small", 2, off), 0);
	ck_assert_int_eq(mc_flush(cons), 0);
	ck_assert_int_eq(mc_free(prod, "small", 4, off), 0);
	/* The consumer's second retain holds two. */
	ck_assert_uint_eq(client_used(prod, "small"), 2);
	ck_assert_int_eq(mc_free(cons, "small", 2, off), 0);
	ck_assert_uint_eq(client_used(prod, "small"), 0);
	mc_close(prod);
	mc_close(cons);
	client_stop(&td);
}
END_TEST

/* A refused async request: 0 when queued, its error from the next mc_flush
 * only, the first of several; the requests around it still happen. */
START_TEST(test_mc_async_errors_surface_at_flush)
{
	struct test_daemon td;
	uint64_t off[2], bogus = 3;
	mc_client_t *c;

	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_int_eq(mc_alloc(c, "small", 2, off), 0);
	ck_assert_int_eq(mc_free_async(c, "small", 1, &off[0]), 0);
	ck_assert_int_eq(mc_free_async(c, "nosuch", 1, &off[1]), 0);
	ck_assert_int_eq(mc_free_async(c, "small", 1, &bogus), 0);
	ck_assert_int_eq(mc_retain_async(c, "small", 1, &off[1]), 0);
	ck_assert_int_eq(mc_flush(c), -ENOENT);
	ck_assert_int_eq(mc_flush(c), 0);
	ck_assert_uint_eq(client_used(c, "small"), 1);
	ck_assert_int_eq(mc_free_async(c, "small", 1, &off[1]), 0);
	ck_assert_int_eq(mc_flush(c), 0);
	ck_assert_int_eq(mc_free_async(c, "small", 1, &off[1]), 0);
	ck_assert_int_eq(mc_flush(c), -EFAULT);
	ck_assert_uint_eq(client_used(c, "small"), 0);
	ck_assert_int_eq(mc_free_async(NULL, "small", 1, off), -EINVAL);
	ck_assert_int_eq(mc_free_async(c, "small", 1, NULL), -EINVAL);
	ck_assert_int_eq(mc_retain_async(c, NULL, 1, off), -EINVAL);
	ck_assert_int_eq(mc_flush(NULL), -EINVAL);
	ck_assert_int_eq(mc_free_async(c, "small", 0, NULL), 0);
	ck_assert_int_eq(mc_flush(c), 0);
	mc_close(c);
	client_stop(&td);
}
END_TEST

/* Thousands of one-offset requests (two names alternating, so none are
 * merged): far more than may be in flight; the library waits for replies
 * as it goes and nothing is lost. */
START_TEST(test_mc_async_long_pipeline_drains)
{
	enum { N = 2000 };
	struct test_daemon td;
	uint64_t *a = malloc(N * sizeof(*a)), *b = malloc(N * sizeof(*b));
	mc_client_t *c;

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_int_eq(mc_alloc(c, "big", N, a), 0);
	ck_assert_int_eq(mc_alloc(c, "bulk_small", N, b), 0);
	for (unsigned i = 0; i < N; i++) {
		ck_assert_int_eq(mc_free_async(c, "big", 1, &a[i]), 0);
		ck_assert_int_eq(mc_free_async(c, "bulk_small", 1, &b[i]), 0);
	}
	ck_assert_int_eq(mc_flush(c), 0);
	ck_assert_uint_eq(client_used(c, "big"), 0);
	ck_assert_uint_eq(client_used(c, "bulk_small"), 0);
	mc_close(c);
	client_stop(&td);
	free(a);
	free(b);
}
END_TEST

/* One more async free than a request may carry: two requests, both
 * accepted (the queue goes out when it holds exactly max_batch). */
START_TEST(test_mc_async_batch_of_max_batch)
{
	struct test_daemon td;
	mc_client_t *c;
	uint64_t *a;
	size_t n;

	client_start(&td, NULL);
	c = client_connect(&td);
	n = mc_max_batch(c) + 1;
	a = malloc(n * sizeof(*a));
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(mc_alloc(c, "big", n, a), 0);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(mc_free_async(c, "big", 1, &a[i]), 0);
	ck_assert_int_eq(mc_flush(c), 0);
	ck_assert_uint_eq(client_used(c, "big"), 0);
	mc_close(c);
	client_stop(&td);
	free(a);
}
END_TEST

struct worker {
	mc_client_t *c;
	int failed; /* the step that went wrong, 0 if none */
};

/* Allocate, free async, retain and free again, flush now and then. */
static void *worker_run(void *arg)
{
	struct worker *w = arg;
	uint64_t off[4];

	for (int i = 0; i < 300 && w->failed == 0; i++) {
		if (mc_alloc(w->c, "big", 4, off) != 0)
			w->failed = 1;
		else if (mc_free_async(w->c, "big", 2, off) != 0)
			w->failed = 2;
		else if (mc_free(w->c, "big", 2, off + 2) != 0)
			w->failed = 3;
		else if (i % 50 == 0 && mc_flush(w->c) != 0)
			w->failed = 4;
	}
	return NULL;
}

START_TEST(test_mc_async_eight_threads_one_client)
{
	struct test_daemon td;
	struct worker w[8];
	pthread_t t[8];
	mc_client_t *c;

	client_start(&td, NULL);
	c = client_connect(&td);
	for (int i = 0; i < 8; i++) {
		w[i] = (struct worker){.c = c};
		ck_assert_int_eq(pthread_create(&t[i], NULL, worker_run, &w[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		ck_assert_int_eq(w[i].failed, 0);
	}
	ck_assert_int_eq(mc_flush(c), 0);
	ck_assert_uint_eq(client_used(c, "big"), 0);
	mc_close(c);
	client_stop(&td);
}
END_TEST

static void *flush_run(void *arg)
{
	return (void *) (intptr_t) mc_flush(arg);
}

/* Requests in flight to a daemon that stopped reading and then dies: the
 * waiting mc_flush returns -ECONNRESET, and so does everything after. */
START_TEST(test_mc_async_daemon_killed_mid_pipeline)
{
	struct timespec pause_ms = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};
	struct test_daemon td;
	uint64_t off[64];
	mc_client_t *c;
	pthread_t t;
	void *rc;

	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_int_eq(mc_alloc(c, "big", 64, off), 0);
	ck_assert_int_eq(kill(td.pid, SIGSTOP), 0);
	for (unsigned i = 0; i < 64; i++)
		ck_assert_int_eq(mc_free_async(c, i % 2 ? "big" : "nosuch", 1, &off[i]), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, flush_run, c), 0);
	nanosleep(&pause_ms, NULL);
	client_kill(&td);
	ck_assert_int_eq(pthread_join(t, &rc), 0);
	ck_assert_int_eq((int) (intptr_t) rc, -ECONNRESET);
	ck_assert_int_eq(mc_free_async(c, "big", 1, off), -ECONNRESET);
	ck_assert_int_eq(mc_flush(c), -ECONNRESET);
	ck_assert_int_eq(mc_alloc(c, "big", 1, off), -ECONNRESET);
	mc_close(c);
}
END_TEST

/* Frees queued to a daemon already gone: the flush says so. */
START_TEST(test_mc_async_daemon_gone_before_flush)
{
	struct test_daemon td;
	uint64_t off[4];
	mc_client_t *c;
	int rc;

	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_int_eq(mc_alloc(c, "big", 4, off), 0);
	client_kill(&td);
	ck_assert_int_eq(mc_free_async(c, "big", 4, off), 0);
	rc = mc_flush(c);
	ck_assert_msg(rc == -ECONNRESET || rc == -EPIPE, "mc_flush = %d", rc);
	ck_assert_int_eq(mc_flush(c), -ECONNRESET);
	mc_close(c);
}
END_TEST

/* A forked child that closes the client it inherited sends and reads
 * nothing: the parent's queued free goes out once, from the parent, and
 * its cache is as it was. */
START_TEST(test_mc_async_close_in_forked_child_leaves_parent_alone)
{
	struct test_daemon td;
	uint64_t off[4], m;
	mc_client_t *c;
	int status;
	pid_t pid;

	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_int_eq(mc_cache(c, "small", 16), 0);
	ck_assert_int_eq(mc_alloc(c, "small", 4, off), 0);
	ck_assert_int_eq(mc_alloc(c, "packets", 1, &m), 0);
	ck_assert_int_eq(mc_free_async(c, "packets", 1, &m), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		mc_close(c);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_eq(mc_flush(c), 0);
	ck_assert_uint_eq(client_used(c, "packets"), 0);
	ck_assert_int_eq(mc_free(c, "small", 4, off), 0);
	ck_assert_uint_eq(cache_cached(c), 8);
	mc_close(c);
	client_stop(&td);
}
END_TEST

Suite *async_suite(void)
{
	Suite *s = suite_create("async");
	TCase *tc = client_tcase("async");

	tcase_add_test(tc, test_mc_async_free_then_alloc_in_order);
	tcase_add_test(tc, test_mc_async_retain_then_free_in_order);
	tcase_add_test(tc, test_mc_async_errors_surface_at_flush);
	tcase_add_test(tc, test_mc_async_long_pipeline_drains);
	tcase_add_test(tc, test_mc_async_batch_of_max_batch);
	tcase_add_test(tc, test_mc_async_eight_threads_one_client);
	tcase_add_test(tc, test_mc_async_daemon_killed_mid_pipeline);
	tcase_add_test(tc, test_mc_async_daemon_gone_before_flush);
	tcase_add_test(tc, test_mc_async_close_in_forked_child_leaves_parent_alone);
	suite_add_tcase(s, tc);
	return s;
}
