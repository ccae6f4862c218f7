/*
 * reload: the check and the apply of a new configuration on a daemon state
 * (dry-run regions), one setting at a time, with the reload class of each
 * as allocatord.conf(5) states it; and the lease pages of connected
 * sessions, which a reload must leave as their clients mapped them.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/lease_page.h"
#include "daemon/log.h"
#include "daemon/reload.h"
#include "tests/daemon/check_daemon.h"
#include "tests/daemon/daemon_fixture.h"

/* fixture_config with the first `from` replaced by `to` (static buffer). */
static const char *fixture_with(const char *from, const char *to)
{
	static char buf[4096];
	const char *at = strstr(fixture_config, from);

	ck_assert_msg(at != NULL, "'%s' is not in the fixture", from);
	snprintf(buf, sizeof(buf), "%.*s%s%s", (int) (at - fixture_config), fixture_config, to,
		 at + strlen(from));
	return buf;
}

/* Check text against d; apply it if the check passes. The check's result,
 * with the summary or the refusal in *msg. */
static int reload_text(struct daemon *d, const char *text, struct errbuf *msg)
{
	struct config next;
	struct reload r;
	int rc = config_load_string(text, "fixture", &next, msg->msg, sizeof(msg->msg));

	ck_assert_msg(rc == 0, "config: %s", msg->msg);
	rc = reload_check(d, &next, &r, msg);
	if (rc < 0) {
		config_free(&next);
		return rc;
	}
	snprintf(msg->msg, sizeof(msg->msg), "%s", r.summary);
	ck_assert_int_eq(reload_apply(d, &r, msg), 0);
	return 0;
}

static const struct {
	const char *from, *to;
	int rc;
	const char *says;
} cases[] = {
    {"client_quota = 4;", "client_quota = 8;", 0, "pool 'q' client_quota 4 -> 8 (live)"},
    {"client_quota = \"8K\";", "client_quota = \"16K\";", 0,
     "heap 'h' client_quota 8192 -> 16384 (live)"},
    {"log_level = \"error\";", "log_level = \"warn\";", 0, "log_level error -> warn (live)"},
    {"log_level = \"error\";", "log_level = \"error\"; max_clients = 7;", 0,
     "max_clients 1024 -> 7 (live)"},
    {"log_level = \"error\";", "log_level = \"error\"; max_output = \"2M\";", 0,
     "max_output 1048576 -> 2097152 (live)"},
    {"log_level = \"error\";", "log_level = \"error\"; hello_timeout_ms = 5;", 0,
     "hello_timeout_ms 10000 -> 5 (at the next connect)"},
    {"allow_uids = [ 12345 ];", "allow_uids = [ 12345, 7 ];", 0,
     "region 'secret' allow_uids (12345) -> (12345, 7) (at the next connect)"},
    {"uid_quota = 100; }", "uid_quota = 100; cache_max = 10; }", 0,
     "pool 'p' cache_max 100 -> 10 (at the next connect)"},
    {"uid_quota = 100; }", "uid_quota = 100; client_cache = 3; }", 0,
     "pool 'p' client_cache 0 -> 3 (at the next connect)"},
    {"uid_quota = 100; }", "uid_quota = 60; }", 0, "pool 'p' uid_quota 100 -> 60 (live)"},
    {"uid_quota = \"64K\";", "uid_quota = \"32K\";", 0, "heap 'h' uid_quota 65536 -> 32768 (live)"},
    {"{ name = \"secret\";", "{ name = \"secret\"; max_holds = 99; uid_holds = 9;", 0,
     "region 'secret' max_holds 16416 -> 99 (live); region 'secret' uid_holds 8208 -> 9 (live)"},
    {"log_level = \"error\";", "log_level = \"error\"; admin_slots = 9;", 0,
     "admin_slots 4 -> 9 (live)"},
    {"log_level = \"error\";", "log_level = \"error\"; max_clients_per_uid = 3;", 0,
     "max_clients_per_uid 255 -> 3 (live)"},
    {"log_level = \"error\";", "log_level = \"error\"; admin_gids = [ 44 ];", 0,
     "admin_gids () -> (44) (at the next connect)"},
    {"log_level = \"error\";", "log_level = \"error\"; max_frame = 8192;", -EBUSY,
     "max_frame 65536 -> 8192: cannot change without a restart"},
    {"log_level = \"error\";", "log_level = \"error\"; socket = { mode = \"0600\"; };", -EBUSY,
     "socket.mode 0660 -> 0600: cannot change"},
    {"log_level = \"error\";", "log_level = \"error\"; socket = { path = \"/x\"; };", -EBUSY,
     "socket.path (none) -> /x: cannot change"},
    {"granule = 64;", "granule = 128;", -EBUSY, "heap 'h' granule 64 -> 128: cannot change"},
    {"align = 512;", "align = 256;", -EBUSY, "pool 'q' align 512 -> 256: cannot change"},
    {"blocks = 8;", "blocks = 9;", -EBUSY, "pool 's' blocks 8 -> 9: cannot change"},
    {"choice = \"by_size\";", "choice = \"round_robin\";", -EBUSY,
     "group 'g' choice by_size -> round_robin: cannot change"},
    {"pools = [ \"p\", \"q\" ]; choice = \"index\";",
     "pools = [ \"q\", \"p\" ]; choice = \"index\";", -EBUSY,
     "group 'gi' pools 2 pools from 'p' -> 2 pools from 'q': cannot change"},
    {"name = \"s\";", "name = \"t\";", -EBUSY, "pool 's' removed"},
    {"name = \"s\";", "name = \"t\";", -EBUSY, "pool 't' added"},
    {"{ name = \"gi\";", "{ name = \"gj\";", -EBUSY, "group 'gi' removed"},
    /* Pools keep their places: swapping two moves both. */
    {"{ name = \"p\"; block_size = 64; blocks = 100; uid_quota = 100; },\n"
     "              { name = \"q\"; block_size = 1536; blocks = 10; align = 512;\n"
     "                client_quota = 4; uid_quota = 10; } );",
     "{ name = \"q\"; block_size = 1536; blocks = 10; align = 512;\n"
     "                client_quota = 4; uid_quota = 10; }, { name = \"p\"; block_size = 64; "
     "blocks = 100; uid_quota = 100; } );",
     -EBUSY, "pool 'p' offset in the region 0 -> "},
};

