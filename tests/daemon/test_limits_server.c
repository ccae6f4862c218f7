/*
 * Issue 11 items 1, 2 and 7 as a hostile tenant plays them: processes of
 * other uids (forked, setresuid) against a real daemon, over raw sockets.
 * One uid with many connections must not take a whole pool, every slot or
 * the hold table; root always gets in; a request that cannot succeed gets
 * the right error.
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/common/daemon_proc.h"
#include "tests/daemon/check_daemon.h"
#include "tests/daemon/raw_client.h"

#define NOBODY   65534
#define OTHER    65533
#define ATTACKER 65532

static struct test_daemon td;

/* Open to every uid (mode 0666), with extra settings and regions. */
static void start(const char *settings, const char *regions)
{
	char cfg[2048];

	snprintf(cfg, sizeof(cfg),
		 "socket = { mode = \"0666\"; };\nlog_level = \"error\";\n%s\nregions = (%s);\n",
		 settings, regions);
	ck_assert_int_eq(test_daemon_start(&td, cfg, NULL), 0);
}

static void stop(void)
{
	ck_assert_int_eq(test_daemon_stop(&td), 0);
}

/* A connection that has done its hello: the descriptor, or the refusal's
 * status (< 0; the connection is closed then). */
static int open_client(void)
{
	int fd = raw_connect(td.socket), rc;

	if (fd < 0)
		return -ECONNREFUSED;
	rc = raw_hello(fd, NULL, NULL);
	if (rc == 0)
		return fd;
	close(fd);
	return rc < 0 ? rc : -EPROTO;
}

/*
 * A process of uid that runs fn, sends its result back, then keeps its
 * connections (and all they hold) until peer_end: so that the test can
 * look at the daemon while the attacker is still there.
 */
struct peer {
	pid_t pid;
	int result_fd, go_fd;
};

