/*
 * timeout: a daemon that stops answering (SIGSTOP) or a listener that never
 * does: every kind of call returns -ETIMEDOUT instead of hanging, the client
 * is then broken (later calls -ECONNRESET, mc_close fine) and has hung up,
 * so that the daemon drops its holds when it runs again. Timeouts are tiny
 * and nothing here measures time: only the results and the state after.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/client/check_client.h"

#define TINY_MS 50

/* A client of td with a tiny timeout, holding n blocks of "small". */
static mc_client_t *holding(const struct test_daemon *td, size_t n, uint64_t *off)
{
	mc_client_t *c = client_connect(td);

	ck_assert_int_eq(mc_set_timeout(c, TINY_MS), 0);
	ck_assert_int_eq(mc_alloc(c, "small", n, off), 0);
	return c;
}

/* After a timeout: broken, hung up. Resume the daemon and see it drop
 * every hold of the broken client (and nothing else breaks). */
static void assert_broken_then_reclaimed(struct test_daemon *td, mc_client_t *c)
{
	uint64_t off[1];
	size_t n;
	mc_client_t *other;

	ck_assert_int_eq(mc_alloc(c, "small", 1, off), -ECONNRESET);
	ck_assert_int_eq(mc_list(c, NULL, 0, &n), -ECONNRESET);
	ck_assert_int_eq(mc_flush(c), -ECONNRESET);
	/* The mappings stay until mc_close. */
	ck_assert_ptr_nonnull(mc_ptr(c, "small", 0));
	client_pause(td, false);
	other = client_connect(td);
	ck_assert_uint_eq(client_wait_used(other, "small", 0, 5000), 0);
	mc_close(c);
	mc_close(other);
	client_stop(td);
}

START_TEST(test_timeout_call_to_stopped_daemon)
{
	struct test_daemon td;
	uint64_t off[3];
	mc_client_t *c;
	struct mc_status st;

	client_start(&td, NULL);
	c = holding(&td, 3, off);
	client_pause(&td, true);
	ck_assert_int_eq(mc_status(c, &st, NULL, 0, NULL), -ETIMEDOUT);
	assert_broken_then_reclaimed(&td, c);
}
END_TEST

START_TEST(test_timeout_flush_to_stopped_daemon)
{
	struct test_daemon td;
	uint64_t off[3];
	mc_client_t *c;

	client_start(&td, NULL);
	c = holding(&td, 3, off);
	client_pause(&td, true);
	/* Queued, sent at the flush, whose wait for the reply times out. */
	ck_assert_int_eq(mc_free_async(c, "small", 3, off), 0);
	ck_assert_int_eq(mc_flush(c), -ETIMEDOUT);
	assert_broken_then_reclaimed(&td, c);
}
END_TEST

/* Async requests need no reply until 64 are in flight: the call that
 * waits for room is the one that times out. */
START_TEST(test_timeout_pipeline_full)
{
	static const char *const names[] = {"small", "packets"};
	struct test_daemon td;
	uint64_t off[3];
	mc_client_t *c;
	int rc = 0, i;

	client_start(&td, NULL);
	c = holding(&td, 3, off);
	client_pause(&td, true);
	/* Each change of name sends the open request. */
	for (i = 0; i < 1000 && rc == 0; i++)
		rc = mc_retain_async(c, names[i % 2], 1, off);
	ck_assert_int_eq(rc, -ETIMEDOUT);
	ck_assert_int_gt(i, 64);
	/* Its failure is the first async error too. */
	ck_assert_int_eq(mc_flush(c), -ETIMEDOUT);
	assert_broken_then_reclaimed(&td, c);
}
END_TEST

START_TEST(test_timeout_cache_refill_to_stopped_daemon)
{
	struct test_daemon td;
	uint64_t off[64];
	mc_client_t *c;
	int rc = 0;
	size_t i;

	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_int_eq(mc_set_timeout(c, TINY_MS), 0);
	ck_assert_int_eq(mc_cache(c, "small", 16), 0);
	ck_assert_uint_gt(client_used(c, "small"), 0);
	client_pause(&td, true);
	/* The cache serves what it has, then a refill or a miss waits. */
	for (i = 0; i < 64 && rc == 0; i++)
		rc = mc_alloc(c, "small", 1, &off[i]);
	if (rc == 0)
		rc = mc_flush(c);
	ck_assert_int_eq(rc, -ETIMEDOUT);
	assert_broken_then_reclaimed(&td, c);
}
END_TEST

START_TEST(test_timeout_connect_to_stopped_daemon)
{
	struct mc_connect_options o = {.size = sizeof(o), .timeout_ms = TINY_MS};
	struct test_daemon td;
	mc_client_t *c = (mc_client_t *) &o;
	int fds;

	client_start(&td, NULL);
	fds = client_count_fds();
	client_pause(&td, true);
	/* The connect completes in the kernel; the hello gets no answer. */
	ck_assert_int_eq(mc_connect_with(td.socket, &o, &c), -ETIMEDOUT);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(client_count_fds(), fds);
	client_pause(&td, false);
	client_stop(&td);
}
END_TEST

