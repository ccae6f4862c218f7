/*
 * examples: the producer/consumer hand-off of examples/ as users run it --
 * examples/handoff.sh, and the two programs wired by hand -- against a
 * daemon on its built-in default configuration (no -c), whose "medium" pool
 * the producer uses by default. After each run every pool must be free
 * again: the examples free what they hold, they do not leave it to reclaim.
 * And a broken hand-off (an offset nobody allocated, a damaged or mixed-up
 * block) must fail with exit status 1 and a message saying what was wrong.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/client/check_client.h"

#define MEDIUM_BS     1536u
#define MEDIUM_BLOCKS 512u
#define OUT_MAX       65536

/*
 * The daemon of the running test, killed at exit if the test fails before
 * examples_stop() (Check ends a failed test's process with exit()). The
 * helpers of check_client.c start the suites' own configuration; these
 * tests need the built-in one.
 */
static struct test_daemon running;

static void kill_running(void)
{
	if (running.pid > 0)
		test_daemon_kill(&running);
	running.pid = 0;
}

static void examples_start(struct test_daemon *td)
{
	static pid_t registered_in;

	/* Once per process: each forked test is a process of its own. */
	if (registered_in != getpid()) {
		ck_assert_int_eq(atexit(kill_running), 0);
		registered_in = getpid();
	}
	kill_running();
	ck_assert_int_eq(test_daemon_start(td, NULL, NULL), 0);
	running = *td;
}

static void examples_stop(struct test_daemon *td)
{
	running.pid = 0;
	ck_assert_int_eq(test_daemon_stop(td), 0);
}

/* Assert that nothing of any pool or heap is in use, and that "medium" is
 * the pool the examples expect. */
static void assert_all_free(const struct test_daemon *td)
{
	struct mc_info info[16];
	mc_client_t *c = client_connect(td);
	bool medium = false;
	size_t n = 0;

	ck_assert_int_eq(mc_list(c, info, 16, &n), 0);
	ck_assert_uint_le(n, 16);
	for (size_t i = 0; i < n; i++) {
		ck_assert_msg(info[i].used == 0, "%s: %" PRIu64 " of %" PRIu64 " still in use",
			      info[i].name, info[i].used, info[i].total);
		if (strcmp(info[i].name, "medium") == 0) {
			ck_assert_int_eq(info[i].kind, MC_POOL);
			ck_assert_uint_eq(info[i].block_size, MEDIUM_BS);
			ck_assert_uint_eq(info[i].total, MEDIUM_BLOCKS);
			medium = true;
		}
	}
	ck_assert_msg(medium, "the built-in configuration has no pool \"medium\"");
	mc_close(c);
}

/* How many times needle occurs in haystack. */
static int count_of(const char *haystack, const char *needle)
{
	int n = 0;

	for (const char *p = strstr(haystack, needle); p != NULL; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* A pipe whose ends are not inherited past exec (the children get theirs
 * through dup2, which clears the flag on the copy). */
static void cloexec_pipe(int fds[2])
{
	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
}

/* An unlinked temporary file for a child's stderr: a file, not a pipe, so
 * that a chatty child never blocks on a reader that waits for it. */
static int temp_file(void)
{
	char path[] = "/tmp/allocatord-examples.XXXXXX";
	int fd = mkostemp(path, O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	unlink(path);
	return fd;
}

/* Everything in fd from its start, NUL-terminated, cut at len. */
static void read_all(int fd, char *buf, size_t len, bool rewind)
{
	size_t n = 0;
	ssize_t r;

	if (rewind)
		lseek(fd, 0, SEEK_SET);
	while (n + 1 < len) {
		r = read(fd, buf + n, len - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t) r;
	}
	buf[n] = '\0';
}

/* Run argv (argv[0] a path) with stdin, stdout and stderr on in, out, err. */
static pid_t spawn(const char *const *argv, int in, int out, int err)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
		    dup2(err, STDERR_FILENO) < 0)
			_exit(126);
		execv(argv[0], (char *const *) argv);
		_exit(127);
	}
	return pid;
}

/* Run the consumer on td with input as its stdin; its stdout and stderr into
 * out and err. Returns its exit status. */
