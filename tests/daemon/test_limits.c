/*
 * The per-uid limits, the admin slots, the hold-table shares and
 * validation before growth (issue 11 items 1, 2, 7), driven directly on a
 * dry-run daemon. test_limits_server.c runs the same attacks with real
 * processes of several uids.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon/lease.h"
#include "daemon/ops.h"
#include "daemon/reload.h"
#include "tests/daemon/check_daemon.h"
#include "tests/daemon/daemon_fixture.h"

/* Region r: pool p (16 blocks, client quota 6, default uid quota 8), pool
 * big (64 blocks, whole-pool uid quota), heap h (64 KiB, default uid quota
 * 32 KiB); shares of 40 holds, 24 per uid. Region other: pools o and wide
 * (more blocks than the hold table's first size), its own default share. */
static const char config[] =
    "log_level = \"error\";\n"
    "max_clients = 12;\n"
    "regions = (\n"
    "  { name = \"r\"; max_holds = 40; uid_holds = 24;\n"
    "    pools = ( { name = \"p\"; block_size = 64; blocks = 16;\n"
    "                client_quota = 6; },\n"
    "              { name = \"big\"; block_size = 64; blocks = 64;\n"
    "                uid_quota = 64; } );\n"
    "    heaps = ( { name = \"h\"; size = \"64K\"; } ); },\n"
    "  { name = \"other\";\n"
    "    pools = ( { name = \"o\"; block_size = 64; blocks = 8; },\n"
    "              { name = \"wide\"; block_size = 64; blocks = 6000; } ); }\n"
    ");\n";

static struct daemon D;
static struct dispatch X;
static struct errbuf E;

static void setup(void)
{
	fixture_daemon(&D, config);
	fixture_dispatch(&X, &D);
}

static void teardown(void)
{
	dispatch_fini(&X);
	daemon_fini(&D);
}

static void assert_error(int rc, int want, const char *what)
{
	ck_assert_msg(rc == want, "rc %d, want %d (%s)", rc, want, E.msg);
	ck_assert_msg(strstr(E.msg, what) != NULL, "\"%s\" does not name \"%s\"", E.msg, what);
}

static int start(uid_t uid, gid_t gid, struct session **s)
{
	struct session_creds cr = {.pid = getpid(), .uid = uid, .gid = gid};

	return daemon_session_start(&D, &cr, s, &E);
}

/* The defaults: max_clients 12 keeps 3 slots (a quarter) and gives a uid
 * (12 - 3) / 4 = 2 connections. */
START_TEST(test_limits_connections_per_uid_and_admin_slots)
{
	struct session *s[13]; /* one more for the refusals */
	int n = 0;

	ck_assert_uint_eq(D.cfg.admin_slots, 3);
	ck_assert_uint_eq(D.cfg.max_clients_per_uid, 2);
	ck_assert_int_eq(start(1000, 1000, &s[n++]), 0);
	ck_assert_int_eq(start(1000, 1000, &s[n++]), 0);
	assert_error(start(1000, 1000, &s[n]), -EUSERS, "max_clients_per_uid 2");
	/* Other uids fill the slots that are not kept ... */
	for (uid_t u = 1001; n < 9; u++)
		ck_assert_int_eq(start(u, u, &s[n++]), 0);
	assert_error(start(2000, 2000, &s[n]), -EUSERS, "admin_slots 3");
	/* ... and administrators still get in: root, the daemon's own uid. */
	ck_assert_int_eq(start(0, 0, &s[n++]), 0);
	ck_assert(s[n - 1]->admin);
	ck_assert_int_eq(start(geteuid(), 0, &s[n++]), 0);
	ck_assert_int_eq(start(0, 0, &s[n++]), 0);
	assert_error(start(0, 0, &s[n]), -EUSERS, "max_clients 12");
	/* A slot given back is a slot again; the uid's count went with it. */
	daemon_session_release(&D, s[0]);
	ck_assert_int_eq(start(1000, 1000, &s[0]), -EUSERS);
	for (int i = 1; i < 5; i++)
		daemon_session_release(&D, s[i]);
	ck_assert_int_eq(start(1000, 1000, &s[0]), 0);
	ck_assert_int_eq(start(1000, 1000, &s[1]), 0);
	ck_assert_ptr_eq(s[0]->tenant, s[1]->tenant);
	ck_assert_uint_eq(s[0]->tenant->sessions, 2);
}
END_TEST

