/*
 * The server against a real daemon over raw sockets: hello timeout, frames
 * it must refuse, the client limit, a client that never reads its replies,
 * sealed memfds, readiness. In every case the other clients are unaffected.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/common/daemon_proc.h"
#include "tests/daemon/check_daemon.h"
#include "tests/daemon/raw_client.h"

static struct test_daemon td;

static void start(const char *extra_settings)
{
	ck_assert_int_eq(test_daemon_start_small(&td, extra_settings), 0);
}

static void stop(void)
{
	ck_assert_int_eq(test_daemon_stop(&td), 0);
}

static int log_has(const char *what)
{
	char log[16384];

	test_daemon_log(&td, log, sizeof(log));
	return strstr(log, what) != NULL;
}

/* A well-behaved client still gets service. */
static void assert_serving(void)
{
	int fd = raw_connect(td.socket);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(raw_hello(fd, NULL, NULL), 0);
	ck_assert_int_eq(raw_alloc(fd, 2, "p", 1, NULL), 0);
	close(fd);
}

START_TEST(test_server_hello_timeout_disconnects)
{
	int fd;

	start("hello_timeout_ms = 200;");
	fd = raw_connect(td.socket);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(raw_closed(fd, 5000), 1);
	ck_assert(log_has("no hello within 200 ms"));
	close(fd);
	assert_serving();
	stop();
}
END_TEST

/* Waits (up to 10 s) for the log to hold what: 1 if it came, 0 if not. */
static int log_waits_for(const char *what)
{
	for (int i = 0; i < 1000; i++) {
		if (log_has(what))
			return 1;
		usleep(10000);
	}
	return 0;
}

/* A client that sends its hello and goes before the reply: the daemon
 * cannot send the memfds, which is the client's business, not a warning. */
START_TEST(test_server_client_gone_during_hello_is_not_a_warning)
{
	Allocd__Request r = ALLOCD__REQUEST__INIT;
	Allocd__Hello h = ALLOCD__HELLO__INIT;
	int fd;

	start("log_level = \"debug\";");
	fd = raw_connect(td.socket);
	ck_assert_int_ge(fd, 0);
	r.version = 1;
	r.id = 1;
	r.body_case = ALLOCD__REQUEST__BODY_HELLO;
	r.hello = &h;
	ck_assert_int_eq(raw_send(fd, &r), 0);
	close(fd);
	ck_assert(log_waits_for("client 1 (pid"));
	ck_assert(log_waits_for(") gone"));
	ck_assert_msg(!log_has("warn:"), "a client gone during its hello made a warning");
	assert_serving();
	stop();
}
END_TEST

START_TEST(test_server_oversized_frame_refused_and_closed)
{
	static const uint8_t huge[4] = {0x00, 0x00, 0x10, 0x00}; /* 1 MiB */
	Allocd__Reply *r;
	int fd;

	start("");
	fd = raw_connect(td.socket);
	ck_assert_int_eq(raw_hello(fd, NULL, NULL), 0);
	ck_assert_int_eq(raw_write(fd, huge, sizeof(huge)), 0);
	r = raw_recv(fd, 5000, NULL, NULL);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->status, -EMSGSIZE);
	ck_assert_msg(strstr(r->error, "over max_frame 65536") != NULL, "%s", r->error);
	allocd__reply__free_unpacked(r, NULL);
	ck_assert_int_eq(raw_closed(fd, 5000), 1);
	close(fd);
	ck_assert(log_has("frame of 1048576 bytes over max_frame"));
	assert_serving();
	stop();
}
END_TEST

START_TEST(test_server_garbage_then_close)
{
	uint8_t junk[4096];
	int fd;

	start("");
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t) (i * 131 + 7);
	fd = raw_connect(td.socket);
	raw_write(fd, junk, sizeof(junk));
	close(fd);
	/* a truncated frame, then close */
	fd = raw_connect(td.socket);
	ck_assert_int_eq(raw_hello(fd, NULL, NULL), 0);
	raw_write(fd, "\x40\x00\x00\x00\x08\x01", 6);
	close(fd);
	assert_serving();
	stop();
}
END_TEST