static int run_consumer(const struct test_daemon *td, const char *input, char *out, char *err)
{
	char consumer[512];
	const char *argv[] = {test_build_path("examples/consumer", consumer, sizeof(consumer)),
			      "-s", td->socket, NULL};
	int in[2], res[2], efd = temp_file(), status;
	pid_t pid;

	cloexec_pipe(in);
	cloexec_pipe(res);
	pid = spawn(argv, in[0], res[1], efd);
	close(in[0]);
	close(res[1]);
	ck_assert(client_write_full(in[1], input, strlen(input)));
	close(in[1]);
	read_all(res[0], out, OUT_MAX, false);
	close(res[0]);
	status = client_wait_child(pid);
	read_all(efd, err, OUT_MAX, true);
	close(efd);
	return status;
}

START_TEST(test_examples_handoff_script)
{
	char script[512], producer[512], consumer[512];
	const char *argv[] = {
	    "/bin/sh", test_src_path("examples/handoff.sh", script, sizeof(script)),
	    "-s",      NULL,
	    "-n",      "8",
	    "-m",      "2",
	    NULL};
	static char out[OUT_MAX], err[OUT_MAX];
	struct test_daemon td;
	int status;

	examples_start(&td);
	argv[3] = td.socket;
	/* The build tree's programs: the script sits in the source tree. */
	setenv("PRODUCER", test_build_path("examples/producer", producer, sizeof(producer)), 1);
	setenv("CONSUMER", test_build_path("examples/consumer", consumer, sizeof(consumer)), 1);
	status = test_run(argv, out, sizeof(out), err, sizeof(err));
	unsetenv("PRODUCER");
	unsetenv("CONSUMER");

	ck_assert_msg(status == 0, "handoff.sh exited %d:\n%s", status, err);
	/* Everything goes between the two programs; the reports are stderr. */
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(count_of(err, ": ok\n"), 16);
	ck_assert_int_eq(count_of(err, "MISMATCH"), 0);
	ck_assert_ptr_nonnull(strstr(err, "\"block 0 of message 0\""));
	ck_assert_ptr_nonnull(strstr(err, "\"block 7 of message 1\""));
	ck_assert_ptr_nonnull(
	    strstr(err, "consumer: message 1: 8 blocks of \"medium\" (1536 bytes"));
	ck_assert_ptr_nonnull(
	    strstr(err, "producer: message 1: 8 blocks of \"medium\" handed over"));
	ck_assert_ptr_nonnull(strstr(err, "consumer: 2 messages received, every block intact"));
	assert_all_free(&td);
	examples_stop(&td);
}
END_TEST

/* Producer and consumer wired directly, a pipe each way, no shell. */
START_TEST(test_examples_programs_with_pipes)
{
	char producer[512], consumer[512];
	const char *pargv[] = {test_build_path("examples/producer", producer, sizeof(producer)),
			       "-s",
			       NULL,
			       "-p",
			       "small",
			       "-n",
			       "100",
			       "-m",
			       "3",
			       NULL};
	const char *cargv[] = {test_build_path("examples/consumer", consumer, sizeof(consumer)),
			       "-s", NULL, NULL};
	static char perr[OUT_MAX], cerr[OUT_MAX];
	int to_consumer[2], to_producer[2], pfd = temp_file(), cfd = temp_file();
	struct test_daemon td;
	pid_t p, c;
	int pstatus, cstatus;

	examples_start(&td);
	pargv[2] = cargv[2] = td.socket;
	cloexec_pipe(to_consumer);
	cloexec_pipe(to_producer);
	p = spawn(pargv, to_producer[0], to_consumer[1], pfd);
	c = spawn(cargv, to_consumer[0], to_producer[1], cfd);
	for (int i = 0; i < 2; i++) {
		close(to_consumer[i]);
		close(to_producer[i]);
	}
	pstatus = client_wait_child(p);
	cstatus = client_wait_child(c);
	read_all(pfd, perr, sizeof(perr), true);
	read_all(cfd, cerr, sizeof(cerr), true);
	close(pfd);
	close(cfd);

	ck_assert_msg(pstatus == 0, "producer exited %d:\n%s", pstatus, perr);
	ck_assert_msg(cstatus == 0, "consumer exited %d:\n%s", cstatus, cerr);
	ck_assert_int_eq(count_of(cerr, ": ok\n"), 300);
	ck_assert_ptr_nonnull(strstr(cerr, "\"block 99 of message 2\""));
	ck_assert_ptr_nonnull(strstr(cerr, "consumer: 3 messages received, every block intact"));
	ck_assert_int_eq(count_of(perr, "handed over"), 3);
	assert_all_free(&td);
	examples_stop(&td);
}
END_TEST

/* Offsets that are no allocation: freed before the hand-off, off a block
 * boundary, past the region. The retain fails, nothing is read. */
