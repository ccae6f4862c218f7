/*
 * The daemon-per-test fixture of the client and memctl suites: see
 * client_fixture.h.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/common/client_fixture.h"

const char client_test_config[] =
    "log_level = \"warn\";\n"
    "socket = { mode = \"0666\"; };\n"
    "regions = (\n"
    "  { name = \"main\";\n"
    "    pools = (\n"
    "      { name = \"small\"; block_size = 256; blocks = 64; },\n"
    "      { name = \"packets\"; block_size = 1536; blocks = 32; align = 512; },\n"
    "      { name = \"quota\"; block_size = 128; blocks = 32; client_quota = 4; },\n"
    "      { name = \"big\"; block_size = 64; blocks = 32768; },\n"
    "      { name = \"bulk_small\"; block_size = 64; blocks = 8192; },\n"
    "      { name = \"bulk_large\"; block_size = 128; blocks = 24576; },\n"
    "      { name = \"g_a\"; block_size = 64; blocks = 16; },\n"
    "      { name = \"g_b\"; block_size = 256; blocks = 16; },\n"
    "      { name = \"g_c\"; block_size = 1024; blocks = 8; }\n"
    "    );\n"
    "    heaps = (\n"
    "      { name = \"heap\"; size = \"1M\"; granule = 64; },\n"
    "      { name = \"qheap\"; size = \"64K\"; granule = 64; client_quota = \"4K\"; }\n"
    "    );\n"
    "  },\n"
    "  { name = \"second\";\n"
    "    pools = ( { name = \"other\"; block_size = \"4K\"; blocks = 4; } );\n"
    "  },\n"
    "  { name = \"private\"; allow_uids = ( 0 );\n"
    "    pools = ( { name = \"secret\"; block_size = 256; blocks = 4; } );\n"
    "  }\n"
    ");\n"
    "groups = (\n"
    "  { name = \"g_size\"; pools = [ \"g_a\", \"g_b\", \"g_c\" ]; choice = \"by_size\"; },\n"
    "  { name = \"g_rr\"; pools = [ \"g_a\", \"g_b\", \"g_c\" ]; choice = \"round_robin\"; },\n"
    "  { name = \"g_most\"; pools = [ \"g_a\", \"g_b\", \"g_c\" ]; choice = \"most_free\"; },\n"
    "  { name = \"g_idx\"; pools = [ \"g_a\", \"g_b\", \"g_c\" ]; choice = \"index\"; },\n"
    "  { name = \"g_bulk\"; pools = [ \"bulk_small\", \"bulk_large\" ]; choice = \"by_size\"; }\n"
    ");\n";

/*
 * The daemon of the test that is running, so that it does not outlive a
 * failed test: Check ends a failed test's process with exit(), which runs
 * kill_running. A copy, not a pointer: with CK_FORK=no a failed test
 * longjmps out and its struct test_daemon is gone. The one piece of
 * mutable global state here, because exit handlers take no argument.
 */
static struct test_daemon running;

static void kill_running(void)
{
	if (running.pid > 0)
		test_daemon_kill(&running);
	running.pid = 0;
}

TCase *client_tcase(const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_set_timeout(tc, 30);
	return tc;
}

void client_start(struct test_daemon *td, const char *config)
{
	/* In one process (CK_FORK=no) a failed test leaves its daemon here. */
	kill_running();
	ck_assert_int_eq(test_daemon_start(td, config ? config : client_test_config, NULL), 0);
	running = *td;
}

void client_start_keeper(struct test_daemon *td, const char *config, const char *const *args)
{
	kill_running();
	ck_assert_int_eq(test_daemon_start_keeper(td, NULL, config, args), 0);
	running = *td;
}

