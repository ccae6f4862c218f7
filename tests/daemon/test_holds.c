/*
 * holds.c on its own: the two lists of every entry, the free list, growth
 * by doubling up to the limit, and a full table that answers -ENOSPC (and
 * keeps answering it) instead of looping or writing past its end.
 */
#include <errno.h>

#include "daemon/holds.h"
#include "tests/daemon/check_daemon.h"

static struct holds H;

static void teardown(void)
{
	holds_destroy(&H);
}

/* Length of a session list, checking its back links on the way. */
static uint32_t sess_len(uint32_t head)
{
	uint32_t n = 0, prev = HOLD_NIL;

	for (uint32_t i = head; i != HOLD_NIL; prev = i, i = H.v[i].sess_next, n++)
		ck_assert_uint_eq(H.v[i].sess_prev, prev);
	return n;
}

static uint32_t unit_len(uint32_t head)
{
	uint32_t n = 0;

	for (uint32_t i = head; i != HOLD_NIL; i = H.v[i].next_unit)
		n++;
	return n;
}

static uint32_t free_len(void)
{
	return unit_len(H.free_head);
}

START_TEST(test_holds_init_clamps_initial)
{
	ck_assert_int_eq(holds_init(&H, 0, 8), 0);
	ck_assert_uint_eq(H.cap, 8);
	ck_assert_uint_eq(free_len(), 8);
	holds_destroy(&H);
	ck_assert_int_eq(holds_init(&H, 100, 10), 0);
	ck_assert_uint_eq(H.cap, 10);
	holds_destroy(&H);
	ck_assert_int_eq(holds_init(&H, 0, 1u << 20), 0);
	ck_assert_uint_eq(H.cap, 1024);
	ck_assert_uint_eq(H.limit, 1u << 20);
	ck_assert_uint_eq(holds_count(&H), 0);
}
END_TEST

START_TEST(test_holds_add_find_remove)
{
	uint32_t unit[2] = {HOLD_NIL, HOLD_NIL}, sess[3] = {HOLD_NIL, HOLD_NIL, HOLD_NIL};
	uint32_t a, b, c;

	ck_assert_int_eq(holds_init(&H, 4, 64), 0);
	/* sessions 0 and 1 hold unit 0; session 0 also holds unit 1 */
	ck_assert_int_eq(holds_add(&H, &unit[0], &sess[0], 0, 7, 0), 0);
	ck_assert_int_eq(holds_add(&H, &unit[0], &sess[1], 1, 7, 0), 0);
	ck_assert_int_eq(holds_add(&H, &unit[1], &sess[0], 0, 7, 1), 0);
	ck_assert_uint_eq(holds_count(&H), 3);
	ck_assert_uint_eq(unit_len(unit[0]), 2);
	ck_assert_uint_eq(sess_len(sess[0]), 2);
	ck_assert_uint_eq(sess_len(sess[1]), 1);
	ck_assert_uint_eq(free_len(), 1);

	a = holds_find(&H, unit[0], 0);
	b = holds_find(&H, unit[0], 1);
	c = holds_find(&H, unit[1], 0);
	ck_assert_uint_ne(a, HOLD_NIL);
	ck_assert_uint_ne(b, HOLD_NIL);
	ck_assert_uint_eq(H.v[a].session, 0);
	ck_assert_uint_eq(H.v[b].session, 1);
	ck_assert_uint_eq(H.v[c].obj, 7);
	ck_assert_uint_eq(H.v[c].unit, 1);
	ck_assert_uint_eq(holds_find(&H, unit[1], 1), HOLD_NIL);
	ck_assert_uint_eq(holds_find(&H, unit[0], 2), HOLD_NIL);

	/* out of the middle of a session list and the tail of a unit list */
	holds_remove(&H, a, &unit[0], &sess[0]);
	ck_assert_uint_eq(holds_count(&H), 2);
	ck_assert_uint_eq(unit_len(unit[0]), 1);
	ck_assert_uint_eq(sess_len(sess[0]), 1);
	ck_assert_uint_eq(holds_find(&H, unit[0], 0), HOLD_NIL);
	ck_assert_uint_eq(holds_find(&H, unit[0], 1), b);
	ck_assert_uint_eq(free_len(), 2);
	/* a freed entry is the next one handed out */
	ck_assert_int_eq(holds_add(&H, &unit[1], &sess[2], 2, 7, 1), 0);
	ck_assert_uint_eq(holds_find(&H, unit[1], 2), a);

	holds_remove(&H, b, &unit[0], &sess[1]);
	holds_remove(&H, c, &unit[1], &sess[0]);
	holds_remove(&H, a, &unit[1], &sess[2]);
	ck_assert_uint_eq(unit[0], HOLD_NIL);
	ck_assert_uint_eq(unit[1], HOLD_NIL);
	for (int i = 0; i < 3; i++)
		ck_assert_uint_eq(sess[i], HOLD_NIL);
	ck_assert_uint_eq(holds_count(&H), 0);
	ck_assert_uint_eq(free_len(), H.cap);
}
END_TEST

