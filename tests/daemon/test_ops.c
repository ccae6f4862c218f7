/*
 * Ownership rules of the daemon (ops.c), driven directly on a dry-run
 * daemon: holds, reference counts, all-or-nothing free and retain, quotas,
 * access, reclaim.
 */
#include <errno.h>
#include <string.h>

#include "daemon/ops.h"
#include "tests/daemon/check_daemon.h"
#include "tests/daemon/daemon_fixture.h"

static struct daemon D;
static struct dispatch X;
static struct errbuf E;

static void setup(void)
{
	fixture_daemon(&D, NULL);
	fixture_dispatch(&X, &D);
}

static void teardown(void)
{
	dispatch_fini(&X);
	daemon_fini(&D);
}

static size_t pool_free(const char *name)
{
	return sys_mem_blocks_free_count(&fixture_object(&D, name)->u.pool.mb);
}

static uint64_t heap_used(void)
{
	struct tlsf_stats st;

	tlsf_get_stats(fixture_object(&D, "h")->u.heap.tlsf, &st);
	return st.used;
}

START_TEST(test_ops_alloc_lowest_blocks_first)
{
	struct session *s = fixture_session(&D, 1000, 1000);
	struct object *p = fixture_object(&D, "p");
	uint64_t off[3];

	ck_assert_int_eq(ops_pool_alloc(&X.ops, s, p, 3, false, off, &E), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_uint_eq(off[i], p->offset + (uint64_t) i * 64);
	ck_assert_uint_eq(pool_free("p"), 97);
	ck_assert_uint_eq(s->held[p->index].amount, 3);
	ck_assert_uint_eq(s->held[p->index].holds, 3);
	ck_assert_uint_eq(holds_count(&D.holds), 3);
}
END_TEST

START_TEST(test_ops_free_checks_every_offset_first)
{
	struct session *a = fixture_session(&D, 1000, 1000);
	struct session *b = fixture_session(&D, 1001, 1001);
	struct object *p = fixture_object(&D, "p");
	uint64_t mine[2], theirs, bad[2];

	ck_assert_int_eq(ops_pool_alloc(&X.ops, a, p, 2, false, mine, &E), 0);
	ck_assert_int_eq(ops_pool_alloc(&X.ops, b, p, 1, false, &theirs, &E), 0);

	/* one of mine and one of b's: -EPERM and mine is still held */
	bad[0] = mine[0];
	bad[1] = theirs;
	ck_assert_int_eq(ops_free(&X.ops, a, p, bad, 2, 0, &E), -EPERM);
	ck_assert_msg(strstr(E.msg, "you do not hold") != NULL, "%s", E.msg);
	ck_assert_uint_eq(pool_free("p"), 97);
	ck_assert_uint_eq(a->held[p->index].amount, 2);

	/* the same offset twice: -EINVAL, nothing freed */
	bad[0] = bad[1] = mine[1];
	ck_assert_int_eq(ops_free(&X.ops, a, p, bad, 2, 0, &E), -EINVAL);
	ck_assert_msg(strstr(E.msg, "appears twice") != NULL, "%s", E.msg);
	ck_assert_uint_eq(pool_free("p"), 97);
	ck_assert_uint_eq(a->held[p->index].holds, 2);

	ck_assert_int_eq(ops_free(&X.ops, a, p, mine, 2, 0, &E), 0);
	ck_assert_uint_eq(pool_free("p"), 99);
	ck_assert_uint_eq(a->held[p->index].amount, 0);
}
END_TEST

START_TEST(test_ops_free_bad_offsets_are_efault)
{
	struct session *s = fixture_session(&D, 1000, 1000);
	struct object *p = fixture_object(&D, "p");
	uint64_t off, bad;

	ck_assert_int_eq(ops_pool_alloc(&X.ops, s, p, 1, false, &off, &E), 0);
	bad = off + 1; /* misaligned */
	ck_assert_int_eq(ops_free(&X.ops, s, p, &bad, 1, 0, &E), -EFAULT);
	bad = off + 64; /* not allocated */
	ck_assert_int_eq(ops_free(&X.ops, s, p, &bad, 1, 0, &E), -EFAULT);
	ck_assert_msg(strstr(E.msg, "not allocated") != NULL, "%s", E.msg);
	bad = p->offset + 100 * 64; /* one past the end */
	ck_assert_int_eq(ops_free(&X.ops, s, p, &bad, 1, 0, &E), -EFAULT);
	bad = UINT64_MAX;
	ck_assert_int_eq(ops_free(&X.ops, s, p, &bad, 1, 0, &E), -EFAULT);
	ck_assert_int_eq(ops_free(&X.ops, s, p, &off, 1, 0, &E), 0);
	/* double free */
	ck_assert_int_eq(ops_free(&X.ops, s, p, &off, 1, 0, &E), -EFAULT);
	ck_assert_uint_eq(pool_free("p"), 100);
}
END_TEST

START_TEST(test_ops_retain_keeps_block_until_last_holder_frees)
{
	struct session *prod = fixture_session(&D, 1000, 1000);
	struct session *cons = fixture_session(&D, 1001, 1001);
	struct object *p = fixture_object(&D, "p");
	uint64_t off[2];

	ck_assert_int_eq(ops_pool_alloc(&X.ops, prod, p, 2, false, off, &E), 0);
	ck_assert_int_eq(ops_retain(&X.ops, cons, p, off, 2, 0, &E), 0);
	ck_assert_uint_eq(holds_count(&D.holds), 4);
	ck_assert_int_eq(ops_free(&X.ops, prod, p, off, 2, 0, &E), 0);
	ck_assert_uint_eq(pool_free("p"), 98); /* the consumer still holds them */
	/* the producer no longer holds them */
	ck_assert_int_eq(ops_free(&X.ops, prod, p, off, 1, 0, &E), -EPERM);
	ck_assert_int_eq(ops_free(&X.ops, cons, p, off, 2, 0, &E), 0);
	ck_assert_uint_eq(pool_free("p"), 100);
	ck_assert_uint_eq(holds_count(&D.holds), 0);
}
END_TEST

START_TEST(test_ops_retain_errors_change_nothing)
{
	struct session *a = fixture_session(&D, 1000, 1000);
	struct session *b = fixture_session(&D, 1001, 1001);
	struct object *p = fixture_object(&D, "p");
	uint64_t off[2], two[2], freeblk;

	ck_assert_int_eq(ops_pool_alloc(&X.ops, a, p, 2, false, off, &E), 0);
	ck_assert_int_eq(ops_retain(&X.ops, a, p, off, 1, 0, &E), -EALREADY);
	freeblk = off[1] + 64;
	ck_assert_int_eq(ops_retain(&X.ops, b, p, &freeblk, 1, 0, &E), -EFAULT);
	/* a good offset then the same again: -EALREADY, nothing retained */
	two[0] = two[1] = off[0];
	ck_assert_int_eq(ops_retain(&X.ops, b, p, two, 2, 0, &E), -EALREADY);
	ck_assert_uint_eq(b->held[p->index].holds, 0);
	/* a good offset then a free one: nothing retained */
	two[0] = off[0];
	two[1] = freeblk;
	ck_assert_int_eq(ops_retain(&X.ops, b, p, two, 2, 0, &E), -EFAULT);
	ck_assert_uint_eq(b->held[p->index].holds, 0);
	ck_assert_uint_eq(holds_count(&D.holds), 2);
}
END_TEST

START_TEST(test_ops_pool_quota)
{
	struct session *a = fixture_session(&D, 1000, 1000);
	struct session *b = fixture_session(&D, 1001, 1001);
	struct object *q = fixture_object(&D, "q");
	uint64_t off[5];

	ck_assert_int_eq(ops_pool_alloc(&X.ops, a, q, 5, false, off, &E), -EDQUOT);
	ck_assert_msg(strstr(E.msg, "quota is 4 blocks") != NULL, "%s", E.msg);
	ck_assert_uint_eq(pool_free("q"), 10);
	ck_assert_int_eq(ops_pool_alloc(&X.ops, a, q, 3, false, off, &E), 0);
	ck_assert_int_eq(ops_pool_alloc(&X.ops, a, q, 2, false, off + 3, &E), -EDQUOT);
	ck_assert_int_eq(ops_pool_alloc(&X.ops, a, q, 1, false, off + 3, &E), 0);
	/* another client has its own quota... */
	ck_assert_int_eq(ops_pool_alloc(&X.ops, b, q, 1, false, &off[4], &E), 0);
	/* ...and retained blocks count against it */
	ck_assert_int_eq(ops_retain(&X.ops, b, q, off, 3, 0, &E), 0);
	ck_assert_int_eq(ops_retain(&X.ops, b, q, off + 3, 1, 0, &E), -EDQUOT);
}
END_TEST

START_TEST(test_ops_heap_alloc_free_and_quota)
{
	struct session *a = fixture_session(&D, 1000, 1000);
	struct object *h = fixture_object(&D, "h");
	uint64_t off, usable, big;

	ck_assert_int_eq(ops_heap_alloc(&X.ops, a, h, 100, 0, &off, &usable, &E), 0);
	ck_assert_uint_eq(usable, 128);
	ck_assert_uint_eq(off % 64, 0);
	ck_assert_uint_eq(heap_used(), 128);
	ck_assert_int_eq(ops_heap_alloc(&X.ops, a, h, 1, 4096, &big, &usable, &E), 0);
	ck_assert_uint_eq((big - h->offset) % 4096, 0);
	ck_assert_int_eq(ops_heap_alloc(&X.ops, a, h, 8192, 0, &big, &usable, &E), -EDQUOT);
	ck_assert_int_eq(ops_heap_alloc(&X.ops, a, h, 0, 0, &big, &usable, &E), -EINVAL);
	ck_assert_int_eq(ops_heap_alloc(&X.ops, a, h, 64, 3, &big, &usable, &E), -EINVAL);
	ck_assert_int_eq(ops_heap_alloc(&X.ops, a, h, UINT64_MAX, 0, &big, &usable, &E), -ENOMEM);
	big = off + 64; /* inside the allocation, not its start */
	ck_assert_int_eq(ops_free(&X.ops, a, h, &big, 1, 0, &E), -EFAULT);
	ck_assert_int_eq(ops_free(&X.ops, a, h, &off, 1, 0, &E), 0);
	ck_assert_int_eq(ops_free(&X.ops, a, h, &off, 1, 0, &E), -EFAULT);
	ck_assert_int_eq(tlsf_check(h->u.heap.tlsf), 0);
}
END_TEST

START_TEST(test_ops_group_by_size_and_free_through_group)
{
	struct session *a = fixture_session(&D, 1000, 1000);
	struct object *g = fixture_object(&D, "g");
	struct object *chosen;
	uint64_t off[2];

	ck_assert_int_eq(ops_group_alloc(&X.ops, a, g, 100, 1, 0, &off[0], &chosen, &E), 0);
	ck_assert_str_eq(chosen->name, "q");
	ck_assert_int_eq(ops_group_alloc(&X.ops, a, g, 10, 1, 0, &off[1], &chosen, &E), 0);
	ck_assert_str_eq(chosen->name, "p");
	ck_assert_int_eq(ops_group_alloc(&X.ops, a, g, 5000, 1, 0, off, &chosen, &E), -EINVAL);
	ck_assert_msg(strstr(E.msg, "chose no pool") != NULL, "%s", E.msg);
	/* one free through the group releases blocks of both member pools */
	ck_assert_int_eq(ops_free(&X.ops, a, g, off, 2, 0, &E), 0);
	ck_assert_uint_eq(pool_free("p"), 100);
	ck_assert_uint_eq(pool_free("q"), 10);
}
END_TEST

START_TEST(test_ops_group_index_out_of_range_is_einval)
{
	struct session *a = fixture_session(&D, 1000, 1000);
	struct object *gi = fixture_object(&D, "gi");
	struct object *chosen;
	uint64_t off;

	ck_assert_int_eq(ops_group_alloc(&X.ops, a, gi, 1, 1, 0, &off, &chosen, &E), 0);
	ck_assert_str_eq(chosen->name, "q");
	ck_assert_int_eq(ops_group_alloc(&X.ops, a, gi, 2, 1, 0, &off, &chosen, &E), -EINVAL);
}
END_TEST

START_TEST(test_ops_region_allow_list)
{
	struct session *other = fixture_session(&D, 1000, 1000);
	struct session *allowed = fixture_session(&D, 12345, 1000);
	struct session *root = fixture_session(&D, 0, 0);
	struct object *s = fixture_object(&D, "s");
	uint64_t off;

	ck_assert_int_eq(ops_pool_alloc(&X.ops, other, s, 1, false, &off, &E), -EACCES);
	ck_assert_str_eq(E.msg, "pool 's': not allowed for uid 1000");
	ck_assert_int_eq(ops_pool_alloc(&X.ops, allowed, s, 1, false, &off, &E), 0);
	ck_assert_int_eq(ops_retain(&X.ops, other, s, &off, 1, 0, &E), -EACCES);
	ck_assert_int_eq(ops_free(&X.ops, other, s, &off, 1, 0, &E), -EACCES);
	ck_assert_int_eq(ops_retain(&X.ops, root, s, &off, 1, 0, &E), 0);
}
END_TEST

START_TEST(test_ops_contiguous_runs)
{
	struct session *a = fixture_session(&D, 1000, 1000);
	struct session *b = fixture_session(&D, 1001, 1001);
	struct object *p = fixture_object(&D, "p");
	struct object *h = fixture_object(&D, "h");
	uint64_t one, run;

	ck_assert_int_eq(ops_pool_alloc(&X.ops, a, p, 1, false, &one, &E), 0);
	ck_assert_int_eq(ops_pool_alloc(&X.ops, a, p, 5, true, &run, &E), 0);
	ck_assert_uint_eq(run, one + 64);
	ck_assert_uint_eq(a->held[p->index].amount, 6);
	ck_assert_int_eq(ops_retain(&X.ops, b, p, &run, 1, 5, &E), 0);
	ck_assert_uint_eq(b->held[p->index].holds, 5);
	/* a run past what a holds / past the pool's end */
	ck_assert_int_eq(ops_free(&X.ops, a, p, &run, 1, 6, &E), -EFAULT);
	ck_assert_int_eq(ops_free(&X.ops, a, p, &run, 1, 1000, &E), -EFAULT);
	ck_assert_int_eq(ops_free(&X.ops, a, h, &run, 1, 2, &E), -EINVAL);
	ck_assert_int_eq(ops_free(&X.ops, a, p, &run, 1, 5, &E), 0);
	ck_assert_uint_eq(pool_free("p"), 94); /* b still holds the run */
	ck_assert_int_eq(ops_free(&X.ops, b, p, &run, 1, 5, &E), 0);
	ck_assert_uint_eq(pool_free("p"), 99);
	ck_assert_int_eq(ops_pool_alloc(&X.ops, a, p, 101, true, &run, &E), -ENOMEM);
}
END_TEST

START_TEST(test_ops_batch_limit)
{
	struct session *a = fixture_session(&D, 1000, 1000);
	struct object *p = fixture_object(&D, "p");
	uint64_t off;

	ck_assert_int_eq(ops_pool_alloc(&X.ops, a, p, (uint64_t) D.max_batch + 1, false, &off, &E),
			 -E2BIG);
	ck_assert_int_eq(ops_pool_alloc(&X.ops, a, p, 0, false, &off, &E), 0);
	ck_assert_uint_eq(pool_free("p"), 100);
}
END_TEST

START_TEST(test_ops_reclaim_drops_every_hold)
{
	struct session *a = fixture_session(&D, 1000, 1000);
	struct session *b = fixture_session(&D, 1001, 1001);
	struct object *p = fixture_object(&D, "p");
	struct object *h = fixture_object(&D, "h");
	struct object *g = fixture_object(&D, "g");
	struct object *chosen;
	uint64_t pb[4], hb, gb, usable;

	ck_assert_int_eq(ops_pool_alloc(&X.ops, a, p, 4, false, pb, &E), 0);
	ck_assert_int_eq(ops_heap_alloc(&X.ops, a, h, 1000, 0, &hb, &usable, &E), 0);
	ck_assert_int_eq(ops_group_alloc(&X.ops, a, g, 1000, 1, 0, &gb, &chosen, &E), 0);
	ck_assert_int_eq(ops_retain(&X.ops, b, p, pb, 2, 0, &E), 0);
	ck_assert_int_eq(ops_retain(&X.ops, b, h, &hb, 1, 0, &E), 0);

	ops_end_session(&X.ops, a);
	ck_assert_uint_eq(D.reclaimed, 6);
	/* what b retained survives; the rest is back */
	ck_assert_uint_eq(pool_free("p"), 98);
	ck_assert_uint_eq(pool_free("q"), 10);
	ck_assert_uint_eq(heap_used(), usable);
	ops_end_session(&X.ops, b);
	ck_assert_uint_eq(pool_free("p"), 100);
	ck_assert_uint_eq(heap_used(), 0);
	ck_assert_uint_eq(holds_count(&D.holds), 0);
	ck_assert_int_eq(tlsf_check(h->u.heap.tlsf), 0);
}
END_TEST

Suite *ops_suite(void)
{
	Suite *s = suite_create("ops");
	TCase *tc = tcase_create("ops");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_ops_alloc_lowest_blocks_first);
	tcase_add_test(tc, test_ops_free_checks_every_offset_first);
	tcase_add_test(tc, test_ops_free_bad_offsets_are_efault);
	tcase_add_test(tc, test_ops_retain_keeps_block_until_last_holder_frees);
	tcase_add_test(tc, test_ops_retain_errors_change_nothing);
	tcase_add_test(tc, test_ops_pool_quota);
	tcase_add_test(tc, test_ops_heap_alloc_free_and_quota);
	tcase_add_test(tc, test_ops_group_by_size_and_free_through_group);
	tcase_add_test(tc, test_ops_group_index_out_of_range_is_einval);
	tcase_add_test(tc, test_ops_region_allow_list);
	tcase_add_test(tc, test_ops_contiguous_runs);
	tcase_add_test(tc, test_ops_batch_limit);
	tcase_add_test(tc, test_ops_reclaim_drops_every_hold);
	suite_add_tcase(s, tc);
	return s;
}
