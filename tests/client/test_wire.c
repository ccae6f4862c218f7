/*
 * wire: what a real daemon never sends. A fake daemon (a forked process
 * with a scripted conversation) answers with frames that are too long,
 * undecodable, of the wrong version or id, with too few or too many memfds,
 * with descriptors nobody asked for, or hangs up mid-frame. The library
 * must refuse each with the right code, leak no descriptor, and never wait
 * on a stream it cannot trust: after the script the fake keeps the
 * connection open and silent, so a client that read again would hang the
 * test into its timeout.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "proto/allocd.pb-c.h"
#include "tests/client/check_client.h"
#include "tests/common/fake_daemon.h"

/* Answer the hello: version, nregions announced (4096 bytes each), fds. */
static int fake_hello(int conn, uint32_t version, size_t nregions, const int *fds, size_t nfds)
{
	Allocd__Request *req = fake_recv(conn);
	Allocd__Reply r = ALLOCD__REPLY__INIT;
	Allocd__HelloReply hr = ALLOCD__HELLO_REPLY__INIT;
	Allocd__RegionInfo ri = ALLOCD__REGION_INFO__INIT;
	Allocd__RegionInfo *regions[2] = {&ri, &ri};
	int rc;

	if (req == NULL || req->body_case != ALLOCD__REQUEST__BODY_HELLO || nregions > 2)
		return 80;
	ri.name = "fake";
	ri.size = 4096;
	hr.max_frame = 4096;
	hr.max_batch = 100;
	hr.regions = regions;
	hr.n_regions = nregions;
	r.version = version;
	r.id = req->id;
	r.body_case = ALLOCD__REPLY__BODY_HELLO;
	r.hello = &hr;
	rc = fake_send(conn, &r, fds, nfds) == 0 ? 0 : 81;
	allocd__request__free_unpacked(req, NULL);
	return rc;
}

/* Answer the next request with an empty list, id shifted by id_shift, the
 * given status, and fd attached if >= 0. */
static int fake_answer(int conn, uint64_t id_shift, int32_t status, int fd)
{
	Allocd__Request *req = fake_recv(conn);
	Allocd__Reply r = ALLOCD__REPLY__INIT;
	Allocd__ListReply lr = ALLOCD__LIST_REPLY__INIT;
	int rc;

	if (req == NULL)
		return 82;
	r.version = 1;
	r.id = req->id + id_shift;
	r.status = status;
	if (status == 0) {
		r.body_case = ALLOCD__REPLY__BODY_LIST;
		r.list = &lr;
	} else {
		r.error = "scripted failure";
	}
	rc = fake_send(conn, &r, &fd, fd >= 0 ? 1 : 0) == 0 ? 0 : 83;
	allocd__request__free_unpacked(req, NULL);
	return rc;
}

static int script_frame_too_long(struct fake_daemon *f, int conn)
{
	static const uint8_t head[4] = {0, 0, 0x10, 0}; /* 1 MiB > max_frame 4 KiB */
	int rc = fake_hello(conn, 1, 0, NULL, 0);
	Allocd__Request *req = rc == 0 ? fake_recv(conn) : NULL;

	if (req == NULL)
		return rc ? rc : 84;
	allocd__request__free_unpacked(req, NULL);
	return client_write_full(conn, head, sizeof(head)) ? 0 : 85;
}

START_TEST(test_mc_reply_over_max_frame_breaks_client)
{
	struct fake_daemon f;
	mc_client_t *c;
	uint64_t off;
	size_t n;

	fake_start(&f, script_frame_too_long);
	ck_assert_int_eq(mc_connect(f.path, &c), 0);
	ck_assert_uint_eq(mc_max_batch(c), 100);
	ck_assert_int_eq(mc_list(c, NULL, 0, &n), -EPROTO);
	/* Broken: refused at once, without reading from the silent fake. */
	ck_assert_int_eq(mc_list(c, NULL, 0, &n), -ECONNRESET);
	ck_assert_int_eq(mc_alloc(c, "p", 1, &off), -ECONNRESET);
	mc_close(c);
	fake_stop(&f);
}
END_TEST

static int script_missing_fd(struct fake_daemon *f, int conn)
{
	return fake_hello(conn, 1, 1, NULL, 0);
}

