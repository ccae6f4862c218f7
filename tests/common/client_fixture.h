/*
 * The fixture of the Check suites that talk to a real allocatord through
 * libmemclient (tests/client, tests/memctl): a daemon per test
 * (tests/common/daemon_proc) with the configuration below unless the test
 * gives its own, and small helpers that assert as they go.
 *
 * Processes a test forks (producers, consumers, clients to kill) report by
 * exit status and leave with _exit(): they must not run Check's or the
 * runner's exit handlers, which belong to the test process. They are forked
 * before the test connects its own clients: under valgrind a child that
 * exits is checked for leaks, and a client it inherited but cannot reach
 * would count as one.
 */
#ifndef ALLOCATORD_TESTS_CLIENT_FIXTURE_H
#define ALLOCATORD_TESTS_CLIENT_FIXTURE_H

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "client/memclient.h"
#include "tests/common/daemon_proc.h"

/*
 * The daemon every test starts unless it says otherwise. Region "main":
 *   small      256 B x 64
 *   packets   1536 B x 32 (512-aligned)
 *   quota      128 B x 32, client_quota 4
 *   big         64 B x 32768 (more than one max_batch)
 *   bulk_small  64 B x 8192, bulk_large 128 B x 24576 (group "g_bulk")
 *   g_a 64 B x 16, g_b 256 B x 16, g_c 1024 B x 8 (groups g_size, g_rr,
 *   g_most, g_idx: by_size, round_robin, most_free, index)
 *   heap 1 MiB (granule 64), qheap 64 KiB with client_quota 4 KiB
 * Region "second": other 4 KiB x 4. Region "private" (root only): secret.
 */
extern const char client_test_config[];

#define CLIENT_BIG_BLOCKS 32768u

/* Run the suites (NULL-terminated) as a Check runner's main() does:
 * EXIT_SUCCESS if no test failed. A daemon a failed test left running is
 * killed at exit. */
int client_run_suites(Suite *first, ...);

/* A test case with a timeout that fits a daemon per test. */
TCase *client_tcase(const char *name);

/* Start the daemon with config (NULL: client_test_config); assert it runs.
 * If the test fails before client_stop, the daemon is killed at exit. */
void client_start(struct test_daemon *td, const char *config);

/* The same with a keeper (test_daemon_start_keeper, the build tree's
 * allocatord) and extra arguments (NULL-terminated, may be NULL). */
void client_start_keeper(struct test_daemon *td, const char *config, const char *const *args);

/* Wait up to 10 s for the process td started to exit by itself and return
 * its exit status (128 + the signal that killed it); asserts it did. Its
 * log stays readable (test_daemon_log) until test_daemon_kill(td), which
 * then only removes its directory. */
int client_wait_exit(struct test_daemon *td);

/* Stop it and assert a clean exit (under valgrind: no error, no leak). */
void client_stop(struct test_daemon *td);

/* Kill it with SIGKILL (a daemon that disappears). */
void client_kill(struct test_daemon *td);

/* A client of td; asserts the connect succeeds. */
mc_client_t *client_connect(const struct test_daemon *td);

/* used of the named object (mc_stats), asserting the call succeeds. */
uint64_t client_used(mc_client_t *c, const char *name);

/* Wait up to ms for name's used to become want; returns the last value
 * seen (the daemon handles a disconnect in its next loop pass). */
uint64_t client_wait_used(mc_client_t *c, const char *name, uint64_t want, int ms);

/* A process that listens on a socket, accepts every connection and never
 * writes a byte: a daemon that hangs, for the timeout tests. */
struct silent_listener {
	pid_t pid;
	char dir[64];
	char socket[100];
};

/* Start one in a fresh temporary directory; it listens once this returns. */
void client_silent_start(struct silent_listener *s);

/* Kill it (by its pid) and remove its directory. */
void client_silent_stop(struct silent_listener *s);

/* Stop (SIGSTOP) or resume (SIGCONT) the test's own daemon, by its pid. */
void client_pause(const struct test_daemon *td, bool stop);

/* Wait for a forked child: its exit status, or 128 + the signal. */
int client_wait_child(pid_t pid);

/* Open descriptors of this process (for leak checks). */
int client_count_fds(void);

/* Exactly len bytes from / to a pipe; false on EOF or error. */
bool client_read_full(int fd, void *buf, size_t len);
bool client_write_full(int fd, const void *buf, size_t len);

#endif