START_TEST(test_server_protocol_violations_close)
{
	Allocd__Request r = ALLOCD__REQUEST__INIT;
	Allocd__Reply *rep;
	int fd;

	start("");
	/* a request before hello */
	fd = raw_connect(td.socket);
	ck_assert_int_eq(raw_alloc(fd, 9, "p", 1, NULL), -EPROTO);
	ck_assert_int_eq(raw_closed(fd, 5000), 1);
	close(fd);
	/* another protocol version */
	fd = raw_connect(td.socket);
	r.version = 7;
	r.id = 3;
	ck_assert_int_eq(raw_send(fd, &r), 0);
	rep = raw_recv(fd, 5000, NULL, NULL);
	ck_assert_ptr_nonnull(rep);
	ck_assert_int_eq(rep->status, -EPROTONOSUPPORT);
	ck_assert_uint_eq(rep->version, 1);
	allocd__reply__free_unpacked(rep, NULL);
	ck_assert_int_eq(raw_closed(fd, 5000), 1);
	close(fd);
	assert_serving();
	stop();
}
END_TEST

START_TEST(test_server_client_limit_refuses_with_reason)
{
	Allocd__Reply *r;
	int a, b, c;

	start("max_clients = 2;");
	/* test_daemon_start's probe connection holds a slot until the daemon
	 * sees it close */
	usleep(200000);
	a = raw_connect(td.socket);
	b = raw_connect(td.socket);
	ck_assert_int_eq(raw_hello(a, NULL, NULL), 0);
	ck_assert_int_eq(raw_hello(b, NULL, NULL), 0);
	c = raw_connect(td.socket);
	ck_assert_int_ge(c, 0);
	r = raw_recv(c, 5000, NULL, NULL);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->status, -EUSERS);
	ck_assert_str_eq(r->error, "too many clients (max_clients 2)");
	allocd__reply__free_unpacked(r, NULL);
	ck_assert_int_eq(raw_closed(c, 5000), 1);
	close(c);
	/* a slot frees when a client goes */
	close(a);
	usleep(100000);
	assert_serving();
	close(b);
	stop();
}
END_TEST

