/*
 * The allocatord program itself: options, start-up checks and refusals, the
 * socket file, and a clean stop. Real processes from the build tree.
 */
#include <errno.h>
#include <fcntl.h>
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

static char out[16384], err[16384];

static const char small_config[] =
    "regions = ({ name = \"r\"; pools = ({ name = \"p\"; block_size = 64; blocks = 64; }); });\n";

/* Run allocatord with args (NULL-terminated), capturing output: serving
 * in the process started (--no-keeper), whose start-up is what fails. */
static int run_daemon(const char *const *args)
{
	const char *argv[16];
	char bin[512];
	size_t n = 0;

	argv[n++] = test_build_path("daemon/allocatord", bin, sizeof(bin));
	argv[n++] = "--no-keeper";
	for (size_t i = 0; args[i] != NULL && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	return test_run(argv, out, sizeof(out), err, sizeof(err));
}

START_TEST(test_startup_default_config_serves_and_stops_clean)
{
	struct test_daemon td;
	struct stat st;
	char log[4096];

	ck_assert_int_eq(test_daemon_start(&td, NULL, NULL), 0);
	/* counted as memctl status counts, and in good English; the line
	 * comes just after the socket accepts, so wait for it (up to 10 s) */
	for (int i = 0; i < 1000; i++) {
		test_daemon_log(&td, log, sizeof(log));
		if (strstr(log, "serving") != NULL)
			break;
		usleep(10000);
	}
	ck_assert_msg(strstr(log, "serving 1 region (3 pools, 1 heap), 1 group on ") != NULL, "%s",
		      log);
	ck_assert_int_eq(stat(td.socket, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(st.st_mode & 0777, 0660);
	ck_assert_int_eq(test_daemon_stop(&td), 0);
	ck_assert_int_eq(access(td.socket, F_OK), -1);
}
END_TEST

START_TEST(test_startup_sigint_stops_clean)
{
	struct test_daemon td;
	int status;

	ck_assert_int_eq(test_daemon_start(&td, small_config, NULL), 0);
	kill(td.pid, SIGINT);
	ck_assert_int_eq(waitpid(td.pid, &status, 0), td.pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_int_eq(access(td.socket, F_OK), -1);
	td.pid = 0;
	test_daemon_kill(&td); /* removes the directory */
}
END_TEST

START_TEST(test_startup_check_config_default)
{
	const char *args[] = {"--check-config", NULL};

	ck_assert_int_eq(run_daemon(args), 0);
	ck_assert_msg(strstr(out, "<built-in default>: OK") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "group buffers") != NULL, "%s", out);
}
END_TEST

START_TEST(test_startup_check_config_names_file_and_line)
{
	char path[] = "/tmp/allocatord-bad.XXXXXX";
	const char *args[] = {"--check-config", "-c", path, NULL};
	char want[128];
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(
	    test_write_file(
		path, "regions = ({ name = \"r\";\n"
		      "  pools = ({ name = \"p\"; block_size = 100; blocks = 8; align = 64; });\n"
		      "});\n"),
	    0);
	ck_assert_int_eq(run_daemon(args), 1);
	snprintf(want, sizeof(want), "%s:2:", path);
	ck_assert_msg(strstr(err, want) != NULL, "want '%s' in: %s", want, err);
	ck_assert_msg(strstr(err, "block_size") != NULL, "%s", err);
	unlink(path);
}
END_TEST

START_TEST(test_startup_missing_config_file)
{
	const char *args[] = {"-c", "/nonexistent/allocatord.conf", NULL};

	ck_assert_int_eq(run_daemon(args), 1);
	ck_assert_msg(strstr(err, "/nonexistent/allocatord.conf") != NULL, "%s", err);
}
END_TEST

static void plugin_config(char *buf, size_t len, const char *plugin)
{
	snprintf(buf, len,
		 "regions = ({ name = \"r\"; pools = ({ name = \"p\"; block_size = 64; blocks = 8; "
		 "}); });\n"
		 "groups = (\n"
		 "  { name = \"g\"; pools = [ \"p\" ];\n"
		 "    plugin = \"%s\"; }\n"
		 ");\n",
		 plugin);
}

START_TEST(test_startup_refuses_plugin_with_wrong_abi)
{
	char so[512], cfg[1024], path[] = "/tmp/allocatord-plug.XXXXXX";
	const char *args[] = {"-c", path, "-s", "/tmp/allocatord-never.sock", NULL};
	char want[600];
	int fd = mkstemp(path);

	close(fd);
	plugin_config(cfg, sizeof(cfg),
		      test_build_path("tests/daemon/plugins/.libs/bad_abi.so", so, sizeof(so)));
	ck_assert_int_eq(test_write_file(path, cfg), 0);
	ck_assert_int_eq(run_daemon(args), 1);
	snprintf(want, sizeof(want), "%s:3:", path);
	ck_assert_msg(strstr(err, want) != NULL, "want '%s' in: %s", want, err);
	ck_assert_msg(strstr(err, "ABI") != NULL, "%s", err);
	ck_assert_int_eq(access("/tmp/allocatord-never.sock", F_OK), -1);
	/* --check-config loads plug-ins too */
	args[2] = "--check-config";
	args[3] = NULL;
	ck_assert_int_eq(run_daemon(args), 1);
	ck_assert_msg(strstr(err, "ABI") != NULL, "%s", err);
	unlink(path);
}
END_TEST

/* examples/by_uid.conf names its plug-in "by_uid.so": from the build tree
 * it runs with ALLOCATORD_PLUGIN_DIR pointing at the one make built. */
START_TEST(test_startup_example_plugin_config_runs_from_build_tree)
{
	char conf[512], dir[512];
	const char *args[] = {"--check-config", "-c",
			      test_src_path("examples/by_uid.conf", conf, sizeof(conf)), NULL};

	setenv("ALLOCATORD_PLUGIN_DIR", test_build_path("examples/plugins/.libs", dir, sizeof(dir)),
	       1);
	ck_assert_int_eq(run_daemon(args), 0);
	ck_assert_msg(strstr(out, "group per_user: user0, user1, user2 (plugin by_uid.so") != NULL,
		      "%s", out);
	unsetenv("ALLOCATORD_PLUGIN_DIR");
}
END_TEST

START_TEST(test_startup_refuses_missing_plugin)
{
	char cfg[1024], path[] = "/tmp/allocatord-plug.XXXXXX";
	const char *args[] = {"--check-config", "-c", path, NULL};
	int fd = mkstemp(path);

	close(fd);
	plugin_config(cfg, sizeof(cfg), "/nonexistent/plugin.so");
	ck_assert_int_eq(test_write_file(path, cfg), 0);
	ck_assert_int_eq(run_daemon(args), 1);
	ck_assert_msg(strstr(err, "/nonexistent/plugin.so") != NULL, "%s", err);
	unlink(path);
}
END_TEST

START_TEST(test_startup_refuses_second_daemon_on_same_socket)
{
	struct test_daemon td;
	const char *args[4] = {"-s", NULL, NULL};

	ck_assert_int_eq(test_daemon_start(&td, small_config, NULL), 0);
	args[1] = td.socket;
	ck_assert_int_eq(run_daemon(args), 1);
	ck_assert_msg(strstr(err, "another allocatord is serving") != NULL, "%s", err);
	/* the first one is unharmed */
	ck_assert_int_eq(access(td.socket, F_OK), 0);
	ck_assert_int_eq(test_daemon_stop(&td), 0);
}
END_TEST

/* Start-up failures go through the logger at level error: "<3>" for the
 * journal under systemd (JOURNAL_STREAM set), "allocatord: error:" else. */
START_TEST(test_startup_failures_are_errors_under_journal_stream)
{
	const char *bad_config[] = {"-c", "/nonexistent/allocatord.conf", NULL};
	const char *bad_usage[] = {"--frobnicate", NULL};
	const char *second[] = {"-s", NULL, NULL};
	struct test_daemon td;

	ck_assert_int_eq(test_daemon_start(&td, small_config, NULL), 0);
	second[1] = td.socket;
	ck_assert_int_eq(run_daemon(second), 1);
	ck_assert_msg(strncmp(err, "allocatord: error: another allocatord is serving", 48) == 0,
		      "%s", err);
	setenv("JOURNAL_STREAM", "8:12345", 1);
	ck_assert_int_eq(run_daemon(second), 1);
	ck_assert_msg(strncmp(err, "<3>another allocatord is serving", 32) == 0, "%s", err);
	ck_assert_int_eq(run_daemon(bad_config), 1);
	ck_assert_msg(strncmp(err, "<3>/nonexistent/allocatord.conf", 31) == 0, "%s", err);
	ck_assert_int_eq(run_daemon(bad_usage), 2);
	ck_assert_msg(strncmp(err, "<3>unknown option", 17) == 0, "%s", err);
	unsetenv("JOURNAL_STREAM");
	ck_assert_int_eq(test_daemon_stop(&td), 0);
}
END_TEST

START_TEST(test_startup_replaces_stale_socket)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct test_daemon td;
	char log[4096], path[100];
	int fd;

	/* A socket file nobody listens on: what a killed daemon leaves. */
	snprintf(path, sizeof(path), "/tmp/allocatord-stale-%d.sock", (int) getpid());
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	unlink(path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *) &sun, sizeof(sun)), 0);
	close(fd);
	ck_assert_int_eq(test_daemon_start_at(&td, path, small_config, NULL), 0);
	test_daemon_log(&td, log, sizeof(log));
	ck_assert_msg(strstr(log, "removed stale socket") != NULL, "%s", log);
	ck_assert_int_eq(test_daemon_stop(&td), 0);
	ck_assert_int_eq(access(path, F_OK), -1);
}
END_TEST

