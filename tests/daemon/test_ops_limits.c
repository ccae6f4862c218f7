/*
 * The limits of the ownership rules, each at its edge: the client quota
 * through every way of taking a hold (a retained run, a contiguous run, a
 * heap size that is no multiple of the granule), access through allow_gids
 * (primary and supplementary groups), a batch of exactly max_batch, a run
 * that starts inside the pool and runs past its end, and a frame of exactly
 * max_frame. Each test fails if its rule is off by one or left out.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon/ops.h"
#include "daemon/wire.h"
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

/* A daemon of its own for tests that need other settings than the fixture's. */
static void setup_with(const char *text)
{
	teardown();
	fixture_daemon(&D, text);
	fixture_dispatch(&X, &D);
}

static size_t pool_free(const char *name)
{
	return sys_mem_blocks_free_count(&fixture_object(&D, name)->u.pool.mb);
}

/* b at quota 4 of q may not retain a run of a's: it would hold 8. */
START_TEST(test_limits_retain_run_counts_quota)
{
	struct session *a = fixture_session(&D, 1000, 1000);
	struct session *b = fixture_session(&D, 1001, 1001);
	struct object *q = fixture_object(&D, "q");
	uint64_t run, mine[4];

	ck_assert_int_eq(ops_pool_alloc(&X.ops, a, q, 4, true, &run, &E), 0);
	ck_assert_int_eq(ops_pool_alloc(&X.ops, b, q, 4, false, mine, &E), 0);
	ck_assert_int_eq(ops_retain(&X.ops, b, q, &run, 1, 4, &E), -EDQUOT);
	ck_assert_msg(strstr(E.msg, "quota is 4 blocks; holding 4, asked 4") != NULL, "%s", E.msg);
	ck_assert_int_eq(ops_retain(&X.ops, b, q, &run, 1, 1, &E), -EDQUOT);
	ck_assert_uint_eq(b->held[q->index].amount, 4);
	ck_assert_uint_eq(holds_count(&D.holds), 8);
	/* within the quota it is fine */
	ck_assert_int_eq(ops_free(&X.ops, b, q, mine, 3, 0, &E), 0);
	ck_assert_int_eq(ops_retain(&X.ops, b, q, &run, 1, 3, &E), 0);
	ck_assert_uint_eq(b->held[q->index].amount, 4);
}
END_TEST

START_TEST(test_limits_contiguous_counts_quota)
{
	struct session *a = fixture_session(&D, 1000, 1000);
	struct object *q = fixture_object(&D, "q");
	uint64_t run;

	ck_assert_int_eq(ops_pool_alloc(&X.ops, a, q, 8, true, &run, &E), -EDQUOT);
	ck_assert_int_eq(ops_pool_alloc(&X.ops, a, q, 5, true, &run, &E), -EDQUOT);
	ck_assert_uint_eq(pool_free("q"), 10);
	ck_assert_int_eq(ops_pool_alloc(&X.ops, a, q, 3, true, &run, &E), 0);
	ck_assert_int_eq(ops_pool_alloc(&X.ops, a, q, 2, true, &run, &E), -EDQUOT);
	ck_assert_int_eq(ops_pool_alloc(&X.ops, a, q, 1, true, &run, &E), 0);
	ck_assert_uint_eq(a->held[q->index].amount, 4);
	ck_assert_uint_eq(pool_free("q"), 6);
}
END_TEST

/* A quota that is no multiple of the granule: what counts is the rounded
 * size the client ends up holding, so it never holds more than 4000. */
