/*
 * reload: the check and the apply of a new configuration on a daemon state
 * (dry-run regions), one setting at a time, with the reload class of each
 * as allocatord.conf(5) states it; the lease pages of connected
 * sessions, which a reload must leave as their clients mapped them; and
 * objects and regions added (appended, nothing moves) and removed
 * (tombstones, refused while held or mapped).
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/lease_page.h"
#include "daemon/log.h"
#include "daemon/memcheck.h"
#include "daemon/ops.h"
#include "daemon/stats.h"
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
    {"name = \"s\";", "name = \"t\";", 0, "pool 's' removed; pool 't' added"},
    /* A pool added before a heap moves it; one added to a region whose
     * size is computed grows it: both say how to add one instead. */
    {"align = 512;\n                client_quota = 4; uid_quota = 10; } );",
     "align = 512;\n                client_quota = 4; uid_quota = 10; }, { name = \"n\"; "
     "block_size = 64; "
     "blocks = 1000; } );",
     -EBUSY,
     "heap 'h' offset in the region 65536 -> 131072: cannot change without a restart "
     "(pools are laid out before heaps"},
    {"blocks = 8; uid_quota = 8; }",
     "blocks = 8; uid_quota = 8; }, { name = \"n\"; block_size = 64; blocks = 4; }", -EBUSY,
     "region 'secret' size 4096 -> 8192: cannot change without a restart (set a region's size"},
    {"{ name = \"gi\";", "{ name = \"gj\";", 0, "group 'gi' removed; group 'gj' added"},
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
	ck_assert_str_eq(q->name, "q");
	ck_assert_ptr_eq(g->u.group.cfg, &d.cfg.groups[0]);
	ck_assert_str_eq(g->u.group.cfg->choice, "by_size");
	ck_assert_ptr_eq(d.table.regions[1]->cfg, &d.cfg.regions[1]);
	for (size_t i = 0; i < d.table.nobjects; i++)
		ck_assert_ptr_eq(fixture_object(&d, d.table.objects[i]->name), d.table.objects[i]);
	daemon_fini(&d);
}
END_TEST

/* The fixture with region 'secret' given room to spare, and more in it. */
static const char *fixture_room(const char *more)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf), "%s",
		 fixture_with("{ name = \"secret\";", "{ name = \"secret\"; size = \"64K\";"));
	if (more != NULL) {
		char *at = strstr(buf, "blocks = 8; uid_quota = 8; }") +
			   strlen("blocks = 8; uid_quota = 8; }");
		char tail[4096];

		snprintf(tail, sizeof(tail), "%s", at);
		snprintf(at, sizeof(buf) - (size_t) (at - buf), "%s%s", more, tail);
	}
	return buf;
}

/* The fixture (with room in 'secret') plus a region 'fresh' of a pool, a
 * heap and a group, a region only uid 999 may use, and a pool in the tail
 * of 'secret'. */
static const char *fixture_added(void)
{
	static char buf[8192];
	const char *base = fixture_room(", { name = \"s2\"; block_size = 128; blocks = 16; }");
	const char *end = strstr(base, ");\ngroups");

	snprintf(
	    buf, sizeof(buf),
	    "%.*s,\n  { name = \"fresh\";\n"
	    "    pools = ( { name = \"n\"; block_size = 256; blocks = 32; cache_max = 8; } );\n"
	    "    heaps = ( { name = \"nh\"; size = \"64K\"; } ); },\n"
	    "  { name = \"other\"; allow_uids = [ 999 ];\n"
	    "    pools = ( { name = \"o\"; block_size = 64; blocks = 8; uid_quota = 8; } ); }\n"
	    "%s",
	    (int) (end - base), base, end);
	end = strstr(buf, "choice = \"index\"; } );");
	snprintf((char *) end, sizeof(buf) - (size_t) (end - buf), "%s",
		 "choice = \"index\"; },\n"
		 "           { name = \"ng\"; pools = [ \"n\" ]; choice = \"index\"; } );\n");
	return buf;
}

/* Objects a reload adds are appended: every object and region already
 * there keeps its address and index, the new ones come after them, and a
 * session connected before the reload can allocate from them at once and
 * may use the new regions its uid is allowed. */
