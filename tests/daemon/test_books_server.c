/*
 * Detached sessions in a real serving process (books.c, server.c): a
 * process of its own takes over books whose sessions belong to two other
 * processes. The one that exits is reclaimed by the pidfd watch, with no
 * connection to close; the other reconnects, resumes its session (after a
 * stranger's attempt is refused) and frees what its session held. And the
 * whole way with the keeper: the serving process killed, its books taken
 * over by the next (books_open), a client resuming and getting its lost
 * reply from the cache.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/books.h"
#include "daemon/log.h"
#include "daemon/ops.h"
#include "daemon/server.h"
#include "tests/common/daemon_proc.h"
#include "tests/common/fdstore_sup.h"
#include "tests/daemon/check_daemon.h"
#include "tests/daemon/daemon_fixture.h"
#include "tests/daemon/raw_client.h"

static const char config[] =
    "log_level = \"error\";\n"
    "regions = ( { name = \"r\";\n"
    "  pools = ( { name = \"p\"; block_size = 64; blocks = 64; } ); } );\n";

/* What the resuming process is told: its session and what it holds. */
struct resume_msg {
	uint64_t id;
	uint8_t token[LEDGER_TOKEN];
	uint64_t off[2];
};

/* The serving process: D's books taken over by a daemon of its own with
 * real regions, served until SIGTERM; exits 0 iff everything came back. */
static void serve(int books_fd, const char *sock)
{
	static struct daemon d;
	static struct dispatch x;
	struct config cfg;
	struct errbuf e;

	if (config_load_string(config, "fixture", &cfg, e.msg, sizeof(e.msg)) < 0 ||
	    daemon_init(&d, &cfg, false, NULL, false, &e) < 0 ||
	    books_takeover(&d, books_fd, &e) < 0 || dispatch_init(&x, &d, &e) < 0) {
		fprintf(stderr, "serve: %s\n", e.msg);
		_exit(2);
	}
	snprintf(d.socket_path, sizeof(d.socket_path), "%s", sock);
	if (server_run(&x, &e) < 0) {
		fprintf(stderr, "serve: %s\n", e.msg);
		_exit(3);
	}
	if (daemon_verify_idle(&d, &e) < 0) {
		fprintf(stderr, "serve: %s\n", e.msg);
		_exit(4);
	}
	dispatch_fini(&x);
	daemon_fini(&d);
	_exit(0);
}

/* The resuming process: waits for its message, then resumes and frees. */
static void resumer(int in, const char *sock)
{
	struct resume_msg m;
	Allocd__Reply *r;
	int fd, fds[RAW_MAX_FDS];
	size_t nfds = RAW_MAX_FDS;

	if (read(in, &m, sizeof(m)) != (ssize_t) sizeof(m) || (fd = raw_connect(sock)) < 0)
		_exit(10);
	r = raw_hello_resume(fd, m.id, m.token, sizeof(m.token), fds, &nfds);
	if (r == NULL || r->status != 0 || !r->hello->resumed || r->hello->client_id != m.id ||
	    r->hello->n_regions != 1 || nfds < 1)
		_exit(11);
	allocd__reply__free_unpacked(r, NULL);
	if (raw_free(fd, 2, "p", 2, m.off) != 0)
		_exit(12);
	close(fd);
	_exit(0);
}

/* The daemon's StatusReply.detached, asked on a connection of our own;
 * -1 while it does not accept. */
static int detached(const char *sock)
{
	Allocd__Request r = ALLOCD__REQUEST__INIT;
	Allocd__Status st = ALLOCD__STATUS__INIT;
	Allocd__Reply *rep;
	int fd = raw_connect(sock), n = -1;

	if (fd < 0)
		return -1; /* not listening yet */
	ck_assert_int_eq(raw_hello(fd, NULL, NULL), 0);
	r.version = 1;
	r.id = 2;
	r.body_case = ALLOCD__REQUEST__BODY_STATUS;
	r.status = &st;
	ck_assert_int_eq(raw_send(fd, &r), 0);
	rep = raw_recv(fd, 5000, NULL, NULL);
	if (rep != NULL && rep->status == 0)
		n = (int) rep->status_info->detached;
	if (rep != NULL)
		allocd__reply__free_unpacked(rep, NULL);
	close(fd);
	return n;
}