/* Every class of setting, one at a time, on a fresh state: what the check
 * says, and that a refused reload leaves the generation alone. */
START_TEST(test_reload_setting_classes)
{
	struct daemon d;
	struct errbuf msg;
	int rc;

	fixture_daemon(&d, NULL);
	rc = reload_text(&d, fixture_with(cases[_i].from, cases[_i].to), &msg);
	ck_assert_msg(rc == cases[_i].rc, "case %d: rc %d (%s)", _i, rc, msg.msg);
	ck_assert_msg(strstr(msg.msg, cases[_i].says) != NULL, "case %d: '%s' does not say '%s'",
		      _i, msg.msg, cases[_i].says);
	ck_assert_uint_eq(d.generation, rc == 0 ? 2 : 1);
	daemon_fini(&d);
	log_set_level(LOG_ERROR);
}
END_TEST

/* An applied reload leaves every object findable under its name, with its
 * settings from the new file, and the old file's memory freed (valgrind
 * would see a name still pointing into it). */
START_TEST(test_reload_apply_repoints_objects)
{
	struct daemon d;
	struct errbuf msg;
	struct object *q, *g;

	fixture_daemon(&d, NULL);
	q = fixture_object(&d, "q");
	g = fixture_object(&d, "g");
	ck_assert_int_eq(
	    reload_text(&d, fixture_with("client_quota = 4;", "client_quota = 9;"), &msg), 0);
	ck_assert_ptr_eq(fixture_object(&d, "q"), q);
	ck_assert_uint_eq(q->u.pool.cfg->quota, 9);
	ck_assert_ptr_eq(q->u.pool.cfg, &d.cfg.regions[0].pools[1]);
	ck_assert_ptr_eq(q->name, d.cfg.regions[0].pools[1].name);
	ck_assert_ptr_eq(g->u.group.cfg, &d.cfg.groups[0]);
	ck_assert_str_eq(g->u.group.cfg->choice, "by_size");
	ck_assert_ptr_eq(d.table.regions[1].cfg, &d.cfg.regions[1]);
	for (size_t i = 0; i < d.table.nobjects; i++)
		ck_assert_ptr_eq(fixture_object(&d, d.table.objects[i].name), &d.table.objects[i]);
	daemon_fini(&d);
}
END_TEST

