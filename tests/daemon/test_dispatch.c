/*
 * Frames in, frames out (dispatch.c): pipelining and order, protocol errors,
 * malformed and oversized frames, absurd counts, and the bound on unread
 * replies.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/dispatch.h"
#include "proto/allocd.pb-c.h"
#include "tests/daemon/check_daemon.h"
#include "tests/daemon/daemon_fixture.h"

static struct daemon D;
static struct dispatch X;
static struct session *S;

static void setup(void)
{
	fixture_daemon(&D, NULL);
	fixture_dispatch(&X, &D);
	S = fixture_session(&D, 1000, 1000);
	S->hello_done = false;
}

static void teardown(void)
{
	dispatch_fini(&X);
	daemon_fini(&D);
}

static void put_hello(struct session *s, uint64_t id)
{
	Allocd__Request r = ALLOCD__REQUEST__INIT;
	Allocd__Hello h = ALLOCD__HELLO__INIT;

	r.version = 1;
	r.id = id;
	r.body_case = ALLOCD__REQUEST__BODY_HELLO;
	r.hello = &h;
	h.client_name = "test\x01name";
	fixture_put_request(s, &r);
}

static void put_alloc(struct session *s, uint64_t id, const char *pool, uint64_t count)
{
	Allocd__Request r = ALLOCD__REQUEST__INIT;
	Allocd__Alloc a = ALLOCD__ALLOC__INIT;

	r.version = 1;
	r.id = id;
	r.body_case = ALLOCD__REQUEST__BODY_ALLOC;
	r.alloc = &a;
	a.pool = (char *) pool;
	a.count = count;
	fixture_put_request(s, &r);
}

static void expect_status(Allocd__Reply *r, uint64_t id, int status)
{
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->version, 1);
	ck_assert_uint_eq(r->id, id);
	ck_assert_msg(r->status == status, "reply %llu: status %d, want %d (%s)",
		      (unsigned long long) id, r->status, status, r->error);
	allocd__reply__free_unpacked(r, NULL);
}

START_TEST(test_dispatch_pipelined_replies_in_order)
{
	Allocd__Reply *r;

	put_hello(S, 7);
	put_alloc(S, 8, "p", 2);
	put_alloc(S, 9, "nope", 1);
	put_alloc(S, 10, "p", 1);
	ck_assert_int_eq(dispatch_input(&X, S, SIZE_MAX), 0);
	ck_assert_uint_eq(bytebuf_len(&S->in), 0);

	r = fixture_take_reply(S);
	ck_assert_uint_eq(r->id, 7);
	ck_assert_int_eq(r->body_case, ALLOCD__REPLY__BODY_HELLO);
	ck_assert_uint_eq(r->hello->n_regions, 1); /* "secret" is not for uid 1000 */
	ck_assert_str_eq(r->hello->regions[0]->name, "r");
	ck_assert_uint_eq(r->hello->max_batch, D.max_batch);
	ck_assert_str_eq(S->client_name, "test?name");
	ck_assert(S->fds_pending);
	allocd__reply__free_unpacked(r, NULL);

	r = fixture_take_reply(S);
	ck_assert_uint_eq(r->id, 8);
	ck_assert_int_eq(r->status, 0);
	ck_assert_uint_eq(r->alloc->n_offsets, 2);
	ck_assert_uint_eq(r->alloc->block_size, 64);
	allocd__reply__free_unpacked(r, NULL);

	r = fixture_take_reply(S);
	ck_assert_uint_eq(r->id, 9);
	ck_assert_int_eq(r->status, -ENOENT);
	ck_assert_str_eq(r->error, "no pool named 'nope'");
	allocd__reply__free_unpacked(r, NULL);

	expect_status(fixture_take_reply(S), 10, 0);
	ck_assert_ptr_null(fixture_take_reply(S));
	ck_assert_uint_eq(D.requests, 4);
}
END_TEST

START_TEST(test_dispatch_first_request_must_be_hello)
{
	put_alloc(S, 1, "p", 1);
	ck_assert_int_eq(dispatch_input(&X, S, SIZE_MAX), -EPROTO);
	expect_status(fixture_take_reply(S), 1, -EPROTO);
	ck_assert_uint_eq(sys_mem_blocks_free_count(&fixture_object(&D, "p")->u.pool.mb), 100);
}
END_TEST

START_TEST(test_dispatch_second_hello_refused)
{
	put_hello(S, 1);
	put_hello(S, 2);
	ck_assert_int_eq(dispatch_input(&X, S, SIZE_MAX), 0);
	allocd__reply__free_unpacked(fixture_take_reply(S), NULL);
	expect_status(fixture_take_reply(S), 2, -EALREADY);
}
END_TEST

START_TEST(test_dispatch_wrong_version_closes)
{
	Allocd__Request r = ALLOCD__REQUEST__INIT;

	r.version = 2;
	r.id = 5;
	fixture_put_request(S, &r);
	put_hello(S, 6);
	ck_assert_int_eq(dispatch_input(&X, S, SIZE_MAX), -EPROTONOSUPPORT);
	expect_status(fixture_take_reply(S), 5, -EPROTONOSUPPORT);
	ck_assert_ptr_null(fixture_take_reply(S)); /* nothing after the error */
}
END_TEST