START_TEST(test_limits_admin_gids)
{
	static const char text[] =
	    "max_clients = 8; admin_gids = [ 44 ];\n"
	    "regions = ( { name = \"r\";\n"
	    "  pools = ( { name = \"p\"; block_size = 64; blocks = 8; } ); } );\n";
	const gid_t groups[] = {7, 44};
	struct session_creds cr = {.pid = getpid(), .uid = 1000, .gid = 1000};
	struct session *s;

	dispatch_fini(&X);
	daemon_fini(&D);
	fixture_daemon(&D, text);
	fixture_dispatch(&X, &D);
	ck_assert_int_eq(daemon_session_start(&D, &cr, &s, &E), 0);
	ck_assert(!s->admin);
	cr.groups = groups;
	cr.ngroups = 2;
	ck_assert_int_eq(daemon_session_start(&D, &cr, &s, &E), 0);
	ck_assert(s->admin);
	cr.ngroups = 0;
	cr.gid = 44;
	ck_assert_int_eq(daemon_session_start(&D, &cr, &s, &E), 0);
	ck_assert(s->admin);
}
END_TEST

/* Many connections of one uid share its uid_quota: the 64-connection
 * attack of the issue, in small. Administrators are not bound by it. */
START_TEST(test_limits_uid_quota_spans_connections)
{
	struct session *a = fixture_session(&D, 1000, 1000);
	struct session *b = fixture_session(&D, 1000, 1000);
	struct session *c = fixture_session(&D, 1001, 1001);
	struct session *c2 = fixture_session(&D, 1001, 1001);
	struct session *root = fixture_session(&D, 0, 0);
	struct object *p = fixture_object(&D, "p");
	struct object *h = fixture_object(&D, "h");
	uint64_t off[16], usable;

	ck_assert_uint_eq(p->u.pool.cfg->uid_quota, 8);
	ck_assert_int_eq(ops_pool_alloc(&X.ops, a, p, 6, false, off, &E), 0);
	assert_error(ops_pool_alloc(&X.ops, b, p, 3, false, off, &E), -EDQUOT, "uid_quota is 8");
	ck_assert_int_eq(ops_pool_alloc(&X.ops, b, p, 2, false, off, &E), 0);
	/* Retains count too: uid 1001 may not retain 1000's blocks past 8. */
	ck_assert_int_eq(ops_pool_alloc(&X.ops, c, p, 6, false, off, &E), 0);
	ck_assert_int_eq(ops_retain(&X.ops, root, p, off, 6, 0, &E), 0);
	ck_assert_int_eq(ops_pool_alloc(&X.ops, c2, p, 2, false, off, &E), 0);
	assert_error(ops_pool_alloc(&X.ops, c2, p, 1, false, off, &E), -EDQUOT, "uid 1001 holds 8");
	/* Reclaimed blocks leave the uid's count. */
	ops_end_session(&X.ops, a);
	ck_assert_uint_eq(b->tenant->held[p->index], 2);
	/* Heaps: bytes, half the heap by default. */
	ck_assert_uint_eq(h->u.heap.cfg->uid_quota, 32768);
	ck_assert_int_eq(ops_heap_alloc(&X.ops, b, h, 20000, 0, off, &usable, &E), 0);
	assert_error(ops_heap_alloc(&X.ops, b, h, 16384, 0, off, &usable, &E), -EDQUOT,
		     "uid_quota is 32768 bytes");
	ck_assert_int_eq(ops_heap_alloc(&X.ops, root, h, 20000, 0, off, &usable, &E), 0);
	ck_assert_int_eq(ops_heap_alloc(&X.ops, root, h, 20000, 0, off, &usable, &E), 0);
}
END_TEST

/* A uid may fill its part of a region's share of the hold table, the
 * region its share, and no more; another region is not touched. */