START_TEST(test_startup_refuses_to_replace_a_regular_file)
{
	char path[64];
	const char *args[] = {"-s", path, NULL};

	snprintf(path, sizeof(path), "/tmp/allocatord-file-%d", (int) getpid());
	ck_assert_int_eq(test_write_file(path, "precious"), 0);
	ck_assert_int_eq(run_daemon(args), 1);
	ck_assert_msg(strstr(err, "is not a socket") != NULL, "%s", err);
	ck_assert_int_eq(access(path, F_OK), 0);
	unlink(path);
}
END_TEST

START_TEST(test_startup_socket_path_too_long)
{
	char path[200];
	const char *args[] = {"-s", path, NULL};

	memset(path, 'x', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	ck_assert_int_eq(run_daemon(args), 1);
	ck_assert_msg(strstr(err, "too long") != NULL, "%s", err);
}
END_TEST

START_TEST(test_startup_socket_mode_from_config)
{
	static const char cfg[] = "socket = { mode = \"0600\"; };\n"
				  "regions = ({ name = \"r\"; pools = ({ name = \"p\"; block_size "
				  "= 64; blocks = 8; }); });\n";
	struct test_daemon td;
	struct stat st;

	ck_assert_int_eq(test_daemon_start(&td, cfg, NULL), 0);
	ck_assert_int_eq(stat(td.socket, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(test_daemon_stop(&td), 0);
}
END_TEST

START_TEST(test_startup_help_and_usage)
{
	const char *help[] = {"--help", NULL};
	const char *bad[] = {"--frobnicate", NULL};
	const char *extra[] = {"extra", NULL};
	const char *version[] = {"--version", NULL};

	ck_assert_int_eq(run_daemon(help), 0);
	for (const char *opt =
		 "--config\0--socket\0--log-level\0--check-config\0--help\0--version\0";
	     *opt; opt += strlen(opt) + 1)
		ck_assert_msg(strstr(out, opt) != NULL, "--help lacks %s", opt);
	/* A usage error is one line that names the fault and points to --help. */
	ck_assert_int_eq(run_daemon(bad), 2);
	ck_assert_str_eq(err, "allocatord: error: unknown option '--frobnicate' (see allocatord "
			      "--help)\n");
	ck_assert_int_eq(run_daemon(extra), 2);
	ck_assert_str_eq(err, "allocatord: error: unexpected argument 'extra' (see allocatord "
			      "--help)\n");
	ck_assert_int_eq(run_daemon(version), 0);
	ck_assert_msg(strncmp(out, "allocatord ", 11) == 0, "%s", out);
}
END_TEST

START_TEST(test_startup_hugepages_without_reserve_is_clear)
{
	static const char cfg[] =
	    "regions = ({ name = \"huge\"; hugepages = true;\n"
	    "  pools = ({ name = \"p\"; block_size = 4096; blocks = 8; }); });\n";
	char path[] = "/tmp/allocatord-huge.XXXXXX";
	const char *args[] = {"-c", path, "-s", "/tmp/allocatord-huge.sock", NULL};
	FILE *f = fopen("/proc/sys/vm/nr_hugepages", "r");
	long reserved = -1;
	int fd = mkstemp(path);

	if (f != NULL) {
		if (fscanf(f, "%ld", &reserved) != 1)
			reserved = -1;
		fclose(f);
	}
	close(fd);
	if (reserved != 0) {
		fprintf(stderr, "skipped: vm.nr_hugepages is %ld, not 0\n", reserved);
		unlink(path);
		return;
	}
	ck_assert_int_eq(test_write_file(path, cfg), 0);
	ck_assert_int_eq(run_daemon(args), 1);
	/* refused before the memfd, by the count of free huge pages */
	ck_assert_msg(strstr(err, "hugepage regions need 2.0 MiB, 1 huge page of 2.0 MiB, and 0 "
				  "are free") != NULL,
		      "%s", err);
	ck_assert_msg(strstr(err, "vm.nr_hugepages") != NULL, "%s", err);
	unlink(path);
}
END_TEST

static uint64_t mem_total(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	unsigned long long kib = 0;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "MemTotal: %llu kB", &kib), 1);
	fclose(f);
	return (uint64_t) kib * 1024;
}

/* A region twice the machine's memory: refused by --check-config and at a
 * real start, with the sizes named, before anything is reserved (the test
 * allocates nothing: the refusal comes before the first memfd). */
START_TEST(test_startup_refuses_region_bigger_than_memory)
{
	char path[] = "/tmp/allocatord-big.XXXXXX", cfg[256], sock[64];
	const char *check[] = {"--check-config", "-c", path, NULL};
	const char *start[] = {"-c", path, "-s", sock, NULL};
	uint64_t blocks = 2 * mem_total() / (64 << 20) + 1;
	int fd = mkstemp(path);

	close(fd);
	snprintf(sock, sizeof(sock), "/tmp/allocatord-big-%d.sock", (int) getpid());
	snprintf(cfg, sizeof(cfg),
		 "regions = ({ name = \"big\"; pools = ({ name = \"p\"; block_size = \"64M\"; "
		 "blocks = %lluL; }); });\n",
		 (unsigned long long) blocks);
	ck_assert_int_eq(test_write_file(path, cfg), 0);
	ck_assert_int_eq(run_daemon(check), 1);
	ck_assert_msg(strstr(err, "the regions need ") != NULL, "%s", err);
	ck_assert_msg(strstr(err, "of shared memory, more than the ") != NULL, "%s", err);
	ck_assert_msg(strstr(err, "MemAvailable") != NULL, "%s", err);
	ck_assert_msg(strstr(err, path) != NULL, "%s", err);
	ck_assert_int_eq(run_daemon(start), 1);
	ck_assert_msg(strstr(err, "allocatord: error: ") == err, "%s", err);
	ck_assert_msg(strstr(err, "MemAvailable") != NULL, "%s", err);
	ck_assert_int_eq(access(sock, F_OK), -1);
	/* --check-config shows the sizes of one that fits */
	ck_assert_int_eq(test_write_file(path, small_config), 0);
	ck_assert_int_eq(run_daemon(check), 0);
	ck_assert_msg(strstr(out, "memory: 4.0 KiB reserved at start") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "may use: ") != NULL, "%s", out);
	unlink(path);
}
END_TEST

