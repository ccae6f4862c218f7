/*
 * memctl's command line: watch and its terminal handling, errors and their
 * exit codes, command lookup, help and usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/memctl/memctl_fixture.h"
static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

START_TEST(test_memctl_watch_count)
{
	struct test_daemon td;
	mc_client_t *c = mt_start_known(&td);
	uint64_t t0 = now_ms();
	struct run r;

	mt_memctl(&r, td.socket, "watch", "--count", "2", "--interval", "0.1", "pools", NULL);
	mt_ok(&r);
	ck_assert_uint_ge(now_ms() - t0, 100); /* one interval between the two */
	ck_assert_int_eq(mt_count_of(r.out, "Every 0.1s: memctl pools "), 2);
	ck_assert_int_eq(mt_count_of(r.out, "\nsmall "), 2);
	/* Not a terminal: no escape sequences. */
	ck_assert_ptr_null(strchr(r.out, '\033'));
	mt_finish(&td, c);
}
END_TEST

/* Start memctl args... with stdout on out_fd and stderr on err_fd: the
 * build tree's, or with nobody_dir the private copy there
 * (mt_private_memctl) as uid (and gid) 65534. */
static pid_t spawn_memctl(int out_fd, int err_fd, const char *nobody_dir, const char *const *args)
{
	const char *argv[16];
	char bin[512];
	size_t argc = 0;
	pid_t pid;

	if (nobody_dir != NULL)
		snprintf(bin, sizeof(bin), "%s/memctl", nobody_dir);
	else
		test_build_path("memctl/memctl", bin, sizeof(bin));
	argv[argc++] = bin;
	for (size_t i = 0; args[i] != NULL && argc < 15; i++)
		argv[argc++] = args[i];
	argv[argc] = NULL;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (nobody_dir != NULL &&
		    (setenv("LD_LIBRARY_PATH", nobody_dir, 1) < 0 || setgroups(0, NULL) < 0 ||
		     setgid(65534) < 0 || setuid(65534) < 0))
			_exit(126);
		dup2(out_fd, STDOUT_FILENO);
		dup2(err_fd, STDERR_FILENO);
		execv(argv[0], (char *const *) argv);
		_exit(127);
	}
	return pid;
}