START_TEST(test_limits_hold_shares)
{
	struct session *a = fixture_session(&D, 1000, 1000);
	struct session *a2 = fixture_session(&D, 1000, 1000);
	struct session *b = fixture_session(&D, 1001, 1001);
	struct session *b2 = fixture_session(&D, 1001, 1001);
	struct session *v = fixture_session(&D, 1002, 1002);
	struct object *big = fixture_object(&D, "big");
	uint64_t off[20];

	ck_assert_int_eq(ops_pool_alloc(&X.ops, a, big, 20, false, off, &E), 0);
	assert_error(ops_retain(&X.ops, a2, big, off, 20, 0, &E), -EDQUOT, "uid_holds 24");
	ck_assert_uint_eq(a2->held[big->index].holds, 0); /* all or nothing */
	ck_assert_int_eq(ops_retain(&X.ops, a2, big, off, 4, 0, &E), 0);
	ck_assert_int_eq(ops_retain(&X.ops, b, big, off, 16, 0, &E), 0);
	assert_error(ops_retain(&X.ops, b2, big, off + 16, 1, 0, &E), -ENOSPC, "max_holds 40");
	assert_error(ops_pool_alloc(&X.ops, v, big, 1, false, off, &E), -ENOSPC,
		     "region 'r': its share of the hold table is full");
	ck_assert_int_eq(ops_pool_alloc(&X.ops, v, fixture_object(&D, "o"), 4, false, off, &E), 0);
	ops_end_session(&X.ops, b);
	ck_assert_int_eq(ops_pool_alloc(&X.ops, v, big, 1, false, off, &E), 0);
	ck_assert_uint_eq(D.table.regions[0]->holds, 25);
}
END_TEST

/* Leases stay within the uid's quota and its holds. */
START_TEST(test_limits_lease_within_uid_limits)
{
	struct session *a = fixture_session(&D, 1000, 1000);
	struct session *b = fixture_session(&D, 1000, 1000);
	struct object *p = fixture_object(&D, "p");
	struct object *big = fixture_object(&D, "big");
	uint64_t off[10];

	/* p: the client quota would allow 6, the uid quota 8 - 5. */
	ck_assert_int_eq(ops_pool_alloc(&X.ops, a, p, 5, false, off, &E), 0);
	b->leases = true;
	ck_assert_int_eq(lease_page_open(&D.table, b->regions, &b->lease), 0);
	ck_assert_uint_eq(lease_grantable(&D, b, p, 0, 16), 3);
	/* uid 1000 has 15 of its 24 holds in region r: 9 more. */
	ck_assert_int_eq(ops_pool_alloc(&X.ops, a, big, 10, false, off, &E), 0);
	ck_assert_uint_eq(lease_grantable(&D, b, big, 0, 64), 9);
}
END_TEST

/* Issue 11 item 7: what cannot succeed is refused before anything grows,
 * with the error it deserves. */
START_TEST(test_limits_validate_before_growing)
{
	struct session *a = fixture_session(&D, 0, 0);
	struct object *p = fixture_object(&D, "p");
	struct object *h = fixture_object(&D, "h");
	struct object *wide = fixture_object(&D, "wide");
	uint32_t top;
	uint64_t off, usable, bogus[5000];

	assert_error(ops_pool_alloc(&X.ops, a, p, 4000000, true, &off, &E), -ENOMEM,
		     "pool 'p' has 16 blocks, 4000000 asked");
	assert_error(ops_pool_alloc(&X.ops, a, p, (UINT64_C(1) << 32) + 1, true, &off, &E), -ENOMEM,
		     "4294967297 asked");
	assert_error(ops_pool_alloc(&X.ops, a, p, 17, false, &off, &E), -ENOMEM, "16 blocks");
	assert_error(ops_heap_alloc(&X.ops, a, h, UINT64_C(1) << 40, 0, &off, &usable, &E), -ENOMEM,
		     "no room");
	/* A run that passes every check but finds no room: the table takes
	 * no entry (the books' pages stay untouched) for holds it will not
	 * take. */
	ck_assert_int_eq(ops_pool_alloc(&X.ops, a, wide, 1, false, &off, &E), 0);
	top = D.books.head->hold_top;
	assert_error(ops_pool_alloc(&X.ops, a, wide, 6000, true, &off, &E), -ENOMEM,
		     "no run of 6000");
	ck_assert_uint_eq(D.books.head->hold_top, top);
	ck_assert_int_eq(ops_free(&X.ops, a, wide, &off, 1, 0, &E), 0);
	/* A retain of more offsets than the table has room for, none of them
	 * an allocation: -EFAULT, and the table as it was. */
	for (size_t i = 0; i < 5000; i++)
		bogus[i] = p->offset + 64 * (i % 16);
	assert_error(ops_retain(&X.ops, a, p, bogus, 5000, 0, &E), -EFAULT, "not allocated");
	ck_assert_uint_eq(D.books.head->hold_top, top);
	ck_assert_uint_eq(D.holds.used, 0);
	ck_assert_uint_eq(sys_mem_blocks_free_count(&p->u.pool.mb), 16);
}
END_TEST

