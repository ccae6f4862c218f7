/*
 * reload: SIGHUP makes a running allocatord read its file again, all or
 * nothing, while its clients stay connected -- quotas and limits change
 * under them, anything that needs a restart refuses the whole file, a
 * broken file changes nothing, and no hold is lost on the way.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include "tests/client/check_client.h"

/* Region "main": pool "p" (64 B x 16, client_quota QUOTA), pool "free"
 * (64 B x 64), heap "h" (64 KiB, client_quota 4K); group "g" over p.
 * max_clients MAXC. */
#define RELOAD_CONFIG(QUOTA, MAXC, EXTRA)                                                  \
	"max_clients = " #MAXC ";\n"                                                       \
	"regions = ( { name = \"main\";\n"                                                 \
	"  pools = ( { name = \"p\"; block_size = 64; blocks = 16; client_quota = " #QUOTA \
	"; },\n"                                                                           \
	"            { name = \"free\"; block_size = 64; blocks = 64; } );\n"              \
	"  heaps = ( { name = \"h\"; size = \"64K\"; client_quota = \"4K\"; } ); } );\n"   \
	"groups = ( { name = \"g\"; pools = [ \"p\" ]; choice = \"by_size\"; } );\n" EXTRA

/* Write text as td's file, send SIGHUP, and wait until the daemon has
 * dealt with it: its generation or its count of refusals moved. The status
 * after it into *after. */
static void reload_with(const struct test_daemon *td, mc_client_t *c, const char *text,
			struct mc_status *after)
{
	struct mc_status before;
	FILE *f;