START_TEST(test_timeout_connect_silent_listener)
{
	char reason[64] = "unchanged";
	struct mc_connect_options o = {.size = sizeof(o),
				       .timeout_ms = TINY_MS,
				       .reason = reason,
				       .reason_len = sizeof(reason)};
	struct silent_listener s;
	mc_client_t *c;
	int fds = client_count_fds();

	client_silent_start(&s);
	ck_assert_int_eq(mc_connect_with(s.socket, &o, &c), -ETIMEDOUT);
	ck_assert_ptr_null(c);
	ck_assert_str_eq(reason, "");
	ck_assert_int_eq(client_count_fds(), fds);
	client_silent_stop(&s);
}
END_TEST

/* A listen queue that stays full: the connect() itself times out. */
START_TEST(test_timeout_connect_queue_full)
{
	struct mc_connect_options o = {.size = sizeof(o), .timeout_ms = TINY_MS};
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct silent_listener s;
	int l, first;
	mc_client_t *c;

	/* The directory and path of a silent listener, but a listener of our
	 * own with a queue of one that nobody accepts from. */
	client_silent_start(&s);
	client_silent_stop(&s);
	ck_assert_int_eq(mkdir(s.dir, 0700), 0);
	memcpy(sun.sun_path, s.socket, strlen(s.socket) + 1);
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	first = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(bind(l, (struct sockaddr *) &sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(l, 0), 0);
	ck_assert_int_eq(connect(first, (struct sockaddr *) &sun, sizeof(sun)), 0);
	ck_assert_int_eq(mc_connect_with(s.socket, &o, &c), -ETIMEDOUT);
	close(first);
	close(l);
	unlink(s.socket);
	rmdir(s.dir);
}
END_TEST

START_TEST(test_timeout_env_default)
{
	/* Values the library cannot honour are refused, not replaced. */
	static const char *const bad[] = {"0", "-2", "abc", "50ms", "99999999999"};
	struct silent_listener s;
	mc_client_t *c;

	client_silent_start(&s);
	ck_assert_int_eq(setenv("ALLOCATORD_TIMEOUT_MS", "50", 1), 0);
	ck_assert_int_eq(mc_connect(s.socket, &c), -ETIMEDOUT);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(setenv("ALLOCATORD_TIMEOUT_MS", bad[i], 1), 0);
		ck_assert_msg(mc_connect(s.socket, &c) == -EINVAL, "%s", bad[i]);
	}
	ck_assert_int_eq(unsetenv("ALLOCATORD_TIMEOUT_MS"), 0);
	client_silent_stop(&s);
}
END_TEST

START_TEST(test_timeout_bad_arguments)
{
	struct mc_connect_options o = {.size = sizeof(o) - 1};
	struct test_daemon td;
	mc_client_t *c;
	uint64_t off;

	client_start(&td, NULL);
	ck_assert_int_eq(mc_connect_with(td.socket, &o, &c), -EINVAL);
	o.size = sizeof(o);
	o.timeout_ms = -2;
	ck_assert_int_eq(mc_connect_with(td.socket, &o, &c), -EINVAL);
	o.timeout_ms = MC_TIMEOUT_NONE;
	ck_assert_int_eq(mc_connect_with(td.socket, &o, &c), 0);
	ck_assert_int_eq(mc_set_timeout(NULL, 10), -EINVAL);
	ck_assert_int_eq(mc_set_timeout(c, -2), -EINVAL);
	ck_assert_int_eq(setenv("ALLOCATORD_TIMEOUT_MS", "x", 1), 0);
	ck_assert_int_eq(mc_set_timeout(c, 0), -EINVAL);
	ck_assert_int_eq(unsetenv("ALLOCATORD_TIMEOUT_MS"), 0);
	ck_assert_int_eq(mc_set_timeout(c, 0), 0);
	ck_assert_int_eq(mc_set_timeout(c, MC_TIMEOUT_NONE), 0);
	/* Nothing of that broke the client. */
	ck_assert_int_eq(mc_alloc(c, "small", 1, &off), 0);
	mc_close(c);
	client_stop(&td);
}
END_TEST

Suite *timeout_suite(void)
{
	Suite *s = suite_create("timeout");
	TCase *tc = client_tcase("timeout");

	tcase_add_test(tc, test_timeout_call_to_stopped_daemon);
	tcase_add_test(tc, test_timeout_flush_to_stopped_daemon);
	tcase_add_test(tc, test_timeout_pipeline_full);
	tcase_add_test(tc, test_timeout_cache_refill_to_stopped_daemon);
	tcase_add_test(tc, test_timeout_connect_to_stopped_daemon);
	tcase_add_test(tc, test_timeout_connect_silent_listener);
	tcase_add_test(tc, test_timeout_connect_queue_full);
	tcase_add_test(tc, test_timeout_env_default);
	tcase_add_test(tc, test_timeout_bad_arguments);
	suite_add_tcase(s, tc);
	return s;
}
