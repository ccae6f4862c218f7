/*
 * restart: libmemclient against a real allocatord whose serving process is
 * killed (kill -9) under its clients, the keeper starting the next at once
 * (allocatord(8), "Restarts"). The client must carry on by itself: requests
 * in flight answered, none applied twice, its holds the same, the blocks it
 * wrote while the daemon was down intact.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "tests/client/check_client.h"

#define HELD 8u

static void write_canaries(mc_client_t *c, const uint64_t *offs, size_t n, char tag)
{
	for (size_t i = 0; i < n; i++) {
		char *p = mc_ptr(c, "small", offs[i]);

		ck_assert_ptr_nonnull(p);
		memset(p, tag + (char) i, 256);
	}
}

static void check_canaries(mc_client_t *c, const uint64_t *offs, size_t n, char tag)
{
	for (size_t i = 0; i < n; i++) {
		const char *p = mc_ptr(c, "small", offs[i]);

		for (size_t b = 0; b < 256; b++)
			ck_assert_int_eq(p[b], tag + (char) i);
	}
}

static pid_t start(struct test_daemon *td)
{
	pid_t serving;

	ck_assert_int_eq(test_daemon_start_keeper(td, NULL, client_test_config, NULL), 0);
	serving = test_daemon_next_serving(td, 0);
	ck_assert_int_gt(serving, 0);
	return serving;
}

/* Pipelined frees queued and sent, the serving process killed, blocks
 * written meanwhile: mc_flush sees them applied once, the holds are what
 * the client thinks, the next calls are served by the next process. */
START_TEST(test_restart_async_frees_and_canaries)
{
	struct test_daemon td;
	uint64_t held[HELD], more, pk[2];
	mc_client_t *c;
	pid_t first;

	first = start(&td);
	c = client_connect(&td);
	ck_assert_int_eq(mc_alloc(c, "small", HELD, held), 0);
	ck_assert_int_eq(mc_alloc(c, "packets", 2, pk), 0);
	write_canaries(c, held, HELD, 'a');
	/* The first goes out when the second, of another name, is queued. */
	ck_assert_int_eq(mc_free_async(c, "small", 2, held + HELD - 2), 0);
	ck_assert_int_eq(mc_free_async(c, "packets", 1, pk), 0);
	ck_assert_int_eq(kill(first, SIGKILL), 0);
	write_canaries(c, held, HELD - 2, 'k'); /* while it is down */
	ck_assert_int_eq(mc_flush(c), 0);
	ck_assert_int_gt(test_daemon_next_serving(&td, first), 0);
	ck_assert_int_eq(mc_alloc(c, "small", 1, &more), 0);
	ck_assert_uint_eq(client_used(c, "small"), HELD - 2 + 1);
	ck_assert_uint_eq(client_used(c, "packets"), 1);
	check_canaries(c, held, HELD - 2, 'k');
	/* What it holds is its own: freeing it all works once, and only once. */
	ck_assert_int_eq(mc_free(c, "small", HELD - 2, held), 0);
	ck_assert_int_eq(mc_free(c, "small", 1, &more), 0);
	ck_assert_int_eq(mc_free(c, "small", 1, &more), -EFAULT);
	ck_assert_uint_eq(client_used(c, "small"), 0);
	ck_assert_int_eq(mc_free(c, "packets", 1, pk + 1), 0);
	mc_close(c);
	client_stop(&td);
}
END_TEST

struct call {
	mc_client_t *c;
	uint64_t offs[4];
	int rc;
};

static void *alloc_thread(void *arg)
{
	struct call *a = arg;

	a->rc = mc_alloc(a->c, "small", 4, a->offs);
	return NULL;
}

/* A synchronous call in flight when the serving process dies: the serving
 * process is stopped (SIGSTOP) so that the call waits, then killed. The
 * call returns what the next process answers, and holds exactly 4 blocks
 * more, not 8. */
START_TEST(test_restart_sync_call_in_flight)
{
	struct test_daemon td;
	struct call a = {0};
	mc_client_t *c;
	pthread_t t;
	pid_t first;

	first = start(&td);
	c = client_connect(&td);
	a.c = c;
	ck_assert_int_eq(kill(first, SIGSTOP), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, alloc_thread, &a), 0);
	ck_assert_int_eq(kill(first, SIGKILL), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(a.rc, 0);
	ck_assert_uint_eq(client_used(c, "small"), 4);
	ck_assert_int_eq(mc_free(c, "small", 4, a.offs), 0);
	mc_close(c);
	client_stop(&td);
}
END_TEST

Suite *restart_suite(void)
{
	Suite *s = suite_create("restart");
	TCase *tc = client_tcase("restart");

	tcase_add_test(tc, test_restart_async_frees_and_canaries);
	tcase_add_test(tc, test_restart_sync_call_in_flight);
	suite_add_tcase(s, tc);
	return s;
}