/* Ask until the daemon says want (it acts within a loop pass of the
 * event; the asking is what is bounded, not a time). */
static int detached_becomes(const char *sock, int want)
{
	int n = -1;

	for (int i = 0; i < 1000 && (n = detached(sock)) != want; i++)
		poll(NULL, 0, 5);
	return n;
}

START_TEST(test_books_server_watch_and_resume)
{
	static struct daemon d;
	static struct dispatch x;
	char dir[] = "/tmp/allocatord-books-XXXXXX", sock[108];
	struct session_creds cr = {.uid = getuid(), .gid = getgid()};
	struct session *sp, *sq;
	struct resume_msg m;
	uint64_t qoff[3];
	struct errbuf e;
	int go[2], st, fd, fds[RAW_MAX_FDS];
	size_t nfds = RAW_MAX_FDS;
	bool watch = syscall(SYS_pidfd_open, getpid(), 0) >= 0 || errno != ENOSYS;
	pid_t p, q, srv;
	Allocd__Reply *r;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/sock", dir);
	ck_assert_int_eq(pipe(go), 0);
	q = fork();
	if (q == 0) {
		pause();
		_exit(0);
	}
	p = fork();
	if (p == 0)
		resumer(go[0], sock);
	/* The books of a daemon whose clients are p and q. */
	fixture_daemon(&d, config);
	fixture_dispatch(&x, &d);
	cr.pid = p;
	ck_assert_int_eq(daemon_session_start(&d, &cr, &sp, &e), 0);
	cr.pid = q;
	ck_assert_int_eq(daemon_session_start(&d, &cr, &sq, &e), 0);
	/* Their hello replies went out: they can resume. */
	ledger_sess_greeted(&d.books, sp->slot);
	ledger_sess_greeted(&d.books, sq->slot);
	ck_assert_int_eq(ops_pool_alloc(&x.ops, sp, fixture_object(&d, "p"), 2, false, m.off, &e),
			 0);
	ck_assert_int_eq(ops_pool_alloc(&x.ops, sq, fixture_object(&d, "p"), 3, false, qoff, &e),
			 0);
	m.id = sp->id;
	memcpy(m.token, sp->token, sizeof(m.token));

	srv = fork();
	if (srv == 0)
		serve(dup(d.books.fd), sock);
	ck_assert_int_eq(detached_becomes(sock, 2), 2);

	/* q exits: the watch reclaims its session, no connection involved. */
	kill(q, SIGKILL);
	ck_assert_int_eq(waitpid(q, &st, 0), q);
	if (watch)
		ck_assert_int_eq(detached_becomes(sock, 1), 1);

	/* A stranger (this process) may not resume p's session. */
	fd = raw_connect(sock);
	ck_assert_int_ge(fd, 0);
	r = raw_hello_resume(fd, m.id, m.token, sizeof(m.token), fds, &nfds);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->status, -EPERM);
	allocd__reply__free_unpacked(r, NULL);
	close(fd);

	/* p resumes and frees what its session held. */
	ck_assert_int_eq(write(go[1], &m, sizeof(m)), (ssize_t) sizeof(m));
	ck_assert_int_eq(waitpid(p, &st, 0), p);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "resumer: status %#x", st);
	ck_assert_int_eq(detached_becomes(sock, watch ? 0 : 1), watch ? 0 : 1);

	kill(srv, SIGTERM);
	ck_assert_int_eq(waitpid(srv, &st, 0), srv);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "serving process: status %#x", st);
	dispatch_fini(&x);
	daemon_fini(&d);
	rmdir(dir);
}
END_TEST

/* A request id's Alloc of count blocks of p on c: the reply (free it). */
static Allocd__Reply *alloc_on(int c, uint64_t id, uint64_t count)
{
	Allocd__Request r = ALLOCD__REQUEST__INIT;
	Allocd__Alloc a = ALLOCD__ALLOC__INIT;

	r.version = 1;
	r.id = id;
	r.body_case = ALLOCD__REQUEST__BODY_ALLOC;
	r.alloc = &a;
	a.pool = "p";
	a.count = count;
	ck_assert_int_eq(raw_send(c, &r), 0);
	return raw_recv(c, 5000, NULL, NULL);
}