/* max_clients shrinks only past the slots in use; it grows the table. */
START_TEST(test_reload_max_clients_slots)
{
	struct daemon d;
	struct errbuf msg;
	struct session *a, *b;

	fixture_daemon(
	    &d, fixture_with("log_level = \"error\";", "log_level = \"error\"; max_clients = 2;"));
	a = fixture_session(&d, 0, 0);
	b = fixture_session(&d, 0, 0);
	ck_assert_int_eq(reload_text(&d,
				     fixture_with("log_level = \"error\";",
						  "log_level = \"error\"; max_clients = 1;"),
				     &msg),
			 -EBUSY);
	ck_assert_ptr_nonnull(strstr(msg.msg, "max_clients 2 -> 1: client 2"));
	ck_assert_int_eq(reload_text(&d,
				     fixture_with("log_level = \"error\";",
						  "log_level = \"error\"; max_clients = 3;"),
				     &msg),
			 0);
	ck_assert_ptr_eq(d.slots[0], a);
	ck_assert_ptr_eq(d.slots[1], b);
	ck_assert_ptr_null(d.slots[2]);
	daemon_session_release(&d, b);
	ck_assert_int_eq(reload_text(&d,
				     fixture_with("log_level = \"error\";",
						  "log_level = \"error\"; max_clients = 1;"),
				     &msg),
			 0);
	daemon_session_release(&d, a);
	daemon_fini(&d);
}
END_TEST

/* A session keeps the lease page it was given when cache_max changes: the
 * client mapped that geometry. Sessions after the reload get the new one. */
START_TEST(test_reload_cache_max_keeps_pages)
{
	struct daemon d;
	struct errbuf msg;
	struct session *before, *after;
	struct object *p;

	fixture_daemon(&d, NULL);
	p = fixture_object(&d, "p");
	before = fixture_session(&d, 0, 0);
	ck_assert_int_eq(lease_page_open(&d.table, before->regions, &before->lease), 0);
	ck_assert_uint_eq(lease_page_slots(&before->lease, p), 100);
	ck_assert_int_eq(
	    reload_text(&d,
			fixture_with("uid_quota = 100; }", "uid_quota = 100; cache_max = 1000; }"),
			&msg),
	    0);
	ck_assert_uint_eq(lease_page_slots(&before->lease, p), 100);
	after = fixture_session(&d, 0, 0);
	ck_assert_int_eq(lease_page_open(&d.table, after->regions, &after->lease), 0);
	ck_assert_uint_eq(lease_page_slots(&after->lease, p), 100);
	ck_assert_int_eq(
	    reload_text(
		&d, fixture_with("uid_quota = 100; }", "uid_quota = 100; cache_max = 10; }"), &msg),
	    0);
	ck_assert_uint_eq(lease_page_slots(&before->lease, p), 100);
	ck_assert_uint_eq(lease_page_slots(&after->lease, p), 100);
	lease_page_close(&after->lease);
	ck_assert_int_eq(lease_page_open(&d.table, after->regions, &after->lease), 0);
	ck_assert_uint_eq(lease_page_slots(&after->lease, p), 10);
	lease_page_close(&before->lease);
	lease_page_close(&after->lease);
	daemon_session_release(&d, before);
	daemon_session_release(&d, after);
	daemon_fini(&d);
}
END_TEST

Suite *reload_suite(void)
{
	Suite *s = suite_create("reload");
	TCase *tc = tcase_create("reload");

	tcase_add_loop_test(tc, test_reload_setting_classes, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_reload_apply_repoints_objects);
	tcase_add_test(tc, test_reload_max_clients_slots);
	tcase_add_test(tc, test_reload_cache_max_keeps_pages);
	suite_add_tcase(s, tc);
	return s;
}