/* Growth doubles up to the limit, even a limit that is no power of two. */
START_TEST(test_holds_grow_to_limit)
{
	uint32_t unit[10], sess = HOLD_NIL;

	ck_assert_int_eq(holds_init(&H, 2, 10), 0);
	for (uint32_t i = 0; i < 10; i++) {
		unit[i] = HOLD_NIL;
		ck_assert_int_eq(holds_add(&H, &unit[i], &sess, 0, 0, i), 0);
		ck_assert_uint_le(H.cap, 10);
		ck_assert_uint_eq(H.v[holds_find(&H, unit[i], 0)].unit, i);
	}
	ck_assert_uint_eq(H.cap, 10);
	ck_assert_uint_eq(sess_len(sess), 10);
	for (uint32_t i = 0; i < 10; i++)
		ck_assert_uint_eq(H.v[unit[i]].unit, i);
}
END_TEST

/* A full table: -ENOSPC from add and reserve, repeatedly, nothing changed;
 * a removal makes room for exactly one. */
START_TEST(test_holds_full_table_is_enospc)
{
	uint32_t unit[8], sess = HOLD_NIL, extra = HOLD_NIL;

	ck_assert_int_eq(holds_init(&H, 1, 8), 0);
	ck_assert_int_eq(holds_reserve(&H, 8), 0);
	ck_assert_uint_eq(H.cap, 8);
	ck_assert_int_eq(holds_reserve(&H, 9), -ENOSPC);
	for (uint32_t i = 0; i < 8; i++) {
		unit[i] = HOLD_NIL;
		ck_assert_int_eq(holds_add(&H, &unit[i], &sess, 0, 0, i), 0);
	}
	for (int again = 0; again < 2; again++) {
		ck_assert_int_eq(holds_add(&H, &extra, &sess, 1, 0, 99), -ENOSPC);
		ck_assert_int_eq(holds_reserve(&H, 1), -ENOSPC);
	}
	ck_assert_int_eq(holds_reserve(&H, 0), 0);
	ck_assert_uint_eq(extra, HOLD_NIL);
	ck_assert_uint_eq(holds_count(&H), 8);
	ck_assert_uint_eq(H.cap, 8);
	ck_assert_uint_eq(sess_len(sess), 8);

	holds_remove(&H, unit[3], &unit[3], &sess);
	ck_assert_int_eq(holds_reserve(&H, 1), 0);
	ck_assert_int_eq(holds_reserve(&H, 2), -ENOSPC);
	ck_assert_int_eq(holds_add(&H, &extra, &sess, 1, 0, 99), 0);
	ck_assert_int_eq(holds_add(&H, &unit[3], &sess, 0, 0, 3), -ENOSPC);
	ck_assert_uint_eq(holds_count(&H), 8);
}
END_TEST

/* A table of one entry: growth has nowhere to go. */
START_TEST(test_holds_limit_one)
{
	uint32_t unit = HOLD_NIL, sess = HOLD_NIL;

	ck_assert_int_eq(holds_init(&H, 1, 1), 0);
	ck_assert_int_eq(holds_add(&H, &unit, &sess, 0, 0, 0), 0);
	ck_assert_int_eq(holds_add(&H, &unit, &sess, 1, 0, 0), -ENOSPC);
	ck_assert_int_eq(holds_reserve(&H, 1), -ENOSPC);
}
END_TEST

Suite *holds_suite(void)
{
	Suite *s = suite_create("holds");
	TCase *tc = tcase_create("holds");

	/* A growth check off by one loops for ever: fail fast instead. */
	tcase_set_timeout(tc, 10);
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_holds_init_clamps_initial);
	tcase_add_test(tc, test_holds_add_find_remove);
	tcase_add_test(tc, test_holds_grow_to_limit);
	tcase_add_test(tc, test_holds_full_table_is_enospc);
	tcase_add_test(tc, test_holds_limit_one);
	suite_add_tcase(s, tc);
	return s;
}