START_TEST(test_limits_heap_quota_counts_granules)
{
	struct session *a;
	struct object *h;
	uint64_t off, usable;

	setup_with("regions = ({ name = \"r\"; heaps = ({ name = \"h\"; size = \"64K\";"
		   " granule = 64; client_quota = 4000; }); });\n");
	a = fixture_session(&D, 1000, 1000);
	h = fixture_object(&D, "h");
	/* 4000 bytes round to 4032 */
	ck_assert_int_eq(ops_heap_alloc(&X.ops, a, h, 4000, 0, &off, &usable, &E), -EDQUOT);
	ck_assert_int_eq(ops_heap_alloc(&X.ops, a, h, 3968, 0, &off, &usable, &E), 0);
	ck_assert_uint_eq(usable, 3968);
	ck_assert_int_eq(ops_heap_alloc(&X.ops, a, h, 32, 0, &off, &usable, &E), -EDQUOT);
	ck_assert_int_eq(ops_heap_alloc(&X.ops, a, h, 1, 0, &off, &usable, &E), -EDQUOT);
	ck_assert_uint_eq(a->held[h->index].amount, 3968);
	ck_assert_uint_le(a->held[h->index].amount, 4000);
}
END_TEST

static const char gid_config[] = "regions = ({ name = \"staff\"; allow_gids = [ 4242 ];"
				 " pools = ({ name = \"p\"; block_size = 64; blocks = 8; }); });\n";

START_TEST(test_limits_access_by_gid)
{
	static const gid_t with[] = {5, 4242}, without[] = {5, 6};
	struct session *prim, *supp, *none, *nogroups;
	struct object *p;
	uint64_t off;

	setup_with(gid_config);
	p = fixture_object(&D, "p");
	prim = fixture_session(&D, 1000, 4242);
	supp = fixture_session_groups(&D, 1001, 1001, with, 2);
	none = fixture_session_groups(&D, 1002, 1002, without, 2);
	nogroups = fixture_session(&D, 1003, 1003);
	ck_assert_int_eq(ops_pool_alloc(&X.ops, prim, p, 1, false, &off, &E), 0);
	ck_assert_int_eq(ops_pool_alloc(&X.ops, supp, p, 1, false, &off, &E), 0);
	ck_assert_int_eq(ops_pool_alloc(&X.ops, none, p, 1, false, &off, &E), -EACCES);
	ck_assert_msg(strstr(E.msg, "uid 1002") != NULL, "%s", E.msg);
	ck_assert_int_eq(ops_retain(&X.ops, none, p, &off, 1, 0, &E), -EACCES);
	ck_assert_int_eq(ops_pool_alloc(&X.ops, nogroups, p, 1, false, &off, &E), -EACCES);
	ck_assert_uint_eq(pool_free("p"), 6);
}
END_TEST

/* Exactly max_batch offsets is allowed in alloc, free and retain; one more
 * is -E2BIG before anything else is looked at. */
START_TEST(test_limits_batch_at_max)
{
	static uint64_t off[WIRE_FRAME_MIN], bad[WIRE_FRAME_MIN];
	uint32_t max = wire_max_batch(WIRE_FRAME_MIN);
	struct session *a, *b;
	struct object *p;
	char cfg[256];

	ck_assert_uint_lt(max, WIRE_FRAME_MIN);
	snprintf(cfg, sizeof(cfg),
		 "max_frame = %u; regions = ({ name = \"r\"; pools = ({ name = \"p\";"
		 " block_size = 64; blocks = %u; uid_quota = %u; }); });\n",
		 WIRE_FRAME_MIN, max + 1, max + 1);
	setup_with(cfg);
	ck_assert_uint_eq(D.max_batch, max);
	a = fixture_session(&D, 1000, 1000);
	b = fixture_session(&D, 1001, 1001);
	p = fixture_object(&D, "p");
	ck_assert_int_eq(ops_pool_alloc(&X.ops, a, p, max + 1, false, off, &E), -E2BIG);
	ck_assert_int_eq(ops_pool_alloc(&X.ops, a, p, max, false, off, &E), 0);
	ck_assert_int_eq(ops_retain(&X.ops, b, p, off, max + 1, 0, &E), -E2BIG);
	ck_assert_int_eq(ops_retain(&X.ops, b, p, off, max, 0, &E), 0);
	ck_assert_int_eq(ops_free(&X.ops, b, p, off, max + 1, 0, &E), -E2BIG);
	ck_assert_msg(strstr(E.msg, "at most") != NULL, "%s", E.msg);
	ck_assert_int_eq(ops_free(&X.ops, b, p, off, max, 0, &E), 0);
	memset(bad, 0xff, sizeof(bad));
	ck_assert_int_eq(ops_free(&X.ops, a, p, bad, max + 1, 0, &E), -E2BIG);
	ck_assert_int_eq(ops_free(&X.ops, a, p, off, max, 0, &E), 0);
	ck_assert_uint_eq(pool_free("p"), max + 1);
}
END_TEST

