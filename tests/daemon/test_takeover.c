/*
 * Takeover, the process part: the fd store protocol (fdstore.c), and with
 * real processes what outlives the serving process -- the keeper restarting
 * it after kill -9, refusing to loop on a failed start, stopping it
 * cleanly, upgrading it to the binary on disk -- and the systemd path
 * through the fd-store supervisor of tests/common, where every allocatord
 * process dies. Each checks that the new serving process serves the SAME
 * region memfd (the inode a hello sends) with a client's canary intact.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/fdstore.h"
#include "tests/common/daemon_proc.h"
#include "tests/common/fdstore_sup.h"
#include "tests/daemon/check_daemon.h"
#include "tests/daemon/raw_client.h"

static const char small_config[] =
    "regions = ({ name = \"r\"; pools = ({ name = \"p\"; block_size = 64; blocks = 64; }); });\n";

static const char canary[] = "takeover canary";

/* The inodes of the memfds a hello sends: the region's and its shared
 * bits'. A takeover must serve both again: clients keep their mappings. */
struct memfd_ids {
	ino_t region, bits;
};

static bool ids_eq(struct memfd_ids a, struct memfd_ids b)
{
	return a.region == b.region && a.bits == b.bits;
}

/* A leases hello on c: the first region's memfds' inodes, the region read/write
 * at *p (4 KiB) when p is not NULL. */
static struct memfd_ids hello_ids(int c, char **p)
{
	int fds[RAW_MAX_FDS];
	size_t nfds = RAW_MAX_FDS;
	struct memfd_ids ids;
	struct stat st;

	ck_assert_int_eq(raw_hello_leases(c, true, fds, &nfds), 0);
	ck_assert_uint_ge(nfds, 2);
	ck_assert_int_eq(fstat(fds[0], &st), 0);
	ids.region = st.st_ino;
	/* the regions, their bits, maybe a lease page: the first region's
	 * bits are half way */
	ck_assert_int_eq(fstat(fds[nfds / 2], &st), 0);
	ids.bits = st.st_ino;
	if (p != NULL) {
		*p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
		ck_assert_ptr_ne(*p, MAP_FAILED);
	}
	for (size_t i = 0; i < nfds; i++)
		close(fds[i]);
	return ids;
}

/* A client's hello: the memfds' inodes, and the bytes at off in the region
 * into out (sizeof canary), read through a mapping of its memfd. */
static struct memfd_ids region_look(const char *sock, uint64_t off, char *out)
{
	int c = raw_connect(sock);
	struct memfd_ids ids;
	char *p;

	ck_assert_int_ge(c, 0);
	ids = hello_ids(c, &p);
	memcpy(out, p + off, sizeof(canary));
	munmap(p, 4096);
	close(c);
	return ids;
}

/* Allocate a block, write the canary into it through the region memfd the
 * hello sent; its offset in *off, the memfds' inodes returned. The client
 * stays connected (its socket is returned in *conn). */
static struct memfd_ids hold_canary(const char *sock, uint64_t *off, int *conn)
{
	struct memfd_ids ids;
	char *p;

	*conn = raw_connect(sock);
	ck_assert_int_ge(*conn, 0);
	ids = hello_ids(*conn, &p);
	ck_assert_int_eq(raw_alloc(*conn, 7, "p", 1, off), 0);
	memcpy(p + *off, canary, sizeof(canary));
	munmap(p, 4096);
	return ids;
}

/* The new serving process serves the memfds of ids, canary intact. */
static void same_region(const char *sock, struct memfd_ids ids, uint64_t off)
{
	char seen[sizeof(canary)];

	ck_assert(ids_eq(region_look(sock, off, seen), ids));
	ck_assert_str_eq(seen, canary);
}