static void peer_start(struct peer *p, uid_t uid, int (*fn)(const void *), const void *arg)
{
	int res[2], go[2];

	ck_assert_int_eq(pipe(res), 0);
	ck_assert_int_eq(pipe(go), 0);
	p->pid = fork();
	ck_assert_int_ge(p->pid, 0);
	if (p->pid == 0) {
		char c;
		int r = -EPERM;

		close(res[0]);
		close(go[1]);
		if (setgroups(0, NULL) == 0 && setresgid(uid, uid, uid) == 0 &&
		    setresuid(uid, uid, uid) == 0)
			r = fn(arg);
		if (write(res[1], &r, sizeof(r)) != sizeof(r) || read(go[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(res[1]);
	close(go[0]);
	p->result_fd = res[0];
	p->go_fd = go[1];
}

static int peer_result(struct peer *p)
{
	int r = INT32_MIN;

	ck_assert_int_eq(read(p->result_fd, &r, sizeof(r)), sizeof(r));
	return r;
}

/* End peers in the reverse order of their start: a later peer inherited
 * the pipes of the earlier ones, so an earlier one would not see its end. */
static void peer_end(struct peer *p)
{
	int status;

	close(p->go_fd);
	close(p->result_fd);
	ck_assert_int_eq(waitpid(p->pid, &status, 0), p->pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "peer status 0x%x", status);
}

/* Run fn as uid to its end and return its result. */
static int as_uid(uid_t uid, int (*fn)(const void *), const void *arg)
{
	struct peer p;
	int r;

	peer_start(&p, uid, fn, arg);
	r = peer_result(&p);
	peer_end(&p);
	return r;
}

/* The attack: 64 connections, each allocating its client quota of
 * 16 blocks of p. The blocks got, or a failure other than -EDQUOT. */
static int take_pool(const void *arg)
{
	int total = 0;

	(void) arg;
	for (int i = 0; i < 64; i++) {
		int fd = open_client(), rc;

		if (fd < 0)
			return fd;
		rc = raw_alloc(fd, 2, "p", 16, NULL);
		if (rc == 0)
			total += 16;
		else if (rc != -EDQUOT)
			return rc;
	}
	return total;
}

START_TEST(test_limits_server_uid_quota_over_connections)
{
	struct peer attacker;
	int fd;

	if (test_needs_root("its peers become other uids"))
		return;

	start("", "{ name = \"r\"; pools = ({ name = \"p\"; block_size = 64; blocks = 1024;"
		  " client_quota = 16; }); }");
	peer_start(&attacker, NOBODY, take_pool, NULL);
	/* The default uid_quota: half the pool. */
	ck_assert_int_eq(peer_result(&attacker), 512);
	/* The rest is there for another uid, and root still gets in. */
	ck_assert_int_eq(as_uid(OTHER, take_pool, NULL), 512);
	fd = open_client();
	ck_assert_int_ge(fd, 0);
	close(fd);
	peer_end(&attacker);
	stop();
}
END_TEST

/* Connections until one is refused: how many, and the refusal as a
 * negative number below -1000 (status - 1000 * count) so that both come
 * back in one int. */
static int take_slots(const void *arg)
{
	int n = 0, fd;

	(void) arg;
	while ((fd = open_client()) >= 0 && n < 1000)
		n++;
	return fd < 0 ? fd * 1000 - n : n;
}

START_TEST(test_limits_server_connections_per_uid)
{
	struct peer a, b;

	if (test_needs_root("its peers become other uids"))
		return;

	/* Defaults for 40: 4 kept, (40 - 4) / 4 = 9 per uid. */
	start("max_clients = 40;",
	      "{ name = \"r\"; pools = ({ name = \"p\"; block_size = 64; blocks = 64; }); }");
	peer_start(&a, NOBODY, take_slots, NULL);
	ck_assert_int_eq(peer_result(&a), -EUSERS * 1000 - 9);
	peer_start(&b, OTHER, take_slots, NULL);
	ck_assert_int_eq(peer_result(&b), -EUSERS * 1000 - 9);
	for (int i = 0; i < 4; i++) {
		int fd = open_client();

		ck_assert_int_ge(fd, 0);
		close(fd);
	}
	peer_end(&b);
	peer_end(&a);
	stop();
}
END_TEST

/* With no per-uid limit to speak of, the kept slots still let root in. */
START_TEST(test_limits_server_admin_slots_keep_root_in)
{
	struct peer a;
	int fd[4];

	if (test_needs_root("its peers become other uids"))
		return;

	start("max_clients = 16; max_clients_per_uid = 16;",
	      "{ name = \"r\"; pools = ({ name = \"p\"; block_size = 64; blocks = 64; }); }");
	peer_start(&a, NOBODY, take_slots, NULL);
	ck_assert_int_eq(peer_result(&a), -EUSERS * 1000 - 12);
	for (int i = 0; i < 4; i++) {
		fd[i] = open_client();
		ck_assert_int_ge(fd[i], 0);
		ck_assert_int_eq(raw_alloc(fd[i], 2, "p", 1, NULL), 0);
	}
	ck_assert_int_eq(open_client(), -EUSERS);
	peer_end(&a);
	for (int i = 0; i < 4; i++)
		close(fd[i]);
	stop();
}
END_TEST

/* Fill the hold table through pool o (64-byte blocks at offset 0 of its
 * region): allocate what the daemon gives, in ever smaller chunks, then
 * retain all of it again from new connections, until not one more hold
 * is granted. The last refusal's status. */
static int fill_holds(const void *arg)
{
	uint64_t blocks = *(const uint64_t *) arg, got = 0, pos, chunk = blocks, id = 2;
	uint64_t *off = calloc(blocks, sizeof(*off));
	int fd = open_client(), last = 0, rc;

	if (off == NULL || fd < 0)
		return fd < 0 ? fd : -ENOMEM;
	while (chunk > 0 && got < blocks) {
		uint64_t n = chunk < blocks - got ? chunk : blocks - got;

		rc = raw_alloc(fd, id++, "o", n, off + got);
		if (rc == 0)
			got += n;
		else
			last = rc, chunk /= 2;
	}
	for (pos = got, chunk = got; chunk > 0;) {
		uint64_t n;

		if (pos == got) {
			fd = open_client();
			if (fd < 0)
				return fd;
			pos = 0;
		}
		n = chunk < got - pos ? chunk : got - pos;
		rc = raw_retain(fd, id++, "o", n, off + pos);
		if (rc == 0)
			pos += n;
		else
			last = rc, chunk /= 2;
	}
	free(off);
	return last;
}

/* Allocate 8 blocks of pool s: the status. */
static int use_secret(const void *arg)
{
	int fd = open_client();

	(void) arg;
	return fd < 0 ? fd : raw_alloc(fd, 2, "s", 8, NULL);
}

#define SECRET_REGION                                  \
	"{ name = \"secret\"; allow_uids = [ 65533 ];" \
	" pools = ({ name = \"s\"; block_size = 64; blocks = 64; }); }"

/* Issue 11 item 2 on the built-in limits: a uid of region open holding
 * and retaining all it can does not stop a user of region secret. */
START_TEST(test_limits_server_hold_table_defaults)
{
	static const uint64_t blocks = 4096;
	struct peer a;

	if (test_needs_root("its peers become other uids"))
		return;

	start("", "{ name = \"open\"; pools = ({ name = \"o\"; block_size = 64; blocks = 4096; "
		  "}); }, " SECRET_REGION);
	peer_start(&a, NOBODY, fill_holds, &blocks);
	ck_assert_int_eq(peer_result(&a), -EDQUOT);
	ck_assert_int_eq(as_uid(OTHER, use_secret, NULL), 0);
	peer_end(&a);
	stop();
}
END_TEST

/* The shares themselves: two uids that may hold the whole pool fill their
 * part of region open's share (uid_holds: 1500), then the share (max_holds:
 * 500 more); region secret is served all along. */
START_TEST(test_limits_server_hold_shares)
{
	static const uint64_t blocks = 2048;
	struct peer a, b;

	if (test_needs_root("its peers become other uids"))
		return;

	start("", "{ name = \"open\"; max_holds = 2000; uid_holds = 1500; pools = ({ name = "
		  "\"o\"; block_size = 64; blocks = 2048; uid_quota = 2048; }); }, " SECRET_REGION);
	peer_start(&a, NOBODY, fill_holds, &blocks);
	ck_assert_int_eq(peer_result(&a), -EDQUOT);
	peer_start(&b, ATTACKER, fill_holds, &blocks);
	ck_assert_int_eq(peer_result(&b), -ENOSPC);
	ck_assert_int_eq(as_uid(OTHER, use_secret, NULL), 0);
	peer_end(&b);
	peer_end(&a);
	stop();
}
END_TEST

/* Issue 11 item 7 over the wire: runs longer than the pool, also past
 * 2^32, are -ENOMEM, named, and the daemon serves on. */
START_TEST(test_limits_server_absurd_runs)
{
	static const uint64_t counts[] = {4000000, (UINT64_C(1) << 32) + 1};
	Allocd__Request r = ALLOCD__REQUEST__INIT;
	Allocd__Alloc a = ALLOCD__ALLOC__INIT;
	Allocd__Reply *rep;
	int fd;

	start("", "{ name = \"r\"; pools = ({ name = \"p\"; block_size = 64; blocks = 16; }); }");
	fd = open_client();
	ck_assert_int_ge(fd, 0);
	r.version = 1;
	r.body_case = ALLOCD__REQUEST__BODY_ALLOC;
	r.alloc = &a;
	a.pool = "p";
	a.contiguous = true;
	for (size_t i = 0; i < 2; i++) {
		r.id = 2 + i;
		a.count = counts[i];
		ck_assert_int_eq(raw_send(fd, &r), 0);
		rep = raw_recv(fd, 5000, NULL, NULL);
		ck_assert_ptr_nonnull(rep);
		ck_assert_msg(rep->status == -ENOMEM, "count %llu: %d (%s)",
			      (unsigned long long) counts[i], rep->status, rep->error);
		ck_assert_msg(strstr(rep->error, "pool 'p' has 16 blocks") != NULL, "%s",
			      rep->error);
		allocd__reply__free_unpacked(rep, NULL);
	}
	ck_assert_int_eq(raw_alloc(fd, 9, "p", 16, NULL), 0);
	close(fd);
	stop();
}
END_TEST

Suite *limits_server_suite(void)
{
	Suite *s = suite_create("limits_server");
	TCase *tc = tcase_create("limits_server");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_limits_server_uid_quota_over_connections);
	tcase_add_test(tc, test_limits_server_connections_per_uid);
	tcase_add_test(tc, test_limits_server_admin_slots_keep_root_in);
	tcase_add_test(tc, test_limits_server_hold_table_defaults);
	tcase_add_test(tc, test_limits_server_hold_shares);
	tcase_add_test(tc, test_limits_server_absurd_runs);
	suite_add_tcase(s, tc);
	return s;
}