int client_wait_exit(struct test_daemon *td)
{
	struct timespec tick = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
	int status = 0;
	pid_t r = 0;

	for (int i = 0; i < 1000 && r == 0; i++) {
		r = waitpid(td->pid, &status, WNOHANG);
		if (r == 0)
			nanosleep(&tick, NULL);
	}
	ck_assert_msg(r == td->pid, "allocatord (pid %d) did not exit within 10 s", (int) td->pid);
	running.pid = 0;
	td->pid = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void client_stop(struct test_daemon *td)
{
	running.pid = 0;
	ck_assert_int_eq(test_daemon_stop(td), 0);
}

void client_kill(struct test_daemon *td)
{
	running.pid = 0;
	test_daemon_kill(td);
}

mc_client_t *client_connect(const struct test_daemon *td)
{
	mc_client_t *c = NULL;
	int rc = mc_connect(td->socket, &c);

	ck_assert_msg(rc == 0, "mc_connect(%s) = %d (%s)", td->socket, rc, strerror(-rc));
	ck_assert_ptr_nonnull(c);
	return c;
}

uint64_t client_used(mc_client_t *c, const char *name)
{
	struct mc_stats st;
	size_t n = 0;
	int rc = mc_stats(c, name, &st, 1, &n);

	ck_assert_msg(rc == 0, "mc_stats(%s) = %d (%s)", name, rc, strerror(-rc));
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(st.info.name, name);
	return st.info.used;
}

uint64_t client_wait_used(mc_client_t *c, const char *name, uint64_t want, int ms)
{
	struct timespec tick = {.tv_sec = 0, .tv_nsec = 5 * 1000 * 1000};
	uint64_t used = client_used(c, name);

	for (int waited = 0; used != want && waited < ms; waited += 5) {
		nanosleep(&tick, NULL);
		used = client_used(c, name);
	}
	return used;
}

void client_silent_start(struct silent_listener *s)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int l;

	snprintf(s->dir, sizeof(s->dir), "/tmp/mc-silent-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(s->dir));
	snprintf(s->socket, sizeof(s->socket), "%s/silent.sock", s->dir);
	memcpy(sun.sun_path, s->socket, strlen(s->socket) + 1);
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(l, 0);
	/* Bound and listening before the fork: connects queue from now on. */
	ck_assert_int_eq(bind(l, (struct sockaddr *) &sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(l, 16), 0);
	s->pid = fork();
	ck_assert_int_ge(s->pid, 0);
	if (s->pid == 0) {
		/* Accept and keep every connection open, say nothing. */
		for (;;)
			if (accept(l, NULL, NULL) < 0 && errno != EINTR)
				_exit(1);
	}
	close(l);
}

void client_silent_stop(struct silent_listener *s)
{
	kill(s->pid, SIGKILL);
	client_wait_child(s->pid);
	unlink(s->socket);
	rmdir(s->dir);
}

void client_pause(const struct test_daemon *td, bool stop)
{
	ck_assert_int_eq(kill(td->pid, stop ? SIGSTOP : SIGCONT), 0);
}

int client_wait_child(pid_t pid)
{
	int status;
	pid_t r;

	do
		r = waitpid(pid, &status, 0);
	while (r < 0 && errno == EINTR);
	ck_assert_int_eq(r, pid);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

int client_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

bool client_read_full(int fd, void *buf, size_t len)
{
	for (size_t got = 0; got < len;) {
		ssize_t n = read(fd, (char *) buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		got += (size_t) n;
	}
	return true;
}

bool client_write_full(int fd, const void *buf, size_t len)
{
	for (size_t put = 0; put < len;) {
		ssize_t n = write(fd, (const char *) buf + put, len - put);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		put += (size_t) n;
	}
	return true;
}

/* CK_RUN_SUITE / CK_RUN_CASE select a part; CK_FORK=no runs in one process
 * (for valgrind and gdb). */
int client_run_suites(Suite *first, ...)
{
	SRunner *sr = srunner_create(first);
	Suite *s;
	va_list ap;
	int failed;

	atexit(kill_running);
	va_start(ap, first);
	while ((s = va_arg(ap, Suite *)) != NULL)
		srunner_add_suite(sr, s);
	va_end(ap);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