START_TEST(test_books_server_keeper_takeover_resumes)
{
	struct test_daemon td;
	uint8_t token[LEDGER_TOKEN];
	uint64_t id, off[3];
	int c, fds[RAW_MAX_FDS];
	size_t nfds = RAW_MAX_FDS;
	Allocd__Reply *r;
	pid_t old, now;

	ck_assert_int_eq(test_daemon_start_keeper(&td, NULL, config, NULL), 0);
	c = raw_connect(td.socket);
	ck_assert_int_ge(c, 0);
	r = raw_hello_reply(c, false, fds, &nfds);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->status, 0);
	ck_assert_uint_eq(r->hello->session_token.len, LEDGER_TOKEN);
	id = r->hello->client_id;
	memcpy(token, r->hello->session_token.data, LEDGER_TOKEN);
	allocd__reply__free_unpacked(r, NULL);
	r = alloc_on(c, 2, 3);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->status, 0);
	memcpy(off, r->alloc->offsets, sizeof(off));
	allocd__reply__free_unpacked(r, NULL);

	/* The serving process dies; the next one takes its books over. */
	old = test_daemon_serving_pid(&td);
	kill(old, SIGKILL);
	now = test_daemon_next_serving(&td, old);
	ck_assert_int_gt(now, 0);
	close(c);
	c = raw_connect(td.socket);
	ck_assert_int_ge(c, 0);
	nfds = RAW_MAX_FDS;
	r = raw_hello_resume(c, id, token, sizeof(token), fds, &nfds);
	ck_assert_ptr_nonnull(r);
	ck_assert_msg(r->status == 0, "%s", r->error);
	ck_assert(r->hello->resumed);
	ck_assert_uint_eq(r->hello->applied_id, 2);
	allocd__reply__free_unpacked(r, NULL);
	/* Its reply "lost": sent again, answered from the cache. */
	r = alloc_on(c, 2, 3);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->status, 0);
	ck_assert_int_eq(memcmp(r->alloc->offsets, off, sizeof(off)), 0);
	allocd__reply__free_unpacked(r, NULL);
	ck_assert_int_eq(raw_free(c, 3, "p", 3, off), 0);
	close(c);
	/* A clean stop proves every hold came back. */
	ck_assert_int_eq(test_daemon_stop(&td), 0);
}
END_TEST

/* Damaged books in the store (the systemd path, every allocatord process
 * killed): the start is refused naming them, and the store keeps them,
 * again and again; --discard-state starts cold with fresh books. */
START_TEST(test_books_server_damaged_books_refused_until_discarded)
{
	static const char small[] =
	    "regions = ({ name = \"r\"; pools = ({ name = \"p\"; block_size = 64; blocks = 64; "
	    "}); });\n";
	struct test_sup s;
	struct stat old, now;
	int fd;

	ck_assert_int_eq(test_sup_start(&s, small), 0);
	test_sup_kill(&s);
	fd = test_sup_fd(&s, "books");
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &old), 0);
	ck_assert_int_eq(pwrite(fd, "XXXXXXXX", 8, 0), 8); /* the magic */
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(test_sup_restart(&s), -1);
		ck_assert(test_file_has(s.log, "books: bad magic"));
		ck_assert_int_eq(test_sup_fd(&s, "books"), fd);
	}
	snprintf(s.option, sizeof(s.option), "--discard-state");
	ck_assert_int_eq(test_sup_restart(&s), 0);
	ck_assert(
	    test_file_has(s.log, "books: bad magic: dropped (--discard-state): a cold start"));
	test_sup_collect(&s);
	ck_assert_int_eq(fstat(test_sup_fd(&s, "books"), &now), 0);
	ck_assert_uint_ne(now.st_ino, old.st_ino);
	ck_assert_int_eq(test_sup_term(&s), 0);
	test_sup_fini(&s);
}
END_TEST

Suite *books_server_suite(void)
{
	Suite *s = suite_create("books_server");
	TCase *tc = tcase_create("books_server");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_books_server_watch_and_resume);
	tcase_add_test(tc, test_books_server_keeper_takeover_resumes);
	tcase_add_test(tc, test_books_server_damaged_books_refused_until_discarded);
	suite_add_tcase(s, tc);
	return s;
}
