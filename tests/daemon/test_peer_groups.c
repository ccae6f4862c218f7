/*
 * allow_gids against a real daemon and real client processes: the daemon
 * must take the peer's primary gid from SO_PEERCRED and its supplementary
 * groups from SO_PEERGROUPS. Each client is a forked child that becomes
 * uid 65534 with the groups under test, so this needs root; as another
 * user it skips (the unit tests in test_ops_limits.c still run).
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/common/daemon_proc.h"
#include "tests/daemon/check_daemon.h"
#include "tests/daemon/raw_client.h"

#define NOBODY  65534
#define STAFF   4242
#define NOSTAFF 4343

/* In a child as uid NOBODY, primary gid gid and supplementary groups
 * groups[0..n): the status of allocating one block of pool p, 100 if the
 * child could not become that user, 101 if it could not talk to the daemon. */
static int alloc_as(const struct test_daemon *td, gid_t gid, const gid_t *groups, size_t n)
{
	int status, fd;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (setgroups(n, groups) != 0 || setresgid(gid, gid, gid) != 0 ||
		    setresuid(NOBODY, NOBODY, NOBODY) != 0)
			_exit(100);
		fd = raw_connect(td->socket);
		if (fd < 0 || raw_hello(fd, NULL, NULL) != 0)
			_exit(101);
		status = raw_alloc(fd, 1, "p", 1, NULL);
		_exit(status == 0 ? 0 : status < 0 ? -status : 102);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

START_TEST(test_peer_groups_decide_access)
{
	static const gid_t staff[] = {NOSTAFF, STAFF}, others[] = {NOSTAFF};
	struct test_daemon td;
	char cfg[256];

	/* (The unit tests cover the rule for an ordinary user.) */
	if (test_needs_root("its clients become another uid"))
		return;
	snprintf(cfg, sizeof(cfg),
		 "socket = { mode = \"0666\"; };\n"
		 "regions = ({ name = \"staff\"; allow_gids = [ %d ];"
		 " pools = ({ name = \"p\"; block_size = 64; blocks = 8; }); });\n",
		 STAFF);
	ck_assert_int_eq(test_daemon_start(&td, cfg, NULL), 0);
	/* primary gid, supplementary group, neither */
	ck_assert_int_eq(alloc_as(&td, STAFF, NULL, 0), 0);
	ck_assert_int_eq(alloc_as(&td, NOBODY, staff, 2), 0);
	ck_assert_int_eq(alloc_as(&td, NOBODY, others, 1), EACCES);
	ck_assert_int_eq(alloc_as(&td, NOBODY, NULL, 0), EACCES);
	ck_assert_int_eq(test_daemon_stop(&td), 0);
}
END_TEST

Suite *peer_groups_suite(void)
{
	Suite *s = suite_create("peer_groups");
	TCase *tc = tcase_create("peer_groups");

	tcase_add_test(tc, test_peer_groups_decide_access);
	suite_add_tcase(s, tc);
	return s;
}