	ck_assert_int_eq(mc_status(c, &before, NULL, 0, NULL), 0);
	f = fopen(td->config, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(kill(td->pid, SIGHUP), 0);
	for (int i = 0; i < 20000; i++) {
		ck_assert_int_eq(mc_status(c, after, NULL, 0, NULL), 0);
		if (after->config_generation != before.config_generation ||
		    after->reloads_refused != before.reloads_refused)
			return;
		usleep(1000);
	}
	ck_abort_msg("the daemon did not act on SIGHUP within 20 s");
}

/* A reload that must be applied: one generation more, nothing refused. */
static void reload_ok(const struct test_daemon *td, mc_client_t *c, const char *text)
{
	struct mc_status st;
	uint64_t refused;

	ck_assert_int_eq(mc_status(c, &st, NULL, 0, NULL), 0);
	refused = st.reloads_refused;
	reload_with(td, c, text, &st);
	ck_assert_msg(st.reloads_refused == refused, "reload refused: %s", st.reload_error);
	ck_assert_str_eq(st.reload_error, "");
}

/* A reload that must be refused, with a reason that says `why`. */
static void reload_refused(const struct test_daemon *td, mc_client_t *c, const char *text,
			   const char *why)
{
	struct mc_status st;
	uint64_t gen;

	ck_assert_int_eq(mc_status(c, &st, NULL, 0, NULL), 0);
	gen = st.config_generation;
	reload_with(td, c, text, &st);
	ck_assert_uint_eq(st.config_generation, gen);
	ck_assert_msg(strstr(st.reload_error, why) != NULL, "'%s' does not say '%s'",
		      st.reload_error, why);
}

START_TEST(test_reload_status_generation)
{
	struct test_daemon td;
	struct mc_status st;
	uint64_t loaded;
	mc_client_t *c;

	client_start(&td, RELOAD_CONFIG(2, 16, ""));
	c = client_connect(&td);
	ck_assert_int_eq(mc_status(c, &st, NULL, 0, NULL), 0);
	ck_assert_uint_eq(st.config_generation, 1);
	ck_assert_str_eq(st.config_file, td.config);
	ck_assert_uint_gt(st.config_loaded_unix_ms, 0);
	ck_assert_uint_eq(st.reloads_refused, 0);
	loaded = st.config_loaded_unix_ms;
	/* The same file again is a reload too: a new generation, no change. */
	reload_with(&td, c, RELOAD_CONFIG(2, 16, ""), &st);
	ck_assert_uint_eq(st.config_generation, 2);
	ck_assert_uint_ge(st.config_loaded_unix_ms, loaded);
	mc_close(c);
	client_stop(&td);
}
END_TEST

/* A connected client sees a quota change at its next request, both ways,
 * for pools, groups and heaps. */
START_TEST(test_reload_quota_changes_live)
{
	struct test_daemon td;
	uint64_t off[8], h[2];
	mc_client_t *c;

	client_start(&td, RELOAD_CONFIG(2, 16, ""));
	c = client_connect(&td);
	ck_assert_int_eq(mc_alloc(c, "p", 2, off), 0);
	ck_assert_int_eq(mc_alloc(c, "p", 1, &off[2]), -EDQUOT);
	ck_assert_int_eq(mc_heap_alloc(c, "h", 4096, 0, &h[0]), 0);
	ck_assert_int_eq(mc_heap_alloc(c, "h", 64, 0, &h[1]), -EDQUOT);

	reload_ok(&td, c,
		  "max_clients = 16;\n"
		  "regions = ( { name = \"main\";\n"
		  "  pools = ( { name = \"p\"; block_size = 64; blocks = 16; client_quota = 4; },\n"
		  "            { name = \"free\"; block_size = 64; blocks = 64; } );\n"
		  "  heaps = ( { name = \"h\"; size = \"64K\"; client_quota = \"8K\"; } ); } );\n"
		  "groups = ( { name = \"g\"; pools = [ \"p\" ]; choice = \"by_size\"; } );\n");
	ck_assert_int_eq(mc_alloc(c, "p", 1, &off[2]), 0);
	ck_assert_int_eq(mc_group_alloc(c, "g", 64, 1, &off[3], NULL), 0);
	ck_assert_int_eq(mc_alloc(c, "p", 1, &off[4]), -EDQUOT);
	ck_assert_int_eq(mc_heap_alloc(c, "h", 4096, 0, &h[1]), 0);

	/* Down to 1: what is held stays held, nothing more is given. */
	reload_ok(&td, c, RELOAD_CONFIG(1, 16, ""));
	ck_assert_int_eq(mc_alloc(c, "p", 1, &off[4]), -EDQUOT);
	ck_assert_int_eq(mc_free(c, "p", 4, off), 0);
	ck_assert_int_eq(mc_alloc(c, "p", 1, off), 0);
	ck_assert_int_eq(mc_free(c, "p", 1, off), 0);
	ck_assert_int_eq(mc_heap_free(c, "h", h[0]), 0);
	ck_assert_int_eq(mc_heap_free(c, "h", h[1]), 0);
	mc_close(c);
	client_stop(&td);
}
END_TEST

/* A file that does not load changes nothing: the error is the loader's own
 * (file:line: setting) and the old quota still holds. */
START_TEST(test_reload_broken_file_keeps_old)
{
	struct test_daemon td;
	struct mc_status st;
	uint64_t off[3];
	mc_client_t *c;
	char log[8192];

	client_start(&td, RELOAD_CONFIG(2, 16, ""));
	c = client_connect(&td);
	reload_refused(&td, c, RELOAD_CONFIG(4, 16, "this is not libconfig\n"), "syntax error");
	reload_refused(&td, c, RELOAD_CONFIG(99, 16, ""), "client_quota");
	ck_assert_int_eq(mc_status(c, &st, NULL, 0, NULL), 0);
	ck_assert_uint_eq(st.reloads_refused, 2);
	ck_assert_ptr_nonnull(strstr(st.reload_error, td.config));
	ck_assert_int_eq(mc_alloc(c, "p", 2, off), 0);
	ck_assert_int_eq(mc_alloc(c, "p", 1, &off[2]), -EDQUOT);
	ck_assert_int_eq(mc_free(c, "p", 2, off), 0);
	test_daemon_log(&td, log, sizeof(log));
	ck_assert_ptr_nonnull(strstr(log, "error: reload of"));
	mc_close(c);
	client_stop(&td);
}
END_TEST

/* One setting that needs a restart refuses the whole file, naming it; the
 * quota change in the same file is not applied. */
START_TEST(test_reload_restart_setting_refuses_all)
{
	struct test_daemon td;
	uint64_t off[3];
	mc_client_t *c;

	client_start(&td, RELOAD_CONFIG(2, 16, ""));
	c = client_connect(&td);
	reload_refused(
	    &td, c,
	    "max_clients = 16;\n"
	    "regions = ( { name = \"main\";\n"
	    "  pools = ( { name = \"p\"; block_size = 128; blocks = 16; client_quota = "
	    "4; },\n"
	    "            { name = \"free\"; block_size = 64; blocks = 64; } );\n"
	    "  heaps = ( { name = \"h\"; size = \"64K\"; client_quota = \"4K\"; } ); } );\n"
	    "groups = ( { name = \"g\"; pools = [ \"p\" ]; choice = \"by_size\"; } );\n",
	    "pool 'p' block_size 64 -> 128: cannot change without a restart");
	ck_assert_int_eq(mc_alloc(c, "p", 2, off), 0);
	ck_assert_int_eq(mc_alloc(c, "p", 1, &off[2]), -EDQUOT);
	ck_assert_int_eq(mc_free(c, "p", 2, off), 0);
	/* Socket and frame settings shape what connected clients were told. */
	reload_refused(&td, c, RELOAD_CONFIG(2, 16, "max_frame = 131072;\n"),
		       "max_frame 65536 -> 131072");
	mc_close(c);
	client_stop(&td);
}
END_TEST

/* Objects come and go only with a restart in this version: the refusal
 * names each one. */
START_TEST(test_reload_objects_added_or_removed_refused)
{
	struct test_daemon td;
	mc_client_t *c;

	client_start(&td, RELOAD_CONFIG(2, 16, ""));
	c = client_connect(&td);
	reload_refused(
	    &td, c,
	    "max_clients = 16;\n"
	    "regions = ( { name = \"main\";\n"
	    "  pools = ( { name = \"p\"; block_size = 64; blocks = 16; client_quota = 2; },\n"
	    "            { name = \"free\"; block_size = 64; blocks = 64; } );\n"
	    "  heaps = ( { name = \"h\"; size = \"64K\"; client_quota = \"4K\"; } ); },\n"
	    "  { name = \"more\"; pools = ( { name = \"new\"; block_size = 64; blocks = 8; } ); } "
	    ");\n"
	    "groups = ( { name = \"g\"; pools = [ \"p\" ]; choice = \"by_size\"; } );\n",
	    "region 'more' added");
	reload_refused(
	    &td, c,
	    "max_clients = 16;\n"
	    "regions = ( { name = \"main\";\n"
	    "  pools = ( { name = \"p\"; block_size = 64; blocks = 16; client_quota = 2; },\n"
	    "            { name = \"free\"; block_size = 64; blocks = 64; } );\n"
	    "  heaps = ( { name = \"h\"; size = \"64K\"; client_quota = \"4K\"; } ); } );\n",
	    "group 'g' removed");
	mc_close(c);
	client_stop(&td);
}
END_TEST

/* max_clients grows for the next connects; it shrinks only past the
 * slots in use, and a refusal says which client is in the way. */
START_TEST(test_reload_max_clients)
{
	struct test_daemon td;
	struct mc_status st;
	mc_client_t *c, *c2, *c3, *extra;

	client_start(&td, RELOAD_CONFIG(2, 2, ""));
	c = client_connect(&td);
	c2 = client_connect(&td);
	ck_assert_int_eq(mc_connect(td.socket, &extra), -EUSERS);
	reload_ok(&td, c, RELOAD_CONFIG(2, 3, ""));
	c3 = client_connect(&td);
	ck_assert_int_eq(mc_connect(td.socket, &extra), -EUSERS);
	reload_refused(&td, c, RELOAD_CONFIG(2, 2, ""), "max_clients 3 -> 2: client");
	mc_close(c3);
	for (int i = 0; i < 20000; i++) {
		ck_assert_int_eq(mc_status(c, &st, NULL, 0, NULL), 0);
		if (st.clients == 2)
			break;
		usleep(1000);
	}
	reload_ok(&td, c, RELOAD_CONFIG(2, 2, ""));
	ck_assert_int_eq(mc_status(c, &st, NULL, 0, NULL), 0);
	ck_assert_uint_eq(st.max_clients, 2);
	ck_assert_int_eq(mc_connect(td.socket, &extra), -EUSERS);
	mc_close(c2);
	mc_close(c);
	client_stop(&td);
}
END_TEST

/* Reloads while another process allocates and frees as fast as it can,
 * holding some blocks all along: every hold survives (the holder frees them
 * all at the end), nothing is reclaimed, and the table of sessions that
 * grows with max_clients keeps the connected ones. */
START_TEST(test_reload_under_load_loses_no_hold)
{
	struct test_daemon td;
	struct mc_status st;
	int go[2], stop[2];
	mc_client_t *c;
	pid_t pid;
	char byte = 0;

	client_start(&td, RELOAD_CONFIG(2, 2, ""));
	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(stop), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		mc_client_t *w;
		uint64_t held[8], one;
		int rc = 0;

		close(go[0]);
		close(stop[1]);
		if (mc_connect(td.socket, &w) < 0 || mc_alloc(w, "free", 8, held) < 0)
			_exit(2);
		if (!client_write_full(go[1], &byte, 1))
			_exit(3);
		/* Until the parent closes its end of stop. */
		while (rc == 0) {
			struct timeval tv = {0, 0};
			fd_set r;

			FD_ZERO(&r);
			FD_SET(stop[0], &r);
			if (select(stop[0] + 1, &r, NULL, NULL, &tv) > 0)
				break;
			rc = mc_alloc(w, "free", 1, &one);
			if (rc == 0)
				rc = mc_free(w, "free", 1, &one);
		}
		if (rc == 0)
			rc = mc_free(w, "free", 8, held);
		mc_close(w);
		_exit(rc == 0 ? 0 : 4);
	}
	close(go[1]);
	close(stop[0]);
	ck_assert(client_read_full(go[0], &byte, 1));
	c = client_connect(&td);
	for (int i = 0; i < 20; i++) {
		if (i % 2 == 0)
			reload_ok(&td, c, RELOAD_CONFIG(4, 8, ""));
		else
			reload_ok(&td, c, RELOAD_CONFIG(2, 4, ""));
		ck_assert_uint_eq(client_used(c, "free") >= 8, 1);
	}
	close(stop[1]);
	ck_assert_int_eq(client_wait_child(pid), 0);
	ck_assert_uint_eq(client_used(c, "free"), 0);
	ck_assert_int_eq(mc_status(c, &st, NULL, 0, NULL), 0);
	ck_assert_uint_eq(st.config_generation, 21);
	ck_assert_uint_eq(st.reclaimed, 0);
	close(go[0]);
	mc_close(c);
	client_stop(&td);
}
END_TEST