/* The sending side against a datagram socket of the test's own. */
START_TEST(test_takeover_fdstore_sends_the_protocol)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char addr[64], text[512];
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov = {.iov_base = text, .iov_len = sizeof(text) - 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	struct stat a, b;
	struct fdstore fs;
	struct errbuf e;
	int rx, memfd, got;
	ssize_t n;

	snprintf(addr, sizeof(addr), "@allocatord-test-fdstore-%d", (int) getpid());
	memcpy(sun.sun_path + 1, addr + 1, strlen(addr) - 1);
	rx = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(bind(rx, (struct sockaddr *) &sun,
			      (socklen_t) (offsetof(struct sockaddr_un, sun_path) + strlen(addr))),
			 0);
	setenv("NOTIFY_SOCKET", addr, 1);
	setenv(FDSTORE_KEEPER_ENV, "4242", 1);
	ck_assert_int_eq(fdstore_init(&fs, &e), 0);
	ck_assert(fdstore_active(&fs));
	ck_assert_int_eq(fs.keeper, 4242);
	/* children must not take them for their own */
	ck_assert_ptr_null(getenv("NOTIFY_SOCKET"));
	ck_assert_ptr_null(getenv(FDSTORE_KEEPER_ENV));

	memfd = memfd_create("x", MFD_CLOEXEC);
	ck_assert_int_eq(fdstore_put(&fs, "region.x", memfd), 0);
	m.msg_control = u.buf;
	m.msg_controllen = sizeof(u.buf);
	n = recvmsg(rx, &m, 0);
	ck_assert_int_gt(n, 0);
	text[n] = '\0';
	ck_assert_str_eq(text, "FDSTORE=1\nFDNAME=region.x");
	ck_assert_int_eq(CMSG_FIRSTHDR(&m)->cmsg_type, SCM_RIGHTS);
	memcpy(&got, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof(int));
	ck_assert_int_eq(fstat(memfd, &a), 0);
	ck_assert_int_eq(fstat(got, &b), 0);
	ck_assert_uint_eq(a.st_ino, b.st_ino);
	close(got);

	ck_assert_int_eq(fdstore_remove(&fs, "region.x"), 0);
	n = recv(rx, text, sizeof(text) - 1, 0);
	text[n] = '\0';
	ck_assert_str_eq(text, "FDSTOREREMOVE=1\nFDNAME=region.x");
	ck_assert_int_eq(fdstore_notify(&fs, "READY=1"), 0);
	n = recv(rx, text, sizeof(text) - 1, 0);
	text[n] = '\0';
	ck_assert_str_eq(text, "READY=1");
	/* names are a colon-separated list on the other side */
	ck_assert_int_eq(fdstore_put(&fs, "a:b", memfd), -EINVAL);
	ck_assert_int_eq(fdstore_put(&fs, "", memfd), -EINVAL);
	fdstore_fini(&fs);

	/* no store: nothing sent, nothing fails */
	ck_assert_int_eq(fdstore_init(&fs, &e), 0);
	ck_assert(!fdstore_active(&fs));
	ck_assert_int_eq(fdstore_put(&fs, "region.x", memfd), 0);
	ck_assert_int_eq(recv(rx, text, sizeof(text), MSG_DONTWAIT), -1);
	fdstore_fini(&fs);
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	ck_assert_int_eq(fdstore_init(&fs, &e), -EINVAL);
	ck_assert_msg(strstr(e.msg, "NOTIFY_SOCKET 'relative/path'") != NULL, "%s", e.msg);
	unsetenv("NOTIFY_SOCKET");
	close(memfd);
	close(rx);
}
END_TEST

/* The receiving side, in a child whose descriptors 3 and 4 may be
 * replaced: names by position, "unknown" past the list, only for the pid
 * LISTEN_PID names, and taken once. */