/* Runs that start inside the pool and pass its end by one block: refused
 * by name, nothing changed, and no block past the end is looked at. */
START_TEST(test_limits_run_past_pool_end)
{
	struct session *a = fixture_session(&D, 1000, 1000);
	struct session *b = fixture_session(&D, 1001, 1001);
	struct object *p = fixture_object(&D, "p");
	static uint64_t off[100];
	uint64_t from;

	ck_assert_int_eq(ops_pool_alloc(&X.ops, a, p, 100, false, off, &E), 0);
	from = off[98];
	ck_assert_int_eq(ops_free(&X.ops, a, p, &from, 1, 3, &E), -EFAULT);
	ck_assert_msg(strstr(E.msg, "passes its end") != NULL, "%s", E.msg);
	ck_assert_int_eq(ops_retain(&X.ops, b, p, &from, 1, 3, &E), -EFAULT);
	ck_assert_msg(strstr(E.msg, "passes its end") != NULL, "%s", E.msg);
	ck_assert_uint_eq(a->held[p->index].amount, 100);
	ck_assert_uint_eq(b->held[p->index].amount, 0);
	/* up to the last block is fine */
	ck_assert_int_eq(ops_retain(&X.ops, b, p, &from, 1, 2, &E), 0);
	ck_assert_int_eq(ops_free(&X.ops, a, p, &from, 1, 2, &E), 0);
	ck_assert_uint_eq(a->held[p->index].amount, 98);
}
END_TEST

/* A run names its first block only: with more offsets, or none, -EINVAL. */
START_TEST(test_limits_run_takes_one_offset)
{
	struct session *a = fixture_session(&D, 1000, 1000);
	struct session *b = fixture_session(&D, 1001, 1001);
	struct object *p = fixture_object(&D, "p");
	uint64_t off[2];

	ck_assert_int_eq(ops_pool_alloc(&X.ops, a, p, 2, false, off, &E), 0);
	ck_assert_int_eq(ops_free(&X.ops, a, p, off, 2, 1, &E), -EINVAL);
	ck_assert_msg(strstr(E.msg, "exactly one offset, got 2") != NULL, "%s", E.msg);
	ck_assert_int_eq(ops_retain(&X.ops, b, p, off, 2, 1, &E), -EINVAL);
	ck_assert_int_eq(ops_retain(&X.ops, b, p, off, 0, 1, &E), -EINVAL);
	ck_assert_uint_eq(a->held[p->index].amount, 2);
	ck_assert_uint_eq(b->held[p->index].amount, 0);
}
END_TEST