START_TEST(test_dispatch_oversized_frame_closes)
{
	uint8_t hdr[4] = {0xff, 0xff, 0xff, 0x7f};

	put_hello(S, 1);
	ck_assert_int_eq(bytebuf_reserve(&S->in, 4), 0);
	memcpy(S->in.data + S->in.tail, hdr, 4);
	S->in.tail += 4;
	ck_assert_int_eq(dispatch_input(&X, S, SIZE_MAX), -EMSGSIZE);
	allocd__reply__free_unpacked(fixture_take_reply(S), NULL);
	expect_status(fixture_take_reply(S), 0, -EMSGSIZE);
}
END_TEST

START_TEST(test_dispatch_malformed_frame_answered_and_survived)
{
	static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x80};

	put_hello(S, 1);
	fixture_put_frame(S, garbage, sizeof(garbage));
	put_alloc(S, 3, "p", 1);
	ck_assert_int_eq(dispatch_input(&X, S, SIZE_MAX), 0);
	allocd__reply__free_unpacked(fixture_take_reply(S), NULL);
	expect_status(fixture_take_reply(S), 0, -EBADMSG);
	expect_status(fixture_take_reply(S), 3, 0);
}
END_TEST

START_TEST(test_dispatch_unknown_request_kind)
{
	Allocd__Request r = ALLOCD__REQUEST__INIT;

	put_hello(S, 1);
	r.version = 1;
	r.id = 2;
	fixture_put_request(S, &r);
	ck_assert_int_eq(dispatch_input(&X, S, SIZE_MAX), 0);
	allocd__reply__free_unpacked(fixture_take_reply(S), NULL);
	expect_status(fixture_take_reply(S), 2, -EINVAL);
}
END_TEST

START_TEST(test_dispatch_absurd_counts)
{
	Allocd__Request r = ALLOCD__REQUEST__INIT;
	Allocd__Free f = ALLOCD__FREE__INIT;
	uint64_t *many = calloc(D.max_batch + 1, sizeof(*many));

	put_hello(S, 1);
	put_alloc(S, 2, "p", UINT64_C(1) << 40);
	/* one offset more than a request may carry, still inside a frame */
	r.version = 1;
	r.id = 3;
	r.body_case = ALLOCD__REQUEST__BODY_FREE;
	r.free = &f;
	f.name = "p";
	f.n_offsets = D.max_batch + 1;
	f.offsets = many;
	fixture_put_request(S, &r);
	ck_assert_int_eq(dispatch_input(&X, S, SIZE_MAX), 0);
	allocd__reply__free_unpacked(fixture_take_reply(S), NULL);
	expect_status(fixture_take_reply(S), 2, -E2BIG);
	expect_status(fixture_take_reply(S), 3, -E2BIG);
	free(many);
	ck_assert_uint_eq(sys_mem_blocks_free_count(&fixture_object(&D, "p")->u.pool.mb), 100);
}
END_TEST

START_TEST(test_dispatch_stops_at_max_output)
{
	Allocd__Request r = ALLOCD__REQUEST__INIT;
	Allocd__Status st = ALLOCD__STATUS__INIT;
	int answered = 0;
	Allocd__Reply *rep;

	put_hello(S, 1);
	r.version = 1;
	r.body_case = ALLOCD__REQUEST__BODY_STATUS;
	r.status = &st;
	for (int i = 0; i < 40000; i++) {
		r.id = 100 + (uint64_t) i;
		fixture_put_request(S, &r);
	}
	ck_assert_int_eq(dispatch_input(&X, S, SIZE_MAX), 0);
	/* stopped with requests left unread, not far past max_output */
	ck_assert_uint_gt(bytebuf_len(&S->in), 0);
	ck_assert_uint_ge(bytebuf_len(&S->out), D.cfg.max_output);
	ck_assert_uint_lt(bytebuf_len(&S->out), D.cfg.max_output + D.cfg.max_frame);
	/* a client that catches up gets every reply, in order */
	for (;;) {
		while ((rep = fixture_take_reply(S)) != NULL) {
			if (rep->id != 1)
				ck_assert_uint_eq(rep->id, 100 + (uint64_t) answered++);
			allocd__reply__free_unpacked(rep, NULL);
		}
		if (bytebuf_len(&S->in) == 0)
			break;
		ck_assert_int_eq(dispatch_input(&X, S, SIZE_MAX), 0);
	}
	ck_assert_int_eq(answered, 40000);
}
END_TEST

Suite *dispatch_suite(void)
{
	Suite *s = suite_create("dispatch");
	TCase *tc = tcase_create("dispatch");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_dispatch_pipelined_replies_in_order);
	tcase_add_test(tc, test_dispatch_first_request_must_be_hello);
	tcase_add_test(tc, test_dispatch_second_hello_refused);
	tcase_add_test(tc, test_dispatch_wrong_version_closes);
	tcase_add_test(tc, test_dispatch_oversized_frame_closes);
	tcase_add_test(tc, test_dispatch_malformed_frame_answered_and_survived);
	tcase_add_test(tc, test_dispatch_unknown_request_kind);
	tcase_add_test(tc, test_dispatch_absurd_counts);
	tcase_add_test(tc, test_dispatch_stops_at_max_output);
	suite_add_tcase(s, tc);
	return s;
}