static int receive_in_child(void)
{
	struct fdstore fs;
	struct errbuf e;
	char me[16];
	int a = memfd_create("a", 0), b = memfd_create("b", 0), fd;

	dup2(a, 3);
	dup2(b, 4);
	snprintf(me, sizeof(me), "%d", (int) getpid());
	setenv("LISTEN_PID", "1", 1);
	setenv("LISTEN_FDS", "2", 1);
	if (fdstore_init(&fs, &e) != 0 || fs.npassed != 0 || getenv("LISTEN_FDS") != NULL)
		return 1; /* another process's */
	setenv("LISTEN_PID", me, 1);
	setenv("LISTEN_FDS", "x", 1);
	if (fdstore_init(&fs, &e) != -EINVAL || strstr(e.msg, "LISTEN_FDS") == NULL)
		return 2;
	setenv("LISTEN_FDS", "2", 1);
	setenv("LISTEN_FDNAMES", "state", 1);
	if (fdstore_init(&fs, &e) != 0 || fs.npassed != 2)
		return 3;
	if (!fdstore_has(&fs, "state") || fdstore_take(&fs, "unknown") != 4)
		return 4;
	fd = fdstore_take(&fs, "state");
	if (fd != 3 || fdstore_take(&fs, "state") != -1 || fdstore_has(&fs, "state"))
		return 5;
	if ((fcntl(3, F_GETFD) & FD_CLOEXEC) == 0 || getenv("LISTEN_PID") != NULL)
		return 6;
	fdstore_fini(&fs);
	return fcntl(3, F_GETFD) >= 0 ? 0 : 7; /* taken: the caller's, not closed */
}

START_TEST(test_takeover_fdstore_receives_by_name)
{
	int status;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(receive_in_child());
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "check %d failed",
		      WEXITSTATUS(status));
}
END_TEST

/* kill -9 of the serving process: the keeper starts another at once, which
 * serves the same region memfd on the same socket. */
START_TEST(test_takeover_keeper_restarts_after_kill)
{
	struct test_daemon td;
	pid_t first, next;
	uint64_t off;
	struct memfd_ids ino;
	int conn;

	ck_assert_int_eq(test_daemon_start_keeper(&td, NULL, small_config, NULL), 0);
	first = test_daemon_next_serving(&td, 0);
	ck_assert_int_gt(first, 0);
	ck_assert_int_ne(first, td.pid);
	ino = hold_canary(td.socket, &off, &conn);
	ck_assert_int_eq(kill(first, SIGKILL), 0);
	next = test_daemon_next_serving(&td, first);
	ck_assert_int_gt(next, 0);
	same_region(td.socket, ino, off);
	ck_assert_int_eq(raw_closed(conn, 5000), 1); /* its server died */
	close(conn);
	ck_assert_int_eq(kill(td.pid, 0), 0); /* the keeper lives on */
	ck_assert_int_eq(test_daemon_stop(&td), 0);
}
END_TEST

/* A serving process that fails at start-up (exit 1) would fail again:
 * the keeper exits 1 too, saying why, instead of looping. */
START_TEST(test_takeover_keeper_does_not_loop_on_a_failed_start)
{
	char dir[] = "/tmp/allocatord-keeper.XXXXXX", path[64], bin[512], out[4096], err[8192];
	const char *argv[] = {test_build_path("daemon/allocatord", bin, sizeof(bin)), "-s", path,
			      NULL};
	int fd;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/not-a-socket", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	close(fd);
	ck_assert_int_eq(test_run(argv, out, sizeof(out), err, sizeof(err)), 1);
	ck_assert_msg(strstr(err, "exists and is not a socket") != NULL, "%s", err);
	ck_assert_msg(strstr(err, "keeper: serving process failed at start-up") != NULL, "%s", err);
	ck_assert_msg(strstr(err, "starting another") == NULL, "%s", err);
	unlink(path);
	rmdir(dir);
}
END_TEST

/* SIGHUP to the keeper reloads the serving process; SIGTERM is its clean
 * stop: exit 0, the socket file and its lock removed, nothing left
 * running. */
START_TEST(test_takeover_keeper_sigterm_stops_cleanly)
{
	struct test_daemon td;
	char sock[100], lock[108], log[16384];
	pid_t serving;
	bool reloaded = false;

	ck_assert_int_eq(test_daemon_start_keeper(&td, NULL, small_config, NULL), 0);
	serving = test_daemon_next_serving(&td, 0);
	ck_assert_int_gt(serving, 0);
	ck_assert_int_eq(kill(td.pid, SIGHUP), 0);
	for (int i = 0; i < 1000 && !reloaded; i++) {
		test_daemon_log(&td, log, sizeof(log));
		reloaded = strstr(log, "reloaded ") != NULL;
		if (!reloaded)
			usleep(10000);
	}
	ck_assert_msg(reloaded, "%s", log);
	ck_assert_int_eq(test_daemon_serving_pid(&td), serving);
	snprintf(sock, sizeof(sock), "%s", td.socket);
	snprintf(lock, sizeof(lock), "%s.lock", td.socket);
	ck_assert_int_eq(access(lock, F_OK), 0);
	ck_assert_int_eq(test_daemon_stop(&td), 0);
	ck_assert_int_eq(kill(serving, 0), -1); /* gone, and reaped by the keeper */
	ck_assert_int_eq(access(sock, F_OK), -1);
	ck_assert_int_eq(access(lock, F_OK), -1);
}
END_TEST

