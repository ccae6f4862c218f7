/*
 * state, with real processes: the state memfd goes to the fd store at
 * every start, each takeover is counted in it and shown by status (with
 * the serving pid and the keeper's), and a state that does not fit the
 * configuration stops the start -- the store keeping it -- until the file
 * is right again or --discard-state drops it, with the regions stored
 * beside it. Under the fd-store supervisor of tests/common (the systemd
 * path, where the store outlives every allocatord process) and under the
 * keeper.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/common/daemon_proc.h"
#include "tests/common/fdstore_sup.h"
#include "tests/daemon/check_daemon.h"
#include "tests/daemon/raw_client.h"

static const char one[] =
    "regions = ({ name = \"r\"; pools = ({ name = \"p\"; block_size = 64; blocks = 64; }); });\n";
static const char grown[] =
    "regions = ({ name = \"r\"; pools = ({ name = \"p\"; block_size = 64; blocks = 128; }); });\n";

struct seen {
	uint32_t pid, keeper;
	uint64_t takeovers, last_ms, since_ms;
	ino_t region; /* the inode of the region memfd a hello sends */
};

/* A client's hello and status. */
static void look(const char *sock, struct seen *out)
{
	int fds[RAW_MAX_FDS], c = raw_connect(sock);
	size_t nfds = RAW_MAX_FDS;
	Allocd__Reply *r;
	struct stat st;

	ck_assert_int_ge(c, 0);
	ck_assert_int_eq(raw_hello(c, fds, &nfds), 0);
	ck_assert_uint_ge(nfds, 1);
	ck_assert_int_eq(fstat(fds[0], &st), 0);
	out->region = st.st_ino;
	for (size_t i = 0; i < nfds; i++)
		close(fds[i]);
	r = raw_daemon_status(c, 2);
	ck_assert_ptr_nonnull(r);
	out->pid = r->status_info->pid;
	out->keeper = r->status_info->keeper_pid;
	out->takeovers = r->status_info->takeovers;
	out->last_ms = r->status_info->last_takeover_unix_ms;
	out->since_ms = r->status_info->state_since_unix_ms;
	allocd__reply__free_unpacked(r, NULL);
	close(c);
}

static ino_t inode(int fd)
{
	struct stat st;

	ck_assert_int_eq(fstat(fd, &st), 0);
	return st.st_ino;
}

/* Every allocatord process killed, twice: each new serving process counts
 * one more takeover, since the same cold start, and says so in its log. */
START_TEST(test_state_proc_counts_takeovers)
{
	struct test_sup s;
	struct seen a, b, c;
	ino_t state;

	ck_assert_int_eq(test_sup_start(&s, one), 0);
	ck_assert_int_ge(test_sup_fd(&s, "state"), 0);
	state = inode(test_sup_fd(&s, "state"));
	look(s.socket, &a);
	ck_assert_uint_eq(a.pid, (uint32_t) s.pid);
	ck_assert_uint_eq(a.takeovers, 0);
	ck_assert_uint_eq(a.last_ms, 0);
	ck_assert_uint_gt(a.since_ms, 0);
	ck_assert_uint_eq(a.keeper, 0); /* the supervisor is no keeper */

	test_sup_kill(&s);
	ck_assert_int_eq(test_sup_restart(&s), 0);
	look(s.socket, &b);
	ck_assert_uint_eq(b.pid, (uint32_t) s.pid);
	ck_assert_uint_ne(b.pid, a.pid);
	ck_assert_uint_eq(b.takeovers, 1);
	ck_assert_uint_ge(b.last_ms, a.since_ms);
	ck_assert_uint_eq(b.since_ms, a.since_ms);
	ck_assert_uint_eq(b.region, a.region);
	ck_assert(test_file_has(s.log, "takeover 1: "));

	test_sup_kill(&s);
	ck_assert_int_eq(test_sup_restart(&s), 0);
	look(s.socket, &c);
	ck_assert_uint_eq(c.takeovers, 2);
	ck_assert_uint_ge(c.last_ms, b.last_ms);
	ck_assert_uint_eq(c.since_ms, a.since_ms);
	ck_assert_uint_eq(inode(test_sup_fd(&s, "state")), state); /* one state throughout */
	test_sup_fini(&s);
}
END_TEST

/* The file's layout changed under a stored state: refused with the way
 * out, the store untouched, again and again; the old file takes the state
 * over again; --discard-state starts afresh with a new state and new
 * regions, and the store holds those. */
