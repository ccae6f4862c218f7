/*
 * memctl for operators: --timeout against a stopped daemon and a silent
 * listener, the daemon's reason when it refuses, `stats --prometheus`
 * writing allocatord_up 0 when there is no daemon to read, and
 * `watch --json` as JSON Lines. Timeouts are tiny; nothing is timed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/memctl/memctl_fixture.h"

/* What `stats --prometheus` writes when it cannot read the daemon. */
static const char up_0[] = "# HELP allocatord_up 1 when memctl could read the daemon's state.\n"
			   "# TYPE allocatord_up gauge\n"
			   "allocatord_up 0\n";

/* stderr says the socket and that it timed out after the given time. */
static void assert_timed_out(const struct run *r, const char *socket, const char *seconds)
{
	char want[160];

	ck_assert_msg(r->status == 1, "status %d: %s", r->status, r->err);
	ck_assert_msg(strstr(r->err, socket) != NULL, "%s", r->err);
	snprintf(want, sizeof(want), "within %s s\n", seconds);
	ck_assert_msg(strstr(r->err, want) != NULL, "no '%s' in: %s", want, r->err);
	ck_assert_msg(strstr(r->err, "--timeout") != NULL, "%s", r->err);
}

START_TEST(test_memctl_timeout_silent_listener)
{
	struct silent_listener s;
	struct run r;

	client_silent_start(&s);
	mt_memctl(&r, s.socket, "--timeout", "0.05", "status", NULL);
	assert_timed_out(&r, s.socket, "0.05");
	ck_assert_str_eq(r.out, "");
	/* Also after the command, and as -t. */
	mt_memctl(&r, s.socket, "pools", "--timeout", "0.02", NULL);
	assert_timed_out(&r, s.socket, "0.02");
	mt_memctl(&r, s.socket, "-t", "0.03", "heaps", NULL);
	assert_timed_out(&r, s.socket, "0.03");
	client_silent_stop(&s);
}
END_TEST

START_TEST(test_memctl_timeout_stopped_daemon)
{
	struct test_daemon td;
	mc_client_t *c = mt_start_known(&td);
	struct run r;

	client_pause(&td, true);
	mt_memctl(&r, td.socket, "--timeout", "0.05", "clients", NULL);
	assert_timed_out(&r, td.socket, "0.05");
	/* With no daemon to read, the metrics say so. */
	mt_memctl(&r, td.socket, "--timeout", "0.05", "stats", "--prometheus", NULL);
	assert_timed_out(&r, td.socket, "0.05");
	ck_assert_str_eq(r.out, up_0);
	client_pause(&td, false);
	mt_finish(&td, c);
}
END_TEST

START_TEST(test_memctl_prometheus_no_daemon)
{
	struct run r;

	mt_memctl(&r, "/nonexistent/allocatord.sock", "stats", "--prometheus", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, up_0);
	ck_assert_msg(strstr(r.err, "cannot connect to /nonexistent/allocatord.sock") != NULL, "%s",
		      r.err);
	/* Only --prometheus has a way to say "down" in its output. */
	mt_memctl(&r, "/nonexistent/allocatord.sock", "stats", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, "");
}
END_TEST

/* memctl.1's recipe for node_exporter: the file says up 0, not the last 1. */
START_TEST(test_memctl_prometheus_recipe)
{
	struct test_daemon td;
	mc_client_t *c = mt_start_known(&td);
	char dir[] = "/tmp/mt-prom-XXXXXX", cmd[1024], bin[512], prom[64], text[4096];
	FILE *f;
	size_t n;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(prom, sizeof(prom), "%s/allocatord.prom", dir);
	/* The recipe, word for word but for the paths (and stderr). */
	snprintf(cmd, sizeof(cmd),
		 "D=%s; %s -s %s stats --prometheus > $D/allocatord.prom.$$ 2>/dev/null; "
		 "mv $D/allocatord.prom.$$ $D/allocatord.prom",
		 dir, test_build_path("memctl/memctl", bin, sizeof(bin)), td.socket);
	ck_assert_int_eq(system(cmd), 0);
	f = fopen(prom, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	ck_assert_msg(strstr(text, "allocatord_up 1\n") != NULL, "%s", text);
	mt_finish(&td, c);
	ck_assert_int_eq(system(cmd), 0);
	f = fopen(prom, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	ck_assert_str_eq(text, up_0);
	unlink(prom);
	rmdir(dir);
}
END_TEST

/* At max_clients the daemon says why; memctl prints that, naming the
 * socket, not a bare strerror. */
START_TEST(test_memctl_too_many_clients_reason)
{
	static const char config[] = "max_clients = 2;\n"
				     "regions = ( { name = \"r\"; pools = ( { name = \"p\"; "
				     "block_size = 64; blocks = 4; } ); } );\n";
	struct test_daemon td;
	mc_client_t *a, *b;
	struct mc_status st;
	struct run r;
	char want[256];

	client_start(&td, config);
	a = client_connect(&td);
	/* test_daemon_start's probe connection may still count. */
	for (int i = 0; i < 400; i++) {
		ck_assert_int_eq(mc_status(a, &st, NULL, 0, NULL), 0);
		if (st.clients == 1)
			break;
		usleep(5000);
	}
	ck_assert_uint_eq(st.clients, 1);
	b = client_connect(&td);
	mt_memctl(&r, td.socket, "status", NULL);
	ck_assert_int_eq(r.status, 1);
	snprintf(want, sizeof(want),
		 "memctl: allocatord at %s refused the connection: "
		 "too many clients (max_clients 2)\n",
		 td.socket);
	ck_assert_str_eq(r.err, want);
	mc_close(b);
	mc_close(a);
	client_stop(&td);
}
END_TEST

/* watch --json: JSON Lines, one whole document per line, nothing else. */
START_TEST(test_memctl_watch_json_lines)
{
	struct test_daemon td;
	mc_client_t *c = mt_start_known(&td);
	struct run r;
	int lines = 0;

	mt_memctl(&r, td.socket, "watch", "--count", "3", "--interval", "0.01", "pools", "--json",
		  NULL);
	mt_ok(&r);
	ck_assert_msg(r.out[strlen(r.out) - 1] == '\n', "%s", r.out);
	for (char *save, *line = strtok_r(r.out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		json_error_t e;
		json_t *doc = json_loads(line, 0, &e);

		ck_assert_msg(doc != NULL, "line %d is not a document: %s: %s", lines, e.text,
			      line);
		ck_assert_ptr_nonnull(mt_named(json_object_get(doc, "pools"), "small"));
		json_decref(doc);
		lines++;
	}
	ck_assert_int_eq(lines, 3);
	mt_finish(&td, c);
}
END_TEST

Suite *memctl_ops_suite(void)
{
	Suite *s = suite_create("memctl_ops");
	TCase *tc = client_tcase("memctl_ops");

	tcase_add_test(tc, test_memctl_timeout_silent_listener);
	tcase_add_test(tc, test_memctl_timeout_stopped_daemon);
	tcase_add_test(tc, test_memctl_prometheus_no_daemon);
	tcase_add_test(tc, test_memctl_prometheus_recipe);
	tcase_add_test(tc, test_memctl_too_many_clients_reason);
	tcase_add_test(tc, test_memctl_watch_json_lines);
	suite_add_tcase(s, tc);
	return s;
}
