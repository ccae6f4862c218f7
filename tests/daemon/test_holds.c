/*
 * holds.c on its own, over books of its own: the two lists of every entry,
 * the free list, entries taken past the mark up to the limit, a full
 * table that answers -ENOSPC (and keeps answering it) instead of looping
 * or writing past its end, and every change saved in the undo log first.
 */
#include <errno.h>

#include "daemon/holds.h"
#include "tests/daemon/check_daemon.h"

static struct holds H;
static struct ledger L;

/* A table with room for cap entries in the books, limited to limit. */
static void open_table(uint32_t cap, uint32_t limit)
{
	struct ledger_caps caps = {.holds = cap, .sessions = 4, .reply_max = 64, .log = 256};
	struct errbuf e;

	ck_assert_int_eq(ledger_create(&L, &caps, &e), 0);
	holds_init(&H, &L, limit);
	/* The books have room to spare for reloads: the table is what the
	 * test asks for. */
	H.cap = cap;
}

static void teardown(void)
{
	ledger_close(&L);
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

/* A new table has touched nothing: no entry below the mark, none free. */
START_TEST(test_holds_init_touches_nothing)
{
	open_table(8, 8);
	ck_assert_uint_eq(H.cap, 8);
	ck_assert_uint_eq(L.head->hold_top, 0);
	ck_assert_uint_eq(free_len(), 0);
	ck_assert_uint_eq(holds_count(&H), 0);
	ck_assert_int_eq(holds_reserve(&H, 8), 0);
	ck_assert_int_eq(holds_reserve(&H, 9), -ENOSPC);
}
END_TEST

START_TEST(test_holds_add_find_remove)
{
	uint32_t unit[2] = {HOLD_NIL, HOLD_NIL}, sess[3] = {HOLD_NIL, HOLD_NIL, HOLD_NIL};
	uint32_t a, b, c;

	open_table(4, 64);
	/* sessions 0 and 1 hold unit 0; session 0 also holds unit 1 */
	ck_assert_int_eq(holds_add(&H, &unit[0], &sess[0], 0, 7, 0, 0), 0);
	ck_assert_int_eq(holds_add(&H, &unit[0], &sess[1], 1, 7, 0, 0), 0);
	ck_assert_int_eq(holds_add(&H, &unit[1], &sess[0], 0, 7, 1, 0), 0);
	ck_assert_uint_eq(holds_count(&H), 3);
	ck_assert_uint_eq(unit_len(unit[0]), 2);
	ck_assert_uint_eq(sess_len(sess[0]), 2);
	ck_assert_uint_eq(sess_len(sess[1]), 1);
	ck_assert_uint_eq(free_len(), 0);
	ck_assert_uint_eq(L.head->hold_top, 3);

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
	ck_assert_uint_eq(free_len(), 1);
	ck_assert_uint_eq(H.v[a].used, 0);
	/* a freed entry is the next one handed out */
	ck_assert_int_eq(holds_add(&H, &unit[1], &sess[2], 2, 7, 1, 0), 0);
	ck_assert_uint_eq(holds_find(&H, unit[1], 2), a);

	holds_remove(&H, b, &unit[0], &sess[1]);
	holds_remove(&H, c, &unit[1], &sess[0]);
	holds_remove(&H, a, &unit[1], &sess[2]);
	ck_assert_uint_eq(unit[0], HOLD_NIL);
	ck_assert_uint_eq(unit[1], HOLD_NIL);
	for (int i = 0; i < 3; i++)
		ck_assert_uint_eq(sess[i], HOLD_NIL);
	ck_assert_uint_eq(holds_count(&H), 0);
	ck_assert_uint_eq(free_len(), 3);
	ck_assert_uint_eq(L.head->hold_top, 3);
}
END_TEST

/* Entries past the mark are taken in order, up to the limit even when
 * the books have more room; a limit above the books' room is theirs. */
START_TEST(test_holds_limit_below_room)
{
	uint32_t unit[10], sess = HOLD_NIL;

	open_table(10, 6);
	for (uint32_t i = 0; i < 6; i++) {
		unit[i] = HOLD_NIL;
		ck_assert_int_eq(holds_add(&H, &unit[i], &sess, 0, 0, i, 0), 0);
		ck_assert_uint_eq(unit[i], i);
		ck_assert_uint_eq(L.head->hold_top, i + 1);
	}
	unit[6] = HOLD_NIL;
	ck_assert_int_eq(holds_add(&H, &unit[6], &sess, 0, 0, 6, 0), -ENOSPC);
	ck_assert_uint_eq(L.head->hold_top, 6);
	H.limit = 100;
	ck_assert_int_eq(holds_reserve(&H, 4), 0);
	ck_assert_int_eq(holds_reserve(&H, 5), -ENOSPC);
	ck_assert_uint_eq(sess_len(sess), 6);
}
END_TEST

/* Every change of an entry's persistent part is in the undo log first:
 * copying the log back (a takeover's undo) gives the table before. */
START_TEST(test_holds_changes_are_logged)
{
	uint32_t unit = HOLD_NIL, other = HOLD_NIL, sess = HOLD_NIL;
	struct errbuf e;

	open_table(8, 8);
	/* outside a request: nothing logged */
	ck_assert_int_eq(holds_add(&H, &unit, &sess, 1, 2, 3, 4), 0);
	ck_assert_int_eq(holds_add(&H, &other, &sess, 1, 2, 5, 6), 0);
	ck_assert_uint_eq(L.head->log_state, LEDGER_LOG_CLOSED);
	ledger_begin(&L, 1);
	holds_remove(&H, unit, &unit, &sess);
	ck_assert_int_eq(holds_add(&H, &unit, &sess, 2, 2, 9, 1), 0);
	ck_assert_uint_eq(L.head->log_state, LEDGER_LOG_OPEN);
	ck_assert_uint_eq(L.head->log_n, 2);
	ck_assert_int_eq(ledger_recover(&L, &e), UINT32_MAX);
	ck_assert_uint_eq(L.head->log_state, LEDGER_LOG_CLOSED);
	ck_assert_uint_eq(H.v[0].used, 1);
	ck_assert_uint_eq(H.v[0].session, 1);
	ck_assert_uint_eq(H.v[0].unit, 3);
	ck_assert_uint_eq(H.v[0].granules, 4);
	ck_assert_uint_eq(H.v[1].used, 1);
	ck_assert_uint_eq(H.v[1].unit, 5);
}
END_TEST

/* A full table: -ENOSPC from add and reserve, repeatedly, nothing changed;
 * a removal makes room for exactly one. */
START_TEST(test_holds_full_table_is_enospc)
{
	uint32_t unit[8], sess = HOLD_NIL, extra = HOLD_NIL;

	open_table(8, 8);
	ck_assert_int_eq(holds_reserve(&H, 8), 0);
	ck_assert_uint_eq(H.cap, 8);
	ck_assert_int_eq(holds_reserve(&H, 9), -ENOSPC);
	for (uint32_t i = 0; i < 8; i++) {
		unit[i] = HOLD_NIL;
		ck_assert_int_eq(holds_add(&H, &unit[i], &sess, 0, 0, i, 0), 0);
	}
	for (int again = 0; again < 2; again++) {
		ck_assert_int_eq(holds_add(&H, &extra, &sess, 1, 0, 99, 0), -ENOSPC);
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
	ck_assert_int_eq(holds_add(&H, &extra, &sess, 1, 0, 99, 0), 0);
	ck_assert_int_eq(holds_add(&H, &unit[3], &sess, 0, 0, 3, 0), -ENOSPC);
	ck_assert_uint_eq(holds_count(&H), 8);
}
END_TEST

/* A table of one entry. */
START_TEST(test_holds_limit_one)
{
	uint32_t unit = HOLD_NIL, sess = HOLD_NIL;

	open_table(1, 1);
	ck_assert_int_eq(holds_add(&H, &unit, &sess, 0, 0, 0, 0), 0);
	ck_assert_int_eq(holds_add(&H, &unit, &sess, 1, 0, 0, 0), -ENOSPC);
	ck_assert_int_eq(holds_reserve(&H, 1), -ENOSPC);
}
END_TEST

Suite *holds_suite(void)
{
	Suite *s = suite_create("holds");
	TCase *tc = tcase_create("holds");

	/* A room check off by one could loop for ever: fail fast instead. */
	tcase_set_timeout(tc, 10);
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_holds_init_touches_nothing);
	tcase_add_test(tc, test_holds_add_find_remove);
	tcase_add_test(tc, test_holds_limit_below_room);
	tcase_add_test(tc, test_holds_changes_are_logged);
	tcase_add_test(tc, test_holds_full_table_is_enospc);
	tcase_add_test(tc, test_holds_limit_one);
	suite_add_tcase(s, tc);
	return s;
}
