/*
 * connect: finding the daemon (explicit path, $ALLOCATORD_SOCKET,
 * $XDG_RUNTIME_DIR, the system default), what fails and how, the mapped
 * regions, and a region the peer may not use.
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/client/check_client.h"

#define ROOT_SOCKET "/run/allocatord/allocatord.sock"

/* A config that admits two clients. */
static const char two_clients_config[] = "max_clients = 2;\n"
					 "regions = ( { name = \"r\"; pools = ( { name = \"p\"; "
					 "block_size = 64; blocks = 4; } ); } );\n";

static uint32_t status_clients(mc_client_t *c)
{
	struct mc_status st;

	ck_assert_int_eq(mc_status(c, &st, NULL, 0, NULL), 0);
	return st.clients;
}

/* Wait up to 2 s for the daemon to count want clients. */
static uint32_t wait_clients(mc_client_t *c, uint32_t want)
{
	struct timespec tick = {.tv_sec = 0, .tv_nsec = 5 * 1000 * 1000};
	uint32_t n = status_clients(c);

	for (int i = 0; i < 400 && n != want; i++) {
		nanosleep(&tick, NULL);
		n = status_clients(c);
	}
	return n;
}

START_TEST(test_mc_connect_and_close)
{
	struct test_daemon td;
	mc_client_t *a, *b;

	client_start(&td, NULL);
	a = client_connect(&td);
	b = client_connect(&td);
	ck_assert_str_eq(mc_socket_path(a), td.socket);
	/* A frame of max_frame (64 KiB here) carries max_batch offsets. */
	ck_assert_uint_gt(mc_max_batch(a), 1000);
	ck_assert_uint_le(mc_max_batch(a), 65536 / 10);
	ck_assert_uint_eq(wait_clients(b, 2), 2);
	mc_close(a);
	ck_assert_uint_eq(wait_clients(b, 1), 1);
	mc_close(b);
	mc_close(NULL);
	client_stop(&td);
}
END_TEST

START_TEST(test_mc_connect_missing_socket)
{
	char dir[] = "/tmp/mc-test.XXXXXX";
	char path[64];
	mc_client_t *c = (mc_client_t *) &c;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/none.sock", dir);
	ck_assert_int_eq(mc_connect(path, &c), -ENOENT);
	ck_assert_ptr_null(c);
	rmdir(dir);
}
END_TEST

START_TEST(test_mc_connect_refused)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char dir[] = "/tmp/mc-test.XXXXXX";
	mc_client_t *c = NULL;
	int fd;

	/* A socket file nobody listens on: what a dead daemon leaves. */
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/dead.sock", dir);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *) &sun, sizeof(sun)), 0);
	close(fd);
	ck_assert_int_eq(mc_connect(sun.sun_path, &c), -ECONNREFUSED);
	ck_assert_ptr_null(c);
	unlink(sun.sun_path);
	rmdir(dir);
}
END_TEST

START_TEST(test_mc_connect_path_too_long)
{
	char path[200];
	mc_client_t *c = NULL;

	/* 108 bytes do not fit sun_path with its NUL; 107 do (and name
	 * nothing). */
	memset(path, 'x', sizeof(path));
	memcpy(path, "/tmp/", 5);
	path[108] = '\0';
	ck_assert_int_eq(mc_connect(path, &c), -ENAMETOOLONG);
	path[107] = '\0';
	ck_assert_int_eq(mc_connect(path, &c), -ENOENT);
	ck_assert_ptr_null(c);
}
END_TEST