/* RLIMIT_FSIZE bounds each memfd (ftruncate past it is SIGXFSZ): the limit
 * is set in a shell child only, never in the test's own process. */
START_TEST(test_startup_refuses_region_over_file_size_limit)
{
	char bin[512];
	const char *argv[] = {"/bin/sh", "-c", "ulimit -f 100 && exec \"$0\" --check-config",
			      test_build_path("daemon/allocatord", bin, sizeof(bin)), NULL};

	ck_assert_int_eq(test_run(argv, out, sizeof(out), err, sizeof(err)), 1);
	ck_assert_msg(strstr(err, "region 'default' is 10.0 MiB, over the file size limit "
				  "RLIMIT_FSIZE of 50.0 KiB (ulimit -f)") != NULL,
		      "%s", err);
}
END_TEST

START_TEST(test_startup_refuses_objects_beyond_one_frame)
{
	char path[] = "/tmp/allocatord-many.XXXXXX";
	const char *args[] = {"--check-config", "-c", path, NULL};
	char *cfg = malloc(65536);
	size_t n = 0;
	int fd = mkstemp(path);

	close(fd);
	n += (size_t) sprintf(cfg + n,
			      "max_frame = \"4K\";\nregions = ({ name = \"r\"; pools = (\n");
	for (int i = 0; i < 120; i++)
		n += (size_t) sprintf(
		    cfg + n,
		    "%s{ name = \"pool_with_a_long_name_%03d\"; block_size = 64; blocks = 8; }\n",
		    i ? "," : "", i);
	sprintf(cfg + n, "); });\n");
	ck_assert_int_eq(test_write_file(path, cfg), 0);
	ck_assert_int_eq(run_daemon(args), 1);
	ck_assert_msg(strstr(err, "raise max_frame") != NULL, "%s", err);
	/* the same objects fit the default 64 KiB frame */
	memmove(cfg, strchr(cfg, '\n') + 1, strlen(strchr(cfg, '\n') + 1) + 1);
	ck_assert_int_eq(test_write_file(path, cfg), 0);
	ck_assert_int_eq(run_daemon(args), 0);
	free(cfg);
	unlink(path);
}
END_TEST