START_TEST(test_server_client_that_never_reads_is_paused)
{
	Allocd__Request r = ALLOCD__REQUEST__INIT;
	Allocd__List l = ALLOCD__LIST__INIT;
	uint8_t burst[64 * 16];
	size_t one, sent = 0;
	int fd;

	start("max_frame = \"4K\"; max_output = \"16K\";");
	fd = raw_connect(td.socket);
	ck_assert_int_eq(raw_hello(fd, NULL, NULL), 0);
	r.version = 1;
	r.body_case = ALLOCD__REQUEST__BODY_LIST;
	r.list = &l;
	l.name = "";
	one = allocd__request__get_packed_size(&r) + 4;
	ck_assert_uint_le(one, 64);
	for (size_t i = 0; i < 16; i++) {
		burst[i * one] = (uint8_t) (one - 4);
		burst[i * one + 1] = burst[i * one + 2] = burst[i * one + 3] = 0;
		allocd__request__pack(&r, burst + i * one + 4);
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	/* Requests, never reading a reply, until the daemon stops taking them
	 * (nothing can be written for half a second); at most 64 MiB. */
	while (sent < (64u << 20)) {
		ssize_t n = send(fd, burst, 16 * one, MSG_NOSIGNAL);

		if (n > 0) {
			sent += (size_t) n;
			continue;
		}
		ck_assert_int_eq(errno, EAGAIN);
		if (poll(&(struct pollfd){.fd = fd, .events = POLLOUT}, 1, 500) == 0)
			break;
	}
	ck_assert_uint_lt(sent, 64u << 20);
	ck_assert(log_has("not reading its replies: stopped reading from it"));
	assert_serving();
	close(fd);
	stop();
}
END_TEST

START_TEST(test_server_memfd_is_sealed)
{
	int fds[4], seals, fd;
	size_t nfds = 4;

	start("");
	fd = raw_connect(td.socket);
	ck_assert_int_eq(raw_hello(fd, fds, &nfds), 0);
	ck_assert_uint_eq(nfds, 1);
	seals = fcntl(fds[0], F_GET_SEALS);
	ck_assert_int_eq(seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
			 F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	ck_assert_int_eq(ftruncate(fds[0], 0), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(ftruncate(fds[0], 1 << 30), -1);
	ck_assert_int_eq(fcntl(fds[0], F_ADD_SEALS, F_SEAL_WRITE), -1);
	close(fds[0]);
	close(fd);
	stop();
}
END_TEST

START_TEST(test_server_notifies_readiness)
{
#ifdef HAVE_LIBSYSTEMD
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char buf[256];
	ssize_t n;
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "/tmp/allocatord-notify-%d", (int) getpid());
	unlink(sun.sun_path);
	ck_assert_int_eq(bind(s, (struct sockaddr *) &sun, sizeof(sun)), 0);
	setenv("NOTIFY_SOCKET", sun.sun_path, 1);
	start("");
	unsetenv("NOTIFY_SOCKET");
	/* The socket accepts a moment before READY=1 is sent: wait for it. */
	ck_assert_int_eq(poll(&(struct pollfd){.fd = s, .events = POLLIN}, 1, 5000), 1);
	n = recv(s, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_msg(strstr(buf, "READY=1") != NULL, "%s", buf);
	stop();
	n = recv(s, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_msg(strstr(buf, "STOPPING=1") != NULL, "%s", buf);
	close(s);
	unlink(sun.sun_path);
#else
	fprintf(stderr, "skipped: built without libsystemd\n");
#endif
}
END_TEST

START_TEST(test_server_thousand_clients_with_stallers)
{
	enum { N = 1000 };
	struct rlimit rl;
	int *fd = malloc(N * sizeof(*fd));

	/* One descriptor per client in this process too. */
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_max < N + 64) {
		fprintf(stderr, "skipped: open-file hard limit %llu < %d\n",
			(unsigned long long) rl.rlim_max, N + 64);
		free(fd);
		return;
	}
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	start("max_clients = 1100;");
	for (int i = 0; i < N; i++) {
		fd[i] = raw_connect(td.socket);
		ck_assert_msg(fd[i] >= 0, "connection %d refused", i);
	}
	/* Half say hello and are served; the other half stall in the middle of
	 * a frame and must not slow anyone down. */
	for (int i = 0; i < N; i++) {
		if (i % 2) {
			ck_assert_int_eq(raw_write(fd[i], "\x40\x00\x00\x00\x08", 5), 0);
			continue;
		}
		ck_assert_int_eq(raw_hello(fd[i], NULL, NULL), 0);
	}
	for (int i = 0; i < N; i += 2)
		ck_assert_int_eq(raw_alloc(fd[i], 5, "p", 0, NULL), 0);
	assert_serving();
	for (int i = 0; i < N; i++)
		close(fd[i]);
	free(fd);
	assert_serving();
	stop();
}
END_TEST

START_TEST(test_server_socket_group_from_config)
{
	struct stat st;

	start("socket = { mode = \"0660\"; group = \"65534\"; };");
	ck_assert_int_eq(stat(td.socket, &st), 0);
	ck_assert_uint_eq(st.st_gid, 65534);
	ck_assert_int_eq(st.st_mode & 0777, 0660);
	stop();
}
END_TEST

Suite *server_suite(void)
{
	Suite *s = suite_create("server");
	TCase *tc = tcase_create("server");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_server_hello_timeout_disconnects);
	tcase_add_test(tc, test_server_client_gone_during_hello_is_not_a_warning);
	tcase_add_test(tc, test_server_oversized_frame_refused_and_closed);
	tcase_add_test(tc, test_server_garbage_then_close);
	tcase_add_test(tc, test_server_protocol_violations_close);
	tcase_add_test(tc, test_server_client_limit_refuses_with_reason);
	tcase_add_test(tc, test_server_client_that_never_reads_is_paused);
	tcase_add_test(tc, test_server_memfd_is_sealed);
	tcase_add_test(tc, test_server_notifies_readiness);
	tcase_add_test(tc, test_server_thousand_clients_with_stallers);
	if (geteuid() == 0) /* only root may give a file to another group */
		tcase_add_test(tc, test_server_socket_group_from_config);
	suite_add_tcase(s, tc);
	return s;
}
