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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "proto/allocd.pb-c.h"
#include "tests/client/check_client.h"

struct fake {
	char dir[64];
	char path[108];
	pid_t pid;
};

/* Runs in the fake's process on the accepted connection; 0 if the script
 * went as planned, else a code that says where it did not. */
typedef int (*fake_script)(int conn);

static void fake_start(struct fake *f, fake_script script)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int lfd;

	snprintf(f->dir, sizeof(f->dir), "/tmp/mc-fake.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/sock", f->dir);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", f->path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *) &sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(lfd, 4), 0);
	f->pid = fork();
	ck_assert_int_ge(f->pid, 0);
	if (f->pid == 0) {
		int conn = accept(lfd, NULL, NULL);
		int rc = conn < 0 ? 99 : script(conn);

		if (rc == 0)
			for (;;)
				pause();
		_exit(rc);
	}
	close(lfd);
}

/* The script must have finished and be waiting (killed here), not have
 * exited with a complaint. */
static void fake_stop(struct fake *f)
{
	kill(f->pid, SIGKILL);
	ck_assert_int_eq(client_wait_child(f->pid), 128 + SIGKILL);
	unlink(f->path);
	rmdir(f->dir);
}

static Allocd__Request *fake_recv(int conn)
{
	uint8_t head[4], buf[4096];
	uint32_t len;

	if (!client_read_full(conn, head, 4))
		return NULL;
	len = (uint32_t) head[0] | (uint32_t) head[1] << 8 | (uint32_t) head[2] << 16 |
	      (uint32_t) head[3] << 24;
	if (len > sizeof(buf) || !client_read_full(conn, buf, len))
		return NULL;
	return allocd__request__unpack(NULL, len, buf);
}

/* One reply frame, with fds (if any) on its first byte. */
static int fake_send(int conn, const Allocd__Reply *r, const int *fds, size_t nfds)
{
	uint8_t buf[4096];
	size_t len = allocd__reply__get_packed_size(r);
	union {
		char buf[CMSG_SPACE(8 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = buf, .iov_len = 1};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *cm;

	if (len + 4 > sizeof(buf) || nfds > 8)
		return -1;
	buf[0] = (uint8_t) len;
	buf[1] = (uint8_t) (len >> 8);
	buf[2] = (uint8_t) (len >> 16);
	buf[3] = (uint8_t) (len >> 24);
	allocd__reply__pack(r, buf + 4);
	if (nfds > 0) {
		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
		if (sendmsg(conn, &msg, 0) != 1)
			return -1;
		return client_write_full(conn, buf + 1, len + 3) ? 0 : -1;
	}
	return client_write_full(conn, buf, len + 4) ? 0 : -1;
}

static int fake_memfd(void)
{
	int fd = memfd_create("fake-region", MFD_CLOEXEC);

	if (fd >= 0 && ftruncate(fd, 4096) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

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

static int script_frame_too_long(int conn)
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
	struct fake f;
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

static int script_missing_fd(int conn)
{
	return fake_hello(conn, 1, 1, NULL, 0);
}

START_TEST(test_mc_hello_without_memfd_is_eproto)
{
	struct fake f;
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

static int script_extra_fd(int conn)
{
	int fds[2] = {fake_memfd(), fake_memfd()};

	if (fds[0] < 0 || fds[1] < 0)
		return 86;
	return fake_hello(conn, 1, 1, fds, 2);
}

START_TEST(test_mc_hello_extra_memfd_is_eproto_and_closed)
{
	struct fake f;
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

static int script_one_region(int conn)
{
	int fd = fake_memfd();

	if (fd < 0)
		return 86;
	return fake_hello(conn, 1, 1, &fd, 1);
}

START_TEST(test_mc_hello_memfd_closed_after_mapping)
{
	struct fake f;
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

static int script_wrong_version(int conn)
{
	return fake_hello(conn, 2, 0, NULL, 0);
}

START_TEST(test_mc_hello_wrong_version_is_eproto)
{
	struct fake f;
	mc_client_t *c = NULL;

	fake_start(&f, script_wrong_version);
	ck_assert_int_eq(mc_connect(f.path, &c), -EPROTO);
	ck_assert_ptr_null(c);
	fake_stop(&f);
}
END_TEST

static int script_wrong_id(int conn)
{
	int rc = fake_hello(conn, 1, 0, NULL, 0);

	return rc ? rc : fake_answer(conn, 5, 0, -1);
}

START_TEST(test_mc_reply_wrong_id_breaks_client)
{
	struct fake f;
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

static int script_unexpected_fd(int conn)
{
	int fd = fake_memfd();
	int rc = fd < 0 ? 86 : fake_hello(conn, 1, 0, NULL, 0);

	return rc ? rc : fake_answer(conn, 0, 0, fd);
}

START_TEST(test_mc_unexpected_fd_is_closed)
{
	struct fake f;
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

static int script_garbage(int conn)
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
	struct fake f;
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

static int script_status_then_ok(int conn)
{
	int rc = fake_hello(conn, 1, 0, NULL, 0);

	if (rc == 0)
		rc = fake_answer(conn, 0, -ENOSPC, -1);
	return rc ? rc : fake_answer(conn, 0, 0, -1);
}

START_TEST(test_mc_error_status_passes_through)
{
	struct fake f;
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
static int script_hang_up_mid_frame(int conn)
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
	struct fake f;
	mc_client_t *c;
	size_t n;

	fake_start(&f, script_hang_up_mid_frame);
	ck_assert_int_eq(mc_connect(f.path, &c), 0);
	ck_assert_int_eq(mc_list(c, NULL, 0, &n), -ECONNRESET);
	ck_assert_int_eq(mc_list(c, NULL, 0, &n), -ECONNRESET);
	mc_close(c);
	ck_assert_int_eq(client_wait_child(f.pid), 0);
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