/* A reload raising max_clients grows the per-uid table with it; lower
 * shares hold at once for new holds. */
START_TEST(test_limits_reload)
{
	char text[sizeof(config) + 16], *at;
	struct session *s[40], *root = fixture_session(&D, 0, 0);
	struct object *big = fixture_object(&D, "big");
	struct config next;
	struct reload r;
	uint64_t off[30];

	snprintf(text, sizeof(text), "%s", config);
	at = strstr(text, "max_clients = 12;");
	memcpy(at, "max_clients = 40;", 17);
	at = strstr(text, "max_holds = 40; uid_holds = 24;");
	memcpy(at, "max_holds = 20; uid_holds = 10;", 31);
	ck_assert_int_eq(config_load_string(text, "fixture", &next, E.msg, sizeof(E.msg)), 0);
	ck_assert_int_eq(reload_check(&D, &next, &r, &E), 0);
	ck_assert_int_eq(reload_apply(&D, &r, &E), 0);
	for (uid_t u = 0; u < 35; u++)
		ck_assert_int_eq(start(2000 + u, 2000, &s[u]), 0);
	ck_assert_uint_eq(D.holds.limit, 20 + 4 * (8 + 6000) + 16384);
	assert_error(ops_pool_alloc(&X.ops, root, big, 21, false, off, &E), -ENOSPC,
		     "max_holds 20");
}
END_TEST

/* A uid's log budget outlives its connections: its entry rests once the
 * last one goes, keeps counting when it comes back, and is taken over by
 * another uid only when the table is full. */
START_TEST(test_limits_tenant_log_budget_rests)
{
	struct tenants t;
	struct tenant *a, *b, *c;

	ck_assert_int_eq(tenants_init(&t, 2, 1, 1), 0);
	a = tenants_join(&t, 1);
	ck_assert_ptr_nonnull(a);
	for (uint32_t i = 0; i < TENANT_LOG_BURST; i++)
		ck_assert(tenant_log_take(a, 1000, 1));
	tenants_leave(&t, a);
	ck_assert_ptr_eq(tenants_find(&t, 1), a);
	ck_assert_uint_eq(a->sessions, 0);
	/* Back again within the minute: no fresh budget. */
	ck_assert_ptr_eq(tenants_join(&t, 1), a);
	ck_assert(!tenant_log_take(a, 2000, 1));
	ck_assert(tenant_log_take(a, 1000 + TENANT_LOG_WINDOW_MS, 1));
	tenants_leave(&t, a);
	b = tenants_join(&t, 2);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_ne(b, a);
	/* Full: uid 3 takes the resting entry, with a budget of its own. */
	c = tenants_join(&t, 3);
	ck_assert_ptr_eq(c, a);
	ck_assert_uint_eq(c->uid, 3);
	ck_assert_uint_eq(c->sessions, 1);
	ck_assert_ptr_null(tenants_find(&t, 1));
	ck_assert(tenant_log_take(c, 1000 + TENANT_LOG_WINDOW_MS, 1));
	/* No resting entry left: a third uid does not fit. */
	ck_assert_ptr_null(tenants_join(&t, 4));
	/* A uid that logged nothing leaves no entry behind. */
	tenants_leave(&t, b);
	ck_assert_ptr_null(tenants_find(&t, 2));
	tenants_destroy(&t);
}
END_TEST

Suite *limits_suite(void)
{
	Suite *s = suite_create("limits");
	TCase *tc = tcase_create("limits");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_limits_connections_per_uid_and_admin_slots);
	tcase_add_test(tc, test_limits_admin_gids);
	tcase_add_test(tc, test_limits_uid_quota_spans_connections);
	tcase_add_test(tc, test_limits_hold_shares);
	tcase_add_test(tc, test_limits_lease_within_uid_limits);
	tcase_add_test(tc, test_limits_validate_before_growing);
	tcase_add_test(tc, test_limits_reload);
	tcase_add_test(tc, test_limits_tenant_log_budget_rests);
	suite_add_tcase(s, tc);
	return s;
}