/* Wait up to ms for pid to exit: its exit status, or -1 (then killed). */
static int wait_exit(pid_t pid, int ms)
{
	int status;

	for (int waited = 0; waited < ms; waited += 10) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

/* Read what is in fd now (non-blocking) and append it to buf. */
static void gather(int fd, char *buf, size_t len)
{
	size_t have = strlen(buf);
	ssize_t n;

	while (have + 1 < len && (n = read(fd, buf + have, len - 1 - have)) > 0)
		have += (size_t) n;
	buf[have] = '\0';
}

START_TEST(test_memctl_watch_terminal_restored_on_sigterm)
{
	struct test_daemon td;
	mc_client_t *c = mt_start_known(&td);
	const char *args[] = {"-s", td.socket, "watch", "-i", "0.05", "pools", NULL};
	static const char restore[] = "\033[0m\033[?25h";
	static char out[OUT_MAX];
	int master, slave, status;
	pid_t pid;

	master = posix_openpt(O_RDWR | O_NOCTTY);
	ck_assert_int_ge(master, 0);
	ck_assert_int_eq(grantpt(master), 0);
	ck_assert_int_eq(unlockpt(master), 0);
	slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	ck_assert_int_ge(slave, 0);
	fcntl(master, F_SETFL, O_NONBLOCK);
	out[0] = '\0';
	pid = spawn_memctl(slave, slave, NULL, args);
	close(slave);
	/* Two refreshes drawn, then SIGTERM. */
	for (int i = 0; i < 500 && mt_count_of(out, "\033[H\033[2J") < 2; i++) {
		usleep(10000);
		gather(master, out, sizeof(out));
	}
	ck_assert_msg(mt_count_of(out, "\033[H\033[2J") >= 2, "no refreshes: %s", out);
	kill(pid, SIGTERM);
	status = wait_exit(pid, 5000);
	gather(master, out, sizeof(out));
	close(master);
	ck_assert_int_eq(status, 0);
	ck_assert_msg(strncmp(out, "\033[?25l", 6) == 0, "cursor not hidden first");
	ck_assert_msg(strlen(out) >= strlen(restore) &&
			  strcmp(out + strlen(out) - strlen(restore), restore) == 0,
		      "terminal not restored at the end: ...%s", out + strlen(out) - 20);
	ck_assert_msg(strstr(out, "small ") != NULL, "%s", out);
	mt_finish(&td, c);
}
END_TEST

START_TEST(test_memctl_watch_daemon_gone)
{
	struct test_daemon td;
	mc_client_t *c = mt_start_known(&td);
	const char *args[] = {"-s", td.socket, "watch", "--interval", "0.05", "pools", NULL};
	char efile[] = "/tmp/memctl-test-err.XXXXXX", out[OUT_MAX] = "", err[4096] = "";
	int efd = mkstemp(efile), po[2], status;
	ssize_t n;
	pid_t pid;

	ck_assert_int_ge(efd, 0);
	unlink(efile);
	ck_assert_int_eq(pipe(po), 0);
	fcntl(po[0], F_SETFL, O_NONBLOCK);
	pid = spawn_memctl(po[1], efd, NULL, args);
	close(po[1]);
	for (int i = 0; i < 500 && mt_count_of(out, "Every ") < 1; i++) {
		usleep(10000);
		gather(po[0], out, sizeof(out));
	}
	ck_assert_msg(mt_count_of(out, "Every ") >= 1, "no refresh: %s", out);
	mc_close(c);
	client_kill(&td);
	status = wait_exit(pid, 5000);
	gather(po[0], out, sizeof(out));
	close(po[0]);
	lseek(efd, 0, SEEK_SET);
	n = read(efd, err, sizeof(err) - 1);
	err[n > 0 ? n : 0] = '\0';
	close(efd);
	ck_assert_int_eq(status, 1);
	ck_assert_msg(strstr(err, "lost the connection to allocatord at ") != NULL, "%s", err);
	ck_assert_msg(strstr(err, td.socket) != NULL, "%s", err);
}
END_TEST

START_TEST(test_memctl_no_daemon)
{
	struct run r;

	mt_memctl(&r, "/nonexistent/allocatord.sock", "pools", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, "");
	ck_assert_msg(strstr(r.err, "memctl: cannot connect to /nonexistent/allocatord.sock: ") ==
			  r.err,
		      "%s", r.err);
	ck_assert_msg(strstr(r.err, "-s PATH") && strstr(r.err, "ALLOCATORD_SOCKET"), "%s", r.err);
}
END_TEST

START_TEST(test_memctl_env_socket_tried)
{
	struct run r;

	setenv("ALLOCATORD_SOCKET", "/nonexistent/from-env.sock", 1);
	mt_memctl(&r, NULL, "status", NULL);
	unsetenv("ALLOCATORD_SOCKET");
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "cannot connect to /nonexistent/from-env.sock: ") != NULL, "%s",
		      r.err);
}
END_TEST

START_TEST(test_memctl_env_socket_used)
{
	struct test_daemon td;
	mc_client_t *c = mt_start_known(&td);
	json_t *doc;
	struct run r;

	setenv("ALLOCATORD_SOCKET", td.socket, 1);
	mt_memctl(&r, NULL, "status", "--json", NULL);
	unsetenv("ALLOCATORD_SOCKET");
	doc = mt_parse(&r);
	ck_assert_int_eq(mt_jint(json_object_get(doc, "status"), "pid"), td.pid);
	json_decref(doc);
	mt_finish(&td, c);
}
END_TEST

START_TEST(test_memctl_unknown_pool)
{
	struct test_daemon td;
	mc_client_t *c = mt_start_known(&td);
	struct run r;

	mt_memctl(&r, td.socket, "map", "nope", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.err, "memctl: no pool named 'nope'\n");
	ck_assert_str_eq(r.out, "");
	/* A heap is not a pool. */
	mt_memctl(&r, td.socket, "map", "heap", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.err, "memctl: no pool named 'heap'\n");
	mt_memctl(&r, td.socket, "heaps", "small", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.err, "memctl: no heap named 'small'\n");
	mt_memctl(&r, td.socket, "clients", "--pool", "nope", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.err, "memctl: no pool or heap named 'nope'\n");
	mt_finish(&td, c);
}
END_TEST

/* As uid 65534, which region private does not admit, from a private copy
 * of memctl: the build tree may be below a directory only root can enter.
 * Becoming another user needs root; otherwise this test returns at once. */