START_TEST(test_reload_adds_objects)
{
	struct daemon d;
	struct errbuf msg;
	struct ops op;
	struct session *before, *after;
	struct object *q, *n, *s2, *g;
	size_t nobjects, nregions;
	uint64_t off[2], usable;

	fixture_daemon(&d, fixture_room(NULL));
	ck_assert_int_eq(ops_init(&op, &d, &msg), 0);
	q = fixture_object(&d, "q");
	nobjects = d.table.nobjects;
	nregions = d.table.nregions;
	before = fixture_session(&d, 12345, 12345);
	ck_assert_int_eq(lease_page_open(&d.table, before->regions, &before->lease), 0);
	ck_assert_int_eq(reload_text(&d, fixture_added(), &msg), 0);
	ck_assert_msg(strstr(msg.msg, "region 'fresh' added") != NULL &&
			  strstr(msg.msg, "pool 's2' added") != NULL &&
			  strstr(msg.msg, "group 'ng' added") != NULL,
		      "%s", msg.msg);
	ck_assert_uint_eq(d.generation, 2);
	ck_assert_uint_eq(d.table.nregions, nregions + 2);
	ck_assert_uint_eq(d.table.nobjects, nobjects + 5);
	ck_assert_ptr_eq(fixture_object(&d, "q"), q);
	ck_assert_ptr_eq(d.table.objects[q->index], q);
	n = fixture_object(&d, "n");
	s2 = fixture_object(&d, "s2");
	g = fixture_object(&d, "ng");
	ck_assert_uint_ge(n->index, nobjects);
	ck_assert_uint_ge(s2->index, nobjects);
	ck_assert_uint_eq(g->index, nobjects + 4);
	ck_assert_str_eq(n->region->cfg->name, "fresh");
	ck_assert_uint_eq(n->region->index, nregions);
	ck_assert_ptr_eq(s2->region, fixture_object(&d, "s")->region);
	ck_assert_uint_eq(s2->offset, 4096);
	ck_assert_ptr_eq(g->u.group.members[0], n);
	/* The connected session: 'fresh' allows everyone, 'other' only 999. */
	ck_assert(session_may_use(before, n->region));
	ck_assert(!session_may_use(before, fixture_object(&d, "o")->region));
	ck_assert_uint_eq(lease_page_slots(&before->lease, n), 0);
	ck_assert_int_eq(ops_pool_alloc(&op, before, n, 2, false, off, &msg), 0);
	ck_assert_uint_eq(before->held[n->index].amount, 2);
	ck_assert_int_eq(ops_pool_alloc(&op, before, s2, 1, false, off, &msg), 0);
	ck_assert_int_eq(
	    ops_heap_alloc(&op, before, fixture_object(&d, "nh"), 100, 0, off, &usable, &msg), 0);
	/* A session after it gets lease slots for the new region's pool, none
	 * for the pool past the shared bits 'secret' was sealed with. */
	after = fixture_session(&d, 0, 0);
	ck_assert_int_eq(lease_page_open(&d.table, after->regions, &after->lease), 0);
	ck_assert_uint_eq(lease_page_slots(&after->lease, n), 8);
	ck_assert_uint_eq(lease_page_slots(&after->lease, s2), 0);
	ck_assert_uint_eq(lease_page_slots(&after->lease, fixture_object(&d, "s")), 8);
	ops_end_session(&op, before);
	ops_end_session(&op, after);
	ck_assert_int_eq(daemon_verify_idle(&d, &msg), 0);
	ops_fini(&op);
	daemon_fini(&d);
}
END_TEST

/* Adding that fails while building (here a group whose choice function
 * does not exist) refuses the reload and leaves the table as it was. */
START_TEST(test_reload_add_failure_changes_nothing)
{
	struct daemon d;
	struct errbuf msg;
	struct config next;
	struct reload r;
	const char *text =
	    fixture_with("choice = \"index\"; } );",
			 "choice = \"index\"; },\n"
			 "  { name = \"bad\"; pools = [ \"p\" ]; choice = \"nope\"; } );");
	size_t nobjects;

	fixture_daemon(&d, NULL);
	nobjects = d.table.nobjects;
	ck_assert_int_eq(config_load_string(text, "fixture", &next, msg.msg, sizeof(msg.msg)), 0);
	ck_assert_int_eq(reload_check(&d, &next, &r, &msg), 0);
	ck_assert_int_lt(reload_apply(&d, &r, &msg), 0);
	ck_assert_msg(strstr(msg.msg, "nope") != NULL, "%s", msg.msg);
	ck_assert_uint_eq(d.table.nobjects, nobjects);
	ck_assert_ptr_null(object_table_find(&d.table, "bad"));
	ck_assert_uint_eq(d.generation, 1);
	ck_assert_str_eq(fixture_object(&d, "p")->u.pool.cfg->name, "p");
	daemon_fini(&d);
}
END_TEST

