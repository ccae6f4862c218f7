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
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/common/daemon_proc.h"
#include "tests/daemon/check_daemon.h"
#include "tests/daemon/raw_client.h"

static const char small_config[] =
    "regions = ({ name = \"r\"; pools = ({ name = \"p\"; block_size = 64; blocks = 8; }); });\n";

/* A scratch directory with a config file; tests put sockets in it. */
struct scratch {
	char dir[64];
	char config[96];
	char sock[96];
};

static void scratch_make(struct scratch *sc)
{
	FILE *f;

	snprintf(sc->dir, sizeof(sc->dir), "/tmp/allocatord-sock.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(sc->dir));
	chmod(sc->dir, 0755);
	snprintf(sc->config, sizeof(sc->config), "%s/conf", sc->dir);
	snprintf(sc->sock, sizeof(sc->sock), "%s/s", sc->dir);
	f = fopen(sc->config, "w");
	ck_assert_ptr_nonnull(f);
	fputs(small_config, f);
	fclose(f);
}

/* Remove the scratch directory and whatever a test left in it. */
static void scratch_remove(struct scratch *sc)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", sc->dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* allocatord -c config -s sock, stderr to errfile; with listen_fd >= 0 it
 * gets that descriptor as 3 with LISTEN_FDS=1 and LISTEN_PID its own pid,
 * as systemd passes a socket. Returns once the child has exec'd: before,
 * it still has Check's signal handlers, which take a SIGTERM out on the
 * whole test. */
static pid_t spawn(const struct scratch *sc, const char *sock, int listen_fd, const char *errfile)
{
	char bin[512], c;
	int gate[2];
	pid_t pid;

	ck_assert_int_eq(pipe2(gate, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		char me[16];

		close(gate[0]);
		dup2(fd, STDERR_FILENO);
		dup2(fd, STDOUT_FILENO);
		unsetenv("ALLOCATORD_SOCKET");
		if (listen_fd >= 0) {
			dup2(listen_fd, 3);
			snprintf(me, sizeof(me), "%d", (int) getpid());
			setenv("LISTEN_FDS", "1", 1);
			setenv("LISTEN_PID", me, 1);
		}
		execl(test_build_path("daemon/allocatord", bin, sizeof(bin)), "allocatord",
		      "--no-keeper", "-c", sc->config, "-s", sock, (char *) NULL);
		_exit(127);
	}
	close(gate[1]);
	ck_assert_int_eq(read(gate[0], &c, 1), 0); /* EOF: exec closed it */
	close(gate[0]);
	return pid;
}

/* Does something accept on path? */
static int accepts(const char *path)
{
	int fd = raw_connect(path);

	if (fd >= 0)
		close(fd);
	return fd >= 0;
}

/* Wait (up to 20 s) until pid accepts on path or exits; 1 if it serves,
 * 0 if it exited (its wait status in *status when not NULL). */
static int serves(pid_t pid, const char *path, int *status)
{
	for (int i = 0; i < 2000; i++) {
		if (waitpid(pid, status, WNOHANG) == pid)
			return 0;
		if (accepts(path))
			return 1;
		usleep(10000);
	}
	return 0;
}

/* SIGTERM pid and its exit status (-1 if it died of a signal). */
static int term(pid_t pid)
{
	int status;

	kill(pid, SIGTERM);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

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

/* Daemons started together on one path: exactly one serves, every other
 * exits 1 saying why, and no exit or SIGTERM of a loser takes the winner's
 * socket. Several rounds, since the old race needed luck. */
START_TEST(test_socket_simultaneous_starts_one_serves)
{
	enum { ROUNDS = 6, N = 8 };
	struct scratch sc;
	char errs[N][128];
	int status[N];
	pid_t pid[N];

	scratch_make(&sc);
	for (int round = 0; round < ROUNDS; round++) {
		int running = 0, winner = -1;

		for (int i = 0; i < N; i++) {
			snprintf(errs[i], sizeof(errs[i]), "%s/err%d", sc.dir, i);
			pid[i] = spawn(&sc, sc.sock, -1, errs[i]);
		}
		/* Every process either serves or exits: wait until all but
		 * one have exited (20 s at most), then look at each. */
		for (int t = 0, gone = 0; t < 2000 && gone < N - 1; t++) {
			for (int i = 0; i < N; i++)
				if (pid[i] > 0 && waitpid(pid[i], &status[i], WNOHANG) == pid[i]) {
					pid[i] = -pid[i];
					gone++;
				}
			if (gone < N - 1)
				usleep(10000);
		}
		for (int i = 0; i < N; i++) {
			if (pid[i] > 0) {
				running++;
				winner = i;
				continue;
			}
			ck_assert_msg(WIFEXITED(status[i]) && WEXITSTATUS(status[i]) == 1,
				      "loser %d: status %d", i, status[i]);
			ck_assert_msg(test_file_has(errs[i], "another allocatord is serving"),
				      "loser %d said something else", i);
		}
		ck_assert_int_eq(running, 1);
		ck_assert(accepts(sc.sock));
		/* a late starter stopped at once does not take the socket */
		pid[(winner + 1) % N] = spawn(&sc, sc.sock, -1, errs[0]);
		term(pid[(winner + 1) % N]);
		ck_assert(accepts(sc.sock));
		ck_assert_int_eq(term(pid[winner]), 0);
		ck_assert_int_eq(access(sc.sock, F_OK), -1);
	}
	scratch_remove(&sc);
}
END_TEST

/* The lock decides, not the socket file: with the lock held by someone
 * else and no socket there, a daemon still refuses the path. */
START_TEST(test_socket_lock_held_means_busy)
{
	struct scratch sc;
	char lock[128], err[128];
	pid_t pid;
	int fd, status;

	scratch_make(&sc);
	snprintf(lock, sizeof(lock), "%s.lock", sc.sock);
	snprintf(err, sizeof(err), "%s/err", sc.dir);
	fd = open(lock, O_RDWR | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(flock(fd, LOCK_EX), 0);
	pid = spawn(&sc, sc.sock, -1, err);
	if (serves(pid, sc.sock, &status)) {
		term(pid);
		ck_abort_msg("served with the lock held by another");
	}
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	ck_assert_msg(test_file_has(err, "another allocatord is serving"), "wrong error");
	ck_assert_int_eq(access(sc.sock, F_OK), -1);
	close(fd);
	scratch_remove(&sc);
}
END_TEST

/* At the stop a daemon removes its socket file only if it is still the one
 * it bound: here someone else's socket has taken the path meanwhile. */
START_TEST(test_socket_stop_keeps_a_socket_that_is_not_ours)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct scratch sc;
	char err[128];
	pid_t pid;
	int other;

	scratch_make(&sc);
	snprintf(err, sizeof(err), "%s/err", sc.dir);
	pid = spawn(&sc, sc.sock, -1, err);
	ck_assert(serves(pid, sc.sock, NULL));
	ck_assert_int_eq(unlink(sc.sock), 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sc.sock);
	other = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(other, (struct sockaddr *) &sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(other, 4), 0);
	ck_assert_int_eq(term(pid), 0);
	ck_assert(accepts(sc.sock));
	close(other);
	scratch_remove(&sc);
}
END_TEST

/* Start a daemon with its socket in dir; 1 and the message in err if it
 * refused to start, 0 if it served (then it is stopped). */
static int refused_in(struct scratch *sc, const char *dir, char *err, size_t errlen)
{
	char sock[128], errfile[128];
	pid_t pid;
	int served;

	snprintf(sock, sizeof(sock), "%s/s", dir);
	snprintf(errfile, sizeof(errfile), "%s/err", sc->dir);
	pid = spawn(sc, sock, -1, errfile);
	served = serves(pid, sock, NULL);
	if (served)
		ck_assert_int_eq(term(pid), 0);
	err[0] = '\0';
	{
		FILE *f = fopen(errfile, "r");
		size_t n = f ? fread(err, 1, errlen - 1, f) : 0;

		err[n] = '\0';
		if (f)
			fclose(f);
	}
	return !served;
}

/* A user who can write the socket's directory could swap the socket file
 * for a link between bind and chgrp: such a directory is refused. Here uid
 * 65534 owns one directory and keeps swapping links into it, and another is
 * writable by everyone; a root-owned sticky one (like /tmp) is fine. */
START_TEST(test_socket_refuses_a_directory_others_can_write)
{
	struct scratch sc;
	char dir[128], target[128], link_at[160], err[1024];
	struct stat st;
	pid_t attacker;

	scratch_make(&sc);
	snprintf(target, sizeof(target), "%s/precious", sc.dir);
	ck_assert_int_eq(close(open(target, O_WRONLY | O_CREAT, 0600)), 0);

	snprintf(dir, sizeof(dir), "%s/nobody", sc.dir);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	ck_assert_int_eq(chown(dir, 65534, 65534), 0);
	snprintf(link_at, sizeof(link_at), "%s/s", dir);
	attacker = fork();
	ck_assert_int_ge(attacker, 0);
	if (attacker == 0) {
		if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
			_exit(99);
		for (;;) {
			unlink(link_at);
			symlink(target, link_at);
		}
	}
	ck_assert_int_eq(refused_in(&sc, dir, err, sizeof(err)), 1);
	kill(attacker, SIGKILL);
	waitpid(attacker, NULL, 0);
	ck_assert_msg(strstr(err, "belongs to uid 65534") != NULL, "%s", err);
	ck_assert_int_eq(stat(target, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);

	snprintf(dir, sizeof(dir), "%s/open", sc.dir);
	ck_assert_int_eq(mkdir(dir, 0), 0);
	ck_assert_int_eq(chmod(dir, 0777), 0);
	ck_assert_int_eq(refused_in(&sc, dir, err, sizeof(err)), 1);
	ck_assert_msg(strstr(err, "writable by everyone") != NULL, "%s", err);

	snprintf(dir, sizeof(dir), "%s/group", sc.dir);
	ck_assert_int_eq(mkdir(dir, 0), 0);
	ck_assert_int_eq(chmod(dir, 0770), 0);
	ck_assert_int_eq(refused_in(&sc, dir, err, sizeof(err)), 1);
	ck_assert_msg(strstr(err, "writable by its group") != NULL, "%s", err);

	snprintf(dir, sizeof(dir), "%s/sticky", sc.dir);
	ck_assert_int_eq(mkdir(dir, 0), 0);
	ck_assert_int_eq(chmod(dir, 01777), 0);
	ck_assert_int_eq(refused_in(&sc, dir, err, sizeof(err)), 0);
	scratch_remove(&sc);
}
END_TEST

/* A relative path (-s s) names a socket in the current directory, whose
 * trust is checked like any other: served in a safe one, refused in one
 * everyone can write. */
START_TEST(test_socket_relative_path)
{
	struct scratch sc;
	char err[128], open_dir[128];
	struct stat st;
	pid_t pid;
	int status;

	scratch_make(&sc);
	snprintf(err, sizeof(err), "%s/err", sc.dir);
	ck_assert_int_eq(chdir(sc.dir), 0);
	pid = spawn(&sc, "s", -1, err);
	ck_assert(serves(pid, sc.sock, NULL));
	ck_assert_int_eq(lstat(sc.sock, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(term(pid), 0);

	snprintf(open_dir, sizeof(open_dir), "%s/open", sc.dir);
	ck_assert_int_eq(mkdir(open_dir, 0), 0);
	ck_assert_int_eq(chmod(open_dir, 0777), 0);
	ck_assert_int_eq(chdir(open_dir), 0);
	pid = spawn(&sc, "s", -1, err);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	ck_assert_msg(test_file_has(err, "socket directory . is writable by everyone"),
		      "wrong error");
	ck_assert_int_eq(chdir("/"), 0);
	scratch_remove(&sc);
}
END_TEST

/* The socket file swapped for a link right after bind (the shim
 * swap_after_bind plays the attacker at the worst moment): the daemon must
 * not change the link's target -- mode and group are not set by a path that
 * follows links -- and must not serve on a path that is not its socket. */
START_TEST(test_socket_mode_and_group_never_follow_a_link)
{
	static const char cfg[] = "socket = { mode = \"0666\"; group = \"65534\"; };\n"
				  "regions = ({ name = \"r\"; pools = ({ name = \"p\"; "
				  "block_size = 64; blocks = 8; }); });\n";
	struct scratch sc;
	char target[128], err[128], shim[512];
	struct stat st;
	pid_t pid;
	int status;

#if defined(ALLOCATORD_SANITIZERS)
	fprintf(stderr, "skipped: an LD_PRELOAD shim cannot come before ASan's runtime\n");
	return;
#endif
	scratch_make(&sc);
	snprintf(target, sizeof(target), "%s/precious", sc.dir);
	snprintf(err, sizeof(err), "%s/err", sc.dir);
	ck_assert_int_eq(close(open(target, O_WRONLY | O_CREAT, 0600)), 0);
	{
		FILE *f = fopen(sc.config, "w");

		ck_assert_ptr_nonnull(f);
		fputs(cfg, f);
		fclose(f);
	}
	setenv("LD_PRELOAD",
	       test_build_path("tests/daemon/plugins/.libs/swap_after_bind.so", shim, sizeof(shim)),
	       1);
	setenv("ALLOCATORD_SWAP_TARGET", target, 1);
	pid = spawn(&sc, sc.sock, -1, err);
	unsetenv("LD_PRELOAD");
	unsetenv("ALLOCATORD_SWAP_TARGET");
	if (serves(pid, sc.sock, &status)) {
		term(pid);
		ck_abort_msg("served on a path that is a link");
	}
	ck_assert_int_eq(stat(target, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_uint_eq(st.st_gid, 0);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	ck_assert_msg(test_file_has(err, "was replaced right after bind"), "wrong error");
	scratch_remove(&sc);
}
END_TEST

/* A listening socket on path, as systemd's allocatord.socket makes it. */
static int listener_at(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *) &sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(fd, 16), 0);
	return fd;
}

/* Socket activation: the daemon serves on the socket it is given (not on
 * -s), and leaves its file, systemd's, at the stop. */
START_TEST(test_socket_activation_serves_on_the_passed_socket)
{
	struct scratch sc;
	char other[128], err[128];
	pid_t pid;
	int lfd, fd;

	scratch_make(&sc);
	snprintf(other, sizeof(other), "%s/not-this", sc.dir);
	snprintf(err, sizeof(err), "%s/err", sc.dir);
	lfd = listener_at(sc.sock);
	pid = spawn(&sc, other, lfd, err);
	close(lfd);
	fd = raw_connect(sc.sock);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(raw_hello(fd, NULL, NULL), 0);
	ck_assert_int_eq(raw_alloc(fd, 2, "p", 1, NULL), 0);
	close(fd);
	ck_assert_int_eq(access(other, F_OK), -1);
	ck_assert_int_eq(term(pid), 0);
	ck_assert_msg(test_file_has(err, "passed by systemd"), "no activation line");
	ck_assert_int_eq(access(sc.sock, F_OK), 0);
	scratch_remove(&sc);
}
END_TEST

/* LISTEN_FDS without a listening socket is a clear error, not a silent
 * fallback to a path of its own. */
START_TEST(test_socket_activation_without_a_listener_is_refused)
{
	struct scratch sc;
	char err[128];
	pid_t pid;
	int fd, status;

	scratch_make(&sc);
	snprintf(err, sizeof(err), "%s/err", sc.dir);
	fd = open("/dev/null", O_RDONLY);
	pid = spawn(&sc, sc.sock, fd, err);
	close(fd);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	ck_assert_msg(test_file_has(err, "no listening Unix stream socket"), "wrong error");
	ck_assert_int_eq(access(sc.sock, F_OK), -1);
	scratch_remove(&sc);
}
END_TEST

Suite *socket_suite(void)
{
	Suite *s = suite_create("socket");
	TCase *tc = tcase_create("socket");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_socket_simultaneous_starts_one_serves);
	tcase_add_test(tc, test_socket_lock_held_means_busy);
	tcase_add_test(tc, test_socket_stop_keeps_a_socket_that_is_not_ours);
	tcase_add_test(tc, test_socket_relative_path);
	tcase_add_test(tc, test_socket_activation_serves_on_the_passed_socket);
	tcase_add_test(tc, test_socket_activation_without_a_listener_is_refused);
	if (geteuid() == 0) /* other uids and groups need root */
		tcase_add_test(tc, test_socket_peer_with_40_groups_keeps_access);
	if (geteuid() == 0) /* chown to another user */
		tcase_add_test(tc, test_socket_refuses_a_directory_others_can_write);
	if (geteuid() == 0) /* a group other than the daemon's own */
		tcase_add_test(tc, test_socket_mode_and_group_never_follow_a_link);
	suite_add_tcase(s, tc);
	return s;
}