START_TEST(test_examples_consumer_refuses_unallocated_offsets)
{
	static char out[OUT_MAX], err[OUT_MAX];
	struct test_daemon td;
	char input[128];
	uint64_t off, bad[3];
	mc_client_t *c;

	examples_start(&td);
	c = client_connect(&td);
	ck_assert_int_eq(mc_alloc(c, "medium", 1, &off), 0);
	ck_assert_int_eq(mc_free(c, "medium", 1, &off), 0);
	mc_close(c);
	bad[0] = off;
	bad[1] = off + 1;
	bad[2] = UINT64_C(1) << 40;

	for (int i = 0; i < 3; i++) {
		snprintf(input, sizeof(input), "message 0 medium 1\n0x%" PRIx64 "\n", bad[i]);
		ck_assert_int_eq(run_consumer(&td, input, out, err), 1);
		ck_assert_str_eq(out, "fail 0 Bad address\n");
		ck_assert_msg(strstr(err, "consumer: message 0: cannot retain its blocks of pool "
					  "\"medium\": Bad address (an offset is not an allocated "
					  "block of that pool)") != NULL,
			      "offset 0x%" PRIx64 ": %s", bad[i], err);
		ck_assert_int_eq(count_of(err, "0x"), 0); /* no block was read */
	}
	assert_all_free(&td);
	examples_stop(&td);
}
END_TEST

/* Blocks that are allocated but hold something else: the consumer takes
 * them (its "ok" goes out), finds the damage, still frees, and exits 1. */
START_TEST(test_examples_consumer_detects_damaged_blocks)
{
	static char out[OUT_MAX], err[OUT_MAX];
	struct test_daemon td;
	uint64_t off[2];
	char input[128];
	mc_client_t *c;

	examples_start(&td);
	c = client_connect(&td);
	ck_assert_int_eq(mc_alloc(c, "medium", 2, off), 0);
	memset(mc_ptr(c, "medium", off[0]), 0, MEDIUM_BS);
	memcpy(mc_ptr(c, "medium", off[1]), "block 1 of message 0", 21); /* no checksum */
	snprintf(input, sizeof(input), "message 0 medium 2\n0x%" PRIx64 "\n0x%" PRIx64 "\n", off[0],
		 off[1]);

	ck_assert_int_eq(run_consumer(&td, input, out, err), 1);
	ck_assert_str_eq(out, "ok 0\n");
	ck_assert_int_eq(count_of(err, "MISMATCH"), 2);
	ck_assert_ptr_nonnull(
	    strstr(err, "MISMATCH: expected \"block 0 of message 0\", found \"\""));
	ck_assert_ptr_nonnull(strstr(err, "MISMATCH: expected \"block 1 of message 0\", found "
					  "\"block 1 of message 0\", checksum"));
	/* The consumer let go of its hold: only this client's is left. */
	ck_assert_uint_eq(client_used(c, "medium"), 2);
	ck_assert_int_eq(mc_free(c, "medium", 2, off), 0);
	mc_close(c);
	assert_all_free(&td);
	examples_stop(&td);
}
END_TEST

/* One line from stream into buf (with its newline); asserts it came. */
static void get_line(FILE *stream, char *buf, int len)
{
	ck_assert_ptr_nonnull(fgets(buf, len, stream));
}

/* The real producer's message with two offsets swapped on the way: every
 * checksum is right, yet the consumer sees block 1 where block 0 belongs. */