START_TEST(test_memctl_permission_denied)
{
	struct test_daemon td;
	mc_client_t *c;
	char efile[] = "/tmp/memctl-test-err.XXXXXX", err[4096], dir[64], bin[128];
	const char *args[] = {"-s", NULL, "map", "secret", NULL};
	int efd, status;
	ssize_t n;
	pid_t pid;

	if (test_needs_root("memctl runs as another uid"))
		return;
	c = mt_start_known(&td);
	args[1] = td.socket;
	efd = mkstemp(efile);
	ck_assert_int_ge(efd, 0);
	unlink(efile);
	mt_private_memctl(dir, bin, sizeof(bin));
	pid = spawn_memctl(efd, efd, dir, args);
	status = wait_exit(pid, 5000);
	mt_private_memctl_remove(dir);
	lseek(efd, 0, SEEK_SET);
	n = read(efd, err, sizeof(err) - 1);
	err[n > 0 ? n : 0] = '\0';
	close(efd);
	ck_assert_msg(status == 1, "status %d: %s", status, err);
	ck_assert_str_eq(err, "memctl: pool 'secret': permission denied: its region does not"
			      " admit uid 65534\n");
	mt_finish(&td, c);
}
END_TEST

START_TEST(test_memctl_unknown_command)
{
	struct run r;

	mt_memctl(&r, "/nonexistent/allocatord.sock", "pols", NULL);
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(strstr(r.err, "memctl: unknown command: 'pols'\n") == r.err, "%s", r.err);
	ck_assert_msg(strstr(r.err, "did you mean 'pools'?") != NULL, "%s", r.err);
	ck_assert_str_eq(r.out, "");
}
END_TEST

START_TEST(test_memctl_ambiguous_prefix)
{
	struct run r;

	mt_memctl(&r, "/nonexistent/allocatord.sock", "stat", NULL);
	ck_assert_int_eq(r.status, 2);
	ck_assert_str_eq(r.err, "memctl: ambiguous command: stat, could be: status, stats\n");
}
END_TEST

START_TEST(test_memctl_unique_prefix_and_alias)
{
	struct test_daemon td;
	mc_client_t *c = mt_start_known(&td);
	struct run r;

	mt_memctl(&r, td.socket, "po", NULL);
	mt_ok(&r);
	ck_assert_msg(strncmp(r.out, "NAME ", 5) == 0 && strstr(r.out, "\nsmall "), "%s", r.out);
	mt_memctl(&r, td.socket, "who", NULL);
	mt_ok(&r);
	ck_assert_msg(strstr(r.out, "CONNECTED") && strstr(r.out, "ALLOCATIONS"), "%s", r.out);
	mt_memctl(&r, td.socket, "metrics", "--prom", NULL); /* a long option's prefix */
	mt_ok(&r);
	ck_assert_msg(strstr(r.out, "allocatord_up 1\n") != NULL, "%s", r.out);
	mt_finish(&td, c);
}
END_TEST

/* Each command and the options its --help must mention. */
static const struct {
	const char *cmd;
	const char *options[4];
} command_options[] = {
    {"status", {"--bytes", "--json", "--help"}},
    {"pools", {"--json", "--help"}},
    {"heaps", {"--bytes", "--json", "--help"}},
    {"groups", {"--json", "--help"}},
    {"clients", {"--pool NAME", "--bytes", "--json", "--help"}},
    {"map", {"--rows N", "--json", "--help"}},
    {"watch", {"--interval SECONDS", "--count N", "--json", "--help"}},
    {"stats", {"--prometheus", "--json", "--help"}},
};

#define NCOMMANDS (sizeof(command_options) / sizeof(command_options[0]))

START_TEST(test_memctl_help)
{
	static const char *const global[] = {"--socket PATH", "--timeout SECONDS",
					     "--json",        "--help",
					     "--version",     "ALLOCATORD_SOCKET"};
	struct run r;

	/* No daemon needed: help never connects. */
	mt_memctl(&r, "/nonexistent/allocatord.sock", "--help", NULL);
	mt_ok(&r);
	for (size_t i = 0; i < sizeof(global) / sizeof(global[0]); i++)
		ck_assert_msg(strstr(r.out, global[i]) != NULL, "no %s in:\n%s", global[i], r.out);
	for (size_t i = 0; i < NCOMMANDS; i++) {
		char name[32];

		snprintf(name, sizeof(name), "\n  %s ", command_options[i].cmd);
		ck_assert_msg(strstr(r.out, name) != NULL, "no %s in:\n%s", name, r.out);
	}
}
END_TEST