START_TEST(test_mc_hello_without_memfd_is_eproto)
{
	struct fake_daemon f;
	mc_client_t *c = NULL;
	int fds;

	fake_start(&f, script_missing_fd);
	fds = client_count_fds();
	ck_assert_int_eq(mc_connect(f.path, &c), -EPROTO);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(client_count_fds(), fds);
	fake_stop(&f);
}
END_TEST

static int script_extra_fd(struct fake_daemon *f, int conn)
{
	int fds[2] = {fake_memfd(4096), fake_memfd(4096)};

	if (fds[0] < 0 || fds[1] < 0)
		return 86;
	return fake_hello(conn, 1, 1, fds, 2);
}

START_TEST(test_mc_hello_extra_memfd_is_eproto_and_closed)
{
	struct fake_daemon f;
	mc_client_t *c = NULL;
	int fds;

	fake_start(&f, script_extra_fd);
	fds = client_count_fds();
	ck_assert_int_eq(mc_connect(f.path, &c), -EPROTO);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(client_count_fds(), fds);
	fake_stop(&f);
}
END_TEST

static int script_one_region(struct fake_daemon *f, int conn)
{
	int fd = fake_memfd(4096);

	if (fd < 0)
		return 86;
	return fake_hello(conn, 1, 1, &fd, 1);
}

START_TEST(test_mc_hello_memfd_closed_after_mapping)
{
	struct fake_daemon f;
	mc_client_t *c = NULL;
	int fds;

	fake_start(&f, script_one_region);
	fds = client_count_fds();
	ck_assert_int_eq(mc_connect(f.path, &c), 0);
	/* The socket stays; the memfd does not (its mapping keeps it). */
	ck_assert_int_eq(client_count_fds(), fds + 1);
	mc_close(c);
	ck_assert_int_eq(client_count_fds(), fds);
	fake_stop(&f);
}
END_TEST

static int script_wrong_version(struct fake_daemon *f, int conn)
{
	return fake_hello(conn, 2, 0, NULL, 0);
}

START_TEST(test_mc_hello_wrong_version_is_eproto)
{
	struct fake_daemon f;
	mc_client_t *c = NULL;

	fake_start(&f, script_wrong_version);
	ck_assert_int_eq(mc_connect(f.path, &c), -EPROTO);
	ck_assert_ptr_null(c);
	fake_stop(&f);
}
END_TEST

static int script_wrong_id(struct fake_daemon *f, int conn)
{
	int rc = fake_hello(conn, 1, 0, NULL, 0);

	return rc ? rc : fake_answer(conn, 5, 0, -1);
}

START_TEST(test_mc_reply_wrong_id_breaks_client)
{
	struct fake_daemon f;
	mc_client_t *c;
	size_t n;

	fake_start(&f, script_wrong_id);
	ck_assert_int_eq(mc_connect(f.path, &c), 0);
	ck_assert_int_eq(mc_list(c, NULL, 0, &n), -EPROTO);
	ck_assert_int_eq(mc_list(c, NULL, 0, &n), -ECONNRESET);
	mc_close(c);
	fake_stop(&f);
}
END_TEST

static int script_unexpected_fd(struct fake_daemon *f, int conn)
{
	int fd = fake_memfd(4096);
	int rc = fd < 0 ? 86 : fake_hello(conn, 1, 0, NULL, 0);

	return rc ? rc : fake_answer(conn, 0, 0, fd);
}