/* log_level changes live, unless -l set the level: then the summary says
 * it was not applied. */
START_TEST(test_reload_log_level)
{
	static const char *const args[] = {"-l", "info", NULL};
	struct test_daemon td;
	mc_client_t *c;
	char log[16384];

	ck_assert_int_eq(test_daemon_start(&td, RELOAD_CONFIG(2, 16, ""), args), 0);
	c = client_connect(&td);
	reload_ok(&td, c, RELOAD_CONFIG(2, 16, "log_level = \"error\";\n"));
	test_daemon_log(&td, log, sizeof(log));
	ck_assert_msg(strstr(log, "log_level info -> error (not applied: -l sets the level)") !=
			  NULL,
		      "%s", log);
	/* Still at info: the next summary is there. */
	reload_ok(&td, c, RELOAD_CONFIG(3, 16, "log_level = \"error\";\n"));
	test_daemon_log(&td, log, sizeof(log));
	ck_assert_msg(strstr(log, "client_quota 2 -> 3 (live)") != NULL, "%s", log);
	mc_close(c);
	client_stop(&td);

	client_start(&td, RELOAD_CONFIG(2, 16, ""));
	c = client_connect(&td);
	reload_ok(&td, c, RELOAD_CONFIG(2, 16, "log_level = \"error\";\n"));
	/* At error, the next reload's summary (info) is not logged... */
	reload_ok(&td, c, RELOAD_CONFIG(3, 16, "log_level = \"error\";\n"));
	test_daemon_log(&td, log, sizeof(log));
	ck_assert_ptr_nonnull(strstr(log, "log_level info -> error (live)"));
	ck_assert_ptr_null(strstr(log, "client_quota 2 -> 3"));
	/* ...and going back to info says so. */
	reload_ok(&td, c, RELOAD_CONFIG(3, 16, ""));
	test_daemon_log(&td, log, sizeof(log));
	ck_assert_ptr_nonnull(strstr(log, "log_level error -> info (live)"));
	mc_close(c);
	client_stop(&td);
}
END_TEST

Suite *reload_suite(void)
{
	Suite *s = suite_create("reload");
	TCase *tc = client_tcase("reload");

	tcase_add_test(tc, test_reload_status_generation);
	tcase_add_test(tc, test_reload_quota_changes_live);
	tcase_add_test(tc, test_reload_broken_file_keeps_old);
	tcase_add_test(tc, test_reload_restart_setting_refuses_all);
	tcase_add_test(tc, test_reload_objects_added_or_removed_refused);
	tcase_add_test(tc, test_reload_max_clients);
	tcase_add_test(tc, test_reload_under_load_loses_no_hold);
	tcase_add_test(tc, test_reload_log_level);
	suite_add_tcase(s, tc);
	return s;
}