/* How many objects a session's listing shows, and whether name is one. */
static size_t listed(struct daemon *d, struct session *s, const char *name, bool *found)
{
	Allocd__ListReply lr;
	struct errbuf e;

	ck_assert_int_eq(stats_list(d, s, "", &lr, &e), 0);
	*found = false;
	for (size_t i = 0; i < lr.n_objects; i++)
		*found = *found || strcmp(lr.objects[i]->name, name) == 0;
	arena_reset(&d->arena);
	return lr.n_objects;
}

/* The fixture without pool 's' (region 'secret' keeps a pool 's3'). */
static const char *fixture_without_s(const char *instead)
{
	return fixture_with("{ name = \"s\"; block_size = 64; blocks = 8; uid_quota = 8; }",
			    instead);
}

/* The fixture without region 'secret'. */
static const char *fixture_no_secret(void)
{
	return fixture_with(
	    "} ); },\n  { name = \"secret\"; allow_uids = [ 12345 ];\n"
	    "    pools = ( { name = \"s\"; block_size = 64; blocks = 8; uid_quota = 8; } ); }\n",
	    "} ); }\n");
}

/* A pool nobody holds goes: its name no longer resolves nor lists, its
 * index stays taken, and the same name added again is a new object. One
 * that is held (cached blocks included) stays, and the whole file with
 * it; a region goes only when no connected client has it mapped. */
START_TEST(test_reload_removes_objects)
{
	struct daemon d;
	struct errbuf msg;
	struct ops op;
	struct session *root;
	struct object *s, *again;
	uint64_t off;
	size_t n;
	bool found;

	fixture_daemon(&d, NULL);
	ck_assert_int_eq(ops_init(&op, &d, &msg), 0);
	root = fixture_session(&d, 0, 0);
	s = fixture_object(&d, "s");
	n = listed(&d, root, "s", &found);
	ck_assert(found);
	/* Held: refused, named, nothing changes. */
	ck_assert_int_eq(ops_pool_alloc(&op, root, s, 1, false, &off, &msg), 0);
	ck_assert_int_eq(reload_text(&d,
				     fixture_without_s("{ name = \"s3\"; block_size = 64; "
						       "blocks = 8; uid_quota = 8; }"),
				     &msg),
			 -EBUSY);
	ck_assert_msg(strstr(msg.msg, "pool 's' removed: it is in use") != NULL, "%s", msg.msg);
	ck_assert_ptr_eq(fixture_object(&d, "s"), s);
	ck_assert_ptr_null(object_table_find(&d.table, "s3"));
	ck_assert_uint_eq(d.generation, 1);
	/* Free: it goes, the rest of the file with it. */
	ck_assert_int_eq(ops_free(&op, root, s, &off, 1, 0, &msg), 0);
	ck_assert_int_eq(reload_text(&d,
				     fixture_without_s("{ name = \"s3\"; block_size = 64; "
						       "blocks = 8; uid_quota = 8; }"),
				     &msg),
			 0);
	ck_assert_ptr_null(object_table_find(&d.table, "s"));
	ck_assert(s->gone);
	ck_assert_ptr_eq(d.table.objects[s->index], s);
	ck_assert_uint_eq(listed(&d, root, "s", &found), n);
	ck_assert(!found);
	ck_assert_int_eq(ops_pool_alloc(&op, root, fixture_object(&d, "s3"), 1, false, &off, &msg),
			 0);
	ck_assert_int_eq(ops_free(&op, root, fixture_object(&d, "s3"), &off, 1, 0, &msg), 0);
	/* Back again: a new object with a new index. */
	ck_assert_int_eq(reload_text(&d, fixture_config, &msg), 0);
	again = fixture_object(&d, "s");
	ck_assert_ptr_ne(again, s);
	ck_assert_uint_gt(again->index, s->index);
	ck_assert_ptr_null(object_table_find(&d.table, "s3"));
	/* A region: not while a connected client has it mapped. */
	root->sent = root->regions;
	ck_assert_int_eq(reload_text(&d, fixture_no_secret(), &msg), -EBUSY);
	ck_assert_msg(strstr(msg.msg, "region 'secret' removed: connected clients have it "
				      "mapped (client 1,") != NULL,
		      "%s", msg.msg);
	ops_end_session(&op, root);
	ck_assert_int_eq(reload_text(&d, fixture_no_secret(), &msg), 0);
	ck_assert(again->gone);
	ck_assert(again->region->gone);
	ck_assert_int_eq(again->region->fd, -1);
	root = fixture_session(&d, 0, 0);
	ck_assert(!session_may_use(root, again->region));
	ops_end_session(&op, root);
	/* A removed region has no settings, nor a name, left: a file that
	 * has it again brings a new region. */
	ck_assert_int_eq(reload_text(&d, fixture_config, &msg), 0);
	ck_assert_ptr_ne(fixture_object(&d, "s")->region, again->region);
	ck_assert(!fixture_object(&d, "s")->region->gone);
	ck_assert_uint_eq(fixture_object(&d, "s")->region->index, d.table.nregions - 1);
	ck_assert_int_eq(daemon_verify_idle(&d, &msg), 0);
	ops_fini(&op);
	daemon_fini(&d);
}
END_TEST