START_TEST(test_mc_default_socket_env)
{
	struct test_daemon td;
	char buf[128];
	mc_client_t *c = NULL;

	client_start(&td, NULL);
	ck_assert_int_eq(setenv("ALLOCATORD_SOCKET", td.socket, 1), 0);
	ck_assert_int_eq(mc_default_socket(buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, td.socket);
	ck_assert_int_eq(mc_connect(NULL, &c), 0);
	ck_assert_str_eq(mc_socket_path(c), td.socket);
	mc_close(c);
	unsetenv("ALLOCATORD_SOCKET");
	client_stop(&td);
}
END_TEST

START_TEST(test_mc_default_socket_xdg)
{
	char dir[] = "/tmp/mc-test.XXXXXX";
	char want[128], buf[128];
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(want, sizeof(want), "%s/allocatord.sock", dir);
	/* An empty $ALLOCATORD_SOCKET counts as unset. */
	ck_assert_int_eq(setenv("ALLOCATORD_SOCKET", "", 1), 0);
	ck_assert_int_eq(setenv("XDG_RUNTIME_DIR", dir, 1), 0);

	/* No user daemon there: the system one. */
	ck_assert_int_eq(mc_default_socket(buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, ROOT_SOCKET);

	f = fopen(want, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(mc_default_socket(buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, want);

	unsetenv("XDG_RUNTIME_DIR");
	ck_assert_int_eq(mc_default_socket(buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, ROOT_SOCKET);

	unsetenv("ALLOCATORD_SOCKET");
	unlink(want);
	rmdir(dir);
}
END_TEST

START_TEST(test_mc_default_socket_too_long)
{
	char small[8], big[300];
	mc_client_t *c = NULL;

	ck_assert_int_eq(setenv("ALLOCATORD_SOCKET", "/tmp/x.sock", 1), 0);
	ck_assert_int_eq(mc_default_socket(small, sizeof(small)), -ENAMETOOLONG);
	/* 11 bytes and the NUL. */
	ck_assert_int_eq(mc_default_socket(big, 11), -ENAMETOOLONG);
	ck_assert_int_eq(mc_default_socket(big, 12), 0);
	ck_assert_str_eq(big, "/tmp/x.sock");

	memset(big, 'y', sizeof(big));
	memcpy(big, "/tmp/", 5);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(setenv("ALLOCATORD_SOCKET", big, 1), 0);
	ck_assert_int_eq(mc_connect(NULL, &c), -ENAMETOOLONG);
	ck_assert_ptr_null(c);
	unsetenv("ALLOCATORD_SOCKET");
}
END_TEST

START_TEST(test_mc_connect_too_many_clients)
{
	char reason[128];
	struct mc_connect_options o = {.size = sizeof(o), .reason = reason};
	struct test_daemon td;
	mc_client_t *a, *b, *c = NULL;

	client_start(&td, two_clients_config);
	a = client_connect(&td);
	/* test_daemon_start's probe connection may still count: wait it out. */
	ck_assert_uint_eq(wait_clients(a, 1), 1);
	b = client_connect(&td);
	ck_assert_int_eq(mc_connect(td.socket, &c), -EUSERS);
	ck_assert_ptr_null(c);
	/* The daemon's reason reaches the caller, cut to fit. */
	o.reason_len = 12;
	ck_assert_int_eq(mc_connect_with(td.socket, &o, &c), -EUSERS);
	ck_assert_str_eq(reason, "too many cl");
	o.reason_len = sizeof(reason);
	ck_assert_int_eq(mc_connect_with(td.socket, &o, &c), -EUSERS);
	ck_assert_str_eq(reason, "too many clients (max_clients 2)");
	mc_close(b);
	ck_assert_uint_eq(wait_clients(a, 1), 1);
	ck_assert_int_eq(mc_connect(td.socket, &c), 0);
	mc_close(c);
	mc_close(a);
	client_stop(&td);
}
END_TEST

START_TEST(test_mc_connect_maps_every_region)
{
	struct test_daemon td;
	mc_client_t *a, *b;
	uint8_t *pa, *pb, *other;

	client_start(&td, NULL);
	a = client_connect(&td);
	b = client_connect(&td);
	/* Two mappings of one memfd: what one client writes, the other reads. */
	pa = mc_ptr(a, "small", 100);
	pb = mc_ptr(b, "small", 100);
	ck_assert_ptr_nonnull(pa);
	ck_assert_ptr_nonnull(pb);
	ck_assert_ptr_ne(pa, pb);
	memcpy(pa, "shared", 7);
	ck_assert_str_eq((char *) pb, "shared");
	/* Objects of one region share its base; another region has its own. */
	ck_assert_ptr_eq(mc_ptr(a, "g_size", 100), pa);
	ck_assert_ptr_eq(mc_ptr(a, "heap", 100), pa);
	other = mc_ptr(a, "other", 100);
	ck_assert_ptr_nonnull(other);
	ck_assert_ptr_ne(other, pa);
	other[0] = 0x5a;
	ck_assert_uint_eq(pa[0], 's');
	ck_assert_uint_eq(((uint8_t *) mc_ptr(b, "other", 100))[0], 0x5a);
	mc_close(a);
	mc_close(b);
	client_stop(&td);
}
END_TEST

/* A daemon whose regions have no pools still sends each region's (empty)
 * shared bits with the hello. */
START_TEST(test_mc_connect_heaps_only)
{
	static const char heaps_only[] =
	    "log_level = \"warn\";\n"
	    "socket = { mode = \"0666\"; };\n"
	    "regions = ( { name = \"r\"; heaps = ( { name = \"h\"; size = \"64K\"; } ); } );\n";
	struct test_daemon td;
	mc_client_t *c;

	client_start(&td, heaps_only);
	c = client_connect(&td);
	ck_assert_ptr_nonnull(mc_ptr(c, "h", 0));
	mc_close(c);
	client_stop(&td);
}
END_TEST

/* What a client outside region "private" sees: 0, or the failed check. */
static int forbidden_checks(const struct test_daemon *td)
{
	struct mc_info info[32];
	struct mc_stats st;
	mc_client_t *c;
	uint64_t off;
	size_t n = 0;

	if (mc_connect(td->socket, &c) != 0)
		return 1;
	if (mc_list(c, info, 32, &n) != 0 || n > 32)
		return 2;
	for (size_t i = 0; i < n; i++)
		if (strcmp(info[i].name, "secret") == 0)
			return 3;
	if (mc_alloc(c, "secret", 1, &off) != -EACCES)
		return 4;
	if (mc_stats(c, "secret", &st, 1, &n) != -EACCES)
		return 5;
	if (mc_ptr(c, "secret", 0) != NULL || mc_ptr(c, "small", 0) == NULL)
		return 6;
	if (mc_status(c, &(struct mc_status){0}, NULL, 0, &n) != 0 || n != 2)
		return 7;
	mc_close(c);
	return 0;
}

START_TEST(test_mc_connect_forbidden_region_hidden)
{
	struct test_daemon td;
	struct mc_status st;
	mc_client_t *c;
	size_t n = 0;
	pid_t pid;

	client_start(&td, NULL);
	if (geteuid() != 0) {
		ck_assert_int_eq(forbidden_checks(&td), 0);
		client_stop(&td);
		return;
	}
	/* Root may use every region; the checks run as nobody. */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
			_exit(100);
		_exit(forbidden_checks(&td));
	}
	ck_assert_int_eq(client_wait_child(pid), 0);
	c = client_connect(&td);
	ck_assert_ptr_nonnull(mc_ptr(c, "secret", 0));
	ck_assert_int_eq(mc_status(c, &st, NULL, 0, &n), 0);
	ck_assert_uint_eq(n, 3);
	mc_close(c);
	client_stop(&td);
}
END_TEST

/* In a child with a low open-file limit (its own, never the test's): fill
 * its descriptor table but for free slots, connect, and exit with what
 * mc_connect returned, negated. */
static int connect_with_free_fds(const struct test_daemon *td, int free_fds)
{
	int status;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct rlimit rl = {.rlim_cur = 64, .rlim_max = 64};
		mc_client_t *c = NULL;
		int fds[64], n = 0, rc;

		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			_exit(100);
		while (n < 64 && (fds[n] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
			n++;
		if (n < free_fds || errno != EMFILE)
			_exit(101);
		while (free_fds-- > 0)
			close(fds[--n]);
		rc = mc_connect(td->socket, &c);
		_exit(rc <= 0 && rc > -100 ? -rc : 102);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "child status %d", status);
	return -WEXITSTATUS(status);
}

/* No descriptor for the socket, or none for the region memfds that come
 * with the hello reply: EMFILE either way, not a protocol error. */
START_TEST(test_mc_connect_out_of_descriptors)
{
	struct test_daemon td;

	client_start(&td, NULL);
	ck_assert_int_eq(connect_with_free_fds(&td, 0), -EMFILE);
	ck_assert_int_eq(connect_with_free_fds(&td, 1), -EMFILE);
	ck_assert_int_eq(connect_with_free_fds(&td, 2), -EMFILE);
	client_stop(&td);
}
END_TEST

Suite *connect_suite(void)
{
	Suite *s = suite_create("connect");
	TCase *tc = client_tcase("connect");

	tcase_add_test(tc, test_mc_connect_and_close);
	tcase_add_test(tc, test_mc_connect_out_of_descriptors);
	tcase_add_test(tc, test_mc_connect_missing_socket);
	tcase_add_test(tc, test_mc_connect_refused);
	tcase_add_test(tc, test_mc_connect_path_too_long);
	tcase_add_test(tc, test_mc_default_socket_env);
	tcase_add_test(tc, test_mc_default_socket_xdg);
	tcase_add_test(tc, test_mc_default_socket_too_long);
	tcase_add_test(tc, test_mc_connect_too_many_clients);
	tcase_add_test(tc, test_mc_connect_maps_every_region);
	tcase_add_test(tc, test_mc_connect_heaps_only);
	tcase_add_test(tc, test_mc_connect_forbidden_region_hidden);
	suite_add_tcase(s, tc);
	return s;
}