static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	ssize_t n;

	ck_assert_int_ge(in, 0);
	ck_assert_int_ge(out, 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		ck_assert_int_eq(write(out, buf, (size_t) n), n);
	close(in);
	close(out);
}

/* SIGUSR2 to the keeper: the serving process hands over and the binary
 * now at the keeper's path -- replaced meanwhile, as a package upgrade
 * replaces it -- takes over the same region, as keeper (same pid) and as
 * serving process. */
START_TEST(test_takeover_upgrade_runs_the_binary_on_disk)
{
	char dir[] = "/tmp/allocatord-upgrade.XXXXXX", bin[512], path[64], next[64], exe[64];
	struct test_daemon td;
	struct stat old_st, new_st, ran;
	pid_t first, second;
	uint64_t off;
	struct memfd_ids ino;
	int conn;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/allocatord", dir);
	snprintf(next, sizeof(next), "%s/allocatord.new", dir);
	copy_file(test_build_path("daemon/allocatord", bin, sizeof(bin)), path);
	ck_assert_int_eq(test_daemon_start_keeper(&td, path, small_config, NULL), 0);
	first = test_daemon_next_serving(&td, 0);
	ck_assert_int_gt(first, 0);
	ino = hold_canary(td.socket, &off, &conn);
	ck_assert_int_eq(stat(path, &old_st), 0);

	copy_file(bin, next);
	ck_assert_int_eq(rename(next, path), 0);
	ck_assert_int_eq(stat(path, &new_st), 0);
	ck_assert_uint_ne(new_st.st_ino, old_st.st_ino);
	ck_assert_int_eq(kill(td.pid, SIGUSR2), 0);
	second = test_daemon_next_serving(&td, first);
	ck_assert_int_gt(second, 0);
	/* Serving, so past its exec (right after the fork it is still the
	 * keeper's image). */
	same_region(td.socket, ino, off);
	snprintf(exe, sizeof(exe), "/proc/%d/exe", (int) second);
	ck_assert_int_eq(stat(exe, &ran), 0);
	ck_assert_uint_eq(ran.st_ino, new_st.st_ino);
	/* and the keeper too, in its own place */
	snprintf(exe, sizeof(exe), "/proc/%d/exe", (int) td.pid);
	ck_assert_int_eq(stat(exe, &ran), 0);
	ck_assert_uint_eq(ran.st_ino, new_st.st_ino);
	close(conn);
	ck_assert_int_eq(test_daemon_stop(&td), 0);
	unlink(path);
	rmdir(dir);
}
END_TEST

/* The systemd path without systemd: every allocatord process is killed,
 * the supervisor keeps what they stored and starts a new one with it. */
START_TEST(test_takeover_fd_store_outlives_every_process)
{
	char bin[512], out[4096], err[8192];
	struct test_sup s;
	uint64_t off;
	struct memfd_ids ino;
	int conn;

	ck_assert_int_eq(test_sup_start(&s, small_config), 0);
	ck_assert_int_ge(test_sup_fd(&s, "region.r"), 0);
	ck_assert_int_ge(test_sup_fd(&s, "listen"), 0);
	ck_assert_int_ge(test_sup_fd(&s, "lock"), 0);
	ino = hold_canary(s.socket, &off, &conn);
	test_sup_kill(&s);
	close(conn);

	/* Nobody serves, and yet the path is taken: the store holds the lock
	 * (and the socket, so the file is not stale either). */
	{
		const char *argv[] = {test_build_path("daemon/allocatord", bin, sizeof(bin)),
				      "--no-keeper", "-s", s.socket, NULL};

		ck_assert_int_eq(test_run(argv, out, sizeof(out), err, sizeof(err)), 1);
		ck_assert_msg(strstr(err, "another allocatord is serving") != NULL, "%s", err);
		ck_assert_msg(strstr(err, "(it holds") != NULL, "%s", err);
	}
	ck_assert_int_eq(test_sup_restart(&s), 0);
	same_region(s.socket, ino, off);

	/* Under systemd's store SIGTERM leaves everything to the next start. */
	ck_assert_int_eq(test_sup_term(&s), 0);
	ck_assert_int_eq(access(s.socket, F_OK), 0);
	ck_assert_int_eq(test_sup_restart(&s), 0);
	same_region(s.socket, ino, off);
	test_sup_fini(&s);
}
END_TEST

