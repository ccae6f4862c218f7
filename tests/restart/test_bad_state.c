/*
 * A state that does not fit, seen from outside: a keeper whose serving
 * process is killed after its configuration file was edited so that a
 * pool's geometry no longer matches the books. Without --discard-state the
 * new serving process refuses the state at start-up (exit 1, the mismatch
 * named in the log) and the keeper exits 1 too rather than loop; with it,
 * the state is dropped with a warning and the daemon starts cold: the new
 * geometry serves, nothing is held, and a client of the old state is told
 * its session is gone (-ESTALE), never handed memory it did not ask for.
 * (tests/daemon checks state_open itself, each damage one by one.)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "tests/restart/check_restart.h"

static const char config_64[] =
    "log_level = \"info\";\n"
    "regions = ({ name = \"r\"; size = \"64K\";\n"
    "  pools = ({ name = \"p\"; block_size = 64; blocks = 64; }); });\n";

static const char config_128[] =
    "log_level = \"info\";\n"
    "regions = ({ name = \"r\"; size = \"64K\";\n"
    "  pools = ({ name = \"p\"; block_size = 64; blocks = 128; }); });\n";

/* A client holding three blocks of p, then the configuration edited and
 * the serving process killed. */
static mc_client_t *hold_then_edit_and_kill(struct test_daemon *td)
{
	mc_client_t *c = client_connect(td);
	uint64_t off[3];
	pid_t pid;
	FILE *f;

	ck_assert_int_eq(mc_alloc(c, "p", 3, off), 0);
	f = fopen(td->config, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(config_128, f), 0);
	ck_assert_int_eq(fclose(f), 0);
	pid = test_daemon_serving_pid(td);
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	return c;
}

START_TEST(test_restart_layout_changed_is_refused)
{
	struct test_daemon td;
	char log[16384];
	mc_client_t *c;

	client_start_keeper(&td, config_64, NULL);
	c = hold_then_edit_and_kill(&td);
	/* The keeper does not loop on a state it cannot use. */
	ck_assert_int_eq(client_wait_exit(&td), 1);
	test_daemon_log(&td, log, sizeof(log));
	ck_assert_msg(strstr(log, "pool 'p'") != NULL && strstr(log, "64") != NULL &&
			  strstr(log, "128") != NULL && strstr(log, "--discard-state") != NULL,
		      "the refusal names the pool, both geometries and the way out:\n%s", log);
	mc_close(c);
	test_daemon_kill(&td);
}
END_TEST

START_TEST(test_restart_layout_changed_discarded_on_request)
{
	const char *const args[] = {"--discard-state", NULL};
	struct test_daemon td;
	char log[16384], why[256];
	struct mc_stats st;
	mc_client_t *c, *fresh;
	uint64_t off;
	size_t n;

	client_start_keeper(&td, config_64, args);
	c = hold_then_edit_and_kill(&td);
	ck_assert_int_gt(test_daemon_next_serving(&td, 0), 0);
	fresh = client_connect(&td);
	/* A cold start: the new geometry, nothing held. */
	ck_assert_int_eq(mc_stats(fresh, "p", &st, 1, &n), 0);
	ck_assert_uint_eq(st.info.total, 128);
	ck_assert_uint_eq(st.info.used, 0);
	/* The old session is gone with the state it lived in. */
	ck_assert_int_eq(mc_alloc(c, "p", 1, &off), -ESTALE);
	ck_assert_int_eq(mc_last_error(c, why, sizeof(why)), 0);
	ck_assert_msg(why[0] != '\0', "-ESTALE comes with a reason");
	ck_assert_uint_eq(client_used(fresh, "p"), 0);
	mc_close(c);
	mc_close(fresh);
	test_daemon_log(&td, log, sizeof(log));
	ck_assert_msg(strstr(log, "pool 'p'") != NULL && strstr(log, "warn") != NULL,
		      "the dropped state is a warning naming why:\n%s", log);
	client_stop(&td);
}
END_TEST

Suite *bad_state_suite(void)
{
	Suite *s = suite_create("bad_state");
	TCase *tc = client_tcase("layout");

	tcase_add_test(tc, test_restart_layout_changed_is_refused);
	tcase_add_test(tc, test_restart_layout_changed_discarded_on_request);
	suite_add_tcase(s, tc);
	return s;
}