START_TEST(test_examples_consumer_detects_swapped_blocks)
{
	char producer[512], consumer[512], header[128], first[64], second[64], ack[64];
	const char *pargv[] = {test_build_path("examples/producer", producer, sizeof(producer)),
			       "-s",
			       NULL,
			       "-n",
			       "2",
			       NULL};
	const char *cargv[] = {test_build_path("examples/consumer", consumer, sizeof(consumer)),
			       "-s", NULL, NULL};
	static char perr[OUT_MAX], cerr[OUT_MAX];
	int p_out[2], p_in[2], c_in[2], c_out[2], pfd = temp_file(), cfd = temp_file();
	FILE *from_p, *from_c;
	struct test_daemon td;
	pid_t p, c;
	int pstatus, cstatus;

	examples_start(&td);
	pargv[2] = cargv[2] = td.socket;
	cloexec_pipe(p_out);
	cloexec_pipe(p_in);
	cloexec_pipe(c_in);
	cloexec_pipe(c_out);
	p = spawn(pargv, p_in[0], p_out[1], pfd);
	c = spawn(cargv, c_in[0], c_out[1], cfd);
	close(p_in[0]);
	close(p_out[1]);
	close(c_in[0]);
	close(c_out[1]);
	from_p = fdopen(p_out[0], "r");
	from_c = fdopen(c_out[0], "r");
	ck_assert_ptr_nonnull(from_p);
	ck_assert_ptr_nonnull(from_c);

	/* Relay the message with its two offsets swapped, then the answer. */
	get_line(from_p, header, sizeof(header));
	get_line(from_p, first, sizeof(first));
	get_line(from_p, second, sizeof(second));
	ck_assert_str_eq(header, "message 0 medium 2\n");
	ck_assert(client_write_full(c_in[1], header, strlen(header)));
	ck_assert(client_write_full(c_in[1], second, strlen(second)));
	ck_assert(client_write_full(c_in[1], first, strlen(first)));
	close(c_in[1]);
	get_line(from_c, ack, sizeof(ack));
	ck_assert_str_eq(ack, "ok 0\n");
	ck_assert(client_write_full(p_in[1], ack, strlen(ack)));
	close(p_in[1]);
	pstatus = client_wait_child(p);
	cstatus = client_wait_child(c);
	fclose(from_p);
	fclose(from_c);
	read_all(pfd, perr, sizeof(perr), true);
	read_all(cfd, cerr, sizeof(cerr), true);
	close(pfd);
	close(cfd);

	/* The producer's part went well: its message was taken. */
	ck_assert_msg(pstatus == 0, "producer exited %d:\n%s", pstatus, perr);
	ck_assert_int_eq(cstatus, 1);
	ck_assert_ptr_nonnull(strstr(cerr, "MISMATCH: expected \"block 0 of message 0\", found "
					   "\"block 1 of message 0\""));
	ck_assert_ptr_nonnull(strstr(cerr, "MISMATCH: expected \"block 1 of message 0\", found "
					   "\"block 0 of message 0\""));
	assert_all_free(&td);
	examples_stop(&td);
}
END_TEST

/* --help, a bad option, a pool that does not exist: clear exits, no hang. */
START_TEST(test_examples_usage_and_bad_pool)
{
	char producer[512], consumer[512];
	const char *p = test_build_path("examples/producer", producer, sizeof(producer));
	const char *c = test_build_path("examples/consumer", consumer, sizeof(consumer));
	const char *help_p[] = {p, "--help", NULL}, *help_c[] = {c, "--help", NULL};
	const char *bad_p[] = {p, "-n", "0", NULL}, *bad_c[] = {c, "extra", NULL};
	const char *no_pool[] = {p, "-s", NULL, "-p", "nosuch", NULL};
	const char *heap[] = {p, "-s", NULL, "-p", "heap", NULL};
	static char out[OUT_MAX], err[OUT_MAX];
	struct test_daemon td;

	ck_assert_int_eq(test_run(help_p, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(out, "Usage: producer"));
	ck_assert_int_eq(test_run(help_c, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(out, "Usage: consumer"));
	ck_assert_int_eq(test_run(bad_p, out, sizeof(out), err, sizeof(err)), 2);
	ck_assert_ptr_nonnull(strstr(err, "must be positive integers"));
	ck_assert_int_eq(test_run(bad_c, out, sizeof(out), err, sizeof(err)), 2);
	ck_assert_ptr_nonnull(strstr(err, "unexpected argument 'extra'"));

	examples_start(&td);
	no_pool[2] = heap[2] = td.socket;
	ck_assert_int_eq(test_run(no_pool, out, sizeof(out), err, sizeof(err)), 1);
	ck_assert_str_eq(out, "");
	ck_assert_str_eq(err, "producer: there is no pool named \"nosuch\"\n");
	ck_assert_int_eq(test_run(heap, out, sizeof(out), err, sizeof(err)), 1);
	ck_assert_str_eq(err, "producer: \"heap\" is a heap or a group, not a pool\n");
	assert_all_free(&td);
	examples_stop(&td);
}
END_TEST

Suite *examples_suite(void)
{
	Suite *s = suite_create("examples");
	TCase *tc = client_tcase("examples");

	tcase_add_test(tc, test_examples_handoff_script);
	tcase_add_test(tc, test_examples_programs_with_pipes);
	tcase_add_test(tc, test_examples_consumer_refuses_unallocated_offsets);
	tcase_add_test(tc, test_examples_consumer_detects_damaged_blocks);
	tcase_add_test(tc, test_examples_consumer_detects_swapped_blocks);
	tcase_add_test(tc, test_examples_usage_and_bad_pool);
	suite_add_tcase(s, tc);
	return s;
}