START_TEST(test_memctl_command_help)
{
	for (size_t i = 0; i < NCOMMANDS; i++) {
		char usage[64];
		struct run r;

		mt_memctl(&r, "/nonexistent/allocatord.sock", command_options[i].cmd, "--help",
			  NULL);
		mt_ok(&r);
		snprintf(usage, sizeof(usage), "usage: memctl %s [OPTIONS]",
			 command_options[i].cmd);
		ck_assert_msg(strncmp(r.out, usage, strlen(usage)) == 0, "%s", r.out);
		for (size_t j = 0; j < 4 && command_options[i].options[j]; j++)
			ck_assert_msg(strstr(r.out, command_options[i].options[j]) != NULL,
				      "%s --help lacks %s:\n%s", command_options[i].cmd,
				      command_options[i].options[j], r.out);
		ck_assert_msg(strstr(r.out, "--timeout SECONDS") != NULL, "%s", r.out);
		/* -h too. */
		mt_memctl(&r, NULL, command_options[i].cmd, "-h", NULL);
		mt_ok(&r);
		ck_assert_msg(strncmp(r.out, usage, strlen(usage)) == 0, "%s", r.out);
	}
}
END_TEST

START_TEST(test_memctl_usage_errors)
{
	static const char *const cases[][5] = {
	    {"map", NULL},                             /* missing POOL */
	    {"map", "a", "b", NULL},                   /* extra argument */
	    {"map", "--rows", "0", "small", NULL},     /* out of range */
	    {"map", "--rows", "x", "small", NULL},     /* not a number */
	    {"pools", "--bogus", NULL},                /* unknown option */
	    {"watch", "--interval", "0", NULL},        /* not over 0 */
	    {"watch", "watch", NULL},                  /* not a listing */
	    {"stats", "--prometheus", "--json", NULL}, /* exclusive */
	    {"--socket", NULL},                        /* missing PATH */
	    {"--timeout", "0", "status", NULL},        /* not over 0 */
	    {"-t", "1e9", "status", NULL},             /* over a day */
	    {"status", "--timeout", "soon", NULL},     /* not a number */
	};
	struct test_daemon td;
	mc_client_t *c = mt_start_known(&td);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct run r;

		mt_memctl(&r, td.socket, cases[i][0], cases[i][1], cases[i][2], cases[i][3], NULL);
		ck_assert_msg(r.status == 2, "case %zu (%s %s): status %d", i, cases[i][0],
			      cases[i][1] ? cases[i][1] : "", r.status);
		ck_assert_msg(strstr(r.err, "usage: memctl") != NULL, "case %zu: %s", i, r.err);
		ck_assert_str_eq(r.out, "");
	}
	mt_finish(&td, c);
}
END_TEST

START_TEST(test_memctl_version)
{
	struct run r;

	mt_memctl(&r, NULL, "--version", NULL);
	mt_ok(&r);
	ck_assert_str_eq(r.out, "memctl (allocatord) " PACKAGE_VERSION "\n");
}
END_TEST

Suite *memctl_cli_suite(void)
{
	Suite *s = suite_create("memctl_cli");
	TCase *tc = client_tcase("memctl_cli");

	tcase_add_test(tc, test_memctl_watch_count);
	tcase_add_test(tc, test_memctl_watch_terminal_restored_on_sigterm);
	tcase_add_test(tc, test_memctl_watch_daemon_gone);
	tcase_add_test(tc, test_memctl_no_daemon);
	tcase_add_test(tc, test_memctl_env_socket_tried);
	tcase_add_test(tc, test_memctl_env_socket_used);
	tcase_add_test(tc, test_memctl_unknown_pool);
	tcase_add_test(tc, test_memctl_unknown_command);
	tcase_add_test(tc, test_memctl_ambiguous_prefix);
	tcase_add_test(tc, test_memctl_unique_prefix_and_alias);
	tcase_add_test(tc, test_memctl_help);
	tcase_add_test(tc, test_memctl_command_help);
	tcase_add_test(tc, test_memctl_usage_errors);
	tcase_add_test(tc, test_memctl_version);
	/* Dropping to another uid takes root. */
	if (geteuid() == 0)
		tcase_add_test(tc, test_memctl_permission_denied);
	suite_add_tcase(s, tc);
	return s;
}
