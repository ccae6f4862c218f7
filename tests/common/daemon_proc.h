/*
 * A real allocatord for integration tests: started from the build tree on a
 * socket in a fresh temporary directory, with a given config, its stderr
 * kept in a log file. With ALLOCATORD_VALGRIND=1 it runs under valgrind,
 * which then fails the stop if it saw an error or a leak.
 */
#ifndef ALLOCATORD_TESTS_DAEMON_PROC_H
#define ALLOCATORD_TESTS_DAEMON_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct test_daemon {
	pid_t pid;   /* the process started: the serving one, or the keeper */
	bool keeper; /* started as a keeper (test_daemon_start_keeper) */
	char dir[64];
	char socket[100]; /* fits a sockaddr_un */
	char config[128];
	char log[128];
};

/*
 * Start the daemon with config_text (NULL: the built-in default) and extra
 * arguments (NULL-terminated, may be NULL), and wait until it accepts
 * connections. It runs with --no-keeper: td->pid is the serving process. Returns 0, or -1 with the
 * reason and the daemon's log on stderr (the daemon, if it started, is stopped).
 */
int test_daemon_start(struct test_daemon *td, const char *config_text, const char *const *args);

/* test_daemon_start on the smallest useful configuration: the top-level
 * `settings` (a config fragment, may be "") and one region "r" holding
 * pool "p" of 64 blocks of 64 B. */
int test_daemon_start_small(struct test_daemon *td, const char *settings);

/* The same on socket path `socket` (at most 99 bytes) instead of one in the
 * temporary directory. */
int test_daemon_start_at(struct test_daemon *td, const char *socket, const char *config_text,
			 const char *const *args);

/* The same without --no-keeper: td->pid is the keeper, which runs the
 * serving process (never under valgrind). bin: the program to start (a
 * copy of allocatord, for an upgrade), NULL for the build tree's. */
int test_daemon_start_keeper(struct test_daemon *td, const char *bin, const char *config_text,
			     const char *const *args);

/* The pid of the process serving clients: td->pid, or the keeper's child
 * (0 while none runs). */
pid_t test_daemon_serving_pid(const struct test_daemon *td);

/* Wait (up to 10 s) until a serving process other than old runs, and
 * return its pid (0 if none came). */
pid_t test_daemon_next_serving(const struct test_daemon *td, pid_t old);

/* Who a daemon that is not root runs as. */
struct test_daemon_as {
	uid_t uid;
	gid_t gid;   /* its only group */
	long nofile; /* its RLIMIT_NOFILE, soft and hard; 0 keeps the caller's */
};

/* test_daemon_start as as->uid: the forked child sets the open-file limit
 * (its own, never the caller's) and drops to the uid before exec; the
 * temporary directory, where the socket goes, is given to that uid. */
int test_daemon_start_as(struct test_daemon *td, const struct test_daemon_as *as,
			 const char *config_text, const char *const *args);

/* SIGTERM, wait, remove the temporary directory. Returns the exit status
 * (0 for a clean stop), or -1 if it did not exit within 20 s (then it is
 * killed) or died of a signal. */
int test_daemon_stop(struct test_daemon *td);

/* The same, first reading the whole log, NUL-terminated, into log (what
 * the daemon says as it stops included). */
int test_daemon_stop_log(struct test_daemon *td, char *log, size_t len);

/* SIGKILL and wait, for tests of a daemon that disappears. */
void test_daemon_kill(struct test_daemon *td);

/* The daemon's resident memory (VmRSS) in KiB, or -1 when that is not the
 * daemon's own measure: under valgrind (the process is valgrind) or ASan
 * (its quarantine keeps freed memory resident). */
/* true when the suite runs under valgrind (ALLOCATORD_VALGRIND=1, see
 * tests/run-test): the daemons it starts run under valgrind too. */
bool test_under_valgrind(void);

/* true, after saying on stderr that the test is skipped and why, when the
 * suite does not run as root (a test that becomes other users returns). */
bool test_needs_root(const char *why);

long test_daemon_rss_kib(const struct test_daemon *td);

/* Write text to path, replacing it: 0 or a negative errno. */
int test_write_file(const char *path, const char *text);

/* Does the file at path say what (in its first 64 KiB)? false when it
 * cannot be read. For daemon logs and error output. */
bool test_file_has(const char *path, const char *what);

/* The daemon's log so far, NUL-terminated, into buf. */
void test_daemon_log(const struct test_daemon *td, char *buf, size_t len);

/* Path of a built program or file below the build tree ($top_builddir). */
const char *test_build_path(const char *rel, char *buf, size_t len);

/* Path of a file below the source tree ($top_srcdir). */
const char *test_src_path(const char *rel, char *buf, size_t len);

/* Run argv (argv[0] a path), capture stdout and stderr (NUL-terminated,
 * truncated to len), wait. Returns the exit status, or -1. */
int test_run(const char *const *argv, char *out, size_t outlen, char *err, size_t errlen);

#endif