/* Wait (up to 10 s) until the store has (or has not) name. */
static bool store_has(struct test_sup *s, const char *name, bool want)
{
	for (int i = 0; i < 1000; i++) {
		test_sup_collect(s);
		if ((test_sup_fd(s, name) >= 0) == want)
			return true;
		usleep(10000);
	}
	return false;
}

/* A region a reload adds goes into the store, one it removes leaves it,
 * so the store holds what the running configuration serves. */
START_TEST(test_takeover_reload_keeps_the_store_in_step)
{
	static const char two[] =
	    "regions = ({ name = \"r\"; pools = ({ name = \"p\"; block_size = 64; blocks = 64; "
	    "}); },\n"
	    "           { name = \"r2\"; pools = ({ name = \"p2\"; block_size = 64; blocks = 64; "
	    "}); });\n";
	struct test_sup s;

	ck_assert_int_eq(test_sup_start(&s, small_config), 0);
	ck_assert_int_lt(test_sup_fd(&s, "region.r2"), 0);
	ck_assert_int_eq(test_write_file(s.config, two), 0);
	ck_assert_int_eq(kill(s.pid, SIGHUP), 0);
	ck_assert_msg(store_has(&s, "region.r2", true), "region.r2 not stored");
	ck_assert_int_eq(test_write_file(s.config, small_config), 0);
	ck_assert_int_eq(kill(s.pid, SIGHUP), 0);
	ck_assert_msg(store_has(&s, "region.r2", false), "region.r2 still stored");
	ck_assert_int_ge(test_sup_fd(&s, "region.r"), 0);
	test_sup_fini(&s);
}
END_TEST

/* Take what the supervisor stores under name out of its store: the fd,
 * the caller's now. */
static int sup_take(struct test_sup *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->fds[i].name, name) == 0) {
			int fd = s->fds[i].fd;

			s->fds[i] = s->fds[--s->n];
			return fd;
		}
	return -1;
}

/* A region memfd taken over must be what the configuration describes: a
 * size that differs, or a memfd not sealed as allocatord seals regions, is
 * refused naming the region -- and the memfd stays in the store, so the
 * start can be tried again with the right configuration. The state (what
 * the books' indices mean, state.h) names a layout change first; without
 * it the region's own check does. */