START_TEST(test_state_proc_refused_until_discarded)
{
	struct test_sup s;
	struct seen a, b;
	ino_t state, bits, books;

	ck_assert_int_eq(test_sup_start(&s, one), 0);
	look(s.socket, &a);
	state = inode(test_sup_fd(&s, "state"));
	bits = inode(test_sup_fd(&s, "bits.r"));
	test_sup_kill(&s);

	ck_assert_int_eq(test_write_file(s.config, grown), 0);
	ck_assert_int_eq(test_sup_restart(&s), -1);
	ck_assert(test_file_has(
	    s.log, "state: pool 'p' is 64 blocks of 64 B at offset 0 (shared bits at "
		   "0) in the state, 128 blocks of 64 B at offset 0 (shared bits at 0) "
		   "in "));
	ck_assert(test_file_has(s.log,
				": start with --discard-state to drop the state (every hold is "
				"lost)"));
	ck_assert_uint_eq(inode(test_sup_fd(&s, "state")), state);
	ck_assert_uint_eq(inode(test_sup_fd(&s, "region.r")), a.region);

	ck_assert_int_eq(test_write_file(s.config, one), 0);
	ck_assert_int_eq(test_sup_restart(&s), 0);
	look(s.socket, &b);
	ck_assert_uint_eq(b.takeovers, 1);
	ck_assert_uint_eq(b.region, a.region);
	test_sup_kill(&s);

	/* Books left with the dropped state go with it (their indices mean
	 * nothing now): the new process keeps fresh ones. */
	books = inode(test_sup_fd(&s, "books"));
	ck_assert_int_eq(test_write_file(s.config, grown), 0);
	snprintf(s.option, sizeof(s.option), "--discard-state");
	ck_assert_int_eq(test_sup_restart(&s), 0);
	ck_assert(test_file_has(s.log, "warn: state: pool 'p' is 64 blocks"));
	ck_assert(test_file_has(s.log,
				": dropped (--discard-state): a cold start, every hold of the old "
				"state is lost\n"));
	look(s.socket, &b);
	ck_assert_uint_eq(b.takeovers, 0);
	ck_assert_uint_ge(b.since_ms, a.since_ms);
	ck_assert_uint_ne(b.region, a.region); /* made afresh, 8 KiB now */
	test_sup_collect(&s);
	ck_assert_uint_ne(inode(test_sup_fd(&s, "state")), state);
	ck_assert_uint_eq(inode(test_sup_fd(&s, "region.r")), b.region);
	ck_assert_uint_ne(inode(test_sup_fd(&s, "bits.r")), bits);
	ck_assert_uint_ne(inode(test_sup_fd(&s, "books")), books);
	test_sup_fini(&s);
}
END_TEST

/* A restart whose file dropped a region nothing holds: taken over, the
 * region and its pool kept as tombstones (not served, not counted), its
 * memfd dropped from the store; the next takeover agrees. */
START_TEST(test_state_proc_dropped_region)
{
	static const char two[] =
	    "regions = ({ name = \"r\"; pools = ({ name = \"p\"; block_size = 64; blocks = 64; "
	    "}); },\n"
	    "           { name = \"r2\"; pools = ({ name = \"p2\"; block_size = 64; blocks = 64; "
	    "}); });\n";
	struct test_sup s;
	struct seen a, b;

	ck_assert_int_eq(test_sup_start(&s, two), 0);
	look(s.socket, &a);
	ck_assert_int_ge(test_sup_fd(&s, "region.r2"), 0);
	ck_assert_int_ge(test_sup_fd(&s, "bits.r2"), 0);
	test_sup_kill(&s);
	ck_assert_int_eq(test_write_file(s.config, one), 0);
	ck_assert_int_eq(test_sup_restart(&s), 0);
	test_sup_collect(&s);
	ck_assert_int_lt(test_sup_fd(&s, "region.r2"), 0);
	ck_assert_int_lt(test_sup_fd(&s, "bits.r2"), 0);
	ck_assert(test_file_has(s.log, "serving 1 region (1 pool, 0 heaps), 0 groups on "));
	look(s.socket, &b);
	ck_assert_uint_eq(b.takeovers, 1);
	ck_assert_uint_eq(b.region, a.region);
	test_sup_kill(&s);
	ck_assert_int_eq(test_sup_restart(&s), 0);
	look(s.socket, &b);
	ck_assert_uint_eq(b.takeovers, 2);
	test_sup_fini(&s);
}
END_TEST

/* Under the keeper: status names it, and counts the takeover after kill
 * -9 of the serving process. */
START_TEST(test_state_proc_keeper_in_status)
{
	struct test_daemon td;
	struct seen a, b;
	pid_t first;

	ck_assert_int_eq(test_daemon_start_keeper(&td, NULL, one, NULL), 0);
	first = test_daemon_next_serving(&td, 0);
	ck_assert_int_gt(first, 0);
	look(td.socket, &a);
	ck_assert_uint_eq(a.pid, (uint32_t) first);
	ck_assert_uint_eq(a.keeper, (uint32_t) td.pid);
	ck_assert_uint_eq(a.takeovers, 0);
	ck_assert_int_eq(kill(first, SIGKILL), 0);
	ck_assert_int_gt(test_daemon_next_serving(&td, first), 0);
	look(td.socket, &b);
	ck_assert_uint_ne(b.pid, a.pid);
	ck_assert_uint_eq(b.keeper, (uint32_t) td.pid);
	ck_assert_uint_eq(b.takeovers, 1);
	ck_assert_uint_eq(b.since_ms, a.since_ms);
	ck_assert_int_eq(test_daemon_stop(&td), 0);
}
END_TEST

Suite *state_proc_suite(void)
{
	Suite *s = suite_create("state_proc");
	TCase *tc = tcase_create("state_proc");

	tcase_add_test(tc, test_state_proc_counts_takeovers);
	tcase_add_test(tc, test_state_proc_refused_until_discarded);
	tcase_add_test(tc, test_state_proc_dropped_region);
	tcase_add_test(tc, test_state_proc_keeper_in_status);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return s;
}