/* A frame of exactly max_frame bytes is read and written; one more is not. */
START_TEST(test_limits_frame_of_max_frame)
{
	Allocd__Reply r = ALLOCD__REPLY__INIT;
	struct bytebuf in = {0}, out = {0};
	const uint8_t *payload;
	uint32_t len, n;

	r.error = "some text to make the frame longer";
	n = (uint32_t) protobuf_c_message_get_packed_size(&r.base);
	ck_assert_int_eq(wire_frame_put(&out, &r.base, n - 1), -E2BIG);
	ck_assert_uint_eq(bytebuf_len(&out), 0);
	ck_assert_int_eq(wire_frame_put(&out, &r.base, n), 0);
	ck_assert_uint_eq(bytebuf_len(&out), WIRE_HEADER + n);

	/* the frame just written, as a request of exactly max_frame n */
	ck_assert_int_eq(bytebuf_reserve(&in, WIRE_HEADER + n), 0);
	memcpy(in.data + in.tail, out.data + out.head, WIRE_HEADER + n - 1);
	in.tail += WIRE_HEADER + n - 1;
	ck_assert_uint_eq(wire_frame_missing(&in, n), 1);
	ck_assert_int_eq(wire_frame_peek(&in, n, &payload, &len), 0);
	in.data[in.tail++] = out.data[out.head + WIRE_HEADER + n - 1];
	ck_assert_uint_eq(wire_frame_missing(&in, n), 0);
	ck_assert_int_eq(wire_frame_peek(&in, n, &payload, &len), 1);
	ck_assert_uint_eq(len, n);
	ck_assert_int_eq(wire_frame_peek(&in, n - 1, &payload, &len), -EMSGSIZE);
	bytebuf_free(&in);
	bytebuf_free(&out);
}
END_TEST

/* max_batch offsets fit a frame in the worst case: every offset a 10-byte
 * varint, the longest name, the largest ids and counts -- in a request and
 * in its reply, for the smallest, default and largest max_frame. */
START_TEST(test_limits_max_batch_fits_a_frame)
{
	static const uint32_t frames[] = {WIRE_FRAME_MIN, WIRE_FRAME_DEFAULT, WIRE_FRAME_MAX};
	static uint64_t offsets[WIRE_FRAME_MAX / 8];
	char name[WIRE_NAME_MAX + 1];

	memset(name, 'n', WIRE_NAME_MAX);
	name[WIRE_NAME_MAX] = '\0';
	for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++)
		offsets[i] = UINT64_MAX;
	for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++) {
		Allocd__Request req = ALLOCD__REQUEST__INIT;
		Allocd__Free f = ALLOCD__FREE__INIT;
		Allocd__Reply rep = ALLOCD__REPLY__INIT;
		Allocd__AllocReply ar = ALLOCD__ALLOC_REPLY__INIT;
		uint32_t max = wire_max_batch(frames[i]);

		req.version = UINT32_MAX;
		req.id = UINT64_MAX;
		req.body_case = ALLOCD__REQUEST__BODY_FREE;
		req.free = &f;
		f.name = name;
		f.n_offsets = max;
		f.offsets = offsets;
		f.run = UINT64_MAX;
		ck_assert_uint_le(protobuf_c_message_get_packed_size(&req.base), frames[i]);
		rep.id = UINT64_MAX;
		rep.status = INT32_MIN;
		rep.body_case = ALLOCD__REPLY__BODY_ALLOC;
		rep.alloc = &ar;
		ar.n_offsets = max;
		ar.offsets = offsets;
		ar.block_size = UINT64_MAX;
		ar.pool = name;
		ck_assert_uint_le(protobuf_c_message_get_packed_size(&rep.base), frames[i]);
	}
}
END_TEST

Suite *ops_limits_suite(void)
{
	Suite *s = suite_create("ops_limits");
	TCase *tc = tcase_create("ops_limits");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_limits_retain_run_counts_quota);
	tcase_add_test(tc, test_limits_contiguous_counts_quota);
	tcase_add_test(tc, test_limits_heap_quota_counts_granules);
	tcase_add_test(tc, test_limits_access_by_gid);
	tcase_add_test(tc, test_limits_batch_at_max);
	tcase_add_test(tc, test_limits_run_past_pool_end);
	tcase_add_test(tc, test_limits_run_takes_one_offset);
	tcase_add_test(tc, test_limits_frame_of_max_frame);
	tcase_add_test(tc, test_limits_max_batch_fits_a_frame);
	suite_add_tcase(s, tc);
	return s;
}