START_TEST(test_takeover_refuses_a_region_that_does_not_fit)
{
	static const char two[] =
	    "regions = ({ name = \"r\"; pools = ({ name = \"p\"; block_size = 64; blocks = 64; "
	    "}); },\n"
	    "           { name = \"r2\"; pools = ({ name = \"p2\"; block_size = 64; blocks = 64; "
	    "}); });\n";
	static const char bigger[] =
	    "regions = ({ name = \"r\"; pools = ({ name = \"p\"; block_size = 64; blocks = 64; "
	    "}); },\n"
	    "           { name = \"r2\"; pools = ({ name = \"p2\"; block_size = 64; blocks = 128; "
	    "}); });\n";
	struct test_sup s;
	struct stat st;
	uint64_t off;
	struct memfd_ids ino;
	int conn, fake, kept, state;

	ck_assert_int_eq(test_sup_start(&s, two), 0);
	ino = hold_canary(s.socket, &off, &conn);
	test_sup_kill(&s);
	close(conn);

	/* The state sees p2 grown before any region is adopted. */
	ck_assert_int_eq(test_write_file(s.config, bigger), 0);
	ck_assert_int_eq(test_sup_restart(&s), -1);
	ck_assert(test_file_has(
	    s.log, "state: pool 'p2' is 64 blocks of 64 B at offset 0 (shared bits "
		   "at 0) in the state, 128 blocks of 64 B at offset 0 (shared bits at "
		   "0) in "));
	ck_assert(test_file_has(s.log, "start with --discard-state to drop the state"));
	ck_assert_int_ge(test_sup_fd(&s, "state"), 0);

	/* Without a state: r is taken over, then r2 does not fit: r stays in
	 * the store */
	state = sup_take(&s, "state");
	ck_assert_int_eq(test_sup_restart(&s), -1);
	ck_assert(test_file_has(s.log, "region 'r2': the memfd taken over is"));
	ck_assert_int_eq(fstat(test_sup_fd(&s, "region.r"), &st), 0);
	ck_assert_uint_eq(st.st_ino, ino.region);
	ck_assert_int_eq(fstat(test_sup_fd(&s, "bits.r"), &st), 0);
	ck_assert_uint_eq(st.st_ino, ino.bits);

	/* right size, no seals: not a region allocatord made */
	ck_assert_int_eq(test_write_file(s.config, two), 0);
	kept = dup(test_sup_fd(&s, "region.r"));
	fake = memfd_create("r", MFD_CLOEXEC);
	ck_assert_int_eq(ftruncate(fake, 4096), 0);
	for (size_t i = 0; i < s.n; i++)
		if (strcmp(s.fds[i].name, "region.r") == 0) {
			close(s.fds[i].fd);
			s.fds[i].fd = fake;
		}
	ck_assert_int_eq(test_sup_restart(&s), -1);
	ck_assert(test_file_has(s.log, "region 'r': the memfd taken over is not sealed"));
	s.fds[s.n].fd = state; /* the state back, as it was */
	snprintf(s.fds[s.n++].name, sizeof(s.fds[0].name), "state");

	for (size_t i = 0; i < s.n; i++)
		if (strcmp(s.fds[i].name, "region.r") == 0) {
			close(s.fds[i].fd);
			s.fds[i].fd = kept;
		}
	ck_assert_int_eq(test_sup_restart(&s), 0);
	same_region(s.socket, ino, off);
	test_sup_fini(&s);
}
END_TEST

/* The keeper's notify socket is abstract: anyone may send to it. Only the
 * serving process is obeyed -- a stranger's FDSTOREREMOVE is ignored, and
 * the region survives the next kill -9. */
START_TEST(test_takeover_keeper_obeys_only_the_serving_process)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	static const char rm[] = "FDSTOREREMOVE=1\nFDNAME=region.r";
	char path[64], env[8192], *notify = NULL, log[65536];
	struct test_daemon td;
	pid_t first;
	uint64_t off;
	struct memfd_ids ino;
	size_t n;
	int conn, fd, tx;
	FILE *f;

	ck_assert_int_eq(test_daemon_start_keeper(&td, NULL, small_config, NULL), 0);
	first = test_daemon_next_serving(&td, 0);
	ck_assert_int_gt(first, 0);
	ino = hold_canary(td.socket, &off, &conn);
	/* The keeper's socket, from the environment it gave the serving
	 * process (which unset it in its own copy, not in /proc's). */
	snprintf(path, sizeof(path), "/proc/%d/environ", (int) first);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(env, 1, sizeof(env) - 1, f);
	fclose(f);
	env[n] = '\0';
	for (size_t i = 0; i < n; i += strlen(env + i) + 1)
		if (strncmp(env + i, "NOTIFY_SOCKET=@", 15) == 0)
			notify = env + i + 14;
	ck_assert_ptr_nonnull(notify);
	memcpy(sun.sun_path + 1, notify + 1, strlen(notify) - 1);
	tx = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	fd = (int) sendto(tx, rm, strlen(rm), 0, (struct sockaddr *) &sun,
			  (socklen_t) (offsetof(struct sockaddr_un, sun_path) + strlen(notify)));
	ck_assert_int_eq(fd, (int) strlen(rm));
	close(tx);

	ck_assert_int_eq(kill(first, SIGKILL), 0);
	ck_assert_int_gt(test_daemon_next_serving(&td, first), 0);
	same_region(td.socket, ino, off);
	close(conn);
	test_daemon_log(&td, log, sizeof(log));
	ck_assert_msg(strstr(log, "keeper: ignored a message from pid") != NULL, "%s", log);
	ck_assert_int_eq(test_daemon_stop(&td), 0);
}
END_TEST