/* A name cannot move to another region in one reload, and once removed it
 * comes back only in the region it left: clients that knew it resolve it
 * there. */
START_TEST(test_reload_names_do_not_move)
{
	struct daemon d;
	struct errbuf msg;
	char text[4096], more[4096];
	const char *at;

	fixture_daemon(&d, NULL);
	ck_assert_int_eq(
	    reload_text(&d,
			fixture_with(
			    "{ name = \"s\"; block_size = 64; blocks = 8; uid_quota = 8; } ); }\n",
			    "{ name = \"s3\"; block_size = 64; blocks = 8; uid_quota = 8; } ); },\n"
			    "  { name = \"fresh\"; pools = ( { name = \"s\"; block_size = 64; "
			    "blocks = 8; uid_quota = 8; } ); }\n"),
			&msg),
	    -EBUSY);
	ck_assert_msg(strstr(msg.msg, "pool 's' moved: a name cannot move in one reload") != NULL,
		      "%s", msg.msg);
	/* s goes (s4 in its place), then comes back in region 'r'. */
	snprintf(text, sizeof(text), "%s",
		 fixture_with("{ name = \"s\"; block_size = 64; blocks = 8; uid_quota = 8; }",
			      "{ name = \"s4\"; block_size = 64; blocks = 8; uid_quota = 8; }"));
	ck_assert_int_eq(reload_text(&d, text, &msg), 0);
	at = strstr(text, "{ name = \"q\";");
	snprintf(more, sizeof(more),
		 "%.*s{ name = \"s\"; block_size = 64; blocks = 8; uid_quota = 8; }, %s",
		 (int) (at - text), text, at);
	ck_assert_int_eq(reload_text(&d, more, &msg), -EBUSY);
	ck_assert_msg(strstr(msg.msg, "pool 's' added to region 'r': it was removed from region "
				      "'secret'") != NULL,
		      "%s", msg.msg);
	daemon_fini(&d);
}
END_TEST

/* A region a reload adds goes through the memory check of the start: one
 * larger than the machine (twice MemTotal, never allocated) is refused,
 * naming the file, and nothing is added. */
START_TEST(test_reload_new_region_memory_checked)
{
	struct daemon d;
	struct errbuf msg;
	struct memcheck_budget b;
	char text[4096];
	size_t nregions;
	const char *end;

	ck_assert_int_eq(memcheck_read(&b), 0);
	fixture_daemon(&d, NULL);
	nregions = d.table.nregions;
	end = strstr(fixture_config, ");\ngroups");
	snprintf(text, sizeof(text),
		 "%.*s,\n  { name = \"huge\"; size = \"%lluM\";\n"
		 "    pools = ( { name = \"hp\"; block_size = 4096; blocks = 16; } ); }\n%s",
		 (int) (end - fixture_config), fixture_config,
		 (unsigned long long) (b.mem_total / (1u << 20) * 2 + 1024), end);
	ck_assert_int_eq(reload_text(&d, text, &msg), -EBUSY);
	ck_assert_msg(strstr(msg.msg, "fixture") != NULL, "%s", msg.msg);
	ck_assert_uint_eq(d.table.nregions, nregions);
	ck_assert_ptr_null(object_table_find(&d.table, "hp"));
	ck_assert_uint_eq(d.generation, 1);
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
	tcase_add_test(tc, test_reload_adds_objects);
	tcase_add_test(tc, test_reload_add_failure_changes_nothing);
	tcase_add_test(tc, test_reload_removes_objects);
	tcase_add_test(tc, test_reload_names_do_not_move);
	tcase_add_test(tc, test_reload_new_region_memory_checked);
	tcase_add_test(tc, test_reload_cache_max_keeps_pages);
	suite_add_tcase(s, tc);
	return s;
}
