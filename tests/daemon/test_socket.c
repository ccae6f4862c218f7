/*
 * Who gets the socket and who gets in: two daemons on one path, the socket
 * file's mode and group against a hostile directory, socket activation, and
 * peers with many supplementary groups. Real processes from the build tree.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/common/daemon_proc.h"
#include "tests/daemon/check_daemon.h"
#include "tests/daemon/raw_client.h"

/* Run fn in a child as uid/gid 65534 with the supplementary groups given;
 * returns fn's value (its exit status), or -1 if the child failed. */
static int as_nobody(const gid_t *groups, size_t n, int (*fn)(const void *), const void *arg)
{
	pid_t pid = fork();
	int status;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (setgroups(n, groups) < 0 || setresgid(65534, 65534, 65534) < 0 ||
		    setresuid(65534, 65534, 65534) < 0)
			_exit(99);
		_exit(fn(arg));
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Hello, then one block of pool "gp": 0 if served, 1 if refused. */
static int alloc_from_gp(const void *socket)
{
	int fd = raw_connect(socket);

	if (fd < 0 || raw_hello(fd, NULL, NULL) != 0)
		return 2;
	return raw_alloc(fd, 2, "gp", 1, NULL) == 0 ? 0 : 1;
}

/* The kernel lists up to 65536 supplementary groups; access by the 40th
 * must not be lost to a fixed buffer of 32. */
START_TEST(test_socket_peer_with_40_groups_keeps_access)
{
	static const char cfg[] =
	    "socket = { mode = \"0666\"; };\n"
	    "regions = ({ name = \"g\"; allow_gids = [ 5040 ];\n"
	    "             pools = ({ name = \"gp\"; block_size = 64; blocks = 8; }); });\n";
	struct test_daemon td;
	gid_t groups[40];

	for (size_t i = 0; i < 40; i++)
		groups[i] = (gid_t) (5001 + i);
	ck_assert_int_eq(test_daemon_start(&td, cfg, NULL), 0);
	ck_assert_int_eq(as_nobody(groups, 40, alloc_from_gp, td.socket), 0);
	/* and the group is what lets it in */
	ck_assert_int_eq(as_nobody(groups, 39, alloc_from_gp, td.socket), 1);
	ck_assert_int_eq(test_daemon_stop(&td), 0);
}
END_TEST

Suite *socket_suite(void)
{
	Suite *s = suite_create("socket");
	TCase *tc = tcase_create("socket");

	tcase_set_timeout(tc, 120);
	if (geteuid() == 0) /* other uids and groups need root */
		tcase_add_test(tc, test_socket_peer_with_40_groups_keeps_access);
	suite_add_tcase(s, tc);
	return s;
}