Suite *startup_suite(void)
{
	Suite *s = suite_create("startup");
	TCase *tc = tcase_create("startup");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_startup_default_config_serves_and_stops_clean);
	tcase_add_test(tc, test_startup_sigint_stops_clean);
	tcase_add_test(tc, test_startup_check_config_default);
	tcase_add_test(tc, test_startup_check_config_names_file_and_line);
	tcase_add_test(tc, test_startup_missing_config_file);
	tcase_add_test(tc, test_startup_refuses_plugin_with_wrong_abi);
	tcase_add_test(tc, test_startup_refuses_missing_plugin);
	tcase_add_test(tc, test_startup_example_plugin_config_runs_from_build_tree);
	tcase_add_test(tc, test_startup_refuses_second_daemon_on_same_socket);
	tcase_add_test(tc, test_startup_failures_are_errors_under_journal_stream);
	tcase_add_test(tc, test_startup_replaces_stale_socket);
	tcase_add_test(tc, test_startup_refuses_to_replace_a_regular_file);
	tcase_add_test(tc, test_startup_socket_path_too_long);
	tcase_add_test(tc, test_startup_socket_mode_from_config);
	tcase_add_test(tc, test_startup_help_and_usage);
	tcase_add_test(tc, test_startup_hugepages_without_reserve_is_clear);
	tcase_add_test(tc, test_startup_refuses_objects_beyond_one_frame);
	tcase_add_test(tc, test_startup_refuses_region_bigger_than_memory);
	tcase_add_test(tc, test_startup_refuses_region_over_file_size_limit);
	suite_add_tcase(s, tc);
	return s;
}