START_TEST(test_mc_unexpected_fd_is_closed)
{
	struct fake_daemon f;
	mc_client_t *c;
	size_t n = 99;
	int fds;

	fake_start(&f, script_unexpected_fd);
	ck_assert_int_eq(mc_connect(f.path, &c), 0);
	fds = client_count_fds();
	ck_assert_int_eq(mc_list(c, NULL, 0, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(client_count_fds(), fds);
	mc_close(c);
	fake_stop(&f);
}
END_TEST

static int script_garbage(struct fake_daemon *f, int conn)
{
	/* A 3-byte frame holding a field tag whose varint never ends. */
	static const uint8_t frame[7] = {3, 0, 0, 0, 0xff, 0xff, 0xff};
	int rc = fake_hello(conn, 1, 0, NULL, 0);
	Allocd__Request *req = rc == 0 ? fake_recv(conn) : NULL;

	if (req == NULL)
		return rc ? rc : 84;
	allocd__request__free_unpacked(req, NULL);
	return client_write_full(conn, frame, sizeof(frame)) ? 0 : 85;
}

START_TEST(test_mc_undecodable_reply_is_ebadmsg)
{
	struct fake_daemon f;
	mc_client_t *c;
	size_t n;

	fake_start(&f, script_garbage);
	ck_assert_int_eq(mc_connect(f.path, &c), 0);
	ck_assert_int_eq(mc_list(c, NULL, 0, &n), -EBADMSG);
	ck_assert_int_eq(mc_list(c, NULL, 0, &n), -ECONNRESET);
	mc_close(c);
	fake_stop(&f);
}
END_TEST

static int script_status_then_ok(struct fake_daemon *f, int conn)
{
	int rc = fake_hello(conn, 1, 0, NULL, 0);

	if (rc == 0)
		rc = fake_answer(conn, 0, -ENOSPC, -1);
	return rc ? rc : fake_answer(conn, 0, 0, -1);
}

START_TEST(test_mc_error_status_passes_through)
{
	struct fake_daemon f;
	mc_client_t *c;
	size_t n = 99;

	fake_start(&f, script_status_then_ok);
	ck_assert_int_eq(mc_connect(f.path, &c), 0);
	ck_assert_int_eq(mc_list(c, NULL, 0, &n), -ENOSPC);
	/* A refusal is an answer: the connection goes on. */
	ck_assert_int_eq(mc_list(c, NULL, 0, &n), 0);
	ck_assert_uint_eq(n, 0);
	mc_close(c);
	fake_stop(&f);
}
END_TEST

/* Half a frame, then the fake hangs up (exits). */
static int script_hang_up_mid_frame(struct fake_daemon *f, int conn)
{
	static const uint8_t part[8] = {100, 0, 0, 0, 0x08, 0x01, 0x10, 0x02};
	int rc = fake_hello(conn, 1, 0, NULL, 0);
	Allocd__Request *req = rc == 0 ? fake_recv(conn) : NULL;

	if (req == NULL)
		return rc ? rc : 84;
	allocd__request__free_unpacked(req, NULL);
	if (!client_write_full(conn, part, sizeof(part)))
		return 85;
	_exit(0);
}

START_TEST(test_mc_hang_up_mid_reply_is_econnreset)
{
	struct fake_daemon f;
	mc_client_t *c;
	size_t n;

	fake_start(&f, script_hang_up_mid_frame);
	ck_assert_int_eq(mc_connect(f.path, &c), 0);
	ck_assert_int_eq(mc_list(c, NULL, 0, &n), -ECONNRESET);
	ck_assert_int_eq(mc_list(c, NULL, 0, &n), -ECONNRESET);
	mc_close(c);
	ck_assert_int_eq(client_wait_child(f.pid), 0);
	close(f.to_test);
	close(f.to_fake);
	unlink(f.path);
	rmdir(f.dir);
}
END_TEST

Suite *wire_suite(void)
{
	Suite *s = suite_create("wire");
	TCase *tc = client_tcase("wire");

	tcase_add_test(tc, test_mc_reply_over_max_frame_breaks_client);
	tcase_add_test(tc, test_mc_hello_without_memfd_is_eproto);
	tcase_add_test(tc, test_mc_hello_extra_memfd_is_eproto_and_closed);
	tcase_add_test(tc, test_mc_hello_memfd_closed_after_mapping);
	tcase_add_test(tc, test_mc_hello_wrong_version_is_eproto);
	tcase_add_test(tc, test_mc_reply_wrong_id_breaks_client);
	tcase_add_test(tc, test_mc_unexpected_fd_is_closed);
	tcase_add_test(tc, test_mc_undecodable_reply_is_ebadmsg);
	tcase_add_test(tc, test_mc_error_status_passes_through);
	tcase_add_test(tc, test_mc_hang_up_mid_reply_is_econnreset);
	suite_add_tcase(s, tc);
	return s;
}