/* The serving process of the keeper started as pid keeper, other than old. */
static pid_t child_of(pid_t keeper, pid_t old)
{
	struct test_daemon td = {.pid = keeper, .keeper = true};

	return test_daemon_next_serving(&td, old);
}

/* Socket activation without NOTIFY_SOCKET (a Type=simple unit with a
 * socket unit): the keeper takes the socket it is passed and hands it to
 * every serving process it starts; the file stays systemd's. */
START_TEST(test_takeover_keeper_passes_an_activated_socket_on)
{
	char dir[] = "/tmp/allocatord-act.XXXXXX", sock[64], other[64], cfg[64], log[64];
	char bin[512], me[16], seen[sizeof(canary)];
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	pid_t keeper, first, next;
	int lfd, status;
	struct memfd_ids ino;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/sock", dir);
	snprintf(other, sizeof(other), "%s/not-this", dir);
	snprintf(cfg, sizeof(cfg), "%s/allocatord.conf", dir);
	snprintf(log, sizeof(log), "%s/log", dir);
	ck_assert_int_eq(test_write_file(cfg, small_config), 0);
	memcpy(sun.sun_path, sock, strlen(sock) + 1);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *) &sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(lfd, 16), 0);
	test_build_path("daemon/allocatord", bin, sizeof(bin));
	keeper = fork();
	ck_assert_int_ge(keeper, 0);
	if (keeper == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(fd, STDERR_FILENO);
		dup2(lfd, 3);
		snprintf(me, sizeof(me), "%d", (int) getpid());
		setenv("LISTEN_FDS", "1", 1);
		setenv("LISTEN_PID", me, 1);
		unsetenv("NOTIFY_SOCKET");
		unsetenv("ALLOCATORD_SOCKET");
		execl(bin, bin, "-c", cfg, "-s", other, (char *) NULL);
		_exit(127);
	}
	close(lfd);
	first = child_of(keeper, 0);
	ck_assert_int_gt(first, 0);
	ino = region_look(sock, 0, seen);
	ck_assert_int_eq(kill(first, SIGKILL), 0);
	next = child_of(keeper, first);
	ck_assert_int_gt(next, 0);
	ck_assert(ids_eq(region_look(sock, 0, seen), ino));
	ck_assert_int_eq(access(other, F_OK), -1);
	ck_assert_int_eq(kill(keeper, SIGTERM), 0);
	ck_assert_int_eq(waitpid(keeper, &status, 0), keeper);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_eq(access(sock, F_OK), 0); /* systemd's file */
	unlink(sock);
	unlink(cfg);
	unlink(log);
	rmdir(dir);
}
END_TEST

Suite *takeover_suite(void)
{
	Suite *s = suite_create("takeover");
	TCase *tc = tcase_create("takeover");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_takeover_fdstore_sends_the_protocol);
	tcase_add_test(tc, test_takeover_fdstore_receives_by_name);
	tcase_add_test(tc, test_takeover_keeper_restarts_after_kill);
	tcase_add_test(tc, test_takeover_keeper_does_not_loop_on_a_failed_start);
	tcase_add_test(tc, test_takeover_keeper_sigterm_stops_cleanly);
	tcase_add_test(tc, test_takeover_upgrade_runs_the_binary_on_disk);
	tcase_add_test(tc, test_takeover_fd_store_outlives_every_process);
	tcase_add_test(tc, test_takeover_reload_keeps_the_store_in_step);
	tcase_add_test(tc, test_takeover_refuses_a_region_that_does_not_fit);
	tcase_add_test(tc, test_takeover_keeper_obeys_only_the_serving_process);
	tcase_add_test(tc, test_takeover_keeper_passes_an_activated_socket_on);
	suite_add_tcase(s, tc);
	return s;
}
